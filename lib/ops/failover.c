/* failover.c - the operation driver (see failover.h): creating and updating a
 * cluster's operations, the phases (fo_enter), beginning and ending an
 * operation, the failover's prepare -> elect -> promote chain, pause, free.
 * The rest of the operation is in the files failover_int.h lists. */
#include "failover_int.h"

#include "coord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "durability.h"
#include "elect.h"
#include "event.h"
#include "log.h"
#include "rejoin.h"
#include "startup.h"
#include "resume.h"
#include "salvage_run.h"

static void op_release(failover_t *f);
static void really_free(failover_t *f);

char *fo_dup0(const char *s) { return xstrdup(s ? s : ""); }

static void settings_copy(failover_settings_t *d, const failover_settings_t *s)
{
    *d = *s;
    d->cluster = fo_dup0(s->cluster);
    d->user = fo_dup0(s->user);
    d->password = fo_dup0(s->password);
    d->crash_at_step = fo_dup0(s->crash_at_step);
    d->plan.repl_user = fo_dup0(s->plan.repl_user);
    d->plan.repl_password = fo_dup0(s->plan.repl_password);
    d->salvage_command = fo_dup0(s->salvage_command);
    d->salvage_client = fo_dup0(s->salvage_client);
    d->state_dir = fo_dup0(s->state_dir);
    d->salvage_credentials = fo_dup0(s->salvage_credentials);
}

static void settings_free(failover_settings_t *d)
{
    free((char *)d->cluster);
    free((char *)d->user);
    free((char *)d->password);
    free((char *)d->crash_at_step);
    free((char *)d->plan.repl_user);
    free((char *)d->plan.repl_password);
    free((char *)d->salvage_command);
    free((char *)d->salvage_client);
    free((char *)d->state_dir);
    free((char *)d->salvage_credentials);
}

void fo_set_promoted(failover_t *f, const char *node, const char *old)
{
    cluster_t *c = monitor_cluster(f->m);
    free(f->promoted);
    f->promoted = node ? xstrdup(node) : NULL;
    free(c->promoted);
    c->promoted = node ? xstrdup(node) : NULL;
    free(c->demoted);
    c->demoted = node && old ? xstrdup(old) : NULL;
}

static void rejoin_settings(const failover_settings_t *s, rejoin_settings_t *r)
{
    *r = (rejoin_settings_t){.cluster = s->cluster, .user = s->user, .password = s->password,
                             .auto_rejoin = s->auto_rejoin, .plan = s->plan,
                             .coord = s->coord, .relay_down_after_ms = s->down_after_ms,
                             .relay_to_primary = s->relay_to_primary};
}

/* A node the last operation left behind may come back writable at any moment
 * (a hung old primary resumes; a server restarts): while failoverd may act on
 * them, their failed probes do not back off, so a returning node is seen, and
 * fenced, within about one probe interval. */
static void look_closely(failover_t *f, const cluster_t *c, bool may)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        monitor_set_backoff(f->m, i, !(may && (int)i != c->primary));
}

/* A lost relay's replicas are repointed while nothing else runs and the
 * primary is up and writable, whoever made it so (tree.h): not while a
 * failover may be coming, and not on what a node looked like while the last
 * operation ran. */
static bool relay_may(const failover_t *f, const cluster_t *c)
{
    if (f->running || f->interrupted || f->state_unknown || f->paused || f->dying ||
        c->primary < 0 || !c->nodes[c->primary].up || c->nodes[c->primary].last_ok.read_only)
        return false;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].up && c->nodes[i].last_ok.started < f->ended_mono)
            return false;
    return true;
}

