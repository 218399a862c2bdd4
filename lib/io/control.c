/* control.c - the control socket server on libuv; see control.h and docs/protocol.md.
 *
 * Each connection keeps its requests in a queue in arrival order. A request is
 * either at its handler (unanswered) or answered and waiting for the ones
 * before it; control__flush() writes answered replies from the head of the
 * queue only, which is what keeps replies in order. When a connection closes, answered
 * requests are freed and unanswered ones are orphaned (conn = NULL): the
 * handler still owns them and its reply frees them without writing anything.
 *
 * A connection's memory lives until both of its handles (the pipe and the idle
 * timer) are closed; libuv calls pending write callbacks (cancelled) before the
 * close callback, so a write callback never sees freed memory.
 */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#include "control_int.h"

static void conn_close(conn_t *c);
static control_role_t conn_role(const conn_t *c);

/* ---- connections ---- */

void control_set_acl(control_t *ctl, const control_acl_t *acl)
{
    control__acl_free(&ctl->acl);
    control__acl_copy(&ctl->acl, acl);
}

void control_set_max_request(control_t *ctl, size_t max_request)
{
    ctl->max_request = max_request ? max_request : CONTROL_DEFAULT_MAX_REQUEST;
}

bool control_set_file_access(control_t *ctl, int mode, gid_t gid, char *err, size_t errlen)
{
    struct stat st;
    if (!ctl->bound || lstat(ctl->path, &st) != 0 || st.st_dev != ctl->dev ||
        st.st_ino != ctl->ino) {
        snprintf(err, errlen, "%s is no longer the daemon's socket", ctl->path);
        return false;
    }
    if (chmod(ctl->path, (mode_t)mode) != 0 || chown(ctl->path, (uid_t)-1, gid) != 0) {
        snprintf(err, errlen, "cannot set the mode and group of %s: %s", ctl->path,
                 strerror(errno));
        return false;
    }
    ctl->mode = mode;
    ctl->gid = gid;
    return true;
}

/* The end of a window with refusals not logged: one line with their count. */
static void refusal_window_end(uv_timer_t *t)
{
    control_t *ctl = t->data;
    if (!ctl->refusals_quiet)
        return;
    log_warn("control: refused %u more connection%s in the last %u s", ctl->refusals_quiet,
             ctl->refusals_quiet == 1 ? "" : "s", CONTROL_REFUSAL_LOG_MS / 1000);
    ctl->refusals_quiet = 0;
    ctl->refusal_logged_at = uv_now(ctl->loop);
}

/* Refusals are logged at most once per CONTROL_REFUSAL_LOG_MS: a flood of
 * connections must not become a flood of log lines. Those not logged are
 * counted, and the count is logged when the window ends. */
