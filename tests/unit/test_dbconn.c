/* dbconn against real throwaway MariaDB servers: results, precise errors,
 * deadlines, and the proof that nothing blocks the loop (a SIGSTOPped server
 * while another connection keeps its schedule).
 *
 * One server is shared by all tests (started by the runner, see
 * mysqld_fixture.h); tests that stop or kill a server start their own. Faults
 * the servers can't produce (a reply cut mid-result, garbage, a port speaking
 * another protocol) come from a loopback relay on the test's own loop. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "dbconn.h"
#include "mysqld_fixture.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* LeakSanitizer's report at process exit comes after criterion has counted
 * the test as passed; checking at the end of each test fails that test. */
#define LEAK_CHECK()                                                                               \
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "memory leaked (see above)")
#else
#define LEAK_CHECK() ((void)0)
#endif

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (!mysqld_shared_start())
        fprintf(stderr, "test_dbconn: could not start the shared MariaDB server\n");
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mysqld_shared_stop();
}

/* ------------------------------------------------------------ per-test loop */

static uv_loop_t loop;
static uv_timer_t wakeup; /* keeps uv_run(UV_RUN_ONCE) from sleeping long */
static mysqld_t S;        /* the shared server */

static void on_wakeup(uv_timer_t *t)
{
    (void)t;
}

static bool finished;

