#include "cli/cli.h"
#include "import/xls_sheet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
    const char *summary;
};

/* The internal verb, declared here rather than in cli.h: nothing but this table calls it. */
int sl_cmd_xls_rows(int argc, char **argv); /* xls_rows.c */

static const struct command commands[] = {
    {"serve", sl_cmd_serve, "serve [--port N] [--host H] [--no-cron] [--continuous]",
     "run the HTTP server (uploads, batches, queue, stats)"},
    {"process", sl_cmd_process, "process [--limit N] [--json]",
     "run one batch now, straight on the store"},
    {"status", sl_cmd_status, "status [--tenant T] [--json]", "show the queue status"},
    {"stats", sl_cmd_stats, "stats [--days N] [--tenant T] [--json]", "show processing statistics"},
    {"upload", sl_cmd_upload, "upload [--server URL] [--type T] [--tenant T] FILE...",
     "upload files to a running server and print their job ids"},
    {"cron", sl_cmd_cron, "cron next EXPR [--from ISO8601] [--count N]",
     "print the next firing times of a cron schedule (UTC)"},
    {"migrate", sl_cmd_migrate, "migrate", "create or upgrade the store's schema"},
    {"version", sl_cmd_version, "version", "print the version"},
};

/* Verbs sluice runs itself, left out of --help: the child that parses .xls files (xls_rows.c). */
static const struct command internal_commands[] = {
    {"xls-rows", sl_cmd_xls_rows, "xls-rows [--memory-mib N] [--cpu-seconds N] FILE",
     "internal: write an .xls file's first sheet as frames (the server's parser child)"},
};

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    for (size_t i = 0; i < sizeof internal_commands / sizeof internal_commands[0]; i++)
        if (strcmp(internal_commands[i].name, name) == 0)
            return &internal_commands[i];
    return NULL;
}

static void help(FILE *out)
{
    fprintf(out,
            "sluice %s: takes in files over HTTP and processes them in the background\n\n"
            "usage: sluice COMMAND [OPTIONS]\n\n",
            SL_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-54s %s\n", commands[i].usage, commands[i].summary);
    fprintf(out,
            "\nConfiguration comes from the environment, .env.local and .env; see README.md.\n");
}

int sl_cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("sluice: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return SL_EXIT_FAIL;
}

int sl_cli_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    const struct command *c = find(verb);
    fprintf(stderr, "sluice %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: sluice %s\n", c ? c->usage : verb);
    return SL_EXIT_USAGE;
}

int sl_cli_wants_help(int argc, char **argv, const char *verb)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            const struct command *c = find(verb);
            printf("usage: sluice %s\n\n%s\n", c->usage, c->summary);
            return 1;
        }
    }
    return 0;
}

int sl_cli_config(struct sl_config *cfg)
{
    struct sl_error err = {0};
    int rc = sl_config_load(cfg, NULL, &err);
    if (rc)
        return sl_cli_fail("configuration: %s", sl_err_msg(&err, rc));
    return SL_EXIT_OK;
}

int sl_cli_open(struct sl_config *cfg, struct sl_service **svc)
{
    struct sl_error err = {0};
    *svc = NULL;
    if (sl_cli_config(cfg) != SL_EXIT_OK)
        return SL_EXIT_FAIL;
    int rc = sl_service_open(cfg, svc, &err);
    if (rc) {
        sl_config_fini(cfg);
        return sl_cli_fail("%s", sl_err_msg(&err, rc));
    }
    return SL_EXIT_OK;
}

void sl_cli_close(struct sl_config *cfg, struct sl_service *svc)
{
    sl_service_close(svc);
    sl_config_fini(cfg);
}

int sl_cli_int(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (!*text || *end || errno || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

int sl_cli_main(int argc, char **argv)
{
    /* .xls files are parsed by a child running this same program (xls-rows), never in here. */
    sl_xls_set_helper("/proc/self/exe", NULL);
    if (argc < 2) {
        help(stderr);
        return SL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        help(stdout);
        return SL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return sl_cmd_version(argc - 1, argv + 1);
    const struct command *c = find(argv[1]);
    if (!c) {
        fprintf(stderr, "sluice: unknown command '%s'\n\n", argv[1]);
        help(stderr);
        return SL_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
