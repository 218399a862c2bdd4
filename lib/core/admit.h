/* admit.h - whether a failover or switchover may start (pure).
 *
 * The rules, in the order they are asked:
 *   both kinds, first: with several managers coordinated through etcd, only
 *     the leader holding a valid lease acts (not_leader says why not);
 *   automatic failover (the verdict became dead):
 *     - auto_failover off: never;
 *     - the journal can't be trusted (state unknown): held until acked;
 *     - an earlier operation was interrupted: held until acked;
 *     - the cluster is paused: held until resumed;
 *     - an unsupported topology (tree_unsupported: multi-source, Group
 *       Replication): refused, also for an operator's request;
 *     - the last failover ended less than failover_block ago and was not
 *       acknowledged: held (anti-flapping);
 *     - then the start-up rule (startup.h), which the caller asks itself.
 *   an operator's request:
 *     - one operation at a time (busy; a holding failover says how to go on);
 *     - state unknown or an interrupted operation: refused, as above;
 *     - the primary must be known, and a named node must exist;
 *     - a failover of a healthy primary is refused (switch over instead),
 *       unless --force and every replica lost it;
 *     - a failover of a primary that is not dead needs --force.
 * No I/O, no clock: the wall time comes in as an argument. */
#ifndef FAILOVERD_ADMIT_H
#define FAILOVERD_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

/* What blocks an automatic failover, as the daemon knows it now. */
typedef struct {
    const char *cluster;
    const char *state_unknown; /* why the journal can't be trusted, or NULL */
    bool interrupted;          /* an earlier operation is open in the journal */
    bool paused;
    uint64_t last_failover_wall; /* end of the last failover, wall ms; 0: none */
    bool last_acked;
    uint64_t failover_block_ms;
    /* Coordination (docs/ha.md): why this manager may not act now (a follower,
     * no valid leader lease), or NULL when it may (the leader; standalone). */
    const char *not_leader;
    /* Why the cluster's topology is not supported (tree_unsupported), or
     * NULL: every failover and switchover is refused then. */
    const char *unsupported;
    /* The last failover's operation id, named in the block's reason, or NULL
     * (coordination: it may have been another manager's). */
    const char *last_failover_op;
} admit_facts_t;

/* True, with why, when one of the block rules holds (startup excepted). */
bool admit_blocked(const admit_facts_t *a, uint64_t now_wall_ms, char *why, size_t len);
/* The same for an automatic failover, auto_failover first. */
bool admit_automatic_blocked(const admit_facts_t *a, bool auto_failover, uint64_t now_wall_ms,
                             char *why, size_t len);

typedef enum { ADMIT_OK, ADMIT_BUSY, ADMIT_REFUSED, ADMIT_NOT_FOUND } admit_answer_t;

/* An operator's request, and what is known of the cluster for it. */
typedef struct {
    bool failover;      /* else a switchover */
    bool force;
    const char *to;     /* NULL: elect */
    bool running;       /* an operation runs */
    bool holding;       /* ... and it is a failover that holds (elect_hold) */
    bool has_primary;
    bool to_exists;     /* the named node is one of the cluster's */
    verdict_t verdict;
    bool primary_up;
    bool replicas_lost_primary; /* every replica following the primary lost it */
} admit_request_t;

/* Whether the request may start; else the answer's code and why. */
admit_answer_t admit_request(const admit_facts_t *a, const admit_request_t *q, uint64_t now_wall_ms,
                             char *why, size_t len);
/* The reply code of an answer: NULL, "busy", "failed", "not_found". */
const char *admit_code(admit_answer_t a);

#endif
