/* wiring.h - from the configuration to the hook and webhook machinery. */
#ifndef FAILOVERD_WIRING_H
#define FAILOVERD_WIRING_H

#include <uv.h>

#include "config.h"
#include "hooks.h"
#include "webhook.h"

/* The script hooks and plugins of one cluster, subscribed to its events; NULL
 * with err ("cluster X: plugin Y: ...") when a plugin can't be loaded. */
hooks_t *wiring_cluster_hooks(uv_loop_t *loop, const fo_cluster_cfg_t *cc, char *err,
                              size_t err_len);

/* Replaces w's endpoints with every cluster's webhooks. */
bool wiring_webhooks(webhooks_t *w, const fo_config_t *cfg, char *err, size_t err_len);

#endif
