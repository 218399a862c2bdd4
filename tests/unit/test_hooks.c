/* Script hooks and the dispatcher: real commands (tests/unit/data/hooks/) run on
 * the loop with the context in their environment; exit codes veto or fail;
 * timeouts kill the whole process group; output is captured within bounds;
 * scripts and plugins of one point run in parallel; events feed their points. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "child.h"
#include "hooks.h"
#include "log.h"
#include "testutil.h"

#define HOOKS TEST_DATA_DIR "/hooks"

static uv_loop_t loop;
static char dir[] = "/tmp/fo-hooks-XXXXXX";

static void setup(void)
{
    log_set_level(LOG_LVL_ERROR);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    event_remove_all_sinks();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(hooks, .init = setup, .fini = teardown, .timeout = 30);

static char *path_in_dir(const char *name)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s/%s", dir, name);
    return buf_steal(&b);
}

/* Waits (running the loop) until a file exists; returns its content. */
static char *wait_file(const char *path, uint64_t max_ms)
{
    uint64_t end = uv_now(&loop) + max_ms;
    char *s;
    bool never = false;
    while (!(s = test_slurp(path)) && uv_now(&loop) < end)
        test_run_until(&loop, &never, 20);
    return s;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return false;
}

/* A process that is gone or a zombie no one reaped yet. */
static bool gone(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *st = test_slurp(path);
    if (!st)
        return true;
    const char *close = strrchr(st, ')');
    bool zombie = close && close[1] == ' ' && close[2] == 'Z';
    free(st);
    return zombie;
}

static const failoverd_node_t nodes[] = {
    {.name = "db1", .host = "10.0.0.1", .port = 3306},
    {.name = "db2", .host = "10.0.0.2", .port = 3307},
};

static hooks_settings_t settings(void)
{
    return (hooks_settings_t){.cluster = "main",
                              .policy = "reliability",
                              .timeout_ms = 5000,
                              .kill_grace_ms = 300,
                              .nodes = nodes,
                              .n_nodes = 2};
}

static hooks_t *make(const hooks_settings_t *s)
{
    char err[256] = "";
    hooks_t *h = hooks_create(&loop, s, err, sizeof err);
    cr_assert_not_null(h, "%s", err);
    return h;
}

static bool closed;
static void on_closed(void *ud)
{
    (void)ud;
    closed = true;
}

