#include "util/fsutil.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sl_errno_rc(int e)
{
    return (e == ENOSPC || e == EDQUOT) ? SL_ENO_SPACE : SL_EIO;
}

int sl_mkdirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return SL_EINVALID;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return sl_errno_rc(errno);
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return sl_errno_rc(errno);
    return 0;
}

int sl_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sl_errno_rc(errno);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int sl_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sl_errno_rc(errno);
    int rc = fsync(fd) == 0 ? 0 : sl_errno_rc(errno);
    close(fd);
    return rc;
}

int sl_path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return (n < 0 || (size_t)n >= cap) ? SL_EINVALID : 0;
}

int sl_read_config_file(const char *path, size_t max, char **text, struct sl_error *err)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT
                   ? SL_ENOT_FOUND
                   : sl_err_set(err, SL_ECONFIG, "%s: cannot open: %s", path, strerror(errno));
    int rc = 0;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    if (!buf)
        rc = SL_ENOMEM;
    else if (ferror(f))
        rc = sl_err_set(err, SL_ECONFIG, "%s: read failed", path);
    else if (n > max)
        rc = sl_err_set(err, SL_ECONFIG, "%s: larger than %zu KiB", path, max >> 10);
    else if (memchr(buf, '\0', n))
        rc = sl_err_set(err, SL_ECONFIG, "%s: holds a NUL byte; is it a text file?", path);
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    return 0;
}
