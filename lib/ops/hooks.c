/* hooks.c - see hooks.h. */
#include "hooks.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "child.h"
#include "names.h"

/* ---- names and the event map ---------------------------------------------- */

/* The names, the veto points and which events feed which points are the
 * registry's (names.h); the numbers of fo_hook_point_t are the ABI's. */
const char *hooks_point_name(failoverd_hook_point_t p)
{
    const fo_hook_info_t *h = fo_hook_info((int)p);
    return h ? h->name : "?";
}

bool hooks_point_parse(const char *name, failoverd_hook_point_t *out)
{
    fo_hook_point_t p = fo_hook_by_name(name);
    if (p == FO_HOOK_NONE)
        return false;
    *out = (failoverd_hook_point_t)p;
    return true;
}

bool hooks_point_may_veto(failoverd_hook_point_t p)
{
    const fo_hook_info_t *h = fo_hook_info((int)p);
    return h && h->veto;
}

/* Which events feed which points is the hook column of the event registry.  The
 * rules it follows:
 * - a point the executor runs as a step of its plans (pre_failover, fence,
 *   post_promotion, post_failover, switchover_before, switchover_after after
 *   a switchover that succeeded) is fed by no event, so nothing runs twice;
 * - detection runs when the detector declares the primary dead, not on
 *   suspicion or when it is merely unreachable (its replicas still hear it);
 * - a failover that failed or was aborted feeds failover_failed;
 * - a switchover that failed or was rolled back feeds switchover_after (the
 *   plan, which stopped early, did not run it), so that point runs at the end
 *   of every switchover and FAILOVERD_EVENT tells how it ended. */
int hooks_point_of_event(const char *event_name)
{
    return (int)fo_event_hook(event_name);
}

const char *hooks_outcome_str(hooks_outcome_t o)
{
    switch (o) {
    case HOOKS_OK: return "ok";
    case HOOKS_VETOED: return "vetoed";
    case HOOKS_FAILED: return "failed";
    case HOOKS_TIMEOUT: return "timeout";
    case HOOKS_SPAWN_ERROR: return "spawn_error";
    }
    return "?";
}

/* ---- the hooks of one cluster ------------------------------------------- */

typedef struct run run_t;

typedef struct {
    run_t *run;
    hooks_result_t r;
    char *who, *detail, *out, *err;
    bool finished;
} item_t;

struct run {
    hooks_t *h;
    failoverd_hook_point_t point;
    failoverd_context_t *ctx;
    char **env;
    char *input;
    item_t *items;
    size_t n_items;
    size_t pending;
    bool starting, from_event, reported;
    bool noop;        /* runs nothing (a refused request), only answers */
    uv_timer_t timer; /* starts the run on the next loop turn; its close frees the run */
    uint64_t started_ms;
    hooks_done_cb cb;
    void *ud;
    run_t *next;
};

typedef struct qitem {
    failoverd_context_t *ctx;
    struct qitem *next;
} qitem_t;

struct hooks {
    uv_loop_t *loop;
    char *cluster;
    char *policy;
    char *cmd[FAILOVERD_HOOK__COUNT];   /* as written, for logs; NULL: none */
    char **argv[FAILOVERD_HOOK__COUNT]; /* split; NULL: none */
    uint64_t timeout_ms, kill_grace_ms;
    size_t output_max;
    failoverd_node_ref_t *nodes;
    size_t n_nodes;
    plugin_t **plugins;
    size_t n_plugins;
    run_t *runs;
    size_t n_runs;
    qitem_t *qhead, *qtail;
    size_t qlen;
    bool event_run_active;
    bool subscribed, closing;
    size_t unloading;
    uv_timer_t close_timer; /* closed last: its close callback frees h */
    void (*close_done)(void *ud);
    void *close_ud;
    hooks_t *next_sub;
    unsigned holds; /* hooks_hold() not yet released: closing waits for them */
};

