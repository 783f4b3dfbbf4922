#include "core/procconf.h"
#include "util/fsutil.h"
#include "import/importer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MAX_S (7 * 86400)

static int parse_command(json_t *spec, const char *name, const char *type,
                         struct sl_command_spec *cmd, struct sl_error *err)
{
    json_t *argv = json_object_get(spec, "command");
    json_t *timeout = json_object_get(spec, "timeoutSeconds");
    size_t n = json_array_size(argv);
    if (!json_is_array(argv) || n == 0 || n > 256)
        return sl_err_set(err, SL_ECONFIG,
                          "%s: processors.%s.command must be a non-empty array of strings", name,
                          type);
    if (timeout && (!json_is_integer(timeout) || json_integer_value(timeout) < 1 ||
                    json_integer_value(timeout) > TIMEOUT_MAX_S))
        return sl_err_set(err, SL_ECONFIG,
                          "%s: processors.%s.timeoutSeconds must be an integer from 1 to %d", name,
                          type, TIMEOUT_MAX_S);
    cmd->timeout_s = timeout ? (int)json_integer_value(timeout) : 0;
    cmd->argv = calloc(n + 1, sizeof *cmd->argv);
    if (!cmd->argv)
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *arg = json_string_value(json_array_get(argv, i));
        if (!arg || (i == 0 && !*arg))
            return sl_err_set(err, SL_ECONFIG,
                              "%s: processors.%s.command[%zu] must be a (non-empty) string", name,
                              type, i);
        if (!(cmd->argv[i] = strdup(arg)))
            return SL_ENOMEM;
    }
    return 0;
}

static int parse_entry(const char *type, json_t *spec, const char *name,
                       struct sl_procconf_entry *e, struct sl_error *err)
{
    char where[300];
    if (!sl_job_name_valid(type, SL_TYPE_MAX))
        return sl_err_set(err, SL_ECONFIG,
                          "%s: processor type '%.64s' must be 1 to 64 characters of A-Z a-z 0-9 "
                          "_ . -",
                          name, type);
    snprintf(e->type, sizeof e->type, "%s", type);
    int has_import = json_object_get(spec, "import") != NULL;
    int has_command = json_object_get(spec, "command") != NULL;
    if (!json_is_object(spec) || has_import == has_command)
        return sl_err_set(err, SL_ECONFIG,
                          "%s: processors.%s must be an object with either \"import\" or "
                          "\"command\"",
                          name, type);
    if (has_command) {
        e->is_command = 1;
        return parse_command(spec, name, type, &e->command, err);
    }
    snprintf(where, sizeof where, "%s: processors.%s.import", name, type);
    return sl_schema_parse(json_object_get(spec, "import"), where, &e->schema, err);
}

int sl_procconf_parse(const char *text, const char *name, struct sl_procconf *pc,
                      struct sl_error *err)
{
    json_error_t jerr;
    int rc = 0;
    memset(pc, 0, sizeof *pc);
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return sl_err_set(err, SL_ECONFIG, "%s: line %d, column %d: %s", name, jerr.line,
                          jerr.column, jerr.text);
    json_t *procs = json_object_get(root, "processors");
    if (!json_is_object(root) || (procs && !json_is_object(procs))) {
        rc =
            sl_err_set(err, SL_ECONFIG, "%s: expected {\"processors\": {\"<type>\": {...}}}", name);
    } else if (procs && json_object_size(procs) > 0) {
        pc->entries = calloc(json_object_size(procs), sizeof *pc->entries);
        if (!pc->entries)
            rc = SL_ENOMEM;
        const char *type;
        json_t *spec;
        json_object_foreach(procs, type, spec)
        {
            if (rc)
                break;
            rc = parse_entry(type, spec, name, &pc->entries[pc->count++], err);
        }
    }
    json_decref(root);
    if (rc)
        sl_procconf_fini(pc);
    return rc;
}

int sl_procconf_load(const char *path, struct sl_procconf *pc, struct sl_error *err)
{
    char *text;
    memset(pc, 0, sizeof *pc);
    int rc = sl_read_config_file(path, 1 << 20, &text, err);
    if (rc == SL_ENOT_FOUND)
        return 0; /* no sluice.json: the built-in processors only */
    if (rc == 0)
        rc = sl_procconf_parse(text, path, pc, err);
    free(text);
    return rc;
}

int sl_procconf_register(const struct sl_procconf *pc, struct sl_processors *p)
{
    static const char *const imports[] = {"csv", "sheet", "json", "ndjson"};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof imports / sizeof imports[0]; i++)
        rc = sl_processors_set(p, imports[i], sl_proc_import, NULL);
    for (size_t i = 0; rc == 0 && pc && i < pc->count; i++) {
        const struct sl_procconf_entry *e = &pc->entries[i];
        rc = e->is_command ? sl_processors_set(p, e->type, sl_proc_command, &e->command)
                           : sl_processors_set(p, e->type, sl_proc_import, &e->schema);
    }
    return rc;
}

void sl_procconf_fini(struct sl_procconf *pc)
{
    for (size_t i = 0; i < pc->count; i++) {
        struct sl_procconf_entry *e = &pc->entries[i];
        if (e->is_command) {
            for (char **a = e->command.argv; a && *a; a++)
                free(*a);
            free(e->command.argv);
        } else {
            sl_schema_fini(&e->schema);
        }
    }
    free(pc->entries);
    pc->entries = NULL;
    pc->count = 0;
}
