/*
 * test_store_contract: the job store interface (src/store/store.h), one suite for every backend.
 *
 * The backend comes from SLUICE_TEST_STORE_URL: unset (or "sqlite"), each test opens a fresh
 * SQLite file in its own temporary folder; a postgres:// URL (scripts/pg-test-server.sh run ...
 * sets one), each test gets a fresh schema in that database, created here and dropped at
 * teardown, and reaches it with ?options=-csearch_path=<schema>, so every test starts from
 * empty tables. `make contract` runs the suite once per backend.
 *
 * Every test drives time itself: all operations take `now`, so leases, retries and windows are
 * checked at exact instants instead of with sleeps. Jobs are built here with distinct,
 * increasing created_at values so that FIFO order is known in advance. Tests that only make
 * sense on a shared server (reconnecting after the server drops the connections) skip on SQLite.
 */
#include "testutil.h"

#include "core/job.h"
#include "store/postgres.h"
#include "store/stats_agg.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define T0    1796024351000LL /* 2026-11-30T07:39:11.000Z: when the test jobs are created */
#define SEC   1000LL
#define MIN   (60 * SEC)
#define HOUR  (60 * MIN)
#define NOW   (T0 + HOUR) /* a claim time after every job's creation */
#define LEASE (5 * MIN)

#define FX_OWNED_MAX   8
#define FX_SCHEMAS_MAX 4
#define URL_MAX        1024

struct fx {
    char dir[256];
    char url[URL_MAX];
    struct sl_store *s;
    /* PostgreSQL: the schemas this test made, dropped at teardown */
    char schemas[FX_SCHEMAS_MAX][64];
    int n_schemas;
    /* job arrays built by the test, released by teardown even when an assertion fails */
    struct sl_job *owned[FX_OWNED_MAX];
    size_t owned_n[FX_OWNED_MAX];
    int n_owned;
};

/* The PostgreSQL server's URL, or NULL for the SQLite backend. */
static const char *pg_base_url(void)
{
    const char *u = getenv("SLUICE_TEST_STORE_URL");
    if (!u || !*u || strcmp(u, "sqlite") == 0)
        return NULL;
    if (strncmp(u, "postgres://", 11) != 0 && strncmp(u, "postgresql://", 13) != 0) {
        print_error("SLUICE_TEST_STORE_URL must be unset, \"sqlite\" or a postgres:// URL\n");
        exit(2);
    }
    return u;
}

static int is_postgres(void)
{
    return pg_base_url() != NULL;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Runs one statement on a connection of the test's own (not the store's); 0 on success. */
static int admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(pg_base_url());
    int ok = PQstatus(c) == CONNECTION_OK;
    if (ok) {
        PQsetNoticeProcessor(c, quiet, NULL); /* "drop cascades to ..." */
        PGresult *r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok)
            print_error("%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        print_error("cannot connect to %s: %s", pg_base_url(), PQerrorMessage(c));
    }
    PQfinish(c);
    return ok ? 0 : -1;
}

/* A URL to a store of its own, with empty tables: a new SQLite file or PostgreSQL schema. */
static int new_store_url(struct fx *f, char url[URL_MAX])
{
    static int counter;
    char sql[128];
    const char *base = pg_base_url();
    counter++;
    if (!base) {
        snprintf(url, URL_MAX, "sqlite:%s/s%d.db", f->dir, counter);
        return 0;
    }
    if (f->n_schemas == FX_SCHEMAS_MAX)
        return -1;
    char *schema = f->schemas[f->n_schemas];
    snprintf(schema, 64, "sl_test_%d_%d", (int)getpid(), counter);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    if (admin_exec(sql) != 0)
        return -1;
    f->n_schemas++;
    snprintf(url, URL_MAX, "%s%coptions=-csearch_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
             schema);
    return 0;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_error err = {0};
    if (!f)
        return -1;
    sl_test_tmpdir(f->dir);
    if (new_store_url(f, f->url) != 0) {
        free(f);
        return -1;
    }
    int rc = sl_store_open(f->url, &f->s, &err);
    if (rc != 0) {
        print_error("sl_store_open(%s) returned %d (%s: %s)\n", f->url, rc, sl_err_code(rc),
                    err.msg);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_store_postgres_fault = NULL;
    sl_store_close(f->s);
    for (int i = 0; i < f->n_schemas; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->schemas[i]);
        admin_exec(sql);
    }
    for (int i = 0; i < f->n_owned; i++)
        sl_jobs_free(f->owned[i], f->owned_n[i]);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Building, inserting and reading jobs
 */

/* Fills j as a new pending job; its strings are heap copies released by sl_job_fini. */
static void make_job(struct sl_job *j, const char *tenant, const char *type, const char *file_name,
                     int64_t created_at)
{
    static const char hex[] = "0123456789abcdef";
    static unsigned seq;
    memset(j, 0, sizeof *j);
    assert_int_equal(sl_uuid7(created_at, j->id), 0);
    assert_int_equal(sl_uuid7(created_at, j->upload_id), 0);
    sl_test_job_strings(j, tenant, type, file_name, "text/csv");
    snprintf(j->blob_key, sizeof j->blob_key, "blob-%u", ++seq);
    for (int i = 0; i < 64; i++)
        j->sha256[i] = hex[(seq * 7 + (unsigned)i * 5) % 16];
    j->sha256[64] = '\0';
    j->size = 1000 + seq;
    j->status = SL_JOB_PENDING;
    j->attempts = 0;
    j->max_attempts = 3;
    j->created_at = created_at;
    j->processing_ms = -1;
}

/* A zeroed array of n jobs that the fixture owns and releases in teardown. */
static struct sl_job *new_jobs(struct fx *f, size_t n)
{
    assert_true(f->n_owned < FX_OWNED_MAX);
    struct sl_job *jobs = calloc(n, sizeof *jobs);
    assert_non_null(jobs);
    f->owned[f->n_owned] = jobs;
    f->owned_n[f->n_owned++] = n;
    return jobs;
}

static void insert(struct fx *f, const struct sl_job *jobs, size_t n)
{
    sl_test_insert_jobs(f->s, jobs, n);
}

static void get(struct fx *f, const char *id, struct sl_job *out)
{
    sl_test_get_job(f->s, id, out);
}

static size_t claim(struct fx *f, int64_t now, int limit, int64_t lease_ms, struct sl_job **jobs)
{
    struct sl_error err = {0};
    size_t n = 12345;
    *jobs = NULL;
    check_rc(sl_store_claim(f->s, now, limit, lease_ms, jobs, &n, &err), 0, &err);
    assert_true(n <= (size_t)limit);
    return n;
}

/* Claims exactly one job and returns its fence; checks it is the expected one. */
static int64_t claim_one(struct fx *f, int64_t now, int64_t lease_ms, const char *want_id)
{
    struct sl_job *jobs;
    size_t n = claim(f, now, 1, lease_ms, &jobs);
    char id[SL_UUID_MAX] = "";
    int64_t fence = 0;
    if (n == 1) {
        memcpy(id, jobs[0].id, SL_UUID_MAX);
        fence = jobs[0].fence;
    }
    sl_jobs_free(jobs, n);
    check_i64(n, 1);
    check_str(id, want_id);
    assert_true(fence > 0);
    return fence;
}

static void claim_none(struct fx *f, int64_t now)
{
    struct sl_job *jobs;
    size_t n = claim(f, now, 100, LEASE, &jobs);
    char id[SL_UUID_MAX] = "";
    if (n > 0)
        memcpy(id, jobs[0].id, SL_UUID_MAX);
    sl_jobs_free(jobs, n);
    if (n != 0)
        fail_msg("claim at %lld returned %zu jobs (first %s), expected none", (long long)now, n,
                 id);
}

static int rescue(struct fx *f, int64_t now)
{
    struct sl_error err = {0};
    int rescued = -1;
    check_rc(sl_store_release_expired(f->s, now, &rescued, &err), 0, &err);
    return rescued;
}

static void complete(struct fx *f, const char *id, int64_t fence, int64_t now, int64_t ms,
                     const char *result)
{
    struct sl_error err = {0};
    check_rc(sl_store_complete(f->s, id, fence, now, ms, result, &err), 0, &err);
}

static enum sl_job_status fail_job(struct fx *f, const char *id, int64_t fence, int64_t now,
                                   int64_t ms, const char *message, int64_t retry_at)
{
    struct sl_error err = {0};
    enum sl_job_status became = SL_JOB_STATUS_COUNT;
    check_rc(sl_store_fail(f->s, id, fence, now, ms, message, retry_at, &became, &err), 0, &err);
    return became;
}

/* The job's status and attempts as stored now (attempts < 0: not checked). */
static void check_stored(struct fx *f, const char *id, enum sl_job_status status, int attempts)
{
    struct sl_job j;
    get(f, id, &j);
    check_status(j.status, status);
    if (attempts >= 0)
        check_i64(j.attempts, attempts);
    sl_job_fini(&j);
}

static void check_not_found(struct fx *f, const char *id)
{
    struct sl_error err = {0};
    struct sl_job j;
    memset(&j, 0, sizeof j);
    int rc = sl_store_get_job(f->s, id, &j, &err);
    check_rc(rc, SL_ENOT_FOUND, &err);
    sl_job_fini(&j);
}

/* Index of id among jobs[0..n), or -1. */
static int index_of(const struct sl_job *jobs, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(jobs[i].id, id) == 0)
            return (int)i;
    return -1;
}

/*
 * Checks that got[0..n) are exactly want[order[0]], want[order[1]], ... in that order. On a
 * mismatch it releases got before failing, so that a failing test leaks nothing.
 */
static void check_order(struct sl_job *got, size_t n, const struct sl_job *want, size_t want_n,
                        const int *order, size_t order_n)
{
    char gots[512] = "", wants[512] = "";
    size_t gl = 0, wl = 0;
    int ok = n == order_n;
    for (size_t i = 0; i < n; i++) {
        int k = index_of(want, want_n, got[i].id);
        gl += (size_t)snprintf(gots + gl, gl < sizeof gots ? sizeof gots - gl : 0, "%d ", k);
        if (i < order_n && k != order[i])
            ok = 0;
        if (gl >= sizeof gots)
            gl = sizeof gots - 1;
    }
    for (size_t i = 0; i < order_n; i++) {
        wl += (size_t)snprintf(wants + wl, wl < sizeof wants ? sizeof wants - wl : 0, "%d ",
                               order[i]);
        if (wl >= sizeof wants)
            wl = sizeof wants - 1;
    }
    if (!ok) {
        sl_jobs_free(got, n);
        fail_msg("got jobs [ %s], expected [ %s] (indexes into the inserted jobs)", gots, wants);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Insert and get
 */

static void check_same_job(const struct sl_job *got, const struct sl_job *want)
{
    check_str(got->id, want->id);
    check_str(got->upload_id, want->upload_id);
    check_str(got->tenant, want->tenant);
    check_str(got->type, want->type);
    check_str(got->file_name, want->file_name);
    check_str(got->content_type, want->content_type);
    check_str(got->blob_key, want->blob_key);
    check_i64(got->size, want->size);
    check_str(got->sha256, want->sha256);
    check_status(got->status, SL_JOB_PENDING);
    check_i64(got->attempts, 0);
    check_i64(got->max_attempts, want->max_attempts);
    check_i64(got->created_at, want->created_at);
    check_i64(got->started_at, 0);
    check_i64(got->completed_at, 0);
    check_i64(got->next_attempt_at, 0);
    check_i64(got->processing_ms, -1);
    check_str(got->error, NULL);
    check_str(got->result, NULL);
}

static void test_insert_get_round_trip(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = new_jobs(f, 3);
    make_job(&jobs[0], "acme", "csv", "orders.csv", T0 + 1 * SEC);
    make_job(&jobs[1], "other", "json", "O'Brien \"quoted\" r\xc3\xa9sum\xc3\xa9; DROP TABLE.json",
             T0 + 2 * SEC);
    make_job(&jobs[2], "default", "file", "a", T0 + 3 * SEC);
    free(jobs[1].content_type);
    jobs[1].content_type = strdup("application/json; charset=utf-8");
    jobs[1].max_attempts = 5;
    jobs[2].max_attempts = 1;
    jobs[2].size = 5000000000LL; /* over 32 bits */
    snprintf(jobs[2].blob_key, sizeof jobs[2].blob_key, "%s", "2026/11/30/some-longer-blob-key");
    insert(f, jobs, 3);

    for (int i = 0; i < 3; i++) {
        struct sl_job got;
        get(f, jobs[i].id, &got);
        check_same_job(&got, &jobs[i]);
        sl_job_fini(&got);
    }
}

static void test_get_unknown_is_not_found(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);

    char unknown[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(T0 + 5, unknown), 0);
    struct sl_error err = {0};
    struct sl_job out;
    memset(&out, 0, sizeof out);
    snprintf(out.id, sizeof out.id, "%s", "garbage");
    out.attempts = 99;
    int rc = sl_store_get_job(f->s, unknown, &out, &err);
    check_rc(rc, SL_ENOT_FOUND, &err);
    /* on failure outputs are zeroed */
    check_str(out.id, "");
    check_i64(out.attempts, 0);
    assert_null(out.tenant);
}

/* insert_jobs stores all n jobs in one transaction, or none. */
static void test_insert_all_or_nothing(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 4);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0 + 1);
    make_job(&jobs[1], "acme", "csv", "b.csv", T0 + 2);
    make_job(&jobs[2], "acme", "csv", "c.csv", T0 + 3);
    memcpy(jobs[2].id, jobs[0].id, SL_UUID_MAX); /* the third repeats the first's id */
    int rc = sl_store_insert_jobs(f->s, jobs, 3, &err);
    if (rc == 0)
        fail_msg("inserting a duplicate id succeeded");
    check_not_found(f, jobs[0].id);
    check_not_found(f, jobs[1].id);

    struct sl_job_filter all = {.limit = 200};
    struct sl_job *listed = NULL;
    size_t n = 99;
    char cursor[SL_CURSOR_MAX];
    check_rc(sl_store_list_jobs(f->s, &all, &listed, &n, cursor, &err), 0, &err);
    check_i64(n, 0);
    sl_jobs_free(listed, n);
    int64_t due = -1;
    check_rc(sl_store_count_due(f->s, NOW, &due, &err), 0, &err);
    check_i64(due, 0);

    /* The failed insert left nothing that blocks the good jobs. */
    insert(f, jobs, 2);
    check_stored(f, jobs[0].id, SL_JOB_PENDING, 0);
    check_stored(f, jobs[1].id, SL_JOB_PENDING, 0);

    /* A batch whose second job clashes with a stored one stores nothing either. */
    make_job(&jobs[3], "acme", "csv", "d.csv", T0 + 4);
    struct sl_job pair[2];
    pair[0] = jobs[3];
    pair[1] = jobs[1];
    rc = sl_store_insert_jobs(f->s, pair, 2, &err);
    if (rc == 0)
        fail_msg("inserting an id that is already stored succeeded");
    check_not_found(f, jobs[3].id);
    check_rc(sl_store_list_jobs(f->s, &all, &listed, &n, cursor, &err), 0, &err);
    check_i64(n, 2);
    sl_jobs_free(listed, n);
}

