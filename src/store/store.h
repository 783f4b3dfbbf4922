/*
 * store: the job store interface. Every backend (SQLite, PostgreSQL) is a const
 * struct sl_store_ops placed first in its own struct; callers use the sl_store_* wrappers only.
 *
 * Semantics every backend keeps (the contract suite in tests/ checks them):
 * - insert_jobs stores all n jobs in one transaction, or none, with the inline bytes of those
 *   that carry some. Concurrent calls may share one durable commit (group commit); each call
 *   still succeeds or fails on its own.
 * - claim takes up to `limit` pending jobs with due_at <= now, fair share across tenants
 *   (round-robin in the order of each tenant's oldest due job) and FIFO by created_at within a
 *   tenant, and marks them processing with lease_until = now + lease_ms and a new fencing token
 *   (job.fence). Two claimers, in one process or several, never get the same job.
 * - complete, fail, heartbeat and release apply only while the job is still processing under
 *   the caller's fence; otherwise they change nothing and return SL_EFENCED.
 * - fail counts the attempt: below max_attempts the job is pending again, due at retry_at;
 *   at max_attempts it is failed.
 * - cron_claim records a cron slot (path, scheduled time) and sets *won to 1 only for the one
 *   caller, across every process sharing the store, that recorded it first. The winner also
 *   forgets the path's slots more than SL_CRON_SLOT_KEEP_MS older than its own, so the table
 *   stays bounded (a slot a minute is 43,200 rows a month).
 * - release_expired turns every processing job whose lease ended before now into a failed
 *   attempt (pending again, due now, or failed at max_attempts) and reports how many.
 *
 * Ownership: jobs returned through struct sl_job ** are arrays the caller frees with
 * sl_jobs_free; single jobs are filled into caller memory and released with sl_job_fini.
 * On failure outputs are zeroed and nothing is allocated.
 * Thread rules: a store may be used from any number of threads at once.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include "core/job.h"
#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define SL_CURSOR_MAX           64
#define SL_QUEUE_PROCESSING_MAX 50                /* processing jobs listed by the queue status */
#define SL_CRON_SLOT_KEEP_MS    (30LL * 86400000) /* cron slots kept behind the newest, ms */

struct sl_job_filter {
    const char *status; /* NULL: any */
    const char *type;   /* NULL: any */
    const char *tenant; /* NULL: any */
    /* Position after which the page starts (from sl_cursor_parse); cursor_id "" = newest. */
    int64_t cursor_created_at;
    char cursor_id[SL_UUID_MAX];
    int limit; /* 1..200 */
};

/*
 * A list cursor is the (created_at, id) of the last job of a page, as "<ms>.<id>": jobs are
 * listed newest first by created_at, then id, so the next page starts strictly after it.
 */
void sl_cursor_format(int64_t created_at, const char *id, char out[SL_CURSOR_MAX]);
/* Parses a cursor into f; returns 0 or SL_EINVALID. */
int sl_cursor_parse(const char *text, struct sl_job_filter *f);

struct sl_job_brief {
    char id[SL_UUID_MAX];
    char *file_name;
    char *type;
    int64_t created_at;
    int64_t started_at;
};

struct sl_queue_status {
    int64_t counts[SL_JOB_STATUS_COUNT];
    int64_t total;
    int64_t oldest_pending_at; /* 0 when none is pending */
    int has_next;
    struct sl_job_brief next_job;
    struct sl_job_brief *processing; /* up to SL_QUEUE_PROCESSING_MAX, oldest start first */
    size_t processing_count;
};

struct sl_type_counts {
    char *type;
    int64_t counts[SL_JOB_STATUS_COUNT];
    int64_t total;
};

struct sl_day_counts {
    int64_t day; /* days since the epoch, UTC */
    int64_t created;
    int64_t completed;
    int64_t failed;
};

