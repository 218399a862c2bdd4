/* pace.h - where in its period a periodic task of many starts.
 *
 * A daemon probing many nodes at the same interval would, if every probe
 * started at once, send all its queries in one burst every interval and read
 * all the answers in one long turn of the loop: the servers (often several
 * nodes on one host) answer the last of the burst late, and the loop's own
 * timers fire late, so probes time out that a spread load answers at once.
 * Each probe instead starts at its own offset within its first interval,
 * derived from what it probes; the interval, measured from each start, keeps
 * the offsets apart from then on.
 *
 * Pure: no clock, no I/O. */
#ifndef FAILOVERD_PACE_H
#define FAILOVERD_PACE_H

#include <stdbool.h>
#include <stdint.h>

/* The offset in [0, period_ms) of the task named by key (any text: a node's
 * name and address). The same key always gets the same offset; different
 * keys are spread evenly over the period. 0 for an empty period or no key. */
uint64_t pace_offset_ms(const char *key, uint64_t period_ms);

/* A probe that ran out of time: was it the server, or the daemon's wait for
 * the CPU? A deadline that passed while the loop waited is no evidence that
 * the server is slow, so such a timeout is looked at again - once, at once,
 * with the full budget - before it counts. It was the wait when the cycle
 * took more than a tenth of a timeout beyond its bound (the loop came late:
 * on a machine that stalls, the servers on it stall with the loop, and their
 * answers are not in yet when the loop's late timer fires), when
 * its query was sent with less than half the budget left (getting there used
 * the rest), or when the daemon's loop guard had seen a stall (the
 * loop_stall grace runs: the loop and the machine were held up). A server
 * that is really silent times out the second time as well. */
typedef struct {
    uint64_t took_ms;         /* from the cycle's start to the timeout */
    uint64_t timeout_ms;      /* the probe's bound */
    uint64_t query_budget_ms; /* what its query was given; 0: it never got to one */
    bool stalled;             /* the loop guard's stall grace runs */
    bool looked_again;        /* this cycle already started over once */
} pace_timeout_t;

typedef enum {
    PACE_TIMEOUT_COUNTS,  /* the server's: a failure */
    PACE_AGAIN_LATE,      /* look again: the loop came late */
    PACE_AGAIN_STARVED,   /* look again: the query got what was left of the budget */
    PACE_AGAIN_STALLED,   /* look again: the loop guard saw a stall */
} pace_judgement_t;

pace_judgement_t pace_judge_timeout(const pace_timeout_t *t);

#endif
