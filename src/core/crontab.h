/*
 * crontab: the cron entries sluice fires, read from `vercel.json` as on Vercel:
 * {"crons": [{"path": "/api/...", "schedule": "<cron expression>"}, ...]}.
 *
 * Without the file, or with a file that has no "crons" key, the seed's default applies: the batch
 * route every two minutes. An explicit empty list means no cron. Every entry is validated; an
 * error names the file, the entry and the field ("vercel.json: crons[1].schedule: minute field:
 * '61' is out of range 0-59"). The table owns its entries.
 */
#ifndef SL_CRONTAB_H
#define SL_CRONTAB_H

#include "core/cron.h"
#include "util/err.h"

#include <stddef.h>

#define SL_BATCH_PATH       "/api/cron/process-integration-jobs"
#define SL_DEFAULT_SCHEDULE "*/2 * * * *"
#define SL_CRON_PATH_MAX    256
#define SL_CRONTAB_MAX      64

struct sl_cron_entry {
    char path[SL_CRON_PATH_MAX];
    char schedule[128];
    struct sl_cron cron;
};

struct sl_crontab {
    struct sl_cron_entry *entries;
    size_t count;
};

/* Loads the file at path (a missing file gives the default). Returns 0, SL_ECONFIG or SL_ENOMEM. */
int sl_crontab_load(const char *path, struct sl_crontab *tab, struct sl_error *err);
/* Parses JSON text named `name` in messages. */
int sl_crontab_parse(const char *text, const char *name, struct sl_crontab *tab,
                     struct sl_error *err);
void sl_crontab_fini(struct sl_crontab *tab);

#endif
