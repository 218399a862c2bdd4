/* dbconn.h - one asynchronous MySQL/MariaDB client connection on a libuv loop.
 *
 * Built on MariaDB Connector/C's non-blocking API: the library's suspended calls
 * are resumed from a uv_poll_t on the socket and a uv_timer_t, so nothing here
 * ever blocks the loop. It is the base of the prober (a kept-open connection per
 * node, one short query every few hundred ms) and of the failover executor (SQL
 * steps with timeouts).
 *
 * Rules of use:
 * - One operation at a time: dbconn_connect() or dbconn_query(). Starting a
 *   second one while the first runs is a programming error and returns -EBUSY.
 * - Every operation has a deadline enforced by our own timer. When it passes the
 *   connection is closed hard (the server may hang forever, e.g. when it is
 *   SIGSTOPped) and the callback gets DBCONN_ERR_TIMEOUT.
 * - The callback of an operation runs exactly once, always from the loop (never
 *   from inside the call that started it), except that dbconn_disconnect() and
 *   dbconn_close() call it synchronously with DBCONN_ERR_CANCELLED.
 * - After any error except DBCONN_ERR_SERVER (a statement failed) the connection
 *   is closed (state DBCONN_CLOSED); dbconn_connect() may be called again.
 * - Host names are resolved on libuv's thread pool, then Connector/C is given the
 *   numeric address, because its own resolver blocks.
 * - A connect that may speak TLS runs on libuv's thread pool too (opts.tls).
 */
#ifndef FAILOVERD_DBCONN_H
#define FAILOVERD_DBCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "tls.h"

#define DBCONN_DEFAULT_PORT 3306
#define DBCONN_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DBCONN_DEFAULT_QUERY_TIMEOUT_MS 2000

typedef struct dbconn dbconn_t;

typedef enum {
    DBCONN_CLOSED,     /* no server connection */
    DBCONN_CONNECTING, /* dbconn_connect() in progress (lookup, handshake, session setup) */
    DBCONN_IDLE,       /* connected, ready for a query */
    DBCONN_BUSY,       /* a query is running */
} dbconn_state_t;

typedef enum {
    DBCONN_ERR_NONE = 0,
    DBCONN_ERR_RESOLVE,   /* the host name could not be resolved */
    DBCONN_ERR_CONNECT,   /* refused, access denied, handshake or session setup failed */
    DBCONN_ERR_TIMEOUT,   /* the operation's deadline passed */
    DBCONN_ERR_LOST,      /* the server closed the connection, or sent something unreadable */
    DBCONN_ERR_SERVER,    /* a statement failed; the connection stays usable */
    DBCONN_ERR_CANCELLED, /* the caller disconnected or closed while the operation ran */
} dbconn_errkind_t;

typedef struct {
    dbconn_errkind_t kind;
    /* The server's (ER_*: below 2000, 3000-4999) or the client library's
     * (CR_*: 2000-2999, 5000-5999) errno; 0 for our own timeout and cancel. */
    unsigned code;
    char sqlstate[6]; /* as Connector/C reports it ("HY000" for its own errors); "" for ours */
    int stmt;         /* DBCONN_ERR_SERVER: 1-based index of the result that failed; else 0 */
    char msg[512];    /* e.g. "connect to 10.0.0.1:3306: Access denied for user ..." */
    /* DBCONN_ERR_CONNECT: why the TCP connect failed (ECONNREFUSED: the host
     * answered, nothing listens on the port), when the OS said; else 0. */
    int os_errno;
} dbconn_error_t;

/* One result of a (multi-statement) query: a row set, or the OK of a statement
 * that returns no rows (then ncols == 0 and affected_rows is set). */
typedef struct {
    bool has_rows; /* the statement returned a row set (possibly empty) */
    size_t ncols;
    char **cols; /* column names (aliases) */
    size_t nrows;
    char **vals;            /* vals[row * ncols + col], NUL-terminated; NULL is SQL NULL */
    size_t *lens;           /* byte length of each value (values may hold NUL bytes) */
    uint64_t affected_rows; /* statements without rows */
    uint64_t insert_id;
    unsigned warnings;
} dbconn_rs_t;

typedef struct {
    size_t nsets;
    dbconn_rs_t *sets; /* in statement order */
} dbconn_result_t;

