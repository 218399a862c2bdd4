/* etcd.c - see etcd.h: the requests on the loop. */
#include "etcd.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "curlloop.h"
#include "log.h"

typedef struct req {
    struct req *next;
    etcd_t *e;
    CURL *easy;
    const char *path; /* "/v3/kv/range" */
    char *body;
    etcd_rkind_t kind;
    etcd_cb cb;
    void *ud;
    buf_t resp;
    size_t tries; /* endpoints tried */
    char errbuf[CURL_ERROR_SIZE];
    struct etcd_watch *watch; /* a watch's stream */
} req_t;

struct etcd_watch {
    req_t *req;
    etcd_watch_cb cb;
    void *ud;
    bool ended;   /* END was reported */
    bool in_cb;   /* inside cb, from curl's write callback */
    bool cancelled;
};

struct etcd {
    uv_loop_t *loop;
    curlloop_t *cl;
    char **eps;
    size_t n_eps;
    size_t cur; /* the endpoint tried first */
    char *ca, *cert, *key;
    uint64_t timeout_ms;
    req_t *reqs;
    req_t *queued; /* to start from the next loop turn */
    uv_timer_t kick;
    int open; /* the curlloop and the kick timer, until closed */
    struct curl_slist *headers;
    bool closing;
};

static void start(req_t *r);
static void launch(req_t *r);

static void unlink_req(etcd_t *e, req_t *r)
{
    for (req_t **pp = &e->reqs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

static void free_req(req_t *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    buf_free(&r->resp);
    free(r->body);
    free(r->watch);
    free(r);
}

/* ---- watch streams ------------------------------------------------------------ */

static void watch_event(void *ud, const etcd_wevent_t *ev)
{
    struct etcd_watch *w = ud;
    if (w->cancelled || w->ended)
        return;
    if (ev->kind == ETCD_W_END)
        w->ended = true;
    w->in_cb = true;
    w->cb(w->ud, ev);
    w->in_cb = false;
}

static void watch_end(struct etcd_watch *w, const char *why)
{
    etcd_wevent_t ev = {.kind = ETCD_W_END};
    snprintf(ev.err, sizeof ev.err, "%.250s", why);
    watch_event(w, &ev);
}

/* Lines of the stream, each one JSON object; false stops the transfer. */
static bool watch_lines(req_t *r)
{
    struct etcd_watch *w = r->watch;
    char *nl;
    while (!w->cancelled && !w->ended && (nl = memchr(r->resp.data, '\n', r->resp.len))) {
        size_t n = (size_t)(nl - r->resp.data);
        char why[200];
        if (n > 0 && !etcd_parse_watch(r->resp.data, n, watch_event, w, why, sizeof why)) {
            char msg[256];
            snprintf(msg, sizeof msg, "malformed watch message: %.200s", why);
            watch_end(w, msg);
        }
        memmove(r->resp.data, nl + 1, r->resp.len - n - 1);
        r->resp.len -= n + 1;
        r->resp.data[r->resp.len] = '\0';
    }
    return !w->cancelled && !w->ended;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    req_t *r = ud;
    size_t len = size * n;
    if (r->resp.len + len > (r->watch ? 4u << 20 : 16u << 20))
        return 0; /* more than any answer we ask for */
    buf_append(&r->resp, p, len);
    if (r->watch && !watch_lines(r))
        return 0;
    return len;
}

/* ---- unary requests -------------------------------------------------------------- */

static bool connect_error(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SEND_ERROR;
}

/* What went wrong with a transfer, for an error message.  etcd demanding a
 * client certificate (--client-cert-auth) ends a TLS 1.3 session right after
 * the handshake, and libcurl then fails sending or receiving: its message is
 * about the socket (or only the first of several notes, such as getpeername's),
 * so say what it most likely means, then libcurl's words; likewise for a
 * server certificate that does not verify. */
static void transfer_error(const req_t *r, CURLcode rc, char *out, size_t n)
{
    const char *curl = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    curl_off_t tls_done = 0;
    if ((rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR) &&
        curl_easy_getinfo(r->easy, CURLINFO_APPCONNECT_TIME_T, &tls_done) == CURLE_OK &&
        tls_done > 0) {
        if (*r->e->cert)
            snprintf(out, n, "TLS session ended unanswered: etcd may not accept the client "
                             "certificate (etcd_cert), or it stopped (%.100s)", curl);
        else
            snprintf(out, n, "TLS session ended unanswered: etcd may demand a client "
                             "certificate (etcd_cert unset), or it stopped (%.100s)", curl);
        return;
    }
    if (rc == CURLE_PEER_FAILED_VERIFICATION) {
        snprintf(out, n, "etcd's server certificate does not verify against %s (%.120s)",
                 *r->e->ca ? "etcd_ca" : "the system's CAs (etcd_ca is not set)", curl);
        return;
    }
    snprintf(out, n, "%s", curl);
}

static void finish(req_t *r, CURLcode rc)
{
    etcd_t *e = r->e;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    etcd_reply_t rep = {.ok = false};
    if (rc != CURLE_OK) {
        char why[sizeof rep.err];
        transfer_error(r, rc, why, sizeof why);
        snprintf(rep.err, sizeof rep.err, "%.60s%s: %.170s", e->eps[e->cur], r->path, why);
        e->cur = (e->cur + 1) % e->n_eps; /* next time, another member */
    } else if (!etcd_parse_reply(r->kind, r->resp.data ? r->resp.data : "", r->resp.len, &rep)) {
        char why[sizeof rep.err];
        memcpy(why, rep.err, sizeof why);
        snprintf(rep.err, sizeof rep.err, "%.60s%s: HTTP %ld: %.160s", e->eps[e->cur], r->path,
                 code, why);
    } else if (code != 200) {
        etcd_reply_free(&rep);
        snprintf(rep.err, sizeof rep.err, "%.60s%s: HTTP %ld", e->eps[e->cur], r->path, code);
    }
    r->cb(r->ud, &rep);
    etcd_reply_free(&rep);
}

static void on_done(void *ud, CURL *easy, CURLcode rc)
{
    etcd_t *e = ud;
    if (!easy)
        return;
    req_t *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    unlink_req(e, r);
    if (connect_error(rc) && r->tries < e->n_eps && !(r->watch && r->watch->cancelled)) {
        char why[256];
        transfer_error(r, rc, why, sizeof why);
        log_debug("etcd: %s: %s; trying the next endpoint", e->eps[e->cur], why);
        e->cur = (e->cur + 1) % e->n_eps;
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        buf_free(&r->resp);
        start(r);
        return;
    }
    if (r->watch) {
        if (!r->watch->cancelled && !r->watch->ended) {
            char why[300], what[250] = "closed by etcd";
            if (rc != CURLE_OK)
                transfer_error(r, rc, what, sizeof what);
            snprintf(why, sizeof why, "watch stream ended: %s", what);
            watch_end(r->watch, why);
        }
    } else {
        finish(r, rc);
    }
    free_req(r);
}

/* Requests are started from a timer, never from inside libcurl's callbacks
 * (a watch event's handler may well ask something, and libcurl refuses a
 * transfer added from its own callback). */
static void on_kick(uv_timer_t *t)
{
    etcd_t *e = t->data;
    while (e->queued) {
        req_t *r = e->queued;
        e->queued = r->next;
        launch(r);
    }
}

static void start(req_t *r)
{
    etcd_t *e = r->e;
    req_t **pp = &e->queued;
    while (*pp)
        pp = &(*pp)->next;
    r->next = NULL;
    *pp = r;
    uv_timer_start(&e->kick, on_kick, 0, 0);
}

static void launch(req_t *r)
{
    etcd_t *e = r->e;
    r->tries++;
    r->errbuf[0] = '\0';
    buf_t url = BUF_INIT;
    buf_printf(&url, "%s%s%s", e->eps[e->cur],
               e->eps[e->cur][strlen(e->eps[e->cur]) - 1] == '/' ? r->path + 1 : "",
               e->eps[e->cur][strlen(e->eps[e->cur]) - 1] == '/' ? "" : r->path);
    CURL *c = r->easy = curl_easy_init();
    if (!c)
        abort();
    curl_easy_setopt(c, CURLOPT_URL, buf_str(&url));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_PRIVATE, r);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
    if (r->watch) {
        /* A stream has no end: a dead peer is found by TCP keepalive. */
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 2L);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
    }
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (*e->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
    if (*e->cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, e->cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, e->key);
    }
    buf_free(&url);
    r->next = e->reqs;
    e->reqs = r;
    curlloop_add(e->cl, c);
}

