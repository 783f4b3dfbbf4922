/*
 * csv: the CSV/TSV row reader (sl_reader_open_csv), on libcsv.
 *
 * DESIGN. libcsv parses the bytes it is given and calls back once per field and once per row;
 * it cannot stop in the middle of a buffer and knows nothing of lines. So the reader feeds it one
 * line at a time: a segment ends after "\n", "\r\n" or a lone "\r" (or at the end of the 64 KiB
 * chunk), and since a row can only end on a line end, at most one row ends per segment. The
 * reader thus holds exactly one row, and it knows the physical line each row starts on (the line
 * of the first segment fed outside a quoted field) for its error messages. Memory: one chunk plus
 * the largest row, which is capped (16 MiB a field, 64 MiB and 65536 fields a row).
 *
 * The dialect, for files people export:
 * - A UTF-8 BOM is skipped; UTF-16 and NUL bytes are refused (not text we can read).
 * - The delimiter is the most frequent of `,` `;` tab `|` on the first line, outside quotes
 *   (ties go in that order; none at all: `,`). With tab the format is "tsv".
 * - Quotes are `"`, doubled inside a quoted field; quoted fields may hold delimiters and line
 *   ends. libcsv's lenient mode keeps a stray quote inside an unquoted field as text. An
 *   unterminated quoted field at the end of the file is an error naming the line of its row.
 * - Blanks (spaces and tabs) around an unquoted field are trimmed: libcsv's rule, and what people
 *   who type "a, b" mean; quote a field to keep them. RFC 4180 would keep them.
 * - The first row is the header: an empty name becomes "column_N" (N from 1), a repeated one
 *   "name_2", "name_3". Each data row then yields one field per header column, in order: a
 *   missing trailing cell is SL_CELL_EMPTY, so every row has every column; cells beyond the
 *   header are named "column_N". Every value is SL_CELL_TEXT, or SL_CELL_EMPTY when it is empty
 *   (quoted or not). Bytes are passed on as they are (no UTF-8 check: the importer does it).
 * - Blank lines, and rows whose cells are all empty (",,," below a spreadsheet's data), are
 *   skipped and not counted: row numbers count the data rows returned, from 1.
 */
#include "import/reader.h"
#include "import/reader_int.h"
#include "util/err.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Defined in reader.c (internal to src/import). */

#define CSV_CHUNK      (64 * 1024)        /* bytes read at a time */
#define CSV_MAX_FIELD  ((size_t)16 << 20) /* bytes in one field */
#define CSV_MAX_ROW    ((size_t)64 << 20) /* bytes in one row */
#define CSV_MAX_FIELDS 65536              /* fields in one row */

struct cell {
    size_t off; /* into data */
    size_t len; /* bytes, without the NUL that follows them in data */
};

struct csv_reader {
    struct sl_reader base; /* first: the interface */
    int fd;
    struct csv_parser parser;
    int parser_ready;
    unsigned char *chunk;
    size_t chunk_len, pos;   /* bytes in chunk; the next one to feed */
    size_t nul_at;           /* offset of the chunk's first NUL byte, or chunk_len */
    int eof;                 /* the file is read to its end and csv_fini has run */
    long long line;          /* physical line of the next byte, from 1 */
    long long row_line;      /* line where the current row starts */
    int at_line_start;       /* the next byte starts a line */
    int cr_pending;          /* the last chunk ended on '\r': a lone CR or the start of a CRLF */
    struct sl__names *names; /* the header's names, then those of cells beyond the header */
    size_t header_count;
    struct cell *cells; /* the current row's cells */
    size_t ncells, cells_cap;
    char *data; /* their bytes, each followed by a NUL */
    size_t data_len, data_cap;
    int row_done;            /* libcsv has ended the current row */
    struct sl_field *fields; /* the row handed out by next() */
    size_t fields_cap;
    int64_t rows;          /* data rows handed out */
    struct sl_error fault; /* the first error; the reader returns it from then on */
};

/* ---------------------------------------------------------------------------------------------
 * libcsv callbacks: they cannot stop the parser, so they record a fault and ignore what follows.
 */

