/*
 * csv: the CSV/TSV row reader (sl_reader_open_csv), on sluice's own tokenizer (csv_scan.h).
 *
 * DESIGN. The scanner reads the file a buffer at a time and hands out rows in small batches, their
 * fields as slices of that buffer; this reader adds the header and the names and hands the rows
 * out one by one. For a file over 256 KiB the scanner reads and scans ahead on a second thread
 * (threaded, csv_scan.h: the server imports on a worker thread and has a core to spare; the rows
 * are the same), closed with the reader. Memory is bounded whatever the file's size: one buffer
 * (256 KiB, more only while a single row does not fit), or four 256 KiB segments with their
 * cells and rows while the second thread runs. Error messages name the physical line of the
 * row (the scanner's). Caps: 16 MiB a field, 64 MiB and 65536 fields a row.
 *
 * The dialect, for files people export (the scanner's contract has the byte-level rules):
 * - A UTF-8 BOM is skipped; UTF-16 and NUL bytes are refused (not text we can read).
 * - The delimiter is the most frequent of `,` `;` tab `|` on the first line (within the first
 *   64 KiB), outside quotes (ties go in that order; none at all: `,`). With tab the format is
 *   "tsv".
 * - Quotes are `"`, doubled inside a quoted field; quoted fields may hold delimiters and line
 *   ends. A stray quote inside an unquoted field is kept as text. An unterminated quoted field
 *   at the end of the file is an error naming the line of its row.
 * - Blanks (spaces and tabs) around an unquoted field are trimmed, which is what people who type
 *   "a, b" mean; quote a field to keep them. RFC 4180 would keep them. (libcsv's rule: sluice
 *   read CSV with libcsv before, and reads every file the same way now.)
 * - The first row is the header: an empty name becomes "column_N" (N from 1), a repeated one
 *   "name_2", "name_3". Each data row then yields one field per header column, in order: a
 *   missing trailing cell is SL_CELL_EMPTY, so every row has every column; cells beyond the
 *   header are named "column_N". Every value is SL_CELL_TEXT, or SL_CELL_EMPTY when it is empty
 *   (quoted or not). Bytes are passed on as they are (no UTF-8 check: the importer does it).
 * - Blank lines, and rows whose cells are all empty (",,," below a spreadsheet's data), are
 *   skipped and not counted: row numbers count the data rows returned, from 1.
 */
#include "import/csv_scan.h"
#include "import/reader.h"
#include "import/reader_int.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNIFF_BYTES (64 * 1024) /* of the first read: where the delimiter is looked for */

struct csv_reader {
    struct sl_reader base; /* first: the interface */
    int fd;
    struct sl_csv_scan *scan;
    struct sl__names *names; /* the header's names, then those of cells beyond the header */
    size_t header_count;
    const struct sl_csv_row *batch; /* rows from the scanner, handed out from ibatch on */
    size_t nbatch, ibatch;
    struct sl_field *fields; /* the row handed out by next(); names set for the first `named` */
    size_t fields_cap, named;
    int64_t rows;          /* data rows handed out */
    struct sl_error fault; /* the first error; the reader returns it from then on */
};

static ssize_t read_fd(void *ctx, void *buf, size_t cap)
{
    const int *fd = ctx;
    ssize_t n;
    do
        n = read(*fd, buf, cap);
    while (n < 0 && errno == EINTR);
    return n;
}

/* ---------------------------------------------------------------------------------------------
 * Header and rows
 */

static int add_name(struct csv_reader *r, const char *s, size_t len)
{
    char generated[32];
    size_t n;
    sl__names_list(r->names, &n);
    if (len == 0) {
        len = (size_t)snprintf(generated, sizeof generated, "column_%zu", n + 1);
        s = generated;
    }
    if (sl__names_add_unique(r->names, s, len, NULL) != 0)
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory reading the header");
    return 0;
}

static int read_header(struct csv_reader *r)
{
    int rc = sl_csv_scan_rows(r->scan, &r->batch, &r->nbatch, &r->fault);
    if (rc <= 0)
        return rc; /* an empty file: no columns, no rows */
    const struct sl_csv_row *row = &r->batch[r->ibatch++];
    for (size_t i = 0; i < row->count; i++)
        if ((rc = add_name(r, row->base + row->cells[i].off, row->cells[i].len)) != 0)
            return rc;
    r->header_count = row->count;
    return 0;
}

/* Makes fields hold count fields, their names set (new names for cells beyond the header). */
static int name_fields(struct csv_reader *r, size_t count, long long line)
{
    size_t nnames;
    sl__names_list(r->names, &nnames);
    for (size_t i = nnames; i < count; i++)
        if (add_name(r, "", 0) != 0)
            return r->fault.code;
    if (sl__grow((void **)&r->fields, &r->fields_cap, count, sizeof *r->fields) != 0)
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory reading line %lld", line);
    const char *const *names = sl__names_list(r->names, &nnames);
    for (size_t i = r->named; i < count; i++)
        r->fields[i].name = names[i];
    r->named = count;
    return 0;
}

/* Fills row from the scanner's: one field per header column at least, then the extra cells.
 * 1 with a row, 0 when all its cells are empty (skipped), or an SL_E* code. */
