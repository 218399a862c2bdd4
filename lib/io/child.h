/* child.h - runs one external command on the loop, bounded in time and output.
 *
 * The command is started with uv_spawn in a session (and so a process group) of
 * its own, standard output and error are read into bounded buffers, and the
 * caller hears once, through a callback, how it ended.  When it outlives its
 * timeout the whole process group gets SIGTERM and, after a grace period,
 * SIGKILL, so a hook that started children of its own leaves nothing behind.
 *
 * Nothing here blocks the loop and nothing is ever reported from within
 * child_start(): even "no such file" arrives through the callback, so callers
 * have one path for every outcome.
 *
 * Used by the script hooks (hooks.c) and by the plugins' spawn service
 * (plugin.c).
 */
#ifndef FAILOVERD_CHILD_H
#define FAILOVERD_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

#define CHILD_DEFAULT_KILL_GRACE_MS 2000
#define CHILD_DEFAULT_OUTPUT_MAX (16 * 1024)
/* After the command exits, how long its output pipes may stay open (held by a
 * child it left running in the background) before they are closed unread. */
#define CHILD_DRAIN_MS 200
/* The PATH of every child (hooks, plugin commands). */
#define CHILD_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct {
    const char *const *argv; /* argv[0] is the absolute path of the executable */
    const char *const *env;  /* extra "NAME=value" entries (NULL-terminated) or NULL; they
                                replace variables of the same name in the environment the
                                child gets (see clean_env) */
    uint64_t timeout_ms;     /* 0: no timeout */
    uint64_t kill_grace_ms;  /* SIGTERM to SIGKILL; 0: CHILD_DEFAULT_KILL_GRACE_MS */
    size_t output_max;       /* bytes kept of each of stdout and stderr; 0: the default */
    const char *input;       /* written to standard input (then closed), or NULL: /dev/null */
    size_t input_len;
    bool clean_env;          /* true: only PATH=CHILD_PATH and the daemon's HOME, USER,
                                LOGNAME, LANG, LC_ALL and TZ (hooks); false: the daemon's
                                environment. Never NOTIFY_SOCKET, WATCHDOG_*, LISTEN_* */
} child_opts_t;

typedef enum {
    CHILD_EXITED,   /* exit_code is valid */
    CHILD_SIGNALED, /* died of term_signal, not sent by us */
    CHILD_TIMEOUT,  /* outlived timeout_ms and was killed with its process group */
    CHILD_ERROR,    /* could not be started: error says why */
} child_status_t;

typedef struct {
    child_status_t status;
    int exit_code;
    int term_signal;
    int pid;             /* 0 when it never started */
    uint64_t elapsed_ms; /* from the start to the report */
    uint64_t timeout_ms;
    const char *out; /* captured standard output, NUL-terminated, at most output_max bytes */
    size_t out_len;
    size_t out_total; /* bytes the command wrote; more than out_len when cut */
    const char *err;
    size_t err_len;
    size_t err_total;
    const char *error; /* CHILD_ERROR: what failed; else "" */
} child_result_t;

/* r and its strings are valid during the call only. */
typedef void (*child_cb)(const child_result_t *r, void *ud);

/* Starts the command.  Returns 0 and cb will be called exactly once, later; or a
 * negative errno (-EINVAL: no argv or argv[0] not absolute) and cb is never
 * called.  The first command given input makes the process ignore SIGPIPE if it
 * did not already: a command that exits without reading must not kill the daemon. */
int child_start(uv_loop_t *loop, const child_opts_t *o, child_cb cb, void *ud);

/* "exited with status 3", "killed by signal 9", "timed out after 500 ms",
 * "could not start: no such file or directory". */
void child_describe(const child_result_t *r, buf_t *out);

/* Splits a command line on spaces and tabs (no quoting, no shell).  Returns a
 * NULL-terminated vector (free with child_argv_free), or NULL when the line has
 * no word. */
char **child_split(const char *line);
void child_argv_free(char **argv);

#endif
