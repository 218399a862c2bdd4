/* rejoin_compare.h - the pure part of the rejoin (rejoin.h): which node to
 * look at next, which sessions a fence cuts off, and whether a node's
 * transactions are all on the primary. */
#ifndef FAILOVERD_REJOIN_COMPARE_H
#define FAILOVERD_REJOIN_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef enum { REJOIN_NOTHING, REJOIN_FENCE, REJOIN_CHECK } rejoin_action_t;

/* What is remembered of a node between looks. */
typedef struct {
    char *checked;     /* its GTID state when it was last checked; NULL: not checked */
    uint64_t fence_at; /* when a fence of it was last tried; 0: never */
    char *ready;       /* the GTID state it was last reported ready to rejoin with (kept
                          while it is away: one report per state); NULL: none */
    bool returned;     /* seen down, and not seen replicating since: a replica of the
                          primary whose replication is stopped is then checked */
} rejoin_memo_t;

/* Whether two GTID state texts of one node (as the server prints them) are
 * the same state: equal but for blanks and line breaks (MySQL breaks long
 * sets into lines). NULL is the empty state. */
bool rejoin_same_state(const char *a, const char *b);

/* The next action by the rules above, and its node (-1 with REJOIN_NOTHING).
 * memo has one entry per node; a fence is not tried again within retry_ms. */
rejoin_action_t rejoin_next(const cluster_t *c, const rejoin_memo_t *memo, uint64_t now,
                            uint64_t retry_ms, int *node);

/* The fence of a writable node (see rejoin_fence.c): read_only is queued
 * first, then client sessions are cut off (KILL CONNECTION) so that no commit
 * waiting for a semi-sync acknowledgement is ever acknowledged, then, when only
 * cut-off sessions still wait, the node's semi-sync wait is switched off.
 * Whether a session in that state (a processlist row) waits for a semi-sync
 * acknowledgement: */
bool rejoin_waits_for_ack(const char *state);
/* Whether the fence cuts the session off: every client session, not the
 * server's own threads (system user, event_scheduler, Daemon, Binlog Dump),
 * not one cut off already (Killed), and not failoverd's own (own_user) unless
 * it waits for an acknowledgement. */
bool rejoin_fence_cuts(const char *user, const char *command, const char *state,
                       const char *own_user);

/* Whether a node's transactions are all on the primary.
 *   MySQL:   node and primary are GTID sets (gtid_executed); errant is node − primary.
 *   MariaDB: node is its gtid_binlog_pos, primary the primary's gtid_binlog_state
 *            (one entry per domain and server); a node entry d-s-n is contained
 *            when the primary logged d-s-m with m >= n (under gtid_strict_mode a
 *            server's sequence numbers only grow); errant lists what is not,
 *            as d-s-n, with the primary's last d-s-m from that server if any.
 * Returns 1 (contained), 0 (not: *errant says what, caller frees) or -1 with
 * err when a GTID text is malformed. */
int rejoin_compare(bool mariadb, const char *node, const char *primary, char **errant, char *err,
                   size_t errlen);

#endif