static void close_all(hooks_t *h)
{
    closed = false;
    hooks_close(h, on_closed, NULL);
    test_run_until(&loop, &closed, 5000);
    cr_assert(closed, "hooks_close did not finish");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

/* A copy of a report, kept after its callback. */
typedef struct {
    bool done;
    int calls;
    hooks_outcome_t outcome;
    size_t n_results, n_vetoed, n_failed;
    uint64_t elapsed_ms;
    hooks_outcome_t outcomes[4];
    char who[4][128];
    char detail[4][256];
    char out[4][2048];
    size_t out_len[4];
    char err[4][256];
} report_t;

static void on_report(const hooks_report_t *r, void *ud)
{
    report_t *rep = ud;
    rep->calls++;
    rep->done = true;
    rep->outcome = r->outcome;
    rep->n_results = r->n_results;
    rep->n_vetoed = r->n_vetoed;
    rep->n_failed = r->n_failed;
    rep->elapsed_ms = r->elapsed_ms;
    for (size_t i = 0; i < r->n_results && i < 4; i++) {
        rep->outcomes[i] = r->results[i].outcome;
        snprintf(rep->who[i], sizeof rep->who[i], "%s", r->results[i].who);
        snprintf(rep->detail[i], sizeof rep->detail[i], "%s", r->results[i].detail);
        snprintf(rep->out[i], sizeof rep->out[i], "%.*s", (int)r->results[i].out_len,
                 r->results[i].out);
        rep->out_len[i] = r->results[i].out_len;
        snprintf(rep->err[i], sizeof rep->err[i], "%.*s", (int)r->results[i].err_len,
                 r->results[i].err);
    }
}

static report_t run_point(hooks_t *h, failoverd_hook_point_t pt, const failoverd_context_t *c,
                          uint64_t max_ms)
{
    report_t rep = {0};
    hooks_run_point(h, pt, c, on_report, &rep);
    cr_assert_not(rep.done, "never answered from within hooks_run_point");
    test_run_until(&loop, &rep.done, max_ms);
    cr_assert(rep.done, "no report within %llu ms", (unsigned long long)max_ms);
    return rep;
}

/* Events seen by a test sink. */
static char seen_events[1024];
static void record_sink(const event_t *ev, void *ud)
{
    (void)ud;
    size_t n = strlen(seen_events);
    snprintf(seen_events + n, sizeof seen_events - n, "%s ", ev->name);
}

Test(hooks, names_and_the_event_map)
{
    failoverd_hook_point_t p;
    cr_assert(hooks_point_parse("switchover_before", &p));
    cr_assert_eq(p, FAILOVERD_HOOK_SWITCHOVER_BEFORE);
    cr_assert_not(hooks_point_parse("pre-failover", &p));
    cr_assert_str_eq(hooks_point_name(FAILOVERD_HOOK_POST_PROMOTION), "post_promotion");
    cr_assert(hooks_point_may_veto(FAILOVERD_HOOK_PRE_FAILOVER));
    cr_assert(hooks_point_may_veto(FAILOVERD_HOOK_SWITCHOVER_BEFORE));
    cr_assert_not(hooks_point_may_veto(FAILOVERD_HOOK_FENCE));

    static const struct {
        const char *event;
        int point;
    } map[] = {
        {"primary_dead", FAILOVERD_HOOK_DETECTION},
        {"primary_suspect", -1},
        {"primary_unreachable", -1},
        {"failover_started", -1}, /* the executor runs pre_failover itself */
        {"failover_done", -1},    /* post_failover is the plan's last step */
        {"failover_failed", FAILOVERD_HOOK_FAILOVER_FAILED},
        {"failover_aborted", FAILOVERD_HOOK_FAILOVER_FAILED},
        {"switchover_started", -1},
        {"switchover_done", -1}, /* so is switchover_after, when it succeeded */
        {"switchover_failed", FAILOVERD_HOOK_SWITCHOVER_AFTER},
        {"switchover_rolled_back", FAILOVERD_HOOK_SWITCHOVER_AFTER},
        {"node_down", FAILOVERD_HOOK_NODE_DOWN},
        {"node_up", FAILOVERD_HOOK_NODE_UP},
        {"config_reloaded", -1},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        cr_assert_eq(hooks_point_of_event(map[i].event), map[i].point, "%s", map[i].event);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(hooks, a_relative_command_is_refused_and_a_missing_one_fails_when_run)
{
    char err[256] = "";
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_FENCE] = "bin/fence --hard";
    cr_assert_null(hooks_create(&loop, &s, err, sizeof err));
    cr_assert_str_eq(err, "hook fence: \"bin/fence --hard\" is not an absolute path");

    s.cmd[FAILOVERD_HOOK_FENCE] = "/nonexistent/fence";
    hooks_t *h = make(&s);
    report_t r = run_point(h, FAILOVERD_HOOK_FENCE, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_FAILED);
    cr_assert_eq(r.outcomes[0], HOOKS_SPAWN_ERROR);
    cr_assert(strstr(r.detail[0], "could not start: no such file or directory"), "%s", r.detail[0]);
    close_all(h);
}

/* Nothing of the daemon's environment but a fixed PATH and a few locale and
 * user variables: not systemd's sockets, not a caller's shell. */
Test(hooks, the_script_gets_a_clean_environment)
{
    setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
    setenv("WATCHDOG_USEC", "10000000", 1);
    setenv("CALLER_SECRET", "hunter2", 1);
    setenv("PATH", "/home/someone/bin:/usr/bin", 1);
    setenv("TZ", "UTC", 1);
    char *env = path_in_dir("env");
    buf_t cmd = BUF_INIT;
    buf_printf(&cmd, HOOKS "/env.sh %s", env);
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_POST_PROMOTION] = buf_str(&cmd);
    hooks_t *h = make(&s);
    report_t r = run_point(h, FAILOVERD_HOOK_POST_PROMOTION, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_OK, "%s", r.detail[0]);
    char *e = test_slurp(env);
    cr_assert_not_null(e);
    cr_expect(has_line(e, "PATH=" CHILD_PATH), "the fixed PATH:\n%s", e);
    cr_expect(has_line(e, "TZ=UTC"), "TZ is passed on:\n%s", e);
    cr_expect_null(strstr(e, "NOTIFY_SOCKET"), "%s", e);
    cr_expect_null(strstr(e, "WATCHDOG_USEC"), "%s", e);
    cr_expect_null(strstr(e, "CALLER_SECRET"), "%s", e);
    cr_expect_null(strstr(e, "/home/someone/bin"), "%s", e);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("CALLER_SECRET");
    free(e);
    free(env);
    buf_free(&cmd);
    close_all(h);
}

static void child_done(const child_result_t *r, void *ud)
{
    *(int *)ud = r->status == CHILD_EXITED ? r->exit_code : -1;
}

/* A plugin's command (no clean environment) keeps the daemon's environment,
 * but never the service manager's sockets. */
Test(hooks, a_plugin_command_never_gets_systemd_s_variables)
{
    setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
    setenv("WATCHDOG_PID", "1", 1);
    setenv("LISTEN_FDS", "1", 1);
    setenv("PLUGIN_VISIBLE", "yes", 1);
    char *env = path_in_dir("env");
    const char *argv[] = {"/bin/sh", HOOKS "/env.sh", env, NULL};
    child_opts_t o = {.argv = argv, .timeout_ms = 5000};
    int rc = -2;
    cr_assert_eq(child_start(&loop, &o, child_done, &rc), 0);
    while (rc == -2)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(rc, 0);
    char *e = test_slurp(env);
    cr_assert_not_null(e);
    cr_expect(has_line(e, "PLUGIN_VISIBLE=yes"), "%s", e);
    cr_expect_null(strstr(e, "NOTIFY_SOCKET"), "%s", e);
    cr_expect_null(strstr(e, "WATCHDOG_PID"), "%s", e);
    cr_expect_null(strstr(e, "LISTEN_FDS"), "%s", e);
    free(e);
    free(env);
}

/* A veto's reason: the last line of the script's stderr that says something. */
Test(hooks, the_reason_of_a_result_has_the_last_line_of_stderr)
{
    static const struct {
        const char *err;
        const char *want;
    } rows[] = {
        {"", "script /x: exited with status 1"},
        {"replica db2 lags 40 s\n", "script /x: exited with status 1: replica db2 lags 40 s"},
        {"first\nsecond line\n\n  \n", "script /x: exited with status 1: second line"},
        {"bell\a and\ttab", "script /x: exited with status 1: bell? and?tab"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        hooks_result_t r = {.who = "script /x", .outcome = HOOKS_VETOED,
                            .detail = "exited with status 1", .err = rows[i].err,
                            .err_len = strlen(rows[i].err)};
        char out[512];
        hooks_result_reason(&r, out, sizeof out);
        cr_expect_str_eq(out, rows[i].want);
    }
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hooks_result_t r = {.who = "script /x", .detail = "d", .err = big, .err_len = strlen(big)};
    char out[512];
    hooks_result_reason(&r, out, sizeof out);
    cr_expect_eq(strlen(out), strlen("script /x: d: ") + 200, "at most 200 bytes of stderr");
}

Test(hooks, the_script_gets_the_context_in_its_environment_and_on_stdin)
{
    char *env = path_in_dir("env");
    buf_t cmd = BUF_INIT;
    buf_printf(&cmd, HOOKS "/env.sh %s", env);
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_POST_PROMOTION] = buf_str(&cmd);
    hooks_t *h = make(&s);

    static const failoverd_timing_t timings[] = {{"detection_ms", 812}, {"total_ms", 1433}};
    failoverd_context_t c = {
        .event = "failover_step",
        .operation = "fo-20261123-1",
        .old_primary = {.name = "db1"}, /* host and port come from the settings */
        .new_primary = {.name = "db2", .host = "192.168.1.2", .port = 3310},
        .candidate = {.name = "db2"},
        .lost_gtids = "0-1-100",
        .errant_gtids = "3E11FA47-71CA-11E1-9E33-C80AA9429562:23-25",
        .timings = timings,
        .n_timings = 2,
        .message = "db2 is the new primary; moving traffic",
        .lost_at_least = 412,
        .lost_as_of = "2026-11-23T22:50:01.123Z",
    };
    report_t r = run_point(h, FAILOVERD_HOOK_POST_PROMOTION, &c, 3000);
    cr_assert_eq(r.outcome, HOOKS_OK, "%s", r.detail[0]);
    cr_assert_eq(r.n_results, 1);
    cr_assert_str_eq(r.detail[0], "exited with status 0");

    char *e = test_slurp(env);
    cr_assert_not_null(e);
    static const char *const want[] = {
        "FAILOVERD_HOOK=post_promotion",
        "FAILOVERD_CLUSTER=main",
        "FAILOVERD_EVENT=failover_step",
        "FAILOVERD_OPERATION=fo-20261123-1",
        "FAILOVERD_POLICY=reliability",
        "FAILOVERD_NODE=",
        "FAILOVERD_NODE_HOST=",
        "FAILOVERD_NODE_PORT=",
        "FAILOVERD_OLD_PRIMARY=db1",
        "FAILOVERD_OLD_PRIMARY_HOST=10.0.0.1",
        "FAILOVERD_OLD_PRIMARY_PORT=3306",
        "FAILOVERD_NEW_PRIMARY=db2",
        "FAILOVERD_NEW_PRIMARY_HOST=192.168.1.2",
        "FAILOVERD_NEW_PRIMARY_PORT=3310",
        "FAILOVERD_CANDIDATE=db2",
        "FAILOVERD_CANDIDATE_HOST=10.0.0.2",
        "FAILOVERD_CANDIDATE_PORT=3307",
        "FAILOVERD_LOST_GTIDS=0-1-100",
        "FAILOVERD_ERRANT_GTIDS=3E11FA47-71CA-11E1-9E33-C80AA9429562:23-25",
        "FAILOVERD_LOST_AT_LEAST=412",
        "FAILOVERD_LOST_AS_OF=2026-11-23T22:50:01.123Z",
        "FAILOVERD_MESSAGE=db2 is the new primary; moving traffic",
        "FAILOVERD_TIMING_DETECTION_MS=812",
        "FAILOVERD_TIMING_TOTAL_MS=1433",
        "FAILOVERD_TIMINGS=detection_ms=812 total_ms=1433",
        ("FAILOVERD_VERSION=" FAILOVERD_VERSION), /* one element: parenthesized for clang */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(has_line(e, want[i]), "missing %s in:\n%s", want[i], e);
    cr_assert(has_line(e, "PATH=" CHILD_PATH), "a fixed PATH");

    /* The JSON (made from the context here) is in the environment and on stdin. */
    const char *j = strstr(e, "FAILOVERD_EVENT_JSON=");
    cr_assert_not_null(j);
    j += strlen("FAILOVERD_EVENT_JSON=");
    json_error_t je;
    json_t *doc = json_loadb(j, strcspn(j, "\n"), 0, &je);
    cr_assert_not_null(doc, "%s", je.text);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "hook")), "post_promotion");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(doc, "old_primary"), "host")),
        "10.0.0.1");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(doc, "timings"), "total_ms")),
                 1433);
    json_decref(doc);
    char *stdin_path = path_in_dir("env.stdin");
    char *in = test_slurp(stdin_path);
    cr_assert_not_null(in);
    cr_assert_eq(strncmp(in, j, strcspn(j, "\n")), 0, "stdin carries the same JSON");
    free(in);
    free(stdin_path);
    free(e);
    free(env);
    buf_free(&cmd);
    close_all(h);
}

