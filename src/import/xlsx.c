/*
 * xlsx: the row reader of XLSX workbooks (the first sheet), for the imports of `sheet` jobs.
 *
 * An XLSX file is a zip of XML parts. libzip opens the container and inflates each part as a
 * stream; expat parses what it inflates, chunk by chunk. Neither the zip nor the XML is parsed by
 * hand here, and no part is ever inflated whole.
 *
 * DESIGN. Opening reads the small parts first, each parsed to its end: xl/workbook.xml (the first
 * sheet's relationship id and the 1904 date system), xl/_rels/workbook.xml.rels (where that sheet,
 * the shared strings and the styles live), xl/styles.xml (which cell styles are date formats) and
 * xl/sharedStrings.xml. The shared strings table is the one thing held in memory whatever the
 * sheet's size: cells refer to it by index, so it must be at hand before the first row, and it
 * grows with the workbook's distinct strings, not with its rows. Then the sheet part is parsed a
 * chunk at a time: when a non-empty </row> ends, its handler suspends the parser (XML_StopParser,
 * resumable), so exactly one row is held; next() hands it out and resumes the parser for the
 * following one. A row's cells are (column, kind, offset) over one text buffer reused from row to
 * row. The first non-empty row is read at open and becomes the header.
 *
 * Cells: shared strings (t="s"), inline strings (t="inlineStr"), formula strings (t="str"),
 * booleans (t="b"), errors (t="e", as their text), ISO dates (t="d") and numbers, which become
 * dates when their style's number format is a date format. Empty cells and empty rows are skipped.
 *
 * Failures: not a zip, a missing workbook or sheet part, malformed XML (part, line and expat's
 * message), a cell that names no shared string, a cell or row over its cap: SL_EINVALID.
 * Not thread-safe; one reader per job.
 */
#include "import/reader.h"
#include "util/timeutil.h"

#include <expat.h>
#include <zip.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XLSX_CHUNK      65536       /* bytes inflated from a part per parse call */
#define XLSX_MAX_COLS   16384u      /* Excel's last column, XFD */
#define XLSX_MAX_CELL   (1u << 20)  /* bytes of one cell's text (Excel's cap: 32767 chars) */
#define XLSX_MAX_ROW    (64u << 20) /* bytes of one row's text */
#define XLSX_MAX_SST    ((size_t)256 << 20) /* bytes of the shared strings table */
#define XLSX_MAX_STYLES 1048576u            /* number formats or cell styles (Excel's cap: 65490) */
#define XLSX_NAME_MAX   512                 /* bytes of a part name */
#define XLSX_MAX_SERIAL 2958465.0           /* 9999-12-31, the last date Excel shows */
#define NS_SEP          '|'                 /* expat's separator of namespace and local name */

/* ---------------------------------------------------------------------------------------------
 * Growable memory
 */

/* Bytes with a length; values are stored NUL-terminated by their writers. */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len <= n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return SL_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* Makes room for need elements of size bytes in the array at *(T **)pp. */
static int grow_array(void *pp, size_t *cap, size_t need, size_t size)
{
    void *p;
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    memcpy(&p, pp, sizeof p);
    p = reallocarray(p, n, size);
    if (!p)
        return SL_ENOMEM;
    memcpy(pp, &p, sizeof p);
    *cap = n;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Unique column names: a hash set of the names given so far, each remembering the next suffix to
 * try, so that a thousand copies of one header cost a thousand look-ups, not a million.
 */

struct nslot {
    const char *name; /* borrowed from the reader's name arrays */
    uint32_t next;    /* the suffix to try first when this name is asked for again */
};

struct nameset {
    struct nslot *slot;
    size_t cap, count; /* cap: a power of two */
};

static size_t ns_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static struct nslot *ns_find(const struct nameset *s, const char *name)
{
    size_t i = ns_hash(name) & (s->cap - 1);
    while (s->slot[i].name && strcmp(s->slot[i].name, name) != 0)
        i = (i + 1) & (s->cap - 1);
    return &s->slot[i];
}

static int ns_add(struct nameset *s, const char *name)
{
    if ((s->count + 1) * 2 > s->cap) {
        struct nameset big = {calloc(s->cap ? s->cap * 2 : 64, sizeof *big.slot),
                              s->cap ? s->cap * 2 : 64, s->count};
        if (!big.slot)
            return SL_ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i].name)
                *ns_find(&big, s->slot[i].name) = s->slot[i];
        free(s->slot);
        *s = big;
    }
    *ns_find(s, name) = (struct nslot){name, 2};
    s->count++;
    return 0;
}

static int ns_has(const struct nameset *s, const char *name)
{
    return s->cap && ns_find(s, name)->name;
}

