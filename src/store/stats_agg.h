/*
 * stats_agg: what both store backends share to answer statistics from aggregates instead of
 * scanning jobs, so the stats route costs the same with a thousand jobs or a million.
 *
 * Triggers keep these tables, in the same transaction as every change of a job:
 * - job_stats_hour: per (creation hour, tenant, type, status, finishing day), the number of jobs
 *   and the sums behind the averages (completed jobs' processing time, started jobs' wait).
 * - job_stats_day (SQLite): the same per creation day.
 * - job_hist: per (creation day, tenant, bucket), completed jobs by processing time, in
 *   log-linear buckets: exact below 32 ms, then 16 buckets per power of two (under 6.25% wide).
 *
 * A window starts at an arbitrary ms, so a query reads the day rows for its whole days, the
 * hour rows for the whole hours before the first of those (PostgreSQL: hour rows throughout),
 * and the jobs themselves for the part of an hour before the first whole hour: at most an hour
 * of jobs, whatever the table holds.
 * Percentiles are exact (a sorted scan) while the window holds at most SL_STATS_EXACT_MAX
 * completed jobs; above that they come from job_hist over the whole days the window touches,
 * each bucket standing for its midpoint.
 */
#ifndef SL_STORE_STATS_AGG_H
#define SL_STORE_STATS_AGG_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define SL_STATS_EXACT_MAX 5000

/* The SQL expression of the bucket of processing time v (an SQL expression, ms >= 0): v itself
 * below 32, otherwise v with all but its 5 leading bits cleared (2^32 ms and above: the low 28
 * bits). Portable to SQLite and PostgreSQL (integer shifts only). sl_hist_bucket is the same in
 * C. */
// clang-format off
#define SL_HB_(v, bit, sh) " WHEN " v " < " #bit " THEN (" v " >> " #sh ") << " #sh
#define SL_HIST_BUCKET_SQL(v)                                                                      \
    "(CASE WHEN " v " < 16 THEN " v                                                                \
    SL_HB_(v, 32, 0) SL_HB_(v, 64, 1) SL_HB_(v, 128, 2) SL_HB_(v, 256, 3) SL_HB_(v, 512, 4)        \
    SL_HB_(v, 1024, 5) SL_HB_(v, 2048, 6) SL_HB_(v, 4096, 7) SL_HB_(v, 8192, 8)                    \
    SL_HB_(v, 16384, 9) SL_HB_(v, 32768, 10) SL_HB_(v, 65536, 11) SL_HB_(v, 131072, 12)            \
    SL_HB_(v, 262144, 13) SL_HB_(v, 524288, 14) SL_HB_(v, 1048576, 15)                             \
    SL_HB_(v, 2097152, 16) SL_HB_(v, 4194304, 17) SL_HB_(v, 8388608, 18)                           \
    SL_HB_(v, 16777216, 19) SL_HB_(v, 33554432, 20) SL_HB_(v, 67108864, 21)                        \
    SL_HB_(v, 134217728, 22) SL_HB_(v, 268435456, 23) SL_HB_(v, 536870912, 24)                     \
    SL_HB_(v, 1073741824, 25) SL_HB_(v, 2147483648, 26) SL_HB_(v, 4294967296, 27)                  \
    " ELSE (" v " >> 28) << 28 END)"
// clang-format on

/* The bucket of v (ms): the C twin of SL_HIST_BUCKET_SQL. */
int64_t sl_hist_bucket(int64_t v);
/* The value a bucket stands for: the midpoint of the times it holds. */
int64_t sl_hist_value(int64_t bucket);

/*
 * Nearest-rank percentiles p (0..1) of a histogram given as n (bucket, count) pairs in
 * ascending bucket order: out[i] for ps[i], each -1 when the histogram is empty.
 */
void sl_hist_percentiles(const int64_t *buckets, const int64_t *counts, size_t n, const double *ps,
                         int64_t *out, size_t np);

/*
 * Adds count jobs of (type, status) to the array *t of *n entries, whose last entry is reused
 * when it is the same type (rows must come ordered by type). Returns 0 or SL_ENOMEM.
 */
int sl_type_counts_add(struct sl_type_counts **t, size_t *n, const char *type, const char *status,
                       int64_t count);

/* One aggregate row of a stats window, as both backends' query yields it. */
struct sl_stats_row {
    const char *type;
    const char *status;
    int64_t day;      /* creation day */
    int64_t done_day; /* finishing day, -1 while unfinished */
    int64_t n;
    int64_t proc_n, proc_sum; /* completed jobs with a processing time, and its sum */
    int64_t wait_n, wait_sum; /* started jobs, and the sum of started - created */
};

/* Folds rows into a struct sl_stats; the sums behind the averages live here meanwhile. */
struct sl_stats_fold {
    struct sl_stats *o;
    int64_t proc_n, proc_sum, wait_n, wait_sum;
};

/*
 * Starts folding into o (days and since already set): zeroes the figures and allocates the
 * daily series from since's day to now's. Returns 0 or SL_ENOMEM.
 */
int sl_stats_begin(struct sl_stats_fold *f, struct sl_stats *o, int64_t now);
/* Folds one row in; rows must come ordered by type. Returns 0 or SL_ENOMEM. */
int sl_stats_add(struct sl_stats_fold *f, const struct sl_stats_row *r);
/* Turns the sums into averages (-1 when none). The percentiles are the backend's to set. */
void sl_stats_end(struct sl_stats_fold *f);

#endif
