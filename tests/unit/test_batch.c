/*
 * test_batch: the batch runner (src/core/batch.h) over a real SQLite store and a real file blob
 * store in a fresh temporary folder per test.
 *
 * The configuration is filled by hand and the processor table is the built-in one plus three
 * test processors: `boom` always fails with a message, `count` records the order it ran jobs
 * in, and `slow` sleeps (signalling when it starts) so that tests can act while a batch runs:
 * a second batch, another store connection rescuing expired leases, a shutdown. Threads never
 * assert; they record what they saw and the main thread checks it after joining them.
 */
#include "testutil.h"

#include "blob/blob.h"
#include "core/batch.h"
#include "core/job.h"
#include "core/processor.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"
#include "util/sha256.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>
#include <unistd.h>

#define MIN_MS   60000LL
#define BOOM_MSG "boom: the test processor always fails"

#define check_contains(got, part)                                                                  \
    do {                                                                                           \
        const char *got_ = (got), *part_ = (part);                                                 \
        if (!got_ || !strstr(got_, part_))                                                         \
            fail_msg("%s is '%s', expected it to contain '%s'", #got, got_ ? got_ : "(NULL)",      \
                     part_);                                                                       \
    } while (0)

/* Checks a batch's counters in one message. */
#define check_counts(res, proc, ok, bad, retry)                                                    \
    do {                                                                                           \
        const struct sl_batch_result *r_ = (res);                                                  \
        if (r_->processed != (proc) || r_->succeeded != (ok) || r_->failed != (bad) ||             \
            r_->retried != (retry))                                                                \
            fail_msg("batch counted processed %d, succeeded %d, failed %d, retried %d; expected "  \
                     "%d, %d, %d, %d",                                                             \
                     r_->processed, r_->succeeded, r_->failed, r_->retried, (proc), (ok), (bad),   \
                     (retry));                                                                     \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Test processors and what they saw
 */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_count;                   /* jobs `count` ran */
static char g_order[32][SL_UUID_MAX]; /* their ids, in order */
static int g_slow_started, g_slow_done;
static int64_t g_slow_ms; /* how long `slow` sleeps */

static void reset_processors(void)
{
    pthread_mutex_lock(&g_lock);
    g_count = 0;
    memset(g_order, 0, sizeof g_order);
    g_slow_started = g_slow_done = 0;
    g_slow_ms = 0;
    pthread_mutex_unlock(&g_lock);
}

static int proc_boom(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    (void)ctx;
    *result = NULL;
    return sl_err_set(err, SL_EPROCESS, "%s", BOOM_MSG);
}

static int proc_count(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    (void)err;
    pthread_mutex_lock(&g_lock);
    if (g_count < 32)
        memcpy(g_order[g_count], ctx->job->id, SL_UUID_MAX);
    g_count++;
    pthread_mutex_unlock(&g_lock);
    *result = strdup("{\"counted\":true}");
    return *result ? 0 : SL_ENOMEM;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int proc_slow(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    (void)ctx;
    (void)err;
    pthread_mutex_lock(&g_lock);
    g_slow_started++;
    int64_t ms = g_slow_ms;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    sleep_ms(ms);
    pthread_mutex_lock(&g_lock);
    g_slow_done++;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    *result = strdup("{\"slept\":true}");
    return *result ? 0 : SL_ENOMEM;
}

static int slow_done(void)
{
    pthread_mutex_lock(&g_lock);
    int n = g_slow_done;
    pthread_mutex_unlock(&g_lock);
    return n;
}

/* Waits (up to 10 s) until `slow` has started n jobs; returns 1 when it did. */
static int wait_slow_started(int n)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&g_lock);
    while (g_slow_started < n && pthread_cond_timedwait(&g_cond, &g_lock, &deadline) != ETIMEDOUT)
        ;
    int ok = g_slow_started >= n;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

/* ---------------------------------------------------------------------------------------------
 * Fixture
 */

struct fx {
    char dir[256];
    char store_url[300];
    char blob_root[300];
    struct sl_store *s;
    struct sl_blob *b;
    struct sl_config cfg;
    struct sl_processors procs;
    struct sl_runner *r;
    int64_t t0; /* ms: created_at of the first job; in the past, so jobs are due */
    int seq;    /* jobs made so far */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_error err = {0};
    int rc;
    if (!f)
        return -1;
    reset_processors();
    sl_test_tmpdir(f->dir);
    if ((rc = sl_test_store_open(f->dir, f->store_url, sizeof f->store_url, &f->s, &err)) != 0 ||
        (rc = sl_test_blob_open(f->dir, f->blob_root, sizeof f->blob_root, &f->b, &err)) != 0) {
        print_error("opening the stores failed: %d (%s: %s)\n", rc, sl_err_code(rc), err.msg);
        sl_store_close(f->s);
        free(f);
        return -1;
    }
    f->cfg.batch_size = 5;
    f->cfg.max_attempts = 3;
    f->cfg.max_upload_bytes = 1LL << 30;
    f->cfg.max_files = 10;
    f->cfg.job_timeout_s = 300;
    f->cfg.retry_base_ms = 0;
    f->cfg.retry_max_ms = 0;
    f->cfg.shutdown_grace_s = 1;
    sl_processors_init(&f->procs);
    if (sl_processors_set(&f->procs, "boom", proc_boom, NULL) != 0 ||
        sl_processors_set(&f->procs, "count", proc_count, NULL) != 0 ||
        sl_processors_set(&f->procs, "slow", proc_slow, NULL) != 0 ||
        sl_runner_new(&f->cfg, f->s, f->b, &f->procs, &f->r) != 0) {
        print_error("setting up the runner failed\n");
        sl_blob_close(f->b);
        sl_store_close(f->s);
        free(f);
        return -1;
    }
    f->t0 = sl_now_ms() - 10 * MIN_MS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_runner_free(f->r);
    sl_store_close(f->s);
    sl_blob_close(f->b);
    free(f);
    return 0;
}

/* Makes a new runner after a test changed the configuration (the heartbeat reads it at start). */
static void restart_runner(struct fx *f)
{
    sl_runner_free(f->r);
    f->r = NULL;
    assert_int_equal(sl_runner_new(&f->cfg, f->s, f->b, &f->procs, &f->r), 0);
}

/* ---------------------------------------------------------------------------------------------
 * Jobs
 */

/* Stores data as the blob under key (through a temporary file moved into the blob store) and
 * writes its SHA-256 into hex. */
static void put_blob(struct fx *f, const char *key, const char *data, size_t len,
                     char hex[SL_SHA256_HEX])
{
    char src[PATH_MAX];
    struct sl_error err = {0};
    struct sl_sha256 *h = NULL;
    snprintf(src, sizeof src, "%s/up-%d.tmp", f->dir, f->seq);
    sl_test_write_new(src, data, len);
    check_rc(sl_blob_put_file(f->b, key, src, &err), 0, &err);
    assert_int_equal(sl_sha256_new(&h), 0);
    assert_int_equal(sl_sha256_update(h, data, len), 0);
    assert_int_equal(sl_sha256_final(h, hex), 0);
}

/*
 * Inserts a pending job of type created `offset` ms after f->t0, with the given attempts so
 * far and max_attempts. With data, the bytes are stored as its blob first (for `file`-type
 * processors); without, the job names a blob that does not exist. The job's id goes to id.
 */
static void add_job_ex(struct fx *f, const char *type, int64_t offset, const char *data,
                       int attempts, int max_attempts, char id[SL_UUID_MAX])
{
    struct sl_job j;
    memset(&j, 0, sizeof j);
    f->seq++;
    j.created_at = f->t0 + offset;
    assert_int_equal(sl_uuid7(j.created_at, j.upload_id), 0);
    assert_int_equal(sl_uuid7(j.created_at, j.id), 0);
    snprintf(j.blob_key, sizeof j.blob_key, "%s/%s", j.upload_id, j.id);
    sl_test_job_strings(&j, "default", type, "data.bin", "application/octet-stream");
    if (data) {
        j.size = (int64_t)strlen(data);
        put_blob(f, j.blob_key, data, strlen(data), j.sha256);
    } else {
        snprintf(j.sha256, sizeof j.sha256, "%064d", 0);
    }
    j.status = SL_JOB_PENDING;
    j.attempts = attempts;
    j.max_attempts = max_attempts;
    j.processing_ms = -1;
    sl_test_insert_jobs(f->s, &j, 1);
    memcpy(id, j.id, SL_UUID_MAX);
    sl_job_fini(&j);
}

static void add_job(struct fx *f, const char *type, int64_t offset, const char *data,
                    char id[SL_UUID_MAX])
{
    add_job_ex(f, type, offset, data, 0, f->cfg.max_attempts, id);
}

static void run_batch(struct fx *f, int limit, struct sl_batch_result *res)
{
    struct sl_error err = {0};
    check_rc(sl_runner_run(f->r, limit, res, &err), 0, &err);
    if (res->count && !res->items)
        fail_msg("batch result has %zu items but no item array", res->count);
}

static const struct sl_batch_item *item_of(const struct sl_batch_result *res, const char *id)
{
    for (size_t i = 0; i < res->count; i++)
        if (strcmp(res->items[i].id, id) == 0)
            return &res->items[i];
    fail_msg("job %s is not among the batch's %zu items", id, res->count);
    return NULL;
}

/* Parses a job's result text and returns the boolean under key (-1 when absent). */
static int result_bool(const char *result, const char *key)
{
    json_error_t jerr;
    if (!result)
        fail_msg("job has no result, expected JSON with '%s'", key);
    json_t *o = json_loads(result, 0, &jerr);
    if (!o)
        fail_msg("job result '%s' is not JSON: %s", result, jerr.text);
    json_t *v = json_object_get(o, key);
    int b = json_is_boolean(v) ? json_is_true(v) : -1;
    json_decref(o);
    return b;
}

/* ---------------------------------------------------------------------------------------------
 * Batches
 */

static void test_batch_completes_file_jobs(void **state)
{
    struct fx *f = *state;
    static const char *const data[] = {"id,name\n1,alpha\n", "{\"a\": 1}", "plain bytes \x01\x02"};
    static const char *const types[] = {"file", "csv", "json"};
    char ids[3][SL_UUID_MAX];
    struct sl_batch_result res;
    for (int i = 0; i < 3; i++)
        add_job(f, types[i], i, data[i], ids[i]);

    int64_t before = sl_now_ms();
    run_batch(f, 10, &res);
    int64_t after = sl_now_ms();
    check_counts(&res, 3, 3, 0, 0);
    check_i64(res.count, 3);
    check_i64(res.remaining, 0);
    check_range(res.started_at, before, after);
    check_range(sl_runner_last_run_at(f->r), before, after);
    assert_int_equal(sl_runner_busy(f->r), 0);
    for (int i = 0; i < 3; i++) {
        const struct sl_batch_item *it = &res.items[i];
        check_str(it->id, ids[i]);
        check_status(it->status, SL_JOB_COMPLETED);
        check_str(it->error, NULL);
        check_i64(it->attempts, 0);
        assert_true(it->processing_ms >= 0);

        struct sl_job j;
        sl_test_get_job(f->s, ids[i], &j);
        check_status(j.status, SL_JOB_COMPLETED);
        check_range(j.completed_at, before, after);
        check_range(j.started_at, before, after);
        assert_true(j.processing_ms >= 0);
        check_i64(j.attempts, 0);
        check_str(j.error, NULL);
        check_i64(result_bool(j.result, "verified"), 1);
        check_contains(j.result, j.sha256);
        sl_job_fini(&j);
    }
    sl_batch_result_fini(&res);

    /* nothing is left to do */
    run_batch(f, 10, &res);
    check_counts(&res, 0, 0, 0, 0);
    check_i64(res.count, 0);
    sl_batch_result_fini(&res);
}

static void test_fifo_and_limit(void **state)
{
    struct fx *f = *state;
    static const int offsets[] = {4000, 1000, 3000, 0, 2000}; /* inserted out of age order */
    char ids[5][SL_UUID_MAX], by_age[5][SL_UUID_MAX];
    struct sl_batch_result res;
    for (int i = 0; i < 5; i++) {
        add_job(f, "count", offsets[i], NULL, ids[i]);
        memcpy(by_age[offsets[i] / 1000], ids[i], SL_UUID_MAX);
    }

    run_batch(f, 2, &res);
    check_counts(&res, 2, 2, 0, 0);
    check_i64(res.count, 2);
    check_str(res.items[0].id, by_age[0]);
    check_str(res.items[1].id, by_age[1]);
    check_i64(res.remaining, 3);
    sl_batch_result_fini(&res);

    run_batch(f, 2, &res);
    check_i64(res.count, 2);
    check_str(res.items[0].id, by_age[2]);
    check_str(res.items[1].id, by_age[3]);
    check_i64(res.remaining, 1);
    sl_batch_result_fini(&res);

    run_batch(f, 100, &res);
    check_counts(&res, 1, 1, 0, 0);
    check_str(res.items[0].id, by_age[4]);
    check_i64(res.remaining, 0);
    sl_batch_result_fini(&res);

    /* the processor ran them oldest first */
    check_i64(g_count, 5);
    for (int i = 0; i < 5; i++)
        check_str(g_order[i], by_age[i]);
    for (int i = 0; i < 5; i++) {
        struct sl_job j;
        sl_test_get_job(f->s, ids[i], &j);
        check_status(j.status, SL_JOB_COMPLETED);
        check_i64(result_bool(j.result, "counted"), 1);
        sl_job_fini(&j);
    }
}

static void test_failing_job_retried_then_failed(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    struct sl_batch_result res;
    struct sl_job j;
    add_job(f, "boom", 0, NULL, id);

    for (int attempt = 1; attempt <= 2; attempt++) {
        int64_t before = sl_now_ms();
        run_batch(f, 5, &res);
        int64_t after = sl_now_ms();
        check_counts(&res, 1, 0, 0, 1);
        check_i64(res.count, 1);
        check_status(res.items[0].status, SL_JOB_PENDING);
        check_i64(res.items[0].attempts, attempt);
        check_contains(res.items[0].error, BOOM_MSG);
        check_i64(res.remaining, 1); /* retry_base_ms 0: due again at once */
        sl_batch_result_fini(&res);

        sl_test_get_job(f->s, id, &j);
        check_status(j.status, SL_JOB_PENDING);
        check_i64(j.attempts, attempt);
        check_range(j.next_attempt_at, before, after); /* set; no backoff with a 0 ms base */
        check_contains(j.error, BOOM_MSG);
        check_i64(j.completed_at, 0);
        check_str(j.result, NULL);
        sl_job_fini(&j);
    }

    run_batch(f, 5, &res);
    check_counts(&res, 1, 0, 1, 0);
    check_status(res.items[0].status, SL_JOB_FAILED);
    check_i64(res.items[0].attempts, 3);
    check_contains(res.items[0].error, BOOM_MSG);
    check_i64(res.remaining, 0);
    sl_batch_result_fini(&res);

    sl_test_get_job(f->s, id, &j);
    check_status(j.status, SL_JOB_FAILED);
    check_i64(j.attempts, 3);
    check_i64(j.max_attempts, 3);
    check_i64(j.next_attempt_at, 0);
    assert_true(j.completed_at > 0);
    check_contains(j.error, BOOM_MSG);
    sl_job_fini(&j);

    run_batch(f, 5, &res);
    check_counts(&res, 0, 0, 0, 0);
    sl_batch_result_fini(&res);
}

static void test_mixed_batch_counters(void **state)
{
    struct fx *f = *state;
    char ok1[SL_UUID_MAX], ok2[SL_UUID_MAX], retry[SL_UUID_MAX], last[SL_UUID_MAX];
    char file[SL_UUID_MAX];
    struct sl_batch_result res;
    add_job(f, "count", 0, NULL, ok1);
    add_job_ex(f, "boom", 1, NULL, 0, 3, retry);
    add_job(f, "file", 2, "some bytes", file);
    add_job_ex(f, "boom", 3, NULL, 2, 3, last); /* its last attempt */
    add_job(f, "count", 4, NULL, ok2);

    run_batch(f, 5, &res);
    check_counts(&res, 5, 3, 1, 1);
    check_i64(res.count, 5);
    check_status(item_of(&res, ok1)->status, SL_JOB_COMPLETED);
    check_status(item_of(&res, ok2)->status, SL_JOB_COMPLETED);
    check_status(item_of(&res, file)->status, SL_JOB_COMPLETED);
    check_status(item_of(&res, retry)->status, SL_JOB_PENDING);
    check_i64(item_of(&res, retry)->attempts, 1);
    check_status(item_of(&res, last)->status, SL_JOB_FAILED);
    check_i64(item_of(&res, last)->attempts, 3);
    check_i64(res.remaining, 1);
    sl_batch_result_fini(&res);
}

static void test_retry_waits_for_backoff(void **state)
{
    struct fx *f = *state;
    char first[SL_UUID_MAX], capped[SL_UUID_MAX];
    struct sl_batch_result res;
    struct sl_job j;
    f->cfg.retry_base_ms = MIN_MS;
    f->cfg.retry_max_ms = 90000;
    add_job_ex(f, "boom", 0, NULL, 0, 10, first);
    add_job_ex(f, "boom", 1, NULL, 6, 10, capped); /* far up the curve: capped at 90 s */

    int64_t before = sl_now_ms();
    run_batch(f, 5, &res);
    int64_t after = sl_now_ms();
    check_counts(&res, 2, 0, 0, 2);
    check_i64(res.remaining, 0); /* neither is due yet */
    sl_batch_result_fini(&res);

    sl_test_get_job(f->s, first, &j);
    check_status(j.status, SL_JOB_PENDING);
    check_i64(j.attempts, 1);
    /* the first retry waits a base step (half of it at least, with jitter) */
    check_range(j.next_attempt_at, before + MIN_MS / 2, after + 2 * MIN_MS);
    sl_job_fini(&j);
    sl_test_get_job(f->s, capped, &j);
    check_i64(j.attempts, 7);
    check_range(j.next_attempt_at, before + 45000, after + 90000);
    sl_job_fini(&j);

    /* not due: the next batch leaves them alone */
    run_batch(f, 5, &res);
    check_counts(&res, 0, 0, 0, 0);
    check_i64(res.count, 0);
    sl_batch_result_fini(&res);
}

static void test_unknown_type_fails(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    struct sl_batch_result res;
    struct sl_job j;
    add_job_ex(f, "mystery-type", 0, "bytes", 0, 1, id);

    run_batch(f, 5, &res);
    check_counts(&res, 1, 0, 1, 0);
    check_status(res.items[0].status, SL_JOB_FAILED);
    check_contains(res.items[0].error, "mystery-type");
    sl_batch_result_fini(&res);

    sl_test_get_job(f->s, id, &j);
    check_status(j.status, SL_JOB_FAILED);
    check_i64(j.attempts, 1);
    check_contains(j.error, "mystery-type");
    check_str(j.result, NULL);
    sl_job_fini(&j);
}

/* Opens the blob file of job id on disk (the file backend keeps <root>/<key>). */
static int open_blob_file(struct fx *f, const char *id, int flags)
{
    struct sl_job j;
    char path[PATH_MAX];
    sl_test_get_job(f->s, id, &j);
    snprintf(path, sizeof path, "%s/%s", f->blob_root, j.blob_key);
    sl_job_fini(&j);
    int fd = open(path, flags);
    if (fd < 0)
        fail_msg("cannot open blob file %s: %s", path, strerror(errno));
    return fd;
}

static void test_sha256_mismatch_fails(void **state)
{
    struct fx *f = *state;
    char intact[SL_UUID_MAX], flipped[SL_UUID_MAX], cut[SL_UUID_MAX], gone[SL_UUID_MAX];
    struct sl_batch_result res;
    struct sl_error err = {0};
    add_job(f, "file", 0, "id,name\n1,alpha\n", intact);
    add_job_ex(f, "file", 1, "id,name\n1,alpha\n", 0, 1, flipped);
    add_job_ex(f, "csv", 2, "id,name\n1,alpha\n", 0, 1, cut);
    add_job_ex(f, "file", 3, "id,name\n1,alpha\n", 0, 1, gone);

    /* same size, one byte changed */
    int fd = open_blob_file(f, flipped, O_WRONLY);
    assert_int_equal(pwrite(fd, "I", 1, 0), 1);
    assert_int_equal(close(fd), 0);
    /* shorter */
    fd = open_blob_file(f, cut, O_WRONLY);
    assert_int_equal(ftruncate(fd, 5), 0);
    assert_int_equal(close(fd), 0);
    /* missing */
    struct sl_job j;
    sl_test_get_job(f->s, gone, &j);
    check_rc(sl_blob_remove(f->b, j.blob_key, &err), 0, &err);
    sl_job_fini(&j);

    run_batch(f, 10, &res);
    check_counts(&res, 4, 1, 3, 0);
    check_status(item_of(&res, intact)->status, SL_JOB_COMPLETED);
    const char *bad[] = {flipped, cut, gone};
    for (int i = 0; i < 3; i++) {
        const struct sl_batch_item *it = item_of(&res, bad[i]);
        check_status(it->status, SL_JOB_FAILED);
        if (!it->error || !it->error[0])
            fail_msg("job %d failed without an error message", i);
        sl_test_get_job(f->s, bad[i], &j);
        check_status(j.status, SL_JOB_FAILED);
        if (!j.error || !j.error[0])
            fail_msg("stored job %d failed without an error message", i);
        check_str(j.result, NULL);
        sl_job_fini(&j);
    }
    sl_batch_result_fini(&res);
}

/* A job whose worker died (lease over) goes back to pending at the next batch, with the attempt
 * counted, and that batch may then take it. */
static void test_expired_lease_rescued(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    struct sl_batch_result res;
    struct sl_error err = {0};
    struct sl_job *claimed = NULL;
    size_t n = 0;
    add_job(f, "count", 0, NULL, id);
    /* a worker claimed it 10 s ago with a 1 s lease and vanished */
    check_rc(sl_store_claim(f->s, sl_now_ms() - 10000, 1, 1000, &claimed, &n, &err), 0, &err);
    check_i64(n, 1);
    sl_jobs_free(claimed, n);

    run_batch(f, 5, &res);
    check_i64(res.rescued, 1);
    check_counts(&res, 1, 1, 0, 0);
    check_str(res.items[0].id, id);
    sl_batch_result_fini(&res);

    struct sl_job j;
    sl_test_get_job(f->s, id, &j);
    check_status(j.status, SL_JOB_COMPLETED);
    check_i64(j.attempts, 1);
    sl_job_fini(&j);
}

/* ---------------------------------------------------------------------------------------------
 * Backoff
 */

/* min(base * 2^attempts, max), without overflow. */
static int64_t backoff_cap(int64_t base, int64_t max, int attempts)
{
    if (base == 0)
        return 0;
    if (attempts >= 62 || base > (INT64_MAX >> attempts))
        return max;
    int64_t d = base << attempts;
    return d < max ? d : max;
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    static const int64_t bases[] = {0, 1, 7, 100, 1000, 30000};
    static const int64_t maxes[] = {0, 1, 500, 60000, 3600000, 86400000};
    static const int attempts[] = {0, 1, 2, 3, 5, 8, 10, 20, 31, 32, 40, 62, 63, 64, 100, 1000};
    uint32_t randoms[64] = {0, 1, 2, 12345, 0x7fffffffu, 0x80000000u, UINT32_MAX - 1, UINT32_MAX};
    uint32_t seed = 0xbac0ffu;
    for (size_t i = 8; i < sizeof randoms / sizeof randoms[0]; i++)
        randoms[i] = sl_test_next_random(&seed);

    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++)
        for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++)
            for (size_t a = 0; a < sizeof attempts / sizeof attempts[0]; a++)
                for (size_t k = 0; k < sizeof randoms / sizeof randoms[0]; k++) {
                    int64_t base = bases[b], max = maxes[m];
                    int64_t d = backoff_cap(base, max, attempts[a]);
                    int64_t got = sl_backoff_ms(base, max, attempts[a], randoms[k]);
                    if (got < d / 2 || got > d)
                        fail_msg("sl_backoff_ms(base %lld, max %lld, attempts %d, random %u) is "
                                 "%lld, expected within [%lld, %lld]",
                                 (long long)base, (long long)max, attempts[a], randoms[k],
                                 (long long)got, (long long)(d / 2), (long long)d);
                }

    /* capped at max however many attempts */
    for (int a = 0; a < 200; a++) {
        int64_t got = sl_backoff_ms(1000, 60000, a, UINT32_MAX);
        if (got > 60000)
            fail_msg("sl_backoff_ms(1000, 60000, %d, UINT32_MAX) is %lld, over the 60000 cap", a,
                     (long long)got);
    }
    check_range(sl_backoff_ms(1000, 60000, 1000, 0), 30000, 60000);

    /* jitter: different random values give different delays */
    int64_t lo = INT64_MAX, hi = -1;
    for (size_t k = 0; k < sizeof randoms / sizeof randoms[0]; k++) {
        int64_t got = sl_backoff_ms(1000, 3600000, 4, randoms[k]);
        lo = got < lo ? got : lo;
        hi = got > hi ? got : hi;
    }
    if (hi - lo < 1000)
        fail_msg("sl_backoff_ms(1000, 3600000, 4, r) spans only [%lld, %lld] over 64 random "
                 "values: no jitter",
                 (long long)lo, (long long)hi);
}

