/*
 * test_schema: the import schemas of sluice.json (src/import/schema.h): sl_schema_parse on the
 * contract's example and on every kind of configuration mistake (each message must name the
 * place), sl_schema_convert for every field type with good and bad values, `required` and
 * `enum`, and sl_schema_raw (the value a cell stores without a schema) for every cell kind.
 *
 * Converted values are compared as compact JSON text (so an integer must be "42", not "42.0"),
 * except numbers, which are compared by value.
 */
#include "testutil.h"

#include "import/reader.h"
#include "import/schema.h"

#include <jansson.h>
#include <math.h>

#define WHERE "sluice.json: processors.machines.import"

/* The contract's `machines` schema. */
static const char machines[] =
    "{\"key\": \"internalCode\","
    " \"fields\": {\"internalCode\": {\"type\": \"string\"},"
    "            \"name\": {\"type\": \"string\", \"required\": true},"
    "            \"year\": {\"type\": \"integer\"},"
    "            \"kind\": {\"type\": \"string\", \"enum\": [\"preventive\", \"corrective\"]},"
    "            \"properties\": {\"type\": \"json\"}}}";

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

/* Parses the JSON text `import` as the "import" object at WHERE. */
static int parse(const char *import, struct sl_schema *s, struct sl_error *err)
{
    json_error_t jerr;
    json_t *j = json_loads(import, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("test input is not JSON: %s (%s)", import, jerr.text);
    int rc = sl_schema_parse(j, WHERE, s, err);
    json_decref(j);
    return rc;
}

/* Fails unless text contains part. */
static void check_contains(const char *text, const char *part)
{
    if (!text || !strstr(text, part))
        fail_msg("'%s' does not contain '%s'", text ? text : "(null)", part);
}

/* Parsing import must fail with SL_ECONFIG and a message naming `place` (and what is wrong). */
static void check_parse_error(const char *import, const char *place, const char *what)
{
    struct sl_schema s;
    struct sl_error err = {0};
    memset(&s, 0, sizeof s);
    int rc = parse(import, &s, &err);
    if (rc != SL_ECONFIG) {
        sl_schema_fini(&s);
        fail_msg("parsing %s returned %d (%s), expected invalid_config", import, rc, err.msg);
    }
    check_contains(err.msg, place);
    check_contains(err.msg, what);
    sl_schema_fini(&s); /* harmless on a failed parse; must not double-free */
}

static struct sl_schema_field field(enum sl_field_type type, int required)
{
    return (struct sl_schema_field){.name = (char *)"f", .type = type, .required = required};
}

/* Converts value[0..len) of kind for f; on success the value's compact JSON text goes to *text
 * (heap), on failure why holds the reason. Checks the output conventions either way. */
static int convert_n(const struct sl_schema_field *f, enum sl_cell_kind kind, const char *value,
                     size_t len, char **text, char why[128])
{
    struct sl_field cell = {.name = f->name, .value = value, .len = len, .kind = kind};
    json_t *out = (json_t *)&cell; /* must be overwritten */
    why[0] = '\0';
    *text = NULL;
    int rc = sl_schema_convert(f, &cell, &out, why, 128);
    if (rc == 0) {
        if (!out)
            fail_msg("converting '%s' succeeded without a value", value);
        *text = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        assert_non_null(*text);
        json_decref(out);
    } else {
        if (rc != SL_EINVALID)
            fail_msg("converting '%s' returned %d, expected 0 or SL_EINVALID", value, rc);
        if (out)
            fail_msg("converting '%s' failed (%s) but left a value", value, why);
        if (!why[0])
            fail_msg("converting '%s' failed without saying why", value);
    }
    return rc;
}

static void ok_at(int line, const struct sl_schema_field *f, enum sl_cell_kind kind,
                  const char *value, size_t len, const char *want)
{
    char why[128], *text;
    if (convert_n(f, kind, value, len, &text, why) != 0)
        fail_msg("line %d: converting '%s' failed: %s; expected %s", line, value, why, want);
    if (strcmp(text, want) != 0) {
        char got[256];
        snprintf(got, sizeof got, "%s", text);
        free(text);
        fail_msg("line %d: '%s' converted to %s, expected %s", line, value, got, want);
    }
    free(text);
}

static void bad_at(int line, const struct sl_schema_field *f, enum sl_cell_kind kind,
                   const char *value, size_t len, const char *why_part)
{
    char why[128], *text;
    if (convert_n(f, kind, value, len, &text, why) == 0) {
        char got[256];
        snprintf(got, sizeof got, "%s", text);
        free(text);
        fail_msg("line %d: '%s' converted to %s, expected an error (%s)", line, value, got,
                 why_part);
    }
    if (why_part && !strstr(why, why_part))
        fail_msg("line %d: '%s' failed with '%s', expected a reason containing '%s'", line, value,
                 why, why_part);
}

/* A text cell that converts to the JSON text want / fails with a reason containing why_part. */
#define check_ok(f, value, want)  ok_at(__LINE__, f, SL_CELL_TEXT, value, strlen(value), want)
#define check_bad(f, value, why)  bad_at(__LINE__, f, SL_CELL_TEXT, value, strlen(value), why)
#define check_ok_k(f, k, v, want) ok_at(__LINE__, f, k, v, strlen(v), want)
#define check_bad_k(f, k, v, why) bad_at(__LINE__, f, k, v, strlen(v), why)

/* A number field's value must be a JSON number equal to want. */
static void number_at(int line, const struct sl_schema_field *f, const char *value, double want)
{
    struct sl_field cell = {
        .name = f->name, .value = value, .len = strlen(value), .kind = SL_CELL_TEXT};
    json_t *out = NULL;
    char why[128] = "";
    int rc = sl_schema_convert(f, &cell, &out, why, sizeof why);
    if (rc != 0)
        fail_msg("line %d: '%s' is not a number: %s", line, value, why);
    int is_number = json_is_number(out);
    double got = json_number_value(out);
    json_decref(out);
    if (!is_number)
        fail_msg("line %d: '%s' did not convert to a JSON number", line, value);
    if (got != want)
        fail_msg("line %d: '%s' converted to %.17g, expected %.17g", line, value, got, want);
}
#define check_number(f, value, want) number_at(__LINE__, f, value, want)

/* sl_schema_raw of a cell: its compact JSON text, or NULL. */
static char *raw_text(enum sl_cell_kind kind, const char *value, size_t len)
{
    struct sl_field cell = {.name = "c", .value = value, .len = len, .kind = kind};
    json_t *v = sl_schema_raw(&cell);
    if (!v)
        return NULL;
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(v);
    assert_non_null(text);
    return text;
}

static void raw_at(int line, enum sl_cell_kind kind, const char *value, size_t len,
                   const char *want)
{
    char *got = raw_text(kind, value, len);
    if (!want && got) {
        char g[256];
        snprintf(g, sizeof g, "%s", got);
        free(got);
        fail_msg("line %d: raw '%s' is %s, expected NULL", line, value, g);
    }
    if (want && !got)
        fail_msg("line %d: raw '%s' is NULL, expected %s", line, value, want);
    if (want && strcmp(got, want) != 0) {
        char g[256];
        snprintf(g, sizeof g, "%s", got);
        free(got);
        fail_msg("line %d: raw '%s' is %s, expected %s", line, value, g, want);
    }
    free(got);
}
#define check_raw(kind, value, want) raw_at(__LINE__, kind, value, strlen(value), want)

/* ---------------------------------------------------------------------------------------------
 * sl_schema_parse
 */

static void test_parse_contract_example(void **state)
{
    (void)state;
    struct sl_schema s;
    struct sl_error err = {0};
    check_rc(parse(machines, &s, &err), 0, &err);
    check_str(s.key, "internalCode");
    check_i64(s.count, 5);

    const struct sl_schema_field *f = sl_schema_find(&s, "internalCode");
    assert_non_null(f);
    check_str(f->name, "internalCode");
    assert_int_equal(f->type, SL_FT_STRING);
    assert_false(f->required);
    assert_null(f->enum_values);

    f = sl_schema_find(&s, "name");
    assert_non_null(f);
    assert_int_equal(f->type, SL_FT_STRING);
    assert_true(f->required);

    f = sl_schema_find(&s, "year");
    assert_non_null(f);
    assert_int_equal(f->type, SL_FT_INTEGER);
    assert_false(f->required);

    f = sl_schema_find(&s, "kind");
    assert_non_null(f);
    assert_int_equal(f->type, SL_FT_STRING);
    check_i64(f->enum_count, 2);
    assert_non_null(f->enum_values);
    check_str(f->enum_values[0], "preventive");
    check_str(f->enum_values[1], "corrective");

    f = sl_schema_find(&s, "properties");
    assert_non_null(f);
    assert_int_equal(f->type, SL_FT_JSON);

    assert_null(sl_schema_find(&s, "site"));
    assert_null(sl_schema_find(&s, "Name")); /* names are case-sensitive */
    sl_schema_fini(&s);
    assert_null(s.key);
    assert_null(s.fields);
    check_i64(s.count, 0);
}

static void test_parse_every_type(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum sl_field_type type;
    } types[] = {
        {"string", SL_FT_STRING},   {"integer", SL_FT_INTEGER}, {"number", SL_FT_NUMBER},
        {"boolean", SL_FT_BOOLEAN}, {"date", SL_FT_DATE},       {"datetime", SL_FT_DATETIME},
        {"json", SL_FT_JSON},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char text[200];
        struct sl_schema s;
        struct sl_error err = {0};
        snprintf(text, sizeof text,
                 "{\"fields\": {\"x\": {\"type\": \"%s\", \"required\": false}}}", types[i].name);
        check_rc(parse(text, &s, &err), 0, &err);
        assert_null(s.key);
        check_i64(s.count, 1);
        const struct sl_schema_field *f = sl_schema_find(&s, "x");
        assert_non_null(f);
        if (f->type != types[i].type)
            fail_msg("type '%s' parsed as %d, expected %d", types[i].name, (int)f->type,
                     (int)types[i].type);
        assert_false(f->required);
        sl_schema_fini(&s);
    }
}

