/* topofile.h - the topology file: where to write and where to read, as JSON,
 * for any proxy or script (setting topology_file; docs/routing.md).
 *
 * {"cluster", "primary", "writer", "fallback", "max_read_lag", "updated",
 *  "readers": [{"name","host","port","lag_s"}], "nodes": [... route.h ...]}
 * written whole to PATH.tmp, then renamed over PATH: a reader sees the old
 * file or the new one, never half of one.
 */
#ifndef FAILOVERD_TOPOFILE_H
#define FAILOVERD_TOPOFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"
#include "route.h"

/* The file's JSON object; new reference. */
json_t *topofile_json(const cluster_t *c, const route_settings_t *s, const route_t *r,
                      const char *updated);

/* Writes it atomically. False with a reason in err (the caller reports it). */
bool topofile_write(const char *path, const json_t *doc, char *err, size_t err_len);

#endif
