/* resume.h - whether a switchover the daemon died in can be finished (pure:
 * no I/O, no clock).
 *
 * A switchover interrupted at or after its promotion leaves the candidate
 * writable (or about to be) and the traffic still on the old primary, which
 * is read-only: writes fail until the traffic moves. When the daemon starts
 * and finds such a switchover open in its journal, it finishes it if the
 * nodes, as probed now, show it is safe; otherwise it holds the cluster and
 * says why and what to do. The rules, in order:
 *   1. the promotion must have started (journaled); one that failed is not
 *      retried;
 *   2. the old primary and the candidate must be known, and the candidate
 *      reachable (else whether it is writable is unknown);
 *   3. no node but the candidate may be writable;
 *   4. the old primary must be seen read-only, or, when it can't be reached,
 *      have been made read-only by the switchover (block_writes journaled done)
 *      or have been found dead by the failover (resume_facts_t.failover);
 *   5. a writable candidate: its promotion took effect; finish from the
 *      traffic step on;
 *   6. a read-only candidate (the promotion was journaled but did not take
 *      effect, or not all of it): promote it again only when the switchover
 *      had made the old primary read-only and the candidate had executed its
 *      GTID state (both journaled done), and the candidate has now executed
 *      everything the old primary has (seen now: nothing can be lost).
 */
#ifndef FAILOVERD_RESUME_H
#define FAILOVERD_RESUME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model.h"

typedef enum { RESUME_REFUSE, RESUME_AFTER_PROMOTION, RESUME_PROMOTE } resume_action_t;

typedef struct {
    int old_primary;       /* node index, -1 unknown */
    int candidate;         /* node index, -1 unknown */
    const char *promotion; /* "not started", "unknown" (journaled, no end), "done", "failed" */
    bool blocked;          /* block_writes of the old primary journaled done */
    bool synced;           /* the candidate's wait for the old primary's GTIDs journaled done */
    /* A failover (not a switchover): it promoted only once it had found its
     * old primary dead, so an old primary that can't be reached now passes
     * rule 4 as if made read-only; seen writable, it still fails rule 3. */
    bool failover;
} resume_facts_t;

/* What to do, from the switchover's journal (facts) and the nodes' latest
 * observations; why says what was found (RESUME_REFUSE: why not). */
resume_action_t resume_decide(const cluster_t *c, const resume_facts_t *f, char *why, size_t len);

const char *resume_action_str(resume_action_t a);

/* ---- the rejoin's records ------------------------------------------------
 * The rejoin (lib/ops/rejoin.c) journals each of its actions like an
 * operation: a "begin" (kind "rejoin", with the node), its phases, the
 * executor's steps, and an end ("done", "failed", "aborted"). It is not an
 * operation: it is never resumed, never holds the cluster, and never counts
 * as an interrupted failover or switchover. A rejoin still open when the
 * daemon starts was cut short; what it decided came from probes that are
 * old now, so it is not replayed: it is closed as abandoned ("aborted" with
 * "abandoned": true) and its node is looked at afresh, from new probes, like
 * any other. */
#define RESUME_KIND_REJOIN "rejoin"

/* Whether rec is one of the rejoin's records. */
bool resume_rec_is_rejoin(const json_t *rec);
/* The rejoins records (oldest first) leaves open: one object per rejoin,
 * {"op", "node", "phase" (the last its records name), "step" (the last
 * step journaled, or absent)}, oldest first; a new reference (an empty array
 * when none). Records of other kinds are ignored. */
json_t *resume_open_rejoins(const json_t *records);

#endif