hooks_t *hooks_create(uv_loop_t *loop, const hooks_settings_t *s, char *err, size_t err_len)
{
    for (int i = 0; i < FAILOVERD_HOOK__COUNT; i++) {
        const char *c = s->cmd[i];
        char **argv = child_split(c);
        if (!argv)
            continue;
        bool absolute = argv[0][0] == '/';
        if (absolute && access(argv[0], X_OK) != 0)
            log_warn("cluster %s: hook %s: %s: %s; it will fail when it runs", s->cluster,
                     hooks_point_name((failoverd_hook_point_t)i), argv[0], strerror(errno));
        child_argv_free(argv);
        if (!absolute) {
            snprintf(err, err_len, "hook %s: \"%s\" is not an absolute path",
                     hooks_point_name((failoverd_hook_point_t)i), c);
            return NULL;
        }
    }
    hooks_t *h = xcalloc(1, sizeof *h);
    h->loop = loop;
    h->cluster = xstrdup(s->cluster ? s->cluster : "");
    h->policy = xstrdup(s->policy ? s->policy : "");
    for (int i = 0; i < FAILOVERD_HOOK__COUNT; i++) {
        h->argv[i] = child_split(s->cmd[i]);
        if (h->argv[i])
            h->cmd[i] = xstrdup(s->cmd[i]);
    }
    h->timeout_ms = s->timeout_ms ? s->timeout_ms : HOOKS_DEFAULT_TIMEOUT_MS;
    h->kill_grace_ms = s->kill_grace_ms;
    h->output_max = s->output_max;
    h->n_nodes = s->n_nodes;
    h->nodes = xcalloc(s->n_nodes ? s->n_nodes : 1, sizeof *h->nodes);
    for (size_t i = 0; i < s->n_nodes; i++)
        h->nodes[i] =
            (failoverd_node_ref_t){.name = xstrdup(s->nodes[i].name ? s->nodes[i].name : ""),
                                   .host = xstrdup(s->nodes[i].host ? s->nodes[i].host : ""),
                                   .port = s->nodes[i].port};
    uv_timer_init(loop, &h->close_timer);
    h->close_timer.data = h;
    return h;
}

void hooks_add_plugin(hooks_t *h, plugin_t *p)
{
    h->plugins = xrealloc(h->plugins, (h->n_plugins + 1) * sizeof *h->plugins);
    h->plugins[h->n_plugins++] = p;
}

/* Fills in host and port of a node known only by name. */
static void resolve(const hooks_t *h, failoverd_node_ref_t *r)
{
    if (!r->name[0] || r->host[0])
        return;
    for (size_t i = 0; i < h->n_nodes; i++)
        if (strcmp(h->nodes[i].name, r->name) == 0) {
            free((char *)r->host);
            r->host = xstrdup(h->nodes[i].host);
            if (!r->port)
                r->port = h->nodes[i].port;
            return;
        }
}

static void set_str(const char **field, const char *value)
{
    free((char *)*field);
    *field = xstrdup(value);
}

static failoverd_context_t *normalize(const hooks_t *h, failoverd_hook_point_t point,
                                      const failoverd_context_t *ctx)
{
    failoverd_context_t *c = plugin_ctx_dup(ctx);
    c->point = point;
    set_str(&c->hook, hooks_point_name(point));
    if (!c->cluster[0])
        set_str(&c->cluster, h->cluster);
    if (!c->policy[0])
        set_str(&c->policy, h->policy);
    resolve(h, &c->node);
    resolve(h, &c->old_primary);
    resolve(h, &c->new_primary);
    resolve(h, &c->candidate);
    if (!c->event_json[0]) {
        char *j = hooks_ctx_json(c);
        set_str(&c->event_json, j);
        free(j);
    }
    return c;
}

static void start_next_event_run(hooks_t *h);
static void maybe_close(hooks_t *h);

static void on_run_closed(uv_handle_t *t)
{
    run_t *run = t->data;
    hooks_t *h = run->h;
    for (run_t **pp = &h->runs; *pp; pp = &(*pp)->next)
        if (*pp == run) {
            *pp = run->next;
            break;
        }
    h->n_runs--;
    for (size_t i = 0; i < run->n_items; i++) {
        item_t *it = &run->items[i];
        free(it->who);
        free(it->detail);
        free(it->out);
        free(it->err);
    }
    free(run->items);
    child_argv_free(run->env);
    free(run->input);
    plugin_ctx_free(run->ctx);
    free(run);
    maybe_close(h);
}

