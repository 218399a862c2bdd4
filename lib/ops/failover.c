/* failover.c - see failover.h. */
#include "failover.h"

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

#define REFRESH_POLL_MS 20
#define LOOK_MS 250
/* How long a restarted daemon waits for every node's first probe before it
 * decides on an interrupted switchover with what it has seen. */
#define RESUME_WAIT_MS 10000
#define HOLD_POLL_MS 100

struct failover {
    uv_loop_t *loop;
    monitor_t *m;
    journal_t *j;
    failover_settings_t s;    /* strings owned (copies) */
    hooks_t *const *hooks;
    bool paused;

    /* The operation in flight. */
    bool running;
    op_kind_t kind;
    bool automatic;
    policy_t policy;
    char *op;
    char *to;
    int old_primary;
    int candidate;
    plan_t *plan;
    exec_t *exec;
    elect_result_t *elect;
    uint64_t started_mono, started_wall, detected_ms;
    failover_reply_fn reply;
    void *req_ctx;
    char *lost;               /* what may have been lost */
    uint64_t lost_count;      /* transactions in it; 0 when unknown or none */
    int elections;            /* elections run by this failover (a lost candidate: again) */
    char *fail_msg;           /* a failed promote plan: what failed */
    bool fail_past_no_return; /* ... after a node may have been made writable */
    json_t *earlier_steps;    /* step results of this operation's earlier plans */

    /* The refresh step. */
    uv_timer_t refresh_timer;
    uint64_t refresh_since;
    exec_answer_fn refresh_answer;
    void *refresh_token;

    /* The nodes the last operation left behind (rejoin.h). */
    rejoin_t *rj;
    uv_timer_t look_timer;
    char *promoted;           /* the node failoverd made the primary last, or NULL */
    uint64_t ended_mono;      /* when the last operation ended (loop ms); 0: none yet */

    /* History. */
    uint64_t last_failover_wall; /* end of the last failover, wall ms; 0 none */
    char *last_failover_op;      /* its operation id (an ack names it), or NULL */
    bool last_acked;
    json_t *interrupted;      /* the open operation found in the journal, or NULL */
    json_t *last_op;          /* summary of the last finished operation */
    bool block_reported;

    int open;                 /* timers and the rejoin still to close when freeing */
    bool dying;               /* failover_free() was called during an operation */
    void (*freed)(void *);
    void *freed_ud;

    /* What each node had received when the failover began (its last
     * successful observation, GTID fields only): the refresh is compared with
     * it (received_went_back). n_before entries, or NULL. */
    observation_t *before;
    size_t n_before;
    bool regress_reported;    /* the received_regressed events were emitted */
    /* What the operation in flight owns until it ends: the hooks it started
     * with (held), and settings a reload brought meanwhile, which wait for it
     * (see failover_update). */
    hooks_t *op_hooks;
    failover_settings_t next_s;
    bool has_next_s;

    /* A primary not reached since the watch began (startup.h). */
    uint64_t watch_since;   /* monotonic ms when this cluster's watch began */
    uint64_t startup_until; /* availability: the grace ends then; 0: not waiting */
    char *seen_before;      /* the primary the watch before a reload had reached, or NULL */
    bool startup_confirmed; /* an ack of an interrupted operation confirmed the failover */
    /* The journal can't be trusted for this cluster (damaged, unreadable, or
     * a record of it could not be made durable): why; automatic actions are
     * held until an operator acknowledges it. NULL when it can. */
    char *state_unknown;
    bool journal_damaged;     /* ... because of damage found in the file */
    bool resume_decided;      /* an interrupted switchover was looked at after the restart */
    uint64_t created_mono;
    /* What the failover in flight knows of the old primary's durability (durability.h). */
    uint64_t risk_since_wall; /* semi-sync had fallen back on it at this time; 0: it had not */
    char *risk_from;          /* what its replicas held when the fallback was seen */
    uint64_t seen_wall;       /* its last successful probe, wall ms; 0: never */
    int errant_sink;          /* event sink: a returning old primary's extra transactions */
    bool exact_recorded;      /* the last failover's exact loss is in the journal */
    /* Reliability's hold (elect_hold): the promotion waits, bounded by
     * unseen_hold, for the replicas it can't see. */
    bool force;               /* the operator accepts what can't be ruled out (--force) */
    uint64_t hold_until;      /* monotonic ms; 0 while not holding */
    char *hold_why;           /* why it holds (or, not holding, what was not seen) */
    json_t *hold_unseen;      /* names of the replicas it waits for */
    uv_timer_t hold_timer;
};

static void really_free(failover_t *f);
static void hold_unknown(failover_t *f, const char *why);

static void hold_reset(failover_t *f);
static void prepare_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud);

static char *dup0(const char *s) { return xstrdup(s ? s : ""); }

static void settings_copy(failover_settings_t *d, const failover_settings_t *s)
{
    *d = *s;
    d->cluster = dup0(s->cluster);
    d->user = dup0(s->user);
    d->password = dup0(s->password);
    d->crash_at_step = dup0(s->crash_at_step);
    d->plan.repl_user = dup0(s->plan.repl_user);
    d->plan.repl_password = dup0(s->plan.repl_password);
}

static void settings_free(failover_settings_t *d)
{
    free((char *)d->cluster);
    free((char *)d->user);
    free((char *)d->password);
    free((char *)d->crash_at_step);
    free((char *)d->plan.repl_user);
    free((char *)d->plan.repl_password);
}

static void set_promoted(failover_t *f, const char *node)
{
    cluster_t *c = monitor_cluster(f->m);
    free(f->promoted);
    f->promoted = node ? xstrdup(node) : NULL;
    free(c->promoted);
    c->promoted = node ? xstrdup(node) : NULL;
}

static void rejoin_settings(const failover_settings_t *s, rejoin_settings_t *r)
{
    *r = (rejoin_settings_t){.cluster = s->cluster, .user = s->user, .password = s->password,
                             .auto_rejoin = s->auto_rejoin, .plan = s->plan};
}

static uint64_t wall_of(json_t *rec)
{
    return (uint64_t)json_integer_value(json_object_get(rec, "wall_ms"));
}

/* Where an interrupted operation stopped, from its journal records: the last
 * step it journaled and how far that step got ("started": the daemon died
 * while it ran, so its effect is unknown; "done"; "failed"), the candidate of
 * its last election, and whether the promotion had not started, was done,
 * or started with an unknown outcome. New reference. */
static json_t *interrupted_summary(json_t *records)
{
    const char *step = NULL, *state = NULL, *candidate = NULL, *promotion = "not started";
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        const char *name = json_string_value(json_object_get(rec, "step"));
        if (!type)
            continue;
        if (strcmp(type, "elect") == 0) {
            candidate = json_string_value(json_object_get(rec, "chosen"));
            promotion = "not started";
        }
        if (!name)
            continue;
        bool started = strcmp(type, "step") == 0, done = strcmp(type, "step_done") == 0;
        /* A switchover's candidate is in the names of its steps before the
         * promotion (it has no election record). */
        if (!candidate && (strncmp(name, "check_lag:", 10) == 0 || strncmp(name, "sync:", 5) == 0))
            candidate = strchr(name, ':') + 1;
        step = name;
        state = started ? "started" : done ? "done" : "failed";
        if (strncmp(name, "promote:", 8) == 0) {
            candidate = name + 8;
            promotion = started ? "unknown" : done ? "done" : "failed";
        }
    }
    return json_pack("{s:s?, s:s?, s:s?, s:s}", "step", step, "step_state", state, "candidate",
                     candidate, "promotion", promotion);
}

/* How far the step of this name got in records: "started", "done", "failed",
 * or NULL when it was never journaled. */
static const char *op_step_state(json_t *records, const char *step)
{
    const char *state = NULL;
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        const char *name = json_string_value(json_object_get(rec, "step"));
        if (!type || !name || strcmp(name, step) != 0)
            continue;
        state = strcmp(type, "step") == 0        ? "started"
                : strcmp(type, "step_done") == 0 ? "done"
                                                 : "failed";
    }
    return state;
}

/* Reads what the journal knows of this cluster: an interrupted operation, the
 * last failover's end and whether it was acknowledged. */
static void load_history(failover_t *f)
{
    char dmg[600];
    if (journal_damage(f->j, f->s.cluster, dmg, sizeof dmg)) {
        f->journal_damaged = true;
        hold_unknown(f, dmg);
    }
    f->interrupted = journal_open_op(f->j, f->s.cluster);
    /* The primary of an interrupted operation is the primary until a node is
     * made writable, whatever its steps pointed the replicas at (model.h). */
    cluster_t *c = monitor_cluster(f->m);
    const char *was = f->interrupted ? json_string_value(json_object_get(
                                           json_array_get(f->interrupted, 0), "old_primary"))
                                     : NULL;
    if (was && cluster_find_node_by_name(c, was) >= 0)
        c->primary = cluster_find_node_by_name(c, was);
    json_t *all = journal_records(f->j, f->s.cluster);
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        const char *kind = json_string_value(json_object_get(rec, "kind"));
        if (!type)
            continue;
        if (strcmp(type, "done") == 0 && kind && strcmp(kind, "failover") == 0) {
            f->last_failover_wall = wall_of(rec);
            f->last_acked = false;
            free(f->last_failover_op);
            f->last_failover_op = dup0(json_string_value(json_object_get(rec, "op")));
        } else if (strcmp(type, "ack") == 0) {
            f->last_acked = true;
        }
        if (strcmp(type, "done") == 0) {
            f->exact_recorded = false;
        } else if (strcmp(type, "loss_found") == 0) {
            f->exact_recorded = true;
            const char *op = json_string_value(json_object_get(rec, "op"));
            const char *last = json_string_value(json_object_get(f->last_op, "op"));
            static const char *const keys[] = {"lost_exact", "lost_exact_count", "lost_exact_found",
                                               "lost_exact_node", NULL};
            for (const char *const *k = keys; op && last && strcmp(op, last) == 0 && *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(f->last_op, *k, json_object_get(rec, *k));
        }
        if (strcmp(type, "done") == 0)
            set_promoted(f, json_string_value(json_object_get(rec, "new_primary")));
        if (strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
            strcmp(type, "aborted") == 0) {
            json_decref(f->last_op);
            f->last_op = json_deep_copy(rec);
        }
    }
    json_decref(all);
    if (f->interrupted) {
        json_t *sum = interrupted_summary(f->interrupted);
        const char *step = json_string_value(json_object_get(sum, "step"));
        const char *state = json_string_value(json_object_get(sum, "step_state"));
        const char *cand = json_string_value(json_object_get(sum, "candidate"));
        const char *promo = json_string_value(json_object_get(sum, "promotion"));
        json_t *first = json_array_get(f->interrupted, 0);
        buf_t where = BUF_INIT;
        if (step)
            buf_printf(&where, " at step %s (%s)", step,
                       strcmp(state, "started") == 0
                           ? "started, not finished: its effect is unknown"
                           : state);
        const char *bw = NULL;
        size_t k;
        json_t *r;
        json_array_foreach(f->interrupted, k, r)
        {
            const char *nm = json_string_value(json_object_get(r, "step"));
            if (nm && strncmp(nm, "block_writes:", 13) == 0)
                bw = nm + 13;
        }
        const char *kd = json_string_value(json_object_get(first, "kind"));
        bool sw = kd && strcmp(kd, "switchover") == 0;
        if (sw && strcmp(promo, "not started") == 0)
            buf_printf(&where, "; nothing had been promoted%s%s%s", bw ? ", and " : "",
                       bw ? bw : "", bw ? " may have been made read-only: if it is, and no node "
                                          "is writable, make it writable again"
                                    : "");
        else if (!cand)
            buf_puts(&where, "; no new primary had been elected");
        else if (strcmp(promo, "done") == 0)
            buf_printf(&where, "; %s had been promoted (made writable), the rest was not done",
                       cand);
        else if (strcmp(promo, "unknown") == 0)
            buf_printf(&where, "; the promotion of %s had started: %s may or may not be writable",
                       cand, cand);
        else
            buf_printf(&where, "; %s had been elected but not promoted: no node was made writable",
                       cand);
        bool resumable = sw && cand &&
                         (strcmp(promo, "done") == 0 || strcmp(promo, "unknown") == 0);
        if (cand && strcmp(promo, "not started") != 0) {
            const char *pp = op_step_state(f->interrupted, "hook:post_promotion");
            if (!pp || strcmp(pp, "done") != 0)
                buf_printf(&where, "; the post_promotion hooks (they move the traffic) %s",
                           !pp ? "did not run" : strcmp(pp, "started") == 0
                                                     ? "were started, not finished"
                                                     : "failed");
        }
        json_t *d = json_pack("{s:O, s:s?}", "records", f->interrupted, "last_step", step);
        json_object_update(d, sum);
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_INTERRUPTED, f->s.cluster, NULL, d,
                   "a %s of this cluster (operation %s) was interrupted%s. %s",
                   kd ? kd : "operation",
                   json_string_value(json_object_get(first, "op")), buf_str(&where),
                   resumable ? "The switchover is finished as soon as the nodes, probed now, "
                               "show that it is safe (switchover_resumed); else nothing is done "
                               "automatically until an operator checks the cluster and "
                               "acknowledges it"
                             : "Nothing will be done automatically until an operator checks "
                               "the cluster and runs `failoverctl ack`");
        buf_free(&where);
        json_decref(sum);
    }
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
static void startup_recheck(failover_t *f);

