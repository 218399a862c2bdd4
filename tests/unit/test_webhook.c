/* Webhooks against a real HTTP server on 127.0.0.1 (tests/unit/support/
 * http_recorder.py, which records every POST it gets): payloads, filters,
 * retries while the server is down and after 5xx, the per-request timeout
 * against a server that never answers, the queue bound, and closing. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "webhook.h"
#include "testutil.h"

extern char **environ;

static uv_loop_t loop;
static char dir[] = "/tmp/fo-webhook-XXXXXX";
static char records[256];
static int port;
static pid_t server = -1;

static void setup(void)
{
    log_set_level(LOG_LVL_ERROR);
    /* Requests to 127.0.0.1 must not go through a proxy of the environment. */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_not_null(mkdtemp(dir));
    snprintf(records, sizeof records, "%s/records.jsonl", dir);
    port = test_free_port();
}

static void stop_server(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        server = -1;
    }
}

static void teardown(void)
{
    stop_server();
    event_remove_all_sinks();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(webhook, .init = setup, .fini = teardown, .timeout = 30);

typedef struct {
    webhooks_t *w;
    const char *field;
    uint64_t at_least;
} stat_wait_t;

static uint64_t stat_of(webhooks_t *w, const char *field)
{
    webhooks_stats_t st;
    webhooks_stats(w, &st);
    if (strcmp(field, "delivered") == 0)
        return st.delivered;
    if (strcmp(field, "failures") == 0)
        return st.failures;
    if (strcmp(field, "dropped_failed") == 0)
        return st.dropped_failed;
    if (strcmp(field, "attempts") == 0)
        return st.attempts;
    cr_assert_fail("unknown stat %s", field);
    return 0;
}

static bool stat_reached(void *ud)
{
    stat_wait_t *s = ud;
    return stat_of(s->w, s->field) >= s->at_least;
}

static void wait_stat(webhooks_t *w, const char *field, uint64_t n, uint64_t max_ms)
{
    stat_wait_t s = {w, field, n};
    cr_assert(test_run_until_fn(&loop, stat_reached, &s, max_ms), "%s stayed at %llu (wanted %llu)",
              field, (unsigned long long)stat_of(w, field), (unsigned long long)n);
}

/* Starts the recorder on `port`; with wait, until it accepts connections. */
static void start_server(bool wait)
{
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    char *argv[] = {
        "python3", TEST_SUPPORT_DIR "/http_recorder.py", "--port", port_s, "--out", records, NULL};
    cr_assert_eq(posix_spawnp(&server, "python3", NULL, NULL, argv, environ), 0);
    if (!wait)
        return;
    for (int i = 0; i < 250; i++) { /* bounded: 5 s */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0)
            return;
        usleep(20000);
    }
    cr_assert_fail("the HTTP recorder did not start");
}

/* The recorded requests, as a JSON array. */
static json_t *recorded(void)
{
    json_t *arr = json_array();
    FILE *f = fopen(records, "r");
    if (!f)
        return arr;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "unreadable record %s", line);
        json_array_append_new(arr, j);
    }
    free(line);
    fclose(f);
    return arr;
}

static const char *rec_str(json_t *arr, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(arr, i), key));
}

static char *url(const char *path)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "http://127.0.0.1:%d%s", port, path);
    return buf_steal(&b);
}

static webhooks_t *make(const webhooks_opts_t *o)
{
    return webhooks_create(&loop, o);
}

static void add(webhooks_t *w, const char *path, webhook_format_t f, uint64_t timeout_ms,
                int retries, const char *cluster, const char *const *events, size_t n_events)
{
    char *u = url(path);
    webhook_endpoint_t e = {.cluster = cluster,
                            .url = u,
                            .format = f,
                            .timeout_ms = timeout_ms,
                            .retries = retries,
                            .events = events,
                            .n_events = n_events};
    char err[256] = "";
    cr_assert(webhooks_add(w, &e, err, sizeof err), "%s", err);
    free(u);
}

static bool closed;
static void on_closed(void *ud)
{
    (void)ud;
    closed = true;
}

