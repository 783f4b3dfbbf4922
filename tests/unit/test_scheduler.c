/*
 * test_scheduler: the cron scheduler (src/core/scheduler.h) driven by an injected clock.
 *
 * Every test but the last calls sl_scheduler_tick with made-up times on a real SQLite store in
 * a fresh folder, with hooks written here: `fire` records each call (and, when the gate is
 * closed, blocks until the test opens it), `busy` returns a flag the test sets. After a tick
 * the test waits for the firing thread with sl_scheduler_drain. The cron_slots rows are read
 * back with the SQLite API. The last test runs the real clock thread (sl_scheduler_start) for a
 * couple of seconds with a six-field, every-second schedule.
 *
 * Hook threads never assert: they record what they saw and the main thread checks it.
 */
#include "testutil.h"

#include "core/cron.h"
#include "core/crontab.h"
#include "core/scheduler.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#define SEC_MS  1000LL
#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
/* 2026-01-01T00:00:00.000Z: an even minute, on the hour, at midnight. */
#define T0 1767225600000LL

#define BATCH "/api/cron/process-integration-jobs"

/* ---------------------------------------------------------------------------------------------
 * Hooks
 */

#define MAX_CALLS 64

struct hooks_ctx {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls; /* fire calls so far */
    char paths[MAX_CALLS][SL_CRON_PATH_MAX];
    int in_fire;     /* fire calls currently inside the hook */
    int gate_closed; /* fire blocks while this is 1 */
    int busy;        /* what busy returns */
    int busy_calls;  /* how often busy was asked */
    int status;      /* what fire returns */
};

static void hooks_init(struct hooks_ctx *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    h->status = 200;
}

static void hooks_destroy(struct hooks_ctx *h)
{
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
}

static int hook_fire(void *ctx, const char *path)
{
    struct hooks_ctx *h = ctx;
    pthread_mutex_lock(&h->lock);
    if (h->calls < MAX_CALLS)
        snprintf(h->paths[h->calls], sizeof h->paths[0], "%s", path);
    h->calls++;
    h->in_fire++;
    pthread_cond_broadcast(&h->cond);
    while (h->gate_closed)
        pthread_cond_wait(&h->cond, &h->lock);
    h->in_fire--;
    int status = h->status;
    pthread_mutex_unlock(&h->lock);
    return status;
}

static int hook_busy(void *ctx)
{
    struct hooks_ctx *h = ctx;
    pthread_mutex_lock(&h->lock);
    h->busy_calls++;
    int b = h->busy;
    pthread_mutex_unlock(&h->lock);
    return b;
}

static int calls_of(struct hooks_ctx *h)
{
    pthread_mutex_lock(&h->lock);
    int n = h->calls;
    pthread_mutex_unlock(&h->lock);
    return n;
}

static void set_busy(struct hooks_ctx *h, int busy)
{
    pthread_mutex_lock(&h->lock);
    h->busy = busy;
    pthread_mutex_unlock(&h->lock);
}

