/* plan_switchover.c - a switchover's plan, and the rest of an interrupted one (see plan.h). */
#include "plan.h"
#include "plan_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "topology.h"

/* The old primary made read-only: writes still running after the long-writes
 * bound are killed or end the step (kill decides). */
static step_t *block_writes_step(plan_t *p, const cluster_t *c, int group, int node, bool kill,
                                 const plan_opts_t *o)
{
    step_t *s = STEP(p, STEP_BLOCK_WRITES, group, node,
                     o->long_writes_timeout_ms + o->step_timeout_ms, STEP_ROLE_BLOCK_WRITES,
                     plan__nm(c, node));
    plan__set_sql(s, flavor_sql_set_read_only(&p->flavors[node], FLAVOR_SUPER_READ_ONLY));
    s->long_writes_ms = o->long_writes_timeout_ms;
    s->kill_long_writes = kill;
    return s;
}

/* Reliability (no acknowledged write may be lost; writes pause):
 *   1. switchover_before hooks (a veto stops here);
 *   2. the candidate's lag under switchover_lag_max, polled until the timeout;
 *   3. the old primary read-only (super_read_only where there is one): writes
 *      still running after long_writes_timeout are killed, or the switchover
 *      gives up (long_writes = wait);
 *   4. the old primary's GTID state captured;
 *   5. the candidate waited for until it executed all of it;
 *   -- everything up to here is undone on failure: the old primary writable
 *      again, the candidate replicating; no traffic was moved --
 *   6. the candidate promoted; 7. post_promotion hooks move traffic;
 *   8. the replicas and the old primary repointed, then verified;
 *   9. every node probed afresh; switchover_after hooks.
 * Availability (writes come back first; what the old primary had beyond the
 * candidate is reported as possibly lost):
 *   1. hooks; 2. the candidate's replication stopped and its GTID state read
 *   (what it keeps); -- undone on failure --
 *   3. promoted; 4. traffic moved; 5. the old primary read-only, long writes
 *   killed after long_writes_timeout whatever long_writes says (it must not
 *   stay writable beside the new primary), and its GTID state read; 6.-7. as
 *   8.-9. above.
 * Steps 1-5 (reliability) and 1-2 (availability) all end within
 * switchover_timeout of the start. */
/* Reliability, before the point of no return: lag, read-only, capture, sync. */
static void reliable_pre_steps(const cluster_t *c, plan_t *p, int *g, const plan_opts_t *o)
{
    int cand = p->candidate, old_primary = p->old_primary;
    step_t *s = STEP(p, STEP_CHECK_LAG, (*g)++, cand, o->switchover_timeout_ms, STEP_ROLE_CHECK_LAG,
                     plan__nm(c, cand));
    s->max_lag_ms = o->switchover_lag_max_ms;
    plan__describe(s, "wait until %s is at most %llu ms behind, with its SQL thread running",
             plan__nm(c, cand), (unsigned long long)o->switchover_lag_max_ms);
    s = block_writes_step(p, c, (*g)++, old_primary, o->long_writes_kill, o);
    plan__describe(s, "make the old primary %s read-only: writes are blocked from here (writes "
                "still running after %llu ms are %s)",
             plan__nm(c, old_primary), (unsigned long long)o->long_writes_timeout_ms,
             o->long_writes_kill ? "killed" : "waited for no longer: the switchover is "
                                              "rolled back");
    s = STEP(p, STEP_CAPTURE_GTID, (*g)++, old_primary, o->step_timeout_ms, STEP_ROLE_CAPTURE,
             plan__nm(c, old_primary));
    plan__describe(s, "read the GTID state of %s", plan__nm(c, old_primary));
    s = STEP(p, STEP_WAIT_GTID, (*g)++, cand, o->switchover_timeout_ms, STEP_ROLE_SYNC,
             plan__nm(c, cand));
    plan__describe(s, "wait until %s executed all of it", plan__nm(c, cand));
}

