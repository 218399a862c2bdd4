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
#include "stateown.h"

#define GUARD_INTERVAL_MS 100
#define GUARD_THRESHOLD_MS 1000

/* One cluster at run time. Allocated on its own: the operations manager keeps a
 * pointer to its hooks slot, which a reload refills. */
typedef struct {
    monitor_t *m;
    failover_t *fo;
    hooks_t *hooks;
} cluster_rt_t;

typedef struct {
    uv_loop_t loop;
    fo_config_t *cfg;
    cluster_rt_t **cl;    /* one per configured cluster, in config order */
    size_t n_cl;
    webhooks_t *webhooks;
    control_t *ctl;
    journal_t *journal;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t guard_timer;
    uv_timer_t block_timer; /* test.block_loop; initialised only when set */
    bool block_armed;
    guard_t guard;
    uint64_t started_mono;
    uint64_t last_watchdog;
    uint64_t last_status;
    uint64_t watchdog_ms;
    int sigints;
    bool ready;
    bool stopping;
    int exit_code;
    char *reload_errors;   /* why the last reload was rejected; NULL when it was not */
    json_t *reload_notes;  /* the last reload's restart_needed and deferred lists */
    struct {               /* the settings read at start only, as they were then */
        char *control_socket, *control_socket_group, *state_dir, *block_loop;
        unsigned control_socket_mode;
    } boot;
    metrics_http_t *metrics; /* the /metrics listener; NULL when metrics_listen is "" */
} daemon_t;

/* The read/write routing settings of a cluster (checked at load). */
static void monitor_routing_from(monitor_t *m, const fo_cluster_cfg_t *cc)
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
    monitor_routing_from(m, cc);
    return m;
}

static void failover_settings(daemon_t *d, const fo_cluster_cfg_t *cc, failover_settings_t *s)
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
                 .long_writes_timeout_ms = cc->long_writes_timeout_ms},
        .startup_grace_ms = cc->startup_grace_ms,
        .unseen_hold_ms = cc->unseen_hold_ms,
    };
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
static cluster_rt_t *start_cluster(daemon_t *d, const fo_cluster_cfg_t *cc, hooks_t *hooks)
{
    cluster_rt_t *rt = xcalloc(1, sizeof *rt);
    rt->hooks = hooks;
    rt->m = monitor_for(d, cc);
    failover_settings_t fs;
    failover_settings(d, cc, &fs);
    rt->fo = failover_create(&d->loop, rt->m, d->journal, &fs, &rt->hooks);
    monitor_on_verdict(rt->m, on_verdict, rt->fo);
    monitor_start(rt->m);
    return rt;
}

/* Every cluster's hooks and plugins, or false (err filled) when one fails to load. */
static bool build_hooks(daemon_t *d, const fo_config_t *cfg, hooks_t ***out, char *err,
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
        d->cl[i] = start_cluster(d, &d->cfg->clusters[i], hooks[i]);
}

/* ---- status ---------------------------------------------------------- */

static json_t *cluster_json(daemon_t *d, size_t i)
{
    status_clock_t clk = {.now_mono = uv_now(&d->loop), .now_wall = wall_now_ms()};
    const fo_cluster_cfg_t *cc = &d->cfg->clusters[i];
    json_t *j = status_cluster_json(monitor_cluster(d->cl[i]->m), &clk);
    json_object_set_new(j, "policy", json_string(policy_str(cc->policy)));
    json_object_set_new(j, "auto_failover", json_boolean(cc->auto_failover));
    failover_status(d->cl[i]->fo, j);
    route_settings_t rs;
    const route_t *r = monitor_route(d->cl[i]->m, &rs);
    route_status(monitor_cluster(d->cl[i]->m), &rs, r, j);
    return j;
}

static void handle_status(control_req_t *req, void *ud)
{
    daemon_t *d = ud;
    static const char *const allowed[] = {"cluster", NULL};
    const char *only = NULL;
    if (!control_args_only(req, allowed) || !control_arg_string(req, "cluster", false, &only))
        return;
    json_t *clusters = json_array();
    for (size_t i = 0; i < d->n_cl; i++)
        if (!only || strcmp(only, d->cfg->clusters[i].name) == 0)
            json_array_append_new(clusters, cluster_json(d, i));
    if (only && json_array_size(clusters) == 0) {
        json_decref(clusters);
        control_reply_error(req, CONTROL_E_NOT_FOUND, "no cluster named \"%s\"", only);
        return;
    }
    json_t *daemon = json_pack("{s:s, s:I, s:f, s:s, s:b}", "version", FAILOVERD_VERSION, "pid",
                               (json_int_t)getpid(), "uptime_s",
                               (double)(uv_now(&d->loop) - d->started_mono) / 1000.0, "config",
                               d->cfg->path, "stalled",
                               uv_now(&d->loop) < d->guard.stalled_until);
    control_reply_ok(req, json_pack("{s:o, s:o}", "daemon", daemon, "clusters", clusters));
}


