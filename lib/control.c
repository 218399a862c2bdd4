/* control.c - the control socket server on libuv; see control.h and docs/protocol.md.
 *
 * Each connection keeps its requests in a queue in arrival order. A request is
 * either at its handler (unanswered) or answered and waiting for the ones
 * before it; flush() writes answered replies from the head of the queue only,
 * which is what keeps replies in order. When a connection closes, answered
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

typedef struct conn conn_t;

struct control_req {
    conn_t *conn; /* NULL once the connection is gone */
    control_req_t *next;
    char *cmd;
    json_t *args;
    json_t *id;  /* the client's "id", echoed in the reply; may be NULL */
    char *reply; /* the reply line, newline included, once answered */
    size_t reply_len;
    bool answered;
    bool close_after; /* close the connection once this reply is written */
    uid_t uid;
    pid_t pid;
};

struct conn {
    uv_pipe_t pipe; /* first: a uv_stream_t * of it is a conn_t * */
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    control_t *ctl;
    conn_t *prev, *next;
    buf_t in;
    size_t scanned; /* bytes at the start of `in` known to hold no newline */
    control_req_t *head, *tail;
    unsigned in_flight; /* requests at handlers */
    int open_handles;
    uid_t uid;
    pid_t pid;
    bool closing;  /* uv_close issued */
    bool draining; /* a close_after reply is queued: read no more requests */
    bool eof;      /* the peer sent everything it will send */
    bool shut;     /* uv_shutdown issued */
    bool reading;
    bool processing; /* inside process_input: do not re-enter */
    gid_t gid;       /* the peer's primary group */
    gid_t *groups;   /* and its supplementary groups (owned) */
    size_t n_groups;
    bool admitted;   /* passed the access and slot checks: counts in n_admitted */
};

typedef struct {
    char *name;
    control_handler_fn fn;
    void *userdata;
    bool readonly; /* readers may run it */
} handler_t;

struct control {
    uv_loop_t *loop;
    uv_pipe_t server;
    char *path;
    int mode;
    gid_t gid;
    control_acl_t acl; /* arrays owned */
    size_t max_request;
    size_t max_output;
    unsigned idle_timeout_ms;
    unsigned max_connections;
    handler_t *handlers;
    size_t n_handlers;
    conn_t *conns;
    unsigned n_conns;
    bool bound; /* the socket file at path is ours (dev/ino) */
    dev_t dev;
    ino_t ino;
    bool closing;
    bool server_closed;
    void (*close_cb)(void *data);
    void *close_data;
    char readbuf[16384]; /* shared: every read is consumed before the next one */
    uint64_t refusal_logged_at; /* loop time of the last refusal logged */
    bool refusal_logged;
    unsigned refusals_quiet; /* refusals since, not logged */
    char **readonly_cmds;    /* marked before registration */
    size_t n_readonly_cmds;
    unsigned n_admitted;     /* connections past the checks; refused ones, closing at
                                once, take no slot */
    uv_timer_t refusal_timer; /* logs the count of refusals not logged, at the window's end */
    bool refusal_timer_closed;
};

typedef struct {
    uv_write_t req;
    char *data;
} wctx_t;

static void conn_close(conn_t *c);
static void flush(conn_t *c);
static void process_input(conn_t *c);
static void touch(conn_t *c);
static control_role_t conn_role(const conn_t *c);

/* ---- access rule ---- */

void control_opts_init(control_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->mode = 0660;
    opts->gid = (gid_t)-1;
    opts->acl.self_uid = geteuid();
    opts->max_request = CONTROL_DEFAULT_MAX_REQUEST;
    opts->max_output = CONTROL_DEFAULT_MAX_OUTPUT;
    opts->idle_timeout_ms = CONTROL_DEFAULT_IDLE_TIMEOUT_MS;
    opts->max_connections = CONTROL_DEFAULT_MAX_CONNECTIONS;
}

static bool gid_listed(gid_t g, const control_acl_t *acl)
{
    for (size_t i = 0; i < acl->n_gids; i++)
        if (acl->gids[i] == g)
            return true;
    return false;
}

static bool in_lists(const control_peer_t *peer, const uid_t *uids, size_t n_uids,
                     const gid_t *gids, size_t n_gids)
{
    control_acl_t g = {.gids = gids, .n_gids = n_gids};
    for (size_t i = 0; i < n_uids; i++)
        if (uids[i] == peer->uid)
            return true;
    if (gid_listed(peer->gid, &g))
        return true;
    for (size_t i = 0; i < peer->n_groups; i++)
        if (gid_listed(peer->groups[i], &g))
            return true;
    return false;
}

/* Rules, first match wins:
 *   1. root is an operator (it could take the socket anyway);
 *   2. the daemon's own uid is an operator;
 *   3. a listed uid, or a listed group (primary or supplementary), is an operator;
 *   4. a uid or group of the read-only lists is a reader;
 *   5. everyone else is refused. */
