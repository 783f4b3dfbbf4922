/*
 * xls: the row reader of legacy Excel workbooks (.xls, BIFF), the first worksheet, for the
 * imports of `sheet` jobs. The cells come from xls_sheet.h: from libfreexl in a child process
 * (`sluice xls-rows`) when sluice runs as itself, in this process otherwise; nothing of BIFF is
 * parsed here, and the rows are the same either way.
 *
 * Memory: in this process, freexl keeps the whole workbook until it is closed (the child holds
 * it instead when there is one). On top of it this file holds one row: its fields point at the
 * sheet's own strings, and numbers and date-times are written into one small slot per column,
 * reused from row to row.
 *
 * Cells: integers and doubles become numbers (shortest text that reads back to the same double),
 * text stays text, dates become "YYYY-MM-DD", date-times and times ISO date-times (a time alone on
 * Excel's day zero, 1899-12-30), empty cells are empty. freexl reports booleans as the integers
 * 0 and 1, so they arrive as numbers. The first non-empty row is the header (an empty name is
 * column_N, a repeated one gets _2, _3...); empty rows are skipped; cells past the header are
 * named column_N.
 *
 * Failures: a file freexl cannot open, a workbook without a worksheet, and (in a child) a parser
 * that crashes, runs out of its limits or stops talking sense are SL_EINVALID, with a message
 * that says what happened and where ("xls parser crashed (signal 11, SIGSEGV) at row 12").
 * Not thread-safe; one reader per job.
 */
#include "import/reader.h"
#include "import/xls_sheet.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XLS_SLOT 40 /* bytes of a number's or date-time's text */

struct xls_reader {
    struct sl_reader base; /* first: the interface */
    struct sl_xls_sheet *sheet;
    unsigned short cols;
    char **names; /* a name for each of the sheet's columns: the header's, then column_N */
    size_t ncols; /* how many of them the header gave */
    struct sl_field *fields;
    char *slots;    /* cols slots of XLS_SLOT bytes */
    int64_t number; /* data rows handed out */
};

/* A whole number below 2^53 in plain digits, else the shortest "%.*g" text that reads back as v. */
static void format_double(double v, char *out, size_t cap)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, cap, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Writes freexl's "YYYY-MM-DD HH:MM:SS" (or a lone "HH:MM:SS") as an ISO 8601 date-time. */
static void format_datetime(const char *text, int time_only, char *out, size_t cap)
{
    if (time_only)
        snprintf(out, cap, "1899-12-30T%.8sZ", text);
    else
        snprintf(out, cap, "%.10sT%.8sZ", text, strlen(text) > 11 ? text + 11 : "00:00:00");
}

/* The value of a cell as a field (without its name); slot holds the text of numbers and
 * date-times. */
static void cell_field(const struct sl_xls_cell *v, char *slot, struct sl_field *f)
{
    *f = (struct sl_field){NULL, slot, 0, SL_CELL_NUMBER};
    switch (v->type) {
    case SL_XLS_INT:
        snprintf(slot, XLS_SLOT, "%" PRId64, v->i);
        break;
    case SL_XLS_DOUBLE:
        format_double(v->d, slot, XLS_SLOT);
        break;
    case SL_XLS_TEXT:
        *f = (struct sl_field){NULL, v->text, 0, SL_CELL_TEXT};
        break;
    case SL_XLS_DATE:
        *f = (struct sl_field){NULL, v->text, 0, SL_CELL_DATE};
        break;
    case SL_XLS_DATETIME:
    case SL_XLS_TIME:
        format_datetime(v->text, v->type == SL_XLS_TIME, slot, XLS_SLOT);
        f->kind = SL_CELL_DATE;
        break;
    default:
        *f = (struct sl_field){NULL, "", 0, SL_CELL_EMPTY};
        break;
    }
    if (!f->value || !f->value[0])
        *f = (struct sl_field){NULL, "", 0, SL_CELL_EMPTY};
    f->len = strlen(f->value);
}

/* Reads the sheet's next row into r->fields (one per sheet column): 1 when a cell holds a
 * value, 0 when it holds none, 2 at the end, or a negative SL_E*. */
