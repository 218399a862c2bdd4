/* coord_guard.c - see coord.h: the writes only the leader of a term may make.
 *
 * Each is one txn whose compares say "the leader key was created at our term
 * and holds our value"; etcd applies the put only if both hold, atomically.  A
 * step guard renews the lease first, so the step starts with as much validity
 * as the lease gives, and a mutating step's bound is cut to what is left. */
#include "coord_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "names.h"

/* A mutating step needs at least this much lease validity left to start. */
#define GUARD_MIN_LEFT_MS 100

struct guard_req {
    guard_req_t *next;
    coord_t *c;
    coord_answer_fn answer;
    void *token;
    uint64_t *timeout_ms;
    bool mutating;
    char *cluster, *key, *value, *step;
    uint64_t sent;
    /* Its etcd request (keepalive or txn) is out: the request's callback
     * gets g, so g is freed there, or with the coordination (coord_free)
     * when etcd is closed first and the callback never comes. */
    bool in_flight;
    bool answered; /* ended early (coord__fail_guards): the callback only frees it */
};

static void unlink_guard(coord_t *c, guard_req_t *g)
{
    for (guard_req_t **pp = &c->guards; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            return;
        }
}

static void guard_free(guard_req_t *g)
{
    free(g->cluster);
    free(g->key);
    free(g->value);
    free(g->step);
    free(g);
}

static void guard_end(guard_req_t *g, int outcome, const char *msg)
{
    coord_t *c = g->c;
    unlink_guard(c, g);
    if (outcome != 0)
        event_emit(LOG_LVL_ERROR, EV_COORD_GUARD_FAILED, g->cluster, NULL,
                   json_pack("{s:s, s:s, s:I, s:s}", "manager", c->id, "step", g->step, "term",
                             (json_int_t)c->term, "error", msg),
                   "step %s not started: %s", g->step, msg);
    g->answer(g->token, outcome, msg);
    if (g->in_flight) {
        g->answered = true;
        g->next = c->ended_guards;
        c->ended_guards = g;
        return;
    }
    guard_free(g);
}

/* The etcd answer to g's request: false when g had ended already (then it
 * is freed here, and the answer means nothing more). */
static bool guard_back(guard_req_t *g)
{
    g->in_flight = false;
    if (!g->answered)
        return true;
    coord_t *c = g->c;
    for (guard_req_t **pp = &c->ended_guards; *pp; pp = &(*pp)->next)
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    guard_free(g);
    return false;
}

void coord__free_ended_guards(coord_t *c)
{
    while (c->ended_guards) {
        guard_req_t *g = c->ended_guards;
        c->ended_guards = g->next;
        guard_free(g);
    }
}

void coord__fail_guards(coord_t *c, const char *why)
{
    while (c->guards)
        guard_end(c->guards, 1, why);
}

static void on_guard_txn(void *ud, const etcd_reply_t *r)
{
    guard_req_t *g = ud;
    if (!guard_back(g))
        return;
    coord_t *c = g->c;
    char msg[384];
    if (!r->ok) {
        snprintf(msg, sizeof msg, "etcd did not confirm term %lld: %s", (long long)c->term,
                 r->err);
        guard_end(g, 1, msg);
        return;
    }
    if (!r->succeeded) {
        snprintf(msg, sizeof msg, "the leader key no longer holds term %lld of manager %s: "
                                  "another manager leads",
                 (long long)c->term, c->id);
        coord__lost(c, COORD_FOLLOWER, msg);
        c->next_campaign = 0;
        guard_end(g, 1, msg);
        return;
    }
    uint64_t now = coord__now();
    uint64_t left = c->valid_until > now ? c->valid_until - now : 0;
    if (!coord__leading(c) || (g->mutating && left < GUARD_MIN_LEFT_MS)) {
        snprintf(msg, sizeof msg, "the leader lease has %llu ms of validity left",
                 (unsigned long long)left);
        guard_end(g, 1, msg);
        return;
    }
    if (g->mutating && g->timeout_ms && *g->timeout_ms > left) {
        log_info("step %s: bound cut from %llu to %llu ms, the lease validity left", g->step,
                 (unsigned long long)*g->timeout_ms, (unsigned long long)left);
        *g->timeout_ms = left;
    }
    guard_end(g, 0, NULL);
}

