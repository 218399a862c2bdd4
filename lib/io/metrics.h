/* metrics.h - failoverd's metrics in the Prometheus text format (0.0.4).
 *
 * Every metric is declared once, in METRICS_MAP: its name, type, labels and
 * help text. The exposition, `failoverd --print-metrics-doc` (docs/metrics.md)
 * and the unit test that checks that page all read that one list, so the
 * documentation cannot drift from the code.
 *
 * Rendering is pure: it reads the clusters' model and a few daemon figures
 * handed in, and writes text. Counters that only events know (failovers by
 * outcome, loop stalls ...) are kept here, fed by an event sink; hook runs are
 * counted by the hooks module as they end.
 */
#ifndef FAILOVERD_METRICS_H
#define FAILOVERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "model.h"

typedef enum { METRIC_GAUGE, METRIC_COUNTER, METRIC_HISTOGRAM } metric_type_t;

/* X(id, name, type, labels, help) */
#define METRICS_MAP(X)                                                                             \
    X(BUILD_INFO, "failoverd_build_info", GAUGE, "version",                                        \
      "Always 1; the label carries the version of the running failoverd.")                         \
    X(LOOP_STALLS, "failoverd_loop_stalls_total", COUNTER, "",                                     \
      "Times the event loop stalled or the clock jumped (each one also a loop_stall event).")      \
    X(WEBHOOK_QUEUE, "failoverd_webhook_queue_depth", GAUGE, "",                                   \
      "Events queued for webhooks or being delivered now, over every destination.")                \
    X(WEBHOOK_FAILURES, "failoverd_webhook_failures_total", COUNTER, "",                           \
      "Webhook requests that failed (each retry counts).")                                         \
    X(WEBHOOK_DROPPED, "failoverd_webhook_dropped_total", COUNTER, "",                             \
      "Events no webhook delivered: dropped from a full queue, or given up after the retries.")    \
    X(HOOK_RUNS, "failoverd_hook_runs_total", COUNTER, "point, outcome",                           \
      "Hook scripts and plugins run, by hook point and outcome (ok, vetoed, failed, timeout, "     \
      "spawn_error).")                                                                             \
    X(CLUSTER_VERDICT, "failoverd_cluster_verdict", GAUGE, "cluster, verdict",                     \
      "The detector's verdict on the cluster's primary: 1 for the current one of healthy, "        \
      "suspect, unreachable and dead, 0 for the others.")                                          \
    X(CLUSTER_PRIMARY, "failoverd_cluster_primary_info", GAUGE, "cluster, primary",                \
      "Always 1; the label names the cluster's primary. Absent while no primary is known.")        \
    X(CLUSTER_PAUSED, "failoverd_cluster_paused", GAUGE, "cluster",                                \
      "1 while an operator has paused automatic failover of the cluster.")                         \
    X(CLUSTER_BLOCKED, "failoverd_cluster_failover_blocked", GAUGE, "cluster",                     \
      "1 while an automatic failover of the cluster would be refused (paused, auto_failover off, " \
      "within failover_block, state unknown ...; failoverctl status says why).")                   \
    X(FAILOVERS, "failoverd_failovers_total", COUNTER, "cluster, outcome",                         \
      "Failovers that ended, by outcome: done, failed (the promotion went wrong), aborted "        \
      "(nothing was promoted).")                                                                   \
    X(SWITCHOVERS, "failoverd_switchovers_total", COUNTER, "cluster, outcome",                     \
      "Switchovers that ended, by outcome: done, failed, rolled_back.")                            \
    X(LAST_FAILOVER_DURATION, "failoverd_last_failover_duration_seconds", GAUGE, "cluster",        \
      "How long the last failover that succeeded took, from its start to its end. Absent "         \
      "before the first one.")                                                                     \
    X(LAST_SWITCHOVER_BLOCKED, "failoverd_last_switchover_write_blocked_seconds", GAUGE,           \
      "cluster",                                                                                   \
      "The last successful switchover's write-blocked window: from making the old primary "        \
      "read-only to the end of the post_promotion hooks. Absent before the first one.")            \
    X(NODE_UP, "failoverd_node_up", GAUGE, "cluster, node",                                        \
      "1 when the latest probe of the node succeeded, 0 when it failed or none has ended yet.")    \
    X(NODE_ROLE, "failoverd_node_role", GAUGE, "cluster, node, role",                              \
      "The node's role as inferred from the topology: 1 for the current one of primary, replica "  \
      "and unknown, 0 for the others.")                                                            \
    X(NODE_READ_ONLY, "failoverd_node_read_only", GAUGE, "cluster, node",                          \
      "1 when the node is read-only (read_only or super_read_only). Only while the node is up.")   \
    X(NODE_IO_RUNNING, "failoverd_node_replication_io_running", GAUGE, "cluster, node",            \
      "1 when the replica's IO thread is connected to its source, 0 otherwise. Only for nodes "    \
      "that are up and have a replication source.")                                                \
    X(NODE_SQL_RUNNING, "failoverd_node_replication_sql_running", GAUGE, "cluster, node",          \
      "1 when the replica's SQL (applier) thread runs. Only for nodes that are up and have a "     \
      "replication source.")                                                                       \
    X(NODE_LAG, "failoverd_node_replication_lag_seconds", GAUGE, "cluster, node",                  \
      "Seconds_Behind_Source as the replica reports it. Absent when the server reports none "      \
      "(NULL: the SQL or IO thread is stopped).")                                                  \
    X(NODE_BACKLOG, "failoverd_node_apply_backlog_transactions", GAUGE, "cluster, node",           \
      "Transactions the replica received but has not applied yet, from its GTID sets. Absent "     \
      "when they can't be compared.")                                                              \
    X(NODE_TLS, "failoverd_node_tls", GAUGE, "cluster, node",                                      \
      "1 when failoverd's session to the node speaks TLS, 0 when plain TCP (ssl_mode, "             \
      "docs/security.md). Only while the node is up.")                                             \
    X(NODE_TLS_VERIFIED, "failoverd_node_tls_verified", GAUGE, "cluster, node",                    \
      "1 when the node's certificate was verified (ssl_mode verify_ca or verify_identity), 0 "     \
      "when not. Only while the node is up and its session speaks TLS.")                           \
    X(NODE_PROBE_LATENCY, "failoverd_node_probe_latency_seconds", HISTOGRAM, "cluster, node",      \
      "Round trip of the node's successful probes since the daemon started.")                      \
    X(ROUTING_CHANGES, "failoverd_routing_changes_total", COUNTER, "cluster",                      \
      "Changes of the routing view: the writer, or a node entering or leaving the reader pool "    \
      "(routing_changed events; docs/routing.md).")                                                \
    X(NODE_READER, "failoverd_node_reader", GAUGE, "cluster, node",                                \
      "1 while the node is in the reader pool (docs/routing.md), 0 when not. Absent before the "   \
      "first routing view.")

