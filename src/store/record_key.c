/*
 * record_key: the split of a record key into head and number (see record_key.h).
 */
#include "store/record_key.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sl_record_key_split(const char *key, size_t len, int64_t *num)
{
    size_t start = len;
    while (start > 0 && key[start - 1] >= '0' && key[start - 1] <= '9')
        start--;
    size_t digits = len - start;
    *num = 0;
    /* Only ":<number>" at the very end, canonical (no leading 0), and small enough for int64. */
    if (digits == 0 || digits > SL_RECORD_KEY_DIGITS || start == 0 || key[start - 1] != ':' ||
        key[start] == '0')
        return len;
    int64_t v = 0;
    for (size_t i = start; i < len; i++)
        v = v * 10 + (key[i] - '0');
    *num = v;
    return start;
}

char *sl_record_key_join(const char *head, size_t head_len, int64_t num)
{
    char digits[24] = "";
    if (num > 0)
        snprintf(digits, sizeof digits, "%" PRId64, num);
    size_t dl = strlen(digits);
    char *out = malloc(head_len + dl + 1);
    if (!out)
        return NULL;
    memcpy(out, head, head_len);
    memcpy(out + head_len, digits, dl + 1);
    return out;
}
