/* monitor.c - see monitor.h. */
#include "monitor.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "durability.h"
#include "elect.h"
#include "event.h"
#include "filters.h"
#include "log.h"
#include "probe.h"
#include "router.h"

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
    /* Topology issues are reported (as events) from a settled view only:
     * not while an operation changes the cluster (quiet), and after a call
     * for fresh probes not until every reachable node was probed since
     * settle_since. reported[] is what the events have said so far. */
    bool quiet;
    uint64_t settle_since;
    char **reported;
    size_t n_reported;
    router_t *router; /* read/write routing (router.h) */
    /* The managers' verdict (monitor_set_vantage); fn NULL: this manager
     * judges alone. partitioned: the current episode of "cut off from the
     * primary while the others reach it" was reported. */
    monitor_vantage_fn vantage_fn;
    void *vantage_ud;
    quorum_verdict_t vantage_q;
    bool partitioned;
};

static void on_observation(probe_t *p, observation_t *obs, void *ud);

monitor_t *monitor_create(uv_loop_t *loop, const monitor_settings_t *s,
                          const uint64_t *stalled_until)
{
    monitor_t *m = xcalloc(1, sizeof *m);
    m->loop = loop;
    m->router = router_create(s->name);
    m->c.name = xstrdup(s->name);
    m->c.primary = -1;
    m->c.n_nodes = s->n_nodes;
    m->c.nodes = xcalloc(s->n_nodes, sizeof *m->c.nodes);
    for (size_t i = 0; i < s->n_nodes; i++)
    {
        node_init(&m->c.nodes[i], s->nodes[i].name, s->nodes[i].host, s->nodes[i].port,
                  s->nodes[i].rule);
        m->c.nodes[i].tls = tls_cfg_dup(s->nodes[i].tls);
    }
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
                            .backoff_max_ms = m->backoff_max,
                            .tls = n->tls,
                            .stalled_until = m->stalled_until};
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
    m->settle_since = uv_now(m->loop);
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

void monitor_set_backoff(monitor_t *m, size_t idx, bool on)
{
    if (idx < m->c.n_nodes && m->probes[idx])
        probe_set_backoff(m->probes[idx], on);
}

void monitor_quiet(monitor_t *m, bool quiet)
{
    m->quiet = quiet;
    if (!quiet)
        monitor_probe_all_now(m);
}

static bool settled(const monitor_t *m)
{
    if (m->quiet)
        return false;
    for (size_t i = 0; i < m->c.n_nodes; i++) {
        const node_t *n = &m->c.nodes[i];
        if (n->up && n->last_ok.started < m->settle_since)
            return false;
    }
    return true;
}

static void free_reported(monitor_t *m)
{
    for (size_t i = 0; i < m->n_reported; i++)
        free(m->reported[i]);
    free(m->reported);
    m->reported = NULL;
    m->n_reported = 0;
}

/* Emits an event for each current issue that the events have not said yet,
 * once the view is settled. An issue that came and went while it was not
 * (two writable nodes seen from probes taken on either side of a switchover's
 * read_only) is never reported. */
static void report_new_issues(monitor_t *m)
{
    if (!settled(m))
        return;
    for (size_t i = 0; i < m->c.n_issues; i++) {
        bool known = false;
        for (size_t j = 0; j < m->n_reported && !known; j++)
            known = strcmp(m->reported[j], m->c.issues[i]) == 0;
        if (!known)
            event_emit(LOG_LVL_WARN, EV_TOPOLOGY_ISSUE, m->c.name, NULL,
                       json_pack("{s:s}", "issue", m->c.issues[i]), "%s", m->c.issues[i]);
    }
    free_reported(m);
    m->reported = xcalloc(m->c.n_issues + 1, sizeof *m->reported);
    for (size_t i = 0; i < m->c.n_issues; i++)
        m->reported[i] = xstrdup(m->c.issues[i]);
    m->n_reported = m->c.n_issues;
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

/* A node whose GTID state can't be parsed is up, but what it holds is
 * unknown: a topology issue (and an election exclusion, see elect.h). */
static void judge_gtid_errors(cluster_t *c)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *nd = &c->nodes[i];
        if (nd->up && nd->last_ok.ok && nd->last_ok.gtid_error)
            cluster_add_issue(c, "GTID state of %s unknown: %s", nd->name, nd->last_ok.gtid_error);
    }
}

/* Events for what durability_update() saw change (durability.h): the moment
 * acknowledged writes may exist on the primary only, and the moment that ends. */
