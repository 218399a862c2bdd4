/* failover_int.h - what the files of the operation driver share: the state of
 * one cluster's operations (struct failover) and the functions they call in
 * each other. failover.c drives; switchover.c, opreport.c, fohistory.c,
 * fohold.c, fosteps.c, foadmit.c and fostatus.c hold one concern each;
 * opphase.h and admit.h are their pure parts. */
#ifndef FAILOVERD_FAILOVER_INT_H
#define FAILOVERD_FAILOVER_INT_H

#include "failover.h"
#include "buf.h"
#include "elect.h"
#include "opphase.h"
#include "rejoin.h"

/* The refresh looks this often whether every node answered its fresh probe:
 * a probe takes a round trip or two, and the refresh stands between the
 * stop of the replicas and the election. */
#define REFRESH_POLL_MS 2
#define LOOK_MS 250
/* How long a restarted daemon waits for every node's first probe before it
 * decides on an interrupted switchover with what it has seen. */
#define RESUME_WAIT_MS 10000
#define HOLD_POLL_MS 100

/* The fence of a silent old primary in the background is tried again this
 * soon after an attempt failed, until fence_timeout ran out (fobgfence.c). */
#define BG_FENCE_RETRY_MS 100

typedef struct fo_bgfence fo_bgfence_t;

struct failover {
    uv_loop_t *loop;
    monitor_t *m;
    journal_t *j;
    failover_settings_t s;    /* strings owned (copies) */
    hooks_t *const *hooks;
    bool paused;

    /* The operation in flight. */
    bool running;
    op_kind_t kind;
    bool automatic;
    policy_t policy;
    char *op;
    char *to;
    int old_primary;
    int candidate;
    plan_t *plan;
    exec_t *exec;
    elect_result_t *elect;
    uint64_t started_mono, started_wall, detected_ms;
    failover_reply_fn reply;
    void *req_ctx;
    char *lost;               /* what may have been lost */
    uint64_t lost_count;      /* transactions in it; 0 when unknown or none */
    int elections;            /* elections run by this failover (a lost candidate: again) */
    char *fail_msg;           /* a failed promote plan: what failed */
    bool fail_past_no_return; /* ... after a node may have been made writable */
    json_t *earlier_steps;    /* step results of this operation's earlier plans */

    /* The refresh step. */
    uv_timer_t refresh_timer;
    uint64_t refresh_since;
    exec_answer_fn refresh_answer;
    void *refresh_token;

    /* The nodes the last operation left behind (rejoin.h). */
    rejoin_t *rj;
    uv_timer_t look_timer;
    char *promoted;           /* the node failoverd made the primary last, or NULL */
    uint64_t ended_mono;      /* when the last operation ended (loop ms); 0: none yet */

    /* History. */
    uint64_t last_failover_wall; /* end of the last failover, wall ms; 0 none */
    char *last_failover_op;      /* its operation id (an ack names it), or NULL */
    bool last_acked;
    json_t *interrupted;      /* the open operation found in the journal, or NULL */
    json_t *last_op;          /* summary of the last finished operation */
    bool block_reported;

    int open;                 /* timers and the rejoin still to close when freeing */
    bool dying;               /* failover_free() was called during an operation */
    void (*freed)(void *);
    void *freed_ud;

    /* What each node had received when the failover began (its last
     * successful observation, GTID fields only): the refresh is compared with
     * it (received_went_back). n_before entries, or NULL. */
    observation_t *before;
    size_t n_before;
    /* What replicas had received before their received set went backwards in
     * an aborted failover: it counts in the loss report of the failover that
     * follows (the relay log is gone; only this record remembers it), until
     * one succeeds. */
    observation_t *carried;
    size_t n_carried;
    bool regress_reported;    /* the received_regressed events were emitted */
    /* What the operation in flight owns until it ends: the hooks it started
     * with (held), and settings a reload brought meanwhile, which wait for it
     * (see failover_update). */
    hooks_t *op_hooks;
    failover_settings_t next_s;
    bool has_next_s;