Test(hooks, a_non_zero_exit_vetoes_only_where_a_veto_is_possible)
{
    event_add_sink(record_sink, NULL);
    seen_events[0] = '\0';
    char *env = path_in_dir("env");
    buf_t exit3 = BUF_INIT;
    buf_printf(&exit3, HOOKS "/env.sh  %s\t3 ", env);
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_PRE_FAILOVER] = "/bin/false";
    s.cmd[FAILOVERD_HOOK_SWITCHOVER_BEFORE] = buf_str(&exit3);
    s.cmd[FAILOVERD_HOOK_POST_FAILOVER] = "/bin/false";
    s.cmd[FAILOVERD_HOOK_FENCE] = "/bin/true";
    hooks_t *h = make(&s);

    report_t r = run_point(h, FAILOVERD_HOOK_PRE_FAILOVER, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_VETOED);
    cr_assert_eq(r.n_vetoed, 1);
    cr_assert_str_eq(r.who[0], "script /bin/false");
    cr_assert_str_eq(r.detail[0], "exited with status 1");

    r = run_point(h, FAILOVERD_HOOK_SWITCHOVER_BEFORE, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_VETOED);
    cr_assert_str_eq(r.detail[0], "exited with status 3");
    cr_assert_eq(strstr(seen_events, "hook_failed"), NULL, "a veto is not a failure");

    r = run_point(h, FAILOVERD_HOOK_POST_FAILOVER, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_FAILED);
    cr_assert_eq(r.outcomes[0], HOOKS_FAILED);
    cr_assert_eq(r.n_failed, 1);
    cr_assert_str_eq(seen_events, "hook_failed ", "a failure is an event: %s", seen_events);

    r = run_point(h, FAILOVERD_HOOK_FENCE, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_OK);

    /* Nothing registered: OK with no results, still answered from the loop. */
    r = run_point(h, FAILOVERD_HOOK_NODE_UP, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_OK);
    cr_assert_eq(r.n_results, 0);
    buf_free(&exit3);
    free(env);
    close_all(h);
}

