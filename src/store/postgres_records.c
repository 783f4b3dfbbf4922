/*
 * Imported records and row errors in the PostgreSQL store. An import writes in batches, each one
 * transaction and one statement: the batch's keys and texts travel as two array parameters.
 * Reads page by primary key.
 *
 * Upsert counts: a key new to the store counts as created, one already there as updated, and a
 * key repeated within a batch counts as updated for every repeat, the last text winning: the
 * same figures as applying the rows one by one (which is what the SQLite store does).
 * ON CONFLICT DO UPDATE cannot touch a row twice in one statement, so the batch is reduced to the
 * last text per key first; which rows were inserted is read from xmax (0 for a new row version
 * that no update or lock touched), the usual PostgreSQL idiom.
 */
#include "store/postgres_int.h"
#include "store/record_data.h"
#include "store/record_key.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define UPSERT_SQL                                                                                 \
    "WITH input AS ("                                                                              \
    "  SELECT k, d, o FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS u(k, d, o)),"         \
    " latest AS (SELECT DISTINCT ON (k) k, d FROM input ORDER BY k, o DESC),"                      \
    " up AS ("                                                                                     \
    "  INSERT INTO records AS r (tenant, type, key, data, job_id, created_at, updated_at)"         \
    "  SELECT $1, $2, k, d, $3, $6::bigint, $6::bigint FROM latest ORDER BY k"                     \
    "  ON CONFLICT (tenant, type, key) DO UPDATE SET data = EXCLUDED.data,"                        \
    "    job_id = EXCLUDED.job_id, updated_at = EXCLUDED.updated_at"                               \
    "  RETURNING (r.xmax = 0) AS created)"                                                         \
    " SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created),"                \
    "  (SELECT count(*) - count(DISTINCT k) FROM input) FROM up"

static struct pg_store *cast(struct sl_store *s)
{
    return (struct pg_store *)s;
}

struct upsert_ctx {
    const char *tenant, *type, *job_id;
    int64_t now;
    struct pg_array keys, data;
    int64_t created, updated;
};

static int upsert_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct upsert_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    const char *keys = pg_array_finish(&c->keys), *data = pg_array_finish(&c->data);
    if (!keys || !data)
        return SL_ENOMEM;
    pg_p_text(&p, c->tenant);
    pg_p_text(&p, c->type);
    pg_p_text(&p, c->job_id);
    pg_p_text(&p, keys);
    pg_p_text(&p, data);
    pg_p_i64(&p, c->now);
    int rc = pg_exec(tx, UPSERT_SQL, &p, &r, err);
    if (rc == 0) {
        c->created = pg_i64(r, 0, 0);
        c->updated = pg_i64(r, 0, 1) + pg_i64(r, 0, 2);
    }
    PQclear(r);
    return rc;
}

/* Adds a record's data to the array as an object: this store keeps objects (record_data.h). */
static int add_data(struct pg_array *a, const struct sl_record_cols *cols, const char *data,
                    struct sl_buf *tmp, struct sl_error *err)
{
    if (data[0] == '{') {
        pg_array_text(a, data);
        return 0;
    }
    sl_buf_reset(tmp);
    int rc = sl_record_data_expand(cols, data, tmp);
    if (rc)
        return sl_err_set(err, SL_EINVALID, "postgres: record values that do not fit the columns");
    pg_array_text(a, tmp->data);
    return 0;
}

int pg_upsert_records(struct sl_store *s, const char *tenant, const char *type, const char *job_id,
                      const char *columns, const struct sl_record_in *recs, size_t n, int64_t now,
                      int64_t *created, int64_t *updated, struct sl_error *err)
{
    static const struct pg_op op = {"upsert records", PG_WRITE, upsert_run, NULL};
    struct upsert_ctx c = {.tenant = tenant, .type = type, .job_id = job_id, .now = now};
    struct sl_record_cols *cols = NULL;
    struct sl_buf tmp;
    int rc = 0;

    if (n == 0)
        return 0;
    if (columns && (rc = sl_record_cols_new(columns, &cols)) != 0)
        return sl_err_set(err, rc, "postgres: the records' columns are not a list of names");
    sl_buf_init(&tmp, SIZE_MAX);
    pg_array_init(&c.keys);
    pg_array_init(&c.data);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        pg_array_text(&c.keys, recs[i].key);
        rc = add_data(&c.data, cols, recs[i].data, &tmp, err);
    }
    if (rc == 0)
        rc = pg_run(cast(s), &op, &c, err);
    pg_array_fini(&c.keys);
    pg_array_fini(&c.data);
    sl_buf_fini(&tmp);
    sl_record_cols_free(cols);
    if (rc == 0) {
        *created += c.created;
        *updated += c.updated;
    }
    return rc;
}

