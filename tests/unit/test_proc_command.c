/*
 * test_proc_command: the `command` processor (src/core/proc_command.h).
 *
 * Every test gets a fresh folder with a real file blob store holding one job's file, and a
 * hand-filled job, config and processor context. The programs are small /bin/sh scripts the test
 * writes into its folder (the processor itself uses no shell; the script's folder is its $1), or
 * plain programs such as ls, so every case runs a real child: success, failure, signals, floods
 * of output, hangs and the process group, descriptors and the environment it sees.
 */
#include "testutil.h"

#include "core/proc_command.h"
#include "util/config.h"
#include "util/sha256.h"
#include "util/timeutil.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static const char file_text[] = "id,name\n1,alpha\n2,beta\n";

struct fx {
    char dir[2048]; /* absolute */
    char root[PATH_MAX];
    struct sl_blob *b;
    struct sl_job job;
    struct sl_config cfg;
    struct sl_command_spec spec;
    struct sl_proc_ctx ctx;
};

/* Stores data as the job's file, under "<upload>/<job>", and records its size and SHA-256. */
static void put_job_file(struct fx *f, const void *data, size_t len)
{
    struct sl_error err = {0};
    char src[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/upload.tmp", f->dir);
    sl_test_write_new(src, data, len);
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(sl_sha256_fd(fd, f->job.sha256), 0);
    close(fd);
    snprintf(f->job.blob_key, sizeof f->job.blob_key, "%s/%s", f->job.upload_id, f->job.id);
    check_rc(sl_blob_put_file(f->b, f->job.blob_key, src, &err), 0, &err);
    f->job.size = (int64_t)len;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char tmp[256];
    struct sl_error err = {0};
    assert_non_null(f);
    char *abs = realpath(sl_test_tmpdir(tmp), NULL);
    assert_non_null(abs);
    assert_true(strlen(abs) < sizeof f->dir);
    snprintf(f->dir, sizeof f->dir, "%s", abs);
    free(abs);
    check_rc(sl_test_blob_open(f->dir, f->root, sizeof f->root, &f->b, &err), 0, &err);
    assert_int_equal(sl_uuid7(sl_now_ms(), f->job.upload_id), 0);
    assert_int_equal(sl_uuid7(sl_now_ms(), f->job.id), 0);
    sl_test_job_strings(&f->job, "acme", "orders", "orders 2026.csv", "text/csv");
    put_job_file(f, file_text, sizeof file_text - 1);
    f->cfg.job_timeout_s = 60;
    f->ctx = (struct sl_proc_ctx){.job = &f->job,
                                  .blob = f->b,
                                  .cfg = &f->cfg,
                                  .arg = &f->spec,
                                  .deadline_ms = sl_now_ms() + 60000};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    /* every child was reaped: this process has none left, not even a zombie */
    int rc = 0;
    errno = 0;
    if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
        print_error("a child of the test process was left unreaped\n");
        rc = -1;
    }
    sl_job_fini(&f->job);
    sl_blob_close(f->b);
    free(f);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Helpers
 */

/* Runs argv with timeout_s; the error message, if any, lands in err. */
static int run_argv(struct fx *f, char **argv, int timeout_s, char **result, struct sl_error *err)
{
    f->spec.argv = argv;
    f->spec.timeout_s = timeout_s;
    *result = (char *)"not set";
    int rc = sl_proc_command(&f->ctx, result, err);
    if (rc != 0 && *result != NULL)
        fail_msg("sl_proc_command failed (%d) but left a result", rc);
    return rc;
}

/* Writes body as <dir>/<name>.sh and runs it with /bin/sh, its folder as $1. */
static int run_sh(struct fx *f, const char *name, const char *body, int timeout_s, char **result,
                  struct sl_error *err)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s.sh", f->dir, name);
    sl_test_write_text(path, body);
    char *argv[] = {"/bin/sh", path, f->dir, NULL};
    return run_argv(f, argv, timeout_s, result, err);
}

/* Fails unless err's message starts with prefix. */
static void check_msg_prefix(const struct sl_error *err, const char *prefix)
{
    if (strncmp(err->msg, prefix, strlen(prefix)) != 0)
        fail_msg("error is '%s', expected it to start with '%s'", err->msg, prefix);
}

