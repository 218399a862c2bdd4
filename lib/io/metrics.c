/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "elect.h"
#include "names.h"
#include "sink.h"

const metric_def_t metrics_table[METRIC__COUNT] = {
#define METRIC_DEF(id, nm, ty, lb, hp)                                                             \
    [METRIC_##id] = {.name = nm, .type = METRIC_##ty, .labels = lb, .help = hp},
    METRICS_MAP(METRIC_DEF)
#undef METRIC_DEF
};

const char *metric_type_str(metric_type_t t)
{
    switch (t) {
    case METRIC_GAUGE: return "gauge";
    case METRIC_COUNTER: return "counter";
    case METRIC_HISTOGRAM: return "histogram";
    }
    return "untyped";
}

/* ---- exposition building blocks ---------------------------------------- */

void metrics_escape_label(buf_t *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_puts(out, "\\\\"); break;
        case '"': buf_puts(out, "\\\""); break;
        case '\n': buf_puts(out, "\\n"); break;
        default: buf_putc(out, *s);
        }
    }
}

/* HELP text escapes backslash and newline only. */
static void escape_help(buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(out, "\\\\");
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else
            buf_putc(out, *s);
    }
}

void metrics_write_family(buf_t *out, metric_id_t id)
{
    const metric_def_t *m = &metrics_table[id];
    buf_printf(out, "# HELP %s ", m->name);
    escape_help(out, m->help);
    buf_printf(out, "\n# TYPE %s %s\n", m->name, metric_type_str(m->type));
}

void metrics_write_value(buf_t *out, double v)
{
    if (isnan(v))
        buf_puts(out, "NaN");
    else if (isinf(v))
        buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        buf_printf(out, "%.0f", v);
    else
        buf_printf(out, "%.9g", v);
}

static void write_labels(buf_t *out, const char *const *labels, size_t n, const char *le)
{
    if (!n && !le)
        return;
    buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(out, ',');
        buf_puts(out, labels[2 * i]);
        buf_puts(out, "=\"");
        metrics_escape_label(out, labels[2 * i + 1]);
        buf_putc(out, '"');
    }
    if (le) {
        if (n)
            buf_putc(out, ',');
        buf_printf(out, "le=\"%s\"", le);
    }
    buf_putc(out, '}');
}

void metrics_write_sample(buf_t *out, const char *name, const char *suffix,
                          const char *const *labels, size_t n, double value)
{
    buf_puts(out, name);
    if (suffix)
        buf_puts(out, suffix);
    write_labels(out, labels, n, NULL);
    buf_putc(out, ' ');
    metrics_write_value(out, value);
    buf_putc(out, '\n');
}

