/* haproxy.c - the HAProxy plugin: read/write splitting that follows the
 * primary and the replicas' lag.
 *
 * HAProxy has two backends that list every node of the cluster as a server:
 * the writer backend, in which exactly the primary is "ready" (the others are
 * in "maint"), and the reader backend, in which the replicas failoverd found
 * fit for reads are "ready" (route.h: up, replicating, within max_read_lag;
 * the primary when none is and read_fallback_primary is set). The plugin
 * drives them through HAProxy's runtime API on its stats socket (which must
 * have "level admin"): "set server BACKEND/SERVER state ready|maint", and
 * "shutdown sessions server" for a server that leaves the writer backend.
 *
 * When it acts:
 *   routing           - the view changed (a probe saw a new writer, a replica
 *                       fell behind or caught up): both backends follow it,
 *                       except the writer while an operation runs;
 *   fence             - failover: the old primary leaves the writer backend
 *                       before anything is promoted;
 *   switchover_before - switchover: likewise, before the old primary is made
 *                       read-only, so no client writes to it from then on;
 *   post_promotion    - the new primary is writable: it is the writer now;
 *   post_failover, switchover_after, failover_failed - the operation ended:
 *                       a new primary stays the writer until the probes see
 *                       it; an operation that promoted nothing gives the
 *                       writer back to what the probes see (a rolled-back
 *                       switchover's primary).
 *
 * The socket is a Unix socket on this machine; the exchange is non-blocking
 * and polled with host->after(), bounded by `timeout`: a missing socket, a
 * refused connection, HAProxy not answering or refusing a command ends the
 * call as failed with the reason (a hook_failed event), never a wait. One
 * exchange at a time: calls that come while one runs are answered together
 * by the next exchange, which sends the state as it is by then. After a
 * failure the whole state is sent again every second until HAProxy takes it
 * (HAProxy restarted, or back from a stall). A request that timed out after
 * it was sent may still be carried out by a HAProxy that was stalled, after
 * newer ones: the state is sent once more a second after the next success.
 * See docs/routing.md and docs/plugins.md.
 */
#include <failoverd/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hapcmd.h"
#include "putil.h"

#define HAP_VERSION "1.0"
#define SERVER_VAR "haproxy_server"
#define POLL_MS 2
#define MAX_WAITING 64
#define RETRY_MS 1000

typedef struct {
    const failoverd_host_t *host;
    const char *socket, *writer_backend, *reader_backend;
    uint64_t timeout;
    hap_server_t *srv;
    size_t n;
    bool *view_writer, *view_reader; /* the latest routing view */
    bool view_seen;
    bool op;       /* an operation runs: the writer is op_writer, not the view's */
    int op_writer; /* -1: none */
    int pin;       /* a promoted node the view does not show as writer yet; -1 */
    /* The exchange in flight, and the calls waiting for the next one. */
    bool busy;
    int fd;
    putil_str_t req, answer;
    size_t sent;
    uint64_t started, deadline;
    failoverd_call_t *calls[MAX_WAITING];
    const char *hooks[MAX_WAITING];
    size_t n_calls;
    failoverd_call_t *next[MAX_WAITING];
    const char *next_hooks[MAX_WAITING];
    size_t n_next;
    bool retry_due; /* a failed exchange is tried again, without a call */
    bool failing;
    /* A request that timed out after it was sent may still be carried out
     * when HAProxy wakes up, after a newer one: the state is sent once more
     * after the next exchange that succeeds. */
    bool uncertain;
} hap_t;

static const char *const known_settings[] = {"socket", "writer_backend", "reader_backend",
                                             "timeout", NULL};

static int find(const hap_t *h, const char *name)
{
    for (size_t i = 0; name && i < h->n; i++)
        if (strcmp(h->srv[i].node, name) == 0)
            return (int)i;
    return -1;
}

/* Where traffic should go now, into srv[].writer/reader. */
static void want(hap_t *h)
{
    int writer = -1;
    if (h->op)
        writer = h->op_writer;
    else if (h->pin >= 0)
        writer = h->pin;
    else
        for (size_t i = 0; i < h->n; i++)
            if (h->view_writer[i])
                writer = (int)i;
    for (size_t i = 0; i < h->n; i++) {
        h->srv[i].writer = (int)i == writer;
        h->srv[i].reader = h->view_seen && h->view_reader[i];
    }
}

