/* status.c - see status.h. */
#include "status.h"

#include "detect.h"
#include "durability.h"
#include "elect.h"
#include "jtext.h"
#include "quorum.h"
#include "timefmt.h"
#include "tls.h"
#include "topology.h"
#include "tree.h"

/* A monotonic stamp as wall-clock text, or JSON null for 0 (never). */
static json_t *stamp(uint64_t mono, const status_clock_t *clk)
{
    if (!mono)
        return json_null();
    uint64_t ago = clk->now_mono > mono ? clk->now_mono - mono : 0;
    char ts[32];
    format_wall_ms(clk->now_wall - ago, ts, sizeof ts);
    return json_string(ts);
}

/* Text from servers and the configuration may be any bytes: never dropped
 * (see jtext.h). */
static json_t *nullable_str(const char *s)
{
    return jtext(s);
}

static json_t *replication_json(const cluster_t *c, const observation_t *o)
{
    if (!o->ok || !o->replica)
        return json_null();
    int src = cluster_source_of(c, o);
    long long backlog = elect_backlog(o);
    return json_pack("{s:o, s:o, s:I, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "source",
                     src >= 0 ? jtext(c->nodes[src].name) : json_null(), "source_host",
                     jtext(o->source_host), "source_port", (json_int_t)o->source_port, "io",
                     io_state_str(o->io), "sql", o->sql_running, "lag_s",
                     o->lag_s >= 0 ? json_integer(o->lag_s) : json_null(), "backlog",
                     backlog >= 0 ? json_integer(backlog) : json_null(), "received_gtids",
                     jtext(o->received_gtids), "executed_gtids", jtext(o->executed_gtids),
                     "last_io_error", jtext(o->last_io_error ? o->last_io_error : ""),
                     "last_sql_error", jtext(o->last_sql_error ? o->last_sql_error : ""));
}

static json_t *yes_no_json(int v)
{
    return v == 1 ? json_string("yes") : v == 0 ? json_string("no") : v == 2 ? json_string("ignored")
                                                                      : json_null();
}

/* The node's TLS: the ssl_mode configured, the probe session's protocol and
 * what was verified of the certificate, and a replica's channel settings. */
static json_t *tls_json(const node_t *n)
{
    const observation_t *o = &n->last_ok;
    bool known = o->ok;
    json_t *j = json_object();
    json_object_set_new(j, "ssl_mode",
                        json_string(tls_mode_str(n->tls ? n->tls->mode : TLS_MODE_DISABLED)));
    json_object_set_new(j, "version", known ? nullable_str(o->tls_version) : json_null());
    json_object_set_new(j, "verified",
                        known && o->tls_verified ? json_string(o->tls_verified) : json_null());
    json_object_set_new(j, "channel_ssl",
                        known && o->replica ? yes_no_json(o->channel_ssl) : json_null());
    json_object_set_new(j, "channel_verify_server_cert",
                        known && o->replica ? yes_no_json(o->channel_ssl_verify) : json_null());
    return j;
}

/* The node's place in the replication tree (tree.h): the node it
 * replicates from (as last seen; null for none or a server outside the
 * cluster), and how many hops it is below the primary (0 the primary, 1 a
 * direct replica, 2 a relay's replica; null when not below it). */
static void tree_json(const cluster_t *c, const node_t *n, json_t *j)
{
    int i = (int)(n - c->nodes);
    int src = cluster_source_of(c, &n->last_ok);
    int depth = c->primary >= 0 ? tree_depth(c, i, c->primary) : -1;
    json_object_set_new(j, "source", src >= 0 ? jtext(c->nodes[src].name) : json_null());
    json_object_set_new(j, "depth", depth >= 0 ? json_integer(depth) : json_null());
}

