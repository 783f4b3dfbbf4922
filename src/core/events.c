#include "core/events.h"
#include "util/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct sl_events {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC, so a clock change cannot stretch a wait */
    uint64_t gen;
    int closed;
};

int sl_events_new(struct sl_events **out)
{
    pthread_condattr_t attr;
    struct sl_events *ev = calloc(1, sizeof *ev);
    *out = NULL;
    if (!ev)
        return SL_ENOMEM;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int bad = pthread_cond_init(&ev->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (bad) {
        free(ev);
        return SL_ENOMEM;
    }
    pthread_mutex_init(&ev->lock, NULL);
    *out = ev;
    return 0;
}

void sl_events_free(struct sl_events *ev)
{
    if (!ev)
        return;
    pthread_cond_destroy(&ev->cond);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

void sl_events_notify(struct sl_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->gen++;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
}

uint64_t sl_events_generation(struct sl_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    uint64_t gen = ev->gen;
    pthread_mutex_unlock(&ev->lock);
    return gen;
}

static void deadline_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

int sl_events_wait(struct sl_events *ev, uint64_t seen, int64_t timeout_ms, uint64_t *gen)
{
    struct timespec deadline;
    int rc = 0;
    deadline_in(&deadline, timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&ev->lock);
    while (!ev->closed && ev->gen == seen) {
        if (pthread_cond_timedwait(&ev->cond, &ev->lock, &deadline) != 0)
            break; /* timed out */
    }
    if (ev->closed) {
        rc = SL_ESHUTDOWN;
    } else if (ev->gen != seen) {
        *gen = ev->gen;
        rc = 1;
    }
    pthread_mutex_unlock(&ev->lock);
    return rc;
}

void sl_events_close(struct sl_events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->closed = 1;
    pthread_cond_broadcast(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
}

int sl_events_closed(struct sl_events *ev)
{
    pthread_mutex_lock(&ev->lock);
    int closed = ev->closed;
    pthread_mutex_unlock(&ev->lock);
    return closed;
}
