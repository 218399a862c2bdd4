/* ctlclient.c - see ctlclient.h. */
#include "ctlclient.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "defaults.h"

/* Replies larger than this are not a reply of this daemon. */
#define CTLCLIENT_MAX_REPLY (256u * 1024 * 1024)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    return left < 0 ? 0 : (int)left;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, remaining(deadline));
        if (rc > 0)
            return 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Connect, retrying while the daemon's accept queue is full (EAGAIN). */
static ctlclient_status_t connect_to(const char *path, int64_t deadline, int *out, char *err,
                                     size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "the socket path %s is too long", path);
        return CTLCLIENT_UNREACHABLE;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
            return CTLCLIENT_UNREACHABLE;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            *out = fd;
            return CTLCLIENT_OK;
        }
        int e = errno;
        close(fd);
        switch (e) {
        case EAGAIN:
        case EINTR:
            if (remaining(deadline) == 0) {
                snprintf(err, errlen, "failoverd at %s accepts no connection (busy)", path);
                return CTLCLIENT_TIMEOUT;
            }
            poll(NULL, 0, 10);
            continue;
        case ENOENT:
            snprintf(err, errlen,
                     "cannot connect to failoverd: no socket at %s "
                     "(is failoverd running? -s or FAILOVERD_SOCKET choose another)",
                     path);
            return CTLCLIENT_UNREACHABLE;
        case ECONNREFUSED:
            snprintf(err, errlen,
                     "cannot connect to failoverd: nothing accepts on %s "
                     "(is failoverd running?)",
                     path);
            return CTLCLIENT_UNREACHABLE;
        case EACCES:
        case EPERM:
            snprintf(err, errlen,
                     "cannot connect to failoverd at %s: permission denied "
                     "(run as root or as a member of the socket's group)",
                     path);
            return CTLCLIENT_UNREACHABLE;
        default:
            snprintf(err, errlen, "cannot connect to failoverd at %s: %s", path, strerror(e));
            return CTLCLIENT_UNREACHABLE;
        }
    }
}

/* Send all of data. A daemon that refuses the client (forbidden, busy) writes
 * its reply and closes; EPIPE here still leaves that reply to read. */
static ctlclient_status_t send_all(int fd, const char *data, size_t len, int64_t deadline,
                                   char *err, size_t errlen)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 0) {
                snprintf(err, errlen, "timed out sending the request");
                return CTLCLIENT_TIMEOUT;
            }
            if (w > 0)
                continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return CTLCLIENT_OK; /* read what the daemon said */
        snprintf(err, errlen, "sending the request failed: %s", strerror(errno));
        return CTLCLIENT_CLOSED;
    }
    return CTLCLIENT_OK;
}

static ctlclient_status_t read_line(int fd, buf_t *in, int64_t deadline, int timeout_ms, char *err,
                                    size_t errlen)
{
    char chunk[16384];
    for (;;) {
        if (in->len && memchr(in->data, '\n', in->len))
            return CTLCLIENT_OK;
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n > 0) {
            buf_append(in, chunk, (size_t)n);
            if (in->len > CTLCLIENT_MAX_REPLY) {
                snprintf(err, errlen, "the reply is larger than %u bytes", CTLCLIENT_MAX_REPLY);
                return CTLCLIENT_PROTOCOL;
            }
            continue;
        }
        if (n == 0) {
            snprintf(err, errlen, "failoverd closed the connection without a reply");
            return CTLCLIENT_CLOSED;
        }
        if (errno == EAGAIN || errno == EINTR) {
            int w = wait_fd(fd, POLLIN, deadline);
            if (w == 0) {
                snprintf(err, errlen,
                         "no reply from failoverd within %.1f s; a request that changes "
                         "things may still be running (see failoverctl status)",
                         timeout_ms / 1000.0);
                return CTLCLIENT_TIMEOUT;
            }
            if (w > 0)
                continue;
        }
        if (errno == ECONNRESET) {
            snprintf(err, errlen, "failoverd closed the connection without a reply");
            return CTLCLIENT_CLOSED;
        }
        snprintf(err, errlen, "reading the reply failed: %s", strerror(errno));
        return CTLCLIENT_CLOSED;
    }
}

