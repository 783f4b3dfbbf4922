/*
 * test_multipart: the streaming multipart/form-data parser (src/http/multipart.h).
 *
 * Parts are collected into a small in-test structure (name, filename, content type, bytes) by
 * the three callbacks, which also check that the parser calls them in a legal order. Every
 * well-formed body is parsed whole, in every chunk size from 1 to 17 bytes and in random splits
 * from a fixed seed, and each way must give the same parts: a streaming parser's bugs live at
 * chunk edges. Large bodies are hashed instead of kept, to show the parser streams them.
 */
#include "testutil.h"

#include "http/multipart.h"
#include "util/err.h"
#include "util/sha256.h"

#include <stdint.h>

#define MAX_PARTS 8

/* ---------------------------------------------------------------------------------------------
 * Collecting parts
 */

struct part {
    char *name;
    char *filename;     /* NULL for a text field */
    char *content_type; /* NULL when the part had none */
    char *data;
    size_t len, cap;
    int ended;
};

struct collect {
    struct part parts[MAX_PARTS];
    int count;
    int in_part;
    int begins, datas, ends; /* callback calls */
    /* Fault injection: the callback returns its rc at its n-th call (1-based; 0: never). */
    int fail_begin_at, fail_data_at, fail_end_at;
    int fail_rc;
    /* Hash mode, for large bodies: bytes go through SHA-256 instead of being kept. */
    int hash_only;
    struct sl_sha256 *hash;
    int64_t hashed;      /* bytes */
    size_t max_data_len; /* the largest single part_data call */
    char error[200];     /* first order violation seen by a callback */
};

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void note_error(struct collect *c, const char *msg)
{
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "%s", msg);
}

static int on_begin(void *ctx, const struct sl_part_info *info)
{
    struct collect *c = ctx;
    c->begins++;
    if (c->in_part)
        note_error(c, "part_begin called while a part was open");
    if (!info || !info->name)
        note_error(c, "part_begin got no name");
    if (c->fail_begin_at && c->begins == c->fail_begin_at)
        return c->fail_rc;
    if (c->count == MAX_PARTS) {
        note_error(c, "too many parts");
        return SL_EINTERNAL;
    }
    struct part *p = &c->parts[c->count++];
    memset(p, 0, sizeof *p);
    p->name = dup_or_null(info && info->name ? info->name : "");
    p->filename = dup_or_null(info ? info->filename : NULL);
    p->content_type = dup_or_null(info ? info->content_type : NULL);
    c->in_part = 1;
    return 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    struct collect *c = ctx;
    c->datas++;
    if (!c->in_part)
        note_error(c, "part_data called outside a part");
    if (len > c->max_data_len)
        c->max_data_len = len;
    if (c->fail_data_at && c->datas == c->fail_data_at)
        return c->fail_rc;
    if (!c->in_part || c->count == 0)
        return 0;
    struct part *p = &c->parts[c->count - 1];
    if (c->hash_only) {
        c->hashed += (int64_t)len;
        if (sl_sha256_update(c->hash, data, len) != 0)
            note_error(c, "sha256 update failed");
        return 0;
    }
    if (p->len + len > p->cap) {
        size_t ncap = p->cap ? p->cap : 64;
        while (ncap < p->len + len)
            ncap *= 2;
        char *grown = realloc(p->data, ncap);
        if (!grown)
            abort();
        p->data = grown;
        p->cap = ncap;
    }
    memcpy(p->data + p->len, data, len);
    p->len += len;
    return 0;
}

static int on_end(void *ctx)
{
    struct collect *c = ctx;
    c->ends++;
    if (!c->in_part)
        note_error(c, "part_end called outside a part");
    c->in_part = 0;
    if (c->count > 0)
        c->parts[c->count - 1].ended = 1;
    if (c->fail_end_at && c->ends == c->fail_end_at)
        return c->fail_rc;
    return 0;
}

static const struct sl_multipart_cb callbacks = {on_begin, on_data, on_end};

