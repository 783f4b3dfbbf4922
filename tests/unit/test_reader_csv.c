/*
 * test_reader_csv: the CSV/TSV row reader (src/import/csv.c, sl_reader_open_csv).
 *
 * Hand-made tricky inputs are read whole into a one-line-per-row text dump and compared with
 * the expected dump, so a failure prints both. Randomly generated files (fixed seeds) are written
 * by Python's csv module, which also writes what each field must be; the reader must agree field
 * by field. Chunk edges (64 KiB) get inputs of their own, and a 50 MB file shows that memory
 * stays flat while a file streams.
 */
#include "testutil.h"

#include "import/reader.h"
#include "util/err.h"

#include <sys/resource.h>

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

/* Writes data to a new file "name" in a fresh test folder; returns its path (static). */
static const char *put_file(const char *name, const void *data, size_t len)
{
    static char path[512];
    char dir[256];
    snprintf(path, sizeof path, "%s/%s", sl_test_tmpdir(dir), name);
    sl_test_write_new(path, data, len);
    return path;
}

static void dump_value(FILE *f, const struct sl_field *fld)
{
    static const char *const marks[] = {
        [SL_CELL_TEXT] = "",  [SL_CELL_NUMBER] = "#", [SL_CELL_BOOL] = "?",
        [SL_CELL_DATE] = "%", [SL_CELL_JSON] = "@",   [SL_CELL_EMPTY] = "~",
    };
    fputs(marks[fld->kind], f);
    if (fld->kind == SL_CELL_EMPTY) {
        assert_int_equal(fld->len, 0);
        assert_string_equal(fld->value, "");
        return;
    }
    assert_int_equal(fld->value[fld->len], '\0');
    for (size_t i = 0; i < fld->len; i++) {
        unsigned char c = (unsigned char)fld->value[i];
        if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\t')
            fputs("\\t", f);
        else
            fputc(c, f);
    }
}

/*
 * Reads every row into text: "[col|col]" then one line per row, "N: name=value ...", where an
 * empty value is "~" and line ends are escaped; an error ends the dump with "error: message".
 */
static char *dump_reader(struct sl_reader *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    size_t n;
    const char *const *cols = sl_reader_columns(r, &n);
    fputc('[', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? "|" : "", cols[i]);
    fputs("]\n", f);
    struct sl_row row;
    struct sl_error err = {0};
    int rc;
    int64_t want = 0;
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        check_i64(row.number, ++want);
        fprintf(f, "%lld:", (long long)row.number);
        for (size_t i = 0; i < row.count; i++) {
            fprintf(f, " %s=", row.fields[i].name);
            dump_value(f, &row.fields[i]);
        }
        fputc('\n', f);
    }
    if (rc < 0)
        fprintf(f, "error: %s", err.msg);
    else
        assert_int_equal(sl_reader_next(r, &row, &err), 0); /* the end stays the end */
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Reads text as a CSV file and checks the dump and the format. */
static void check_csv_len(const char *text, size_t len, const char *format, const char *want)
{
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_csv(put_file("in.csv", text, len), &r, &err), 0, &err);
    check_str(sl_reader_format(r), format);
    char *got = dump_reader(r);
    check_str(got, want);
    free(got);
    sl_reader_close(r);
}

static void check_csv(const char *text, const char *want)
{
    check_csv_len(text, strlen(text), "csv", want);
}

/* Opening must fail with SL_EINVALID and a message holding each of the fragments. */
static void check_open_fails(const void *data, size_t len, const char *frag1, const char *frag2)
{
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_csv(put_file("bad.csv", data, len), &r, &err), SL_EINVALID, &err);
    assert_null(r);
    if (!strstr(err.msg, frag1) || (frag2 && !strstr(err.msg, frag2)))
        fail_msg("message '%s' lacks '%s' or '%s'", err.msg, frag1, frag2 ? frag2 : "");
}

