/* plan.c - see plan.h. */
#include "plan.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gtid.h"
#include "tls.h"

const char *step_kind_str(step_kind_t k)
{
    switch (k) {
    case STEP_SQL: return "sql";
    case STEP_WAIT_GTID: return "wait_gtid";
    case STEP_CAPTURE_GTID: return "capture_gtid";
    case STEP_CHECK_LAG: return "check_lag";
    case STEP_HOOK: return "hook";
    case STEP_REFRESH: return "refresh";
    case STEP_VERIFY: return "verify";
    case STEP_BLOCK_WRITES: return "block_writes";
    case STEP_FENCE: return "fence";
    }
    return "?";
}

static char *vfmt(const char *fmt, va_list ap)
{
    buf_t b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    return buf_steal(&b);
}

static plan_t *plan_new(const cluster_t *c, plan_kind_t kind, policy_t policy, int old_primary)
{
    plan_t *p = xcalloc(1, sizeof *p);
    p->kind = kind;
    p->policy = policy;
    p->old_primary = old_primary;
    p->candidate = -1;
    p->flavors = xcalloc(c->n_nodes, sizeof *p->flavors);
    p->known = xcalloc(c->n_nodes, sizeof *p->known);
    for (size_t i = 0; i < c->n_nodes; i++) {
        const observation_t *o = &c->nodes[i].last_ok;
        p->known[i] = o->ok && o->version && flavor_detect(&p->flavors[i], o->version, NULL, NULL, 0);
    }
    return p;
}

/* Appends a step to the list (steps or rollback) and returns it for filling in. */
static step_t *add_to(step_t **list, size_t *n, step_kind_t kind, int group, int node,
                      uint64_t timeout_ms, const char *name_fmt, ...)
    __attribute__((format(printf, 7, 8)));
