#include "core/report.h"
#include "util/timeutil.h"

#include <stdio.h>

static json_t *brief_json(const struct sl_job_brief *b, int with_start)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "id", b->id, "fileName", b->file_name, "type", b->type);
    if (o)
        sl_json_set_time(o, with_start ? "startedAt" : "createdAt",
                         with_start ? b->started_at : b->created_at);
    return o;
}

json_t *sl_queue_json(const struct sl_queue_status *q, int is_processing, int64_t last_run_at,
                      int64_t next_run_at)
{
    json_t *o = json_object();
    json_t *list = json_array();
    if (!o || !list) {
        json_decref(o);
        json_decref(list);
        return NULL;
    }
    for (int i = 0; i < SL_JOB_STATUS_COUNT; i++)
        json_object_set_new(o, sl_job_status_name((enum sl_job_status)i),
                            json_integer(q->counts[i]));
    json_object_set_new(o, "total", json_integer(q->total));
    json_object_set_new(o, "isProcessing",
                        json_boolean(is_processing || q->counts[SL_JOB_PROCESSING] > 0));
    sl_json_set_time(o, "oldestPendingAt", q->oldest_pending_at);
    json_object_set_new(o, "nextJob", q->has_next ? brief_json(&q->next_job, 0) : json_null());
    sl_json_set_time(o, "lastRunAt", last_run_at);
    sl_json_set_time(o, "nextRunAt", next_run_at);
    for (size_t i = 0; i < q->processing_count; i++)
        json_array_append_new(list, brief_json(&q->processing[i], 1));
    json_object_set_new(o, "processingJobs", list);
    return o;
}

static json_t *counts_json(const int64_t counts[SL_JOB_STATUS_COUNT], int64_t total, int with_total)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (with_total)
        json_object_set_new(o, "total", json_integer(total));
    for (int i = 0; i < SL_JOB_STATUS_COUNT; i++)
        json_object_set_new(o, sl_job_status_name((enum sl_job_status)i), json_integer(counts[i]));
    return o;
}

static json_t *ms_or_null(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

static json_t *daily_json(const struct sl_stats *st)
{
    json_t *days = json_array();
    for (size_t i = 0; days && i < st->day_count; i++) {
        const struct sl_day_counts *d = &st->daily[i];
        int64_t y;
        unsigned m, dd;
        char date[32];
        sl_civil_from_days(d->day, &y, &m, &dd);
        snprintf(date, sizeof date, "%04lld-%02u-%02u", (long long)y, m, dd);
        json_array_append_new(days,
                              json_pack("{s:s, s:I, s:I, s:I}", "date", date, "created",
                                        (json_int_t)d->created, "completed",
                                        (json_int_t)d->completed, "failed", (json_int_t)d->failed));
    }
    return days;
}

json_t *sl_stats_json(const struct sl_stats *st)
{
    json_t *o = json_object();
    json_t *types = json_object();
    if (!o || !types) {
        json_decref(o);
        json_decref(types);
        return NULL;
    }
    json_object_set_new(o, "days", json_integer(st->days));
    sl_json_set_time(o, "since", st->since);
    json_object_set_new(o, "total", json_integer(st->total));
    json_object_set_new(o, "byStatus", counts_json(st->counts, st->total, 0));
    for (size_t i = 0; i < st->type_count; i++)
        json_object_set_new(types, st->types[i].type,
                            counts_json(st->types[i].counts, st->types[i].total, 1));
    json_object_set_new(o, "byType", types);
    int64_t done = st->counts[SL_JOB_COMPLETED] + st->counts[SL_JOB_FAILED];
    json_object_set_new(o, "successRate",
                        done ? json_real((double)st->counts[SL_JOB_COMPLETED] / (double)done)
                             : json_null());
    json_object_set_new(o, "averageProcessingTimeMs", ms_or_null(st->avg_processing_ms));
    json_object_set_new(o, "p50ProcessingTimeMs",
                        st->p50_processing_ms < 0 ? json_null()
                                                  : json_integer(st->p50_processing_ms));
    json_object_set_new(o, "p95ProcessingTimeMs",
                        st->p95_processing_ms < 0 ? json_null()
                                                  : json_integer(st->p95_processing_ms));
    json_object_set_new(o, "averageWaitTimeMs", ms_or_null(st->avg_wait_ms));
    json_object_set_new(o, "daily", daily_json(st));
    return o;
}

json_t *sl_batch_json(const struct sl_batch_result *res)
{
    json_t *jobs = json_array();
    if (!jobs)
        return NULL;
    for (size_t i = 0; i < res->count; i++) {
        const struct sl_batch_item *it = &res->items[i];
        json_array_append_new(
            jobs,
            json_pack("{s:s, s:s, s:i, s:o, s:o}", "id", it->id, "status",
                      sl_job_status_name(it->status), "attempts", it->attempts, "processingMs",
                      it->processing_ms >= 0 ? json_integer(it->processing_ms) : json_null(),
                      "error", it->error ? json_string(it->error) : json_null()));
    }
    return json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:o}", "processed", res->processed,
                     "succeeded", res->succeeded, "failed", res->failed, "retried", res->retried,
                     "remaining", (json_int_t)res->remaining, "durationMs",
                     (json_int_t)res->duration_ms, "jobs", jobs);
}
