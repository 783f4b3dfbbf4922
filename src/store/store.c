#include "store/store.h"
#include "store/postgres.h"
#include "store/sqlite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_store_open(const char *url, struct sl_store **out, struct sl_error *err)
{
    *out = NULL;
    if (strncmp(url, "sqlite:", 7) == 0)
        return sl_store_sqlite_open(url + 7, out, err);
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return sl_store_postgres_open(url, out, err);
    return sl_err_set(err, SL_ECONFIG, "DATABASE_URL: unknown scheme in '%.64s'", url);
}

void sl_store_close(struct sl_store *s)
{
    if (s)
        s->ops->close(s);
}

int sl_store_migrate(struct sl_store *s, struct sl_error *err)
{
    return s->ops->migrate(s, err);
}

int sl_store_insert_jobs(struct sl_store *s, const struct sl_job *jobs, size_t n,
                         struct sl_error *err)
{
    return s->ops->insert_jobs(s, jobs, n, err);
}

int sl_store_release_expired(struct sl_store *s, int64_t now, int *rescued, struct sl_error *err)
{
    return s->ops->release_expired(s, now, rescued, err);
}

int sl_store_claim(struct sl_store *s, int64_t now, int limit, int64_t lease_ms,
                   struct sl_job **jobs, size_t *n, struct sl_error *err)
{
    return s->ops->claim(s, now, limit, lease_ms, jobs, n, err);
}

int sl_store_heartbeat(struct sl_store *s, const char *id, int64_t fence, int64_t lease_until,
                       struct sl_error *err)
{
    return s->ops->heartbeat(s, id, fence, lease_until, err);
}

int sl_store_complete(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                      int64_t processing_ms, const char *result, struct sl_error *err)
{
    return s->ops->complete(s, id, fence, now, processing_ms, result, err);
}

int sl_store_fail(struct sl_store *s, const char *id, int64_t fence, int64_t now,
                  int64_t processing_ms, const char *message, int64_t retry_at,
                  enum sl_job_status *became, struct sl_error *err)
{
    return s->ops->fail(s, id, fence, now, processing_ms, message, retry_at, became, err);
}

int sl_store_release(struct sl_store *s, const char *id, int64_t fence, struct sl_error *err)
{
    return s->ops->release(s, id, fence, err);
}

int sl_store_get_job(struct sl_store *s, const char *id, struct sl_job *out, struct sl_error *err)
{
    return s->ops->get_job(s, id, out, err);
}

int sl_store_list_jobs(struct sl_store *s, const struct sl_job_filter *f, struct sl_job **jobs,
                       size_t *n, char next_cursor[SL_CURSOR_MAX], struct sl_error *err)
{
    return s->ops->list_jobs(s, f, jobs, n, next_cursor, err);
}

int sl_store_retry_job(struct sl_store *s, const char *id, int64_t now, struct sl_job *out,
                       struct sl_error *err)
{
    return s->ops->retry_job(s, id, now, out, err);
}

int sl_store_cancel_job(struct sl_store *s, const char *id, struct sl_job *out,
                        struct sl_error *err)
{
    return s->ops->cancel_job(s, id, out, err);
}

int sl_store_queue_status(struct sl_store *s, const char *tenant, int64_t now,
                          struct sl_queue_status *out, struct sl_error *err)
{
    return s->ops->queue_status(s, tenant, now, out, err);
}

int sl_store_stats(struct sl_store *s, int days, const char *tenant, int64_t now,
                   struct sl_stats *out, struct sl_error *err)
{
    return s->ops->stats(s, days, tenant, now, out, err);
}

int sl_store_count_due(struct sl_store *s, int64_t now, int64_t *n, struct sl_error *err)
{
    return s->ops->count_due(s, now, n, err);
}

int sl_store_ping(struct sl_store *s, struct sl_error *err)
{
    return s->ops->ping(s, err);
}

void sl_cursor_format(int64_t created_at, const char *id, char out[SL_CURSOR_MAX])
{
    snprintf(out, SL_CURSOR_MAX, "%lld.%s", (long long)created_at, id);
}

int sl_cursor_parse(const char *text, struct sl_job_filter *f)
{
    char *end;
    errno = 0;
    long long ms = strtoll(text, &end, 10);
    if (errno || end == text || *end != '.' || ms < 0 || !sl_uuid_valid(end + 1))
        return SL_EINVALID;
    f->cursor_created_at = ms;
    snprintf(f->cursor_id, sizeof f->cursor_id, "%s", end + 1);
    return 0;
}

