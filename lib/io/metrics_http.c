/* metrics_http.c - see metrics_http.h. */
#include "metrics_http.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"

/* A scraper that stops reading is cut off after this long (seconds). */
#define METRICS_HTTP_TIMEOUT_S 10
/* Connections served at once; more wait in the listen queue. */
#define METRICS_HTTP_MAX_CONNECTIONS 32

struct metrics_http {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    metrics_http_handlers_t h;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             buf_t *body)
{
    size_t len = body->len;
    char *text = buf_steal(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    metrics_http_t *m = cls;
    (void)version;
    (void)upload_data;
    (void)con_cls;
    buf_t body = BUF_INIT;
    if (*upload_data_size) {
        *upload_data_size = 0; /* a body is read and ignored; the answer follows */
        return MHD_YES;
    }
    bool known = !strcmp(url, "/metrics") || !strcmp(url, "/health");
    if (!known) {
        buf_puts(&body, "not found: failoverd serves /metrics and /health\n");
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", &body);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        buf_puts(&body, "method not allowed: use GET\n");
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", &body);
    }
    if (!strcmp(url, "/metrics")) {
        m->h.render(&body, m->h.ud);
        return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &body);
    }
    bool ok = m->h.health(&body, m->h.ud);
    return reply(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                 &body);
}

static void on_timer(uv_timer_t *t);

/* Runs what is ready, then arms the timer for MHD's next deadline. */
static void drive(metrics_http_t *m)
{
    MHD_run(m->mhd);
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(m->mhd, &ms) == MHD_YES)
        uv_timer_start(&m->timer, on_timer, ms, 0);
    else
        uv_timer_stop(&m->timer);
}

static void on_timer(uv_timer_t *t)
{
    drive(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    drive(p->data);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_debug("metrics listener: %s", msg);
}

metrics_http_t *metrics_http_start(uv_loop_t *loop, const char *listen,
                                   const metrics_http_handlers_t *h, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    char why[256];
    if (!metrics_parse_listen(listen, &sa, why, sizeof why)) {
        snprintf(err, errlen, "metrics_listen \"%s\" %s", listen, why);
        return NULL;
    }
    metrics_http_t *m = xcalloc(1, sizeof *m);
    m->loop = loop;
    m->h = *h;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)METRICS_HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                              (unsigned)METRICS_HTTP_MAX_CONNECTIONS, MHD_OPTION_EXTERNAL_LOGGER,
                              log_mhd, NULL, MHD_OPTION_END);
    if (!m->mhd) {
        snprintf(err, errlen,
                 "metrics_listen \"%s\": cannot listen there (in use, or not an "
                 "address of this host)",
                 listen);
        free(m);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || uv_poll_init(loop, &m->poll, info->epoll_fd) != 0) {
        snprintf(err, errlen, "metrics_listen \"%s\": cannot watch the listener on the loop",
                 listen);
        MHD_stop_daemon(m->mhd);
        free(m);
        return NULL;
    }
    uv_timer_init(loop, &m->timer);
    m->poll.data = m->timer.data = m;
    m->open_handles = 2;
    uv_poll_start(&m->poll, UV_READABLE, on_poll);
    log_info("metrics served on http://%s/metrics", listen);
    return m;
}

static void on_closed(uv_handle_t *hd)
{
    metrics_http_t *m = hd->data;
    if (--m->open_handles == 0)
        free(m);
}

void metrics_http_close(metrics_http_t *m)
{
    if (!m)
        return;
    /* The poll handle lets go of MHD's epoll descriptor before MHD closes it. */
    uv_close((uv_handle_t *)&m->poll, on_closed);
    uv_close((uv_handle_t *)&m->timer, on_closed);
    MHD_stop_daemon(m->mhd);
    m->mhd = NULL;
}
