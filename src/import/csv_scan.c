/*
 * csv_scan: see csv_scan.h for the contract.
 *
 * DESIGN. Two machines over one buffer the scanner owns, both writing the same cells:
 *
 * - The exact machine is libcsv's state machine (ROW_NOT_BEGUN, FIELD_NOT_BEGUN, FIELD_BEGUN
 *   unquoted or quoted, FIELD_MIGHT_HAVE_ENDED), run only on the bytes that can change its state:
 *   each 64-byte block becomes bit masks of its special bytes (delimiter, quote, CR, LF, NUL),
 *   and inside a field the machine jumps from one set bit to the next. It reads anything, and
 *   stops anywhere (at the end of the buffer) with its state kept for after the next read.
 *
 * - The fast path reads the regular way of quoting, which is what nearly every file does: a
 *   quote opens a field right after a delimiter or a line end, closes it right before one, and
 *   comes in pairs ("") in between. Then quote parity alone (a prefix XOR of the quote mask,
 *   carried from block to block) tells the delimiters and line ends outside quotes, the
 *   structurals, and the fast path visits only those: one step per field. Each block is checked
 *   for what breaks that reading (a quote that opens by parity after anything but a structural
 *   or a closing quote, one that closes before anything but a structural or an opening quote:
 *   blanks around quotes, a quote inside an unquoted field, `"a"b`; and NUL bytes). Up to the
 *   first such byte parity and libcsv agree, so there, and at the end of the buffer, the fast
 *   path hands the row in progress over to the exact machine at the start of its field in
 *   progress, where both agree the machine is (FIELD_NOT_BEGUN, or ROW_NOT_BEGUN). It ends up to
 *   BATCH_ROWS rows in one go, which sl_csv_scan_rows hands out as one batch.
 *
 * Nothing is copied that need not be: a field is a slice of the buffer, NUL-terminated in place
 * over the byte that ended it. A quoted field is its bytes between the quotes; when it holds
 * "" escapes its text is moved down over the dropped quotes, the only copying there is. A row
 * that runs past the end of the buffer is moved to the buffer's start before the next read (with
 * the exact machine's state, positions into it), so a row is always contiguous; the buffer grows
 * only while one row fills half of it, and the fast path only runs while the buffer is at most
 * SL_CSV_SCAN_MAX_FIELD bytes, so that no field or row it ends can break a byte cap.
 *
 * Line numbers (for messages) are counted where the machines meet CR and LF anyway: a CR counts
 * one line, an LF one unless the byte before it was that CR (kept as a stream offset, since the
 * CR's own byte may have become a field's NUL by then). *
 * AHEAD (threaded). Scanning is the cost (the read(2) copy is a tenth of it), and one stream is
 * one row after another, so the second core can only help if the stream is cut into pieces that
 * can be scanned apart. The worker reads into a ring of segment buffers and cuts each after its
 * last line end that quote parity puts outside quotes, carrying the rest to the next segment.
 * The same pass checks the quotes the way the fast path does: up to the first quote the fast
 * path would not take for the usual kind, parity is libcsv's reading, so the cut ends a row and
 * the next segment starts one. A segment is then scanned whole, in place, by a scanner of its
 * own (a span: the machines above, with the stream's end at the segment's end and its line count
 * started where the cut pass counted), by whichever thread is free: the worker after reading,
 * or the caller while the next segment in order is still being scanned. The caller hands the
 * segments' rows out in order. Where a cut cannot be trusted (a quote read another way before
 * any cut, a row longer than a segment) or a read fails, the worker stops and the stream's
 * scanner takes that segment's untouched bytes as its buffer and goes on sequentially, so every
 * file still reads exactly as before.
 */
#include "import/csv_scan.h"
#include "util/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BLOCK       64                /* bytes per mask */
#define PAD         BLOCK             /* readable bytes before and after the buffer (new_buffer) */
#define NO_BLOCK    ((size_t)1 << 62) /* blk when no block is cached */
#define BATCH_ROWS  128               /* rows the fast path ends in one go, at most */
#define BATCH_CELLS 2048              /* ... and it starts no row past this many cells */
#define RAW_MAX     (SL_CSV_SCAN_MAX_ROW + SL_CSV_SCAN_MAX_FIELD) /* a row as written, buffered */

/* Byte classes. The values matter: (class & 3) is 0 only for the bytes a field may start or end
 * with on the fast path's usual way (plain text and quotes). */
enum { C_PLAIN, C_BLANK, C_EOL, C_DELIM, C_QUOTE, C_NUL };

/* libcsv's states; FIELD_BEGUN is split in two by whether the field is quoted. */
enum { ST_ROW, ST_FIELD, ST_UNQUOTED, ST_QUOTED, ST_MIGHT_END };

/* The fast path's view of one block (see fast_block). */
struct block {
    size_t at;           /* offset of the block in buf; NO_BLOCK: none */
    uint64_t fields;     /* structurals not visited yet (those before the first bad byte) */
    uint64_t delims;     /* the structurals that are delimiters (the others end rows) */
    uint64_t escape;     /* the second quote of each "", of fields not ended yet */
    uint64_t quoted_eol; /* line ends inside quotes, not counted yet */
    int bad;             /* it holds a byte the fast path cannot read: fields stop before */
    /* What the next block needs to know about this one's last byte. */
    uint64_t in_quotes;  /* all ones when it is inside quotes */
    uint64_t prev_ok;    /* 1 when it is a structural or a closing quote */
    uint64_t close_last; /* 1 when it is a closing quote */
};

struct sl_csv_scan {
    sl_csv_read_fn read;
    void *ctx;
    int scalar, exact, threaded, started, eof;
    int span;            /* a slot's scanner: one whole segment, its rows gathered (see AHEAD) */
    int read_errno;      /* a read the worker saw fail, for the next refill to report (0: none) */
    struct ahead *ahead; /* the pipeline while a second thread reads and scans ahead, or NULL */
    unsigned char delim;
    unsigned char cls[256]; /* byte -> C_* for this delimiter */

    unsigned char *mem; /* PAD + cap + PAD bytes, 64-byte aligned */
    unsigned char *buf; /* mem + PAD */
    size_t cap, len;    /* room for data; bytes of data */
    size_t pos;         /* next byte to read */
    long long base;     /* stream offset of buf[0] */
    size_t blk;         /* the exact machine's cached block (NO_BLOCK: none) */
    uint64_t mask;      /* its special bytes, those before pos possibly still set */
    struct block fast;  /* the fast path's block (fast.at == NO_BLOCK: none) */

    /* The exact machine, between calls. */
    int state;
    size_t row_start; /* first byte of the row in progress */
    size_t fstart;    /* first byte of the field in progress (its text) */
    size_t out;       /* quoted fields: where the next byte of text goes (<= pos) */
    size_t spaces;    /* ST_MIGHT_END: blanks after the quote */
    /* Not next to each other, on purpose: lines and cr_at are written one by one (line_end) and
     * copied together right after, and as neighbours the compiler copies them with one 16-byte
     * load that cannot be forwarded from the two 8-byte stores: a stall on every row. */
    long long lines;    /* line ends met */
    long long row_line; /* the line the row in progress starts on */
    long long cr_at;    /* stream offset of the last CR met */

    /* Cells, offsets from buf: the rows the fast path queued, then the row in progress. */
    struct sl_csv_cell *cells;
    size_t ncells, cells_cap;
    size_t row_first;       /* the first cell of the row in progress */
    size_t row_bytes;       /* its fields' bytes, one more each */
    long long fstart_lines; /* fast path: lines and cr_at at the field's start (apart, as above) */
    size_t fesc; /* fast path: the field's first "" in a block before its last (0: none) */
    long long fstart_cr;
    int fcounted; /* fast path: line ends in it were counted in a block before its last */
    struct queued {
        size_t first, count;
        long long line;
    } queue[BATCH_ROWS]; /* rows the fast path has ended */
    size_t nqueued;
    struct sl_csv_row batch[BATCH_ROWS]; /* what sl_csv_scan_rows hands out */
    struct sl_csv_row *rows;             /* a span: all its rows */
    size_t nrows, rows_cap;

    struct sl_error fault; /* the first error, returned from then on */
};

/* ---------------------------------------------------------------------------------------------
 * Finding special bytes: four masks per 64-byte block, bit i for byte i.
 */

