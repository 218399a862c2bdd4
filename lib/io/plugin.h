/* plugin.h - loads hook plugins (include/failoverd/plugin.h) and calls them.
 *
 * plugin_load() opens the shared object, checks its descriptor and ABI version
 * and runs its init(); anything wrong is one clear sentence in err, so that a
 * configuration load or reload can refuse the file.  plugin_call() hands the
 * plugin one hook point and reports how it ended, bounded by a timeout (the
 * plugin is not interrupted: its late answer is logged and dropped).
 * plugin_unload() waits until the plugin's calls and commands have ended, then
 * runs fini() and closes the object.
 *
 * The host services a plugin gets (log, spawn, after, done, now_ms) are
 * implemented here, on the loop given to plugin_load().
 */
#ifndef FAILOVERD_LIB_PLUGIN_H
#define FAILOVERD_LIB_PLUGIN_H

#include <failoverd/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"

typedef struct plugin plugin_t;

typedef struct {
    const char *path;      /* as configured; relative: in plugindir */
    const char *plugindir; /* NULL: FAILOVERD_PLUGINDIR */
    const char *cluster;
    const failoverd_kv_t *config; /* the plugin's settings */
    size_t n_config;
    const failoverd_node_t *nodes; /* the cluster's nodes, with their vars */
    size_t n_nodes;
    uint64_t spawn_timeout_ms; /* for host->spawn() without a timeout; 0: 10 s */
    uint64_t kill_grace_ms;    /* 0: CHILD_DEFAULT_KILL_GRACE_MS */
    size_t output_max;         /* 0: CHILD_DEFAULT_OUTPUT_MAX */
} plugin_opts_t;

/* The path plugin_load() opens: path itself when absolute, else plugindir/path. */
void plugin_resolve_path(const char *path, const char *plugindir, buf_t *out);

/* Loads and initialises one plugin instance.  NULL with err filled when the file
 * cannot be opened, has no descriptor, speaks another ABI version, has an
 * incomplete descriptor, or its init() fails. */
plugin_t *plugin_load(uv_loop_t *loop, const plugin_opts_t *o, char *err, size_t err_len);

const char *plugin_name(const plugin_t *p);
const char *plugin_file(const plugin_t *p); /* the resolved path */
/* Whether the plugin asked for this hook point. */
bool plugin_handles(const plugin_t *p, failoverd_hook_point_t point);

typedef struct {
    failoverd_outcome_t outcome;
    bool timed_out;      /* no answer within the timeout (outcome is then FAILED) */
    const char *message; /* the plugin's words, or "" */
    uint64_t elapsed_ms;
} plugin_result_t;

typedef void (*plugin_call_cb)(const plugin_result_t *r, void *ud);

/* Calls the plugin's on_event() with a copy of ctx.  cb is called once: when the
 * plugin calls done() (possibly before plugin_call returns) or when timeout_ms
 * passes first (0: no bound).  Must not be called after plugin_unload(). */
void plugin_call(plugin_t *p, const failoverd_context_t *ctx, uint64_t timeout_ms,
                 plugin_call_cb cb, void *ud);

/* Stops taking calls; once every call has been answered and every spawned
 * command has ended, runs fini(), closes the object, frees p and calls done(ud). */
void plugin_unload(plugin_t *p, void (*done)(void *ud), void *ud);

/* A deep copy of a context, with NULL strings turned into "" and size set;
 * free it with plugin_ctx_free(). */
failoverd_context_t *plugin_ctx_dup(const failoverd_context_t *ctx);
void plugin_ctx_free(failoverd_context_t *ctx);

#endif