static void set_gate(struct hooks_ctx *h, int closed)
{
    pthread_mutex_lock(&h->lock);
    h->gate_closed = closed;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* Waits (up to timeout_ms of real time) until fire has been called at least n times; returns
 * the number of calls then. */
static int wait_calls(struct hooks_ctx *h, int n, int64_t timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (h->calls < n && pthread_cond_timedwait(&h->cond, &h->lock, &deadline) != ETIMEDOUT)
        ;
    int got = h->calls;
    pthread_mutex_unlock(&h->lock);
    return got;
}

/* Checks that fire was called exactly once per listed path, in any order. */
static void check_fired_paths(struct hooks_ctx *h, const char *const *want, int n)
{
    pthread_mutex_lock(&h->lock);
    int calls = h->calls;
    char paths[MAX_CALLS][SL_CRON_PATH_MAX];
    memcpy(paths, h->paths, sizeof paths);
    pthread_mutex_unlock(&h->lock);
    if (calls != n)
        fail_msg("fire was called %d times, expected %d", calls, n);
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int k = 0; k < calls && k < MAX_CALLS; k++)
            seen += strcmp(paths[k], want[i]) == 0;
        if (seen != 1)
            fail_msg("fire was called %d times with '%s', expected once", seen, want[i]);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Fixture: a store in a fresh folder, hooks, and a crontab parsed from JSON
 */

struct fx {
    char dir[256];
    char url[300];
    char db_path[PATH_MAX];
    struct sl_store *s;
    struct hooks_ctx h;
    struct sl_sched_hooks hooks;
    struct hooks_ctx h2; /* a second process's hooks */
    struct sl_sched_hooks hooks2;
    struct sl_crontab tab;
    /* Owned here so that a failing test still frees them (teardown). */
    struct sl_scheduler *scheds[8];
    struct sl_store *stores[8];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_error err = {0};
    if (!f)
        return -1;
    sl_test_tmpdir(f->dir);
    snprintf(f->db_path, sizeof f->db_path, "%s/s.db", f->dir);
    int rc = sl_test_store_open(f->dir, f->url, sizeof f->url, &f->s, &err);
    if (rc) {
        print_error("opening the store failed: %d (%s: %s)\n", rc, sl_err_code(rc), err.msg);
        free(f);
        return -1;
    }
    hooks_init(&f->h);
    f->hooks = (struct sl_sched_hooks){hook_fire, hook_busy, &f->h};
    hooks_init(&f->h2);
    f->hooks2 = (struct sl_sched_hooks){hook_fire, hook_busy, &f->h2};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    set_gate(&f->h, 0); /* never leave a firing thread blocked */
    set_gate(&f->h2, 0);
    for (size_t i = 0; i < sizeof f->scheds / sizeof f->scheds[0]; i++)
        sl_scheduler_free(f->scheds[i]);
    for (size_t i = 0; i < sizeof f->stores / sizeof f->stores[0]; i++)
        sl_store_close(f->stores[i]);
    sl_crontab_fini(&f->tab);
    sl_store_close(f->s);
    hooks_destroy(&f->h);
    hooks_destroy(&f->h2);
    free(f);
    return 0;
}

static void load_tab(struct fx *f, const char *json)
{
    struct sl_error err = {0};
    sl_crontab_fini(&f->tab);
    check_rc(sl_crontab_parse(json, "vercel.json", &f->tab, &err), 0, &err);
}

/* One entry, path BATCH, on schedule. */
static void load_one(struct fx *f, const char *schedule)
{
    char json[512];
    snprintf(json, sizeof json, "{\"crons\": [{\"path\": \"%s\", \"schedule\": \"%s\"}]}", BATCH,
             schedule);
    load_tab(f, json);
}

/* Keeps s in the fixture until free_sched (or teardown) frees it. */
static struct sl_scheduler *own_sched(struct fx *f, struct sl_scheduler *s)
{
    for (size_t i = 0; i < sizeof f->scheds / sizeof f->scheds[0]; i++)
        if (!f->scheds[i])
            return f->scheds[i] = s;
    sl_scheduler_free(s);
    fail_msg("the fixture holds at most 8 schedulers");
    return NULL;
}

static void free_sched(struct fx *f, struct sl_scheduler *s)
{
    for (size_t i = 0; i < sizeof f->scheds / sizeof f->scheds[0]; i++)
        if (f->scheds[i] == s)
            f->scheds[i] = NULL;
    sl_scheduler_free(s);
}

static struct sl_scheduler *new_sched_with(struct fx *f, const struct sl_crontab *tab,
                                           struct sl_store *store,
                                           const struct sl_sched_hooks *hooks, int64_t now)
{
    struct sl_scheduler *s = NULL;
    assert_int_equal(sl_scheduler_new(tab, store, hooks, now, &s), 0);
    assert_non_null(s);
    return own_sched(f, s);
}

static struct sl_scheduler *new_sched(struct fx *f, struct sl_store *store, int64_t now)
{
    return new_sched_with(f, &f->tab, store, &f->hooks, now);
}

/* Another connection to the fixture's database file, as another process would have. */
static struct sl_store *open_store(struct fx *f)
{
    struct sl_error err = {0};
    struct sl_store *st = NULL;
    check_rc(sl_store_open(f->url, &st, &err), 0, &err);
    for (size_t i = 0; i < sizeof f->stores / sizeof f->stores[0]; i++)
        if (!f->stores[i])
            return f->stores[i] = st;
    sl_store_close(st);
    fail_msg("the fixture holds at most 8 extra stores");
    return NULL;
}

static int64_t tick_drain(struct sl_scheduler *s, int64_t now)
{
    int64_t next = sl_scheduler_tick(s, now);
    sl_scheduler_drain(s);
    return next;
}

#define check_counters(s, f_, busy_, taken_, missed_)                                              \
    do {                                                                                           \
        struct sl_sched_counters c_;                                                               \
        sl_scheduler_counters((s), &c_);                                                           \
        if (c_.fired != (f_) || c_.skipped_busy != (busy_) || c_.skipped_taken != (taken_) ||      \
            c_.missed != (missed_))                                                                \
            fail_msg("counters: fired %lld, skipped_busy %lld, skipped_taken %lld, missed %lld; "  \
                     "expected %lld, %lld, %lld, %lld",                                            \
                     (long long)c_.fired, (long long)c_.skipped_busy, (long long)c_.skipped_taken, \
                     (long long)c_.missed, (long long)(f_), (long long)(busy_),                    \
                     (long long)(taken_), (long long)(missed_));                                   \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Reading cron_slots back
 */

/* Runs a query with up to two bindings (path text, slot int64; NULL/0 to skip) that returns one
 * integer; -1 when the row is absent, -2 when the value is NULL. */
static int64_t db_int(struct fx *f, const char *sql, const char *path, int64_t slot)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t out = -1;
    if (sqlite3_open_v2(f->db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("cannot open %s: %s", f->db_path, db ? sqlite3_errmsg(db) : "?");
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(db));
        sqlite3_close(db);
        fail_msg("cannot prepare '%s': %s", sql, msg);
    }
    if (path)
        sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
    if (slot)
        sqlite3_bind_int64(st, 2, slot);
    if (sqlite3_step(st) == SQLITE_ROW)
        out = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static int64_t slot_rows(struct fx *f)
{
    return db_int(f, "SELECT COUNT(*) FROM cron_slots", NULL, 0);
}

static int64_t slot_field(struct fx *f, const char *field, const char *path, int64_t slot)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s FROM cron_slots WHERE path = ?1 AND slot_at = ?2", field);
    return db_int(f, sql, path, slot);
}

static int64_t last_run(struct fx *f, const char *path)
{
    struct sl_error err = {0};
    int64_t at = -1;
    check_rc(sl_store_cron_last_run(f->s, path, &at, &err), 0, &err);
    return at;
}

/* ---------------------------------------------------------------------------------------------
 * Planning and firing one entry
 */

static void test_first_slot_strictly_after_creation(void **state)
{
    struct fx *f = *state;
    load_one(f, "*/2 * * * *");
    /* Created exactly on a slot: that slot is not planned, the next one is. */
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    check_i64(sl_scheduler_next_run(s, BATCH), T0 + 2 * MIN_MS);
    free_sched(f, s);
    /* Created just before a slot: that slot. */
    s = new_sched(f, f->s, T0 - 1);
    check_i64(sl_scheduler_next_run(s, BATCH), T0);
    free_sched(f, s);
    /* Created mid-way. */
    s = new_sched(f, f->s, T0 + 61 * SEC_MS);
    check_i64(sl_scheduler_next_run(s, BATCH), T0 + 2 * MIN_MS);
    free_sched(f, s);
    check_i64(calls_of(&f->h), 0);
    check_i64(slot_rows(f), 0);
}

static void test_tick_before_slot_fires_nothing(void **state)
{
    struct fx *f = *state;
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0 + 10 * SEC_MS);
    check_i64(tick_drain(s, T0 + 10 * SEC_MS), T0 + 2 * MIN_MS);
    check_i64(tick_drain(s, T0 + 2 * MIN_MS - 1), T0 + 2 * MIN_MS);
    check_i64(calls_of(&f->h), 0);
    check_counters(s, 0, 0, 0, 0);
    check_i64(slot_rows(f), 0);
    check_i64(sl_scheduler_next_run(s, BATCH), T0 + 2 * MIN_MS);
    free_sched(f, s);
}

