#include "http/routes.h"

#include <stdio.h>
#include <string.h>

static const struct sl_route routes[] = {
    {"POST", "/api/integration/upload", sl_upload_handle, sl_upload_begin, sl_upload_body,
     SL_ACCESS_RATED},
    {"GET", "/api/cron/process-integration-jobs", sl_api_cron, NULL, NULL, SL_ACCESS_CRON},
    {"POST", "/api/cron/process-integration-jobs", sl_api_cron, NULL, NULL, SL_ACCESS_CRON},
    {"GET", "/api/integration/queue", sl_api_queue, NULL, NULL, 0},
    {"GET", "/api/integration/stats", sl_api_stats, NULL, NULL, 0},
    {"GET", "/api/integration/jobs", sl_api_jobs_list, NULL, NULL, 0},
    {"GET", "/api/integration/jobs/{id}", sl_api_job_get, NULL, NULL, 0},
    {"DELETE", "/api/integration/jobs/{id}", sl_api_job_cancel, NULL, NULL, 0},
    {"POST", "/api/integration/jobs/{id}/retry", sl_api_job_retry, NULL, NULL, 0},
    {"GET", "/api/integration/jobs/{id}/file", sl_api_job_file, NULL, NULL, 0},
    {"GET", "/api/integration/jobs/{id}/errors", sl_api_job_errors, NULL, NULL, 0},
    {"GET", "/api/integration/records/{type}", sl_api_records_list, NULL, NULL, 0},
    {"GET", "/api/integration/records/{type}/{key}", sl_api_record_get, NULL, NULL, 0},
    {"GET", "/api/integration/events", sl_api_events, NULL, NULL, SL_ACCESS_QUERY_TOKEN},
    {"GET", "/healthz", sl_api_health, NULL, NULL, SL_ACCESS_OPEN},
    {"GET", "/metrics", sl_api_metrics, NULL, NULL, 0},
    {"GET", "/", sl_ui_index, NULL, NULL, SL_ACCESS_OPEN},
    {"GET", "/ui/{file}", sl_ui_asset, NULL, NULL, SL_ACCESS_OPEN},
};

/* Matches path against pattern, capturing {params}. Returns 1 on a match. */
static int path_matches(const char *pattern, const char *path, char params[][SL_ROUTE_PARAM_MAX])
{
    int np = 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *pend = strchr(pattern, '}');
            size_t n = strcspn(path, "/");
            if (!pend || n == 0 || n >= SL_ROUTE_PARAM_MAX || np == SL_ROUTE_PARAMS_MAX)
                return 0;
            memcpy(params[np], path, n);
            params[np++][n] = '\0';
            pattern = pend + 1;
            path += n;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

const struct sl_route *sl_route_match(struct sl_req *r, const char *method, const char *path,
                                      int *status, char *allow, size_t allow_cap)
{
    size_t used = 0;
    char scratch[SL_ROUTE_PARAMS_MAX][SL_ROUTE_PARAM_MAX];

    allow[0] = '\0';
    *status = 404;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_matches(routes[i].pattern, path, scratch))
            continue;
        if (strcmp(routes[i].method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            memcpy(r->params, scratch, sizeof scratch);
            return &routes[i];
        }
        *status = 405;
        int n =
            snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "", routes[i].method);
        if (n > 0 && (size_t)n < allow_cap - used)
            used += (size_t)n;
    }
    return NULL;
}