/* ---------------------------------------------------------------------------------------------
 * Claim
 */

static void test_claim_fifo_and_limit(void **state)
{
    struct fx *f = *state;
    /* inserted out of creation order, so FIFO must come from created_at */
    const int created_rank[7] = {3, 0, 6, 1, 5, 2, 4};
    struct sl_job *jobs = new_jobs(f, 7);
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.csv", created_rank[i]);
        make_job(&jobs[i], "acme", "csv", name, T0 + created_rank[i] * SEC);
    }
    insert(f, jobs, 7);

    struct sl_job *got;
    size_t n = claim(f, NOW, 5, LEASE, &got);
    const int first[5] = {1, 3, 5, 0, 6}; /* ranks 0..4 */
    check_order(got, n, jobs, 7, first, 5);
    for (size_t i = 0; i < n; i++) {
        int k = index_of(jobs, 7, got[i].id);
        check_status(got[i].status, SL_JOB_PROCESSING);
        check_i64(got[i].started_at, NOW);
        check_i64(got[i].created_at, jobs[k].created_at);
        check_i64(got[i].attempts, 0);
        check_str(got[i].tenant, "acme");
        check_str(got[i].file_name, jobs[k].file_name);
        check_str(got[i].blob_key, jobs[k].blob_key);
        check_str(got[i].sha256, jobs[k].sha256);
        if (got[i].fence <= 0)
            fail_msg("claimed job %zu has fence %lld, expected > 0", i, (long long)got[i].fence);

        struct sl_job stored;
        get(f, got[i].id, &stored);
        check_status(stored.status, SL_JOB_PROCESSING);
        check_i64(stored.started_at, NOW);
        check_i64(stored.fence, got[i].fence);
        sl_job_fini(&stored);
    }
    sl_jobs_free(got, n);

    /* the rest, and then nothing: a claimed job is never handed out twice */
    n = claim(f, NOW + 1, 5, LEASE, &got);
    const int rest[2] = {4, 2}; /* ranks 5, 6 */
    check_order(got, n, jobs, 7, rest, 2);
    sl_jobs_free(got, n);
    claim_none(f, NOW + 2);
}

static void test_claim_fair_share(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = new_jobs(f, 6); /* B1..B3 (newer), then A1..A3 (older) */
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "b%d.csv", i + 1);
        make_job(&jobs[i], "tenant-b", "csv", name, T0 + (11 + i) * SEC);
        snprintf(name, sizeof name, "a%d.csv", i + 1);
        make_job(&jobs[3 + i], "tenant-a", "csv", name, T0 + (1 + i) * SEC);
    }
    insert(f, jobs, 6);

    struct sl_job *got;
    size_t n = claim(f, NOW, 4, LEASE, &got);
    const int order[4] = {3, 0, 4, 1}; /* A1, B1, A2, B2 */
    check_order(got, n, jobs, 6, order, 4);
    sl_jobs_free(got, n);

    n = claim(f, NOW, 4, LEASE, &got);
    const int rest[2] = {5, 2}; /* A3, B3 */
    check_order(got, n, jobs, 6, rest, 2);
    sl_jobs_free(got, n);
}

/* Round-robin over three tenants in the order of their oldest job; exhausted tenants drop out. */
static void test_claim_fair_share_three_tenants(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = new_jobs(f, 6);
    make_job(&jobs[0], "c", "csv", "c1.csv", T0 + 100);
    make_job(&jobs[1], "c", "csv", "c2.csv", T0 + 5000);
    make_job(&jobs[2], "c", "csv", "c3.csv", T0 + 6000);
    make_job(&jobs[3], "a", "csv", "a1.csv", T0 + 200);
    make_job(&jobs[4], "a", "csv", "a2.csv", T0 + 300);
    make_job(&jobs[5], "b", "csv", "b1.csv", T0 + 400);
    insert(f, jobs, 6);

    struct sl_job *got;
    size_t n = claim(f, NOW, 6, LEASE, &got);
    const int order[6] = {0, 3, 5, 1, 4, 2}; /* C1, A1, B1, C2, A2, C3 */
    check_order(got, n, jobs, 6, order, 6);
    sl_jobs_free(got, n);
}

static void test_claim_only_due_jobs(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);

    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    int64_t retry_at = NOW + 10 * MIN;
    check_status(fail_job(f, jobs[0].id, fence, NOW + 50, 50, "try again", retry_at),
                 SL_JOB_PENDING);

    int64_t due = -1;
    claim_none(f, NOW + 100);
    claim_none(f, retry_at - 1);
    check_rc(sl_store_count_due(f->s, retry_at - 1, &due, &err), 0, &err);
    check_i64(due, 0);
    check_rc(sl_store_count_due(f->s, retry_at, &due, &err), 0, &err);
    check_i64(due, 1);

    struct sl_job *got;
    size_t n = claim(f, retry_at, 5, LEASE, &got);
    check_i64(n, 1);
    check_str(got[0].id, jobs[0].id);
    check_i64(got[0].attempts, 1);
    check_i64(got[0].started_at, retry_at);
    sl_jobs_free(got, n);
}

/* Two claimers on the same store, each with its own handle, never share a job. */
#define N_CONCURRENT 200

struct claimer {
    struct sl_store *s;
    char (*ids)[SL_UUID_MAX];
    size_t n;
    int rc;
    char msg[SL_ERROR_MSG_MAX];
};

static void *claim_loop(void *arg)
{
    struct claimer *c = arg;
    for (int round = 0; round < 10 * N_CONCURRENT; round++) {
        struct sl_error err = {0};
        struct sl_job *jobs = NULL;
        size_t n = 0;
        c->rc = sl_store_claim(c->s, NOW, 2, LEASE, &jobs, &n, &err);
        if (c->rc != 0) {
            memcpy(c->msg, err.msg, sizeof c->msg);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (c->n < N_CONCURRENT)
                memcpy(c->ids[c->n], jobs[i].id, SL_UUID_MAX);
            c->n++;
        }
        sl_jobs_free(jobs, n);
        if (n == 0)
            return NULL;
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_two_concurrent_claimers(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, N_CONCURRENT);
    for (int i = 0; i < N_CONCURRENT; i++) {
        char name[32];
        snprintf(name, sizeof name, "j%d.csv", i);
        make_job(&jobs[i], i % 3 ? "acme" : "other", "csv", name, T0 + i);
    }
    insert(f, jobs, N_CONCURRENT);

    struct claimer c[2];
    pthread_t th[2];
    memset(c, 0, sizeof c);
    for (int t = 0; t < 2; t++) {
        check_rc(sl_store_open(f->url, &c[t].s, &err), 0, &err);
        c[t].ids = calloc(N_CONCURRENT, SL_UUID_MAX);
        assert_non_null(c[t].ids);
    }
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, claim_loop, &c[t]), 0);
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < 2; t++) {
        sl_store_close(c[t].s);
        if (c[t].rc != 0)
            fail_msg("claimer %d: claim returned %d (%s: %s)", t, c[t].rc, sl_err_code(c[t].rc),
                     c[t].msg);
    }
    if (c[0].n + c[1].n != N_CONCURRENT)
        fail_msg("claimers took %zu + %zu jobs, expected %d in all", c[0].n, c[1].n, N_CONCURRENT);

    /* every inserted id exactly once */
    char(*all)[SL_UUID_MAX] = calloc(N_CONCURRENT, SL_UUID_MAX);
    char(*want)[SL_UUID_MAX] = calloc(N_CONCURRENT, SL_UUID_MAX);
    assert_non_null(all);
    assert_non_null(want);
    memcpy(all, c[0].ids, c[0].n * SL_UUID_MAX);
    memcpy(all + c[0].n, c[1].ids, c[1].n * SL_UUID_MAX);
    for (int i = 0; i < N_CONCURRENT; i++)
        memcpy(want[i], jobs[i].id, SL_UUID_MAX);
    qsort(all, N_CONCURRENT, SL_UUID_MAX, cmp_id);
    qsort(want, N_CONCURRENT, SL_UUID_MAX, cmp_id);
    for (int i = 0; i < N_CONCURRENT; i++) {
        if (i > 0 && strcmp(all[i - 1], all[i]) == 0)
            fail_msg("job %s was claimed twice", all[i]);
        if (strcmp(all[i], want[i]) != 0)
            fail_msg("claimed set differs from the inserted set at %d: %s vs %s", i, all[i],
                     want[i]);
    }

    struct sl_queue_status q;
    check_rc(sl_store_queue_status(f->s, NULL, NOW, &q, &err), 0, &err);
    check_i64(q.counts[SL_JOB_PROCESSING], N_CONCURRENT);
    check_i64(q.counts[SL_JOB_PENDING], 0);
    sl_queue_status_fini(&q);

    free(all);
    free(want);
    free(c[0].ids);
    free(c[1].ids);
}

/* ---------------------------------------------------------------------------------------------
 * Leases, fencing, outcomes
 */

static void test_lease_expiry_and_rescue(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);
    const char *id = jobs[0].id;

    int64_t t = NOW;
    claim_one(f, t, 1000, id);
    check_i64(rescue(f, t + 500), 0);
    check_stored(f, id, SL_JOB_PROCESSING, 0);
    check_i64(rescue(f, t + 1500), 1);
    check_stored(f, id, SL_JOB_PENDING, 1);
    check_i64(rescue(f, t + 1600), 0); /* already rescued */

    /* due again at once, and each expiry counts an attempt until max_attempts (3) */
    t += 1500;
    claim_one(f, t, 1000, id);
    check_i64(rescue(f, t + 1500), 1);
    check_stored(f, id, SL_JOB_PENDING, 2);

    t += 1500;
    claim_one(f, t, 1000, id);
    check_i64(rescue(f, t + 1500), 1);
    check_stored(f, id, SL_JOB_FAILED, 3);
    claim_none(f, t + 1 * HOUR);
    int64_t due = -1;
    check_rc(sl_store_count_due(f->s, t + HOUR, &due, &err), 0, &err);
    check_i64(due, 0);
}

/* release_expired rescues only expired leases and reports how many. */
static void test_rescue_counts_only_expired(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = new_jobs(f, 3);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0 + 1);
    make_job(&jobs[1], "acme", "csv", "b.csv", T0 + 2);
    make_job(&jobs[2], "acme", "csv", "c.csv", T0 + 3);
    insert(f, jobs, 3);
    claim_one(f, NOW, 1000, jobs[0].id);
    claim_one(f, NOW, 1000, jobs[1].id);
    claim_one(f, NOW, 60 * SEC, jobs[2].id);
    check_i64(rescue(f, NOW + 2000), 2);
    check_stored(f, jobs[0].id, SL_JOB_PENDING, 1);
    check_stored(f, jobs[1].id, SL_JOB_PENDING, 1);
    check_stored(f, jobs[2].id, SL_JOB_PROCESSING, 0);
}

static void test_fencing(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 2);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0 + 1);
    make_job(&jobs[1], "acme", "csv", "b.csv", T0 + 2);
    insert(f, jobs, 1);
    const char *id = jobs[0].id;
    enum sl_job_status became;

    int64_t t = NOW;
    int64_t old = claim_one(f, t, 1000, id);
    check_i64(rescue(f, t + 1500), 1);
    int64_t fence = claim_one(f, t + 1600, LEASE, id);
    if (fence == old)
        fail_msg("the second claim reused fence %lld", (long long)old);

    /* the old holder can do nothing any more */
    check_rc(sl_store_complete(f->s, id, old, t + 1700, 100, "{\"stale\":true}", &err), SL_EFENCED,
             &err);
    became = SL_JOB_STATUS_COUNT;
    check_rc(sl_store_fail(f->s, id, old, t + 1700, 100, "stale", t + HOUR, &became, &err),
             SL_EFENCED, &err);
    check_rc(sl_store_heartbeat(f->s, id, old, t + 10 * HOUR, &err), SL_EFENCED, &err);
    check_rc(sl_store_release(f->s, id, old, &err), SL_EFENCED, &err);

    struct sl_job j;
    get(f, id, &j);
    check_status(j.status, SL_JOB_PROCESSING);
    check_i64(j.fence, fence);
    check_i64(j.attempts, 1);
    check_i64(j.started_at, t + 1600);
    check_i64(j.completed_at, 0);
    check_str(j.result, NULL);
    if (j.error && strcmp(j.error, "stale") == 0)
        fail_msg("a fenced fail stored its message");
    sl_job_fini(&j);

    /* the fenced heartbeat did not extend the lease: it still ends at t + 1600 + LEASE */
    check_i64(rescue(f, t + 1600 + LEASE + 1), 1);
    check_stored(f, id, SL_JOB_PENDING, 2);

    /* the current holder completes */
    t += 2 * LEASE;
    fence = claim_one(f, t, LEASE, id);
    complete(f, id, fence, t + 400, 400, "{\"ok\":true,\"rows\":[1,2]}");
    get(f, id, &j);
    check_status(j.status, SL_JOB_COMPLETED);
    check_i64(j.completed_at, t + 400);
    check_i64(j.processing_ms, 400);
    assert_non_null(j.result);
    json_t *got = json_loads(j.result, 0, NULL),
           *want = json_loads("{\"ok\":true,\"rows\":[1,2]}", 0, NULL);
    assert_non_null(got);
    assert_non_null(want);
    if (!json_equal(got, want))
        fail_msg("stored result is '%s'", j.result);
    json_decref(got);
    json_decref(want);
    sl_job_fini(&j);

    /* once completed, even the last fence is stale */
    check_rc(sl_store_complete(f->s, id, fence, t + 500, 1, "{}", &err), SL_EFENCED, &err);
    check_rc(sl_store_fail(f->s, id, fence, t + 500, 1, "late", t + HOUR, &became, &err),
             SL_EFENCED, &err);
    check_rc(sl_store_release(f->s, id, fence, &err), SL_EFENCED, &err);
    check_rc(sl_store_heartbeat(f->s, id, fence, t + HOUR, &err), SL_EFENCED, &err);
    get(f, id, &j);
    check_status(j.status, SL_JOB_COMPLETED);
    check_i64(j.processing_ms, 400);
    sl_job_fini(&j);

    /* a job that was never claimed is fenced against any token */
    insert(f, &jobs[1], 1);
    check_rc(sl_store_complete(f->s, jobs[1].id, fence, t + 600, 1, "{}", &err), SL_EFENCED, &err);
    check_rc(sl_store_release(f->s, jobs[1].id, fence, &err), SL_EFENCED, &err);
    check_stored(f, jobs[1].id, SL_JOB_PENDING, 0);
}

