/* exec.c - see exec.h. */
#include "exec.h"
#include "exec_int.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dbconn.h"
#include "event.h"
#include "flavor.h"
#include "log.h"
#include "plan.h"


static void next_group(exec_t *x);
static void on_kick(uv_idle_t *h) { next_group(h->data); }

/* The name the steps' log lines carry: failover_step, or the caller's. */
static const char *step_name(const exec_t *x)
{
    return x->o.step_log ? x->o.step_log : EV_FAILOVER_STEP;
}

/* A step's failure or warning: a failover_step event, or, for a caller that
 * reports its outcome itself (step_log), a log line. fields is stolen. */
static void step_report(exec_t *x, log_level_t lvl, const char *node, json_t *fields,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void step_report(exec_t *x, log_level_t lvl, const char *node, json_t *fields,
                        const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (x->o.step_log) {
        log_fields(lvl, x->o.cluster, node, x->o.step_log, "%s", buf_str(&b));
        json_decref(fields);
    } else {
        event_emit(lvl, EV_FAILOVER_STEP, x->o.cluster, node, fields, "%s", buf_str(&b));
    }
    buf_free(&b);
}

/* A record of step s could not be made durable (ran: it was the record of its
 * end; else of its start, and s did not run). No further step runs: the plan
 * fails here, like a required step that failed (the rollback, before the
 * point of no return, runs only as far as its own records can be written). */
static void journal_failed(exec_t *x, const step_t *s, bool ran)
{
    const char *why = journal_last_error(x->j);
    buf_t b = BUF_INIT;
    if (ran)
        buf_printf(&b, "the journal record of the end of step %s could not be made durable (%s); "
                       "no further step was run",
                   s->name, why);
    else
        buf_printf(&b, "step %s was not run: its journal record could not be made durable (%s)",
                   s->name, why);
    event_emit(LOG_LVL_ERROR, EV_JOURNAL_WRITE_FAILED, x->o.cluster,
               s->node >= 0 ? x->c->nodes[s->node].name : NULL,
               json_pack("{s:s, s:s, s:b, s:s}", "step", s->name, "error", why, "step_ran", ran,
                         "op", x->o.op),
               "%s", buf_str(&b));
    x->journal_failures++;
    if (!x->journal_fail)
        x->journal_fail = xstrdup(buf_str(&b));
    if (!x->failed) {
        x->failed = true;
        x->failed_at = (size_t)(s - x->steps);
        /* A rollback keeps the reason it was started for. */
        if (!x->rolling_back || !x->fail_msg) {
            free(x->fail_msg);
            x->fail_msg = buf_steal(&b);
        }
    }
    buf_free(&b);
}

void exec__run_free(run_t *r)
{
    free(r->sql);
    free(r->fail);
    free(r->victims);
    free(r->victims_text);
    free(r);
}

/* ---- finishing ------------------------------------------------------------ */

/* The executor keeps its own copies of the strings it was started with: the
 * caller's (the cluster's settings) may be replaced by a reload while the plan
 * runs. */
static void opts_copy(exec_opts_t *d, const exec_opts_t *s)
{
    *d = *s;
    d->cluster = xstrdup(s->cluster ? s->cluster : "");
    d->op = xstrdup(s->op ? s->op : "");
    d->kind = xstrdup(s->kind ? s->kind : "");
    d->user = xstrdup(s->user ? s->user : "");
    d->password = xstrdup(s->password ? s->password : "");
    d->crash_at_step = xstrdup(s->crash_at_step ? s->crash_at_step : "");
    d->step_log = s->step_log ? xstrdup(s->step_log) : NULL;
}

static void opts_free(exec_opts_t *o)
{
    free((char *)o->cluster);
    free((char *)o->op);
    free((char *)o->kind);
    free((char *)o->user);
    free((char *)o->password);
    free((char *)o->crash_at_step);
    free((char *)o->step_log);
}

static void conn_closed(void *arg)
{
    exec_t *x = arg;
    if (--x->open == 0) {
        opts_free(&x->o);
        free(x->conns);
        free(x->ended);
        free(x->aux);
        for (size_t i = 0; i < x->c->n_nodes; i++)
            free(x->captured_by[i]);
        free(x->captured_by);
        free(x->captured);
        free(x->fail_msg);
        free(x->journal_fail);
        json_decref(x->results);
        free(x);
    }
}

static void kick_closed(uv_handle_t *h) { conn_closed(h->data); }

static void finish(exec_t *x, exec_outcome_t outcome, const char *msg)
{
    x->current = NULL;
    x->cb(x, outcome, msg, x->ud);
    /* Free once every connection and handle is closed. */
    x->open = 1;
    for (size_t i = 0; i < x->c->n_nodes; i++) {
        if (x->conns[i]) {
            x->open++;
            dbconn_close(x->conns[i], conn_closed, x);
            x->conns[i] = NULL;
        }
        if (x->aux[i]) {
            x->open++;
            dbconn_close(x->aux[i], conn_closed, x);
            x->aux[i] = NULL;
        }
    }
    uv_close((uv_handle_t *)&x->kick, kick_closed);
}

static void timer_closed(uv_handle_t *h)
{
    run_t *r = h->data;
    exec_t *x = r->x;
    if (r->awaiting) {
        r->closed = true;
    } else {
        exec__run_free(r);
    }
    if (--x->running == 0)
        uv_idle_start(&x->kick, on_kick);
}

void exec__step_end(run_t *r, bool ok, const char *msg)
{
    if (r->finished)
        return;
    r->finished = true;
    exec_t *x = r->x;
    const step_t *s = r->s;
    uint64_t ms = uv_now(x->loop) - r->started;
    json_array_append_new(x->results,
                          json_pack("{s:s, s:b, s:I, s:I, s:s?}", "name", s->name, "ok", ok, "ms",
                                    (json_int_t)ms, "at_ms", (json_int_t)(r->started - x->started),
                                    "error", ok ? NULL : msg));
    if (!journal_record(x->j, x->o.cluster, x->o.op, x->o.kind, ok ? "step_done" : "step_failed",
                        json_pack("{s:s, s:I, s:s?}", "step", s->name, "ms", (json_int_t)ms,
                                  "error", ok ? NULL : msg)))
        journal_failed(x, s, true);
    if (!ok) {
        const char *node = s->node >= 0 ? x->c->nodes[s->node].name : NULL;
        step_report(x, s->optional ? LOG_LVL_WARN : LOG_LVL_ERROR, node,
                   json_pack("{s:s, s:s, s:b}", "step", s->name, "error", msg, "optional",
                             s->optional),
                   "step %s failed%s: %s", s->name, s->optional ? " (optional, going on)" : "",
                   msg);
        if (!s->optional && !x->failed) {
            x->failed = true;
            x->failed_at = (size_t)(s - x->steps);
            buf_t b = BUF_INIT;
            buf_printf(&b, "step %s failed: %s", s->name, msg);
            x->fail_msg = buf_steal(&b);
        }
    } else {
        log_fields(LOG_LVL_INFO, x->o.cluster, s->node >= 0 ? x->c->nodes[s->node].name : NULL,
                   step_name(x), "step %s done in %llu ms", s->name, (unsigned long long)ms);
    }
    /* Status shows a step of the group that still runs. */
    x->ended[s - x->steps] = true;
    x->current = NULL;
    for (size_t i = x->first; i < x->next && !x->current; i++)
        if (!x->ended[i])
            x->current = x->steps[i].name;
    if (r->timer_on)
        uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, timer_closed);
}

