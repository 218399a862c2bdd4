/* The control socket server, for real: a server on a libuv loop in a thread of
 * the test process, clients as plain blocking sockets (with poll deadlines) in
 * the test's own thread. Every server ends with uv_loop_close() == 0 and its
 * socket file gone. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"

/* ---- the server under test ---- */

typedef struct {
    uv_loop_t loop;
    uv_async_t stop;
    control_t *ctl;
    pthread_t thread;
    char dir[64];
    char path[100];
    char listen_err[256];
    bool listen_ok;
    atomic_int loop_close_rc;
    atomic_bool ready;
    atomic_bool closed_cb;
    int dropped;  /* async replies whose client was gone (loop thread only) */
    int answered; /* async replies delivered to a connected client */
} server_t;

typedef struct {
    uv_timer_t timer;
    control_req_t *req;
    server_t *srv;
    char tag[64];
} slow_t;

static void h_status(control_req_t *req, void *ud)
{
    control_reply_ok(req, json_pack("{s:{s:s}, s:[]}", "daemon", "version", "test", "clusters"));
}

static void h_echo(control_req_t *req, void *ud)
{
    control_reply_ok(req, json_deep_copy(control_req_args(req)));
}

static void slow_closed(uv_handle_t *h)
{
    free(h->data);
}

static void slow_fire(uv_timer_t *t)
{
    slow_t *s = t->data;
    if (control_req_connected(s->req))
        s->srv->answered++;
    else
        s->srv->dropped++;
    control_reply_ok(s->req, json_pack("{s:s}", "slow", s->tag));
    uv_close((uv_handle_t *)&s->timer, slow_closed);
}

/* Answers after args.ms milliseconds, like a switchover. */
static void h_slow(control_req_t *req, void *ud)
{
    server_t *srv = ud;
    long long ms = 200;
    const char *tag = "";
    if (!control_arg_int(req, "ms", false, 0, 60000, &ms) ||
        !control_arg_string(req, "tag", false, &tag))
        return;
    slow_t *s = xcalloc(1, sizeof *s);
    s->req = req;
    s->srv = srv;
    snprintf(s->tag, sizeof s->tag, "%s", tag);
    uv_timer_init(&srv->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, slow_fire, (uint64_t)ms, 0);
}

static void h_needs(control_req_t *req, void *ud)
{
    static const char *const known[] = {"cluster", "n", "policy", NULL};
    static const char *const policies[] = {"reliability", "availability", NULL};
    const char *cluster = NULL, *policy = "reliability";
    long long n = 1;
    if (!control_args_only(req, known) || !control_arg_string(req, "cluster", true, &cluster) ||
        !control_arg_int(req, "n", false, 1, 10, &n) ||
        !control_arg_enum(req, "policy", false, policies, &policy))
        return;
    control_reply_ok(req, json_pack("{s:s, s:I, s:s}", "cluster", cluster, "n", (json_int_t)n,
                                    "policy", policy));
}

static void h_big(control_req_t *req, void *ud)
{
    long long size = 65536;
    if (!control_arg_int(req, "size", false, 1, 1 << 24, &size))
        return;
    char *s = xmalloc((size_t)size + 1);
    memset(s, 'b', (size_t)size);
    s[size] = '\0';
    control_reply_ok(req, json_pack("{s:s}", "big", s));
    free(s);
}

static void h_stats(control_req_t *req, void *ud)
{
    server_t *srv = ud;
    control_reply_ok(req, json_pack("{s:i, s:i, s:i}", "connections",
                                    (int)control_connection_count(srv->ctl), "dropped",
                                    srv->dropped, "answered", srv->answered));
}

static void on_closed(void *data)
{
    server_t *srv = data;
    atomic_store(&srv->closed_cb, true);
}

static void stop_cb(uv_async_t *a)
{
    server_t *srv = a->data;
    control_close(srv->ctl, on_closed, srv);
    uv_close((uv_handle_t *)a, NULL);
}

static control_opts_t test_opts(server_t *srv)
{
    control_opts_t o;
    control_opts_init(&o);
    o.path = srv->path;
    o.mode = 0600;
    o.max_request = 1024;
    o.max_output = 256 * 1024;
    o.idle_timeout_ms = 400;
    o.max_connections = 4;
    return o;
}

