/*
 * test_csv_scan: the CSV tokenizer (src/import/csv_scan.c).
 *
 * Every input is scanned several ways that must all give the same rows: special bytes found by
 * SSE2 and by the portable loop; the fast path and the exact machine alone; the whole input in
 * one read and in reads of a few bytes (so rows, fields, CRLF pairs and quotes straddle buffer
 * refills), with a buffer of the default size and one of 64 bytes (so it grows); and read and
 * scanned ahead on a second thread, in segments of a few hundred bytes to the default size
 * (so rows, CRLF pairs and irregular quotes meet segment cuts, and the scanner takes over
 * sequentially where a segment cannot be cut). Hand-made inputs (libcsv's dialect, line numbers,
 * errors, caps) are compared with an expected dump; random inputs heavy in special bytes are
 * compared across the ways; random files written by Python's csv module are compared with the
 * fields Python wrote. Then the second thread's own cases: closed in the middle, a read that
 * fails in the middle, one-byte reads.
 */
#include "testutil.h"

#include "import/csv_scan.h"
#include "util/err.h"

#include <pthread.h>

/* ---------------------------------------------------------------------------------------------
 * Scanning a buffer, several ways
 */

struct source {
    const unsigned char *data;
    size_t len, pos;
    size_t piece; /* bytes per read at most (0: as many as asked) */
    uint32_t seed;
    size_t fail_at;         /* a read from here on fails with EIO (0: never) */
    pthread_t owner;        /* the test's thread */
    _Atomic size_t reads;   /* calls */
    _Atomic size_t foreign; /* calls from another thread than the owner */
};

static ssize_t read_source(void *ctx, void *buf, size_t cap)
{
    struct source *src = ctx;
    src->reads++;
    if (!pthread_equal(pthread_self(), src->owner))
        src->foreign++;
    if (src->fail_at && src->pos >= src->fail_at) {
        errno = EIO;
        return -1;
    }
    size_t n = src->len - src->pos;
    if (n > cap)
        n = cap;
    if (src->piece && n > 0) { /* a random size from 1 to piece */
        size_t k = 1 + sl_test_next_random(&src->seed) % src->piece;
        if (n > k)
            n = k;
    }
    memcpy(buf, src->data + src->pos, n);
    src->pos += n;
    return (ssize_t)n;
}

struct way {
    int scalar, exact;
    size_t chunk, piece;
    int threaded;
};

static const struct way ways[] = {
    {0, 0, 0, 0, 0},   {1, 0, 0, 0, 0},   {0, 1, 0, 0, 0},   {1, 1, 0, 0, 0},     {0, 0, 64, 7, 0},
    {1, 0, 64, 3, 0},  {0, 1, 64, 1, 0},  {0, 0, 0, 300, 0}, {0, 0, 0, 0, 2},     {0, 0, 256, 0, 2},
    {1, 0, 320, 5, 2}, {0, 1, 384, 0, 2}, {0, 0, 128, 1, 2}, {0, 0, 1024, 90, 2},
};
#define NWAYS (sizeof ways / sizeof ways[0])

/* Escapes a field's bytes for a one-line dump: \n \r \t \\ and | as \| . */
static void put_escaped(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\\' || c == '|')
            fprintf(f, "\\%c", c);
        else
            fputc(c, f);
    }
}

/*
 * Scans data one way into a dump: a line per row, "L<line>:" then its fields separated by |,
 * and "error: <message>" at the end when the scanner fails. Checks on the way that each field is
 * NUL-terminated and that the end and errors stay where they are.
 */
