/* plan.c - see plan.h. */
#include "plan.h"
#include "plan_int.h"

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
    case STEP_SALVAGE: return "salvage";
    }
    return "?";
}

static char *vfmt(const char *fmt, va_list ap)
{
    buf_t b = BUF_INIT;
    buf_vprintf(&b, fmt, ap);
    return buf_steal(&b);
}

plan_t *plan__new(const cluster_t *c, plan_kind_t kind, policy_t policy, int old_primary)
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
        p->known[i] =
            o->ok && o->version && flavor_detect(&p->flavors[i], o->version, NULL, NULL, 0);
    }
    return p;
}

/* Appends a step to the list (steps or rollback) and returns it for filling in. */
step_t *plan__add_to(step_t **list, size_t *n, step_kind_t kind, int group, int node,
                      uint64_t timeout_ms, step_role_t role, const char *arg)
{
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    step_t *s = &(*list)[(*n)++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->role = role;
    s->hook = FO_HOOK_NONE;
    s->group = group;
    s->node = node;
    s->source = -1;
    s->timeout_ms = timeout_ms;
    buf_t b = BUF_INIT;
    step_name_format(role, arg, &b);
    s->name = buf_steal(&b);
    return s;
}

void plan__describe(step_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(s->desc);
    s->desc = vfmt(fmt, ap);
    va_end(ap);
}

/* SQL text that is the same with and without secrets. */
void plan__set_sql(step_t *s, const char *sql)
{
    s->sql = xstrdup(sql);
    s->sql_log = xstrdup(sql);
}

/* Groups run in order: list the steps by group, keeping their order within one. */
void plan__sort_by_group(plan_t *p)
{
    for (size_t i = 1; i < p->n; i++) {
        step_t t = p->steps[i];
        size_t j = i;
        for (; j > 0 && p->steps[j - 1].group > t.group; j--)
            p->steps[j] = p->steps[j - 1];
        p->steps[j] = t;
    }
}

const char *plan__nm(const cluster_t *c, int i) { return c->nodes[i].name; }

void plan__add_hook(plan_t *p, int group, fo_hook_point_t point, bool optional,
                     const plan_opts_t *o)
{
    const char *hook = fo_hook_info(point)->name;
    step_t *s = STEP(p, STEP_HOOK, group, -1, o->hook_timeout_ms, STEP_ROLE_HOOK, hook);
    s->hook = point;
    s->optional = optional;
    plan__describe(s, "run the %s hooks%s", hook, optional ? "" : " (a veto stops here)");
}

/* "[read-only;] STOP REPLICA; CHANGE ... TO <source>; [semi-sync]; START
 * REPLICA" on node (see plan_int.h). */
bool plan__point_sql(const cluster_t *c, const plan_t *p, int node, int source,
                     const plan_point_t *how, const plan_opts_t *o, step_t *s, char *err,
                     size_t errlen)
{
    const flavor_t *f = &p->flavors[node];
    flavor_source_t src = {.host = c->nodes[source].host, .port = c->nodes[source].port,
                           .user = o->repl_user, .password = o->repl_password,
                           .connect_retry = o->connect_retry_s ? o->connect_retry_s : 1,
                           .heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : 1000,
                           .rejoin_old_primary = how->old_primary};
    tls_channel(c->nodes[node].tls, &src);
    buf_t sql = BUF_INIT, log = BUF_INIT;
    for (int redact = 0; redact < 2; redact++) {
        buf_t *b = redact ? &log : &sql;
        if (how->read_only_first)
            buf_printf(b, "%s; ", flavor_sql_set_read_only(f, FLAVOR_SUPER_READ_ONLY));
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
        if (o->semisync && how->source_side_off)
            buf_printf(b, "%s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_SOURCE, false));
        if (o->semisync)
            buf_printf(b, "%s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_REPLICA, true));
        buf_puts(b, flavor_sql_start_replica(f));
    }
    s->sql = buf_steal(&sql);
    s->sql_log = buf_steal(&log);
    return true;
}

bool plan__repoint_sql(const cluster_t *c, const plan_t *p, int node, int source, bool rejoin,
                       const plan_opts_t *o, step_t *s, char *err, size_t errlen)
{
    plan_point_t how = {.old_primary = rejoin, .source_side_off = true};
    return plan__point_sql(c, p, node, source, &how, o, s, err, errlen);
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
void plan__describe_repoint(const cluster_t *c, step_t *s, int node, int cand, bool early)
{
    if (early)
        plan__describe(s,
                 "point %s at %s before %s is writable, so that it acknowledges %s's first "
                 "commits",
                 plan__nm(c, node), plan__nm(c, cand), plan__nm(c, cand), plan__nm(c, cand));
    else
        plan__describe(s, "point %s at the new primary %s", plan__nm(c, node), plan__nm(c, cand));
}

/* Promotion of node: replication off and forgotten, writable, semi-sync source
 * (under availability later: see semisync_step). */
void plan__promote_sql(const plan_t *p, int node, const plan_opts_t *o, step_t *s)
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
    plan__set_sql(s, buf_str(&b));
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
void plan__semisync_step(const cluster_t *c, plan_t *p, int group, int cand, const plan_opts_t *o)
{
    if (!o->semisync || p->policy == POLICY_RELIABILITY)
        return;
    const flavor_t *f = &p->flavors[cand];
    step_t *s =
        STEP(p, STEP_SQL, group, cand, o->step_timeout_ms, STEP_ROLE_SEMISYNC, plan__nm(c, cand));
    plan__set_sql(s, flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_SOURCE, true));
    s->optional = true;
    s->needs_follower = true;
    plan__describe(s, "switch %s's semi-sync source side on, now that a replica follows it",
                   plan__nm(c, cand));
    buf_t b = BUF_INIT;
    buf_printf(&b,
               "no replica follows the new primary %s, so its semi-sync source side stays off "
               "(on, each commit would wait for the semi-sync timeout): its commits are "
               "acknowledged without any replica. Once a replica follows it, run `%s` on %s",
               plan__nm(c, cand), s->sql, plan__nm(c, cand));
    s->unmet = buf_steal(&b);
}

/* Nodes that replicated from the old primary and are reachable: they follow the new one. */
bool plan__follows(const cluster_t *c, int i, int primary)
{
    const observation_t *o = &c->nodes[i].last_ok;
    return cluster_source_of(c, o) == primary;
}

/* The nodes that follow the candidate after an operation, pointed at it and
 * then verified (in group vg), optional both:
 *   failover:   the reachable (or unobservable) replicas of the old primary;
 *               verified to have what the candidate held when promoted;
 *   switchover: the reachable replicas and the old primary itself;
 *   resume:     the same, none of them early.
 * Under reliability the replicas (not the old primary) are pointed in group
 * eg, before the promotion (see plan__describe_repoint); else in rg. */
bool plan__repoint_steps(const cluster_t *c, plan_t *p, plan_repoint_t kind, int eg, int rg,
                         int vg, const plan_opts_t *o, char *err, size_t errlen)
{
    bool reliable = p->policy == POLICY_RELIABILITY, fo = kind == PLAN_REPOINT_FAILOVER;
    int cand = p->candidate, old_primary = p->old_primary;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *n = &c->nodes[i];
        bool old = (int)i == old_primary;
        if ((int)i == cand || ((fo || kind == PLAN_REPOINT_SWITCHOVER_DUAL) && old) ||
            !(n->up || (fo && n->unobservable)) || !p->known[i] ||
            (!old && !(fo ? plan__in_tree(c, (int)i, old_primary)
                          : plan__follows(c, (int)i, old_primary))))
            continue;
        bool early = kind != PLAN_REPOINT_RESUME && reliable && !old;
        int to = fo ? plan__failover_source(c, p, (int)i, o) : cand;
        step_t *s = STEP(p, STEP_SQL, early ? eg : rg, (int)i, o->step_timeout_ms, STEP_ROLE_REPOINT,
                         plan__nm(c, (int)i));
        if (!plan__repoint_sql(c, p, (int)i, to, old, o, s, err, errlen))
            return false;
        if (fo)
            plan__end_applier_first(p, (int)i, s);
        s->optional = true;
        if (to == cand)
            plan__describe_repoint(c, s, (int)i, cand, early);
        else
            plan__describe_relay_kept(c, s, (int)i, to, cand);
        s = STEP(p, STEP_VERIFY, vg, (int)i, o->verify_timeout_ms, STEP_ROLE_VERIFY,
                 plan__nm(c, (int)i));
        s->source = to;
        s->optional = true;
        /* After a failover, both threads running is not enough: a replica
         * that can't apply what the new primary sends (an errant transaction
         * under MariaDB's strict mode) shows them running until its applier
         * reaches the conflict. */
        s->reach_captured = fo;
        if (fo)
            plan__describe(s, "check that %s replicates from %s and has what %s held when promoted",
                           plan__nm(c, (int)i), plan__nm(c, to), plan__nm(c, cand));
        else
            plan__describe(s, "check that %s replicates from %s", plan__nm(c, (int)i),
                           plan__nm(c, cand));
    }
    return true;
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
            json_object_set_new(j, "long_writes",
                                json_string(s->kill_long_writes ? "kill" : "wait"));
        }
        json_array_append_new(a, j);
    }
    return a;
}

json_t *plan_json(const cluster_t *c, const plan_t *p)
{
    static const char *const kinds[] = {"failover_prepare", "failover_promote", "switchover",
                                        "rejoin"};
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
