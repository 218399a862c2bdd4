/* etcd_json.c - request bodies and reply parsing of the etcd v3 JSON gateway
 * (see etcd.h).  Keys and values travel base64-encoded; int64 fields come back
 * as decimal strings; fields at their default value are absent. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "etcd.h"

static char *b64(const char *s)
{
    size_t n = strlen(s);
    char *out = xcalloc(4 * ((n + 2) / 3) + 1, 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
    return out;
}

/* Decodes base64 text into a NUL-terminated string; NULL when it is not base64
 * or holds a NUL byte. */
static char *unb64(const char *s)
{
    size_t n = strlen(s);
    if (n % 4 != 0)
        return NULL;
    unsigned char *out = xcalloc(n / 4 * 3 + 1, 1);
    int got = n ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) : 0;
    if (got < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    if (n >= 1 && s[n - 1] == '=')
        got--;
    if (n >= 2 && s[n - 2] == '=')
        got--;
    out[got] = '\0';
    if (strlen((char *)out) != (size_t)got) {
        free(out);
        return NULL;
    }
    return (char *)out;
}

static void add_str(json_t *o, const char *k, const char *v)
{
    char *e = b64(v);
    json_object_set_new(o, k, json_string(e));
    free(e);
}

static void add_int(json_t *o, const char *k, int64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    json_object_set_new(o, k, json_string(tmp));
}

static char *dump(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        abort();
    return s;
}

char *etcd_body_range(const char *key)
{
    json_t *o = json_object();
    add_str(o, "key", key);
    return dump(o);
}

static json_t *put_obj(const char *key, const char *value, int64_t lease)
{
    json_t *o = json_object();
    add_str(o, "key", key);
    add_str(o, "value", value);
    if (lease)
        add_int(o, "lease", lease);
    return o;
}

char *etcd_body_put(const char *key, const char *value, int64_t lease)
{
    return dump(put_obj(key, value, lease));
}

char *etcd_body_delete(const char *key)
{
    return etcd_body_range(key);
}

char *etcd_body_lease(const char *field, int64_t v)
{
    json_t *o = json_object();
    add_int(o, field, v);
    return dump(o);
}

char *etcd_body_txn(const etcd_cmp_t *cmp, size_t n_cmp, const etcd_op_t *ops, size_t n_ops,
                    const char *failure_range)
{
    json_t *o = json_object(), *ca = json_array(), *sa = json_array();
    for (size_t i = 0; i < n_cmp; i++) {
        json_t *c = json_object();
        add_str(c, "key", cmp[i].key);
        json_object_set_new(c, "result", json_string("EQUAL"));
        if (cmp[i].target == ETCD_CMP_CREATE) {
            json_object_set_new(c, "target", json_string("CREATE"));
            add_int(c, "create_revision", cmp[i].create_revision);
        } else {
            json_object_set_new(c, "target", json_string("VALUE"));
            add_str(c, "value", cmp[i].value);
        }
        json_array_append_new(ca, c);
    }
    for (size_t i = 0; i < n_ops; i++) {
        json_t *r = json_object();
        if (ops[i].value)
            json_object_set_new(r, "request_put", put_obj(ops[i].key, ops[i].value, ops[i].lease));
        else {
            json_t *d = json_object();
            add_str(d, "key", ops[i].key);
            json_object_set_new(r, "request_delete_range", d);
        }
        json_array_append_new(sa, r);
    }
    json_object_set_new(o, "compare", ca);
    json_object_set_new(o, "success", sa);
    if (failure_range) {
        json_t *fa = json_array(), *r = json_object(), *g = json_object();
        add_str(g, "key", failure_range);
        json_object_set_new(r, "request_range", g);
        json_array_append_new(fa, r);
        json_object_set_new(o, "failure", fa);
    }
    return dump(o);
}

char *etcd_body_watch(const char *key, int64_t start_revision)
{
    json_t *o = json_object(), *c = json_object();
    add_str(c, "key", key);
    if (start_revision > 0)
        add_int(c, "start_revision", start_revision);
    json_object_set_new(c, "progress_notify", json_true());
    json_object_set_new(o, "create_request", c);
    return dump(o);
}

/* The end of the range of every key that starts with prefix: the prefix with
 * its last byte that is not 0xff plus one (etcd's rule; "\0" when there is
 * none: every key from the prefix on). */
static char *prefix_end(const char *prefix)
{
    char *end = xstrdup(prefix);
    for (size_t n = strlen(end); n > 0; n--) {
        if ((unsigned char)end[n - 1] < 0xff) {
            end[n - 1]++;
            end[n] = '\0';
            return end;
        }
    }
    free(end);
    return NULL;
}

