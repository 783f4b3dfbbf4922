/*
 * job: the job record every part of sluice shares, and its JSON form (the contract's Job).
 *
 * A struct sl_job owns its heap strings (tenant, type, file_name, content_type, error, result);
 * sl_job_fini releases them. Times are ms since the epoch, UTC, with 0 meaning "absent" (the
 * epoch itself is never a job time). Pure data: no store, no HTTP. Thread rules: none.
 */
#ifndef SL_JOB_H
#define SL_JOB_H

#include "util/sha256.h"
#include "util/uuid.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum sl_job_status {
    SL_JOB_PENDING,
    SL_JOB_PROCESSING,
    SL_JOB_COMPLETED,
    SL_JOB_FAILED,
    SL_JOB_STATUS_COUNT
};

#define SL_BLOB_KEY_MAX 96
#define SL_TENANT_MAX   128 /* bytes of a tenant name */
#define SL_TYPE_MAX     64  /* bytes of a job type */

struct sl_job {
    char id[SL_UUID_MAX];
    char upload_id[SL_UUID_MAX];
    char *tenant;
    char *type;
    char *file_name;
    char *content_type;
    char blob_key[SL_BLOB_KEY_MAX];
    int64_t size; /* bytes */
    char sha256[SL_SHA256_HEX];
    enum sl_job_status status;
    int attempts;
    int max_attempts;
    int64_t created_at;
    int64_t started_at;
    int64_t completed_at;
    int64_t next_attempt_at; /* set only while pending after a failure */
    int64_t processing_ms;   /* -1 when absent */
    int64_t fence;           /* fencing token of the current (or last) claim */
    char *error;             /* last failure's message, or NULL */
    char *result;            /* processor's JSON summary as text, or NULL */
    /* Insert only: a small file's bytes, stored with the job row in the same transaction
     * (blob_key is then SL_BLOB_INLINE); borrowed, never freed by sl_job_fini. */
    const void *inline_data;
    size_t inline_len;
};

/* The blob_key of a job whose file is stored inline, in the job store itself. */
#define SL_BLOB_INLINE "inline"

/* "pending", "processing", ... */
const char *sl_job_status_name(enum sl_job_status status);
/* Parses a status name; returns 0 or SL_EINVALID. */
int sl_job_status_parse(const char *name, enum sl_job_status *out);

/* The contract's default type for a file name: csv, sheet, json, ndjson or file. */
const char *sl_job_type_for_name(const char *file_name);

/* 1 when s is a valid tenant or type name: 1..max bytes of [A-Za-z0-9_.-]. */
int sl_job_name_valid(const char *s, size_t max);

/* The contract's JSON object for job (a new reference), or NULL when out of memory. */
json_t *sl_job_to_json(const struct sl_job *job);

void sl_job_fini(struct sl_job *job);
/* Finalises and frees an array of n jobs. */
void sl_jobs_free(struct sl_job *jobs, size_t n);

/* Adds an ISO 8601 time, or null when ms is 0, under key. */
int sl_json_set_time(json_t *obj, const char *key, int64_t ms);

#endif
