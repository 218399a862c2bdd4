/* fostatus.c - what status and `failoverctl plan` show of a cluster's
 * operations. */
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

json_t *failover_plan_json(failover_t *f, const op_request_t *r, char *err, size_t errlen)
{
    cluster_t *c = monitor_cluster(f->m);
    op_kind_t kind = r->kind;
    const char *to = r->to;
    policy_t policy = r->policy_given ? r->policy : f->s.policy;
    plan_opts_t po = f->s.plan;
    if (r->timeout_ms)
        po.switchover_timeout_ms = r->timeout_ms;
    if (c->primary < 0) {
        snprintf(err, errlen, "the primary of %s is not known yet", f->s.cluster);
        return NULL;
    }
    if (to && cluster_find_node_by_name(c, to) < 0) {
        snprintf(err, errlen, "no node named \"%s\" in %s", to, f->s.cluster);
        return NULL;
    }
    elect_result_t *e = elect_run(c, c->primary, policy, to);
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "cluster", f->s.cluster, "kind",
                            fo_kind_str(kind), "policy", policy_str(policy), "primary",
                            c->nodes[c->primary].name, "election", elect_json(c, e));
    /* What failoverd's account lacks, node by node, as last judged; and judged
     * again now, for the next look. */
    json_t *privs = json_object();
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *nd = &c->nodes[i];
        if (nd->unobservable || (nd->grants_missing && nd->grants_missing[0]))
            json_object_set_new(privs, nd->name,
                                json_string(nd->unobservable && nd->denied_privilege
                                                ? nd->denied_privilege
                                                : nd->grants_missing ? nd->grants_missing : ""));
    }
    json_object_set_new(out, "missing_privileges", privs);
    monitor_check_grants(f->m);
    if (kind == OP_FAILOVER) {
        char why[1024];
        bool must = elect_hold(c, e, policy, why, sizeof why) && !r->force;
        json_object_set_new(out, "hold", must ? json_string(why) : json_null());
        json_object_set_new(out, "unseen", json_string(why));
    }
    plan_t *p = NULL;
    char perr[512] = "";
    if (kind == OP_FAILOVER) {
        plan_t *prep = plan_failover_prepare(c, c->primary, policy, &po);
        json_object_set_new(out, "prepare", plan_json(c, prep));
        plan_free(prep);
        p = plan_failover_promote(c, c->primary, e, policy, &po, perr, sizeof perr);
    } else {
        p = e->chosen >= 0 ? plan_switchover(c, c->primary, e->chosen, policy, &po, perr,
                                             sizeof perr)
                           : NULL;
        if (!p && !perr[0])
            snprintf(perr, sizeof perr, "%s", e->why);
    }
    if (p)
        json_object_set_new(out, "plan", plan_json(c, p));
    else
        json_object_set_new(out, "error", json_string(perr));
    char why[512];
    if (kind == OP_FAILOVER && fo_blocked(f, why, sizeof why))
        json_object_set_new(out, "auto_blocked", json_string(why));
    json_object_set_new(out, "note", json_string(kind == OP_FAILOVER
                                                     ? "a real failover elects again after "
                                                       "stopping the replicas' IO threads"
                                                     : "computed from the latest observations"));
    plan_free(p);
    elect_free(e);
    return out;
}

/* A cluster whose journal can't be trusted, or whose last operation was
 * interrupted, is not "healthy" whatever its primary answers: the traffic may
 * point at a node the operation left read-only. Its verdict reads "unknown"
 * (the detector's stays in primary_verdict) until an operator acknowledges. */
static void held_status(failover_t *f, json_t *st)
{
    json_object_set_new(st, "state_unknown",
                        f->state_unknown ? json_string(f->state_unknown) : json_null());
    const char *v = json_string_value(json_object_get(st, "verdict"));
    if (!v)
        return;
    json_object_set_new(st, "primary_verdict", json_string(v));
    if ((!f->state_unknown && !f->interrupted) || f->running || strcmp(v, "healthy") != 0)
        return;
    buf_t b = BUF_INIT;
    if (f->state_unknown)
        buf_printf(&b, "state unknown: %s; check and `failoverctl ack %s`", f->state_unknown,
                   f->s.cluster);
    else
        buf_printf(&b, "state unknown: an operation was interrupted; check and `failoverctl ack "
                       "%s` (the primary answers probes)",
                   f->s.cluster);
    json_object_set_new(st, "verdict", json_string("unknown"));
    json_object_set_new(st, "verdict_reason", json_string(buf_str(&b)));
    buf_free(&b);
}

/* The last phase an interrupted operation journaled ("admitted" at least:
 * its "begin" opens it; older journals have no phases: "unknown"). */
static const char *last_phase(json_t *records)
{
    const char *phase = "unknown";
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *p = json_string_value(json_object_get(rec, "phase"));
        if (p)
            phase = p;
    }
    return phase;
}

void failover_status(failover_t *f, json_t *st)
{
    cluster_t *c = monitor_cluster(f->m);
    json_object_set_new(st, "paused", json_boolean(f->paused));
    if (f->running) {
        char ts[32];
        format_wall_ms(f->started_wall, ts, sizeof ts);
        const char *step = f->exec ? exec_current_step(f->exec) : NULL;
        json_object_set_new(
            st, "failover",
            json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:s, s:b}", "kind", fo_kind_str(f->kind), "state",
                      "running", "step", step, "started", ts, "candidate",
                      f->candidate >= 0 ? c->nodes[f->candidate].name : NULL, "op", f->op,
                      "automatic", f->automatic));
        json_object_set_new(json_object_get(st, "failover"), "phase",
                            json_string(op_phase_str(f->phase)));
        if (f->hold_until) {
            json_t *fo = json_object_get(st, "failover");
            json_object_set_new(fo, "held", json_string(f->hold_why ? f->hold_why : ""));
            json_object_set_new(fo, "held_for_ms",
                                json_integer((json_int_t)(f->hold_until > uv_now(f->loop)
                                                              ? f->hold_until - uv_now(f->loop)
                                                              : 0)));
        }
    } else if (f->interrupted) {
        json_t *first = json_array_get(f->interrupted, 0);
        json_t *fo = json_pack("{s:O, s:s, s:O, s:O}", "kind", json_object_get(first, "kind"),
                               "state", "interrupted", "started", json_object_get(first, "time"),
                               "op", json_object_get(first, "op"));
        json_t *sum = fo_interrupted_summary(f->interrupted);
        json_object_update(fo, sum);
        json_object_set_new(fo, "phase", json_string(last_phase(f->interrupted)));
        json_decref(sum);
        json_object_set_new(st, "failover", fo);
    } else {
        json_object_set_new(st, "failover", json_null());
    }
    uint64_t until = f->last_failover_wall && !f->last_acked
                         ? f->last_failover_wall + f->s.failover_block_ms
                         : 0;
    if (until > wall_now_ms()) {
        char ts[32];
        format_wall_ms(until, ts, sizeof ts);
        json_object_set_new(st, "blocked_until", json_string(ts));
    } else {
        json_object_set_new(st, "blocked_until", json_null());
    }
    char why[512];
    json_object_set_new(st, "auto_blocked", fo_blocked(f, why, sizeof why) ? json_string(why) : json_null());
    json_object_set(st, "last_operation", f->last_op ? f->last_op : json_null());
    held_status(f, st);
    fo_bgfence_status(f, st);
    fo_shared_status(f, st);
}
