/* quorum.c - see quorum.h for the rules. */
#include "quorum.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jtext.h"


/* snprintf for sentences that may be cut at the buffer's end. */
static void put(char *b, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *b, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, n, fmt, ap);
    va_end(ap);
}

const char *vote_str(vote_t v)
{
    switch (v) {
    case VOTE_UNREACHABLE: return "unreachable";
    case VOTE_UNSURE: return "unsure";
    case VOTE_REACHABLE: return "reachable";
    case VOTE_STALE: return "stale";
    case VOTE_MISSING: return "missing";
    }
    return "?";
}

bool quorum_rule_parse(const char *s, quorum_rule_t *out, char *err, size_t err_len)
{
    if (s && strcmp(s, "majority") == 0) {
        out->k = 0;
        return true;
    }
    char *end = NULL;
    errno = 0;
    unsigned long k = s && *s >= '0' && *s <= '9' ? strtoul(s, &end, 10) : 0;
    if (!s || !end || *end || errno || k < 1 || k > QUORUM_MAX_MANAGERS)
        return fail_msg(err, err_len,
                    "quorum '%s' must be \"majority\" or a number of managers from 1 to %d",
                    s ? s : "", QUORUM_MAX_MANAGERS);
    out->k = (unsigned)k;
    return true;
}

bool quorum_rule_check(quorum_rule_t rule, size_t n_managers, char *err, size_t err_len)
{
    if (rule.k > n_managers)
        return fail_msg(err, err_len, "quorum %u is more than the %zu managers configured", rule.k,
                    n_managers);
    return true;
}

unsigned quorum_needed(quorum_rule_t rule, size_t n_managers)
{
    return rule.k ? rule.k : (unsigned)(n_managers / 2 + 1);
}

uint64_t quorum_seen_note(quorum_seen_t *s, uint64_t revision, uint64_t received_at)
{
    if (revision > s->revision) {
        s->revision = revision;
        s->first_seen = received_at;
    }
    return s->first_seen;
}

static bool check_input(const quorum_input_t *in, char *err, size_t len)
{
    if (in->n_managers == 0 || in->n_managers > QUORUM_MAX_MANAGERS)
        return fail_msg(err, len, "%zu managers: there must be 1 to %d", in->n_managers,
                    QUORUM_MAX_MANAGERS);
    bool self = false;
    for (size_t i = 0; i < in->n_managers; i++) {
        const char *id = in->managers[i];
        if (!id || !*id || strlen(id) > OBSREC_ID_MAX)
            return fail_msg(err, len, "manager %zu has no valid id", i + 1);
        for (size_t k = 0; k < i; k++)
            if (strcmp(in->managers[k], id) == 0)
                return fail_msg(err, len, "manager %s is listed twice", id);
        self = self || (in->self && strcmp(in->self, id) == 0);
    }
    if (!self)
        return fail_msg(err, len, "this manager (%s) is not among the managers",
                    in->self ? in->self : "no id");
    return quorum_rule_check(in->rule, in->n_managers, err, len);
}

/* How long for people: "850 ms", "4.2 s". */
static void fmt_ms(char *b, size_t n, uint64_t ms)
{
    if (ms < 1000)
        snprintf(b, n, "%llu ms", (unsigned long long)ms);
    else
        snprintf(b, n, "%.1f s", (double)ms / 1000.0);
}

/* A view of the primary that is fresh: reachable, unreachable or unsure. */
static void judge_view(quorum_vote_t *v, const quorum_input_t *in, bool reachable, uint64_t state_ms,
                       obs_err_t error)
{
    char d[32], da[32];
    fmt_ms(d, sizeof d, state_ms);
    fmt_ms(da, sizeof da, in->down_after);
    v->state_ms = (int64_t)state_ms;
    if (reachable) {
        v->vote = VOTE_REACHABLE;
        put(v->why, sizeof v->why, "reaches %s", in->primary);
    } else if (state_ms >= in->down_after) {
        v->vote = VOTE_UNREACHABLE;
        put(v->why, sizeof v->why, "can't reach %s for %s (%s)", in->primary, d,
                 obs_err_str(error));
    } else {
        v->vote = VOTE_UNSURE;
        put(v->why, sizeof v->why, "can't reach %s for only %s (down_after %s)", in->primary,
                 d, da);
    }
}

