/* rejoin_fence.c - the fence of a node that is writable besides the primary
 * (see rejoin.h). */
#include "rejoin.h"
#include "rejoin_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "event.h"
#include "log.h"

/* ---- fence --------------------------------------------------------------------- */

/* Making a node read-only waits for the commits running on it, and on a
 * returning old primary those commits wait for a semi-sync acknowledgement
 * that no replica will send (they follow the new primary): up to the
 * semi-sync timeout, after which the server acknowledges them to their
 * clients although no replica has them. So the fence goes in this order:
 *   1. read_only (super_read_only) is sent on the node's connection, with the
 *      server's own lock wait bounded. While it waits, no new write can start
 *      on the node: new writes queue behind it and then fail as read-only.
 *   2. Once the processlist shows it waiting for a lock, a second session cuts
 *      off (KILL CONNECTION) every client session: the server shuts a killed
 *      session's socket at once, so a commit that is waiting can never be
 *      acknowledged to its client. (KILL QUERY would be wrong: MariaDB ends the
 *      wait and sends the client OK.) Idle sessions go too, since a
 *      transaction left open could otherwise commit later.
 *   3. MariaDB ends a killed session's wait at once; MySQL keeps it waiting
 *      (holding what read_only waits for) until the timeout. When only
 *      sessions that were cut off still wait for an acknowledgement, the
 *      node's semi-sync source side is switched off: that ends their waits
 *      with nobody left to tell, and read_only goes through. (MySQL takes
 *      about a second to switch it off: its acknowledgement receiver looks
 *      for changes once a second. Ending the waits through
 *      wait_no_replica = OFF instead is no faster while the replicas it had
 *      are still registered, and their dump threads take as long to go.) A
 *      later promotion of the node switches it on again.
 * Raising the semi-sync timeout would not help (a wait's deadline is fixed
 * when it starts), nor would stopping the server (MySQL acknowledges the
 * waiting commits when it shuts down). What the cut-off sessions committed
 * is on this node only: the check after the fence reports it (node_errant). */
#define FENCE_LOOK_MS 20
#define FENCE_SESSIONS_SQL                                                                         \
    "SELECT ID, USER, COMMAND, STATE FROM information_schema.PROCESSLIST "                         \
    "WHERE ID <> CONNECTION_ID()"

static void fence_look(rejoin_t *r);

static void fence_tick(uv_timer_t *t)
{
    rejoin_t *r = t->data;
    r->timer_on = false;
    fence_look(r);
}

static void fence_arm(rejoin_t *r, uint64_t ms)
{
    if (!r->fence_watch)
        return;
    r->timer_on = true;
    uv_timer_start(&r->timer, fence_tick, ms, 0);
}

static void fence_note(rejoin_t *r, const char *what, const char *msg)
{
    free(r->fence_trouble);
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s: %s", what, msg);
    r->fence_trouble = buf_steal(&b);
}

/* The end of a fence run for a failover, told to whoever asked. */
static void fence_tell(rejoin_t *r, const char *err, const char *cut)
{
    rejoin_fence_done_fn fn = r->fence_done_fn;
    void *ud = r->fence_done_ud;
    r->fence_done_fn = NULL;
    r->fence_done_ud = NULL;
    buf_t b = BUF_INIT;
    if (err)
        buf_printf(&b, "%s%s%s%s", err, cut, r->fence_trouble ? "; " : "",
                   r->fence_trouble ? r->fence_trouble : "");
    else
        buf_printf(&b, "made read-only%s", cut);
    fn(ud, err == NULL, buf_str(&b));
    buf_free(&b);
}