static void look(uv_timer_t *t)
{
    failover_t *f = t->data;
    cluster_t *c = monitor_cluster(f->m);
    fo_startup_recheck(f);
    if (f->interrupted && !f->resume_decided)
        fo_try_resume(f);
    /* A manager that just became the leader acts on a primary found dead
     * while it followed. */
    bool leading = f->s.coord && !coord_why_not(f->s.coord);
    if (leading && !f->coord_leading)
        fo_ha_on_leader(f); /* reads the previous leader's operation first */
    f->coord_leading = leading;
    fo_shared_look(f);
    if (f->s.coord && c->primary >= 0 && !f->running)
        coord_publish_primary(f->s.coord, f->s.cluster, c->nodes[c->primary].host,
                              c->nodes[c->primary].port);
    bool may = !(f->running || f->interrupted || f->state_unknown || f->paused || f->dying ||
                 !f->promoted || c->primary < 0 ||
                 strcmp(c->nodes[c->primary].name, f->promoted) != 0 ||
                 coord_why_not(f->s.coord)); /* only the leader rejoins and fences */
    look_closely(f, c, may);
    if (!coord_why_not(f->s.coord) && relay_may(f, c) && rejoin_relay_look(f->rj, c, uv_now(f->loop)))
        return;
    if (!may)
        return;
    /* What a node looked like while the operation ran is no reason to act:
     * wait until every reachable node was probed after it ended. */
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].up && c->nodes[i].last_ok.started < f->ended_mono)
            return;
    rejoin_look(f->rj, c, uv_now(f->loop));
}

failover_t *failover_create(uv_loop_t *loop, monitor_t *m, journal_t *j,
                            const failover_settings_t *s, hooks_t *const *hooks_slot)
{
    failover_t *f = xcalloc(1, sizeof *f);
    f->loop = loop;
    f->m = m;
    f->j = j;
    settings_copy(&f->s, s);
    f->hooks = hooks_slot;
    f->candidate = f->old_primary = -1;
    f->watch_since = uv_now(loop);
    f->created_mono = uv_now(loop);
    uv_timer_init(loop, &f->refresh_timer);
    f->refresh_timer.data = f;
    fo_load_history(f);
    rejoin_settings_t rs;
    rejoin_settings(&f->s, &rs);
    rs.journal = f->j;
    f->rj = rejoin_create(loop, &rs);
    uv_timer_init(loop, &f->look_timer);
    f->look_timer.data = f;
    uv_timer_init(loop, &f->hold_timer);
    f->hold_timer.data = f;
    uv_timer_start(&f->look_timer, look, LOOK_MS, LOOK_MS);
    f->errant_sink = event_add_sink(fo_on_event, f);
    return f;
}

/* A reload while an operation runs: the operation goes on with the settings
 * it started with (every string and timeout it uses comes from f->s, and its
 * executor and rejoin copies may still point there); the new ones take effect
 * when it ends, in op_release(). */
static void defer_settings(failover_t *f, const failover_settings_t *s)
{
    if (f->has_next_s)
        settings_free(&f->next_s);
    settings_copy(&f->next_s, s);
    f->has_next_s = true;
    log_notice("%s: configuration reloaded while a %s runs; its new settings take effect when "
               "the %s ends",
               f->s.cluster, f->kind == OP_FAILOVER ? "failover" : "switchover",
               f->kind == OP_FAILOVER ? "failover" : "switchover");
}

void failover_update(failover_t *f, const failover_settings_t *s)
{
    if (f->running) {
        defer_settings(f, s);
        return;
    }
    failover_settings_t old = f->s;
    settings_copy(&f->s, s);
    settings_free(&old);
    rejoin_settings_t rs;
    rejoin_settings(&f->s, &rs);
    rs.journal = f->j;
    rejoin_update(f->rj, &rs);
}

bool failover_running(const failover_t *f) { return f->running; }

const char *fo_kind_str(op_kind_t k) { return k == OP_FAILOVER ? "failover" : "switchover"; }

/* An operation runs the hooks in force when it began: it holds them until it
 * ends, also when a reload replaces the cluster's hooks meanwhile. */
void fo_op_hold(failover_t *f)
{
    f->op_hooks = f->hooks ? *f->hooks : NULL;
    if (f->op_hooks)
        hooks_hold(f->op_hooks);
}

/* The operation ended: its hooks go back (a reload may have replaced them
 * meanwhile: they close now), and settings a reload brought meanwhile take
 * effect. */
static void op_release(failover_t *f)
{
    if (f->op_hooks)
        hooks_release(f->op_hooks);
    f->op_hooks = NULL;
    if (f->has_next_s) {
        f->has_next_s = false;
        failover_settings_t next = f->next_s;
        memset(&f->next_s, 0, sizeof f->next_s);
        failover_update(f, &next);
        settings_free(&next);
    }
}

/* The journal can't be trusted for this cluster: say so once per cause, and
 * hold every automatic action until an operator acknowledges it. */