static void judge_self(quorum_vote_t *v, const quorum_input_t *in)
{
    const quorum_self_t *s = &in->self_view;
    v->self = true;
    v->age_ms = 0;
    put(v->zone, sizeof v->zone, "%s", s->zone ? s->zone : "");
    if (!s->probed) {
        v->vote = VOTE_MISSING;
        put(v->why, sizeof v->why, "has not probed %s yet", in->primary);
        return;
    }
    judge_view(v, in, s->reachable, s->reachable ? 0 : s->unreached_ms,
               s->error == OBS_ERR_NONE ? OBS_ERR_OTHER : s->error);
}

/* The record filed under id, the latest to arrive when there are several. */
static const quorum_obs_t *record_of(const quorum_input_t *in, const char *id)
{
    const quorum_obs_t *best = NULL;
    for (size_t i = 0; i < in->n_obs; i++) {
        const quorum_obs_t *o = &in->obs[i];
        if (o->manager && strcmp(o->manager, id) == 0 &&
            (!best || o->received_at > best->received_at))
            best = o;
    }
    return best;
}

static void judge_peer(quorum_vote_t *v, const quorum_input_t *in, uint64_t now)
{
    const quorum_obs_t *o = record_of(in, v->manager);
    v->vote = VOTE_MISSING;
    if (!o) {
        put(v->why, sizeof v->why, "no record");
        return;
    }
    uint64_t age = now > o->received_at ? now - o->received_at : 0;
    v->age_ms = (int64_t)age;
    const obsrec_t *r = o->rec;
    if (!r) {
        put(v->why, sizeof v->why, "record rejected: %s", o->rejected ? o->rejected : "?");
        return;
    }
    put(v->zone, sizeof v->zone, "%s", r->zone ? r->zone : "");
    if (strcmp(r->manager, v->manager) != 0) {
        put(v->why, sizeof v->why, "the record names manager %s", r->manager);
        return;
    }
    if (in->cluster && strcmp(r->cluster, in->cluster) != 0) {
        put(v->why, sizeof v->why, "the record is about cluster %.64s", r->cluster);
        return;
    }
    char a[32], f[32];
    fmt_ms(a, sizeof a, age);
    fmt_ms(f, sizeof f, in->fresh_ms);
    if (age > in->fresh_ms) {
        v->vote = VOTE_STALE;
        put(v->why, sizeof v->why, "its latest record arrived %s ago (fresh within %s)", a, f);
        return;
    }
    const obsrec_node_t *n = obsrec_node(r, in->primary);
    if (!n) {
        put(v->why, sizeof v->why, "its record has no view of %s", in->primary);
        return;
    }
    judge_view(v, in, n->reachable, n->since_ms, n->error);
}

/* The ids of the votes of kind k, as "m1, m2" (at most the buffer). */
static void names_of(const quorum_result_t *r, vote_t k, char *b, size_t n)
{
    size_t used = 0;
    b[0] = '\0';
    for (size_t i = 0; i < r->n_votes && used < n; i++)
        if (r->votes[i].vote == k)
            used += (size_t)snprintf(b + used, n - used, "%s%s", used ? ", " : "",
                                     r->votes[i].manager);
}

static quorum_verdict_t decide(const quorum_result_t *r, const quorum_vote_t *self)
{
    const unsigned *c = r->count;
    unsigned fresh = c[VOTE_UNREACHABLE] + c[VOTE_UNSURE] + c[VOTE_REACHABLE];
    /* A manager that reaches the primary never calls it dead, whatever the
     * others say (its detector would not either): with quorum 1 this is the
     * single manager's rule. */
    if (self->vote == VOTE_REACHABLE || self->vote == VOTE_UNSURE)
        return QUORUM_REACHABLE;
    if (c[VOTE_UNREACHABLE] >= r->needed)
        return QUORUM_DEAD_CONFIRMED;
    /* Peers with a fresh view: all fresh views but this manager's own. */
    unsigned peers_fresh = fresh - (self->vote == VOTE_UNREACHABLE ? 1 : 0);
    if (self->vote == VOTE_UNREACHABLE && c[VOTE_REACHABLE] * 2 > peers_fresh)
        return QUORUM_PARTITIONED;
    if (fresh < r->needed)
        return QUORUM_NO_OBSERVERS;
    return QUORUM_NOT_CONFIRMED;
}

