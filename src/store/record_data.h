/*
 * record_data: the two forms of a record's data text, shared by both store backends.
 *
 * A record's data is a JSON object. An import of a file with a header row (CSV, TSV, sheets)
 * may hand the store its rows in a compact form instead: a JSON array of the values, in the
 * order of the file's columns, with the column names once per batch as a JSON array of strings
 * (`["internalCode","name"]` and `["M-1","Pump"]` for `{"internalCode":"M-1","name":"Pump"}`).
 * A row shorter than the list has the first names only. The SQLite store keeps that form (the
 * names once per job: a large import writes a third fewer bytes); the PostgreSQL store, and the
 * SQLite store's reads, expand it here. The expansion is textual, so what comes out is exactly
 * the object the importer would have written: the same order, the same repeated names.
 *
 * Input texts are the importer's own (compact, valid JSON); anything else is SL_EINVALID, never
 * undefined behaviour. Thread-safe; a column list is read-only once made.
 */
#ifndef SL_STORE_RECORD_DATA_H
#define SL_STORE_RECORD_DATA_H

#include "util/buf.h"
#include "util/err.h"

#include <stddef.h>

struct sl_record_cols;

/* Parses a JSON array of strings (column names) into *out. 0, SL_EINVALID or SL_ENOMEM. */
int sl_record_cols_new(const char *json, struct sl_record_cols **out);
void sl_record_cols_free(struct sl_record_cols *c);

/*
 * Appends data as an object to out: an object as it is, an array under the names of cols
 * (NULL: none; then an array is SL_EINVALID, as is an array longer than the list).
 */
int sl_record_data_expand(const struct sl_record_cols *cols, const char *data, struct sl_buf *out);

/*
 * The next top-level element of the JSON array text s, from *pos (0 at the start: the `[`):
 * 1 with its bytes s[*start .. *end), 0 after the last, SL_EINVALID when s is no array.
 */
int sl_json_array_next(const char *s, size_t *pos, size_t *start, size_t *end);

#endif
