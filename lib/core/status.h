/* status.h - the control protocol's view of a cluster (pure: times are arguments).
 * The shape is documented in docs/protocol.md ("status"). */
#ifndef FAILOVERD_STATUS_H
#define FAILOVERD_STATUS_H

#include <jansson.h>
#include <stdint.h>

#include "model.h"

typedef struct {
    uint64_t now_mono;  /* the loop's monotonic now, ms */
    uint64_t now_wall;  /* wall clock at the same instant, ms since the epoch */
} status_clock_t;

/* One cluster's status object, without the fields only the daemon knows
 * (policy, paused, auto_failover, failover): the caller adds those. New reference. */
json_t *status_cluster_json(const cluster_t *c, const status_clock_t *clk);

#endif