/* res is never NULL (empty for dbconn_connect) and is freed when the callback
 * returns, unless moved out with dbconn_result_move(). err is NULL on success.
 * On DBCONN_ERR_SERVER, res holds the results of the statements before the
 * failing one. */
typedef void (*dbconn_cb)(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg);
typedef void (*dbconn_close_cb)(void *arg);

typedef struct {
    const char *host; /* name, IPv4 or IPv6 address */
    unsigned port;    /* 0: 3306 */
    const char *user;
    const char *password;        /* NULL: none */
    const char *database;        /* NULL: none */
    unsigned connect_timeout_ms; /* whole connect: lookup, handshake, init_sql; 0: default */
    unsigned query_timeout_ms;   /* for dbconn_query(..., 0, ...); 0: default */
    /* An operation the loop comes to only after its deadline (the daemon
     * waited for the CPU, or was stopped) gets its whole time from when it
     * really starts: for reads such as probes, whose late start says nothing
     * about the server. Off (the default), such an operation is not started
     * at all and ends as timed out: a statement that changes a server must
     * never go out after the bound its caller gave it (a leader's step is
     * bounded by its lease, docs/ha.md). */
    bool late_start;
    /* Run after every connect, within the connect's deadline, e.g.
     * "SET SESSION sql_mode='', wait_timeout=60"; may hold several statements.
     * If it fails the connect fails. NULL: none. */
    const char *init_sql;
    /* TLS settings (tls.h), copied; NULL is ssl_mode disabled.
     * What Connector/C 3.3 does with them (checked against the lab's
     * servers): asked for TLS (MYSQL_OPT_SSL_ENFORCE) it uses TLS when the
     * server offers it and goes on in plain TCP when not -- which is
     * preferred.  It checks the certificate chain whenever it is given a CA,
     * so required gives none; verify_ca gives the CA; verify_identity also
     * sets MYSQL_OPT_SSL_VERIFY_SERVER_CERT, which checks the certificate
     * against the address connected to (the numeric address, see above) and
     * refuses a server without TLS.  required and verify_ca with a server that
     * offers no TLS fail right after the handshake, before any statement.
     *
     * Connector/C 3.3 runs the TLS handshake (and the login after it) inside
     * one call on a blocking socket, even under its non-blocking API. So
     * with any mode but disabled the connect (TCP, TLS, login) runs as a
     * blocking mysql_real_connect() on libuv's thread pool, bounded by the
     * library's connect timeout (this connect's timeout in whole seconds, per
     * wait); init_sql and the queries then run on the loop as usual. The
     * connect's own deadline still holds: when it passes the connect fails
     * with DBCONN_ERR_TIMEOUT and the worker's late handle is closed when it
     * comes back. A connection has at most one such worker; dbconn_close()'s
     * callback waits for it. */
    const tls_cfg_t *tls;
} dbconn_opts_t;

/* Once per process, before any thread runs (the daemon calls it first
 * thing): initialises the client library, sizes libuv's thread pool
 * (UV_THREADPOOL_SIZE 16 unless the environment sets it), and trims TLS
 * set-up. Connector/C 3.3 loads OpenSSL's default CA store -- the whole
 * system bundle, some 30 ms of CPU -- into a fresh context at every TLS
 * connect it is not given a CA for (preferred, required) and then does
 * not use it, since those modes verify nothing. Pointing
 * OpenSSL's default store at nothing (SSL_CERT_FILE=/dev/null, unless the
 * environment already sets it) makes such a connect cost about 3 ms.
 * failoverd's verifying modes always name their CA, and libcurl is built
 * with its own bundle, so nothing of failoverd relies on the default store;
 * hooks get a clean environment, commands that plugins spawn inherit it. */
void dbconn_process_init(void);

/* A closed connection; opts (and the strings it points to) are copied. */
dbconn_t *dbconn_new(uv_loop_t *loop, const dbconn_opts_t *opts);

/* Connect. Returns 0 (cb will run), -EISCONN when connected, -EBUSY when an
 * operation runs, -ESHUTDOWN after dbconn_close(). */
int dbconn_connect(dbconn_t *c, dbconn_cb cb, void *arg);

/* Run sql (one or several statements) and collect every result. timeout_ms 0
 * uses opts.query_timeout_ms. Returns 0 (cb will run), -ENOTCONN when closed or
 * connecting, -EBUSY when a query runs, -EINVAL for a NULL or empty sql,
 * -ESHUTDOWN after dbconn_close(). */
