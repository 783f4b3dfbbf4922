/*
 * sqlite_int: what the SQLite backend's files share, and nothing outside src/store/sqlite*
 * may include. sqlite.c holds the connection, the schema and the job lifecycle; sqlite_report.c
 * the read-only reporting queries (queue status, statistics).
 */
#ifndef SL_STORE_SQLITE_INT_H
#define SL_STORE_SQLITE_INT_H

#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>

struct insert_req;

/* Group commit of inserts (sqlite_insert.c): requests queue here; one caller at a time leads,
 * committing every queued request in one transaction. */
struct insert_group {
    pthread_mutex_t lock; /* guards the fields below, never held while committing */
    pthread_cond_t done;
    struct insert_req *head, *tail;
    int leading; /* a leader is committing */
};

/*
 * Prepared statements kept for reuse. Preparing is most of the cost of a short statement here:
 * a statement on jobs compiles every trigger it fires (counters and statistics) each time.
 * Entries are found by the SQL text's address and checked against the text itself.
 */
#define SQ_CACHE_MAX 64
struct sq_cached {
    const char *sql; /* the caller's text (static in practice); NULL: free slot */
    sqlite3_stmt *st;
    int busy; /* handed out, not yet given back by sq_finalize */
};

struct sqlite_store {
    struct sl_store base; /* first: the interface */
    sqlite3 *db;
    pthread_mutex_t lock; /* guards db and cache: every operation holds it from start to end */
    struct insert_group group;
    struct sq_cached cache[SQ_CACHE_MAX];
    /* Background checkpoints (sqlite_ckpt.c): a connection and a thread of their own. */
    sqlite3 *ckpt_db;
    pthread_t ckpt_thread;
    pthread_mutex_t ckpt_lock; /* guards the two flags below */
    pthread_cond_t ckpt_cond;
    int ckpt_wanted, ckpt_stop;
    int ckpt_frames; /* the WAL's frames at the last commit (the hook's, under lock) */
    int ckpt_inited, ckpt_running;
};

/* Records sqlite's last error message for `what` in err; returns SL_ESTORE. */
int sq_db_fail(struct sqlite_store *ss, struct sl_error *err, const char *what);
int sq_exec(struct sqlite_store *ss, const char *sql, struct sl_error *err);
/* A statement for sql, from the cache when one is free; give it back with sq_finalize. */
int sq_prepare(struct sqlite_store *ss, const char *sql, sqlite3_stmt **st, struct sl_error *err);
/* Gives back a statement of sq_prepare: reset for reuse when cached, finalized otherwise.
 * NULL is ignored. */
void sq_finalize(struct sqlite_store *ss, sqlite3_stmt *st);
/* Finalizes every cached statement (before the connection closes). */
void sq_cache_clear(struct sqlite_store *ss);
/* Binds v as text, or NULL when v is NULL. */
void sq_bind_text(sqlite3_stmt *st, int i, const char *v);
/* Rolls back the open transaction, if any. */
void sq_rollback(struct sqlite_store *ss);
/*
 * Takes the store's mutex and SQLite's write lock (BEGIN IMMEDIATE). While another process
 * holds the file's write lock it waits, up to the busy timeout, with the mutex released, so this
 * process's reads (health, queue, stats) go on meanwhile. Returns with the mutex held either
 * way: 0 with a write transaction open, or an error (SQLITE_BUSY past the timeout: "database is
 * locked") with none.
 */
int sq_write_lock(struct sqlite_store *ss, struct sl_error *err);
/* Commits (rc 0) or rolls back the write transaction, releases the mutex; returns rc, or the
 * commit's error. */
int sq_write_unlock(struct sqlite_store *ss, int rc, struct sl_error *err);
char *sq_col_strdup(sqlite3_stmt *st, int i);
void sq_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);
/* A nullable time column: 0 for NULL. */
int64_t sq_col_time(sqlite3_stmt *st, int i);

/* Starts checkpointing the WAL of the file at path on a thread of the store's own, instead of in
 * the commits that fill it (sqlite_ckpt.c). */
int sq_ckpt_start(struct sqlite_store *ss, const char *path, struct sl_error *err);
/* Stops and joins that thread and closes its connection; safe when it never started. */
void sq_ckpt_stop(struct sqlite_store *ss);
/* Registers the SQL functions the records schema uses (sl_key_head, sl_key_num). */
int sq_records_register(struct sqlite_store *ss, struct sl_error *err);

void sq_group_init(struct sqlite_store *ss);
void sq_group_fini(struct sqlite_store *ss);
int sq_insert_jobs(struct sl_store *s, const struct sl_job *jobs, size_t n, struct sl_error *err);
int sq_read_inline(struct sl_store *s, const char *job_id, void **data, size_t *len,
                   struct sl_error *err);
int sq_queue_status(struct sl_store *s, const char *tenant, int64_t now,
                    struct sl_queue_status *out, struct sl_error *err);
int sq_stats(struct sl_store *s, int days, const char *tenant, int64_t now, struct sl_stats *out,
             struct sl_error *err);
int sq_next_due(struct sl_store *s, int64_t *due_at, struct sl_error *err);
int sq_cron_claim(struct sl_store *s, const char *path, int64_t slot_at, int64_t now,
                  const char *node, int *won, struct sl_error *err);
int sq_cron_record(struct sl_store *s, const char *path, int64_t slot_at, int status,
                   int64_t duration_ms, int skipped, struct sl_error *err);
int sq_cron_last_run(struct sl_store *s, const char *path, int64_t *at, struct sl_error *err);
int sq_progress(struct sl_store *s, const char *id, int64_t fence, const char *result,
                struct sl_error *err);
int sq_upsert_records(struct sl_store *s, const char *tenant, const char *type, const char *job_id,
                      const char *columns, const struct sl_record_in *recs, size_t n, int64_t now,
                      int64_t *created, int64_t *updated, struct sl_error *err);
int sq_add_row_errors(struct sl_store *s, const char *job_id, int64_t first_seq,
                      const struct sl_row_error *errs, size_t n, struct sl_error *err);
int sq_clear_row_errors(struct sl_store *s, const char *job_id, struct sl_error *err);
int sq_list_row_errors(struct sl_store *s, const char *job_id, int64_t after_seq, int limit,
                       struct sl_row_error_out **out, size_t *n, int64_t *next_seq,
                       struct sl_error *err);
int sq_list_records(struct sl_store *s, const char *tenant, const char *type, const char *after_key,
                    int limit, struct sl_record **out, size_t *n, int *more, struct sl_error *err);
int sq_get_record(struct sl_store *s, const char *tenant, const char *type, const char *key,
                  struct sl_record *out, struct sl_error *err);
int sq_count_due(struct sl_store *s, int64_t now, int64_t *n, struct sl_error *err);
int sq_count_jobs(struct sl_store *s, struct sl_type_counts **out, size_t *n, struct sl_error *err);

#endif