static int add_cell(struct csv_reader *r, const void *s, size_t len)
{
    if (r->ncells == CSV_MAX_FIELDS)
        return sl_err_set(&r->fault, SL_EINVALID, "line %lld: more than %d fields in one row",
                          r->row_line, CSV_MAX_FIELDS);
    if (len > CSV_MAX_FIELD)
        return sl_err_set(&r->fault, SL_EINVALID, "line %lld: a field longer than %zu MiB",
                          r->row_line, CSV_MAX_FIELD >> 20);
    if (r->data_len + len + 1 > CSV_MAX_ROW)
        return sl_err_set(&r->fault, SL_EINVALID, "line %lld: a row longer than %zu MiB",
                          r->row_line, CSV_MAX_ROW >> 20);
    if ((r->ncells == r->cells_cap &&
         sl__grow((void **)&r->cells, &r->cells_cap, r->ncells + 1, sizeof *r->cells) != 0) ||
        (r->data_len + len + 1 > r->data_cap &&
         sl__grow((void **)&r->data, &r->data_cap, r->data_len + len + 1, 1) != 0))
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory reading line %lld", r->row_line);
    if (len)
        memcpy(r->data + r->data_len, s, len);
    r->data[r->data_len + len] = '\0';
    r->cells[r->ncells++] = (struct cell){r->data_len, len};
    r->data_len += len + 1;
    return 0;
}

static void on_field(void *s, size_t len, void *ctx)
{
    struct csv_reader *r = ctx;
    if (!r->fault.code)
        add_cell(r, s, len);
}

static void on_row(int c, void *ctx)
{
    struct csv_reader *r = ctx;
    (void)c;
    r->row_done = 1;
}

/* ---------------------------------------------------------------------------------------------
 * Feeding libcsv a line at a time
 */

