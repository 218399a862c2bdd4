/* exec.h - runs a plan on the loop.
 *
 * Groups of steps run in order, the steps of a group in parallel, each bounded
 * by its timeout. Every step is journaled before it runs ("step") and after
 * ("step_done" / "step_failed"). A step whose record can't be made durable
 * does not run, and the plan fails there (a refresh, which only reads, is the
 * exception); so does a plan whose record of a step's end can't be written. A required step that fails ends the plan; if
 * that happens before the plan's point of no return, the rollback steps run.
 * SQL goes to each node over a connection of the executor's own (the probes'
 * connections are never borrowed), with the admin credentials; a block_writes
 * step also opens a second one to its node, to see and kill long writes.
 * Before the plan's point of no return, every step also ends by the plan's
 * deadline (deadline_ms after the start), if it has one.
 *
 * Hooks and the refresh step are the daemon's business: the executor asks the
 * environment to run them and waits (bounded) for the answer.
 */
#ifndef FAILOVERD_EXEC_H
#define FAILOVERD_EXEC_H

#include <jansson.h>
#include <uv.h>

#include "dbconn.h"
#include "journal.h"
#include "model.h"
#include "outcome.h"
#include "plan.h"

typedef enum { EXEC_DONE, EXEC_FAILED, EXEC_ROLLED_BACK } exec_outcome_t;

typedef struct exec exec_t;

/* The answer to a hook or refresh request: call exactly once, from the loop,
 * with the token the request carried - also after the step's own deadline
 * passed (the answer is then ignored). */
typedef void (*exec_answer_fn)(void *token, int outcome, const char *msg);

typedef struct {
    /* Run the hooks of point s->hook; answer with a hooks_outcome_t. */
    void (*run_hook)(const step_t *s, exec_answer_fn answer, void *token, void *ud);
    /* Probe every reachable node afresh; answer 0 when done, else non-zero. */
    void (*refresh)(const step_t *s, exec_answer_fn answer, void *token, void *ud);
    void *ud;
    /* Fence s->node (STEP_FENCE); answer 0 when it is read-only, else non-zero.
     * Returns false when it can't start (the step then runs its plain SQL). */
    bool (*fence)(const step_t *s, exec_answer_fn answer, void *token, void *ud);
    /* Salvage onto s->node from s->source (STEP_SALVAGE), gtid being what the
     * last capture on s->node read ("" when none); answer 0 when done. */
    void (*salvage)(const step_t *s, const char *gtid, exec_answer_fn answer, void *token,
                    void *ud);
    /* When several managers coordinate (coord.h): asked before each step
     * starts, after its journal record; answer 0 to run it, non-zero (with
     * why) to end it unrun, failed.  It may lower *timeout_ms (valid until the
     * answer).  NULL: every step runs (standalone). */
    void (*step_guard)(const step_t *s, uint64_t *timeout_ms, exec_answer_fn answer, void *token,
                       void *ud);
} exec_env_t;

typedef struct {
    const char *cluster;
    const char *op;          /* journal operation id */
    const char *kind;        /* "failover" / "switchover" */
    const char *user;        /* admin credentials */
    const char *password;
    const char *crash_at_step; /* test knob: die (SIGKILL) right after journaling this step */
    /* Run only the plan's steps [first_step, end_step) (end_step 0: to the
     * end). An operation whose next steps depend on what the first ones read
     * (the rejoin) runs its plan in parts. */
    size_t first_step, end_step;
    /* When set, the steps' progress and failures are logged under this name
     * instead of being failover_step events (the rejoin's: its outcome is its
     * own event). */
    const char *step_log;
} exec_opts_t;

typedef void (*exec_done_cb)(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud);

/* Starts running p (which must outlive the run) against the nodes of c. The
 * strings of o are copied: a reload may replace the caller's while p runs. */
exec_t *exec_start(uv_loop_t *loop, const cluster_t *c, const plan_t *p, const exec_opts_t *o,
                   journal_t *j, const exec_env_t *env, exec_done_cb cb, void *ud);

/* The step running now (for status), or NULL. */
const char *exec_current_step(const exec_t *x);
/* The GTID state captured by the last capture step, or NULL. */
const char *exec_captured(const exec_t *x);
/* The GTID state the last capture step on node read, or NULL. */
const char *exec_captured_at(const exec_t *x, int node);
/* Every step's outcome so far: [{"name","ok","ms","error"}...] (borrowed). */
json_t *exec_results(const exec_t *x);
/* A step at or after the plan's point of no return was started: from then on
 * a node may have been made writable. */
bool exec_reached_point_of_no_return(const exec_t *x);
/* A journal record of the run could not be made durable: why (the step it
 * was for did not run, or, for the record of a step's end, no later step
 * ran), else NULL. */
const char *exec_journal_failed(const exec_t *x);

/* Reading a replica's status (the verify and check_lag polls): */
/* Reads a replica status result (in flavor f) into o (clear it afterwards,
 * either way); false with why when it can't be read or shows no replication
 * configured. */
bool exec_replica_read(const flavor_t *f, dbconn_result_t *res, observation_t *o, char *why,
                       size_t len);
/* "IO thread X, SQL thread Y[: its last errors]" of o. */
void exec_threads_text(const observation_t *o, char *out, size_t len);

#endif
