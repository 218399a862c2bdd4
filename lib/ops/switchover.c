/* switchover.c - starting a switchover, what one that stopped early left, and
 * finishing one a restart interrupted (resume.h). */
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

/* What a switchover adds to its record: the write-blocked window
 * (reliability: from the start of block_writes to the end of the
 * post_promotion hooks, which move traffic), and under availability what the
 * old primary had beyond what the new one kept. */
json_t *fo_switchover_extra(failover_t *f, exec_t *x)
{
    cluster_t *c = monitor_cluster(f->m);
    json_t *extra = json_pack("{s:s}", "policy", policy_str(f->policy));
    json_t *bw = fo_step_result(x, STEP_ROLE_BLOCK_WRITES, FO_HOOK_NONE, f->old_primary, c);
    json_t *pp = fo_step_result(x, STEP_ROLE_HOOK, FO_HOOK_POST_PROMOTION, -1, c);
    if (f->policy == POLICY_RELIABILITY && bw && pp) {
        json_int_t from = json_integer_value(json_object_get(bw, "at_ms"));
        json_int_t to = json_integer_value(json_object_get(pp, "at_ms")) +
                        json_integer_value(json_object_get(pp, "ms"));
        json_object_set_new(extra, "write_blocked_ms", json_integer(to - from));
    }
    const char *old = exec_captured_at(x, f->old_primary);
    const char *kept = exec_captured_at(x, f->candidate);
    if (f->policy == POLICY_AVAILABILITY && old && kept && f->plan) {
        char err[256];
        uint64_t n = 0;
        char *d = plan_divergence(f->plan->flavors[f->old_primary].family == FAMILY_MARIADB, old,
                                  kept, &n, err, sizeof err);
        if (d) {
            free(f->lost);
            f->lost = d;
            f->lost_count = n;
        } else {
            log_warn("%s: cannot compare the GTID states of %s and %s: %s", f->s.cluster,
                     c->nodes[f->old_primary].name, c->nodes[f->candidate].name, err);
        }
    }
    return extra;
}

/* The state a switchover that stopped early left, from its steps' outcomes:
 * which node was made what, whether traffic moved, and what to do. */
void fo_switchover_left(failover_t *f, exec_t *x, buf_t *out)
{
    cluster_t *c = monitor_cluster(f->m);
    const char *old = c->nodes[f->old_primary].name, *cand = c->nodes[f->candidate].name;
    json_t *bw = fo_step_result(x, STEP_ROLE_BLOCK_WRITES, FO_HOOK_NONE, f->old_primary, c);
    json_t *rb = fo_step_result(x, STEP_ROLE_ROLLBACK_WRITES, FO_HOOK_NONE, f->old_primary, c);
    json_t *pr = fo_step_result(x, STEP_ROLE_PROMOTE, FO_HOOK_NONE, f->candidate, c);
    json_t *pp = fo_step_result(x, STEP_ROLE_HOOK, FO_HOOK_POST_PROMOTION, -1, c);
    if (fo_step_ok(pr)) {
        buf_printf(out, "%s was promoted and is writable; ", cand);
        if (fo_step_ok(pp))
            buf_printf(out, "the post_promotion hooks moved the traffic to it; ");
        else
            buf_printf(out, "the post_promotion hooks did not %s: traffic still goes to %s: move "
                            "it to %s (run the post_promotion hook by hand); ",
                       pp ? "succeed" : "run", old, cand);
        buf_printf(out, "point the nodes that were not repointed (%s included) at %s", old, cand);
    } else if (pr) {
        buf_printf(out, "the promotion of %s failed: check whether it is writable (SELECT "
                        "@@read_only) before anything else; %s was made read-only",
                   cand, old);
    } else if (fo_step_ok(bw) && !fo_step_ok(rb)) {
        buf_printf(out, "%s was made read-only and was not made writable again: no node is "
                        "writable. Make %s writable again by hand, or switch over once the "
                        "journal can be written",
                   old, old);
    } else {
        buf_printf(out, "nothing was changed: %s is the primary and writable; traffic was not "
                        "moved",
                   old);
    }
    buf_printf(out, ". Then make the state directory writable and run `failoverctl ack %s`",
               f->s.cluster);
}

/* What the operator has to do by hand for a switchover that was not finished. */
static void resume_todo(failover_t *f, const char *cand, const char *old, buf_t *out)
{
    const char *pp = fo_op_step_state(f->interrupted, step_hook_name(FO_HOOK_POST_PROMOTION));
    if (!pp || strcmp(pp, "done") != 0)
        buf_printf(out, "the post_promotion hooks did not %s: traffic may still go to %s. Find "
                        "out which node is writable; if %s is, move the traffic to it (run the "
                        "post_promotion hook by hand) and point the other nodes, %s included, at "
                        "it; ",
                   pp ? "finish" : "run", old, cand, old);
    else
        buf_printf(out, "the traffic was moved to %s; point the other nodes, %s included, at it; ",
                   cand, old);
    buf_printf(out, "then run `failoverctl ack %s`", f->s.cluster);
}

