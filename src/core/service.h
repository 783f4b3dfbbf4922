/*
 * service: the running parts of one sluice process wired together: configuration, job store,
 * blob store, processor registry, batch runner and change notifier (for the live queue). The
 * HTTP server and every CLI verb work through one of these, so they share one behaviour.
 *
 * sl_service_open takes ownership of nothing: it borrows cfg (which must outlive the service)
 * and owns what it opens. On failure nothing is left open.
 */
#ifndef SL_SERVICE_H
#define SL_SERVICE_H

#include "blob/blob.h"
#include "core/batch.h"
#include "core/events.h"
#include "core/metrics.h"
#include "core/processor.h"
#include "core/procconf.h"
#include "core/scheduler.h"
#include "core/worker.h"
#include "store/store.h"
#include "util/config.h"

#include <jansson.h>
#include <limits.h>

struct sl_service {
    const struct sl_config *cfg;
    struct sl_store *store;
    struct sl_blob *blob;
    struct sl_processors procs;
    struct sl_procconf procconf; /* sluice.json: owns what procs' arguments point to */
    struct sl_runner *runner;
    char tmp_dir[PATH_MAX];     /* <data dir>/tmp: uploads in flight */
    struct sl_scheduler *sched; /* set by `serve` when cron runs; NULL otherwise */
    struct sl_worker *worker;   /* set by `serve --continuous`; NULL otherwise */
    struct sl_events *events;   /* job changes, for the live queue (GET /api/integration/events) */
    struct sl_metrics *metrics; /* this process's counters (GET /metrics) */
};

/* Loads sluice.json (processors), opens store and blob store from cfg, migrates, prepares the
 * temporary folder. */
int sl_service_open(const struct sl_config *cfg, struct sl_service **out, struct sl_error *err);
void sl_service_close(struct sl_service *svc);

/* Follows changes made by other processes sharing the store (PostgreSQL LISTEN/NOTIFY), so live
 * views (SSE) see them at once; a no-op on SQLite. For `serve`. */
int sl_service_watch_store(struct sl_service *svc, struct sl_error *err);

/* Tells the continuous worker, if any, and the live queue that jobs were stored or became
 * pending. */
void sl_service_jobs_added(struct sl_service *svc);
/* An upload stored these n jobs: counts it (metrics), then as sl_service_jobs_added. */
void sl_service_upload_stored(struct sl_service *svc, const struct sl_job *jobs, size_t n);
/* Tells the live queue that jobs changed (e.g. one was cancelled). */
void sl_service_jobs_changed(struct sl_service *svc);

/*
 * The queue status JSON of the contract (`GET /api/integration/queue`, and each event of
 * `GET /api/integration/events`), narrowed to tenant unless NULL. Returns 0 and a new reference
 * in *out, or an SL_E* code with err (*out NULL).
 */
int sl_service_queue_json(struct sl_service *svc, const char *tenant, json_t **out,
                          struct sl_error *err);

/* When a batch last started: this process's runner or any process's cron firing; 0 if never. */
int64_t sl_service_last_run(struct sl_service *svc);
/* The scheduler's next batch firing (ms), 0 without a scheduler. */
int64_t sl_service_next_run(struct sl_service *svc);

#endif