static char *scan_dump_failing(const void *data, size_t len, unsigned char delim,
                               const struct way *w, size_t fail_at)
{
    struct source src = {
        .data = data, .len = len, .piece = w->piece, .seed = 12345, .fail_at = fail_at};
    struct sl_csv_scan_opts opts = {read_source, &src, w->chunk, w->scalar, w->exact, w->threaded};
    struct sl_csv_scan *s = NULL;
    struct sl_error err = {0};
    check_rc(sl_csv_scan_new(&opts, &s), 0, &err);
    sl_csv_scan_set_delim(s, delim);
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    assert_non_null(f);
    const struct sl_csv_row *rows;
    size_t n;
    int rc;
    while ((rc = sl_csv_scan_rows(s, &rows, &n, &err)) == 1) {
        assert_true(n >= 1);
        for (size_t r = 0; r < n; r++) {
            assert_true(rows[r].count >= 1);
            fprintf(f, "L%lld:", rows[r].line);
            for (size_t i = 0; i < rows[r].count; i++) {
                const char *v = rows[r].base + rows[r].cells[i].off;
                size_t vl = rows[r].cells[i].len;
                assert_int_equal(v[vl], '\0');
                if (i)
                    fputc('|', f);
                put_escaped(f, v, vl);
            }
            fputc('\n', f);
        }
    }
    if (rc < 0) {
        fprintf(f, "error: %s", err.msg);
        struct sl_error again = {0};
        assert_int_equal(sl_csv_scan_rows(s, &rows, &n, &again), rc); /* sticky */
        check_str(again.msg, err.msg);
    } else {
        assert_int_equal(sl_csv_scan_rows(s, &rows, &n, &err), 0); /* the end stays the end */
    }
    assert_int_equal(fclose(f), 0);
    sl_csv_scan_free(s);
    return text;
}

static char *scan_dump(const void *data, size_t len, unsigned char delim, const struct way *w)
{
    return scan_dump_failing(data, len, delim, w, 0);
}

/* Every way must give `want` (or, want NULL, the same as the first way); returns that dump. */
static char *check_ways(const void *data, size_t len, unsigned char delim, const char *want)
{
    char *first = scan_dump(data, len, delim, &ways[0]);
    if (want && strcmp(first, want) != 0)
        fail_msg("scanning '%.*s' gave\n%s\nexpected\n%s", (int)(len < 200 ? len : 200),
                 (const char *)data, first, want);
    for (size_t i = 1; i < NWAYS; i++) {
        char *got = scan_dump(data, len, delim, &ways[i]);
        if (strcmp(got, first) != 0)
            fail_msg(
                "way %zu (scalar %d, exact %d, chunk %zu, reads of %zu, threaded %d) gave\n%s\n"
                "the first way gave\n%s\ninput: '%.*s'",
                i, ways[i].scalar, ways[i].exact, ways[i].chunk, ways[i].piece, ways[i].threaded,
                got, first, (int)(len < 300 ? len : 300), (const char *)data);
        free(got);
    }
    return first;
}

static void check_scan(const char *text, const char *want)
{
    free(check_ways(text, strlen(text), ',', want));
}

/* The scan must end in an error holding frag, after the rows of want_prefix. */
static void check_error(const void *data, size_t len, const char *want_prefix, const char *frag)
{
    char *got = check_ways(data, len, ',', NULL);
    const char *e = strstr(got, "error: ");
    if (!e || strncmp(got, want_prefix, strlen(want_prefix)) != 0 || !strstr(e, frag))
        fail_msg("dump is '%s', expected it to start with '%s' and end in an error with '%s'", got,
                 want_prefix, frag);
    free(got);
}

/* ---------------------------------------------------------------------------------------------
 * Hand-made inputs
 */

static void test_rows_and_fields(void **state)
{
    (void)state;
    check_scan("a,b,c\n1,2,3\n", "L1:a|b|c\nL2:1|2|3\n");
    check_scan("a,b\n1,2", "L1:a|b\nL2:1|2\n"); /* no line end at the end */
    check_scan("", "");
    check_scan("x", "L1:x\n");
    /* CRLF is one line end; a lone CR is one too. */
    check_scan("a,b\r\n1,2\r\n", "L1:a|b\nL2:1|2\n");
    check_scan("a\rb\rc", "L1:a\nL2:b\nL3:c\n");
    /* Empty fields, and a row of empty fields is still a row here (the reader skips it). */
    check_scan(",a,\n,,\n", "L1:|a|\nL2:||\n");
    check_scan("a,\n", "L1:a|\n");
    check_scan("a,", "L1:a|\n");
}