static void setup(void)
{
    finished = false;
    cr_assert_eq(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &wakeup);
    uv_timer_start(&wakeup, on_wakeup, 10, 10);
    mysqld_shared(&S);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The end of every test: nothing may be left on the loop or on the heap.
 * (In the body, because criterion does not count assertions in .fini.) */
static void finish(void)
{
    uv_close((uv_handle_t *)&wakeup, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "a libuv handle or request was leaked");
    finished = true;
    LEAK_CHECK();
}

/* Only for a test that failed half-way: close what it left open, stop the
 * servers it started. */
static void teardown(void)
{
    if (finished)
        return;
    uv_walk(&loop, close_any, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    mysqld_stop_all();
}

TestSuite(dbconn, .init = setup, .fini = teardown, .timeout = 60);

static double now_ms(void)
{
    return mysqld_now_ms();
}

/* What an operation's callback saw. */
typedef struct {
    int calls;
    bool done;
    bool failed;
    dbconn_error_t err;
    dbconn_result_t *res;
    dbconn_state_t state; /* of the connection, inside the callback */
    double at;            /* now_ms() when it ran */
} capture_t;

static void capture_cb(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    capture_t *cap = arg;
    cap->calls++;
    cap->done = true;
    cap->at = now_ms();
    cap->failed = err != NULL;
    if (err)
        cap->err = *err;
    dbconn_result_free(cap->res);
    cap->res = dbconn_result_move(res);
    cap->state = dbconn_state(c);
}

static void capture_reset(capture_t *cap)
{
    dbconn_result_free(cap->res);
    memset(cap, 0, sizeof(*cap));
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

/* Close c and wait for its close callback. */
static void close_conn(dbconn_t *c)
{
    int closed = 0;
    dbconn_close(c, on_closed, &closed);
    for (int i = 0; i < 100 && !closed; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(closed, 1, "close callback ran %d times", closed);
}

static dbconn_opts_t opts_for(unsigned port)
{
    dbconn_opts_t o = {.host = "127.0.0.1",
                       .port = port,
                       .user = MYSQLD_USER,
                       .password = MYSQLD_PASSWORD,
                       .database = MYSQLD_DB,
                       .connect_timeout_ms = 3000,
                       .query_timeout_ms = 3000};
    return o;
}

static dbconn_t *connected(unsigned port)
{
    dbconn_opts_t o = opts_for(port);
    dbconn_t *c = dbconn_new(&loop, &o);
    capture_t cap = {0};
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000), "connect did not finish");
    cr_assert(!cap.failed, "connect: %s", cap.err.msg);
    cr_assert_eq(dbconn_state(c), DBCONN_IDLE);
    capture_reset(&cap);
    return c;
}

/* Run sql and wait for its callback. */
static void query(dbconn_t *c, const char *sql, unsigned timeout_ms, capture_t *cap)
{
    capture_reset(cap);
    cr_assert_eq(dbconn_query(c, sql, timeout_ms, capture_cb, cap), 0);
    cr_assert(test_run_until(&loop, &cap->done, 10000), "query did not finish: %s", sql);
    cr_assert_eq(cap->calls, 1);
}

/* ------------------------------------------------------------ a fault relay */

/* Relays a client to a server on loopback. Once armed it cuts the server's
 * bytes after `budget` more, or garbles them: all of them (packet lengths turn
 * absurd), or only packet payloads, keeping the protocol's framing (3-byte
 * length, 1-byte sequence) so the client parses garbage. Without an upstream
 * it plays a server that sends `banner` (and closes, if asked). With
 * tls_stall it offers TLS in the server's greeting (whether the server has it
 * or not) and then forwards nothing more either way: a server that goes
 * silent in the middle of the TLS handshake. */
typedef enum { RELAY_PASS, RELAY_CUT, RELAY_GARBLE, RELAY_GARBLE_PAYLOAD } relay_mode_t;

typedef struct relay relay_t;

typedef struct {
    relay_t *r;
    uv_tcp_t down, up; /* client side, server side */
    uv_connect_t creq;
    int open;
    bool closing;
} pair_t;

struct relay {
    uv_tcp_t listener;
    unsigned port;
    unsigned upstream;
    const char *banner;
    size_t banner_len;
    bool close_after_banner;
    relay_mode_t mode;
    bool armed;
    size_t budget;
    uint32_t rng;
    unsigned char hdr[4]; /* RELAY_GARBLE_PAYLOAD: the packet header being read */
    int hdr_have;
    size_t payload_left;
    pair_t *pairs[8];
    int open;
    bool tls_stall;
    bool greeted; /* tls_stall: the greeting went through */
};

typedef struct {
    uv_write_t req;
    pair_t *p;
    bool close_after;
    char data[];
} wreq_t;

static void pair_closed(uv_handle_t *h)
{
    pair_t *p = h->data;
    if (--p->open > 0)
        return;
    for (int i = 0; i < 8; i++)
        if (p->r->pairs[i] == p)
            p->r->pairs[i] = NULL;
    free(p);
}

static void pair_close(pair_t *p)
{
    if (p->closing)
        return;
    p->closing = true;
    uv_close((uv_handle_t *)&p->down, pair_closed);
    if (p->r->upstream)
        uv_close((uv_handle_t *)&p->up, pair_closed);
}

static void on_written(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    if (status < 0 || w->close_after)
        pair_close(w->p);
    free(w);
}

static void relay_write(pair_t *p, uv_tcp_t *to, const char *data, size_t n, bool close_after)
{
    wreq_t *w = malloc(sizeof(*w) + n);
    uv_buf_t b;
    memcpy(w->data, data, n);
    w->p = p;
    w->close_after = close_after;
    b = uv_buf_init(w->data, (unsigned)n);
    if (uv_write(&w->req, (uv_stream_t *)to, &b, 1, on_written) < 0) {
        free(w);
        pair_close(p);
    }
}

/* Forward the server's greeting (in one read on loopback) with CLIENT_SSL
 * (0x0800) set in the low capability flags: after the 4-byte packet header,
 * protocol version (1), server version (NUL-terminated), connection id (4),
 * scramble (8), filler (1), then the flags (2, little-endian). */
static void relay_offer_tls(pair_t *p, char *data, size_t n)
{
    const char *nul = n > 5 ? memchr(data + 5, '\0', n - 5) : NULL;
    size_t flags = nul ? (size_t)(nul - data) + 1 + 4 + 8 + 1 : n;
    cr_assert_lt(flags + 1, n, "relay: no greeting in the first read (%zu bytes)", n);
    data[flags + 1] = (char)(data[flags + 1] | 0x08);
    p->r->greeted = true;
    relay_write(p, &p->down, data, n, false);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

static void on_relay_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    pair_t *p = s->data;
    relay_t *r = p->r;
    size_t n = nread > 0 ? (size_t)nread : 0;

    if (nread < 0 || p->closing) {
        pair_close(p);
    } else if (n == 0) {
        /* nothing */
    } else if (s == (uv_stream_t *)&p->down) {
        if (r->upstream && !r->tls_stall)
            relay_write(p, &p->up, buf->base, n, false);
    } else if (r->tls_stall) {
        if (!r->greeted)
            relay_offer_tls(p, buf->base, n);
    } else if (!r->armed || r->mode == RELAY_PASS) {
        relay_write(p, &p->down, buf->base, n, false);
    } else if (r->mode == RELAY_CUT) {
        if (n < r->budget) {
            r->budget -= n;
            relay_write(p, &p->down, buf->base, n, false);
        } else {
            relay_write(p, &p->down, buf->base, r->budget, true);
            r->budget = 0;
            uv_read_stop((uv_stream_t *)&p->up);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (r->mode == RELAY_GARBLE_PAYLOAD && r->payload_left == 0) {
                r->hdr[r->hdr_have++] = (unsigned char)buf->base[i];
                if (r->hdr_have == 4) {
                    r->payload_left = r->hdr[0] | (size_t)r->hdr[1] << 8 | (size_t)r->hdr[2] << 16;
                    r->hdr_have = 0;
                }
                continue;
            }
            r->payload_left -= r->payload_left > 0;
            r->rng ^= r->rng << 13;
            r->rng ^= r->rng >> 17;
            r->rng ^= r->rng << 5;
            buf->base[i] = (char)(r->rng & 0xff);
        }
        relay_write(p, &p->down, buf->base, n, false);
    }
    free(buf->base);
}

static void on_upstream(uv_connect_t *req, int status)
{
    pair_t *p = req->data;
    if (status < 0 || p->closing) {
        pair_close(p);
        return;
    }
    uv_read_start((uv_stream_t *)&p->down, on_alloc, on_relay_read);
    uv_read_start((uv_stream_t *)&p->up, on_alloc, on_relay_read);
}

static void on_relay_conn(uv_stream_t *server, int status)
{
    relay_t *r = server->data;
    pair_t *p;
    int slot = -1;

    if (status < 0)
        return;
    for (int i = 0; i < 8 && slot < 0; i++)
        if (!r->pairs[i])
            slot = i;
    cr_assert(slot >= 0, "relay: too many connections");
    p = calloc(1, sizeof(*p));
    p->r = r;
    r->pairs[slot] = p;
    uv_tcp_init(&loop, &p->down);
    p->down.data = p;
    p->open = 1;
    cr_assert_eq(uv_accept(server, (uv_stream_t *)&p->down), 0);
    if (r->upstream) {
        struct sockaddr_in a;
        uv_ip4_addr("127.0.0.1", (int)r->upstream, &a);
        uv_tcp_init(&loop, &p->up);
        p->up.data = p;
        p->open = 2;
        p->creq.data = p;
        uv_tcp_connect(&p->creq, &p->up, (struct sockaddr *)&a, on_upstream);
    } else {
        uv_read_start((uv_stream_t *)&p->down, on_alloc, on_relay_read);
        if (r->banner_len)
            relay_write(p, &p->down, r->banner, r->banner_len, r->close_after_banner);
        else if (r->close_after_banner)
            pair_close(p);
    }
}

static void relay_start(relay_t *r)
{
    struct sockaddr_in a;
    int len = sizeof(a);
    r->rng = 0x9e3779b9u;
    uv_tcp_init(&loop, &r->listener);
    r->listener.data = r;
    uv_ip4_addr("127.0.0.1", 0, &a);
    cr_assert_eq(uv_tcp_bind(&r->listener, (struct sockaddr *)&a, 0), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&r->listener, 8, on_relay_conn), 0);
    uv_tcp_getsockname(&r->listener, (struct sockaddr *)&a, &len);
    r->port = ntohs(a.sin_port);
}

static void relay_stop(relay_t *r)
{
    uv_close((uv_handle_t *)&r->listener, NULL);
    for (int i = 0; i < 8; i++)
        if (r->pairs[i])
            pair_close(r->pairs[i]);
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* ------------------------------------------------------------ results */

Test(dbconn, multi_statement_query_returns_every_result_in_one_callback)
{
    dbconn_opts_t o = opts_for(S.port);
    capture_t cap = {0};
    const dbconn_rs_t *rs;
    int64_t i;
    bool b;
    dbconn_t *c;

    cr_assert(S.port, "no shared server");
    o.init_sql = "SET SESSION sql_mode='STRICT_ALL_TABLES'; SET SESSION wait_timeout=77";
    c = dbconn_new(&loop, &o);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert_eq(dbconn_state(c), DBCONN_CONNECTING);
    cr_assert_not(cap.done, "the callback never runs inside the call");
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    cr_assert_eq(cap.res->nsets, 0, "a connect has no results");
    cr_assert_eq(cap.state, DBCONN_IDLE);
    cr_assert(strstr(dbconn_server_version(c), "MariaDB"), "%s", dbconn_server_version(c));
    cr_assert_geq(dbconn_server_version_num(c), 101100);
    cr_assert_gt(dbconn_thread_id(c), 0);

    query(c,
          "SELECT 1 AS one, NULL AS nothing, 'x' AS Name, 'ON' AS flag;"
          "SELECT @@sql_mode AS mode, @@wait_timeout AS wt;"
          "CREATE TEMPORARY TABLE t (a INT PRIMARY KEY AUTO_INCREMENT, b VARCHAR(10));"
          "INSERT INTO t (b) VALUES ('p'), (NULL), ('r');"
          "SELECT a, b FROM t ORDER BY a;"
          "SELECT a FROM t WHERE a > 100",
          0, &cap);
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    cr_assert_eq(cap.state, DBCONN_IDLE);
    cr_assert_eq(cap.res->nsets, 6);

    rs = dbconn_result_set(cap.res, 0);
    cr_assert(rs->has_rows);
    cr_assert_eq(rs->ncols, 4);
    cr_assert_eq(rs->nrows, 1);
    cr_assert_eq(dbconn_rs_int(rs, 0, "one", &i), DBCONN_VAL_OK);
    cr_assert_eq(i, 1);
    cr_assert_eq(dbconn_rs_int(rs, 0, "nothing", &i), DBCONN_VAL_NULL);
    cr_assert_null(dbconn_rs_str(rs, 0, "nothing"));
    cr_assert_str_eq(dbconn_rs_str(rs, 0, "NAME"), "x", "column names are case-insensitive");
    cr_assert_eq(dbconn_rs_bool(rs, 0, "flag", &b), DBCONN_VAL_OK);
    cr_assert(b);
    cr_assert_eq(dbconn_rs_int(rs, 0, "missing", &i), DBCONN_VAL_MISSING);
    cr_assert_eq(dbconn_rs_int(rs, 1, "one", &i), DBCONN_VAL_MISSING);

    rs = dbconn_result_set(cap.res, 1);
    cr_assert_str_eq(dbconn_rs_str(rs, 0, "mode"), "STRICT_ALL_TABLES", "init_sql ran");
    cr_assert_eq(dbconn_rs_int(rs, 0, "wt", &i), DBCONN_VAL_OK);
    cr_assert_eq(i, 77);

    rs = dbconn_result_set(cap.res, 2);
    cr_assert_not(rs->has_rows);
    rs = dbconn_result_set(cap.res, 3);
    cr_assert_not(rs->has_rows);
    cr_assert_eq(rs->affected_rows, 3);
    cr_assert_eq(rs->insert_id, 1);

    rs = dbconn_result_set(cap.res, 4);
    cr_assert_eq(rs->nrows, 3);
    cr_assert_str_eq(dbconn_rs_value(rs, 0, 1), "p");
    cr_assert_null(dbconn_rs_value(rs, 1, 1));
    cr_assert_str_eq(dbconn_rs_value(rs, 2, 1), "r");
    cr_assert_eq(dbconn_rs_int(rs, 2, "A", &i), DBCONN_VAL_OK);
    cr_assert_eq(i, 3);

    rs = dbconn_result_set(cap.res, 5);
    cr_assert(rs->has_rows, "an empty row set is still a row set");
    cr_assert_eq(rs->nrows, 0);
    cr_assert_eq(rs->ncols, 1);
    cr_assert_null(dbconn_result_set(cap.res, 6));

    cr_assert_gt(dbconn_last_latency_us(c), 0);
    cr_assert_lt(dbconn_last_latency_us(c), 2000000);

    /* Values are binary-safe. */
    query(c, "SELECT CONCAT('a', CHAR(0), 'b') AS v", 0, &cap);
    rs = dbconn_result_set(cap.res, 0);
    cr_assert_eq(rs->lens[0], 3);
    cr_assert_eq(memcmp(rs->vals[0], "a\0b", 3), 0);

    capture_reset(&cap);
    close_conn(c);
    finish();
}

/* The value helpers, row by row. */
Test(dbconn, value_helpers)
{
    static const struct {
        const char *v;
        dbconn_val_t int_r;
        int64_t i;
        dbconn_val_t uint_r;
        uint64_t u;
        dbconn_val_t bool_r;
        bool b;
    } rows[] = {
        {"0", DBCONN_VAL_OK, 0, DBCONN_VAL_OK, 0, DBCONN_VAL_OK, false},
        {"1", DBCONN_VAL_OK, 1, DBCONN_VAL_OK, 1, DBCONN_VAL_OK, true},
        {"-5", DBCONN_VAL_OK, -5, DBCONN_VAL_BAD, 0, DBCONN_VAL_OK, true},
        {"18446744073709551615", DBCONN_VAL_BAD, 0, DBCONN_VAL_OK, UINT64_MAX, DBCONN_VAL_BAD,
         false},
        {"ON", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_OK, true},
        {"off", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_OK, false},
        {"Yes", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_OK, true},
        {"No", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_OK, false},
        {"Connecting", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, false},
        {"12abc", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, false},
        {"", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, false},
        {" 7", DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, 0, DBCONN_VAL_BAD, false},
        {NULL, DBCONN_VAL_NULL, 0, DBCONN_VAL_NULL, 0, DBCONN_VAL_NULL, false},
    };
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        char *cols[] = {"Value"};
        char *vals[] = {(char *)rows[k].v};
        size_t lens[] = {rows[k].v ? strlen(rows[k].v) : 0};
        dbconn_rs_t rs = {
            .has_rows = true, .ncols = 1, .cols = cols, .nrows = 1, .vals = vals, .lens = lens};
        int64_t i = 0;
        uint64_t u = 0;
        bool b = false;
        const char *v = rows[k].v ? rows[k].v : "NULL";
        cr_assert_eq(dbconn_rs_int(&rs, 0, "value", &i), rows[k].int_r, "int %s", v);
        if (rows[k].int_r == DBCONN_VAL_OK)
            cr_assert_eq(i, rows[k].i, "int %s", v);
        cr_assert_eq(dbconn_rs_uint(&rs, 0, "VALUE", &u), rows[k].uint_r, "uint %s", v);
        if (rows[k].uint_r == DBCONN_VAL_OK)
            cr_assert_eq(u, rows[k].u, "uint %s", v);
        cr_assert_eq(dbconn_rs_bool(&rs, 0, "value", &b), rows[k].bool_r, "bool %s", v);
        if (rows[k].bool_r == DBCONN_VAL_OK)
            cr_assert_eq(b, rows[k].b, "bool %s", v);
        cr_assert_eq(dbconn_rs_bool(&rs, 0, "other", &b), DBCONN_VAL_MISSING);
        cr_assert_eq(dbconn_rs_col(&rs, "vAlUe"), 0);
        cr_assert_eq(dbconn_rs_col(&rs, "x"), -1);
    }
    finish();
}

/* ------------------------------------------------------------ statement errors */

Test(dbconn, syntax_error_in_the_second_statement_is_reported_with_its_message)
{
    capture_t cap = {0};
    dbconn_t *c = connected(S.port);

    query(c, "SELECT 1 AS a; SELEC 2; SELECT 3", 0, &cap);
    cr_assert(cap.failed);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_SERVER);
    cr_assert_eq(cap.err.code, 1064);
    cr_assert_str_eq(cap.err.sqlstate, "42000");
    cr_assert_eq(cap.err.stmt, 2);
    cr_assert(strstr(cap.err.msg,
                     "statement 2: ERROR 1064 (42000): You have an error in your SQL syntax"),
              "%s", cap.err.msg);
    cr_assert(strstr(cap.err.msg, "SELEC 2"), "%s", cap.err.msg);
    cr_assert_eq(cap.res->nsets, 1, "the first statement's result is kept");
    cr_assert_str_eq(dbconn_rs_str(dbconn_result_set(cap.res, 0), 0, "a"), "1");
    cr_assert_eq(cap.state, DBCONN_IDLE, "a statement error leaves the connection usable");

    query(c, "SELECT * FROM no_such_table", 0, &cap);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_SERVER);
    cr_assert_eq(cap.err.code, 1146);
    cr_assert_eq(cap.err.stmt, 1);

    query(c, "SELECT 42 AS x", 0, &cap);
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    cr_assert_str_eq(dbconn_rs_str(dbconn_result_set(cap.res, 0), 0, "x"), "42");
    capture_reset(&cap);
    close_conn(c);
    finish();
}