struct sl_stats {
    int days;
    int64_t since; /* ms */
    int64_t total;
    int64_t counts[SL_JOB_STATUS_COUNT];
    struct sl_type_counts *types;
    size_t type_count;
    double avg_processing_ms;  /* < 0 when no job completed */
    int64_t p50_processing_ms; /* < 0 when no job completed */
    int64_t p95_processing_ms;
    double avg_wait_ms;          /* created to started, over started jobs; < 0 when none */
    struct sl_day_counts *daily; /* one per day from since's date to now's, oldest first */
    size_t day_count;
};

/* One imported record, as an import writes it. */
struct sl_record_in {
    const char *key;
    const char *data; /* JSON object text, or an array of values (record_data.h) */
};

/* One row error of an import ({row, field, value, message} in the contract). */
struct sl_row_error {
    int64_t row;       /* data row from 1; 0 for a file-level note */
    const char *field; /* may be NULL */
    const char *value; /* may be NULL */
    const char *message;
};

/* A stored record, owned by the caller (sl_record_fini). */
struct sl_record {
    char *key;
    char *data; /* JSON object text */
    char job_id[SL_UUID_MAX];
    int64_t created_at;
    int64_t updated_at;
};

/* A stored row error, owned by the caller (sl_row_errors_free). */
struct sl_row_error_out {
    int64_t seq;
    int64_t row;
    char *field;
    char *value;
    char *message;
};

struct sl_store;

struct sl_store_ops {
    const char *name;
    int (*migrate)(struct sl_store *s, struct sl_error *err);
    int (*insert_jobs)(struct sl_store *s, const struct sl_job *jobs, size_t n,
                       struct sl_error *err);
    int (*release_expired)(struct sl_store *s, int64_t now, int *rescued, struct sl_error *err);
    int (*claim)(struct sl_store *s, int64_t now, int limit, int64_t lease_ms, struct sl_job **jobs,
                 size_t *n, struct sl_error *err);
    int (*heartbeat)(struct sl_store *s, const char *id, int64_t fence, int64_t lease_until,
                     struct sl_error *err);
    int (*complete)(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                    int64_t processing_ms, const char *result, struct sl_error *err);
    int (*fail)(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                int64_t processing_ms, const char *message, int64_t retry_at,
                enum sl_job_status *became, struct sl_error *err);
    int (*release)(struct sl_store *s, const char *id, int64_t fence, struct sl_error *err);
    int (*get_job)(struct sl_store *s, const char *id, struct sl_job *out, struct sl_error *err);
    int (*list_jobs)(struct sl_store *s, const struct sl_job_filter *f, struct sl_job **jobs,
                     size_t *n, char next_cursor[SL_CURSOR_MAX], struct sl_error *err);
    int (*retry_job)(struct sl_store *s, const char *id, int64_t now, struct sl_job *out,
                     struct sl_error *err);
    int (*cancel_job)(struct sl_store *s, const char *id, struct sl_job *out, struct sl_error *err);
    int (*queue_status)(struct sl_store *s, const char *tenant, int64_t now,
                        struct sl_queue_status *out, struct sl_error *err);
    int (*stats)(struct sl_store *s, int days, const char *tenant, int64_t now,
                 struct sl_stats *out, struct sl_error *err);
    int (*count_due)(struct sl_store *s, int64_t now, int64_t *n, struct sl_error *err);
    int (*ping)(struct sl_store *s, struct sl_error *err);
    int (*next_due)(struct sl_store *s, int64_t *due_at, struct sl_error *err);
    int (*cron_claim)(struct sl_store *s, const char *path, int64_t slot_at, int64_t now,
                      const char *node, int *won, struct sl_error *err);
    int (*cron_record)(struct sl_store *s, const char *path, int64_t slot_at, int status,
                       int64_t duration_ms, int skipped, struct sl_error *err);
    int (*cron_last_run)(struct sl_store *s, const char *path, int64_t *at, struct sl_error *err);
    int (*progress)(struct sl_store *s, const char *id, int64_t fence, const char *result,
                    struct sl_error *err);
    int (*upsert_records)(struct sl_store *s, const char *tenant, const char *type,
                          const char *job_id, const char *columns, const struct sl_record_in *recs,
                          size_t n, int64_t now, int64_t *created, int64_t *updated,
                          struct sl_error *err);
    int (*add_row_errors)(struct sl_store *s, const char *job_id, int64_t first_seq,
                          const struct sl_row_error *errs, size_t n, struct sl_error *err);
    int (*clear_row_errors)(struct sl_store *s, const char *job_id, struct sl_error *err);
    int (*list_row_errors)(struct sl_store *s, const char *job_id, int64_t after_seq, int limit,
                           struct sl_row_error_out **out, size_t *n, int64_t *next_seq,
                           struct sl_error *err);
    int (*list_records)(struct sl_store *s, const char *tenant, const char *type,
                        const char *after_key, int limit, struct sl_record **out, size_t *n,
                        int *more, struct sl_error *err);
    int (*get_record)(struct sl_store *s, const char *tenant, const char *type, const char *key,
                      struct sl_record *out, struct sl_error *err);
    int (*read_inline)(struct sl_store *s, const char *job_id, void **data, size_t *len,
                       struct sl_error *err);
    void (*close)(struct sl_store *s);
    int (*watch)(struct sl_store *s, void (*on_change)(void *arg), void *arg, struct sl_error *err);
    int (*count_jobs)(struct sl_store *s, struct sl_type_counts **out, size_t *n,
                      struct sl_error *err);
};