static step_t *add_to(step_t **list, size_t *n, step_kind_t kind, int group, int node,
                      uint64_t timeout_ms, const char *name_fmt, ...)
{
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    step_t *s = &(*list)[(*n)++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->group = group;
    s->node = node;
    s->source = -1;
    s->timeout_ms = timeout_ms;
    va_list ap;
    va_start(ap, name_fmt);
    s->name = vfmt(name_fmt, ap);
    va_end(ap);
    return s;
}

static void describe(step_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void describe(step_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(s->desc);
    s->desc = vfmt(fmt, ap);
    va_end(ap);
}

/* SQL text that is the same with and without secrets. */
static void set_sql(step_t *s, const char *sql)
{
    s->sql = xstrdup(sql);
    s->sql_log = xstrdup(sql);
}

/* Groups run in order: list the steps by group, keeping their order within one. */
static void sort_by_group(plan_t *p)
{
    for (size_t i = 1; i < p->n; i++) {
        step_t t = p->steps[i];
        size_t j = i;
        for (; j > 0 && p->steps[j - 1].group > t.group; j--)
            p->steps[j] = p->steps[j - 1];
        p->steps[j] = t;
    }
}

#define STEP(p, ...) add_to(&(p)->steps, &(p)->n, __VA_ARGS__)

static const char *nm(const cluster_t *c, int i) { return c->nodes[i].name; }

static void add_hook(plan_t *p, int group, fo_hook_point_t point, bool optional,
                     const plan_opts_t *o)
{
    const char *hook = fo_hook_info(point)->name;
    step_t *s = STEP(p, STEP_HOOK, group, -1, o->hook_timeout_ms, "hook:%s", hook);
    s->hook = point;
    s->optional = optional;
    describe(s, "run the %s hooks%s", hook, optional ? "" : " (a veto stops here)");
}

/* "STOP REPLICA; CHANGE ... TO <source>; [semi-sync]; START REPLICA" on node. */
static bool repoint_sql(const cluster_t *c, const plan_t *p, int node, int source, bool rejoin,
                        const plan_opts_t *o, step_t *s, char *err, size_t errlen)
{
    const flavor_t *f = &p->flavors[node];
    flavor_source_t src = {.host = c->nodes[source].host, .port = c->nodes[source].port,
                           .user = o->repl_user, .password = o->repl_password,
                           .connect_retry = o->connect_retry_s ? o->connect_retry_s : 1,
                           .heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : 1000,
                           .rejoin_old_primary = rejoin};
    tls_channel(c->nodes[node].tls, &src);
    buf_t sql = BUF_INIT, log = BUF_INIT;
    for (int redact = 0; redact < 2; redact++) {
        buf_t *b = redact ? &log : &sql;
        buf_printf(b, "%s; ", flavor_sql_stop_replica(f));
        if (!flavor_sql_change_source(f, &src, redact, b, err, errlen)) {
            buf_free(&sql);
            buf_free(&log);
            return false;
        }
        buf_puts(b, "; ");
        /* A replica acknowledges; it must not wait for acknowledgements
         * itself: an old primary that kept the source side on would hold
         * every transaction it applies until the semi-sync timeout, since
         * nobody replicates from it. */
        if (o->semisync)
            buf_printf(b, "%s; %s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_SOURCE, false),
                       flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_REPLICA, true));
        buf_puts(b, flavor_sql_start_replica(f));
    }
    s->sql = buf_steal(&sql);
    s->sql_log = buf_steal(&log);
    return true;
}

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

/* Why the replicas are repointed before the promotion under reliability.
 *
 * A semi-sync primary holds each commit until a replica acknowledges it.
 * Repointed only after the promotion and the post_promotion hooks, the
 * replicas could not acknowledge the new primary's first commits: clients
 * that the hooks had already moved waited for as long as the hooks and the
 * repointing took (about a second on MySQL, whose old primary, switching its
 * semi-sync source side off, is slow to rejoin), while the reported
 * write-blocked window ended with the hooks. So under reliability the
 * replicas (not the old primary) are pointed at the candidate, their
 * semi-sync replica side on, just before it is made writable: the candidate
 * has everything the old primary had (the switchover waited for it; the
 * failover elected it so), and a semi-sync replica that is already connected
 * when the source side is switched on counts as a client at once (both
 * servers; checked in the lab). Its first commits are acknowledged as soon as
 * a replica has them, and never before: nothing is acknowledged that only
 * one server holds.
 *
 * Availability moves traffic first and repoints afterwards, as it did. */
static void describe_repoint(const cluster_t *c, step_t *s, int node, int cand, bool early)
{
    if (early)
        describe(s,
                 "point %s at %s before %s is writable, so that it acknowledges %s's first "
                 "commits",
                 nm(c, node), nm(c, cand), nm(c, cand), nm(c, cand));
    else
        describe(s, "point %s at the new primary %s", nm(c, node), nm(c, cand));
}

/* Promotion of node: replication off and forgotten, writable, semi-sync source
 * (under availability later: see semisync_step). */
static void promote_sql(const plan_t *p, int node, const plan_opts_t *o, step_t *s)
{
    const flavor_t *f = &p->flavors[node];
    bool source_now = p->policy == POLICY_RELIABILITY;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s; %s; ", flavor_sql_stop_replica(f), flavor_sql_reset_replica_all(f));
    if (o->semisync && source_now)
        buf_printf(&b, "%s; %s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_SOURCE, true),
                   flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_REPLICA, false));
    else if (o->semisync)
        buf_printf(&b, "%s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_REPLICA, false));
    buf_puts(&b, flavor_sql_set_read_only(f, FLAVOR_WRITABLE));
    set_sql(s, buf_str(&b));
    buf_free(&b);
}

/* Availability, with semi-sync: the new primary's source side is switched on
 * only once a replica follows it. Switched on at the promotion with no
 * replica that can follow (the old primary can't rejoin after a divergent
 * switchover, the others are down), every commit would wait for the whole
 * semi-sync timeout before going on asynchronously: the opposite of "writes
 * first". Until a replica follows, its commits are acknowledged without any
 * (availability puts writes first), and the step says so when none does.
 * Reliability switches it on at the promotion, the replicas already
 * following (describe_repoint). */
static void semisync_step(const cluster_t *c, plan_t *p, int group, int cand, const plan_opts_t *o)
{
    if (!o->semisync || p->policy == POLICY_RELIABILITY)
        return;
    const flavor_t *f = &p->flavors[cand];
    step_t *s = STEP(p, STEP_SQL, group, cand, o->step_timeout_ms, "semisync:%s", nm(c, cand));
    set_sql(s, flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_SOURCE, true));
    s->optional = true;
    s->needs_follower = true;
    describe(s, "switch %s's semi-sync source side on, now that a replica follows it", nm(c, cand));
    buf_t b = BUF_INIT;
    buf_printf(&b,
               "no replica follows the new primary %s, so its semi-sync source side stays off "
               "(on, each commit would wait for the semi-sync timeout): its commits are "
               "acknowledged without any replica. Once a replica follows it, run `%s` on %s",
               nm(c, cand), s->sql, nm(c, cand));
    s->unmet = buf_steal(&b);
}