static void report_durability(monitor_t *m, unsigned changed)
{
    cluster_t *c = &m->c;
    const durability_state_t *d = &c->durability;
    if (!changed || c->primary < 0)
        return;
    const node_t *p = &c->nodes[c->primary];
    const observation_t *po = &p->last_ok;
    char ts[32];
    if (changed & DURABILITY_SEMISYNC_OFF) {
        format_wall_ms(d->semisync_off_wall, ts, sizeof ts);
        event_emit(LOG_LVL_WARN, EV_DURABILITY_DEGRADED, c->name, p->name,
                   json_pack("{s:s, s:s, s:s?, s:I, s:I, s:I}", "what", "semisync_off", "since", ts,
                             "at_risk_after", d->semisync_off_from, "semisync_timeout_ms",
                             (json_int_t)po->semisync_timeout_ms, "semisync_clients",
                             (json_int_t)po->semisync_clients, "not_acknowledged_commits",
                             (json_int_t)po->semisync_no_tx),
                   "semi-sync off on %s since %s: commits are asynchronous; a write acknowledged "
                   "since then may exist on %s only (no acknowledgement within %lld ms; %lld "
                   "semi-sync replicas connected)",
                   p->name, ts, p->name, (long long)po->semisync_timeout_ms,
                   (long long)po->semisync_clients);
    }
    if (changed & DURABILITY_SEMISYNC_ON)
        event_emit(LOG_LVL_NOTICE, EV_DURABILITY_RESTORED, c->name, p->name,
                   json_pack("{s:s, s:I}", "what", "semisync_on", "semisync_clients",
                             (json_int_t)po->semisync_clients),
                   "semi-sync is on again on %s: commits wait for an acknowledgement (%lld "
                   "semi-sync replicas connected)",
                   p->name, (long long)po->semisync_clients);
    if (changed & (DURABILITY_STALL_BEGAN | DURABILITY_STALL_CHANGED)) {
        format_wall_ms(d->stalled_since_wall, ts, sizeof ts);
        uint64_t wall = wall_now_ms();
        json_int_t secs =
            wall > d->stalled_since_wall ? (json_int_t)(wall - d->stalled_since_wall) / 1000 : 0;
        event_emit(LOG_LVL_WARN, EV_DURABILITY_DEGRADED, c->name, p->name,
                   json_pack("{s:s, s:s, s:s, s:I}", "what", "not_receiving", "replicas",
                             d->stalled, "since", ts, "for_s", secs),
                   "%s %s not received from %s for %lld s (since %s)", d->stalled,
                   strchr(d->stalled, ',') ? "have" : "has", p->name, (long long)secs, ts);
    }
    if (changed & DURABILITY_STALL_ENDED)
        event_emit(LOG_LVL_NOTICE, EV_DURABILITY_RESTORED, c->name, p->name,
                   json_pack("{s:s}", "what", "receiving"),
                   "every reachable replica receives from %s again", p->name);
}

/* While the primary is suspect its replicas are probed every
 * QUICK_PROBE_MS: how long each has heard nothing is then known to within
 * that, and the verdict comes as soon as their silence confirms it. */
#define QUICK_PROBE_MS 100
static void quick_replicas(monitor_t *m, bool on)
{
    uint64_t ms = on ? (m->interval < QUICK_PROBE_MS ? m->interval : QUICK_PROBE_MS) : 0;
    for (size_t i = 0; i < m->c.n_nodes; i++)
        if (m->probes[i])
            probe_set_quick(m->probes[i], (int)i == m->c.primary ? 0 : ms);
}

/* One alert for a primary whose link keeps dropping for a moment, and one
 * when it settled (flap.h); the verdict events of its blips in between are
 * only counted. */
