#include "http/server.h"
#include "http/access.h"
#include "http/routes.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The request clock (SLUICE_REQUEST_TIMEOUT_SECONDS). libmicrohttpd's own timeout only closes
 * a connection that stays silent; a client that sends one byte now and then keeps its thread
 * and its slot forever. So every connection has a clock that runs while a request is being
 * received: from the moment the connection can take a request (accepted, or its previous
 * request completed) until the request's last body byte has arrived. A watchdog thread shuts
 * down the socket of a connection whose clock passes the limit; its thread then sees the end of
 * the stream and closes it the usual way (the upload's cleanup included). Handling the request
 * and sending the answer (a long batch, a download, the event stream) are not timed.
 */
struct conn_clock {
    MHD_socket fd;
    dev_t dev; /* the socket's identity, checked before a shutdown */
    ino_t ino;
    int64_t since_us; /* when the clock started */
    int receiving;    /* the clock runs */
    int cut;          /* the watchdog shut the socket down */
    struct conn_clock *prev, *next;
};

#define WATCHDOG_PERIOD_MS 100
#define REFUSAL_LOG_US     (10 * 1000000LL) /* at most one log line this often */

struct sl_server {
    struct MHD_Daemon *daemon;
    struct sl_service *svc;
    struct sl_access *access; /* token, cron allow-list, upload rate */
    int port;
    /*
     * The connection cap (SLUICE_MAX_CONNECTIONS). libmicrohttpd's own limit stops accepting at
     * the cap, so that a new client waits unanswered in the kernel's queue for as long as the
     * connections held stay open; sluice instead accepts and closes it at once (the accept
     * policy below), so the client knows and can retry. open_conns counts connections from
     * their STARTED to their CLOSED notice.
     */
    atomic_int open_conns;
    int max_conns;
    unsigned refused;           /* since the last log line; the listening thread only */
    int64_t refused_log_us;     /* when that line was written */
    int64_t request_timeout_us; /* 0: no request clock */
    pthread_mutex_t clock_lock; /* guards clocks and watchdog_stop */
    pthread_cond_t clock_cond;
    struct conn_clock *clocks;
    int watchdog_stop;
    int watchdog_started;
    pthread_t watchdog;
};

/* The clock of a connection, or NULL when there is none. */
static struct conn_clock *clock_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Stops (running = 0) or restarts (running = 1, from now) the clock of a connection. */
static void clock_set(struct sl_server *srv, struct MHD_Connection *conn, int running)
{
    if (!srv->request_timeout_us)
        return;
    struct conn_clock *c = clock_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&srv->clock_lock);
    if (running)
        c->since_us = sl_mono_us();
    c->receiving = running;
    pthread_mutex_unlock(&srv->clock_lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct sl_server *srv = cls;
    struct conn_clock *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->open_conns, 1);
        if (!srv->request_timeout_us)
            return;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct stat st;
        if (!ci || fstat(ci->connect_fd, &st) != 0 || !(c = calloc(1, sizeof *c)))
            return; /* not timed; the idle timeout still applies */
        c->fd = ci->connect_fd;
        c->dev = st.st_dev;
        c->ino = st.st_ino;
        c->since_us = sl_mono_us();
        c->receiving = 1;
        pthread_mutex_lock(&srv->clock_lock);
        c->next = srv->clocks;
        if (srv->clocks)
            srv->clocks->prev = c;
        srv->clocks = c;
        pthread_mutex_unlock(&srv->clock_lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&srv->open_conns, 1);
        if (!c)
            return;
        pthread_mutex_lock(&srv->clock_lock);
        if (c->prev)
            c->prev->next = c->next;
        else
            srv->clocks = c->next;
        if (c->next)
            c->next->prev = c->prev;
        pthread_mutex_unlock(&srv->clock_lock);
        free(c);
        *socket_context = NULL;
    }
}

