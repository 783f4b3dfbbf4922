/*
 * The SQLite job store. See sqlite.h for the durability and sharing model and store.h for
 * the semantics every operation keeps.
 *
 * Every operation runs under the store's mutex on its one connection; every write is one
 * transaction, so a crash leaves either the whole operation or none of it. Claims and other
 * read-then-write operations use BEGIN IMMEDIATE so that a second process sharing the file
 * waits (busy timeout) instead of racing.
 */
#include "store/sqlite.h"
#include "store/sqlite_int.h"
#include "store/sqlite_schema.h"
#include "util/fsutil.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 10000

#define JOB_COLS                                                                                   \
    "id, upload_id, tenant, type, status, file_name, content_type, blob_key, size, sha256, "       \
    "attempts, max_attempts, created_at, started_at, completed_at, due_at, processing_ms, fence, " \
    "error, result"

static struct sqlite_store *cast(struct sl_store *s)
{
    return (struct sqlite_store *)s;
}

int sq_db_fail(struct sqlite_store *ss, struct sl_error *err, const char *what)
{
    return sl_err_set(err, SL_ESTORE, "sqlite: %s: %s", what, sqlite3_errmsg(ss->db));
}

int sq_exec(struct sqlite_store *ss, const char *sql, struct sl_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(ss->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sl_err_set(err, SL_ESTORE, "sqlite: %s", msg ? msg : "exec failed");
        sqlite3_free(msg);
        return SL_ESTORE;
    }
    return 0;
}

int sq_prepare(struct sqlite_store *ss, const char *sql, sqlite3_stmt **st, struct sl_error *err)
{
    struct sq_cached *free_slot = NULL;
    for (int i = 0; i < SQ_CACHE_MAX; i++) {
        struct sq_cached *e = &ss->cache[i];
        if (!e->sql) {
            free_slot = free_slot ? free_slot : e;
        } else if (e->sql == sql && !e->busy && strcmp(sqlite3_sql(e->st), sql) == 0) {
            e->busy = 1;
            *st = e->st;
            return 0;
        }
    }
    if (sqlite3_prepare_v3(ss->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL) !=
        SQLITE_OK) {
        *st = NULL;
        return sq_db_fail(ss, err, "prepare");
    }
    if (free_slot)
        *free_slot = (struct sq_cached){sql, *st, 1};
    return 0;
}

