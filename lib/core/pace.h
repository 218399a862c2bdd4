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

#include <stdint.h>

/* The offset in [0, period_ms) of the task named by key (any text: a node's
 * name and address). The same key always gets the same offset; different
 * keys are spread evenly over the period. 0 for an empty period or no key. */
uint64_t pace_offset_ms(const char *key, uint64_t period_ms);

#endif