static req_t *request(etcd_t *e, const char *path, char *body, etcd_rkind_t kind, etcd_cb cb,
                      void *ud)
{
    req_t *r = xcalloc(1, sizeof *r);
    r->e = e;
    r->path = path;
    r->body = body;
    r->kind = kind;
    r->cb = cb;
    r->ud = ud;
    start(r);
    return r;
}

void etcd_range(etcd_t *e, const char *key, etcd_cb cb, void *ud)
{
    request(e, "/v3/kv/range", etcd_body_range(key), ETCD_R_RANGE, cb, ud);
}

void etcd_put(etcd_t *e, const char *key, const char *value, int64_t lease, etcd_cb cb,
              void *ud)
{
    request(e, "/v3/kv/put", etcd_body_put(key, value, lease), ETCD_R_PUT, cb, ud);
}

void etcd_delete(etcd_t *e, const char *key, etcd_cb cb, void *ud)
{
    request(e, "/v3/kv/deleterange", etcd_body_delete(key), ETCD_R_DELETE, cb, ud);
}

void etcd_lease_grant(etcd_t *e, int64_t ttl, etcd_cb cb, void *ud)
{
    request(e, "/v3/lease/grant", etcd_body_lease("TTL", ttl), ETCD_R_LEASE, cb, ud);
}

