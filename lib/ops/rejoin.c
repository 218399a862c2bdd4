/* rejoin.c - see rejoin.h. */
#include "rejoin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dbconn.h"
#include "event.h"
#include "flavor.h"
#include "gtid.h"
#include "log.h"
#include "observe.h"

#define FENCE_RETRY_MS 5000
#define POLL_MS 200
#define INIT_SQL "SET NAMES utf8mb4; SET SESSION sql_mode = ''"

/* ---- pure -------------------------------------------------------------------- */

rejoin_action_t rejoin_next(const cluster_t *c, const rejoin_memo_t *memo, uint64_t now,
                            uint64_t retry_ms, int *node)
{
    *node = -1;
    int p = c->primary;
    if (p < 0)
        return REJOIN_NOTHING;
    const node_t *pn = &c->nodes[p];
    if (!pn->up || !pn->last_ok.ok || pn->last_ok.read_only)
        return REJOIN_NOTHING;
    /* Two writable nodes first: the one that is not the primary is fenced. */
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *n = &c->nodes[i];
        if ((int)i == p || !n->up || !n->last_ok.ok || n->last_ok.read_only)
            continue;
        if (memo[i].fence_at && now < memo[i].fence_at + retry_ms)
            continue;
        *node = (int)i;
        return REJOIN_FENCE;
    }
    /* Then the read-only nodes that don't follow the primary, once per GTID state. */
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *n = &c->nodes[i];
        const observation_t *o = &n->last_ok;
        if ((int)i == p || !n->up || !o->ok || !o->read_only)
            continue;
        if (o->replica) {
            int src = cluster_source_of(c, o);
            if (src == p || (src < 0 && o->io == IO_YES))
                continue; /* a replica of the primary, or of a server outside the cluster */
            /* A replica still following another node of the cluster (it was
             * hung or cut off while an operation repointed the others) is
             * checked and repointed like any node left behind. */
        }
        if (memo[i].checked && rejoin_same_state(memo[i].checked, o->gtid_executed))
            continue;
        *node = (int)i;
        return REJOIN_CHECK;
    }
    return REJOIN_NOTHING;
}

bool rejoin_same_state(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    for (;;) {
        while (isspace((unsigned char)*a))
            a++;
        while (isspace((unsigned char)*b))
            b++;
        if (*a != *b)
            return false;
        if (!*a)
            return true;
        a++;
        b++;
    }
}

bool rejoin_waits_for_ack(const char *state)
{
    return state && strncasecmp(state, "Waiting for semi-sync ACK", 25) == 0;
}

bool rejoin_fence_cuts(const char *user, const char *command, const char *state,
                       const char *own_user)
{
    if (!user || !command)
        return false;
    if (strcmp(user, "system user") == 0 || strcmp(user, "event_scheduler") == 0)
        return false; /* the server's own threads: replication, events */
    if (strcasecmp(command, "Killed") == 0 || strcasecmp(command, "Daemon") == 0 ||
        strncasecmp(command, "Binlog Dump", 11) == 0)
        return false; /* cut off already; server threads; a replica reading the binlog */
    if (own_user && strcmp(user, own_user) == 0)
        return rejoin_waits_for_ack(state); /* failoverd's own sessions write no data */
    return true;
}

/* The entries "d-s-n" of a MariaDB gtid_binlog_state (several per domain). */
static gtid_pos_entry_t *parse_state(const char *text, size_t *n, char *err, size_t errlen)
{
    gtid_pos_entry_t *out = NULL;
    *n = 0;
    char *copy = xstrdup(text);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        gtid_pos_t *one = gtid_pos_parse(tok, err, errlen);
        if (!one || one->n != 1) {
            if (one && err)
                snprintf(err, errlen, "\"%s\" is not one GTID", tok);
            gtid_pos_free(one);
            free(out);
            free(copy);
            return NULL;
        }
        out = xrealloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = one->e[0];
        gtid_pos_free(one);
    }
    free(copy);
    if (!*n && text[strspn(text, " \t\r\n")]) {
        /* Only separators ("," or ", ,"): not a state, and the caller reports err. */
        if (err)
            snprintf(err, errlen, "\"%s\" holds no GTID", text);
        return NULL;
    }
    return out;
}