static void summary(const hap_t *h, putil_str_t *b)
{
    size_t k = 0;
    putil_str_puts(b, "writer ");
    for (size_t i = 0; i < h->n; i++)
        if (h->srv[i].writer)
            putil_str_printf(b, "%s%s", k++ ? ", " : "", h->srv[i].server);
    if (!k)
        putil_str_puts(b, "none");
    if (!h->reader_backend[0])
        return;
    putil_str_puts(b, ", readers ");
    k = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->srv[i].reader)
            putil_str_printf(b, "%s%s", k++ ? ", " : "", h->srv[i].server);
    if (!k)
        putil_str_puts(b, "none");
}

static void start(hap_t *h);

static void retry(void *ud)
{
    hap_t *h = ud;
    h->retry_due = false;
    if (!h->busy)
        start(h);
}

/* Ends the exchange: answers every call it was for, then starts the next. */
static void finish(hap_t *h, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void finish(hap_t *h, bool ok, const char *fmt, ...)
{
    char why[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
    for (size_t i = 0; i < h->n; i++)
        h->srv[i].was_writer = ok ? h->srv[i].writer : true; /* unknown: cut them all next time */
    putil_str_t msg = {0};
    if (ok) {
        putil_str_puts(&msg, "HAProxy: ");
        summary(h, &msg);
        putil_str_printf(&msg, " (%llu ms)",
                         (unsigned long long)(h->host->now_ms(h->host) - h->started));
    } else {
        putil_str_printf(&msg, "HAProxy socket %s: %s; wanted ", h->socket, why);
        summary(h, &msg);
    }
    /* A retry that fails like the one before is not worth a warning a second. */
    failoverd_log_level_t lvl = ok ? FAILOVERD_LOG_INFO
                                : h->failing && !h->n_calls ? FAILOVERD_LOG_DEBUG
                                                            : FAILOVERD_LOG_WARN;
    h->host->log(h->host, lvl, "%s%s", putil_str_get(&msg),
                 ok && h->failing ? " (in step again)" : "");
    h->failing = !ok;
    if (!ok && h->sent > 0)
        h->uncertain = true;
    size_t n = h->n_calls;
    failoverd_call_t *calls[MAX_WAITING];
    memcpy(calls, h->calls, n * sizeof calls[0]);
    h->n_calls = 0;
    h->busy = false;
    putil_str_free(&h->req);
    putil_str_free(&h->answer);
    for (size_t i = 0; i < n; i++)
        h->host->done(calls[i], ok ? FAILOVERD_DONE_OK : FAILOVERD_DONE_FAILED,
                      putil_str_get(&msg));
    putil_str_free(&msg);
    if (h->n_next)
        start(h);
    else if ((!ok || h->uncertain) && !h->retry_due) {
        /* HAProxy may have missed a change, or may yet carry out a stale one:
         * send the whole state again later, until it takes it. */
        if (ok)
            h->uncertain = false;
        h->retry_due = true;
        h->host->after(h->host, RETRY_MS, retry, h);
    }
}

static void step(void *ud);

static void later(hap_t *h)
{
    if (h->host->now_ms(h->host) >= h->deadline) {
        finish(h, false, "no answer within %llu ms (%s)", (unsigned long long)h->timeout,
               h->sent < h->req.len ? "sending" : "waiting for the answer");
        return;
    }
    h->host->after(h->host, POLL_MS, step, h);
}

/* One round of the exchange: connect, send, read until HAProxy closes. */
static void step(void *ud)
{
    hap_t *h = ud;
    if (h->fd < 0) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", h->socket);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            finish(h, false, "socket: %s", strerror(errno));
            return;
        }
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            int e = errno;
            close(fd);
            if (e == EAGAIN || e == EINPROGRESS || e == EINTR) {
                later(h); /* the listen queue is full: try again */
                return;
            }
            finish(h, false, "connect: %s", strerror(e));
            return;
        }
        h->fd = fd;
    }
    while (h->sent < h->req.len) {
        ssize_t w = send(h->fd, h->req.s + h->sent, h->req.len - h->sent, MSG_NOSIGNAL);
        if (w > 0) {
            h->sent += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            later(h);
            return;
        }
        finish(h, false, "send: %s", w < 0 ? strerror(errno) : "nothing sent");
        return;
    }
    for (;;) {
        char buf[4096];
        ssize_t r = recv(h->fd, buf, sizeof buf, 0);
        if (r > 0) {
            if (h->answer.len < 65536)
                putil_str_add(&h->answer, buf, (size_t)r);
            continue;
        }
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            later(h);
            return;
        }
        finish(h, false, "recv: %s", strerror(errno));
        return;
    }
    char why[400];
    if (h->answer.oom || h->req.oom)
        finish(h, false, "out of memory");
    else if (!hap_answer_ok(putil_str_get(&h->answer), why, sizeof why))
        finish(h, false, "refused: %s", why);
    else
        finish(h, true, "ok");
}