static void collect_fini(struct collect *c)
{
    for (int i = 0; i < c->count; i++) {
        free(c->parts[i].name);
        free(c->parts[i].filename);
        free(c->parts[i].content_type);
        free(c->parts[i].data);
    }
    sl_sha256_free(c->hash);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------------------------------------
 * Feeding bodies
 */

/*
 * Parses body with boundary, fed in chunks of `chunk` bytes (0: the whole body at once; -1:
 * random sizes from 1 to 40 drawn from *seed). Returns the first non-zero rc of feed or finish.
 */
static int parse_body(const char *boundary, const char *body, size_t len, int chunk, uint32_t *seed,
                      struct collect *c, struct sl_error *err)
{
    struct sl_multipart *mp = NULL;
    int rc = sl_multipart_new(boundary, &callbacks, c, &mp);
    if (rc != 0)
        return rc;
    size_t off = 0;
    while (rc == 0 && off < len) {
        size_t n = len - off;
        if (chunk > 0 && (size_t)chunk < n)
            n = (size_t)chunk;
        else if (chunk < 0 && n > 1)
            n = 1 + sl_test_next_random(seed) % (n < 40 ? n : 40);
        rc = sl_multipart_feed(mp, body + off, n, err);
        off += n;
    }
    if (rc == 0)
        rc = sl_multipart_finish(mp, err);
    sl_multipart_free(mp);
    return rc;
}

struct want {
    const char *name;
    const char *filename;
    const char *content_type;
    const char *data;
    size_t len;
};

static void check_opt_str(const char *what, int i, const char *how, const char *got,
                          const char *want)
{
    if (!want && !got)
        return;
    if (!want || !got || strcmp(got, want) != 0)
        fail_msg("%s: part %d %s is %s%s%s, expected %s%s%s", how, i, what, got ? "'" : "",
                 got ? got : "NULL", got ? "'" : "", want ? "'" : "", want ? want : "NULL",
                 want ? "'" : "");
}

static void check_parts(const struct collect *c, const struct want *w, int n, const char *how)
{
    if (c->error[0])
        fail_msg("%s: callback order broken: %s", how, c->error);
    if (c->count != n)
        fail_msg("%s: got %d parts, expected %d", how, c->count, n);
    if (c->begins != n || c->ends != n)
        fail_msg("%s: %d part_begin and %d part_end calls, expected %d of each", how, c->begins,
                 c->ends, n);
    for (int i = 0; i < n; i++) {
        const struct part *p = &c->parts[i];
        check_opt_str("name", i, how, p->name, w[i].name);
        check_opt_str("filename", i, how, p->filename, w[i].filename);
        check_opt_str("content type", i, how, p->content_type, w[i].content_type);
        if (p->len != w[i].len)
            fail_msg("%s: part %d ('%s') has %zu bytes, expected %zu", how, i, w[i].name, p->len,
                     w[i].len);
        if (w[i].len && memcmp(p->data, w[i].data, w[i].len) != 0)
            fail_msg("%s: part %d ('%s') bytes differ: got '%.*s', expected '%.*s'", how, i,
                     w[i].name, (int)p->len, p->data, (int)w[i].len, w[i].data);
        if (!p->ended)
            fail_msg("%s: part %d ('%s') was never ended", how, i, w[i].name);
    }
}

/* Parses body whole, in every chunk size from 1 to 17 and in 50 random splits; all must give w. */
static void check_all_splits(const char *boundary, const char *body, size_t len,
                             const struct want *w, int n)
{
    char how[64];
    uint32_t seed = 0x5eed1234u;
    for (int chunk = -50; chunk <= 17; chunk++) {
        struct collect c = {0};
        struct sl_error err = {0};
        if (chunk < 0)
            snprintf(how, sizeof how, "random split #%d", -chunk);
        else if (chunk == 0)
            snprintf(how, sizeof how, "whole body");
        else
            snprintf(how, sizeof how, "chunks of %d bytes", chunk);
        int rc = parse_body(boundary, body, len, chunk < 0 ? -1 : chunk, &seed, &c, &err);
        if (rc != 0)
            fail_msg("%s: parse returned %d (%s: %s), expected 0", how, rc, sl_err_code(rc),
                     err.msg);
        check_parts(&c, w, n, how);
        collect_fini(&c);
    }
}

#define BODY(s) s, sizeof(s) - 1

/* ---------------------------------------------------------------------------------------------
 * Well-formed bodies
 */

static const char simple_body[] =
    "--XyZ-bound-42\r\n"
    "Content-Disposition: form-data; name=\"type\"\r\n"
    "\r\n"
    "csv\r\n"
    "--XyZ-bound-42\r\n"
    "Content-Disposition: form-data; name=\"files\"; filename=\"orders.csv\"\r\n"
    "Content-Type: text/csv\r\n"
    "\r\n"
    "id,name\r\n1,alpha\r\n2,beta\r\n"
    "\r\n"
    "--XyZ-bound-42\r\n"
    "content-disposition: form-data; name=\"files\"; filename=\"blob.bin\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\x00\x01\xff\r\n-\r\n--\x00\r\r\n"
    "\r\n"
    "--XyZ-bound-42--\r\n";

static const struct want simple_want[] = {
    {"type", NULL, NULL, "csv", 3},
    {"files", "orders.csv", "text/csv", "id,name\r\n1,alpha\r\n2,beta\r\n", 26},
    {"files", "blob.bin", "application/octet-stream", "\x00\x01\xff\r\n-\r\n--\x00\r\r\n", 14},
};

static void test_simple_body(void **state)
{
    (void)state;
    struct collect c = {0};
    struct sl_error err = {0};
    check_rc(parse_body("XyZ-bound-42", BODY(simple_body), 0, NULL, &c, &err), 0, &err);
    check_parts(&c, simple_want, 3, "whole body");
    collect_fini(&c);
}

static void test_simple_body_every_split(void **state)
{
    (void)state;
    check_all_splits("XyZ-bound-42", BODY(simple_body), simple_want, 3);
}

static void test_boundary_like_bytes_are_data(void **state)
{
    (void)state;
    /* The boundary is "bound123"; the file holds near misses: a CRLF and dashes with a prefix
     * of the boundary, the full boundary without a leading CRLF (at the very start of the data,
     * after a letter, after LF alone and after CR alone), and a CRLF "--" at the very end. */
    static const char body[] = "--bound123\r\n"
                               "Content-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n"
                               "\r\n"
                               "--bound123 starts the file\r\n"
                               "a\r\n--bound12X b\r\n--bound c\r\n--boun"
                               "d12--bound123 e\n--bound123 f\r--bound123\r\n-\r\n--"
                               "\r\n"
                               "--bound123\r\n"
                               "Content-Disposition: form-data; name=\"g\"\r\n"
                               "\r\n"
                               "\r\n--bound12\r\n"
                               "--bound123--\r\n";
    static const char file[] = "--bound123 starts the file\r\n"
                               "a\r\n--bound12X b\r\n--bound c\r\n--boun"
                               "d12--bound123 e\n--bound123 f\r--bound123\r\n-\r\n--";
    static const struct want w[] = {
        {"f", "x.txt", NULL, file, sizeof file - 1},
        {"g", NULL, NULL, "\r\n--bound12", 11},
    };
    check_all_splits("bound123", BODY(body), w, 2);
}

static void test_empty_file_part_then_another(void **state)
{
    (void)state;
    static const char body[] =
        "--b0\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename=\"e.txt\"\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "\r\n--b0\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename=\"h.txt\"\r\n"
        "\r\n"
        "hello\r\n"
        "--b0\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename=\"z.txt\"\r\n"
        "\r\n"
        "\r\n--b0--";
    static const struct want w[] = {
        {"files", "e.txt", "text/plain", "", 0},
        {"files", "h.txt", NULL, "hello", 5},
        {"files", "z.txt", NULL, "", 0},
    };
    check_all_splits("b0", BODY(body), w, 3);
}

static void test_preamble_and_epilogue_ignored(void **state)
{
    (void)state;
    static const char body[] = "This is the preamble. It is to be ignored.\r\n"
                               "Even -- dashes and --b7 without a CRLF before it.\r\n"
                               "--b7\r\n"
                               "Content-Disposition: form-data; name=\"tenant\"\r\n"
                               "\r\n"
                               "acme\r\n"
                               "--b7--\r\n"
                               "This is the epilogue.\r\n"
                               "--b7\r\n"
                               "Content-Disposition: form-data; name=\"late\"\r\n"
                               "\r\n"
                               "not a part\r\n"
                               "--b7--\r\n";
    static const struct want w[] = {{"tenant", NULL, NULL, "acme", 4}};
    check_all_splits("b7", BODY(body), w, 1);
}

static void test_filename_with_escaped_quote(void **state)
{
    (void)state;
    static const char body[] = "--qq\r\n"
                               "Content-Disposition: form-data; name=\"files\"; "
                               "filename=\"a\\\"b.csv\"\r\n"
                               "\r\n"
                               "x\r\n"
                               "--qq--\r\n";
    static const struct want w[] = {{"files", "a\"b.csv", NULL, "x", 1}};
    check_all_splits("qq", BODY(body), w, 1);
}

static void test_large_file_streams(void **state)
{
    (void)state;
    enum { FILE_BYTES = 5 * 1024 * 1024, CHUNK = 4096, WORK = 64 * 1024 };
    static const char head[] =
        "--LargeBoundary0123456789\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename=\"big.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n";
    static const char tail[] = "\r\n--LargeBoundary0123456789--\r\n";
    struct collect c = {.hash_only = 1};
    struct sl_error err = {0};
    struct sl_multipart *mp = NULL;
    struct sl_sha256 *want_hash = NULL;
    char want_hex[SL_SHA256_HEX], got_hex[SL_SHA256_HEX];
    char *chunk = malloc(CHUNK);
    uint32_t seed = 42;

    assert_non_null(chunk);
    assert_int_equal(sl_sha256_new(&c.hash), 0);
    assert_int_equal(sl_sha256_new(&want_hash), 0);
    assert_int_equal(sl_multipart_new("LargeBoundary0123456789", &callbacks, &c, &mp), 0);
    check_rc(sl_multipart_feed(mp, head, sizeof head - 1, &err), 0, &err);
    for (int64_t fed = 0; fed < FILE_BYTES; fed += CHUNK) {
        /* Random bytes, with CR, LF and dashes sprinkled in to tempt the delimiter search. */
        for (int i = 0; i < CHUNK; i++) {
            uint32_t r = sl_test_next_random(&seed);
            chunk[i] = (r & 0x700) == 0 ? "\r\n--"[r & 3] : (char)(r >> 24);
        }
        assert_int_equal(sl_sha256_update(want_hash, chunk, CHUNK), 0);
        check_rc(sl_multipart_feed(mp, chunk, CHUNK, &err), 0, &err);
        /* Bounded memory: all but at most one working buffer must have been handed out. */
        if (c.hashed < fed + CHUNK - WORK)
            fail_msg("after %lld file bytes fed only %lld were handed out", (long long)fed + CHUNK,
                     (long long)c.hashed);
    }
    check_rc(sl_multipart_feed(mp, tail, sizeof tail - 1, &err), 0, &err);
    check_rc(sl_multipart_finish(mp, &err), 0, &err);
    sl_multipart_free(mp);
    free(chunk);

    if (c.error[0])
        fail_msg("callback order broken: %s", c.error);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.ends, 1);
    assert_string_equal(c.parts[0].filename, "big.bin");
    assert_int_equal(c.hashed, FILE_BYTES);
    assert_true(c.max_data_len <= WORK);
    assert_int_equal(sl_sha256_final(want_hash, want_hex), 0);
    assert_int_equal(sl_sha256_final(c.hash, got_hex), 0);
    c.hash = NULL;
    assert_string_equal(got_hex, want_hex);
    collect_fini(&c);
}

