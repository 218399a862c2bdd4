/* ctlrender_status.c - the "status" reply for people: the daemon, then one
 * block per cluster with its node table (see ctlrender.h). */
#include "ctlrender.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlrender_int.h"

/* ---- status ---- */

static void render_daemon(buf_t *out, const json_t *d)
{
    if (!json_is_object(d))
        return;
    line_t l = {out, 0, 2, true};
    cr_piecef(&l, "failoverd %s", cr_str_or(d, "version", "?"));
    json_t *pid = json_object_get(d, "pid");
    if (json_is_integer(pid))
        cr_piecef(&l, "pid %lld", json_integer_value(pid));
    json_t *up = json_object_get(d, "uptime_s");
    if (json_is_number(up)) {
        char b[32];
        cr_fmt_duration(b, sizeof b, json_number_value(up));
        cr_piecef(&l, "up %s", b);
    }
    if (cr_str(d, "config"))
        cr_piecef(&l, "config %s", cr_str(d, "config"));
    buf_putc(out, '\n');
    if (json_is_true(json_object_get(d, "stalled")))
        cr_wrap(out, "WARNING: ", 9,
                "the daemon's loop stalled or the clock jumped; it observes without acting "
                "for now");
}

/* Coordination (docs/ha.md): one line, nothing in standalone mode. */
static void render_coordination(buf_t *out, const json_t *c)
{
    if (!json_is_object(c) || !cr_str(c, "mode") || strcmp(cr_str(c, "mode"), "etcd") != 0)
        return;
    line_t l = {out, 0, 2, true};
    cr_piecef(&l, "coordination etcd");
    cr_piecef(&l, "manager %s", cr_str_or(c, "manager", "?"));
    cr_piecef(&l, "role %s", cr_str_or(c, "role", "?"));
    const json_t *ld = json_object_get(c, "leader");
    if (json_is_object(ld))
        cr_piecef(&l, "leader %s on %s", cr_str_or(ld, "id", "?"), cr_str_or(ld, "host", "?"));
    else
        cr_piecef(&l, "leader unknown");
    json_t *term = json_object_get(c, "term");
    if (json_is_integer(term))
        cr_piecef(&l, "term %lld", json_integer_value(term));
    json_t *valid = json_object_get(c, "lease_valid_ms");
    if (json_is_integer(valid))
        cr_piecef(&l, "lease valid %lld ms", json_integer_value(valid));
    buf_putc(out, '\n');
    if (cr_str(c, "etcd_error"))
        cr_wrap(out, "  etcd: ", 8, cr_str(c, "etcd_error"));
}

static void render_failover(buf_t *out, const json_t *f)
{
    if (!json_is_object(f))
        return;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s %s", cr_str_or(f, "kind", "failover"), cr_str_or(f, "state", "?"));
    const char *sep = ": ";
    if (cr_str(f, "step")) {
        buf_printf(&b, "%sstep %s", sep, cr_str(f, "step"));
        sep = ", ";
    }
    if (cr_str(f, "candidate")) {
        buf_printf(&b, "%scandidate %s", sep, cr_str(f, "candidate"));
        sep = ", ";
    }
    if (cr_str(f, "started"))
        buf_printf(&b, "%sstarted %s", sep, cr_str(f, "started"));
    cr_wrap(out, "  ", 4, buf_str(&b));
    buf_free(&b);
}

/* The node table's fixed columns; NODE takes the width of the longest name
 * (within NODE_MIN and NODE_MAX) and GTID whatever is left of the line. */
enum { C_ROLE = 7, C_STATE = 5, C_RO = 5, C_IOSQL = 8, C_LAG = 4, C_BKLOG = 5, C_LAT = 5 };
#define FIXED (C_ROLE + C_STATE + C_RO + C_IOSQL + C_LAG + C_BKLOG + C_LAT + 8)