struct masks {
    uint64_t quote, delim, eol, nul; /* eol: CR or LF */
};

static struct masks masks_scalar(const unsigned char *p, unsigned char delim)
{
    struct masks m = {0, 0, 0, 0};
    for (int i = 0; i < BLOCK; i++) {
        uint64_t bit = (uint64_t)1 << i;
        unsigned char c = p[i];
        m.quote |= c == '"' ? bit : 0;
        m.delim |= c == delim ? bit : 0;
        m.eol |= c == '\r' || c == '\n' ? bit : 0;
        m.nul |= c == 0 ? bit : 0;
    }
    return m;
}

#ifdef __SSE2__
/* Three of the masks of 16 bytes, in the low 16 bits of each; NUL bytes are or-ed into *nul. */
static inline __attribute__((always_inline)) struct masks masks16(__m128i x, __m128i delim,
                                                                  __m128i *nul)
{
    const __m128i quote = _mm_set1_epi8('"'), cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    __m128i eol = _mm_or_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(x, lf));
    *nul = _mm_or_si128(*nul, _mm_cmpeq_epi8(x, _mm_setzero_si128()));
    return (struct masks){(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)),
                          (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, delim)),
                          (unsigned)_mm_movemask_epi8(eol), 0};
}

static inline __attribute__((always_inline)) struct masks masks_sse2(const unsigned char *p,
                                                                     unsigned char delim)
{
    const __m128i d = _mm_set1_epi8((char)delim);
    __m128i nul = _mm_setzero_si128();
    struct masks a = masks16(_mm_load_si128((const __m128i *)(const void *)p), d, &nul);
    struct masks b = masks16(_mm_load_si128((const __m128i *)(const void *)(p + 16)), d, &nul);
    struct masks c = masks16(_mm_load_si128((const __m128i *)(const void *)(p + 32)), d, &nul);
    struct masks e = masks16(_mm_load_si128((const __m128i *)(const void *)(p + 48)), d, &nul);
    struct masks m = {
        a.quote | b.quote << 16 | c.quote << 32 | e.quote << 48,
        a.delim | b.delim << 16 | c.delim << 32 | e.delim << 48,
        a.eol | b.eol << 16 | c.eol << 32 | e.eol << 48,
        0,
    };
    if (__builtin_expect(_mm_movemask_epi8(nul) != 0, 0)) /* rare: then find where */
        for (int i = 0; i < BLOCK; i++)
            m.nul |= (uint64_t)(p[i] == 0) << i;
    return m;
}
#endif

/* The masks of the block at p, by SSE2 when sse (a constant where this is inlined). */
static inline __attribute__((always_inline)) struct masks block_masks(const unsigned char *p,
                                                                      unsigned char delim, int sse)
{
#ifdef __SSE2__
    if (sse)
        return masks_sse2(p, delim);
#endif
    (void)sse;
    return masks_scalar(p, delim);
}

/* The exact machine's view: the first special byte at or after from, or len when there is none
 * before the data's end. */
static inline __attribute__((always_inline)) size_t next_special(const struct sl_csv_scan *s,
                                                                 size_t from, size_t len,
                                                                 size_t *blkp, uint64_t *maskp,
                                                                 int sse)
{
    size_t blk = *blkp;
    uint64_t m;
    struct masks k;
    if ((size_t)(from - blk) >= BLOCK) {
        blk = from & ~(size_t)(BLOCK - 1);
        if (blk >= len)
            return len;
        k = block_masks(s->buf + blk, s->delim, sse);
        m = k.quote | k.delim | k.eol | k.nul;
    } else {
        m = *maskp;
    }
    m &= ~(uint64_t)0 << (from & (BLOCK - 1));
    while (!m) {
        blk += BLOCK;
        if (blk >= len) {
            *blkp = NO_BLOCK;
            return len;
        }
        k = block_masks(s->buf + blk, s->delim, sse);
        m = k.quote | k.delim | k.eol | k.nul;
    }
    *blkp = blk;
    *maskp = m;
    size_t q = blk + (size_t)__builtin_ctzll(m);
    return q < len ? q : len; /* bytes past len are stale */
}

/* ---------------------------------------------------------------------------------------------
 * Lines and cells
 */

static inline void line_end(struct sl_csv_scan *s, size_t at, unsigned char c)
{
    long long x = s->base + (long long)at;
    if (c == '\r') {
        s->lines++;
        s->cr_at = x;
    } else if (s->cr_at != x - 1) {
        s->lines++;
    }
}

/* add_cell's caps and growth, off the hot path. */
static int add_cell_slow(struct sl_csv_scan *s, size_t off, size_t len)
{
    if (s->ncells - s->row_first == SL_CSV_SCAN_MAX_FIELDS)
        return sl_err_set(&s->fault, SL_EINVALID, "line %lld: more than %d fields in one row",
                          s->row_line, SL_CSV_SCAN_MAX_FIELDS);
    if (len > SL_CSV_SCAN_MAX_FIELD)
        return sl_err_set(&s->fault, SL_EINVALID, "line %lld: a field longer than %zu MiB",
                          s->row_line, SL_CSV_SCAN_MAX_FIELD >> 20);
    if (s->row_bytes + len + 1 > SL_CSV_SCAN_MAX_ROW)
        return sl_err_set(&s->fault, SL_EINVALID, "line %lld: a row longer than %zu MiB",
                          s->row_line, SL_CSV_SCAN_MAX_ROW >> 20);
    if (s->ncells == s->cells_cap) {
        size_t ncap = s->cells_cap ? s->cells_cap * 2 : 256;
        struct sl_csv_cell *grown = realloc(s->cells, ncap * sizeof *grown);
        if (!grown)
            return sl_err_set(&s->fault, SL_ENOMEM, "out of memory reading line %lld", s->row_line);
        s->cells = grown;
        s->cells_cap = ncap;
    }
    s->buf[off + len] = '\0';
    s->cells[s->ncells++] = (struct sl_csv_cell){off, len};
    s->row_bytes += len + 1;
    return 0;
}

/* Ends a field of len bytes at buf + off: the caps, then the cell, NUL-terminated in place. */
static inline __attribute__((always_inline)) int add_cell(struct sl_csv_scan *s, size_t off,
                                                          size_t len)
{
    if (__builtin_expect(
            s->ncells < s->cells_cap && s->ncells - s->row_first < SL_CSV_SCAN_MAX_FIELDS &&
                len <= SL_CSV_SCAN_MAX_FIELD && s->row_bytes + len + 1 <= SL_CSV_SCAN_MAX_ROW,
            1)) {
        s->buf[off + len] = '\0';
        s->cells[s->ncells++] = (struct sl_csv_cell){off, len};
        s->row_bytes += len + 1;
        return 0;
    }
    return add_cell_slow(s, off, len);
}

static int nul_byte(struct sl_csv_scan *s)
{
    return sl_err_set(&s->fault, SL_EINVALID, "line %lld: NUL byte; is this a text file?",
                      s->lines + 1);
}

/* ---------------------------------------------------------------------------------------------
 * The exact machine
 */

#define ADD_CELL(off, n)                                                                           \
    do {                                                                                           \
        if ((rc = add_cell(s, (off), (n))) != 0)                                                   \
            goto out;                                                                              \
    } while (0)

/*
 * Runs the machine from pos over the buffer: 1 when a row has ended (in cells), 0 when it needs
 * the bytes after len, or an SL_E* code. sse is a constant in each of its two instances. Each
 * state is a label; `state` is only written when the machine stops in the middle of a row.
 */
