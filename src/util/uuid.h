/*
 * uuid: UUIDv7 identifiers (RFC 9562) as 36-character lowercase text.
 *
 * The first 48 bits are the ms timestamp, so ids sort by creation time; within one process ids
 * made in the same millisecond stay strictly increasing (a 12-bit counter seeded at random), and
 * the remaining 62 bits come from getrandom(2) so ids are unique across nodes. Thread-safe.
 */
#ifndef SL_UUID_H
#define SL_UUID_H

#include <stdint.h>

#define SL_UUID_LEN 36
#define SL_UUID_MAX 37 /* text plus NUL */

/* Writes a new UUIDv7 for time now_ms into out. Returns 0 or SL_EIO (no randomness). */
int sl_uuid7(int64_t now_ms, char out[SL_UUID_MAX]);

/* 1 when s is a 36-character lowercase hex UUID text, else 0. */
int sl_uuid_valid(const char *s);

#endif
