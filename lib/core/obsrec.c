/* obsrec.c - see obsrec.h. */
#include "obsrec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static const char *const err_names[] = {
    [OBS_ERR_NONE] = "none",   [OBS_ERR_CONNECT] = "connect",     [OBS_ERR_TIMEOUT] = "timeout",
    [OBS_ERR_AUTH] = "auth",   [OBS_ERR_PRIVILEGE] = "privilege", [OBS_ERR_QUERY] = "query",
    [OBS_ERR_OTHER] = "other",
};

const char *obs_err_str(obs_err_t e)
{
    return (unsigned)e < sizeof err_names / sizeof *err_names ? err_names[e] : "other";
}

bool obs_err_parse(const char *s, obs_err_t *out)
{
    for (size_t i = 0; s && i < sizeof err_names / sizeof *err_names; i++)
        if (strcmp(s, err_names[i]) == 0) {
            *out = (obs_err_t)i;
            return true;
        }
    return false;
}

void obsrec_gtid_hash(const char *canonical, char out[OBSREC_HASH_LEN + 1])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)(canonical ? canonical : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    snprintf(out, OBSREC_HASH_LEN + 1, "%016llx", (unsigned long long)h);
}

const obsrec_node_t *obsrec_node(const obsrec_t *r, const char *name)
{
    for (size_t i = 0; name && i < r->n_nodes; i++)
        if (strcmp(r->nodes[i].name, name) == 0)
            return &r->nodes[i];
    return NULL;
}

void obsrec_free(obsrec_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_nodes; i++) {
        free(r->nodes[i].name);
        free(r->nodes[i].source);
    }
    free(r->nodes);
    free(r->manager);
    free(r->zone);
    free(r->cluster);
    free(r->primary);
    memset(r, 0, sizeof *r);
}

/* ---- encoding ---- */

/* Unknown and empty values are left out (the decoder reads an absent member
 * as null), which keeps records small: an encoding is never longer than the
 * record it was decoded from. */
static void set_str(json_t *j, const char *key, const char *s)
{
    if (s && *s)
        json_object_set_new(j, key, json_string(s));
}

static json_t *node_to_json(const obsrec_node_t *n)
{
    json_t *j = json_object();
    set_str(j, "name", n->name);
    json_object_set_new(j, "reachable", json_boolean(n->reachable));
    json_object_set_new(j, "since_ms", json_integer((json_int_t)n->since_ms));
    if (n->error != OBS_ERR_NONE)
        json_object_set_new(j, "error", json_string(obs_err_str(n->error)));
    if (n->io != IO_UNKNOWN)
        json_object_set_new(j, "io", json_string(io_state_str(n->io)));
    if (n->sql >= 0)
        json_object_set_new(j, "sql", json_boolean(n->sql));
    set_str(j, "source", n->source);
    if (n->gtid_hash[0])
        json_object_set_new(j, "gtid", json_pack("{s:s, s:I}", "hash", n->gtid_hash, "count",
                                                 (json_int_t)n->gtid_count));
    if (n->lag_ms >= 0)
        json_object_set_new(j, "lag_ms", json_integer(n->lag_ms));
    return j;
}

json_t *obsrec_to_json(const obsrec_t *r)
{
    json_t *nodes = json_array();
    for (size_t i = 0; i < r->n_nodes; i++)
        json_array_append_new(nodes, node_to_json(&r->nodes[i]));
    json_t *j = json_object();
    json_object_set_new(j, "v", json_integer(r->version ? r->version : OBSREC_VERSION));
    set_str(j, "manager", r->manager);
    set_str(j, "zone", r->zone);
    set_str(j, "cluster", r->cluster);
    json_object_set_new(j, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(j, "published_at", json_integer((json_int_t)r->published_at));
    set_str(j, "primary", r->primary);
    json_object_set_new(j, "nodes", nodes);
    return j;
}

char *obsrec_encode(const obsrec_t *r, char *err, size_t err_len)
{
    json_t *j = obsrec_to_json(r);
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) {
        snprintf(err, err_len, "the observation record can't be written as JSON");
        return NULL;
    }
    /* Whatever the decoder would refuse is refused here, where the cause is. */
    obsrec_t back;
    if (!obsrec_decode(text, strlen(text), &back, err, err_len)) {
        free(text);
        return NULL;
    }
    obsrec_free(&back);
    return text;
}

/* ---- decoding ---- */


