/* `sluice cron next EXPR [--from ISO8601] [--count N]`: the next firing times, one per line. */
#include "cli/cli.h"
#include "core/cron.h"
#include "util/timeutil.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int cron_next(int argc, char **argv)
{
    static const struct option longopts[] = {{"from", required_argument, NULL, 'f'},
                                             {"count", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    struct sl_error err = {0};
    struct sl_cron cron;
    int64_t t = sl_now_ms();
    long count = 5;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'f' && sl_parse_iso8601(optarg, &t) == 0)
            continue;
        if (c == 'c' && sl_cli_int(optarg, 1, 1000, &count) == 0)
            continue;
        if (c == 'f')
            return sl_cli_usage("cron", "--from must be an ISO 8601 time such as "
                                        "2026-11-30T07:39:00Z");
        if (c == 'c')
            return sl_cli_usage("cron", "--count must be 1 to 1000");
        return sl_cli_usage("cron", "unknown option '%s'", argv[optind - 1]);
    }
    if (argc - optind != 1)
        return sl_cli_usage("cron", "give exactly one schedule, quoted");
    int rc = sl_cron_parse(argv[optind], &cron, &err);
    if (rc)
        return sl_cli_fail("%s", err.msg);
    for (long i = 0; i < count; i++) {
        char iso[SL_ISO_MAX];
        if (sl_cron_next(&cron, t, &t) != 0)
            return i == 0 ? sl_cli_fail("schedule '%s' never fires", argv[optind]) : SL_EXIT_OK;
        sl_iso8601(t, iso);
        puts(iso);
    }
    return SL_EXIT_OK;
}

int sl_cmd_cron(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        sl_cli_wants_help(2, (char *[]){"cron", "--help", NULL}, "cron");
        return argc < 2 ? SL_EXIT_USAGE : SL_EXIT_OK;
    }
    if (strcmp(argv[1], "next") != 0)
        return sl_cli_usage("cron", "unknown subcommand '%s'", argv[1]);
    return cron_next(argc - 1, argv + 1);
}
