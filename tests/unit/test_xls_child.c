/*
 * test_xls_child: .xls files parsed in a child process (src/import/xls_sheet.h, xls_child.c,
 * the `sluice xls-rows` verb in src/cli/xls_rows.c) behind the row reader (src/import/xls.c).
 *
 * The child is the real sluice binary of the same build (../sluice next to this test's folder,
 * which `make unit` builds first), or small /bin/sh scripts standing in for it where a test needs
 * a child that crashes, stops talking, talks nonsense or never ends. Framing is also fed from a
 * memory file with no child at all. Fixtures come from Python's xlwt, as in test_reader_sheet.c;
 * the inputs that break libfreexl come from tests/fuzz/library-bugs/.
 *
 * After every test that ran a child: no child is left (waitpid answers ECHILD) and no descriptor
 * was leaked.
 */
#include "testutil.h"

#include "import/reader.h"
#include "import/xls_sheet.h"

#include <dirent.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define PYTHON "/usr/bin/python3"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif
#ifndef ASAN_BUILD
#define ASAN_BUILD 0
#endif

extern char **environ;

static char sluice_bin[PATH_MAX];
static char repo_dir[PATH_MAX];

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Fails unless every child of this process has been reaped. */
static void check_no_children(void)
{
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p != -1 || errno != ECHILD)
        fail_msg("a child is left behind (waitpid gave %d, errno %d)", (int)p, errno);
}

/* Fails unless the process pid is gone (killed and reaped). */
static void check_gone(pid_t pid)
{
    if (kill(pid, 0) == 0 || errno != ESRCH)
        fail_msg("process %d is still there", (int)pid);
}

static int run_python(const char *dir, const char *script, const char *out)
{
    char path[512], cmd[1400];
    snprintf(path, sizeof path, "%s/gen.py", dir);
    sl_test_write_text(path, script);
    snprintf(cmd, sizeof cmd, PYTHON " %s %s", path, out);
    return system(cmd);
}

static void need_xlwt(void)
{
    if (system(PYTHON " -c 'import xlwt' 2>/dev/null") != 0) {
        print_message("python3-xlwt is not installed: no XLS fixture can be written\n");
        skip();
    }
}

/* Writes an executable /bin/sh script standing in for the helper; its absolute path to out. */
static void write_script(const char *dir, const char *name, const char *body, char *out, size_t cap)
{
    char rel[512], text[4096];
    snprintf(rel, sizeof rel, "%s/%s", dir, name);
    snprintf(text, sizeof text, "#!/bin/sh\n%s", body);
    sl_test_write_text(rel, text);
    assert_int_equal(chmod(rel, 0755), 0);
    if (!realpath(rel, out))
        fail_msg("realpath(%s): %s", rel, strerror(errno));
    (void)cap;
}

/* The pid a script wrote to dir/pid. */
static pid_t read_pid(const char *dir)
{
    char path[512];
    long pid = 0;
    snprintf(path, sizeof path, "%s/pid", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    assert_true(pid > 1);
    return (pid_t)pid;
}

/* Appends the reader's columns, rows and end to f: "cols ...", "n: name:K:value;...", "end". */
static void dump_rows(struct sl_reader *r, FILE *f)
{
    struct sl_error err = {0};
    struct sl_row row;
    size_t n;
    const char *const *cols = sl_reader_columns(r, &n);
    fprintf(f, "format %s\ncols", sl_reader_format(r));
    for (size_t i = 0; i < n; i++)
        fprintf(f, " %s", cols[i]);
    fputc('\n', f);
    int rc;
    while ((rc = sl_reader_next(r, &row, &err)) == 1) {
        fprintf(f, "%lld:", (long long)row.number);
        for (size_t i = 0; i < row.count; i++) {
            const struct sl_field *fl = &row.fields[i];
            assert_int_equal(strlen(fl->value), fl->len);
            fprintf(f, " %s:%c:%s;", fl->name, "TNBDJE"[fl->kind], fl -> value);
        }
        fputc('\n', f);
    }
    fprintf(f, "end %d %s\n", rc, rc ? err.msg : "");
    rc = sl_reader_next(r, &row, &err); /* the end stays the end */
    fprintf(f, "again %d %s\n", rc, rc ? err.msg : "");
}

/* Everything the .xls reader gives for path, read with helper (NULL: in this process). */
static char *read_all(const char *path, const char *helper, const struct sl_xls_limits *limits)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    assert_non_null(f);
    sl_xls_set_helper(helper, limits);
    int rc = sl_reader_open_xls(path, &r, &err);
    sl_xls_set_helper(NULL, NULL);
    if (rc != 0) {
        assert_null(r);
        fprintf(f, "open %d %s\n", rc, err.msg);
    } else {
        dump_rows(r, f);
        sl_reader_close(r);
    }
    fclose(f);
    return text;
}