static void check_timeout_kills_group(bool ignore_term)
{
    char *pids = path_in_dir("pids");
    buf_t cmd = BUF_INIT;
    buf_printf(&cmd, HOOKS "/slow.sh %s%s", pids, ignore_term ? " ignore-term" : "");
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_FENCE] = buf_str(&cmd);
    s.timeout_ms = 300;
    s.kill_grace_ms = 800;
    hooks_t *h = make(&s);
    report_t r = run_point(h, FAILOVERD_HOOK_FENCE, NULL, 5000);
    cr_assert_eq(r.outcomes[0], HOOKS_TIMEOUT, "%s", r.detail[0]);
    cr_assert_eq(r.outcome, HOOKS_FAILED);
    cr_assert_str_eq(r.detail[0], "timed out after 300 ms and was killed");
    if (ignore_term)
        cr_assert(r.elapsed_ms >= 1050 && r.elapsed_ms < 3000, "SIGKILL after the grace: %llu ms",
                  (unsigned long long)r.elapsed_ms);
    else
        cr_assert(r.elapsed_ms >= 280 && r.elapsed_ms < 1000, "SIGTERM was enough: %llu ms",
                  (unsigned long long)r.elapsed_ms);
    char *p = test_slurp(pids);
    cr_assert_not_null(p, "the script started");
    int script = 0, child = 0;
    cr_assert_eq(sscanf(p, "%d %d", &script, &child), 2);
    /* The report comes once the group is dead or was sent SIGKILL; give the
     * kernel a moment to finish them. */
    bool never = false;
    for (int i = 0; i < 50 && !(gone(script) && gone(child)); i++)
        test_run_until(&loop, &never, 20);
    cr_assert(gone(script), "the script %d still runs", script);
    cr_assert(gone(child), "the script's child %d still runs", child);
    free(p);
    free(pids);
    buf_free(&cmd);
    close_all(h);
}

