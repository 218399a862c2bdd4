/* quorum.h - the verdict on a primary from several vantage points (pure: no
 * I/O; time is an argument).
 *
 * When several managers watch one cluster, each publishes an observation
 * record (obsrec.h) and each reads the others'. A manager's view of the
 * primary is a vote:
 *
 *   unreachable  a fresh view: it can't reach the primary, and has not for at
 *                least down_after (one lost probe is not a vote)
 *   unsure       a fresh view: it can't reach the primary, but for less than
 *                down_after
 *   reachable    a fresh view: it reaches the primary
 *   stale        its latest record arrived longer than fresh_ms ago
 *   missing      no record, a record that was rejected (malformed, oversized,
 *                another version, another manager's or cluster's), or one
 *                that says nothing of the primary
 *
 * Freshness is measured on the reader's monotonic clock from when the reader
 * first received that version of the record (quorum_seen_note), never from
 * the publisher's published_at: the managers' clocks need not agree. The
 * local manager's own view is always fresh.
 *
 * The verdict, in this order:
 *   no_primary               there is no primary to judge
 *   reachable                this manager reaches the primary (or failed to
 *                            for less than down_after), whatever the others
 *                            say
 *   dead_confirmed           at least quorum managers vote unreachable
 *   partitioned_from_leader  this manager votes unreachable but more than
 *                            half of the peers with a fresh view reach the
 *                            primary: the manager is cut off, not the primary
 *                            (alert; no failover)
 *   no_quorum_of_observers   fewer than quorum managers have a fresh view
 *   not_confirmed            enough fresh views, too few say unreachable
 * Stale and missing views never count as votes for dead.
 *
 * The quorum is "majority" (floor(N/2)+1 of the N configured managers) or a
 * number from 1 to N; 1 lets this manager's view alone decide (the behaviour
 * of a single manager). The final verdict combines this with the detector's
 * replica confirmation: detect_combine (detect.h). */
#ifndef FAILOVERD_QUORUM_H
#define FAILOVERD_QUORUM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "obsrec.h"

#define QUORUM_MAX_MANAGERS 16

typedef struct {
    unsigned k; /* managers needed; 0: the majority of those configured */
} quorum_rule_t;

/* "majority" or a number from 1 to QUORUM_MAX_MANAGERS; false with err otherwise. */
bool quorum_rule_parse(const char *s, quorum_rule_t *out, char *err, size_t err_len);
/* The rule against the number of managers configured (k at most n). */
bool quorum_rule_check(quorum_rule_t rule, size_t n_managers, char *err, size_t err_len);
/* How many votes it takes: floor(n/2)+1 for majority, else k. */
unsigned quorum_needed(quorum_rule_t rule, size_t n_managers);

/* When each version of a manager's record first arrived. revision is a
 * number that grows with every write of the record (etcd's mod_revision).
 * Returns the time the record's freshness counts from: a copy of a revision
 * already seen (read again, or served by a lagging member) does not make it
 * fresher, nor does an older revision. Times: reader's monotonic ms. */
typedef struct {
    uint64_t revision; /* 0: none yet */
    uint64_t first_seen;
} quorum_seen_t;
uint64_t quorum_seen_note(quorum_seen_t *s, uint64_t revision, uint64_t received_at);

/* One manager's record as this manager received it. */
typedef struct {
    const char *manager;   /* the id its key names */
    const obsrec_t *rec;   /* decoded; NULL when it was rejected */
    const char *rejected;  /* why, when rec is NULL */
    uint64_t received_at;  /* what quorum_seen_note returned (reader's monotonic ms) */
} quorum_obs_t;

/* This manager's own view of the primary, now. */
typedef struct {
    bool probed;           /* false before its first probe of the primary */
    bool reachable;        /* its latest probe succeeded */
    uint64_t unreached_ms; /* for how long it has not reached it (0 while reachable) */
    obs_err_t error;       /* why, when not reachable */
    const char *zone;
} quorum_self_t;

typedef struct {
    const char *const *managers; /* the configured manager ids, this one included */
    size_t n_managers;
    const char *self;            /* this manager's id */
    quorum_rule_t rule;
    uint64_t fresh_ms;           /* a record older than this is stale */
    uint64_t down_after;         /* an unreachable view counts once it lasted this long */
    const char *cluster;         /* a record about another cluster is no vote */
    const char *primary;         /* the primary's node name; NULL none */
    quorum_self_t self_view;
    const quorum_obs_t *obs;     /* the received records, in any order */
    size_t n_obs;
} quorum_input_t;

typedef enum { VOTE_UNREACHABLE, VOTE_UNSURE, VOTE_REACHABLE, VOTE_STALE, VOTE_MISSING } vote_t;
#define VOTE_KINDS 5
const char *vote_str(vote_t v);

typedef struct {
    char manager[OBSREC_ID_MAX + 1];
    char zone[OBSREC_ID_MAX + 1];
    bool self;
    vote_t vote;
    int64_t age_ms;   /* since its record arrived; 0 for this manager; -1 no record */
    int64_t state_ms; /* how long it had (not) reached the primary; -1 unknown */
    char why[OBSREC_ERR_SIZE + 96];
} quorum_vote_t;

typedef struct {
    quorum_verdict_t verdict;
    char primary[OBSREC_NAME_MAX + 1];
    unsigned needed;
    size_t n_managers;
    unsigned count[VOTE_KINDS]; /* votes of each kind */
    quorum_vote_t votes[QUORUM_MAX_MANAGERS]; /* in the configured order */
    size_t n_votes; /* 0: no verdict (a manager on its own) */
    char why[512];
} quorum_result_t;

/* Counts the votes and reaches the verdict at time now (reader's monotonic
 * ms). false with err when the input itself is wrong (no managers, too many,
 * this manager or an id listed twice or not at all, a quorum above N). */
bool quorum_evaluate(const quorum_input_t *in, uint64_t now, quorum_result_t *out, char *err,
                     size_t err_len);

/* The result as status shows it (docs/ha.md): new reference. */
json_t *quorum_json(const quorum_result_t *r);

#endif