ctlclient_status_t ctlclient_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
                                  json_t **reply, char *err, size_t errlen)
{
    *reply = NULL;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int fd = -1;
    ctlclient_status_t st = connect_to(path, deadline, &fd, err, errlen);
    if (st != CTLCLIENT_OK)
        return st;

    json_t *req = json_pack("{s:s}", "cmd", cmd);
    json_object_set_new(req, "args", args ? json_incref(args) : json_object());
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    buf_t out = BUF_INIT;
    buf_puts(&out, line ? line : "");
    buf_putc(&out, '\n');
    free(line);
    st = send_all(fd, out.data, out.len, deadline, err, errlen);
    buf_free(&out);

    buf_t in = BUF_INIT;
    if (st == CTLCLIENT_OK)
        st = read_line(fd, &in, deadline, timeout_ms, err, errlen);
    close(fd);
    if (st != CTLCLIENT_OK) {
        buf_free(&in);
        return st;
    }
    size_t len = (size_t)((char *)memchr(in.data, '\n', in.len) - in.data);
    json_error_t jerr;
    json_t *r = json_loadb(in.data, len, 0, &jerr);
    buf_free(&in);
    if (!json_is_object(r) || !json_is_boolean(json_object_get(r, "ok")) ||
        (json_is_false(json_object_get(r, "ok")) && !json_is_object(json_object_get(r, "error")))) {
        snprintf(err, errlen, "failoverd sent something that is not a reply%s%s", r ? "" : ": ",
                 r ? "" : jerr.text);
        json_decref(r);
        return CTLCLIENT_PROTOCOL;
    }
    *reply = r;
    return CTLCLIENT_OK;
}

int ctlclient_exit_for_error(const char *code)
{
    static const char *const rejected[] = {"bad_request",  "unknown_command", "missing_argument",
                                           "bad_argument", "not_found",       "forbidden",
                                           "too_large"};
    if (!code)
        return FO_EXIT_FAILURE;
    if (strcmp(code, "busy") == 0)
        return FO_EXIT_TEMPFAIL;
    if (strcmp(code, "internal") == 0)
        return FO_EXIT_SOFTWARE;
    for (size_t i = 0; i < sizeof rejected / sizeof rejected[0]; i++)
        if (strcmp(code, rejected[i]) == 0)
            return FO_EXIT_DATAERR;
    return FO_EXIT_FAILURE;
}

int ctlclient_exit_code(ctlclient_status_t status, const json_t *reply)
{
    switch (status) {
    case CTLCLIENT_OK:
        /* An operation that ran and failed replies with its record, which
         * says "ok": false: the request ran but failed. */
        if (json_is_true(json_object_get(reply, "ok"))) {
            const json_t *result = json_object_get(reply, "result");
            if (json_is_false(json_object_get(result, "ok")))
                return FO_EXIT_FAILURE;
            /* Done, but its post_promotion hook failed: clients were not moved. */
            return json_is_false(json_object_get(result, "traffic_moved")) ? FO_EXIT_NO_TRAFFIC
                                                                          : FO_EXIT_OK;
        }
        return ctlclient_exit_for_error(
            json_string_value(json_object_get(json_object_get(reply, "error"), "code")));
    case CTLCLIENT_UNREACHABLE:
    case CTLCLIENT_CLOSED: return FO_EXIT_UNAVAILABLE;
    case CTLCLIENT_TIMEOUT: return FO_EXIT_TEMPFAIL;
    case CTLCLIENT_PROTOCOL: return FO_EXIT_SOFTWARE;
    }
    return FO_EXIT_SOFTWARE;
}
