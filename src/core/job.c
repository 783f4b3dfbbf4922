#include "core/job.h"
#include "util/err.h"
#include "util/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const status_names[SL_JOB_STATUS_COUNT] = {"pending", "processing", "completed",
                                                              "failed"};

const char *sl_job_status_name(enum sl_job_status status)
{
    return (unsigned)status < SL_JOB_STATUS_COUNT ? status_names[status] : "unknown";
}

int sl_job_status_parse(const char *name, enum sl_job_status *out)
{
    for (int i = 0; i < SL_JOB_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (enum sl_job_status)i;
            return 0;
        }
    }
    return SL_EINVALID;
}

const char *sl_job_type_for_name(const char *file_name)
{
    static const struct {
        const char *ext;
        const char *type;
    } map[] = {{".csv", "csv"},   {".tsv", "csv"},       {".xlsx", "sheet"},  {".xls", "sheet"},
               {".json", "json"}, {".ndjson", "ndjson"}, {".jsonl", "ndjson"}};
    const char *dot = strrchr(file_name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcasecmp(dot, map[i].ext) == 0)
                return map[i].type;
    return "file";
}

int sl_job_name_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

int sl_json_set_time(json_t *obj, const char *key, int64_t ms)
{
    char iso[SL_ISO_MAX];
    if (ms == 0)
        return json_object_set_new(obj, key, json_null());
    sl_iso8601(ms, iso);
    return json_object_set_new(obj, key, json_string(iso));
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *sl_job_to_json(const struct sl_job *job)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_t *result = NULL;
    if (job->result)
        result = json_loads(job->result, JSON_DECODE_ANY, NULL);
    json_object_set_new(o, "id", json_string(job->id));
    json_object_set_new(o, "uploadId", json_string(job->upload_id));
    json_object_set_new(o, "tenant", str_or_null(job->tenant));
    json_object_set_new(o, "type", str_or_null(job->type));
    json_object_set_new(o, "status", json_string(sl_job_status_name(job->status)));
    json_object_set_new(o, "fileName", str_or_null(job->file_name));
    json_object_set_new(o, "contentType", str_or_null(job->content_type));
    json_object_set_new(o, "size", json_integer(job->size));
    json_object_set_new(o, "sha256", json_string(job->sha256));
    json_object_set_new(o, "attempts", json_integer(job->attempts));
    json_object_set_new(o, "maxAttempts", json_integer(job->max_attempts));
    sl_json_set_time(o, "createdAt", job->created_at);
    sl_json_set_time(o, "startedAt", job->started_at);
    sl_json_set_time(o, "completedAt", job->completed_at);
    sl_json_set_time(o, "nextAttemptAt", job->next_attempt_at);
    json_object_set_new(o, "processingMs",
                        job->processing_ms >= 0 ? json_integer(job->processing_ms) : json_null());
    json_object_set_new(o, "error", str_or_null(job->error));
    json_object_set_new(o, "result", result ? result : json_null());
    return o;
}

void sl_job_fini(struct sl_job *job)
{
    free(job->tenant);
    free(job->type);
    free(job->file_name);
    free(job->content_type);
    free(job->error);
    free(job->result);
    memset(job, 0, sizeof *job);
}

void sl_jobs_free(struct sl_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_job_fini(&jobs[i]);
    free(jobs);
}