/* Nodes that replicated from the old primary and are reachable: they follow the new one. */
static bool follows(const cluster_t *c, int i, int primary)
{
    const observation_t *o = &c->nodes[i].last_ok;
    return cluster_source_of(c, o) == primary;
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
        set_sql(s, flavor_sql_stop_io_thread(f));
        describe(s,
                 "leave %s's replication stopped: both its threads are stopped, and starting "
                 "either would make the server discard the relay log it has not applied",
                 nm(c, i));
        return;
    }
    buf_t sql = BUF_INIT;
    buf_printf(&sql, "%s; %s", flavor_sql_start_sql_thread(f),
               flavor_sql_stop_io_thread_lost_source(f));
    set_sql(s, buf_str(&sql));
    buf_free(&sql);
    describe(s,
             "let %s's SQL thread apply what it received, then stop its IO thread so nothing "
             "more arrives from the old primary (in this order: the relay log is kept)",
             nm(c, i));
}

plan_t *plan_failover_prepare(const cluster_t *c, int old_primary, policy_t policy,
                              const plan_opts_t *o)
{
    plan_t *p = plan_new(c, PLAN_FAILOVER_PREPARE, policy, old_primary);
    add_hook(p, 0, FO_HOOK_PRE_FAILOVER, false, o);
    for (size_t i = 0; i < c->n_nodes; i++) {
        /* An unobservable replica is reachable: its IO thread is stopped as
         * well, if the account may (otherwise it goes on replicating from the
         * old primary). */
        if ((int)i == old_primary || !(c->nodes[i].up || c->nodes[i].unobservable) ||
            !p->known[i] || !follows(c, (int)i, old_primary))
            continue;
        step_t *s = STEP(p, STEP_SQL, 1, (int)i, o->step_timeout_ms, "stop_io:%s", nm(c, (int)i));
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
         * probe gets the plain statement, bounded as before. */
        bool answers = c->nodes[old_primary].up;
        /* It answers, so it is not held up for nothing; ending MySQL's waits
         * takes about a second (rejoin.c). */
        uint64_t bound = answers && o->step_timeout_ms > o->fence_timeout_ms ? o->step_timeout_ms
                                                                             : o->fence_timeout_ms;
        step_t *s = STEP(p, answers ? STEP_FENCE : STEP_SQL, 1, old_primary, bound, "fence:%s",
                         nm(c, old_primary));
        set_sql(s, flavor_sql_set_read_only(&p->flavors[old_primary], FLAVOR_SUPER_READ_ONLY));
        s->optional = true;
        if (answers)
            describe(s,
                     "make the old primary %s read-only, cutting off its client sessions so "
                     "that none of their commits is acknowledged",
                     nm(c, old_primary));
        else
            describe(s, "make the old primary %s read-only, if it can be reached at all",
                     nm(c, old_primary));
    }
    step_t *h = STEP(p, STEP_HOOK, 1, old_primary, o->hook_timeout_ms, "hook:fence");
    h->hook = FO_HOOK_FENCE;
    h->optional = true;
    describe(h, "run the fence hooks (release the VIP, STONITH)");
    step_t *r = STEP(p, STEP_REFRESH, 2, -1, o->step_timeout_ms, "refresh");
    describe(r, "read every reachable replica's state afresh and elect the new primary");
    buf_t b = BUF_INIT;
    buf_printf(&b, "failover of %s (%s): stop the replicas' IO threads, fence %s, then elect",
               c->name, policy_str(policy), old_primary >= 0 ? nm(c, old_primary) : "?");
    p->summary = buf_steal(&b);
    return p;
}

