#include "util/config.h"
#include "util/dotenv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sources {
    struct sl_dotenv local; /* .env.local */
    struct sl_dotenv base;  /* .env */
};

static const char *lookup(const struct sources *src, const char *name)
{
    const char *v = getenv(name);
    if (!v)
        v = sl_dotenv_get(&src->local, name);
    if (!v)
        v = sl_dotenv_get(&src->base, name);
    return v;
}

/* Reads name as an integer in [min, max], or def when unset or empty. */
static int get_int(const struct sources *src, const char *name, int64_t def, int64_t min,
                   int64_t max, int64_t *out, struct sl_error *err)
{
    const char *v = lookup(src, name);
    if (!v || !*v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || end == v || n < min || n > max)
        return sl_err_set(err, SL_ECONFIG, "%s must be an integer from %lld to %lld, not '%.64s'",
                          name, (long long)min, (long long)max, v);
    *out = n;
    return 0;
}

static int get_str(const struct sources *src, const char *name, const char *def, char **out)
{
    const char *v = lookup(src, name);
    if (!v || !*v)
        v = def;
    if (!v) {
        *out = NULL;
        return 0;
    }
    *out = strdup(v);
    return *out ? 0 : SL_ENOMEM;
}

static int load_ints(struct sl_config *cfg, const struct sources *src, struct sl_error *err)
{
    int64_t v;
    int rc;
#define INT_FIELD(field, name, def, min, max)                                                      \
    if ((rc = get_int(src, name, def, min, max, &v, err)) != 0)                                    \
        return rc;                                                                                 \
    cfg->field = v;
    INT_FIELD(port, "PORT", 3000, 0, 65535)
    INT_FIELD(batch_size, "SLUICE_BATCH_SIZE", 5, 1, 100)
    INT_FIELD(max_attempts, "SLUICE_MAX_ATTEMPTS", 3, 1, 100)
    INT_FIELD(max_upload_bytes, "SLUICE_MAX_UPLOAD_BYTES", 1073741824LL, 1, 1LL << 50)
    INT_FIELD(max_files, "SLUICE_MAX_FILES", 100, 1, 10000)
    INT_FIELD(inline_max_bytes, "SLUICE_INLINE_MAX_BYTES", 65536, 0, 1 << 20)
    INT_FIELD(job_timeout_s, "SLUICE_JOB_TIMEOUT_SECONDS", 300, 1, 7 * 86400)
    INT_FIELD(retry_base_ms, "SLUICE_RETRY_BASE_MS", 10000, 0, 86400000)
    INT_FIELD(retry_max_ms, "SLUICE_RETRY_MAX_MS", 3600000, 0, 7 * 86400000LL)
    INT_FIELD(shutdown_grace_s, "SLUICE_SHUTDOWN_GRACE_SECONDS", 10, 0, 3600)
    INT_FIELD(test_process_delay_ms, "SLUICE_TEST_PROCESS_DELAY_MS", 0, 0, 3600000)
    INT_FIELD(sse_heartbeat_ms, "SLUICE_SSE_HEARTBEAT_MS", 15000, 10, 15000)
    INT_FIELD(upload_rate, "SLUICE_UPLOAD_RATE", 0, 0, 1000000)
    INT_FIELD(upload_burst, "SLUICE_UPLOAD_BURST",
              cfg->upload_rate > 0 ? 2LL * cfg->upload_rate : 1, 1, 2000000)
    INT_FIELD(max_connections, "SLUICE_MAX_CONNECTIONS", 512, 1, 1000)
    INT_FIELD(connection_timeout_s, "SLUICE_CONNECTION_TIMEOUT_SECONDS", 120, 1, 86400)
    INT_FIELD(request_timeout_s, "SLUICE_REQUEST_TIMEOUT_SECONDS", 3600, 0, 86400)
#undef INT_FIELD
    return 0;
}

static int load_strs(struct sl_config *cfg, const struct sources *src)
{
    char def_db[4200], def_blob[4200];
    int rc;

    if ((rc = get_str(src, "HOST", "127.0.0.1", &cfg->host)) ||
        (rc = get_str(src, "CRON_SECRET", NULL, &cfg->cron_secret)) ||
        (rc = get_str(src, "SLUICE_API_TOKEN", NULL, &cfg->api_token)) ||
        (rc = get_str(src, "SLUICE_CRON_ALLOW", NULL, &cfg->cron_allow)) ||
        (rc = get_str(src, "SLUICE_DATA_DIR", "./data", &cfg->data_dir)))
        return rc;
    snprintf(def_db, sizeof def_db, "sqlite:%s/sluice.db", cfg->data_dir);
    snprintf(def_blob, sizeof def_blob, "file:%s/blobs", cfg->data_dir);
    if ((rc = get_str(src, "DATABASE_URL", def_db, &cfg->database_url)) ||
        (rc = get_str(src, "SLUICE_BLOB_URL", def_blob, &cfg->blob_url)))
        return rc;
    return 0;
}

