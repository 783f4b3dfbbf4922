/* The job routes: list, one job, retry, cancel, and the uploaded bytes. */
#include "core/jobfile.h"
#include "http/routes.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <stdio.h>
#include <string.h>

/* The {id} of the route, checked so that no malformed id reaches the store. */
static const char *job_id(struct sl_req *r)
{
    return sl_uuid_valid(r->params[0]) ? r->params[0] : NULL;
}

static int not_found(struct sl_req *r)
{
    return sl_reply_errorf(r, SL_ENOT_FOUND, "no job with id '%.40s'", r->params[0]);
}

/* Validates the list filters; returns 0 or SL_EINVALID with err. */
static int list_filter(struct sl_req *r, struct sl_job_filter *f, struct sl_error *err)
{
    enum sl_job_status st;
    long limit;
    int rc = sl_req_query_int(r, "limit", 50, 1, 200, &limit, err);
    if (rc)
        return rc;
    f->limit = (int)limit;
    f->status = sl_req_query(r, "status");
    f->type = sl_req_query(r, "type");
    f->tenant = sl_req_query(r, "tenant");
    const char *cursor = sl_req_query(r, "cursor");
    if (f->status && sl_job_status_parse(f->status, &st))
        return sl_err_set(err, SL_EINVALID,
                          "status must be pending, processing, completed or failed");
    if (f->type && !sl_job_name_valid(f->type, SL_TYPE_MAX))
        return sl_err_set(err, SL_EINVALID, "type is not a valid type name");
    if (f->tenant && !sl_job_name_valid(f->tenant, SL_TENANT_MAX))
        return sl_err_set(err, SL_EINVALID, "tenant is not a valid tenant name");
    if (cursor && *cursor && sl_cursor_parse(cursor, f))
        return sl_err_set(err, SL_EINVALID, "cursor is not one this service gave out");
    return 0;
}

int sl_api_jobs_list(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_job_filter f = {0};
    struct sl_job *jobs = NULL;
    size_t n = 0;
    char next[SL_CURSOR_MAX];
    int rc = list_filter(r, &f, &err);
    if (rc == 0)
        rc = sl_store_list_jobs(r->svc->store, &f, &jobs, &n, next, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, sl_job_to_json(&jobs[i]));
    sl_jobs_free(jobs, n);
    return sl_reply_json(r, 200,
                         json_pack("{s:o, s:o}", "jobs", list, "nextCursor",
                                   next[0] ? json_string(next) : json_null()));
}

int sl_api_job_get(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_job job;
    const char *id = job_id(r);
    if (!id)
        return not_found(r);
    int rc = sl_store_get_job(r->svc->store, id, &job, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    rc = sl_reply_json(r, 200, sl_job_to_json(&job));
    sl_job_fini(&job);
    return rc;
}

int sl_api_job_retry(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_job job;
    const char *id = job_id(r);
    if (!id)
        return not_found(r);
    int rc = sl_store_retry_job(r->svc->store, id, sl_now_ms(), &job, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    sl_service_jobs_added(r->svc);
    rc = sl_reply_json(r, 202, sl_job_to_json(&job));
    sl_job_fini(&job);
    return rc;
}

int sl_api_job_cancel(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_job job;
    const char *id = job_id(r);
    if (!id)
        return not_found(r);
    int rc = sl_store_cancel_job(r->svc->store, id, &job, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    sl_service_jobs_changed(r->svc);
    /* The record is gone, so the job no longer exists; a blob left behind is only logged. */
    if (sl_job_remove_file(r->svc->blob, &job, &err) != 0)
        sl_warn("job %s cancelled but its blob could not be removed: %s", id, err.msg);
    sl_job_fini(&job);
    return sl_reply_empty(r, 204);
}

/* Builds a Content-Disposition value with the name quoted and escaped. */
static void disposition(const char *name, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "attachment; filename=\"");
    for (const char *p = name; *p && o + 3 < cap; p++) {
        if (*p == '"' || *p == '\\')
            out[o++] = '\\';
        out[o++] = *p;
    }
    snprintf(out + o, cap - o, "\"");
}

int sl_api_job_file(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_job job;
    char disp[600];
    int64_t size;
    int fd;
    const char *id = job_id(r);
    if (!id)
        return not_found(r);
    int rc = sl_store_get_job(r->svc->store, id, &job, &err);
    if (rc == 0)
        rc = sl_job_open_file(r->svc->blob, r->svc->store, &job, &fd, &size, &err);
    if (rc) {
        sl_job_fini(&job); /* zeroed when the lookup failed, so always safe */
        return sl_reply_error(r, rc, &err);
    }
    disposition(job.file_name, disp, sizeof disp);
    rc = sl_reply_fd(r, fd, size, job.content_type, disp);
    sl_job_fini(&job);
    return rc;
}
