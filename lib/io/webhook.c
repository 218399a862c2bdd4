/* webhook.c - see webhook.h. */
#include "webhook.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curlloop.h"
#include "log.h"
#include "redact.h"

typedef struct item {
    struct item *next;
    char *body;
    char *event; /* the event's name, for logs */
    int attempts;
} item_t;

typedef struct dest {
    struct dest *next;
    char *url;
    char *url_log;
    webhook_format_t format;
    uint64_t timeout_ms;
    int retries;
    item_t *head, *tail; /* waiting */
    size_t n_waiting;
    item_t *current;   /* being delivered, or waiting for its retry */
    CURL *easy;        /* the request in flight */
    uint64_t retry_at; /* loop time of the next attempt of current; 0: none planned */
    char errbuf[CURL_ERROR_SIZE];
    int refs;      /* endpoints that send here */
    unsigned mark; /* webhooks_send: already queued this event */
} dest_t;

typedef struct endpoint {
    struct endpoint *next;
    char *cluster; /* NULL: every event */
    char **events;
    size_t n_events;
    dest_t *dest;
} endpoint_t;

struct webhooks {
    uv_loop_t *loop;
    curlloop_t *cl;         /* libcurl on the loop */
    uv_timer_t retry_timer; /* the next planned retry of any destination */
    uv_timer_t flush_timer; /* the end of the flush at close */
    endpoint_t *endpoints;
    dest_t *dests;
    size_t queue_max;
    uint64_t backoff_base_ms, backoff_max_ms;
    struct curl_slist *headers;
    webhooks_stats_t st;
    int sink;
    int handles; /* uv handles not closed yet */
    unsigned gen;
    bool closing, aborted;
    void (*done)(void *ud);
    void *ud;
};

/* ---- bodies and logs -------------------------------------------------------- */