/* The string member key of the JSON object text, copied into out. */
static void json_member(const char *text, const char *key, char *out, size_t cap)
{
    json_error_t jerr;
    json_t *o = json_loads(text, 0, &jerr);
    if (!o)
        fail_msg("result '%.200s' is not JSON: %s", text, jerr.text);
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("result '%.200s' has no string '%s'", text, key);
    snprintf(out, cap, "%s", json_string_value(v));
    json_decref(o);
}

/* The pid a script wrote into <dir>/<name>. */
static pid_t read_pid(struct fx *f, const char *name)
{
    char path[PATH_MAX + 64], buf[32] = {0};
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *in = fopen(path, "r");
    if (!in)
        fail_msg("the script did not write %s", path);
    assert_non_null(fgets(buf, sizeof buf, in));
    fclose(in);
    long pid = strtol(buf, NULL, 10);
    assert_true(pid > 1);
    return (pid_t)pid;
}

/* 1 when pid is gone or a zombie (orphans go to a pid 1 that may never reap them). */
static int process_dead(pid_t pid)
{
    char path[64], stat[512] = {0};
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *in = fopen(path, "r");
    if (!in)
        return 1;
    size_t n = fread(stat, 1, sizeof stat - 1, in);
    fclose(in);
    const char *paren = n ? strrchr(stat, ')') : NULL;
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* Waits up to 1 s (the kernel delivers SIGKILL asynchronously) for pid to die. */
static void check_dead(pid_t pid)
{
    for (int i = 0; i < 100 && !process_dead(pid); i++)
        usleep(10000);
    if (!process_dead(pid)) {
        kill(pid, SIGKILL);
        fail_msg("process %d of the command's group is still alive", (int)pid);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Success
 */

static void test_json_stdout_is_result(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    check_rc(
        run_sh(f, "ok", "printf '{\"ok\": true,\\n \"rows\": [1, 2]}\\n'\n", 10, &result, &err), 0,
        &err);
    check_str(result, "{\"ok\":true,\"rows\":[1,2]}");
    free(result);

    /* any JSON value, not only objects */
    check_rc(run_sh(f, "num", "echo 42\n", 10, &result, &err), 0, &err);
    check_str(result, "42");
    free(result);
}

static void test_stdin_is_the_file(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result, got[128];
    /* a regular file, not a pipe: the blob's own descriptor, read from its start */
    const char *body = "if [ -f /dev/stdin ]; then kind=file; else kind=other; fi\n"
                       "sum=$(sha256sum | cut -d' ' -f1)\n"
                       "printf '{\"kind\":\"%s\",\"sha256\":\"%s\"}' \"$kind\" \"$sum\"\n";
    check_rc(run_sh(f, "stdin", body, 10, &result, &err), 0, &err);
    json_member(result, "kind", got, sizeof got);
    check_str(got, "file");
    json_member(result, "sha256", got, sizeof got);
    check_str(got, f->job.sha256);
    free(result);
}

static void test_environment(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result, got[256];
    setenv("SLUICE_TENANT", "stale", 1); /* the job's value must win over an inherited one */
    setenv("SL_TEST_INHERITED", "yes", 1);
    const char *body = "printf '{\"id\":\"%s\",\"type\":\"%s\",\"tenant\":\"%s\",\"name\":\"%s\","
                       "\"ct\":\"%s\",\"inherited\":\"%s\",\"tenants\":\"%s\"}' "
                       "\"$SLUICE_JOB_ID\" \"$SLUICE_JOB_TYPE\" \"$SLUICE_TENANT\" "
                       "\"$SLUICE_FILE_NAME\" \"$SLUICE_CONTENT_TYPE\" \"$SL_TEST_INHERITED\" "
                       "\"$(env | grep -c '^SLUICE_TENANT=')\"\n";
    int rc = run_sh(f, "env", body, 10, &result, &err);
    unsetenv("SLUICE_TENANT");
    unsetenv("SL_TEST_INHERITED");
    check_rc(rc, 0, &err);
    static const char *const keys[] = {"id", "type",      "tenant", "name",
                                       "ct", "inherited", "tenants"};
    const char *want[] = {f->job.id, "orders", "acme", "orders 2026.csv", "text/csv", "yes", "1"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_member(result, keys[i], got, sizeof got);
        if (strcmp(got, want[i]) != 0)
            fail_msg("%s is '%s', expected '%s' (result %s)", keys[i], got, want[i], result);
    }
    free(result);
}

static void test_non_json_stdout(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result, got[4096];
    check_rc(run_sh(f, "text", "echo 'imported 2 rows'\n", 10, &result, &err), 0, &err);
    check_str(result, "{\"stdout\":\"imported 2 rows\\n\"}");
    free(result);

    /* a bad byte becomes U+FFFD; JSON with trailing junk is text too */
    check_rc(run_sh(f, "bad", "printf 'ab\\377cd {}'\n", 10, &result, &err), 0, &err);
    json_member(result, "stdout", got, sizeof got);
    check_str(got, "ab\xef\xbf\xbd"
                   "cd {}");
    free(result);

    /* only the first 1 KiB is kept, never cut inside a character (é is 2 bytes: 1023 + 2) */
    const char *body = "head -c 1023 /dev/zero | tr '\\0' x; printf '\\303\\251'; "
                       "head -c 5000 /dev/zero | tr '\\0' y\n";
    check_rc(run_sh(f, "long", body, 10, &result, &err), 0, &err);
    json_member(result, "stdout", got, sizeof got);
    check_i64(strlen(got), 1023);
    check_i64(strspn(got, "x"), 1023);
    free(result);
}

static void test_empty_stdout(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    check_rc(run_sh(f, "quiet", "echo 'progress only' >&2\n", 10, &result, &err), 0, &err);
    check_str(result, NULL);
    check_rc(run_sh(f, "blank", "printf '\\n  \\n'\n", 10, &result, &err), 0, &err);
    check_str(result, NULL);
    check_rc(run_sh(f, "null", "echo null\n", 10, &result, &err), 0, &err);
    check_str(result, NULL);
}

static void test_program_in_path(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    char *argv[] = {"wc", "-c", NULL}; /* a name looked up in PATH, no shell */
    check_rc(run_argv(f, argv, 10, &result, &err), 0, &err);
    char want[32];
    snprintf(want, sizeof want, "%zu", sizeof file_text - 1);
    check_str(result, want);
    free(result);
}

/* ---------------------------------------------------------------------------------------------
 * Failure
 */

static void test_exit_status(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    const char *body = "echo '{\"partial\": true}'\n"
                       "echo 'reading orders' >&2\n"
                       "printf 'row 7: missing id\\n\\n' >&2\n"
                       "exit 3\n";
    check_rc(run_sh(f, "fail", body, 10, &result, &err), SL_EPROCESS, &err);
    check_str(err.msg, "exit status 3: reading orders row 7: missing id");
    check_str(result, NULL);

    check_rc(run_sh(f, "silent", "exit 1\n", 10, &result, &err), SL_EPROCESS, &err);
    check_str(err.msg, "exit status 1");
}

static void test_killed_by_signal(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    check_rc(run_sh(f, "segv", "echo 'about to die' >&2; kill -SEGV $$\n", 10, &result, &err),
             SL_EPROCESS, &err);
    check_str(err.msg, "killed by signal 11 (SIGSEGV): about to die");
}

/* The server blocks SIGTERM in its threads and ignores SIGPIPE; the child must get neither. */
static void test_signals_reset_in_child(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result, got[64];
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    const char *body = "blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/self/status)\n"
                       "ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status)\n"
                       "printf '{\"blk\":\"%s\",\"ign\":\"%s\"}' \"$blk\" \"$ign\"\n";
    int rc = run_sh(f, "sig", body, 10, &result, &err);
    signal(SIGPIPE, old_pipe);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    check_rc(rc, 0, &err);
    json_member(result, "blk", got, sizeof got);
    check_str(got, "0000000000000000");
    /* glibc's posix_spawn leaves its own internal signals 32 and 33 ignored; no program may
     * use them anyway (SIGRTMIN is 34) */
    json_member(result, "ign", got, sizeof got);
    unsigned long long ign = strtoull(got, NULL, 16) & ~(3ULL << 31);
    if (ign != 0)
        fail_msg("the child ignores signals %s (0x%llx beyond glibc's own)", got, ign);
    free(result);
}

static void test_program_not_found(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    char *path[] = {"/nonexistent/sluice-prog", "--flag", NULL};
    check_rc(run_argv(f, path, 10, &result, &err), SL_EPROCESS, &err);
    check_str(err.msg, "cannot run '/nonexistent/sluice-prog': No such file or directory");

    char *name[] = {"sluice-no-such-program", NULL};
    check_rc(run_argv(f, name, 10, &result, &err), SL_EPROCESS, &err);
    check_str(err.msg, "cannot run 'sluice-no-such-program': No such file or directory");
}

static void test_no_program(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    char *empty[] = {NULL};
    check_rc(run_argv(f, empty, 10, &result, &err), SL_ECONFIG, &err);
    check_rc(run_argv(f, NULL, 10, &result, &err), SL_ECONFIG, &err);
}

static void test_missing_blob(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    check_rc(sl_blob_remove(f->b, f->job.blob_key, &err), 0, &err);
    check_rc(run_sh(f, "never", "touch \"$1/ran\"\n", 10, &result, &err), SL_ENOT_FOUND, &err);
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/ran", f->dir);
    assert_int_equal(access(path, F_OK), -1);
}

/* ---------------------------------------------------------------------------------------------
 * Floods of output
 */

static void test_big_stderr_keeps_tail(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    const char *body = "head -c 1048576 /dev/zero | tr '\\0' x >&2\n"
                       "printf '\\nlast words\\n' >&2\n"
                       "exit 2\n";
    int64_t t0 = sl_mono_ms();
    check_rc(run_sh(f, "noisy", body, 20, &result, &err), SL_EPROCESS, &err);
    check_range(sl_mono_ms() - t0, 0, 10000);
    check_str(err.msg, "exit status 2: last words");

    /* a tail with no line break at all is cut to fit, keeping its end */
    body = "head -c 1048576 /dev/zero | tr '\\0' y >&2; printf 'END' >&2; exit 4\n";
    check_rc(run_sh(f, "oneline", body, 20, &result, &err), SL_EPROCESS, &err);
    check_msg_prefix(&err, "exit status 4: yyy");
    size_t len = strlen(err.msg);
    assert_true(len > 200 && len < SL_ERROR_MSG_MAX);
    check_str(err.msg + len - 3, "END");
}

/* Both pipes fill at once: a reader that waited on one of them would deadlock. */
static void test_big_stdout_and_stderr_together(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    const char *body = "head -c 1048576 /dev/zero | tr '\\0' e >&2\n"
                       "printf '{\"data\":\"'\n"
                       "head -c 3000000 /dev/zero | tr '\\0' a\n"
                       "head -c 1048576 /dev/zero | tr '\\0' e >&2\n"
                       "printf '\"}'\n";
    check_rc(run_sh(f, "flood", body, 20, &result, &err), 0, &err);
    assert_non_null(result);
    check_i64(strlen(result), 3000000 + 11);
    assert_memory_equal(result, "{\"data\":\"aaa", 12);
    free(result);
}

static void test_stdout_over_cap(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    /* endless output: the cap must stop it, not the timeout */
    int64_t t0 = sl_mono_ms();
    check_rc(run_sh(f, "yes", "echo 'flooding' >&2; exec yes\n", 30, &result, &err), SL_EPROCESS,
             &err);
    check_range(sl_mono_ms() - t0, 0, 10000);
    check_str(err.msg, "standard output larger than 4 MiB: flooding");
}

/* ---------------------------------------------------------------------------------------------
 * Time limits and the process group
 */

static const char hang_body[] = "sleep 30 &\n"
                                "echo $! > \"$1/bg.pid\"\n"
                                "echo 'waiting for the remote' >&2\n"
                                "sleep 30\n";

static void test_timeout_kills_group(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    int64_t t0 = sl_mono_ms();
    check_rc(run_sh(f, "hang", hang_body, 1, &result, &err), SL_EPROCESS, &err);
    check_range(sl_mono_ms() - t0, 900, 2000);
    check_str(err.msg, "timed out after 1 s: waiting for the remote");
    check_dead(read_pid(f, "bg.pid"));
}

static void test_deadline_from_ctx(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    f->ctx.deadline_ms = sl_now_ms() + 1000;
    int64_t t0 = sl_mono_ms();
    check_rc(run_sh(f, "hang", hang_body, 0, &result, &err), SL_EPROCESS, &err);
    check_range(sl_mono_ms() - t0, 900, 2000);
    check_msg_prefix(&err, "timed out after 1 s");
    check_dead(read_pid(f, "bg.pid"));

    /* the earlier of the two wins */
    f->ctx.deadline_ms = sl_now_ms() + 1000;
    t0 = sl_mono_ms();
    check_rc(run_sh(f, "hang", hang_body, 20, &result, &err), SL_EPROCESS, &err);
    check_range(sl_mono_ms() - t0, 900, 2000);
    check_dead(read_pid(f, "bg.pid"));

    /* a deadline already past: the program never starts */
    f->ctx.deadline_ms = sl_now_ms() - 1;
    check_rc(run_sh(f, "late", "touch \"$1/ran\"\n", 20, &result, &err), SL_EPROCESS, &err);
    check_msg_prefix(&err, "timed out after 0 s");
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/ran", f->dir);
    assert_int_equal(access(path, F_OK), -1);
}

/* A finished job leaves nothing running, even a child that still holds its output open. */
static void test_exit_kills_leftovers(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result;
    const char *body = "sleep 30 &\n"
                       "echo $! > \"$1/bg.pid\"\n"
                       "echo '{\"done\": 1}'\n";
    int64_t t0 = sl_mono_ms();
    check_rc(run_sh(f, "bg", body, 20, &result, &err), 0, &err);
    check_range(sl_mono_ms() - t0, 0, 1500);
    check_str(result, "{\"done\":1}");
    free(result);
    check_dead(read_pid(f, "bg.pid"));
}

/* ---------------------------------------------------------------------------------------------
 * Descriptors and threads
 */

static void test_no_fd_leak(void **state)
{
    struct fx *f = *state;
    struct sl_error err = {0};
    char *result, got[256];
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, as careless code elsewhere might */
    assert_true(leak >= 0);
    int high = dup2(leak, 100);
    assert_int_equal(high, 100);
    char *argv[] = {"ls", "/proc/self/fd", NULL}; /* ls opens one descriptor itself: 3 */
    int rc = run_argv(f, argv, 10, &result, &err);
    close(leak);
    close(high);
    check_rc(rc, 0, &err);
    json_member(result, "stdout", got, sizeof got);
    check_str(got, "0\n1\n2\n3\n");
    free(result);
}

struct thread_run {
    struct fx *f;
    struct sl_proc_ctx ctx;
    int rc;
    char *result;
    struct sl_error err;
};

static void *run_thread(void *arg)
{
    struct thread_run *t = arg;
    t->rc = sl_proc_command(&t->ctx, &t->result, &t->err);
    return NULL;
}

/* Several commands at once from threads: each gets its own file and output, none leaks fds. */
static void test_concurrent_threads(void **state)
{
    struct fx *f = *state;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/par.sh", f->dir);
    sl_test_write_text(path, "n=$(wc -c)\n"
                             "fds=$(exec ls /proc/self/fd | tr '\\n' ' ')\n"
                             "printf '{\"bytes\":\"%s\",\"fds\":\"%s\"}' \"$n\" \"$fds\"\n");
    char *argv[] = {"/bin/sh", path, NULL};
    f->spec = (struct sl_command_spec){.argv = argv, .timeout_s = 20};
    struct thread_run runs[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        runs[i] = (struct thread_run){.f = f, .ctx = f->ctx};
        assert_int_equal(pthread_create(&th[i], NULL, run_thread, &runs[i]), 0);
    }
    char want[32], got[256];
    snprintf(want, sizeof want, "%zu", sizeof file_text - 1);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        check_rc(runs[i].rc, 0, &runs[i].err);
        json_member(runs[i].result, "bytes", got, sizeof got);
        check_str(got, want);
        json_member(runs[i].result, "fds", got, sizeof got);
        check_str(got, "0 1 2 3 "); /* ls and its own directory fd: nothing leaked */
        free(runs[i].result);
    }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_json_stdout_is_result),
        T(test_stdin_is_the_file),
        T(test_environment),
        T(test_non_json_stdout),
        T(test_empty_stdout),
        T(test_program_in_path),
        T(test_exit_status),
        T(test_killed_by_signal),
        T(test_signals_reset_in_child),
        T(test_program_not_found),
        T(test_no_program),
        T(test_missing_blob),
        T(test_big_stderr_keeps_tail),
        T(test_big_stdout_and_stderr_together),
        T(test_stdout_over_cap),
        T(test_timeout_kills_group),
        T(test_deadline_from_ctx),
        T(test_exit_kills_leftovers),
        T(test_no_fd_leak),
        T(test_concurrent_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
