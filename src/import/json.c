/*
 * json: the JSON row readers: a top-level array of objects (sl_reader_open_json) and NDJSON, one
 * object a line (sl_reader_open_ndjson), both streamed through yajl.
 *
 * DESIGN. yajl parses the bytes it is given and calls back per token; it cannot pause inside a
 * buffer. So the reader hands it pieces in which at most one row can end: for a JSON array a
 * piece ends after each '}' byte (a row object can only end there), for NDJSON after each line
 * end. After each piece, a finished row is handed out; the reader thus holds one row, and memory
 * is one 64 KiB chunk plus the largest row (capped: 16 MiB a value or an NDJSON line, 64 MiB and
 * 65536 fields a row, 65536 distinct keys a file).
 *
 * Values: a string is SL_CELL_TEXT; a number SL_CELL_NUMBER with its text as written in the
 * file ("1e3", "-0.5", "12345678901234567890": never rounded through a double); true/false
 * SL_CELL_BOOL; null SL_CELL_EMPTY; an object or array SL_CELL_JSON, re-serialised compactly by
 * yajl_gen (numbers as written, non-ASCII as UTF-8). Strings are not checked for valid UTF-8
 * (the importer does it). A key repeated in one object gives two fields, in order. A UTF-8 BOM
 * is skipped. columns() is the union of the keys seen so far, in first-seen order.
 *
 * Errors: the JSON reader says where by byte and line: the byte (counted from 1) where yajl
 * stopped, which is the offending character or the last one of the offending token; NDJSON says
 * where by line. A top-level value that is not an array, or an element that is not
 * an object, names what it found (elements count from 1, like rows). An empty or blank file is
 * an empty table. NDJSON skips blank lines and wants exactly one object on each other line.
 */
#include "import/reader.h"
#include "import/reader_int.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

/* Defined in reader.c (internal to src/import). */

#define JS_CHUNK      (64 * 1024)        /* bytes read at a time */
#define JS_MAX_VALUE  ((size_t)16 << 20) /* bytes in one value, and in one NDJSON line */
#define JS_MAX_ROW    ((size_t)64 << 20) /* bytes in one row */
#define JS_MAX_FIELDS 65536              /* fields in one row */
#define JS_MAX_KEYS   65536              /* distinct keys in a file */

/* Container depth: 0 outside everything, 1 inside the top-level array (NDJSON: on a line),
 * 2 inside a row object, 3 and more inside a nested value. */
enum { DEPTH_TOP = 1, DEPTH_ROW = 2 };

struct jcell {
    size_t name; /* index in names */
    size_t off;  /* into data */
    size_t len;  /* bytes, without the NUL that follows them in data */
    enum sl_cell_kind kind;
};

struct json_reader {
    struct sl_reader base; /* first: the interface */
    int ndjson;
    int fd;
    unsigned char *chunk;
    size_t chunk_len, pos; /* bytes in chunk; the next one to feed */
    size_t piece;          /* offset in chunk of the piece yajl is parsing */
    long long chunk_at;    /* file offset of chunk[0] */
    long long lines;       /* JSON: line ends before chunk[0]; NDJSON: the current line from 1 */
    size_t line_bytes;     /* NDJSON: bytes of the current line so far */
    int line_values;       /* NDJSON: top-level values begun on the current line */
    int eof;
    yajl_handle parser;
    yajl_gen gen; /* re-serialises a nested value */
    int depth;
    int nonblank;      /* a byte other than JSON whitespace has been fed */
    size_t unfinished; /* bytes fed since the last token: yajl holds a token that long */
    int pending;       /* a row read ahead (by open) waits in cells */
    int64_t elements;  /* array elements or NDJSON values begun */
    size_t key;        /* names index of the current key of the row */
    struct sl__names *names;
    struct jcell *cells; /* the current row's fields */
    size_t ncells, cells_cap;
    char *data; /* their bytes, each followed by a NUL */
    size_t data_len, data_cap;
    int row_done;            /* the current row's object has closed */
    struct sl_field *fields; /* the row handed out by next() */
    size_t fields_cap;
    struct sl_error fault; /* the first error; the reader returns it from then on */
};

/* ---------------------------------------------------------------------------------------------
 * Where we are, for messages
 */

/* File offset, counted from 1, of the byte where yajl is (or stopped). */
static long long byte_pos(const struct json_reader *r)
{
    return r->chunk_at + (long long)r->piece + (long long)yajl_get_bytes_consumed(r->parser);
}

