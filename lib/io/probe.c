/* probe.c - see probe.h.
 *
 * One cycle: connect if needed (and learn the flavor from the handshake), then
 * one round trip with two statements - the node state SELECT and the replica
 * status - parsed into an observation. The whole cycle, connect included, is
 * bounded by the probe timeout. Cycles start every interval; after failures
 * the wait doubles up to backoff_max, unless probe_now() asks for one at once.
 */
#include "probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dbconn.h"
#include "elect.h"
#include "flavor.h"
#include "grants.h"
#include "log.h"
#include "observe.h"
#include "pace.h"

/* The account's grants are read on every new connection, when asked
 * (probe_check_grants: a reload), and at least this often: a revoked
 * privilege shows in SHOW GRANTS at once, while the probe's own session keeps
 * the global privileges it logged in with. */
#define GRANTS_EVERY_MS 60000

/* Our sessions: no NO_BACKSLASH_ESCAPES (a backslash in a value arrives as itself;
 * flavor.h doubles quotes, so no value leaves its literal in either mode),
 * utf8mb4, a long idle timeout so a kept-open connection survives, and UTC:
 * timestamps are shown in the session's time zone, and a difference of two
 * of them (the receiver's silence) must not cross a daylight saving change. */
#define PROBE_INIT_SQL                                                                             \
    "SET NAMES utf8mb4; SET SESSION sql_mode = '', SESSION wait_timeout = 3600, "                  \
    "SESSION time_zone = '+00:00'"

struct probe {
    uv_loop_t *loop;
    dbconn_t *conn;
    uv_timer_t timer;
    char *name, *host, *user, *password;
    unsigned port;
    uint64_t interval, timeout, backoff_max;
    flavor_t flavor;
    bool flavor_known;
    probe_cb cb;
    void *ud;
    unsigned failures;
    bool in_flight;
    bool want_now;
    bool closing;
    uint64_t started;
    int open_handles;
    void (*closed)(void *);
    void *closed_ud;
    bool no_backoff; /* failed probes go on every interval (probe_set_backoff) */
    bool grants_due;          /* this cycle reads SHOW GRANTS too */
    bool grants_in_query;     /* the query in flight has it as its third statement */
    uint64_t grants_at;       /* when they were last read */
    uint64_t quick;           /* while not 0: cycles start this often (probe_set_quick) */
    uint64_t query_budget;    /* ms the query in flight was given */
    bool looked_again;        /* this cycle already started over once (look_again) */
    const uint64_t *stalled_until; /* probe_target_t */
};

static void start_cycle(probe_t *p);

static void on_timer(uv_timer_t *t) { start_cycle(t->data); }

static void schedule(probe_t *p, uint64_t delay)
{
    if (!p->closing)
        uv_timer_start(&p->timer, on_timer, delay, 0);
}

static void schedule_next(probe_t *p)
{
    if (p->want_now) {
        p->want_now = false;
        schedule(p, 0);
        return;
    }
    uint64_t wait = p->interval;
    for (unsigned i = 1; !p->no_backoff && i < p->failures && wait < p->backoff_max; i++)
        wait *= 2;
    if (!p->no_backoff && p->failures > 1 && wait > p->backoff_max)
        wait = p->backoff_max > p->interval ? p->backoff_max : p->interval;
    if (p->quick && p->quick < wait)
        wait = p->quick;
    /* Cycles start every interval, measured from the last start. */
    uint64_t elapsed = uv_now(p->loop) - p->started;
    schedule(p, elapsed < wait ? wait - elapsed : 0);
}

static void deliver(probe_t *p, observation_t *o)
{
    o->at = uv_now(p->loop);
    o->started = p->started;
    p->in_flight = false;
    p->failures = o->ok ? 0 : p->failures + 1;
    if (!p->closing)
        p->cb(p, o, p->ud);
    else
        observation_clear(o);
    schedule_next(p);
}

static void begin(probe_t *p);

/* A deadline that passed while the loop waited for the CPU says nothing about
 * the server (pace.h): such a timeout is not a failure yet. The cycle starts
 * over once, at once, with the full budget, and only its outcome counts. A
 * server that is really silent times out the second time as well, a probe
 * timeout later; one that answers was never down. */