static void *server_main(void *arg)
{
    server_t *srv = arg;
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    atomic_store(&srv->loop_close_rc, uv_loop_close(&srv->loop));
    return NULL;
}

static void server_start_opts(server_t *srv, control_opts_t *o)
{
    uv_loop_init(&srv->loop);
    uv_async_init(&srv->loop, &srv->stop, stop_cb);
    srv->stop.data = srv;
    srv->ctl = control_create(&srv->loop, o);
    control_register(srv->ctl, "status", h_status, srv);
    control_register(srv->ctl, "echo", h_echo, srv);
    control_register(srv->ctl, "slow", h_slow, srv);
    control_register(srv->ctl, "needs", h_needs, srv);
    control_register(srv->ctl, "big", h_big, srv);
    control_register(srv->ctl, "stats", h_stats, srv);
    srv->listen_ok = control_listen(srv->ctl, srv->listen_err, sizeof srv->listen_err);
    cr_assert(srv->listen_ok, "listen: %s", srv->listen_err);
    pthread_create(&srv->thread, NULL, server_main, srv);
}

static void make_dir(server_t *srv)
{
    snprintf(srv->dir, sizeof srv->dir, "/tmp/fo-ctl-XXXXXX");
    cr_assert_not_null(mkdtemp(srv->dir));
    snprintf(srv->path, sizeof srv->path, "%s/control.sock", srv->dir);
}

static server_t *server_start(void)
{
    server_t *srv = xcalloc(1, sizeof *srv);
    make_dir(srv);
    control_opts_t o = test_opts(srv);
    server_start_opts(srv, &o);
    return srv;
}

/* Stop the server, wait for its loop to end, and check nothing leaked. */
static void server_stop(server_t *srv)
{
    uv_async_send(&srv->stop);
    pthread_join(srv->thread, NULL);
    cr_assert(atomic_load(&srv->closed_cb), "control_close never called back");
    cr_assert_eq(atomic_load(&srv->loop_close_rc), 0, "uv_loop_close: %s",
                 uv_strerror(atomic_load(&srv->loop_close_rc)));
    cr_assert(access(srv->path, F_OK) != 0 && errno == ENOENT,
              "the socket file is still there after close");
    rmdir(srv->dir);
    free(srv);
}

/* ---- a blocking test client ---- */

typedef struct {
    int fd;
    buf_t in;
} client_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static client_t *cl_open(const char *path)
{
    client_t *c = xcalloc(1, sizeof *c);
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s",
                 strerror(errno));
    return c;
}

static void cl_close(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    buf_free(&c->in);
    free(c);
}

static void cl_send(client_t *c, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
        cr_assert(n > 0, "send: %s", strerror(errno));
        off += (size_t)n;
    }
}

/* One reply line, or NULL at EOF; *eof says which. Fails the test on timeout. */
static char *cl_line_eof(client_t *c, int timeout_ms, bool *eof)
{
    double deadline = now_ms() + timeout_ms;
    *eof = false;
    for (;;) {
        char *nl = c->in.len ? memchr(c->in.data, '\n', c->in.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - c->in.data);
            char *line = xstrndup(c->in.data, n);
            memmove(c->in.data, nl + 1, c->in.len - n - 1);
            c->in.len -= n + 1;
            return line;
        }
        int left = (int)(deadline - now_ms());
        cr_assert(left > 0, "no reply within %d ms", timeout_ms);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            continue;
        char chunk[65536];
        ssize_t n = recv(c->fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            *eof = true;
            return NULL;
        }
        buf_append(&c->in, chunk, (size_t)n);
    }
}

static json_t *cl_reply(client_t *c, int timeout_ms)
{
    bool eof;
    char *line = cl_line_eof(c, timeout_ms, &eof);
    cr_assert_not_null(line, "the server closed the connection instead of replying");
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    cr_assert_not_null(j, "reply is not JSON: %s", line);
    free(line);
    return j;
}

static json_t *call(client_t *c, const char *line)
{
    cl_send(c, line);
    return cl_reply(c, 3000);
}

/* The server closes the connection: EOF (or reset) within timeout_ms, with
 * any replies before it discarded. Returns how long it took. */
static double cl_wait_closed(client_t *c, int timeout_ms)
{
    double start = now_ms();
    for (;;) {
        bool eof;
        char *line = cl_line_eof(c, timeout_ms, &eof);
        free(line);
        if (eof)
            return now_ms() - start;
    }
}

