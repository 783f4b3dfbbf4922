/*
 * test_timeutil: ISO 8601 text of known instants, parsing and its errors, and the civil calendar
 * conversions (src/util/timeutil.h).
 */
#include "testutil.h"

#include "util/err.h"
#include "util/timeutil.h"

#include <time.h>

static void check_format(int64_t ms, const char *want)
{
    char out[SL_ISO_MAX];
    memset(out, 'x', sizeof out);
    sl_iso8601(ms, out);
    assert_string_equal(out, want);
}

static void test_format_known_instants(void **state)
{
    (void)state;
    check_format(0, "1970-01-01T00:00:00.000Z");
    check_format(1796024351123LL, "2026-11-30T07:39:11.123Z");
    check_format(1709210096789LL, "2024-02-29T12:34:56.789Z"); /* leap day */
    check_format(951782400000LL, "2000-02-29T00:00:00.000Z");  /* leap day of a 400 year */
    check_format(1, "1970-01-01T00:00:00.001Z");
    check_format(SL_MS_PER_DAY - 1, "1970-01-01T23:59:59.999Z");
}

static void test_format_before_1970(void **state)
{
    (void)state;
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(-1000, "1969-12-31T23:59:59.000Z");
    check_format(-SL_MS_PER_DAY, "1969-12-31T00:00:00.000Z");
    check_format(-SL_MS_PER_DAY - 1, "1969-12-30T23:59:59.999Z");
    check_format(-301210184750LL, "1960-06-15T18:30:15.250Z");
    check_format(-2208988800000LL, "1900-01-01T00:00:00.000Z");
}

static void check_parse(const char *text, int64_t want)
{
    int64_t ms = 42;
    int rc = sl_parse_iso8601(text, &ms);
    if (rc != 0)
        fail_msg("parsing '%s' returned %d (%s)", text, rc, sl_err_code(rc));
    if (ms != want)
        fail_msg("'%s' parsed as %lld, expected %lld", text, (long long)ms, (long long)want);
}

static void test_parse_forms(void **state)
{
    (void)state;
    check_parse("2026-11-30T07:39:11.123Z", 1796024351123LL);
    check_parse("2026-11-30T07:39:11.123+00:00", 1796024351123LL);
    check_parse("2026-11-30T07:39:11.123", 1796024351123LL); /* no zone: UTC */
    check_parse("2026-11-30T07:39:11Z", 1796024351000LL);
    check_parse("2026-11-30T07:39Z", 1796024340000LL);
    check_parse("1970-01-01T00:00:00.000Z", 0);
    check_parse("2024-02-29T12:34:56.789Z", 1709210096789LL);
    check_parse("2000-02-29T00:00:00.000Z", 951782400000LL);
    check_parse("1969-12-31T23:59:59.999Z", -1);
    check_parse("1900-01-01T00:00:00.000Z", -2208988800000LL);
}

static void test_parse_round_trips(void **state)
{
    (void)state;
    const int64_t samples[] = {0,
                               1,
                               -1,
                               999,
                               1796024351123LL,
                               1709210096789LL,
                               -301210184750LL,
                               -2208988800000LL,
                               253402300799999LL, /* 9999-12-31T23:59:59.999Z */
                               4102444800000LL};  /* 2100-01-01, not a leap year */
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char text[SL_ISO_MAX];
        sl_iso8601(samples[i], text);
        check_parse(text, samples[i]);
    }
    /* Every ms offset within a second and a spread of instants over many years. */
    for (int64_t ms = -5000000000000LL; ms < 5000000000000LL; ms += 7777777777LL + 37) {
        char text[SL_ISO_MAX];
        sl_iso8601(ms, text);
        check_parse(text, ms);
    }
}

static void check_bad(const char *text)
{
    int64_t ms = 12345;
    int rc = sl_parse_iso8601(text, &ms);
    if (rc != SL_EINVALID)
        fail_msg("parsing '%s' returned %d (%s), expected invalid_request", text, rc,
                 sl_err_code(rc));
}

