#include "core/service.h"
#include "core/report.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Removes upload temporaries left by processes that died mid-upload. Their names carry the
 * owner's pid ("up-<pid>-..."), so files of a live process sharing the folder are kept.
 */
static void clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        if (strncmp(e->d_name, "up-", 3) != 0)
            continue;
        long pid = strtol(e->d_name + 3, &end, 10);
        if (*end != '-' || pid <= 0 || pid == getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its owner is alive */
        char path[PATH_MAX];
        if (sl_path_join(path, sizeof path, dir, e->d_name) == 0 && unlink(path) == 0)
            sl_info("removed leftover upload file %s", e->d_name);
    }
    closedir(d);
}

int sl_service_open(const struct sl_config *cfg, struct sl_service **out, struct sl_error *err)
{
    struct sl_service *svc = calloc(1, sizeof *svc);
    int rc;

    *out = NULL;
    if (!svc)
        return SL_ENOMEM;
    svc->cfg = cfg;
    sl_processors_init(&svc->procs);
    if ((rc = sl_procconf_load("sluice.json", &svc->procconf, err)) != 0 ||
        (rc = sl_procconf_register(&svc->procconf, &svc->procs)) != 0)
        goto out;
    if (sl_path_join(svc->tmp_dir, sizeof svc->tmp_dir, cfg->data_dir, "tmp")) {
        rc = sl_err_set(err, SL_ECONFIG, "SLUICE_DATA_DIR is too long");
        goto out;
    }
    if ((rc = sl_mkdirs(svc->tmp_dir)) != 0) {
        rc = sl_err_set(err, rc, "SLUICE_DATA_DIR: cannot create '%.200s': %s", svc->tmp_dir,
                        strerror(errno));
        goto out;
    }
    clean_tmp(svc->tmp_dir);
    if ((rc = sl_store_open(cfg->database_url, &svc->store, err)) != 0 ||
        (rc = sl_blob_open(cfg->blob_url, &svc->blob, err)) != 0 ||
        (rc = sl_events_new(&svc->events)) != 0 || (rc = sl_metrics_new(&svc->metrics)) != 0 ||
        (rc = sl_runner_new(cfg, svc->store, svc->blob, &svc->procs, &svc->runner)) != 0)
        goto out;
    sl_runner_set_events(svc->runner, svc->events);
    sl_runner_set_metrics(svc->runner, svc->metrics);
    *out = svc;
out:
    if (rc)
        sl_service_close(svc);
    return rc;
}

void sl_service_close(struct sl_service *svc)
{
    if (!svc)
        return;
    sl_runner_free(svc->runner);
    sl_store_close(svc->store); /* first: its watch thread may still notify the events */
    sl_events_free(svc->events);
    sl_metrics_free(svc->metrics);
    sl_blob_close(svc->blob);
    sl_procconf_fini(&svc->procconf);
    free(svc);
}

void sl_service_jobs_added(struct sl_service *svc)
{
    sl_worker_kick(svc->worker);
    sl_events_notify(svc->events);
}

void sl_service_upload_stored(struct sl_service *svc, const struct sl_job *jobs, size_t n)
{
    int64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += jobs[i].size;
    sl_metrics_upload(svc->metrics, n, bytes);
    sl_service_jobs_added(svc);
}

static void on_store_change(void *arg)
{
    sl_events_notify(arg);
}

int sl_service_watch_store(struct sl_service *svc, struct sl_error *err)
{
    return sl_store_watch(svc->store, on_store_change, svc->events, err);
}

void sl_service_jobs_changed(struct sl_service *svc)
{
    sl_events_notify(svc->events);
}

int sl_service_queue_json(struct sl_service *svc, const char *tenant, json_t **out,
                          struct sl_error *err)
{
    struct sl_queue_status q;
    *out = NULL;
    int rc = sl_store_queue_status(svc->store, tenant, sl_now_ms(), &q, err);
    if (rc)
        return rc;
    *out = sl_queue_json(&q, sl_runner_busy(svc->runner), sl_service_last_run(svc),
                         sl_service_next_run(svc));
    sl_queue_status_fini(&q);
    return *out ? 0 : sl_err_set(err, SL_ENOMEM, "out of memory while building the queue status");
}

int64_t sl_service_last_run(struct sl_service *svc)
{
    int64_t mine = sl_runner_last_run_at(svc->runner), fired = 0;
    if (sl_store_cron_last_run(svc->store, SL_BATCH_PATH, &fired, NULL) != 0)
        fired = 0;
    return fired > mine ? fired : mine;
}

int64_t sl_service_next_run(struct sl_service *svc)
{
    if (!svc->sched)
        return 0;
    int64_t next = sl_scheduler_next_run(svc->sched, SL_BATCH_PATH);
    return next ? next : sl_scheduler_next_run(svc->sched, NULL);
}
