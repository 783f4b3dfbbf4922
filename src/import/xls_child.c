/*
 * xls_child: reading an .xls in a child process, both halves of it (see xls_sheet.h for the
 * framing and why).
 *
 * The child's half, sl_xls_rows_write, is the body of `sluice xls-rows`: the sheet read in that
 * process (xls_sheet.c), written out as frames through one buffer.
 *
 * The parent's half is a sheet whose rows come from the child's standard output. It reads
 * through one 64 KiB buffer and holds one row: the cells and their text (at most SL_XLS_ROW_MAX
 * bytes), however big the file. Each wait for bytes is bounded by wait_ms. When the framing
 * ends, in any way, the child is reaped before anything is answered, and how it ended says what
 * the answer is:
 *
 *   `end` and exit status 0                  the sheet's end
 *   `error` frame                            that error (the file is not a valid XLS, ...)
 *   killed by a signal                       "xls parser crashed (signal 11, SIGSEGV) at row N"
 *   any other exit status (e.g. ASan's 1)    "xls parser failed (exit status 1) at row N"
 *   SIGXCPU                                  "xls parser used up its CPU time (120 s) at row N"
 *   no bytes for wait_ms                     killed: "xls parser timed out (no output for N s)"
 *   bytes that break the framing             killed: "xls parser output is broken (why) ..."
 *
 * "at row N" is the sheet's row (from 1) the child was on; before the sheet's dimensions it is
 * "while opening the file". The child's standard error goes to /dev/null: it is no part of the
 * answer (a sanitizer's report in it would carry addresses into job errors that API clients read,
 * and into the server's log); run `sluice xls-rows FILE` by hand to see it. Its environment holds
 * only what running a program needs (PATH, LD_*, locale, TZ, TMPDIR, sanitizer and malloc
 * options): none of the server's secrets (API token, cron secret, store and S3 credentials).
 *
 * Closing the sheet early (the import stops, or hits its deadline) kills the child and reaps it;
 * nothing of it survives the close, and every descriptor is close-on-exec.
 */
#include "core/proc_command.h"
#include "import/xls_sheet.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAGIC     "sluice-xls 1"
#define BUF_BYTES 65536
#define TOKEN_MAX 48 /* bytes of a word or number in a frame */
#define TICK_MS   20 /* poll step while waiting for an exit without a pidfd */

/* ---------------------------------------------------------------------------------------------
 * Which half: the helper to spawn, set once at start-up
 */

static const char *helper_exe;
static struct sl_xls_limits helper_limits = {SL_XLS_MEMORY_MIB, SL_XLS_CPU_S, SL_XLS_WAIT_MS};

void sl_xls_set_helper(const char *exe, const struct sl_xls_limits *limits)
{
    helper_exe = exe;
    helper_limits =
        limits ? *limits : (struct sl_xls_limits){SL_XLS_MEMORY_MIB, SL_XLS_CPU_S, SL_XLS_WAIT_MS};
}

int sl_xls_sheet_open_any(const char *path, struct sl_xls_sheet **out, struct sl_error *err)
{
    if (helper_exe)
        return sl_xls_sheet_spawn(helper_exe, &helper_limits, path, out, err);
    return sl_xls_sheet_open(path, out, err);
}

/* ---------------------------------------------------------------------------------------------
 * The child's half: writing frames
 */

struct wbuf {
    int fd;
    int failed;
    size_t len;
    char data[BUF_BYTES];
};

static void w_flush(struct wbuf *w)
{
    size_t off = 0;
    while (!w->failed && off < w->len) {
        ssize_t n = write(w->fd, w->data + off, w->len - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EINTR)
            w->failed = 1;
    }
    w->len = 0;
}

