/* monitor.c - see monitor.h. */
#include "monitor.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "elect.h"
#include "event.h"
#include "log.h"
#include "probe.h"

typedef struct {
    struct monitor *m;
    size_t idx;
} probe_ctx_t;

struct monitor {
    uv_loop_t *loop;
    cluster_t c;
    char *user;
    char *password;
    uint64_t interval, timeout, backoff_max;
    detect_params_t dp;
    const uint64_t *stalled_until;
    probe_t **probes;
    probe_ctx_t **probes_ctx;
    size_t open_probes;
    monitor_verdict_cb verdict_cb;
    void *verdict_ud;
    void (*done)(void *);
    void *done_ud;
    bool closing;
};

static void on_observation(probe_t *p, observation_t *obs, void *ud);

monitor_t *monitor_create(uv_loop_t *loop, const monitor_settings_t *s,
                          const uint64_t *stalled_until)
{
    monitor_t *m = xcalloc(1, sizeof *m);
    m->loop = loop;
    m->c.name = xstrdup(s->name);
    m->c.primary = -1;
    m->c.n_nodes = s->n_nodes;
    m->c.nodes = xcalloc(s->n_nodes, sizeof *m->c.nodes);
    for (size_t i = 0; i < s->n_nodes; i++)
        node_init(&m->c.nodes[i], s->nodes[i].name, s->nodes[i].host, s->nodes[i].port,
                  s->nodes[i].rule);
    m->user = xstrdup(s->user);
    m->password = xstrdup(s->password ? s->password : "");
    m->interval = s->probe_interval_ms;
    m->timeout = s->probe_timeout_ms;
    m->backoff_max = s->backoff_max_ms;
    m->dp = s->detect;
    m->stalled_until = stalled_until;
    m->probes = xcalloc(s->n_nodes, sizeof *m->probes);
    m->probes_ctx = xcalloc(s->n_nodes, sizeof *m->probes_ctx);
    return m;
}

void monitor_on_verdict(monitor_t *m, monitor_verdict_cb cb, void *ud)
{
    m->verdict_cb = cb;
    m->verdict_ud = ud;
}

cluster_t *monitor_cluster(monitor_t *m)
{
    return &m->c;
}

bool monitor_first_round_done(const monitor_t *m)
{
    for (size_t i = 0; i < m->c.n_nodes; i++)
        if (!m->c.nodes[i].probed)
            return false;
    return true;
}

void monitor_start(monitor_t *m)
{
    for (size_t i = 0; i < m->c.n_nodes; i++) {
        node_t *n = &m->c.nodes[i];
        probe_target_t t = {.name = n->name,
                            .host = n->host,
                            .port = n->port,
                            .user = m->user,
                            .password = m->password,
                            .interval_ms = m->interval,
                            .timeout_ms = m->timeout,
                            .backoff_max_ms = m->backoff_max};
        probe_ctx_t *ctx = xmalloc(sizeof *ctx);
        ctx->m = m;
        ctx->idx = i;
        m->probes_ctx[i] = ctx;
        m->probes[i] = probe_create(m->loop, &t, on_observation, ctx);
        m->open_probes++;
        probe_start(m->probes[i]);
    }
}

void monitor_probe_all_now(monitor_t *m)
{
    for (size_t i = 0; i < m->c.n_nodes; i++)
        if (m->probes[i])
            probe_now(m->probes[i]);
}

void monitor_check_grants(monitor_t *m)
{
    for (size_t i = 0; i < m->c.n_nodes; i++)
        if (m->probes[i]) {
            probe_check_grants(m->probes[i]);
            probe_now(m->probes[i]);
        }
}

/* Emits an event for each issue in now[] that was not in before[]. */
static void report_new_issues(monitor_t *m, char **before, size_t n_before)
{
    for (size_t i = 0; i < m->c.n_issues; i++) {
        bool known = false;
        for (size_t j = 0; j < n_before && !known; j++)
            known = strcmp(before[j], m->c.issues[i]) == 0;
        if (!known)
            event_emit(LOG_LVL_WARN, "topology_issue", m->c.name, NULL,
                       json_pack("{s:s}", "issue", m->c.issues[i]), "%s", m->c.issues[i]);
    }
}

/* Errant GTIDs (transactions a node has that the primary never had) need the
 * GTID algebra: elect's rule judges them, node by node. A judgment is kept
 * between observations and renewed only when the primary's latest successful
 * observation is at least as recent as the node's. A replica holds nothing
 * the primary did not have first, so that comparison is sound; against an
 * older look at the primary, a transaction the primary received since (after
 * a failover, from the old primary's catch-up) would look errant. A new
 * primary voids every judgment. Each errant node is a topology issue. */
static void judge_errant(cluster_t *c, bool primary_changed)
{
    const node_t *p = c->primary >= 0 ? &c->nodes[c->primary] : NULL;
    for (size_t i = 0; i < c->n_nodes; i++) {
        node_t *nd = &c->nodes[i];
        if (primary_changed || nd == p) {
            free(nd->errant);
            nd->errant = NULL;
        }
        if (!p || nd == p || !nd->last_ok.ok || !p->last_ok.ok || p->last_ok.at < nd->last_ok.at)
            continue;
        free(nd->errant);
        nd->errant = elect_errant(&nd->last_ok, &p->last_ok);
    }
    for (size_t i = 0; p && i < c->n_nodes; i++)
        if (c->nodes[i].errant && c->nodes[i].errant[0])
            cluster_add_issue(c,
                              "errant GTIDs on %s: %s (transactions the primary %s does not have)",
                              c->nodes[i].name, c->nodes[i].errant, p->name);
}

