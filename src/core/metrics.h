/*
 * metrics: the operator's figures of one sluice process, for GET /metrics (Prometheus text
 * format 0.0.4).
 *
 * Two kinds of figure, and why:
 * - Gauges of the queue (jobs by status and type) come from the store's counters, so every node
 *   of a cluster reports the same, true figure for the whole cluster.
 * - Counters and histograms of events (uploads, batches, retries, rescued leases, cron slots,
 *   processing and queue-wait times) count what this process did. Each node reports its own;
 *   Prometheus adds them up across nodes (sum by the instance label), the usual way for
 *   counters, which stay exact and cost no shared write per event.
 *
 * Ownership: sl_metrics_new/sl_metrics_free. Thread rules: the record functions may be called
 * from any thread at once (atomic counters); sl_metrics_format reads a consistent-enough view.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include "core/batch.h"
#include "core/scheduler.h"
#include "store/store.h"
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

struct sl_metrics;

int sl_metrics_new(struct sl_metrics **out);
void sl_metrics_free(struct sl_metrics *m);

/* An upload request was accepted: files stored, bytes in all. */
void sl_metrics_upload(struct sl_metrics *m, size_t files, int64_t bytes);
/* A batch ran to its end (any caller: cron route, continuous worker). */
void sl_metrics_batch(struct sl_metrics *m, const struct sl_batch_result *res);

/* What the store and the scheduler contribute to one scrape. */
struct sl_metrics_view {
    const struct sl_type_counts *jobs; /* jobs by type and status, whole store */
    size_t job_types;
    const struct sl_sched_counters *sched; /* NULL: no scheduler here (counted as zeros) */
    int batch_running;                     /* 1 while this process runs a batch */
};

/* Appends the whole exposition to out. Returns 0, or SL_ENOMEM / SL_ETOO_LARGE. */
int sl_metrics_format(struct sl_metrics *m, const struct sl_metrics_view *v, struct sl_buf *out);

#endif
