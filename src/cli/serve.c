/*
 * `sluice serve`: the HTTP server. Signals are handled synchronously: every thread blocks
 * SIGINT/SIGTERM and the main thread waits for them with sigwait, so shutdown runs in plain
 * code, not in a signal handler. Shutdown: stop accepting, stop the batch runner (the running
 * job finishes within SLUICE_SHUTDOWN_GRACE_SECONDS or its lease is released and the process
 * exits without waiting for it), close.
 */
#include "cli/cli.h"
#include "http/server.h"
#include "util/log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct serve_opts {
    long port; /* -1: from the configuration */
    const char *host;
};

static int parse(int argc, char **argv, struct serve_opts *o)
{
    static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
                                             {"host", required_argument, NULL, 'H'},
                                             {"no-cron", no_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    int c;
    o->port = -1;
    o->host = NULL;
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
            break; /* the scheduler is not built in yet: serving is always without cron */
        default:
            return sl_cli_usage("serve", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return sl_cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    return SL_EXIT_OK;
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

int sl_cmd_serve(int argc, char **argv)
{
    struct serve_opts o;
    struct sl_config cfg;
    struct sl_service *svc;
    struct sl_server *srv = NULL;
    struct sl_error err = {0};
    sigset_t set;

    if (sl_cli_wants_help(argc, argv, "serve"))
        return SL_EXIT_OK;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    /* Block before any thread starts so that all of them inherit the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sl_cli_open(&cfg, &svc) != SL_EXIT_OK)
        return SL_EXIT_FAIL;
    const char *host = o.host ? o.host : cfg.host;
    int port = o.port >= 0 ? (int)o.port : cfg.port;
    if ((rc = sl_server_start(svc, host, port, &srv, &err)) != 0) {
        sl_cli_close(&cfg, svc);
        return sl_cli_fail("%s", sl_err_msg(&err, rc));
    }
    sl_info("sluice %s listening on http://%s:%d (store %s, blobs %s)", SL_VERSION, host,
            sl_server_port(srv), cfg.database_url, cfg.blob_url);
    int sig = wait_for_signal();
    sl_info("%s received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sl_server_quiesce(srv);
    if (sl_runner_shutdown(svc->runner, (int64_t)cfg.shutdown_grace_s * 1000)) {
        /* A job overran the grace period and its lease is released; its thread (and the
         * request waiting on it) would keep us alive until it ends, so leave now. SQLite and
         * the blob folder are crash-safe, and the job is pending again. */
        sl_info("stopped (a job was still running; it will be retried)");
        _exit(0);
    }
    sl_server_stop(srv);
    sl_cli_close(&cfg, svc);
    sl_info("stopped");
    return SL_EXIT_OK;
}
