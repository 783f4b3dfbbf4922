/*
 * Other nodes' changes, for the live queue: LISTEN on the channel the jobs triggers NOTIFY.
 *
 * One thread per store, on a connection of its own (a listening session must stay open, so it
 * cannot come from the pool). It sleeps in poll() on that connection's socket and on a pipe that
 * closing the store writes to; each batch of notifications becomes one on_change call (the
 * waiters read state, so bursts may coalesce). When the connection breaks (the server restarts)
 * the thread reconnects every second until it can LISTEN again, then calls on_change once, since
 * changes may have been missed meanwhile. Notifications of this node's own changes arrive too.
 */
#include "store/postgres_int.h"
#include "util/log.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#define RETRY_MS 1000 /* between attempts to reconnect */

struct pg_watch {
    pthread_t thread;
    int wake[2];     /* a pipe; a byte in it stops the thread */
    const char *url; /* the store's; outlives the thread */
    PGconn *conn;
    void (*on_change)(void *arg);
    void *arg;
};

/* Sleeps until fd (-1: none) is readable, timeout_ms passes (-1: no limit) or the store
 * closes; returns 1 when it closes. */
static int wait_for(struct pg_watch *w, int fd, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = w->wake[0], .events = POLLIN}, {.fd = fd, .events = POLLIN}};
    int r = poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
    return r > 0 && (fds[0].revents & POLLIN);
}

/* (Re)opens the listening session: a new connection or a reset of the broken one. */
static int listen_on(struct pg_watch *w, struct sl_error *err)
{
    int rc = 0;
    if (!w->conn)
        rc = pg_connect(w->url, &w->conn, err);
    else
        PQreset(w->conn);
    if (rc == 0 && PQstatus(w->conn) != CONNECTION_OK)
        rc = pg_fail(err, "listen: cannot reconnect", PQerrorMessage(w->conn));
    if (rc)
        return rc;
    struct pg_tx tx = {.conn = w->conn, .mode = PG_READ, .what = "listen"};
    return pg_exec_script(&tx, "LISTEN " PG_CHANNEL, err);
}

/* Reads what arrived; 1 when notifications did, -1 when the connection broke. */
static int drain(struct pg_watch *w)
{
    PGnotify *n;
    int got = 0;
    if (!PQconsumeInput(w->conn))
        return -1;
    while ((n = PQnotifies(w->conn)) != NULL) {
        got = 1;
        PQfreemem(n);
    }
    return PQstatus(w->conn) == CONNECTION_OK ? got : -1;
}

/* After a broken connection: tries again every RETRY_MS; 1 when the store closes meanwhile. */
static int relisten(struct pg_watch *w)
{
    sl_warn("postgres: the listening connection broke; other nodes' changes are not seen until "
            "it is back");
    for (;;) {
        struct sl_error err = {0};
        if (wait_for(w, -1, RETRY_MS))
            return 1;
        if (listen_on(w, &err) == 0)
            break;
    }
    sl_info("postgres: listening for other nodes' changes again");
    w->on_change(w->arg);
    return 0;
}

static void *watch_main(void *arg)
{
    struct pg_watch *w = arg;
    for (;;) {
        int fd = PQsocket(w->conn), got = -1;
        if (fd >= 0 && wait_for(w, fd, -1))
            break;
        if (fd >= 0)
            got = drain(w);
        if (got > 0)
            w->on_change(w->arg);
        if (got < 0 && relisten(w))
            break;
    }
    return NULL;
}

static void watch_free(struct pg_watch *w)
{
    if (w->conn)
        PQfinish(w->conn);
    if (w->wake[0] >= 0)
        close(w->wake[0]);
    if (w->wake[1] >= 0)
        close(w->wake[1]);
    free(w);
}

int pg_watch_changes(struct sl_store *s, void (*on_change)(void *arg), void *arg,
                     struct sl_error *err)
{
    struct pg_store *ps = (struct pg_store *)s;
    struct pg_watch *w;
    int rc;

    if (ps->watch)
        return sl_err_set(err, SL_ECONFLICT, "the store already has a watcher");
    if (!(w = calloc(1, sizeof *w)))
        return SL_ENOMEM;
    w->wake[0] = w->wake[1] = -1;
    w->url = ps->url;
    w->on_change = on_change;
    w->arg = arg;
    if (pipe2(w->wake, O_CLOEXEC) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot make a pipe for the listening thread");
        goto out;
    }
    /* Listening before returning: every change committed after this call is seen. */
    if ((rc = listen_on(w, err)) != 0)
        goto out;
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        rc = sl_err_set(err, SL_ENOMEM, "cannot start the listening thread");
        goto out;
    }
    ps->watch = w;
out:
    if (rc)
        watch_free(w);
    return rc;
}

void pg_watch_stop(struct pg_store *ps)
{
    struct pg_watch *w = ps->watch;
    if (!w)
        return;
    ssize_t wrote = write(w->wake[1], "x", 1);
    (void)wrote;
    pthread_join(w->thread, NULL);
    watch_free(w);
    ps->watch = NULL;
}