/* Accepts a new connection while fewer than SLUICE_MAX_CONNECTIONS are open. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct sl_server *srv = cls;
    if (atomic_load(&srv->open_conns) < srv->max_conns)
        return MHD_YES;
    srv->refused++;
    int64_t now = sl_mono_us();
    if (!srv->refused_log_us || now - srv->refused_log_us >= REFUSAL_LOG_US) {
        sl_warn("http: %u new connection(s) closed at once: %d are open, the most "
                "SLUICE_MAX_CONNECTIONS allows",
                srv->refused, srv->max_conns);
        srv->refused = 0;
        srv->refused_log_us = now;
    }
    return MHD_NO;
}

/* Shuts down the socket of every connection whose request clock is past the limit. */
static void *watchdog_main(void *arg)
{
    struct sl_server *srv = arg;
    pthread_mutex_lock(&srv->clock_lock);
    while (!srv->watchdog_stop) {
        int64_t now = sl_mono_us();
        for (struct conn_clock *c = srv->clocks; c; c = c->next) {
            if (!c->receiving || c->cut || now - c->since_us < srv->request_timeout_us)
                continue;
            struct stat st;
            c->cut = 1;
            /* The socket is closed only after its CLOSED notice, which waits for this lock; the
             * identity check is a second guard against shutting down someone else's socket. */
            if (fstat(c->fd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino) {
                shutdown(c->fd, SHUT_RDWR);
                sl_warn("http: closing a connection that took more than %lld s to send its "
                        "request (SLUICE_REQUEST_TIMEOUT_SECONDS)",
                        (long long)(srv->request_timeout_us / 1000000));
            }
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->clock_cond, &srv->clock_lock, &until);
    }
    pthread_mutex_unlock(&srv->clock_lock);
    return NULL;
}

static int watchdog_start(struct sl_server *srv)
{
    pthread_condattr_t attr;
    pthread_mutex_init(&srv->clock_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->clock_cond, &attr);
    pthread_condattr_destroy(&attr);
    if (!srv->request_timeout_us)
        return 0;
    if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) != 0)
        return SL_ENOMEM;
    srv->watchdog_started = 1;
    return 0;
}

static void watchdog_stop(struct sl_server *srv)
{
    if (!srv->watchdog_started)
        return;
    pthread_mutex_lock(&srv->clock_lock);
    srv->watchdog_stop = 1;
    pthread_cond_signal(&srv->clock_cond);
    pthread_mutex_unlock(&srv->clock_lock);
    pthread_join(srv->watchdog, NULL);
    srv->watchdog_started = 0;
}

static void watchdog_fini(struct sl_server *srv)
{
    watchdog_stop(srv);
    pthread_cond_destroy(&srv->clock_cond);
    pthread_mutex_destroy(&srv->clock_lock);
}

static struct sl_req *req_new(struct sl_server *srv, struct MHD_Connection *conn,
                              const char *method, const char *url)
{
    struct sl_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->conn = conn;
    r->svc = srv->svc;
    r->method = method;
    r->t0_us = sl_mono_us();
    snprintf(r->path, sizeof r->path, "%s", url);
    return r;
}

static void req_free(struct sl_req *r)
{
    if (r->body_free)
        r->body_free(r->body_state);
    if (r->response)
        MHD_destroy_response(r->response);
    free(r);
}

/* Queues the reply a handler prepared (or a 500 if it prepared none). */
static enum MHD_Result send_reply(struct sl_req *r)
{
    if (!r->response)
        sl_reply_errorf(r, SL_EINTERNAL, "the handler gave no answer");
    if (!r->response)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)r->status, r->response);
    MHD_destroy_response(r->response);
    r->response = NULL;
    return ok;
}

/*
 * First call for a request: match the route, check who may call it; answer routing and access
 * errors at once, before any body is read.
 */