static void test_tick_at_slot_fires_once(void **state)
{
    struct fx *f = *state;
    static const char *const want[] = {BATCH};
    const int64_t slot = T0 + 2 * MIN_MS;
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0 + 10 * SEC_MS);

    check_i64(tick_drain(s, slot), slot + 2 * MIN_MS);
    check_fired_paths(&f->h, want, 1);
    check_counters(s, 1, 0, 0, 0);
    check_i64(sl_scheduler_next_run(s, BATCH), slot + 2 * MIN_MS);

    /* The slot is recorded with the fire hook's status, not skipped. */
    check_i64(slot_rows(f), 1);
    check_i64(slot_field(f, "claimed_at", BATCH, slot), slot);
    check_i64(slot_field(f, "status", BATCH, slot), 200);
    check_i64(slot_field(f, "skipped", BATCH, slot), 0);
    check_range(slot_field(f, "duration_ms", BATCH, slot), 0, 5000);
    check_i64(db_int(f, "SELECT COUNT(*) FROM cron_slots WHERE node = ''", NULL, 0), 0);

    /* A second tick at the same time, or a little later, fires nothing more. */
    check_i64(tick_drain(s, slot), slot + 2 * MIN_MS);
    check_i64(tick_drain(s, slot + 500), slot + 2 * MIN_MS);
    check_i64(tick_drain(s, slot + 2 * MIN_MS - 1), slot + 2 * MIN_MS);
    check_i64(calls_of(&f->h), 1);
    check_counters(s, 1, 0, 0, 0);
    check_i64(slot_rows(f), 1);

    /* The next slot fires again. */
    check_i64(tick_drain(s, slot + 2 * MIN_MS), slot + 4 * MIN_MS);
    check_i64(calls_of(&f->h), 2);
    check_counters(s, 2, 0, 0, 0);
    check_i64(slot_rows(f), 2);
    free_sched(f, s);
}

