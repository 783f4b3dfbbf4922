/*
 * test_reader_json: the JSON array and NDJSON row readers (src/import/json.c), and the choice of
 * a reader by file name and content (sl_reader_open, src/import/reader.c).
 *
 * Hand-made inputs are read whole into a one-line-per-row text dump and compared with the
 * expected dump, so a failure prints both; broken files must fail with a message that says
 * where. Randomly generated files (fixed seeds) are written by Python's json module, which then
 * checks what the reader saw, value by value (nested values compared as parsed JSON, numbers by
 * their text). A 30 MB array shows that memory stays flat while a file streams.
 */
#include "testutil.h"

#include "import/reader.h"
#include "util/err.h"

#include <sys/resource.h>

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

typedef int (*open_fn)(const char *path, struct sl_reader **out, struct sl_error *err);

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
    assert_int_equal(fld->value[fld->len], '\0');
    if (fld->kind == SL_CELL_EMPTY)
        assert_int_equal(fld->len, 0);
    for (size_t i = 0; i < fld->len; i++) {
        unsigned char c = (unsigned char)fld->value[i];
        if (c == '\n')
            fputs("\\n", f);
        else if (c == '\0')
            fputs("\\0", f);
        else
            fputc(c, f);
    }
}

/*
 * Reads every row into text: one line per row, "N: name=value ...", where a number is "#text",
 * a boolean "?true", nested JSON "@text", null "~"; then the columns, "[a|b]"; or, after the
 * rows before it, "error: message".
 */
