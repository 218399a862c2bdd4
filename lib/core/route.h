/* route.h - where a read/write-splitting proxy should send traffic (pure: no
 * I/O, no clock).
 *
 * From the cluster's last observations: the writer is the primary while it is
 * up and writable; a replica is in the reader pool while it is up, replicates
 * from the primary with both threads running, and is within max_read_lag -
 * either a number of seconds (Seconds_Behind_*) or "caught_up": it has applied
 * every GTID the primary had at the primary's latest probe. When no replica
 * qualifies, the primary serves reads too if fallback_primary is set. Every
 * node gets a reason that says why it is in the pool or not; see
 * docs/routing.md. The monitor computes this after every probe, and a change
 * becomes a routing_changed event (plugins: the routing hook point) and a new
 * topology file (topofile.h).
 */
#ifndef FAILOVERD_ROUTE_H
#define FAILOVERD_ROUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct {
    bool caught_up;     /* max_read_lag = "caught_up": by GTID, not seconds */
    int64_t max_lag_s;  /* when !caught_up */
    bool fallback_primary;
} route_settings_t;

/* max_read_lag: "caught_up", or whole seconds ("5", "5s", "2m"). False with a
 * reason in err for anything else. */
bool route_lag_parse(const char *text, route_settings_t *out, char *err, size_t err_len);

typedef struct {
    bool writer;     /* in the writer pool */
    bool reader;     /* in the reader pool */
    const char *why; /* a static sentence part: "lagging", "down" ... */
    int64_t lag_s;   /* Seconds_Behind_* of its last observation; -1 unknown or not a replica */
} route_node_t;

typedef struct {
    int writer;           /* node index, -1: nowhere to write */
    bool fallback;        /* no replica qualifies: the primary serves reads */
    size_t n;
    route_node_t *nodes;  /* one per node of the cluster */
} route_t;

/* Fills r (route_free first when reused). */
void route_compute(const cluster_t *c, const route_settings_t *s, route_t *r);
void route_free(route_t *r);
/* Same writer, same pools, same reasons (lag figures are not compared). */
bool route_same(const route_t *a, const route_t *b);
/* {"writer": name|null, "fallback": bool, "max_read_lag": "5s"|"caught_up",
 *  "nodes": [{"name","host","port","writer","reader","why","lag_s"}]}; new reference. */
json_t *route_json(const cluster_t *c, const route_settings_t *s, const route_t *r);
/* The fence state of a node that was the primary before an operation, for
 * status: "fenced (read-only)", "NOT fenced: writable", "rejoined (replicates
 * from the primary)", "down: fence state unknown", "not observable: fence state
 * unknown", or NULL when name is no node of c. */
const char *route_fence_state(const cluster_t *c, const char *name);

/* Adds the routing view to a cluster's status object (status.h): "routing"
 * ({"writer","fallback","max_read_lag"} or null before the first view), each
 * node's "routing" ({"writer","reader","why","lag_s"}) in its "nodes" array,
 * and "old_primary_fence" ({"node","state"}, or null) for the old primary of
 * last_operation. */
void route_status(const cluster_t *c, const route_settings_t *s, const route_t *r,
                  json_t *cluster_status);

/* "in the reader pool (within max_read_lag)" / "not in the reader pool: lagging". */
const char *route_reader_word(const route_node_t *n);

#endif
