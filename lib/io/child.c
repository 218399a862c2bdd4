/* child.c - see child.h.
 *
 * Life of a command: started -> (timeout: SIGTERM to the group, grace timer,
 * SIGKILL) -> exited -> output pipes at EOF (or closed after CHILD_DRAIN_MS) ->
 * reported -> handles closed -> freed.  When a timed-out command exits, what is
 * left of its group gets SIGKILL at once, so "timeout" means the command and
 * its children are gone.
 */
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

typedef struct {
    uv_pipe_t pipe;
    buf_t data;
    size_t total;
    bool open; /* still being read */
} stream_t;

typedef struct child {
    uv_loop_t *loop;
    uv_process_t proc;
    uv_timer_t timer; /* the timeout, then the kill grace */
    uv_timer_t drain; /* after exit: bound on waiting for EOF; defers start errors */
    stream_t out, err;
    uv_pipe_t in;
    uv_write_t wreq;
    char *input;
    size_t input_len;
    bool has_input, in_open;
    int handles; /* initialised and not yet closed */
    uint64_t started_ns;
    uint64_t timeout_ms, grace_ms;
    size_t output_max;
    int pid;
    bool started, exited, timed_out, grace_pending, reported;
    int64_t exit_status;
    int term_signal;
    char error[160];
    child_cb cb;
    void *ud;
} child_t;

static void on_closed(uv_handle_t *h)
{
    child_t *s = h->data;
    if (--s->handles == 0) {
        buf_free(&s->out.data);
        buf_free(&s->err.data);
        free(s->input);
        free(s);
    }
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_closed);
}

static void close_stream(child_t *s, stream_t *st)
{
    if (st->open) {
        st->open = false;
        uv_read_stop((uv_stream_t *)&st->pipe);
        close_handle((uv_handle_t *)&st->pipe);
    }
}

static void report(child_t *s)
{
    s->reported = true;
    child_result_t r = {
        .pid = s->pid,
        .exit_code = -1,
        .elapsed_ms = (uv_hrtime() - s->started_ns) / 1000000,
        .timeout_ms = s->timeout_ms,
        .out = buf_str(&s->out.data),
        .out_len = s->out.data.len,
        .out_total = s->out.total,
        .err = buf_str(&s->err.data),
        .err_len = s->err.data.len,
        .err_total = s->err.total,
        .error = s->error,
    };
    if (!s->started)
        r.status = CHILD_ERROR;
    else if (s->timed_out)
        r.status = CHILD_TIMEOUT;
    else if (s->term_signal) {
        r.status = CHILD_SIGNALED;
        r.term_signal = s->term_signal;
    } else {
        r.status = CHILD_EXITED;
        r.exit_code = (int)s->exit_status;
    }
    if (r.status == CHILD_TIMEOUT)
        r.term_signal = s->term_signal;
    s->cb(&r, s->ud);

    uv_timer_stop(&s->timer);
    uv_timer_stop(&s->drain);
    close_stream(s, &s->out);
    close_stream(s, &s->err);
    close_handle((uv_handle_t *)&s->out.pipe); /* never opened when the start failed */
    close_handle((uv_handle_t *)&s->err.pipe);
    if (s->in_open) {
        s->in_open = false;
        close_handle((uv_handle_t *)&s->in); /* cancels a write the command never read */
    }
    close_handle((uv_handle_t *)&s->proc);
    close_handle((uv_handle_t *)&s->timer);
    close_handle((uv_handle_t *)&s->drain);
}

/* Reports once the command has exited, its output is read, and (after a
 * timeout) its process group is gone or was sent SIGKILL. */
