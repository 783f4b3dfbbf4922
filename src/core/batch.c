/*
 * DESIGN: claim, lease, fencing, retry.
 *
 * A batch first returns expired leases to pending (their workers died), then claims up to
 * `limit` due jobs in one store transaction. Claiming marks a job processing with a lease
 * (lease_until = now + job timeout) and a new fencing token. Jobs then run one after another,
 * as the seed asks; every third of the lease a heartbeat thread extends the lease of the running
 * job (while it runs within its timeout) and of every job still waiting its turn in the batch,
 * so a live process's jobs are never rescued from under it, however long the batch, and a dead
 * worker's jobs are rescued at most one lease after it died. Processors get the same timeout as a
 * deadline (imports check it, commands are killed at it); a processor stuck past it stops being
 * renewed, so its lease runs out and the job is rescued and retried by the next batch anywhere.
 *
 * Every outcome (complete, fail, release) is written with the job's fence: if the lease was
 * lost (rescued and reclaimed elsewhere, or released at shutdown) the store refuses the write,
 * so a job is never finalised twice. A failure counts an attempt; below max attempts the job is
 * pending again after an exponential backoff with jitter, so a failing dependency is not
 * hammered by every batch and retries from many jobs spread out.
 *
 * Shutdown stops new batches and new jobs, lets the running job finish within a grace period,
 * and otherwise releases its lease so another process may take it at once.
 */
#include "core/batch.h"
#include "core/metrics.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct sl_runner {
    const struct sl_config *cfg;
    struct sl_store *store;
    struct sl_blob *blob;
    const struct sl_processors *procs;
    struct sl_events *events;   /* borrowed; told of every claim and outcome (the live queue) */
    struct sl_metrics *metrics; /* borrowed; counts each batch that ends (GET /metrics) */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;  /* signals: batch ended, current job changed, quit */
    int running;
    int stopping;
    int quit; /* heartbeat thread should exit */
    int64_t last_run_at;
    int has_current; /* a job is being processed */
    char current_id[SL_UUID_MAX];
    int64_t current_fence;
    int64_t current_deadline;  /* ms: past it the heartbeat stops, so a stuck job's lease ends */
    int current_released;      /* shutdown released its lease: do not finalise */
    const struct sl_job *held; /* the running batch's claimed jobs; NULL between batches */
    size_t held_n;
    size_t held_next; /* held[held_next..held_n) wait their turn (their leases are renewed too) */
    pthread_t heartbeat;
};

static int64_t lease_ms(const struct sl_runner *r)
{
    return (int64_t)r->cfg->job_timeout_s * 1000;
}

int64_t sl_backoff_ms(int64_t base_ms, int64_t max_ms, int attempts, uint32_t random)
{
    int64_t d = base_ms;
    for (int i = 0; i < attempts && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    int64_t half = d / 2;
    return half + (int64_t)(random % (uint64_t)(d - half + 1));
}

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, 0) != sizeof v)
        v = (uint32_t)sl_mono_us(); /* jitter only spreads retries; any value will do */
    return v;
}

