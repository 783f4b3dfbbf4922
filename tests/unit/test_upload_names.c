/*
 * test_upload_names: the pure name helpers of the upload route (src/http/upload.h):
 * sl_upload_sanitize_name and sl_upload_sanitize_content_type.
 *
 * Each check writes into a buffer guarded by canary bytes past `cap`, so a helper that writes
 * beyond what it was given fails here and not in production.
 */
#include "testutil.h"

#include "http/upload.h"

#define GUARD   32
#define CANARY  0x5a
#define OCTET   "application/octet-stream"
#define BIG_CAP 1024

/* 1 when s[0..n) is well-formed UTF-8 as RFC 3629 defines it (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80)
            len = 1;
        else if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else
            return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            unsigned b = s[i + k];
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
            if (b < l || b > h)
                return 0;
        }
        i += len;
    }
    return 1;
}

/* Escapes s for a failure message (control and non-ASCII bytes as \xNN), cut to fit. */
static const char *show(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    if (!s)
        return "(NULL)";
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < cap; p++) {
        if (*p >= 0x20 && *p < 0x7f)
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
    }
    buf[o] = '\0';
    return buf;
}

/* Runs the sanitizer with cap, checking the canaries after the buffer; returns out. */
static char *sanitize_name(const char *in, char *buf, size_t cap)
{
    memset(buf, CANARY, cap + GUARD);
    sl_upload_sanitize_name(in, buf, cap);
    for (size_t i = cap; i < cap + GUARD; i++)
        if ((unsigned char)buf[i] != CANARY) {
            char a[200];
            fail_msg("sanitize_name(\"%s\", cap %zu) wrote past its buffer (byte %zu)",
                     show(in, a, sizeof a), cap, i);
        }
    if (!memchr(buf, '\0', cap))
        fail_msg("sanitize_name(cap %zu) left no NUL within the buffer", cap);
    return buf;
}

static void check_name(const char *in, const char *want)
{
    char out[BIG_CAP + GUARD], a[300], b[300], c[300];
    sanitize_name(in, out, BIG_CAP);
    if (strcmp(out, want) != 0)
        fail_msg("sanitize_name(\"%s\") is \"%s\", expected \"%s\"", show(in, a, sizeof a),
                 show(out, b, sizeof b), show(want, c, sizeof c));
}

static void test_path_parts_removed(void **state)
{
    (void)state;
    check_name("../../etc/passwd", "passwd");
    check_name("/etc/passwd", "passwd");
    check_name("C:\\x\\y.csv", "y.csv");
    check_name("..\\..\\windows\\system32\\cmd.exe", "cmd.exe");
    check_name("a/b\\c/d.txt", "d.txt");
    check_name("dir\\sub/report 2026.xlsx", "report 2026.xlsx");
    check_name("orders.csv", "orders.csv");
    check_name("..hidden..csv", "..hidden..csv");
}

static void test_degenerate_names_become_file(void **state)
{
    (void)state;
    check_name("", "file");
    check_name(".", "file");
    check_name("..", "file");
    check_name("/", "file");
    check_name("\\", "file");
    check_name("   ", "file");
    check_name("dir/", "file");
    check_name("a/..", "file");
    check_name("a\\.", "file");
    check_name("\x01\x02\x7f", "file");
    check_name(" .. ", "file");
}

static void test_control_chars_removed(void **state)
{
    (void)state;
    char in[64], out[BIG_CAP + GUARD], a[300], b[300];
    check_name("a\x01"
               "b\x1f"
               "c\x7f.txt",
               "abc.txt");
    check_name("\tname\r\n.csv", "name.csv");
    check_name("x\x1b[31mred.csv", "x[31mred.csv");
    /* every control character and DEL, one at a time, between two letters */
    for (int ch = 1; ch < 0x80; ch++) {
        if (ch >= 0x20 && ch < 0x7f)
            continue;
        snprintf(in, sizeof in, "a%cb.csv", ch);
        sanitize_name(in, out, BIG_CAP);
        if (strcmp(out, "ab.csv") != 0)
            fail_msg("byte 0x%02x: sanitize_name(\"%s\") is \"%s\", expected \"ab.csv\"", ch,
                     show(in, a, sizeof a), show(out, b, sizeof b));
    }
    /* every printable ASCII character is kept, except the path separators */
    for (int ch = 0x21; ch < 0x7f; ch++) {
        if (ch == '/' || ch == '\\')
            continue;
        snprintf(in, sizeof in, "a%cb", ch);
        sanitize_name(in, out, BIG_CAP);
        if (strcmp(out, in) != 0)
            fail_msg("byte 0x%02x: sanitize_name(\"%s\") is \"%s\", expected it unchanged", ch,
                     show(in, a, sizeof a), show(out, b, sizeof b));
    }
}

