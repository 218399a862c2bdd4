/* rejoin.c - see rejoin.h. */
#include "rejoin.h"
#include "rejoin_int.h"

#include "coord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dbconn.h"
#include "event.h"
#include "exec.h"
#include "flavor.h"
#include "log.h"
#include "observe.h"

#define INIT_SQL "SET NAMES utf8mb4; SET SESSION sql_mode = ''"

/* ---- the actions ------------------------------------------------------------- */

static char *dup0(const char *s)
{
    return xstrdup(s ? s : "");
}

static void settings_copy(rejoin_settings_t *d, const rejoin_settings_t *s)
{
    *d = *s;
    d->cluster = dup0(s->cluster);
    d->user = dup0(s->user);
    d->password = dup0(s->password);
    d->plan.repl_user = dup0(s->plan.repl_user);
    d->plan.repl_password = dup0(s->plan.repl_password);
}

static void settings_free(rejoin_settings_t *d)
{
    free((char *)d->cluster);
    free((char *)d->user);
    free((char *)d->password);
    free((char *)d->plan.repl_user);
    free((char *)d->plan.repl_password);
}

static void memo_clear(rejoin_t *r)
{
    for (size_t i = 0; i < r->n_memo; i++) {
        free(r->memo[i].checked);
        free(r->memo[i].ready);
    }
    free(r->memo);
    free(r->fence_reported);
    r->memo = NULL;
    r->fence_reported = NULL;
    r->n_memo = 0;
}

rejoin_t *rejoin_create(uv_loop_t *loop, const rejoin_settings_t *s)
{
    rejoin_t *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    settings_copy(&r->s, s);
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    r->open = 1;
    r->idx = -1;
    rejoin__abandon_open(r);
    return r;
}

void rejoin_update(rejoin_t *r, const rejoin_settings_t *s)
{
    if (r->phase != REJOIN_PHASE_WATCHING) {
        if (r->has_next_s)
            settings_free(&r->next_s);
        settings_copy(&r->next_s, s);
        r->has_next_s = true;
        return;
    }
    rejoin_settings_t old = r->s;
    settings_copy(&r->s, s);
    settings_free(&old);
    if (r->phase == REJOIN_PHASE_WATCHING)
        memo_clear(r);
}

bool rejoin_busy(const rejoin_t *r)
{
    return r->phase != REJOIN_PHASE_WATCHING;
}

static void really_free(rejoin_t *r)
{
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    memo_clear(r);
    settings_free(&r->s);
    free(r->relay);
    free(r->relay_why);
    if (r->has_next_s)
        settings_free(&r->next_s);
    free(r);
    if (done)
        done(ud);
}

static void one_closed(rejoin_t *r)
{
    if (--r->open == 0)
        really_free(r);
}

static void conn_closed(void *arg)
{
    one_closed(arg);
}
static void timer_closed(uv_handle_t *h)
{
    one_closed(h->data);
}

static void target_clear(rejoin_t *r, target_t *t)
{
    if (t->conn) {
        r->open++;
        dbconn_close(t->conn, conn_closed, r);
    }
    free(t->name);
    free(t->host);
    tls_cfg_free(t->tls);
    memset(t, 0, sizeof *t);
}

