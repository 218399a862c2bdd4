/* rejoin_int.h - what the rejoin's files share (not part of rejoin.h's API).
 *
 * rejoin_compare.c is the pure part (what to do next, whether a node's
 * transactions are all on the primary); rejoin.c looks, and hands each part
 * of an action's plan (captures, repoint, verify, fence) to the executor;
 * rejoin_fence.c fences a writable node; rejoin_journal.c journals the
 * actions and starts the executor. */
#ifndef FAILOVERD_REJOIN_INT_H
#define FAILOVERD_REJOIN_INT_H

#include "dbconn.h"
#include "exec.h"
#include "flavor.h"
#include "log.h"
#include "rejoin.h"
#include "rejoin_phase.h"
#include "tls.h"

#define FENCE_RETRY_MS 5000
#define POLL_MS 200


typedef struct {
    char *name, *host;
    unsigned port;
    flavor_t flavor;
    dbconn_t *conn;
    tls_cfg_t *tls; /* owned copy of the node's */
} target_t;

struct rejoin {
    uv_loop_t *loop;
    rejoin_settings_t s; /* strings owned */
    rejoin_memo_t *memo;
    bool *fence_reported; /* a failed fence was reported (once until it works) */
    size_t n_memo;

    /* The action in flight. */
    rejoin_phase_t phase; /* see rejoin_phase.h */
    uint64_t phase_at;    /* when it was entered (loop time) */
    int idx;
    target_t node, primary;
    bool node_replica;   /* it had a replication source configured */
    char *seen;          /* its GTID state as observed: what the memo keeps */
    char *primary_state; /* what the primary has (set or binlog state) */
    char *node_state;    /* the node's GTID state as read for the check, or NULL */
    uint64_t started;
    uv_timer_t timer;
    bool timer_on;

    int open; /* handles and connections still open */
    bool freeing;
    void (*done)(void *);
    void *done_ud;

    /* The fence in flight (see fence_start). */
    target_t aux;       /* a second session on the node: looks, kills, releases */
    bool fence_watch;   /* the read-only statement has not come back yet */
    unsigned long *cut; /* sessions cut off (KILL CONNECTION sent) */
    size_t n_cut, next_cut;
    bool released;       /* the semi-sync source side is being switched off */
    bool release_wanted; /* ... is to be, once the sessions listed are cut off */
    char *fence_trouble; /* the last thing that went wrong on aux, for the report */
    /* Settings a reload brought while an action ran: they take effect when it
     * ends (an action runs with the settings it started with). */
    rejoin_settings_t next_s;
    bool has_next_s;

    /* A fence run for a failover (rejoin_fence_for_failover): told, not evented. */
    rejoin_fence_done_fn fence_done_fn;
    void *fence_done_ud;

    /* The statements of the action in flight, from the planner: plan_rejoin
     * (steps REJOIN_STEP_*) or plan_rejoin_fence (its one step). */
    plan_t *plan;

    /* The executor running a part of the plan (rejoin__run_part), or NULL;
     * the cluster it runs against (the monitor's: it outlives r). */
    exec_t *x;
    const cluster_t *c;
    /* The action's journal operation id (NULL for a failover's fence, which
     * that failover journals). */
    char *op;
    /* The rejoin's own fence, run as the step of its plan: the executor's
     * answer, and what the fence came to (reported once both have ended). */
    exec_answer_fn fence_answer;
    void *fence_token;
    bool fence_started, fence_ended;
    char *fence_err; /* NULL: made read-only */
    char *fence_cut; /* what was cut off, for the report */
    /* The action repoints a lost relay's replica (rejoin_relay.c): the
     * relay's name and why it counts as lost; NULL otherwise. */
    char *relay;
    char *relay_why;
};

/* The steps of plan_rejoin, in order (the node's state is read first). */
enum { REJOIN_STEP_NODE, REJOIN_STEP_PRIMARY, REJOIN_STEP_REPOINT, REJOIN_STEP_VERIFY };

/* sql on target t (connecting first when needed); cb gets r, also for a
 * connection that is busy or failed. */
void rejoin__run(rejoin_t *r, target_t *t, const char *sql, dbconn_cb cb);
/* Ends the action in flight; remember: the node's GTID state counts as looked at. */
void rejoin__end_action(rejoin_t *r, bool remember);
/* Enters phase p (rejoin_phase.c): sets it, stamps the time, and emits event
 * (when not NULL) with fields and the message, at lvl, for r->node; without
 * an event the change is logged at debug level. */
void rejoin__enter(rejoin_t *r, rejoin_phase_t p, log_level_t lvl, const char *event,
                   json_t *fields, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* For rejoin_relay.c: a target for node n (false: its version is unknown);
 * one memo entry per node of c; the check of r->node against r->primary,
 * then the repoint and its verification, as for a rejoin. */
bool rejoin__target_set(target_t *t, const node_t *n);
void rejoin__memo_fit(rejoin_t *r, const cluster_t *c);
void rejoin__check_start(rejoin_t *r);
/* The end of a relay action (rejoin_relay.c): reported and journaled. */
void rejoin__relay_done(rejoin_t *r);
void rejoin__relay_failed(rejoin_t *r, const char *why);

/* Fences r->node (see rejoin_fence.c). */
void rejoin__fence_start(rejoin_t *r);
/* The executor's fence step of the rejoin's own fence plan: starts the fence
 * and answers when it ended (rejoin_fence.c). */
bool rejoin__fence_by_exec(const step_t *s, exec_answer_fn answer, void *token, void *ud);
/* The rejoin's own fence has ended and so has its executor: reports it and
 * ends the action (rejoin_fence.c). */
void rejoin__fence_report(rejoin_t *r, const char *err, const char *cut);

/* rejoin_journal.c */
/* Opens the journal operation of the action starting on r->node: a fresh id
 * and its "begin" record (what: "fence" or "check"). */
void rejoin__op_begin(rejoin_t *r, const char *what);
/* A record of the action's operation (fields stolen; nothing without one). */
void rejoin__journal(rejoin_t *r, const char *type, json_t *fields);
/* The phase change from -> to, journaled when either runs a part of the plan
 * (rejoin_phase_runs_plan): "phase" on entering, "phase_left" (with "left"
 * and "next", no "phase": that names the phase an operation is in) on leaving;
 * the end of the action: "done" or "failed" with the phase it ended in. */
void rejoin__journal_phase(rejoin_t *r, rejoin_phase_t from, rejoin_phase_t to);
/* Runs the plan's steps [first, end) in the executor; done gets r. */
void rejoin__run_part(rejoin_t *r, size_t first, size_t end, exec_done_cb done);
/* Why a part failed: its failed step's own error, else msg. */
const char *rejoin__part_error(exec_t *x, const char *msg);
/* Closes the rejoins the journal still has open as abandoned (resume.h). */
void rejoin__abandon_open(rejoin_t *r);

#endif
