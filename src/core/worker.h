/*
 * worker: the opt-in continuous mode (`sluice serve --continuous`, SLUICE_WORKER=continuous).
 *
 * A thread that runs batches as soon as jobs are due: it wakes the moment a job is stored
 * (sl_worker_kick, called by the upload and retry routes) or becomes due (it sleeps until the
 * store's earliest due time), and runs batches until none is due. The cron keeps sweeping
 * beside it. Borrowed: the runner and store must outlive the worker.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include "core/batch.h"

struct sl_worker;

int sl_worker_start(struct sl_runner *runner, struct sl_store *store, int batch_size,
                    struct sl_worker **out);
/* Wakes the worker: a job was stored or became pending. Cheap; any thread. */
void sl_worker_kick(struct sl_worker *w);
/* Stops the thread once its current batch ends, and frees the worker. */
void sl_worker_stop(struct sl_worker *w);

#endif