void rejoin__fence_report(rejoin_t *r, const char *err, const char *cut)
{
    bool *reported = r->idx >= 0 && (size_t)r->idx < r->n_memo ? &r->fence_reported[r->idx] : NULL;
    if (err) {
        if (reported && !*reported)
            rejoin__enter(r, REJOIN_PHASE_FENCE_FAILED, LOG_LVL_ERROR, EV_NODE_FENCE_FAILED,
                       json_pack("{s:s, s:s, s:I, s:b, s:s?}", "primary", r->primary.name, "error",
                                 err, "sessions_cut", (json_int_t)r->n_cut,
                                 "semisync_released", r->released, "trouble", r->fence_trouble),
                       "%s is writable besides the primary %s and could not be made read-only: "
                       "%s%s%s%s. Fence it by hand (read_only, super_read_only; KILL CONNECTION "
                       "its client sessions first, never KILL QUERY) or stop it; failoverd tries "
                       "again every %d s",
                       r->node.name, r->primary.name, err, cut, r->fence_trouble ? "; " : "",
                       r->fence_trouble ? r->fence_trouble : "", FENCE_RETRY_MS / 1000);
        else /* reported once until a fence works */
            rejoin__enter(r, REJOIN_PHASE_FENCE_FAILED, LOG_LVL_DEBUG, NULL, NULL, "%s", err);
        if (reported)
            *reported = true;
    } else {
        if (reported)
            *reported = false;
        rejoin__enter(r, REJOIN_PHASE_FENCED, LOG_LVL_WARN, EV_NODE_FENCED,
                   json_pack("{s:s, s:s?, s:I, s:b, s:I}", "primary", r->primary.name, "gtid",
                             r->seen, "sessions_cut", (json_int_t)r->n_cut, "semisync_released",
                             r->released, "fence_ms", (json_int_t)(uv_now(r->loop) - r->started)),
                   "%s was writable although %s is the primary: made it read-only%s%s",
                   r->node.name, r->primary.name,
                   r->node.flavor.super_read_only
                       ? " (super_read_only)"
                       : " (read_only; accounts with READ_ONLY ADMIN can still write)",
                   cut);
    }
    rejoin__end_action(r, false);
}

static void fence_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    (void)res;
    r->fence_watch = false;
    r->timer_on = false;
    uv_timer_stop(&r->timer);
    char cut[200] = "";
    if (r->n_cut)
        snprintf(cut, sizeof cut,
                 "; cut off %zu client session%s (what they were committing was not "
                 "acknowledged to them)%s",
                 r->n_cut, r->n_cut == 1 ? "" : "s",
                 r->released ? " and switched its semi-sync source side off to end their wait"
                             : "");
    if (r->fence_done_fn) {
        /* The failover's step reports it: no event here. */
        rejoin__enter(r, err ? REJOIN_PHASE_FENCE_FAILED : REJOIN_PHASE_FENCED, LOG_LVL_DEBUG,
                      NULL, NULL, "for a failover");
        fence_tell(r, err ? err->msg : NULL, cut);
        rejoin__end_action(r, false);
        return;
    }
    /* The rejoin's own fence: the executor's step learns the outcome; it is
     * reported once the executor has ended as well (at once if it has). */
    r->fence_ended = true;
    r->fence_err = err ? xstrdup(err->msg) : NULL;
    r->fence_cut = xstrdup(cut);
    exec_answer_fn answer = r->fence_answer;
    r->fence_answer = NULL;
    if (answer)
        answer(r->fence_token, err ? 1 : 0, err ? err->msg : "made read-only");
    if (!r->x)
        rejoin__fence_report(r, r->fence_err, r->fence_cut);
}

bool rejoin__fence_by_exec(const step_t *s, exec_answer_fn answer, void *token, void *ud)
{
    rejoin_t *r = ud;
    (void)s;
    r->fence_answer = answer;
    r->fence_token = token;
    r->fence_started = true;
    rejoin__fence_start(r);
    return true;
}

static void fence_release(rejoin_t *r);
static void fence_cut_next(rejoin_t *r);

static void fence_cut_sent(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    (void)res;
    if (!r->fence_watch)
        return;
    /* A session that ended meanwhile is "unknown thread": as good as cut off. */
    if (err && err->code != 1094)
        fence_note(r, "cutting off a session", err->msg);
    r->next_cut++;
    fence_cut_next(r);
}

static void fence_cut_next(rejoin_t *r)
{
    if (r->next_cut >= r->n_cut) {
        fence_release(r);
        return;
    }
    char sql[64];
    snprintf(sql, sizeof sql, "KILL CONNECTION %lu", r->cut[r->next_cut]);
    rejoin__run(r, &r->aux, sql, fence_cut_sent);
}

static void fence_released(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    (void)res;
    if (!r->fence_watch)
        return;
    if (err) {
        fence_note(r, "switching the semi-sync source side off", err->msg);
        r->released = false;
    }
    fence_arm(r, err ? POLL_MS : FENCE_LOOK_MS);
}

