/*
 * Reporting queries of the PostgreSQL store: queue status and statistics. Each runs in one
 * read-only REPEATABLE READ transaction so its figures agree with each other. Queue counts come
 * from job_counts, statistics from job_stats_hour and job_hist (all kept by triggers, see
 * stats_agg.h), as in the SQLite store.
 */
#include "store/postgres_int.h"
#include "store/stats_agg.h"
#include "util/timeutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int status_index(const PGresult *r, int row, int col)
{
    enum sl_job_status s;
    if (PQgetisnull(r, row, col) || sl_job_status_parse(PQgetvalue(r, row, col), &s))
        return -1;
    return (int)s;
}

/* Fills a brief from (id, file_name, type, created_at, started_at) columns. */
static int brief_from_row(const PGresult *r, int row, struct sl_job_brief *b)
{
    pg_copy(r, row, 0, b->id, sizeof b->id);
    b->file_name = pg_strdup(r, row, 1);
    b->type = pg_strdup(r, row, 2);
    b->created_at = pg_i64(r, row, 3);
    b->started_at = pg_i64(r, row, 4);
    return b->file_name && b->type ? 0 : SL_ENOMEM;
}

/* ---- queue status ---------------------------------------------------------------------- */

struct queue_ctx {
    const char *tenant;
    int64_t now;
    struct sl_queue_status *q;
};

static int queue_counts(struct pg_tx *tx, struct queue_ctx *c, struct sl_error *err)
{
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, c->tenant);
    int rc = pg_exec(tx,
                     "SELECT status, sum(n) FROM job_counts WHERE ($1::text IS NULL OR tenant = $1)"
                     " GROUP BY status",
                     &p, &r, err);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        int s = status_index(r, i, 0);
        if (s >= 0) {
            c->q->counts[s] = pg_i64(r, i, 1);
            c->q->total += c->q->counts[s];
        }
    }
    PQclear(r);
    return rc;
}

static int queue_pending(struct pg_tx *tx, struct queue_ctx *c, struct sl_error *err)
{
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, c->tenant);
    int rc = pg_exec(tx,
                     "SELECT min(created_at) FROM jobs WHERE status = 'pending'"
                     " AND ($1::text IS NULL OR tenant = $1)",
                     &p, &r, err);
    if (rc)
        return rc;
    c->q->oldest_pending_at = pg_i64(r, 0, 0);
    PQclear(r);

    pg_p_text(&p, c->tenant);
    pg_p_i64(&p, c->now);
    rc = pg_exec(tx,
                 "SELECT id, file_name, type, created_at, started_at FROM jobs"
                 " WHERE status = 'pending' AND due_at <= $2::bigint"
                 " AND ($1::text IS NULL OR tenant = $1) ORDER BY created_at, id LIMIT 1",
                 &p, &r, err);
    if (rc == 0 && PQntuples(r) == 1) {
        c->q->has_next = 1;
        rc = brief_from_row(r, 0, &c->q->next_job);
    }
    PQclear(r);
    return rc;
}

static int queue_processing(struct pg_tx *tx, struct queue_ctx *c, struct sl_error *err)
{
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, c->tenant);
    pg_p_i64(&p, SL_QUEUE_PROCESSING_MAX);
    int rc = pg_exec(tx,
                     "SELECT id, file_name, type, created_at, started_at FROM jobs"
                     " WHERE status = 'processing' AND ($1::text IS NULL OR tenant = $1)"
                     " ORDER BY started_at, id LIMIT $2::int",
                     &p, &r, err);
    if (rc)
        return rc;
    c->q->processing = calloc(SL_QUEUE_PROCESSING_MAX, sizeof *c->q->processing);
    if (!c->q->processing)
        rc = SL_ENOMEM;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = brief_from_row(r, i, &c->q->processing[c->q->processing_count++]);
    PQclear(r);
    return rc;
}

static int queue_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct queue_ctx *c = ctx;
    int rc;
    if ((rc = queue_counts(tx, c, err)) == 0 && (rc = queue_pending(tx, c, err)) == 0)
        rc = queue_processing(tx, c, err);
    return rc;
}

static void queue_undo(void *ctx)
{
    sl_queue_status_fini(((struct queue_ctx *)ctx)->q);
}

