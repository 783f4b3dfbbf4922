/*
 * DESIGN: one slot, one firing.
 *
 * Each entry keeps its next slot (the next time its schedule names). When a tick finds a slot
 * due, it first records (path, slot) in the store; the store's unique key lets exactly one of
 * the processes sharing it win, and only the winner fires. Before firing, the winner checks that
 * the entry's previous firing is not still in flight, and for the batch route that no batch of
 * its own is running: if one is, the slot is recorded as skipped and counted, never queued, so
 * batches cannot pile up behind a slow one. Different entries fire independently.
 * A slot found more than SL_CRON_MISSED_MS late (the process was stopped or suspended) is
 * counted as missed and not fired, as on Vercel, where missed invocations are not replayed.
 */
#include "core/scheduler.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct planned {
    const struct sl_cron_entry *entry;
    int64_t next; /* ms; 0 when the schedule never fires again */
    int firing;   /* this entry's previous firing is still in flight (under lock) */
};

struct sl_scheduler {
    const struct sl_crontab *tab;
    struct sl_store *store;
    struct sl_sched_hooks hooks;
    struct planned *plan;
    char node[SL_UUID_MAX];

    pthread_mutex_t lock; /* guards everything below, and plan[].next for readers */
    pthread_cond_t cond;
    struct sl_sched_counters counters;
    int firing; /* firing threads in flight, all entries */
    int started;
    int stop;
    pthread_t thread;
};

/* What a firing thread needs; freed by the thread. */
struct firing {
    struct sl_scheduler *s;
    struct planned *plan;
    int64_t slot;
};

int sl_scheduler_new(const struct sl_crontab *tab, struct sl_store *store,
                     const struct sl_sched_hooks *hooks, int64_t now, struct sl_scheduler **out)
{
    struct sl_scheduler *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->plan = calloc(tab->count ? tab->count : 1, sizeof *s->plan))) {
        free(s);
        return SL_ENOMEM;
    }
    s->tab = tab;
    s->store = store;
    s->hooks = *hooks;
    sl_uuid7(sl_now_ms(), s->node);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    for (size_t i = 0; i < tab->count; i++) {
        s->plan[i].entry = &tab->entries[i];
        if (sl_cron_next(&tab->entries[i].cron, now, &s->plan[i].next) != 0)
            s->plan[i].next = 0;
    }
    *out = s;
    return 0;
}

static void log_slot(const struct sl_cron_entry *e, int64_t slot, const char *what)
{
    char iso[SL_ISO_MAX];
    sl_iso8601(slot, iso);
    sl_info("cron slot %s GET %s: %s", iso, e->path, what);
}

static void *firing_main(void *arg)
{
    struct firing *f = arg;
    struct sl_scheduler *s = f->s;
    const struct sl_cron_entry *e = f->plan->entry;
    struct sl_error err = {0};
    char what[96];
    int64_t t0 = sl_mono_us();
    int status = s->hooks.fire(s->hooks.ctx, e->path);
    int64_t ms = (sl_mono_us() - t0 + 500) / 1000;
    if (sl_store_cron_record(s->store, e->path, f->slot, status, ms, 0, &err) != 0)
        sl_warn("cron: cannot record slot outcome: %s", err.msg);
    if (status >= 0)
        snprintf(what, sizeof what, "fired, status %d in %lldms", status, (long long)ms);
    else
        snprintf(what, sizeof what, "fired, call failed (%s) after %lldms", sl_err_code(status),
                 (long long)ms);
    log_slot(e, f->slot, what);
    pthread_mutex_lock(&s->lock);
    f->plan->firing = 0;
    s->firing--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    free(f);
    return NULL;
}

/*
 * Starts the firing of one slot this process has won, unless the entry's previous firing is
 * still in flight, or the entry runs batches and a batch of this process is still running.
 */
