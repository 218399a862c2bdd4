/* rejoin.h - the nodes a failover left behind: fenced, rejoined or reported.
 *
 * After failoverd promoted a node, every other node should be a read-only
 * replica of it. The old primary may come back (restarted, network healed),
 * writable if its configuration says so, and a replica the failover could not
 * repoint (down then, or the daemon died mid-failover) still points at the
 * dead one. rejoin_look() looks at the cluster as the monitor last saw it and
 * starts at most one action at a time. Rules (rejoin_next() is the pure part):
 *   - the caller decides whether failoverd may act at all: no operation
 *     running, none interrupted and unacknowledged, the cluster not paused,
 *     and the primary is the node failoverd promoted last (failoverd does not
 *     fight a topology an operator made by hand);
 *   - the primary must be up and writable, else nothing is done;
 *   - a node that is up and writable besides the primary is fenced first:
 *     super_read_only on MySQL, read_only on MariaDB (the same switch a
 *     failover's fence uses), its client sessions cut off when read_only has
 *     to wait for them (so that a commit waiting for a semi-sync
 *     acknowledgement is never acknowledged), and reported (event
 *     node_fenced); a failed fence is retried every few seconds and reported
 *     once;
 *   - a node that is up, read-only and not replicating from the primary (no
 *     source; another node of the cluster, unless that is a live relay below
 *     the primary it receives from (tree_relayed), e.g. a replica that was hung while
 *     an operation repointed the others; or a source outside the cluster whose
 *     IO thread is not running) is checked once per GTID state, when it has
 *     been probed since the last operation ended: its executed GTIDs against
 *     the primary's (MySQL GTID
 *     sets; MariaDB its gtid_binlog_pos against the primary's
 *     gtid_binlog_state, server by server within each domain).
 *       contained, auto_rejoin on:  repointed at the primary with GTID
 *                                   auto-positioning, semi-sync replica side
 *                                   if configured, and verified (node_rejoined,
 *                                   or node_rejoin_failed);
 *       contained, auto_rejoin off: a replica left behind is repointed all
 *                                   the same (it needs no rejoin decision);
 *                                   a node that was not replicating (an old
 *                                   primary) is reported as ready to rejoin
 *                                   (node_rejoin_ready);
 *       not contained:              its errant GTIDs are reported
 *                                   (node_errant) and it stays read-only.
 * The statements of each action come from the planner (plan_rejoin,
 * plan_rejoin_fence) and are run by the executor, which journals each step
 * under the action's operation id; its phases are in rejoin_phase.h.
 */
#ifndef FAILOVERD_REJOIN_H
#define FAILOVERD_REJOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "journal.h"
#include "model.h"
#include "plan.h"
#include "rejoin_compare.h"

typedef struct {
    const char *cluster;
    const char *user; /* admin credentials */
    const char *password;
    bool auto_rejoin;
    plan_opts_t plan; /* replication account, connect retry, heartbeat, semi-sync, timeouts */
    /* Where each action and its steps are journaled (kind "rejoin", an
     * operation id of its own; resume.h says what a restart does with an
     * open one). Required. */
    journal_t *journal;
    struct coord *coord; /* coordination (coord.h): no statement unless this manager leads */
    /* A lost relay's replicas (rejoin_relay_look): how long the relay must
     * be unreached, whether they go to the primary (relay_repoint =
     * "primary") rather than the relay's own source. */
    uint64_t relay_down_after_ms;
    bool relay_to_primary;
} rejoin_settings_t;

typedef struct rejoin rejoin_t;

rejoin_t *rejoin_create(uv_loop_t *loop, const rejoin_settings_t *s);
/* New settings (copied); what was reported is forgotten, so it is looked at again.
 * While an action runs, they take effect when it ends. */
void rejoin_update(rejoin_t *r, const rejoin_settings_t *s);
/* Looks at c once and starts at most one action (nothing while one runs).
 * The caller has checked that failoverd may act on c (see above). */
void rejoin_look(rejoin_t *r, const cluster_t *c, uint64_t now);
bool rejoin_busy(const rejoin_t *r);
/* A relay replica below the primary is lost (tree_relay_next, tree.h): one
 * of its replicas is repointed, with GTID auto-positioning, to the relay's
 * own source (or to the primary), after the same check a rejoin makes (its
 * GTIDs must all be on the new source), and verified; event relay_repointed
 * or relay_repoint_failed, journaled as a note. At most one action at a
 * time; returns whether one was started. The caller checked that failoverd
 * may act (no operation running, the primary up and writable). */
bool rejoin_relay_look(rejoin_t *r, const cluster_t *c, uint64_t now);
/* The fence of a returning primary (read-only queued, client sessions cut
 * off, MySQL's semi-sync source side switched off if cut-off sessions still
 * wait: see rejoin_fence.c), run now on node for a failover whose old primary still
 * answers. done(ud, ok, msg) is called once when it ended (msg says what it
 * did or why it failed); nothing is reported as an event (the failover's step
 * is). Returns false, and done is not called, when r is busy with another
 * action or node's version is unknown. */
typedef void (*rejoin_fence_done_fn)(void *ud, bool ok, const char *msg);
bool rejoin_fence_for_failover(rejoin_t *r, const cluster_t *c, int node, uint64_t now,
                               rejoin_fence_done_fn done, void *ud);
/* True while a fence started by rejoin_fence_for_failover is in flight and
 * its node answered (connected): the node runs, and is being fenced. */
bool rejoin_fence_reached(const rejoin_t *r);
/* Within the done callback of rejoin_fence_for_failover: how many client
 * sessions the fence cut off, and whether it switched the semi-sync source
 * side off. */
void rejoin_fence_counts(const rejoin_t *r, size_t *cut, bool *released);
/* Frees r once its action in flight (bounded) has ended, then calls done(ud). */
void rejoin_free(rejoin_t *r, void (*done)(void *ud), void *ud);

#endif
