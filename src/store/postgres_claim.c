/*
 * DESIGN: claims, leases and fencing on PostgreSQL.
 *
 * A claim is one statement (CLAIM_SQL). Its MATERIALIZED CTEs, evaluated once each:
 * - tenants: the tenants with pending jobs, from the job_counts counters (not a scan of jobs);
 * - heads: each tenant's oldest due job, through the (tenant, created_at, id) partial index,
 *   keeping the `limit` tenants whose head is oldest (no other tenant can get a slot);
 * - cand: for each of those, its oldest due pending jobs that no other claimer holds, at most
 *   `limit`, locked FOR UPDATE SKIP LOCKED as they are read. Locking here, not after choosing,
 *   is what lets claims that run at once on several nodes each take a full batch: had the
 *   candidates been chosen first and locked after, a claim running beside another would pick
 *   the rows the other holds, skip them all and come back empty while hundreds more are due.
 *   The lock re-checks a row changed since our snapshot against `status = 'pending' AND
 *   due_at <= now`, so a job is never claimed twice. Rows locked but not picked (when several
 *   tenants compete) are let go at commit, a moment later;
 * - picked: the candidates in claim order (round 1 of every tenant by its oldest job, round 2,
 *   ...) up to `limit`;
 * then the UPDATE marks the picked rows processing with lease_until and fence = fence + 1, and
 * the outer SELECT returns them in claim order. With one tenant this is plain FIFO.
 *
 * Outcomes (complete, fail, heartbeat, release, progress) are UPDATEs guarded by
 * (id, fence, status = 'processing'): no row changed means the lease was lost: SL_EFENCED.
 * The rescue of expired leases locks its rows with SKIP LOCKED too, so two nodes rescuing at
 * once neither wait on each other nor count a job twice.
 */
#include "store/postgres_int.h"

#include <string.h>

#define CLAIM_SQL                                                                                  \
    "WITH tenants AS MATERIALIZED ("                                                               \
    "  SELECT tenant FROM job_counts WHERE status = 'pending'"                                     \
    "  GROUP BY tenant HAVING sum(n) > 0),"                                                        \
    " heads AS MATERIALIZED ("                                                                     \
    "  SELECT t.tenant, h.created_at AS first FROM tenants t CROSS JOIN LATERAL ("                 \
    "    SELECT j.created_at FROM jobs j"                                                          \
    "    WHERE j.tenant = t.tenant AND j.status = 'pending' AND j.due_at <= $1::bigint"            \
    "    ORDER BY j.created_at, j.id LIMIT 1) h"                                                   \
    "  ORDER BY h.created_at, t.tenant LIMIT $2::int),"                                            \
    " cand AS MATERIALIZED ("                                                                      \
    "  SELECT c.id, c.tenant, c.created_at, h.first FROM heads h CROSS JOIN LATERAL ("             \
    "    SELECT j.id, j.tenant, j.created_at FROM jobs j"                                          \
    "    WHERE j.tenant = h.tenant AND j.status = 'pending' AND j.due_at <= $1::bigint"            \
    "    ORDER BY j.created_at, j.id LIMIT $2::int FOR UPDATE SKIP LOCKED) c),"                    \
    " picked AS MATERIALIZED ("                                                                    \
    "  SELECT id, tenant AS t, first,"                                                             \
    "    row_number() OVER (PARTITION BY tenant ORDER BY created_at, id) AS rn"                    \
    "  FROM cand ORDER BY rn, first, t LIMIT $2::int),"                                            \
    " claimed AS ("                                                                                \
    "  UPDATE jobs SET status = 'processing', started_at = $1::bigint,"                            \
    "    lease_until = $1::bigint + $3::bigint, fence = jobs.fence + 1"                            \
    "  FROM picked WHERE jobs.id = picked.id"                                                      \
    "  RETURNING picked.rn, picked.first, picked.t, jobs.*)"                                       \
    " SELECT " PG_JOB_COLS " FROM claimed ORDER BY rn, first, t"