Test(hooks, a_timeout_kills_the_script_and_its_children)
{
    check_timeout_kills_group(false);
}

Test(hooks, a_script_that_ignores_sigterm_gets_sigkill_after_the_grace)
{
    check_timeout_kills_group(true);
}

Test(hooks, output_is_captured_within_bounds)
{
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_NODE_DOWN] = HOOKS "/noisy.sh";
    s.output_max = 1000;
    hooks_t *h = make(&s);
    report_t r = run_point(h, FAILOVERD_HOOK_NODE_DOWN, NULL, 5000);
    cr_assert_eq(r.outcome, HOOKS_OK, "%s", r.detail[0]);
    cr_assert_eq(r.out_len[0], 1000, "stdout is cut at output_max");
    cr_assert_eq(strspn(r.out[0], "x"), 1000);
    cr_assert_str_eq(r.err[0], "to stderr\n");
    close_all(h);
}

Test(hooks, a_script_leaving_a_child_behind_is_not_waited_for)
{
    char *pidf = path_in_dir("bg");
    buf_t cmd = BUF_INIT;
    buf_printf(&cmd, HOOKS "/background.sh %s", pidf);
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_NODE_UP] = buf_str(&cmd);
    hooks_t *h = make(&s);
    report_t r = run_point(h, FAILOVERD_HOOK_NODE_UP, NULL, 5000);
    cr_assert_eq(r.outcome, HOOKS_OK);
    cr_assert(r.elapsed_ms < 1500, "the child holding stdout delayed the report: %llu ms",
              (unsigned long long)r.elapsed_ms);
    cr_assert_str_eq(r.out[0], "started\n");
    char *p = test_slurp(pidf);
    cr_assert_not_null(p);
    kill(atoi(p), SIGKILL);
    free(p);
    free(pidf);
    buf_free(&cmd);
    close_all(h);
}