Test(dbconn, failing_init_sql_fails_the_connect)
{
    dbconn_opts_t o = opts_for(S.port);
    capture_t cap = {0};
    dbconn_t *c;

    o.init_sql = "SET SESSION wait_timeout=60; SET SESSION no_such_variable=1";
    c = dbconn_new(&loop, &o);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CONNECT);
    cr_assert_eq(cap.err.code, 1193);
    cr_assert(strstr(cap.err.msg, "session setup failed: statement 2: ERROR 1193"), "%s",
              cap.err.msg);
    cr_assert_eq(cap.state, DBCONN_CLOSED);
    capture_reset(&cap);
    close_conn(c);
    finish();
}

/* ------------------------------------------------------------ usage errors */

Test(dbconn, one_operation_at_a_time)
{
    capture_t a = {0}, b = {0};
    dbconn_opts_t o = opts_for(S.port);
    dbconn_t *c = dbconn_new(&loop, &o);

    cr_assert_eq(dbconn_query(c, "SELECT 1", 0, capture_cb, &a), -ENOTCONN);
    cr_assert_eq(dbconn_connect(c, capture_cb, &a), 0);
    cr_assert_eq(dbconn_connect(c, capture_cb, &b), -EBUSY);
    cr_assert_eq(dbconn_query(c, "SELECT 1", 0, capture_cb, &b), -ENOTCONN);
    cr_assert(test_run_until(&loop, &a.done, 5000));
    cr_assert_not(a.failed, "%s", a.err.msg);
    cr_assert_eq(dbconn_connect(c, capture_cb, &b), -EISCONN);
    cr_assert_eq(dbconn_query(c, "", 0, capture_cb, &b), -EINVAL);

    capture_reset(&a);
    cr_assert_eq(dbconn_query(c, "SELECT SLEEP(0.1) AS s", 0, capture_cb, &a), 0);
    cr_assert_eq(dbconn_state(c), DBCONN_BUSY);
    cr_assert_eq(dbconn_query(c, "SELECT 2", 0, capture_cb, &b), -EBUSY);
    cr_assert(test_run_until(&loop, &a.done, 5000));
    cr_assert_not(a.failed, "%s", a.err.msg);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 0, "a rejected call never calls back");
    capture_reset(&a);
    close_conn(c);
    finish();
}