static inline __attribute__((always_inline)) int scan(struct sl_csv_scan *s, int sse)
{
    unsigned char *buf = s->buf;
    const unsigned char *cls = s->cls;
    const size_t len = s->len;
    size_t p = s->pos, fstart = s->fstart, out = s->out, spaces = s->spaces, q;
    size_t blk = s->blk;
    uint64_t mask = s->mask;
    int state = s->state, rc = 0, k;
    unsigned char c;

    switch (state) {
    case ST_FIELD:
        goto field;
    case ST_UNQUOTED:
        goto unquoted;
    case ST_QUOTED:
        goto quoted;
    case ST_MIGHT_END:
        goto might_end;
    default:
        break;
    }

    /* ROW_NOT_BEGUN: blanks and line ends give no row. */
    for (;;) {
        if (p == len) {
            state = ST_ROW;
            goto more;
        }
        c = buf[p];
        k = cls[c];
        if (k == C_BLANK) {
            p++;
        } else if (k == C_EOL) {
            line_end(s, p, c);
            p++;
        } else {
            break;
        }
    }
    if (k == C_NUL)
        goto nul;
    s->row_start = p;
    s->row_line = s->lines + 1;
    s->ncells = s->row_first;
    s->row_bytes = 0;
    goto field_byte;

field: /* FIELD_NOT_BEGUN */
    if (p == len) {
        state = ST_FIELD;
        goto more;
    }
    c = buf[p];
    k = cls[c];
field_byte:
    if (__builtin_expect(k == C_PLAIN, 1)) {
        fstart = p++;
        goto unquoted;
    }
    if (k == C_QUOTE) {
        fstart = out = ++p;
        goto quoted;
    }
    if (k == C_DELIM) {
        ADD_CELL(p, 0);
        p++;
        goto field;
    }
    if (k == C_BLANK) {
        p++;
        goto field;
    }
    if (k == C_EOL) {
        line_end(s, p, c);
        ADD_CELL(p, 0);
        p++;
        goto row_done;
    }
    goto nul;

unquoted: /* FIELD_BEGUN, not quoted: only a delimiter or a line end ends it */
    q = next_special(s, p, len, &blk, &mask, sse);
    if (q == len) {
        p = q;
        state = ST_UNQUOTED;
        goto more;
    }
    c = buf[q];
    k = cls[c];
    if (__builtin_expect(k == C_DELIM, 1)) {
        size_t end = q;
        while (cls[buf[end - 1]] == C_BLANK) /* fstart holds a non-blank byte */
            end--;
        ADD_CELL(fstart, end - fstart);
        p = q + 1;
        goto field;
    }
    if (k == C_EOL) {
        size_t end = q;
        while (cls[buf[end - 1]] == C_BLANK)
            end--;
        line_end(s, q, c);
        ADD_CELL(fstart, end - fstart);
        p = q + 1;
        goto row_done;
    }
    if (k == C_QUOTE) { /* text, in an unquoted field */
        p = q + 1;
        goto unquoted;
    }
    p = q;
    goto nul;

quoted: /* FIELD_BEGUN, quoted: text up to the next quote */
    for (;;) {
        q = next_special(s, p, len, &blk, &mask, sse);
        if (out != p)
            memmove(buf + out, buf + p, q - p);
        out += q - p;
        p = q;
        if (q == len) {
            state = ST_QUOTED;
            goto more;
        }
        c = buf[q];
        k = cls[c];
        if (k == C_QUOTE)
            break;
        if (k == C_NUL)
            goto nul;
        if (k == C_EOL)
            line_end(s, q, c);
        buf[out++] = c;
        p++;
    }
    buf[out++] = '"'; /* kept for now: it is text unless the field ends right after it */
    p++;
    spaces = 0;

might_end: /* FIELD_MIGHT_HAVE_ENDED: after a quote in a quoted field */
    if (p == len) {
        state = ST_MIGHT_END;
        goto more;
    }
    c = buf[p];
    k = cls[c];
    if (__builtin_expect(k == C_DELIM, 1)) {
        out -= spaces + 1;
        ADD_CELL(fstart, out - fstart);
        p++;
        goto field;
    }
    if (k == C_EOL) {
        line_end(s, p, c);
        out -= spaces + 1;
        ADD_CELL(fstart, out - fstart);
        p++;
        goto row_done;
    }
    p++;
    if (k == C_QUOTE && !spaces) /* "": one quote, kept already */
        goto quoted;
    if (k == C_NUL) {
        p--;
        goto nul;
    }
    buf[out++] = c;
    if (k == C_BLANK) {
        spaces++;
        goto might_end;
    }
    if (k == C_QUOTE) { /* after blanks: libcsv keeps it as text and looks again */
        spaces = 0;
        goto might_end;
    }
    goto quoted; /* a quote followed by text: the quote is text, the field goes on */

nul:
    rc = nul_byte(s);
    goto out;
row_done:
    state = ST_ROW;
    rc = 1;
    goto out;
more:
    rc = 0;
out:
    s->pos = p;
    s->fstart = fstart;
    s->out = out;
    s->spaces = spaces;
    s->blk = blk;
    s->mask = mask;
    s->state = state;
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The fast path
 */

static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/*
 * Reads the block at `at` into k. The first block after a start (k->at == NO_BLOCK) is read from
 * byte `from` on, a row start: outside quotes, after a structural. Later ones take what they
 * need about the byte before them from k.
 */
static inline __attribute__((always_inline)) void
fast_block(const struct sl_csv_scan *s, struct block *k, size_t at, size_t from, int sse)
{
    struct masks m = block_masks(s->buf + at, s->delim, sse);
    uint64_t keep = at + BLOCK <= s->len ? ~(uint64_t)0 : ((uint64_t)1 << (s->len - at)) - 1;
    uint64_t prev_ok = k->prev_ok, close_in = k->close_last, in_quotes = k->in_quotes;
    if (k->at == NO_BLOCK) {
        keep &= ~(uint64_t)0 << (from - at);
        prev_ok = (uint64_t)1 << (from - at);
        close_in = 0;
        in_quotes = 0;
    }
    uint64_t quote = m.quote & keep, eol = m.eol & keep, delim = m.delim & keep;
    uint64_t inside = prefix_xor(quote) ^ in_quotes; /* from an opening quote to its closing one */
    uint64_t structural = (delim | eol) & ~inside;
    uint64_t open = quote & inside, close = quote & ~inside;
    uint64_t bad = (open & ~((structural | close) << 1 | prev_ok)) |
                   (close & ~((structural | open) >> 1) & (~(uint64_t)0 >> 1)) | (m.nul & keep);
    if (close_in && !((structural | open) & 1)) /* the closing quote that ended the last block */
        bad |= 1;
    uint64_t before = bad ? ((uint64_t)1 << __builtin_ctzll(bad)) - 1 : ~(uint64_t)0;
    k->at = at;
    k->fields = structural & before;
    k->delims = delim & structural;
    k->escape = open & (close << 1 | close_in) & before;
    k->quoted_eol = eol & inside & before;
    k->bad = bad != 0;
    k->in_quotes = (uint64_t)0 - (inside >> 63);
    k->prev_ok = (structural | close) >> 63;
    k->close_last = close >> 63;
}

/* Counts the line ends inside quotes of the block at `at` among those of `which`; returns the
 * others. (Values, not the block: taking its address would keep the block out of registers.) */
static uint64_t count_quoted(struct sl_csv_scan *s, size_t at, uint64_t quoted_eol, uint64_t which)
{
    for (uint64_t m = quoted_eol & which; m; m &= m - 1) {
        size_t x = at + (size_t)__builtin_ctzll(m);
        line_end(s, x, s->buf[x]);
    }
    return quoted_eol & ~which;
}

/*
 * Moves n bytes from r down to w (w < r) within one field. The spans between escaped quotes are
 * a few bytes each, too short for a memmove call to pay off; copying forward 8 bytes at a time is
 * safe while each load comes before the store that could overlap it, and the last bytes go one by
 * one so that nothing past r + n is touched.
 */
static inline void move_down(unsigned char *buf, size_t w, size_t r, size_t n)
{
    for (; n >= 8; n -= 8, w += 8, r += 8) {
        uint64_t v;
        memcpy(&v, buf + r, 8);
        memcpy(buf + w, &v, 8);
    }
    for (; n; n--)
        buf[w++] = buf[r++];
}

/*
 * Unescapes a quoted field's text ending at end, from `first` on (the second quote of its first
 * ""), where every quote from there is one of a pair: drops the second quote of each. `pairs`,
 * when not 0, has every such second quote as a bit of the block at `at`. Returns the new end.
 */
static size_t unescape(unsigned char *buf, size_t first, size_t end, size_t at, uint64_t pairs)
{
    size_t w = first;
    if (pairs) { /* move the text between the dropped quotes */
        for (;;) {
            size_t r = at + (size_t)__builtin_ctzll(pairs) + 1;
            pairs &= pairs - 1;
            size_t stop = pairs ? at + (size_t)__builtin_ctzll(pairs) : end;
            move_down(buf, w, r, stop - r);
            w += stop - r;
            if (!pairs)
                return w;
        }
    }
    for (size_t r = first + 1; r < end;) { /* some pairs were in blocks before: look for them */
        const unsigned char *qt = memchr(buf + r, '"', end - r);
        size_t n = qt ? (size_t)(qt - buf) + 1 - r : end - r; /* through the quote */
        memmove(buf + w, buf + r, n);
        w += n;
        r += n + 1;
    }
    return w;
}

/* What odd_field makes of a field the usual reading does not cover. */
struct odd {
    size_t a, end; /* its text */
    int blank;     /* a line of blanks, no field */
};

/*
 * The fast path's field [fstart, x) (x at bit of the block) when it is not the usual one: quoted
 * with escapes or line ends, with blanks around it, or empty. Counts its line ends, unescapes
 * it, trims it. Kept out of the loop, so that the loop keeps its values in registers.
 */
static __attribute__((noinline)) struct odd odd_field(struct sl_csv_scan *s, unsigned bit,
                                                      size_t fstart, int row_begun)
{
    struct block *k = &s->fast;
    unsigned char *buf = s->buf;
    size_t at = k->at, x = at + bit;
    uint64_t upto = ((uint64_t)2 << bit) - 1; /* bits 0..bit (all when bit is 63) */
    struct odd f = {fstart, x, 0};
    if (buf[fstart] == '"') { /* its closing quote is at x - 1 */
        f.a++;
        f.end--;
        if (k->quoted_eol) /* its line ends, before its text moves */
            k->quoted_eol = count_quoted(s, at, k->quoted_eol, upto);
        s->fstart_lines = s->lines; /* with those of blocks before, for the next field */
        s->fstart_cr = s->cr_at;
        uint64_t pairs = k->escape & upto;
        k->escape &= ~upto;
        if (s->fesc)
            f.end = unescape(buf, s->fesc, f.end, 0, 0);
        else if (pairs)
            f.end = unescape(buf, at + (size_t)__builtin_ctzll(pairs), f.end, at, pairs);
    } else {
        while (s->cls[buf[f.a]] == C_BLANK) /* stops at x at the latest */
            f.a++;
        while (f.end > f.a && s->cls[buf[f.end - 1]] == C_BLANK)
            f.end--;
        if (f.end == f.a && !row_begun && !((k->delims >> bit) & 1)) { /* a blank line */
            line_end(s, x, buf[x]);
            s->row_start = x + 1;
            s->fstart_lines = s->lines;
            s->fstart_cr = s->cr_at;
            s->row_line = s->lines + 1;
            f.blank = 1;
        }
    }
    s->fesc = 0;
    s->fcounted = 0;
    return f;
}

/* Makes the block after k the fast path's one; 0, or 1 when the fast path must stop here. */
static inline __attribute__((always_inline)) int next_block(struct sl_csv_scan *s, int sse)
{
    struct block *k = &s->fast;
    if (k->bad || k->at + BLOCK >= s->len)
        return 1;
    if (k->escape && !s->fesc) /* the field in progress goes on in the next block */
        s->fesc = k->at + (size_t)__builtin_ctzll(k->escape);
    if (k->quoted_eol) { /* and has line ends in this one */
        k->quoted_eol = count_quoted(s, k->at, k->quoted_eol, ~(uint64_t)0);
        s->fcounted = 1;
    }
    fast_block(s, k, k->at + BLOCK, k->at + BLOCK, sse);
    return 0;
}

/*
 * From a row start (ROW_NOT_BEGUN at pos, no cells): ends whole rows into the batch, up to
 * BATCH_ROWS of them, and stops at a row start; or hands the row in progress over to the exact
 * machine (pos, state and that row's cells and counters set). A cap a field breaks (the count of
 * fields; the byte caps cannot break here) is left in the fault, for after the rows before it.
 *
 * The loop keeps few values in registers: the block's position, its structurals not visited
 * yet, which of them are delimiters, which bits call for care; the rest lives in s.
 */
static inline __attribute__((always_inline)) void fast(struct sl_csv_scan *s, int sse)
{
    unsigned char *const buf = s->buf;
    struct block *const k = &s->fast;
    struct sl_csv_cell *cells = s->cells;
    size_t ncells = s->ncells, row_first = s->ncells, first = s->ncells; /* 0 but in a span */
    size_t limit = s->cells_cap < row_first + SL_CSV_SCAN_MAX_FIELDS
                       ? s->cells_cap
                       : row_first + SL_CSV_SCAN_MAX_FIELDS;
    size_t fstart = s->pos; /* the field in progress */
    size_t at;
    uint64_t fields, delims, odd; /* odd: escapes and quoted line ends, of fields not ended */
    size_t pending;               /* the field in progress began in a block before, with some */

    s->nqueued = 0;
    s->row_start = fstart;
    s->row_line = s->lines + 1;
    s->fstart_lines = s->lines;
    s->fstart_cr = s->cr_at;
    s->fesc = 0;
    s->fcounted = 0;
    if (k->at == NO_BLOCK) {
        if (fstart >= s->len)
            goto hand_over;
        fast_block(s, k, fstart & ~(size_t)(BLOCK - 1), fstart, sse);
    }
    at = k->at;
    fields = k->fields;
    delims = k->delims;
    odd = k->escape | k->quoted_eol;
    pending = 0;
    for (;;) {
        while (!fields) {
            if (next_block(s, sse))
                goto hand_over;
            at = k->at;
            fields = k->fields;
            delims = k->delims;
            odd = k->escape | k->quoted_eol;
            pending = s->fesc | s->fcounted;
        }
        unsigned bit = (unsigned)__builtin_ctzll(fields);
        size_t x = at + bit;
        fields &= fields - 1;

        /* A field ends at x: [fstart, x), its text between quotes when it starts with one. The
         * usual case costs no branch but this one: no blanks, escapes or line ends to handle,
         * not empty (odd bytes have a class that is not 0 or 4 mod 4). buf[-1] is padding. */
        unsigned char c0 = buf[fstart], c1 = *(buf + x - 1), cx = buf[x];
        size_t quoted = c0 == '"';
        size_t a = fstart + quoted, end = x - quoted;
        if (__builtin_expect(((s->cls[c0] | s->cls[c1]) & 3) | (odd & (((uint64_t)2 << bit) - 1)) |
                                 pending,
                             0)) {
            struct odd f = odd_field(s, bit, fstart, ncells > row_first);
            odd = k->escape | k->quoted_eol;
            pending = 0;
            if (f.blank) {
                fstart = x + 1;
                continue;
            }
            a = f.a;
            end = f.end;
        }
        if (__builtin_expect(ncells == limit, 0)) { /* the cells are full, or the row is */
            s->ncells = ncells;
            s->row_first = row_first;
            s->row_bytes = 0;
            if (add_cell_slow(s, a, end - a) != 0) /* the fault is kept for after the batch */
                goto hand_over;
            cells = s->cells;
            ncells = s->ncells;
            limit = s->cells_cap < row_first + SL_CSV_SCAN_MAX_FIELDS
                        ? s->cells_cap
                        : row_first + SL_CSV_SCAN_MAX_FIELDS;
        } else {
            buf[end] = '\0';
            cells[ncells].off = a;
            cells[ncells].len = end - a;
            ncells++;
        }
        fstart = x + 1;
        if ((delims >> bit) & 1)
            continue;
        /* The row ends at x. */
        line_end(s, x, cx);
        if (s->span) /* straight into the span's rows (room made by span_scan) */
            s->rows[s->nrows++] = (struct sl_csv_row){(const char *)buf, cells + row_first,
                                                      ncells - row_first, s->row_line};
        else
            s->queue[s->nqueued] = (struct queued){row_first, ncells - row_first, s->row_line};
        s->nqueued++;
        row_first = ncells;
        s->row_start = fstart;
        s->row_line = s->lines + 1;
        s->fstart_lines = s->lines;
        s->fstart_cr = s->cr_at;
        limit = s->cells_cap < row_first + SL_CSV_SCAN_MAX_FIELDS
                    ? s->cells_cap
                    : row_first + SL_CSV_SCAN_MAX_FIELDS;
        if (s->nqueued == BATCH_ROWS || ncells - first >= BATCH_CELLS)
            break;
    }
    k->fields = fields;
    s->pos = fstart;
    goto out;

hand_over:
    k->at = NO_BLOCK;
    s->blk = NO_BLOCK;
    s->pos = fstart;
    s->state = ncells > row_first ? ST_FIELD : ST_ROW;
    s->lines = s->fstart_lines; /* those of the field in progress are counted again */
    s->cr_at = s->fstart_cr;
    s->row_bytes = 0;
    for (size_t i = row_first; i < ncells; i++)
        s->row_bytes += cells[i].len + 1;
out:
    s->ncells = ncells;
    s->row_first = row_first;
}

static __attribute__((noinline)) void fast_sse2(struct sl_csv_scan *s)
{
    fast(s, 1);
}

static __attribute__((noinline)) void fast_scalar(struct sl_csv_scan *s)
{
    fast(s, 0);
}

static __attribute__((noinline)) int scan_sse2(struct sl_csv_scan *s)
{
    return scan(s, 1);
}

static __attribute__((noinline)) int scan_scalar(struct sl_csv_scan *s)
{
    return scan(s, 0);
}

/* ---------------------------------------------------------------------------------------------
 * The buffer
 */

/* At the end of the stream: the row in progress ends, unless a quoted field is still open. */
static int finish(struct sl_csv_scan *s)
{
    int rc = 0;
    switch (s->state) {
    case ST_ROW:
        return 0;
    case ST_FIELD:
        rc = add_cell(s, s->len, 0);
        break;
    case ST_UNQUOTED: {
        size_t end = s->len;
        while (s->cls[s->buf[end - 1]] == C_BLANK)
            end--;
        rc = add_cell(s, s->fstart, end - s->fstart);
        break;
    }
    case ST_QUOTED:
        return sl_err_set(&s->fault, SL_EINVALID, "line %lld: unterminated quoted field",
                          s->row_line);
    case ST_MIGHT_END:
        rc = add_cell(s, s->fstart, s->out - s->spaces - 1 - s->fstart);
        break;
    }
    s->state = ST_ROW;
    s->pos = s->len;
    return rc ? rc : 1;
}

/* A buffer of cap bytes with PAD readable bytes before and after; the memory to free in *mem. */
static unsigned char *new_buffer(size_t cap, unsigned char **mem)
{
    *mem = aligned_alloc(BLOCK, PAD + cap + PAD);
    if (!*mem)
        return NULL;
    memset(*mem, 0, PAD + cap + PAD);
    return *mem + PAD;
}

static int grow(struct sl_csv_scan *s)
{
    if (s->cap >= RAW_MAX)
        return sl_err_set(&s->fault, SL_EINVALID, "line %lld: a row longer than %zu MiB",
                          s->row_line, SL_CSV_SCAN_MAX_ROW >> 20);
    size_t ncap = s->cap * 2 < RAW_MAX ? s->cap * 2 : RAW_MAX;
    unsigned char *mem, *nbuf = new_buffer(ncap, &mem);
    if (!nbuf)
        return sl_err_set(&s->fault, SL_ENOMEM, "out of memory reading line %lld", s->row_line);
    memcpy(nbuf, s->buf, s->len);
    free(s->mem);
    s->mem = mem;
    s->buf = nbuf;
    s->cap = ncap;
    return 0;
}

/*
 * Makes room and reads: moves the row in progress (or nothing, between rows) to the buffer's
 * start, grows the buffer when that row fills half of it, then reads once.
 */
static int refill(struct sl_csv_scan *s)
{
    size_t keep = s->state == ST_ROW ? s->pos : s->row_start;
    size_t text = s->state == ST_UNQUOTED ? s->pos - s->fstart
                  : s->state >= ST_QUOTED ? s->out - s->fstart
                                          : 0;
    if (text > SL_CSV_SCAN_MAX_FIELD)
        return sl_err_set(&s->fault, SL_EINVALID, "line %lld: a field longer than %zu MiB",
                          s->row_line, SL_CSV_SCAN_MAX_FIELD >> 20);
    if (keep > 0) {
        memmove(s->buf, s->buf + keep, s->len - keep);
        s->len -= keep;
        s->pos -= keep;
        s->base += (long long)keep;
        if (s->state != ST_ROW) {
            s->row_start -= keep;
            s->fstart -= keep;
            s->out -= keep;
            for (size_t i = s->row_first; i < s->ncells; i++)
                s->cells[i].off -= keep;
        }
    }
    s->blk = NO_BLOCK;
    s->fast.at = NO_BLOCK;
    int rc;
    if (s->len > s->cap / 2 && (rc = grow(s)) != 0)
        return rc;
    ssize_t n;
    if (s->read_errno) { /* the worker's read that failed, reported in its place in the rows */
        errno = s->read_errno;
        n = -1;
    } else {
        n = s->read(s->ctx, s->buf + s->len, s->cap - s->len);
    }
    if (n < 0)
        return sl_err_set(&s->fault, SL_EIO, "cannot read the file: %s", strerror(errno));
    if (n == 0)
        s->eof = 1;
    s->len += (size_t)n;
    return 0;
}

static int step(struct sl_csv_scan *s);
static int rows_sequential(struct sl_csv_scan *s, const struct sl_csv_row **rows, size_t *n,
                           struct sl_error *err);

/* ---------------------------------------------------------------------------------------------
 * Scanning ahead (AHEAD in the design above): a worker thread reads the stream into a ring of
 * segments, each cut at a row end, and the worker and the caller's thread scan them, each
 * segment whole by one scanner of its own (a span), while the caller takes the rows in order.
 */

#define NSLOTS 4 /* segments in the ring: one handed out, two scanned, one read, at once */

enum { SLOT_FREE, SLOT_FILLED, SLOT_SCANNING, SLOT_READY };

struct slot {
    struct sl_csv_scan *scan; /* a span: its buffer holds the segment, buf[0, len) */
    int state;                /* SLOT_*, under the lock */
    int dirty;       /* not cut: the sequential scanner takes over at its first byte (READY) */
    int last;        /* the stream ended after its bytes */
    int read_errno;  /* dirty: the read after its bytes failed with this */
    long long lines; /* line ends before it */
};

/* Where the segment being read may be cut (the worker's alone; see find_cut). */
struct cutter {
    size_t done;                 /* bytes of whole 64-byte blocks taken in: no bad quote there */
    uint64_t in_quotes, prev_ok; /* about byte done - 1: as in struct block */
    uint64_t close_last;
    long long lines; /* line ends in [0, done) */
    int bad;         /* the block at done holds a quote the fast path cannot read */
    size_t floor;    /* blocks below this one were looked at by an earlier call: no cut there */
};

struct ahead {
    struct sl_csv_scan *s; /* the scanner it reads for: callback, delimiter, options */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* any slot's state, stop or done */
    int stop;               /* the caller wants the worker to end */
    int joined;             /* it has: the ring stays until sl_csv_scan_free (see ahead_stop) */
    int done;               /* the worker has filled its last slot */
    int holding;            /* the caller has the rows of slots[head % NSLOTS] out */
    size_t filled, head;    /* slots filled, and handed out, since the start */
    struct slot slots[NSLOTS];
    /* The worker's alone. */
    const unsigned char *carry; /* bytes after the last cut: the next segment's start */
    size_t carry_len;
    long long lines; /* line ends before the next segment */
    int eof;         /* the stream has ended */
};

/* The carriage returns of the block at p, bit i for byte i. */
static uint64_t cr_mask(const unsigned char *p, int sse)
{
    uint64_t m = 0;
#ifdef __SSE2__
    if (sse) {
        const __m128i cr = _mm_set1_epi8('\r');
        for (int i = 0; i < BLOCK; i += 16)
            m |= (uint64_t)(unsigned)_mm_movemask_epi8(
                     _mm_cmpeq_epi8(_mm_load_si128((const __m128i *)(const void *)(p + i)), cr))
                 << i;
        return m;
    }
#endif
    for (int i = 0; i < BLOCK; i++)
        m |= (uint64_t)(p[i] == '\r') << i;
    return m;
}

/* Set bits; by hand, since the baseline x86-64 has no popcnt and the builtin calls libgcc. */
static inline long long bits(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555u;
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (long long)((x * 0x0101010101010101u) >> 56);
}

/* The line ends among `which` of the block at `at` whose line ends are eol: a CR, or an LF but
 * the one of a CRLF (whose CR may be the byte before the block). */
static long long lines_in(const unsigned char *buf, size_t at, uint64_t eol, uint64_t which,
                          int sse)
{
    eol &= which;
    if (!eol)
        return 0;
    uint64_t cr = cr_mask(buf + at, sse);
    uint64_t pairs = eol & ~cr & (cr << 1 | (uint64_t)(at && buf[at - 1] == '\r'));
    return bits(eol) - (pairs ? bits(pairs) : 0);
}

/*
 * The quotes of one whole block, read the way the fast path reads them: 1 and the block taken in
 * (the carries about its last byte), or 0 when it holds a quote the fast path cannot read. sep is
 * the delimiters and line ends, inside quotes or not: next to a quote that opens or closes by
 * parity, a delimiter or line end is outside quotes, so this is the fast path's test.
 */
static inline __attribute__((always_inline)) int cut_take(struct cutter *c, uint64_t quote,
                                                          uint64_t sep)
{
    uint64_t inside = prefix_xor(quote) ^ c->in_quotes;
    uint64_t open = quote & inside, close = quote & ~inside;
    uint64_t bad = (open & ~((sep | close) << 1 | c->prev_ok)) |
                   (close & ~((sep | open) >> 1) & (~(uint64_t)0 >> 1));
    if (c->close_last && !((sep | open) & 1))
        bad |= 1;
    if (bad)
        return 0;
    c->done += BLOCK;
    c->in_quotes = (uint64_t)0 - (inside >> 63);
    c->prev_ok = (sep | close) >> 63;
    c->close_last = close >> 63;
    return 1;
}

#ifdef __SSE2__
/* The SSE2 cut_forward: the masks as two movemasks a block, line ends counted in byte lanes. */
static void cut_forward_sse2(struct cutter *c, const unsigned char *buf, size_t len,
                             unsigned char delim)
{
    const __m128i quote = _mm_set1_epi8('"'), cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    const __m128i d = _mm_set1_epi8((char)delim);
    while (c->done + BLOCK <= len && !c->bad) {
        __m128i acc = _mm_setzero_si128(); /* line ends, per lane: 4 a block at most */
        long long pairs = 0;
        for (int n = 0; n < 63 && c->done + BLOCK <= len; n++) {
            const unsigned char *p = buf + c->done;
            uint64_t q = 0, sep = 0;
            __m128i any_cr = _mm_setzero_si128(), sum = _mm_setzero_si128();
            for (int i = 0; i < BLOCK; i += 16) {
                __m128i x = _mm_load_si128((const __m128i *)(const void *)(p + i));
                __m128i r = _mm_cmpeq_epi8(x, cr), l = _mm_cmpeq_epi8(x, lf);
                any_cr = _mm_or_si128(any_cr, r);
                sum = _mm_sub_epi8(_mm_sub_epi8(sum, r), l);
                q |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) << i;
                sep |= (uint64_t)(unsigned)_mm_movemask_epi8(
                           _mm_or_si128(_mm_or_si128(r, l), _mm_cmpeq_epi8(x, d)))
                       << i;
            }
            if (!cut_take(c, q, sep)) {
                c->bad = 1;
                break;
            }
            acc = _mm_add_epi8(acc, sum);
            if (__builtin_expect(_mm_movemask_epi8(any_cr) != 0 || p[-1] == '\r', 0)) {
                size_t at = c->done - BLOCK; /* CRLF counts once (its CR may be before p) */
                uint64_t eol = block_masks(buf + at, delim, 1).eol;
                pairs += bits(eol) - lines_in(buf, at, eol, ~(uint64_t)0, 1);
            }
        }
        __m128i s = _mm_sad_epu8(acc, _mm_setzero_si128());
        c->lines +=
            (long long)(_mm_cvtsi128_si64(s) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s))) - pairs;
    }
}
#endif