/* Ends the action in flight; the node's GTID state counts as looked at. */
void rejoin__end_action(rejoin_t *r, bool remember)
{
    if (remember && r->idx >= 0 && (size_t)r->idx < r->n_memo) {
        free(r->memo[r->idx].checked);
        r->memo[r->idx].checked = xstrdup(r->seen ? r->seen : "");
    }
    r->fence_watch = false;
    target_clear(r, &r->node);
    target_clear(r, &r->primary);
    target_clear(r, &r->aux);
    free(r->cut);
    free(r->fence_trouble);
    r->cut = NULL;
    r->n_cut = r->next_cut = 0;
    r->released = r->release_wanted = false;
    r->fence_trouble = NULL;
    plan_free(r->plan);
    r->plan = NULL;
    free(r->seen);
    free(r->primary_state);
    free(r->node_state);
    r->seen = r->primary_state = r->node_state = NULL;
    free(r->fence_err);
    free(r->fence_cut);
    r->fence_err = r->fence_cut = NULL;
    r->fence_answer = NULL;
    r->fence_token = NULL;
    r->fence_started = r->fence_ended = false;
    free(r->relay);
    free(r->relay_why);
    r->relay = r->relay_why = NULL;
    rejoin__enter(r, REJOIN_PHASE_WATCHING, LOG_LVL_DEBUG, NULL, NULL, NULL);
    free(r->op);
    r->op = NULL;
    r->idx = -1;
    if (r->has_next_s) {
        r->has_next_s = false;
        rejoin_settings_t next = r->next_s;
        rejoin_update(r, &next);
        settings_free(&next);
    }
    if (r->freeing) {
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->timer, timer_closed);
    }
}

void rejoin_free(rejoin_t *r, void (*done)(void *ud), void *ud)
{
    r->freeing = true;
    r->done = done;
    r->done_ud = ud;
    if (r->phase == REJOIN_PHASE_WATCHING) {
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->timer, timer_closed);
    }
}

/* ---- SQL on a target ---------------------------------------------------------- */

typedef struct {
    rejoin_t *r;
    target_t *t;
    char *sql;
    dbconn_cb cb;
} pending_t;


static void connected(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    pending_t *p = arg;
    (void)c;
    (void)res;
    if (err)
        p->cb(p->t->conn, NULL, err, p->r);
    else
        rejoin__run(p->r, p->t, p->sql, p->cb);
    free(p->sql);
    free(p);
}

void rejoin__run(rejoin_t *r, target_t *t, const char *sql, dbconn_cb cb)
{
    unsigned timeout = (unsigned)r->s.plan.step_timeout_ms;
    const char *no = coord_why_not(r->s.coord); /* a rejoin in flight stops with the lease */
    if (no) {
        dbconn_error_t e = {.kind = DBCONN_ERR_CONNECT};
        snprintf(e.msg, sizeof e.msg, "not sent: %s", no);
        cb(t->conn, NULL, &e, r);
        return;
    }
    if (!t->conn) {
        dbconn_opts_t o = {.host = t->host,
                           .port = t->port,
                           .user = r->s.user,
                           .password = r->s.password,
                           .connect_timeout_ms = timeout,
                           .init_sql = INIT_SQL,
                           .tls = t->tls};
        t->conn = dbconn_new(r->loop, &o);
    }
    int rc;
    if (dbconn_state(t->conn) == DBCONN_CLOSED) {
        pending_t *p = xcalloc(1, sizeof *p);
        *p = (pending_t){.r = r, .t = t, .sql = xstrdup(sql), .cb = cb};
        rc = dbconn_connect(t->conn, connected, p);
        if (rc != 0) {
            free(p->sql);
            free(p);
        }
    } else {
        rc = dbconn_query(t->conn, sql, timeout, cb, r);
    }
    if (rc != 0) {
        dbconn_error_t e = {.kind = DBCONN_ERR_CONNECT};
        snprintf(e.msg, sizeof e.msg, "the connection to %s is busy or closed (%d)", t->name, rc);
        cb(t->conn, NULL, &e, r);
    }
}


/* ---- check, rejoin, verify ------------------------------------------------------------ */

static void rejoin_failed(rejoin_t *r, const char *why)
{
    if (r->relay) {
        rejoin__relay_failed(r, why);
        return;
    }
    rejoin__enter(r, REJOIN_PHASE_FAILED, LOG_LVL_ERROR, EV_NODE_REJOIN_FAILED,
               json_pack("{s:s, s:s}", "primary", r->primary.name, "error", why),
               "%s could not rejoin as a replica of %s: %s. It stays read-only; repoint it by "
               "hand",
               r->node.name, r->primary.name, why);
    rejoin__end_action(r, true);
}