/* A heap copy of base, or of base_2, base_3... when base is taken; the copy joins the set. */
static int unique_name(struct nameset *s, const char *base, char **out)
{
    char *name = NULL;
    if (!ns_has(s, base)) {
        name = strdup(base);
    } else {
        struct nslot *slot = ns_find(s, base);
        uint32_t k = slot->next;
        for (;; k++) {
            free(name);
            if (asprintf(&name, "%s_%u", base, k) < 0)
                name = NULL;
            if (!name || !ns_has(s, name))
                break;
        }
        slot->next = k + 1;
    }
    if (!name || ns_add(s, name) != 0) {
        free(name);
        return SL_ENOMEM;
    }
    *out = name;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Parsing a zip part with expat
 */

/* What every part's parse shares; each parse context starts with it. */
struct xml_ctx {
    XML_Parser parser;
    const char *part; /* the part's name, for messages */
    int rc;           /* the first failure raised by a handler, 0 if none */
    struct sl_error *err;
};

struct xml_handlers {
    XML_StartElementHandler start;
    XML_EndElementHandler end;
    XML_CharacterDataHandler text; /* may be NULL */
};

static const char *local_name(const char *name)
{
    const char *sep = strrchr(name, NS_SEP);
    return sep ? sep + 1 : name;
}

static int is_el(const char *name, const char *local)
{
    return strcmp(local_name(name), local) == 0;
}

/* The value of the attribute whose local name is local, or NULL. */
static const char *attr(const char **atts, const char *local)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(local_name(atts[i]), local) == 0)
            return atts[i + 1];
    return NULL;
}

/* Records a failure found by a handler and aborts the parse; the first failure wins. */
__attribute__((format(printf, 3, 4))) static void xml_fail(struct xml_ctx *x, int rc,
                                                           const char *fmt, ...)
{
    char msg[SL_ERROR_MSG_MAX];
    va_list ap;
    if (x->rc)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    x->rc = sl_err_set(x->err, rc, "not a valid XLSX file: %s line %lu: %s", x->part,
                       (unsigned long)XML_GetCurrentLineNumber(x->parser), msg);
    XML_StopParser(x->parser, XML_FALSE);
}

/* A DTD has no place in an XLSX part, and refusing it rules out entity expansion attacks. */
static void XMLCALL reject_dtd(void *user, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    xml_fail(user, SL_EINVALID, "a DTD is not allowed");
}

static int xml_open(struct xml_ctx *x, const struct xml_handlers *h)
{
    x->parser = XML_ParserCreateNS(NULL, NS_SEP);
    if (!x->parser)
        return sl_err_set(x->err, SL_ENOMEM, "out of memory");
    XML_SetUserData(x->parser, x);
    XML_SetElementHandler(x->parser, h->start, h->end);
    if (h->text)
        XML_SetCharacterDataHandler(x->parser, h->text);
    XML_SetStartDoctypeDeclHandler(x->parser, reject_dtd);
    return 0;
}

/* The rc of a parse call: a handler's failure, expat's own error (where and why), or 0. */
static int xml_status_rc(struct xml_ctx *x, enum XML_Status st)
{
    if (x->rc)
        return x->rc;
    if (st != XML_STATUS_ERROR)
        return 0;
    enum XML_Error code = XML_GetErrorCode(x->parser);
    if (code == XML_ERROR_NO_MEMORY)
        return x->rc = sl_err_set(x->err, SL_ENOMEM, "out of memory parsing %s", x->part);
    return x->rc = sl_err_set(
               x->err, SL_EINVALID, "not a valid XLSX file: %s line %lu column %lu: %s", x->part,
               (unsigned long)XML_GetCurrentLineNumber(x->parser),
               (unsigned long)XML_GetCurrentColumnNumber(x->parser) + 1, XML_ErrorString(code));
}

/* Inflates the next chunk of f into the parser and parses it; at the end of f, ends the XML. */
static enum XML_Status xml_feed(struct xml_ctx *x, zip_file_t *f, int *ended)
{
    void *buf = XML_GetBuffer(x->parser, XLSX_CHUNK);
    if (!buf)
        return XML_STATUS_ERROR;
    zip_int64_t n = zip_fread(f, buf, XLSX_CHUNK);
    if (n < 0) {
        x->rc = sl_err_set(x->err, SL_EINVALID, "not a valid XLSX (zip) file: %s: %s", x->part,
                           zip_file_strerror(f));
        return XML_STATUS_ERROR;
    }
    *ended = n == 0;
    return XML_ParseBuffer(x->parser, (int)n, n == 0);
}

static int part_exists(zip_t *zip, const char *name)
{
    return zip_name_locate(zip, name, ZIP_FL_NOCASE) >= 0;
}

static int part_open(zip_t *zip, const char *name, zip_file_t **f, struct sl_error *err)
{
    *f = zip_fopen(zip, name, ZIP_FL_NOCASE);
    if (*f)
        return 0;
    zip_error_t *ze = zip_get_error(zip);
    if (zip_error_code_zip(ze) == ZIP_ER_NOENT)
        return sl_err_set(err, SL_EINVALID, "not a valid XLSX file: the part %s is missing", name);
    if (zip_error_code_zip(ze) == ZIP_ER_MEMORY)
        return sl_err_set(err, SL_ENOMEM, "out of memory opening %s", name);
    return sl_err_set(err, SL_EINVALID, "not a valid XLSX (zip) file: %s: %s", name,
                      zip_error_strerror(ze));
}

