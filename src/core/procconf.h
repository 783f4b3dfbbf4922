/*
 * procconf: the processors of `sluice.json` (optional, in the working directory):
 * {"processors": {"<type>": {"import": {...schema...}} | {"command": [argv...],
 * "timeoutSeconds": N}}}.
 *
 * Loaded and validated once at start-up; an error names the file and the place
 * ("sluice.json: processors.orders.command must be a non-empty array of strings"). The
 * configuration owns its schemas and command specs and must outlive the processor registry it
 * fills (sl_procconf_register hands out pointers into it).
 */
#ifndef SL_PROCCONF_H
#define SL_PROCCONF_H

#include "core/proc_command.h"
#include "core/processor.h"
#include "import/schema.h"

struct sl_procconf_entry {
    char type[SL_TYPE_MAX + 1];
    int is_command;
    struct sl_schema schema;        /* when !is_command */
    struct sl_command_spec command; /* when is_command */
};

struct sl_procconf {
    struct sl_procconf_entry *entries;
    size_t count;
};

/* Loads path (a missing file is an empty configuration). Returns 0, SL_ECONFIG or SL_ENOMEM. */
int sl_procconf_load(const char *path, struct sl_procconf *pc, struct sl_error *err);
int sl_procconf_parse(const char *text, const char *name, struct sl_procconf *pc,
                      struct sl_error *err);
/* Registers the built-in imports (csv, sheet, json, ndjson without a schema), then pc's types
 * (which may replace them). */
int sl_procconf_register(const struct sl_procconf *pc, struct sl_processors *p);
void sl_procconf_fini(struct sl_procconf *pc);

#endif