#define FENCED_MSG "job is no longer processing under this lease"

static struct pg_store *cast(struct sl_store *s)
{
    return (struct pg_store *)s;
}

/* ---- rescue ---------------------------------------------------------------------------- */

struct rescue_ctx {
    int64_t now;
    int *rescued;
};

static int rescue_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct rescue_ctx *c = ctx;
    struct pg_params p = {0};
    int64_t changed = 0;
    pg_p_i64(&p, c->now);
    int rc = pg_exec_cmd(
        tx,
        "WITH expired AS MATERIALIZED ("
        "  SELECT id FROM jobs WHERE status = 'processing' AND lease_until < $1::bigint"
        "  FOR UPDATE SKIP LOCKED)"
        " UPDATE jobs SET attempts = attempts + 1,"
        "  status = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'pending' END,"
        "  completed_at = CASE WHEN attempts + 1 >= max_attempts THEN $1::bigint END,"
        "  due_at = $1::bigint, lease_until = NULL,"
        "  error = 'lease expired: the worker stopped before finishing the job'"
        " FROM expired WHERE jobs.id = expired.id",
        &p, &changed, err);
    *c->rescued = (int)changed;
    return rc;
}

static void rescue_undo(void *ctx)
{
    *((struct rescue_ctx *)ctx)->rescued = 0;
}

int pg_release_expired(struct sl_store *s, int64_t now, int *rescued, struct sl_error *err)
{
    static const struct pg_op op = {"release expired", PG_WRITE, rescue_run, rescue_undo};
    struct rescue_ctx c = {now, rescued};
    *rescued = 0;
    return pg_run(cast(s), &op, &c, err);
}

/* ---- claim ----------------------------------------------------------------------------- */

struct claim_ctx {
    int64_t now;
    int limit;
    int64_t lease_ms;
    struct sl_job **jobs;
    size_t *n;
};

static int claim_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct claim_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    pg_p_i64(&p, c->now);
    pg_p_i64(&p, c->limit);
    pg_p_i64(&p, c->lease_ms);
    int rc = pg_exec(tx, CLAIM_SQL, &p, &r, err);
    if (rc)
        return rc;
    rc = pg_rows_to_jobs(r, (size_t)c->limit, c->jobs, c->n);
    PQclear(r);
    return rc;
}

static void claim_undo(void *ctx)
{
    struct claim_ctx *c = ctx;
    sl_jobs_free(*c->jobs, *c->n);
    *c->jobs = NULL;
    *c->n = 0;
}

int pg_claim(struct sl_store *s, int64_t now, int limit, int64_t lease_ms, struct sl_job **jobs,
             size_t *n, struct sl_error *err)
{
    static const struct pg_op op = {"claim", PG_WRITE, claim_run, claim_undo};
    struct claim_ctx c = {now, limit, lease_ms, jobs, n};
    *jobs = NULL;
    *n = 0;
    if (limit <= 0)
        return 0;
    return pg_run(cast(s), &op, &c, err);
}

/* ---- fenced outcomes ------------------------------------------------------------------- */

/* A guarded UPDATE: $1 id, $2 fence, then the statement's own values. */
struct fenced_ctx {
    const char *sql;
    struct pg_params p;         /* built once; copied for each run, since a run consumes its copy */
    enum sl_job_status *became; /* fail only: the status the job went to */
};

static int fenced_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct fenced_ctx *c = ctx;
    struct pg_params p = c->p;
    PGresult *r;
    /* The copy must not free values the original owns. */
    memset(p.owned, 0, sizeof p.owned);
    int rc = pg_exec(tx, c->sql, &p, &r, err);
    if (rc)
        return rc;
    if (PQntuples(r) == 0)
        rc = sl_err_set(err, SL_EFENCED, FENCED_MSG);
    else if (c->became)
        sl_job_status_parse(PQgetvalue(r, 0, 0), c->became);
    PQclear(r);
    return rc;
}