plan_t *plan_failover_promote(const cluster_t *c, int old_primary, const elect_result_t *e,
                              policy_t policy, const plan_opts_t *o, char *err, size_t errlen)
{
    if (e->chosen < 0) {
        snprintf(err, errlen, "%s", e->why[0] ? e->why : "no replica can be promoted");
        return NULL;
    }
    plan_t *p = plan_new(c, PLAN_FAILOVER_PROMOTE, policy, old_primary);
    int cand = e->chosen;
    p->candidate = cand;
    if (!p->known[cand]) {
        snprintf(err, errlen, "the server version of %s is unknown", nm(c, cand));
        plan_free(p);
        return NULL;
    }
    bool reliable = policy == POLICY_RELIABILITY;
    int g = 3;

    /* Every check that could still abort comes before anything is changed
     * on the candidate: the statements its promotion needs rights for
     * (read_only, semi-sync) are tried first with the values they have, which
     * changes nothing. (RESET REPLICA ALL has no such form: the election
     * excludes a node where the account's grants lack what it needs.) */
    step_t *chk = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, "check:%s", nm(c, cand));
    buf_t cs = BUF_INIT;
    noop_set(&cs, flavor_sql_set_read_only(&p->flavors[cand], FLAVOR_WRITABLE));
    if (o->semisync) {
        buf_puts(&cs, "; ");
        noop_set(&cs, flavor_sql_set_semisync(&p->flavors[cand], FLAVOR_SEMISYNC_SOURCE, true));
        buf_puts(&cs, "; ");
        noop_set(&cs, flavor_sql_set_semisync(&p->flavors[cand], FLAVOR_SEMISYNC_REPLICA, false));
    }
    set_sql(chk, buf_str(&cs));
    buf_free(&cs);
    describe(chk, "check that failoverd may switch %s's read_only%s, by setting them to the values "
                  "they have",
             nm(c, cand), o->semisync ? " and semi-sync" : "");

    /* Let the replicas apply what they received (bounded). */
    for (size_t k = 0; k < e->n; k++) {
        const elect_candidate_t *ec = &e->c[k];
        int i = ec->node;
        bool is_source = false;
        for (size_t s = 0; s < e->n_catchup; s++)
            is_source = is_source || e->catchup[s] == i;
        if (!c->nodes[i].up || !p->known[i] || ec->errant[0] || !ec->received[0] ||
            !follows(c, i, old_primary))
            continue;
        if (!reliable && i != cand)
            continue;
        step_t *s = STEP(p, STEP_WAIT_GTID, g, i,
                         reliable ? o->wait_apply_timeout_ms
                                  : (o->wait_apply_timeout_ms < 1000 ? o->wait_apply_timeout_ms : 1000),
                         "apply:%s", nm(c, i));
        s->gtid = xstrdup(ec->received);
        s->optional = !(reliable && (i == cand || is_source));
        describe(s, "wait until %s applied everything it received (%s)", nm(c, i), ec->received);
    }
    g++;

    /* Catch up from the replicas that hold what the candidate lacks. */
    for (size_t k = 0; k < e->n_catchup; k++) {
        int src = e->catchup[k];
        const char *target = "";
        for (size_t x = 0; x < e->n; x++)
            if (e->c[x].node == src)
                target = e->c[x].received;
        step_t *s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, "catchup_start:%s",
                         nm(c, src));
        if (!repoint_sql(c, p, cand, src, false, o, s, err, errlen)) {
            plan_free(p);
            return NULL;
        }
        describe(s, "replicate %s from %s to catch up", nm(c, cand), nm(c, src));
        s = STEP(p, STEP_WAIT_GTID, g++, cand, o->catchup_timeout_ms, "catchup_wait:%s",
                 nm(c, src));
        s->gtid = xstrdup(target);
        describe(s, "wait until %s has %s", nm(c, cand), target);
    }

    /* What the candidate holds once it stops replicating is what the cluster
     * keeps: it is read before anyone can write to it, so that what the other
     * nodes had beyond it is known and reported (availability promotes without
     * waiting for everything to be applied; a relay log not applied by then is
     * dropped with the replication settings). */
    step_t *s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, "stop_replica:%s", nm(c, cand));
    set_sql(s, flavor_sql_stop_replica(&p->flavors[cand]));
    describe(s, "stop replication on %s", nm(c, cand));
    s = STEP(p, STEP_CAPTURE_GTID, g++, cand, o->step_timeout_ms, "capture:%s", nm(c, cand));
    s->optional = true;
    describe(s, "read the GTID state %s keeps, to report what the others had beyond it",
             nm(c, cand));

    p->point_of_no_return = p->n;
    /* Reliability: the replicas follow the candidate before it is writable
     * (see describe_repoint). */
    int eg = reliable ? g++ : -1;
    s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, "promote:%s", nm(c, cand));
    promote_sql(p, cand, o, s);
    describe(s, "promote %s: forget replication, make it writable", nm(c, cand));
    add_hook(p, g++, FO_HOOK_POST_PROMOTION, true, o);

    int rg = g++, vg = g++;
    for (size_t i = 0; i < c->n_nodes; i++) {
        if ((int)i == cand || (int)i == old_primary ||
            !(c->nodes[i].up || c->nodes[i].unobservable) || !p->known[i] ||
            !follows(c, (int)i, old_primary))
            continue;
        s = STEP(p, STEP_SQL, reliable ? eg : rg, (int)i, o->step_timeout_ms, "repoint:%s",
                 nm(c, (int)i));
        if (!repoint_sql(c, p, (int)i, cand, false, o, s, err, errlen)) {
            plan_free(p);
            return NULL;
        }
        s->optional = true;
        describe_repoint(c, s, (int)i, cand, reliable);
        s = STEP(p, STEP_VERIFY, vg, (int)i, o->verify_timeout_ms, "verify:%s", nm(c, (int)i));
        s->source = cand;
        /* Both threads running is not enough: a replica that can't apply what
         * the new primary sends (an errant transaction under MariaDB's strict
         * mode) shows them running until its applier reaches the conflict. */
        s->reach_captured = true;
        s->optional = true;
        describe(s, "check that %s replicates from %s and has what %s held when promoted",
                 nm(c, (int)i), nm(c, cand), nm(c, cand));
    }
    semisync_step(c, p, g++, cand, o);
    add_hook(p, g++, FO_HOOK_POST_FAILOVER, true, o);
    sort_by_group(p);
    buf_t b = BUF_INIT;
    buf_printf(&b, "failover of %s (%s): %s", c->name, policy_str(policy), e->why);
    p->summary = buf_steal(&b);
    return p;
}

