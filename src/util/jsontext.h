/*
 * jsontext: the two JSON encodings the import hot path writes itself, straight into a buffer,
 * instead of building a jansson value per cell (which costs allocations per field; see
 * bench/import.sh). Everything else uses jansson.
 *
 * Pure; thread-safe.
 */
#ifndef SL_JSONTEXT_H
#define SL_JSONTEXT_H

#include "util/buf.h"

#include <stddef.h>

/* 1 when s[0..n) is valid UTF-8 (RFC 3629: no overlong forms, surrogates or code points above
 * U+10FFFF), else 0. */
int sl_utf8_valid(const char *s, size_t n);

/* The length of the valid UTF-8 sequence starting at s (1..4), or 0. s must be NUL-terminated
 * or hold at least 4 bytes. */
size_t sl_utf8_len(const unsigned char *s);

/*
 * Copies s[0..n) into out (cap bytes, NUL-terminated) as valid UTF-8: invalid bytes become '?',
 * and the copy is cut on a character boundary when it does not fit. Returns the length written.
 */
size_t sl_utf8_sanitize(const char *s, size_t n, char *out, size_t cap);

/* Appends s[0..n) as a JSON string (quoted, escaped). SL_EINVALID when it is not valid UTF-8. */
int sl_json_append_string(struct sl_buf *b, const char *s, size_t n);

/* 1 when s[0..n) is a number in JSON's grammar ("-0.5", "1e3"; not ".5", "01", "NaN"). */
int sl_json_number_valid(const char *s, size_t n);

#endif