static void test_blank_lines_and_blanks(void **state)
{
    (void)state;
    /* Blank lines and lines of blanks give no row; lines count them all. */
    check_scan("\n\r\n  \n\t\na\n\n\nb\n", "L5:a\nL8:b\n");
    /* Blanks around unquoted fields are trimmed, inside kept; quoted ones are kept. */
    check_scan(" a , b b ,\tc\t\n", "L1:a|b b|c\n");
    check_scan("\" a \",\"\tb\"\n", "L1: a |\\tb\n");
    /* A tab delimiter is not a blank. */
    free(check_ways("a\t b \t\tc\n", 9, '\t', "L1:a|b||c\n"));
    /* Blanks before a quote are skipped; after the closing quote, dropped. */
    check_scan("  \"x,y\"  ,z\n", "L1:x,y|z\n");
}

static void test_quotes(void **state)
{
    (void)state;
    /* Delimiters, line ends and "" inside quotes. */
    check_scan("\"a,b\",\"c\nd\",\"e\"\"f\"\n", "L1:a,b|c\\nd|e\"f\n");
    check_scan("\"\",\"\"\"\",\"\"\"\"\"\"\"\"\n", "L1:|\"|\"\"\"\n");
    check_scan("\"x\"\"\n\"\"y\",z\r\nq\n", "L1:x\"\\n\"y|z\nL3:q\n");
    /* A quote inside an unquoted field is text. */
    check_scan("5\" pipe,a\"b\"c\n", "L1:5\" pipe|a\"b\"c\n");
    /* libcsv's reading of a quote followed by text: the quote is text, the field stays quoted. */
    check_scan("\"a\"b,c\",d\n", "L1:a\"b,c|d\n");
    check_scan("\"a\" \"b\",c\n", "L1:a\" \"b|c\n");
    check_scan("\"a\" x\",y\n", "L1:a\" x|y\n");
    check_error("\"a\" x\n", 6, "", "line 1: unterminated quoted field"); /* x: still quoted */
    check_scan("\"a\"  \n", "L1:a\n");
    check_scan("\"a\"", "L1:a\n");
    check_scan("\"a\" ", "L1:a\n");
    /* Quoted fields over many 64-byte blocks, with escapes on both sides of block edges. */
    char big[700];
    size_t n = 0;
    big[n++] = '"';
    for (int i = 0; i < 100; i++) {
        memcpy(big + n, i % 3 ? "ab\"\"c" : "a,\n\"\"", 5);
        n += 5;
    }
    memcpy(big + n, "\",x\n", 4);
    n += 4;
    char *dump = check_ways(big, n, ',', NULL);
    assert_non_null(strstr(dump, "L1:a,\\n\"ab\"cab\"ca,\\n\"ab\"c"));
    assert_non_null(strstr(dump, "|x\n"));
    free(dump);
}

static void test_line_numbers(void **state)
{
    (void)state;
    /* Lines inside quotes count, CRLF inside quotes counts once. */
    check_scan("\"a\r\nb\",c\r\n\"d\n\ne\"\r\nf\n", "L1:a\\r\\nb|c\nL3:d\\n\\ne\nL6:f\n");
    /* A CR as the last byte of a read, then the LF of its pair. */
    check_scan("a\r\n\r\n\r\nb\r\n", "L1:a\nL4:b\n");
}

static void test_errors(void **state)
{
    (void)state;
    const char *t1 = "a,b\n1,\"x\ny\"\n2,\"open\n3,4\n";
    check_error(t1, strlen(t1), "L1:a|b\nL2:1|x\\ny\n", "line 4: unterminated quoted field");
    check_error("\"", 1, "", "line 1: unterminated quoted field");
    const char t2[] = "a,b\n1,2\r\n3,\0\n";
    check_error(t2, sizeof t2 - 1, "L1:a|b\nL2:1|2\n", "line 3: NUL byte; is this a text file?");
    const char t3[] = "a\n\"x\n\0\"\n";
    check_error(t3, sizeof t3 - 1, "L1:a\n", "line 3: NUL byte");
    const char t4[] = "\0";
    check_error(t4, 1, "", "line 1: NUL byte");
}

