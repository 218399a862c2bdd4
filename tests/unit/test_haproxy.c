/* test_haproxy.c - the HAProxy plugin's commands and answers (hapcmd.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "testutil.h"
#include "hapcmd.h"

Test(haproxy, commands_take_the_old_writer_out_first)
{
    hap_server_t s[] = {
        {.node = "db1", .server = "db1", .writer = false, .reader = false, .was_writer = true},
        {.node = "db2", .server = "s2", .writer = true, .reader = false, .was_writer = false},
        {.node = "db3", .server = "db3", .writer = false, .reader = true, .was_writer = false},
    };
    putil_str_t out = {0};
    hap_commands(s, 3, "writer", "reader", &out);
    cr_expect_str_eq(putil_str_get(&out),
                     "set server writer/db1 state maint; shutdown sessions server writer/db1; "
                     "set server writer/db3 state maint; set server writer/s2 state ready; "
                     "set server reader/db1 state maint; set server reader/s2 state maint; "
                     "set server reader/db3 state ready\n");
    putil_str_free(&out);
    hap_commands(s, 3, "w", "", &out);
    cr_expect_str_eq(putil_str_get(&out), "set server w/db1 state maint; shutdown sessions "
                                          "server w/db1; set server w/db3 state maint; set "
                                          "server w/s2 state ready\n");
    putil_str_free(&out);
}

Test(haproxy, answers)
{
    char why[64];
    cr_expect(hap_answer_ok("", why, sizeof why));
    cr_expect(hap_answer_ok("\n\n\n", why, sizeof why));
    cr_expect(!hap_answer_ok("\nNo such server.\n\n", why, sizeof why));
    cr_expect_str_eq(why, "No such server.");
    cr_expect(!hap_answer_ok("Permission denied\n", why, sizeof why));
    cr_expect_str_eq(why, "Permission denied");
}

Test(haproxy, routing_event)
{
    hap_server_t s[] = {{.node = "db1", .server = "db1"}, {.node = "db2", .server = "db2"}};
    char why[128];
    cr_assert(hap_read_routing("{\"event\":\"routing_changed\",\"nodes\":[{\"name\":\"db1\","
                               "\"writer\":true,\"reader\":false},{\"name\":\"db2\",\"writer\":"
                               "false,\"reader\":true}]}",
                               s, 2, why, sizeof why));
    cr_expect(s[0].writer && !s[0].reader && !s[1].writer && s[1].reader);
    cr_expect(!hap_read_routing("{\"event\":\"node_up\"}", s, 2, why, sizeof why));
    cr_expect(!hap_read_routing("not json", s, 2, why, sizeof why));
}

/* ---- the built plugin against a fake HAProxy stats socket ---------------- */

#include <uv.h>

#include "buf.h"
#include "plugin.h"

static uv_loop_t loop;
static char dir[] = "/tmp/fo-hap-XXXXXX";
static char sock[300];
static uv_pipe_t server;
static bool server_on;
static const char *reply;  /* what the fake answers; NULL: never answers */
static buf_t request;      /* what it was sent, every request */
static uv_pipe_t *silent;  /* the connection it keeps unanswered */

static void on_closed(uv_handle_t *h)
{
    free(h);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    uv_close((uv_handle_t *)w->handle, on_closed);
    free(w);
}

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(n);
    b->len = n;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n > 0) {
        buf_append(&request, b->base, (size_t)n);
        if (memchr(b->base, '\n', (size_t)n)) {
            uv_read_stop(s);
            if (!reply) {
                silent = (uv_pipe_t *)s;
            } else {
                uv_write_t *w = malloc(sizeof *w);
                uv_buf_t out = uv_buf_init((char *)reply, (unsigned)strlen(reply));
                uv_write(w, s, &out, 1, on_written);
            }
        }
    } else if (n < 0) {
        uv_close((uv_handle_t *)s, on_closed);
    }
    free(b->base);
}

static void on_connection(uv_stream_t *s, int status)
{
    cr_assert_eq(status, 0);
    uv_pipe_t *c = malloc(sizeof *c);
    uv_pipe_init(&loop, c, 0);
    cr_assert_eq(uv_accept(s, (uv_stream_t *)c), 0);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    snprintf(sock, sizeof sock, "%s/admin.sock", dir);
    uv_loop_init(&loop);
    request = (buf_t)BUF_INIT;
    reply = "\n";
    silent = NULL;
    server_on = false;
}

static void start_server(void)
{
    uv_pipe_init(&loop, &server, 0);
    cr_assert_eq(uv_pipe_bind(&server, sock), 0);
    cr_assert_eq(uv_listen((uv_stream_t *)&server, 8, on_connection), 0);
    server_on = true;
}

