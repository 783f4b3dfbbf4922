/*
 * The import hot path writes each record's JSON text itself, into one arena per batch (see
 * util/jsontext.h), rather than building a jansson object per row: per-row allocations were the
 * largest cost after SQLite itself (bench/import.sh). Values a schema converts are still jansson
 * values, encoded into the same arena.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_EVERY_MS 1000
#define KEY_MAX           512
#define ARENA_MAX         ((size_t)1 << 30)  /* a batch's text; far above any real batch */
#define ROW_MAX           ((size_t)64 << 20) /* one record's JSON text */

struct import {
    struct sl_proc_ctx *ctx;
    const struct sl_schema *schema;
    struct sl_reader *reader;
    int64_t total, success, error_rows, created, updated, error_seq;
    /* The batch: record texts and keys live in the arena, at these offsets. */
    struct sl_buf arena;
    size_t key_off[SL_IMPORT_BATCH_ROWS], text_off[SL_IMPORT_BATCH_ROWS];
    struct sl_record_in recs[SL_IMPORT_BATCH_ROWS];
    size_t nrecs;
    struct sl_row_error errs[SL_IMPORT_BATCH_ROWS];
    char *err_text[SL_IMPORT_BATCH_ROWS][3]; /* owned field, value, message */
    size_t nerrs;
    /* The row being built. */
    struct sl_buf row;
    char key[KEY_MAX];
    unsigned char *seen;    /* per schema field: present in this row */
    json_t *summary_errors; /* the first SL_IMPORT_SUMMARY_ERRORS */
    int64_t last_progress;
};

static void free_errors(struct import *im)
{
    for (size_t i = 0; i < im->nerrs; i++)
        for (int k = 0; k < 3; k++)
            free(im->err_text[i][k]);
    im->nerrs = 0;
}

