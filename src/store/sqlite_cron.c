/*
 * The scheduler's side of the SQLite store: cron slots and the next due time. A slot row is
 * inserted with INSERT OR IGNORE under the (path, slot_at) primary key, so of all the processes
 * sharing the file exactly one sees its insert take effect and fires the slot.
 */
#include "store/sqlite_int.h"

int sq_next_due(struct sl_store *s, int64_t *due_at, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    *due_at = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss, "SELECT MIN(due_at) FROM jobs WHERE status = 'pending'", &st, err);
    if (rc == 0) {
        if (sqlite3_step(st) == SQLITE_ROW)
            *due_at = sq_col_time(st, 0);
        else
            rc = sq_db_fail(ss, err, "next due");
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

/* Deletes path's slots more than SL_CRON_SLOT_KEEP_MS older than slot_at (a range of the key). */
static int forget_old_slots(struct sqlite_store *ss, const char *path, int64_t slot_at,
                            struct sl_error *err)
{
    sqlite3_stmt *st;
    int rc = sq_prepare(ss, "DELETE FROM cron_slots WHERE path = ?1 AND slot_at < ?2", &st, err);
    if (rc)
        return rc;
    sq_bind_text(st, 1, path);
    sqlite3_bind_int64(st, 2, slot_at - SL_CRON_SLOT_KEEP_MS);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = sq_db_fail(ss, err, "forget old cron slots");
    sq_finalize(ss, st);
    return rc;
}

int sq_cron_claim(struct sl_store *s, const char *path, int64_t slot_at, int64_t now,
                  const char *node, int *won, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    *won = 0;
    int rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(ss,
                        "INSERT OR IGNORE INTO cron_slots (path, slot_at, claimed_at, node)"
                        " VALUES (?1, ?2, ?3, ?4)",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, path);
        sqlite3_bind_int64(st, 2, slot_at);
        sqlite3_bind_int64(st, 3, now);
        sq_bind_text(st, 4, node);
        if (sqlite3_step(st) == SQLITE_DONE)
            *won = sqlite3_changes(ss->db) == 1;
        else
            rc = sq_db_fail(ss, err, "cron claim");
        sq_finalize(ss, st);
    }
    if (rc == 0 && *won)
        rc = forget_old_slots(ss, path, slot_at, err);
    if (rc == 0)
        rc = sq_exec(ss, "COMMIT", err);
    if (rc) {
        *won = 0;
        sq_rollback(ss);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

int sq_cron_record(struct sl_store *s, const char *path, int64_t slot_at, int status,
                   int64_t duration_ms, int skipped, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    int rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(ss,
                        "UPDATE cron_slots SET status = ?3, duration_ms = ?4, skipped = ?5"
                        " WHERE path = ?1 AND slot_at = ?2",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, path);
        sqlite3_bind_int64(st, 2, slot_at);
        sqlite3_bind_int(st, 3, status);
        sqlite3_bind_int64(st, 4, duration_ms);
        sqlite3_bind_int(st, 5, skipped);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sq_db_fail(ss, err, "cron record");
        sq_finalize(ss, st);
    }
    return sq_write_unlock(ss, rc, err);
}

int sq_cron_last_run(struct sl_store *s, const char *path, int64_t *at, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    *at = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss,
                        "SELECT claimed_at FROM cron_slots WHERE path = ?1 AND skipped = 0"
                        " ORDER BY slot_at DESC LIMIT 1", /* walks the key backwards */
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, path);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            *at = sq_col_time(st, 0);
        else if (r != SQLITE_DONE) /* no row: never fired, *at stays 0 */
            rc = sq_db_fail(ss, err, "cron last run");
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}
