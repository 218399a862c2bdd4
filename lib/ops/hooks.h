/* hooks.h - script hooks and plugins at the hook points of one cluster.
 *
 * A hooks_t holds what one cluster runs at each hook point: at most one script
 * per point (clusters[].hooks) and any number of plugins (clusters[].plugins).
 * hooks_run_point() runs everything registered for a point in parallel, each
 * bounded by the hook timeout, and reports once with the combined outcome; the
 * executor calls it at the hook steps of its plans (pre_failover, fence,
 * post_promotion, post_failover, switchover_before, switchover_after) and
 * waits for it.
 *
 * The other points are fed by events (see hooks_point_of_event and
 * docs/events.md): after hooks_subscribe(), an event of the cluster that maps to
 * a point (node_down -> node_down, primary_dead -> detection, failover_aborted
 * -> failover_failed ...) runs that point without anyone waiting: fire and
 * forget, one run after the other in event order, so that a node_up script
 * never overtakes the node_down script of the same flap.
 *
 * Scripts get the context in FAILOVERD_* environment variables (and the event
 * JSON on standard input); see docs/hooks.md.  Nothing here blocks the loop.
 *
 * From the configuration: one hooks_t per cluster, cmd[p] = hooks.cmd[p] (the
 * FO_HOOK_* and FAILOVERD_HOOK_* numbers are the same), timeout_ms =
 * hooks.timeout_ms, nodes from the cluster's nodes; each clusters[].plugins[]
 * entry loaded with plugin_load() and handed over with hooks_add_plugin().
 */
#ifndef FAILOVERD_HOOKS_H
#define FAILOVERD_HOOKS_H

#include <failoverd/plugin.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "event.h"
#include "outcome.h"
#include "plugin.h"

#define HOOKS_DEFAULT_TIMEOUT_MS 10000
/* Event-fed runs waiting behind a slow one, per cluster; the oldest is dropped
 * (and logged) beyond this. */
#define HOOKS_EVENT_QUEUE_MAX 64
/* FAILOVERD_EVENT_JSON is left empty for a larger event (it is on stdin). */
#define HOOKS_ENV_JSON_MAX (64 * 1024)

/* "pre_failover" ... (the names of the configuration, events and docs). */
const char *hooks_point_name(failoverd_hook_point_t p);
bool hooks_point_parse(const char *name, failoverd_hook_point_t *out);
/* pre_failover and switchover_before: a non-zero exit there vetoes. */
bool hooks_point_may_veto(failoverd_hook_point_t p);
/* The point an event feeds, or -1 when it feeds none.  Points the executor
 * runs as plan steps are never fed by events. */
int hooks_point_of_event(const char *event_name);


const char *hooks_outcome_str(hooks_outcome_t o);

/* How one script or plugin call ended. */
typedef struct {
    const char *who; /* "script /usr/local/bin/vip-move" or "plugin vip" */
    hooks_outcome_t outcome;
    int exit_code; /* scripts that exited; else -1 */
    uint64_t elapsed_ms;
    const char *detail; /* "exited with status 1", a plugin's message ... */
    const char *out;    /* a script's captured stdout / stderr (bounded); "" for plugins */
    size_t out_len;
    const char *err;
    size_t err_len;
} hooks_result_t;

/* Everything that ran at one point. */
typedef struct {
    failoverd_hook_point_t point;
    hooks_outcome_t outcome; /* HOOKS_VETOED if anything vetoed, else HOOKS_FAILED if anything
                               did not succeed, else HOOKS_OK (also when nothing ran) */
    size_t n_vetoed;
    size_t n_failed;               /* FAILED, TIMEOUT and CHILD_ERROR */
    const hooks_result_t *results; /* in order: the script first, then plugins in load order */
    size_t n_results;
    uint64_t elapsed_ms;
} hooks_report_t;