static void test_parse_defaults(void **state)
{
    (void)state;
    struct sl_schema s;
    struct sl_error err = {0};

    /* no key, no fields: an import "as is" with every column kept */
    check_rc(parse("{}", &s, &err), 0, &err);
    assert_null(s.key);
    check_i64(s.count, 0);
    assert_null(sl_schema_find(&s, "anything"));
    sl_schema_fini(&s);

    /* a field without a type is a string; not required; any value goes */
    check_rc(parse("{\"key\": \"code\", \"fields\": {\"code\": {}}}", &s, &err), 0, &err);
    check_str(s.key, "code");
    const struct sl_schema_field *f = sl_schema_find(&s, "code");
    assert_non_null(f);
    assert_int_equal(f->type, SL_FT_STRING);
    assert_false(f->required);
    assert_null(f->enum_values);
    sl_schema_fini(&s);

    /* the key field need not be described: it is then a plain string column */
    check_rc(parse("{\"key\": \"sku\", \"fields\": {\"qty\": {\"type\": \"integer\"}}}", &s, &err),
             0, &err);
    check_str(s.key, "sku");
    assert_null(sl_schema_find(&s, "sku"));
    sl_schema_fini(&s);

    /* an empty enum is a valid (if useless) list */
    check_rc(parse("{\"fields\": {\"k\": {\"enum\": []}}}", &s, &err), 0, &err);
    sl_schema_fini(&s);
}

