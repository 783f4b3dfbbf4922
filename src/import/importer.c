#include "import/importer.h"
#include "import/reader.h"
#include "import/schema.h"
#include "store/store.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_EVERY_MS 1000
#define KEY_MAX           512

/* A pending batch of records and row errors, and the running counters. */
struct import {
    struct sl_proc_ctx *ctx;
    const struct sl_schema *schema;
    struct sl_reader *reader;
    int64_t total, success, error_rows, created, updated, error_seq;
    struct sl_record_in recs[SL_IMPORT_BATCH_ROWS];
    char *rec_text[SL_IMPORT_BATCH_ROWS]; /* owned key and data strings of recs */
    char *rec_key[SL_IMPORT_BATCH_ROWS];
    size_t nrecs;
    struct sl_row_error errs[SL_IMPORT_BATCH_ROWS];
    char *err_text[SL_IMPORT_BATCH_ROWS][3]; /* owned field, value, message */
    size_t nerrs;
    json_t *summary_errors; /* the first SL_IMPORT_SUMMARY_ERRORS */
    int64_t last_progress;
};

static void free_batch(struct import *im)
{
    for (size_t i = 0; i < im->nrecs; i++) {
        free(im->rec_text[i]);
        free(im->rec_key[i]);
    }
    for (size_t i = 0; i < im->nerrs; i++)
        for (int k = 0; k < 3; k++)
            free(im->err_text[i][k]);
    im->nrecs = im->nerrs = 0;
}

static int flush(struct import *im, struct sl_error *err)
{
    const struct sl_job *job = im->ctx->job;
    int rc = 0;
    if (im->nrecs)
        rc = sl_store_upsert_records(im->ctx->store, job->tenant, job->type, job->id, im->recs,
                                     im->nrecs, sl_now_ms(), &im->created, &im->updated, err);
    if (rc == 0 && im->nerrs) {
        rc = sl_store_add_row_errors(im->ctx->store, job->id, im->error_seq + 1, im->errs,
                                     im->nerrs, err);
        im->error_seq += (int64_t)im->nerrs;
    }
    free_batch(im);
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

/* Records a row error (copied), flushing when the batch is full. */
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
    t[1] = cell ? strndup(cell->value, cell->len > 1024 ? 1024 : cell->len) : NULL;
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

/* Converts one cell per its schema field, or as is; on a bad value records a row error. */
static int convert_cell(struct import *im, const struct sl_row *row, const struct sl_field *cell,
                        json_t *data, int *bad, struct sl_error *err)
{
    const struct sl_schema_field *f = im->schema ? sl_schema_find(im->schema, cell->name) : NULL;
    char why[128];
    json_t *v = NULL;
    if (f) {
        if (sl_schema_convert(f, cell, &v, why, sizeof why) != 0) {
            *bad = 1;
            return add_error(im, row->number, cell->name, cell, why, err);
        }
    } else if (im->schema) {
        v = cell->kind == SL_CELL_EMPTY ? json_null() : json_stringn(cell->value, cell->len);
    } else {
        v = sl_schema_raw(cell);
    }
    if (!v) {
        *bad = 1;
        return add_error(im, row->number, cell->name, cell, "is not valid UTF-8", err);
    }
    json_object_set_new(data, cell->name, v);
    return 0;
}

/* Required fields the row does not have at all are errors too. */
static int check_missing(struct import *im, const struct sl_row *row, json_t *data, int *bad,
                         struct sl_error *err)
{
    for (size_t i = 0; im->schema && i < im->schema->count; i++) {
        const struct sl_schema_field *f = &im->schema->fields[i];
        if (f->required && !json_object_get(data, f->name) && !*bad) {
            *bad = 1;
            int rc = add_error(im, row->number, f->name, NULL, "is required", err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static void make_key(struct import *im, const struct sl_row *row, json_t *data, char *key)
{
    json_t *k = im->schema && im->schema->key ? json_object_get(data, im->schema->key) : NULL;
    if (json_is_string(k) && json_string_length(k) > 0 && json_string_length(k) < KEY_MAX)
        snprintf(key, KEY_MAX, "%s", json_string_value(k));
    else if (json_is_integer(k))
        snprintf(key, KEY_MAX, "%lld", (long long)json_integer_value(k));
    else
        snprintf(key, KEY_MAX, "%s:%lld", im->ctx->job->id, (long long)row->number);
}

static int import_row(struct import *im, const struct sl_row *row, struct sl_error *err)
{
    json_t *data = json_object();
    int bad = 0, rc = data ? 0 : SL_ENOMEM;
    for (size_t i = 0; rc == 0 && i < row->count; i++)
        rc = convert_cell(im, row, &row->fields[i], data, &bad, err);
    if (rc == 0)
        rc = check_missing(im, row, data, &bad, err);
    im->total++;
    if (rc == 0 && bad)
        im->error_rows++;
    if (rc == 0 && !bad) {
        char key[KEY_MAX];
        make_key(im, row, data, key);
        char *text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
        char *k = strdup(key);
        if (!text || !k) {
            free(text);
            free(k);
            rc = SL_ENOMEM;
        } else {
            im->rec_text[im->nrecs] = text;
            im->rec_key[im->nrecs] = k;
            im->recs[im->nrecs++] = (struct sl_record_in){k, text};
            im->success++;
            if (im->nrecs == SL_IMPORT_BATCH_ROWS)
                rc = flush(im, err);
        }
    }
    json_decref(data);
    return rc;
}

/* Publishes the counters now and then; stops the import when the lease is lost. */
static int progress(struct import *im, struct sl_error *err)
{
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
            return rc;
    }
    if (rc < 0)
        return file_fault(rc, err);
    return flush(im, err);
}

int sl_proc_import(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    char path[64];
    int64_t size;
    int fd = -1, rc;
    struct import *im = calloc(1, sizeof *im);

    *result = NULL;
    if (!im || !(im->summary_errors = json_array())) {
        free(im);
        return SL_ENOMEM;
    }
    im->ctx = ctx;
    im->schema = ctx->arg;
    im->last_progress = sl_now_ms();
    if ((rc = sl_blob_open_read(ctx->blob, ctx->job->blob_key, &fd, &size, err)) != 0)
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
    free_batch(im);
    sl_reader_close(im->reader);
    json_decref(im->summary_errors);
    if (fd >= 0)
        close(fd);
    free(im);
    return rc;
}
