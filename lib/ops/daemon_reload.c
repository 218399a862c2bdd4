/* daemon_reload.c - a new configuration file while running (SIGHUP or the
 * reload command): checked completely before anything changes, then applied
 * cluster by cluster; and what of it waits for a restart.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "cfgsyntax.h"
#include "control.h"
#include "failover.h"
#include "filesafe.h"
#include "defaults.h"
#include "elect.h"
#include "event.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "monitor.h"
#include "wiring.h"
#include "notify.h"
#include "status.h"

#include "daemon_int.h"

/* Clusters whose monitoring settings are the same keep their monitor (and what
 * it has observed); the others are replaced. */
static bool same_monitoring(const fo_cluster_cfg_t *a, const fo_cluster_cfg_t *b)
{
    if (strcmp(a->user, b->user) || strcmp(a->password, b->password) ||
        a->probe_interval_ms != b->probe_interval_ms ||
        a->probe_timeout_ms != b->probe_timeout_ms || a->down_after_ms != b->down_after_ms ||
        a->replica_confirm_ms != b->replica_confirm_ms || a->n_nodes != b->n_nodes)
        return false;
    for (size_t i = 0; i < a->n_nodes; i++)
        if (strcmp(a->nodes[i].name, b->nodes[i].name) ||
            strcmp(a->nodes[i].host, b->nodes[i].host) || a->nodes[i].port != b->nodes[i].port ||
            a->nodes[i].promotion_rule != b->nodes[i].promotion_rule ||
            !tls_cfg_equal(&a->nodes[i].tls, &b->nodes[i].tls))
            return false;
    return true;
}

static void reject_reload(daemon_t *d, const char *errors)
{
    /* One log line: the errors ("file:line: setting: message", one per line)
     * joined by "; ", so that a reader of the log sees where the file is
     * wrong on the event's own line. The errors field keeps the lines. */
    buf_t line = BUF_INIT;
    for (const char *p = errors; *p; p++) {
        if (*p != '\n')
            buf_putc(&line, *p);
        else if (p[1])
            buf_puts(&line, "; ");
    }
    event_emit(LOG_LVL_ERROR, EV_CONFIG_REJECTED, NULL, NULL,
               json_pack("{s:s, s:s}", "file", d->cfg->path, "errors", errors),
               "reload of %s rejected, the running configuration stays in force: %s", d->cfg->path,
               buf_str(&line));
    buf_free(&line);
    free(d->reload_errors);
    d->reload_errors = xstrdup(errors);
    notify_ready();
}

/* ---- what a reload cannot apply ------------------------------------------ */

/* Settings read once at start (or, the socket's mode and group, set at the
 * last reload that could): a reload whose file differs from what is in force
 * says so, by name (every time, until a restart). */
void daemon_note_boot(daemon_t *d, const fo_config_t *cfg)
{
    d->boot.control_socket = xstrdup(cfg->daemon.control_socket);
    d->boot.control_socket_group = xstrdup(cfg->daemon.control_socket_group);
    d->boot.state_dir = xstrdup(cfg->daemon.state_dir);
    d->boot.block_loop = xstrdup(cfg->test.block_loop);
    d->boot.control_socket_mode = cfg->daemon.control_socket_mode;
}

void daemon_free_boot(daemon_t *d)
{
    free(d->boot.control_socket);
    free(d->boot.control_socket_group);
    free(d->boot.state_dir);
    free(d->boot.block_loop);
}

static void note_restart_needed(daemon_t *d, const fo_config_t *next)
{
    json_t *list = json_object_get(d->reload_notes, "restart_needed");
    const fo_daemon_cfg_t *b = &next->daemon;
    if (strcmp(d->boot.control_socket, b->control_socket) != 0)
        json_array_append_new(list, json_string("daemon.control_socket"));
    if (d->boot.control_socket_mode != b->control_socket_mode)
        json_array_append_new(list, json_string("daemon.control_socket_mode"));
    if (strcmp(d->boot.control_socket_group, b->control_socket_group) != 0)
        json_array_append_new(list, json_string("daemon.control_socket_group"));
    if (strcmp(d->boot.state_dir, b->state_dir) != 0)
        json_array_append_new(list, json_string("daemon.state_dir"));
    if (strcmp(d->boot.block_loop, next->test.block_loop) != 0)
        json_array_append_new(list, json_string("test.block_loop"));
}

static void note_deferred(daemon_t *d, const char *cluster)
{
    buf_t b = BUF_INIT;
    buf_printf(&b,
               "cluster %s: monitoring settings (an operation is running; they wait for the "
               "next reload)",
               cluster);
    json_array_append_new(json_object_get(d->reload_notes, "deferred"), json_string(buf_str(&b)));
    buf_free(&b);
}