/* ---------------------------------------------------------------------------------------------
 * Concurrency: busy, heartbeat, shutdown
 */

struct batch_thread {
    pthread_t th;
    struct sl_runner *r;
    int limit;
    int rc;
    struct sl_batch_result res;
    struct sl_error err;
};

static void *batch_main(void *arg)
{
    struct batch_thread *bt = arg;
    bt->rc = sl_runner_run(bt->r, bt->limit, &bt->res, &bt->err);
    return NULL;
}

static void start_batch_thread(struct fx *f, struct batch_thread *bt, int limit)
{
    memset(bt, 0, sizeof *bt);
    bt->r = f->r;
    bt->limit = limit;
    assert_int_equal(pthread_create(&bt->th, NULL, batch_main, bt), 0);
}

static void join_batch_thread(struct batch_thread *bt)
{
    assert_int_equal(pthread_join(bt->th, NULL), 0);
}

static void test_busy_while_running(void **state)
{
    struct fx *f = *state;
    char slow[SL_UUID_MAX], other[SL_UUID_MAX];
    struct batch_thread bt;
    struct sl_batch_result res2;
    struct sl_error err = {0};
    g_slow_ms = 1500;
    add_job(f, "slow", 0, NULL, slow);

    start_batch_thread(f, &bt, 5);
    int started = wait_slow_started(1);
    int busy = sl_runner_busy(f->r);
    add_job(f, "count", 1, NULL, other); /* due, but the running batch holds the runner */
    int rc2 = sl_runner_run(f->r, 5, &res2, &err);
    size_t count2 = res2.count;
    int done_early = slow_done();
    join_batch_thread(&bt);

    assert_true(started);
    assert_int_equal(busy, 1);
    check_i64(done_early, 0); /* the second call came while the slow job ran */
    check_rc(rc2, SL_EBUSY, &err);
    check_i64(count2, 0);
    check_i64(g_count, 0);
    sl_batch_result_fini(&res2);

    check_rc(bt.rc, 0, &bt.err);
    check_counts(&bt.res, 1, 1, 0, 0);
    check_str(bt.res.items[0].id, slow);
    check_range(bt.res.items[0].processing_ms, 1400, 60000);
    check_i64(bt.res.remaining, 1);
    sl_batch_result_fini(&bt.res);
    assert_int_equal(sl_runner_busy(f->r), 0);

    struct sl_job j;
    sl_test_get_job(f->s, slow, &j);
    check_status(j.status, SL_JOB_COMPLETED);
    check_range(j.processing_ms, 1400, 60000);
    sl_job_fini(&j);

    /* once it is over, the runner takes batches again */
    run_batch(f, 5, &res2);
    check_counts(&res2, 1, 1, 0, 0);
    check_str(res2.items[0].id, other);
    sl_batch_result_fini(&res2);
}