static void test_heartbeat_extends_lease(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);
    const char *id = jobs[0].id;

    int64_t fence = claim_one(f, NOW, 1000, id);
    check_rc(sl_store_heartbeat(f->s, id, fence, NOW + 5000, &err), 0, &err);
    check_i64(rescue(f, NOW + 1500), 0); /* past the old deadline */
    check_stored(f, id, SL_JOB_PROCESSING, 0);
    check_i64(rescue(f, NOW + 4000), 0);
    check_i64(rescue(f, NOW + 5001), 1); /* past the new one */
    check_stored(f, id, SL_JOB_PENDING, 1);
}

static void test_fail_below_and_at_max(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);
    const char *id = jobs[0].id;
    struct sl_job j;

    int64_t t = NOW;
    int64_t fence = claim_one(f, t, LEASE, id);
    check_status(fail_job(f, id, fence, t + 100, 100, "boom 1", t + 10 * SEC), SL_JOB_PENDING);
    get(f, id, &j);
    check_status(j.status, SL_JOB_PENDING);
    check_i64(j.attempts, 1);
    check_i64(j.next_attempt_at, t + 10 * SEC);
    check_str(j.error, "boom 1");
    sl_job_fini(&j);

    t += 10 * SEC;
    fence = claim_one(f, t, LEASE, id);
    check_status(fail_job(f, id, fence, t + 100, 100, "boom 2", t + 30 * SEC), SL_JOB_PENDING);
    get(f, id, &j);
    check_status(j.status, SL_JOB_PENDING);
    check_i64(j.attempts, 2);
    check_i64(j.next_attempt_at, t + 30 * SEC);
    check_str(j.error, "boom 2");
    sl_job_fini(&j);

    t += 30 * SEC;
    fence = claim_one(f, t, LEASE, id);
    check_status(fail_job(f, id, fence, t + 100, 100, "boom 3", t + 90 * SEC), SL_JOB_FAILED);
    get(f, id, &j);
    check_status(j.status, SL_JOB_FAILED);
    check_i64(j.attempts, 3);
    check_str(j.error, "boom 3");
    check_i64(j.next_attempt_at, 0); /* set only while pending after a failure */
    sl_job_fini(&j);
    claim_none(f, t + HOUR);
}

static void test_release_keeps_attempts(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 2);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0 + 1);
    make_job(&jobs[1], "acme", "csv", "b.csv", T0 + 2);
    insert(f, jobs, 2);

    /* a fresh job: released with 0 attempts, due again at once */
    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    check_rc(sl_store_release(f->s, jobs[0].id, fence, &err), 0, &err);
    check_stored(f, jobs[0].id, SL_JOB_PENDING, 0);
    check_rc(sl_store_release(f->s, jobs[0].id, fence, &err), SL_EFENCED, &err);
    fence = claim_one(f, NOW, LEASE, jobs[0].id);
    complete(f, jobs[0].id, fence, NOW + 1, 1, NULL);

    /* a job that already failed once keeps that one attempt */
    fence = claim_one(f, NOW + 2, LEASE, jobs[1].id);
    check_status(fail_job(f, jobs[1].id, fence, NOW + 3, 1, "boom", NOW + 4), SL_JOB_PENDING);
    fence = claim_one(f, NOW + 4, LEASE, jobs[1].id);
    check_rc(sl_store_release(f->s, jobs[1].id, fence, &err), 0, &err);
    check_stored(f, jobs[1].id, SL_JOB_PENDING, 1);
    claim_one(f, NOW + 5, LEASE, jobs[1].id);
}

/* ---------------------------------------------------------------------------------------------
 * Retry and cancel
 */

static void test_retry_job(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 3);
    make_job(&jobs[0], "acme", "csv", "failing.csv", T0 + 1);
    jobs[0].max_attempts = 1;
    make_job(&jobs[1], "acme", "csv", "done.csv", T0 + 2);
    make_job(&jobs[2], "acme", "csv", "waiting.csv", T0 + 3);
    insert(f, jobs, 3);

    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    check_status(fail_job(f, jobs[0].id, fence, NOW + 1, 1, "bad file", NOW + 2), SL_JOB_FAILED);
    fence = claim_one(f, NOW + 3, LEASE, jobs[1].id);
    complete(f, jobs[1].id, fence, NOW + 4, 1, "{}");

    struct sl_job out;
    memset(&out, 0, sizeof out);
    check_rc(sl_store_retry_job(f->s, jobs[0].id, NOW + 10, &out, &err), 0, &err);
    check_str(out.id, jobs[0].id);
    check_status(out.status, SL_JOB_PENDING);
    check_i64(out.attempts, 0);
    check_str(out.file_name, "failing.csv");
    sl_job_fini(&out);
    check_stored(f, jobs[0].id, SL_JOB_PENDING, 0);

    /* pending (waiting.csv), completed (done.csv): not failed, so a conflict */
    const char *conflicts[2] = {jobs[2].id, jobs[1].id};
    for (int i = 0; i < 2; i++) {
        memset(&out, 0, sizeof out);
        out.attempts = 99;
        check_rc(sl_store_retry_job(f->s, conflicts[i], NOW + 11, &out, &err), SL_ECONFLICT, &err);
        check_i64(out.attempts, 0); /* outputs zeroed on failure */
        assert_null(out.tenant);
        sl_job_fini(&out);
    }
    check_stored(f, jobs[2].id, SL_JOB_PENDING, 0);
    check_stored(f, jobs[1].id, SL_JOB_COMPLETED, -1);

    /* the retried job is due now: it is the oldest, so the next claim takes it */
    claim_one(f, NOW + 10, LEASE, jobs[0].id);
    memset(&out, 0, sizeof out);
    check_rc(sl_store_retry_job(f->s, jobs[0].id, NOW + 12, &out, &err), SL_ECONFLICT, &err);
    sl_job_fini(&out);

    char unknown[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(NOW, unknown), 0);
    memset(&out, 0, sizeof out);
    check_rc(sl_store_retry_job(f->s, unknown, NOW + 13, &out, &err), SL_ENOT_FOUND, &err);
    sl_job_fini(&out);
}

static void test_cancel_job(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 4);
    make_job(&jobs[0], "acme", "csv", "running.csv", T0 + 1);
    make_job(&jobs[1], "acme", "csv", "failing.csv", T0 + 2);
    jobs[1].max_attempts = 1;
    make_job(&jobs[2], "acme", "csv", "done.csv", T0 + 3);
    make_job(&jobs[3], "acme", "json", "cancel-me.json", T0 + 4);
    snprintf(jobs[3].blob_key, sizeof jobs[3].blob_key, "%s", "uploads/cancel-me");
    insert(f, jobs, 4);

    claim_one(f, NOW, LEASE, jobs[0].id);
    int64_t fence = claim_one(f, NOW, LEASE, jobs[1].id);
    check_status(fail_job(f, jobs[1].id, fence, NOW + 1, 1, "bad", NOW + 2), SL_JOB_FAILED);
    fence = claim_one(f, NOW, LEASE, jobs[2].id);
    complete(f, jobs[2].id, fence, NOW + 1, 1, "{}");

    /* pending: removed, and handed back so the caller can delete its blob */
    struct sl_job out;
    memset(&out, 0, sizeof out);
    check_rc(sl_store_cancel_job(f->s, jobs[3].id, &out, &err), 0, &err);
    check_str(out.id, jobs[3].id);
    check_str(out.blob_key, "uploads/cancel-me");
    check_str(out.file_name, "cancel-me.json");
    check_str(out.type, "json");
    sl_job_fini(&out);
    check_not_found(f, jobs[3].id);
    memset(&out, 0, sizeof out);
    check_rc(sl_store_cancel_job(f->s, jobs[3].id, &out, &err), SL_ENOT_FOUND, &err);
    sl_job_fini(&out);

    /* processing, failed, completed: a conflict, and the job stays */
    const enum sl_job_status kept[3] = {SL_JOB_PROCESSING, SL_JOB_FAILED, SL_JOB_COMPLETED};
    for (int i = 0; i < 3; i++) {
        memset(&out, 0, sizeof out);
        out.attempts = 99;
        check_rc(sl_store_cancel_job(f->s, jobs[i].id, &out, &err), SL_ECONFLICT, &err);
        check_i64(out.attempts, 0);
        check_str(out.blob_key, "");
        sl_job_fini(&out);
        check_stored(f, jobs[i].id, kept[i], i == 1 ? 1 : i == 0 ? 0 : -1);
    }

    char unknown[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(NOW, unknown), 0);
    memset(&out, 0, sizeof out);
    check_rc(sl_store_cancel_job(f->s, unknown, &out, &err), SL_ENOT_FOUND, &err);
    sl_job_fini(&out);
}

/* ---------------------------------------------------------------------------------------------
 * Listing
 */

/* fl positioned after the page whose next_cursor is cursor ("" or NULL: from the newest). */
static struct sl_job_filter at_cursor(struct sl_job_filter fl, const char *cursor)
{
    if (cursor && *cursor) {
        int rc = sl_cursor_parse(cursor, &fl);
        if (rc != 0)
            fail_msg("cursor '%s' does not parse: %d", cursor, rc);
    }
    return fl;
}

static void test_cursor_text(void **state)
{
    (void)state;
    const char *id = "01a22b64-b993-7abc-8def-0123456789ab";
    char text[SL_CURSOR_MAX];
    sl_cursor_format(1796024351123LL, id, text);
    check_str(text, "1796024351123.01a22b64-b993-7abc-8def-0123456789ab");
    struct sl_job_filter fl = {.limit = 7};
    assert_int_equal(sl_cursor_parse(text, &fl), 0);
    check_i64(fl.cursor_created_at, 1796024351123LL);
    check_str(fl.cursor_id, id);
    check_i64(fl.limit, 7);

    const char *bad[] = {"",
                         "abc",
                         "1796024351123",
                         "1796024351123.",
                         "1796024351123.not-a-uuid",
                         ".01a22b64-b993-7abc-8def-0123456789ab",
                         "17x.01a22b64-b993-7abc-8def-0123456789ab",
                         "1796024351123.01a22b64-b993-7abc-8def-0123456789ab' OR 1=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sl_job_filter g = {.limit = 1};
        int rc = sl_cursor_parse(bad[i], &g);
        if (rc != SL_EINVALID)
            fail_msg("cursor '%s' parsed with %d, expected SL_EINVALID", bad[i], rc);
    }
}

/* Lists with filter fl (one page) and checks the ids against want[order[...]]. */
static void check_list(struct fx *f, struct sl_job_filter fl, const struct sl_job *want,
                       size_t want_n, const int *order, size_t order_n, char cursor[SL_CURSOR_MAX])
{
    struct sl_error err = {0};
    struct sl_job *got = NULL;
    size_t n = 12345;
    memset(cursor, 'x', SL_CURSOR_MAX - 1);
    cursor[SL_CURSOR_MAX - 1] = '\0';
    check_rc(sl_store_list_jobs(f->s, &fl, &got, &n, cursor, &err), 0, &err);
    check_order(got, n, want, want_n, order, order_n);
    sl_jobs_free(got, n);
}

/*
 * j0 acme csv, j1 acme json, j2 other csv, j3 acme csv, j4 other json, j5 acme csv, j6 acme file,
 * created in that order; j0 completed, j2 processing, the rest pending.
 */
static struct sl_job *seed_list_jobs(struct fx *f)
{
    static const char *const spec[7][2] = {{"acme", "csv"}, {"acme", "json"},  {"other", "csv"},
                                           {"acme", "csv"}, {"other", "json"}, {"acme", "csv"},
                                           {"acme", "file"}};
    struct sl_job *jobs = new_jobs(f, 7);
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "j%d.%s", i, spec[i][1]);
        make_job(&jobs[i], spec[i][0], spec[i][1], name, T0 + i * SEC);
    }
    insert(f, jobs, 7);
    struct sl_job *got;
    size_t n = claim(f, NOW, 2, LEASE, &got); /* fair share: j0 (acme), j2 (other) */
    const int claimed[2] = {0, 2};
    check_order(got, n, jobs, 7, claimed, 2);
    complete(f, jobs[0].id, got[0].fence, NOW + 10, 10, "{}");
    sl_jobs_free(got, n);
    return jobs;
}

static void test_list_jobs_order_and_filters(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = seed_list_jobs(f);
    char cursor[SL_CURSOR_MAX];

    const int all[7] = {6, 5, 4, 3, 2, 1, 0};
    check_list(f, (struct sl_job_filter){.limit = 50}, jobs, 7, all, 7, cursor);
    check_str(cursor, "");

    const int pending[5] = {6, 5, 4, 3, 1};
    check_list(f, (struct sl_job_filter){.status = "pending", .limit = 50}, jobs, 7, pending, 5,
               cursor);
    const int processing[1] = {2};
    check_list(f, (struct sl_job_filter){.status = "processing", .limit = 50}, jobs, 7, processing,
               1, cursor);
    const int completed[1] = {0};
    check_list(f, (struct sl_job_filter){.status = "completed", .limit = 50}, jobs, 7, completed, 1,
               cursor);
    check_list(f, (struct sl_job_filter){.status = "failed", .limit = 50}, jobs, 7, NULL, 0,
               cursor);
    check_str(cursor, "");

    const int csv[4] = {5, 3, 2, 0};
    check_list(f, (struct sl_job_filter){.type = "csv", .limit = 50}, jobs, 7, csv, 4, cursor);
    const int json[2] = {4, 1};
    check_list(f, (struct sl_job_filter){.type = "json", .limit = 50}, jobs, 7, json, 2, cursor);
    check_list(f, (struct sl_job_filter){.type = "sheet", .limit = 50}, jobs, 7, NULL, 0, cursor);

    const int other[2] = {4, 2};
    check_list(f, (struct sl_job_filter){.tenant = "other", .limit = 50}, jobs, 7, other, 2,
               cursor);
    const int acme_csv[3] = {5, 3, 0};
    check_list(f, (struct sl_job_filter){.tenant = "acme", .type = "csv", .limit = 50}, jobs, 7,
               acme_csv, 3, cursor);
    const int acme_csv_pending[2] = {5, 3};
    check_list(
        f,
        (struct sl_job_filter){.tenant = "acme", .type = "csv", .status = "pending", .limit = 50},
        jobs, 7, acme_csv_pending, 2, cursor);

    /* listed jobs carry their fields */
    struct sl_error err = {0};
    struct sl_job *got = NULL;
    size_t n = 0;
    struct sl_job_filter one = {.status = "completed", .limit = 1};
    check_rc(sl_store_list_jobs(f->s, &one, &got, &n, cursor, &err), 0, &err);
    check_i64(n, 1);
    check_str(got[0].file_name, "j0.csv");
    check_str(got[0].tenant, "acme");
    check_status(got[0].status, SL_JOB_COMPLETED);
    check_i64(got[0].processing_ms, 10);
    check_i64(got[0].created_at, T0);
    sl_jobs_free(got, n);
}