static const char *io_short(const char *io)
{
    if (!io)
        return "?";
    if (strcmp(io, "yes") == 0 || strcmp(io, "no") == 0)
        return io;
    if (strcmp(io, "connecting") == 0)
        return "conn";
    return "?";
}

static const char *one_of(const char *s, const char *const *known)
{
    for (size_t i = 0; s && known[i]; i++)
        if (strcmp(s, known[i]) == 0)
            return known[i];
    return "?";
}

/* A replica of a relay is drawn indented under its relay, two spaces a
 * level below the primary's direct replicas (see node_order). */
static size_t tree_indent(const json_t *n)
{
    const json_t *d = json_object_get(n, "depth");
    if (!json_is_integer(d) || json_integer_value(d) < 2)
        return 0;
    json_int_t v = json_integer_value(d);
    return (size_t)(v > 8 ? 8 : v - 1) * 2;
}

static void put_tree_name(buf_t *out, const json_t *n, size_t node_w)
{
    size_t ind = tree_indent(n);
    if (ind >= node_w)
        ind = 0;
    for (size_t k = 0; k < ind; k++)
        buf_putc(out, ' ');
    cr_put_name_cell(out, cr_str_or(n, "name", "?"), node_w - ind);
}

static void render_node_row(buf_t *out, const json_t *n, size_t node_w)
{
    static const char *const roles[] = {"primary", "replica", NULL};
    static const char *const states[] = {"up", "down", NULL};
    const json_t *r = json_object_get(n, "replication");
    bool repl = json_is_object(r);
    char iosql[32], lag[32], bklog[32], lat[32];

    const json_t *ro = json_object_get(n, "read_only");
    const char *ros = json_is_false(ro)                                     ? "no"
                      : json_is_true(json_object_get(n, "super_read_only")) ? "super"
                      : json_is_true(ro)                                    ? "yes"
                                                                            : "?";
    if (repl)
        snprintf(iosql, sizeof iosql, "%s/%s", io_short(cr_str(r, "io")),
                 cr_yes_no(json_object_get(r, "sql")));
    else
        snprintf(iosql, sizeof iosql, "-");
    if (repl) {
        cr_fmt_lag(lag, sizeof lag, json_object_get(r, "lag_s"));
        cr_fmt_count(bklog, sizeof bklog, json_object_get(r, "backlog"));
    } else {
        snprintf(lag, sizeof lag, "-");
        snprintf(bklog, sizeof bklog, "-");
    }
    cr_fmt_latency(lat, sizeof lat, json_object_get(n, "latency_ms"));

    put_tree_name(out, n, node_w);
    cr_put_cell(out, one_of(cr_str(n, "role"), roles), C_ROLE, false);
    /* unobservable: reachable, but the account may not read it ("unobs"; the
     * privilege is in the notes). */
    cr_put_cell(out,
                cr_nonempty(cr_str(n, "state")) && strcmp(cr_str(n, "state"), "unobservable") == 0
                    ? "unobs"
                    : one_of(cr_str(n, "state"), states),
                C_STATE, false);
    cr_put_cell(out, ros, C_RO, false);
    cr_put_cell(out, iosql, C_IOSQL, false);
    cr_put_cell(out, lag, C_LAG, false);
    cr_put_cell(out, bklog, C_BKLOG, false);
    cr_put_cell(out, lat, C_LAT, false);
    const char *g = cr_str(n, "gtid_executed");
    buf_t gs = BUF_INIT;
    if (!g)
        buf_puts(&gs, "?");
    else if (!*g)
        buf_puts(&gs, "-");
    else
        ctlrender_gtid_summary(&gs, g, W - FIXED - node_w);
    cr_put_cell(out, buf_str(&gs), W - FIXED - node_w, true);
    buf_free(&gs);
    buf_putc(out, '\n');
}

/* One line on TLS: failoverd's session to the node (protocol, what of the
 * certificate was verified) and a replica's channel. Only for a node seen
 * up, from a daemon that reports it, and when TLS is in play at all (not
 * ssl_mode disabled with a plain channel). */
