/* router.h - the read/write routing of one cluster on the loop: the view of
 * route.h recomputed after every probe, each change a routing_changed event,
 * and the topology file (topofile.h) kept up to date. Thin glue, owned by the
 * cluster's monitor.
 */
#ifndef FAILOVERD_ROUTER_H
#define FAILOVERD_ROUTER_H

#include <stdint.h>

#include "model.h"
#include "route.h"

typedef struct router router_t;

router_t *router_create(const char *cluster);
void router_free(router_t *r);

/* New settings (a reload): the next update states the view anew. */
void router_set(router_t *r, const route_settings_t *rs, const char *topology_file);

/* Recomputes the view from the cluster as observed now (monotonic ms); emits
 * routing_changed when it changed and rewrites the topology file when its
 * content changed (lag figures alone at most once a second). */
void router_update(router_t *r, const cluster_t *c, uint64_t now);

/* The latest view, or NULL before the first; *rs (may be NULL) gets the settings. */
const route_t *router_view(const router_t *r, route_settings_t *rs);

#endif
