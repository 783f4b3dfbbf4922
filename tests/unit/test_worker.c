/*
 * test_worker: the continuous worker (src/core/worker.h) on a real batch runner over a SQLite
 * store and a file blob store in a fresh folder per test, with the built-in processors plus two
 * test ones: `flaky` fails its first attempt (so the job comes back later as a retry) and
 * `slow` sleeps (signalling when it starts).
 *
 * Each test polls the store for the outcome with a real-time deadline; the worker itself is
 * only ever woken by sl_worker_kick or by its own due-time sleep.
 */
#include "testutil.h"

#include "blob/blob.h"
#include "core/batch.h"
#include "core/job.h"
#include "core/processor.h"
#include "core/worker.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"
#include "util/sha256.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <limits.h>
#include <pthread.h>
#include <time.h>

/* ---------------------------------------------------------------------------------------------
 * Test processors
 */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_flaky_calls;
static int g_slow_started;
static int64_t g_slow_ms;

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int proc_flaky(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    (void)ctx;
    pthread_mutex_lock(&g_lock);
    int n = ++g_flaky_calls;
    pthread_mutex_unlock(&g_lock);
    *result = NULL;
    if (n == 1)
        return sl_err_set(err, SL_EPROCESS, "flaky: first attempt fails");
    *result = strdup("{\"flaky\":true}");
    return *result ? 0 : SL_ENOMEM;
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
    *result = strdup("{\"slept\":true}");
    return *result ? 0 : SL_ENOMEM;
}

/* Waits up to 5 s until `slow` has started; returns 1 when it did. */
static int wait_slow_started(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&g_lock);
    while (g_slow_started < 1 && pthread_cond_timedwait(&g_cond, &g_lock, &deadline) != ETIMEDOUT)
        ;
    int ok = g_slow_started >= 1;
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
    struct sl_worker *w;
    int seq;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_error err = {0};
    int rc;
    if (!f)
        return -1;
    pthread_mutex_lock(&g_lock);
    g_flaky_calls = 0;
    g_slow_started = 0;
    g_slow_ms = 0;
    pthread_mutex_unlock(&g_lock);
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
    f->cfg.retry_base_ms = 400;
    f->cfg.retry_max_ms = 400;
    f->cfg.shutdown_grace_s = 1;
    sl_processors_init(&f->procs);
    if (sl_processors_set(&f->procs, "flaky", proc_flaky, NULL) != 0 ||
        sl_processors_set(&f->procs, "slow", proc_slow, NULL) != 0 ||
        sl_runner_new(&f->cfg, f->s, f->b, &f->procs, &f->r) != 0) {
        print_error("setting up the runner failed\n");
        sl_blob_close(f->b);
        sl_store_close(f->s);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_worker_stop(f->w);
    sl_runner_free(f->r);
    sl_store_close(f->s);
    sl_blob_close(f->b);
    free(f);
    return 0;
}

static void start_worker(struct fx *f)
{
    assert_int_equal(sl_worker_start(f->r, f->s, f->cfg.batch_size, &f->w), 0);
    assert_non_null(f->w);
}

/*
 * Inserts a pending job of type with data as its real blob, created now; due at `due` (0: now,
 * through created_at; otherwise next_attempt_at, which the store uses as the due time).
 */
static void add_job(struct fx *f, const char *type, const char *data, int64_t due,
                    char id[SL_UUID_MAX])
{
    struct sl_job j;
    struct sl_error err = {0};
    struct sl_sha256 *h = NULL;
    char src[PATH_MAX];
    size_t len = strlen(data);
    memset(&j, 0, sizeof j);
    f->seq++;
    j.created_at = sl_now_ms();
    assert_int_equal(sl_uuid7(j.created_at, j.upload_id), 0);
    assert_int_equal(sl_uuid7(j.created_at, j.id), 0);
    snprintf(j.blob_key, sizeof j.blob_key, "%s/%s", j.upload_id, j.id);
    sl_test_job_strings(&j, "default", type, "data.txt", "text/plain");
    snprintf(src, sizeof src, "%s/up-%d.tmp", f->dir, f->seq);
    sl_test_write_new(src, data, len);
    check_rc(sl_blob_put_file(f->b, j.blob_key, src, &err), 0, &err);
    assert_int_equal(sl_sha256_new(&h), 0);
    assert_int_equal(sl_sha256_update(h, data, len), 0);
    assert_int_equal(sl_sha256_final(h, j.sha256), 0);
    j.size = (int64_t)len;
    j.status = SL_JOB_PENDING;
    j.max_attempts = f->cfg.max_attempts;
    j.next_attempt_at = due;
    j.processing_ms = -1;
    sl_test_insert_jobs(f->s, &j, 1);
    memcpy(id, j.id, SL_UUID_MAX);
    sl_job_fini(&j);
}