static bool look_again(probe_t *p, const dbconn_error_t *err)
{
    if (p->closing || !err || err->kind != DBCONN_ERR_TIMEOUT)
        return false;
    uint64_t now = uv_now(p->loop), took = now - p->started;
    pace_timeout_t t = {.took_ms = took, .timeout_ms = p->timeout,
                        .query_budget_ms = p->query_budget,
                        .stalled = p->stalled_until && now < *p->stalled_until,
                        .looked_again = p->looked_again};
    pace_judgement_t j = pace_judge_timeout(&t);
    if (j == PACE_TIMEOUT_COUNTS)
        return false;
    log_info("probe %s: %s after %llu ms (bound %llu ms, %s); looking again before calling it "
             "a failure",
             p->name, err->msg[0] ? err->msg : "timeout", (unsigned long long)took,
             (unsigned long long)p->timeout,
             j == PACE_AGAIN_LATE      ? "the loop was late"
             : j == PACE_AGAIN_STARVED ? "the query got what was left of it"
                                       : "the daemon's loop stalled");
    p->looked_again = true;
    begin(p);
    return true;
}

static void fail(probe_t *p, const dbconn_error_t *err, const char *fallback)
{
    if (look_again(p, err))
        return;
    observation_t o = {.ok = false, .err_code = err ? err->code : 0};
    o.timed_out = err && err->kind == DBCONN_ERR_TIMEOUT;
    o.refused = err && err->kind == DBCONN_ERR_CONNECT && err->os_errno == ECONNREFUSED;
    o.error = xstrdup(err && err->msg[0] ? err->msg : fallback);
    /* A reset of the kept-open connection, or a refused connect, after the
     * node last answered is news: the next probe goes at once (once per run
     * of failures), instead of an interval later. It decides nothing by
     * itself: it reconnects, or it fails again and the detector's rules
     * apply to both failures. */
    if (p->failures == 0 && err && (err->kind == DBCONN_ERR_LOST || err->kind == DBCONN_ERR_CONNECT))
        p->want_now = true;
    deliver(p, &o);
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static bool get_bool(const dbconn_rs_t *rs, const char *col, bool dflt)
{
    bool b;
    return dbconn_rs_bool(rs, 0, col, &b) == DBCONN_VAL_OK ? b : dflt;
}

static uint64_t get_uint(const dbconn_rs_t *rs, size_t row, const char *col, uint64_t dflt)
{
    uint64_t v;
    return col && dbconn_rs_uint(rs, row, col, &v) == DBCONN_VAL_OK ? v : dflt;
}

/* The probe's error for a node state column that is not a number; false. */
static bool not_a_number(const dbconn_rs_t *ns, const char *name, observation_t *o)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "the node state's %s is not a number: \"%s\"", name, dbconn_rs_str(ns, 0, name));
    o->error = buf_steal(&b);
    return false;
}

/* A number of the node state row: -1 when NULL; false (with o->error) when
 * the server sent something that is not a number. */
static bool semisync_number(const dbconn_rs_t *ns, flavor_ns_col_t col, int64_t *out,
                            observation_t *o)
{
    const char *name = flavor_node_state_columns[col];
    dbconn_val_t r = dbconn_rs_int(ns, 0, name, out);
    if (r == DBCONN_VAL_OK)
        return true;
    *out = -1;
    return r != DBCONN_VAL_BAD || not_a_number(ns, name, o);
}

/* The source side of semi-sync (model.h). Its state is known only where the
 * source plugin is enabled and reports its status. */