static void test_caps(void **state)
{
    (void)state;
    /* 65536 fields are fine, 65537 are not. */
    size_t n = 65535;
    char *text = malloc(n + 8);
    assert_non_null(text);
    memcpy(text, "a\n", 2);
    memset(text + 2, ',', n);
    memcpy(text + 2 + n, "\nb\n", 3);
    char *dump = check_ways(text, n + 5, ',', NULL);
    assert_non_null(strstr(dump, "\nL3:b\n"));
    assert_null(strstr(dump, "error"));
    free(dump);
    text[2 + n] = ',';
    check_error(text, n + 5, "L1:a\n", "line 2: more than 65536 fields in one row");
    free(text);

    /* A field over 16 MiB, unquoted and quoted (the buffer grows for it, then refuses). */
    size_t big = ((size_t)16 << 20) + 10;
    text = malloc(big + 16);
    assert_non_null(text);
    memcpy(text, "a\nx", 3);
    memset(text + 3, 'y', big);
    memcpy(text + 3 + big, "\n", 1);
    struct way one = {0, 0, 0, 0, 0};
    char *got = scan_dump(text, big + 4, ',', &one);
    if (!strstr(got, "line 2: a field longer than 16 MiB"))
        fail_msg("dump ends with '%s'", got + (strlen(got) > 100 ? strlen(got) - 100 : 0));
    free(got);
    text[2] = '"';
    got = scan_dump(text, big + 4, ',', &one);
    if (!strstr(got, "line 2: a field longer than 16 MiB"))
        fail_msg("dump ends with '%s'", got + (strlen(got) > 100 ? strlen(got) - 100 : 0));
    free(got);
    /* A field of 1 MiB grows the buffer, and is fine. */
    memset(text + 2, 'z', 1 << 20);
    memcpy(text + 2 + (1 << 20), ",end\n", 5);
    got = check_ways(text, 2 + (1 << 20) + 5, ',', NULL);
    assert_non_null(strstr(got, "|end\n"));
    free(got);
    free(text);
}

static void test_peek_and_skip(void **state)
{
    (void)state;
    static const char text[] = "\xef\xbb\xbf"
                               "a;b\nc;d\n";
    struct source src = {
        .data = (const unsigned char *)text, .len = sizeof text - 1, .piece = 4, .seed = 7};
    struct sl_csv_scan_opts opts = {read_source, &src, 0, 0, 0, 0};
    struct sl_csv_scan *s = NULL;
    struct sl_error err = {0};
    check_rc(sl_csv_scan_new(&opts, &s), 0, &err);
    const unsigned char *head;
    size_t n;
    check_rc(sl_csv_scan_peek(s, &head, &n, &err), 0, &err);
    assert_int_equal(n, 4); /* one read: of 1 to 4 bytes here, of 4 with this seed */
    assert_memory_equal(head, text, n);
    check_rc(sl_csv_scan_peek(s, &head, &n, &err), 0, &err); /* and no more */
    assert_int_equal(n, 4);
    sl_csv_scan_skip(s, 3);
    sl_csv_scan_set_delim(s, ';');
    const struct sl_csv_row *rows;
    check_rc(sl_csv_scan_rows(s, &rows, &n, &err), 1, &err);
    assert_int_equal(rows[0].count, 2);
    check_str(rows[0].base + rows[0].cells[0].off, "a");
    sl_csv_scan_free(s);
}

/* ---------------------------------------------------------------------------------------------
 * Random inputs: every way must agree, on bytes chosen to hit every state and block edge.
 */