/* Parses the part x->part of zip to its end with the handlers h; x must start its context. */
static int parse_part(zip_t *zip, struct xml_ctx *x, const struct xml_handlers *h)
{
    zip_file_t *f = NULL;
    int ended = 0;
    int rc = part_open(zip, x->part, &f, x->err);
    if (rc == 0)
        rc = xml_open(x, h);
    while (rc == 0 && !ended)
        rc = xml_status_rc(x, xml_feed(x, f, &ended));
    if (f)
        zip_fclose(f);
    if (x->parser)
        XML_ParserFree(x->parser);
    x->parser = NULL;
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The workbook and its relationships: where the first sheet, the strings and the styles are
 */

struct parts {
    char sheet[XLSX_NAME_MAX], strings[XLSX_NAME_MAX], styles[XLSX_NAME_MAX];
};

struct workbook_ctx {
    struct xml_ctx x;    /* first */
    char sheet_rid[256]; /* the first sheet's relationship id, "" if none */
    int have_sheet;
    int date1904;
};

static void XMLCALL workbook_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct workbook_ctx *w = user;
    if (is_el(name, "workbookPr")) {
        const char *v = attr(atts, "date1904");
        w->date1904 = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
    } else if (is_el(name, "sheet") && !w->have_sheet) {
        const char *id = attr(atts, "id"); /* r:id */
        w->have_sheet = 1;
        snprintf(w->sheet_rid, sizeof w->sheet_rid, "%s", id ? id : "");
    }
}

struct rels_ctx {
    struct xml_ctx x; /* first */
    const char *sheet_rid;
    struct parts found; /* "" where no relationship named the part */
};

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* A target is relative to the workbook's folder, xl/, unless it starts with '/'. */
static void resolve_target(char out[XLSX_NAME_MAX], const char *target)
{
    if (target[0] == '/')
        snprintf(out, XLSX_NAME_MAX, "%s", target + 1);
    else
        snprintf(out, XLSX_NAME_MAX, "xl/%s", target);
}

static void XMLCALL rels_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct rels_ctx *c = user;
    if (!is_el(name, "Relationship"))
        return;
    const char *id = attr(atts, "Id"), *type = attr(atts, "Type"), *target = attr(atts, "Target");
    if (!type || !target)
        return;
    if (id && c->sheet_rid[0] && strcmp(id, c->sheet_rid) == 0)
        resolve_target(c->found.sheet, target);
    else if (ends_with(type, "/sharedStrings"))
        resolve_target(c->found.strings, target);
    else if (ends_with(type, "/styles"))
        resolve_target(c->found.styles, target);
}

/* The part a relationship named when it exists, else the usual name when that exists; else the
 * named one (so that an error names what the workbook asked for). */
static void pick_part(zip_t *zip, char out[XLSX_NAME_MAX], const char *found, const char *usual)
{
    if (!found[0] || (!part_exists(zip, found) && part_exists(zip, usual)))
        found = usual;
    snprintf(out, XLSX_NAME_MAX, "%s", found);
}

