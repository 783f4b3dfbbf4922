/*
 * The scheduler's side of the PostgreSQL store: cron slots and the next due time. A slot row is
 * inserted with ON CONFLICT DO NOTHING under the (path, slot_at) primary key, so of all the
 * nodes sharing the database exactly one sees its insert take effect and fires the slot (a
 * second inserter waits for the first to commit, then finds the key taken).
 */
#include "store/postgres_int.h"

static struct pg_store *cast(struct sl_store *s)
{
    return (struct pg_store *)s;
}

/* A query that reads one bigint into *out (0 for NULL or no row); text, if any, is its $1. */
struct value_ctx {
    const char *sql;
    const char *text; /* $1, when not NULL */
    int64_t *out;
};

static int value_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct value_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    if (c->text)
        pg_p_text(&p, c->text);
    int rc = pg_exec(tx, c->sql, &p, &r, err);
    if (rc == 0)
        *c->out = PQntuples(r) ? pg_i64(r, 0, 0) : 0;
    PQclear(r);
    return rc;
}

int pg_next_due(struct sl_store *s, int64_t *due_at, struct sl_error *err)
{
    static const struct pg_op op = {"next due", PG_READ, value_run, NULL};
    struct value_ctx c = {"SELECT min(due_at) FROM jobs WHERE status = 'pending'", NULL, due_at};
    *due_at = 0;
    return pg_run(cast(s), &op, &c, err);
}

int pg_cron_last_run(struct sl_store *s, const char *path, int64_t *at, struct sl_error *err)
{
    static const struct pg_op op = {"cron last run", PG_READ, value_run, NULL};
    struct value_ctx c = {"SELECT claimed_at FROM cron_slots WHERE path = $1 AND skipped = 0"
                          " ORDER BY slot_at DESC LIMIT 1", /* walks the key backwards */
                          path, at};
    *at = 0;
    return pg_run(cast(s), &op, &c, err);
}

struct slot_ctx {
    const char *path;
    int64_t slot_at;
    int64_t now;
    const char *node;
    int status;
    int64_t duration_ms;
    int skipped;
    int *won;
};

static int claim_slot_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct slot_ctx *c = ctx;
    struct pg_params p = {0};
    int64_t changed = 0;
    pg_p_text(&p, c->path);
    pg_p_i64(&p, c->slot_at);
    pg_p_i64(&p, c->now);
    pg_p_text(&p, c->node);
    int rc = pg_exec_cmd(tx,
                         "INSERT INTO cron_slots (path, slot_at, claimed_at, node)"
                         " VALUES ($1, $2::bigint, $3::bigint, $4) ON CONFLICT DO NOTHING",
                         &p, &changed, err);
    *c->won = rc == 0 && changed == 1;
    if (*c->won) { /* the winner forgets the path's slots older than the kept window */
        struct pg_params q = {0};
        pg_p_text(&q, c->path);
        pg_p_i64(&q, c->slot_at - SL_CRON_SLOT_KEEP_MS);
        rc = pg_exec(tx, "DELETE FROM cron_slots WHERE path = $1 AND slot_at < $2::bigint", &q,
                     NULL, err);
        if (rc)
            *c->won = 0;
    }
    return rc;
}

static void slot_undo(void *ctx)
{
    *((struct slot_ctx *)ctx)->won = 0;
}

int pg_cron_claim(struct sl_store *s, const char *path, int64_t slot_at, int64_t now,
                  const char *node, int *won, struct sl_error *err)
{
    static const struct pg_op op = {"cron claim", PG_WRITE, claim_slot_run, slot_undo};
    struct slot_ctx c = {.path = path, .slot_at = slot_at, .now = now, .node = node, .won = won};
    *won = 0;
    return pg_run(cast(s), &op, &c, err);
}

static int record_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct slot_ctx *c = ctx;
    struct pg_params p = {0};
    pg_p_text(&p, c->path);
    pg_p_i64(&p, c->slot_at);
    pg_p_i64(&p, c->status);
    pg_p_i64(&p, c->duration_ms);
    pg_p_i64(&p, c->skipped);
    return pg_exec(tx,
                   "UPDATE cron_slots SET status = $3::int, duration_ms = $4::bigint,"
                   " skipped = $5::int WHERE path = $1 AND slot_at = $2::bigint",
                   &p, NULL, err);
}

int pg_cron_record(struct sl_store *s, const char *path, int64_t slot_at, int status,
                   int64_t duration_ms, int skipped, struct sl_error *err)
{
    static const struct pg_op op = {"cron record", PG_WRITE, record_run, NULL};
    struct slot_ctx c = {.path = path,
                         .slot_at = slot_at,
                         .status = status,
                         .duration_ms = duration_ms,
                         .skipped = skipped};
    return pg_run(cast(s), &op, &c, err);
}