char *webhook_body(const event_t *ev, webhook_format_t format)
{
    json_t *j;
    if (format == WEBHOOK_SLACK) {
        buf_t text = BUF_INIT;
        buf_printf(&text, "[%s] %s: %s", ev->cluster ? ev->cluster : "failoverd", ev->name,
                   ev->message);
        j = json_pack("{s:s}", "text", buf_str(&text));
        buf_free(&text);
    } else {
        j = event_to_json(ev);
        redact_json(j);
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

void webhook_url_for_log(const char *url, buf_t *out)
{
    const char *p = strstr(url, "://");
    if (!p) {
        buf_puts(out, "(invalid URL)");
        return;
    }
    p += 3;
    size_t auth = strcspn(p, "/?#");
    const char *at = memchr(p, '@', auth); /* user:password@ never goes to logs */
    const char *host = at ? at + 1 : p;
    buf_append(out, url, (size_t)(p - url));
    buf_append(out, host, (size_t)(p + auth - host));
    if (p[auth] && !(p[auth] == '/' && p[auth + 1] == '\0'))
        buf_puts(out, "/...");
}

/* ---- handles ------------------------------------------------------------------ */

static void free_item(item_t *it)
{
    free(it->body);
    free(it->event);
    free(it);
}

static void free_dest(webhooks_t *w, dest_t *d)
{
    for (dest_t **pp = &w->dests; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    if (d->easy) {
        curlloop_remove(w->cl, d->easy);
        curl_easy_cleanup(d->easy);
    }
    if (d->current)
        free_item(d->current);
    while (d->head) {
        item_t *it = d->head;
        d->head = it->next;
        free_item(it);
    }
    free(d->url);
    free(d->url_log);
    free(d);
}

static void handle_closed(webhooks_t *w)
{
    if (--w->handles > 0)
        return;
    void (*done)(void *) = w->done;
    void *ud = w->ud;
    free(w);
    if (done)
        done(ud);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_curlloop_closed(void *ud)
{
    handle_closed(ud);
}

static bool idle(const webhooks_t *w)
{
    for (const dest_t *d = w->dests; d; d = d->next)
        if (d->current || d->head)
            return false;
    return true;
}

/* Aborts whatever is still queued or in flight and closes every handle; the
 * last close callback frees w. */
static void abort_all(webhooks_t *w)
{
    if (w->aborted)
        return;
    w->aborted = true;
    size_t left = 0;
    for (dest_t *d = w->dests; d; d = d->next)
        left += d->n_waiting + (d->current ? 1 : 0);
    if (left)
        log_warn("webhooks: %zu event%s not delivered at shutdown", left, left == 1 ? "" : "s");
    w->st.dropped_failed += left;
    while (w->dests)
        free_dest(w, w->dests);
    curlloop_close(w->cl, on_curlloop_closed, w);
    curl_slist_free_all(w->headers);
    w->headers = NULL;
    uv_close((uv_handle_t *)&w->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&w->flush_timer, on_timer_closed);
}

/* ---- delivery --------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static void arm_retry_timer(webhooks_t *w);

static void start_request(webhooks_t *w, dest_t *d)
{
    CURL *e = curl_easy_init();
    if (!e) {
        log_error("webhook %s: cannot create a request; trying again later", d->url_log);
        d->retry_at = uv_now(w->loop) + w->backoff_base_ms;
        arm_retry_timer(w);
        return;
    }
    d->retry_at = 0;
    d->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, d->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->current->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(d->current->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "failoverd/" FAILOVERD_VERSION);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, d);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    d->easy = e;
    d->current->attempts++;
    w->st.attempts++;
    curlloop_add(w->cl, e);
}

/* Starts the next waiting event of d when nothing is in flight there. */
static void kick(webhooks_t *w, dest_t *d)
{
    if (d->current || !d->head || w->aborted)
        return;
    d->current = d->head;
    d->head = d->current->next;
    if (!d->head)
        d->tail = NULL;
    d->n_waiting--;
    d->current->next = NULL;
    start_request(w, d);
}

static void on_retry(uv_timer_t *t);

static void arm_retry_timer(webhooks_t *w)
{
    uint64_t next = 0;
    for (dest_t *d = w->dests; d; d = d->next)
        if (d->current && !d->easy && d->retry_at && (!next || d->retry_at < next))
            next = d->retry_at;
    if (!next) {
        uv_timer_stop(&w->retry_timer);
        return;
    }
    uint64_t now = uv_now(w->loop);
    uv_timer_start(&w->retry_timer, on_retry, next > now ? next - now : 0, 0);
}

static void on_retry(uv_timer_t *t)
{
    webhooks_t *w = t->data;
    uint64_t now = uv_now(w->loop);
    for (dest_t *d = w->dests; d; d = d->next)
        if (d->current && !d->easy && d->retry_at && d->retry_at <= now)
            start_request(w, d);
    arm_retry_timer(w);
}

/* A destination nobody sends to any more goes once its queue is empty. */
static void maybe_free_dest(webhooks_t *w, dest_t *d)
{
    if (d->refs == 0 && !d->current && !d->head)
        free_dest(w, d);
}

static void maybe_finish_close(webhooks_t *w)
{
    if (w->closing && !w->aborted && idle(w))
        abort_all(w);
}

/* Decides what an answer means.  The rules:
 * - 2xx: delivered;
 * - no answer (connection refused or reset, DNS failure, timeout), 5xx, 429:
 *   the receiver may be back soon: retried after a pause that doubles from the
 *   base up to the cap, a Retry-After header lengthening it within the cap,
 *   until `retries` retries have failed;
 * - anything else (3xx, 4xx): the request itself is wrong and would fail the
 *   same way again: dropped at once. */
static void finished(webhooks_t *w, dest_t *d, CURLcode rc, long code, long retry_after_s)
{
    item_t *it = d->current;
    if (rc == CURLE_OK && code >= 200 && code < 300) {
        w->st.delivered++;
        log_debug("webhook %s: %s delivered (HTTP %ld, attempt %d)", d->url_log, it->event, code,
                  it->attempts);
        free_item(it);
        d->current = NULL;
        kick(w, d);
        maybe_free_dest(w, d);
        return;
    }
    w->st.failures++;
    buf_t why = BUF_INIT;
    if (rc != CURLE_OK)
        buf_printf(&why, "%s", d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
    else
        buf_printf(&why, "HTTP %ld", code);
    bool retryable = rc != CURLE_OK || code >= 500 || code == 429;
    if (retryable && it->attempts <= d->retries && !w->aborted) {
        uint64_t delay = w->backoff_base_ms;
        for (int i = 1; i < it->attempts && delay < w->backoff_max_ms; i++)
            delay *= 2;
        if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > delay)
            delay = (uint64_t)retry_after_s * 1000;
        if (delay > w->backoff_max_ms)
            delay = w->backoff_max_ms;
        d->retry_at = uv_now(w->loop) + delay;
        if (!d->retry_at)
            d->retry_at = 1;
        log_warn("webhook %s: %s: attempt %d of %d failed: %s; next in %llu ms", d->url_log,
                 it->event, it->attempts, d->retries + 1, buf_str(&why), (unsigned long long)delay);
        arm_retry_timer(w);
    } else {
        w->st.dropped_failed++;
        if (retryable)
            log_error("webhook %s: %s not delivered after %d attempt%s: %s", d->url_log, it->event,
                      it->attempts, it->attempts == 1 ? "" : "s", buf_str(&why));
        else
            log_error("webhook %s: %s refused by the receiver (%s); not retried", d->url_log,
                      it->event, buf_str(&why));
        free_item(it);
        d->current = NULL;
        kick(w, d);
        maybe_free_dest(w, d);
    }
    buf_free(&why);
}

/* A transfer ended (e), or a batch of them did (e == NULL). */
static void on_transfer_done(void *ud, CURL *e, CURLcode rc)
{
    webhooks_t *w = ud;
    if (!e) {
        maybe_finish_close(w);
        return;
    }
    dest_t *d = NULL;
    long code = 0;
    curl_off_t retry_after = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&d);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
#if LIBCURL_VERSION_NUM >= 0x074200
    curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry_after);
#endif
    curl_easy_cleanup(e);
    d->easy = NULL;
    finished(w, d, rc, code, (long)retry_after);
}

/* ---- events in ---------------------------------------------------------------- */

static void enqueue(webhooks_t *w, dest_t *d, const char *body, const char *event)
{
    if (d->n_waiting >= w->queue_max) {
        item_t *old = d->head;
        d->head = old->next;
        if (!d->head)
            d->tail = NULL;
        d->n_waiting--;
        w->st.dropped_full++;
        log_warn("webhook %s: %zu events waiting; dropping the oldest (%s)", d->url_log,
                 w->queue_max, old->event);
        free_item(old);
    }
    item_t *it = xcalloc(1, sizeof *it);
    it->body = xstrdup(body);
    it->event = xstrdup(event);
    if (d->tail)
        d->tail->next = it;
    else
        d->head = it;
    d->tail = it;
    d->n_waiting++;
    w->st.queued++;
    kick(w, d);
}

static bool wants(const endpoint_t *e, const event_t *ev)
{
    if (e->cluster && ev->cluster && strcmp(e->cluster, ev->cluster) != 0)
        return false;
    if (e->n_events == 0)
        return true;
    for (size_t i = 0; i < e->n_events; i++)
        if (strcmp(e->events[i], ev->name) == 0)
            return true;
    return false;
}

void webhooks_send(webhooks_t *w, const event_t *ev)
{
    if (w->closing)
        return;
    char *body[2] = {NULL, NULL}; /* made once per format */
    w->gen++;
    for (endpoint_t *e = w->endpoints; e; e = e->next) {
        dest_t *d = e->dest;
        /* A URL named by several clusters gets a daemon-wide event once. */
        if (d->mark == w->gen || !wants(e, ev))
            continue;
        d->mark = w->gen;
        int f = d->format == WEBHOOK_SLACK;
        if (!body[f])
            body[f] = webhook_body(ev, d->format);
        enqueue(w, d, body[f], ev->name);
    }
    free(body[0]);
    free(body[1]);
}

static void on_event(const event_t *ev, void *ud)
{
    webhooks_send(ud, ev);
}

/* ---- set-up and shut-down -------------------------------------------------------- */

webhooks_t *webhooks_create(uv_loop_t *loop, const webhooks_opts_t *o)
{
    webhooks_t *w = xcalloc(1, sizeof *w);
    w->loop = loop;
    w->queue_max = o && o->queue_max ? o->queue_max : WEBHOOK_DEFAULT_QUEUE_MAX;
    w->backoff_base_ms =
        o && o->backoff_base_ms ? o->backoff_base_ms : WEBHOOK_DEFAULT_BACKOFF_BASE_MS;
    w->backoff_max_ms = o && o->backoff_max_ms ? o->backoff_max_ms : WEBHOOK_DEFAULT_BACKOFF_MAX_MS;
    w->cl = curlloop_create(loop, on_transfer_done, w);
    uv_timer_init(loop, &w->retry_timer);
    uv_timer_init(loop, &w->flush_timer);
    w->retry_timer.data = w->flush_timer.data = w;
    w->handles = 3;
    /* No "Expect: 100-continue": a receiver that never answers it would cost
     * every request a second. */
    w->headers = curl_slist_append(NULL, "Content-Type: application/json");
    w->headers = curl_slist_append(w->headers, "Expect:");
    w->sink = o && o->no_sink ? -1 : event_add_sink(on_event, w);
    return w;
}

bool webhooks_add(webhooks_t *w, const webhook_endpoint_t *e, char *err, size_t err_len)
{
    if (!e->url ||
        (strncasecmp(e->url, "http://", 7) != 0 && strncasecmp(e->url, "https://", 8) != 0)) {
        snprintf(err, err_len, "webhook URL \"%s\" is not an http:// or https:// address",
                 e->url ? e->url : "");
        return false;
    }
    dest_t *d = w->dests;
    while (d && (d->format != e->format || strcmp(d->url, e->url) != 0))
        d = d->next;
    if (!d) {
        d = xcalloc(1, sizeof *d);
        d->url = xstrdup(e->url);
        buf_t b = BUF_INIT;
        webhook_url_for_log(e->url, &b);
        d->url_log = buf_steal(&b);
        d->format = e->format;
        d->next = w->dests;
        w->dests = d;
    }
    /* The latest configuration of a destination wins. */
    d->timeout_ms = e->timeout_ms ? e->timeout_ms : WEBHOOK_DEFAULT_TIMEOUT_MS;
    d->retries = e->retries > 0 ? e->retries : 0;
    d->refs++;
    endpoint_t *ep = xcalloc(1, sizeof *ep);
    ep->cluster = e->cluster ? xstrdup(e->cluster) : NULL;
    ep->n_events = e->n_events;
    ep->events = xcalloc(e->n_events ? e->n_events : 1, sizeof *ep->events);
    for (size_t i = 0; i < e->n_events; i++)
        ep->events[i] = xstrdup(e->events[i]);
    ep->dest = d;
    endpoint_t **tail = &w->endpoints;
    while (*tail)
        tail = &(*tail)->next;
    *tail = ep;
    return true;
}

void webhooks_clear(webhooks_t *w)
{
    while (w->endpoints) {
        endpoint_t *e = w->endpoints;
        w->endpoints = e->next;
        e->dest->refs--;
        maybe_free_dest(w, e->dest);
        for (size_t i = 0; i < e->n_events; i++)
            free(e->events[i]);
        free(e->events);
        free(e->cluster);
        free(e);
    }
}

void webhooks_stats(const webhooks_t *w, webhooks_stats_t *out)
{
    *out = w->st;
    out->waiting = 0;
    for (const dest_t *d = w->dests; d; d = d->next)
        out->waiting += d->n_waiting + (d->current ? 1 : 0);
}

static void on_flush_end(uv_timer_t *t)
{
    abort_all(t->data);
}

void webhooks_close(webhooks_t *w, uint64_t flush_ms, void (*done)(void *ud), void *ud)
{
    if (w->closing)
        return;
    w->closing = true;
    w->done = done;
    w->ud = ud;
    if (w->sink >= 0)
        event_remove_sink(w->sink);
    w->sink = -1;
    webhooks_clear(w);
    if (flush_ms == 0 || idle(w))
        abort_all(w);
    else
        uv_timer_start(&w->flush_timer, on_flush_end, flush_ms, 0);
}