/* Logs a script's output, a line at a time. */
static void log_output(const run_t *run, log_level_t lvl, const item_t *it, const char *stream,
                       const char *text, size_t len, size_t total)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        log_fields(lvl, run->ctx->cluster, NULL, NULL, "hook %s (%s): %s %s: %.*s",
                   run->ctx->hook, run->ctx->event, it->who, stream, (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    if (total > len)
        log_fields(lvl, run->ctx->cluster, NULL, NULL,
                   "hook %s (%s): %s %s: (%zu more bytes not kept)", run->ctx->hook,
                   run->ctx->event, it->who, stream, total - len);
}

/* Logs one result, and reports failures as events so they reach people (a
 * veto is reported by the executor that stops its operation). */
static void report_item(run_t *run, item_t *it, size_t out_total, size_t err_total)
{
    const hooks_result_t *r = &it->r;
    log_level_t lvl = r->outcome == HOOKS_OK ? LOG_LVL_INFO : LOG_LVL_WARN;
    log_fields(lvl, run->ctx->cluster, NULL, NULL, "hook %s (%s): %s %s in %llu ms%s",
               run->ctx->hook, run->ctx->event, it->who, r->detail, (unsigned long long)r->elapsed_ms,
               r->outcome == HOOKS_VETOED ? " (veto)" : "");
    log_output(run, lvl, it, "stdout", r->out, r->out_len, out_total);
    log_output(run, lvl, it, "stderr", r->err, r->err_len, err_total);
    metrics_count_hook(run->ctx->hook, hooks_outcome_str(r->outcome));
    if (r->outcome == HOOKS_OK || r->outcome == HOOKS_VETOED)
        return;
    event_emit(LOG_LVL_WARN, EV_HOOK_FAILED, run->ctx->cluster, NULL,
               json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:s}", "hook", run->ctx->hook,
                         "hook_event", run->ctx->event, "who", it->who, "outcome",
                         hooks_outcome_str(r->outcome), "detail", r->detail, "exit_code",
                         r->exit_code, "elapsed_ms", (json_int_t)r->elapsed_ms, "operation",
                         run->ctx->operation),
               "hook %s: %s %s", run->ctx->hook, it->who, r->detail);
}

static void finish_run(run_t *run)
{
    hooks_t *h = run->h;
    run->reported = true;
    hooks_result_t *results = xcalloc(run->n_items ? run->n_items : 1, sizeof *results);
    hooks_report_t rep = {.point = run->point,
                          .outcome = HOOKS_OK,
                          .results = results,
                          .n_results = run->n_items,
                          .elapsed_ms = uv_now(h->loop) - run->started_ms};
    for (size_t i = 0; i < run->n_items; i++) {
        results[i] = run->items[i].r;
        if (results[i].outcome == HOOKS_VETOED)
            rep.n_vetoed++;
        else if (results[i].outcome != HOOKS_OK)
            rep.n_failed++;
    }
    rep.outcome = rep.n_vetoed ? HOOKS_VETOED : rep.n_failed ? HOOKS_FAILED : HOOKS_OK;
    if (run->n_items)
        log_fields(rep.outcome == HOOKS_OK ? LOG_LVL_DEBUG : LOG_LVL_NOTICE, run->ctx->cluster,
                   NULL, NULL,
                   "hook %s (%s): %s (%zu ran, %zu vetoed, %zu failed) in %llu ms", run->ctx->hook,
                   run->ctx->event, hooks_outcome_str(rep.outcome), run->n_items, rep.n_vetoed, rep.n_failed,
                   (unsigned long long)rep.elapsed_ms);
    if (run->cb)
        run->cb(&rep, run->ud);
    free(results);
    if (run->from_event) {
        h->event_run_active = false;
        start_next_event_run(h);
    }
    uv_close((uv_handle_t *)&run->timer, on_run_closed);
}

static void item_done(item_t *it)
{
    run_t *run = it->run;
    it->finished = true;
    if (--run->pending == 0 && !run->starting)
        finish_run(run);
}

