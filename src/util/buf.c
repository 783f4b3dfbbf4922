#include "util/buf.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

void sl_buf_init(struct sl_buf *b, size_t cap)
{
    memset(b, 0, sizeof *b);
    b->cap = cap;
}

void sl_buf_fini(struct sl_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void sl_buf_reset(struct sl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int sl_buf_append(struct sl_buf *b, const void *p, size_t n)
{
    if (n > b->cap - b->len)
        return SL_ETOO_LARGE;
    if (b->len + n + 1 > b->alloc) {
        size_t want = b->alloc ? b->alloc : 256;
        while (want < b->len + n + 1)
            want *= 2;
        char *grown = realloc(b->data, want);
        if (!grown)
            return SL_ENOMEM;
        b->data = grown;
        b->alloc = want;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sl_buf_putc(struct sl_buf *b, char c)
{
    return sl_buf_append(b, &c, 1);
}

int sl_buf_puts(struct sl_buf *b, const char *s)
{
    return sl_buf_append(b, s, strlen(s));
}