static char *dump_reader(struct sl_reader *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
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
    if (rc < 0) {
        fprintf(f, "error: %s", err.msg);
        /* An error is sticky. */
        struct sl_error again = {0};
        assert_int_equal(sl_reader_next(r, &row, &again), rc);
        check_str(again.msg, err.msg);
    } else {
        assert_int_equal(sl_reader_next(r, &row, &err), 0); /* the end stays the end */
        size_t n;
        const char *const *cols = sl_reader_columns(r, &n);
        fputc('[', f);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%s%s", i ? "|" : "", cols[i]);
        fputc(']', f);
    }
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Reads text with open (json or ndjson) and checks the dump; an error in opening dumps as
 * "open error: message". */
static void check_with(open_fn open, const char *text, size_t len, const char *want)
{
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    int rc = open(put_file("in.json", text, len), &r, &err);
    char *got;
    if (rc != 0) {
        assert_null(r);
        assert_int_equal(rc, SL_EINVALID);
        assert_int_not_equal(asprintf(&got, "open error: %s", err.msg), -1);
    } else {
        check_str(sl_reader_format(r), open == sl_reader_open_json ? "json" : "ndjson");
        got = dump_reader(r);
        sl_reader_close(r);
    }
    check_str(got, want);
    free(got);
}

static void check_json(const char *text, const char *want)
{
    check_with(sl_reader_open_json, text, strlen(text), want);
}

static void check_ndjson(const char *text, const char *want)
{
    check_with(sl_reader_open_ndjson, text, strlen(text), want);
}

/* ---------------------------------------------------------------------------------------------
 * JSON arrays
 */

static void test_values_and_kinds(void **state)
{
    (void)state;
    check_json("[{\"s\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/\", \"n1\": 1e3, \"n2\": -0.5,\n"
               "  \"n3\": 12345678901234567890, \"n4\": 0, \"t\": true, \"f\": false,\n"
               "  \"z\": null, \"o\": {\"a\": [1, 2.50, {\"b\": \"x\\\"y\\n\"}], \"e\": {}},\n"
               "  \"l\": [ ], \"u\": \"\"}]",
               "1: s=caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" / n1=#1e3 n2=#-0.5 "
               "n3=#12345678901234567890 n4=#0 t=?true f=?false z=~ "
               "o=@{\"a\":[1,2.50,{\"b\":\"x\\\"y\\n\"}],\"e\":{}} l=@[] u=\n"
               "[s|n1|n2|n3|n4|t|f|z|o|l|u]");
    /* A NUL inside a string is kept, and counted in len. */
    check_json("[{\"a\": \"x\\u0000y\"}]", "1: a=x\\0y\n[a]");
}

static void test_rows_and_columns(void **state)
{
    (void)state;
    /* Each object is a row, with its own keys in its own order; columns are their union. */
    check_json("\xef\xbb\xbf[{\"a\": 1, \"b\": 2}, {}, {\"c\": 3, \"a\": 4}, {\"a\": 5, \"a\": 6}]",
               "1: a=#1 b=#2\n2:\n3: c=#3 a=#4\n4: a=#5 a=#6\n[a|b|c]");
}

static void test_empty(void **state)
{
    (void)state;
    check_json("[]", "[]");
    check_json(" [ ]\n", "[]");
    check_json("", "[]");
    check_json(" \n\t", "[]");
}

static void test_not_an_array(void **state)
{
    (void)state;
    check_json("{\"a\": 1}",
               "open error: byte 1 (line 1): the file holds an object, not an array of objects "
               "(one object a line is NDJSON: name the file .ndjson)");
    check_json("\n\"text\"", "open error: byte 7 (line 2): the file holds a string, not an array "
                             "of objects (one object a line is NDJSON: name the file .ndjson)");
    check_json("42 ", "open error: byte 2 (line 1): the file holds a number, not an array of "
                      "objects (one object a line is NDJSON: name the file .ndjson)");
}

static void test_element_not_an_object(void **state)
{
    (void)state;
    check_json("[{\"a\": 1}, {\"a\": 2}, 3]",
               "1: a=#1\n2: a=#2\nerror: byte 22 (line 1): array element 3 is a number, not an "
               "object");
    check_json("[{\"a\": 1},\n [1]]",
               "1: a=#1\nerror: byte 13 (line 2): array element 2 is an array, not an object");
    check_json("[null]", "open error: byte 5 (line 1): array element 1 is null, not an object");
    check_json("[\"x\"]", "open error: byte 4 (line 1): array element 1 is a string, not an "
                          "object");
}

static void test_invalid_json_says_where(void **state)
{
    (void)state;
    check_json("[{\"a\":1},\n {\"b\": }]",
               "1: a=#1\nerror: byte 18 (line 2): invalid JSON: unallowed token at this point "
               "in JSON text");
    check_json("[{\"a\":1}] x", "1: a=#1\nerror: byte 11 (line 1): invalid JSON: trailing garbage");
    check_json("[{\"a\" 1}]", "open error: byte 7 (line 1): invalid JSON: object key and value "
                              "must be separated by a colon (':')");
    check_json("[{\"a\":1},]", "1: a=#1\nerror: byte 10 (line 1): invalid JSON: unallowed token "
                               "at this point in JSON text");
    const char nul[] = "[{\"a\":1}, \0]";
    check_with(sl_reader_open_json, nul, sizeof nul - 1,
               "1: a=#1\nerror: byte 11 (line 1): invalid JSON: invalid char in json text.");
}

static void test_truncated(void **state)
{
    (void)state;
    check_json("[{\"a\": 1},\n{\"b\": 2}",
               "1: a=#1\n2: b=#2\nerror: byte 19 (line 2): unexpected end of file: the JSON "
               "array is not closed");
    check_json("[{\"a\": \"abc",
               "open error: byte 11 (line 1): unexpected end of file: the JSON array is not "
               "closed");
    check_json("[", "open error: byte 1 (line 1): unexpected end of file: the JSON array is not "
                    "closed");
}

static void test_error_position_past_first_chunk(void **state)
{
    (void)state;
    /* 10000 rows of 9 bytes, one a line, then a bad one: the '}' after the colon is at byte
     * 2 + 9 * 10000 + 6, on line 10002. */
    size_t rows = 10000, cap = 16 + 9 * rows + 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, "[\n");
    for (size_t i = 0; i < rows; i++)
        len += (size_t)snprintf(text + len, cap - len, "{\"i\":%zu},\n", i % 10);
    len += (size_t)snprintf(text + len, cap - len, "{\"i\":}\n]");
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_json(put_file("long.json", text, len), &r, &err), 0, &err);
    struct sl_row row;
    int rc;
    size_t n = 0;
    while ((rc = sl_reader_next(r, &row, &err)) == 1)
        n++;
    assert_int_equal(rc, SL_EINVALID);
    assert_int_equal(n, rows);
    check_str(err.msg, "byte 90008 (line 10002): invalid JSON: unallowed token at this point in "
                       "JSON text");
    sl_reader_close(r);
    free(text);
}

