/* probe.h - asynchronous probing of one node on the loop.
 *
 * A probe keeps one connection open to its node and, every interval, runs one
 * round trip that gathers the node's state and replication status into an
 * observation. Each probe is bounded by the timeout; a failed connection is
 * re-established with exponential backoff (interval doubling up to
 * backoff_max). Nothing blocks the loop: the connection runs on Connector/C's
 * non-blocking API.
 */
#ifndef FAILOVERD_PROBE_H
#define FAILOVERD_PROBE_H

#include <uv.h>

#include "model.h"

typedef struct probe probe_t;

typedef struct {
    const char *name;     /* for log lines */
    const char *host;
    unsigned port;
    const char *user;
    const char *password;
    uint64_t interval_ms;
    uint64_t timeout_ms;
    uint64_t backoff_max_ms;
    const struct tls_cfg *tls; /* copied; NULL: disabled */
    /* The loop guard's end of stall grace (uv_now ms; the daemon's, outlives
     * the probe); NULL: none. A timeout while it runs is looked at again. */
    const uint64_t *stalled_until;
} probe_target_t;

/* Called with every finished probe; the callee owns *obs (move it). */
typedef void (*probe_cb)(probe_t *p, observation_t *obs, void *ud);

probe_t *probe_create(uv_loop_t *loop, const probe_target_t *t, probe_cb cb, void *ud);
/* Starts probing: the first cycle at the probe's own offset within its
 * interval (pace.h), the next ones every interval from there. */
void probe_start(probe_t *p);
/* Probe as soon as possible: now, or right after the probe in flight. Skips any backoff. */
void probe_now(probe_t *p);
/* While interval_ms is not 0, cycles start at least that often, failed or
 * not (the replicas of a suspect primary are asked often, so that their
 * silence is measured finely); 0 goes back to the usual interval. */
void probe_set_quick(probe_t *p, uint64_t interval_ms);
/* Whether failed probes back off (the default) or go on every interval: a node
 * that may come back writable is looked at again within one interval. */
void probe_set_backoff(probe_t *p, bool on);
/* The next probe reads the account's grants again (SHOW GRANTS). */
void probe_check_grants(probe_t *p);
/* Stops probing (no more callbacks) and frees the probe once its handles are
 * closed; then calls closed(ud) if given. */
void probe_close(probe_t *p, void (*closed)(void *ud), void *ud);

#endif
