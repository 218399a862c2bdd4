/* metrics_http.h - the HTTP listener of /metrics and /health, on the loop.
 *
 * libmicrohttpd parses HTTP; it runs without threads of its own, in its epoll
 * mode: its one epoll descriptor is watched by a uv_poll_t and its timeouts
 * by a uv_timer_t, and MHD_run() (which never blocks in that mode) is called
 * from the loop when either fires. docs/adr/0005-metrics-listener.md
 * says why. Only GET and HEAD of the two paths are served.
 */
#ifndef FAILOVERD_METRICS_HTTP_H
#define FAILOVERD_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"

typedef struct metrics_http metrics_http_t;

typedef struct {
    /* Writes the /metrics page. */
    void (*render)(buf_t *out, void *ud);
    /* Writes /health's one line; returns false for a 503 (not ready, stopping). */
    bool (*health)(buf_t *out, void *ud);
    void *ud;
} metrics_http_handlers_t;

/* Binds listen ("127.0.0.1:9633", "[::1]:9633") and serves on the loop.
 * NULL with err filled when the address is bad or can't be bound. */
metrics_http_t *metrics_http_start(uv_loop_t *loop, const char *listen,
                                   const metrics_http_handlers_t *h, char *err, size_t errlen);

/* Closes the listener and its connections; the memory goes with the handles'
 * close callbacks. */
void metrics_http_close(metrics_http_t *m);

#endif