void metrics_write_histogram(buf_t *out, const char *name, const char *const *labels, size_t n,
                             const double *bounds, const uint64_t *counts, size_t n_bounds,
                             double sum)
{
    uint64_t cum = 0;
    for (size_t b = 0; b <= n_bounds; b++) {
        cum += counts[b];
        buf_t le = BUF_INIT;
        if (b < n_bounds)
            metrics_write_value(&le, bounds[b]);
        else
            buf_puts(&le, "+Inf");
        buf_puts(out, name);
        buf_puts(out, "_bucket");
        write_labels(out, labels, n, buf_str(&le));
        buf_free(&le);
        buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    metrics_write_sample(out, name, "_sum", labels, n, sum);
    metrics_write_sample(out, name, "_count", labels, n, (double)cum);
}

/* ---- counters kept from events ----------------------------------------- */

typedef struct {
    metric_id_t id;
    char *a; /* first label value (cluster, or hook point) */
    char *b; /* second (outcome), "" when none */
    double v;
} kept_t;

static kept_t *kept;
static size_t n_kept;
static int sink_id = -1;

static kept_t *kept_slot(metric_id_t id, const char *a, const char *b, bool create)
{
    for (size_t i = 0; i < n_kept; i++)
        if (kept[i].id == id && !strcmp(kept[i].a, a) && !strcmp(kept[i].b, b))
            return &kept[i];
    if (!create)
        return NULL;
    kept = xrealloc(kept, (n_kept + 1) * sizeof *kept);
    kept[n_kept] = (kept_t){.id = id, .a = xstrdup(a), .b = xstrdup(b), .v = 0};
    return &kept[n_kept++];
}

static double kept_value(metric_id_t id, const char *a, const char *b)
{
    kept_t *k = kept_slot(id, a, b, false);
    return k ? k->v : 0;
}

void metrics_reset(void)
{
    for (size_t i = 0; i < n_kept; i++) {
        free(kept[i].a);
        free(kept[i].b);
    }
    free(kept);
    kept = NULL;
    n_kept = 0;
}

void metrics_count_hook(const char *point, const char *outcome)
{
    kept_slot(METRIC_HOOK_RUNS, point ? point : "", outcome ? outcome : "", true)->v++;
}

static const char *const failover_outcomes[] = {"done", "failed", "aborted"};
static const char *const switchover_outcomes[] = {"done", "failed", "rolled_back"};

void metrics_count_event(const char *name, const char *cluster, long long duration_ms,
                         long long write_blocked_ms)
{
    if (!strcmp(name, EV_LOOP_STALL)) {
        kept_slot(METRIC_LOOP_STALLS, "", "", true)->v++;
        return;
    }
    if (!cluster)
        return;
    for (size_t i = 0; i < 3; i++) {
        char ev[64];
        snprintf(ev, sizeof ev, "failover_%s", failover_outcomes[i]);
        if (!strcmp(name, ev)) {
            kept_slot(METRIC_FAILOVERS, cluster, failover_outcomes[i], true)->v++;
            if (i == 0 && duration_ms >= 0)
                kept_slot(METRIC_LAST_FAILOVER_DURATION, cluster, "", true)->v =
                    (double)duration_ms / 1000.0;
            return;
        }
        snprintf(ev, sizeof ev, "switchover_%s", switchover_outcomes[i]);
        if (!strcmp(name, ev)) {
            kept_slot(METRIC_SWITCHOVERS, cluster, switchover_outcomes[i], true)->v++;
            if (i == 0 && write_blocked_ms >= 0)
                kept_slot(METRIC_LAST_SWITCHOVER_BLOCKED, cluster, "", true)->v =
                    (double)write_blocked_ms / 1000.0;
            return;
        }
    }
}

static long long data_ms(const json_t *data, const char *key)
{
    json_t *v = json_object_get(data, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* The reader pool as the latest routing_changed event states it. */
static void count_routing(const event_t *ev)
{
    if (strcmp(ev->name, "routing_changed") || !ev->cluster)
        return;
    kept_slot(METRIC_ROUTING_CHANGES, ev->cluster, "", true)->v++;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ev->data, "nodes"), i, v)
    {
        const char *node = json_string_value(json_object_get(v, "name"));
        if (node)
            kept_slot(METRIC_NODE_READER, ev->cluster, node, true)->v =
                json_is_true(json_object_get(v, "reader"));
    }
}

static void on_event(const event_t *ev, void *ud)
{
    (void)ud;
    count_routing(ev);
    metrics_count_event(ev->name, ev->cluster, data_ms(ev->data, "duration_ms"),
                        data_ms(ev->data, "write_blocked_ms"));
}

void metrics_attach_events(void)
{
    if (sink_id < 0)
        sink_id = event_add_sink(on_event, NULL);
}

void metrics_detach_events(void)
{
    if (sink_id >= 0)
        event_remove_sink(sink_id);
    sink_id = -1;
}

bool metrics_parse_listen(const char *listen, struct sockaddr_storage *sa, char *err, size_t errlen)
{
    char host[128];
    const char *colon;
    bool v6 = listen[0] == '[';
    if (v6) {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "is not [IPv6 address]:port");
            return false;
        }
        colon = close + 1;
        size_t n = (size_t)(close - listen - 1);
        if (n >= sizeof host)
            n = sizeof host - 1;
        memcpy(host, listen + 1, n);
        host[n] = '\0';
    } else {
        colon = strrchr(listen, ':');
        if (!colon) {
            snprintf(err, errlen, "is not address:port");
            return false;
        }
        size_t n = (size_t)(colon - listen);
        if (n >= sizeof host)
            n = sizeof host - 1;
        memcpy(host, listen, n);
        host[n] = '\0';
    }
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || port == 0 || port > 65535) {
        snprintf(err, errlen, "has no port from 1 to 65535 after the last ':'");
        return false;
    }
    memset(sa, 0, sizeof *sa);
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
            snprintf(err, errlen, "has \"%s\", which is not an IPv6 address", host);
            return false;
        }
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
            snprintf(err, errlen,
                     "has \"%s\", which is not an IPv4 address (names are not looked up)", host);
            return false;
        }
    }
    return true;
}

