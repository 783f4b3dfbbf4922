/*
 * file: the local-folder blob backend. A blob is the file <root>/<key>.
 *
 * put_file makes the source durable (fsync), renames it into place (copying when the source is
 * on another file system) and fsyncs the folders whose entries changed, so an acknowledged
 * blob survives power loss.
 */
#ifndef SL_BLOB_FILE_H
#define SL_BLOB_FILE_H

#include "blob/blob.h"

/* Opens the folder root (created when missing). */
int sl_blob_file_open(const char *root, struct sl_blob **out, struct sl_error *err);

#endif