static void evaluate(monitor_t *m, uint64_t now)
{
    cluster_t *c = &m->c;
    if (c->primary < 0)
        return;
    const node_t *p = &c->nodes[c->primary];
    detect_replica_t *rs = xcalloc(c->n_nodes, sizeof *rs);
    size_t n = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *nd = &c->nodes[i];
        if ((int)i == c->primary)
            continue;
        const observation_t *o = &nd->last_ok;
        int src = o->ok && o->replica ? cluster_find_node(c, o->source_host, o->source_port) : -1;
        rs[n++] = (detect_replica_t){.name = nd->name,
                                     .reachable = nd->up,
                                     .observed_at = nd->last_probe_at,
                                     .follows_primary = src == c->primary,
                                     .io = o->io,
                                     .last_io_errno = o->last_io_errno,
                                     .heard_at = nd->heard_at};
    }
    uint64_t unreached_since = node_unreached_since(p);
    detect_input_t in = {.primary_ok = p->up,
                         .primary_fail_since = unreached_since,
                         .replicas = rs,
                         .n_replicas = n,
                         .stalled_until = m->stalled_until ? *m->stalled_until : 0};
    verdict_t old = c->detect.verdict;
    verdict_t v =
        detect_step(&c->detect, &in, &m->dp, now, c->verdict_reason, sizeof c->verdict_reason);
    free(rs);
    if (v == old)
        return;
    static const char *const names[] = {"primary_healthy", "primary_suspect", "primary_unreachable",
                                        "primary_dead"};
    static const log_level_t lvls[] = {LOG_LVL_NOTICE, LOG_LVL_WARN, LOG_LVL_WARN, LOG_LVL_ERROR};
    uint64_t failing = unreached_since && now > unreached_since ? now - unreached_since : 0;
    event_emit(lvls[v], names[v], c->name, p->name,
               json_pack("{s:s, s:s, s:I}", "verdict", verdict_str(v), "previous", verdict_str(old),
                         "failing_ms", (json_int_t)failing),
               "primary %s is %s: %s", p->name, verdict_str(v), c->verdict_reason);
    if (v == VERDICT_SUSPECT)
        monitor_probe_all_now(m);
    if (m->verdict_cb)
        m->verdict_cb(m, old, v, m->verdict_ud);
}

static void on_observation(probe_t *p, observation_t *obs, void *ud)
{
    probe_ctx_t *ctx = ud;
    monitor_t *m = ctx->m;
    cluster_t *c = &m->c;
    node_t *n = &c->nodes[ctx->idx];
    bool was_up = n->up, was_probed = n->probed;
    uint64_t now = obs->at;
    (void)p;
    if (m->closing) {
        observation_clear(obs);
        return;
    }

    node_observe(n, obs);
    /* The first look at a node reports it only if it is down; later, every change. */
    if (was_probed ? was_up != n->up : !n->up) {
        if (n->up)
            event_emit(LOG_LVL_NOTICE, "node_up", c->name, n->name, NULL, "node %s is up", n->name);
        else
            event_emit(LOG_LVL_WARN, "node_down", c->name, n->name,
                       json_pack("{s:s, s:b}", "error", n->last_error, "unobservable",
                                 n->unobservable),
                       "node %s is %s: %s", n->name, n->unobservable ? "unobservable" : "down",
                       n->last_error);
    }

    char **before = c->issues;
    size_t n_before = c->n_issues;
    c->issues = NULL;
    c->n_issues = 0;
    int old_primary = c->primary;
    bool changed = cluster_infer_topology(c);
    judge_errant(c, changed);
    if (changed && c->primary >= 0)
        event_emit(
            LOG_LVL_NOTICE, "primary_changed", c->name, c->nodes[c->primary].name,
            json_pack("{s:s?}", "previous", old_primary >= 0 ? c->nodes[old_primary].name : NULL),
            "the primary is %s", c->nodes[c->primary].name);
    report_new_issues(m, before, n_before);
    evaluate(m, now);
    for (size_t i = 0; i < n_before; i++)
        free(before[i]);
    free(before);
}

static void probe_closed(void *ud)
{
    probe_ctx_t *ctx = ud;
    monitor_t *m = ctx->m;
    m->probes[ctx->idx] = NULL;
    free(ctx);
    if (--m->open_probes > 0)
        return;
    void (*done)(void *) = m->done;
    void *done_ud = m->done_ud;
    free(m->probes);
    free(m->probes_ctx);
    free(m->user);
    free(m->password);
    cluster_free(&m->c);
    free(m);
    if (done)
        done(done_ud);
}

void monitor_close(monitor_t *m, void (*done)(void *ud), void *ud)
{
    m->closing = true;
    m->done = done;
    m->done_ud = ud;
    if (m->open_probes == 0) {
        free(m->probes);
        free(m->user);
        free(m->password);
        cluster_free(&m->c);
        free(m);
        if (done)
            done(ud);
        return;
    }
    for (size_t i = 0; i < m->c.n_nodes; i++)
        if (m->probes[i])
            probe_close(m->probes[i], probe_closed, m->probes_ctx[i]);
}
