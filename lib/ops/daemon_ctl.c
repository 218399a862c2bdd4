/* daemon_ctl.c - the daemon's answers on the control socket: status, plan,
 * the operations, pause and resume, ack, history and reload (docs/protocol.md).
 * Each reads the model and the operations managers on the loop; none blocks.
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
#include "coord.h"

#include "daemon_int.h"

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
                               d->cfg->path, "stalled", uv_now(&d->loop) < d->guard.stalled_until);
    json_t *coordination = d->coord ? coord_status_json(d->coord)
                                    : json_pack("{s:s}", "mode", "standalone");
    control_reply_ok(req, json_pack("{s:o, s:o, s:o}", "daemon", daemon, "clusters", clusters,
                                    "coordination", coordination));
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

/* The cluster of a request whose only argument is "cluster"; replies itself
 * and returns -1 when the arguments are wrong. */
static int cluster_only(daemon_t *d, control_req_t *req)
{
    static const char *const allowed[] = {"cluster", NULL};
    if (!control_args_only(req, allowed))
        return -1;
    return cluster_arg(d, req);
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
                      .to = to,
                      .policy_given = policy != NULL,
                      .policy = policy && strcmp(policy, "availability") == 0 ? POLICY_AVAILABILITY
                                                                              : POLICY_RELIABILITY};
    json_t *j = failover_plan_json(d->cl[i]->fo, &r, err, sizeof err);
    if (!j)
        control_reply_error(
            req, strstr(err, "no node named") ? CONTROL_E_NOT_FOUND : CONTROL_E_FAILED, "%s", err);
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
    static const char *const s_allowed[] = {"cluster", "to",        "policy",
                                            "dry_run", "timeout_s", NULL};
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
    op_request_t r = {.kind = kind,
                      .to = to,
                      .force = force,
                      .dry_run = dry,
                      .policy_given = policy != NULL,
                      .policy = policy && strcmp(policy, "availability") == 0 ? POLICY_AVAILABILITY
                                                                              : POLICY_RELIABILITY,
                      .timeout_ms = (uint64_t)(timeout * 1000)};
    failover_request(d->cl[i]->fo, &r, op_replied, req);
}

static void handle_failover(control_req_t *req, void *ud)
{
    handle_op(req, ud, OP_FAILOVER);
}
static void handle_switchover(control_req_t *req, void *ud)
{
    handle_op(req, ud, OP_SWITCHOVER);
}

static void handle_pause_resume(control_req_t *req, daemon_t *d, bool pause)
{
    int i = cluster_only(d, req);
    if (i < 0)
        return;
    char who[160];
    snprintf(who, sizeof who, "uid %u on %s", (unsigned)control_req_uid(req),
             d->coord ? coord_manager_id(d->coord) : "this manager");
    failover_pause_by(d->cl[i]->fo, pause, who);
    control_reply_ok(req,
                     json_pack("{s:s, s:b}", "cluster", d->cfg->clusters[i].name, "paused", pause));
}

static void handle_pause(control_req_t *req, void *ud)
{
    handle_pause_resume(req, ud, true);
}
static void handle_resume(control_req_t *req, void *ud)
{
    handle_pause_resume(req, ud, false);
}

static void handle_ack(control_req_t *req, void *ud)
{
    daemon_t *d = ud;
    int i = cluster_only(d, req);
    if (i < 0)
        return;
    char msg[1024];
    if (!failover_ack(d->cl[i]->fo, msg, sizeof msg)) {
        control_reply_error(req, CONTROL_E_FAILED, "%s", msg);
        return;
    }
    log_notice("control: %s (uid %u)", msg, (unsigned)control_req_uid(req));
    control_reply_ok(req,
                     json_pack("{s:s, s:s}", "cluster", d->cfg->clusters[i].name, "message", msg));
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
    if (d->coord) {
        daemon_history_etcd(d, req, cluster, limit);
        return;
    }
    json_t *recs = journal_records(d->journal, cluster);
    json_t *ops = failover_history_ops(recs);
    json_t *out = json_array();
    for (size_t k = json_array_size(ops); k-- > 0 && json_array_size(out) < (size_t)limit;)
        json_array_append(out, json_array_get(ops, k));
    json_decref(ops);
    json_decref(recs);
    control_reply_ok(req, json_pack("{s:o}", "operations", out));
}

/* The reload command: the same as SIGHUP, answered with its outcome, so that
 * an operator (and systemctl reload) learns whether the file was taken and
 * what waits for a restart. */
static void reload_answer(daemon_t *d, void *ud);

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
    daemon_reload_start(d, reload_answer, req);
}

/* The reload's outcome, once its check in a child process is done. */
static void reload_answer(daemon_t *d, void *ud)
{
    control_req_t *req = ud;
    if (d->stopping) {
        control_reply_error(req, CONTROL_E_FAILED, "failoverd is stopping");
        return;
    }
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
                                 "force:\n%s",
                                 d->cfg->path, d->reload_errors);
        return;
    }
    control_reply_ok(req, json_pack("{s:s, s:O, s:O}", "file", d->cfg->path, "restart_needed",
                                    json_object_get(d->reload_notes, "restart_needed"), "deferred",
                                    json_object_get(d->reload_notes, "deferred")));
}

/* Coordination: a manager that is not the leader changes nothing; it refuses
 * and names the leader (reload is its own business and stays allowed). */
static bool leader_gate(const char *cmd, char *why, size_t len, json_t **extra, void *ud)
{
    daemon_t *d = ud;
    const char *no = coord_why_not(d->coord);
    if (!no || strcmp(cmd, "reload") == 0)
        return true;
    snprintf(why, len, "%s; send %s to the leader", no, cmd);
    json_t *st = coord_status_json(d->coord);
    *extra = json_pack("{s:O}", "leader", json_object_get(st, "leader"));
    json_decref(st);
    return false;
}

void daemon_register_commands(daemon_t *d)
{
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
    if (d->coord)
        control_set_gate(d->ctl, leader_gate, d);
}
