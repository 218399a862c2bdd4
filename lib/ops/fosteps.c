/* fosteps.c - the steps the executor asks the driver to run: the refresh,
 * hooks, and the fence of an old primary that still answers. */
#include "failover_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "coord.h"
#include "wallclock.h"
#include "durability.h"
#include "elect.h"
#include "event.h"
#include "haresume.h"
#include "log.h"
#include "rejoin.h"
#include "startup.h"
#include "resume.h"
#include "salvage_run.h"

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

typedef struct {
    exec_answer_fn answer;
    void *token;
    char *cluster, *node, *step; /* copies: a reload may replace the settings meanwhile */
} fence_wait_t;

/* ---- the salvage step (salvage_run.h) ------------------------------------- */

typedef struct {
    failover_t *f;
    exec_answer_fn answer;
    void *token;
} salvage_wait_t;

/* The salvage ends (its children are killed) before the step's own bound
 * (salvage_timeout plus 2 s), so f and the run are still there. */
static void salvage_answered(const salvage_result_t *r, void *ud)
{
    salvage_wait_t *w = ud;
    failover_t *f = w->f;
    cluster_t *c = monitor_cluster(f->m);
    json_decref(f->salvage);
    f->salvage = salvage_report(f->s.cluster, c->nodes[f->candidate].name,
                                c->nodes[f->old_primary].name, r);
    char *gate_err = r->ok ? fo_salvage_gate_check(f, r->after) : NULL;
    w->answer(w->token, r->ok && !gate_err ? 0 : 1,
              gate_err ? gate_err : r->ok ? "" : r->error);
    free(gate_err);
    free(w);
}

static void do_salvage(const step_t *s, const char *gtid, exec_answer_fn answer, void *token,
                       void *ud)
{
    failover_t *f = ud;
    cluster_t *c = monitor_cluster(f->m);
    const node_t *old = &c->nodes[s->source], *cand = &c->nodes[s->node];
    salvage_wait_t *w = xcalloc(1, sizeof *w);
    *w = (salvage_wait_t){.f = f, .answer = answer, .token = token};
    salvage_req_t q = {
        .command = f->s.salvage_command, .client = f->s.salvage_client, .dir = f->s.state_dir,
        .cluster = f->s.cluster,
        .vars = {.node = old->name, .host = old->host, .port = old->port,
                 .mariadb = f->plan->flavors[s->node].family == FAMILY_MARIADB, .gtid = gtid},
        .cand_host = cand->host, .cand_port = cand->port, .user = f->s.user,
        .password = f->s.password, .credentials = f->s.salvage_credentials,
        .super_read_only = f->plan->flavors[s->node].super_read_only,
        .timeout_ms = f->s.plan.salvage_timeout_ms};
    if (salvage_start(f->loop, &q, salvage_answered, w) != 0) {
        free(w);
        answer(token, 1, "salvage_command or salvage_client is not set");
    }
}


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
    if (s->background == STEP_FENCE_BG_WAIT)
        return fo_bgfence_wait(f, s->node, answer, token);
    if (s->background == STEP_FENCE_BG_START) {
        /* A silent old primary: the failover does not wait for its fence. */
        fo_bgfence_start(f, s->node);
        answer(token, 0, "the old primary does not answer: fenced in the background");
        return true;
    }
    if (fo_bgfence_join(f, s->node, answer, token))
        return true;
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

/* A guard's answer on its way to the executor: a refusal is noted on the
 * failover (fo_ha_end looks again after an operation a guard stopped), with
 * the step's name when the refusal leaves the operation to be finished
 * (haresume_refusal_leaves_open, decided while the step and plan are
 * there). */
typedef struct {
    failover_t *f;
    exec_answer_fn answer;
    void *token;
    char *late;
} guard_ans_t;

static void guard_answered(void *token, int outcome, const char *msg)
{
    guard_ans_t *g = token;
    if (outcome != 0) {
        g->f->guard_refused = true;
        if (g->late && !g->f->guard_refused_late) {
            g->f->guard_refused_late = g->late;
            g->late = NULL;
        }
    }
    g->answer(g->token, outcome, msg);
    free(g->late);
    free(g);
}

/* Coordination: the leader's term is confirmed before every step (coord.h);
 * the steps that change a server or run a hook are bounded by the lease. */
static void do_guard(const step_t *s, uint64_t *timeout_ms, exec_answer_fn answer, void *token,
                     void *ud)
{
    failover_t *f = ud;
    bool mutating = s->kind == STEP_SQL || s->kind == STEP_FENCE || s->kind == STEP_HOOK ||
                    s->kind == STEP_BLOCK_WRITES || s->kind == STEP_SALVAGE;
    json_t *rec = fo_ha_step_record(f, s);
    guard_ans_t *g = xcalloc(1, sizeof *g);
    *g = (guard_ans_t){.f = f, .answer = answer, .token = token,
                       .late = haresume_refusal_leaves_open(f->plan, s) ? xstrdup(s->name)
                                                                        : NULL};
    coord_step_guard(f->s.coord, f->s.cluster, rec, mutating, timeout_ms, guard_answered, g);
}

void fo_start_exec(failover_t *f, exec_done_cb done)
{
    exec_opts_t o = {.cluster = f->s.cluster, .op = f->op, .kind = fo_kind_str(f->kind),
                     .user = f->s.user, .password = f->s.password,
                     .crash_at_step = f->s.crash_at_step};
    exec_env_t env = {.run_hook = do_hook, .refresh = do_refresh, .ud = f, .fence = do_fence,
                      .salvage = do_salvage, .step_guard = f->s.coord ? do_guard : NULL};
    f->exec = exec_start(f->loop, monitor_cluster(f->m), f->plan, &o, f->j, &env, done, f);
}
