/*
 * test_events: the change notifier (src/core/events.h): a wait ends on a notify, on its
 * timeout and on close; bursts of notifies coalesce into one wake-up; many waiters all wake.
 */
#include "testutil.h"

#include "core/events.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <time.h>

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    struct sl_events *ev = NULL;
    if (sl_events_new(&ev) != 0)
        return -1;
    *state = ev;
    return 0;
}

static int teardown(void **state)
{
    sl_events_free(*state);
    return 0;
}

static void test_timeout_without_change(void **state)
{
    struct sl_events *ev = *state;
    uint64_t gen = 12345;
    int64_t t0 = sl_mono_ms();
    check_i64(sl_events_wait(ev, sl_events_generation(ev), 80, &gen), 0);
    check_range(sl_mono_ms() - t0, 70, 1000);
    check_i64(gen, 12345); /* untouched on a timeout */
}

static void test_change_before_wait_returns_at_once(void **state)
{
    struct sl_events *ev = *state;
    uint64_t seen = sl_events_generation(ev), gen = 0;
    sl_events_notify(ev);
    int64_t t0 = sl_mono_ms();
    check_i64(sl_events_wait(ev, seen, 5000, &gen), 1);
    check_range(sl_mono_ms() - t0, 0, 100);
    check_i64(gen, seen + 1);
}

static void test_burst_coalesces(void **state)
{
    struct sl_events *ev = *state;
    uint64_t seen = sl_events_generation(ev), gen = 0;
    for (int i = 0; i < 100; i++)
        sl_events_notify(ev);
    check_i64(sl_events_wait(ev, seen, 1000, &gen), 1);
    check_i64(gen, seen + 100);
    /* Nothing new since: the next wait times out. */
    check_i64(sl_events_wait(ev, gen, 20, &gen), 0);
}

struct waiter {
    struct sl_events *ev;
    uint64_t seen;
    int rc;
    int64_t waited_ms;
    pthread_t thread;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    uint64_t gen = 0;
    int64_t t0 = sl_mono_ms();
    w->rc = sl_events_wait(w->ev, w->seen, 10000, &gen);
    w->waited_ms = sl_mono_ms() - t0;
    return NULL;
}

static void start_waiters(struct sl_events *ev, struct waiter *w, int n)
{
    for (int i = 0; i < n; i++) {
        w[i] = (struct waiter){.ev = ev, .seen = sl_events_generation(ev)};
        assert_int_equal(pthread_create(&w[i].thread, NULL, wait_main, &w[i]), 0);
    }
    sleep_ms(50); /* let them block */
}

static void test_notify_wakes_every_waiter(void **state)
{
    struct waiter w[4];
    start_waiters(*state, w, 4);
    sl_events_notify(*state);
    for (int i = 0; i < 4; i++) {
        pthread_join(w[i].thread, NULL);
        check_i64(w[i].rc, 1);
        check_range(w[i].waited_ms, 0, 2000);
    }
}

static void test_close_ends_waits_for_good(void **state)
{
    struct sl_events *ev = *state;
    struct waiter w[2];
    uint64_t gen = 0;
    start_waiters(ev, w, 2);
    check_i64(sl_events_closed(ev), 0);
    sl_events_close(ev);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i].thread, NULL);
        check_i64(w[i].rc, SL_ESHUTDOWN);
        check_range(w[i].waited_ms, 0, 2000);
    }
    check_i64(sl_events_closed(ev), 1);
    check_i64(sl_events_wait(ev, sl_events_generation(ev), 5000, &gen), SL_ESHUTDOWN);
}

static void test_null_is_harmless(void **state)
{
    (void)state;
    sl_events_notify(NULL);
    sl_events_close(NULL);
    sl_events_free(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_timeout_without_change),    T(test_change_before_wait_returns_at_once),
        T(test_burst_coalesces),           T(test_notify_wakes_every_waiter),
        T(test_close_ends_waits_for_good), T(test_null_is_harmless),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