/* Takes in the whole blocks of buf[c->done, len) up to the first one with a quote the fast path
 * cannot read (c->bad), counting their line ends. */
static void cut_forward(struct cutter *c, const unsigned char *buf, size_t len, unsigned char delim,
                        int sse)
{
#ifdef __SSE2__
    if (sse) {
        cut_forward_sse2(c, buf, len, delim);
        return;
    }
#endif
    while (c->done + BLOCK <= len && !c->bad) {
        struct masks m = masks_scalar(buf + c->done, delim);
        if (!cut_take(c, m.quote, m.delim | m.eol))
            c->bad = 1;
        else
            c->lines += lines_in(buf, c->done - BLOCK, m.eol, ~(uint64_t)0, 0);
    }
}

/*
 * The line ends outside quotes by parity in the block at `at` (n bytes of it there), starting
 * inside quotes when in_quotes is all ones, before any quote the fast path cannot read there
 * (bad: with the carries of c, for the block at c->done; 0 for a block taken in, all good); *end
 * gets in_quotes after its last byte. A CR at len - 1 is none: its LF may come next.
 */
static uint64_t cut_ends(const struct cutter *c, const unsigned char *buf, size_t at, size_t len,
                         unsigned char delim, int sse, uint64_t in_quotes, int check,
                         uint64_t *eolp)
{
    size_t n = len - at < BLOCK ? len - at : BLOCK;
    struct masks m = block_masks(buf + at, delim, sse);
    uint64_t keep = n == BLOCK ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
    uint64_t quote = m.quote & keep, eol = m.eol & keep, sep = (m.delim & keep) | eol;
    uint64_t inside = prefix_xor(quote) ^ in_quotes;
    uint64_t before = ~(uint64_t)0;
    if (check) {
        uint64_t open = quote & inside, close = quote & ~inside;
        uint64_t bad = (open & ~((sep | close) << 1 | c->prev_ok)) |
                       (close & ~((sep | open) >> 1) & (~(uint64_t)0 >> 1));
        if (c->close_last && !((sep | open) & 1))
            bad |= 1;
        if (n < BLOCK) /* the byte after the last is still to come: it may make a quote right */
            bad &= ~((uint64_t)1 << (n - 1));
        before = bad ? ((uint64_t)1 << __builtin_ctzll(bad)) - 1 : ~(uint64_t)0;
    }
    uint64_t ends = eol & ~inside & before;
    if (at + n == len && buf[len - 1] == '\r')
        ends &= ~((uint64_t)1 << (n - 1));
    *eolp = eol;
    return ends;
}

