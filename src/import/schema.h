/*
 * schema: the per-type import schema of `sluice.json` ("import": {"key", "fields"}), and the
 * conversion of one raw cell into the JSON value a record stores.
 *
 * Field types: string, integer, number, boolean, date, datetime, json; `required`; `enum`.
 * A schema owns its strings (sl_schema_fini). Conversion is pure; thread-safe.
 */
#ifndef SL_IMPORT_SCHEMA_H
#define SL_IMPORT_SCHEMA_H

#include "import/reader.h"
#include "util/err.h"

#include <jansson.h>
#include <stddef.h>

enum sl_field_type {
    SL_FT_STRING,
    SL_FT_INTEGER,
    SL_FT_NUMBER,
    SL_FT_BOOLEAN,
    SL_FT_DATE,
    SL_FT_DATETIME,
    SL_FT_JSON,
};

struct sl_schema_field {
    char *name;
    enum sl_field_type type;
    int required;
    char **enum_values; /* NULL when any value goes */
    size_t enum_count;
};

struct sl_schema {
    char *key; /* the field whose value keys a record, or NULL: "<jobId>:<row>" */
    struct sl_schema_field *fields;
    size_t count;
};

/*
 * Reads an "import" object of sluice.json into schema; `where` names it in messages
 * ("sluice.json: processors.machines.import"). Returns 0 or SL_ECONFIG.
 */
int sl_schema_parse(json_t *import, const char *where, struct sl_schema *schema,
                    struct sl_error *err);
void sl_schema_fini(struct sl_schema *schema);

/* The field named name, or NULL. */
const struct sl_schema_field *sl_schema_find(const struct sl_schema *schema, const char *name);

/*
 * Converts cell (never NULL; an empty cell has kind SL_CELL_EMPTY) for field f into a new JSON
 * value (*out; json null for an empty, non-required cell). Returns 0, or SL_EINVALID with why
 * ("is not an integer") filled.
 */
int sl_schema_convert(const struct sl_schema_field *f, const struct sl_field *cell, json_t **out,
                      char *why, size_t cap);

/* The value a cell stores without a schema: strings, numbers, booleans and nested JSON as they
 * are, empty cells as null. NULL when the text is not valid UTF-8. */
json_t *sl_schema_raw(const struct sl_field *cell);

#endif