/* "byte N (line L)" for JSON, "line L" for NDJSON. */
static const char *where(const struct json_reader *r, char *buf, size_t cap)
{
    if (r->ndjson) {
        snprintf(buf, cap, "line %lld", r->lines);
        return buf;
    }
    long long at = byte_pos(r);
    long long line = r->lines + 1;
    size_t end = (size_t)(at - r->chunk_at);
    for (size_t i = 0; i + 1 < end && i < r->chunk_len; i++)
        line += r->chunk[i] == '\n';
    snprintf(buf, cap, "byte %lld (line %lld)", at, line);
    return buf;
}

/* Records a fault at the current place; returns rc. */
static int set_fault(struct json_reader *r, int rc, const char *what)
{
    char at[64];
    return sl_err_set(&r->fault, rc, "%s: %s", where(r, at, sizeof at), what);
}

/* For callbacks: records a fault and returns 0, which makes yajl stop. */
static int fail(struct json_reader *r, int rc, const char *what)
{
    set_fault(r, rc, what);
    return 0;
}

static int too_long(struct json_reader *r, const char *what)
{
    char msg[64];
    snprintf(msg, sizeof msg, "%s longer than %zu MiB", what, JS_MAX_VALUE >> 20);
    return set_fault(r, SL_EINVALID, msg);
}

static const char *kind_name(enum sl_cell_kind kind)
{
    switch (kind) {
    case SL_CELL_TEXT:
        return "a string";
    case SL_CELL_NUMBER:
        return "a number";
    case SL_CELL_BOOL:
        return "a boolean";
    case SL_CELL_EMPTY:
        return "null";
    default:
        return "a value";
    }
}

/* A value where a row object should be: at the top of a JSON file, as an element, or a line. */
static int not_a_row(struct json_reader *r, const char *found)
{
    char msg[160];
    if (r->ndjson)
        snprintf(msg, sizeof msg, "expected a JSON object, found %s", found);
    else if (r->depth == 0)
        snprintf(msg, sizeof msg,
                 "the file holds %s, not an array of objects (one object a line is NDJSON: "
                 "name the file .ndjson)",
                 found);
    else
        snprintf(msg, sizeof msg, "array element %lld is %s, not an object",
                 (long long)r->elements + 1, found);
    return fail(r, SL_EINVALID, msg);
}

/* NDJSON: a second value on the line. */
static int second_value(struct json_reader *r)
{
    return fail(r, SL_EINVALID, "more than one JSON value on the line");
}

/* ---------------------------------------------------------------------------------------------
 * Rows
 */

static int add_cell(struct json_reader *r, enum sl_cell_kind kind, const char *s, size_t len)
{
    char msg[96];
    if (r->ncells == JS_MAX_FIELDS) {
        snprintf(msg, sizeof msg, "more than %d fields in one object", JS_MAX_FIELDS);
        return fail(r, SL_EINVALID, msg);
    }
    if (len > JS_MAX_VALUE || r->data_len + len + 1 > JS_MAX_ROW) {
        snprintf(msg, sizeof msg, "%s longer than %zu MiB",
                 len > JS_MAX_VALUE ? "a value" : "an object",
                 (len > JS_MAX_VALUE ? JS_MAX_VALUE : JS_MAX_ROW) >> 20);
        return fail(r, SL_EINVALID, msg);
    }
    if ((r->ncells == r->cells_cap &&
         sl__grow((void **)&r->cells, &r->cells_cap, r->ncells + 1, sizeof *r->cells) != 0) ||
        (r->data_len + len + 1 > r->data_cap &&
         sl__grow((void **)&r->data, &r->data_cap, r->data_len + len + 1, 1) != 0))
        return fail(r, SL_ENOMEM, "out of memory");
    if (len)
        memcpy(r->data + r->data_len, s, len);
    r->data[r->data_len + len] = '\0';
    r->cells[r->ncells++] = (struct jcell){r->key, r->data_len, len, kind};
    r->data_len += len + 1;
    return 1;
}

static int begin_row(struct json_reader *r)
{
    if (r->ndjson && r->line_values++ > 0)
        return second_value(r);
    r->elements++;
    r->ncells = 0;
    r->data_len = 0;
    r->depth = DEPTH_ROW;
    return 1;
}