static void test_random_inputs_all_ways_agree(void **state)
{
    (void)state;
    static const char *const parts[] = {"a",  "bc",  " ",        "\t",    ",",  ";",
                                        "\"", "\"",  "\"\"",     "\r",    "\n", "\r\n",
                                        "|",  "xyz", "\xc3\xa9", "\"a\","};
    uint32_t seed = 2026;
    unsigned char *buf = malloc(20000);
    assert_non_null(buf);
    for (int iter = 0; iter < 600; iter++) {
        size_t target = iter % 50 == 49 ? 4000 + sl_test_next_random(&seed) % 12000
                                        : sl_test_next_random(&seed) % 300;
        int mode = (int)(sl_test_next_random(&seed) % 3);
        size_t n = 0;
        while (n < target) {
            uint32_t r = sl_test_next_random(&seed) % 100;
            size_t idx = mode == 0   ? sl_test_next_random(&seed) % 16
                         : mode == 1 ? (r < 70 ? 13 : sl_test_next_random(&seed) % 16)
                                     : (r < 50   ? 1
                                        : r < 70 ? 4
                                        : r < 80 ? 15
                                        : r < 90 ? 10
                                                 : 8);
            size_t l = strlen(parts[idx]);
            memcpy(buf + n, parts[idx], l);
            n += l;
        }
        if (iter % 97 == 0) /* now and then a NUL somewhere */
            buf[sl_test_next_random(&seed) % n] = '\0';
        static const unsigned char delims[] = {',', ';', '\t', '|'};
        free(check_ways(buf, n, delims[iter % 4], NULL));
    }
    free(buf);
}

/* ---------------------------------------------------------------------------------------------
 * Random files written by Python's csv module: the fields must be the ones Python wrote.
 */

static const char gen_py[] =
    "import csv, random, sys\n"
    "TAB, NL, CR = chr(9), chr(10), chr(13)\n"
    "PARTS = ['a', 'b', 'Z', '0', ' ', 'x y', chr(233), chr(8364), chr(128512), '\"', ',', ';',\n"
    "         TAB, '|', NL, CR + NL, CR, \"'\", 'longer text ' * 3]\n"
    "out, seed, nrows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
    "rnd = random.Random(seed)\n"
    "ncols = rnd.randint(1, 9)\n"
    "delim = rnd.choice([',', ';', TAB, '|'])\n"
    "term = rnd.choice([CR + NL, NL])\n"
    "quoting = csv.QUOTE_ALL if rnd.random() < 0.3 else csv.QUOTE_MINIMAL\n"
    "def value():\n"
    "    if rnd.random() < 0.15:\n"
    "        return ''\n"
    "    s = ''.join(rnd.choice(PARTS) for _ in range(rnd.randint(1, 14)))\n"
    "    if quoting == csv.QUOTE_MINIMAL:\n"
    "        s = s.replace(CR, '').strip(' ' + TAB)  # blanks of unquoted fields are trimmed\n"
    "    return s\n"
    "f = open(out + '/data.csv', 'w', newline='', encoding='utf-8')\n"
    "e = open(out + '/expected.txt', 'w')\n"
    "e.write('%d\\n' % ord(delim))\n"
    "w = csv.writer(f, delimiter=delim, lineterminator=term, quoting=quoting)\n"
    "for _ in range(nrows):\n"
    "    row = [value() for _ in range(max(1, ncols + rnd.choice([0, 0, 0, -1, 1])))]\n"
    "    w.writerow(row)\n"
    "    e.write(' '.join(v.encode().hex() or '-' for v in row) + NL)\n"
    "f.close()\n"
    "e.close()\n";

static void hex(char *out, const char *s, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[(unsigned char)s[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)s[i] & 15];
    }
    out[2 * len] = '\0';
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *text = NULL;
    size_t cap = 0;
    FILE *m = open_memstream(&text, &cap);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    *len = cap;
    return text;
}

