/* `sluice process`: one batch now, straight on the store, the route's summary as output. */
#include "cli/cli.h"
#include "core/report.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void print_table(const struct sl_batch_result *res)
{
    printf("processed %d: %d succeeded, %d retried, %d failed; %lld remaining; %lld ms\n",
           res->processed, res->succeeded, res->retried, res->failed, (long long)res->remaining,
           (long long)res->duration_ms);
    for (size_t i = 0; i < res->count; i++) {
        const struct sl_batch_item *it = &res->items[i];
        printf("  %s  %-10s attempts %d  %s\n", it->id, sl_job_status_name(it->status),
               it->attempts, it->error ? it->error : "");
    }
}

int sl_cmd_process(int argc, char **argv)
{
    static const struct option longopts[] = {{"limit", required_argument, NULL, 'l'},
                                             {"json", no_argument, NULL, 'j'},
                                             {NULL, 0, NULL, 0}};
    struct sl_config cfg;
    struct sl_service *svc;
    struct sl_error err = {0};
    struct sl_batch_result res;
    long limit = -1;
    int json = 0, c;

    if (sl_cli_wants_help(argc, argv, "process"))
        return SL_EXIT_OK;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'l' && sl_cli_int(optarg, 1, 100, &limit) == 0)
            continue;
        if (c == 'j') {
            json = 1;
            continue;
        }
        if (c == 'l')
            return sl_cli_usage("process", "--limit must be 1 to 100");
        return sl_cli_usage("process", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        return sl_cli_usage("process", "unexpected argument '%s'", argv[optind]);
    if (sl_cli_open(&cfg, &svc) != SL_EXIT_OK)
        return SL_EXIT_FAIL;
    int rc = sl_runner_run(svc->runner, limit > 0 ? (int)limit : cfg.batch_size, &res, &err);
    if (rc) {
        sl_cli_close(&cfg, svc);
        return sl_cli_fail("batch failed: %s", sl_err_msg(&err, rc));
    }
    if (json) {
        json_t *o = sl_batch_json(&res);
        json_dumpf(o, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(o);
    } else {
        print_table(&res);
    }
    sl_batch_result_fini(&res);
    sl_cli_close(&cfg, svc);
    return SL_EXIT_OK;
}
