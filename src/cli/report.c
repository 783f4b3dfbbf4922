/* `sluice status` and `sluice stats`: the queue and statistics, as a table or the route's JSON. */
#include "cli/cli.h"
#include "core/crontab.h"
#include "core/report.h"
#include "util/timeutil.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct report_opts {
    int json;
    long days;
    const char *tenant;
};

static int parse(int argc, char **argv, const char *verb, struct report_opts *o)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"days", required_argument, NULL, 'd'},
                                             {"tenant", required_argument, NULL, 't'},
                                             {NULL, 0, NULL, 0}};
    int c, with_days = strcmp(verb, "stats") == 0;
    memset(o, 0, sizeof *o);
    o->days = 7;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'j')
            o->json = 1;
        else if (c == 'd' && with_days) {
            if (sl_cli_int(optarg, 1, 365, &o->days))
                return sl_cli_usage(verb, "--days must be an integer from 1 to 365");
        } else if (c == 't' && sl_job_name_valid(optarg, SL_TENANT_MAX))
            o->tenant = optarg;
        else if (c == 't')
            return sl_cli_usage(verb, "--tenant is not a valid tenant name");
        else
            return sl_cli_usage(verb, "unknown option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        return sl_cli_usage(verb, "unexpected argument '%s'", argv[optind]);
    return SL_EXIT_OK;
}

static void print_json(json_t *o)
{
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
}

static const char *when(int64_t ms, char buf[SL_ISO_MAX])
{
    if (!ms)
        return "-";
    sl_iso8601(ms, buf);
    return buf;
}

/* The next batch firing that `sluice serve` would make here, from vercel.json; 0 when none. */
static int64_t next_batch_run(void)
{
    struct sl_crontab tab;
    int64_t best = 0, now = sl_now_ms();
    if (sl_crontab_load("vercel.json", &tab, NULL) != 0)
        return 0;
    for (size_t i = 0; i < tab.count; i++) {
        int64_t n;
        if (strcmp(tab.entries[i].path, SL_BATCH_PATH) == 0 &&
            sl_cron_next(&tab.entries[i].cron, now, &n) == 0 && (!best || n < best))
            best = n;
    }
    sl_crontab_fini(&tab);
    return best;
}

static void print_queue(const struct sl_queue_status *q, int64_t last, int64_t next)
{
    char t[SL_ISO_MAX];
    printf("%-12s %lld\n%-12s %lld\n%-12s %lld\n%-12s %lld\n%-12s %lld\n", "pending",
           (long long)q->counts[SL_JOB_PENDING], "processing",
           (long long)q->counts[SL_JOB_PROCESSING], "completed",
           (long long)q->counts[SL_JOB_COMPLETED], "failed", (long long)q->counts[SL_JOB_FAILED],
           "total", (long long)q->total);
    printf("%-12s %s\n", "oldest", when(q->oldest_pending_at, t));
    printf("%-12s %s\n", "last run", when(last, t));
    printf("%-12s %s\n", "next run", when(next, t));
    if (q->has_next)
        printf("%-12s %s %s (%s)\n", "next job", q->next_job.id, q->next_job.file_name,
               q->next_job.type);
    for (size_t i = 0; i < q->processing_count; i++)
        printf("%-12s %s %s since %s\n", i ? "" : "running", q->processing[i].id,
               q->processing[i].file_name, when(q->processing[i].started_at, t));
}

int sl_cmd_status(int argc, char **argv)
{
    struct report_opts o;
    struct sl_config cfg;
    struct sl_service *svc;
    struct sl_error err = {0};
    struct sl_queue_status q;

    if (sl_cli_wants_help(argc, argv, "status"))
        return SL_EXIT_OK;
    int rc = parse(argc, argv, "status", &o);
    if (rc)
        return rc;
    if (sl_cli_open(&cfg, &svc) != SL_EXIT_OK)
        return SL_EXIT_FAIL;
    if ((rc = sl_store_queue_status(svc->store, o.tenant, sl_now_ms(), &q, &err)) != 0) {
        sl_cli_close(&cfg, svc);
        return sl_cli_fail("%s", sl_err_msg(&err, rc));
    }
    int64_t last = sl_service_last_run(svc), next = next_batch_run();
    if (o.json)
        print_json(sl_queue_json(&q, 0, last, next));
    else
        print_queue(&q, last, next);
    sl_queue_status_fini(&q);
    sl_cli_close(&cfg, svc);
    return SL_EXIT_OK;
}

static void print_stats(const struct sl_stats *st)
{
    int64_t done = st->counts[SL_JOB_COMPLETED] + st->counts[SL_JOB_FAILED];
    printf("last %d days: %lld jobs (%lld pending, %lld processing, %lld completed, %lld "
           "failed)\n",
           st->days, (long long)st->total, (long long)st->counts[SL_JOB_PENDING],
           (long long)st->counts[SL_JOB_PROCESSING], (long long)st->counts[SL_JOB_COMPLETED],
           (long long)st->counts[SL_JOB_FAILED]);
    if (done)
        printf("success rate %.1f%%\n",
               100.0 * (double)st->counts[SL_JOB_COMPLETED] / (double)done);
    if (st->avg_processing_ms >= 0)
        printf("processing ms: average %.1f, p50 %lld, p95 %lld\n", st->avg_processing_ms,
               (long long)st->p50_processing_ms, (long long)st->p95_processing_ms);
    if (st->avg_wait_ms >= 0)
        printf("average wait ms: %.1f\n", st->avg_wait_ms);
    printf("\n%-16s %8s %8s %8s %8s %8s\n", "type", "total", "pending", "running", "done",
           "failed");
    for (size_t i = 0; i < st->type_count; i++) {
        const struct sl_type_counts *t = &st->types[i];
        printf("%-16s %8lld %8lld %8lld %8lld %8lld\n", t->type, (long long)t->total,
               (long long)t->counts[0], (long long)t->counts[1], (long long)t->counts[2],
               (long long)t->counts[3]);
    }
}

int sl_cmd_stats(int argc, char **argv)
{
    struct report_opts o;
    struct sl_config cfg;
    struct sl_service *svc;
    struct sl_error err = {0};
    struct sl_stats st;

    if (sl_cli_wants_help(argc, argv, "stats"))
        return SL_EXIT_OK;
    int rc = parse(argc, argv, "stats", &o);
    if (rc)
        return rc;
    if (sl_cli_open(&cfg, &svc) != SL_EXIT_OK)
        return SL_EXIT_FAIL;
    if ((rc = sl_store_stats(svc->store, (int)o.days, o.tenant, sl_now_ms(), &st, &err)) != 0) {
        sl_cli_close(&cfg, svc);
        return sl_cli_fail("%s", sl_err_msg(&err, rc));
    }
    if (o.json)
        print_json(sl_stats_json(&st));
    else
        print_stats(&st);
    sl_stats_fini(&st);
    sl_cli_close(&cfg, svc);
    return SL_EXIT_OK;
}