static void w_put(struct wbuf *w, const char *p, size_t n)
{
    while (n > 0 && !w->failed) {
        if (w->len == sizeof w->data)
            w_flush(w);
        size_t k = sizeof w->data - w->len < n ? sizeof w->data - w->len : n;
        memcpy(w->data + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
}

static void w_printf(struct wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_printf(struct wbuf *w, const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        w_put(w, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* "<word> <len> <bytes>\n" */
static void w_text(struct wbuf *w, const char *word, const char *text, size_t len)
{
    w_printf(w, "%s %zu ", word, len);
    w_put(w, text, len);
    w_put(w, "\n", 1);
}

static void w_cell(struct wbuf *w, const struct sl_xls_cell *c)
{
    static const char *const words[] = {[SL_XLS_TEXT] = "text",
                                        [SL_XLS_DATE] = "date",
                                        [SL_XLS_DATETIME] = "datetime",
                                        [SL_XLS_TIME] = "time"};
    switch (c->type) {
    case SL_XLS_INT:
        w_printf(w, "int %" PRId64 "\n", c->i);
        break;
    case SL_XLS_DOUBLE:
        w_printf(w, "double %a\n", c->d);
        break;
    case SL_XLS_TEXT:
    case SL_XLS_DATE:
    case SL_XLS_DATETIME:
    case SL_XLS_TIME:
        w_text(w, words[c->type], c->text ? c->text : "", c->text ? c->len : 0);
        break;
    default:
        w_put(w, "null\n", 5);
        break;
    }
}

int sl_xls_rows_write(const char *path, int out, struct sl_error *err)
{
    struct wbuf *w = malloc(sizeof *w);
    struct sl_xls_sheet *s = NULL;
    const struct sl_xls_cell *cells;
    unsigned n = 0;
    if (!w)
        return sl_err_set(err, SL_ENOMEM, "out of memory"), -1;
    *w = (struct wbuf){.fd = out};
    w_put(w, MAGIC "\n", sizeof MAGIC);
    w_flush(w); /* the parent knows the child started before freexl runs */
    int rc = sl_xls_sheet_open(path, &s, err);
    if (rc == 0) {
        w_printf(w, "sheet %u %u\n", s->rows, (unsigned)s->cols);
        while (!w->failed && (rc = sl_xls_sheet_next(s, &cells, err)) == 1) {
            w_printf(w, "row %u\n", n++);
            for (unsigned short c = 0; c < s->cols; c++)
                w_cell(w, &cells[c]);
        }
        if (rc == 0)
            w_printf(w, "end %u\n", n);
        sl_xls_sheet_close(s);
    }
    if (rc < 0) {
        w_printf(w, "error %d %zu ", rc, strlen(err->msg));
        w_put(w, err->msg, strlen(err->msg));
        w_put(w, "\n", 1);
    }
    w_flush(w);
    int failed = w->failed;
    free(w);
    if (failed)
        sl_err_set(err, SL_EIO, "cannot write the rows: %s", strerror(errno));
    return failed ? -1 : rc < 0 ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------------
 * The parent's half: reading frames
 */

enum how { /* how the framing ended */
           HOW_OK,
           HOW_END,     /* `end` */
           HOW_ERROR,   /* `error` frame: code and msg hold it */
           HOW_EOF,     /* output ended before `end` or `error` */
           HOW_BROKEN,  /* bytes that break the framing: why holds what */
           HOW_TIMEOUT, /* no bytes for wait_ms */
           HOW_IO,      /* reading the pipe failed, or out of memory */
};

struct child_sheet {
    struct sl_xls_sheet base; /* first: the interface */
    struct sl_child c;        /* pid -1 when there is no child (sl_xls_sheet_from_fd) */
    int fd;                   /* what the frames come from; -1 once closed */
    struct sl_xls_limits limits;
    int started;  /* the sheet frame has come */
    unsigned row; /* rows received */
    int done;     /* 1 at the end, -1 after a failure: the outcome below stays */
    int code;     /* the failure's SL_E* */
    char msg[SL_ERROR_MSG_MAX];
    char why[128]; /* HOW_BROKEN: what was wrong */
    struct sl_xls_cell *cells;
    size_t *offs; /* per cell: where its text starts in the arena */
    char *arena;  /* the row's text, NUL-terminated pieces */
    size_t alen, acap;
    size_t pos, len; /* the unread part of buf */
    char buf[BUF_BYTES];
};

static enum how broken(struct child_sheet *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static enum how broken(struct child_sheet *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    return HOW_BROKEN;
}

/* Makes sure a byte is buffered: HOW_OK, HOW_EOF, HOW_TIMEOUT or HOW_IO. */
static enum how fill(struct child_sheet *s)
{
    if (s->pos < s->len)
        return HOW_OK;
    for (;;) {
        ssize_t n = read(s->fd, s->buf, sizeof s->buf);
        if (n > 0) {
            s->pos = 0;
            s->len = (size_t)n;
            return HOW_OK;
        }
        if (n == 0)
            return HOW_EOF;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return HOW_IO;
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        int r = poll(&p, 1, s->limits.wait_ms > 0 ? s->limits.wait_ms : -1);
        if (r == 0)
            return HOW_TIMEOUT;
        if (r < 0 && errno != EINTR)
            return HOW_IO;
    }
}

/* Reads a word up to ' ' or '\n' into tok (NUL-terminated); *delim gets which. */
static enum how token(struct child_sheet *s, char tok[TOKEN_MAX], char *delim)
{
    size_t n = 0;
    for (;;) {
        enum how h = fill(s);
        if (h != HOW_OK)
            return h;
        char ch = s->buf[s->pos++];
        if (ch == ' ' || ch == '\n') {
            tok[n] = '\0';
            *delim = ch;
            return HOW_OK;
        }
        if (n + 1 >= TOKEN_MAX)
            return broken(s, "a word longer than %d bytes", TOKEN_MAX - 1);
        tok[n++] = ch;
    }
}

/* Reads a word that must end with want (' ' or '\n'). */
static enum how word(struct child_sheet *s, char tok[TOKEN_MAX], char want)
{
    char delim;
    enum how h = token(s, tok, &delim);
    if (h == HOW_OK && delim != want)
        return broken(s, "'%s' %s", tok, want == ' ' ? "ends its line too early" : "goes on");
    return h;
}

/* Reads a decimal number in [min, max] ending with want. */
static enum how number(struct child_sheet *s, long long min, long long max, char want,
                       long long *out)
{
    char tok[TOKEN_MAX], *end;
    enum how h = word(s, tok, want);
    if (h != HOW_OK)
        return h;
    errno = 0;
    long long v = strtoll(tok, &end, 10);
    if (!tok[0] || *end || errno || v < min || v > max)
        return broken(s, "'%s' is not a number in [%lld, %lld]", tok, min, max);
    *out = v;
    return HOW_OK;
}

/* Reads n bytes into dst. */
static enum how bytes(struct child_sheet *s, char *dst, size_t n)
{
    while (n > 0) {
        enum how h = fill(s);
        if (h != HOW_OK)
            return h;
        size_t k = s->len - s->pos < n ? s->len - s->pos : n;
        memcpy(dst, s->buf + s->pos, k);
        s->pos += k;
        dst += k;
        n -= k;
    }
    return HOW_OK;
}

/* Reads "<len> <bytes>\n" after a word, into the row's arena; *off gets where it starts. */
static enum how payload(struct child_sheet *s, size_t *off)
{
    long long len;
    char nl;
    enum how h = number(s, 0, (long long)SL_XLS_ROW_MAX, ' ', &len);
    if (h != HOW_OK)
        return h;
    if ((size_t)len + 1 > SL_XLS_ROW_MAX - s->alen)
        return broken(s, "a row with more than %zu bytes of text", SL_XLS_ROW_MAX);
    if (s->alen + (size_t)len + 1 > s->acap) {
        size_t cap = s->acap ? s->acap : 4096;
        while (cap < s->alen + (size_t)len + 1)
            cap *= 2;
        char *a = realloc(s->arena, cap);
        if (!a)
            return HOW_IO;
        s->arena = a;
        s->acap = cap;
    }
    if ((h = bytes(s, s->arena + s->alen, (size_t)len)) != HOW_OK ||
        (h = bytes(s, &nl, 1)) != HOW_OK)
        return h;
    if (nl != '\n')
        return broken(s, "a text of %lld bytes is not followed by the end of its line", len);
    *off = s->alen;
    s->arena[s->alen + (size_t)len] = '\0';
    s->alen += (size_t)len + 1;
    return HOW_OK;
}

static const struct {
    const char *word;
    enum sl_xls_type type;
} cell_words[] = {
    {"null", SL_XLS_NULL}, {"int", SL_XLS_INT},   {"double", SL_XLS_DOUBLE},
    {"text", SL_XLS_TEXT}, {"date", SL_XLS_DATE}, {"datetime", SL_XLS_DATETIME},
    {"time", SL_XLS_TIME},
};

static enum how read_cell(struct child_sheet *s, struct sl_xls_cell *c, size_t *off)
{
    char tok[TOKEN_MAX], delim, *end;
    long long v;
    enum how h = token(s, tok, &delim);
    if (h != HOW_OK)
        return h;
    size_t k = 0, nwords = sizeof cell_words / sizeof cell_words[0];
    while (k < nwords && strcmp(tok, cell_words[k].word) != 0)
        k++;
    if (k == nwords)
        return broken(s, "'%s' is no cell", tok);
    *c = (struct sl_xls_cell){.type = cell_words[k].type};
    if ((c->type == SL_XLS_NULL) != (delim == '\n'))
        return broken(s, "a '%s' cell %s", tok, delim == '\n' ? "without a value" : "with one");
    switch (c->type) {
    case SL_XLS_NULL:
        return HOW_OK;
    case SL_XLS_INT:
        h = number(s, INT64_MIN, INT64_MAX, '\n', &v);
        c->i = v;
        return h;
    case SL_XLS_DOUBLE:
        if ((h = word(s, tok, '\n')) != HOW_OK)
            return h;
        c->d = strtod(tok, &end);
        return tok[0] && !*end ? HOW_OK : broken(s, "'%s' is not a double", tok);
    default:
        return payload(s, off);
    }
}

/* Reads one `row` frame's cells (the word `row` is read). */
static enum how read_row(struct child_sheet *s)
{
    long long index;
    enum how h = number(s, 0, UINT_MAX, '\n', &index);
    if (h != HOW_OK)
        return h;
    if (index != (long long)s->row || s->row >= s->base.rows)
        return broken(s, "row %lld where row %u of %u was due", index, s->row, s->base.rows);
    s->alen = 0;
    for (unsigned short c = 0; c < s->base.cols; c++) {
        s->offs[c] = SIZE_MAX;
        if ((h = read_cell(s, &s->cells[c], &s->offs[c])) != HOW_OK)
            return h;
    }
    for (unsigned short c = 0; c < s->base.cols; c++) { /* the arena has stopped moving */
        if (s->offs[c] != SIZE_MAX) {
            s->cells[c].text = s->arena + s->offs[c];
            s->cells[c].len = strlen(s->cells[c].text);
        }
    }
    s->row++;
    return HOW_OK;
}

/* Reads an `error` frame's code and message into s (the word `error` is read). */
static enum how read_error(struct child_sheet *s)
{
    long long code, len;
    enum how h;
    if ((h = number(s, INT_MIN, -1, ' ', &code)) != HOW_OK ||
        (h = number(s, 0, sizeof s->msg - 1, ' ', &len)) != HOW_OK ||
        (h = bytes(s, s->msg, (size_t)len)) != HOW_OK)
        return h;
    s->msg[len] = '\0';
    for (long long i = 0; i < len; i++) /* one line of text, whatever came */
        if ((unsigned char)s->msg[i] < 0x20 || s->msg[i] == 0x7f)
            s->msg[i] = ' ';
    if (code != SL_EINVALID && code != SL_EIO && code != SL_ENOMEM)
        return broken(s, "an error with code %lld", code);
    s->code = (int)code;
    return HOW_ERROR;
}

/* Reads the next frame: HOW_OK with a row, HOW_END, HOW_ERROR, or how it broke. */
static enum how read_frame(struct child_sheet *s)
{
    char tok[TOKEN_MAX], delim;
    long long n;
    enum how h = token(s, tok, &delim);
    if (h != HOW_OK)
        return h;
    if (delim != ' ')
        return broken(s, "'%s' is no frame", tok);
    if (strcmp(tok, "row") == 0)
        return read_row(s);
    if (strcmp(tok, "error") == 0)
        return read_error(s);
    if (strcmp(tok, "end") != 0)
        return broken(s, "'%s' is no frame", tok);
    if ((h = number(s, 0, UINT_MAX, '\n', &n)) != HOW_OK)
        return h;
    if (n != (long long)s->row || s->row != s->base.rows)
        return broken(s, "the end after %lld rows, with %u of %u read", n, s->row, s->base.rows);
    return HOW_END;
}

/* Reads the first line and the sheet's dimensions. */
static enum how read_start(struct child_sheet *s)
{
    char tok[TOKEN_MAX];
    long long rows, cols;
    enum how h;
    if ((h = word(s, tok, ' ')) != HOW_OK)
        return h;
    if (strcmp(tok, "sluice-xls") != 0 || (h = word(s, tok, '\n')) != HOW_OK ||
        strcmp(tok, "1") != 0)
        return h != HOW_OK ? h : broken(s, "it does not start with '" MAGIC "'");
    if ((h = word(s, tok, ' ')) != HOW_OK)
        return h;
    if (strcmp(tok, "error") == 0)
        return read_error(s);
    if (strcmp(tok, "sheet") != 0)
        return broken(s, "'%s' where the sheet was due", tok);
    if ((h = number(s, 0, UINT_MAX, ' ', &rows)) != HOW_OK ||
        (h = number(s, 0, USHRT_MAX, '\n', &cols)) != HOW_OK)
        return h;
    s->base.rows = (unsigned)rows;
    s->base.cols = (unsigned short)cols;
    s->cells = calloc(cols ? (size_t)cols : 1, sizeof *s->cells);
    s->offs = calloc(cols ? (size_t)cols : 1, sizeof *s->offs);
    if (!s->cells || !s->offs)
        return HOW_IO;
    s->started = 1;
    return HOW_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The parent's half: how the child ended
 */

/* Waits up to ms for the child to exit (not reaping it). 1 when it has. */
static int wait_exit(struct sl_child *c, int ms)
{
    int64_t until = sl_mono_ms() + (ms > 0 ? ms : 0);
    while (!sl_child_exited(c)) {
        int64_t left = until - sl_mono_ms();
        if (left <= 0)
            return 0;
        if (c->pidfd >= 0) {
            struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
            poll(&p, 1, (int)(left < 60000 ? left : 60000));
        } else {
            struct timespec ts = {0, (long)TICK_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return 1;
}

/* Where the child was, for messages: " at row N" or " while opening the file". */
static void where(const struct child_sheet *s, char *out, size_t cap)
{
    if (!s->started)
        snprintf(out, cap, " while opening the file");
    else if (s->row >= s->base.rows)
        snprintf(out, cap, " after the last row");
    else
        snprintf(out, cap, " at row %u", s->row + 1);
}

/* What a child that ended by itself with status st did, as the reader's error. */
static int status_error(const struct child_sheet *s, int st, const char *at, struct sl_error *err)
{
    if (st == -1)
        return sl_err_set(err, SL_EINVALID, "xls parser ended without finishing%s", at);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
        return sl_err_set(err, SL_EINVALID, "xls parser used up its CPU time (%d s)%s",
                          s->limits.cpu_s, at);
    if (WIFSIGNALED(st)) {
        const char *name = sigabbrev_np(WTERMSIG(st));
        return sl_err_set(err, SL_EINVALID, "xls parser crashed (signal %d, SIG%s)%s", WTERMSIG(st),
                          name ? name : "?", at);
    }
    return sl_err_set(err, SL_EINVALID, "xls parser failed (exit status %d)%s",
                      WIFEXITED(st) ? WEXITSTATUS(st) : -1, at);
}

/*
 * Ends the child after the framing ended as h, and turns that into the outcome: 0 at a good end,
 * or the error (also kept in s, so that it stays). The child is reaped in every case.
 */
static int conclude(struct child_sheet *s, enum how h, struct sl_error *err)
{
    char at[48];
    int has_child = s->c.pid > 0, exited = 0, rc;
    where(s, at, sizeof at);
    if (has_child) {
        /* After `end`, or when the output ended, the child is on its way out: let it finish so
         * that its exit status is its own. Otherwise it is killed now. */
        if (h == HOW_END || h == HOW_EOF)
            exited = wait_exit(&s->c, s->limits.wait_ms);
        else
            exited = sl_child_exited(&s->c);
        sl_child_reap(&s->c); /* closes s->fd too */
    } else if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
    int st = has_child ? s->c.status : 0;
    switch (h) {
    case HOW_END:
        if (!has_child || (exited && st == 0))
            return s->done = 1, 0;
        rc = exited ? status_error(s, st, at, err)
                    : sl_err_set(err, SL_EINVALID, "xls parser did not exit after the last row");
        break;
    case HOW_ERROR:
        if (s->code == SL_ENOMEM && has_child)
            rc = sl_err_set(err, SL_EINVALID, "xls parser ran out of memory (limit %d MiB)%s",
                            s->limits.memory_mib, at);
        else
            rc = sl_err_set(err, s->code, "%s", s->msg);
        break;
    case HOW_TIMEOUT:
        rc = sl_err_set(err, SL_EINVALID, "xls parser timed out (no output for %d s)%s",
                        (s->limits.wait_ms + 999) / 1000, at);
        break;
    case HOW_IO:
        rc = sl_err_set(err, SL_EIO, "cannot read the xls parser's output%s", at);
        break;
    case HOW_EOF:
        if (has_child && exited && st != 0)
            rc = status_error(s, st, at, err);
        else
            rc = sl_err_set(err, SL_EINVALID, "xls parser output is broken (it stops)%s", at);
        break;
    default: /* HOW_BROKEN: a child that crashed while writing says so; else the framing */
        if (exited && st != 0)
            rc = status_error(s, st, at, err);
        else
            rc = sl_err_set(err, SL_EINVALID, "xls parser output is broken (%s)%s", s->why, at);
        break;
    }
    s->done = -1;
    s->code = rc;
    snprintf(s->msg, sizeof s->msg, "%s", err->msg);
    return rc;
}

static int child_next(struct sl_xls_sheet *base, const struct sl_xls_cell **cells,
                      struct sl_error *err)
{
    struct child_sheet *s = (struct child_sheet *)base;
    *cells = NULL;
    if (s->done > 0)
        return 0;
    if (s->done < 0)
        return sl_err_set(err, s->code, "%s", s->msg);
    enum how h = read_frame(s);
    if (h == HOW_OK) {
        *cells = s->cells;
        return 1;
    }
    return conclude(s, h, err);
}

static void child_close(struct sl_xls_sheet *base)
{
    struct child_sheet *s = (struct child_sheet *)base;
    if (s->c.pid > 0 && s->done == 0)
        sl_child_reap(&s->c); /* closed early: killed, reaped, its pipe closed */
    else if (s->c.pid <= 0 && s->fd >= 0)
        close(s->fd);
    free(s->cells);
    free(s->offs);
    free(s->arena);
    free(s);
}

static const struct sl_xls_sheet_ops child_ops = {.next = child_next, .close = child_close};

static struct child_sheet *sheet_new(const struct sl_xls_limits *limits)
{
    struct child_sheet *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &child_ops;
    s->c = (struct sl_child){.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1};
    s->fd = -1;
    s->limits =
        limits ? *limits : (struct sl_xls_limits){SL_XLS_MEMORY_MIB, SL_XLS_CPU_S, SL_XLS_WAIT_MS};
    return s;
}

/* Reads up to the sheet's dimensions; on failure concludes and frees s. */
static int start(struct child_sheet *s, struct sl_xls_sheet **out, struct sl_error *err)
{
    enum how h = read_start(s);
    if (h != HOW_OK) {
        int rc = conclude(s, h, err);
        child_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

int sl_xls_sheet_from_fd(int fd, const struct sl_xls_limits *limits, struct sl_xls_sheet **out,
                         struct sl_error *err)
{
    struct child_sheet *s = sheet_new(limits);
    *out = NULL;
    if (!s) {
        close(fd);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    s->fd = fd;
    return start(s, out, err);
}

/* What of the environment the child gets: what running a program needs, no secret. */
static int env_kept(const char *entry)
{
    static const char *const keep[] = {"PATH=",  "LD_",     "LANG=",          "LC_",
                                       "TZ=",    "TMPDIR=", "ASAN_",          "LSAN_",
                                       "UBSAN_", "MALLOC_", "GLIBC_TUNABLES="};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (strncmp(entry, keep[i], strlen(keep[i])) == 0)
            return 1;
    return 0;
}

/* The child's environment (borrowed entries of environ), or NULL. */
static char **child_env(void)
{
    size_t n = 0, k = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = calloc(n + 1, sizeof *env);
    for (char **e = environ; env && e && *e; e++)
        if (env_kept(*e))
            env[k++] = *e;
    return env;
}

int sl_xls_sheet_spawn(const char *exe, const struct sl_xls_limits *limits, const char *path,
                       struct sl_xls_sheet **out, struct sl_error *err)
{
    struct child_sheet *s = sheet_new(limits);
    char mem[24], cpu[24];
    int rc;
    *out = NULL;
    if (!s)
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    int in_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0 || sl_child_lift_fd(&in_fd) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot read %s: %s", path, strerror(errno));
        if (in_fd >= 0)
            close(in_fd);
        child_close(&s->base);
        return rc;
    }
    snprintf(mem, sizeof mem, "%d", s->limits.memory_mib);
    snprintf(cpu, sizeof cpu, "%d", s->limits.cpu_s);
    char *argv[] = {(char *)exe,     "xls-rows", "--memory-mib",    mem,
                    "--cpu-seconds", cpu,        "/proc/self/fd/0", NULL};
    char **env = child_env();
    rc = env ? sl_child_spawn(argv, env, in_fd, SL_CHILD_STDERR_NULL, &s->c, err)
             : sl_err_set(err, SL_ENOMEM, "out of memory");
    free(env);
    close(in_fd); /* the child has its own */
    if (rc) {
        child_close(&s->base);
        return rc;
    }
    s->fd = s->c.out_fd;
    return start(s, out, err);
}