void fo_hold_unknown(failover_t *f, const char *why)
{
    if (f->state_unknown)
        return; /* the first cause is the one to look at */
    f->state_unknown = xstrdup(why);
    event_emit(LOG_LVL_ERROR, EV_STATE_UNKNOWN, f->s.cluster, NULL,
               json_pack("{s:s}", "reason", why),
               "state unknown: %s. Automatic failover, fencing and rejoining are held on this "
               "cluster until an operator checks it (`failoverctl status %s`, the nodes "
               "themselves) and runs `failoverctl ack %s`",
               why, f->s.cluster, f->s.cluster);
    fo_shared_changed(f);
}

/* The record that ends the operation: what it did, how long it took, what
 * may be lost, every step's result. extra (may be NULL) is stolen. */
static json_t *end_record(failover_t *f, bool ok, const char *msg, json_t *extra)
{
    cluster_t *c = monitor_cluster(f->m);
    uint64_t took = uv_now(f->loop) - f->started_mono;
    json_t *rec = json_pack("{s:I, s:I, s:s?, s:s?, s:s?}", "wall_ms", (json_int_t)wall_now_ms(),
                            "duration_ms", (json_int_t)took, "old_primary",
                            f->old_primary >= 0 ? c->nodes[f->old_primary].name : NULL,
                            "new_primary",
                            ok && f->candidate >= 0 ? c->nodes[f->candidate].name : NULL, "message",
                            msg);
    if (f->detected_ms)
        json_object_set_new(rec, "detection_ms", json_integer((json_int_t)f->detected_ms));
    if (f->lost && f->lost[0])
        json_object_set_new(rec, "possibly_lost", json_string(f->lost));
    if (f->lost_count)
        json_object_set_new(rec, "possibly_lost_count", json_integer((json_int_t)f->lost_count));
    if (extra) {
        json_object_update(rec, extra);
        json_decref(extra);
    }
    if (f->salvage)
        json_object_set(rec, "salvage", f->salvage);
    json_t *steps = f->earlier_steps ? json_deep_copy(f->earlier_steps) : json_array();
    if (f->exec)
        json_array_extend(steps, exec_results(f->exec));
    json_object_set_new(rec, "steps", steps);
    return rec;
}

/* The terminal phase of an end record's type. */
static op_phase_t end_phase(const char *type, const json_t *rec)
{
    if (strcmp(type, "done") == 0)
        return OP_PHASE_DONE;
    if (strcmp(type, "failed") == 0)
        return OP_PHASE_FAILED;
    return json_is_true(json_object_get(rec, "rolled_back")) ? OP_PHASE_ROLLED_BACK
                                                             : OP_PHASE_ABORTED;
}

/* Everything the operation held, let go: the cluster is idle again. */
static void op_clear(failover_t *f)
{
    f->running = false;
    f->ended_mono = uv_now(f->loop);
    monitor_quiet(f->m, false);
    op_release(f);
    fo_hold_reset(f);
    fo_drop_attempt(f);
    free(f->to);
    f->to = NULL;
    f->lost_count = 0;
    json_decref(f->salvage);
    f->salvage = NULL;
    fo_salvage_gate_clear(f);
    free(f->op);
    f->op = NULL;
    json_decref(f->earlier_steps);
    f->earlier_steps = NULL;
    f->elections = 0;
    fo_forget_before(f);
    fo_phase_reset(f);
}

/* ---- phases ---------------------------------------------------------------------- */

/* A phase whose work is a plan is journaled on entering and on leaving it
 * (opphase.h). Best effort: its steps need their own records to run, so a
 * journal that fails stops the operation there anyway. */
static void fo_journal_plan_phase(failover_t *f, op_phase_t from, op_phase_t to)
{
    if (!f->op)
        return;
    json_t *left = op_phase_left_fields(from, to);
    if (left)
        journal_record(f->j, f->s.cluster, f->op, fo_kind_str(f->kind), "phase_left", left);
    if (op_phase_runs_plan(to) && from != to)
        journal_record(f->j, f->s.cluster, f->op, fo_kind_str(f->kind), "phase",
                       json_pack("{s:s}", "phase", op_phase_str(to)));
}