void sq_finalize(struct sqlite_store *ss, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (int i = 0; i < SQ_CACHE_MAX; i++)
        if (ss->cache[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            ss->cache[i].busy = 0;
            return;
        }
    sqlite3_finalize(st);
}

void sq_cache_clear(struct sqlite_store *ss)
{
    for (int i = 0; i < SQ_CACHE_MAX; i++) {
        sqlite3_finalize(ss->cache[i].st);
        ss->cache[i] = (struct sq_cached){0};
    }
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Binds a duration, NULL when unknown (negative). */
static void bind_ms(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms >= 0)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no row; SQLITE_DONE is success. */
static int step_done(struct sqlite_store *ss, sqlite3_stmt *st, struct sl_error *err)
{
    int r = sqlite3_step(st);
    return r == SQLITE_DONE ? 0 : sq_db_fail(ss, err, "step");
}

void sq_rollback(struct sqlite_store *ss)
{
    if (!sqlite3_get_autocommit(ss->db))
        sqlite3_exec(ss->db, "ROLLBACK", NULL, NULL, NULL);
}

int sq_write_lock(struct sqlite_store *ss, struct sl_error *err)
{
    int64_t deadline = sl_mono_ms() + BUSY_TIMEOUT_MS;
    long nap_us = 100;
    for (;;) {
        pthread_mutex_lock(&ss->lock);
        /* try once, without SQLite's own waiting, which would hold our mutex meanwhile */
        sqlite3_busy_timeout(ss->db, 0);
        int r = sqlite3_exec(ss->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_busy_timeout(ss->db, BUSY_TIMEOUT_MS);
        if (r == SQLITE_OK)
            return 0;
        if ((r & 0xff) != SQLITE_BUSY)
            return sq_db_fail(ss, err, "begin a write");
        if (sl_mono_ms() >= deadline)
            return sl_err_set(err, SL_ESTORE,
                              "the job store is busy: another process has held the SQLite "
                              "database's write lock for over %d s; nothing was stored, try again",
                              BUSY_TIMEOUT_MS / 1000);
        pthread_mutex_unlock(&ss->lock);
        struct timespec ts = {0, nap_us * 1000};
        nanosleep(&ts, NULL);
        nap_us = nap_us < 10000 ? nap_us * 2 : 20000;
    }
}

int sq_write_unlock(struct sqlite_store *ss, int rc, struct sl_error *err)
{
    if (rc == 0)
        rc = sq_exec(ss, "COMMIT", err);
    if (rc)
        sq_rollback(ss);
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

char *sq_col_strdup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

void sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int64_t sq_col_time(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* Fills job from a row selected with JOB_COLS starting at column 0. */
static int row_to_job(sqlite3_stmt *st, struct sl_job *job)
{
    memset(job, 0, sizeof *job);
    sq_col_copy(st, 0, job->id, sizeof job->id);
    sq_col_copy(st, 1, job->upload_id, sizeof job->upload_id);
    job->tenant = sq_col_strdup(st, 2);
    job->type = sq_col_strdup(st, 3);
    sl_job_status_parse((const char *)sqlite3_column_text(st, 4), &job->status);
    job->file_name = sq_col_strdup(st, 5);
    job->content_type = sq_col_strdup(st, 6);
    sq_col_copy(st, 7, job->blob_key, sizeof job->blob_key);
    job->size = sqlite3_column_int64(st, 8);
    sq_col_copy(st, 9, job->sha256, sizeof job->sha256);
    job->attempts = sqlite3_column_int(st, 10);
    job->max_attempts = sqlite3_column_int(st, 11);
    job->created_at = sq_col_time(st, 12);
    job->started_at = sq_col_time(st, 13);
    job->completed_at = sq_col_time(st, 14);
    if (job->status == SL_JOB_PENDING && job->attempts > 0)
        job->next_attempt_at = sq_col_time(st, 15);
    job->processing_ms =
        sqlite3_column_type(st, 16) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 16);
    job->fence = sqlite3_column_int64(st, 17);
    job->error = sq_col_strdup(st, 18);
    job->result = sq_col_strdup(st, 19);
    if (!job->tenant || !job->type || !job->file_name || !job->content_type) {
        sl_job_fini(job);
        return SL_ENOMEM;
    }
    return 0;
}

/* Appends one row (JOB_COLS) to a growing array. */
static int push_job(sqlite3_stmt *st, struct sl_job **jobs, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct sl_job *grown = realloc(*jobs, ncap * sizeof *grown);
        if (!grown)
            return SL_ENOMEM;
        *jobs = grown;
        *cap = ncap;
    }
    int rc = row_to_job(st, &(*jobs)[*n]);
    if (rc == 0)
        (*n)++;
    return rc;
}

/* ---- schema ---------------------------------------------------------------------------- */

static int sq_migrate(struct sl_store *s, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    const int latest = (int)(sizeof sl_sqlite_migrations / sizeof sl_sqlite_migrations[0]);
    sqlite3_stmt *st = NULL;
    int rc, version;

    if ((rc = sq_write_lock(ss, err)) != 0)
        goto out;
    if ((rc = sq_prepare(ss, "PRAGMA user_version", &st, err)) != 0)
        goto out;
    version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sq_finalize(ss, st);
    if (version > latest) {
        rc = sl_err_set(err, SL_ESTORE,
                        "sqlite: the database is at schema version %d, newer than this "
                        "sluice (%d); upgrade sluice",
                        version, latest);
        goto out;
    }
    for (int v = version; v < latest; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if ((rc = sq_exec(ss, sl_sqlite_migrations[v], err)) != 0 ||
            (rc = sq_exec(ss, pragma, err)) != 0)
            goto out;
    }
    rc = sq_exec(ss, "COMMIT", err);
out:
    if (rc)
        sq_rollback(ss);
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

/* ---- writes ---------------------------------------------------------------------------- */

static int sq_release_expired(struct sl_store *s, int64_t now, int *rescued, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc;

    *rescued = 0;
    rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(
            ss,
            "UPDATE jobs SET attempts = attempts + 1,"
            " status = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'pending' END,"
            " completed_at = CASE WHEN attempts + 1 >= max_attempts THEN ?1 END,"
            " due_at = ?1, lease_until = NULL,"
            " error = 'lease expired: the worker stopped before finishing the job'"
            " WHERE status = 'processing' AND lease_until < ?1",
            &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, now);
        rc = step_done(ss, st, err);
        if (rc == 0)
            *rescued = sqlite3_changes(ss->db);
    }
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

/*
 * Picks the ids to claim: row numbers within each tenant (FIFO), then round 1 of every tenant
 * in the order of its oldest due job, then round 2, and so on.
 */
static int pick_ids(struct sqlite_store *ss, int64_t now, int limit, char (*ids)[SL_UUID_MAX],
                    int *count, struct sl_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(ss,
                        "SELECT id FROM (SELECT id, tenant,"
                        "  ROW_NUMBER() OVER (PARTITION BY tenant ORDER BY created_at, id) AS rn,"
                        "  MIN(created_at) OVER (PARTITION BY tenant) AS first"
                        "  FROM jobs WHERE status = 'pending' AND due_at <= ?1)"
                        " WHERE rn <= ?2 ORDER BY rn, first, tenant LIMIT ?2",
                        &st, err);
    *count = 0;
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW && *count < limit)
        sq_col_copy(st, 0, ids[(*count)++], SL_UUID_MAX);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = sq_db_fail(ss, err, "claim select");
    sq_finalize(ss, st);
    return rc;
}

static int sq_claim(struct sl_store *s, int64_t now, int limit, int64_t lease_ms,
                    struct sl_job **jobs, size_t *n, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    char(*ids)[SL_UUID_MAX] = NULL;
    size_t cap = 0;
    int count = 0, rc;

    *jobs = NULL;
    *n = 0;
    if (limit <= 0)
        return 0;
    ids = calloc((size_t)limit, sizeof *ids);
    if (!ids)
        return SL_ENOMEM;
    if ((rc = sq_write_lock(ss, err)) || (rc = pick_ids(ss, now, limit, ids, &count, err)))
        goto out;
    rc = sq_prepare(ss,
                    "UPDATE jobs SET status = 'processing', started_at = ?2, lease_until = ?3,"
                    " fence = fence + 1 WHERE id = ?1 RETURNING " JOB_COLS,
                    &st, err);
    for (int i = 0; rc == 0 && i < count; i++) {
        sqlite3_reset(st);
        sq_bind_text(st, 1, ids[i]);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, now + lease_ms);
        if (sqlite3_step(st) != SQLITE_ROW)
            rc = sq_db_fail(ss, err, "claim update");
        else
            rc = push_job(st, jobs, n, &cap);
        if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
            rc = sq_db_fail(ss, err, "claim update");
    }
    sq_finalize(ss, st);
    st = NULL;
    if (rc == 0)
        rc = sq_exec(ss, "COMMIT", err);
out:
    if (rc) {
        sq_rollback(ss);
        sl_jobs_free(*jobs, *n);
        *jobs = NULL;
        *n = 0;
    }
    pthread_mutex_unlock(&ss->lock);
    free(ids);
    return rc;
}

/*
 * Runs an UPDATE guarded by (id, fence, status = 'processing'); no change means the lease
 * was lost (or the job is gone): SL_EFENCED.
 */
static int fenced_update(struct sqlite_store *ss, sqlite3_stmt *st, struct sl_error *err)
{
    int rc = step_done(ss, st, err);
    if (rc == 0 && sqlite3_changes(ss->db) == 0)
        rc = sl_err_set(err, SL_EFENCED, "job is no longer processing under this lease");
    return rc;
}

static int sq_heartbeat(struct sl_store *s, const char *id, int64_t fence, int64_t lease_until,
                        struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(ss,
                        "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND fence = ?2"
                        " AND status = 'processing'",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, fence);
        sqlite3_bind_int64(st, 3, lease_until);
        rc = fenced_update(ss, st, err);
    }
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

int sq_progress(struct sl_store *s, const char *id, int64_t fence, const char *result,
                struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(ss,
                        "UPDATE jobs SET result = ?3 WHERE id = ?1 AND fence = ?2"
                        " AND status = 'processing'",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, fence);
        sq_bind_text(st, 3, result);
        rc = fenced_update(ss, st, err);
    }
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

static int sq_complete(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                       int64_t processing_ms, const char *result, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(ss,
                        "UPDATE jobs SET status = 'completed', completed_at = ?3,"
                        " processing_ms = ?4, result = ?5, lease_until = NULL"
                        " WHERE id = ?1 AND fence = ?2 AND status = 'processing'",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, fence);
        sqlite3_bind_int64(st, 3, now);
        bind_ms(st, 4, processing_ms);
        sq_bind_text(st, 5, result);
        rc = fenced_update(ss, st, err);
    }
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

static int sq_fail(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                   int64_t processing_ms, const char *message, int64_t retry_at,
                   enum sl_job_status *became, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(
            ss,
            "UPDATE jobs SET attempts = attempts + 1,"
            " status = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'pending' END,"
            " completed_at = CASE WHEN attempts + 1 >= max_attempts THEN ?3 END,"
            " due_at = CASE WHEN attempts + 1 >= max_attempts THEN due_at ELSE ?6 END,"
            " processing_ms = ?4, error = ?5, lease_until = NULL"
            " WHERE id = ?1 AND fence = ?2 AND status = 'processing' RETURNING status",
            &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, fence);
        sqlite3_bind_int64(st, 3, now);
        bind_ms(st, 4, processing_ms);
        sq_bind_text(st, 5, message);
        sqlite3_bind_int64(st, 6, retry_at);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            if (became)
                sl_job_status_parse((const char *)sqlite3_column_text(st, 0), became);
            r = sqlite3_step(st);
        } else if (r == SQLITE_DONE) {
            rc = sl_err_set(err, SL_EFENCED, "job is no longer processing under this lease");
        }
        if (rc == 0 && r != SQLITE_DONE)
            rc = sq_db_fail(ss, err, "fail update");
    }
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

static int sq_release(struct sl_store *s, const char *id, int64_t fence, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc = sq_write_lock(ss, err);
    if (rc == 0)
        rc = sq_prepare(ss,
                        "UPDATE jobs SET status = 'pending', lease_until = NULL"
                        " WHERE id = ?1 AND fence = ?2 AND status = 'processing'",
                        &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, fence);
        rc = fenced_update(ss, st, err);
    }
    sq_finalize(ss, st);
    return sq_write_unlock(ss, rc, err);
}

