/*
 * fuzz_readers: libFuzzer target for the row readers (CSV, JSON, NDJSON, XLSX, XLS).
 *
 * Byte 0 picks the format; the rest is written to a memfd that the reader opens by path
 * (/proc/self/fd/N), as readers take a path. Every row is read to the end (or the first error),
 * and every field's bytes are touched so ASan sees any bad hand-out.
 */
#include "import/reader.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A bound, so a reader that never ends shows up as a timeout, not a hang. */
#define ROWS_MAX 100000

typedef int (*open_fn)(const char *path, struct sl_reader **out, struct sl_error *err);

/*
 * XLS is left out unless built with -DFUZZ_XLS: Debian's libfreexl 1.0.6 reads past a stack
 * buffer and leaks on malformed files (inputs in tests/fuzz/library-bugs/), so with it in, every
 * run stops within seconds on that library's bug and the other readers get no fuzzing.
 */
static const open_fn openers[] = {
    sl_reader_open_csv,  sl_reader_open_json, sl_reader_open_ndjson, sl_reader_open_xlsx,
#ifdef FUZZ_XLS
    sl_reader_open_xls,
#endif
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static void read_rows(struct sl_reader *r)
{
    struct sl_error err = {0};
    struct sl_row row;
    unsigned sum = 0;
    for (int i = 0; i < ROWS_MAX && sl_reader_next(r, &row, &err) == 1; i++) {
        for (size_t f = 0; f < row.count; f++) {
            const struct sl_field *fl = &row.fields[f];
            sum += (unsigned)strlen(fl->name);
            for (size_t b = 0; b <= fl->len; b++) /* the NUL after len bytes too */
                sum += (unsigned char)fl->value[b];
        }
    }
    size_t ncols = 0;
    const char *const *cols = sl_reader_columns(r, &ncols);
    for (size_t i = 0; i < ncols; i++)
        sum += (unsigned)strlen(cols[i]);
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    open_fn open = openers[data[0] % (sizeof openers / sizeof openers[0])];
    int fd = memfd_create("fuzz_readers", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    char path[64];
    if (write_all(fd, data + 1, size - 1) != 0)
        goto out;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (open(path, &r, &err) != 0)
        goto out;
    read_rows(r);
out:
    sl_reader_close(r);
    close(fd);
    return 0;
}