static const char *err_code(const json_t *r)
{
    return json_string_value(json_object_get(json_object_get(r, "error"), "code"));
}

static const char *err_msg(const json_t *r)
{
    return json_string_value(json_object_get(json_object_get(r, "error"), "message"));
}

static json_int_t stat_of(const char *path, const char *key)
{
    client_t *c = cl_open(path);
    json_t *r = call(c, "{\"cmd\":\"stats\"}\n");
    json_int_t v = json_integer_value(json_object_get(json_object_get(r, "result"), key));
    json_decref(r);
    cl_close(c);
    return v;
}

/* Poll a server statistic until it has the wanted value (bounded). */
static void wait_stat(const char *path, const char *key, json_int_t want)
{
    json_int_t v = -1;
    for (int i = 0; i < 200; i++) {
        v = stat_of(path, key);
        if (v == want)
            return;
        usleep(10000);
    }
    cr_assert_fail("%s stayed %lld, wanted %lld", key, (long long)v, (long long)want);
}

/* ---- round trips ---- */

Test(control, status_round_trip, .timeout = 30)
{
    server_t *srv = server_start();
    struct stat st;
    cr_assert_eq(stat(srv->path, &st), 0);
    cr_assert(S_ISSOCK(st.st_mode));
    cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);

    client_t *c = cl_open(srv->path);
    json_t *r = call(c, "{\"cmd\":\"status\"}\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(r, "result"), "daemon"), "version")),
                     "test");
    cr_assert(json_is_array(json_object_get(json_object_get(r, "result"), "clusters")));
    json_decref(r);

    /* A second request on the same connection; the client's id comes back. */
    r = call(c, "{\"cmd\":\"echo\",\"args\":{\"x\":1},\"id\":\"abc\"}\n");
    cr_assert_str_eq(json_string_value(json_object_get(r, "id")), "abc");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "result"), "x")), 1);
    json_decref(r);
    cl_close(c);
    server_stop(srv);
}

Test(control, pipelined_requests_answer_in_order_with_a_late_first, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *a = cl_open(srv->path);
    double t0 = now_ms();
    cl_send(a, "{\"cmd\":\"slow\",\"args\":{\"ms\":400,\"tag\":\"first\"}}\n"
               "{\"cmd\":\"echo\",\"args\":{\"tag\":\"second\"}}\n");

    /* Meanwhile another client's status answers at once. */
    client_t *b = cl_open(srv->path);
    double tb = now_ms();
    json_t *r = call(b, "{\"cmd\":\"status\"}\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    cr_assert_lt(now_ms() - tb, 200, "status took %.0f ms while a slow request ran", now_ms() - tb);
    json_decref(r);
    cl_close(b);

    r = cl_reply(a, 3000);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "result"), "slow")),
                     "first");
    cr_assert_geq(now_ms() - t0, 350);
    json_decref(r);
    r = cl_reply(a, 3000);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "result"), "tag")),
                     "second");
    json_decref(r);
    cl_close(a);
    server_stop(srv);
}

Test(control, a_long_pipeline_pauses_and_resumes_in_order, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    buf_t req = BUF_INIT;
    int n = 3 * CONTROL_MAX_PIPELINE + 5;
    for (int i = 0; i < n; i++)
        buf_printf(&req, "{\"cmd\":\"slow\",\"args\":{\"ms\":%d,\"tag\":\"t%d\"}}\n",
                   i % 2 ? 5 : 30, i);
    cl_send(c, buf_str(&req));
    buf_free(&req);
    for (int i = 0; i < n; i++) {
        json_t *r = cl_reply(c, 5000);
        char want[16];
        snprintf(want, sizeof want, "t%d", i);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "result"), "slow")),
                         want);
        json_decref(r);
    }
    cl_close(c);
    server_stop(srv);
}

/* ---- bad input ---- */