static void test_heartbeat_keeps_lease(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    struct batch_thread bt;
    struct sl_store *s2 = NULL;
    struct sl_error err = {0};
    enum { CHECKS = 4 };
    int rescued[CHECKS], rcs[CHECKS];
    enum sl_job_status seen[CHECKS];
    int64_t at[CHECKS];

    /* A 2 s lease and timeout; the job takes 3 s: renewals within the timeout carry its lease
     * to about 3.3 s, so it stays live to the end. */
    f->cfg.job_timeout_s = 2;
    restart_runner(f);
    g_slow_ms = 3000;
    add_job(f, "slow", 0, NULL, id);
    check_rc(sl_store_open(f->store_url, &s2, &err), 0, &err);

    start_batch_thread(f, &bt, 5);
    int started = wait_slow_started(1);
    int64_t t0 = sl_mono_ms();
    /* well past the first lease's end: only heartbeats can keep the job */
    for (int i = 0; i < CHECKS; i++) {
        sleep_ms(t0 + 2100 + 200 * i - sl_mono_ms());
        at[i] = sl_mono_ms() - t0;
        rescued[i] = -1;
        rcs[i] = sl_store_release_expired(s2, sl_now_ms(), &rescued[i], &err);
        struct sl_job j;
        seen[i] = SL_JOB_STATUS_COUNT;
        if (sl_store_get_job(s2, id, &j, NULL) == 0) {
            seen[i] = j.status;
            sl_job_fini(&j);
        }
    }
    int done_early = slow_done();
    join_batch_thread(&bt);

    assert_true(started);
    check_i64(done_early, 0); /* every check ran while the job did */
    for (int i = 0; i < CHECKS; i++) {
        if (rcs[i] != 0 || rescued[i] != 0)
            fail_msg("release_expired %lld ms into the job returned %d and rescued %d, expected "
                     "0 and 0 (the heartbeat should keep the lease)",
                     (long long)at[i], rcs[i], rescued[i]);
        check_status(seen[i], SL_JOB_PROCESSING);
    }
    check_rc(bt.rc, 0, &bt.err);
    check_counts(&bt.res, 1, 1, 0, 0);
    check_i64(bt.res.rescued, 0);
    check_status(bt.res.items[0].status, SL_JOB_COMPLETED);
    sl_batch_result_fini(&bt.res);

    struct sl_job j;
    sl_test_get_job(s2, id, &j);
    check_status(j.status, SL_JOB_COMPLETED);
    check_i64(j.attempts, 0);
    check_str(j.error, NULL);
    sl_job_fini(&j);
    sl_store_close(s2);
}

