#include "blob/blob.h"
#include "blob/file.h"
#include "blob/s3.h"

#include <string.h>

#define BLOB_KEY_MAX 95

int sl_blob_key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > BLOB_KEY_MAX || key[0] == '/' || key[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        int ok = (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9') || c == '-' ||
                 (c == '/' && key[i + 1] != '/');
        if (!ok)
            return 0;
    }
    return 1;
}

int sl_blob_open(const char *url, struct sl_blob **out, struct sl_error *err)
{
    *out = NULL;
    if (strncmp(url, "file:", 5) == 0)
        return sl_blob_file_open(url + 5, out, err);
    if (strncmp(url, "s3://", 5) == 0)
        return sl_blob_s3_open(url + 5, out, err);
    return sl_err_set(err, SL_ECONFIG, "SLUICE_BLOB_URL: unknown scheme in '%.64s'", url);
}

void sl_blob_close(struct sl_blob *b)
{
    if (b)
        b->ops->close(b);
}

int sl_blob_put_file(struct sl_blob *b, const char *key, const char *src_path, struct sl_error *err)
{
    if (!sl_blob_key_valid(key))
        return sl_err_set(err, SL_EINVALID, "invalid blob key");
    return b->ops->put_file(b, key, src_path, err);
}

int sl_blob_open_read(struct sl_blob *b, const char *key, int *fd, int64_t *size,
                      struct sl_error *err)
{
    *fd = -1;
    *size = 0;
    if (!sl_blob_key_valid(key))
        return sl_err_set(err, SL_EINVALID, "invalid blob key");
    return b->ops->open(b, key, fd, size, err);
}

int sl_blob_remove(struct sl_blob *b, const char *key, struct sl_error *err)
{
    if (!sl_blob_key_valid(key))
        return sl_err_set(err, SL_EINVALID, "invalid blob key");
    return b->ops->remove(b, key, err);
}
