#include "core/jobfile.h"
#include "util/fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int open_inline(struct sl_store *store, const struct sl_job *job, int *fd, int64_t *size,
                       struct sl_error *err)
{
    void *data = NULL;
    size_t len = 0;
    int rc = sl_store_read_inline(store, job->id, &data, &len, err);
    if (rc)
        return rc;
    int f = memfd_create("sluice-job", MFD_CLOEXEC);
    if (f < 0) {
        free(data);
        return sl_err_set(err, SL_EIO, "cannot make a memory file: %s", strerror(errno));
    }
    rc = sl_write_all(f, data, len);
    free(data);
    if (rc == 0 && lseek(f, 0, SEEK_SET) != 0)
        rc = SL_EIO;
    if (rc) {
        close(f);
        return sl_err_set(err, rc, "cannot copy the job's file into memory");
    }
    *fd = f;
    *size = (int64_t)len;
    return 0;
}

int sl_job_open_file(struct sl_blob *blob, struct sl_store *store, const struct sl_job *job,
                     int *fd, int64_t *size, struct sl_error *err)
{
    *fd = -1;
    *size = 0;
    if (strcmp(job->blob_key, SL_BLOB_INLINE) == 0)
        return open_inline(store, job, fd, size, err);
    return sl_blob_open_read(blob, job->blob_key, fd, size, err);
}

int sl_job_remove_file(struct sl_blob *blob, const struct sl_job *job, struct sl_error *err)
{
    if (strcmp(job->blob_key, SL_BLOB_INLINE) == 0)
        return 0;
    return sl_blob_remove(blob, job->blob_key, err);
}