/* ---- SQL on a node --------------------------------------------------------- */

dbconn_t *exec__conn_in(exec_t *x, dbconn_t **slot, int node, uint64_t timeout)
{
    if (!*slot) {
        const node_t *n = &x->c->nodes[node];
        dbconn_opts_t o = {.host = n->host, .port = n->port, .user = x->o.user,
                           .password = x->o.password, .connect_timeout_ms = (unsigned)timeout,
                           .init_sql = "SET NAMES utf8mb4; SET SESSION sql_mode = ''",
                           .tls = n->tls};
        *slot = dbconn_new(x->loop, &o);
    }
    return *slot;
}

static dbconn_t *conn_for(exec_t *x, int node, uint64_t timeout)
{
    return exec__conn_in(x, &x->conns[node], node, timeout);
}

/* A statement on c, connecting first when it is closed; done(arg) gets the
 * outcome either way (a failed connect is an error like any other). Returns
 * non-zero, without calling done, when c is busy. */
typedef struct {
    uv_loop_t *loop;
    char *sql;
    uint64_t timeout;
    uint64_t since;
    dbconn_cb done;
    void *arg;
} pending_sql_t;

uint64_t exec__time_left(uint64_t timeout, uint64_t since, uint64_t now)
{
    uint64_t used = now > since ? now - since : 0;
    return used < timeout ? timeout - used : 0;
}