    /* A primary not reached since the watch began (startup.h). */
    uint64_t watch_since;   /* monotonic ms when this cluster's watch began */
    uint64_t startup_until; /* availability: the grace ends then; 0: not waiting */
    char *seen_before;      /* the primary the watch before a reload had reached, or NULL */
    bool startup_confirmed; /* an ack of an interrupted operation confirmed the failover */
    /* The journal can't be trusted for this cluster (damaged, unreadable, or
     * a record of it could not be made durable): why; automatic actions are
     * held until an operator acknowledges it. NULL when it can. */
    char *state_unknown;
    bool journal_damaged;     /* ... because of damage found in the file */
    bool resume_decided;      /* an interrupted switchover was looked at after the restart */
    uint64_t created_mono;
    /* What the failover in flight knows of the old primary's durability (durability.h). */
    uint64_t risk_since_wall; /* semi-sync had fallen back on it at this time; 0: it had not */
    char *risk_from;          /* what its replicas held when the fallback was seen */
    uint64_t seen_wall;       /* its last successful probe, wall ms; 0: never */
    int errant_sink;          /* event sink: a returning old primary's extra transactions */
    bool exact_recorded;      /* the last failover's exact loss is in the journal */
    /* Reliability's hold (elect_hold): the promotion waits, bounded by
     * unseen_hold, for the replicas it can't see. */
    bool force;               /* the operator accepts what can't be ruled out (--force) */
    uint64_t hold_until;      /* monotonic ms; 0 while not holding */
    char *hold_why;           /* why it holds (or, not holding, what was not seen) */
    json_t *hold_unseen;      /* names of the replicas it waits for */
    uv_timer_t hold_timer;
    json_t *salvage;          /* what the salvage step of this failover did, or NULL */
    /* The phase of the operation in flight (opphase.h), and since when
     * (loop ms); idle between operations. */
    op_phase_t phase;
    uint64_t phase_since;
    bool coord_leading; /* coordination: this manager led at the last look */
    /* Reliability's hold that the salvage may lift (fosalvage.c): the state
     * the candidate must hold after it, or NULL; spent once it failed. */
    char *salvage_gate;
    bool salvage_gate_spent;
    /* The fence of a silent old primary, in the background (fobgfence.c), or NULL. */
    fo_bgfence_t *bg;
    /* Coordination (foharesume.c): the steps of operation ha_op guarded so
     * far, for the next step's etcd record; the read of the predecessor's
     * record in flight, or NULL. */
    char *ha_op;
    json_t *ha_before;
    struct fo_ha_read *ha_read;
    /* A step guard of the running operation refused its step (fosteps.c);
     * read by fo_ha_end. */
    bool guard_refused;
    /* Coordination (foshared.c): the state shared with the other managers. */
    struct fo_shared *sh;
    /* The first step at or past the point of no return whose guard refused
     * it (fosteps.c; haresume.h), or NULL: read by fo_ha_end. */
    char *guard_refused_late;
};

/* fosalvage.c: when reliability would hold, whether the salvage may lift it
 * (the promotion goes on, gated); after a failed promote plan, the fallback
 * to the hold (true when it took over); the end of an operation. */
bool fo_salvage_gate_try(failover_t *f, const char *why);
/* opreport.c: the plan and election of a promotion that failed before its
 * point of no return are dropped, and the election runs again. */
void fo_elect_again(failover_t *f);
/* What one promotion attempt held (its plan, election, loss list, failure
 * message), let go. */
void fo_drop_attempt(failover_t *f);
/* After a salvage that succeeded: NULL when the gate (if any) is met, else why not. */
char *fo_salvage_gate_check(failover_t *f, const char *after);
bool fo_salvage_gate_failed(failover_t *f);
void fo_salvage_gate_clear(failover_t *f);

char *fo_dup0(const char *s);
/* The node failoverd made the primary last, and the primary it took over
 * from (NULL: not known). */
void fo_set_promoted(failover_t *f, const char *node, const char *old);
json_t *fo_interrupted_summary(json_t *records);
const char *fo_op_step_state(json_t *records, const char *step);
void fo_load_history(failover_t *f);
void fo_on_event(const event_t *ev, void *ud);
const char *fo_kind_str(op_kind_t k);
void fo_forget_before(failover_t *f);
void fo_forget_carried(failover_t *f);
void fo_remember_before(failover_t *f, const cluster_t *c);
json_t *fo_received_went_back(failover_t *f, const cluster_t *c);
void fo_op_hold(failover_t *f);
void fo_hold_unknown(failover_t *f, const char *why);
void fo_end_op(failover_t *f, const char *type, bool ok, const char *code, const char *msg,
                   json_t *extra);
