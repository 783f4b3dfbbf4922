/*
 * test_reader_sheet: the XLSX and XLS row readers (src/import/xlsx.c, src/import/xls.c) behind
 * the reader interface (src/import/reader.h).
 *
 * Fixtures are made by the tests, never downloaded: workbooks as a spreadsheet program writes them
 * come from Python's openpyxl (XLSX) and xlwt (XLS); the XML a writer may produce that openpyxl
 * does not (shared and rich text strings, errors, formula strings, the 1904 date system, broken
 * parts) is written by hand into a zip made with libzip. Each row is compared as one line of text,
 * "name:K:value;..." with K the kind (T text, N number, B boolean, D date, E empty), so a failure
 * prints the whole row on both sides.
 */
#include "testutil.h"

#include "import/reader.h"
#include "util/err.h"
#include "util/timeutil.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <zip.h>

#define PYTHON "/usr/bin/python3"

#define NS_MAIN "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define NS_REL  "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define NS_PKG  "http://schemas.openxmlformats.org/package/2006/relationships"

#define WORKBOOK                                                                                   \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<workbook xmlns=\"" NS_MAIN                       \
    "\" xmlns:r=\"" NS_REL                                                                         \
    "\"><sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
#define RELS                                                                                       \
    "<Relationships xmlns=\"" NS_PKG "\">"                                                         \
    "<Relationship Id=\"rId1\" Type=\"" NS_REL "/worksheet\" Target=\"worksheets/sheet1.xml\"/>"   \
    "<Relationship Id=\"rId2\" Type=\"" NS_REL "/sharedStrings\" Target=\"sharedStrings.xml\"/>"   \
    "<Relationship Id=\"rId3\" Type=\"" NS_REL "/styles\" Target=\"styles.xml\"/>"                 \
    "</Relationships>"
/* A worksheet part around rows (on the lines after the first). */
#define SHEET(rows)                                                                                \
    "<?xml version=\"1.0\"?>\n<worksheet xmlns=\"" NS_MAIN "\"><sheetData>\n" rows                 \
    "</sheetData></worksheet>"
/* Styles: 0 General, 1 built-in date (14), 2 custom date-time, 3 custom number with quoted and
 * bracketed letters (not a date), 4 elapsed time [h]:mm. */
#define STYLES                                                                                     \
    "<styleSheet xmlns=\"" NS_MAIN "\"><numFmts count=\"3\">"                                      \
    "<numFmt numFmtId=\"164\" formatCode=\"yyyy\\-mm\\-dd\\ hh:mm:ss\"/>"                          \
    "<numFmt numFmtId=\"165\" formatCode=\"[Red]0.00&quot; days&quot;\"/>"                         \
    "<numFmt numFmtId=\"166\" formatCode=\"[h]:mm\"/></numFmts>"                                   \
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"14\"/></cellStyleXfs>"                               \
    "<cellXfs count=\"5\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\"/><xf numFmtId=\"164\"/>"         \
    "<xf numFmtId=\"165\"/><xf numFmtId=\"166\"/></cellXfs></styleSheet>"

struct part {
    const char *name;
    const char *text;
};

/* ---------------------------------------------------------------------------------------------
 * Making fixtures
 */

/* Writes a zip at path holding the parts (their text is the entry's bytes). */
static void make_zip(const char *path, const struct part *parts, size_t n)
{
    int code = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    if (!z)
        fail_msg("zip_open(%s) failed: %d", path, code);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *src = zip_source_buffer(z, parts[i].text, strlen(parts[i].text), 0);
        assert_non_null(src);
        if (zip_file_add(z, parts[i].name, src, ZIP_FL_OVERWRITE) < 0) {
            zip_source_free(src);
            fail_msg("zip_file_add(%s): %s", parts[i].name, zip_strerror(z));
        }
    }
    if (zip_close(z) != 0)
        fail_msg("zip_close(%s): %s", path, zip_strerror(z));
}

/* Writes an XLSX at path from a worksheet and optional shared strings (NULL: no such part). */
static void make_xlsx(const char *path, const char *sheet, const char *strings)
{
    struct part parts[] = {{"xl/workbook.xml", WORKBOOK},
                           {"xl/_rels/workbook.xml.rels", RELS},
                           {"xl/styles.xml", STYLES},
                           {"xl/worksheets/sheet1.xml", sheet},
                           {"xl/sharedStrings.xml", strings}};
    make_zip(path, parts, strings ? 5 : 4);
}

/* Runs a Python script (written next to out) that makes the file out; 0 when it did. */
static int run_python(const char *dir, const char *script, const char *out)
{
    char path[512], cmd[1400];
    snprintf(path, sizeof path, "%s/gen.py", dir);
    sl_test_write_text(path, script);
    snprintf(cmd, sizeof cmd, PYTHON " %s %s", path, out);
    return system(cmd);
}