/* The dump must end with an error holding the fragment, after the rows before it. */
static void check_dump_error(const char *text, size_t len, const char *want_prefix,
                             const char *frag)
{
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_csv(put_file("bad.csv", text, len), &r, &err), 0, &err);
    char *got = dump_reader(r);
    const char *e = strstr(got, "error: ");
    if (!e || strncmp(got, want_prefix, strlen(want_prefix)) != 0 || !strstr(e, frag))
        fail_msg("dump is '%s', expected it to start with '%s' and end in an error with '%s'", got,
                 want_prefix, frag);
    /* An error is sticky: the reader keeps returning it. */
    struct sl_row row;
    struct sl_error again = {0};
    assert_int_equal(sl_reader_next(r, &row, &again), SL_EINVALID);
    check_str(again.msg, e + strlen("error: "));
    free(got);
    sl_reader_close(r);
}

/* ---------------------------------------------------------------------------------------------
 * Hand-made inputs
 */

static void test_basic(void **state)
{
    (void)state;
    check_csv("id,name,city\n1,Ann,Paris\n2,Bob,Oslo\n",
              "[id|name|city]\n1: id=1 name=Ann city=Paris\n2: id=2 name=Bob city=Oslo\n");
    /* No line end after the last row. */
    check_csv("a,b\n1,2", "[a|b]\n1: a=1 b=2\n");
}

static void test_bom_and_crlf(void **state)
{
    (void)state;
    check_csv("\xef\xbb\xbf"
              "code,label\r\nA1,first\r\nB2,second\r\n",
              "[code|label]\n1: code=A1 label=first\n2: code=B2 label=second\n");
    /* Old Mac line ends (a lone CR). */
    check_csv("a,b\r1,2\r3,4", "[a|b]\n1: a=1 b=2\n2: a=3 b=4\n");
}

static void test_delimiters(void **state)
{
    (void)state;
    /* Semicolon (European exports: a comma is the decimal mark). */
    check_csv("name;price;qty\nbolt;1,25;10\n",
              "[name|price|qty]\n1: name=bolt price=1,25 qty=10\n");
    /* Tab: the format is tsv. */
    const char *tsv = "a\tb\tc\nx y\t\t3\n";
    check_csv_len(tsv, strlen(tsv), "tsv", "[a|b|c]\n1: a=x y b=~ c=3\n");
    /* Pipe. */
    check_csv("a|b\n1|x,y;z\n", "[a|b]\n1: a=1 b=x,y;z\n");
    /* The most frequent wins; delimiters inside quotes do not count. */
    check_csv("\"a;b;c;d\",x,y\n1,2,3\n", "[a;b;c;d|x|y]\n1: a;b;c;d=1 x=2 y=3\n");
    /* A single column: no delimiter at all, comma assumed. */
    check_csv("only\nv1\nv2;x\n", "[only]\n1: only=v1\n2: only=v2;x\n");
}

static void test_quoted_fields(void **state)
{
    (void)state;
    check_csv("a,b,c\n"
              "\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
              "\"crlf\r\ninside\",\"\",\"\"\"\"\n",
              "[a|b|c]\n"
              "1: a=x, y b=say \"hi\" c=two\\nlines\n"
              "2: a=crlf\\r\\ninside b=~ c=\"\n");
    /* A quoted last field with no line end after it. */
    check_csv("a,b\n1,\"end\"", "[a|b]\n1: a=1 b=end\n");
    /* A stray quote inside an unquoted field stays text. */
    check_csv("size,name\n5\" pipe,x\n", "[size|name]\n1: size=5\" pipe name=x\n");
    /* Quoted header names. */
    check_csv("\"first name\",\"a,b\"\nAnn,1\n", "[first name|a,b]\n1: first name=Ann a,b=1\n");
}