/* ---- reads ----------------------------------------------------------------------------- */

/* Reads one job by id; caller holds the lock. */
static int get_locked(struct sqlite_store *ss, const char *id, struct sl_job *out,
                      struct sl_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(ss, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", &st, err);
    if (rc)
        return rc;
    sq_bind_text(st, 1, id);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        rc = row_to_job(st, out);
    else if (r == SQLITE_DONE)
        rc = sl_err_set(err, SL_ENOT_FOUND, "no job with id '%.40s'", id);
    else
        rc = sq_db_fail(ss, err, "get job");
    sq_finalize(ss, st);
    return rc;
}

static int sq_get_job(struct sl_store *s, const char *id, struct sl_job *out, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&ss->lock);
    int rc = get_locked(ss, id, out, err);
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

static int sq_list_jobs(struct sl_store *s, const struct sl_job_filter *f, struct sl_job **jobs,
                        size_t *n, char next_cursor[SL_CURSOR_MAX], struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int r, rc;

    *jobs = NULL;
    *n = 0;
    next_cursor[0] = '\0';
    pthread_mutex_lock(&ss->lock);
    rc = sq_prepare(ss,
                    "SELECT " JOB_COLS " FROM jobs WHERE (?1 IS NULL OR status = ?1)"
                    " AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR tenant = ?3)"
                    " AND (?4 IS NULL OR created_at < ?4 OR (created_at = ?4 AND id < ?6))"
                    " ORDER BY created_at DESC, id DESC LIMIT ?5",
                    &st, err);
    if (rc)
        goto out;
    sq_bind_text(st, 1, f->status);
    sq_bind_text(st, 2, f->type);
    sq_bind_text(st, 3, f->tenant);
    if (f->cursor_id[0]) {
        sqlite3_bind_int64(st, 4, f->cursor_created_at);
        sq_bind_text(st, 6, f->cursor_id);
    }
    sqlite3_bind_int(st, 5, f->limit + 1); /* one more tells whether a next page exists */
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == (size_t)f->limit) {
            sl_cursor_format((*jobs)[*n - 1].created_at, (*jobs)[*n - 1].id, next_cursor);
            break;
        }
        rc = push_job(st, jobs, n, &cap);
    }
    if (rc == 0 && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = sq_db_fail(ss, err, "list jobs");
out:
    sq_finalize(ss, st);
    pthread_mutex_unlock(&ss->lock);
    if (rc) {
        sl_jobs_free(*jobs, *n);
        *jobs = NULL;
        *n = 0;
    }
    return rc;
}