/* ---------------------------------------------------------------------------------------------
 * Reading
 */

static char kind_letter(enum sl_cell_kind k)
{
    return "TNBDJE"[k];
}

/* "name:K:value;..." of a row. */
static const char *row_text(const struct sl_row *row, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < row->count && used < cap; i++) {
        const struct sl_field *f = &row->fields[i];
        assert_int_equal(strlen(f->value), f->len);
        used += (size_t)snprintf(buf + used, cap - used, "%s%s:%c:%s", i ? ";" : "", f->name,
                                 kind_letter(f->kind), f->value);
    }
    return buf;
}

static const char *columns_text(struct sl_reader *r, char *buf, size_t cap)
{
    size_t n, used = 0;
    const char *const *cols = sl_reader_columns(r, &n);
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "," : "", cols[i]);
    return buf;
}

/* Opens path with the reader of its extension; checks the open's rc. */
static struct sl_reader *open_sheet(const char *path, int want_rc, struct sl_error *err)
{
    struct sl_reader *r = (struct sl_reader *)0x1;
    size_t n = strlen(path);
    int rc = n > 4 && strcmp(path + n - 4, ".xls") == 0 ? sl_reader_open_xls(path, &r, err)
                                                        : sl_reader_open_xlsx(path, &r, err);
    check_rc(rc, want_rc, err);
    if (rc != 0)
        assert_null(r); /* nothing is left behind on failure */
    return r;
}

/* Checks that r yields exactly the rows want (NULL-terminated), then ends. */
static void check_rows(struct sl_reader *r, const char *const *want)
{
    struct sl_error err = {0};
    struct sl_row row;
    char buf[4096];
    int64_t n = 0;
    for (; want[n]; n++) {
        check_rc(sl_reader_next(r, &row, &err), 1, &err);
        check_i64(row.number, n + 1);
        check_str(row_text(&row, buf, sizeof buf), want[n]);
    }
    check_rc(sl_reader_next(r, &row, &err), 0, &err);
    check_rc(sl_reader_next(r, &row, &err), 0, &err); /* the end stays the end */
}

/* Opens the handmade XLSX of sheet and strings and checks its columns and rows. */
static void check_xlsx(const char *sheet, const char *strings, const char *want_cols,
                       const char *const *want_rows)
{
    char dir[256], path[300], buf[4096];
    struct sl_error err = {0};
    snprintf(path, sizeof path, "%s/t.xlsx", sl_test_tmpdir(dir));
    make_xlsx(path, sheet, strings);
    struct sl_reader *r = open_sheet(path, 0, &err);
    check_str(sl_reader_format(r), "xlsx");
    check_str(columns_text(r, buf, sizeof buf), want_cols);
    check_rows(r, want_rows);
    sl_reader_close(r);
}

/* Opens the handmade XLSX and expects SL_EINVALID whose message holds want, at open (at_row 0)
 * or at data row at_row. */
static void check_xlsx_fails(const char *sheet, const char *strings, int at_row, const char *want)
{
    char dir[256], path[300];
    struct sl_error err = {0};
    struct sl_row row;
    snprintf(path, sizeof path, "%s/t.xlsx", sl_test_tmpdir(dir));
    make_xlsx(path, sheet, strings);
    struct sl_reader *r = open_sheet(path, at_row ? 0 : SL_EINVALID, &err);
    for (int i = 1; i < at_row; i++)
        check_rc(sl_reader_next(r, &row, &err), 1, &err);
    if (at_row) {
        check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err);
        check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err); /* and stays failed */
    }
    if (!strstr(err.msg, want))
        fail_msg("message '%s' does not hold '%s'", err.msg, want);
    sl_reader_close(r);
}

/* ---------------------------------------------------------------------------------------------
 * XLSX written by openpyxl
 */

static const char OPENPYXL_TYPES[] =
    "import datetime, sys, openpyxl\n"
    "wb = openpyxl.Workbook(); ws = wb.active\n"
    "ws.append(['name', 'qty', 'price', 'ok', 'day', 'at', None, 'name', 'us'])\n"
    "ws.append(['Ana', 3, -1.5, True, datetime.date(2024, 2, 29),\n"
    "           datetime.datetime(2024, 2, 29, 13, 5, 9), None, 'dup', 45351])\n"
    "ws['I2'].number_format = 'mm-dd-yy'\n" /* built-in format 14 */
    "ws.append([])\n"
    "ws.append(['Bo', -42, 0.1, False, None, None, None, None, None, 'extra'])\n"
    "ws.append([None, 10**15, 1e-7])\n"
    "ws.append(['  spaced  ', 'x&<y>', 'é ü 日本'])\n"
    "ws['A9'] = datetime.datetime(1999, 12, 31, 23, 59, 59)\n"
    "wb.save(sys.argv[1])\n";

