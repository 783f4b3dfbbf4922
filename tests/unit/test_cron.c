/*
 * test_cron: cron expressions (src/core/cron.h): every syntax form, every error and its message,
 * the day-of-month/day-of-week OR rule, month ends, leap years, impossible schedules, the year
 * boundary, strictly-after, times before 1970 and below a second, hand-checked schedules, and
 * sl_cron_next against an independent brute-force reference.
 *
 * Times are written and compared as ISO 8601 text (sl_parse_iso8601 / sl_iso8601) so a failure
 * prints the schedule, the start and both times. The reference (ref_*) parses the expression
 * text with its own small parser and walks forward one minute (one second for six fields) at a
 * time; it never calls sl_cron_next.
 *
 * Only cmocka itself is used from testutil.h; the helpers here have cron-specific names.
 */
#include "testutil.h"

#include "core/cron.h"
#include "util/err.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MS_PER_MIN 60000LL

/* ---------------------------------------------------------------------------------------------
 * Helpers around the module under test
 */

/* ms of an ISO 8601 text ("2026-11-30T09:41:10Z", seconds and ms optional); fails on bad text. */
static int64_t cron_ms(const char *text)
{
    int64_t ms = 0;
    if (sl_parse_iso8601(text, &ms) != 0)
        fail_msg("test bug: '%s' is not an ISO 8601 time", text);
    return ms;
}

/* The canonical ISO text of an ISO text ("2026-11-30T09:42Z" -> "2026-11-30T09:42:00.000Z"). */
static void cron_canon(const char *text, char out[SL_ISO_MAX])
{
    sl_iso8601(cron_ms(text), out);
}

static void cron_parse_ok(const char *expr, struct sl_cron *c)
{
    struct sl_error err = {0};
    int rc = sl_cron_parse(expr, c, &err);
    if (rc != 0)
        fail_msg("sl_cron_parse('%s') returned %d (%s: %s), expected 0", expr, rc, sl_err_code(rc),
                 err.msg);
}

/*
 * Checks that expr, from from_iso, fires at want[0], then (from there) at want[1], and so on.
 */
static void cron_expect_next_n(const char *expr, const char *from_iso, const char *const *want,
                               size_t n)
{
    struct sl_cron c;
    char from_text[SL_ISO_MAX];
    cron_parse_ok(expr, &c);
    cron_canon(from_iso, from_text);
    int64_t t = cron_ms(from_iso);
    for (size_t i = 0; i < n; i++) {
        char got[SL_ISO_MAX], exp[SL_ISO_MAX], prev[SL_ISO_MAX];
        int64_t next = 0;
        sl_iso8601(t, prev);
        cron_canon(want[i], exp);
        int rc = sl_cron_next(&c, t, &next);
        if (rc != 0)
            fail_msg("'%s' from %s: firing #%zu (after %s) returned %d (%s), expected %s", expr,
                     from_text, i + 1, prev, rc, sl_err_code(rc), exp);
        sl_iso8601(next, got);
        if (strcmp(got, exp) != 0)
            fail_msg("'%s' from %s: firing #%zu (after %s) is %s, expected %s", expr, from_text,
                     i + 1, prev, got, exp);
        t = next;
    }
}

#define CRON_WANT(...)  ((const char *const[]){__VA_ARGS__})
#define CRON_NWANT(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
/* EXPECT_NEXT(expr, from, first, second, ...): the successive firings after from. */
#define EXPECT_NEXT(expr, from, ...)                                                               \
    cron_expect_next_n((expr), (from), CRON_WANT(__VA_ARGS__), CRON_NWANT(__VA_ARGS__))

/* The schedule parses but never fires: SL_EINVALID, within max_ms of wall time. */
static void cron_expect_never(const char *expr, const char *from_iso, int64_t max_ms)
{
    struct sl_cron c;
    cron_parse_ok(expr, &c);
    int64_t next = 12345;
    int64_t t0 = sl_mono_us();
    int rc = sl_cron_next(&c, cron_ms(from_iso), &next);
    int64_t took_ms = (sl_mono_us() - t0) / 1000;
    if (rc != SL_EINVALID) {
        char got[SL_ISO_MAX];
        sl_iso8601(next, got);
        fail_msg("'%s' from %s returned %d (%s)%s%s, expected %d (never fires)", expr, from_iso, rc,
                 sl_err_code(rc), rc == 0 ? " with " : "", rc == 0 ? got : "", SL_EINVALID);
    }
    if (took_ms > max_ms)
        fail_msg("'%s': finding that it never fires took %lld ms, expected at most %lld", expr,
                 (long long)took_ms, (long long)max_ms);
}

/* Whether msg names field: an occurrence of it not preceded by a letter or '-' (so "month" is
 * not satisfied by "day-of-month") and not followed by a letter or '-'. */
static bool cron_names_field(const char *msg, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = strstr(msg, field); p; p = strstr(p + 1, field)) {
        bool left_ok = p == msg || (!isalpha((unsigned char)p[-1]) && p[-1] != '-');
        bool right_ok = !isalpha((unsigned char)p[n]) && p[n] != '-';
        if (left_ok && right_ok)
            return true;
    }
    return false;
}

/* Whether msg quotes text ('text' or "text"). */
static bool cron_quotes(const char *msg, const char *text)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "'%s'", text);
    snprintf(b, sizeof b, "\"%s\"", text);
    return strstr(msg, a) || strstr(msg, b);
}

/*
 * expr must fail with SL_EINVALID; the message must name field (when not NULL) and quote text
 * (when not NULL; alt is a second acceptable quoted text, or NULL).
 */
static void cron_expect_error2(const char *expr, const char *field, const char *text,
                               const char *alt)
{
    struct sl_cron c;
    struct sl_error err = {0};
    int rc = sl_cron_parse(expr, &c, &err);
    if (rc != SL_EINVALID)
        fail_msg("sl_cron_parse('%s') returned %d (%s), expected %d (%s)", expr, rc,
                 sl_err_code(rc), SL_EINVALID, sl_err_code(SL_EINVALID));
    if (err.code != SL_EINVALID)
        fail_msg("'%s': err.code is %d, expected %d", expr, err.code, SL_EINVALID);
    if (err.msg[0] == '\0')
        fail_msg("'%s': the error message is empty", expr);
    if (field && !cron_names_field(err.msg, field))
        fail_msg("'%s': message \"%s\" does not name the %s field", expr, err.msg, field);
    if (text && !cron_quotes(err.msg, text) && !(alt && cron_quotes(err.msg, alt)))
        fail_msg("'%s': message \"%s\" does not quote the text at fault '%s'%s%s%s", expr, err.msg,
                 text, alt ? " (or '" : "", alt ? alt : "", alt ? "')" : "");
}

static void cron_expect_error(const char *expr, const char *field, const char *text)
{
    cron_expect_error2(expr, field, text, NULL);
}