static void test_spaces_trimmed(void **state)
{
    (void)state;
    check_name("  report.csv  ", "report.csv");
    check_name(" a b ", "a b");
    check_name("dir/   spaced name.csv   ", "spaced name.csv");
    check_name("\x01  x  \x02", "x");
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    check_name("a\x80"
               "b",
               "a_b");
    check_name("\xff\xfe.csv", "__.csv");
    check_name("x\xc3", "x_");
    check_name("\xc3(", "_(");
    check_name("\xc0\xaf"
               "y",
               "__y");
    check_name("\xc1\xbf"
               "y",
               "__y");
    check_name("caf\xe9.csv", "caf_.csv"); /* Latin-1, not UTF-8 */
}

/*
 * Sequences that look like UTF-8 lead bytes but are not UTF-8 (RFC 3629): overlong 3- and 4-byte
 * forms, UTF-16 surrogates, code points above U+10FFFF, F5..FF leads, and truncated sequences.
 * Whether one '_' stands for each byte or for each bad sequence, the result must be valid
 * UTF-8 made of "a", one or more '_' and "b".
 */
static void test_invalid_utf8_strict(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xe0\x80\xaf",                     /* overlong '/' in 3 bytes */
        "\xe0\x9f\xbf",                     /* overlong U+07FF */
        "\xf0\x80\x80\xaf",                 /* overlong '/' in 4 bytes */
        "\xf0\x8f\xbf\xbf",                 /* overlong U+FFFF */
        "\xed\xa0\x80",                     /* surrogate U+D800 */
        "\xed\xbf\xbf",                     /* surrogate U+DFFF */
        "\xf4\x90\x80\x80",                 /* U+110000 */
        "\xf5\x80\x80\x80",                 /* lead byte F5 */
        "\xf7\xbf\xbf\xbf",                 /* lead byte F7 */
        "\xf8\x88\x80\x80\x80", "\xe2\x82", /* truncated euro sign */
        "\xf0\x9f\x98",                     /* truncated emoji */
    };
    char report[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[32], out[BIG_CAP + GUARD], a[300], b[300];
        snprintf(in, sizeof in, "a%sb", bad[i]);
        sanitize_name(in, out, BIG_CAP);
        size_t n = strlen(out);
        int ok = n >= 3 && n <= strlen(in) && out[0] == 'a' && out[n - 1] == 'b';
        for (size_t k = 1; ok && k + 1 < n; k++)
            ok = out[k] == '_';
        if ((!ok || !utf8_valid((const unsigned char *)out, n)) && used < sizeof report)
            used += (size_t)snprintf(report + used, sizeof report - used, "\n  \"%s\" -> \"%s\"",
                                     show(in, a, sizeof a), show(out, b, sizeof b));
    }
    if (report[0])
        fail_msg("expected \"a\", '_' for the invalid bytes, \"b\" (valid UTF-8); got:%s", report);
}

static void test_valid_utf8_kept(void **state)
{
    (void)state;
    check_name("r\xc3\xa9sum\xc3\xa9.csv", "r\xc3\xa9sum\xc3\xa9.csv");           /* résumé */
    check_name("\xe6\x97\xa5\xe6\x9c\xac.xlsx", "\xe6\x97\xa5\xe6\x9c\xac.xlsx"); /* 日本 */
    check_name("\xf0\x9f\x98\x80 data.json", "\xf0\x9f\x98\x80 data.json");       /* emoji */
    check_name("\xe2\x82\xac\xc2\xa0x", "\xe2\x82\xac\xc2\xa0x"); /* euro, no-break space */
    check_name("\xef\xbf\xbd", "\xef\xbf\xbd");                   /* U+FFFD */
    check_name("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");           /* U+10FFFF */
}

/* Builds prefix + n copies of unit into a new string. */
static char *repeat(const char *prefix, const char *unit, size_t n)
{
    size_t p = strlen(prefix), u = strlen(unit);
    char *s = malloc(p + u * n + 1);
    assert_non_null(s);
    memcpy(s, prefix, p);
    for (size_t i = 0; i < n; i++)
        memcpy(s + p + i * u, unit, u);
    s[p + u * n] = '\0';
    return s;
}

/* A long name is cut to at most SL_FILE_NAME_MAX bytes, on a character boundary: the result is
 * valid UTF-8, a prefix of the name, and shorter than the limit by less than one character. */
static void check_long(const char *prefix, const char *unit, size_t n, size_t cap)
{
    char *in = repeat(prefix, unit, n);
    char *out = malloc(cap + GUARD);
    assert_non_null(out);
    sanitize_name(in, out, cap);
    size_t len = strlen(out), limit = cap - 1 < SL_FILE_NAME_MAX ? cap - 1 : SL_FILE_NAME_MAX;
    size_t unit_len = strlen(unit);
    if (len > limit || len + unit_len <= limit)
        fail_msg("'%s' + %zu x '%s' (cap %zu): result has %zu bytes, expected at most %zu and more "
                 "than %zu",
                 prefix, n, unit, cap, len, limit, limit - unit_len);
    if (!utf8_valid((const unsigned char *)out, len))
        fail_msg("'%s' + %zu x '%s' (cap %zu): result of %zu bytes is not valid UTF-8 (cut inside "
                 "a character)",
                 prefix, n, unit, cap, len);
    if (memcmp(out, in, len) != 0)
        fail_msg("'%s' + %zu x '%s' (cap %zu): result is not a prefix of the name", prefix, n, unit,
                 cap);
    free(out);
    free(in);
}