static void test_blanks_trimmed_unless_quoted(void **state)
{
    (void)state;
    check_csv("a , b\n 1 ,  2  \n\" 3 \",\"\t4\"\n", "[a|b]\n1: a=1 b=2\n2: a= 3  b=\\t4\n");
}

static void test_empty_cells_and_ragged_rows(void **state)
{
    (void)state;
    /* Missing trailing cells are empty fields; extra cells are named column_N. */
    check_csv("a,b,c\n1\n1,2\n1,2,3,4,5\n,,x\n", "[a|b|c]\n"
                                                 "1: a=1 b=~ c=~\n"
                                                 "2: a=1 b=2 c=~\n"
                                                 "3: a=1 b=2 c=3 column_4=4 column_5=5\n"
                                                 "4: a=~ b=~ c=x\n");
    /* Empty and repeated header names. */
    check_csv("id,,name,name,,name_2\n1,2,3,4,5,6\n",
              "[id|column_2|name|name_2|column_5|name_2_2]\n"
              "1: id=1 column_2=2 name=3 name_2=4 column_5=5 name_2_2=6\n");
    /* An extra cell's generated name never repeats a header name. */
    check_csv("column_2\n1,2\n", "[column_2]\n1: column_2=1 column_2_2=2\n");
}

static void test_blank_rows_skipped(void **state)
{
    (void)state;
    check_csv("\n\na,b\n\n1,2\n   \n,\n\"\",\"\"\n \t , \n3,4\n\n",
              "[a|b]\n1: a=1 b=2\n2: a=3 b=4\n");
}

static void test_header_only_and_empty(void **state)
{
    (void)state;
    check_csv("a,b,c\n", "[a|b|c]\n");
    check_csv("a,b,c", "[a|b|c]\n");
    check_csv("", "[]\n");
    check_csv("\n\r\n\n", "[]\n");
    check_csv("\xef\xbb\xbf", "[]\n");
}

static void test_unterminated_quote(void **state)
{
    (void)state;
    /* Row 1 spans lines 2 and 3; the quote opened on line 4 never closes. */
    const char *text = "a,b\n1,\"x\ny\"\n2,\"open\n3,4\n";
    check_dump_error(text, strlen(text), "[a|b]\n1: a=1 b=x\\ny\n",
                     "line 4: unterminated quoted field");
    /* In the header: opening fails. */
    check_open_fails("\"a,b\n1,2\n", 9, "line 1: unterminated quoted field", NULL);
}

static void test_nul_byte(void **state)
{
    (void)state;
    const char text[] = "a,b\n1,2\r\n3,\0\n";
    check_dump_error(text, sizeof text - 1, "[a|b]\n1: a=1 b=2\n",
                     "line 3: NUL byte; is this a text file?");
    check_open_fails("\0a,b", 4, "line 1: NUL byte", NULL);
}

static void test_utf16_refused(void **state)
{
    (void)state;
    check_open_fails("\xff\xfe"
                     "a\0,\0b\0",
                     8, "UTF-16", "UTF-8");
}

static void test_invalid_utf8_passes_through(void **state)
{
    (void)state;
    check_csv("a,b\n\xff\xfe,caf\xc3\xa9\n", "[a|b]\n1: a=\xff\xfe b=caf\xc3\xa9\n");
}

static void test_caps(void **state)
{
    (void)state;
    /* A field over 16 MiB. */
    size_t big = ((size_t)16 << 20) + 10;
    char *text = malloc(big + 16);
    assert_non_null(text);
    memcpy(text, "a\nx", 3);
    memset(text + 3, 'y', big);
    memcpy(text + 3 + big, "\n", 1);
    check_dump_error(text, big + 4, "[a]\n", "line 2: a field longer than 16 MiB");
    /* More than 65536 fields in a row. */
    size_t n = 70000;
    memcpy(text, "a\n", 2);
    memset(text + 2, ',', n);
    check_dump_error(text, n + 2, "[a]\n", "line 2: more than 65536 fields");
    free(text);
}