static void test_parse_errors_name_the_place(void **state)
{
    (void)state;
    /* the import object itself */
    check_parse_error("[]", WHERE, "object");
    check_parse_error("\"machines\"", WHERE, "object");
    /* key */
    check_parse_error("{\"key\": 5}", WHERE ".key", "key");
    /* fields not an object */
    check_parse_error("{\"fields\": []}", WHERE ".fields", "object");
    check_parse_error("{\"fields\": \"name,year\"}", WHERE ".fields", "object");
    /* a field's spec not an object */
    check_parse_error("{\"fields\": {\"year\": \"integer\"}}", WHERE ".fields.year", "object");
    /* bad type names */
    check_parse_error("{\"fields\": {\"year\": {\"type\": \"int\"}}}", WHERE ".fields.year.type",
                      "integer");
    check_parse_error("{\"fields\": {\"year\": {\"type\": \"Integer\"}}}",
                      WHERE ".fields.year.type", "string");
    check_parse_error("{\"fields\": {\"year\": {\"type\": 5}}}", WHERE ".fields.year.type",
                      "datetime");
    check_parse_error("{\"fields\": {\"year\": {\"type\": null}}}", WHERE ".fields.year.type",
                      "json");
    /* required not a boolean */
    check_parse_error("{\"fields\": {\"name\": {\"required\": \"yes\"}}}",
                      WHERE ".fields.name.required", "required");
    check_parse_error("{\"fields\": {\"name\": {\"required\": 1}}}", WHERE ".fields.name.required",
                      "required");
    /* enum not an array of strings */
    check_parse_error("{\"fields\": {\"kind\": {\"enum\": \"preventive\"}}}",
                      WHERE ".fields.kind.enum", "array");
    check_parse_error("{\"fields\": {\"kind\": {\"enum\": [1, 2]}}}", WHERE ".fields.kind.enum",
                      "string");
    check_parse_error("{\"fields\": {\"kind\": {\"enum\": [\"a\", \"b\", null]}}}",
                      WHERE ".fields.kind.enum", "string");
    check_parse_error("{\"fields\": {\"kind\": {\"enum\": {\"a\": 1}}}}", WHERE ".fields.kind.enum",
                      "array");
    /* the error is found after good fields were already read (they must be released) */
    check_parse_error("{\"key\": \"a\", \"fields\": {\"a\": {\"type\": \"string\", \"enum\": "
                      "[\"x\", \"y\"]}, \"b\": {\"type\": \"number\"}, \"c\": {\"type\": "
                      "\"float\"}}}",
                      WHERE ".fields.c.type", "number");
}