/* Reads path in this process and in a child; both must give exactly the same. Returns the text
 * (the caller frees it). */
static char *check_same_both_ways(const char *path)
{
    int fds = count_fds();
    char *local = read_all(path, NULL, NULL);
    char *child = read_all(path, sluice_bin, NULL);
    if (strcmp(local, child) != 0)
        fail_msg("in this process:\n%s\nin a child:\n%s", local, child);
    free(child);
    check_no_children();
    check_i64(count_fds(), fds);
    return local;
}

/* Opens path through a helper and expects the open to fail with want_rc and a message that
 * starts with want. */
static void check_open_fails(const char *helper, const struct sl_xls_limits *limits,
                             const char *path, int want_rc, const char *want)
{
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    sl_xls_set_helper(helper, limits);
    int rc = sl_reader_open_xls(path, &r, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(rc, want_rc, &err);
    assert_null(r);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("message '%s' does not start with '%s'", err.msg, want);
}

/* The first rows of a fake sheet a script prints: one column "a", data rows as ints. */
#define FAKE_HEAD(rows) "printf 'sluice-xls 1\\nsheet " #rows " 1\\nrow 0\\ntext 1 a\\n'\n"

/* ---------------------------------------------------------------------------------------------
 * The real child gives the same rows as this process
 */

static const char XLWT_TYPES[] =
    "import datetime, sys, xlwt\n"
    "wb = xlwt.Workbook(); ws = wb.add_sheet('First'); wb.add_sheet('Second').write(0, 0, 'no')\n"
    "for c, v in enumerate(['name', 'qty', 'price', 'day', 'at', 'time', None, 'name', 'ok']):\n"
    "    if v is not None: ws.write(0, c, v)\n"
    "d = xlwt.easyxf(num_format_str='YYYY-MM-DD')\n"
    "dt = xlwt.easyxf(num_format_str='YYYY-MM-DD HH:MM:SS')\n"
    "t = xlwt.easyxf(num_format_str='HH:MM:SS')\n"
    "ws.write(1, 0, 'Ana'); ws.write(1, 1, 42); ws.write(1, 2, -1.25)\n"
    "ws.write(1, 3, datetime.date(2024, 2, 29), d)\n"
    "ws.write(1, 4, datetime.datetime(2024, 2, 29, 13, 5, 9), dt)\n"
    "ws.write(1, 5, datetime.time(12, 30, 0), t); ws.write(1, 7, 'dup'); ws.write(1, 8, True)\n"
    "ws.write(3, 0, 'Bo'); ws.write(3, 2, 0.1); ws.write(3, 9, 'extra')\n"
    "ws.write(4, 1, 1e15); ws.write(4, 2, 1/3.0); ws.write(4, 0, 'two\\nlines \\u00e9\\u65e5')\n"
    "ws.write(5, 0, 'x' * 12000); ws.write(5, 1, -2**31); ws.write(5, 2, 1.5e300)\n"
    "wb.save(sys.argv[1])\n";

static void test_types_same_in_child(void **state)
{
    (void)state;
    char dir[256], path[300];
    need_xlwt();
    snprintf(path, sizeof path, "%s/types.xls", sl_test_tmpdir(dir));
    check_i64(run_python(dir, XLWT_TYPES, path), 0);
    char *text = check_same_both_ways(path);
    /* and it is what the reader gave before the child existed (test_reader_sheet.c) */
    static const char *const want[] = {
        "format xls\ncols name qty price day at time column_7 name_2 ok\n",
        "1: name:T:Ana; qty:N:42; price:N:-1.25; day:D:2024-02-29; at:D:2024-02-29T13:05:09Z; "
        "time:D:1899-12-30T12:30:00Z; column_7:E:; name_2:T:dup; ok:N:1;\n",
        "2: name:T:Bo; qty:E:; price:N:0.1; day:E:; at:E:; time:E:; column_7:E:; name_2:E:; ok:E:; "
        "column_10:T:extra;\n",
        "3: name:T:two\nlines \xc3\xa9\xe6\x97\xa5; qty:N:1000000000000000; "
        "price:N:0.3333333333333333;",
        "qty:N:-2147483648; price:N:1.5e+300;",
        "end 0 \nagain 0 \n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i]))
            fail_msg("'%s' is not in:\n%s", want[i], text);
    free(text);
}

/* Random workbooks: every type xlwt writes, in random places, both ways alike. */
static const char XLWT_RANDOM[] =
    "import datetime, random, sys, xlwt\n"
    "rnd = random.Random(int(sys.argv[2]))\n"
    "wb = xlwt.Workbook(); ws = wb.add_sheet('R')\n"
    "styles = [xlwt.easyxf(num_format_str=f) for f in\n"
    "          ('YYYY-MM-DD', 'YYYY-MM-DD HH:MM:SS', 'HH:MM:SS', '0.00', 'General')]\n"
    "CH = ['a', 'Z', ' ', '\"', ',', '\\n', '\\t', '\\u00e9', '\\u20ac', '\\u65e5', '0', '-']\n"
    "def value():\n"
    "    k = rnd.randrange(9)\n"
    "    if k == 0: return rnd.randint(-2**40, 2**40), None\n"
    "    if k == 1: return rnd.randint(-1000, 1000), None\n"
    "    if k == 2: return rnd.uniform(-1e6, 1e6) * 10 ** rnd.randint(-300, 300), None\n"
    "    if k == 3: return ''.join(rnd.choice(CH) for _ in range(rnd.randint(0, 30))), None\n"
    "    if k == 4: return datetime.date(rnd.randint(1901, 2100), rnd.randint(1, 12),\n"
    "                                    rnd.randint(1, 28)), styles[0]\n"
    "    if k == 5: return datetime.datetime(rnd.randint(1901, 2100), rnd.randint(1, 12),\n"
    "                                        rnd.randint(1, 28), rnd.randint(0, 23),\n"
    "                                        rnd.randint(0, 59), rnd.randint(0, 59)), styles[1]\n"
    "    if k == 6: return datetime.time(rnd.randint(0, 23), rnd.randint(0, 59)), styles[2]\n"
    "    if k == 7: return rnd.random() < 0.5, None\n"
    "    return rnd.uniform(-10, 10), styles[3]\n"
    "for r in range(rnd.randint(1, 300)):\n"
    "    for c in range(rnd.randint(0, 14)):\n"
    "        if rnd.random() < 0.25: continue\n"
    "        v, st = value()\n"
    "        ws.write(r, c, v, st) if st else ws.write(r, c, v)\n"
    "wb.save(sys.argv[1])\n";

static void test_random_workbooks_same_in_child(void **state)
{
    (void)state;
    char dir[256], path[300], script[300], cmd[1000];
    need_xlwt();
    sl_test_tmpdir(dir);
    snprintf(script, sizeof script, "%s/gen.py", dir);
    sl_test_write_text(script, XLWT_RANDOM);
    for (int seed = 1; seed <= 12; seed++) {
        snprintf(path, sizeof path, "%s/r%d.xls", dir, seed);
        snprintf(cmd, sizeof cmd, PYTHON " %s %s %d", script, path, seed);
        check_i64(system(cmd), 0);
        free(check_same_both_ways(path));
    }
}

static void test_not_xls_same_in_child(void **state)
{
    (void)state;
    char dir[256], path[300];
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/text.xls", dir);
    sl_test_write_text(path, "name,qty\nAna,3\n");
    char *text = check_same_both_ways(path);
    if (strncmp(text, "open -2 not a valid XLS file", 28) != 0)
        fail_msg("a CSV file named .xls gave: %s", text);
    free(text);
    /* a file that is not there fails before any child starts */
    snprintf(path, sizeof path, "%s/missing.xls", dir);
    check_open_fails(sluice_bin, NULL, path, SL_EIO, "cannot read ");
    check_no_children();
}

/* ---------------------------------------------------------------------------------------------
 * The inputs that break libfreexl: a failed open, never a crashed test
 */

/* Copies a fuzz input (its first byte picks the reader) as a plain .xls file into dir. */
static void library_bug_file(const char *name, const char *dir, char *out, size_t cap)
{
    char src[PATH_MAX + 64];
    snprintf(src, sizeof src, "%s/tests/fuzz/library-bugs/%s", repo_dir, name);
    FILE *in = fopen(src, "rb");
    if (!in)
        fail_msg("cannot open %s: %s", src, strerror(errno));
    static char data[1 << 16];
    size_t n = fread(data, 1, sizeof data, in);
    fclose(in);
    assert_true(n > 1 && n < sizeof data);
    snprintf(out, cap, "%s/%s.xls", dir, name);
    sl_test_write_new(out, data + 1, n - 1);
}

static void test_library_bug_inputs_fail_only_their_file(void **state)
{
    (void)state;
    char dir[256], path[600];
    int fds = count_fds();
    sl_test_tmpdir(dir);

    /* Under ASan the child aborts on the over-read (ASan's exit status 1) and reports the leak
     * after its `error` frame; without it, freexl returns its error codes. Either way the file
     * fails to open, and this process (which would abort under ASan) is untouched. */
    library_bug_file("xls_freexl_iconv_stack_overread", dir, path, sizeof path);
    check_open_fails(sluice_bin, NULL, path, SL_EINVALID,
                     ASAN_BUILD ? "xls parser failed (exit status 1) while opening the file"
                                : "not a valid XLS file (freexl error -20)");
    library_bug_file("xls_freexl_open_leak", dir, path, sizeof path);
    check_open_fails(sluice_bin, NULL, path, SL_EINVALID, "not a valid XLS file (freexl error -8)");
    check_no_children();
    check_i64(count_fds(), fds);
}

/* ---------------------------------------------------------------------------------------------
 * How a child ends: crashes, exits, CPU, silence, nonsense, an early close
 */

static void test_crash_mid_sheet(void **state)
{
    (void)state;
    char dir[256], exe[PATH_MAX], path[300];
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    struct sl_row row;
    int fds = count_fds();
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "not read by the script");
    write_script(dir, "crash", FAKE_HEAD(5) "printf 'row 1\\nint 7\\n'\nkill -SEGV $$\n", exe,
                 sizeof exe);
    sl_xls_set_helper(exe, NULL);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(sl_reader_next(r, &row, &err), 1, &err);
    check_str(row.fields[0].value, "7");
    check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err);
    check_str(err.msg, "xls parser crashed (signal 11, SIGSEGV) at row 3");
    check_no_children(); /* reaped as soon as it was seen to be gone */
    memset(&err, 0, sizeof err);
    check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err); /* the outcome stays */
    check_str(err.msg, "xls parser crashed (signal 11, SIGSEGV) at row 3");
    sl_reader_close(r);
    check_i64(count_fds(), fds);
}