int pg_queue_status(struct sl_store *s, const char *tenant, int64_t now,
                    struct sl_queue_status *out, struct sl_error *err)
{
    static const struct pg_op op = {"queue status", PG_SNAPSHOT, queue_run, queue_undo};
    struct queue_ctx c = {tenant, now, out};
    memset(out, 0, sizeof *out);
    return pg_run((struct pg_store *)s, &op, &c, err);
}

/* ---- statistics ------------------------------------------------------------------------ */

struct stats_ctx {
    const char *tenant;
    int64_t now;
    struct sl_stats *o;
};

/* Parameters ($1 since, $2 tenant) that every statistics query starts with. */
static void window_params(struct pg_params *p, const struct stats_ctx *c)
{
    pg_p_i64(p, c->o->since);
    pg_p_text(p, c->tenant);
}

/* The window's first whole hour, in hours and in ms ($1 is since, in ms). */
#define PG_H0    "(($1::bigint + 3599999) / 3600000)"
#define PG_H0_MS PG_H0 " * 3600000"

/*
 * One pass over the window (see stats_agg.h): job_stats_hour for its whole hours, the jobs
 * themselves before the first one, grouped by what the figures need.
 */
static const char STATS_SQL[] =
    "SELECT type, status, day, done_day, sum(n), sum(proc_n), sum(proc_sum), sum(wait_n),"
    " sum(wait_sum) FROM ("
    "  SELECT type, status, hour / 24 AS day, done_day, n, proc_n, proc_sum, wait_n, wait_sum"
    "  FROM job_stats_hour WHERE hour >= " PG_H0 " AND ($2::text IS NULL OR tenant = $2)"
    "  UNION ALL"
    "  SELECT type, status, created_at / 86400000, coalesce(completed_at / 86400000, -1), 1,"
    "   (status = 'completed' AND processing_ms IS NOT NULL)::int,"
    "   CASE WHEN status = 'completed' THEN coalesce(processing_ms, 0) ELSE 0 END,"
    "   (started_at IS NOT NULL)::int, coalesce(started_at - created_at, 0)"
    "  FROM jobs WHERE created_at >= $1::bigint AND created_at < " PG_H0_MS
    "   AND ($2::text IS NULL OR tenant = $2)) x"
    " GROUP BY type, status, day, done_day ORDER BY type";

static int stats_fold(struct pg_tx *tx, struct stats_ctx *c, struct sl_stats_fold *f,
                      struct sl_error *err)
{
    struct pg_params p = {0};
    PGresult *r;
    window_params(&p, c);
    int rc = pg_exec(tx, STATS_SQL, &p, &r, err);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        struct sl_stats_row row = {PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), pg_i64(r, i, 2),
                                   pg_i64(r, i, 3),     pg_i64(r, i, 4),     pg_i64(r, i, 5),
                                   pg_i64(r, i, 6),     pg_i64(r, i, 7),     pg_i64(r, i, 8)};
        rc = sl_stats_add(f, &row);
    }
    PQclear(r);
    return rc;
}

/* Exact nearest-rank percentiles, by a sorted scan of the window's n completed jobs. */
static int percentiles_exact(struct pg_tx *tx, struct stats_ctx *c, int64_t n, struct sl_error *err)
{
    static const double ps[2] = {0.50, 0.95};
    int64_t *out[2] = {&c->o->p50_processing_ms, &c->o->p95_processing_ms};
    for (int k = 0; k < 2; k++) {
        struct pg_params p = {0};
        PGresult *r;
        int64_t rank = (int64_t)ceil(ps[k] * (double)n) - 1;
        window_params(&p, c);
        pg_p_i64(&p, rank < 0 ? 0 : rank);
        int rc = pg_exec(tx,
                         "SELECT processing_ms FROM jobs WHERE created_at >= $1::bigint"
                         " AND ($2::text IS NULL OR tenant = $2) AND status = 'completed'"
                         " AND processing_ms IS NOT NULL ORDER BY processing_ms LIMIT 1"
                         " OFFSET $3::bigint",
                         &p, &r, err);
        if (rc == 0)
            *out[k] = PQntuples(r) == 1 ? pg_i64(r, 0, 0) : -1;
        PQclear(r);
        if (rc)
            return rc;
    }
    return 0;
}