static void test_openpyxl_types(void **state)
{
    (void)state;
    char dir[256], path[300], buf[512];
    struct sl_error err = {0};
    snprintf(path, sizeof path, "%s/types.xlsx", sl_test_tmpdir(dir));
    check_i64(run_python(dir, OPENPYXL_TYPES, path), 0);
    struct sl_reader *r = open_sheet(path, 0, &err);
    /* An empty header cell is column_N; a repeated name gets _2. */
    check_str(columns_text(r, buf, sizeof buf), "name,qty,price,ok,day,at,column_7,name_2,us");
    static const char *const want[] = {
        "name:T:Ana;qty:N:3;price:N:-1.5;ok:B:true;day:D:2024-02-29;at:D:2024-02-29T13:05:09Z;"
        "column_7:E:;name_2:T:dup;us:D:2024-02-29",
        /* the empty row 3 is skipped; a cell past the header is column_N */
        "name:T:Bo;qty:N:-42;price:N:0.1;ok:B:false;day:E:;at:E:;column_7:E:;name_2:E:;us:E:;"
        "column_10:T:extra",
        "name:E:;qty:N:1000000000000000;price:N:1e-07;ok:E:;day:E:;at:E:;column_7:E:;name_2:E:;"
        "us:E:",
        "name:T:  spaced  ;qty:T:x&<y>;price:T:é ü 日本;ok:E:;day:E:;at:E:;column_7:E:;"
        "name_2:E:;us:E:",
        "name:D:1999-12-31T23:59:59Z;qty:E:;price:E:;ok:E:;day:E:;at:E:;column_7:E:;name_2:E:;"
        "us:E:",
        NULL};
    check_rows(r, want);
    sl_reader_close(r);
}

/* ---------------------------------------------------------------------------------------------
 * Handmade XLSX: what openpyxl does not write
 */

static void test_shared_and_rich_strings(void **state)
{
    (void)state;
    static const char strings[] =
        "<sst xmlns=\"" NS_MAIN "\" count=\"6\" uniqueCount=\"6\">"
        "<si><t>id</t></si>"
        "<si><t>label</t></si>"
        "<si><r><rPr><b/></rPr><t>bold</t></r><r><t xml:space=\"preserve\"> and plain</t></r></si>"
        "<si><t>漢字</t><rPh sb=\"0\" eb=\"2\"><t>カンジ</t></rPh><phoneticPr fontId=\"1\"/></si>"
        "<si><t>a &amp; b</t></si>"
        "<si><t/></si>"
        "</sst>";
    static const char sheet[] = SHEET(
        "<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c></row>\n"
        "<row r=\"2\"><c r=\"A2\"><v>1</v></c><c r=\"B2\" t=\"s\"><v>2</v></c></row>\n"
        "<row r=\"3\"><c r=\"A3\"><v>2</v></c><c r=\"B3\" t=\"s\"><v>3</v></c></row>\n"
        "<row r=\"4\"><c r=\"A4\"><v>3</v></c><c r=\"B4\" t=\"s\"><v>4</v></c></row>\n"
        "<row r=\"5\"><c r=\"A5\"><v>4</v></c><c r=\"B5\" t=\"s\"><v>5</v></c></row>\n");
    static const char *const want[] = {"id:N:1;label:T:bold and plain", "id:N:2;label:T:漢字",
                                       "id:N:3;label:T:a & b", "id:N:4;label:E:", NULL};
    check_xlsx(sheet, strings, "id,label", want);
}

static void test_inline_formula_error_bool_cells(void **state)
{
    (void)state;
    static const char sheet[] = SHEET(
        "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>text</t></is></c>"
        "<c r=\"B1\" t=\"inlineStr\"><is><t>calc</t></is></c>"
        "<c r=\"C1\" t=\"inlineStr\"><is><t>err</t></is></c>"
        "<c r=\"D1\" t=\"inlineStr\"><is><t>flag</t></is></c>"
        "<c r=\"E1\" t=\"inlineStr\"><is><t>iso</t></is></c></row>\n"
        /* rich inline text; a formula with a string result; an error; a boolean; t="d" */
        "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><r><t>ri</t></r><r><t>ch</t></r></is></c>"
        "<c r=\"B2\" t=\"str\"><f>CONCAT(\"a\",\"b\")</f><v>ab</v></c>"
        "<c r=\"C2\" t=\"e\"><f>1/0</f><v>#DIV/0!</v></c>"
        "<c r=\"D2\" t=\"b\"><v>1</v></c>"
        "<c r=\"E2\" t=\"d\"><v>2024-01-02T03:04:05Z</v></c></row>\n"
        /* cells without a reference follow the one before; a styled cell without a value is
         * empty, and so is a row of those, which is skipped */
        "<row r=\"3\"><c t=\"inlineStr\"><is><t>x</t></is></c><c s=\"1\"/>"
        "<c t=\"e\"><v>#N/A</v></c><c t=\"b\"><v>0</v></c></row>\n"
        "<row r=\"4\"><c r=\"A4\" s=\"1\"/><c r=\"B4\" s=\"2\"/></row>\n"
        "<row r=\"9\"><c r=\"D9\" t=\"b\"><v>maybe</v></c></row>\n");
    static const char *const want[] = {
        "text:T:rich;calc:T:ab;err:T:#DIV/0!;flag:B:true;iso:D:2024-01-02T03:04:05Z",
        "text:T:x;calc:E:;err:T:#N/A;flag:B:false;iso:E:",
        "text:E:;calc:E:;err:E:;flag:T:maybe;iso:E:", NULL};
    check_xlsx(sheet, NULL, "text,calc,err,flag,iso", want);
}