static void close_and_check(webhooks_t *w, uint64_t flush_ms)
{
    closed = false;
    webhooks_close(w, flush_ms, on_closed, NULL);
    cr_assert(test_run_until(&loop, &closed, flush_ms + 3000), "webhooks_close did not finish");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

static void emit_dead(void)
{
    event_emit(LOG_LVL_ERROR, "primary_dead", "main", "db1",
               json_pack("{s:s, s:I, s:s}", "verdict", "dead", "failing_ms", (json_int_t)812,
                         "password", "hunter2"),
               "primary db1 is dead");
}

Test(webhook, urls_are_logged_without_their_secrets)
{
    static const struct {
        const char *url, *log;
    } cases[] = {
        {"https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/..."},
        {"http://user:pw@example.com:8080/hook?token=1", "http://example.com:8080/..."},
        {"http://example.com", "http://example.com"},
        {"http://example.com/", "http://example.com"},
        {"example.com/x", "(invalid URL)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        webhook_url_for_log(cases[i].url, &b);
        cr_assert_str_eq(buf_str(&b), cases[i].log, "%s", cases[i].url);
        buf_free(&b);
    }
    webhooks_t *w = make(NULL);
    webhook_endpoint_t e = {.url = "ftp://example.com/x"};
    char err[256] = "";
    cr_assert_not(webhooks_add(w, &e, err, sizeof err));
    cr_assert_str_eq(err,
                     "webhook URL \"ftp://example.com/x\" is not an http:// or https:// address");
    close_and_check(w, 0);
}

Test(webhook, a_json_payload_is_the_whole_event_and_emit_does_not_wait)
{
    start_server(true);
    webhooks_t *w = make(NULL);
    add(w, "/json", WEBHOOK_JSON, 2000, 0, "main", NULL, 0);
    uint64_t t0 = uv_hrtime();
    emit_dead();
    uint64_t emit_us = (uv_hrtime() - t0) / 1000;
    cr_assert(emit_us < 50000, "event_emit took %llu us", (unsigned long long)emit_us);
    webhooks_stats_t st;
    webhooks_stats(w, &st);
    cr_assert_eq(st.delivered, 0, "nothing is delivered from within event_emit");
    wait_stat(w, "delivered", 1, 5000);

    json_t *recs = recorded();
    cr_assert_eq(json_array_size(recs), 1);
    cr_assert_str_eq(rec_str(recs, 0, "path"), "/json");
    cr_assert_str_eq(rec_str(recs, 0, "content_type"), "application/json");
    cr_assert_str_eq(rec_str(recs, 0, "user_agent"), "failoverd/" FAILOVERD_VERSION);
    json_t *body = json_loads(rec_str(recs, 0, "body"), 0, NULL);
    cr_assert_not_null(body);
    cr_assert_str_eq(json_string_value(json_object_get(body, "event")), "primary_dead");
    cr_assert_str_eq(json_string_value(json_object_get(body, "cluster")), "main");
    cr_assert_str_eq(json_string_value(json_object_get(body, "node")), "db1");
    cr_assert_str_eq(json_string_value(json_object_get(body, "level")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(body, "message")), "primary db1 is dead");
    cr_assert_eq(json_integer_value(json_object_get(body, "failing_ms")), 812);
    cr_assert_str_eq(json_string_value(json_object_get(body, "password")), "********");
    cr_assert_not_null(json_object_get(body, "time"));
    json_decref(body);
    json_decref(recs);
    close_and_check(w, 0);
}

Test(webhook, a_slack_payload_is_one_text_line)
{
    start_server(true);
    webhooks_t *w = make(NULL);
    add(w, "/slack", WEBHOOK_SLACK, 2000, 0, "main", NULL, 0);
    emit_dead();
    event_emit(LOG_LVL_NOTICE, "daemon_started", NULL, NULL, NULL, "failoverd started");
    wait_stat(w, "delivered", 2, 5000);
    json_t *recs = recorded();
    cr_assert_eq(json_array_size(recs), 2);
    cr_assert_str_eq(rec_str(recs, 0, "body"),
                     "{\"text\":\"[main] primary_dead: primary db1 is dead\"}");
    cr_assert_str_eq(rec_str(recs, 1, "body"),
                     "{\"text\":\"[failoverd] daemon_started: failoverd started\"}");
    json_decref(recs);
    close_and_check(w, 0);
}

Test(webhook, endpoints_get_their_cluster_and_the_events_they_name)
{
    start_server(true);
    webhooks_t *w = make(NULL);
    static const char *const only[] = {"failover_done", "daemon_started"};
    add(w, "/main", WEBHOOK_JSON, 2000, 0, "main", only, 2);
    add(w, "/other", WEBHOOK_JSON, 2000, 0, "other", NULL, 0);
    add(w, "/main", WEBHOOK_JSON, 2000, 0, "third", NULL, 0); /* the same URL for another cluster */
    event_emit(LOG_LVL_WARN, "node_down", "main", "db2", NULL, "filtered out by name");
    event_emit(LOG_LVL_NOTICE, "failover_done", "other", "x", NULL, "to /other only");
    event_emit(LOG_LVL_NOTICE, "failover_done", "main", "db2", NULL, "to /main");
    event_emit(LOG_LVL_NOTICE, "daemon_started", NULL, NULL, NULL, "daemon-wide: to each URL once");
    wait_stat(w, "delivered", 4, 5000);
    bool never = false;
    test_run_until(&loop, &never, 200); /* nothing more arrives */
    json_t *recs = recorded();
    cr_assert_eq(json_array_size(recs), 4);
    int main_n = 0, other_n = 0;
    for (size_t i = 0; i < 4; i++) {
        json_t *b = json_loads(rec_str(recs, i, "body"), 0, NULL);
        const char *ev = json_string_value(json_object_get(b, "event"));
        const char *cl = json_string_value(json_object_get(b, "cluster"));
        if (strcmp(rec_str(recs, i, "path"), "/main") == 0) {
            main_n++;
            cr_assert(strcmp(ev, "daemon_started") == 0 ||
                      (strcmp(ev, "failover_done") == 0 && strcmp(cl, "main") == 0));
        } else {
            other_n++;
            cr_assert(strcmp(ev, "daemon_started") == 0 ||
                      (strcmp(ev, "failover_done") == 0 && strcmp(cl, "other") == 0));
        }
        json_decref(b);
    }
    cr_assert_eq(main_n, 2);
    cr_assert_eq(other_n, 2);
    json_decref(recs);
    close_and_check(w, 0);
}

Test(webhook, a_request_is_retried_until_the_server_comes_up)
{
    webhooks_opts_t o = {.backoff_base_ms = 200, .backoff_max_ms = 400};
    webhooks_t *w = make(&o);
    add(w, "/late", WEBHOOK_JSON, 2000, 10, "main", NULL, 0);
    emit_dead();
    wait_stat(w, "failures", 1, 3000); /* connection refused: nobody listens yet */
    cr_assert_eq(stat_of(w, "delivered"), 0);
    start_server(false);
    wait_stat(w, "delivered", 1, 8000);
    webhooks_stats_t st;
    webhooks_stats(w, &st);
    cr_assert_geq(st.attempts, 2);
    cr_assert_eq(st.attempts, st.failures + 1);
    cr_assert_eq(st.waiting, 0);
    json_t *recs = recorded();
    cr_assert_eq(json_array_size(recs), 1, "delivered once");
    cr_assert(strstr(rec_str(recs, 0, "body"), "\"primary_dead\""));
    json_decref(recs);
    close_and_check(w, 0);
}

Test(webhook, server_errors_are_retried_and_client_errors_are_not)
{
    start_server(true);
    webhooks_opts_t o = {.backoff_base_ms = 50, .backoff_max_ms = 100};
    webhooks_t *w = make(&o);
    add(w, "/fail/2/x", WEBHOOK_JSON, 2000, 5, "main", NULL, 0);
    emit_dead();
    wait_stat(w, "delivered", 1, 5000);
    cr_assert_eq(stat_of(w, "attempts"), 3, "two 503s, then 200");
    webhooks_clear(w);

    add(w, "/status/404", WEBHOOK_JSON, 2000, 5, "main", NULL, 0);
    emit_dead();
    wait_stat(w, "dropped_failed", 1, 5000);
    cr_assert_eq(stat_of(w, "attempts"), 4, "a 404 is not retried");

    webhooks_clear(w);
    add(w, "/fail/9/y", WEBHOOK_JSON, 2000, 2, "main", NULL, 0);
    emit_dead();
    wait_stat(w, "dropped_failed", 2, 5000);
    cr_assert_eq(stat_of(w, "attempts"), 7, "given up after 1 + 2 retries");
    close_and_check(w, 0);
}

Test(webhook, a_server_that_never_answers_meets_the_request_timeout)
{
    start_server(true);
    webhooks_t *w = make(NULL);
    add(w, "/hang", WEBHOOK_JSON, 300, 0, "main", NULL, 0);
    uint64_t t0 = uv_now(&loop);
    emit_dead();
    wait_stat(w, "dropped_failed", 1, 3000);
    uint64_t took = uv_now(&loop) - t0;
    cr_assert(took >= 280 && took < 1500, "gave up after %llu ms", (unsigned long long)took);
    json_t *recs = recorded();
    cr_assert_eq(json_array_size(recs), 1, "the server got the request");
    json_decref(recs);
    close_and_check(w, 0);
}

Test(webhook, the_queue_is_bounded_and_drops_the_oldest)
{
    webhooks_opts_t o = {.queue_max = 3, .backoff_base_ms = 300, .backoff_max_ms = 300};
    webhooks_t *w = make(&o);
    add(w, "/q", WEBHOOK_SLACK, 2000, 20, "main", NULL, 0);
    for (int i = 1; i <= 10; i++)
        event_emit(LOG_LVL_WARN, "node_down", "main", "db2", NULL, "event %d", i);
    webhooks_stats_t st;
    webhooks_stats(w, &st);
    cr_assert_eq(st.dropped_full, 6, "event 1 in flight, 3 waiting, 6 dropped");
    cr_assert_eq(st.waiting, 4);
    start_server(false);
    wait_stat(w, "delivered", 4, 8000);
    json_t *recs = recorded();
    static const char *const want[] = {"event 1", "event 8", "event 9", "event 10"};
    size_t n = json_array_size(recs);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_lt(k, 4, "more deliveries than expected");
        char expect[128];
        snprintf(expect, sizeof expect, "{\"text\":\"[main] node_down: %s\"}", want[k]);
        cr_assert_str_eq(rec_str(recs, i, "body"), expect, "in order, the oldest dropped");
        k++;
    }
    cr_assert_eq(k, 4);
    json_decref(recs);
    close_and_check(w, 0);
}

Test(webhook, close_flushes_what_it_can_within_its_bound)
{
    start_server(true);
    webhooks_t *w = make(NULL);
    add(w, "/flush", WEBHOOK_JSON, 2000, 0, "main", NULL, 0);
    event_emit(LOG_LVL_NOTICE, "daemon_stopping", NULL, NULL, NULL, "failoverd is stopping");
    closed = false;
    webhooks_close(w, 2000, on_closed, NULL);
    cr_assert(test_run_until(&loop, &closed, 5000));
    json_t *recs = recorded();
    cr_assert_eq(json_array_size(recs), 1, "the last event went out before the close");
    json_decref(recs);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(webhook, close_gives_up_on_a_dead_receiver_after_the_flush_bound)
{
    webhooks_opts_t o = {.backoff_base_ms = 100};
    webhooks_t *w = make(&o);
    add(w, "/dead", WEBHOOK_JSON, 2000, 50, "main", NULL, 0);
    emit_dead();
    uint64_t t0 = uv_now(&loop);
    closed = false;
    webhooks_close(w, 300, on_closed, NULL);
    cr_assert(test_run_until(&loop, &closed, 3000));
    uint64_t took = uv_now(&loop) - t0;
    cr_assert(took >= 290 && took < 1500, "closed after %llu ms", (unsigned long long)took);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