bool fo_enter(failover_t *f, op_phase_t to, const char *why, const char *record, json_t *fields)
{
    op_machine_t m = f->kind == OP_FAILOVER ? OP_MACHINE_FAILOVER : OP_MACHINE_SWITCHOVER;
    op_phase_t from = f->phase;
    if (!op_transition_find(m, from, to))
        log_error("%s: %s %s: phase %s -> %s is not in the transition table (a bug)",
                  f->s.cluster, op_machine_str(m), f->op ? f->op : "?", op_phase_str(from),
                  op_phase_str(to));
    f->phase = to;
    f->phase_since = uv_now(f->loop);
    log_fields(LOG_LVL_INFO, f->s.cluster, NULL, EV_FAILOVER_STEP, "%s %s: phase %s -> %s: %s",
               op_machine_str(m), f->op ? f->op : "?", op_phase_str(from), op_phase_str(to),
               why ? why : "");
    fo_journal_plan_phase(f, from, to);
    if (!record) {
        json_decref(fields);
        return true;
    }
    if (!fields)
        fields = json_object();
    json_object_set_new(fields, "phase", json_string(op_phase_str(to)));
    return journal_record(f->j, f->s.cluster, f->op, fo_kind_str(f->kind), record, fields);
}

void fo_phase_reset(failover_t *f)
{
    f->phase = OP_PHASE_IDLE;
    f->phase_since = uv_now(f->loop);
}

/* Ends the operation: journal record, status, reply. extra (may be NULL) holds
 * more fields for the record; its reference is stolen. */
void fo_end_op(failover_t *f, const char *type, bool ok, const char *code, const char *msg,
               json_t *extra)
{
    cluster_t *c = monitor_cluster(f->m);
    json_t *rec = end_record(f, ok, msg, extra);
    if (!fo_enter(f, end_phase(type, rec), msg ? msg : type, type, json_deep_copy(rec))) {
        /* The journal does not say how this ended: a restart would find the
         * operation open. Until an operator has looked, act on nothing. */
        buf_t b = BUF_INIT;
        buf_printf(&b, "the end of %s %s (%s) could not be journaled: %s", fo_kind_str(f->kind),
                   f->op, type, journal_last_error(f->j));
        event_emit(LOG_LVL_ERROR, EV_JOURNAL_WRITE_FAILED, f->s.cluster, NULL,
                   json_pack("{s:s, s:s, s:s}", "error", journal_last_error(f->j), "op", f->op,
                             "record", type),
                   "%s", buf_str(&b));
        fo_hold_unknown(f, buf_str(&b));
        buf_free(&b);
    }
    fo_ha_end(f, type);
    json_decref(f->last_op);
    f->last_op = json_deep_copy(rec);
    json_object_set_new(f->last_op, "type", json_string(type));
    json_object_set_new(f->last_op, "kind", json_string(fo_kind_str(f->kind)));
    json_object_set_new(f->last_op, "op", json_string(f->op));
    json_object_set_new(f->last_op, "phase", json_string(op_phase_str(f->phase)));
    if (ok && f->kind == OP_FAILOVER) {
        f->exact_recorded = false;
        f->last_failover_wall = wall_now_ms();
        f->last_acked = false;
        free(f->last_failover_op);
        f->last_failover_op = fo_dup0(f->op);
        fo_forget_carried(f); /* reported by this failover */
    }
    if (ok && f->candidate >= 0)
        fo_set_promoted(f, c->nodes[f->candidate].name,
                        f->old_primary >= 0 ? c->nodes[f->old_primary].name : NULL);
    fo_shared_op_ended(f);
    op_clear(f);
    if (f->reply) {
        failover_reply_fn reply = f->reply;
        f->reply = NULL;
        json_t *result = json_deep_copy(f->last_op);
        reply(f->req_ctx, ok, code, msg, result);
    }
    json_decref(rec);
    if (f->dying)
        really_free(f);
}

/* Keeps the step results of a plan that ended, for the operation's record. */
void fo_keep_steps(failover_t *f, exec_t *x)
{
    if (!f->earlier_steps)
        f->earlier_steps = json_array();
    json_array_extend(f->earlier_steps, exec_results(x));
    if (f->exec == x)
        f->exec = NULL; /* it is finishing: its results are kept now */
}