/* ------------------------------------------------------------ connect errors */

Test(dbconn, wrong_password_is_a_precise_connect_error)
{
    dbconn_opts_t o = opts_for(S.port);
    capture_t cap = {0};
    char want[128];
    dbconn_t *c;

    o.password = "wrong";
    c = dbconn_new(&loop, &o);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CONNECT);
    cr_assert_eq(cap.err.code, 1045);
    snprintf(want, sizeof(want), "connect to 127.0.0.1:%u: Access denied for user '%s'", S.port,
             MYSQLD_USER);
    cr_assert(strstr(cap.err.msg, want), "%s", cap.err.msg);
    cr_assert_eq(cap.state, DBCONN_CLOSED);
    cr_assert_eq(dbconn_server_version(c), NULL);
    capture_reset(&cap);
    close_conn(c);
    finish();
}

Test(dbconn, connection_refused_fails_at_once)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    tls_cfg_t tls = {.mode = TLS_MODE_PREFERRED};
    capture_t cap = {0};
    dbconn_opts_t o;
    dbconn_t *c;
    double t0;

    /* A bound socket that does not listen holds the port: connects are refused. */
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    /* Plain, on the loop; then with TLS possible, on the thread pool. */
    for (int k = 0; k < 2; k++) {
        o = opts_for(ntohs(a.sin_port));
        o.tls = k ? &tls : NULL;
        c = dbconn_new(&loop, &o);
        capture_reset(&cap);
        t0 = now_ms();
        cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
        cr_assert(test_run_until(&loop, &cap.done, 5000));
        cr_assert_eq(cap.err.kind, DBCONN_ERR_CONNECT);
        cr_assert(cap.err.code == 2002 || cap.err.code == 2003, "code %u", cap.err.code);
        cr_assert(strstr(cap.err.msg, "Connection refused"), "%s", cap.err.msg);
        cr_assert_lt(cap.at - t0, 500, "took %.0f ms", cap.at - t0);
        close_conn(c);
    }
    close(fd);
    capture_reset(&cap);
    finish();
}

Test(dbconn, unknown_host_fails_within_the_timeout)
{
    /* A 70-character label can't be put in a DNS query, so the resolver fails
     * without sending anything off this machine. */
    dbconn_opts_t o = opts_for(3306);
    capture_t cap = {0};
    dbconn_t *c;
    double t0;

    o.host = "no-such-host-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.invalid";
    o.connect_timeout_ms = 1000;
    c = dbconn_new(&loop, &o);
    t0 = now_ms();
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_lt(cap.at - t0, 1200, "took %.0f ms", cap.at - t0);
    cr_assert(cap.err.kind == DBCONN_ERR_RESOLVE || cap.err.kind == DBCONN_ERR_TIMEOUT, "%s",
              cap.err.msg);
    cr_assert(strstr(cap.err.msg, "connect to no-such-host-"), "%s", cap.err.msg);
    cr_log_info("unknown host: %s (%.0f ms)", cap.err.msg, cap.at - t0);
    capture_reset(&cap);
    close_conn(c);
    finish();
}