static void check_python_file(const char *dir, unsigned seed, int rows)
{
    char script[512], cmd[1200], path[512];
    snprintf(script, sizeof script, "%s/gen.py", dir);
    if (access(script, F_OK) != 0)
        sl_test_write_text(script, gen_py);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %u %d", script, dir, seed, rows);
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
    size_t len, want_len;
    snprintf(path, sizeof path, "%s/data.csv", dir);
    char *data = read_all(path, &len);
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    char *want = read_all(path, &want_len);
    char *line_end = strchr(want, '\n');
    assert_non_null(line_end);
    unsigned char delim = (unsigned char)strtol(want, NULL, 10);

    for (size_t w = 0; w < NWAYS; w++) {
        struct source src = {
            .data = (const unsigned char *)data, .len = len, .piece = ways[w].piece, .seed = seed};
        struct sl_csv_scan_opts opts = {read_source,    &src,          ways[w].chunk,
                                        ways[w].scalar, ways[w].exact, ways[w].threaded};
        struct sl_csv_scan *s = NULL;
        struct sl_error err = {0};
        check_rc(sl_csv_scan_new(&opts, &s), 0, &err);
        sl_csv_scan_set_delim(s, delim);
        const char *expect = line_end + 1;
        const struct sl_csv_row *batch;
        size_t n;
        int rc;
        long long row_no = 0;
        while ((rc = sl_csv_scan_rows(s, &batch, &n, &err)) == 1) {
            for (size_t r = 0; r < n; r++, row_no++) {
                char *got = NULL;
                size_t got_len = 0;
                FILE *g = open_memstream(&got, &got_len);
                for (size_t i = 0; i < batch[r].count; i++) {
                    size_t vl = batch[r].cells[i].len;
                    char *h = malloc(2 * vl + 1);
                    assert_non_null(h);
                    hex(h, batch[r].base + batch[r].cells[i].off, vl);
                    fprintf(g, "%s%s", i ? " " : "", vl ? h : "-");
                    free(h);
                }
                fclose(g);
                const char *nl = strchr(expect, '\n');
                if (!nl)
                    fail_msg("seed %u way %zu: row %lld '%s' past the expected rows", seed, w,
                             row_no + 1, got);
                if ((size_t)(nl - expect) != got_len || memcmp(expect, got, got_len) != 0)
                    fail_msg("seed %u way %zu row %lld: got '%s', expected '%.*s'", seed, w,
                             row_no + 1, got, (int)(nl - expect), expect);
                expect = nl + 1;
                free(got);
            }
        }
        check_rc(rc, 0, &err);
        if (*expect)
            fail_msg("seed %u way %zu: ended before the expected row '%.60s'", seed, w, expect);
        sl_csv_scan_free(s);
    }
    free(data);
    free(want);
}

static void test_random_files_match_python(void **state)
{
    (void)state;
    char dir[256];
    sl_test_tmpdir(dir);
    for (unsigned seed = 1; seed <= 16; seed++)
        check_python_file(dir, seed, seed % 4 == 0 ? 2000 : 200);
}

/* ---------------------------------------------------------------------------------------------
 * Reading and scanning ahead on a second thread
 */

/* Regular rows like an export's (quoted fields, "" escapes), numbered from `from`. */
static void put_rows(FILE *m, size_t from, size_t count)
{
    for (size_t i = from; i < from + count; i++)
        fprintf(m, "M%08zu,\"Pump %zu, model %c\",%zu,\"said \"\"ok\"\" at noon\",x y\n", i, i,
                (char)('A' + i % 26), 1990 + i % 35);
}

static char *make_rows(size_t count, size_t *len)
{
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    assert_non_null(m);
    put_rows(m, 0, count);
    assert_int_equal(fclose(m), 0);
    return text;
}

/* Freed in the middle of a big input, with the worker reading ahead: it stops, reads no more,
 * and had not read far (the ring is bounded). No leak or race under ASan. */