/* The access lists of the control socket, as the configuration has them;
 * free with acl_free(). */
void daemon_acl_from_config(const fo_daemon_cfg_t *dc, control_acl_t *acl)
{
    uid_t *uids = xcalloc(dc->control_allowed_uids.n + 1, sizeof *uids);
    gid_t *gids = xcalloc(dc->control_allowed_gids.n + 1, sizeof *gids);
    uid_t *ro_uids = xcalloc(dc->control_readonly_uids.n + 1, sizeof *ro_uids);
    gid_t *ro_gids = xcalloc(dc->control_readonly_gids.n + 1, sizeof *ro_gids);
    for (size_t i = 0; i < dc->control_allowed_uids.n; i++)
        uids[i] = dc->control_allowed_uids.ids[i];
    for (size_t i = 0; i < dc->control_allowed_gids.n; i++)
        gids[i] = dc->control_allowed_gids.ids[i];
    for (size_t i = 0; i < dc->control_readonly_uids.n; i++)
        ro_uids[i] = dc->control_readonly_uids.ids[i];
    for (size_t i = 0; i < dc->control_readonly_gids.n; i++)
        ro_gids[i] = dc->control_readonly_gids.ids[i];
    *acl = (control_acl_t){.self_uid = geteuid(),
                           .uids = uids,
                           .n_uids = dc->control_allowed_uids.n,
                           .gids = gids,
                           .n_gids = dc->control_allowed_gids.n,
                           .ro_uids = ro_uids,
                           .n_ro_uids = dc->control_readonly_uids.n,
                           .ro_gids = ro_gids,
                           .n_ro_gids = dc->control_readonly_gids.n};
}

void daemon_acl_free(control_acl_t *acl)
{
    free((void *)acl->uids);
    free((void *)acl->gids);
    free((void *)acl->ro_uids);
    free((void *)acl->ro_gids);
}

/* The socket file's mode and group follow the new file; one that can't be
 * set stays as it was and is named as needing a restart. */
static void apply_socket_access(daemon_t *d, const fo_daemon_cfg_t *dc)
{
    if (d->boot.control_socket_mode == dc->control_socket_mode &&
        strcmp(d->boot.control_socket_group, dc->control_socket_group) == 0)
        return;
    if (strcmp(d->boot.control_socket, dc->control_socket) != 0)
        return; /* a new path: the restart makes the new socket */
    gid_t gid = getegid();
    if (dc->control_socket_group[0]) {
        struct group *g = getgrnam(dc->control_socket_group);
        if (!g) {
            log_warn("control_socket_group \"%s\": no such group; the socket keeps its group "
                     "and mode",
                     dc->control_socket_group);
            return;
        }
        gid = g->gr_gid;
    }
    char err[512];
    if (!control_set_file_access(d->ctl, (int)dc->control_socket_mode, gid, err, sizeof err)) {
        log_warn("control socket: %s", err);
        return;
    }
    d->boot.control_socket_mode = dc->control_socket_mode;
    free(d->boot.control_socket_group);
    d->boot.control_socket_group = xstrdup(dc->control_socket_group);
}

/* The control socket's access lists and request limit follow the new file. */
static void apply_control(daemon_t *d, const fo_config_t *next)
{
    if (!d->ctl)
        return;
    apply_socket_access(d, &next->daemon);
    control_acl_t acl;
    daemon_acl_from_config(&next->daemon, &acl);
    control_set_acl(d->ctl, &acl);
    daemon_acl_free(&acl);
    control_set_max_request(d->ctl, (size_t)next->daemon.control_max_request);
}

/* For each new cluster that replaces a running one of the same name (its
 * monitor is started afresh): the primary the running one had reached, which
 * the new watch counts as seen (startup.h), or NULL. */
static char **seen_primaries(daemon_t *d, const fo_config_t *next, cluster_rt_t **kept)
{
    char **seen = xcalloc(next->n_clusters + 1, sizeof *seen);
    for (size_t i = 0; i < next->n_clusters; i++)
        for (size_t k = 0; k < d->n_cl && !kept[i]; k++) {
            if (!d->cl[k] || strcmp(d->cfg->clusters[k].name, next->clusters[i].name) != 0)
                continue;
            const char *p = failover_seen_primary(d->cl[k]->fo);
            if (p)
                seen[i] = xstrdup(p);
        }
    return seen;
}

/* The listener is bound at start only; a reload that moves it says so. */
static void warn_metrics_listen(const fo_config_t *old, const fo_config_t *next)
{
    if (strcmp(old->daemon.metrics_listen, next->daemon.metrics_listen))
        log_warn("metrics_listen changed from \"%s\" to \"%s\": the listener moves when "
                 "failoverd restarts, not on a reload",
                 old->daemon.metrics_listen, next->daemon.metrics_listen);
}