Test(dbconn, host_names_are_resolved_off_the_loop)
{
    dbconn_opts_t o = opts_for(S.port);
    capture_t cap = {0};
    dbconn_t *c;

    o.host = "localhost"; /* from /etc/hosts; TCP, never the Unix socket */
    c = dbconn_new(&loop, &o);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    query(c, "SELECT 1", 0, &cap);
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    capture_reset(&cap);
    close_conn(c);
    finish();
}

Test(dbconn, a_server_that_accepts_but_never_speaks_times_out_at_the_deadline)
{
    relay_t mute = {0};
    capture_t cap = {0};
    dbconn_opts_t o;
    dbconn_t *c;
    double t0;

    relay_start(&mute); /* no upstream, no banner: accepts and stays silent */
    o = opts_for(mute.port);
    o.connect_timeout_ms = 300;
    c = dbconn_new(&loop, &o);
    t0 = now_ms();
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "%s", cap.err.msg);
    cr_assert(strstr(cap.err.msg, "timeout after 300 ms waiting for the server handshake"), "%s",
              cap.err.msg);
    cr_assert_geq(cap.at - t0, 295);
    cr_assert_lt(cap.at - t0, 450, "took %.0f ms", cap.at - t0);
    cr_assert_eq(cap.state, DBCONN_CLOSED);
    capture_reset(&cap);
    close_conn(c);
    relay_stop(&mute);
    finish();
}

Test(dbconn, a_host_that_drops_connection_attempts_times_out_at_the_deadline)
{
    /* A listener whose accept queue is full drops further SYNs: as if the host
     * were gone, on loopback. */
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int ls = socket(AF_INET, SOCK_STREAM, 0), filler = socket(AF_INET, SOCK_STREAM, 0);
    capture_t cap = {0};
    dbconn_opts_t o;
    dbconn_t *c;
    double t0;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(ls, 0), 0);
    getsockname(ls, (struct sockaddr *)&a, &len);
    cr_assert_eq(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);

    o = opts_for(ntohs(a.sin_port));
    o.connect_timeout_ms = 300;
    c = dbconn_new(&loop, &o);
    t0 = now_ms();
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "%s", cap.err.msg);
    cr_assert(strstr(cap.err.msg, "timeout after 300 ms waiting for the TCP connection"), "%s",
              cap.err.msg);
    cr_assert_geq(cap.at - t0, 295);
    cr_assert_lt(cap.at - t0, 450, "took %.0f ms", cap.at - t0);
    close(filler);
    close(ls);
    capture_reset(&cap);
    close_conn(c);
    finish();
}

Test(dbconn, endpoints)
{
    static const struct {
        const char *host;
        unsigned port;
        const char *want;
    } rows[] = {{"10.0.0.1", 3306, "10.0.0.1:3306"},
                {"db1.example", 0, "db1.example:3306"},
                {"::1", 3307, "[::1]:3307"}};
    for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        dbconn_opts_t o = {.host = rows[k].host, .port = rows[k].port};
        dbconn_t *c = dbconn_new(&loop, &o);
        cr_assert_str_eq(dbconn_endpoint(c), rows[k].want);
        cr_assert_eq(dbconn_state(c), DBCONN_CLOSED);
        cr_assert_null(dbconn_server_version(c));
        close_conn(c);
    }
    finish();
}

/* ------------------------------------------------------------ garbage and cuts */

#define BYTES(s) s, sizeof(s) - 1

