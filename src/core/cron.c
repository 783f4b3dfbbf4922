#include "core/cron.h"
#include "util/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field_spec {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is value min + i, or NULL */
    int name_count;
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const weekday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

enum { F_SECOND, F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

static const struct field_spec specs[F_COUNT] = {
    {"second", 0, 59, NULL, 0},        {"minute", 0, 59, NULL, 0},
    {"hour", 0, 23, NULL, 0},          {"day-of-month", 1, 31, NULL, 0},
    {"month", 1, 12, month_names, 12}, {"day-of-week", 0, 7, weekday_names, 7},
};

static const struct {
    const char *name;
    const char *expr;
} macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
              {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
              {"@hourly", "0 * * * *"}};

/* Reads a number or a name of the field at *p. */
static int read_value(const struct field_spec *f, const char **p, int *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        *out = (int)v;
        *p = s;
        return 0;
    }
    if (f->names) {
        for (int i = 0; i < f->name_count; i++) {
            if (strncasecmp(s, f->names[i], 3) == 0 &&
                !isalpha((unsigned char)s[3])) {
                *out = f->min + i;
                *p = s + 3;
                return 0;
            }
        }
    }
    return SL_EINVALID;
}

static int item_error(const struct field_spec *f, const char *item, size_t len, const char *why,
                      struct sl_error *err)
{
    return sl_err_set(err, SL_EINVALID, "%s field: '%.*s' %s", f->name, (int)len, item, why);
}

/* Parses one list item (item[0..len)) of field f into the bit set *bits. */
static int parse_item(const struct field_spec *f, const char *item, size_t len, uint64_t *bits,
                      struct sl_error *err)
{
    char buf[64];
    int lo = f->min, hi = f->max, step = 1;
    if (len == 0 || len >= sizeof buf)
        return item_error(f, item, len, "is not a valid item", err);
    memcpy(buf, item, len);
    buf[len] = '\0';
    const char *p = buf;
    if (*p == '*') {
        p++;
    } else {
        if (read_value(f, &p, &lo))
            return item_error(f, item, len, "is not a number or name", err);
        hi = lo;
        if (*p == '-') {
            p++;
            if (read_value(f, &p, &hi))
                return item_error(f, item, len, "has a range without a valid end", err);
        } else if (*p == '/') {
            hi = f->max; /* "A/S": from A to the end of the field */
        }
    }
    if (*p == '/') {
        p++;
        if (!isdigit((unsigned char)*p))
            return item_error(f, item, len, "has a step that is not a number", err);
        step = 0;
        while (isdigit((unsigned char)*p) && step <= 1000)
            step = step * 10 + (*p++ - '0');
        if (step < 1 || step > f->max - f->min + 1)
            return item_error(f, item, len, "has a step out of range", err);
    }
    if (*p)
        return item_error(f, item, len, "is not a valid item", err);
    if (lo < f->min || lo > f->max || hi < f->min || hi > f->max) {
        char why[64];
        snprintf(why, sizeof why, "is out of range %d-%d", f->min, f->max);
        return item_error(f, item, len, why, err);
    }
    if (lo > hi)
        return item_error(f, item, len, "is a range whose start is after its end", err);
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << (f == &specs[F_DOW] && v == 7 ? 0 : v);
    return 0;
}

static int parse_field(int which, const char *text, uint64_t *bits, int *star, struct sl_error *err)
{
    const struct field_spec *f = &specs[which];
    *bits = 0;
    *star = text[0] == '*';
    for (const char *p = text;;) {
        size_t n = strcspn(p, ",");
        int rc = parse_item(f, p, n, bits, err);
        if (rc)
            return rc;
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

/* Splits expr into at most 7 whitespace-separated fields. */
static int split(char *copy, char *fields[7])
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
        if (n == 7)
            return 8;
        fields[n++] = t;
    }
    return n;
}