static int load_workbook(zip_t *zip, struct parts *p, int *date1904, struct sl_error *err)
{
    static const struct xml_handlers wb = {workbook_start, NULL, NULL};
    static const struct xml_handlers rels = {rels_start, NULL, NULL};
    struct workbook_ctx w = {.x = {.part = "xl/workbook.xml", .err = err}};
    struct rels_ctx c = {.x = {.part = "xl/_rels/workbook.xml.rels", .err = err}};
    int rc = parse_part(zip, &w.x, &wb);
    if (rc)
        return rc;
    *date1904 = w.date1904;
    c.sheet_rid = w.sheet_rid;
    if (part_exists(zip, c.x.part) && (rc = parse_part(zip, &c.x, &rels)) != 0)
        return rc;
    pick_part(zip, p->sheet, c.found.sheet, "xl/worksheets/sheet1.xml");
    pick_part(zip, p->strings, c.found.strings, "xl/sharedStrings.xml");
    pick_part(zip, p->styles, c.found.styles, "xl/styles.xml");
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Styles: which cell formats (cellXfs) show numbers as dates
 */

struct numfmt {
    uint32_t id;
    int is_date;
};

struct styles_ctx {
    struct xml_ctx x; /* first */
    int in_numfmts, in_cellxfs;
    struct numfmt *fmts; /* the workbook's own number formats */
    size_t nfmts, cap_fmts;
    uint32_t *xf_fmt; /* numFmtId of each cellXfs entry, by style index */
    size_t nxf, cap_xf;
};

static uint32_t parse_u32(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    return s && !errno && end != s && *end == '\0' && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* A format code shows a date or time when it holds d, m, y, h or s outside quoted text, [..]
 * sections (colours, conditions, locales) and escaped or padding characters. */
static int format_is_date(const char *code)
{
    for (const char *p = code; *p; p++) {
        if (*p == '"' || *p == '[') {
            p = strchr(p + 1, *p == '"' ? '"' : ']');
            if (!p)
                return 0;
        } else if (*p == '\\' || *p == '_' || *p == '*') {
            if (!*++p)
                return 0;
        } else if (strchr("dmyhsDMYHS", *p)) {
            return 1;
        }
    }
    return 0;
}

/* Excel's built-in date and time formats. */
static int builtin_is_date(uint32_t id)
{
    return (id >= 14 && id <= 22) || (id >= 45 && id <= 47);
}

/* Makes room for one more entry in a styles array of n entries, within the cap. */
static int style_room(struct styles_ctx *c, void *array, size_t *cap, size_t n, size_t size)
{
    if (n >= XLSX_MAX_STYLES) {
        xml_fail(&c->x, SL_EINVALID, "more than %u styles", XLSX_MAX_STYLES);
        return SL_EINVALID;
    }
    if (grow_array(array, cap, n + 1, size) != 0) {
        xml_fail(&c->x, SL_ENOMEM, "out of memory");
        return SL_ENOMEM;
    }
    return 0;
}

static void XMLCALL styles_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct styles_ctx *c = user;
    const char *el = local_name(name);
    if (strcmp(el, "numFmts") == 0) {
        c->in_numfmts = 1;
    } else if (strcmp(el, "cellXfs") == 0) {
        c->in_cellxfs = 1;
    } else if (strcmp(el, "numFmt") == 0 && c->in_numfmts) {
        const char *code = attr(atts, "formatCode");
        if (style_room(c, &c->fmts, &c->cap_fmts, c->nfmts, sizeof *c->fmts) == 0)
            c->fmts[c->nfmts++] =
                (struct numfmt){parse_u32(attr(atts, "numFmtId")), code && format_is_date(code)};
    } else if (strcmp(el, "xf") == 0 && c->in_cellxfs) {
        if (style_room(c, &c->xf_fmt, &c->cap_xf, c->nxf, sizeof *c->xf_fmt) == 0)
            c->xf_fmt[c->nxf++] = parse_u32(attr(atts, "numFmtId"));
    }
}

static void XMLCALL styles_end(void *user, const XML_Char *name)
{
    struct styles_ctx *c = user;
    if (is_el(name, "numFmts"))
        c->in_numfmts = 0;
    else if (is_el(name, "cellXfs"))
        c->in_cellxfs = 0;
}

static int fmt_is_date(const struct styles_ctx *c, uint32_t id)
{
    for (size_t i = 0; i < c->nfmts; i++)
        if (c->fmts[i].id == id)
            return c->fmts[i].is_date;
    return builtin_is_date(id);
}

/* ---------------------------------------------------------------------------------------------
 * Shared strings: <si> items of plain <t> text or rich text runs <r><t>, without the phonetic
 * guides (<rPh>) some East Asian workbooks add.
 */

struct sst {
    struct buf text; /* every string, NUL-terminated, one after the other */
    size_t *off;     /* where string i starts in text */
    size_t count, cap;
};

struct sst_ctx {
    struct xml_ctx x; /* first */
    struct sst *sst;
    int in_si, in_t, in_rph;
};

/* Checks that the table stays within its cap once it holds `more` more bytes of text. */
static int sst_room(struct sst_ctx *c, size_t more)
{
    const struct sst *t = c->sst;
    if (t->text.len + more + (t->count + 1) * sizeof *t->off <= XLSX_MAX_SST)
        return 0;
    xml_fail(&c->x, SL_EINVALID, "the shared strings are over %zu MiB; save the sheet as CSV",
             XLSX_MAX_SST >> 20);
    return SL_EINVALID;
}

static void XMLCALL sst_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct sst_ctx *c = user;
    const char *el = local_name(name);
    (void)atts;
    if (strcmp(el, "si") == 0) {
        if (sst_room(c, 0) != 0)
            return;
        if (grow_array(&c->sst->off, &c->sst->cap, c->sst->count + 1, sizeof *c->sst->off)) {
            xml_fail(&c->x, SL_ENOMEM, "out of memory");
            return;
        }
        c->sst->off[c->sst->count] = c->sst->text.len;
        c->in_si = 1;
    } else if (strcmp(el, "rPh") == 0) {
        c->in_rph++;
    } else if (strcmp(el, "t") == 0 && c->in_si && !c->in_rph) {
        c->in_t = 1;
    }
}

static void XMLCALL sst_end(void *user, const XML_Char *name)
{
    struct sst_ctx *c = user;
    const char *el = local_name(name);
    if (strcmp(el, "t") == 0) {
        c->in_t = 0;
    } else if (strcmp(el, "rPh") == 0) {
        c->in_rph--;
    } else if (strcmp(el, "si") == 0 && c->in_si) {
        c->in_si = 0;
        if (buf_add(&c->sst->text, "", 1) == 0)
            c->sst->count++;
        else
            xml_fail(&c->x, SL_ENOMEM, "out of memory");
    }
}

