/* The small verbs: migrate and version. */
#include "cli/cli.h"

#include <stdio.h>

int sl_cmd_migrate(int argc, char **argv)
{
    struct sl_config cfg;
    struct sl_service *svc;
    if (sl_cli_wants_help(argc, argv, "migrate"))
        return SL_EXIT_OK;
    if (argc > 1)
        return sl_cli_usage("migrate", "takes no arguments");
    if (sl_cli_open(&cfg, &svc) != SL_EXIT_OK) /* opening the store migrates it */
        return SL_EXIT_FAIL;
    printf("store schema is up to date (%s)\n", cfg.database_url);
    sl_cli_close(&cfg, svc);
    return SL_EXIT_OK;
}

int sl_cmd_version(int argc, char **argv)
{
    if (sl_cli_wants_help(argc, argv, "version"))
        return SL_EXIT_OK;
    printf("sluice %s\n", SL_VERSION);
    return SL_EXIT_OK;
}
