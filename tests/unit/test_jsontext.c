/* Tests of util/jsontext and util/buf: the hand-written JSON encodings must agree with jansson. */
#include "testutil.h"
#include "util/buf.h"
#include "util/jsontext.h"

#include <jansson.h>

/* Encodes s with sl_json_append_string and checks that jansson reads back the same bytes. */
static void round_trip(const char *s, size_t n)
{
    struct sl_buf b;
    sl_buf_init(&b, 1 << 20);
    check_rc(sl_json_append_string(&b, s, n), 0, &(struct sl_error){0});
    json_error_t jerr;
    json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v)
        fail_msg("jansson cannot read '%s': %s", b.data, jerr.text);
    assert_true(json_is_string(v));
    check_i64(json_string_length(v), n);
    assert_memory_equal(json_string_value(v), s, n);
    json_decref(v);
    sl_buf_fini(&b);
}

static void test_strings_round_trip(void **state)
{
    (void)state;
    static const char *const cases[] = {"",
                                        "plain",
                                        "quote \" and backslash \\",
                                        "line\nfeed\ttab\rret\bbs\ffeed",
                                        "\x01\x1f ctl",
                                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                        "/slash/"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        round_trip(cases[i], strlen(cases[i]));
    round_trip("nul\0inside", 10);
}

static void test_random_strings_match_jansson(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    char s[64];
    for (int round = 0; round < 2000; round++) {
        size_t n = sl_test_next_random(&seed) % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(sl_test_next_random(&seed) % 128); /* ASCII, controls included */
        round_trip(s, n);
    }
}

static void test_invalid_utf8_refused_and_buffer_unchanged(void **state)
{
    (void)state;
    static const char *const bad[] = {"\xc0\xaf",         "\xe0\x80\xaf",     "\xed\xa0\x80",
                                      "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x80",
                                      "abc\xff",          "\xe2\x82"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sl_buf b;
        sl_buf_init(&b, 1024);
        check_rc(sl_buf_puts(&b, "x"), 0, &(struct sl_error){0});
        check_rc(sl_json_append_string(&b, bad[i], strlen(bad[i])), SL_EINVALID,
                 &(struct sl_error){0});
        check_str(b.data, "x");
        assert_false(sl_utf8_valid(bad[i], strlen(bad[i])));
        sl_buf_fini(&b);
    }
    assert_true(sl_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(sl_utf8_valid("\xf0\x9f\x98", 3)); /* cut short: never read past the end */
}

static void test_numbers(void **state)
{
    (void)state;
    static const char *const good[] = {"0",   "-0",   "12",     "-3.25",
                                       "1e3", "1E+3", "2.5e-7", "12345678901234567890"};
    static const char *const bad[] = {"", "-", ".5", "01", "1.", "1e", "+1", "NaN", "1 ", "0x1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!sl_json_number_valid(good[i], strlen(good[i])))
            fail_msg("'%s' should be a JSON number", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sl_json_number_valid(bad[i], strlen(bad[i])))
            fail_msg("'%s' should not be a JSON number", bad[i]);
}

static void test_buf_cap(void **state)
{
    (void)state;
    struct sl_buf b;
    sl_buf_init(&b, 8);
    check_rc(sl_buf_puts(&b, "12345678"), 0, &(struct sl_error){0});
    check_rc(sl_buf_putc(&b, '9'), SL_ETOO_LARGE, &(struct sl_error){0});
    check_str(b.data, "12345678");
    sl_buf_reset(&b);
    check_i64(b.len, 0);
    check_str(b.data, "");
    sl_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_round_trip),
        cmocka_unit_test(test_random_strings_match_jansson),
        cmocka_unit_test(test_invalid_utf8_refused_and_buffer_unchanged),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_buf_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
