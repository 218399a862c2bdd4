/* cfgsyntax.c - see cfgsyntax.h. */
#include "cfgsyntax.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"

#define CHILD_TIMEOUT_MS CFGSYNTAX_TIMEOUT_MS

/* The child's answer: "ok", or "err\n<line>\n<file>\n<text>". */
static void child(config_t *parent, const char *path, int fd)
{
    config_t lc;
    config_init(&lc);
    const char *dir = config_get_include_dir(parent);
    if (dir)
        config_set_include_dir(&lc, dir);
    char out[4096];
    int n;
    if (config_read_file(&lc, path))
        n = snprintf(out, sizeof out, "ok");
    else
        n = snprintf(out, sizeof out, "err\n%d\n%s\n%s", config_error_line(&lc),
                     config_error_file(&lc) ? config_error_file(&lc) : path,
                     config_error_text(&lc) ? config_error_text(&lc) : "syntax error");
    if (n > (int)sizeof out - 1)
        n = (int)sizeof out - 1;
    ssize_t w = write(fd, out, (size_t)n);
    (void)w;
    _exit(0);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child's answer into buf; false when it gave none in time. */
static bool answer(pid_t pid, int fd, char *buf, size_t len)
{
    size_t got = 0;
    long long end = now_ms() + CHILD_TIMEOUT_MS;
    bool ok = true;
    for (;;) {
        long long left = end - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = left > 0 ? poll(&p, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ok = false;
            kill(pid, SIGKILL);
            break;
        }
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == len - 1)
            break;
    }
    buf[got] = '\0';
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return ok && got > 0;
}

/* A check's child reads in its own process (it exits, and takes the leak with
 * it); so does the daemon a file a check just vouched for. */
static bool in_check_child;
static char *vouched;

void cfgsyntax_vouch(const char *path)
{
    free(vouched);
    vouched = xstrdup(path);
}

bool cfgsyntax_read(config_t *lc, const char *path, char *file, size_t file_len, int *line,
                    char *text, size_t text_len)
{
    int fds[2];
    pid_t pid = -1;
    char buf[4096];
    bool here = in_check_child || (vouched && strcmp(vouched, path) == 0);
    free(vouched);
    vouched = NULL;
    if (!here && pipe(fds) == 0) {
        /* The child runs no signal handler: the daemon's write to its loop,
         * which the child shares. It gets SIGKILL if it hangs. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pid = fork();
        if (pid == 0) {
            close(fds[0]);
            child(lc, path, fds[1]);
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        close(fds[1]);
        bool got = pid > 0 && answer(pid, fds[0], buf, sizeof buf);
        close(fds[0]);
        if (!got)
            pid = -1;
    }
    if (pid < 0 && !here)
        log_debug("%s: read without a child process", path);
    else if (strncmp(buf, "err\n", 4) == 0) {
        /* The file has a syntax error: libconfig never reads it here. */
        char *l = buf + 4, *f = strchr(l, '\n'), *t = f ? strchr(f + 1, '\n') : NULL;
        if (f && t) {
            *f++ = '\0';
            *t++ = '\0';
            *line = (int)strtol(l, NULL, 10);
            snprintf(file, file_len, "%s", f);
            snprintf(text, text_len, "%s", t);
            return false;
        }
    }
    if (config_read_file(lc, path))
        return true;
    *line = config_error_line(lc);
    snprintf(file, file_len, "%s", config_error_file(lc) ? config_error_file(lc) : path);
    snprintf(text, text_len, "%s", config_error_text(lc) ? config_error_text(lc) : "error");
    return false;
}

/* ---- a reload's check, without waiting ---------------------------------- */

#define REAP_POLL_MS 10

struct cfgsyntax_check {
    uv_loop_t *loop;
    pid_t pid;        /* the child; 0 once reaped (or never started) */
    uv_pipe_t pipe;   /* its answer */
    uv_timer_t timer; /* the deadline, then the reaper */
    int open_handles; /* pipe and timer, until their close callbacks */
    bool answered;    /* cb ran, or the check was cancelled: cb never runs again */
    bool pipe_open;   /* the pipe is initialised and not yet closed */
    buf_t answer;
    cfgsyntax_cb cb;
    void *arg;
};

/* The child: the whole load, its answer ("ok", or "err\n" and the errors as
 * fo_config_errors_format() writes them, then a NUL that ends it) into fd,
 * and out, without running anything of the daemon's (no atexit handler, no
 * stdio flush). */