static void test_nesting_too_deep(void **state)
{
    (void)state;
    char text[1024];
    size_t len = (size_t)snprintf(text, sizeof text, "[{\"a\": ");
    for (int i = 0; i < 200; i++)
        text[len++] = '[';
    for (int i = 0; i < 200; i++)
        text[len++] = ']';
    len += (size_t)snprintf(text + len, sizeof text - len, "}]");
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_json(put_file("deep.json", text, len), &r, &err), SL_EINVALID, &err);
    if (!strstr(err.msg, "nested too deep"))
        fail_msg("message: %s", err.msg);
}

static void test_value_cap(void **state)
{
    (void)state;
    /* A 40 MiB string: the reader stops soon after 16 MiB, without holding the rest. */
    size_t big = (size_t)40 << 20;
    char *text = malloc(big + 64);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, 64, "[{\"a\":1},{\"a\":\"");
    memset(text + len, 'x', big);
    len += big;
    len += (size_t)snprintf(text + len, 64, "\"}]");
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_json(put_file("big.json", text, len), &r, &err), 0, &err);
    free(text);
    struct sl_row row;
    assert_int_equal(sl_reader_next(r, &row, &err), 1);
    check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err);
    if (!strstr(err.msg, "(line 1): a value longer than 16 MiB"))
        fail_msg("message: %s", err.msg);
    sl_reader_close(r);
}

/* ---------------------------------------------------------------------------------------------
 * NDJSON
 */

static void test_ndjson_rows(void **state)
{
    (void)state;
    check_ndjson("\xef\xbb\xbf{\"a\": 1, \"b\": [1, {\"c\": null}]}\n"
                 "\n"
                 "   \t\n"
                 "{\"b\": \"x\", \"d\": true}\r\n"
                 "\r\n"
                 "{}\n"
                 "{\"a\": -1.5e-3}",
                 "1: a=#1 b=@[1,{\"c\":null}]\n2: b=x d=?true\n3:\n4: a=#-1.5e-3\n[a|b|d]");
    check_ndjson("", "[]");
    check_ndjson("\n\n  \n", "[]");
}

static void test_ndjson_bad_lines(void **state)
{
    (void)state;
    check_ndjson("{\"a\":1}\n\n[1,2]\n",
                 "1: a=#1\nerror: line 3: expected a JSON object, found an array");
    check_ndjson("{\"a\":1}\n\"x\"\n", "1: a=#1\nerror: line 2: expected a JSON object, found a "
                                       "string");
    check_ndjson("{\"a\":1}\n\n\n42", "1: a=#1\nerror: line 4: expected a JSON object, found a "
                                      "number");
    check_ndjson("{\"a\":1}\n{\"a\":2} {\"b\":3}\n",
                 "1: a=#1\nerror: line 2: more than one JSON value on the line");
    check_ndjson("{\"a\":1}\n{\"a\":\n2}\n",
                 "1: a=#1\nerror: line 2: unexpected end of line: the object is not closed");
    check_ndjson("{\"a\":1}\n{\"a\":tru}\n",
                 "1: a=#1\nerror: line 2: invalid JSON: invalid string in json text.");
    check_ndjson("{\"a\":1}\n{\"a\":1",
                 "1: a=#1\nerror: line 2: unexpected end of file: the object is not closed");
    check_ndjson("[{\"a\":1}]", "open error: line 1: expected a JSON object, found an array");
}

static void test_ndjson_line_cap(void **state)
{
    (void)state;
    size_t big = ((size_t)16 << 20) + 100;
    char *text = malloc(big + 64);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, 64, "{\"a\":1}\n{\"a\":\"");
    memset(text + len, 'x', big);
    len += big;
    len += (size_t)snprintf(text + len, 64, "\"}\n");
    check_with(sl_reader_open_ndjson, text, len,
               "1: a=#1\nerror: line 2: a line longer than 16 MiB");
    free(text);
}

