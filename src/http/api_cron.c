/*
 * The cron route: one batch per call. Guarded by CRON_SECRET (a bearer token, compared in
 * constant time by sl_secret_equal); with no secret set, only loopback callers may run a batch.
 * SLUICE_CRON_ALLOW, when set, is checked before this, by the server (http/access.h).
 */
#include "core/report.h"
#include "http/routes.h"

#include <string.h>

static int authorised(struct sl_req *r)
{
    const char *secret = r->svc->cfg->cron_secret;
    if (!secret)
        return sl_req_from_loopback(r);
    const char *auth = sl_req_header(r, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0)
        return 0;
    return sl_secret_equal(auth + 7, secret);
}

int sl_api_cron(struct sl_req *r)
{
    struct sl_error err = {0};
    struct sl_batch_result res;
    long limit;

    if (!authorised(r))
        return sl_reply_errorf(r, SL_EUNAUTHORIZED,
                               r->svc->cfg->cron_secret
                                   ? "send 'Authorization: Bearer <CRON_SECRET>' to run a batch"
                                   : "without CRON_SECRET only loopback callers may run a batch");
    int rc = sl_req_query_int(r, "limit", r->svc->cfg->batch_size, 1, 100, &limit, &err);
    if (rc == 0)
        rc = sl_runner_run(r->svc->runner, (int)limit, &res, &err);
    if (rc)
        return sl_reply_error(r, rc, &err);
    rc = sl_reply_json(r, 200, sl_batch_json(&res));
    sl_batch_result_fini(&res);
    return rc;
}