/* The new file, loaded and checked completely (its plugins loaded too, its
 * webhooks taken); NULL when it is rejected, which has been said. */
static fo_config_t *load_next(daemon_t *d, hooks_t ***hooks)
{
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *next = fo_config_load(d->cfg->path, &errs);
    if (!next) {
        buf_t text = BUF_INIT;
        fo_config_errors_format(&errs, &text);
        reject_reload(d, buf_str(&text));
        buf_free(&text);
        fo_config_errors_free(&errs);
        return NULL;
    }
    fo_config_errors_free(&errs);
    buf_t unsafe = BUF_INIT;
    if (!filesafe_check_config(next, geteuid(), getegid(), &unsafe)) {
        reject_reload(d, buf_str(&unsafe));
        buf_free(&unsafe);
        fo_config_free(next);
        return NULL;
    }
    buf_free(&unsafe);
    char err[1024];
    if (!daemon_build_hooks(d, next, hooks, err, sizeof err)) {
        reject_reload(d, err);
        fo_config_free(next);
        return NULL;
    }
    if (!wiring_webhooks(d->webhooks, next, err, sizeof err)) {
        for (size_t i = 0; i < next->n_clusters; i++)
            hooks_close((*hooks)[i], NULL, NULL);
        free(*hooks);
        wiring_webhooks(d->webhooks, d->cfg, err, sizeof err); /* the old ones back */
        reject_reload(d, err);
        fo_config_free(next);
        return NULL;
    }
    return next;
}

/* Match the new clusters with the running ones by name. A cluster keeps its
 * monitor when its monitoring settings are unchanged, and always while an
 * operation runs on it (the change then waits for the next reload). The kept
 * ones take their new hooks and settings; they leave d->cl (NULL there). */
static cluster_rt_t **keep_clusters(daemon_t *d, const fo_config_t *next, hooks_t **hooks)
{
    cluster_rt_t **cl = xcalloc(next->n_clusters + 1, sizeof *cl);
    for (size_t i = 0; i < next->n_clusters; i++) {
        const fo_cluster_cfg_t *nc = &next->clusters[i];
        for (size_t k = 0; k < d->n_cl && !cl[i]; k++) {
            cluster_rt_t *rt = d->cl[k];
            const fo_cluster_cfg_t *oc = &d->cfg->clusters[k];
            if (!rt || strcmp(oc->name, nc->name) != 0)
                continue;
            bool same = same_monitoring(oc, nc) && d->cfg->daemon.reconnect_backoff_max_ms ==
                                                       next->daemon.reconnect_backoff_max_ms;
            if (!same && !failover_running(rt->fo))
                continue;
            if (!same)
                note_deferred(d, nc->name);
            if (!same)
                log_warn("cluster %s: an operation is running; its new monitoring settings wait "
                         "for the next reload",
                         nc->name);
            hooks_t *old = rt->hooks;
            rt->hooks = hooks[i];
            hooks[i] = NULL;
            if (old)
                hooks_close(old, NULL, NULL);
            failover_settings_t fs;
            daemon_failover_settings(d, nc, &fs);
            failover_update(rt->fo, &fs);
            daemon_routing_from(rt->m, nc);
            monitor_check_grants(rt->m); /* the account's rights may have changed too */
            cl[i] = rt;
            d->cl[k] = NULL;
        }
    }
    return cl;
}

/* The config_reloaded event, naming what waits for a restart. */
static void announce_reload(daemon_t *d, const fo_config_t *next)
{
    buf_t left = BUF_INIT;
    json_t *restart = json_object_get(d->reload_notes, "restart_needed");
    size_t k;
    json_t *v;
    json_array_foreach(restart, k, v)
        buf_printf(&left, "%s%s", k ? ", " : "", json_string_value(v));
    json_array_foreach(json_object_get(d->reload_notes, "deferred"), k, v)
        buf_printf(&left, "%s%s", left.len ? "; " : "", json_string_value(v));
    event_emit(left.len ? LOG_LVL_WARN : LOG_LVL_NOTICE, EV_CONFIG_RELOADED, NULL, NULL,
               json_pack("{s:s, s:O, s:O}", "file", next->path, "restart_needed", restart,
                         "deferred", json_object_get(d->reload_notes, "deferred")),
               "configuration reloaded from %s%s%s", next->path,
               left.len ? "; not applied until a restart: " : "", buf_str(&left));
    buf_free(&left);
}

/* Load and check the new file completely (plugins included) before anything
 * changes; a bad file leaves the running configuration in force. */
