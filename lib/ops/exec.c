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
#include "observe.h"
#include "plan.h"

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
    dbconn_t **aux;       /* per node, a second connection (block_writes looks at and
                             kills sessions while its statement waits) */
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
    char **captured_by;   /* per node: the last state captured there */
    uint64_t started;     /* when the plan started (the deadline counts from here) */
    json_t *results;
    const char *current;
    uv_idle_t kick;       /* starts the next group from a fresh loop turn */
    int open;             /* handles and connections still open at the end */
    char *journal_fail;   /* a record could not be made durable: why (the plan stops) */
    int journal_failures; /* how many records could not be */
};

/* One running step. */
struct run {
    exec_t *x;
    const step_t *s;
    uint64_t started;
    uint64_t timeout_ms; /* the step's own, or less: what is left before the plan's deadline */
    bool clamped;     /* timeout_ms was cut by the deadline */
    int good_polls;   /* verify: polls in a row that found both threads running */
    uv_timer_t timer; /* deadline for hooks/refresh; poll interval for check/verify */
    bool timer_on;
    bool finished;
    char *sql;        /* built at run time (waits) */
    bool awaiting;    /* a hook or refresh answer is still to come */
    bool closed;      /* its timer is closed: free it when the answer comes */
    /* block_writes */
    unsigned long tid;   /* server thread of the statement setting read_only */
    bool kill_sent;      /* KILL QUERY was sent to it */
    char *fail;          /* why the step fails when the statement comes back */
    unsigned long *victims; /* sessions to kill, one after the other */
    size_t n_victims, next_victim;
    char *victims_text;
};

static void next_group(exec_t *x);
static void on_kick(uv_idle_t *h) { next_group(h->data); }

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

static void run_free(run_t *r)
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
}