static void test_crash_while_opening(void **state)
{
    (void)state;
    char dir[256], exe[PATH_MAX], path[300];
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "x");
    write_script(dir, "abort", "printf 'sluice-xls 1\\n'\nkill -ABRT $$\n", exe, sizeof exe);
    check_open_fails(exe, NULL, path, SL_EINVALID,
                     "xls parser crashed (signal 6, SIGABRT) while opening the file");
    write_script(dir, "cpu", "printf 'sluice-xls 1\\nsheet 3 1\\n'\nkill -XCPU $$\n", exe,
                 sizeof exe);
    struct sl_xls_limits lim = {SL_XLS_MEMORY_MIB, 7, SL_XLS_WAIT_MS};
    check_open_fails(exe, &lim, path, SL_EINVALID,
                     "xls parser used up its CPU time (7 s) at row 1");
    check_no_children();
}

static void test_exit_status(void **state)
{
    (void)state;
    char dir[256], exe[PATH_MAX], path[300];
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    struct sl_row row;
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "x");
    /* a sanitizer's abort looks like this: no frame, exit status 1 */
    write_script(dir, "asan", "printf 'sluice-xls 1\\n'\nexit 1\n", exe, sizeof exe);
    check_open_fails(exe, NULL, path, SL_EINVALID,
                     "xls parser failed (exit status 1) while opening the file");
    /* cut off in the middle of a row */
    write_script(dir, "cut", FAKE_HEAD(4) "printf 'row 1\\ntext 5 ab'\nexit 3\n", exe, sizeof exe);
    sl_xls_set_helper(exe, NULL);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err);
    check_str(err.msg, "xls parser failed (exit status 3) at row 2");
    sl_reader_close(r);
    /* every row sent, then a bad exit: the rows are not trusted */
    write_script(dir, "late", FAKE_HEAD(2) "printf 'row 1\\nint 1\\nend 2\\n'\nexit 7\n", exe,
                 sizeof exe);
    sl_xls_set_helper(exe, NULL);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(sl_reader_next(r, &row, &err), 1, &err);
    check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err);
    check_str(err.msg, "xls parser failed (exit status 7) after the last row");
    sl_reader_close(r);
    /* the same with exit status 0 is the end */
    write_script(dir, "good", FAKE_HEAD(2) "printf 'row 1\\nint 1\\nend 2\\n'\n", exe, sizeof exe);
    sl_xls_set_helper(exe, NULL);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(sl_reader_next(r, &row, &err), 1, &err);
    check_rc(sl_reader_next(r, &row, &err), 0, &err);
    sl_reader_close(r);
    /* an `error` frame is the answer, whatever the exit status */
    write_script(dir, "error", "printf 'sluice-xls 1\\nerror -2 12 bad workbook\\n'\nexit 1\n", exe,
                 sizeof exe);
    check_open_fails(exe, NULL, path, SL_EINVALID, "bad workbook");
    write_script(dir, "oom", "printf 'sluice-xls 1\\nerror -1 3 oom\\n'\nexit 1\n", exe,
                 sizeof exe);
    struct sl_xls_limits lim = {16, SL_XLS_CPU_S, SL_XLS_WAIT_MS};
    check_open_fails(exe, &lim, path, SL_EINVALID,
                     "xls parser ran out of memory (limit 16 MiB) while opening the file");
    check_no_children();
}

