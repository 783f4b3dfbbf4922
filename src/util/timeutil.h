/*
 * timeutil: wall-clock time in milliseconds since the Unix epoch (UTC) and its ISO 8601 text.
 *
 * All times inside sluice are int64_t milliseconds since the epoch, UTC. Text is always
 * "YYYY-MM-DDTHH:MM:SS.mmmZ". Pure functions; thread-safe.
 */
#ifndef SL_TIMEUTIL_H
#define SL_TIMEUTIL_H

#include <stdint.h>

#define SL_ISO_MAX    32 /* buffer size for sl_iso8601 */
#define SL_MS_PER_DAY 86400000LL

/* ms since epoch, UTC, from the real-time clock. */
int64_t sl_now_ms(void);
/* The same in microseconds, where a duration between processes needs better than a ms. */
int64_t sl_now_us(void);
/* ms from a monotonic clock, for durations only. */
int64_t sl_mono_ms(void);
/* Monotonic time in microseconds, for durations below a millisecond. */
int64_t sl_mono_us(void);

/* Writes ms as "2026-11-30T07:39:11.123Z" into out (SL_ISO_MAX bytes). */
void sl_iso8601(int64_t ms, char out[SL_ISO_MAX]);

/*
 * Parses "YYYY-MM-DDTHH:MM[:SS[.fff]]Z" (or "+00:00", or no zone, taken as UTC) into ms.
 * Returns 0 or SL_EINVALID.
 */
int sl_parse_iso8601(const char *text, int64_t *ms);

/* Days since 1970-01-01 of civil date y-m-d (proleptic Gregorian). */
int64_t sl_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The civil date of days since 1970-01-01. */
void sl_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