/* After a restart, once every node was probed (or RESUME_WAIT_MS passed): a
 * switchover interrupted at or after its promotion is finished when the
 * nodes show that is safe, else reported with what to do. */
/* Whether to decide on the interrupted operation now: only a switchover
 * whose promotion started is finished; anything earlier is reported
 * (failover_interrupted) and left to the operator. Held (state unknown,
 * paused): looked at again after the ack / resume. Else once every node was
 * probed, or RESUME_WAIT_MS after the start. */
static bool resume_due(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    json_t *first = json_array_get(f->interrupted, 0);
    const char *kind = json_string_value(json_object_get(first, "kind"));
    json_t *sum0 = fo_interrupted_summary(f->interrupted);
    bool promoting = strcmp(json_string_value(json_object_get(sum0, "promotion")), "unknown") == 0 ||
                     strcmp(json_string_value(json_object_get(sum0, "promotion")), "done") == 0;
    json_decref(sum0);
    /* A failover is finished only by a new leader, from its predecessor's
     * record (foharesume.c); after a restart it stays the operator's. */
    const char *src = json_string_value(json_object_get(first, "source"));
    bool fo = kind && strcmp(kind, "failover") == 0 && src && strcmp(src, "etcd") == 0;
    if (!kind || (strcmp(kind, "switchover") != 0 && !fo) || !promoting || f->running ||
        f->dying) {
        f->resume_decided = true;
        return false;
    }
    if (f->state_unknown || f->paused)
        return false;
    bool all = true;
    for (size_t i = 0; i < c->n_nodes; i++)
        all = all && c->nodes[i].probed;
    if (!all && uv_now(f->loop) - f->created_mono < RESUME_WAIT_MS)
        return false;
    f->resume_decided = true;
    return true;
}

static bool resume_is_failover(failover_t *f)
{
    const char *kind = json_string_value(json_object_get(json_array_get(f->interrupted, 0), "kind"));
    return kind && strcmp(kind, "failover") == 0;
}

/* What the interrupted switchover's records say, for resume_decide(). */
static void resume_facts(failover_t *f, json_t *sum, resume_facts_t *facts, const char **old,
                         const char **policy_s)
{
    cluster_t *c = monitor_cluster(f->m);
    const char *cand = json_string_value(json_object_get(sum, "candidate"));
    size_t i;
    json_t *rec;
    json_array_foreach(f->interrupted, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (type && strcmp(type, "begin") == 0) {
            *old = json_string_value(json_object_get(rec, "old_primary"));
            *policy_s = json_string_value(json_object_get(rec, "policy"));
        }
    }
    *facts = (resume_facts_t){
        .old_primary = *old ? cluster_find_node_by_name(c, *old) : -1,
        .candidate = cand ? cluster_find_node_by_name(c, cand) : -1,
        .promotion = json_string_value(json_object_get(sum, "promotion")),
        .failover = resume_is_failover(f),
    };
    if (*old && cand) {
        buf_t b = BUF_INIT;
        step_name_format(STEP_ROLE_BLOCK_WRITES, *old, &b);
        const char *st = fo_op_step_state(f->interrupted, buf_str(&b));
        facts->blocked = st && strcmp(st, "done") == 0;
        b.len = 0;
        step_name_format(STEP_ROLE_SYNC, cand, &b);
        st = fo_op_step_state(f->interrupted, buf_str(&b));
        facts->synced = st && strcmp(st, "done") == 0;
        buf_free(&b);
    }
}

/* The switchover is finished under its own id, as its resuming phase: true
 * when its "resume" record was made durable (else nothing was started, and
 * why says so). */
static bool resume_enter(failover_t *f, const char *op, resume_action_t act, char *why,
                         size_t len)
{
    f->kind = resume_is_failover(f) ? OP_FAILOVER : OP_SWITCHOVER;
    f->op = xstrdup(op ? op : "?");
    if (fo_enter(f, OP_PHASE_RESUMING, why, "resume",
                 json_pack("{s:s, s:s}", "action", resume_action_str(act), "why", why)))
        return true;
    snprintf(why, len, "the resumption could not be journaled (%s)", journal_last_error(f->j));
    free(f->op);
    f->op = NULL;
    fo_phase_reset(f);
    return false;
}

/* From here it is the switchover again, under its own id: like any
 * operation it holds the hooks it runs, and the monitor stays quiet. */