static void test_numbers_and_date_styles(void **state)
{
    (void)state;
    static const char sheet[] = SHEET(
        "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>v</t></is></c></row>\n"
        "<row r=\"2\"><c r=\"A2\"><v>42</v></c></row>\n"
        "<row r=\"3\"><c r=\"A3\"><v>-0.25</v></c></row>\n"
        "<row r=\"4\"><c r=\"A4\"><v>1.5E-3</v></c></row>\n"
        "<row r=\"5\"><c r=\"A5\" s=\"1\"><v>45351</v></c></row>\n"   /* built-in 14 */
        "<row r=\"6\"><c r=\"A6\" s=\"2\"><v>45351.5</v></c></row>\n" /* custom date-time */
        "<row r=\"7\"><c r=\"A7\" s=\"2\"><v>45351</v></c></row>\n"   /* midnight: a date */
        "<row r=\"8\"><c r=\"A8\" s=\"3\"><v>45351</v></c></row>\n"   /* "[Red]0.00 days" */
        "<row r=\"9\"><c r=\"A9\" s=\"4\"><v>0.75</v></c></row>\n"    /* [h]:mm, time only */
        "<row r=\"10\"><c r=\"A10\" s=\"1\"><v>1</v></c></row>\n"     /* Excel's first day */
        "<row r=\"11\"><c r=\"A11\" s=\"1\"><v>59</v></c></row>\n"    /* before its fake 29th */
        "<row r=\"12\"><c r=\"A12\" s=\"1\"><v>61</v></c></row>\n"    /* after it */
        "<row r=\"13\"><c r=\"A13\" s=\"1\"><v>-1</v></c></row>\n"    /* no date: a number */
        "<row r=\"14\"><c r=\"A14\" s=\"9\"><v>7</v></c></row>\n"     /* unknown style */
        "<row r=\"15\"><c r=\"A15\" s=\"2\"><v>45351.999999999</v></c></row>\n"); /* rounds up */
    static const char *const want[] = {"v:N:42",
                                       "v:N:-0.25",
                                       "v:N:1.5E-3",
                                       "v:D:2024-02-29",
                                       "v:D:2024-02-29T12:00:00Z",
                                       "v:D:2024-02-29",
                                       "v:N:45351",
                                       "v:D:1899-12-30T18:00:00Z",
                                       "v:D:1900-01-01",
                                       "v:D:1900-02-28",
                                       "v:D:1900-03-01",
                                       "v:N:-1",
                                       "v:N:7",
                                       "v:D:2024-03-01",
                                       NULL};
    check_xlsx(sheet, NULL, "v", want);
}

static void test_date1904_and_sheet_order(void **state)
{
    (void)state;
    /* The first sheet in workbook order is rId7, stored as xl/worksheets/data.xml; the workbook
     * counts days from 1904-01-01; prefixed element names are namespaced like any others. */
    static const char workbook[] =
        "<x:workbook xmlns:x=\"" NS_MAIN "\" xmlns:r=\"" NS_REL "\"><x:workbookPr date1904=\"1\"/>"
        "<x:sheets><x:sheet name=\"First\" sheetId=\"2\" r:id=\"rId7\"/>"
        "<x:sheet name=\"Second\" sheetId=\"1\" r:id=\"rId1\"/></x:sheets></x:workbook>";
    static const char rels[] =
        "<Relationships xmlns=\"" NS_PKG "\">"
        "<Relationship Id=\"rId1\" Type=\"" NS_REL "/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
        "<Relationship Id=\"rId7\" Type=\"" NS_REL "/worksheet\" "
        "Target=\"/xl/worksheets/data.xml\"/>"
        "<Relationship Id=\"rId3\" Type=\"" NS_REL "/styles\" Target=\"styles.xml\"/>"
        "</Relationships>";
    static const char first[] =
        "<x:worksheet xmlns:x=\"" NS_MAIN "\"><x:sheetData>"
        "<x:row r=\"1\"><x:c r=\"A1\" t=\"inlineStr\"><x:is><x:t>when</x:t></x:is></x:c></x:row>"
        "<x:row r=\"2\"><x:c r=\"A2\" s=\"1\"><x:v>0</x:v></x:c></x:row>"
        "<x:row r=\"3\"><x:c r=\"A3\" s=\"1\"><x:v>43889</x:v></x:c></x:row>"
        "</x:sheetData></x:worksheet>";
    static const char second[] = SHEET("<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>");
    struct part parts[] = {{"xl/workbook.xml", workbook},
                           {"xl/_rels/workbook.xml.rels", rels},
                           {"xl/styles.xml", STYLES},
                           {"xl/worksheets/sheet1.xml", second},
                           {"xl/worksheets/data.xml", first}};
    char dir[256], path[300], buf[256];
    struct sl_error err = {0};
    snprintf(path, sizeof path, "%s/t.xlsx", sl_test_tmpdir(dir));
    make_zip(path, parts, 5);
    struct sl_reader *r = open_sheet(path, 0, &err);
    check_str(columns_text(r, buf, sizeof buf), "when");
    static const char *const want[] = {"when:D:1904-01-01", "when:D:2024-02-29", NULL};
    check_rows(r, want);
    sl_reader_close(r);
}

