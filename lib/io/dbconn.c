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
 *            pool: see connect_off_loop() in dbconn_connect.c)
 *   query:   real_query -> store_result -> (next_result -> store_result)*
 * dbconn__drive() runs the current phase until it suspends or the operation
 * completes; on_poll() and on_timer() resume it.
 *
 * This file drives the calls and holds the public API; dbconn_connect.c sets
 * up connects, dbconn_error.c describes failures, dbconn_result.c collects and
 * reads results (dbconn_int.h is what they share).
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
#include <mysql.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "dbconn_int.h"
#include "log.h"

char *dbconn__dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ---------------------------------------------------------------- handles */

void dbconn__handle_closed(dbconn_t *c)
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
    dbconn__handle_closed(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    dbconn__handle_closed(h->data);
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

/* ---------------------------------------------------------------- idle watch */

/* While idle and watched, the socket's readability means the server spoke
 * unasked: it hung up (EOF, reset) or has data for us. */
static void watch_idle(dbconn_t *c)
{
    if (!c->idle_cb || !c->my || c->closing)
        return;
    my_socket fd = mysql_get_socket(c->my);
    if (fd == INVALID_SOCKET || poll_on(c, fd, UV_READABLE | UV_DISCONNECT) < 0)
        log_debug("dbconn %s: can't watch the idle connection", c->endpoint);
}

static void idle_event(dbconn_t *c, int status)
{
    my_socket fd = mysql_get_socket(c->my);
    char b;
    ssize_t n = fd == INVALID_SOCKET || status < 0 ? 0 : recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n > 0) { /* for the library to read at the next operation */
        uv_poll_stop(&c->poll->h);
        return;
    }
    log_debug("dbconn %s: the server ended the idle connection (%s)", c->endpoint,
              status < 0 ? uv_strerror(status) : n == 0 ? "end of stream" : strerror(errno));
    drop(c);
    c->idle_cb(c, c->idle_arg);
}

void dbconn_watch_idle(dbconn_t *c, dbconn_idle_cb cb, void *arg)
{
    c->idle_cb = cb;
    c->idle_arg = arg;
    if (c->state != DBCONN_IDLE || c->op != OP_NONE)
        return;
    if (cb)
        watch_idle(c);
    else if (c->poll)
        uv_poll_stop(&c->poll->h);
}

/* ---------------------------------------------------------------- completion */

/* End the operation and call its callback; the last thing every path does, so
 * the callback may start a new operation or close the connection. */
void dbconn__complete(dbconn_t *c, const dbconn_error_t *err)
{
    dbconn_cb cb = c->cb;
    void *arg = c->arg;
    dbconn_result_t res = c->result;
    bool keep = !err || err->kind == DBCONN_ERR_SERVER;

    memset(&c->result, 0, sizeof(c->result));
    if (c->op == OP_CONNECT && !err)
        dbconn__result_clear(&res); /* the results of init_sql are of no interest */
    c->latency_us = (uv_hrtime() - c->t0) / 1000;
    uv_timer_stop(&c->timer);
    if (keep) {
        if (c->poll)
            uv_poll_stop(&c->poll->h);
        watch_idle(c);
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
    dbconn__result_clear(&res);
}

/* ---------------------------------------------------------------- the driver */

void dbconn__set_phase(dbconn_t *c, phase_t ph)
{
    c->phase = ph;
    c->started = false;
}

static void on_timer(uv_timer_t *t);

/* One timer serves both our deadline and Connector/C's own timeouts. */
void dbconn__arm_timer(dbconn_t *c)
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
void dbconn__socket_nonblocking(MYSQL *my, const char *endpoint)
{
    my_socket fd = mysql_get_socket(my);
    int fl;
    if (fd == INVALID_SOCKET)
        return;
    fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        log_warn("dbconn %s: cannot make the socket non-blocking: %s", endpoint, strerror(errno));
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
                dbconn__err_set(&e, DBCONN_ERR_CONNECT, 0, NULL,
                                "connect to %s: cannot watch the socket: %s", c->endpoint,
                                uv_strerror(rc));
            else
                dbconn__err_set(&e, DBCONN_ERR_LOST, 0, NULL, "query: cannot watch the socket: %s",
                                uv_strerror(rc));
            dbconn__complete(c, &e);
            return;
        }
    } else if (c->poll) {
        uv_poll_stop(&c->poll->h);
    }
    dbconn__arm_timer(c);
}