static void XMLCALL sst_text(void *user, const XML_Char *s, int len)
{
    struct sst_ctx *c = user;
    if (!c->in_t || sst_room(c, (size_t)len) != 0)
        return;
    if (buf_add(&c->sst->text, s, (size_t)len))
        xml_fail(&c->x, SL_ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------------------------------------
 * The reader
 */

enum cell_type { CT_NUMBER, CT_SHARED, CT_INLINE, CT_STRING, CT_BOOL, CT_ERROR, CT_ISODATE };

struct cell {
    uint32_t col; /* from 1 */
    enum sl_cell_kind kind;
    size_t off, len; /* the value in the row's text, NUL-terminated */
};

struct xlsx_reader {
    struct sl_reader base; /* first: the interface */
    struct xml_ctx x;      /* the sheet's parse; its errors go to fault */
    struct sl_error fault; /* the failure that stopped the reader, code 0 while none */
    zip_t *zip;
    zip_file_t *sheet; /* the sheet part, inflated as it is parsed */
    char part[XLSX_NAME_MAX];
    int ended; /* the sheet's last chunk was parsed */
    int date1904;
    struct sst sst;
    unsigned char *xf_date; /* by style index: 1 when its number format is a date */
    size_t nxf;

    /* the row being parsed; a row with cells suspends the parser at its end */
    struct cell *cells;
    size_t ncells, cap_cells;
    struct buf text; /* the cells' values */
    uint32_t last_col;
    int row_ready;

    /* the cell being parsed */
    int in_cell, in_v, in_is, in_t, in_rph;
    enum cell_type ctype;
    uint32_t ccol, cstyle;
    size_t cstart; /* where its text starts in text */

    /* names and the row handed out */
    char **names; /* the header's, ncols of them */
    size_t ncols;
    char **extra; /* column_N past the header, by N - ncols - 1, made on demand */
    size_t cap_extra;
    struct nameset seen;
    struct sl_field *fields;
    size_t cap_fields;
    int64_t number; /* data rows handed out */
};

static struct xlsx_reader *sheet_of(void *user)
{
    return (struct xlsx_reader *)((char *)user - offsetof(struct xlsx_reader, x));
}

/* "C7" -> 3; 0 when ref does not start with a column. */
static uint32_t column_of(const char *ref)
{
    uint32_t col = 0;
    for (; (*ref >= 'A' && *ref <= 'Z') || (*ref >= 'a' && *ref <= 'z'); ref++) {
        col = col * 26 + (uint32_t)((*ref | 0x20) - 'a' + 1);
        if (col > XLSX_MAX_COLS)
            return 0;
    }
    return col;
}

static enum cell_type cell_type_of(const char *t)
{
    static const struct {
        const char *name;
        enum cell_type type;
    } types[] = {{"n", CT_NUMBER}, {"s", CT_SHARED}, {"inlineStr", CT_INLINE}, {"str", CT_STRING},
                 {"b", CT_BOOL},   {"e", CT_ERROR},  {"d", CT_ISODATE}};
    for (size_t i = 0; t && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i].name) == 0)
            return types[i].type;
    return t ? CT_STRING : CT_NUMBER;
}

static void row_start(struct xlsx_reader *r)
{
    r->ncells = 0;
    r->text.len = 0;
    r->last_col = 0;
}

static void cell_start(struct xlsx_reader *r, const char **atts)
{
    const char *ref = attr(atts, "r"), *style = attr(atts, "s");
    uint32_t col = ref ? column_of(ref) : r->last_col + 1;
    if (col == 0 || col > XLSX_MAX_COLS) {
        xml_fail(&r->x, SL_EINVALID, "invalid cell reference '%s'", ref ? ref : "");
        return;
    }
    r->in_cell = 1;
    r->in_v = r->in_is = r->in_t = r->in_rph = 0;
    r->ctype = cell_type_of(attr(atts, "t"));
    r->cstyle = parse_u32(style);
    r->ccol = r->last_col = col;
    r->cstart = r->text.len;
}

/* Replaces the current cell's text with s. */
static int cell_set(struct xlsx_reader *r, const char *s, size_t n)
{
    r->text.len = r->cstart;
    return buf_add(&r->text, s, n) ? SL_ENOMEM : 0;
}

/* The ISO 8601 text of an Excel serial date: days since 1899-12-30 (1900 system) or since
 * 1904-01-01 (1904 system), the fraction being the time of day. SL_EINVALID when the serial is no
 * date Excel shows. */
static int serial_to_iso(double serial, int date1904, char *out, size_t cap)
{
    if (!(serial >= 0 && serial <= XLSX_MAX_SERIAL))
        return SL_EINVALID;
    double whole = floor(serial);
    int64_t days = (int64_t)whole, secs = llround((serial - whole) * 86400.0);
    int64_t y;
    unsigned m, d;
    if (secs >= 86400) {
        days++;
        secs -= 86400;
    }
    if (date1904)
        days += 1462; /* 1904-01-01 in the 1900 system */
    else if (days >= 1 && days < 60)
        days++; /* Excel counts a 1900-02-29 that never was: serials before it are one day off */
    sl_civil_from_days(days - 25569, &y, &m, &d); /* serial 25569 is 1970-01-01 */
    if (secs == 0)
        snprintf(out, cap, "%04lld-%02u-%02u", (long long)y, m, d);
    else
        snprintf(out, cap, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", (long long)y, m, d,
                 (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60));
    return 0;
}

