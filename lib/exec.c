/* exec.c - see exec.h. */
#include "exec.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dbconn.h"
#include "event.h"
#include "flavor.h"
#include "gtid.h"
#include "log.h"

#define POLL_MS 50

typedef struct run run_t;

struct exec {
    uv_loop_t *loop;
    const cluster_t *c;
    const plan_t *p;
    exec_opts_t o;
    journal_t *j;
    exec_env_t env;
    exec_done_cb cb;
    void *ud;
    dbconn_t **conns;     /* per node, created on first use */
    const step_t *steps;  /* the list running: plan steps, then maybe rollback */
    size_t n_steps;
    size_t first;         /* first step of the group running */
    size_t next;          /* first step of the next group */
    bool *ended;          /* per step of the list running: it has ended */
    size_t running;       /* steps of the current group still running */
    bool failed;          /* a required step of this list failed */
    char *fail_msg;
    bool rolling_back;
    bool past_no_return;  /* a plan step at or after the point of no return started */
    size_t failed_at;     /* index of the failed step in the plan list */
    char *captured;
    json_t *results;
    const char *current;
    uv_idle_t kick;       /* starts the next group from a fresh loop turn */
    int open;             /* handles and connections still open at the end */
};

/* One running step. */
struct run {
    exec_t *x;
    const step_t *s;
    uint64_t started;
    uv_timer_t timer; /* deadline for hooks/refresh; poll interval for check/verify */
    bool timer_on;
    bool finished;
    char *sql;        /* built at run time (waits) */
    bool awaiting;    /* a hook or refresh answer is still to come */
    bool closed;      /* its timer is closed: free it when the answer comes */
};

static void next_group(exec_t *x);
static void on_kick(uv_idle_t *h) { next_group(h->data); }

/* ---- finishing ------------------------------------------------------------ */

