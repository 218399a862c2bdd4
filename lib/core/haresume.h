/* haresume.h - what a new leader makes of its predecessor's operation record
 * (pure: no I/O, no clock).
 *
 * Under coordination (docs/ha.md) the leader's guard before each step of an
 * operation writes one record under <prefix><cluster>/failover, replacing
 * the one before:
 *   {"op", "kind", "type": "step", "step" (the step about to run), "node",
 *    "old_primary", "candidate", "policy", "before": [the steps of this
 *    operation guarded earlier, in order], "term", "manager", "at_ms"}
 * and, when the operation ends, a terminal record:
 *   {"op", "kind", "type": "done" | "failed" | "aborted", "term", "manager"}.
 * The last step's effect is unknown. A plan runs its steps group by group,
 * and the steps of one group together, so a step in "before" had started
 * and its group's predecessors had ended; the promotion is a group of its
 * own, so a promotion in "before" had ended (done, or failed: then what
 * ran after it was the failure's refresh, and the rules see a read-only
 * candidate).
 *
 * A manager that becomes the leader reads that record. No record, or a
 * terminal one: nothing is open. A step record: the operation is open; it is
 * turned into the records a journal would hold for it (a "begin", an
 * "elect" naming the candidate of a failover, a "step_done" for each step
 * before, a "step" for the last), so that the same rules a restarted daemon
 * applies to its own journal decide (resume.h: re-probe, then finish or
 * hold for an operator). A record that can't be read is an error here: the
 * leader holds the cluster, as for an operation it knows nothing of. */
#ifndef FAILOVERD_HARESUME_H
#define FAILOVERD_HARESUME_H

#include <jansson.h>
#include <stddef.h>

#include "plan.h"

typedef enum { HARESUME_NONE, HARESUME_OPEN, HARESUME_BAD } haresume_t;

/* text: the key's value, NULL when the key is absent. HARESUME_OPEN: *records
 * gets the journal-like records (a new reference) and *from the predecessor's
 * record (a new reference); HARESUME_BAD: why says what is wrong. */
haresume_t haresume_read(const char *text, json_t **records, json_t **from, char *why,
                         size_t len);

/* Whether a record type ends an operation. */
int haresume_terminal(const char *type);

const char *haresume_str(haresume_t r);

/* ---- a step guard that refused late --------------------------------------
 * A step past its plan's point of no return whose guard refused (etcd did
 * not answer for a moment) is not run, but the operation goes on to, or
 * went past, its promotion: it ends with what that step would have done
 * (a repointing, the traffic hooks, post_failover) undone, while its
 * candidate is writable. Such an operation is not closed in etcd: the
 * manager journals, after its end, a record of type HARESUME_LEFT_OPEN
 * ({"refused_step": the first step refused}), and finishes it by the rules
 * for an operation left open, as a new leader would (docs/ha.md). */
#define HARESUME_LEFT_OPEN "left_open"

/* Whether a refusal of step s of plan p leaves its operation to be
 * finished: s is one of p's steps (not a rollback step) at or past the
 * point of no return of a promoting plan (a failover's promotion, a
 * switchover, or the rest of an interrupted operation). */
int haresume_refusal_leaves_open(const plan_t *p, const step_t *s);

typedef enum {
    HARESUME_LOCAL_NONE,       /* the journal holds no end of the operation */
    HARESUME_LOCAL_ENDED,      /* it ended (the type of its last end in *type) */
    HARESUME_LOCAL_UNFINISHED, /* it ended, and was left open after that end */
} haresume_local_t;

/* What this manager's own journal says of one operation it may have run:
 * records are that operation's records, oldest first. *type (may be NULL)
 * gets the type of the last end, borrowed from records, or NULL. */
haresume_local_t haresume_local_end(const json_t *records, const char **type);

#endif
