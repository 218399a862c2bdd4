/* plan_int.h - what the planner's files share (not part of plan.h's API).
 *
 * plan.c holds the step list and the statements every kind of plan uses;
 * plan_failover.c and plan_switchover.c build the plans from them. */
#ifndef FAILOVERD_PLAN_INT_H
#define FAILOVERD_PLAN_INT_H

#include "plan.h"

/* A plan of kind for c, with every node's flavor where its version is known. */
plan_t *plan__new(const cluster_t *c, plan_kind_t kind, policy_t policy, int old_primary);
/* Appends a step to the list (steps or rollback) and returns it for filling
 * in: its role, and arg (the node's name, the hook point's) for its name. */
step_t *plan__add_to(step_t **list, size_t *n, step_kind_t kind, int group, int node,
                     uint64_t timeout_ms, step_role_t role, const char *arg);
#define STEP(p, ...) plan__add_to(&(p)->steps, &(p)->n, __VA_ARGS__)
void plan__describe(step_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* SQL text that is the same with and without secrets. */
void plan__set_sql(step_t *s, const char *sql);
/* Groups run in order: list the steps by group, keeping their order within one. */
void plan__sort_by_group(plan_t *p);
const char *plan__nm(const cluster_t *c, int i);
void plan__add_hook(plan_t *p, int group, fo_hook_point_t point, bool optional,
                    const plan_opts_t *o);
/* How a node is pointed at a source. */
typedef struct {
    bool old_primary;     /* it was not replicating (flavor_source_t.rejoin_old_primary) */
    bool read_only_first; /* made read-only before anything else (the rejoin) */
    bool source_side_off; /* with semi-sync: its source side switched off (operations) */
} plan_point_t;
/* "[read-only;] STOP REPLICA; CHANGE ... TO <source>; [semi-sync]; START
 * REPLICA" on node, into s's sql and sql_log (redacted). */
bool plan__point_sql(const cluster_t *c, const plan_t *p, int node, int source,
                     const plan_point_t *how, const plan_opts_t *o, step_t *s, char *err,
                     size_t errlen);
/* An operation's repoint: plan__point_sql with the source side off. */
bool plan__repoint_sql(const cluster_t *c, const plan_t *p, int node, int source, bool rejoin,
                       const plan_opts_t *o, step_t *s, char *err, size_t errlen);
/* The description of a repoint step (early: before the promotion, see plan.c). */
void plan__describe_repoint(const cluster_t *c, step_t *s, int node, int cand, bool early);
/* The promotion's statements for node. */
void plan__promote_sql(const plan_t *p, int node, const plan_opts_t *o, step_t *s);
/* Availability with semi-sync: the new primary's source side, once a replica follows. */
void plan__semisync_step(const cluster_t *c, plan_t *p, int group, int cand,
                         const plan_opts_t *o);
/* SWITCHOVER_DUAL: a dual primary's switchover (topology.h), where the old
 * primary already replicates from the candidate and is left out. */
typedef enum {
    PLAN_REPOINT_FAILOVER,
    PLAN_REPOINT_SWITCHOVER,
    PLAN_REPOINT_RESUME,
    PLAN_REPOINT_SWITCHOVER_DUAL
} plan_repoint_t;
/* The repoint and verify steps of the nodes that follow the candidate (plan.c). */
bool plan__repoint_steps(const cluster_t *c, plan_t *p, plan_repoint_t kind, int eg, int rg,
                         int vg, const plan_opts_t *o, char *err, size_t errlen);
/* Failovers: first end a MySQL applier stuck in a group (plan_failover.c). */
void plan__end_applier_first(const plan_t *p, int node, step_t *s);
/* Whether node i replicated from primary (as last observed). */
bool plan__follows(const cluster_t *c, int i, int primary);
/* The replication tree in a failover (plan_tree.c, see tree.h): node i is
 * anywhere below the old primary, a relay's replicas included. */
bool plan__in_tree(const cluster_t *c, int i, int primary);
/* Where a failover points node i: the new primary; or, relays kept (not
 * o->relay_flatten), the relay i replicates from, when that relay is up, is
 * not the candidate and is itself repointed. */
int plan__failover_source(const cluster_t *c, const plan_t *p, int i, const plan_opts_t *o);
void plan__describe_relay_kept(const cluster_t *c, step_t *s, int node, int relay, int cand);

#endif
