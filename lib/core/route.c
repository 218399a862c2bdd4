/* route.c - see route.h. */
#include "route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gtid.h"
#include "buf.h"

bool route_lag_parse(const char *text, route_settings_t *out, char *err, size_t err_len)
{
    if (!text || !*text) {
        snprintf(err, err_len, "empty: give seconds (\"5s\") or \"caught_up\"");
        return false;
    }
    if (strcmp(text, "caught_up") == 0) {
        out->caught_up = true;
        out->max_lag_s = 0;
        return true;
    }
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    long long mul = 1;
    if (end == text || errno || v < 0) {
        snprintf(err, err_len, "\"%s\" is neither whole seconds (\"5s\") nor \"caught_up\"", text);
        return false;
    }
    if (strcmp(end, "s") == 0 || *end == '\0')
        mul = 1;
    else if (strcmp(end, "m") == 0)
        mul = 60;
    else if (strcmp(end, "h") == 0)
        mul = 3600;
    else {
        snprintf(err, err_len, "\"%s\" is neither whole seconds (\"5s\") nor \"caught_up\"", text);
        return false;
    }
    if (v > 86400 / mul) {
        snprintf(err, err_len, "\"%s\" is more than a day", text);
        return false;
    }
    out->caught_up = false;
    out->max_lag_s = v * mul;
    return true;
}

/* Whether replica o applied everything primary p had at its latest probe: 1
 * yes, 0 no, -1 not known (a GTID state missing or unparsable). */
static int caught_up(const observation_t *p, const observation_t *o)
{
    if (!p->gtid_executed || p->gtid_error || !o->executed_gtids || o->gtid_error)
        return -1;
    char err[128];
    if (o->family == FAMILY_MARIADB) {
        gtid_pos_t *a = gtid_pos_parse(o->executed_gtids, err, sizeof err);
        gtid_pos_t *b = gtid_pos_parse(p->gtid_executed, err, sizeof err);
        int r = a && b ? gtid_pos_covers(a, b) : -1;
        gtid_pos_free(a);
        gtid_pos_free(b);
        return r;
    }
    return gtid_text_subset(p->gtid_executed, o->executed_gtids, err, sizeof err);
}

/* Whether replica i may serve reads; *why says why (not). */
static bool qualifies(const cluster_t *c, const route_settings_t *s, size_t i, const char **why)
{
    const node_t *n = &c->nodes[i];
    const observation_t *o = &n->last_ok;
    if (n->unobservable) {
        *why = "not observable";
        return false;
    }
    if (!n->up) {
        *why = "down";
        return false;
    }
    if (c->primary < 0) {
        *why = "no primary known";
        return false;
    }
    if (!o->replica) {
        *why = "not replicating";
        return false;
    }
    if (!o->read_only) {
        *why = "writable";
        return false;
    }
    if (cluster_find_node(c, o->source_host ? o->source_host : "", o->source_port) != c->primary) {
        *why = "replicates from another source than the primary";
        return false;
    }
    if (o->io != IO_YES) {
        *why = "receiver thread not running";
        return false;
    }
    if (!o->sql_running) {
        *why = "applier thread not running";
        return false;
    }
    if (s->caught_up) {
        int r = caught_up(&c->nodes[c->primary].last_ok, o);
        *why = r > 0 ? "caught up" : r == 0 ? "not caught up" : "GTID state unknown";
        return r > 0;
    }
    if (o->lag_s < 0) {
        *why = "lag unknown";
        return false;
    }
    if (o->lag_s > s->max_lag_s) {
        *why = "lagging";
        return false;
    }
    *why = "within max_read_lag";
    return true;
}

void route_compute(const cluster_t *c, const route_settings_t *s, route_t *r)
{
    *r = (route_t){.writer = -1, .n = c->n_nodes};
    r->nodes = xcalloc(c->n_nodes ? c->n_nodes : 1, sizeof *r->nodes);
    int p = c->primary;
    if (p >= 0 && c->nodes[p].up && !c->nodes[p].unobservable && !c->nodes[p].last_ok.read_only)
        r->writer = p;
    size_t readers = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        route_node_t *rn = &r->nodes[i];
        const node_t *n = &c->nodes[i];
        rn->lag_s = n->last_ok.replica ? n->last_ok.lag_s : -1;
        if ((int)i == p) {
            rn->writer = r->writer == p;
            rn->why = rn->writer ? "primary" : n->up ? "primary, read-only" : "primary, down";
            continue;
        }
        rn->reader = qualifies(c, s, i, &rn->why);
        readers += rn->reader;
    }
    if (!readers && s->fallback_primary && r->writer >= 0) {
        r->fallback = true;
        r->nodes[r->writer].reader = true;
        r->nodes[r->writer].why = "primary, serving reads: no replica qualifies";
    }
}