/* The statement gets what its bound left after the connect. A connect that
 * ended after the bound (the loop was stalled, the process stopped: the
 * socket's answer is read before any timer runs) sends nothing: the bound is
 * what keeps a step inside the leadership it started under (docs/ha.md). */
static void after_connect(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    pending_sql_t *ps = arg;
    uv_update_time(ps->loop);
    uint64_t left = err ? 0 : exec__time_left(ps->timeout, ps->since, uv_now(ps->loop));
    if (err) {
        ps->done(c, res, err, ps->arg);
    } else if (left == 0) {
        dbconn_error_t e = {.kind = DBCONN_ERR_TIMEOUT};
        snprintf(e.msg, sizeof e.msg,
                 "connected to %s only after the statement's %llu ms had run out: not sent",
                 dbconn_endpoint(c), (unsigned long long)ps->timeout);
        ps->done(c, res, &e, ps->arg);
    } else {
        if (dbconn_query(c, ps->sql, (unsigned)left, ps->done, ps->arg) != 0) {
            dbconn_error_t e = {.kind = DBCONN_ERR_LOST};
            snprintf(e.msg, sizeof e.msg, "the connection to %s is busy or closed",
                     dbconn_endpoint(c));
            ps->done(c, res, &e, ps->arg);
        }
    }
    free(ps->sql);
    free(ps);
}

int exec__sql_on(uv_loop_t *loop, dbconn_t *c, const char *sql, uint64_t timeout, dbconn_cb done,
                  void *arg)
{
    if (dbconn_state(c) != DBCONN_CLOSED)
        return dbconn_query(c, sql, (unsigned)timeout, done, arg);
    pending_sql_t *ps = xcalloc(1, sizeof *ps);
    *ps = (pending_sql_t){.loop = loop,
                          .sql = xstrdup(sql),
                          .timeout = timeout,
                          .since = uv_now(loop),
                          .done = done,
                          .arg = arg};
    int rc = dbconn_connect(c, after_connect, ps);
    if (rc != 0) {
        free(ps->sql);
        free(ps);
    }
    return rc;
}

void exec__run_sql(run_t *r, const char *sql, uint64_t timeout, dbconn_cb done)
{
    exec_t *x = r->x;
    int rc = exec__sql_on(x->loop, conn_for(x, r->s->node, timeout), sql, timeout, done, r);
    if (rc != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "the connection to %s is busy or closed (%d)",
                 x->c->nodes[r->s->node].name, rc);
        exec__step_end(r, false, msg);
    }
}

static void sql_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    (void)res;
    run_t *r = arg;
    exec__step_end(r, !err, err ? err->msg : NULL);
}

/* ---- hooks and refresh ------------------------------------------------------ */

static void answer_deadline(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timer_on = false;
    char msg[128];
    snprintf(msg, sizeof msg, "no answer within %llu ms", (unsigned long long)r->timeout_ms);
    exec__step_end(r, false, msg);
}

static void answered(void *token, int outcome, const char *msg)
{
    run_t *r = token;
    r->awaiting = false;
    if (r->closed) { /* the deadline ended the step already */
        exec__run_free(r);
        return;
    }
    if (r->s->kind == STEP_HOOK && outcome == HOOKS_VETOED)
        exec__step_end(r, false, msg && msg[0] ? msg : "vetoed by a hook");
    else
        exec__step_end(r, outcome == 0, msg && msg[0] ? msg : "failed");
}