/* A one-step plan: probe every node afresh (bounded by step_timeout). */
plan_t *fo_refresh_plan(failover_t *f, const char *name, const char *desc)
{
    plan_t *p = xcalloc(1, sizeof *p);
    p->kind = PLAN_FAILOVER_PREPARE;
    p->policy = f->policy;
    p->old_primary = f->old_primary;
    p->candidate = f->candidate;
    p->steps = xcalloc(1, sizeof *p->steps);
    p->n = 1;
    step_t *s = &p->steps[0];
    s->kind = STEP_REFRESH;
    s->role = STEP_ROLE_REFRESH;
    s->hook = FO_HOOK_NONE;
    s->name = xstrdup(name);
    s->desc = xstrdup(desc);
    s->node = s->source = -1;
    s->group = 0;
    s->optional = true; /* report with what is known if a node does not answer in time */
    s->timeout_ms = f->s.plan.step_timeout_ms;
    p->summary = xstrdup(desc);
    return p;
}

/* Availability goes on; what a replica had received before it went
 * backwards (in this failover, or in an aborted one before it: carried)
 * counts as received, so that the loss report names it. */
static void count_gone_as_received(failover_t *f, const cluster_t *c, json_t *back)
{
    size_t bk;
    json_t *br;
    json_array_foreach(back, bk, br)
    {
        int i = cluster_find_node_by_name(c, json_string_value(json_object_get(br, "node")));
        if (i >= 0 && (size_t)i < f->n_before)
            elect_add_received(f->elect, &f->before[i]);
    }
    for (size_t k = 0; k < f->n_carried; k++)
        elect_add_received(f->elect, &f->carried[k]);
}

/* Elects with the latest observations and runs the promote plan. */
void fo_elect_and_promote(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    f->elections++;
    json_t *back = fo_received_went_back(f, c);
    if (json_array_size(back) && f->policy == POLICY_RELIABILITY) {
        fo_abort_regressed(f, back);
        return;
    }
    f->elect = elect_run(c, f->old_primary, f->policy, f->to);
    count_gone_as_received(f, c, back);
    json_decref(back);
    char err[512];
    if (!fo_enter(f, OP_PHASE_ELECTING, "elect with the latest observations", "elect",
                  elect_json(c, f->elect))) {
        snprintf(err, sizeof err, "the election could not be journaled (%s)",
                 journal_last_error(f->j));
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
                   json_pack("{s:s}", "error", err),
                   "failover aborted before any promotion: %s. No node was made writable; the "
                   "replicas' IO threads are stopped. Make the state directory writable, check "
                   "the cluster, then `failoverctl ack %s` and `failoverctl failover %s`",
                   err, f->s.cluster, f->s.cluster);
        fo_hold_unknown(f, err);
        fo_end_op(f, "aborted", false, "failed", err, NULL);
        return;
    }
    if (fo_hold(f))
        return;
    plan_opts_t po = f->s.plan;
    po.salvage_gate = f->salvage_gate;
    f->plan = plan_failover_promote(c, f->old_primary, f->elect, f->policy, &po, err, sizeof err);
    if (!f->plan) {
        /* Say why each node was left out: that is what the operator must fix. */
        buf_t why = BUF_INIT;
        for (size_t k = 0; k < f->elect->n; k++)
            if (f->elect->c[k].excluded)
                buf_printf(&why, "%s%s: %s", why.len ? "; " : " (",
                           c->nodes[f->elect->c[k].node].name, f->elect->c[k].excluded);
        if (why.len)
            buf_puts(&why, ")");
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
                   json_pack("{s:s, s:o}", "error", err, "election", elect_json(c, f->elect)),
                   "failover aborted: %s%s. No node was made writable; the replicas' IO threads "
                   "are stopped. See `failoverctl plan %s` for why each replica was excluded, fix "
                   "one, then run `failoverctl failover %s --to NODE`",
                   err, buf_str(&why), f->s.cluster, f->s.cluster);
        buf_free(&why);
        fo_end_op(f, "aborted", false, "failed", err, NULL);
        return;
    }
    f->candidate = f->elect->chosen;
    /* What may be lost: what the candidate lacks and can't catch up on, and what
     * the old primary had at its last probe that no replica received. */
    buf_t lost = BUF_INIT;
    for (size_t k = 0; k < f->elect->n; k++)
        if (f->elect->c[k].node == f->candidate && f->elect->c[k].lacks &&
            f->elect->n_catchup == 0)
            buf_puts(&lost, f->elect->c[k].missing);
    char *only = elect_primary_only(c, f->old_primary, f->elect);
    if (only[0])
        buf_printf(&lost, "%s%s (on the old primary only)", lost.len ? "; " : "", only);
    free(only);
    free(f->lost);
    f->lost = buf_steal(&lost);
    log_fields(LOG_LVL_NOTICE, f->s.cluster, c->nodes[f->candidate].name, EV_FAILOVER_STEP, "%s",
               f->plan->summary);
    fo_enter(f, OP_PHASE_PROMOTING, f->plan->summary, NULL, NULL);
    fo_start_exec(f, fo_promote_done);
}