static int read_chunk(struct csv_reader *r)
{
    ssize_t n;
    do
        n = read(r->fd, r->chunk, CSV_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return sl_err_set(&r->fault, SL_EIO, "cannot read the file: %s", strerror(errno));
    r->chunk_len = (size_t)n;
    r->pos = 0;
    const unsigned char *nul = memchr(r->chunk, '\0', r->chunk_len);
    r->nul_at = nul ? (size_t)(nul - r->chunk) : r->chunk_len;
    return 0;
}

/* Bytes of s[0..n) through the first line end ("\n", "\r\n" or "\r"), or n when it has none. */
static size_t segment_len(const unsigned char *s, size_t n)
{
    const unsigned char *nl = memchr(s, '\n', n);
    size_t lim = nl ? (size_t)(nl - s) : n;
    const unsigned char *cr = memchr(s, '\r', lim);
    if (!cr)
        return nl ? lim + 1 : n;
    size_t k = (size_t)(cr - s) + 1;
    return (k < n && s[k] == '\n') ? k + 1 : k;
}

/* Counts the line end that closes the segment just fed, if it has one. */
static void after_segment(struct csv_reader *r, unsigned char last)
{
    r->at_line_start = 0;
    if (last == '\r' && r->pos == r->chunk_len) {
        r->cr_pending = 1; /* the next chunk says whether an LF follows */
    } else if (last == '\n' || last == '\r') {
        r->line++;
        r->at_line_start = 1;
    }
}

static int feed_segment(struct csv_reader *r)
{
    const unsigned char *s = r->chunk + r->pos;
    if (r->cr_pending) {
        r->cr_pending = 0;
        if (s[0] != '\n') {
            r->line++;
            r->at_line_start = 1;
        }
    }
    if (r->pos == r->nul_at)
        return sl_err_set(&r->fault, SL_EINVALID, "line %lld: NUL byte; is this a text file?",
                          r->line);
    if (r->at_line_start && !r->parser.quoted)
        r->row_line = r->line;
    size_t n = segment_len(s, r->nul_at - r->pos);
    if (csv_parse(&r->parser, s, n, on_field, on_row, r) != n)
        return sl_err_set(&r->fault, SL_ENOMEM, "line %lld: %s", r->line,
                          csv_strerror(csv_error(&r->parser)));
    r->pos += n;
    after_segment(r, s[n - 1]);
    if (r->fault.code)
        return r->fault.code;
    if (r->parser.entry_pos > CSV_MAX_FIELD)
        return sl_err_set(&r->fault, SL_EINVALID, "line %lld: a field longer than %zu MiB",
                          r->row_line, CSV_MAX_FIELD >> 20);
    return 0;
}

/* At the end of the file: ends the last row, unless a quoted field is still open. */
static int finish(struct csv_reader *r)
{
    r->eof = 1;
    csv_set_opts(&r->parser, csv_get_opts(&r->parser) | CSV_STRICT | CSV_STRICT_FINI);
    if (csv_fini(&r->parser, on_field, on_row, r) != 0)
        return sl_err_set(&r->fault, SL_EINVALID, "line %lld: unterminated quoted field",
                          r->row_line);
    return r->fault.code;
}

/* Reads the next row into cells: 1 with a row, 0 at the end of the file, or an SL_E* code. */
static int read_row(struct csv_reader *r)
{
    int rc;
    r->ncells = 0;
    r->data_len = 0;
    r->row_done = 0;
    while (!r->row_done) {
        if (r->pos == r->chunk_len) {
            if (r->eof)
                return 0;
            if ((rc = read_chunk(r)) != 0)
                return rc;
            if (r->chunk_len == 0 && (rc = finish(r)) != 0)
                return rc;
            continue;
        }
        if ((rc = feed_segment(r)) != 0)
            return rc;
    }
    return 1;
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
    int rc = read_row(r);
    if (rc <= 0)
        return rc; /* an empty file: no columns, no rows */
    for (size_t i = 0; i < r->ncells; i++)
        if ((rc = add_name(r, r->data + r->cells[i].off, r->cells[i].len)) != 0)
            return rc;
    r->header_count = r->ncells;
    return 0;
}

static int row_is_blank(const struct csv_reader *r)
{
    for (size_t i = 0; i < r->ncells; i++)
        if (r->cells[i].len)
            return 0;
    return 1;
}

/* Fills row from the cells: one field per header column at least, then the extra cells. */
static int emit_row(struct csv_reader *r, struct sl_row *row)
{
    size_t count = r->ncells > r->header_count ? r->ncells : r->header_count;
    size_t nnames;
    sl__names_list(r->names, &nnames);
    for (size_t i = nnames; i < r->ncells; i++)
        if (add_name(r, "", 0) != 0)
            return r->fault.code;
    if (sl__grow((void **)&r->fields, &r->fields_cap, count, sizeof *r->fields) != 0)
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory reading line %lld", r->row_line);
    const char *const *names = sl__names_list(r->names, &nnames);
    for (size_t i = 0; i < count; i++) {
        const struct cell *c = i < r->ncells ? &r->cells[i] : NULL;
        r->fields[i] = (struct sl_field){
            .name = names[i],
            .value = c ? r->data + c->off : "",
            .len = c ? c->len : 0,
            .kind = c && c->len ? SL_CELL_TEXT : SL_CELL_EMPTY,
        };
    }
    *row = (struct sl_row){r->fields, count, ++r->rows};
    return 1;
}

static int csv_next(struct sl_reader *base, struct sl_row *row, struct sl_error *err)
{
    struct csv_reader *r = (struct csv_reader *)base;
    int rc = r->fault.code;
    while (rc == 0) {
        if ((rc = read_row(r)) != 1)
            break;
        rc = row_is_blank(r) ? 0 : emit_row(r, row); /* a blank row is skipped */
    }
    if (rc < 0 && err)
        *err = r->fault;
    return rc;
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
    if (r->parser_ready)
        csv_free(&r->parser);
    if (r->fd >= 0)
        close(r->fd);
    sl__names_free(r->names);
    free(r->cells);
    free(r->data);
    free(r->fields);
    free(r->chunk);
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

/* Reads the first chunk, skips a BOM, picks the delimiter and sets libcsv up. */
static int start(struct csv_reader *r)
{
    int rc = read_chunk(r);
    if (rc != 0)
        return rc;
    const unsigned char *s = r->chunk;
    if (r->chunk_len >= 2 && ((s[0] == 0xff && s[1] == 0xfe) || (s[0] == 0xfe && s[1] == 0xff)))
        return sl_err_set(&r->fault, SL_EINVALID,
                          "line 1: the file is UTF-16 text; save it as UTF-8");
    if (r->chunk_len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        r->pos = 3;
    unsigned char delim = detect_delimiter(s + r->pos, r->nul_at - r->pos);
    if (csv_init(&r->parser, 0) != 0)
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory");
    r->parser_ready = 1;
    csv_set_delim(&r->parser, delim);
    csv_set_blk_size(&r->parser, CSV_CHUNK);
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
    r->line = r->row_line = 1;
    r->at_line_start = 1;
    if (!(r->chunk = malloc(CSV_CHUNK)) || sl__names_new(&r->names) != 0)
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
