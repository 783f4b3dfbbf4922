/*
 * dotenv: reads `.env`-style files (KEY=value lines) into a list of pairs.
 *
 * Syntax: blank lines and `#` comments are skipped; an optional `export ` prefix; keys are
 * [A-Za-z_][A-Za-z0-9_]*; values may be bare (trailing spaces and a ` #` comment are cut),
 * single-quoted (taken literally) or double-quoted (\n, \t, \", \\ escapes). A line that does not
 * fit is an SL_ECONFIG error naming the file and line. The list owns its strings.
 */
#ifndef SL_DOTENV_H
#define SL_DOTENV_H

#include "util/err.h"

#include <stddef.h>

struct sl_dotenv {
    char **keys;
    char **values;
    size_t count;
};

/*
 * Parses the file at path into env (which must be zeroed or previously finalised). A missing
 * file is not an error: env stays empty. Returns 0, SL_ECONFIG, SL_EIO or SL_ENOMEM.
 */
int sl_dotenv_load(struct sl_dotenv *env, const char *path, struct sl_error *err);

/* Parses text (named `name` in messages) into env. */
int sl_dotenv_parse(struct sl_dotenv *env, const char *text, const char *name,
                    struct sl_error *err);

/* The value of key, or NULL; the last assignment wins. Borrowed from env. */
const char *sl_dotenv_get(const struct sl_dotenv *env, const char *key);

void sl_dotenv_fini(struct sl_dotenv *env);

#endif
