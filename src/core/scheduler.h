/*
 * scheduler: fires the crontab's entries at their times, once per slot across every process
 * sharing the store, and never on top of a batch of its own that is still running.
 *
 * The clock is injected: sl_scheduler_tick(s, now) does all the work for time `now` and says
 * when it next needs to run, so tests drive it with made-up times; sl_scheduler_start runs the
 * same tick on the real clock in a thread. Firing itself goes through hooks (the HTTP server
 * gives one that calls its own route, as Vercel does) on a firing thread, so a long batch
 * never delays the clock.
 *
 * Borrowed: the crontab, store and hooks must outlive the scheduler. Thread rules: tick from
 * one thread at a time (the scheduler thread, or a test); the query functions from any thread.
 */
#ifndef SL_SCHEDULER_H
#define SL_SCHEDULER_H

#include "core/crontab.h"
#include "store/store.h"

#define SL_CRON_MISSED_MS 30000 /* a slot found later than this is missed, not fired */

struct sl_sched_hooks {
    /* Calls path; returns the HTTP status, or a negative SL_E* code when the call failed. */
    int (*fire)(void *ctx, const char *path);
    /* 1 while this process runs a batch (a slot of the batch route coming then is skipped,
     * not queued). */
    int (*busy)(void *ctx);
    void *ctx;
};

struct sl_sched_counters {
    int64_t fired;         /* slots this process fired */
    int64_t skipped_busy;  /* slots skipped: this process's batch or firing still running */
    int64_t skipped_taken; /* slots another process recorded first */
    int64_t missed;        /* slots that passed while nothing could fire them */
};

struct sl_scheduler;

/* Plans every entry's first slot strictly after now. */
int sl_scheduler_new(const struct sl_crontab *tab, struct sl_store *store,
                     const struct sl_sched_hooks *hooks, int64_t now, struct sl_scheduler **out);
/* Handles every slot due at or before now; returns the time (ms) of the next slot. */
int64_t sl_scheduler_tick(struct sl_scheduler *s, int64_t now);
/* Waits until no firing is in flight. */
void sl_scheduler_drain(struct sl_scheduler *s);
/* Runs tick on the real clock in a background thread. */
int sl_scheduler_start(struct sl_scheduler *s);
/* Stops the thread (if started), waits for a firing in flight, frees. */
void sl_scheduler_free(struct sl_scheduler *s);

/* The next slot (ms) of the entries for path, or of all entries when path is NULL; 0 if none. */
int64_t sl_scheduler_next_run(struct sl_scheduler *s, const char *path);
void sl_scheduler_counters(struct sl_scheduler *s, struct sl_sched_counters *out);

#endif