static void render_node_tls(buf_t *out, const json_t *n)
{
    const json_t *t = json_object_get(n, "tls");
    if (!json_is_object(t) || !cr_nonempty(cr_str(n, "state")) || strcmp(cr_str(n, "state"), "up") != 0)
        return;
    if (strcmp(cr_str_or(t, "ssl_mode", ""), "disabled") == 0 && !cr_nonempty(cr_str(t, "version")) &&
        strcmp(cr_str_or(t, "channel_ssl", ""), "yes") != 0)
        return;
    buf_t b = BUF_INIT;
    const char *v = cr_str(t, "version"), *ver = cr_str(t, "verified");
    if (cr_nonempty(v))
        buf_printf(&b, "%s, certificate %s", v,
                   !ver || strcmp(ver, "none") == 0 ? "not verified"
                   : strcmp(ver, "identity") == 0   ? "and host name verified"
                                                    : "chain verified");
    else
        buf_puts(&b, "none, plain TCP");
    buf_printf(&b, " (ssl_mode %s)", cr_str_or(t, "ssl_mode", "?"));
    const char *ch = cr_str(t, "channel_ssl"), *chv = cr_str(t, "channel_verify_server_cert");
    if (ch)
        buf_printf(&b, "; channel: %s",
                   strcmp(ch, "yes") == 0       ? (chv && strcmp(chv, "yes") == 0
                                                       ? "TLS, source certificate verified"
                                                       : "TLS")
                   : strcmp(ch, "ignored") == 0 ? "TLS configured but not supported"
                                                : "no TLS");
    cr_wrap(out, "  tls: ", 7, buf_str(&b));
    buf_free(&b);
}


/* The lines under a node row: what went wrong, and where it replicates from
 * when that is not the cluster's primary (or is the primary's dual partner). */
static void render_node_notes(buf_t *out, const json_t *n, const char *primary,
                              const char *partner)
{
    const json_t *r = json_object_get(n, "replication");
    if (cr_nonempty(cr_str(n, "last_error")))
        cr_wrap(out, "  error: ", 9, cr_str(n, "last_error"));
    if (cr_nonempty(cr_str(n, "gtid_error")))
        cr_wrap(out, "  gtid error: ", 14, cr_str(n, "gtid_error"));
    if (json_is_object(r)) {
        if (cr_nonempty(cr_str(r, "last_io_error")))
            cr_wrap(out, "  io error: ", 12, cr_str(r, "last_io_error"));
        if (cr_nonempty(cr_str(r, "last_sql_error")))
            cr_wrap(out, "  sql error: ", 13, cr_str(r, "last_sql_error"));
        if (cr_nonempty(cr_str(n, "replication_filters")))
            cr_wrap(out, "  filters: ", 11, cr_str(n, "replication_filters"));
        const char *src = cr_str(r, "source");
        buf_t b = BUF_INIT;
        if (src && partner && strcmp(src, partner) == 0) {
            buf_printf(&b, "%s (dual partner)", src);
        } else if (src && primary && strcmp(src, primary) != 0) {
            buf_printf(&b, "%s (not the primary)", src);
        } else if (!src && cr_str(r, "source_host")) {
            json_t *port = json_object_get(r, "source_port");
            buf_printf(&b, "%s", cr_str(r, "source_host"));
            if (json_is_integer(port))
                buf_printf(&b, ":%lld", json_integer_value(port));
            buf_puts(&b, " (not in the cluster)");
        }
        if (b.len)
            cr_wrap(out, "  source: ", 10, buf_str(&b));
        buf_free(&b);
    }
    if (cr_str(n, "down_since") && cr_nonempty(cr_str(n, "state")) &&
        strcmp(cr_str(n, "state"), "down") == 0)
        cr_wrap(out, "  down since ", 4, cr_str(n, "down_since"));
    if (cr_nonempty(cr_str(n, "denied_privilege")))
        cr_wrap(out, "  unobservable: failoverd's account lacks ", 4,
                cr_str(n, "denied_privilege"));
    if (cr_nonempty(cr_str(n, "missing_privileges")))
        cr_wrap(out, "  failoverd's account lacks: ", 4, cr_str(n, "missing_privileges"));
    render_node_tls(out, n);
}

