/* foadmit.c - whether an operation may start, with what the daemon knows now:
 * the pure rules of admit.h, the start-up rule (startup.h), and an
 * operator's request (failover_request). */
#include "failover_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "coord.h"
#include "buf.h"
#include "durability.h"
#include "elect.h"
#include "event.h"
#include "log.h"
#include "rejoin.h"
#include "startup.h"
#include "tree.h"
#include "resume.h"

/* A primary that failoverd reaches, but that every replica following it has
 * lost (none has its IO thread connected to it): cut off from its replicas
 * only. A switchover can't move it (the candidate can't catch up), so an
 * operator may fail it over with --force; the fence then cuts off its client
 * sessions, whose commits wait for acknowledgements no replica can send. */
static bool replicas_lost_primary(const cluster_t *c)
{
    size_t following = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const observation_t *o = &c->nodes[i].last_ok;
        if ((int)i == c->primary || !c->nodes[i].up || !o->ok || !o->replica ||
            cluster_source_of(c, o) != c->primary)
            continue;
        if (o->io == IO_YES)
            return false;
        following++;
    }
    return following > 0;
}

/* Whether the primary's state is known: reached by this watch, or by the one
 * before a reload (startup.h). */
static bool primary_seen(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    return startup_primary_seen(c) || (f->seen_before && c->primary >= 0 &&
                                       strcmp(c->nodes[c->primary].name, f->seen_before) == 0);
}

void failover_primary_seen(failover_t *f, const char *node)
{
    free(f->seen_before);
    f->seen_before = node ? xstrdup(node) : NULL;
}

const char *failover_seen_primary(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    return primary_seen(f) ? c->nodes[c->primary].name : NULL;
}

/* The start-up rule (startup.h) for an automatic failover: true, with why,
 * when it must not start now. Under availability the grace's end is kept, and
 * look() reconsiders the dead primary then. */
static bool startup_held(failover_t *f, char *why, size_t len)
{
    cluster_t *c = monitor_cluster(f->m);
    uint64_t until = 0;
    /* The operator who acknowledged an interrupted operation has checked the
     * cluster: that confirms the failover it lets start. */
    startup_verdict_t v =
        startup_judge(primary_seen(f) || f->startup_confirmed, f->s.policy, f->watch_since,
                      f->s.startup_grace_ms, uv_now(f->loop), &until);
    f->startup_until = v == STARTUP_WAIT ? until : 0;
    const char *p = c->primary >= 0 ? c->nodes[c->primary].name : "the primary";
    if (v == STARTUP_REFUSE)
        snprintf(why, len,
                 "failoverd has not reached %s since it started watching the cluster: its last "
                 "GTID state is unknown, so a promotion could lose transactions only it had, and "
                 "the reliability policy does not promote past that. If %s is down for "
                 "maintenance, start it again; if it is gone, run `failoverctl failover %s` "
                 "[--to NODE] to fail over anyway",
                 p, p, f->s.cluster);
    else if (v == STARTUP_WAIT)
        snprintf(why, len,
                 "failoverd has not reached %s since it started watching the cluster (its GTID "
                 "state is unknown); it waits startup_grace (%llu s) for it to come back: an "
                 "automatic failover starts in %llu ms unless it does (`failoverctl failover "
                 "%s` to fail over now)",
                 p, (unsigned long long)(f->s.startup_grace_ms / 1000),
                 (unsigned long long)(until - uv_now(f->loop)), f->s.cluster);
    return v != STARTUP_GO;
}

/* The start-up grace ended with the primary still dead: reconsider it (the
 * verdict will not change again by itself). */
void fo_startup_recheck(failover_t *f)
{
    if (!f->startup_until || f->running || uv_now(f->loop) < f->startup_until)
        return;
    f->startup_until = 0;
    fo_reconsider(f);
}

/* A failover of a primary failoverd never reached (an operator's, or
 * availability's after the grace) says that what only it had is unknown. */
void fo_note_unseen_primary(failover_t *f, op_kind_t kind)
{
    cluster_t *c = monitor_cluster(f->m);
    if (kind != OP_FAILOVER || c->primary < 0 || primary_seen(f))
        return;
    const char *p = c->nodes[c->primary].name;
    event_emit(LOG_LVL_WARN, EV_PRIMARY_STATE_UNKNOWN, f->s.cluster, p,
               json_pack("{s:s}", "old_primary", p),
               "failing over %s, which failoverd never reached: its last GTID state is unknown, "
               "so transactions only it had (if any) are not counted in what may be lost",
               p);
}