static void conn_closed(void *arg)
{
    exec_t *x = arg;
    if (--x->open == 0) {
        free(x->conns);
        free(x->ended);
        free(x->captured);
        free(x->fail_msg);
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
    for (size_t i = 0; i < x->c->n_nodes; i++)
        if (x->conns[i]) {
            x->open++;
            dbconn_close(x->conns[i], conn_closed, x);
            x->conns[i] = NULL;
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
        free(r->sql);
        free(r);
    }
    if (--x->running == 0)
        uv_idle_start(&x->kick, on_kick);
}

static void step_end(run_t *r, bool ok, const char *msg)
{
    if (r->finished)
        return;
    r->finished = true;
    exec_t *x = r->x;
    const step_t *s = r->s;
    uint64_t ms = uv_now(x->loop) - r->started;
    json_array_append_new(x->results, json_pack("{s:s, s:b, s:I, s:s?}", "name", s->name, "ok", ok,
                                                "ms", (json_int_t)ms, "error", ok ? NULL : msg));
    journal_record(x->j, x->o.cluster, x->o.op, x->o.kind, ok ? "step_done" : "step_failed",
                   json_pack("{s:s, s:I, s:s?}", "step", s->name, "ms", (json_int_t)ms, "error",
                             ok ? NULL : msg));
    if (!ok) {
        const char *node = s->node >= 0 ? x->c->nodes[s->node].name : NULL;
        event_emit(s->optional ? LOG_LVL_WARN : LOG_LVL_ERROR, "failover_step", x->o.cluster, node,
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
                   "failover_step", "step %s done in %llu ms", s->name, (unsigned long long)ms);
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

static dbconn_t *conn_for(exec_t *x, int node, uint64_t timeout)
{
    if (!x->conns[node]) {
        const node_t *n = &x->c->nodes[node];
        dbconn_opts_t o = {.host = n->host, .port = n->port, .user = x->o.user,
                           .password = x->o.password, .connect_timeout_ms = (unsigned)timeout,
                           .init_sql = "SET NAMES utf8mb4; SET SESSION sql_mode = ''"};
        x->conns[node] = dbconn_new(x->loop, &o);
    }
    return x->conns[node];
}

static void run_sql(run_t *r, const char *sql, uint64_t timeout, dbconn_cb done);

typedef struct {
    run_t *r;
    char *sql;
    uint64_t timeout;
    dbconn_cb done;
} pending_sql_t;

static void after_connect(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    pending_sql_t *ps = arg;
    run_t *r = ps->r;
    (void)c;
    (void)res;
    if (err) {
        step_end(r, false, err->msg);
    } else {
        uint64_t used = uv_now(r->x->loop) - r->started;
        uint64_t left = used + 1 < ps->timeout ? ps->timeout - used : 1;
        run_sql(r, ps->sql, left, ps->done);
    }
    free(ps->sql);
    free(ps);
}

static void run_sql(run_t *r, const char *sql, uint64_t timeout, dbconn_cb done)
{
    exec_t *x = r->x;
    dbconn_t *c = conn_for(x, r->s->node, timeout);
    int rc;
    if (dbconn_state(c) == DBCONN_CLOSED) {
        pending_sql_t *ps = xcalloc(1, sizeof *ps);
        *ps = (pending_sql_t){.r = r, .sql = xstrdup(sql), .timeout = timeout, .done = done};
        rc = dbconn_connect(c, after_connect, ps);
        if (rc != 0) {
            free(ps->sql);
            free(ps);
        }
    } else {
        rc = dbconn_query(c, sql, (unsigned)timeout, done, r);
    }
    if (rc != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "the connection to %s is busy or closed (%d)",
                 x->c->nodes[r->s->node].name, rc);
        step_end(r, false, msg);
    }
}

static void sql_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    (void)res;
    run_t *r = arg;
    step_end(r, !err, err ? err->msg : NULL);
}

static const char *first_value(dbconn_result_t *res)
{
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    return rs && rs->nrows > 0 && rs->ncols > 0 ? dbconn_rs_value(rs, 0, 0) : NULL;
}

static void wait_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    run_t *r = arg;
    if (err) {
        step_end(r, false, err->msg);
        return;
    }
    const flavor_t *f = &r->x->p->flavors[r->s->node];
    switch (flavor_gtid_wait_result(f, first_value(res))) {
    case FLAVOR_WAIT_OK: step_end(r, true, NULL); break;
    case FLAVOR_WAIT_TIMEOUT: {
        char msg[128];
        snprintf(msg, sizeof msg, "timed out after %llu ms waiting for the GTIDs",
                 (unsigned long long)r->s->timeout_ms);
        step_end(r, false, msg);
        break;
    }
    case FLAVOR_WAIT_ERROR: step_end(r, false, "the GTID wait returned an error"); break;
    }
}

static void capture_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    run_t *r = arg;
    if (err) {
        step_end(r, false, err->msg);
        return;
    }
    const char *v = first_value(res);
    free(r->x->captured);
    r->x->captured = xstrdup(v ? v : "");
    step_end(r, true, NULL);
}

/* ---- polling steps: check_lag and verify ---------------------------------- */

static void poll_again(run_t *r, const char *why);

/* A verify step that must reach the captured GTID state: has the replica
 * executed it (MySQL Executed_Gtid_Set, MariaDB Gtid_Slave_Pos)? Without a
 * captured value there is nothing to check. */
static bool reached(const exec_t *x, const dbconn_rs_t *rs, const flavor_replica_columns_t *R,
                    const step_t *s)
{
    if (!s->reach_captured || !x->captured || !x->captured[0])
        return true;
    const flavor_t *f = &x->p->flavors[s->node];
    bool ok = false;
    if (f->family == FLAVOR_MARIADB) {
        const char *col = R->gtid_slave_pos ? dbconn_rs_str(rs, 0, R->gtid_slave_pos) : NULL;
        gtid_pos_t *have = col ? gtid_pos_parse(col, NULL, 0) : NULL;
        gtid_pos_t *want = gtid_pos_parse(x->captured, NULL, 0);
        ok = !want || (have && gtid_pos_covers(have, want));
        gtid_pos_free(have);
        gtid_pos_free(want);
    } else {
        const char *col = R->executed_gtid_set ? dbconn_rs_str(rs, 0, R->executed_gtid_set) : NULL;
        gtid_set_t *have = col ? gtid_set_parse(col, NULL, 0) : NULL;
        gtid_set_t *want = gtid_set_parse(x->captured, NULL, 0);
        ok = !want || (have && gtid_set_is_subset(want, have));
        gtid_set_free(have);
        gtid_set_free(want);
    }
    return ok;
}

