/* opreport.c - what an operation says: the received sets that went backwards,
 * the loss, and the events and records of a failover's or switchover's end. */
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

void fo_forget_before(failover_t *f)
{
    for (size_t i = 0; i < f->n_before; i++)
        observation_clear(&f->before[i]);
    free(f->before);
    f->before = NULL;
    f->n_before = 0;
    f->regress_reported = false;
}

void fo_forget_carried(failover_t *f)
{
    for (size_t i = 0; i < f->n_carried; i++)
        observation_clear(&f->carried[i]);
    free(f->carried);
    f->carried = NULL;
    f->n_carried = 0;
}

/* The GTID part of an observation, copied into b (cleared). */
static void copy_gtids(observation_t *b, const observation_t *o)
{
    b->ok = o->ok;
    b->at = o->at;
    b->family = o->family;
    b->replica = o->replica;
    b->gtid_executed = o->gtid_executed ? xstrdup(o->gtid_executed) : NULL;
    b->received_gtids = o->received_gtids ? xstrdup(o->received_gtids) : NULL;
    b->executed_gtids = o->executed_gtids ? xstrdup(o->executed_gtids) : NULL;
    b->gtid_error = o->gtid_error ? xstrdup(o->gtid_error) : NULL;
    observation_parse_gtids(b);
}

/* Keeps what every node had received as last observed before the failover. */
void fo_remember_before(failover_t *f, const cluster_t *c)
{
    fo_forget_before(f);
    f->before = xcalloc(c->n_nodes + 1, sizeof *f->before);
    f->n_before = c->n_nodes;
    for (size_t i = 0; i < c->n_nodes; i++)
        copy_gtids(&f->before[i], &c->nodes[i].last_ok);
}

/* Remembers, past the end of this operation, what the replicas in back had
 * received before they went backwards. */
static void carry_regressed(failover_t *f, const cluster_t *c, json_t *back)
{
    size_t k;
    json_t *r;
    json_array_foreach(back, k, r)
    {
        int i = cluster_find_node_by_name(c, json_string_value(json_object_get(r, "node")));
        if (i < 0 || (size_t)i >= f->n_before)
            continue;
        f->carried = xrealloc(f->carried, (f->n_carried + 1) * sizeof *f->carried);
        memset(&f->carried[f->n_carried], 0, sizeof *f->carried);
        copy_gtids(&f->carried[f->n_carried++], &f->before[i]);
    }
}

/* The replicas (up now, other than the old primary) whose received set went
 * backwards between the last probe before the failover and now (the
 * refresh): a server threw away transactions it had received and, under
 * semi-sync, acknowledged (MariaDB discards the relay log when a replication
 * thread starts while both are stopped; a restarted replica may lose it too).
 * Whatever rule did it, a reliability failover can't promote past it: those
 * transactions may be on no other node. Returns [{node, lost, lost_count,
 * received_before, executed_before, received_now, executed_now}], empty when
 * none; the first time in an operation, they are journaled (regressed) and
 * each is reported (received_regressed). */
json_t *fo_received_went_back(failover_t *f, const cluster_t *c)
{
    json_t *out = json_array();
    for (size_t i = 0; i < f->n_before && i < c->n_nodes; i++) {
        const node_t *nd = &c->nodes[i];
        if ((int)i == f->old_primary || !nd->up)
            continue;
        uint64_t n = 0;
        char *lost = elect_received_regress(&f->before[i], &nd->last_ok, &n);
        if (lost[0]) {
            json_array_append_new(
                out, json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:I}", "node", nd->name,
                               "received_before", f->before[i].received_gtids,
                               "executed_before", f->before[i].executed_gtids,
                               "received_now", nd->last_ok.received_gtids, "executed_now",
                               nd->last_ok.executed_gtids, "lost", lost, "lost_count",
                               (json_int_t)n));
        }
        free(lost);
    }
    if (json_array_size(out) && !f->regress_reported) {
        f->regress_reported = true;
        journal_record(f->j, f->s.cluster, f->op, fo_kind_str(f->kind), "regressed",
                       json_pack("{s:O}", "replicas", out));
        size_t k;
        json_t *r;
        json_array_foreach(out, k, r)
        {
            const char *name = json_string_value(json_object_get(r, "node"));
            json_int_t n = json_integer_value(json_object_get(r, "lost_count"));
            event_emit(LOG_LVL_ERROR, EV_RECEIVED_REGRESSED, f->s.cluster, name, json_deep_copy(r),
                       "%s no longer holds %lld transaction%s it had received before the "
                       "failover (%s): its received set went backwards between the last probe "
                       "before the failover and the refresh; the server discarded them",
                       name, (long long)n, n == 1 ? "" : "s",
                       json_string_value(json_object_get(r, "lost")));
        }
    }
    return out;
}