void fo_keep_steps(failover_t *f, exec_t *x);
void fo_writable_nodes(const cluster_t *c, buf_t *out, json_t *list);
plan_t *fo_refresh_plan(failover_t *f, const char *name, const char *desc);
json_t *fo_step_result(exec_t *x, step_role_t role, fo_hook_point_t hook, int node,
                       const cluster_t *c);
json_t *fo_switchover_extra(failover_t *f, exec_t *x);
bool fo_step_ok(json_t *res);
void fo_switchover_left(failover_t *f, exec_t *x, buf_t *out);
void fo_note_old_primary(failover_t *f);
void fo_promote_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud);
void fo_abort_regressed(failover_t *f, json_t *back);
void fo_hold_reset(failover_t *f);
bool fo_hold(failover_t *f);
void fo_elect_and_promote(failover_t *f);
void fo_prepare_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud);
void fo_start_exec(failover_t *f, exec_done_cb done);
void fo_startup_recheck(failover_t *f);
void fo_note_unseen_primary(failover_t *f, op_kind_t kind);
bool fo_blocked(failover_t *f, char *why, size_t len);
bool fo_begin(failover_t *f, op_kind_t kind, bool automatic, policy_t policy, const char *to);
void fo_try_resume(failover_t *f);
/* foharesume.c: a new leader's look at its predecessor's operation, the
 * record each guarded step writes, the end recorded in etcd. */
void fo_ha_on_leader(failover_t *f);
json_t *fo_ha_step_record(failover_t *f, const step_t *s);
void fo_ha_end(failover_t *f, const char *type);
void fo_ha_free(failover_t *f);
/* foshared.c: the cluster's state shared through etcd (docs/ha.md): a
 * change to write (leader), the look (retry a write; a follower reads),
 * what a new leader read (false: the read failed, try again), the end of
 * an operation (its history entry), status, free. */
void fo_shared_changed(failover_t *f);
void fo_shared_look(failover_t *f);
bool fo_shared_adopt(failover_t *f, bool ok, const char *value, const char *err);
void fo_shared_op_ended(failover_t *f);
void fo_shared_status(failover_t *f, json_t *st);
void fo_shared_free(failover_t *f);
bool fo_accept_held(failover_t *f, const op_request_t *r, failover_reply_fn reply, void *ctx);
void fo_reconsider(failover_t *f);

/* The one way an operation changes phase: checks the move against the table
 * (a move it does not allow is logged as a bug, and made), stamps the time,
 * writes record (the phase's journal record type, opphase.h; NULL: none) with
 * fields (stolen, may be NULL) and "phase" added, and logs "phase FROM -> TO:
 * why". Returns false when the record was not made durable; the phase is
 * entered all the same: the caller decides what that means. */
bool fo_enter(failover_t *f, op_phase_t to, const char *why, const char *record, json_t *fields);
/* Back to idle without a transition: an operation whose "begin" (or
 * "resume") could not be journaled never started. */
void fo_phase_reset(failover_t *f);
/* The failover's prepare plan, as its preparing phase. */
void fo_prepare(failover_t *f);
bool fo_automatic_blocked(failover_t *f, char *why, size_t len);
void fo_switchover_start(failover_t *f, const op_request_t *r, policy_t policy,
                         failover_reply_fn reply, void *ctx);

/* The fence of a silent old primary in the background (fobgfence.c): start
 * it (the fence:OLD step, STEP_FENCE_BG_START); wait for it when the node
 * answers again (fence_wait:OLD, STEP_FENCE_BG_WAIT; answer is called once,
 * maybe at once); its state for status; free it with the failover. */
void fo_bgfence_start(failover_t *f, int node);
bool fo_bgfence_wait(failover_t *f, int node, exec_answer_fn answer, void *token);
/* A fence:OLD step of an old primary that answers while its fence in the
 * background is in flight (the rejoin runs one fence at a time): waits for
 * that attempt instead; false when there is none. */
bool fo_bgfence_join(failover_t *f, int node, exec_answer_fn answer, void *token);
void fo_bgfence_status(failover_t *f, json_t *st);
void fo_bgfence_free(failover_t *f);

#endif