static int flush(struct import *im, struct sl_error *err)
{
    const struct sl_job *job = im->ctx->job;
    int rc = 0;
    for (size_t i = 0; i < im->nrecs; i++) /* the arena may have moved while growing */
        im->recs[i] = (struct sl_record_in){im->arena.data + im->key_off[i],
                                            im->arena.data + im->text_off[i]};
    if (im->nrecs)
        rc = sl_store_upsert_records(im->ctx->store, job->tenant, job->type, job->id, im->recs,
                                     im->nrecs, sl_now_ms(), &im->created, &im->updated, err);
    if (rc == 0 && im->nerrs) {
        rc = sl_store_add_row_errors(im->ctx->store, job->id, im->error_seq + 1, im->errs,
                                     im->nerrs, err);
        im->error_seq += (int64_t)im->nerrs;
    }
    im->nrecs = 0;
    sl_buf_reset(&im->arena);
    free_errors(im);
    return rc;
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
    if (im->nerrs == SL_IMPORT_BATCH_ROWS) {
        int rc = flush(im, err);
        if (rc)
            return rc;
    }
    char **t = im->err_text[im->nerrs];
    t[0] = field ? strdup(field) : NULL;
    if (cell) { /* the value as text people can read: valid UTF-8, at most 1 KiB */
        char shown[1025];
        sl_utf8_sanitize(cell->value, cell->len, shown, sizeof shown);
        t[1] = strdup(shown);
    } else {
        t[1] = NULL;
    }
    t[2] = strdup(message);
    im->errs[im->nerrs++] = (struct sl_row_error){row, t[0], t[1], t[2]};
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

/* Appends a cell's value without a schema: strings, numbers, booleans and nested JSON as they
 * are, empty cells as null. SL_EINVALID when the text is not valid UTF-8. */
static int append_raw(struct sl_buf *b, const struct sl_field *c)
{
    switch (c->kind) {
    case SL_CELL_EMPTY:
        return sl_buf_puts(b, "null");
    case SL_CELL_BOOL:
        return sl_buf_puts(b, c->len == 4 && memcmp(c->value, "true", 4) == 0 ? "true" : "false");
    case SL_CELL_NUMBER:
        if (sl_json_number_valid(c->value, c->len))
            return sl_buf_append(b, c->value, c->len);
        return sl_json_append_string(b, c->value, c->len);
    case SL_CELL_JSON: /* the JSON readers re-serialise nested values: valid, compact */
        return sl_buf_append(b, c->value, c->len);
    default:
        return sl_json_append_string(b, c->value, c->len);
    }
}

/* Appends a converted value; a string one also becomes the key when its field is the key. */
static int append_value(struct import *im, const struct sl_schema_field *f, json_t *v)
{
    int rc;
    int is_key = im->schema->key && strcmp(f->name, im->schema->key) == 0;
    if (json_is_string(v)) {
        rc = sl_json_append_string(&im->row, json_string_value(v), json_string_length(v));
        if (is_key && json_string_length(v) > 0 && json_string_length(v) < KEY_MAX)
            snprintf(im->key, sizeof im->key, "%s", json_string_value(v));
        return rc;
    }
    if (is_key && json_is_integer(v))
        snprintf(im->key, sizeof im->key, "%lld", (long long)json_integer_value(v));
    char tmp[64];
    size_t n = json_dumpb(v, tmp, sizeof tmp, JSON_ENCODE_ANY | JSON_COMPACT);
    if (n <= sizeof tmp)
        return sl_buf_append(&im->row, tmp, n);
    char *big = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    rc = big ? sl_buf_puts(&im->row, big) : SL_ENOMEM;
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
        rc = cell->kind == SL_CELL_EMPTY ? sl_buf_puts(&im->row, "null")
                                         : sl_json_append_string(&im->row, cell->value, cell->len);
    } else {
        rc = append_raw(&im->row, cell);
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

/* Builds the row's JSON object text in im->row; *bad when a value was refused. */
static int encode_row(struct import *im, const struct sl_row *row, int *bad, struct sl_error *err)
{
    int rc = 0;
    sl_buf_reset(&im->row);
    im->key[0] = '\0';
    if (im->schema)
        memset(im->seen, 0, im->schema->count);
    rc = sl_buf_putc(&im->row, '{');
    for (size_t i = 0; rc == 0 && i < row->count; i++) {
        /* Every cell is converted even after a bad one, so a row reports all its errors; the
         * text of a bad row is simply not kept. */
        const struct sl_field *cell = &row->fields[i];
        if (i > 0)
            rc = sl_buf_putc(&im->row, ',');
        if (rc == 0 &&
            (rc = sl_json_append_string(&im->row, cell->name, strlen(cell->name))) == SL_EINVALID) {
            *bad = 1;
            rc = add_error(im, row->number, NULL, NULL, "a column name is not valid UTF-8", err);
        }
        if (rc == 0 && (rc = sl_buf_putc(&im->row, ':')) == 0)
            rc = convert_cell(im, row, cell, bad, err);
    }
    if (rc == 0)
        rc = check_missing(im, row, bad, err);
    return rc ? rc : sl_buf_putc(&im->row, '}');
}

/* Moves the built row into the batch arena under its key. */
static int keep_row(struct import *im, const struct sl_row *row, struct sl_error *err)
{
    char fallback[KEY_MAX];
    const char *key = im->key;
    if (!key[0]) {
        snprintf(fallback, sizeof fallback, "%s:%lld", im->ctx->job->id, (long long)row->number);
        key = fallback;
    }
    size_t key_off = im->arena.len;
    int rc = sl_buf_append(&im->arena, key, strlen(key) + 1);
    size_t text_off = im->arena.len;
    if (rc == 0)
        rc = sl_buf_append(&im->arena, im->row.data, im->row.len + 1);
    if (rc)
        return rc;
    im->key_off[im->nrecs] = key_off;
    im->text_off[im->nrecs] = text_off;
    im->nrecs++;
    im->success++;
    return im->nrecs == SL_IMPORT_BATCH_ROWS ? flush(im, err) : 0;
}

static int import_row(struct import *im, const struct sl_row *row, struct sl_error *err)
{
    int bad = 0;
    int rc = encode_row(im, row, &bad, err);
    im->total++;
    if (rc)
        return rc;
    if (bad) {
        im->error_rows++;
        return 0;
    }
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
    if ((rc = sl_store_clear_row_errors(im->ctx->store, im->ctx->job->id, err)) != 0)
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
    return flush(im, err);
}

static struct import *import_new(struct sl_proc_ctx *ctx)
{
    struct import *im = calloc(1, sizeof *im);
    if (!im)
        return NULL;
    im->ctx = ctx;
    im->schema = ctx->arg;
    im->last_progress = sl_now_ms();
    sl_buf_init(&im->arena, ARENA_MAX);
    sl_buf_init(&im->row, ROW_MAX);
    im->summary_errors = json_array();
    im->seen = calloc(im->schema ? im->schema->count + 1 : 1, 1);
    if (!im->summary_errors || !im->seen) {
        json_decref(im->summary_errors);
        free(im->seen);
        free(im);
        return NULL;
    }
    return im;
}

static void import_free(struct import *im)
{
    free_errors(im);
    sl_buf_fini(&im->arena);
    sl_buf_fini(&im->row);
    sl_reader_close(im->reader);
    json_decref(im->summary_errors);
    free(im->seen);
    free(im);
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
