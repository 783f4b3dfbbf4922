/*
 * postgres_int: what the PostgreSQL backend's files share, and nothing outside src/store/postgres*
 * may include.
 *
 * postgres_pool.c owns the connections and runs every operation through pg_run (borrow a
 * connection, open the transaction, run, commit, and on a broken connection reset it and run the
 * operation again when that cannot store anything twice); postgres_rows.c turns results into
 * sluice structs and values into parameters. The operations live by concern, as in the SQLite
 * backend: postgres.c (open, schema, job reads, retry, cancel), postgres_claim.c (claim, leases,
 * fencing), postgres_insert.c (inserts and inline files), postgres_report.c (queue status,
 * statistics), postgres_cron.c (cron slots, next due), postgres_records.c (records, row errors),
 * postgres_watch.c (LISTEN for other nodes' changes).
 *
 * An operation's run function gets a struct pg_tx on its own connection and may be called twice
 * (a retry): it fills its outputs only from what it reads, and its undo function returns them to
 * empty whenever a run is abandoned. Every SQL text is a constant; values travel as parameters.
 */
#ifndef SL_STORE_POSTGRES_INT_H
#define SL_STORE_POSTGRES_INT_H

#include "store/store.h"
#include "util/buf.h"

#include <libpq-fe.h>
#include <pthread.h>

#define PG_POOL_SIZE  4  /* connections per store; callers beyond wait for one */
#define PG_PARAMS_MAX 16 /* parameters of one statement */

/* The channel every change to jobs is announced on (by triggers, at commit). */
#define PG_CHANNEL "sluice_jobs"

/* The job columns, in the order pg_row_to_job reads them. */
#define PG_JOB_COLS                                                                                \
    "id, upload_id, tenant, type, status, file_name, content_type, blob_key, size, sha256, "       \
    "attempts, max_attempts, created_at, started_at, completed_at, due_at, processing_ms, fence, " \
    "error, result"

struct pg_watch;

/*
 * Statements prepared on a pooled connection, found by the SQL text's address and checked
 * against a copy of the text. Parsing and planning is a good part of a short statement's cost
 * (the claim's CTE above all), so each hot statement is prepared once per session. A session
 * that changed (PQreset after a lost connection) has none: the cache belongs to backend_pid.
 */
#define PG_PREPARED_MAX 48
struct pg_prepared {
    const char *sql; /* the caller's text (static in practice) */
    char *text;      /* owned copy, to tell a reused address from the same statement */
};

struct pg_slot {
    PGconn *conn; /* NULL until first needed */
    int busy;     /* lent to an operation */
    int backend_pid;
    struct pg_prepared prepared[PG_PREPARED_MAX];
    int n_prepared;
};

struct pg_store {
    struct sl_store base; /* first: the interface */
    char *url;
    pthread_mutex_t lock; /* guards slots[].busy and the choice of a slot */
    pthread_cond_t returned;
    struct pg_slot slots[PG_POOL_SIZE];
    struct pg_watch *watch; /* the LISTEN thread, once watch was called */
};

enum pg_mode {
    PG_READ,     /* statements in autocommit; always safe to run again */
    PG_SNAPSHOT, /* a read-only REPEATABLE READ transaction: figures that agree with each other */
    PG_WRITE     /* a read-write transaction whose id is known, so its fate can be asked for */
};

/* One run of an operation on a borrowed connection. */
struct pg_tx {
    PGconn *conn;
    struct pg_slot *slot; /* its prepared statements; NULL: statements are not prepared */
    const char *what;     /* the operation, for messages */
    enum pg_mode mode;
    char xid[24];      /* PG_WRITE: txid_current() as text once BEGIN ran */
    int begin_pending; /* PG_WRITE: BEGIN not sent yet; it goes out with the first statement */
    int commit_sent;   /* COMMIT went out: a lost connection leaves the outcome to be asked */
    int lost;          /* a call failed because the connection broke */
    int transient;     /* a deadlock or serialization failure: the whole run may go again */
};