/* After the sessions listed were cut off: when every session that waits for an
 * acknowledgement was cut off in an earlier round and still waits (MySQL), the
 * source side is switched off, which ends their waits. Sessions that connected
 * since cannot be waiting: they could not write while read_only was queued. */
static void fence_release(rejoin_t *r)
{
    bool go = r->release_wanted && !r->released;
    r->release_wanted = false;
    if (!go) {
        fence_arm(r, FENCE_LOOK_MS);
        return;
    }
    /* Counted from now: read_only can go through before the statement is back. */
    r->released = true;
    rejoin__run(r, &r->aux, flavor_sql_set_semisync(&r->node.flavor, FLAVOR_SEMISYNC_SOURCE, false),
        fence_released);
}

static bool cut_already(const rejoin_t *r, unsigned long id)
{
    for (size_t i = 0; i < r->n_cut; i++)
        if (r->cut[i] == id)
            return true;
    return false;
}

static void fence_listed(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    if (!r->fence_watch)
        return;
    if (err) {
        fence_note(r, "reading its sessions", err->msg);
        fence_arm(r, POLL_MS);
        return;
    }
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    unsigned long own = r->node.conn ? dbconn_thread_id(r->node.conn) : 0;
    const char *own_state = NULL;
    bool own_seen = false;
    for (size_t i = 0; rs && i < rs->nrows; i++) {
        uint64_t id = 0;
        if (dbconn_rs_uint(rs, i, "ID", &id) == DBCONN_VAL_OK && own && id == own) {
            own_seen = true;
            own_state = dbconn_rs_str(rs, i, "STATE");
        }
    }
    /* Only once read_only is queued can nothing new start writing. */
    if (!own_seen || !own_state || !strcasestr(own_state, "lock")) {
        fence_arm(r, FENCE_LOOK_MS);
        return;
    }
    /* A session cut off in an earlier round that still waits for its
     * acknowledgement holds read_only up (MySQL); MariaDB ends the wait of a
     * killed session by itself. */
    size_t first_new = r->n_cut;
    size_t waiting = 0, waiting_cut = 0;
    for (size_t i = 0; rs && i < rs->nrows; i++) {
        uint64_t id = 0;
        if (dbconn_rs_uint(rs, i, "ID", &id) != DBCONN_VAL_OK || id == own)
            continue;
        const char *state = dbconn_rs_str(rs, i, "STATE");
        const char *command = dbconn_rs_str(rs, i, "COMMAND");
        if (rejoin_waits_for_ack(state)) {
            waiting++;
            if (cut_already(r, (unsigned long)id) ||
                (command && strcasecmp(command, "Killed") == 0)) /* cut off by someone else */
                waiting_cut++;
        }
        if (!cut_already(r, (unsigned long)id) &&
            rejoin_fence_cuts(dbconn_rs_str(rs, i, "USER"), command, state, r->s.user)) {
            r->cut = xrealloc(r->cut, (r->n_cut + 1) * sizeof *r->cut);
            r->cut[r->n_cut++] = (unsigned long)id;
        }
    }
    r->release_wanted = waiting && waiting == waiting_cut;
    if (r->n_cut > first_new && first_new == 0)
        log_fields(LOG_LVL_WARN, r->s.cluster, r->node.name, "node_fence",
                   "%s: read_only waits for its sessions; cutting off its client sessions so "
                   "that nothing they commit is acknowledged",
                   r->node.name);
    r->next_cut = first_new;
    fence_cut_next(r);
}

static void fence_look(rejoin_t *r)
{
    if (r->fence_watch)
        rejoin__run(r, &r->aux, FENCE_SESSIONS_SQL, fence_listed);
}

void rejoin__fence_start(rejoin_t *r)
{
    r->fence_watch = true;
    r->aux.name = xstrdup(r->node.name);
    r->aux.host = xstrdup(r->node.host);
    r->aux.port = r->node.port;
    r->aux.flavor = r->node.flavor;
    r->aux.tls = tls_cfg_dup(r->node.tls);
    if (r->phase != REJOIN_PHASE_FENCING)
        rejoin__enter(r, REJOIN_PHASE_FENCING, LOG_LVL_DEBUG, NULL, NULL, NULL);
    rejoin__run(r, &r->node, r->plan->steps[0].sql, fence_done);
    fence_arm(r, FENCE_LOOK_MS);
}
