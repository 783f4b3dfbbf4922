/*
 * stats_agg: histogram buckets and the folding of aggregate rows into struct sl_stats, shared by
 * the SQLite and PostgreSQL stores (see stats_agg.h).
 */
#include "store/stats_agg.h"
#include "util/timeutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Index of the highest set bit of v > 0. */
static int top_bit(int64_t v)
{
    int b = 0;
    while (v >>= 1)
        b++;
    return b;
}

/* How many low bits a bucket of values with top bit b clears (see SL_HIST_BUCKET_SQL). */
static int bucket_shift(int b)
{
    if (b < 4)
        return 0;
    return b > 32 ? 28 : b - 4;
}

int64_t sl_hist_bucket(int64_t v)
{
    if (v < 16)
        return v;
    int sh = bucket_shift(top_bit(v));
    return (v >> sh) << sh;
}

int64_t sl_hist_value(int64_t bucket)
{
    if (bucket < 16)
        return bucket;
    int sh = bucket_shift(top_bit(bucket));
    return bucket + (((int64_t)1 << sh) - 1) / 2;
}

void sl_hist_percentiles(const int64_t *buckets, const int64_t *counts, size_t n, const double *ps,
                         int64_t *out, size_t np)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += counts[i];
    for (size_t k = 0; k < np; k++) {
        out[k] = -1;
        if (total <= 0)
            continue;
        int64_t rank = (int64_t)ceil(ps[k] * (double)total); /* 1-based */
        if (rank < 1)
            rank = 1;
        int64_t seen = 0;
        for (size_t i = 0; i < n; i++) {
            seen += counts[i];
            if (seen >= rank) {
                out[k] = sl_hist_value(buckets[i]);
                break;
            }
        }
    }
}

int sl_stats_begin(struct sl_stats_fold *f, struct sl_stats *o, int64_t now)
{
    int days = o->days;
    int64_t since = o->since;
    memset(o, 0, sizeof *o);
    memset(f, 0, sizeof *f);
    f->o = o;
    o->days = days;
    o->since = since;
    o->avg_processing_ms = o->avg_wait_ms = -1;
    o->p50_processing_ms = o->p95_processing_ms = -1;

    int64_t first = since / SL_MS_PER_DAY, last = now / SL_MS_PER_DAY;
    o->day_count = (size_t)(last - first + 1);
    o->daily = calloc(o->day_count, sizeof *o->daily);
    if (!o->daily)
        return SL_ENOMEM;
    for (size_t i = 0; i < o->day_count; i++)
        o->daily[i].day = first + (int64_t)i;
    return 0;
}

/* The entry of type in *arr, added at the end when the last one is another type. */
static struct sl_type_counts *type_entry(struct sl_type_counts **arr, size_t *n, const char *type)
{
    if (*n > 0 && strcmp((*arr)[*n - 1].type, type) == 0)
        return &(*arr)[*n - 1];
    struct sl_type_counts *grown = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!grown)
        return NULL;
    *arr = grown;
    struct sl_type_counts *t = &grown[*n];
    memset(t, 0, sizeof *t);
    if (!(t->type = strdup(type)))
        return NULL;
    (*n)++;
    return t;
}

int sl_type_counts_add(struct sl_type_counts **arr, size_t *n, const char *type, const char *status,
                       int64_t count)
{
    struct sl_type_counts *t = type_entry(arr, n, type);
    if (!t)
        return SL_ENOMEM;
    enum sl_job_status s;
    if (sl_job_status_parse(status, &s) == 0)
        t->counts[s] += count;
    t->total += count;
    return 0;
}

static struct sl_day_counts *day_entry(struct sl_stats *o, int64_t day)
{
    int64_t i = day - o->since / SL_MS_PER_DAY;
    return i >= 0 && i < (int64_t)o->day_count ? &o->daily[i] : NULL;
}

int sl_stats_add(struct sl_stats_fold *f, const struct sl_stats_row *r)
{
    struct sl_stats *o = f->o;
    if (r->n == 0 && r->proc_n == 0 && r->wait_n == 0)
        return 0; /* a counter row that went back to zero: no type of its own */
    struct sl_type_counts *t = type_entry(&o->types, &o->type_count, r->type);
    if (!t)
        return SL_ENOMEM;
    enum sl_job_status s;
    int known = sl_job_status_parse(r->status, &s) == 0;
    if (known) {
        t->counts[s] += r->n;
        o->counts[s] += r->n;
    }
    t->total += r->n;
    o->total += r->n;
    f->proc_n += r->proc_n;
    f->proc_sum += r->proc_sum;
    f->wait_n += r->wait_n;
    f->wait_sum += r->wait_sum;

    struct sl_day_counts *d = day_entry(o, r->day);
    if (d)
        d->created += r->n;
    if (known && r->done_day >= 0 && (d = day_entry(o, r->done_day)) != NULL) {
        if (s == SL_JOB_COMPLETED)
            d->completed += r->n;
        else if (s == SL_JOB_FAILED)
            d->failed += r->n;
    }
    return 0;
}

void sl_stats_end(struct sl_stats_fold *f)
{
    struct sl_stats *o = f->o;
    o->avg_processing_ms = f->proc_n > 0 ? (double)f->proc_sum / (double)f->proc_n : -1;
    o->avg_wait_ms = f->wait_n > 0 ? (double)f->wait_sum / (double)f->wait_n : -1;
}
