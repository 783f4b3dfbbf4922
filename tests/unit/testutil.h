/*
 * testutil: what every unit test shares: cmocka, a fresh temporary folder per test, the check_*
 * assertions that print both sides on failure, and small helpers several suites need (writing a
 * file, opening the stores in a test folder, building and storing jobs, a fixed-seed generator).
 *
 * Each test binary runs in its own temporary working directory (scripts/run-unit-tests.sh);
 * sl_test_tmpdir() gives each test a new sub-folder inside it so tests never see each other's
 * files.
 */
#ifndef SL_TESTUTIL_H
#define SL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/job.h"
#include "store/store.h"
#include "util/err.h"
#include "util/uuid.h"

/* ---------------------------------------------------------------------------------------------
 * Checks: each fails the test with the expression and both values.
 */

/* Checks rc and prints the error's code and message when it is not the expected one. */
#define check_rc(rc, want, err)                                                                    \
    do {                                                                                           \
        int rc_ = (rc), want_ = (want);                                                            \
        if (rc_ != want_)                                                                          \
            fail_msg("%s returned %d (%s: %s), expected %d (%s)", #rc, rc_, sl_err_code(rc_),      \
                     (err)->msg, want_, sl_err_code(want_));                                       \
    } while (0)

/* Compares two 64-bit integers and prints both sides in decimal on failure. */
#define check_i64(got, want)                                                                       \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        if (got_ != want_)                                                                         \
            fail_msg("%s is %lld, expected %lld", #got, got_, want_);                              \
    } while (0)

#define check_range(got, lo, hi)                                                                   \
    do {                                                                                           \
        long long got_ = (long long)(got), lo_ = (long long)(lo), hi_ = (long long)(hi);           \
        if (got_ < lo_ || got_ > hi_)                                                              \
            fail_msg("%s is %lld, expected within [%lld, %lld]", #got, got_, lo_, hi_);            \
    } while (0)

#define check_status(got, want)                                                                    \
    do {                                                                                           \
        enum sl_job_status got_ = (got), want_ = (want);                                           \
        if (got_ != want_)                                                                         \
            fail_msg("%s is %s, expected %s", #got, sl_job_status_name(got_),                      \
                     sl_job_status_name(want_));                                                   \
    } while (0)

/* Compares two strings, either of which may be NULL (want NULL: got must be NULL too). */
#define check_str(got, want)                                                                       \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        if (!want_ && got_)                                                                        \
            fail_msg("%s is '%s', expected NULL", #got, got_);                                     \
        if (want_ && !got_)                                                                        \
            fail_msg("%s is NULL, expected '%s'", #got, want_);                                    \
        if (want_ && strcmp(got_, want_) != 0)                                                     \
            fail_msg("%s is '%s', expected '%s'", #got, got_, want_);                              \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * Folders and files
 */

/* Makes a new empty folder under the working directory and returns its path (static buffer
 * per call site is not kept: the caller copies it when needed). */
static inline const char *sl_test_tmpdir(char buf[256])
{
    static int counter;
    snprintf(buf, 256, "./t%d-XXXXXX", ++counter);
    if (!mkdtemp(buf))
        fail_msg("mkdtemp failed");
    return buf;
}

/* Runs sql on db (a connection of the test's own, e.g. to make an older schema); fails the test
 * with SQLite's message when it fails. */
static inline void sl_test_sql_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

/*
 * Makes a store file in a new folder at schema version `version` by running the first `version`
 * of `migrations` (sl_sqlite_migrations), as an older sluice left it, for upgrade tests. Returns
 * the open connection (the caller adds rows, then closes it) and the store's URL in url.
 */
static inline sqlite3 *sl_test_old_sqlite(const char *const *migrations, int version, char url[600])
{
    char dir[256], pragma[64];
    sqlite3 *db = NULL;
    sl_test_tmpdir(dir);
    snprintf(url, 600, "sqlite:%s/old.db", dir);
    assert_int_equal(sqlite3_open(url + strlen("sqlite:"), &db), SQLITE_OK);
    for (int v = 0; v < version; v++)
        sl_test_sql_ok(db, migrations[v]);
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version);
    sl_test_sql_ok(db, pragma);
    return db;
}

/* Writes text to path, replacing what was there. */
static inline void sl_test_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Creates path, which must not exist yet, holding data[0..len). */
static inline void sl_test_write_new(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* ---------------------------------------------------------------------------------------------
 * Stores in a test folder
 */

/* Opens the SQLite store "sqlite:<dir>/s.db"; its URL goes to url. Returns sl_store_open's rc. */
static inline int sl_test_store_open(const char *dir, char *url, size_t cap, struct sl_store **s,
                                     struct sl_error *err)
{
    snprintf(url, cap, "sqlite:%s/s.db", dir);
    return sl_store_open(url, s, err);
}

/* Opens the blob store "file:<dir>/blobs"; its folder goes to root. Returns sl_blob_open's rc. */
static inline int sl_test_blob_open(const char *dir, char *root, size_t cap, struct sl_blob **b,
                                    struct sl_error *err)
{
    char url[PATH_MAX + 8];
    snprintf(root, cap, "%s/blobs", dir);
    snprintf(url, sizeof url, "file:%s", root);
    return sl_blob_open(url, b, err);
}

/* ---------------------------------------------------------------------------------------------
 * Jobs
 */

/* Sets the job's four required strings to heap copies (released by sl_job_fini). */
static inline void sl_test_job_strings(struct sl_job *j, const char *tenant, const char *type,
                                       const char *file_name, const char *content_type)
{
    j->tenant = strdup(tenant);
    j->type = strdup(type);
    j->file_name = strdup(file_name);
    j->content_type = strdup(content_type);
    assert_non_null(j->tenant);
    assert_non_null(j->type);
    assert_non_null(j->file_name);
    assert_non_null(j->content_type);
}

static inline void sl_test_insert_jobs(struct sl_store *s, const struct sl_job *jobs, size_t n)
{
    struct sl_error err = {0};
    check_rc(sl_store_insert_jobs(s, jobs, n, &err), 0, &err);
}

static inline void sl_test_get_job(struct sl_store *s, const char *id, struct sl_job *out)
{
    struct sl_error err = {0};
    check_rc(sl_store_get_job(s, id, out, &err), 0, &err);
}

/* ---------------------------------------------------------------------------------------------
 * Randomness
 */

/* A small fixed-seed generator (xorshift32), so "random" tests are the same on every run. */
static inline uint32_t sl_test_next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

#endif
