/*
 * report: the contract's JSON for queue status, statistics and batch summaries, shared by the
 * HTTP routes and the CLI's --json output so both always print the same thing.
 *
 * Each function returns a new jansson reference (the caller decrefs it) or NULL when out of
 * memory. Pure: no I/O.
 */
#ifndef SL_REPORT_H
#define SL_REPORT_H

#include "core/batch.h"
#include "store/store.h"

#include <jansson.h>

/* last_run_at and next_run_at are ms, 0 for null; is_processing reflects this process too. */
json_t *sl_queue_json(const struct sl_queue_status *q, int is_processing, int64_t last_run_at,
                      int64_t next_run_at);
json_t *sl_stats_json(const struct sl_stats *st);
json_t *sl_batch_json(const struct sl_batch_result *res);

#endif