/* ---------------------------------------------------------------------------------------------
 * sl_schema_convert
 */

static void test_convert_string(void **state)
{
    (void)state;
    struct sl_schema_field f = field(SL_FT_STRING, 0);
    check_ok(&f, "hello", "\"hello\"");
    check_ok(&f, "Grüße, 東京", "\"Grüße, 東京\"");
    check_ok(&f, "42", "\"42\""); /* text stays text */
    check_ok(&f, "a \"quoted\" word", "\"a \\\"quoted\\\" word\"");
    check_ok_k(&f, SL_CELL_NUMBER, "1.5", "\"1.5\"");
    check_ok_k(&f, SL_CELL_BOOL, "true", "\"true\"");
    /* only len bytes count */
    ok_at(__LINE__, &f, SL_CELL_TEXT, "abcdef", 3, "\"abc\"");
    /* invalid UTF-8 is a row error, not a stored value */
    check_bad(&f, "caf\xe9", "UTF-8");
    check_bad(&f, "\xff\xfe", "UTF-8");
    check_bad(&f, "\xc3", "UTF-8"); /* truncated sequence */
    /* empty: null when optional, an error when required */
    check_ok(&f, "", "null");
    check_ok_k(&f, SL_CELL_EMPTY, "", "null");
    struct sl_schema_field req = field(SL_FT_STRING, 1);
    check_ok(&req, "x", "\"x\"");
    check_bad(&req, "", "is required");
    check_bad_k(&req, SL_CELL_EMPTY, "", "is required");
}

static void test_convert_integer(void **state)
{
    (void)state;
    struct sl_schema_field f = field(SL_FT_INTEGER, 0);
    check_ok(&f, "42", "42");
    check_ok(&f, " 7 ", "7");
    check_ok(&f, "-3", "-3");
    check_ok(&f, "0", "0");
    check_ok(&f, "12.0", "12");
    check_ok(&f, "9223372036854775807", "9223372036854775807");
    check_ok_k(&f, SL_CELL_NUMBER, "2019", "2019"); /* a sheet's or JSON's number */
    check_ok_k(&f, SL_CELL_NUMBER, "2019.0", "2019");
    ok_at(__LINE__, &f, SL_CELL_TEXT, "42abc", 2, "42"); /* only len bytes count */

    check_bad(&f, "1.5", "integer");
    check_bad(&f, "abc", "integer");
    check_bad(&f, "12abc", "integer");
    check_bad(&f, "1 2", "integer");
    check_bad(&f, "-", "integer");
    check_bad(&f, "99999999999999999999", "integer"); /* does not fit */
    check_bad(&f, "nan", "integer");
    check_bad(&f, "inf", "integer");
    check_bad_k(&f, SL_CELL_BOOL, "true", "integer");

    check_ok(&f, "", "null");
    check_ok_k(&f, SL_CELL_EMPTY, "", "null");
    struct sl_schema_field req = field(SL_FT_INTEGER, 1);
    check_ok(&req, "1", "1");
    check_bad(&req, "", "is required");
    check_bad_k(&req, SL_CELL_EMPTY, "", "is required");
}