/* The old primary made read-only: writes still running after the long-writes
 * bound are killed or end the step (kill decides). */
static step_t *block_writes_step(plan_t *p, const cluster_t *c, int group, int node, bool kill,
                                 const plan_opts_t *o)
{
    step_t *s = STEP(p, STEP_BLOCK_WRITES, group, node,
                     o->long_writes_timeout_ms + o->step_timeout_ms, "block_writes:%s",
                     nm(c, node));
    set_sql(s, flavor_sql_set_read_only(&p->flavors[node], FLAVOR_SUPER_READ_ONLY));
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
plan_t *plan_switchover(const cluster_t *c, int old_primary, int cand, policy_t policy,
                        const plan_opts_t *o, char *err, size_t errlen)
{
    plan_t *p = plan_new(c, PLAN_SWITCHOVER, policy, old_primary);
    p->candidate = cand;
    p->deadline_ms = o->switchover_timeout_ms;
    if (old_primary < 0 || !c->nodes[old_primary].up || !p->known[old_primary]) {
        snprintf(err, errlen, "the primary is not reachable: a switchover needs a live primary "
                              "(use failover for a dead one)");
        goto fail;
    }
    if (cand < 0 || cand == old_primary || !c->nodes[cand].up || !p->known[cand] ||
        !follows(c, cand, old_primary)) {
        snprintf(err, errlen, "%s is not a reachable replica of the primary %s",
                 cand >= 0 ? nm(c, cand) : "the candidate", nm(c, old_primary));
        goto fail;
    }
    bool reliable = policy == POLICY_RELIABILITY;
    const flavor_t *fo = &p->flavors[old_primary];
    int g = 0;
    add_hook(p, g++, FO_HOOK_SWITCHOVER_BEFORE, false, o);
    step_t *s;
    if (reliable) {
        s = STEP(p, STEP_CHECK_LAG, g++, cand, o->switchover_timeout_ms, "check_lag:%s",
                 nm(c, cand));
        s->max_lag_ms = o->switchover_lag_max_ms;
        describe(s, "wait until %s is at most %llu ms behind, with its SQL thread running",
                 nm(c, cand), (unsigned long long)o->switchover_lag_max_ms);
        s = block_writes_step(p, c, g++, old_primary, o->long_writes_kill, o);
        describe(s, "make the old primary %s read-only: writes are blocked from here (writes "
                    "still running after %llu ms are %s)",
                 nm(c, old_primary), (unsigned long long)o->long_writes_timeout_ms,
                 o->long_writes_kill ? "killed" : "waited for no longer: the switchover is "
                                                  "rolled back");
        s = STEP(p, STEP_CAPTURE_GTID, g++, old_primary, o->step_timeout_ms, "capture:%s",
                 nm(c, old_primary));
        describe(s, "read the GTID state of %s", nm(c, old_primary));
        s = STEP(p, STEP_WAIT_GTID, g++, cand, o->switchover_timeout_ms, "sync:%s", nm(c, cand));
        describe(s, "wait until %s executed all of it", nm(c, cand));
    } else {
        s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, "stop_replica:%s", nm(c, cand));
        set_sql(s, flavor_sql_stop_replica(&p->flavors[cand]));
        describe(s, "stop replication on %s without waiting for it to catch up", nm(c, cand));
        s = STEP(p, STEP_CAPTURE_GTID, g++, cand, o->step_timeout_ms, "capture:%s", nm(c, cand));
        s->optional = true;
        describe(s, "read the GTID state %s keeps, to report what it lacks", nm(c, cand));
    }
    p->point_of_no_return = p->n;
    int eg = reliable ? g++ : -1; /* see describe_repoint */
    s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, "promote:%s", nm(c, cand));
    promote_sql(p, cand, o, s);
    describe(s, "promote %s: forget replication, make it writable", nm(c, cand));
    add_hook(p, g++, FO_HOOK_POST_PROMOTION, true, o);
    if (!reliable) {
        s = block_writes_step(p, c, g++, old_primary, true, o);
        describe(s, "make the old primary %s read-only (writes still running after %llu ms are "
                    "killed)",
                 nm(c, old_primary), (unsigned long long)o->long_writes_timeout_ms);
        s = STEP(p, STEP_CAPTURE_GTID, g++, old_primary, o->step_timeout_ms, "capture:%s",
                 nm(c, old_primary));
        s->optional = true;
        describe(s, "read the GTID state of %s to report what %s lacks", nm(c, old_primary),
                 nm(c, cand));
    }
    int rg = g++, vg = g++;
    for (size_t i = 0; i < c->n_nodes; i++) {
        bool old = (int)i == old_primary;
        if ((int)i == cand || !c->nodes[i].up || !p->known[i] ||
            (!old && !follows(c, (int)i, old_primary)))
            continue;
        bool early = reliable && !old;
        s = STEP(p, STEP_SQL, early ? eg : rg, (int)i, o->step_timeout_ms, "repoint:%s",
                 nm(c, (int)i));
        if (!repoint_sql(c, p, (int)i, cand, old, o, s, err, errlen))
            goto fail;
        s->optional = true;
        describe_repoint(c, s, (int)i, cand, early);
        s = STEP(p, STEP_VERIFY, vg, (int)i, o->verify_timeout_ms, "verify:%s", nm(c, (int)i));
        s->source = cand;
        s->optional = true;
        describe(s, "check that %s replicates from %s", nm(c, (int)i), nm(c, cand));
    }
    semisync_step(c, p, g++, cand, o);
    /* The reply then describes the cluster as it is now, not as last probed. */
    s = STEP(p, STEP_REFRESH, g++, -1, o->step_timeout_ms, "refresh");
    s->optional = true;
    describe(s, "read every node's state afresh");
    add_hook(p, g++, FO_HOOK_SWITCHOVER_AFTER, true, o);
    sort_by_group(p);

    /* Before the promotion everything can be undone: the old primary writable
     * again; the candidate replicating again where the switchover stopped it
     * (availability). Reliability never touches the candidate before the
     * promotion, and leaves its replication as it found it (an applier an
     * operator stopped stays stopped). */
    s = add_to(&p->rollback, &p->n_rollback, STEP_SQL, 0, old_primary, o->step_timeout_ms,
               "rollback_writes:%s", nm(c, old_primary));
    set_sql(s, flavor_sql_set_read_only(fo, FLAVOR_WRITABLE));
    describe(s, "make %s writable again", nm(c, old_primary));
    if (!reliable) {
        s = add_to(&p->rollback, &p->n_rollback, STEP_SQL, 0, cand, o->step_timeout_ms,
                   "rollback_replica:%s", nm(c, cand));
        set_sql(s, flavor_sql_start_replica(&p->flavors[cand]));
        s->optional = true;
        describe(s, "make %s replicate again", nm(c, cand));
    }

    buf_t b = BUF_INIT;
    buf_printf(&b, "switchover of %s (%s) from %s to %s", c->name, policy_str(policy),
               nm(c, old_primary), nm(c, cand));
    p->summary = buf_steal(&b);
    return p;
