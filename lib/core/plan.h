/* plan.h - failover and switchover plans (pure: no I/O, no clock).
 *
 * A plan is an ordered list of steps. Steps with the same group number run in
 * parallel; groups run in order, and a group starts only when every step of the
 * previous one has ended. Every step has a timeout. A step that fails and is
 * not optional ends the plan: the executor then runs the plan's rollback steps
 * (if the failure came before the point of no return) and reports the state
 * the cluster was left in.
 *
 * A failover is planned in two phases, because what the replicas received
 * can only be known once they stop receiving:
 *   prepare: pre-failover hook (may veto); stop every replica's IO thread;
 *            fence the old primary as far as it can be reached; re-observe.
 *   promote: (with the fresh observations and a new election) wait until the
 *            replicas applied what they received; catch the candidate up if
 *            it lacks anything; (reliability) repoint the others; promote it;
 *            move traffic; (availability) repoint the others; verify they
 *            replicate; post-failover hook.
 * A switchover is one phase. Reliability: check the candidate's lag; make the
 * old primary read-only (waiting for or killing long writes); capture its GTID
 * state; wait for the candidate to execute it; repoint the replicas; promote;
 * move traffic; repoint the old primary. Availability moves traffic first: stop the
 * candidate's replication and read what it keeps; promote; move traffic; then
 * make the old primary read-only and read what it had, so that what the new
 * primary lacks is known and reported; repoint everyone.
 */
#ifndef FAILOVERD_PLAN_H
#define FAILOVERD_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elect.h"
#include "flavor.h"
#include "model.h"
#include "names.h"
#include "stepname.h"

typedef enum {
    STEP_SQL,          /* run sql on node; success = no error */
    STEP_WAIT_GTID,    /* wait on node until it executed gtid (or the captured state) */
    STEP_CAPTURE_GTID, /* read node's executed GTID state into the plan's captured value */
    STEP_CHECK_LAG,    /* poll node until its lag (backlog) is under max_lag_ms or time runs out */
    STEP_HOOK,         /* run the hook point `hook` (a veto fails the step) */
    STEP_REFRESH,      /* probe every reachable node afresh, then plan the next phase */
    STEP_VERIFY,       /* poll node until it replicates from `source` with both threads running */
    STEP_BLOCK_WRITES, /* run sql (read-only on) on node; writes still running after
                          long_writes_ms are killed (kill_long_writes) or end the step */
    STEP_FENCE,        /* make node read-only as a returning primary is fenced: read-only
                          queued, client sessions cut off, semi-sync waits ended (the
                          daemon's fence); sql (plain read-only) where there is none */
    STEP_SALVAGE,      /* apply to node what `source` (the dead old primary) has in its
                          binlog and node lacks (salvage.h); the daemon runs it */
} step_kind_t;

typedef struct {
    step_kind_t kind;
    char *name;         /* stable id, e.g. "promote:db2": `role` and its argument as text
                           (stepname.h); journal and crash_at_step use it */
    char *desc;         /* one sentence for people */
    int node;           /* target node index, -1 for none (hooks, refresh) */
    char *sql;          /* STEP_SQL: one or more statements */
    char *sql_log;      /* the same with passwords redacted (journal, logs) */
    char *gtid;         /* STEP_WAIT_GTID: the GTID state to wait for; NULL = captured */
    fo_hook_point_t hook; /* STEP_HOOK: the hook point */
    int source;         /* STEP_VERIFY: the node it must replicate from */
    bool reach_captured; /* STEP_VERIFY: and have executed the plan's captured value */
    uint64_t max_lag_ms; /* STEP_CHECK_LAG */
    uint64_t long_writes_ms; /* STEP_BLOCK_WRITES: how long running writes may delay it */
    bool kill_long_writes;   /* STEP_BLOCK_WRITES: then kill them (else the step fails) */
    uint64_t timeout_ms;
    bool optional;      /* failure is reported but does not end the plan */
    int group;
    bool needs_follower; /* STEP_SQL: run only if a verify step of the plan succeeded
                            (a replica follows the new primary); else skipped, and
                            `unmet` says so in a warning */
    char *unmet;
    /* What the step does in its operation (stepname.h): code decides on it
     * (and on `hook`); `name` is its text for the journal, events, status. */
    step_role_t role;
    /* STEP_FENCE of an old primary that did not answer its last probe:
     * STEP_FENCE_BG_START starts its fence in the background (the step ends
     * at once; the fence goes on trying, bounded, while the failover goes
     * on); STEP_FENCE_BG_WAIT, just before the promotion, waits for that
     * fence if the old primary answered meanwhile and is being fenced, and
     * ends at once while it is still silent. 0: a fence the step waits for. */
    int background;
} step_t;