/* A verify step of the plan succeeded: a replica follows the new primary. */
static bool some_follower(const exec_t *x)
{
    size_t i;
    json_t *res;
    json_array_foreach(x->results, i, res)
    {
        if (!json_is_true(json_object_get(res, "ok")))
            continue;
        const char *name = json_string_value(json_object_get(res, "name"));
        for (size_t k = 0; name && k < x->n_steps; k++)
            if (x->steps[k].kind == STEP_VERIFY && strcmp(x->steps[k].name, name) == 0)
                return true;
    }
    return false;
}

/* ---- the group loop --------------------------------------------------------- */

/* Journals step s before it runs; false when that record is not durable and s
 * must not run (a refresh only reads, and runs anyway). */
static bool journal_step(exec_t *x, const step_t *s)
{
    if (journal_record(x->j, x->o.cluster, x->o.op, x->o.kind, "step",
                       json_pack("{s:s, s:s?, s:s?, s:s?}", "step", s->name, "node",
                                 s->node >= 0 ? x->c->nodes[s->node].name : NULL, "sql",
                                 s->sql_log, "desc", s->desc)))
        return true;
    /* A refresh only reads; the rejoin's fence only takes writes away from a
     * node that should have none. Neither waits for a journal that fails. */
    if (s->kind == STEP_REFRESH || (s->kind == STEP_FENCE && x->p->kind == PLAN_REJOIN)) {
        log_fields(LOG_LVL_WARN, x->o.cluster, NULL, step_name(x),
                   "step %s runs without its journal record (it only reads or fences): %s", s->name,
                   journal_last_error(x->j));
        return true;
    }
    journal_failed(x, s, false);
    x->ended[s - x->steps] = true;
    json_array_append_new(x->results,
                          json_pack("{s:s, s:b, s:I, s:I, s:s}", "name", s->name, "ok", 0, "ms",
                                    (json_int_t)0, "at_ms",
                                    (json_int_t)(uv_now(x->loop) - x->started), "error",
                                    "not run: its journal record could not be made durable"));
    return false;
}

/* A plain SQL step: skipped (with a warning) when it needs a follower and no
 * verify step found one. */
static void sql_step(run_t *r)
{
    exec_t *x = r->x;
    const step_t *s = r->s;
    if (s->needs_follower && !some_follower(x)) {
        step_report(x, LOG_LVL_WARN, s->node >= 0 ? x->c->nodes[s->node].name : NULL,
                   json_pack("{s:s, s:b, s:s}", "step", s->name, "skipped", true, "error",
                             s->unmet ? s->unmet : "no replica follows"),
                   "step %s skipped: %s", s->name, s->unmet ? s->unmet : "no replica follows");
        exec__step_end(r, true, NULL);
        return;
    }
    exec__run_sql(r, s->sql, r->timeout_ms, sql_done);
}

static void fence_step(run_t *r)
{
    exec_t *x = r->x;
    const step_t *s = r->s;
    /* The fence goes on past the step's bound; its answer then is ignored. */
    r->awaiting = true;
    r->timer_on = true;
    uv_timer_start(&r->timer, answer_deadline, r->timeout_ms, 0);
    if (!x->env.fence || !x->env.fence(s, answered, r, x->env.ud)) {
        r->awaiting = false;
        r->timer_on = false;
        uv_timer_stop(&r->timer);
        exec__run_sql(r, s->sql, r->timeout_ms, sql_done);
    }
}

static void wait_gtid_step(run_t *r)
{
    exec_t *x = r->x;
    const step_t *s = r->s;
    const char *g = s->gtid ? s->gtid : x->captured;
    if (!g) {
        exec__step_end(r, false, "nothing was captured to wait for");
        return;
    }
    if (!g[0]) { /* nothing to wait for */
        exec__step_end(r, true, NULL);
        return;
    }
    char err[256];
    buf_t b = BUF_INIT;
    if (!flavor_sql_wait_gtid(&x->p->flavors[s->node], g, r->timeout_ms, &b, err, sizeof err))
        exec__step_end(r, false, err);
    else /* The server ends the wait at the timeout; give the round trip a second more. */
        exec__run_sql(r, buf_str(&b), r->timeout_ms + 1000, exec__wait_done);
    buf_free(&b);
}

