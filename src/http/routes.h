/*
 * routes: the route table, one line per method and path, and its matcher.
 *
 * A path pattern is literal segments and `{name}` segments (one segment each, captured into
 * req->params in order). A route may stream its body: `begin` runs once the headers are in
 * (it may answer early, e.g. 415), `body` gets each chunk, and `handle` runs at the end.
 * Each route also says who may call it (`access`, checked by the server before `begin`).
 * Handlers live in one file per API area (upload.c, api_jobs.c, api_queue.c, api_events.c),
 * and the web UI's in ui.c.
 */
#ifndef SL_HTTP_ROUTES_H
#define SL_HTTP_ROUTES_H

#include "http/access.h"
#include "http/request.h"

#include <stddef.h>

struct sl_route {
    const char *method;
    const char *pattern;
    int (*handle)(struct sl_req *r);
    int (*begin)(struct sl_req *r);                               /* optional */
    int (*body)(struct sl_req *r, const char *data, size_t size); /* optional */
    unsigned access; /* SL_ACCESS_* flags (http/access.h); 0: the API token is required */
};

/*
 * Finds the route of method and path, filling r->params. Returns the route, or NULL with
 * *status 404, or 405 and the allowed methods in allow (comma separated).
 */
const struct sl_route *sl_route_match(struct sl_req *r, const char *method, const char *path,
                                      int *status, char *allow, size_t allow_cap);

/* Handlers, by area. */
int sl_upload_begin(struct sl_req *r);
int sl_upload_body(struct sl_req *r, const char *data, size_t size);
int sl_upload_handle(struct sl_req *r);
int sl_api_cron(struct sl_req *r);
int sl_api_queue(struct sl_req *r);
int sl_api_stats(struct sl_req *r);
int sl_api_health(struct sl_req *r);
int sl_api_metrics(struct sl_req *r);
int sl_api_jobs_list(struct sl_req *r);
int sl_api_job_get(struct sl_req *r);
int sl_api_job_retry(struct sl_req *r);
int sl_api_job_cancel(struct sl_req *r);
int sl_api_job_file(struct sl_req *r);
int sl_api_job_errors(struct sl_req *r);
int sl_api_records_list(struct sl_req *r);
int sl_api_record_get(struct sl_req *r);
int sl_api_events(struct sl_req *r); /* api_events.c: the live queue, Server-Sent Events */
int sl_ui_index(struct sl_req *r);   /* ui.c: the web UI's page */
int sl_ui_asset(struct sl_req *r);   /* ui.c: its scripts, styles and icon */

#endif
