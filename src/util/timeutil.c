#include "util/timeutil.h"
#include "util/err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t sl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sl_mono_ms(void)
{
    return sl_mono_us() / 1000;
}

int64_t sl_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Howard Hinnant's civil calendar algorithms: exact for every proleptic Gregorian date. */
int64_t sl_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void sl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void sl_iso8601(int64_t ms, char out[SL_ISO_MAX])
{
    int64_t days = ms >= 0 ? ms / SL_MS_PER_DAY : -((-ms + SL_MS_PER_DAY - 1) / SL_MS_PER_DAY);
    int64_t rem = ms - days * SL_MS_PER_DAY;
    int64_t y;
    unsigned m, d;
    sl_civil_from_days(days, &y, &m, &d);
    char buf[128]; /* roomy, so the compiler can prove no truncation; real times fit SL_ISO_MAX */
    snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", (long long)y, m, d,
             (long long)(rem / 3600000), (long long)(rem / 60000 % 60),
             (long long)(rem / 1000 % 60), (long long)(rem % 1000));
    snprintf(out, SL_ISO_MAX, "%.31s", buf);
}

/* Reads exactly n digits at *p into *out, advancing *p. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return SL_EINVALID;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, char c)
{
    if (**p != c)
        return SL_EINVALID;
    (*p)++;
    return 0;
}

int sl_parse_iso8601(const char *text, int64_t *ms)
{
    const char *p = text;
    int y, mo, d, h, mi, s = 0, frac = 0;

    if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
        digits(&p, 2, &d))
        return SL_EINVALID;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return SL_EINVALID;
    p++;
    if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi))
        return SL_EINVALID;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &s))
            return SL_EINVALID;
        if (*p == '.') {
            p++;
            int scale = 100, n = 0;
            for (; isdigit((unsigned char)*p); p++, n++) {
                frac += (*p - '0') * scale;
                scale /= 10;
            }
            if (n == 0)
                return SL_EINVALID;
        }
    }
    if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0 && *p != '\0')
        return SL_EINVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return SL_EINVALID;
    int64_t days = sl_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t y2;
    unsigned m2, d2;
    sl_civil_from_days(days, &y2, &m2, &d2);
    if (m2 != (unsigned)mo || d2 != (unsigned)d) /* e.g. February 30 */
        return SL_EINVALID;
    *ms = days * SL_MS_PER_DAY + ((int64_t)h * 3600 + mi * 60 + s) * 1000 + frac;
    return 0;
}