/* ---- the whole page ---------------------------------------------------- */

static void sample1(buf_t *out, metric_id_t id, const char *k, const char *v, double value)
{
    const char *l[] = {k, v};
    metrics_write_sample(out, metrics_table[id].name, NULL, l, 1, value);
}

static void sample2(buf_t *out, metric_id_t id, const char *k1, const char *v1, const char *k2,
                    const char *v2, double value)
{
    const char *l[] = {k1, v1, k2, v2};
    metrics_write_sample(out, metrics_table[id].name, NULL, l, 2, value);
}

static void render_daemon(buf_t *out, const metrics_view_t *v, metric_id_t id)
{
    const char *name = metrics_table[id].name;
    switch (id) {
    case METRIC_BUILD_INFO: sample1(out, id, "version", v->version ? v->version : "", 1); break;
    case METRIC_LOOP_STALLS:
        metrics_write_sample(out, name, NULL, NULL, 0, kept_value(id, "", ""));
        break;
    case METRIC_WEBHOOK_QUEUE:
        metrics_write_sample(out, name, NULL, NULL, 0, (double)v->webhook_waiting);
        break;
    case METRIC_WEBHOOK_FAILURES:
        metrics_write_sample(out, name, NULL, NULL, 0, (double)v->webhook_failures);
        break;
    case METRIC_WEBHOOK_DROPPED:
        metrics_write_sample(out, name, NULL, NULL, 0, (double)v->webhook_dropped);
        break;
    case METRIC_HOOK_RUNS:
        for (size_t i = 0; i < n_kept; i++)
            if (kept[i].id == id)
                sample2(out, id, "point", kept[i].a, "outcome", kept[i].b, kept[i].v);
        break;
    default: break;
    }
}

static void render_cluster(buf_t *out, const metrics_cluster_t *mc, metric_id_t id)
{
    const cluster_t *c = mc->c;
    switch (id) {
    case METRIC_CLUSTER_VERDICT: {
        static const verdict_t all[] = {VERDICT_HEALTHY, VERDICT_SUSPECT, VERDICT_UNREACHABLE,
                                        VERDICT_DEAD};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            sample2(out, id, "cluster", c->name, "verdict", verdict_str(all[i]),
                    c->detect.verdict == all[i]);
        break;
    }
    case METRIC_CLUSTER_PRIMARY:
        if (c->primary >= 0 && (size_t)c->primary < c->n_nodes)
            sample2(out, id, "cluster", c->name, "primary", c->nodes[c->primary].name, 1);
        break;
    case METRIC_CLUSTER_PAUSED: sample1(out, id, "cluster", c->name, mc->paused); break;
    case METRIC_CLUSTER_BLOCKED: sample1(out, id, "cluster", c->name, mc->blocked); break;
    case METRIC_FAILOVERS:
        for (size_t i = 0; i < 3; i++)
            sample2(out, id, "cluster", c->name, "outcome", failover_outcomes[i],
                    kept_value(id, c->name, failover_outcomes[i]));
        break;
    case METRIC_SWITCHOVERS:
        for (size_t i = 0; i < 3; i++)
            sample2(out, id, "cluster", c->name, "outcome", switchover_outcomes[i],
                    kept_value(id, c->name, switchover_outcomes[i]));
        break;
    case METRIC_ROUTING_CHANGES:
        sample1(out, id, "cluster", c->name, kept_value(id, c->name, ""));
        break;
    case METRIC_LAST_FAILOVER_DURATION:
    case METRIC_LAST_SWITCHOVER_BLOCKED: {
        kept_t *k = kept_slot(id, c->name, "", false);
        if (k)
            sample1(out, id, "cluster", c->name, k->v);
        break;
    }
    default: break;
    }
}