static void test_fire_status_is_recorded(void **state)
{
    struct fx *f = *state;
    const int64_t slot = T0 + 2 * MIN_MS;
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    f->h.status = 503;
    tick_drain(s, slot + 7);
    check_i64(calls_of(&f->h), 1);
    check_counters(s, 1, 0, 0, 0);
    check_i64(slot_field(f, "status", BATCH, slot), 503);
    check_i64(slot_field(f, "skipped", BATCH, slot), 0);
    /* A firing whose call failed still counts as a run. */
    check_i64(last_run(f, BATCH), slot + 7);

    f->h.status = SL_EIO;
    tick_drain(s, slot + 2 * MIN_MS);
    check_i64(calls_of(&f->h), 2);
    check_i64(slot_field(f, "status", BATCH, slot + 2 * MIN_MS), SL_EIO);
    free_sched(f, s);
}

/* ---------------------------------------------------------------------------------------------
 * Several entries
 */

static void test_several_entries_fire_independently(void **state)
{
    struct fx *f = *state;
    load_tab(f, "{\"crons\": ["
                "{\"path\": \"/a\", \"schedule\": \"*/2 * * * *\"},"
                "{\"path\": \"/b\", \"schedule\": \"*/3 * * * *\"},"
                "{\"path\": \"/c\", \"schedule\": \"0 * * * *\"}]}");
    struct sl_scheduler *s = new_sched(f, f->s, T0 + SEC_MS);
    check_i64(sl_scheduler_next_run(s, "/a"), T0 + 2 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/b"), T0 + 3 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/c"), T0 + HOUR_MS);

    /* T0+2m: /a only; the tick answers /b's slot, the earliest next one. */
    check_i64(tick_drain(s, T0 + 2 * MIN_MS), T0 + 3 * MIN_MS);
    {
        static const char *const want[] = {"/a"};
        check_fired_paths(&f->h, want, 1);
    }
    /* T0+3m: /b only. */
    check_i64(tick_drain(s, T0 + 3 * MIN_MS), T0 + 4 * MIN_MS);
    {
        static const char *const want[] = {"/a", "/b"};
        check_fired_paths(&f->h, want, 2);
    }
    check_i64(sl_scheduler_next_run(s, "/a"), T0 + 4 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/b"), T0 + 6 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/c"), T0 + HOUR_MS);
    check_counters(s, 2, 0, 0, 0);
    check_i64(db_int(f, "SELECT COUNT(*) FROM cron_slots WHERE path = ?1", "/a", 0), 1);
    check_i64(db_int(f, "SELECT COUNT(*) FROM cron_slots WHERE path = ?1", "/b", 0), 1);
    check_i64(db_int(f, "SELECT COUNT(*) FROM cron_slots WHERE path = ?1", "/c", 0), 0);
    check_i64(last_run(f, "/a"), T0 + 2 * MIN_MS);
    check_i64(last_run(f, "/b"), T0 + 3 * MIN_MS);
    free_sched(f, s);
}

/* Two entries whose slots fall at the same time both fire: the "no pile-up" rule is about a
 * batch (or firing) still running from an earlier slot, not about a different entry's slot. */
