/* daemon.c - see daemon.h.
 *
 * Everything here is glue: it owns the loop and the long-lived objects, turns
 * signals into actions, and answers the control socket from the model. The
 * decisions live in the pure modules.
 */
#include "daemon.h"

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
#include "control.h"
#include "dbconn.h"
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
#include "coord.h"
#include "stateown.h"

#include "daemon_int.h"

#define GUARD_INTERVAL_MS 100
#define GUARD_THRESHOLD_MS 1000

/* The read/write routing settings of a cluster (checked at load). */
void daemon_routing_from(monitor_t *m, const fo_cluster_cfg_t *cc)
{
    route_settings_t rs = {.max_lag_s = 5, .fallback_primary = cc->read_fallback_primary};
    char err[160];
    if (cc->max_read_lag && !route_lag_parse(cc->max_read_lag, &rs, err, sizeof err))
        log_error("cluster %s: max_read_lag: %s", cc->name, err);
    monitor_set_routing(m, &rs, cc->topology_file);
}

static monitor_t *monitor_for(daemon_t *d, const fo_cluster_cfg_t *cc)
{
    monitor_node_t *nodes = xcalloc(cc->n_nodes, sizeof *nodes);
    for (size_t i = 0; i < cc->n_nodes; i++)
        nodes[i] = (monitor_node_t){.name = cc->nodes[i].name, .host = cc->nodes[i].host,
                                    .port = (unsigned)cc->nodes[i].port,
                                    .rule = cc->nodes[i].promotion_rule,
                                    .tls = &cc->nodes[i].tls};
    monitor_settings_t s = {
        .name = cc->name,
        .user = cc->user,
        .password = cc->password,
        .probe_interval_ms = cc->probe_interval_ms,
        .probe_timeout_ms = cc->probe_timeout_ms,
        .backoff_max_ms = d->cfg->daemon.reconnect_backoff_max_ms,
        .detect = {.down_after = cc->down_after_ms, .replica_confirm = cc->replica_confirm_ms},
        .nodes = nodes,
        .n_nodes = cc->n_nodes,
    };
    monitor_t *m = monitor_create(&d->loop, &s, &d->guard.stalled_until);
    free(nodes);
    daemon_routing_from(m, cc);
    return m;
}

void daemon_failover_settings(daemon_t *d, const fo_cluster_cfg_t *cc, failover_settings_t *s)
{
    *s = (failover_settings_t){
        .cluster = cc->name,
        .policy = cc->policy,
        .auto_failover = cc->auto_failover,
        .auto_rejoin = cc->auto_rejoin,
        .failover_block_ms = cc->failover_block_ms,
        .user = cc->user,
        .password = cc->password,
        .crash_at_step = d->cfg->test.crash_at_step,
        .plan = {.repl_user = cc->repl_user,
                 .repl_password = cc->repl_password,
                 .connect_retry_s = (unsigned)cc->connect_retry,
                 .heartbeat_ms = (unsigned)cc->heartbeat_period_ms,
                 .semisync = cc->semisync,
                 .step_timeout_ms = cc->step_timeout_ms,
                 .fence_timeout_ms = cc->fence_timeout_ms,
                 .wait_apply_timeout_ms = cc->wait_apply_timeout_ms,
                 .catchup_timeout_ms = cc->catchup_timeout_ms,
                 .verify_timeout_ms = cc->verify_timeout_ms,
                 .hook_timeout_ms = cc->hooks.timeout_ms,
                 .switchover_lag_max_ms = cc->switchover_lag_max_ms,
                 .switchover_timeout_ms = cc->switchover_timeout_ms,
                 .long_writes_kill = cc->long_writes == FO_LONG_WRITES_KILL,
                 .long_writes_timeout_ms = cc->long_writes_timeout_ms,
                 .salvage = cc->salvage_command[0] != 0,
                 .salvage_timeout_ms = cc->salvage_timeout_ms},
        .startup_grace_ms = cc->startup_grace_ms,
        .unseen_hold_ms = cc->unseen_hold_ms,
        .salvage_command = cc->salvage_command,
        .salvage_client = cc->salvage_client,
        .state_dir = d->cfg->daemon.state_dir,
        .salvage_credentials = cc->salvage_credentials,
        .coord = d->coord,
        .down_after_ms = cc->down_after_ms,
        .relay_to_primary = cc->relay_repoint == 1,
    };
    s->plan.relay_flatten = !cc->relay_keep;
}