/* Why a guarded change did not apply: the job is missing, or in another state. */
static int missing_or_conflict(struct sqlite_store *ss, const char *id, const char *want,
                               struct sl_error *err)
{
    struct sl_job job;
    int rc = get_locked(ss, id, &job, err);
    if (rc)
        return rc;
    rc = sl_err_set(err, SL_ECONFLICT, "job %s is %s; only a %s job can be changed this way", id,
                    sl_job_status_name(job.status), want);
    sl_job_fini(&job);
    return rc;
}

static int sq_retry_job(struct sl_store *s, const char *id, int64_t now, struct sl_job *out,
                        struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = sq_write_lock(ss, err)) != 0)
        goto out;
    rc = sq_prepare(ss,
                    "UPDATE jobs SET status = 'pending', attempts = 0, due_at = ?2,"
                    " completed_at = NULL, lease_until = NULL WHERE id = ?1 AND status = 'failed'",
                    &st, err);
    if (rc)
        goto out;
    sq_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    if ((rc = step_done(ss, st, err)) != 0)
        goto out;
    if (sqlite3_changes(ss->db) == 0)
        rc = missing_or_conflict(ss, id, "failed", err);
    else
        rc = get_locked(ss, id, out, err);
    if (rc == 0)
        rc = sq_exec(ss, "COMMIT", err);