struct pg_op {
    const char *what; /* names the operation in messages */
    enum pg_mode mode;
    int (*run)(struct pg_tx *tx, void *ctx, struct sl_error *err);
    void (*undo)(void *ctx); /* empties the outputs of an abandoned run; may be NULL */
};

/* ---- connections and operations (postgres_pool.c) -------------------------------------- */

/* Connects to url (a libpq URI), with sluice's defaults for what the URL leaves out. */
int pg_connect(const char *url, PGconn **out, struct sl_error *err);
/* PQreset with a few attempts a short while apart; 0 once the connection is good again. */
int pg_reconnect(PGconn *conn, struct sl_error *err);
void pg_pool_init(struct pg_store *ps);
void pg_pool_fini(struct pg_store *ps);
/*
 * Runs op on a pooled connection (see the DESIGN note in postgres_pool.c): 0, the run's own
 * error (SL_EFENCED, SL_ENOT_FOUND, ...), or SL_ESTORE with the server's message.
 */
int pg_run(struct pg_store *ps, const struct pg_op *op, void *ctx, struct sl_error *err);

/* Parameters of one statement. Values are copied only when they must be repaired (invalid
 * UTF-8, which PostgreSQL refuses); a failed copy is reported by pg_exec as SL_ENOMEM. */
struct pg_params {
    int n;
    int oom;
    int result_format; /* 0 text, 1 binary */
    const char *vals[PG_PARAMS_MAX];
    int lens[PG_PARAMS_MAX];
    int fmts[PG_PARAMS_MAX];
    char num[PG_PARAMS_MAX][24];
    char *owned[PG_PARAMS_MAX];
};

/* Adds text (NULL: SQL NULL). */
void pg_p_text(struct pg_params *p, const char *v);
void pg_p_i64(struct pg_params *p, int64_t v);
/* Adds a duration in ms, NULL when unknown (negative). */
void pg_p_ms(struct pg_params *p, int64_t ms);
/* Adds bytes for a bytea parameter (sent in binary). */
void pg_p_bytes(struct pg_params *p, const void *data, size_t len);

/*
 * Runs one statement; 0 and *res (the caller PQclears it; res may be NULL to drop it), or an
 * error with err filled and tx->lost / tx->transient set when that is why. Consumes p.
 */
int pg_exec(struct pg_tx *tx, const char *sql, struct pg_params *p, PGresult **res,
            struct sl_error *err);
/* Runs one statement and reports how many rows it changed (may be NULL). */
int pg_exec_cmd(struct pg_tx *tx, const char *sql, struct pg_params *p, int64_t *changed,
                struct sl_error *err);
/* Runs constant SQL text that may hold several statements (migrations). */
int pg_exec_script(struct pg_tx *tx, const char *sql, struct sl_error *err);

/* ---- results and array parameters (postgres_rows.c) ------------------------------------ */

/* Records "postgres: what: message" in err, the message on one line; returns SL_ESTORE. */
int pg_fail(struct sl_error *err, const char *what, const char *msg);
int64_t pg_i64(const PGresult *r, int row, int col);  /* 0 for NULL */
double pg_f64(const PGresult *r, int row, int col);   /* 0 for NULL */
char *pg_strdup(const PGresult *r, int row, int col); /* NULL for NULL */
void pg_copy(const PGresult *r, int row, int col, char *dst, size_t cap);
int pg_is_null(const PGresult *r, int row, int col);
/* Fills job from a row of PG_JOB_COLS starting at column first. */
int pg_row_to_job(const PGresult *r, int row, int first, struct sl_job *job);
/* The first max rows of r (PG_JOB_COLS) as a new array. */
int pg_rows_to_jobs(const PGresult *r, size_t max, struct sl_job **jobs, size_t *n);

/* A one-dimensional array literal ({"a","b",NULL}), passed as one text parameter. */
struct pg_array {
    struct sl_buf buf;
    int count;
    int oom;
    int done; /* closed by pg_array_finish */
};