static void test_convert_number(void **state)
{
    (void)state;
    struct sl_schema_field f = field(SL_FT_NUMBER, 0);
    check_number(&f, "3.25", 3.25);
    check_number(&f, "-0.5", -0.5);
    check_number(&f, "42", 42.0);
    check_number(&f, " 2.5 ", 2.5);
    check_number(&f, "1e3", 1000.0);
    check_number(&f, "-1.5E-2", -0.015);
    check_number(&f, "6.02e23", 6.02e23);

    check_bad(&f, "abc", "number");
    check_bad(&f, "1.2.3", "number");
    check_bad(&f, "1,5", "number");
    check_bad(&f, "12 kg", "number");
    check_bad(&f, "nan", "number");
    check_bad(&f, "inf", "number");
    check_bad(&f, "1e999", "number"); /* not finite */

    check_ok(&f, "", "null");
    struct sl_schema_field req = field(SL_FT_NUMBER, 1);
    check_bad(&req, "", "is required");
}

static void test_convert_boolean(void **state)
{
    (void)state;
    struct sl_schema_field f = field(SL_FT_BOOLEAN, 0);
    static const char *const yes[] = {"true", "TRUE", "True", "yes", "YES",
                                      "Yes",  "y",    "Y",    "1",   " true "};
    static const char *const no[] = {"false", "FALSE", "False", "no", "NO",
                                     "No",    "n",     "N",     "0",  " no "};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        check_ok(&f, yes[i], "true");
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        check_ok(&f, no[i], "false");
    check_ok_k(&f, SL_CELL_BOOL, "true", "true");
    check_ok_k(&f, SL_CELL_BOOL, "false", "false");

    check_bad(&f, "maybe", "boolean");
    check_bad(&f, "2", "boolean");
    check_bad(&f, "tru", "boolean");
    check_bad(&f, "yess", "boolean");
    check_bad(&f, "-1", "boolean");

    check_ok(&f, "", "null");
    struct sl_schema_field req = field(SL_FT_BOOLEAN, 1);
    check_ok(&req, "0", "false"); /* false is a value, not an empty one */
    check_bad(&req, "", "is required");
}

static void test_convert_date(void **state)
{
    (void)state;
    struct sl_schema_field f = field(SL_FT_DATE, 0);
    check_ok(&f, "2026-11-30", "\"2026-11-30\"");
    check_ok(&f, " 2026-01-01 ", "\"2026-01-01\"");
    check_ok(&f, "2028-02-29", "\"2028-02-29\""); /* a leap year */
    check_ok(&f, "2000-02-29", "\"2000-02-29\""); /* divisible by 400 */
    check_ok(&f, "1999-12-31", "\"1999-12-31\"");
    check_ok_k(&f, SL_CELL_DATE, "2026-11-30", "\"2026-11-30\"");

    check_bad(&f, "2026-02-29", "date"); /* not a leap year */
    check_bad(&f, "1900-02-29", "date"); /* divisible by 100, not 400 */
    check_bad(&f, "2026-11-31", "date");
    check_bad(&f, "2026-13-01", "date");
    check_bad(&f, "2026-00-10", "date");
    check_bad(&f, "2026-01-00", "date");
    check_bad(&f, "30/11/2026", "date");
    check_bad(&f, "2026-1-5", "date");
    check_bad(&f, "20261130", "date");
    check_bad(&f, "yesterday", "date");

    check_ok(&f, "", "null");
    struct sl_schema_field req = field(SL_FT_DATE, 1);
    check_bad(&req, "", "is required");
}

