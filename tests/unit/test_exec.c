/* The executor's step runner (see exec.h), without a server: plans of hooks,
 * refreshes and steps that need no connection, run on a real loop against a
 * real journal, with a fake environment that answers (or doesn't) from the
 * loop. What is checked: groups in order, every step journaled before and
 * after, optional failures going on, a required failure before the point of
 * no return rolling back (and after it not), the step's own timeout, the
 * plan's deadline, and a step that is not run when its record can't be
 * made durable. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "exec.h"
#include "hooks.h"
#include "journal.h"
#include "plan.h"
#include "testutil.h"

/* ---- a plan by hand ------------------------------------------------------------ */

static void add(step_t **list, size_t *n, step_kind_t kind, const char *name, int group,
                uint64_t timeout_ms, bool optional)
{
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    step_t *s = &(*list)[(*n)++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->name = xstrdup(name);
    s->desc = xstrdup(name);
    s->node = -1;
    s->source = -1;
    s->group = group;
    s->timeout_ms = timeout_ms;
    s->optional = optional;
}

static plan_t *new_plan(size_t n_nodes)
{
    plan_t *p = xcalloc(1, sizeof *p);
    p->kind = PLAN_SWITCHOVER;
    p->old_primary = 0;
    p->candidate = -1;
    p->flavors = xcalloc(n_nodes, sizeof *p->flavors);
    p->known = xcalloc(n_nodes, sizeof *p->known);
    return p;
}

static void one_node(cluster_t *c)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("main");
    c->n_nodes = 1;
    c->nodes = xcalloc(1, sizeof *c->nodes);
    node_init(&c->nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    c->primary = 0;
}

/* ---- a fake environment --------------------------------------------------------- */

/* What the hooks and refreshes should answer, by step name; a step not listed
 * answers 0. "never": no answer until the test ends (then it is answered,
 * late, as the API asks). */
typedef struct {
    const char *name;
    int outcome; /* 0, non-zero, HOOKS_VETOED; -1: never */
} answer_rule_t;

typedef struct {
    exec_answer_fn answer;
    void *token;
    int outcome;
    uv_timer_t timer;
    bool late; /* held back: answered by the test at the end */
} pending_t;

typedef struct {
    uv_loop_t *loop;
    const answer_rule_t *rules;
    buf_t asked; /* "name name ..." in the order asked */
    pending_t *held[8];
    size_t n_held;
    bool done;
    exec_outcome_t outcome;
    char msg[512];
    /* What the executor says when it ends (it is freed afterwards). */
    json_t *results;
    char *journal_fail;
    bool past_no_return;
} env_t;

static void pending_closed(uv_handle_t *h) { free(h->data); }

static void answer_now(uv_timer_t *t)
{
    pending_t *p = t->data;
    p->answer(p->token, p->outcome, p->outcome ? "the hook said no" : NULL);
    uv_close((uv_handle_t *)&p->timer, pending_closed);
}

static void ask(const step_t *s, exec_answer_fn answer, void *token, void *ud)
{
    env_t *e = ud;
    buf_printf(&e->asked, "%s%s", e->asked.len ? " " : "", s->name);
    int outcome = 0;
    for (const answer_rule_t *r = e->rules; r && r->name; r++)
        if (strcmp(r->name, s->name) == 0)
            outcome = r->outcome;
    pending_t *p = xcalloc(1, sizeof *p);
    *p = (pending_t){.answer = answer, .token = token, .outcome = outcome};
    uv_timer_init(e->loop, &p->timer);
    p->timer.data = p;
    if (outcome < 0) {
        p->late = true;
        p->outcome = 1;
        e->held[e->n_held++] = p;
        return;
    }
    uv_timer_start(&p->timer, answer_now, 1, 0); /* from the loop, a turn later */
}

static void on_done(exec_t *x, exec_outcome_t outcome, const char *msg, void *ud)
{
    env_t *e = ud;
    e->done = true;
    e->results = json_deep_copy(exec_results(x));
    e->journal_fail = exec_journal_failed(x) ? xstrdup(exec_journal_failed(x)) : NULL;
    e->past_no_return = exec_reached_point_of_no_return(x);
    e->outcome = outcome;
    snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "");
}

/* ---- running one ------------------------------------------------------------------- */

static char jpath[64];

static void setup(void)
{
    snprintf(jpath, sizeof jpath, "/tmp/test_exec.%d.journal", (int)getpid());
    unlink(jpath);
}

static void teardown(void) { unlink(jpath); }

TestSuite(exec, .init = setup, .fini = teardown);

typedef struct {
    env_t env;
    json_t *results;     /* a copy of exec_results at the end */
    json_t *journal;     /* the records written */
    char *journal_fail;  /* exec_journal_failed at the end */
    bool past_no_return;
    uint64_t took_ms;
} run_out_t;