static void test_header_names(void **state)
{
    (void)state;
    /* Repeats get the next free suffix, skipping one the header already holds; an empty cell is
     * column_N, and so is a data cell past the header, deduplicated the same way. */
    static const char sheet[] =
        SHEET("<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>a</t></is></c>"
              "<c r=\"B2\" t=\"inlineStr\"><is><t>a</t></is></c>"
              "<c r=\"C2\" t=\"inlineStr\"><is><t>a_2</t></is></c>"
              "<c r=\"E2\" t=\"inlineStr\"><is><t>a</t></is></c>"
              "<c r=\"F2\" t=\"inlineStr\"><is><t>column_4</t></is></c>"
              "<c r=\"G2\" t=\"inlineStr\"><is><t>column_8</t></is></c></row>\n"
              "<row r=\"5\"><c r=\"A5\"><v>1</v></c><c r=\"H5\"><v>8</v></c>"
              "<c r=\"J5\"><v>10</v></c></row>\n");
    static const char *const want[] = {
        "a:N:1;a_2:E:;a_2_2:E:;column_4:E:;a_3:E:;column_4_2:E:;column_8:E:;column_8_2:N:8;"
        "column_10:N:10",
        NULL};
    check_xlsx(sheet, NULL, "a,a_2,a_2_2,column_4,a_3,column_4_2,column_8", want);
}

static void test_empty_sheet(void **state)
{
    (void)state;
    static const char *const none[] = {NULL};
    check_xlsx(SHEET(""), NULL, "", none);
    check_xlsx(SHEET("<row r=\"1\"/><row r=\"2\"><c r=\"A2\" s=\"1\"/></row>"), NULL, "", none);
    /* a header alone: columns, no rows */
    check_xlsx(SHEET("<row r=\"1\"><c r=\"A1\"><v>5</v></c></row>"), NULL, "5", none);
}

/* ---------------------------------------------------------------------------------------------
 * A large sheet, read in bounded memory
 */

static long max_rss_kb(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

#define BIG_ROWS     100000
#define RSS_BOUND_KB (12 * 1024) /* how much reading it may grow the peak resident memory */

/* Writes a worksheet of BIG_ROWS data rows (about 28 MB of XML) to path, row by row. */
static void write_big_sheet(const char *path)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("<worksheet xmlns=\"" NS_MAIN "\"><sheetData>\n<row r=\"1\">"
          "<c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c>"
          "<c r=\"C1\" t=\"s\"><v>2</v></c><c r=\"D1\" t=\"s\"><v>3</v></c></row>\n",
          f);
    for (int i = 1; i <= BIG_ROWS; i++)
        fprintf(f,
                "<row r=\"%d\" spans=\"1:4\"><c r=\"A%d\"><v>%d</v></c>"
                "<c r=\"B%d\" t=\"inlineStr\"><is><t>name %d with some padding to make the "
                "sheet large enough for memory to show it: %08d %08d %08d %08d</t></is></c>"
                "<c r=\"C%d\" t=\"s\"><v>%d</v></c><c r=\"D%d\" s=\"1\"><v>%d.25</v></c></row>\n",
                i + 1, i + 1, i, i + 1, i, i, i, i, i, i + 1, 4 + i % 3, i + 1, 40000 + i % 1000);
    fputs("</sheetData></worksheet>", f);
    assert_int_equal(fclose(f), 0);
}

