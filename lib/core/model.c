/* model.c - see model.h. */
#include "model.h"
#include "tree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "durability.h"
#include "tls.h"
#include "topology.h"

void observation_clear(observation_t *o)
{
    char **strs[] = {&o->error, &o->version, &o->server_uuid, &o->gtid_executed,
                     &o->gtid_current_pos, &o->gtid_slave_pos, &o->source_host,
                     &o->last_io_error, &o->last_sql_error, &o->received_gtids,
                     &o->executed_gtids, &o->repl_filters, &o->gtid_error, &o->denied_privilege,
                     &o->grants_missing, &o->grants_missing_promote, &o->tls_version};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    gtid_state_free(o->executed_st);
    gtid_state_free(o->received_st);
    gtid_state_free(o->applied_st);
    memset(o, 0, sizeof *o);
}

static gtid_state_t *parsed(server_family_t family, const char *text)
{
    return text ? gtid_state_parse(family, text, NULL, 0) : NULL;
}

void observation_parse_gtids(observation_t *o)
{
    gtid_state_free(o->executed_st);
    gtid_state_free(o->received_st);
    gtid_state_free(o->applied_st);
    o->executed_st = o->received_st = o->applied_st = NULL;
    o->gtids_parsed = true;
    if (!o->ok || o->gtid_error)
        return;
    server_family_t f = o->family == FAMILY_MARIADB ? FAMILY_MARIADB : FAMILY_MYSQL;
    o->executed_st = parsed(f, o->gtid_executed);
    o->received_st = parsed(f, o->received_gtids);
    o->applied_st = parsed(f, o->executed_gtids);
}

void observation_move(observation_t *dst, observation_t *src)
{
    observation_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

void node_init(node_t *n, const char *name, const char *host, unsigned port, promotion_rule_t rule)
{
    memset(n, 0, sizeof *n);
    n->name = xstrdup(name);
    n->host = xstrdup(host);
    n->port = port;
    n->rule = rule;
    n->role = ROLE_UNKNOWN;
}

void node_free(node_t *n)
{
    free(n->name);
    free(n->host);
    free(n->last_error);
    free(n->errant);
    free(n->denied_privilege);
    free(n->grants_missing);
    free(n->grants_missing_promote);
    tls_cfg_free(n->tls);
    observation_clear(&n->last_ok);
    memset(n, 0, sizeof *n);
}

static bool str_differs(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") != 0;
}

/* What a probe says of the account's rights there: a refusal, and the grants. */
static void note_rights(node_t *n, observation_t *obs)
{
    n->unobservable = !obs->ok && obs->denied;
    free(n->denied_privilege);
    n->denied_privilege = n->unobservable && obs->denied_privilege
                              ? xstrdup(obs->denied_privilege)
                              : NULL;
    if (obs->grants_checked) {
        free(n->grants_missing);
        free(n->grants_missing_promote);
        n->grants_missing = obs->grants_judged && obs->grants_missing
                                ? xstrdup(obs->grants_missing)
                                : NULL;
        n->grants_missing_promote = obs->grants_judged && obs->grants_missing_promote
                                        ? xstrdup(obs->grants_missing_promote)
                                        : NULL;
    }
}

const double node_latency_bounds_ms[NODE_LATENCY_BUCKETS] = {
    0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
};

static void node_count_latency(node_t *n, double ms)
{
    size_t b = 0;
    while (b < NODE_LATENCY_BUCKETS && ms > node_latency_bounds_ms[b])
        b++;
    n->latency_hist[b]++;
    n->latency_sum_ms += ms;
    n->latency_n++;
}

void node_observe(node_t *n, observation_t *obs)
{
    note_rights(n, obs);
    n->probed = true;
    n->last_probe_at = obs->at;
    if (!obs->ok) {
        /* A probe that ran out of time heard nothing since it began. */
        if (n->up || n->fail_since == 0)
            n->fail_since = obs->timed_out && obs->started ? obs->started : obs->at;
        n->failures = n->up ? 1 : n->failures + 1;
        n->refused = obs->refused;
        n->up = false;
        free(n->last_error);
        n->last_error = obs->error ? xstrdup(obs->error) : xstrdup("probe failed");
        observation_clear(obs);
        return;
    }
    /* Replication input moved: new events or heartbeats arrived since the
     * last look. The first observation counts as hearing (nothing to compare). */
    if (!n->last_ok.ok || obs->heartbeats != n->last_ok.heartbeats ||
        str_differs(obs->received_gtids, n->last_ok.received_gtids))
        n->heard_at = obs->at;
    n->up = true;
    n->refused = false;
    n->fail_since = 0;
    n->failures = 0;
    n->latency_ms = obs->latency_ms;
    node_count_latency(n, obs->latency_ms);
    if (!obs->gtids_parsed)
        observation_parse_gtids(obs);
    observation_move(&n->last_ok, obs);
}

uint64_t node_unreached_since(const node_t *n)
{
    if (n->up || !n->fail_since)
        return 0;
    if (n->failures < 2 || !n->last_ok.ok)
        return n->fail_since;
    uint64_t began = n->last_ok.started ? n->last_ok.started : n->last_ok.at;
    return began < n->fail_since ? began : n->fail_since;
}

int cluster_find_node(const cluster_t *c, const char *host, unsigned port)
{
    if (!host)
        return -1;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].host, host) == 0 && c->nodes[i].port == port)
            return (int)i;
    return -1;
}

