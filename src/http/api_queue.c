/* The read-only status routes: queue, stats and health. */
#include "core/report.h"
#include "http/routes.h"
#include "util/timeutil.h"

static const char *tenant_arg(struct sl_req *r, struct sl_error *err, int *rc)
{
    const char *t = sl_req_query(r, "tenant");
    *rc = 0;
    if (t && !sl_job_name_valid(t, SL_TENANT_MAX))
        *rc = sl_err_set(err, SL_EINVALID, "query parameter 'tenant' is not a valid tenant name");
    return t;
}

int sl_api_queue(struct sl_req *r)
{
    struct sl_error err = {0};
    json_t *queue = NULL;
    int rc;
    const char *tenant = tenant_arg(r, &err, &rc);
    if (rc == 0)
        rc = sl_service_queue_json(r->svc, tenant, &queue, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    return sl_reply_json(r, 200, queue);
}

int sl_api_stats(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_stats st;
    long days;
    int rc;
    const char *tenant = tenant_arg(r, &err, &rc);
    if (rc == 0)
        rc = sl_req_query_int(r, "days", 7, 1, 365, &days, &err);
    if (rc == 0)
        rc = sl_store_stats(r->svc->store, (int)days, tenant, sl_now_ms(), &st, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    rc = sl_reply_json(r, 200, sl_stats_json(&st));
    sl_stats_fini(&st);
    return rc;
}

int sl_api_health(struct sl_req *r)
{
    struct sl_error err = {0};
    int rc = sl_store_ping(r->svc->store, &err);
    if (rc)
        return sl_reply_json(r, 503,
                             json_pack("{s:s, s:s}", "status", "unavailable", "error", err.msg));
    return sl_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}