/* Starts an exchange for the calls waiting in next[]. */
static void start(hap_t *h)
{
    memcpy(h->calls, h->next, h->n_next * sizeof h->next[0]);
    memcpy(h->hooks, h->next_hooks, h->n_next * sizeof h->next_hooks[0]);
    h->n_calls = h->n_next;
    h->n_next = 0;
    h->busy = true;
    h->fd = -1;
    h->sent = 0;
    h->req = (putil_str_t){0};
    h->answer = (putil_str_t){0};
    want(h);
    hap_commands(h->srv, h->n, h->writer_backend, h->reader_backend, &h->req);
    h->started = h->host->now_ms(h->host);
    h->deadline = h->started + h->timeout;
    step(h);
}

static void hap_event(void *state, const failoverd_context_t *ctx, failoverd_call_t *call)
{
    hap_t *h = state;
    char why[200];
    switch (ctx->point) {
    case FAILOVERD_HOOK_ROUTING:
        for (size_t i = 0; i < h->n; i++)
            h->srv[i].writer = h->srv[i].reader = false;
        if (!hap_read_routing(ctx->event_json, h->srv, h->n, why, sizeof why)) {
            h->host->done(call, FAILOVERD_DONE_FAILED, why);
            return;
        }
        for (size_t i = 0; i < h->n; i++) {
            h->view_writer[i] = h->srv[i].writer;
            h->view_reader[i] = h->srv[i].reader;
        }
        h->view_seen = true;
        if (h->pin >= 0 && h->view_writer[h->pin])
            h->pin = -1;
        break;
    case FAILOVERD_HOOK_FENCE:
    case FAILOVERD_HOOK_SWITCHOVER_BEFORE:
        h->op = true;
        h->op_writer = -1;
        h->pin = -1;
        break;
    case FAILOVERD_HOOK_POST_PROMOTION:
        h->op = true;
        h->op_writer = find(h, ctx->new_primary.name);
        if (h->op_writer < 0) {
            snprintf(why, sizeof why, "the new primary \"%s\" is not a node of the cluster",
                     ctx->new_primary.name);
            h->host->done(call, FAILOVERD_DONE_FAILED, why);
            return;
        }
        break;
    case FAILOVERD_HOOK_POST_FAILOVER:
    case FAILOVERD_HOOK_SWITCHOVER_AFTER:
    case FAILOVERD_HOOK_FAILOVER_FAILED:
        /* A promoted node stays the writer until the probes see it so. */
        h->pin = h->op ? h->op_writer : h->pin;
        if (h->pin >= 0 && h->view_writer[h->pin])
            h->pin = -1;
        h->op = false;
        h->op_writer = -1;
        break;
    default:
        h->host->done(call, FAILOVERD_DONE_OK, "nothing to do at this point");
        return;
    }
    if (h->n_next >= MAX_WAITING) {
        h->host->done(call, FAILOVERD_DONE_FAILED, "too many calls waiting for HAProxy");
        return;
    }
    h->next_hooks[h->n_next] = ctx->hook;
    h->next[h->n_next++] = call;
    if (!h->busy)
        start(h);
}

