/* cfgsyntax.c - see cfgsyntax.h. */
#include "cfgsyntax.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define CHILD_TIMEOUT_MS 10000

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

bool cfgsyntax_read(config_t *lc, const char *path, char *file, size_t file_len, int *line,
                    char *text, size_t text_len)
{
    int fds[2];
    pid_t pid = -1;
    char buf[4096];
    if (pipe(fds) == 0) {
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
    if (pid < 0)
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