static int compare_mariadb(const char *node, const char *primary, char **errant, char *err,
                           size_t errlen)
{
    char e[GTID_ERR_SIZE] = "";
    gtid_pos_t *np = gtid_pos_parse(node, e, sizeof e);
    if (!np) {
        snprintf(err, errlen, "the node's position: %s", e);
        return -1;
    }
    size_t ns = 0;
    gtid_pos_entry_t *st = parse_state(primary, &ns, e, sizeof e);
    if (!st && primary[strspn(primary, " \t\r\n")]) {
        snprintf(err, errlen, "the primary's binlog state: %s", e);
        gtid_pos_free(np);
        return -1;
    }
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < np->n; i++) {
        const gtid_pos_entry_t *x = &np->e[i];
        const gtid_pos_entry_t *have = NULL;
        for (size_t k = 0; k < ns; k++)
            if (st[k].domain == x->domain && st[k].server == x->server)
                have = &st[k];
        if (have && have->seq >= x->seq)
            continue;
        buf_printf(&b, "%s%u-%u-%llu", b.len ? ", " : "", x->domain, x->server,
                   (unsigned long long)x->seq);
        if (have)
            buf_printf(&b, " (the primary has up to %u-%u-%llu)", have->domain, have->server,
                       (unsigned long long)have->seq);
        else
            buf_printf(&b, " (the primary has nothing from server %u in domain %u)", x->server,
                       x->domain);
    }
    gtid_pos_free(np);
    free(st);
    if (!b.len) {
        buf_free(&b);
        return 1;
    }
    *errant = buf_steal(&b);
    return 0;
}

int rejoin_compare(bool mariadb, const char *node, const char *primary, char **errant, char *err,
                   size_t errlen)
{
    *errant = NULL;
    node = node ? node : "";
    primary = primary ? primary : "";
    if (mariadb)
        return compare_mariadb(node, primary, errant, err, errlen);
    char e[GTID_ERR_SIZE];
    gtid_set_t *a = gtid_set_parse(node, e, sizeof e);
    if (!a) {
        snprintf(err, errlen, "the node's GTID set: %s", e);
        return -1;
    }
    gtid_set_t *b = gtid_set_parse(primary, e, sizeof e);
    if (!b) {
        snprintf(err, errlen, "the primary's GTID set: %s", e);
        gtid_set_free(a);
        return -1;
    }
    gtid_set_t *d = gtid_set_subtract(a, b);
    int rc = gtid_set_is_empty(d) ? 1 : 0;
    if (!rc)
        *errant = gtid_set_format_line(d);
    gtid_set_free(a);
    gtid_set_free(b);
    gtid_set_free(d);
    return rc;
}

/* ---- the actions ------------------------------------------------------------- */

typedef enum { ST_IDLE, ST_FENCE, ST_CHECK_PRIMARY, ST_CHECK_NODE, ST_REJOIN, ST_VERIFY } state_t;

typedef struct {
    char *name, *host;
    unsigned port;
    flavor_t flavor;
    dbconn_t *conn;
    tls_cfg_t *tls; /* owned copy of the node's */
} target_t;

struct rejoin {
    uv_loop_t *loop;
    rejoin_settings_t s; /* strings owned */
    rejoin_memo_t *memo;
    bool *fence_reported; /* a failed fence was reported (once until it works) */
    size_t n_memo;

    /* The action in flight. */
    state_t st;
    int idx;
    target_t node, primary;
    bool node_replica;   /* it had a replication source configured */
    char *seen;          /* its GTID state as observed: what the memo keeps */
    char *primary_state; /* what the primary has (set or binlog state) */
    uint64_t started;
    uv_timer_t timer;
    bool timer_on;