out:
    sq_finalize(ss, st);
    if (rc)
        sq_rollback(ss);
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

static int sq_cancel_job(struct sl_store *s, const char *id, struct sl_job *out,
                         struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    sqlite3_stmt *st = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = sq_write_lock(ss, err)) != 0 || (rc = get_locked(ss, id, out, err)) != 0)
        goto out;
    if (out->status != SL_JOB_PENDING) {
        rc = sl_err_set(err, SL_ECONFLICT, "job %s is %s; only a pending job can be cancelled", id,
                        sl_job_status_name(out->status));
        goto out;
    }
    if ((rc = sq_prepare(ss, "DELETE FROM blob_inline WHERE job_id = ?1", &st, err)) != 0)
        goto out;
    sq_bind_text(st, 1, id);
    if ((rc = step_done(ss, st, err)) != 0)
        goto out;
    sq_finalize(ss, st);
    st = NULL;
    if ((rc = sq_prepare(ss, "DELETE FROM jobs WHERE id = ?1", &st, err)) != 0)
        goto out;
    sq_bind_text(st, 1, id);
    if ((rc = step_done(ss, st, err)) == 0)
        rc = sq_exec(ss, "COMMIT", err);
out:
    sq_finalize(ss, st);
    if (rc) {
        sq_rollback(ss);
        sl_job_fini(out);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

static int sq_ping(struct sl_store *s, struct sl_error *err)
{
    struct sqlite_store *ss = cast(s);
    pthread_mutex_lock(&ss->lock);
    int rc = sq_exec(ss, "SELECT 1 FROM jobs LIMIT 1", err);
    pthread_mutex_unlock(&ss->lock);
    return rc;
}

/* SQLite announces nothing: a process sees its own changes through its own notifier, and the
 * changes of other processes sharing the file are not announced. */
static int sq_watch(struct sl_store *s, void (*on_change)(void *arg), void *arg,
                    struct sl_error *err)
{
    (void)s;
    (void)on_change;
    (void)arg;
    (void)err;
    return 0;
}

static void sq_close(struct sl_store *s)
{
    struct sqlite_store *ss = cast(s);
    sq_ckpt_stop(ss);
    sq_cache_clear(ss);
    sqlite3_close_v2(ss->db);
    sq_group_fini(ss);
    pthread_mutex_destroy(&ss->lock);
    free(ss);
}

static const struct sl_store_ops sqlite_ops = {
    .name = "sqlite",
    .migrate = sq_migrate,
    .insert_jobs = sq_insert_jobs,
    .read_inline = sq_read_inline,
    .release_expired = sq_release_expired,
    .claim = sq_claim,
    .heartbeat = sq_heartbeat,
    .complete = sq_complete,
    .fail = sq_fail,
    .release = sq_release,
    .get_job = sq_get_job,
    .list_jobs = sq_list_jobs,
    .retry_job = sq_retry_job,
    .cancel_job = sq_cancel_job,
    .queue_status = sq_queue_status,
    .stats = sq_stats,
    .count_due = sq_count_due,
    .ping = sq_ping,
    .next_due = sq_next_due,
    .cron_claim = sq_cron_claim,
    .cron_record = sq_cron_record,
    .cron_last_run = sq_cron_last_run,
    .progress = sq_progress,
    .upsert_records = sq_upsert_records,
    .add_row_errors = sq_add_row_errors,
    .clear_row_errors = sq_clear_row_errors,
    .list_row_errors = sq_list_row_errors,
    .list_records = sq_list_records,
    .get_record = sq_get_record,
    .close = sq_close,
    .watch = sq_watch,
    .count_jobs = sq_count_jobs,
};

/* Creates the folder that will hold the database file. */
static int make_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return sl_mkdirs(dir);
}