/* What admit.h needs to know of this cluster now. */
static void admit_facts(failover_t *f, admit_facts_t *a)
{
    *a = (admit_facts_t){.cluster = f->s.cluster, .state_unknown = f->state_unknown,
                         .interrupted = f->interrupted != NULL || f->ha_read, .paused = f->paused,
                         .last_failover_wall = f->last_failover_wall,
                         .last_acked = f->last_acked,
                         .failover_block_ms = f->s.failover_block_ms,
                         .not_leader = coord_why_not(f->s.coord)};
    if (f->s.coord && f->last_failover_op && f->last_failover_op[0])
        a->last_failover_op = f->last_failover_op; /* perhaps another manager's */
    /* The loop's one thread reads it before the next call. */
    static char unsupported[512];
    if (tree_unsupported(monitor_cluster(f->m), unsupported, sizeof unsupported))
        a->unsupported = unsupported;
}

bool fo_blocked(failover_t *f, char *why, size_t len)
{
    admit_facts_t a;
    admit_facts(f, &a);
    return admit_blocked(&a, wall_now_ms(), why, len) || startup_held(f, why, len);
}

bool fo_automatic_blocked(failover_t *f, char *why, size_t len)
{
    admit_facts_t a;
    admit_facts(f, &a);
    return admit_automatic_blocked(&a, f->s.auto_failover, wall_now_ms(), why, len) ||
           startup_held(f, why, len);
}

static void reply_now(failover_reply_fn reply, void *ctx, bool ok, const char *code,
                      const char *msg, json_t *result)
{
    reply(ctx, ok, code, msg, result);
}

/* A dry run: the plan, or why there is none. */
static void dry_run(failover_t *f, const op_request_t *r, failover_reply_fn reply, void *ctx)
{
    char err[512];
    json_t *j = failover_plan_json(f, r, err, sizeof err);
    const char *why = json_string_value(json_object_get(j, "error"));
    if (!j)
        reply_now(reply, ctx, false, strstr(err, "no node named") ? "not_found" : "failed", err,
                  NULL);
    else if (why) /* nothing could be planned: a failure, with the reasons */
        reply_now(reply, ctx, false, "failed", why, j);
    else
        reply_now(reply, ctx, true, NULL, NULL, j);
}

/* An operator's failover, admitted: a node named with --to that can't be
 * promoted now (must_not, errant, not a replica of the primary ...) is
 * refused before anything is touched: the prepare phase would stop every
 * replica's IO thread only to find the same. */
static void start_failover(failover_t *f, const op_request_t *r, policy_t policy,
                           failover_reply_fn reply, void *ctx)
{
    cluster_t *c = monitor_cluster(f->m);
    char err[512];
    if (r->to) {
        elect_result_t *e = elect_run(c, c->primary, policy, r->to);
        if (e->chosen < 0) {
            buf_t b = BUF_INIT;
            buf_printf(&b, "%s; nothing was done", e->why);
            reply_now(reply, ctx, false, "failed", buf_str(&b), NULL);
            buf_free(&b);
            elect_free(e);
            return;
        }
        elect_free(e);
    }
    if (!fo_begin(f, OP_FAILOVER, false, policy, r->to)) {
        fo_blocked(f, err, sizeof err);
        reply_now(reply, ctx, false, "failed", err, NULL);
        return;
    }
    f->reply = reply;
    f->req_ctx = ctx;
    f->force = r->force;
    fo_prepare(f);
}

void failover_request(failover_t *f, const op_request_t *r, failover_reply_fn reply, void *ctx)
{
    cluster_t *c = monitor_cluster(f->m);
    char err[512];
    if (r->dry_run) {
        dry_run(f, r, reply, ctx);
        return;
    }
    if (f->running && fo_accept_held(f, r, reply, ctx))
        return;
    admit_facts_t a;
    admit_facts(f, &a);
    admit_request_t q = {
        .failover = r->kind == OP_FAILOVER, .force = r->force, .to = r->to,
        .running = f->running, .holding = f->hold_until != 0, .has_primary = c->primary >= 0,
        .to_exists = r->to && cluster_find_node_by_name(c, r->to) >= 0,
        .verdict = c->detect.verdict, .primary_up = c->primary >= 0 && c->nodes[c->primary].up};
    /* Only asked when it matters: a healthy primary and --force. */
    q.replicas_lost_primary = q.failover && r->force && c->primary >= 0 &&
                              q.verdict == VERDICT_HEALTHY && replicas_lost_primary(c);
    admit_answer_t ans = admit_request(&a, &q, wall_now_ms(), err, sizeof err);
    if (ans != ADMIT_OK) {
        reply_now(reply, ctx, false, admit_code(ans), err, NULL);
        return;
    }
    policy_t policy = r->policy_given ? r->policy : f->s.policy;
    if (r->kind == OP_FAILOVER)
        start_failover(f, r, policy, reply, ctx);
    else
        fo_switchover_start(f, r, policy, reply, ctx);
}
