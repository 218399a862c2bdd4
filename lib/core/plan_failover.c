/* plan_failover.c - the two phases of a failover's plan (see plan.h). */
#include "plan.h"
#include "plan_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* "SET GLOBAL a = x, GLOBAL b = y" as "SET GLOBAL a = @@GLOBAL.a, GLOBAL b =
 * @@GLOBAL.b": the same privileges, no change. */
static void noop_set(buf_t *out, const char *stmt)
{
    buf_puts(out, "SET ");
    const char *p = stmt + 4; /* after "SET " */
    bool first = true;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncmp(p, "GLOBAL ", 7) != 0)
            break;
        p += 7;
        size_t n = strcspn(p, " =");
        buf_printf(out, "%sGLOBAL %.*s = @@GLOBAL.%.*s", first ? "" : ", ", (int)n, p, (int)n, p);
        first = false;
        p += n;
        p += strcspn(p, ",");
    }
}

/* The stop_io step of one replica: nothing more may arrive from the old
 * primary, and everything it received must be applied, never discarded.
 *
 * The applier is started as well: a replica whose SQL thread was stopped (by
 * hand, for a backup) would otherwise never apply what it received, and the
 * failover waits for exactly that. It is started FIRST, while the IO thread
 * still runs: MariaDB, replicating with GTID (MASTER_USE_GTID = slave_pos or
 * current_pos), deletes every relay log when a replication thread is started
 * while both are stopped (start_slave_threads in sql/slave.cc), and resets
 * what the IO thread had received (Gtid_IO_Pos) to what was applied. "Stop
 * IO, then start SQL" on a replica whose applier was stopped would throw
 * away everything it had received and acknowledged; "start SQL, then stop
 * IO" never has both threads stopped. MySQL keeps its relay log either way.
 *
 * When the last observation shows both threads already stopped on MariaDB,
 * starting either one would discard the relay log: the replica is left as it
 * is (its IO thread is stopped already), and what it received but did not
 * apply stays on disk for the operator. Under reliability the wait for it to
 * apply then runs out if it is the candidate, and nothing is promoted. */
static void stop_io_sql(const cluster_t *c, const plan_t *p, int i, step_t *s)
{
    const flavor_t *f = &p->flavors[i];
    const observation_t *ob = &c->nodes[i].last_ok;
    if (f->family == FAMILY_MARIADB && ob->io == IO_NO && !ob->sql_running) {
        plan__set_sql(s, flavor_sql_stop_io_thread(f));
        plan__describe(s,
                 "leave %s's replication stopped: both its threads are stopped, and starting "
                 "either would make the server discard the relay log it has not applied",
                 plan__nm(c, i));
        return;
    }
    buf_t sql = BUF_INIT;
    buf_printf(&sql, "%s; %s", flavor_sql_start_sql_thread(f),
               flavor_sql_stop_io_thread_lost_source(f));
    plan__set_sql(s, buf_str(&sql));
    buf_free(&sql);
    plan__describe(s,
             "let %s's SQL thread apply what it received, then stop its IO thread so nothing "
             "more arrives from the old primary (in this order: the relay log is kept)",
             plan__nm(c, i));
}

/* A failover stops replication on replicas whose source is dead: on MySQL,
 * an applier stuck in a group that will never complete is ended first
 * (flavor_sql_end_applier_group), so that the STOP in s does not wait a
 * minute for it. What it had of the group comes again from the new source. */
void plan__end_applier_first(const plan_t *p, int node, step_t *s)
{
    const char *end = flavor_sql_end_applier_group(&p->flavors[node]);
    if (!end)
        return;
    char **texts[2] = {&s->sql, &s->sql_log};
    for (int k = 0; k < 2; k++) {
        if (!*texts[k])
            continue;
        buf_t b = BUF_INIT;
        buf_printf(&b, "%s; %s", end, *texts[k]);
        free(*texts[k]);
        *texts[k] = buf_steal(&b);
    }
}

/* The fence of an old primary that did not answer its last probe (crashed,
 * cut off, hung). Waiting for it would only hold the election up: a silent
 * node can't be fenced by SQL. So its fence starts here and goes on in the
 * background, retried, for at most fence_timeout, while the failover elects
 * and promotes. That is safe because nothing it could still do reaches
 * anyone: the replicas' IO threads are stopped in this same group (it gets no
 * semi-sync acknowledgement, so no commit it takes is acknowledged while
 * semi-sync is on), and the promote plan waits for this fence when the node
 * answered meanwhile and is being fenced (fence_wait, STEP_FENCE_BG_WAIT).
 * A node that returns only after the promotion is fenced the moment its
 * pending connection is served, or by the rejoin watch (rejoin.h). */