void route_free(route_t *r)
{
    free(r->nodes);
    *r = (route_t){.writer = -1};
}

bool route_same(const route_t *a, const route_t *b)
{
    if (a->writer != b->writer || a->fallback != b->fallback || a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->nodes[i].writer != b->nodes[i].writer || a->nodes[i].reader != b->nodes[i].reader ||
            strcmp(a->nodes[i].why ? a->nodes[i].why : "", b->nodes[i].why ? b->nodes[i].why : ""))
            return false;
    return true;
}

const char *route_reader_word(const route_node_t *n)
{
    return n->reader ? "in the reader pool" : "not in the reader pool";
}

json_t *route_json(const cluster_t *c, const route_settings_t *s, const route_t *r)
{
    json_t *nodes = json_array();
    for (size_t i = 0; i < r->n && i < c->n_nodes; i++) {
        const route_node_t *rn = &r->nodes[i];
        json_t *j = json_pack("{s:s, s:s, s:i, s:b, s:b, s:s}", "name", c->nodes[i].name, "host",
                              c->nodes[i].host, "port", (int)c->nodes[i].port, "writer",
                              rn->writer, "reader", rn->reader, "why", rn->why ? rn->why : "");
        json_object_set_new(j, "lag_s", rn->lag_s >= 0 ? json_integer(rn->lag_s) : json_null());
        json_array_append_new(nodes, j);
    }
    char lag[32];
    if (s->caught_up)
        snprintf(lag, sizeof lag, "caught_up");
    else
        snprintf(lag, sizeof lag, "%llds", (long long)s->max_lag_s);
    json_t *j = json_pack("{s:b, s:s, s:o}", "fallback", r->fallback, "max_read_lag", lag,
                          "nodes", nodes);
    json_object_set_new(j, "writer",
                        r->writer >= 0 ? json_string(c->nodes[r->writer].name) : json_null());
    return j;
}

const char *route_fence_state(const cluster_t *c, const char *name)
{
    int i = name ? cluster_find_node_by_name(c, name) : -1;
    if (i < 0)
        return NULL;
    const node_t *n = &c->nodes[i];
    if (n->unobservable)
        return "not observable: fence state unknown";
    if (!n->up)
        return "down: fence state unknown";
    if (i == c->primary && !n->last_ok.read_only)
        return "the primary again";
    if (!n->last_ok.read_only)
        return "NOT fenced: writable";
    if (n->last_ok.replica && c->primary >= 0 &&
        cluster_find_node(c, n->last_ok.source_host ? n->last_ok.source_host : "",
                          n->last_ok.source_port) == c->primary &&
        n->last_ok.io == IO_YES && n->last_ok.sql_running)
        return "rejoined (replicates from the primary)";
    return "fenced (read-only)";
}

void route_status(const cluster_t *c, const route_settings_t *s, const route_t *r,
                  json_t *st)
{
    if (r) {
        json_t *j = route_json(c, s, r);
        json_object_del(j, "nodes");
        json_object_set_new(st, "routing", j);
    } else {
        json_object_set_new(st, "routing", json_null());
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(st, "nodes"), i, v)
    {
        int k = cluster_find_node_by_name(c, json_string_value(json_object_get(v, "name")));
        if (!r || k < 0 || (size_t)k >= r->n) {
            json_object_set_new(v, "routing", json_null());
            continue;
        }
        const route_node_t *rn = &r->nodes[k];
        json_t *j = json_pack("{s:b, s:b, s:s}", "writer", rn->writer, "reader", rn->reader,
                              "why", rn->why ? rn->why : "");
        json_object_set_new(j, "lag_s", rn->lag_s >= 0 ? json_integer(rn->lag_s) : json_null());
        json_object_set_new(v, "routing", j);
    }
    const char *old =
        json_string_value(json_object_get(json_object_get(st, "last_operation"), "old_primary"));
    const char *fence = route_fence_state(c, old);
    json_object_set_new(st, "old_primary_fence",
                        fence ? json_pack("{s:s, s:s}", "node", old, "state", fence) : json_null());
}