static void send_txn(guard_req_t *g)
{
    coord_t *c = g->c;
    etcd_cmp_t cmp[2] = {
        {.key = c->k_leader, .target = ETCD_CMP_CREATE, .create_revision = c->term},
        {.key = c->k_leader, .target = ETCD_CMP_VALUE, .value = c->my_value},
    };
    etcd_op_t op = {.key = g->key, .value = g->value, .lease = 0};
    g->in_flight = true;
    etcd_txn(c->e, cmp, 2, &op, 1, NULL, on_guard_txn, g);
}

static void on_guard_keepalive(void *ud, const etcd_reply_t *r)
{
    guard_req_t *g = ud;
    if (!guard_back(g))
        return;
    coord_t *c = g->c;
    if (r->ok && r->ttl > 0)
        coord__renewed(c, g->sent, r->ttl);
    if (!coord__leading(c)) {
        char msg[384];
        snprintf(msg, sizeof msg, "no valid leader lease (%s)",
                 r->ok ? (r->ttl > 0 ? "validity ran out" : "the lease expired") : r->err);
        guard_end(g, 1, msg);
        return;
    }
    send_txn(g);
}

static guard_req_t *guard_new(coord_t *c, const char *cluster, const char *what, json_t *record)
{
    guard_req_t *g = xcalloc(1, sizeof *g);
    g->c = c;
    g->cluster = xstrdup(cluster);
    g->step = xstrdup(what);
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/%s", c->prefix, cluster, strcmp(what, "primary") ? "failover" : "primary");
    g->key = buf_steal(&b);
    json_object_set_new(record, "term", json_integer(c->term));
    json_object_set_new(record, "manager", json_string(c->id));
    g->value = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(record);
    g->next = c->guards;
    c->guards = g;
    return g;
}

void coord_step_guard(coord_t *c, const char *cluster, json_t *record, bool mutating,
                      uint64_t *timeout_ms, coord_answer_fn answer, void *token)
{
    const char *step = json_string_value(json_object_get(record, "step"));
    guard_req_t *g = guard_new(c, cluster, step ? step : "?", record);
    g->answer = answer;
    g->token = token;
    g->timeout_ms = timeout_ms;
    g->mutating = mutating;
    if (!coord__leading(c)) {
        guard_end(g, 1, coord_why_not(c));
        return;
    }
    g->sent = coord__now();
    g->in_flight = true;
    etcd_lease_keepalive(c->e, c->lease, on_guard_keepalive, g);
}

/* ---- the published primary ---------------------------------------------------------- */

/* A failed publication is tried again at the next look. */
static void published(void *token, int outcome, const char *msg)
{
    guard_req_t *g = token;
    (void)msg;
    if (outcome != 0)
        json_object_del(g->c->published, g->cluster);
}

void coord_publish_primary(coord_t *c, const char *cluster, const char *host, int port)
{
    if (!c || !coord__leading(c))
        return;
    char addr[320];
    snprintf(addr, sizeof addr, "%s:%d", host, port);
    const char *was = json_string_value(json_object_get(c->published, cluster));
    if (was && strcmp(was, addr) == 0)
        return;
    json_object_set_new(c->published, cluster, json_string(addr));
    guard_req_t *g = guard_new(c, cluster, "primary",
                               json_pack("{s:s, s:i}", "host", host, "port", port));
    g->answer = published;
    g->token = g;
    log_notice("cluster %s: publishing the primary %s in etcd (term %lld)", cluster, addr,
               (long long)c->term);
    send_txn(g);
}
