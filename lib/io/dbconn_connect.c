/* dbconn_connect.c - the start of a connect: the TLS options of the attempt,
 * the name lookup on the thread pool, the Connector/C handle (see dbconn.h). */
#include <errmsg.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "dbconn_int.h"
#include "log.h"

tls_mode_t dbc_tls_mode_of(const dbconn_t *c)
{
    return c->tls ? c->tls->mode : TLS_MODE_DISABLED;
}

/* The TLS options of one connect attempt (see dbconn.h). */
static void set_tls(dbconn_t *c)
{
    tls_mode_t mode = dbc_tls_mode_of(c);
    const tls_cfg_t *t = c->tls;
    my_bool on = 1;
    if (mode == TLS_MODE_DISABLED || !t)
        return;
    /* The handshake runs as one blocking call (dbconn.h): bound it by the
     * library's own connect timeout, in whole seconds. */
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
bool dbc_tls_missing(dbconn_t *c)
{
    tls_mode_t mode = dbc_tls_mode_of(c);
    const char *v = NULL;
    if (mode < TLS_MODE_REQUIRED || mode == TLS_MODE_VERIFY_IDENTITY)
        return false;
    if (mariadb_get_infov(c->my, MARIADB_CONNECTION_TLS_VERSION, &v) == 0 && v && *v)
        return false;
    dbconn_error_t e;
    dbc_err_set(&e, DBCONN_ERR_CONNECT, CR_SSL_CONNECTION_ERROR, "HY000",
            "connect to %s: TLS (ssl_mode %s): the server does not offer TLS", c->endpoint,
            tls_mode_str(mode));
    dbc_complete(c, &e);
    return true;
}

void dbc_begin_connect(dbconn_t *c)
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
    dbc_set_phase(c, PH_CONNECT);
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
        dbc_err_set(&e, DBCONN_ERR_RESOLVE, CR_UNKNOWN_HOST, NULL,
                "connect to %s: cannot resolve host name: %s", c->endpoint,
                status < 0 ? uv_strerror(status) : "no usable address");
        dbc_complete(c, &e);
        return;
    }
    uv_freeaddrinfo(ai);
    c->addr = xstrdup(host);
    dbc_begin_connect(c);
    dbc_drive(c, 0);
}

void dbc_start_resolve(dbconn_t *c)
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
    dbc_set_phase(c, PH_RESOLVE);
    rc = uv_getaddrinfo(c->loop, &r->req, on_resolved, c->host, NULL, &hints);
    if (rc < 0) {
        free(r);
        dbc_err_set(&e, DBCONN_ERR_RESOLVE, CR_UNKNOWN_HOST, NULL,
                "connect to %s: cannot resolve host name: %s", c->endpoint, uv_strerror(rc));
        dbc_complete(c, &e);
        return;
    }
    c->resolve = r;
    dbc_arm_timer(c);
}