static bool parse_semisync(const dbconn_rs_t *ns, observation_t *o)
{
    const char *const *C = flavor_node_state_columns;
    int64_t status = -1, no_replica = -1;
    if (!semisync_number(ns, FLAVOR_NS_SEMISYNC_SOURCE_STATUS, &status, o) ||
        !semisync_number(ns, FLAVOR_NS_SEMISYNC_SOURCE_CLIENTS, &o->semisync_clients, o) ||
        !semisync_number(ns, FLAVOR_NS_SEMISYNC_WAIT_SESSIONS, &o->semisync_wait_sessions, o) ||
        !semisync_number(ns, FLAVOR_NS_SEMISYNC_TIMEOUT, &o->semisync_timeout_ms, o) ||
        !semisync_number(ns, FLAVOR_NS_SEMISYNC_WAIT_NO_REPLICA, &no_replica, o) ||
        !semisync_number(ns, FLAVOR_NS_SEMISYNC_WAIT_COUNT, &o->semisync_wait_count, o) ||
        !semisync_number(ns, FLAVOR_NS_SEMISYNC_NO_TX, &o->semisync_no_tx, o))
        return false;
    o->semisync_wait_no_replica = no_replica < 0 ? -1 : no_replica != 0;
    if (o->family == FAMILY_MARIADB && o->semisync_wait_count < 0)
        o->semisync_wait_count = 1; /* MariaDB waits for one acknowledgement, always */
    const char *wp = dbconn_rs_str(ns, 0, C[FLAVOR_NS_SEMISYNC_WAIT_POINT]);
    if (wp && strcasecmp(wp, "AFTER_SYNC") == 0) {
        o->semisync_wait_point = SEMISYNC_WAIT_AFTER_SYNC;
    } else if (wp && strcasecmp(wp, "AFTER_COMMIT") == 0) {
        o->semisync_wait_point = SEMISYNC_WAIT_AFTER_COMMIT;
    } else if (wp) {
        buf_t b = BUF_INIT;
        buf_printf(&b,
                   "the node state's semi-sync wait point is not AFTER_SYNC or AFTER_COMMIT: "
                   "\"%s\"",
                   wp);
        o->error = buf_steal(&b);
        return false;
    }
    if (o->semisync_source && status >= 0)
        o->semisync_state = status ? SEMISYNC_STATE_ON : SEMISYNC_STATE_OFF;
    return true;
}

/* A heartbeat period as the server shows it, in ms. NULL (not a replica)
 * gives 0. Text that is not such a number gives 0 as well, said in the log:
 * the detector then waits the full replica_confirm for this replica, the
 * conservative reading. */
static uint64_t period_ms(const probe_t *p, const char *s)
{
    uint64_t ms = 0;
    if (s && !flavor_parse_seconds_ms(s, &ms)) {
        log_warn("probe %s: heartbeat period \"%s\" is not a number of seconds; taking it as "
                 "unknown", p->name, s);
        return 0;
    }
    return ms;
}

/* The receiver's silence as the replica measured it (flavor.h). NULL: not
 * known. A negative difference is a heartbeat that came while the statement
 * ran (NOW(6) is its start): heard just now. Anything that is not a number is
 * the probe's error: a silence misread could confirm a live primary lost. */
static bool parse_silence(const dbconn_rs_t *ns, observation_t *o)
{
    const char *name = flavor_node_state_columns[FLAVOR_NS_REPLICA_SILENT_US];
    int64_t us;
    dbconn_val_t r = dbconn_rs_int(ns, 0, name, &us);
    if (r == DBCONN_VAL_OK) {
        o->silent_known = true;
        o->silent_ms = us > 0 ? (uint64_t)us / 1000 : 0;
        return true;
    }
    return r != DBCONN_VAL_BAD || not_a_number(ns, name, o);
}