static void report_flap(const cluster_t *c, const node_t *p, bool started, uint64_t now)
{
    const flap_t *f = &c->flap;
    if (started)
        event_emit(LOG_LVL_WARN, EV_PRIMARY_FLAPPING, c->name, p->name,
                   json_pack("{s:I, s:I, s:I}", "episodes", (json_int_t)f->episodes,
                             "window_ms", (json_int_t)FLAP_WINDOW_MS, "quiet_ms",
                             (json_int_t)FLAP_QUIET_MS),
                   "primary %s is flapping: %u short losses within %d s; its suspect and "
                   "healthy events are counted, not sent, until it was healthy for %d s "
                   "(a dead verdict is still reported)",
                   p->name, f->episodes, FLAP_WINDOW_MS / 1000, FLAP_QUIET_MS / 1000);
    else
        event_emit(LOG_LVL_NOTICE, EV_PRIMARY_FLAPPING_CLEARED, c->name, p->name,
                   json_pack("{s:I, s:I, s:I}", "episodes", (json_int_t)f->episodes,
                             "quieted", (json_int_t)f->quieted, "flapping_ms",
                             (json_int_t)(now - f->since)),
                   "primary %s stopped flapping: %u short losses in %llu s, %u events kept "
                   "quiet",
                   p->name, f->episodes, (unsigned long long)((now - f->since) / 1000),
                   f->quieted);
}

void monitor_set_vantage(monitor_t *m, monitor_vantage_fn fn, void *ud)
{
    m->vantage_fn = fn;
    m->vantage_ud = ud;
}

/* Once per episode: this manager can't reach the primary, most others can. */
static void report_partitioned(monitor_t *m, quorum_verdict_t q)
{
    cluster_t *c = &m->c;
    bool now = q == QUORUM_PARTITIONED;
    if (now && !m->partitioned && c->primary >= 0) {
        const quorum_result_t *r = &c->vantage;
        char seen[256] = "", self[OBSREC_ID_MAX + 1] = "";
        size_t used = 0;
        for (size_t i = 0; i < r->n_votes; i++) {
            if (r->votes[i].self)
                snprintf(self, sizeof self, "%s", r->votes[i].manager);
            else if (r->votes[i].vote == VOTE_REACHABLE && used < sizeof seen)
                used += (size_t)snprintf(seen + used, sizeof seen - used, "%s%s",
                                         used ? ", " : "", r->votes[i].manager);
        }
        const char *p = c->nodes[c->primary].name;
        event_emit(LOG_LVL_WARN, EV_PRIMARY_PARTITIONED, c->name, p,
                   json_pack("{s:s, s:s, s:I, s:I}", "manager", self, "seen_by", seen, "quorum",
                             (json_int_t)r->needed, "managers", (json_int_t)r->n_managers),
                   "manager %s can't reach the primary %s, but %s still reach%s it: this manager "
                   "is cut off, not the primary; no failover",
                   self, p, seen, strchr(seen, ',') ? "" : "es");
    }
    m->partitioned = now;
}

/* The detector's verdict v combined with the managers' (detect_combine);
 * before: the detector's state ahead of this evaluation, so a verdict held
 * back keeps the time it began. */
