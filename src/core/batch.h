/*
 * batch: the batch runner, the one place where jobs are claimed, processed and finalised.
 *
 * Callers: the cron route, `sluice process`, and (later) the scheduler and the continuous
 * worker. A runner belongs to one process and runs one batch at a time: a second call while a
 * batch runs answers SL_EBUSY (the route's 409). It borrows the store, blob store, processors
 * and configuration given to sl_runner_new; they must outlive it.
 * Thread rules: every function may be called from any thread.
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include "blob/blob.h"
#include "core/events.h"
#include "core/processor.h"
#include "store/store.h"
#include "util/config.h"

struct sl_batch_item {
    char id[SL_UUID_MAX];
    enum sl_job_status status; /* after this batch */
    int attempts;
    int64_t processing_ms;
    int64_t wait_us; /* from upload to this run's start (the pickup latency), microseconds */
    char *error; /* owned; NULL on success */
};

struct sl_batch_result {
    int processed; /* jobs that ran to an outcome */
    int succeeded;
    int failed;         /* failed for good (max attempts reached) */
    int retried;        /* failed, pending again for a later attempt */
    int rescued;        /* expired leases returned to pending before claiming */
    int64_t remaining;  /* due pending jobs left after the batch */
    int64_t started_at; /* ms */
    int64_t duration_ms;
    struct sl_batch_item *items;
    size_t count;
};

struct sl_runner;

int sl_runner_new(const struct sl_config *cfg, struct sl_store *store, struct sl_blob *blob,
                  const struct sl_processors *procs, struct sl_runner **out);
/* Stops the heartbeat thread and frees the runner; no batch may be running. */
void sl_runner_free(struct sl_runner *r);
/* Notifies ev (borrowed; NULL for none) when a batch claims jobs, each job ends and the batch
 * ends. Set it before the first batch runs. */
void sl_runner_set_events(struct sl_runner *r, struct sl_events *ev);
/* Counts every batch that ends into m (borrowed; NULL for none). Set it before the first batch. */
struct sl_metrics;
void sl_runner_set_metrics(struct sl_runner *r, struct sl_metrics *m);

/*
 * Runs one batch of up to limit jobs (1..100). Returns 0 with *out filled (free it with
 * sl_batch_result_fini), SL_EBUSY when a batch is running, SL_ESHUTDOWN once shutdown began,
 * or a store error.
 */
int sl_runner_run(struct sl_runner *r, int limit, struct sl_batch_result *out,
                  struct sl_error *err);

/* 1 while a batch runs in this process. */
int sl_runner_busy(struct sl_runner *r);
/* Start time (ms) of this process's last batch, 0 when none ran. */
int64_t sl_runner_last_run_at(struct sl_runner *r);

/*
 * Graceful stop: no new batch or job starts; waits up to grace_ms for the running batch; if a
 * job is still running then, releases its lease (back to pending, fence kept so the late finish
 * is refused). Returns 1 when a job was abandoned that way (its thread is still inside the
 * processor, so the caller should exit without waiting for it), else 0.
 */
int sl_runner_shutdown(struct sl_runner *r, int64_t grace_ms);

void sl_batch_result_fini(struct sl_batch_result *res);

/* The delay before attempt number `attempts + 1`, with jitter: in [d/2, d] for
 * d = min(base * 2^attempts, max). Exposed for tests. */
int64_t sl_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts, uint32_t random);

#endif