/* ---------------------------------------------------------------------------------------------
 * The boundary parameter
 */

static void check_boundary(const char *content_type, const char *want)
{
    char out[SL_MULTIPART_BOUNDARY_MAX + 1];
    struct sl_error err = {0};
    memset(out, 'Z', sizeof out);
    int rc = sl_multipart_boundary(content_type, out, &err);
    if (rc != 0)
        fail_msg("boundary of '%s' returned %d (%s: %s), expected '%s'", content_type, rc,
                 sl_err_code(rc), err.msg, want);
    if (memchr(out, '\0', sizeof out) == NULL || strcmp(out, want) != 0)
        fail_msg("boundary of '%s' is '%.*s', expected '%s'", content_type, (int)sizeof out, out,
                 want);
}

static void check_boundary_error(const char *content_type, int want_rc)
{
    char out[SL_MULTIPART_BOUNDARY_MAX + 1];
    struct sl_error err = {0};
    int rc = sl_multipart_boundary(content_type, out, &err);
    if (rc != want_rc)
        fail_msg("boundary of '%s' returned %d (%s), expected %d (%s)", content_type, rc,
                 sl_err_code(rc), want_rc, sl_err_code(want_rc));
    if (err.code != want_rc || err.msg[0] == '\0')
        fail_msg("boundary of '%s': err holds code %d and message '%s', expected %d and a message",
                 content_type, err.code, err.msg, want_rc);
}