/*
 * Looks at buf[0, len) (of which an earlier call looked at what it was given) for the last place
 * the segment may be cut: 0 when there is none yet; c->bad when the segment holds a quote the fast
 * path does not read the usual way, with no cut after it. Up to the first such quote the fast
 * path's reading of quotes (by parity) is libcsv's, so a line end outside quotes by parity ends
 * a row: the next segment starts one, which is all a span needs to give the rows the stream's
 * scanner would. (A NUL byte changes no parity, and its segment fails there, before any row after
 * it is handed out.) A CR is a cut only when the byte after it is there and not an LF (CRLF stays
 * whole). The whole blocks are read once, for quotes and line ends alone; the line ends outside
 * quotes are looked for from the end back, where the cut nearly always is: parity at a block's
 * start is parity at its end, and the parity of its quotes.
 */
static size_t find_cut(struct cutter *c, const unsigned char *buf, size_t len, unsigned char delim,
                       int sse, long long *lines)
{
    cut_forward(c, buf, len, delim, sse);
    uint64_t eol, ends, in_end = c->in_quotes;
    size_t floor = c->floor;
    c->floor = (len - 1) & ~(size_t)(BLOCK - 1);
    if (c->done < len) { /* the block at done: not whole, or with a bad quote */
        ends = cut_ends(c, buf, c->done, len, delim, sse, c->in_quotes, 1, &eol);
        if (ends) {
            unsigned e = 63 - (unsigned)__builtin_clzll(ends);
            *lines = c->lines + lines_in(buf, c->done, eol, ((uint64_t)2 << e) - 1, sse);
            return c->done + e + 1;
        }
    }
    long long after = 0; /* line ends from the block after the one looked at to done */
    for (size_t at = c->done; at > floor;) {
        at -= BLOCK;
        uint64_t quote = block_masks(buf + at, delim, sse).quote;
        uint64_t in_start = in_end ^ ((uint64_t)0 - (prefix_xor(quote) >> 63));
        ends = cut_ends(c, buf, at, len, delim, sse, in_start, 0, &eol);
        if (ends) {
            unsigned e = 63 - (unsigned)__builtin_clzll(ends);
            uint64_t upto = ((uint64_t)2 << e) - 1;
            *lines = c->lines - after - lines_in(buf, at, eol, ~upto, sse);
            return at + e + 1;
        }
        after += lines_in(buf, at, eol, ~(uint64_t)0, sse);
        in_end = in_start;
    }
    return 0;
}

