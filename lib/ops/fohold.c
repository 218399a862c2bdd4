/* fohold.c - reliability's hold (elect_hold): a failover waits, bounded by
 * unseen_hold, for the replicas it can't see; an operator may accept what it
 * waits for. */
#include "failover_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "durability.h"
#include "elect.h"
#include "event.h"
#include "log.h"
#include "rejoin.h"
#include "startup.h"
#include "resume.h"

void fo_hold_reset(failover_t *f)
{
    uv_timer_stop(&f->hold_timer);
    f->hold_until = 0;
    free(f->hold_why);
    f->hold_why = NULL;
    json_decref(f->hold_unseen);
    f->hold_unseen = NULL;
}

/* The hold ran out: aborted, nothing made writable. */
static void hold_abort(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    char *why = xstrdup(f->hold_why ? f->hold_why : "");
    json_t *unseen = f->hold_unseen ? json_incref(f->hold_unseen) : json_array();
    fo_hold_reset(f);
    buf_t w = BUF_INIT;
    json_t *wl = json_array();
    fo_writable_nodes(c, &w, wl);
    buf_t msg = BUF_INIT;
    buf_printf(&msg, "reliability can't rule out losing acknowledged transactions: %s", why);
    event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
               json_pack("{s:s, s:O, s:o, s:I}", "error", buf_str(&msg), "unseen", unseen,
                         "writable", wl, "held_ms", (json_int_t)f->s.unseen_hold_ms),
               "failover aborted after holding %llu ms: %s. No node was made writable (writable "
               "now: %s); the replicas' IO threads are stopped. Bring the replicas named back "
               "(or give the monitoring account the privileges it lacks on them) and run "
               "`failoverctl failover %s`; or accept losing what only they may hold: "
               "`failoverctl failover %s --force` (or --policy availability)",
               (unsigned long long)f->s.unseen_hold_ms, buf_str(&msg), buf_str(&w), f->s.cluster,
               f->s.cluster);
    fo_end_op(f, "aborted", false, "failed", buf_str(&msg),
           json_pack("{s:b, s:o}", "promoted", false, "unseen", unseen));
    buf_free(&msg);
    buf_free(&w);
    free(why);
}

/* While holding: a replica it waits for (or the old primary) can be seen
 * again: stop its IO thread, fence, look afresh and elect again (the
 * pre_failover hooks ran once already). Out of time: aborted. */
static void hold_tick(uv_timer_t *t)
{
    failover_t *f = t->data;
    cluster_t *c = monitor_cluster(f->m);
    if (f->dying || uv_now(f->loop) >= f->hold_until) {
        hold_abort(f);
        return;
    }
    const char *back = NULL;
    size_t i;
    json_t *nm;
    json_array_foreach(f->hold_unseen, i, nm)
    {
        int n = cluster_find_node_by_name(c, json_string_value(nm));
        if (n >= 0 && c->nodes[n].up)
            back = c->nodes[n].name;
    }
    if (!back && f->old_primary >= 0 && c->nodes[f->old_primary].up)
        back = c->nodes[f->old_primary].name;
    if (!back)
        return;
    uv_timer_stop(&f->hold_timer);
    log_fields(LOG_LVL_NOTICE, f->s.cluster, back, EV_FAILOVER_STEP,
               "%s can be seen again: stopping IO threads, fencing and electing again", back);
    elect_free(f->elect);
    f->elect = NULL;
    f->plan = plan_failover_prepare(c, f->old_primary, f->policy, &f->s.plan);
    /* The pre_failover hooks said yes once for this failover: not again. */
    size_t k = 0;
    for (size_t s = 0; s < f->plan->n; s++) {
        if (f->plan->steps[s].role == STEP_ROLE_HOOK &&
            f->plan->steps[s].hook == FO_HOOK_PRE_FAILOVER) {
            free(f->plan->steps[s].name);
            free(f->plan->steps[s].desc);
            continue;
        }
        f->plan->steps[k++] = f->plan->steps[s];
    }
    f->plan->n = k;
    fo_enter(f, OP_PHASE_PREPARING, "a node it waited for can be seen again", NULL, NULL);
    fo_start_exec(f, fo_prepare_done);
}

