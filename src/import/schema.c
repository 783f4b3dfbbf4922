#include "import/schema.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const type_names[] = {"string", "integer",  "number", "boolean",
                                         "date",   "datetime", "json"};

static int parse_type(const char *name, enum sl_field_type *out)
{
    for (size_t i = 0; name && i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *out = (enum sl_field_type)i;
            return 0;
        }
    }
    return SL_ECONFIG;
}

static int parse_enum(json_t *list, struct sl_schema_field *f)
{
    size_t n = json_array_size(list);
    f->enum_values = calloc(n ? n : 1, sizeof *f->enum_values);
    if (!f->enum_values)
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(list, i));
        if (!v)
            return SL_ECONFIG;
        if (!(f->enum_values[f->enum_count] = strdup(v)))
            return SL_ENOMEM;
        f->enum_count++;
    }
    return 0;
}

static int parse_field(const char *name, json_t *spec, const char *where, struct sl_schema_field *f,
                       struct sl_error *err)
{
    if (!(f->name = strdup(name)))
        return SL_ENOMEM;
    if (!json_is_object(spec))
        return sl_err_set(err, SL_ECONFIG, "%s.fields.%s must be an object", where, name);
    json_t *type = json_object_get(spec, "type");
    if (!type)
        f->type = SL_FT_STRING;
    else if (parse_type(json_string_value(type), &f->type))
        return sl_err_set(err, SL_ECONFIG,
                          "%s.fields.%s.type must be one of string, integer, number, boolean, "
                          "date, datetime, json",
                          where, name);
    json_t *req = json_object_get(spec, "required");
    if (req && !json_is_boolean(req))
        return sl_err_set(err, SL_ECONFIG, "%s.fields.%s.required must be true or false", where,
                          name);
    f->required = json_is_true(req);
    json_t *en = json_object_get(spec, "enum");
    if (en) {
        int rc = json_is_array(en) ? parse_enum(en, f) : SL_ECONFIG;
        if (rc == SL_ECONFIG)
            return sl_err_set(err, rc, "%s.fields.%s.enum must be an array of strings", where,
                              name);
        if (rc)
            return rc;
    }
    return 0;
}

int sl_schema_parse(json_t *import, const char *where, struct sl_schema *schema,
                    struct sl_error *err)
{
    int rc = 0;
    memset(schema, 0, sizeof *schema);
    if (!json_is_object(import))
        return sl_err_set(err, SL_ECONFIG, "%s must be an object", where);
    json_t *key = json_object_get(import, "key");
    json_t *fields = json_object_get(import, "fields");
    if (key && !json_is_string(key))
        return sl_err_set(err, SL_ECONFIG, "%s.key must be a field name", where);
    if (fields && !json_is_object(fields))
        return sl_err_set(err, SL_ECONFIG, "%s.fields must be an object", where);
    if (key && !(schema->key = strdup(json_string_value(key))))
        return SL_ENOMEM;
    schema->fields = calloc(json_object_size(fields) + 1, sizeof *schema->fields);
    if (!schema->fields)
        rc = SL_ENOMEM;
    const char *name;
    json_t *spec;
    json_object_foreach(fields, name, spec)
    {
        if (rc)
            break;
        rc = parse_field(name, spec, where, &schema->fields[schema->count], err);
        schema->count++;
    }
    if (rc)
        sl_schema_fini(schema);
    return rc;
}

void sl_schema_fini(struct sl_schema *schema)
{
    for (size_t i = 0; i < schema->count; i++) {
        struct sl_schema_field *f = &schema->fields[i];
        free(f->name);
        for (size_t j = 0; j < f->enum_count; j++)
            free(f->enum_values[j]);
        free(f->enum_values);
    }
    free(schema->fields);
    free(schema->key);
    memset(schema, 0, sizeof *schema);
}

const struct sl_schema_field *sl_schema_find(const struct sl_schema *schema, const char *name)
{
    for (size_t i = 0; i < schema->count; i++)
        if (strcmp(schema->fields[i].name, name) == 0)
            return &schema->fields[i];
    return NULL;
}

/* ---- conversion ------------------------------------------------------------------------ */

/* Copies the cell's text without surrounding blanks into buf; 0 when it does not fit. */
static int trimmed(const struct sl_field *c, char *buf, size_t cap)
{
    const char *s = c->value, *e = c->value + c->len;
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    if ((size_t)(e - s) >= cap)
        return 0;
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    return 1;
}

/* 1 when t is a plain decimal: sign, digits, optional fraction and exponent. strtod alone
 * would also take hex ("0x10"), "inf" and "nan", which no spreadsheet column means. */