/* Makes the big workbook at path; returns the size of its sheet once inflated, in bytes. */
static long long make_big_xlsx(const char *dir, const char *path)
{
    static const char strings[] = "<sst xmlns=\"" NS_MAIN "\"><si><t>n</t></si><si><t>name</t>"
                                  "</si><si><t>kind</t></si><si><t>value</t></si><si><t>red"
                                  "</t></si><si><t>green</t></si><si><t>blue</t></si></sst>";
    char sheet[300];
    int code = 0;
    snprintf(sheet, sizeof sheet, "%s/sheet.xml", dir);
    write_big_sheet(sheet);
    struct part parts[] = {{"xl/workbook.xml", WORKBOOK},
                           {"xl/_rels/workbook.xml.rels", RELS},
                           {"xl/styles.xml", STYLES},
                           {"xl/sharedStrings.xml", strings}};
    make_zip(path, parts, 4);
    zip_t *z = zip_open(path, 0, &code);
    assert_non_null(z);
    zip_source_t *src = zip_source_file(z, sheet, 0, -1);
    assert_non_null(src);
    assert_true(zip_file_add(z, "xl/worksheets/sheet1.xml", src, 0) >= 0);
    assert_int_equal(zip_close(z), 0);
    struct stat st;
    assert_int_equal(stat(sheet, &st), 0);
    unlink(sheet);
    return (long long)st.st_size;
}

static void test_large_sheet_bounded_memory(void **state)
{
    (void)state;
    char dir[256], path[300], buf[512], want[512];
    struct sl_error err = {0};
    struct sl_row row;
    struct stat st;
    int rc;
    snprintf(path, sizeof path, "%s/big.xlsx", sl_test_tmpdir(dir));
    long long sheet_bytes = make_big_xlsx(dir, path);
    assert_int_equal(stat(path, &st), 0);
    long before = max_rss_kb();
    struct sl_reader *r = open_sheet(path, 0, &err);
    int64_t n = 0;
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        n++;
        check_i64(row.number, n);
        if (n % 9973 != 0 && n != BIG_ROWS)
            continue;
        int64_t y;
        unsigned m, d;
        sl_civil_from_days(40000 + n % 1000 - 25569, &y, &m, &d); /* serial 25569: 1970-01-01 */
        snprintf(want, sizeof want,
                 "n:N:%lld;name:T:name %lld with some padding to make the sheet large enough for "
                 "memory to show it: %08lld %08lld %08lld %08lld;kind:T:%s;"
                 "value:D:%04lld-%02u-%02uT06:00:00Z",
                 (long long)n, (long long)n, (long long)n, (long long)n, (long long)n, (long long)n,
                 n % 3 == 0   ? "red"
                 : n % 3 == 1 ? "green"
                              : "blue",
                 (long long)y, m, d);
        check_str(row_text(&row, buf, sizeof buf), want);
    }
    check_rc(rc, 0, &err);
    check_i64(n, BIG_ROWS);
    long grown_kb = max_rss_kb() - before;
    sl_reader_close(r);
    /* Reading holds a row and the parser's buffers, far less than the inflated sheet would. */
    print_message("big.xlsx: %lld bytes, sheet %lld bytes inflated, %d rows, max RSS %ld kB "
                  "before, grown by %ld kB\n",
                  (long long)st.st_size, sheet_bytes, BIG_ROWS, before, grown_kb);
    check_range(sheet_bytes / 1024, 2 * RSS_BOUND_KB, LLONG_MAX);
    check_range(grown_kb, 0, RSS_BOUND_KB);
}

/* ---------------------------------------------------------------------------------------------
 * Broken XLSX files
 */

static void test_not_a_zip(void **state)
{
    (void)state;
    char dir[256], path[300];
    struct sl_error err = {0};
    sl_test_tmpdir(dir);

    /* a truncated workbook: the zip's central directory is gone */
    snprintf(path, sizeof path, "%s/cut.xlsx", dir);
    make_xlsx(path, SHEET("<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>"), NULL);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    open_sheet(path, SL_EINVALID, &err);
    if (!strstr(err.msg, "not a valid XLSX (zip) file: "))
        fail_msg("message '%s' does not say the zip is broken", err.msg);

    /* text is no zip */
    snprintf(path, sizeof path, "%s/text.xlsx", dir);
    sl_test_write_text(path, "name,qty\nAna,3\n");
    open_sheet(path, SL_EINVALID, &err);
    if (!strstr(err.msg, "not a valid XLSX (zip) file: "))
        fail_msg("message '%s' does not say the zip is broken", err.msg);

    /* no such file is an I/O error, not a format error */
    snprintf(path, sizeof path, "%s/missing.xlsx", dir);
    open_sheet(path, SL_EIO, &err);
}

/* Flips one byte of a stored (uncompressed) sheet inside a text value: the XML stays well formed,
 * and only the zip's checksum can tell. */
