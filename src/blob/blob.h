/*
 * blob: the blob store interface. Each backend (a local folder, S3) is a const
 * struct sl_blob_ops placed first in its own struct; callers use the sl_blob_* wrappers.
 *
 * Keys are made by sluice, never taken from user input: "<uploadId>/<jobId>", lowercase hex,
 * digits, '-' and '/'. Every call checks its key with sl_blob_key_valid and answers
 * SL_EINVALID otherwise, so no name from outside can reach the disk.
 *
 * - put_file moves the finished local file at src_path into the store under key and returns
 *   only once the blob is durable; src_path is consumed (gone) on success and left to the
 *   caller on failure.
 * - open gives a file descriptor reading the blob from its start, and its size; the caller
 *   closes it.
 * - remove deletes a blob; a missing one is SL_ENOT_FOUND.
 * Thread rules: a blob store may be used from any number of threads at once.
 */
#ifndef SL_BLOB_H
#define SL_BLOB_H

#include "util/err.h"

#include <stdint.h>

struct sl_blob;

struct sl_blob_ops {
    const char *name;
    int (*put_file)(struct sl_blob *b, const char *key, const char *src_path, struct sl_error *err);
    int (*open)(struct sl_blob *b, const char *key, int *fd, int64_t *size, struct sl_error *err);
    int (*remove)(struct sl_blob *b, const char *key, struct sl_error *err);
    void (*close)(struct sl_blob *b);
};

struct sl_blob {
    const struct sl_blob_ops *ops;
};

/* Opens the blob store that url names ("file:PATH" or "s3://bucket[/prefix]"). */
int sl_blob_open(const char *url, struct sl_blob **out, struct sl_error *err);
void sl_blob_close(struct sl_blob *b);

int sl_blob_put_file(struct sl_blob *b, const char *key, const char *src_path,
                     struct sl_error *err);
int sl_blob_open_read(struct sl_blob *b, const char *key, int *fd, int64_t *size,
                      struct sl_error *err);
int sl_blob_remove(struct sl_blob *b, const char *key, struct sl_error *err);

/* 1 when key is a well-formed blob key (see above), else 0. */
int sl_blob_key_valid(const char *key);

#endif
