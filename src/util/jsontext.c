#include "util/jsontext.h"
#include "util/err.h"

#include <ctype.h>
#include <string.h>

size_t sl_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    /* The second byte's range is narrower for the lead bytes that could encode too much. */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

int sl_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        unsigned char tmp[4] = {0};
        size_t avail = (size_t)(end - p);
        memcpy(tmp, p, avail < 4 ? avail : 4); /* never read past the end */
        size_t len = sl_utf8_len(tmp);
        if (len == 0 || len > avail)
            return 0;
        p += len;
    }
    return 1;
}

size_t sl_utf8_sanitize(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char tmp[4] = {0};
        size_t avail = n - i;
        memcpy(tmp, s + i, avail < 4 ? avail : 4);
        size_t len = sl_utf8_len(tmp);
        if (len == 0 || len > avail) {
            if (o + 2 > cap)
                break;
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + len + 1 > cap)
            break;
        memcpy(out + o, s + i, len);
        o += len;
        i += len;
    }
    if (cap)
        out[o] = '\0';
    return o;
}

int sl_json_append_string(struct sl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!sl_utf8_valid(s, n))
        return SL_EINVALID;
    int rc = sl_buf_putc(b, '"');
    size_t run = 0; /* bytes that need no escape, copied in one go */
    for (size_t i = 0; rc == 0 && i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)s[i] : 0;
        if (i < n && c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        rc = sl_buf_append(b, s + i - run, run);
        run = 0;
        if (rc || i == n)
            break;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t len = 2;
        if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
        } else if (c < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        rc = sl_buf_append(b, esc, len);
    }
    return rc ? rc : sl_buf_putc(b, '"');
}

static size_t digits(const char *s, size_t i, size_t n)
{
    size_t start = i;
    while (i < n && isdigit((unsigned char)s[i]))
        i++;
    return i - start;
}

int sl_json_number_valid(const char *s, size_t n)
{
    size_t i = 0, d;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if ((d = digits(s, i, n)) > 0)
        i += d;
    else
        return 0;
    if (i < n && s[i] == '.') {
        if ((d = digits(s, ++i, n)) == 0)
            return 0;
        i += d;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if ((d = digits(s, i, n)) == 0)
            return 0;
        i += d;
    }
    return i == n;
}