fail:
    plan_free(p);
    return NULL;
}

static void free_steps(step_t *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(st[i].name);
        free(st[i].desc);
        free(st[i].sql);
        free(st[i].sql_log);
        free(st[i].gtid);
        free(st[i].unmet);
    }
    free(st);
}

void plan_free(plan_t *p)
{
    if (!p)
        return;
    free_steps(p->steps, p->n);
    free_steps(p->rollback, p->n_rollback);
    free(p->flavors);
    free(p->known);
    free(p->summary);
    free(p);
}

static json_t *steps_json(const cluster_t *c, const step_t *st, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const step_t *s = &st[i];
        json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:I, s:b}", "name", s->name, "kind",
                              step_kind_str(s->kind), "group", s->group, "desc",
                              s->desc ? s->desc : "", "timeout_ms", (json_int_t)s->timeout_ms,
                              "optional", s->optional);
        if (s->node >= 0)
            json_object_set_new(j, "node", json_string(c->nodes[s->node].name));
        if (s->sql_log)
            json_object_set_new(j, "sql", json_string(s->sql_log));
        if (s->gtid)
            json_object_set_new(j, "gtid", json_string(s->gtid));
        if (s->kind == STEP_CHECK_LAG)
            json_object_set_new(j, "max_lag_ms", json_integer((json_int_t)s->max_lag_ms));
        if (s->kind == STEP_BLOCK_WRITES) {
            json_object_set_new(j, "long_writes_ms", json_integer((json_int_t)s->long_writes_ms));
            json_object_set_new(j, "long_writes", json_string(s->kill_long_writes ? "kill" : "wait"));
        }
        json_array_append_new(a, j);
    }
    return a;
}

