/* router.c - see router.h. */
#include "router.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "topofile.h"

struct router {
    char *cluster;
    route_settings_t rs;
    route_t route; /* the last computed view */
    bool routed;
    char *topology_file; /* "" none */
    char *topo_text;     /* what was last written there (without "updated") */
    uint64_t topo_at;
    bool topo_failing;
};

router_t *router_create(const char *cluster)
{
    router_t *r = xcalloc(1, sizeof *r);
    r->cluster = xstrdup(cluster ? cluster : "");
    r->rs = (route_settings_t){.max_lag_s = 5, .fallback_primary = true};
    r->topology_file = xstrdup("");
    r->route.writer = -1;
    return r;
}

void router_free(router_t *r)
{
    if (!r)
        return;
    route_free(&r->route);
    free(r->cluster);
    free(r->topology_file);
    free(r->topo_text);
    free(r);
}

void router_set(router_t *r, const route_settings_t *rs, const char *topology_file)
{
    r->rs = *rs;
    free(r->topology_file);
    r->topology_file = xstrdup(topology_file ? topology_file : "");
    free(r->topo_text);
    r->topo_text = NULL;
    r->routed = false; /* the next probe states the view anew */
}

const route_t *router_view(const router_t *r, route_settings_t *rs)
{
    if (rs)
        *rs = r->rs;
    return r->routed ? &r->route : NULL;
}

/* "db2, db3" of the nodes in the reader pool, or "none". */
static void reader_list(const cluster_t *c, const route_t *r, buf_t *b)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->nodes[i].reader)
            buf_printf(b, "%s%s", k++ ? ", " : "", c->nodes[i].name);
    if (!k)
        buf_puts(b, "none");
}

/* One event per change of the view, with what changed in its message. */
static void report(router_t *rt, const cluster_t *c, const route_t *old, const route_t *now)
{
    buf_t msg = BUF_INIT, changes = BUF_INIT;
    for (size_t i = 0; i < now->n; i++) {
        const route_node_t *a = old ? &old->nodes[i] : NULL, *b = &now->nodes[i];
        if (a && a->reader == b->reader && a->writer == b->writer && !strcmp(a->why, b->why))
            continue;
        if (b->lag_s >= 0)
            buf_printf(&changes, "; %s %s (%s, lag %llds)", c->nodes[i].name,
                       route_reader_word(b), b->why, (long long)b->lag_s);
        else
            buf_printf(&changes, "; %s %s (%s)", c->nodes[i].name, route_reader_word(b), b->why);
    }
    buf_printf(&msg, "writer %s, readers ",
               now->writer >= 0 ? c->nodes[now->writer].name : "none");
    reader_list(c, now, &msg);
    json_t *data = route_json(c, &rt->rs, now);
    if (old)
        json_object_set_new(data, "previous_writer",
                            old->writer >= 0 ? json_string(c->nodes[old->writer].name) : json_null());
    size_t replicas = 0;
    for (size_t i = 0; i < now->n; i++)
        replicas += now->nodes[i].reader && (int)i != now->writer;
    event_emit(now->writer < 0 || !replicas ? LOG_LVL_WARN : LOG_LVL_NOTICE, EV_ROUTING_CHANGED,
               c->name, now->writer >= 0 ? c->nodes[now->writer].name : NULL, data,
               "routing: %s%s", buf_str(&msg), buf_str(&changes));
    buf_free(&msg);
    buf_free(&changes);
}

/* The topology file, when its content changed (lag figures at most once a second). */
static void write_topology(router_t *rt, const cluster_t *c, bool changed, uint64_t now)
{
    if (!rt->topology_file[0])
        return;
    json_t *doc = topofile_json(c, &rt->rs, &rt->route, NULL);
    char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
    bool same = text && rt->topo_text && !strcmp(text, rt->topo_text);
    if (same || (!changed && rt->topo_text && now < rt->topo_at + 1000)) {
        free(text);
        json_decref(doc);
        return;
    }
    char ts[32], err[512];
    format_wall_ms(wall_now_ms(), ts, sizeof ts);
    json_object_set_new(doc, "updated", json_string(ts));
    if (topofile_write(rt->topology_file, doc, err, sizeof err)) {
        free(rt->topo_text);
        rt->topo_text = text;
        rt->topo_at = now;
        if (rt->topo_failing)
            event_emit(LOG_LVL_NOTICE, EV_TOPOLOGY_FILE_WRITTEN, c->name, NULL,
                       json_pack("{s:s}", "path", rt->topology_file),
                       "the topology file %s is written again", rt->topology_file);
        rt->topo_failing = false;
    } else {
        free(text);
        if (!rt->topo_failing)
            event_emit(LOG_LVL_WARN, EV_TOPOLOGY_FILE_FAILED, c->name, NULL,
                       json_pack("{s:s, s:s}", "path", rt->topology_file, "error", err),
                       "the topology file can't be written: %s", err);
        rt->topo_failing = true;
    }
    json_decref(doc);
}

void router_update(router_t *rt, const cluster_t *c, uint64_t now)
{
    route_t r;
    route_compute(c, &rt->rs, &r);
    bool changed = !rt->routed || !route_same(&rt->route, &r);
    if (changed)
        report(rt, c, rt->routed ? &rt->route : NULL, &r);
    route_free(&rt->route);
    rt->route = r;
    rt->routed = true;
    write_topology(rt, c, changed, now);
}