static void run(cluster_t *c, plan_t *p, const answer_rule_t *rules, bool unreadable,
                run_out_t *out)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(out, 0, sizeof *out);
    out->env.loop = &loop;
    out->env.rules = rules;
    out->env.asked = (buf_t)BUF_INIT;
    char err[256];
    journal_t *j = unreadable ? journal_open_unreadable(jpath, "unreadable for the test")
                              : journal_open(jpath, err, sizeof err);
    cr_assert_not_null(j);
    exec_env_t env = {.run_hook = ask, .refresh = ask, .ud = &out->env};
    exec_opts_t o = {.cluster = "main", .op = "op1", .kind = "switchover", .user = "u",
                     .password = "p"};
    uint64_t t0 = uv_now(&loop);
    exec_start(&loop, c, p, &o, j, &env, on_done, &out->env);
    cr_assert(test_run_until(&loop, &out->env.done, 10000), "the plan did not end");
    uv_update_time(&loop);
    out->took_ms = uv_now(&loop) - t0;
    out->results = out->env.results;
    out->journal_fail = out->env.journal_fail;
    out->past_no_return = out->env.past_no_return;
    /* Answers held back come now, after the step ended: they are ignored. */
    for (size_t i = 0; i < out->env.n_held; i++)
        uv_timer_start(&out->env.held[i]->timer, answer_now, 1, 0);
    test_close_loop(&loop);
    out->journal = journal_records(j, "main");
    journal_close(j);
}

static void run_free(run_out_t *out)
{
    buf_free(&out->env.asked);
    json_decref(out->results);
    json_decref(out->journal);
    free(out->journal_fail);
}

/* "type:step ..." of the journal's records. */
static char *journal_text(json_t *recs)
{
    buf_t b = BUF_INIT;
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        buf_printf(&b, "%s%s:%s", i ? " " : "", json_string_value(json_object_get(r, "type")),
                   json_string_value(json_object_get(r, "step")));
    }
    return buf_steal(&b);
}

static json_t *result_of(json_t *results, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return r;
    }
    return NULL;
}

/* ---- the tests ----------------------------------------------------------------------- */

