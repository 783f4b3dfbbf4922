/*
 * Unit tests of the statistics aggregates (src/store/stats_agg.c): the SQL bucket expression
 * and its C twin agree, percentiles from a histogram, and the SQLite migration that builds the
 * aggregates from the jobs already stored (an upgrade) gives the same figures as a scan.
 */
#include "testutil.h"

#include "store/sqlite_schema.h"
#include "store/stats_agg.h"
#include "util/timeutil.h"

#include <sqlite3.h>

/* The bucket of v as SQLite computes SL_HIST_BUCKET_SQL. */
static int64_t sql_bucket(sqlite3 *db, int64_t v)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT " SL_HIST_BUCKET_SQL("?1"), -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, v);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t b = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return b;
}

static void check_bucket(sqlite3 *db, int64_t v)
{
    int64_t b = sl_hist_bucket(v);
    if (sql_bucket(db, v) != b)
        fail_msg("bucket of %lld: SQL %lld, C %lld", (long long)v, (long long)sql_bucket(db, v),
                 (long long)b);
    /* a bucket holds its value, starts at a value of its own, and is narrow */
    assert_true(b <= v);
    check_i64(sl_hist_bucket(b), b);
    int64_t mid = sl_hist_value(b);
    assert_true(mid >= b);
    check_i64(sl_hist_bucket(mid), b);
    if (v >= 16 && v < ((int64_t)1 << 32) && (v - b) * 16 > v)
        fail_msg("bucket %lld of %lld is wider than 1/16", (long long)b, (long long)v);
    if (v < 32)
        check_i64(b, v); /* exact below 32 */
}

static void test_bucket_sql_matches_c(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    for (int64_t v = 0; v < 5000; v++)
        check_bucket(db, v);
    for (int bit = 5; bit < 45; bit++)
        for (int64_t d = -3; d <= 3; d++)
            check_bucket(db, ((int64_t)1 << bit) + d);
    uint32_t seed = 7;
    for (int i = 0; i < 2000; i++)
        check_bucket(db, (int64_t)sl_test_next_random(&seed) % 100000000);
    sqlite3_close(db);
}

static void test_percentiles_from_histogram(void **state)
{
    (void)state;
    /* 10 jobs at 5 ms, 80 at 100..103 ms (bucket 100), 10 at 1000 ms (bucket 992..1023) */
    const int64_t buckets[3] = {5, sl_hist_bucket(100), sl_hist_bucket(1000)};
    const int64_t counts[3] = {10, 80, 10};
    const double ps[4] = {0.0, 0.10, 0.50, 0.95};
    int64_t out[4];
    sl_hist_percentiles(buckets, counts, 3, ps, out, 4);
    check_i64(out[0], 5);   /* rank 1 */
    check_i64(out[1], 5);   /* rank 10 is the last 5 ms job */
    check_i64(out[2], 101); /* 100..103, midpoint 101 */
    check_i64(out[3], sl_hist_value(sl_hist_bucket(1000)));
    check_range(out[3], 992, 1023);

    sl_hist_percentiles(buckets, counts, 0, ps, out, 4);
    for (int i = 0; i < 4; i++)
        check_i64(out[i], -1);
}

/*
 * A store made by the migrations before the aggregates existed, holding finished and open
 * jobs, is upgraded: the new tables are filled from its jobs, and stats and queue counts agree
 * with what the jobs say.
 */
static void test_upgrade_fills_aggregates(void **state)
{
    (void)state;
    char url[600];
    sqlite3 *db = sl_test_old_sqlite(sl_sqlite_migrations, 4, url);

    const int64_t now = 1796040000000LL + 17 * 60000 + 5; /* mid-hour */
    const int64_t day = SL_MS_PER_DAY;
    char sql[1024];
    /* created, status, started, completed, ms: two completed, one failed, one pending, one
     * processing, one completed 9 days ago (outside a 7-day window) */
    const struct {
        int64_t created;
        const char *status;
        int64_t started, completed, ms;
    } rows[] = {
        {now - 2 * day, "completed", now - 2 * day + 100, now - 2 * day + 300, 200},
        {now - 3600 * 1000 * 5, "completed", now - 3600 * 1000 * 5 + 50,
         now - 3600 * 1000 * 5 + 450, 400},
        {now - day, "failed", now - day + 1000, now - day + 1100, 100},
        {now - 60000, "pending", 0, 0, 0},
        {now - 30000, "processing", now - 29000, 0, 0},
        {now - 9 * day, "completed", now - 9 * day + 1, now - 9 * day + 9, 8},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char id[SL_UUID_MAX];
        assert_int_equal(sl_uuid7(rows[i].created, id), 0);
        snprintf(sql, sizeof sql,
                 "INSERT INTO jobs (id, upload_id, tenant, type, status, file_name, content_type,"
                 " blob_key, size, sha256, attempts, max_attempts, created_at, due_at, started_at,"
                 " completed_at, processing_ms) VALUES ('%s', 'u', 'acme', '%s', '%s', 'f', 't',"
                 " 'k', 1, 'x', 0, 3, %lld, %lld, NULLIF(%lld, 0), NULLIF(%lld, 0),"
                 " NULLIF(%lld, 0))",
                 id, i % 2 ? "csv" : "json", rows[i].status, (long long)rows[i].created,
                 (long long)rows[i].created, (long long)rows[i].started,
                 (long long)rows[i].completed, (long long)rows[i].ms);
        sl_test_sql_ok(db, sql);
    }
    sqlite3_close(db);

    struct sl_store *s;
    struct sl_error err = {0};
    check_rc(sl_store_open(url, &s, &err), 0, &err);
    struct sl_stats st;
    check_rc(sl_store_stats(s, 7, NULL, now, &st, &err), 0, &err);
    check_i64(st.total, 5);
    check_i64(st.counts[SL_JOB_COMPLETED], 2);
    check_i64(st.counts[SL_JOB_FAILED], 1);
    check_i64(st.counts[SL_JOB_PENDING], 1);
    check_i64(st.counts[SL_JOB_PROCESSING], 1);
    check_i64(st.type_count, 2);
    if (st.avg_processing_ms < 299.999 || st.avg_processing_ms > 300.001)
        fail_msg("avg_processing_ms %f, expected 300", st.avg_processing_ms);
    check_i64(st.p50_processing_ms, 200);
    check_i64(st.p95_processing_ms, 400);
    /* waits 100, 50, 1000, 1000 */
    if (st.avg_wait_ms < 537.499 || st.avg_wait_ms > 537.501)
        fail_msg("avg_wait_ms %f, expected 537.5", st.avg_wait_ms);
    sl_stats_fini(&st);

    struct sl_queue_status q;
    check_rc(sl_store_queue_status(s, NULL, now, &q, &err), 0, &err);
    check_i64(q.total, 6);
    check_i64(q.counts[SL_JOB_COMPLETED], 3);
    sl_queue_status_fini(&q);
    sl_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_sql_matches_c),
        cmocka_unit_test(test_percentiles_from_histogram),
        cmocka_unit_test(test_upgrade_fills_aggregates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