static plugin_t *recorder(const failoverd_kv_t *kv, size_t n)
{
    char err[512] = "";
    plugin_opts_t o = {.path = "recorder.so",
                       .plugindir = TEST_PLUGIN_DIR,
                       .cluster = "main",
                       .config = kv,
                       .n_config = n,
                       .nodes = nodes,
                       .n_nodes = 2};
    plugin_t *p = plugin_load(&loop, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    return p;
}

Test(hooks, scripts_and_plugins_run_in_parallel_and_any_veto_wins)
{
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_PRE_FAILOVER] = "/bin/sleep 0.5";
    hooks_t *h = make(&s);
    failoverd_kv_t kv[] = {{"veto", "pre_failover"}, {"delay_ms", "500"}};
    hooks_add_plugin(h, recorder(kv, 2));
    report_t r = run_point(h, FAILOVERD_HOOK_PRE_FAILOVER, NULL, 5000);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.n_results, 2);
    cr_assert_eq(r.outcome, HOOKS_VETOED);
    cr_assert_eq(r.outcomes[0], HOOKS_OK);
    cr_assert_str_eq(r.who[0], "script /bin/sleep");
    cr_assert_eq(r.outcomes[1], HOOKS_VETOED);
    cr_assert_str_eq(r.who[1], "plugin recorder");
    cr_assert_str_eq(r.detail[1], "vetoed: the recorder vetoes");
    cr_assert(r.elapsed_ms >= 480 && r.elapsed_ms < 950, "in parallel: %llu ms",
              (unsigned long long)r.elapsed_ms);
    close_all(h);
}

Test(hooks, a_plugin_veto_where_none_is_possible_is_a_failure)
{
    hooks_settings_t s = settings();
    hooks_t *h = make(&s);
    failoverd_kv_t kv[] = {{"veto", "post_failover"}, {"fail", "fence"}};
    hooks_add_plugin(h, recorder(kv, 2));
    report_t r = run_point(h, FAILOVERD_HOOK_POST_FAILOVER, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_FAILED);
    cr_assert_str_eq(r.detail[0], "vetoed where no veto is possible (failed): the recorder vetoes");
    r = run_point(h, FAILOVERD_HOOK_FENCE, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_FAILED);
    cr_assert_str_eq(r.detail[0], "failed: the recorder fails");
    close_all(h);
}

Test(hooks, a_plugin_that_does_not_answer_in_time_is_a_timeout)
{
    hooks_settings_t s = settings();
    s.timeout_ms = 150;
    hooks_t *h = make(&s);
    failoverd_kv_t kv[] = {{"delay_ms", "500"}};
    hooks_add_plugin(h, recorder(kv, 1));
    report_t r = run_point(h, FAILOVERD_HOOK_POST_PROMOTION, NULL, 3000);
    cr_assert_eq(r.outcomes[0], HOOKS_TIMEOUT);
    cr_assert_str_eq(r.detail[0], "did not answer within 150 ms");
    cr_assert(r.elapsed_ms < 500, "reported at the timeout, not at the late answer");
    close_all(h); /* waits for the late answer before unloading */
}