static void explain(quorum_result_t *r, const quorum_vote_t *self)
{
    char down[160], up[160], old[160], none[160];
    names_of(r, VOTE_UNREACHABLE, down, sizeof down);
    names_of(r, VOTE_REACHABLE, up, sizeof up);
    names_of(r, VOTE_STALE, old, sizeof old);
    names_of(r, VOTE_MISSING, none, sizeof none);
    unsigned fresh = r->count[VOTE_UNREACHABLE] + r->count[VOTE_UNSURE] + r->count[VOTE_REACHABLE];
    const char *p = r->primary;
    switch (r->verdict) {
    case QUORUM_NO_PRIMARY:
        put(r->why, sizeof r->why, "no primary to judge");
        break;
    case QUORUM_DEAD_CONFIRMED:
        put(r->why, sizeof r->why, "%u of %zu managers can't reach %s (quorum %u): %s", r->count[VOTE_UNREACHABLE],
                 r->n_managers, p, r->needed, down);
        break;
    case QUORUM_REACHABLE:
        put(r->why, sizeof r->why, "this manager (%s) %s", self->manager, self->why);
        break;
    case QUORUM_PARTITIONED:
        put(r->why, sizeof r->why, "this manager (%s) can't reach %s, but %s %s it: it is cut "
                 "off from the primary; no failover", self->manager, p, up,
                 r->count[VOTE_REACHABLE] == 1 ? "reaches" : "reach");
        break;
    case QUORUM_NO_OBSERVERS:
        put(r->why, sizeof r->why, "only %u of %zu managers have a fresh view of %s (quorum %u)%s%s%s%s",
                 fresh, r->n_managers, p, r->needed, *old ? "; stale: " : "", old,
                 *none ? "; missing: " : "", none);
        break;
    case QUORUM_NOT_CONFIRMED:
        put(r->why, sizeof r->why, "%u of %zu managers can't reach %s (quorum %u)%s%s%s%s",
                 r->count[VOTE_UNREACHABLE], r->n_managers, p, r->needed,
                 *down ? ": " : "", down, *up ? "; reach it: " : "", up);
        break;
    }
}

bool quorum_evaluate(const quorum_input_t *in, uint64_t now, quorum_result_t *out, char *err,
                     size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (!check_input(in, err, err_len))
        return false;
    out->n_managers = in->n_managers;
    out->needed = quorum_needed(in->rule, in->n_managers);
    put(out->primary, sizeof out->primary, "%s", in->primary ? in->primary : "");
    const quorum_vote_t *self = NULL;
    for (size_t i = 0; i < in->n_managers; i++) {
        quorum_vote_t *v = &out->votes[out->n_votes++];
        put(v->manager, sizeof v->manager, "%s", in->managers[i]);
        v->age_ms = -1;
        v->state_ms = -1;
        v->self = strcmp(in->managers[i], in->self) == 0;
        if (!in->primary) {
            v->vote = VOTE_MISSING;
            put(v->why, sizeof v->why, "no primary to judge");
        } else if (v->self) {
            judge_self(v, in);
        } else {
            judge_peer(v, in, now);
        }
        if (v->self)
            self = v;
        out->count[v->vote]++;
    }
    out->verdict = in->primary ? decide(out, self) : QUORUM_NO_PRIMARY;
    explain(out, self);
    return true;
}

static json_t *vote_json(const quorum_vote_t *v)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(v->manager));
    json_object_set_new(j, "zone", json_string(v->zone));
    json_object_set_new(j, "self", json_boolean(v->self));
    json_object_set_new(j, "vote", json_string(vote_str(v->vote)));
    json_object_set_new(j, "age_ms", v->age_ms >= 0 ? json_integer(v->age_ms) : json_null());
    json_object_set_new(j, "state_ms", v->state_ms >= 0 ? json_integer(v->state_ms) : json_null());
    buf_t b = BUF_INIT;
    jtext_repair(&b, v->why);
    json_object_set_new(j, "why", json_string(buf_str(&b)));
    buf_free(&b);
    return j;
}

json_t *quorum_json(const quorum_result_t *r)
{
    json_t *managers = json_array();
    for (size_t i = 0; i < r->n_votes; i++)
        json_array_append_new(managers, vote_json(&r->votes[i]));
    json_t *j = json_object();
    json_object_set_new(j, "verdict", json_string(quorum_verdict_str(r->verdict)));
    buf_t b = BUF_INIT;
    jtext_repair(&b, r->why);
    json_object_set_new(j, "reason", json_string(buf_str(&b)));
    buf_free(&b);
    json_object_set_new(j, "primary", r->primary[0] ? jtext(r->primary) : json_null());
    json_object_set_new(j, "quorum", json_integer(r->needed));
    json_object_set_new(j, "managers_configured", json_integer((json_int_t)r->n_managers));
    json_t *counts = json_object();
    for (int k = 0; k < VOTE_KINDS; k++)
        json_object_set_new(counts, vote_str((vote_t)k), json_integer(r->count[k]));
    json_object_set_new(j, "votes", counts);
    json_object_set_new(j, "managers", managers);
    return j;
}