/* The nodes that are up and writable, as last observed: "db2, db3" or "none". */
void fo_writable_nodes(const cluster_t *c, buf_t *out, json_t *list)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].up && c->nodes[i].last_ok.ok && !c->nodes[i].last_ok.read_only) {
            buf_printf(out, "%s%s", out->len ? ", " : "", c->nodes[i].name);
            json_array_append_new(list, json_string(c->nodes[i].name));
        }
    if (!out->len)
        buf_puts(out, "none");
}

/* After a failed promote plan and a fresh look at every node: elect again, or
 * end the operation in the state observed. Rules:
 *   - the failure came before the point of no return (nothing was sent that
 *     makes a node writable) and the candidate is down now: it died during the
 *     failover; elect again without it (bounded by the number of nodes);
 *   - before the point of no return otherwise: aborted, no node was made
 *     writable (the observed writable nodes are listed);
 *   - the promotion itself failed: the candidate's observed state says
 *     whether it was made writable; if it can't be reached that is unknown,
 *     and the operator must look at it before anything else is promoted. */
void fo_drop_attempt(failover_t *f)
{
    f->exec = NULL;
    plan_free(f->plan);
    f->plan = NULL;
    elect_free(f->elect);
    f->elect = NULL;
    free(f->lost);
    f->lost = NULL;
    free(f->fail_msg);
    f->fail_msg = NULL;
}

void fo_elect_again(failover_t *f)
{
    fo_drop_attempt(f);
    f->candidate = -1;
    fo_elect_and_promote(f);
}

static void failure_refreshed(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud)
{
    failover_t *f = ud;
    (void)outcome;
    (void)msg;
    cluster_t *c = monitor_cluster(f->m);
    fo_keep_steps(f, x);
    const node_t *cn = &c->nodes[f->candidate];
    const char *cand = cn->name;
    buf_t w = BUF_INIT;
    json_t *wl = json_array();
    fo_writable_nodes(c, &w, wl);
    if (fo_salvage_gate_failed(f)) {
        json_decref(wl);
        buf_free(&w);
        return;
    }
    if (!f->fail_past_no_return && !cn->up && f->elections < (int)c->n_nodes - 1) {
        event_emit(LOG_LVL_WARN, EV_FAILOVER_RETRY, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:i}", "lost_candidate", cand, "error", f->fail_msg,
                             "election", f->elections + 1),
                   "candidate %s was lost before its promotion (%s); electing again without it",
                   cand, f->fail_msg);
        json_decref(wl);
        buf_free(&w);
        fo_elect_again(f);
        return;
    }
    char *err = f->fail_msg;
    f->fail_msg = NULL;
    if (!f->fail_past_no_return) {
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:o}", "error", err, "candidate", cand, "writable", wl),
                   "failover aborted before any promotion: %s. No node was made writable "
                   "(writable now: %s); the replicas' IO threads are stopped. Fix the cause and "
                   "run `failoverctl failover %s`",
                   err, buf_str(&w), f->s.cluster);
        fo_end_op(f, "aborted", false, "failed", err, json_pack("{s:b}", "promoted", false));
    } else if (cn->up && cn->last_ok.ok && cn->last_ok.read_only) {
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_FAILED, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:o, s:b}", "error", err, "candidate", cand, "writable",
                             wl, "candidate_writable", false),
                   "failover failed: %s. %s was not made writable (it is read-only now; writable "
                   "now: %s); the replicas' IO threads are stopped. Fix the cause (the account's "
                   "privileges on %s?) and run `failoverctl failover %s` (--to NODE for another "
                   "node)",
                   err, cand, buf_str(&w), cand, f->s.cluster);
        fo_end_op(f, "failed", false, "failed", err, json_pack("{s:b}", "promoted", false));
    } else {
        bool writable = cn->up && cn->last_ok.ok && !cn->last_ok.read_only;
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_FAILED, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:o, s:o}", "error", err, "candidate", cand, "writable",
                             wl, "candidate_writable",
                             cn->up ? json_boolean(writable) : json_null()),
                   "failover failed while promoting %s: %s. %s (writable now: %s); the other "
                   "replicas were not repointed. Look at %s before anything else, then repoint "
                   "the replicas or run `failoverctl failover %s`",
                   cand, err,
                   writable ? "It is writable: it is the primary, but nothing follows it"
                            : "It can't be reached, so whether it was made writable is unknown",
                   buf_str(&w), cand, f->s.cluster);
        fo_end_op(f, "failed", false, "failed", err,
               writable ? NULL : json_pack("{s:b}", "promoted", false));
    }
    free(err);
    buf_free(&w);
}