void pg_array_init(struct pg_array *a);
void pg_array_fini(struct pg_array *a);
/* Appends text (NULL: a NULL element), made valid UTF-8. */
void pg_array_text(struct pg_array *a, const char *v);
void pg_array_i64(struct pg_array *a, int64_t v);
/* Closes the literal (once) and returns it, or NULL when out of memory. */
const char *pg_array_finish(struct pg_array *a);

/* ---- operations (one per file by concern) ----------------------------------------------- */

int pg_insert_jobs(struct sl_store *s, const struct sl_job *jobs, size_t n, struct sl_error *err);
int pg_read_inline(struct sl_store *s, const char *job_id, void **data, size_t *len,
                   struct sl_error *err);
int pg_release_expired(struct sl_store *s, int64_t now, int *rescued, struct sl_error *err);
int pg_claim(struct sl_store *s, int64_t now, int limit, int64_t lease_ms, struct sl_job **jobs,
             size_t *n, struct sl_error *err);
int pg_heartbeat(struct sl_store *s, const char *id, int64_t fence, int64_t lease_until,
                 struct sl_error *err);
int pg_complete(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                int64_t processing_ms, const char *result, struct sl_error *err);
int pg_fail_job(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                int64_t processing_ms, const char *message, int64_t retry_at,
                enum sl_job_status *became, struct sl_error *err);
int pg_release(struct sl_store *s, const char *id, int64_t fence, struct sl_error *err);
int pg_progress(struct sl_store *s, const char *id, int64_t fence, const char *result,
                struct sl_error *err);
int pg_queue_status(struct sl_store *s, const char *tenant, int64_t now,
                    struct sl_queue_status *out, struct sl_error *err);
int pg_stats(struct sl_store *s, int days, const char *tenant, int64_t now, struct sl_stats *out,
             struct sl_error *err);
int pg_count_due(struct sl_store *s, int64_t now, int64_t *n, struct sl_error *err);
int pg_count_jobs(struct sl_store *s, struct sl_type_counts **out, size_t *n, struct sl_error *err);
int pg_next_due(struct sl_store *s, int64_t *due_at, struct sl_error *err);
int pg_cron_claim(struct sl_store *s, const char *path, int64_t slot_at, int64_t now,
                  const char *node, int *won, struct sl_error *err);
int pg_cron_record(struct sl_store *s, const char *path, int64_t slot_at, int status,
                   int64_t duration_ms, int skipped, struct sl_error *err);
int pg_cron_last_run(struct sl_store *s, const char *path, int64_t *at, struct sl_error *err);
int pg_upsert_records(struct sl_store *s, const char *tenant, const char *type, const char *job_id,
                      const char *columns, const struct sl_record_in *recs, size_t n, int64_t now,
                      int64_t *created, int64_t *updated, struct sl_error *err);
int pg_add_row_errors(struct sl_store *s, const char *job_id, int64_t first_seq,
                      const struct sl_row_error *errs, size_t n, struct sl_error *err);
int pg_clear_row_errors(struct sl_store *s, const char *job_id, struct sl_error *err);
int pg_list_row_errors(struct sl_store *s, const char *job_id, int64_t after_seq, int limit,
                       struct sl_row_error_out **out, size_t *n, int64_t *next_seq,
                       struct sl_error *err);
int pg_list_records(struct sl_store *s, const char *tenant, const char *type, const char *after_key,
                    int limit, struct sl_record **out, size_t *n, int *more, struct sl_error *err);
int pg_get_record(struct sl_store *s, const char *tenant, const char *type, const char *key,
                  struct sl_record *out, struct sl_error *err);
int pg_watch_changes(struct sl_store *s, void (*on_change)(void *arg), void *arg,
                     struct sl_error *err);
/* Stops the LISTEN thread, if any (store close). */
void pg_watch_stop(struct pg_store *ps);

#endif