static void on_journal_compacted(void *ctx, const char *path, long long bytes_before,
                                 size_t bytes_after, size_t dropped)
{
    (void)ctx;
    event_emit(LOG_LVL_NOTICE, EV_JOURNAL_COMPACTED, NULL, NULL,
               json_pack("{s:s, s:I, s:I, s:I}", "path", path, "bytes_before",
                         (json_int_t)bytes_before, "bytes_after", (json_int_t)bytes_after,
                         "operations_dropped", (json_int_t)dropped),
               "journal %s compacted from %lld to %zu bytes: the %zu oldest operation%s "
               "dropped, the last of every cluster and the newest kept",
               path, bytes_before, bytes_after, dropped, dropped == 1 ? "" : "s");
}

static void on_verdict(monitor_t *m, verdict_t old, verdict_t now, void *ud)
{
    (void)m;
    failover_on_verdict(ud, old, now);
}

/* Starts a new cluster (monitor, operations manager, hooks already built). */
cluster_rt_t *daemon_start_cluster(daemon_t *d, const fo_cluster_cfg_t *cc, hooks_t *hooks)
{
    cluster_rt_t *rt = xcalloc(1, sizeof *rt);
    rt->hooks = hooks;
    rt->m = monitor_for(d, cc);
    if (coord_vantage_on(d->coord)) /* the managers' verdict joins the detector's */
        monitor_set_vantage(rt->m, coord_vantage, d->coord);
    failover_settings_t fs;
    daemon_failover_settings(d, cc, &fs);
    rt->fo = failover_create(&d->loop, rt->m, d->journal, &fs, &rt->hooks);
    monitor_on_verdict(rt->m, on_verdict, rt->fo);
    monitor_start(rt->m);
    return rt;
}

/* Every cluster's hooks and plugins, or false (err filled) when one fails to load. */
bool daemon_build_hooks(daemon_t *d, const fo_config_t *cfg, hooks_t ***out, char *err,
                        size_t err_len)
{
    hooks_t **hs = xcalloc(cfg->n_clusters + 1, sizeof *hs);
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        hs[i] = wiring_cluster_hooks(&d->loop, &cfg->clusters[i], err, err_len);
        if (!hs[i]) {
            for (size_t k = 0; k < i; k++)
                hooks_close(hs[k], NULL, NULL);
            free(hs);
            return false;
        }
    }
    *out = hs;
    return true;
}

static void start_clusters(daemon_t *d, hooks_t **hooks)
{
    d->n_cl = d->cfg->n_clusters;
    d->cl = xcalloc(d->n_cl + 1, sizeof *d->cl);
    for (size_t i = 0; i < d->n_cl; i++)
        d->cl[i] = daemon_start_cluster(d, &d->cfg->clusters[i], hooks[i]);
}

/* ---- the loop guard, systemd watchdog and status line ------------------ */

static void update_status_line(daemon_t *d)
{
    size_t nodes = 0, up = 0, dead = 0, running = 0;
    for (size_t i = 0; i < d->n_cl; i++) {
        cluster_t *c = monitor_cluster(d->cl[i]->m);
        nodes += c->n_nodes;
        for (size_t k = 0; k < c->n_nodes; k++)
            up += c->nodes[k].up;
        dead += c->detect.verdict == VERDICT_DEAD;
        running += failover_running(d->cl[i]->fo);
    }
    char ops[64] = "no failover running";
    if (running)
        snprintf(ops, sizeof ops, "%zu operation%s running", running, running == 1 ? "" : "s");
    notify_status("%zu cluster%s, %zu of %zu nodes up, %zu primar%s dead, %s", d->n_cl,
                  d->n_cl == 1 ? "" : "s", up, nodes, dead, dead == 1 ? "y" : "ies", ops);
}

static void on_guard(uv_timer_t *t)
{
    daemon_t *d = t->data;
    uint64_t now = uv_now(&d->loop);
    if (guard_tick(&d->guard, now, wall_now_ms(), GUARD_INTERVAL_MS, GUARD_THRESHOLD_MS,
                   d->cfg->daemon.stall_grace_ms))
        event_emit(LOG_LVL_WARN, EV_LOOP_STALL, NULL, NULL,
                   json_pack("{s:I}", "stall_ms", (json_int_t)d->guard.last_stall_ms),
                   "the daemon's loop stalled or the clock jumped (%llu ms); observing without "
                   "acting for %llu ms",
                   (unsigned long long)d->guard.last_stall_ms,
                   (unsigned long long)d->cfg->daemon.stall_grace_ms);
    if (!d->ready) {
        bool all = true;
        for (size_t i = 0; i < d->n_cl && all; i++)
            all = monitor_first_round_done(d->cl[i]->m);
        if (all) {
            d->ready = true;
            update_status_line(d);
            notify_ready();
            log_info("first probe round done; ready");
        }
    }
    if (d->watchdog_ms && now - d->last_watchdog >= d->watchdog_ms / 2) {
        notify_watchdog();
        d->last_watchdog = now;
    }
    if (d->ready && now - d->last_status >= 1000) {
        update_status_line(d);
        d->last_status = now;
    }
}