struct sl_store {
    const struct sl_store_ops *ops;
};

/*
 * Opens the store that url names ("sqlite:PATH", or "postgres://..." / "postgresql://...")
 * and brings its schema up to date. Returns 0 and *out, or an SL_E* code with err filled.
 */
int sl_store_open(const char *url, struct sl_store **out, struct sl_error *err);
void sl_store_close(struct sl_store *s);

/* Thin wrappers: see the ops above for each one's contract. */
int sl_store_migrate(struct sl_store *s, struct sl_error *err);
int sl_store_insert_jobs(struct sl_store *s, const struct sl_job *jobs, size_t n,
                         struct sl_error *err);
int sl_store_release_expired(struct sl_store *s, int64_t now, int *rescued, struct sl_error *err);
int sl_store_claim(struct sl_store *s, int64_t now, int limit, int64_t lease_ms,
                   struct sl_job **jobs, size_t *n, struct sl_error *err);
int sl_store_heartbeat(struct sl_store *s, const char *id, int64_t fence, int64_t lease_until,
                       struct sl_error *err);
int sl_store_complete(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                      int64_t processing_ms, const char *result, struct sl_error *err);
int sl_store_fail(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                  int64_t processing_ms, const char *message, int64_t retry_at,
                  enum sl_job_status *became, struct sl_error *err);
int sl_store_release(struct sl_store *s, const char *id, int64_t fence, struct sl_error *err);
int sl_store_get_job(struct sl_store *s, const char *id, struct sl_job *out, struct sl_error *err);
int sl_store_list_jobs(struct sl_store *s, const struct sl_job_filter *f, struct sl_job **jobs,
                       size_t *n, char next_cursor[SL_CURSOR_MAX], struct sl_error *err);
int sl_store_retry_job(struct sl_store *s, const char *id, int64_t now, struct sl_job *out,
                       struct sl_error *err);
int sl_store_cancel_job(struct sl_store *s, const char *id, struct sl_job *out,
                        struct sl_error *err);
int sl_store_queue_status(struct sl_store *s, const char *tenant, int64_t now,
                          struct sl_queue_status *out, struct sl_error *err);
int sl_store_stats(struct sl_store *s, int days, const char *tenant, int64_t now,
                   struct sl_stats *out, struct sl_error *err);
int sl_store_count_due(struct sl_store *s, int64_t now, int64_t *n, struct sl_error *err);
int sl_store_ping(struct sl_store *s, struct sl_error *err);
/* The earliest due_at of a pending job, 0 when none is pending. */
int sl_store_next_due(struct sl_store *s, int64_t *due_at, struct sl_error *err);
int sl_store_cron_claim(struct sl_store *s, const char *path, int64_t slot_at, int64_t now,
                        const char *node, int *won, struct sl_error *err);
