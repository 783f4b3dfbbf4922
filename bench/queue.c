/*
 * queue: the queue-cycle benchmark's two sides (bench/queue.sh runs both, in the same run).
 *
 *   queue sluice FOLDER N   enqueues N jobs of type "noop" through the store API
 *                           (sl_store_insert_jobs, one job per call: one transaction, as one
 *                           upload of one file), then drains them with the batch runner
 *                           (sl_runner_run, batches of 100) whose processor for "noop" does
 *                           nothing. Store: sqlite:FOLDER/sluice.db, as sluice opens it (WAL,
 *                           synchronous=FULL).
 *   queue floor FOLDER N    the bare SQLite floor: the fewest statements that insert, claim
 *                           (UPDATE ... RETURNING) and delete a row, each its own transaction,
 *                           on a file with the same settings (WAL, synchronous=FULL); N inserts,
 *                           then N claim + delete.
 *   queue sluice FOLDER N URL    the sluice side on the PostgreSQL store at URL (blobs in FOLDER).
 *   queue floor-pg URL N    the bare PostgreSQL floor: the same three statements (the claim with
 *                           FOR UPDATE SKIP LOCKED, as any PostgreSQL queue), each its own
 *                           transaction, on the same server.
 *
 * Prints one line: "jobs total_s enqueue_s drain_s". Exit 1 on any failure (wrong count too).
 */
#include "blob/blob.h"
#include "core/batch.h"
#include "core/processor.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static double secs_since(int64_t t0_us)
{
    return (double)(sl_mono_us() - t0_us) / 1e6;
}

static int noop(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    *result = NULL;
    return 0;
}

