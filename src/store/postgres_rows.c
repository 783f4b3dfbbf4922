/*
 * Values in and out of the PostgreSQL backend: statement parameters, array literals for the
 * statements that take many rows at once, and the conversion of text results into sluice's
 * structs. PostgreSQL refuses text that is not valid UTF-8 (SQLite stores any bytes), so text
 * values are checked on the way in and, where broken, stored with '?' for each bad byte.
 */
#include "store/postgres_int.h"
#include "util/jsontext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_ARRAY_MAX ((size_t)1 << 30) /* PostgreSQL's own limit on one value */

int pg_fail(struct sl_error *err, const char *what, const char *msg)
{
    char line[SL_ERROR_MSG_MAX];
    size_t n = 0;
    for (const char *m = msg; *m && n + 1 < sizeof line; m++) {
        int space = *m == '\n' || *m == '\t' || *m == '\r' || *m == ' ';
        if (space && (n == 0 || line[n - 1] == ' '))
            continue; /* libpq's messages span lines: one space for each run */
        line[n++] = space ? ' ' : *m;
    }
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    return sl_err_set(err, SL_ESTORE, "postgres: %s: %s", what, line);
}

/* ---- parameters ------------------------------------------------------------------------ */

/* A copy of s[0..n) as valid UTF-8 (same length: one '?' per bad byte), or NULL. */
static char *utf8_repaired(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy)
        sl_utf8_sanitize(s, n, copy, n + 1);
    return copy;
}

static int next_param(struct pg_params *p)
{
    if (p->n == PG_PARAMS_MAX) { /* a programming error: the statements are constant */
        p->oom = 1;
        return -1;
    }
    int i = p->n++;
    p->lens[i] = 0;
    p->fmts[i] = 0;
    p->owned[i] = NULL;
    return i;
}

void pg_p_text(struct pg_params *p, const char *v)
{
    int i = next_param(p);
    if (i < 0)
        return;
    p->vals[i] = v;
    if (v && !sl_utf8_valid(v, strlen(v))) {
        p->owned[i] = utf8_repaired(v, strlen(v));
        p->vals[i] = p->owned[i];
        if (!p->owned[i])
            p->oom = 1;
    }
}

void pg_p_i64(struct pg_params *p, int64_t v)
{
    int i = next_param(p);
    if (i < 0)
        return;
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->vals[i] = p->num[i];
}

void pg_p_ms(struct pg_params *p, int64_t ms)
{
    if (ms >= 0)
        pg_p_i64(p, ms);
    else
        pg_p_text(p, NULL);
}

void pg_p_bytes(struct pg_params *p, const void *data, size_t len)
{
    int i = next_param(p);
    if (i < 0)
        return;
    p->vals[i] = len ? data : "";
    p->lens[i] = (int)len;
    p->fmts[i] = 1;
}

/* ---- array literals -------------------------------------------------------------------- */

void pg_array_init(struct pg_array *a)
{
    memset(a, 0, sizeof *a);
    sl_buf_init(&a->buf, PG_ARRAY_MAX);
    if (sl_buf_putc(&a->buf, '{'))
        a->oom = 1;
}

void pg_array_fini(struct pg_array *a)
{
    sl_buf_fini(&a->buf);
}

static void array_put(struct pg_array *a, const char *s, size_t n)
{
    if (!a->oom && sl_buf_append(&a->buf, s, n))
        a->oom = 1;
}

static void array_sep(struct pg_array *a)
{
    if (a->count++)
        array_put(a, ",", 1);
}

/* Appends s[0..n) quoted: backslash and double quote are escaped with a backslash. */
static void array_quoted(struct pg_array *a, const char *s, size_t n)
{
    size_t run = 0;
    array_put(a, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        array_put(a, s + run, i - run);
        array_put(a, "\\", 1);
        run = i;
    }
    array_put(a, s + run, n - run);
    array_put(a, "\"", 1);
}

void pg_array_text(struct pg_array *a, const char *v)
{
    array_sep(a);
    if (!v) {
        array_put(a, "NULL", 4);
        return;
    }
    size_t n = strlen(v);
    if (sl_utf8_valid(v, n)) {
        array_quoted(a, v, n);
        return;
    }
    char *fixed = utf8_repaired(v, n);
    if (!fixed) {
        a->oom = 1;
        return;
    }
    array_quoted(a, fixed, n);
    free(fixed);
}

void pg_array_i64(struct pg_array *a, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%lld", (long long)v);
    array_sep(a);
    array_put(a, num, (size_t)n);
}

const char *pg_array_finish(struct pg_array *a)
{
    if (!a->done)
        array_put(a, "}", 1);
    a->done = 1;
    return a->oom ? NULL : a->buf.data;
}

/* ---- results --------------------------------------------------------------------------- */

int pg_is_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double pg_f64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

char *pg_strdup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

void pg_copy(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int pg_row_to_job(const PGresult *r, int row, int c, struct sl_job *job)
{
    memset(job, 0, sizeof *job);
    pg_copy(r, row, c + 0, job->id, sizeof job->id);
    pg_copy(r, row, c + 1, job->upload_id, sizeof job->upload_id);
    job->tenant = pg_strdup(r, row, c + 2);
    job->type = pg_strdup(r, row, c + 3);
    sl_job_status_parse(PQgetvalue(r, row, c + 4), &job->status);
    job->file_name = pg_strdup(r, row, c + 5);
    job->content_type = pg_strdup(r, row, c + 6);
    pg_copy(r, row, c + 7, job->blob_key, sizeof job->blob_key);
    job->size = pg_i64(r, row, c + 8);
    pg_copy(r, row, c + 9, job->sha256, sizeof job->sha256);
    job->attempts = (int)pg_i64(r, row, c + 10);
    job->max_attempts = (int)pg_i64(r, row, c + 11);
    job->created_at = pg_i64(r, row, c + 12);
    job->started_at = pg_i64(r, row, c + 13);
    job->completed_at = pg_i64(r, row, c + 14);
    if (job->status == SL_JOB_PENDING && job->attempts > 0)
        job->next_attempt_at = pg_i64(r, row, c + 15);
    job->processing_ms = pg_is_null(r, row, c + 16) ? -1 : pg_i64(r, row, c + 16);
    job->fence = pg_i64(r, row, c + 17);
    job->error = pg_strdup(r, row, c + 18);
    job->result = pg_strdup(r, row, c + 19);
    if (!job->tenant || !job->type || !job->file_name || !job->content_type ||
        (!job->error && !pg_is_null(r, row, c + 18)) ||
        (!job->result && !pg_is_null(r, row, c + 19))) {
        sl_job_fini(job);
        return SL_ENOMEM;
    }
    return 0;
}

int pg_rows_to_jobs(const PGresult *r, size_t max, struct sl_job **jobs, size_t *n)
{
    size_t rows = (size_t)PQntuples(r);
    if (rows > max)
        rows = max;
    *jobs = NULL;
    *n = 0;
    if (rows == 0)
        return 0;
    *jobs = calloc(rows, sizeof **jobs);
    if (!*jobs)
        return SL_ENOMEM;
    for (size_t i = 0; i < rows; i++) {
        int rc = pg_row_to_job(r, (int)i, 0, &(*jobs)[i]);
        if (rc) {
            sl_jobs_free(*jobs, *n);
            *jobs = NULL;
            *n = 0;
            return rc;
        }
        (*n)++;
    }
    return 0;
}
