/* startup.h - a primary failoverd has never reached (pure: no I/O, no clock).
 *
 * A failover needs the old primary's last GTID state: it is what tells which
 * transactions only the primary had, and so what a promotion would lose.
 * failoverd learns it by probing the primary. A daemon started (or a cluster
 * added by a reload) while the primary is already down has never seen it: the
 * primary may be down for maintenance, or have died with transactions no
 * replica received, and nothing tells which. Rules for an automatic failover
 * of such a primary:
 *   - a primary reached at least once since failoverd started watching the
 *     cluster: go (the normal case; no start-up delay);
 *   - reliability: refuse. No promotion without a known primary state; the
 *     operator confirms with `failoverctl failover CLUSTER` (an operator
 *     failover is not held), or the primary comes back;
 *   - availability: wait until startup_grace has passed since the watch
 *     began (a primary being restarted comes back meanwhile), then go; what
 *     the old primary had is then unknown, and reported so.
 */
#ifndef FAILOVERD_STARTUP_H
#define FAILOVERD_STARTUP_H

#include <stdbool.h>
#include <stdint.h>

#include "elect.h"
#include "model.h"

typedef enum { STARTUP_GO, STARTUP_WAIT, STARTUP_REFUSE } startup_verdict_t;

/* Whether the cluster's primary has been reached since the watch began (its
 * last successful observation is one of this daemon's). false while the
 * primary is not known. */
bool startup_primary_seen(const cluster_t *c);

/* The rule above. watch_since: monotonic ms when failoverd started watching
 * the cluster; now: monotonic ms. With STARTUP_WAIT, *until (may be NULL) is
 * when the grace ends. */
startup_verdict_t startup_judge(bool primary_seen, policy_t policy, uint64_t watch_since,
                                uint64_t grace_ms, uint64_t now, uint64_t *until);

#endif
