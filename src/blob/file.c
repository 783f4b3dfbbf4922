#include "blob/file.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_blob {
    struct sl_blob base; /* first: the interface */
    char root[PATH_MAX];
};

static struct file_blob *cast(struct sl_blob *b)
{
    return (struct file_blob *)b;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_errno_rc(errno);
    int rc = fsync(fd) == 0 ? 0 : sl_errno_rc(errno);
    close(fd);
    return rc;
}

/* Copies src to dst (a new file), durably; used when a rename crosses file systems. */
static int copy_file(const char *src, const char *dst)
{
    char buf[65536];
    int rc = 0;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sl_errno_rc(errno);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = sl_errno_rc(errno);
        close(in);
        return rc;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? sl_errno_rc(errno) : 0;
            break;
        }
        if ((rc = sl_write_all(out, buf, (size_t)n)) != 0)
            break;
    }
    if (rc == 0 && fsync(out) != 0)
        rc = sl_errno_rc(errno);
    close(in);
    close(out);
    if (rc)
        unlink(dst);
    else
        unlink(src);
    return rc;
}

static int fb_put_file(struct sl_blob *b, const char *key, const char *src_path,
                       struct sl_error *err)
{
    struct file_blob *fb = cast(b);
    char path[PATH_MAX], dir[PATH_MAX];
    int rc;

    if (sl_path_join(path, sizeof path, fb->root, key))
        return sl_err_set(err, SL_EINVALID, "blob path too long");
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    int made_dir = access(dir, F_OK) != 0;
    if ((rc = sl_mkdirs(dir)) != 0)
        return sl_err_set(err, rc, "cannot create blob folder: %s", strerror(errno));
    if ((rc = fsync_path(src_path)) != 0)
        return sl_err_set(err, rc, "cannot fsync upload: %s", strerror(errno));
    if (rename(src_path, path) != 0) {
        if (errno != EXDEV)
            return sl_err_set(err, sl_errno_rc(errno), "cannot move blob into place: %s",
                              strerror(errno));
        if ((rc = copy_file(src_path, path)) != 0)
            return sl_err_set(err, rc, "cannot copy blob into place: %s", strerror(errno));
    }
    /* The new entry lives in dir; when dir itself is new, its entry lives in its parent. */
    rc = sl_fsync_dir(dir);
    if (rc == 0 && made_dir) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash)
            *slash = '\0';
        rc = sl_fsync_dir(parent);
    }
    if (rc) {
        unlink(path);
        return sl_err_set(err, rc, "cannot make blob durable: %s", strerror(errno));
    }
    return 0;
}

static int fb_open(struct sl_blob *b, const char *key, int *fd, int64_t *size, struct sl_error *err)
{
    struct file_blob *fb = cast(b);
    char path[PATH_MAX];
    struct stat stbuf;

    if (sl_path_join(path, sizeof path, fb->root, key))
        return sl_err_set(err, SL_EINVALID, "blob path too long");
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return errno == ENOENT
                   ? sl_err_set(err, SL_ENOT_FOUND, "blob %s is missing", key)
                   : sl_err_set(err, SL_EBLOB, "cannot open blob %s: %s", key, strerror(errno));
    if (fstat(f, &stbuf) != 0) {
        int e = errno;
        close(f);
        return sl_err_set(err, SL_EBLOB, "cannot stat blob %s: %s", key, strerror(e));
    }
    *fd = f;
    *size = (int64_t)stbuf.st_size;
    return 0;
}

static int fb_remove(struct sl_blob *b, const char *key, struct sl_error *err)
{
    struct file_blob *fb = cast(b);
    char path[PATH_MAX];

    if (sl_path_join(path, sizeof path, fb->root, key))
        return sl_err_set(err, SL_EINVALID, "blob path too long");
    if (unlink(path) != 0)
        return errno == ENOENT
                   ? sl_err_set(err, SL_ENOT_FOUND, "blob %s is missing", key)
                   : sl_err_set(err, SL_EBLOB, "cannot remove blob %s: %s", key, strerror(errno));
    /* The upload's folder goes once its last blob has; failure just means it is not empty. */
    *strrchr(path, '/') = '\0';
    rmdir(path); /* fails, harmlessly, while the folder still holds other blobs */
    return 0;
}

static void fb_close(struct sl_blob *b)
{
    free(cast(b));
}

static const struct sl_blob_ops file_ops = {
    .name = "file",
    .put_file = fb_put_file,
    .open = fb_open,
    .remove = fb_remove,
    .close = fb_close,
};

int sl_blob_file_open(const char *root, struct sl_blob **out, struct sl_error *err)
{
    *out = NULL;
    if (!*root)
        return sl_err_set(err, SL_ECONFIG, "SLUICE_BLOB_URL: file: needs a folder path");
    if (strlen(root) >= PATH_MAX - 128)
        return sl_err_set(err, SL_ECONFIG, "SLUICE_BLOB_URL: folder path too long");
    int rc = sl_mkdirs(root);
    if (rc)
        return sl_err_set(err, rc, "SLUICE_BLOB_URL: cannot create '%.200s': %s", root,
                          strerror(errno));
    struct file_blob *fb = calloc(1, sizeof *fb);
    if (!fb)
        return SL_ENOMEM;
    fb->base.ops = &file_ops;
    snprintf(fb->root, sizeof fb->root, "%s", root);
    *out = &fb->base;
    return 0;
}
