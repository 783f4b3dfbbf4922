/*
 * cli: the command table and what every verb shares. main() calls sl_cli_main; each verb lives
 * in its own file (serve.c, process.c, report.c, upload.c, misc.c) and is a client of the core,
 * never of another verb.
 *
 * Exit status: 0 on success, 1 on failure (one line on standard error), 2 on bad usage.
 */
#ifndef SL_CLI_H
#define SL_CLI_H

#include "core/service.h"
#include "util/config.h"
#include "util/version.h"

enum { SL_EXIT_OK = 0, SL_EXIT_FAIL = 1, SL_EXIT_USAGE = 2 };

int sl_cli_main(int argc, char **argv);

/* Verbs: argv[0] is the verb's name. */
int sl_cmd_serve(int argc, char **argv);
int sl_cmd_process(int argc, char **argv);
int sl_cmd_status(int argc, char **argv);
int sl_cmd_stats(int argc, char **argv);
int sl_cmd_upload(int argc, char **argv);
int sl_cmd_cron(int argc, char **argv);
int sl_cmd_migrate(int argc, char **argv);
int sl_cmd_version(int argc, char **argv);

/* Prints "sluice: <msg>" on standard error and returns SL_EXIT_FAIL. */
int sl_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "sluice <verb>: <msg>", the verb's usage line, and returns SL_EXIT_USAGE. */
int sl_cli_usage(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when argv holds -h or --help (then the verb's help was printed). */
int sl_cli_wants_help(int argc, char **argv, const char *verb);

/* Loads the configuration; on failure prints it and returns SL_EXIT_FAIL. */
int sl_cli_config(struct sl_config *cfg);
/* Loads the configuration and opens the service; on failure prints why. */
int sl_cli_open(struct sl_config *cfg, struct sl_service **svc);
void sl_cli_close(struct sl_config *cfg, struct sl_service *svc);

/* Parses a decimal integer option in [min, max]; returns 0 or -1. */
int sl_cli_int(const char *text, long min, long max, long *out);

#endif