/* Reliability's rule of certainty (elect_hold) after an election: true when
 * the promotion must wait (then a timer looks again) or was aborted. With
 * --force or under availability it goes on, and what it did not see is kept
 * for the report. */
bool fo_hold(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    char why[1024];
    bool must = elect_hold(c, f->elect, f->policy, why, sizeof why) && !f->force;
    if (must && fo_salvage_gate_try(f, why))
        must = false;
    json_t *unseen = json_array();
    for (size_t k = 0; k < f->elect->n; k++)
        if (f->elect->c[k].unseen)
            json_array_append_new(unseen, json_string(c->nodes[f->elect->c[k].node].name));
    uint64_t was = f->hold_until;
    fo_hold_reset(f);
    f->hold_why = why[0] ? xstrdup(why) : NULL;
    f->hold_unseen = unseen;
    if (!must) {
        if (was)
            log_fields(LOG_LVL_NOTICE, f->s.cluster, NULL, EV_FAILOVER_STEP,
                       "the hold is over: nothing it waited for is missing now");
        return false;
    }
    uint64_t now = uv_now(f->loop);
    f->hold_until = was ? was : now + f->s.unseen_hold_ms;
    /* The hold is journaled when it begins; a hold that goes on after
     * another election has its record already. */
    fo_enter(f, OP_PHASE_HOLDING, why, was ? NULL : "hold",
             was ? NULL
                 : json_pack("{s:s, s:O, s:I}", "why", why, "unseen", unseen, "hold_ms",
                             (json_int_t)f->s.unseen_hold_ms));
    if (!was) {
        event_emit(LOG_LVL_WARN, EV_FAILOVER_HELD, f->s.cluster, NULL,
                   json_pack("{s:s, s:O, s:I}", "why", why, "unseen", unseen, "hold_ms",
                             (json_int_t)f->s.unseen_hold_ms),
                   "failover held (reliability): %s. Nothing is writable; it goes on when they "
                   "can be seen again, and is aborted in %llu ms otherwise",
                   why, (unsigned long long)f->s.unseen_hold_ms);
    }
    if (now >= f->hold_until) {
        hold_abort(f);
        return true;
    }
    uv_timer_start(&f->hold_timer, hold_tick, HOLD_POLL_MS, HOLD_POLL_MS);
    return true;
}

/* An operator's failover --force, or --policy availability, while a
 * failover started without a waiting requester (an automatic one) holds: the
 * operator accepts what the hold waits for, and it goes on now, electing
 * again with the latest observations; the requester gets its outcome. */
bool fo_accept_held(failover_t *f, const op_request_t *r, failover_reply_fn reply, void *ctx)
{
    bool avail = r->policy_given && r->policy == POLICY_AVAILABILITY;
    if (!f->hold_until || f->kind != OP_FAILOVER || r->kind != OP_FAILOVER || f->reply ||
        (!r->force && !avail) || (r->to && (!f->to || strcmp(r->to, f->to) != 0)))
        return false;
    f->force = f->force || r->force;
    if (avail)
        f->policy = POLICY_AVAILABILITY;
    f->reply = reply;
    f->req_ctx = ctx;
    uv_timer_stop(&f->hold_timer);
    f->hold_until = 0;
    journal_record(f->j, f->s.cluster, f->op, "failover", "accept",
                   json_pack("{s:b, s:s}", "force", r->force, "policy", policy_str(f->policy)));
    log_fields(LOG_LVL_NOTICE, f->s.cluster, NULL, EV_FAILOVER_STEP,
               "the operator accepts what the hold waited for (%s): the failover goes on",
               r->force ? "--force" : "--policy availability");
    elect_free(f->elect);
    f->elect = NULL;
    fo_elect_and_promote(f);
    return true;
}