static void fence_background_step(const cluster_t *c, plan_t *p, int old_primary,
                                  const plan_opts_t *o)
{
    step_t *s = STEP(p, STEP_FENCE, 1, old_primary, o->step_timeout_ms, STEP_ROLE_FENCE,
                     plan__nm(c, old_primary));
    plan__set_sql(s, flavor_sql_set_read_only(&p->flavors[old_primary], FLAVOR_SUPER_READ_ONLY));
    s->optional = true;
    s->background = STEP_FENCE_BG_START; /* bounded by fence_timeout, in the background */
    plan__describe(s,
                   "start fencing the old primary %s in the background: it does not answer, "
                   "and the failover does not wait for it",
                   plan__nm(c, old_primary));
}

plan_t *plan_failover_prepare(const cluster_t *c, int old_primary, policy_t policy,
                              const plan_opts_t *o)
{
    plan_t *p = plan__new(c, PLAN_FAILOVER_PREPARE, policy, old_primary);
    plan__add_hook(p, 0, FO_HOOK_PRE_FAILOVER, false, o);
    for (size_t i = 0; i < c->n_nodes; i++) {
        /* An unobservable replica is reachable: its IO thread is stopped as
         * well, if the account may (otherwise it goes on replicating from the
         * old primary). */
        if ((int)i == old_primary || !(c->nodes[i].up || c->nodes[i].unobservable) ||
            !p->known[i] || !plan__in_tree(c, (int)i, old_primary))
            continue;
        step_t *s =
            STEP(p, STEP_SQL, 1, (int)i, o->step_timeout_ms, STEP_ROLE_STOP_IO, plan__nm(c, (int)i));
        stop_io_sql(c, p, (int)i, s);
        s->optional = true;
    }
    if (old_primary >= 0 && p->known[old_primary]) {
        /* An old primary that still answers (a failover forced while its
         * replicas lost it, not failoverd) may have commits waiting for a
         * semi-sync acknowledgement no replica will send. A plain read-only
         * queues behind them until the semi-sync timeout, when the server
         * acknowledges them to their clients although only it has them. It
         * is fenced as a returning primary is: read-only queued, then its
         * client sessions cut off so that no waiting commit is ever
         * acknowledged, then (MySQL) the waits ended (docs/recovery.md, "A
         * hung primary wakes up"). A primary that did not answer its last
         * probe is fenced in the background (fence_background_step). */
        bool answers = c->nodes[old_primary].up;
        if (!answers) {
            fence_background_step(c, p, old_primary, o);
            goto hook;
        }
        /* It answers, so it is not held up for nothing; ending MySQL's waits
         * takes about a second (rejoin_fence.c). Bounded by step_timeout. */
        step_t *s = STEP(p, STEP_FENCE, 1, old_primary, o->step_timeout_ms, STEP_ROLE_FENCE,
                         plan__nm(c, old_primary));
        plan__set_sql(s,
                      flavor_sql_set_read_only(&p->flavors[old_primary], FLAVOR_SUPER_READ_ONLY));
        s->optional = true;
        plan__describe(s,
                 "make the old primary %s read-only, cutting off its client sessions so "
                 "that none of their commits is acknowledged",
                 plan__nm(c, old_primary));
    }
hook:;
    step_t *h = STEP(p, STEP_HOOK, 1, old_primary, o->hook_timeout_ms, STEP_ROLE_HOOK, "fence");
    h->hook = FO_HOOK_FENCE;
    h->optional = true;
    plan__describe(h, "run the fence hooks (release the VIP, STONITH)");
    step_t *r = STEP(p, STEP_REFRESH, 2, -1, o->step_timeout_ms, STEP_ROLE_REFRESH, NULL);
    plan__describe(r, "read every reachable replica's state afresh and elect the new primary");
    buf_t b = BUF_INIT;
    buf_printf(&b, "failover of %s (%s): stop the replicas' IO threads, fence %s, then elect",
               c->name, policy_str(policy), old_primary >= 0 ? plan__nm(c, old_primary) : "?");
    p->summary = buf_steal(&b);
    return p;
}

/* Every check that could still abort comes before anything is changed on
 * the candidate: the statements its promotion needs rights for (read_only,
 * semi-sync) are tried first with the values they have, which changes
 * nothing. (RESET REPLICA ALL has no such form: the election excludes a node
 * where the account's grants lack what it needs.) */