/* Why one result did not succeed, for an operator: "who: detail", then for a
 * script the last non-empty line of its standard error (a veto's reason),
 * control characters replaced, at most 200 bytes of it; in out (len bytes). */
void hooks_result_reason(const hooks_result_t *r, char *out, size_t len);

/* r is valid during the call only. */
typedef void (*hooks_done_cb)(const hooks_report_t *r, void *ud);

typedef struct {
    const char *cluster;
    const char *policy; /* the cluster's policy, for contexts that do not say */
    /* One command line per point ("" or NULL: none): an absolute path, then
     * arguments separated by spaces; no shell, no quoting. */
    const char *cmd[FAILOVERD_HOOK__COUNT];
    uint64_t timeout_ms;    /* each script and plugin call; 0: HOOKS_DEFAULT_TIMEOUT_MS */
    uint64_t kill_grace_ms; /* SIGTERM to SIGKILL of a timed-out script; 0: 2 s */
    size_t output_max;      /* bytes kept of a script's stdout and of its stderr; 0: 16 KiB */
    /* The cluster's nodes, to fill in host and port of nodes a context names. */
    const failoverd_node_t *nodes;
    size_t n_nodes;
} hooks_settings_t;

typedef struct hooks hooks_t;

/* NULL with err filled when a command is not an absolute path.  A command that
 * does not exist (yet) is only a warning: it fails when it runs. */
hooks_t *hooks_create(uv_loop_t *loop, const hooks_settings_t *s, char *err, size_t err_len);

/* Adds a loaded plugin; h owns it from now on and unloads it in hooks_close(). */
void hooks_add_plugin(hooks_t *h, plugin_t *p);

/* Runs the script and every plugin registered for point, in parallel, with a
 * copy of ctx (NULL strings count as ""; ctx->point, ->hook and ->cluster are
 * set here; a NULL event_json is made from the other fields; hosts and ports of
 * named nodes are filled in from the settings).  cb (may be NULL) is called once,
 * never from within this call.  Each result is logged, with the output. */
void hooks_run_point(hooks_t *h, failoverd_hook_point_t point, const failoverd_context_t *ctx,
                     hooks_done_cb cb, void *ud);

/* Feeds the event-driven points from the cluster's events (see above). */
void hooks_subscribe(hooks_t *h);
/* When several managers coordinate (coord.h): event-driven hook runs happen
 * only while may_run(ud) is true (this manager leads). NULL: always. */
void hooks_set_event_gate(bool (*may_run)(void *ud), void *ud);

/* Runs or queues the point an event feeds; what the subscription does for each
 * event of the cluster.  Returns false when the event feeds no point here. */
bool hooks_feed_event(hooks_t *h, const event_t *ev);

/* Stops taking events, waits for the runs in progress (each is bounded), unloads
 * the plugins, frees h and calls done(ud). */
void hooks_close(hooks_t *h, void (*done)(void *ud), void *ud);

/* A holder (an operation in flight) keeps h usable until it releases it: a
 * hooks_close() meanwhile stops the event-fed runs at once, but the holder's
 * hooks_run_point() calls still run, and h is freed only after the last
 * release.  A reload replaces a cluster's hooks while a failover runs; the
 * failover goes on with the hooks it started with. */
void hooks_hold(hooks_t *h);
void hooks_release(hooks_t *h);

/* The context of an event (the event name, its node, the fields of its data that
 * name nodes, GTIDs, timings ...); free with plugin_ctx_free(). */
failoverd_context_t *hooks_ctx_from_event(const event_t *ev, failoverd_hook_point_t point,
                                          const char *default_policy);

/* The FAILOVERD_* environment of a script, "NAME=value" strings in out (a
 * NULL-terminated vector the caller frees with child_argv_free). */
char **hooks_env(const failoverd_context_t *ctx);

/* The JSON of a context that came from the executor rather than from an event
 * (redacted, as every context that leaves the daemon); the caller frees it. */
char *hooks_ctx_json(const failoverd_context_t *c);

#endif