static int set_key(struct json_reader *r, const char *s, size_t len)
{
    if (sl__names_find(r->names, s, len, &r->key))
        return 1;
    size_t count;
    sl__names_list(r->names, &count);
    if (count == JS_MAX_KEYS) {
        char msg[96];
        snprintf(msg, sizeof msg, "more than %d distinct keys; is this a table?", JS_MAX_KEYS);
        return fail(r, SL_EINVALID, msg);
    }
    if (sl__names_add(r->names, s, len, &r->key) != 0)
        return fail(r, SL_ENOMEM, "out of memory");
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Nested values, re-serialised with yajl_gen
 */

static int gen_ok(struct json_reader *r, yajl_gen_status st)
{
    if (st == yajl_max_depth_exceeded)
        return fail(r, SL_EINVALID, "values nested too deep (the limit is 128 levels)");
    if (st != yajl_gen_status_ok)
        return fail(r, SL_EINVALID, "cannot re-serialise a nested value");
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(r->gen, &buf, &len);
    if (len > JS_MAX_VALUE) {
        too_long(r, "a value");
        return 0;
    }
    return 1;
}

static int gen_scalar(struct json_reader *r, enum sl_cell_kind kind, const char *s, size_t len)
{
    switch (kind) {
    case SL_CELL_TEXT:
        return gen_ok(r, yajl_gen_string(r->gen, (const unsigned char *)s, len));
    case SL_CELL_NUMBER:
        return gen_ok(r, yajl_gen_number(r->gen, s, len));
    case SL_CELL_BOOL:
        return gen_ok(r, yajl_gen_bool(r->gen, len == 4));
    default:
        return gen_ok(r, yajl_gen_null(r->gen));
    }
}

static int open_nested(struct json_reader *r, int is_map)
{
    if (r->depth == DEPTH_ROW) {
        yajl_gen_clear(r->gen);
        yajl_gen_reset(r->gen, NULL);
    }
    r->depth++;
    return gen_ok(r, is_map ? yajl_gen_map_open(r->gen) : yajl_gen_array_open(r->gen));
}

/* Closes a nested container; back in the row, its text becomes the field's value. */
static int close_nested(struct json_reader *r, int is_map)
{
    if (!gen_ok(r, is_map ? yajl_gen_map_close(r->gen) : yajl_gen_array_close(r->gen)))
        return 0;
    if (--r->depth > DEPTH_ROW)
        return 1;
    const unsigned char *buf;
    size_t len;
    yajl_gen_get_buf(r->gen, &buf, &len);
    return add_cell(r, SL_CELL_JSON, (const char *)buf, len);
}

/* ---------------------------------------------------------------------------------------------
 * yajl callbacks: each returns 1 to go on, or 0 (with r->fault set) to stop the parse.
 */

/* The reader of a callback, which has just seen a whole token. */
static struct json_reader *token_seen(void *ctx)
{
    struct json_reader *r = ctx;
    r->unfinished = 0;
    return r;
}

static int on_scalar(struct json_reader *r, enum sl_cell_kind kind, const char *s, size_t len)
{
    token_seen(r);
    if (r->depth > DEPTH_ROW)
        return gen_scalar(r, kind, s, len);
    if (r->depth == DEPTH_ROW)
        return add_cell(r, kind, s, len);
    if (r->ndjson && r->line_values > 0)
        return second_value(r);
    return not_a_row(r, kind_name(kind));
}

static int js_null(void *ctx)
{
    return on_scalar(ctx, SL_CELL_EMPTY, "", 0);
}

static int js_boolean(void *ctx, int b)
{
    return on_scalar(ctx, SL_CELL_BOOL, b ? "true" : "false", b ? 4 : 5);
}

static int js_number(void *ctx, const char *s, size_t len)
{
    return on_scalar(ctx, SL_CELL_NUMBER, s, len);
}

static int js_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_scalar(ctx, SL_CELL_TEXT, (const char *)s, len);
}

static int js_start_map(void *ctx)
{
    struct json_reader *r = token_seen(ctx);
    if (r->depth >= DEPTH_ROW)
        return open_nested(r, 1);
    if (r->depth == DEPTH_TOP)
        return begin_row(r);
    return not_a_row(r, "an object");
}

static int js_map_key(void *ctx, const unsigned char *s, size_t len)
{
    struct json_reader *r = token_seen(ctx);
    if (r->depth > DEPTH_ROW)
        return gen_ok(r, yajl_gen_string(r->gen, s, len));
    return set_key(r, (const char *)s, len);
}

static int js_end_map(void *ctx)
{
    struct json_reader *r = token_seen(ctx);
    if (r->depth > DEPTH_ROW)
        return close_nested(r, 1);
    r->depth = DEPTH_TOP;
    r->row_done = 1;
    return 1;
}