static void fire(struct sl_scheduler *s, struct planned *p, int64_t slot)
{
    const struct sl_cron_entry *e = p->entry;
    struct sl_error err = {0};
    int batch = strcmp(e->path, SL_BATCH_PATH) == 0;
    pthread_mutex_lock(&s->lock);
    int skip = p->firing || (batch && s->hooks.busy && s->hooks.busy(s->hooks.ctx));
    if (skip) {
        s->counters.skipped_busy++;
    } else {
        p->firing = 1;
        s->firing++;
    }
    pthread_mutex_unlock(&s->lock);
    if (skip) {
        sl_store_cron_record(s->store, e->path, slot, 0, 0, 1, &err);
        log_slot(e, slot, "skipped: the previous batch is still running");
        return;
    }
    struct firing *f = malloc(sizeof *f);
    pthread_t t;
    if (f) {
        *f = (struct firing){s, p, slot};
        if (pthread_create(&t, NULL, firing_main, f) == 0) {
            pthread_detach(t);
            pthread_mutex_lock(&s->lock);
            s->counters.fired++;
            pthread_mutex_unlock(&s->lock);
            return;
        }
        free(f);
    }
    pthread_mutex_lock(&s->lock);
    p->firing = 0;
    s->firing--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    log_slot(e, slot, "not fired: cannot start a thread");
}

/* Handles one due slot of plan entry p. */
static void handle_slot(struct sl_scheduler *s, struct planned *p, int64_t slot, int64_t now)
{
    const struct sl_cron_entry *e = p->entry;
    struct sl_error err = {0};
    int won = 0;
    if (sl_store_cron_claim(s->store, e->path, slot, now, s->node, &won, &err) != 0) {
        log_slot(e, slot, "not fired: the store could not record the slot");
        sl_warn("cron: %s", err.msg);
        return;
    }
    if (!won) {
        pthread_mutex_lock(&s->lock);
        s->counters.skipped_taken++;
        pthread_mutex_unlock(&s->lock);
        sl_debug("cron slot of %s taken by another process", e->path);
        return;
    }
    fire(s, p, slot);
}

int64_t sl_scheduler_tick(struct sl_scheduler *s, int64_t now)
{
    int64_t wake = 0;
    for (size_t i = 0; i < s->tab->count; i++) {
        struct planned *p = &s->plan[i];
        while (p->next && p->next <= now) {
            int64_t slot = p->next, next = 0;
            int late = now - slot > SL_CRON_MISSED_MS;
            /* Late: resume at the first slot that is still on time. */
            if (sl_cron_next(&p->entry->cron, late ? now - SL_CRON_MISSED_MS : slot, &next))
                next = 0;
            pthread_mutex_lock(&s->lock);
            p->next = next;
            if (late)
                s->counters.missed++;
            pthread_mutex_unlock(&s->lock);
            if (late)
                log_slot(p->entry, slot, "missed (sluice was not running at that time)");
            else
                handle_slot(s, p, slot, now);
        }
        if (p->next && (!wake || p->next < wake))
            wake = p->next;
    }
    return wake;
}

void sl_scheduler_drain(struct sl_scheduler *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->firing)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void *thread_main(void *arg)
{
    struct sl_scheduler *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        int64_t wake = sl_scheduler_tick(s, sl_now_ms());
        pthread_mutex_lock(&s->lock);
        if (s->stop)
            break;
        /* Wake at the next slot; at least once a minute, so a clock step is noticed. */
        int64_t wait = wake ? wake - sl_now_ms() : 60000;
        if (wait > 60000)
            wait = 60000;
        if (wait < 1)
            wait = 1;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->cond, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int sl_scheduler_start(struct sl_scheduler *s)
{
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0)
        return SL_ENOMEM;
    s->started = 1;
    return 0;
}

void sl_scheduler_free(struct sl_scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->started)
        pthread_join(s->thread, NULL);
    sl_scheduler_drain(s);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s->plan);
    free(s);
}

int64_t sl_scheduler_next_run(struct sl_scheduler *s, const char *path)
{
    int64_t best = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->tab->count; i++) {
        int64_t n = s->plan[i].next;
        if (n && (!path || strcmp(s->plan[i].entry->path, path) == 0) && (!best || n < best))
            best = n;
    }
    pthread_mutex_unlock(&s->lock);
    return best;
}

void sl_scheduler_counters(struct sl_scheduler *s, struct sl_sched_counters *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->counters;
    pthread_mutex_unlock(&s->lock);
}