static void test_silence_times_out_and_kills(void **state)
{
    (void)state;
    char dir[256], exe[PATH_MAX], path[300], body[512];
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    struct sl_row row;
    int fds = count_fds();
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "x");
    snprintf(body, sizeof body, "echo $$ > '%s/pid'\n" FAKE_HEAD(5) "exec sleep 600\n", dir);
    write_script(dir, "hang", body, exe, sizeof exe);
    struct sl_xls_limits lim = {SL_XLS_MEMORY_MIB, SL_XLS_CPU_S, 300};
    sl_xls_set_helper(exe, &lim);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err);
    check_str(err.msg, "xls parser timed out (no output for 1 s) at row 2");
    check_gone(read_pid(dir));
    check_no_children();
    sl_reader_close(r);
    check_i64(count_fds(), fds);
}

static void test_early_close_kills_and_reaps(void **state)
{
    (void)state;
    char dir[256], exe[PATH_MAX], path[300], body[512];
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    struct sl_row row;
    int fds = count_fds();
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "x");
    snprintf(body, sizeof body,
             "echo $$ > '%s/pid'\n" FAKE_HEAD(1000) "printf 'row 1\\nint 1\\n'\nexec sleep 600\n",
             dir);
    write_script(dir, "slow", body, exe, sizeof exe);
    sl_xls_set_helper(exe, NULL);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(sl_reader_next(r, &row, &err), 1, &err);
    pid_t pid = read_pid(dir);
    assert_int_equal(kill(pid, 0), 0); /* still there, waiting */
    sl_reader_close(r);                /* e.g. the import hit its deadline */
    check_gone(pid);
    check_no_children();
    check_i64(count_fds(), fds);
}

