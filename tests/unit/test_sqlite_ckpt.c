/*
 * The SQLite store checkpoints its WAL on a thread of its own (src/store/sqlite_ckpt.c): pages
 * committed reach the database file while the store stays open and nothing else is written,
 * and the next commit after that starts the WAL over.
 */
#include "testutil.h"

#include "store/store.h"
#include "util/uuid.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Writes n records of about 2 KB each under job, in one batch. */
static void write_records(struct sl_store *s, const char *job, int first, int n)
{
    struct sl_record_in *recs = calloc((size_t)n, sizeof *recs);
    char(*keys)[32] = calloc((size_t)n, sizeof *keys);
    char *text = malloc(2100);
    assert_true(recs && keys && text);
    memset(text, 'x', 2100);
    memcpy(text, "{\"t\":\"", 6);
    memcpy(text + 2000, "\"}", 3);
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "r%08d", first + i);
        recs[i] = (struct sl_record_in){keys[i], text};
    }
    struct sl_error err = {0};
    int64_t created = 0, updated = 0;
    check_rc(sl_store_upsert_records(s, "acme", "blobs", job, NULL, recs, (size_t)n, 1000, &created,
                                     &updated, &err),
             0, &err);
    check_i64(created, n);
    free(recs);
    free(keys);
    free(text);
}

static void test_checkpoints_in_the_background(void **state)
{
    (void)state;
    char dir[256], db[512], url[600], job[SL_UUID_MAX];
    sl_test_tmpdir(dir);
    snprintf(db, sizeof db, "%s/s.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", db);
    assert_int_equal(sl_uuid7(1000, job), 0);
    struct sl_store *s;
    struct sl_error err = {0};
    check_rc(sl_store_open(url, &s, &err), 0, &err);
    long long before = file_size(db);

    /* about 1,500 pages in one commit: past the threshold, so the thread is woken */
    write_records(s, job, 0, 3000);
    long long after = before;
    for (int i = 0; i < 200 && after < before + 4000000; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        after = file_size(db);
    }
    if (after < before + 4000000)
        fail_msg("the database file stayed at %lld bytes (was %lld): no checkpoint ran", after,
                 before);

    /* everything was copied, so the next commit starts the WAL over: it holds that commit only */
    write_records(s, job, 5000, 1);
    sqlite3 *db2;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(db, &db2), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db2, "PRAGMA wal_checkpoint(PASSIVE)", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int frames = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    sqlite3_close(db2);
    if (frames < 1 || frames > 50)
        fail_msg("the WAL holds %d frames after a one-record commit, expected a few", frames);
    struct sl_record r;
    check_rc(sl_store_get_record(s, "acme", "blobs", "r00005000", &r, &err), 0, &err);
    sl_record_fini(&r);
    sl_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoints_in_the_background),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
