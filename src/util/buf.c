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

char *sl_buf_reserve(struct sl_buf *b, size_t n, int *rc)
{
    if (n > b->cap - b->len) {
        *rc = SL_ETOO_LARGE;
        return NULL;
    }
    if (b->len + n + 1 > b->alloc) {
        size_t want = b->alloc ? b->alloc : 256;
        while (want < b->len + n + 1)
            want *= 2;
        char *grown = realloc(b->data, want);
        if (!grown) {
            *rc = SL_ENOMEM;
            return NULL;
        }
        b->data = grown;
        b->alloc = want;
    }
    return b->data + b->len;
}

int sl_buf_append(struct sl_buf *b, const void *p, size_t n)
{
    int rc = 0;
    char *at = sl_buf_reserve(b, n, &rc);
    if (!at)
        return rc;
    memcpy(at, p, n);
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
