/*
 * DESIGN: running a program for a job without leaking anything into it or out of it.
 *
 * The child is started with posix_spawnp, which is safe in a threaded server (glibc spawns with
 * vfork semantics and runs only its own async-signal-safe steps in the child). Everything we open
 * is close-on-exec and lifted above fd 2, so the dup2s onto 0, 1 and 2 never meet one of ours
 * there; the file actions then close every descriptor from 3 up, for the ones other parts of the
 * server may have opened without O_CLOEXEC.
 *
 * One poll loop reads standard output and standard error as they come, so the child never blocks
 * on a full pipe, and watches a pidfd for the child's exit. The exit is noticed with waitid's
 * WNOWAIT, which leaves the child a zombie: its pid, and with it the process group id, stays
 * reserved until we reap, so kill(-pgid) can never reach a stranger. At the deadline, on too much
 * output, and once the leader has exited, the group is killed; then the leader is reaped.
 */
#include "core/jobfile.h"
#include "core/proc_command.h"
#include "util/timeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define TICK_MS   20   /* poll step while waiting for an exit without a pidfd */
#define LINGER_MS 2000 /* how long output may stay open after the leader exited */
#define CHUNK     16384

struct capbuf { /* standard output, up to SL_COMMAND_STDOUT_MAX bytes */
    char *data;
    size_t len, cap;
};

struct ring { /* the last SL_COMMAND_STDERR_TAIL bytes of standard error */
    char data[SL_COMMAND_STDERR_TAIL];
    size_t total; /* bytes ever written */
};

/* ---------------------------------------------------------------------------------------------
 * Buffers and text
 */