/* The slot's bytes for the caller of read: the carry, then reads until there is a cut, the
 * stream ends or fails, or the segment cannot be cut (then it is dirty: read sequentially). */
static void fill(struct ahead *a, struct slot *f)
{
    struct sl_csv_scan *t = f->scan;
    struct cutter c = {0};
    size_t len = a->carry_len;
    memcpy(t->buf, a->carry, len);
    f->lines = a->lines;
    f->dirty = f->last = f->read_errno = 0;
    for (;;) {
        if (len > 0) {
            long long lines = 0;
            size_t cut = find_cut(&c, t->buf, len, a->s->delim, !a->s->scalar, &lines);
            if (cut) {
                a->carry = t->buf + cut;
                a->carry_len = len - cut;
                a->lines += lines;
                t->len = cut;
                return;
            }
            if (c.bad || len == t->cap) {
                f->dirty = 1;
                break;
            }
        }
        if (a->eof) {
            f->last = 1;
            break;
        }
        ssize_t n = a->s->read(a->s->ctx, t->buf + len, t->cap - len);
        if (n < 0) {
            f->read_errno = errno ? errno : EIO;
            f->dirty = 1;
            break;
        }
        if (n == 0)
            a->eof = 1;
        len += (size_t)n;
    }
    t->len = len;
    a->carry_len = 0;
}