static void replica_polled(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    run_t *r = arg;
    exec_t *x = r->x;
    const step_t *s = r->s;
    if (err) {
        poll_again(r, err->msg);
        return;
    }
    const flavor_t *f = &x->p->flavors[s->node];
    const flavor_replica_columns_t *R = flavor_replica_columns(f);
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    if (!rs || rs->nrows == 0) {
        poll_again(r, "it has no replication configured");
        return;
    }
    const char *io = dbconn_rs_str(rs, 0, R->io_running);
    const char *sql = dbconn_rs_str(rs, 0, R->sql_running);
    if (s->kind == STEP_VERIFY) {
        const node_t *src = &x->c->nodes[s->source];
        const char *host = dbconn_rs_str(rs, 0, R->source_host);
        uint64_t port = 0;
        dbconn_rs_uint(rs, 0, R->source_port, &port);
        if (!host || strcmp(host, src->host) != 0 || port != src->port) {
            poll_again(r, "it does not replicate from the new primary");
        } else if (!io || strcasecmp(io, "Yes") != 0 || !sql || strcasecmp(sql, "Yes") != 0 ||
                   !reached(x, rs, R, s)) {
            char why[600];
            const char *e1 = dbconn_rs_str(rs, 0, R->last_io_error);
            const char *e2 = dbconn_rs_str(rs, 0, R->last_sql_error);
            snprintf(why, sizeof why, "IO thread %s, SQL thread %s%s%s%s%s%s", io ? io : "?",
                     sql ? sql : "?", e1 && e1[0] ? ": " : "", e1 ? e1 : "",
                     e2 && e2[0] ? ": " : "", e2 ? e2 : "",
                     reached(x, rs, R, s) ? ""
                                          : "; it has not executed all the new primary held yet");
            poll_again(r, why);
        } else {
            step_end(r, true, NULL);
        }
        return;
    }
    /* check_lag: SQL thread running and Seconds_Behind within the bound. */
    int64_t behind = -1;
    dbconn_rs_int(rs, 0, R->seconds_behind, &behind);
    if (behind >= 0 && (uint64_t)behind * 1000 <= s->max_lag_ms && sql &&
        strcasecmp(sql, "Yes") == 0)
        step_end(r, true, NULL);
    else {
        char why[128];
        snprintf(why, sizeof why, "it is %lld s behind (SQL thread %s)", (long long)behind,
                 sql ? sql : "?");
        poll_again(r, why);
    }
}

static void poll_now(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timer_on = false;
    uint64_t used = uv_now(r->x->loop) - r->started;
    uint64_t left = used + 1 < r->s->timeout_ms ? r->s->timeout_ms - used : 1;
    run_sql(r, flavor_sql_replica_status(&r->x->p->flavors[r->s->node]), left, replica_polled);
}

static void poll_again(run_t *r, const char *why)
{
    if (uv_now(r->x->loop) - r->started + POLL_MS >= r->s->timeout_ms) {
        char msg[700];
        snprintf(msg, sizeof msg, "still not done after %llu ms: %s",
                 (unsigned long long)r->s->timeout_ms, why);
        step_end(r, false, msg);
        return;
    }
    r->timer_on = true;
    uv_timer_start(&r->timer, poll_now, POLL_MS, 0);
}

/* ---- hooks and refresh ------------------------------------------------------ */

static void answer_deadline(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timer_on = false;
    char msg[128];
    snprintf(msg, sizeof msg, "no answer within %llu ms", (unsigned long long)r->s->timeout_ms);
    step_end(r, false, msg);
}

static void answered(void *token, int outcome, const char *msg)
{
    run_t *r = token;
    r->awaiting = false;
    if (r->closed) { /* the deadline ended the step already */
        free(r->sql);
        free(r);
        return;
    }
    if (r->s->kind == STEP_HOOK && outcome == HOOK_VETO)
        step_end(r, false, msg && msg[0] ? msg : "vetoed by a hook");
    else
        step_end(r, outcome == 0, msg && msg[0] ? msg : "failed");
}