int sl_store_next_due(struct sl_store *s, int64_t *due_at, struct sl_error *err)
{
    return s->ops->next_due(s, due_at, err);
}

int sl_store_cron_claim(struct sl_store *s, const char *path, int64_t slot_at, int64_t now,
                        const char *node, int *won, struct sl_error *err)
{
    return s->ops->cron_claim(s, path, slot_at, now, node, won, err);
}

int sl_store_cron_record(struct sl_store *s, const char *path, int64_t slot_at, int status,
                         int64_t duration_ms, int skipped, struct sl_error *err)
{
    return s->ops->cron_record(s, path, slot_at, status, duration_ms, skipped, err);
}

int sl_store_cron_last_run(struct sl_store *s, const char *path, int64_t *at, struct sl_error *err)
{
    return s->ops->cron_last_run(s, path, at, err);
}

int sl_store_progress(struct sl_store *s, const char *id, int64_t fence, const char *result,
                      struct sl_error *err)
{
    return s->ops->progress(s, id, fence, result, err);
}

int sl_store_upsert_records(struct sl_store *s, const char *tenant, const char *type,
                            const char *job_id, const char *columns,
                            const struct sl_record_in *recs, size_t n, int64_t now,
                            int64_t *created, int64_t *updated, struct sl_error *err)
{
    return s->ops->upsert_records(s, tenant, type, job_id, columns, recs, n, now, created, updated,
                                  err);
}

int sl_store_add_row_errors(struct sl_store *s, const char *job_id, int64_t first_seq,
                            const struct sl_row_error *errs, size_t n, struct sl_error *err)
{
    return s->ops->add_row_errors(s, job_id, first_seq, errs, n, err);
}

int sl_store_clear_row_errors(struct sl_store *s, const char *job_id, struct sl_error *err)
{
    return s->ops->clear_row_errors(s, job_id, err);
}

int sl_store_list_row_errors(struct sl_store *s, const char *job_id, int64_t after_seq, int limit,
                             struct sl_row_error_out **out, size_t *n, int64_t *next_seq,
                             struct sl_error *err)
{
    return s->ops->list_row_errors(s, job_id, after_seq, limit, out, n, next_seq, err);
}

int sl_store_list_records(struct sl_store *s, const char *tenant, const char *type,
                          const char *after_key, int limit, struct sl_record **out, size_t *n,
                          int *more, struct sl_error *err)
{
    return s->ops->list_records(s, tenant, type, after_key, limit, out, n, more, err);
}

int sl_store_get_record(struct sl_store *s, const char *tenant, const char *type, const char *key,
                        struct sl_record *out, struct sl_error *err)
{
    return s->ops->get_record(s, tenant, type, key, out, err);
}

int sl_store_read_inline(struct sl_store *s, const char *job_id, void **data, size_t *len,
                         struct sl_error *err)
{
    return s->ops->read_inline(s, job_id, data, len, err);
}

int sl_store_watch(struct sl_store *s, void (*on_change)(void *arg), void *arg,
                   struct sl_error *err)
{
    return s->ops->watch(s, on_change, arg, err);
}

int sl_store_count_jobs(struct sl_store *s, struct sl_type_counts **out, size_t *n,
                        struct sl_error *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->count_jobs(s, out, n, err);
}

void sl_type_counts_free(struct sl_type_counts *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i].type);
    free(t);
}

void sl_record_fini(struct sl_record *r)
{
    free(r->key);
    free(r->data);
    memset(r, 0, sizeof *r);
}

void sl_records_free(struct sl_record *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_record_fini(&r[i]);
    free(r);
}

void sl_row_errors_free(struct sl_row_error_out *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].field);
        free(e[i].value);
        free(e[i].message);
    }
    free(e);
}

static void brief_fini(struct sl_job_brief *b)
{
    free(b->file_name);
    free(b->type);
    b->file_name = b->type = NULL;
}

void sl_queue_status_fini(struct sl_queue_status *q)
{
    brief_fini(&q->next_job);
    for (size_t i = 0; i < q->processing_count; i++)
        brief_fini(&q->processing[i]);
    free(q->processing);
    memset(q, 0, sizeof *q);
}

void sl_stats_fini(struct sl_stats *st)
{
    for (size_t i = 0; i < st->type_count; i++)
        free(st->types[i].type);
    free(st->types);
    free(st->daily);
    memset(st, 0, sizeof *st);
}