static void timespec_in(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* One lease to renew: a job the batch holds, copied so the renewal runs without the lock. */
struct renewal {
    char id[SL_UUID_MAX];
    int64_t fence;
};

/* The leases due for renewal now: the running job's, unless it ran past its deadline or
 * shutdown released it, and every waiting job's. Returns a malloc'd array (count in *n). */
static struct renewal *leases_to_renew(struct sl_runner *r, size_t *n)
{
    size_t waiting = r->held ? r->held_n - r->held_next : 0;
    struct renewal *list = calloc(waiting + 1, sizeof *list);
    *n = 0;
    if (!list)
        return NULL;
    if (r->has_current && !r->current_released && sl_now_ms() < r->current_deadline) {
        memcpy(list[0].id, r->current_id, sizeof list[0].id);
        list[(*n)++].fence = r->current_fence;
    }
    for (size_t i = 0; i < waiting; i++) {
        const struct sl_job *j = &r->held[r->held_next + i];
        memcpy(list[*n].id, j->id, sizeof list[*n].id);
        list[(*n)++].fence = j->fence;
    }
    return list;
}

static void *heartbeat_main(void *arg)
{
    struct sl_runner *r = arg;
    int64_t every = lease_ms(r) / 3 > 50 ? lease_ms(r) / 3 : 50;
    int64_t due = sl_mono_us() / 1000 + every; /* monotonic: a clock step moves no renewal */

    pthread_mutex_lock(&r->lock);
    while (!r->quit) {
        /* r->cond is also broadcast at every job's end: those wakes are not a renewal's time
         * (renewing then cost a durable write per job). */
        int64_t now = sl_mono_us() / 1000;
        if (now < due) {
            struct timespec ts;
            timespec_in(&ts, due - now);
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
            continue;
        }
        due = now + every;
        size_t n;
        struct renewal *list = r->quit ? NULL : leases_to_renew(r, &n);
        if (!list)
            continue;
        pthread_mutex_unlock(&r->lock);
        for (size_t i = 0; i < n; i++) {
            struct sl_error err = {0};
            if (sl_store_heartbeat(r->store, list[i].id, list[i].fence, sl_now_ms() + lease_ms(r),
                                   &err) != 0)
                sl_warn("heartbeat for job %s failed: %s", list[i].id, err.msg);
        }
        free(list);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int sl_runner_new(const struct sl_config *cfg, struct sl_store *store, struct sl_blob *blob,
                  const struct sl_processors *procs, struct sl_runner **out)
{
    struct sl_runner *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return SL_ENOMEM;
    r->cfg = cfg;
    r->store = store;
    r->blob = blob;
    r->procs = procs;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->heartbeat, NULL, heartbeat_main, r) != 0) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return SL_ENOMEM;
    }
    *out = r;
    return 0;
}

void sl_runner_free(struct sl_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->quit = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->heartbeat, NULL);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void sl_runner_set_events(struct sl_runner *r, struct sl_events *ev)
{
    r->events = ev;
}

void sl_runner_set_metrics(struct sl_runner *r, struct sl_metrics *m)
{
    r->metrics = m;
}

int sl_runner_busy(struct sl_runner *r)
{
    pthread_mutex_lock(&r->lock);
    int busy = r->running;
    pthread_mutex_unlock(&r->lock);
    return busy;
}

int64_t sl_runner_last_run_at(struct sl_runner *r)
{
    pthread_mutex_lock(&r->lock);
    int64_t t = r->last_run_at;
    pthread_mutex_unlock(&r->lock);
    return t;
}