static void verified(exec_t *x, exec_outcome_t out, const char *msg, void *ud)
{
    rejoin_t *r = ud;
    r->x = NULL;
    if (out != EXEC_DONE) {
        rejoin_failed(r, rejoin__part_error(x, msg));
        return;
    }
    if (r->relay) {
        rejoin__relay_done(r);
        return;
    }
    rejoin__enter(r, REJOIN_PHASE_REJOINED, LOG_LVL_NOTICE, EV_NODE_REJOINED,
               json_pack("{s:s, s:s}", "primary", r->primary.name, "gtid", r->seen),
               "%s rejoined as a replica of %s: everything it had is on %s", r->node.name,
               r->primary.name, r->primary.name);
    rejoin__end_action(r, true);
}

static void repointed(exec_t *x, exec_outcome_t out, const char *msg, void *ud)
{
    rejoin_t *r = ud;
    r->x = NULL;
    if (out != EXEC_DONE) {
        rejoin_failed(r, rejoin__part_error(x, msg));
        return;
    }
    /* Polled until both threads run from the primary (verify_timeout). */
    rejoin__enter(r, REJOIN_PHASE_VERIFYING, LOG_LVL_DEBUG, NULL, NULL, NULL);
    r->started = uv_now(r->loop);
    rejoin__run_part(r, REJOIN_STEP_VERIFY, REJOIN_STEP_VERIFY + 1, verified);
}

static void start_rejoin(rejoin_t *r)
{
    const step_t *s = &r->plan->steps[REJOIN_STEP_REPOINT];
    if (!s->sql) {
        rejoin_failed(r, s->unmet);
        return;
    }
    log_fields(LOG_LVL_NOTICE, r->s.cluster, r->node.name, "node_rejoin",
               "rejoining %s as a replica of %s", r->node.name, r->primary.name);
    rejoin__enter(r, REJOIN_PHASE_REJOINING, LOG_LVL_DEBUG, NULL, NULL, NULL);
    rejoin__run_part(r, REJOIN_STEP_REPOINT, REJOIN_STEP_REPOINT + 1, repointed);
}

/* Compares the node's state with the primary's, and acts on it. */
static void compare_read(rejoin_t *r)
{
    const char *mine = r->node_state;
    bool mariadb = r->node.flavor.family == FAMILY_MARIADB;
    char *errant = NULL;
    char e[512];
    int rc = rejoin_compare(mariadb, mine, r->primary_state, &errant, e, sizeof e);
    if (rc < 0) {
        rejoin_failed(r, e);
        return;
    }
    if (rc == 0) {
        rejoin__enter(r, REJOIN_PHASE_ERRANT, LOG_LVL_ERROR, EV_NODE_ERRANT,
                   json_pack("{s:s, s:s, s:s?, s:s?}", "primary", r->primary.name, "errant_gtids",
                             errant, "gtid", mine, "primary_gtid", r->primary_state),
                   "%s is back but has transactions the primary %s lacks: %s. It stays "
                   "read-only and is not rejoined: compare them with what the primary has "
                   "(they may be lost writes), then rebuild %s from %s or repair it by hand",
                   r->node.name, r->primary.name, errant, r->node.name, r->primary.name);
        free(errant);
        rejoin__end_action(r, true);
        return;
    }
    /* auto_rejoin governs nodes that were not replicating: an old primary
     * coming back. A replica left pointing at another node is only moved to
     * the primary it should have been following all along. */
    if (!r->s.auto_rejoin && !r->node_replica) {
        /* Once per state: the node is looked at again when it comes back
         * after a probe failed, with nothing new to say. */
        rejoin_memo_t *m = r->idx >= 0 && (size_t)r->idx < r->n_memo ? &r->memo[r->idx] : NULL;
        if (m && m->ready && rejoin_same_state(m->ready, mine)) {
            rejoin__enter(r, REJOIN_PHASE_READY, LOG_LVL_DEBUG, NULL, NULL, "reported already");
            rejoin__end_action(r, true);
            return;
        }
        if (m) {
            free(m->ready);
            m->ready = xstrdup(mine ? mine : "");
        }
        rejoin__enter(r, REJOIN_PHASE_READY, LOG_LVL_NOTICE, EV_NODE_REJOIN_READY,
                   json_pack("{s:s, s:s?}", "primary", r->primary.name, "gtid", mine),
                   "%s is up, read-only and not a replica of the primary %s; everything it has is "
                   "on %s, so it can rejoin as a replica (auto_rejoin is off: repoint it by hand)",
                   r->node.name, r->primary.name, r->primary.name);
        rejoin__end_action(r, true);
        return;
    }
    start_rejoin(r);
}

