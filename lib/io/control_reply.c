/* control_reply.c - the control socket's requests and replies: the reply
 * objects (in order, see control.c), the error replies, and the helpers that
 * read and check a request's arguments. */
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

/* ---- requests and replies ---- */

void control__req_free(control_req_t *r)
{
    free(r->cmd);
    json_decref(r->args);
    json_decref(r->id);
    free(r->reply);
    free(r);
}

control_req_t *control__req_new(conn_t *c, json_t *id)
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
        control__req_free(r);
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
    control__flush(c);
    if (c->closing)
        return;
    control__touch(c);
    if (!c->processing)
        control__process_input(c); /* a paused pipeline may go on */
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

void control_reply_error_with(control_req_t *req, const char *code, json_t *extra, const char *fmt,
                              ...)
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

void control__synthetic_error(conn_t *c, json_t *id, bool close_after, json_t *extra,
                              const char *code, const char *fmt, ...)
{
    control_req_t *r = control__req_new(c, id);
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