Test(control, malformed_requests_get_bad_request_and_the_connection_goes_on, .timeout = 30)
{
    static const struct {
        const char *line;
        const char *msg_contains;
    } rows[] = {
        {"{not json\n", "not valid JSON"},
        {"[1,2]\n", "JSON object"},
        {"\"status\"\n", "JSON object"},
        {"{\"args\":{}}\n", "\"cmd\""},
        {"{\"cmd\":\"\"}\n", "\"cmd\""},
        {"{\"cmd\":7}\n", "\"cmd\""},
        {"{\"cmd\":\"echo\",\"args\":[1]}\n", "\"args\""},
        {"{\"cmd\":\"echo\",\"cmd\":\"status\"}\n", "not valid JSON"},
        {"{\"cmd\":\"status\"} trailing\n", "not valid JSON"},
        {"{\"cmd\":\"\xff\xfe\"}\n", "not valid JSON"},
    };
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *r = call(c, rows[i].line);
        cr_assert(json_is_false(json_object_get(r, "ok")), "row %zu", i);
        cr_assert_str_eq(err_code(r), "bad_request", "row %zu", i);
        cr_assert(strstr(err_msg(r), rows[i].msg_contains), "row %zu: %s", i, err_msg(r));
        json_decref(r);
    }
    /* Blank lines are skipped; the connection still serves. */
    json_t *r = call(c, "\n  \r\n{\"cmd\":\"status\"}\r\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    cl_close(c);
    server_stop(srv);
}

Test(control, unknown_command_lists_the_known_ones, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    json_t *r = call(c, "{\"cmd\":\"explode\",\"id\":3}\n");
    cr_assert_str_eq(err_code(r), "unknown_command");
    cr_assert(strstr(err_msg(r), "'explode'"));
    cr_assert(strstr(err_msg(r), "status, echo, slow"), "%s", err_msg(r));
    json_t *cmds = json_object_get(json_object_get(r, "error"), "commands");
    cr_assert_eq(json_array_size(cmds), 6);
    cr_assert_str_eq(json_string_value(json_array_get(cmds, 0)), "status");
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 3);
    json_decref(r);
    cl_close(c);
    server_stop(srv);
}

Test(control, argument_helpers_reply_the_errors, .timeout = 30)
{
    static const struct {
        const char *line;
        const char *code; /* NULL: ok */
        const char *msg_contains;
    } rows[] = {
        {"{\"cmd\":\"needs\"}\n", "missing_argument", "'cluster'"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":null}}\n", "missing_argument", "'cluster'"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":5}}\n", "bad_argument", "must be a string"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":\"m\",\"n\":\"2\"}}\n", "bad_argument",
         "integer from 1 to 10"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":\"m\",\"n\":11}}\n", "bad_argument",
         "integer from 1 to 10"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":\"m\",\"n\":2.5}}\n", "bad_argument", "integer"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":\"m\",\"policy\":\"fast\"}}\n", "bad_argument",
         "reliability, availability"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":\"m\",\"too\":\"db2\"}}\n", "bad_argument",
         "no argument 'too'"},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":\"m\",\"n\":3}}\n", NULL, NULL},
        {"{\"cmd\":\"needs\",\"args\":{\"cluster\":\"m\"}}\n", NULL, NULL},
    };
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *r = call(c, rows[i].line);
        if (!rows[i].code) {
            cr_assert(json_is_true(json_object_get(r, "ok")), "row %zu", i);
            cr_assert_str_eq(
                json_string_value(json_object_get(json_object_get(r, "result"), "cluster")), "m");
        } else {
            cr_assert_str_eq(err_code(r), rows[i].code, "row %zu", i);
            cr_assert(strstr(err_msg(r), rows[i].msg_contains), "row %zu: %s", i, err_msg(r));
        }
        json_decref(r);
    }
    cl_close(c);
    server_stop(srv);
}