static void resume_run(failover_t *f, plan_t *p, const resume_facts_t *facts, policy_t policy,
                       resume_action_t act, const char *why)
{
    cluster_t *c = monitor_cluster(f->m);
    f->running = true;
    monitor_quiet(f->m, true);
    fo_op_hold(f);
    f->automatic = true;
    f->policy = policy;
    f->to = NULL;
    f->old_primary = facts->old_primary;
    f->candidate = facts->candidate;
    f->started_mono = uv_now(f->loop);
    f->started_wall = wall_now_ms();
    f->detected_ms = 0;
    f->plan = p;
    json_decref(f->interrupted);
    f->interrupted = NULL;
    bool fo = f->kind == OP_FAILOVER;
    event_emit(LOG_LVL_WARN, fo ? EV_FAILOVER_RESUMED : EV_SWITCHOVER_RESUMED, f->s.cluster,
               c->nodes[f->candidate].name,
               json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", f->op, "action",
                         resume_action_str(act), "reason", why, "candidate",
                         c->nodes[f->candidate].name, "old_primary",
                         c->nodes[f->old_primary].name),
               "finishing the interrupted %s %s from %s to %s: %s; running %s",
               fo_kind_str(f->kind), f->op, c->nodes[f->old_primary].name, c->nodes[f->candidate].name, why,
               act == RESUME_PROMOTE ? "the promotion again, then the traffic hooks and the "
                                       "repointing"
                                     : "the traffic hooks (post_promotion) and the repointing");
    fo_enter(f, fo ? OP_PHASE_PROMOTING : OP_PHASE_SWITCHING, "the rest of the operation runs",
             NULL, NULL);
    fo_start_exec(f, fo_promote_done);
}

void fo_try_resume(failover_t *f)
{
    if (!resume_due(f))
        return;
    cluster_t *c = monitor_cluster(f->m);
    json_t *first = json_array_get(f->interrupted, 0);
    json_t *sum = fo_interrupted_summary(f->interrupted);
    const char *cand = json_string_value(json_object_get(sum, "candidate"));
    const char *old = NULL, *policy_s = NULL;
    resume_facts_t facts;
    resume_facts(f, sum, &facts, &old, &policy_s);
    const char *op = json_string_value(json_object_get(first, "op"));
    char why[512], err[512] = "";
    resume_action_t act = resume_decide(c, &facts, why, sizeof why);
    policy_t policy = policy_s && strcmp(policy_s, "availability") == 0 ? POLICY_AVAILABILITY
                                                                         : POLICY_RELIABILITY;
    plan_t *p = NULL;
    if (act != RESUME_REFUSE) {
        p = plan_op_resume(c, facts.old_primary, facts.candidate, policy, act == RESUME_PROMOTE,
                           facts.failover, &f->s.plan, err, sizeof err);
        if (!p)
            snprintf(why, sizeof why, "%s", err);
    }
    if (p && !resume_enter(f, op, act, why, sizeof why)) {
        plan_free(p);
        p = NULL;
    }
    if (!p) {
        buf_t todo = BUF_INIT;
        resume_todo(f, cand ? cand : "the candidate", old ? old : "the old primary", &todo);
        event_emit(LOG_LVL_ERROR, facts.failover ? EV_FAILOVER_NOT_RESUMED
                                                 : EV_SWITCHOVER_NOT_RESUMED, f->s.cluster, cand,
                   json_pack("{s:s?, s:s, s:s?, s:s?}", "op", op, "reason", why, "candidate",
                             cand, "old_primary", old),
                   "the interrupted %s %s is not finished automatically: %s. What to do: "
                   "%s",
                   facts.failover ? "failover" : "switchover", op ? op : "", why, buf_str(&todo));
        buf_free(&todo);
        json_decref(sum);
        return;
    }
    json_decref(sum);
    resume_run(f, p, &facts, policy, act, why);
}

/* An operator's switchover, admitted: elect (or check the node named), plan,
 * begin, run. */
void fo_switchover_start(failover_t *f, const op_request_t *r, policy_t policy,
                         failover_reply_fn reply, void *ctx)
{
    cluster_t *c = monitor_cluster(f->m);
    char err[512];
    elect_result_t *e = elect_run(c, c->primary, policy, r->to);
    if (e->chosen < 0) {
        reply(ctx, false, "failed", e->why, NULL);
        elect_free(e);
        return;
    }
    plan_opts_t po = f->s.plan;
    if (r->timeout_ms)
        po.switchover_timeout_ms = r->timeout_ms;
    plan_t *p = plan_switchover(c, c->primary, e->chosen, policy, &po, err, sizeof err);
    if (!p) {
        reply(ctx, false, "failed", err, NULL);
        elect_free(e);
        return;
    }
    if (!fo_begin(f, OP_SWITCHOVER, false, policy, r->to)) {
        fo_blocked(f, err, sizeof err);
        reply(ctx, false, "failed", err, NULL);
        plan_free(p);
        elect_free(e);
        return;
    }
    f->reply = reply;
    f->req_ctx = ctx;
    f->elect = e;
    f->candidate = e->chosen;
    f->plan = p;
    fo_enter(f, OP_PHASE_SWITCHING, "the switchover plan runs", NULL, NULL);
    fo_start_exec(f, fo_promote_done);
}
