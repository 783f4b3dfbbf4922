/*
 * Reporting queries of the SQLite store: queue status and statistics. Each runs inside one read
 * transaction so its figures agree with each other. Counts come from job_counts (kept by
 * triggers), the rest from indexed ranges, so no query reads every finished job.
 */
#include "store/sqlite_int.h"
#include "util/timeutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int status_index(sqlite3_stmt *st, int col)
{
    enum sl_job_status s;
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t || sl_job_status_parse((const char *)t, &s))
        return -1;
    return (int)s;
}

/* Fills a brief from (id, file_name, type, created_at, started_at) columns. */
static int brief_from_row(sqlite3_stmt *st, struct sl_job_brief *b)
{
    sq_col_copy(st, 0, b->id, sizeof b->id);
    b->file_name = sq_col_strdup(st, 1);
    b->type = sq_col_strdup(st, 2);
    b->created_at = sq_col_time(st, 3);
    b->started_at = sq_col_time(st, 4);
    return b->file_name && b->type ? 0 : SL_ENOMEM;
}

static int queue_counts(struct sqlite_store *ss, const char *tenant, struct sl_queue_status *q,
                        struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss,
                        "SELECT status, SUM(n) FROM job_counts WHERE (?1 IS NULL OR tenant = ?1)"
                        " GROUP BY status",
                        &st, err);
    if (rc)
        return rc;
    sq_bind_text(st, 1, tenant);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int i = status_index(st, 0);
        if (i >= 0) {
            q->counts[i] = sqlite3_column_int64(st, 1);
            q->total += q->counts[i];
        }
    }
    sqlite3_finalize(st);
    return 0;
}

static int queue_pending(struct sqlite_store *ss, const char *tenant, int64_t now,
                         struct sl_queue_status *q, struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss,
                        "SELECT MIN(created_at) FROM jobs WHERE status = 'pending'"
                        " AND (?1 IS NULL OR tenant = ?1)",
                        &st, err);
    if (rc)
        return rc;
    sq_bind_text(st, 1, tenant);
    if (sqlite3_step(st) == SQLITE_ROW)
        q->oldest_pending_at = sq_col_time(st, 0);
    sqlite3_finalize(st);

    rc = sq_prepare(ss,
                    "SELECT id, file_name, type, created_at, started_at FROM jobs"
                    " WHERE status = 'pending' AND due_at <= ?2 AND (?1 IS NULL OR tenant = ?1)"
                    " ORDER BY created_at, id LIMIT 1",
                    &st, err);
    if (rc)
        return rc;
    sq_bind_text(st, 1, tenant);
    sqlite3_bind_int64(st, 2, now);
    if (sqlite3_step(st) == SQLITE_ROW) {
        q->has_next = 1;
        rc = brief_from_row(st, &q->next_job);
    }
    sqlite3_finalize(st);
    return rc;
}

static int queue_processing(struct sqlite_store *ss, const char *tenant, struct sl_queue_status *q,
                            struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss,
                        "SELECT id, file_name, type, created_at, started_at FROM jobs"
                        " WHERE status = 'processing' AND (?1 IS NULL OR tenant = ?1)"
                        " ORDER BY started_at, id LIMIT ?2",
                        &st, err);
    if (rc)
        return rc;
    sq_bind_text(st, 1, tenant);
    sqlite3_bind_int(st, 2, SL_QUEUE_PROCESSING_MAX);
    q->processing = calloc(SL_QUEUE_PROCESSING_MAX, sizeof *q->processing);
    if (!q->processing)
        rc = SL_ENOMEM;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW)
        rc = brief_from_row(st, &q->processing[q->processing_count++]);
    sqlite3_finalize(st);
    return rc;
}

int sq_queue_status(struct sl_store *s, const char *tenant, int64_t now,
                    struct sl_queue_status *out, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    int rc;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ss->lock);
    if ((rc = sq_exec(ss, "BEGIN", err)) == 0 && (rc = queue_counts(ss, tenant, out, err)) == 0 &&
        (rc = queue_pending(ss, tenant, now, out, err)) == 0 &&
        (rc = queue_processing(ss, tenant, out, err)) == 0)
        rc = sq_exec(ss, "COMMIT", err);
    if (rc) {
        sq_rollback(ss);
        sl_queue_status_fini(out);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

/* ---- statistics ------------------------------------------------------------------------ */

static int stats_counts(struct sqlite_store *ss, const char *tenant, struct sl_stats *o,
                        struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss,
                        "SELECT type, status, COUNT(*) FROM jobs WHERE created_at >= ?1"
                        " AND (?2 IS NULL OR tenant = ?2) GROUP BY type, status ORDER BY type",
                        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, o->since);
    sq_bind_text(st, 2, tenant);
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        int si = status_index(st, 1);
        int64_t n = sqlite3_column_int64(st, 2);
        if (o->type_count == 0 || strcmp(o->types[o->type_count - 1].type, type) != 0) {
            struct sl_type_counts *grown =
                realloc(o->types, (o->type_count + 1) * sizeof *o->types);
            if (!grown) {
                rc = SL_ENOMEM;
                break;
            }
            o->types = grown;
            memset(&o->types[o->type_count], 0, sizeof *o->types);
            if (!(o->types[o->type_count].type = strdup(type))) {
                rc = SL_ENOMEM;
                break;
            }
            o->type_count++;
        }
        if (si >= 0) {
            o->types[o->type_count - 1].counts[si] += n;
            o->counts[si] += n;
        }
        o->types[o->type_count - 1].total += n;
        o->total += n;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The nearest-rank percentile p (0..1) of n completed processing times. */
static int percentile(struct sqlite_store *ss, const char *tenant, int64_t since, int64_t n,
                      double p, int64_t *out, struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss,
                        "SELECT processing_ms FROM jobs WHERE created_at >= ?1"
                        " AND (?2 IS NULL OR tenant = ?2) AND status = 'completed'"
                        " AND processing_ms IS NOT NULL ORDER BY processing_ms LIMIT 1 OFFSET ?3",
                        &st, err);
    if (rc)
        return rc;
    int64_t rank = (int64_t)ceil(p * (double)n) - 1;
    sqlite3_bind_int64(st, 1, since);
    sq_bind_text(st, 2, tenant);
    sqlite3_bind_int64(st, 3, rank < 0 ? 0 : rank);
    *out = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return 0;
}