static void add_range_end(json_t *o, const char *prefix)
{
    char *end = prefix_end(prefix);
    if (end)
        add_str(o, "range_end", end);
    else
        json_object_set_new(o, "range_end", json_string("AA=="));
    free(end);
}

char *etcd_body_range_prefix(const char *prefix)
{
    json_t *o = json_object();
    add_str(o, "key", prefix);
    add_range_end(o, prefix);
    return dump(o);
}

char *etcd_body_watch_prefix(const char *prefix, int64_t start_revision)
{
    json_t *o = json_object(), *c = json_object();
    add_str(c, "key", prefix);
    add_range_end(c, prefix);
    if (start_revision > 0)
        add_int(c, "start_revision", start_revision);
    json_object_set_new(c, "progress_notify", json_true());
    json_object_set_new(o, "create_request", c);
    return dump(o);
}

/* ---- replies ------------------------------------------------------------------ */

typedef struct {
    char *why;
    size_t len;
} perr_t;

static bool fail(perr_t *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(perr_t *pe, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pe->why, pe->len, fmt, ap);
    va_end(ap);
    return false;
}

/* An int64 field: absent = 0; a decimal string or a JSON integer. */
static bool get_int(json_t *o, const char *k, int64_t *out, perr_t *pe)
{
    json_t *v = json_object_get(o, k);
    *out = 0;
    if (!v)
        return true;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return fail(pe, "field %s is not an integer", k);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end)
        return fail(pe, "field %s is not an integer (\"%.32s\")", k, s);
    *out = x;
    return true;
}

/* A base64 text field decoded; absent = "" when optional. */
static bool get_text(json_t *o, const char *k, bool required, char **out, perr_t *pe)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v) {
        if (required)
            return fail(pe, "field %s is missing", k);
        *out = xstrdup("");
        return true;
    }
    if (!json_is_string(v) || !(*out = unb64(json_string_value(v))))
        return fail(pe, "field %s is not base64 text", k);
    return true;
}

static void kv_free(etcd_kv_t *kv)
{
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof *kv);
}

static bool parse_kv(json_t *o, etcd_kv_t *kv, perr_t *pe)
{
    memset(kv, 0, sizeof *kv);
    if (!json_is_object(o))
        return fail(pe, "a kv is not an object");
    bool ok = get_text(o, "key", true, &kv->key, pe) && get_text(o, "value", false, &kv->value, pe) &&
              get_int(o, "create_revision", &kv->create_revision, pe) &&
              get_int(o, "mod_revision", &kv->mod_revision, pe) &&
              get_int(o, "version", &kv->version, pe) && get_int(o, "lease", &kv->lease, pe);
    if (!ok)
        kv_free(kv);
    return ok;
}

static bool parse_kvs(json_t *o, etcd_reply_t *r, perr_t *pe)
{
    json_t *a = json_object_get(o, "kvs");
    if (!a)
        return true;
    if (!json_is_array(a))
        return fail(pe, "kvs is not an array");
    r->kvs = xcalloc(json_array_size(a) + 1, sizeof *r->kvs);
    for (size_t i = 0; i < json_array_size(a); i++) {
        if (!parse_kv(json_array_get(a, i), &r->kvs[i], pe))
            return false;
        r->n_kvs++;
    }
    return true;
}

static bool parse_header(json_t *o, int64_t *rev, perr_t *pe)
{
    json_t *h = json_object_get(o, "header");
    *rev = 0;
    if (!h)
        return true;
    if (!json_is_object(h))
        return fail(pe, "header is not an object");
    return get_int(h, "revision", rev, pe);
}

/* An error reply: {"error": "text", "code": N, "message": ...} (unary) or
 * {"error": {"message": ...}} (streams). */
