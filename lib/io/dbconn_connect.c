/* dbconn_connect.c - setting up a connect: the host name looked up on the
 * thread pool, the handle's options (TLS included), and a connect that may
 * speak TLS run as a blocking call on the thread pool; then the loop drives
 * the rest (dbconn.c). Also the process-wide set-up and what a session's TLS
 * is. */
#include <arpa/inet.h>
#include <errmsg.h>
#include <errno.h>
#include <mysql.h>
#include <netdb.h>
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

static void connect_off_loop(dbconn_t *c);

static bool is_numeric_host(const char *h)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1;
}

tls_mode_t dbconn__tls_mode_of(const dbconn_t *c)
{
    return c->tls ? c->tls->mode : TLS_MODE_DISABLED;
}

/* The TLS options of one connect attempt (see dbconn.h). */
static void set_tls(dbconn_t *c)
{
    tls_mode_t mode = dbconn__tls_mode_of(c);
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
bool dbconn__tls_missing(dbconn_t *c)
{
    tls_mode_t mode = dbconn__tls_mode_of(c);
    const char *v = NULL;
    if (mode < TLS_MODE_REQUIRED || mode == TLS_MODE_VERIFY_IDENTITY)
        return false;
    if (mariadb_get_infov(c->my, MARIADB_CONNECTION_TLS_VERSION, &v) == 0 && v && *v)
        return false;
    dbconn_error_t e;
    dbconn__err_set(&e, DBCONN_ERR_CONNECT, CR_SSL_CONNECTION_ERROR, "HY000",
                    "connect to %s: TLS (ssl_mode %s): the server does not offer TLS", c->endpoint,
                    tls_mode_str(mode));
    dbconn__complete(c, &e);
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
    dbconn__set_phase(c, PH_CONNECT);
}

/* Connect to a numeric address: on the loop, or on the thread pool when TLS
 * may be spoken. */
static void connect_to(dbconn_t *c, const char *addr)
{
    c->addr = xstrdup(addr);
    begin_connect(c);
    if (dbconn__tls_mode_of(c) != TLS_MODE_DISABLED)
        connect_off_loop(c);
    else
        dbconn__drive(c, 0);
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
        dbconn__err_set(&e, DBCONN_ERR_RESOLVE, CR_UNKNOWN_HOST, NULL,
                        "connect to %s: cannot resolve host name: %s", c->endpoint,
                        status < 0 ? uv_strerror(status) : "no usable address");
        dbconn__complete(c, &e);
        return;
    }
    uv_freeaddrinfo(ai);
    connect_to(c, host);
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
    dbconn__set_phase(c, PH_RESOLVE);
    rc = uv_getaddrinfo(c->loop, &r->req, on_resolved, c->host, NULL, &hints);
    if (rc < 0) {
        free(r);
        dbconn__err_set(&e, DBCONN_ERR_RESOLVE, CR_UNKNOWN_HOST, NULL,
                        "connect to %s: cannot resolve host name: %s", c->endpoint,
                        uv_strerror(rc));
        dbconn__complete(c, &e);
        return;
    }
    c->resolve = r;
    dbconn__arm_timer(c);
}

/* The connect's first step, from the timer: a name is looked up first; a
 * numeric address is connected to at once, on the loop or, when TLS may be
 * spoken, on the thread pool. */
void dbconn__connect_first_step(dbconn_t *c)
{
    if (!is_numeric_host(c->host)) {
        start_resolve(c);
        return;
    }
    connect_to(c, c->host);
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
    atomic_store(&j->finished, true); /* the loop may be late to hear it: dbconn.c */
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
            dbconn__socket_nonblocking(j->my, c->endpoint);
        mysql_close(j->my);
        job_free(j);
        /* A newer connect waited for this worker to come back. */
        if (c->op == OP_CONNECT && c->phase == PH_WORKER && c->my)
            queue_job(c);
        dbconn__handle_closed(c); /* may free c when it is closing */
        return;
    }
    c->my = j->my;
    c->ret_my = j->ret;
    c->tcp_errno = j->tcp_errno;
    job_free(j);
    dbconn__handle_closed(c); /* not closing: a close would have abandoned the job */
    /* As if mysql_real_connect_cont() had just returned. */
    c->phase = PH_CONNECT;
    c->started = true;
    if (dbconn__advance(c))
        dbconn__drive(c, 0);
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
    j->user = dbconn__dup_or_null(c->user);
    j->password = dbconn__dup_or_null(c->password);
    j->database = dbconn__dup_or_null(c->database);
    j->port = c->port;
    j->timeout_ms = c->connect_timeout_ms;
    j->req.data = j;
    rc = uv_queue_work(c->loop, &j->req, job_work, job_done);
    if (rc < 0) {
        job_free(j);
        dbconn__err_set(&e, DBCONN_ERR_CONNECT, 0, NULL,
                        "connect to %s: cannot start the connect: %s", c->endpoint,
                        uv_strerror(rc));
        dbconn__complete(c, &e);
        return false;
    }
    c->my = NULL; /* the worker's until job_done */
    c->job = j;
    c->open_handles++;
    return true;
}

static void connect_off_loop(dbconn_t *c)
{
    dbconn__set_phase(c, PH_WORKER);
    /* At most one worker per connection: when the previous attempt's worker
     * is still out (abandoned at its deadline), this attempt starts when it
     * is back, within this attempt's own deadline. */
    if (!c->job && !queue_job(c))
        return;
    dbconn__arm_timer(c);
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
    return dbconn_tls_version(c) ? dbconn__tls_mode_of(c) : TLS_MODE_DISABLED;
}