static void test_ahead_closed_in_the_middle(void **state)
{
    (void)state;
    size_t len;
    char *data = make_rows(150000, &len);       /* about 9 MB */
    static const int batches[] = {0, 1, 3, 10}; /* a batch: a segment of rows */
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        struct source src = {
            .data = (const unsigned char *)data, .len = len, .owner = pthread_self()};
        struct sl_csv_scan_opts opts = {read_source, &src, 0, 0, 0, 1};
        struct sl_csv_scan *s = NULL;
        struct sl_error err = {0};
        check_rc(sl_csv_scan_new(&opts, &s), 0, &err);
        const struct sl_csv_row *rows;
        size_t n;
        for (int b = 0; b < batches[k]; b++) {
            check_rc(sl_csv_scan_rows(s, &rows, &n, &err), 1, &err);
            if (b == 0)
                check_str(rows[0].base + rows[0].cells[0].off, "M00000000");
        }
        if (batches[k] > 0) { /* the worker reads: wait for it to show */
            for (int i = 0; i < 2000 && src.foreign == 0; i++)
                usleep(1000);
            assert_true(src.foreign > 0);
        }
        sl_csv_scan_free(s);
        size_t reads = src.reads;
        usleep(20000);
        assert_int_equal(src.reads, reads); /* stopped */
        assert_true(src.pos < len / 2);     /* not far ahead */
    }
    free(data);
}

/* A read failing in the middle comes out after the rows before it, with its message, the same
 * as without the second thread; so does the end of a stream read one byte at a time. */
static void test_ahead_read_error_and_small_reads(void **state)
{
    (void)state;
    size_t len;
    char *data = make_rows(40000, &len);
    size_t fail_at = len / 2 + 12345;
    struct way seq = {0, 0, 0, 0, 0}, ahead = {0, 0, 0, 0, 1};
    char *want = scan_dump_failing(data, len, ',', &seq, fail_at);
    char *got = scan_dump_failing(data, len, ',', &ahead, fail_at);
    const char *e = strstr(want, "error: cannot read the file: Input/output error");
    assert_non_null(e);
    assert_true(e - want > (ptrdiff_t)(len / 3)); /* rows came first */
    check_str(got, want);
    free(got);
    struct way bytes = {0, 0, 0, 1, 2}; /* reads of one byte */
    got = scan_dump_failing(data, 200000, ',', &bytes, 0);
    char *got_seq = scan_dump_failing(data, 200000, ',', &seq, 0);
    check_str(got, got_seq);
    free(got);
    free(got_seq);
    free(want);
    free(data);
}

/*
 * One input with what the segment cuts must get right, each a few times past the first
 * segments: fields with line ends inside quotes, CRLF and lone CR lines, blank lines, a row
 * longer than a segment, then quotes the fast path does not read (the scanner goes on
 * sequentially from there) and a NUL byte, whose line must be the right one.
 */
static void test_ahead_segment_cuts(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len;
    FILE *m = open_memstream(&text, &len);
    assert_non_null(m);
    for (size_t part = 0; part < 6; part++) {
        put_rows(m, part * 1000, 700);
        fputs("a,\"multi\r\nline\n\nfield\"\r\n\r\nb,c\rd,e\r\n\n,,\n", m);
        if (part == 2)
            for (int i = 0; i < 30000; i++)
                fputs(i % 1000 == 999 ? "long,\n" : "long,", m);
        if (part == 4)
            fputs("\"a\"b,c\nstill,quoted\",d\n 5\" pipe,\"x\" \n", m);
    }
    fputs("last,\"", m); /* the stream ends in a quoted field */
    assert_int_equal(fclose(m), 0);
    char *dump = check_ways(text, len, ',', NULL);
    assert_non_null(strstr(dump, "error: line "));
    assert_non_null(strstr(dump, "unterminated quoted field"));
    free(dump);
    text[len - 30000] = '\0';
    dump = check_ways(text, len, ',', NULL);
    assert_non_null(strstr(dump, "NUL byte"));
    free(dump);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_fields),
        cmocka_unit_test(test_blank_lines_and_blanks),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_line_numbers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_peek_and_skip),
        cmocka_unit_test(test_random_inputs_all_ways_agree),
        cmocka_unit_test(test_random_files_match_python),
        cmocka_unit_test(test_ahead_closed_in_the_middle),
        cmocka_unit_test(test_ahead_read_error_and_small_reads),
        cmocka_unit_test(test_ahead_segment_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
