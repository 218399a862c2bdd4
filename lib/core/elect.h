/* elect.h - choosing the new primary (pure: no I/O, no clock).
 *
 * Input: the cluster's nodes as last observed, the old primary, the policy,
 * and optionally the node the operator asked for. Output: for every other
 * node whether it may be promoted and why not, what it lacks, its rank, the
 * chosen candidate, and which replicas the candidate must first catch up from.
 *
 * Exclusions (a reason is recorded for each):
 *   - the node is down (its latest probe failed);
 *   - its GTID state can't be parsed (observation_t.gtid_error): what it
 *     holds is unknown, which is not the same as holding nothing;
 *   - the node is down (its latest probe failed), or unobservable (reachable,
 *     but its probe was refused for want of a privilege);
 *   - promotion rule must_not;
 *   - failoverd's account lacks privileges a promotion needs there (its
 *     grants, judged by grants.h): nothing is tried that would fail halfway;
 *   - binary log off, or replicated transactions not logged
 *     (log_replica_updates off): the others could not follow it;
 *   - a delayed replica (SQL_Delay > 0);
 *   - not a replica of the old primary (no replication, or another source);
 *   - broken replication: an SQL thread error;
 *   - errant GTIDs: transactions the old primary never had (MySQL: executed
 *     GTIDs neither in the primary's last known set nor from its own uuid;
 *     MariaDB: a binlog position entry from another server id beyond the
 *     primary's last known position in that domain, or a last logged
 *     transaction of the replica's own server id that is not the last one it
 *     replicated in that domain). Errant transactions are
 *     reported, and such a node is never promoted nor used as a catch-up
 *     source, so they are never spread;
 *   - a server newer than another replica that would follow it (a replica
 *     cannot always replicate from a newer major/minor version).
 *   - reliability: a filtering replica (filters.h: the replicas do not all
 *     filter the same way, and it has filters). Its GTID state claims
 *     transactions whose data it may have filtered out, so it is neither
 *     promoted nor used as a catch-up source; with no other candidate the
 *     failover is aborted rather than promote it. Under availability it is
 *     eligible but ranks after every replica without filters, and the
 *     choice says what that costs.
 *
 * Ranking of the rest:
 *   reliability: promotion rule (prefer > neutral > prefer_not), then
 *     freshness (it holds everything any replica received), then the
 *     smallest apply backlog, then config order. A candidate that lacks
 *     something first catches up from the replicas that have it: rule beats
 *     freshness because catching up costs seconds and loses nothing.
 *   availability: freshness first (nothing will wait for a catch-up), then
 *     an empty apply backlog (nothing waits long for a relay log to be
 *     applied either: promoting a replica drops what it did not apply), then
 *     rule, backlog, config order.
 * An operator's --to NODE overrides the ranking but not the exclusions.
 * "Received" is the executed ∪ retrieved set (MySQL) or the furthest of the
 * IO and applied positions (MariaDB).
 */
#ifndef FAILOVERD_ELECT_H
#define FAILOVERD_ELECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model.h"

typedef enum { POLICY_RELIABILITY, POLICY_AVAILABILITY } policy_t;

typedef struct {
    int node;             /* index in the cluster */
    const char *excluded; /* why it may not be promoted; NULL when eligible */
    bool source_ok;       /* may serve as a catch-up source (up, logs, no errant) */
    bool lacks;           /* lacks something another replica received */
    char *missing;        /* what it lacks ("" when nothing) */
    char *received;       /* its received GTID state, as text */
    char *errant;         /* errant GTIDs ("" when none) */
    long long backlog;    /* received but not applied (transactions), -1 unknown */
    int rank;             /* 1 = best eligible; 0 = excluded */
    bool filtering;       /* its replication filters differ from the others' (filters.h) */
    /* Why this replica may hold transactions beyond what the chosen one will
     * have although it can't be seen now (see elect_hold); NULL when it can't. */
    const char *unseen;
} elect_candidate_t;

typedef struct {
    elect_candidate_t *c; /* one per node other than the old primary */
    size_t n;
    int chosen;           /* node index, or -1 when none is eligible */
    int most_advanced;    /* node index of a replica holding everything, -1 on divergence */
    int *catchup;         /* node indices the chosen one catches up from, in order */
    size_t n_catchup;
    char *union_text;     /* everything the replicas received together */
    char why[512];        /* one paragraph: the choice and its reasons */
    size_t n_unseen;      /* candidates with `unseen` set */
    char *primary_only;   /* elect_primary_only(): "" when nothing */
} elect_result_t;