static void test_boundary_parameter(void **state)
{
    (void)state;
    check_boundary("multipart/form-data; boundary=abc123", "abc123");
    check_boundary("multipart/form-data;boundary=abc123", "abc123");
    check_boundary("multipart/form-data; boundary=\"abc 123:x\"", "abc 123:x");
    check_boundary("multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxk",
                   "----WebKitFormBoundary7MA4YWxk");
    check_boundary("multipart/form-data; charset=utf-8; boundary=\"q-b\"; x=y", "q-b");
    check_boundary("multipart/form-data; boundary=abc; charset=utf-8", "abc");
    check_boundary("Multipart/Form-Data; BOUNDARY=CaseFree", "CaseFree");
    /* exactly 70 characters is allowed */
    check_boundary("multipart/form-data; boundary="
                   "0123456789012345678901234567890123456789012345678901234567890123456789",
                   "0123456789012345678901234567890123456789012345678901234567890123456789");
}

static void test_quoted_boundary_body(void **state)
{
    (void)state;
    char boundary[SL_MULTIPART_BOUNDARY_MAX + 1];
    struct sl_error err = {0};
    check_rc(sl_multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"==q:b 1==\"",
                                   boundary, &err),
             0, &err);
    assert_string_equal(boundary, "==q:b 1==");
    static const char body[] = "--==q:b 1==\r\n"
                               "Content-Disposition: form-data; name=\"a\"\r\n"
                               "\r\n"
                               "1\r\n"
                               "--==q:b 1==--\r\n";
    static const struct want w[] = {{"a", NULL, NULL, "1", 1}};
    check_all_splits(boundary, BODY(body), w, 1);
}

