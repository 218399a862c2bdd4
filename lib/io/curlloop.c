/* curlloop.c - see curlloop.h. */
#include "curlloop.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

typedef struct sock {
    uv_poll_t poll; /* first: the close callback gets it */
    curl_socket_t fd;
    struct curlloop *cl;
    struct sock *next;
} sock_t;

struct curlloop {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    sock_t *socks;
    int handles; /* uv handles not closed yet */
    bool closing;
    curlloop_done_fn done;
    void *ud;
    void (*closed)(void *ud);
    void *closed_ud;
};

static int curl_users; /* curl_global_init/cleanup around the curlloops in use */

static void handle_closed(curlloop_t *cl)
{
    if (--cl->handles > 0)
        return;
    void (*closed)(void *) = cl->closed;
    void *ud = cl->closed_ud;
    free(cl);
    if (--curl_users == 0)
        curl_global_cleanup();
    if (closed)
        closed(ud);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_sock_closed(uv_handle_t *h)
{
    sock_t *k = (sock_t *)h;
    curlloop_t *cl = k->cl;
    free(k);
    handle_closed(cl);
}

static void close_sock(curlloop_t *cl, sock_t *k)
{
    for (sock_t **pp = &cl->socks; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    uv_poll_stop(&k->poll);
    uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

/* Hands every finished transfer to the user, then says the batch is over.  The
 * user may close cl in the last call: nothing of cl is touched after it. */
static void check_done(curlloop_t *cl)
{
    CURLMsg *m;
    int left;
    while (!cl->closing && (m = curl_multi_info_read(cl->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result; /* m does not survive the removal below */
        curl_multi_remove_handle(cl->multi, e);
        cl->done(cl->ud, e, rc);
    }
    if (!cl->closing)
        cl->done(cl->ud, NULL, CURLE_OK);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_t *k = (sock_t *)p;
    curlloop_t *cl = k->cl;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(cl->multi, k->fd, flags, &running);
    check_done(cl);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    curlloop_t *cl = userp;
    sock_t *k = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            if (cl->multi)
                curl_multi_assign(cl->multi, s, NULL);
            close_sock(cl, k);
        }
        return 0;
    }
    if (!k) {
        k = xcalloc(1, sizeof *k);
        if (uv_poll_init_socket(cl->loop, &k->poll, s) != 0) {
            free(k);
            return -1;
        }
        k->fd = s;
        k->cl = cl;
        k->poll.data = k;
        k->next = cl->socks;
        cl->socks = k;
        cl->handles++;
        curl_multi_assign(cl->multi, s, k);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&k->poll, events, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    curlloop_t *cl = t->data;
    int running;
    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(cl);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    curlloop_t *cl = userp;
    if (cl->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&cl->timer);
    else /* 0 too: libcurl must not be re-entered from its own callback */
        uv_timer_start(&cl->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

curlloop_t *curlloop_create(uv_loop_t *loop, curlloop_done_fn done, void *ud)
{
    if (curl_users++ == 0)
        curl_global_init(CURL_GLOBAL_DEFAULT);
    curlloop_t *cl = xcalloc(1, sizeof *cl);
    cl->loop = loop;
    cl->done = done;
    cl->ud = ud;
    cl->multi = curl_multi_init();
    if (!cl->multi) {
        fputs("failoverd: cannot initialise libcurl\n", stderr);
        abort();
    }
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    uv_timer_init(loop, &cl->timer);
    cl->timer.data = cl;
    cl->handles = 1;
    return cl;
}

void curlloop_add(curlloop_t *cl, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(cl->multi, e);
}

void curlloop_remove(curlloop_t *cl, CURL *e)
{
    if (cl->multi)
        curl_multi_remove_handle(cl->multi, e);
}

void curlloop_close(curlloop_t *cl, void (*closed)(void *ud), void *ud)
{
    if (cl->closing)
        return;
    cl->closing = true;
    cl->closed = closed;
    cl->closed_ud = ud;
    curl_multi_cleanup(cl->multi); /* may still remove sockets through the callback */
    cl->multi = NULL;
    while (cl->socks)
        close_sock(cl, cl->socks);
    uv_close((uv_handle_t *)&cl->timer, on_timer_closed);
}