static void on_script_done(const child_result_t *r, void *ud)
{
    item_t *it = ud;
    run_t *run = it->run;
    buf_t how = BUF_INIT;
    child_describe(r, &how);
    switch (r->status) {
    case CHILD_EXITED:
        it->r.outcome = r->exit_code == 0                  ? HOOKS_OK
                        : hooks_point_may_veto(run->point) ? HOOKS_VETOED
                                                           : HOOKS_FAILED;
        it->r.exit_code = r->exit_code;
        break;
    case CHILD_SIGNALED: it->r.outcome = HOOKS_FAILED; break;
    case CHILD_TIMEOUT: it->r.outcome = HOOKS_TIMEOUT; break;
    case CHILD_ERROR: it->r.outcome = HOOKS_SPAWN_ERROR; break;
    }
    it->detail = buf_steal(&how);
    it->out = xstrndup(r->out, r->out_len);
    it->err = xstrndup(r->err, r->err_len);
    it->r.detail = it->detail;
    it->r.out = it->out;
    it->r.out_len = r->out_len;
    it->r.err = it->err;
    it->r.err_len = r->err_len;
    it->r.elapsed_ms = r->elapsed_ms;
    report_item(run, it, r->out_total, r->err_total);
    item_done(it);
}

static void on_plugin_done(const plugin_result_t *r, void *ud)
{
    item_t *it = ud;
    run_t *run = it->run;
    buf_t d = BUF_INIT;
    if (r->timed_out) {
        it->r.outcome = HOOKS_TIMEOUT;
        buf_printf(&d, "did not answer within %llu ms", (unsigned long long)run->h->timeout_ms);
    } else if (r->outcome == FAILOVERD_DONE_OK) {
        it->r.outcome = HOOKS_OK;
        buf_printf(&d, "succeeded%s%s", r->message[0] ? ": " : "", r->message);
    } else if (r->outcome == FAILOVERD_DONE_VETO && hooks_point_may_veto(run->point)) {
        it->r.outcome = HOOKS_VETOED;
        buf_printf(&d, "vetoed%s%s", r->message[0] ? ": " : "", r->message);
    } else {
        it->r.outcome = HOOKS_FAILED;
        buf_printf(&d, "%s%s%s",
                   r->outcome == FAILOVERD_DONE_VETO ? "vetoed where no veto is possible (failed)"
                                                     : "failed",
                   r->message[0] ? ": " : "", r->message);
    }
    it->detail = buf_steal(&d);
    it->r.detail = it->detail;
    it->r.elapsed_ms = r->elapsed_ms;
    report_item(run, it, 0, 0);
    item_done(it);
}

static void on_run_start(uv_timer_t *t)
{
    run_t *run = t->data;
    hooks_t *h = run->h;
    failoverd_hook_point_t pt = run->point;
    run->started_ms = uv_now(h->loop);
    size_t n = 0;
    if (!run->noop) {
        n = h->argv[pt] ? 1 : 0;
        for (size_t i = 0; i < h->n_plugins; i++)
            n += plugin_handles(h->plugins[i], pt);
    }
    run->items = xcalloc(n ? n : 1, sizeof *run->items);
    run->n_items = n;
    run->pending = n;
    run->starting = true;
    size_t k = 0;
    if (h->argv[pt] && !run->noop) {
        item_t *it = &run->items[k++];
        buf_t who = BUF_INIT;
        buf_printf(&who, "script %s", h->argv[pt][0]);
        *it = (item_t){.run = run, .who = buf_steal(&who), .r.exit_code = -1};
        it->r.who = it->who;
        it->r.out = it->r.err = it->r.detail = "";
        run->env = hooks_env(run->ctx);
        size_t len = strlen(run->ctx->event_json);
        run->input = xmalloc(len + 2);
        memcpy(run->input, run->ctx->event_json, len);
        run->input[len] = '\n';
        run->input[len + 1] = '\0';
        child_opts_t o = {.argv = (const char *const *)h->argv[pt],
                          .env = (const char *const *)run->env,
                          .timeout_ms = h->timeout_ms,
                          .kill_grace_ms = h->kill_grace_ms,
                          .output_max = h->output_max,
                          .input = run->input,
                          .input_len = len + 1,
                          .clean_env = true};
        log_fields(LOG_LVL_DEBUG, run->ctx->cluster, NULL, NULL, "hook %s (%s): running %s",
                   run->ctx->hook, run->ctx->event, h->cmd[pt]);
        if (child_start(h->loop, &o, on_script_done, it) != 0) {
            /* Only a relative path is refused here, and hooks_create() rejects those. */
            it->r.outcome = HOOKS_SPAWN_ERROR;
            it->detail = xstrdup("could not start: not an absolute path");
            it->r.detail = it->detail;
            report_item(run, it, 0, 0);
            item_done(it);
        }
    }
    for (size_t i = 0; i < h->n_plugins && !run->noop; i++) {
        if (!plugin_handles(h->plugins[i], pt))
            continue;
        item_t *it = &run->items[k++];
        buf_t who = BUF_INIT;
        buf_printf(&who, "plugin %s", plugin_name(h->plugins[i]));
        *it = (item_t){.run = run, .who = buf_steal(&who), .r.exit_code = -1};
        it->r.who = it->who;
        it->r.out = it->r.err = it->r.detail = "";
        plugin_call(h->plugins[i], run->ctx, h->timeout_ms, on_plugin_done, it);
    }
    run->starting = false;
    if (run->pending == 0)
        finish_run(run);
}

