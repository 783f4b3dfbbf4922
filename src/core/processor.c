#include "core/processor.h"

#include <stdio.h>
#include <string.h>

void sl_processors_init(struct sl_processors *p)
{
    static const char *const builtin[] = {"csv", "sheet", "json", "ndjson", "file"};
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        sl_processors_set(p, builtin[i], sl_proc_file, NULL);
}

int sl_processors_set(struct sl_processors *p, const char *type, sl_processor_fn fn,
                      const void *arg)
{
    for (int i = 0; i < p->count; i++) {
        if (strcmp(p->entries[i].type, type) == 0) {
            p->entries[i].fn = fn;
            p->entries[i].arg = arg;
            return 0;
        }
    }
    if (p->count == SL_PROCESSORS_MAX || strlen(type) > SL_TYPE_MAX)
        return SL_EINVALID;
    snprintf(p->entries[p->count].type, sizeof p->entries[p->count].type, "%s", type);
    p->entries[p->count].fn = fn;
    p->entries[p->count].arg = arg;
    p->count++;
    return 0;
}

sl_processor_fn sl_processors_find(const struct sl_processors *p, const char *type,
                                   const void **arg)
{
    for (int i = 0; i < p->count; i++) {
        if (strcmp(p->entries[i].type, type) == 0) {
            if (arg)
                *arg = p->entries[i].arg;
            return p->entries[i].fn;
        }
    }
    return NULL;
}
