/*
 * fuzz_cron: libFuzzer target for the cron expression parser and the next-time search.
 *
 * The input is a cron expression (NUL-terminated copy). When it parses, the next few firing
 * times after a fixed instant are computed, each strictly after the one before.
 */
#include "core/cron.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIXED_INSTANT_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *expr = malloc(size + 1);
    if (!expr)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';

    struct sl_cron c;
    struct sl_error err = {0};
    if (sl_cron_parse(expr, &c, &err) == 0) {
        int64_t t = FIXED_INSTANT_MS;
        for (int i = 0; i < 4; i++) {
            int64_t next;
            if (sl_cron_next(&c, t, &next) != 0)
                break;
            if (next <= t)
                abort(); /* the contract: strictly after */
            t = next;
        }
    }
    free(expr);
    return 0;
}
