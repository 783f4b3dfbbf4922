/*
 * metrics: atomic counters and fixed-bucket histograms, and their Prometheus text exposition
 * (see metrics.h for what is counted where, and why).
 */
#include "core/metrics.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/version.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* Upper bounds (ms) of the histogram buckets; +Inf is implied. */
static const int64_t PROCESSING_BOUNDS[] = {5,    10,   25,    50,    100,   250,    500,   1000,
                                            2500, 5000, 10000, 30000, 60000, 120000, 300000};
static const int64_t WAIT_BOUNDS[] = {1,      5,      10,      50,     100,   500,
                                      1000,   5000,   10000,   30000,  60000, 120000,
                                      300000, 600000, 1800000, 3600000};
#define NPROC (sizeof PROCESSING_BOUNDS / sizeof PROCESSING_BOUNDS[0])
#define NWAIT (sizeof WAIT_BOUNDS / sizeof WAIT_BOUNDS[0])
#define NMAX  (NPROC > NWAIT ? NPROC : NWAIT)

struct histogram {
    const int64_t *bounds;
    size_t n;
    _Atomic int64_t counts[NMAX + 1]; /* per bucket, not cumulative; the last is +Inf */
    _Atomic int64_t sum_us;
};

struct sl_metrics {
    int64_t started_at; /* ms */
    _Atomic int64_t uploads, upload_files, upload_bytes;
    _Atomic int64_t batches, succeeded, retried, failed, rescued, released;
    struct histogram processing, wait;
};

int sl_metrics_new(struct sl_metrics **out)
{
    struct sl_metrics *m = calloc(1, sizeof *m);
    *out = m;
    if (!m)
        return SL_ENOMEM;
    m->started_at = sl_now_ms();
    m->processing.bounds = PROCESSING_BOUNDS;
    m->processing.n = NPROC;
    m->wait.bounds = WAIT_BOUNDS;
    m->wait.n = NWAIT;
    return 0;
}

void sl_metrics_free(struct sl_metrics *m)
{
    free(m);
}