/* ---- row errors ------------------------------------------------------------------------ */

struct row_errors_ctx {
    const char *job_id;
    int64_t first_seq;
    struct pg_array rows, fields, values, messages;
};

static int add_errors_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct row_errors_ctx *c = ctx;
    struct pg_params p = {0};
    const char *arrays[4] = {pg_array_finish(&c->rows), pg_array_finish(&c->fields),
                             pg_array_finish(&c->values), pg_array_finish(&c->messages)};
    pg_p_text(&p, c->job_id);
    pg_p_i64(&p, c->first_seq);
    for (int i = 0; i < 4; i++) {
        if (!arrays[i])
            return SL_ENOMEM;
        pg_p_text(&p, arrays[i]);
    }
    return pg_exec(
        tx,
        "INSERT INTO row_errors (job_id, seq, row, field, value, message)"
        " SELECT $1, $2::bigint + o - 1, r, f, v, m"
        " FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY"
        " AS u(r, f, v, m, o)"
        " ON CONFLICT (job_id, seq) DO UPDATE SET row = EXCLUDED.row, field = EXCLUDED.field,"
        " value = EXCLUDED.value, message = EXCLUDED.message",
        &p, NULL, err);
}

int pg_add_row_errors(struct sl_store *s, const char *job_id, int64_t first_seq,
                      const struct sl_row_error *errs, size_t n, struct sl_error *err)
{
    static const struct pg_op op = {"add row errors", PG_WRITE, add_errors_run, NULL};
    struct row_errors_ctx c = {.job_id = job_id, .first_seq = first_seq};
    if (n == 0)
        return 0;
    pg_array_init(&c.rows);
    pg_array_init(&c.fields);
    pg_array_init(&c.values);
    pg_array_init(&c.messages);
    for (size_t i = 0; i < n; i++) {
        pg_array_i64(&c.rows, errs[i].row);
        pg_array_text(&c.fields, errs[i].field);
        pg_array_text(&c.values, errs[i].value);
        pg_array_text(&c.messages, errs[i].message ? errs[i].message : "");
    }
    int rc = pg_run(cast(s), &op, &c, err);
    pg_array_fini(&c.rows);
    pg_array_fini(&c.fields);
    pg_array_fini(&c.values);
    pg_array_fini(&c.messages);
    return rc;
}

static int clear_errors_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct pg_params p = {0};
    pg_p_text(&p, ctx);
    return pg_exec(tx, "DELETE FROM row_errors WHERE job_id = $1", &p, NULL, err);
}

int pg_clear_row_errors(struct sl_store *s, const char *job_id, struct sl_error *err)
{
    static const struct pg_op op = {"clear row errors", PG_WRITE, clear_errors_run, NULL};
    return pg_run(cast(s), &op, (void *)job_id, err);
}

struct list_errors_ctx {
    const char *job_id;
    int64_t after_seq;
    int limit;
    struct sl_row_error_out **out;
    size_t *n;
    int64_t *next_seq;
};

static int list_errors_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct list_errors_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, c->job_id);
    pg_p_i64(&p, c->after_seq);
    pg_p_i64(&p, c->limit + 1);
    int rc = pg_exec(tx,
                     "SELECT seq, row, field, value, message FROM row_errors"
                     " WHERE job_id = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::int",
                     &p, &r, err);
    if (rc)
        return rc;
    int rows = PQntuples(r) > c->limit ? c->limit : PQntuples(r);
    if (rows > 0 && !(*c->out = calloc((size_t)rows, sizeof **c->out)))
        rc = SL_ENOMEM;
    for (int i = 0; rc == 0 && i < rows; i++) {
        struct sl_row_error_out *e = &(*c->out)[(*c->n)++];
        e->seq = pg_i64(r, i, 0);
        e->row = pg_i64(r, i, 1);
        e->field = pg_strdup(r, i, 2);
        e->value = pg_strdup(r, i, 3);
        e->message = pg_strdup(r, i, 4);
        if (!e->message)
            rc = SL_ENOMEM;
    }
    if (rc == 0 && *c->n > 0 && PQntuples(r) > c->limit)
        *c->next_seq = (*c->out)[*c->n - 1].seq;
    PQclear(r);
    return rc;
}

static void list_errors_undo(void *ctx)
{
    struct list_errors_ctx *c = ctx;
    sl_row_errors_free(*c->out, *c->n);
    *c->out = NULL;
    *c->n = 0;
    *c->next_seq = 0;
}

