/*
 * reader: the row reader interface every import format implements (CSV/TSV, XLSX, XLS, JSON,
 * NDJSON), one backend per file, behind a const method table like the stores.
 *
 * A reader streams: it reads its source a buffer at a time and holds one row in memory, whatever
 * the file size. Each row is a list of fields (name, value); for formats with a header row
 * (CSV/TSV, sheets) the names are the header's cells, for JSON they are the object's keys.
 * A field's value is UTF-8 text: numbers as their shortest decimal text, booleans as "true" /
 * "false", dates as ISO 8601 ("2026-11-30" or "2026-11-30T07:39:11Z"), nested JSON (objects,
 * arrays) as compact JSON text with kind SL_CELL_JSON, JSON null and empty cells as kind
 * SL_CELL_EMPTY with value "".
 *
 * next() returns 1 with a row, 0 at the end, or a negative SL_E* code (SL_EINVALID for a broken
 * file) with a message that says where ("line 12: unterminated quoted field", "byte 3071:
 * invalid JSON: ..."). A row and its strings are borrowed until the next call or close.
 * Not thread-safe; one reader per job.
 */
#ifndef SL_IMPORT_READER_H
#define SL_IMPORT_READER_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

enum sl_cell_kind {
    SL_CELL_TEXT,   /* a string */
    SL_CELL_NUMBER, /* a number, as decimal text */
    SL_CELL_BOOL,   /* "true" or "false" */
    SL_CELL_DATE,   /* an ISO 8601 date or date-time from a typed source (sheets) */
    SL_CELL_JSON,   /* an object or array, as compact JSON text */
    SL_CELL_EMPTY,  /* an empty cell or JSON null */
};

struct sl_field {
    const char *name;
    const char *value; /* NUL-terminated; len bytes (may hold NUL for binary-ish CSV) */
    size_t len;
    enum sl_cell_kind kind;
};

struct sl_row {
    const struct sl_field *fields;
    size_t count;
    int64_t number; /* data rows from 1 */
};

struct sl_reader;

struct sl_reader_ops {
    const char *format; /* "csv", "tsv", "xlsx", "xls", "json", "ndjson" */
    int (*next)(struct sl_reader *r, struct sl_row *row, struct sl_error *err);
    /* The header's column names (sheets, CSV) or the keys seen so far (JSON); borrowed. */
    const char *const *(*columns)(struct sl_reader *r, size_t *count);
    void (*close)(struct sl_reader *r);
};

struct sl_reader {
    const struct sl_reader_ops *ops;
};

/*
 * Opens a reader of `format` over the file at path. Returns 0 and *out, SL_EINVALID when the
 * file cannot be read as that format (with where and why), or SL_EIO/SL_ENOMEM.
 */
int sl_reader_open_csv(const char *path, struct sl_reader **out, struct sl_error *err);
int sl_reader_open_json(const char *path, struct sl_reader **out, struct sl_error *err);
int sl_reader_open_ndjson(const char *path, struct sl_reader **out, struct sl_error *err);
int sl_reader_open_xlsx(const char *path, struct sl_reader **out, struct sl_error *err);
int sl_reader_open_xls(const char *path, struct sl_reader **out, struct sl_error *err);

/*
 * Picks the format from the file name (.csv .tsv .xlsx .xls .json .ndjson .jsonl), or else from
 * the first bytes (a zip signature: xlsx; an OLE2 signature: xls; '[': json; '{': ndjson;
 * otherwise csv) and opens it.
 */
int sl_reader_open(const char *path, const char *file_name, struct sl_reader **out,
                   struct sl_error *err);

static inline int sl_reader_next(struct sl_reader *r, struct sl_row *row, struct sl_error *err)
{
    return r->ops->next(r, row, err);
}

static inline const char *const *sl_reader_columns(struct sl_reader *r, size_t *count)
{
    return r->ops->columns(r, count);
}

static inline const char *sl_reader_format(const struct sl_reader *r)
{
    return r->ops->format;
}

static inline void sl_reader_close(struct sl_reader *r)
{
    if (r)
        r->ops->close(r);
}

#endif