static int capbuf_put(struct capbuf *b, const char *p, size_t n)
{
    if (n > SL_COMMAND_STDOUT_MAX - b->len)
        return SL_ETOO_LARGE;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : CHUNK;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return SL_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void ring_put(struct ring *r, const char *p, size_t n)
{
    if (n > SL_COMMAND_STDERR_TAIL) {
        r->total += n - SL_COMMAND_STDERR_TAIL;
        p += n - SL_COMMAND_STDERR_TAIL;
        n = SL_COMMAND_STDERR_TAIL;
    }
    size_t pos = r->total % SL_COMMAND_STDERR_TAIL;
    size_t first = n < SL_COMMAND_STDERR_TAIL - pos ? n : SL_COMMAND_STDERR_TAIL - pos;
    memcpy(r->data + pos, p, first);
    memcpy(r->data, p + first, n - first);
    r->total += n;
}

/* Copies the kept bytes, oldest first, into out; returns how many. */
static size_t ring_read(const struct ring *r, char out[SL_COMMAND_STDERR_TAIL])
{
    if (r->total <= SL_COMMAND_STDERR_TAIL) {
        memcpy(out, r->data, r->total);
        return r->total;
    }
    size_t pos = r->total % SL_COMMAND_STDERR_TAIL;
    memcpy(out, r->data + pos, SL_COMMAND_STDERR_TAIL - pos);
    memcpy(out + SL_COMMAND_STDERR_TAIL - pos, r->data, pos);
    return SL_COMMAND_STDERR_TAIL;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned long min;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, min = 0x80;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, min = 0x800;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned long cp = s[0] & (0x7fu >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/*
 * Copies in[0..n) to out (cap bytes with the NUL) as valid UTF-8, stopping before a sequence that
 * does not fit. one_line: control characters become spaces and bad bytes '?', so the text never
 * grows; otherwise bad bytes become U+FFFD. Returns the length written.
 */
static size_t utf8_clean(const char *in, size_t n, char *out, size_t cap, int one_line)
{
    static const char repl[] = "\xef\xbf\xbd";
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t len = utf8_len(s + i, n - i);
        const char *src = in + i;
        size_t out_len = len;
        if (len == 0) {
            src = one_line ? "?" : repl;
            out_len = one_line ? 1 : 3;
        } else if (one_line && len == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
            src = " ";
        }
        if (o + out_len >= cap)
            break;
        memcpy(out + o, src, out_len);
        o += out_len;
        i += len ? len : 1;
    }
    out[o] = '\0';
    return o;
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * The end of standard error as one line of valid UTF-8 in out (cap bytes with the NUL): trimmed,
 * and when it must be cut, cut at a line start if the part kept holds one.
 */
static void stderr_tail(const struct ring *r, char *out, size_t cap)
{
    char buf[SL_COMMAND_STDERR_TAIL];
    size_t end = ring_read(r, buf), start = 0;
    while (end > 0 && is_blank((unsigned char)buf[end - 1]))
        end--;
    if (end - start > cap - 1) {
        start = end - (cap - 1);
        char *nl = memchr(buf + start, '\n', end - start);
        if (nl && nl + 1 < buf + end)
            start = (size_t)(nl + 1 - buf);
        while (start < end && ((unsigned char)buf[start] & 0xc0) == 0x80)
            start++;
    }
    while (start < end && is_blank((unsigned char)buf[start]))
        start++;
    utf8_clean(buf + start, end - start, out, cap, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Environment
 */

static const char *const env_names[] = {"SLUICE_JOB_ID", "SLUICE_JOB_TYPE", "SLUICE_TENANT",
                                        "SLUICE_FILE_NAME", "SLUICE_CONTENT_TYPE"};
#define ENV_OURS (sizeof env_names / sizeof env_names[0])

static int env_is_ours(const char *entry)
{
    for (size_t i = 0; i < ENV_OURS; i++) {
        size_t n = strlen(env_names[i]);
        if (strncmp(entry, env_names[i], n) == 0 && entry[n] == '=')
            return 1;
    }
    return 0;
}

/* The first ENV_OURS entries are owned; the rest are borrowed from environ. */
static void env_free(char **env)
{
    if (!env)
        return;
    for (size_t i = 0; i < ENV_OURS; i++)
        free(env[i]);
    free(env);
}

static char *env_entry(const char *name, const char *value)
{
    if (!value)
        value = "";
    size_t len = strlen(name) + strlen(value) + 2;
    char *s = malloc(len);
    if (s)
        snprintf(s, len, "%s=%s", name, value);
    return s;
}

/* The child's environment: the job's variables, then environ without those names. */
static int env_build(const struct sl_job *job, char ***out)
{
    const char *values[ENV_OURS] = {job->id, job->type, job->tenant, job->file_name,
                                    job->content_type};
    size_t n = 0, k;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = calloc(n + ENV_OURS + 1, sizeof *env);
    if (!env)
        return SL_ENOMEM;
    for (k = 0; k < ENV_OURS; k++) {
        if (!(env[k] = env_entry(env_names[k], values[k]))) {
            env_free(env);
            return SL_ENOMEM;
        }
    }
    for (char **e = environ; e && *e; e++)
        if (!env_is_ours(*e))
            env[k++] = *e;
    *out = env;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Starting the child
 */

int sl_child_lift_fd(int *fd)
{
    if (*fd > 2)
        return 0;
    int nfd = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (nfd < 0)
        return -1;
    close(*fd);
    *fd = nfd;
    return 0;
}

/* A close-on-exec pipe above fd 2 whose read end does not block. Returns 0 or -1 (errno). */
static int open_pipe(int *rd, int *wr)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    if (sl_child_lift_fd(&p[0]) || sl_child_lift_fd(&p[1]) ||
        fcntl(p[0], F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    *rd = p[0];
    *wr = p[1];
    return 0;
}

/* Fills the spawn attributes and file actions; returns 0 or an errno value. err_w < 0 sends
 * standard error to /dev/null. */
static int spawn_setup(posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa, int in_fd,
                       int out_w, int err_w)
{
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    int e;
    if ((e = posix_spawnattr_setflags(attr, flags)) || (e = posix_spawnattr_setpgroup(attr, 0)) ||
        (e = posix_spawnattr_setsigmask(attr, &none)) ||
        (e = posix_spawnattr_setsigdefault(attr, &all)) ||
        (e = posix_spawn_file_actions_adddup2(fa, in_fd, 0)) ||
        (e = posix_spawn_file_actions_adddup2(fa, out_w, 1)) ||
        (e = err_w >= 0 ? posix_spawn_file_actions_adddup2(fa, err_w, 2)
                        : posix_spawn_file_actions_addopen(fa, 2, "/dev/null", O_WRONLY, 0)) ||
        (e = posix_spawn_file_actions_addclosefrom_np(fa, 3)))
        return e;
    return 0;
}

int sl_child_spawn(char *const argv[], char *const envp[], int in_fd, int flags, struct sl_child *c,
                   struct sl_error *err)
{
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    int out_w = -1, err_w = -1, e, rc = 0;

    *c = (struct sl_child){.pid = -1, .pidfd = -1, .out_fd = -1, .err_fd = -1};
    if (posix_spawnattr_init(&attr) != 0)
        return sl_err_set(err, SL_ENOMEM, "out of memory starting '%s'", argv[0]);
    if (posix_spawn_file_actions_init(&fa) != 0) {
        posix_spawnattr_destroy(&attr);
        return sl_err_set(err, SL_ENOMEM, "out of memory starting '%s'", argv[0]);
    }
    if (open_pipe(&c->out_fd, &out_w) != 0 ||
        (!(flags & SL_CHILD_STDERR_NULL) && open_pipe(&c->err_fd, &err_w) != 0)) {
        rc = sl_err_set(err, SL_EIO, "cannot make pipes for '%s': %s", argv[0], strerror(errno));
        goto out;
    }
    if ((e = spawn_setup(&attr, &fa, in_fd, out_w, err_w)) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot prepare to run '%s': %s", argv[0], strerror(e));
        goto out;
    }
    if ((e = posix_spawnp(&c->pid, argv[0], &fa, &attr, argv, envp)) != 0) {
        c->pid = -1;
        rc = sl_err_set(err, SL_EPROCESS, "cannot run '%s': %s", argv[0], strerror(e));
        goto out;
    }
    c->pidfd = pidfd_open(c->pid, 0); /* -1 on old kernels: the loop polls in ticks instead */
out:
    if (out_w >= 0)
        close(out_w);
    if (err_w >= 0)
        close(err_w);
    if (rc && c->out_fd >= 0)
        close(c->out_fd), c->out_fd = -1;
    if (rc && c->err_fd >= 0)
        close(c->err_fd), c->err_fd = -1;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Watching the child
 */

struct run { /* one command's child and what it said */
    struct sl_child c;
    struct capbuf out;
    struct ring tail;
    int64_t budget_ms; /* how long it could run; -1: no limit */
    int timed_out;
};

int sl_child_exited(struct sl_child *c)
{
    siginfo_t si;
    si.si_pid = 0;
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
        if (si.si_pid == c->pid)
            c->exited = 1;
    } else if (errno == ECHILD) {
        c->exited = 1; /* reaped elsewhere (SIGCHLD ignored, or a waitpid(-1) in the server) */
    }
    return c->exited;
}

void sl_child_reap(struct sl_child *c)
{
    kill(-c->pid, SIGKILL);
    while (waitpid(c->pid, &c->status, 0) < 0) {
        if (errno != EINTR) {
            c->status = -1;
            break;
        }
    }
    int *fds[] = {&c->pidfd, &c->out_fd, &c->err_fd};
    for (size_t i = 0; i < 3; i++)
        if (*fds[i] >= 0)
            close(*fds[i]), *fds[i] = -1;
}

/* Reads one chunk of what *fd holds into out (standard output) or tail; closes it at the end. */
static int drain(int *fd, struct capbuf *out, struct ring *tail)
{
    char chunk[CHUNK];
    ssize_t n = read(*fd, chunk, sizeof chunk);
    if (n > 0) {
        if (out)
            return capbuf_put(out, chunk, (size_t)n);
        ring_put(tail, chunk, (size_t)n);
        return 0;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    int rc = n < 0 ? SL_EIO : 0;
    close(*fd);
    *fd = -1;
    return rc;
}

/* How long the next poll may wait, in ms: -1 for ever, 0 when until (monotonic ms) has come. */
static int poll_wait(const struct sl_child *c, int64_t until)
{
    int64_t wait = -1;
    if (until >= 0) {
        wait = until - sl_mono_ms();
        if (wait <= 0)
            return 0;
    }
    if (!c->exited && c->pidfd < 0 && (wait < 0 || wait > TICK_MS))
        wait = TICK_MS;
    return wait < 0 ? -1 : (int)(wait > 60000 ? 60000 : wait);
}

/* Waits for output or the exit, until until; reads what came. Returns 0, 1 at until, or rc. */
static int poll_once(struct run *r, int64_t until)
{
    struct sl_child *c = &r->c;
    struct pollfd p[3];
    int *fds[3];
    nfds_t n = 0;
    int *watched[3] = {&c->out_fd, &c->err_fd, c->exited ? NULL : &c->pidfd};
    for (int i = 0; i < 3; i++) {
        if (watched[i] && *watched[i] >= 0) {
            fds[n] = watched[i];
            p[n++] = (struct pollfd){.fd = *watched[i], .events = POLLIN};
        }
    }
    int wait = poll_wait(c, until);
    if (wait == 0)
        return 1;
    if (poll(p, n, wait) < 0 && errno != EINTR)
        return SL_EIO;
    int rc = 0;
    for (nfds_t i = 0; i < n && rc == 0; i++) {
        if (p[i].revents && fds[i] == &c->out_fd)
            rc = drain(&c->out_fd, &r->out, NULL);
        else if (p[i].revents && fds[i] == &c->err_fd)
            rc = drain(&c->err_fd, NULL, &r->tail);
    }
    return rc;
}

/*
 * Reads the child's output until the leader has exited and both pipes are closed, or until
 * deadline (monotonic ms; -1: none), which sets timed_out. Returns 0, SL_ETOO_LARGE, SL_ENOMEM
 * or SL_EIO; the caller reaps in every case.
 */
static int collect(struct run *r, int64_t deadline)
{
    struct sl_child *c = &r->c;
    int64_t until = deadline;
    while (!c->exited || c->out_fd >= 0 || c->err_fd >= 0) {
        int rc = poll_once(r, until);
        if (rc == 1) {
            r->timed_out = !c->exited; /* after the exit, only strays hold the pipes open */
            return 0;
        }
        if (rc)
            return rc;
        if (!c->exited && sl_child_exited(c)) {
            kill(-c->pid, SIGKILL); /* what the finished job left running */
            int64_t linger = sl_mono_ms() + LINGER_MS;
            until = deadline < 0 || linger < deadline ? linger : deadline;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Outcome
 */

/* Fails with "head: <end of standard error>", or just head when it said nothing. */
static int fail_with_tail(struct sl_error *err, const char *head, const struct ring *tail)
{
    char text[SL_ERROR_MSG_MAX];
    size_t used = strlen(head) + 2;
    if (used >= sizeof text - 1)
        return sl_err_set(err, SL_EPROCESS, "%s", head);
    stderr_tail(tail, text, sizeof text - used);
    if (text[0] == '\0')
        return sl_err_set(err, SL_EPROCESS, "%s", head);
    return sl_err_set(err, SL_EPROCESS, "%s: %s", head, text);
}

/* The result for standard output: its JSON, {"stdout": "..."}, or NULL. */
static int make_result(const struct capbuf *out, char **result)
{
    size_t i = 0;
    while (i < out->len && is_blank((unsigned char)out->data[i]))
        i++;
    if (i == out->len)
        return 0;
    json_t *v = json_loadb(out->data, out->len, JSON_DECODE_ANY, NULL);
    if (!v) {
        char text[3 * SL_COMMAND_STDOUT_SHOWN + 1];
        size_t shown = out->len < SL_COMMAND_STDOUT_SHOWN ? out->len : SL_COMMAND_STDOUT_SHOWN;
        while (shown > 0 && shown < out->len && ((unsigned char)out->data[shown] & 0xc0) == 0x80)
            shown--; /* the cut falls inside a character: leave all of it out */
        size_t len = utf8_clean(out->data, shown, text, sizeof text, 0);
        v = json_pack("{s:s%}", "stdout", text, len);
    }
    int rc = 0;
    if (!v)
        rc = SL_ENOMEM;
    else if (!json_is_null(v) && !(*result = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
        rc = SL_ENOMEM;
    json_decref(v);
    return rc;
}

/* Turns how the child ended (collect's rc and the wait status) into the processor's answer. */
static int finish(const struct run *r, int rc, const char *prog, char **result,
                  struct sl_error *err)
{
    int st = r->c.status;
    char head[96];
    if (rc == SL_ETOO_LARGE)
        return fail_with_tail(err, "standard output larger than 4 MiB", &r->tail);
    if (rc)
        return sl_err_set(err, rc, "cannot read the output of '%s'", prog);
    if (r->timed_out)
        snprintf(head, sizeof head, "timed out after %lld s",
                 (long long)(r->budget_ms + 999) / 1000);
    else if (st == -1)
        snprintf(head, sizeof head, "exit status unknown (the child was reaped elsewhere)");
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return make_result(&r->out, result) ? sl_err_set(err, SL_ENOMEM, "out of memory") : 0;
    else if (WIFEXITED(st))
        snprintf(head, sizeof head, "exit status %d", WEXITSTATUS(st));
    else {
        const char *name = sigabbrev_np(WTERMSIG(st));
        snprintf(head, sizeof head, "killed by signal %d (SIG%s)", WTERMSIG(st), name ? name : "?");
    }
    return fail_with_tail(err, head, &r->tail);
}

/* ms the command may run: the earlier of timeout_s and deadline_ms (wall clock); -1 for none. */
static int64_t budget_ms(int timeout_s, int64_t deadline_ms)
{
    int64_t b = -1;
    if (deadline_ms > 0) {
        b = deadline_ms - sl_now_ms();
        if (b < 0)
            b = 0;
    }
    if (timeout_s > 0 && (b < 0 || (int64_t)timeout_s * 1000 < b))
        b = (int64_t)timeout_s * 1000;
    return b;
}

/* Starts the program on in_fd (consumed), reads it to the end, reaps it and judges it. */
static int run_command(const struct sl_command_spec *spec, char **env, int in_fd, int64_t budget,
                       char **result, struct sl_error *err)
{
    struct run *r = calloc(1, sizeof *r); /* the stderr ring is 4 KiB: keep it off the stack */
    int rc;

    if (!r) {
        close(in_fd);
        return sl_err_set(err, SL_ENOMEM, "out of memory");
    }
    r->budget_ms = budget;
    int64_t deadline = budget < 0 ? -1 : sl_mono_ms() + budget;
    rc = sl_child_spawn(spec->argv, env, in_fd, 0, &r->c, err);
    close(in_fd); /* the child holds its own copy */
    if (rc)
        goto out;
    rc = collect(r, deadline);
    sl_child_reap(&r->c);
    rc = finish(r, rc, spec->argv[0], result, err);
out:
    free(r->out.data);
    free(r);
    return rc;
}

int sl_proc_command(struct sl_proc_ctx *ctx, char **result, struct sl_error *err)
{
    const struct sl_command_spec *spec = ctx->arg;
    char **env = NULL;
    int in_fd = -1, rc;
    int64_t size;

    *result = NULL;
    if (!spec || !spec->argv || !spec->argv[0] || !spec->argv[0][0])
        return sl_err_set(err, SL_ECONFIG, "the command processor of '%s' has no program",
                          ctx->job->type ? ctx->job->type : "?");
    int64_t budget = budget_ms(spec->timeout_s, ctx->deadline_ms);
    if (budget == 0)
        return sl_err_set(err, SL_EPROCESS, "timed out after 0 s: no time left to run '%s'",
                          spec->argv[0]);
    if ((rc = sl_job_open_file(ctx->blob, ctx->store, ctx->job, &in_fd, &size, err)) != 0)
        return rc;
    if (sl_child_lift_fd(&in_fd) != 0) {
        rc = sl_err_set(err, SL_EIO, "cannot duplicate the file's descriptor: %s", strerror(errno));
        goto out;
    }
    if ((rc = env_build(ctx->job, &env)) != 0) {
        rc = sl_err_set(err, rc, "out of memory");
        goto out;
    }
    rc = run_command(spec, env, in_fd, budget, result, err);
    in_fd = -1; /* consumed */
out:
    if (in_fd >= 0)
        close(in_fd);
    env_free(env);
    return rc;
}
