/*
 * xls_sheet: the first worksheet of a legacy Excel workbook (.xls, BIFF) as rows of typed cells,
 * the way libfreexl hands them out, read either in this process or in a child process. The .xls
 * row reader (xls.c) turns these cells into fields; this layer only moves them.
 *
 * Why a child: Debian 12's libfreexl 1.0.6 reads past a stack buffer and leaks memory on some
 * malformed files (tests/fuzz/library-bugs/). In a child (`sluice xls-rows FILE`, run from
 * /proc/self/exe with resource limits), a crash, a sanitizer abort or a runaway costs one job
 * attempt, with a clear error, instead of the server.
 *
 * Which one: sl_xls_sheet_open_any() uses the child when a helper program was set with
 * sl_xls_set_helper() (sluice's CLI sets /proc/self/exe before any verb runs, so `serve` and
 * `process` always isolate), and the library in this process otherwise (unit tests of the
 * wrapper, the fuzz target, benchmarks: programs that are not sluice and have no xls-rows verb).
 *
 * Rows: sl_xls_sheet_next() gives every row of the sheet in order, empty ones too, each exactly
 * sl_xls_sheet_cols() cells; the cells and their text are borrowed until the next call or close.
 * It returns 1 with a row, 0 at the end, or a negative SL_E* code with a message: SL_EINVALID for
 * a broken file (and, for the child, a crash, a limit reached, a timeout or broken framing), also
 * after the end or an error (the outcome stays). Not thread-safe; one sheet per reader.
 *
 * The framing between child and parent (one version, both ends in xls_child.c):
 *
 *   sluice-xls 1\n                    first line
 *   sheet <rows> <cols>\n             the worksheet's dimensions
 *   row <index>\n                     then <cols> cells, index from 0, every row in order
 *   null\n | int <decimal>\n | double <C99 hex float>\n
 *   text <len> <bytes>\n | date <len> <bytes>\n | datetime <len> <bytes>\n | time <len> <bytes>\n
 *   end <rows>\n                      the last frame of a sheet read to its end; exit status 0
 *   error <SL_E code> <len> <message>\n   instead, when the file cannot be read (exit status 1)
 *
 * Anything else (an unknown word, a number out of range, a row out of order, a cell too long, end
 * of output before `end` or `error`, an exit status other than 0 after `end`) is broken framing.
 */
#ifndef SL_IMPORT_XLS_SHEET_H
#define SL_IMPORT_XLS_SHEET_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

enum sl_xls_type {
    SL_XLS_NULL,     /* no value */
    SL_XLS_INT,      /* i */
    SL_XLS_DOUBLE,   /* d */
    SL_XLS_TEXT,     /* text: a string, inline or shared */
    SL_XLS_DATE,     /* text: "YYYY-MM-DD" */
    SL_XLS_DATETIME, /* text: "YYYY-MM-DD HH:MM:SS" */
    SL_XLS_TIME,     /* text: "HH:MM:SS" */
};

struct sl_xls_cell {
    enum sl_xls_type type;
    int64_t i;
    double d;
    const char *text; /* NUL-terminated, for the text types; NULL otherwise */
    size_t len;       /* strlen(text) */
};

#define SL_XLS_ROW_MAX    ((size_t)64 << 20) /* bytes of text in one row from a child */
#define SL_XLS_MEMORY_MIB 1024               /* default: address space a child may add */
#define SL_XLS_CPU_S      120                /* default: CPU seconds a child may use */
#define SL_XLS_WAIT_MS    180000             /* default: the longest wait for a child's output */

struct sl_xls_limits {
    int memory_mib; /* RLIMIT_AS of the child: what it has at start plus this; 0: no limit */
    int cpu_s;      /* RLIMIT_CPU of the child; 0: no limit */
    int wait_ms;    /* the parent's longest wait for the child's next bytes or exit */
};

/* The base every sheet starts with. */
struct sl_xls_sheet {
    const struct sl_xls_sheet_ops *ops;
    unsigned rows;
    unsigned short cols;
};

struct sl_xls_sheet_ops {
    int (*next)(struct sl_xls_sheet *s, const struct sl_xls_cell **cells, struct sl_error *err);
    void (*close)(struct sl_xls_sheet *s);
};

/* In this process, with libfreexl (xls_sheet.c). Errors: SL_EIO, SL_ENOMEM, SL_EINVALID. */
int sl_xls_sheet_open(const char *path, struct sl_xls_sheet **out, struct sl_error *err);

/*
 * In a child (xls_child.c): runs `exe xls-rows --memory-mib M --cpu-seconds C /proc/self/fd/0`
 * with the file at path as its standard input (so the child needs no path of ours), standard
 * error discarded, in its own process group. Waits for the sheet's dimensions. Errors: SL_EIO
 * when path cannot be opened, SL_EPROCESS when exe cannot be started, SL_ENOMEM, and the
 * child's outcomes above as SL_EINVALID.
 */
int sl_xls_sheet_spawn(const char *exe, const struct sl_xls_limits *limits, const char *path,
                       struct sl_xls_sheet **out, struct sl_error *err);

/* Reads the framing from fd (owned from now on; no child): for tests of the framing. */
int sl_xls_sheet_from_fd(int fd, const struct sl_xls_limits *limits, struct sl_xls_sheet **out,
                         struct sl_error *err);

/* The helper program to spawn (NULL: read in this process) and its limits (NULL: the defaults).
 * Process-wide: call before threads start. */
void sl_xls_set_helper(const char *exe, const struct sl_xls_limits *limits);

/* The child when a helper is set, else this process. */
int sl_xls_sheet_open_any(const char *path, struct sl_xls_sheet **out, struct sl_error *err);

/*
 * The child's half (the xls-rows verb): reads the first sheet of path in this process and writes
 * it to out in the framing above, `end` or `error` last. Returns 0 when the sheet was read to its
 * end, 1 when the file could not be read (the `error` frame and err say why), -1 when writing
 * to out failed (err says so).
 */
int sl_xls_rows_write(const char *path, int out, struct sl_error *err);

static inline int sl_xls_sheet_next(struct sl_xls_sheet *s, const struct sl_xls_cell **cells,
                                    struct sl_error *err)
{
    return s->ops->next(s, cells, err);
}

static inline void sl_xls_sheet_close(struct sl_xls_sheet *s)
{
    if (s)
        s->ops->close(s);
}

#endif
