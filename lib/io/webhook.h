/* webhook.h - events POSTed to HTTP endpoints, on the loop, never in the way.
 *
 * One webhooks_t per daemon.  It registers one event sink; each event that an
 * endpoint wants (its cluster's events and the daemon-wide ones, filtered by
 * name) is turned into a request body at once and queued for its destination
 * (URL and format); event_emit() returns without waiting for anything.
 *
 * Requests run on libcurl's multi interface driven by the libuv loop
 * (curl_multi_socket_action with a uv_poll_t per socket and one uv_timer_t).
 * Per destination one request is in flight at a time, so a receiver sees
 * events in order, and one slow or dead receiver does not hold up the others.
 * A request that fails to connect, times out, or gets 5xx or 429 is retried
 * after a pause that doubles from backoff_base_ms up to backoff_max_ms (a
 * Retry-After header is honoured within that cap), at most `retries` times;
 * other answers (2xx: delivered; 3xx, 4xx: refused) end it.  At most queue_max
 * events wait behind the one being delivered; when a new one arrives at a full
 * queue the oldest waiting one is dropped, with a log line, so a dead receiver
 * never grows memory without bound.
 *
 * URLs are logged without their path and query: chat webhooks carry their
 * secret there.
 *
 * From the configuration: one webhook_endpoint_t per clusters[].webhooks[]
 * entry, with cluster = the cluster's name and the other settings one to one.
 */
#ifndef FAILOVERD_WEBHOOK_H
#define FAILOVERD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "sink.h"

#define WEBHOOK_DEFAULT_TIMEOUT_MS 5000
#define WEBHOOK_DEFAULT_QUEUE_MAX 256
#define WEBHOOK_DEFAULT_BACKOFF_BASE_MS 1000
#define WEBHOOK_DEFAULT_BACKOFF_MAX_MS 60000

typedef enum {
    WEBHOOK_JSON,  /* the event as one JSON object (event_to_json) */
    WEBHOOK_SLACK, /* {"text": "[cluster] event: message"} */
} webhook_format_t;

typedef struct {
    size_t queue_max;         /* per destination; 0: WEBHOOK_DEFAULT_QUEUE_MAX */
    uint64_t backoff_base_ms; /* 0: WEBHOOK_DEFAULT_BACKOFF_BASE_MS */
    uint64_t backoff_max_ms;  /* 0: WEBHOOK_DEFAULT_BACKOFF_MAX_MS */
    bool no_sink;             /* don't register the event sink (tests feed webhooks_send) */
} webhooks_opts_t;

typedef struct {
    const char *cluster; /* its events and the daemon-wide ones; NULL: every event */
    const char *url;     /* http:// or https:// */
    webhook_format_t format;
    uint64_t timeout_ms;       /* the whole of one request; 0: WEBHOOK_DEFAULT_TIMEOUT_MS */
    int retries;               /* after the first attempt */
    const char *const *events; /* names of the events sent; n_events 0: every event */
    size_t n_events;
} webhook_endpoint_t;

typedef struct {
    uint64_t queued;   /* events accepted into a queue */
    uint64_t attempts; /* requests started */
    uint64_t failures; /* attempts that failed (each retry counts) */
    uint64_t delivered;
    uint64_t dropped_full;   /* dropped because their queue was full */
    uint64_t dropped_failed; /* given up after the retries, or refused */
    size_t waiting;          /* events queued or being delivered now */
} webhooks_stats_t;

typedef struct webhooks webhooks_t;

webhooks_t *webhooks_create(uv_loop_t *loop, const webhooks_opts_t *o);

/* Adds an endpoint; false with err filled when the URL is not http(s)://. */
bool webhooks_add(webhooks_t *w, const webhook_endpoint_t *e, char *err, size_t err_len);
/* Removes every endpoint (a reload then adds the new ones).  Events already
 * queued are still delivered. */
void webhooks_clear(webhooks_t *w);

/* Queues ev for every endpoint that wants it; what the sink does. */
void webhooks_send(webhooks_t *w, const event_t *ev);

void webhooks_stats(const webhooks_t *w, webhooks_stats_t *out);

/* Stops taking events, gives the queued ones up to flush_ms to be delivered
 * (0: drops them at once), then aborts what is left, closes every handle, frees
 * w and calls done(ud) from the loop. */
void webhooks_close(webhooks_t *w, uint64_t flush_ms, void (*done)(void *ud), void *ud);

/* The body sent for ev in a format (a string the caller frees). */
char *webhook_body(const event_t *ev, webhook_format_t format);

/* scheme://host[:port]/... : a URL fit for logs. */
void webhook_url_for_log(const char *url, buf_t *out);

#endif