/* ---------------------------------------------------------------------------------------------
 * Chunk edges: the reader reads 64 KiB at a time.
 */

#define CHUNK 65536

/*
 * Builds a file whose line end `eol` starts at byte CHUNK - 1, so that a CR (or CRLF) is split
 * across two reads, then rows after it and an unterminated quote; checks the line it names.
 */
static void check_split_line_end(const char *eol, int nul_instead)
{
    size_t cap = 3 * CHUNK, len = 0, el = strlen(eol);
    char *text = malloc(cap);
    assert_non_null(text);
    long long lines = 1;
    len += (size_t)snprintf(text + len, cap - len, "k,v%s", eol);
    lines++;
    while (len + 16 + el < CHUNK - 1) {
        len += (size_t)snprintf(text + len, cap - len, "%lld,r%s", lines, eol);
        lines++;
    }
    /* A row that ends at byte CHUNK - 1, so that its line end is split across two reads. */
    size_t pad = CHUNK - 1 - len - 4;
    text[len++] = 'p';
    text[len++] = ',';
    text[len++] = '"';
    memset(text + len, 'q', pad);
    len += pad;
    text[len++] = '"';
    assert_int_equal(len, CHUNK - 1);
    memcpy(text + len, eol, el);
    len += el;
    lines++;
    for (int i = 0; i < 3; i++, lines++)
        len += (size_t)snprintf(text + len, cap - len, "\"m%s%d\",x%s", eol, i, eol), lines++;
    if (nul_instead)
        memcpy(text + len, "z,\0", 3);
    else
        memcpy(text + len, "z,\"never closed", 15);
    len += nul_instead ? 3 : 15;

    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_csv(put_file("edge.csv", text, len), &r, &err), 0, &err);
    struct sl_row row;
    int rc;
    int64_t rows = 0;
    while ((rc = sl_reader_next(r, &row, &err)) == 1)
        rows++;
    assert_int_equal(rc, SL_EINVALID);
    check_i64(rows, lines - 2 - 3);
    char want[64];
    snprintf(want, sizeof want, "line %lld: ", lines);
    if (!strstr(err.msg, want))
        fail_msg("eol %s: message '%s' lacks '%s'", eol[0] == '\r' ? "CR.." : "LF", err.msg, want);
    sl_reader_close(r);
    free(text);
}

static void test_line_ends_across_chunks(void **state)
{
    (void)state;
    check_split_line_end("\r\n", 0);
    check_split_line_end("\r", 0);
    check_split_line_end("\n", 0);
    check_split_line_end("\r\n", 1);
    check_split_line_end("\r", 1);
}

/* ---------------------------------------------------------------------------------------------
 * Random files, checked against Python's csv module
 */