static void test_list_jobs_paging(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = seed_list_jobs(f);
    char cursor[SL_CURSOR_MAX], next[SL_CURSOR_MAX];

    const int page1[3] = {6, 5, 4}, page2[3] = {3, 2, 1}, page3[1] = {0};
    check_list(f, (struct sl_job_filter){.limit = 3}, jobs, 7, page1, 3, cursor);
    assert_true(cursor[0] != '\0');
    check_list(f, at_cursor((struct sl_job_filter){.limit = 3}, cursor), jobs, 7, page2, 3, next);
    assert_true(next[0] != '\0');
    check_list(f, at_cursor((struct sl_job_filter){.limit = 3}, next), jobs, 7, page3, 1, cursor);
    check_str(cursor, "");

    /* paging keeps the filter */
    const int csv1[3] = {5, 3, 2}, csv2[1] = {0};
    check_list(f, (struct sl_job_filter){.type = "csv", .limit = 3}, jobs, 7, csv1, 3, cursor);
    assert_true(cursor[0] != '\0');
    check_list(f, at_cursor((struct sl_job_filter){.type = "csv", .limit = 3}, cursor), jobs, 7,
               csv2, 1, next);
    check_str(next, "");

    /* limit 1 walks every job exactly once */
    const int all[7] = {6, 5, 4, 3, 2, 1, 0};
    for (int i = 0; i < 7; i++) {
        struct sl_job_filter fl = at_cursor((struct sl_job_filter){.limit = 1}, i ? cursor : NULL);
        check_list(f, fl, jobs, 7, &all[i], 1, next);
        if (i < 6)
            assert_true(next[0] != '\0');
        memcpy(cursor, next, SL_CURSOR_MAX);
    }
    check_str(cursor, "");
}

/*
 * "Newest first" is by created_at, the job's time, even when the ids (opaque strings) sort the
 * other way, as they do when the clock steps back between two uploads.
 */
static void test_list_jobs_newest_by_created_at(void **state)
{
    struct fx *f = *state;
    struct sl_job *jobs = new_jobs(f, 4);
    /* ids are made in call order, so they increase while created_at decreases */
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d.csv", i);
        make_job(&jobs[i], "acme", "csv", name, T0 + (4 - i) * SEC);
    }
    insert(f, jobs, 4);
    char cursor[SL_CURSOR_MAX], next[SL_CURSOR_MAX];
    const int newest_first[4] = {0, 1, 2, 3};
    check_list(f, (struct sl_job_filter){.limit = 50}, jobs, 4, newest_first, 4, cursor);
    check_str(cursor, "");

    /* and paging follows the same order */
    check_list(f, (struct sl_job_filter){.limit = 2}, jobs, 4, newest_first, 2, cursor);
    assert_true(cursor[0] != '\0');
    check_list(f, at_cursor((struct sl_job_filter){.limit = 2}, cursor), jobs, 4, newest_first + 2,
               2, next);
    check_str(next, "");
}

/* Jobs of one upload share created_at; paging must still cover each exactly once. */
static void test_list_jobs_paging_with_equal_times(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    enum { N = 9 };
    struct sl_job *jobs = new_jobs(f, N);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "same%d.csv", i);
        /* 1 older, 7 at the same ms, 1 newer */
        make_job(&jobs[i], "acme", "csv", name, i == 0 ? T0 : i == N - 1 ? T0 + 2 : T0 + 1);
    }
    insert(f, jobs, N);

    int seen[N] = {0};
    int64_t last_created = INT64_MAX;
    char cursor[SL_CURSOR_MAX] = "", next[SL_CURSOR_MAX];
    int pages = 0;
    do {
        struct sl_job_filter fl = at_cursor((struct sl_job_filter){.limit = 2}, cursor);
        struct sl_job *got = NULL;
        size_t n = 0;
        check_rc(sl_store_list_jobs(f->s, &fl, &got, &n, next, &err), 0, &err);
        memcpy(cursor, next, SL_CURSOR_MAX);
        for (size_t i = 0; i < n; i++) {
            int k = index_of(jobs, N, got[i].id);
            assert_true(k >= 0);
            seen[k]++;
            if (got[i].created_at > last_created)
                fail_msg("page %d: job created at %lld after one at %lld (not newest first)", pages,
                         (long long)got[i].created_at, (long long)last_created);
            last_created = got[i].created_at;
        }
        sl_jobs_free(got, n);
        if (++pages > N + 1)
            fail_msg("paging did not end after %d pages", pages);
    } while (cursor[0] != '\0');
    for (int i = 0; i < N; i++)
        if (seen[i] != 1)
            fail_msg("job %d listed %d times, expected once", i, seen[i]);
}

/* ---------------------------------------------------------------------------------------------
 * Queue status
 */

static void check_brief(const struct sl_job_brief *b, const struct sl_job *j, int64_t started_at)
{
    check_str(b->id, j->id);
    check_str(b->file_name, j->file_name);
    check_str(b->type, j->type);
    check_i64(b->created_at, j->created_at);
    if (started_at)
        check_i64(b->started_at, started_at);
}

static void test_queue_status(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 5); /* A1 A2 A3 B1 B2 */
    make_job(&jobs[0], "A", "csv", "a1.csv", T0 + 1 * SEC);
    jobs[0].max_attempts = 1;
    make_job(&jobs[1], "A", "json", "a2.json", T0 + 2 * SEC);
    make_job(&jobs[2], "A", "csv", "a3.csv", T0 + 3 * SEC);
    make_job(&jobs[3], "B", "file", "b1.bin", T0 + 4 * SEC);
    make_job(&jobs[4], "B", "json", "b2.json", T0 + 5 * SEC);
    insert(f, jobs, 5);
    struct sl_queue_status q;

    /* before anything runs */
    check_rc(sl_store_queue_status(f->s, NULL, NOW, &q, &err), 0, &err);
    check_i64(q.counts[SL_JOB_PENDING], 5);
    check_i64(q.total, 5);
    check_i64(q.oldest_pending_at, T0 + 1 * SEC);
    check_i64(q.has_next, 1);
    check_brief(&q.next_job, &jobs[0], 0);
    check_i64(q.processing_count, 0);
    sl_queue_status_fini(&q);

    int64_t n1 = NOW, n2 = NOW + 1000;
    struct sl_job *got;
    size_t n = claim(f, n1, 2, LEASE, &got); /* A1, B1 */
    const int first[2] = {0, 3};
    check_order(got, n, jobs, 5, first, 2);
    check_status(fail_job(f, jobs[0].id, got[0].fence, n1 + 5, 5, "bad", n1 + HOUR), SL_JOB_FAILED);
    sl_jobs_free(got, n);
    int64_t fence = claim_one(f, n2, LEASE, jobs[1].id); /* A2: A's oldest is older than B's */
    complete(f, jobs[1].id, fence, n2 + 500, 500, "{}");

    check_rc(sl_store_queue_status(f->s, NULL, n2 + 1000, &q, &err), 0, &err);
    check_i64(q.counts[SL_JOB_PENDING], 2);
    check_i64(q.counts[SL_JOB_PROCESSING], 1);
    check_i64(q.counts[SL_JOB_COMPLETED], 1);
    check_i64(q.counts[SL_JOB_FAILED], 1);
    check_i64(q.total, 5);
    check_i64(q.oldest_pending_at, T0 + 3 * SEC);
    check_i64(q.has_next, 1);
    check_brief(&q.next_job, &jobs[2], 0);
    check_i64(q.processing_count, 1);
    check_brief(&q.processing[0], &jobs[3], n1);
    sl_queue_status_fini(&q);

    check_rc(sl_store_queue_status(f->s, "B", n2 + 1000, &q, &err), 0, &err);
    check_i64(q.counts[SL_JOB_PENDING], 1);
    check_i64(q.counts[SL_JOB_PROCESSING], 1);
    check_i64(q.counts[SL_JOB_COMPLETED], 0);
    check_i64(q.counts[SL_JOB_FAILED], 0);
    check_i64(q.total, 2);
    check_i64(q.oldest_pending_at, T0 + 5 * SEC);
    check_i64(q.has_next, 1);
    check_brief(&q.next_job, &jobs[4], 0);
    check_i64(q.processing_count, 1);
    check_brief(&q.processing[0], &jobs[3], n1);
    sl_queue_status_fini(&q);

    check_rc(sl_store_queue_status(f->s, "nobody", n2 + 1000, &q, &err), 0, &err);
    for (int s = 0; s < SL_JOB_STATUS_COUNT; s++)
        check_i64(q.counts[s], 0);
    check_i64(q.total, 0);
    check_i64(q.oldest_pending_at, 0);
    check_i64(q.has_next, 0);
    check_i64(q.processing_count, 0);
    sl_queue_status_fini(&q);

    /* processing jobs are listed oldest start first */
    int64_t n3 = n2 + 2000, n4 = n2 + 3000;
    claim_one(f, n3, LEASE, jobs[2].id); /* A3 */
    claim_one(f, n4, LEASE, jobs[4].id); /* B2 */
    check_rc(sl_store_queue_status(f->s, NULL, n4 + 1, &q, &err), 0, &err);
    check_i64(q.counts[SL_JOB_PENDING], 0);
    check_i64(q.counts[SL_JOB_PROCESSING], 3);
    check_i64(q.oldest_pending_at, 0);
    check_i64(q.has_next, 0);
    check_i64(q.processing_count, 3);
    check_brief(&q.processing[0], &jobs[3], n1);
    check_brief(&q.processing[1], &jobs[2], n3);
    check_brief(&q.processing[2], &jobs[4], n4);
    sl_queue_status_fini(&q);
}

/* ---------------------------------------------------------------------------------------------
 * Statistics
 */

#define STATS_NOW 1796040000000LL /* 2026-11-30T12:00:00.000Z */
#define DAY       SL_MS_PER_DAY

struct stat_spec {
    int day; /* days before STATS_NOW's date */
    const char *tenant;
    const char *type;
    char outcome; /* C completed, F failed, P processing, W waiting (pending) */
    int64_t ms;   /* processing ms passed to complete or fail; -1: unknown */
};

static const struct stat_spec stat_specs[] = {
    {10, "acme", "csv", 'C', 5000},   {10, "acme", "sheet", 'F', 7000}, /* outside 7 days */
    {5, "acme", "csv", 'C', 100},     {5, "acme", "csv", 'C', 300},
    {5, "acme", "json", 'F', 99999},  {5, "other", "csv", 'C', 50},
    {3, "acme", "json", 'C', 200},    {3, "acme", "csv", 'C', 400},
    {3, "acme", "file", 'C', 2000},   {3, "acme", "csv", 'F', 88888},
    {1, "acme", "ndjson", 'C', 1000}, {1, "acme", "csv", 'C', 700},
    {1, "other", "json", 'C', 150},   {0, "acme", "csv", 'C', 250},
    {0, "acme", "csv", 'C', 600},     {0, "acme", "file", 'P', 0},
    {0, "acme", "csv", 'W', 0},       {0, "acme", "json", 'W', 0},
};
#define N_STAT ((int)(sizeof stat_specs / sizeof stat_specs[0]))

struct stat_world {
    struct sl_job *jobs; /* one per spec */
    int64_t started[N_STAT];
};

/* Inserts one phase of a day's jobs (finished ones, or the ones left open) and runs them. */
static void run_phase(struct fx *f, struct stat_world *w, int day, int open)
{
    int64_t day_start = (STATS_NOW / DAY - day) * DAY;
    int64_t created = day_start + (open ? 150 : 60) * MIN;
    int64_t at = day_start + (open ? 180 : 120) * MIN;
    int idx[N_STAT], n = 0, n_claim = 0;
    /* processing ones first, so that FIFO claims exactly those */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N_STAT; i++) {
            const struct stat_spec *s = &stat_specs[i];
            int is_open = s->outcome == 'P' || s->outcome == 'W';
            if (s->day != day || is_open != open || (open && (s->outcome == 'P') != (pass == 0)) ||
                (!open && pass == 1))
                continue;
            make_job(&w->jobs[i], s->tenant, s->type, "s.csv", created + n * MIN);
            w->jobs[i].max_attempts = 1;
            idx[n++] = i;
            n_claim += s->outcome != 'W';
        }
    if (n == 0)
        return;
    struct sl_job batch[N_STAT];
    for (int k = 0; k < n; k++)
        batch[k] = w->jobs[idx[k]];
    insert(f, batch, (size_t)n);
    if (n_claim == 0)
        return;

    struct sl_job *got;
    size_t got_n = claim(f, at, n_claim, 30 * DAY, &got);
    check_i64(got_n, n_claim);
    for (size_t k = 0; k < got_n; k++) {
        int i = index_of(w->jobs, N_STAT, got[k].id);
        assert_true(i >= 0);
        const struct stat_spec *s = &stat_specs[i];
        w->started[i] = at;
        int64_t done = at + (s->ms > 0 ? s->ms : 10);
        if (s->outcome == 'C')
            complete(f, got[k].id, got[k].fence, done, s->ms, "{}");
        else if (s->outcome == 'F')
            check_status(fail_job(f, got[k].id, got[k].fence, done, s->ms, "bad", done + HOUR),
                         SL_JOB_FAILED);
        else if (s->outcome != 'P')
            fail_msg("spec %d was claimed but should stay pending", i);
    }
    sl_jobs_free(got, got_n);
}

static void build_stat_world(struct fx *f, struct stat_world *w)
{
    memset(w, 0, sizeof *w);
    w->jobs = new_jobs(f, N_STAT);
    for (int day = 10; day >= 0; day--) {
        run_phase(f, w, day, 0);
        run_phase(f, w, day, 1);
    }
}

