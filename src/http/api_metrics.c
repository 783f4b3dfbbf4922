/*
 * GET /metrics: Prometheus text exposition (format 0.0.4) of core/metrics.h, with the queue
 * gauges read from the store's counters and the scheduler's slot counters of this process.
 * Behind SLUICE_API_TOKEN like every route but health and the UI (Prometheus sends it as a
 * bearer token with `authorization: {credentials: ...}` in its scrape config).
 */
#include "core/metrics.h"
#include "http/routes.h"

/* An exposition is a few KiB per job type; this cap only guards against a runaway. */
#define METRICS_MAX (4u << 20)

int sl_api_metrics(struct sl_req *r)
{
    struct sl_service *svc = r->svc;
    struct sl_error err = {0};
    struct sl_type_counts *types = NULL;
    size_t ntypes = 0;
    int rc = sl_store_count_jobs(svc->store, &types, &ntypes, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);

    struct sl_sched_counters sched;
    if (svc->sched)
        sl_scheduler_counters(svc->sched, &sched);
    struct sl_metrics_view v = {types, ntypes, svc->sched ? &sched : NULL,
                                sl_runner_busy(svc->runner)};
    struct sl_buf text;
    sl_buf_init(&text, METRICS_MAX);
    rc = sl_metrics_format(svc->metrics, &v, &text);
    sl_type_counts_free(types, ntypes);
    if (rc == 0)
        rc = sl_reply_copy(r, 200, text.data, text.len, "text/plain; version=0.0.4; charset=utf-8");
    else
        rc = sl_reply_errorf(r, rc, "cannot format the metrics");
    sl_buf_fini(&text);
    return rc;
}