/* ---- stopping and reloading -------------------------------------------- */

static void on_closed_handle(uv_handle_t *h) { (void)h; }

/* The loop ends when every handle is closed; nothing else waits for these. */
static void closed_cb(void *ud) { (void)ud; }

/* A cluster goes away: its operations manager first (it finishes an operation in
 * flight, every step bounded), then its monitor and hooks. */
static void retired(void *ud)
{
    cluster_rt_t *rt = ud;
    monitor_close(rt->m, closed_cb, NULL);
    if (rt->hooks)
        hooks_close(rt->hooks, NULL, NULL);
    free(rt);
}

void daemon_retire_cluster(cluster_rt_t *rt)
{
    failover_free(rt->fo, retired, rt);
}

static void close_block_timer(daemon_t *d);

static void stop(daemon_t *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    notify_stopping();
    event_emit(LOG_LVL_NOTICE, EV_DAEMON_STOPPING, NULL, NULL, NULL, "failoverd is stopping");
    daemon_reload_stop(d); /* before the control socket: it answers reload requests */
    if (d->ctl)
        control_close(d->ctl, closed_cb, d);
    d->ctl = NULL;
    for (size_t i = 0; i < d->n_cl; i++)
        daemon_retire_cluster(d->cl[i]);
    d->n_cl = 0;
    coord_close(d->coord); /* after the clusters: their last steps find it closed */
    if (d->coord)
        hooks_set_event_gate(NULL, NULL);
    /* Webhooks get a moment to deliver the last events (daemon_stopping ...). */
    if (d->webhooks)
        webhooks_close(d->webhooks, 2000, closed_cb, NULL);
    d->webhooks = NULL;
    metrics_http_close(d->metrics);
    d->metrics = NULL;
    metrics_detach_events();
    uv_close((uv_handle_t *)&d->guard_timer, on_closed_handle);
    close_block_timer(d);
    uv_close((uv_handle_t *)&d->sig_term, on_closed_handle);
    uv_close((uv_handle_t *)&d->sig_hup, on_closed_handle);
    /* SIGINT stays armed: a second one forces the exit. */
    uv_unref((uv_handle_t *)&d->sig_int);
}