Test(hooks, events_feed_their_points_in_order_without_secrets)
{
    char *env = path_in_dir("env");
    char *rec = path_in_dir("rec");
    buf_t cmd = BUF_INIT;
    buf_printf(&cmd, HOOKS "/env.sh %s", env);
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_NODE_DOWN] = buf_str(&cmd);
    hooks_t *h = make(&s);
    failoverd_kv_t kv[] = {{"out", rec}};
    hooks_add_plugin(h, recorder(kv, 1));
    hooks_subscribe(h);

    event_emit(LOG_LVL_WARN, "node_down", "other", "db9", NULL, "another cluster");
    event_emit(LOG_LVL_WARN, "primary_suspect", "main", "db1", NULL, "feeds no point");
    event_emit(LOG_LVL_WARN, "node_down", "main", "db2",
               json_pack("{s:s, s:s}", "error", "connection refused", "password", "hunter2"),
               "node db2 is down: connection refused");
    event_emit(LOG_LVL_NOTICE, "node_up", "main", "db2", NULL, "node db2 is up");
    event_emit(LOG_LVL_ERROR, "primary_dead", "main", "db1",
               json_pack("{s:s, s:I}", "verdict", "dead", "failing_ms", (json_int_t)900),
               "primary db1 is dead");
    event_emit(LOG_LVL_NOTICE, "failover_done", "main", "db2", NULL, "feeds no point");
    event_emit(LOG_LVL_ERROR, "failover_aborted", "main", NULL,
               json_pack("{s:s, s:{s:s, s:s, s:i}, s:s, s:{s:I}}", "old_primary", "db1",
                         "new_primary", "name", "db2", "host", "10.0.0.2", "port", 3307,
                         "lost_gtids", "0-1-7", "timings", "total_ms", (json_int_t)1234),
               "failover aborted");

    char *e = wait_file(env, 3000);
    cr_assert_not_null(e, "the node_down script ran");
    cr_assert(has_line(e, "FAILOVERD_EVENT=node_down"), "%s", e);
    cr_assert(has_line(e, "FAILOVERD_HOOK=node_down"));
    cr_assert(has_line(e, "FAILOVERD_NODE=db2"));
    cr_assert(has_line(e, "FAILOVERD_NODE_HOST=10.0.0.2"));
    cr_assert(has_line(e, "FAILOVERD_NODE_PORT=3307"));
    cr_assert(has_line(e, "FAILOVERD_MESSAGE=node db2 is down: connection refused"));
    cr_assert(strstr(e, "\\\"password\\\"") == NULL && strstr(e, "hunter2") == NULL,
              "no secret reaches a script:\n%s", e);
    cr_assert(strstr(e, "\"password\":\"********\""), "%s", e);

    /* The plugin saw the four events that feed points, in order. */
    char *r = NULL;
    bool never = false;
    for (int i = 0; i < 150; i++) {
        free(r);
        r = test_slurp(rec);
        if (r && strstr(r, "hook=failover_failed"))
            break;
        test_run_until(&loop, &never, 20);
    }
    cr_assert_not_null(r);
    const char *a = strstr(r, "event hook=node_down event=node_down cluster=main node=db2 ");
    const char *b = strstr(r, "event hook=node_up event=node_up cluster=main node=db2 ");
    const char *c = strstr(r, "event hook=detection event=primary_dead cluster=main node=db1 "
                              "old=db1@10.0.0.1:3306 new=@:0 cand= policy=reliability lost= "
                              "errant= timings=1 ");
    const char *d =
        strstr(r, "event hook=failover_failed event=failover_aborted cluster=main node= "
                  "old=db1@10.0.0.1:3306 new=db2@10.0.0.2:3307 cand= "
                  "policy=reliability lost=0-1-7 errant= timings=1 ");
    cr_assert(a && b && c && d && a < b && b < c && c < d, "%s", r);
    cr_assert_null(strstr(r, "other"), "another cluster's events are not ours");
    cr_assert_null(strstr(r, "primary_suspect"));
    cr_assert_null(strstr(r, "failover_done"));
    free(r);
    free(e);
    free(env);
    free(rec);
    buf_free(&cmd);
    close_all(h);
}

