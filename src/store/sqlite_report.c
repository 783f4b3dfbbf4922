/*
 * Reporting queries of the SQLite store: queue status and statistics. Each runs inside one read
 * transaction so its figures agree with each other. Queue counts come from job_counts and
 * statistics from job_stats and job_hist (all kept by triggers, see stats_agg.h), so no query
 * reads every finished job.
 */
#include "store/sqlite_int.h"
#include "store/stats_agg.h"
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
    sq_finalize(ss, st);
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
    sq_finalize(ss, st);

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
    sq_finalize(ss, st);
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
    sq_finalize(ss, st);
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

/* The window's first whole hour and first whole day, by number and in ms (?1 is since, ms). */
#define SQ_H0    "((?1 + 3599999) / 3600000)"
#define SQ_H0_MS SQ_H0 " * 3600000"
#define SQ_D0    "((?1 + 86399999) / 86400000)"

/*
 * One pass over the window (see stats_agg.h): job_stats_day for its whole days, job_stats_hour
 * for the whole hours before the first of them, and the jobs themselves before the first whole
 * hour, grouped by what the figures need.
 */
static const char STATS_SQL[] =
    "SELECT type, status, day, done_day, SUM(n), SUM(proc_n), SUM(proc_sum), SUM(wait_n),"
    " SUM(wait_sum) FROM ("
    "  SELECT type, status, day, done_day, n, proc_n, proc_sum, wait_n, wait_sum"
    "  FROM job_stats_day WHERE day >= " SQ_D0 " AND (?2 IS NULL OR tenant = ?2)"
    "  UNION ALL"
    "  SELECT type, status, hour / 24, done_day, n, proc_n, proc_sum, wait_n, wait_sum"
    "  FROM job_stats_hour WHERE hour >= " SQ_H0 " AND hour < " SQ_D0 " * 24"
    "   AND (?2 IS NULL OR tenant = ?2)"
    "  UNION ALL"
    "  SELECT type, status, created_at / 86400000, COALESCE(completed_at / 86400000, -1), 1,"
    "   status = 'completed' AND processing_ms IS NOT NULL,"
    "   CASE WHEN status = 'completed' THEN COALESCE(processing_ms, 0) ELSE 0 END,"
    "   started_at IS NOT NULL, COALESCE(started_at - created_at, 0)"
    "  FROM jobs WHERE created_at >= ?1 AND created_at < " SQ_H0_MS
    "   AND (?2 IS NULL OR tenant = ?2))"
    " GROUP BY type, status, day, done_day ORDER BY type";

static int stats_fold(struct sqlite_store *ss, const char *tenant, struct sl_stats_fold *f,
                      struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss, STATS_SQL, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, f->o->since);
    sq_bind_text(st, 2, tenant);
    int step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct sl_stats_row r = {(const char *)sqlite3_column_text(st, 0),
                                 (const char *)sqlite3_column_text(st, 1),
                                 sqlite3_column_int64(st, 2),
                                 sqlite3_column_int64(st, 3),
                                 sqlite3_column_int64(st, 4),
                                 sqlite3_column_int64(st, 5),
                                 sqlite3_column_int64(st, 6),
                                 sqlite3_column_int64(st, 7),
                                 sqlite3_column_int64(st, 8)};
        rc = sl_stats_add(f, &r);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = sq_db_fail(ss, err, "stats");
    sq_finalize(ss, st);
    return rc;
}

/* Exact nearest-rank percentiles, by a sorted scan of the window's n completed jobs. */
static int percentiles_exact(struct sqlite_store *ss, const char *tenant, struct sl_stats *o,
                             int64_t n, struct sl_error *err)
{
    static const double ps[2] = {0.50, 0.95};
    int64_t *out[2] = {&o->p50_processing_ms, &o->p95_processing_ms};
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st;
        int rc = sq_prepare(ss,
                            "SELECT processing_ms FROM jobs WHERE created_at >= ?1"
                            " AND (?2 IS NULL OR tenant = ?2) AND status = 'completed'"
                            " AND processing_ms IS NOT NULL ORDER BY processing_ms LIMIT 1"
                            " OFFSET ?3",
                            &st, err);
        if (rc)
            return rc;
        int64_t rank = (int64_t)ceil(ps[k] * (double)n) - 1;
        sqlite3_bind_int64(st, 1, o->since);
        sq_bind_text(st, 2, tenant);
        sqlite3_bind_int64(st, 3, rank < 0 ? 0 : rank);
        *out[k] = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sq_finalize(ss, st);
    }
    return 0;
}

/* Percentiles from job_hist over the days the window touches. */
static int percentiles_hist(struct sqlite_store *ss, const char *tenant, struct sl_stats *o,
                            struct sl_error *err)
{
    static const double ps[2] = {0.50, 0.95};
    sqlite3_stmt *st;
    int rc = sq_prepare(ss,
                        "SELECT bucket, SUM(n) FROM job_hist WHERE day >= ?1 / 86400000"
                        " AND (?2 IS NULL OR tenant = ?2) GROUP BY bucket ORDER BY bucket",
                        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, o->since);
    sq_bind_text(st, 2, tenant);
    int64_t *b = NULL, *c = NULL;
    size_t n = 0, cap = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            int64_t *nb = realloc(b, cap * sizeof *b),
                    *nc = nb ? realloc(c, cap * sizeof *c) : NULL;
            if (nb)
                b = nb;
            if (nc)
                c = nc;
            if (!nb || !nc) {
                rc = SL_ENOMEM;
                break;
            }
        }
        b[n] = sqlite3_column_int64(st, 0);
        c[n++] = sqlite3_column_int64(st, 1);
    }
    sq_finalize(ss, st);
    if (rc == 0) {
        int64_t out[2];
        sl_hist_percentiles(b, c, n, ps, out, 2);
        o->p50_processing_ms = out[0];
        o->p95_processing_ms = out[1];
    }
    free(b);
    free(c);
    return rc;
}

static int stats_read(struct sqlite_store *ss, const char *tenant, int64_t now, struct sl_stats *o,
                      struct sl_error *err)
{
    struct sl_stats_fold f;
    int rc = sl_stats_begin(&f, o, now);
    if (rc == 0)
        rc = stats_fold(ss, tenant, &f, err);
    if (rc)
        return rc;
    sl_stats_end(&f);
    if (f.proc_n == 0)
        return 0;
    return f.proc_n <= SL_STATS_EXACT_MAX ? percentiles_exact(ss, tenant, o, f.proc_n, err)
                                          : percentiles_hist(ss, tenant, o, err);
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
    if ((rc = sq_exec(ss, "BEGIN", err)) == 0 && (rc = stats_read(ss, tenant, now, out, err)) == 0)
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
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

int sq_count_jobs(struct sl_store *s, struct sl_type_counts **out, size_t *n, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss,
                        "SELECT type, status, SUM(n) FROM job_counts GROUP BY type, status"
                        " HAVING SUM(n) <> 0 ORDER BY type",
                        &st, err);
    int step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = sl_type_counts_add(out, n, (const char *)sqlite3_column_text(st, 0),
                                (const char *)sqlite3_column_text(st, 1),
                                sqlite3_column_int64(st, 2));
    if (rc == 0 && step != SQLITE_DONE)
        rc = sq_db_fail(ss, err, "count jobs");
    sq_finalize(ss, st);
    pthread_mutex_unlock(&ss->lock);
    if (rc) {
        sl_type_counts_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