static int emit_row(struct csv_reader *r, const struct sl_csv_row *in, struct sl_row *row)
{
    size_t count = in->count > r->header_count ? in->count : r->header_count;
    int rc;
    if (count > r->named && (rc = name_fields(r, count, in->line)) != 0)
        return rc;
    size_t filled = 0;
    for (size_t i = 0; i < in->count; i++) {
        size_t len = in->cells[i].len;
        struct sl_field *f = &r->fields[i];
        f->value = in->base + in->cells[i].off;
        f->len = len;
        f->kind = len ? SL_CELL_TEXT : SL_CELL_EMPTY;
        filled |= len;
    }
    if (!filled)
        return 0; /* a blank row is skipped */
    for (size_t i = in->count; i < count; i++) {
        r->fields[i].value = "";
        r->fields[i].len = 0;
        r->fields[i].kind = SL_CELL_EMPTY;
    }
    *row = (struct sl_row){r->fields, count, ++r->rows};
    return 1;
}

static __attribute__((noinline)) int next_slow(struct csv_reader *r, struct sl_row *row,
                                               struct sl_error *err)
{
    int rc = r->fault.code;
    while (rc == 0) {
        if (r->ibatch == r->nbatch) {
            if ((rc = sl_csv_scan_rows(r->scan, &r->batch, &r->nbatch, &r->fault)) != 1)
                break;
            r->ibatch = 0;
        }
        rc = emit_row(r, &r->batch[r->ibatch++], row);
    }
    if (rc < 0 && err)
        *err = r->fault;
    return rc;
}

/* The usual row (from the batch at hand, as many cells as the header, not blank) is filled here
 * in a small function; anything else goes the long way. */
static int csv_next(struct sl_reader *base, struct sl_row *row, struct sl_error *err)
{
    struct csv_reader *r = (struct csv_reader *)base;
    if (r->ibatch < r->nbatch && !r->fault.code) {
        const struct sl_csv_row *in = &r->batch[r->ibatch];
        size_t n = in->count;
        if (n == r->header_count && n <= r->named) {
            struct sl_field *f = r->fields;
            size_t filled = 0;
            for (size_t i = 0; i < n; i++) {
                size_t len = in->cells[i].len;
                f[i].value = in->base + in->cells[i].off;
                f[i].len = len;
                f[i].kind = len ? SL_CELL_TEXT : SL_CELL_EMPTY;
                filled |= len;
            }
            if (filled) {
                r->ibatch++;
                *row = (struct sl_row){f, n, ++r->rows};
                return 1;
            }
        }
    }
    return next_slow(r, row, err);
}

static const char *const *csv_columns(struct sl_reader *base, size_t *count)
{
    struct csv_reader *r = (struct csv_reader *)base;
    size_t n;
    const char *const *names = sl__names_list(r->names, &n);
    *count = r->header_count;
    return names;
}

static void csv_close(struct sl_reader *base)
{
    struct csv_reader *r = (struct csv_reader *)base;
    sl_csv_scan_free(r->scan);
    if (r->fd >= 0)
        close(r->fd);
    sl__names_free(r->names);
    free(r->fields);
    free(r);
}

static const struct sl_reader_ops csv_ops = {"csv", csv_next, csv_columns, csv_close};
static const struct sl_reader_ops tsv_ops = {"tsv", csv_next, csv_columns, csv_close};

/* ---------------------------------------------------------------------------------------------
 * Opening
 */

/* The most frequent of , ; tab | on the first line, outside quotes; ',' when none is there. */
static unsigned char detect_delimiter(const unsigned char *s, size_t n)
{
    static const unsigned char candidates[] = {',', ';', '\t', '|'};
    size_t counts[sizeof candidates] = {0};
    int quoted = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        if (quoted)
            continue;
        if (s[i] == '\n' || s[i] == '\r')
            break;
        for (size_t k = 0; k < sizeof candidates; k++)
            counts[k] += s[i] == candidates[k];
    }
    size_t best = 0;
    for (size_t k = 1; k < sizeof candidates; k++)
        if (counts[k] > counts[best])
            best = k;
    return candidates[best];
}

/* Looks at the first bytes: refuses UTF-16, skips a BOM, picks the delimiter. */
static int start(struct csv_reader *r)
{
    const unsigned char *s;
    size_t n;
    int rc = sl_csv_scan_peek(r->scan, &s, &n, &r->fault);
    if (rc != 0)
        return rc;
    if (n > SNIFF_BYTES)
        n = SNIFF_BYTES;
    if (n >= 2 && ((s[0] == 0xff && s[1] == 0xfe) || (s[0] == 0xfe && s[1] == 0xff)))
        return sl_err_set(&r->fault, SL_EINVALID,
                          "line 1: the file is UTF-16 text; save it as UTF-8");
    size_t skip = (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) ? 3 : 0;
    const unsigned char *nul = memchr(s + skip, '\0', n - skip);
    unsigned char delim = detect_delimiter(s + skip, nul ? (size_t)(nul - s) - skip : n - skip);
    sl_csv_scan_skip(r->scan, skip);
    sl_csv_scan_set_delim(r->scan, delim);
    r->base.ops = delim == '\t' ? &tsv_ops : &csv_ops;
    return 0;
}

int sl_reader_open_csv(const char *path, struct sl_reader **out, struct sl_error *err)
{
    int rc;
    *out = NULL;
    struct csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->base.ops = &csv_ops;
    r->fd = -1;
    struct sl_csv_scan_opts opts = {.read = read_fd, .ctx = &r->fd, .threaded = 1};
    if (sl__names_new(&r->names) != 0 || sl_csv_scan_new(&opts, &r->scan) != 0)
        rc = sl_err_set(&r->fault, SL_ENOMEM, "out of memory");
    else if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        rc = sl_err_set(&r->fault, SL_EIO, "cannot open the file: %s", strerror(errno));
    else if ((rc = start(r)) == 0)
        rc = read_header(r);
    if (rc < 0) {
        if (err)
            *err = r->fault;
        csv_close(&r->base);
        return rc;
    }
    *out = &r->base;
    return 0;
}