static void apply_reload(daemon_t *d)
{
    hooks_t **hooks;
    fo_config_t *next = load_next(d, &hooks);
    if (!next)
        return;
    cluster_rt_t **cl = keep_clusters(d, next, hooks);
    char **seen = seen_primaries(d, next, cl);
    for (size_t k = 0; k < d->n_cl; k++)
        if (d->cl[k])
            daemon_retire_cluster(d->cl[k]);
    fo_config_t *old_cfg = d->cfg;
    apply_control(d, next);
    note_restart_needed(d, next);
    warn_metrics_listen(d->cfg, next);
    d->cfg = next;
    journal_set_max_bytes(d->journal, (size_t)next->daemon.journal_max_bytes);
    for (size_t i = 0; i < next->n_clusters; i++)
        if (!cl[i]) {
            cl[i] = daemon_start_cluster(d, &next->clusters[i], hooks[i]);
            failover_primary_seen(cl[i]->fo, seen[i]);
        }
    for (size_t i = 0; i < next->n_clusters; i++)
        free(seen[i]);
    free(seen);
    fo_config_free(old_cfg);
    free(hooks);
    free(d->cl);
    d->cl = cl;
    d->n_cl = next->n_clusters;
    log_set_level(next->daemon.log_level);
    announce_reload(d, next);
    notify_ready();
}

/* ---- the check before a reload, without waiting -------------------------- */

typedef struct reload_waiter {
    daemon_reload_done_fn done;
    void *ud;
    struct reload_waiter *next;
} reload_waiter_t;

struct reload_run {
    cfgsyntax_check_t *check; /* the check under way */
    reload_waiter_t *now;     /* told when the reload being checked ends */
    reload_waiter_t *later;   /* came while it was checked: told after the next one */
    bool again;               /* a reload was asked for while one was checked */
};

static void add_waiter(reload_waiter_t **list, daemon_reload_done_fn done, void *ud)
{
    if (!done)
        return;
    reload_waiter_t *w = xcalloc(1, sizeof *w);
    w->done = done;
    w->ud = ud;
    while (*list)
        list = &(*list)->next;
    *list = w;
}

static void tell_waiters(daemon_t *d, reload_waiter_t *w)
{
    while (w) {
        reload_waiter_t *next = w->next;
        w->done(d, w->ud);
        free(w);
        w = next;
    }
}

static void on_checked(cfgsyntax_outcome_t outcome, const char *errors, void *arg);

static void begin_check(daemon_t *d)
{
    struct reload_run *r = d->reload;
    notify_reloading();
    log_info("reload: checking %s", d->cfg->path);
    r->check = cfgsyntax_check_start(&d->loop, d->cfg->path, on_checked, d);
}

/* The child has answered (or could not): the reload is rejected with its
 * errors, or goes on here. */
static void on_checked(cfgsyntax_outcome_t outcome, const char *errors, void *arg)
{
    daemon_t *d = arg;
    struct reload_run *r = d->reload;
    r->check = NULL;
    free(d->reload_errors);
    d->reload_errors = NULL;
    json_decref(d->reload_notes);
    d->reload_notes = json_pack("{s:[], s:[]}", "restart_needed", "deferred");
    if (outcome == CFGSYNTAX_ERRORS) {
        reject_reload(d, errors);
    } else {
        cfgsyntax_vouch(d->cfg->path); /* read here, without a second child */
        apply_reload(d);
    }
    reload_waiter_t *told = r->now;
    r->now = r->later;
    r->later = NULL;
    tell_waiters(d, told);
    if (d->reload != r)
        return; /* stopped from a waiter */
    if (r->again && !d->stopping) {
        r->again = false;
        begin_check(d);
        return;
    }
    tell_waiters(d, r->now);
    free(r);
    d->reload = NULL;
}

void daemon_reload_start(daemon_t *d, daemon_reload_done_fn done, void *ud)
{
    if (!d->reload)
        d->reload = xcalloc(1, sizeof *d->reload);
    struct reload_run *r = d->reload;
    if (r->check) {
        r->again = true;
        add_waiter(&r->later, done, ud);
        log_info("reload: a check of %s is under way; the file is checked again after it",
                 d->cfg->path);
        return;
    }
    add_waiter(&r->now, done, ud);
    begin_check(d);
}

void daemon_reload(daemon_t *d)
{
    daemon_reload_start(d, NULL, NULL);
}

void daemon_reload_stop(daemon_t *d)
{
    struct reload_run *r = d->reload;
    if (!r)
        return;
    d->reload = NULL;
    cfgsyntax_check_cancel(r->check);
    tell_waiters(d, r->now);
    tell_waiters(d, r->later);
    free(r);
}