static void test_boundary_errors(void **state)
{
    (void)state;
    check_boundary_error("application/json", SL_EMEDIA_TYPE);
    check_boundary_error("text/plain; boundary=abc", SL_EMEDIA_TYPE);
    check_boundary_error("multipart/mixed; boundary=abc", SL_EMEDIA_TYPE);
    check_boundary_error("multipart/form-dataX; boundary=abc", SL_EMEDIA_TYPE);
    check_boundary_error("", SL_EMEDIA_TYPE);
    check_boundary_error("multipart/form-data", SL_EINVALID);
    check_boundary_error("multipart/form-data; charset=utf-8", SL_EINVALID);
    check_boundary_error("multipart/form-data; boundary=", SL_EINVALID);
    check_boundary_error("multipart/form-data; boundary=\"\"", SL_EINVALID);
    check_boundary_error("multipart/form-data; boundary="
                         "01234567890123456789012345678901234567890123456789012345678901234567890",
                         SL_EINVALID);
    check_boundary_error("multipart/form-data; boundary=\""
                         "01234567890123456789012345678901234567890123456789012345678901234567890"
                         "\"",
                         SL_EINVALID);
}

/* ---------------------------------------------------------------------------------------------
 * Malformed bodies
 */

/* Parses body whole and in small chunks; each way must end in SL_EINVALID with a message. */
static void check_malformed(const char *boundary, const char *body, size_t len, const char *what)
{
    static const int chunks[] = {0, 1, 3, 7};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        struct collect c = {0};
        struct sl_error err = {0};
        int rc = parse_body(boundary, body, len, chunks[i], NULL, &c, &err);
        if (rc != SL_EINVALID)
            fail_msg("%s (chunks of %d): parse returned %d (%s), expected %d (%s)", what, chunks[i],
                     rc, sl_err_code(rc), SL_EINVALID, sl_err_code(SL_EINVALID));
        if (err.code != SL_EINVALID || err.msg[0] == '\0')
            fail_msg("%s: err holds code %d and message '%s', expected invalid_request and a "
                     "message",
                     what, err.code, err.msg);
        if (c.error[0])
            fail_msg("%s: callback order broken: %s", what, c.error);
        collect_fini(&c);
    }
}

