/* failover.h - the operations of one cluster: failovers and switchovers.
 *
 * It decides when to act and keeps the record; the plans (plan.c) say what to
 * do and the executor (exec.c) does it. Rules:
 *   - an automatic failover starts when the verdict becomes dead, unless
 *     auto_failover is off, the cluster is paused, an earlier operation was
 *     interrupted (the journal has it open) and not acknowledged, or the last
 *     failover ended less than failover_block ago and was not acknowledged;
 *     each of these is reported once (failover_blocked). Lifting the block
 *     (resume, ack) while the primary is still dead starts it then;
 *   - nor for a primary failoverd has not reached since it started watching
 *     the cluster (startup.h): never under reliability (an operator failover
 *     confirms), under availability once startup_grace has passed;
 *   - one operation at a time per cluster;
 *   - an operator failover needs a dead primary, or --force when it is only
 *     unreachable/suspect; a healthy primary is never failed over (switchover);
 *   - every operation is journaled from "begin" to "done"/"failed"/"aborted"
 *     and reported through events with what happened and what to do; it
 *     moves through named phases (opphase.h: one table of transitions), and
 *     each phase's record carries its name; whether it may start at all is
 *     decided by the pure rules of admit.h;
 *   - under reliability a failover holds (bounded by unseen_hold) while
 *     elect_hold says a replica that may hold more can't be seen: it prepares
 *     and elects again when one comes back, and is aborted with nothing
 *     writable when the hold runs out; --force (an operator's failover) and
 *     availability go on and report what was not seen; an operator's
 *     --force (or --policy availability) while an automatic failover holds
 *     makes it go on at once;
 *   - a failover whose candidate is lost before its promotion elects again
 *     without it (at most once per node); any other failed step ends it, and
 *     every node is probed afresh so the event can say what it left;
 *   - while the primary is the node failoverd promoted last and nothing
 *     blocks automatic action, the nodes the operation left behind are seen
 *     to (rejoin.h): a second writable node is fenced, a returning old
 *     primary is rejoined (auto_rejoin) or reported.
 */
#ifndef FAILOVERD_FAILOVER_H
#define FAILOVERD_FAILOVER_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "exec.h"
#include "hooks.h"
#include "journal.h"
#include "monitor.h"
#include "plan.h"

typedef struct {
    const char *cluster;
    policy_t policy;
    bool auto_failover;
    bool auto_rejoin;      /* rejoin a returning old primary whose GTIDs the new one has */
    uint64_t failover_block_ms;
    const char *user;      /* admin credentials for the executor */
    const char *password;
    plan_opts_t plan;
    const char *crash_at_step; /* test knob */
    uint64_t startup_grace_ms; /* a primary never reached: see startup.h */
    uint64_t unseen_hold_ms;   /* reliability: the bound on the hold (elect_hold) */
    const char *salvage_command; /* salvage.h; "" off (plan.salvage says it too) */
    const char *salvage_client;  /* the mysql client that applies what is salvaged */
    const char *state_dir;       /* where the client's option file is written */
    const char *salvage_credentials; /* option file with the account to apply with, or "" */
    struct coord *coord; /* coordination with other managers (coord.h); NULL: standalone */
    /* A lost relay replica's replicas (rejoin_relay_look): how long the
     * relay must be unreached (the cluster's down_after), and where they
     * go (relay_repoint). */
    uint64_t down_after_ms;
    bool relay_to_primary;
} failover_settings_t;

typedef struct failover failover_t;

/* The answer to an operator request: result (new reference) or an error. */
typedef void (*failover_reply_fn)(void *req, bool ok, const char *code, const char *msg,
                                  json_t *result);

/* hooks_slot: where the cluster's hooks are (the daemon swaps them on reload);
 * a NULL slot or hooks: hook steps have nothing to run. */
failover_t *failover_create(uv_loop_t *loop, monitor_t *m, journal_t *j,
                            const failover_settings_t *s, hooks_t *const *hooks_slot);
/* New settings after a reload (copied). An operation in flight owns the
 * settings and hooks it started with until it ends: new settings given while
 * it runs take effect when it ends. */
void failover_update(failover_t *f, const failover_settings_t *s);
/* A reload replaced the cluster's monitor: the watch before it had reached
 * node as the primary, so its state is not unknown (startup.h). */
void failover_primary_seen(failover_t *f, const char *node);
/* The primary, when this watch (or one before a reload) has reached it; else NULL. */
const char *failover_seen_primary(failover_t *f);
/* The monitor's verdict changed. */
void failover_on_verdict(failover_t *f, verdict_t old, verdict_t now);

typedef enum { OP_FAILOVER, OP_SWITCHOVER } op_kind_t;

typedef struct {
    op_kind_t kind;
    const char *to;       /* NULL: elect */
    bool policy_given;
    policy_t policy;
    bool force;           /* failover of a primary that is not (yet) dead */
    bool dry_run;         /* reply with the plan, do nothing */
    uint64_t timeout_ms;  /* switchover: overrides switchover_timeout (0: keep) */
} op_request_t;

/* Starts an operator request; reply(req_ctx, ...) is called once, when it ends
 * (or at once when it can't start or is a dry run). */
void failover_request(failover_t *f, const op_request_t *r, failover_reply_fn reply, void *req_ctx);
/* The plan the daemon would run now for request r (kind, to, policy, timeout):
 * a dry run. New reference; NULL with err when there is no known primary or no
 * such node. */
json_t *failover_plan_json(failover_t *f, const op_request_t *r, char *err, size_t errlen);

void failover_pause(failover_t *f, bool paused);
/* The same, saying who asked (kept in the state shared with the other
 * managers under coordination, docs/ha.md). */
void failover_pause_by(failover_t *f, bool paused, const char *who);
/* Acknowledges an interrupted operation or the last failover (lifts the block).
 * Returns false with msg when there is nothing to acknowledge. */
bool failover_ack(failover_t *f, char *msg, size_t len);

/* The status fields the daemon adds to the cluster's status: paused,
 * "failover" (the running or interrupted operation, or null), "blocked_until",
 * "last_operation". */
void failover_status(failover_t *f, json_t *cluster_status);
bool failover_running(const failover_t *f);
/* The journal's records (journal_records) as history entries, one per
 * operation, oldest first (a new reference). */
json_t *failover_history_ops(json_t *records);

/* Frees f, then calls done(ud). An operation in flight is finished first (every
 * step is bounded, so this ends); the monitor must stay open until done runs. */
void failover_free(failover_t *f, void (*done)(void *ud), void *ud);

#endif
