/*
 * The import hot path writes each record's JSON text itself, straight into one arena per batch
 * (see util/jsontext.h), rather than building a jansson object per row: per-row allocations were
 * the largest cost after SQLite itself (bench/import.sh). Values a schema converts are still
 * jansson values, encoded into the same arena. Column names are escaped once and reused while
 * they stay the same; text with nothing to escape is copied whole.
 *
 * A row of a file with a header row (CSV, TSV, sheets) whose cells are the header's columns, in
 * order, is written as an array of its values, the names going to the store once per batch
 * (record_data.h): a third fewer bytes for the store to write. Other rows (JSON objects, cells
 * beyond the header) are written as objects. Both read back as the same object.
 *
 * A batch is one store transaction: up to SL_IMPORT_BATCH_ROWS records or SL_IMPORT_BATCH_BYTES
 * of text, whichever comes first. Fewer, larger commits cost fewer fsyncs (every commit is
 * durable) and let the store write each page it touches once per batch.
 */
#include "core/jobfile.h"
#include "import/importer.h"
#include "import/reader.h"
#include "import/schema.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/jsontext.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PROGRESS_EVERY_MS 1000
#define KEY_MAX           512
#define ARENA_MAX         ((size_t)1 << 30)  /* a batch's text; far above any real batch */
#define ROW_MAX           ((size_t)64 << 20) /* one record's JSON text */
#define NAME_CACHE        256                /* columns whose escaped names are kept */

/* A column name as JSON text ("name":), kept while the column at that place keeps its name. */
struct name {
    char *raw, *json; /* the name; its escaped text with the colon */
    size_t raw_len, json_len;
};

/* A batch: record texts and keys live in the arena, at these offsets; and the row errors. */
struct batch {
    struct sl_buf arena;
    size_t *key_off, *text_off;
    struct sl_record_in *recs;
    size_t nrecs;
    struct sl_row_error *errs;
    char *(*err_text)[3]; /* owned field, value, message */
    size_t nerrs;
};

/*
 * The store writes a batch on a thread of its own while the next one is read and converted: the
 * two halves of an import (parsing and converting; the store's b-tree and the kernel's writing)
 * then use two cores, and a batch's durable commit no longer stalls the reading. One batch is
 * in the writer at a time, so batches still commit in order, and a failed one stops the import
 * before the next is written.
 */
struct writer {
    struct batch b;
    struct sl_proc_ctx *ctx;
    const char *columns;
    int64_t first_seq;
    pthread_t thread;
    int running;
    int rc;
    struct sl_error err;
    int64_t created, updated;
};

struct import {
    struct sl_proc_ctx *ctx;
    const struct sl_schema *schema;
    struct sl_reader *reader;
    int64_t total, success, error_rows, created, updated, error_seq;
    struct batch b;  /* the batch being filled */
    struct writer w; /* the batch being written, meanwhile */
    /* The row being built, in the arena from row_at on. */
    size_t row_at;
    char key[KEY_MAX];
    char key_prefix[SL_UUID_MAX + 2]; /* "<jobId>:" */
    size_t key_prefix_len;
    struct name names[NAME_CACHE];
    /* The header's names as a JSON array (NULL: rows are written as objects), and how many. */
    char *columns;
    size_t ncols;
    unsigned char *seen;    /* per schema field: present in this row */
    json_t *summary_errors; /* the first SL_IMPORT_SUMMARY_ERRORS */
    int64_t last_progress;
};

static void free_errors(struct batch *b)
{
    for (size_t i = 0; i < b->nerrs; i++)
        for (int k = 0; k < 3; k++)
            free(b->err_text[i][k]);
    b->nerrs = 0;
}

/* The writer thread: the batch's records, then its row errors. */
static void *write_batch(void *arg)
{
    struct writer *w = arg;
    const struct sl_job *job = w->ctx->job;
    w->created = w->updated = 0;
    w->rc = 0;
    if (w->b.nrecs)
        w->rc = sl_store_upsert_records(w->ctx->store, job->tenant, job->type, job->id, w->columns,
                                        w->b.recs, w->b.nrecs, sl_now_ms(), &w->created,
                                        &w->updated, &w->err);
    if (w->rc == 0 && w->b.nerrs)
        w->rc = sl_store_add_row_errors(w->ctx->store, job->id, w->first_seq, w->b.errs, w->b.nerrs,
                                        &w->err);
    return NULL;
}

