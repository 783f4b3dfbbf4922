/*
 * The PostgreSQL job store: opening, the schema, reading jobs, retry and cancel. See postgres.h
 * for the model, store.h for the semantics every operation keeps, and postgres_pool.c for how an
 * operation runs (pool, transaction, reconnect).
 *
 * Each operation here is a context struct (its inputs and outputs), a run function that may be
 * called more than once, and an undo that empties the outputs of an abandoned run.
 */
#include "store/postgres.h"
#include "store/postgres_int.h"
#include "store/postgres_schema.h"

#include <stdlib.h>
#include <string.h>

static struct pg_store *cast(struct sl_store *s)
{
    return (struct pg_store *)s;
}

/* ---- schema ---------------------------------------------------------------------------- */

static int migrate_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    const int latest = (int)(sizeof sl_postgres_migrations / sizeof sl_postgres_migrations[0]);
    PGresult *r;
    int rc, version;
    (void)ctx;
    if ((rc = pg_exec_script(tx, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", err)) ||
        (rc = pg_exec_script(tx,
                             "CREATE TABLE IF NOT EXISTS schema_migrations ("
                             " version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
                             err)) ||
        (rc =
             pg_exec(tx, "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL, &r, err)))
        return rc;
    version = (int)pg_i64(r, 0, 0);
    PQclear(r);
    if (version > latest)
        return sl_err_set(err, SL_ESTORE,
                          "postgres: the database is at schema version %d, newer than this "
                          "sluice (%d); upgrade sluice",
                          version, latest);
    for (int v = version; rc == 0 && v < latest; v++) {
        struct pg_params p = {0};
        pg_p_i64(&p, v + 1);
        if ((rc = pg_exec_script(tx, sl_postgres_migrations[v], err)) == 0)
            rc = pg_exec_cmd(tx,
                             "INSERT INTO schema_migrations (version, applied_at) VALUES"
                             " ($1::int, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
                             &p, NULL, err);
    }
    return rc;
}

static int pg_migrate(struct sl_store *s, struct sl_error *err)
{
    static const struct pg_op op = {"migrate", PG_WRITE, migrate_run, NULL};
    return pg_run(cast(s), &op, NULL, err);
}

/* ---- reads ----------------------------------------------------------------------------- */

/* Reads one job by id into out: SL_ENOT_FOUND when there is none. */
static int read_job(struct pg_tx *tx, const char *id, struct sl_job *out, struct sl_error *err)
{
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, id);
    int rc = pg_exec(tx, "SELECT " PG_JOB_COLS " FROM jobs WHERE id = $1", &p, &r, err);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        rc = pg_row_to_job(r, 0, 0, out);
    else
        rc = sl_err_set(err, SL_ENOT_FOUND, "no job with id '%.40s'", id);
    PQclear(r);
    return rc;
}

struct job_ctx {
    const char *id;
    int64_t now;
    struct sl_job *out;
};

static int get_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct job_ctx *c = ctx;
    return read_job(tx, c->id, c->out, err);
}

static void job_undo(void *ctx)
{
    sl_job_fini(((struct job_ctx *)ctx)->out);
}

static int pg_get_job(struct sl_store *s, const char *id, struct sl_job *out, struct sl_error *err)
{
    static const struct pg_op op = {"get job", PG_READ, get_run, job_undo};
    struct job_ctx c = {.id = id, .out = out};
    memset(out, 0, sizeof *out);
    return pg_run(cast(s), &op, &c, err);
}

struct list_ctx {
    const struct sl_job_filter *f;
    struct sl_job **jobs;
    size_t *n;
    char *next_cursor;
};

static int list_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct list_ctx *c = ctx;
    const struct sl_job_filter *f = c->f;
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, f->status);
    pg_p_text(&p, f->type);
    pg_p_text(&p, f->tenant);
    if (f->cursor_id[0]) {
        pg_p_i64(&p, f->cursor_created_at);
        pg_p_text(&p, f->cursor_id);
    } else {
        pg_p_text(&p, NULL);
        pg_p_text(&p, NULL);
    }
    pg_p_i64(&p, f->limit + 1); /* one more tells whether a next page exists */
    int rc = pg_exec(tx,
                     "SELECT " PG_JOB_COLS " FROM jobs WHERE ($1::text IS NULL OR status = $1)"
                     " AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR tenant = $3)"
                     " AND ($4::bigint IS NULL OR created_at < $4"
                     "      OR (created_at = $4 AND id < $5::text))"
                     " ORDER BY created_at DESC, id DESC LIMIT $6::int",
                     &p, &r, err);
    if (rc)
        return rc;
    rc = pg_rows_to_jobs(r, (size_t)f->limit, c->jobs, c->n);
    if (rc == 0 && PQntuples(r) > f->limit) {
        const struct sl_job *last = &(*c->jobs)[*c->n - 1];
        sl_cursor_format(last->created_at, last->id, c->next_cursor);
    }
    PQclear(r);
    return rc;
}

static void list_undo(void *ctx)
{
    struct list_ctx *c = ctx;
    sl_jobs_free(*c->jobs, *c->n);
    *c->jobs = NULL;
    *c->n = 0;
    c->next_cursor[0] = '\0';
}

static int pg_list_jobs(struct sl_store *s, const struct sl_job_filter *f, struct sl_job **jobs,
                        size_t *n, char next_cursor[SL_CURSOR_MAX], struct sl_error *err)
{
    static const struct pg_op op = {"list jobs", PG_READ, list_run, list_undo};
    struct list_ctx c = {f, jobs, n, next_cursor};
    *jobs = NULL;
    *n = 0;
    next_cursor[0] = '\0';
    return pg_run(cast(s), &op, &c, err);
}