/* Hooks and refresh are the environment's: ask, and wait (bounded) for the answer. */
static void ask_step(run_t *r)
{
    exec_t *x = r->x;
    const step_t *s = r->s;
    void (*fn)(const step_t *, exec_answer_fn, void *, void *) =
        s->kind == STEP_HOOK ? x->env.run_hook : x->env.refresh;
    if (!fn) {
        exec__step_end(r, true, NULL); /* nothing configured to run */
        return;
    }
    r->awaiting = true;
    r->timer_on = true;
    uv_timer_start(&r->timer, answer_deadline, r->timeout_ms, 0);
    fn(s, answered, r, x->env.ud);
}

/* Salvage is the environment's too (salvage_run.h), from the candidate's
 * GTID state as its capture step read it. */
static void salvage_step(run_t *r)
{
    exec_t *x = r->x;
    const step_t *s = r->s;
    if (!x->env.salvage || !x->captured_by[s->node]) {
        exec__step_end(r, false, "the candidate's GTID state was not read");
        return;
    }
    r->awaiting = true;
    r->timer_on = true;
    uv_timer_start(&r->timer, answer_deadline, r->timeout_ms, 0);
    x->env.salvage(s, x->captured_by[s->node], answered, r, x->env.ud);
}

static void dispatch(run_t *r)
{
    exec_t *x = r->x;
    const step_t *s = r->s;
    switch (s->kind) {
    case STEP_SQL: sql_step(r); break;
    case STEP_FENCE: fence_step(r); break;
    case STEP_BLOCK_WRITES: exec__block_writes(r); break;
    case STEP_WAIT_GTID: wait_gtid_step(r); break;
    case STEP_CAPTURE_GTID:
        exec__run_sql(r, s->sql ? s->sql : flavor_sql_gtid_executed(&x->p->flavors[s->node]),
                      r->timeout_ms, exec__capture_done);
        break;
    case STEP_CHECK_LAG:
    case STEP_VERIFY: exec__poll_now(&r->timer); break;
    case STEP_SALVAGE: salvage_step(r); break;
    case STEP_HOOK:
    case STEP_REFRESH: ask_step(r); break;
    }
}

/* The guard's answer: run the step, or end it unrun. */
static void guard_answered(void *token, int outcome, const char *msg)
{
    run_t *r = token;
    r->awaiting = false;
    if (r->closed) { /* the deadline ended the step already */
        exec__run_free(r);
        return;
    }
    if (outcome != 0) {
        exec__step_end(r, false, msg && msg[0] ? msg : "not run: refused by the step guard");
        return;
    }
    uv_timer_stop(&r->timer);
    r->timer_on = false;
    dispatch(r);
}

static void guard_step(run_t *r)
{
    r->awaiting = true;
    r->timer_on = true;
    uv_timer_start(&r->timer, answer_deadline, r->timeout_ms, 0);
    r->x->env.step_guard(r->s, &r->timeout_ms, guard_answered, r, r->x->env.ud);
}

static void start_step(exec_t *x, const step_t *s)
{
    if (!journal_step(x, s))
        return;
    run_t *r = xcalloc(1, sizeof *r);
    r->x = x;
    r->s = s;
    r->started = uv_now(x->loop);
    r->timeout_ms = s->timeout_ms;
    /* Before the point of no return every step also ends by the plan's deadline. */
    if (!x->rolling_back && x->p->deadline_ms &&
        (size_t)(s - x->steps) < x->p->point_of_no_return) {
        uint64_t used = r->started - x->started;
        uint64_t left = used + 1 < x->p->deadline_ms ? x->p->deadline_ms - used : 1;
        if (left < r->timeout_ms) {
            r->timeout_ms = left;
            r->clamped = true;
        }
    }
    uv_timer_init(x->loop, &r->timer);
    r->timer.data = r;
    x->running++;
    x->current = s->name;
    if (!x->rolling_back && (size_t)(s - x->p->steps) >= x->p->point_of_no_return)
        x->past_no_return = true;
    if (x->o.crash_at_step && x->o.crash_at_step[0] && strcmp(x->o.crash_at_step, s->name) == 0) {
        log_error("test knob crash_at_step: dying at step %s", s->name);
        raise(SIGKILL);
    }
    log_fields(LOG_LVL_INFO, x->o.cluster, s->node >= 0 ? x->c->nodes[s->node].name : NULL,
               step_name(x), "step %s: %s", s->name, s->desc ? s->desc : "");
    if (x->env.step_guard)
        guard_step(r);
    else
        dispatch(r);
}