/* The result of one step of x by name ({"name","ok","ms","at_ms"...}), or NULL. */
json_t *fo_step_result(exec_t *x, step_role_t role, fo_hook_point_t hook, int node,
                       const cluster_t *c)
{
    size_t i;
    json_t *res;
    json_array_foreach(exec_results(x), i, res)
    {
        const char *name = json_string_value(json_object_get(res, "name"));
        if (step_name_is(name, role, hook, node < 0 ? NULL : c->nodes[node].name))
            return res;
    }
    return NULL;
}

bool fo_step_ok(json_t *res) { return res && json_is_true(json_object_get(res, "ok")); }

/* At the start of an operation: when the old primary was last seen, and
 * whether semi-sync had fallen back on it (then every write it acknowledged
 * since may exist on it alone). */
void fo_note_old_primary(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    f->risk_since_wall = f->seen_wall = 0;
    free(f->risk_from);
    f->risk_from = NULL;
    if (f->old_primary < 0)
        return;
    const node_t *p = &c->nodes[f->old_primary];
    if (p->last_ok.ok && p->last_ok.at) {
        uint64_t now = uv_now(f->loop);
        f->seen_wall = wall_now_ms() - (now > p->last_ok.at ? now - p->last_ok.at : 0);
    }
    const durability_state_t *d = &c->durability;
    if (d->primary == f->old_primary && d->semisync_off_at) {
        f->risk_since_wall = d->semisync_off_wall;
        f->risk_from = d->semisync_off_from ? xstrdup(d->semisync_off_from) : NULL;
    }
}

/* What a failover says about loss, into its event data (d), its record
 * (extra) and its message: the loss as a lower bound with the time of the
 * old primary's last probe (it may have committed more after it), and, when
 * semi-sync had fallen back on it, the writes that were at risk since. */
static void report_loss(failover_t *f, json_t *d, json_t *extra, buf_t *msg)
{
    cluster_t *c = monitor_cluster(f->m);
    const node_t *p = f->old_primary >= 0 ? &c->nodes[f->old_primary] : NULL;
    if (!p)
        return;
    char seen[32] = "", since[32];
    if (f->seen_wall) {
        format_wall_ms(f->seen_wall, seen, sizeof seen);
        json_t *bound =
            json_pack("{s:I, s:s}", "lost_at_least", (json_int_t)f->lost_count, "lost_as_of", seen);
        json_object_update(d, bound);
        json_object_update(extra, bound);
        json_decref(bound);
        if (f->lost_count)
            buf_printf(msg,
                       ", at least %llu as of the probe of %s at %s (it may have committed "
                       "more after it)",
                       (unsigned long long)f->lost_count, p->name, seen);
    }
    if (!f->risk_since_wall)
        return;
    format_wall_ms(f->risk_since_wall, since, sizeof since);
    json_t *risk = json_pack("{s:s}", "semisync_off_since", since);
    buf_printf(msg,
               "; semi-sync had fallen back to asynchronous commits on %s at %s: writes "
               "acknowledged after %s were at risk",
               p->name, since, since);
    durability_range_t r;
    char err[256];
    if (f->risk_from && p->last_ok.ok &&
        durability_range(p->last_ok.family == FAMILY_MARIADB, f->risk_from,
                         p->last_ok.gtid_executed, &r, err, sizeof err)) {
        json_object_set_new(risk, "at_risk", json_string(r.text));
        json_object_set_new(risk, "at_risk_count", json_integer((json_int_t)r.count));
        if (r.count)
            buf_printf(msg, " (%s: %llu transaction%s, as of the probe of %s at %s)", r.text,
                       (unsigned long long)r.count, r.count == 1 ? "" : "s", p->name, seen);
        durability_range_free(&r);
    }
    json_object_update(d, risk);
    json_object_update(extra, risk);
    json_decref(risk);
}