static verdict_t combine_vantage(monitor_t *m, verdict_t v, const detect_state_t *before,
                                 uint64_t now)
{
    cluster_t *c = &m->c;
    if (!m->vantage_fn)
        return v;
    report_partitioned(m, m->vantage_q);
    char why[256];
    verdict_t f = detect_combine(v, m->vantage_q, why, sizeof why);
    if (f == v)
        return v;
    c->detect.verdict = f;
    c->detect.since = before->verdict == f ? before->since : now;
    snprintf(c->verdict_reason, sizeof c->verdict_reason, "%s", why);
    return f;
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
        int src = cluster_source_of(c, o);
        rs[n++] = (detect_replica_t){.name = nd->name,
                                     .reachable = nd->up,
                                     .observed_at = nd->last_probe_at,
                                     .follows_primary = src == c->primary,
                                     .io = o->io,
                                     .last_io_errno = o->last_io_errno,
                                     .heard_at = nd->heard_at,
                                     .heartbeat_ms = o->ok ? o->heartbeat_period_ms : 0,
                                     .silent_known = o->ok && o->silent_known,
                                     .silent_ms = o->silent_ms};
    }
    uint64_t unreached_since = node_unreached_since(p);
    detect_input_t in = {.primary_ok = p->up,
                         .primary_fail_since = unreached_since,
                         .primary_refused = !p->up && p->failures >= 2 && p->refused,
                         .replicas = rs,
                         .n_replicas = n,
                         .stalled_until = m->stalled_until ? *m->stalled_until : 0};
    /* A flapping primary's blips look dead for a moment (flap.h). */
    uint64_t hold = flap_dead_not_before(&c->flap, unreached_since);
    if (hold > in.stalled_until)
        in.stalled_until = hold;
    verdict_t old = c->detect.verdict;
    detect_state_t before = c->detect;
    verdict_t v =
        detect_step(&c->detect, &in, &m->dp, now, c->verdict_reason, sizeof c->verdict_reason);
    free(rs);
    v = combine_vantage(m, v, &before, now);
    if (v == VERDICT_SUSPECT && now < hold && !(m->stalled_until && now < *m->stalled_until) &&
        strstr(c->verdict_reason, "stalled"))
        snprintf(c->verdict_reason, sizeof c->verdict_reason,
                 "the replicas confirm the primary is lost, but it is flapping: it is found "
                 "dead once it has not been reached for %d ms",
                 FLAP_DEAD_HOLD_MS);
    if (flap_tick(&c->flap, v == VERDICT_HEALTHY, now) == FLAP_CLEARED)
        report_flap(c, p, false, now);
    if (v == old)
        return;
    bool started = old == VERDICT_HEALTHY && flap_episode(&c->flap, now) == FLAP_STARTED;
    if (started)
        report_flap(c, p, true, now);
    static const char *const names[] = {EV_PRIMARY_HEALTHY, EV_PRIMARY_SUSPECT,
                                        EV_PRIMARY_UNREACHABLE, EV_PRIMARY_DEAD};
    static const log_level_t lvls[] = {LOG_LVL_NOTICE, LOG_LVL_WARN, LOG_LVL_WARN, LOG_LVL_ERROR};
    uint64_t failing = unreached_since && now > unreached_since ? now - unreached_since : 0;
    if (!flap_quiet(&c->flap, v == VERDICT_DEAD))
        event_emit(lvls[v], names[v], c->name, p->name,
                   json_pack("{s:s, s:s, s:I}", "verdict", verdict_str(v), "previous",
                             verdict_str(old), "failing_ms", (json_int_t)failing),
                   "primary %s is %s: %s", p->name, verdict_str(v), c->verdict_reason);
    if (v == VERDICT_SUSPECT)
        monitor_probe_all_now(m);
    quick_replicas(m, v == VERDICT_SUSPECT);
    if (m->verdict_cb)
        m->verdict_cb(m, old, v, m->verdict_ud);
}

/* What the nodes' last observations say now: the topology, its issues and
 * events, durability, the verdict and the routing view. */
static void reassess(monitor_t *m, uint64_t now)
{
    cluster_t *c = &m->c;
    cluster_clear_issues(c);
    int old_primary = c->primary;
    bool changed = cluster_infer_topology(c);
    judge_errant(c, changed);
    filters_add_issues(c);
    judge_gtid_errors(c);
    if (changed && c->primary != old_primary) {
        /* Another primary: its link is another story. The alert about the
         * old one is closed, not left open. */
        if (c->flap.flapping && old_primary >= 0)
            report_flap(c, &c->nodes[old_primary], false, now);
        flap_reset(&c->flap);
    }
    if (changed && c->primary >= 0)
        event_emit(
            LOG_LVL_NOTICE, EV_PRIMARY_CHANGED, c->name, c->nodes[c->primary].name,
            json_pack("{s:s?}", "previous", old_primary >= 0 ? c->nodes[old_primary].name : NULL),
            "the primary is %s", c->nodes[c->primary].name);
    unsigned durability = durability_update(c, now, wall_now_ms(), m->dp.replica_confirm);
    report_new_issues(m);
    report_durability(m, durability);
    if (m->vantage_fn)
        m->vantage_q = m->vantage_fn(m->vantage_ud, c, &m->dp, now);
    evaluate(m, now);
    if (monitor_first_round_done(m))
        router_update(m->router, c, now);
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
            event_emit(LOG_LVL_NOTICE, EV_NODE_UP, c->name, n->name, NULL, "node %s is up",
                       n->name);
        else
            event_emit(LOG_LVL_WARN, EV_NODE_DOWN, c->name, n->name,
                       json_pack("{s:s, s:b}", "error", n->last_error, "unobservable",
                                 n->unobservable),
                       "node %s is %s: %s", n->name, n->unobservable ? "unobservable" : "down",
                       n->last_error);
    }

    reassess(m, now);
}

void monitor_reassess(monitor_t *m)
{
    reassess(m, uv_now(m->loop));
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
    free_reported(m);
    router_free(m->router);
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
        free_reported(m);
        router_free(m->router);
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

void monitor_set_routing(monitor_t *m, const route_settings_t *rs, const char *topology_file)
{
    router_set(m->router, rs, topology_file);
}

const route_t *monitor_route(const monitor_t *m, route_settings_t *rs)
{
    return router_view(m->router, rs);
}