/* ---- the group loop --------------------------------------------------------- */

static void start_step(exec_t *x, const step_t *s)
{
    run_t *r = xcalloc(1, sizeof *r);
    r->x = x;
    r->s = s;
    r->started = uv_now(x->loop);
    uv_timer_init(x->loop, &r->timer);
    r->timer.data = r;
    x->running++;
    x->current = s->name;
    if (!x->rolling_back && (size_t)(s - x->p->steps) >= x->p->point_of_no_return)
        x->past_no_return = true;
    journal_record(x->j, x->o.cluster, x->o.op, x->o.kind, "step",
                   json_pack("{s:s, s:s?, s:s?, s:s?}", "step", s->name, "node",
                             s->node >= 0 ? x->c->nodes[s->node].name : NULL, "sql", s->sql_log,
                             "desc", s->desc));
    if (x->o.crash_at_step && x->o.crash_at_step[0] && strcmp(x->o.crash_at_step, s->name) == 0) {
        log_error("test knob crash_at_step: dying at step %s", s->name);
        raise(SIGKILL);
    }
    log_fields(LOG_LVL_INFO, x->o.cluster, s->node >= 0 ? x->c->nodes[s->node].name : NULL,
               "failover_step", "step %s: %s", s->name, s->desc ? s->desc : "");
    char err[256];
    buf_t b = BUF_INIT;
    switch (s->kind) {
    case STEP_SQL: run_sql(r, s->sql, s->timeout_ms, sql_done); break;
    case STEP_WAIT_GTID: {
        const char *g = s->gtid ? s->gtid : x->captured;
        if (!g) {
            step_end(r, false, "nothing was captured to wait for");
            break;
        }
        if (!g[0]) { /* nothing to wait for */
            step_end(r, true, NULL);
            break;
        }
        if (!flavor_sql_wait_gtid(&x->p->flavors[s->node], g, s->timeout_ms, &b, err, sizeof err)) {
            step_end(r, false, err);
            break;
        }
        /* The server ends the wait at the timeout; give the round trip a second more. */
        run_sql(r, buf_str(&b), s->timeout_ms + 1000, wait_done);
        break;
    }
    case STEP_CAPTURE_GTID:
        run_sql(r, flavor_sql_gtid_executed(&x->p->flavors[s->node]), s->timeout_ms, capture_done);
        break;
    case STEP_CHECK_LAG:
    case STEP_VERIFY: poll_now(&r->timer); break;
    case STEP_HOOK:
    case STEP_REFRESH: {
        void (*fn)(const step_t *, exec_answer_fn, void *, void *) =
            s->kind == STEP_HOOK ? x->env.run_hook : x->env.refresh;
        if (!fn) {
            step_end(r, true, NULL); /* nothing configured to run */
            break;
        }
        r->awaiting = true;
        r->timer_on = true;
        uv_timer_start(&r->timer, answer_deadline, s->timeout_ms, 0);
        fn(s, answered, r, x->env.ud);
        break;
    }
    }
    buf_free(&b);
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
            event_emit(LOG_LVL_WARN, "failover_step", x->o.cluster, NULL,
                       json_pack("{s:s}", "error", x->fail_msg), "rolling back: %s", x->fail_msg);
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
    for (size_t i = x->first; i < x->next; i++)
        start_step(x, &x->steps[i]);
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
    x->o = *o;
    x->j = j;
    x->env = *env;
    x->cb = cb;
    x->ud = ud;
    x->conns = xcalloc(c->n_nodes, sizeof *x->conns);
    x->steps = p->steps;
    x->n_steps = p->n;
    x->ended = xcalloc(p->n + 1, sizeof *x->ended);
    x->results = json_array();
    uv_idle_init(loop, &x->kick);
    x->kick.data = x;
    uv_idle_start(&x->kick, on_kick);
    return x;
}

const char *exec_current_step(const exec_t *x) { return x->current; }
const char *exec_captured(const exec_t *x) { return x->captured; }
json_t *exec_results(const exec_t *x) { return x->results; }
bool exec_reached_point_of_no_return(const exec_t *x) { return x->past_no_return; }