/* ---- retry and cancel ------------------------------------------------------------------ */

/* Why a guarded change did not apply: the job is missing, or in another state. */
static int missing_or_conflict(struct pg_tx *tx, const char *id, const char *rule,
                               struct sl_error *err)
{
    struct sl_job job;
    int rc = read_job(tx, id, &job, err);
    if (rc)
        return rc;
    rc =
        sl_err_set(err, SL_ECONFLICT, "job %s is %s; %s", id, sl_job_status_name(job.status), rule);
    sl_job_fini(&job);
    return rc;
}

/* Runs a statement that changes one job and RETURNs it; no row: missing or conflict. */
static int change_one(struct pg_tx *tx, const char *sql, struct pg_params *p, struct job_ctx *c,
                      const char *rule, struct sl_error *err)
{
    PGresult *r;
    int rc = pg_exec(tx, sql, p, &r, err);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        rc = pg_row_to_job(r, 0, 0, c->out);
    else
        rc = missing_or_conflict(tx, c->id, rule, err);
    PQclear(r);
    return rc;
}

static int retry_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct job_ctx *c = ctx;
    struct pg_params p = {0};
    pg_p_text(&p, c->id);
    pg_p_i64(&p, c->now);
    return change_one(tx,
                      "UPDATE jobs SET status = 'pending', attempts = 0, due_at = $2::bigint,"
                      " completed_at = NULL, lease_until = NULL"
                      " WHERE id = $1 AND status = 'failed' RETURNING " PG_JOB_COLS,
                      &p, c, "only a failed job can be changed this way", err);
}

static int pg_retry_job(struct sl_store *s, const char *id, int64_t now, struct sl_job *out,
                        struct sl_error *err)
{
    static const struct pg_op op = {"retry job", PG_WRITE, retry_run, job_undo};
    struct job_ctx c = {.id = id, .now = now, .out = out};
    memset(out, 0, sizeof *out);
    return pg_run(cast(s), &op, &c, err);
}

static int cancel_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct job_ctx *c = ctx;
    struct pg_params p = {0};
    pg_p_text(&p, c->id);
    int rc = change_one(
        tx, "DELETE FROM jobs WHERE id = $1 AND status = 'pending' RETURNING " PG_JOB_COLS, &p, c,
        "only a pending job can be cancelled", err);
    if (rc == 0) {
        pg_p_text(&p, c->id);
        rc = pg_exec_cmd(tx, "DELETE FROM blob_inline WHERE job_id = $1", &p, NULL, err);
    }
    return rc;
}

static int pg_cancel_job(struct sl_store *s, const char *id, struct sl_job *out,
                         struct sl_error *err)
{
    static const struct pg_op op = {"cancel job", PG_WRITE, cancel_run, job_undo};
    struct job_ctx c = {.id = id, .out = out};
    memset(out, 0, sizeof *out);
    return pg_run(cast(s), &op, &c, err);
}

static int ping_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    (void)ctx;
    return pg_exec(tx, "SELECT 1 FROM jobs LIMIT 1", NULL, NULL, err);
}

static int pg_ping(struct sl_store *s, struct sl_error *err)
{
    static const struct pg_op op = {"ping", PG_READ, ping_run, NULL};
    return pg_run(cast(s), &op, NULL, err);
}

/* ---- the store ------------------------------------------------------------------------- */

static void pg_close(struct sl_store *s)
{
    struct pg_store *ps = cast(s);
    pg_watch_stop(ps);
    pg_pool_fini(ps);
    free(ps->url);
    free(ps);
}

static const struct sl_store_ops postgres_ops = {
    .name = "postgres",
    .migrate = pg_migrate,
    .insert_jobs = pg_insert_jobs,
    .read_inline = pg_read_inline,
    .release_expired = pg_release_expired,
    .claim = pg_claim,
    .heartbeat = pg_heartbeat,
    .complete = pg_complete,
    .fail = pg_fail_job,
    .release = pg_release,
    .get_job = pg_get_job,
    .list_jobs = pg_list_jobs,
    .retry_job = pg_retry_job,
    .cancel_job = pg_cancel_job,
    .queue_status = pg_queue_status,
    .stats = pg_stats,
    .count_due = pg_count_due,
    .ping = pg_ping,
    .next_due = pg_next_due,
    .cron_claim = pg_cron_claim,
    .cron_record = pg_cron_record,
    .cron_last_run = pg_cron_last_run,
    .progress = pg_progress,
    .upsert_records = pg_upsert_records,
    .add_row_errors = pg_add_row_errors,
    .clear_row_errors = pg_clear_row_errors,
    .list_row_errors = pg_list_row_errors,
    .list_records = pg_list_records,
    .get_record = pg_get_record,
    .close = pg_close,
    .watch = pg_watch_changes,
    .count_jobs = pg_count_jobs,
};

int sl_store_postgres_open(const char *url, struct sl_store **out, struct sl_error *err)
{
    struct pg_store *ps;
    int rc;

    *out = NULL;
    ps = calloc(1, sizeof *ps);
    if (!ps)
        return SL_ENOMEM;
    ps->base.ops = &postgres_ops;
    pg_pool_init(ps);
    if (!(ps->url = strdup(url))) {
        rc = SL_ENOMEM;
        goto out;
    }
    /* The first operation opens a connection: a wrong URL or an unreachable server fails here. */
    if ((rc = pg_migrate(&ps->base, err)) != 0)
        goto out;
    *out = &ps->base;
out:
    if (rc)
        pg_close(&ps->base);
    return rc;
}