/* The replicas that were repointed but don't follow the new primary (an
 * optional verify failed): for the operator to repair, named in msg. */
static json_t *not_following(exec_t *x, buf_t *msg)
{
    json_t *stray = json_array();
    size_t i;
    json_t *res;
    json_array_foreach(exec_results(x), i, res)
    {
        step_id_t id;
        if (step_name_parse(json_string_value(json_object_get(res, "name")), &id) &&
            id.role == STEP_ROLE_VERIFY && !json_is_true(json_object_get(res, "ok")))
            json_array_append_new(stray, json_string(id.arg));
    }
    if (json_array_size(stray)) {
        buf_puts(msg, "; not following it: ");
        json_array_foreach(stray, i, res)
            buf_printf(msg, "%s%s", i ? ", " : "", json_string_value(res));
        buf_puts(msg, " (see the failover_step warnings)");
    }
    return stray;
}

/* Traffic moves at post_promotion: when its hook failed, clients still go
 * where they went (the old primary, read-only, or nowhere). */
static bool traffic_moved(exec_t *x, const cluster_t *c, const char *cand, buf_t *msg)
{
    json_t *pp = fo_step_result(x, STEP_ROLE_HOOK, FO_HOOK_POST_PROMOTION, -1, c);
    bool moved = !pp || json_is_true(json_object_get(pp, "ok"));
    if (!moved) {
        const char *why = json_string_value(json_object_get(pp, "error"));
        buf_printf(msg, "; the traffic did NOT move: the post_promotion hook failed (%s): "
                        "point the VIP or DNS name at %s by hand",
                   why ? why : "see its step", cand);
    }
    return moved;
}

/* The event data of a finished operation, and the loss in its message. */
static json_t *done_data(failover_t *f, const cluster_t *c, uint64_t took, buf_t *lost)
{
    const char *cand = c->nodes[f->candidate].name;
    json_t *d = json_pack("{s:s, s:s?, s:I, s:s, s:s?}", "new_primary", cand, "old_primary",
                          f->old_primary >= 0 ? c->nodes[f->old_primary].name : NULL,
                          "duration_ms", (json_int_t)took, "policy", policy_str(f->policy),
                          "possibly_lost", f->lost && f->lost[0] ? f->lost : NULL);
    if (f->lost_count)
        json_object_set_new(d, "possibly_lost_count", json_integer((json_int_t)f->lost_count));
    if (f->lost && f->lost[0] && f->lost_count)
        buf_printf(lost, "; possibly lost: %llu transaction%s (%s)",
                   (unsigned long long)f->lost_count, f->lost_count == 1 ? "" : "s", f->lost);
    else if (f->lost && f->lost[0])
        buf_printf(lost, "; possibly lost: %s", f->lost);
    return d;
}