    int open; /* handles and connections still open */
    bool freeing;
    void (*done)(void *);
    void *done_ud;

    /* The fence in flight (see fence_start). */
    target_t aux;       /* a second session on the node: looks, kills, releases */
    bool fence_watch;   /* the read-only statement has not come back yet */
    unsigned long *cut; /* sessions cut off (KILL CONNECTION sent) */
    size_t n_cut, next_cut;
    bool released;       /* the semi-sync source side is being switched off */
    bool release_wanted; /* ... is to be, once the sessions listed are cut off */
    char *fence_trouble; /* the last thing that went wrong on aux, for the report */
    /* Settings a reload brought while an action ran: they take effect when it
     * ends (an action runs with the settings it started with). */
    rejoin_settings_t next_s;
    bool has_next_s;

    /* A fence run for a failover (rejoin_fence_for_failover): told, not evented. */
    rejoin_fence_done_fn fence_done_fn;
    void *fence_done_ud;
};

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
    return r;
}

void rejoin_update(rejoin_t *r, const rejoin_settings_t *s)
{
    if (r->st != ST_IDLE) {
        if (r->has_next_s)
            settings_free(&r->next_s);
        settings_copy(&r->next_s, s);
        r->has_next_s = true;
        return;
    }
    rejoin_settings_t old = r->s;
    settings_copy(&r->s, s);
    settings_free(&old);
    if (r->st == ST_IDLE)
        memo_clear(r);
}

bool rejoin_busy(const rejoin_t *r)
{
    return r->st != ST_IDLE;
}

