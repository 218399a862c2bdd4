/* plugin.c - see plugin.h. */
#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "child.h"

#define DEFAULT_SPAWN_TIMEOUT_MS 10000

typedef struct ptimer {
    uv_timer_t t;
    struct plugin *p;
    failoverd_timer_cb cb;
    void *ud;
    bool pending; /* not fired yet */
    struct ptimer *next;
} ptimer_t;

struct plugin {
    failoverd_host_t host; /* first member: the host services find the plugin from it */
    uv_loop_t *loop;
    void *dl;
    const failoverd_plugin_t *desc;
    void *state;
    char *file;
    char *cluster;
    char *name;
    failoverd_kv_t *config;
    size_t n_config;
    failoverd_node_t *nodes;
    size_t n_nodes;
    failoverd_init_t init_args;
    uint64_t spawn_timeout_ms, kill_grace_ms;
    size_t output_max;
    int calls;  /* on_event() calls whose token is not freed yet */
    int spawns; /* commands not reported yet */
    ptimer_t *timers;
    int timer_handles; /* timers not closed yet */
    bool in_init, unloading, finished;
    void (*unload_done)(void *ud);
    void *unload_ud;
};

struct failoverd_call {
    plugin_t *p;
    failoverd_context_t *ctx;
    uv_timer_t timer;
    plugin_call_cb cb;
    void *ud;
    uint64_t started;
    bool answered; /* the plugin called done() */
    bool reported; /* cb was called */
};

/* ---- contexts ------------------------------------------------------------- */

static const char *dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

static failoverd_node_ref_t dup_ref(failoverd_node_ref_t r)
{
    return (failoverd_node_ref_t){
        .name = dup_or_empty(r.name), .host = dup_or_empty(r.host), .port = r.port};
}

static void free_ref(failoverd_node_ref_t *r)
{
    free((char *)r->name);
    free((char *)r->host);
}

failoverd_context_t *plugin_ctx_dup(const failoverd_context_t *c)
{
    failoverd_context_t *d = xcalloc(1, sizeof *d);
    d->size = sizeof *d;
    d->point = c->point;
    d->hook = dup_or_empty(c->hook ? c->hook : failoverd_hook_point_name(c->point));
    d->cluster = dup_or_empty(c->cluster);
    d->event = dup_or_empty(c->event);
    d->operation = dup_or_empty(c->operation);
    d->policy = dup_or_empty(c->policy);
    d->node = dup_ref(c->node);
    d->old_primary = dup_ref(c->old_primary);
    d->new_primary = dup_ref(c->new_primary);
    d->candidate = dup_ref(c->candidate);
    d->lost_gtids = dup_or_empty(c->lost_gtids);
    d->errant_gtids = dup_or_empty(c->errant_gtids);
    d->message = dup_or_empty(c->message);
    d->event_json = dup_or_empty(c->event_json);
    d->lost_at_least = c->lost_at_least;
    d->lost_as_of = dup_or_empty(c->lost_as_of);
    if (c->n_timings) {
        failoverd_timing_t *t = xcalloc(c->n_timings, sizeof *t);
        for (size_t i = 0; i < c->n_timings; i++)
            t[i] = (failoverd_timing_t){.name = dup_or_empty(c->timings[i].name),
                                        .ms = c->timings[i].ms};
        d->timings = t;
        d->n_timings = c->n_timings;
    }
    return d;
}

void plugin_ctx_free(failoverd_context_t *c)
{
    if (!c)
        return;
    free((char *)c->hook);
    free((char *)c->cluster);
    free((char *)c->event);
    free((char *)c->operation);
    free((char *)c->policy);
    free_ref(&c->node);
    free_ref(&c->old_primary);
    free_ref(&c->new_primary);
    free_ref(&c->candidate);
    free((char *)c->lost_gtids);
    free((char *)c->errant_gtids);
    free((char *)c->message);
    free((char *)c->event_json);
    free((char *)c->lost_as_of);
    for (size_t i = 0; i < c->n_timings; i++)
        free((char *)c->timings[i].name);
    free((void *)c->timings);
    free(c);
}

/* ---- unloading ------------------------------------------------------------ */