Test(dbconn, a_port_speaking_another_protocol_is_an_error_not_a_crash)
{
    static const struct {
        const char *what;
        const char *bytes;
        size_t len;
        bool close;
    } cases[] = {
        {"ssh banner", BYTES("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), false},
        {"http reply", BYTES("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), true},
        {"framed junk", BYTES("\x05\x00\x00\x00\x0a\xff\xfe\x01\x02"), false},
        {"short greeting",
         BYTES("\x0b\x00\x00\x00\x0a"
               "5.5.5\x00\x01\x00\x00"),
         true},
        {"error packet",
         BYTES("\x17\x00\x00\x00\xff\x10\x04"
               "Too many connections"),
         true},
        {"immediate close", BYTES(""), true},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        relay_t fake = {.banner = cases[k].bytes,
                        .banner_len = cases[k].len,
                        .close_after_banner = cases[k].close};
        capture_t cap = {0};
        dbconn_opts_t o;
        dbconn_t *c;

        relay_start(&fake);
        o = opts_for(fake.port);
        o.connect_timeout_ms = 400;
        c = dbconn_new(&loop, &o);
        cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
        cr_assert(test_run_until(&loop, &cap.done, 5000), "%s", cases[k].what);
        cr_assert(cap.failed, "%s: connected?", cases[k].what);
        cr_assert(cap.err.kind == DBCONN_ERR_CONNECT || cap.err.kind == DBCONN_ERR_TIMEOUT,
                  "%s: %s", cases[k].what, cap.err.msg);
        cr_assert_eq(cap.state, DBCONN_CLOSED);
        cr_log_info("%s: %s", cases[k].what, cap.err.msg);
        capture_reset(&cap);
        close_conn(c);
        relay_stop(&fake);
    }
    finish();
}

#define BIG_RESULT "SELECT seq, REPEAT('x', 200) AS pad FROM seq_1_to_20000"

Test(dbconn, a_reply_cut_mid_result_is_a_lost_connection)
{
    relay_t r = {.upstream = S.port, .mode = RELAY_CUT, .budget = 100000};
    capture_t cap = {0};
    dbconn_t *c;

    relay_start(&r);
    c = connected(r.port);
    query(c, "SELECT 1", 0, &cap); /* the relay passes everything until armed */
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    r.armed = true;
    query(c, BIG_RESULT, 3000, &cap);
    cr_assert(cap.failed, "the whole result came through? %zu sets, %zu rows, budget left %zu",
              cap.res->nsets, cap.res->nsets ? cap.res->sets[0].nrows : 0, r.budget);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_LOST, "%s", cap.err.msg);
    cr_assert(strstr(cap.err.msg, "server closed the connection during query"), "%s", cap.err.msg);
    cr_assert_eq(cap.state, DBCONN_CLOSED);
    cr_assert_eq(cap.res->nsets, 0);
    cr_log_info("cut: %s", cap.err.msg);
    capture_reset(&cap);
    close_conn(c);
    relay_stop(&r);
    finish();
}

Test(dbconn, garbage_mid_result_is_an_error_not_a_crash)
{
    static const char *queries[] = {"SELECT 1", BIG_RESULT, "SELECT @@version AS v; SELECT 2",
                                    "SHOW GLOBAL VARIABLES", "DO 1"};
    static const relay_mode_t modes[] = {RELAY_GARBLE, RELAY_GARBLE_PAYLOAD};
    int errors[DBCONN_ERR_CANCELLED + 1] = {0};

    for (size_t m = 0; m < 2; m++)
        for (size_t k = 0; k < sizeof(queries) / sizeof(queries[0]); k++)
            /* Whole garbage always ends in a timeout (absurd packet lengths):
             * one seed is enough for it. */
            for (uint32_t seed = 1; seed <= (m ? 3u : 1u); seed++) {
                relay_t r = {.upstream = S.port, .mode = modes[m]};
                capture_t cap = {0};
                dbconn_t *c;

                relay_start(&r);
                r.rng = seed * 2654435761u;
                c = connected(r.port);
                r.armed = true;
                query(c, queries[k], 150, &cap);
                if (cap.failed) {
                    errors[cap.err.kind]++;
                    cr_assert(cap.err.kind == DBCONN_ERR_LOST ||
                                  cap.err.kind == DBCONN_ERR_TIMEOUT ||
                                  cap.err.kind == DBCONN_ERR_SERVER,
                              "%s", cap.err.msg);
                    if (cap.err.kind != DBCONN_ERR_SERVER)
                        cr_assert_eq(cap.state, DBCONN_CLOSED);
                    if (seed == 1)
                        cr_log_info("%s after \"%.20s\": %s", m ? "garbled payloads" : "garbage",
                                    queries[k], cap.err.msg);
                }
                /* A garbled payload can still parse (a row of other bytes):
                 * no error is then possible, and none is required. */
                capture_reset(&cap);
                close_conn(c);
                relay_stop(&r);
            }
    cr_log_info("garbage outcomes: %d lost, %d timeout, %d server error", errors[DBCONN_ERR_LOST],
                errors[DBCONN_ERR_TIMEOUT], errors[DBCONN_ERR_SERVER]);
    finish();
}

/* ------------------------------------------------------------ deadlines */

Test(dbconn, a_slow_query_times_out_at_the_deadline_and_the_connection_can_be_reopened)
{
    capture_t cap = {0};
    dbconn_t *c = connected(S.port);
    double t0 = now_ms();

    query(c, "SELECT SLEEP(5)", 200, &cap);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "%s", cap.err.msg);
    cr_assert_str_eq(cap.err.msg, "timeout after 200 ms during query");
    cr_assert_geq(cap.at - t0, 195);
    cr_assert_lt(cap.at - t0, 350, "took %.0f ms", cap.at - t0);
    cr_assert_eq(cap.state, DBCONN_CLOSED);
    cr_assert_eq(dbconn_query(c, "SELECT 1", 0, capture_cb, &cap), -ENOTCONN);

    capture_reset(&cap);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    query(c, "SELECT 7 AS x", 0, &cap);
    cr_assert_str_eq(dbconn_rs_str(dbconn_result_set(cap.res, 0), 0, "x"), "7");
    capture_reset(&cap);
    close_conn(c);
    finish();
}

/* A healthy connection probed on a fixed schedule, and a ticking timer: if
 * anything blocked the loop, their gaps would show it. */
typedef struct {
    dbconn_t *c;
    uv_timer_t t;
    int ok, failed;
    double max_latency_ms, max_gap_ms, last;
    bool stop;
} prober_t;

static void probe_next(uv_timer_t *t);

static void probe_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    prober_t *p = arg;
    (void)c;
    (void)res;
    if (err)
        p->failed++;
    else
        p->ok++;
    if (dbconn_last_latency_us(c) / 1000.0 > p->max_latency_ms)
        p->max_latency_ms = dbconn_last_latency_us(c) / 1000.0;
    if (!p->stop)
        uv_timer_start(&p->t, probe_next, 20, 0);
}

static void probe_next(uv_timer_t *t)
{
    prober_t *p = t->data;
    dbconn_query(p->c, "SELECT 1", 200, probe_done, p);
}

static void tick(uv_timer_t *t)
{
    prober_t *p = t->data;
    double n = now_ms();
    if (p->last > 0 && n - p->last > p->max_gap_ms)
        p->max_gap_ms = n - p->last;
    p->last = n;
}

Test(dbconn, a_sigstopped_server_times_out_while_the_loop_keeps_its_schedule)
{
    mysqld_t d;
    prober_t pr = {0}, tk = {0};
    capture_t cap = {0};
    dbconn_opts_t o;
    dbconn_t *stuck, *fresh, *idle;
    double t0;

    cr_assert(mysqld_start(&d), "could not start a server");
    stuck = connected(d.port);
    idle = connected(d.port);
    pr.c = connected(S.port);
    cr_assert(mysqld_pause(&d));

    uv_timer_init(&loop, &pr.t);
    pr.t.data = &pr;
    uv_timer_start(&pr.t, probe_next, 0, 0);
    uv_timer_init(&loop, &tk.t);
    tk.t.data = &tk;
    uv_timer_start(&tk.t, tick, 10, 10);

    /* A query on the stopped server: sent, never answered. */
    t0 = now_ms();
    query(stuck, "SELECT 1", 500, &cap);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "%s", cap.err.msg);
    cr_assert_str_eq(cap.err.msg, "timeout after 500 ms during query");
    cr_assert_geq(cap.at - t0, 495);
    cr_assert_lt(cap.at - t0, 650, "took %.0f ms", cap.at - t0);
    cr_assert_eq(cap.state, DBCONN_CLOSED);

    /* A connect to it: the kernel accepts, the server never greets. */
    o = opts_for(d.port);
    o.connect_timeout_ms = 300;
    fresh = dbconn_new(&loop, &o);
    capture_reset(&cap);
    t0 = now_ms();
    cr_assert_eq(dbconn_connect(fresh, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "%s", cap.err.msg);
    cr_assert_lt(cap.at - t0, 450, "took %.0f ms", cap.at - t0);

    /* Closing an idle connection to it sends COM_QUIT into an empty socket
     * buffer: instant, though nobody reads it. */
    t0 = now_ms();
    close_conn(idle);
    cr_assert_lt(now_ms() - t0, 50, "closing took %.1f ms", now_ms() - t0);

    pr.stop = true;
    uv_timer_stop(&tk.t);
    for (int i = 0; i < 50 && dbconn_state(pr.c) == DBCONN_BUSY; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_log_info("healthy node during the stall: %d probes ok, %d failed, max latency %.1f ms; "
                "ticker max gap %.1f ms",
                pr.ok, pr.failed, pr.max_latency_ms, tk.max_gap_ms);
    cr_assert_eq(pr.failed, 0);
    cr_assert_geq(pr.ok, 15, "only %d probes in ~800 ms", pr.ok);
    cr_assert_lt(tk.max_gap_ms, 100, "the loop stalled for %.1f ms", tk.max_gap_ms);

    uv_close((uv_handle_t *)&pr.t, NULL);
    uv_close((uv_handle_t *)&tk.t, NULL);
    capture_reset(&cap);
    close_conn(stuck);
    close_conn(fresh);
    close_conn(pr.c);
    mysqld_stop(&d);
    finish();
}

/* ------------------------------------------------------------ TLS off the loop */

Test(dbconn, a_tls_connect_runs_off_the_loop_and_the_session_is_usable)
{
    tls_cfg_t tls = {.mode = TLS_MODE_PREFERRED};
    dbconn_opts_t o = opts_for(S.port);
    capture_t cap = {0};
    dbconn_t *c;

    o.tls = &tls;
    o.init_sql = "SET @x = 42";
    c = dbconn_new(&loop, &o);
    for (int round = 0; round < 2; round++) {
        capture_reset(&cap);
        cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
        cr_assert_eq(dbconn_state(c), DBCONN_CONNECTING);
        cr_assert(test_run_until(&loop, &cap.done, 5000));
        cr_assert_not(cap.failed, "%s", cap.err.msg);
        cr_assert_eq(cap.state, DBCONN_IDLE);
        cr_assert_neq(dbconn_server_version(c), NULL);
        query(c, "SELECT @x AS x; SELECT 2 AS y", 0, &cap);
        cr_assert_not(cap.failed, "%s", cap.err.msg);
        cr_assert_str_eq(dbconn_rs_str(dbconn_result_set(cap.res, 0), 0, "x"), "42");
        cr_assert_str_eq(dbconn_rs_str(dbconn_result_set(cap.res, 1), 0, "y"), "2");
        dbconn_disconnect(c);
    }
    capture_reset(&cap);
    close_conn(c);
    finish();
}

Test(dbconn, a_wrong_password_over_a_tls_connect_is_a_precise_error)
{
    tls_cfg_t tls = {.mode = TLS_MODE_PREFERRED};
    dbconn_opts_t o = opts_for(S.port);
    capture_t cap = {0};
    dbconn_t *c;

    o.tls = &tls;
    o.password = "wrong";
    c = dbconn_new(&loop, &o);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CONNECT, "%s", cap.err.msg);
    cr_assert_eq(cap.err.code, 1045, "%s", cap.err.msg);
    cr_assert(strstr(cap.err.msg, "Access denied"), "%s", cap.err.msg);
    cr_assert_eq(cap.state, DBCONN_CLOSED);
    capture_reset(&cap);
    close_conn(c);
    finish();
}

static void on_closed_flag(void *arg)
{
    *(bool *)arg = true;
}

/* The server greets, offers TLS, and says nothing more: the client library
 * waits in its handshake. The connect must fail at its own deadline while
 * the loop keeps its schedule (a ticker, and queries to a healthy server);
 * a second attempt while the first one's worker is still out fails at its
 * deadline too; closing waits for the late worker and leaks nothing. */
Test(dbconn, a_server_silent_in_the_tls_handshake_times_out_while_the_loop_keeps_its_schedule)
{
    relay_t stall = {0};
    prober_t pr = {0}, tk = {0};
    capture_t cap = {0};
    tls_cfg_t tls = {.mode = TLS_MODE_REQUIRED};
    dbconn_opts_t o;
    dbconn_t *c;
    bool closed = false, never = false;
    double t0;

    stall.upstream = S.port;
    stall.tls_stall = true;
    relay_start(&stall);
    pr.c = connected(S.port);
    uv_timer_init(&loop, &pr.t);
    pr.t.data = &pr;
    uv_timer_start(&pr.t, probe_next, 0, 0);
    uv_timer_init(&loop, &tk.t);
    tk.t.data = &tk;
    uv_timer_start(&tk.t, tick, 10, 10);

    test_run_until(&loop, &never, 50); /* the ticker is going */

    o = opts_for(stall.port);
    o.connect_timeout_ms = 300;
    o.tls = &tls;
    c = dbconn_new(&loop, &o);
    for (int attempt = 1; attempt <= 2; attempt++) {
        capture_reset(&cap);
        t0 = now_ms();
        cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
        cr_assert(test_run_until(&loop, &cap.done, 5000));
        cr_assert(stall.greeted, "the relay saw no greeting");
        cr_assert_lt(tk.max_gap_ms, 100, "attempt %d: the loop stalled for %.1f ms (%s)", attempt,
                     tk.max_gap_ms, cap.err.msg);
        cr_assert_geq(cap.at - t0, 295);
        cr_assert_lt(cap.at - t0, 450, "attempt %d took %.0f ms", attempt, cap.at - t0);
        cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "attempt %d: %s", attempt, cap.err.msg);
        cr_assert(
            strstr(cap.err.msg, "timeout after 300 ms connecting (TCP, TLS handshake, login)"),
            "%s", cap.err.msg);
        cr_assert_eq(cap.state, DBCONN_CLOSED);
    }
    test_run_until(&loop, &never, 200);

    pr.stop = true;
    uv_timer_stop(&tk.t);
    for (int i = 0; i < 50 && dbconn_state(pr.c) == DBCONN_BUSY; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_log_info("healthy node during the stall: %d probes ok, %d failed, max latency %.1f ms; "
                "ticker max gap %.1f ms",
                pr.ok, pr.failed, pr.max_latency_ms, tk.max_gap_ms);
    cr_assert_eq(pr.failed, 0);
    cr_assert_geq(pr.ok, 15, "only %d probes in ~800 ms", pr.ok);
    cr_assert_lt(tk.max_gap_ms, 100, "the loop stalled for %.1f ms", tk.max_gap_ms);

    /* The worker gives up within the library's connect timeout (1 s here,
     * whole seconds) per wait; the close callback runs after it is back. */
    dbconn_close(c, on_closed_flag, &closed);
    cr_assert(test_run_until(&loop, &closed, 10000), "the late worker never came back");
    uv_close((uv_handle_t *)&pr.t, NULL);
    uv_close((uv_handle_t *)&tk.t, NULL);
    capture_reset(&cap);
    close_conn(pr.c);
    relay_stop(&stall);
    finish();
}

static void kill_server(uv_timer_t *t)
{
    mysqld_kill(t->data);
}

Test(dbconn, a_server_killed_mid_query_is_a_lost_connection)
{
    mysqld_t d;
    uv_timer_t killer;
    capture_t cap = {0};
    dbconn_t *c;
    double t0;

    cr_assert(mysqld_start(&d), "could not start a server");
    c = connected(d.port);
    uv_timer_init(&loop, &killer);
    killer.data = &d;
    uv_timer_start(&killer, kill_server, 100, 0);
    t0 = now_ms();
    query(c, "SELECT SLEEP(10)", 5000, &cap);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_LOST, "%s", cap.err.msg);
    cr_assert(strstr(cap.err.msg, "server closed the connection during query"), "%s", cap.err.msg);
    cr_assert(cap.err.code == 2013 || cap.err.code == 2006, "code %u", cap.err.code);
    cr_assert_lt(cap.at - t0, 1500, "took %.0f ms", cap.at - t0);
    cr_assert_eq(cap.state, DBCONN_CLOSED);
    cr_assert_eq(dbconn_query(c, "SELECT 1", 0, capture_cb, &cap), -ENOTCONN);

    /* Reconnecting to the dead server is refused at once. */
    capture_reset(&cap);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CONNECT, "%s", cap.err.msg);
    cr_assert(strstr(cap.err.msg, "Connection refused"), "%s", cap.err.msg);

    uv_close((uv_handle_t *)&killer, NULL);
    capture_reset(&cap);
    close_conn(c);
    mysqld_stop(&d);
    finish();
}