static void log_refusal(control_t *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_refusal(control_t *ctl, const char *fmt, ...)
{
    uint64_t now = uv_now(ctl->loop);
    if (ctl->refusal_logged && now - ctl->refusal_logged_at < CONTROL_REFUSAL_LOG_MS) {
        if (ctl->refusals_quiet++ == 0 && !ctl->closing)
            uv_timer_start(&ctl->refusal_timer, refusal_window_end,
                           CONTROL_REFUSAL_LOG_MS - (now - ctl->refusal_logged_at), 0);
        return;
    }
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (ctl->refusals_quiet)
        log_warn("control: %s (and %u more refused connections in the last %u s)", buf_str(&b),
                 ctl->refusals_quiet, (unsigned)((now - ctl->refusal_logged_at) / 1000));
    else
        log_warn("control: %s", buf_str(&b));
    buf_free(&b);
    ctl->refusal_logged = true;
    ctl->refusal_logged_at = now;
    ctl->refusals_quiet = 0;
}

static void maybe_finish(control_t *ctl)
{
    if (!ctl->closing || !ctl->server_closed || !ctl->refusal_timer_closed || ctl->n_conns > 0)
        return;
    void (*cb)(void *) = ctl->close_cb;
    void *data = ctl->close_data;
    for (size_t i = 0; i < ctl->n_handlers; i++)
        free(ctl->handlers[i].name);
    free(ctl->handlers);
    control__acl_free(&ctl->acl);
    for (size_t i = 0; i < ctl->n_readonly_cmds; i++)
        free(ctl->readonly_cmds[i]);
    free(ctl->readonly_cmds);
    free(ctl->path);
    free(ctl);
    if (cb)
        cb(data);
}

static void conn_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0)
        return;
    control_t *ctl = c->ctl;
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ctl->n_conns--;
    if (c->admitted)
        ctl->n_admitted--;
    buf_free(&c->in);
    free(c->groups);
    free(c);
    maybe_finish(ctl);
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    /* Answered replies die with the connection; requests at handlers are
     * orphaned, and their handlers' replies will free them. */
    control_req_t *r = c->head;
    while (r) {
        control_req_t *next = r->next;
        if (r->answered)
            control__req_free(r);
        else
            r->conn = NULL;
        r = next;
    }
    c->head = c->tail = NULL;
    uv_close((uv_handle_t *)&c->pipe, conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void idle_cb(uv_timer_t *t)
{
    conn_t *c = t->data;
    log_debug("control: closing the idle connection of uid %u pid %d", (unsigned)c->uid,
              (int)c->pid);
    conn_close(c);
}

/* The idle rule: a connection with nothing at a handler must send a complete
 * request within idle_timeout; the clock restarts on every complete request
 * and when the last request at a handler is answered, never on partial data. */
static bool under_pressure(const control_t *ctl)
{
    return ctl->n_admitted >= control__reader_limit(ctl->max_connections);
}

static unsigned idle_ms(const control_t *ctl)
{
    if (under_pressure(ctl) && ctl->idle_timeout_ms > CONTROL_PRESSURE_IDLE_MS)
        return CONTROL_PRESSURE_IDLE_MS;
    return ctl->idle_timeout_ms;
}

void control__touch(conn_t *c)
{
    if (c->closing)
        return;
    if (c->in_flight == 0)
        uv_timer_start(&c->timer, idle_cb, idle_ms(c->ctl), 0);
    else
        uv_timer_stop(&c->timer);
}

static void write_cb(uv_write_t *w, int status)
{
    wctx_t *ctx = (wctx_t *)w;
    conn_t *c = (conn_t *)w->handle;
    free(ctx->data);
    free(ctx);
    if (status < 0 && !c->closing) {
        if (status != UV_EPIPE && status != UV_ECONNRESET)
            log_warn("control: writing a reply failed: %s", uv_strerror(status));
        conn_close(c);
    }
}

static void shutdown_cb(uv_shutdown_t *s, int status)
{
    conn_close((conn_t *)s->handle);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    conn_t *c = h->data;
    *b = uv_buf_init(c->ctl->readbuf, sizeof c->ctl->readbuf);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Read only when a request could be taken: not closing, not draining, not at
 * EOF, and the pipeline has room. */
static void update_reading(conn_t *c)
{
    bool want = !c->closing && !c->draining && !c->eof && c->in_flight < CONTROL_MAX_PIPELINE;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) == 0)
            c->reading = true;
        else
            conn_close(c);
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->pipe);
        c->reading = false;
    }
}

void control__flush(conn_t *c)
{
    while (!c->closing && c->head && c->head->answered) {
        control_req_t *r = c->head;
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        bool close_after = r->close_after;
        wctx_t *ctx = xmalloc(sizeof *ctx);
        ctx->data = r->reply;
        r->reply = NULL;
        uv_buf_t b = uv_buf_init(ctx->data, (unsigned)r->reply_len);
        control__req_free(r);
        int rc = uv_write(&ctx->req, (uv_stream_t *)&c->pipe, &b, 1, write_cb);
        if (rc < 0) {
            free(ctx->data);
            free(ctx);
            conn_close(c);
            return;
        }
        if (close_after) {
            /* Nothing after it is written; the peer reads the reply, then EOF. */
            control_req_t *rest = c->head;
            c->head = c->tail = NULL;
            while (rest) {
                control_req_t *next = rest->next;
                if (rest->answered)
                    control__req_free(rest);
                else
                    rest->conn = NULL;
                rest = next;
            }
        }
    }
    if (c->closing)
        return;
    size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
    if (queued > c->ctl->max_output) {
        log_warn("control: uid %u pid %d does not read its replies (%zu bytes waiting); "
                 "closing the connection",
                 (unsigned)c->uid, (int)c->pid, queued);
        conn_close(c);
        return;
    }
    bool input_done = c->draining || (c->eof && c->in.len == 0);
    if (input_done && !c->head && c->in_flight == 0 && !c->shut) {
        c->shut = true;
        if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, shutdown_cb) < 0)
            conn_close(c);
    }
}