/* Every step done: the new primary, what may be lost, what is left to do. */
static void report_done(failover_t *f, exec_t *x, json_t *extra)
{
    cluster_t *c = monitor_cluster(f->m);
    const char *cand = c->nodes[f->candidate].name;
    /* What the others had beyond what the new primary kept (captured before
     * it became writable) may be lost: the transactions only the dead
     * primary had, and under availability a relay log it had not applied. */
    const char *kept = f->kind == OP_FAILOVER && f->elect ? exec_captured(x) : NULL;
    if (kept) {
        free(f->lost);
        f->lost = elect_lost(c, f->old_primary, f->elect, kept, &f->lost_count);
    }
    uint64_t took = uv_now(f->loop) - f->started_mono;
    buf_t lost = BUF_INIT;
    json_t *d = done_data(f, c, took, &lost);
    json_t *stray = not_following(x, &lost);
    bool moved = traffic_moved(x, c, cand, &lost);
    if (!extra)
        extra = json_object();
    json_object_set_new(extra, "traffic_moved", json_boolean(moved));
    json_object_set_new(d, "traffic_moved", json_boolean(moved));
    if (f->kind == OP_FAILOVER)
        report_loss(f, d, extra, &lost);
    if (f->kind == OP_FAILOVER && f->hold_why) {
        /* --force or availability: what could not be seen is part of the report. */
        buf_printf(&lost, "; not seen, may hold more: %s", f->hold_why);
        json_object_set_new(d, "unseen", json_string(f->hold_why));
        json_object_set_new(extra, "unseen", json_string(f->hold_why));
    }
    json_object_set(extra, "not_following", stray);
    json_object_set_new(d, "not_following", stray);
    if (json_object_get(extra, "write_blocked_ms"))
        json_object_set(d, "write_blocked_ms", json_object_get(extra, "write_blocked_ms"));
    /* The model names the new primary before the event does: status must
     * not show the old one until the next probe. */
    fo_set_promoted(f, cand, f->old_primary >= 0 ? c->nodes[f->old_primary].name : NULL);
    c->promoted_at = uv_now(f->loop);
    monitor_reassess(f->m);
    event_emit(LOG_LVL_NOTICE, f->kind == OP_FAILOVER ? EV_FAILOVER_DONE : EV_SWITCHOVER_DONE,
               f->s.cluster, cand, d, "%s done in %llu ms: %s is the primary%s",
               fo_kind_str(f->kind), (unsigned long long)took, cand, buf_str(&lost));
    buf_free(&lost);
    fo_end_op(f, "done", true, NULL, NULL, extra);
    monitor_probe_all_now(f->m);
}

/* A switchover rolled back: nothing was promoted and no traffic moved; say
 * what was restored. */
static void report_rolled_back(failover_t *f, exec_t *x, const char *msg, json_t *extra)
{
    cluster_t *c = monitor_cluster(f->m);
    const char *cand = c->nodes[f->candidate].name;
    const char *oldname = c->nodes[f->old_primary].name;
    json_t *rr = fo_step_result(x, STEP_ROLE_ROLLBACK_REPLICA, FO_HOOK_NONE, f->candidate, c);
    bool replicating = !rr || json_is_true(json_object_get(rr, "ok"));
    buf_t m = BUF_INIT;
    json_t *bw = fo_step_result(x, STEP_ROLE_BLOCK_WRITES, FO_HOOK_NONE, f->old_primary, c);
    if (bw)
        buf_printf(&m, "switchover rolled back: %s. %s is the primary and writable again; "
                       "traffic was not moved; ",
                   msg, oldname);
    else
        buf_printf(&m, "switchover rolled back: %s. %s is the primary and was never made "
                       "read-only; traffic was not moved; ",
                   msg, oldname);
    if (!rr)
        buf_printf(&m, "%s was left replicating as it was", cand);
    else if (replicating)
        buf_printf(&m, "%s replicates from it again", cand);
    else
        buf_printf(&m, "%s could not be told to replicate again (%s): check it", cand,
                   json_string_value(json_object_get(rr, "error")));
    event_emit(LOG_LVL_WARN, EV_SWITCHOVER_ROLLED_BACK, f->s.cluster, oldname,
               json_pack("{s:s, s:s, s:s, s:b}", "error", msg, "primary", oldname, "candidate",
                         cand, "candidate_replicating", replicating),
               "%s", buf_str(&m));
    json_object_set_new(extra, "rolled_back", json_true());
    fo_end_op(f, "aborted", false, "failed", buf_str(&m), extra);
    buf_free(&m);
}

