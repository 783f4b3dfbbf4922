/*
 * xls_rows: `sluice xls-rows [--memory-mib N] [--cpu-seconds N] FILE`, an internal verb (not in
 * --help): the child the .xls reader runs to parse a workbook with libfreexl outside the server
 * (src/import/xls_sheet.h). It writes the first sheet's rows to standard output in the framing
 * described there, and exits 0 when the sheet was read to its end, 1 when the file cannot be read
 * (an `error` frame, and the message on standard error too), 2 on bad usage.
 *
 * Before it touches the file it limits itself, as posix_spawn cannot: address space (what it has
 * now plus --memory-mib, default 1024; measured from the current size so that a sanitizer's
 * reserved shadow memory does not count), CPU time (--cpu-seconds, default 120: SIGXCPU, then
 * SIGKILL a second later), no core files, and SIGKILL should its parent die. 0 lifts a limit.
 * Run by hand, it shows what the server's parser does with a file, sanitizer reports included:
 * `sluice xls-rows suspicious.xls > /dev/null`.
 */
#include "cli/cli.h"
#include "import/xls_sheet.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/* The current size of the address space in bytes, or 0 when unknown. */
static unsigned long long address_space_now(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long long pages = 0;
    if (f) {
        if (fscanf(f, "%llu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

static int set_limit(int resource, unsigned long long soft, unsigned long long hard)
{
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    struct rlimit old;
    if (getrlimit(resource, &old) == 0 && old.rlim_max != RLIM_INFINITY) {
        if (rl.rlim_max > old.rlim_max)
            rl.rlim_max = old.rlim_max;
        if (rl.rlim_cur > rl.rlim_max)
            rl.rlim_cur = rl.rlim_max;
    }
    return setrlimit(resource, &rl);
}

static int limit_self(long memory_mib, long cpu_s)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (set_limit(RLIMIT_CORE, 0, 0) != 0)
        return -1;
    if (cpu_s > 0 &&
        set_limit(RLIMIT_CPU, (unsigned long long)cpu_s, (unsigned long long)cpu_s + 1) != 0)
        return -1;
    if (memory_mib > 0) {
        unsigned long long as = address_space_now() + ((unsigned long long)memory_mib << 20);
        if (set_limit(RLIMIT_AS, as, as) != 0)
            return -1;
    }
    return 0;
}

int sl_cmd_xls_rows(int argc, char **argv)
{
    long memory_mib = SL_XLS_MEMORY_MIB, cpu_s = SL_XLS_CPU_S;
    const char *path = NULL;
    if (sl_cli_wants_help(argc, argv, "xls-rows"))
        return SL_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        long *opt = strcmp(argv[i], "--memory-mib") == 0    ? &memory_mib
                    : strcmp(argv[i], "--cpu-seconds") == 0 ? &cpu_s
                                                            : NULL;
        if (opt) {
            if (i + 1 >= argc || sl_cli_int(argv[i + 1], 0, 1L << 20, opt) != 0)
                return sl_cli_usage("xls-rows", "%s needs a number from 0 to 1048576", argv[i]);
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return sl_cli_usage("xls-rows", "unknown option '%s'", argv[i]);
        } else if (path) {
            return sl_cli_usage("xls-rows", "one FILE only");
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return sl_cli_usage("xls-rows", "FILE is missing");
    if (limit_self(memory_mib, cpu_s) != 0)
        return sl_cli_fail("xls-rows: cannot limit itself: %s", strerror(errno));
    struct sl_error err = {0};
    if (sl_xls_rows_write(path, STDOUT_FILENO, &err) != 0)
        return sl_cli_fail("xls-rows: %s", err.msg);
    return SL_EXIT_OK;
}
