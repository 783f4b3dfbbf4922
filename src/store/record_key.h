/*
 * record_key: the order records of a type are listed in, shared by both store backends.
 *
 * Records list by key, as text (byte order), with one refinement: a key that ends in `:` and a
 * number (1 to 18 digits, the first not 0) sorts as the text up to and including that `:`, then
 * the number by value. An import's generated keys `<jobId>:<row>` so list in file order (row 9
 * before row 10), and a newer job's rows after an older one's (job ids are UUIDv7 text, ordered
 * by creation). The same split is what lets the SQLite store append an import's rows at the end
 * of its b-tree instead of scattering them (docs/architecture.md).
 *
 * A key's parts are its head (the text before the number, or the whole key) and its number
 * (0 when it has none); the split is one to one: "a:7" is ("a:", 7) whatever wrote it, "a:07"
 * and "a:" are (key, 0).
 */
#ifndef SL_STORE_RECORD_KEY_H
#define SL_STORE_RECORD_KEY_H

#include <stddef.h>
#include <stdint.h>

#define SL_RECORD_KEY_DIGITS 18 /* most digits of a key's number: it fits in int64_t */

/* The length of key's head (its first len bytes) and its number in *num (0: none). */
size_t sl_record_key_split(const char *key, size_t len, int64_t *num);

/*
 * key's text back from its parts, into out (a new string the caller frees): head's first
 * head_len bytes, then num in decimal when num > 0. NULL when out of memory.
 */
char *sl_record_key_join(const char *head, size_t head_len, int64_t num);

#endif