/* A switchover failed (not rolled back). */
static void report_switchover_failed(failover_t *f, exec_t *x, const char *msg, json_t *extra)
{
    cluster_t *c = monitor_cluster(f->m);
    const char *cand = c->nodes[f->candidate].name;
    const char *what = fo_kind_str(f->kind);
    if (exec_journal_failed(x)) {
        /* The journal failed: say exactly what ran and what did not. */
        buf_t m = BUF_INIT;
        buf_printf(&m, "%s to %s stopped: %s. ", what, cand, msg);
        fo_switchover_left(f, x, &m);
        event_emit(LOG_LVL_ERROR, EV_SWITCHOVER_FAILED, f->s.cluster, cand,
                   json_pack("{s:s, s:s}", "error", msg, "journal", exec_journal_failed(x)),
                   "%s", buf_str(&m));
        fo_end_op(f, "failed", false, "failed", buf_str(&m), extra);
        buf_free(&m);
        return;
    }
    event_emit(LOG_LVL_ERROR, EV_SWITCHOVER_FAILED, f->s.cluster, cand,
               json_pack("{s:s}", "error", msg),
               "%s to %s failed: %s. Check `failoverctl status %s`; the journal has every step", what,
               cand, msg, f->s.cluster);
    fo_end_op(f, "failed", false, "failed", msg, extra);
}

/* The promote plan (failover) or the switchover plan ended. */
void fo_promote_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud)
{
    failover_t *f = ud;
    json_t *extra = f->kind == OP_SWITCHOVER ? fo_switchover_extra(f, x) : NULL;
    if (outcome == EXEC_DONE) {
        report_done(f, x, extra);
        return;
    }
    if (outcome == EXEC_ROLLED_BACK) {
        report_rolled_back(f, x, msg, extra);
        return;
    }
    if (f->kind == OP_FAILOVER) {
        /* Look at every node afresh before saying what the failure left. */
        fo_keep_steps(f, x);
        free(f->fail_msg);
        f->fail_msg = xstrdup(msg ? msg : "failed");
        f->fail_past_no_return = exec_reached_point_of_no_return(x);
        plan_free(f->plan);
        f->plan = fo_refresh_plan(f, "refresh:after_failure",
                                  "read every reachable node's state afresh to see what the "
                                  "failed step left");
        fo_enter(f, OP_PHASE_REFRESHING, f->fail_msg, NULL, NULL);
        fo_start_exec(f, failure_refreshed);
        return;
    }
    report_switchover_failed(f, x, msg, extra);
}

/* A reliability failover stops when a replica's received set went backwards:
 * nothing was made writable, the replicas' IO threads are stopped. */
void fo_abort_regressed(failover_t *f, json_t *back)
{
    carry_regressed(f, monitor_cluster(f->m), back);
    buf_t who = BUF_INIT;
    size_t k;
    json_t *r;
    json_array_foreach(back, k, r)
        buf_printf(&who, "%s%s lost %s", k ? "; " : "",
                   json_string_value(json_object_get(r, "node")),
                   json_string_value(json_object_get(r, "lost")));
    buf_t err = BUF_INIT;
    buf_printf(&err, "the received set of a replica went backwards during the failover (%s)",
               buf_str(&who));
    event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
               json_pack("{s:s, s:O, s:o}", "error", buf_str(&err), "regressed", back, "writable",
                         json_array()),
               "failover aborted before any promotion: %s. Those transactions were received "
               "and may have been acknowledged to clients, and may be on no other node: the "
               "reliability policy does not promote past them. No node was made writable; the "
               "replicas' IO threads are stopped. Recover them (the old primary's binary log, "
               "another replica) or accept the loss with `failoverctl failover %s --policy "
               "availability`",
               buf_str(&err), f->s.cluster);
    fo_end_op(f, "aborted", false, "failed", buf_str(&err),
           json_pack("{s:b, s:O}", "promoted", false, "regressed", back));
    json_decref(back);
    buf_free(&err);
    buf_free(&who);
}
