/*
 * The live queue: `GET /api/integration/events`, Server-Sent Events (`?tenant=` narrows it).
 *
 * DESIGN. Each stream is a chunked response whose read callback runs on the connection's own
 * thread (the server is thread-per-connection), so the callback may block: it sleeps on the
 * service's change notifier (core/events.h) until a job changes or the next heartbeat is due,
 * and never hands the server an empty read. It sends:
 * - at once, `retry: 2000` (how soon a browser reconnects after a drop, e.g. a restart) and
 *   `event: queue` with the queue JSON, built by sl_service_queue_json exactly as the queue
 *   route builds it;
 * - after each change, a new `event: queue`. Changes coalesce: the notifier is a generation
 *   counter, so any number of changes while an event is built or sent make one more event; at
 *   most one event goes out per MIN_GAP_MS; a JSON equal to the last one sent is not repeated;
 * - a `: heartbeat` comment every SLUICE_SSE_HEARTBEAT_MS (15 s by default), so proxies keep
 *   the connection and a dead client is noticed at the next write. Each heartbeat also looks at
 *   the queue again, so changes made by other processes (`sluice process`, other nodes) show up
 *   within one heartbeat.
 * At shutdown the notifier is closed first: every stream then ends at once, so stopping the
 * server never waits for open streams.
 */
#include "http/routes.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RETRY_MS    2000      /* the reconnection delay the browser is told */
#define MIN_GAP_MS  100       /* at most one event per this long: bursts coalesce */
#define BLOCK_BYTES 16384     /* the server's buffer for each read */
#define OUT_CAP     (4 << 20) /* most bytes one write may hold */
#define STREAM_END  ((ssize_t)-1)

struct sse {
    struct sl_service *svc;         /* borrowed: outlives the server and so every stream */
    char tenant[SL_TENANT_MAX + 1]; /* "" for every tenant */
    int started;
    uint64_t seen;        /* the notifier's generation the last event reflects */
    char *last;           /* the last queue JSON sent, to skip repeats */
    struct sl_buf out;    /* bytes waiting to be sent */
    size_t out_off;       /* of them, already sent */
    int64_t heartbeat_ms; /* interval */
    int64_t next_beat;    /* monotonic ms: the next heartbeat is due */
    int64_t last_event;   /* monotonic ms: when the last event went out */
};

static void sse_free(void *cls)
{
    struct sse *s = cls;
    free(s->last);
    sl_buf_fini(&s->out);
    free(s);
}

/* Appends a comment line, with anything that could end the line turned into spaces. */
static int put_comment(struct sse *s, const char *text)
{
    int rc = sl_buf_puts(&s->out, ": ");
    for (const char *p = text; rc == 0 && *p; p++)
        rc = sl_buf_putc(&s->out, *p == '\n' || *p == '\r' ? ' ' : *p);
    return rc ? rc : sl_buf_puts(&s->out, "\n\n");
}

/* Appends an `event: queue` with the queue now, unless it equals the last one sent. */
static int put_queue(struct sse *s)
{
    struct sl_error err = {0};
    json_t *q = NULL;
    int rc = sl_service_queue_json(s->svc, s->tenant[0] ? s->tenant : NULL, &q, &err);
    if (rc) {
        sl_warn("events: cannot read the queue: %s", sl_err_msg(&err, rc));
        return put_comment(s, sl_err_msg(&err, rc));
    }
    char *text = json_dumps(q, JSON_COMPACT); /* compact JSON holds no raw newline */
    json_decref(q);
    if (!text)
        return SL_ENOMEM;
    if (s->last && strcmp(s->last, text) == 0) {
        free(text);
        return 0;
    }
    if ((rc = sl_buf_puts(&s->out, "event: queue\ndata: ")) != 0 ||
        (rc = sl_buf_puts(&s->out, text)) != 0 || (rc = sl_buf_puts(&s->out, "\n\n")) != 0) {
        free(text);
        return rc;
    }
    free(s->last);
    s->last = text;
    s->last_event = sl_mono_ms();
    return 0;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The first write: the reconnection delay and the queue as it is. */
static int put_start(struct sse *s)
{
    char retry[32];
    s->started = 1;
    s->seen = sl_events_generation(s->svc->events);
    s->next_beat = sl_mono_ms() + s->heartbeat_ms;
    snprintf(retry, sizeof retry, "retry: %d\n\n", RETRY_MS);
    int rc = sl_buf_puts(&s->out, retry);
    return rc ? rc : put_queue(s);
}

/*
 * Fills s->out with the next bytes to send, blocking until there are some: 0 (possibly with
 * nothing added, then the caller asks again), or SL_ESHUTDOWN once the service is stopping.
 */
static int next_write(struct sse *s)
{
    struct sl_events *ev = s->svc->events;
    if (sl_events_closed(ev))
        return SL_ESHUTDOWN;
    if (!s->started)
        return put_start(s);
    int64_t now = sl_mono_ms();
    if (now >= s->next_beat) {
        s->next_beat = now + s->heartbeat_ms;
        int rc = put_queue(s);
        return rc ? rc : sl_buf_puts(&s->out, ": heartbeat\n\n");
    }
    uint64_t gen;
    int rc = sl_events_wait(ev, s->seen, s->next_beat - now, &gen);
    if (rc <= 0)
        return rc; /* heartbeat due, or closed */
    int64_t gap = s->last_event + MIN_GAP_MS - sl_mono_ms();
    if (gap > 0)
        sleep_ms(gap); /* let a burst of changes settle into one event */
    s->seen = sl_events_generation(ev);
    return put_queue(s);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse *s = cls;
    (void)pos;
    while (s->out_off == s->out.len) {
        sl_buf_reset(&s->out);
        s->out_off = 0;
        if (next_write(s) < 0)
            return STREAM_END;
    }
    size_t n = s->out.len - s->out_off;
    if (n > max)
        n = max;
    memcpy(buf, s->out.data + s->out_off, n);
    s->out_off += n;
    return (ssize_t)n;
}

int sl_api_events(struct sl_req *r)
{
    const char *tenant = sl_req_query(r, "tenant");
    if (tenant && !sl_job_name_valid(tenant, SL_TENANT_MAX))
        return sl_reply_errorf(r, SL_EINVALID,
                               "query parameter 'tenant' is not a valid tenant name");
    struct sse *s = calloc(1, sizeof *s);
    if (!s)
        return sl_reply_error(r, SL_ENOMEM, NULL);
    s->svc = r->svc;
    s->heartbeat_ms = r->svc->cfg->sse_heartbeat_ms > 0 ? r->svc->cfg->sse_heartbeat_ms : 15000;
    snprintf(s->tenant, sizeof s->tenant, "%s", tenant ? tenant : "");
    sl_buf_init(&s->out, OUT_CAP);
    int rc = sl_reply_stream(r, 200, "text/event-stream", BLOCK_BYTES, sse_read, sse_free, s);
    if (rc == 0)
        sl_reply_header(r, "X-Accel-Buffering", "no"); /* proxies: pass each event at once */
    return rc;
}