static const struct sl_type_counts *find_type(const struct sl_stats *st, const char *type)
{
    for (size_t i = 0; i < st->type_count; i++)
        if (st->types[i].type && strcmp(st->types[i].type, type) == 0)
            return &st->types[i];
    return NULL;
}

static void check_type_counts(const struct sl_stats *st, const char *type, int64_t total,
                              int64_t pending, int64_t processing, int64_t completed,
                              int64_t failed)
{
    const struct sl_type_counts *t = find_type(st, type);
    if (!t)
        fail_msg("type %s is missing from the stats", type);
    const int64_t want[SL_JOB_STATUS_COUNT] = {pending, processing, completed, failed};
    if (t->total != total)
        fail_msg("type %s: total %lld, expected %lld", type, (long long)t->total, (long long)total);
    for (int s = 0; s < SL_JOB_STATUS_COUNT; s++)
        if (t->counts[s] != want[s])
            fail_msg("type %s: %s %lld, expected %lld", type,
                     sl_job_status_name((enum sl_job_status)s), (long long)t->counts[s],
                     (long long)want[s]);
}

/* Mean of started - created over the started jobs that match tenant within the last 7 days. */
static double expected_wait(const struct stat_world *w, const char *tenant)
{
    double sum = 0;
    int n = 0;
    for (int i = 0; i < N_STAT; i++) {
        if (stat_specs[i].day > 5 || !w->started[i])
            continue;
        if (tenant && strcmp(stat_specs[i].tenant, tenant) != 0)
            continue;
        sum += (double)(w->started[i] - w->jobs[i].created_at);
        n++;
    }
    return sum / n;
}

/* daily[] holds one entry per date from since's to now's; want lists the non-zero days. */
static void check_daily(const struct sl_stats *st, int64_t now, const int64_t want[6][4])
{
    int64_t since_day = st->since / DAY - (st->since % DAY < 0);
    int64_t now_day = now / DAY;
    check_i64(st->day_count, now_day - since_day + 1);
    for (size_t i = 0; i < st->day_count; i++) {
        const struct sl_day_counts *d = &st->daily[i];
        check_i64(d->day, since_day + (int64_t)i);
        int64_t created = 0, completed = 0, failed = 0;
        for (int k = 0; k < 6; k++)
            if (want[k][0] >= 0 && now_day - want[k][0] == d->day) {
                created = want[k][1];
                completed = want[k][2];
                failed = want[k][3];
            }
        if (d->created != created || d->completed != completed || d->failed != failed)
            fail_msg("day %lld: created %lld completed %lld failed %lld, expected %lld %lld %lld",
                     (long long)(d->day - now_day), (long long)d->created, (long long)d->completed,
                     (long long)d->failed, (long long)created, (long long)completed,
                     (long long)failed);
    }
}

static void test_stats_all_tenants(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct stat_world w;
    build_stat_world(f, &w);
    struct sl_stats st;
    memset(&st, 0, sizeof st);
    check_rc(sl_store_stats(f->s, 7, NULL, STATS_NOW, &st, &err), 0, &err);

    check_i64(st.days, 7);
    if (st.since < STATS_NOW - 8 * DAY || st.since > STATS_NOW - 6 * DAY)
        fail_msg("since is %lld, not about 7 days before %lld", (long long)st.since,
                 (long long)STATS_NOW);
    check_i64(st.total, 16);
    check_i64(st.counts[SL_JOB_PENDING], 2);
    check_i64(st.counts[SL_JOB_PROCESSING], 1);
    check_i64(st.counts[SL_JOB_COMPLETED], 11);
    check_i64(st.counts[SL_JOB_FAILED], 2);

    check_type_counts(&st, "csv", 9, 1, 0, 7, 1);
    check_type_counts(&st, "json", 4, 1, 0, 2, 1);
    check_type_counts(&st, "file", 2, 0, 1, 1, 0);
    check_type_counts(&st, "ndjson", 1, 0, 0, 1, 0);
    const struct sl_type_counts *sheet = find_type(&st, "sheet"); /* only outside the window */
    if (sheet && sheet->total != 0)
        fail_msg("type sheet counts %lld jobs from outside the window", (long long)sheet->total);

    /* completed: 50 100 150 200 250 300 400 600 700 1000 2000; the failed ones do not count */
    if (st.avg_processing_ms < 5750.0 / 11 - 0.001 || st.avg_processing_ms > 5750.0 / 11 + 0.001)
        fail_msg("avg_processing_ms is %f, expected %f", st.avg_processing_ms, 5750.0 / 11);
    check_i64(st.p50_processing_ms, 300);  /* index ceil(5.5) - 1 = 5 */
    check_i64(st.p95_processing_ms, 2000); /* index ceil(10.45) - 1 = 10 */
    double wait = expected_wait(&w, NULL);
    if (st.avg_wait_ms < wait - 0.5 || st.avg_wait_ms > wait + 0.5)
        fail_msg("avg_wait_ms is %f, expected %f", st.avg_wait_ms, wait);

    const int64_t daily[6][4] = {{5, 4, 3, 1}, {3, 4, 3, 1},  {1, 3, 3, 0},
                                 {0, 5, 2, 0}, {-1, 0, 0, 0}, {-1, 0, 0, 0}};
    check_daily(&st, STATS_NOW, daily);
    sl_stats_fini(&st);

    /* a 2-day window holds only the jobs of yesterday and today */
    check_rc(sl_store_stats(f->s, 2, NULL, STATS_NOW, &st, &err), 0, &err);
    check_i64(st.days, 2);
    check_i64(st.total, 8);
    check_i64(st.counts[SL_JOB_COMPLETED], 5);
    check_i64(st.counts[SL_JOB_FAILED], 0);
    check_i64(st.p50_processing_ms, 600); /* 150 250 600 700 1000 */
    const int64_t daily2[6][4] = {{1, 3, 3, 0},  {0, 5, 2, 0},  {-1, 0, 0, 0},
                                  {-1, 0, 0, 0}, {-1, 0, 0, 0}, {-1, 0, 0, 0}};
    check_daily(&st, STATS_NOW, daily2);
    sl_stats_fini(&st);
}

static void test_stats_tenant(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct stat_world w;
    build_stat_world(f, &w);
    struct sl_stats st;
    check_rc(sl_store_stats(f->s, 7, "acme", STATS_NOW, &st, &err), 0, &err);
    check_i64(st.total, 14);
    check_i64(st.counts[SL_JOB_PENDING], 2);
    check_i64(st.counts[SL_JOB_PROCESSING], 1);
    check_i64(st.counts[SL_JOB_COMPLETED], 9);
    check_i64(st.counts[SL_JOB_FAILED], 2);
    check_type_counts(&st, "csv", 8, 1, 0, 6, 1);
    check_type_counts(&st, "json", 3, 1, 0, 1, 1);
    /* 100 200 250 300 400 600 700 1000 2000: mean 616.67, nearest-rank p50 = 5th = 400 */
    if (st.avg_processing_ms < 5550.0 / 9 - 0.001 || st.avg_processing_ms > 5550.0 / 9 + 0.001)
        fail_msg("avg_processing_ms is %f, expected %f", st.avg_processing_ms, 5550.0 / 9);
    check_i64(st.p50_processing_ms, 400);
    check_i64(st.p95_processing_ms, 2000);
    double wait = expected_wait(&w, "acme");
    if (st.avg_wait_ms < wait - 0.5 || st.avg_wait_ms > wait + 0.5)
        fail_msg("avg_wait_ms is %f, expected %f", st.avg_wait_ms, wait);
    const int64_t daily[6][4] = {{5, 3, 2, 1}, {3, 4, 3, 1},  {1, 2, 2, 0},
                                 {0, 5, 2, 0}, {-1, 0, 0, 0}, {-1, 0, 0, 0}};
    check_daily(&st, STATS_NOW, daily);
    sl_stats_fini(&st);

    check_rc(sl_store_stats(f->s, 7, "other", STATS_NOW, &st, &err), 0, &err);
    check_i64(st.total, 2);
    check_i64(st.counts[SL_JOB_COMPLETED], 2);
    check_i64(st.p50_processing_ms, 50); /* 50 150: index ceil(1) - 1 = 0 */
    check_i64(st.p95_processing_ms, 150);
    if (st.avg_processing_ms < 99.999 || st.avg_processing_ms > 100.001)
        fail_msg("avg_processing_ms is %f, expected 100", st.avg_processing_ms);
    sl_stats_fini(&st);
}

/* Nearest rank over 20 values: p95 is the 19th, not the largest. */
static void test_stats_percentiles_nearest_rank(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    enum { N = 20 };
    struct sl_job *jobs = new_jobs(f, N);
    int64_t day_start = (STATS_NOW / DAY) * DAY;
    for (int i = 0; i < N; i++)
        make_job(&jobs[i], "acme", "csv", "p.csv", day_start + HOUR + i);
    insert(f, jobs, N);
    struct sl_job *got;
    size_t n = claim(f, day_start + 2 * HOUR, N, 30 * DAY, &got);
    check_i64(n, N);
    for (size_t k = 0; k < n; k++) {
        int i = index_of(jobs, N, got[k].id);
        int64_t ms = (int64_t)(N - i) * 10; /* 200, 190, ..., 10 */
        complete(f, got[k].id, got[k].fence, day_start + 2 * HOUR + ms, ms, NULL);
    }
    sl_jobs_free(got, n);

    struct sl_stats st;
    check_rc(sl_store_stats(f->s, 1, NULL, STATS_NOW, &st, &err), 0, &err);
    check_i64(st.counts[SL_JOB_COMPLETED], N);
    check_i64(st.p50_processing_ms, 100); /* index ceil(10) - 1 = 9 */
    check_i64(st.p95_processing_ms, 190); /* index ceil(19) - 1 = 18 */
    if (st.avg_processing_ms < 104.999 || st.avg_processing_ms > 105.001)
        fail_msg("avg_processing_ms is %f, expected 105", st.avg_processing_ms);
    sl_stats_fini(&st);
}

/* A completed job whose processing time is unknown (-1) is left out of the times. */
static void test_stats_unknown_processing_ms(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 3);
    int64_t day_start = (STATS_NOW / DAY) * DAY;
    for (int i = 0; i < 3; i++)
        make_job(&jobs[i], "acme", "csv", "u.csv", day_start + HOUR + i);
    insert(f, jobs, 3);
    const int64_t ms[3] = {100, 300, -1};
    for (int i = 0; i < 3; i++) {
        int64_t fence = claim_one(f, day_start + 2 * HOUR, 30 * DAY, jobs[i].id);
        complete(f, jobs[i].id, fence, day_start + 2 * HOUR + 500, ms[i], NULL);
    }
    struct sl_job j;
    get(f, jobs[2].id, &j);
    check_status(j.status, SL_JOB_COMPLETED);
    check_i64(j.processing_ms, -1);
    sl_job_fini(&j);

    /* read the figures, release everything, then judge them */
    struct sl_stats st;
    check_rc(sl_store_stats(f->s, 1, NULL, STATS_NOW, &st, &err), 0, &err);
    int64_t completed = st.counts[SL_JOB_COMPLETED], p50 = st.p50_processing_ms,
            p95 = st.p95_processing_ms;
    double avg = st.avg_processing_ms;
    sl_stats_fini(&st);
    check_i64(completed, 3);
    if (avg < 199.999 || avg > 200.001)
        fail_msg("avg_processing_ms is %f, expected 200 (the mean of 100 and 300)", avg);
    check_i64(p50, 100); /* of 100 300: index ceil(1) - 1 = 0 */
    check_i64(p95, 300); /* index ceil(1.9) - 1 = 1 */
}

/*
 * A window that starts mid-hour: jobs before its first whole hour are counted from the jobs
 * themselves, later ones from the aggregates; one created 1 ms before it is left out, and a
 * cancelled job leaves the figures as if it had never been.
 */
static void test_stats_window_mid_hour(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    const int64_t now = STATS_NOW + 30 * MIN + 123, since = now - DAY;
    /* A before the window, B and C in its first partial hour, D in its first whole hour,
     * E and G near now */
    enum { A, B, C, D, E, G, N };
    const int64_t created[N] = {since - 1,     since,    since + 29 * MIN, STATS_NOW - DAY + HOUR,
                                now - 2 * MIN, now - MIN};
    struct sl_job *jobs = new_jobs(f, N);
    for (int i = 0; i < N; i++) {
        make_job(&jobs[i], "acme", i == D ? "json" : "csv", "w.csv", created[i]);
        jobs[i].max_attempts = 1;
    }
    int64_t fence;
    insert(f, &jobs[A], 1);
    fence = claim_one(f, created[A] + 10, 30 * DAY, jobs[A].id);
    complete(f, jobs[A].id, fence, created[A] + 999999, 999999, NULL);
    insert(f, &jobs[C], 1);
    fence = claim_one(f, created[C] + 1000, 30 * DAY, jobs[C].id); /* waited 1000 ms */
    complete(f, jobs[C].id, fence, created[C] + 1050, 50, NULL);
    insert(f, &jobs[D], 1);
    fence = claim_one(f, created[D] + 3000, 30 * DAY, jobs[D].id); /* waited 3000 ms */
    check_status(fail_job(f, jobs[D].id, fence, created[D] + 3100, 100, "bad", 0), SL_JOB_FAILED);
    insert(f, &jobs[E], 1);
    claim_one(f, created[E] + 5000, 30 * DAY, jobs[E].id); /* waited 5000 ms, still running */
    insert(f, &jobs[G], 1);
    struct sl_job gone;
    check_rc(sl_store_cancel_job(f->s, jobs[G].id, &gone, &err), 0, &err);
    sl_job_fini(&gone);
    insert(f, &jobs[B], 1); /* stays pending */

    struct sl_stats st;
    check_rc(sl_store_stats(f->s, 1, NULL, now, &st, &err), 0, &err);
    check_i64(st.since, since);
    check_i64(st.total, 4);
    check_i64(st.counts[SL_JOB_PENDING], 1);
    check_i64(st.counts[SL_JOB_PROCESSING], 1);
    check_i64(st.counts[SL_JOB_COMPLETED], 1);
    check_i64(st.counts[SL_JOB_FAILED], 1);
    check_type_counts(&st, "csv", 3, 1, 1, 1, 0);
    check_type_counts(&st, "json", 1, 0, 0, 0, 1);
    if (st.avg_processing_ms < 49.999 || st.avg_processing_ms > 50.001)
        fail_msg("avg_processing_ms is %f, expected 50 (job A is outside)", st.avg_processing_ms);
    check_i64(st.p50_processing_ms, 50);
    check_i64(st.p95_processing_ms, 50);
    if (st.avg_wait_ms < 2999.999 || st.avg_wait_ms > 3000.001)
        fail_msg("avg_wait_ms is %f, expected 3000 (1000, 3000, 5000)", st.avg_wait_ms);
    check_i64(st.day_count, 2);
    check_i64(st.daily[0].created, 3);
    check_i64(st.daily[0].completed, 1);
    check_i64(st.daily[0].failed, 1);
    check_i64(st.daily[1].created, 1);
    check_i64(st.daily[1].completed + st.daily[1].failed, 0);
    sl_stats_fini(&st);
}

