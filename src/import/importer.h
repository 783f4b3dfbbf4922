/*
 * importer: the import processor. It streams the job's file through a row reader, validates
 * each row against the type's schema (if any), and upserts the rows as records under (tenant,
 * type, key) in batched transactions, recording each bad value as a row error instead of failing
 * the file. Only a file-level fault (unreadable, unsupported or broken format, store error)
 * fails the job. Re-running a job gives the same records: keys are the schema's key field, or
 * "<jobId>:<row>", and the job's row errors are replaced, not appended.
 *
 * While it runs it publishes its counters as the job's result (progress), and it gives up at
 * the job's deadline. ctx->arg is a const struct sl_schema *, or NULL for an import "as is".
 */
#ifndef SL_IMPORT_IMPORTER_H
#define SL_IMPORT_IMPORTER_H

#include "core/processor.h"

#define SL_IMPORT_BATCH_ROWS     10000             /* records per store transaction, at most */
#define SL_IMPORT_BATCH_BYTES    ((size_t)8 << 20) /* ... and about this much of their text */
#define SL_IMPORT_SUMMARY_ERRORS 100 /* row errors kept in the result; all are in the store */

int sl_proc_import(struct sl_proc_ctx *ctx, char **result, struct sl_error *err);

#endif
