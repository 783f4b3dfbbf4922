/*
 * Reporting queries of the PostgreSQL store: queue status and statistics. Each runs in one
 * read-only REPEATABLE READ transaction so its figures agree with each other. Counts come from
 * job_counts (kept by triggers), the rest from indexed ranges, as in the SQLite store.
 */
#include "store/postgres_int.h"
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

/* Counts one (type, status, n) row into the totals and the type's figures. */
static int count_row(struct sl_stats *o, const PGresult *r, int i)
{
    const char *type = PQgetvalue(r, i, 0);
    int si = status_index(r, i, 1);
    int64_t n = pg_i64(r, i, 2);
    if (o->type_count == 0 || strcmp(o->types[o->type_count - 1].type, type) != 0) {
        struct sl_type_counts *grown = realloc(o->types, (o->type_count + 1) * sizeof *o->types);
        if (!grown)
            return SL_ENOMEM;
        o->types = grown;
        memset(&o->types[o->type_count], 0, sizeof *o->types);
        if (!(o->types[o->type_count].type = strdup(type)))
            return SL_ENOMEM;
        o->type_count++;
    }
    if (si >= 0) {
        o->types[o->type_count - 1].counts[si] += n;
        o->counts[si] += n;
    }
    o->types[o->type_count - 1].total += n;
    o->total += n;
    return 0;
}

static int stats_counts(struct pg_tx *tx, struct stats_ctx *c, struct sl_error *err)
{
    struct pg_params p = {0};
    PGresult *r;
    window_params(&p, c);
    int rc = pg_exec(tx,
                     "SELECT type, status, count(*) FROM jobs WHERE created_at >= $1::bigint"
                     " AND ($2::text IS NULL OR tenant = $2) GROUP BY type, status ORDER BY type",
                     &p, &r, err);
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = count_row(c->o, r, i);
    PQclear(r);
    return rc;
}

/* The nearest-rank percentile p (0..1) of n completed processing times. */
static int percentile(struct pg_tx *tx, struct stats_ctx *c, int64_t n, double pct, int64_t *out,
                      struct sl_error *err)
{
    struct pg_params p = {0};
    PGresult *r;
    int64_t rank = (int64_t)ceil(pct * (double)n) - 1;
    window_params(&p, c);
    pg_p_i64(&p, rank < 0 ? 0 : rank);
    int rc = pg_exec(tx,
                     "SELECT processing_ms FROM jobs WHERE created_at >= $1::bigint"
                     " AND ($2::text IS NULL OR tenant = $2) AND status = 'completed'"
                     " AND processing_ms IS NOT NULL ORDER BY processing_ms LIMIT 1"
                     " OFFSET $3::bigint",
                     &p, &r, err);
    if (rc == 0)
        *out = PQntuples(r) == 1 ? pg_i64(r, 0, 0) : -1;
    PQclear(r);
    return rc;
}

static int stats_times(struct pg_tx *tx, struct stats_ctx *c, struct sl_error *err)
{
    struct sl_stats *o = c->o;
    struct pg_params p = {0};
    PGresult *r;
    int64_t n = 0;
    window_params(&p, c);
    int rc = pg_exec(tx,
                     "SELECT count(processing_ms), avg(processing_ms) FROM jobs"
                     " WHERE created_at >= $1::bigint AND ($2::text IS NULL OR tenant = $2)"
                     " AND status = 'completed'",
                     &p, &r, err);
    if (rc)
        return rc;
    o->avg_processing_ms = (n = pg_i64(r, 0, 0)) > 0 ? pg_f64(r, 0, 1) : -1;
    PQclear(r);
    o->p50_processing_ms = o->p95_processing_ms = -1;
    if (n > 0 && ((rc = percentile(tx, c, n, 0.50, &o->p50_processing_ms, err)) ||
                  (rc = percentile(tx, c, n, 0.95, &o->p95_processing_ms, err))))
        return rc;

    window_params(&p, c);
    rc = pg_exec(tx,
                 "SELECT count(*), avg(started_at - created_at) FROM jobs"
                 " WHERE created_at >= $1::bigint AND ($2::text IS NULL OR tenant = $2)"
                 " AND started_at IS NOT NULL",
                 &p, &r, err);
    if (rc)
        return rc;
    o->avg_wait_ms = pg_i64(r, 0, 0) > 0 ? pg_f64(r, 0, 1) : -1;
    PQclear(r);
    return 0;
}

/* Adds per-day figures: sql yields (day, a, b) rows; created: a is the day's created count,
 * otherwise a and b are its completed and failed counts. */
static int stats_days(struct pg_tx *tx, struct stats_ctx *c, const char *sql, int created,
                      struct sl_error *err)
{
    struct sl_stats *o = c->o;
    struct pg_params p = {0};
    PGresult *r;
    window_params(&p, c);
    int rc = pg_exec(tx, sql, &p, &r, err);
    int64_t first = o->since / SL_MS_PER_DAY;
    for (int k = 0; rc == 0 && k < PQntuples(r); k++) {
        int64_t i = pg_i64(r, k, 0) - first;
        if (i < 0 || i >= (int64_t)o->day_count)
            continue;
        if (created) {
            o->daily[i].created = pg_i64(r, k, 1);
        } else {
            o->daily[i].completed = pg_i64(r, k, 1);
            o->daily[i].failed = pg_i64(r, k, 2);
        }
    }
    PQclear(r);
    return rc;
}

static int stats_daily(struct pg_tx *tx, struct stats_ctx *c, struct sl_error *err)
{
    struct sl_stats *o = c->o;
    int64_t first = o->since / SL_MS_PER_DAY, last = c->now / SL_MS_PER_DAY;
    o->day_count = (size_t)(last - first + 1);
    o->daily = calloc(o->day_count, sizeof *o->daily);
    if (!o->daily)
        return SL_ENOMEM;
    for (size_t i = 0; i < o->day_count; i++)
        o->daily[i].day = first + (int64_t)i;
    int rc = stats_days(tx, c,
                        "SELECT created_at / 86400000, count(*), 0 FROM jobs"
                        " WHERE created_at >= $1::bigint AND ($2::text IS NULL OR tenant = $2)"
                        " GROUP BY 1",
                        1, err);
    if (rc == 0)
        rc = stats_days(tx, c,
                        "SELECT completed_at / 86400000,"
                        " count(*) FILTER (WHERE status = 'completed'),"
                        " count(*) FILTER (WHERE status = 'failed') FROM jobs"
                        " WHERE created_at >= $1::bigint AND ($2::text IS NULL OR tenant = $2)"
                        " AND completed_at IS NOT NULL GROUP BY 1",
                        0, err);
    return rc;
}

static int stats_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct stats_ctx *c = ctx;
    int rc;
    if ((rc = stats_counts(tx, c, err)) == 0 && (rc = stats_times(tx, c, err)) == 0)
        rc = stats_daily(tx, c, err);
    return rc;
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