/* Both states were read (the plan's first two steps, the node's first). */
static void captured(exec_t *x, exec_outcome_t out, const char *msg, void *ud)
{
    rejoin_t *r = ud;
    r->x = NULL;
    if (out != EXEC_DONE) {
        rejoin_failed(r, rejoin__part_error(x, msg));
        return;
    }
    const char *mine = exec_captured_at(x, r->plan->steps[REJOIN_STEP_NODE].node);
    const char *theirs = exec_captured_at(x, r->plan->steps[REJOIN_STEP_PRIMARY].node);
    free(r->node_state);
    r->node_state = mine ? xstrdup(mine) : NULL;
    /* What is remembered as looked at is the state checked here, which may
     * be newer than the probe's that started the look: remembering the
     * probe's made the next probe (showing the newer state) start the same
     * check, and its report, again. */
    if (mine) {
        free(r->seen);
        r->seen = xstrdup(mine);
    }
    free(r->primary_state);
    r->primary_state = xstrdup(theirs ? theirs : "");
    compare_read(r);
}

/* ---- looking ---------------------------------------------------------------------- */

static bool target_set(target_t *t, const node_t *n)
{
    memset(t, 0, sizeof *t);
    if (!n->last_ok.version || !flavor_detect(&t->flavor, n->last_ok.version, NULL, NULL, 0))
        return false;
    t->name = xstrdup(n->name);
    t->host = xstrdup(n->host);
    t->port = n->port;
    t->tls = tls_cfg_dup(n->tls);
    return true;
}

/* One memo entry per node of c. */
static void memo_fit(rejoin_t *r, const cluster_t *c)
{
    if (r->n_memo != c->n_nodes) {
        memo_clear(r);
        r->memo = xcalloc(c->n_nodes, sizeof *r->memo);
        r->fence_reported = xcalloc(c->n_nodes, sizeof *r->fence_reported);
        r->n_memo = c->n_nodes;
    }
}

bool rejoin_fence_for_failover(rejoin_t *r, const cluster_t *c, int node, uint64_t now,
                               rejoin_fence_done_fn done, void *ud)
{
    if (r->freeing || r->phase != REJOIN_PHASE_WATCHING || node < 0 || (size_t)node >= c->n_nodes)
        return false;
    const node_t *n = &c->nodes[node];
    char err[256];
    if (!target_set(&r->node, n) ||
        !(r->plan = plan_rejoin_fence(c, node, &r->s.plan, err, sizeof err))) {
        target_clear(r, &r->node);
        return false;
    }
    memo_fit(r, c);
    r->c = c;
    /* No memo entry: what the returning-primary rules remember is theirs. */
    r->idx = -1;
    r->seen = xstrdup(n->last_ok.gtid_executed ? n->last_ok.gtid_executed : "");
    r->node_replica = n->last_ok.replica;
    r->started = now;
    r->fence_done_fn = done;
    r->fence_done_ud = ud;
    rejoin__fence_start(r);
    return true;
}

/* Which nodes are back from being down and not replicating since (see
 * rejoin_memo_t.returned). */
static void note_returns(rejoin_t *r, const cluster_t *c)
{
    for (size_t i = 0; i < c->n_nodes && i < r->n_memo; i++) {
        const node_t *n = &c->nodes[i];
        if (n->probed && !n->up && !n->unobservable)
            r->memo[i].returned = true;
        else if (n->up && n->last_ok.ok && n->last_ok.replica && n->last_ok.io == IO_YES)
            r->memo[i].returned = false;
    }
}

