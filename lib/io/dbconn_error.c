/* dbconn_error.c - what failed, said precisely: the error of a library
 * call sorted into the kinds of dbconn.h (connect, lost, server, ...) with
 * the server's or the library's code and text, our own timeouts and cancels,
 * and the names of states and kinds. */
#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbconn_int.h"

void dbconn__err_set(dbconn_error_t *e, dbconn_errkind_t kind, unsigned code, const char *sqlstate,
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

/* The OS errno at the end of a "can't connect" message, "(111)"; 0 when none. */
static int os_errno_of(const char *msg)
{
    const char *open = strrchr(msg, '(');
    size_t n = strlen(msg);
    char *end;
    if (!open || n < 3 || msg[n - 1] != ')')
        return 0;
    long e = strtol(open + 1, &end, 10);
    return end == msg + n - 1 && end != open + 1 && e > 0 && e < 4096 ? (int)e : 0;
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

static const char *op_name(const dbconn_t *c)
{
    return c->op == OP_CONNECT ? "connect" : "query";
}

/* A library call failed: describe it precisely. stmt is the 1-based result
 * index for query phases, 0 for the connect itself. */
void dbconn__fail_mysql(dbconn_t *c, int stmt)
{
    unsigned code = mysql_errno(c->my);
    const char *msg = mysql_error(c->my);
    const char *state = mysql_sqlstate(c->my);
    dbconn_error_t e;
    char text[400];

    if (!msg || !*msg)
        msg = "unknown error";
    if (c->op == OP_CONNECT && c->in_init) {
        dbconn__err_set(&e, DBCONN_ERR_CONNECT, code, state,
                        "connect to %s: session setup failed: statement %d: ERROR %u (%s): %s",
                        c->endpoint, stmt, code, state ? state : "", msg);
    } else if (c->op == OP_CONNECT && code == CR_SSL_CONNECTION_ERROR) {
        /* Say it is TLS, and under which ssl_mode: a certificate that does
         * not verify reads very differently from a refused password. */
        dbconn__err_set(&e, DBCONN_ERR_CONNECT, code, state, "connect to %s: TLS (ssl_mode %s): %s",
                        c->endpoint, tls_mode_str(dbconn__tls_mode_of(c)), msg);
    } else if (c->op == OP_CONNECT) {
        char fixed[400];
        const char *open = strrchr(msg, '(');
        if (c->tcp_errno > 0 && open) { /* see tcp_connect_errno() */
            snprintf(fixed, sizeof(fixed), "%.*s(%d)", (int)(open - msg), msg, c->tcp_errno);
            msg = fixed;
        }
        errno_text(msg, text, sizeof(text));
        dbconn__err_set(&e, DBCONN_ERR_CONNECT, code, state, "connect to %s: %s", c->endpoint,
                        text);
        if (code == CR_CONN_HOST_ERROR || code == CR_CONNECTION_ERROR)
            e.os_errno = os_errno_of(msg);
    } else if (code == CR_SERVER_LOST || code == CR_SERVER_GONE_ERROR ||
               code == CR_SERVER_LOST_EXTENDED || is_closing_server_error(c, code)) {
        dbconn__err_set(&e, DBCONN_ERR_LOST, code, state,
                        "server closed the connection during query: %s (%u)", msg, code);
    } else if (code == 0 || is_client_error(code)) {
        dbconn__err_set(&e, DBCONN_ERR_LOST, code, state, "connection failed during query: %s (%u)",
                        msg, code);
    } else {
        dbconn__err_set(&e, DBCONN_ERR_SERVER, code, state, "statement %d: ERROR %u (%s): %s", stmt,
                        code, state ? state : "", msg);
        e.stmt = stmt;
    }
    dbconn__complete(c, &e);
}

void dbconn__fail_timeout(dbconn_t *c)
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
        dbconn__err_set(&e, DBCONN_ERR_TIMEOUT, 0, NULL, "connect to %s: timeout after %u ms %s",
                        c->endpoint, c->timeout_ms, where);
    } else {
        dbconn__err_set(&e, DBCONN_ERR_TIMEOUT, 0, NULL, "timeout after %u ms %s", c->timeout_ms,
                        where);
    }
    dbconn__complete(c, &e);
}

void dbconn__cancel(dbconn_t *c)
{
    dbconn_error_t e;
    dbconn__err_set(&e, DBCONN_ERR_CANCELLED, 0, NULL,
                    "cancelled: the connection was closed during %s", op_name(c));
    dbconn__complete(c, &e);
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
