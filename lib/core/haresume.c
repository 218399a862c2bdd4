/* haresume.c - see haresume.h. */
#include "haresume.h"

#include <stdio.h>
#include <string.h>

static const char *str_of(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int haresume_terminal(const char *type)
{
    return type && (strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
                    strcmp(type, "aborted") == 0);
}

const char *haresume_str(haresume_t r)
{
    switch (r) {
    case HARESUME_OPEN: return "open";
    case HARESUME_BAD: return "bad";
    case HARESUME_NONE: break;
    }
    return "none";
}

/* The record's fields that the journal-like records need, checked. */
static int check(const json_t *rec, char *why, size_t len)
{
    const char *kind = str_of(rec, "kind");
    if (!json_is_object(rec)) {
        snprintf(why, len, "the record is not a JSON object");
        return 0;
    }
    if (!str_of(rec, "op") || !str_of(rec, "type")) {
        snprintf(why, len, "the record has no \"op\" or no \"type\"");
        return 0;
    }
    if (haresume_terminal(str_of(rec, "type")))
        return 1;
    if (strcmp(str_of(rec, "type"), "step") != 0) {
        snprintf(why, len, "the record's type \"%s\" is not known", str_of(rec, "type"));
        return 0;
    }
    if (!kind || (strcmp(kind, "failover") != 0 && strcmp(kind, "switchover") != 0)) {
        snprintf(why, len, "the record's kind is not failover or switchover");
        return 0;
    }
    const json_t *before = json_object_get(rec, "before");
    size_t i;
    const json_t *s;
    if (!str_of(rec, "step") || (before && !json_is_array(before))) {
        snprintf(why, len, "the record has no \"step\", or its \"before\" is not a list");
        return 0;
    }
    json_array_foreach(before, i, s)
    {
        if (!json_is_string(s)) {
            snprintf(why, len, "the record's \"before\" holds a non-text entry");
            return 0;
        }
    }
    return 1;
}

static json_t *rec_of(const json_t *rec, const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:O?}", "type", type, "op", str_of(rec, "op"), "kind",
                     str_of(rec, "kind"), "time", json_object_get(rec, "at_ms"));
}

static json_t *records_of(const json_t *rec)
{
    json_t *out = json_array();
    json_t *begin = rec_of(rec, "begin");
    json_object_set_new(begin, "automatic", json_true());
    if (str_of(rec, "old_primary"))
        json_object_set_new(begin, "old_primary", json_string(str_of(rec, "old_primary")));
    if (str_of(rec, "policy"))
        json_object_set_new(begin, "policy", json_string(str_of(rec, "policy")));
    json_array_append_new(out, begin);
    if (strcmp(str_of(rec, "kind"), "failover") == 0 && str_of(rec, "candidate")) {
        json_t *e = rec_of(rec, "elect");
        json_object_set_new(e, "chosen", json_string(str_of(rec, "candidate")));
        json_array_append_new(out, e);
    }
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rec, "before"), i, s)
    {
        json_t *d = rec_of(rec, "step_done");
        json_object_set(d, "step", s);
        json_array_append_new(out, d);
    }
    json_t *last = rec_of(rec, "step");
    json_object_set(last, "step", json_object_get(rec, "step"));
    json_array_append_new(out, last);
    return out;
}

haresume_t haresume_read(const char *text, json_t **records, json_t **from, char *why,
                         size_t len)
{
    *records = NULL;
    *from = NULL;
    if (!text || !text[0]) {
        snprintf(why, len, "no operation was recorded");
        return HARESUME_NONE;
    }
    json_error_t err;
    json_t *rec = json_loads(text, 0, &err);
    if (!rec) {
        snprintf(why, len, "the record is not JSON: %s", err.text);
        return HARESUME_BAD;
    }
    if (!check(rec, why, len)) {
        json_decref(rec);
        return HARESUME_BAD;
    }
    if (haresume_terminal(str_of(rec, "type"))) {
        snprintf(why, len, "operation %s ended (%s)", str_of(rec, "op"), str_of(rec, "type"));
        json_decref(rec);
        return HARESUME_NONE;
    }
    snprintf(why, len, "%s %s is open at step %s", str_of(rec, "kind"), str_of(rec, "op"),
             str_of(rec, "step"));
    *records = records_of(rec);
    *from = rec;
    return HARESUME_OPEN;
}

int haresume_refusal_leaves_open(const plan_t *p, const step_t *s)
{
    if (!p || !s || (p->kind != PLAN_FAILOVER_PROMOTE && p->kind != PLAN_SWITCHOVER) ||
        s < p->steps || s >= p->steps + p->n)
        return 0;
    return (size_t)(s - p->steps) >= p->point_of_no_return;
}

haresume_local_t haresume_local_end(const json_t *records, const char **type)
{
    haresume_local_t r = HARESUME_LOCAL_NONE;
    const char *last = NULL;
    size_t i;
    const json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *t = str_of(rec, "type");
        if (haresume_terminal(t)) {
            last = t;
            r = HARESUME_LOCAL_ENDED;
        } else if (t && strcmp(t, HARESUME_LEFT_OPEN) == 0 && r == HARESUME_LOCAL_ENDED) {
            r = HARESUME_LOCAL_UNFINISHED;
        }
    }
    if (type)
        *type = last;
    return r;
}