int sl_cron_parse(const char *expr, struct sl_cron *out, struct sl_error *err)
{
    char copy[256], *fields[7];
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*expr))
        expr++;
    if (*expr == '@') {
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcasecmp(expr, macros[i].name) == 0)
                return sl_cron_parse(macros[i].expr, out, err);
        return sl_err_set(err, SL_EINVALID,
                          "unknown macro '%.32s' (use @yearly, @monthly, @weekly, @daily or "
                          "@hourly)",
                          expr);
    }
    if (strlen(expr) >= sizeof copy)
        return sl_err_set(err, SL_EINVALID, "schedule is longer than 255 characters");
    snprintf(copy, sizeof copy, "%s", expr);
    int n = split(copy, fields);
    if (n != 5 && n != 6)
        return sl_err_set(err, SL_EINVALID,
                          "schedule '%.64s' has %d fields; expected 5 (minute hour "
                          "day-of-month month day-of-week) or 6 (seconds first)",
                          expr, n > 7 ? 7 : n);
    int first = n == 6 ? F_SECOND : F_MINUTE, star, rc;
    uint64_t bits[F_COUNT] = {1}; /* without a seconds field: second 0 */
    for (int i = 0; i < n; i++) {
        int which = first + i;
        if ((rc = parse_field(which, fields[i], &bits[which], &star, err)) != 0)
            return rc;
        if (which == F_DOM)
            out->days_star = star;
        if (which == F_DOW)
            out->weekdays_star = star;
    }
    out->seconds = bits[F_SECOND];
    out->minutes = bits[F_MINUTE];
    out->hours = (uint32_t)bits[F_HOUR];
    out->days = (uint32_t)bits[F_DOM];
    out->months = (uint16_t)bits[F_MONTH];
    out->weekdays = (uint8_t)bits[F_DOW];
    out->has_seconds = n == 6;
    return 0;
}

/* ---- next firing time ------------------------------------------------------------------- */

/* The smallest set bit of bits at or above from, or -1. */
static int next_bit(uint64_t bits, int from)
{
    if (from >= 64)
        return -1;
    uint64_t rest = bits >> from;
    return rest ? from + __builtin_ctzll(rest) : -1;
}

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : dim[m - 1];
}

static int day_matches(const struct sl_cron *c, int64_t y, unsigned m, unsigned d)
{
    int64_t days = sl_days_from_civil(y, m, d);
    int wd = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    int dom = (c->days >> d) & 1, dow = (c->weekdays >> wd) & 1;
    if (c->days_star || c->weekdays_star)
        return dom && dow;
    return dom || dow;
}

/* A broken-down UTC time that the search moves forward field by field. */
struct tm_utc {
    int64_t y;
    unsigned mo, d;
    int h, mi, s;
};

static void next_day(struct tm_utc *t)
{
    t->h = t->mi = t->s = 0;
    if (++t->d > days_in_month(t->y, t->mo)) {
        t->d = 1;
        if (++t->mo > 12) {
            t->mo = 1;
            t->y++;
        }
    }
}

static void next_month(struct tm_utc *t)
{
    t->d = 1;
    t->h = t->mi = t->s = 0;
    if (++t->mo > 12) {
        t->mo = 1;
        t->y++;
    }
}

/* Moves t to the next matching hour, minute and second of its day; 0 when the day has none. */
static int fit_time(const struct sl_cron *c, struct tm_utc *t)
{
    for (;;) {
        int h = next_bit(c->hours, t->h);
        if (h < 0)
            return 0;
        if (h != t->h) {
            t->h = h;
            t->mi = t->s = 0;
        }
        int mi = next_bit(c->minutes, t->mi);
        if (mi < 0) {
            t->h++;
            t->mi = t->s = 0;
            continue;
        }
        if (mi != t->mi) {
            t->mi = mi;
            t->s = 0;
        }
        int s = next_bit(c->seconds, t->s);
        if (s < 0) {
            t->mi++;
            t->s = 0;
            if (t->mi > 59) {
                t->h++;
                t->mi = 0;
            }
            continue;
        }
        t->s = s;
        return 1;
    }
}

int sl_cron_next(const struct sl_cron *c, int64_t after_ms, int64_t *next_ms)
{
    int64_t unit = c->has_seconds ? 1000 : 60000;
    int64_t start =
        (after_ms >= 0 ? after_ms / unit : -((-after_ms + unit - 1) / unit)) * unit + unit;
    int64_t days =
        start >= 0 ? start / SL_MS_PER_DAY : -((-start + SL_MS_PER_DAY - 1) / SL_MS_PER_DAY);
    int64_t rem = (start - days * SL_MS_PER_DAY) / 1000;
    struct tm_utc t = {0, 0, 0, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60)};
    sl_civil_from_days(days, &t.y, &t.mo, &t.d);
    int64_t limit = t.y + 400; /* the Gregorian calendar repeats every 400 years */

    while (t.y <= limit) {
        if (!((c->months >> t.mo) & 1)) {
            next_month(&t);
        } else if (!day_matches(c, t.y, t.mo, t.d)) {
            next_day(&t);
        } else if (!fit_time(c, &t)) {
            next_day(&t);
        } else {
            *next_ms = sl_days_from_civil(t.y, t.mo, t.d) * SL_MS_PER_DAY +
                       ((int64_t)t.h * 3600 + t.mi * 60 + t.s) * 1000;
            return 0;
        }
    }
    return SL_EINVALID;
}