/* The executor ran the fence plan: the fence reports once it has ended too
 * (it may go on past the step's bound). */
static void fence_ran(exec_t *x, exec_outcome_t out, const char *msg, void *ud)
{
    rejoin_t *r = ud;
    r->x = NULL;
    if (r->fence_ended)
        rejoin__fence_report(r, r->fence_err, r->fence_cut ? r->fence_cut : "");
    else if (!r->fence_started) /* its journal record failed, or it could not start */
        rejoin__fence_report(r, out == EXEC_DONE ? "not run" : rejoin__part_error(x, msg), "");
}

void rejoin_look(rejoin_t *r, const cluster_t *c, uint64_t now)
{
    if (r->freeing || r->phase != REJOIN_PHASE_WATCHING)
        return;
    memo_fit(r, c);
    /* A node that goes away is looked at afresh when it comes back. */
    for (size_t i = 0; i < c->n_nodes; i++)
        if (!c->nodes[i].up && r->memo[i].checked) {
            free(r->memo[i].checked);
            r->memo[i].checked = NULL;
        }
    note_returns(r, c);
    int i;
    rejoin_action_t a = rejoin_next(c, r->memo, now, FENCE_RETRY_MS, &i);
    if (a == REJOIN_NOTHING)
        return;
    const node_t *n = &c->nodes[i];
    char err[256];
    if (!target_set(&r->node, n) || !target_set(&r->primary, &c->nodes[c->primary]) ||
        !(r->plan = a == REJOIN_FENCE ? plan_rejoin_fence(c, i, &r->s.plan, err, sizeof err)
                                      : plan_rejoin(c, i, c->primary, !n->last_ok.replica,
                                                    &r->s.plan, err, sizeof err))) {
        target_clear(r, &r->node);
        target_clear(r, &r->primary);
        return; /* versions unknown: the next observation will have them */
    }
    r->idx = i;
    r->c = c;
    r->seen = xstrdup(n->last_ok.gtid_executed ? n->last_ok.gtid_executed : "");
    r->node_replica = n->last_ok.replica;
    r->started = now;
    rejoin__op_begin(r, a == REJOIN_FENCE ? "fence" : "check");
    if (a == REJOIN_FENCE) {
        /* The executor journals the fence step and asks rejoin_fence.c. */
        r->memo[i].fence_at = now ? now : 1;
        rejoin__enter(r, REJOIN_PHASE_FENCING, LOG_LVL_DEBUG, NULL, NULL, NULL);
        rejoin__run_part(r, 0, 1, fence_ran);
        return;
    }
    rejoin__enter(r, REJOIN_PHASE_COMPARING, LOG_LVL_DEBUG, NULL, NULL,
                  "reading the node's GTID state, then the primary's");
    rejoin__run_part(r, REJOIN_STEP_NODE, REJOIN_STEP_PRIMARY + 1, captured);
}

/* ---- for rejoin_relay.c -------------------------------------------------------------- */

bool rejoin__target_set(target_t *t, const node_t *n)
{
    return target_set(t, n);
}

void rejoin__memo_fit(rejoin_t *r, const cluster_t *c)
{
    memo_fit(r, c);
}

void rejoin__check_start(rejoin_t *r)
{
    rejoin__enter(r, REJOIN_PHASE_COMPARING, LOG_LVL_DEBUG, NULL, NULL,
                  "reading the node's GTID state, then its new source's");
    rejoin__run_part(r, REJOIN_STEP_NODE, REJOIN_STEP_PRIMARY + 1, captured);
}

bool rejoin_fence_reached(const rejoin_t *r)
{
    if (!r->fence_done_fn || !r->node.conn)
        return false;
    dbconn_state_t st = dbconn_state(r->node.conn);
    return st == DBCONN_IDLE || st == DBCONN_BUSY;
}

void rejoin_fence_counts(const rejoin_t *r, size_t *cut, bool *released)
{
    *cut = r->n_cut;
    *released = r->released;
}