/* A number in a date style becomes a date; anything else stays the number as stored. */
static int number_value(struct xlsx_reader *r, const char *raw, enum sl_cell_kind *kind)
{
    char iso[40], *end;
    *kind = SL_CELL_NUMBER;
    if (r->cstyle >= r->nxf || !r->xf_date[r->cstyle])
        return 0;
    errno = 0;
    double v = strtod(raw, &end);
    if (errno || end == raw || *end || serial_to_iso(v, r->date1904, iso, sizeof iso) != 0)
        return 0;
    *kind = SL_CELL_DATE;
    return cell_set(r, iso, strlen(iso));
}

static int shared_value(struct xlsx_reader *r, const char *raw)
{
    char *end;
    errno = 0;
    unsigned long long i = strtoull(raw, &end, 10);
    if (errno || end == raw || *end || i >= r->sst.count) {
        xml_fail(&r->x, SL_EINVALID, "cell refers to shared string '%s', the workbook has %zu", raw,
                 r->sst.count);
        return SL_EINVALID;
    }
    const char *s = r->sst.text.p + r->sst.off[i];
    return cell_set(r, s, strlen(s));
}

static int bool_value(struct xlsx_reader *r, const char *raw, enum sl_cell_kind *kind)
{
    int yes = strcmp(raw, "1") == 0 || strcmp(raw, "true") == 0;
    if (!yes && strcmp(raw, "0") != 0 && strcmp(raw, "false") != 0) {
        *kind = SL_CELL_TEXT; /* not a boolean after all: kept as written */
        return 0;
    }
    *kind = SL_CELL_BOOL;
    return yes ? cell_set(r, "true", 4) : cell_set(r, "false", 5);
}

/* Turns the current cell's raw text (its <v>, or its inline string) into its value. */
static int cell_value(struct xlsx_reader *r, enum sl_cell_kind *kind)
{
    const char *raw = r->text.p + r->cstart;
    *kind = SL_CELL_TEXT;
    switch (r->ctype) {
    case CT_NUMBER:
        return number_value(r, raw, kind);
    case CT_SHARED:
        return shared_value(r, raw);
    case CT_BOOL:
        return bool_value(r, raw, kind);
    case CT_ISODATE:
        *kind = SL_CELL_DATE;
        return 0;
    default: /* inline and formula strings, errors */
        return 0;
    }
}

/* Keeps the cell just parsed in the row, unless it is empty. */
static void cell_end(struct xlsx_reader *r)
{
    enum sl_cell_kind kind = SL_CELL_TEXT;
    int rc = 0;
    r->in_cell = 0;
    if (r->text.len == r->cstart)
        return; /* no value: an empty cell */
    if ((rc = buf_add(&r->text, "", 1)) == 0) {
        r->text.len--; /* the raw text is NUL-terminated for the conversions */
        rc = cell_value(r, &kind);
    }
    size_t len = r->text.len - r->cstart;
    if (rc == 0 && len > 0 && (rc = buf_add(&r->text, "", 1)) == 0 &&
        (rc = grow_array(&r->cells, &r->cap_cells, r->ncells + 1, sizeof *r->cells)) == 0) {
        r->cells[r->ncells++] = (struct cell){r->ccol, kind, r->cstart, len};
        return;
    }
    if (rc)
        xml_fail(&r->x, rc, "out of memory"); /* unless a conversion failed first */
    r->text.len = r->cstart;
}

static void row_end(struct xlsx_reader *r)
{
    if (r->ncells == 0 || r->x.rc)
        return; /* an empty row is skipped */
    r->row_ready = 1;
    XML_StopParser(r->x.parser, XML_TRUE);
}

static void XMLCALL sheet_start(void *user, const XML_Char *name, const XML_Char **atts)
{
    struct xlsx_reader *r = sheet_of(user);
    const char *el = local_name(name);
    if (!r->in_cell) {
        if (strcmp(el, "c") == 0)
            cell_start(r, atts);
        else if (strcmp(el, "row") == 0)
            row_start(r);
    } else if (strcmp(el, "v") == 0) {
        r->in_v = 1;
    } else if (strcmp(el, "is") == 0) {
        r->in_is = 1;
    } else if (strcmp(el, "rPh") == 0) {
        r->in_rph++;
    } else if (strcmp(el, "t") == 0 && r->in_is && !r->in_rph) {
        r->in_t = 1;
    }
}

