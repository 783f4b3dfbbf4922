/*
 * test_blob_file: the blob store interface (src/blob/blob.h) on the local-folder backend.
 *
 * Every test opens "file:<tmp>/blobs" in a fresh temporary folder, makes its source files next
 * to it (same file system, so put_file renames) and looks at the folder itself to check that a
 * refused call wrote nothing.
 */
#include "testutil.h"

#include "blob/blob.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/uuid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char dir[256];
    char root[300]; /* <dir>/blobs */
    struct sl_blob *b;
    int srcs; /* source files made so far */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    struct sl_error err = {0};
    if (!f)
        return -1;
    sl_test_tmpdir(f->dir);
    int rc = sl_test_blob_open(f->dir, f->root, sizeof f->root, &f->b, &err);
    if (rc != 0 || !f->b) {
        print_error("sl_blob_open(file:%s) returned %d (%s: %s)\n", f->root, rc, sl_err_code(rc),
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

/* Writes a new source file holding data under the test folder; its path goes to path. */
static void make_src(struct fx *f, const void *data, size_t len, char path[PATH_MAX])
{
    snprintf(path, PATH_MAX, "%s/src-%d.tmp", f->dir, ++f->srcs);
    sl_test_write_new(path, data, len);
}

/* "<upload>/<job>" from two fresh UUIDv7s, or from the given upload id. */
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

/* Number of entries (files and folders, recursively) under dir. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        fail_msg("cannot open folder %s: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[PATH_MAX];
        struct stat st;
        n++;
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            n += count_entries(sub);
    }
    closedir(d);
    return n;
}

/* Opens the blob under key and checks its size and bytes. */
static void check_blob(struct fx *f, const char *key, const void *want, size_t len)
{
    struct sl_error err = {0};
    int fd = -1;
    int64_t size = -1;
    check_rc(sl_blob_open_read(f->b, key, &fd, &size, &err), 0, &err);
    assert_true(fd >= 0);
    if (size != (int64_t)len)
        fail_msg("blob %s has size %lld, expected %zu", key, (long long)size, len);
    char *buf = malloc(len + 16);
    assert_non_null(buf);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, len + 16 - got);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n >= 0);
        if (n == 0 || got + (size_t)n == len + 16) {
            got += (size_t)n;
            break;
        }
        got += (size_t)n;
    }
    assert_int_equal(close(fd), 0);
    if (got != len)
        fail_msg("blob %s holds %zu bytes when read, expected %zu", key, got, len);
    assert_memory_equal(buf, want, len);
    free(buf);
}

static void check_missing(struct fx *f, const char *key)
{
    struct sl_error err = {0};
    int fd = -1;
    int64_t size = -1;
    check_rc(sl_blob_open_read(f->b, key, &fd, &size, &err), SL_ENOT_FOUND, &err);
    if (fd >= 0)
        close(fd);
}

/* ---------------------------------------------------------------------------------------------
 * Tests
 */