static run_t *new_run(hooks_t *h, failoverd_hook_point_t point, const failoverd_context_t *ctx,
                      hooks_done_cb cb, void *ud, bool from_event)
{
    run_t *run = xcalloc(1, sizeof *run);
    run->h = h;
    run->point = point;
    run->ctx = normalize(h, point, ctx);
    run->cb = cb;
    run->ud = ud;
    run->from_event = from_event;
    uv_timer_init(h->loop, &run->timer);
    run->timer.data = run;
    run->next = h->runs;
    h->runs = run;
    h->n_runs++;
    uv_timer_start(&run->timer, on_run_start, 0, 0);
    return run;
}

void hooks_run_point(hooks_t *h, failoverd_hook_point_t point, const failoverd_context_t *ctx,
                     hooks_done_cb cb, void *ud)
{
    static const failoverd_context_t empty;
    if ((unsigned)point >= FAILOVERD_HOOK__COUNT || (h->closing && !h->holds)) {
        /* A caller's mistake: say so, and still answer once, as promised. */
        log_error("cluster %s: hooks_run_point(%d) %s; nothing runs", h->cluster, (int)point,
                  h->closing ? "after hooks_close()" : "with an unknown point");
        new_run(h, FAILOVERD_HOOK_DETECTION, ctx ? ctx : &empty, cb, ud, false)->noop = true;
        return;
    }
    new_run(h, point, ctx ? ctx : &empty, cb, ud, false);
}

/* ---- event-fed runs --------------------------------------------------------- */

static bool has_work(const hooks_t *h, failoverd_hook_point_t pt)
{
    if (h->argv[pt])
        return true;
    for (size_t i = 0; i < h->n_plugins; i++)
        if (plugin_handles(h->plugins[i], pt))
            return true;
    return false;
}

static void start_next_event_run(hooks_t *h)
{
    if (h->event_run_active || !h->qhead || h->closing)
        return;
    qitem_t *q = h->qhead;
    h->qhead = q->next;
    if (!h->qhead)
        h->qtail = NULL;
    h->qlen--;
    h->event_run_active = true;
    new_run(h, q->ctx->point, q->ctx, NULL, NULL, true);
    plugin_ctx_free(q->ctx);
    free(q);
}

bool hooks_feed_event(hooks_t *h, const event_t *ev)
{
    if (h->closing || !ev->cluster || strcmp(ev->cluster, h->cluster) != 0)
        return false;
    int pt = hooks_point_of_event(ev->name);
    if (pt < 0 || !has_work(h, (failoverd_hook_point_t)pt))
        return false;
    if (h->qlen >= HOOKS_EVENT_QUEUE_MAX) {
        qitem_t *old = h->qhead;
        h->qhead = old->next;
        h->qlen--;
        log_fields(LOG_LVL_WARN, h->cluster, NULL, NULL,
                   "hook %s for %s dropped: %d event-driven hook runs already waiting",
                   old->ctx->hook, old->ctx->event, HOOKS_EVENT_QUEUE_MAX);
        plugin_ctx_free(old->ctx);
        free(old);
    }
    qitem_t *q = xcalloc(1, sizeof *q);
    q->ctx = hooks_ctx_from_event(ev, (failoverd_hook_point_t)pt, h->policy);
    if (h->qtail)
        h->qtail->next = q;
    else
        h->qhead = q;
    h->qtail = q;
    h->qlen++;
    start_next_event_run(h);
    return true;
}

/* One sink for every subscribed cluster: a daemon with many clusters must not
 * use up the event module's sink slots. */
static hooks_t *subscribers;
static int sink_id = -1;