/* Why an automatic failover would not start now, when it would not. */
static void render_auto_blocked(buf_t *out, const json_t *c)
{
    const char *why = cr_str(c, "auto_blocked");
    if (!cr_nonempty(why))
        return;
    buf_t b = BUF_INIT;
    const char *until = cr_str(c, "blocked_until");
    if (cr_nonempty(until))
        buf_printf(&b, "until %s: ", until);
    buf_puts(&b, why);
    cr_wrap(out, "  automatic failover blocked ", 4, buf_str(&b));
    buf_free(&b);
}

/* One line on what a commit acknowledged by the primary is worth: its
 * semi-sync state and settings; the issues say what is degraded. */
static void render_durability(buf_t *out, const json_t *d)
{
    const json_t *ss = json_object_get(d, "semisync");
    if (!json_is_object(ss))
        return;
    buf_t b = BUF_INIT;
    const char *state = cr_str_or(ss, "state", "unknown");
    if (strcmp(state, "off") == 0)
        buf_printf(&b, "OFF on %s since %s: commits are asynchronous", cr_str_or(ss, "node", "?"),
                   cr_str_or(d, "semisync_off_since", "?"));
    else
        buf_printf(&b, "%s on %s", state, cr_str_or(ss, "node", "?"));
    if (strcmp(state, "on") == 0 || strcmp(state, "off") == 0) {
        json_t *v;
        if (json_is_integer(v = json_object_get(ss, "clients")))
            buf_printf(&b, "; %lld replica%s acknowledging", json_integer_value(v),
                       json_integer_value(v) == 1 ? "" : "s");
        if (json_is_integer(v = json_object_get(ss, "waiting_sessions")))
            buf_printf(&b, ", %lld commit%s waiting", json_integer_value(v),
                       json_integer_value(v) == 1 ? "" : "s");
        if (json_is_integer(v = json_object_get(ss, "wait_for_replica_count")))
            buf_printf(&b, "; needs %lld ack%s", json_integer_value(v),
                       json_integer_value(v) == 1 ? "" : "s");
        if (cr_str(ss, "wait_point"))
            buf_printf(&b, ", wait point %s", cr_str(ss, "wait_point"));
        if (json_is_integer(v = json_object_get(ss, "timeout_ms")))
            buf_printf(&b, ", timeout %lld ms", json_integer_value(v));
        if (json_is_boolean(v = json_object_get(ss, "wait_no_replica")))
            buf_printf(&b, ", %s with no replica", json_is_true(v) ? "waits" : "does not wait");
    }
    cr_wrap(out, "  semi-sync: ", 13, buf_str(&b));
    buf_free(&b);
}

/* Where a read/write-splitting proxy sends traffic (docs/routing.md): the
 * writer and the reader pool, every replica that is out of the pool and why,
 * the fence state of the last operation's old primary, and how long automatic
 * failovers stay blocked. */