void etcd_lease_keepalive(etcd_t *e, int64_t id, etcd_cb cb, void *ud)
{
    request(e, "/v3/lease/keepalive", etcd_body_lease("ID", id), ETCD_R_LEASE, cb, ud);
}

void etcd_lease_revoke(etcd_t *e, int64_t id, etcd_cb cb, void *ud)
{
    request(e, "/v3/lease/revoke", etcd_body_lease("ID", id), ETCD_R_REVOKE, cb, ud);
}

void etcd_txn(etcd_t *e, const etcd_cmp_t *cmp, size_t n_cmp, const etcd_op_t *ops, size_t n_ops,
              const char *failure_range, etcd_cb cb, void *ud)
{
    request(e, "/v3/kv/txn", etcd_body_txn(cmp, n_cmp, ops, n_ops, failure_range), ETCD_R_TXN, cb,
            ud);
}

static void no_cb(void *ud, const etcd_reply_t *r)
{
    (void)ud, (void)r;
}

static etcd_watch_t *watch_body(etcd_t *e, char *body, etcd_watch_cb cb, void *ud)
{
    struct etcd_watch *w = xcalloc(1, sizeof *w);
    w->cb = cb;
    w->ud = ud;
    req_t *r = xcalloc(1, sizeof *r);
    r->e = e;
    r->path = "/v3/watch";
    r->body = body;
    r->cb = no_cb;
    r->watch = w;
    w->req = r;
    start(r);
    return w;
}

etcd_watch_t *etcd_watch(etcd_t *e, const char *key, int64_t start_revision, etcd_watch_cb cb,
                         void *ud)
{
    return watch_body(e, etcd_body_watch(key, start_revision), cb, ud);
}

/* Every key under prefix: a range, and a watch (etcd.h). */
void etcd_range_prefix(etcd_t *e, const char *prefix, etcd_cb cb, void *ud)
{
    request(e, "/v3/kv/range", etcd_body_range_prefix(prefix), ETCD_R_RANGE, cb, ud);
}

etcd_watch_t *etcd_watch_prefix(etcd_t *e, const char *prefix, int64_t start_revision,
                                etcd_watch_cb cb, void *ud)
{
    return watch_body(e, etcd_body_watch_prefix(prefix, start_revision), cb, ud);
}

void etcd_watch_cancel(etcd_watch_t *w)
{
    if (!w)
        return;
    w->cancelled = true;
    if (w->in_cb)
        return; /* the write callback stops the transfer; on_done frees it */
    req_t *r = w->req;
    etcd_t *e = r->e;
    for (req_t **pp = &e->queued; *pp; pp = &(*pp)->next)
        if (*pp == r) { /* not started yet */
            *pp = r->next;
            free_req(r);
            return;
        }
    unlink_req(e, r);
    curlloop_remove(e->cl, r->easy);
    free_req(r);
}

/* ---- life ---------------------------------------------------------------------------- */

etcd_t *etcd_create(uv_loop_t *loop, const etcd_opts_t *o)
{
    etcd_t *e = xcalloc(1, sizeof *e);
    e->loop = loop;
    e->cl = curlloop_create(loop, on_done, e);
    e->n_eps = o->n_endpoints;
    e->eps = xcalloc(e->n_eps + 1, sizeof *e->eps);
    for (size_t i = 0; i < e->n_eps; i++)
        e->eps[i] = xstrdup(o->endpoints[i]);
    e->ca = xstrdup(o->ca ? o->ca : "");
    e->cert = xstrdup(o->cert ? o->cert : "");
    e->key = xstrdup(o->key ? o->key : "");
    e->timeout_ms = o->timeout_ms ? o->timeout_ms : 1000;
    e->headers = curl_slist_append(NULL, "Content-Type: application/json");
    e->headers = curl_slist_append(e->headers, "Expect:");
    uv_timer_init(loop, &e->kick);
    e->kick.data = e;
    e->open = 2;
    return e;
}

const char *etcd_endpoint(const etcd_t *e)
{
    return e->n_eps ? e->eps[e->cur] : "";
}

static void on_closed(void *ud)
{
    etcd_t *e = ud;
    if (--e->open > 0)
        return;
    for (size_t i = 0; i < e->n_eps; i++)
        free(e->eps[i]);
    free(e->eps);
    free(e->ca);
    free(e->cert);
    free(e->key);
    free(e);
}

static void on_kick_closed(uv_handle_t *h)
{
    on_closed(h->data);
}

void etcd_close(etcd_t *e)
{
    if (!e || e->closing)
        return;
    e->closing = true;
    while (e->reqs) {
        req_t *r = e->reqs;
        e->reqs = r->next;
        curlloop_remove(e->cl, r->easy);
        free_req(r);
    }
    while (e->queued) {
        req_t *r = e->queued;
        e->queued = r->next;
        free_req(r);
    }
    curl_slist_free_all(e->headers);
    e->headers = NULL;
    uv_close((uv_handle_t *)&e->kick, on_kick_closed);
    curlloop_close(e->cl, on_closed, e);
}
