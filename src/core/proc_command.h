/*
 * proc_command: the `command` processor of sluice.json, which runs a program for a job.
 *
 * Who calls it: the batch runner, through the processor registry, with ctx->arg pointing at the
 * type's struct sl_command_spec (borrowed from the configuration, read only, never kept).
 *
 * What the program gets: argv as given, with no shell (argv[0] is a path, or a name looked up in
 * PATH); the job's file on standard input (the blob's own descriptor, not a copy); the server's
 * environment plus SLUICE_JOB_ID, SLUICE_JOB_TYPE, SLUICE_TENANT, SLUICE_FILE_NAME and
 * SLUICE_CONTENT_TYPE (which replace any inherited values of those names); a process group of its
 * own; default signal dispositions with nothing blocked (the server's ignored SIGPIPE and blocked
 * SIGTERM are not passed on); and no file descriptors besides 0, 1 and 2.
 *
 * Deadline: the earlier of now + timeout_s and ctx->deadline_ms (wall-clock ms; either is absent
 * when <= 0). At the deadline the whole process group is killed with SIGKILL. When the program
 * exits, whatever it left running in its group is killed too, so a job leaves no process behind;
 * output still held open by something that escaped the group is waited for 2 s at most.
 *
 * Outcome:
 * - exit 0 is success. Standard output that parses as JSON (any value) becomes *result as
 *   compact JSON text; JSON null, empty or all-blank output gives a NULL result; any other output
 *   gives {"stdout": "<its first 1 KiB, made valid UTF-8>"}.
 * - everything else is SL_EPROCESS, its message ending with the last line(s) of standard error
 *   (only its last 4 KiB is kept; made one line of valid UTF-8 to fit the message):
 *   "exit status N: ...", "killed by signal N (SIGNAME): ...", "timed out after N s: ...",
 *   "standard output larger than 4 MiB: ...", or, when the program cannot be started,
 *   "cannot run 'prog': No such file or directory" (or the matching reason).
 * - a missing argv is SL_ECONFIG; the blob store's errors pass through; SL_ENOMEM, SL_EIO.
 * On failure *result is NULL. The child is always reaped before the call returns.
 *
 * Thread rules: safe from any thread, also concurrently (posix_spawn, no global state); it reads
 * environ, so nothing may call setenv while a command starts. Needs Linux (pidfd, closefrom).
 */
#ifndef SL_PROC_COMMAND_H
#define SL_PROC_COMMAND_H

#include "core/processor.h"

#include <sys/types.h>

#define SL_COMMAND_STDOUT_MAX   (4 << 20) /* bytes of standard output kept; more is a failure */
#define SL_COMMAND_STDERR_TAIL  4096      /* bytes kept from the end of standard error */
#define SL_COMMAND_STDOUT_SHOWN 1024      /* bytes of non-JSON standard output put in the result */

struct sl_command_spec {
    char **argv; /* NULL-terminated; argv[0] is the program (a path, or a name looked up in PATH) */
    int timeout_s; /* 0: use the job's deadline (ctx->deadline_ms) only */
};

/* The processor: runs argv for the job (ctx->arg is a const struct sl_command_spec *). */
int sl_proc_command(struct sl_proc_ctx *ctx, char **result, struct sl_error *err);

/*
 * Children: how the processor starts and ends its program, shared with the XLS reader
 * (src/import/xls_child.c), which runs sluice's own parser in a child.
 *
 * sl_child_spawn starts argv (posix_spawnp: a path, or a name looked up in PATH) with envp, in_fd
 * (above fd 2; the caller keeps and closes it) as standard input, standard output (and standard
 * error, unless SL_CHILD_STDERR_NULL sends it to /dev/null) on non-blocking close-on-exec pipes,
 * in a process group of its own, with default signal dispositions, nothing blocked and no other
 * descriptor. Returns 0, or SL_EPROCESS (cannot run it), SL_EIO or SL_ENOMEM with nothing left
 * open or running. *c is always initialised.
 *
 * sl_child_exited notes whether the child has exited without reaping it (waitid WNOWAIT), so its
 * pid, and the process group id with it, stays reserved until sl_child_reap; that kills whatever
 * is left of the group (SIGKILL), reaps the child into status (-1 when something else reaped it)
 * and closes its descriptors. Call sl_child_reap exactly once after a successful spawn.
 */
#define SL_CHILD_STDERR_NULL 1

struct sl_child {
    pid_t pid;          /* also the process group id; -1 before the spawn */
    int pidfd;          /* -1 when the kernel gives none: then poll in ticks */
    int out_fd, err_fd; /* read ends of the pipes; -1 once closed (err_fd: or never opened) */
    int exited;         /* the leader has exited (not reaped yet) */
    int status;         /* wait status once reaped; -1 when someone else reaped it */
};

int sl_child_spawn(char *const argv[], char *const envp[], int in_fd, int flags, struct sl_child *c,
                   struct sl_error *err);
int sl_child_exited(struct sl_child *c);
void sl_child_reap(struct sl_child *c);
/* Moves *fd above the standard descriptors, keeping close-on-exec. Returns 0 or -1 (errno). */
int sl_child_lift_fd(int *fd);

#endif