static void test_truncated_body(void **state)
{
    (void)state;
    static const char no_close[] = "--tb\r\n"
                                   "Content-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n"
                                   "\r\n"
                                   "data that never ends";
    static const char in_headers[] = "--tb\r\n"
                                     "Content-Disposition: form-data; name=\"f\"";
    static const char after_delim[] = "--tb\r\n"
                                      "Content-Disposition: form-data; name=\"f\"\r\n"
                                      "\r\n"
                                      "x\r\n--tb";
    check_malformed("tb", BODY(no_close), "no closing boundary");
    check_malformed("tb", BODY(in_headers), "cut in the headers");
    check_malformed("tb", BODY(after_delim), "cut after a delimiter");
    check_malformed("tb",
                    BODY("--tb\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--tb-"),
                    "a delimiter followed by one dash");
    check_malformed("tb", "", 0, "empty body");
    check_malformed("tb", BODY("no boundary at all\r\n"), "no boundary");

    /* feed accepts the bytes; finish is where the missing end is noticed */
    struct collect c = {0};
    struct sl_error err = {0};
    struct sl_multipart *mp = NULL;
    assert_int_equal(sl_multipart_new("tb", &callbacks, &c, &mp), 0);
    check_rc(sl_multipart_feed(mp, BODY(no_close), &err), 0, &err);
    check_rc(sl_multipart_finish(mp, &err), SL_EINVALID, &err);
    sl_multipart_free(mp);
    collect_fini(&c);
}

static void test_part_without_disposition(void **state)
{
    (void)state;
    static const char body[] = "--mb\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n"
                               "x\r\n"
                               "--mb--\r\n";
    static const char no_headers[] = "--mb\r\n"
                                     "\r\n"
                                     "x\r\n"
                                     "--mb--\r\n";
    static const char not_form_data[] = "--mb\r\n"
                                        "Content-Disposition: attachment; name=\"a\"\r\n"
                                        "\r\n"
                                        "x\r\n"
                                        "--mb--\r\n";
    check_malformed("mb", BODY(body), "part without Content-Disposition");
    check_malformed("mb", BODY(no_headers), "part without any header");
    check_malformed("mb", BODY(not_form_data), "Content-Disposition that is not form-data");
}

static void test_part_without_name(void **state)
{
    (void)state;
    static const char body[] = "--mb\r\n"
                               "Content-Disposition: form-data; filename=\"a.csv\"\r\n"
                               "\r\n"
                               "x\r\n"
                               "--mb--\r\n";
    check_malformed("mb", BODY(body), "part without a name");
}

static void test_header_line_without_colon(void **state)
{
    (void)state;
    static const char body[] = "--mb\r\n"
                               "Content-Disposition: form-data; name=\"a\"\r\n"
                               "this line has no colon\r\n"
                               "\r\n"
                               "x\r\n"
                               "--mb--\r\n";
    check_malformed("mb", BODY(body), "header line without ':'");
}

/* A one-part body whose headers take `header_bytes` bytes (including the blank line). */
static char *body_with_headers(size_t header_bytes, size_t *len)
{
    static const char first[] = "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: ";
    static const char tail[] = "\r\n\r\nx\r\n--hb--\r\n";
    size_t pad = header_bytes - (sizeof first - 1) - 4;
    size_t n = 6 + (sizeof first - 1) + pad + (sizeof tail - 1);
    char *b = malloc(n + 1);
    assert_non_null(b);
    memcpy(b, "--hb\r\n", 6);
    memcpy(b + 6, first, sizeof first - 1);
    memset(b + 6 + sizeof first - 1, 'p', pad);
    memcpy(b + 6 + sizeof first - 1 + pad, tail, sizeof tail);
    *len = n;
    return b;
}

static void test_headers_over_16k(void **state)
{
    (void)state;
    size_t len;
    char *body = body_with_headers(SL_MULTIPART_HEADERS_MAX + 100, &len);
    check_malformed("hb", body, len, "headers over 16 KiB");
    free(body);

    /* Under the cap the same body shape is fine. */
    body = body_with_headers(SL_MULTIPART_HEADERS_MAX - 400, &len);
    struct collect c = {0};
    struct sl_error err = {0};
    check_rc(parse_body("hb", body, len, 1000, NULL, &c, &err), 0, &err);
    static const struct want w[] = {{"a", NULL, NULL, "x", 1}};
    check_parts(&c, w, 1, "headers under 16 KiB");
    collect_fini(&c);
    free(body);

    /* Headers that never end are refused while streaming, not only at the end. */
    struct sl_multipart *mp = NULL;
    char pad[4096];
    int rc = 0;
    size_t fed = 0;
    memset(pad, 'p', sizeof pad);
    assert_int_equal(sl_multipart_new("hb", &callbacks, &c, &mp), 0);
    check_rc(sl_multipart_feed(mp, BODY("--hb\r\nX-Pad: "), &err), 0, &err);
    while (rc == 0 && fed < 1024 * 1024) {
        rc = sl_multipart_feed(mp, pad, sizeof pad, &err);
        fed += sizeof pad;
    }
    if (rc != SL_EINVALID || fed > SL_MULTIPART_HEADERS_MAX + 2 * sizeof pad)
        fail_msg("endless headers: feed returned %d (%s) after %zu bytes, expected %d (%s) "
                 "after at most %zu",
                 rc, sl_err_code(rc), fed, SL_EINVALID, sl_err_code(SL_EINVALID),
                 (size_t)SL_MULTIPART_HEADERS_MAX + 2 * sizeof pad);
    assert_int_equal(c.begins, 0);
    sl_multipart_free(mp);
    collect_fini(&c);
}