static void render_routing(buf_t *out, const json_t *c)
{
    const json_t *r = json_object_get(c, "routing");
    if (json_is_object(r)) {
        buf_t b = BUF_INIT;
        size_t i, k = 0;
        json_t *v;
        buf_printf(&b, "writer %s; readers ", cr_str_or(r, "writer", "none"));
        json_array_foreach(json_object_get(c, "nodes"), i, v)
        {
            const json_t *nr = json_object_get(v, "routing");
            if (json_is_true(json_object_get(nr, "reader")))
                buf_printf(&b, "%s%s", k++ ? ", " : "", cr_str_or(v, "name", "?"));
        }
        buf_printf(&b, "%s (max_read_lag %s%s)", k ? "" : "none", cr_str_or(r, "max_read_lag", "?"),
                   json_is_true(json_object_get(r, "fallback")) ? "; the primary serves reads"
                                                                 : "");
        cr_wrap(out, "  routing: ", 4, buf_str(&b));
        json_array_foreach(json_object_get(c, "nodes"), i, v)
        {
            const json_t *nr = json_object_get(v, "routing");
            if (!json_is_object(nr) || json_is_true(json_object_get(nr, "reader")) ||
                json_is_true(json_object_get(nr, "writer")))
                continue;
            buf_reset(&b);
            buf_printf(&b, "%s not in the reader pool: %s", cr_str_or(v, "name", "?"),
                       cr_str_or(nr, "why", "?"));
            const json_t *lag = json_object_get(nr, "lag_s");
            if (json_is_integer(lag))
                buf_printf(&b, " (lag %llds)", (long long)json_integer_value(lag));
            cr_wrap(out, "    ", 6, buf_str(&b));
        }
        buf_free(&b);
    }
    const json_t *f = json_object_get(c, "old_primary_fence");
    if (json_is_object(f)) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "%s: %s", cr_str_or(f, "node", "?"), cr_str_or(f, "state", "?"));
        cr_wrap(out, "  old primary ", 4, buf_str(&b));
        buf_free(&b);
    }
    const char *until = cr_str(c, "blocked_until");
    if (cr_nonempty(until) && !cr_nonempty(cr_str(c, "auto_blocked")))
        cr_wrap(out, "  automatic failover blocked until ", 4, until);
}

/* The managers' views of the primary when several managers watch the
 * cluster (docs/ha.md): the quorum verdict and why, then one line per
 * manager with its vote. Nothing for a manager on its own. */
static void render_vantage(buf_t *out, const json_t *v)
{
    if (!json_is_object(v))
        return;
    buf_t b = BUF_INIT;
    json_t *q = json_object_get(v, "quorum"), *n = json_object_get(v, "managers_configured");
    buf_printf(&b, "%s", cr_str_or(v, "verdict", "?"));
    if (json_is_integer(q) && json_is_integer(n))
        buf_printf(&b, " (quorum %lld of %lld)", json_integer_value(q), json_integer_value(n));
    if (cr_nonempty(cr_str(v, "reason")))
        buf_printf(&b, ": %s", cr_str(v, "reason"));
    cr_wrap(out, "  managers: ", 4, buf_str(&b));
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(v, "managers"), i, m)
    {
        if (!json_is_object(m))
            continue;
        buf_reset(&b);
        buf_printf(&b, "%s", cr_str_or(m, "id", "?"));
        const char *sep = " (";
        if (json_is_true(json_object_get(m, "self"))) {
            buf_printf(&b, "%sthis manager", sep);
            sep = ", ";
        }
        if (cr_nonempty(cr_str(m, "zone"))) {
            buf_printf(&b, "%szone %s", sep, cr_str(m, "zone"));
            sep = ", ";
        }
        json_t *age = json_object_get(m, "age_ms");
        if (!json_is_true(json_object_get(m, "self")) && json_is_integer(age)) {
            char d[32];
            double sec = (double)json_integer_value(age) / 1000.0;
            if (sec < 60)
                snprintf(d, sizeof d, "%.1fs", sec < 0 ? 0 : sec);
            else
                cr_fmt_duration(d, sizeof d, sec);
            buf_printf(&b, "%srecord %s old", sep, d);
            sep = ", ";
        }
        buf_printf(&b, "%s: %s", *sep == ',' ? ")" : "", cr_str_or(m, "vote", "?"));
        if (cr_nonempty(cr_str(m, "why")))
            buf_printf(&b, ": %s", cr_str(m, "why"));
        cr_wrap(out, "    ", 6, buf_str(&b));
    }
    buf_free(&b);
}

/* Appends node k and, after it, the nodes that replicate from it (depth
 * first, in the daemon's order among siblings). */