static int stats_times(struct sqlite_store *ss, const char *tenant, struct sl_stats *o,
                       struct sl_error *err)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc = sq_prepare(ss,
                        "SELECT COUNT(processing_ms), AVG(processing_ms) FROM jobs"
                        " WHERE created_at >= ?1 AND (?2 IS NULL OR tenant = ?2)"
                        " AND status = 'completed'",
                        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, o->since);
    sq_bind_text(st, 2, tenant);
    o->avg_processing_ms = -1;
    if (sqlite3_step(st) == SQLITE_ROW && (n = sqlite3_column_int64(st, 0)) > 0)
        o->avg_processing_ms = sqlite3_column_double(st, 1);
    sqlite3_finalize(st);
    o->p50_processing_ms = o->p95_processing_ms = -1;
    if (n > 0 && ((rc = percentile(ss, tenant, o->since, n, 0.50, &o->p50_processing_ms, err)) ||
                  (rc = percentile(ss, tenant, o->since, n, 0.95, &o->p95_processing_ms, err))))
        return rc;

    rc = sq_prepare(ss,
                    "SELECT COUNT(*), AVG(started_at - created_at) FROM jobs"
                    " WHERE created_at >= ?1 AND (?2 IS NULL OR tenant = ?2)"
                    " AND started_at IS NOT NULL",
                    &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, o->since);
    sq_bind_text(st, 2, tenant);
    o->avg_wait_ms = -1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
        o->avg_wait_ms = sqlite3_column_double(st, 1);
    sqlite3_finalize(st);
    return 0;
}

/* Adds per-day figures: `sql` yields (day, a, b) rows; a goes to field_a, b to field_b. */
static int stats_days(struct sqlite_store *ss, const char *tenant, struct sl_stats *o,
                      const char *sql, int created, struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, o->since);
    sq_bind_text(st, 2, tenant);
    int64_t first = o->since / SL_MS_PER_DAY;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t i = sqlite3_column_int64(st, 0) - first;
        if (i < 0 || i >= (int64_t)o->day_count)
            continue;
        if (created) {
            o->daily[i].created = sqlite3_column_int64(st, 1);
        } else {
            o->daily[i].completed = sqlite3_column_int64(st, 1);
            o->daily[i].failed = sqlite3_column_int64(st, 2);
        }
    }
    sqlite3_finalize(st);
    return 0;
}

static int stats_daily(struct sqlite_store *ss, const char *tenant, int64_t now, struct sl_stats *o,
                       struct sl_error *err)
{
    int64_t first = o->since / SL_MS_PER_DAY, last = now / SL_MS_PER_DAY;
    o->day_count = (size_t)(last - first + 1);
    o->daily = calloc(o->day_count, sizeof *o->daily);
    if (!o->daily)
        return SL_ENOMEM;
    for (size_t i = 0; i < o->day_count; i++)
        o->daily[i].day = first + (int64_t)i;
    int rc = stats_days(ss, tenant, o,
                        "SELECT created_at / 86400000, COUNT(*), 0 FROM jobs"
                        " WHERE created_at >= ?1 AND (?2 IS NULL OR tenant = ?2) GROUP BY 1",
                        1, err);
    if (rc == 0)
        rc = stats_days(ss, tenant, o,
                        "SELECT completed_at / 86400000, SUM(status = 'completed'),"
                        " SUM(status = 'failed') FROM jobs WHERE created_at >= ?1"
                        " AND (?2 IS NULL OR tenant = ?2) AND completed_at IS NOT NULL GROUP BY 1",
                        0, err);
    return rc;
}

int sq_stats(struct sl_store *s, int days, const char *tenant, int64_t now, struct sl_stats *out,
             struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    int rc;

    memset(out, 0, sizeof *out);
    out->days = days;
    out->since = now - (int64_t)days * SL_MS_PER_DAY;
    pthread_mutex_lock(&ss->lock);
    if ((rc = sq_exec(ss, "BEGIN", err)) == 0 && (rc = stats_counts(ss, tenant, out, err)) == 0 &&
        (rc = stats_times(ss, tenant, out, err)) == 0 &&
        (rc = stats_daily(ss, tenant, now, out, err)) == 0)
        rc = sq_exec(ss, "COMMIT", err);
    if (rc) {
        sq_rollback(ss);
        sl_stats_fini(out);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

int sq_count_due(struct sl_store *s, int64_t now, int64_t *n, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    *n = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss, "SELECT COUNT(*) FROM jobs WHERE status = 'pending' AND due_at <= ?1",
                        &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, now);
        if (sqlite3_step(st) == SQLITE_ROW)
            *n = sqlite3_column_int64(st, 0);
        else
            rc = sq_db_fail(ss, err, "count due");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}