Test(control, an_oversized_request_gets_too_large_then_close, .timeout = 30)
{
    server_t *srv = server_start();
    /* Without a newline: refused as soon as it passes the limit. */
    client_t *c = cl_open(srv->path);
    char big[2100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cl_send(c, big);
    json_t *r = cl_reply(c, 3000);
    cr_assert_str_eq(err_code(r), "too_large");
    cr_assert(strstr(err_msg(r), "1024"));
    json_decref(r);
    cl_wait_closed(c, 3000);
    cl_close(c);

    /* A complete long line after a good request: the good one is answered
     * first, the request after the long one never. */
    c = cl_open(srv->path);
    buf_t b = BUF_INIT;
    buf_printf(&b, "{\"cmd\":\"echo\",\"args\":{\"n\":1}}\n{\"cmd\":\"echo\",\"args\":{\"s\":\"");
    for (int i = 0; i < 1100; i++)
        buf_putc(&b, 'y');
    buf_puts(&b, "\"}}\n{\"cmd\":\"status\"}\n");
    cl_send(c, buf_str(&b));
    buf_free(&b);
    r = cl_reply(c, 3000);
    cr_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    r = cl_reply(c, 3000);
    cr_assert_str_eq(err_code(r), "too_large");
    json_decref(r);
    cl_wait_closed(c, 3000);
    cl_close(c);

    /* Exactly at the limit is fine. */
    c = cl_open(srv->path);
    b = (buf_t)BUF_INIT;
    buf_puts(&b, "{\"cmd\":\"echo\",\"args\":{\"s\":\"");
    while (b.len < 1024 - 3)
        buf_putc(&b, 'z');
    buf_puts(&b, "\"}}");
    cr_assert_eq(b.len, 1024);
    buf_putc(&b, '\n');
    r = call(c, buf_str(&b));
    buf_free(&b);
    cr_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    cl_close(c);
    server_stop(srv);
}

/* ---- clients that go away or misbehave ---- */

Test(control, a_client_gone_before_the_async_reply_is_dropped_safely, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    cl_send(c,
            "{\"cmd\":\"slow\",\"args\":{\"ms\":150}}\n{\"cmd\":\"slow\",\"args\":{\"ms\":250}}\n");
    usleep(30000); /* both are at their handler */
    cl_close(c);
    wait_stat(srv->path, "dropped", 2);
    cr_assert_eq(stat_of(srv->path, "answered"), 0);
    wait_stat(srv->path, "connections", 1); /* only the asking one */
    server_stop(srv);
}

Test(control, a_handler_may_reply_after_the_server_closed, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    cl_send(c, "{\"cmd\":\"slow\",\"args\":{\"ms\":300}}\n");
    usleep(30000);
    /* The server closes with the request still at its handler; the reply
     * comes 300 ms later and is dropped; the loop still ends clean. */
    server_stop(srv);
    cl_wait_closed(c, 3000);
    cl_close(c);
}

Test(control, a_client_that_shuts_down_its_write_side_still_gets_replies, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    /* The last request has no newline: end of input ends it. */
    cl_send(c, "{\"cmd\":\"slow\",\"args\":{\"ms\":100,\"tag\":\"late\"}}\n{\"cmd\":\"status\"}");
    shutdown(c->fd, SHUT_WR);
    json_t *r = cl_reply(c, 3000);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "result"), "slow")),
                     "late");
    json_decref(r);
    r = cl_reply(c, 3000);
    cr_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    cl_wait_closed(c, 3000);
    cl_close(c);
    server_stop(srv);
}

/* A client that connects and shuts down without sending a byte: the reader
 * has no buffer at all then, and the connection is closed; others go on.
 * (Pointer arithmetic on that missing buffer is caught by clang's UBSan, in
 * the control fuzz harness, which starts from this input.) */