Test(exec, groups_run_in_order_and_every_step_is_journaled_before_and_after)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_HOOK, "hook:a", 0, 1000, false);
    add(&p->steps, &p->n, STEP_HOOK, "hook:b", 1, 1000, false);
    add(&p->steps, &p->n, STEP_HOOK, "hook:c", 1, 1000, false);
    add(&p->steps, &p->n, STEP_REFRESH, "refresh", 2, 1000, false);
    p->point_of_no_return = 1;
    run_out_t out;
    run(&c, p, NULL, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_DONE, "%s", out.env.msg);
    cr_expect_str_eq(buf_str(&out.env.asked), "hook:a hook:b hook:c refresh");
    char *jt = journal_text(out.journal);
    /* b and c run together: both start before either ends. */
    cr_expect_str_eq(jt, "step:hook:a step_done:hook:a step:hook:b step:hook:c step_done:hook:b "
                         "step_done:hook:c step:refresh step_done:refresh");
    free(jt);
    cr_expect_eq(json_array_size(out.results), 4);
    cr_expect(out.past_no_return);
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, an_optional_failure_is_reported_and_the_plan_goes_on)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_HOOK, "hook:a", 0, 1000, true);
    add(&p->steps, &p->n, STEP_HOOK, "hook:b", 1, 1000, false);
    static const answer_rule_t rules[] = {{"hook:a", 1}, {NULL, 0}};
    run_out_t out;
    run(&c, p, rules, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_DONE, "%s", out.env.msg);
    cr_expect_str_eq(buf_str(&out.env.asked), "hook:a hook:b");
    cr_expect(json_is_false(json_object_get(result_of(out.results, "hook:a"), "ok")));
    cr_expect(json_is_true(json_object_get(result_of(out.results, "hook:b"), "ok")));
    char *jt = journal_text(out.journal);
    cr_expect_str_eq(jt, "step:hook:a step_failed:hook:a step:hook:b step_done:hook:b");
    free(jt);
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, a_veto_before_the_point_of_no_return_rolls_back)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_HOOK, "hook:before", 0, 1000, false);
    add(&p->steps, &p->n, STEP_HOOK, "hook:after", 1, 1000, false);
    add(&p->rollback, &p->n_rollback, STEP_HOOK, "hook:undo", 0, 1000, false);
    p->point_of_no_return = 1;
    static const answer_rule_t rules[] = {{"hook:before", HOOKS_VETOED}, {NULL, 0}};
    run_out_t out;
    run(&c, p, rules, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_ROLLED_BACK, "%s", out.env.msg);
    cr_expect(strstr(out.env.msg, "hook:before"), "%s", out.env.msg);
    cr_expect_str_eq(buf_str(&out.env.asked), "hook:before hook:undo");
    cr_expect_not(out.past_no_return);
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, a_failure_past_the_point_of_no_return_is_not_rolled_back)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_HOOK, "hook:before", 0, 1000, false);
    add(&p->steps, &p->n, STEP_HOOK, "hook:after", 1, 1000, false);
    add(&p->steps, &p->n, STEP_HOOK, "hook:never", 2, 1000, false);
    add(&p->rollback, &p->n_rollback, STEP_HOOK, "hook:undo", 0, 1000, false);
    p->point_of_no_return = 1;
    static const answer_rule_t rules[] = {{"hook:after", 1}, {NULL, 0}};
    run_out_t out;
    run(&c, p, rules, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_FAILED, "%s", out.env.msg);
    cr_expect_str_eq(buf_str(&out.env.asked), "hook:before hook:after");
    cr_expect(out.past_no_return);
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, a_step_without_an_answer_ends_at_its_timeout)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_HOOK, "hook:silent", 0, 150, false);
    static const answer_rule_t rules[] = {{"hook:silent", -1}, {NULL, 0}};
    run_out_t out;
    run(&c, p, rules, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_FAILED);
    cr_expect(strstr(out.env.msg, "no answer within 150 ms"), "%s", out.env.msg);
    cr_expect_geq(out.took_ms, 140);
    cr_expect_lt(out.took_ms, 3000);
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, the_plans_deadline_cuts_a_step_before_the_point_of_no_return)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_HOOK, "hook:slow", 0, 5000, false);
    add(&p->steps, &p->n, STEP_HOOK, "hook:after", 1, 1000, false);
    p->point_of_no_return = 1;
    p->deadline_ms = 120;
    static const answer_rule_t rules[] = {{"hook:slow", -1}, {NULL, 0}};
    run_out_t out;
    run(&c, p, rules, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_FAILED);
    /* The step's 5 s are cut to what is left of the plan's 120 ms. */
    unsigned ms = 0;
    const char *w = strstr(out.env.msg, "no answer within ");
    cr_expect(w && sscanf(w, "no answer within %u ms", &ms) == 1 && ms > 0 && ms <= 120, "%s",
              out.env.msg);
    cr_expect_lt(out.took_ms, 3000);
    cr_expect_str_eq(buf_str(&out.env.asked), "hook:slow");
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, steps_with_nothing_to_do_end_at_once)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    /* A GTID wait for nothing; a statement that needs a follower when no
     * verify step found one (skipped, with a warning): neither connects. */
    add(&p->steps, &p->n, STEP_WAIT_GTID, "apply:db1", 0, 1000, false);
    p->steps[0].node = 0;
    p->steps[0].gtid = xstrdup("");
    add(&p->steps, &p->n, STEP_SQL, "semisync:db1", 1, 1000, true);
    p->steps[1].node = 0;
    p->steps[1].sql = xstrdup("SELECT 1");
    p->steps[1].sql_log = xstrdup("SELECT 1");
    p->steps[1].needs_follower = true;
    run_out_t out;
    run(&c, p, NULL, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_DONE, "%s", out.env.msg);
    cr_expect(json_is_true(json_object_get(result_of(out.results, "apply:db1"), "ok")));
    cr_expect(json_is_true(json_object_get(result_of(out.results, "semisync:db1"), "ok")));
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, a_wait_for_a_capture_that_never_happened_fails)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_WAIT_GTID, "sync:db1", 0, 1000, false);
    p->steps[0].node = 0;
    run_out_t out;
    run(&c, p, NULL, false, &out);
    cr_expect_eq(out.env.outcome, EXEC_FAILED);
    cr_expect(strstr(out.env.msg, "nothing was captured"), "%s", out.env.msg);
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

Test(exec, a_step_whose_record_is_not_durable_does_not_run)
{
    cluster_t c;
    one_node(&c);
    plan_t *p = new_plan(1);
    add(&p->steps, &p->n, STEP_HOOK, "hook:a", 0, 1000, false);
    add(&p->steps, &p->n, STEP_REFRESH, "refresh", 1, 1000, false);
    run_out_t out;
    run(&c, p, NULL, true, &out);
    cr_expect_eq(out.env.outcome, EXEC_FAILED);
    cr_expect(strstr(out.env.msg, "hook:a was not run"), "%s", out.env.msg);
    cr_expect_not_null(out.journal_fail);
    cr_expect_str_eq(buf_str(&out.env.asked), "");
    run_free(&out);
    plan_free(p);
    cluster_free(&c);
}

/* A statement whose connect ended after its bound is not sent (exec.c,
 * after_connect): what the bound leaves, at each point. */
uint64_t exec__time_left(uint64_t timeout, uint64_t since, uint64_t now);

Test(exec_bound, what_a_statements_bound_leaves_after_its_connect)
{
    static const struct {
        uint64_t timeout, since, now, left;
    } rows[] = {
        {2000, 1000, 1000, 2000}, /* connected at once */
        {2000, 1000, 2999, 1},    /* one ms left: still sent */
        {2000, 1000, 3000, 0},    /* spent exactly: not sent */
        {2000, 1000, 7318, 0},    /* the process was stopped for seconds */
        {2000, 1000, 900, 2000},  /* a clock that went back counts as no time used */
        {0, 1000, 1000, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_eq(exec__time_left(rows[i].timeout, rows[i].since, rows[i].now), rows[i].left,
                     "row %zu", i);
}