Test(hooks, close_waits_for_a_run_in_progress)
{
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_FENCE] = "/bin/sleep 0.2";
    hooks_t *h = make(&s);
    report_t r = {0};
    hooks_run_point(h, FAILOVERD_HOOK_FENCE, NULL, on_report, &r);
    closed = false;
    hooks_close(h, on_closed, NULL);
    test_run_until(&loop, &closed, 3000);
    cr_assert(closed);
    cr_assert(r.done, "the run finished and reported before the close completed");
    cr_assert_eq(r.outcome, HOOKS_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

/* An operation holds the hooks it started with: a reload's hooks_close()
 * meanwhile does not stop its next hook steps, and h goes only after the
 * release. */
Test(hooks, a_held_hooks_set_runs_after_close_until_released)
{
    hooks_settings_t s = settings();
    s.cmd[FAILOVERD_HOOK_POST_PROMOTION] = "/bin/true";
    hooks_t *h = make(&s);
    hooks_hold(h);
    closed = false;
    hooks_close(h, on_closed, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_not(closed, "closed while held");
    report_t r = run_point(h, FAILOVERD_HOOK_POST_PROMOTION, NULL, 3000);
    cr_assert_eq(r.outcome, HOOKS_OK);
    cr_assert_eq(r.n_results, 1, "the script ran");
    cr_assert_not(closed, "closed while held");
    hooks_release(h);
    test_run_until(&loop, &closed, 3000);
    cr_assert(closed, "the close finished after the release");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(hooks, an_event_becomes_a_context)
{
    event_t ev = {.name = "failover_done",
                  .cluster = "main",
                  .node = "db2",
                  .level = LOG_LVL_NOTICE,
                  .message = "failover done in 1433 ms: db2 is the primary",
                  .data = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "old_primary", "db1",
                                    "new_primary", "db2", "duration_ms", (json_int_t)1433, "policy",
                                    "availability", "possibly_lost", "0-1-101", "detection_ms",
                                    (json_int_t)812, "secret", "s3"),
                  .wall_ms = 1795474201123ULL};
    failoverd_context_t *c = hooks_ctx_from_event(&ev, FAILOVERD_HOOK_POST_FAILOVER, "reliability");
    cr_assert_str_eq(c->hook, "post_failover");
    cr_assert_str_eq(c->event, "failover_done");
    cr_assert_str_eq(c->node.name, "db2");
    cr_assert_str_eq(c->old_primary.name, "db1");
    cr_assert_str_eq(c->new_primary.name, "db2");
    cr_assert_str_eq(c->policy, "availability", "the event's policy wins over the cluster's");
    cr_assert_str_eq(c->lost_gtids, "0-1-101");
    cr_assert_eq(c->n_timings, 2);
    bool duration = false, detection = false;
    for (size_t i = 0; i < c->n_timings; i++) {
        duration |= strcmp(c->timings[i].name, "duration_ms") == 0 && c->timings[i].ms == 1433;
        detection |= strcmp(c->timings[i].name, "detection_ms") == 0 && c->timings[i].ms == 812;
    }
    cr_assert(duration && detection);
    cr_assert(strstr(c->event_json, "\"time\":\"2026-11-23T22:50:01.123Z\""), "%s", c->event_json);
    cr_assert(strstr(c->event_json, "\"secret\":\"********\""), "%s", c->event_json);

    char **env = hooks_env(c);
    bool found = false;
    for (char **e = env; *e; e++)
        found |= strcmp(*e, "FAILOVERD_TIMINGS=duration_ms=1433 detection_ms=812") == 0 ||
                 strcmp(*e, "FAILOVERD_TIMINGS=detection_ms=812 duration_ms=1433") == 0;
    cr_assert(found);
    child_argv_free(env);

    /* A JSON too large for one environment string stays on stdin only. */
    free((char *)c->event_json);
    char *big = xmalloc(HOOKS_ENV_JSON_MAX + 2);
    memset(big, 'x', HOOKS_ENV_JSON_MAX + 1);
    big[HOOKS_ENV_JSON_MAX + 1] = '\0';
    c->event_json = big;
    env = hooks_env(c);
    found = false;
    for (char **e = env; *e; e++)
        found |= strcmp(*e, "FAILOVERD_EVENT_JSON=") == 0;
    cr_assert(found);
    child_argv_free(env);
    plugin_ctx_free(c);
    json_decref(ev.data);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
