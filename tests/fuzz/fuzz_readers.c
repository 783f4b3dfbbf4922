/*
 * fuzz_readers: libFuzzer target for the row readers (CSV, JSON, NDJSON, XLSX, XLS).
 *
 * Byte 0 picks the format; the rest is written to a memfd that the reader opens by path
 * (/proc/self/fd/N), as readers take a path. Every row is read to the end (or the first error),
 * and every field's bytes are touched so ASan sees any bad hand-out.
 *
 * An input that starts with "sluice-xls 1\n" is instead the output of the XLS parser's child
 * (src/import/xls_sheet.h), read whole by the server's side of that framing (xls_child.c): what
 * a child that went wrong could send the server.
 */
#include "import/reader.h"
#include "import/xls_sheet.h"

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
 *
 * With it in, the XLS reader parses in this process: no xls-rows helper is set here (only
 * sluice's CLI sets one, see src/import/xls_sheet.h), so the target fuzzes the freexl wrapper
 * (xls_sheet.c) and the row logic (xls.c) directly, where ASan sees them. The server runs the
 * same code in a child; the parent's side of that, the framing, is tested with malformed input
 * in tests/unit/test_xls_child.c.
 */
static const open_fn openers[] = {
    sl_reader_open_csv, sl_reader_open_json, sl_reader_open_ndjson, sl_reader_open_xlsx,
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

/* The framing of an XLS child, from a memfd holding it (read to the end, then end of file). */
static void read_frames(const uint8_t *data, size_t size)
{
    static const struct sl_xls_limits limits = {0, 0, 1000};
    int fd = memfd_create("fuzz_frames", MFD_CLOEXEC);
    struct sl_xls_sheet *s = NULL;
    struct sl_error err = {0};
    const struct sl_xls_cell *cells;
    unsigned sum = 0;
    if (fd < 0)
        return;
    if (write_all(fd, data, size) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return;
    }
    if (sl_xls_sheet_from_fd(fd, &limits, &s, &err) != 0) /* fd is the sheet's from here */
        return;
    for (int i = 0; i < ROWS_MAX && sl_xls_sheet_next(s, &cells, &err) == 1; i++)
        for (unsigned short c = 0; c < s->cols; c++)
            for (size_t b = 0; cells[c].text && b <= cells[c].len; b++)
                sum += (unsigned char)cells[c].text[b];
    (void)sum;
    sl_xls_sheet_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char frames[] = "sluice-xls 1\n";
    if (size >= sizeof frames - 1 && memcmp(data, frames, sizeof frames - 1) == 0) {
        read_frames(data, size);
        return 0;
    }
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