/* ---------------------------------------------------------------------------------------------
 * Callback errors
 */

/* Parses simple_body with one callback failing; checks the code comes back and nothing more is
 * called, on the failing feed, a later feed and finish. */
static void check_callback_stop(int chunk, int begin_at, int data_at, int end_at, int want_rc,
                                int want_begins, int want_ends)
{
    struct collect c = {.fail_begin_at = begin_at,
                        .fail_data_at = data_at,
                        .fail_end_at = end_at,
                        .fail_rc = want_rc};
    struct sl_error err = {0};
    int rc = parse_body("XyZ-bound-42", BODY(simple_body), chunk, NULL, &c, &err);
    if (rc != want_rc)
        fail_msg("callback failing (begin %d, data %d, end %d; chunks of %d): parse returned %d "
                 "(%s), expected %d (%s)",
                 begin_at, data_at, end_at, chunk, rc, sl_err_code(rc), want_rc,
                 sl_err_code(want_rc));
    if (c.begins != want_begins || c.ends != want_ends)
        fail_msg("callback failing (begin %d, data %d, end %d; chunks of %d): %d begins and %d "
                 "ends, expected %d and %d (the parser must stop)",
                 begin_at, data_at, end_at, chunk, c.begins, c.ends, want_begins, want_ends);
    collect_fini(&c);

    /* sticky: feeding more and finishing keep answering the callback's code */
    struct sl_multipart *mp = NULL;
    c = (struct collect){.fail_begin_at = begin_at,
                         .fail_data_at = data_at,
                         .fail_end_at = end_at,
                         .fail_rc = want_rc};
    assert_int_equal(sl_multipart_new("XyZ-bound-42", &callbacks, &c, &mp), 0);
    rc = sl_multipart_feed(mp, BODY(simple_body), &err);
    assert_int_equal(rc, want_rc);
    int calls = c.begins + c.datas + c.ends;
    assert_int_equal(sl_multipart_feed(mp, BODY(simple_body), &err), want_rc);
    assert_int_equal(sl_multipart_finish(mp, &err), want_rc);
    assert_int_equal(c.begins + c.datas + c.ends, calls);
    sl_multipart_free(mp);
    collect_fini(&c);
}

static void test_callback_error_stops(void **state)
{
    (void)state;
    for (int chunk = 0; chunk <= 5; chunk += 5) {
        check_callback_stop(chunk, 2, 0, 0, SL_ETOO_LARGE, 2, 1);
        check_callback_stop(chunk, 0, 1, 0, SL_ENO_SPACE, 1, 0);
        check_callback_stop(chunk, 0, 0, 2, SL_EIO, 2, 2);
        check_callback_stop(chunk, 1, 0, 0, SL_ENOMEM, 1, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_body),
        cmocka_unit_test(test_simple_body_every_split),
        cmocka_unit_test(test_boundary_like_bytes_are_data),
        cmocka_unit_test(test_empty_file_part_then_another),
        cmocka_unit_test(test_preamble_and_epilogue_ignored),
        cmocka_unit_test(test_filename_with_escaped_quote),
        cmocka_unit_test(test_large_file_streams),
        cmocka_unit_test(test_boundary_parameter),
        cmocka_unit_test(test_quoted_boundary_body),
        cmocka_unit_test(test_boundary_errors),
        cmocka_unit_test(test_truncated_body),
        cmocka_unit_test(test_part_without_disposition),
        cmocka_unit_test(test_part_without_name),
        cmocka_unit_test(test_header_line_without_colon),
        cmocka_unit_test(test_headers_over_16k),
        cmocka_unit_test(test_callback_error_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