Test(control, a_client_that_sends_nothing_is_closed, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    shutdown(c->fd, SHUT_WR);
    cl_wait_closed(c, 3000);
    cl_close(c);
    c = cl_open(srv->path);
    json_t *r = call(c, "{\"cmd\":\"status\"}\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    cl_close(c);
    server_stop(srv);
}

Test(control, a_stalled_half_line_does_not_block_others_and_times_out, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *stalled = cl_open(srv->path);
    cl_send(stalled, "{\"cmd\":\"sta");
    double t0 = now_ms();

    client_t *b = cl_open(srv->path);
    double tb = now_ms();
    json_t *r = call(b, "{\"cmd\":\"status\"}\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    cr_assert_lt(now_ms() - tb, 200);
    json_decref(r);
    cl_close(b);

    /* Trickling a byte every 100 ms does not extend the 400 ms deadline. */
    client_t *trickle = cl_open(srv->path);
    double tt = now_ms();
    bool closed = false;
    for (int i = 0; i < 30 && !closed; i++) {
        if (send(trickle->fd, " ", 1, MSG_NOSIGNAL) != 1)
            closed = true;
        struct pollfd p = {.fd = trickle->fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            closed = true;
    }
    cr_assert(closed, "the trickling client was never closed");
    cr_assert_lt(now_ms() - tt, 1500);
    cl_close(trickle);

    double waited = cl_wait_closed(stalled, 3000);
    cr_assert_lt(now_ms() - t0, 2000, "closed after %.0f ms", waited);
    cl_close(stalled);
    server_stop(srv);
}

Test(control, a_client_that_never_reads_is_cut_off, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *hog = cl_open(srv->path);
    buf_t b = BUF_INIT;
    for (int i = 0; i < 100; i++)
        buf_puts(&b, "{\"cmd\":\"big\",\"args\":{\"size\":65536}}\n");
    cl_send(hog, buf_str(&b)); /* 6.5 MB of replies it will not read */
    buf_free(&b);

    client_t *c = cl_open(srv->path);
    double t = now_ms();
    json_t *r = call(c, "{\"cmd\":\"status\"}\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    cr_assert_lt(now_ms() - t, 500);
    json_decref(r);
    cl_close(c);

    wait_stat(srv->path, "connections", 1); /* the hog is gone */
    cl_close(hog);
    server_stop(srv);
}

Test(control, connections_beyond_the_cap_get_busy, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = cl_open(srv->path);
        json_t *r = call(c[i], "{\"cmd\":\"status\"}\n");
        cr_assert(json_is_true(json_object_get(r, "ok")));
        json_decref(r);
    }
    client_t *extra = cl_open(srv->path);
    json_t *r = cl_reply(extra, 3000);
    cr_assert_str_eq(err_code(r), "busy");
    json_decref(r);
    cl_wait_closed(extra, 3000);
    cl_close(extra);

    cl_close(c[0]);
    /* A slot frees up once the server saw the close. */
    json_t *ok = NULL;
    for (int i = 0; i < 100 && !ok; i++) {
        client_t *again = cl_open(srv->path);
        r = call(again, "{\"cmd\":\"status\"}\n");
        if (json_is_true(json_object_get(r, "ok")))
            ok = json_incref(r);
        json_decref(r);
        cl_close(again);
        if (!ok)
            usleep(10000);
    }
    cr_assert_not_null(ok, "no slot after a client left");
    json_decref(ok);
    for (int i = 1; i < 4; i++)
        cl_close(c[i]);
    server_stop(srv);
}

Test(control, an_idle_connection_is_closed_after_the_timeout, .timeout = 30)
{
    server_t *srv = server_start();
    client_t *c = cl_open(srv->path);
    json_t *r = call(c, "{\"cmd\":\"status\"}\n");
    json_decref(r);
    double waited = cl_wait_closed(c, 3000);
    cr_assert_geq(waited, 300);
    cr_assert_lt(waited, 1500);
    cl_close(c);

    /* A request at its handler longer than the idle timeout is not idle. */
    c = cl_open(srv->path);
    r = call(c, "{\"cmd\":\"slow\",\"args\":{\"ms\":700}}\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    cl_close(c);
    server_stop(srv);
}

/* ---- access ---- */

Test(control, peer_access_rules)
{
    static const uid_t uids[] = {1001, 1002};
    static const gid_t gids[] = {2001};
    static const gid_t in_group[] = {100, 2001};
    static const gid_t not_in_group[] = {100, 2002};
    const control_acl_t acl = {
        .self_uid = 999, .uids = uids, .n_uids = 2, .gids = gids, .n_gids = 1};
    const control_acl_t empty = {.self_uid = 999};
    static const struct {
        const char *rule;
        bool use_empty;
        control_peer_t peer;
        bool want;
    } rows[] = {
        {"root is always allowed", false, {.uid = 0, .gid = 0}, true},
        {"root is allowed with empty lists", true, {.uid = 0, .gid = 5}, true},
        {"the daemon's own uid is always allowed", true, {.uid = 999, .gid = 999}, true},
        {"a listed uid is allowed", false, {.uid = 1002, .gid = 50}, true},
        {"a listed primary group is allowed", false, {.uid = 1500, .gid = 2001}, true},
        {"a listed supplementary group is allowed",
         false,
         {.uid = 1500, .gid = 100, .groups = in_group, .n_groups = 2},
         true},
        {"other groups do not help",
         false,
         {.uid = 1500, .gid = 100, .groups = not_in_group, .n_groups = 2},
         false},
        {"an unlisted uid is refused", false, {.uid = 1003, .gid = 50}, false},
        {"with empty lists everyone else is refused", true, {.uid = 1001, .gid = 2001}, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_assert_eq(control_peer_allowed(&rows[i].peer, rows[i].use_empty ? &empty : &acl),
                     rows[i].want, "%s", rows[i].rule);
}

Test(control, reader_and_operator_roles)
{
    static const uid_t uids[] = {1001};
    static const gid_t gids[] = {2001};
    static const uid_t ro_uids[] = {1001, 1100};
    static const gid_t ro_gids[] = {3001};
    static const gid_t in_ro_group[] = {100, 3001};
    const control_acl_t acl = {.self_uid = 999, .uids = uids, .n_uids = 1, .gids = gids,
                               .n_gids = 1, .ro_uids = ro_uids, .n_ro_uids = 2,
                               .ro_gids = ro_gids, .n_ro_gids = 1};
    static const struct {
        const char *rule;
        control_peer_t peer;
        control_role_t want;
    } rows[] = {
        {"root operates", {.uid = 0}, CONTROL_ROLE_OPERATE},
        {"the daemon's uid operates", {.uid = 999, .gid = 999}, CONTROL_ROLE_OPERATE},
        {"an operator listed as reader too operates", {.uid = 1001, .gid = 50},
         CONTROL_ROLE_OPERATE},
        {"an allowed group operates", {.uid = 1500, .gid = 2001}, CONTROL_ROLE_OPERATE},
        {"a read-only uid reads", {.uid = 1100, .gid = 50}, CONTROL_ROLE_READ},
        {"a read-only primary group reads", {.uid = 1500, .gid = 3001}, CONTROL_ROLE_READ},
        {"a read-only supplementary group reads",
         {.uid = 1500, .gid = 100, .groups = in_ro_group, .n_groups = 2},
         CONTROL_ROLE_READ},
        {"anyone else is refused", {.uid = 1500, .gid = 100}, CONTROL_ROLE_NONE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cr_assert_eq(control_peer_role(&rows[i].peer, &acl), rows[i].want, "%s", rows[i].rule);
        cr_assert_eq(control_peer_allowed(&rows[i].peer, &acl),
                     rows[i].want == CONTROL_ROLE_OPERATE, "%s (allowed)", rows[i].rule);
    }
}

Test(control, the_last_slots_are_kept_for_operators)
{
    static const struct {
        const char *rule;
        control_role_t role;
        unsigned open, max;
        bool want;
    } rows[] = {
        {"a reader gets a slot below the reserve", CONTROL_ROLE_READ, 27, 32, true},
        {"a reader is refused in the reserve", CONTROL_ROLE_READ, 28, 32, false},
        {"an operator gets a reserved slot", CONTROL_ROLE_OPERATE, 28, 32, true},
        {"an operator gets the last slot", CONTROL_ROLE_OPERATE, 31, 32, true},
        {"nobody gets more than max", CONTROL_ROLE_OPERATE, 32, 32, false},
        {"a tiny table still lets one reader in", CONTROL_ROLE_READ, 0, 2, true},
        {"and only one", CONTROL_ROLE_READ, 1, 2, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_assert_eq(control_slot_free(rows[i].role, rows[i].open, rows[i].max), rows[i].want,
                     "%s", rows[i].rule);
}

/* A client with a uid the server does not allow gets "forbidden", then EOF.
 * As root the client is a child that drops to nobody; otherwise the server
 * is told its own uid is another one, so the test's uid is a stranger. */
Test(control, a_forbidden_peer_is_told_and_disconnected, .timeout = 30)
{
    server_t *srv = xcalloc(1, sizeof *srv);
    make_dir(srv);
    control_opts_t o = test_opts(srv);
    o.mode = 0666;
    uid_t stranger = 65534;
    if (geteuid() != 0)
        o.acl.self_uid = geteuid() + 4242;
    chmod(srv->dir, 0755);
    server_start_opts(srv, &o);

    char reply[512] = "";
    if (geteuid() == 0) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            if (setgid(stranger) != 0 || setuid(stranger) != 0)
                _exit(2);
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un sa = {.sun_family = AF_UNIX};
            snprintf(sa.sun_path, sizeof sa.sun_path, "%s", srv->path);
            if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
                _exit(3);
            (void)!send(fd, "{\"cmd\":\"status\"}\n", 17, MSG_NOSIGNAL);
            char buf[512];
            size_t got = 0;
            ssize_t n;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            while (got < sizeof buf - 1 && poll(&p, 1, 3000) > 0 &&
                   (n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
                got += (size_t)n;
            (void)!write(fds[1], buf, got);
            _exit(0);
        }
        close(fds[1]);
        ssize_t n = read(fds[0], reply, sizeof reply - 1);
        int status;
        waitpid(pid, &status, 0);
        close(fds[0]);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        reply[n > 0 ? n : 0] = '\0';
    } else {
        client_t *c = cl_open(srv->path);
        bool eof;
        char *line = cl_line_eof(c, 3000, &eof);
        cr_assert_not_null(line);
        snprintf(reply, sizeof reply, "%s\n", line);
        free(line);
        cl_wait_closed(c, 3000);
        cl_close(c);
    }
    json_t *r = json_loads(reply, JSON_DISABLE_EOF_CHECK, NULL);
    cr_assert_not_null(r, "reply: %s", reply);
    cr_assert_str_eq(err_code(r), "forbidden");
    json_decref(r);
    /* Only one line: the request was never read. */
    cr_assert_eq(strchr(reply, '\n'), reply + strlen(reply) - 1, "reply: %s", reply);

    /* Root (this process, or the daemon itself) is still served. */
    if (geteuid() == 0) {
        client_t *c = cl_open(srv->path);
        r = call(c, "{\"cmd\":\"status\"}\n");
        cr_assert(json_is_true(json_object_get(r, "ok")));
        json_decref(r);
        cl_close(c);
    }
    server_stop(srv);
}

/* ---- the socket file ---- */

static void noop_closed(void *data)
{
    *(bool *)data = true;
}

/* Listen on a fresh loop in this thread, expecting success or failure. */
static void listen_once(const char *path, bool want_ok, const char *err_contains)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    control_opts_t o;
    control_opts_init(&o);
    o.path = path;
    control_t *ctl = control_create(&loop, &o);
    char err[256] = "";
    bool ok = control_listen(ctl, err, sizeof err);
    cr_assert_eq(ok, want_ok, "listen on %s: %s", path, err);
    if (err_contains)
        cr_assert(strstr(err, err_contains), "error: %s", err);
    bool closed = false;
    control_close(ctl, noop_closed, &closed);
    cr_assert(!closed, "the close callback must come from the loop");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert(closed);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(control, the_socket_file_stale_live_or_foreign, .timeout = 30)
{
    server_t tmp;
    make_dir(&tmp);

    /* A stale socket (its owner died without unlinking) is replaced. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", tmp.path);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    cr_assert_eq(access(tmp.path, F_OK), 0);
    listen_once(tmp.path, true, NULL);
    cr_assert(access(tmp.path, F_OK) != 0, "close must remove the socket");

    /* A regular file is not ours to remove. */
    FILE *f = fopen(tmp.path, "w");
    fputs("keep me\n", f);
    fclose(f);
    listen_once(tmp.path, false, "not a socket");
    cr_assert_eq(access(tmp.path, F_OK), 0, "the file must survive");
    unlink(tmp.path);

    /* A path that does not fit in sun_path. */
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    listen_once(longpath, false, "longer than");

    /* A missing directory. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir.sock", tmp.dir);
    listen_once(missing, false, "cannot bind");
    rmdir(tmp.dir);
}

Test(control, a_live_daemon_on_the_path_is_not_displaced, .timeout = 30)
{
    server_t *srv = server_start();
    listen_once(srv->path, false, "another process");
    /* The first server is untouched. */
    client_t *c = cl_open(srv->path);
    json_t *r = call(c, "{\"cmd\":\"status\"}\n");
    cr_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    cl_close(c);
    server_stop(srv);
}

Test(control, mode_and_group_are_set, .timeout = 30)
{
    server_t *srv = xcalloc(1, sizeof *srv);
    make_dir(srv);
    control_opts_t o = test_opts(srv);
    o.mode = 0640;
    o.gid = getegid(); /* a group this process may always give */
    server_start_opts(srv, &o);
    struct stat st;
    cr_assert_eq(stat(srv->path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", st.st_mode & 07777);
    cr_assert_eq(st.st_gid, getegid());
    server_stop(srv);
}
