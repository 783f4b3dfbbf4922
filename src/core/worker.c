#include "core/worker.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define IDLE_WAIT_MS 60000 /* with nothing pending, look again this often anyway */
#define BUSY_WAIT_MS 20    /* a cron batch holds the runner: try again this soon */

struct sl_worker {
    struct sl_runner *runner;
    struct sl_store *store;
    int batch_size;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int kicked;
    int stop;
    pthread_t thread;
};

static void wait_ms(struct sl_worker *w, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&w->lock);
    if (!w->kicked && !w->stop)
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    w->kicked = 0;
    pthread_mutex_unlock(&w->lock);
}

/* Runs batches until none is due; returns how long to sleep before looking again. */
static int64_t drain(struct sl_worker *w)
{
    struct sl_error err = {0};
    for (;;) {
        struct sl_batch_result res;
        int rc = sl_runner_run(w->runner, w->batch_size, &res, &err);
        if (rc == SL_EBUSY)
            return BUSY_WAIT_MS;
        if (rc) {
            if (rc != SL_ESHUTDOWN)
                sl_warn("continuous worker: %s", err.msg);
            return 1000;
        }
        int more = res.remaining > 0 && res.count > 0;
        sl_batch_result_fini(&res);
        if (!more)
            break;
    }
    int64_t due = 0;
    if (sl_store_next_due(w->store, &due, &err) != 0 || !due)
        return IDLE_WAIT_MS;
    int64_t wait = due - sl_now_ms();
    return wait < 1 ? 1 : wait > IDLE_WAIT_MS ? IDLE_WAIT_MS : wait;
}

static void *worker_main(void *arg)
{
    struct sl_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int stop = w->stop;
        pthread_mutex_unlock(&w->lock);
        if (stop)
            break;
        wait_ms(w, drain(w));
    }
    return NULL;
}

int sl_worker_start(struct sl_runner *runner, struct sl_store *store, int batch_size,
                    struct sl_worker **out)
{
    struct sl_worker *w = calloc(1, sizeof *w);
    *out = NULL;
    if (!w)
        return SL_ENOMEM;
    w->runner = runner;
    w->store = store;
    w->batch_size = batch_size;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return SL_ENOMEM;
    }
    *out = w;
    return 0;
}

void sl_worker_kick(struct sl_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->kicked = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void sl_worker_stop(struct sl_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