static void teardown(void)
{
    buf_free(&request);
    unlink(sock);
    rmdir(dir);
}

TestSuite(hapsock, .init = setup, .fini = teardown, .timeout = 30);

static failoverd_kv_t db2_vars[] = {{"haproxy_server", "mysql2"}};
static failoverd_node_t nodes[] = {{.name = "db1", .host = "10.0.0.1", .port = 3306},
                                   {.name = "db2", .host = "10.0.0.2", .port = 3306,
                                    .vars = db2_vars, .n_vars = 1}};

static plugin_t *load(const char *timeout)
{
    failoverd_kv_t kv[] = {{"socket", sock}, {"timeout", timeout}};
    plugin_opts_t o = {.path = HAPROXY_PLUGIN, .cluster = "main", .config = kv, .n_config = 2,
                       .nodes = nodes, .n_nodes = 2};
    char err[512] = "";
    plugin_t *p = plugin_load(&loop, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    return p;
}

typedef struct {
    bool done;
    failoverd_outcome_t outcome;
    char message[512];
} answer_t;

static void on_answer(const plugin_result_t *r, void *ud)
{
    answer_t *a = ud;
    a->done = true;
    a->outcome = r->outcome;
    snprintf(a->message, sizeof a->message, "%s", r->message);
}

static void route(plugin_t *p, answer_t *a)
{
    static const char ev[] = "{\"event\":\"routing_changed\",\"nodes\":[{\"name\":\"db1\","
                             "\"writer\":true,\"reader\":false},{\"name\":\"db2\",\"writer\":"
                             "false,\"reader\":true}]}";
    failoverd_context_t ctx = {.size = sizeof ctx, .point = FAILOVERD_HOOK_ROUTING,
                               .hook = "routing", .cluster = "main", .event = "routing_changed",
                               .event_json = ev};
    *a = (answer_t){0};
    plugin_call(p, &ctx, 10000, on_answer, a);
    test_run_until(&loop, &a->done, 10000);
    cr_assert(a->done, "no answer");
}

static bool unloaded;
static void on_unloaded(void *ud)
{
    (void)ud;
    unloaded = true;
}

static void finish(plugin_t *p)
{
    unloaded = false;
    plugin_unload(p, on_unloaded, NULL);
    test_run_until(&loop, &unloaded, 5000);
    cr_assert(unloaded);
    if (silent)
        uv_close((uv_handle_t *)silent, on_closed);
    if (server_on)
        uv_close((uv_handle_t *)&server, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

Test(hapsock, the_view_becomes_commands)
{
    start_server();
    plugin_t *p = load("1s");
    answer_t a;
    route(p, &a);
    cr_expect_eq(a.outcome, FAILOVERD_DONE_OK, "%s", a.message);
    cr_expect(strstr(a.message, "writer db1, readers mysql2"), "%s", a.message);
    cr_expect_str_eq(buf_str(&request),
                     "set server writer/mysql2 state maint; shutdown sessions server "
                     "writer/mysql2; set server writer/db1 state ready; set server reader/db1 "
                     "state maint; set server reader/mysql2 state ready\n");
    finish(p);
}

Test(hapsock, a_refusal_is_a_failure_with_its_words)
{
    start_server();
    reply = "No such server.\n\n";
    plugin_t *p = load("1s");
    answer_t a;
    route(p, &a);
    cr_expect_eq(a.outcome, FAILOVERD_DONE_FAILED);
    cr_expect(strstr(a.message, "refused: No such server."), "%s", a.message);
    finish(p);
}

Test(hapsock, a_missing_socket_fails_at_once)
{
    plugin_t *p = load("1s");
    answer_t a;
    uint64_t t0 = uv_now(&loop);
    route(p, &a);
    cr_expect_eq(a.outcome, FAILOVERD_DONE_FAILED);
    cr_expect(strstr(a.message, "connect: No such file or directory"), "%s", a.message);
    cr_expect_lt(uv_now(&loop) - t0, 500);
    finish(p);
}

Test(hapsock, silence_is_bounded_by_the_timeout)
{
    start_server();
    reply = NULL;
    plugin_t *p = load("100ms");
    answer_t a;
    uint64_t t0 = uv_now(&loop);
    route(p, &a);
    uint64_t took = uv_now(&loop) - t0;
    cr_expect_eq(a.outcome, FAILOVERD_DONE_FAILED);
    cr_expect(strstr(a.message, "no answer within 100 ms"), "%s", a.message);
    cr_expect(took >= 90 && took < 2000, "%llu ms", (unsigned long long)took);
    finish(p);
}
