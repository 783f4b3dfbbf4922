/*
 * fuzz_multipart: libFuzzer target for the streaming multipart/form-data parser.
 *
 * Input layout: byte 0 seeds the chunk sizes; the bytes up to the first '\n' are a Content-Type
 * header value (from which the boundary is taken); the rest is the body, fed in chunks of
 * varying sizes (1 to 64 bytes), then finished. The callbacks read every byte they are given, so
 * ASan sees any out-of-bounds hand-out.
 */
#include "http/multipart.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    size_t parts;
    size_t bytes;
    unsigned sum; /* touches every byte handed out */
};

static int on_begin(void *ctx, const struct sl_part_info *info)
{
    struct sink *s = ctx;
    s->parts++;
    s->sum += (unsigned)strlen(info->name);
    if (info->filename)
        s->sum += (unsigned)strlen(info->filename);
    if (info->content_type)
        s->sum += (unsigned)strlen(info->content_type);
    return 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    struct sink *s = ctx;
    for (size_t i = 0; i < len; i++)
        s->sum += (unsigned char)data[i];
    s->bytes += len;
    return 0;
}

static int on_end(void *ctx)
{
    (void)ctx;
    return 0;
}

static void feed_body(struct sl_multipart *mp, const uint8_t *body, size_t len, unsigned seed)
{
    struct sl_error err = {0};
    size_t off = 0;
    while (off < len) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 64;
        if (n > len - off)
            n = len - off;
        if (sl_multipart_feed(mp, (const char *)body + off, n, &err) != 0)
            return;
        off += n;
    }
    sl_multipart_finish(mp, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    data++, size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *header = malloc(hlen + 1);
    if (!header)
        return 0;
    memcpy(header, data, hlen);
    header[hlen] = '\0';

    char boundary[SL_MULTIPART_BOUNDARY_MAX + 1];
    struct sl_error err = {0};
    struct sl_multipart_cb cb = {on_begin, on_data, on_end};
    struct sink sink = {0};
    struct sl_multipart *mp = NULL;
    if (sl_multipart_boundary(header, boundary, &err) != 0)
        goto out;
    if (sl_multipart_new(boundary, &cb, &sink, &mp) != 0)
        goto out;
    size_t skip = nl ? hlen + 1 : hlen;
    feed_body(mp, data + skip, size - skip, seed);
out:
    sl_multipart_free(mp);
    free(header);
    return 0;
}