static bool check_error(json_t *o, perr_t *pe)
{
    json_t *e = json_object_get(o, "error");
    if (!e)
        return true;
    const char *msg = json_string_value(e);
    if (!msg)
        msg = json_string_value(json_object_get(e, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(o, "message"));
    return fail(pe, "etcd: %s", msg ? msg : "error without a message");
}

static bool parse_txn(json_t *o, etcd_reply_t *r, perr_t *pe)
{
    json_t *s = json_object_get(o, "succeeded");
    if (s && !json_is_boolean(s))
        return fail(pe, "succeeded is not a boolean");
    r->succeeded = s && json_is_true(s);
    json_t *rs = json_object_get(o, "responses");
    if (rs && !json_is_array(rs))
        return fail(pe, "responses is not an array");
    for (size_t i = 0; rs && i < json_array_size(rs); i++) {
        json_t *x = json_object_get(json_array_get(rs, i), "response_range");
        if (x && !r->kvs)
            return json_is_object(x) ? parse_kvs(x, r, pe) : fail(pe, "a response is malformed");
    }
    return true;
}

static bool parse_body(etcd_rkind_t kind, json_t *o, etcd_reply_t *r, perr_t *pe)
{
    if (!json_is_object(o))
        return fail(pe, "the reply is not a JSON object");
    if (!check_error(o, pe))
        return false;
    if (kind == ETCD_R_LEASE) {
        json_t *res = json_object_get(o, "result");
        if (res) /* a keepalive answers through its stream wrapper */
            o = res;
        if (!json_is_object(o))
            return fail(pe, "result is not an object");
    }
    if (!parse_header(o, &r->revision, pe))
        return false;
    switch (kind) {
    case ETCD_R_RANGE: return parse_kvs(o, r, pe);
    case ETCD_R_TXN: return parse_txn(o, r, pe);
    case ETCD_R_LEASE:
        return get_int(o, "ID", &r->lease_id, pe) && get_int(o, "TTL", &r->ttl, pe);
    case ETCD_R_PUT:
    case ETCD_R_DELETE:
    case ETCD_R_REVOKE: return true;
    }
    return fail(pe, "unknown request kind");
}

bool etcd_parse_reply(etcd_rkind_t kind, const char *text, size_t len, etcd_reply_t *r)
{
    memset(r, 0, sizeof *r);
    perr_t pe = {r->err, sizeof r->err};
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    bool ok = o ? parse_body(kind, o, r, &pe) : fail(&pe, "malformed JSON: %s", je.text);
    json_decref(o);
    if (!ok) {
        char keep[sizeof r->err];
        memcpy(keep, r->err, sizeof keep);
        etcd_reply_free(r);
        memcpy(r->err, keep, sizeof keep);
        return false;
    }
    r->ok = true;
    return true;
}

void etcd_reply_free(etcd_reply_t *r)
{
    for (size_t i = 0; i < r->n_kvs; i++)
        kv_free(&r->kvs[i]);
    free(r->kvs);
    memset(r, 0, sizeof *r);
}

/* ---- watch stream ---------------------------------------------------------------- */

static bool watch_events(json_t *evs, int64_t rev, etcd_watch_cb cb, void *ud, perr_t *pe)
{
    if (!json_is_array(evs))
        return fail(pe, "events is not an array");
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *x = json_array_get(evs, i);
        etcd_wevent_t ev = {.revision = rev};
        const char *type = json_string_value(json_object_get(x, "type"));
        if (type && strcmp(type, "DELETE") == 0)
            ev.kind = ETCD_W_DELETE;
        else if (!type || strcmp(type, "PUT") == 0)
            ev.kind = ETCD_W_PUT;
        else
            return fail(pe, "unknown event type");
        if (!parse_kv(json_object_get(x, "kv"), &ev.kv, pe))
            return false;
        cb(ud, &ev);
        kv_free(&ev.kv);
    }
    return true;
}

static bool watch_message(json_t *o, etcd_watch_cb cb, void *ud, perr_t *pe)
{
    if (!json_is_object(o))
        return fail(pe, "a watch message is not a JSON object");
    if (!check_error(o, pe))
        return false;
    json_t *res = json_object_get(o, "result");
    if (!json_is_object(res))
        return fail(pe, "a watch message without a result");
    etcd_wevent_t ev = {.revision = 0};
    if (!parse_header(res, &ev.revision, pe))
        return false;
    int64_t compact = 0;
    if (!get_int(res, "compact_revision", &compact, pe))
        return false;
    if (json_is_true(json_object_get(res, "canceled")) || compact) {
        const char *why = json_string_value(json_object_get(res, "cancel_reason"));
        ev.kind = ETCD_W_END;
        snprintf(ev.err, sizeof ev.err, "watch canceled%s%s%s", compact ? " (compacted)" : "",
                 why && *why ? ": " : "", why && *why ? why : "");
        cb(ud, &ev);
        return true;
    }
    json_t *evs = json_object_get(res, "events");
    if (evs)
        return watch_events(evs, ev.revision, cb, ud, pe);
    ev.kind = json_is_true(json_object_get(res, "created")) ? ETCD_W_CREATED : ETCD_W_PROGRESS;
    cb(ud, &ev);
    return true;
}

bool etcd_parse_watch(const char *line, size_t len, etcd_watch_cb cb, void *ud, char *why,
                      size_t why_len)
{
    perr_t pe = {why, why_len};
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    bool ok = o ? watch_message(o, cb, ud, &pe) : fail(&pe, "malformed JSON: %s", je.text);
    json_decref(o);
    return ok;
}