static void free_plugin(plugin_t *p)
{
    if (p->dl)
        dlclose(p->dl);
    for (size_t i = 0; i < p->n_config; i++) {
        free((char *)p->config[i].key);
        free((char *)p->config[i].value);
    }
    free(p->config);
    for (size_t i = 0; i < p->n_nodes; i++) {
        failoverd_node_t *n = &p->nodes[i];
        free((char *)n->name);
        free((char *)n->host);
        for (size_t k = 0; k < n->n_vars; k++) {
            free((char *)n->vars[k].key);
            free((char *)n->vars[k].value);
        }
        free((void *)n->vars);
    }
    free(p->nodes);
    free(p->file);
    free(p->cluster);
    free(p->name);
    void (*done)(void *) = p->unload_done;
    void *ud = p->unload_ud;
    free(p);
    if (done)
        done(ud);
}

static void on_ptimer_closed(uv_handle_t *h)
{
    ptimer_t *t = h->data;
    plugin_t *p = t->p;
    free(t);
    if (--p->timer_handles == 0 && p->finished)
        free_plugin(p);
}

static void unlink_timer(plugin_t *p, ptimer_t *t)
{
    for (ptimer_t **pp = &p->timers; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return;
        }
}

/* Once nothing of the plugin is running any more: fini(), drop its timers,
 * and free it when their handles are closed. */
static void maybe_finish_unload(plugin_t *p)
{
    if (!p->unloading || p->finished || p->calls > 0 || p->spawns > 0)
        return;
    p->finished = true;
    if (p->desc->fini)
        p->desc->fini(p->state);
    p->state = NULL;
    while (p->timers) {
        ptimer_t *t = p->timers;
        p->timers = t->next;
        t->pending = false;
        uv_close((uv_handle_t *)&t->t, on_ptimer_closed);
    }
    if (p->timer_handles == 0)
        free_plugin(p);
    else
        log_debug("plugin %s: unloading once its timers are closed", p->name);
}

void plugin_unload(plugin_t *p, void (*done)(void *ud), void *ud)
{
    p->unloading = true;
    p->unload_done = done;
    p->unload_ud = ud;
    if (p->calls || p->spawns)
        log_info("plugin %s (cluster %s): unloading once %d call%s and %d command%s end", p->name,
                 p->cluster, p->calls, p->calls == 1 ? "" : "s", p->spawns,
                 p->spawns == 1 ? "" : "s");
    maybe_finish_unload(p);
}

/* ---- host services ------------------------------------------------------- */

static plugin_t *host_plugin(const failoverd_host_t *h)
{
    return (plugin_t *)h; /* host is the first member */
}

__attribute__((format(printf, 3, 4))) static void
host_log(const failoverd_host_t *h, failoverd_log_level_t level, const char *fmt, ...)
{
    plugin_t *p = host_plugin(h);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_level_t lvl = (unsigned)level <= LOG_LVL_ERROR ? (log_level_t)level : LOG_LVL_ERROR;
    log_fields(lvl, p->cluster, NULL, NULL, "plugin %s: %s", p->name, msg);
}

typedef struct {
    plugin_t *p;
    failoverd_spawn_cb cb;
    void *ud;
    char *what; /* argv[0], for the log */
} pjob_t;

static void on_spawned(const child_result_t *r, void *ud)
{
    pjob_t *j = ud;
    plugin_t *p = j->p;
    buf_t how = BUF_INIT;
    child_describe(r, &how);
    log_fields(r->status == CHILD_EXITED && r->exit_code == 0 ? LOG_LVL_DEBUG : LOG_LVL_INFO,
               p->cluster, NULL, NULL, "plugin %s: %s %s in %llu ms%s%.*s", p->name, j->what,
               buf_str(&how), (unsigned long long)r->elapsed_ms, r->err_len ? ": " : "",
               (int)(r->err_len > 512 ? 512 : r->err_len), r->err);
    buf_free(&how);
    static const failoverd_spawn_status_t st[] = {[CHILD_EXITED] = FAILOVERD_SPAWN_EXITED,
                                                  [CHILD_SIGNALED] = FAILOVERD_SPAWN_SIGNALED,
                                                  [CHILD_TIMEOUT] = FAILOVERD_SPAWN_TIMEOUT,
                                                  [CHILD_ERROR] = FAILOVERD_SPAWN_ERROR};
    failoverd_spawn_result_t fr = {
        .size = sizeof fr,
        .status = st[r->status],
        .exit_code = r->exit_code,
        .term_signal = r->term_signal,
        .elapsed_ms = r->elapsed_ms,
        .out = r->out,
        .out_len = r->out_len,
        .err = r->err,
        .err_len = r->err_len,
        .error = r->error,
    };
    j->cb(j->ud, &fr);
    free(j->what);
    free(j);
    p->spawns--;
    maybe_finish_unload(p);
}

