/*
 * fuzz_config: libFuzzer target for the configuration parsers: `.env` (dotenv), `vercel.json`
 * crons (crontab) and `sluice.json` processors (procconf).
 *
 * Byte 0 picks the parser; the rest is parsed as NUL-terminated text. The result is always
 * finalised (dotenv may hold the pairs before a bad line; the others leave nothing on error).
 */
#include "core/crontab.h"
#include "core/procconf.h"
#include "util/dotenv.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void parse_dotenv(const char *text)
{
    struct sl_dotenv env = {0};
    struct sl_error err = {0};
    if (sl_dotenv_parse(&env, text, ".env", &err) == 0 && env.count > 0)
        (void)sl_dotenv_get(&env, env.keys[0]);
    sl_dotenv_fini(&env);
}

static void parse_crontab(const char *text)
{
    struct sl_crontab tab = {0};
    struct sl_error err = {0};
    sl_crontab_parse(text, "vercel.json", &tab, &err);
    sl_crontab_fini(&tab);
}

static void parse_procconf(const char *text)
{
    struct sl_procconf pc = {0};
    struct sl_error err = {0};
    sl_procconf_parse(text, "sluice.json", &pc, &err);
    sl_procconf_fini(&pc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0:
        parse_dotenv(text);
        break;
    case 1:
        parse_crontab(text);
        break;
    default:
        parse_procconf(text);
        break;
    }
    free(text);
    return 0;
}
