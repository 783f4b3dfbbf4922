/* The import routes: records by type and key, and a job's full list of row errors. */
#include "http/routes.h"
#include "util/jsontext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records are scoped by tenant; without ?tenant= the default tenant's are shown. */
static int tenant_of(struct sl_req *r, const char **tenant, struct sl_error *err)
{
    *tenant = sl_req_query(r, "tenant");
    if (!*tenant)
        *tenant = "default";
    if (!sl_job_name_valid(*tenant, SL_TENANT_MAX))
        return sl_err_set(err, SL_EINVALID, "tenant is not a valid tenant name");
    if (!sl_job_name_valid(r->params[0], SL_TYPE_MAX))
        return sl_err_set(err, SL_EINVALID, "'%.64s' is not a valid type name", r->params[0]);
    return 0;
}

static json_t *record_json(const struct sl_record *rec)
{
    json_t *data = json_loads(rec->data, 0, NULL);
    json_t *o = json_pack("{s:s, s:o, s:s}", "key", rec->key, "data", data ? data : json_null(),
                          "jobId", rec->job_id);
    if (o) {
        sl_json_set_time(o, "createdAt", rec->created_at);
        sl_json_set_time(o, "updatedAt", rec->updated_at);
    }
    return o;
}

/* Cursors are the last key, hex-encoded so that any key survives a query string. */
static void hex_encode(const char *s, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (; *s && o + 3 <= cap; s++) {
        out[o++] = digits[(unsigned char)*s >> 4];
        out[o++] = digits[(unsigned char)*s & 15];
    }
    out[o] = '\0';
}

static int hex_decode(const char *hex, char *out, size_t cap)
{
    size_t n = strlen(hex);
    if (n % 2 || n / 2 >= cap)
        return SL_EINVALID;
    for (size_t i = 0; i < n; i += 2) {
        char pair[3] = {hex[i], hex[i + 1], 0}, *end;
        long v = strtol(pair, &end, 16);
        if (*end || v == 0)
            return SL_EINVALID;
        out[i / 2] = (char)v;
    }
    out[n / 2] = '\0';
    return 0;
}

int sl_api_records_list(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_record *recs = NULL;
    const char *tenant, *cursor = sl_req_query(r, "cursor");
    char after[1024], next[2100];
    size_t n = 0;
    long limit;
    int more = 0;
    int rc = tenant_of(r, &tenant, &err);
    if (rc == 0)
        rc = sl_req_query_int(r, "limit", 50, 1, 200, &limit, &err);
    if (rc == 0 && cursor && *cursor && hex_decode(cursor, after, sizeof after))
        rc = sl_err_set(&err, SL_EINVALID, "cursor is not one this service gave out");
    if (rc == 0)
        rc = sl_store_list_records(r->svc->store, tenant, r->params[0],
                                   cursor && *cursor ? after : NULL, (int)limit, &recs, &n, &more,
                                   &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, record_json(&recs[i]));
    if (more && n)
        hex_encode(recs[n - 1].key, next, sizeof next);
    sl_records_free(recs, n);
    return sl_reply_json(r, 200,
                         json_pack("{s:o, s:o}", "records", list, "nextCursor",
                                   more && n ? json_string(next) : json_null()));
}

int sl_api_record_get(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_record rec;
    const char *tenant;
    int rc = tenant_of(r, &tenant, &err);
    if (rc == 0)
        rc = sl_store_get_record(r->svc->store, tenant, r->params[0], r->params[1], &rec, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    rc = sl_reply_json(r, 200, record_json(&rec));
    sl_record_fini(&rec);
    return rc;
}

/* Text for JSON: stored values are made valid UTF-8 on the way in, but a row error must never
 * vanish from the list because one was not. */
static json_t *text_json(const char *s)
{
    if (!s)
        return json_null();
    json_t *v = json_string(s);
    if (!v) {
        char clean[1100];
        sl_utf8_sanitize(s, strlen(s), clean, sizeof clean);
        v = json_string(clean);
    }
    return v;
}

static json_t *row_error_json(const struct sl_row_error_out *e)
{
    return json_pack("{s:I, s:o, s:o, s:o}", "row", (json_int_t)e->row, "field",
                     text_json(e->field), "value", text_json(e->value), "message",
                     text_json(e->message));
}

int sl_api_job_errors(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_job job;
    struct sl_row_error_out *errs = NULL;
    const char *cursor = sl_req_query(r, "cursor");
    int64_t after = 0, next = 0;
    size_t n = 0;
    long limit;
    char *end = NULL;
    int rc = sl_uuid_valid(r->params[0]) ? 0 : sl_err_set(&err, SL_ENOT_FOUND, "no such job");
    if (rc == 0)
        rc = sl_req_query_int(r, "limit", 100, 1, 1000, &limit, &err);
    if (rc == 0 && cursor && *cursor) {
        errno = 0;
        after = strtoll(cursor, &end, 10);
        if (errno || *end || after < 0)
            rc = sl_err_set(&err, SL_EINVALID, "cursor is not one this service gave out");
    }
    if (rc == 0 && (rc = sl_store_get_job(r->svc->store, r->params[0], &job, &err)) == 0)
        sl_job_fini(&job); /* only its existence matters */
    if (rc == 0)
        rc = sl_store_list_row_errors(r->svc->store, r->params[0], after, (int)limit, &errs, &n,
                                      &next, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, row_error_json(&errs[i]));
    sl_row_errors_free(errs, n);
    char cur[32];
    snprintf(cur, sizeof cur, "%lld", (long long)next);
    return sl_reply_json(r, 200,
                         json_pack("{s:o, s:o}", "errors", list, "nextCursor",
                                   next ? json_string(cur) : json_null()));
}