static void order_under(const json_t *nodes, size_t k, bool *seen, size_t *order, size_t *n)
{
    seen[k] = true;
    order[(*n)++] = k;
    const char *name = cr_str(json_array_get(nodes, k), "name");
    for (size_t x = 0; name && x < json_array_size(nodes); x++) {
        const char *src = cr_str(json_array_get(nodes, x), "source");
        if (!seen[x] && src && strcmp(src, name) == 0)
            order_under(nodes, x, seen, order, n);
    }
}

/* The order the node table is drawn in: the daemon's (configuration) order,
 * unless a relay replica is in the cluster (a node two or more hops below
 * the primary): then the tree, the primary first, each node followed by its
 * replicas, and the nodes outside the tree last. */
static void node_order(const json_t *nodes, const char *primary, size_t *order)
{
    size_t n_nodes = json_array_size(nodes), n = 0, root = n_nodes;
    bool relays = false;
    for (size_t k = 0; k < n_nodes; k++) {
        const json_t *v = json_array_get(nodes, k);
        relays = relays || tree_indent(v) > 0;
        if (primary && cr_str(v, "name") && strcmp(cr_str(v, "name"), primary) == 0)
            root = k;
    }
    bool *seen = calloc(n_nodes ? n_nodes : 1, sizeof *seen);
    if (relays && root < n_nodes && seen)
        order_under(nodes, root, seen, order, &n);
    for (size_t k = 0; k < n_nodes; k++)
        if (!seen || !seen[k])
            order[n++] = k;
    free(seen);
}

/* The cluster's state shared through etcd (docs/ha.md, "The shared
 * state"): who wrote it, and the pause, hold and block it holds. Nothing
 * for a manager on its own. */
static void render_shared(buf_t *out, const json_t *s)
{
    if (!json_is_object(s) || (!cr_str(s, "manager") && !cr_str(s, "error")))
        return;
    buf_t b = BUF_INIT;
    if (cr_str(s, "manager")) {
        buf_printf(&b, "written by %s", cr_str(s, "manager"));
        if (json_is_integer(json_object_get(s, "term")))
            buf_printf(&b, " (term %lld)", json_integer_value(json_object_get(s, "term")));
        if (cr_str(s, "written"))
            buf_printf(&b, " at %s", cr_str(s, "written"));
        if (json_is_true(json_object_get(s, "paused")))
            buf_printf(&b, "; paused%s%s", cr_str(s, "paused_by") ? " by " : "",
                       cr_str_or(s, "paused_by", ""));
        const json_t *h = json_object_get(s, "held");
        if (json_is_object(h))
            buf_printf(&b, "; held until ack%s%s: %s", cr_str(h, "by") ? " by " : "",
                       cr_str_or(h, "by", ""), cr_str_or(h, "reason", "?"));
        const json_t *l = json_object_get(s, "last_failover");
        if (json_is_object(l))
            buf_printf(&b, "; last failover %s (%s -> %s%s)", cr_str_or(l, "op", "?"),
                       cr_str_or(l, "old_primary", "?"), cr_str_or(l, "new_primary", "?"),
                       json_is_true(json_object_get(l, "acked")) ? ", acknowledged" : "");
        if (cr_str(s, "blocked_until"))
            buf_printf(&b, "; blocked until %s", cr_str(s, "blocked_until"));
    }
    if (cr_str(s, "error"))
        buf_printf(&b, "%setcd: %s", b.len ? "; " : "", cr_str(s, "error"));
    cr_wrap(out, "  shared state: ", 4, buf_str(&b));
    buf_free(&b);
}

static void render_node_rows(buf_t *out, const json_t *nodes, const char *primary,
                             const char *partner, size_t node_w)
{
    size_t n_nodes = json_array_size(nodes), *order = calloc(n_nodes, sizeof *order);
    if (!order)
        return;
    node_order(nodes, primary, order);
    for (size_t k = 0; k < n_nodes; k++) {
        const json_t *v = json_array_get(nodes, order[k]);
        if (!json_is_object(v))
            continue;
        render_node_row(out, v, node_w);
        render_node_notes(out, v, primary, partner);
    }
    free(order);
}

