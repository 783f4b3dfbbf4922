/*
 * The built-in `file` processor: proves the stored bytes are the uploaded bytes by reading the
 * blob back and comparing its size and SHA-256 with what the upload recorded.
 */
#include "core/jobfile.h"
#include "core/processor.h"
#include "util/sha256.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int sl_proc_file(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    const struct sl_job *job = ctx->job;
    char hex[SL_SHA256_HEX];
    int64_t size;
    int fd, rc;

    *result = NULL;
    if ((rc = sl_job_open_file(ctx->blob, ctx->store, job, &fd, &size, err)) != 0)
        return rc;
    rc = sl_sha256_fd(fd, hex);
    close(fd);
    if (rc)
        return sl_err_set(err, SL_EBLOB, "cannot read the stored file back");
    if (size != job->size)
        return sl_err_set(err, SL_EPROCESS, "stored file has %lld bytes, upload had %lld",
                          (long long)size, (long long)job->size);
    if (strcmp(hex, job->sha256) != 0)
        return sl_err_set(err, SL_EPROCESS, "stored file's sha256 %s differs from upload's %s", hex,
                          job->sha256);
    json_t *o =
        json_pack("{s:s, s:I, s:b}", "sha256", hex, "size", (json_int_t)size, "verified", 1);
    *result = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *result ? 0 : SL_ENOMEM;
}
