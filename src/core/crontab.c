#include "core/crontab.h"
#include "util/fsutil.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_default(struct sl_crontab *tab)
{
    tab->entries = calloc(1, sizeof *tab->entries);
    if (!tab->entries)
        return SL_ENOMEM;
    snprintf(tab->entries[0].path, sizeof tab->entries[0].path, "%s", SL_BATCH_PATH);
    snprintf(tab->entries[0].schedule, sizeof tab->entries[0].schedule, "%s", SL_DEFAULT_SCHEDULE);
    tab->count = 1;
    return sl_cron_parse(SL_DEFAULT_SCHEDULE, &tab->entries[0].cron, NULL);
}

/* Validates crons[i] into e. */
static int parse_entry(json_t *item, size_t i, const char *name, struct sl_cron_entry *e,
                       struct sl_error *err)
{
    struct sl_error cerr = {0};
    if (!json_is_object(item))
        return sl_err_set(err, SL_ECONFIG,
                          "%s: crons[%zu] must be an object with path and "
                          "schedule",
                          name, i);
    const char *path = json_string_value(json_object_get(item, "path"));
    const char *schedule = json_string_value(json_object_get(item, "schedule"));
    if (!path || path[0] != '/' || strlen(path) >= sizeof e->path || strpbrk(path, " \r\n\t"))
        return sl_err_set(err, SL_ECONFIG,
                          "%s: crons[%zu].path must be a string starting with '/', without "
                          "spaces, under %d characters",
                          name, i, SL_CRON_PATH_MAX);
    if (!schedule)
        return sl_err_set(err, SL_ECONFIG, "%s: crons[%zu].schedule must be a string", name, i);
    if (strlen(schedule) >= sizeof e->schedule || sl_cron_parse(schedule, &e->cron, &cerr) != 0)
        return sl_err_set(err, SL_ECONFIG, "%s: crons[%zu].schedule: %s", name, i,
                          cerr.msg[0] ? cerr.msg : "schedule is too long");
    snprintf(e->path, sizeof e->path, "%s", path);
    snprintf(e->schedule, sizeof e->schedule, "%s", schedule);
    return 0;
}

int sl_crontab_parse(const char *text, const char *name, struct sl_crontab *tab,
                     struct sl_error *err)
{
    json_error_t jerr;
    int rc = 0;
    memset(tab, 0, sizeof *tab);
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sl_err_set(err, SL_ECONFIG, "%s: line %d, column %d: %s", name, jerr.line,
                          jerr.column, jerr.text);
    json_t *crons = json_is_object(root) ? json_object_get(root, "crons") : NULL;
    if (!json_is_object(root)) {
        rc = sl_err_set(err, SL_ECONFIG, "%s: the top level must be an object", name);
    } else if (!crons) {
        rc = add_default(tab);
    } else if (!json_is_array(crons) || json_array_size(crons) > SL_CRONTAB_MAX) {
        rc = sl_err_set(err, SL_ECONFIG, "%s: crons must be an array of at most %d entries", name,
                        SL_CRONTAB_MAX);
    } else if (json_array_size(crons) > 0) {
        tab->entries = calloc(json_array_size(crons), sizeof *tab->entries);
        if (!tab->entries)
            rc = SL_ENOMEM;
        for (size_t i = 0; rc == 0 && i < json_array_size(crons); i++) {
            rc = parse_entry(json_array_get(crons, i), i, name, &tab->entries[i], err);
            if (rc == 0)
                tab->count++;
        }
    }
    json_decref(root);
    if (rc)
        sl_crontab_fini(tab);
    return rc;
}

int sl_crontab_load(const char *path, struct sl_crontab *tab, struct sl_error *err)
{
    char *text;
    memset(tab, 0, sizeof *tab);
    int rc = sl_read_config_file(path, 1 << 20, &text, err);
    if (rc == SL_ENOT_FOUND)
        return add_default(tab);
    if (rc == 0)
        rc = sl_crontab_parse(text, path, tab, err);
    free(text);
    return rc;
}

void sl_crontab_fini(struct sl_crontab *tab)
{
    free(tab->entries);
    tab->entries = NULL;
    tab->count = 0;
}