/* What a string field may hold. */
typedef enum {
    TEXT_ID,   /* 1..OBSREC_ID_MAX of [A-Za-z0-9._:-]: it names etcd keys */
    TEXT_ZONE, /* the same, or empty */
    TEXT_NAME, /* 1..OBSREC_NAME_MAX bytes, no control characters */
} text_kind_t;

static bool text_ok(const char *s, text_kind_t kind)
{
    size_t n = strlen(s), max = kind == TEXT_NAME ? OBSREC_NAME_MAX : OBSREC_ID_MAX;
    if (n > max || (n == 0 && kind != TEXT_ZONE))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (kind == TEXT_NAME ? (*p < 0x20 || *p == 0x7f)
                              : !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                                  (*p >= '0' && *p <= '9') || strchr("._:-", *p)))
            return false;
    }
    return true;
}

static const char *text_rule(text_kind_t kind)
{
    return kind == TEXT_NAME ? "1 to 255 bytes without control characters"
           : kind == TEXT_ID ? "1 to 64 characters of A-Z a-z 0-9 . _ : -"
                             : "up to 64 characters of A-Z a-z 0-9 . _ : -";
}

/* A string member: *out is a copy, or NULL when it is absent or null and
 * that is allowed (nullable). where names the object for the error. */
static bool take_text(const json_t *o, const char *key, text_kind_t kind, bool nullable, char **out,
                      const char *where, char *err, size_t len)
{
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (nullable)
            return true;
        return fail_msg(err, len, "%s%s is missing", where, key);
    }
    if (!json_is_string(v))
        return fail_msg(err, len, "%s%s must be a string", where, key);
    if (!text_ok(json_string_value(v), kind))
        return fail_msg(err, len, "%s%s must be %s", where, key, text_rule(kind));
    *out = xstrdup(json_string_value(v));
    return true;
}

