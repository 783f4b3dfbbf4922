/*
 * DESIGN: group commit.
 *
 * An upload is acknowledged only once its jobs are durable, and with synchronous=FULL every
 * commit waits for an fsync. One fsync per upload caps throughput at the disk's sync rate, so
 * concurrent inserts share commits: a caller queues its request; if no one is committing, it
 * becomes the leader, takes every request queued so far and commits them in one transaction
 * (one fsync); callers that arrive meanwhile queue up for the next leader. Each request runs
 * under its own SAVEPOINT, so one failing request (a duplicate id, say) is rolled back alone
 * and the others still commit. A request returns only after the commit that holds it.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

struct insert_req {
    const struct sl_job *jobs;
    size_t n;
    int rc;
    struct sl_error err;
    int done;
    struct insert_req *next;
};

void sq_group_init(struct sqlite_store *ss)
{
    memset(&ss->group, 0, sizeof ss->group);
    pthread_mutex_init(&ss->group.lock, NULL);
    pthread_cond_init(&ss->group.done, NULL);
}

void sq_group_fini(struct sqlite_store *ss)
{
    pthread_cond_destroy(&ss->group.done);
    pthread_mutex_destroy(&ss->group.lock);
}

static int insert_one(struct sqlite_store *ss, sqlite3_stmt *job, sqlite3_stmt *blob,
                      const struct sl_job *j, struct sl_error *err)
{
    sqlite3_reset(job);
    sq_bind_text(job, 1, j->id);
    sq_bind_text(job, 2, j->upload_id);
    sq_bind_text(job, 3, j->tenant);
    sq_bind_text(job, 4, j->type);
    sq_bind_text(job, 5, sl_job_status_name(j->status));
    sq_bind_text(job, 6, j->file_name);
    sq_bind_text(job, 7, j->content_type);
    sq_bind_text(job, 8, j->blob_key);
    sqlite3_bind_int64(job, 9, j->size);
    sq_bind_text(job, 10, j->sha256);
    sqlite3_bind_int(job, 11, j->attempts);
    sqlite3_bind_int(job, 12, j->max_attempts);
    sqlite3_bind_int64(job, 13, j->created_at);
    sqlite3_bind_int64(job, 14, j->next_attempt_at ? j->next_attempt_at : j->created_at);
    if (sqlite3_step(job) != SQLITE_DONE)
        return sq_db_fail(ss, err, "insert job");
    if (!j->inline_data)
        return 0;
    sqlite3_reset(blob);
    sq_bind_text(blob, 1, j->id);
    sqlite3_bind_blob64(blob, 2, j->inline_data, j->inline_len, SQLITE_STATIC);
    if (sqlite3_step(blob) != SQLITE_DONE)
        return sq_db_fail(ss, err, "insert inline file");
    return 0;
}

/* Inserts one request's jobs inside its own savepoint; a failure undoes just this request. */
static void insert_request(struct sqlite_store *ss, sqlite3_stmt *job, sqlite3_stmt *blob,
                           struct insert_req *r)
{
    r->rc = sq_exec(ss, "SAVEPOINT req", &r->err);
    for (size_t i = 0; r->rc == 0 && i < r->n; i++)
        r->rc = insert_one(ss, job, blob, &r->jobs[i], &r->err);
    if (r->rc)
        sq_exec(ss, "ROLLBACK TO req", NULL);
    sq_exec(ss, "RELEASE req", NULL);
}

/* Commits a chain of requests in one transaction, setting each one's outcome. */
static void commit_group(struct sqlite_store *ss, struct insert_req *batch)
{
    sqlite3_stmt *job = NULL, *blob = NULL;
    struct sl_error err = {0};
    int rc = sq_write_lock(ss, &err);
    if (rc == 0)
        rc = sq_prepare(ss,
                        "INSERT INTO jobs (id, upload_id, tenant, type, status, file_name, "
                        "content_type, blob_key, size, sha256, attempts, max_attempts, "
                        "created_at, due_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,"
                        "?13,?14)",
                        &job, &err);
    if (rc == 0)
        rc = sq_prepare(ss, "INSERT INTO blob_inline (job_id, data) VALUES (?1, ?2)", &blob, &err);
    for (struct insert_req *r = batch; rc == 0 && r; r = r->next)
        insert_request(ss, job, blob, r);
    sq_finalize(ss, job);
    sq_finalize(ss, blob);
    if (rc == 0)
        rc = sq_exec(ss, "COMMIT", &err);
    if (rc) {
        sq_rollback(ss);
        for (struct insert_req *r = batch; r; r = r->next) { /* nothing of the group is stored */
            r->rc = rc;
            r->err = err;
        }
    }
    pthread_mutex_unlock(&ss->lock);
}

int sq_insert_jobs(struct sl_store *s, const struct sl_job *jobs, size_t n, struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    struct insert_group *g = &ss->group;
    struct insert_req req = {.jobs = jobs, .n = n};

    pthread_mutex_lock(&g->lock);
    if (g->tail)
        g->tail->next = &req;
    else
        g->head = &req;
    g->tail = &req;
    while (!req.done) {
        if (g->leading) {
            pthread_cond_wait(&g->done, &g->lock);
            continue;
        }
        struct insert_req *batch = g->head;
        g->head = g->tail = NULL;
        g->leading = 1;
        pthread_mutex_unlock(&g->lock);
        commit_group(ss, batch);
        pthread_mutex_lock(&g->lock);
        for (struct insert_req *r = batch, *next; r; r = next) {
            next = r->next; /* r may be gone once done is set and its caller wakes */
            r->done = 1;
        }
        g->leading = 0;
        pthread_cond_broadcast(&g->done);
    }
    pthread_mutex_unlock(&g->lock);
    if (req.rc && err)
        *err = req.err;
    return req.rc;
}

int sq_read_inline(struct sl_store *s, const char *job_id, void **data, size_t *len,
                   struct sl_error *err)
{
    struct sqlite_store *ss = (struct sqlite_store *)s;
    sqlite3_stmt *st;
    *data = NULL;
    *len = 0;
    pthread_mutex_lock(&ss->lock);
    int rc = sq_prepare(ss, "SELECT data FROM blob_inline WHERE job_id = ?1", &st, err);
    if (rc == 0) {
        sq_bind_text(st, 1, job_id);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            const void *p = sqlite3_column_blob(st, 0);
            *data = malloc(n ? n : 1);
            if (!*data)
                rc = SL_ENOMEM;
            else if (n)
                memcpy(*data, p, n);
            *len = n;
        } else {
            rc = r == SQLITE_DONE ? sl_err_set(err, SL_ENOT_FOUND, "the job's file is missing")
                                  : sq_db_fail(ss, err, "read inline file");
        }
        sq_finalize(ss, st);
    }
    pthread_mutex_unlock(&ss->lock);
    return rc;
}