static const handler_t *find_handler(const control_t *ctl, const char *cmd)
{
    for (size_t i = 0; i < ctl->n_handlers; i++)
        if (strcmp(ctl->handlers[i].name, cmd) == 0)
            return &ctl->handlers[i];
    return NULL;
}

static void unknown_command(conn_t *c, json_t *id, const char *cmd)
{
    control_t *ctl = c->ctl;
    buf_t known = BUF_INIT;
    json_t *list = json_array();
    for (size_t i = 0; i < ctl->n_handlers; i++) {
        buf_printf(&known, "%s%s", i ? ", " : "", ctl->handlers[i].name);
        json_array_append_new(list, json_string(ctl->handlers[i].name));
    }
    control__synthetic_error(c, id, false, json_pack("{s:o}", "commands", list),
                             CONTROL_E_UNKNOWN_COMMAND, "unknown command '%s'; known commands: %s",
                             cmd, buf_str(&known));
    buf_free(&known);
}

/* One complete request line (newline stripped). */
/* The gate's word on a command that changes something; false: refused, answered. */
static bool gate_allows(conn_t *c, json_t *id, const char *cmd)
{
    if (!c->ctl->gate)
        return true;
    char why[512] = "";
    json_t *extra = NULL;
    if (c->ctl->gate(cmd, why, sizeof why, &extra, c->ctl->gate_ud))
        return true;
    log_notice("control: uid %u pid %d: %s refused: %s", (unsigned)c->uid, (int)c->pid, cmd, why);
    control__synthetic_error(c, id, false, extra, CONTROL_E_FAILED, "%s", why);
    return false;
}