/* The nodes left behind by the last operation, when failoverd may act: no
 * operation running or interrupted, not paused, and the primary is the node
 * failoverd promoted last. */
static void try_resume(failover_t *f);

static void look(uv_timer_t *t)
{
    failover_t *f = t->data;
    cluster_t *c = monitor_cluster(f->m);
    startup_recheck(f);
    if (f->interrupted && !f->resume_decided)
        try_resume(f);
    bool may = !(f->running || f->interrupted || f->state_unknown || f->paused || f->dying ||
                 !f->promoted || c->primary < 0 ||
                 strcmp(c->nodes[c->primary].name, f->promoted) != 0);
    look_closely(f, c, may);
    if (!may)
        return;
    /* What a node looked like while the operation ran is no reason to act:
     * wait until every reachable node was probed after it ended. */
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].up && c->nodes[i].last_ok.started < f->ended_mono)
            return;
    rejoin_look(f->rj, c, uv_now(f->loop));
}

/* A returning old primary whose extra transactions rejoin found (node_errant):
 * the exact loss of the failover that left it behind goes into that
 * failover's history, once. What the failover reported was a lower bound. */
static void on_event(const event_t *ev, void *ud)
{
    failover_t *f = ud;
    if (strcmp(ev->name, EV_NODE_ERRANT) != 0 || !ev->cluster || !ev->node ||
        strcmp(ev->cluster, f->s.cluster) != 0 || f->exact_recorded || !f->last_failover_op ||
        !f->last_failover_op[0] || !f->last_op)
        return;
    const char *op = json_string_value(json_object_get(f->last_op, "op"));
    const char *old = json_string_value(json_object_get(f->last_op, "old_primary"));
    if (!op || strcmp(op, f->last_failover_op) != 0 || !old || strcmp(old, ev->node) != 0)
        return;
    cluster_t *c = monitor_cluster(f->m);
    int i = cluster_find_node_by_name(c, ev->node);
    bool mariadb = i >= 0 && c->nodes[i].last_ok.family == FAMILY_MARIADB;
    if (i >= 0 && !c->nodes[i].last_ok.ok && c->primary >= 0)
        mariadb = c->nodes[c->primary].last_ok.family == FAMILY_MARIADB;
    durability_range_t r;
    char err[256];
    if (!durability_exact_loss(mariadb, json_string_value(json_object_get(ev->data, "gtid")),
                               json_string_value(json_object_get(ev->data, "primary_gtid")), &r,
                               err, sizeof err)) {
        log_warn("%s: cannot count what %s has beyond the primary: %s", f->s.cluster, ev->node,
                 err);
        return;
    }
    char ts[32];
    format_wall_ms(ev->wall_ms, ts, sizeof ts);
    json_t *rec =
        json_pack("{s:s, s:I, s:s, s:s}", "lost_exact", r.text, "lost_exact_count",
                  (json_int_t)r.count, "lost_exact_found", ts, "lost_exact_node", ev->node);
    if (!journal_record(f->j, f->s.cluster, op, "failover", "loss_found", json_deep_copy(rec)))
        log_warn("%s: the exact loss of failover %s could not be journaled", f->s.cluster, op);
    json_object_update(f->last_op, rec);
    json_decref(rec);
    f->exact_recorded = true;
    log_fields(LOG_LVL_NOTICE, f->s.cluster, ev->node, "failover_loss",
               "failover %s lost exactly %llu transactions (%s): %s is back with them", op,
               (unsigned long long)r.count, r.text, ev->node);
    durability_range_free(&r);
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
    load_history(f);
    rejoin_settings_t rs;
    rejoin_settings(&f->s, &rs);
    f->rj = rejoin_create(loop, &rs);
    uv_timer_init(loop, &f->look_timer);
    f->look_timer.data = f;
    uv_timer_init(loop, &f->hold_timer);
    f->hold_timer.data = f;
    uv_timer_start(&f->look_timer, look, LOOK_MS, LOOK_MS);
    f->errant_sink = event_add_sink(on_event, f);
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
    rejoin_update(f->rj, &rs);
}

bool failover_running(const failover_t *f) { return f->running; }

static const char *kind_str(op_kind_t k) { return k == OP_FAILOVER ? "failover" : "switchover"; }

/* ---- the refresh step ------------------------------------------------------ */

static void refresh_check(uv_timer_t *t)
{
    failover_t *f = t->data;
    cluster_t *c = monitor_cluster(f->m);
    for (size_t i = 0; i < c->n_nodes; i++) {
        /* An old primary that is down is never elected, and its fresh probe
         * would only end at its timeout: not waited for. Should it answer
         * meanwhile, it is up, and waited for like every other node. */
        if ((int)i == f->old_primary && !c->nodes[i].up)
            continue;
        if (c->nodes[i].last_probe_at < f->refresh_since)
            return; /* not yet: the step's own deadline bounds this */
    }
    uv_timer_stop(&f->refresh_timer);
    exec_answer_fn answer = f->refresh_answer;
    f->refresh_answer = NULL;
    if (answer)
        answer(f->refresh_token, 0, NULL);
}

static void do_refresh(const step_t *s, exec_answer_fn answer, void *token, void *ud)
{
    failover_t *f = ud;
    (void)s;
    f->refresh_since = uv_now(f->loop);
    f->refresh_answer = answer;
    f->refresh_token = token;
    monitor_probe_all_now(f->m);
    uv_timer_start(&f->refresh_timer, refresh_check, REFRESH_POLL_MS, REFRESH_POLL_MS);
}

typedef struct {
    exec_answer_fn answer;
    void *token;
} hook_wait_t;

static void hook_done(const hooks_report_t *r, void *ud)
{
    hook_wait_t *w = ud;
    char msg[512] = "";
    for (size_t i = 0; i < r->n_results && !msg[0]; i++)
        if (r->results[i].outcome != HOOKS_OK)
            hooks_result_reason(&r->results[i], msg, sizeof msg);
    w->answer(w->token, (int)r->outcome, msg);
    free(w);
}

static failoverd_node_ref_t node_ref(const cluster_t *c, int i)
{
    failoverd_node_ref_t r = {0};
    if (i >= 0)
        r = (failoverd_node_ref_t){.name = c->nodes[i].name, .host = c->nodes[i].host,
                                   .port = (int)c->nodes[i].port};
    return r;
}

/* Hook steps: the cluster's scripts and plugins, with what the operation knows. */
static void do_hook(const step_t *s, exec_answer_fn answer, void *token, void *ud)
{
    failover_t *f = ud;
    hooks_t *h = f->op_hooks;
    failoverd_hook_point_t point = (failoverd_hook_point_t)s->hook;
    if (!h) {
        answer(token, HOOKS_OK, NULL);
        return;
    }
    if (!fo_hook_info(s->hook)) {
        answer(token, HOOKS_FAILED, "unknown hook point");
        return;
    }
    cluster_t *c = monitor_cluster(f->m);
    failoverd_timing_t timings[2] = {{.name = "detection_ms", .ms = (int64_t)f->detected_ms},
                                     {.name = "elapsed_ms",
                                      .ms = (int64_t)(uv_now(f->loop) - f->started_mono)}};
    bool promoted = f->plan && f->plan->kind != PLAN_FAILOVER_PREPARE &&
                    (point == FAILOVERD_HOOK_POST_PROMOTION ||
                     point == FAILOVERD_HOOK_POST_FAILOVER ||
                     point == FAILOVERD_HOOK_SWITCHOVER_AFTER);
    /* After the promotion the loss is known as well as it will be: count it for the hooks. */
    const char *kept =
        f->kind == OP_FAILOVER && f->elect && f->exec ? exec_captured(f->exec) : NULL;
    if (kept) {
        free(f->lost);
        f->lost = elect_lost(c, f->old_primary, f->elect, kept, &f->lost_count);
    }
    char as_of[32] = "";
    if (f->kind == OP_FAILOVER && f->seen_wall)
        format_wall_ms(f->seen_wall, as_of, sizeof as_of);
    failoverd_context_t ctx = {
        .size = sizeof ctx,
        .lost_at_least = (int64_t)f->lost_count,
        .lost_as_of = as_of,
        .event = f->kind == OP_FAILOVER ? EV_FAILOVER_STARTED : EV_SWITCHOVER_STARTED,
        .operation = f->op,
        .policy = policy_str(f->policy),
        .old_primary = node_ref(c, f->old_primary),
        .new_primary = node_ref(c, promoted ? f->candidate : -1),
        .candidate = node_ref(c, f->candidate),
        .lost_gtids = f->lost,
        .timings = timings,
        .n_timings = 2,
        .message = f->plan ? f->plan->summary : NULL,
    };
    hook_wait_t *w = xmalloc(sizeof *w);
    w->answer = answer;
    w->token = token;
    hooks_run_point(h, point, &ctx, hook_done, w);
}

/* ---- received sets that go backwards ------------------------------------------ */

static void forget_before(failover_t *f)
{
    for (size_t i = 0; i < f->n_before; i++)
        observation_clear(&f->before[i]);
    free(f->before);
    f->before = NULL;
    f->n_before = 0;
    f->regress_reported = false;
}

/* Keeps what every node had received as last observed before the failover. */
static void remember_before(failover_t *f, const cluster_t *c)
{
    forget_before(f);
    f->before = xcalloc(c->n_nodes + 1, sizeof *f->before);
    f->n_before = c->n_nodes;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const observation_t *o = &c->nodes[i].last_ok;
        observation_t *b = &f->before[i];
        b->ok = o->ok;
        b->at = o->at;
        b->family = o->family;
        b->replica = o->replica;
        b->gtid_executed = o->gtid_executed ? xstrdup(o->gtid_executed) : NULL;
        b->received_gtids = o->received_gtids ? xstrdup(o->received_gtids) : NULL;
        b->executed_gtids = o->executed_gtids ? xstrdup(o->executed_gtids) : NULL;
        b->gtid_error = o->gtid_error ? xstrdup(o->gtid_error) : NULL;
        observation_parse_gtids(b);
    }
}