int dbconn_query(dbconn_t *c, const char *sql, unsigned timeout_ms, dbconn_cb cb, void *arg);

/* Drop the server connection (state DBCONN_CLOSED); an operation in flight gets
 * its callback with DBCONN_ERR_CANCELLED before this returns. */
void dbconn_disconnect(dbconn_t *c);

/* Disconnect and free c. cb(arg) runs from the loop once every libuv handle of
 * c is closed; only then is c's memory released. Don't use c after this call
 * (except from the cancelled operation's callback, where calls fail). */
void dbconn_close(dbconn_t *c, dbconn_close_cb cb, void *arg);

/* Watch the connection while it is idle: when the server ends it (its
 * process died, the host reset it), the connection is closed at once (state
 * DBCONN_CLOSED) and cb runs from the loop, instead of the next query finding
 * out. Data the server sends unasked (an error packet before it hangs up, TLS
 * records) is left to the next operation and ends the watch until then.
 * cb NULL stops watching. */
typedef void (*dbconn_idle_cb)(dbconn_t *c, void *arg);
void dbconn_watch_idle(dbconn_t *c, dbconn_idle_cb cb, void *arg);

dbconn_state_t dbconn_state(const dbconn_t *c);
const char *dbconn_state_str(dbconn_state_t s);
const char *dbconn_errkind_str(dbconn_errkind_t k);
/* "host:port" as given, "[v6addr]:port" for IPv6 addresses. */
const char *dbconn_endpoint(const dbconn_t *c);
/* Duration of the last finished operation (success or not), in microseconds:
 * for a one-statement query on a kept-open connection, the round-trip time. */
uint64_t dbconn_last_latency_us(const dbconn_t *c);
/* Of the current connection (NULL / 0 when not connected). */
const char *dbconn_server_version(const dbconn_t *c);       /* e.g. "10.11.6-MariaDB-log" */
unsigned long dbconn_server_version_num(const dbconn_t *c); /* e.g. 101106 */
unsigned long dbconn_thread_id(const dbconn_t *c);          /* the server's connection id */
/* The protocol of the current session's TLS ("TLSv1.3"), NULL for plain TCP
 * or when not connected. */
const char *dbconn_tls_version(const dbconn_t *c);
/* What was verified of the current session's server certificate: the ssl_mode
 * (verify_ca, verify_identity) it was made with; TLS_MODE_DISABLED when the
 * session is plain. */
tls_mode_t dbconn_tls_mode(const dbconn_t *c);

/* Results. */
dbconn_result_t *dbconn_result_move(dbconn_result_t *res); /* take it out of a callback */
void dbconn_result_free(dbconn_result_t *res);             /* of a moved result; NULL-safe */
const dbconn_rs_t *dbconn_result_set(const dbconn_result_t *res, size_t i); /* NULL past the end */

/* A value lookup says why there is no value (a NULL is not a missing column). */
typedef enum {
    DBCONN_VAL_OK,
    DBCONN_VAL_NULL,    /* SQL NULL */
    DBCONN_VAL_MISSING, /* no such column or row */
    DBCONN_VAL_BAD,     /* not a number / not a boolean */
} dbconn_val_t;

/* Index of a column by name, case-insensitively; -1 if none. */
int dbconn_rs_col(const dbconn_rs_t *rs, const char *name);
/* The value by index; NULL for SQL NULL or out of range. */
const char *dbconn_rs_value(const dbconn_rs_t *rs, size_t row, size_t col);
/* The value by column name; NULL for SQL NULL or no such column/row. */
const char *dbconn_rs_str(const dbconn_rs_t *rs, size_t row, const char *col);
/* Decimal integers, whole value. */
dbconn_val_t dbconn_rs_int(const dbconn_rs_t *rs, size_t row, const char *col, int64_t *out);
dbconn_val_t dbconn_rs_uint(const dbconn_rs_t *rs, size_t row, const char *col, uint64_t *out);
/* 1/0 (any integer: non-zero is true), ON/OFF, YES/NO, TRUE/FALSE, any case. */
dbconn_val_t dbconn_rs_bool(const dbconn_rs_t *rs, size_t row, const char *col, bool *out);

#endif