static void check_step(const cluster_t *c, plan_t *p, int g, int cand, const plan_opts_t *o)
{
    step_t *chk = STEP(p, STEP_SQL, g, cand, o->step_timeout_ms, STEP_ROLE_CHECK, plan__nm(c, cand));
    buf_t cs = BUF_INIT;
    noop_set(&cs, flavor_sql_set_read_only(&p->flavors[cand], FLAVOR_WRITABLE));
    if (o->semisync) {
        buf_puts(&cs, "; ");
        noop_set(&cs, flavor_sql_set_semisync(&p->flavors[cand], FLAVOR_SEMISYNC_SOURCE, true));
        buf_puts(&cs, "; ");
        noop_set(&cs, flavor_sql_set_semisync(&p->flavors[cand], FLAVOR_SEMISYNC_REPLICA, false));
    }
    plan__set_sql(chk, buf_str(&cs));
    buf_free(&cs);
    plan__describe(
        chk,
        "check that failoverd may switch %s's read_only%s, by setting them to the values "
        "they have",
        plan__nm(c, cand), o->semisync ? " and semi-sync" : "");
}

/* Let the replicas apply what they received (bounded). The other replicas
 * wait in group g_others, beside the candidate's check (none of these change
 * anything, and the executor runs one statement per node at a time); the
 * candidate waits in g_cand, after its check. */
static void apply_steps(const cluster_t *c, plan_t *p, int g_others, int g_cand,
                        const elect_result_t *e, const plan_opts_t *o)
{
    bool reliable = p->policy == POLICY_RELIABILITY;
    int cand = p->candidate;
    for (size_t k = 0; k < e->n; k++) {
        const elect_candidate_t *ec = &e->c[k];
        int i = ec->node;
        bool is_source = false;
        for (size_t s = 0; s < e->n_catchup; s++)
            is_source = is_source || e->catchup[s] == i;
        if (!c->nodes[i].up || !p->known[i] || ec->errant[0] || !ec->received[0] ||
            !plan__in_tree(c, i, p->old_primary))
            continue;
        if (!reliable && i != cand)
            continue;
        step_t *s =
            STEP(p, STEP_WAIT_GTID, i == cand ? g_cand : g_others, i,
                 reliable ? o->wait_apply_timeout_ms
                          : (o->wait_apply_timeout_ms < 1000 ? o->wait_apply_timeout_ms : 1000),
                 STEP_ROLE_APPLY, plan__nm(c, i));
        s->gtid = xstrdup(ec->received);
        s->optional = !(reliable && (i == cand || is_source));
        plan__describe(s, "wait until %s applied everything it received (%s)", plan__nm(c, i),
                       ec->received);
    }
}

/* Catch up from the replicas that hold what the candidate lacks. */
static bool catchup_steps(const cluster_t *c, plan_t *p, int *g, const elect_result_t *e,
                          const plan_opts_t *o, char *err, size_t errlen)
{
    int cand = p->candidate;
    for (size_t k = 0; k < e->n_catchup; k++) {
        int src = e->catchup[k];
        const char *target = "";
        for (size_t x = 0; x < e->n; x++)
            if (e->c[x].node == src)
                target = e->c[x].received;
        step_t *s = STEP(p, STEP_SQL, (*g)++, cand, o->step_timeout_ms, STEP_ROLE_CATCHUP_START,
                         plan__nm(c, src));
        if (!plan__repoint_sql(c, p, cand, src, false, o, s, err, errlen))
            return false;
        plan__end_applier_first(p, cand, s);
        plan__describe(s, "replicate %s from %s to catch up", plan__nm(c, cand), plan__nm(c, src));
        s = STEP(p, STEP_WAIT_GTID, (*g)++, cand, o->catchup_timeout_ms, STEP_ROLE_CATCHUP_WAIT,
                 plan__nm(c, src));
        s->gtid = xstrdup(target);
        plan__describe(s, "wait until %s has %s", plan__nm(c, cand), target);
    }
    return true;
}

/* Salvage (salvage.h): what the old primary's binlog holds beyond the state
 * just captured goes to the candidate while it is still read-only; then its
 * state is read again, so that what is reported lost counts what was saved.
 * Optional: a host that does not answer costs salvage_timeout, no more. */
static int add_salvage(const cluster_t *c, plan_t *p, int g, int cand, int old_primary,
                       const plan_opts_t *o)
{
    step_t *s = STEP(p, STEP_SALVAGE, g++, cand, o->salvage_timeout_ms + 2000, STEP_ROLE_SALVAGE,
                     plan__nm(c, cand));
    s->source = old_primary;
    s->optional = !o->salvage_gate;
    if (o->salvage_gate)
        plan__describe(s,
                       "apply to %s what %s's binlog holds beyond it (salvage_command); it must "
                       "then hold everything reliability's hold waited for (%s)",
                       plan__nm(c, cand), plan__nm(c, old_primary), o->salvage_gate);
    else
        plan__describe(s, "apply to %s what %s's binlog holds beyond it (salvage_command)",
                       plan__nm(c, cand), plan__nm(c, old_primary));
    if (p->flavors[cand].super_read_only) {
        /* The salvage lifts super_read_only for its session (salvage.h). */
        s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, STEP_ROLE_SALVAGE_READ_ONLY,
                 plan__nm(c, cand));
        plan__set_sql(s, flavor_sql_set_read_only(&p->flavors[cand], FLAVOR_SUPER_READ_ONLY));
        plan__describe(s, "make %s super read-only again after the salvage", plan__nm(c, cand));
    }
    s = STEP(p, STEP_CAPTURE_GTID, g++, cand, o->step_timeout_ms, STEP_ROLE_CAPTURE_SALVAGED,
             plan__nm(c, cand));
    s->optional = true;
    plan__describe(s, "read the GTID state %s keeps after the salvage", plan__nm(c, cand));
    return g;
}