static void test_convert_datetime(void **state)
{
    (void)state;
    struct sl_schema_field f = field(SL_FT_DATETIME, 0);
    /* every accepted form comes out as "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    check_ok(&f, "2026-11-30T07:39:11Z", "\"2026-11-30T07:39:11.000Z\"");
    check_ok(&f, "2026-11-30T07:39:11.123Z", "\"2026-11-30T07:39:11.123Z\"");
    check_ok(&f, "2026-11-30T07:39:11+00:00", "\"2026-11-30T07:39:11.000Z\"");
    check_ok(&f, "2026-11-30T07:39:11.5+00:00", "\"2026-11-30T07:39:11.500Z\"");
    check_ok(&f, "2026-11-30T07:39:11", "\"2026-11-30T07:39:11.000Z\""); /* no zone: UTC */
    check_ok(&f, "2026-11-30", "\"2026-11-30T00:00:00.000Z\"");          /* its midnight */
    check_ok(&f, "2028-02-29", "\"2028-02-29T00:00:00.000Z\"");
    check_ok(&f, " 2026-11-30T07:39:11Z ", "\"2026-11-30T07:39:11.000Z\"");
    check_ok_k(&f, SL_CELL_DATE, "2026-11-30T07:39:11Z", "\"2026-11-30T07:39:11.000Z\"");

    check_bad(&f, "2026-02-29T10:00:00Z", "date-time");
    check_bad(&f, "2026-11-30T25:00:00Z", "date-time");
    check_bad(&f, "2026-11-30T07:60:00Z", "date-time");
    check_bad(&f, "2026-02-29", "date-time");
    check_bad(&f, "yesterday", "date-time");
    check_bad(&f, "2026-11-30T07:39:11Zjunk", "date-time");
    check_bad(&f, "1732952351", "date-time");

    /* another offset is either converted to UTC or refused, never stored as if it were UTC */
    char why[128], *text;
    if (convert_n(&f, SL_CELL_TEXT, "2026-11-30T07:39:11+02:00", 25, &text, why) == 0) {
        char got[128];
        snprintf(got, sizeof got, "%s", text);
        free(text);
        check_str(got, "\"2026-11-30T05:39:11.000Z\"");
    }

    check_ok(&f, "", "null");
    struct sl_schema_field req = field(SL_FT_DATETIME, 1);
    check_bad(&req, "", "is required");
}

static void test_convert_json(void **state)
{
    (void)state;
    struct sl_schema_field f = field(SL_FT_JSON, 0);
    check_ok(&f, "{\"power\": 5, \"tags\": [\"a\", \"b\"]}",
             "{\"power\":5,\"tags\":[\"a\",\"b\"]}");
    check_ok(&f, "[1, 2, 3]", "[1,2,3]");
    check_ok(&f, "42", "42");
    check_ok(&f, "\"text\"", "\"text\"");
    check_ok(&f, "true", "true");
    check_ok(&f, " {\"a\": null} ", "{\"a\":null}");
    check_ok_k(&f, SL_CELL_JSON, "{\"nested\":{\"x\":1}}", "{\"nested\":{\"x\":1}}");

    check_bad(&f, "{power: 5}", "JSON");
    check_bad(&f, "{\"a\": 1", "JSON");
    check_bad(&f, "[1, 2,]", "JSON");
    check_bad(&f, "text", "JSON");
    check_bad(&f, "{\"a\": 1} extra", "JSON");

    check_ok(&f, "", "null");
    struct sl_schema_field req = field(SL_FT_JSON, 1);
    check_bad(&req, "", "is required");
}

static void test_convert_enum(void **state)
{
    (void)state;
    char *kinds[] = {"preventive", "corrective"};
    struct sl_schema_field f = {
        .name = "kind", .type = SL_FT_STRING, .enum_values = kinds, .enum_count = 2};
    check_ok(&f, "preventive", "\"preventive\"");
    check_ok(&f, "corrective", "\"corrective\"");
    check_bad(&f, "other", "allowed");
    check_bad(&f, "Preventive", "allowed"); /* compared as text */
    check_bad(&f, "prevent", "allowed");
    check_bad(&f, "preventive2", "allowed");
    ok_at(__LINE__, &f, SL_CELL_TEXT, "preventive2", 10, "\"preventive\"");
    check_ok(&f, "", "null"); /* an empty optional value is not checked against the list */

    f.required = 1;
    check_bad(&f, "", "is required");
    check_ok(&f, "corrective", "\"corrective\"");

    /* an enum on another type is compared as text, then converted */
    char *levels[] = {"1", "2", "3"};
    struct sl_schema_field lv = {
        .name = "level", .type = SL_FT_INTEGER, .enum_values = levels, .enum_count = 3};
    check_ok(&lv, "2", "2");
    check_bad(&lv, "4", NULL);

    /* an empty list allows nothing but empty optional values */
    struct sl_schema_field none = {
        .name = "x", .type = SL_FT_STRING, .enum_values = kinds, .enum_count = 0};
    check_bad(&none, "preventive", "allowed");
    check_ok(&none, "", "null");
}