static void add(_Atomic int64_t *c, int64_t v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static int64_t get(_Atomic int64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void observe(struct histogram *h, int64_t us)
{
    if (us < 0)
        return;
    size_t i = 0;
    while (i < h->n && us > h->bounds[i])
        i++;
    add(&h->counts[i], 1);
    add(&h->sum_us, us);
}

void sl_metrics_upload(struct sl_metrics *m, size_t files, int64_t bytes)
{
    if (!m)
        return;
    add(&m->uploads, 1);
    add(&m->upload_files, (int64_t)files);
    add(&m->upload_bytes, bytes);
}

void sl_metrics_batch(struct sl_metrics *m, const struct sl_batch_result *res)
{
    if (!m)
        return;
    add(&m->batches, 1);
    add(&m->succeeded, res->succeeded);
    add(&m->retried, res->retried);
    add(&m->failed, res->failed);
    add(&m->rescued, res->rescued);
    for (size_t i = 0; i < res->count; i++) {
        const struct sl_batch_item *it = &res->items[i];
        observe(&m->wait, it->wait_us);
        if (it->processing_ms >= 0)
            observe(&m->processing, it->processing_ms * 1000);
        else
            add(&m->released, 1);
    }
}

/* ---- exposition -------------------------------------------------------------------------- */

static int put(struct sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(struct sl_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        return SL_EINTERNAL;
    return sl_buf_append(b, line, (size_t)n);
}

static int header(struct sl_buf *b, const char *name, const char *type, const char *help)
{
    return put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int counter(struct sl_buf *b, const char *name, const char *help, int64_t v)
{
    int rc = header(b, name, "counter", help);
    return rc ? rc : put(b, "%s %lld\n", name, (long long)v);
}

/* A label value as the format wants it: backslash, quote and newline escaped. */
static int put_label(struct sl_buf *b, const char *v)
{
    int rc = 0;
    for (; *v && rc == 0; v++) {
        if (*v == '\\' || *v == '"')
            rc = sl_buf_putc(b, '\\') || sl_buf_putc(b, *v) ? SL_ENOMEM : 0;
        else if (*v == '\n')
            rc = sl_buf_puts(b, "\\n");
        else
            rc = sl_buf_putc(b, *v);
    }
    return rc;
}

static int jobs_gauge(struct sl_buf *b, const struct sl_metrics_view *v)
{
    int rc = header(b, "sluice_jobs", "gauge",
                    "Jobs in the store by type and status (the whole cluster's figure).");
    for (size_t i = 0; rc == 0 && i < v->job_types; i++)
        for (int s = 0; rc == 0 && s < SL_JOB_STATUS_COUNT; s++) {
            if ((rc = sl_buf_puts(b, "sluice_jobs{type=\"")) == 0 &&
                (rc = put_label(b, v->jobs[i].type)) == 0)
                rc = put(b, "\",status=\"%s\"} %lld\n", sl_job_status_name((enum sl_job_status)s),
                         (long long)v->jobs[i].counts[s]);
        }
    return rc;
}

static int histogram(struct sl_buf *b, const char *name, const char *help, struct histogram *h)
{
    int rc = header(b, name, "histogram", help);
    int64_t cum = 0;
    for (size_t i = 0; rc == 0 && i <= h->n; i++) {
        cum += get(&h->counts[i]);
        if (i < h->n)
            rc = put(b, "%s_bucket{le=\"%g\"} %lld\n", name, (double)h->bounds[i] / 1e6,
                     (long long)cum);
        else
            rc = put(b, "%s_bucket{le=\"+Inf\"} %lld\n", name, (long long)cum);
    }
    if (rc == 0)
        rc = put(b, "%s_sum %.6f\n%s_count %lld\n", name, (double)get(&h->sum_us) / 1e6, name,
                 (long long)cum);
    return rc;
}

static int sched_counters(struct sl_buf *b, const struct sl_sched_counters *c)
{
    int rc = counter(b, "sluice_cron_slots_fired_total",
                     "Cron slots this process fired (each slot fires on one node only).", c->fired);
    if (rc == 0)
        rc = header(b, "sluice_cron_slots_skipped_total", "counter",
                    "Cron slots this process did not fire: busy (its previous batch still ran), "
                    "taken (another node fired it), missed (passed while nothing could fire).");
    if (rc == 0)
        rc = put(b,
                 "sluice_cron_slots_skipped_total{reason=\"busy\"} %lld\n"
                 "sluice_cron_slots_skipped_total{reason=\"taken\"} %lld\n"
                 "sluice_cron_slots_skipped_total{reason=\"missed\"} %lld\n",
                 (long long)c->skipped_busy, (long long)c->skipped_taken, (long long)c->missed);
    return rc;
}

static int event_counters(struct sl_metrics *m, struct sl_buf *b)
{
    int rc = counter(b, "sluice_uploads_total", "Upload requests accepted by this process.",
                     get(&m->uploads));
    if (rc == 0)
        rc = counter(b, "sluice_upload_files_total", "Files stored by this process's uploads.",
                     get(&m->upload_files));
    if (rc == 0)
        rc = counter(b, "sluice_upload_bytes_total", "Bytes stored by this process's uploads.",
                     get(&m->upload_bytes));
    if (rc == 0)
        rc = counter(b, "sluice_batch_runs_total", "Batches this process ran to their end.",
                     get(&m->batches));
    if (rc == 0)
        rc = header(b, "sluice_jobs_processed_total", "counter",
                    "Jobs this process ran, by outcome: completed, retried (pending again for a "
                    "later attempt), failed (for good), released (handed back at shutdown).");
    if (rc == 0)
        rc = put(b,
                 "sluice_jobs_processed_total{outcome=\"completed\"} %lld\n"
                 "sluice_jobs_processed_total{outcome=\"retried\"} %lld\n"
                 "sluice_jobs_processed_total{outcome=\"failed\"} %lld\n"
                 "sluice_jobs_processed_total{outcome=\"released\"} %lld\n",
                 (long long)get(&m->succeeded), (long long)get(&m->retried),
                 (long long)get(&m->failed), (long long)get(&m->released));
    if (rc == 0)
        rc = counter(b, "sluice_job_retries_total",
                     "Failed attempts this process scheduled for a retry.", get(&m->retried));
    if (rc == 0)
        rc = counter(b, "sluice_leases_rescued_total",
                     "Jobs whose lease had expired (their worker died) that this process's "
                     "batches returned to the queue.",
                     get(&m->rescued));
    return rc;
}

int sl_metrics_format(struct sl_metrics *m, const struct sl_metrics_view *v, struct sl_buf *out)
{
    int rc = header(out, "sluice_info", "gauge", "This sluice process: version, always 1.");
    if (rc == 0)
        rc = put(out, "sluice_info{version=\"%s\"} 1\n", SL_VERSION);
    if (rc == 0)
        rc = header(out, "sluice_start_time_seconds", "gauge",
                    "When this process started, seconds since the epoch.");
    if (rc == 0)
        rc = put(out, "sluice_start_time_seconds %.3f\n", (double)m->started_at / 1000.0);
    if (rc == 0)
        rc = jobs_gauge(out, v);
    if (rc == 0)
        rc = header(out, "sluice_batch_running", "gauge", "1 while this process runs a batch.");
    if (rc == 0)
        rc = put(out, "sluice_batch_running %d\n", v->batch_running ? 1 : 0);
    if (rc == 0)
        rc = event_counters(m, out);
    static const struct sl_sched_counters none;
    if (rc == 0)
        rc = sched_counters(out, v->sched ? v->sched : &none);
    if (rc == 0)
        rc = histogram(out, "sluice_job_processing_seconds",
                       "Time jobs ran in this process's processors.", &m->processing);
    if (rc == 0)
        rc =
            histogram(out, "sluice_job_queue_wait_seconds",
                      "Time from upload to the start of processing, for the jobs this process ran.",
                      &m->wait);
    return rc;
}
