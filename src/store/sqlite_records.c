/*
 * Imported records and row errors in the SQLite store. Writes come in batches from an import
 * (one transaction per batch, so a large file commits in steps and a crash loses at most the
 * batch in flight: re-running the job rewrites the same keys), each taken with sq_write_lock so
 * that the process's reads go on while another process holds the file. Reads page by primary
 * key.
 */
#include "store/record_data.h"
#include "store/record_key.h"
#include "store/sqlite_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A record row (schema 6): the (tenant, type) as its record_spaces id, the key as its head and
 * number (record_key.h), the job as its record_jobs id.
 *
 * Upserts run in chunks of UPSERT_CHUNK rows, one INSERT OR IGNORE of many rows each: a chunk of
 * new keys (a first import) costs one statement, and its rows, when they follow the last key
 * (an import's `<jobId>:<row>` keys do), go onto the b-tree's last page without a search from
 * the root. sqlite3_changes() then tells how many of the chunk's rows were inserted, and a row
 * is inserted exactly when its key was new at its turn (rows go in in order, so a key repeated
 * in the chunk is new once): the same count as applying the rows one by one. When some were not
 * new, every row of the chunk is then written again by an UPDATE, in order: the inserted ones
 * get the same values again, the others their new ones, and a repeated key ends with its last
 * text, as one by one. The last rows, fewer than a chunk, go one by one.
 * Parameters: ?1 space, ?2 job, ?3 now, then key head, key number and text per row.
 */
#define UPSERT_CHUNK 16

// clang-format off
#define ROW_(h, n, d) "(?1, ?" #h ", ?" #n ", ?" #d ", ?2, ?3, ?3)"
static const char insert_chunk_sql[] =
    "INSERT OR IGNORE INTO records"
    " (space, key_head, key_num, data, job, created_at, updated_at) VALUES "
    ROW_(4, 5, 6) "," ROW_(7, 8, 9) "," ROW_(10, 11, 12) "," ROW_(13, 14, 15) ","
    ROW_(16, 17, 18) "," ROW_(19, 20, 21) "," ROW_(22, 23, 24) "," ROW_(25, 26, 27) ","
    ROW_(28, 29, 30) "," ROW_(31, 32, 33) "," ROW_(34, 35, 36) "," ROW_(37, 38, 39) ","
    ROW_(40, 41, 42) "," ROW_(43, 44, 45) "," ROW_(46, 47, 48) "," ROW_(49, 50, 51);
static const char insert_one_sql[] =
    "INSERT OR IGNORE INTO records"
    " (space, key_head, key_num, data, job, created_at, updated_at) VALUES " ROW_(4, 5, 6);
#undef ROW_
// clang-format on
static const char update_sql[] = "UPDATE records SET data = ?6, job = ?2, updated_at = ?3"
                                 " WHERE space = ?1 AND key_head = ?4 AND key_num = ?5";

static const char space_add_sql[] =
    "INSERT OR IGNORE INTO record_spaces (tenant, type) VALUES (?1, ?2)";
static const char space_id_sql[] = "SELECT id FROM record_spaces WHERE tenant = ?1 AND type = ?2";
/* A job's columns are the same in every batch: the file's header. */
static const char job_add_sql[] =
    "INSERT INTO record_jobs (job_id, columns) VALUES (?1, ?2)"
    " ON CONFLICT (job_id) DO UPDATE SET columns = excluded.columns"
    " WHERE excluded.columns IS NOT NULL AND columns IS NOT excluded.columns";
static const char job_id_sql[] = "SELECT id FROM record_jobs WHERE job_id = ?1";

/*
 * The id of a row of a small lookup table (record_spaces, record_jobs) keyed by a, with b (may
 * be NULL), made or updated by add_sql: inside the caller's write transaction.
 */
static int lookup_id(struct sqlite_store *ss, const char *add_sql, const char *id_sql,
                     const char *a, const char *b, int64_t *id, struct sl_error *err)
{
    const char *sqls[2] = {add_sql, id_sql};
    int rc = 0;
    for (int i = 0; rc == 0 && i < 2; i++) {
        sqlite3_stmt *st = NULL;
        if ((rc = sq_prepare(ss, sqls[i], &st, err)) != 0)
            break;
        sq_bind_text(st, 1, a);
        if (i == 0 || sqlite3_bind_parameter_count(st) == 2)
            sq_bind_text(st, 2, b);
        int r = sqlite3_step(st);
        if (i == 1 && r == SQLITE_ROW)
            *id = sqlite3_column_int64(st, 0);
        else if (r != (i == 0 ? SQLITE_DONE : SQLITE_ROW))
            rc = sq_db_fail(ss, err, "record lookup");
        sq_finalize(ss, st);
    }
    return rc;
}

/* Binds a key's parts at ?i and ?i+1 (the key outlives the statement's use). */
static void bind_key(sqlite3_stmt *st, int i, const char *key)
{
    int64_t num;
    size_t len = strlen(key), head = sl_record_key_split(key, len, &num);
    sqlite3_bind_text(st, i, key, (int)head, SQLITE_STATIC);
    sqlite3_bind_int64(st, i + 1, num);
}

/* Binds one row's key parts and text at ?first.. (the strings outlive the step). */
static void bind_row(sqlite3_stmt *st, int first, const struct sl_record_in *rec)
{
    bind_key(st, first, rec->key);
    sqlite3_bind_text(st, first + 2, rec->data, -1, SQLITE_STATIC);
}

/* Binds what every row of a batch shares. */
static void bind_batch(sqlite3_stmt *st, int64_t space, int64_t job, int64_t now)
{
    sqlite3_bind_int64(st, 1, space);
    sqlite3_bind_int64(st, 2, job);
    sqlite3_bind_int64(st, 3, now);
}

/* Runs st for one row; 0 or SL_ESTORE. */
static int step_row(struct sqlite_store *ss, sqlite3_stmt *st, const struct sl_record_in *rec,
                    struct sl_error *err)
{
    sqlite3_reset(st);
    bind_row(st, 4, rec);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sq_db_fail(ss, err, "record upsert");
}

/* One chunk of UPSERT_CHUNK rows. */
static int upsert_chunk(struct sqlite_store *ss, sqlite3_stmt *many, sqlite3_stmt *upd,
                        const struct sl_record_in *recs, int64_t *created, int64_t *updated,
                        struct sl_error *err)
{
    sqlite3_reset(many);
    for (int j = 0; j < UPSERT_CHUNK; j++)
        bind_row(many, 4 + 3 * j, &recs[j]);
    if (sqlite3_step(many) != SQLITE_DONE)
        return sq_db_fail(ss, err, "record upsert");
    int inserted = sqlite3_changes(ss->db), rc = 0;
    *created += inserted;
    *updated += UPSERT_CHUNK - inserted;
    for (int j = 0; rc == 0 && inserted < UPSERT_CHUNK && j < UPSERT_CHUNK; j++)
        rc = step_row(ss, upd, &recs[j], err);
    return rc;
}

/* One row: inserted, or else updated. */
static int upsert_one(struct sqlite_store *ss, sqlite3_stmt *ins, sqlite3_stmt *upd,
                      const struct sl_record_in *rec, int64_t *created, int64_t *updated,
                      struct sl_error *err)
{
    int rc = step_row(ss, ins, rec, err);
    if (rc == 0 && sqlite3_changes(ss->db) == 1) {
        (*created)++;
        return 0;
    }
    if (rc == 0 && (rc = step_row(ss, upd, rec, err)) == 0) {
        if (sqlite3_changes(ss->db) != 1)
            return sl_err_set(err, SL_ESTORE, "sqlite: record neither inserted nor updated");
        (*updated)++;
    }
    return rc;
}

int sq_upsert_records(struct sl_store *s, const char *tenant, const char *type, const char *job_id,
                      const char *columns, const struct sl_record_in *recs, size_t n, int64_t now,
                      int64_t *created, int64_t *updated, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *many = NULL, *ins = NULL, *upd = NULL;
    int64_t c = 0, u = 0, space = 0, job = 0;
    size_t i = 0;
    int rc;

    for (size_t k = 0; !columns && k < n; k++) /* values cannot be read back without names */
        if (recs[k].data[0] != '{')
            return sl_err_set(err, SL_EINVALID, "sqlite: record '%.100s' has values but no columns",
                              recs[k].key);
    if ((rc = sq_write_lock(ss, err)) != 0 ||
        (rc = lookup_id(ss, space_add_sql, space_id_sql, tenant, type, &space, err)) != 0 ||
        (rc = lookup_id(ss, job_add_sql, job_id_sql, job_id, columns, &job, err)) != 0 ||
        (rc = sq_prepare(ss, insert_chunk_sql, &many, err)) != 0 ||
        (rc = sq_prepare(ss, insert_one_sql, &ins, err)) != 0 ||
        (rc = sq_prepare(ss, update_sql, &upd, err)) != 0)
        goto out;
    bind_batch(many, space, job, now);
    bind_batch(ins, space, job, now);
    bind_batch(upd, space, job, now);
    for (; rc == 0 && i + UPSERT_CHUNK <= n; i += UPSERT_CHUNK)
        rc = upsert_chunk(ss, many, upd, recs + i, &c, &u, err);
    for (; rc == 0 && i < n; i++)
        rc = upsert_one(ss, ins, upd, &recs[i], &c, &u, err);
out:
    sq_finalize(ss, many);
    sq_finalize(ss, ins);
    sq_finalize(ss, upd);
    rc = sq_write_unlock(ss, rc, err);
    if (rc == 0) {
        *created += c;
        *updated += u;
    }
    return rc;
}

int sq_add_row_errors(struct sl_store *s, const char *job_id, int64_t first_seq,
                      const struct sl_row_error *errs, size_t n, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st = NULL;
    int rc;

    if ((rc = sq_write_lock(ss, err)) != 0 ||
        (rc = sq_prepare(ss,
                         "INSERT OR REPLACE INTO row_errors (job_id, seq, row, field, value,"
                         " message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         &st, err)) != 0)
        goto out;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_reset(st);
        sq_bind_text(st, 1, job_id);
        sqlite3_bind_int64(st, 2, first_seq + (int64_t)i);
        sqlite3_bind_int64(st, 3, errs[i].row);
        sq_bind_text(st, 4, errs[i].field);
        sq_bind_text(st, 5, errs[i].value);
        sq_bind_text(st, 6, errs[i].message);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sq_db_fail(ss, err, "row error insert");
    }
out:
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

int sq_clear_row_errors(struct sl_store *s, const char *job_id, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st = NULL;
    int rc = sq_write_lock(ss, err);
    if (rc == 0 &&
        (rc = sq_prepare(ss, "DELETE FROM row_errors WHERE job_id = ?1", &st, err)) == 0) {
        sq_bind_text(st, 1, job_id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sq_db_fail(ss, err, "row error delete");
    }
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

static int push_error(sqlite3_stmt *st, struct sl_row_error_out **out, size_t *n)
{
    struct sl_row_error_out *grown = realloc(*out, (*n + 1) * sizeof *grown);
    if (!grown)
        return SL_ENOMEM;
    *out = grown;
    struct sl_row_error_out *e = &grown[*n];
    e->seq = sqlite3_column_int64(st, 0);
    e->row = sqlite3_column_int64(st, 1);
    e->field = sq_col_strdup(st, 2);
    e->value = sq_col_strdup(st, 3);
    e->message = sq_col_strdup(st, 4);
    (*n)++;
    return e->message ? 0 : SL_ENOMEM;
}

int sq_list_row_errors(struct sl_store *s, const char *job_id, int64_t after_seq, int limit,
                       struct sl_row_error_out **out, size_t *n, int64_t *next_seq,
                       struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    *next_seq = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss,
                        "SELECT seq, row, field, value, message FROM row_errors"
                        " WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, job_id);
        sqlite3_bind_int64(st, 2, after_seq);
        sqlite3_bind_int(st, 3, limit + 1);
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            if (*n == (size_t)limit) {
                *next_seq = (*out)[*n - 1].seq;
                break;
            }
            rc = push_error(st, out, n);
        }
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    if (rc) {
        sl_row_errors_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* The key of a result row from its head (column 0) and number (column 1). */
static char *col_key(sqlite3_stmt *st)
{
    const char *head = (const char *)sqlite3_column_text(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    return head ? sl_record_key_join(head, len, sqlite3_column_int64(st, 1)) : NULL;
}

/* The column lists of the jobs a page's records came from, parsed once per job per page. */
struct cols_cache {
    int64_t job;
    struct sl_record_cols *cols;
};

/* The record's data as an object: its text, or its values under its job's columns (column 6). */
static int col_data(sqlite3_stmt *st, struct cols_cache *cache, char **out)
{
    const char *data = (const char *)sqlite3_column_text(st, 2);
    *out = NULL;
    if (!data)
        return SL_ENOMEM;
    if (data[0] == '{')
        return (*out = strdup(data)) ? 0 : SL_ENOMEM;
    int64_t job = sqlite3_column_int64(st, 7);
    const char *columns = (const char *)sqlite3_column_text(st, 6);
    if (cache->job != job || !cache->cols) {
        sl_record_cols_free(cache->cols);
        cache->cols = NULL;
        cache->job = job;
        int rc = columns ? sl_record_cols_new(columns, &cache->cols) : SL_EINVALID;
        if (rc)
            return rc;
    }
    struct sl_buf b;
    sl_buf_init(&b, SIZE_MAX);
    int rc = sl_record_data_expand(cache->cols, data, &b);
    if (rc) {
        sl_buf_fini(&b);
        return rc;
    }
    *out = b.data;
    return 0;
}

static int fill_record(sqlite3_stmt *st, struct cols_cache *cache, struct sl_record *r)
{
    memset(r, 0, sizeof *r);
    r->key = col_key(st);
    int rc = col_data(st, cache, &r->data);
    sq_col_copy(st, 3, r->job_id, sizeof r->job_id);
    r->created_at = sqlite3_column_int64(st, 4);
    r->updated_at = sqlite3_column_int64(st, 5);
    return rc ? rc : r->key ? 0 : SL_ENOMEM;
}

#define RECORD_COLS                                                                                \
    "SELECT r.key_head, r.key_num, r.data, j.job_id, r.created_at, r.updated_at, j.columns, r.job" \
    " FROM records r JOIN record_jobs j ON j.id = r.job"                                           \
    " WHERE r.space = (SELECT id FROM record_spaces WHERE tenant = ?1 AND type = ?2)"

int sq_list_records(struct sl_store *s, const char *tenant, const char *type, const char *after_key,
                    int limit, struct sl_record **out, size_t *n, int *more, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    static const char first_sql[] = RECORD_COLS " ORDER BY r.key_head, r.key_num LIMIT ?5";
    static const char after_sql[] = RECORD_COLS " AND (r.key_head, r.key_num) > (?3, ?4)"
                                                " ORDER BY r.key_head, r.key_num LIMIT ?5";
    sqlite3_stmt *st;
    struct cols_cache cache = {0};
    *out = NULL;
    *n = 0;
    *more = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss, after_key ? after_sql : first_sql, &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, tenant);
        sq_bind_text(st, 2, type);
        if (after_key)
            bind_key(st, 3, after_key);
        sqlite3_bind_int(st, 5, limit + 1);
        *out = calloc((size_t)limit + 1, sizeof **out);
        if (!*out)
            rc = SL_ENOMEM;
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            if (*n == (size_t)limit) {
                *more = 1;
                break;
            }
            rc = fill_record(st, &cache, &(*out)[(*n)++]);
        }
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    sl_record_cols_free(cache.cols);
    if (rc) {
        sl_records_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int sq_get_record(struct sl_store *s, const char *tenant, const char *type, const char *key,
                  struct sl_record *out, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    static const char get_sql[] = RECORD_COLS " AND r.key_head = ?3 AND r.key_num = ?4";
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss, get_sql, &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, tenant);
        sq_bind_text(st, 2, type);
        bind_key(st, 3, key);
        int r = sqlite3_step(st);
        struct cols_cache cache = {0};
        if (r == SQLITE_ROW)
            rc = fill_record(st, &cache, out);
        else if (r == SQLITE_DONE)
            rc = sl_err_set(err, SL_ENOT_FOUND, "no %s record with that key", type);
        else
            rc = sq_db_fail(ss, err, "get record");
        sl_record_cols_free(cache.cols);
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    if (rc)
        sl_record_fini(out);
    return rc;
}

/* sl_key_head(key) and sl_key_num(key) in SQL: the parts of record_key.h (the migration to
 * schema 6 splits the stored keys with them). */
static void key_part_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *key = (const char *)sqlite3_value_text(argv[0]);
    if (!key) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t num;
    size_t head = sl_record_key_split(key, (size_t)sqlite3_value_bytes(argv[0]), &num);
    if (sqlite3_user_data(ctx))
        sqlite3_result_int64(ctx, num);
    else
        sqlite3_result_text(ctx, key, (int)head, SQLITE_TRANSIENT);
}

int sq_records_register(struct sqlite_store *ss, struct sl_error *err)
{
    static int num_flag = 1;
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (sqlite3_create_function(ss->db, "sl_key_head", 1, flags, NULL, key_part_fn, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_create_function(ss->db, "sl_key_num", 1, flags, &num_flag, key_part_fn, NULL,
                                NULL) != SQLITE_OK)
        return sq_db_fail(ss, err, "register key functions");
    return 0;
}
