#include "util/uuid.h"
#include "util/err.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms = -1;
static unsigned counter; /* 12 bits, the rand_a field */

int sl_uuid7(int64_t now_ms, char out[SL_UUID_MAX])
{
    unsigned char b[16];
    if (getrandom(b + 6, 10, 0) != 10)
        return SL_EIO;

    pthread_mutex_lock(&lock);
    if (now_ms <= last_ms) {
        /* Same (or earlier) millisecond: keep order by counting, borrowing a ms on overflow. */
        now_ms = last_ms;
        if (++counter > 0xfff) {
            counter = 0;
            now_ms++;
        }
    } else {
        counter = ((unsigned)b[6] << 4 | b[7] >> 4) & 0x7ff; /* room to count upwards */
    }
    last_ms = now_ms;
    unsigned c = counter;
    pthread_mutex_unlock(&lock);

    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)((uint64_t)now_ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (c >> 8));
    b[7] = (unsigned char)(c & 0xff);
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