/* After the prepare phase: elect with fresh observations, then promote. */
void fo_prepare_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud)
{
    failover_t *f = ud;
    if (outcome != EXEC_DONE) {
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
                   json_pack("{s:s}", "error", msg),
                   "failover aborted before any promotion: %s. No node was made writable; the "
                   "replicas' IO threads may be stopped. Fix the cause and run `failoverctl "
                   "failover %s`",
                   msg, f->s.cluster);
        fo_end_op(f, "aborted", false, "failed", msg, NULL);
        return;
    }
    fo_keep_steps(f, x);
    plan_free(f->plan);
    f->plan = NULL;
    fo_elect_and_promote(f);
}

/* Starts the operation's record; false (f left idle, the cluster held) when
 * its "begin" can't be made durable: then nothing of it may run. */
bool fo_begin(failover_t *f, op_kind_t kind, bool automatic, policy_t policy, const char *to)
{
    cluster_t *c = monitor_cluster(f->m);
    fo_note_unseen_primary(f, kind);
    f->running = true;
    monitor_quiet(f->m, true);
    fo_op_hold(f);
    f->kind = kind;
    f->automatic = automatic;
    f->policy = policy;
    f->op = journal_new_op_id(f->j);
    f->to = to ? xstrdup(to) : NULL;
    f->old_primary = c->primary;
    f->candidate = -1;
    fo_hold_reset(f);
    f->force = false;
    f->started_mono = uv_now(f->loop);
    f->started_wall = wall_now_ms();
    const node_t *p = c->primary >= 0 ? &c->nodes[c->primary] : NULL;
    f->detected_ms = kind == OP_FAILOVER && p && p->fail_since ? f->started_mono - p->fail_since : 0;
    fo_note_old_primary(f);
    if (kind == OP_FAILOVER)
        fo_remember_before(f, c);
    if (!fo_enter(f, OP_PHASE_ADMITTED, automatic ? "the primary is dead" : "an operator asks",
                  "begin",
                  json_pack("{s:s?, s:s, s:b, s:s?, s:I}", "old_primary", p ? p->name : NULL,
                            "policy", policy_str(policy), "automatic", automatic, "to", to,
                            "wall_ms", (json_int_t)f->started_wall))) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "the %s was not started: its journal record could not be made durable "
                       "(%s); nothing was done",
                   fo_kind_str(kind), journal_last_error(f->j));
        event_emit(LOG_LVL_ERROR, EV_JOURNAL_WRITE_FAILED, f->s.cluster, p ? p->name : NULL,
                   json_pack("{s:s, s:s, s:b}", "error", journal_last_error(f->j), "operation",
                             fo_kind_str(kind), "step_ran", 0),
                   "%s", buf_str(&b));
        fo_hold_unknown(f, buf_str(&b));
        buf_free(&b);
        f->running = false;
        fo_forget_before(f);
        monitor_quiet(f->m, false);
        op_release(f);
        free(f->op);
        f->op = NULL;
        free(f->to);
        f->to = NULL;
        fo_phase_reset(f);
        return false;
    }
    event_emit(LOG_LVL_WARN, kind == OP_FAILOVER ? EV_FAILOVER_STARTED : EV_SWITCHOVER_STARTED,
               f->s.cluster, p ? p->name : NULL,
               json_pack("{s:s, s:b, s:s?, s:I}", "policy", policy_str(policy), "automatic",
                         automatic, "to", to, "detection_ms", (json_int_t)f->detected_ms),
               "%s%s of %s started (%s policy)%s%s", automatic ? "automatic " : "",
               fo_kind_str(kind), p ? p->name : "?", policy_str(policy), to ? ", to " : "",
               to ? to : "");
    return true;
}