static int js_start_array(void *ctx)
{
    struct json_reader *r = token_seen(ctx);
    if (r->depth >= DEPTH_ROW)
        return open_nested(r, 0);
    if (r->depth == DEPTH_TOP)
        return r->ndjson && r->line_values > 0 ? second_value(r) : not_a_row(r, "an array");
    r->depth = DEPTH_TOP;
    return 1;
}

static int js_end_array(void *ctx)
{
    struct json_reader *r = token_seen(ctx);
    if (r->depth > DEPTH_ROW)
        return close_nested(r, 0);
    r->depth = 0; /* the top-level array is closed */
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = js_null,
    .yajl_boolean = js_boolean,
    .yajl_number = js_number,
    .yajl_string = js_string,
    .yajl_start_map = js_start_map,
    .yajl_map_key = js_map_key,
    .yajl_end_map = js_end_map,
    .yajl_start_array = js_start_array,
    .yajl_end_array = js_end_array,
};

/* ---------------------------------------------------------------------------------------------
 * Feeding yajl
 */

/* After yajl failed: our own fault, or yajl's message about the JSON. */
static int parse_error(struct json_reader *r, const unsigned char *s, size_t n)
{
    if (r->fault.code)
        return r->fault.code;
    unsigned char *msg = yajl_get_error(r->parser, 0, s, n);
    const char *text = msg ? (const char *)msg : "unknown error";
    const char *colon = strstr(text, "error: ");
    if (colon)
        text = colon + strlen("error: ");
    char buf[SL_ERROR_MSG_MAX];
    snprintf(buf, sizeof buf, "invalid JSON: %.*s", (int)strcspn(text, "\r\n"), text);
    if (msg)
        yajl_free_error(r->parser, msg);
    return set_fault(r, SL_EINVALID, buf);
}

static int read_chunk(struct json_reader *r)
{
    const unsigned char *p = r->chunk, *end = r->chunk + r->chunk_len;
    while (!r->ndjson && (p = memchr(p, '\n', (size_t)(end - p))) != NULL && p++)
        r->lines++;
    r->chunk_at += (long long)r->chunk_len;
    ssize_t n;
    do
        n = read(r->fd, r->chunk, JS_CHUNK);
    while (n < 0 && errno == EINTR);
    r->chunk_len = 0;
    r->pos = r->piece = 0;
    if (n < 0)
        return sl_err_set(&r->fault, SL_EIO, "cannot read the file: %s", strerror(errno));
    r->chunk_len = (size_t)n;
    return 0;
}

/* NDJSON: the line is over; its value, if any, must be complete. */
static int end_line(struct json_reader *r)
{
    if (r->line_values > 0 && r->depth != DEPTH_TOP)
        return set_fault(r, SL_EINVALID, "unexpected end of line: the object is not closed");
    r->lines++;
    r->line_bytes = 0;
    r->line_values = 0;
    return 0;
}

/* Feeds yajl the next piece: through the next '}' (JSON) or line end (NDJSON). */
static int feed_piece(struct json_reader *r)
{
    const unsigned char *s = r->chunk + r->pos;
    size_t n = r->chunk_len - r->pos;
    const unsigned char *stop = memchr(s, r->ndjson ? '\n' : '}', n);
    if (stop)
        n = (size_t)(stop - s) + 1;
    r->piece = r->pos;
    if (r->ndjson && (r->line_bytes += n) > JS_MAX_VALUE)
        return too_long(r, "a line");
    for (size_t i = 0; !r->nonblank && i < n; i++)
        r->nonblank = !memchr(" \t\r\n", s[i], 4);
    if (yajl_parse(r->parser, s, n) != yajl_status_ok)
        return parse_error(r, s, n);
    r->pos += n;
    if ((r->unfinished += n) > JS_MAX_VALUE + JS_CHUNK) /* a huge string or number */
        return too_long(r, "a value");
    return r->ndjson && stop ? end_line(r) : 0;
}

/* At the end of the file: the array (or the last line's object) must be complete. */
static int finish(struct json_reader *r)
{
    r->eof = 1;
    if (!r->nonblank)
        return 0; /* an empty or blank file: no rows */
    if (r->ndjson && r->line_values > 0 && r->depth != DEPTH_TOP)
        return set_fault(r, SL_EINVALID, "unexpected end of file: the object is not closed");
    if (yajl_complete_parse(r->parser) == yajl_status_ok)
        return r->ndjson ? end_line(r) : 0;
    if (r->fault.code || r->ndjson)
        return parse_error(r, NULL, 0);
    return sl_err_set(&r->fault, SL_EINVALID,
                      "byte %lld (line %lld): unexpected end of file: the JSON array is not "
                      "closed",
                      r->chunk_at, r->lines + 1);
}