static void test_entries_sharing_a_slot_both_fire(void **state)
{
    struct fx *f = *state;
    static const char *const want[] = {"/a", "/b"};
    const int64_t slot = T0 + 2 * MIN_MS;
    load_tab(f, "{\"crons\": ["
                "{\"path\": \"/a\", \"schedule\": \"*/2 * * * *\"},"
                "{\"path\": \"/b\", \"schedule\": \"*/2 * * * *\"}]}");
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    /* Hold each firing inside the hook until both slots were handled, so the outcome does not
     * depend on how fast the first firing thread ends. */
    set_gate(&f->h, 1);
    check_i64(sl_scheduler_tick(s, slot), slot + 2 * MIN_MS);
    wait_calls(&f->h, 2, 1000);
    set_gate(&f->h, 0);
    sl_scheduler_drain(s);
    check_fired_paths(&f->h, want, 2);
    check_counters(s, 2, 0, 0, 0);
    check_i64(slot_field(f, "skipped", "/a", slot), 0);
    check_i64(slot_field(f, "skipped", "/b", slot), 0);
    free_sched(f, s);
}

/* ---------------------------------------------------------------------------------------------
 * Once per slot across processes
 */

static void test_two_schedulers_one_store_fire_once(void **state)
{
    struct fx *f = *state;
    const int64_t slot = T0 + 2 * MIN_MS;
    load_one(f, "*/2 * * * *");
    /* Two separate connections to the same file, as two processes would have. */
    struct sl_store *s2 = open_store(f), *s3 = open_store(f);
    struct sl_scheduler *a = new_sched(f, s2, T0 + SEC_MS);
    struct sl_scheduler *b = new_sched_with(f, &f->tab, s3, &f->hooks2, T0 + 2 * SEC_MS);

    sl_scheduler_tick(a, slot + 3);
    sl_scheduler_tick(b, slot + 5);
    sl_scheduler_drain(a);
    sl_scheduler_drain(b);
    int calls_a = calls_of(&f->h), calls_b = calls_of(&f->h2);
    check_i64(calls_a + calls_b, 1);
    check_counters(a, 1, 0, 0, 0);
    check_counters(b, 0, 0, 1, 0);

    /* The next slot, ticked in the other order: the first to claim fires. */
    sl_scheduler_tick(b, slot + 2 * MIN_MS);
    sl_scheduler_tick(a, slot + 2 * MIN_MS + 1);
    sl_scheduler_drain(a);
    sl_scheduler_drain(b);
    check_i64(calls_of(&f->h) + calls_of(&f->h2), 2);
    check_counters(a, 1, 0, 1, 0);
    check_counters(b, 1, 0, 1, 0);

    /* One row per slot, claimed by the winner at its tick time, with two different nodes. */
    check_i64(slot_rows(f), 2);
    check_i64(
        db_int(f, "SELECT COUNT(*) FROM cron_slots WHERE path = ?1 AND slot_at = ?2", BATCH, slot),
        1);
    check_i64(slot_field(f, "claimed_at", BATCH, slot), slot + 3);
    check_i64(slot_field(f, "claimed_at", BATCH, slot + 2 * MIN_MS), slot + 2 * MIN_MS);
    check_i64(slot_field(f, "status", BATCH, slot), 200);
    check_i64(slot_field(f, "skipped", BATCH, slot), 0);
    check_i64(db_int(f, "SELECT COUNT(DISTINCT node) FROM cron_slots", NULL, 0), 2);
    check_i64(last_run(f, BATCH), slot + 2 * MIN_MS);
}

/* Many schedulers racing on one slot from threads: still exactly one firing. */
struct racer {
    struct sl_scheduler *s;
    int64_t now;
    pthread_barrier_t *barrier;
};

static void *race_main(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->barrier);
    sl_scheduler_tick(r->s, r->now);
    sl_scheduler_drain(r->s);
    return NULL;
}

static void test_racing_schedulers_fire_once(void **state)
{
    enum { N = 4 };
    struct fx *f = *state;
    struct sl_scheduler *sch[N] = {0};
    struct racer racers[N];
    pthread_t threads[N];
    pthread_barrier_t barrier;
    const int64_t slot = T0 + 2 * MIN_MS;
    load_one(f, "*/2 * * * *");
    pthread_barrier_init(&barrier, NULL, N);
    for (int i = 0; i < N; i++) {
        sch[i] = new_sched(f, open_store(f), T0);
        racers[i] = (struct racer){sch[i], slot + i, &barrier};
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, race_main, &racers[i]), 0);
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    check_i64(calls_of(&f->h), 1);
    int64_t fired = 0, taken = 0;
    for (int i = 0; i < N; i++) {
        struct sl_sched_counters c;
        sl_scheduler_counters(sch[i], &c);
        fired += c.fired;
        taken += c.skipped_taken;
    }
    check_i64(fired, 1);
    check_i64(taken, N - 1);
    check_i64(slot_rows(f), 1);
    pthread_barrier_destroy(&barrier);
}