int cluster_find_node_by_name(const cluster_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].name, name) == 0)
            return (int)i;
    return -1;
}

void cluster_add_issue(cluster_t *c, const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    c->issues = xrealloc(c->issues, (c->n_issues + 1) * sizeof *c->issues);
    c->issues[c->n_issues++] = buf_steal(&b);
}

void cluster_clear_issues(cluster_t *c)
{
    for (size_t i = 0; i < c->n_issues; i++)
        free(c->issues[i]);
    free(c->issues);
    c->issues = NULL;
    c->n_issues = 0;
}

void cluster_free(cluster_t *c)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        node_free(&c->nodes[i]);
    free(c->nodes);
    free(c->name);
    cluster_clear_issues(c);
    durability_clear(&c->durability);
    free(c->promoted);
    free(c->demoted);
    memset(c, 0, sizeof *c);
}

int cluster_source_of(const cluster_t *c, const observation_t *o)
{
    if (!o->ok || !o->replica)
        return -1;
    return cluster_find_node(c, o->source_host, o->source_port);
}

/* A node that can't be observed, and an account lacking what a failover or
 * a switchover needs there, are issues before anything happens. */
static void add_rights_issues(cluster_t *c, const node_t *nd)
{
    if (nd->unobservable)
        cluster_add_issue(c,
                          "%s is unobservable: reachable, but failoverd's account may not read "
                          "its state (it lacks %s): %s",
                          nd->name, nd->denied_privilege ? nd->denied_privilege : "a privilege",
                          nd->last_error ? nd->last_error : "refused");
    else if (nd->grants_missing && nd->grants_missing[0])
        cluster_add_issue(c,
                          "failoverd's account lacks %s on %s, which a failover or switchover "
                          "needs (docs/configuration.md, \"Privileges\")",
                          nd->grants_missing, nd->name);
}

/* Node i accepts writes as far as failoverd knows: its last look says so, or
 * failoverd made it writable after that look began. */
static bool seen_writable(const cluster_t *c, int i)
{
    const node_t *nd = &c->nodes[i];
    if (!nd->last_ok.read_only)
        return true;
    return c->promoted && c->promoted_at && nd->last_ok.started < c->promoted_at &&
           strcmp(nd->name, c->promoted) == 0;
}