/* Compares a bit set and prints both in hex. */
#define cron_check_bits(got, want)                                                                 \
    do {                                                                                           \
        unsigned long long got_ = (unsigned long long)(got), want_ = (unsigned long long)(want);   \
        if (got_ != want_)                                                                         \
            fail_msg("%s is 0x%llx, expected 0x%llx", #got, got_, want_);                          \
    } while (0)

#define cron_check_int(got, want)                                                                  \
    do {                                                                                           \
        long long got_ = (long long)(got), want_ = (long long)(want);                              \
        if (got_ != want_)                                                                         \
            fail_msg("%s is %lld, expected %lld", #got, got_, want_);                              \
    } while (0)

#define BIT(n) (1ULL << (n))

/* ---------------------------------------------------------------------------------------------
 * The reference: its own parser of the expression text and a one-step-at-a-time walk
 */

struct ref_cron {
    bool sec[60], min[60], hour[24], dom[32], mon[13], dow[7];
    bool dom_star, dow_star, six;
};

static const char *const ref_month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                              "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const ref_day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* A value of a field: digits, or a three-letter name (names[i] is value first + i). */
static int ref_value(const char *expr, const char **p, const char *const *names, int count,
                     int first)
{
    if (isdigit((unsigned char)**p)) {
        char *end;
        long v = strtol(*p, &end, 10);
        *p = end;
        return (int)v;
    }
    for (int i = 0; names && i < count; i++) {
        if (strncasecmp(*p, names[i], 3) == 0) {
            *p += 3;
            return first + i;
        }
    }
    fail_msg("reference: cannot read a value at '%s' of '%s'", *p, expr);
    return -1;
}

/* Parses one field (text[0..len)) into set[lo..hi]; day-of-week 7 lands on 0. */
static void ref_field(const char *expr, const char *text, size_t len, bool *set, int lo, int hi,
                      const char *const *names, int count, bool dow)
{
    char buf[128];
    if (len >= sizeof buf)
        fail_msg("reference: field too long in '%s'", expr);
    memcpy(buf, text, len);
    buf[len] = '\0';
    const char *p = buf;
    while (*p) {
        int a, b, step = 1;
        if (*p == '*') {
            a = lo;
            b = hi;
            p++;
        } else {
            a = ref_value(expr, &p, names, count, names == ref_month_names ? 1 : 0);
            b = a;
            if (*p == '-') {
                p++;
                b = ref_value(expr, &p, names, count, names == ref_month_names ? 1 : 0);
            } else if (*p == '/') {
                b = hi;
            }
        }
        if (*p == '/') {
            char *end;
            p++;
            step = (int)strtol(p, &end, 10);
            p = end;
        }
        if (a < lo || b > hi || a > b || step < 1 || (*p && *p != ','))
            fail_msg("reference: bad item in '%s' (field '%s')", expr, buf);
        for (int v = a; v <= b; v += step)
            set[dow && v == 7 ? 0 : v] = true;
        if (*p == ',')
            p++;
    }
}

static void ref_parse(const char *expr, struct ref_cron *r)
{
    static const char *const macro[][2] = {{"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"},
                                           {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
                                           {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                                           {"@hourly", "0 * * * *"}};
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < sizeof macro / sizeof macro[0]; i++)
        if (strcasecmp(expr, macro[i][0]) == 0)
            expr = macro[i][1];
    const char *start[6];
    size_t len[6];
    int n = 0;
    for (const char *p = expr; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == 6)
            fail_msg("reference: too many fields in '%s'", expr);
        start[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        len[n] = (size_t)(p - start[n]);
        n++;
    }
    if (n != 5 && n != 6)
        fail_msg("reference: '%s' has %d fields", expr, n);
    r->six = n == 6;
    int i = 0;
    if (r->six) {
        ref_field(expr, start[0], len[0], r->sec, 0, 59, NULL, 0, false);
        i = 1;
    } else {
        r->sec[0] = true;
    }
    ref_field(expr, start[i], len[i], r->min, 0, 59, NULL, 0, false);
    ref_field(expr, start[i + 1], len[i + 1], r->hour, 0, 23, NULL, 0, false);
    ref_field(expr, start[i + 2], len[i + 2], r->dom, 1, 31, NULL, 0, false);
    ref_field(expr, start[i + 3], len[i + 3], r->mon, 1, 12, ref_month_names, 12, false);
    ref_field(expr, start[i + 4], len[i + 4], r->dow, 0, 7, ref_day_names, 7, true);
    r->dom_star = start[i + 2][0] == '*';
    r->dow_star = start[i + 4][0] == '*';
}

static int64_t ref_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

/* 0 = Sunday; day 0 (1970-01-01) was a Thursday. */
static int ref_weekday(int64_t days)
{
    int64_t w = (days + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

/*
 * The first time strictly after after_ms that r matches, walking one minute (one second with six
 * fields) at a time for at most max_steps steps. Returns 0, or -1 when the bound is reached.
 */
static int ref_next(const struct ref_cron *r, int64_t after_ms, int64_t max_steps, int64_t *out)
{
    int64_t unit = r->six ? 1 : 60; /* seconds */
    int64_t t = ref_floor_div(after_ms, unit * 1000) * unit + unit;
    int64_t cached_day = INT64_MIN;
    bool day_ok = false;
    for (int64_t i = 0; i < max_steps; i++, t += unit) {
        int64_t day = ref_floor_div(t, 86400);
        if (day != cached_day) {
            int64_t y;
            unsigned m, d;
            sl_civil_from_days(day, &y, &m, &d);
            bool dom = r->dom[d], dow = r->dow[ref_weekday(day)];
            bool both = r->dom_star || r->dow_star;
            day_ok = r->mon[m] && (both ? dom && dow : dom || dow);
            cached_day = day;
        }
        if (!day_ok)
            continue;
        int64_t sod = t - day * 86400;
        if (r->hour[sod / 3600] && r->min[sod / 60 % 60] && r->sec[sod % 60]) {
            *out = t * 1000;
            return 0;
        }
    }
    return -1;
}

/* A fixed-seed generator (xorshift64*), so the drawn pairs are the same on every run. */
static uint64_t cron_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* ---------------------------------------------------------------------------------------------
 * Syntax forms
 */

static void test_star_every_minute(void **state)
{
    (void)state;
    EXPECT_NEXT("* * * * *", "2026-11-30T09:41:10Z", "2026-11-30T09:42Z", "2026-11-30T09:43Z",
                "2026-11-30T09:44Z");
    EXPECT_NEXT("* * * * *", "2026-11-30T23:59:30Z", "2026-12-01T00:00Z");
}

static void test_single_values(void **state)
{
    (void)state;
    EXPECT_NEXT("5 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:05Z", "2026-11-30T11:05Z");
    EXPECT_NEXT("5 4 * * *", "2026-11-30T09:41Z", "2026-12-01T04:05Z", "2026-12-02T04:05Z");
    EXPECT_NEXT("0 0 15 * *", "2026-11-30T09:41Z", "2026-12-15T00:00Z", "2027-01-15T00:00Z");
    EXPECT_NEXT("0 0 1 3 *", "2026-11-30T09:41Z", "2027-03-01T00:00Z", "2028-03-01T00:00Z");
    /* 2026-12-02 is a Wednesday */
    EXPECT_NEXT("0 0 * * 3", "2026-11-30T09:41Z", "2026-12-02T00:00Z", "2026-12-09T00:00Z");
    EXPECT_NEXT("05 04 * * *", "2026-11-30T09:41Z", "2026-12-01T04:05Z");
}

static void test_lists(void **state)
{
    (void)state;
    EXPECT_NEXT("0,20,40 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:00Z", "2026-11-30T10:20Z",
                "2026-11-30T10:40Z", "2026-11-30T11:00Z");
    /* unsorted and repeated items */
    EXPECT_NEXT("40,0,20,0 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:00Z", "2026-11-30T10:20Z",
                "2026-11-30T10:40Z");
    EXPECT_NEXT("0 6,18 * * *", "2026-11-30T09:41Z", "2026-11-30T18:00Z", "2026-12-01T06:00Z");
    /* list of a value, a range and a step */
    EXPECT_NEXT("1,10-11,*/30 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:00Z",
                "2026-11-30T10:01Z", "2026-11-30T10:10Z", "2026-11-30T10:11Z", "2026-11-30T10:30Z",
                "2026-11-30T11:00Z");
}

static void test_ranges(void **state)
{
    (void)state;
    EXPECT_NEXT("10-12 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:10Z", "2026-11-30T10:11Z",
                "2026-11-30T10:12Z", "2026-11-30T11:10Z");
    EXPECT_NEXT("0 9-17 * * *", "2026-11-30T16:30Z", "2026-11-30T17:00Z", "2026-12-01T09:00Z");
    EXPECT_NEXT("0 0 28-31 * *", "2026-11-27T12:00Z", "2026-11-28T00:00Z", "2026-11-29T00:00Z",
                "2026-11-30T00:00Z", "2026-12-28T00:00Z");
    EXPECT_NEXT("7-7 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:07Z");
}

static void test_steps(void **state)
{
    (void)state;
    struct sl_cron c;
    EXPECT_NEXT("*/20 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:00Z", "2026-11-30T10:20Z",
                "2026-11-30T10:40Z", "2026-11-30T11:00Z");
    /* a step on a range */
    EXPECT_NEXT("10-30/10 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:10Z", "2026-11-30T10:20Z",
                "2026-11-30T10:30Z", "2026-11-30T11:10Z");
    /* the step counts from the range start, not from 0 */
    EXPECT_NEXT("3-20/8 * * * *", "2026-11-30T09:41Z", "2026-11-30T10:03Z", "2026-11-30T10:11Z",
                "2026-11-30T10:19Z", "2026-11-30T11:03Z");
    /* "A/S": from A to the end of the field */
    EXPECT_NEXT("50/5 * * * *", "2026-11-30T09:41Z", "2026-11-30T09:50Z", "2026-11-30T09:55Z",
                "2026-11-30T10:50Z");
    EXPECT_NEXT("0 0 25/3 * *", "2026-11-30T09:41Z", "2026-12-25T00:00Z", "2026-12-28T00:00Z",
                "2026-12-31T00:00Z", "2027-01-25T00:00Z");
    EXPECT_NEXT("0 0 1 */3 *", "2026-02-15T00:00Z", "2026-04-01T00:00Z", "2026-07-01T00:00Z",
                "2026-10-01T00:00Z", "2027-01-01T00:00Z");
    EXPECT_NEXT("0 */6 * * *", "2026-11-30T09:41Z", "2026-11-30T12:00Z", "2026-11-30T18:00Z",
                "2026-12-01T00:00Z");

    cron_parse_ok("*/15 */8 */10 */4 */3", &c);
    cron_check_bits(c.minutes, BIT(0) | BIT(15) | BIT(30) | BIT(45));
    cron_check_bits(c.hours, BIT(0) | BIT(8) | BIT(16));
    cron_check_bits(c.days, BIT(1) | BIT(11) | BIT(21) | BIT(31));
    cron_check_bits(c.months, BIT(1) | BIT(5) | BIT(9));
    cron_check_bits(c.weekdays, BIT(0) | BIT(3) | BIT(6));
    cron_parse_ok("1-10/3 7/20 * jan-dec/3 mon-fri/2", &c);
    cron_check_bits(c.minutes, BIT(1) | BIT(4) | BIT(7) | BIT(10));
    cron_check_bits(c.hours, BIT(7));
    cron_check_bits(c.months, BIT(1) | BIT(4) | BIT(7) | BIT(10));
    cron_check_bits(c.weekdays, BIT(1) | BIT(3) | BIT(5));
    cron_parse_ok("7/20 * * * *", &c);
    cron_check_bits(c.minutes, BIT(7) | BIT(27) | BIT(47));
    /* a step larger than the range: only its start */
    cron_parse_ok("5-10/30 * * * *", &c);
    cron_check_bits(c.minutes, BIT(5));
}

static void test_month_names_any_case(void **state)
{
    (void)state;
    struct sl_cron c;
    static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int m = 1; m <= 12; m++) {
        char expr[64];
        char upper[4] = {0}, mixed[4] = {0};
        for (int i = 0; i < 3; i++) {
            upper[i] = (char)toupper((unsigned char)names[m - 1][i]);
            mixed[i] = i == 0 ? upper[i] : names[m - 1][i];
        }
        const char *forms[] = {names[m - 1], upper, mixed};
        for (int f = 0; f < 3; f++) {
            snprintf(expr, sizeof expr, "0 0 1 %s *", forms[f]);
            cron_parse_ok(expr, &c);
            if (c.months != BIT(m))
                fail_msg("'%s': months is 0x%x, expected 0x%llx", expr, (unsigned)c.months, BIT(m));
        }
    }
    EXPECT_NEXT("0 0 1 jan *", "2026-11-30T09:41Z", "2027-01-01T00:00Z", "2028-01-01T00:00Z");
    EXPECT_NEXT("0 0 1 JAN *", "2026-11-30T09:41Z", "2027-01-01T00:00Z");
    EXPECT_NEXT("0 0 1 Jun,DEC *", "2026-11-30T09:41Z", "2026-12-01T00:00Z", "2027-06-01T00:00Z",
                "2027-12-01T00:00Z");
    EXPECT_NEXT("15 10 1 jun-aug *", "2026-11-30T09:41Z", "2027-06-01T10:15Z", "2027-07-01T10:15Z",
                "2027-08-01T10:15Z", "2028-06-01T10:15Z");
    /* names and numbers mixed in one range */
    cron_parse_ok("0 0 1 mar-5 *", &c);
    cron_check_bits(c.months, BIT(3) | BIT(4) | BIT(5));
    cron_parse_ok("0 0 1 10-Dec *", &c);
    cron_check_bits(c.months, BIT(10) | BIT(11) | BIT(12));
}

static void test_weekday_names_any_case(void **state)
{
    (void)state;
    struct sl_cron c;
    static const char *const names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
    for (int d = 0; d < 7; d++) {
        char expr[64], upper[4] = {0}, mixed[4] = {0};
        for (int i = 0; i < 3; i++) {
            upper[i] = (char)toupper((unsigned char)names[d][i]);
            mixed[i] = i == 0 ? upper[i] : names[d][i];
        }
        const char *forms[] = {names[d], upper, mixed};
        for (int f = 0; f < 3; f++) {
            snprintf(expr, sizeof expr, "0 0 * * %s", forms[f]);
            cron_parse_ok(expr, &c);
            if (c.weekdays != BIT(d))
                fail_msg("'%s': weekdays is 0x%x, expected 0x%llx", expr, (unsigned)c.weekdays,
                         BIT(d));
        }
    }
    /* 2026-11-30 is a Monday */
    EXPECT_NEXT("0 9 * * Mon", "2026-11-30T09:41Z", "2026-12-07T09:00Z", "2026-12-14T09:00Z");
    EXPECT_NEXT("0 9 * * MON", "2026-11-30T08:00Z", "2026-11-30T09:00Z", "2026-12-07T09:00Z");
    EXPECT_NEXT("0 0 * * sat,SUN", "2026-11-30T09:41Z", "2026-12-05T00:00Z", "2026-12-06T00:00Z",
                "2026-12-12T00:00Z");
    cron_parse_ok("0 0 * * mon-fri", &c);
    cron_check_bits(c.weekdays, 0x3e);
    cron_parse_ok("0 0 * * MON-Fri", &c);
    cron_check_bits(c.weekdays, 0x3e);
    cron_parse_ok("0 0 * * sun-sat", &c);
    cron_check_bits(c.weekdays, 0x7f);
    cron_parse_ok("0 0 * * tue-4", &c);
    cron_check_bits(c.weekdays, BIT(2) | BIT(3) | BIT(4));
}

static void test_sunday_is_0_and_7(void **state)
{
    (void)state;
    struct sl_cron c;
    /* 2026-12-06 is a Sunday */
    EXPECT_NEXT("0 0 * * 0", "2026-11-30T09:41Z", "2026-12-06T00:00Z", "2026-12-13T00:00Z");
    EXPECT_NEXT("0 0 * * 7", "2026-11-30T09:41Z", "2026-12-06T00:00Z", "2026-12-13T00:00Z");
    EXPECT_NEXT("0 0 * * sun", "2026-11-30T09:41Z", "2026-12-06T00:00Z");
    cron_parse_ok("0 0 * * 7", &c);
    cron_check_bits(c.weekdays, BIT(0));
    cron_parse_ok("0 0 * * 0,7", &c);
    cron_check_bits(c.weekdays, BIT(0));
    /* ranges ending at 7: 5-7 is fri, sat, sun */
    cron_parse_ok("0 0 * * 5-7", &c);
    cron_check_bits(c.weekdays, BIT(5) | BIT(6) | BIT(0));
    EXPECT_NEXT("0 0 * * 5-7", "2026-11-30T09:41Z", "2026-12-04T00:00Z", "2026-12-05T00:00Z",
                "2026-12-06T00:00Z", "2026-12-11T00:00Z");
    cron_parse_ok("0 0 * * 1-7", &c);
    cron_check_bits(c.weekdays, 0x7f);
    cron_parse_ok("0 0 * * 0-7", &c);
    cron_check_bits(c.weekdays, 0x7f);
    cron_parse_ok("0 0 * * 7-7", &c);
    cron_check_bits(c.weekdays, BIT(0));
    /* every day of the week, with Sunday twice */
    cron_parse_ok("0 0 * * *", &c);
    cron_check_bits(c.weekdays, 0x7f);
}

static void test_macros(void **state)
{
    (void)state;
    const char *from = "2026-11-30T09:41:10Z"; /* a Monday */
    EXPECT_NEXT("@yearly", from, "2027-01-01T00:00Z", "2028-01-01T00:00Z");
    EXPECT_NEXT("@annually", from, "2027-01-01T00:00Z", "2028-01-01T00:00Z");
    EXPECT_NEXT("@monthly", from, "2026-12-01T00:00Z", "2027-01-01T00:00Z", "2027-02-01T00:00Z");
    EXPECT_NEXT("@weekly", from, "2026-12-06T00:00Z", "2026-12-13T00:00Z", "2026-12-20T00:00Z");
    EXPECT_NEXT("@daily", from, "2026-12-01T00:00Z", "2026-12-02T00:00Z");
    EXPECT_NEXT("@midnight", from, "2026-12-01T00:00Z", "2026-12-02T00:00Z");
    EXPECT_NEXT("@hourly", from, "2026-11-30T10:00Z", "2026-11-30T11:00Z");
    EXPECT_NEXT("@HOURLY", from, "2026-11-30T10:00Z");
    EXPECT_NEXT("@Daily", from, "2026-12-01T00:00Z");
    /* a macro is not a six-field schedule: it fires at second 0 */
    struct sl_cron c;
    cron_parse_ok("@hourly", &c);
    cron_check_int(c.has_seconds, 0);
    cron_parse_ok("@weekly", &c);
    cron_check_bits(c.weekdays, BIT(0));
    cron_check_bits(c.months, 0x1ffe);
}

static void test_six_fields_seconds_first(void **state)
{
    (void)state;
    struct sl_cron c;
    cron_parse_ok("*/15 * * * * *", &c);
    cron_check_int(c.has_seconds, 1);
    cron_check_bits(c.seconds, BIT(0) | BIT(15) | BIT(30) | BIT(45));
    cron_check_bits(c.minutes, (1ULL << 60) - 1);
    cron_parse_ok("* * * * *", &c);
    cron_check_int(c.has_seconds, 0);

    EXPECT_NEXT("*/15 * * * * *", "2026-11-30T09:41:10.250Z", "2026-11-30T09:41:15Z",
                "2026-11-30T09:41:30Z", "2026-11-30T09:41:45Z", "2026-11-30T09:42:00Z");
    EXPECT_NEXT("30 * * * * *", "2026-11-30T09:41:10Z", "2026-11-30T09:41:30Z",
                "2026-11-30T09:42:30Z");
    EXPECT_NEXT("5,10 0 12 * * *", "2026-11-30T09:41:10Z", "2026-11-30T12:00:05Z",
                "2026-11-30T12:00:10Z", "2026-12-01T12:00:05Z");
    /* the other fields shift right: the second field is the minute */
    EXPECT_NEXT("0 30 * * * *", "2026-11-30T09:41:10Z", "2026-11-30T10:30:00Z",
                "2026-11-30T11:30:00Z");
    EXPECT_NEXT("0 0 0 * * mon", "2026-11-30T09:41:10Z", "2026-12-07T00:00:00Z");
    EXPECT_NEXT("58-59 59 23 31 12 *", "2026-12-31T23:59:58.500Z", "2026-12-31T23:59:59Z",
                "2027-12-31T23:59:58Z");
    EXPECT_NEXT("* * * * * *", "2026-11-30T09:41:59Z", "2026-11-30T09:42:00Z",
                "2026-11-30T09:42:01Z");
}

static void test_whitespace_between_fields(void **state)
{
    (void)state;
    const char *from = "2026-11-30T09:41:10Z";
    EXPECT_NEXT("*/2  *   *  *     *", from, "2026-11-30T09:42Z", "2026-11-30T09:44Z");
    EXPECT_NEXT("*/2\t*\t*\t*\t*", from, "2026-11-30T09:42Z", "2026-11-30T09:44Z");
    EXPECT_NEXT("  \t*/2 * \t * *\t*  ", from, "2026-11-30T09:42Z", "2026-11-30T09:44Z");
    EXPECT_NEXT("0\t\t12  *\t* \t mon-fri", "2026-11-27T13:00Z", "2026-11-30T12:00Z");
    EXPECT_NEXT(" \t */15 * * * * * ", from, "2026-11-30T09:41:15Z");
    EXPECT_NEXT("  @daily", from, "2026-12-01T00:00Z");
}

/* ---------------------------------------------------------------------------------------------
 * Errors
 */

static void test_error_out_of_range(void **state)
{
    (void)state;
    cron_expect_error("60 * * * *", "minute", "60");
    cron_expect_error("* 24 * * *", "hour", "24");
    cron_expect_error("* * 0 * *", "day-of-month", "0");
    cron_expect_error("* * 32 * *", "day-of-month", "32");
    cron_expect_error("* * * 0 *", "month", "0");
    cron_expect_error("* * * 13 *", "month", "13");
    cron_expect_error("* * * * 8", "day-of-week", "8");
    cron_expect_error("60 * * * * *", "second", "60");
    cron_expect_error("0 60 * * * *", "minute", "60");
    /* in ranges, lists and steps */
    cron_expect_error("1-60 * * * *", "minute", "1-60");
    cron_expect_error("0 0 1,32 * *", "day-of-month", "32");
    cron_expect_error("0 0 * 11-13 *", "month", "11-13");
    cron_expect_error("0 0 * * 6-8", "day-of-week", "6-8");
    cron_expect_error("0 0 0/2 * *", "day-of-month", "0/2");
    cron_expect_error("99999 * * * *", "minute", "99999");
    cron_expect_error("-1 * * * *", "minute", "-1");
}

static void test_error_bad_names(void **state)
{
    (void)state;
    cron_expect_error("0 0 * * foo", "day-of-week", "foo");
    cron_expect_error("0 0 * foo *", "month", "foo");
    cron_expect_error("foo * * * *", "minute", "foo");
    cron_expect_error("0 0 * * zzz", "day-of-week", "zzz");
    cron_expect_error("0 0 * * s", "day-of-week", "s");
    /* names of the other field, or in a field without names */
    cron_expect_error("0 0 * * jan", "day-of-week", "jan");
    cron_expect_error("0 0 * mon *", "month", "mon");
    cron_expect_error("0 0 mon * *", "day-of-month", "mon");
    cron_expect_error("0 jan * * *", "hour", "jan");
    cron_expect_error("0 0 * * mon-foo", "day-of-week", "mon-foo");
    cron_expect_error("0 0 * * monx", "day-of-week", "monx");
}

static void test_error_ranges_and_steps(void **state)
{
    (void)state;
    cron_expect_error("5-1 * * * *", "minute", "5-1");
    cron_expect_error("0 0 * * fri-mon", "day-of-week", "fri-mon");
    cron_expect_error("0 0 * dec-jan *", "month", "dec-jan");
    cron_expect_error("*/0 * * * *", "minute", "*/0");
    cron_expect_error("0 0 1-10/0 * *", "day-of-month", "1-10/0");
    cron_expect_error("*/61 * * * *", "minute", "*/61");
    cron_expect_error("* */100 * * *", "hour", "*/100");
    cron_expect_error("0 0 */32 * *", "day-of-month", "*/32");
    cron_expect_error("0 0 * */13 *", "month", "*/13");
    cron_expect_error("*/99999999999 * * * *", "minute", "*/99999999999");
    cron_expect_error("*/ * * * *", "minute", "*/");
    cron_expect_error("*/x * * * *", "minute", "*/x");
    cron_expect_error("5- * * * *", "minute", "5-");
    cron_expect_error("-5 * * * *", "minute", "-5");
    cron_expect_error("1-2-3 * * * *", "minute", "1-2-3");
    cron_expect_error("*/2/3 * * * *", "minute", "*/2/3");
}

static void test_error_items(void **state)
{
    (void)state;
    /* an empty list item: the message quotes the empty item or the whole field */
    cron_expect_error2("1,,2 * * * *", "minute", "", "1,,2");
    cron_expect_error2("1, * * * *", "minute", "", "1,");
    cron_expect_error2("0 ,5 * * *", "hour", "", ",5");
    cron_expect_error2("0 0 * * ,", "day-of-week", "", ",");
    /* garbage after a value */
    cron_expect_error("5x * * * *", "minute", "5x");
    cron_expect_error("0 5x * * *", "hour", "5x");
    cron_expect_error("0 0 1x * *", "day-of-month", "1x");
    cron_expect_error("0 0 * 1.5 *", "month", "1.5");
    cron_expect_error("0 0 * * 1;", "day-of-week", "1;");
    cron_expect_error("** * * * *", "minute", "**");
    cron_expect_error("*5 * * * *", "minute", "*5");
    cron_expect_error("5x * * * * *", "second", "5x");
}

static void test_error_field_count_and_macros(void **state)
{
    (void)state;
    struct sl_cron c;
    struct sl_error err = {0};
    /* wrong field counts: the message says how many fields a schedule has */
    const char *bad_counts[] = {"* * * *", "* * * * * * *",  "", "   ", "\t",
                                "*",       "1 2 3 4 5 6 7 8"};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        memset(&err, 0, sizeof err);
        int rc = sl_cron_parse(bad_counts[i], &c, &err);
        if (rc != SL_EINVALID)
            fail_msg("sl_cron_parse('%s') returned %d (%s), expected %d", bad_counts[i], rc,
                     sl_err_code(rc), SL_EINVALID);
        if (!strstr(err.msg, "field"))
            fail_msg("'%s': message \"%s\" does not mention the fields", bad_counts[i], err.msg);
    }
    cron_expect_error("@often", NULL, "@often");
    cron_expect_error("@", NULL, "@");
    cron_expect_error("@reboot", NULL, "@reboot");
    cron_expect_error("@dailyx", NULL, "@dailyx");
    /* a schedule far longer than any real one is an error, not an overflow */
    char long_expr[2048];
    size_t n = 0;
    while (n + 2 < 1000) {
        long_expr[n++] = '1';
        long_expr[n++] = ',';
    }
    memcpy(long_expr + n, "1 * * * *", sizeof "1 * * * *");
    memset(&err, 0, sizeof err);
    int rc = sl_cron_parse(long_expr, &c, &err);
    if (rc != 0 && rc != SL_EINVALID)
        fail_msg("a 1000-character schedule returned %d (%s)", rc, sl_err_code(rc));
}

/* ---------------------------------------------------------------------------------------------
 * The day-of-month / day-of-week rule
 */

static void test_dom_dow_or_when_both_restricted(void **state)
{
    (void)state;
    /* the 13th and every Friday: Fridays 6, 13 (both), 20, 27 Nov, then 4, 11, 13 (a Sunday) */
    EXPECT_NEXT("0 0 13 * 5", "2026-11-01T00:00Z", "2026-11-06T00:00Z", "2026-11-13T00:00Z",
                "2026-11-20T00:00Z", "2026-11-27T00:00Z", "2026-12-04T00:00Z", "2026-12-11T00:00Z",
                "2026-12-13T00:00Z", "2026-12-18T00:00Z");
    EXPECT_NEXT("0 0 13 * fri", "2026-12-12T00:00Z", "2026-12-13T00:00Z", "2026-12-18T00:00Z");
    /* same bits as "*" followed by a step, but the field does not start with '*': OR */
    EXPECT_NEXT("0 0 1-31/2 * 5", "2026-11-01T00:00Z", "2026-11-03T00:00Z", "2026-11-05T00:00Z",
                "2026-11-06T00:00Z", "2026-11-07T00:00Z");
    /* days 1-7 or Mondays */
    EXPECT_NEXT("0 6 1-7 * 1", "2026-11-30T00:00Z", "2026-11-30T06:00Z", "2026-12-01T06:00Z",
                "2026-12-02T06:00Z", "2026-12-03T06:00Z", "2026-12-04T06:00Z", "2026-12-05T06:00Z",
                "2026-12-06T06:00Z", "2026-12-07T06:00Z", "2026-12-14T06:00Z");
    /* a day-of-month that never exists still fires on the weekday */
    EXPECT_NEXT("0 0 31 2 mon", "2026-01-01T00:00Z", "2026-02-02T00:00Z", "2026-02-09T00:00Z",
                "2026-02-16T00:00Z", "2026-02-23T00:00Z", "2027-02-01T00:00Z");
    /* every weekday listed: any day */
    EXPECT_NEXT("0 0 13 * 0-6", "2026-11-30T09:41Z", "2026-12-01T00:00Z", "2026-12-02T00:00Z");

    struct sl_cron c;
    cron_parse_ok("0 0 13 * 5", &c);
    cron_check_int(c.days_star, 0);
    cron_check_int(c.weekdays_star, 0);
}

static void test_dom_dow_and_when_one_is_star(void **state)
{
    (void)state;
    EXPECT_NEXT("0 0 13 * *", "2026-11-01T00:00Z", "2026-11-13T00:00Z", "2026-12-13T00:00Z");
    EXPECT_NEXT("0 0 * * 5", "2026-11-01T00:00Z", "2026-11-06T00:00Z", "2026-11-13T00:00Z",
                "2026-11-20T00:00Z");
    /* "*" followed by a step in day-of-month starts with '*': AND, odd days that are Fridays */
    EXPECT_NEXT("0 0 */2 * 5", "2026-11-01T00:00Z", "2026-11-13T00:00Z", "2026-11-27T00:00Z",
                "2026-12-11T00:00Z", "2026-12-25T00:00Z");
    /* "*" followed by a step in day-of-week starts with '*': AND, only the 13th */
    EXPECT_NEXT("0 0 13 * */1", "2026-11-30T09:41Z", "2026-12-13T00:00Z", "2027-01-13T00:00Z");
    /* first Sunday of the month: days 1-7 AND Sunday (*, a step of 7: 0 and 7) */
    EXPECT_NEXT("0 6 1-7 * */7", "2026-11-30T00:00Z", "2026-12-06T06:00Z", "2027-01-03T06:00Z",
                "2027-02-07T06:00Z");
    /* "*" followed by a step in day-of-week: AND with an impossible day never fires */
    cron_expect_never("0 0 31 2 */1", "2026-01-01T00:00Z", 2000);

    struct sl_cron c;
    cron_parse_ok("0 0 */2 * 5", &c);
    cron_check_int(c.days_star, 1);
    cron_check_int(c.weekdays_star, 0);
    cron_parse_ok("0 0 13 * */1", &c);
    cron_check_int(c.days_star, 0);
    cron_check_int(c.weekdays_star, 1);
    cron_parse_ok("0 0 1-31/2 * 5", &c);
    cron_check_int(c.days_star, 0);
    cron_check_bits(c.days, 0xaaaaaaaaULL); /* bits 1, 3, ..., 31 */
    cron_parse_ok("0 0 */2 * 5", &c);
    cron_check_bits(c.days, 0xaaaaaaaaULL);
}

/* ---------------------------------------------------------------------------------------------
 * The calendar
 */

static void test_month_ends(void **state)
{
    (void)state;
    EXPECT_NEXT("0 0 31 * *", "2026-01-01T00:00Z", "2026-01-31T00:00Z", "2026-03-31T00:00Z",
                "2026-05-31T00:00Z", "2026-07-31T00:00Z", "2026-08-31T00:00Z", "2026-10-31T00:00Z",
                "2026-12-31T00:00Z", "2027-01-31T00:00Z");
    EXPECT_NEXT("0 0 30 * *", "2026-01-31T00:00Z", "2026-03-30T00:00Z", "2026-04-30T00:00Z");
    EXPECT_NEXT("0 0 29 * *", "2026-01-30T00:00Z", "2026-03-29T00:00Z");
    EXPECT_NEXT("0 0 29 * *", "2028-01-30T00:00Z", "2028-02-29T00:00Z", "2028-03-29T00:00Z");
    EXPECT_NEXT("45 23 28-31 * *", "2026-02-27T00:00Z", "2026-02-28T23:45Z", "2026-03-28T23:45Z");
    EXPECT_NEXT("0 0 31 4-12 *", "2026-04-01T00:00Z", "2026-05-31T00:00Z", "2026-07-31T00:00Z");
}

static void test_leap_years(void **state)
{
    (void)state;
    EXPECT_NEXT("0 0 29 2 *", "2026-01-01T00:00Z", "2028-02-29T00:00Z", "2032-02-29T00:00Z");
    /* 2100 is not a leap year */
    EXPECT_NEXT("0 0 29 2 *", "2096-01-01T00:00Z", "2096-02-29T00:00Z", "2104-02-29T00:00Z");
    /* 2000 is (divisible by 400) */
    EXPECT_NEXT("0 0 29 2 *", "1999-06-01T00:00Z", "2000-02-29T00:00Z", "2004-02-29T00:00Z");
    /* before 1970: 1900 is not a leap year, 1600 is */
    EXPECT_NEXT("0 0 29 2 *", "1899-01-01T00:00Z", "1904-02-29T00:00Z");
    EXPECT_NEXT("0 0 29 2 *", "1597-01-01T00:00Z", "1600-02-29T00:00Z", "1604-02-29T00:00Z");
    EXPECT_NEXT("0 0 29 feb *", "2028-02-29T00:00Z", "2032-02-29T00:00Z");
    EXPECT_NEXT("0 12 28-29 2 *", "2099-03-01T00:00Z", "2100-02-28T12:00Z", "2101-02-28T12:00Z");
    EXPECT_NEXT("0 0 0 29 2 *", "2026-01-01T00:00Z", "2028-02-29T00:00:00Z");
}

static void test_impossible_schedules(void **state)
{
    (void)state;
    /* each must return SL_EINVALID quickly (2 s allows for sanitizer builds) */
    cron_expect_never("0 0 31 2 *", "2026-01-01T00:00Z", 2000);
    cron_expect_never("0 0 30 2 *", "2026-01-01T00:00Z", 2000);
    cron_expect_never("0 0 30,31 feb *", "2026-01-01T00:00Z", 2000);
    cron_expect_never("0 0 31 4,6,9,11 *", "2026-01-01T00:00Z", 2000);
    cron_expect_never("0 0 31 apr,jun,sep,nov *", "1960-01-01T00:00Z", 2000);
    cron_expect_never("* * 31 2 *", "2096-01-01T00:00Z", 2000);
    cron_expect_never("* * * 31 2 *", "2026-01-01T00:00Z", 2000);
    cron_expect_never("0 0 31 2 *", "1969-12-31T23:59:59.999Z", 2000);
    /* a possible schedule right next to them still fires */
    EXPECT_NEXT("0 0 31 1-2 *", "2026-01-31T00:00Z", "2027-01-31T00:00Z");
}

static void test_year_boundary(void **state)
{
    (void)state;
    EXPECT_NEXT("* * * * *", "2026-12-31T23:59Z", "2027-01-01T00:00Z");
    EXPECT_NEXT("* * * * *", "2026-12-31T23:59:59.999Z", "2027-01-01T00:00Z");
    EXPECT_NEXT("59 23 31 12 *", "2026-12-31T23:58:30Z", "2026-12-31T23:59Z", "2027-12-31T23:59Z");
    EXPECT_NEXT("0 0 1 1 *", "2026-12-31T23:59Z", "2027-01-01T00:00Z");
    EXPECT_NEXT("*/7 * * * *", "2026-12-31T23:57Z", "2027-01-01T00:00Z", "2027-01-01T00:07Z");
    EXPECT_NEXT("* * * * * *", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z");
    EXPECT_NEXT("0 0 * 1 *", "2026-06-15T00:00Z", "2027-01-01T00:00Z");
    EXPECT_NEXT("0 0 * * *", "1969-12-31T12:00Z", "1970-01-01T00:00Z");
    EXPECT_NEXT("30 12 * dec *", "2026-12-31T12:30Z", "2027-12-01T12:30Z");
}

static void test_strictly_after(void **state)
{
    (void)state;
    EXPECT_NEXT("0 12 * * *", "2026-11-30T12:00:00.000Z", "2026-12-01T12:00Z");
    EXPECT_NEXT("0 12 * * *", "2026-11-30T11:59:59.999Z", "2026-11-30T12:00Z");
    EXPECT_NEXT("*/2 * * * *", "2026-11-30T09:42Z", "2026-11-30T09:44Z");
    EXPECT_NEXT("*/10 * * * * *", "2026-11-30T09:41:10Z", "2026-11-30T09:41:20Z");
    EXPECT_NEXT("@yearly", "2027-01-01T00:00Z", "2028-01-01T00:00Z");
    EXPECT_NEXT("0 0 29 2 *", "2028-02-29T00:00Z", "2032-02-29T00:00Z");

    /* the next firing is always later, however the start is chosen */
    struct sl_cron c;
    cron_parse_ok("* * * * *", &c);
    for (int64_t t = cron_ms("2026-11-30T09:40:59.990Z"); t < cron_ms("2026-11-30T09:41:00.010Z");
         t++) {
        int64_t next = 0;
        assert_int_equal(sl_cron_next(&c, t, &next), 0);
        if (next <= t || next - t > MS_PER_MIN || next % MS_PER_MIN != 0) {
            char a[SL_ISO_MAX], b[SL_ISO_MAX];
            sl_iso8601(t, a);
            sl_iso8601(next, b);
            fail_msg("'* * * * *' after %s gave %s", a, b);
        }
    }
}

static void test_before_1970(void **state)
{
    (void)state;
    EXPECT_NEXT("* * * * *", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00Z");
    EXPECT_NEXT("* * * * *", "1969-12-31T23:59:00.000Z", "1970-01-01T00:00Z");
    EXPECT_NEXT("* * * * *", "1969-12-31T23:58:59.999Z", "1969-12-31T23:59Z", "1970-01-01T00:00Z",
                "1970-01-01T00:01Z");
    EXPECT_NEXT("* * * * * *", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z");
    EXPECT_NEXT("* * * * * *", "1969-12-31T23:59:59.000Z", "1970-01-01T00:00:00Z");
    EXPECT_NEXT("* * * * * *", "1969-12-31T23:59:58.999Z", "1969-12-31T23:59:59Z",
                "1970-01-01T00:00:00Z");
    /* 1969-12-28 was a Sunday */
    EXPECT_NEXT("@weekly", "1969-12-25T00:00Z", "1969-12-28T00:00Z", "1970-01-04T00:00Z");
    EXPECT_NEXT("0 0 13 * 5", "1969-12-01T00:00Z", "1969-12-05T00:00Z", "1969-12-12T00:00Z",
                "1969-12-13T00:00Z", "1969-12-19T00:00Z");
    EXPECT_NEXT("@monthly", "1960-06-15T18:30:15.250Z", "1960-07-01T00:00Z", "1960-08-01T00:00Z");
    /* 1900-01-01 was a Monday */
    EXPECT_NEXT("0 0 * * mon", "1899-12-30T00:00Z", "1900-01-01T00:00Z", "1900-01-08T00:00Z");

    /* sl_cron_next on exact negative values */
    struct sl_cron c;
    int64_t next = 0;
    cron_parse_ok("* * * * *", &c);
    assert_int_equal(sl_cron_next(&c, -1, &next), 0);
    cron_check_int(next, 0);
    assert_int_equal(sl_cron_next(&c, -MS_PER_MIN, &next), 0);
    cron_check_int(next, 0);
    assert_int_equal(sl_cron_next(&c, -MS_PER_MIN - 1, &next), 0);
    cron_check_int(next, -MS_PER_MIN);
    cron_parse_ok("* * * * * *", &c);
    assert_int_equal(sl_cron_next(&c, -1001, &next), 0);
    cron_check_int(next, -1000);
}

static void test_sub_second_after(void **state)
{
    (void)state;
    /* five fields: the next whole minute */
    EXPECT_NEXT("* * * * *", "2026-11-30T09:41:00.001Z", "2026-11-30T09:42Z");
    EXPECT_NEXT("* * * * *", "2026-11-30T09:41:59.999Z", "2026-11-30T09:42Z");
    EXPECT_NEXT("42 9 * * *", "2026-11-30T09:41:59.999Z", "2026-11-30T09:42Z");
    EXPECT_NEXT("42 9 * * *", "2026-11-30T09:42:00.001Z", "2026-12-01T09:42Z");
    /* six fields: the next whole second */
    EXPECT_NEXT("* * * * * *", "2026-11-30T09:41:10.001Z", "2026-11-30T09:41:11Z");
    EXPECT_NEXT("* * * * * *", "2026-11-30T09:41:10.999Z", "2026-11-30T09:41:11Z");
    EXPECT_NEXT("11 * * * * *", "2026-11-30T09:41:10.999Z", "2026-11-30T09:41:11Z");
    EXPECT_NEXT("11 * * * * *", "2026-11-30T09:41:11.001Z", "2026-11-30T09:42:11Z");
    EXPECT_NEXT("30 * * * * *", "2026-11-30T09:41:30.500Z", "2026-11-30T09:42:30Z");
    EXPECT_NEXT("0 * * * * *", "2026-11-30T09:41:59.999Z", "2026-11-30T09:42:00Z");
}

/* ---------------------------------------------------------------------------------------------
 * Hand-checked schedules
 */

static void test_hand_checked_schedules(void **state)
{
    (void)state;
    const char *from = "2026-11-30T09:41:10Z"; /* a Monday */
    EXPECT_NEXT("*/2 * * * *", from, "2026-11-30T09:42Z", "2026-11-30T09:44Z", "2026-11-30T09:46Z");
    EXPECT_NEXT("0 12 * * mon-fri", "2026-11-27T13:00Z", "2026-11-30T12:00Z", "2026-12-01T12:00Z",
                "2026-12-02T12:00Z", "2026-12-03T12:00Z", "2026-12-04T12:00Z", "2026-12-07T12:00Z");
    EXPECT_NEXT("@weekly", from, "2026-12-06T00:00Z", "2026-12-13T00:00Z", "2026-12-20T00:00Z");
    EXPECT_NEXT("0 0 1 */3 *", from, "2027-01-01T00:00Z", "2027-04-01T00:00Z", "2027-07-01T00:00Z",
                "2027-10-01T00:00Z");
    EXPECT_NEXT("15,45 * * * *", from, "2026-11-30T09:45Z", "2026-11-30T10:15Z",
                "2026-11-30T10:45Z");
    EXPECT_NEXT("30 8 * * MON,wed,Fri", from, "2026-12-02T08:30Z", "2026-12-04T08:30Z",
                "2026-12-07T08:30Z", "2026-12-09T08:30Z");
    EXPECT_NEXT("0 22 * * 1-5", "2026-11-27T22:00Z", "2026-11-30T22:00Z", "2026-12-01T22:00Z",
                "2026-12-02T22:00Z");
    EXPECT_NEXT("5 4 * * sun", from, "2026-12-06T04:05Z", "2026-12-13T04:05Z");
    EXPECT_NEXT("0 0,12 1 */2 *", from, "2027-01-01T00:00Z", "2027-01-01T12:00Z",
                "2027-03-01T00:00Z", "2027-03-01T12:00Z");
    EXPECT_NEXT("0 9-17 * * mon-fri", "2026-12-04T16:30Z", "2026-12-04T17:00Z", "2026-12-07T09:00Z",
                "2026-12-07T10:00Z");
    EXPECT_NEXT("*/30 9-17/4 * * *", from, "2026-11-30T13:00Z", "2026-11-30T13:30Z",
                "2026-11-30T17:00Z", "2026-11-30T17:30Z", "2026-12-01T09:00Z");
    EXPECT_NEXT("0 0 1,15 * *", from, "2026-12-01T00:00Z", "2026-12-15T00:00Z",
                "2027-01-01T00:00Z");
    EXPECT_NEXT("0 3 * * 6", from, "2026-12-05T03:00Z", "2026-12-12T03:00Z");
}

/* ---------------------------------------------------------------------------------------------
 * The reference itself, then sl_cron_next against it
 */

static void test_reference_sanity(void **state)
{
    (void)state;
    struct ref_cron r;
    int64_t next = 0;
    /* weekdays of known dates */
    cron_check_int(ref_weekday(sl_days_from_civil(2026, 11, 30)), 1); /* Monday */
    cron_check_int(ref_weekday(sl_days_from_civil(2000, 1, 1)), 6);   /* Saturday */
    cron_check_int(ref_weekday(sl_days_from_civil(1969, 12, 28)), 0); /* Sunday */
    cron_check_int(ref_weekday(sl_days_from_civil(1900, 1, 1)), 1);   /* Monday */
    /* the reference agrees with a few hand-checked answers */
    ref_parse("0 0 13 * 5", &r);
    assert_int_equal(ref_next(&r, cron_ms("2026-12-11T00:00Z"), 100000, &next), 0);
    cron_check_int(next, cron_ms("2026-12-13T00:00Z"));
    ref_parse("*/2 * * * *", &r);
    assert_int_equal(ref_next(&r, cron_ms("2026-11-30T09:41:10Z"), 100000, &next), 0);
    cron_check_int(next, cron_ms("2026-11-30T09:42Z"));
    ref_parse("0 0 * * 5-7", &r);
    assert_true(r.dow[0] && r.dow[5] && r.dow[6] && !r.dow[1]);
    ref_parse("*/15 * * * * *", &r);
    assert_int_equal(ref_next(&r, cron_ms("2026-11-30T09:41:10.250Z"), 100000, &next), 0);
    cron_check_int(next, cron_ms("2026-11-30T09:41:15Z"));
    /* and stops at its bound */
    ref_parse("0 0 31 2 *", &r);
    assert_int_equal(ref_next(&r, 0, 1000, &next), -1);
}

/* Schedules for the comparison: each fires at least every 13 months (five fields) or every
 * week (six fields), so the bounded walk always finds the answer. */
static const char *const ref_exprs[] = {
    "* * * * *",
    "*/2 * * * *",
    "*/7 * * * *",
    "5 * * * *",
    "0,15,30,45 * * * *",
    "10-20 * * * *",
    "10-50/15 */3 * * *",
    "7/20 * * * *",
    "0 12 * * mon-fri",
    "30 8 * * MON,wed,Fri",
    "0 0 13 * 5",
    "0 0 13 * fri",
    "0 0 */2 * 1",
    "0 0 1-31/2 * 1",
    "0 0 1,15 * *",
    "0 0 31 * *",
    "0 0 30 * *",
    "0 0 29 * *",
    "0 0 1 */3 *",
    "0 0 1 jan,apr,jul,oct *",
    "15 10 * jun-aug *",
    "0 22 * * 1-5",
    "0 0 * * 0",
    "0 0 * * 7",
    "0 0 * * 5-7",
    "0 9-17 * * mon-fri",
    "*/30 9-17/2 * * *",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@yearly",
    "0 6 1-7 * 1",
    "0 6 1-7 * */7",
    "45 23 28-31 * *",
    "0 12 */10 feb *",
    "0 0 * dec sun",
    "59 23 31 12 *",
    "0 0 15 * wed",
    "1-59/2 0 1 * *",
    "0 0 31 2 mon",
    "0 0 25/3 * sat",
    "20 4 * 2-11/3 tue-thu",
    "*/15 * * * * *",
    "30 */5 * * * *",
    "0 0 12 * * *",
    "5-10,50 0 * * * *",
    "0 0 0 * * sun",
    "*/20 15 10 * * 1-5",
};

#define REF_STEPS_MINUTES (400LL * 24 * 60)    /* 400 days, minute by minute */
#define REF_STEPS_SECONDS (8LL * 24 * 60 * 60) /* 8 days, second by second */

/* Compares `chain` successive firings of expr after start with the reference. */
static void cron_compare_with_reference(const char *expr, int64_t start, int chain)
{
    struct sl_cron c;
    struct ref_cron r;
    cron_parse_ok(expr, &c);
    ref_parse(expr, &r);
    if (r.six != (c.has_seconds != 0))
        fail_msg("'%s': has_seconds is %d, the reference counted %d fields", expr, c.has_seconds,
                 r.six ? 6 : 5);
    int64_t t = start;
    for (int i = 0; i < chain; i++) {
        char from[SL_ISO_MAX], got_text[SL_ISO_MAX], want_text[SL_ISO_MAX];
        int64_t got = 0, want = 0;
        sl_iso8601(t, from);
        if (ref_next(&r, t, r.six ? REF_STEPS_SECONDS : REF_STEPS_MINUTES, &want) != 0)
            fail_msg("test bug: the reference found no firing of '%s' after %s within its bound",
                     expr, from);
        int rc = sl_cron_next(&c, t, &got);
        sl_iso8601(want, want_text);
        if (rc != 0)
            fail_msg("'%s' after %s: sl_cron_next returned %d (%s), the reference says %s", expr,
                     from, rc, sl_err_code(rc), want_text);
        sl_iso8601(got, got_text);
        if (got != want)
            fail_msg("'%s' after %s: sl_cron_next gives %s, the reference %s", expr, from, got_text,
                     want_text);
        t = got;
    }
}

static void cron_compare_random(uint64_t seed, int pairs, int64_t lo, int64_t hi)
{
    size_t n_exprs = sizeof ref_exprs / sizeof ref_exprs[0];
    uint64_t s = seed;
    for (int i = 0; i < pairs; i++) {
        /* every expression at least once, then random ones */
        const char *expr = i < (int)n_exprs ? ref_exprs[i] : ref_exprs[cron_rand(&s) % n_exprs];
        int64_t t = lo + (int64_t)(cron_rand(&s) % (uint64_t)(hi - lo));
        switch (cron_rand(&s) % 4) {
        case 0: /* exactly on a minute */
            t -= t % MS_PER_MIN;
            break;
        case 1: /* exactly on a second */
            t -= t % 1000;
            break;
        default: /* anywhere, milliseconds included */
            break;
        }
        cron_compare_with_reference(expr, t, 3);
    }
}

static void test_against_reference_2000_2100(void **state)
{
    (void)state;
    cron_compare_random(0x5eed0c0ffee1ULL, 240, cron_ms("2000-01-01T00:00Z"),
                        cron_ms("2100-12-31T23:59:59Z"));
}

static void test_against_reference_before_1970(void **state)
{
    (void)state;
    cron_compare_random(0x1900197019ULL, 60, cron_ms("1900-01-01T00:00Z"),
                        cron_ms("1970-01-02T00:00Z"));
}

static void test_against_reference_edges(void **state)
{
    (void)state;
    /* month and year ends, leap days, the epoch, the non-leap 2100 */
    static const char *const starts[] = {
        "2026-12-31T23:59:59.999Z", "2027-12-31T23:59Z",        "2028-02-28T23:59:30Z",
        "2028-02-29T23:59Z",        "2100-02-28T23:59:59.500Z", "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:00Z",        "2000-02-29T00:00Z",        "2026-04-30T23:59:59Z",
        "2026-11-30T09:41:10Z",
    };
    size_t n_exprs = sizeof ref_exprs / sizeof ref_exprs[0];
    for (size_t e = 0; e < n_exprs; e += 3)
        for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
            cron_compare_with_reference(ref_exprs[e], cron_ms(starts[i]), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_star_every_minute),
        cmocka_unit_test(test_single_values),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_month_names_any_case),
        cmocka_unit_test(test_weekday_names_any_case),
        cmocka_unit_test(test_sunday_is_0_and_7),
        cmocka_unit_test(test_macros),
        cmocka_unit_test(test_six_fields_seconds_first),
        cmocka_unit_test(test_whitespace_between_fields),
        cmocka_unit_test(test_error_out_of_range),
        cmocka_unit_test(test_error_bad_names),
        cmocka_unit_test(test_error_ranges_and_steps),
        cmocka_unit_test(test_error_items),
        cmocka_unit_test(test_error_field_count_and_macros),
        cmocka_unit_test(test_dom_dow_or_when_both_restricted),
        cmocka_unit_test(test_dom_dow_and_when_one_is_star),
        cmocka_unit_test(test_month_ends),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_impossible_schedules),
        cmocka_unit_test(test_year_boundary),
        cmocka_unit_test(test_strictly_after),
        cmocka_unit_test(test_before_1970),
        cmocka_unit_test(test_sub_second_after),
        cmocka_unit_test(test_hand_checked_schedules),
        cmocka_unit_test(test_reference_sanity),
        cmocka_unit_test(test_against_reference_2000_2100),
        cmocka_unit_test(test_against_reference_before_1970),
        cmocka_unit_test(test_against_reference_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
