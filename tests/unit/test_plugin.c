/* Plugin loader: the recorder test plugin (tests/unit/plugins/recorder.c) is
 * loaded, initialised with its settings, given hook points, and unloaded; bad
 * plugins are refused with a clear reason. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "plugin.h"
#include "testutil.h"

static uv_loop_t loop;
static char dir[] = "/tmp/fo-plugin-XXXXXX";
static char out[256];

static void setup(void)
{
    log_set_level(LOG_LVL_ERROR);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_not_null(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/record", dir);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(plugin, .init = setup, .fini = teardown, .timeout = 20);

static const failoverd_kv_t db1_vars[] = {{"ssh", "admin@h1"}};
static const failoverd_node_t nodes[] = {
    {.name = "db1", .host = "10.0.0.1", .port = 3306, .vars = db1_vars, .n_vars = 1},
    {.name = "db2", .host = "10.0.0.2", .port = 3307},
};

static plugin_t *load(const char *path, const failoverd_kv_t *kv, size_t n, char *err,
                      size_t err_len)
{
    plugin_opts_t o = {.path = path,
                       .plugindir = TEST_PLUGIN_DIR,
                       .cluster = "main",
                       .config = kv,
                       .n_config = n,
                       .nodes = nodes,
                       .n_nodes = 2,
                       .spawn_timeout_ms = 2000};
    return plugin_load(&loop, &o, err, err_len);
}

static void unload_and_close(plugin_t *p)
{
    test_unload_plugin(&loop, p, 5000);
}

static failoverd_context_t sample_ctx(failoverd_hook_point_t point)
{
    static const failoverd_timing_t timings[] = {{"detection_ms", 812}, {"total_ms", 1400}};
    return (failoverd_context_t){
        .size = sizeof(failoverd_context_t),
        .point = point,
        .hook = failoverd_hook_point_name(point),
        .cluster = "main",
        .event = "failover_started",
        .policy = "reliability",
        .old_primary = {"db1", "10.0.0.1", 3306},
        .new_primary = {"db2", "10.0.0.2", 3307},
        .candidate = {.name = "db2"},
        .lost_gtids = "",
        .errant_gtids = "3E11FA47-71CA-11E1-9E33-C80AA9429562:23",
        .timings = timings,
        .n_timings = 2,
        .message = "failing over from db1 to db2",
        .event_json = "{\"event\":\"failover_started\"}",
    };
}

Test(plugin, paths_are_resolved_in_the_plugin_directory)
{
    buf_t b = BUF_INIT;
    plugin_resolve_path("vip.so", "/usr/lib/failoverd/plugins", &b);
    cr_assert_str_eq(buf_str(&b), "/usr/lib/failoverd/plugins/vip.so");
    plugin_resolve_path("vip.so", "/opt/plugins/", &b);
    cr_assert_str_eq(buf_str(&b), "/opt/plugins/vip.so");
    plugin_resolve_path("/srv/x/vip.so", "/opt/plugins", &b);
    cr_assert_str_eq(buf_str(&b), "/srv/x/vip.so");
    plugin_resolve_path("vip.so", NULL, &b);
    cr_assert_str_eq(buf_str(&b), FAILOVERD_PLUGINDIR "/vip.so");
    buf_free(&b);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(plugin, init_gets_its_settings_the_nodes_and_no_spawn)
{
    char err[512] = "";
    failoverd_kv_t kv[] = {{"out", out}, {"veto", "pre_failover"}};
    plugin_t *p = load("recorder.so", kv, 2, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_str_eq(plugin_name(p), "recorder");
    cr_assert_str_eq(plugin_file(p), TEST_PLUGIN_DIR "/recorder.so");
    cr_assert(plugin_handles(p, FAILOVERD_HOOK_POST_PROMOTION));
    char *rec = test_slurp_or_empty(out);
    buf_t want = BUF_INIT;
    buf_printf(&want,
               "init cluster=main config=out=%s,veto=pre_failover "
               "nodes=db1@10.0.0.1:3306[ssh=admin@h1],db2@10.0.0.2:3307 spawn_in_init=-1\n",
               out);
    cr_assert_str_eq(rec, buf_str(&want),
                     "init() must see its settings and nodes, and "
                     "spawn() must be refused there");
    free(rec);
    buf_free(&want);
    unload_and_close(p);
    rec = test_slurp_or_empty(out);
    cr_assert(strstr(rec, "\nfini\n"), "fini() runs at unload: %s", rec);
    free(rec);
}

Test(plugin, an_event_is_delivered_with_its_context)
{
    char err[512] = "";
    failoverd_kv_t kv[] = {{"out", out}};
    plugin_t *p = load(TEST_PLUGIN_DIR "/recorder.so", kv, 1, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    failoverd_context_t c = sample_ctx(FAILOVERD_HOOK_POST_PROMOTION);
    test_answer_t a = {0};
    plugin_call(p, &c, 1000, test_on_answer, &a);
    cr_assert(a.done, "the recorder answers from within on_event");
    cr_assert_eq(a.r.outcome, FAILOVERD_DONE_OK);
    cr_assert_str_eq(a.message, "recorded");
    char *rec = test_slurp_or_empty(out);
    cr_assert(strstr(rec, "event hook=post_promotion event=failover_started cluster=main node= "
                          "old=db1@10.0.0.1:3306 new=db2@10.0.0.2:3307 cand=db2 "
                          "policy=reliability lost= "
                          "errant=3E11FA47-71CA-11E1-9E33-C80AA9429562:23 timings=2 "
                          "message=failing over from db1 to db2 has_json=1"),
              "%s", rec);
    free(rec);
    unload_and_close(p);
}

Test(plugin, a_veto_is_an_answer)
{
    char err[512] = "";
    failoverd_kv_t kv[] = {{"veto", "pre_failover,switchover_before"}};
    plugin_t *p = load("recorder.so", kv, 1, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    failoverd_context_t c = sample_ctx(FAILOVERD_HOOK_PRE_FAILOVER);
    test_answer_t a = {0};
    plugin_call(p, &c, 1000, test_on_answer, &a);
    cr_assert(a.done);
    cr_assert_eq(a.r.outcome, FAILOVERD_DONE_VETO);
    cr_assert_str_eq(a.message, "the recorder vetoes");
    unload_and_close(p);
}

Test(plugin, a_late_answer_times_out_and_unload_waits_for_it)
{
    char err[512] = "";
    failoverd_kv_t kv[] = {{"out", out}, {"delay_ms", "400"}};
    plugin_t *p = load("recorder.so", kv, 2, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    failoverd_context_t c = sample_ctx(FAILOVERD_HOOK_FENCE);
    test_answer_t a = {0};
    uint64_t t0 = uv_now(&loop);
    plugin_call(p, &c, 100, test_on_answer, &a);
    cr_assert_not(a.done);
    test_run_until(&loop, &a.done, 3000);
    cr_assert(a.done);
    cr_assert(a.r.timed_out);
    cr_assert_eq(a.r.outcome, FAILOVERD_DONE_FAILED);
    uint64_t took = uv_now(&loop) - t0;
    cr_assert(took >= 90 && took < 400, "timed out after %llu ms, before the late answer",
              (unsigned long long)took);
    /* Unloading waits for the answer the plugin still owes, then runs fini(). */
    unload_and_close(p);
    char *rec = test_slurp_or_empty(out);
    cr_assert(strstr(rec, "\nfini\n"), "%s", rec);
    free(rec);
}