/* A phase's call finished: look at its result, choose the next phase. Returns
 * true to keep driving, false when the operation completed. */
bool dbconn__advance(dbconn_t *c)
{
    switch (c->phase) {
    case PH_CONNECT:
        if (!c->ret_my) {
            dbconn__fail_mysql(c, 0);
            return false;
        }
        dbconn__socket_nonblocking(c->my, c->endpoint);
        if (dbconn__tls_missing(c))
            return false;
        if (c->init_sql && *c->init_sql) {
            c->in_init = true;
            c->sql = xstrdup(c->init_sql);
            c->sql_len = strlen(c->sql);
            dbconn__set_phase(c, PH_QUERY);
            return true;
        }
        dbconn__complete(c, NULL);
        return false;
    case PH_QUERY:
        if (c->ret_int != 0) {
            dbconn__fail_mysql(c, 1);
            return false;
        }
        dbconn__set_phase(c, PH_STORE);
        return true;
    case PH_STORE: {
        MYSQL_RES *r = c->ret_res;
        c->ret_res = NULL;
        /* NULL is either a statement without rows or a failure; after a lost
         * connection field_count reads 0 too, so the errno decides. */
        if (r) {
            dbconn__rs_fill(dbconn__result_push(&c->result), r);
            mysql_free_result(r);
        } else if (mysql_errno(c->my) == 0 && mysql_field_count(c->my) == 0) {
            dbconn_rs_t *rs = dbconn__result_push(&c->result);
            rs->affected_rows = mysql_affected_rows(c->my);
            rs->insert_id = mysql_insert_id(c->my);
            rs->warnings = mysql_warning_count(c->my);
        } else {
            dbconn__fail_mysql(c, (int)c->result.nsets + 1);
            return false;
        }
        if (mysql_more_results(c->my)) {
            dbconn__set_phase(c, PH_NEXT);
            return true;
        }
        dbconn__complete(c, NULL); /* the query, or the connect whose init_sql it was */
        return false;
    }
    case PH_NEXT:
        if (c->ret_int == 0) {
            dbconn__set_phase(c, PH_STORE);
            return true;
        }
        if (c->ret_int < 0) {
            dbconn__complete(c, NULL);
            return false;
        }
        dbconn__fail_mysql(c, (int)c->result.nsets + 1);
        return false;
    default: return false;
    }
}

void dbconn__drive(dbconn_t *c, int ready)
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
        if (!dbconn__advance(c))
            return;
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    dbpoll_t *p = h->data;
    dbconn_t *c = p->c;
    int ready = 0;

    if (c->poll == p && c->state == DBCONN_IDLE && c->op == OP_NONE && c->idle_cb) {
        idle_event(c, status);
        return;
    }
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
    dbconn__drive(c, ready);
}

/* The deadline passed while the operation waited on its socket. The loop
 * runs its timers before it polls for I/O, so after a turn that took long (the
 * daemon waited for the CPU) an answer that came in time can be sitting unread
 * in the socket. Look once, without waiting, before calling it a timeout: the
 * readiness found, 0 for none (or looked already: the deadline stays a bound). */
