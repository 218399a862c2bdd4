/* tree.h - the replication tree of a cluster (pure: no I/O, no clock).
 *
 * A node's source is the node its last successful observation replicates
 * from (cluster_source_of): a down node keeps the place it was last seen in.
 * Following the sources up from any node ends at a node that replicates from
 * nobody in the cluster (normally the primary), or runs into a cycle. A relay
 * replica is a replica other nodes replicate from; the nodes below it reach
 * the primary through it, and it must log what it applies
 * (log_replica_updates) for them to get anything.
 */
#ifndef FAILOVERD_TREE_H
#define FAILOVERD_TREE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* How many replication hops node i is below node root: 0 for root itself, 1
 * for a direct replica, 2 for a replica of a relay, ...; -1 when root is not
 * among its sources (another tree, a source outside the cluster, a cycle). */
int tree_depth(const cluster_t *c, int i, int root);

/* Node i is below root in the tree (a direct replica or further down). */
bool tree_under(const cluster_t *c, int i, int root);

/* The relay node i hangs under, directly below root: i's ancestor at depth
 * 1 (i itself when it is a direct replica); -1 when i is not under root. */
int tree_branch_of(const cluster_t *c, int i, int root);

/* Node i replicates, IO thread running, from a relay that is up and is
 * itself below root: its place in the tree is sound (see tree_relay_dead
 * for when it is not). A node following the primary the last operation took
 * over from (c->demoted) is not: that operation left it behind. */
bool tree_relayed(const cluster_t *c, int i, int root);

/* How many nodes replicate from node i directly. */
size_t tree_children(const cluster_t *c, int i);

/* Node i is a relay: under root, and some node replicates from it. */
bool tree_is_relay(const cluster_t *c, int i, int root);

/* Where a replica of a relay goes when the relay is lost: the relay's own
 * source (to_primary false), or the primary root (to_primary true), going
 * up past every source that is down; -1 when none is up. */
int tree_new_source(const cluster_t *c, int relay, int root, bool to_primary);

/* Whether relay, a replica of the tree under root, is dead to its replicas
 * (the rule the monitor acts on): the relay is not root; it is under root;
 * the manager has not reached it for down_after (node_unreached_since); and
 * it has replicas, every one of them that is up with its IO thread not
 * connected (IO_NO or IO_CONNECTING), at least one of them up. A relay its
 * replicas still receive from is alive to them, whatever the manager sees.
 * Writes why into why (a sentence) either way. */
bool tree_relay_dead(const cluster_t *c, int relay, int root, uint64_t now,
                     uint64_t down_after_ms, char *why, size_t why_len);

/* The next replica of a dead relay to repoint (the monitor's rule); never
 * in a cluster with an unsupported topology (tree_unsupported). The
 * first relay below root that tree_relay_dead says is dead, and the first of
 * its replicas that is up, read-only, not receiving and has no errant GTIDs
 * as last judged (node_t.errant); skip(ud, node) may leave a node out (one
 * already tried in its present state). *to is where it goes
 * (tree_new_source). False when there is nothing to do. */
bool tree_relay_next(const cluster_t *c, int root, uint64_t now, uint64_t down_after_ms,
                     bool to_primary, bool (*skip)(void *ud, int node), void *ud, int *relay,
                     int *node, int *to, char *why, size_t why_len);

/* Topologies failoverd does not handle, said plainly rather than handled
 * silently: a node with more than one replication channel (multi-source
 * replication: MySQL channels, MariaDB named connections) or that is a
 * Group Replication member (its replica status lists Group Replication's
 * channels). From each node's last successful observation. The first such
 * node's sentence goes in why; false when there is none. */
bool tree_unsupported(const cluster_t *c, char *why, size_t why_len);
/* Adds one issue per such node to c->issues. */
void tree_unsupported_issues(cluster_t *c);

/* The order nodes are drawn in: each node followed by its replicas (depth
 * first, config order among siblings), starting from root; then every node
 * not under root, in config order. order has room for c->n_nodes; depth[k]
 * (may be NULL) gets the depth of order[k] under root, 0 for the others. */
void tree_order(const cluster_t *c, int root, int *order, int *depth);

#endif