static int enqueue(struct sl_store *store, long n)
{
    struct sl_error err = {0};
    for (long i = 0; i < n; i++) {
        struct sl_job j;
        memset(&j, 0, sizeof j);
        int64_t now = sl_now_ms();
        if (sl_uuid7(now, j.id) != 0 || sl_uuid7(now, j.upload_id) != 0)
            return -1;
        j.tenant = "default";
        j.type = "noop";
        j.file_name = "noop.bin";
        j.content_type = "application/octet-stream";
        snprintf(j.blob_key, sizeof j.blob_key, "%s/%s", j.upload_id, j.id);
        memcpy(j.sha256, EMPTY_SHA256, sizeof EMPTY_SHA256);
        j.status = SL_JOB_PENDING;
        j.max_attempts = 3;
        j.created_at = now;
        j.processing_ms = -1;
        if (sl_store_insert_jobs(store, &j, 1, &err) != 0) {
            fprintf(stderr, "queue: insert: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

static long drain(struct sl_runner *runner)
{
    long done = 0;
    for (;;) {
        struct sl_batch_result res;
        struct sl_error err = {0};
        if (sl_runner_run(runner, 100, &res, &err) != 0) {
            fprintf(stderr, "queue: batch: %s\n", err.msg);
            return -1;
        }
        size_t count = res.count;
        done += res.succeeded;
        if (res.succeeded != res.processed)
            fprintf(stderr, "queue: %d of %d jobs did not succeed\n", res.processed - res.succeeded,
                    res.processed);
        sl_batch_result_fini(&res);
        if (count == 0)
            return done;
    }
}

static int run_sluice(const char *dir, long n, const char *store_url)
{
    char db_url[4096], blob_url[4096];
    struct sl_store *store = NULL;
    struct sl_blob *blob = NULL;
    struct sl_runner *runner = NULL;
    struct sl_processors procs;
    struct sl_error err = {0};
    int rc = 1;

    if (store_url)
        snprintf(db_url, sizeof db_url, "%s", store_url);
    else
        snprintf(db_url, sizeof db_url, "sqlite:%s/sluice.db", dir);
    snprintf(blob_url, sizeof blob_url, "file:%s/blobs", dir);
    struct sl_config cfg = {.host = "127.0.0.1",
                            .port = 3000,
                            .data_dir = (char *)dir,
                            .database_url = db_url,
                            .blob_url = blob_url,
                            .batch_size = 100,
                            .max_attempts = 3,
                            .max_upload_bytes = 1073741824,
                            .max_files = 100,
                            .job_timeout_s = 300,
                            .retry_base_ms = 10000,
                            .retry_max_ms = 3600000,
                            .shutdown_grace_s = 10};
    if (sl_store_open(db_url, &store, &err) != 0 || sl_blob_open(blob_url, &blob, &err) != 0) {
        fprintf(stderr, "queue: open: %s\n", err.msg);
        goto out;
    }
    sl_processors_init(&procs);
    if (sl_processors_set(&procs, "noop", noop, NULL) != 0 ||
        sl_runner_new(&cfg, store, blob, &procs, &runner) != 0) {
        fprintf(stderr, "queue: cannot set up the runner\n");
        goto out;
    }
    int64_t t0 = sl_mono_us();
    if (enqueue(store, n) != 0)
        goto out;
    double enq = secs_since(t0);
    int64_t t1 = sl_mono_us();
    long done = drain(runner);
    double drn = secs_since(t1);
    if (done != n) {
        fprintf(stderr, "queue: drained %ld jobs of %ld\n", done, n);
        goto out;
    }
    printf("%ld %.4f %.4f %.4f\n", n, enq + drn, enq, drn);
    rc = 0;
out:
    sl_runner_free(runner);
    if (blob)
        sl_blob_close(blob);
    if (store)
        sl_store_close(store);
    return rc;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "queue: floor: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int step_done(sqlite3 *db, sqlite3_stmt *st)
{
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r != SQLITE_DONE) {
        fprintf(stderr, "queue: floor: %s\n", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

static int run_floor(const char *dir, long n)
{
    char path[4096];
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *claim = NULL, *del = NULL;
    int rc = 1;
    long done = 0;

    snprintf(path, sizeof path, "%s/floor.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        exec_sql(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                     "CREATE TABLE q (id INTEGER PRIMARY KEY, state INTEGER NOT NULL DEFAULT 0,"
                     " payload TEXT NOT NULL)") != 0)
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO q (payload) VALUES (?1)", -1, &ins, NULL) ||
        sqlite3_prepare_v2(db,
                           "UPDATE q SET state = 1 WHERE id ="
                           " (SELECT id FROM q WHERE state = 0 ORDER BY id LIMIT 1)"
                           " RETURNING id, payload",
                           -1, &claim, NULL) ||
        sqlite3_prepare_v2(db, "DELETE FROM q WHERE id = ?1", -1, &del, NULL)) {
        fprintf(stderr, "queue: floor: %s\n", sqlite3_errmsg(db));
        goto out;
    }
    int64_t t0 = sl_mono_us();
    for (long i = 0; i < n; i++) {
        sqlite3_bind_text(ins, 1, "noop", -1, SQLITE_STATIC);
        if (step_done(db, ins) != 0)
            goto out;
    }
    double enq = secs_since(t0);
    int64_t t1 = sl_mono_us();
    for (;;) {
        if (sqlite3_step(claim) != SQLITE_ROW)
            break;
        sqlite3_int64 id = sqlite3_column_int64(claim, 0);
        if (sqlite3_step(claim) != SQLITE_DONE) /* finishes the statement: commits */
            break;
        sqlite3_reset(claim);
        sqlite3_bind_int64(del, 1, id);
        if (step_done(db, del) != 0)
            goto out;
        done++;
    }
    sqlite3_reset(claim);
    double drn = secs_since(t1);
    if (done != n) {
        fprintf(stderr, "queue: floor drained %ld rows of %ld\n", done, n);
        goto out;
    }
    printf("%ld %.4f %.4f %.4f\n", n, enq + drn, enq, drn);
    rc = 0;
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(claim);
    sqlite3_finalize(del);
    sqlite3_close(db);
    return rc;
}

/* Runs sql with params on db; 0 when it gave want (PGRES_COMMAND_OK or PGRES_TUPLES_OK). */
static int pg_ok(PGconn *db, PGresult *r, ExecStatusType want, const char *what)
{
    int ok = r && PQresultStatus(r) == want;
    if (!ok)
        fprintf(stderr, "queue: floor-pg: %s: %s\n", what, PQerrorMessage(db));
    return ok ? 0 : -1;
}

static int run_floor_pg(const char *url, long n)
{
    PGconn *db = PQconnectdb(url);
    PGresult *r = NULL;
    int rc = 1;
    long done = 0;
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "queue: floor-pg: %s\n", PQerrorMessage(db));
        goto out;
    }
    r = PQexec(db, "CREATE TABLE q (id bigserial PRIMARY KEY, state int NOT NULL DEFAULT 0,"
                   " payload text NOT NULL)");
    if (pg_ok(db, r, PGRES_COMMAND_OK, "create") != 0)
        goto out;
    PQclear(r);
    r = PQprepare(db, "ins", "INSERT INTO q (payload) VALUES ($1)", 1, NULL);
    if (pg_ok(db, r, PGRES_COMMAND_OK, "prepare") != 0)
        goto out;
    PQclear(r);
    r = PQprepare(db, "claim",
                  "UPDATE q SET state = 1 WHERE id = (SELECT id FROM q WHERE state = 0"
                  " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id, payload",
                  0, NULL);
    if (pg_ok(db, r, PGRES_COMMAND_OK, "prepare") != 0)
        goto out;
    PQclear(r);
    r = PQprepare(db, "del", "DELETE FROM q WHERE id = $1::bigint", 1, NULL);
    if (pg_ok(db, r, PGRES_COMMAND_OK, "prepare") != 0)
        goto out;
    PQclear(r);
    r = NULL;

    const char *payload[1] = {"noop"};
    int64_t t0 = sl_mono_us();
    for (long i = 0; i < n; i++) {
        r = PQexecPrepared(db, "ins", 1, payload, NULL, NULL, 0);
        if (pg_ok(db, r, PGRES_COMMAND_OK, "insert") != 0)
            goto out;
        PQclear(r);
    }
    r = NULL;
    double enq = secs_since(t0);
    int64_t t1 = sl_mono_us();
    for (;;) {
        r = PQexecPrepared(db, "claim", 0, NULL, NULL, NULL, 0);
        if (pg_ok(db, r, PGRES_TUPLES_OK, "claim") != 0)
            goto out;
        if (PQntuples(r) == 0)
            break;
        char id[32];
        snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        const char *del[1] = {id};
        r = PQexecPrepared(db, "del", 1, del, NULL, NULL, 0);
        if (pg_ok(db, r, PGRES_COMMAND_OK, "delete") != 0)
            goto out;
        PQclear(r);
        r = NULL;
        done++;
    }
    double drn = secs_since(t1);
    if (done != n) {
        fprintf(stderr, "queue: floor-pg drained %ld rows of %ld\n", done, n);
        goto out;
    }
    printf("%ld %.4f %.4f %.4f\n", n, enq + drn, enq, drn);
    rc = 0;
out:
    PQclear(r);
    PQfinish(db);
    return rc;
}

int main(int argc, char **argv)
{
    int sluice = argc >= 4 && strcmp(argv[1], "sluice") == 0;
    int floor = argc == 4 && strcmp(argv[1], "floor") == 0;
    int floor_pg = argc == 4 && strcmp(argv[1], "floor-pg") == 0;
    if (!(sluice && argc <= 5) && !floor && !floor_pg) {
        fprintf(stderr, "usage: queue sluice FOLDER JOBS [STORE_URL] | floor FOLDER JOBS |"
                        " floor-pg URL JOBS\n");
        return 2;
    }
    char *end = NULL;
    long n = strtol(argv[3], &end, 10);
    if (!end || *end || n <= 0) {
        fprintf(stderr, "queue: JOBS must be a positive number\n");
        return 2;
    }
    sl_log_set_level(SL_LOG_INFO); /* the server's level: each job is logged, as in serve */
    if (sluice)
        return run_sluice(argv[2], n, argc == 5 ? argv[4] : NULL);
    return floor ? run_floor(argv[2], n) : run_floor_pg(argv[2], n);
}