static json_t *node_json(const cluster_t *c, const node_t *n, const status_clock_t *clk)
{
    const observation_t *o = &n->last_ok;
    const char *state = !n->probed ? "unknown" : n->up ? "up" : n->unobservable ? "unobservable" : "down";
    json_t *j = json_pack("{s:o, s:o, s:I, s:s, s:s, s:s}", "name", jtext(n->name), "host",
                          jtext(n->host),
                          "port", (json_int_t)n->port, "role", role_str(n->role), "state", state,
                          "promotion_rule", promotion_rule_str(n->rule));
    bool known = o->ok;
    json_object_set_new(j, "flavor", known ? json_string(family_str(o->family)) : json_null());
    json_object_set_new(j, "version", known ? nullable_str(o->version) : json_null());
    json_object_set_new(j, "read_only", known ? json_boolean(o->read_only) : json_null());
    json_object_set_new(j, "super_read_only",
                        known && o->super_read_only >= 0 ? json_boolean(o->super_read_only)
                                                         : json_null());
    json_object_set_new(j, "server_id", known ? json_integer(o->server_id) : json_null());
    json_object_set_new(j, "server_uuid", known ? nullable_str(o->server_uuid) : json_null());
    json_object_set_new(j, "gtid_executed", known ? nullable_str(o->gtid_executed) : json_null());
    json_object_set_new(j, "errant_gtids", jtext(n->errant));
    json_object_set_new(j, "gtid_error", known ? nullable_str(o->gtid_error) : json_null());
    json_object_set_new(j, "replication", replication_json(c, o));
    json_object_set_new(j, "replication_filters",
                        known && o->replica && o->repl_filters ? jtext(o->repl_filters)
                                                               : json_null());
    json_object_set_new(j, "latency_ms", n->up ? json_real(n->latency_ms) : json_null());
    json_object_set_new(j, "last_probe", stamp(n->last_probe_at, clk));
    json_object_set_new(j, "down_since", n->up ? json_null() : stamp(n->fail_since, clk));
    json_object_set_new(j, "last_error",
                        n->up || !n->last_error ? json_null() : jtext(n->last_error));
    json_object_set_new(j, "denied_privilege",
                        n->unobservable && n->denied_privilege ? jtext(n->denied_privilege)
                                                               : json_null());
    json_object_set_new(j, "missing_privileges",
                        n->grants_missing ? jtext(n->grants_missing) : json_null());
    json_object_set_new(j, "tls", tls_json(n));
    tree_json(c, n, j);
    return j;
}

json_t *status_cluster_json(const cluster_t *c, const status_clock_t *clk)
{
    json_t *nodes = json_array();
    for (size_t i = 0; i < c->n_nodes; i++)
        json_array_append_new(nodes, node_json(c, &c->nodes[i], clk));
    json_t *issues = json_array();
    for (size_t i = 0; i < c->n_issues; i++)
        json_array_append_new(issues, jtext(c->issues[i]));
    json_t *j = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "name", jtext(c->name), "verdict",
                          verdict_str(c->detect.verdict), "verdict_since",
                          stamp(c->detect.since, clk), "verdict_reason",
                          jtext(c->verdict_reason), "primary",
                          c->primary >= 0 ? jtext(c->nodes[c->primary].name) : json_null(),
                          "issues", issues, "nodes", nodes);
    json_object_set_new(j, "durability", durability_json(c, clk->now_mono, clk->now_wall));
    if (c->vantage.n_votes)
        json_object_set_new(j, "vantage", quorum_json(&c->vantage));
    int partner = topology_dual_partner(c, c->primary);
    json_object_set_new(j, "topology", json_string(topology_kind(c)));
    json_object_set_new(j, "dual_partner",
                        partner >= 0 ? jtext(c->nodes[partner].name) : json_null());
    /* The primary's short losses (flap.h): whether it is flapping now, the
     * episodes since then, and every episode seen. */
    json_object_set_new(j, "flapping",
                        json_pack("{s:b, s:i, s:i, s:o}", "flapping", c->flap.flapping,
                                  "episodes", (int)(c->flap.flapping ? c->flap.episodes : 0),
                                  "episodes_total", (int)c->flap.total, "since",
                                  c->flap.flapping ? stamp(c->flap.since, clk) : json_null()));
    return j;
}