/* Runs the guarded UPDATE held in c (whose statement RETURNs status) and frees c's params. */
static int run_fenced(struct sl_store *s, const char *what, struct fenced_ctx *c,
                      struct sl_error *err)
{
    const struct pg_op op = {what, PG_WRITE, fenced_run, NULL};
    int rc = pg_run(cast(s), &op, c, err);
    for (int i = 0; i < c->p.n; i++)
        free(c->p.owned[i]);
    return rc;
}

/* Starts a fenced statement's parameters with (id, fence). */
static void fenced_init(struct fenced_ctx *c, const char *sql, const char *id, int64_t fence)
{
    memset(c, 0, sizeof *c);
    c->sql = sql;
    pg_p_text(&c->p, id);
    pg_p_i64(&c->p, fence);
}

int pg_heartbeat(struct sl_store *s, const char *id, int64_t fence, int64_t lease_until,
                 struct sl_error *err)
{
    struct fenced_ctx c;
    fenced_init(&c,
                "UPDATE jobs SET lease_until = $3::bigint"
                " WHERE id = $1 AND fence = $2::bigint AND status = 'processing' RETURNING status",
                id, fence);
    pg_p_i64(&c.p, lease_until);
    return run_fenced(s, "heartbeat", &c, err);
}

int pg_progress(struct sl_store *s, const char *id, int64_t fence, const char *result,
                struct sl_error *err)
{
    struct fenced_ctx c;
    fenced_init(&c,
                "UPDATE jobs SET result = $3"
                " WHERE id = $1 AND fence = $2::bigint AND status = 'processing' RETURNING status",
                id, fence);
    pg_p_text(&c.p, result);
    return run_fenced(s, "progress", &c, err);
}

int pg_complete(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                int64_t processing_ms, const char *result, struct sl_error *err)
{
    struct fenced_ctx c;
    fenced_init(&c,
                "UPDATE jobs SET status = 'completed', completed_at = $3::bigint,"
                " processing_ms = $4::bigint, result = $5, lease_until = NULL"
                " WHERE id = $1 AND fence = $2::bigint AND status = 'processing' RETURNING status",
                id, fence);
    pg_p_i64(&c.p, now);
    pg_p_ms(&c.p, processing_ms);
    pg_p_text(&c.p, result);
    return run_fenced(s, "complete", &c, err);
}

int pg_fail_job(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                int64_t processing_ms, const char *message, int64_t retry_at,
                enum sl_job_status *became, struct sl_error *err)
{
    struct fenced_ctx c;
    fenced_init(&c,
                "UPDATE jobs SET attempts = attempts + 1,"
                " status = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'pending' END,"
                " completed_at = CASE WHEN attempts + 1 >= max_attempts THEN $3::bigint END,"
                " due_at = CASE WHEN attempts + 1 >= max_attempts THEN due_at ELSE $6::bigint END,"
                " processing_ms = $4::bigint, error = $5, lease_until = NULL"
                " WHERE id = $1 AND fence = $2::bigint AND status = 'processing' RETURNING status",
                id, fence);
    pg_p_i64(&c.p, now);
    pg_p_ms(&c.p, processing_ms);
    pg_p_text(&c.p, message);
    pg_p_i64(&c.p, retry_at);
    c.became = became;
    return run_fenced(s, "fail", &c, err);
}

int pg_release(struct sl_store *s, const char *id, int64_t fence, struct sl_error *err)
{
    struct fenced_ctx c;
    fenced_init(&c,
                "UPDATE jobs SET status = 'pending', lease_until = NULL"
                " WHERE id = $1 AND fence = $2::bigint AND status = 'processing' RETURNING status",
                id, fence);
    return run_fenced(s, "release", &c, err);
}