/* Takes the written batch's outcome: its counts join the import's, its error becomes err. */
static int collect(struct import *im, struct sl_error *err)
{
    struct writer *w = &im->w;
    free_errors(&w->b);
    if (w->rc) {
        *err = w->err;
        return w->rc;
    }
    im->created += w->created;
    im->updated += w->updated;
    return 0;
}

/* Waits for the batch in the writer, if any, and collects it. */
static int wait_writer(struct import *im, struct sl_error *err)
{
    if (!im->w.running)
        return 0;
    pthread_join(im->w.thread, NULL);
    im->w.running = 0;
    return collect(im, err);
}

/* Hands the batch to the writer (after the one before it is written) and starts an empty one.
 * A row error can end a batch in the middle of a row: that row is bad, so its text, left behind
 * here, was not to be kept anyway. */
static int flush(struct import *im, struct sl_error *err)
{
    int rc = wait_writer(im, err);
    if (rc)
        return rc;
    struct batch full = im->b;
    im->b = im->w.b; /* the written one's buffers, emptied, take the next rows */
    im->b.nrecs = 0;
    sl_buf_reset(&im->b.arena);
    im->row_at = 0;
    im->w.b = full;
    for (size_t i = 0; i < full.nrecs; i++) /* the arena may have moved while growing */
        im->w.b.recs[i] = (struct sl_record_in){full.arena.data + full.key_off[i],
                                                full.arena.data + full.text_off[i]};
    im->w.columns = im->columns;
    im->w.first_seq = im->error_seq + 1;
    im->error_seq += (int64_t)full.nerrs;
    if (full.nrecs == 0 && full.nerrs == 0)
        return 0;
    if (pthread_create(&im->w.thread, NULL, write_batch, &im->w) == 0) {
        im->w.running = 1;
        return 0;
    }
    write_batch(&im->w); /* no thread to be had: write it here */
    return collect(im, err);
}

static json_t *summary(struct import *im)
{
    json_t *cols = json_array();
    size_t n = 0;
    const char *const *names = sl_reader_columns(im->reader, &n);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(cols, json_string(names[i]));
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:O}", "format",
                     sl_reader_format(im->reader), "totalRows", (json_int_t)im->total,
                     "processedRows", (json_int_t)im->total, "successRows", (json_int_t)im->success,
                     "errorRows", (json_int_t)im->error_rows, "created", (json_int_t)im->created,
                     "updated", (json_int_t)im->updated, "columns", cols, "errors",
                     im->summary_errors);
}

/* Records a row error (copied), flushing when the batch of errors is full. */
static int add_error(struct import *im, int64_t row, const char *field, const struct sl_field *cell,
                     const char *message, struct sl_error *err)
{
    if (im->b.nerrs == SL_IMPORT_BATCH_ROWS) {
        int rc = flush(im, err);
        if (rc)
            return rc;
    }
    char **t = im->b.err_text[im->b.nerrs];
    t[0] = field ? strdup(field) : NULL;
    if (cell) { /* the value as text people can read: valid UTF-8, at most 1 KiB */
        char shown[1025];
        sl_utf8_sanitize(cell->value, cell->len, shown, sizeof shown);
        t[1] = strdup(shown);
    } else {
        t[1] = NULL;
    }
    t[2] = strdup(message);
    im->b.errs[im->b.nerrs++] = (struct sl_row_error){row, t[0], t[1], t[2]};
    if (json_array_size(im->summary_errors) < SL_IMPORT_SUMMARY_ERRORS) {
        json_t *value = t[1] ? json_string(t[1]) : json_null();
        json_array_append_new(im->summary_errors,
                              json_pack("{s:I, s:o, s:o, s:s}", "row", (json_int_t)row, "field",
                                        field ? json_string(field) : json_null(), "value",
                                        value ? value : json_string("(not UTF-8)"), "message",
                                        message));
    }
    return t[2] ? 0 : SL_ENOMEM;
}

/* ---------------------------------------------------------------------------------------------
 * Writing JSON text into the arena
 */

