/* hastate.c - see hastate.h. */
#include "hastate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

void hastate_free(hastate_t *s)
{
    free(s->cluster);
    free(s->paused_by);
    free(s->held);
    free(s->held_by);
    free(s->last_op);
    free(s->last_old);
    free(s->last_new);
    free(s->manager);
    memset(s, 0, sizeof *s);
}

void hastate_copy(hastate_t *d, const hastate_t *s)
{
    *d = *s;
    d->cluster = dup_or_null(s->cluster);
    d->paused_by = dup_or_null(s->paused_by);
    d->held = dup_or_null(s->held);
    d->held_by = dup_or_null(s->held_by);
    d->last_op = dup_or_null(s->last_op);
    d->last_old = dup_or_null(s->last_old);
    d->last_new = dup_or_null(s->last_new);
    d->manager = dup_or_null(s->manager);
}

json_t *hastate_to_json(const hastate_t *s)
{
    json_t *held = s->held ? json_pack("{s:s, s:s?, s:I}", "reason", s->held, "by", s->held_by,
                                       "at_ms", (json_int_t)s->held_at_ms)
                           : json_null();
    json_t *last = s->has_last
                       ? json_pack("{s:s, s:I, s:s?, s:s?, s:b}", "op", s->last_op ? s->last_op : "",
                                   "ended_ms", (json_int_t)s->last_ended_ms, "old_primary",
                                   s->last_old, "new_primary", s->last_new, "acked",
                                   s->last_acked)
                       : json_null();
    json_t *j = json_pack("{s:i, s:s?, s:b, s:s?, s:I, s:o, s:o, s:I}", "v", HASTATE_VERSION,
                          "cluster", s->cluster, "paused", s->paused, "paused_by", s->paused_by,
                          "paused_at_ms", (json_int_t)s->paused_at_ms, "held", held,
                          "last_failover", last, "written_ms", (json_int_t)s->written_ms);
    if (s->manager)
        json_object_set_new(j, "manager", json_string(s->manager));
    if (s->term)
        json_object_set_new(j, "term", json_integer(s->term));
    return j;
}

/* ---- decoding ---------------------------------------------------------------------- */

typedef struct {
    char *why;
    size_t len;
    bool bad;
} err_t;

static void fail(err_t *e, const char *what, const char *member)
{
    if (!e->bad)
        snprintf(e->why, e->len, "%s%s%s", member ? member : "", member ? ": " : "", what);
    e->bad = true;
}

/* An optional text member: NULL when absent or null. */
static char *opt_str(const json_t *o, const char *key, const char *path, err_t *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        char m[64];
        snprintf(m, sizeof m, "%s%s", path, key);
        fail(e, "must be text", m);
        return NULL;
    }
    return xstrdup(json_string_value(v));
}

/* An optional non-negative integer member: 0 when absent. */
static uint64_t opt_ms(const json_t *o, const char *key, const char *path, err_t *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        char m[64];
        snprintf(m, sizeof m, "%s%s", path, key);
        fail(e, "must be a non-negative integer", m);
        return 0;
    }
    return (uint64_t)json_integer_value(v);
}

static bool opt_bool(const json_t *o, const char *key, const char *path, err_t *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v)
        return false;
    if (!json_is_boolean(v)) {
        char m[64];
        snprintf(m, sizeof m, "%s%s", path, key);
        fail(e, "must be true or false", m);
        return false;
    }
    return json_is_true(v);
}

static void parse_held(const json_t *h, hastate_t *s, err_t *e)
{
    if (!h || json_is_null(h))
        return;
    if (!json_is_object(h)) {
        fail(e, "must be an object or null", "held");
        return;
    }
    s->held = opt_str(h, "reason", "held.", e);
    if (!s->held && !e->bad)
        fail(e, "a hold must say why", "held.reason");
    s->held_by = opt_str(h, "by", "held.", e);
    s->held_at_ms = opt_ms(h, "at_ms", "held.", e);
}

static void parse_last(const json_t *l, hastate_t *s, err_t *e)
{
    if (!l || json_is_null(l))
        return;
    if (!json_is_object(l)) {
        fail(e, "must be an object or null", "last_failover");
        return;
    }
    s->has_last = true;
    s->last_op = opt_str(l, "op", "last_failover.", e);
    s->last_ended_ms = opt_ms(l, "ended_ms", "last_failover.", e);
    if (!e->bad && (!s->last_op || !s->last_op[0] || !s->last_ended_ms))
        fail(e, "needs an \"op\" and an \"ended_ms\"", "last_failover");
    s->last_old = opt_str(l, "old_primary", "last_failover.", e);
    s->last_new = opt_str(l, "new_primary", "last_failover.", e);
    s->last_acked = opt_bool(l, "acked", "last_failover.", e);
}

static void parse_members(const json_t *j, hastate_t *s, err_t *e)
{
    const json_t *v = json_object_get(j, "v");
    if (!json_is_integer(v) || json_integer_value(v) != HASTATE_VERSION) {
        fail(e, "the record's version is not 1", NULL);
        return;
    }
    s->cluster = opt_str(j, "cluster", "", e);
    const json_t *p = json_object_get(j, "paused");
    if (!json_is_boolean(p)) {
        fail(e, "must be true or false", "paused");
        return;
    }
    s->paused = json_is_true(p);
    s->paused_by = opt_str(j, "paused_by", "", e);
    s->paused_at_ms = opt_ms(j, "paused_at_ms", "", e);
    parse_held(json_object_get(j, "held"), s, e);
    parse_last(json_object_get(j, "last_failover"), s, e);
    s->written_ms = opt_ms(j, "written_ms", "", e);
    s->term = (int64_t)opt_ms(j, "term", "", e);
    s->manager = opt_str(j, "manager", "", e);
}

bool hastate_parse(const char *text, hastate_t *s, char *why, size_t len)
{
    memset(s, 0, sizeof *s);
    err_t e = {why, len, false};
    if (!text) {
        fail(&e, "there is no record", NULL);
        return false;
    }
    size_t n = strlen(text);
    if (n > HASTATE_MAX_BYTES) {
        snprintf(why, len, "the record is larger than %d bytes", HASTATE_MAX_BYTES);
        return false;
    }
    json_error_t je;
    json_t *j = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(why, len, "the record is not valid JSON: %s", je.text);
        return false;
    }
    if (!json_is_object(j))
        fail(&e, "the record is not a JSON object", NULL);
    else
        parse_members(j, s, &e);
    json_decref(j);
    if (e.bad)
        hastate_free(s);
    return !e.bad;
}

uint64_t hastate_blocked_until(const hastate_t *s, uint64_t block_ms)
{
    if (!s->has_last || s->last_acked || !s->last_ended_ms)
        return 0;
    return s->last_ended_ms + block_ms;
}