/* Polls the job (every 10 ms, up to timeout_ms) until its status is want; returns the real time
 * (ms) at which it was seen so, or fails with the job's last state. */
static int64_t wait_status(struct fx *f, const char *id, enum sl_job_status want,
                           int64_t timeout_ms)
{
    int64_t deadline = sl_mono_ms() + timeout_ms;
    for (;;) {
        struct sl_job j;
        sl_test_get_job(f->s, id, &j);
        enum sl_job_status st = j.status;
        int attempts = j.attempts;
        char error[128];
        snprintf(error, sizeof error, "%s", j.error ? j.error : "(none)");
        sl_job_fini(&j);
        if (st == want)
            return sl_now_ms();
        if (sl_mono_ms() >= deadline)
            fail_msg("job %s is %s (attempts %d, error %s) after %lld ms, expected %s", id,
                     sl_job_status_name(st), attempts, error, (long long)timeout_ms,
                     sl_job_status_name(want));
        sleep_ms(10);
    }
}

static enum sl_job_status status_of(struct fx *f, const char *id)
{
    struct sl_job j;
    sl_test_get_job(f->s, id, &j);
    enum sl_job_status st = j.status;
    sl_job_fini(&j);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Tests
 */

static void test_kick_runs_a_stored_job(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    start_worker(f);
    sleep_ms(50); /* let it go idle: nothing is pending, so it sleeps a long time */
    add_job(f, "file", "hello, continuous worker\n", 0, id);
    int64_t t0 = sl_now_ms();
    sl_worker_kick(f->w);
    int64_t done = wait_status(f, id, SL_JOB_COMPLETED, 2000);
    check_range(done - t0, 0, 2000);

    struct sl_job j;
    sl_test_get_job(f->s, id, &j);
    check_i64(j.attempts, 0);
    check_range(j.started_at, t0 - 100, done);
    assert_non_null(j.result);
    sl_job_fini(&j);
    check_range(sl_runner_last_run_at(f->r), t0 - 100, done);
}

static void test_jobs_present_at_start_run_without_kick(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    add_job(f, "file", "already waiting\n", 0, id);
    start_worker(f);
    wait_status(f, id, SL_JOB_COMPLETED, 2000);
}

static void test_runs_batches_until_none_is_due(void **state)
{
    struct fx *f = *state;
    enum { N = 13 }; /* batches of 5: three batches from one kick */
    char ids[N][SL_UUID_MAX];
    start_worker(f);
    sleep_ms(50);
    for (int i = 0; i < N; i++) {
        char data[64];
        snprintf(data, sizeof data, "job number %d\n", i);
        add_job(f, "file", data, 0, ids[i]);
    }
    sl_worker_kick(f->w);
    for (int i = 0; i < N; i++)
        wait_status(f, ids[i], SL_JOB_COMPLETED, 3000);
    int64_t due = -1;
    struct sl_error err = {0};
    check_rc(sl_store_count_due(f->s, sl_now_ms(), &due, &err), 0, &err);
    check_i64(due, 0);
}

static void test_future_job_runs_when_due_without_kick(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    int64_t due = sl_now_ms() + 800;
    add_job(f, "file", "due later\n", due, id);
    start_worker(f);
    /* Not before it is due. */
    sleep_ms(400);
    check_status(status_of(f, id), SL_JOB_PENDING);
    int64_t done = wait_status(f, id, SL_JOB_COMPLETED, 2500);
    check_range(done, due, due + 1500);
    struct sl_job j;
    sl_test_get_job(f->s, id, &j);
    check_range(j.started_at, due, due + 1000);
    sl_job_fini(&j);
}

/* A job stored while the worker is idle gets one kick (as the upload route does), is not due
 * yet, and still runs when it becomes due with no further kick. */
static void test_future_job_stored_while_idle(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    start_worker(f);
    sleep_ms(50);
    int64_t due = sl_now_ms() + 800;
    add_job(f, "file", "due later, stored while idle\n", due, id);
    sl_worker_kick(f->w);
    sleep_ms(300);
    check_status(status_of(f, id), SL_JOB_PENDING);
    int64_t done = wait_status(f, id, SL_JOB_COMPLETED, 2500);
    check_range(done, due, due + 1500);
}

/* A failed attempt comes back as pending with a retry time; the worker runs it then. */
static void test_retry_runs_when_due(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    start_worker(f);
    sleep_ms(50);
    add_job(f, "flaky", "fails once\n", 0, id);
    sl_worker_kick(f->w);
    wait_status(f, id, SL_JOB_COMPLETED, 3000);
    struct sl_job j;
    sl_test_get_job(f->s, id, &j);
    check_i64(j.attempts, 1);
    sl_job_fini(&j);
    pthread_mutex_lock(&g_lock);
    int calls = g_flaky_calls;
    pthread_mutex_unlock(&g_lock);
    check_i64(calls, 2);
}

/* A batch of someone else (the cron route) holds the runner: the worker waits for it and then
 * runs what was stored meanwhile. */
struct batch_thread {
    struct fx *f;
    int rc;
    int processed;
};

static void *batch_main(void *arg)
{
    struct batch_thread *bt = arg;
    struct sl_batch_result res;
    struct sl_error err = {0};
    bt->rc = sl_runner_run(bt->f->r, 1, &res, &err);
    if (bt->rc == 0) {
        bt->processed = res.processed;
        sl_batch_result_fini(&res);
    }
    return NULL;
}

static void test_waits_out_another_batch(void **state)
{
    struct fx *f = *state;
    char slow_id[SL_UUID_MAX], id[SL_UUID_MAX];
    struct batch_thread bt = {f, -1, 0};
    pthread_t t;
    g_slow_ms = 600;
    add_job(f, "slow", "slow job\n", 0, slow_id);
    assert_int_equal(pthread_create(&t, NULL, batch_main, &bt), 0);
    if (!wait_slow_started()) {
        pthread_join(t, NULL);
        fail_msg("the slow batch did not start");
    }
    start_worker(f);
    add_job(f, "file", "stored during the batch\n", 0, id);
    sl_worker_kick(f->w);
    int64_t done = wait_status(f, id, SL_JOB_COMPLETED, 3000);
    pthread_join(t, NULL);
    check_i64(bt.rc, 0);
    check_i64(bt.processed, 1);
    check_status(status_of(f, slow_id), SL_JOB_COMPLETED);
    (void)done;
}

static void test_stop_returns_promptly_when_idle(void **state)
{
    struct fx *f = *state;
    start_worker(f);
    sleep_ms(100); /* idle: it waits up to a minute for work */
    int64_t t0 = sl_mono_ms();
    sl_worker_stop(f->w);
    f->w = NULL;
    check_range(sl_mono_ms() - t0, 0, 500);
}

static void test_stop_waits_for_the_running_batch(void **state)
{
    struct fx *f = *state;
    char id[SL_UUID_MAX];
    g_slow_ms = 400;
    start_worker(f);
    add_job(f, "slow", "slow job\n", 0, id);
    sl_worker_kick(f->w);
    if (!wait_slow_started())
        fail_msg("the worker did not start the slow job");
    int64_t t0 = sl_mono_ms();
    sl_worker_stop(f->w);
    f->w = NULL;
    check_range(sl_mono_ms() - t0, 0, 1500);
    /* The batch ended normally: its job is done, not abandoned. */
    check_status(status_of(f, id), SL_JOB_COMPLETED);
}

static void test_stop_and_kick_null_are_harmless(void **state)
{
    struct fx *f = *state;
    sl_worker_kick(NULL);
    sl_worker_stop(NULL);
    /* A worker that never had work stops at once, too. */
    start_worker(f);
    int64_t t0 = sl_mono_ms();
    sl_worker_stop(f->w);
    f->w = NULL;
    check_range(sl_mono_ms() - t0, 0, 500);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_kick_runs_a_stored_job),           T(test_jobs_present_at_start_run_without_kick),
        T(test_runs_batches_until_none_is_due),   T(test_future_job_runs_when_due_without_kick),
        T(test_future_job_stored_while_idle),     T(test_retry_runs_when_due),
        T(test_waits_out_another_batch),          T(test_stop_returns_promptly_when_idle),
        T(test_stop_waits_for_the_running_batch), T(test_stop_and_kick_null_are_harmless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
