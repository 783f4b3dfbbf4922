/*
 * uuid: UUIDv7 identifiers (RFC 9562) as 36-character lowercase text.
 *
 * The first 48 bits are the ms timestamp, so ids sort by creation time. The next 12 (rand_a)
 * hold the fraction of that millisecond, in 1/4096 ms (RFC 9562, 6.2, method 3), so an id also
 * tells when it was made to a quarter of a microsecond (the pickup latency is measured that way);
 * within one process ids stay strictly increasing (a tie takes the next fraction). The remaining
 * 62 bits come from getrandom(2), so ids are unique across nodes. Thread-safe.
 */
#ifndef SL_UUID_H
#define SL_UUID_H

#include <stdint.h>

#define SL_UUID_LEN 36
#define SL_UUID_MAX 37 /* text plus NUL */

/* Writes a new UUIDv7 for time now_ms into out. Returns 0 or SL_EIO (no randomness). */
int sl_uuid7(int64_t now_ms, char out[SL_UUID_MAX]);
/* The same for a time in microseconds, kept to 1/4096 ms in rand_a. */
int sl_uuid7_us(int64_t now_us, char out[SL_UUID_MAX]);
/* The time a UUIDv7 text was made, in microseconds (from its ms and its ms fraction); 0 and
 * *us untouched when id is not UUIDv7 text. */
int sl_uuid7_time_us(const char *id, int64_t *us);

/* 1 when s is a 36-character lowercase hex UUID text, else 0. */
int sl_uuid_valid(const char *s);

#endif
