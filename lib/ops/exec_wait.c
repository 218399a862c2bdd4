/* exec_wait.c - the executor's steps that wait on a node: GTID waits and
 * captures, and the check_lag and verify polls (see exec.h). */
#include "exec.h"
#include "exec_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "flavor.h"
#include "log.h"
#include "gtid.h"
#include "observe.h"

static const char *first_value(dbconn_result_t *res)
{
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    return rs && rs->nrows > 0 && rs->ncols > 0 ? dbconn_rs_value(rs, 0, 0) : NULL;
}

void exec__wait_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    run_t *r = arg;
    if (err) {
        exec__step_end(r, false, err->msg);
        return;
    }
    const flavor_t *f = &r->x->p->flavors[r->s->node];
    switch (flavor_gtid_wait_result(f, first_value(res))) {
    case FLAVOR_WAIT_OK: exec__step_end(r, true, NULL); break;
    case FLAVOR_WAIT_TIMEOUT: {
        char msg[128];
        snprintf(msg, sizeof msg, "timed out after %llu ms%s waiting for the GTIDs",
                 (unsigned long long)r->timeout_ms, r->clamped ? " (the operation's timeout)" : "");
        exec__step_end(r, false, msg);
        break;
    }
    case FLAVOR_WAIT_ERROR: exec__step_end(r, false, "the GTID wait returned an error"); break;
    }
}

void exec__capture_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)c;
    run_t *r = arg;
    if (err) {
        exec__step_end(r, false, err->msg);
        return;
    }
    const char *v = first_value(res);
    exec_t *x = r->x;
    free(x->captured);
    x->captured = xstrdup(v ? v : "");
    free(x->captured_by[r->s->node]);
    x->captured_by[r->s->node] = xstrdup(x->captured);
    exec__step_end(r, true, NULL);
}

/* ---- polling steps: check_lag and verify ---------------------------------- */

bool exec_replica_read(const flavor_t *f, dbconn_result_t *res, observation_t *o, char *why,
                       size_t len)
{
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    observe_rows_t rows = OBSERVE_ROWS(rs);
    *o = (observation_t){.ok = true};
    if (!observe_replica(f, &rows, o, why, len))
        return false;
    if (o->replica)
        return true;
    snprintf(why, len, "it has no replication configured");
    return false;
}

void exec_threads_text(const observation_t *o, char *out, size_t len)
{
    const char *e1 = o->last_io_error, *e2 = o->last_sql_error;
    snprintf(out, len, "IO thread %s, SQL thread %s%s%s%s%s", observe_thread_word(o->io),
             o->sql_running ? "Yes" : "No", e1 ? ": " : "", e1 ? e1 : "", e2 ? ": " : "",
             e2 ? e2 : "");
}

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
        exec_threads_text(o, why, sizeof why);
        if (!reached(x, o, s))
            snprintf(why + strlen(why), sizeof why - strlen(why), "%s",
                     "; it has not executed all the new primary held yet");
        poll_again(r, why);
    } else if (++r->good_polls < 2) {
        /* Once more a poll later: a source that refuses the replica (a
         * GTID it lacks) lets the IO thread connect before saying so. */
        poll_again(r, "it has just started replicating");
    } else {
        exec__step_end(r, true, NULL);
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
        exec__step_end(r, false,
                       "its IO thread is stopped: it receives nothing from the primary, and "
                       "that does not change by itself (start it, then try again)");
        return;
    }
    if (behind >= 0 && (uint64_t)behind * 1000 <= s->max_lag_ms && applying) {
        exec__step_end(r, true, NULL);
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
    observation_t o;
    char why[512];
    if (!exec_replica_read(&r->x->p->flavors[r->s->node], res, &o, why, sizeof why))
        poll_again(r, why);
    else if (r->s->kind == STEP_VERIFY)
        verify_polled(r, &o);
    else
        lag_polled(r, &o);
    observation_clear(&o);
}

void exec__poll_now(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timer_on = false;
    uint64_t used = uv_now(r->x->loop) - r->started;
    uint64_t left = used + 1 < r->timeout_ms ? r->timeout_ms - used : 1;
    exec__run_sql(r, flavor_sql_replica_status(&r->x->p->flavors[r->s->node]), left,
                  replica_polled);
}

static void poll_again(run_t *r, const char *why)
{
    if (uv_now(r->x->loop) - r->started + POLL_MS >= r->timeout_ms) {
        char msg[700];
        snprintf(msg, sizeof msg, "still not done after %llu ms%s: %s",
                 (unsigned long long)r->timeout_ms, r->clamped ? " (the operation's timeout)" : "",
                 why);
        exec__step_end(r, false, msg);
        return;
    }
    r->timer_on = true;
    uv_timer_start(&r->timer, exec__poll_now, POLL_MS, 0);
}
