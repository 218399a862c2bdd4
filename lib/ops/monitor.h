/* monitor.h - watches one cluster on the loop.
 *
 * Thin glue: every node has a probe; each observation is folded into the
 * model, the topology is re-inferred and the detector re-evaluated, and every
 * change (node down/up, primary changed, new topology issue, verdict change)
 * becomes an event. When the primary becomes suspect, every replica is probed
 * at once so that the detector hears their answers without waiting a whole
 * interval.
 */
#ifndef FAILOVERD_MONITOR_H
#define FAILOVERD_MONITOR_H

#include <jansson.h>
#include <uv.h>

#include "detect.h"
#include "model.h"
#include "tls.h"
#include "router.h"

typedef struct {
    const char *name;
    const char *host;
    unsigned port;
    promotion_rule_t rule;
    const tls_cfg_t *tls; /* copied; NULL: disabled */
} monitor_node_t;

typedef struct {
    const char *name;
    const char *user;
    const char *password;
    uint64_t probe_interval_ms;
    uint64_t probe_timeout_ms;
    uint64_t backoff_max_ms;
    detect_params_t detect;
    const monitor_node_t *nodes;
    size_t n_nodes;
} monitor_settings_t;

typedef struct monitor monitor_t;

/* Called when the verdict on the primary changes (after the event is emitted). */
typedef void (*monitor_verdict_cb)(monitor_t *m, verdict_t old, verdict_t now, void *ud);

/* stalled_until points at the daemon's loop guard: no escalation to dead before it. */
monitor_t *monitor_create(uv_loop_t *loop, const monitor_settings_t *s,
                          const uint64_t *stalled_until);
void monitor_on_verdict(monitor_t *m, monitor_verdict_cb cb, void *ud);
void monitor_start(monitor_t *m);
/* Stops the probes; calls done(ud) once every handle is closed and m is freed. */
void monitor_close(monitor_t *m, void (*done)(void *ud), void *ud);

cluster_t *monitor_cluster(monitor_t *m);
/* Every node has been probed at least once. */
bool monitor_first_round_done(const monitor_t *m);
/* Probes every node as soon as possible. Topology issues found until every
 * reachable node answered such a fresh probe are not reported as events. */
void monitor_probe_all_now(monitor_t *m);
/* While an operation changes the cluster (quiet), what the probes see is
 * transient: topology issues stay in the status but are not reported as
 * events. Ending the quiet asks for fresh probes; what is still wrong then is
 * reported. */
void monitor_quiet(monitor_t *m, bool quiet);
/* Works the topology out again from what is known now (after failoverd
 * changed the cluster, before the next probes say so). */
void monitor_reassess(monitor_t *m);
/* Whether failed probes of node idx back off (probe_set_backoff). */
void monitor_set_backoff(monitor_t *m, size_t idx, bool on);
/* Every node's next probe reads the account's grants again, now (a reload,
 * failoverctl plan). */
void monitor_check_grants(monitor_t *m);

/* Read/write routing (route.h): the settings, and the topology file ("" or
 * NULL: none). The view is computed after every probe once every node was
 * probed; each change is a routing_changed event. */
void monitor_set_routing(monitor_t *m, const route_settings_t *rs, const char *topology_file);
/* The latest view, or NULL before the first; *rs (may be NULL) gets the settings. */
const route_t *monitor_route(const monitor_t *m, route_settings_t *rs);

/* When several managers watch the cluster (coordination with a `managers`
 * list, docs/ha.md): fn fills c->vantage with the managers' views of the
 * primary at time now (loop ms) and returns their verdict; it runs at every
 * reassessment (so it can also publish this manager's view), and the
 * detector's verdict is combined with it (detect_combine): the primary is
 * dead only when both say so. */
typedef quorum_verdict_t (*monitor_vantage_fn)(void *ud, cluster_t *c, const detect_params_t *dp,
                                               uint64_t now);
void monitor_set_vantage(monitor_t *m, monitor_vantage_fn fn, void *ud);

#endif