/* ---- operations ------------------------------------------------------------- */

/* The cluster named by the request's "cluster" argument; replies itself and
 * returns -1 when it is missing or unknown. */
static int cluster_arg(daemon_t *d, control_req_t *req)
{
    const char *name = NULL;
    if (!control_arg_string(req, "cluster", true, &name))
        return -1;
    for (size_t i = 0; i < d->n_cl; i++)
        if (strcmp(d->cfg->clusters[i].name, name) == 0)
            return (int)i;
    control_reply_error(req, CONTROL_E_NOT_FOUND, "no cluster named \"%s\"", name);
    return -1;
}

static void handle_plan(control_req_t *req, void *ud)
{
    daemon_t *d = ud;
    static const char *const allowed[] = {"cluster", "to", "kind", "policy", NULL};
    static const char *const kinds[] = {"failover", "switchover", NULL};
    static const char *const policies[] = {"reliability", "availability", NULL};
    const char *to = NULL, *kind = "failover", *policy = NULL;
    if (!control_args_only(req, allowed) || !control_arg_string(req, "to", false, &to) ||
        !control_arg_enum(req, "kind", false, kinds, &kind) ||
        !control_arg_enum(req, "policy", false, policies, &policy))
        return;
    int i = cluster_arg(d, req);
    if (i < 0)
        return;
    char err[512];
    op_request_t r = {.kind = strcmp(kind, "switchover") == 0 ? OP_SWITCHOVER : OP_FAILOVER,
                      .to = to, .policy_given = policy != NULL,
                      .policy = policy && strcmp(policy, "availability") == 0
                                    ? POLICY_AVAILABILITY
                                    : POLICY_RELIABILITY};
    json_t *j = failover_plan_json(d->cl[i]->fo, &r, err, sizeof err);
    if (!j)
        control_reply_error(req, strstr(err, "no node named") ? CONTROL_E_NOT_FOUND
                                                              : CONTROL_E_FAILED,
                            "%s", err);
    else
        control_reply_ok(req, j);
}

static void op_replied(void *ctx, bool ok, const char *code, const char *msg, json_t *result)
{
    control_req_t *req = ctx;
    if (ok) {
        control_reply_ok(req, result);
        return;
    }
    /* A finished operation that failed (or was rolled back) still reports
     * what it did, in the error's "operation". */
    if (result && json_object_size(result) > 0) {
        control_reply_error_with(req, code, json_pack("{s:o}", "operation", result), "%s",
                                 msg ? msg : "failed");
        return;
    }
    json_decref(result);
    control_reply_error(req, code, "%s", msg ? msg : "failed");
}

static void handle_op(control_req_t *req, daemon_t *d, op_kind_t kind)
{
    static const char *const f_allowed[] = {"cluster", "to", "force", "policy", "dry_run", NULL};
    static const char *const s_allowed[] = {"cluster", "to", "policy", "dry_run", "timeout_s",
                                            NULL};
    static const char *const policies[] = {"reliability", "availability", NULL};
    const char *to = NULL, *policy = NULL;
    bool force = false, dry = false;
    double timeout = 0;
    if (!control_args_only(req, kind == OP_FAILOVER ? f_allowed : s_allowed) ||
        !control_arg_string(req, "to", false, &to) ||
        !control_arg_enum(req, "policy", false, policies, &policy) ||
        !control_arg_bool(req, "dry_run", false, &dry) ||
        (kind == OP_FAILOVER && !control_arg_bool(req, "force", false, &force)) ||
        (kind == OP_SWITCHOVER &&
         !control_arg_number(req, "timeout_s", false, 0.001, 86400, &timeout)))
        return;
    int i = cluster_arg(d, req);
    if (i < 0)
        return;
    log_notice("control: %s of %s requested by uid %u (pid %d)%s%s",
               kind == OP_FAILOVER ? "failover" : "switchover", d->cfg->clusters[i].name,
               (unsigned)control_req_uid(req), (int)control_req_pid(req), to ? " to " : "",
               to ? to : "");
    op_request_t r = {.kind = kind, .to = to, .force = force, .dry_run = dry,
                      .policy_given = policy != NULL,
                      .policy = policy && strcmp(policy, "availability") == 0
                                    ? POLICY_AVAILABILITY
                                    : POLICY_RELIABILITY,
                      .timeout_ms = (uint64_t)(timeout * 1000)};
    failover_request(d->cl[i]->fo, &r, op_replied, req);
}

