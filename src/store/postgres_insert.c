/*
 * Inserting jobs into the PostgreSQL store, and the small files stored with them.
 *
 * All jobs of a call go in one INSERT (each column passed as one array parameter and unnested),
 * and each inline file in the same transaction, so the call stores everything or nothing and
 * its jobs touch the counters in one statement. No group commit of our own: PostgreSQL already
 * lets concurrent commits share a WAL flush.
 */
#include "store/postgres_int.h"

#include <stdlib.h>
#include <string.h>

#define INSERT_COLS 14

#define INSERT_SQL                                                                                 \
    "INSERT INTO jobs (id, upload_id, tenant, type, status, file_name, content_type, blob_key,"    \
    " size, sha256, attempts, max_attempts, created_at, due_at)"                                   \
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"            \
    " $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::int[], $12::int[],"      \
    " $13::bigint[], $14::bigint[])"

struct insert_ctx {
    const struct sl_job *jobs;
    size_t n;
    struct pg_array cols[INSERT_COLS];
};

/* Adds one job to the column arrays. */
static void add_job(struct pg_array *a, const struct sl_job *j)
{
    pg_array_text(&a[0], j->id);
    pg_array_text(&a[1], j->upload_id);
    pg_array_text(&a[2], j->tenant);
    pg_array_text(&a[3], j->type);
    pg_array_text(&a[4], sl_job_status_name(j->status));
    pg_array_text(&a[5], j->file_name);
    pg_array_text(&a[6], j->content_type);
    pg_array_text(&a[7], j->blob_key);
    pg_array_i64(&a[8], j->size);
    pg_array_text(&a[9], j->sha256);
    pg_array_i64(&a[10], j->attempts);
    pg_array_i64(&a[11], j->max_attempts);
    pg_array_i64(&a[12], j->created_at);
    pg_array_i64(&a[13], j->next_attempt_at ? j->next_attempt_at : j->created_at);
}

static int insert_inline(struct pg_tx *tx, const struct sl_job *j, struct sl_error *err)
{
    struct pg_params p = {0};
    pg_p_text(&p, j->id);
    pg_p_bytes(&p, j->inline_data, j->inline_len);
    return pg_exec(tx, "INSERT INTO blob_inline (job_id, data) VALUES ($1, $2::bytea)", &p, NULL,
                   err);
}

static int insert_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct insert_ctx *c = ctx;
    struct pg_params p = {0};
    for (int i = 0; i < INSERT_COLS; i++) {
        const char *text = pg_array_finish(&c->cols[i]);
        if (!text)
            return SL_ENOMEM;
        pg_p_text(&p, text);
    }
    int rc = pg_exec(tx, INSERT_SQL, &p, NULL, err);
    for (size_t i = 0; rc == 0 && i < c->n; i++)
        if (c->jobs[i].inline_data)
            rc = insert_inline(tx, &c->jobs[i], err);
    return rc;
}

int pg_insert_jobs(struct sl_store *s, const struct sl_job *jobs, size_t n, struct sl_error *err)
{
    static const struct pg_op op = {"insert jobs", PG_WRITE, insert_run, NULL};
    struct insert_ctx *c;
    int rc;

    if (n == 0)
        return 0;
    if (!(c = calloc(1, sizeof *c)))
        return SL_ENOMEM;
    c->jobs = jobs;
    c->n = n;
    for (int i = 0; i < INSERT_COLS; i++)
        pg_array_init(&c->cols[i]);
    for (size_t i = 0; i < n; i++)
        add_job(c->cols, &jobs[i]);
    rc = pg_run((struct pg_store *)s, &op, c, err);
    for (int i = 0; i < INSERT_COLS; i++)
        pg_array_fini(&c->cols[i]);
    free(c);
    return rc;
}

/* ---- inline files ---------------------------------------------------------------------- */

struct inline_ctx {
    const char *job_id;
    void **data;
    size_t *len;
};

static int inline_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct inline_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, c->job_id);
    p.result_format = 1; /* the bytes as they are */
    int rc = pg_exec(tx, "SELECT data FROM blob_inline WHERE job_id = $1", &p, &r, err);
    if (rc)
        return rc;
    if (PQntuples(r) == 1) {
        size_t n = (size_t)PQgetlength(r, 0, 0);
        *c->data = malloc(n ? n : 1);
        if (!*c->data)
            rc = SL_ENOMEM;
        else if (n)
            memcpy(*c->data, PQgetvalue(r, 0, 0), n);
        *c->len = rc ? 0 : n;
    } else {
        rc = sl_err_set(err, SL_ENOT_FOUND, "the job's file is missing");
    }
    PQclear(r);
    return rc;
}

static void inline_undo(void *ctx)
{
    struct inline_ctx *c = ctx;
    free(*c->data);
    *c->data = NULL;
    *c->len = 0;
}

int pg_read_inline(struct sl_store *s, const char *job_id, void **data, size_t *len,
                   struct sl_error *err)
{
    static const struct pg_op op = {"read inline file", PG_READ, inline_run, inline_undo};
    struct inline_ctx c = {job_id, data, len};
    *data = NULL;
    *len = 0;
    return pg_run((struct pg_store *)s, &op, &c, err);
}