static void test_long_names_cut(void **state)
{
    (void)state;
    check_long("", "a", 10000, BIG_CAP);                  /* 255 bytes exactly */
    check_long("", "\xc3\xa9", 5000, BIG_CAP);            /* 2-byte characters */
    check_long("a", "\xe2\x82\xac", 3400, BIG_CAP);       /* 3-byte, odd offset */
    check_long("ab", "\xf0\x9f\x98\x80", 2500, BIG_CAP);  /* 4-byte */
    check_long("abc", "\xf0\x9f\x98\x80", 2500, BIG_CAP); /* 4-byte, another offset */

    char out[BIG_CAP + GUARD];
    char *in = repeat("", "a", 10000);
    sanitize_name(in, out, BIG_CAP);
    assert_int_equal(strlen(out), SL_FILE_NAME_MAX);
    free(in);

    /* the path is removed before the name is measured */
    char *dirs = repeat("very/long/", "dir/", 300);
    size_t n = strlen(dirs);
    in = malloc(n + sizeof "name.csv");
    assert_non_null(in);
    memcpy(in, dirs, n);
    memcpy(in + n, "name.csv", sizeof "name.csv");
    sanitize_name(in, out, BIG_CAP);
    assert_string_equal(out, "name.csv");
    free(dirs);
    free(in);
}

static void test_small_cap(void **state)
{
    (void)state;
    char out[64 + GUARD];
    sanitize_name("report.csv", out, 8);
    assert_string_equal(out, "report.");
    sanitize_name("report.csv", out, 11);
    assert_string_equal(out, "report.csv");
    check_long("", "\xc3\xa9", 10, 6); /* 2-byte characters into 5 bytes: 4 */
    check_long("", "\xe2\x82\xac", 10, 8);
    check_long("x", "\xf0\x9f\x98\x80", 10, 7);
    sanitize_name("../", out, 3);
    assert_true(strlen(out) <= 2);
    sanitize_name("abc", out, 1);
    assert_string_equal(out, "");
}

/* ---------------------------------------------------------------------------------------------
 * Content types
 */

static void check_type(const char *in, size_t cap, const char *want)
{
    char out[BIG_CAP + GUARD], a[300], b[300];
    memset(out, CANARY, sizeof out);
    sl_upload_sanitize_content_type(in, out, cap);
    for (size_t i = cap; i < cap + GUARD; i++)
        if ((unsigned char)out[i] != CANARY)
            fail_msg("sanitize_content_type(\"%s\", cap %zu) wrote past its buffer",
                     show(in, a, sizeof a), cap);
    if (!memchr(out, '\0', cap) || strcmp(out, want) != 0)
        fail_msg("sanitize_content_type(\"%s\") is \"%s\", expected \"%s\"", show(in, a, sizeof a),
                 memchr(out, '\0', cap) ? show(out, b, sizeof b) : "(unterminated)", want);
}

static void test_content_type_kept(void **state)
{
    (void)state;
    check_type("text/csv", 256, "text/csv");
    check_type("text/csv; charset=utf-8", 256, "text/csv; charset=utf-8");
    check_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 256,
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    check_type("application/json", 256, "application/json");
    char *two_hundred = repeat("text/", "x", 195);
    check_type(two_hundred, 256, two_hundred);
    free(two_hundred);
}

static void test_content_type_replaced(void **state)
{
    (void)state;
    check_type(NULL, 256, OCTET);
    check_type("", 256, OCTET);
    check_type("text/\x01"
               "csv",
               256, OCTET);
    check_type("text/csv\r\nX-Injected: 1", 256, OCTET);
    check_type("text/csv\x7f", 256, OCTET);
    check_type("text/\tcsv", 256, OCTET);
    check_type("text/plain; name=\xc3\xa9", 256, OCTET);
    char *long_type = repeat("text/", "x", 196); /* 201 characters */
    check_type(long_type, 256, OCTET);
    free(long_type);
    long_type = repeat("text/", "x", 5000);
    check_type(long_type, BIG_CAP, OCTET);
    free(long_type);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_parts_removed),
        cmocka_unit_test(test_degenerate_names_become_file),
        cmocka_unit_test(test_control_chars_removed),
        cmocka_unit_test(test_spaces_trimmed),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_invalid_utf8_strict),
        cmocka_unit_test(test_valid_utf8_kept),
        cmocka_unit_test(test_long_names_cut),
        cmocka_unit_test(test_small_cap),
        cmocka_unit_test(test_content_type_kept),
        cmocka_unit_test(test_content_type_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