/* Choose: failoverd's last promotion or the current primary while up and
 * writable; else the most-followed writable node; else the most-followed
 * node; -1 when none. Failoverd's last promotion also while it can't be seen
 * and the primary it took over from is back writable. */
static int choose_primary(const cluster_t *c, const int *followers, size_t writable)
{
    int best = -1;
    int keep[2] = {c->promoted ? cluster_find_node_by_name(c, c->promoted) : -1, c->primary};
    /* While the node failoverd promoted last can't be seen, the primary it
     * took over from does not become the primary again by answering
     * writable (a hung old primary resuming): it is a node to fence
     * (rejoin_next), and the promoted node stays the primary. */
    int demoted = c->demoted ? cluster_find_node_by_name(c, c->demoted) : -1;
    if (keep[0] >= 0 && demoted >= 0 && demoted != keep[0] && !c->nodes[keep[0]].up &&
        c->nodes[demoted].up && seen_writable(c, demoted))
        return keep[0];
    for (size_t k = 0; k < 2 && best < 0; k++)
        if (keep[k] >= 0 && c->nodes[keep[k]].up && seen_writable(c, keep[k]))
            best = keep[k];
    /* Nobody writable (a dead primary, an operation half done): the known
     * primary stays the primary until a node is made writable, whichever
     * node the replicas were pointed at meanwhile. */
    if (best < 0 && writable == 0 && c->primary >= 0)
        best = c->primary;
    bool kept = best >= 0;
    for (size_t i = 0; i < c->n_nodes && !kept; i++) {
        const node_t *nd = &c->nodes[i];
        bool cand = writable > 0 ? nd->up && seen_writable(c, (int)i) : followers[i] > 0;
        if (!cand)
            continue;
        if (best < 0 || followers[i] > followers[best] ||
            (followers[i] == followers[best] && (int)i == c->primary))
            best = (int)i;
    }
    return best;
}

/* Issues of the cluster's writability: more than one writable node, or none. */
static void writable_issues(cluster_t *c, size_t writable)
{
    if (writable > 1) {
        buf_t names = BUF_INIT;
        for (size_t i = 0; i < c->n_nodes; i++)
            if (c->nodes[i].up && !c->nodes[i].last_ok.read_only)
                buf_printf(&names, "%s%s", names.len ? ", " : "", c->nodes[i].name);
        cluster_add_issue(c, "%zu writable nodes: %s", writable, buf_str(&names));
        buf_free(&names);
    }
    /* A primary that restarted comes back read-only (as servers should be
     * configured to): it answers probes, and nobody can write. */
    if (writable == 0 && c->primary >= 0 && c->nodes[c->primary].up)
        cluster_add_issue(c,
                          "no node accepts writes: the primary %s is read-only (a restarted "
                          "server comes back so): make it writable once it is known to hold "
                          "everything, or fail over to a replica",
                          c->nodes[c->primary].name);
}

/* Node i replicates from s, which is not the primary: a replica of a relay
 * (s reaches the primary through its own sources) is a supported place when
 * the relay logs what it applies; anything else is an issue. */
static void relay_issue(cluster_t *c, size_t i, int s)
{
    const node_t *nd = &c->nodes[i];
    const observation_t *so = &c->nodes[s].last_ok;
    if (!tree_under(c, (int)i, c->primary))
        cluster_add_issue(c, "%s replicates from %s, not from the primary %s", nd->name,
                          c->nodes[s].name, c->nodes[c->primary].name);
    else if (so->ok && (!so->log_bin || !so->log_replica_updates))
        cluster_add_issue(c,
                          "%s replicates from the relay %s, which does not log replicated "
                          "transactions (log_bin and log_replica_updates must be on): %s "
                          "receives nothing the primary %s writes",
                          nd->name, c->nodes[s].name, nd->name, c->nodes[c->primary].name);
}