static void handle_failover(control_req_t *req, void *ud) { handle_op(req, ud, OP_FAILOVER); }
static void handle_switchover(control_req_t *req, void *ud) { handle_op(req, ud, OP_SWITCHOVER); }

static void handle_pause_resume(control_req_t *req, daemon_t *d, bool pause)
{
    static const char *const allowed[] = {"cluster", NULL};
    if (!control_args_only(req, allowed))
        return;
    int i = cluster_arg(d, req);
    if (i < 0)
        return;
    failover_pause(d->cl[i]->fo, pause);
    control_reply_ok(req, json_pack("{s:s, s:b}", "cluster", d->cfg->clusters[i].name, "paused",
                                    pause));
}

static void handle_pause(control_req_t *req, void *ud) { handle_pause_resume(req, ud, true); }
static void handle_resume(control_req_t *req, void *ud) { handle_pause_resume(req, ud, false); }

static void handle_ack(control_req_t *req, void *ud)
{
    daemon_t *d = ud;
    static const char *const allowed[] = {"cluster", NULL};
    if (!control_args_only(req, allowed))
        return;
    int i = cluster_arg(d, req);
    if (i < 0)
        return;
    char msg[1024];
    if (!failover_ack(d->cl[i]->fo, msg, sizeof msg)) {
        control_reply_error(req, CONTROL_E_FAILED, "%s", msg);
        return;
    }
    log_notice("control: %s (uid %u)", msg, (unsigned)control_req_uid(req));
    control_reply_ok(req, json_pack("{s:s, s:s}", "cluster", d->cfg->clusters[i].name, "message",
                                    msg));
}