/* Fills o from the node state row; false (with o->error) when the row is unusable. */
static bool parse_state(probe_t *p, const dbconn_rs_t *ns, observation_t *o)
{
    const char *const *C = flavor_node_state_columns;
    if (!ns || !ns->has_rows || ns->nrows != 1) {
        o->error = xstrdup("the node state query returned no row");
        return false;
    }
    const char *version = dbconn_rs_str(ns, 0, C[FLAVOR_NS_VERSION]);
    const char *comment = dbconn_rs_str(ns, 0, C[FLAVOR_NS_VERSION_COMMENT]);
    char err[256];
    if (version && !flavor_detect(&p->flavor, version, comment, err, sizeof err)) {
        o->error = xstrdup(err);
        return false;
    }
    flavor_note_semisync_variables(&p->flavor,
                                   dbconn_rs_str(ns, 0, C[FLAVOR_NS_SEMISYNC_SOURCE_VARIABLE]),
                                   dbconn_rs_str(ns, 0, C[FLAVOR_NS_SEMISYNC_REPLICA_VARIABLE]));
    bool maria = p->flavor.family == FAMILY_MARIADB;
    o->family = maria ? FAMILY_MARIADB : FAMILY_MYSQL;
    o->version = dup_or_null(version);
    o->server_id = (uint32_t)get_uint(ns, 0, C[FLAVOR_NS_SERVER_ID], 0);
    o->server_uuid = dup_or_null(dbconn_rs_str(ns, 0, C[FLAVOR_NS_SERVER_UUID]));
    o->read_only = get_bool(ns, C[FLAVOR_NS_READ_ONLY], false);
    bool sro;
    o->super_read_only = dbconn_rs_bool(ns, 0, C[FLAVOR_NS_SUPER_READ_ONLY], &sro) == DBCONN_VAL_OK
                             ? sro
                             : -1;
    if (o->super_read_only == 1)
        o->read_only = true;
    o->log_bin = get_bool(ns, C[FLAVOR_NS_LOG_BIN], false);
    o->log_replica_updates = get_bool(ns, C[FLAVOR_NS_LOG_REPLICA_UPDATES], false);
    o->gtid_executed = dup_or_null(
        dbconn_rs_str(ns, 0, C[maria ? FLAVOR_NS_GTID_BINLOG_POS : FLAVOR_NS_GTID_EXECUTED]));
    o->gtid_current_pos = dup_or_null(dbconn_rs_str(ns, 0, C[FLAVOR_NS_GTID_CURRENT_POS]));
    o->gtid_slave_pos = dup_or_null(dbconn_rs_str(ns, 0, C[FLAVOR_NS_GTID_SLAVE_POS]));
    o->semisync_source = get_bool(ns, C[FLAVOR_NS_SEMISYNC_SOURCE_ENABLED], false);
    o->semisync_replica = get_bool(ns, C[FLAVOR_NS_SEMISYNC_REPLICA_ENABLED], false);
    o->heartbeats = get_uint(ns, 0, C[FLAVOR_NS_REPLICA_HEARTBEATS], 0);
    o->heartbeat_period_ms = period_ms(p, dbconn_rs_str(ns, 0, C[FLAVOR_NS_REPLICA_HEARTBEAT_PERIOD]));
    o->group_replication = get_uint(ns, 0, C[FLAVOR_NS_GROUP_MEMBERS], 0) > 0;
    return parse_silence(ns, o) && parse_semisync(ns, o);
}

/* The replication part of o from the replica status (observe.h); false
 * (with o->error) when the rows are not what the flavor promises. */
static bool parse_replica(probe_t *p, const dbconn_rs_t *rs, observation_t *o)
{
    if (!rs || !rs->has_rows)
        return true;
    observe_rows_t rows = OBSERVE_ROWS(rs);
    char err[512];
    if (observe_replica(&p->flavor, &rows, o, err, sizeof err))
        return true;
    o->error = xstrdup(err);
    return false;
}

/* SHOW GRANTS, judged once here (grants.h). A result that can't be judged
 * leaves the grants unknown, and says why in the log. */
static void parse_grants(probe_t *p, const dbconn_rs_t *rs, observation_t *o)
{
    p->grants_due = false;
    p->grants_at = uv_now(p->loop);
    if (!rs || !rs->has_rows || rs->ncols < 1)
        return;
    const char **rows = xcalloc(rs->nrows + 1, sizeof *rows);
    for (size_t i = 0; i < rs->nrows; i++)
        rows[i] = dbconn_rs_value(rs, i, 0);
    grants_check_t g;
    char err[256];
    if (grants_check(&p->flavor, rows, rs->nrows, &g, err, sizeof err)) {
        o->grants_checked = true;
        o->grants_judged = g.judged;
        o->grants_missing = g.missing;
        o->grants_missing_promote = g.missing_promote;
        free(g.missing_monitor);
    } else {
        log_warn("probe %s: can't judge the account's grants: %s", p->name, err);
    }
    free(rows);
}

