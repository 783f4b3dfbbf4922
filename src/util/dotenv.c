#include "util/dotenv.h"
#include "util/fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOTENV_MAX_BYTES (1 << 20) /* a configuration file, not a data file */

static int add(struct sl_dotenv *env, const char *key, size_t klen, const char *val, size_t vlen)
{
    char **keys = realloc(env->keys, (env->count + 1) * sizeof *keys);
    if (!keys)
        return SL_ENOMEM;
    env->keys = keys;
    char **values = realloc(env->values, (env->count + 1) * sizeof *values);
    if (!values)
        return SL_ENOMEM;
    env->values = values;
    char *k = strndup(key, klen), *v = strndup(val, vlen);
    if (!k || !v) {
        free(k);
        free(v);
        return SL_ENOMEM;
    }
    env->keys[env->count] = k;
    env->values[env->count] = v;
    env->count++;
    return 0;
}

/* Unescapes a double-quoted value in place from src[0..len) into dst; returns the new length. */
static size_t unescape(char *dst, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < len) {
            char e = src[++i];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
        }
        dst[o++] = c;
    }
    return o;
}

/* Parses one line (no newline) of file name at number lineno. */
static int parse_line(struct sl_dotenv *env, char *line, const char *name, int lineno,
                      struct sl_error *err)
{
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    if (strncmp(p, "export ", 7) == 0)
        p += 7;
    char *key = p;
    if (!(isalpha((unsigned char)*p) || *p == '_'))
        return sl_err_set(err, SL_ECONFIG, "%s:%d: expected KEY=value", name, lineno);
    while (isalnum((unsigned char)*p) || *p == '_')
        p++;
    size_t klen = (size_t)(p - key);
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '=')
        return sl_err_set(err, SL_ECONFIG, "%s:%d: expected '=' after %.*s", name, lineno,
                          (int)klen, key);
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        char *end = p;
        while (*end && *end != q) {
            if (q == '"' && *end == '\\' && end[1])
                end++; /* an escaped character, possibly the quote */
            end++;
        }
        if (*end != q)
            return sl_err_set(err, SL_ECONFIG, "%s:%d: unterminated quoted value of %.*s", name,
                              lineno, (int)klen, key);
        size_t vlen = (size_t)(end - p);
        if (q == '"')
            vlen = unescape(p, p, vlen);
        return add(env, key, klen, p, vlen);
    }
    char *end = p;
    while (*end && !(*end == '#' && end > p && (end[-1] == ' ' || end[-1] == '\t')))
        end++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    return add(env, key, klen, p, (size_t)(end - p));
}

int sl_dotenv_parse(struct sl_dotenv *env, const char *text, const char *name, struct sl_error *err)
{
    char *copy = strdup(text);
    if (!copy)
        return SL_ENOMEM;
    int rc = 0, lineno = 0;
    char *save = copy;
    for (char *line = copy; line && rc == 0; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r')
            line[n - 1] = '\0';
        rc = parse_line(env, line, name, ++lineno, err);
    }
    free(copy);
    return rc;
}

int sl_dotenv_load(struct sl_dotenv *env, const char *path, struct sl_error *err)
{
    char *text;
    int rc = sl_read_config_file(path, DOTENV_MAX_BYTES, &text, err);
    if (rc == SL_ENOT_FOUND)
        return 0;
    if (rc == 0)
        rc = sl_dotenv_parse(env, text, path, err);
    free(text);
    return rc;
}

const char *sl_dotenv_get(const struct sl_dotenv *env, const char *key)
{
    for (size_t i = env->count; i > 0; i--)
        if (strcmp(env->keys[i - 1], key) == 0)
            return env->values[i - 1];
    return NULL;
}

void sl_dotenv_fini(struct sl_dotenv *env)
{
    for (size_t i = 0; i < env->count; i++) {
        free(env->keys[i]);
        free(env->values[i]);
    }
    free(env->keys);
    free(env->values);
    env->keys = env->values = NULL;
    env->count = 0;
}