static void test_corrupt_entry(void **state)
{
    (void)state;
    char dir[256], path[300];
    static const char sheet[] =
        SHEET("<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>h</t></is></c></row>\n"
              "<row r=\"2\"><c r=\"A2\" t=\"inlineStr\"><is><t>QQQQQQQQQQQQ</t></is></c></row>\n");
    struct part parts[] = {{"xl/workbook.xml", WORKBOOK}, {"xl/worksheets/sheet1.xml", sheet}};
    struct sl_error err = {0};
    struct sl_row row;
    int code = 0;
    snprintf(path, sizeof path, "%s/t.xlsx", sl_test_tmpdir(dir));
    make_zip(path, parts, 2);
    zip_t *z = zip_open(path, 0, &code);
    assert_non_null(z);
    assert_int_equal(zip_set_file_compression(z, 1, ZIP_CM_STORE, 0), 0);
    assert_int_equal(zip_close(z), 0);

    FILE *f = fopen(path, "r+b");
    char data[4096];
    assert_non_null(f);
    size_t n = fread(data, 1, sizeof data, f);
    char *q = memmem(data, n, "QQQQQQQQQQQQ", 12);
    assert_non_null(q);
    q[5] = 'R';
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);

    /* A checksum covers the whole entry: rows may come out before its end shows the damage. */
    struct sl_reader *r = NULL;
    int rc = sl_reader_open_xlsx(path, &r, &err);
    while (rc == 0 && (rc = sl_reader_next(r, &row, &err)) == 1)
        rc = 0;
    check_rc(rc, SL_EINVALID, &err);
    if (!strstr(err.msg, "not a valid XLSX (zip) file: xl/worksheets/sheet1.xml: "))
        fail_msg("message '%s' does not name the part and the zip's complaint", err.msg);
    sl_reader_close(r);
}

static void test_missing_parts(void **state)
{
    (void)state;
    char dir[256], path[300];
    struct sl_error err = {0};
    static const char sheet[] = SHEET("<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>");
    sl_test_tmpdir(dir);

    /* a zip with a sheet and no workbook */
    struct part no_workbook[] = {{"xl/worksheets/sheet1.xml", sheet}, {"docProps/app.xml", "<a/>"}};
    snprintf(path, sizeof path, "%s/a.xlsx", dir);
    make_zip(path, no_workbook, 2);
    open_sheet(path, SL_EINVALID, &err);
    check_str(err.msg, "not a valid XLSX file: the part xl/workbook.xml is missing");

    /* a workbook whose first sheet is missing */
    struct part no_sheet[] = {{"xl/workbook.xml", WORKBOOK}, {"xl/_rels/workbook.xml.rels", RELS}};
    snprintf(path, sizeof path, "%s/b.xlsx", dir);
    make_zip(path, no_sheet, 2);
    open_sheet(path, SL_EINVALID, &err);
    check_str(err.msg, "not a valid XLSX file: the part xl/worksheets/sheet1.xml is missing");

    /* without relationships the sheet is found at its usual name */
    struct part no_rels[] = {{"xl/workbook.xml", WORKBOOK}, {"xl/worksheets/sheet1.xml", sheet}};
    snprintf(path, sizeof path, "%s/c.xlsx", dir);
    make_zip(path, no_rels, 2);
    struct sl_reader *r = open_sheet(path, 0, &err);
    static const char *const none[] = {NULL};
    check_rows(r, none);
    sl_reader_close(r);
}

static void test_malformed_xml(void **state)
{
    (void)state;
    /* a broken data row: the header was read, the failure comes with that row */
    check_xlsx_fails(SHEET("<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>\n"
                           "<row r=\"2\"><c r=\"A2\"><v>2</v></c></row>\n"
                           "<row r=\"3\"><c r=\"A3\"><v>3</c></row>\n"),
                     NULL, 2,
                     "not a valid XLSX file: xl/worksheets/sheet1.xml line 5 column 28: mismatched "
                     "tag");
    /* a broken header fails the open */
    check_xlsx_fails(SHEET("<row r=\"1\"><c r=\"A1\"><v>1</v></c>\n"), NULL, 0,
                     "xl/worksheets/sheet1.xml line 4");
    /* a sheet cut short */
    check_xlsx_fails("<worksheet xmlns=\"" NS_MAIN "\"><sheetData><row r=\"1\"><c><v>1</v></c>"
                     "</row><row r=\"2\"><c><v>2</v></c></row>",
                     NULL, 2, "xl/worksheets/sheet1.xml line 1 column");
    /* broken shared strings fail the open, naming their part */
    check_xlsx_fails(SHEET("<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>\n"), "<sst><si><t>a</si>",
                     0, "not a valid XLSX file: xl/sharedStrings.xml line 1 column");
    /* a cell that names no shared string */
    check_xlsx_fails(SHEET("<row r=\"1\"><c r=\"A1\"><v>1</v></c></row>\n"
                           "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>1</v></c></row>\n"),
                     "<sst xmlns=\"" NS_MAIN "\"><si><t>a</t></si></sst>", 1,
                     "line 4: cell refers to shared string '1', the workbook has 1");
    /* a reference past the last column */
    check_xlsx_fails(SHEET("<row r=\"1\"><c r=\"XFE1\"><v>1</v></c></row>\n"), NULL, 0,
                     "invalid cell reference 'XFE1'");
    /* no DTDs, so no entity expansion */
    check_xlsx_fails("<!DOCTYPE worksheet [<!ENTITY a \"aaaaaaaaaa\">]>"
                     "<worksheet xmlns=\"" NS_MAIN "\"><sheetData/></worksheet>",
                     NULL, 0, "a DTD is not allowed");
}

