/*
 * Imported records and row errors in the SQLite store. Writes come in batches from an import
 * (one transaction per batch, so a large file commits in steps and a crash loses at most the
 * batch in flight: re-running the job rewrites the same keys), each taken with sq_write_lock so
 * that the process's reads go on while another process holds the file. Reads page by primary
 * key.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Upserts run in chunks of UPSERT_CHUNK rows, one INSERT OR IGNORE of many rows each: a chunk of
 * new keys (a first import) costs one statement. sqlite3_changes() then tells how many of the
 * chunk's rows were inserted, and a row is inserted exactly when its key was new at its turn
 * (rows go in in order, so a key repeated in the chunk is new once): the same count as applying
 * the rows one by one. When some were not new, every row of the chunk is then written again by
 * an UPDATE, in order: the inserted ones get the same values again, the others their new ones,
 * and a repeated key ends with its last text, as one by one. The last rows, fewer than a chunk,
 * go one by one. Parameters: ?1 tenant, ?2 type, ?3 job id, ?4 now, then key and text per row.
 */
#define UPSERT_CHUNK 16

static const char insert_chunk_sql[] =
    "INSERT OR IGNORE INTO records (tenant, type, key, data, job_id, created_at, updated_at)"
    " VALUES (?1, ?2, ?5, ?6, ?3, ?4, ?4), (?1, ?2, ?7, ?8, ?3, ?4, ?4), "
    " (?1, ?2, ?9, ?10, ?3, ?4, ?4), (?1, ?2, ?11, ?12, ?3, ?4, ?4), "
    " (?1, ?2, ?13, ?14, ?3, ?4, ?4), (?1, ?2, ?15, ?16, ?3, ?4, ?4), "
    " (?1, ?2, ?17, ?18, ?3, ?4, ?4), (?1, ?2, ?19, ?20, ?3, ?4, ?4), "
    " (?1, ?2, ?21, ?22, ?3, ?4, ?4), (?1, ?2, ?23, ?24, ?3, ?4, ?4), "
    " (?1, ?2, ?25, ?26, ?3, ?4, ?4), (?1, ?2, ?27, ?28, ?3, ?4, ?4), "
    " (?1, ?2, ?29, ?30, ?3, ?4, ?4), (?1, ?2, ?31, ?32, ?3, ?4, ?4), "
    " (?1, ?2, ?33, ?34, ?3, ?4, ?4), (?1, ?2, ?35, ?36, ?3, ?4, ?4)";
static const char insert_one_sql[] =
    "INSERT OR IGNORE INTO records (tenant, type, key, data, job_id, created_at, updated_at)"
    " VALUES (?1, ?2, ?5, ?6, ?3, ?4, ?4)";
static const char update_sql[] = "UPDATE records SET data = ?6, job_id = ?3, updated_at = ?4"
                                 " WHERE tenant = ?1 AND type = ?2 AND key = ?5";

/* Binds what every row of a batch shares. */
static void bind_batch(sqlite3_stmt *st, const char *tenant, const char *type, const char *job_id,
                       int64_t now)
{
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
}

/* Runs st for one row (?5 key, ?6 text); the strings outlive the step. 0 or SL_ESTORE. */
static int step_row(struct sqlite_store *ss, sqlite3_stmt *st, const struct sl_record_in *rec,
                    struct sl_error *err)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 5, rec->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, rec->data, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sq_db_fail(ss, err, "record upsert");
}

/* One chunk of UPSERT_CHUNK rows. */
static int upsert_chunk(struct sqlite_store *ss, sqlite3_stmt *many, sqlite3_stmt *upd,
                        const struct sl_record_in *recs, int64_t *created, int64_t *updated,
                        struct sl_error *err)
{
    sqlite3_reset(many);
    for (int j = 0; j < UPSERT_CHUNK; j++) {
        sqlite3_bind_text(many, 5 + 2 * j, recs[j].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(many, 6 + 2 * j, recs[j].data, -1, SQLITE_STATIC);
    }
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
                      const struct sl_record_in *recs, size_t n, int64_t now, int64_t *created,
                      int64_t *updated, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *many = NULL, *ins = NULL, *upd = NULL;
    int64_t c = 0, u = 0;
    size_t i = 0;
    int rc;

    if ((rc = sq_write_lock(ss, err)) != 0 ||
        (rc = sq_prepare(ss, insert_chunk_sql, &many, err)) != 0 ||
        (rc = sq_prepare(ss, insert_one_sql, &ins, err)) != 0 ||
        (rc = sq_prepare(ss, update_sql, &upd, err)) != 0)
        goto out;
    bind_batch(many, tenant, type, job_id, now);
    bind_batch(ins, tenant, type, job_id, now);
    bind_batch(upd, tenant, type, job_id, now);
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

static int fill_record(sqlite3_stmt *st, struct sl_record *r)
{
    memset(r, 0, sizeof *r);
    r->key = sq_col_strdup(st, 0);
    r->data = sq_col_strdup(st, 1);
    sq_col_copy(st, 2, r->job_id, sizeof r->job_id);
    r->created_at = sqlite3_column_int64(st, 3);
    r->updated_at = sqlite3_column_int64(st, 4);
    return r->key && r->data ? 0 : SL_ENOMEM;
}

int sq_list_records(struct sl_store *s, const char *tenant, const char *type, const char *after_key,
                    int limit, struct sl_record **out, size_t *n, int *more, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    *more = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss,
                        "SELECT key, data, job_id, created_at, updated_at FROM records"
                        " WHERE tenant = ?1 AND type = ?2 AND (?3 IS NULL OR key > ?3)"
                        " ORDER BY key LIMIT ?4",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, tenant);
        sq_bind_text(st, 2, type);
        sq_bind_text(st, 3, after_key);
        sqlite3_bind_int(st, 4, limit + 1);
        *out = calloc((size_t)limit + 1, sizeof **out);
        if (!*out)
            rc = SL_ENOMEM;
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            if (*n == (size_t)limit) {
                *more = 1;
                break;
            }
            rc = fill_record(st, &(*out)[(*n)++]);
        }
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
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
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss,
                        "SELECT key, data, job_id, created_at, updated_at FROM records"
                        " WHERE tenant = ?1 AND type = ?2 AND key = ?3",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, tenant);
        sq_bind_text(st, 2, type);
        sq_bind_text(st, 3, key);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            rc = fill_record(st, out);
        else if (r == SQLITE_DONE)
            rc = sl_err_set(err, SL_ENOT_FOUND, "no %s record with that key", type);
        else
            rc = sq_db_fail(ss, err, "get record");
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    if (rc)
        sl_record_fini(out);
    return rc;
}