static void XMLCALL sheet_end(void *user, const XML_Char *name)
{
    struct xlsx_reader *r = sheet_of(user);
    const char *el = local_name(name);
    if (strcmp(el, "c") == 0 && r->in_cell)
        cell_end(r);
    else if (strcmp(el, "row") == 0)
        row_end(r);
    else if (strcmp(el, "v") == 0)
        r->in_v = 0;
    else if (strcmp(el, "t") == 0)
        r->in_t = 0;
    else if (strcmp(el, "rPh") == 0)
        r->in_rph--;
    else if (strcmp(el, "is") == 0)
        r->in_is = 0;
}

static void XMLCALL sheet_text(void *user, const XML_Char *s, int len)
{
    struct xlsx_reader *r = sheet_of(user);
    if (!r->in_cell || (!r->in_v && !r->in_t))
        return;
    if (r->text.len - r->cstart + (size_t)len > XLSX_MAX_CELL)
        xml_fail(&r->x, SL_EINVALID, "a cell is over %u bytes", XLSX_MAX_CELL);
    else if (r->text.len + (size_t)len > XLSX_MAX_ROW)
        xml_fail(&r->x, SL_EINVALID, "a row is over %u bytes", XLSX_MAX_ROW);
    else if (buf_add(&r->text, s, (size_t)len))
        xml_fail(&r->x, SL_ENOMEM, "out of memory");
}

/* Parses the sheet until a row is ready (1) or the sheet ends (0); errors go to r->fault. */
static int sheet_pump(struct xlsx_reader *r)
{
    r->row_ready = 0;
    while (!r->row_ready) {
        XML_ParsingStatus ps;
        enum XML_Status st;
        XML_GetParsingStatus(r->x.parser, &ps);
        if (ps.parsing == XML_SUSPENDED)
            st = XML_ResumeParser(r->x.parser);
        else if (r->ended)
            return 0;
        else
            st = xml_feed(&r->x, r->sheet, &r->ended);
        int rc = xml_status_rc(&r->x, st);
        if (rc)
            return rc;
    }
    return 1;
}

/* The name of column col past the header: column_N, unless the header took that name. */
static const char *extra_name(struct xlsx_reader *r, uint32_t col)
{
    size_t i = col - r->ncols - 1, cap = r->cap_extra;
    char base[32];
    if (i >= r->cap_extra) {
        if (grow_array(&r->extra, &r->cap_extra, i + 1, sizeof *r->extra))
            return NULL;
        memset(r->extra + cap, 0, (r->cap_extra - cap) * sizeof *r->extra);
    }
    snprintf(base, sizeof base, "column_%u", col);
    if (!r->extra[i] && unique_name(&r->seen, base, &r->extra[i]) != 0)
        return NULL;
    return r->extra[i];
}

/* Names the header's columns from the parsed row: empty cells are column_N, repeats get _2. */
static int header_build(struct xlsx_reader *r)
{
    const char **base = NULL;
    uint32_t width = 0;
    int rc = SL_ENOMEM;
    for (size_t i = 0; i < r->ncells; i++)
        width = r->cells[i].col > width ? r->cells[i].col : width;
    base = calloc(width, sizeof *base);
    r->names = calloc(width, sizeof *r->names);
    if (!base || !r->names)
        goto out;
    for (size_t i = 0; i < r->ncells; i++)
        base[r->cells[i].col - 1] = r->text.p + r->cells[i].off;
    for (r->ncols = 0; r->ncols < width; r->ncols++) {
        char generated[32];
        snprintf(generated, sizeof generated, "column_%zu", r->ncols + 1);
        if (unique_name(&r->seen, base[r->ncols] ? base[r->ncols] : generated,
                        &r->names[r->ncols]) != 0)
            goto out;
    }
    rc = 0;
out:
    free(base);
    return rc ? sl_err_set(&r->fault, rc, "out of memory naming the columns") : 0;
}

/* Lays the parsed row out as fields: the header's columns in order, then cells past it. */
static int row_fields(struct xlsx_reader *r, struct sl_row *row)
{
    size_t n = r->ncols;
    if (grow_array(&r->fields, &r->cap_fields, r->ncols + r->ncells, sizeof *r->fields))
        return sl_err_set(&r->fault, SL_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->ncols; i++)
        r->fields[i] = (struct sl_field){r->names[i], "", 0, SL_CELL_EMPTY};
    for (size_t i = 0; i < r->ncells; i++) {
        const struct cell *c = &r->cells[i];
        const char *name = c->col <= r->ncols ? r->names[c->col - 1] : extra_name(r, c->col);
        struct sl_field *f = c->col <= r->ncols ? &r->fields[c->col - 1] : &r->fields[n++];
        if (!name)
            return sl_err_set(&r->fault, SL_ENOMEM, "out of memory");
        *f = (struct sl_field){name, r->text.p + c->off, c->len, c->kind};
    }
    row->fields = r->fields;
    row->count = n;
    row->number = ++r->number;
    return 0;
}

static int xlsx_next(struct sl_reader *base, struct sl_row *row, struct sl_error *err)
{
    struct xlsx_reader *r = (struct xlsx_reader *)base;
    int rc = r->fault.code ? r->fault.code : sheet_pump(r);
    memset(row, 0, sizeof *row);
    if (rc == 1)
        rc = row_fields(r, row) == 0 ? 1 : r->fault.code;
    if (rc < 0 && err)
        *err = r->fault;
    return rc;
}

