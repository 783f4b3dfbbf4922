#include "http/server.h"
#include "http/access.h"
#include "http/routes.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sl_server {
    struct MHD_Daemon *daemon;
    struct sl_service *svc;
    struct sl_access *access; /* token, cron allow-list, upload rate */
    int port;
};

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
    if (r->status) /* answered early; MHD drops the rest of the body */
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
    if ((rc = sl_access_new(svc->cfg, &srv->access, err)) != 0) {
        free(srv);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)svc->cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)svc->cfg->connection_timeout_s, MHD_OPTION_END);
    if (!srv->daemon) {
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
    MHD_stop_daemon(srv->daemon);
    sl_access_free(srv->access);
    free(srv);
}