/* The replicas (up now, other than the old primary) whose received set went
 * backwards between the last probe before the failover and now (the
 * refresh): a server threw away transactions it had received and, under
 * semi-sync, acknowledged (MariaDB discards the relay log when a replication
 * thread starts while both are stopped; a restarted replica may lose it too).
 * Whatever rule did it, a reliability failover can't promote past it: those
 * transactions may be on no other node. Returns [{node, lost, lost_count,
 * received_before, executed_before, received_now, executed_now}], empty when
 * none; the first time in an operation, they are journaled (regressed) and
 * each is reported (received_regressed). */
static json_t *received_went_back(failover_t *f, const cluster_t *c)
{
    json_t *out = json_array();
    for (size_t i = 0; i < f->n_before && i < c->n_nodes; i++) {
        const node_t *nd = &c->nodes[i];
        if ((int)i == f->old_primary || !nd->up)
            continue;
        uint64_t n = 0;
        char *lost = elect_received_regress(&f->before[i], &nd->last_ok, &n);
        if (lost[0]) {
            json_array_append_new(
                out, json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:I}", "node", nd->name,
                               "received_before", f->before[i].received_gtids,
                               "executed_before", f->before[i].executed_gtids,
                               "received_now", nd->last_ok.received_gtids, "executed_now",
                               nd->last_ok.executed_gtids, "lost", lost, "lost_count",
                               (json_int_t)n));
        }
        free(lost);
    }
    if (json_array_size(out) && !f->regress_reported) {
        f->regress_reported = true;
        journal_record(f->j, f->s.cluster, f->op, kind_str(f->kind), "regressed",
                       json_pack("{s:O}", "replicas", out));
        size_t k;
        json_t *r;
        json_array_foreach(out, k, r)
        {
            const char *name = json_string_value(json_object_get(r, "node"));
            json_int_t n = json_integer_value(json_object_get(r, "lost_count"));
            event_emit(LOG_LVL_ERROR, EV_RECEIVED_REGRESSED, f->s.cluster, name, json_deep_copy(r),
                       "%s no longer holds %lld transaction%s it had received before the "
                       "failover (%s): its received set went backwards between the last probe "
                       "before the failover and the refresh; the server discarded them",
                       name, (long long)n, n == 1 ? "" : "s",
                       json_string_value(json_object_get(r, "lost")));
        }
    }
    return out;
}

/* ---- finishing ----------------------------------------------------------------- */

/* An operation runs the hooks in force when it began: it holds them until it
 * ends, also when a reload replaces the cluster's hooks meanwhile. */
static void op_hold(failover_t *f)
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
static void hold_unknown(failover_t *f, const char *why)
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
}

/* Ends the operation: journal record, status, reply. extra (may be NULL) holds
 * more fields for the record; its reference is stolen. */
static void end_op(failover_t *f, const char *type, bool ok, const char *code, const char *msg,
                   json_t *extra)
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
    json_t *steps = f->earlier_steps ? json_deep_copy(f->earlier_steps) : json_array();
    if (f->exec)
        json_array_extend(steps, exec_results(f->exec));
    json_object_set_new(rec, "steps", steps);
    if (!journal_record(f->j, f->s.cluster, f->op, kind_str(f->kind), type, json_deep_copy(rec))) {
        /* The journal does not say how this ended: a restart would find the
         * operation open. Until an operator has looked, act on nothing. */
        buf_t b = BUF_INIT;
        buf_printf(&b, "the end of %s %s (%s) could not be journaled: %s", kind_str(f->kind),
                   f->op, type, journal_last_error(f->j));
        event_emit(LOG_LVL_ERROR, EV_JOURNAL_WRITE_FAILED, f->s.cluster, NULL,
                   json_pack("{s:s, s:s, s:s}", "error", journal_last_error(f->j), "op", f->op,
                             "record", type),
                   "%s", buf_str(&b));
        hold_unknown(f, buf_str(&b));
        buf_free(&b);
    }
    json_decref(f->last_op);
    f->last_op = json_deep_copy(rec);
    json_object_set_new(f->last_op, "type", json_string(type));
    json_object_set_new(f->last_op, "kind", json_string(kind_str(f->kind)));
    json_object_set_new(f->last_op, "op", json_string(f->op));
    if (ok && f->kind == OP_FAILOVER) {
        f->exact_recorded = false;
        f->last_failover_wall = wall_now_ms();
        f->last_acked = false;
        free(f->last_failover_op);
        f->last_failover_op = dup0(f->op);
    }
    if (ok && f->candidate >= 0)
        set_promoted(f, c->nodes[f->candidate].name);
    f->running = false;
    f->ended_mono = uv_now(f->loop);
    monitor_quiet(f->m, false);
    op_release(f);
    f->exec = NULL;
    hold_reset(f);
    plan_free(f->plan);
    f->plan = NULL;
    elect_free(f->elect);
    f->elect = NULL;
    free(f->to);
    f->to = NULL;
    free(f->lost);
    f->lost = NULL;
    f->lost_count = 0;
    free(f->op);
    f->op = NULL;
    free(f->fail_msg);
    f->fail_msg = NULL;
    json_decref(f->earlier_steps);
    f->earlier_steps = NULL;
    f->elections = 0;
    forget_before(f);
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

static void start_exec(failover_t *f, exec_done_cb done);
static void elect_and_promote(failover_t *f);

/* Keeps the step results of a plan that ended, for the operation's record. */
static void keep_steps(failover_t *f, exec_t *x)
{
    if (!f->earlier_steps)
        f->earlier_steps = json_array();
    json_array_extend(f->earlier_steps, exec_results(x));
    if (f->exec == x)
        f->exec = NULL; /* it is finishing: its results are kept now */
}

/* The nodes that are up and writable, as last observed: "db2, db3" or "none". */
static void writable_nodes(const cluster_t *c, buf_t *out, json_t *list)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].up && c->nodes[i].last_ok.ok && !c->nodes[i].last_ok.read_only) {
            buf_printf(out, "%s%s", out->len ? ", " : "", c->nodes[i].name);
            json_array_append_new(list, json_string(c->nodes[i].name));
        }
    if (!out->len)
        buf_puts(out, "none");
}

/* A one-step plan: probe every node afresh (bounded by step_timeout). */
static plan_t *refresh_plan(failover_t *f, const char *name, const char *desc)
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
    s->name = xstrdup(name);
    s->desc = xstrdup(desc);
    s->node = s->source = -1;
    s->group = 0;
    s->optional = true; /* report with what is known if a node does not answer in time */
    s->timeout_ms = f->s.plan.step_timeout_ms;
    p->summary = xstrdup(desc);
    return p;
}

/* After a failed promote plan and a fresh look at every node: elect again, or
 * end the operation in the state observed. Rules:
 *   - the failure came before the point of no return (nothing was sent that
 *     makes a node writable) and the candidate is down now: it died during the
 *     failover; elect again without it (bounded by the number of nodes);
 *   - before the point of no return otherwise: aborted, no node was made
 *     writable (the observed writable nodes are listed);
 *   - the promotion itself failed: the candidate's observed state says
 *     whether it was made writable; if it can't be reached that is unknown,
 *     and the operator must look at it before anything else is promoted. */
static void failure_refreshed(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud)
{
    failover_t *f = ud;
    (void)outcome;
    (void)msg;
    cluster_t *c = monitor_cluster(f->m);
    keep_steps(f, x);
    const node_t *cn = &c->nodes[f->candidate];
    const char *cand = cn->name;
    buf_t w = BUF_INIT;
    json_t *wl = json_array();
    writable_nodes(c, &w, wl);
    if (!f->fail_past_no_return && !cn->up && f->elections < (int)c->n_nodes - 1) {
        event_emit(LOG_LVL_WARN, EV_FAILOVER_RETRY, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:i}", "lost_candidate", cand, "error", f->fail_msg,
                             "election", f->elections + 1),
                   "candidate %s was lost before its promotion (%s); electing again without it",
                   cand, f->fail_msg);
        json_decref(wl);
        buf_free(&w);
        plan_free(f->plan);
        f->plan = NULL;
        elect_free(f->elect);
        f->elect = NULL;
        free(f->lost);
        f->lost = NULL;
        free(f->fail_msg);
        f->fail_msg = NULL;
        f->candidate = -1;
        f->exec = NULL;
        elect_and_promote(f);
        return;
    }
    char *err = f->fail_msg;
    f->fail_msg = NULL;
    if (!f->fail_past_no_return) {
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:o}", "error", err, "candidate", cand, "writable", wl),
                   "failover aborted before any promotion: %s. No node was made writable "
                   "(writable now: %s); the replicas' IO threads are stopped. Fix the cause and "
                   "run `failoverctl failover %s`",
                   err, buf_str(&w), f->s.cluster);
        end_op(f, "aborted", false, "failed", err, json_pack("{s:b}", "promoted", false));
    } else if (cn->up && cn->last_ok.ok && cn->last_ok.read_only) {
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_FAILED, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:o, s:b}", "error", err, "candidate", cand, "writable",
                             wl, "candidate_writable", false),
                   "failover failed: %s. %s was not made writable (it is read-only now; writable "
                   "now: %s); the replicas' IO threads are stopped. Fix the cause (the account's "
                   "privileges on %s?) and run `failoverctl failover %s` (--to NODE for another "
                   "node)",
                   err, cand, buf_str(&w), cand, f->s.cluster);
        end_op(f, "failed", false, "failed", err, json_pack("{s:b}", "promoted", false));
    } else {
        bool writable = cn->up && cn->last_ok.ok && !cn->last_ok.read_only;
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_FAILED, f->s.cluster, cand,
                   json_pack("{s:s, s:s, s:o, s:o}", "error", err, "candidate", cand, "writable",
                             wl, "candidate_writable",
                             cn->up ? json_boolean(writable) : json_null()),
                   "failover failed while promoting %s: %s. %s (writable now: %s); the other "
                   "replicas were not repointed. Look at %s before anything else, then repoint "
                   "the replicas or run `failoverctl failover %s`",
                   cand, err,
                   writable ? "It is writable: it is the primary, but nothing follows it"
                            : "It can't be reached, so whether it was made writable is unknown",
                   buf_str(&w), cand, f->s.cluster);
        end_op(f, "failed", false, "failed", err,
               writable ? NULL : json_pack("{s:b}", "promoted", false));
    }
    free(err);
    buf_free(&w);
}

/* The result of one step of x by name ({"name","ok","ms","at_ms"...}), or NULL. */
static json_t *step_result(exec_t *x, const char *prefix, int node, const cluster_t *c)
{
    size_t i;
    json_t *res;
    json_array_foreach(exec_results(x), i, res)
    {
        const char *name = json_string_value(json_object_get(res, "name"));
        size_t n = strlen(prefix);
        if (name && strncmp(name, prefix, n) == 0 &&
            (node < 0 || strcmp(name + n, c->nodes[node].name) == 0))
            return res;
    }
    return NULL;
}

/* What a switchover adds to its record: the write-blocked window
 * (reliability: from the start of block_writes to the end of the
 * post_promotion hooks, which move traffic), and under availability what the
 * old primary had beyond what the new one kept. */