/*
 * Jobs waiting their turn in a batch keep their leases too: with a 1 s lease, three jobs of
 * 700 ms each take 2.1 s, so the third waits 1.4 s; a rescue by another handle meanwhile must
 * find nothing expired, and every job completes on its first attempt.
 */
static void test_waiting_jobs_keep_their_leases(void **state)
{
    struct fx *f = *state;
    enum { N = 3, CHECKS = 3 };
    char ids[N][SL_UUID_MAX];
    struct batch_thread bt;
    struct sl_store *s2 = NULL;
    struct sl_error err = {0};
    int rescued[CHECKS], rcs[CHECKS];

    f->cfg.job_timeout_s = 1;
    restart_runner(f);
    g_slow_ms = 700;
    for (int i = 0; i < N; i++)
        add_job(f, "slow", i, NULL, ids[i]);
    check_rc(sl_store_open(f->store_url, &s2, &err), 0, &err);

    start_batch_thread(f, &bt, N);
    int started = wait_slow_started(1);
    int64_t t0 = sl_mono_ms();
    for (int i = 0; i < CHECKS; i++) { /* 1.1, 1.4, 1.7 s: past the claim's lease */
        sleep_ms(t0 + 1100 + 300 * i - sl_mono_ms());
        rescued[i] = -1;
        rcs[i] = sl_store_release_expired(s2, sl_now_ms(), &rescued[i], &err);
    }
    join_batch_thread(&bt);

    assert_true(started);
    for (int i = 0; i < CHECKS; i++)
        if (rcs[i] != 0 || rescued[i] != 0)
            fail_msg("check %d: release_expired returned %d and rescued %d, expected 0 and 0 "
                     "(a waiting job's lease should be renewed)",
                     i, rcs[i], rescued[i]);
    check_rc(bt.rc, 0, &bt.err);
    check_counts(&bt.res, N, N, 0, 0);
    sl_batch_result_fini(&bt.res);
    for (int i = 0; i < N; i++) {
        struct sl_job j;
        sl_test_get_job(s2, ids[i], &j);
        check_status(j.status, SL_JOB_COMPLETED);
        check_i64(j.attempts, 0);
        sl_job_fini(&j);
    }
    sl_store_close(s2);
}