typedef enum {
#define METRIC_ENUM(id, name, type, labels, help) METRIC_##id,
    METRICS_MAP(METRIC_ENUM)
#undef METRIC_ENUM
        METRIC__COUNT
} metric_id_t;

typedef struct {
    const char *name;
    metric_type_t type;
    const char *labels; /* "cluster, node" ... ("" none) */
    const char *help;
} metric_def_t;

extern const metric_def_t metrics_table[METRIC__COUNT];

const char *metric_type_str(metric_type_t t);

/* ---- exposition building blocks (pure) --------------------------------- */

/* "# HELP name text" (backslash and newline escaped) and "# TYPE name type". */
void metrics_write_family(buf_t *out, metric_id_t id);

/* One sample: name[suffix]{k="v",...} value. labels holds n pairs (key,
 * value); values are escaped (backslash, double quote, newline). */
void metrics_write_sample(buf_t *out, const char *name, const char *suffix,
                          const char *const *labels, size_t n, double value);

/* A label value as the format wants it between double quotes. */
void metrics_escape_label(buf_t *out, const char *s);

/* A sample value: integers without a fraction, NaN, +Inf, -Inf. */
void metrics_write_value(buf_t *out, double v);

/* A histogram from per-bucket counts (counts has n_bounds + 1 slots, the last
 * counting what is above every bound); bounds and sum are already in the
 * metric's unit. Writes the cumulative _bucket lines with le labels, +Inf
 * included, then _sum and _count. */
void metrics_write_histogram(buf_t *out, const char *name, const char *const *labels, size_t n,
                             const double *bounds, const uint64_t *counts, size_t n_bounds,
                             double sum);

/* ---- counters kept from events ----------------------------------------- */

/* Registers the event sink that counts failovers, switchovers and loop stalls
 * (idempotent). */
void metrics_attach_events(void);
void metrics_detach_events(void);
/* Forgets every counter (tests). */
void metrics_reset(void);
/* One hook script or plugin ended at this point with this outcome. */
void metrics_count_hook(const char *point, const char *outcome);
/* The counting an event sink does, callable directly (tests). */
void metrics_count_event(const char *name, const char *cluster, long long duration_ms,
                         long long write_blocked_ms);

/* Parses metrics_listen: "a.b.c.d:port" or "[IPv6]:port" (no name lookups)
 * into *sa; false with err filled when it is not one. */
struct sockaddr_storage;
bool metrics_parse_listen(const char *listen, struct sockaddr_storage *sa, char *err,
                          size_t errlen);

/* ---- the whole page ---------------------------------------------------- */

typedef struct {
    const cluster_t *c;
    bool paused;
    bool blocked;
} metrics_cluster_t;

typedef struct {
    const char *version;
    const metrics_cluster_t *clusters;
    size_t n_clusters;
    size_t webhook_waiting;
    uint64_t webhook_failures;
    uint64_t webhook_dropped;
} metrics_view_t;

/* Writes every metric, family by family in the table's order. */
void metrics_render(buf_t *out, const metrics_view_t *v);

/* docs/metrics.md's table: Metric | Type | Labels | Meaning, a row per metric. */
void metrics_doc(buf_t *out);

#endif