/* Node i's role, and the issues of its replication. */
static void node_role_and_issues(cluster_t *c, size_t i)
{
    node_t *nd = &c->nodes[i];
    const observation_t *o = &nd->last_ok;
    if ((int)i == c->primary)
        nd->role = ROLE_PRIMARY;
    else if (o->ok && o->replica)
        nd->role = ROLE_REPLICA;
    else
        nd->role = ROLE_UNKNOWN;
    if (nd->up && o->ok && !o->replica && (int)i != c->primary && c->primary >= 0 && o->read_only)
        cluster_add_issue(c,
                          "%s replicates from nobody: it is read-only and has no source "
                          "(an old primary back after a failover waits for a rejoin, by "
                          "auto_rejoin or by hand)",
                          nd->name);
    if (!nd->up || !o->replica)
        return;
    int s = cluster_source_of(c, &nd->last_ok);
    if (s < 0)
        cluster_add_issue(c, "%s replicates from %s:%u, which is not in the cluster", nd->name,
                          o->source_host ? o->source_host : "?", o->source_port);
    else if (c->primary >= 0 && s != c->primary && (int)i != c->primary &&
             s != topology_dual_partner(c, c->primary))
        relay_issue(c, i, s);
    if (o->last_sql_errno)
        cluster_add_issue(c, "replication broken on %s: SQL error %u: %s", nd->name,
                          o->last_sql_errno, o->last_sql_error ? o->last_sql_error : "");
    else if (o->io == IO_NO && o->last_io_errno)
        cluster_add_issue(c, "replication broken on %s: IO error %u: %s", nd->name,
                          o->last_io_errno, o->last_io_error ? o->last_io_error : "");
    else if (o->io == IO_NO || !o->sql_running)
        cluster_add_issue(c, "replication stopped on %s (IO %s, SQL %s)", nd->name,
                          io_state_str(o->io), o->sql_running ? "running" : "stopped");
    if (!o->read_only && (int)i != c->primary)
        cluster_add_issue(c, "%s is a writable replica", nd->name);
}

bool cluster_infer_topology(cluster_t *c)
{
    size_t n = c->n_nodes;
    int *followers = xcalloc(n, sizeof *followers);
    size_t writable = 0, up = 0;
    cluster_clear_issues(c);

    for (size_t i = 0; i < n; i++) {
        const node_t *nd = &c->nodes[i];
        if (!nd->up)
            continue;
        up++;
        if (seen_writable(c, (int)i))
            writable++;
        int s = cluster_source_of(c, &nd->last_ok);
        if (s >= 0 && s != (int)i)
            followers[s]++;
    }
    int best = choose_primary(c, followers, writable);
    int old = c->primary;
    if (best >= 0 || up > 0)
        c->primary = best >= 0 ? best : c->primary;
    writable_issues(c, writable);
    for (size_t i = 0; i < n; i++)
        node_role_and_issues(c, i);
    for (size_t i = 0; i < n; i++)
        add_rights_issues(c, &c->nodes[i]);
    tree_unsupported_issues(c);
    free(followers);
    return old != c->primary;
}

const char *role_str(role_t r)
{
    switch (r) {
    case ROLE_PRIMARY: return "primary";
    case ROLE_REPLICA: return "replica";
    case ROLE_UNKNOWN: break;
    }
    return "unknown";
}

const char *family_str(server_family_t f)
{
    switch (f) {
    case FAMILY_MYSQL: return "mysql";
    case FAMILY_MARIADB: return "mariadb";
    case FAMILY_UNKNOWN: break;
    }
    return "unknown";
}

static const char *const rule_names[] = {"prefer", "neutral", "prefer_not", "must_not"};

const char *promotion_rule_str(promotion_rule_t r)
{
    return (unsigned)r < 4 ? rule_names[r] : "?";
}

bool promotion_rule_parse(const char *s, promotion_rule_t *out)
{
    for (unsigned i = 0; i < 4; i++)
        if (strcmp(s, rule_names[i]) == 0) {
            *out = (promotion_rule_t)i;
            return true;
        }
    return false;
}