static void check_child(const char *path, int fd)
{
    in_check_child = true;
    const char *delay = getenv("FAILOVERD_TEST_CHECK_DELAY_MS");
    long ms = delay ? strtol(delay, NULL, 10) : 0;
    if (ms > 0) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    buf_t out = BUF_INIT;
    if (fo_config_load(path, &errs))
        buf_puts(&out, "ok");
    else {
        buf_puts(&out, "err\n");
        fo_config_errors_format(&errs, &out);
    }
    buf_append(&out, "", 1); /* the end: the daemon need not wait for this exit */
    for (size_t done = 0; done < out.len;) {
        ssize_t w = write(fd, buf_str(&out) + done, out.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    _exit(0);
}

static void check_free_if_done(cfgsyntax_check_t *ck)
{
    if (ck->open_handles == 0 && ck->pid == 0) {
        buf_free(&ck->answer);
        free(ck);
    }
}

static void on_check_handle_closed(uv_handle_t *h)
{
    cfgsyntax_check_t *ck = h->data;
    ck->open_handles--;
    check_free_if_done(ck);
}

/* Reaps the child without waiting: now if it is gone, else from the timer. */
static void on_reap(uv_timer_t *t)
{
    cfgsyntax_check_t *ck = t->data;
    if (ck->pid > 0) {
        pid_t r = waitpid(ck->pid, NULL, WNOHANG);
        if (r == 0)
            return; /* the repeating timer asks again */
        ck->pid = 0;
    }
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, on_check_handle_closed);
}

static void close_pipe(cfgsyntax_check_t *ck)
{
    if (!ck->pipe_open)
        return;
    ck->pipe_open = false;
    uv_close((uv_handle_t *)&ck->pipe, on_check_handle_closed);
}

/* The end of a check, whatever it was: the callback (unless cancelled), the
 * child killed if it still runs, then reaped, then the check freed. */
static void check_end(cfgsyntax_check_t *ck, cfgsyntax_outcome_t outcome, const char *errors,
                      bool kill_child)
{
    close_pipe(ck);
    if (kill_child && ck->pid > 0)
        kill(ck->pid, SIGKILL);
    uv_timer_stop(&ck->timer);
    uv_timer_start(&ck->timer, on_reap, 0, REAP_POLL_MS);
    if (!ck->answered) {
        ck->answered = true;
        ck->cb(outcome, errors, ck->arg);
    }
}

static void on_check_timeout(uv_timer_t *t)
{
    cfgsyntax_check_t *ck = t->data;
    log_warn("the check of the configuration file gave no answer within %d ms; the file is read "
             "by the daemon itself",
             CFGSYNTAX_TIMEOUT_MS);
    check_end(ck, CFGSYNTAX_NO_ANSWER, NULL, true);
}

static void on_check_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char chunk[4096];
    (void)h;
    (void)suggested;
    *b = uv_buf_init(chunk, sizeof chunk);
}

static void on_check_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    cfgsyntax_check_t *ck = s->data;
    if (n == 0)
        return;
    if (n > 0) {
        buf_append(&ck->answer, b->base, (size_t)n);
        if (!memchr(b->base, '\0', (size_t)n))
            return; /* more to come */
    }
    /* The answer is complete (or the child died before it): act on it now;
     * the child's exit is reaped after. */
    const char *a = buf_str(&ck->answer);
    bool complete = ck->answer.len > 0 && memchr(a, '\0', ck->answer.len) != NULL;
    if (!complete)
        check_end(ck, CFGSYNTAX_NO_ANSWER, NULL, true);
    else if (strcmp(a, "ok") == 0)
        check_end(ck, CFGSYNTAX_OK, NULL, false);
    else if (strncmp(a, "err\n", 4) == 0)
        check_end(ck, CFGSYNTAX_ERRORS, a + 4, false);
    else
        check_end(ck, CFGSYNTAX_NO_ANSWER, NULL, false);
}

/* Forks the child with its pipe; the read end in *rfd. -1 on failure. */
static pid_t check_fork(const char *path, int *rfd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    /* The child runs no signal handler of the daemon's (they write to the
     * loop it shares); it gets SIGKILL when it outlives the timeout. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        check_child(path, fds[1]);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(fds[1]);
    if (pid < 0)
        close(fds[0]);
    else
        *rfd = fds[0];
    return pid;
}

static void on_check_failed_start(uv_timer_t *t)
{
    check_end(t->data, CFGSYNTAX_NO_ANSWER, NULL, false);
}

cfgsyntax_check_t *cfgsyntax_check_start(uv_loop_t *loop, const char *path, cfgsyntax_cb cb,
                                         void *arg)
{
    cfgsyntax_check_t *ck = xcalloc(1, sizeof *ck);
    ck->loop = loop;
    ck->cb = cb;
    ck->arg = arg;
    ck->answer = (buf_t)BUF_INIT;
    uv_timer_init(loop, &ck->timer);
    ck->timer.data = ck;
    ck->open_handles = 1;
    int rfd = -1;
    pid_t pid = check_fork(path, &rfd);
    if (pid > 0) {
        ck->pid = pid;
        if (uv_pipe_init(loop, &ck->pipe, 0) == 0) {
            ck->pipe.data = ck;
            ck->pipe_open = true;
            ck->open_handles++;
            if (uv_pipe_open(&ck->pipe, rfd) != 0)
                close(rfd);
            else if (uv_read_start((uv_stream_t *)&ck->pipe, on_check_alloc, on_check_read) == 0) {
                uv_timer_start(&ck->timer, on_check_timeout, CFGSYNTAX_TIMEOUT_MS, 0);
                return ck;
            }
        } else {
            close(rfd);
        }
        kill(pid, SIGKILL);
    }
    log_warn("%s: cannot run the check in a child process; the file is read by the daemon itself",
             path);
    uv_timer_start(&ck->timer, on_check_failed_start, 0, 0);
    return ck;
}

void cfgsyntax_check_cancel(cfgsyntax_check_t *ck)
{
    if (!ck || ck->answered)
        return;
    ck->answered = true;
    check_end(ck, CFGSYNTAX_NO_ANSWER, NULL, true);
}