/* Past operations from the journal: one entry per operation, newest first. */
static void handle_history(control_req_t *req, void *ud)
{
    daemon_t *d = ud;
    static const char *const allowed[] = {"cluster", "limit", NULL};
    const char *cluster = NULL;
    long long limit = 20;
    if (!control_args_only(req, allowed) || !control_arg_string(req, "cluster", false, &cluster) ||
        !control_arg_int(req, "limit", false, 1, 10000, &limit))
        return;
    json_t *recs = journal_records(d->journal, cluster);
    json_t *ops = json_array();
    json_t *by_op = json_object();
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        const char *op = json_string_value(json_object_get(rec, "op"));
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (!op || !type)
            continue;
        json_t *e = json_object_get(by_op, op);
        if (strcmp(type, "begin") == 0) {
            e = json_pack("{s:s, s:O, s:O, s:O, s:s, s:O, s:O, s:O}", "op", op, "cluster",
                          json_object_get(rec, "cluster"), "kind", json_object_get(rec, "kind"),
                          "started", json_object_get(rec, "time"), "state", "interrupted",
                          "old_primary", json_object_get(rec, "old_primary") ?: json_null(),
                          "automatic", json_object_get(rec, "automatic") ?: json_null(),
                          "policy", json_object_get(rec, "policy") ?: json_null());
            json_object_set_new(by_op, op, e);
            json_array_append(ops, e);
        } else if (e && (strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
                         strcmp(type, "aborted") == 0)) {
            json_object_set_new(e, "state", json_string(type));
            json_object_set(e, "ended", json_object_get(rec, "time"));
            static const char *const keys[] = {"new_primary",      "duration_ms",
                                               "detection_ms",     "message",
                                               "possibly_lost",    "possibly_lost_count",
                                               "write_blocked_ms", "rolled_back",
                                               NULL};
            for (const char *const *k = keys; *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(e, *k, json_object_get(rec, *k));
            /* What a failover knew of its loss (docs/failover.md). */
            static const char *const loss[] = {"lost_at_least",      "lost_as_of",
                                               "semisync_off_since", "at_risk",
                                               "at_risk_count",      NULL};
            for (const char *const *k = loss; *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(e, *k, json_object_get(rec, *k));
        } else if (e && strcmp(type, "ack") == 0) {
            json_object_set_new(e, "acknowledged", json_true());
        } else if (e && strcmp(type, "loss_found") == 0) {
            /* The exact loss, found when the old primary came back. */
            static const char *const found[] = {"lost_exact", "lost_exact_count",
                                                "lost_exact_found", "lost_exact_node", NULL};
            for (const char *const *k = found; *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(e, *k, json_object_get(rec, *k));
        }
    }
    json_t *out = json_array();
    for (size_t k = json_array_size(ops); k-- > 0 && json_array_size(out) < (size_t)limit;)
        json_array_append(out, json_array_get(ops, k));
    json_decref(ops);
    json_decref(by_op);
    json_decref(recs);
    control_reply_ok(req, json_pack("{s:o}", "operations", out));
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

static void retire_cluster(cluster_rt_t *rt) { failover_free(rt->fo, retired, rt); }

static void close_block_timer(daemon_t *d);

static void stop(daemon_t *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    notify_stopping();
    event_emit(LOG_LVL_NOTICE, EV_DAEMON_STOPPING, NULL, NULL, NULL, "failoverd is stopping");
    if (d->ctl)
        control_close(d->ctl, closed_cb, d);
    d->ctl = NULL;
    for (size_t i = 0; i < d->n_cl; i++)
        retire_cluster(d->cl[i]);
    d->n_cl = 0;
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

/* Clusters whose monitoring settings are the same keep their monitor (and what
 * it has observed); the others are replaced. */
static bool same_monitoring(const fo_cluster_cfg_t *a, const fo_cluster_cfg_t *b)
{
    if (strcmp(a->user, b->user) || strcmp(a->password, b->password) ||
        a->probe_interval_ms != b->probe_interval_ms || a->probe_timeout_ms != b->probe_timeout_ms ||
        a->down_after_ms != b->down_after_ms || a->replica_confirm_ms != b->replica_confirm_ms ||
        a->n_nodes != b->n_nodes)
        return false;
    for (size_t i = 0; i < a->n_nodes; i++)
        if (strcmp(a->nodes[i].name, b->nodes[i].name) || strcmp(a->nodes[i].host, b->nodes[i].host) ||
            a->nodes[i].port != b->nodes[i].port ||
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
               "reload of %s rejected, the running configuration stays in force: %s",
               d->cfg->path, buf_str(&line));
    buf_free(&line);
    free(d->reload_errors);
    d->reload_errors = xstrdup(errors);
    notify_ready();
}

/* ---- what a reload cannot apply ------------------------------------------ */

/* Settings read once at start (or, the socket's mode and group, set at the
 * last reload that could): a reload whose file differs from what is in force
 * says so, by name (every time, until a restart). */
static void note_boot(daemon_t *d, const fo_config_t *cfg)
{
    d->boot.control_socket = xstrdup(cfg->daemon.control_socket);
    d->boot.control_socket_group = xstrdup(cfg->daemon.control_socket_group);
    d->boot.state_dir = xstrdup(cfg->daemon.state_dir);
    d->boot.block_loop = xstrdup(cfg->test.block_loop);
    d->boot.control_socket_mode = cfg->daemon.control_socket_mode;
}

static void free_boot(daemon_t *d)
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
    buf_printf(&b, "cluster %s: monitoring settings (an operation is running; they wait for the "
                   "next reload)", cluster);
    json_array_append_new(json_object_get(d->reload_notes, "deferred"), json_string(buf_str(&b)));
    buf_free(&b);
}

/* The access lists of the control socket, as the configuration has them;
 * free with acl_free(). */
static void acl_from_config(const fo_daemon_cfg_t *dc, control_acl_t *acl)
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
                           .uids = uids, .n_uids = dc->control_allowed_uids.n,
                           .gids = gids, .n_gids = dc->control_allowed_gids.n,
                           .ro_uids = ro_uids, .n_ro_uids = dc->control_readonly_uids.n,
                           .ro_gids = ro_gids, .n_ro_gids = dc->control_readonly_gids.n};
}

static void acl_free(control_acl_t *acl)
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
                     "and mode", dc->control_socket_group);
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
    acl_from_config(&next->daemon, &acl);
    control_set_acl(d->ctl, &acl);
    acl_free(&acl);
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