static const char gen_csv_py[] =
    "import csv, random, sys\n"
    "\n"
    "TAB, NL, CR = chr(9), chr(10), chr(13)\n"
    "PARTS = ['a', 'b', 'Z', '0', '9', ' ', 'x y', chr(233), chr(8364), chr(128512), '\"', ',',\n"
    "         ';', TAB, '|', NL, CR + NL, CR, \"'\", chr(92)]\n"
    "\n"
    "\n"
    "def value(rnd, quote_all, term):\n"
    "    if rnd.random() < 0.15:\n"
    "        return ''\n"
    "    s = ''.join(rnd.choice(PARTS) for _ in range(rnd.randint(1, 12)))\n"
    "    if not quote_all:\n"
    "        if term == NL:\n"
    "            s = s.replace(CR, '')  # csv does not quote a lone CR then\n"
    "        s = s.strip(' ' + TAB)  # the reader trims blanks around unquoted fields\n"
    "    return s\n"
    "\n"
    "\n"
    "def main():\n"
    "    out, seed, nrows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
    "    rnd = random.Random(seed)\n"
    "    ncols = rnd.randint(1, 8)\n"
    "    delim = rnd.choice([',', ';', TAB, '|']) if ncols > 1 else ','\n"
    "    term = rnd.choice([CR + NL, NL])\n"
    "    quote_all = rnd.random() < 0.3\n"
    "    enc = 'utf-8-sig' if rnd.random() < 0.3 else 'utf-8'\n"
    "    header = ['h%d_%d' % (i, rnd.randint(0, 999)) for i in range(ncols)]\n"
    "    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL\n"
    "    f = open(out + '/data.csv', 'w', newline='', encoding=enc)\n"
    "    e = open(out + '/expected.txt', 'w')\n"
    "    w = csv.writer(f, delimiter=delim, lineterminator=term, quoting=quoting)\n"
    "    w.writerow(header)\n"
    "    e.write('#columns' + ''.join(TAB + h for h in header) + NL)\n"
    "    number = 0\n"
    "    for _ in range(nrows):\n"
    "        n = max(1, ncols + rnd.choice([0, 0, 0, 0, 0, -1, -2, 1, 2]))\n"
    "        row = [value(rnd, quote_all, term) for _ in range(n)]\n"
    "        w.writerow(row)\n"
    "        if all(v == '' for v in row):\n"
    "            continue  # the reader skips rows with no value\n"
    "        number += 1\n"
    "        for i in range(max(n, ncols)):\n"
    "            name = header[i] if i < ncols else 'column_%d' % (i + 1)\n"
    "            v = row[i] if i < n else ''\n"
    "            kind = 'T' if v else 'E'\n"
    "            e.write(TAB.join([str(number), name, kind, v.encode().hex()]) + NL)\n"
    "    f.close()\n"
    "    e.close()\n"
    "\n"
    "\n"
    "main()\n";

static void run_python(const char *script_path, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script_path, args);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("'%s' exited with %d", cmd, rc);
}

static void hex(char *out, const char *s, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[(unsigned char)s[i] >> 4];
        out[2 * i + 1] = digits[(unsigned char)s[i] & 15];
    }
    out[2 * len] = '\0';
}

/* The next line of the expected dump, without its line end; fails at the end of the file. */
static const char *expected_line(FILE *f, char **line, size_t *cap, const char *got)
{
    ssize_t n = getline(line, cap, f);
    if (n < 0)
        fail_msg("the reader gave '%s', past the end of the expected rows", got);
    if (n > 0 && (*line)[n - 1] == '\n')
        (*line)[n - 1] = '\0';
    return *line;
}

static void check_random_file(const char *dir, unsigned seed, int rows)
{
    char script[512], args[600], path[512];
    snprintf(script, sizeof script, "%s/gen_csv.py", dir);
    if (access(script, F_OK) != 0)
        sl_test_write_text(script, gen_csv_py);
    snprintf(args, sizeof args, "%s %u %d", dir, seed, rows);
    run_python(script, args);

    snprintf(path, sizeof path, "%s/expected.txt", dir);
    FILE *want = fopen(path, "r");
    assert_non_null(want);
    char *line = NULL, *got = NULL;
    size_t cap = 0, got_cap = 0;
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    snprintf(path, sizeof path, "%s/data.csv", dir);
    check_rc(sl_reader_open_csv(path, &r, &err), 0, &err);

    size_t n;
    const char *const *cols = sl_reader_columns(r, &n);
    FILE *g = open_memstream(&got, &got_cap);
    fputs("#columns", g);
    for (size_t i = 0; i < n; i++)
        fprintf(g, "\t%s", cols[i]);
    fclose(g);
    check_str(got, expected_line(want, &line, &cap, got));

    struct sl_row row;
    int rc;
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        for (size_t i = 0; i < row.count; i++) {
            const struct sl_field *fld = &row.fields[i];
            char *h = malloc(2 * fld->len + 1);
            assert_non_null(h);
            hex(h, fld->value, fld->len);
            free(got);
            got = NULL;
            g = open_memstream(&got, &got_cap);
            fprintf(g, "%lld\t%s\t%c\t%s", (long long)row.number, fld->name,
                    fld->kind == SL_CELL_EMPTY  ? 'E'
                    : fld->kind == SL_CELL_TEXT ? 'T'
                                                : '?',
                    h);
            fclose(g);
            free(h);
            const char *w = expected_line(want, &line, &cap, got);
            if (strcmp(got, w) != 0)
                fail_msg("seed %u: got '%s', expected '%s'", seed, got, w);
        }
    }
    check_rc(rc, 0, &err);
    if (getline(&line, &cap, want) > 0)
        fail_msg("seed %u: the reader ended before the expected line '%s'", seed, line);
    sl_reader_close(r);
    fclose(want);
    free(line);
    free(got);
}