/* The idle watch (dbconn_watch_idle): a server killed between queries ends
 * the connection at once, and the reconnect is refused with its errno. */
typedef struct {
    int calls;
    bool done;
    dbconn_state_t state;
    double at;
} idle_seen_t;

static void on_idle_end(dbconn_t *c, void *arg)
{
    idle_seen_t *s = arg;
    s->calls++;
    s->done = true;
    s->state = dbconn_state(c);
    s->at = now_ms();
}

Test(dbconn, a_server_killed_while_the_connection_is_idle_is_seen_at_once)
{
    mysqld_t d;
    idle_seen_t seen = {0};
    capture_t cap = {0};

    cr_assert(mysqld_start(&d), "could not start a server");
    dbconn_t *c = connected(d.port);
    dbconn_watch_idle(c, on_idle_end, &seen);
    query(c, "SELECT 1", 0, &cap); /* a query on a watched connection works as before */
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    cr_assert_eq(dbconn_state(c), DBCONN_IDLE);
    double t0 = now_ms();
    mysqld_kill(&d);
    cr_assert(test_run_until(&loop, &seen.done, 2000), "the idle watch did not fire");
    cr_assert_eq(seen.state, DBCONN_CLOSED);
    cr_assert_lt(seen.at - t0, 1000, "took %.0f ms", seen.at - t0);

    capture_reset(&cap);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CONNECT, "%s", cap.err.msg);
    cr_assert_eq(cap.err.os_errno, ECONNREFUSED, "%s", cap.err.msg);
    cr_assert_eq(seen.calls, 1, "the watch fires once");

    capture_reset(&cap);
    close_conn(c);
    mysqld_stop(&d);
    finish();
}