static json_t *switchover_extra(failover_t *f, exec_t *x)
{
    cluster_t *c = monitor_cluster(f->m);
    json_t *extra = json_pack("{s:s}", "policy", policy_str(f->policy));
    json_t *bw = step_result(x, "block_writes:", f->old_primary, c);
    json_t *pp = step_result(x, "hook:post_promotion", -1, c);
    if (f->policy == POLICY_RELIABILITY && bw && pp) {
        json_int_t from = json_integer_value(json_object_get(bw, "at_ms"));
        json_int_t to = json_integer_value(json_object_get(pp, "at_ms")) +
                        json_integer_value(json_object_get(pp, "ms"));
        json_object_set_new(extra, "write_blocked_ms", json_integer(to - from));
    }
    const char *old = exec_captured_at(x, f->old_primary);
    const char *kept = exec_captured_at(x, f->candidate);
    if (f->policy == POLICY_AVAILABILITY && old && kept && f->plan) {
        char err[256];
        uint64_t n = 0;
        char *d = plan_divergence(f->plan->flavors[f->old_primary].family == FAMILY_MARIADB, old,
                                  kept, &n, err, sizeof err);
        if (d) {
            free(f->lost);
            f->lost = d;
            f->lost_count = n;
        } else {
            log_warn("%s: cannot compare the GTID states of %s and %s: %s", f->s.cluster,
                     c->nodes[f->old_primary].name, c->nodes[f->candidate].name, err);
        }
    }
    return extra;
}

static bool step_ok(json_t *res) { return res && json_is_true(json_object_get(res, "ok")); }

/* The state a switchover that stopped early left, from its steps' outcomes:
 * which node was made what, whether traffic moved, and what to do. */
static void switchover_left(failover_t *f, exec_t *x, buf_t *out)
{
    cluster_t *c = monitor_cluster(f->m);
    const char *old = c->nodes[f->old_primary].name, *cand = c->nodes[f->candidate].name;
    json_t *bw = step_result(x, "block_writes:", f->old_primary, c);
    json_t *rb = step_result(x, "rollback_writes:", f->old_primary, c);
    json_t *pr = step_result(x, "promote:", f->candidate, c);
    json_t *pp = step_result(x, "hook:post_promotion", -1, c);
    if (step_ok(pr)) {
        buf_printf(out, "%s was promoted and is writable; ", cand);
        if (step_ok(pp))
            buf_printf(out, "the post_promotion hooks moved the traffic to it; ");
        else
            buf_printf(out, "the post_promotion hooks did not %s: traffic still goes to %s: move "
                            "it to %s (run the post_promotion hook by hand); ",
                       pp ? "succeed" : "run", old, cand);
        buf_printf(out, "point the nodes that were not repointed (%s included) at %s", old, cand);
    } else if (pr) {
        buf_printf(out, "the promotion of %s failed: check whether it is writable (SELECT "
                        "@@read_only) before anything else; %s was made read-only",
                   cand, old);
    } else if (step_ok(bw) && !step_ok(rb)) {
        buf_printf(out, "%s was made read-only and was not made writable again: no node is "
                        "writable. Make %s writable again by hand, or switch over once the "
                        "journal can be written",
                   old, old);
    } else {
        buf_printf(out, "nothing was changed: %s is the primary and writable; traffic was not "
                        "moved",
                   old);
    }
    buf_printf(out, ". Then make the state directory writable and run `failoverctl ack %s`",
               f->s.cluster);
}

/* At the start of an operation: when the old primary was last seen, and
 * whether semi-sync had fallen back on it (then every write it acknowledged
 * since may exist on it alone). */
static void note_old_primary(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    f->risk_since_wall = f->seen_wall = 0;
    free(f->risk_from);
    f->risk_from = NULL;
    if (f->old_primary < 0)
        return;
    const node_t *p = &c->nodes[f->old_primary];
    if (p->last_ok.ok && p->last_ok.at) {
        uint64_t now = uv_now(f->loop);
        f->seen_wall = wall_now_ms() - (now > p->last_ok.at ? now - p->last_ok.at : 0);
    }
    const durability_state_t *d = &c->durability;
    if (d->primary == f->old_primary && d->semisync_off_at) {
        f->risk_since_wall = d->semisync_off_wall;
        f->risk_from = d->semisync_off_from ? xstrdup(d->semisync_off_from) : NULL;
    }
}

/* What a failover says about loss, into its event data (d), its record
 * (extra) and its message: the loss as a lower bound with the time of the
 * old primary's last probe (it may have committed more after it), and, when
 * semi-sync had fallen back on it, the writes that were at risk since. */
static void report_loss(failover_t *f, json_t *d, json_t *extra, buf_t *msg)
{
    cluster_t *c = monitor_cluster(f->m);
    const node_t *p = f->old_primary >= 0 ? &c->nodes[f->old_primary] : NULL;
    if (!p)
        return;
    char seen[32] = "", since[32];
    if (f->seen_wall) {
        format_wall_ms(f->seen_wall, seen, sizeof seen);
        json_t *bound =
            json_pack("{s:I, s:s}", "lost_at_least", (json_int_t)f->lost_count, "lost_as_of", seen);
        json_object_update(d, bound);
        json_object_update(extra, bound);
        json_decref(bound);
        if (f->lost_count)
            buf_printf(msg,
                       ", at least %llu as of the probe of %s at %s (it may have committed "
                       "more after it)",
                       (unsigned long long)f->lost_count, p->name, seen);
    }
    if (!f->risk_since_wall)
        return;
    format_wall_ms(f->risk_since_wall, since, sizeof since);
    json_t *risk = json_pack("{s:s}", "semisync_off_since", since);
    buf_printf(msg,
               "; semi-sync had fallen back to asynchronous commits on %s at %s: writes "
               "acknowledged after %s were at risk",
               p->name, since, since);
    durability_range_t r;
    char err[256];
    if (f->risk_from && p->last_ok.ok &&
        durability_range(p->last_ok.family == FAMILY_MARIADB, f->risk_from,
                         p->last_ok.gtid_executed, &r, err, sizeof err)) {
        json_object_set_new(risk, "at_risk", json_string(r.text));
        json_object_set_new(risk, "at_risk_count", json_integer((json_int_t)r.count));
        if (r.count)
            buf_printf(msg, " (%s: %llu transaction%s, as of the probe of %s at %s)", r.text,
                       (unsigned long long)r.count, r.count == 1 ? "" : "s", p->name, seen);
        durability_range_free(&r);
    }
    json_object_update(d, risk);
    json_object_update(extra, risk);
    json_decref(risk);
}

static void promote_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud)
{
    failover_t *f = ud;
    cluster_t *c = monitor_cluster(f->m);
    const char *cand = c->nodes[f->candidate].name;
    const char *what = kind_str(f->kind);
    json_t *extra = f->kind == OP_SWITCHOVER ? switchover_extra(f, x) : NULL;
    if (outcome == EXEC_DONE) {
        /* What the others had beyond what the new primary kept (captured before
         * it became writable) may be lost: the transactions only the dead
         * primary had, and under availability a relay log it had not applied. */
        const char *kept = f->kind == OP_FAILOVER && f->elect ? exec_captured(x) : NULL;
        if (kept) {
            free(f->lost);
            f->lost = elect_lost(c, f->old_primary, f->elect, kept, &f->lost_count);
        }
        uint64_t took = uv_now(f->loop) - f->started_mono;
        json_t *d = json_pack("{s:s, s:s?, s:I, s:s, s:s?}", "new_primary", cand, "old_primary",
                              f->old_primary >= 0 ? c->nodes[f->old_primary].name : NULL,
                              "duration_ms", (json_int_t)took, "policy", policy_str(f->policy),
                              "possibly_lost", f->lost && f->lost[0] ? f->lost : NULL);
        if (f->lost_count)
            json_object_set_new(d, "possibly_lost_count", json_integer((json_int_t)f->lost_count));
        buf_t lost = BUF_INIT;
        if (f->lost && f->lost[0] && f->lost_count)
            buf_printf(&lost, "; possibly lost: %llu transaction%s (%s)",
                       (unsigned long long)f->lost_count, f->lost_count == 1 ? "" : "s", f->lost);
        else if (f->lost && f->lost[0])
            buf_printf(&lost, "; possibly lost: %s", f->lost);
        /* Replicas that were repointed but don't follow (an optional verify
         * failed) are for the operator to repair: name them. */
        json_t *stray = json_array();
        size_t i;
        json_t *res;
        json_array_foreach(exec_results(x), i, res)
        {
            const char *name = json_string_value(json_object_get(res, "name"));
            if (name && strncmp(name, "verify:", 7) == 0 &&
                !json_is_true(json_object_get(res, "ok")))
                json_array_append_new(stray, json_string(name + 7));
        }
        if (json_array_size(stray)) {
            buf_puts(&lost, "; not following it: ");
            json_array_foreach(stray, i, res)
                buf_printf(&lost, "%s%s", i ? ", " : "", json_string_value(res));
            buf_puts(&lost, " (see the failover_step warnings)");
        }
        /* Traffic moves at post_promotion: when its hook failed, clients still
         * go where they went (the old primary, read-only, or nowhere). */
        json_t *pp = step_result(x, "hook:post_promotion", -1, c);
        bool moved = !pp || json_is_true(json_object_get(pp, "ok"));
        if (!moved) {
            const char *why = json_string_value(json_object_get(pp, "error"));
            buf_printf(&lost, "; the traffic did NOT move: the post_promotion hook failed (%s): "
                              "point the VIP or DNS name at %s by hand",
                       why ? why : "see its step", cand);
        }
        if (!extra)
            extra = json_object();
        json_object_set_new(extra, "traffic_moved", json_boolean(moved));
        json_object_set_new(d, "traffic_moved", json_boolean(moved));
        if (f->kind == OP_FAILOVER)
            report_loss(f, d, extra, &lost);
        if (f->kind == OP_FAILOVER && f->hold_why) {
            /* --force or availability: what could not be seen is part of the report. */
            buf_printf(&lost, "; not seen, may hold more: %s", f->hold_why);
            json_object_set_new(d, "unseen", json_string(f->hold_why));
            json_object_set_new(extra, "unseen", json_string(f->hold_why));
        }
        json_object_set(extra, "not_following", stray);
        json_object_set_new(d, "not_following", stray);
        if (json_object_get(extra, "write_blocked_ms"))
            json_object_set(d, "write_blocked_ms", json_object_get(extra, "write_blocked_ms"));
        event_emit(LOG_LVL_NOTICE, f->kind == OP_FAILOVER ? EV_FAILOVER_DONE : EV_SWITCHOVER_DONE,
                   f->s.cluster, cand, d, "%s done in %llu ms: %s is the primary%s", what,
                   (unsigned long long)took, cand, buf_str(&lost));
        buf_free(&lost);
        end_op(f, "done", true, NULL, NULL, extra);
        monitor_probe_all_now(f->m);
        return;
    }
    if (outcome == EXEC_ROLLED_BACK) {
        /* Nothing was promoted and no traffic moved; say what was restored. */
        const char *oldname = c->nodes[f->old_primary].name;
        json_t *rr = step_result(x, "rollback_replica:", f->candidate, c);
        bool replicating = !rr || json_is_true(json_object_get(rr, "ok"));
        buf_t m = BUF_INIT;
        json_t *bw = step_result(x, "block_writes:", f->old_primary, c);
        if (bw)
            buf_printf(&m, "switchover rolled back: %s. %s is the primary and writable again; "
                           "traffic was not moved; ",
                       msg, oldname);
        else
            buf_printf(&m, "switchover rolled back: %s. %s is the primary and was never made "
                           "read-only; traffic was not moved; ",
                       msg, oldname);
        if (!rr)
            buf_printf(&m, "%s was left replicating as it was", cand);
        else if (replicating)
            buf_printf(&m, "%s replicates from it again", cand);
        else
            buf_printf(&m, "%s could not be told to replicate again (%s): check it", cand,
                       json_string_value(json_object_get(rr, "error")));
        event_emit(LOG_LVL_WARN, EV_SWITCHOVER_ROLLED_BACK, f->s.cluster, oldname,
                   json_pack("{s:s, s:s, s:s, s:b}", "error", msg, "primary", oldname,
                             "candidate", cand, "candidate_replicating", replicating),
                   "%s", buf_str(&m));
        json_object_set_new(extra, "rolled_back", json_true());
        end_op(f, "aborted", false, "failed", buf_str(&m), extra);
        buf_free(&m);
        return;
    }
    if (f->kind == OP_FAILOVER) {
        /* Look at every node afresh before saying what the failure left. */
        keep_steps(f, x);
        free(f->fail_msg);
        f->fail_msg = xstrdup(msg ? msg : "failed");
        f->fail_past_no_return = exec_reached_point_of_no_return(x);
        plan_free(f->plan);
        f->plan = refresh_plan(f, "refresh:after_failure",
                               "read every reachable node's state afresh to see what the failed "
                               "step left");
        start_exec(f, failure_refreshed);
        return;
    }
    if (exec_journal_failed(x)) {
        /* The journal failed: say exactly what ran and what did not. */
        buf_t m = BUF_INIT;
        buf_printf(&m, "%s to %s stopped: %s. ", what, cand, msg);
        switchover_left(f, x, &m);
        event_emit(LOG_LVL_ERROR, EV_SWITCHOVER_FAILED, f->s.cluster, cand,
                   json_pack("{s:s, s:s}", "error", msg, "journal", exec_journal_failed(x)),
                   "%s", buf_str(&m));
        end_op(f, "failed", false, "failed", buf_str(&m), extra);
        buf_free(&m);
        return;
    }
    event_emit(LOG_LVL_ERROR, EV_SWITCHOVER_FAILED, f->s.cluster, cand,
               json_pack("{s:s}", "error", msg),
               "%s to %s failed: %s. Check `failoverctl status %s`; the journal has every step", what,
               cand, msg, f->s.cluster);
    end_op(f, "failed", false, "failed", msg, extra);
}

