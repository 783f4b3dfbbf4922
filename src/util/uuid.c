#include "util/uuid.h"
#include "util/err.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_t = -1; /* ms << 12 | fraction of the last id */

int sl_uuid7_us(int64_t now_us, char out[SL_UUID_MAX])
{
    unsigned char b[16];
    if (getrandom(b + 6, 10, 0) != 10)
        return SL_EIO;

    int64_t t = (now_us / 1000) << 12 | ((now_us % 1000) * 4096 / 1000);
    pthread_mutex_lock(&lock);
    if (t <= last_t)
        t = last_t + 1; /* same (or an earlier) instant: the next fraction keeps ids in order */
    last_t = t;
    pthread_mutex_unlock(&lock);

    uint64_t ms = (uint64_t)t >> 12;
    unsigned frac = (unsigned)(t & 0xfff);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (frac >> 8));
    b[7] = (unsigned char)(frac & 0xff);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));

    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
    return 0;
}

int sl_uuid7(int64_t now_ms, char out[SL_UUID_MAX])
{
    return sl_uuid7_us(now_ms * 1000, out);
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int sl_uuid7_time_us(const char *id, int64_t *us)
{
    if (!sl_uuid_valid(id) || id[14] != '7')
        return 0;
    int64_t ms = 0, frac = 0;
    for (int i = 0; i < 13; i++) /* 12 hex digits of ms, with the dash at 8 */
        if (i != 8)
            ms = ms << 4 | hex_value(id[i]);
    for (int i = 15; i < 18; i++)
        frac = frac << 4 | hex_value(id[i]);
    *us = ms * 1000 + frac * 1000 / 4096;
    return 1;
}

int sl_uuid_valid(const char *s)
{
    if (!s || strlen(s) != SL_UUID_LEN)
        return 0;
    for (int i = 0; i < SL_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return 1;
}