static int host_spawn(const failoverd_host_t *h, const failoverd_spawn_t *cmd,
                      failoverd_spawn_cb cb, void *ud)
{
    plugin_t *p = host_plugin(h);
    if (p->in_init || p->finished) {
        log_error("plugin %s: spawn() is not allowed %s", p->name,
                  p->in_init ? "during init()" : "after fini()");
        return -EPERM;
    }
    if (!cmd || !cmd->argv || !cmd->argv[0] || cmd->argv[0][0] != '/' || !cb) {
        log_error("plugin %s: spawn() needs argv with an absolute path and a callback", p->name);
        return -EINVAL;
    }
    pjob_t *j = xcalloc(1, sizeof *j);
    j->p = p;
    j->cb = cb;
    j->ud = ud;
    j->what = xstrdup(cmd->argv[0]);
    child_opts_t o = {
        .argv = cmd->argv,
        .env = cmd->env,
        .timeout_ms = cmd->timeout_ms ? cmd->timeout_ms : p->spawn_timeout_ms,
        .kill_grace_ms = p->kill_grace_ms,
        .output_max = p->output_max,
        .input = cmd->input,
        .input_len = cmd->input ? cmd->input_len : 0,
    };
    int rc = child_start(p->loop, &o, on_spawned, j);
    if (rc != 0) {
        free(j->what);
        free(j);
        return rc;
    }
    p->spawns++;
    return 0;
}

static void on_ptimer(uv_timer_t *h)
{
    ptimer_t *t = h->data;
    plugin_t *p = t->p;
    unlink_timer(p, t);
    t->pending = false;
    uv_close((uv_handle_t *)&t->t, on_ptimer_closed);
    t->cb(t->ud);
}

static int host_after(const failoverd_host_t *h, uint64_t delay_ms, failoverd_timer_cb cb, void *ud)
{
    plugin_t *p = host_plugin(h);
    if (p->in_init || p->finished) {
        log_error("plugin %s: after() is not allowed %s", p->name,
                  p->in_init ? "during init()" : "after fini()");
        return -EPERM;
    }
    if (!cb)
        return -EINVAL;
    ptimer_t *t = xcalloc(1, sizeof *t);
    t->p = p;
    t->cb = cb;
    t->ud = ud;
    t->pending = true;
    uv_timer_init(p->loop, &t->t);
    t->t.data = t;
    t->next = p->timers;
    p->timers = t;
    p->timer_handles++;
    uv_timer_start(&t->t, on_ptimer, delay_ms, 0);
    return 0;
}

static uint64_t host_now_ms(const failoverd_host_t *h)
{
    return uv_now(host_plugin(h)->loop);
}

static void on_call_closed(uv_handle_t *h)
{
    failoverd_call_t *c = h->data;
    plugin_t *p = c->p;
    plugin_ctx_free(c->ctx);
    free(c);
    p->calls--;
    maybe_finish_unload(p);
}

static const char *outcome_str(failoverd_outcome_t o)
{
    switch (o) {
    case FAILOVERD_DONE_OK: return "ok";
    case FAILOVERD_DONE_FAILED: return "failed";
    case FAILOVERD_DONE_VETO: return "veto";
    }
    return "?";
}

