/*
 * reader_int: what the row readers share inside src/import, and nothing outside may include:
 * a growing-array helper and a table of unique names in first-seen order (CSV header names, the
 * union of JSON keys), defined in reader.c.
 */
#ifndef SL_IMPORT_READER_INT_H
#define SL_IMPORT_READER_INT_H

#include <stddef.h>

/* Grows *p (of *cap elements of elem bytes) to hold at least need; 0 or SL_ENOMEM. */
int sl__grow(void **p, size_t *cap, size_t need, size_t elem);

struct sl__names;
int sl__names_new(struct sl__names **out);
void sl__names_free(struct sl__names *t);
/* Looks up s; 0 and *index when present, SL_ENOT_FOUND otherwise. */
int sl__names_find(const struct sl__names *t, const char *s, size_t len, size_t *index);
/* Adds s (if new) and gives its index. */
int sl__names_add(struct sl__names *t, const char *s, size_t len, size_t *index);
/* Adds s, or s_2, s_3, ... when s is taken, and gives the new name's index. */
int sl__names_add_unique(struct sl__names *t, const char *s, size_t len, size_t *index);
/* The names in first-seen order; borrowed. */
const char *const *sl__names_list(const struct sl__names *t, size_t *count);

#endif