/*
 * Above SL_STATS_EXACT_MAX completed jobs, percentiles come from the histogram: each is the
 * midpoint of the bucket that holds the exact answer.
 */
static void test_stats_percentiles_from_histogram(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    enum { N = SL_STATS_EXACT_MAX + 200, CHUNK = 500 };
    struct sl_job *jobs = new_jobs(f, N);
    int64_t day_start = (STATS_NOW / DAY) * DAY;
    for (int i = 0; i < N; i++)
        make_job(&jobs[i], "acme", "csv", "h.csv", day_start + HOUR + i);
    for (int i = 0; i < N; i += CHUNK)
        insert(f, &jobs[i], (size_t)(N - i < CHUNK ? N - i : CHUNK));
    struct sl_job *got;
    size_t n = claim(f, day_start + 2 * HOUR, N, 30 * DAY, &got);
    check_i64(n, N);
    for (size_t k = 0; k < n; k++) {
        int64_t ms = (int64_t)k + 1; /* 1 .. N, each once */
        complete(f, got[k].id, got[k].fence, day_start + 2 * HOUR + ms, ms, NULL);
    }
    sl_jobs_free(got, n);

    struct sl_stats st;
    check_rc(sl_store_stats(f->s, 1, NULL, STATS_NOW, &st, &err), 0, &err);
    check_i64(st.counts[SL_JOB_COMPLETED], N);
    int64_t p50 = (N + 1) / 2, p95 = (int64_t)ceil(0.95 * N);
    check_i64(st.p50_processing_ms, sl_hist_value(sl_hist_bucket(p50)));
    check_i64(st.p95_processing_ms, sl_hist_value(sl_hist_bucket(p95)));
    if (llabs(st.p50_processing_ms - p50) * 16 > p50)
        fail_msg("p50 %lld is more than 1/16 from %lld", (long long)st.p50_processing_ms,
                 (long long)p50);
    double avg = (N + 1) / 2.0;
    if (st.avg_processing_ms < avg - 0.001 || st.avg_processing_ms > avg + 0.001)
        fail_msg("avg_processing_ms is %f, expected %f", st.avg_processing_ms, avg);
    sl_stats_fini(&st);
}

static void test_stats_empty(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_stats st;
    check_rc(sl_store_stats(f->s, 7, NULL, STATS_NOW, &st, &err), 0, &err);
    check_i64(st.days, 7);
    check_i64(st.total, 0);
    for (int s = 0; s < SL_JOB_STATUS_COUNT; s++)
        check_i64(st.counts[s], 0);
    check_i64(st.type_count, 0);
    assert_true(st.avg_processing_ms < 0);
    assert_true(st.p50_processing_ms < 0);
    assert_true(st.p95_processing_ms < 0);
    assert_true(st.avg_wait_ms < 0);
    const int64_t none[6][4] = {{-1, 0, 0, 0}, {-1, 0, 0, 0}, {-1, 0, 0, 0},
                                {-1, 0, 0, 0}, {-1, 0, 0, 0}, {-1, 0, 0, 0}};
    check_daily(&st, STATS_NOW, none);
    sl_stats_fini(&st);
}

/* ---------------------------------------------------------------------------------------------
 * count_due, ping
 */

static void test_count_due_and_ping(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    int64_t due = -1;
    check_rc(sl_store_ping(f->s, &err), 0, &err);
    check_rc(sl_store_count_due(f->s, NOW, &due, &err), 0, &err);
    check_i64(due, 0);

    struct sl_job *jobs = new_jobs(f, 3);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0 + 1);
    make_job(&jobs[1], "other", "csv", "b.csv", T0 + 2);
    make_job(&jobs[2], "acme", "csv", "c.csv", T0 + 3);
    insert(f, jobs, 3);
    check_rc(sl_store_count_due(f->s, NOW, &due, &err), 0, &err);
    check_i64(due, 3);

    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    check_rc(sl_store_count_due(f->s, NOW, &due, &err), 0, &err);
    check_i64(due, 2);
    check_status(fail_job(f, jobs[0].id, fence, NOW + 1, 1, "later", NOW + HOUR), SL_JOB_PENDING);
    check_rc(sl_store_count_due(f->s, NOW + 2, &due, &err), 0, &err);
    check_i64(due, 2);
    check_rc(sl_store_count_due(f->s, NOW + HOUR, &due, &err), 0, &err);
    check_i64(due, 3);
    check_rc(sl_store_ping(f->s, &err), 0, &err);
}

/* A second store on the same URL sees the first one's jobs (the schema is migrated once). */
static void test_reopen_sees_jobs(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);
    sl_store_close(f->s);
    f->s = NULL;
    check_rc(sl_store_open(f->url, &f->s, &err), 0, &err);
    check_rc(sl_store_migrate(f->s, &err), 0, &err);
    struct sl_job got;
    get(f, jobs[0].id, &got);
    check_same_job(&got, &jobs[0]);
    sl_job_fini(&got);
}

/* ---------------------------------------------------------------------------------------------
 * Inserts: duplicates, many claimers on one handle, stores opened at once
 */

/* A duplicate id is a store error (SL_ESTORE), as on every backend. */
static void test_insert_duplicate_is_store_error(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);
    check_rc(sl_store_insert_jobs(f->s, jobs, 1, &err), SL_ESTORE, &err);
    assert_true(err.msg[0] != '\0');
    check_stored(f, jobs[0].id, SL_JOB_PENDING, 0);
}