json_t *plan_json(const cluster_t *c, const plan_t *p)
{
    static const char *const kinds[] = {"failover_prepare", "failover_promote", "switchover"};
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:I}", "kind", kinds[p->kind], "policy",
                     policy_str(p->policy), "summary", p->summary ? p->summary : "", "candidate",
                     p->candidate >= 0 ? json_string(c->nodes[p->candidate].name) : json_null(),
                     "steps", steps_json(c, p->steps, p->n), "rollback",
                     steps_json(c, p->rollback, p->n_rollback), "point_of_no_return",
                     (json_int_t)p->point_of_no_return);
    if (p->deadline_ms)
        json_object_set_new(j, "deadline_ms", json_integer((json_int_t)p->deadline_ms));
    return j;
}

/* ---- long writes ---------------------------------------------------------- */

/* The text after blanks, comments and opening parentheses. */
static const char *skip_noise(const char *s)
{
    for (;;) {
        while (*s && (isspace((unsigned char)*s) || *s == '('))
            s++;
        if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            if (!e)
                return s + strlen(s);
            s = e + 2;
        } else if ((s[0] == '-' && s[1] == '-') || s[0] == '#') {
            const char *e = strchr(s, '\n');
            if (!e)
                return s + strlen(s);
            s = e + 1;
        } else {
            return s;
        }
    }
}

static bool word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* A whole word w somewhere in s (case-insensitive). */
static bool has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = s; *p; p++) {
        if (strncasecmp(p, w, n) == 0 && (p == s || !isalnum((unsigned char)p[-1])) &&
            !isalnum((unsigned char)p[n]) && p[n] != '_')
            return true;
    }
    return false;
}

bool plan_is_long_write(const char *command, const char *state, const char *info)
{
    static const char *const writes[] = {"INSERT", "UPDATE",   "DELETE",   "REPLACE", "LOAD",
                                         "ALTER",  "CREATE",   "DROP",     "RENAME",  "TRUNCATE",
                                         "OPTIMIZE", "REPAIR", "ANALYZE",  "GRANT",   "REVOKE",
                                         "CALL",   NULL};
    if (!command || !info || (strcasecmp(command, "Query") != 0 && strcasecmp(command, "Execute") != 0))
        return false;
    if (state && (strcasestr(state, "global read lock") || strcasestr(state, "backup lock")))
        return false;
    const char *w = skip_noise(info);
    size_t n = 0;
    while (isalpha((unsigned char)w[n]))
        n++;
    for (const char *const *k = writes; *k; k++)
        if (word_is(w, n, *k))
            return true;
    if (word_is(w, n, "WITH"))
        return has_word(w, "UPDATE") || has_word(w, "DELETE");
    return false;
}