/* A reliability failover stops when a replica's received set went backwards:
 * nothing was made writable, the replicas' IO threads are stopped. */
static void abort_regressed(failover_t *f, json_t *back)
{
    buf_t who = BUF_INIT;
    size_t k;
    json_t *r;
    json_array_foreach(back, k, r)
        buf_printf(&who, "%s%s lost %s", k ? "; " : "",
                   json_string_value(json_object_get(r, "node")),
                   json_string_value(json_object_get(r, "lost")));
    buf_t err = BUF_INIT;
    buf_printf(&err, "the received set of a replica went backwards during the failover (%s)",
               buf_str(&who));
    event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
               json_pack("{s:s, s:O, s:o}", "error", buf_str(&err), "regressed", back, "writable",
                         json_array()),
               "failover aborted before any promotion: %s. Those transactions were received "
               "and may have been acknowledged to clients, and may be on no other node: the "
               "reliability policy does not promote past them. No node was made writable; the "
               "replicas' IO threads are stopped. Recover them (the old primary's binary log, "
               "another replica) or accept the loss with `failoverctl failover %s --policy "
               "availability`",
               buf_str(&err), f->s.cluster);
    end_op(f, "aborted", false, "failed", buf_str(&err),
           json_pack("{s:b, s:O}", "promoted", false, "regressed", back));
    json_decref(back);
    buf_free(&err);
    buf_free(&who);
}

static void hold_reset(failover_t *f)
{
    uv_timer_stop(&f->hold_timer);
    f->hold_until = 0;
    free(f->hold_why);
    f->hold_why = NULL;
    json_decref(f->hold_unseen);
    f->hold_unseen = NULL;
}

/* The hold ran out: aborted, nothing made writable. */
static void hold_abort(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    char *why = xstrdup(f->hold_why ? f->hold_why : "");
    json_t *unseen = f->hold_unseen ? json_incref(f->hold_unseen) : json_array();
    hold_reset(f);
    buf_t w = BUF_INIT;
    json_t *wl = json_array();
    writable_nodes(c, &w, wl);
    buf_t msg = BUF_INIT;
    buf_printf(&msg, "reliability can't rule out losing acknowledged transactions: %s", why);
    event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
               json_pack("{s:s, s:O, s:o, s:I}", "error", buf_str(&msg), "unseen", unseen,
                         "writable", wl, "held_ms", (json_int_t)f->s.unseen_hold_ms),
               "failover aborted after holding %llu ms: %s. No node was made writable (writable "
               "now: %s); the replicas' IO threads are stopped. Bring the replicas named back "
               "(or give the monitoring account the privileges it lacks on them) and run "
               "`failoverctl failover %s`; or accept losing what only they may hold: "
               "`failoverctl failover %s --force` (or --policy availability)",
               (unsigned long long)f->s.unseen_hold_ms, buf_str(&msg), buf_str(&w), f->s.cluster,
               f->s.cluster);
    end_op(f, "aborted", false, "failed", buf_str(&msg),
           json_pack("{s:b, s:o}", "promoted", false, "unseen", unseen));
    buf_free(&msg);
    buf_free(&w);
    free(why);
}

/* While holding: a replica it waits for (or the old primary) can be seen
 * again: stop its IO thread, fence, look afresh and elect again (the
 * pre_failover hooks ran once already). Out of time: aborted. */
static void hold_tick(uv_timer_t *t)
{
    failover_t *f = t->data;
    cluster_t *c = monitor_cluster(f->m);
    if (f->dying || uv_now(f->loop) >= f->hold_until) {
        hold_abort(f);
        return;
    }
    const char *back = NULL;
    size_t i;
    json_t *nm;
    json_array_foreach(f->hold_unseen, i, nm)
    {
        int n = cluster_find_node_by_name(c, json_string_value(nm));
        if (n >= 0 && c->nodes[n].up)
            back = c->nodes[n].name;
    }
    if (!back && f->old_primary >= 0 && c->nodes[f->old_primary].up)
        back = c->nodes[f->old_primary].name;
    if (!back)
        return;
    uv_timer_stop(&f->hold_timer);
    log_fields(LOG_LVL_NOTICE, f->s.cluster, back, EV_FAILOVER_STEP,
               "%s can be seen again: stopping IO threads, fencing and electing again", back);
    elect_free(f->elect);
    f->elect = NULL;
    f->plan = plan_failover_prepare(c, f->old_primary, f->policy, &f->s.plan);
    /* The pre_failover hooks said yes once for this failover: not again. */
    size_t k = 0;
    for (size_t s = 0; s < f->plan->n; s++) {
        if (strcmp(f->plan->steps[s].name, "hook:pre_failover") == 0) {
            free(f->plan->steps[s].name);
            free(f->plan->steps[s].desc);
            continue;
        }
        f->plan->steps[k++] = f->plan->steps[s];
    }
    f->plan->n = k;
    start_exec(f, prepare_done);
}

/* Reliability's rule of certainty (elect_hold) after an election: true when
 * the promotion must wait (then a timer looks again) or was aborted. With
 * --force or under availability it goes on, and what it did not see is kept
 * for the report. */
static bool hold(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    char why[1024];
    bool must = elect_hold(c, f->elect, f->policy, why, sizeof why) && !f->force;
    json_t *unseen = json_array();
    for (size_t k = 0; k < f->elect->n; k++)
        if (f->elect->c[k].unseen)
            json_array_append_new(unseen, json_string(c->nodes[f->elect->c[k].node].name));
    uint64_t was = f->hold_until;
    hold_reset(f);
    f->hold_why = why[0] ? xstrdup(why) : NULL;
    f->hold_unseen = unseen;
    if (!must) {
        if (was)
            log_fields(LOG_LVL_NOTICE, f->s.cluster, NULL, EV_FAILOVER_STEP,
                       "the hold is over: nothing it waited for is missing now");
        return false;
    }
    uint64_t now = uv_now(f->loop);
    f->hold_until = was ? was : now + f->s.unseen_hold_ms;
    if (!was) {
        journal_record(f->j, f->s.cluster, f->op, "failover", "hold",
                       json_pack("{s:s, s:O, s:I}", "why", why, "unseen", unseen, "hold_ms",
                                 (json_int_t)f->s.unseen_hold_ms));
        event_emit(LOG_LVL_WARN, EV_FAILOVER_HELD, f->s.cluster, NULL,
                   json_pack("{s:s, s:O, s:I}", "why", why, "unseen", unseen, "hold_ms",
                             (json_int_t)f->s.unseen_hold_ms),
                   "failover held (reliability): %s. Nothing is writable; it goes on when they "
                   "can be seen again, and is aborted in %llu ms otherwise",
                   why, (unsigned long long)f->s.unseen_hold_ms);
    }
    if (now >= f->hold_until) {
        hold_abort(f);
        return true;
    }
    uv_timer_start(&f->hold_timer, hold_tick, HOLD_POLL_MS, HOLD_POLL_MS);
    return true;
}

/* Elects with the latest observations and runs the promote plan. */
static void elect_and_promote(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    f->elections++;
    json_t *back = received_went_back(f, c);
    if (json_array_size(back) && f->policy == POLICY_RELIABILITY) {
        abort_regressed(f, back);
        return;
    }
    f->elect = elect_run(c, f->old_primary, f->policy, f->to);
    /* Availability goes on; what a replica had received before it went
     * backwards counts as received, so that the loss report names it. */
    size_t bk;
    json_t *br;
    json_array_foreach(back, bk, br)
    {
        int i = cluster_find_node_by_name(c, json_string_value(json_object_get(br, "node")));
        if (i >= 0 && (size_t)i < f->n_before)
            elect_add_received(f->elect, &f->before[i]);
    }
    json_decref(back);
    char err[512];
    if (!journal_record(f->j, f->s.cluster, f->op, "failover", "elect", elect_json(c, f->elect))) {
        snprintf(err, sizeof err, "the election could not be journaled (%s)",
                 journal_last_error(f->j));
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
                   json_pack("{s:s}", "error", err),
                   "failover aborted before any promotion: %s. No node was made writable; the "
                   "replicas' IO threads are stopped. Make the state directory writable, check "
                   "the cluster, then `failoverctl ack %s` and `failoverctl failover %s`",
                   err, f->s.cluster, f->s.cluster);
        hold_unknown(f, err);
        end_op(f, "aborted", false, "failed", err, NULL);
        return;
    }
    if (hold(f))
        return;
    f->plan = plan_failover_promote(c, f->old_primary, f->elect, f->policy, &f->s.plan, err,
                                    sizeof err);
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
        end_op(f, "aborted", false, "failed", err, NULL);
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
    start_exec(f, promote_done);
}

/* After the prepare phase: elect with fresh observations, then promote. */
static void prepare_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud)
{
    failover_t *f = ud;
    if (outcome != EXEC_DONE) {
        event_emit(LOG_LVL_ERROR, EV_FAILOVER_ABORTED, f->s.cluster, NULL,
                   json_pack("{s:s}", "error", msg),
                   "failover aborted before any promotion: %s. No node was made writable; the "
                   "replicas' IO threads may be stopped. Fix the cause and run `failoverctl "
                   "failover %s`",
                   msg, f->s.cluster);
        end_op(f, "aborted", false, "failed", msg, NULL);
        return;
    }
    keep_steps(f, x);
    plan_free(f->plan);
    f->plan = NULL;
    elect_and_promote(f);
}

