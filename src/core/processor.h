/*
 * processor: the registry that maps a job type to the function that processes it.
 *
 * A processor reads the job's blob, does its work and returns a JSON summary (text, heap,
 * owned by the caller) or an error whose message becomes the job's `error`. It must not
 * touch the job's row: the batch runner alone records the outcome, under the job's fence.
 * The registry is filled at start-up and read-only afterwards, so threads may share it.
 */
#ifndef SL_PROCESSOR_H
#define SL_PROCESSOR_H

#include "blob/blob.h"
#include "core/job.h"
#include "util/config.h"
#include "util/err.h"

struct sl_store;

struct sl_proc_ctx {
    const struct sl_job *job;    /* borrowed */
    struct sl_blob *blob;        /* borrowed */
    struct sl_store *store;      /* borrowed: imports write records and row errors */
    const struct sl_config *cfg; /* borrowed */
    const void *arg;             /* the registered argument of the job's type (see set) */
    int64_t deadline_ms;         /* wall-clock ms by which the processor must give up */
    /* Publishes a progress summary (JSON text) as the job's result while it runs; may be NULL.
     * Fails (returns SL_EFENCED) once the job's lease is lost: the processor should stop. */
    int (*progress)(struct sl_proc_ctx *ctx, const char *result_json);
    void *progress_ctx;
};

/* Returns 0 with *result (JSON text, may be NULL) or an SL_E* code with err's message. */
typedef int (*sl_processor_fn)(struct sl_proc_ctx *ctx, char **result, struct sl_error *err);

#define SL_PROCESSORS_MAX 64

struct sl_processors {
    struct {
        char type[SL_TYPE_MAX + 1];
        sl_processor_fn fn;
        const void *arg; /* borrowed; handed to the processor as ctx->arg */
    } entries[SL_PROCESSORS_MAX];
    int count;
};

/* Registers the built-in processors: `file` for csv, sheet, json, ndjson and file. */
void sl_processors_init(struct sl_processors *p);

/* Adds or replaces the processor of type, with its argument (borrowed: it must outlive p).
 * Returns 0, or SL_EINVALID when the table is full. */
int sl_processors_set(struct sl_processors *p, const char *type, sl_processor_fn fn,
                      const void *arg);

/* The processor of type and its argument, or NULL. */
sl_processor_fn sl_processors_find(const struct sl_processors *p, const char *type,
                                   const void **arg);

/* The built-in `file` processor: re-reads the blob and checks its size and SHA-256. */
int sl_proc_file(struct sl_proc_ctx *ctx, char **result, struct sl_error *err);

#endif
