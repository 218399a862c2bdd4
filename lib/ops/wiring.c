/* wiring.c - see wiring.h. */
#include "wiring.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

/* The configuration's hook points are the plugin ABI's: names.c asserts it
 * point by point, so cmd[] is copied by index. */

/* The cluster's nodes as the plugin ABI sees them; freed with free_nodes(). */
static failoverd_node_t *abi_nodes(const fo_cluster_cfg_t *cc)
{
    failoverd_node_t *nodes = xcalloc(cc->n_nodes, sizeof *nodes);
    for (size_t i = 0; i < cc->n_nodes; i++) {
        const fo_node_cfg_t *n = &cc->nodes[i];
        failoverd_kv_t *vars = xcalloc(n->vars.n + 1, sizeof *vars);
        for (size_t k = 0; k < n->vars.n; k++)
            vars[k] = (failoverd_kv_t){.key = n->vars.items[k].key, .value = n->vars.items[k].value};
        nodes[i] = (failoverd_node_t){.name = n->name, .host = n->host, .port = n->port,
                                      .vars = vars, .n_vars = n->vars.n};
    }
    return nodes;
}

static void free_nodes(failoverd_node_t *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)nodes[i].vars);
    free(nodes);
}

hooks_t *wiring_cluster_hooks(uv_loop_t *loop, const fo_cluster_cfg_t *cc, char *err,
                              size_t err_len)
{
    failoverd_node_t *nodes = abi_nodes(cc);
    hooks_settings_t hs = {.cluster = cc->name, .policy = policy_str(cc->policy),
                           .timeout_ms = cc->hooks.timeout_ms, .nodes = nodes,
                           .n_nodes = cc->n_nodes};
    for (int p = 0; p < FAILOVERD_HOOK__COUNT; p++)
        hs.cmd[p] = cc->hooks.cmd[p];
    char why[512];
    hooks_t *h = hooks_create(loop, &hs, why, sizeof why);
    if (!h) {
        snprintf(err, err_len, "cluster %s: hooks: %s", cc->name, why);
        free_nodes(nodes, cc->n_nodes);
        return NULL;
    }
    for (size_t i = 0; i < cc->n_plugins; i++) {
        const fo_plugin_cfg_t *pc = &cc->plugins[i];
        failoverd_kv_t *kv = xcalloc(pc->config.n + 1, sizeof *kv);
        for (size_t k = 0; k < pc->config.n; k++)
            kv[k] = (failoverd_kv_t){.key = pc->config.items[k].key,
                                     .value = pc->config.items[k].value};
        plugin_opts_t po = {.path = pc->path, .cluster = cc->name, .config = kv,
                            .n_config = pc->config.n, .nodes = nodes, .n_nodes = cc->n_nodes,
                            .spawn_timeout_ms = cc->hooks.timeout_ms};
        plugin_t *p = plugin_load(loop, &po, why, sizeof why);
        free(kv);
        if (!p) {
            snprintf(err, err_len, "%s:%u: cluster %s: %s", pc->src.file, pc->src.line, cc->name,
                     why);
            hooks_close(h, NULL, NULL);
            free_nodes(nodes, cc->n_nodes);
            return NULL;
        }
        hooks_add_plugin(h, p);
    }
    free_nodes(nodes, cc->n_nodes);
    hooks_subscribe(h);
    return h;
}

bool wiring_webhooks(webhooks_t *w, const fo_config_t *cfg, char *err, size_t err_len)
{
    webhooks_clear(w);
    for (size_t c = 0; c < cfg->n_clusters; c++) {
        const fo_cluster_cfg_t *cc = &cfg->clusters[c];
        for (size_t i = 0; i < cc->n_webhooks; i++) {
            const fo_webhook_cfg_t *wc = &cc->webhooks[i];
            webhook_endpoint_t e = {.cluster = cc->name, .url = wc->url,
                                    .format = wc->format == FO_WEBHOOK_SLACK ? WEBHOOK_SLACK
                                                                              : WEBHOOK_JSON,
                                    .timeout_ms = wc->timeout_ms, .retries = wc->retries,
                                    .events = (const char *const *)wc->events.items,
                                    .n_events = wc->events.n};
            char why[512];
            if (!webhooks_add(w, &e, why, sizeof why)) {
                snprintf(err, err_len, "%s:%u: cluster %s: webhook: %s", wc->src.file,
                         wc->src.line, cc->name, why);
                return false;
            }
        }
    }
    return true;
}