/* Percentiles from job_hist over the days the window touches. */
static int percentiles_hist(struct pg_tx *tx, struct stats_ctx *c, struct sl_error *err)
{
    static const double ps[2] = {0.50, 0.95};
    struct pg_params p = {0};
    PGresult *r;
    window_params(&p, c);
    int rc = pg_exec(tx,
                     "SELECT bucket, sum(n) FROM job_hist WHERE day >= $1::bigint / 86400000"
                     " AND ($2::text IS NULL OR tenant = $2) GROUP BY bucket ORDER BY bucket",
                     &p, &r, err);
    if (rc)
        return rc;
    size_t n = (size_t)PQntuples(r);
    int64_t *b = malloc((n ? n : 1) * sizeof *b), *cnt = malloc((n ? n : 1) * sizeof *cnt);
    if (!b || !cnt) {
        rc = SL_ENOMEM;
    } else {
        for (size_t i = 0; i < n; i++) {
            b[i] = pg_i64(r, (int)i, 0);
            cnt[i] = pg_i64(r, (int)i, 1);
        }
        int64_t out[2];
        sl_hist_percentiles(b, cnt, n, ps, out, 2);
        c->o->p50_processing_ms = out[0];
        c->o->p95_processing_ms = out[1];
    }
    free(b);
    free(cnt);
    PQclear(r);
    return rc;
}

static int stats_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct stats_ctx *c = ctx;
    struct sl_stats_fold f;
    int rc = sl_stats_begin(&f, c->o, c->now);
    if (rc == 0)
        rc = stats_fold(tx, c, &f, err);
    if (rc)
        return rc;
    sl_stats_end(&f);
    if (f.proc_n == 0)
        return 0;
    return f.proc_n <= SL_STATS_EXACT_MAX ? percentiles_exact(tx, c, f.proc_n, err)
                                          : percentiles_hist(tx, c, err);
}

static void stats_undo(void *ctx)
{
    struct sl_stats *o = ((struct stats_ctx *)ctx)->o;
    int days = o->days;
    int64_t since = o->since;
    sl_stats_fini(o);
    o->days = days;
    o->since = since;
}

int pg_stats(struct sl_store *s, int days, const char *tenant, int64_t now, struct sl_stats *out,
             struct sl_error *err)
{
    static const struct pg_op op = {"stats", PG_SNAPSHOT, stats_run, stats_undo};
    struct stats_ctx c = {tenant, now, out};
    memset(out, 0, sizeof *out);
    out->days = days;
    out->since = now - (int64_t)days * SL_MS_PER_DAY;
    int rc = pg_run((struct pg_store *)s, &op, &c, err);
    if (rc)
        sl_stats_fini(out);
    return rc;
}

/* ---- due jobs -------------------------------------------------------------------------- */

struct count_ctx {
    int64_t now;
    int64_t *n;
};

static int count_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct count_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    pg_p_i64(&p, c->now);
    int rc =
        pg_exec(tx, "SELECT count(*) FROM jobs WHERE status = 'pending' AND due_at <= $1::bigint",
                &p, &r, err);
    if (rc == 0)
        *c->n = pg_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

int pg_count_due(struct sl_store *s, int64_t now, int64_t *n, struct sl_error *err)
{
    static const struct pg_op op = {"count due", PG_READ, count_run, NULL};
    struct count_ctx c = {now, n};
    *n = 0;
    return pg_run((struct pg_store *)s, &op, &c, err);
}

/* ---- jobs by type and status ------------------------------------------------------------- */

struct count_jobs_ctx {
    struct sl_type_counts **out;
    size_t *n;
};

static int count_jobs_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct count_jobs_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    int rc = pg_exec(tx,
                     "SELECT type, status, sum(n) FROM job_counts GROUP BY type, status"
                     " HAVING sum(n) <> 0 ORDER BY type",
                     &p, &r, err);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = sl_type_counts_add(c->out, c->n, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                                pg_i64(r, i, 2));
    PQclear(r);
    return rc;
}

static void count_jobs_undo(void *ctx)
{
    struct count_jobs_ctx *c = ctx;
    sl_type_counts_free(*c->out, *c->n);
    *c->out = NULL;
    *c->n = 0;
}

int pg_count_jobs(struct sl_store *s, struct sl_type_counts **out, size_t *n, struct sl_error *err)
{
    static const struct pg_op op = {"count jobs", PG_READ, count_jobs_run, count_jobs_undo};
    struct count_jobs_ctx c = {out, n};
    int rc = pg_run((struct pg_store *)s, &op, &c, err);
    if (rc)
        count_jobs_undo(&c);
    return rc;
}
