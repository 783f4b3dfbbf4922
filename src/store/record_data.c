/*
 * record_data: a record's data as an object or as values under a column list (record_data.h).
 */
#include "store/record_data.h"

#include <stdlib.h>
#include <string.h>

struct sl_record_cols {
    size_t count;
    char **names; /* each `"name":`, ready to write */
};

static size_t skip_space(const char *s, size_t i)
{
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    return i;
}

/* The end of the value starting at s[i] (a string, a nested object or array, or a scalar),
 * without checking more of its grammar than where it ends. 0 when it does not end. */
static size_t value_end(const char *s, size_t i)
{
    int depth = 0, in_string = 0;
    for (; s[i]; i++) {
        char ch = s[i];
        if (in_string) {
            if (ch == '\\' && s[i + 1])
                i++;
            else if (ch == '"')
                in_string = 0;
            if (!in_string && depth == 0)
                return i + 1;
            continue;
        }
        if (ch == '"')
            in_string = 1;
        else if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return i; /* a scalar ended by the array's close */
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (ch == ',' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'))
            return i;
    }
    return 0;
}

int sl_json_array_next(const char *s, size_t *pos, size_t *start, size_t *end)
{
    size_t i = skip_space(s, *pos);
    if (*pos == 0) {
        if (s[i] != '[')
            return SL_EINVALID;
        i = skip_space(s, i + 1);
        if (s[i] == ']') {
            *pos = i + 1;
            return 0;
        }
    } else if (s[i] == ',') {
        i = skip_space(s, i + 1);
    } else if (s[i] == ']') {
        *pos = i; /* stays at the end */
        return 0;
    } else {
        return SL_EINVALID;
    }
    size_t e = value_end(s, i);
    if (e == 0 || e == i)
        return SL_EINVALID;
    *start = i;
    *end = e;
    *pos = e;
    /* what follows must be `,` or `]` */
    size_t next = skip_space(s, e);
    return s[next] == ',' || s[next] == ']' ? 1 : SL_EINVALID;
}

void sl_record_cols_free(struct sl_record_cols *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->count; i++)
        free(c->names[i]);
    free(c->names);
    free(c);
}

int sl_record_cols_new(const char *json, struct sl_record_cols **out)
{
    struct sl_record_cols *c = calloc(1, sizeof *c);
    size_t pos = 0, a, b, cap = 0;
    int rc;
    *out = NULL;
    if (!c)
        return SL_ENOMEM;
    while ((rc = sl_json_array_next(json, &pos, &a, &b)) == 1) {
        if (json[a] != '"') {
            rc = SL_EINVALID;
            break;
        }
        if (c->count == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(c->names, cap * sizeof *grown);
            if (!grown) {
                rc = SL_ENOMEM;
                break;
            }
            c->names = grown;
        }
        char *name = malloc(b - a + 2);
        if (!name) {
            rc = SL_ENOMEM;
            break;
        }
        memcpy(name, json + a, b - a);
        memcpy(name + (b - a), ":", 2);
        c->names[c->count++] = name;
    }
    if (rc != 0) {
        sl_record_cols_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int sl_record_data_expand(const struct sl_record_cols *cols, const char *data, struct sl_buf *out)
{
    size_t i = skip_space(data, 0);
    if (data[i] == '{')
        return sl_buf_puts(out, data);
    if (data[i] != '[' || !cols)
        return SL_EINVALID;
    size_t pos = 0, a, b, n = 0;
    int rc = sl_buf_putc(out, '{'), more;
    while (rc == 0 && (more = sl_json_array_next(data, &pos, &a, &b)) == 1) {
        if (n == cols->count)
            return SL_EINVALID;
        if ((n > 0 && (rc = sl_buf_putc(out, ',')) != 0) ||
            (rc = sl_buf_puts(out, cols->names[n])) != 0 ||
            (rc = sl_buf_append(out, data + a, b - a)) != 0)
            return rc;
        n++;
    }
    if (rc == 0 && more < 0)
        return more;
    return rc ? rc : sl_buf_putc(out, '}');
}