/* Records how a claimed slot went: the HTTP status (or a negative SL_E* code), how long the
 * call took, and whether it was skipped (a batch of this process was still running). */
int sl_store_cron_record(struct sl_store *s, const char *path, int64_t slot_at, int status,
                         int64_t duration_ms, int skipped, struct sl_error *err);
/* When path was last fired (not skipped) by any process: ms, 0 when never. */
int sl_store_cron_last_run(struct sl_store *s, const char *path, int64_t *at, struct sl_error *err);

/* Sets a processing job's result to a progress summary, under its fence (SL_EFENCED if lost). */
int sl_store_progress(struct sl_store *s, const char *id, int64_t fence, const char *result,
                      struct sl_error *err);
/*
 * Inserts or replaces n records of (tenant, type) in one transaction, counting how many keys
 * were new (*created) and how many existed (*updated). All or nothing. A record's data is a JSON
 * object, or an array of values under `columns` (a JSON array of names; NULL when no record
 * uses it): see record_data.h. Either way the record reads back as the object.
 */
int sl_store_upsert_records(struct sl_store *s, const char *tenant, const char *type,
                            const char *job_id, const char *columns,
                            const struct sl_record_in *recs, size_t n, int64_t now,
                            int64_t *created, int64_t *updated, struct sl_error *err);
/* Appends row errors numbered first_seq, first_seq + 1, ... in one transaction. */
int sl_store_add_row_errors(struct sl_store *s, const char *job_id, int64_t first_seq,
                            const struct sl_row_error *errs, size_t n, struct sl_error *err);
/* Removes a job's row errors (an import starting again). */
int sl_store_clear_row_errors(struct sl_store *s, const char *job_id, struct sl_error *err);
/* Up to limit row errors with seq > after_seq, in order; *next_seq is 0 on the last page. */
int sl_store_list_row_errors(struct sl_store *s, const char *job_id, int64_t after_seq, int limit,
                             struct sl_row_error_out **out, size_t *n, int64_t *next_seq,
                             struct sl_error *err);
/* Up to limit records of (tenant, type) with key > after_key (NULL: from the first), by key;
 * *more is 1 when another page follows. */
int sl_store_list_records(struct sl_store *s, const char *tenant, const char *type,
                          const char *after_key, int limit, struct sl_record **out, size_t *n,
                          int *more, struct sl_error *err);
int sl_store_get_record(struct sl_store *s, const char *tenant, const char *type, const char *key,
                        struct sl_record *out, struct sl_error *err);

/* The bytes of a job's inline file: a malloc'd copy (*data, *len) the caller frees. */
int sl_store_read_inline(struct sl_store *s, const char *job_id, void **data, size_t *len,
                         struct sl_error *err);

/*
 * Calls on_change(arg) from a thread the store owns whenever jobs are inserted, change status or
 * are removed by any process sharing the store, until the store closes, so that a live view can
 * follow other nodes' changes. Calls may coalesce and may come for this process's own changes
 * too. Call it once, at start-up. PostgreSQL: LISTEN/NOTIFY on a connection of its own,
 * listening once this returns, reconnecting by itself (then calling once, since changes may have
 * been missed); a second call is SL_ECONFLICT. SQLite: returns 0 and never calls (other
 * processes sharing the file are not announced).
 */
int sl_store_watch(struct sl_store *s, void (*on_change)(void *arg), void *arg,
                   struct sl_error *err);

/*
 * Every job in the store counted by type and status, from the counters triggers keep (no scan):
 * *out is an array of *n entries ordered by type, freed with sl_type_counts_free.
 */
int sl_store_count_jobs(struct sl_store *s, struct sl_type_counts **out, size_t *n,
                        struct sl_error *err);
void sl_type_counts_free(struct sl_type_counts *t, size_t n);

void sl_record_fini(struct sl_record *r);
void sl_records_free(struct sl_record *r, size_t n);
void sl_row_errors_free(struct sl_row_error_out *e, size_t n);

void sl_queue_status_fini(struct sl_queue_status *q);
void sl_stats_fini(struct sl_stats *st);

#endif