/* When the old primary did not answer as the failover began, its fence runs
 * in the background (fence_background_step): should it answer now, it is
 * made read-only before anything else is made writable. Without a fence in
 * the background (it answered, and was fenced before the election), the
 * step ends at once. */
static void fence_wait_step(const cluster_t *c, plan_t *p, int g, int old_primary,
                            const plan_opts_t *o)
{
    step_t *s = STEP(p, STEP_FENCE, g, old_primary, o->step_timeout_ms, STEP_ROLE_FENCE_WAIT,
                     plan__nm(c, old_primary));
    plan__set_sql(s, flavor_sql_set_read_only(&p->flavors[old_primary], FLAVOR_SUPER_READ_ONLY));
    s->optional = true;
    s->background = STEP_FENCE_BG_WAIT;
    plan__describe(s,
                   "if the old primary %s answers again, wait until its fence made it "
                   "read-only; while it is silent, go on",
                   plan__nm(c, old_primary));
}

plan_t *plan_failover_promote(const cluster_t *c, int old_primary, const elect_result_t *e,
                              policy_t policy, const plan_opts_t *o, char *err, size_t errlen)
{
    if (e->chosen < 0) {
        snprintf(err, errlen, "%s", e->why[0] ? e->why : "no replica can be promoted");
        return NULL;
    }
    plan_t *p = plan__new(c, PLAN_FAILOVER_PROMOTE, policy, old_primary);
    int cand = e->chosen;
    p->candidate = cand;
    if (!p->known[cand]) {
        snprintf(err, errlen, "the server version of %s is unknown", plan__nm(c, cand));
        plan_free(p);
        return NULL;
    }
    bool reliable = policy == POLICY_RELIABILITY;
    int g = 3;
    check_step(c, p, g, cand, o);
    apply_steps(c, p, g, g + 1, e, o);
    g += 2;
    if (!catchup_steps(c, p, &g, e, o, err, errlen))
        goto fail;

    /* What the candidate holds once it stops replicating is what the cluster
     * keeps: it is read before anyone can write to it, so that what the other
     * nodes had beyond it is known and reported (availability promotes without
     * waiting for everything to be applied; a relay log not applied by then is
     * dropped with the replication settings). */
    step_t *s =
        STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, STEP_ROLE_STOP_REPLICA, plan__nm(c, cand));
    plan__set_sql(s, flavor_sql_stop_replica(&p->flavors[cand]));
    plan__end_applier_first(p, cand, s);
    plan__describe(s, "stop replication on %s", plan__nm(c, cand));
    s = STEP(p, STEP_CAPTURE_GTID, g++, cand, o->step_timeout_ms, STEP_ROLE_CAPTURE, plan__nm(c, cand));
    s->optional = true;
    plan__describe(s, "read the GTID state %s keeps, to report what the others had beyond it",
             plan__nm(c, cand));
    if (o->salvage && old_primary >= 0)
        g = add_salvage(c, p, g, cand, old_primary, o);

    if (old_primary >= 0 && p->known[old_primary])
        fence_wait_step(c, p, g++, old_primary, o);
    p->point_of_no_return = p->n;
    /* Reliability: the replicas follow the candidate before it is writable
     * (see describe_repoint). */
    int eg = reliable ? g++ : -1;
    s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, STEP_ROLE_PROMOTE, plan__nm(c, cand));
    plan__promote_sql(p, cand, o, s);
    plan__describe(s, "promote %s: forget replication, make it writable", plan__nm(c, cand));
    plan__add_hook(p, g++, FO_HOOK_POST_PROMOTION, true, o);
    int rg = g++, vg = g++;
    if (!plan__repoint_steps(c, p, PLAN_REPOINT_FAILOVER, eg, rg, vg, o, err, errlen))
        goto fail;
    plan__semisync_step(c, p, g++, cand, o);
    plan__add_hook(p, g++, FO_HOOK_POST_FAILOVER, true, o);
    plan__sort_by_group(p);
    buf_t b = BUF_INIT;
    buf_printf(&b, "failover of %s (%s): %s", c->name, policy_str(policy), e->why);
    p->summary = buf_steal(&b);
    return p;
fail:
    plan_free(p);
    return NULL;
}