/* ---------------------------------------------------------------------------------------------
 * No pile-up
 */

static void test_busy_skips_the_slot(void **state)
{
    struct fx *f = *state;
    const int64_t s1 = T0 + 2 * MIN_MS, s2 = T0 + 4 * MIN_MS, s3 = T0 + 6 * MIN_MS;
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0);

    tick_drain(s, s1 + 11);
    check_i64(calls_of(&f->h), 1);
    check_i64(last_run(f, BATCH), s1 + 11);

    /* A batch of this process is running: the slot is recorded as skipped, never fired. */
    set_busy(&f->h, 1);
    check_i64(tick_drain(s, s2 + 13), s3);
    check_i64(calls_of(&f->h), 1);
    check_counters(s, 1, 1, 0, 0);
    check_i64(slot_rows(f), 2);
    check_i64(slot_field(f, "skipped", BATCH, s2), 1);
    check_i64(last_run(f, BATCH), s1 + 11);

    /* Not queued: when the batch ends, nothing fires until the next slot. */
    set_busy(&f->h, 0);
    check_i64(tick_drain(s, s2 + 40 * SEC_MS), s3);
    check_i64(calls_of(&f->h), 1);
    check_i64(tick_drain(s, s3), s3 + 2 * MIN_MS);
    check_i64(calls_of(&f->h), 2);
    check_counters(s, 2, 1, 0, 0);
    check_i64(slot_field(f, "skipped", BATCH, s3), 0);
    check_i64(last_run(f, BATCH), s3);
    free_sched(f, s);
}

static void test_firing_in_flight_skips_next_slot(void **state)
{
    struct fx *f = *state;
    const int64_t sec = SEC_MS;
    load_one(f, "* * * * * *"); /* every second */
    struct sl_scheduler *s = new_sched(f, f->s, T0);

    /* Slot 1 fires, and its call hangs. */
    set_gate(&f->h, 1);
    check_i64(sl_scheduler_tick(s, T0 + sec), T0 + 2 * sec);
    if (wait_calls(&f->h, 1, 2000) != 1)
        fail_msg("fire was not called for the first slot");

    /* Slots 2 and 3 come while it is in flight: skipped, not queued. */
    check_i64(sl_scheduler_tick(s, T0 + 2 * sec), T0 + 3 * sec);
    check_i64(sl_scheduler_tick(s, T0 + 3 * sec), T0 + 4 * sec);
    check_i64(calls_of(&f->h), 1);
    check_counters(s, 1, 2, 0, 0);
    check_i64(slot_field(f, "skipped", BATCH, T0 + 2 * sec), 1);
    check_i64(slot_field(f, "skipped", BATCH, T0 + 3 * sec), 1);

    /* The call returns: nothing fires in its wake. */
    set_gate(&f->h, 0);
    sl_scheduler_drain(s);
    check_i64(calls_of(&f->h), 1);
    check_i64(slot_field(f, "status", BATCH, T0 + sec), 200);
    check_i64(slot_field(f, "skipped", BATCH, T0 + sec), 0);
    check_i64(last_run(f, BATCH), T0 + sec);

    /* Later slots fire again. */
    check_i64(tick_drain(s, T0 + 4 * sec), T0 + 5 * sec);
    check_i64(calls_of(&f->h), 2);
    check_i64(tick_drain(s, T0 + 5 * sec), T0 + 6 * sec);
    check_i64(calls_of(&f->h), 3);
    check_counters(s, 3, 2, 0, 0);
    check_i64(slot_rows(f), 5);
    check_i64(db_int(f, "SELECT COUNT(*) FROM cron_slots WHERE skipped = 1", NULL, 0), 2);
    free_sched(f, s);
}

/* ---------------------------------------------------------------------------------------------
 * Missed slots
 */

static void test_late_slot_within_grace_still_fires(void **state)
{
    struct fx *f = *state;
    const int64_t slot = T0 + 2 * MIN_MS;
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    check_i64(tick_drain(s, slot + SL_CRON_MISSED_MS), slot + 2 * MIN_MS);
    check_i64(calls_of(&f->h), 1);
    check_counters(s, 1, 0, 0, 0);
    check_i64(slot_field(f, "claimed_at", BATCH, slot), slot + SL_CRON_MISSED_MS);
    free_sched(f, s);
}