static void test_nonsense_kills(void **state)
{
    (void)state;
    char dir[256], exe[PATH_MAX], path[300], body[512];
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "x");
    snprintf(body, sizeof body,
             "echo $$ > '%s/pid'\n" FAKE_HEAD(3) "printf 'row 1\\nbogus\\n'\nexec sleep 600\n",
             dir);
    write_script(dir, "bogus", body, exe, sizeof exe);
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    struct sl_row row;
    sl_xls_set_helper(exe, NULL);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    check_rc(sl_reader_next(r, &row, &err), SL_EINVALID, &err);
    check_str(err.msg, "xls parser output is broken ('bogus' is no cell) at row 2");
    check_gone(read_pid(dir));
    sl_reader_close(r);
    check_no_children();
    /* a helper that cannot be started */
    check_open_fails("./no-such-helper", NULL, path, SL_EPROCESS, "cannot run './no-such-helper'");
    check_no_children();
}

/* The child sees no secret of the server's environment, but what running a program needs. */
static void test_child_environment(void **state)
{
    (void)state;
    char dir[256], exe[PATH_MAX], path[300], body[512], envfile[300], text[65536];
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "x");
    snprintf(envfile, sizeof envfile, "%s/env", dir);
    snprintf(body, sizeof body, "env > '%s'\nprintf 'sluice-xls 1\\nsheet 0 0\\nend 0\\n'\n",
             envfile);
    write_script(dir, "env", body, exe, sizeof exe);
    static const char *const secrets[] = {"SLUICE_API_TOKEN",  "CRON_SECRET",
                                          "DATABASE_URL",      "AWS_SECRET_ACCESS_KEY",
                                          "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        assert_int_equal(setenv(secrets[i], "s3cret-value", 1), 0);
    assert_int_equal(setenv("ASAN_OPTIONS_TEST_KEEP", "kept", 1), 0); /* an ASAN_ name */
    struct sl_reader *r = NULL;
    struct sl_error err = {0};
    sl_xls_set_helper(exe, NULL);
    check_rc(sl_reader_open_xls(path, &r, &err), 0, &err);
    sl_xls_set_helper(NULL, NULL);
    sl_reader_close(r);
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        unsetenv(secrets[i]);
    unsetenv("ASAN_OPTIONS_TEST_KEEP");
    FILE *f = fopen(envfile, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (strstr(text, "s3cret-value"))
        fail_msg("a secret reached the child:\n%s", text);
    if (!strstr(text, "\nPATH=") && strncmp(text, "PATH=", 5) != 0)
        fail_msg("PATH did not reach the child:\n%s", text);
    if (!strstr(text, "ASAN_OPTIONS_TEST_KEEP=kept"))
        fail_msg("sanitizer options did not reach the child:\n%s", text);
    check_no_children();
}

/* ---------------------------------------------------------------------------------------------
 * Framing, with no child: a memory file read as the child's output
 */

static int framing_fd(const char *text)
{
    int fd = memfd_create("frames", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Reads text as framing; the outcome as "rows=N: <rc> <message>" with every cell dumped. */
static char *frame_outcome(const char *text)
{
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    struct sl_xls_sheet *s = NULL;
    struct sl_error err = {0};
    const struct sl_xls_cell *cells;
    assert_non_null(f);
    int rc = sl_xls_sheet_from_fd(framing_fd(text), NULL, &s, &err);
    if (rc != 0) {
        assert_null(s);
        fprintf(f, "open %d %s", rc, err.msg);
        fclose(f);
        return out;
    }
    fprintf(f, "%ux%u", s->rows, (unsigned)s->cols);
    while ((rc = sl_xls_sheet_next(s, &cells, &err)) == 1) {
        fputs(" |", f);
        for (unsigned short c = 0; c < s->cols; c++) {
            const struct sl_xls_cell *v = &cells[c];
            if (v->type == SL_XLS_INT)
                fprintf(f, " i%lld", (long long)v->i);
            else if (v->type == SL_XLS_DOUBLE)
                fprintf(f, " d%g", v->d);
            else if (v->type == SL_XLS_NULL)
                fputs(" -", f);
            else
                fprintf(f, " %d'%s'", (int)v->type, v->text);
        }
    }
    fprintf(f, " => %d %s", rc, rc ? err.msg : "");
    sl_xls_sheet_close(s);
    fclose(f);
    return out;
}

static void test_framing(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"sluice-xls 1\nsheet 2 3\nrow 0\nint -9223372036854775808\ndouble -0x1.8p+1\nnull\n"
         "row 1\ntext 3 a\nb\ndate 10 2024-02-29\ntime 8 12:30:00\nend 2\n",
         "2x3 | i-9223372036854775808 d-3 - | 3'a\nb' 4'2024-02-29' 6'12:30:00' => 0 "},
        {"sluice-xls 1\nsheet 1 2\nrow 0\ndouble inf\ndatetime 0 \nend 1\n",
         "1x2 | dinf 5'' => 0 "},
        {"sluice-xls 1\nsheet 0 0\nend 0\n", "0x0 => 0 "},
        {"", "open -2 xls parser output is broken (it stops) while opening the file"},
        {"hello\n", "open -2 xls parser output is broken ('hello' ends its line too early) while "
                    "opening the file"},
        {"sluice-xls 2\n", "open -2 xls parser output is broken (it does not start with "
                           "'sluice-xls 1') while opening the file"},
        {"sluice-xls 1\nsheet 1 70000\n", "open -2 xls parser output is broken ('70000' is not a "
                                          "number in [0, 65535]) while opening the file"},
        {"sluice-xls 1\nerror -2 7 no good\n", "open -2 no good"},
        {"sluice-xls 1\nerror -2 7 no\ngood\n", "open -2 no good"},
        {"sluice-xls 1\nerror 5 2 no\n", "open -2 xls parser output is broken ('5' is not a number "
                                         "in [-2147483648, -1]) while opening the file"},
        {"sluice-xls 1\nerror -99 2 no\n", "open -2 xls parser output is broken (an error with "
                                           "code -99) while opening the file"},
        {"sluice-xls 1\nsheet 2 1\nrow 1\nnull\n",
         "2x1 => -2 xls parser output is broken (row 1 where row 0 of 2 was due) at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\nnull\nrow 1\nnull\n",
         "1x1 | - => -2 xls parser output is broken (row 1 where row 1 of 1 was due) after the "
         "last row"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\nint 12x\n",
         "1x1 => -2 xls parser output is broken ('12x' is not a number in [-9223372036854775808, "
         "9223372036854775807]) at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\ndouble zz\n",
         "1x1 => -2 xls parser output is broken ('zz' is not a double) at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\ntext 5 ab\n",
         "1x1 => -2 xls parser output is broken (it stops) at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\ntext 2 abc\n",
         "1x1 => -2 xls parser output is broken (a text of 2 bytes is not followed by the end of "
         "its line) at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\ntext 99999999999 x\n",
         "1x1 => -2 xls parser output is broken ('99999999999' is not a number in [0, 67108864]) "
         "at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\ntext 67108864 x\n",
         "1x1 => -2 xls parser output is broken (a row with more than 67108864 bytes of text) at "
         "row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\nnull 5\n",
         "1x1 => -2 xls parser output is broken (a 'null' cell with one) at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\nint\n",
         "1x1 => -2 xls parser output is broken (a 'int' cell without a value) at row 1"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\nblob 1 x\n",
         "1x1 => -2 xls parser output is broken ('blob' is no cell) at row 1"},
        {"sluice-xls 1\nsheet 2 1\nrow 0\nnull\nend 1\n",
         "2x1 | - => -2 xls parser output is broken (the end after 1 rows, with 1 of 2 read) at "
         "row 2"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\nnull\nfin\n",
         "1x1 | - => -2 xls parser output is broken ('fin' is no frame) after the last row"},
        {"sluice-xls 1\nsheet 1 1\nrow 0\nint 123456789012345678901234567890123456789012345678\n",
         "1x1 => -2 xls parser output is broken (a word longer than 47 bytes) at row 1"},
    };
    int fds = count_fds();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = frame_outcome(cases[i].in);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu:\n got: %s\nwant: %s", i, got, cases[i].want);
        free(got);
    }
    check_i64(count_fds(), fds);
}