/* Grows a span's rows; 0 or SL_ENOMEM (then in the fault). */
static int span_grow(struct sl_csv_scan *t)
{
    size_t ncap = t->rows_cap ? t->rows_cap * 2 : 1024;
    struct sl_csv_row *grown = realloc(t->rows, ncap * sizeof *grown);
    if (!grown)
        return sl_err_set(&t->fault, SL_ENOMEM, "out of memory reading line %lld", t->row_line);
    t->rows = grown;
    t->rows_cap = ncap;
    return 0;
}

/* The row the exact machine has ended (there is room: span_scan made it). */
static int span_add(struct sl_csv_scan *t)
{
    t->rows[t->nrows++] = (struct sl_csv_row){(const char *)t->buf, t->cells + t->row_first,
                                              t->ncells - t->row_first, t->row_line};
    return 0;
}

/*
 * Scans a slot's segment whole, into t->rows (and the fault, after them, when it fails). The
 * cells are made room for first, one per byte and one more (each cell but the stream's last
 * ends at a byte of its own), so that they never move and the rows can point at them.
 */
static void span_scan(struct sl_csv_scan *t, long long lines)
{
    t->pos = 0;
    t->base = 0;
    t->eof = 1;
    t->state = ST_ROW;
    t->lines = lines;
    t->cr_at = -2; /* a segment starts after an LF or a lone CR: no pair to finish */
    t->blk = NO_BLOCK;
    t->fast.at = NO_BLOCK;
    t->ncells = t->row_first = t->nrows = 0;
    t->fault = (struct sl_error){0};
    if (t->cells_cap < t->len + 2) {
        struct sl_csv_cell *cells = realloc(t->cells, (t->len + 2) * sizeof *cells);
        if (!cells) {
            sl_err_set(&t->fault, SL_ENOMEM, "out of memory reading line %lld", lines + 1);
            return;
        }
        t->cells = cells;
        t->cells_cap = t->len + 2;
    }
    int rc;
    do {
        if (t->rows_cap - t->nrows < BATCH_ROWS && span_grow(t) != 0)
            return;
    } while ((rc = step(t)) == 2 || (rc == 1 && span_add(t) == 0));
}

/* Under the lock: the first filled slot not handed out yet, taken for scanning; or NULL. */
static struct slot *take_filled(struct ahead *a)
{
    for (size_t i = a->head; i < a->filled; i++) {
        struct slot *t = &a->slots[i % NSLOTS];
        if (t->state == SLOT_FILLED) {
            t->state = SLOT_SCANNING;
            return t;
        }
    }
    return NULL;
}

/* Under the lock: scans a taken slot with the lock let go meanwhile. */
static void scan_taken(struct ahead *a, struct slot *t)
{
    pthread_mutex_unlock(&a->lock);
    span_scan(t->scan, t->lines);
    pthread_mutex_lock(&a->lock);
    t->state = SLOT_READY;
    pthread_cond_broadcast(&a->changed);
}