/* Four threads claiming on one handle (its connections, its lock) never share a job either. */
static void test_threads_on_one_handle(void **state)
{
    struct fx *f = *state;
    enum { THREADS = 4 };
    struct sl_job *jobs = new_jobs(f, N_CONCURRENT);
    for (int i = 0; i < N_CONCURRENT; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d.csv", i);
        make_job(&jobs[i], i % 2 ? "acme" : "other", "csv", name, T0 + i);
    }
    insert(f, jobs, N_CONCURRENT);

    struct claimer c[THREADS];
    pthread_t th[THREADS];
    memset(c, 0, sizeof c);
    for (int t = 0; t < THREADS; t++) {
        c[t].s = f->s;
        c[t].ids = calloc(N_CONCURRENT, SL_UUID_MAX);
        assert_non_null(c[t].ids);
        assert_int_equal(pthread_create(&th[t], NULL, claim_loop, &c[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    size_t total = 0;
    char(*all)[SL_UUID_MAX] = calloc(N_CONCURRENT, SL_UUID_MAX);
    assert_non_null(all);
    for (int t = 0; t < THREADS; t++) {
        if (c[t].rc != 0)
            fail_msg("claimer %d: claim returned %d (%s: %s)", t, c[t].rc, sl_err_code(c[t].rc),
                     c[t].msg);
        if (total + c[t].n > N_CONCURRENT)
            fail_msg("claimers took more than the %d jobs inserted", N_CONCURRENT);
        memcpy(all + total, c[t].ids, c[t].n * SL_UUID_MAX);
        total += c[t].n;
        free(c[t].ids);
    }
    check_i64(total, N_CONCURRENT);
    qsort(all, N_CONCURRENT, SL_UUID_MAX, cmp_id);
    for (int i = 1; i < N_CONCURRENT; i++)
        if (strcmp(all[i - 1], all[i]) == 0)
            fail_msg("job %s was claimed twice", all[i]);
    free(all);
}

struct opener {
    const char *url;
    int rc;
    char msg[SL_ERROR_MSG_MAX];
};

static void *open_store(void *arg)
{
    struct opener *o = arg;
    struct sl_error err = {0};
    struct sl_store *s = NULL;
    o->rc = sl_store_open(o->url, &s, &err);
    memcpy(o->msg, err.msg, sizeof o->msg);
    sl_store_close(s);
    return NULL;
}

/* Nodes starting at once on an empty database: each migrates or waits; none fails. */
static void test_concurrent_first_open(void **state)
{
    struct fx *f = *state;
    enum { OPENERS = 4 };
    char url[URL_MAX];
    assert_int_equal(new_store_url(f, url), 0);
    struct opener o[OPENERS];
    pthread_t th[OPENERS];
    for (int i = 0; i < OPENERS; i++) {
        o[i] = (struct opener){.url = url};
        assert_int_equal(pthread_create(&th[i], NULL, open_store, &o[i]), 0);
    }
    for (int i = 0; i < OPENERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < OPENERS; i++)
        if (o[i].rc != 0)
            fail_msg("opener %d: %d (%s: %s)", i, o[i].rc, sl_err_code(o[i].rc), o[i].msg);

    struct sl_store *s;
    struct sl_error err = {0};
    check_rc(sl_store_open(url, &s, &err), 0, &err);
    int64_t due = -1;
    check_rc(sl_store_count_due(s, NOW, &due, &err), 0, &err);
    sl_store_close(s);
    check_i64(due, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Inline files
 */

static void test_read_inline_and_cancel(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    static const unsigned char bytes[] = {'a', 0, 0xff, 0xfe, '\\', '"', '\n', 0x80, 'z'};
    struct sl_job *jobs = new_jobs(f, 3);
    make_job(&jobs[0], "acme", "file", "bin.dat", T0 + 1);
    make_job(&jobs[1], "acme", "file", "empty.dat", T0 + 2);
    make_job(&jobs[2], "acme", "file", "on-disk.dat", T0 + 3);
    for (int i = 0; i < 2; i++)
        snprintf(jobs[i].blob_key, sizeof jobs[i].blob_key, "%s", SL_BLOB_INLINE);
    jobs[0].inline_data = bytes;
    jobs[0].inline_len = sizeof bytes;
    jobs[1].inline_data = "";
    jobs[1].inline_len = 0;
    insert(f, jobs, 3);

    void *data = NULL;
    size_t len = 99;
    check_rc(sl_store_read_inline(f->s, jobs[0].id, &data, &len, &err), 0, &err);
    check_i64(len, sizeof bytes);
    assert_memory_equal(data, bytes, sizeof bytes);
    free(data);
    check_rc(sl_store_read_inline(f->s, jobs[1].id, &data, &len, &err), 0, &err);
    check_i64(len, 0);
    free(data);
    check_rc(sl_store_read_inline(f->s, jobs[2].id, &data, &len, &err), SL_ENOT_FOUND, &err);
    assert_null(data);
    check_i64(len, 0);

    /* cancelling removes the job and its bytes together */
    struct sl_job out;
    check_rc(sl_store_cancel_job(f->s, jobs[0].id, &out, &err), 0, &err);
    check_str(out.blob_key, SL_BLOB_INLINE);
    sl_job_fini(&out);
    check_rc(sl_store_read_inline(f->s, jobs[0].id, &data, &len, &err), SL_ENOT_FOUND, &err);
    check_not_found(f, jobs[0].id);

    /* a failed insert stores no bytes either */
    sl_job_fini(&jobs[0]);
    make_job(&jobs[0], "acme", "file", "again.dat", T0 + 4);
    jobs[0].inline_data = bytes;
    jobs[0].inline_len = sizeof bytes;
    struct sl_job pair[2] = {jobs[0], jobs[2]}; /* jobs[2] is stored already */
    if (sl_store_insert_jobs(f->s, pair, 2, &err) == 0)
        fail_msg("inserting a stored id succeeded");
    check_rc(sl_store_read_inline(f->s, jobs[0].id, &data, &len, &err), SL_ENOT_FOUND, &err);
}

/* ---------------------------------------------------------------------------------------------
 * Progress
 */

static void test_progress_fencing(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);
    const char *id = jobs[0].id;

    check_rc(sl_store_progress(f->s, id, 1, "{\"rows\":0}", &err), SL_EFENCED, &err);
    int64_t old = claim_one(f, NOW, 1000, id);
    check_rc(sl_store_progress(f->s, id, old, "{\"rows\":10}", &err), 0, &err);
    struct sl_job j;
    get(f, id, &j);
    check_str(j.result, "{\"rows\":10}");
    sl_job_fini(&j);

    check_i64(rescue(f, NOW + 1001), 1);
    int64_t fence = claim_one(f, NOW + 2000, LEASE, id);
    check_rc(sl_store_progress(f->s, id, old, "{\"rows\":99}", &err), SL_EFENCED, &err);
    check_rc(sl_store_progress(f->s, id, fence, "{\"rows\":20}", &err), 0, &err);
    complete(f, id, fence, NOW + 3000, 1000, "{\"rows\":30}");
    check_rc(sl_store_progress(f->s, id, fence, "{\"rows\":40}", &err), SL_EFENCED, &err);
    get(f, id, &j);
    check_str(j.result, "{\"rows\":30}");
    sl_job_fini(&j);
}

/* ---------------------------------------------------------------------------------------------
 * Cron slots
 */

/* A won slot forgets the path's slots older than the kept window, and only the path's: a slot
 * that old can be recorded again, one inside the window cannot. */
static void test_cron_old_slots_forgotten(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    int won = -1;
    const int64_t t = NOW, later = NOW + SL_CRON_SLOT_KEEP_MS + MIN;
    check_rc(sl_store_cron_claim(f->s, "/a", t, t, "n1", &won, &err), 0, &err);
    check_i64(won, 1);
    check_rc(sl_store_cron_claim(f->s, "/a", t + MIN, t + MIN, "n1", &won, &err), 0, &err);
    check_i64(won, 1);
    check_rc(sl_store_cron_claim(f->s, "/b", t, t, "n1", &won, &err), 0, &err);
    check_i64(won, 1);
    /* a slot a window and a minute later: /a's first slot goes, its second stays */
    check_rc(sl_store_cron_claim(f->s, "/a", later, later, "n1", &won, &err), 0, &err);
    check_i64(won, 1);
    check_rc(sl_store_cron_claim(f->s, "/a", t, later, "n2", &won, &err), 0, &err);
    check_i64(won, 1); /* forgotten, so it can be recorded again */
    check_rc(sl_store_cron_claim(f->s, "/a", t + MIN, later, "n2", &won, &err), 0, &err);
    check_i64(won, 0); /* still inside the window */
    check_rc(sl_store_cron_claim(f->s, "/b", t, later, "n2", &won, &err), 0, &err);
    check_i64(won, 0); /* another path's slots are untouched */
}

static void test_cron_claim_once_across_handles(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct sl_store *other;
    const char *path = "/api/cron/process-integration-jobs";
    check_rc(sl_store_open(f->url, &other, &err), 0, &err);

    int won = -1;
    check_rc(sl_store_cron_claim(f->s, path, T0, T0 + 5, "node-a", &won, &err), 0, &err);
    check_i64(won, 1);
    check_rc(sl_store_cron_claim(other, path, T0, T0 + 6, "node-b", &won, &err), 0, &err);
    check_i64(won, 0);
    check_rc(sl_store_cron_claim(f->s, path, T0, T0 + 7, "node-a", &won, &err), 0, &err);
    check_i64(won, 0);
    /* the next slot, and another path's same slot, are separate */
    check_rc(sl_store_cron_claim(other, path, T0 + MIN, T0 + MIN, "node-b", &won, &err), 0, &err);
    check_i64(won, 1);
    check_rc(sl_store_cron_claim(f->s, "/other", T0, T0 + 8, "node-a", &won, &err), 0, &err);
    check_i64(won, 1);
    sl_store_close(other);
}

#define CRON_SLOTS 40

struct cron_racer {
    struct sl_store *s;
    const char *node;
    int wins[CRON_SLOTS];
    int rc;
    char msg[SL_ERROR_MSG_MAX];
};

static void *cron_race(void *arg)
{
    struct cron_racer *r = arg;
    for (int i = 0; i < CRON_SLOTS && r->rc == 0; i++) {
        struct sl_error err = {0};
        r->rc = sl_store_cron_claim(r->s, "/race", T0 + i * MIN, T0 + i * MIN, r->node, &r->wins[i],
                                    &err);
        memcpy(r->msg, err.msg, sizeof r->msg);
    }
    return NULL;
}

/* Three handles racing for the same slots: every slot is won exactly once. */
static void test_cron_claim_race(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    enum { RACERS = 3 };
    static const char *const nodes[RACERS] = {"a", "b", "c"};
    struct cron_racer r[RACERS];
    pthread_t th[RACERS];
    memset(r, 0, sizeof r);
    for (int i = 0; i < RACERS; i++) {
        check_rc(sl_store_open(f->url, &r[i].s, &err), 0, &err);
        r[i].node = nodes[i];
    }
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, cron_race, &r[i]), 0);
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < RACERS; i++)
        sl_store_close(r[i].s);
    for (int i = 0; i < RACERS; i++)
        if (r[i].rc != 0)
            fail_msg("racer %d: %d (%s: %s)", i, r[i].rc, sl_err_code(r[i].rc), r[i].msg);
    for (int k = 0; k < CRON_SLOTS; k++) {
        int wins = r[0].wins[k] + r[1].wins[k] + r[2].wins[k];
        if (wins != 1)
            fail_msg("slot %d was won %d times, expected once", k, wins);
    }
}

static void test_cron_last_run(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    const char *path = "/api/cron/process-integration-jobs";
    int64_t at = -1;
    int won = 0;
    check_rc(sl_store_cron_last_run(f->s, path, &at, &err), 0, &err);
    check_i64(at, 0);

    check_rc(sl_store_cron_claim(f->s, path, T0, T0 + 3, "n", &won, &err), 0, &err);
    check_rc(sl_store_cron_record(f->s, path, T0, 200, 40, 0, &err), 0, &err);
    check_rc(sl_store_cron_last_run(f->s, path, &at, &err), 0, &err);
    check_i64(at, T0 + 3);

    /* a skipped slot is not a run */
    check_rc(sl_store_cron_claim(f->s, path, T0 + 2 * MIN, T0 + 2 * MIN + 1, "n", &won, &err), 0,
             &err);
    check_rc(sl_store_cron_record(f->s, path, T0 + 2 * MIN, 0, 0, 1, &err), 0, &err);
    check_rc(sl_store_cron_last_run(f->s, path, &at, &err), 0, &err);
    check_i64(at, T0 + 3);

    /* a failed call still fired */
    check_rc(sl_store_cron_claim(f->s, path, T0 + 4 * MIN, T0 + 4 * MIN + 2, "n", &won, &err), 0,
             &err);
    check_rc(sl_store_cron_record(f->s, path, T0 + 4 * MIN, SL_ESTORE, 10, 0, &err), 0, &err);
    check_rc(sl_store_cron_last_run(f->s, path, &at, &err), 0, &err);
    check_i64(at, T0 + 4 * MIN + 2);

    check_rc(sl_store_cron_last_run(f->s, "/never", &at, &err), 0, &err);
    check_i64(at, 0);
}

/* ---------------------------------------------------------------------------------------------
 * next_due
 */

static void test_next_due(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    int64_t due = -1;
    check_rc(sl_store_next_due(f->s, &due, &err), 0, &err);
    check_i64(due, 0);

    struct sl_job *jobs = new_jobs(f, 2);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0 + 5);
    make_job(&jobs[1], "acme", "csv", "b.csv", T0 + 9);
    insert(f, jobs, 2);
    check_rc(sl_store_next_due(f->s, &due, &err), 0, &err);
    check_i64(due, T0 + 5);

    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    check_rc(sl_store_next_due(f->s, &due, &err), 0, &err);
    check_i64(due, T0 + 9);
    check_status(fail_job(f, jobs[0].id, fence, NOW + 1, 1, "later", NOW + HOUR), SL_JOB_PENDING);
    claim_one(f, NOW, LEASE, jobs[1].id);
    check_rc(sl_store_next_due(f->s, &due, &err), 0, &err);
    check_i64(due, NOW + HOUR);
}

/* ---------------------------------------------------------------------------------------------
 * Records and row errors
 */

static void upsert(struct fx *f, const char *tenant, const char *type, const char *job_id,
                   const struct sl_record_in *recs, size_t n, int64_t now, int64_t want_created,
                   int64_t want_updated)
{
    struct sl_error err = {0};
    int64_t created = 100, updated = 200; /* the counts are added to what the caller has */
    check_rc(sl_store_upsert_records(f->s, tenant, type, job_id, NULL, recs, n, now, &created,
                                     &updated, &err),
             0, &err);
    check_i64(created, 100 + want_created);
    check_i64(updated, 200 + want_updated);
}

static void check_record(struct fx *f, const char *tenant, const char *type, const char *key,
                         const char *data, const char *job_id, int64_t created_at,
                         int64_t updated_at)
{
    struct sl_error err = {0};
    struct sl_record r;
    check_rc(sl_store_get_record(f->s, tenant, type, key, &r, &err), 0, &err);
    check_str(r.key, key);
    check_str(r.data, data);
    check_str(r.job_id, job_id);
    check_i64(r.created_at, created_at);
    check_i64(r.updated_at, updated_at);
    sl_record_fini(&r);
}

static void test_upsert_records_counts(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char job1[SL_UUID_MAX], job2[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(T0, job1), 0);
    assert_int_equal(sl_uuid7(T0 + 1, job2), 0);
    /* keys and texts with the characters a quoting layer could trip on */
    const char *odd = "we\"ird\\key,{x} 'y' \xc3\xa9";
    const struct sl_record_in first[3] = {
        {"a", "{\"n\":1}"}, {"b", "{\"n\":2}"}, {odd, "{\"q\":\"say \\\"hi\\\"\",\"b\":\"\\\\\"}"}};
    upsert(f, "acme", "machines", job1, first, 3, NOW, 3, 0);

    /* b exists (updated), d is new (created), b again in the same batch (updated, last wins) */
    const struct sl_record_in second[3] = {
        {"b", "{\"n\":20}"}, {"d", "{\"n\":4}"}, {"b", "{\"n\":21}"}};
    upsert(f, "acme", "machines", job2, second, 3, NOW + 10, 1, 2);

    check_record(f, "acme", "machines", "a", "{\"n\":1}", job1, NOW, NOW);
    check_record(f, "acme", "machines", "b", "{\"n\":21}", job2, NOW, NOW + 10);
    check_record(f, "acme", "machines", "d", "{\"n\":4}", job2, NOW + 10, NOW + 10);
    check_record(f, "acme", "machines", odd, first[2].data, job1, NOW, NOW);

    /* the same key under another tenant or type is another record */
    const struct sl_record_in elsewhere[1] = {{"a", "{\"n\":9}"}};
    upsert(f, "other", "machines", job2, elsewhere, 1, NOW + 20, 1, 0);
    upsert(f, "acme", "orders", job2, elsewhere, 1, NOW + 20, 1, 0);
    check_record(f, "acme", "machines", "a", "{\"n\":1}", job1, NOW, NOW);

    struct sl_record r;
    check_rc(sl_store_get_record(f->s, "acme", "machines", "zzz", &r, &err), SL_ENOT_FOUND, &err);
    assert_null(r.key);
    check_rc(sl_store_get_record(f->s, "nobody", "machines", "a", &r, &err), SL_ENOT_FOUND, &err);

    /* an empty batch changes nothing */
    upsert(f, "acme", "machines", job2, NULL, 0, NOW + 30, 0, 0);
}

/* Lists one page of (tenant, type) after `after` and checks its keys in order. */
static void check_records_page(struct fx *f, const char *after, int limit, const char *const *keys,
                               size_t n_keys, int want_more)
{
    struct sl_error err = {0};
    struct sl_record *recs = NULL;
    size_t n = 99;
    int more = -1;
    check_rc(sl_store_list_records(f->s, "acme", "machines", after, limit, &recs, &n, &more, &err),
             0, &err);
    int ok = n == n_keys && more == want_more;
    for (size_t i = 0; ok && i < n; i++)
        ok = strcmp(recs[i].key, keys[i]) == 0;
    char first[64] = "";
    if (n > 0)
        snprintf(first, sizeof first, "%s", recs[0].key);
    sl_records_free(recs, n);
    if (!ok)
        fail_msg("page after '%s' (limit %d): %zu records (first '%s'), more %d; expected %zu, "
                 "more %d",
                 after ? after : "(start)", limit, n, first, more, n_keys, want_more);
}

static void test_list_records_paging(void **state)
{
    struct fx *f = *state;
    char job[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(T0, job), 0);
    /* byte order: upper case before lower case, "B" before "a", "a" before "a-1" before "ab" */
    const struct sl_record_in recs[6] = {{"ab", "{}"},  {"a", "{}"}, {"B", "{}"},
                                         {"a-1", "{}"}, {"b", "{}"}, {"a0", "{}"}};
    upsert(f, "acme", "machines", job, recs, 6, NOW, 6, 0);
    const struct sl_record_in other[1] = {{"0", "{}"}};
    upsert(f, "acme", "orders", job, other, 1, NOW, 1, 0);

    const char *const all[6] = {"B", "a", "a-1", "a0", "ab", "b"};
    check_records_page(f, NULL, 10, all, 6, 0);
    check_records_page(f, NULL, 6, all, 6, 0);
    check_records_page(f, NULL, 2, all, 2, 1);
    check_records_page(f, "a", 2, all + 2, 2, 1);
    check_records_page(f, "a0", 2, all + 4, 2, 0);
    check_records_page(f, "b", 2, NULL, 0, 0);
}

/* A key ending in ':' and a number lists by that number after the text before it (record_key.h):
 * an import's `<jobId>:<row>` keys in row order. Other keys keep byte order, and a key that only
 * looks numeric ("k:09", a leading zero) is plain text. Cursors page through that order. */
static void test_list_records_trailing_numbers(void **state)
{
    struct fx *f = *state;
    char job[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(T0, job), 0);
    const struct sl_record_in recs[9] = {
        {"k:10", "{\"n\":10}"}, {"k:9", "{}"},  {"k:09", "{}"}, {"k", "{}"},
        {"k:", "{}"},           {"k:1a", "{}"}, {"k:2", "{}"},  {"k:1234567890123456789", "{}"},
        {"j:100", "{}"}};
    upsert(f, "acme", "machines", job, recs, 9, NOW, 9, 0);
    const char *const all[9] = {
        "j:100", "k", "k:", "k:2", "k:9", "k:10", "k:09", "k:1234567890123456789", "k:1a"};
    check_records_page(f, NULL, 20, all, 9, 0);
    for (size_t i = 0; i < 8; i++) /* from each key, the next two */
        check_records_page(f, all[i], 2, all + i + 1, i + 3 <= 9 ? 2 : 1, i + 3 < 9);
    /* every key reads back by its own text, and a number is not its key's text */
    check_record(f, "acme", "machines", "k:10", "{\"n\":10}", job, NOW, NOW);
    struct sl_error err = {0};
    struct sl_record r;
    check_rc(sl_store_get_record(f->s, "acme", "machines", "k:010", &r, &err), SL_ENOT_FOUND, &err);
    /* the same key written again is the same record */
    const struct sl_record_in again[1] = {{"k:10", "{\"n\":11}"}};
    upsert(f, "acme", "machines", job, again, 1, NOW + 1, 0, 1);
    check_record(f, "acme", "machines", "k:10", "{\"n\":11}", job, NOW, NOW + 1);
}

/* Records given as arrays of values under the batch's columns read back as objects, the same
 * text the importer would have written; objects and arrays mix in one batch, and a later object
 * replaces an array. An array without columns fails its batch, which writes nothing. */
static void test_records_as_values_under_columns(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    int64_t created = 0, updated = 0;
    char job1[SL_UUID_MAX], job2[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(T0, job1), 0);
    assert_int_equal(sl_uuid7(T0 + 1, job2), 0);
    const char *cols = "[\"id\",\"n\\\"ame\",\"x\",\"x\"]";
    const struct sl_record_in recs[4] = {{"a", "[\"a\",\"say \\\"hi\\\", [ok]\",1.5,null]"},
                                         {"b", "[\"b\"]"},
                                         {"c", "{\"free\":true}"},
                                         {"d", "[{\"p\":[1,{\"q\":\"]\"}]},[],true,false]"}};
    check_rc(sl_store_upsert_records(f->s, "acme", "machines", job1, cols, recs, 4, NOW, &created,
                                     &updated, &err),
             0, &err);
    check_record(f, "acme", "machines", "a",
                 "{\"id\":\"a\",\"n\\\"ame\":\"say \\\"hi\\\", [ok]\",\"x\":1.5,\"x\":null}", job1,
                 NOW, NOW);
    check_record(f, "acme", "machines", "b", "{\"id\":\"b\"}", job1, NOW, NOW);
    check_record(f, "acme", "machines", "c", "{\"free\":true}", job1, NOW, NOW);
    check_record(f, "acme", "machines", "d",
                 "{\"id\":{\"p\":[1,{\"q\":\"]\"}]},\"n\\\"ame\":[],\"x\":true,\"x\":false}", job1,
                 NOW, NOW);
    /* another job's object replaces an array; the list reads both forms */
    const struct sl_record_in later[1] = {{"a", "{\"id\":\"A\"}"}};
    upsert(f, "acme", "machines", job2, later, 1, NOW + 5, 0, 1);
    check_record(f, "acme", "machines", "a", "{\"id\":\"A\"}", job2, NOW, NOW + 5);
    const char *const all[4] = {"a", "b", "c", "d"};
    check_records_page(f, NULL, 10, all, 4, 0);

    /* an array without columns is refused and nothing of its batch is written */
    const struct sl_record_in bad[2] = {{"e", "{}"}, {"f", "[1,2]"}};
    int rc = sl_store_upsert_records(f->s, "acme", "machines", job2, NULL, bad, 2, NOW, &created,
                                     &updated, &err);
    assert_int_equal(rc, SL_EINVALID);
    struct sl_record r;
    check_rc(sl_store_get_record(f->s, "acme", "machines", "e", &r, &err), SL_ENOT_FOUND, &err);
    check_rc(sl_store_get_record(f->s, "acme", "machines", "f", &r, &err), SL_ENOT_FOUND, &err);
    /* a later batch of the same job without columns leaves the job's columns as they were */
    upsert(f, "acme", "machines", job1, bad, 1, NOW + 6, 1, 0);
    check_record(f, "acme", "machines", "b", "{\"id\":\"b\"}", job1, NOW, NOW);
}

static void add_errors(struct fx *f, const char *job_id, int64_t first_seq,
                       const struct sl_row_error *errs, size_t n)
{
    struct sl_error err = {0};
    check_rc(sl_store_add_row_errors(f->s, job_id, first_seq, errs, n, &err), 0, &err);
}

/* Lists row errors after `after` (limit) and checks their seqs and the next position. */
static void check_errors_page(struct fx *f, const char *job_id, int64_t after, int limit,
                              int64_t first_seq, size_t want_n, int64_t want_next)
{
    struct sl_error err = {0};
    struct sl_row_error_out *e = NULL;
    size_t n = 99;
    int64_t next = -1;
    check_rc(sl_store_list_row_errors(f->s, job_id, after, limit, &e, &n, &next, &err), 0, &err);
    int ok = n == want_n && next == want_next;
    for (size_t i = 0; ok && i < n; i++)
        ok = e[i].seq == first_seq + (int64_t)i;
    sl_row_errors_free(e, n);
    if (!ok)
        fail_msg("errors after %lld: %zu, next %lld; expected %zu from %lld, next %lld",
                 (long long)after, n, (long long)next, want_n, (long long)first_seq,
                 (long long)want_next);
}

static void test_row_errors(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char job[SL_UUID_MAX], other[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(T0, job), 0);
    assert_int_equal(sl_uuid7(T0 + 1, other), 0);
    const struct sl_row_error first[3] = {
        {1, "year", "19x7", "not an integer"},
        {2, NULL, NULL, "row has no key"},
        {4, "name", "O\"Brien, \\ {NULL}", "is \"quoted\""},
    };
    add_errors(f, job, 1, first, 3);
    const struct sl_row_error second[2] = {{7, "kind", "x", "not one of the allowed values"},
                                           {0, NULL, NULL, "file-level note"}};
    add_errors(f, job, 4, second, 2);
    add_errors(f, other, 1, first, 1);

    struct sl_row_error_out *e = NULL;
    size_t n = 0;
    int64_t next = -1;
    check_rc(sl_store_list_row_errors(f->s, job, 0, 10, &e, &n, &next, &err), 0, &err);
    check_i64(n, 5);
    check_i64(next, 0);
    check_i64(e[0].seq, 1);
    check_i64(e[0].row, 1);
    check_str(e[0].field, "year");
    check_str(e[0].value, "19x7");
    check_str(e[0].message, "not an integer");
    check_str(e[1].field, NULL);
    check_str(e[1].value, NULL);
    check_str(e[1].message, "row has no key");
    check_str(e[2].value, "O\"Brien, \\ {NULL}");
    check_str(e[2].message, "is \"quoted\"");
    check_i64(e[3].row, 7);
    check_i64(e[4].seq, 5);
    check_i64(e[4].row, 0);
    sl_row_errors_free(e, n);

    check_errors_page(f, job, 0, 2, 1, 2, 2);
    check_errors_page(f, job, 2, 2, 3, 2, 4);
    check_errors_page(f, job, 4, 2, 5, 1, 0);
    check_errors_page(f, job, 5, 2, 6, 0, 0);
    check_errors_page(f, other, 0, 2, 1, 1, 0);

    /* an import starting again clears its errors and writes them from seq 1 */
    check_rc(sl_store_clear_row_errors(f->s, job, &err), 0, &err);
    check_errors_page(f, job, 0, 10, 1, 0, 0);
    check_errors_page(f, other, 0, 10, 1, 1, 0);
    add_errors(f, job, 1, second, 1);
    check_errors_page(f, job, 0, 10, 1, 1, 0);
}

/* Text that is not valid UTF-8 is kept (SQLite) or repaired (PostgreSQL), never refused. */
static void test_invalid_utf8_text_is_stored(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char job[SL_UUID_MAX];
    assert_int_equal(sl_uuid7(T0, job), 0);
    const struct sl_row_error bad[1] = {{1, "name", "caf\xe9 \xff", "bad \xc3"}};
    add_errors(f, job, 1, bad, 1);
    struct sl_row_error_out *e = NULL;
    size_t n = 0;
    int64_t next = 0;
    check_rc(sl_store_list_row_errors(f->s, job, 0, 10, &e, &n, &next, &err), 0, &err);
    check_i64(n, 1);
    check_i64(strlen(e[0].value), strlen("caf\xe9 \xff"));
    assert_true(strncmp(e[0].value, "caf", 3) == 0);
    sl_row_errors_free(e, n);

    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    insert(f, jobs, 1);
    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    check_status(fail_job(f, jobs[0].id, fence, NOW + 1, 1, "exit 1: \xff\xfe garbage", NOW + 2),
                 SL_JOB_PENDING);
    struct sl_job j;
    get(f, jobs[0].id, &j);
    assert_non_null(j.error);
    assert_true(strncmp(j.error, "exit 1: ", 8) == 0);
    sl_job_fini(&j);
}

/* ---------------------------------------------------------------------------------------------
 * Watching other processes' changes
 */

struct watcher {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
};

static void on_change(void *arg)
{
    struct watcher *w = arg;
    pthread_mutex_lock(&w->lock);
    w->calls++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Waits up to timeout_ms for more than `seen` calls; returns the count. */
static int wait_calls(struct watcher *w, int seen, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (w->calls <= seen && pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0)
        ;
    int calls = w->calls;
    pthread_mutex_unlock(&w->lock);
    return calls;
}

static int calls_now(struct watcher *w)
{
    pthread_mutex_lock(&w->lock);
    int calls = w->calls;
    pthread_mutex_unlock(&w->lock);
    return calls;
}

static void test_watch_sees_other_handles(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    struct watcher w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct sl_store *other;
    check_rc(sl_store_open(f->url, &other, &err), 0, &err);
    check_rc(sl_store_watch(f->s, on_change, &w, &err), 0, &err);
    if (!is_postgres()) { /* accepted, and never called */
        sl_store_close(other);
        check_i64(calls_now(&w), 0);
        return;
    }
    check_rc(sl_store_watch(f->s, on_change, &w, &err), SL_ECONFLICT, &err);

    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    sl_test_insert_jobs(other, jobs, 1);
    int seen = wait_calls(&w, 0, 5000);
    if (seen < 1)
        fail_msg("no change seen within 5 s of an insert by another handle");

    /* a claim is a change; a heartbeat is not (it changes no status) */
    struct sl_job *got = NULL;
    size_t n = 0;
    check_rc(sl_store_claim(other, NOW, 1, LEASE, &got, &n, &err), 0, &err);
    check_i64(n, 1);
    int64_t fence = got[0].fence;
    sl_jobs_free(got, n);
    seen = wait_calls(&w, seen, 5000);
    check_rc(sl_store_complete(other, jobs[0].id, fence, NOW + 1, 1, NULL, &err), 0, &err);
    if (wait_calls(&w, seen, 5000) <= seen)
        fail_msg("no change seen within 5 s of a completion by another handle");
    sl_store_close(other);
}

/* ---------------------------------------------------------------------------------------------
 * Reconnecting (PostgreSQL): the server ends every session, as when it restarts
 */

static void kill_store_sessions(void)
{
    assert_int_equal(admin_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = 'sluice' AND pid <> pg_backend_pid()"),
                     0);
}

static void test_reconnect_after_sessions_end(void **state)
{
    struct fx *f = *state;
    if (!is_postgres())
        skip();
    struct sl_job *jobs = new_jobs(f, 2);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0 + 1);
    make_job(&jobs[1], "acme", "csv", "b.csv", T0 + 2);
    insert(f, jobs, 1);

    /* a read, a write, an insert: each finds its connection gone and runs again */
    kill_store_sessions();
    check_stored(f, jobs[0].id, SL_JOB_PENDING, 0);
    kill_store_sessions();
    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    kill_store_sessions();
    complete(f, jobs[0].id, fence, NOW + 1, 1, "{}");
    kill_store_sessions();
    insert(f, &jobs[1], 1);
    check_stored(f, jobs[0].id, SL_JOB_COMPLETED, 0);
    check_stored(f, jobs[1].id, SL_JOB_PENDING, 0);
}

static int drops_left; /* how many commits' answers to lose */

static int drop_after_commit(const char *point)
{
    if (strcmp(point, "after commit") != 0 || drops_left == 0)
        return 0;
    drops_left--;
    return 1;
}

/*
 * The connection drops after the server committed but before its answer arrived: the store asks
 * the server what became of the transaction and reports success, without running it twice (an
 * insert run twice would fail on its own first run's ids).
 */
static void test_commit_answer_lost(void **state)
{
    struct fx *f = *state;
    if (!is_postgres())
        skip();
    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    sl_store_postgres_fault = drop_after_commit;

    drops_left = 1;
    insert(f, jobs, 1);
    check_i64(drops_left, 0);
    drops_left = 1;
    int64_t fence = claim_one(f, NOW, LEASE, jobs[0].id);
    check_i64(drops_left, 0);
    struct sl_job j;
    get(f, jobs[0].id, &j);
    check_status(j.status, SL_JOB_PROCESSING);
    check_i64(j.fence, fence); /* claimed once, under the fence we were given */
    sl_job_fini(&j);
    drops_left = 1;
    complete(f, jobs[0].id, fence, NOW + 1, 1, "{}");
    check_i64(drops_left, 0);
    sl_store_postgres_fault = NULL;

    check_stored(f, jobs[0].id, SL_JOB_COMPLETED, 0);
    struct sl_error err = {0};
    struct sl_queue_status q;
    check_rc(sl_store_queue_status(f->s, NULL, NOW + 2, &q, &err), 0, &err);
    check_i64(q.total, 1);
    check_i64(q.counts[SL_JOB_COMPLETED], 1);
    sl_queue_status_fini(&q);
}

/* The listening session comes back after the server ends it, says so, and sees what follows. */
static void test_watch_reconnects(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    if (!is_postgres())
        skip();
    struct watcher w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct sl_store *other;
    check_rc(sl_store_open(f->url, &other, &err), 0, &err);
    check_rc(sl_store_watch(f->s, on_change, &w, &err), 0, &err);
    kill_store_sessions();
    int back = wait_calls(&w, 0, 5000);
    if (back < 1)
        fail_msg("the watcher did not come back within 5 s of losing its session");

    struct sl_job *jobs = new_jobs(f, 1);
    make_job(&jobs[0], "acme", "csv", "a.csv", T0);
    sl_test_insert_jobs(other, jobs, 1); /* its session was ended too: it reconnects */
    sl_store_close(other);
    if (wait_calls(&w, back, 5000) <= back)
        fail_msg("the watcher saw no change after reconnecting");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_insert_get_round_trip),
        T(test_get_unknown_is_not_found),
        T(test_insert_all_or_nothing),
        T(test_claim_fifo_and_limit),
        T(test_claim_fair_share),
        T(test_claim_fair_share_three_tenants),
        T(test_claim_only_due_jobs),
        T(test_two_concurrent_claimers),
        T(test_lease_expiry_and_rescue),
        T(test_rescue_counts_only_expired),
        T(test_fencing),
        T(test_heartbeat_extends_lease),
        T(test_fail_below_and_at_max),
        T(test_release_keeps_attempts),
        T(test_retry_job),
        T(test_cancel_job),
        cmocka_unit_test(test_cursor_text),
        T(test_list_jobs_order_and_filters),
        T(test_list_jobs_paging),
        T(test_list_jobs_newest_by_created_at),
        T(test_list_jobs_paging_with_equal_times),
        T(test_queue_status),
        T(test_stats_all_tenants),
        T(test_stats_tenant),
        T(test_stats_percentiles_nearest_rank),
        T(test_stats_unknown_processing_ms),
        T(test_stats_empty),
        T(test_stats_window_mid_hour),
        T(test_stats_percentiles_from_histogram),
        T(test_count_due_and_ping),
        T(test_reopen_sees_jobs),
        T(test_insert_duplicate_is_store_error),
        T(test_threads_on_one_handle),
        T(test_concurrent_first_open),
        T(test_read_inline_and_cancel),
        T(test_progress_fencing),
        T(test_cron_claim_once_across_handles),
        T(test_cron_old_slots_forgotten),
        T(test_cron_claim_race),
        T(test_cron_last_run),
        T(test_next_due),
        T(test_upsert_records_counts),
        T(test_list_records_paging),
        T(test_list_records_trailing_numbers),
        T(test_records_as_values_under_columns),
        T(test_row_errors),
        T(test_invalid_utf8_text_is_stored),
        T(test_watch_sees_other_handles),
        T(test_reconnect_after_sessions_end),
        T(test_commit_answer_lost),
        T(test_watch_reconnects),
    };
    const char *pg = pg_base_url();
    print_message("store contract suite on %s\n", pg ? "PostgreSQL" : "SQLite");
    return cmocka_run_group_tests_name(pg ? "store contract (postgres)" : "store contract (sqlite)",
                                       tests, NULL, NULL);
}