static void opts_free(exec_opts_t *o)
{
    free((char *)o->cluster);
    free((char *)o->op);
    free((char *)o->kind);
    free((char *)o->user);
    free((char *)o->password);
    free((char *)o->crash_at_step);
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
        run_free(r);
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
        event_emit(s->optional ? LOG_LVL_WARN : LOG_LVL_ERROR, EV_FAILOVER_STEP, x->o.cluster, node,
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
                   EV_FAILOVER_STEP, "step %s done in %llu ms", s->name, (unsigned long long)ms);
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

static dbconn_t *conn_in(exec_t *x, dbconn_t **slot, int node, uint64_t timeout)
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
    return conn_in(x, &x->conns[node], node, timeout);
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

static void after_connect(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    pending_sql_t *ps = arg;
    if (err) {
        ps->done(c, res, err, ps->arg);
    } else {
        uint64_t used = uv_now(ps->loop) - ps->since;
        uint64_t left = used + 1 < ps->timeout ? ps->timeout - used : 1;
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

static int sql_on(uv_loop_t *loop, dbconn_t *c, const char *sql, uint64_t timeout, dbconn_cb done,
                  void *arg)
{
    if (dbconn_state(c) != DBCONN_CLOSED)
        return dbconn_query(c, sql, (unsigned)timeout, done, arg);
    pending_sql_t *ps = xcalloc(1, sizeof *ps);
    *ps = (pending_sql_t){.loop = loop, .sql = xstrdup(sql), .timeout = timeout, .since = uv_now(loop),
                          .done = done, .arg = arg};
    int rc = dbconn_connect(c, after_connect, ps);
    if (rc != 0) {
        free(ps->sql);
        free(ps);
    }
    return rc;
}

static void run_sql(run_t *r, const char *sql, uint64_t timeout, dbconn_cb done)
{
    exec_t *x = r->x;
    int rc = sql_on(x->loop, conn_for(x, r->s->node, timeout), sql, timeout, done, r);
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
        snprintf(msg, sizeof msg, "timed out after %llu ms%s waiting for the GTIDs",
                 (unsigned long long)r->timeout_ms, r->clamped ? " (the operation's timeout)" : "");
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
    exec_t *x = r->x;
    free(x->captured);
    x->captured = xstrdup(v ? v : "");
    free(x->captured_by[r->s->node]);
    x->captured_by[r->s->node] = xstrdup(x->captured);
    step_end(r, true, NULL);
}

/* ---- polling steps: check_lag and verify ---------------------------------- */

static void poll_again(run_t *r, const char *why);

/* A verify step that must reach the captured GTID state: has the replica
 * executed it (MySQL Executed_Gtid_Set, MariaDB Gtid_Slave_Pos)? Without a
 * captured value there is nothing to check. */
static bool reached(const exec_t *x, const observation_t *o, const step_t *s)
{
    if (!s->reach_captured || !x->captured || !x->captured[0])
        return true;
    server_family_t fam = x->p->flavors[s->node].family == FAMILY_MARIADB ? FAMILY_MARIADB
                                                                        : FAMILY_MYSQL;
    gtid_state_t *have =
        o->executed_gtids ? gtid_state_parse(fam, o->executed_gtids, NULL, 0) : NULL;
    gtid_state_t *want = gtid_state_parse(fam, x->captured, NULL, 0);
    bool ok = !want || (have && gtid_state_covers(have, want));
    gtid_state_free(have);
    gtid_state_free(want);
    return ok;
}

/* verify: the replica follows the new primary, both threads run, and (when
 * asked) it has executed what the primary held. */
static void verify_polled(run_t *r, const observation_t *o)
{
    exec_t *x = r->x;
    const step_t *s = r->s;
    bool follows = cluster_source_of(x->c, o) == s->source;
    bool running = o->io == IO_YES && o->sql_running;
    if (!follows || !running)
        r->good_polls = 0;
    if (!follows) {
        poll_again(r, "it does not replicate from the new primary");
    } else if (!running || !reached(x, o, s)) {
        char why[600];
        const char *e1 = o->last_io_error, *e2 = o->last_sql_error;
        snprintf(why, sizeof why, "IO thread %s, SQL thread %s%s%s%s%s%s",
                 observe_thread_word(o->io), o->sql_running ? "Yes" : "No", e1 ? ": " : "",
                 e1 ? e1 : "", e2 ? ": " : "", e2 ? e2 : "",
                 reached(x, o, s) ? "" : "; it has not executed all the new primary held yet");
        poll_again(r, why);
    } else if (++r->good_polls < 2) {
        /* Once more a poll later: a source that refuses the replica (a
         * GTID it lacks) lets the IO thread connect before saying so. */
        poll_again(r, "it has just started replicating");
    } else {
        step_end(r, true, NULL);
    }
}

/* check_lag: SQL thread running and Seconds_Behind within the bound. */
static void lag_polled(run_t *r, const observation_t *o)
{
    const step_t *s = r->s;
    int64_t behind = o->lag_s;
    bool applying = o->sql_running;
    if (o->io == IO_NO) {
        /* Stopped, not failing to connect: nothing will arrive until someone
         * starts it, so waiting out the step's time helps nobody. */
        step_end(r, false, "its IO thread is stopped: it receives nothing from the primary, and "
                           "that does not change by itself (start it, then try again)");
        return;
    }
    if (behind >= 0 && (uint64_t)behind * 1000 <= s->max_lag_ms && applying) {
        step_end(r, true, NULL);
    } else {
        char why[160];
        if (!applying)
            snprintf(why, sizeof why, "its SQL thread is not running (No), so it applies nothing");
        else if (behind < 0)
            snprintf(why, sizeof why, "its lag is unknown (IO thread %s)",
                     observe_thread_word(o->io));
        else
            snprintf(why, sizeof why, "it is %lld s behind, more than %llu ms", (long long)behind,
                     (unsigned long long)s->max_lag_ms);
        poll_again(r, why);
    }
}

static void replica_polled(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    run_t *r = arg;
    if (err) {
        poll_again(r, err->msg);
        return;
    }
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    observe_rows_t rows = OBSERVE_ROWS(rs);
    observation_t o = {.ok = true};
    char why[512];
    if (!observe_replica(&r->x->p->flavors[r->s->node], &rows, &o, why, sizeof why))
        poll_again(r, why);
    else if (!o.replica)
        poll_again(r, "it has no replication configured");
    else if (r->s->kind == STEP_VERIFY)
        verify_polled(r, &o);
    else
        lag_polled(r, &o);
    observation_clear(&o);
}

static void poll_now(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timer_on = false;
    uint64_t used = uv_now(r->x->loop) - r->started;
    uint64_t left = used + 1 < r->timeout_ms ? r->timeout_ms - used : 1;
    run_sql(r, flavor_sql_replica_status(&r->x->p->flavors[r->s->node]), left, replica_polled);
}

static void poll_again(run_t *r, const char *why)
{
    if (uv_now(r->x->loop) - r->started + POLL_MS >= r->timeout_ms) {
        char msg[700];
        snprintf(msg, sizeof msg, "still not done after %llu ms%s: %s",
                 (unsigned long long)r->timeout_ms, r->clamped ? " (the operation's timeout)" : "",
                 why);
        step_end(r, false, msg);
        return;
    }
    r->timer_on = true;
    uv_timer_start(&r->timer, poll_now, POLL_MS, 0);
}

/* ---- block_writes ------------------------------------------------------------ */

/* Making a primary read-only waits for the writes running on it (they hold
 * the global read lock's intention lock), and while it waits, new writes
 * queue behind it. The statement runs on the step's connection with the
 * server's own lock wait bounded too (so that it cannot linger if failoverd
 * goes away); a second connection watches:
 *   - when it is not done after long_writes_ms, the processlist is read for
 *     writes of other sessions (plan_is_long_write);
 *   - kill_long_writes: those sessions are killed (KILL CONNECTION), and the
 *     processlist is read again every POLL_MS until the statement is done;
 *   - otherwise, or when the step's time runs out: the statement itself is
 *     stopped (KILL QUERY), and the step fails with the writes it waited for.
 * The step ends only when its statement comes back, so that the connection is
 * free for what follows (a rollback's "writable again" in particular), and a
 * stopped read_only can never take effect later. */
#define WRITERS_SQL                                                                               \
    "SELECT ID, USER, HOST, COMMAND, TIME, STATE, LEFT(INFO, 160) AS INFO "                       \
    "FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() ORDER BY TIME DESC"

static void bw_poll(run_t *r);

/* An answer on the second connection came back: false when the step no
 * longer cares (then r may even be gone). */
static bool bw_back(run_t *r)
{
    r->awaiting = false;
    if (r->closed) {
        run_free(r);
        return false;
    }
    return !r->finished;
}

static void bw_tick(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timer_on = false;
    bw_poll(r);
}

static void bw_arm(run_t *r, uint64_t ms)
{
    r->timer_on = true;
    uv_timer_start(&r->timer, bw_tick, ms, 0);
}

static uint64_t bw_left(run_t *r)
{
    uint64_t used = uv_now(r->x->loop) - r->started;
    return used + 1 < r->timeout_ms ? r->timeout_ms - used : 1;
}

/* Runs sql on the node's second connection; done gets r. */
static bool bw_aux(run_t *r, const char *sql, dbconn_cb done)
{
    exec_t *x = r->x;
    int node = r->s->node;
    dbconn_t *c = conn_in(x, &x->aux[node], node, r->timeout_ms);
    r->awaiting = true;
    if (sql_on(x->loop, c, sql, bw_left(r), done, r) != 0) {
        r->awaiting = false;
        return false;
    }
    return true;
}

static void bw_sql_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    run_t *r = arg;
    (void)res;
    if (!err && r->kill_sent)
        dbconn_disconnect(c); /* the KILL QUERY may still reach this session: start afresh */
    if (err)
        step_end(r, false, r->fail ? r->fail : err->msg);
    else
        step_end(r, true, NULL);
}

static void bw_query_killed(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    run_t *r = arg;
    (void)c;
    (void)res;
    if (!bw_back(r))
        return;
    if (err)
        log_fields(LOG_LVL_WARN, r->x->o.cluster, r->x->c->nodes[r->s->node].name,
                   EV_FAILOVER_STEP, "could not stop the read-only statement: %s", err->msg);
}

/* Give up: stop the statement; the step fails with r->fail when it returns. */
static void bw_give_up(run_t *r)
{
    exec_t *x = r->x;
    unsigned long tid = dbconn_thread_id(x->conns[r->s->node]);
    r->kill_sent = true;
    if (!tid)
        return; /* not even connected: the connection's own deadline ends it */
    char sql[64];
    snprintf(sql, sizeof sql, "KILL QUERY %lu", tid);
    bw_aux(r, sql, bw_query_killed);
}

static void bw_kill_next(run_t *r);

static void bw_killed(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    run_t *r = arg;
    (void)c;
    (void)res;
    (void)err; /* a session that ended meanwhile is "unknown": fine */
    if (!bw_back(r))
        return;
    r->next_victim++;
    bw_kill_next(r);
}

static void bw_kill_next(run_t *r)
{
    if (r->next_victim >= r->n_victims) {
        bw_arm(r, POLL_MS);
        return;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "KILL CONNECTION %lu", r->victims[r->next_victim]);
    if (!bw_aux(r, sql, bw_killed))
        bw_arm(r, POLL_MS);
}

static void bw_listed(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    run_t *r = arg;
    (void)c;
    if (!bw_back(r))
        return;
    exec_t *x = r->x;
    const step_t *s = r->s;
    const char *node = x->c->nodes[s->node].name;
    uint64_t waited = uv_now(x->loop) - r->started;
    if (err) {
        log_fields(LOG_LVL_WARN, x->o.cluster, node, EV_FAILOVER_STEP,
                   "cannot read the processlist of %s: %s", node, err->msg);
        if (!s->kill_long_writes) {
            free(r->fail);
            buf_t b = BUF_INIT;
            buf_printf(&b, "%s could not be made read-only within %llu ms (long_writes = wait), "
                           "and its sessions could not be read: %s",
                       node, (unsigned long long)waited, err->msg);
            r->fail = buf_steal(&b);
            bw_give_up(r);
        } else {
            bw_arm(r, POLL_MS);
        }
        return;
    }
    unsigned long own = dbconn_thread_id(x->conns[s->node]);
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    buf_t text = BUF_INIT;
    free(r->victims);
    r->victims = NULL;
    r->n_victims = r->next_victim = 0;
    for (size_t i = 0; rs && i < rs->nrows; i++) {
        uint64_t id = 0, secs = 0;
        const char *user = dbconn_rs_str(rs, i, "USER");
        if (dbconn_rs_uint(rs, i, "ID", &id) != DBCONN_VAL_OK || id == own || !user ||
            strcmp(user, "system user") == 0 || strcmp(user, "event_scheduler") == 0 ||
            !plan_is_long_write(dbconn_rs_str(rs, i, "COMMAND"), dbconn_rs_str(rs, i, "STATE"),
                                dbconn_rs_str(rs, i, "INFO")))
            continue;
        dbconn_rs_uint(rs, i, "TIME", &secs);
        r->victims = xrealloc(r->victims, (r->n_victims + 1) * sizeof *r->victims);
        r->victims[r->n_victims++] = (unsigned long)id;
        if (r->n_victims <= 3) {
            const char *host = dbconn_rs_str(rs, i, "HOST");
            buf_printf(&text, "%ssession %llu of %s@%s, %llu s: %s", r->n_victims > 1 ? "; " : "",
                       (unsigned long long)id, user, host ? host : "?", (unsigned long long)secs,
                       dbconn_rs_str(rs, i, "INFO"));
        }
    }
    if (r->n_victims > 3)
        buf_printf(&text, "; and %zu more", r->n_victims - 3);
    if (!s->kill_long_writes) {
        free(r->fail);
        buf_t b = BUF_INIT;
        if (r->n_victims)
            buf_printf(&b, "writes still running on %s after %llu ms (long_writes = wait): %s",
                       node, (unsigned long long)waited, buf_str(&text));
        else
            buf_printf(&b, "%s could not be made read-only within %llu ms (long_writes = wait), "
                           "though no write is seen running",
                       node, (unsigned long long)waited);
        r->fail = buf_steal(&b);
        buf_free(&text);
        bw_give_up(r);
        return;
    }
    if (r->n_victims) {
        free(r->victims_text);
        r->victims_text = buf_steal(&text);
        event_emit(LOG_LVL_WARN, EV_LONG_WRITES_KILLED, x->o.cluster, node,
                   json_pack("{s:I, s:I, s:s}", "sessions", (json_int_t)r->n_victims, "waited_ms",
                             (json_int_t)waited, "writes", r->victims_text),
                   "killing %zu session%s still writing on %s after %llu ms, so that it can be "
                   "made read-only: %s",
                   r->n_victims, r->n_victims == 1 ? "" : "s", node, (unsigned long long)waited,
                   r->victims_text);
        bw_kill_next(r);
        return;
    }
    buf_free(&text);
    bw_arm(r, POLL_MS);
}

static void bw_poll(run_t *r)
{
    exec_t *x = r->x;
    if (r->kill_sent)
        return;
    if (uv_now(x->loop) - r->started + POLL_MS >= r->timeout_ms) {
        if (!r->fail) {
            buf_t b = BUF_INIT;
            buf_printf(&b, "%s was still not read-only after %llu ms%s%s%s",
                       x->c->nodes[r->s->node].name, (unsigned long long)r->timeout_ms,
                       r->clamped ? " (the operation's timeout)" : "",
                       r->victims_text ? "; writes killed: " : "",
                       r->victims_text ? r->victims_text : "");
            r->fail = buf_steal(&b);
        }
        bw_give_up(r);
        return;
    }
    if (!bw_aux(r, WRITERS_SQL, bw_listed))
        bw_arm(r, POLL_MS);
}

static void block_writes(run_t *r)
{
    const step_t *s = r->s;
    /* The server's own bound, in whole seconds, beyond ours. */
    unsigned server_s = (unsigned)((r->timeout_ms + 999) / 1000) + 1;
    buf_t b = BUF_INIT;
    buf_printf(&b, "SET SESSION lock_wait_timeout = %u; %s", server_s, s->sql);
    run_sql(r, buf_str(&b), r->timeout_ms + 2000, bw_sql_done);
    buf_free(&b);
    if (r->finished)
        return;
    uint64_t first = s->long_writes_ms;
    if (first + POLL_MS >= r->timeout_ms)
        first = r->timeout_ms > POLL_MS ? r->timeout_ms - POLL_MS : 0;
    bw_arm(r, first);
}

/* ---- hooks and refresh ------------------------------------------------------ */

static void answer_deadline(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timer_on = false;
    char msg[128];
    snprintf(msg, sizeof msg, "no answer within %llu ms", (unsigned long long)r->timeout_ms);
    step_end(r, false, msg);
}

static void answered(void *token, int outcome, const char *msg)
{
    run_t *r = token;
    r->awaiting = false;
    if (r->closed) { /* the deadline ended the step already */
        run_free(r);
        return;
    }
    if (r->s->kind == STEP_HOOK && outcome == HOOKS_VETOED)
        step_end(r, false, msg && msg[0] ? msg : "vetoed by a hook");
    else
        step_end(r, outcome == 0, msg && msg[0] ? msg : "failed");
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
    if (s->kind == STEP_REFRESH) {
        log_fields(LOG_LVL_WARN, x->o.cluster, NULL, EV_FAILOVER_STEP,
                   "step %s runs without its journal record (it only reads): %s", s->name,
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
    if (!x->rolling_back && x->p->deadline_ms && (size_t)(s - x->steps) < x->p->point_of_no_return) {
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
               EV_FAILOVER_STEP, "step %s: %s", s->name, s->desc ? s->desc : "");
    char err[256];
    buf_t b = BUF_INIT;
    switch (s->kind) {
    case STEP_SQL:
        if (s->needs_follower && !some_follower(x)) {
            event_emit(LOG_LVL_WARN, EV_FAILOVER_STEP, x->o.cluster,
                       s->node >= 0 ? x->c->nodes[s->node].name : NULL,
                       json_pack("{s:s, s:b, s:s}", "step", s->name, "skipped", true, "error",
                                 s->unmet ? s->unmet : "no replica follows"),
                       "step %s skipped: %s", s->name, s->unmet ? s->unmet : "no replica follows");
            step_end(r, true, NULL);
            break;
        }
        run_sql(r, s->sql, r->timeout_ms, sql_done);
        break;
    case STEP_FENCE:
        /* The fence goes on past the step's bound; its answer then is ignored. */
        r->awaiting = true;
        r->timer_on = true;
        uv_timer_start(&r->timer, answer_deadline, r->timeout_ms, 0);
        if (!x->env.fence || !x->env.fence(s, answered, r, x->env.ud)) {
            r->awaiting = false;
            r->timer_on = false;
            uv_timer_stop(&r->timer);
            run_sql(r, s->sql, r->timeout_ms, sql_done);
        }
        break;
    case STEP_BLOCK_WRITES: block_writes(r); break;
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
        if (!flavor_sql_wait_gtid(&x->p->flavors[s->node], g, r->timeout_ms, &b, err, sizeof err)) {
            step_end(r, false, err);
            break;
        }
        /* The server ends the wait at the timeout; give the round trip a second more. */
        run_sql(r, buf_str(&b), r->timeout_ms + 1000, wait_done);
        break;
    }
    case STEP_CAPTURE_GTID:
        run_sql(r, flavor_sql_gtid_executed(&x->p->flavors[s->node]), r->timeout_ms, capture_done);
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
        uv_timer_start(&r->timer, answer_deadline, r->timeout_ms, 0);
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
            event_emit(LOG_LVL_WARN, EV_FAILOVER_STEP, x->o.cluster, NULL,
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
const char *exec_captured_at(const exec_t *x, int node)
{
    return node >= 0 && (size_t)node < x->c->n_nodes ? x->captured_by[node] : NULL;
}
json_t *exec_results(const exec_t *x) { return x->results; }
bool exec_reached_point_of_no_return(const exec_t *x) { return x->past_no_return; }
const char *exec_journal_failed(const exec_t *x) { return x->journal_fail; }