#define STEP_FENCE_BG_START 1
#define STEP_FENCE_BG_WAIT 2

typedef enum { PLAN_FAILOVER_PREPARE, PLAN_FAILOVER_PROMOTE, PLAN_SWITCHOVER, PLAN_REJOIN } plan_kind_t;

typedef struct {
    plan_kind_t kind;
    policy_t policy;
    int old_primary;
    int candidate;      /* -1 in the prepare phase */
    step_t *steps;
    size_t n;
    /* Steps that undo a failed switchover before the promotion (old primary
     * writable again, replication restarted). Empty for failovers. */
    step_t *rollback;
    size_t n_rollback;
    /* Steps at and after this index can't be rolled back. */
    size_t point_of_no_return;
    /* The steps before the point of no return must all end within this many
     * ms of the plan's start (a switchover's timeout); 0: no such bound. */
    uint64_t deadline_ms;
    flavor_t *flavors;  /* per node (indexed like the cluster); valid where known[] */
    bool *known;
    char *summary;      /* one paragraph */
} plan_t;

/* Timeouts and switches the plans take from the cluster's configuration. */
typedef struct {
    const char *repl_user;
    const char *repl_password;
    unsigned connect_retry_s;
    unsigned heartbeat_ms;
    bool semisync;
    uint64_t step_timeout_ms;
    uint64_t fence_timeout_ms;
    uint64_t wait_apply_timeout_ms;
    uint64_t catchup_timeout_ms;
    uint64_t verify_timeout_ms;
    uint64_t hook_timeout_ms;
    uint64_t switchover_lag_max_ms;
    uint64_t switchover_timeout_ms;
    bool long_writes_kill;           /* switchover: kill long writes (else wait, then give up) */
    uint64_t long_writes_timeout_ms; /* switchover: how long running writes may delay read-only */
    bool salvage;                    /* failover: salvage the old primary's binlog (salvage.h) */
    uint64_t salvage_timeout_ms;
    /* Failover under reliability: the hold the salvage must lift (salvage_gate):
     * the salvage step may not fail, and fails when the candidate does not then
     * hold this state (salvage_gate_lacks). */
    const char *salvage_gate;
    /* failover: point a relay's replicas at the new primary too (else they
     * stay under their relay when it survives: relay_keep). */
    bool relay_flatten;
} plan_opts_t;

plan_t *plan_failover_prepare(const cluster_t *c, int old_primary, policy_t policy,
                              const plan_opts_t *o);
/* After the refresh: the election result picks the candidate; NULL with err
 * when no candidate can be promoted. */
plan_t *plan_failover_promote(const cluster_t *c, int old_primary, const elect_result_t *e,
                              policy_t policy, const plan_opts_t *o, char *err, size_t errlen);
plan_t *plan_switchover(const cluster_t *c, int old_primary, int candidate, policy_t policy,
                        const plan_opts_t *o, char *err, size_t errlen);