/* Runs the job's processor; the test seam delay stands in for a slow job. */
static int run_processor(struct sl_runner *r, const struct sl_job *job, char **result,
                         struct sl_error *err)
{
    const void *arg = NULL;
    sl_processor_fn fn = sl_processors_find(r->procs, job->type, &arg);
    *result = NULL;
    if (r->cfg->test_process_delay_ms > 0) {
        struct timespec ts = {r->cfg->test_process_delay_ms / 1000,
                              (r->cfg->test_process_delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (!fn)
        return sl_err_set(err, SL_EPROCESS, "no processor for job type '%s'", job->type);
    struct sl_proc_ctx ctx = {.job = job,
                              .blob = r->blob,
                              .store = r->store,
                              .cfg = r->cfg,
                              .arg = arg,
                              .deadline_ms = sl_now_ms() + lease_ms(r)};
    return fn(&ctx, result, err);
}

/* Records the outcome of one processed job under its fence, filling item. */
static void finalise(struct sl_runner *r, const struct sl_job *job, int rc, const char *result,
                     const struct sl_error *perr, int64_t ms, struct sl_batch_result *res,
                     struct sl_batch_item *item)
{
    struct sl_error err = {0};
    int64_t now = sl_now_ms();
    item->processing_ms = ms;
    item->attempts = job->attempts;
    if (rc == 0) {
        int src = sl_store_complete(r->store, job->id, job->fence, now, ms, result, &err);
        item->status = SL_JOB_COMPLETED;
        if (src == 0) {
            res->succeeded++;
            sl_info("job %s completed in %lldms, picked up %.3f ms after upload", job->id,
                    (long long)ms, (double)item->wait_us / 1000.0);
        } else {
            item->status = SL_JOB_PROCESSING;
            item->error = strdup(err.msg);
            sl_warn("job %s finished but could not be recorded: %s", job->id, err.msg);
        }
        return;
    }
    const char *msg = sl_err_msg(perr, rc);
    int64_t retry_at = now + sl_backoff_ms(r->cfg->retry_base_ms, r->cfg->retry_max_ms,
                                           job->attempts, random_u32());
    enum sl_job_status became = SL_JOB_FAILED;
    int src = sl_store_fail(r->store, job->id, job->fence, now, ms, msg, retry_at, &became, &err);
    item->error = strdup(msg);
    item->attempts = job->attempts + 1;
    item->status = became;
    if (src != 0) {
        item->status = SL_JOB_PROCESSING;
        sl_warn("job %s failed and the failure could not be recorded: %s", job->id, err.msg);
    } else if (became == SL_JOB_FAILED) {
        res->failed++;
        sl_warn("job %s failed for good after %d attempts: %s", job->id, item->attempts, msg);
    } else {
        res->retried++;
        sl_warn("job %s failed (attempt %d), retry later: %s", job->id, item->attempts, msg);
    }
}

/* Marks job as the current one, unless shutdown has begun. Returns 1 when it may run. */
static int begin_job(struct sl_runner *r, const struct sl_job *job)
{
    pthread_mutex_lock(&r->lock);
    int ok = !r->stopping;
    if (r->held && r->held_next < r->held_n)
        r->held_next++; /* no longer waiting: running, or handed back below */
    if (ok) {
        r->has_current = 1;
        r->current_released = 0;
        r->current_fence = job->fence;
        r->current_deadline = sl_now_ms() + lease_ms(r);
        memcpy(r->current_id, job->id, sizeof r->current_id);
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

/* Clears the current job; returns 1 when shutdown released its lease meanwhile. */
static int end_job(struct sl_runner *r)
{
    pthread_mutex_lock(&r->lock);
    int released = r->current_released;
    r->has_current = 0;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return released;
}

/*
 * How long job waited, from upload to now (its run starting), in microseconds. Job times are
 * whole ms, too coarse for a pickup under a millisecond, but an id made by our upload carries
 * its creation time to a quarter of a microsecond (util/uuid.h); other ids fall back to ms.
 */
static int64_t wait_us(const struct sl_job *job)
{
    int64_t now = sl_now_us(), made;
    if (sl_uuid7_time_us(job->id, &made) && made <= now && made / 1000 <= job->created_at &&
        job->created_at - made / 1000 < 60000)
        return now - made;
    return now - job->created_at * 1000;
}

static void run_one(struct sl_runner *r, const struct sl_job *job, struct sl_batch_result *res,
                    struct sl_batch_item *item)
{
    struct sl_error err = {0}, perr = {0};
    memcpy(item->id, job->id, sizeof item->id);
    item->processing_ms = -1;
    item->attempts = job->attempts;
    item->wait_us = wait_us(job);
    if (!begin_job(r, job)) {
        /* Shutting down: hand the job back without counting an attempt. */
        sl_store_release(r->store, job->id, job->fence, &err);
        item->status = SL_JOB_PENDING;
        return;
    }
    char *result = NULL;
    int64_t t0 = sl_mono_us();
    int rc = run_processor(r, job, &result, &perr);
    int64_t ms = (sl_mono_us() - t0 + 500) / 1000;
    if (end_job(r)) {
        item->status = SL_JOB_PENDING;
        item->error = strdup("released at shutdown before it finished");
    } else {
        res->processed++;
        finalise(r, job, rc, result, &perr, ms, res, item);
    }
    free(result);
    sl_events_notify(r->events);
}

/* The jobs the batch holds, for the heartbeat (NULL, 0: none). */
static void set_held(struct sl_runner *r, const struct sl_job *jobs, size_t n)
{
    pthread_mutex_lock(&r->lock);
    r->held = jobs;
    r->held_n = n;
    r->held_next = 0;
    pthread_mutex_unlock(&r->lock);
}

static int start_batch(struct sl_runner *r, struct sl_error *err)
{
    int rc = 0;
    pthread_mutex_lock(&r->lock);
    if (r->stopping)
        rc = sl_err_set(err, SL_ESHUTDOWN, "the service is shutting down");
    else if (r->running)
        rc = sl_err_set(err, SL_EBUSY, "a batch is already running in this process");
    else {
        r->running = 1;
        r->last_run_at = sl_now_ms();
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static void end_batch(struct sl_runner *r)
{
    pthread_mutex_lock(&r->lock);
    r->running = 0;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

int sl_runner_run(struct sl_runner *r, int limit, struct sl_batch_result *out, struct sl_error *err)
{
    struct sl_job *jobs = NULL;
    size_t n = 0;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = start_batch(r, err)) != 0)
        return rc;
    int64_t t0 = sl_mono_us();
    out->started_at = sl_now_ms();
    if ((rc = sl_store_release_expired(r->store, out->started_at, &out->rescued, err)) != 0)
        goto out;
    if (out->rescued > 0)
        sl_warn("rescued %d job(s) whose lease expired", out->rescued);
    rc = sl_store_claim(r->store, out->started_at, limit, lease_ms(r), &jobs, &n, err);
    if (rc)
        goto out;
    sl_events_notify(r->events);
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items) {
        rc = SL_ENOMEM;
        for (size_t i = 0; i < n; i++)
            sl_store_release(r->store, jobs[i].id, jobs[i].fence, NULL);
        goto out;
    }
    set_held(r, jobs, n);
    for (size_t i = 0; i < n; i++)
        run_one(r, &jobs[i], out, &out->items[out->count++]);
    set_held(r, NULL, 0);
    rc = sl_store_count_due(r->store, sl_now_ms(), &out->remaining, err);
out:
    out->duration_ms = (sl_mono_us() - t0 + 500) / 1000;
    sl_jobs_free(jobs, n);
    end_batch(r);
    sl_events_notify(r->events);
    if (rc)
        sl_batch_result_fini(out);
    else
        sl_metrics_batch(r->metrics, out);
    return rc;
}

int sl_runner_shutdown(struct sl_runner *r, int64_t grace_ms)
{
    struct timespec deadline;
    timespec_in(&deadline, grace_ms);
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    /* The batch hands back its not-yet-started jobs itself once it sees `stopping`. */
    while (r->running && pthread_cond_timedwait(&r->cond, &r->lock, &deadline) == 0)
        ;
    int release = r->running && r->has_current && !r->current_released;
    char id[SL_UUID_MAX];
    int64_t fence = r->current_fence;
    memcpy(id, r->current_id, sizeof id);
    if (release)
        r->current_released = 1;
    pthread_mutex_unlock(&r->lock);
    if (release) {
        struct sl_error err = {0};
        if (sl_store_release(r->store, id, fence, &err) == 0)
            sl_warn("job %s did not finish within the grace period; lease released", id);
        else
            sl_warn("job %s: could not release its lease: %s", id, err.msg);
    }
    return release;
}

void sl_batch_result_fini(struct sl_batch_result *res)
{
    for (size_t i = 0; i < res->count; i++)
        free(res->items[i].error);
    free(res->items);
    memset(res, 0, sizeof *res);
}