static int read_row(struct xls_reader *r, struct sl_error *err)
{
    const struct sl_xls_cell *cells;
    int rc = sl_xls_sheet_next(r->sheet, &cells, err);
    if (rc != 1)
        return rc == 0 ? 2 : rc;
    int any = 0;
    for (unsigned short c = 0; c < r->cols; c++) {
        cell_field(&cells[c], r->slots + (size_t)c * XLS_SLOT, &r->fields[c]);
        any |= r->fields[c].kind != SL_CELL_EMPTY;
    }
    return any;
}

static int name_taken(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

/* Sets names[n] to a heap copy of base, or of base_2, base_3... when one of names[0..n) has it. */
static int add_unique_name(char **names, size_t n, const char *base)
{
    char *name = strdup(base);
    for (unsigned k = 2; name && name_taken(names, n, name); k++) {
        free(name);
        if (asprintf(&name, "%s_%u", base, k) < 0)
            name = NULL;
    }
    names[n] = name;
    return name ? 0 : SL_ENOMEM;
}

/* Names every column from the header row in r->fields: the header's width first, then
 * column_N for the cells that may come past it. */
static int name_columns(struct xls_reader *r, struct sl_error *err)
{
    size_t width = 0;
    for (size_t c = 0; c < r->cols; c++)
        if (r->fields[c].kind != SL_CELL_EMPTY)
            width = c + 1;
    r->ncols = width;
    for (size_t c = 0; c < r->cols; c++) {
        char generated[32];
        snprintf(generated, sizeof generated, "column_%zu", c + 1);
        const char *base = c < width && r->fields[c].len ? r->fields[c].value : generated;
        if (add_unique_name(r->names, c, base) != 0)
            return sl_err_set(err, SL_ENOMEM, "out of memory naming the columns");
    }
    return 0;
}

/* Reads rows until one holds a value: 1 with it in r->fields, 0 at the end. */
static int next_nonempty(struct xls_reader *r, struct sl_error *err)
{
    for (;;) {
        int rc = read_row(r, err);
        if (rc != 0)
            return rc == 2 ? 0 : rc;
    }
}

/* Keeps the header's columns (empty or not) and the cells past it that hold a value. */
static size_t pack_fields(struct xls_reader *r)
{
    size_t n = r->ncols;
    for (size_t c = 0; c < r->cols; c++) {
        r->fields[c].name = r->names[c];
        if (c >= r->ncols && r->fields[c].kind != SL_CELL_EMPTY)
            r->fields[n++] = r->fields[c];
    }
    return n;
}

static int xls_next(struct sl_reader *base, struct sl_row *row, struct sl_error *err)
{
    struct xls_reader *r = (struct xls_reader *)base;
    int rc = next_nonempty(r, err);
    memset(row, 0, sizeof *row);
    if (rc != 1)
        return rc;
    row->fields = r->fields;
    row->count = pack_fields(r);
    row->number = ++r->number;
    return 1;
}

static const char *const *xls_columns(struct sl_reader *base, size_t *count)
{
    struct xls_reader *r = (struct xls_reader *)base;
    *count = r->ncols;
    return (const char *const *)r->names;
}

static void xls_close(struct sl_reader *base)
{
    struct xls_reader *r = (struct xls_reader *)base;
    sl_xls_sheet_close(r->sheet);
    for (size_t c = 0; r->names && c < r->cols; c++)
        free(r->names[c]);
    free(r->names);
    free(r->fields);
    free(r->slots);
    free(r);
}

static const struct sl_reader_ops xls_ops = {
    .format = "xls",
    .next = xls_next,
    .columns = xls_columns,
    .close = xls_close,
};

int sl_reader_open_xls(const char *path, struct sl_reader **out, struct sl_error *err)
{
    struct xls_reader *r = calloc(1, sizeof *r);
    int rc;
    *out = NULL;
    if (!r)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->base.ops = &xls_ops;
    if ((rc = sl_xls_sheet_open_any(path, &r->sheet, err)) != 0)
        goto out;
    r->cols = r->sheet->cols;
    r->names = calloc(r->cols ? r->cols : 1, sizeof *r->names);
    r->fields = calloc(r->cols ? r->cols : 1, sizeof *r->fields);
    r->slots = malloc(r->cols ? (size_t)r->cols * XLS_SLOT : 1);
    if (!r->names || !r->fields || !r->slots) {
        rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = next_nonempty(r, err)) == 1)
        rc = name_columns(r, err);
    if (rc < 0)
        goto out;
    rc = 0;
    *out = &r->base;
out:
    if (rc)
        xls_close(&r->base);
    return rc;
}
