/* curlloop.h - libcurl's multi interface driven by the libuv loop.
 *
 * One curlloop_t owns a CURLM whose sockets are watched with uv_poll_t and whose
 * timeouts run on a uv_timer_t, so transfers never block the loop.  Users add
 * easy handles with curlloop_add(); when a transfer ends, the handle is taken out
 * of the multi and handed to the done callback with its result (the callback
 * owns it then and calls curl_easy_cleanup()).  After each batch of finished
 * transfers the callback is called once more with e == NULL.  curl_global_init
 * is done by the first curlloop created and undone by the last one freed. */
#ifndef FAILOVERD_CURLLOOP_H
#define FAILOVERD_CURLLOOP_H

#include <curl/curl.h>
#include <uv.h>

typedef struct curlloop curlloop_t;
typedef void (*curlloop_done_fn)(void *ud, CURL *e, CURLcode rc);

curlloop_t *curlloop_create(uv_loop_t *loop, curlloop_done_fn done, void *ud);
/* Starts the transfer e (CURLOPT_NOSIGNAL is set here). */
void curlloop_add(curlloop_t *cl, CURL *e);
/* Takes a transfer out before it finished (no done call for it); the caller
 * still owns e. */
void curlloop_remove(curlloop_t *cl, CURL *e);
/* Ends every transfer still running (their handles are not cleaned up: the
 * caller should have removed them) and closes the handles; closed(ud) is called
 * once the last one is closed, and cl is freed then.  No done call follows. */
void curlloop_close(curlloop_t *cl, void (*closed)(void *ud), void *ud);

#endif