static void test_slot_more_than_grace_late_is_missed(void **state)
{
    struct fx *f = *state;
    const int64_t slot = T0 + 2 * MIN_MS;
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    /* One ms past the grace: missed, and the next on-time slot is planned. */
    check_i64(tick_drain(s, slot + SL_CRON_MISSED_MS + 1), slot + 2 * MIN_MS);
    check_i64(calls_of(&f->h), 0);
    check_counters(s, 0, 0, 0, 1);
    check_i64(sl_scheduler_next_run(s, BATCH), slot + 2 * MIN_MS);
    check_i64(db_int(f, "SELECT COUNT(*) FROM cron_slots WHERE skipped = 0", NULL, 0), 0);
    /* Planning resumed: the next slot fires on time. */
    check_i64(tick_drain(s, slot + 2 * MIN_MS), slot + 4 * MIN_MS);
    check_i64(calls_of(&f->h), 1);
    check_counters(s, 1, 0, 0, 1);
    free_sched(f, s);
}

static void test_long_gap_no_catch_up_burst(void **state)
{
    struct fx *f = *state;
    load_one(f, "* * * * *"); /* every minute */
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    const int64_t first = T0 + MIN_MS;
    const int64_t now = first + HOUR_MS; /* the process was suspended for an hour */
    int64_t next = tick_drain(s, now);
    struct sl_sched_counters c;
    sl_scheduler_counters(s, &c);
    if (c.missed < 1)
        fail_msg("after an hour's gap, missed is %lld, expected at least 1", (long long)c.missed);
    check_range(calls_of(&f->h), 0, 1);
    check_range(c.fired, 0, 1);
    check_range(slot_rows(f), 0, 1);
    /* Planning resumes at an on-time slot: the next one is in the future, at most a minute on. */
    check_range(next, now + 1, now + MIN_MS);
    check_i64(sl_scheduler_next_run(s, BATCH), next);
    /* And fires there, once. */
    int before = calls_of(&f->h);
    check_i64(tick_drain(s, next), next + MIN_MS);
    check_i64(calls_of(&f->h), before + 1);
    free_sched(f, s);
}

/* ---------------------------------------------------------------------------------------------
 * Queries
 */