static void render_node(buf_t *out, const cluster_t *c, const node_t *n, metric_id_t id)
{
    const observation_t *o = &n->last_ok;
    bool replica = n->up && o->ok && o->replica;
    switch (id) {
    case METRIC_NODE_UP: sample2(out, id, "cluster", c->name, "node", n->name, n->up); break;
    case METRIC_NODE_ROLE: {
        static const role_t all[] = {ROLE_PRIMARY, ROLE_REPLICA, ROLE_UNKNOWN};
        for (size_t i = 0; i < 3; i++) {
            const char *l[] = {"cluster", c->name, "node", n->name, "role", role_str(all[i])};
            metrics_write_sample(out, metrics_table[id].name, NULL, l, 3, n->role == all[i]);
        }
        break;
    }
    case METRIC_NODE_READ_ONLY:
        if (n->up && o->ok)
            sample2(out, id, "cluster", c->name, "node", n->name,
                    o->read_only || o->super_read_only == 1);
        break;
    case METRIC_NODE_TLS:
        if (n->up && o->ok)
            sample2(out, id, "cluster", c->name, "node", n->name, o->tls_version != NULL);
        break;
    case METRIC_NODE_TLS_VERIFIED:
        if (n->up && o->ok && o->tls_version)
            sample2(out, id, "cluster", c->name, "node", n->name,
                    o->tls_verified && strcmp(o->tls_verified, "none") != 0);
        break;
    case METRIC_NODE_IO_RUNNING:
        if (replica)
            sample2(out, id, "cluster", c->name, "node", n->name, o->io == IO_YES);
        break;
    case METRIC_NODE_SQL_RUNNING:
        if (replica)
            sample2(out, id, "cluster", c->name, "node", n->name, o->sql_running);
        break;
    case METRIC_NODE_LAG:
        if (replica && o->lag_s >= 0)
            sample2(out, id, "cluster", c->name, "node", n->name, (double)o->lag_s);
        break;
    case METRIC_NODE_BACKLOG:
        if (replica) {
            long long b = elect_backlog(o);
            if (b >= 0)
                sample2(out, id, "cluster", c->name, "node", n->name, (double)b);
        }
        break;
    case METRIC_NODE_READER: {
        kept_t *k = kept_slot(id, c->name, n->name, false);
        if (k)
            sample2(out, id, "cluster", c->name, "node", n->name, k->v);
        break;
    }
    case METRIC_NODE_PROBE_LATENCY: {
        double bounds[NODE_LATENCY_BUCKETS];
        for (size_t b = 0; b < NODE_LATENCY_BUCKETS; b++)
            bounds[b] = node_latency_bounds_ms[b] / 1000.0;
        const char *l[] = {"cluster", c->name, "node", n->name};
        metrics_write_histogram(out, metrics_table[id].name, l, 2, bounds, n->latency_hist,
                                NODE_LATENCY_BUCKETS, n->latency_sum_ms / 1000.0);
        break;
    }
    default: break;
    }
}

void metrics_render(buf_t *out, const metrics_view_t *v)
{
    for (int id = 0; id < METRIC__COUNT; id++) {
        metrics_write_family(out, (metric_id_t)id);
        const char *labels = metrics_table[id].labels;
        if (strstr(labels, "node")) {
            for (size_t i = 0; i < v->n_clusters; i++) {
                const cluster_t *c = v->clusters[i].c;
                for (size_t k = 0; k < c->n_nodes; k++)
                    render_node(out, c, &c->nodes[k], (metric_id_t)id);
            }
        } else if (strstr(labels, "cluster")) {
            for (size_t i = 0; i < v->n_clusters; i++)
                render_cluster(out, &v->clusters[i], (metric_id_t)id);
        } else {
            render_daemon(out, v, (metric_id_t)id);
        }
    }
}

void metrics_doc(buf_t *out)
{
    buf_puts(out, "| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n");
    for (int id = 0; id < METRIC__COUNT; id++) {
        const metric_def_t *m = &metrics_table[id];
        buf_printf(out, "| `%s` | %s | %s | %s |\n", m->name, metric_type_str(m->type),
                   m->labels[0] ? m->labels : "", m->help);
    }
}
