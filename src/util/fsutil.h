/*
 * fsutil: the few durable file-system steps sluice needs, with errno mapped to SL_E* codes.
 *
 * ENOSPC and EDQUOT become SL_ENO_SPACE (HTTP 507), everything else SL_EIO. Thread-safe.
 */
#ifndef SL_FSUTIL_H
#define SL_FSUTIL_H

#include "util/err.h"

#include <stddef.h>

/* Maps an errno value to SL_ENO_SPACE or SL_EIO. */
int sl_errno_rc(int e);

/* Creates dir and its missing parents (mode 0755). Returns 0 or an SL_E* code. */
int sl_mkdirs(const char *dir);

/* Writes all of buf to fd, retrying short writes and EINTR. */
int sl_write_all(int fd, const void *buf, size_t len);

/* fsync(2) on a directory, so that a rename or unlink inside it is durable. */
int sl_fsync_dir(const char *dir);

/* Joins a and b with one '/' into out (size cap). Returns 0 or SL_EINVALID when it does not fit. */
int sl_path_join(char *out, size_t cap, const char *a, const char *b);

/*
 * Reads a whole configuration file of at most max bytes into *text (NUL-terminated, malloc'd;
 * the caller frees it). Returns 0, SL_ENOT_FOUND when the file does not exist, or SL_ECONFIG
 * (unreadable, too large, or holding a NUL byte) with err naming the file.
 */
int sl_read_config_file(const char *path, size_t max, char **text, struct sl_error *err);

#endif