/* SIGHUP: load and check the new file completely (plugins included) before
 * anything changes; a bad file leaves the running configuration in force. */
static void reload(daemon_t *d)
{
    notify_reloading();
    free(d->reload_errors);
    d->reload_errors = NULL;
    json_decref(d->reload_notes);
    d->reload_notes = json_pack("{s:[], s:[]}", "restart_needed", "deferred");
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *next = fo_config_load(d->cfg->path, &errs);
    if (!next) {
        buf_t text = BUF_INIT;
        fo_config_errors_format(&errs, &text);
        reject_reload(d, buf_str(&text));
        buf_free(&text);
        fo_config_errors_free(&errs);
        return;
    }
    fo_config_errors_free(&errs);
    buf_t unsafe = BUF_INIT;
    if (!filesafe_check_config(next, geteuid(), getegid(), &unsafe)) {
        reject_reload(d, buf_str(&unsafe));
        buf_free(&unsafe);
        fo_config_free(next);
        return;
    }
    buf_free(&unsafe);
    char err[1024];
    hooks_t **hooks;
    if (!build_hooks(d, next, &hooks, err, sizeof err)) {
        reject_reload(d, err);
        fo_config_free(next);
        return;
    }
    if (!wiring_webhooks(d->webhooks, next, err, sizeof err)) {
        for (size_t i = 0; i < next->n_clusters; i++)
            hooks_close(hooks[i], NULL, NULL);
        free(hooks);
        wiring_webhooks(d->webhooks, d->cfg, err, sizeof err); /* the old ones back */
        reject_reload(d, err);
        fo_config_free(next);
        return;
    }
    /* Match the new clusters with the running ones by name. A cluster keeps its
     * monitor when its monitoring settings are unchanged, and always while an
     * operation runs on it (the change then waits for the next reload). */
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
                         "for the next reload", nc->name);
            hooks_t *old = rt->hooks;
            rt->hooks = hooks[i];
            hooks[i] = NULL;
            if (old)
                hooks_close(old, NULL, NULL);
            failover_settings_t fs;
            failover_settings(d, nc, &fs);
            failover_update(rt->fo, &fs);
            monitor_routing_from(rt->m, nc);
            monitor_check_grants(rt->m); /* the account's rights may have changed too */
            cl[i] = rt;
            d->cl[k] = NULL;
        }
    }
    char **seen = seen_primaries(d, next, cl);
    for (size_t k = 0; k < d->n_cl; k++)
        if (d->cl[k])
            retire_cluster(d->cl[k]);
    fo_config_t *old_cfg = d->cfg;
    apply_control(d, next);
    note_restart_needed(d, next);
    warn_metrics_listen(d->cfg, next);
    d->cfg = next;
    journal_set_max_bytes(d->journal, (size_t)next->daemon.journal_max_bytes);
    for (size_t i = 0; i < next->n_clusters; i++)
        if (!cl[i]) {
            cl[i] = start_cluster(d, &next->clusters[i], hooks[i]);
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
    buf_t left = BUF_INIT;
    json_t *restart = json_object_get(d->reload_notes, "restart_needed");
    size_t k;
    json_t *v;
    json_array_foreach(restart, k, v) buf_printf(&left, "%s%s", k ? ", " : "", json_string_value(v));
    json_array_foreach(json_object_get(d->reload_notes, "deferred"), k, v)
        buf_printf(&left, "%s%s", left.len ? "; " : "", json_string_value(v));
    event_emit(left.len ? LOG_LVL_WARN : LOG_LVL_NOTICE, EV_CONFIG_RELOADED, NULL, NULL,
               json_pack("{s:s, s:O, s:O}", "file", next->path, "restart_needed", restart,
                         "deferred", json_object_get(d->reload_notes, "deferred")),
               "configuration reloaded from %s%s%s", next->path,
               left.len ? "; not applied until a restart: " : "", buf_str(&left));
    buf_free(&left);
    notify_ready();
}

