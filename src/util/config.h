/*
 * config: every setting of sluice, read once at start-up and validated.
 *
 * Sources, first found wins: the process environment, then `.env.local`, then `.env` in the
 * working directory (as the contract says). Each value is checked; a bad one is an SL_ECONFIG
 * error whose message names the variable and the text at fault. The struct owns its strings;
 * release them with sl_config_fini. Read-only after loading, so threads may share it.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include "util/err.h"

#include <stdint.h>

struct sl_config {
    char *host;
    int port;
    char *cron_secret;             /* NULL when unset: then only loopback callers may run a batch */
    char *data_dir;                /* SLUICE_DATA_DIR */
    char *database_url;            /* sqlite:PATH or postgres://... */
    char *blob_url;                /* file:PATH or s3://bucket[/prefix] */
    int batch_size;                /* jobs per batch, 1..100 */
    int max_attempts;              /* attempts before failed, 1..100 */
    int64_t max_upload_bytes;      /* per file */
    int64_t inline_max_bytes;      /* files up to this size are stored with their job; 0: never */
    int max_files;                 /* file parts per upload request */
    int job_timeout_s;             /* per job; also the lease length */
    int64_t retry_base_ms;         /* first backoff step */
    int64_t retry_max_ms;          /* backoff cap */
    int shutdown_grace_s;          /* how long a running job may finish on SIGTERM */
    int continuous;                /* SLUICE_WORKER=continuous */
    int64_t test_process_delay_ms; /* fault seam for crash tests: each job sleeps this long */
    int64_t sse_heartbeat_ms;      /* live queue: a heartbeat comment at least this often */
    char *api_token;               /* SLUICE_API_TOKEN: bearer for the API; NULL when unset */
    char *cron_allow;              /* SLUICE_CRON_ALLOW: CIDR list text; NULL when unset */
    int upload_rate;               /* uploads per second per client address; 0: no limit */
    int upload_burst;              /* token bucket size; default 2 x rate, at least 1 */
    int max_connections;           /* concurrent HTTP connections */
    int connection_timeout_s;      /* an idle connection is closed after this long */
    int request_timeout_s;         /* longest time to receive one request; 0: no limit */
};

/*
 * Fills cfg from the environment and the dotenv files in dir (NULL: the working directory).
 * Returns 0, or SL_ECONFIG/SL_EIO/SL_ENOMEM with err naming the variable or file.
 */
int sl_config_load(struct sl_config *cfg, const char *dir, struct sl_error *err);

/*
 * A setting a backend reads by name (the S3 store's AWS_* variables, SLUICE_DATA_DIR): the
 * environment's value, else the one the last sl_config_load found in .env.local or .env (kept
 * out of the environment, so command processors do not inherit it), else NULL.
 */
const char *sl_config_getenv(const char *name);

void sl_config_fini(struct sl_config *cfg);

#endif