static void on_result(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    probe_t *p = arg;
    if (err && err->kind == DBCONN_ERR_SERVER && (err->stmt == 1 || err->stmt == 2)) {
        /* Say which of the two statements the server refused: "statement 2"
         * alone means nothing to an operator fixing the account's rights. */
        dbconn_error_t e = *err;
        buf_t b = BUF_INIT;
        buf_printf(&b, "%s query refused: %s", err->stmt == 1 ? "node state" : "replica status",
                   err->msg);
        snprintf(e.msg, sizeof e.msg, "%.*s", (int)(sizeof e.msg - 1), buf_str(&b));
        buf_free(&b);
        if (grants_is_denied(err->code)) {
            /* Reachable, answering, and refusing: unobservable, not down. */
            observation_t o = {.ok = false, .err_code = err->code, .denied = true};
            o.error = xstrdup(e.msg);
            o.denied_privilege = grants_denied_privilege(err->code, err->msg);
            p->grants_due = true; /* say what else it lacks once it can be seen */
            deliver(p, &o);
            return;
        }
        fail(p, &e, NULL);
        return;
    }
    if (err) {
        fail(p, err, "probe query failed");
        return;
    }
    observation_t o = {.ok = true, .channel_ssl = -1, .channel_ssl_verify = -1};
    o.latency_ms = (double)dbconn_last_latency_us(c) / 1000.0;
    const char *tls_version = dbconn_tls_version(c);
    o.tls_version = tls_version ? xstrdup(tls_version) : NULL;
    o.tls_verified = tls_version ? tls_verified_str(dbconn_tls_mode(c)) : NULL;
    if (!parse_state(p, dbconn_result_set(res, 0), &o) ||
        !parse_replica(p, dbconn_result_set(res, 1), &o)) {
        char *msg = o.error;
        o.error = NULL;
        observation_clear(&o);
        o.ok = false;
        o.error = msg;
        deliver(p, &o);
        return;
    }
    /* GTID text is parsed here, once, where it enters: a value that does not
     * parse is this node's error, never an empty set further in; the states
     * parsed are kept in the observation for the model. */
    o.gtid_error = elect_gtid_enter(&o);
    if (p->grants_in_query)
        parse_grants(p, dbconn_result_set(res, 2), &o);
    deliver(p, &o);
}

static uint64_t remaining(probe_t *p)
{
    uint64_t used = uv_now(p->loop) - p->started;
    return used + 1 < p->timeout ? p->timeout - used : 1;
}

static void run_probe(probe_t *p)
{
    buf_t sql = BUF_INIT;
    buf_printf(&sql, "%s; %s", flavor_sql_node_state(&p->flavor),
               flavor_sql_replica_status(&p->flavor));
    p->grants_in_query = p->grants_due || uv_now(p->loop) >= p->grants_at + GRANTS_EVERY_MS;
    if (p->grants_in_query)
        buf_puts(&sql, "; SHOW GRANTS");
    /* The second look (look_again) gives its query the full budget even after
     * a reconnect: the first look's timeout closed the connection, and when
     * many nodes look again at once their connects queue for the thread pool;
     * a query left with a sliver after that would say nothing about the
     * server again. Bounded still: a connect and a query, a timeout each. */
    p->query_budget = p->looked_again ? p->timeout : remaining(p);
    int rc = dbconn_query(p->conn, buf_str(&sql), (unsigned)p->query_budget, on_result, p);
    buf_free(&sql);
    if (rc != 0) {
        dbconn_error_t e = {.kind = DBCONN_ERR_LOST};
        snprintf(e.msg, sizeof e.msg, "probe of %s could not start a query (%d)", p->name, rc);
        fail(p, &e, NULL);
    }
}

static void on_connected(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    probe_t *p = arg;
    (void)res;
    if (err) {
        fail(p, err, "connect failed");
        return;
    }
    char msg[256];
    const char *v = dbconn_server_version(c);
    if (!v || !flavor_detect(&p->flavor, v, NULL, msg, sizeof msg)) {
        dbconn_error_t e = {.kind = DBCONN_ERR_CONNECT};
        snprintf(e.msg, sizeof e.msg, "%s: %s", dbconn_endpoint(c), v ? msg : "no server version");
        dbconn_disconnect(c);
        fail(p, &e, NULL);
        return;
    }
    p->flavor_known = true;
    p->grants_due = true; /* a new session: read what it may do */
    log_debug("probe %s: connected to %s (%s)", p->name, v, flavor_gen_str(p->flavor.gen));
    run_probe(p);
}

static void start_cycle(probe_t *p)
{
    if (p->closing || p->in_flight)
        return;
    p->in_flight = true;
    p->looked_again = false;
    begin(p);
}

/* Runs the cycle's probe from now on: the query on the kept-open connection,
 * or a connect first. */
static void begin(probe_t *p)
{
    p->started = uv_now(p->loop);
    p->query_budget = 0;
    if (dbconn_state(p->conn) == DBCONN_IDLE) {
        run_probe(p);
        return;
    }
    int rc = dbconn_connect(p->conn, on_connected, p);
    if (rc != 0) {
        dbconn_error_t e = {.kind = DBCONN_ERR_CONNECT};
        snprintf(e.msg, sizeof e.msg, "probe of %s could not start connecting (%d)", p->name, rc);
        fail(p, &e, NULL);
    }
}