static void handle_line(conn_t *c, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    size_t skip = 0;
    while (skip < len && (line[skip] == ' ' || line[skip] == '\t'))
        skip++;
    if (skip == len)
        return; /* blank lines are allowed between requests */

    json_error_t jerr;
    json_t *msg =
        json_loadb(line + skip, len - skip, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!msg) {
        control__synthetic_error(c, NULL, false, NULL, CONTROL_E_BAD_REQUEST,
                                 "the request is not valid JSON: %s (column %d)", jerr.text,
                                 jerr.column);
        return;
    }
    if (!json_is_object(msg)) {
        control__synthetic_error(c, NULL, false, NULL, CONTROL_E_BAD_REQUEST,
                                 "the request must be a JSON object");
        json_decref(msg);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    json_t *cmd = json_object_get(msg, "cmd");
    json_t *args = json_object_get(msg, "args");
    if (!json_is_string(cmd) || json_string_length(cmd) == 0) {
        control__synthetic_error(c, id, false, NULL, CONTROL_E_BAD_REQUEST,
                                 "the request needs \"cmd\", a command name");
    } else if (args && !json_is_null(args) && !json_is_object(args)) {
        control__synthetic_error(c, id, false, NULL, CONTROL_E_BAD_REQUEST,
                                 "\"args\" must be an object");
    } else {
        const handler_t *h = find_handler(c->ctl, json_string_value(cmd));
        control_role_t role = conn_role(c);
        if (role == CONTROL_ROLE_NONE) {
            log_refusal(c->ctl, "refused a request from uid %u pid %d (no longer allowed)",
                        (unsigned)c->uid, (int)c->pid);
            control__synthetic_error(c, id, true, NULL, CONTROL_E_FORBIDDEN,
                                     "uid %u may not use this control socket", (unsigned)c->uid);
        } else if (!h) {
            unknown_command(c, id, json_string_value(cmd));
        } else if (role == CONTROL_ROLE_READ && !h->readonly) {
            buf_t ro = BUF_INIT;
            for (size_t i = 0; i < c->ctl->n_handlers; i++)
                if (c->ctl->handlers[i].readonly)
                    buf_printf(&ro, "%s%s", ro.len ? ", " : "", c->ctl->handlers[i].name);
            log_notice("control: uid %u pid %d may only read; refused %s", (unsigned)c->uid,
                       (int)c->pid, h->name);
            control__synthetic_error(c, id, false, NULL, CONTROL_E_FORBIDDEN,
                                     "uid %u may only read (%s); %s needs an operator "
                                     "(control_allowed_uids or control_allowed_gids)",
                                     (unsigned)c->uid, buf_str(&ro), h->name);
            buf_free(&ro);
        } else if (!h->readonly && !gate_allows(c, id, h->name)) {
            /* refused by the gate, which answered */
        } else {
            control_req_t *r = control__req_new(c, id);
            r->cmd = xstrdup(json_string_value(cmd));
            r->args = json_is_object(args) ? json_incref(args) : json_object();
            c->in_flight++;
            log_debug("control: uid %u pid %d: %s", (unsigned)c->uid, (int)c->pid, r->cmd);
            h->fn(r, h->userdata); /* may answer now (and r is gone) or later */
        }
    }
    json_decref(msg);
}

void control_set_gate(control_t *ctl, control_gate_fn gate, void *ud)
{
    ctl->gate = gate;
    ctl->gate_ud = ud;
}

void control__process_input(conn_t *c)
{
    control_t *ctl = c->ctl;
    size_t start = 0;
    c->processing = true;
    while (!c->closing && !c->draining && c->in_flight < CONTROL_MAX_PIPELINE) {
        if (!c->in.data)
            break; /* nothing was ever sent (a client that connects and closes) */
        char *base = c->in.data + start;
        size_t avail = c->in.len - start;
        size_t from = c->scanned > start ? c->scanned - start : 0;
        char *nl = avail > from ? memchr(base + from, '\n', avail - from) : NULL;
        if (!nl) {
            c->scanned = c->in.len;
            break;
        }
        size_t len = (size_t)(nl - base);
        start += len + 1;
        if (len > ctl->max_request) {
            log_warn("control: uid %u pid %d sent a request of %zu bytes (limit %zu)",
                     (unsigned)c->uid, (int)c->pid, len, ctl->max_request);
            control__synthetic_error(c, NULL, true, NULL, CONTROL_E_TOO_LARGE,
                                     "the request is longer than %zu bytes", ctl->max_request);
            break;
        }
        handle_line(c, base, len);
        control__touch(c);
    }
    c->processing = false;
    if (c->closing)
        return;
    if (start > 0) {
        memmove(c->in.data, c->in.data + start, c->in.len - start);
        c->in.len -= start;
        c->in.data[c->in.len] = '\0';
        c->scanned = c->scanned > start ? c->scanned - start : 0;
    }
    if (c->draining) {
        c->in.len = 0;
        c->scanned = 0;
    } else if (c->scanned > ctl->max_request) {
        /* No newline yet and already too long: no need to wait for the rest. */
        log_warn("control: uid %u pid %d sent more than %zu bytes without a newline",
                 (unsigned)c->uid, (int)c->pid, ctl->max_request);
        control__synthetic_error(c, NULL, true, NULL, CONTROL_E_TOO_LARGE,
                                 "the request is longer than %zu bytes", ctl->max_request);
        c->in.len = 0;
        c->scanned = 0;
    }
    if (c->closing)
        return;
    update_reading(c);
    control__flush(c);
}

/* The peer closed its end entirely (not just its write side). */
static bool peer_gone(conn_t *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0)
        return true;
    struct pollfd p = {.fd = fd, .events = 0};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    conn_t *c = (conn_t *)s;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(c);
            return;
        }
        /* A peer that only shut down its write side still waits for its
         * replies; a peer that is gone gets none, and its requests at
         * handlers are orphaned. A last request without a newline counts. */
        c->eof = true;
        uv_read_stop(s);
        c->reading = false;
        if (peer_gone(c)) {
            conn_close(c);
            return;
        }
        if (c->in.len > 0)
            buf_putc(&c->in, '\n');
        control__process_input(c);
        return;
    }
    buf_append(&c->in, b->base, (size_t)nread);
    control__process_input(c);
}

/* The peer as the access rule sees it, judged by the lists in force now. */
static control_role_t conn_role(const conn_t *c)
{
    control_peer_t peer = {.pid = c->pid, .uid = c->uid, .gid = c->gid, .groups = c->groups,
                           .n_groups = c->n_groups};
    return control_peer_role(&peer, &c->ctl->acl);
}

/* Reads the peer's credentials (and groups) into c; false when they can't be
 * read (the connection is then refused: fail closed). */
static bool peer_credentials(conn_t *c)
{
    uv_os_fd_t fd;
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
        log_warn("control: cannot read the credentials of a client: %s", strerror(errno));
        return false;
    }
    c->uid = cr.uid;
    c->pid = cr.pid;
    c->gid = cr.gid;
