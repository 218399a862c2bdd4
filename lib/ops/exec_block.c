/* exec_block.c - the block_writes step: read-only on an old primary, long
 * writes waited for or killed (see exec.h). */
#include "exec.h"
#include "exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "flavor.h"
#include "log.h"

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
        exec__run_free(r);
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
    dbconn_t *c = exec__conn_in(x, &x->aux[node], node, r->timeout_ms);
    r->awaiting = true;
    if (exec__sql_on(x->loop, c, sql, bw_left(r), done, r) != 0) {
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
        exec__step_end(r, false, r->fail ? r->fail : err->msg);
    else
        exec__step_end(r, true, NULL);
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

/* The sessions of the processlist rs that write (not the step's own, not the
 * server's threads) become r's victims; the first three are described in text. */
static void bw_collect(run_t *r, const dbconn_rs_t *rs, buf_t *text)
{
    unsigned long own = dbconn_thread_id(r->x->conns[r->s->node]);
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
            buf_printf(text, "%ssession %llu of %s@%s, %llu s: %s", r->n_victims > 1 ? "; " : "",
                       (unsigned long long)id, user, host ? host : "?", (unsigned long long)secs,
                       dbconn_rs_str(rs, i, "INFO"));
        }
    }
    if (r->n_victims > 3)
        buf_printf(text, "; and %zu more", r->n_victims - 3);
}

/* The processlist could not be read: long_writes = wait gives up, kill tries again. */
static void bw_unlisted(run_t *r, const char *node, uint64_t waited, const dbconn_error_t *err)
{
    log_fields(LOG_LVL_WARN, r->x->o.cluster, node, EV_FAILOVER_STEP,
               "cannot read the processlist of %s: %s", node, err->msg);
    if (r->s->kill_long_writes) {
        bw_arm(r, POLL_MS);
        return;
    }
    free(r->fail);
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s could not be made read-only within %llu ms (long_writes = wait), "
                   "and its sessions could not be read: %s",
               node, (unsigned long long)waited, err->msg);
    r->fail = buf_steal(&b);
    bw_give_up(r);
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
        bw_unlisted(r, node, waited, err);
        return;
    }
    buf_t text = BUF_INIT;
    bw_collect(r, dbconn_result_set(res, 0), &text);
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

void exec__block_writes(run_t *r)
{
    const step_t *s = r->s;
    /* The server's own bound, in whole seconds, beyond ours. */
    unsigned server_s = (unsigned)((r->timeout_ms + 999) / 1000) + 1;
    buf_t b = BUF_INIT;
    buf_printf(&b, "SET SESSION lock_wait_timeout = %u; %s", server_s, s->sql);
    exec__run_sql(r, buf_str(&b), r->timeout_ms + 2000, bw_sql_done);
    buf_free(&b);
    if (r->finished)
        return;
    uint64_t first = s->long_writes_ms;
    if (first + POLL_MS >= r->timeout_ms)
        first = r->timeout_ms > POLL_MS ? r->timeout_ms - POLL_MS : 0;
    bw_arm(r, first);
}