/* The server ended the kept-open connection between probes (its process died:
 * its host's kernel closed the socket). That is news now, not at the next
 * probe: probe at once. It decides nothing by itself; the probe reconnects,
 * or fails and is looked at again (fail()). */
static void on_idle_lost(dbconn_t *c, void *arg)
{
    probe_t *p = arg;
    (void)c;
    log_info("probe %s: the server closed the idle connection; probing at once", p->name);
    probe_now(p);
}

probe_t *probe_create(uv_loop_t *loop, const probe_target_t *t, probe_cb cb, void *ud)
{
    probe_t *p = xcalloc(1, sizeof *p);
    p->loop = loop;
    p->name = xstrdup(t->name);
    p->host = xstrdup(t->host);
    p->user = xstrdup(t->user);
    p->password = xstrdup(t->password ? t->password : "");
    p->port = t->port;
    p->interval = t->interval_ms ? t->interval_ms : 500;
    p->timeout = t->timeout_ms ? t->timeout_ms : 500;
    p->backoff_max = t->backoff_max_ms ? t->backoff_max_ms : p->interval;
    p->stalled_until = t->stalled_until;
    p->cb = cb;
    p->ud = ud;
    dbconn_opts_t o = {.host = p->host, .port = p->port, .user = p->user, .password = p->password,
                       .connect_timeout_ms = (unsigned)p->timeout,
                       .query_timeout_ms = (unsigned)p->timeout, .init_sql = PROBE_INIT_SQL,
                       .tls = t->tls, .late_start = true};
    p->conn = dbconn_new(loop, &o);
    dbconn_watch_idle(p->conn, on_idle_lost, p);
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    return p;
}

/* The first cycle starts at the probe's own offset within its interval
 * (pace.h): probes of many nodes then spread over the interval instead of
 * starting, and staying, in one burst. */
void probe_start(probe_t *p)
{
    buf_t key = BUF_INIT;
    buf_printf(&key, "%s %s:%u", p->name, p->host, p->port);
    schedule(p, pace_offset_ms(buf_str(&key), p->interval));
    buf_free(&key);
}

void probe_check_grants(probe_t *p) { p->grants_due = true; }

void probe_now(probe_t *p)
{
    if (p->closing)
        return;
    if (p->in_flight) {
        p->want_now = true;
        return;
    }
    uv_timer_stop(&p->timer);
    schedule(p, 0);
}

void probe_set_quick(probe_t *p, uint64_t interval_ms)
{
    if (p->quick == interval_ms)
        return;
    p->quick = interval_ms;
    /* A longer wait already scheduled is cut short. */
    if (interval_ms && !p->in_flight && !p->closing) {
        uv_timer_stop(&p->timer);
        uint64_t elapsed = uv_now(p->loop) - p->started;
        schedule(p, elapsed < interval_ms ? interval_ms - elapsed : 0);
    }
}

void probe_set_backoff(probe_t *p, bool on)
{
    if (p->no_backoff == !on)
        return;
    p->no_backoff = !on;
    /* A long backoff already scheduled is cut short. */
    if (p->no_backoff && !p->in_flight && !p->closing && p->failures > 1) {
        uv_timer_stop(&p->timer);
        uint64_t elapsed = uv_now(p->loop) - p->started;
        schedule(p, elapsed < p->interval ? p->interval - elapsed : 0);
    }
}

static void one_closed(probe_t *p)
{
    if (--p->open_handles > 0)
        return;
    void (*closed)(void *) = p->closed;
    void *ud = p->closed_ud;
    free(p->name);
    free(p->host);
    free(p->user);
    free(p->password);
    free(p);
    if (closed)
        closed(ud);
}

static void timer_closed(uv_handle_t *h) { one_closed(h->data); }
static void conn_closed(void *arg) { one_closed(arg); }

void probe_close(probe_t *p, void (*closed)(void *ud), void *ud)
{
    p->closing = true;
    p->closed = closed;
    p->closed_ud = ud;
    p->open_handles = 2;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, timer_closed);
    /* Cancels a cycle in flight: its callback runs (and is ignored) before this returns. */
    dbconn_close(p->conn, conn_closed, p);
}
