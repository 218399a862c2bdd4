/* dbconn_int.h - what the files of one database connection share: the
 * connection itself and the few functions one calls in another (dbconn.c
 * drives the library calls and owns the public API; dbconn_connect.c sets up a
 * connect: lookup, TLS options, the connect on the thread pool;
 * dbconn_error.c describes what failed; dbconn_result.c collects and reads
 * results). Not for use outside them.
 */
#ifndef FAILOVERD_DBCONN_INT_H
#define FAILOVERD_DBCONN_INT_H

#include <mysql.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dbconn.h"

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
    atomic_bool finished; /* set by the worker when its connect returned */
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
    dbconn_idle_cb idle_cb; /* dbconn_watch_idle */
    void *idle_arg;
    bool deadline_looked; /* this operation's socket was looked at once at its deadline */
    bool late_start;      /* dbconn_opts_t */
};

/* dbconn.c: the driver. */
/* End the operation and call its callback (see there). */
void dbconn__complete(dbconn_t *c, const dbconn_error_t *err);
/* Run the current phase until it suspends or the operation completes. */
void dbconn__drive(dbconn_t *c, int ready);
/* A phase's call finished: true to keep driving. */
bool dbconn__advance(dbconn_t *c);
void dbconn__set_phase(dbconn_t *c, phase_t ph);
void dbconn__arm_timer(dbconn_t *c);
/* One of c's libuv handles (or its connect job) is through; frees a closing c
 * after the last. */
void dbconn__handle_closed(dbconn_t *c);
void dbconn__socket_nonblocking(MYSQL *my, const char *endpoint);
char *dbconn__dup_or_null(const char *s);

/* dbconn_connect.c: a connect's first step, from the timer (lookup, or the
 * library's connect on the loop or on the thread pool). */
void dbconn__connect_first_step(dbconn_t *c);
tls_mode_t dbconn__tls_mode_of(const dbconn_t *c);
/* The server offers no TLS though the ssl_mode asks for it: the connect has
 * failed (completed) and true is returned. */
bool dbconn__tls_missing(dbconn_t *c);

/* dbconn_error.c: failures. */
void dbconn__err_set(dbconn_error_t *e, dbconn_errkind_t kind, unsigned code, const char *sqlstate,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void dbconn__fail_mysql(dbconn_t *c, int stmt);
void dbconn__fail_timeout(dbconn_t *c);
void dbconn__cancel(dbconn_t *c);

/* dbconn_result.c: results. */
void dbconn__result_clear(dbconn_result_t *res);
dbconn_rs_t *dbconn__result_push(dbconn_result_t *res);
void dbconn__rs_fill(dbconn_rs_t *rs, MYSQL_RES *r);

#endif