/* The worker: fills free slots in order (the only caller of read meanwhile), else scans. */
static void *worker(void *arg)
{
    struct ahead *a = arg;
    pthread_mutex_lock(&a->lock);
    while (!a->stop) {
        struct slot *f = &a->slots[a->filled % NSLOTS], *t;
        if (!a->done && f->state == SLOT_FREE) {
            pthread_mutex_unlock(&a->lock);
            fill(a, f);
            pthread_mutex_lock(&a->lock);
            f->state = f->dirty ? SLOT_READY : SLOT_FILLED;
            a->done = f->dirty || f->last;
            a->filled++;
            pthread_cond_broadcast(&a->changed);
        } else if ((t = take_filled(a)) != NULL) {
            scan_taken(a, t);
        } else if (a->done) {
            break;
        } else {
            pthread_cond_wait(&a->changed, &a->lock);
        }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

static void ahead_free(struct ahead *a)
{
    for (size_t i = 0; i < NSLOTS; i++)
        sl_csv_scan_free(a->slots[i].scan);
    pthread_cond_destroy(&a->changed);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/*
 * Stops the worker (after the read or scan it is in) and waits for it. The ring stays until the
 * scanner is freed: the last rows handed out stay readable after the end, as they do without
 * the worker.
 */
static void ahead_stop(struct sl_csv_scan *s)
{
    struct ahead *a = s->ahead;
    if (a->joined)
        return;
    pthread_mutex_lock(&a->lock);
    a->stop = 1;
    pthread_cond_broadcast(&a->changed);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    a->joined = 1;
}

/* A span scanner for a slot: the stream scanner's options and delimiter, a buffer its size. */
static struct sl_csv_scan *span_new(const struct sl_csv_scan *s)
{
    struct sl_csv_scan_opts opts = {NULL, NULL, s->cap, s->scalar, s->exact, 0};
    struct sl_csv_scan *t;
    if (sl_csv_scan_new(&opts, &t) != 0)
        return NULL;
    t->span = t->started = 1;
    t->delim = s->delim;
    memcpy(t->cls, s->cls, sizeof t->cls);
    return t;
}

/*
 * At the first rows: starts the worker when the stream is worth it (threaded 1: its first read
 * filled the buffer; 2: always), from the bytes read so far. Stays sequential when the first
 * read fails, or the stream has ended, or memory or a thread cannot be had.
 */
static void ahead_start(struct sl_csv_scan *s)
{
    if (s->len == s->pos && !s->eof && refill(s) != 0)
        return; /* the fault is returned by the sequential path */
    if (s->eof || (s->threaded == 1 && s->len < s->cap))
        return;
    struct ahead *a = calloc(1, sizeof *a);
    if (!a)
        return;
    a->s = s;
    a->carry = s->buf + s->pos;
    a->carry_len = s->len - s->pos;
    a->lines = s->lines;
    for (size_t i = 0; i < NSLOTS; i++)
        if (!(a->slots[i].scan = span_new(s)))
            goto fail;
    if (pthread_mutex_init(&a->lock, NULL) != 0)
        goto fail;
    if (pthread_cond_init(&a->changed, NULL) != 0) {
        pthread_mutex_destroy(&a->lock);
        goto fail;
    }
    if (pthread_create(&a->thread, NULL, worker, a) != 0) {
        ahead_free(a);
        return;
    }
    s->ahead = a;
    return;
fail:
    for (size_t i = 0; i < NSLOTS; i++)
        sl_csv_scan_free(a->slots[i].scan);
    free(a);
}

/*
 * A dirty slot: the worker is stopped, and the stream's scanner goes on sequentially from the
 * slot's first byte (a row start), with the slot's buffer as its own, then the worker's ending:
 * the stream's end, or its failed read, reported when refill comes to it.
 */
static void take_over(struct sl_csv_scan *s, struct slot *h)
{
    struct sl_csv_scan *t = h->scan;
    unsigned char *mem = s->mem, *buf = s->buf;
    size_t cap = s->cap;
    s->mem = t->mem;
    s->buf = t->buf;
    s->cap = t->cap;
    t->mem = mem;
    t->buf = buf;
    t->cap = cap;
    s->len = t->len;
    s->pos = 0;
    s->base = 0;
    s->cr_at = -2;
    s->lines = h->lines;
    s->state = ST_ROW;
    s->eof = h->last;
    s->read_errno = h->read_errno;
    s->blk = NO_BLOCK;
    s->fast.at = NO_BLOCK;
    s->ncells = s->row_first = 0;
    ahead_stop(s);
}

/* The stream has ended in order, or failed: the worker goes, and the scanner stays at its end. */
static int ahead_end(struct sl_csv_scan *s, const struct sl_error *fault, struct sl_error *err)
{
    ahead_stop(s);
    s->pos = s->len;
    s->state = ST_ROW;
    s->eof = 1;
    if (!fault)
        return 0;
    s->fault = *fault;
    if (err)
        *err = s->fault;
    return s->fault.code;
}

/*
 * The rows of the next segment, in order: releases the one handed out before, then waits for
 * the next to be scanned, scanning it (or a later one, while the worker scans it) meanwhile.
 */
static int ahead_rows(struct sl_csv_scan *s, const struct sl_csv_row **rows, size_t *n,
                      struct sl_error *err)
{
    struct ahead *a = s->ahead;
    pthread_mutex_lock(&a->lock);
    for (;;) {
        struct slot *h = &a->slots[a->head % NSLOTS], *t;
        if (a->holding) {
            if (h->scan->fault.code) { /* after its rows, the error that stopped them */
                struct sl_error fault = h->scan->fault;
                pthread_mutex_unlock(&a->lock);
                return ahead_end(s, &fault, err);
            }
            a->holding = 0;
            h->state = SLOT_FREE;
            a->head++;
            pthread_cond_broadcast(&a->changed);
            continue;
        }
        if (a->head == a->filled && a->done) {
            pthread_mutex_unlock(&a->lock);
            return ahead_end(s, NULL, err);
        }
        if (a->head < a->filled && h->state == SLOT_FILLED) {
            h->state = SLOT_SCANNING;
            scan_taken(a, h);
        }
        if (a->head < a->filled && h->state == SLOT_READY) {
            if (h->dirty) {
                pthread_mutex_unlock(&a->lock);
                take_over(s, h);
                return rows_sequential(s, rows, n, err);
            }
            a->holding = 1;
            if (h->scan->nrows == 0)
                continue;
            *rows = h->scan->rows;
            *n = h->scan->nrows;
            pthread_mutex_unlock(&a->lock);
            return 1;
        }
        if ((t = take_filled(a)) != NULL) /* the next is being read or scanned: help */
            scan_taken(a, t);
        else
            pthread_cond_wait(&a->changed, &a->lock);
    }
}

/* ---------------------------------------------------------------------------------------------
 * The interface
 */

static void set_classes(struct sl_csv_scan *s)
{
    memset(s->cls, C_PLAIN, sizeof s->cls);
    s->cls[' '] = s->cls['\t'] = C_BLANK;
    s->cls['\r'] = s->cls['\n'] = C_EOL;
    s->cls['"'] = C_QUOTE;
    s->cls[0] = C_NUL;
    s->cls[s->delim] = C_DELIM;
}

int sl_csv_scan_new(const struct sl_csv_scan_opts *opts, struct sl_csv_scan **out)
{
    struct sl_csv_scan *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return SL_ENOMEM;
    s->read = opts->read;
    s->ctx = opts->ctx;
    s->scalar = opts->scalar;
    s->exact = opts->exact;
    s->threaded = opts->threaded;
    s->cap = opts->chunk ? (opts->chunk + BLOCK - 1) & ~(size_t)(BLOCK - 1) : SL_CSV_SCAN_CHUNK;
    if (!(s->buf = new_buffer(s->cap, &s->mem))) {
        free(s);
        return SL_ENOMEM;
    }
    s->blk = NO_BLOCK;
    s->fast.at = NO_BLOCK;
    s->cr_at = -2;
    s->delim = ',';
    set_classes(s);
    *out = s;
    return 0;
}

void sl_csv_scan_free(struct sl_csv_scan *s)
{
    if (!s)
        return;
    if (s->ahead) {
        ahead_stop(s);
        ahead_free(s->ahead);
    }
    free(s->mem);
    free(s->cells);
    free(s->rows);
    free(s);
}

int sl_csv_scan_peek(struct sl_csv_scan *s, const unsigned char **bytes, size_t *n,
                     struct sl_error *err)
{
    int rc = s->fault.code;
    if (rc == 0 && s->len == s->pos && !s->eof && !s->started)
        rc = refill(s);
    if (rc) {
        if (err)
            *err = s->fault;
        return rc;
    }
    *bytes = s->buf + s->pos;
    *n = s->len - s->pos;
    return 0;
}

void sl_csv_scan_skip(struct sl_csv_scan *s, size_t n)
{
    if (!s->started && n <= s->len - s->pos)
        s->pos += n;
}

void sl_csv_scan_set_delim(struct sl_csv_scan *s, unsigned char delim)
{
    if (s->started || delim == '"' || delim == '\r' || delim == '\n' || delim == 0 || delim == ' ')
        return;
    s->delim = delim;
    set_classes(s);
    s->blk = NO_BLOCK;
    s->fast.at = NO_BLOCK;
}

/*
 * The next rows into the scanner: 2 with s->nqueued rows of the fast path in the queue, 1 with
 * one row of the exact machine (cells row_first .. ncells), 0 at the end, or an SL_E* code. Cells
 * start again from 0 at each row start, except in a span, which keeps them all.
 */
static int step(struct sl_csv_scan *s)
{
    int rc = s->fault.code;
    while (rc == 0) {
        if (s->state == ST_ROW)
            s->row_first = s->ncells = s->span ? s->ncells : 0;
        /* Between rows, the fast path first (not in a buffer grown past the field cap). */
        if (s->state == ST_ROW && s->cap <= SL_CSV_SCAN_MAX_FIELD && !s->exact) {
            if (s->scalar)
                fast_scalar(s);
            else
                fast_sse2(s);
            if (s->nqueued > 0)
                return 2;
            if ((rc = s->fault.code) != 0)
                break;
        }
        if ((rc = s->scalar ? scan_scalar(s) : scan_sse2(s)) != 0)
            break;
        if (s->eof) {
            rc = finish(s);
            break;
        }
        rc = refill(s);
    }
    return rc;
}

static int rows_sequential(struct sl_csv_scan *s, const struct sl_csv_row **rows, size_t *n,
                           struct sl_error *err)
{
    int rc = step(s);
    if (rc == 2) {
        for (size_t i = 0; i < s->nqueued; i++)
            s->batch[i] = (struct sl_csv_row){(const char *)s->buf, s->cells + s->queue[i].first,
                                              s->queue[i].count, s->queue[i].line};
        *rows = s->batch;
        *n = s->nqueued;
        return 1;
    }
    if (rc == 1) {
        s->batch[0] = (struct sl_csv_row){(const char *)s->buf, s->cells + s->row_first,
                                          s->ncells - s->row_first, s->row_line};
        *rows = s->batch;
        *n = 1;
        return 1;
    }
    if (rc < 0 && err)
        *err = s->fault;
    return rc;
}

int sl_csv_scan_rows(struct sl_csv_scan *s, const struct sl_csv_row **rows, size_t *n,
                     struct sl_error *err)
{
    if (!s->started) {
        s->started = 1;
        if (s->threaded && !s->fault.code)
            ahead_start(s);
    }
    if (s->ahead && !s->ahead->joined && !s->fault.code)
        return ahead_rows(s, rows, n, err);
    if (s->fault.code) {
        if (err)
            *err = s->fault;
        return s->fault.code;
    }
    return rows_sequential(s, rows, n, err);
}