#ifdef SO_PEERGROUPS
    /* Kept for the connection's life: a reload may add group lists later. */
    gid_t groups[256];
    socklen_t glen = sizeof groups;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0 && glen > 0) {
        c->n_groups = glen / sizeof groups[0];
        c->groups = xcalloc(c->n_groups, sizeof *c->groups);
        memcpy(c->groups, groups, c->n_groups * sizeof *c->groups);
    }
#endif
    return true;
}

/* The table is (nearly) full: idle connections get the short deadline now;
 * one already nearer keeps it (more refusals must not extend anything). */
static void hurry_idle(control_t *ctl)
{
    for (conn_t *o = ctl->conns; o; o = o->next)
        if (!o->closing && o->in_flight == 0 && uv_timer_get_due_in(&o->timer) > idle_ms(ctl))
            uv_timer_start(&o->timer, idle_cb, idle_ms(ctl), 0);
}

static void connection_cb(uv_stream_t *server, int status)
{
    control_t *ctl = server->data;
    if (status < 0) {
        log_warn("control: accepting a connection failed: %s", uv_strerror(status));
        return;
    }
    conn_t *c = xcalloc(1, sizeof *c);
    c->ctl = ctl;
    uv_pipe_init(ctl->loop, &c->pipe, 0);
    uv_timer_init(ctl->loop, &c->timer);
    c->pipe.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->next = ctl->conns;
    if (ctl->conns)
        ctl->conns->prev = c;
    ctl->conns = c;
    ctl->n_conns++;
    int rc = uv_accept(server, (uv_stream_t *)&c->pipe);
    if (rc < 0) {
        log_warn("control: accepting a connection failed: %s", uv_strerror(rc));
        conn_close(c);
        return;
    }
    control__touch(c); /* also the guard of the refusals below */
    control_role_t role = peer_credentials(c) ? conn_role(c) : CONTROL_ROLE_NONE;
    if (role == CONTROL_ROLE_NONE) {
        log_refusal(ctl, "refused a connection from uid %u gid %u pid %d (not allowed)",
                    (unsigned)c->uid, (unsigned)c->gid, (int)c->pid);
        control__synthetic_error(c, NULL, true, NULL, CONTROL_E_FORBIDDEN,
                                 "uid %u may not use this control socket", (unsigned)c->uid);
        return;
    }
    if (!control_slot_free(role, ctl->n_admitted, ctl->max_connections)) {
        log_refusal(ctl, "refused a connection from uid %u pid %d: %u connections open",
                    (unsigned)c->uid, (int)c->pid, ctl->n_admitted);
        hurry_idle(ctl);
        control__synthetic_error(c, NULL, true, NULL, CONTROL_E_BUSY,
                                 "too many control connections (%u); try again", ctl->n_admitted);
        return;
    }
    c->admitted = true;
    ctl->n_admitted++;
    if (under_pressure(ctl))
        hurry_idle(ctl);
    update_reading(c);
}

/* ---- the server ---- */

control_t *control_create(uv_loop_t *loop, const control_opts_t *opts)
{
    control_t *ctl = xcalloc(1, sizeof *ctl);
    ctl->loop = loop;
    ctl->path = xstrdup(opts->path ? opts->path : "");
    ctl->mode = opts->mode;
    ctl->gid = opts->gid;
    control__acl_copy(&ctl->acl, &opts->acl);
    ctl->max_request = opts->max_request ? opts->max_request : CONTROL_DEFAULT_MAX_REQUEST;
    ctl->max_output = opts->max_output ? opts->max_output : CONTROL_DEFAULT_MAX_OUTPUT;
    ctl->idle_timeout_ms =
        opts->idle_timeout_ms ? opts->idle_timeout_ms : CONTROL_DEFAULT_IDLE_TIMEOUT_MS;
    ctl->max_connections =
        opts->max_connections ? opts->max_connections : CONTROL_DEFAULT_MAX_CONNECTIONS;
    /* Initialised now so that control_close() always has a handle to close
     * and so always calls back from the loop. */
    uv_pipe_init(loop, &ctl->server, 0);
    ctl->server.data = ctl;
    uv_timer_init(loop, &ctl->refusal_timer);
    ctl->refusal_timer.data = ctl;
    return ctl;
}

