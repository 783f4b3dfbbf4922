/*
 * test_blob_contract: the blob store interface (src/blob/blob.h), one suite for
 * every backend.
 *
 * The backend comes from SLUICE_TEST_BLOB_URL: unset, each test opens a fresh
 * "file:" folder in its own temporary folder; an s3:// URL
 * (scripts/s3-test-server.sh run ... sets one, with the AWS_* variables of a
 * local s3rver), each test works under its own fresh prefix below it, so tests
 * never see each other's objects. `make blob-contract` runs the suite once per
 * backend.
 *
 * Checked here: put/open/remove round trips, the source consumed on success and
 * kept on failure, empty and large files (over 16 MiB, a multipart upload on
 * S3), missing blobs as SL_ENOT_FOUND, invalid keys refused, concurrent use
 * from several threads, and (S3 only) the error sentences for a missing bucket,
 * refused credentials and an unreachable endpoint.
 */
#include "testutil.h"

#include "blob/blob.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define URL_MAX 1024
#define THREADS 4

struct fx {
    char dir[256];
    char url[URL_MAX];
    struct sl_blob *b;
    int srcs; /* source files made so far */
};

/* The S3 base URL under test, or NULL for the file backend. */
static const char *s3_base_url(void)
{
    const char *u = getenv("SLUICE_TEST_BLOB_URL");
    if (!u || !*u || strncmp(u, "file:", 5) == 0)
        return NULL;
    if (strncmp(u, "s3://", 5) != 0) {
        print_error("SLUICE_TEST_BLOB_URL must be unset, a file: or an s3:// URL\n");
        exit(2);
    }
    return u;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_error err = {0};
    char id[SL_UUID_MAX];
    if (!f)
        return -1;
    sl_test_tmpdir(f->dir);
    if (sl_uuid7(sl_now_ms(), id) != 0)
        return -1;
    if (s3_base_url())
        snprintf(f->url, sizeof f->url, "%s/%s", s3_base_url(), id);
    else
        snprintf(f->url, sizeof f->url, "file:%s/blobs", f->dir);
    int rc = sl_blob_open(f->url, &f->b, &err);
    if (rc != 0 || !f->b) {
        print_error("sl_blob_open(%s) returned %d (%s: %s)\n", f->url, rc, sl_err_code(rc),
                    err.msg);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sl_blob_close(f->b);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

static void make_src(struct fx *f, const void *data, size_t len, char path[PATH_MAX])
{
    snprintf(path, PATH_MAX, "%s/src-%d.tmp", f->dir, ++f->srcs);
    sl_test_write_new(path, data, len);
}

static void make_key(const char *upload, char key[2 * SL_UUID_MAX])
{
    char a[SL_UUID_MAX], b[SL_UUID_MAX];
    if (upload)
        snprintf(a, sizeof a, "%s", upload);
    else
        assert_int_equal(sl_uuid7(sl_now_ms(), a), 0);
    assert_int_equal(sl_uuid7(sl_now_ms(), b), 0);
    snprintf(key, 2 * SL_UUID_MAX, "%s/%s", a, b);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static char *pattern(size_t len, unsigned seed)
{
    char *data = malloc(len ? len : 1);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)((i + seed) * 2654435761u >> 13);
    return data;
}

/* Reads the blob under key and compares it with want; 0 when equal (safe from
 * any thread). */
static int blob_equals(struct sl_blob *b, const char *key, const void *want, size_t len, char *why,
                       size_t cap)
{
    struct sl_error err = {0};
    int fd = -1;
    int64_t size = -1;
    int rc = sl_blob_open_read(b, key, &fd, &size, &err);
    if (rc != 0) {
        snprintf(why, cap, "open_read(%s) returned %d (%s: %s)", key, rc, sl_err_code(rc), err.msg);
        return -1;
    }
    if (size != (int64_t)len) {
        snprintf(why, cap, "blob %s has size %lld, expected %zu", key, (long long)size, len);
        close(fd);
        return -1;
    }
    char buf[65536];
    size_t off = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (off + (size_t)n > len || memcmp(buf, (const char *)want + off, (size_t)n) != 0) {
            snprintf(why, cap, "blob %s differs from what was stored near byte %zu", key, off);
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    close(fd);
    if (off != len) {
        snprintf(why, cap, "blob %s holds %zu bytes when read, expected %zu", key, off, len);
        return -1;
    }
    return 0;
}

static void check_blob(struct fx *f, const char *key, const void *want, size_t len)
{
    char why[512];
    if (blob_equals(f->b, key, want, len, why, sizeof why) != 0)
        fail_msg("%s", why);
}

static void check_missing(struct fx *f, const char *key)
{
    struct sl_error err = {0};
    int fd = -1;
    int64_t size = -1;
    check_rc(sl_blob_open_read(f->b, key, &fd, &size, &err), SL_ENOT_FOUND, &err);
    if (fd >= 0)
        fail_msg("open_read of missing %s failed but gave fd %d", key, fd);
}

static void put_ok(struct fx *f, const char *key, const void *data, size_t len)
{
    char src[PATH_MAX];
    struct sl_error err = {0};
    make_src(f, data, len, src);
    check_rc(sl_blob_put_file(f->b, key, src, &err), 0, &err);
    if (exists(src))
        fail_msg("source %s still exists after put_file", src);
}

/* ---------------------------------------------------------------------------------------------
 * Interface
 */

static void test_put_open_round_trip(void **state)
{
    struct fx *f = *state;
    static const char data[] = "id,name\n1,alpha\n2,\0beta\n";
    char key[2 * SL_UUID_MAX];
    make_key(NULL, key);
    put_ok(f, key, data, sizeof data - 1);
    check_blob(f, key, data, sizeof data - 1);
    check_blob(f, key, data, sizeof data - 1); /* a second reader starts from the start too */
}

static void test_empty_and_medium(void **state)
{
    struct fx *f = *state;
    size_t len = 3 * 1024 * 1024 + 17;
    char *data = pattern(len, 1);
    char key[2 * SL_UUID_MAX];
    make_key(NULL, key);
    put_ok(f, key, data, len);
    check_blob(f, key, data, len);
    free(data);
    make_key(NULL, key);
    put_ok(f, key, "", 0);
    check_blob(f, key, "", 0);
}

/* Over 16 MiB: a multipart upload of 8 MiB parts on S3, the last one short. */
static void test_large_file(void **state)
{
    struct fx *f = *state;
    size_t len = 17 * 1024 * 1024 + 12345;
    char *data = pattern(len, 7);
    char key[2 * SL_UUID_MAX];
    make_key(NULL, key);
    put_ok(f, key, data, len);
    check_blob(f, key, data, len);
    free(data);
}

static void test_missing(void **state)
{
    struct fx *f = *state;
    char key[2 * SL_UUID_MAX];
    struct sl_error err = {0};
    make_key(NULL, key);
    check_missing(f, key);
    check_rc(sl_blob_remove(f->b, key, &err), SL_ENOT_FOUND, &err);
}

static void test_remove(void **state)
{
    struct fx *f = *state;
    char key[2 * SL_UUID_MAX], other[2 * SL_UUID_MAX], upload[SL_UUID_MAX];
    struct sl_error err = {0};
    make_key(NULL, key);
    snprintf(upload, sizeof upload, "%.*s", (int)strcspn(key, "/"), key);
    make_key(upload, other); /* same upload: the two keys share "<upload>/" */
    put_ok(f, key, "first", 5);
    put_ok(f, other, "second", 6);
    check_rc(sl_blob_remove(f->b, key, &err), 0, &err);
    check_missing(f, key);
    check_blob(f, other, "second", 6);
    check_rc(sl_blob_remove(f->b, key, &err), SL_ENOT_FOUND, &err);
    check_rc(sl_blob_remove(f->b, other, &err), 0, &err);
    check_missing(f, other);
}

static void test_overwrite(void **state)
{
    struct fx *f = *state;
    char key[2 * SL_UUID_MAX];
    make_key(NULL, key);
    put_ok(f, key, "old bytes", 9);
    put_ok(f, key, "new", 3);
    check_blob(f, key, "new", 3);
}

static void test_invalid_keys(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {"../x", "/abs", "a//b", "ABC/def", "a/", "", "a b", "x?y"};
    char src[PATH_MAX];
    make_src(f, "kept", 4, src);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sl_error err = {0};
        int fd = -1;
        int64_t size = 0;
        int rc = sl_blob_put_file(f->b, bad[i], src, &err);
        if (rc != SL_EINVALID)
            fail_msg("put_file(\"%s\") returned %d (%s), expected SL_EINVALID", bad[i], rc,
                     sl_err_code(rc));
        if ((rc = sl_blob_open_read(f->b, bad[i], &fd, &size, &err)) != SL_EINVALID || fd >= 0)
            fail_msg("open_read(\"%s\") returned %d, fd %d", bad[i], rc, fd);
        if ((rc = sl_blob_remove(f->b, bad[i], &err)) != SL_EINVALID)
            fail_msg("remove(\"%s\") returned %d", bad[i], rc);
        if (!exists(src))
            fail_msg("put_file(\"%s\") was refused but consumed its source", bad[i]);
    }
}

static void test_put_missing_source(void **state)
{
    struct fx *f = *state;
    char src[PATH_MAX], key[2 * SL_UUID_MAX];
    struct sl_error err = {0};
    snprintf(src, sizeof src, "%s/no-such-file", f->dir);
    make_key(NULL, key);
    if (sl_blob_put_file(f->b, key, src, &err) == 0)
        fail_msg("put_file of a missing source returned 0");
    check_missing(f, key);
}

struct worker {
    struct fx *f;
    int index;
    char why[512];
    int failed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 5 && !w->failed; i++) {
        char src[PATH_MAX], key[2 * SL_UUID_MAX], a[SL_UUID_MAX], b[SL_UUID_MAX];
        struct sl_error err = {0};
        size_t len = 1000 + (size_t)(w->index * 100 + i);
        char *data = pattern(len, (unsigned)(w->index * 31 + i));
        snprintf(src, sizeof src, "%s/w%d-%d.tmp", w->f->dir, w->index, i);
        FILE *out = fopen(src, "wb");
        int ok = out && fwrite(data, 1, len, out) == len;
        if (out)
            ok = fclose(out) == 0 && ok;
        sl_uuid7(sl_now_ms(), a);
        sl_uuid7(sl_now_ms(), b);
        snprintf(key, sizeof key, "%s/%s", a, b);
        int rc = ok ? sl_blob_put_file(w->f->b, key, src, &err) : SL_EIO;
        if (rc != 0) {
            snprintf(w->why, sizeof w->why, "put_file(%s) returned %d (%s)", key, rc, err.msg);
            w->failed = 1;
        } else if (blob_equals(w->f->b, key, data, len, w->why, sizeof w->why) != 0) {
            w->failed = 1;
        } else if ((rc = sl_blob_remove(w->f->b, key, &err)) != 0) {
            snprintf(w->why, sizeof w->why, "remove(%s) returned %d (%s)", key, rc, err.msg);
            w->failed = 1;
        }
        free(data);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.f = f, .index = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < THREADS; i++)
        if (w[i].failed)
            fail_msg("thread %d: %s", i, w[i].why);
}

/* ---------------------------------------------------------------------------------------------
 * S3 errors (skipped on the file backend)
 */

/* Opens url with one environment variable changed for the duration of the open.
 */
static struct sl_blob *open_with_env(const char *url, const char *name, const char *value)
{
    struct sl_error err = {0};
    struct sl_blob *b = NULL;
    const char *old = getenv(name);
    char *saved = old ? strdup(old) : NULL;
    if (value)
        setenv(name, value, 1);
    int rc = sl_blob_open(url, &b, &err);
    if (saved) {
        setenv(name, saved, 1);
        free(saved);
    } else {
        unsetenv(name);
    }
    if (rc != 0)
        fail_msg("sl_blob_open(%s) returned %d (%s)", url, rc, err.msg);
    return b;
}

/* put_file on b must fail with SL_EBLOB, a message holding needle, and the
 * source kept. */
static void check_put_fails(struct fx *f, struct sl_blob *b, const char *needle)
{
    char src[PATH_MAX], key[2 * SL_UUID_MAX];
    struct sl_error err = {0};
    make_src(f, "bytes", 5, src);
    make_key(NULL, key);
    check_rc(sl_blob_put_file(b, key, src, &err), SL_EBLOB, &err);
    if (!strstr(err.msg, needle))
        fail_msg("error message \"%s\" does not say \"%s\"", err.msg, needle);
    if (!exists(src))
        fail_msg("failed put_file consumed its source");
}

static void test_s3_missing_bucket(void **state)
{
    struct fx *f = *state;
    if (!s3_base_url())
        skip();
    struct sl_blob *b = open_with_env("s3://sluice-no-such-bucket/x", "AWS_REGION", NULL);
    check_put_fails(f, b, "bucket 'sluice-no-such-bucket' does not exist");
    sl_blob_close(b);
}

static void test_s3_bad_credentials(void **state)
{
    struct fx *f = *state;
    if (!s3_base_url())
        skip();
    /* s3rver refuses unknown access keys (it does not verify SigV4 signatures) */
    struct sl_blob *b = open_with_env(f->url, "AWS_ACCESS_KEY_ID", "AKIDNOTKNOWNHERE");
    check_put_fails(f, b, "S3 refused the credentials (403): InvalidAccessKeyId");
    sl_blob_close(b);
}

static void test_s3_unreachable(void **state)
{
    struct fx *f = *state;
    char endpoint[64];
    if (!s3_base_url())
        skip();
    /* a port that was free a moment ago: nothing listens there */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    close(s);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
    struct sl_blob *b = open_with_env(f->url, "AWS_ENDPOINT_URL_S3", endpoint);
    char needle[128];
    snprintf(needle, sizeof needle, "cannot reach the S3 endpoint %s", endpoint);
    check_put_fails(f, b, needle);
    sl_blob_close(b);
}

static void test_s3_config_errors(void **state)
{
    (void)state;
    static const char *const urls[] = {"s3://", "s3:///prefix", "s3://bad bucket/x"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct sl_error err = {0};
        struct sl_blob *b = NULL;
        int rc = sl_blob_open(urls[i], &b, &err);
        if (rc != SL_ECONFIG || b != NULL || !err.msg[0])
            fail_msg("sl_blob_open(\"%s\") returned %d (%s), expected SL_ECONFIG", urls[i], rc,
                     err.msg);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_put_open_round_trip),
        T(test_empty_and_medium),
        T(test_large_file),
        T(test_missing),
        T(test_remove),
        T(test_overwrite),
        T(test_invalid_keys),
        T(test_put_missing_source),
        T(test_threads),
        T(test_s3_missing_bucket),
        T(test_s3_bad_credentials),
        T(test_s3_unreachable),
        T(test_s3_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