/* 1 when s[0..n) is ASCII with nothing to escape in JSON (no control byte, quote or backslash). */
static int plain_ascii(const unsigned char *s, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        /* signed: bytes from 0x80 are negative, so below 0x20 too */
        __m128i odd =
            _mm_or_si128(_mm_cmplt_epi8(x, space),
                         _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)));
        if (_mm_movemask_epi8(odd))
            return 0;
    }
#endif
    for (; i < n; i++)
        if (s[i] < 0x20 || s[i] >= 0x80 || s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

static int append_bytes(struct sl_buf *b, const char *s, size_t n)
{
    int rc = 0;
    char *p = sl_buf_reserve(b, n, &rc);
    if (!p)
        return rc;
    memcpy(p, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Appends s[0..n) as a JSON string: copied whole when it needs no escaping, else through
 * sl_json_append_string (which also checks UTF-8). SL_EINVALID when it is not valid UTF-8. */
static int append_string(struct sl_buf *b, const char *s, size_t n)
{
    if (!plain_ascii((const unsigned char *)s, n))
        return sl_json_append_string(b, s, n);
    int rc = 0;
    char *p = sl_buf_reserve(b, n + 2, &rc);
    if (!p)
        return rc;
    p[0] = '"';
    memcpy(p + 1, s, n);
    p[n + 1] = '"';
    b->len += n + 2;
    b->data[b->len] = '\0';
    return 0;
}

/* Appends the i-th column's name as `"name":`, escaped once while that column keeps its name.
 * SL_EINVALID when the name is not valid UTF-8. */
static int append_name(struct import *im, size_t i, const char *name)
{
    size_t n = strlen(name);
    struct name *c = i < NAME_CACHE ? &im->names[i] : NULL;
    if (c && c->json && c->raw_len == n && memcmp(c->raw, name, n) == 0)
        return append_bytes(&im->b.arena, c->json, c->json_len);
    struct sl_buf t;
    sl_buf_init(&t, ROW_MAX);
    int rc = sl_json_append_string(&t, name, n);
    if (rc == 0)
        rc = sl_buf_putc(&t, ':');
    if (rc == 0)
        rc = append_bytes(&im->b.arena, t.data, t.len);
    if (rc == 0 && c) { /* keep it for the next rows */
        char *raw = malloc(n + 1);
        if (raw) {
            memcpy(raw, name, n + 1);
            free(c->raw);
            free(c->json);
            *c = (struct name){raw, t.data, n, t.len};
            return 0;
        }
    }
    sl_buf_fini(&t);
    return rc;
}

/* Appends a cell's value without a schema: strings, numbers, booleans and nested JSON as they
 * are, empty cells as null. SL_EINVALID when the text is not valid UTF-8. */
static int append_raw(struct sl_buf *b, const struct sl_field *c)
{
    switch (c->kind) {
    case SL_CELL_EMPTY:
        return append_bytes(b, "null", 4);
    case SL_CELL_BOOL:
        return c->len == 4 && memcmp(c->value, "true", 4) == 0 ? append_bytes(b, "true", 4)
                                                               : append_bytes(b, "false", 5);
    case SL_CELL_NUMBER:
        if (sl_json_number_valid(c->value, c->len))
            return append_bytes(b, c->value, c->len);
        return append_string(b, c->value, c->len);
    case SL_CELL_JSON: /* the JSON readers re-serialise nested values: valid, compact */
        return append_bytes(b, c->value, c->len);
    default:
        return append_string(b, c->value, c->len);
    }
}

/* Appends a converted value; a string one also becomes the key when its field is the key. */
static int append_value(struct import *im, const struct sl_schema_field *f, json_t *v)
{
    int rc;
    int is_key = im->schema->key && strcmp(f->name, im->schema->key) == 0;
    if (json_is_string(v)) {
        rc = append_string(&im->b.arena, json_string_value(v), json_string_length(v));
        if (is_key && json_string_length(v) > 0 && json_string_length(v) < KEY_MAX)
            snprintf(im->key, sizeof im->key, "%s", json_string_value(v));
        return rc;
    }
    if (is_key && json_is_integer(v))
        snprintf(im->key, sizeof im->key, "%lld", (long long)json_integer_value(v));
    char tmp[64];
    size_t n = json_dumpb(v, tmp, sizeof tmp, JSON_ENCODE_ANY | JSON_COMPACT);
    if (n <= sizeof tmp)
        return append_bytes(&im->b.arena, tmp, n);
    char *big = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    rc = big ? sl_buf_puts(&im->b.arena, big) : SL_ENOMEM;
    free(big);
    return rc;
}

/* Appends one cell, converted per its schema field or as is; a bad value is a row error. */
static int convert_cell(struct import *im, const struct sl_row *row, const struct sl_field *cell,
                        int *bad, struct sl_error *err)
{
    const struct sl_schema_field *f = im->schema ? sl_schema_find(im->schema, cell->name) : NULL;
    char why[128];
    int rc;
    if (f) {
        json_t *v = NULL;
        im->seen[f - im->schema->fields] = 1;
        if (sl_schema_convert(f, cell, &v, why, sizeof why) != 0) {
            *bad = 1;
            return add_error(im, row->number, cell->name, cell, why, err);
        }
        rc = append_value(im, f, v);
        json_decref(v);
    } else if (im->schema) { /* columns the schema does not name are kept as strings */
        rc = cell->kind == SL_CELL_EMPTY ? append_bytes(&im->b.arena, "null", 4)
                                         : append_string(&im->b.arena, cell->value, cell->len);
    } else {
        rc = append_raw(&im->b.arena, cell);
    }
    if (rc == SL_EINVALID) {
        *bad = 1;
        return add_error(im, row->number, cell->name, cell, "is not valid UTF-8", err);
    }
    return rc;
}

/* Required fields the row does not have at all are errors too. */
static int check_missing(struct import *im, const struct sl_row *row, int *bad,
                         struct sl_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && im->schema && i < im->schema->count; i++) {
        if (im->schema->fields[i].required && !im->seen[i]) {
            *bad = 1;
            rc = add_error(im, row->number, im->schema->fields[i].name, NULL, "is required", err);
        }
    }
    return rc;
}

/*
 * Takes the reader's header as the column list of compact rows, once, when its format has one
 * and every name is valid UTF-8 (else rows stay objects, and a bad name is reported per row).
 */
static int take_columns(struct import *im)
{
    const char *format = sl_reader_format(im->reader);
    size_t n = 0;
    if (strcmp(format, "csv") != 0 && strcmp(format, "tsv") != 0 && strcmp(format, "xlsx") != 0 &&
        strcmp(format, "xls") != 0)
        return 0;
    const char *const *names = sl_reader_columns(im->reader, &n);
    struct sl_buf b;
    sl_buf_init(&b, ROW_MAX);
    int rc = sl_buf_putc(&b, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = sl_buf_putc(&b, ',');
        if (rc == 0)
            rc = sl_json_append_string(&b, names[i], strlen(names[i]));
    }
    if (rc == 0 && n > 0 && (rc = sl_buf_putc(&b, ']')) == 0) {
        im->columns = b.data;
        im->ncols = n;
        return 0;
    }
    sl_buf_fini(&b);
    return rc == SL_ENOMEM ? rc : 0;
}

/*
 * 1 when the row's cells are the header's columns (all or the first ones), in order: then its
 * values alone say it. Names are compared by address: a header reader hands out its own name
 * strings, and the first ncols of them are the header's for the reader's whole life.
 */
static int row_is_compact(struct import *im, const struct sl_row *row)
{
    size_t n = 0;
    if (!im->columns || row->count > im->ncols)
        return 0;
    const char *const *names = sl_reader_columns(im->reader, &n);
    if (n < row->count)
        return 0;
    for (size_t i = 0; i < row->count; i++)
        if (row->fields[i].name != names[i])
            return 0;
    return 1;
}

/* Appends the name of the row's i-th cell; a name that is not UTF-8 is a row error. */
static int append_cell_name(struct import *im, const struct sl_row *row, size_t i, int *bad,
                            struct sl_error *err)
{
    int rc = append_name(im, i, row->fields[i].name);
    if (rc != SL_EINVALID)
        return rc;
    *bad = 1;
    rc = add_error(im, row->number, NULL, NULL, "a column name is not valid UTF-8", err);
    return rc ? rc : append_bytes(&im->b.arena, "\"\":", 3);
}

/* Builds the row's JSON text (an object, or an array under the columns) at the end of the arena,
 * from row_at on; *bad when a value was refused. */
static int encode_row(struct import *im, const struct sl_row *row, int *bad, struct sl_error *err)
{
    int rc, compact = row_is_compact(im, row);
    im->row_at = im->b.arena.len;
    im->key[0] = '\0';
    if (im->schema)
        memset(im->seen, 0, im->schema->count);
    rc = append_bytes(&im->b.arena, compact ? "[" : "{", 1);
    for (size_t i = 0; rc == 0 && i < row->count; i++) {
        /* Every cell is converted even after a bad one, so a row reports all its errors; the
         * text of a bad row is simply not kept. */
        const struct sl_field *cell = &row->fields[i];
        if (i > 0)
            rc = append_bytes(&im->b.arena, ",", 1);
        if (rc == 0 && !compact)
            rc = append_cell_name(im, row, i, bad, err);
        if (rc == 0)
            rc = convert_cell(im, row, cell, bad, err);
        if (rc == 0 && im->b.arena.len - im->row_at > ROW_MAX)
            rc = SL_ETOO_LARGE;
    }
    if (rc == 0)
        rc = check_missing(im, row, bad, err);
    /* with the NUL that ends the text */
    return rc ? rc : append_bytes(&im->b.arena, compact ? "]" : "}", 2);
}

/* Writes the decimal digits of v (>= 0) at p; returns how many. */
static size_t put_decimal(char *p, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* Keeps the row just built (its text ends with its NUL) under its key, written after it. */
static int keep_row(struct import *im, const struct sl_row *row, struct sl_error *err)
{
    size_t text_off = im->row_at, key_off = im->b.arena.len;
    int rc = 0;
    char *p;
    if (im->key[0]) {
        rc = append_bytes(&im->b.arena, im->key, strlen(im->key) + 1);
    } else if ((p = sl_buf_reserve(&im->b.arena, im->key_prefix_len + 24, &rc)) != NULL) {
        memcpy(p, im->key_prefix, im->key_prefix_len); /* "<jobId>:<row>" */
        size_t n = im->key_prefix_len + put_decimal(p + im->key_prefix_len, row->number);
        p[n] = '\0';
        im->b.arena.len += n + 1;
        im->b.arena.data[im->b.arena.len] = '\0';
    }
    if (rc)
        return rc;
    im->b.key_off[im->b.nrecs] = key_off;
    im->b.text_off[im->b.nrecs] = text_off;
    im->b.nrecs++;
    im->success++;
    if (im->b.nrecs == SL_IMPORT_BATCH_ROWS || im->b.arena.len >= SL_IMPORT_BATCH_BYTES)
        return flush(im, err);
    return 0;
}

static int import_row(struct import *im, const struct sl_row *row, struct sl_error *err)
{
    int bad = 0;
    int rc = encode_row(im, row, &bad, err);
    im->total++;
    if (rc == 0 && bad) { /* the row's text is dropped */
        im->b.arena.len = im->row_at;
        im->b.arena.data[im->b.arena.len] = '\0';
        im->error_rows++;
    }
    if (rc || bad)
        return rc;
    return keep_row(im, row, err);
}

/* Publishes the counters now and then; stops the import when the lease is lost. */
static int progress(struct import *im, struct sl_error *err)
{
    if (im->total % 256 != 1) /* the clock is read at the first row, then every 256 */
        return 0;
    int64_t now = sl_now_ms();
    if (now > im->ctx->deadline_ms)
        return sl_err_set(err, SL_EPROCESS,
                          "import timed out after %lld rows (SLUICE_JOB_TIMEOUT_SECONDS)",
                          (long long)im->total);
    if (now - im->last_progress < PROGRESS_EVERY_MS)
        return 0;
    im->last_progress = now;
    json_t *s = summary(im);
    char *text = s ? json_dumps(s, JSON_COMPACT) : NULL;
    json_decref(s);
    int rc =
        text ? sl_store_progress(im->ctx->store, im->ctx->job->id, im->ctx->job->fence, text, err)
             : 0;
    free(text);
    return rc == SL_EFENCED ? rc : 0; /* a failed progress write is not a failed import */
}

/* A broken file fails the job, not the service: the reader's SL_EINVALID becomes SL_EPROCESS
 * with the reader's message (which says where). */
static int file_fault(int rc, struct sl_error *err)
{
    char msg[SL_ERROR_MSG_MAX];
    if (rc != SL_EINVALID)
        return rc;
    snprintf(msg, sizeof msg, "%s", err->msg);
    return sl_err_set(err, SL_EPROCESS, "%s", msg);
}

static int run(struct import *im, struct sl_error *err)
{
    struct sl_row row;
    int rc;
    if ((rc = sl_store_clear_row_errors(im->ctx->store, im->ctx->job->id, err)) != 0 ||
        (rc = take_columns(im)) != 0)
        return rc;
    while ((rc = sl_reader_next(im->reader, &row, err)) == 1) {
        if ((rc = import_row(im, &row, err)) != 0 || (rc = progress(im, err)) != 0)
            return rc == SL_ETOO_LARGE
                       ? sl_err_set(err, SL_EPROCESS, "row %lld is too large to store",
                                    (long long)row.number)
                       : rc;
    }
    if (rc < 0)
        return file_fault(rc, err);
    return (rc = flush(im, err)) != 0 ? rc : wait_writer(im, err);
}

static void batch_fini(struct batch *b)
{
    free_errors(b);
    sl_buf_fini(&b->arena);
    free(b->key_off);
    free(b->text_off);
    free(b->recs);
    free(b->errs);
    free(b->err_text);
}

static int batch_init(struct batch *b)
{
    sl_buf_init(&b->arena, ARENA_MAX);
    b->key_off = malloc(SL_IMPORT_BATCH_ROWS * sizeof *b->key_off);
    b->text_off = malloc(SL_IMPORT_BATCH_ROWS * sizeof *b->text_off);
    b->recs = malloc(SL_IMPORT_BATCH_ROWS * sizeof *b->recs);
    b->errs = malloc(SL_IMPORT_BATCH_ROWS * sizeof *b->errs);
    b->err_text = calloc(SL_IMPORT_BATCH_ROWS, sizeof *b->err_text);
    return b->key_off && b->text_off && b->recs && b->errs && b->err_text ? 0 : SL_ENOMEM;
}

static void import_free(struct import *im)
{
    struct sl_error ignored = {0};
    wait_writer(im, &ignored); /* an import that failed may still have a batch in the writer */
    batch_fini(&im->b);
    batch_fini(&im->w.b);
    sl_reader_close(im->reader);
    json_decref(im->summary_errors);
    free(im->columns);
    for (size_t i = 0; i < NAME_CACHE; i++) {
        free(im->names[i].raw);
        free(im->names[i].json);
    }
    free(im->seen);
    free(im);
}

static struct import *import_new(struct sl_proc_ctx *ctx)
{
    struct import *im = calloc(1, sizeof *im);
    if (!im)
        return NULL;
    im->ctx = ctx;
    im->schema = ctx->arg;
    im->last_progress = sl_now_ms();
    im->key_prefix_len =
        (size_t)snprintf(im->key_prefix, sizeof im->key_prefix, "%s:", ctx->job->id);
    im->summary_errors = json_array();
    im->seen = calloc(im->schema ? im->schema->count + 1 : 1, 1);
    im->w.ctx = ctx;
    int rc_b = batch_init(&im->b), rc_w = batch_init(&im->w.b);
    if (!im->summary_errors || !im->seen || rc_b || rc_w) {
        import_free(im);
        return NULL;
    }
    return im;
}

int sl_proc_import(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    char path[64];
    int64_t size;
    int fd = -1, rc;
    struct import *im = import_new(ctx);

    *result = NULL;
    if (!im)
        return SL_ENOMEM;
    if ((rc = sl_job_open_file(ctx->blob, ctx->store, ctx->job, &fd, &size, err)) != 0)
        goto out;
    /* Readers take a path (libzip and freexl want one); the open blob is reachable by fd. */
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if ((rc = sl_reader_open(path, ctx->job->file_name, &im->reader, err)) != 0) {
        rc = file_fault(rc, err);
        goto out;
    }
    if ((rc = run(im, err)) != 0)
        goto out;
    json_t *s = summary(im);
    *result = s ? json_dumps(s, JSON_COMPACT) : NULL;
    json_decref(s);
    rc = *result ? 0 : SL_ENOMEM;
out:
    import_free(im);
    if (fd >= 0)
        close(fd);
    return rc;
}