static void on_signal(uv_signal_t *s, int signum)
{
    daemon_t *d = s->data;
    if (signum == SIGHUP) {
        if (!d->stopping)
            daemon_reload(d);
        return;
    }
    if (signum == SIGINT && ++d->sigints > 1) {
        log_warn("second SIGINT: exiting at once");
        _exit(FO_EXIT_FAILURE);
    }
    log_notice("%s received", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop(d);
}

/* ---- test knob: a deliberately blocked loop ---------------------------- */

/* test.block_loop = "2s" (any duration): one second after start the loop is
 * blocked once, for that long, by a plain sleep - the one blocking call the
 * daemon makes, on purpose - so that tests see the systemd watchdog stop being
 * fed and the loop guard report the stall. Read at start only; a reload does
 * not arm it again. */
#define BLOCK_LOOP_AFTER_MS 1000

static void close_block_timer(daemon_t *d)
{
    if (d->block_armed)
        uv_close((uv_handle_t *)&d->block_timer, on_closed_handle);
    d->block_armed = false;
}

static void on_block_loop(uv_timer_t *t)
{
    daemon_t *d = t->data;
    uint64_t ms = 0;
    fo_duration_parse(d->cfg->test.block_loop, &ms);
    log_warn("test.block_loop: blocking the event loop for %llu ms", (unsigned long long)ms);
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    close_block_timer(d);
}

static void arm_block_loop(daemon_t *d)
{
    const char *v = d->cfg->test.block_loop;
    uint64_t ms;
    if (!v[0])
        return;
    if (!fo_duration_parse(v, &ms)) {
        log_warn("test.block_loop = \"%s\" is not a duration; ignored", v);
        return;
    }
    log_warn("test knob test.block_loop = \"%s\" is set: the loop will be blocked on purpose; "
             "not for production",
             v);
    uv_timer_init(&d->loop, &d->block_timer);
    d->block_timer.data = d;
    uv_timer_start(&d->block_timer, on_block_loop, BLOCK_LOOP_AFTER_MS, 0);
    d->block_armed = true;
}

/* ---- metrics ------------------------------------------------------------ */

/* The /metrics page, from the model as it is now (on the loop). */
static void render_metrics(buf_t *out, void *ud)
{
    daemon_t *d = ud;
    metrics_cluster_t *mc = xcalloc(d->n_cl ? d->n_cl : 1, sizeof *mc);
    for (size_t i = 0; i < d->n_cl; i++) {
        json_t *st = json_object();
        failover_status(d->cl[i]->fo, st);
        mc[i] = (metrics_cluster_t){.c = monitor_cluster(d->cl[i]->m),
                                    .paused = json_is_true(json_object_get(st, "paused")),
                                    .blocked = json_is_string(json_object_get(st, "auto_blocked"))};
        json_decref(st);
    }
    webhooks_stats_t ws = {0};
    if (d->webhooks)
        webhooks_stats(d->webhooks, &ws);
    metrics_view_t v = {.version = FAILOVERD_VERSION,
                        .clusters = mc,
                        .n_clusters = d->n_cl,
                        .webhook_waiting = ws.waiting,
                        .webhook_failures = ws.failures,
                        .webhook_dropped = ws.dropped_full + ws.dropped_failed};
    metrics_render(out, &v);
    free(mc);
}

/* /health: 200 once the first probe round is done, 503 before and while stopping. */
static bool metrics_health(buf_t *out, void *ud)
{
    daemon_t *d = ud;
    if (d->stopping) {
        buf_puts(out, "stopping\n");
        return false;
    }
    for (size_t i = 0; i < d->n_cl; i++)
        if (!monitor_first_round_done(d->cl[i]->m)) {
            buf_printf(out, "starting: the first probe round of %s is not done\n",
                       monitor_cluster(d->cl[i]->m)->name);
            return false;
        }
    buf_puts(out, "ok\n");
    return true;
}

static bool open_metrics(daemon_t *d)
{
    const char *listen = d->cfg->daemon.metrics_listen;
    if (!listen[0])
        return true;
    metrics_http_handlers_t h = {.render = render_metrics, .health = metrics_health, .ud = d};
    char err[512];
    d->metrics = metrics_http_start(&d->loop, listen, &h, err, sizeof err);
    if (!d->metrics) {
        log_error("%s", err);
        return false;
    }
    return true;
}

/* ---- start -------------------------------------------------------------- */

static bool ensure_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return true;
    log_error("cannot create %s: %s", path, strerror(errno));
    return false;
}

static bool open_control(daemon_t *d)
{
    const fo_daemon_cfg_t *dc = &d->cfg->daemon;
    char *dir = xstrdup(dc->control_socket);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        ensure_dir(dir, 0755);
    }
    free(dir);
    control_opts_t o;
    control_opts_init(&o);
    o.path = dc->control_socket;
    o.mode = (int)dc->control_socket_mode;
    if (dc->control_socket_group[0]) {
        struct group *g = getgrnam(dc->control_socket_group);
        if (!g) {
            log_error("control_socket_group \"%s\": no such group", dc->control_socket_group);
            return false;
        }
        o.gid = g->gr_gid;
    }
    daemon_acl_from_config(dc, &o.acl);
    o.max_request = (size_t)dc->control_max_request;
    d->ctl = control_create(&d->loop, &o);
    daemon_acl_free(&o.acl);
    daemon_register_commands(d);
    char err[512];
    if (!control_listen(d->ctl, err, sizeof err)) {
        log_error("control socket: %s", err);
        return false;
    }
    return true;
}