static void test_convert_parsed_schema(void **state)
{
    (void)state;
    /* conversion through a schema as sluice.json gives it */
    struct sl_schema s;
    struct sl_error err = {0};
    check_rc(parse(machines, &s, &err), 0, &err);
    const struct sl_schema_field *name = sl_schema_find(&s, "name");
    const struct sl_schema_field *year = sl_schema_find(&s, "year");
    const struct sl_schema_field *kind = sl_schema_find(&s, "kind");
    const struct sl_schema_field *props = sl_schema_find(&s, "properties");
    assert_non_null(name);
    assert_non_null(year);
    assert_non_null(kind);
    assert_non_null(props);
    check_ok(name, "Press", "\"Press\"");
    check_bad(name, "", "is required");
    check_ok(year, "2019", "2019");
    check_bad(year, "20x9", "integer");
    check_ok(kind, "corrective", "\"corrective\"");
    check_bad(kind, "urgent", "allowed");
    check_ok(props, "{\"power\":5}", "{\"power\":5}");
    check_bad(props, "{power}", "JSON");
    sl_schema_fini(&s);
}

/* ---------------------------------------------------------------------------------------------
 * sl_schema_raw
 */

static void test_raw_every_kind(void **state)
{
    (void)state;
    /* text stays text, whatever it looks like */
    check_raw(SL_CELL_TEXT, "abc", "\"abc\"");
    check_raw(SL_CELL_TEXT, "42", "\"42\"");
    check_raw(SL_CELL_TEXT, "true", "\"true\"");
    check_raw(SL_CELL_TEXT, "{\"a\":1}", "\"{\\\"a\\\":1}\"");
    check_raw(SL_CELL_TEXT, "Grüße", "\"Grüße\"");
    raw_at(__LINE__, SL_CELL_TEXT, "abcdef", 2, "\"ab\"");
    /* numbers are numbers */
    check_raw(SL_CELL_NUMBER, "42", "42");
    check_raw(SL_CELL_NUMBER, "-7", "-7");
    check_raw(SL_CELL_NUMBER, "1.5", "1.5");
    check_raw(SL_CELL_NUMBER, "0.25", "0.25");
    /* booleans */
    check_raw(SL_CELL_BOOL, "true", "true");
    check_raw(SL_CELL_BOOL, "false", "false");
    /* dates as their ISO text */
    check_raw(SL_CELL_DATE, "2026-11-30", "\"2026-11-30\"");
    check_raw(SL_CELL_DATE, "2026-11-30T07:39:11Z", "\"2026-11-30T07:39:11Z\"");
    /* nested JSON as it is */
    check_raw(SL_CELL_JSON, "{\"a\":[1,{\"b\":null}]}", "{\"a\":[1,{\"b\":null}]}");
    check_raw(SL_CELL_JSON, "[]", "[]");
    check_raw(SL_CELL_JSON, "[\"x\",2,true]", "[\"x\",2,true]");
    /* empty cells and JSON null */
    check_raw(SL_CELL_EMPTY, "", "null");
    /* invalid UTF-8 text has no value */
    check_raw(SL_CELL_TEXT, "caf\xe9", NULL);
    check_raw(SL_CELL_TEXT, "\xff", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_contract_example),
        cmocka_unit_test(test_parse_every_type),
        cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_errors_name_the_place),
        cmocka_unit_test(test_convert_string),
        cmocka_unit_test(test_convert_integer),
        cmocka_unit_test(test_convert_number),
        cmocka_unit_test(test_convert_boolean),
        cmocka_unit_test(test_convert_date),
        cmocka_unit_test(test_convert_datetime),
        cmocka_unit_test(test_convert_json),
        cmocka_unit_test(test_convert_enum),
        cmocka_unit_test(test_convert_parsed_schema),
        cmocka_unit_test(test_raw_every_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
