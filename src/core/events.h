/*
 * events: the change notifier behind the live queue (`GET /api/integration/events`).
 *
 * A generation counter under a mutex and a condition variable. Whoever changes jobs (the upload
 * and job routes, the batch runner at each claim and outcome) calls sl_events_notify, which
 * bumps the counter and wakes every waiter; a waiter remembers the generation it last saw and
 * sleeps in sl_events_wait until it moves, the timeout passes, or the notifier is closed. Many
 * notifications while a waiter is busy collapse into one wake-up: waiters read state, not a
 * queue of messages, so bursts coalesce by design.
 *
 * Only changes made by this process are seen; a waiter that wants other processes' changes
 * looks again on its timeouts. Closing (at shutdown) wakes everyone for good, so no waiter
 * keeps the HTTP server from stopping.
 * Ownership: sl_events_new allocates, sl_events_free releases (no waiter may remain).
 * Thread rules: every function may be called from any thread; notify and close accept NULL.
 */
#ifndef SL_EVENTS_H
#define SL_EVENTS_H

#include <stdint.h>

struct sl_events;

/* Returns 0 and *out, or SL_ENOMEM. */
int sl_events_new(struct sl_events **out);
void sl_events_free(struct sl_events *ev);

/* Something changed: bumps the generation and wakes every waiter. Cheap; NULL is a no-op. */
void sl_events_notify(struct sl_events *ev);

/* The current generation, to start waiting from. */
uint64_t sl_events_generation(struct sl_events *ev);

/*
 * Waits until the generation differs from seen, at most timeout_ms. Returns 1 with *gen set to
 * the new generation, 0 on timeout (*gen unchanged), or SL_ESHUTDOWN once closed.
 */
int sl_events_wait(struct sl_events *ev, uint64_t seen, int64_t timeout_ms, uint64_t *gen);

/* Wakes every waiter for good: each wait from now on answers SL_ESHUTDOWN. NULL is a no-op. */
void sl_events_close(struct sl_events *ev);
/* 1 once closed. */
int sl_events_closed(struct sl_events *ev);

#endif