/* The rest of a reliability switchover interrupted at or after its promotion
 * (the daemon died): promote cand again when `promote`, then the traffic
 * hooks, the repointing of the old primary and its replicas, verify,
 * refresh, switchover_after. NULL with err when cand can't be reached. */
plan_t *plan_switchover_resume(const cluster_t *c, int old_primary, int cand, policy_t policy,
                               bool promote, const plan_opts_t *o, char *err, size_t errlen);
/* The same for an interrupted operation of either kind: a failover's rest
 * repoints the reachable nodes still on the old primary (a dead one is left
 * to the rejoin) and ends with post_failover instead of switchover_after. */
plan_t *plan_op_resume(const cluster_t *c, int old_primary, int cand, policy_t policy,
                       bool promote, bool failover, const plan_opts_t *o, char *err,
                       size_t errlen);
/* A node the last operation left behind, returning (rejoin.h), as a plan of
 * the statements the rejoin sends (pure, like the others):
 *   capture:PRIMARY  what the primary holds (MySQL @@gtid_executed; MariaDB
 *                    @@gtid_binlog_state, every server's last transaction in
 *                    each domain: rejoin_compare needs them);
 *   capture:NODE     what the node holds (@@gtid_executed / @@gtid_binlog_pos);
 *   rejoin:NODE      read-only, replication stopped, pointed at the primary
 *                    with auto-positioning (old_primary: a node that was not
 *                    replicating, see flavor_source_t), semi-sync replica side
 *                    if configured, started;
 *   verify:NODE      polled until it replicates from the primary.
 * A statement that can't be written for this node leaves the rejoin step's
 * sql NULL, with why in its unmet (the check still runs: a node that holds
 * errant transactions is reported all the same). NULL with err when a
 * node's version is unknown. */
plan_t *plan_rejoin(const cluster_t *c, int node, int primary, bool old_primary,
                    const plan_opts_t *o, char *err, size_t errlen);
/* The fence of a node writable besides the primary, as a one-step plan: its
 * read-only statement, with the server's lock wait bounded just beyond the
 * step's timeout (the rest of the fence - sessions cut off, semi-sync waits
 * ended - is decided as it runs: rejoin_fence.c). NULL with err when the
 * node's version is unknown. */
plan_t *plan_rejoin_fence(const cluster_t *c, int node, const plan_opts_t *o, char *err,
                          size_t errlen);
void plan_free(plan_t *p);
/* The plan as JSON: kind, policy, summary, and the steps (sql_log, never sql). */
json_t *plan_json(const cluster_t *c, const plan_t *p);

const char *step_kind_str(step_kind_t k);

/* Whether a statement seen running on an old primary (processlist COMMAND,
 * STATE and INFO) is a write that keeps read_only from being set. Rules:
 *   1. only running statements count (COMMAND Query or Execute);
 *   2. a statement already waiting for the global read lock (or MariaDB's
 *      backup lock) is queued behind read_only, not in its way;
 *   3. the first word of the text, after blanks, comments and parentheses,
 *      decides: INSERT UPDATE DELETE REPLACE LOAD ALTER CREATE DROP RENAME
 *      TRUNCATE OPTIMIZE REPAIR ANALYZE GRANT REVOKE CALL are writes; WITH
 *      is one when an UPDATE or DELETE follows; anything else (SELECT, SHOW,
 *      SET ...) is not. */
bool plan_is_long_write(const char *command, const char *state, const char *info);

/* What the old primary had that the new one lacks, from their captured GTID
 * states (MySQL sets or MariaDB positions): a GTID set (old - new), or the
 * MariaDB domains in which the old primary is ahead, as old's positions.
 * *count is the number of transactions (MariaDB: sequence numbers beyond
 * new's in those domains). "" and 0 when nothing; NULL with err when a state
 * cannot be parsed. Caller frees. */
char *plan_divergence(bool mariadb, const char *old_gtid, const char *new_gtid, uint64_t *count,
                      char *err, size_t errlen);

#endif