static const char *const *xlsx_columns(struct sl_reader *base, size_t *count)
{
    struct xlsx_reader *r = (struct xlsx_reader *)base;
    *count = r->ncols;
    return (const char *const *)r->names;
}

static void xlsx_close(struct sl_reader *base)
{
    struct xlsx_reader *r = (struct xlsx_reader *)base;
    if (r->x.parser)
        XML_ParserFree(r->x.parser);
    if (r->sheet)
        zip_fclose(r->sheet);
    if (r->zip)
        zip_discard(r->zip);
    for (size_t i = 0; i < r->ncols; i++)
        free(r->names[i]);
    for (size_t i = 0; i < r->cap_extra; i++)
        free(r->extra[i]);
    free(r->names);
    free(r->extra);
    free(r->seen.slot);
    free(r->fields);
    free(r->cells);
    free(r->text.p);
    free(r->sst.text.p);
    free(r->sst.off);
    free(r->xf_date);
    free(r);
}

static const struct sl_reader_ops xlsx_ops = {
    .format = "xlsx",
    .next = xlsx_next,
    .columns = xlsx_columns,
    .close = xlsx_close,
};

/* ---------------------------------------------------------------------------------------------
 * Opening
 */

static int open_zip(const char *path, zip_t **zip, struct sl_error *err)
{
    int code = 0, rc;
    zip_error_t ze;
    *zip = zip_open(path, ZIP_RDONLY, &code);
    if (*zip)
        return 0;
    zip_error_init_with_code(&ze, code);
    if (code == ZIP_ER_MEMORY)
        rc = sl_err_set(err, SL_ENOMEM, "out of memory opening %s", path);
    else if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN || code == ZIP_ER_READ)
        rc = sl_err_set(err, SL_EIO, "cannot read %s: %s", path, zip_error_strerror(&ze));
    else
        rc = sl_err_set(err, SL_EINVALID, "not a valid XLSX (zip) file: %s",
                        zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return rc;
}

/* Reads the styles, when the workbook has any, into r->xf_date. */
static int load_styles(struct xlsx_reader *r, const char *part, struct sl_error *err)
{
    static const struct xml_handlers h = {styles_start, styles_end, NULL};
    struct styles_ctx c = {.x = {.part = part, .err = err}};
    int rc = part_exists(r->zip, part) ? parse_part(r->zip, &c.x, &h) : 0;
    if (rc == 0 && c.nxf) {
        r->xf_date = malloc(c.nxf);
        if (!r->xf_date)
            rc = sl_err_set(err, SL_ENOMEM, "out of memory");
        for (size_t i = 0; r->xf_date && i < c.nxf; i++)
            r->xf_date[i] = (unsigned char)fmt_is_date(&c, c.xf_fmt[i]);
        r->nxf = r->xf_date ? c.nxf : 0;
    }
    free(c.fmts);
    free(c.xf_fmt);
    return rc;
}

static int load_strings(struct xlsx_reader *r, const char *part, struct sl_error *err)
{
    static const struct xml_handlers h = {sst_start, sst_end, sst_text};
    struct sst_ctx c = {.x = {.part = part, .err = err}, .sst = &r->sst};
    return part_exists(r->zip, part) ? parse_part(r->zip, &c.x, &h) : 0;
}

/* Opens the sheet part for streaming and reads its first non-empty row as the header. */
static int open_sheet(struct xlsx_reader *r, const char *part, struct sl_error *err)
{
    static const struct xml_handlers h = {sheet_start, sheet_end, sheet_text};
    int rc;
    snprintf(r->part, sizeof r->part, "%s", part);
    r->x.part = r->part;
    r->x.err = &r->fault;
    if ((rc = part_open(r->zip, r->part, &r->sheet, &r->fault)) != 0 ||
        (rc = xml_open(&r->x, &h)) != 0 || (rc = sheet_pump(r)) < 0 ||
        (rc == 1 && (rc = header_build(r)) != 0)) {
        if (err)
            *err = r->fault;
        return rc;
    }
    return 0;
}

int sl_reader_open_xlsx(const char *path, struct sl_reader **out, struct sl_error *err)
{
    struct xlsx_reader *r = calloc(1, sizeof *r);
    struct parts parts;
    int rc;
    *out = NULL;
    if (!r)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    r->base.ops = &xlsx_ops;
    if ((rc = open_zip(path, &r->zip, err)) != 0 ||
        (rc = load_workbook(r->zip, &parts, &r->date1904, err)) != 0 ||
        (rc = load_styles(r, parts.styles, err)) != 0 ||
        (rc = load_strings(r, parts.strings, err)) != 0 ||
        (rc = open_sheet(r, parts.sheet, err)) != 0)
        goto out;
    *out = &r->base;
out:
    if (rc)
        xlsx_close(&r->base);
    return rc;
}