/* Feeds yajl until a row is done: 1 with the row in cells, 0 at the end, or an SL_E* code. */
static int read_row(struct json_reader *r)
{
    int rc;
    r->row_done = 0;
    while (!r->row_done) {
        if (r->fault.code)
            return r->fault.code;
        if (r->pos < r->chunk_len) {
            if ((rc = feed_piece(r)) != 0)
                return rc;
        } else if (r->eof) {
            return 0;
        } else if ((rc = read_chunk(r)) != 0) {
            return rc;
        } else if (r->chunk_len == 0 && (rc = finish(r)) != 0) {
            return rc;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * The reader
 */

static int emit_row(struct json_reader *r, struct sl_row *row)
{
    if (sl__grow((void **)&r->fields, &r->fields_cap, r->ncells, sizeof *r->fields) != 0)
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory");
    size_t n;
    const char *const *names = sl__names_list(r->names, &n);
    for (size_t i = 0; i < r->ncells; i++) {
        const struct jcell *c = &r->cells[i];
        r->fields[i] = (struct sl_field){names[c->name], r->data + c->off, c->len, c->kind};
    }
    *row = (struct sl_row){r->fields, r->ncells, r->elements};
    return 1;
}

static int json_next(struct sl_reader *base, struct sl_row *row, struct sl_error *err)
{
    struct json_reader *r = (struct json_reader *)base;
    int rc = r->pending ? 1 : read_row(r);
    r->pending = 0;
    if (rc == 1)
        rc = emit_row(r, row);
    if (rc < 0 && err)
        *err = r->fault;
    return rc;
}

static const char *const *json_columns(struct sl_reader *base, size_t *count)
{
    struct json_reader *r = (struct json_reader *)base;
    return sl__names_list(r->names, count);
}

static void json_close(struct sl_reader *base)
{
    struct json_reader *r = (struct json_reader *)base;
    if (r->parser)
        yajl_free(r->parser);
    if (r->gen)
        yajl_gen_free(r->gen);
    if (r->fd >= 0)
        close(r->fd);
    sl__names_free(r->names);
    free(r->cells);
    free(r->data);
    free(r->fields);
    free(r->chunk);
    free(r);
}

static const struct sl_reader_ops json_ops = {"json", json_next, json_columns, json_close};
static const struct sl_reader_ops ndjson_ops = {"ndjson", json_next, json_columns, json_close};

/* Allocates what the reader needs, reads the first chunk and skips a BOM. */
static int start(struct json_reader *r, const char *path)
{
    if (!(r->chunk = malloc(JS_CHUNK)) || sl__names_new(&r->names) != 0 ||
        !(r->parser = yajl_alloc(&callbacks, NULL, r)) || !(r->gen = yajl_gen_alloc(NULL)))
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory");
    yajl_config(r->parser, yajl_dont_validate_strings, 1);
    if (r->ndjson)
        yajl_config(r->parser, yajl_allow_multiple_values, 1);
    if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sl_err_set(&r->fault, SL_EIO, "cannot open the file: %s", strerror(errno));
    int rc = read_chunk(r);
    if (rc == 0 && r->chunk_len >= 3 && memcmp(r->chunk, "\xef\xbb\xbf", 3) == 0)
        r->pos = 3;
    return rc;
}

static int open_reader(const char *path, int ndjson, struct sl_reader **out, struct sl_error *err)
{
    *out = NULL;
    struct json_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->base.ops = ndjson ? &ndjson_ops : &json_ops;
    r->ndjson = ndjson;
    r->fd = -1;
    r->depth = ndjson ? DEPTH_TOP : 0;
    r->lines = ndjson ? 1 : 0;
    int rc = start(r, path);
    if (rc == 0 && (rc = read_row(r)) == 1) /* reads ahead: columns, and early errors */
        r->pending = 1;
    if (rc < 0) {
        if (err)
            *err = r->fault;
        json_close(&r->base);
        return rc;
    }
    *out = &r->base;
    return 0;
}

int sl_reader_open_json(const char *path, struct sl_reader **out, struct sl_error *err)
{
    return open_reader(path, 0, out, err);
}

int sl_reader_open_ndjson(const char *path, struct sl_reader **out, struct sl_error *err)
{
    return open_reader(path, 1, out, err);
}