control_role_t control_peer_role(const control_peer_t *peer, const control_acl_t *acl)
{
    if (peer->uid == 0 || peer->uid == acl->self_uid)
        return CONTROL_ROLE_OPERATE;
    if (in_lists(peer, acl->uids, acl->n_uids, acl->gids, acl->n_gids))
        return CONTROL_ROLE_OPERATE;
    if (in_lists(peer, acl->ro_uids, acl->n_ro_uids, acl->ro_gids, acl->n_ro_gids))
        return CONTROL_ROLE_READ;
    return CONTROL_ROLE_NONE;
}

bool control_peer_allowed(const control_peer_t *peer, const control_acl_t *acl)
{
    return control_peer_role(peer, acl) == CONTROL_ROLE_OPERATE;
}

static unsigned reader_limit(unsigned max_connections)
{
    return max_connections > CONTROL_RESERVED_SLOTS ? max_connections - CONTROL_RESERVED_SLOTS
                                                    : 1;
}

bool control_slot_free(control_role_t role, unsigned open, unsigned max_connections)
{
    if (role == CONTROL_ROLE_OPERATE)
        return open < max_connections;
    return open < reader_limit(max_connections);
}

/* ---- requests and replies ---- */

static void req_free(control_req_t *r)
{
    free(r->cmd);
    json_decref(r->args);
    json_decref(r->id);
    free(r->reply);
    free(r);
}

static control_req_t *req_new(conn_t *c, json_t *id)
{
    control_req_t *r = xcalloc(1, sizeof *r);
    r->conn = c;
    r->uid = c->uid;
    r->pid = c->pid;
    r->id = id ? json_incref(id) : NULL;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    return r;
}

/* The reply line of a reply object (consumed), with its newline. */
static char *serialize(json_t *obj, size_t *len)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) /* only if a handler handed in something jansson cannot encode */
        s = xstrdup("{\"ok\":false,\"error\":{\"code\":\"internal\","
                    "\"message\":\"the reply could not be encoded\"}}");
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = '\0';
    *len = n + 1;
    return s;
}

/* A JSON string of s; bytes that are not valid UTF-8 (a parser's "near ..."
 * can quote raw input) become '?'. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = xstrdup(s);
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *error_object(const char *code, const char *message)
{
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", safe_string(message));
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", e);
    return o;
}

/* The answer is in; write what can be written, in order. */
static void answer(control_req_t *r, json_t *reply)
{
    conn_t *c = r->conn;
    if (!c) {
        /* The client went away: nobody to tell. */
        json_decref(reply);
        req_free(r);
        return;
    }
    if (r->id)
        json_object_set(reply, "id", r->id);
    r->reply = serialize(reply, &r->reply_len);
    r->answered = true;
    if (r->cmd) {
        /* It was at a handler (synthetic error replies never are). */
        c->in_flight--;
    }
    flush(c);
    if (c->closing)
        return;
    touch(c);
    if (!c->processing)
        process_input(c); /* a paused pipeline may go on */
}

void control_reply_ok(control_req_t *req, json_t *result)
{
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "result", result ? result : json_null());
    answer(req, o);
}

static void reply_verror(control_req_t *req, const char *code, const char *fmt, va_list ap)
{
    buf_t msg = BUF_INIT;
    buf_vprintf(&msg, fmt, ap);
    answer(req, error_object(code, buf_str(&msg)));
    buf_free(&msg);
}

void control_reply_error(control_req_t *req, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_verror(req, code, fmt, ap);
    va_end(ap);
}

void control_reply_error_with(control_req_t *req, const char *code, json_t *extra,
                              const char *fmt, ...)
{
    buf_t msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    json_t *o = error_object(code, buf_str(&msg));
    buf_free(&msg);
    if (extra) {
        /* code and message stay the ones given */
        json_object_del(extra, "code");
        json_object_del(extra, "message");
        json_object_update(json_object_get(o, "error"), extra);
        json_decref(extra);
    }
    answer(req, o);
}