/* Availability, before the point of no return: the candidate stops and says what it keeps. */
static void available_pre_steps(const cluster_t *c, plan_t *p, int *g, const plan_opts_t *o)
{
    int cand = p->candidate;
    step_t *s = STEP(p, STEP_SQL, (*g)++, cand, o->step_timeout_ms, STEP_ROLE_STOP_REPLICA,
                     plan__nm(c, cand));
    plan__set_sql(s, flavor_sql_stop_replica(&p->flavors[cand]));
    plan__describe(s, "stop replication on %s without waiting for it to catch up",
                   plan__nm(c, cand));
    s = STEP(p, STEP_CAPTURE_GTID, (*g)++, cand, o->step_timeout_ms, STEP_ROLE_CAPTURE,
             plan__nm(c, cand));
    s->optional = true;
    plan__describe(s, "read the GTID state %s keeps, to report what it lacks", plan__nm(c, cand));
}

/* Availability, after the promotion: the old primary read-only and read. */
static void available_fence_steps(const cluster_t *c, plan_t *p, int *g, const plan_opts_t *o)
{
    int cand = p->candidate, old_primary = p->old_primary;
    step_t *s = block_writes_step(p, c, (*g)++, old_primary, true, o);
    plan__describe(s, "make the old primary %s read-only (writes still running after %llu ms are "
                "killed)",
             plan__nm(c, old_primary), (unsigned long long)o->long_writes_timeout_ms);
    s = STEP(p, STEP_CAPTURE_GTID, (*g)++, old_primary, o->step_timeout_ms, STEP_ROLE_CAPTURE,
             plan__nm(c, old_primary));
    s->optional = true;
    plan__describe(s, "read the GTID state of %s to report what %s lacks", plan__nm(c, old_primary),
             plan__nm(c, cand));
}

/* Before the promotion everything can be undone: the old primary writable
 * again; the candidate replicating again where the switchover stopped it
 * (availability). Reliability never touches the candidate before the
 * promotion, and leaves its replication as it found it (an applier an
 * operator stopped stays stopped). */
static void rollback_steps(const cluster_t *c, plan_t *p, const plan_opts_t *o)
{
    int cand = p->candidate, old_primary = p->old_primary;
    step_t *s = plan__add_to(&p->rollback, &p->n_rollback, STEP_SQL, 0, old_primary,
                             o->step_timeout_ms, STEP_ROLE_ROLLBACK_WRITES, plan__nm(c, old_primary));
    plan__set_sql(s, flavor_sql_set_read_only(&p->flavors[old_primary], FLAVOR_WRITABLE));
    plan__describe(s, "make %s writable again", plan__nm(c, old_primary));
    if (p->policy != POLICY_RELIABILITY) {
        s = plan__add_to(&p->rollback, &p->n_rollback, STEP_SQL, 0, cand, o->step_timeout_ms,
                   STEP_ROLE_ROLLBACK_REPLICA, plan__nm(c, cand));
        plan__set_sql(s, flavor_sql_start_replica(&p->flavors[cand]));
        s->optional = true;
        plan__describe(s, "make %s replicate again", plan__nm(c, cand));
    }
}

/* The dual primary (topology.h): the candidate is the old primary's partner.
 * Its promotion keeps its replication from the old primary: under
 * reliability the old primary is read-only and the candidate has all of it,
 * so that channel brings nothing until the roles flip back; under
 * availability it was stopped before the promotion and stays stopped (the
 * old primary may hold what the candidate lacks: that is reported, and
 * nothing pulls it in behind the operator's back). */