/* ---- the fence step ------------------------------------------------------- */

typedef struct {
    exec_answer_fn answer;
    void *token;
    char *cluster, *node, *step; /* copies: a reload may replace the settings meanwhile */
} fence_wait_t;

static void fence_answered(void *ud, bool ok, const char *msg)
{
    fence_wait_t *w = ud;
    /* What the fence did (sessions cut off, semi-sync released) is kept in
     * the log: a step that succeeds records no message. */
    if (ok)
        log_fields(LOG_LVL_NOTICE, w->cluster, w->node, EV_FAILOVER_STEP, "step %s: %s", w->step,
                   msg);
    w->answer(w->token, ok ? 0 : 1, msg);
    free(w->cluster);
    free(w->node);
    free(w->step);
    free(w);
}

/* The old primary still answers: it is fenced as a returning primary is
 * (rejoin.c), by the same code. */
static bool do_fence(const step_t *s, exec_answer_fn answer, void *token, void *ud)
{
    failover_t *f = ud;
    fence_wait_t *w = xcalloc(1, sizeof *w);
    cluster_t *c = monitor_cluster(f->m);
    *w = (fence_wait_t){.answer = answer, .token = token, .cluster = xstrdup(f->s.cluster),
                        .node = xstrdup(c->nodes[s->node].name), .step = xstrdup(s->name)};
    if (!rejoin_fence_for_failover(f->rj, c, s->node, uv_now(f->loop), fence_answered, w)) {
        free(w->cluster);
        free(w->node);
        free(w->step);
        free(w);
        return false;
    }
    return true;
}

/* A primary that failoverd reaches, but that every replica following it has
 * lost (none has its IO thread connected to it): cut off from its replicas
 * only. A switchover can't move it (the candidate can't catch up), so an
 * operator may fail it over with --force; the fence then cuts off its client
 * sessions, whose commits wait for acknowledgements no replica can send. */
static bool replicas_lost_primary(const cluster_t *c)
{
    size_t following = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const observation_t *o = &c->nodes[i].last_ok;
        if ((int)i == c->primary || !c->nodes[i].up || !o->ok || !o->replica ||
            cluster_source_of(c, o) != c->primary)
            continue;
        if (o->io == IO_YES)
            return false;
        following++;
    }
    return following > 0;
}

static void start_exec(failover_t *f, exec_done_cb done)
{
    exec_opts_t o = {.cluster = f->s.cluster, .op = f->op, .kind = kind_str(f->kind),
                     .user = f->s.user, .password = f->s.password,
                     .crash_at_step = f->s.crash_at_step};
    exec_env_t env = {.run_hook = do_hook, .refresh = do_refresh, .ud = f, .fence = do_fence};
    f->exec = exec_start(f->loop, monitor_cluster(f->m), f->plan, &o, f->j, &env, done, f);
}

/* ---- starting ------------------------------------------------------------------- */

/* Whether the primary's state is known: reached by this watch, or by the one
 * before a reload (startup.h). */
static bool primary_seen(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    return startup_primary_seen(c) || (f->seen_before && c->primary >= 0 &&
                                       strcmp(c->nodes[c->primary].name, f->seen_before) == 0);
}

void failover_primary_seen(failover_t *f, const char *node)
{
    free(f->seen_before);
    f->seen_before = node ? xstrdup(node) : NULL;
}

const char *failover_seen_primary(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    return primary_seen(f) ? c->nodes[c->primary].name : NULL;
}

/* The start-up rule (startup.h) for an automatic failover: true, with why,
 * when it must not start now. Under availability the grace's end is kept, and
 * look() reconsiders the dead primary then. */
static bool startup_held(failover_t *f, char *why, size_t len)
{
    cluster_t *c = monitor_cluster(f->m);
    uint64_t until = 0;
    /* The operator who acknowledged an interrupted operation has checked the
     * cluster: that confirms the failover it lets start. */
    startup_verdict_t v =
        startup_judge(primary_seen(f) || f->startup_confirmed, f->s.policy, f->watch_since,
                      f->s.startup_grace_ms, uv_now(f->loop), &until);
    f->startup_until = v == STARTUP_WAIT ? until : 0;
    const char *p = c->primary >= 0 ? c->nodes[c->primary].name : "the primary";
    if (v == STARTUP_REFUSE)
        snprintf(why, len,
                 "failoverd has not reached %s since it started watching the cluster: its last "
                 "GTID state is unknown, so a promotion could lose transactions only it had, and "
                 "the reliability policy does not promote past that. If %s is down for "
                 "maintenance, start it again; if it is gone, run `failoverctl failover %s` "
                 "[--to NODE] to fail over anyway",
                 p, p, f->s.cluster);
    else if (v == STARTUP_WAIT)
        snprintf(why, len,
                 "failoverd has not reached %s since it started watching the cluster (its GTID "
                 "state is unknown); it waits startup_grace (%llu s) for it to come back: an "
                 "automatic failover starts in %llu ms unless it does (`failoverctl failover "
                 "%s` to fail over now)",
                 p, (unsigned long long)(f->s.startup_grace_ms / 1000),
                 (unsigned long long)(until - uv_now(f->loop)), f->s.cluster);
    return v != STARTUP_GO;
}

static void reconsider(failover_t *f);

/* The start-up grace ended with the primary still dead: reconsider it (the
 * verdict will not change again by itself). */
static void startup_recheck(failover_t *f)
{
    if (!f->startup_until || f->running || uv_now(f->loop) < f->startup_until)
        return;
    f->startup_until = 0;
    reconsider(f);
}

/* A failover of a primary failoverd never reached (an operator's, or
 * availability's after the grace) says that what only it had is unknown. */
static void note_unseen_primary(failover_t *f, op_kind_t kind)
{
    cluster_t *c = monitor_cluster(f->m);
    if (kind != OP_FAILOVER || c->primary < 0 || primary_seen(f))
        return;
    const char *p = c->nodes[c->primary].name;
    event_emit(LOG_LVL_WARN, EV_PRIMARY_STATE_UNKNOWN, f->s.cluster, p,
               json_pack("{s:s}", "old_primary", p),
               "failing over %s, which failoverd never reached: its last GTID state is unknown, "
               "so transactions only it had (if any) are not counted in what may be lost",
               p);
}

static bool blocked(failover_t *f, char *why, size_t len)
{
    if (f->state_unknown) {
        snprintf(why, len, "state unknown: %s; check the cluster and acknowledge with "
                           "`failoverctl ack %s`",
                 f->state_unknown, f->s.cluster);
        return true;
    }
    if (f->interrupted) {
        snprintf(why, len, "an earlier operation was interrupted; acknowledge it with "
                           "`failoverctl ack %s`", f->s.cluster);
        return true;
    }
    if (f->paused) {
        snprintf(why, len, "the cluster is paused (`failoverctl resume %s`)", f->s.cluster);
        return true;
    }
    uint64_t now = wall_now_ms();
    if (f->last_failover_wall && !f->last_acked &&
        now < f->last_failover_wall + f->s.failover_block_ms) {
        snprintf(why, len, "the last failover ended %llu s ago, within failover_block (%llu s); "
                           "acknowledge it with `failoverctl ack %s` to allow another",
                 (unsigned long long)((now - f->last_failover_wall) / 1000),
                 (unsigned long long)(f->s.failover_block_ms / 1000), f->s.cluster);
        return true;
    }
    return startup_held(f, why, len);
}

/* Starts the operation's record; false (f left idle, the cluster held) when
 * its "begin" can't be made durable: then nothing of it may run. */
static bool begin(failover_t *f, op_kind_t kind, bool automatic, policy_t policy, const char *to)
{
    cluster_t *c = monitor_cluster(f->m);
    note_unseen_primary(f, kind);
    f->running = true;
    monitor_quiet(f->m, true);
    op_hold(f);
    f->kind = kind;
    f->automatic = automatic;
    f->policy = policy;
    f->op = journal_new_op_id(f->j);
    f->to = to ? xstrdup(to) : NULL;
    f->old_primary = c->primary;
    f->candidate = -1;
    hold_reset(f);
    f->force = false;
    f->started_mono = uv_now(f->loop);
    f->started_wall = wall_now_ms();
    const node_t *p = c->primary >= 0 ? &c->nodes[c->primary] : NULL;
    f->detected_ms = kind == OP_FAILOVER && p && p->fail_since ? f->started_mono - p->fail_since : 0;
    note_old_primary(f);
    if (kind == OP_FAILOVER)
        remember_before(f, c);
    if (!journal_record(f->j, f->s.cluster, f->op, kind_str(kind), "begin",
                        json_pack("{s:s?, s:s, s:b, s:s?, s:I}", "old_primary",
                                  p ? p->name : NULL, "policy", policy_str(policy), "automatic",
                                  automatic, "to", to, "wall_ms", (json_int_t)f->started_wall))) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "the %s was not started: its journal record could not be made durable "
                       "(%s); nothing was done",
                   kind_str(kind), journal_last_error(f->j));
        event_emit(LOG_LVL_ERROR, EV_JOURNAL_WRITE_FAILED, f->s.cluster, p ? p->name : NULL,
                   json_pack("{s:s, s:s, s:b}", "error", journal_last_error(f->j), "operation",
                             kind_str(kind), "step_ran", 0),
                   "%s", buf_str(&b));
        hold_unknown(f, buf_str(&b));
        buf_free(&b);
        f->running = false;
        forget_before(f);
        monitor_quiet(f->m, false);
        op_release(f);
        free(f->op);
        f->op = NULL;
        free(f->to);
        f->to = NULL;
        return false;
    }
    event_emit(LOG_LVL_WARN, kind == OP_FAILOVER ? EV_FAILOVER_STARTED : EV_SWITCHOVER_STARTED,
               f->s.cluster, p ? p->name : NULL,
               json_pack("{s:s, s:b, s:s?, s:I}", "policy", policy_str(policy), "automatic",
                         automatic, "to", to, "detection_ms", (json_int_t)f->detected_ms),
               "%s%s of %s started (%s policy)%s%s", automatic ? "automatic " : "",
               kind_str(kind), p ? p->name : "?", policy_str(policy), to ? ", to " : "",
               to ? to : "");
    return true;
}

/* ---- an interrupted switchover, after a restart (resume.h) ------------------------ */

/* What the operator has to do by hand for a switchover that was not finished. */
static void resume_todo(failover_t *f, const char *cand, const char *old, buf_t *out)
{
    const char *pp = op_step_state(f->interrupted, "hook:post_promotion");
    if (!pp || strcmp(pp, "done") != 0)
        buf_printf(out, "the post_promotion hooks did not %s: traffic may still go to %s. Find "
                        "out which node is writable; if %s is, move the traffic to it (run the "
                        "post_promotion hook by hand) and point the other nodes, %s included, at "
                        "it; ",
                   pp ? "finish" : "run", old, cand, old);
    else
        buf_printf(out, "the traffic was moved to %s; point the other nodes, %s included, at it; ",
                   cand, old);
    buf_printf(out, "then run `failoverctl ack %s`", f->s.cluster);
}

/* After a restart, once every node was probed (or RESUME_WAIT_MS passed): a
 * switchover interrupted at or after its promotion is finished when the
 * nodes show that is safe, else reported with what to do. */