/* ---------------------------------------------------------------------------------------------
 * XLS, written by xlwt when it is installed
 */

static const char XLWT_TYPES[] =
    "import datetime, sys, xlwt\n"
    "wb = xlwt.Workbook(); ws = wb.add_sheet('First'); wb.add_sheet('Second').write(0, 0, 'no')\n"
    "for c, v in enumerate(['name', 'qty', 'price', 'day', 'at', 'time', None, 'name']):\n"
    "    if v is not None: ws.write(0, c, v)\n"
    "d = xlwt.easyxf(num_format_str='YYYY-MM-DD')\n"
    "dt = xlwt.easyxf(num_format_str='YYYY-MM-DD HH:MM:SS')\n"
    "t = xlwt.easyxf(num_format_str='HH:MM:SS')\n"
    "ws.write(1, 0, 'Ana'); ws.write(1, 1, 42); ws.write(1, 2, -1.25)\n"
    "ws.write(1, 3, datetime.date(2024, 2, 29), d)\n"
    "ws.write(1, 4, datetime.datetime(2024, 2, 29, 13, 5, 9), dt)\n"
    "ws.write(1, 5, datetime.time(12, 30, 0), t); ws.write(1, 7, 'dup')\n"
    "ws.write(3, 0, 'Bo'); ws.write(3, 2, 0.1); ws.write(3, 9, 'extra')\n"
    "ws.write(4, 1, 1e15); ws.write(4, 2, 1/3.0)\n"
    "wb.save(sys.argv[1])\n";

static int have_xlwt(void)
{
    return system(PYTHON " -c 'import xlwt' 2>/dev/null") == 0;
}

static void test_xls_types(void **state)
{
    (void)state;
    char dir[256], path[300], buf[512];
    struct sl_error err = {0};
    if (!have_xlwt()) {
        print_message("python3-xlwt is not installed: no XLS fixture can be written\n");
        skip();
    }
    snprintf(path, sizeof path, "%s/types.xls", sl_test_tmpdir(dir));
    check_i64(run_python(dir, XLWT_TYPES, path), 0);
    struct sl_reader *r = open_sheet(path, 0, &err);
    check_str(sl_reader_format(r), "xls");
    check_str(columns_text(r, buf, sizeof buf), "name,qty,price,day,at,time,column_7,name_2");
    static const char *const want[] = {
        "name:T:Ana;qty:N:42;price:N:-1.25;day:D:2024-02-29;at:D:2024-02-29T13:05:09Z;"
        "time:D:1899-12-30T12:30:00Z;column_7:E:;name_2:T:dup",
        "name:T:Bo;qty:E:;price:N:0.1;day:E:;at:E:;time:E:;column_7:E:;name_2:E:;"
        "column_10:T:extra",
        "name:E:;qty:N:1000000000000000;price:N:0.3333333333333333;day:E:;at:E:;time:E:;column_7:E:"
        ";"
        "name_2:E:",
        NULL};
    check_rows(r, want);
    sl_reader_close(r);
}

static void test_xls_not_xls(void **state)
{
    (void)state;
    char dir[256], path[300];
    struct sl_error err = {0};
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/text.xls", dir);
    sl_test_write_text(path, "name,qty\nAna,3\n");
    open_sheet(path, SL_EINVALID, &err);
    if (!strstr(err.msg, "not a valid XLS file"))
        fail_msg("message '%s' does not say the file is no XLS", err.msg);

    /* an XLSX is no XLS either */
    snprintf(path, sizeof path, "%s/zip.xls", dir);
    make_xlsx(path, SHEET(""), NULL);
    open_sheet(path, SL_EINVALID, &err);

    snprintf(path, sizeof path, "%s/missing.xls", dir);
    open_sheet(path, SL_EIO, &err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openpyxl_types),
        cmocka_unit_test(test_shared_and_rich_strings),
        cmocka_unit_test(test_inline_formula_error_bool_cells),
        cmocka_unit_test(test_numbers_and_date_styles),
        cmocka_unit_test(test_date1904_and_sheet_order),
        cmocka_unit_test(test_header_names),
        cmocka_unit_test(test_empty_sheet),
        cmocka_unit_test(test_large_sheet_bounded_memory),
        cmocka_unit_test(test_not_a_zip),
        cmocka_unit_test(test_corrupt_entry),
        cmocka_unit_test(test_missing_parts),
        cmocka_unit_test(test_malformed_xml),
        cmocka_unit_test(test_xls_types),
        cmocka_unit_test(test_xls_not_xls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
