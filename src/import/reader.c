/*
 * reader: what the row readers share. sl_reader_open picks a reader by file name, then by the
 * file's first bytes; and the readers share a growing array helper and a name table (interned,
 * unique names in first-seen order, found by hash) for CSV header names and the union of JSON
 * keys.
 * The sl__ functions are internal to src/import and declared in reader_int.h.
 */
#include "import/reader.h"
#include "import/reader_int.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Growing arrays
 */

/* Makes *p hold at least need elements of elem bytes (doubling); 0 or SL_ENOMEM. */
int sl__grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *grown = realloc(*p, ncap * elem);
    if (!grown)
        return SL_ENOMEM;
    *p = grown;
    *cap = ncap;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The name table: open addressing over indexes into a list, so that names keep their order and
 * their pointers (each name is its own allocation) while the table grows.
 */

struct sl__names {
    char **v;            /* the names, NUL-terminated, owned */
    size_t *lens;        /* their lengths in bytes */
    unsigned long *next; /* per name: the next suffix to try when it is repeated (2, 3, ...) */
    size_t count, cap;
    size_t *slots; /* index + 1, or 0 when free; nslots is a power of two */
    size_t nslots;
};

static size_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

int sl__names_new(struct sl__names **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : SL_ENOMEM;
}

void sl__names_free(struct sl__names *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        free(t->v[i]);
    free(t->v);
    free(t->lens);
    free(t->next);
    free(t->slots);
    free(t);
}

/* The slot where s is, or the free slot where it would go. */
static size_t find_slot(const struct sl__names *t, const char *s, size_t len)
{
    size_t mask = t->nslots - 1;
    for (size_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        size_t k = t->slots[i];
        if (k == 0 || (t->lens[k - 1] == len && memcmp(t->v[k - 1], s, len) == 0))
            return i;
    }
}

int sl__names_find(const struct sl__names *t, const char *s, size_t len, size_t *index)
{
    if (t->nslots == 0)
        return 0;
    size_t k = t->slots[find_slot(t, s, len)];
    if (k && index)
        *index = k - 1;
    return k != 0;
}

/* Keeps the slots at most half full. */
static int rehash(struct sl__names *t)
{
    if ((t->count + 1) * 2 <= t->nslots)
        return 0;
    size_t n = t->nslots ? t->nslots * 2 : 64;
    size_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return SL_ENOMEM;
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    for (size_t k = 0; k < t->count; k++)
        t->slots[find_slot(t, t->v[k], t->lens[k])] = k + 1;
    return 0;
}

int sl__names_add(struct sl__names *t, const char *s, size_t len, size_t *index)
{
    size_t cap = t->cap;
    if (sl__grow((void **)&t->v, &cap, t->count + 1, sizeof *t->v) != 0)
        return SL_ENOMEM;
    cap = t->cap;
    if (sl__grow((void **)&t->lens, &cap, t->count + 1, sizeof *t->lens) != 0)
        return SL_ENOMEM;
    cap = t->cap;
    if (sl__grow((void **)&t->next, &cap, t->count + 1, sizeof *t->next) != 0)
        return SL_ENOMEM;
    t->cap = cap;
    char *copy = malloc(len + 1);
    if (!copy || rehash(t) != 0) {
        free(copy);
        return SL_ENOMEM;
    }
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    t->v[t->count] = copy;
    t->lens[t->count] = len;
    t->next[t->count] = 2;
    t->slots[find_slot(t, s, len)] = t->count + 1;
    if (index)
        *index = t->count;
    t->count++;
    return 0;
}

/* Adds s, or when it is taken the first free "s_2", "s_3", ... */
int sl__names_add_unique(struct sl__names *t, const char *s, size_t len, size_t *index)
{
    size_t base;
    if (!sl__names_find(t, s, len, &base))
        return sl__names_add(t, s, len, index);
    size_t cap = len + 24;
    char *buf = malloc(cap);
    if (!buf)
        return SL_ENOMEM;
    memcpy(buf, s, len);
    int rc;
    for (;;) {
        unsigned long k = t->next[base]++;
        size_t n = len + (size_t)snprintf(buf + len, cap - len, "_%lu", k);
        if (!sl__names_find(t, buf, n, NULL)) {
            rc = sl__names_add(t, buf, n, index);
            break;
        }
    }
    free(buf);
    return rc;
}

const char *const *sl__names_list(const struct sl__names *t, size_t *count)
{
    *count = t->count;
    return (const char *const *)t->v;
}

/* ---------------------------------------------------------------------------------------------
 * Picking a format
 */

typedef int (*open_fn)(const char *path, struct sl_reader **out, struct sl_error *err);

static const struct {
    const char *ext;
    open_fn open;
} by_ext[] = {
    {".csv", sl_reader_open_csv},      {".tsv", sl_reader_open_csv},
    {".xlsx", sl_reader_open_xlsx},    {".xls", sl_reader_open_xls},
    {".json", sl_reader_open_json},    {".ndjson", sl_reader_open_ndjson},
    {".jsonl", sl_reader_open_ndjson},
};

static open_fn open_by_name(const char *file_name)
{
    const char *dot = file_name ? strrchr(file_name, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof by_ext / sizeof by_ext[0]; i++)
        if (strcasecmp(dot, by_ext[i].ext) == 0)
            return by_ext[i].open;
    return NULL;
}

/* Reads up to cap bytes from the start of path into buf; their count, or a negative SL_E*. */
static ssize_t read_head(const char *path, unsigned char *buf, size_t cap, struct sl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sl_err_set(err, SL_EIO, "cannot open the file: %s", strerror(errno));
    ssize_t n;
    do
        n = read(fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        sl_err_set(err, SL_EIO, "cannot read the file: %s", strerror(errno));
    close(fd);
    return n < 0 ? SL_EIO : n;
}

/* The reader for the file's first bytes: zip, OLE2, a JSON array, a JSON object, or else CSV. */
static open_fn open_by_content(const unsigned char *s, size_t n)
{
    static const unsigned char zip[] = {'P', 'K', 3, 4};
    static const unsigned char ole2[] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
    if (n >= sizeof zip && memcmp(s, zip, sizeof zip) == 0)
        return sl_reader_open_xlsx;
    if (n >= sizeof ole2 && memcmp(s, ole2, sizeof ole2) == 0)
        return sl_reader_open_xls;
    size_t i = (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) ? 3 : 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i < n && s[i] == '[')
        return sl_reader_open_json;
    if (i < n && s[i] == '{')
        return sl_reader_open_ndjson;
    return sl_reader_open_csv;
}

int sl_reader_open(const char *path, const char *file_name, struct sl_reader **out,
                   struct sl_error *err)
{
    *out = NULL;
    open_fn fn = open_by_name(file_name);
    if (!fn) {
        unsigned char head[512];
        ssize_t n = read_head(path, head, sizeof head, err);
        if (n < 0)
            return (int)n;
        fn = open_by_content(head, (size_t)n);
    }
    return fn(path, out, err);
}
