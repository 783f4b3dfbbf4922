/*
 * csv_scan: the CSV tokenizer under the CSV reader (csv.c). Bytes in, rows of fields out, one row
 * at a time, in bounded memory. It knows nothing of headers or names: that is the reader's job.
 *
 * CONTRACT
 * - Input: a byte stream pulled through a read callback (read(2)-like: bytes read, 0 at the end,
 *   -1 with errno set on failure; EINTR is the callback's business) into one buffer the scanner
 *   owns. Short reads of any size are fine.
 * - Output: sl_csv_scan_rows gives the next rows (a batch, one or more): its fields as slices of
 * that buffer, each base + off, len bytes, followed by a NUL byte (written in place of the
 * delimiter, quote or line end that closed it). Unquoted fields and quoted fields without ""
 * escapes are never copied; a quoted field with escapes is unescaped in place, over its own bytes.
 * Rows and their fields are valid until the next sl_csv_scan_rows, peek or free (the rows of the
 * last batch, until free, also after the end or an error).
 * - Dialect: the lenient one of libcsv, which sluice read CSV with before this scanner, byte for
 *   byte (the states below are libcsv's):
 *   - A row ends at CR or LF outside quotes; CRLF is one line end (the LF starts an empty line,
 *     and empty lines give no row). Blanks (space and tab, unless tab is the delimiter) before
 *     a field are skipped, blanks after an unquoted field are trimmed; a line of blanks alone
 *     gives no row. A line ",,," gives a row of empty fields (the caller decides what it means).
 *   - A field that starts with `"` is quoted: it may hold delimiters, CR and LF; `""` in it is one
 *     `"`. Its closing quote is the last `"` before the delimiter or line end that follows it,
 *     blanks between them are dropped. A `"` inside a quoted field followed by anything else is
 *     kept as text and the field stays quoted (`"a"b,c"` is one field `a"b,c`). A `"` inside an
 *     unquoted field is text.
 *   - At the end of the stream the last row ends (no line end needed); a quoted field still
 *     open there is an error.
 *   - NUL bytes are refused: this is for text.
 * - Memory (sequential): one buffer of `chunk` bytes (SL_CSV_SCAN_CHUNK by default), grown only
 * while one row does not fit in half of it, up to SL_CSV_SCAN_MAX_ROW + SL_CSV_SCAN_MAX_FIELD bytes
 * of row as written; plus one array of field offsets. Caps, each an error naming the row's line: a
 * field over SL_CSV_SCAN_MAX_FIELD bytes, a row over SL_CSV_SCAN_MAX_ROW (its fields' bytes, one
 * more each), over SL_CSV_SCAN_MAX_FIELDS fields.
 * - Errors are SL_EINVALID (a broken file: "line 12: unterminated quoted field"; "line 3: NUL
 *   byte; is this a text file?"; the caps), SL_EIO ("cannot read the file: ..."), or SL_ENOMEM.
 *   Line numbers count physical lines from 1 (LF, CRLF and a lone CR each end one), and name
 *   the line where the failing row starts, or for a NUL byte the line it is on. An error is
 *   sticky: every later call returns it again.
 * - Speed: the bytes that matter (delimiter, quote, CR, LF, NUL) are found 64 at a time, 16 per
 *   SSE2 compare where the compiler targets SSE2 (every x86-64), with a portable byte loop
 *   otherwise; the state machine then runs only on those bytes. Both give the same rows
 *   (tests/unit/test_csv_scan.c runs both).
 * - Threads (opts.threaded): at the first sl_csv_scan_rows, when the first read filled the buffer
 *   (a big input; threaded 2: always), a worker thread reads ahead into a ring of 4 segments of
 *   `chunk` bytes, each cut after a line end outside quotes, and it and the caller's thread scan
 *   whole segments while the caller takes their rows, in order, a segment per batch. The rows,
 *   lines and errors are those of the sequential scanner, byte for byte. From then on only the
 *   worker calls the read callback (one call at a time, never after it returned 0 or -1) until
 *   the worker ends; a read that fails is reported in its place, after the rows before it. A
 *   segment that cannot be cut safely (quotes the fast path does not read the usual way, or a
 *   row longer than a segment) ends the worker: the scanner goes on sequentially from that
 *   segment's first byte. Memory stays bounded: 4 segments, each with up to one cell per byte
 *   (16 bytes each) and its rows. sl_csv_scan_free, at any point, stops the worker after the
 *   read or scan it is in (so a read that blocks holds it up) and waits for it. When no thread
 *   can be made, the scanner stays sequential.
 * - Not thread-safe; one scanner per stream (its own worker aside).
 */
#ifndef SL_IMPORT_CSV_SCAN_H
#define SL_IMPORT_CSV_SCAN_H

#include "util/err.h"

#include <stddef.h>
#include <sys/types.h>

#define SL_CSV_SCAN_CHUNK      ((size_t)256 << 10) /* default buffer: bytes read at a time */
#define SL_CSV_SCAN_MAX_FIELD  ((size_t)16 << 20)  /* bytes in one field */
#define SL_CSV_SCAN_MAX_ROW    ((size_t)64 << 20)  /* bytes in one row, one more per field */
#define SL_CSV_SCAN_MAX_FIELDS 65536               /* fields in one row */

typedef ssize_t (*sl_csv_read_fn)(void *ctx, void *buf, size_t cap);

struct sl_csv_scan_opts {
    sl_csv_read_fn read;
    void *ctx;
    size_t chunk; /* the buffer's starting size; 0: SL_CSV_SCAN_CHUNK */
    int scalar;   /* 1: find special bytes with the portable loop even where SSE2 is there */
    int exact;    /* 1: the exact machine alone, no fast path (for tests) */
    int threaded; /* 1: read and scan ahead on a second thread when the first read fills the
                     buffer; 2: whatever the first read gives (for tests); 0: never */
};

struct sl_csv_cell {
    size_t off; /* from the row's base */
    size_t len; /* bytes, without the NUL after them */
};

struct sl_csv_row {
    const char *base;
    const struct sl_csv_cell *cells;
    size_t count;   /* at least 1 */
    long long line; /* the line the row starts on */
};

struct sl_csv_scan;

/* A scanner reading through opts->read, with `,` as the delimiter. 0 or SL_ENOMEM. */
int sl_csv_scan_new(const struct sl_csv_scan_opts *opts, struct sl_csv_scan **out);
void sl_csv_scan_free(struct sl_csv_scan *s);

/*
 * Before the first row: what the stream's first read gave (nothing at its end; a regular file
 * gives the chunk size or all of it), so the caller can sniff it; 0, or an error (sticky). One
 * read only, so a pipe that sends its first bytes and waits is not waited for. The bytes are
 * valid until the next call.
 */
int sl_csv_scan_peek(struct sl_csv_scan *s, const unsigned char **bytes, size_t *n,
                     struct sl_error *err);
/* Before the first row: drops the first n peeked bytes (a byte order mark). */
void sl_csv_scan_skip(struct sl_csv_scan *s, size_t n);
/* Before the first row: the delimiter (not a quote, CR, LF, NUL or space). */
void sl_csv_scan_set_delim(struct sl_csv_scan *s, unsigned char delim);

/*
 * The next rows, in order: 1 and (*rows)[0 .. *n) with *n >= 1, 0 at the end of the stream, or a
 * negative SL_E* code. They are valid until the next call: take them all before calling again.
 */
int sl_csv_scan_rows(struct sl_csv_scan *s, const struct sl_csv_row **rows, size_t *n,
                     struct sl_error *err);

#endif