/* ---------------------------------------------------------------------------------------------
 * Choosing a reader: by name, then by content
 */

/* Opens path through sl_reader_open and directly through want; both must agree. */
static void check_dispatch(const char *path, const char *name, open_fn want, const char *format)
{
    struct sl_reader *a = NULL, *b = NULL;
    struct sl_error ea = {0}, eb = {0};
    int ra = sl_reader_open(path, name, &a, &ea);
    int rb = want(path, &b, &eb);
    if (ra != rb || strcmp(ea.msg, eb.msg) != 0)
        fail_msg("%s as '%s': %d '%s', directly %d '%s'", path, name ? name : "(null)", ra, ea.msg,
                 rb, eb.msg);
    if (format && ra == 0)
        check_str(sl_reader_format(a), format);
    sl_reader_close(a);
    sl_reader_close(b);
}

static void test_open_picks_reader(void **state)
{
    (void)state;
    char dir[256], path[512];
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/f", dir);
    sl_test_write_text(path, "a\tb\n1\t2\n");
    /* By name, whatever the content; case does not matter. */
    check_dispatch(path, "x.csv", sl_reader_open_csv, "tsv");
    check_dispatch(path, "X.TSV", sl_reader_open_csv, "tsv");
    check_dispatch(path, "x.json", sl_reader_open_json, NULL);
    check_dispatch(path, "x.ndjson", sl_reader_open_ndjson, NULL);
    check_dispatch(path, "x.JSONL", sl_reader_open_ndjson, NULL);
    check_dispatch(path, "x.xlsx", sl_reader_open_xlsx, NULL);
    check_dispatch(path, "x.xls", sl_reader_open_xls, NULL);
    /* By content, when the name says nothing. */
    check_dispatch(path, NULL, sl_reader_open_csv, "tsv");
    check_dispatch(path, "upload.txt", sl_reader_open_csv, "tsv");
    unlink(path);
    sl_test_write_text(path, "\xef\xbb\xbf \n [{\"a\": 1}]");
    check_dispatch(path, "noext", sl_reader_open_json, "json");
    unlink(path);
    sl_test_write_text(path, "{\"a\": 1}\n{\"a\": 2}\n");
    check_dispatch(path, "", sl_reader_open_ndjson, "ndjson");
    unlink(path);
    sl_test_write_new(path, "PK\3\4 not really a zip", 22);
    check_dispatch(path, "data.bin", sl_reader_open_xlsx, NULL);
    unlink(path);
    sl_test_write_new(path, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 not really OLE2", 24);
    check_dispatch(path, "data.bin", sl_reader_open_xls, NULL);
    unlink(path);
    sl_test_write_new(path, "", 0);
    check_dispatch(path, NULL, sl_reader_open_csv, "csv");
    /* A missing file. */
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    snprintf(path, sizeof path, "%s/missing", dir);
    check_rc(sl_reader_open(path, "missing", &r, &err), SL_EIO, &err);
    assert_null(r);
    check_rc(sl_reader_open(path, "missing.json", &r, &err), SL_EIO, &err);
    assert_null(r);
}

/* ---------------------------------------------------------------------------------------------
 * Random files, checked by Python's json module
 */

static const char gen_json_py[] =
    "import json, random, sys\n"
    "\n"
    "TAB, NL, CR, BS = chr(9), chr(10), chr(13), chr(92)\n"
    "KEYS = ['id', 'name', 'price', 'tags', 'ok', 'note', 'meta', 'n', 'caf' + chr(233),\n"
    "        'k' + chr(128512), 'a\"b', 'x' + BS + 'y', 'sp ace', '']\n"
    "CHARS = ['a', 'Z', ' ', '\"', BS, '/', NL, TAB, CR, chr(1), chr(0), chr(31), chr(127),\n"
    "         chr(233), chr(8364), chr(128512), 'x y', '{', '}', '[', ']', ',', ':']\n"
    "\n"
    "\n"
    "def text(rnd):\n"
    "    return ''.join(rnd.choice(CHARS) for _ in range(rnd.randint(0, 10)))\n"
    "\n"
    "\n"
    "def number(rnd):\n"
    "    c = rnd.random()\n"
    "    if c < 0.3:\n"
    "        return rnd.randint(-1000, 1000)\n"
    "    if c < 0.5:\n"
    "        return rnd.randint(-10 ** 25, 10 ** 25)\n"
    "    if c < 0.8:\n"
    "        return rnd.uniform(-1e6, 1e6)\n"
    "    return rnd.choice([0.5, -0.5, 1e300, 1e-300, 1.5e-7, 0.0, -0.0, 12345678901234567890])\n"
    "\n"
    "\n"
    "def value(rnd, depth):\n"
    "    c = rnd.random()\n"
    "    if c < 0.3:\n"
    "        return text(rnd)\n"
    "    if c < 0.55:\n"
    "        return number(rnd)\n"
    "    if c < 0.65:\n"
    "        return rnd.random() < 0.5\n"
    "    if c < 0.72:\n"
    "        return None\n"
    "    if depth > 3:\n"
    "        return text(rnd)\n"
    "    if c < 0.86:\n"
    "        return {text(rnd): value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))}\n"
    "    return [value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]\n"
    "\n"
    "\n"
    "def make_rows(seed, n):\n"
    "    rnd = random.Random(seed)\n"
    "    rows = []\n"
    "    for _ in range(n):\n"
    "        keys = rnd.sample(KEYS, rnd.randint(0, len(KEYS)))\n"
    "        rows.append({k: value(rnd, 1) for k in keys})\n"
    "    return rnd, rows\n"
    "\n"
    "\n"
    "def gen(out, seed, n):\n"
    "    rnd, rows = make_rows(seed, n)\n"
    "    bom = chr(65279) if rnd.random() < 0.3 else ''\n"
    "    indent = rnd.choice([None, None, 1, 2])\n"
    "    ascii_only = rnd.random() < 0.5\n"
    "    with open(out + '/data.json', 'w', encoding='utf-8', newline='') as f:\n"
    "        f.write(bom + json.dumps(rows, indent=indent, ensure_ascii=ascii_only))\n"
    "    eol = rnd.choice([NL, CR + NL])\n"
    "    with open(out + '/data.ndjson', 'w', encoding='utf-8', newline='') as f:\n"
    "        f.write(bom)\n"
    "        for row in rows:\n"
    "            while rnd.random() < 0.1:\n"
    "                f.write(rnd.choice(['', ' ', TAB, '  ']) + eol)\n"
    "            f.write(json.dumps(row, ensure_ascii=rnd.random() < 0.5) + eol)\n"
    "\n"
    "\n"
    "def canon(v):\n"
    "    if isinstance(v, bool) or v is None:\n"
    "        return v\n"
    "    if isinstance(v, (int, float)):\n"
    "        return ('num', json.dumps(v))\n"
    "    if isinstance(v, dict):\n"
    "        return ('obj', [(k, canon(x)) for k, x in v.items()])\n"
    "    if isinstance(v, list):\n"
    "        return [canon(x) for x in v]\n"
    "    return v\n"
    "\n"
    "\n"
    "def parse_canon(t):\n"
    "    def num(s):\n"
    "        return ('num', s)\n"
    "    return json.loads(t, object_pairs_hook=lambda p: ('obj', p), parse_float=num,\n"
    "                      parse_int=num)\n"
    "\n"
    "\n"
    "def compact(t):\n"
    "    in_str = esc = False\n"
    "    for ch in t:\n"
    "        if in_str:\n"
    "            if esc:\n"
    "                esc = False\n"
    "            elif ch == BS:\n"
    "                esc = True\n"
    "            elif ch == '\"':\n"
    "                in_str = False\n"
    "        elif ch == '\"':\n"
    "            in_str = True\n"
    "        elif ch in ' ' + TAB + CR + NL:\n"
    "            return False\n"
    "    return True\n"
    "\n"
    "\n"
    "def expect_field(k, v):\n"
    "    name = k.encode().hex()\n"
    "    if isinstance(v, bool):\n"
    "        return ('B', name, (b'true' if v else b'false').hex())\n"
    "    if isinstance(v, (int, float)):\n"
    "        return ('N', name, json.dumps(v).encode().hex())\n"
    "    if v is None:\n"
    "        return ('E', name, '')\n"
    "    if isinstance(v, str):\n"
    "        return ('T', name, v.encode().hex())\n"
    "    return ('J', name, canon(v))\n"
    "\n"
    "\n"
    "def check(seed, n, actual):\n"
    "    _, rows = make_rows(seed, n)\n"
    "    lines = open(actual, encoding='ascii').read().split(NL)\n"
    "    cols = []\n"
    "    for row in rows:\n"
    "        for k in row:\n"
    "            if k not in cols:\n"
    "                cols.append(k)\n"
    "    want = '#columns' + ''.join(TAB + k.encode().hex() for k in cols)\n"
    "    if lines[0] != want:\n"
    "        return 'columns: got %r, expected %r' % (lines[0], want)\n"
    "    got_rows = []\n"
    "    for line in lines[1:]:\n"
    "        parts = line.split(TAB)\n"
    "        if parts[0] == 'R':\n"
    "            got_rows.append((int(parts[1]), []))\n"
    "        elif parts[0] == 'F':\n"
    "            got_rows[-1][1].append((parts[1], parts[2], parts[3]))\n"
    "    if len(got_rows) != len(rows):\n"
    "        return 'got %d rows, expected %d' % (len(got_rows), len(rows))\n"
    "    for i, (row, (number, fields)) in enumerate(zip(rows, got_rows)):\n"
    "        if number != i + 1:\n"
    "            return 'row %d numbered %d' % (i + 1, number)\n"
    "        want = [expect_field(k, v) for k, v in row.items()]\n"
    "        if len(want) != len(fields):\n"
    "            return 'row %d: %d fields, expected %d' % (i + 1, len(fields), len(want))\n"
    "        for w, g in zip(want, fields):\n"
    "            if w[0] == 'J' and g[0] == 'J':\n"
    "                t = bytes.fromhex(g[2]).decode()\n"
    "                if not compact(t) or parse_canon(t) != w[2]:\n"
    "                    return 'row %d: %s: got %s, expected %r' % (i + 1, w[1], t, w[2])\n"
    "            elif w != g:\n"
    "                return 'row %d: got %r, expected %r' % (i + 1, g, w)\n"
    "    return None\n"
    "\n"
    "\n"
    "def main():\n"
    "    mode, out, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n"
    "    if mode == 'gen':\n"
    "        gen(out, seed, n)\n"
    "        return 0\n"
    "    problem = check(seed, n, sys.argv[5])\n"
    "    if problem:\n"
    "        sys.stderr.write('seed %d, %s: %s%s' % (seed, sys.argv[5], problem, NL))\n"
    "        return 1\n"
    "    return 0\n"
    "\n"
    "\n"
    "sys.exit(main())\n";

static void run_python(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", args);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("'%s' exited with %d (its message is above)", cmd, rc);
}

static void put_hex(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", (unsigned char)s[i]);
}

/* Reads path with open and writes what it saw, for the Python check: "#columns\t<hex>...",
 * then per row "R\t<number>" and per field "F\t<kind>\t<hex name>\t<hex value>". */
static void write_actual(open_fn open, const char *path, const char *out)
{
    static const char kinds[] = {
        [SL_CELL_TEXT] = 'T', [SL_CELL_NUMBER] = 'N', [SL_CELL_BOOL] = 'B',
        [SL_CELL_DATE] = 'D', [SL_CELL_JSON] = 'J',   [SL_CELL_EMPTY] = 'E'};
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(open(path, &r, &err), 0, &err);
    char *body = NULL;
    size_t body_len = 0;
    FILE *rows = open_memstream(&body, &body_len);
    struct sl_row row;
    int rc;
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        fprintf(rows, "R\t%lld\n", (long long)row.number);
        for (size_t i = 0; i < row.count; i++) {
            fprintf(rows, "F\t%c\t", kinds[row.fields[i].kind]);
            put_hex(rows, row.fields[i].name, strlen(row.fields[i].name));
            fputc('\t', rows);
            put_hex(rows, row.fields[i].value, row.fields[i].len);
            fputc('\n', rows);
        }
    }
    check_rc(rc, 0, &err);
    fclose(rows);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    size_t n;
    const char *const *cols = sl_reader_columns(r, &n);
    fputs("#columns", f);
    for (size_t i = 0; i < n; i++) {
        fputc('\t', f);
        put_hex(f, cols[i], strlen(cols[i]));
    }
    fputc('\n', f);
    fwrite(body, 1, body_len, f);
    assert_int_equal(fclose(f), 0);
    free(body);
    sl_reader_close(r);
}

