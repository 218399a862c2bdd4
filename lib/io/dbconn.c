/* dbconn.c - one asynchronous MySQL/MariaDB connection on a libuv loop.
 *
 * How Connector/C's non-blocking API is driven: every call is a pair
 * x_start()/x_cont(). A non-zero return is a set of MYSQL_WAIT_* bits: the call
 * is suspended (on its own small stack inside the library) until the socket is
 * readable/writable or, with MYSQL_WAIT_TIMEOUT, until mysql_get_timeout_value_ms()
 * has passed; x_cont(ready bits) resumes it. A zero return means the call
 * finished and its result is in the out parameter.
 *
 * An operation is a chain of such calls (phases):
 *   connect: [resolve on the thread pool] -> real_connect -> [init_sql as a query]
 *            (with TLS possible, real_connect is a blocking call on the thread
 *            pool: see connect_off_loop())
 *   query:   real_query -> store_result -> (next_result -> store_result)*
 * drive() runs the current phase until it suspends or the operation completes;
 * on_poll() and on_timer() resume it.
 *
 * Closing hard: when our deadline passes (or the caller cancels), the library is
 * suspended in the middle of a call and the server may never answer (it may be
 * SIGSTOPped). mysql_close() on such a handle would run the blocking COM_QUIT
 * path and would abandon the suspended call's allocations. Instead we shut the
 * socket down (every further read returns EOF, every write EPIPE, at once) and
 * resume the call with MYSQL_WAIT_TIMEOUT until it returns its error. After that
 * the handle is consistent and mysql_close() either finds the connection
 * already ended or fails its COM_QUIT write immediately. On an idle connection
 * mysql_close() is polite and cannot block: COM_QUIT is 5 bytes into an empty
 * send buffer.
 */
#include "dbconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <errmsg.h>
#include <inttypes.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#ifndef INVALID_SOCKET
#define INVALID_SOCKET (-1) /* what mysql_get_socket() returns without a socket */
#endif

typedef enum { OP_NONE, OP_CONNECT, OP_QUERY } op_t;

typedef enum {
    PH_NONE,
    PH_RESOLVE, /* uv_getaddrinfo on the thread pool */
    PH_CONNECT, /* mysql_real_connect */
    PH_WORKER,  /* mysql_real_connect, blocking, on the thread pool (TLS) */
    PH_QUERY,   /* mysql_real_query: send, read the first result's header */
    PH_STORE,   /* mysql_store_result: read one result's rows */
    PH_NEXT,    /* mysql_next_result: read the next result's header */
} phase_t;

/* A poll handle belongs to one socket; Connector/C may replace the socket, so
 * poll handles are allocated per socket and freed in their close callback. */
typedef struct {
    uv_poll_t h;
    dbconn_t *c;
    int fd;
} dbpoll_t;

/* A pending lookup. When the connection gives up on it (timeout, cancel) it is
 * detached (c = NULL) and frees itself when the thread pool returns. */
typedef struct {
    uv_getaddrinfo_t req;
    dbconn_t *c;
} resolve_t;

/* A connect that runs on libuv's thread pool (see connect_off_loop()). The
 * worker owns `my` and the strings while it runs; the loop touches none of
 * them until after_work. When the connection gives up on it (timeout, cancel,
 * close) it is abandoned: the loop closes the late handle when it comes back.
 * A dbconn has at most one job, late or not, and is not freed before its job
 * is back (it counts as an open handle). */
typedef struct {
    uv_work_t req;
    dbconn_t *c;
    MYSQL *my;
    char *addr, *user, *password, *database;
    unsigned port;
    MYSQL *ret; /* mysql_real_connect's result: my, or NULL on failure */
    unsigned timeout_ms;
    int tcp_errno;  /* why the TCP connect failed, when the library lost it */
    bool abandoned; /* the connection gave up on it */
} conn_job_t;

struct dbconn {
    uv_loop_t *loop;
    /* Options, owned copies. */
    char *host, *user, *password, *database, *init_sql;
    tls_cfg_t *tls; /* NULL: ssl_mode disabled */
    unsigned port, connect_timeout_ms, query_timeout_ms;
    char *endpoint;

    dbconn_state_t state;
    bool closing; /* dbconn_close() was called */
    dbconn_close_cb close_cb;
    void *close_arg;
    unsigned open_handles; /* libuv handles not yet through their close callback */

    MYSQL *my;
    uv_timer_t timer;
    dbpoll_t *poll;
    resolve_t *resolve;
    char *addr; /* the numeric address connected to */

    /* The operation in flight. */
    op_t op;
    phase_t phase;
    bool in_init;   /* the query phases run init_sql as part of a connect */
    bool started;   /* the phase's _start was called */
    bool suspended; /* Connector/C holds a suspended call */
    bool kick;      /* the first step runs from the timer, never inside the API call */
    int wait;       /* MYSQL_WAIT_* bits of the suspended call */
    unsigned timeout_ms;
    uint64_t deadline; /* loop time (ms) */
    uint64_t lib_due;  /* loop time at which Connector/C's own wait times out; 0: none */
    uint64_t t0;       /* uv_hrtime() at the start */
    char *sql;
    size_t sql_len;
    dbconn_cb cb;
    void *arg;
    dbconn_result_t result;
    MYSQL *ret_my;
    int ret_int;
    MYSQL_RES *ret_res;

    uint64_t latency_us;
    conn_job_t *job; /* the connect on the thread pool, in flight or late; NULL: none */
    int tcp_errno;   /* the worker's tcp_errno for the connect that failed */
};

static void drive(dbconn_t *c, int ready);
static void drop(dbconn_t *c);
static void begin_connect(dbconn_t *c);
static tls_mode_t tls_mode_of(const dbconn_t *c);
static bool tls_missing(dbconn_t *c);
static void connect_off_loop(dbconn_t *c);

/* ---------------------------------------------------------------- helpers */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static bool is_numeric_host(const char *h)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1;
}