static void try_resume(failover_t *f)
{
    cluster_t *c = monitor_cluster(f->m);
    json_t *first = json_array_get(f->interrupted, 0);
    const char *kind = json_string_value(json_object_get(first, "kind"));
    json_t *sum0 = interrupted_summary(f->interrupted);
    bool promoting = strcmp(json_string_value(json_object_get(sum0, "promotion")), "unknown") == 0 ||
                     strcmp(json_string_value(json_object_get(sum0, "promotion")), "done") == 0;
    json_decref(sum0);
    if (!kind || strcmp(kind, "switchover") != 0 || !promoting || f->running || f->dying) {
        /* Only a promotion that started is finished; anything earlier is
         * reported (failover_interrupted) and left to the operator. */
        f->resume_decided = true;
        return;
    }
    if (f->state_unknown || f->paused)
        return; /* held: nothing automatic; looked at again after the ack / resume */
    bool all = true;
    for (size_t i = 0; i < c->n_nodes; i++)
        all = all && c->nodes[i].probed;
    if (!all && uv_now(f->loop) - f->created_mono < RESUME_WAIT_MS)
        return;
    f->resume_decided = true;
    json_t *sum = interrupted_summary(f->interrupted);
    const char *cand = json_string_value(json_object_get(sum, "candidate"));
    const char *old = NULL;
    const char *policy_s = NULL;
    size_t i;
    json_t *rec;
    json_array_foreach(f->interrupted, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (type && strcmp(type, "begin") == 0) {
            old = json_string_value(json_object_get(rec, "old_primary"));
            policy_s = json_string_value(json_object_get(rec, "policy"));
        }
    }
    resume_facts_t facts = {
        .old_primary = old ? cluster_find_node_by_name(c, old) : -1,
        .candidate = cand ? cluster_find_node_by_name(c, cand) : -1,
        .promotion = json_string_value(json_object_get(sum, "promotion")),
    };
    if (old && cand) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "block_writes:%s", old);
        const char *st = op_step_state(f->interrupted, buf_str(&b));
        facts.blocked = st && strcmp(st, "done") == 0;
        b.len = 0;
        buf_printf(&b, "sync:%s", cand);
        st = op_step_state(f->interrupted, buf_str(&b));
        facts.synced = st && strcmp(st, "done") == 0;
        buf_free(&b);
    }
    const char *op = json_string_value(json_object_get(first, "op"));
    char why[512], err[512] = "";
    resume_action_t act = resume_decide(c, &facts, why, sizeof why);
    policy_t policy = policy_s && strcmp(policy_s, "availability") == 0 ? POLICY_AVAILABILITY
                                                                         : POLICY_RELIABILITY;
    plan_t *p = NULL;
    if (act != RESUME_REFUSE) {
        p = plan_switchover_resume(c, facts.old_primary, facts.candidate, policy,
                                   act == RESUME_PROMOTE, &f->s.plan, err, sizeof err);
        if (!p)
            snprintf(why, sizeof why, "%s", err);
    }
    if (p && !journal_record(f->j, f->s.cluster, op, "switchover", "resume",
                             json_pack("{s:s, s:s}", "action", resume_action_str(act), "why",
                                       why))) {
        snprintf(why, sizeof why, "the resumption could not be journaled (%s)",
                 journal_last_error(f->j));
        plan_free(p);
        p = NULL;
    }
    if (!p) {
        buf_t todo = BUF_INIT;
        resume_todo(f, cand ? cand : "the candidate", old ? old : "the old primary", &todo);
        event_emit(LOG_LVL_ERROR, EV_SWITCHOVER_NOT_RESUMED, f->s.cluster, cand,
                   json_pack("{s:s?, s:s, s:s?, s:s?}", "op", op, "reason", why, "candidate",
                             cand, "old_primary", old),
                   "the interrupted switchover %s is not finished automatically: %s. What to do: "
                   "%s",
                   op ? op : "", why, buf_str(&todo));
        buf_free(&todo);
        json_decref(sum);
        return;
    }
    json_decref(sum);
    /* From here it is the switchover again, under its own id: like any
     * operation it holds the hooks it runs, and the monitor stays quiet. */
    f->running = true;
    monitor_quiet(f->m, true);
    op_hold(f);
    f->kind = OP_SWITCHOVER;
    f->automatic = true;
    f->policy = policy;
    f->op = xstrdup(op ? op : "?");
    f->to = NULL;
    f->old_primary = facts.old_primary;
    f->candidate = facts.candidate;
    f->started_mono = uv_now(f->loop);
    f->started_wall = wall_now_ms();
    f->detected_ms = 0;
    f->plan = p;
    json_decref(f->interrupted);
    f->interrupted = NULL;
    event_emit(LOG_LVL_WARN, EV_SWITCHOVER_RESUMED, f->s.cluster, c->nodes[f->candidate].name,
               json_pack("{s:s, s:s, s:s, s:s, s:s}", "op", f->op, "action",
                         resume_action_str(act), "reason", why, "candidate",
                         c->nodes[f->candidate].name, "old_primary",
                         c->nodes[f->old_primary].name),
               "finishing the interrupted switchover %s from %s to %s: %s; running %s",
               f->op, c->nodes[f->old_primary].name, c->nodes[f->candidate].name, why,
               act == RESUME_PROMOTE ? "the promotion again, then the traffic hooks and the "
                                       "repointing"
                                     : "the traffic hooks (post_promotion) and the repointing");
    start_exec(f, promote_done);
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
    if (!f->s.auto_failover)
        snprintf(why, sizeof why,
                 "automatic failover is off (auto_failover = false); fail over with "
                 "`failoverctl failover %s [--to NODE]`",
                 f->s.cluster);
    if (!f->s.auto_failover || blocked(f, why, sizeof why)) {
        if (!f->block_reported)
            event_emit(LOG_LVL_ERROR, EV_FAILOVER_BLOCKED, f->s.cluster, NULL,
                       json_pack("{s:s}", "reason", why),
                       "the primary is dead but no automatic failover will run: %s", why);
        f->block_reported = true;
        return;
    }
    cluster_t *c = monitor_cluster(f->m);
    if (!begin(f, OP_FAILOVER, true, f->s.policy, NULL))
        return;
    f->plan = plan_failover_prepare(c, f->old_primary, f->policy, &f->s.plan);
    start_exec(f, prepare_done);
}

static void reply_now(failover_reply_fn reply, void *ctx, bool ok, const char *code,
                      const char *msg, json_t *result)
{
    reply(ctx, ok, code, msg, result);
}

json_t *failover_plan_json(failover_t *f, const op_request_t *r, char *err, size_t errlen)
{
    cluster_t *c = monitor_cluster(f->m);
    op_kind_t kind = r->kind;
    const char *to = r->to;
    policy_t policy = r->policy_given ? r->policy : f->s.policy;
    plan_opts_t po = f->s.plan;
    if (r->timeout_ms)
        po.switchover_timeout_ms = r->timeout_ms;
    if (c->primary < 0) {
        snprintf(err, errlen, "the primary of %s is not known yet", f->s.cluster);
        return NULL;
    }
    if (to && cluster_find_node_by_name(c, to) < 0) {
        snprintf(err, errlen, "no node named \"%s\" in %s", to, f->s.cluster);
        return NULL;
    }
    elect_result_t *e = elect_run(c, c->primary, policy, to);
    json_t *out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "cluster", f->s.cluster, "kind",
                            kind_str(kind), "policy", policy_str(policy), "primary",
                            c->nodes[c->primary].name, "election", elect_json(c, e));
    /* What failoverd's account lacks, node by node, as last judged; and judged
     * again now, for the next look. */
    json_t *privs = json_object();
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *nd = &c->nodes[i];
        if (nd->unobservable || (nd->grants_missing && nd->grants_missing[0]))
            json_object_set_new(privs, nd->name,
                                json_string(nd->unobservable && nd->denied_privilege
                                                ? nd->denied_privilege
                                                : nd->grants_missing ? nd->grants_missing : ""));
    }
    json_object_set_new(out, "missing_privileges", privs);
    monitor_check_grants(f->m);
    if (kind == OP_FAILOVER) {
        char why[1024];
        bool must = elect_hold(c, e, policy, why, sizeof why) && !r->force;
        json_object_set_new(out, "hold", must ? json_string(why) : json_null());
        json_object_set_new(out, "unseen", json_string(why));
    }
    plan_t *p = NULL;
    char perr[512] = "";
    if (kind == OP_FAILOVER) {
        plan_t *prep = plan_failover_prepare(c, c->primary, policy, &po);
        json_object_set_new(out, "prepare", plan_json(c, prep));
        plan_free(prep);
        p = plan_failover_promote(c, c->primary, e, policy, &po, perr, sizeof perr);
    } else {
        p = e->chosen >= 0 ? plan_switchover(c, c->primary, e->chosen, policy, &po, perr,
                                             sizeof perr)
                           : NULL;
        if (!p && !perr[0])
            snprintf(perr, sizeof perr, "%s", e->why);
    }
    if (p)
        json_object_set_new(out, "plan", plan_json(c, p));
    else
        json_object_set_new(out, "error", json_string(perr));
    char why[512];
    if (kind == OP_FAILOVER && blocked(f, why, sizeof why))
        json_object_set_new(out, "auto_blocked", json_string(why));
    json_object_set_new(out, "note", json_string(kind == OP_FAILOVER
                                                     ? "a real failover elects again after "
                                                       "stopping the replicas' IO threads"
                                                     : "computed from the latest observations"));
    plan_free(p);
    elect_free(e);
    return out;
}

/* An operator's failover --force, or --policy availability, while a
 * failover started without a waiting requester (an automatic one) holds: the
 * operator accepts what the hold waits for, and it goes on now, electing
 * again with the latest observations; the requester gets its outcome. */
static bool accept_held(failover_t *f, const op_request_t *r, failover_reply_fn reply, void *ctx)
{
    bool avail = r->policy_given && r->policy == POLICY_AVAILABILITY;
    if (!f->hold_until || f->kind != OP_FAILOVER || r->kind != OP_FAILOVER || f->reply ||
        (!r->force && !avail) || (r->to && (!f->to || strcmp(r->to, f->to) != 0)))
        return false;
    f->force = f->force || r->force;
    if (avail)
        f->policy = POLICY_AVAILABILITY;
    f->reply = reply;
    f->req_ctx = ctx;
    uv_timer_stop(&f->hold_timer);
    f->hold_until = 0;
    journal_record(f->j, f->s.cluster, f->op, "failover", "accept",
                   json_pack("{s:b, s:s}", "force", r->force, "policy", policy_str(f->policy)));
    log_fields(LOG_LVL_NOTICE, f->s.cluster, NULL, EV_FAILOVER_STEP,
               "the operator accepts what the hold waited for (%s): the failover goes on",
               r->force ? "--force" : "--policy availability");
    elect_free(f->elect);
    f->elect = NULL;
    elect_and_promote(f);
    return true;
}