static void next_group(exec_t *x)
{
    uv_idle_stop(&x->kick);
    if (x->failed && !x->rolling_back) {
        size_t at = x->failed_at;
        if (at < x->p->point_of_no_return && x->p->n_rollback > 0) {
            x->rolling_back = true;
            x->failed = false;
            x->steps = x->p->rollback;
            x->n_steps = x->p->n_rollback;
            x->next = 0;
            free(x->ended);
            x->ended = xcalloc(x->n_steps + 1, sizeof *x->ended);
            step_report(x, LOG_LVL_WARN, NULL, json_pack("{s:s}", "error", x->fail_msg),
                        "rolling back: %s", x->fail_msg);
        } else {
            finish(x, EXEC_FAILED, x->fail_msg);
            return;
        }
    }
    if (x->next >= x->n_steps) {
        if (x->rolling_back)
            finish(x, x->failed ? EXEC_FAILED : EXEC_ROLLED_BACK, x->fail_msg);
        else
            finish(x, EXEC_DONE, NULL);
        return;
    }
    int g = x->steps[x->next].group;
    x->first = x->next;
    while (x->next < x->n_steps && x->steps[x->next].group == g)
        x->next++;
    int failures = x->journal_failures;
    for (size_t i = x->first; i < x->next && x->journal_failures == failures; i++)
        start_step(x, &x->steps[i]);
    /* A step not run for want of its record stops the group: what did start
     * ends by itself; when nothing did, go on (to the rollback or the end). */
    if (x->journal_failures != failures) {
        for (size_t i = x->first; i < x->next; i++)
            x->ended[i] = true;
        if (x->running == 0)
            uv_idle_start(&x->kick, on_kick);
    }
    /* Steps that ended at once (nothing to wait for) leave the first still running. */
    x->current = NULL;
    for (size_t i = x->first; i < x->next && !x->current; i++)
        if (!x->ended[i])
            x->current = x->steps[i].name;
}

exec_t *exec_start(uv_loop_t *loop, const cluster_t *c, const plan_t *p, const exec_opts_t *o,
                   journal_t *j, const exec_env_t *env, exec_done_cb cb, void *ud)
{
    exec_t *x = xcalloc(1, sizeof *x);
    x->loop = loop;
    x->c = c;
    x->p = p;
    opts_copy(&x->o, o);
    x->j = j;
    x->env = *env;
    x->cb = cb;
    x->ud = ud;
    x->conns = xcalloc(c->n_nodes, sizeof *x->conns);
    x->aux = xcalloc(c->n_nodes, sizeof *x->aux);
    x->captured_by = xcalloc(c->n_nodes, sizeof *x->captured_by);
    x->started = uv_now(loop);
    x->steps = p->steps;
    x->n_steps = o->end_step && o->end_step < p->n ? o->end_step : p->n;
    x->next = o->first_step < x->n_steps ? o->first_step : x->n_steps;
    x->ended = xcalloc(p->n + 1, sizeof *x->ended);
    x->results = json_array();
    uv_idle_init(loop, &x->kick);
    x->kick.data = x;
    uv_idle_start(&x->kick, on_kick);
    return x;
}

const char *exec_current_step(const exec_t *x) { return x->current; }
const char *exec_captured(const exec_t *x) { return x->captured; }
const char *exec_captured_at(const exec_t *x, int node)
{
    return node >= 0 && (size_t)node < x->c->n_nodes ? x->captured_by[node] : NULL;
}
json_t *exec_results(const exec_t *x) { return x->results; }
bool exec_reached_point_of_no_return(const exec_t *x) { return x->past_no_return; }
const char *exec_journal_failed(const exec_t *x) { return x->journal_fail; }
