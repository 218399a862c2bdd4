/* topology.h - replication shapes beyond one primary with direct replicas
 * (pure: reads the model, no I/O, no clock).
 *
 * The active-passive dual primary ("double M"): two nodes A and B replicate
 * from each other; A is the primary (writable), B is read-only. Server ids
 * (MariaDB) and GTIDs (MySQL) keep a transaction from going round the
 * circle. Other replicas of A, and of B, may hang off the pair. A switchover
 * between A and B is then a role flip: nothing is repointed between them,
 * and the pair stays a pair, roles swapped (docs/topologies.md).
 *
 * The shape is worked out from the nodes' last successful observations, so
 * that a primary that just died is still known to be half of a pair (its
 * partner is the natural candidate). */
#ifndef FAILOVERD_TOPOLOGY_H
#define FAILOVERD_TOPOLOGY_H

#include "model.h"

/* The dual partner of `primary`: the node B such that, as last observed,
 * the primary replicates from B, B replicates from the primary, and B is
 * read-only. -1 when there is none (no primary, it is not a replica, its
 * source is outside the cluster or does not replicate from it, or the
 * partner is writable: two writable nodes are an issue, not a pair). */
int topology_dual_partner(const cluster_t *c, int primary);

/* The shape of the cluster around its primary: "dual" (an active-passive
 * dual primary) or "star" (one primary, replicas). */
const char *topology_kind(const cluster_t *c);

#endif