static void dual_promote_sql(const plan_t *p, int node, const plan_opts_t *o, step_t *s)
{
    const flavor_t *f = &p->flavors[node];
    buf_t b = BUF_INIT;
    if (o->semisync && p->policy == POLICY_RELIABILITY)
        buf_printf(&b, "%s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_SOURCE, true));
    if (o->semisync)
        buf_printf(&b, "%s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_REPLICA, false));
    buf_puts(&b, flavor_sql_set_read_only(f, FLAVOR_WRITABLE));
    plan__set_sql(s, buf_str(&b));
    buf_free(&b);
}

/* The dual primary's old primary already replicates from the candidate: it
 * is not repointed. Its replication is restarted (no CHANGE) only where
 * something must change: with semi-sync, its source side off and its
 * replica side on, which the receiver takes up when it reconnects; or when
 * it was not running. That happens after traffic moved (group rg), as an
 * old primary's repoint does, unless it is to be the candidate's only
 * replica: then, under reliability, before the promotion (group eg: it is
 * read-only by then), so that it acknowledges the candidate's first commits
 * (see plan__describe_repoint). Then it is verified like any repointed node. */
static void dual_old_primary_steps(const cluster_t *c, plan_t *p, int eg, int rg, int vg,
                                   const plan_opts_t *o)
{
    int cand = p->candidate, old = p->old_primary;
    const observation_t *ob = &c->nodes[old].last_ok;
    const flavor_t *f = &p->flavors[old];
    bool running = ob->io == IO_YES && ob->sql_running, others = false;
    for (size_t i = 0; i < c->n_nodes; i++)
        others = others || ((int)i != cand && (int)i != old && c->nodes[i].up &&
                            plan__follows(c, (int)i, old));
    step_t *s;
    if (o->semisync || !running) {
        s = STEP(p, STEP_SQL, eg >= 0 && !others ? eg : rg, old, o->step_timeout_ms,
                 STEP_ROLE_RESTART_REPLICA, plan__nm(c, old));
        buf_t b = BUF_INIT;
        buf_printf(&b, "%s; ", flavor_sql_stop_replica(f));
        if (o->semisync)
            buf_printf(&b, "%s; %s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_SOURCE, false),
                       flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_REPLICA, true));
        buf_puts(&b, flavor_sql_start_replica(f));
        plan__set_sql(s, buf_str(&b));
        buf_free(&b);
        s->optional = true;
        plan__describe(s, "restart %s's replication from its dual partner %s (not repointed)%s",
                       plan__nm(c, old), plan__nm(c, cand),
                       o->semisync ? ", as a semi-sync replica" : "");
    }
    s = STEP(p, STEP_VERIFY, vg, old, o->verify_timeout_ms, STEP_ROLE_VERIFY, plan__nm(c, old));
    s->source = cand;
    s->optional = true;
    plan__describe(s, "check that %s replicates from %s", plan__nm(c, old), plan__nm(c, cand));
}

/* The promotion step of a switchover, and where the dual primary differs. */
static void promote_step(const cluster_t *c, plan_t *p, int g, bool dual, const plan_opts_t *o)
{
    int cand = p->candidate;
    step_t *s = STEP(p, STEP_SQL, g, cand, o->step_timeout_ms, STEP_ROLE_PROMOTE, plan__nm(c, cand));
    if (!dual) {
        plan__promote_sql(p, cand, o, s);
        plan__describe(s, "promote %s: forget replication, make it writable", plan__nm(c, cand));
        return;
    }
    dual_promote_sql(p, cand, o, s);
    if (p->policy == POLICY_RELIABILITY)
        plan__describe(s, "promote %s: make it writable; it keeps replicating from its dual "
                          "partner %s (the pair stays, roles swapped)",
                       plan__nm(c, cand), plan__nm(c, p->old_primary));
    else
        plan__describe(s, "promote %s: make it writable; its replication from its dual partner "
                          "%s stays stopped (what %s had beyond it is reported)",
                       plan__nm(c, cand), plan__nm(c, p->old_primary),
                       plan__nm(c, p->old_primary));
}

plan_t *plan_switchover(const cluster_t *c, int old_primary, int cand, policy_t policy,
                        const plan_opts_t *o, char *err, size_t errlen)
{
    plan_t *p = plan__new(c, PLAN_SWITCHOVER, policy, old_primary);
    p->candidate = cand;
    p->deadline_ms = o->switchover_timeout_ms;
    if (old_primary < 0 || !c->nodes[old_primary].up || !p->known[old_primary]) {
        snprintf(err, errlen, "the primary is not reachable: a switchover needs a live primary "
                              "(use failover for a dead one)");
        goto fail;
    }
    if (cand < 0 || cand == old_primary || !c->nodes[cand].up || !p->known[cand] ||
        !plan__follows(c, cand, old_primary)) {
        snprintf(err, errlen, "%s is not a reachable replica of the primary %s",
                 cand >= 0 ? plan__nm(c, cand) : "the candidate", plan__nm(c, old_primary));
        goto fail;
    }
    bool reliable = policy == POLICY_RELIABILITY;
    int g = 0;
    plan__add_hook(p, g++, FO_HOOK_SWITCHOVER_BEFORE, false, o);
    if (reliable)
        reliable_pre_steps(c, p, &g, o);
    else
        available_pre_steps(c, p, &g, o);
    p->point_of_no_return = p->n;
    int eg = reliable ? g++ : -1; /* see describe_repoint */
    bool dual = topology_dual_partner(c, old_primary) == cand;
    promote_step(c, p, g++, dual, o);
    plan__add_hook(p, g++, FO_HOOK_POST_PROMOTION, true, o);
    if (!reliable)
        available_fence_steps(c, p, &g, o);
    int rg = g++, vg = g++;
    if (!plan__repoint_steps(c, p, dual ? PLAN_REPOINT_SWITCHOVER_DUAL : PLAN_REPOINT_SWITCHOVER,
                             eg, rg, vg, o, err, errlen))
        goto fail;
    if (dual)
        dual_old_primary_steps(c, p, eg, rg, vg, o);
    step_t *s;
    plan__semisync_step(c, p, g++, cand, o);
    /* The reply then describes the cluster as it is now, not as last probed. */
    s = STEP(p, STEP_REFRESH, g++, -1, o->step_timeout_ms, STEP_ROLE_REFRESH, NULL);
    s->optional = true;
    plan__describe(s, "read every node's state afresh");
    plan__add_hook(p, g++, FO_HOOK_SWITCHOVER_AFTER, true, o);
    plan__sort_by_group(p);
    rollback_steps(c, p, o);

    buf_t b = BUF_INIT;
    buf_printf(&b, "switchover of %s (%s) from %s to %s%s", c->name, policy_str(policy),
               plan__nm(c, old_primary), plan__nm(c, cand),
               dual ? " (dual primary: a role flip, the pair kept)" : "");
    p->summary = buf_steal(&b);
    return p;
fail:
    plan_free(p);
    return NULL;
}

/* Finishing a switchover the daemon died in, at or after its promotion
 * (resume.h decides when that is safe):
 *   1. the candidate promoted again, only when its promotion was not seen to
 *      take effect (the statements are the promotion's own and may run twice);
 *   2. post_promotion hooks move traffic;
 *   3. the replicas of the old primary and the old primary itself repointed
 *      at the new primary, then verified;
 *   4. every node probed afresh; switchover_after hooks.
 * Nothing here can be rolled back: the point of no return is the start. */
plan_t *plan_switchover_resume(const cluster_t *c, int old_primary, int cand, policy_t policy,
                               bool promote, const plan_opts_t *o, char *err, size_t errlen)
{
    return plan_op_resume(c, old_primary, cand, policy, promote, false, o, err, errlen);
}

plan_t *plan_op_resume(const cluster_t *c, int old_primary, int cand, policy_t policy,
                       bool promote, bool failover, const plan_opts_t *o, char *err,
                       size_t errlen)
{
    plan_t *p = plan__new(c, PLAN_SWITCHOVER, policy, old_primary);
    p->candidate = cand;
    if (cand < 0 || cand == old_primary || !c->nodes[cand].up || !p->known[cand]) {
        snprintf(err, errlen, "%s can't be reached",
                 cand >= 0 ? plan__nm(c, cand) : "the candidate");
        goto fail;
    }
    int g = 0;
    step_t *s;
    if (promote) {
        s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, STEP_ROLE_PROMOTE, plan__nm(c, cand));
        plan__promote_sql(p, cand, o, s);
        plan__describe(s, "promote %s again: forget replication, make it writable",
                       plan__nm(c, cand));
    }
    plan__add_hook(p, g++, FO_HOOK_POST_PROMOTION, true, o);
    int rg = g++, vg = g++;
    if (!plan__repoint_steps(c, p, PLAN_REPOINT_RESUME, -1, rg, vg, o, err, errlen))
        goto fail;
    s = STEP(p, STEP_REFRESH, g++, -1, o->step_timeout_ms, STEP_ROLE_REFRESH, NULL);
    s->optional = true;
    plan__describe(s, "read every node's state afresh");
    plan__add_hook(p, g++, failover ? FO_HOOK_POST_FAILOVER : FO_HOOK_SWITCHOVER_AFTER, true, o);
    plan__sort_by_group(p);
    p->point_of_no_return = 0;
    buf_t b = BUF_INIT;
    buf_printf(&b, "the rest of the interrupted %s of %s (%s) from %s to %s",
               failover ? "failover" : "switchover", c->name,
               policy_str(policy), old_primary >= 0 ? plan__nm(c, old_primary) : "?",
               plan__nm(c, cand));
    p->summary = buf_steal(&b);
    return p;
fail:
    plan_free(p);
    return NULL;
}
