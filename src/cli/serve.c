/*
 * `sluice serve`: the HTTP server, the cron scheduler and (opt-in) the continuous worker.
 *
 * Signals are handled synchronously: every thread blocks SIGINT/SIGTERM and the main thread
 * waits for them with sigwait, so shutdown runs in plain code, not in a signal handler.
 * Shutdown: stop accepting, stop the batch runner (the running job finishes within
 * SLUICE_SHUTDOWN_GRACE_SECONDS, or its lease is released and the process exits without waiting
 * for it), stop the worker and the scheduler, close.
 */
#include "cli/cli.h"
#include "core/crontab.h"
#include "http/client.h"
#include "http/server.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define VERCEL_JSON "vercel.json"

struct serve_opts {
    long port; /* -1: from the configuration */
    const char *host;
    int no_cron;
    int continuous;
};

/* What the scheduler's hooks need to call this server. */
struct self {
    char base[300]; /* http://host:port */
    const char *secret;
    struct sl_runner *runner;
};

static int parse(int argc, char **argv, struct serve_opts *o)
{
    static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
                                             {"host", required_argument, NULL, 'H'},
                                             {"no-cron", no_argument, NULL, 'n'},
                                             {"continuous", no_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    int c;
    memset(o, 0, sizeof *o);
    o->port = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (sl_cli_int(optarg, 0, 65535, &o->port))
                return sl_cli_usage("serve", "--port must be 0 to 65535");
            break;
        case 'H':
            o->host = optarg;
            break;
        case 'n':
            o->no_cron = 1;
            break;
        case 'c':
            o->continuous = 1;
            break;
        default:
            return sl_cli_usage("serve", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return sl_cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    return SL_EXIT_OK;
}

static int fire(void *ctx, const char *path)
{
    struct self *self = ctx;
    struct sl_error err = {0};
    char url[600];
    snprintf(url, sizeof url, "%s%s", self->base, path);
    int rc = sl_http_cron_get(url, self->secret, &err);
    if (rc < 0)
        sl_warn("%s", err.msg);
    return rc;
}

static int busy(void *ctx)
{
    return sl_runner_busy(((struct self *)ctx)->runner);
}

static int wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigwait(&set, &sig);
    return sig;
}

/* Starts the scheduler and the worker as configured. */
static int start_background(struct sl_service *svc, const struct sl_crontab *tab,
                            const struct serve_opts *o, struct self *self)
{
    struct sl_error err = {0};
    int rc = 0;
    if (sl_service_watch_store(svc, &err) != 0) /* live views then update at each heartbeat */
        sl_warn("cannot follow other processes' changes: %s", err.msg);
    if (tab->count > 0) {
        struct sl_sched_hooks hooks = {fire, busy, self};
        rc = sl_scheduler_new(tab, svc->store, &hooks, sl_now_ms(), &svc->sched);
        if (rc == 0)
            rc = sl_scheduler_start(svc->sched);
        for (size_t i = 0; rc == 0 && i < tab->count; i++)
            sl_info("cron: GET %s on '%s'", tab->entries[i].path, tab->entries[i].schedule);
    }
    if (rc == 0 && (o->continuous || svc->cfg->continuous)) {
        rc = sl_worker_start(svc->runner, svc->store, svc->cfg->batch_size, &svc->worker);
        if (rc == 0)
            sl_info("continuous worker on: jobs run as soon as they are due");
    }
    return rc;
}

static void shutdown_all(struct sl_service *svc, struct sl_server *srv)
{
    sl_server_quiesce(srv);
    if (sl_runner_shutdown(svc->runner, (int64_t)svc->cfg->shutdown_grace_s * 1000)) {
        /* A job overran the grace period and its lease is released; its thread (and the
         * request waiting on it) would keep us alive until it ends, so leave now. SQLite and
         * the blob folder are crash-safe, and the job is pending again. */
        sl_info("stopped (a job was still running; it will be retried)");
        _exit(0);
    }
    sl_worker_stop(svc->worker);
    svc->worker = NULL;
    sl_scheduler_free(svc->sched);
    svc->sched = NULL;
    sl_events_close(svc->events); /* ends the live-queue streams, which would hold the stop */
    sl_server_stop(srv);
}

static int serve(const struct serve_opts *o, struct sl_config *cfg, struct sl_service *svc,
                 const struct sl_crontab *tab)
{
    struct sl_server *srv = NULL;
    struct sl_error err = {0};
    struct self self = {.secret = cfg->cron_secret, .runner = svc->runner};
    const char *host = o->host ? o->host : cfg->host;
    int port = o->port >= 0 ? (int)o->port : cfg->port;
    int rc = sl_server_start(svc, host, port, &srv, &err);
    if (rc)
        return sl_cli_fail("%s", sl_err_msg(&err, rc));
    sl_http_local_base(host, sl_server_port(srv), self.base, sizeof self.base);
    sl_info("sluice %s listening on http://%s:%d (store %s, blobs %s)", SL_VERSION, host,
            sl_server_port(srv), cfg->database_url, cfg->blob_url);
    if ((rc = start_background(svc, tab, o, &self)) != 0) {
        shutdown_all(svc, srv);
        return sl_cli_fail("cannot start the scheduler or worker threads");
    }
    int sig = wait_for_signal();
    sl_info("%s received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    shutdown_all(svc, srv);
    sl_info("stopped");
    return SL_EXIT_OK;
}

int sl_cmd_serve(int argc, char **argv)
{
    struct serve_opts o;
    struct sl_config cfg;
    struct sl_service *svc;
    struct sl_crontab tab = {0};
    struct sl_error err = {0};
    sigset_t set;

    if (sl_cli_wants_help(argc, argv, "serve"))
        return SL_EXIT_OK;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (!o.no_cron && (rc = sl_crontab_load(VERCEL_JSON, &tab, &err)) != 0)
        return sl_cli_fail("%s", sl_err_msg(&err, rc));
    /* Block before any thread starts so that all of them inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sl_http_client_init();
    if (sl_cli_open(&cfg, &svc) != SL_EXIT_OK) {
        rc = SL_EXIT_FAIL;
    } else {
        rc = serve(&o, &cfg, svc, &tab);
        sl_cli_close(&cfg, svc);
    }
    sl_crontab_fini(&tab);
    sl_http_client_cleanup();
    return rc;
}