/* Runs sql on the test store's SQLite file over a connection of its own. */
static void store_sql(struct fx *f, const char *sql, sqlite3_int64 *out)
{
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    snprintf(path, sizeof path, "%s/s.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (out)
        *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Leases are renewed every third of the lease, not whenever a job ends: a batch of quick jobs
 * under a long lease renews none (it once renewed the waiting jobs' leases at every job's end,
 * a durable write per job). A trigger counts the updates that leave a job processing. */
static void test_quick_jobs_renew_no_lease(void **state)
{
    struct fx *f = *state;
    enum { N = 5 };
    char ids[N][SL_UUID_MAX];
    struct sl_batch_result res;
    sqlite3_int64 renewals = -1;

    store_sql(f, "CREATE TABLE renewals (n INTEGER)", NULL);
    store_sql(f,
              "CREATE TRIGGER count_renewals AFTER UPDATE OF lease_until ON jobs"
              " WHEN OLD.status = 'processing' AND NEW.status = 'processing'"
              " BEGIN INSERT INTO renewals VALUES (1); END",
              NULL);
    for (int i = 0; i < N; i++)
        add_job(f, "count", i, "x", ids[i]);
    run_batch(f, N, &res);
    check_counts(&res, N, N, 0, 0);
    sl_batch_result_fini(&res);
    store_sql(f, "SELECT count(*) FROM renewals", &renewals);
    check_i64(renewals, 0);
}

/* A job stuck past its timeout is no longer renewed: its lease runs out and it is rescued. */
static void test_stuck_job_lease_runs_out(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    struct batch_thread bt;
    struct sl_store *s2 = NULL;
    struct sl_error err = {0};
    int rescued = -1;

    f->cfg.job_timeout_s = 1;
    restart_runner(f);
    g_slow_ms = 3000;
    add_job(f, "slow", 0, NULL, id);
    check_rc(sl_store_open(f->store_url, &s2, &err), 0, &err);
    start_batch_thread(f, &bt, 5);
    assert_true(wait_slow_started(1));
    int64_t t0 = sl_mono_ms();
    /* Renewals stop at 1 s, so the lease ends by about 1.7 s. */
    sleep_ms(t0 + 2200 - sl_mono_ms());
    check_rc(sl_store_release_expired(s2, sl_now_ms(), &rescued, &err), 0, &err);
    check_i64(rescued, 1);
    join_batch_thread(&bt);
    sl_batch_result_fini(&bt.res);

    struct sl_job j;
    sl_test_get_job(s2, id, &j);
    check_status(j.status, SL_JOB_PENDING); /* the late finish was refused by the fence */
    check_i64(j.attempts, 1);
    sl_job_fini(&j);
    sl_store_close(s2);
}

static void test_shutdown_releases_running_job(void **state)
{
    struct fx *f = *state;
    char slow[SL_UUID_MAX], next[SL_UUID_MAX];
    struct batch_thread bt;
    struct sl_batch_result res;
    struct sl_error err = {0};
    g_slow_ms = 2000;
    add_job(f, "slow", 0, NULL, slow);
    add_job(f, "count", 1, NULL, next); /* claimed in the same batch, never started */

    start_batch_thread(f, &bt, 5);
    int started = wait_slow_started(1);
    int64_t t0 = sl_mono_ms();
    sl_runner_shutdown(f->r, 200);
    int64_t waited = sl_mono_ms() - t0;
    int done_at_return = slow_done();
    struct sl_job at_return;
    int get_rc = sl_store_get_job(f->s, slow, &at_return, &err);
    join_batch_thread(&bt);

    assert_true(started);
    check_range(waited, 150, 1000);
    check_i64(done_at_return, 0);
    check_rc(get_rc, 0, &err);
    /* released at once: pending, the attempt not counted */
    check_status(at_return.status, SL_JOB_PENDING);
    check_i64(at_return.attempts, 0);
    sl_job_fini(&at_return);

    /* the slow job then finished, and the runner did not record it */
    check_i64(g_slow_done, 1);
    if (bt.rc != 0 && bt.rc != SL_ESHUTDOWN)
        fail_msg("the interrupted batch returned %d (%s: %s), expected 0 or shutting_down", bt.rc,
                 sl_err_code(bt.rc), bt.err.msg);
    if (bt.rc == 0) {
        check_i64(bt.res.succeeded, 0);
        check_i64(bt.res.failed, 0);
        check_i64(bt.res.retried, 0);
        check_status(item_of(&bt.res, slow)->status, SL_JOB_PENDING);
    }
    sl_batch_result_fini(&bt.res);

    struct sl_job j;
    sl_test_get_job(f->s, slow, &j);
    check_status(j.status, SL_JOB_PENDING);
    check_i64(j.attempts, 0);
    check_i64(j.completed_at, 0);
    check_str(j.result, NULL);
    sl_job_fini(&j);
    sl_test_get_job(f->s, next, &j);
    check_status(j.status, SL_JOB_PENDING);
    check_i64(j.attempts, 0);
    sl_job_fini(&j);
    check_i64(g_count, 0);

    /* no batch after shutdown */
    check_rc(sl_runner_run(f->r, 5, &res, &err), SL_ESHUTDOWN, &err);
    check_i64(res.count, 0);
    sl_batch_result_fini(&res);
    assert_int_equal(sl_runner_busy(f->r), 0);
}

/* After shutdown released the job, another node may claim it at once; the late finish of the
 * first runner must not touch the new claim (fencing). */
static void test_shutdown_late_finish_is_fenced(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    struct batch_thread bt;
    struct sl_store *s2 = NULL;
    struct sl_error err = {0};
    struct sl_job *claimed = NULL;
    size_t n = 0;
    g_slow_ms = 1500;
    add_job(f, "slow", 0, NULL, id);
    check_rc(sl_store_open(f->store_url, &s2, &err), 0, &err);

    start_batch_thread(f, &bt, 5);
    int started = wait_slow_started(1);
    sl_runner_shutdown(f->r, 100);
    int claim_rc = sl_store_claim(s2, sl_now_ms(), 5, 300000, &claimed, &n, &err);
    join_batch_thread(&bt);
    sl_batch_result_fini(&bt.res);

    assert_true(started);
    check_rc(claim_rc, 0, &err);
    check_i64(n, 1);
    check_str(claimed[0].id, id);
    int64_t fence = claimed[0].fence;
    sl_jobs_free(claimed, n);

    struct sl_job j;
    sl_test_get_job(s2, id, &j);
    check_status(j.status, SL_JOB_PROCESSING); /* still the new claim's, not completed */
    check_i64(j.fence, fence);
    check_str(j.result, NULL);
    sl_job_fini(&j);
    check_rc(sl_store_complete(s2, id, fence, sl_now_ms(), 5, "{\"other\":true}", &err), 0, &err);
    sl_store_close(s2);
}

static void test_shutdown_idle_runner(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    struct sl_batch_result res;
    struct sl_error err = {0};
    add_job(f, "count", 0, NULL, id);

    int64_t t0 = sl_mono_ms();
    sl_runner_shutdown(f->r, 5000);
    check_range(sl_mono_ms() - t0, 0, 500); /* nothing to wait for */
    check_rc(sl_runner_run(f->r, 5, &res, &err), SL_ESHUTDOWN, &err);
    sl_batch_result_fini(&res);
    check_i64(g_count, 0);

    struct sl_job j;
    sl_test_get_job(f->s, id, &j);
    check_status(j.status, SL_JOB_PENDING);
    check_i64(j.attempts, 0);
    sl_job_fini(&j);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_batch_completes_file_jobs),
        T(test_fifo_and_limit),
        T(test_failing_job_retried_then_failed),
        T(test_mixed_batch_counters),
        T(test_retry_waits_for_backoff),
        T(test_unknown_type_fails),
        T(test_sha256_mismatch_fails),
        T(test_expired_lease_rescued),
        T(test_backoff_bounds),
        T(test_busy_while_running),
        T(test_heartbeat_keeps_lease),
        T(test_waiting_jobs_keep_their_leases),
        T(test_quick_jobs_renew_no_lease),
        T(test_stuck_job_lease_runs_out),
        T(test_shutdown_releases_running_job),
        T(test_shutdown_late_finish_is_fenced),
        T(test_shutdown_idle_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