int pg_list_row_errors(struct sl_store *s, const char *job_id, int64_t after_seq, int limit,
                       struct sl_row_error_out **out, size_t *n, int64_t *next_seq,
                       struct sl_error *err)
{
    static const struct pg_op op = {"list row errors", PG_READ, list_errors_run, list_errors_undo};
    struct list_errors_ctx c = {job_id, after_seq, limit, out, n, next_seq};
    *out = NULL;
    *n = 0;
    *next_seq = 0;
    return pg_run(cast(s), &op, &c, err);
}

/* ---- records --------------------------------------------------------------------------- */

static int fill_record(const PGresult *r, int row, struct sl_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->key = pg_strdup(r, row, 0);
    rec->data = pg_strdup(r, row, 1);
    pg_copy(r, row, 2, rec->job_id, sizeof rec->job_id);
    rec->created_at = pg_i64(r, row, 3);
    rec->updated_at = pg_i64(r, row, 4);
    return rec->key && rec->data ? 0 : SL_ENOMEM;
}

struct records_ctx {
    const char *tenant, *type, *key; /* key: the one to get, or the one to list after */
    int limit;
    struct sl_record **out;
    size_t *n;
    int *more;
    struct sl_record *one;
};

/* Listing order (record_key.h), as the records_order index has it. */
#define RECORD_ORDER "sluice_key_head(key) COLLATE \"C\", sluice_key_num(key)"

static int list_records_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    static const char first_sql[] = "SELECT key, data, job_id, created_at, updated_at FROM records"
                                    " WHERE tenant = $1 AND type = $2"
                                    " ORDER BY " RECORD_ORDER " LIMIT $3::int";
    static const char after_sql[] = "SELECT key, data, job_id, created_at, updated_at FROM records"
                                    " WHERE tenant = $1 AND type = $2"
                                    " AND (" RECORD_ORDER ") > ($4::text COLLATE \"C\", $5::bigint)"
                                    " ORDER BY " RECORD_ORDER " LIMIT $3::int";
    struct records_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    char *head = NULL;
    int64_t num = 0;
    pg_p_text(&p, c->tenant);
    pg_p_text(&p, c->type);
    pg_p_i64(&p, c->limit + 1);
    if (c->key) {
        size_t len = strlen(c->key), head_len = sl_record_key_split(c->key, len, &num);
        if (!(head = strndup(c->key, head_len)))
            return SL_ENOMEM;
        pg_p_text(&p, head);
        pg_p_i64(&p, num);
    }
    int rc = pg_exec(tx, c->key ? after_sql : first_sql, &p, &r, err);
    free(head);
    if (rc)
        return rc;
    if (!(*c->out = calloc((size_t)c->limit + 1, sizeof **c->out)))
        rc = SL_ENOMEM;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        if (i == c->limit) {
            *c->more = 1;
            break;
        }
        rc = fill_record(r, i, &(*c->out)[(*c->n)++]);
    }
    PQclear(r);
    return rc;
}

static void list_records_undo(void *ctx)
{
    struct records_ctx *c = ctx;
    sl_records_free(*c->out, *c->n);
    *c->out = NULL;
    *c->n = 0;
    *c->more = 0;
}

int pg_list_records(struct sl_store *s, const char *tenant, const char *type, const char *after_key,
                    int limit, struct sl_record **out, size_t *n, int *more, struct sl_error *err)
{
    static const struct pg_op op = {"list records", PG_READ, list_records_run, list_records_undo};
    struct records_ctx c = {tenant, type, after_key, limit, out, n, more, NULL};
    *out = NULL;
    *n = 0;
    *more = 0;
    return pg_run(cast(s), &op, &c, err);
}

static int get_record_run(struct pg_tx *tx, void *ctx, struct sl_error *err)
{
    struct records_ctx *c = ctx;
    struct pg_params p = {0};
    PGresult *r;
    pg_p_text(&p, c->tenant);
    pg_p_text(&p, c->type);
    pg_p_text(&p, c->key);
    int rc = pg_exec(tx,
                     "SELECT key, data, job_id, created_at, updated_at FROM records"
                     " WHERE tenant = $1 AND type = $2 AND key = $3",
                     &p, &r, err);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        rc = fill_record(r, 0, c->one);
    else
        rc = sl_err_set(err, SL_ENOT_FOUND, "no %s record with that key", c->type);
    PQclear(r);
    return rc;
}

static void get_record_undo(void *ctx)
{
    sl_record_fini(((struct records_ctx *)ctx)->one);
}

int pg_get_record(struct sl_store *s, const char *tenant, const char *type, const char *key,
                  struct sl_record *out, struct sl_error *err)
{
    static const struct pg_op op = {"get record", PG_READ, get_record_run, get_record_undo};
    struct records_ctx c = {.tenant = tenant, .type = type, .key = key, .one = out};
    memset(out, 0, sizeof *out);
    return pg_run(cast(s), &op, &c, err);
}
