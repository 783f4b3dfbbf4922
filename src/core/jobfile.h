/*
 * jobfile: the one way to read a job's uploaded bytes, wherever they are kept: in the blob store,
 * or, for small files, inline in the job store (blob_key SL_BLOB_INLINE). Processors and the
 * download route use it, so they never care which.
 */
#ifndef SL_JOBFILE_H
#define SL_JOBFILE_H

#include "blob/blob.h"
#include "core/job.h"
#include "store/store.h"

/*
 * Opens the job's file for reading from its start: *fd (the caller closes it) and *size. An
 * inline file is copied into an anonymous memory file. Returns 0, SL_ENOT_FOUND, or the store's
 * or blob store's error.
 */
int sl_job_open_file(struct sl_blob *blob, struct sl_store *store, const struct sl_job *job,
                     int *fd, int64_t *size, struct sl_error *err);

/* Removes the job's file from the blob store (inline files go with their job row). */
int sl_job_remove_file(struct sl_blob *blob, const struct sl_job *job, struct sl_error *err);

#endif