/* The journal in the state directory. */
static bool open_journal(daemon_t *d)
{
    const fo_config_t *cfg = d->cfg;
    char err[512];
    buf_t jpath = BUF_INIT;
    buf_printf(&jpath, "%s/journal.jsonl", cfg->daemon.state_dir);
    if (ensure_dir(cfg->daemon.state_dir, 0750)) {
        /* stateown.h: files a daemon run as root left behind. */
        if (stateown_check(cfg->daemon.state_dir, buf_str(&jpath), err, sizeof err))
            d->journal = journal_open(buf_str(&jpath), err, sizeof err);
        /* A journal that can't be read is not a reason to stop watching the
         * clusters: they run held ("state unknown") and say why. */
        if (!d->journal)
            d->journal = journal_open_unreadable(buf_str(&jpath), err);
        stateown_adopt(cfg->daemon.state_dir, buf_str(&jpath));
        journal_on_compacted(d->journal, on_journal_compacted, d);
        journal_set_max_bytes(d->journal, (size_t)cfg->daemon.journal_max_bytes);
    }
    buf_free(&jpath);
    return d->journal != NULL;
}

/* The signals and the loop guard's timer. */
static void start_handles(daemon_t *d)
{
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_hup);
    d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    uv_timer_init(&d->loop, &d->guard_timer);
    d->guard_timer.data = d;
    uv_timer_start(&d->guard_timer, on_guard, GUARD_INTERVAL_MS, GUARD_INTERVAL_MS);
}

static bool leads(void *ud)
{
    return coord_why_not(ud) == NULL;
}

/* Webhooks, every cluster with its hooks, the control socket and metrics;
 * on a failure the daemon is set to stop with the exit code that says why. */
static void start_services(daemon_t *d)
{
    const fo_config_t *cfg = d->cfg;
    char err[512];
    hooks_t **hooks = NULL;
    webhooks_opts_t wo = {0};
    d->webhooks = webhooks_create(&d->loop, &wo);
    /* Before the clusters: each of them takes a sink of its own too. */
    if (cfg->daemon.metrics_listen[0])
        metrics_attach_events();
    bool ok = daemon_build_hooks(d, cfg, &hooks, err, sizeof err);
    if (ok && !wiring_webhooks(d->webhooks, cfg, err, sizeof err)) {
        for (size_t i = 0; i < cfg->n_clusters; i++)
            hooks_close(hooks[i], NULL, NULL);
        ok = false;
    }
    if (ok && cfg->coord.mode == FO_COORD_ETCD) {
        d->coord = coord_create(&d->loop, &cfg->coord, d->boot.control_socket);
        hooks_set_event_gate(leads, d->coord); /* only the leader runs event hooks */
    }
    if (ok) {
        start_clusters(d, hooks);
    } else {
        log_error("%s", err);
        d->exit_code = FO_EXIT_CONFIG;
        stop(d);
    }
    free(hooks);
    if (!d->stopping && (!open_control(d) || !open_metrics(d))) {
        d->exit_code = FO_EXIT_OSERR;
        stop(d);
    } else {
        event_emit(LOG_LVL_NOTICE, EV_DAEMON_STARTED, NULL, NULL,
                   json_pack("{s:s, s:I}", "config", cfg->path, "clusters",
                             (json_int_t)cfg->n_clusters),
                   "failoverd %s started: %zu cluster%s from %s", FAILOVERD_VERSION,
                   cfg->n_clusters, cfg->n_clusters == 1 ? "" : "s", cfg->path);
    }
}

int daemon_run(fo_config_t *cfg)
{
    dbconn_process_init();
    daemon_t *d = xcalloc(1, sizeof *d);
    d->cfg = cfg;
    d->exit_code = FO_EXIT_OK;
    daemon_note_boot(d, cfg);
    log_set_level(cfg->daemon.log_level);
    if (notify_under_journal())
        log_use_journal(true);
    if (uv_loop_init(&d->loop) != 0) {
        log_error("cannot initialise the event loop");
        fo_config_free(cfg);
        daemon_free_boot(d);
        free(d);
        return FO_EXIT_OSERR;
    }
    d->started_mono = uv_now(&d->loop);
    d->watchdog_ms = notify_watchdog_ms();

    if (!open_journal(d)) {
        d->exit_code = FO_EXIT_OSERR;
        goto out_loop;
    }
    start_handles(d);
    arm_block_loop(d);
    start_services(d);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&d->sig_int, on_closed_handle);
    uv_run(&d->loop, UV_RUN_DEFAULT);
out_loop:
    if (uv_loop_close(&d->loop) != 0)
        log_warn("the event loop still had open handles at exit");
    journal_close(d->journal);
    coord_free(d->coord);
    free(d->reload_errors);
    json_decref(d->reload_notes);
    daemon_free_boot(d);
    free(d->cl);
    fo_config_free(d->cfg);
    int rc = d->exit_code;
    free(d);
    return rc;
}