static void test_random_files_match_python(void **state)
{
    (void)state;
    char dir[256];
    sl_test_tmpdir(dir);
    for (unsigned seed = 1; seed <= 24; seed++)
        check_random_file(dir, seed, seed % 4 == 0 ? 3000 : 300);
}

/* ---------------------------------------------------------------------------------------------
 * Bounded memory
 */

/* Resident set size now, in bytes. */
static long long rss_now(void)
{
    long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%lld %lld", &pages, &resident), 2);
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static long long maxrss_bytes(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return (long long)ru.ru_maxrss * 1024;
}

/* Writes a CSV of at least `bytes` bytes; returns its number of data rows. */
static int64_t write_big_csv(const char *path, long long bytes)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    long long written = fprintf(f, "id,name,note,amount\r\n");
    int64_t rows = 0;
    while (written < bytes) {
        rows++;
        written +=
            fprintf(f, "%lld,name %lld,\"a note, with \"\"quotes\"\"\nand a line\",%lld.%02d\r\n",
                    (long long)rows, (long long)rows, (long long)rows * 7, (int)(rows % 100));
    }
    assert_int_equal(fclose(f), 0);
    return rows;
}

static void test_large_file_in_bounded_memory(void **state)
{
    (void)state;
    char dir[256], path[512];
    snprintf(path, sizeof path, "%s/big.csv", sl_test_tmpdir(dir));
    int64_t want_rows = write_big_csv(path, 50LL << 20);

    long long rss0 = rss_now(), max0 = maxrss_bytes(), peak = rss0;
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_csv(path, &r, &err), 0, &err);
    struct sl_row row;
    int rc;
    int64_t rows = 0;
    long long sum = 0;
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        rows++;
        assert_int_equal(row.count, 4);
        sum += strtoll(row.fields[0].value, NULL, 10);
        if (rows % 4096 == 0 && rss_now() > peak)
            peak = rss_now();
    }
    check_rc(rc, 0, &err);
    check_i64(rows, want_rows);
    check_i64(sum, want_rows * (want_rows + 1) / 2);
    check_str(row.fields[2].value, "a note, with \"quotes\"\nand a line");
    sl_reader_close(r);
    /* Sanity bounds, not timings: the 50 MB file never comes close to being held. */
    check_range(peak - rss0, -(1LL << 30), 20LL << 20);
    check_range(maxrss_bytes() - max0, 0, 20LL << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, while the process is small, so that ru_maxrss means something. */
        cmocka_unit_test(test_large_file_in_bounded_memory),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_bom_and_crlf),
        cmocka_unit_test(test_delimiters),
        cmocka_unit_test(test_quoted_fields),
        cmocka_unit_test(test_blanks_trimmed_unless_quoted),
        cmocka_unit_test(test_empty_cells_and_ragged_rows),
        cmocka_unit_test(test_blank_rows_skipped),
        cmocka_unit_test(test_header_only_and_empty),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_utf16_refused),
        cmocka_unit_test(test_invalid_utf8_passes_through),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_line_ends_across_chunks),
        cmocka_unit_test(test_random_files_match_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