static void really_free(rejoin_t *r)
{
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    memo_clear(r);
    settings_free(&r->s);
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
static void end_action(rejoin_t *r, bool remember)
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
    free(r->seen);
    free(r->primary_state);
    r->seen = r->primary_state = NULL;
    r->st = ST_IDLE;
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
    if (r->st == ST_IDLE) {
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

static void run(rejoin_t *r, target_t *t, const char *sql, dbconn_cb cb);

static void connected(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    pending_t *p = arg;
    (void)c;
    (void)res;
    if (err)
        p->cb(p->t->conn, NULL, err, p->r);
    else
        run(p->r, p->t, p->sql, p->cb);
    free(p->sql);
    free(p);
}

static void run(rejoin_t *r, target_t *t, const char *sql, dbconn_cb cb)
{
    unsigned timeout = (unsigned)r->s.plan.step_timeout_ms;
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

static const char *first_value(dbconn_result_t *res)
{
    const dbconn_rs_t *rs = res ? dbconn_result_set(res, 0) : NULL;
    return rs && rs->nrows > 0 && rs->ncols > 0 ? dbconn_rs_value(rs, 0, 0) : NULL;
}

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

static void fence_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    (void)res;
    r->fence_watch = false;
    r->timer_on = false;
    uv_timer_stop(&r->timer);
    bool *reported = r->idx >= 0 && (size_t)r->idx < r->n_memo ? &r->fence_reported[r->idx] : NULL;
    char cut[200] = "";
    if (r->n_cut)
        snprintf(cut, sizeof cut,
                 "; cut off %zu client session%s (what they were committing was not "
                 "acknowledged to them)%s",
                 r->n_cut, r->n_cut == 1 ? "" : "s",
                 r->released ? " and switched its semi-sync source side off to end their wait"
                             : "");
    if (r->fence_done_fn) {
        fence_tell(r, err ? err->msg : NULL, cut);
        end_action(r, false);
        return;
    }
    if (err) {
        if (reported && !*reported)
            event_emit(LOG_LVL_ERROR, EV_NODE_FENCE_FAILED, r->s.cluster, r->node.name,
                       json_pack("{s:s, s:s, s:I, s:b, s:s?}", "primary", r->primary.name, "error",
                                 err->msg, "sessions_cut", (json_int_t)r->n_cut,
                                 "semisync_released", r->released, "trouble", r->fence_trouble),
                       "%s is writable besides the primary %s and could not be made read-only: "
                       "%s%s%s%s. Fence it by hand (read_only, super_read_only; KILL CONNECTION "
                       "its client sessions first, never KILL QUERY) or stop it; failoverd tries "
                       "again every %d s",
                       r->node.name, r->primary.name, err->msg, cut, r->fence_trouble ? "; " : "",
                       r->fence_trouble ? r->fence_trouble : "", FENCE_RETRY_MS / 1000);
        if (reported)
            *reported = true;
    } else {
        if (reported)
            *reported = false;
        event_emit(LOG_LVL_WARN, EV_NODE_FENCED, r->s.cluster, r->node.name,
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
    end_action(r, false);
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
    run(r, &r->aux, sql, fence_cut_sent);
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
    run(r, &r->aux, flavor_sql_set_semisync(&r->node.flavor, FLAVOR_SEMISYNC_SOURCE, false),
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
        run(r, &r->aux, FENCE_SESSIONS_SQL, fence_listed);
}

static void fence_start(rejoin_t *r)
{
    /* The server's own lock wait ends soon after ours. */
    unsigned server_s = (unsigned)(r->s.plan.step_timeout_ms / 1000) + 1;
    buf_t b = BUF_INIT;
    buf_printf(&b, "SET SESSION lock_wait_timeout = %u; %s", server_s,
               flavor_sql_set_read_only(&r->node.flavor, FLAVOR_SUPER_READ_ONLY));
    r->fence_watch = true;
    r->aux.name = xstrdup(r->node.name);
    r->aux.host = xstrdup(r->node.host);
    r->aux.port = r->node.port;
    r->aux.flavor = r->node.flavor;
    r->aux.tls = tls_cfg_dup(r->node.tls);
    r->st = ST_FENCE;
    run(r, &r->node, buf_str(&b), fence_done);
    buf_free(&b);
    fence_arm(r, FENCE_LOOK_MS);
}

/* ---- check, rejoin, verify ------------------------------------------------------------ */

static void rejoin_failed(rejoin_t *r, const char *why)
{
    event_emit(LOG_LVL_ERROR, EV_NODE_REJOIN_FAILED, r->s.cluster, r->node.name,
               json_pack("{s:s, s:s}", "primary", r->primary.name, "error", why),
               "%s could not rejoin as a replica of %s: %s. It stays read-only; repoint it by "
               "hand",
               r->node.name, r->primary.name, why);
    end_action(r, true);
}

static void poll_again(rejoin_t *r, const char *why);
static void poll_now(uv_timer_t *t);

static void verify_polled(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    if (err) {
        poll_again(r, err->msg);
        return;
    }
    const dbconn_rs_t *rs = dbconn_result_set(res, 0);
    observe_rows_t rows = OBSERVE_ROWS(rs);
    observation_t o = {.ok = true};
    char why[700];
    if (!observe_replica(&r->node.flavor, &rows, &o, why, sizeof why)) {
        poll_again(r, why);
        return;
    }
    bool rejoined = false;
    if (!o.replica) {
        poll_again(r, "it has no replication configured");
    } else if (!o.source_host || strcmp(o.source_host, r->primary.host) != 0 ||
               o.source_port != r->primary.port) {
        poll_again(r, "it does not replicate from the primary");
    } else if (o.io != IO_YES || !o.sql_running) {
        const char *e1 = o.last_io_error, *e2 = o.last_sql_error;
        snprintf(why, sizeof why, "IO thread %s, SQL thread %s%s%s%s%s",
                 observe_thread_word(o.io), o.sql_running ? "Yes" : "No", e1 ? ": " : "",
                 e1 ? e1 : "", e2 ? ": " : "", e2 ? e2 : "");
        poll_again(r, why);
    } else {
        rejoined = true;
    }
    observation_clear(&o);
    if (!rejoined)
        return;
    event_emit(LOG_LVL_NOTICE, EV_NODE_REJOINED, r->s.cluster, r->node.name,
               json_pack("{s:s, s:s}", "primary", r->primary.name, "gtid", r->seen),
               "%s rejoined as a replica of %s: everything it had is on %s", r->node.name,
               r->primary.name, r->primary.name);
    end_action(r, true);
}

static void poll_again(rejoin_t *r, const char *why)
{
    if (uv_now(r->loop) - r->started + POLL_MS >= r->s.plan.verify_timeout_ms) {
        char msg[800];
        snprintf(msg, sizeof msg, "not replicating after %llu ms: %s",
                 (unsigned long long)r->s.plan.verify_timeout_ms, why);
        rejoin_failed(r, msg);
        return;
    }
    r->timer_on = true;
    uv_timer_start(&r->timer, poll_now, POLL_MS, 0);
}

static void poll_now(uv_timer_t *t)
{
    rejoin_t *r = t->data;
    r->timer_on = false;
    run(r, &r->node, flavor_sql_replica_status(&r->node.flavor), verify_polled);
}

static void repointed(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    (void)res;
    if (err) {
        rejoin_failed(r, err->msg);
        return;
    }
    r->st = ST_VERIFY;
    r->started = uv_now(r->loop);
    poll_now(&r->timer);
}

static void start_rejoin(rejoin_t *r)
{
    const flavor_t *f = &r->node.flavor;
    const plan_opts_t *o = &r->s.plan;
    flavor_source_t src = {.host = r->primary.host,
                           .port = r->primary.port,
                           .user = o->repl_user,
                           .password = o->repl_password,
                           .connect_retry = o->connect_retry_s ? o->connect_retry_s : 1,
                           .heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : 1000,
                           .rejoin_old_primary = !r->node_replica};
    tls_channel(r->node.tls, &src);
    buf_t b = BUF_INIT;
    char err[256];
    buf_printf(&b, "%s; %s; ", flavor_sql_set_read_only(f, FLAVOR_SUPER_READ_ONLY),
               flavor_sql_stop_replica(f));
    if (!flavor_sql_change_source(f, &src, false, &b, err, sizeof err)) {
        buf_free(&b);
        rejoin_failed(r, err);
        return;
    }
    buf_puts(&b, "; ");
    if (o->semisync)
        buf_printf(&b, "%s; ", flavor_sql_set_semisync(f, FLAVOR_SEMISYNC_REPLICA, true));
    buf_puts(&b, flavor_sql_start_replica(f));
    log_fields(LOG_LVL_NOTICE, r->s.cluster, r->node.name, "node_rejoin",
               "rejoining %s as a replica of %s", r->node.name, r->primary.name);
    r->st = ST_REJOIN;
    run(r, &r->node, buf_str(&b), repointed);
    buf_free(&b);
}

static void node_read(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    if (err) {
        rejoin_failed(r, err->msg);
        return;
    }
    const char *mine = first_value(res);
    /* What is remembered as looked at is the state checked here, which may
     * be newer than the probe's that started the look: remembering the
     * probe's made the next probe (showing the newer state) start the same
     * check, and its report, again. */
    if (mine) {
        free(r->seen);
        r->seen = xstrdup(mine);
    }
    bool mariadb = r->node.flavor.family == FAMILY_MARIADB;
    char *errant = NULL;
    char e[512];
    int rc = rejoin_compare(mariadb, mine, r->primary_state, &errant, e, sizeof e);
    if (rc < 0) {
        rejoin_failed(r, e);
        return;
    }
    if (rc == 0) {
        event_emit(LOG_LVL_ERROR, EV_NODE_ERRANT, r->s.cluster, r->node.name,
                   json_pack("{s:s, s:s, s:s?, s:s?}", "primary", r->primary.name, "errant_gtids",
                             errant, "gtid", mine, "primary_gtid", r->primary_state),
                   "%s is back but has transactions the primary %s lacks: %s. It stays "
                   "read-only and is not rejoined: compare them with what the primary has "
                   "(they may be lost writes), then rebuild %s from %s or repair it by hand",
                   r->node.name, r->primary.name, errant, r->node.name, r->primary.name);
        free(errant);
        end_action(r, true);
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
            end_action(r, true);
            return;
        }
        if (m) {
            free(m->ready);
            m->ready = xstrdup(mine ? mine : "");
        }
        event_emit(LOG_LVL_NOTICE, EV_NODE_REJOIN_READY, r->s.cluster, r->node.name,
                   json_pack("{s:s, s:s?}", "primary", r->primary.name, "gtid", mine),
                   "%s is up, read-only and not a replica of the primary %s; everything it has is "
                   "on %s, so it can rejoin as a replica (auto_rejoin is off: repoint it by hand)",
                   r->node.name, r->primary.name, r->primary.name);
        end_action(r, true);
        return;
    }
    start_rejoin(r);
}

static void primary_read(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    rejoin_t *r = arg;
    (void)c;
    if (err) {
        rejoin_failed(r, err->msg);
        return;
    }
    const char *v = first_value(res);
    r->primary_state = xstrdup(v ? v : "");
    r->st = ST_CHECK_NODE;
    run(r, &r->node, flavor_sql_gtid_executed(&r->node.flavor), node_read);
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
    if (r->freeing || r->st != ST_IDLE || node < 0 || (size_t)node >= c->n_nodes)
        return false;
    const node_t *n = &c->nodes[node];
    if (!target_set(&r->node, n)) {
        target_clear(r, &r->node);
        return false;
    }
    memo_fit(r, c);
    /* No memo entry: what the returning-primary rules remember is theirs. */
    r->idx = -1;
    r->seen = xstrdup(n->last_ok.gtid_executed ? n->last_ok.gtid_executed : "");
    r->node_replica = n->last_ok.replica;
    r->started = now;
    r->fence_done_fn = done;
    r->fence_done_ud = ud;
    fence_start(r);
    return true;
}

void rejoin_look(rejoin_t *r, const cluster_t *c, uint64_t now)
{
    if (r->freeing || r->st != ST_IDLE)
        return;
    memo_fit(r, c);
    /* A node that goes away is looked at afresh when it comes back. */
    for (size_t i = 0; i < c->n_nodes; i++)
        if (!c->nodes[i].up && r->memo[i].checked) {
            free(r->memo[i].checked);
            r->memo[i].checked = NULL;
        }
    int i;
    rejoin_action_t a = rejoin_next(c, r->memo, now, FENCE_RETRY_MS, &i);
    if (a == REJOIN_NOTHING)
        return;
    const node_t *n = &c->nodes[i];
    if (!target_set(&r->node, n) || !target_set(&r->primary, &c->nodes[c->primary])) {
        target_clear(r, &r->node);
        target_clear(r, &r->primary);
        return; /* versions unknown: the next observation will have them */
    }
    r->idx = i;
    r->seen = xstrdup(n->last_ok.gtid_executed ? n->last_ok.gtid_executed : "");
    r->node_replica = n->last_ok.replica;
    r->started = now;
    if (a == REJOIN_FENCE) {
        r->memo[i].fence_at = now ? now : 1;
        fence_start(r);
        return;
    }
    r->st = ST_CHECK_PRIMARY;
    run(r, &r->primary,
        r->primary.flavor.family == FAMILY_MARIADB ? "SELECT @@GLOBAL.gtid_binlog_state"
                                                   : flavor_sql_gtid_executed(&r->primary.flavor),
        primary_read);
}