static int decimal_text(const char *t)
{
    const char *p = t + (*t == '-' || *t == '+');
    int digits = 0;
    for (; isdigit((unsigned char)*p); p++)
        digits++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            digits++;
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p += 1 + (p[1] == '-' || p[1] == '+');
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

static json_t *to_integer(const char *t)
{
    if (!decimal_text(t))
        return NULL;
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (*t && !*end && !errno)
        return json_integer(v);
    double d = strtod(t, &end); /* sheets store 12 as "12" but sometimes as "12.0" */
    if (*t && !*end && isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    return NULL;
}

static json_t *to_number(const char *t)
{
    if (!decimal_text(t))
        return NULL;
    char *end;
    double d = strtod(t, &end);
    return *t && !*end && isfinite(d) ? json_real(d) : NULL;
}

static json_t *to_boolean(const char *t)
{
    static const char *const yes[] = {"true", "1", "yes", "y"}, *const no[] = {"false", "0", "no",
                                                                               "n"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(t, yes[i]) == 0)
            return json_true();
        if (strcasecmp(t, no[i]) == 0)
            return json_false();
    }
    return NULL;
}

static json_t *to_date(const char *t)
{
    int64_t ms;
    char iso[SL_ISO_MAX];
    if (strlen(t) != 10)
        return NULL;
    char buf[32];
    snprintf(buf, sizeof buf, "%.10sT00:00:00Z", t);
    if (sl_parse_iso8601(buf, &ms))
        return NULL;
    sl_iso8601(ms, iso);
    iso[10] = '\0';
    return json_string(iso);
}

static json_t *to_datetime(const char *t)
{
    int64_t ms;
    char iso[SL_ISO_MAX], buf[48];
    if (strlen(t) == 10) { /* a date alone is its midnight, UTC */
        snprintf(buf, sizeof buf, "%.10sT00:00:00Z", t);
        t = buf;
    }
    if (sl_parse_iso8601(t, &ms))
        return NULL;
    sl_iso8601(ms, iso);
    return json_string(iso);
}

json_t *sl_schema_raw(const struct sl_field *c)
{
    switch (c->kind) {
    case SL_CELL_EMPTY:
        return json_null();
    case SL_CELL_BOOL:
        return json_boolean(c->len == 4 && memcmp(c->value, "true", 4) == 0);
    case SL_CELL_NUMBER: {
        json_t *n = json_loadb(c->value, c->len, JSON_DECODE_ANY, NULL);
        if (json_is_number(n))
            return n;
        json_decref(n);
        return json_stringn(c->value, c->len);
    }
    case SL_CELL_JSON: {
        json_t *j = json_loadb(c->value, c->len, JSON_DECODE_ANY, NULL);
        return j ? j : json_stringn(c->value, c->len);
    }
    default:
        return json_stringn(c->value, c->len);
    }
}

static int fail(char *why, size_t cap, const char *msg)
{
    snprintf(why, cap, "%s", msg);
    return SL_EINVALID;
}

static int check_enum(const struct sl_schema_field *f, const struct sl_field *c, char *why,
                      size_t cap)
{
    if (!f->enum_values)
        return 0;
    for (size_t i = 0; i < f->enum_count; i++)
        if (strlen(f->enum_values[i]) == c->len && memcmp(f->enum_values[i], c->value, c->len) == 0)
            return 0;
    return fail(why, cap, "is not one of the allowed values");
}

int sl_schema_convert(const struct sl_schema_field *f, const struct sl_field *c, json_t **out,
                      char *why, size_t cap)
{
    char t[128];
    *out = NULL;
    if (c->kind == SL_CELL_EMPTY || c->len == 0) {
        if (f->required)
            return fail(why, cap, "is required");
        *out = json_null();
        return 0;
    }
    if (check_enum(f, c, why, cap))
        return SL_EINVALID;
    if (f->type == SL_FT_STRING || f->type == SL_FT_JSON) {
        *out = f->type == SL_FT_STRING ? json_stringn(c->value, c->len)
                                       : json_loadb(c->value, c->len, JSON_DECODE_ANY, NULL);
        return *out ? 0
                    : fail(why, cap,
                           f->type == SL_FT_STRING ? "is not valid UTF-8" : "is not valid JSON");
    }
    if (!trimmed(c, t, sizeof t))
        return fail(why, cap, "is too long for its type");
    switch (f->type) {
    case SL_FT_INTEGER:
        *out = to_integer(t);
        return *out ? 0 : fail(why, cap, "is not an integer");
    case SL_FT_NUMBER:
        *out = to_number(t);
        return *out ? 0 : fail(why, cap, "is not a number");
    case SL_FT_BOOLEAN:
        *out = to_boolean(t);
        return *out ? 0 : fail(why, cap, "is not a boolean (true/false, yes/no, 1/0)");
    case SL_FT_DATE:
        *out = to_date(t);
        return *out ? 0 : fail(why, cap, "is not a date (YYYY-MM-DD)");
    default:
        *out = to_datetime(t);
        return *out ? 0 : fail(why, cap, "is not an ISO 8601 date-time");
    }
}