static void on_signal(uv_signal_t *s, int signum)
{
    daemon_t *d = s->data;
    if (signum == SIGHUP) {
        if (!d->stopping)
            reload(d);
        return;
    }
    if (signum == SIGINT && ++d->sigints > 1) {
        log_warn("second SIGINT: exiting at once");
        _exit(FO_EXIT_FAILURE);
    }
    log_notice("%s received", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop(d);
}

/* The reload command: the same as SIGHUP, answered with its outcome, so that
 * an operator (and systemctl reload) learns whether the file was taken and
 * what waits for a restart. */
static void handle_reload(control_req_t *req, void *ud)
{
    daemon_t *d = ud;
    static const char *const allowed[] = {NULL};
    if (!control_args_only(req, allowed))
        return;
    if (d->stopping) {
        control_reply_error(req, CONTROL_E_FAILED, "failoverd is stopping");
        return;
    }
    log_notice("control: reload requested by uid %u (pid %d)", (unsigned)control_req_uid(req),
               (int)control_req_pid(req));
    reload(d);
    if (d->reload_errors) {
        json_t *errs = json_array();
        for (const char *p = d->reload_errors; *p;) {
            size_t n = strcspn(p, "\n");
            if (n)
                json_array_append_new(errs, json_stringn(p, n));
            p += n + (p[n] ? 1 : 0);
        }
        control_reply_error_with(req, CONTROL_E_FAILED, json_pack("{s:o}", "errors", errs),
                                 "reload of %s rejected, the running configuration stays in "
                                 "force:\n%s", d->cfg->path, d->reload_errors);
        return;
    }
    control_reply_ok(req, json_pack("{s:s, s:O, s:O}", "file", d->cfg->path, "restart_needed",
                                    json_object_get(d->reload_notes, "restart_needed"),
                                    "deferred", json_object_get(d->reload_notes, "deferred")));
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
    acl_from_config(dc, &o.acl);
    o.max_request = (size_t)dc->control_max_request;
    d->ctl = control_create(&d->loop, &o);
    acl_free(&o.acl);
    /* Readers (control_readonly_uids/gids) may run these and nothing else. */
    control_mark_readonly(d->ctl, "status");
    control_mark_readonly(d->ctl, "plan");
    control_mark_readonly(d->ctl, "history");
    control_register(d->ctl, "status", handle_status, d);
    control_register(d->ctl, "plan", handle_plan, d);
    control_register(d->ctl, "failover", handle_failover, d);
    control_register(d->ctl, "switchover", handle_switchover, d);
    control_register(d->ctl, "pause", handle_pause, d);
    control_register(d->ctl, "resume", handle_resume, d);
    control_register(d->ctl, "ack", handle_ack, d);
    control_register(d->ctl, "history", handle_history, d);
    control_register(d->ctl, "reload", handle_reload, d);
    char err[512];
    if (!control_listen(d->ctl, err, sizeof err)) {
        log_error("control socket: %s", err);
        return false;
    }
    return true;
}

int daemon_run(fo_config_t *cfg)
{
    dbconn_process_init();
    daemon_t *d = xcalloc(1, sizeof *d);
    d->cfg = cfg;
    d->exit_code = FO_EXIT_OK;
    note_boot(d, cfg);
    log_set_level(cfg->daemon.log_level);
    if (notify_under_journal())
        log_use_journal(true);
    if (uv_loop_init(&d->loop) != 0) {
        log_error("cannot initialise the event loop");
        fo_config_free(cfg);
        free_boot(d);
        free(d);
        return FO_EXIT_OSERR;
    }
    d->started_mono = uv_now(&d->loop);
    d->watchdog_ms = notify_watchdog_ms();

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
    if (!d->journal) {
        d->exit_code = FO_EXIT_OSERR;
        goto out_loop;
    }

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

    arm_block_loop(d);
    hooks_t **hooks = NULL;
    webhooks_opts_t wo = {0};
    d->webhooks = webhooks_create(&d->loop, &wo);
    /* Before the clusters: each of them takes a sink of its own too. */
    if (cfg->daemon.metrics_listen[0])
        metrics_attach_events();
    bool ok = build_hooks(d, cfg, &hooks, err, sizeof err);
    if (ok && !wiring_webhooks(d->webhooks, cfg, err, sizeof err)) {
        for (size_t i = 0; i < cfg->n_clusters; i++)
            hooks_close(hooks[i], NULL, NULL);
        ok = false;
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
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&d->sig_int, on_closed_handle);
    uv_run(&d->loop, UV_RUN_DEFAULT);
out_loop:
    if (uv_loop_close(&d->loop) != 0)
        log_warn("the event loop still had open handles at exit");
    journal_close(d->journal);
    free(d->reload_errors);
    json_decref(d->reload_notes);
    free_boot(d);
    free(d->cl);
    fo_config_free(d->cfg);
    int rc = d->exit_code;
    free(d);
    return rc;
}