static enum MHD_Result on_headers(struct sl_server *srv, struct sl_req *r, const char *method)
{
    int status;
    char allow[128];
    r->route = sl_route_match(r, method, r->path, &status, allow, sizeof allow);
    if (!r->route) {
        if (status == 405) {
            sl_reply_errorf(r, SL_EMETHOD, "%s is not allowed on %s; allowed: %s", method, r->path,
                            allow);
            sl_reply_header(r, "Allow", allow);
        } else {
            sl_reply_errorf(r, SL_ENOT_FOUND, "no route %s %s", method, r->path);
        }
        return send_reply(r);
    }
    if (sl_access_check(srv->access, r, r->route->access) != 0)
        return send_reply(r);
    if (r->route->begin && r->route->begin(r) != 0 && r->response)
        return send_reply(r);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sl_req *r = *con_cls;
    if (!r) {
        r = req_new(cls, conn, method, url);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        return on_headers(cls, r, method);
    }
    if (*upload_data_size == 0)
        clock_set(cls, conn, 0); /* the whole request is in: handling it is not timed */
    if (r->status)               /* answered early; MHD drops the rest of the body */
        return MHD_YES;
    if (*upload_data_size > 0) {
        /* A body handler answers < 0 when the client keeps sending after an error: hang up. */
        if (r->route->body && r->route->body(r, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    r->route->handle(r);
    return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct sl_req *r = *con_cls;
    clock_set(cls, conn, 1); /* the connection may now take its next request */
    if (!r)
        return;
    double ms = (double)(sl_mono_us() - r->t0_us) / 1000.0;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        sl_info("%s %s %d %lluB %.1fms", r->method, r->path, r->status,
                (unsigned long long)r->bytes, ms);
    else
        sl_info("%s %s %d %lluB %.1fms (connection ended early: %d)", r->method, r->path, r->status,
                (unsigned long long)r->bytes, ms, (int)toe);
    req_free(r);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    sl_warn("http: %s", line);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, int *v6,
                   struct sl_error *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int g = getaddrinfo(host, service, &hints, &res);
    if (g != 0 || !res)
        return sl_err_set(err, SL_ECONFIG, "HOST: cannot resolve '%.100s': %s", host,
                          gai_strerror(g));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

int sl_server_start(struct sl_service *svc, const char *host, int port, struct sl_server **out,
                    struct sl_error *err)
{
    struct sockaddr_storage addr;
    int v6 = 0, rc;

    *out = NULL;
    if ((rc = resolve(host, port, &addr, &v6, err)) != 0)
        return rc;
    struct sl_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return SL_ENOMEM;
    srv->svc = svc;
    srv->request_timeout_us = (int64_t)svc->cfg->request_timeout_s * 1000000;
    srv->max_conns = svc->cfg->max_connections;
    atomic_init(&srv->open_conns, 0);
    if ((rc = sl_access_new(svc->cfg, &srv->access, err)) != 0) {
        free(srv);
        return rc;
    }
    if ((rc = watchdog_start(srv)) != 0) {
        watchdog_fini(srv);
        sl_access_free(srv->access);
        free(srv);
        return sl_err_set(err, rc, "cannot start the request watchdog");
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, on_accept, srv, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)svc->cfg->max_connections + 16 /* a backstop only: see on_accept */,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)svc->cfg->connection_timeout_s, MHD_OPTION_END);
    if (!srv->daemon) {
        watchdog_fini(srv);
        sl_access_free(srv->access);
        free(srv);
        return sl_err_set(err, SL_EIO, "cannot listen on %s:%d (in use, or not permitted?)", host,
                          port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    *out = srv;
    return 0;
}

int sl_server_port(const struct sl_server *srv)
{
    return srv->port;
}

void sl_server_quiesce(struct sl_server *srv)
{
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void sl_server_stop(struct sl_server *srv)
{
    if (!srv)
        return;
    watchdog_stop(srv); /* no more cuts while the daemon closes its connections */
    MHD_stop_daemon(srv->daemon);
    watchdog_fini(srv);
    sl_access_free(srv->access);
    free(srv);
}