void control_register(control_t *ctl, const char *cmd, control_handler_fn fn, void *userdata)
{
    for (size_t i = 0; i < ctl->n_handlers; i++) {
        if (strcmp(ctl->handlers[i].name, cmd) == 0) {
            ctl->handlers[i].fn = fn;
            ctl->handlers[i].userdata = userdata;
            return;
        }
    }
    bool ro = false;
    for (size_t i = 0; i < ctl->n_readonly_cmds; i++)
        ro = ro || strcmp(ctl->readonly_cmds[i], cmd) == 0;
    ctl->handlers = xrealloc(ctl->handlers, (ctl->n_handlers + 1) * sizeof *ctl->handlers);
    ctl->handlers[ctl->n_handlers++] = (handler_t){xstrdup(cmd), fn, userdata, ro};
}

void control_mark_readonly(control_t *ctl, const char *cmd)
{
    for (size_t i = 0; i < ctl->n_handlers; i++)
        if (strcmp(ctl->handlers[i].name, cmd) == 0)
            ctl->handlers[i].readonly = true;
    ctl->readonly_cmds =
        xrealloc(ctl->readonly_cmds, (ctl->n_readonly_cmds + 1) * sizeof *ctl->readonly_cmds);
    ctl->readonly_cmds[ctl->n_readonly_cmds++] = xstrdup(cmd);
}

unsigned control_connection_count(const control_t *ctl)
{
    return ctl->n_conns;
}

/* Is someone accepting connections on path? A non-blocking connect answers at
 * once: refused means a stale file, success or a full backlog means alive. */
static int probe_live(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = rc == 0 ? 0 : errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
        return 1;
    if (e == ECONNREFUSED)
        return 0;
    return -e;
}

bool control_listen(control_t *ctl, char *err, size_t errlen)
{
    const char *path = ctl->path;
    struct sockaddr_un sa;
    if (!path[0] || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "control socket path '%s' is empty or longer than %zu bytes", path,
                 sizeof sa.sun_path - 1);
        return false;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket; not touching it", path);
            return false;
        }
        int live = probe_live(path);
        if (live > 0) {
            snprintf(err, errlen, "another process accepts connections on %s", path);
            return false;
        }
        if (live < 0) {
            snprintf(err, errlen, "cannot check the existing socket %s: %s", path, strerror(-live));
            return false;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
            return false;
        }
        log_info("control: removed the stale socket %s", path);
    }
    signal(SIGPIPE, SIG_IGN);
    int rc = uv_pipe_bind(&ctl->server, path);
    if (rc < 0) {
        snprintf(err, errlen, "cannot bind the control socket %s: %s", path, uv_strerror(rc));
        return false;
    }
    if (lstat(path, &st) == 0) {
        ctl->bound = true;
        ctl->dev = st.st_dev;
        ctl->ino = st.st_ino;
    }
    /* Nobody can connect before uv_listen, so the mode and group are in place
     * before the first client arrives. */
    if (ctl->mode >= 0 && chmod(path, (mode_t)ctl->mode) != 0) {
        snprintf(err, errlen, "cannot set the mode of %s to %04o: %s", path, ctl->mode,
                 strerror(errno));
        return false;
    }
    if (ctl->gid != (gid_t)-1 && chown(path, (uid_t)-1, ctl->gid) != 0) {
        snprintf(err, errlen, "cannot set the group of %s to %u: %s", path, (unsigned)ctl->gid,
                 strerror(errno));
        return false;
    }
    rc = uv_listen((uv_stream_t *)&ctl->server, 64, connection_cb);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, uv_strerror(rc));
        return false;
    }
    log_info("control: listening on %s", path);
    return true;
}

static void refusal_timer_closed(uv_handle_t *h)
{
    control_t *ctl = h->data;
    ctl->refusal_timer_closed = true;
    maybe_finish(ctl);
}

static void server_closed(uv_handle_t *h)
{
    control_t *ctl = h->data;
    ctl->server_closed = true;
    maybe_finish(ctl);
}

void control_close(control_t *ctl, void (*cb)(void *data), void *data)
{
    if (ctl->closing)
        return;
    ctl->closing = true;
    ctl->close_cb = cb;
    ctl->close_data = data;
    /* Remove the file only if it is still ours: another instance may have
     * replaced it since. */
    struct stat st;
    if (ctl->bound && lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
        unlink(ctl->path);
    uv_close((uv_handle_t *)&ctl->server, server_closed);
    uv_close((uv_handle_t *)&ctl->refusal_timer, refusal_timer_closed);
    for (conn_t *c = ctl->conns; c; c = c->next)
        conn_close(c);
}