/* A non-negative integer member; when nullable, absent or null gives *is_null. */
static bool take_uint(const json_t *o, const char *key, bool nullable, uint64_t *out, bool *is_null,
                      const char *where, char *err, size_t len)
{
    const json_t *v = json_object_get(o, key);
    *out = 0;
    if (is_null)
        *is_null = false;
    if (!v || json_is_null(v)) {
        if (!nullable)
            return fail_msg(err, len, "%s%s is missing", where, key);
        if (is_null)
            *is_null = true;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail_msg(err, len, "%s%s must be a non-negative integer", where, key);
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static bool take_gtid(const json_t *o, obsrec_node_t *n, const char *where, char *err, size_t len)
{
    const json_t *g = json_object_get(o, "gtid");
    if (!g || json_is_null(g))
        return true;
    if (!json_is_object(g))
        return fail_msg(err, len, "%sgtid must be an object or null", where);
    const json_t *h = json_object_get(g, "hash");
    const char *hs = json_is_string(h) ? json_string_value(h) : "";
    bool hex = strlen(hs) == OBSREC_HASH_LEN;
    for (const char *p = hs; hex && *p; p++)
        hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
    if (!hex)
        return fail_msg(err, len, "%sgtid.hash must be %d lower-case hex digits", where, OBSREC_HASH_LEN);
    memcpy(n->gtid_hash, hs, OBSREC_HASH_LEN + 1);
    char w[OBSREC_NAME_MAX + 64];
    snprintf(w, sizeof w, "%sgtid.", where);
    return take_uint(g, "count", false, &n->gtid_count, NULL, w, err, len);
}

/* The replication fields: tolerant of values a newer version may add (an
 * unknown IO state reads as unknown), strict about types. */
static bool take_replication(const json_t *o, obsrec_node_t *n, const char *where, char *err,
                             size_t len)
{
    const json_t *io = json_object_get(o, "io");
    if (io && !json_is_null(io) && !json_is_string(io))
        return fail_msg(err, len, "%sio must be a string or null", where);
    n->io = json_is_string(io) ? io_state_parse(json_string_value(io)) : IO_UNKNOWN;
    const json_t *sql = json_object_get(o, "sql");
    if (sql && !json_is_null(sql) && !json_is_boolean(sql))
        return fail_msg(err, len, "%ssql must be true, false or null", where);
    n->sql = json_is_boolean(sql) ? json_is_true(sql) : -1;
    if (!take_text(o, "source", TEXT_NAME, true, &n->source, where, err, len))
        return false;
    uint64_t lag;
    bool lag_null;
    if (!take_uint(o, "lag_ms", true, &lag, &lag_null, where, err, len))
        return false;
    n->lag_ms = lag_null ? -1 : (int64_t)lag;
    return take_gtid(o, n, where, err, len);
}

static bool take_node(const json_t *o, size_t i, obsrec_node_t *n, char *err, size_t len)
{
    char where[OBSREC_NAME_MAX + 32];
    snprintf(where, sizeof where, "nodes[%zu]: ", i);
    if (!json_is_object(o))
        return fail_msg(err, len, "%sa node must be an object", where);
    if (!take_text(o, "name", TEXT_NAME, false, &n->name, where, err, len))
        return false;
    snprintf(where, sizeof where, "node %s: ", n->name);
    const json_t *r = json_object_get(o, "reachable");
    if (!json_is_boolean(r))
        return fail_msg(err, len, "%sreachable must be true or false", where);
    n->reachable = json_is_true(r);
    if (!take_uint(o, "since_ms", false, &n->since_ms, NULL, where, err, len))
        return false;
    const json_t *e = json_object_get(o, "error");
    n->error = OBS_ERR_NONE;
    if (e && !json_is_null(e)) {
        if (!json_is_string(e))
            return fail_msg(err, len, "%serror must be a string or null", where);
        if (!obs_err_parse(json_string_value(e), &n->error))
            n->error = OBS_ERR_OTHER; /* a class a newer version knows */
    }
    if (n->reachable && n->error != OBS_ERR_NONE)
        return fail_msg(err, len, "%sa reachable node can't have an error", where);
    if (!n->reachable && n->error == OBS_ERR_NONE)
        return fail_msg(err, len, "%san unreachable node needs an error class", where);
    return take_replication(o, n, where, err, len);
}

static bool take_nodes(const json_t *j, obsrec_t *out, char *err, size_t len)
{
    const json_t *nodes = json_object_get(j, "nodes");
    if (!json_is_array(nodes))
        return fail_msg(err, len, "nodes must be an array");
    if (json_array_size(nodes) > OBSREC_MAX_NODES)
        return fail_msg(err, len, "%zu nodes: at most %d", json_array_size(nodes), OBSREC_MAX_NODES);
    out->nodes = xcalloc(json_array_size(nodes) + 1, sizeof *out->nodes);
    for (size_t i = 0; i < json_array_size(nodes); i++) {
        out->n_nodes = i + 1;
        if (!take_node(json_array_get(nodes, i), i, &out->nodes[i], err, len))
            return false;
        for (size_t k = 0; k < i; k++)
            if (strcmp(out->nodes[k].name, out->nodes[i].name) == 0)
                return fail_msg(err, len, "node %s is listed twice", out->nodes[i].name);
    }
    return true;
}

static bool take_record(const json_t *j, obsrec_t *out, char *err, size_t len)
{
    if (!json_is_object(j))
        return fail_msg(err, len, "the record must be a JSON object");
    const json_t *v = json_object_get(j, "v");
    if (!json_is_integer(v))
        return fail_msg(err, len, "v (the record's version) must be an integer");
    if (json_integer_value(v) != OBSREC_VERSION)
        return fail_msg(err, len, "version %lld is not supported (this failoverd reads version %d)",
                    (long long)json_integer_value(v), OBSREC_VERSION);
    out->version = OBSREC_VERSION;
    if (!take_text(j, "manager", TEXT_ID, false, &out->manager, "", err, len) ||
        !take_text(j, "zone", TEXT_ZONE, true, &out->zone, "", err, len) ||
        !take_text(j, "cluster", TEXT_NAME, false, &out->cluster, "", err, len) ||
        !take_uint(j, "seq", false, &out->seq, NULL, "", err, len) ||
        !take_uint(j, "published_at", false, &out->published_at, NULL, "", err, len) ||
        !take_text(j, "primary", TEXT_NAME, true, &out->primary, "", err, len))
        return false;
    if (!out->zone)
        out->zone = xstrdup("");
    return take_nodes(j, out, err, len);
}

bool obsrec_from_json(const json_t *j, obsrec_t *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (take_record(j, out, err, err_len))
        return true;
    obsrec_free(out);
    return false;
}

bool obsrec_decode(const char *text, size_t len, obsrec_t *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!text || len == 0)
        return fail_msg(err, err_len, "the record is empty");
    if (len > OBSREC_MAX_BYTES)
        return fail_msg(err, err_len, "the record is %zu bytes: at most %d", len, OBSREC_MAX_BYTES);
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        return fail_msg(err, err_len, "the record is not valid JSON: %s (at byte %d)", e.text,
                    e.position);
    }
    bool ok = obsrec_from_json(j, out, err, err_len);
    json_decref(j);
    return ok;
}
