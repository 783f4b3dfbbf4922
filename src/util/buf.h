/*
 * buf: a growable byte buffer with a hard cap, for text built piece by piece (JSON rows).
 *
 * The caller owns the struct (sl_buf_init / sl_buf_fini). Appending past `cap` bytes fails with
 * SL_ETOO_LARGE and leaves the buffer as it was, so nothing user-sized grows without bound.
 * The data is always NUL-terminated. Not thread-safe.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>

struct sl_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap; /* most bytes it may hold */
};

void sl_buf_init(struct sl_buf *b, size_t cap);
void sl_buf_fini(struct sl_buf *b);
/* Empties the buffer, keeping its memory. */
void sl_buf_reset(struct sl_buf *b);
/* Room for n more bytes (and a NUL after them) at the end of b, for writing in place: where they
 * go, or NULL with *rc SL_ETOO_LARGE (past the cap) or SL_ENOMEM, the buffer as it was. The
 * caller writes them, adds n to b->len and puts the NUL back. */
char *sl_buf_reserve(struct sl_buf *b, size_t n, int *rc);
/* Appends n bytes; 0, SL_ENOMEM or SL_ETOO_LARGE. */
int sl_buf_append(struct sl_buf *b, const void *p, size_t n);
int sl_buf_putc(struct sl_buf *b, char c);
int sl_buf_puts(struct sl_buf *b, const char *s);

#endif