static void hap_fini(void *state)
{
    hap_t *h = state;
    if (!h)
        return;
    if (h->fd >= 0)
        close(h->fd);
    putil_str_free(&h->req);
    putil_str_free(&h->answer);
    free(h->srv);
    free(h->view_writer);
    free(h->view_reader);
    free(h);
}

static int hap_init(const failoverd_init_t *a, void **state, char *err, size_t err_len)
{
    if (!putil_known_settings(a->config, a->n_config, known_settings, err, err_len))
        return -1;
    hap_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    h->host = a->host;
    h->fd = -1;
    h->op_writer = h->pin = -1;
    const char *s;
    h->socket = putil_setting(a->config, a->n_config, "socket");
    if (!h->socket || h->socket[0] != '/') {
        snprintf(err, err_len, "\"socket\" (HAProxy's stats socket, an absolute path) is required");
        goto fail;
    }
    if (strlen(h->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, err_len, "socket: \"%s\" is too long for a Unix socket", h->socket);
        goto fail;
    }
    h->writer_backend = putil_setting(a->config, a->n_config, "writer_backend");
    if (!h->writer_backend)
        h->writer_backend = "writer";
    if (!h->writer_backend[0]) {
        snprintf(err, err_len, "writer_backend: must not be empty");
        goto fail;
    }
    h->reader_backend = putil_setting(a->config, a->n_config, "reader_backend");
    if (!h->reader_backend)
        h->reader_backend = "reader";
    h->timeout = 1000;
    if ((s = putil_setting(a->config, a->n_config, "timeout")) &&
        (!putil_duration_ms(s, &h->timeout) || h->timeout < 10 || h->timeout > 60000)) {
        snprintf(err, err_len, "timeout: \"%s\" is not a duration from 10ms to 60s", s);
        goto fail;
    }
    h->n = a->n_nodes;
    h->srv = calloc(h->n ? h->n : 1, sizeof *h->srv);
    h->view_writer = calloc(h->n ? h->n : 1, sizeof *h->view_writer);
    h->view_reader = calloc(h->n ? h->n : 1, sizeof *h->view_reader);
    if (!h->srv || !h->view_writer || !h->view_reader) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < h->n; i++) {
        const failoverd_node_t *nd = &a->nodes[i];
        h->srv[i].node = nd->name;
        h->srv[i].server = nd->name;
        h->srv[i].was_writer = true;
        for (size_t k = 0; k < nd->n_vars; k++)
            if (strcmp(nd->vars[k].key, SERVER_VAR) == 0)
                h->srv[i].server = nd->vars[k].value;
        for (const char *p = h->srv[i].server; *p; p++)
            if (*p == ' ' || *p == ';' || *p == '/' || *p == '\n') {
                snprintf(err, err_len, "node %s: HAProxy server name \"%s\" has a '%c'", nd->name,
                         h->srv[i].server, *p);
                goto fail;
            }
    }
    *state = h;
    return 0;
fail:
    hap_fini(h);
    return -1;
}

FAILOVERD_PLUGIN_EXPORT const failoverd_plugin_t failoverd_plugin = {
    .abi_version = FAILOVERD_PLUGIN_ABI_VERSION,
    .name = "haproxy",
    .version = HAP_VERSION,
    .points = FAILOVERD_POINT(FAILOVERD_HOOK_ROUTING) | FAILOVERD_POINT(FAILOVERD_HOOK_FENCE) |
              FAILOVERD_POINT(FAILOVERD_HOOK_SWITCHOVER_BEFORE) |
              FAILOVERD_POINT(FAILOVERD_HOOK_POST_PROMOTION) |
              FAILOVERD_POINT(FAILOVERD_HOOK_POST_FAILOVER) |
              FAILOVERD_POINT(FAILOVERD_HOOK_SWITCHOVER_AFTER) |
              FAILOVERD_POINT(FAILOVERD_HOOK_FAILOVER_FAILED),
    .init = hap_init,
    .on_event = hap_event,
    .fini = hap_fini,
};
