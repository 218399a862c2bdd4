/* detect.h - failure detection of a cluster's primary (pure: no I/O, no clock).
 *
 * The detector turns what the probes saw into a verdict on the primary:
 *
 *   healthy      the manager reaches the primary, or it has failed for less
 *                than down_after (one lost probe is not a failure).
 *   suspect      the manager has not reached the primary for down_after, or
 *                twice in a row and its host refused the connect (no
 *                server listens: primary_refused); the replicas are being
 *                asked (probed at once) whether they still hear it.
 *   unreachable  the manager can't reach the primary, but at least one reachable
 *                replica still receives from it (or no replica can be asked).
 *                Alert; never fail over: the primary is alive for its clients.
 *   dead         the manager can't reach the primary AND every reachable replica
 *                that follows it has lost it too: its IO thread is not running or
 *                is reconnecting, or it reports a connection error, or it has
 *                received nothing (no event, no heartbeat) for its confirm
 *                time: replica_confirm, or less when the replica's heartbeat
 *                period is known (detect_confirm_ms).
 *                A replica that received something after the suspicion began
 *                still hears the primary. How long a replica has received
 *                nothing is what it says itself where it can (silent_ms, on
 *                its own clock), else the time since a probe of the manager
 *                saw its counters move (heard_at; never more than the real
 *                silence, but up to a probe interval less).
 *
 * Only replica observations taken after the suspicion began count as answers;
 * until every reachable replica has answered, the verdict stays suspect. While
 * the loop guard reports a stall or clock jump (stalled_until in the future),
 * the detector keeps observing but never escalates to dead.
 */
#ifndef FAILOVERD_DETECT_H
#define FAILOVERD_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { VERDICT_HEALTHY, VERDICT_SUSPECT, VERDICT_UNREACHABLE, VERDICT_DEAD } verdict_t;

typedef enum { IO_UNKNOWN, IO_NO, IO_CONNECTING, IO_YES } io_state_t;

typedef struct {
    uint64_t down_after;      /* ms the primary must fail before it is suspect */
    uint64_t replica_confirm; /* ms of silence that makes a replica confirm */
} detect_params_t;

/* What the detector needs to know of one replica of the primary. */
typedef struct {
    const char *name;
    bool reachable;        /* its latest probe succeeded */
    uint64_t observed_at;  /* when its latest probe finished (success or failure) */
    bool follows_primary;  /* its replication source is the cluster's primary */
    io_state_t io;         /* IO (receiver) thread state */
    unsigned last_io_errno;
    uint64_t heard_at;     /* last time its received events/heartbeats were seen to change */
    uint64_t heartbeat_ms; /* its heartbeat period; 0 unknown or off */
    /* How long it had received nothing (no event, no heartbeat) when its
     * latest probe read it, measured by the replica on its own clock; only
     * when silent_known (MySQL). Then it is the evidence instead of
     * heard_at: exact where heard_at lags the receipt by up to a probe
     * interval. */
    bool silent_known;
    uint64_t silent_ms;
} detect_replica_t;

/* A live primary sends a replica a heartbeat whenever it has sent nothing for
 * the replica's heartbeat period. A replica whose period is known confirms the
 * loss after DETECT_HEARTBEATS_MISSED periods of silence, but never after less
 * than DETECT_CONFIRM_MIN_MS (scheduling jitter on a busy host) nor more than
 * replica_confirm (the bound for replicas whose period is unknown or off). */
#define DETECT_HEARTBEATS_MISSED 3
#define DETECT_CONFIRM_MIN_MS 750
uint64_t detect_confirm_ms(const detect_replica_t *r, const detect_params_t *p);

typedef struct {
    bool primary_ok;            /* the latest probe of the primary succeeded */
    /* Since when the manager has not reached the primary (node_unreached_since
     * in model.h); 0 while it answers. */
    uint64_t primary_fail_since;
    const detect_replica_t *replicas;
    size_t n_replicas;
    uint64_t stalled_until;     /* no escalation to dead before this time */
    /* The latest two probes of the primary failed, the latest with a
     * refused connect: its host is up and says nothing listens on the port.
     * That is suspect at once, without waiting for down_after; dead still
     * needs the replicas' word. */
    bool primary_refused;
} detect_input_t;

/* The detector's memory between evaluations, kept per cluster. */
typedef struct {
    verdict_t verdict;
    uint64_t since;      /* when the current verdict began */
    uint64_t suspect_at; /* when the current suspicion began (0: none) */
} detect_state_t;

/* Evaluates the inputs at time now; updates *st and returns the verdict.
 * why (may be NULL) receives one sentence explaining it. */
verdict_t detect_step(detect_state_t *st, const detect_input_t *in, const detect_params_t *p,
                      uint64_t now, char *why, size_t why_len);

const char *verdict_str(verdict_t v);
const char *io_state_str(io_state_t s);
/* Maps a replica status column ("Yes", "No", "Connecting", "Preparing" ...) to an io_state_t. */
io_state_t io_state_parse(const char *s);



/* The loop guard: a timer ticks every interval; if a tick comes late by more
 * than threshold (the process was stopped, the VM paused, the loop blocked) or
 * the wall clock moved differently from the monotonic clock by more than
 * threshold (a clock jump), the detector must observe without acting until
 * stalled_until = now + grace. */
typedef struct {
    uint64_t last_mono; /* 0 before the first tick */
    uint64_t last_wall;
    uint64_t stalled_until;
    uint64_t last_stall_ms; /* how late the last stall was */
} guard_t;

/* Returns true when this tick reveals a stall or jump. Times in ms. */
bool guard_tick(guard_t *g, uint64_t mono, uint64_t wall, uint64_t interval, uint64_t threshold,
                uint64_t grace);

/* The verdict of several managers on the primary (quorum.h computes it from
 * their observation records; docs/ha.md, "The verdict from several vantage
 * points"). */
typedef enum {
    QUORUM_NO_PRIMARY,       /* no primary to judge */
    QUORUM_REACHABLE,        /* this manager reaches the primary */
    QUORUM_NOT_CONFIRMED,    /* enough fresh views, but fewer than quorum say unreachable */
    QUORUM_NO_OBSERVERS,     /* fewer than quorum managers have a fresh view */
    QUORUM_PARTITIONED,      /* this manager can't reach it; most fresh peers can */
    QUORUM_DEAD_CONFIRMED,   /* at least quorum fresh views say unreachable */
} quorum_verdict_t;
#define QUORUM_VERDICTS 6

/* "no_primary", "reachable", "not_confirmed", "no_quorum_of_observers",
 * "partitioned_from_leader", "dead_confirmed". */
const char *quorum_verdict_str(quorum_verdict_t q);

/* The final verdict when several managers watch the cluster: the detector's
 * own (replica confirmation, from this manager's probes) and the managers'
 * quorum must both say the primary is gone for it to be dead. Otherwise:
 * partitioned from the primary while peers see it is unreachable (alert, no
 * failover); anything short of a confirmation is suspect (keep observing);
 * a detector verdict short of dead stands as it is. why (may be NULL)
 * receives one sentence when the quorum changed the detector's verdict. */
verdict_t detect_combine(verdict_t local, quorum_verdict_t q, char *why, size_t why_len);

#endif