static bool (*event_gate)(void *ud);
static void *event_gate_ud;

void hooks_set_event_gate(bool (*may_run)(void *ud), void *ud)
{
    event_gate = may_run;
    event_gate_ud = ud;
}

static void on_event(const event_t *ev, void *ud)
{
    (void)ud;
    if (!ev->cluster || (event_gate && !event_gate(event_gate_ud)))
        return;
    for (hooks_t *h = subscribers; h; h = h->next_sub)
        hooks_feed_event(h, ev);
}

void hooks_subscribe(hooks_t *h)
{
    if (h->subscribed || h->closing)
        return;
    h->subscribed = true;
    h->next_sub = subscribers;
    subscribers = h;
    if (sink_id < 0)
        sink_id = event_add_sink(on_event, NULL);
}

static void unsubscribe(hooks_t *h)
{
    if (!h->subscribed)
        return;
    h->subscribed = false;
    for (hooks_t **pp = &subscribers; *pp; pp = &(*pp)->next_sub)
        if (*pp == h) {
            *pp = h->next_sub;
            break;
        }
    if (!subscribers && sink_id >= 0) {
        event_remove_sink(sink_id);
        sink_id = -1;
    }
}

/* ---- closing ---------------------------------------------------------------- */

static void on_hooks_closed(uv_handle_t *t)
{
    hooks_t *h = t->data;
    for (int i = 0; i < FAILOVERD_HOOK__COUNT; i++) {
        child_argv_free(h->argv[i]);
        free(h->cmd[i]);
    }
    for (size_t i = 0; i < h->n_nodes; i++) {
        free((char *)h->nodes[i].name);
        free((char *)h->nodes[i].host);
    }
    free(h->nodes);
    free(h->plugins);
    free(h->cluster);
    free(h->policy);
    void (*done)(void *) = h->close_done;
    void *ud = h->close_ud;
    free(h);
    if (done)
        done(ud);
}

static void on_plugin_unloaded(void *ud)
{
    hooks_t *h = ud;
    if (--h->unloading == 0)
        uv_close((uv_handle_t *)&h->close_timer, on_hooks_closed);
}

static void maybe_close(hooks_t *h)
{
    if (!h->closing || h->n_runs > 0 || h->holds > 0 || h->unloading > 0 ||
        uv_is_closing((uv_handle_t *)&h->close_timer))
        return;
    if (h->n_plugins == 0) {
        uv_close((uv_handle_t *)&h->close_timer, on_hooks_closed);
        return;
    }
    h->unloading = h->n_plugins;
    for (size_t i = 0; i < h->n_plugins; i++)
        plugin_unload(h->plugins[i], on_plugin_unloaded, h);
}

void hooks_close(hooks_t *h, void (*done)(void *ud), void *ud)
{
    unsubscribe(h);
    h->closing = true;
    h->close_done = done;
    h->close_ud = ud;
    if (h->qlen)
        log_fields(LOG_LVL_NOTICE, h->cluster, NULL, NULL,
                   "%zu event-driven hook run%s dropped: the hooks are being replaced or stopped",
                   h->qlen, h->qlen == 1 ? "" : "s");
    while (h->qhead) {
        qitem_t *q = h->qhead;
        h->qhead = q->next;
        plugin_ctx_free(q->ctx);
        free(q);
    }
    h->qtail = NULL;
    h->qlen = 0;
    maybe_close(h);
}

void hooks_hold(hooks_t *h)
{
    h->holds++;
}

void hooks_release(hooks_t *h)
{
    if (h->holds > 0)
        h->holds--;
    maybe_close(h);
}

void hooks_result_reason(const hooks_result_t *r, char *out, size_t len)
{
    /* The last line of stderr that holds something. */
    const char *e = r->err ? r->err : "";
    size_t end = r->err ? r->err_len : 0;
    while (end > 0 && isspace((unsigned char)e[end - 1]))
        end--;
    size_t start = end;
    while (start > 0 && e[start - 1] != '\n')
        start--;
    char line[201];
    size_t n = end - start < sizeof line - 1 ? end - start : sizeof line - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)e[start + i];
        line[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    line[n] = '\0';
    snprintf(out, len, "%s: %s%s%s", r->who ? r->who : "?",
             r->detail ? r->detail : hooks_outcome_str(r->outcome), n ? ": " : "", line);
}
