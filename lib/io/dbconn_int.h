/* dbconn_int.h - what the files of one connection share (dbconn.c drives it,
 * dbconn_connect.c resolves and connects, dbconn_result.c holds the rows).
 * Not for use outside lib/io/dbconn*.c. */
#ifndef FAILOVERD_DBCONN_INT_H
#define FAILOVERD_DBCONN_INT_H

#include <mysql.h>
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

struct dbconn {
    uv_loop_t *loop;
    /* Options, owned copies. */
    char *host, *user, *password, *database, *init_sql;
    tls_cfg_t *tls; /* NULL: preferred, no files */
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
};

/* dbconn.c: the driver. */
void dbc_drive(dbconn_t *c, int ready);
void dbc_complete(dbconn_t *c, const dbconn_error_t *err);
void dbc_set_phase(dbconn_t *c, phase_t ph);
void dbc_arm_timer(dbconn_t *c);
void dbc_err_set(dbconn_error_t *e, dbconn_errkind_t kind, unsigned code, const char *sqlstate,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* dbconn_connect.c: TLS options, name resolution, the connect phase. */
tls_mode_t dbc_tls_mode_of(const dbconn_t *c);
bool dbc_tls_missing(dbconn_t *c);
void dbc_begin_connect(dbconn_t *c);
void dbc_start_resolve(dbconn_t *c);

/* dbconn_result.c: result sets. */
void dbc_result_clear(dbconn_result_t *res);
dbconn_rs_t *dbc_result_push(dbconn_result_t *res);
void dbc_rs_fill(dbconn_rs_t *rs, MYSQL_RES *r);

#endif