/* ---- divergence ------------------------------------------------------------ */

char *plan_divergence(bool mariadb, const char *old_gtid, const char *new_gtid, uint64_t *count,
                      char *err, size_t errlen)
{
    *count = 0;
    if (!mariadb) {
        gtid_set_t *a = gtid_set_parse(old_gtid ? old_gtid : "", err, errlen);
        gtid_set_t *b = a ? gtid_set_parse(new_gtid ? new_gtid : "", err, errlen) : NULL;
        if (!a || !b) {
            gtid_set_free(a);
            return NULL;
        }
        gtid_set_t *d = gtid_set_subtract(a, b);
        *count = gtid_set_count(d);
        char *out = gtid_set_format_line(d);
        gtid_set_free(a);
        gtid_set_free(b);
        gtid_set_free(d);
        return out;
    }
    gtid_pos_t *a = gtid_pos_parse(old_gtid ? old_gtid : "", err, errlen);
    gtid_pos_t *b = a ? gtid_pos_parse(new_gtid ? new_gtid : "", err, errlen) : NULL;
    if (!a || !b) {
        gtid_pos_free(a);
        return NULL;
    }
    gtid_pos_diff_t *d = gtid_pos_diff(b, a);
    for (size_t i = 0; i < d->n; i++)
        *count += d->gap[i].b.seq - (d->gap[i].a_has ? d->gap[i].a_seq : 0);
    char *out = gtid_pos_diff_format(d);
    gtid_pos_diff_free(d);
    gtid_pos_free(a);
    gtid_pos_free(b);
    return out;
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
    plan_t *p = plan_new(c, PLAN_SWITCHOVER, policy, old_primary);
    p->candidate = cand;
    if (cand < 0 || cand == old_primary || !c->nodes[cand].up || !p->known[cand]) {
        snprintf(err, errlen, "%s can't be reached", cand >= 0 ? nm(c, cand) : "the candidate");
        goto fail;
    }
    int g = 0;
    step_t *s;
    if (promote) {
        s = STEP(p, STEP_SQL, g++, cand, o->step_timeout_ms, "promote:%s", nm(c, cand));
        promote_sql(p, cand, o, s);
        describe(s, "promote %s again: forget replication, make it writable", nm(c, cand));
    }
    add_hook(p, g++, FO_HOOK_POST_PROMOTION, true, o);
    int rg = g++, vg = g++;
    for (size_t i = 0; i < c->n_nodes; i++) {
        bool old = (int)i == old_primary;
        if ((int)i == cand || !c->nodes[i].up || !p->known[i] ||
            (!old && !follows(c, (int)i, old_primary)))
            continue;
        s = STEP(p, STEP_SQL, rg, (int)i, o->step_timeout_ms, "repoint:%s", nm(c, (int)i));
        if (!repoint_sql(c, p, (int)i, cand, old, o, s, err, errlen))
            goto fail;
        s->optional = true;
        describe(s, "point %s at the new primary %s", nm(c, (int)i), nm(c, cand));
        s = STEP(p, STEP_VERIFY, vg, (int)i, o->verify_timeout_ms, "verify:%s", nm(c, (int)i));
        s->source = cand;
        s->optional = true;
        describe(s, "check that %s replicates from %s", nm(c, (int)i), nm(c, cand));
    }
    s = STEP(p, STEP_REFRESH, g++, -1, o->step_timeout_ms, "refresh");
    s->optional = true;
    describe(s, "read every node's state afresh");
    add_hook(p, g++, FO_HOOK_SWITCHOVER_AFTER, true, o);
    sort_by_group(p);
    p->point_of_no_return = 0;
    buf_t b = BUF_INIT;
    buf_printf(&b, "the rest of the interrupted switchover of %s (%s) from %s to %s", c->name,
               policy_str(policy), old_primary >= 0 ? nm(c, old_primary) : "?", nm(c, cand));
    p->summary = buf_steal(&b);
    return p;
fail:
    plan_free(p);
    return NULL;
}
