/* coord.h - coordination of several managers through etcd (docs/ha.md).
 *
 * Each manager keeps a lease (lease_ttl seconds, renewed every third of it by
 * one keepalive request) and a record managers/<id> on it.  The leader key
 * `leader` is created only when absent (a txn comparing its create_revision
 * with 0), on the manager's lease, with a JSON value {id, host, pid, since,
 * control}; the term is that key's create_revision, cluster-wide monotonic, so
 * a later leader always has a higher term.  Followers watch the key and
 * campaign when it goes (and every lease_ttl anyway, should the watch miss it).
 *
 * The leader believes in its leadership only while its lease is valid by its
 * own clock: the send time of the last keepalive etcd answered plus the TTL
 * minus a margin (a third of the TTL), on the monotonic clock - etcd's expiry
 * counts from a later moment, so etcd can't give the key to another manager
 * while this one still believes.  A loop stall longer than half the TTL drops
 * the belief until a linearizable read shows the key still holds our term.
 *
 * Only the leader acts: coord_why_not() says why this manager may not (for
 * admission), and coord_step_guard() runs before every step of a plan a txn
 * that checks the leader key still holds this manager's term and value and
 * records the step under <prefix><cluster>/failover in the same txn; a step
 * whose guard fails does not run.  Nothing here touches a database: losing
 * etcd stops the automation, never the servers. */
#ifndef FAILOVERD_COORD_H
#define FAILOVERD_COORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "model.h"

typedef enum { COORD_STARTING, COORD_FOLLOWER, COORD_LEADER, COORD_NO_QUORUM } coord_role_t;
const char *coord_role_str(coord_role_t r);

typedef struct coord coord_t;

/* control: the control socket's path, published in the leader record. */
coord_t *coord_create(uv_loop_t *loop, const fo_coord_cfg_t *cfg, const char *control);
/* Gives leadership up (revokes the lease, bounded by etcd_timeout) and closes
 * the handles; guards asked from now on fail.  coord_free() once the loop has
 * ended. */
void coord_close(coord_t *c);
void coord_free(coord_t *c);

coord_role_t coord_role(const coord_t *c);
/* NULL when this manager may act now (the leader, with a valid lease, not
 * stalled); else why not, naming the leader when known.  c NULL: standalone,
 * NULL. The text lives in c until the next call. */
const char *coord_why_not(coord_t *c);
/* The "coordination" object of the status. */
json_t *coord_status_json(coord_t *c);

/* The guard before a step (exec.h's step_guard): answer(token, 0, NULL) when
 * the txn confirmed the term and recorded the step; non-zero with why
 * otherwise.  A mutating step's *timeout_ms is cut to the lease validity left.
 * record: the JSON object stored under <prefix><cluster>/failover (stolen). */
typedef void (*coord_answer_fn)(void *token, int outcome, const char *msg);
void coord_step_guard(coord_t *c, const char *cluster, json_t *record, bool mutating,
                      uint64_t *timeout_ms, coord_answer_fn answer, void *token);

/* Publishes <prefix><cluster>/primary = {host, port, term} by a guarded txn
 * when it differs from what was last published (leader only). */
void coord_publish_primary(coord_t *c, const char *cluster, const char *host, int port);

/* The managers' verdict on a primary (coord_vantage.c, docs/ha.md): true
 * when a `managers` list is configured.  coord_vantage is the monitor's
 * vantage function (monitor_set_vantage, ud = the coord_t): it publishes this
 * manager's record for the cluster when due, fills cl->vantage from the
 * records received and returns the managers' verdict. */
bool coord_vantage_on(const coord_t *c);
quorum_verdict_t coord_vantage(void *ud, cluster_t *cl, const detect_params_t *dp, uint64_t now);

/* coord_resume.c: what a new leader reads of its predecessor's operation
 * (lib/core/haresume.h has the record's format). */
/* Reads <prefix><cluster>/failover (a linearizable range): answer(token, ok,
 * value or NULL when the key is absent, error when !ok).  answer runs once:
 * if etcd is closed before it answered, coord_free answers, as failed. */
typedef void (*coord_read_fn)(void *token, bool ok, const char *value, const char *err);
void coord_read_failover(coord_t *c, const char *cluster, coord_read_fn answer, void *token);
/* Records the end of operation op (type "done", "failed", "aborted") under
 * <prefix><cluster>/failover by a guarded txn, so that no later leader
 * resumes it; a failure is logged (the guard's event), nothing more. */
void coord_record_end(coord_t *c, const char *cluster, const char *op, const char *kind,
                      const char *type);

/* coord_state.c: the cluster's shared state and its history (docs/ha.md,
 * "The shared state"; lib/core/hastate.h has the state's format). */
#define COORD_HISTORY_KEEP 100
typedef void (*coord_write_fn)(void *token, bool ok, const char *err);
/* Writes <prefix><cluster>/state = state (stolen; "term" and "manager"
 * added) by a txn that checks the leader key still holds this manager's
 * term; answer(token, ok, why not) once. */
void coord_state_write(coord_t *c, const char *cluster, json_t *state, coord_write_fn answer,
                       void *token);
/* Reads <prefix><cluster>/state (a linearizable range), as coord_read_failover. */
void coord_state_read(coord_t *c, const char *cluster, coord_read_fn answer, void *token);
/* Puts an ended operation's history entry (stolen) under
 * <prefix><cluster>/history/<op> by the same guarded txn, then deletes the
 * oldest entries beyond COORD_HISTORY_KEEP. */
void coord_history_put(coord_t *c, const char *cluster, const char *op, json_t *entry,
                       coord_write_fn answer, void *token);
/* Reads every entry under <prefix><cluster>/history/, oldest first:
 * answer(token, ok, entries (borrowed) or NULL, why not). */
typedef void (*coord_history_fn)(void *token, bool ok, json_t *entries, const char *err);
void coord_history_read(coord_t *c, const char *cluster, coord_history_fn answer, void *token);
/* A caller going away: no answer reaches token any more. */
void coord_state_forget(coord_t *c, void *token);
/* This manager's id (NULL for NULL). */
const char *coord_manager_id(const coord_t *c);

#endif