void failover_request(failover_t *f, const op_request_t *r, failover_reply_fn reply, void *ctx)
{
    cluster_t *c = monitor_cluster(f->m);
    char err[512];
    if (r->dry_run) {
        json_t *j = failover_plan_json(f, r, err, sizeof err);
        const char *why = json_string_value(json_object_get(j, "error"));
        if (!j)
            reply_now(reply, ctx, false, strstr(err, "no node named") ? "not_found" : "failed",
                      err, NULL);
        else if (why) /* nothing could be planned: a failure, with the reasons */
            reply_now(reply, ctx, false, "failed", why, j);
        else
            reply_now(reply, ctx, true, NULL, NULL, j);
        return;
    }
    if (f->running) {
        if (accept_held(f, r, reply, ctx))
            return;
        reply_now(reply, ctx, false, "busy",
                  f->hold_until ? "a failover of this cluster is holding (failoverctl status says "
                                  "why); `failoverctl failover CLUSTER --force` or --policy "
                                  "availability accepts what it waits for"
                                : "an operation is already running on this cluster",
                  NULL);
        return;
    }
    if (f->interrupted || f->state_unknown) {
        blocked(f, err, sizeof err);
        reply_now(reply, ctx, false, "failed", err, NULL);
        return;
    }
    if (c->primary < 0) {
        reply_now(reply, ctx, false, "failed", "the primary is not known", NULL);
        return;
    }
    policy_t policy = r->policy_given ? r->policy : f->s.policy;
    if (r->to && cluster_find_node_by_name(c, r->to) < 0) {
        snprintf(err, sizeof err, "no node named \"%s\" in %s", r->to, f->s.cluster);
        reply_now(reply, ctx, false, "not_found", err, NULL);
        return;
    }
    verdict_t v = c->detect.verdict;
    if (r->kind == OP_FAILOVER) {
        if (v == VERDICT_HEALTHY && c->nodes[c->primary].up &&
            !(r->force && replicas_lost_primary(c))) {
            reply_now(reply, ctx, false, "failed",
                      "the primary is healthy: use `failoverctl switchover` to move it", NULL);
            return;
        }
        if (v != VERDICT_DEAD && !r->force) {
            snprintf(err, sizeof err, "the primary is %s, not dead: replicas may still receive from "
                                      "it; add --force to fail over anyway",
                     verdict_str(v));
            reply_now(reply, ctx, false, "failed", err, NULL);
            return;
        }
        if (r->to) {
            /* A node that can't be promoted now (must_not, errant, not a
             * replica of the primary ...) is refused before anything is
             * touched: the prepare phase would stop every replica's IO thread
             * only to find the same. */
            elect_result_t *e = elect_run(c, c->primary, policy, r->to);
            if (e->chosen < 0) {
                buf_t b = BUF_INIT;
                buf_printf(&b, "%s; nothing was done", e->why);
                reply_now(reply, ctx, false, "failed", buf_str(&b), NULL);
                buf_free(&b);
                elect_free(e);
                return;
            }
            elect_free(e);
        }
        if (!begin(f, OP_FAILOVER, false, policy, r->to)) {
            blocked(f, err, sizeof err);
            reply_now(reply, ctx, false, "failed", err, NULL);
            return;
        }
        f->reply = reply;
        f->req_ctx = ctx;
        f->force = r->force;
        f->plan = plan_failover_prepare(c, f->old_primary, policy, &f->s.plan);
        start_exec(f, prepare_done);
        return;
    }
    /* Switchover. */
    elect_result_t *e = elect_run(c, c->primary, policy, r->to);
    if (e->chosen < 0) {
        reply_now(reply, ctx, false, "failed", e->why, NULL);
        elect_free(e);
        return;
    }
    plan_opts_t po = f->s.plan;
    if (r->timeout_ms)
        po.switchover_timeout_ms = r->timeout_ms;
    plan_t *p = plan_switchover(c, c->primary, e->chosen, policy, &po, err, sizeof err);
    if (!p) {
        reply_now(reply, ctx, false, "failed", err, NULL);
        elect_free(e);
        return;
    }
    if (!begin(f, OP_SWITCHOVER, false, policy, r->to)) {
        blocked(f, err, sizeof err);
        reply_now(reply, ctx, false, "failed", err, NULL);
        plan_free(p);
        elect_free(e);
        return;
    }
    f->reply = reply;
    f->req_ctx = ctx;
    f->elect = e;
    f->candidate = e->chosen;
    f->plan = p;
    start_exec(f, promote_done);
}

/* The cluster was resumed: a primary that is dead now is failed over now, as
 * it would have been if the cluster had not been paused; the verdict will not
 * change again by itself (after_ack does the same for an ack). */
static void reconsider(failover_t *f)
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
    if (!paused)
        reconsider(f);
}

/* After an acknowledgement: a primary that is dead right now is failed over
 * automatically, as if it had just died (the verdict does not change again,
 * so nothing else would start it). Appends what happens to msg. */
static void after_ack(failover_t *f, char *msg, size_t len)
{
    char why[512];
    if (f->running || !f->s.auto_failover ||
        monitor_cluster(f->m)->detect.verdict != VERDICT_DEAD || blocked(f, why, sizeof why))
        return;
    size_t used = strlen(msg);
    snprintf(msg + used, len - used, "; the primary is dead: an automatic failover starts now");
    f->block_reported = false;
    failover_on_verdict(f, VERDICT_DEAD, VERDICT_DEAD);
}

bool failover_ack(failover_t *f, char *msg, size_t len)
{
    if (f->interrupted || f->state_unknown) {
        json_t *first = f->interrupted ? json_array_get(f->interrupted, 0) : NULL;
        const char *op = json_string_value(json_object_get(first, "op"));
        const char *kind = json_string_value(json_object_get(first, "kind"));
        char *own = op ? NULL : journal_new_op_id(f->j);
        json_t *fields = NULL;
        if (f->state_unknown)
            fields = json_pack("{s:b, s:s}", "journal_damage", 1, "state_unknown",
                               f->state_unknown);
        bool ok = journal_record(f->j, f->s.cluster, op ? op : own, kind ? kind : "failover",
                                 "ack", fields);
        free(own);
        if (!ok) {
            snprintf(msg, len, "the acknowledgement could not be journaled (%s): nothing was "
                               "acknowledged. Make the state directory writable (restart the "
                               "daemon if the journal can't be read), then ack again",
                     journal_last_error(f->j));
            return false;
        }
        if (f->interrupted)
            snprintf(msg, len, "acknowledged the interrupted %s %s%s", kind ? kind : "operation",
                     op ? op : "", f->state_unknown ? " and the state of the journal" : "");
        else
            snprintf(msg, len, "acknowledged the state of the journal of %s", f->s.cluster);
        free(f->state_unknown);
        f->state_unknown = NULL;
        f->journal_damaged = false;
        if (f->interrupted) {
            /* A promotion it finished counts as failoverd's: the nodes it
             * left behind are seen to from now on. */
            json_t *sum = interrupted_summary(f->interrupted);
            if (strcmp(json_string_value(json_object_get(sum, "promotion")), "done") == 0)
                set_promoted(f, json_string_value(json_object_get(sum, "candidate")));
            json_decref(sum);
            json_decref(f->interrupted);
            f->interrupted = NULL;
        }
        f->last_acked = true;
        f->startup_confirmed = true;
        after_ack(f, msg, len);
        return true;
    }
    if (f->last_failover_wall && !f->last_acked) {
        /* Recorded under the failover's own id, so that its history shows it
         * acknowledged. */
        char *op = f->last_failover_op && f->last_failover_op[0] ? xstrdup(f->last_failover_op)
                                                                 : journal_new_op_id(f->j);
        bool ok = journal_record(f->j, f->s.cluster, op, "failover", "ack", NULL);
        free(op);
        if (!ok) {
            snprintf(msg, len, "the acknowledgement could not be journaled (%s): nothing was "
                               "acknowledged",
                     journal_last_error(f->j));
            return false;
        }
        f->last_acked = true;
        snprintf(msg, len, "acknowledged the last failover; automatic failover is allowed again");
        after_ack(f, msg, len);
        return true;
    }
    snprintf(msg, len, "nothing to acknowledge on %s", f->s.cluster);
    return false;
}

/* A cluster whose journal can't be trusted, or whose last operation was
 * interrupted, is not "healthy" whatever its primary answers: the traffic may
 * point at a node the operation left read-only. Its verdict reads "unknown"
 * (the detector's stays in primary_verdict) until an operator acknowledges. */
static void held_status(failover_t *f, json_t *st)
{
    json_object_set_new(st, "state_unknown",
                        f->state_unknown ? json_string(f->state_unknown) : json_null());
    const char *v = json_string_value(json_object_get(st, "verdict"));
    if (!v)
        return;
    json_object_set_new(st, "primary_verdict", json_string(v));
    if ((!f->state_unknown && !f->interrupted) || f->running || strcmp(v, "healthy") != 0)
        return;
    buf_t b = BUF_INIT;
    if (f->state_unknown)
        buf_printf(&b, "state unknown: %s; check and `failoverctl ack %s`", f->state_unknown,
                   f->s.cluster);
    else
        buf_printf(&b, "state unknown: an operation was interrupted; check and `failoverctl ack "
                       "%s` (the primary answers probes)",
                   f->s.cluster);
    json_object_set_new(st, "verdict", json_string("unknown"));
    json_object_set_new(st, "verdict_reason", json_string(buf_str(&b)));
    buf_free(&b);
}

void failover_status(failover_t *f, json_t *st)
{
    cluster_t *c = monitor_cluster(f->m);
    json_object_set_new(st, "paused", json_boolean(f->paused));
    if (f->running) {
        char ts[32];
        format_wall_ms(f->started_wall, ts, sizeof ts);
        const char *step = f->exec ? exec_current_step(f->exec) : NULL;
        json_object_set_new(
            st, "failover",
            json_pack("{s:s, s:s, s:s?, s:s, s:s?, s:s, s:b}", "kind", kind_str(f->kind), "state",
                      "running", "step", step, "started", ts, "candidate",
                      f->candidate >= 0 ? c->nodes[f->candidate].name : NULL, "op", f->op,
                      "automatic", f->automatic));
        if (f->hold_until) {
            json_t *fo = json_object_get(st, "failover");
            json_object_set_new(fo, "held", json_string(f->hold_why ? f->hold_why : ""));
            json_object_set_new(fo, "held_for_ms",
                                json_integer((json_int_t)(f->hold_until > uv_now(f->loop)
                                                              ? f->hold_until - uv_now(f->loop)
                                                              : 0)));
        }
    } else if (f->interrupted) {
        json_t *first = json_array_get(f->interrupted, 0);
        json_t *fo = json_pack("{s:O, s:s, s:O, s:O}", "kind", json_object_get(first, "kind"),
                               "state", "interrupted", "started", json_object_get(first, "time"),
                               "op", json_object_get(first, "op"));
        json_t *sum = interrupted_summary(f->interrupted);
        json_object_update(fo, sum);
        json_decref(sum);
        json_object_set_new(st, "failover", fo);
    } else {
        json_object_set_new(st, "failover", json_null());
    }
    uint64_t until = f->last_failover_wall && !f->last_acked
                         ? f->last_failover_wall + f->s.failover_block_ms
                         : 0;
    if (until > wall_now_ms()) {
        char ts[32];
        format_wall_ms(until, ts, sizeof ts);
        json_object_set_new(st, "blocked_until", json_string(ts));
    } else {
        json_object_set_new(st, "blocked_until", json_null());
    }
    char why[512];
    json_object_set_new(st, "auto_blocked", blocked(f, why, sizeof why) ? json_string(why) : json_null());
    json_object_set(st, "last_operation", f->last_op ? f->last_op : json_null());
    held_status(f, st);
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
    free(f->promoted);
    free(f->last_failover_op);
    free(f->seen_before);
    settings_free(&f->s);
    if (f->has_next_s)
        settings_free(&f->next_s);
    f->has_next_s = false;
    f->open = 4;
    free(f->hold_why);
    json_decref(f->hold_unseen);
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
                   kind_str(f->kind));
        f->dying = true;
        return;
    }
    really_free(f);
}
