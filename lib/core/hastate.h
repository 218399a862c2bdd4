/* hastate.h - the state of a cluster that the managers share through etcd
 * (docs/ha.md, "The shared state"): pure encoding and decoding, no I/O, no
 * clock.
 *
 * The leader writes it under <prefix><cluster>/state whenever it changes
 * (pause, resume, ack, a hold entered, an operation ended); a new leader
 * adopts it before it acts, and followers show it. One JSON object:
 *   {"v": 1, "cluster",
 *    "paused": bool, "paused_by", "paused_at_ms",          (who paused, when)
 *    "held": {"reason", "by", "at_ms"} or null,            (held until ack)
 *    "last_failover": {"op", "ended_ms", "old_primary", "new_primary",
 *                      "acked": bool} or null,
 *    "written_ms", "term", "manager"}                       (the writer)
 * Times are wall clock, ms since the epoch: the failover_block window of a
 * new leader counts from last_failover.ended_ms, so the managers' clocks are
 * assumed to agree to well within failover_block (NTP).
 *
 * A reader decodes it once, where it arrives, and rejects it as a whole when
 * it is not a JSON object, of another version, or has a member of the wrong
 * type or out of range; members this version does not know are ignored. */
#ifndef FAILOVERD_HASTATE_H
#define FAILOVERD_HASTATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASTATE_VERSION 1
/* A state record larger than this is refused (it is a few hundred bytes). */
#define HASTATE_MAX_BYTES 16384

typedef struct {
    char *cluster;
    bool paused;
    char *paused_by;       /* who paused it ("uid 0 on fo-a"), or NULL */
    uint64_t paused_at_ms; /* 0: not known */
    char *held;            /* held until `failoverctl ack`: why; NULL: not held */
    char *held_by;         /* the manager that held it first, or NULL */
    uint64_t held_at_ms;
    bool has_last;         /* the last failover that completed: */
    char *last_op;
    uint64_t last_ended_ms;
    char *last_old, *last_new; /* may be NULL */
    bool last_acked;
    /* The writer. */
    uint64_t written_ms;
    int64_t term;
    char *manager;
} hastate_t;

/* The record as JSON (a new reference). */
json_t *hastate_to_json(const hastate_t *s);
/* Decodes text; false with why (one sentence) when it is rejected, and *s is
 * then empty. *s is overwritten either way: hastate_free it. */
bool hastate_parse(const char *text, hastate_t *s, char *why, size_t len);
void hastate_free(hastate_t *s);
/* A deep copy of s into d. */
void hastate_copy(hastate_t *d, const hastate_t *s);
/* The end of the failover_block window of s's last failover (wall ms), 0
 * when nothing is blocked by it (none, or acknowledged). */
uint64_t hastate_blocked_until(const hastate_t *s, uint64_t block_ms);

#endif
