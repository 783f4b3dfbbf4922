/*
 * cron: cron expressions (parse, validate, next firing time), evaluated in UTC.
 *
 * Syntax: five fields, minute hour day-of-month month day-of-week, each a comma list of `*`,
 * `N`, `A-B`, a step on `*` (star, slash, S), `A-B/S` or `A/S` (A to the field end, step S); month
 * names jan..dec and weekday names sun..sat (any case); 0 and 7 are Sunday. The macros @yearly
 * (@annually),
 * @monthly, @weekly, @daily (@midnight) and @hourly. As an extension, a sixth field in front
 * holds seconds (0-59) for sub-minute schedules.
 *
 * Day rule of standard cron: when both day-of-month and day-of-week are restricted (neither
 * starts with `*`), a day matches if either matches; otherwise both must.
 *
 * Pure and thread-safe; a struct sl_cron is plain data.
 */
#ifndef SL_CRON_H
#define SL_CRON_H

#include "util/err.h"

#include <stdint.h>

struct sl_cron {
    uint64_t seconds; /* bit n: second n */
    uint64_t minutes;
    uint32_t hours;
    uint32_t days;     /* bit n: day-of-month n (1..31) */
    uint16_t months;   /* bit n: month n (1..12) */
    uint8_t weekdays;  /* bit n: weekday n (0 = Sunday) */
    int days_star;     /* day-of-month field starts with '*' */
    int weekdays_star; /* day-of-week field starts with '*' */
    int has_seconds;   /* six fields: the schedule may fire within a minute */
};

/*
 * Parses expr. Returns 0, or SL_EINVALID with a message naming the field and the text at fault
 * ("day-of-month field: '32' is out of range 1-31").
 */
int sl_cron_parse(const char *expr, struct sl_cron *out, struct sl_error *err);

/*
 * The first firing time strictly after after_ms (ms since epoch, UTC), in ms. Jumps field by
 * field (month, day, hour, minute, second), never minute by minute. Returns 0, or SL_EINVALID
 * when the schedule never fires (e.g. "0 0 31 2 *": a 400-year Gregorian cycle has no match).
 */
int sl_cron_next(const struct sl_cron *c, int64_t after_ms, int64_t *next_ms);

#endif