Test(dbconn, a_connection_killed_by_the_server_is_lost)
{
    capture_t victim = {0}, admin = {0};
    dbconn_t *c = connected(S.port), *k = connected(S.port);
    char sql[64];

    snprintf(sql, sizeof(sql), "KILL CONNECTION %lu", dbconn_thread_id(c));
    cr_assert_eq(dbconn_query(c, "SELECT SLEEP(5)", 0, capture_cb, &victim), 0);
    query(k, sql, 0, &admin);
    cr_assert_not(admin.failed, "%s", admin.err.msg);
    cr_assert(test_run_until(&loop, &victim.done, 5000));
    cr_assert_eq(victim.err.kind, DBCONN_ERR_LOST, "%s", victim.err.msg);
    cr_assert_eq(victim.state, DBCONN_CLOSED);
    cr_log_info("killed: %s", victim.err.msg);
    capture_reset(&victim);
    capture_reset(&admin);
    close_conn(c);
    close_conn(k);
    finish();
}

/* ------------------------------------------------------------ cancel and close */

Test(dbconn, close_while_busy_cancels_and_frees_everything)
{
    capture_t cap = {0};
    dbconn_t *c = connected(S.port);
    int closed = 0;
    double t0;

    cr_assert_eq(dbconn_query(c, "SELECT SLEEP(5)", 0, capture_cb, &cap), 0);
    for (int i = 0; i < 5; i++) /* let the query reach the server */
        uv_run(&loop, UV_RUN_ONCE);
    t0 = now_ms();
    dbconn_close(c, on_closed, &closed);
    cr_assert_eq(cap.calls, 1, "the cancelled callback runs inside dbconn_close");
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CANCELLED);
    cr_assert(strstr(cap.err.msg, "cancelled"), "%s", cap.err.msg);
    cr_assert_lt(now_ms() - t0, 50, "closing took %.1f ms", now_ms() - t0);
    cr_assert_eq(closed, 0, "handles close from the loop");
    for (int i = 0; i < 10 && !closed; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(closed, 1);
    capture_reset(&cap);
    finish();
}

Test(dbconn, close_while_connecting_and_disconnect_while_busy)
{
    relay_t mute = {0};
    capture_t cap = {0};
    dbconn_opts_t o;
    dbconn_t *c;
    int closed = 0;

    /* Closing in the middle of a handshake. */
    relay_start(&mute);
    o = opts_for(mute.port);
    c = dbconn_new(&loop, &o);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_ONCE);
    dbconn_close(c, on_closed, &closed);
    cr_assert_eq(cap.calls, 1);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CANCELLED);
    for (int i = 0; i < 10 && !closed; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(closed, 1);
    relay_stop(&mute);

    /* Closing during a host name lookup. */
    capture_reset(&cap);
    o = opts_for(S.port);
    o.host = "localhost";
    c = dbconn_new(&loop, &o);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    uv_run(&loop, UV_RUN_NOWAIT); /* the lookup is handed to the thread pool */
    closed = 0;
    dbconn_close(c, on_closed, &closed);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CANCELLED);
    for (int i = 0; i < 100 && !closed; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(closed, 1);

    /* Disconnect while busy keeps the object; it can connect again. */
    capture_reset(&cap);
    c = connected(S.port);
    cr_assert_eq(dbconn_query(c, "SELECT SLEEP(5)", 0, capture_cb, &cap), 0);
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_ONCE);
    dbconn_disconnect(c);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_CANCELLED);
    cr_assert_eq(dbconn_state(c), DBCONN_CLOSED);
    capture_reset(&cap);
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000));
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    query(c, "SELECT 1", 0, &cap);
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    capture_reset(&cap);
    close_conn(c);
    finish();
}

/* A callback may close its own connection, or start the next operation. */
static void close_from_cb(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    (void)res;
    (void)err;
    dbconn_close(c, on_closed, arg);
}

Test(dbconn, a_callback_may_close_its_connection)
{
    int closed = 0;
    dbconn_t *c = connected(S.port);
    cr_assert_eq(dbconn_query(c, "SELECT 1", 0, close_from_cb, &closed), 0);
    for (int i = 0; i < 200 && !closed; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(closed, 1);
    finish();
}
