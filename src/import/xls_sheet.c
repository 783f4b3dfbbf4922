/*
 * xls_sheet: the first worksheet of an .xls read in this process with libfreexl (see
 * xls_sheet.h). This is the only file that calls freexl; the child (`sluice xls-rows`) runs it
 * too, on its side of the pipe.
 *
 * Memory: freexl reads the whole workbook when it opens it and keeps every cell until it is
 * closed (the library's design; a BIFF8 sheet has at most 65536 rows of 256 columns). On top of
 * that this file holds one row of cells, pointing at freexl's own strings.
 */
#include "import/xls_sheet.h"

#include <freexl.h>

#include <stdlib.h>
#include <string.h>

struct local_sheet {
    struct sl_xls_sheet base; /* first: the interface */
    const void *xls;          /* the freexl handle */
    unsigned row;             /* the next row to read, from 0 */
    struct sl_xls_cell *cells;
};

/* Cell (row, col) as a typed cell; its text points into freexl. 0 or SL_EINVALID. */
static int read_cell(const void *xls, unsigned row, unsigned short col, struct sl_xls_cell *c)
{
    FreeXL_CellValue v;
    if (freexl_get_cell_value(xls, row, col, &v) != FREEXL_OK)
        return SL_EINVALID;
    *c = (struct sl_xls_cell){.type = SL_XLS_NULL};
    switch (v.type) {
    case FREEXL_CELL_INT:
        c->type = SL_XLS_INT;
        c->i = v.value.int_value;
        return 0;
    case FREEXL_CELL_DOUBLE:
        c->type = SL_XLS_DOUBLE;
        c->d = v.value.double_value;
        return 0;
    case FREEXL_CELL_TEXT:
    case FREEXL_CELL_SST_TEXT:
        c->type = SL_XLS_TEXT;
        break;
    case FREEXL_CELL_DATE:
        c->type = SL_XLS_DATE;
        break;
    case FREEXL_CELL_DATETIME:
        c->type = SL_XLS_DATETIME;
        break;
    case FREEXL_CELL_TIME:
        c->type = SL_XLS_TIME;
        break;
    default:
        return 0;
    }
    c->text = v.value.text_value ? v.value.text_value : "";
    c->len = strlen(c->text);
    return 0;
}

static int local_next(struct sl_xls_sheet *base, const struct sl_xls_cell **cells,
                      struct sl_error *err)
{
    struct local_sheet *s = (struct local_sheet *)base;
    *cells = NULL;
    if (s->row >= s->base.rows)
        return 0;
    unsigned row = s->row++;
    for (unsigned short c = 0; c < s->base.cols; c++)
        if (read_cell(s->xls, row, c, &s->cells[c]) != 0)
            return sl_err_set(err, SL_EINVALID, "not a valid XLS file: cannot read row %u",
                              row + 1);
    *cells = s->cells;
    return 1;
}

static void local_close(struct sl_xls_sheet *base)
{
    struct local_sheet *s = (struct local_sheet *)base;
    if (s->xls)
        freexl_close(s->xls);
    free(s->cells);
    free(s);
}

static const struct sl_xls_sheet_ops local_ops = {.next = local_next, .close = local_close};

static int open_workbook(const char *path, struct local_sheet *s, struct sl_error *err)
{
    int rc = freexl_open(path, &s->xls);
    if (rc == FREEXL_FILE_NOT_FOUND)
        return sl_err_set(err, SL_EIO, "cannot read %s", path);
    if (rc == FREEXL_INSUFFICIENT_MEMORY)
        return sl_err_set(err, SL_ENOMEM, "out of memory reading %s", path);
    if (rc != FREEXL_OK)
        return sl_err_set(err, SL_EINVALID, "not a valid XLS file (freexl error %d)", rc);
    if (freexl_select_active_worksheet(s->xls, 0) != FREEXL_OK ||
        freexl_worksheet_dimensions(s->xls, &s->base.rows, &s->base.cols) != FREEXL_OK)
        return sl_err_set(err, SL_EINVALID, "not a valid XLS file: it has no worksheet");
    return 0;
}

int sl_xls_sheet_open(const char *path, struct sl_xls_sheet **out, struct sl_error *err)
{
    struct local_sheet *s = calloc(1, sizeof *s);
    int rc;
    *out = NULL;
    if (!s)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    s->base.ops = &local_ops;
    if ((rc = open_workbook(path, s, err)) != 0) {
        local_close(&s->base);
        return rc;
    }
    if (!(s->cells = calloc(s->base.cols ? s->base.cols : 1, sizeof *s->cells))) {
        local_close(&s->base);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    *out = &s->base;
    return 0;
}