int sl_store_sqlite_open(const char *path, struct sl_store **out, struct sl_error *err)
{
    struct sqlite_store *ss = NULL;
    int rc;

    *out = NULL;
    if (!*path)
        return sl_err_set(err, SL_ECONFIG, "DATABASE_URL: sqlite: needs a file path");
    if ((rc = make_parent(path)) != 0)
        return sl_err_set(err, rc, "DATABASE_URL: cannot create the folder of '%.200s'", path);
    ss = calloc(1, sizeof *ss);
    if (!ss)
        return SL_ENOMEM;
    ss->base.ops = &sqlite_ops;
    pthread_mutex_init(&ss->lock, NULL);
    sq_group_init(ss);
    /* NOMUTEX: the store's own mutex already serialises every use of the connection. */
    if (sqlite3_open_v2(path, &ss->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = sl_err_set(err, SL_ESTORE, "sqlite: cannot open '%.200s': %s", path,
                        ss->db ? sqlite3_errmsg(ss->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(ss->db, BUSY_TIMEOUT_MS);
    /* A 16 MiB page cache: imports and stats touch many pages; bounded, so memory stays flat. */
    if ((rc = sq_exec(ss,
                      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                      " PRAGMA cache_size = -16384;",
                      err)) != 0 ||
        (rc = sq_records_register(ss, err)) != 0 || (rc = sq_migrate(&ss->base, err)) != 0 ||
        (rc = sq_ckpt_start(ss, path, err)) != 0)
        goto out;
    *out = &ss->base;
out:
    if (rc)
        sq_close(&ss->base);
    return rc;
}