static int check(struct sl_config *cfg, const struct sources *src, struct sl_error *err)
{
    const char *worker = lookup(src, "SLUICE_WORKER");
    if (worker && *worker && strcmp(worker, "cron") != 0 && strcmp(worker, "continuous") != 0)
        return sl_err_set(err, SL_ECONFIG,
                          "SLUICE_WORKER must be 'cron' or 'continuous', not '%.64s'", worker);
    cfg->continuous = worker && strcmp(worker, "continuous") == 0;
    if (strlen(cfg->data_dir) > 3000)
        return sl_err_set(err, SL_ECONFIG, "SLUICE_DATA_DIR is longer than 3000 bytes");
    if (strncmp(cfg->database_url, "sqlite:", 7) != 0 &&
        strncmp(cfg->database_url, "postgres://", 11) != 0 &&
        strncmp(cfg->database_url, "postgresql://", 13) != 0)
        return sl_err_set(err, SL_ECONFIG,
                          "DATABASE_URL must start with sqlite: or postgres://, not '%.64s'",
                          cfg->database_url);
    if (strncmp(cfg->blob_url, "file:", 5) != 0 && strncmp(cfg->blob_url, "s3://", 5) != 0)
        return sl_err_set(err, SL_ECONFIG,
                          "SLUICE_BLOB_URL must start with file: or s3://, not '%.64s'",
                          cfg->blob_url);
    if (cfg->retry_max_ms < cfg->retry_base_ms)
        return sl_err_set(err, SL_ECONFIG,
                          "SLUICE_RETRY_MAX_MS must not be below SLUICE_RETRY_BASE_MS");
    return 0;
}

/*
 * Settings the S3 blob store reads as the AWS tools do, by name (and its temp folder from
 * SLUICE_DATA_DIR). Values found only in .env.local or .env are kept here for
 * sl_config_getenv rather than put into the environment, so that command processors, which
 * inherit the environment, do not see secrets from those files. Set at start-up, before any
 * thread; read-only afterwards.
 */
static const char *const backend_names[] = {"AWS_ENDPOINT_URL_S3", "AWS_REGION",
                                            "AWS_ACCESS_KEY_ID",   "AWS_SECRET_ACCESS_KEY",
                                            "AWS_SESSION_TOKEN",   "SLUICE_DATA_DIR"};
#define BACKEND_N (sizeof backend_names / sizeof backend_names[0])
static char *backend_values[BACKEND_N];

static int keep_backend_vars(const struct sources *src)
{
    for (size_t i = 0; i < BACKEND_N; i++) {
        const char *v = lookup(src, backend_names[i]);
        free(backend_values[i]);
        backend_values[i] = NULL;
        if (v && !(backend_values[i] = strdup(v)))
            return SL_ENOMEM;
    }
    return 0;
}

const char *sl_config_getenv(const char *name)
{
    const char *v = getenv(name);
    for (size_t i = 0; !v && i < BACKEND_N; i++)
        if (strcmp(backend_names[i], name) == 0)
            v = backend_values[i];
    return v;
}

int sl_config_load(struct sl_config *cfg, const char *dir, struct sl_error *err)
{
    struct sources src = {0};
    char path[4200];
    int rc;

    memset(cfg, 0, sizeof *cfg);
    if (!dir)
        dir = ".";
    snprintf(path, sizeof path, "%s/.env.local", dir);
    if ((rc = sl_dotenv_load(&src.local, path, err)) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/.env", dir);
    if ((rc = sl_dotenv_load(&src.base, path, err)) != 0)
        goto out;
    if ((rc = load_ints(cfg, &src, err)) || (rc = load_strs(cfg, &src)) ||
        (rc = check(cfg, &src, err)) || (rc = keep_backend_vars(&src)))
        goto out;
out:
    sl_dotenv_fini(&src.local);
    sl_dotenv_fini(&src.base);
    if (rc)
        sl_config_fini(cfg);
    return rc;
}

void sl_config_fini(struct sl_config *cfg)
{
    free(cfg->host);
    free(cfg->cron_secret);
    free(cfg->api_token);
    free(cfg->cron_allow);
    free(cfg->data_dir);
    free(cfg->database_url);
    free(cfg->blob_url);
    memset(cfg, 0, sizeof *cfg);
}