/* ---------------------------------------------------------------------------------------------
 * Limits the real child puts on itself
 */

/* Waits (at most 10 s) until /proc/<pid>/limits holds want; fails with the text otherwise. */
static void wait_limits(pid_t pid, const char *want, char *text, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(text, 1, cap - 1, f) : 0;
        if (f)
            fclose(f);
        text[n] = '\0';
        if (strstr(text, want))
            return;
        usleep(10000);
    }
    fail_msg("/proc/%d/limits never showed '%s':\n%s", (int)pid, want, text);
}

static void test_child_limits_itself(void **state)
{
    (void)state;
    char dir[256], path[300], text[8192];
    int p[2];
    sl_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/any.xls", dir);
    sl_test_write_text(path, "x");
    /* Its standard output is a pipe filled to the brim: its first write blocks, after the
     * limits and before anything else, so they can be read while it waits. */
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    static char fill[4096];
    while (write(p[1], fill, sizeof fill) > 0)
        ;
    int flags = fcntl(p[1], F_GETFL);
    assert_int_equal(fcntl(p[1], F_SETFL, flags & ~O_NONBLOCK), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    char *argv[] = {sluice_bin, "xls-rows", "--memory-mib", "64", "--cpu-seconds", "7", path, NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, sluice_bin, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    wait_limits(pid, "Max cpu time              7                    8 ", text, sizeof text);
    if (!strstr(text, "Max core file size        0                    0 "))
        fail_msg("core files are not off:\n%s", text);
    /* address space: what it had plus 64 MiB (more than 64 MiB in all, and bounded) */
    const char *as = strstr(text, "Max address space");
    assert_non_null(as);
    unsigned long long soft = strtoull(as + 17, NULL, 10);
    if (soft <= (64ull << 20) || (!ASAN_BUILD && soft > (1ull << 30)))
        fail_msg("address space limit %llu is not what was asked for:\n%s", soft, text);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    close(p[0]);
    close(p[1]);
    check_no_children();
}

static const char XLWT_BIG[] = "import sys, xlwt\n"
                               "wb = xlwt.Workbook(); ws = wb.add_sheet('s')\n"
                               "for r in range(20000):\n"
                               "    for c in range(20):\n"
                               "        ws.write(r, c, r * c + 0.5 if c % 2 else 'v%d' % (r * c))\n"
                               "wb.save(sys.argv[1])\n";

static void test_memory_limit_fails_the_file(void **state)
{
    (void)state;
    char dir[256], path[300];
    need_xlwt();
    snprintf(path, sizeof path, "%s/big.xls", sl_test_tmpdir(dir));
    check_i64(run_python(dir, XLWT_BIG, path), 0);
    /* With the default limits it reads... */
    char *text = read_all(path, sluice_bin, NULL);
    if (!strstr(text, "\n19999: ") || !strstr(text, "end 0 \n"))
        fail_msg("big.xls was not read to its end:\n%.2000s", text);
    free(text);
    /* ...and with 4 MiB more than the child starts with, freexl runs out and the file fails
     * (how depends on where an allocation fails: freexl's error, an abort in iconv, or under
     * ASan its allocator's out-of-memory exit). */
    struct sl_xls_limits lim = {4, SL_XLS_CPU_S, SL_XLS_WAIT_MS};
    text = read_all(path, sluice_bin, &lim);
    if (strncmp(text, "open -2 ", 8) != 0)
        fail_msg("big.xls under a 4 MiB limit gave:\n%.2000s", text);
    print_message("under 4 MiB: %s", text);
    free(text);
    check_no_children();
}

/* ---------------------------------------------------------------------------------------------
 * The fixture: the sluice binary next to this test's folder, the repository above it
 */

static int setup(void **state)
{
    (void)state;
    char self[PATH_MAX], dir[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    if (strlen(dirname(self)) >= sizeof dir)
        return -1;
    memcpy(dir, self, strlen(self) + 1); /* <build>/tests */
    snprintf(sluice_bin, sizeof sluice_bin, "%s/../sluice", dir);
    if (access(sluice_bin, X_OK) != 0) {
        fprintf(stderr, "test_xls_child: %s is missing (make builds it before the tests)\n",
                sluice_bin);
        return -1;
    }
    for (int up = 1; up <= 4; up++) { /* the repository holds the build folder */
        char probe[PATH_MAX + 64];
        size_t len = (size_t)snprintf(repo_dir, sizeof repo_dir, "%s", dir);
        for (int k = 0; k < up && len + 3 < sizeof repo_dir; k++)
            len += (size_t)snprintf(repo_dir + len, sizeof repo_dir - len, "/..");
        snprintf(probe, sizeof probe, "%s/tests/fuzz/library-bugs", repo_dir);
        if (access(probe, R_OK) == 0)
            return 0;
    }
    fprintf(stderr, "test_xls_child: no tests/fuzz/library-bugs above %s\n", dir);
    return -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_same_in_child),
        cmocka_unit_test(test_random_workbooks_same_in_child),
        cmocka_unit_test(test_not_xls_same_in_child),
        cmocka_unit_test(test_library_bug_inputs_fail_only_their_file),
        cmocka_unit_test(test_crash_mid_sheet),
        cmocka_unit_test(test_crash_while_opening),
        cmocka_unit_test(test_exit_status),
        cmocka_unit_test(test_silence_times_out_and_kills),
        cmocka_unit_test(test_early_close_kills_and_reaps),
        cmocka_unit_test(test_nonsense_kills),
        cmocka_unit_test(test_child_environment),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_child_limits_itself),
        cmocka_unit_test(test_memory_limit_fails_the_file),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