void failover_on_verdict(failover_t *f, verdict_t old, verdict_t now)
{
    (void)old;
    if (now != VERDICT_DEAD) {
        f->block_reported = false;
        return;
    }
    if (f->running)
        return;
    char why[512];
    if (fo_automatic_blocked(f, why, sizeof why)) {
        if (!f->block_reported)
            event_emit(LOG_LVL_ERROR, EV_FAILOVER_BLOCKED, f->s.cluster, NULL,
                       json_pack("{s:s, s:s?}", "reason", why, "last_failover_op",
                                 f->s.coord && f->last_failover_op && f->last_failover_op[0]
                                     ? f->last_failover_op
                                     : NULL),
                       "the primary is dead but no automatic failover will run: %s", why);
        f->block_reported = true;
        return;
    }
    if (!fo_begin(f, OP_FAILOVER, true, f->s.policy, NULL))
        return;
    fo_prepare(f);
}

void fo_prepare(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    f->plan = plan_failover_prepare(c, f->old_primary, f->policy, &f->s.plan);
    fo_enter(f, OP_PHASE_PREPARING, "stop the replicas' IO threads, fence, look afresh", NULL,
             NULL);
    fo_start_exec(f, fo_prepare_done);
}

/* The cluster was resumed: a primary that is dead now is failed over now, as
 * it would have been if the cluster had not been paused; the verdict will not
 * change again by itself (after_ack does the same for an ack). */
void fo_reconsider(failover_t *f)
{
    if (monitor_cluster(f->m)->detect.verdict != VERDICT_DEAD)
        return;
    f->block_reported = false;
    failover_on_verdict(f, VERDICT_DEAD, VERDICT_DEAD);
}

void failover_pause(failover_t *f, bool paused)
{
    if (f->paused == paused)
        return;
    f->paused = paused;
    event_emit(LOG_LVL_NOTICE, paused ? EV_CLUSTER_PAUSED : EV_CLUSTER_RESUMED, f->s.cluster, NULL,
               NULL, "automatic failover %s", paused ? "paused" : "resumed");
    fo_shared_changed(f);
    if (!paused)
        fo_reconsider(f);
}

static void one_freed(failover_t *f)
{
    if (--f->open > 0)
        return;
    void (*done)(void *) = f->freed;
    void *ud = f->freed_ud;
    free(f);
    if (done)
        done(ud);
}

static void timer_freed(uv_handle_t *h) { one_freed(h->data); }

static void rejoin_freed(void *ud) { one_freed(ud); }

static void really_free(failover_t *f)
{
    free(f->state_unknown);
    event_remove_sink(f->errant_sink);
    free(f->risk_from);
    json_decref(f->interrupted);
    json_decref(f->last_op);
    json_decref(f->salvage);
    fo_ha_free(f);
    fo_shared_free(f);
    fo_salvage_gate_clear(f);
    free(f->promoted);
    free(f->last_failover_op);
    free(f->seen_before);
    fo_forget_carried(f);
    settings_free(&f->s);
    if (f->has_next_s)
        settings_free(&f->next_s);
    f->has_next_s = false;
    f->open = 4;
    free(f->hold_why);
    json_decref(f->hold_unseen);
    fo_bgfence_free(f);
    uv_timer_stop(&f->hold_timer);
    uv_close((uv_handle_t *)&f->hold_timer, timer_freed);
    uv_timer_stop(&f->refresh_timer);
    uv_close((uv_handle_t *)&f->refresh_timer, timer_freed);
    uv_timer_stop(&f->look_timer);
    uv_close((uv_handle_t *)&f->look_timer, timer_freed);
    rejoin_free(f->rj, rejoin_freed, f);
}

void failover_free(failover_t *f, void (*done)(void *ud), void *ud)
{
    f->freed = done;
    f->freed_ud = ud;
    if (f->running) {
        log_notice("%s: finishing the %s in flight before stopping", f->s.cluster,
                   fo_kind_str(f->kind));
        f->dying = true;
        return;
    }
    really_free(f);
}
