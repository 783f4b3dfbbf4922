/*
 * upload: the upload route. The multipart body streams through the parser into one temporary
 * file per file part (under <data>/tmp, named "up-<pid>-..."), hashing on the way. Once the body
 * is complete and valid, every file is moved into the blob store (durably) and every job of the
 * request is inserted in one store transaction: all files or none. On any error every blob and
 * temporary file of the request is removed before answering.
 *
 * The name helpers below are pure and exposed for tests.
 */
#ifndef SL_HTTP_UPLOAD_H
#define SL_HTTP_UPLOAD_H

#include <stddef.h>

#define SL_FILE_NAME_MAX 255 /* bytes of a stored file name */

/*
 * Makes a safe display name from a client's file name: the part after the last '/' or '\',
 * without control characters, invalid UTF-8 replaced by '_', trimmed, at most
 * SL_FILE_NAME_MAX bytes (cut on a character boundary). "", "." and ".." become "file".
 */
void sl_upload_sanitize_name(const char *in, char *out, size_t cap);

/* Keeps a client's content type when it is printable ASCII of sane length, else
 * "application/octet-stream". */
void sl_upload_sanitize_content_type(const char *in, char *out, size_t cap);

#endif