static void test_next_run_by_path_and_overall(void **state)
{
    struct fx *f = *state;
    load_tab(f, "{\"crons\": ["
                "{\"path\": \"/a\", \"schedule\": \"*/2 * * * *\"},"
                "{\"path\": \"/b\", \"schedule\": \"*/3 * * * *\"},"
                "{\"path\": \"/a\", \"schedule\": \"1 * * * *\"}]}");
    struct sl_scheduler *s = new_sched(f, f->s, T0 + SEC_MS);
    check_i64(sl_scheduler_next_run(s, "/a"), T0 + MIN_MS); /* the second /a entry, at :01 */
    check_i64(sl_scheduler_next_run(s, "/b"), T0 + 3 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, NULL), T0 + MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/nope"), 0);

    tick_drain(s, T0 + MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/a"), T0 + 2 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, NULL), T0 + 2 * MIN_MS);
    tick_drain(s, T0 + 2 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/a"), T0 + 4 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, "/b"), T0 + 3 * MIN_MS);
    check_i64(sl_scheduler_next_run(s, NULL), T0 + 3 * MIN_MS);
    free_sched(f, s);

    /* No entry at all: nothing is planned and a tick has nothing to wait for. */
    load_tab(f, "{\"crons\": []}");
    s = new_sched(f, f->s, T0);
    check_i64(sl_scheduler_next_run(s, NULL), 0);
    check_i64(sl_scheduler_next_run(s, BATCH), 0);
    check_i64(tick_drain(s, T0 + HOUR_MS), 0);
    check_i64(calls_of(&f->h), 2);
    free_sched(f, s);
}

static void test_never_firing_entry_plans_nothing(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    /* A table built by hand: "0 0 31 2 *" parses but never fires. */
    struct sl_cron_entry entries[2];
    memset(entries, 0, sizeof entries);
    snprintf(entries[0].path, sizeof entries[0].path, "/never");
    snprintf(entries[0].schedule, sizeof entries[0].schedule, "0 0 31 2 *");
    check_rc(sl_cron_parse(entries[0].schedule, &entries[0].cron, &err), 0, &err);
    snprintf(entries[1].path, sizeof entries[1].path, "/hourly");
    snprintf(entries[1].schedule, sizeof entries[1].schedule, "0 * * * *");
    check_rc(sl_cron_parse(entries[1].schedule, &entries[1].cron, &err), 0, &err);
    struct sl_crontab tab = {entries, 2};
    struct sl_scheduler *s = new_sched_with(f, &tab, f->s, &f->hooks, T0 + SEC_MS);
    check_i64(sl_scheduler_next_run(s, "/never"), 0);
    check_i64(sl_scheduler_next_run(s, NULL), T0 + HOUR_MS);
    check_i64(tick_drain(s, T0 + HOUR_MS), T0 + 2 * HOUR_MS);
    static const char *const want[] = {"/hourly"};
    check_fired_paths(&f->h, want, 1);
    free_sched(f, s);
}

static void test_last_run_is_claim_time_of_last_fired_slot(void **state)
{
    struct fx *f = *state;
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    tick_drain(s, T0 + 2 * MIN_MS + 250);
    check_i64(last_run(f, BATCH), T0 + 2 * MIN_MS + 250);
    tick_drain(s, T0 + 4 * MIN_MS + 1234);
    check_i64(last_run(f, BATCH), T0 + 4 * MIN_MS + 1234);
    /* A skipped slot does not move it. */
    set_busy(&f->h, 1);
    tick_drain(s, T0 + 6 * MIN_MS + 9);
    check_i64(last_run(f, BATCH), T0 + 4 * MIN_MS + 1234);
    free_sched(f, s);
}

/* store.h: "When path was last fired (not skipped) by any process: ms, 0 when never." */
static void test_last_run_is_zero_when_never_fired(void **state)
{
    struct fx *f = *state;
    /* An empty table. */
    check_i64(last_run(f, BATCH), 0);
    /* Only skipped and other paths' slots. */
    load_one(f, "*/2 * * * *");
    struct sl_scheduler *s = new_sched(f, f->s, T0);
    set_busy(&f->h, 1);
    tick_drain(s, T0 + 2 * MIN_MS);
    check_counters(s, 0, 1, 0, 0);
    free_sched(f, s);
    check_i64(last_run(f, BATCH), 0);
    check_i64(last_run(f, "/other"), 0);
}

/* ---------------------------------------------------------------------------------------------
 * The real clock
 */

static void test_start_fires_on_the_real_clock(void **state)
{
    struct fx *f = *state;
    load_one(f, "*/1 * * * * *"); /* six fields: every second */
    struct sl_scheduler *s = new_sched(f, f->s, sl_now_ms());
    int64_t t0 = sl_mono_ms();
    assert_int_equal(sl_scheduler_start(s), 0);
    int got = wait_calls(&f->h, 1, 2500);
    int64_t waited = sl_mono_ms() - t0;
    if (got < 1)
        fail_msg("no firing within %lld ms of sl_scheduler_start", (long long)waited);
    int64_t next = sl_scheduler_next_run(s, BATCH);
    check_range(next, sl_now_ms() - 100, sl_now_ms() + 2000);
    free_sched(f, s);
    /* Stopped: no more firings after free. */
    int after_free = calls_of(&f->h);
    struct timespec ts = {1, 300000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    check_i64(calls_of(&f->h), after_free);
    check_range(slot_rows(f), 1, 10);
    check_range(last_run(f, BATCH), sl_now_ms() - 5000, sl_now_ms());
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_first_slot_strictly_after_creation),
        T(test_tick_before_slot_fires_nothing),
        T(test_tick_at_slot_fires_once),
        T(test_fire_status_is_recorded),
        T(test_several_entries_fire_independently),
        T(test_entries_sharing_a_slot_both_fire),
        T(test_two_schedulers_one_store_fire_once),
        T(test_racing_schedulers_fire_once),
        T(test_busy_skips_the_slot),
        T(test_firing_in_flight_skips_next_slot),
        T(test_late_slot_within_grace_still_fires),
        T(test_slot_more_than_grace_late_is_missed),
        T(test_long_gap_no_catch_up_burst),
        T(test_next_run_by_path_and_overall),
        T(test_never_firing_entry_plans_nothing),
        T(test_last_run_is_claim_time_of_last_fired_slot),
        T(test_last_run_is_zero_when_never_fired),
        T(test_start_fires_on_the_real_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