static void test_open_creates_root(void **state)
{
    struct fx *f = *state;
    struct stat st;
    assert_int_equal(stat(f->root, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(count_entries(f->root), 0);
}

static void test_put_file_moves_source(void **state)
{
    struct fx *f = *state;
    static const char data[] = "id,name\n1,alpha\n2,\0beta\n";
    char src[PATH_MAX], key[2 * SL_UUID_MAX], path[PATH_MAX + 128];
    struct sl_error err = {0};

    make_src(f, data, sizeof data - 1, src);
    make_key(NULL, key);
    assert_int_equal(sl_blob_key_valid(key), 1);
    check_rc(sl_blob_put_file(f->b, key, src, &err), 0, &err);
    if (exists(src))
        fail_msg("source %s still exists after put_file", src);
    check_blob(f, key, data, sizeof data - 1);
    /* the file backend keeps a blob as <root>/<key> */
    snprintf(path, sizeof path, "%s/%s", f->root, key);
    assert_true(exists(path));
    /* a second reader gets its own descriptor from the start */
    check_blob(f, key, data, sizeof data - 1);
}

static void test_put_large_and_empty(void **state)
{
    struct fx *f = *state;
    size_t len = 3 * 1024 * 1024 + 17;
    char *data = malloc(len);
    char src[PATH_MAX], key[2 * SL_UUID_MAX];
    struct sl_error err = {0};
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    make_src(f, data, len, src);
    make_key(NULL, key);
    check_rc(sl_blob_put_file(f->b, key, src, &err), 0, &err);
    check_blob(f, key, data, len);
    free(data);

    make_src(f, "", 0, src);
    make_key(NULL, key);
    check_rc(sl_blob_put_file(f->b, key, src, &err), 0, &err);
    check_blob(f, key, "", 0);
}

static void test_invalid_keys_refused(void **state)
{
    struct fx *f = *state;
    char long_key[200], src[PATH_MAX];
    memset(long_key, 'a', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    const char *const bad[] = {
        "../x",        "/abs",
        "/etc/passwd", "a//b",
        "ABCDEF/0123", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5B/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "a/",          "",
        long_key,      "ab/../../cd",
        "a/./b",       "a\\b",
        "a b",         "ghij/klmn",
        "a/b\n",       "~/x",
    };
    static const char data[] = "must not be stored";
    make_src(f, data, sizeof data - 1, src);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sl_error err = {0};
        int fd = -1;
        int64_t size = 0;
        if (sl_blob_key_valid(bad[i]) != 0)
            fail_msg("sl_blob_key_valid(\"%s\") is 1, expected 0", bad[i]);
        int rc = sl_blob_put_file(f->b, bad[i], src, &err);
        if (rc != SL_EINVALID)
            fail_msg("put_file(\"%s\") returned %d (%s), expected %d (%s)", bad[i], rc,
                     sl_err_code(rc), SL_EINVALID, sl_err_code(SL_EINVALID));
        rc = sl_blob_open_read(f->b, bad[i], &fd, &size, &err);
        if (fd >= 0)
            close(fd);
        if (rc != SL_EINVALID)
            fail_msg("open_read(\"%s\") returned %d (%s), expected %d (%s)", bad[i], rc,
                     sl_err_code(rc), SL_EINVALID, sl_err_code(SL_EINVALID));
        rc = sl_blob_remove(f->b, bad[i], &err);
        if (rc != SL_EINVALID)
            fail_msg("remove(\"%s\") returned %d (%s), expected %d (%s)", bad[i], rc,
                     sl_err_code(rc), SL_EINVALID, sl_err_code(SL_EINVALID));
        /* nothing written, and the source stays with the caller */
        if (count_entries(f->root) != 0)
            fail_msg("put_file(\"%s\") was refused but left %d entries under %s", bad[i],
                     count_entries(f->root), f->root);
        if (!exists(src))
            fail_msg("put_file(\"%s\") was refused but consumed its source", bad[i]);
    }
    /* the test folder holds only the blob root and the untouched source */
    assert_int_equal(count_entries(f->dir), 2);
}

static void test_valid_keys(void **state)
{
    (void)state;
    char key[2 * SL_UUID_MAX];
    make_key(NULL, key);
    assert_int_equal(sl_blob_key_valid(key), 1);
    assert_int_equal(
        sl_blob_key_valid(
            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"),
        1);
    assert_int_equal(sl_blob_key_valid("abc"), 1);
    assert_int_equal(sl_blob_key_valid("0123-4567/89ab-cdef"), 1);
}

static void test_remove(void **state)
{
    struct fx *f = *state;
    char src[PATH_MAX], key[2 * SL_UUID_MAX];
    struct sl_error err = {0};
    make_src(f, "bytes", 5, src);
    make_key(NULL, key);
    check_rc(sl_blob_put_file(f->b, key, src, &err), 0, &err);
    check_blob(f, key, "bytes", 5);

    check_rc(sl_blob_remove(f->b, key, &err), 0, &err);
    check_missing(f, key);
    check_rc(sl_blob_remove(f->b, key, &err), SL_ENOT_FOUND, &err);
    assert_int_equal(count_entries(f->root), 0);

    /* a key never stored */
    make_key(NULL, key);
    check_missing(f, key);
    check_rc(sl_blob_remove(f->b, key, &err), SL_ENOT_FOUND, &err);
}

static void test_same_upload_folder(void **state)
{
    struct fx *f = *state;
    char upload[SL_UUID_MAX], k1[2 * SL_UUID_MAX], k2[2 * SL_UUID_MAX], k3[2 * SL_UUID_MAX];
    char src[PATH_MAX];
    struct sl_error err = {0};

    assert_int_equal(sl_uuid7(sl_now_ms(), upload), 0);
    make_key(upload, k1);
    make_key(upload, k2);
    make_key(upload, k3);
    assert_string_not_equal(k1, k2);

    make_src(f, "first", 5, src);
    check_rc(sl_blob_put_file(f->b, k1, src, &err), 0, &err);
    make_src(f, "second!", 7, src);
    check_rc(sl_blob_put_file(f->b, k2, src, &err), 0, &err); /* the folder exists now */
    check_blob(f, k1, "first", 5);
    check_blob(f, k2, "second!", 7);

    /* removing one blob of the upload leaves the other readable, and a third can still go in */
    check_rc(sl_blob_remove(f->b, k1, &err), 0, &err);
    check_missing(f, k1);
    check_blob(f, k2, "second!", 7);
    make_src(f, "third", 5, src);
    check_rc(sl_blob_put_file(f->b, k3, src, &err), 0, &err);
    check_blob(f, k3, "third", 5);
    check_blob(f, k2, "second!", 7);

    /* and once all are gone, the upload can be stored again */
    check_rc(sl_blob_remove(f->b, k2, &err), 0, &err);
    check_rc(sl_blob_remove(f->b, k3, &err), 0, &err);
    make_src(f, "again", 5, src);
    check_rc(sl_blob_put_file(f->b, k1, src, &err), 0, &err);
    check_blob(f, k1, "again", 5);
}

static void test_put_missing_source(void **state)
{
    struct fx *f = *state;
    char src[PATH_MAX], key[2 * SL_UUID_MAX];
    struct sl_error err = {0};
    snprintf(src, sizeof src, "%s/no-such-file", f->dir);
    make_key(NULL, key);
    int rc = sl_blob_put_file(f->b, key, src, &err);
    if (rc == 0)
        fail_msg("put_file of a missing source returned 0");
    check_missing(f, key);
}

static void test_unknown_scheme(void **state)
{
    (void)state;
    static const char *const urls[] = {"ftp://host/blobs",     "blobs",
                                       "/var/lib/blobs",       "postgres://x/y",
                                       "http://example.com/b", ""};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct sl_error err = {0};
        struct sl_blob *b = (struct sl_blob *)&err; /* any non-NULL value */
        int rc = sl_blob_open(urls[i], &b, &err);
        if (rc != SL_ECONFIG)
            fail_msg("sl_blob_open(\"%s\") returned %d (%s), expected %d (%s)", urls[i], rc,
                     sl_err_code(rc), SL_ECONFIG, sl_err_code(SL_ECONFIG));
        if (b != NULL)
            fail_msg("sl_blob_open(\"%s\") failed but left a store in *out", urls[i]);
        if (err.msg[0] == '\0')
            fail_msg("sl_blob_open(\"%s\") failed without a message", urls[i]);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_creates_root),   T(test_put_file_moves_source),
        T(test_put_large_and_empty), T(test_invalid_keys_refused),
        T(test_valid_keys),          T(test_remove),
        T(test_same_upload_folder),  T(test_put_missing_source),
        T(test_unknown_scheme),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