Test(plugin, the_spawn_service_runs_a_command_with_env_and_input)
{
    char err[512] = "";
    failoverd_kv_t kv[] = {{"out", out}, {"spawn", TEST_DATA_DIR "/hooks/plugin_cmd.sh"}};
    plugin_t *p = load("recorder.so", kv, 2, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    failoverd_context_t c = sample_ctx(FAILOVERD_HOOK_POST_PROMOTION);
    test_answer_t a = {0};
    plugin_call(p, &c, 3000, test_on_answer, &a);
    test_run_until(&loop, &a.done, 3000);
    cr_assert(a.done);
    cr_assert_eq(a.r.outcome, FAILOVERD_DONE_OK, "%s", a.message);
    cr_assert_str_eq(a.message, "post_promotion yes from the recorder");
    unload_and_close(p);
}

Test(plugin, bad_plugins_are_refused_with_a_reason)
{
    char err[512];
    err[0] = '\0';
    cr_assert_null(load("missing.so", NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "plugin " TEST_PLUGIN_DIR "/missing.so: cannot load: ") &&
                  strstr(err, "No such file"),
              "%s", err);

    err[0] = '\0';
    cr_assert_null(load("nosym.so", NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "no symbol \"failoverd_plugin\": not a failoverd plugin"), "%s", err);

    err[0] = '\0';
    cr_assert_null(load("badabi.so", NULL, 0, err, sizeof err));
    cr_assert(strstr(err, "built for plugin ABI version 999, but this failoverd speaks version 1"),
              "%s", err);

    err[0] = '\0';
    failoverd_kv_t fail[] = {{"fail_init", "true"}};
    cr_assert_null(load("recorder.so", fail, 1, err, sizeof err));
    cr_assert(strstr(err, "(recorder): init failed: fail_init is set"), "%s", err);

    err[0] = '\0';
    failoverd_kv_t unknown[] = {{"colour", "blue"}};
    cr_assert_null(load("recorder.so", unknown, 1, err, sizeof err));
    cr_assert(strstr(err, "init failed: unknown setting \"colour\""), "%s", err);

    /* Not a shared object at all. */
    err[0] = '\0';
    plugin_opts_t o = {.path = TEST_DATA_DIR "/hooks/env.sh", .cluster = "main"};
    cr_assert_null(plugin_load(&loop, &o, err, sizeof err));
    cr_assert(strstr(err, "cannot load"), "%s", err);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(plugin, contexts_are_copied_deeply_with_empty_strings_for_null)
{
    failoverd_context_t c = {.point = FAILOVERD_HOOK_NODE_DOWN, .cluster = "main"};
    failoverd_context_t *d = plugin_ctx_dup(&c);
    cr_assert_eq(d->size, sizeof *d);
    cr_assert_str_eq(d->hook, "node_down");
    cr_assert_str_eq(d->cluster, "main");
    cr_assert_str_eq(d->event, "");
    cr_assert_str_eq(d->old_primary.host, "");
    cr_assert_str_eq(d->event_json, "");
    cr_assert_eq(d->n_timings, 0);
    plugin_ctx_free(d);
    cr_assert_eq(uv_loop_close(&loop), 0);
}
