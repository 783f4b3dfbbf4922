/*
 * service: the running parts of one sluice process wired together: configuration, job store,
 * blob store, processor registry and batch runner. The HTTP server and every CLI verb work
 * through one of these, so they share one behaviour.
 *
 * sl_service_open takes ownership of nothing: it borrows cfg (which must outlive the service)
 * and owns what it opens. On failure nothing is left open.
 */
#ifndef SL_SERVICE_H
#define SL_SERVICE_H

#include "blob/blob.h"
#include "core/batch.h"
#include "core/processor.h"
#include "store/store.h"
#include "util/config.h"

#include <limits.h>

struct sl_service {
    const struct sl_config *cfg;
    struct sl_store *store;
    struct sl_blob *blob;
    struct sl_processors procs;
    struct sl_runner *runner;
    char tmp_dir[PATH_MAX]; /* <data dir>/tmp: uploads in flight */
    int64_t next_run_at;    /* ms of the scheduler's next firing, 0 when none */
};

/* Opens store and blob store from cfg, migrates, prepares the temporary folder. */
int sl_service_open(const struct sl_config *cfg, struct sl_service **out, struct sl_error *err);
void sl_service_close(struct sl_service *svc);

#endif