static void host_done(failoverd_call_t *c, failoverd_outcome_t outcome, const char *message)
{
    plugin_t *p = c->p;
    if (c->answered) {
        log_error("plugin %s: done() called twice for one %s call", p->name, c->ctx->hook);
        return;
    }
    c->answered = true;
    if ((unsigned)outcome > FAILOVERD_DONE_VETO) {
        log_error("plugin %s: done() with unknown outcome %d; counted as failed", p->name,
                  (int)outcome);
        outcome = FAILOVERD_DONE_FAILED;
    }
    uint64_t elapsed = uv_now(p->loop) - c->started;
    if (!c->reported) {
        c->reported = true;
        plugin_result_t r = {
            .outcome = outcome, .message = message ? message : "", .elapsed_ms = elapsed};
        c->cb(&r, c->ud);
    } else {
        log_fields(LOG_LVL_NOTICE, p->cluster, NULL, c->ctx->event,
                   "plugin %s answered %s after its timeout (%llu ms): %s%s%s", p->name,
                   c->ctx->hook, (unsigned long long)elapsed, outcome_str(outcome),
                   message && *message ? ": " : "", message ? message : "");
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_call_closed);
}

static void on_call_timeout(uv_timer_t *t)
{
    failoverd_call_t *c = t->data;
    c->reported = true;
    plugin_result_t r = {.outcome = FAILOVERD_DONE_FAILED,
                         .timed_out = true,
                         .message = "",
                         .elapsed_ms = uv_now(c->p->loop) - c->started};
    c->cb(&r, c->ud);
}

void plugin_call(plugin_t *p, const failoverd_context_t *ctx, uint64_t timeout_ms,
                 plugin_call_cb cb, void *ud)
{
    failoverd_call_t *c = xcalloc(1, sizeof *c);
    c->p = p;
    c->ctx = plugin_ctx_dup(ctx);
    c->cb = cb;
    c->ud = ud;
    c->started = uv_now(p->loop);
    uv_timer_init(p->loop, &c->timer);
    c->timer.data = c;
    p->calls++;
    if (timeout_ms)
        uv_timer_start(&c->timer, on_call_timeout, timeout_ms, 0);
    p->desc->on_event(p->state, c->ctx, c);
}

/* ---- loading -------------------------------------------------------------- */