static void render_cluster(buf_t *out, const json_t *c)
{
    const char *primary = cr_str(c, "primary");
    const char *verdict = cr_str(c, "verdict");
    char vup[32];
    snprintf(vup, sizeof vup, "%s", verdict ? verdict : "?");
    for (char *p = vup; *p; p++)
        *p = (char)toupper((unsigned char)*p);

    line_t l = {out, 0, 2, true};
    cr_piecef(&l, "CLUSTER %s", cr_str_or(c, "name", "?"));
    cr_piece(&l, vup);
    cr_piecef(&l, "primary %s", primary ? primary : "?");
    cr_piecef(&l, "policy %s", cr_str_or(c, "policy", "?"));
    cr_piecef(&l, "paused %s", cr_yes_no(json_object_get(c, "paused")));
    if (json_is_false(json_object_get(c, "auto_failover")))
        cr_piece(&l, "auto-failover off");
    if (cr_nonempty(cr_str(c, "dual_partner")))
        cr_piecef(&l, "dual primary with %s", cr_str(c, "dual_partner"));
    buf_putc(out, '\n');

    const char *since = cr_str(c, "verdict_since");
    const char *reason = cr_str(c, "verdict_reason");
    if (since || reason) {
        buf_t b = BUF_INIT;
        if (since)
            buf_printf(&b, "since %s%s", since, reason ? ": " : "");
        if (reason)
            buf_puts(&b, reason);
        cr_wrap(out, "  ", 4, buf_str(&b));
        buf_free(&b);
    }
    render_vantage(out, json_object_get(c, "vantage"));
    render_failover(out, json_object_get(c, "failover"));
    render_auto_blocked(out, c);
    render_shared(out, json_object_get(c, "shared"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c, "issues"), i, v)
    {
        if (json_is_string(v))
            cr_wrap(out, "  issue: ", 9, json_string_value(v));
    }
    render_durability(out, json_object_get(c, "durability"));
    render_routing(out, c);

    const json_t *nodes = json_object_get(c, "nodes");
    if (json_array_size(nodes) == 0) {
        buf_puts(out, "  (no nodes)\n");
        return;
    }
    size_t node_w = NODE_MIN;
    json_array_foreach(nodes, i, v)
    {
        char *name = cr_clean(cr_str_or(v, "name", "?"));
        size_t w = ctlrender_width(name) + tree_indent(v);
        free(name);
        if (w > node_w)
            node_w = w;
    }
    if (node_w > NODE_MAX)
        node_w = NODE_MAX;
    cr_put_cell(out, "NODE", node_w, false);
    cr_put_cell(out, "ROLE", C_ROLE, false);
    cr_put_cell(out, "STATE", C_STATE, false);
    cr_put_cell(out, "RO", C_RO, false);
    cr_put_cell(out, "IO/SQL", C_IOSQL, false);
    cr_put_cell(out, "LAG", C_LAG, false);
    cr_put_cell(out, "BKLOG", C_BKLOG, false);
    cr_put_cell(out, "LAT", C_LAT, false);
    cr_put_cell(out, "GTID", W - FIXED - node_w, true);
    buf_putc(out, '\n');
    render_node_rows(out, nodes, primary, cr_str(c, "dual_partner"), node_w);
}

void ctlrender_status(buf_t *out, const json_t *result)
{
    render_daemon(out, json_object_get(result, "daemon"));
    render_coordination(out, json_object_get(result, "coordination"));
    const json_t *clusters = json_object_get(result, "clusters");
    if (json_array_size(clusters) == 0) {
        buf_puts(out, "no clusters\n");
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(clusters, i, c)
    {
        if (i > 0 || json_is_object(json_object_get(result, "daemon")))
            buf_putc(out, '\n');
        render_cluster(out, c);
    }
}