static void err_set(dbconn_error_t *e, dbconn_errkind_t kind, unsigned code, const char *sqlstate,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void err_set(dbconn_error_t *e, dbconn_errkind_t kind, unsigned code, const char *sqlstate,
                    const char *fmt, ...)
{
    va_list ap;
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->code = code;
    if (sqlstate)
        snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", sqlstate);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

/* Connector/C ends "can't connect" messages with the OS errno in parentheses,
 * "(111)"; operators read "(111: Connection refused)" faster. */
static void errno_text(const char *msg, char *out, size_t outlen)
{
    const char *open = strrchr(msg, '(');
    size_t n = strlen(msg);
    char *end;
    long e;

    snprintf(out, outlen, "%s", msg);
    if (!open || n < 3 || msg[n - 1] != ')')
        return;
    e = strtol(open + 1, &end, 10);
    if (end != msg + n - 1 || e <= 0 || end == open + 1)
        return;
    snprintf(out, outlen, "%.*s(%ld: %s)", (int)(open - msg), msg, e, strerror((int)e));
}

static bool is_client_error(unsigned code)
{
    return (code >= 2000 && code <= 2999) || (code >= 5000 && code <= 5999);
}

/* Server errors after which the server closes the connection. */
static bool is_closing_server_error(const dbconn_t *c, unsigned code)
{
    if (code == ER_CONNECTION_KILLED || code == ER_SERVER_SHUTDOWN)
        return true;
    /* MySQL's ER_CLIENT_INTERACTION_TIMEOUT (wait_timeout expired); MariaDB
     * uses 4031 for an unrelated statement error. */
    if (code == 4031) {
        const char *v = mysql_get_server_info(c->my);
        return v && !strstr(v, "MariaDB");
    }
    return false;
}

/* ---------------------------------------------------------------- results */

static void rs_free(dbconn_rs_t *rs)
{
    for (size_t i = 0; i < rs->ncols; i++)
        free(rs->cols[i]);
    for (size_t i = 0; i < rs->nrows * rs->ncols; i++)
        free(rs->vals[i]);
    free(rs->cols);
    free(rs->vals);
    free(rs->lens);
    memset(rs, 0, sizeof(*rs));
}

static void result_clear(dbconn_result_t *res)
{
    for (size_t i = 0; i < res->nsets; i++)
        rs_free(&res->sets[i]);
    free(res->sets);
    res->sets = NULL;
    res->nsets = 0;
}

void dbconn_result_free(dbconn_result_t *res)
{
    if (!res)
        return;
    result_clear(res);
    free(res);
}

dbconn_result_t *dbconn_result_move(dbconn_result_t *res)
{
    dbconn_result_t *r = xcalloc(1, sizeof(*r));
    *r = *res;
    res->sets = NULL;
    res->nsets = 0;
    return r;
}

const dbconn_rs_t *dbconn_result_set(const dbconn_result_t *res, size_t i)
{
    return res && i < res->nsets ? &res->sets[i] : NULL;
}

static dbconn_rs_t *result_push(dbconn_result_t *res)
{
    res->sets = xrealloc(res->sets, (res->nsets + 1) * sizeof(*res->sets));
    memset(&res->sets[res->nsets], 0, sizeof(*res->sets));
    return &res->sets[res->nsets++];
}

/* A stored result is entirely in memory: fetching its rows does no I/O. */
static void rs_fill(dbconn_rs_t *rs, MYSQL_RES *r)
{
    unsigned nf = mysql_num_fields(r);
    MYSQL_FIELD *f = mysql_fetch_fields(r);
    size_t nr = (size_t)mysql_num_rows(r), i = 0, n;
    MYSQL_ROW row;

    rs->has_rows = true;
    rs->ncols = nf;
    rs->cols = xcalloc(nf ? nf : 1, sizeof(char *));
    for (unsigned j = 0; j < nf; j++)
        rs->cols[j] = xstrdup(f[j].name ? f[j].name : "");
    n = nr * nf;
    rs->vals = xcalloc(n ? n : 1, sizeof(char *));
    rs->lens = xcalloc(n ? n : 1, sizeof(size_t));
    while (i < nr && (row = mysql_fetch_row(r))) {
        unsigned long *lens = mysql_fetch_lengths(r);
        for (unsigned j = 0; j < nf; j++) {
            size_t k = i * nf + j;
            if (!row[j])
                continue;
            rs->vals[k] = xmalloc(lens[j] + 1);
            memcpy(rs->vals[k], row[j], lens[j]);
            rs->vals[k][lens[j]] = '\0';
            rs->lens[k] = lens[j];
        }
        i++;
    }
    rs->nrows = i;
}

int dbconn_rs_col(const dbconn_rs_t *rs, const char *name)
{
    if (!rs || !name)
        return -1;
    for (size_t j = 0; j < rs->ncols; j++)
        if (strcasecmp(rs->cols[j], name) == 0)
            return (int)j;
    return -1;
}

const char *dbconn_rs_value(const dbconn_rs_t *rs, size_t row, size_t col)
{
    if (!rs || row >= rs->nrows || col >= rs->ncols)
        return NULL;
    return rs->vals[row * rs->ncols + col];
}

static dbconn_val_t lookup(const dbconn_rs_t *rs, size_t row, const char *col, const char **v)
{
    int j = dbconn_rs_col(rs, col);
    *v = NULL;
    if (j < 0 || row >= rs->nrows)
        return DBCONN_VAL_MISSING;
    *v = rs->vals[row * rs->ncols + (size_t)j];
    return *v ? DBCONN_VAL_OK : DBCONN_VAL_NULL;
}

const char *dbconn_rs_str(const dbconn_rs_t *rs, size_t row, const char *col)
{
    const char *v;
    lookup(rs, row, col, &v);
    return v;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

dbconn_val_t dbconn_rs_int(const dbconn_rs_t *rs, size_t row, const char *col, int64_t *out)
{
    const char *v;
    dbconn_val_t r = lookup(rs, row, col, &v);
    if (r != DBCONN_VAL_OK)
        return r;
    return parse_i64(v, out) ? DBCONN_VAL_OK : DBCONN_VAL_BAD;
}

dbconn_val_t dbconn_rs_uint(const dbconn_rs_t *rs, size_t row, const char *col, uint64_t *out)
{
    const char *v;
    char *end;
    unsigned long long u;
    dbconn_val_t r = lookup(rs, row, col, &v);
    if (r != DBCONN_VAL_OK)
        return r;
    if (*v < '0' || *v > '9') /* strtoull would accept "-1" */
        return DBCONN_VAL_BAD;
    errno = 0;
    u = strtoull(v, &end, 10);
    if (errno || *end)
        return DBCONN_VAL_BAD;
    *out = u;
    return DBCONN_VAL_OK;
}

dbconn_val_t dbconn_rs_bool(const dbconn_rs_t *rs, size_t row, const char *col, bool *out)
{
    static const struct {
        const char *word;
        bool val;
    } words[] = {{"ON", true},  {"OFF", false}, {"YES", true},
                 {"NO", false}, {"TRUE", true}, {"FALSE", false}};
    const char *v;
    int64_t i;
    dbconn_val_t r = lookup(rs, row, col, &v);
    if (r != DBCONN_VAL_OK)
        return r;
    if (parse_i64(v, &i)) {
        *out = i != 0;
        return DBCONN_VAL_OK;
    }
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if (strcasecmp(v, words[k].word) == 0) {
            *out = words[k].val;
            return DBCONN_VAL_OK;
        }
    return DBCONN_VAL_BAD;
}

/* ---------------------------------------------------------------- handles */

static void handle_closed(dbconn_t *c)
{
    c->open_handles--;
    if (c->closing && c->open_handles == 0) {
        dbconn_close_cb cb = c->close_cb;
        void *arg = c->close_arg;
        free(c->host);
        free(c->user);
        free(c->password);
        free(c->database);
        free(c->init_sql);
        tls_cfg_free(c->tls);
        free(c->endpoint);
        free(c);
        if (cb)
            cb(arg);
    }
}

static void on_poll_closed(uv_handle_t *h)
{
    dbpoll_t *p = h->data;
    dbconn_t *c = p->c;
    free(p);
    handle_closed(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* Close the poll handle before Connector/C closes its socket (libuv must not
 * watch a descriptor number that may be reused). */
static void poll_drop(dbconn_t *c)
{
    if (!c->poll)
        return;
    uv_close((uv_handle_t *)&c->poll->h, on_poll_closed);
    c->poll = NULL;
}

static void on_poll(uv_poll_t *h, int status, int events);

static int poll_on(dbconn_t *c, int fd, int uv_events)
{
    int rc;
    if (c->poll && c->poll->fd != fd)
        poll_drop(c);
    if (!c->poll) {
        dbpoll_t *p = xcalloc(1, sizeof(*p));
        rc = uv_poll_init(c->loop, &p->h, fd);
        if (rc < 0) {
            free(p);
            return rc;
        }
        p->h.data = p;
        p->c = c;
        p->fd = fd;
        c->poll = p;
        c->open_handles++;
    }
    return uv_poll_start(&c->poll->h, uv_events, on_poll);
}

/* ---------------------------------------------------------------- the library calls */

/* Start or resume the current phase's call; returns Connector/C's wait bits. */
static int step(dbconn_t *c, int ready)
{
    bool cont = c->started;
    /* OpenSSL decides what a failed SSL_read/SSL_write means from this
     * thread's error queue, which must be empty before the call; Connector/C
     * does not empty it. A stale entry (e.g. from another session's TLS
     * shutdown on this thread) turns a read that would merely block on a
     * non-blocking socket into a lost connection. */
    ERR_clear_error();
    c->started = true;
    switch (c->phase) {
    case PH_CONNECT:
        if (cont)
            return mysql_real_connect_cont(&c->ret_my, c->my, ready);
        return mysql_real_connect_start(&c->ret_my, c->my, c->addr, c->user, c->password,
                                        c->database, c->port, NULL, CLIENT_MULTI_STATEMENTS);
    case PH_QUERY:
        if (cont)
            return mysql_real_query_cont(&c->ret_int, c->my, ready);
        return mysql_real_query_start(&c->ret_int, c->my, c->sql, (unsigned long)c->sql_len);
    case PH_STORE:
        if (cont)
            return mysql_store_result_cont(&c->ret_res, c->my, ready);
        return mysql_store_result_start(&c->ret_res, c->my);
    case PH_NEXT:
        if (cont)
            return mysql_next_result_cont(&c->ret_int, c->my, ready);
        return mysql_next_result_start(&c->ret_int, c->my);
    default: return 0;
    }
}

/* Make a suspended library call return (see the comment at the top). */
static void unwind(dbconn_t *c)
{
    my_socket fd;
    if (!c->suspended)
        return;
    fd = mysql_get_socket(c->my);
    if (fd != INVALID_SOCKET)
        shutdown(fd, SHUT_RDWR);
    for (int i = 0; i < 16 && c->suspended; i++)
        if (step(c, MYSQL_WAIT_TIMEOUT) == 0)
            c->suspended = false;
    if (c->phase == PH_STORE && c->ret_res) {
        mysql_free_result(c->ret_res);
        c->ret_res = NULL;
    }
    if (c->suspended) {
        /* Never seen; leaking the handle is better than freeing a stack the
         * library still runs on. */
        log_error("dbconn %s: Connector/C did not finish its interrupted call; handle leaked",
                  c->endpoint);
        c->my = NULL;
        c->suspended = false;
    }
}

/* Close the server connection, whatever state it is in. */
static void drop(dbconn_t *c)
{
    poll_drop(c);
    if (c->resolve) {
        c->resolve->c = NULL;
        uv_cancel((uv_req_t *)&c->resolve->req);
        c->resolve = NULL;
    }
    if (c->job)
        c->job->abandoned = true; /* closed when it comes back (job_done) */
    if (c->my) {
        unwind(c);
        if (c->my)
            mysql_close(c->my);
        c->my = NULL;
    }
    free(c->addr);
    c->addr = NULL;
    c->state = DBCONN_CLOSED;
}

/* ---------------------------------------------------------------- completion */

/* End the operation and call its callback; the last thing every path does, so
 * the callback may start a new operation or close the connection. */
static void complete(dbconn_t *c, const dbconn_error_t *err)
{
    dbconn_cb cb = c->cb;
    void *arg = c->arg;
    dbconn_result_t res = c->result;
    bool keep = !err || err->kind == DBCONN_ERR_SERVER;

    memset(&c->result, 0, sizeof(c->result));
    if (c->op == OP_CONNECT && !err)
        result_clear(&res); /* the results of init_sql are of no interest */
    c->latency_us = (uv_hrtime() - c->t0) / 1000;
    uv_timer_stop(&c->timer);
    if (keep) {
        if (c->poll)
            uv_poll_stop(&c->poll->h);
    } else {
        drop(c); /* before the fields below: unwind() still needs the phase */
    }
    c->op = OP_NONE;
    c->phase = PH_NONE;
    c->in_init = c->started = c->suspended = c->kick = false;
    c->tcp_errno = 0;
    c->lib_due = 0;
    c->wait = 0;
    free(c->sql);
    c->sql = NULL;
    c->cb = NULL;
    c->arg = NULL;
    if (keep)
        c->state = DBCONN_IDLE;
    if (cb)
        cb(c, &res, err, arg);
    result_clear(&res);
}

static const char *op_name(const dbconn_t *c)
{
    return c->op == OP_CONNECT ? "connect" : "query";
}

/* A library call failed: describe it precisely. stmt is the 1-based result
 * index for query phases, 0 for the connect itself. */
static void fail_mysql(dbconn_t *c, int stmt)
{
    unsigned code = mysql_errno(c->my);
    const char *msg = mysql_error(c->my);
    const char *state = mysql_sqlstate(c->my);
    dbconn_error_t e;
    char text[400];

    if (!msg || !*msg)
        msg = "unknown error";
    if (c->op == OP_CONNECT && c->in_init) {
        err_set(&e, DBCONN_ERR_CONNECT, code, state,
                "connect to %s: session setup failed: statement %d: ERROR %u (%s): %s", c->endpoint,
                stmt, code, state ? state : "", msg);
    } else if (c->op == OP_CONNECT && code == CR_SSL_CONNECTION_ERROR) {
        /* Say it is TLS, and under which ssl_mode: a certificate that does
         * not verify reads very differently from a refused password. */
        err_set(&e, DBCONN_ERR_CONNECT, code, state, "connect to %s: TLS (ssl_mode %s): %s",
                c->endpoint, tls_mode_str(tls_mode_of(c)), msg);
    } else if (c->op == OP_CONNECT) {
        char fixed[400];
        const char *open = strrchr(msg, '(');
        if (c->tcp_errno > 0 && open) { /* see tcp_connect_errno() */
            snprintf(fixed, sizeof(fixed), "%.*s(%d)", (int)(open - msg), msg, c->tcp_errno);
            msg = fixed;
        }
        errno_text(msg, text, sizeof(text));
        err_set(&e, DBCONN_ERR_CONNECT, code, state, "connect to %s: %s", c->endpoint, text);
    } else if (code == CR_SERVER_LOST || code == CR_SERVER_GONE_ERROR ||
               code == CR_SERVER_LOST_EXTENDED || is_closing_server_error(c, code)) {
        err_set(&e, DBCONN_ERR_LOST, code, state,
                "server closed the connection during query: %s (%u)", msg, code);
    } else if (code == 0 || is_client_error(code)) {
        err_set(&e, DBCONN_ERR_LOST, code, state, "connection failed during query: %s (%u)", msg,
                code);
    } else {
        err_set(&e, DBCONN_ERR_SERVER, code, state, "statement %d: ERROR %u (%s): %s", stmt, code,
                state ? state : "", msg);
        e.stmt = stmt;
    }
    complete(c, &e);
}

static void fail_timeout(dbconn_t *c)
{
    dbconn_error_t e;
    const char *where = "during query";
    if (c->op == OP_CONNECT) {
        if (c->phase == PH_RESOLVE)
            where = "resolving the host name";
        else if (c->in_init)
            where = "during session setup";
        else if (c->phase == PH_WORKER)
            where = "connecting (TCP, TLS handshake, login)";
        else if (c->phase == PH_CONNECT && (c->wait & MYSQL_WAIT_WRITE))
            where = "waiting for the TCP connection";
        else
            where = "waiting for the server handshake";
        err_set(&e, DBCONN_ERR_TIMEOUT, 0, NULL, "connect to %s: timeout after %u ms %s",
                c->endpoint, c->timeout_ms, where);
    } else {
        err_set(&e, DBCONN_ERR_TIMEOUT, 0, NULL, "timeout after %u ms %s", c->timeout_ms, where);
    }
    complete(c, &e);
}

static void cancel(dbconn_t *c)
{
    dbconn_error_t e;
    err_set(&e, DBCONN_ERR_CANCELLED, 0, NULL, "cancelled: the connection was closed during %s",
            op_name(c));
    complete(c, &e);
}

/* ---------------------------------------------------------------- the driver */

static void set_phase(dbconn_t *c, phase_t ph)
{
    c->phase = ph;
    c->started = false;
}

static void on_timer(uv_timer_t *t);

/* One timer serves both our deadline and Connector/C's own timeouts. */
static void arm_timer(dbconn_t *c)
{
    uint64_t now = uv_now(c->loop), due = c->deadline;
    if (c->lib_due && c->lib_due < due)
        due = c->lib_due;
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

/* Connector/C leaves a connected socket in blocking mode, with no receive
 * timeout (it clears it once logged in). Plain reads under the
 * non-blocking API pass MSG_DONTWAIT and do not care, but over TLS the
 * library calls SSL_read() on the socket and only yields when it would
 * block: on a blocking socket a query's first read would hold the loop
 * until the server answered. Connector/C keeps its own idea of the mode and
 * only sets blocking mode again for blocking API calls (mysql_close's
 * COM_QUIT), which do not mind a non-blocking socket. */
static void socket_nonblocking(MYSQL *my, const char *endpoint)
{
    my_socket fd = mysql_get_socket(my);
    int fl;
    if (fd == INVALID_SOCKET)
        return;
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        log_warn("dbconn %s: cannot make the socket non-blocking: %s", endpoint,
                 strerror(errno));
}

static void wait_for(dbconn_t *c, int status)
{
    int ev = 0, rc;
    dbconn_error_t e;

    c->wait = status;
    c->lib_due = 0;
    if (status & MYSQL_WAIT_TIMEOUT)
        c->lib_due = uv_now(c->loop) + mysql_get_timeout_value_ms(c->my);
    if (status & MYSQL_WAIT_READ)
        ev |= UV_READABLE;
    if (status & MYSQL_WAIT_WRITE)
        ev |= UV_WRITABLE;
    if (status & MYSQL_WAIT_EXCEPT)
        ev |= UV_PRIORITIZED;
    if (ev) {
        my_socket fd = mysql_get_socket(c->my);
        rc = fd == INVALID_SOCKET ? UV_EBADF : poll_on(c, fd, ev);
        if (rc < 0) {
            if (c->op == OP_CONNECT)
                err_set(&e, DBCONN_ERR_CONNECT, 0, NULL,
                        "connect to %s: cannot watch the socket: %s", c->endpoint, uv_strerror(rc));
            else
                err_set(&e, DBCONN_ERR_LOST, 0, NULL, "query: cannot watch the socket: %s",
                        uv_strerror(rc));
            complete(c, &e);
            return;
        }
    } else if (c->poll) {
        uv_poll_stop(&c->poll->h);
    }
    arm_timer(c);
}

/* A phase's call finished: look at its result, choose the next phase. Returns
 * true to keep driving, false when the operation completed. */
static bool advance(dbconn_t *c)
{
    switch (c->phase) {
    case PH_CONNECT:
        if (!c->ret_my) {
            fail_mysql(c, 0);
            return false;
        }
        socket_nonblocking(c->my, c->endpoint);
        if (tls_missing(c))
            return false;
        if (c->init_sql && *c->init_sql) {
            c->in_init = true;
            c->sql = xstrdup(c->init_sql);
            c->sql_len = strlen(c->sql);
            set_phase(c, PH_QUERY);
            return true;
        }
        complete(c, NULL);
        return false;
    case PH_QUERY:
        if (c->ret_int != 0) {
            fail_mysql(c, 1);
            return false;
        }
        set_phase(c, PH_STORE);
        return true;
    case PH_STORE: {
        MYSQL_RES *r = c->ret_res;
        c->ret_res = NULL;
        /* NULL is either a statement without rows or a failure; after a lost
         * connection field_count reads 0 too, so the errno decides. */
        if (r) {
            rs_fill(result_push(&c->result), r);
            mysql_free_result(r);
        } else if (mysql_errno(c->my) == 0 && mysql_field_count(c->my) == 0) {
            dbconn_rs_t *rs = result_push(&c->result);
            rs->affected_rows = mysql_affected_rows(c->my);
            rs->insert_id = mysql_insert_id(c->my);
            rs->warnings = mysql_warning_count(c->my);
        } else {
            fail_mysql(c, (int)c->result.nsets + 1);
            return false;
        }
        if (mysql_more_results(c->my)) {
            set_phase(c, PH_NEXT);
            return true;
        }
        complete(c, NULL); /* the query, or the connect whose init_sql it was */
        return false;
    }
    case PH_NEXT:
        if (c->ret_int == 0) {
            set_phase(c, PH_STORE);
            return true;
        }
        if (c->ret_int < 0) {
            complete(c, NULL);
            return false;
        }
        fail_mysql(c, (int)c->result.nsets + 1);
        return false;
    default: return false;
    }
}

static void drive(dbconn_t *c, int ready)
{
    for (;;) {
        int status = step(c, ready);
        ready = 0;
        if (status != 0) {
            c->suspended = true;
            wait_for(c, status);
            return;
        }
        c->suspended = false;
        c->wait = 0;
        if (!advance(c))
            return;
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    dbpoll_t *p = h->data;
    dbconn_t *c = p->c;
    int ready = 0;

    if (c->poll != p || !c->suspended)
        return;
    if (status < 0) {
        /* Let the library's own read or write find the error. */
        ready = c->wait & (MYSQL_WAIT_READ | MYSQL_WAIT_WRITE | MYSQL_WAIT_EXCEPT);
    } else {
        if (events & (UV_READABLE | UV_DISCONNECT))
            ready |= MYSQL_WAIT_READ;
        if (events & UV_WRITABLE)
            ready |= MYSQL_WAIT_WRITE;
        if (events & UV_PRIORITIZED)
            ready |= MYSQL_WAIT_EXCEPT;
    }
    drive(c, ready);
}

static tls_mode_t tls_mode_of(const dbconn_t *c)
{
    return c->tls ? c->tls->mode : TLS_MODE_DISABLED;
}

/* The TLS options of one connect attempt (see dbconn.h). */
static void set_tls(dbconn_t *c)
{
    tls_mode_t mode = tls_mode_of(c);
    const tls_cfg_t *t = c->tls;
    my_bool on = 1;
    if (mode == TLS_MODE_DISABLED || !t)
        return;
    /* The connect runs as one blocking call on the thread pool (see
     * connect_off_loop): the library's own connect timeout, in whole
     * seconds, bounds each of its waits. */
    unsigned secs = (c->connect_timeout_ms + 999) / 1000;
    mysql_options(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(c->my, MYSQL_OPT_SSL_ENFORCE, &on);
    if (mode >= TLS_MODE_VERIFY_CA) {
        if (t->ca)
            mysql_options(c->my, MYSQL_OPT_SSL_CA, t->ca);
        if (t->capath)
            mysql_options(c->my, MYSQL_OPT_SSL_CAPATH, t->capath);
    }
    if (mode == TLS_MODE_VERIFY_IDENTITY)
        mysql_options(c->my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    if (t->cert)
        mysql_options(c->my, MYSQL_OPT_SSL_CERT, t->cert);
    if (t->key)
        mysql_options(c->my, MYSQL_OPT_SSL_KEY, t->key);
    if (t->cipher)
        mysql_options(c->my, MYSQL_OPT_SSL_CIPHER, t->cipher);
    const char *versions = tls_version_list(t->version);
    if (versions)
        mysql_options(c->my, MARIADB_OPT_TLS_VERSION, versions);
}

/* Connector/C 3.3 goes on in plain TCP with a server that offers no TLS
 * unless it is to verify the server's name: required and verify_ca are held
 * to their word here, after the handshake and before any statement. */
static bool tls_missing(dbconn_t *c)
{
    tls_mode_t mode = tls_mode_of(c);
    const char *v = NULL;
    if (mode < TLS_MODE_REQUIRED || mode == TLS_MODE_VERIFY_IDENTITY)
        return false;
    if (mariadb_get_infov(c->my, MARIADB_CONNECTION_TLS_VERSION, &v) == 0 && v && *v)
        return false;
    dbconn_error_t e;
    err_set(&e, DBCONN_ERR_CONNECT, CR_SSL_CONNECTION_ERROR, "HY000",
            "connect to %s: TLS (ssl_mode %s): the server does not offer TLS", c->endpoint,
            tls_mode_str(mode));
    complete(c, &e);
    return true;
}

static void begin_connect(dbconn_t *c)
{
    unsigned int proto = MYSQL_PROTOCOL_TCP;
    my_bool off = 0;
    unsigned int zero = 0;

    c->my = mysql_init(NULL);
    if (!c->my) {
        log_error("dbconn %s: mysql_init failed: out of memory", c->endpoint);
        abort();
    }
    mysql_options(c->my, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(c->my, MYSQL_OPT_PROTOCOL, &proto);
    /* A silent reconnect would lose the session state init_sql set up. */
    mysql_options(c->my, MYSQL_OPT_RECONNECT, &off);
    mysql_options(c->my, MYSQL_OPT_LOCAL_INFILE, &zero);
    mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    set_tls(c);
    set_phase(c, PH_CONNECT);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    resolve_t *r = req->data;
    dbconn_t *c = r->c;
    char host[NI_MAXHOST];
    dbconn_error_t e;

    free(r);
    if (!c) { /* given up on: timeout or cancel */
        uv_freeaddrinfo(ai);
        return;
    }
    c->resolve = NULL;
    if (status < 0 || !ai ||
        getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST)) {
        uv_freeaddrinfo(ai);
        err_set(&e, DBCONN_ERR_RESOLVE, CR_UNKNOWN_HOST, NULL,
                "connect to %s: cannot resolve host name: %s", c->endpoint,
                status < 0 ? uv_strerror(status) : "no usable address");
        complete(c, &e);
        return;
    }
    uv_freeaddrinfo(ai);
    c->addr = xstrdup(host);
    begin_connect(c);
    if (tls_mode_of(c) != TLS_MODE_DISABLED)
        connect_off_loop(c);
    else
        drive(c, 0);
}

static void start_resolve(dbconn_t *c)
{
    struct addrinfo hints;
    resolve_t *r = xcalloc(1, sizeof(*r));
    dbconn_error_t e;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_ADDRCONFIG;
    r->c = c;
    r->req.data = r;
    set_phase(c, PH_RESOLVE);
    rc = uv_getaddrinfo(c->loop, &r->req, on_resolved, c->host, NULL, &hints);
    if (rc < 0) {
        free(r);
        err_set(&e, DBCONN_ERR_RESOLVE, CR_UNKNOWN_HOST, NULL,
                "connect to %s: cannot resolve host name: %s", c->endpoint, uv_strerror(rc));
        complete(c, &e);
        return;
    }
    c->resolve = r;
    arm_timer(c);
}

static void on_timer(uv_timer_t *t)
{
    dbconn_t *c = t->data;
    uint64_t now = uv_now(c->loop);

    if (c->op == OP_NONE)
        return;
    if (now >= c->deadline) {
        fail_timeout(c);
        return;
    }
    if (c->kick) {
        c->kick = false;
        if (c->op == OP_CONNECT && !is_numeric_host(c->host)) {
            start_resolve(c);
            return;
        }
        if (c->op == OP_CONNECT) {
            c->addr = xstrdup(c->host);
            begin_connect(c);
            if (tls_mode_of(c) != TLS_MODE_DISABLED) {
                connect_off_loop(c);
                return;
            }
        }
        drive(c, 0);
        return;
    }
    if (c->lib_due && now >= c->lib_due && c->suspended) {
        c->lib_due = 0;
        drive(c, MYSQL_WAIT_TIMEOUT);
        return;
    }
    arm_timer(c);
}

/* ---------------------------------------------------------------- connects off the loop
 *
 * Connector/C 3.3 runs a TLS handshake, and the login after it, inside one
 * mysql_real_connect_start() call on a blocking socket, whatever the
 * non-blocking API promises: on the loop that would hold everything else for
 * the round trips (tens of ms on a loaded machine) or, against a server that
 * stops answering mid-handshake, until the library's own timeout. So a
 * connect that may speak TLS runs the plain blocking mysql_real_connect() on
 * libuv's thread pool, then the loop takes the handle back and drives
 * init_sql and every query with the non-blocking API as usual.
 *
 * Why that is sound (Connector/C 3.3's source): mysql_init() and the
 * library's one-time set-up are guarded by pthread_once (and called early by
 * dbconn_process_init anyway); MYSQL_OPT_NONBLOCK, set before the connect,
 * only allocates the handle's async context, and the library takes its
 * non-blocking path only while a _start/_cont call is active, so the blocking
 * connect in the worker is an ordinary one; the socket ends in the same mode
 * either way, and afterwards the handle accepts _start/_cont calls exactly as
 * one connected by mysql_real_connect_start(). One thread uses the handle at
 * a time: the worker until it returns, then the loop (libuv's work queue
 * orders the two).
 *
 * The worker is bounded by the library's connect timeout (set_tls: the
 * connect timeout in whole seconds, which the library applies to the TCP
 * connect and to every read and write until the login is done). Our own
 * deadline does not wait for it: when it passes the connect fails on the
 * loop with a timeout, and the worker's late handle is closed when it comes
 * back. */

/* Connector/C 3.3's blocking TCP connect reports a refused or unreachable
 * server with the errno its non-blocking connect() left behind, "(115)"
 * (EINPROGRESS), instead of the socket's error. Learn the real one by trying
 * once more, in the worker, within the connect timeout; 0 if that does not
 * tell. */
static int tcp_connect_errno(const char *addr, unsigned port, unsigned timeout_ms)
{
    struct addrinfo hints, *ai = NULL;
    char service[16];
    int fd, err = 0;
    socklen_t len = sizeof(err);

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", port);
    if (getaddrinfo(addr, service, &hints, &ai) != 0 || !ai)
        return 0;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            err = errno;
            if (err == EINPROGRESS) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                err = 0;
                if (poll(&pfd, 1, (int)timeout_ms) == 1 &&
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                    err = 0;
            }
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return err;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

static void job_work(uv_work_t *req)
{
    conn_job_t *j = req->data;
    ERR_clear_error(); /* see step() */
    j->ret = mysql_real_connect(j->my, j->addr, j->user, j->password, j->database, j->port, NULL,
                                CLIENT_MULTI_STATEMENTS);
    if (!j->ret &&
        (mysql_errno(j->my) == CR_CONNECTION_ERROR || mysql_errno(j->my) == CR_CONN_HOST_ERROR) &&
        ends_with(mysql_error(j->my), "(115)"))
        j->tcp_errno = tcp_connect_errno(j->addr, j->port, j->timeout_ms);
}

static void job_free(conn_job_t *j)
{
    free(j->addr);
    free(j->user);
    free(j->password);
    free(j->database);
    free(j);
}

static bool queue_job(dbconn_t *c);

static void job_done(uv_work_t *req, int status)
{
    conn_job_t *j = req->data;
    dbconn_t *c = j->c;

    (void)status; /* never cancelled: a job that did not run has ret NULL */
    c->job = NULL;
    if (j->abandoned) {
        /* Connected late, or failed: either way nobody waits for it. On a
         * fresh connection mysql_close() sends COM_QUIT and TLS's
         * close_notify into an empty socket buffer; on a non-blocking socket
         * it does not wait for the server's close_notify either. */
        if (j->ret)
            socket_nonblocking(j->my, c->endpoint);
        mysql_close(j->my);
        job_free(j);
        /* A newer connect waited for this worker to come back. */
        if (c->op == OP_CONNECT && c->phase == PH_WORKER && c->my)
            queue_job(c);
        handle_closed(c); /* may free c when it is closing */
        return;
    }
    c->my = j->my;
    c->ret_my = j->ret;
    c->tcp_errno = j->tcp_errno;
    job_free(j);
    handle_closed(c); /* not closing: a close would have abandoned the job */
    /* As if mysql_real_connect_cont() had just returned. */
    c->phase = PH_CONNECT;
    c->started = true;
    if (advance(c))
        drive(c, 0);
}

/* Hand c->my to a worker; false when that failed (the operation completed). */
static bool queue_job(dbconn_t *c)
{
    conn_job_t *j = xcalloc(1, sizeof(*j));
    dbconn_error_t e;
    int rc;

    j->c = c;
    j->my = c->my;
    j->addr = xstrdup(c->addr);
    j->user = dup_or_null(c->user);
    j->password = dup_or_null(c->password);
    j->database = dup_or_null(c->database);
    j->port = c->port;
    j->timeout_ms = c->connect_timeout_ms;
    j->req.data = j;
    rc = uv_queue_work(c->loop, &j->req, job_work, job_done);
    if (rc < 0) {
        job_free(j);
        err_set(&e, DBCONN_ERR_CONNECT, 0, NULL, "connect to %s: cannot start the connect: %s",
                c->endpoint, uv_strerror(rc));
        complete(c, &e);
        return false;
    }
    c->my = NULL; /* the worker's until job_done */
    c->job = j;
    c->open_handles++;
    return true;
}

static void connect_off_loop(dbconn_t *c)
{
    set_phase(c, PH_WORKER);
    /* At most one worker per connection: when the previous attempt's worker
     * is still out (abandoned at its deadline), this attempt starts when it
     * is back, within this attempt's own deadline. */
    if (!c->job && !queue_job(c))
        return;
    arm_timer(c);
}

/* ---------------------------------------------------------------- public API */

dbconn_t *dbconn_new(uv_loop_t *loop, const dbconn_opts_t *o)
{
    dbconn_t *c = xcalloc(1, sizeof(*c));
    buf_t ep = BUF_INIT;

    c->loop = loop;
    c->host = xstrdup(o->host ? o->host : "127.0.0.1");
    c->user = dup_or_null(o->user);
    c->password = dup_or_null(o->password);
    c->database = dup_or_null(o->database);
    c->init_sql = dup_or_null(o->init_sql);
    c->tls = tls_cfg_dup(o->tls);
    c->port = o->port ? o->port : DBCONN_DEFAULT_PORT;
    c->connect_timeout_ms =
        o->connect_timeout_ms ? o->connect_timeout_ms : DBCONN_DEFAULT_CONNECT_TIMEOUT_MS;
    c->query_timeout_ms =
        o->query_timeout_ms ? o->query_timeout_ms : DBCONN_DEFAULT_QUERY_TIMEOUT_MS;
    if (strchr(c->host, ':'))
        buf_printf(&ep, "[%s]:%u", c->host, c->port);
    else
        buf_printf(&ep, "%s:%u", c->host, c->port);
    c->endpoint = buf_steal(&ep);
    c->state = DBCONN_CLOSED;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    return c;
}

static void op_begin(dbconn_t *c, op_t op, unsigned timeout_ms, dbconn_cb cb, void *arg)
{
    c->op = op;
    c->cb = cb;
    c->arg = arg;
    c->timeout_ms = timeout_ms;
    c->t0 = uv_hrtime();
    uv_update_time(c->loop);
    c->deadline = uv_now(c->loop) + timeout_ms;
    c->kick = true;
    c->lib_due = 0;
    memset(&c->result, 0, sizeof(c->result));
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

int dbconn_connect(dbconn_t *c, dbconn_cb cb, void *arg)
{
    if (c->closing) {
        log_error("dbconn %s: connect after close", c->endpoint);
        return -ESHUTDOWN;
    }
    if (c->state == DBCONN_IDLE) {
        log_error("dbconn %s: connect while connected", c->endpoint);
        return -EISCONN;
    }
    if (c->state != DBCONN_CLOSED) {
        log_error("dbconn %s: connect while %s", c->endpoint, dbconn_state_str(c->state));
        return -EBUSY;
    }
    c->state = DBCONN_CONNECTING;
    op_begin(c, OP_CONNECT, c->connect_timeout_ms, cb, arg);
    return 0;
}

int dbconn_query(dbconn_t *c, const char *sql, unsigned timeout_ms, dbconn_cb cb, void *arg)
{
    if (c->closing) {
        log_error("dbconn %s: query after close", c->endpoint);
        return -ESHUTDOWN;
    }
    if (!sql || !*sql) {
        log_error("dbconn %s: empty query", c->endpoint);
        return -EINVAL;
    }
    if (c->state == DBCONN_BUSY) {
        log_error("dbconn %s: query while another query runs", c->endpoint);
        return -EBUSY;
    }
    if (c->state != DBCONN_IDLE) {
        log_error("dbconn %s: query while %s", c->endpoint, dbconn_state_str(c->state));
        return -ENOTCONN;
    }
    c->state = DBCONN_BUSY;
    c->sql = xstrdup(sql);
    c->sql_len = strlen(sql);
    set_phase(c, PH_QUERY);
    op_begin(c, OP_QUERY, timeout_ms ? timeout_ms : c->query_timeout_ms, cb, arg);
    return 0;
}

void dbconn_disconnect(dbconn_t *c)
{
    if (c->op != OP_NONE)
        cancel(c); /* drops the connection */
    else
        drop(c);
}

void dbconn_close(dbconn_t *c, dbconn_close_cb cb, void *arg)
{
    if (c->closing) {
        log_error("dbconn %s: closed twice", c->endpoint);
        return;
    }
    c->closing = true;
    c->close_cb = cb;
    c->close_arg = arg;
    dbconn_disconnect(c);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

dbconn_state_t dbconn_state(const dbconn_t *c)
{
    return c->state;
}

const char *dbconn_state_str(dbconn_state_t s)
{
    switch (s) {
    case DBCONN_CLOSED: return "closed";
    case DBCONN_CONNECTING: return "connecting";
    case DBCONN_IDLE: return "idle";
    case DBCONN_BUSY: return "busy";
    }
    return "?";
}

const char *dbconn_errkind_str(dbconn_errkind_t k)
{
    switch (k) {
    case DBCONN_ERR_NONE: return "none";
    case DBCONN_ERR_RESOLVE: return "resolve";
    case DBCONN_ERR_CONNECT: return "connect";
    case DBCONN_ERR_TIMEOUT: return "timeout";
    case DBCONN_ERR_LOST: return "lost";
    case DBCONN_ERR_SERVER: return "server";
    case DBCONN_ERR_CANCELLED: return "cancelled";
    }
    return "?";
}

const char *dbconn_endpoint(const dbconn_t *c)
{
    return c->endpoint;
}

uint64_t dbconn_last_latency_us(const dbconn_t *c)
{
    return c->latency_us;
}

const char *dbconn_server_version(const dbconn_t *c)
{
    return c->my && (c->state == DBCONN_IDLE || c->state == DBCONN_BUSY)
               ? mysql_get_server_info(c->my)
               : NULL;
}

unsigned long dbconn_server_version_num(const dbconn_t *c)
{
    return c->my && (c->state == DBCONN_IDLE || c->state == DBCONN_BUSY)
               ? mysql_get_server_version(c->my)
               : 0;
}

void dbconn_process_init(void)
{
    setenv("SSL_CERT_FILE", "/dev/null", 0);
    /* Connects that may speak TLS run on libuv's thread pool (see
     * connect_off_loop), at most one per connection; a node that stops
     * answering holds a worker up to a few connect timeouts. libuv's default
     * of 4 threads, shared with host name lookups, is too few for a cluster
     * whose nodes hang together. Read once, when the pool first starts. */
    setenv("UV_THREADPOOL_SIZE", "16", 0);
    /* The library's one-time set-up, before any thread can race to do it. */
    if (mysql_library_init(0, NULL, NULL) != 0) {
        log_error("dbconn: cannot initialise the MySQL client library");
        abort();
    }
}

const char *dbconn_tls_version(const dbconn_t *c)
{
    const char *v = NULL;
    if (!c->my || (c->state != DBCONN_IDLE && c->state != DBCONN_BUSY))
        return NULL;
    if (mariadb_get_infov(c->my, MARIADB_CONNECTION_TLS_VERSION, &v) != 0)
        return NULL;
    return v && *v ? v : NULL;
}

tls_mode_t dbconn_tls_mode(const dbconn_t *c)
{
    return dbconn_tls_version(c) ? tls_mode_of(c) : TLS_MODE_DISABLED;
}

unsigned long dbconn_thread_id(const dbconn_t *c)
{
    return c->my && (c->state == DBCONN_IDLE || c->state == DBCONN_BUSY) ? mysql_thread_id(c->my)
                                                                         : 0;
}