static void test_parse_errors(void **state)
{
    (void)state;
    check_bad("2026-02-30T00:00:00.000Z"); /* February 30 */
    check_bad("2026-02-29T00:00:00.000Z"); /* not a leap year */
    check_bad("1900-02-29T00:00:00.000Z"); /* century, not a leap year */
    check_bad("2026-04-31T00:00:00.000Z"); /* April has 30 days */
    check_bad("2026-13-01T00:00:00.000Z"); /* month 13 */
    check_bad("2026-00-10T00:00:00.000Z"); /* month 0 */
    check_bad("2026-11-00T00:00:00.000Z"); /* day 0 */
    check_bad("2026-11-32T00:00:00.000Z");
    check_bad("2026-11-30T07:60:00.000Z"); /* minute 60 */
    check_bad("2026-11-30T25:00:00.000Z"); /* hour 25 */
    check_bad("garbage");
    check_bad("");
    check_bad("2026-11-3007:39:11.123Z"); /* missing T */
    check_bad("2026-11-30");              /* no time at all */
    check_bad("2026-11-30T");
    check_bad("2026-11-30T07");
    check_bad("26-11-30T07:39:11Z");
    check_bad("2026/11/30T07:39:11Z");
    check_bad("2026-11-30T07:39:11.123Zjunk");
    check_bad("2026-11-30T07:39:11.123+02:00"); /* only UTC is accepted */
    check_bad("2026-11-30T07:39:11.Z");         /* a dot needs digits */
    check_bad("2026-1x-30T07:39:11Z");
}

static void test_civil_known_days(void **state)
{
    (void)state;
    check_i64(sl_days_from_civil(1970, 1, 1), 0);
    check_i64(sl_days_from_civil(1969, 12, 31), -1);
    check_i64(sl_days_from_civil(2000, 3, 1), 11017);
    check_i64(sl_days_from_civil(2024, 2, 29), 19782);
    check_i64(sl_days_from_civil(1600, 1, 1), -135140);
    check_i64(sl_days_from_civil(9999, 12, 31), 2932896);
    check_i64(sl_days_from_civil(1, 1, 1), -719162);

    int64_t y;
    unsigned m, d;
    sl_civil_from_days(19782, &y, &m, &d);
    check_i64(y, 2024);
    check_i64(m, 2);
    check_i64(d, 29);
    sl_civil_from_days(-1, &y, &m, &d);
    check_i64(y, 1969);
    check_i64(m, 12);
    check_i64(d, 31);
}

static int days_in_month(int64_t y, unsigned m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : len[m - 1];
}

/* Walks day by day from 0001-01-01 to 9999-12-31: each day is the next civil date, and both
 * conversions agree. */
static void test_civil_round_trip_range(void **state)
{
    (void)state;
    int64_t first = sl_days_from_civil(1, 1, 1), last = sl_days_from_civil(9999, 12, 31);
    int64_t ey = 1;
    unsigned em = 1, ed = 1;
    for (int64_t day = first; day <= last; day++) {
        int64_t y;
        unsigned m, d;
        sl_civil_from_days(day, &y, &m, &d);
        if (y != ey || m != em || d != ed)
            fail_msg("day %lld is %lld-%u-%u, expected %lld-%u-%u", (long long)day, (long long)y, m,
                     d, (long long)ey, em, ed);
        int64_t back = sl_days_from_civil(y, m, d);
        if (back != day)
            fail_msg("%lld-%u-%u gives day %lld, expected %lld", (long long)y, m, d,
                     (long long)back, (long long)day);
        if ((int)++ed > days_in_month(ey, em)) {
            ed = 1;
            if (++em > 12) {
                em = 1;
                ey++;
            }
        }
    }
    check_i64(ey, 10000);
    check_i64(last - first + 1, 3652059); /* days in 9999 Gregorian years */
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = sl_now_ms();
    int64_t after = (int64_t)time(NULL) * 1000 + 1000;
    assert_true(now >= before && now <= after);

    int64_t m1 = sl_mono_ms(), u1 = sl_mono_us();
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t m2 = sl_mono_ms(), u2 = sl_mono_us();
    assert_true(m2 - m1 >= 19);
    assert_true(u2 - u1 >= 19000);
    assert_true(u2 - u1 < 10 * 1000 * 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_known_instants),
        cmocka_unit_test(test_format_before_1970),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_round_trips),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_civil_known_days),
        cmocka_unit_test(test_civil_round_trip_range),
        cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