/* want: node name the operator asked for, or NULL. Never NULL. */
elect_result_t *elect_run(const cluster_t *c, int old_primary, policy_t policy, const char *want);
void elect_free(elect_result_t *r);
/* The result as JSON (for `failoverctl plan` and events). New reference. */
json_t *elect_json(const cluster_t *c, const elect_result_t *r);

/* What may be lost when the chosen node becomes primary holding `kept` (its
 * GTID state once it stopped replicating): everything the replicas of the
 * election received (errant transactions left out) and everything the old
 * primary was last seen with, minus kept. Text in the cluster's notation, ""
 * when nothing: a MySQL GTID set, or the MariaDB positions the new primary
 * falls short of (its own position in that domain up to the one given).
 * *count is the number of transactions. Caller frees. */
char *elect_lost(const cluster_t *c, int old_primary, const elect_result_t *e, const char *kept,
                 uint64_t *count);

/* Reliability's rule of certainty: the chosen replica is not promoted while
 * something it would lack can't be ruled out. It must hold, when
 *   - a replica of the old primary can't be seen now (down, or reachable but
 *     not observable) and may have received more: its IO thread was running
 *     when it was last seen, so it may have gone on receiving; or it was seen
 *     with its IO thread stopped and holds transactions no replica that can be
 *     seen received (a node never seen since the daemon started is not
 *     counted: nothing says it replicated from the old primary);
 *   - the old primary was last seen with transactions no replica that can be
 *     seen received (e->primary_only).
 * A replica seen last with its IO thread stopped and nothing beyond the others
 * is no reason: it can't hold more than it was seen with.
 * Returns true when the failover must hold (policy reliability, and one of the
 * above), with why: one sentence naming the replicas and what they may hold.
 * Under availability it returns false, and why still says what is not seen
 * ("" when everything is). */
bool elect_hold(const cluster_t *c, const elect_result_t *e, policy_t policy, char *why,
                size_t len);

const char *policy_str(policy_t p);
/* What the old primary had when it was last seen that no replica received
 * (its last known GTID state minus e->union_text): transactions that may be
 * lost whatever is promoted. "" when nothing, or when the primary was never seen.
 * Caller frees. */
char *elect_primary_only(const cluster_t *c, int old_primary, const elect_result_t *e);

/* Transactions a replica received but has not applied yet, or -1 when unknown. */
long long elect_backlog(const observation_t *o);

/* The errant-GTID rule above, one node at a time (the monitor reports errant
 * nodes as topology issues): the errant GTIDs of o against the primary's
 * observation p, as text ("" when none, or when p was never observed). Caller frees. */
char *elect_errant(const observation_t *o, const observation_t *p);

/* The parse check at the observation boundary: every GTID text of o (MySQL:
 * gtid_executed, the retrieved and executed sets; MariaDB: gtid_binlog_pos,
 * gtid_current_pos, gtid_slave_pos, Gtid_IO_Pos and Gtid_Slave_Pos) parsed
 * in o's flavor. NULL when all parse (an absent value is not an error);
 * otherwise one sentence naming the first that does not. Caller frees. A
 * node whose observation has one is excluded from elections, is never a
 * catch-up source, and is not judged errant; a primary whose observation has
 * one is treated as not seen for the errant and loss computations. */
char *elect_gtid_error(const observation_t *o);
/* The same check as the one parse of o's GTID texts where the observation
 * enters (the probe): the states it parsed are kept in o (executed_st,
 * received_st, applied_st; gtids_parsed set), so that the model does not
 * parse the texts again. Returns the error (for o->gtid_error), or NULL. */
char *elect_gtid_enter(observation_t *o);

/* What a replica had received (executed ∪ retrieved, or the furthest MariaDB
 * position) when observed as `before` that it no longer holds as `after`:
 * the received set went backwards, e.g. a relay log the server discarded. ""
 * when nothing (or when either observation is not usable: not ok, a GTID
 * parse error, another flavor); otherwise a MySQL GTID set or the MariaDB
 * positions `after` falls short of (as in elect_lost). *count is the number
 * of transactions. Caller frees. */
char *elect_received_regress(const observation_t *before, const observation_t *after,
                             uint64_t *count);

/* Adds what o had received to e->union_text (received_by_all), so that the
 * loss computed by elect_lost counts it: a replica whose received set went
 * backwards during a failover still had those transactions. */
void elect_add_received(elect_result_t *e, const observation_t *o);

#endif