void plugin_resolve_path(const char *path, const char *plugindir, buf_t *out)
{
    buf_reset(out);
    if (path[0] == '/') {
        buf_puts(out, path);
        return;
    }
    const char *dir = plugindir ? plugindir : FAILOVERD_PLUGINDIR;
    size_t n = strlen(dir);
    buf_printf(out, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", path);
}

static failoverd_kv_t *dup_kvs(const failoverd_kv_t *kv, size_t n)
{
    failoverd_kv_t *d = xcalloc(n ? n : 1, sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = (failoverd_kv_t){.key = dup_or_empty(kv[i].key), .value = dup_or_empty(kv[i].value)};
    return d;
}

static void points_str(uint32_t points, buf_t *out)
{
    for (int i = 0; i < FAILOVERD_HOOK__COUNT; i++)
        if (points & FAILOVERD_POINT(i))
            buf_printf(out, "%s%s", out->len ? ", " : "",
                       failoverd_hook_point_name((failoverd_hook_point_t)i));
    if (!out->len)
        buf_puts(out, "none");
}

/* Open the shared object F and check its descriptor; NULL (with ERR said)
 * when it is not a plugin this failoverd can run. */
static const failoverd_plugin_t *open_plugin(const char *f, void **dlp, char *err, size_t err_len)
{
    dlerror();
    void *dl = dlopen(f, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        size_t n = strlen(f);
        /* dlerror() usually starts with the path; say it once. */
        if (e && strncmp(e, f, n) == 0 && e[n] == ':')
            e += n + (e[n + 1] == ' ' ? 2 : 1);
        snprintf(err, err_len, "plugin %s: cannot load: %s", f, e ? e : "unknown error");
        return NULL;
    }
    dlerror();
    const failoverd_plugin_t *desc = dlsym(dl, FAILOVERD_PLUGIN_SYMBOL);
    if (!desc) {
        snprintf(err, err_len, "plugin %s: no symbol \"%s\": not a failoverd plugin", f,
                 FAILOVERD_PLUGIN_SYMBOL);
    } else if (desc->abi_version != FAILOVERD_PLUGIN_ABI_VERSION) {
        snprintf(err, err_len,
                 "plugin %s: built for plugin ABI version %u, but this failoverd speaks version "
                 "%d; rebuild it against this version's failoverd/plugin.h",
                 f, (unsigned)desc->abi_version, FAILOVERD_PLUGIN_ABI_VERSION);
        desc = NULL;
    } else if (!desc->name || !desc->name[0] || !desc->init || !desc->on_event) {
        snprintf(err, err_len,
                 "plugin %s: incomplete descriptor (name, init and on_event are required)", f);
        desc = NULL;
    }
    if (!desc) {
        dlclose(dl);
        return NULL;
    }
    *dlp = dl;
    return desc;
}

/* The plugin's own copies of what it is given, and the host it calls back. */
static plugin_t *plugin_new(uv_loop_t *loop, const plugin_opts_t *o, void *dl,
                            const failoverd_plugin_t *desc, char *file)
{
    plugin_t *p = xcalloc(1, sizeof *p);
    p->host = (failoverd_host_t){.size = sizeof(failoverd_host_t),
                                 .log = host_log,
                                 .spawn = host_spawn,
                                 .after = host_after,
                                 .done = host_done,
                                 .now_ms = host_now_ms};
    p->loop = loop;
    p->dl = dl;
    p->desc = desc;
    p->file = file;
    p->cluster = xstrdup(o->cluster ? o->cluster : "");
    p->name = xstrdup(desc->name);
    p->spawn_timeout_ms = o->spawn_timeout_ms ? o->spawn_timeout_ms : DEFAULT_SPAWN_TIMEOUT_MS;
    p->kill_grace_ms = o->kill_grace_ms;
    p->output_max = o->output_max;
    p->config = dup_kvs(o->config, o->n_config);
    p->n_config = o->n_config;
    p->nodes = xcalloc(o->n_nodes ? o->n_nodes : 1, sizeof *p->nodes);
    p->n_nodes = o->n_nodes;
    for (size_t i = 0; i < o->n_nodes; i++) {
        const failoverd_node_t *n = &o->nodes[i];
        p->nodes[i] = (failoverd_node_t){.name = dup_or_empty(n->name),
                                         .host = dup_or_empty(n->host),
                                         .port = n->port,
                                         .vars = dup_kvs(n->vars, n->n_vars),
                                         .n_vars = n->n_vars};
    }
    p->init_args = (failoverd_init_t){.size = sizeof(failoverd_init_t),
                                      .cluster = p->cluster,
                                      .config = p->config,
                                      .n_config = p->n_config,
                                      .nodes = p->nodes,
                                      .n_nodes = p->n_nodes,
                                      .host = &p->host,
                                      .path = p->file};
    return p;
}

plugin_t *plugin_load(uv_loop_t *loop, const plugin_opts_t *o, char *err, size_t err_len)
{
    buf_t file = BUF_INIT;
    plugin_resolve_path(o->path ? o->path : "", o->plugindir, &file);
    void *dl = NULL;
    const failoverd_plugin_t *desc = open_plugin(buf_str(&file), &dl, err, err_len);
    if (!desc) {
        buf_free(&file);
        return NULL;
    }
    plugin_t *p = plugin_new(loop, o, dl, desc, buf_steal(&file));
    char why[512] = "";
    p->in_init = true;
    int rc = desc->init(&p->init_args, &p->state, why, sizeof why);
    p->in_init = false;
    if (rc != 0) {
        snprintf(err, err_len, "plugin %s (%s): init failed: %s", p->file, p->name,
                 why[0] ? why : "no reason given");
        p->unload_done = NULL;
        free_plugin(p); /* closes dl */
        return NULL;
    }
    buf_t pts = BUF_INIT;
    points_str(desc->points, &pts);
    log_fields(LOG_LVL_INFO, p->cluster, NULL, NULL,
               "plugin %s%s%s loaded from %s; hook points: %s", p->name, desc->version ? " " : "",
               desc->version ? desc->version : "", p->file, buf_str(&pts));
    buf_free(&pts);
    return p;
}

const char *plugin_name(const plugin_t *p)
{
    return p->name;
}
const char *plugin_file(const plugin_t *p)
{
    return p->file;
}

bool plugin_handles(const plugin_t *p, failoverd_hook_point_t point)
{
    return (unsigned)point < FAILOVERD_HOOK__COUNT && (p->desc->points & FAILOVERD_POINT(point));
}