static int ready_at_deadline(dbconn_t *c)
{
    if (c->deadline_looked || !c->suspended || c->phase == PH_WORKER)
        return 0;
    c->deadline_looked = true;
    my_socket fd = c->my ? mysql_get_socket(c->my) : INVALID_SOCKET;
    struct pollfd pfd = {.fd = fd, .events = 0};
    if (c->wait & MYSQL_WAIT_READ)
        pfd.events |= POLLIN;
    if (c->wait & MYSQL_WAIT_WRITE)
        pfd.events |= POLLOUT;
    if (fd == INVALID_SOCKET || !pfd.events || poll(&pfd, 1, 0) <= 0)
        return 0;
    int ready = 0;
    if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        ready |= c->wait & MYSQL_WAIT_READ;
    if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
        ready |= c->wait & MYSQL_WAIT_WRITE;
    return ready;
}

/* The same for a connect on the thread pool: the worker's result reaches the
 * loop after the timers too. A worker that has returned by the time the loop
 * looks at the deadline is waited for (once, and it is already back). */
static bool worker_back_at_deadline(dbconn_t *c)
{
    if (c->deadline_looked || c->phase != PH_WORKER || !c->job || c->job->abandoned ||
        !atomic_load(&c->job->finished))
        return false;
    c->deadline_looked = true;
    log_debug("dbconn %s: the connect had returned at the deadline", c->endpoint);
    return true;
}

static void on_timer(uv_timer_t *t)
{
    dbconn_t *c = t->data;
    uint64_t now = uv_now(c->loop);

    if (c->op == OP_NONE)
        return;
    if (now >= c->deadline && (!c->kick || !c->late_start)) {
        if (worker_back_at_deadline(c))
            return; /* its result is on the way to job_done, in this turn of the loop */
        int ready = ready_at_deadline(c);
        if (ready) {
            log_debug("dbconn %s: the answer was waiting at the deadline (%llu ms late)",
                      c->endpoint, (unsigned long long)(now - c->deadline));
            dbconn__drive(c, ready);
            return;
        }
        dbconn__fail_timeout(c);
        return;
    }
    if (c->kick) {
        /* The operation starts only now: a loop that came to it late (it
         * waited for the CPU) must not have spent its time. */
        c->kick = false;
        if (c->late_start)
            c->deadline = now + c->timeout_ms;
        if (c->op == OP_CONNECT)
            dbconn__connect_first_step(c);
        else
            dbconn__drive(c, 0);
        return;
    }
    if (c->lib_due && now >= c->lib_due && c->suspended) {
        c->lib_due = 0;
        dbconn__drive(c, MYSQL_WAIT_TIMEOUT);
        return;
    }
    dbconn__arm_timer(c);
}

/* ---------------------------------------------------------------- public API */

dbconn_t *dbconn_new(uv_loop_t *loop, const dbconn_opts_t *o)
{
    dbconn_t *c = xcalloc(1, sizeof(*c));
    buf_t ep = BUF_INIT;

    c->loop = loop;
    c->host = xstrdup(o->host ? o->host : "127.0.0.1");
    c->user = dbconn__dup_or_null(o->user);
    c->password = dbconn__dup_or_null(o->password);
    c->database = dbconn__dup_or_null(o->database);
    c->init_sql = dbconn__dup_or_null(o->init_sql);
    c->tls = tls_cfg_dup(o->tls);
    c->late_start = o->late_start;
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
    c->deadline_looked = false;
    c->lib_due = 0;
    memset(&c->result, 0, sizeof(c->result));
    if (c->poll)
        uv_poll_stop(&c->poll->h); /* the idle watch; the library's waits re-arm it */
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
    dbconn__set_phase(c, PH_QUERY);
    op_begin(c, OP_QUERY, timeout_ms ? timeout_ms : c->query_timeout_ms, cb, arg);
    return 0;
}

void dbconn_disconnect(dbconn_t *c)
{
    if (c->op != OP_NONE)
        dbconn__cancel(c); /* drops the connection */
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

unsigned long dbconn_thread_id(const dbconn_t *c)
{
    return c->my && (c->state == DBCONN_IDLE || c->state == DBCONN_BUSY) ? mysql_thread_id(c->my)
                                                                         : 0;
}