/* An error reply that no handler sees (framing, parse, access, limits). */
static void synthetic_error(conn_t *c, json_t *id, bool close_after, json_t *extra,
                            const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void synthetic_error(conn_t *c, json_t *id, bool close_after, json_t *extra,
                            const char *code, const char *fmt, ...)
{
    control_req_t *r = req_new(c, id);
    r->close_after = close_after;
    if (close_after)
        c->draining = true;
    buf_t msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    json_t *o = error_object(code, buf_str(&msg));
    buf_free(&msg);
    if (extra)
        json_object_update(json_object_get(o, "error"), extra);
    json_decref(extra);
    answer(r, o);
}

const char *control_req_cmd(const control_req_t *req)
{
    return req->cmd;
}
json_t *control_req_args(const control_req_t *req)
{
    return req->args;
}
bool control_req_connected(const control_req_t *req)
{
    return req->conn && !req->conn->closing;
}
uid_t control_req_uid(const control_req_t *req)
{
    return req->uid;
}
pid_t control_req_pid(const control_req_t *req)
{
    return req->pid;
}

/* ---- argument helpers ---- */

static json_t *arg_get(control_req_t *req, const char *name, bool required, bool *done)
{
    json_t *v = json_object_get(req->args, name);
    *done = false;
    if (!v || json_is_null(v)) {
        if (required) {
            control_reply_error(req, CONTROL_E_MISSING_ARGUMENT, "%s needs the argument '%s'",
                                req->cmd, name);
            *done = true; /* replied: false to the caller */
        }
        return NULL;
    }
    return v;
}

bool control_arg_string(control_req_t *req, const char *name, bool required, const char **out)
{
    bool replied;
    json_t *v = arg_get(req, name, required, &replied);
    if (!v)
        return !replied;
    if (!json_is_string(v)) {
        control_reply_error(req, CONTROL_E_BAD_ARGUMENT, "argument '%s' must be a string", name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool control_arg_bool(control_req_t *req, const char *name, bool required, bool *out)
{
    bool replied;
    json_t *v = arg_get(req, name, required, &replied);
    if (!v)
        return !replied;
    if (!json_is_boolean(v)) {
        control_reply_error(req, CONTROL_E_BAD_ARGUMENT, "argument '%s' must be true or false",
                            name);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

bool control_arg_int(control_req_t *req, const char *name, bool required, long long min,
                     long long max, long long *out)
{
    bool replied;
    json_t *v = arg_get(req, name, required, &replied);
    if (!v)
        return !replied;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        control_reply_error(req, CONTROL_E_BAD_ARGUMENT,
                            "argument '%s' must be an integer from %lld to %lld", name, min, max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

bool control_arg_number(control_req_t *req, const char *name, bool required, double min, double max,
                        double *out)
{
    bool replied;
    json_t *v = arg_get(req, name, required, &replied);
    if (!v)
        return !replied;
    if (!json_is_number(v) || json_number_value(v) < min || json_number_value(v) > max) {
        control_reply_error(req, CONTROL_E_BAD_ARGUMENT,
                            "argument '%s' must be a number from %g to %g", name, min, max);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

bool control_arg_enum(control_req_t *req, const char *name, bool required,
                      const char *const *choices, const char **out)
{
    const char *s = NULL;
    if (!control_arg_string(req, name, required, &s))
        return false;
    if (!s)
        return true;
    buf_t list = BUF_INIT;
    for (size_t i = 0; choices[i]; i++) {
        if (strcmp(s, choices[i]) == 0) {
            buf_free(&list);
            *out = choices[i];
            return true;
        }
        buf_printf(&list, "%s%s", i ? ", " : "", choices[i]);
    }
    control_reply_error(req, CONTROL_E_BAD_ARGUMENT, "argument '%s' must be one of: %s", name,
                        buf_str(&list));
    buf_free(&list);
    return false;
}

bool control_args_only(control_req_t *req, const char *const *names)
{
    const char *key;
    json_t *v;
    json_object_foreach(req->args, key, v)
    {
        bool known = false;
        for (size_t i = 0; names[i] && !known; i++)
            known = strcmp(key, names[i]) == 0;
        if (!known) {
            control_reply_error(req, CONTROL_E_BAD_ARGUMENT, "%s takes no argument '%s'", req->cmd,
                                key);
            return false;
        }
    }
    return true;
}

/* ---- connections ---- */

static void acl_free(control_acl_t *a)
{
    free((void *)a->uids);
    free((void *)a->gids);
    free((void *)a->ro_uids);
    free((void *)a->ro_gids);
    memset(a, 0, sizeof *a);
}

static void *dup_ids(const void *ids, size_t n, size_t size)
{
    if (!n)
        return NULL;
    void *d = xcalloc(n, size);
    memcpy(d, ids, n * size);
    return d;
}

static void acl_copy(control_acl_t *to, const control_acl_t *from)
{
    *to = (control_acl_t){
        .self_uid = from->self_uid,
        .uids = dup_ids(from->uids, from->n_uids, sizeof(uid_t)),
        .n_uids = from->n_uids,
        .gids = dup_ids(from->gids, from->n_gids, sizeof(gid_t)),
        .n_gids = from->n_gids,
        .ro_uids = dup_ids(from->ro_uids, from->n_ro_uids, sizeof(uid_t)),
        .n_ro_uids = from->n_ro_uids,
        .ro_gids = dup_ids(from->ro_gids, from->n_ro_gids, sizeof(gid_t)),
        .n_ro_gids = from->n_ro_gids,
    };
}

void control_set_acl(control_t *ctl, const control_acl_t *acl)
{
    acl_free(&ctl->acl);
    acl_copy(&ctl->acl, acl);
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
    acl_free(&ctl->acl);
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
            req_free(r);
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
    return ctl->n_admitted >= reader_limit(ctl->max_connections);
}

static unsigned idle_ms(const control_t *ctl)
{
    if (under_pressure(ctl) && ctl->idle_timeout_ms > CONTROL_PRESSURE_IDLE_MS)
        return CONTROL_PRESSURE_IDLE_MS;
    return ctl->idle_timeout_ms;
}

static void touch(conn_t *c)
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

static void flush(conn_t *c)
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
        req_free(r);
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
                    req_free(rest);
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
    synthetic_error(c, id, false, json_pack("{s:o}", "commands", list), CONTROL_E_UNKNOWN_COMMAND,
                    "unknown command '%s'; known commands: %s", cmd, buf_str(&known));
    buf_free(&known);
}

/* One complete request line (newline stripped). */
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
        synthetic_error(c, NULL, false, NULL, CONTROL_E_BAD_REQUEST,
                        "the request is not valid JSON: %s (column %d)", jerr.text, jerr.column);
        return;
    }
    if (!json_is_object(msg)) {
        synthetic_error(c, NULL, false, NULL, CONTROL_E_BAD_REQUEST,
                        "the request must be a JSON object");
        json_decref(msg);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    json_t *cmd = json_object_get(msg, "cmd");
    json_t *args = json_object_get(msg, "args");
    if (!json_is_string(cmd) || json_string_length(cmd) == 0) {
        synthetic_error(c, id, false, NULL, CONTROL_E_BAD_REQUEST,
                        "the request needs \"cmd\", a command name");
    } else if (args && !json_is_null(args) && !json_is_object(args)) {
        synthetic_error(c, id, false, NULL, CONTROL_E_BAD_REQUEST, "\"args\" must be an object");
    } else {
        const handler_t *h = find_handler(c->ctl, json_string_value(cmd));
        control_role_t role = conn_role(c);
        if (role == CONTROL_ROLE_NONE) {
            log_refusal(c->ctl, "refused a request from uid %u pid %d (no longer allowed)",
                        (unsigned)c->uid, (int)c->pid);
            synthetic_error(c, id, true, NULL, CONTROL_E_FORBIDDEN,
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
            synthetic_error(c, id, false, NULL, CONTROL_E_FORBIDDEN,
                            "uid %u may only read (%s); %s needs an operator "
                            "(control_allowed_uids or control_allowed_gids)",
                            (unsigned)c->uid, buf_str(&ro), h->name);
            buf_free(&ro);
        } else {
            control_req_t *r = req_new(c, id);
            r->cmd = xstrdup(json_string_value(cmd));
            r->args = json_is_object(args) ? json_incref(args) : json_object();
            c->in_flight++;
            log_debug("control: uid %u pid %d: %s", (unsigned)c->uid, (int)c->pid, r->cmd);
            h->fn(r, h->userdata); /* may answer now (and r is gone) or later */
        }
    }
    json_decref(msg);
}

static void process_input(conn_t *c)
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
            synthetic_error(c, NULL, true, NULL, CONTROL_E_TOO_LARGE,
                            "the request is longer than %zu bytes", ctl->max_request);
            break;
        }
        handle_line(c, base, len);
        touch(c);
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
        synthetic_error(c, NULL, true, NULL, CONTROL_E_TOO_LARGE,
                        "the request is longer than %zu bytes", ctl->max_request);
        c->in.len = 0;
        c->scanned = 0;
    }
    if (c->closing)
        return;
    update_reading(c);
    flush(c);
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
        process_input(c);
        return;
    }
    buf_append(&c->in, b->base, (size_t)nread);
    process_input(c);
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
    touch(c); /* also the guard of the refusals below */
    control_role_t role = peer_credentials(c) ? conn_role(c) : CONTROL_ROLE_NONE;
    if (role == CONTROL_ROLE_NONE) {
        log_refusal(ctl, "refused a connection from uid %u gid %u pid %d (not allowed)",
                    (unsigned)c->uid, (unsigned)c->gid, (int)c->pid);
        synthetic_error(c, NULL, true, NULL, CONTROL_E_FORBIDDEN,
                        "uid %u may not use this control socket", (unsigned)c->uid);
        return;
    }
    if (!control_slot_free(role, ctl->n_admitted, ctl->max_connections)) {
        log_refusal(ctl, "refused a connection from uid %u pid %d: %u connections open",
                    (unsigned)c->uid, (int)c->pid, ctl->n_admitted);
        hurry_idle(ctl);
        synthetic_error(c, NULL, true, NULL, CONTROL_E_BUSY,
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
    acl_copy(&ctl->acl, &opts->acl);
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