static void maybe_report(child_t *s)
{
    if (s->reported || !s->exited || s->out.open || s->err.open || s->grace_pending)
        return;
    report(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static char chunk[16 * 1024]; /* one thread, and each read is consumed at once */
    *b = uv_buf_init(chunk, sizeof chunk);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    child_t *s = st->data;
    stream_t *which = (uv_pipe_t *)st == &s->out.pipe ? &s->out : &s->err;
    if (n > 0) {
        which->total += (size_t)n;
        size_t room = s->output_max > which->data.len ? s->output_max - which->data.len : 0;
        if (room)
            buf_append(&which->data, b->base, (size_t)n < room ? (size_t)n : room);
        return;
    }
    if (n < 0) { /* EOF, or an error that ends the stream just the same */
        close_stream(s, which);
        maybe_report(s);
    }
}

static void kill_group(child_t *s, int sig)
{
    /* The command leads its own process group (setsid), so -pid reaches its
     * children too.  ESRCH just means everyone is gone already. */
    if (kill(-s->pid, sig) != 0 && errno == ESRCH && !s->exited)
        kill(s->pid, sig);
}

static void on_timer(uv_timer_t *t)
{
    child_t *s = t->data;
    if (!s->timed_out) {
        s->timed_out = true;
        s->grace_pending = true;
        kill_group(s, SIGTERM);
        uv_timer_start(&s->timer, on_timer, s->grace_ms, 0);
        return;
    }
    kill_group(s, SIGKILL);
    s->grace_pending = false;
    maybe_report(s);
}

static void on_drain(uv_timer_t *t)
{
    child_t *s = t->data;
    if (!s->started) { /* a start error, deferred so it is not reported from child_start */
        report(s);
        return;
    }
    close_stream(s, &s->out);
    close_stream(s, &s->err);
    maybe_report(s);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    child_t *s = p->data;
    s->exited = true;
    s->exit_status = status;
    s->term_signal = term_signal;
    uv_timer_stop(&s->timer);
    if (s->grace_pending) {
        /* The command used its grace and is gone; members of its group still
         * running were sent SIGTERM along with it and are left over from a
         * command that failed anyway: nothing is gained by waiting for them. */
        kill_group(s, SIGKILL);
        s->grace_pending = false;
    }
    if (s->out.open || s->err.open)
        uv_timer_start(&s->drain, on_drain, CHILD_DRAIN_MS, 0);
    maybe_report(s);
}

static void on_written(uv_write_t *w, int status)
{
    child_t *s = w->data;
    (void)status; /* a command need not read its input */
    if (s->in_open) {
        s->in_open = false;
        close_handle((uv_handle_t *)&s->in);
    }
}

static bool name_is(const char *entry, size_t len, const char *name, bool prefix)
{
    size_t n = strlen(name);
    return prefix ? len >= n && strncmp(entry, name, n) == 0
                  : len == n && strncmp(entry, name, n) == 0;
}

/* Whether the daemon's variable entry (NAME=value) is passed on to a child.
 * No child inherits the service manager's sockets (NOTIFY_SOCKET, WATCHDOG_*,
 * LISTEN_*): only the daemon may notify. A clean environment (hooks) keeps
 * only a few locale and user variables, not whatever the shell of someone who
 * started the daemon by hand held, and never the daemon's PATH (make_env). */
static bool env_passed(const char *entry, bool clean)
{
    static const char *const keep[] = {"HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", NULL};
    size_t len = strcspn(entry, "=");
    if (name_is(entry, len, "NOTIFY_SOCKET", false) || name_is(entry, len, "WATCHDOG_", true) ||
        name_is(entry, len, "LISTEN_", true))
        return false;
    if (!clean)
        return true;
    for (size_t i = 0; keep[i]; i++)
        if (name_is(entry, len, keep[i], false))
            return true;
    return false;
}

/* A child's environment: with clean, CHILD_PATH and the daemon's variables
 * env_passed() keeps; else the daemon's environment less the service
 * manager's variables; in both, without the variables extra sets, then extra. */
static char **make_env(const char *const *extra, bool clean)
{
    static char path[] = "PATH=" CHILD_PATH;
    size_t n_env = 0, n_extra = 0;
    while (environ && environ[n_env])
        n_env++;
    while (extra && extra[n_extra])
        n_extra++;
    char **env = xcalloc(n_env + n_extra + 2, sizeof *env);
    size_t k = 0;
    bool path_given = false;
    for (size_t j = 0; j < n_extra && !path_given; j++)
        path_given = strncmp(extra[j], "PATH=", 5) == 0;
    if (!path_given && clean)
        env[k++] = path;
    for (size_t i = 0; i < n_env; i++) {
        if (!env_passed(environ[i], clean))
            continue;
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool replaced = false;
        for (size_t j = 0; j < n_extra && !replaced; j++)
            replaced = strncmp(extra[j], environ[i], len) == 0 && extra[j][len] == '=';
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < n_extra; j++)
        env[k++] = (char *)extra[j];
    env[k] = NULL;
    return env;
}

static void ignore_sigpipe(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

int child_start(uv_loop_t *loop, const child_opts_t *o, child_cb cb, void *ud)
{
    if (!o->argv || !o->argv[0] || o->argv[0][0] != '/')
        return -EINVAL;
    child_t *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->cb = cb;
    s->ud = ud;
    s->timeout_ms = o->timeout_ms;
    s->grace_ms = o->kill_grace_ms ? o->kill_grace_ms : CHILD_DEFAULT_KILL_GRACE_MS;
    s->output_max = o->output_max ? o->output_max : CHILD_DEFAULT_OUTPUT_MAX;
    s->started_ns = uv_hrtime();

    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->drain);
    uv_pipe_init(loop, &s->out.pipe, 0);
    uv_pipe_init(loop, &s->err.pipe, 0);
    s->timer.data = s->drain.data = s->out.pipe.data = s->err.pipe.data = s;
    s->handles = 4;
    s->has_input = o->input != NULL;
    if (s->has_input) {
        ignore_sigpipe();
        uv_pipe_init(loop, &s->in, 0);
        s->in.data = s;
        s->handles++;
        s->in_open = true;
        s->input_len = o->input_len;
        s->input = xmalloc(o->input_len + 1);
        memcpy(s->input, o->input, o->input_len);
    }

    uv_stdio_container_t stdio[3];
    stdio[0].flags = s->has_input ? (uv_stdio_flags)(UV_CREATE_PIPE | UV_READABLE_PIPE) : UV_IGNORE;
    stdio[0].data.stream = (uv_stream_t *)&s->in;
    stdio[1].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[1].data.stream = (uv_stream_t *)&s->out.pipe;
    stdio[2].flags = (uv_stdio_flags)(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[2].data.stream = (uv_stream_t *)&s->err.pipe;
    char **env = make_env(o->env, o->clean_env);
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = o->argv[0],
        .args = (char **)o->argv,
        .env = env,
        .flags = UV_PROCESS_DETACHED, /* setsid: a process group to kill as a whole */
        .stdio_count = 3,
        .stdio = stdio,
    };
    s->proc.data = s;
    int rc = uv_spawn(loop, &s->proc, &po);
    free(env);
    s->handles++; /* the process handle must be closed even when the spawn failed */
    if (rc != 0) {
        snprintf(s->error, sizeof s->error, "%s", uv_strerror(rc));
        if (s->in_open) {
            s->in_open = false;
            close_handle((uv_handle_t *)&s->in);
        }
        uv_timer_start(&s->drain, on_drain, 0, 0);
        return 0;
    }
    s->started = true;
    s->pid = s->proc.pid;
    s->out.open = s->err.open = true;
    uv_read_start((uv_stream_t *)&s->out.pipe, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&s->err.pipe, on_alloc, on_read);
    if (s->has_input) {
        uv_buf_t b = uv_buf_init(s->input, (unsigned)s->input_len);
        s->wreq.data = s;
        if (uv_write(&s->wreq, (uv_stream_t *)&s->in, &b, 1, on_written) != 0) {
            s->in_open = false;
            close_handle((uv_handle_t *)&s->in);
        }
    }
    if (s->timeout_ms)
        uv_timer_start(&s->timer, on_timer, s->timeout_ms, 0);
    return 0;
}

void child_describe(const child_result_t *r, buf_t *out)
{
    switch (r->status) {
    case CHILD_EXITED: buf_printf(out, "exited with status %d", r->exit_code); break;
    case CHILD_SIGNALED: buf_printf(out, "killed by signal %d", r->term_signal); break;
    case CHILD_TIMEOUT:
        buf_printf(out, "timed out after %llu ms and was killed",
                   (unsigned long long)r->timeout_ms);
        break;
    case CHILD_ERROR: buf_printf(out, "could not start: %s", r->error); break;
    }
}

char **child_split(const char *line)
{
    size_t n = 0, cap = 4;
    char **argv = xcalloc(cap, sizeof *argv);
    const char *p = line ? line : "";
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (n + 2 > cap) {
            cap *= 2;
            argv = xrealloc(argv, cap * sizeof *argv);
        }
        argv[n++] = xstrndup(start, (size_t)(p - start));
    }
    argv[n] = NULL;
    if (n == 0) {
        free(argv);
        return NULL;
    }
    return argv;
}

void child_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}