static void test_random_files_match_python(void **state)
{
    (void)state;
    char dir[256], script[512], args[1800], data[512], actual[512];
    sl_test_tmpdir(dir);
    snprintf(script, sizeof script, "%s/gen_json.py", dir);
    sl_test_write_text(script, gen_json_py);
    for (unsigned seed = 1; seed <= 16; seed++) {
        int rows = seed % 4 == 0 ? 2000 : 150;
        snprintf(args, sizeof args, "%s gen %s %u %d", script, dir, seed, rows);
        run_python(args);
        const char *exts[] = {"json", "ndjson"};
        for (int k = 0; k < 2; k++) {
            snprintf(data, sizeof data, "%s/data.%s", dir, exts[k]);
            snprintf(actual, sizeof actual, "%s/actual.%s.txt", dir, exts[k]);
            write_actual(k ? sl_reader_open_ndjson : sl_reader_open_json, data, actual);
            snprintf(args, sizeof args, "%s check %s %u %d %s", script, dir, seed, rows, actual);
            run_python(args);
        }
    }
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

static void test_large_array_in_bounded_memory(void **state)
{
    (void)state;
    char dir[256], path[512];
    snprintf(path, sizeof path, "%s/big.json", sl_test_tmpdir(dir));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    long long written = fprintf(f, "[");
    int64_t want = 0;
    while (written < (30LL << 20)) {
        want++;
        written +=
            fprintf(f,
                    "%s{\"id\": %lld, \"name\": \"name %lld\", \"tags\": [\"a\", {\"b\": "
                    "%lld}], \"ok\": true, \"none\": null}",
                    want > 1 ? ",\n" : "", (long long)want, (long long)want, (long long)want % 7);
    }
    fprintf(f, "]\n");
    assert_int_equal(fclose(f), 0);

    long long rss0 = rss_now(), max0 = maxrss_bytes(), peak = rss0;
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    check_rc(sl_reader_open_json(path, &r, &err), 0, &err);
    struct sl_row row;
    int rc;
    int64_t rows = 0;
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        rows++;
        assert_int_equal(row.count, 5);
        if (rows % 4096 == 0 && rss_now() > peak)
            peak = rss_now();
    }
    check_rc(rc, 0, &err);
    check_i64(rows, want);
    sl_reader_close(r);
    /* Sanity bounds, not timings: the 30 MB file never comes close to being held. */
    check_range(peak - rss0, -(1LL << 30), 20LL << 20);
    check_range(maxrss_bytes() - max0, 0, 20LL << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First, while the process is small, so that ru_maxrss means something. */
        cmocka_unit_test(test_large_array_in_bounded_memory),
        cmocka_unit_test(test_values_and_kinds),
        cmocka_unit_test(test_rows_and_columns),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_not_an_array),
        cmocka_unit_test(test_element_not_an_object),
        cmocka_unit_test(test_invalid_json_says_where),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_error_position_past_first_chunk),
        cmocka_unit_test(test_nesting_too_deep),
        cmocka_unit_test(test_value_cap),
        cmocka_unit_test(test_ndjson_rows),
        cmocka_unit_test(test_ndjson_bad_lines),
        cmocka_unit_test(test_ndjson_line_cap),
        cmocka_unit_test(test_open_picks_reader),
        cmocka_unit_test(test_random_files_match_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
