/* Tests of lib/io/config: what a valid file gives, and the exact message of every kind
 * of error.  Each test runs in a temporary directory of its own, so files can be
 * written (and chmod'ed) there and named by short relative paths in messages. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "defaults.h"
#include "testutil.h"

#define REPO_DIR TEST_DATA_DIR "/../../.."
#define EXAMPLE REPO_DIR "/etc/failoverd.conf"
#define DOCS REPO_DIR "/docs/configuration.md"

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void enter_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_config.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0);
}

static void leave_tmpdir(void)
{
    if (chdir("/") == 0)
        nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(config, .init = enter_tmpdir, .fini = leave_tmpdir);

static void write_file(const char *name, const char *text, mode_t mode)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0, "open %s: %s", name, strerror(errno));
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
    cr_assert_eq(chmod(name, mode), 0);
}

static char *read_whole(const char *name)
{
    char *text = test_slurp(name);
    cr_assert_not_null(text, "open %s: %s", name, strerror(errno));
    return text;
}

/* Load text as t.conf; the errors, one per line ("" when it loaded). */
static char *load_errors(const char *text)
{
    write_file("t.conf", text, 0644);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load("t.conf", &errs);
    buf_t b = BUF_INIT;
    fo_config_errors_format(&errs, &b);
    cr_assert((cfg == NULL) == (errs.n > 0), "a tree is returned exactly when there is no error");
    fo_config_free(cfg);
    fo_config_errors_free(&errs);
    return buf_steal(&b);
}

static fo_config_t *load_ok(const char *name)
{
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load(name, &errs);
    buf_t b = BUF_INIT;
    fo_config_errors_format(&errs, &b);
    cr_assert_not_null(cfg, "%s should load, but:\n%s", name, buf_str(&b));
    buf_free(&b);
    fo_config_errors_free(&errs);
    return cfg;
}

static fo_config_t *load_text_ok(const char *text)
{
    write_file("t.conf", text, 0644);
    return load_ok("t.conf");
}

/* One cluster "main" with credentials, on line 1; the cases add its nodes. */
#define HEAD                                                                                       \
    "clusters = ({ name = \"main\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; "           \
    "repl_password = \"q\";\n"
#define NODES1 "  nodes = ( { name = \"db1\"; host = \"h1\"; } );\n"
#define TAIL "});\n"

/* ------------------------------------------------------------------------ */
/* Valid files                                                               */

Test(config, minimal_file_gets_every_default)
{
    fo_config_t *cfg = load_text_ok(HEAD NODES1 TAIL);
    const fo_daemon_cfg_t *d = &cfg->daemon;
    cr_expect_str_eq(d->control_socket, FO_DEFAULT_CONTROL_SOCKET);
    cr_expect_eq(d->control_socket_mode, 0660);
    cr_expect_str_eq(d->control_socket_group, "");
    cr_expect_eq(d->control_allowed_uids.n, 0);
    cr_expect_eq(d->control_allowed_gids.n, 0);
    cr_expect_eq(d->control_max_request, 65536);
    cr_expect_str_eq(d->state_dir, FO_DEFAULT_STATE_DIR);
    cr_expect_eq(d->log_level, LOG_LVL_INFO);
    cr_expect_eq(d->probe_interval_ms, 500);
    cr_expect_eq(d->probe_timeout_ms, 500);
    cr_expect_eq(d->down_after_ms, 500);
    cr_expect_eq(d->reconnect_backoff_max_ms, 5000);
    cr_expect_eq(d->replica_confirm_ms, 2000);
    cr_expect_eq(d->stall_grace_ms, 5000);
    cr_expect_eq(d->policy, POLICY_RELIABILITY);

    cr_assert_eq(cfg->n_clusters, 1);
    const fo_cluster_cfg_t *c = &cfg->clusters[0];
    cr_expect_str_eq(c->name, "main");
    cr_expect_eq(c->policy, POLICY_RELIABILITY);
    cr_expect_str_eq(c->user, "u");
    cr_expect_str_eq(c->password, "p");
    cr_expect_str_eq(c->password_file, "");
    cr_expect_str_eq(c->repl_user, "r");
    cr_expect_str_eq(c->repl_password, "q");
    cr_expect_str_eq(c->repl_password_file, "");
    cr_expect(c->auto_failover);
    cr_expect_eq(c->failover_block_ms, 3600000);
    cr_expect_eq(c->startup_grace_ms, 30000);
    cr_expect_not(c->auto_rejoin);
    cr_expect_not(c->semisync);
    cr_expect_eq(c->probe_interval_ms, 500);
    cr_expect_eq(c->probe_timeout_ms, 500);
    cr_expect_eq(c->down_after_ms, 500);
    cr_expect_eq(c->replica_confirm_ms, 2000);
    cr_expect_eq(c->fence_timeout_ms, 10000);
    cr_expect_eq(c->wait_apply_timeout_ms, 10000);
    cr_expect_eq(c->catchup_timeout_ms, 30000);
    cr_expect_eq(c->verify_timeout_ms, 5000);
    cr_expect_eq(c->step_timeout_ms, 5000);
    cr_expect_eq(c->switchover_lag_max_ms, 1000);
    cr_expect_eq(c->switchover_timeout_ms, 30000);
    cr_expect_eq(c->long_writes, FO_LONG_WRITES_WAIT);
    cr_expect_eq(c->long_writes_timeout_ms, 2000);
    cr_expect_eq(c->connect_retry, 1);
    cr_expect_eq(c->heartbeat_period_ms, 250);
    for (int h = 0; h < FO_HOOK__COUNT; h++)
        cr_expect_str_eq(c->hooks.cmd[h], "", "hook %s", fo_hook_point_str(h));
    cr_expect_eq(c->hooks.timeout_ms, 10000);
    cr_expect_eq(c->n_plugins, 0);
    cr_expect_eq(c->n_webhooks, 0);
    cr_expect_eq(c->src.line, 1);
    cr_expect_str_eq(c->src.file, "t.conf");

    cr_assert_eq(c->n_nodes, 1);
    const fo_node_cfg_t *n = &c->nodes[0];
    cr_expect_str_eq(n->name, "db1");
    cr_expect_str_eq(n->host, "h1");
    cr_expect_eq(n->port, 3306);
    cr_expect_eq(n->promotion_rule, RULE_NEUTRAL);
    cr_expect_eq(n->vars.n, 0);
    cr_expect_eq(n->src.line, 2);

    cr_expect_str_eq(cfg->test.crash_at_step, "");
    cr_expect_str_eq(cfg->test.block_loop, "");
    fo_config_free(cfg);
}

Test(config, clusters_inherit_daemon_settings_unless_overridden)
{
    fo_config_t *cfg = load_text_ok(
        "daemon = { probe_interval = \"200ms\"; probe_timeout = 300; down_after = \"3s\";\n"
        "           replica_confirm = \"1m\"; policy = \"availability\"; };\n"
        "clusters = (\n"
        " { name = \"a\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; repl_password = "
        "\"q\";\n"
        "   nodes = ( { host = \"h1\"; } ); },\n"
        " { name = \"b\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; repl_password = "
        "\"q\";\n"
        "   probe_interval = \"1s\"; probe_timeout = \"1.5s\"; down_after = 250;\n"
        "   replica_confirm = \"0ms\"; policy = \"reliability\";\n"
        "   nodes = ( { host = \"h2\"; } ); }\n"
        ");\n");
    const fo_cluster_cfg_t *a = fo_config_cluster(cfg, "a"), *b = fo_config_cluster(cfg, "b");
    cr_assert(a && b);
    cr_expect_eq(a->probe_interval_ms, 200);
    cr_expect_eq(a->probe_timeout_ms, 300);
    cr_expect_eq(a->down_after_ms, 3000);
    cr_expect_eq(a->replica_confirm_ms, 60000);
    cr_expect_eq(a->policy, POLICY_AVAILABILITY);
    cr_expect_eq(b->probe_interval_ms, 1000);
    cr_expect_eq(b->probe_timeout_ms, 1500);
    cr_expect_eq(b->down_after_ms, 250);
    cr_expect_eq(b->replica_confirm_ms, 0);
    cr_expect_eq(b->policy, POLICY_RELIABILITY);
    cr_expect_eq(b->index, 1);
    fo_config_free(cfg);
}

Test(config, node_names_default_to_the_address)
{
    fo_config_t *cfg =
        load_text_ok(HEAD "  nodes = ( { host = \"db1.example.com\"; },\n"
                          "            { host = \"10.0.0.2\"; port = 3307; },\n"
                          "            { host = \"::1\"; port = 3308; },\n"
                          "            { host = \"fe80::1\"; },\n"
                          "            { name = \"x\"; host = \"10.0.0.2\"; } );\n" TAIL);
    const fo_cluster_cfg_t *c = &cfg->clusters[0];
    cr_assert_eq(c->n_nodes, 5);
    cr_expect_str_eq(c->nodes[0].name, "db1.example.com");
    cr_expect_str_eq(c->nodes[1].name, "10.0.0.2:3307");
    cr_expect_str_eq(c->nodes[2].name, "[::1]:3308");
    cr_expect_str_eq(c->nodes[3].name, "fe80::1");
    cr_expect_str_eq(c->nodes[4].name, "x");
    for (size_t i = 0; i < c->n_nodes; i++)
        cr_expect_eq(c->nodes[i].index, i);
    fo_config_free(cfg);
}

/* Every setting set to something other than its default. */
Test(config, full_file_sets_everything)
{
    write_file("main.password", "s3cret\n", 0600);
    write_file("repl.password", "r3pl\r\n", 0400);
    char *text = read_whole(TEST_DATA_DIR "/config/full.conf");
    write_file("full.conf", text, 0644);
    free(text);
    fo_config_t *cfg = load_ok("full.conf");
    const fo_daemon_cfg_t *d = &cfg->daemon;
    cr_expect_str_eq(d->control_socket, "/tmp/failoverd-test/control.sock");
    cr_expect_eq(d->control_socket_mode, 0600);
    cr_expect_str_eq(d->control_socket_group, "adm");
    cr_assert_eq(d->control_allowed_uids.n, 2);
    cr_expect_eq(d->control_allowed_uids.ids[1], 1001);
    cr_assert_eq(d->control_allowed_gids.n, 1);
    cr_expect_eq(d->control_allowed_gids.ids[0], 4);
    cr_expect_eq(d->control_max_request, 4096);
    cr_expect_str_eq(d->state_dir, "/tmp/failoverd-test/state");
    cr_expect_eq(d->log_level, LOG_LVL_DEBUG);
    cr_expect_eq(d->probe_interval_ms, 250);
    cr_expect_eq(d->probe_timeout_ms, 200);
    cr_expect_eq(d->down_after_ms, 750);
    cr_expect_eq(d->reconnect_backoff_max_ms, 2000);
    cr_expect_eq(d->replica_confirm_ms, 1500);
    cr_expect_eq(d->stall_grace_ms, 3000);
    cr_expect_eq(d->policy, POLICY_AVAILABILITY);

    cr_assert_eq(cfg->n_clusters, 2);
    const fo_cluster_cfg_t *c = fo_config_cluster(cfg, "orders");
    cr_assert_not_null(c);
    cr_expect_eq(c->policy, POLICY_RELIABILITY);
    cr_expect_str_eq(c->user, "admin");
    cr_expect_str_eq(c->password, "s3cret", "final newline dropped");
    cr_expect_str_eq(c->password_file, "main.password");
    cr_expect_str_eq(c->repl_password, "r3pl", "final CRLF dropped");
    cr_expect_not(c->auto_failover);
    cr_expect_eq(c->failover_block_ms, 2 * 3600000 + 30 * 60000);
    cr_expect(c->auto_rejoin);
    cr_expect(c->semisync);
    cr_expect_eq(c->probe_interval_ms, 100);
    cr_expect_eq(c->probe_timeout_ms, 100);
    cr_expect_eq(c->down_after_ms, 400);
    cr_expect_eq(c->replica_confirm_ms, 800);
    cr_expect_eq(c->fence_timeout_ms, 700);
    cr_expect_eq(c->wait_apply_timeout_ms, 20000);
    cr_expect_eq(c->catchup_timeout_ms, 60000);
    cr_expect_eq(c->verify_timeout_ms, 8000);
    cr_expect_eq(c->step_timeout_ms, 2500);
    cr_expect_eq(c->switchover_lag_max_ms, 500);
    cr_expect_eq(c->switchover_timeout_ms, 45000);
    cr_expect_eq(c->long_writes, FO_LONG_WRITES_KILL);
    cr_expect_eq(c->long_writes_timeout_ms, 1000);
    cr_expect_eq(c->connect_retry, 2);
    cr_expect_eq(c->heartbeat_period_ms, 500);

    cr_assert_eq(c->n_nodes, 3);
    const fo_node_cfg_t *n = fo_config_node(c, "o2");
    cr_assert_not_null(n);
    cr_expect_str_eq(n->host, "10.1.0.2");
    cr_expect_eq(n->port, 3307);
    cr_expect_eq(n->promotion_rule, RULE_PREFER);
    cr_expect_str_eq(fo_kv_get(&n->vars, "ssh_host"), "o2.example.com");
    cr_expect_str_eq(fo_kv_get(&n->vars, "vip_interface"), "eth1");
    cr_expect_null(fo_kv_get(&n->vars, "nothing"));
    cr_expect_eq(fo_config_node(c, "o3")->promotion_rule, RULE_MUST_NOT);
    cr_expect_eq(fo_config_node(c, "o1")->promotion_rule, RULE_PREFER_NOT);
    cr_expect_eq(fo_config_node_by_addr(c, "10.1.0.2", 3307), n);
    cr_expect_eq(fo_config_node_by_addr(c, "10.1.0.2", 3306), NULL);
    cr_expect_null(fo_config_node(c, "nope"));

    cr_expect_str_eq(c->hooks.cmd[FO_HOOK_DETECTION], "/bin/true");
    cr_expect_str_eq(c->hooks.cmd[FO_HOOK_PRE_FAILOVER], "/bin/true --veto-check");
    for (int h = FO_HOOK_FENCE; h < FO_HOOK__COUNT; h++)
        cr_expect_str_eq(c->hooks.cmd[h], "/bin/true", "hook %s", fo_hook_point_str(h));
    cr_expect_eq(c->hooks.timeout_ms, 3000);

    cr_assert_eq(c->n_plugins, 2);
    cr_expect_str_eq(c->plugins[0].path, "vip.so");
    const fo_kvlist_t *pc = &c->plugins[0].config;
    cr_assert_eq(pc->n, 5);
    cr_expect_str_eq(fo_kv_get(pc, "address"), "10.1.0.100/24");
    cr_expect_eq(fo_kv_find(pc, "address")->type, FO_KV_STRING);
    cr_expect_str_eq(fo_kv_get(pc, "arp_count"), "1");
    cr_expect_eq(fo_kv_find(pc, "arp_count")->type, FO_KV_INT);
    cr_expect_str_eq(fo_kv_get(pc, "check"), "true");
    cr_expect_eq(fo_kv_find(pc, "check")->type, FO_KV_BOOL);
    cr_expect_str_eq(fo_kv_get(pc, "weight"), "0.5");
    cr_expect_eq(fo_kv_find(pc, "weight")->type, FO_KV_FLOAT);
    cr_expect_str_eq(fo_kv_get(pc, "tsig_secret"), "c2VjcmV0");
    cr_expect_gt(fo_kv_find(pc, "address")->src.line, c->plugins[0].src.line - 1);
    cr_expect_str_eq(c->plugins[1].path, "/usr/lib/failoverd/plugins/dns.so");
    cr_expect_eq(c->plugins[1].config.n, 0);

    cr_assert_eq(c->n_webhooks, 2);
    cr_expect_str_eq(c->webhooks[0].url, "https://hooks.example.com/services/T0/B0/XYZ");
    cr_expect_eq(c->webhooks[0].format, FO_WEBHOOK_SLACK);
    cr_expect_eq(c->webhooks[0].timeout_ms, 2000);
    cr_expect_eq(c->webhooks[0].retries, 3);
    cr_assert_eq(c->webhooks[0].events.n, 2);
    cr_expect_str_eq(c->webhooks[0].events.items[1], "failover_failed");
    cr_expect_eq(c->webhooks[1].format, FO_WEBHOOK_JSON);
    cr_expect_eq(c->webhooks[1].events.n, 0);

    const fo_cluster_cfg_t *r = fo_config_cluster(cfg, "reports");
    cr_assert_not_null(r);
    cr_expect_eq(r->policy, POLICY_AVAILABILITY, "inherited from daemon.policy");
    cr_expect_eq(r->probe_interval_ms, 250, "inherited from daemon.probe_interval");
    cr_expect_null(fo_config_cluster(cfg, "nope"));

    cr_expect_str_eq(cfg->test.crash_at_step, "after_promote");
    cr_expect_str_eq(cfg->test.block_loop, "startup");
    fo_config_free(cfg);
}

Test(config, password_file_is_relative_to_the_config_file)
{
    cr_assert_eq(mkdir("etc", 0755), 0);
    write_file("etc/pw", "from-file", 0600);
    write_file("etc/x.conf",
               "clusters = ({ name = \"main\"; user = \"u\"; password_file = \"pw\";\n"
               "  repl_user = \"r\"; repl_password = \"q\"; nodes = ({ host = \"h\"; }); });\n",
               0644);
    fo_config_t *cfg = load_ok("etc/x.conf");
    cr_expect_str_eq(cfg->clusters[0].password, "from-file");
    cr_expect_str_eq(cfg->clusters[0].password_file, "etc/pw");
    fo_config_free(cfg);
}

Test(config, include_is_relative_to_the_main_file)
{
    cr_assert_eq(mkdir("etc", 0755), 0);
    write_file("etc/nodes.conf",
               "nodes = ( { host = \"h1\"; },\n  { host = \"h2\"; porrt = 1; } );\n", 0644);
    write_file("etc/main.conf", HEAD "@include \"nodes.conf\"\n" TAIL, 0644);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load("etc/main.conf", &errs);
    cr_assert_null(cfg);
    cr_assert_eq(errs.n, 1);
    cr_expect_str_eq(errs.lines[0], "nodes.conf:2: clusters.main.nodes.h2.porrt: unknown setting "
                                    "(did you mean \"port\"?)");
    fo_config_errors_free(&errs);

    write_file("etc/nodes.conf", "nodes = ( { host = \"h1\"; },\n  { host = \"h2\"; } );\n", 0644);
    cfg = load_ok("etc/main.conf");
    cr_expect_eq(cfg->clusters[0].n_nodes, 2);
    cr_expect_str_eq(cfg->clusters[0].nodes[1].src.file, "nodes.conf");
    cr_expect_eq(cfg->n_files, 2);
    fo_config_free(cfg);
}

/* libconfig 1.5 calls exit() on an include it opens but cannot read: such an
 * include is an error before libconfig sees it (this test process would end
 * otherwise). */
Test(config, include_of_a_directory_is_an_error)
{
    char *got = load_errors(HEAD NODES1 "@include \".\"\n" TAIL);
    cr_expect_str_eq(got, "t.conf:3: @include \".\": . is a directory, not a configuration file\n");
    free(got);
    cr_assert_eq(mkdir("etc", 0755), 0);
    cr_assert_eq(mkdir("etc/sub", 0755), 0);
    write_file("etc/nodes.conf", "@include \"sub\"\n" NODES1, 0644);
    write_file("etc/main.conf", HEAD "@include \"nodes.conf\"\n" TAIL, 0644);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load("etc/main.conf", &errs);
    cr_assert_null(cfg);
    cr_assert_eq(errs.n, 1);
    cr_expect_str_eq(errs.lines[0],
                     "nodes.conf:1: @include \"sub\": etc/sub is a directory, not a configuration file");
    fo_config_errors_free(&errs);
    got = load_errors(HEAD NODES1 "@include \"\"\n" TAIL);
    cr_expect(strstr(got, "cannot open include file"), "%s", got);
    free(got);
    got = load_errors(HEAD NODES1 "@include \"/dev/null\"\n" TAIL);
    cr_expect(strstr(got, "is not a regular file"), "%s", got);
    free(got);
}

/* libconfig reads on past a NUL byte (and so finds an include after it); a
 * configuration file is text, and one with a NUL byte is refused. */
Test(config, a_nul_byte_is_refused)
{
    static const char text[] = HEAD "  nodes = ( { name = \"d\0b1\"; host = \"h1\"; } );\n"
                                    "@include \".\"\n" TAIL;
    int fd = open("t.conf", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load("t.conf", &errs);
    cr_assert_null(cfg);
    cr_assert_eq(errs.n, 1);
    cr_expect_str_eq(errs.lines[0], "t.conf:2: a NUL byte: a configuration file is text");
    fo_config_errors_free(&errs);
}

Test(config, include_in_a_comment_or_string_is_not_read)
{
    fo_config_t *cfg = load_text_ok(HEAD NODES1 "/*\n@include \".\"\n*/\n"
                                               "# @include \".\"\n" TAIL);
    fo_config_free(cfg);
}

/* ------------------------------------------------------------------------ */
/* Errors: each kind, with its exact message                                */

typedef struct {
    const char *what;
    const char *text;     /* written to t.conf */
    const char *expected; /* every error line */
} err_case_t;

static const err_case_t error_cases[] = {
    /* Wrong type */
    {"string for an integer", HEAD "  nodes = ( { host = \"h1\"; port = \"3306\"; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.h1.port: expected an integer, found a string (\"3306\")\n"},
    {"integer for a string", HEAD "  nodes = ( { name = \"db1\"; host = 10; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.db1.host: expected a string, found an integer\n"},
    {"string for a boolean", HEAD "  auto_failover = \"yes\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.auto_failover: expected true or false, found a string (\"yes\")\n"},
    {"float for a duration", "daemon = { down_after = 1.5; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.down_after: expected a duration (integer milliseconds or a string such "
     "as \"2s\"), found a floating-point number\n"},
    {"integer for a mode", "daemon = { control_socket_mode = 660; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_socket_mode: expected an octal string such as \"0660\", found "
     "an integer\n"},
    {"scalar for a group", "daemon = 5;\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon: expected a group { ... }, found an integer\n"},
    {"group for a list", HEAD "  nodes = { host = \"h1\"; };\n" TAIL,
     "t.conf:2: clusters.main.nodes: expected a list ( ... ), found a group\n"},
    {"list element not a group", HEAD "  nodes = ( \"h1\" );\n" TAIL,
     "t.conf:2: clusters.main.nodes[0]: expected a group { ... }, found a string\n"},
    {"password of the wrong type is not echoed",
     "clusters = ({ name = \"main\"; user = \"u\";\n"
     "  password = 12345; repl_user = \"r\"; repl_password = \"q\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.password: expected a string, found an integer\n"},
    {"integer array with a string",
     "daemon = { control_allowed_uids = [ \"root\" ]; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_allowed_uids[0]: expected an integer, found a string\n"},
    {"string for an integer array",
     "daemon = { control_allowed_gids = \"adm\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_allowed_gids: expected an array of integers, found a string\n"},
    {"uid list element", "daemon = { control_allowed_uids = ( 0, \"root\" ); };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_allowed_uids[1]: expected an integer, found a string\n"},
    {"non-string node var",
     HEAD "  nodes = ( { host = \"h1\"; vars = { ssh_port = 22; }; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.h1.vars.ssh_port: expected a string, found an integer\n"},
    {"nested group in plugin config",
     HEAD NODES1 "  plugins = ( { path = \"vip.so\"; config = { a = { b = 1; }; }; } );\n" TAIL,
     "t.conf:3: clusters.main.plugins[0].config.a: expected a string, a number or a boolean, "
     "found a group\n"},

    /* Out of range */
    {"port above 65535",
     HEAD "  nodes = ( { name = \"db1\"; host = \"h1\"; },\n"
          "            { name = \"db2\"; host = \"h2\"; port = 70000; } );\n" TAIL,
     "t.conf:3: clusters.main.nodes.db2.port: 70000 is out of range (1..65535)\n"},
    {"port 0", HEAD "  nodes = ( { name = \"db1\"; host = \"h1\"; port = 0; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.db1.port: 0 is out of range (1..65535)\n"},
    {"integer beyond 32 bits",
     HEAD "  nodes = ( { name = \"db1\"; host = \"h1\"; port = 4294970602; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.db1.port: 4294970602 is out of range (1..65535)\n"},
    {"64-bit integer", HEAD "  connect_retry = 5000000000L;\n" NODES1 TAIL,
     "t.conf:2: clusters.main.connect_retry: 5000000000 is out of range (1..3600)\n"},
    {"duration below its bound", "daemon = { probe_interval = \"10ms\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.probe_interval: 10ms is out of range (50ms..1m)\n"},
    {"duration above its bound", HEAD "  down_after = \"1h\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.down_after: 1h is out of range (100ms..10m)\n"},
    {"duration in milliseconds above its bound",
     "daemon = { probe_timeout = 90000; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.probe_timeout: 1m30s is out of range (50ms..1m)\n"},
    {"negative duration", "daemon = { stall_grace = -5; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.stall_grace: -5 is not a duration (negative)\n"},
    {"mode beyond permission bits",
     "daemon = { control_socket_mode = \"01777\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_socket_mode: 01777 is out of range (0000..0777)\n"},
    {"negative uid", "daemon = { control_allowed_uids = [ -1 ]; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_allowed_uids[0]: -1 is out of range (0..4294967294)\n"},
    {"too many retries",
     HEAD NODES1 "  webhooks = ( { url = \"http://127.0.0.1:9/x\"; retries = 1000; } );\n" TAIL,
     "t.conf:3: clusters.main.webhooks[0].retries: 1000 is out of range (0..100)\n"},

    /* Bad values */
    {"bad duration", HEAD "  failover_block = \"1 hour\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.failover_block: \"1 hour\" is not a duration (a number and a unit "
     "ms, s, m or h, such as \"500ms\" or \"1m30s\")\n"},
    {"duration string without a unit", "daemon = { down_after = \"500\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.down_after: \"500\" is not a duration (a number and a unit ms, s, m or "
     "h, such as \"500ms\" or \"1m30s\")\n"},
    {"fraction of a millisecond", "daemon = { down_after = \"1.5ms\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.down_after: \"1.5ms\" is not a duration (a number and a unit ms, s, m "
     "or h, such as \"500ms\" or \"1m30s\")\n"},
    {"bad enum, close to a value", HEAD "  policy = \"relaibility\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.policy: \"relaibility\" is not one of reliability, availability "
     "(did you mean \"reliability\"?)\n"},
    {"bad enum, far from any value", "daemon = { log_level = \"loud\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.log_level: \"loud\" is not one of debug, info, notice, warning, error\n"},
    {"bad octal mode", "daemon = { control_socket_mode = \"0999\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_socket_mode: \"0999\" is not an octal mode such as \"0660\"\n"},
    {"relative control socket", "daemon = { control_socket = \"run/x.sock\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.control_socket: \"run/x.sock\" is not an absolute path\n"},
    {"metrics listener by name", "daemon = { metrics_listen = \"localhost:9633\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.metrics_listen: \"localhost:9633\" has \"localhost\", which is not an IPv4 "
     "address (names are not looked up)\n"},
    {"metrics listener without a port", "daemon = { metrics_listen = \"127.0.0.1\"; };\n" HEAD NODES1 TAIL,
     "t.conf:1: daemon.metrics_listen: \"127.0.0.1\" is not address:port\n"},
    {"bad cluster name",
     "clusters = ({ name = \"ma in\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; "
     "repl_password = \"q\";\n" NODES1 TAIL,
     "t.conf:1: clusters.ma in.name: \"ma in\" is not a valid cluster name (letters, digits, "
     "'_', '-' and '.', not starting with '.' or '-')\n"},
    {"empty user",
     "clusters = ({ name = \"main\"; user = \"\"; password = \"p\"; repl_user = \"r\";"
     " repl_password = \"q\";\n" NODES1 TAIL,
     "t.conf:1: clusters.main.user: must not be empty\n"},
    {"host in brackets", HEAD "  nodes = ( { name = \"db1\"; host = \"[::1]\"; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.db1.host: \"[::1]\" is not a host name or IP address "
     "(write IPv6 addresses without brackets)\n"},
    {"webhook url", HEAD NODES1 "  webhooks = ( { url = \"ftp://example.com/\"; } );\n" TAIL,
     "t.conf:3: clusters.main.webhooks[0].url: \"ftp://example.com/\" is not an http:// or "
     "https:// URL\n"},
    {"event name",
     HEAD NODES1 "  webhooks = ( { url = \"http://h/\"; events = [ \"Failover\" ]; } );\n" TAIL,
     "t.conf:3: clusters.main.webhooks[0].events[0]: \"Failover\" is not an event name "
     "(lower-case letters, digits and '_')\n"},
    {"relative hook", HEAD NODES1 "  hooks = { fence = \"fence.sh --hard\"; };\n" TAIL,
     "t.conf:3: clusters.main.hooks.fence: \"fence.sh\" is not an absolute path\n"},
    {"missing hook", HEAD NODES1 "  hooks = { fence = \"/nonexistent/fence.sh\"; };\n" TAIL,
     "t.conf:3: clusters.main.hooks.fence: cannot use /nonexistent/fence.sh: No such file or "
     "directory\n"},
    {"hook not executable", HEAD NODES1 "  hooks = { node_up = \"/etc/passwd\"; };\n" TAIL,
     "t.conf:3: clusters.main.hooks.node_up: /etc/passwd is not an executable file\n"},

    /* Unknown settings */
    {"unknown setting, a typo",
     HEAD "  nodes = ( { name = \"db2\"; host = \"h2\"; prot = 3307; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.db2.prot: unknown setting (did you mean \"port\"?)\n"},
    {"unknown setting, in the wrong group",
     HEAD "  nodes = ( { name = \"db2\"; host = \"h2\"; down_after = \"2s\"; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.db2.down_after: unknown setting here (it is a daemon or "
     "cluster setting)\n"},
    {"unknown setting, nothing like it", "colour = \"blue\";\n" HEAD NODES1 TAIL,
     "t.conf:1: colour: unknown setting\n"},
    {"legacy synonym", HEAD "  master_user = \"x\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.master_user: unknown setting\n"},

    /* Structure */
    {"no clusters", "daemon = { };\n", "t.conf: clusters: required setting is missing\n"},
    {"empty clusters", "clusters = ( );\n",
     "t.conf:1: clusters: is empty; at least one cluster is needed\n"},
    {"cluster without nodes", HEAD "  nodes = ( );\n" TAIL,
     "t.conf:2: clusters.main.nodes: is empty; at least one node is needed\n"},
    {"cluster without a nodes setting", HEAD TAIL,
     "t.conf:1: clusters.main.nodes: required setting is missing\n"},
    {"node without host", HEAD "  nodes = ( { name = \"db1\"; port = 3307; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.db1.host: required setting is missing\n"},
    {"cluster without a name",
     "clusters = ({ user = \"u\"; password = \"p\"; repl_user = \"r\"; repl_password = "
     "\"q\";\n" NODES1 TAIL,
     "t.conf:1: clusters[0].name: required setting is missing\n"},
    {"duplicate node name",
     HEAD "  nodes = ( { name = \"db1\"; host = \"h1\"; },\n"
          "            { name = \"db1\"; host = \"h2\"; } );\n" TAIL,
     "t.conf:3: clusters.main.nodes.db1: duplicate node name \"db1\" (first defined at "
     "t.conf:2)\n"},
    {"duplicate host:port",
     HEAD "  nodes = ( { name = \"db1\"; host = \"h1\"; port = 3307; },\n"
          "            { name = \"db2\"; host = \"H1\"; port = 3307; } );\n" TAIL,
     "t.conf:3: clusters.main.nodes.db2: H1:3307 is also node db1 of cluster main (t.conf:2)\n"},
    {"a node in error is no duplicate",
     HEAD "  nodes = ( { host = \"h1\"; port = 70000; },\n"
          "            { host = \"h1\"; } );\n" TAIL,
     "t.conf:2: clusters.main.nodes.h1:70000.port: 70000 is out of range (1..65535)\n"},
    {"same server in two clusters",
     HEAD NODES1 "},\n"
                 "{ name = \"other\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; "
                 "repl_password = \"q\";\n"
                 "  nodes = ( { host = \"h1\"; port = 3306; } );\n" TAIL,
     "t.conf:5: clusters.other.nodes.h1: h1:3306 is also node db1 of cluster main (t.conf:2)\n"},
    {"duplicate cluster name",
     HEAD NODES1 "},\n"
                 "{ name = \"main\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; "
                 "repl_password = \"q\";\n"
                 "  nodes = ( { host = \"h2\"; } );\n" TAIL,
     "t.conf:4: clusters.main: duplicate cluster name \"main\" (first defined at t.conf:1)\n"},

    /* Passwords */
    {"neither password nor password_file",
     "clusters = ({ name = \"main\"; user = \"u\"; repl_user = \"r\"; repl_password = "
     "\"q\";\n" NODES1 TAIL,
     "t.conf:1: clusters.main.password: required setting is missing (or set password_file)\n"},
    {"both password and password_file", HEAD "  password_file = \"/nonexistent\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.password_file: set either password or password_file, not both\n"},
    {"missing password file",
     "clusters = ({ name = \"main\"; user = \"u\"; password = \"p\"; repl_user = \"r\";\n"
     "  repl_password_file = \"missing.pw\";\n" NODES1 TAIL,
     "t.conf:2: clusters.main.repl_password_file: cannot open missing.pw: No such file or "
     "directory\n"},
    {"password file is a directory",
     "clusters = ({ name = \"main\"; user = \"u\"; password_file = \"/tmp\"; repl_user = \"r\";\n"
     "  repl_password = \"q\";\n" NODES1 TAIL,
     "t.conf:1: clusters.main.password_file: /tmp is not a regular file\n"},

    /* Syntax */
    {"syntax error", HEAD "  nodes = ( { host = \"h1\"; port = ; } );\n" TAIL,
     "t.conf:2: syntax error\n"},
    {"duplicate setting in a group", HEAD "  user = \"x\";\n" NODES1 TAIL,
     "t.conf:2: duplicate setting name\n"},
    {"empty file", "", "t.conf: clusters: required setting is missing\n"},

    /* The managers' verdict (coordination) */
    {"this manager not among the managers",
     "coordination = { mode = \"etcd\"; etcd_endpoints = [ \"http://127.0.0.1:2379\" ];\n"
     "  manager_id = \"m1\"; managers = [ \"m2\", \"m3\" ]; };\n" HEAD NODES1 TAIL,
     "t.conf:2: coordination.managers: this manager (m1) is not among the managers listed\n"},
    {"a manager listed twice",
     "coordination = { mode = \"etcd\"; etcd_endpoints = [ \"http://127.0.0.1:2379\" ];\n"
     "  manager_id = \"m1\"; managers = [ \"m1\", \"m1\" ]; };\n" HEAD NODES1 TAIL,
     "t.conf:2: coordination.managers: manager m1 is listed twice\n"},
    {"a quorum above the managers",
     "coordination = { mode = \"etcd\"; etcd_endpoints = [ \"http://127.0.0.1:2379\" ];\n"
     "  manager_id = \"m1\"; managers = [ \"m1\", \"m2\" ]; verdict_quorum = \"3\"; };\n"
     HEAD NODES1 TAIL,
     "t.conf:2: coordination.verdict_quorum: quorum 3 is more than the 2 managers configured\n"},
    {"a quorum that is no number",
     "coordination = { mode = \"etcd\"; etcd_endpoints = [ \"http://127.0.0.1:2379\" ];\n"
     "  manager_id = \"m1\"; verdict_quorum = \"most\"; };\n" HEAD NODES1 TAIL,
     "t.conf:2: coordination.verdict_quorum: \"most\" is neither \"majority\" nor a number of "
     "managers from 1 to 16\n"},
    /* Several errors: all reported, by line (within a line, in the order of the table) */
    {"several errors",
     "daemon = { probe_interval = \"fast\"; log_level = \"verbose\"; };\n" HEAD
     "  nodes = ( { name = \"db1\"; host = \"h1\"; port = 0; promotion_rule = \"never\"; },\n"
     "            { name = \"db2\"; hots = \"h2\"; } );\n" TAIL,
     "t.conf:1: daemon.log_level: \"verbose\" is not one of debug, info, notice, warning, "
     "error\n"
     "t.conf:1: daemon.probe_interval: \"fast\" is not a duration (a number and a unit ms, s, "
     "m or h, such as \"500ms\" or \"1m30s\")\n"
     "t.conf:3: clusters.main.nodes.db1.port: 0 is out of range (1..65535)\n"
     "t.conf:3: clusters.main.nodes.db1.promotion_rule: \"never\" is not one of prefer, "
     "neutral, prefer_not, must_not\n"
     "t.conf:4: clusters.main.nodes.db2.hots: unknown setting (did you mean \"host\"?)\n"
     "t.conf:4: clusters.main.nodes.db2.host: required setting is missing\n"},
};

Test(config, each_kind_of_error_has_its_message)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const err_case_t *c = &error_cases[i];
        char *got = load_errors(c->text);
        cr_expect_str_eq(got, c->expected, "case \"%s\":\n got: %s\nwant: %s", c->what, got,
                         c->expected);
        free(got);
    }
}

Test(config, missing_file)
{
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    cr_assert_null(fo_config_load("nope.conf", &errs));
    cr_assert_eq(errs.n, 1);
    cr_expect_str_eq(errs.lines[0], "nope.conf: cannot read: No such file or directory");
    fo_config_errors_free(&errs);
}

static const char *const password_text =
    "clusters = ({ name = \"main\"; user = \"u\";\n"
    "  password_file = \"pw\";\n"
    "  repl_user = \"r\"; repl_password = \"q\";\n" NODES1 TAIL;

Test(config, world_readable_password_file)
{
    write_file("pw", "secret\n", 0644);
    char *got = load_errors(password_text);
    cr_expect_str_eq(got, "t.conf:2: clusters.main.password_file: pw must not be accessible by "
                          "group or others (mode 0644; chmod 600 it)\n");
    free(got);
}

Test(config, group_readable_password_file)
{
    write_file("pw", "secret\n", 0640);
    char *got = load_errors(password_text);
    cr_expect_str_eq(got, "t.conf:2: clusters.main.password_file: pw must not be accessible by "
                          "group or others (mode 0640; chmod 600 it)\n");
    free(got);
}

Test(config, world_writable_only_password_file)
{
    write_file("pw", "secret\n", 0602);
    char *got = load_errors(password_text);
    cr_expect_str_eq(got, "t.conf:2: clusters.main.password_file: pw must not be accessible by "
                          "group or others (mode 0602; chmod 600 it)\n");
    free(got);
}

Test(config, unreadable_password_file)
{
    if (geteuid() == 0) {
        leave_tmpdir(); /* a skipped test does not run the suite's fini */
        cr_skip_test("root reads any file");
    }
    write_file("pw", "secret\n", 0000);
    char *got = load_errors(password_text);
    cr_expect_str_eq(got,
                     "t.conf:2: clusters.main.password_file: cannot open pw: Permission denied\n");
    free(got);
}

Test(config, empty_or_multiline_password_file)
{
    write_file("pw", "\n", 0600);
    char *got = load_errors(password_text);
    cr_expect_str_eq(got, "t.conf:2: clusters.main.password_file: pw is empty\n");
    free(got);
    write_file("pw", "one\ntwo\n", 0600);
    got = load_errors(password_text);
    cr_expect_str_eq(
        got, "t.conf:2: clusters.main.password_file: pw must hold the password on one line\n");
    free(got);
}

Test(config, errors_beyond_the_limit_are_counted)
{
    buf_t text = BUF_INIT;
    buf_puts(&text, HEAD NODES1 TAIL);
    for (int i = 0; i < FO_CONFIG_MAX_ERRORS + 10; i++)
        buf_printf(&text, "unknown_%d = %d;\n", i, i);
    write_file("t.conf", buf_str(&text), 0644);
    buf_free(&text);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    cr_assert_null(fo_config_load("t.conf", &errs));
    cr_expect_eq(errs.n, FO_CONFIG_MAX_ERRORS);
    cr_expect_eq(errs.more, 10);
    cr_expect_str_eq(errs.lines[0], "t.conf:4: unknown_0: unknown setting");
    buf_t b = BUF_INIT;
    fo_config_errors_format(&errs, &b);
    cr_expect(strstr(buf_str(&b), "\n... and 10 more errors\n") != NULL);
    buf_free(&b);
    fo_config_errors_free(&errs);
}

/* SIGHUP reload: a failed load leaves nothing behind, a good tree is unaffected, and
 * the error list can be reused. */
Test(config, loads_are_independent)
{
    fo_config_t *a = load_text_ok(HEAD NODES1 TAIL);
    write_file("bad.conf", "clusters = 1;\n", 0644);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    cr_assert_null(fo_config_load("bad.conf", &errs));
    cr_assert_eq(errs.n, 1);
    fo_config_t *b = fo_config_load("t.conf", &errs);
    cr_assert_not_null(b);
    cr_expect_eq(errs.n, 0, "errs is reset by the next load");
    cr_expect_str_eq(a->clusters[0].name, "main");
    cr_expect_neq(a->clusters[0].name, b->clusters[0].name);
    fo_config_free(a);
    fo_config_free(b);
    fo_config_errors_free(&errs);
}

/* ------------------------------------------------------------------------ */
/* Durations                                                                 */

Test(config, duration_parse)
{
    static const struct {
        const char *text;
        bool ok;
        uint64_t ms;
    } cases[] = {
        {"0ms", true, 0},
        {"500ms", true, 500},
        {"2s", true, 2000},
        {"1.5s", true, 1500},
        {"0.001s", true, 1},
        {"1m", true, 60000},
        {"1m30s", true, 90000},
        {"1h", true, 3600000},
        {"1h 2m 3s 4ms", true, 3723004},
        {" 5s ", true, 5000},
        {"10 s", true, 10000},
        {"2.25m", true, 135000},
        {"", false, 0},
        {"5", false, 0},
        {"s", false, 0},
        {"1.5ms", false, 0},
        {"0.0001s", false, 0},
        {"-1s", false, 0},
        {"1d", false, 0},
        {"1 hour", false, 0},
        {"1.s", false, 0},
        {"1sec", false, 0},
        {"99999999999999999999h", false, 0},
        {"1e3ms", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t ms = 12345;
        bool ok = fo_duration_parse(cases[i].text, &ms);
        cr_expect_eq(ok, cases[i].ok, "\"%s\"", cases[i].text);
        if (ok && cases[i].ok)
            cr_expect_eq(ms, cases[i].ms, "\"%s\": %llu", cases[i].text, (unsigned long long)ms);
    }
}

Test(config, duration_format_is_exact_and_reparses)
{
    static const struct {
        uint64_t ms;
        const char *text;
    } cases[] = {
        {0, "0ms"},      {1, "1ms"},          {500, "500ms"},
        {1000, "1s"},    {1500, "1s500ms"},   {90000, "1m30s"},
        {3600000, "1h"}, {604800000, "168h"}, {3723004, "1h2m3s4ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        fo_duration_format(cases[i].ms, &b);
        cr_expect_str_eq(buf_str(&b), cases[i].text);
        uint64_t back;
        cr_expect(fo_duration_parse(buf_str(&b), &back));
        cr_expect_eq(back, cases[i].ms);
        buf_free(&b);
    }
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

Test(config, enum_names)
{
    cr_expect_str_eq(fo_long_writes_str(FO_LONG_WRITES_KILL), "kill");
    cr_expect_str_eq(fo_webhook_format_str(FO_WEBHOOK_SLACK), "slack");
    cr_expect_str_eq(fo_hook_point_str(FO_HOOK_PRE_FAILOVER), "pre_failover");
    cr_expect_str_eq(fo_hook_point_str(FO_HOOK_NODE_UP), "node_up");
    cr_expect_str_eq(fo_hook_point_str((fo_hook_point_t)99), "?");
}

/* Policies and promotion rules are stored as elect.h's and model.h's enums: the file's
 * names must be theirs, in their order. */
Test(config, policy_and_rule_names_match_their_modules)
{
    for (int p = POLICY_RELIABILITY; p <= POLICY_AVAILABILITY; p++) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "daemon = { policy = \"%s\"; };\n" HEAD NODES1 TAIL, policy_str(p));
        fo_config_t *cfg = load_text_ok(buf_str(&b));
        cr_expect_eq((int)cfg->daemon.policy, p);
        cr_expect_eq((int)cfg->clusters[0].policy, p);
        fo_config_free(cfg);
        buf_free(&b);
    }
    for (int r = RULE_PREFER; r <= RULE_MUST_NOT; r++) {
        buf_t b = BUF_INIT;
        buf_printf(&b, HEAD "  nodes = ( { host = \"h\"; promotion_rule = \"%s\"; } );\n" TAIL,
                   promotion_rule_str(r));
        fo_config_t *cfg = load_text_ok(buf_str(&b));
        cr_expect_eq((int)cfg->clusters[0].nodes[0].promotion_rule, r);
        fo_config_free(cfg);
        buf_free(&b);
    }
}

/* The config stores log_level through the log module's enum: same names, same order. */
Test(config, log_level_names_match_the_log_module)
{
    static const char *const names[] = {"debug", "info", "notice", "warning", "error"};
    for (int i = 0; i < 5; i++) {
        buf_t b = BUF_INIT;
        buf_printf(&b, HEAD NODES1 TAIL "daemon = { log_level = \"%s\"; };\n", names[i]);
        fo_config_t *cfg = load_text_ok(buf_str(&b));
        cr_expect_str_eq(log_level_str(cfg->daemon.log_level), names[i]);
        fo_config_free(cfg);
        buf_free(&b);
    }
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */

static char *print_of(const fo_config_t *cfg)
{
    buf_t b = BUF_INIT;
    fo_config_print(cfg, &b);
    return buf_steal(&b);
}

Test(config, print_masks_secrets)
{
    write_file("main.password", "s3cret\n", 0600);
    write_file("repl.password", "r3pl\n", 0600);
    char *text = read_whole(TEST_DATA_DIR "/config/full.conf");
    write_file("full.conf", text, 0644);
    free(text);
    fo_config_t *cfg = load_ok("full.conf");
    char *out = print_of(cfg);
    cr_expect_null(strstr(out, "s3cret"));
    cr_expect_null(strstr(out, "r3pl"));
    cr_expect_null(strstr(out, "inline-secret"));
    cr_expect_null(strstr(out, "c2VjcmV0"), "plugin settings named *secret* are masked");
    cr_expect_null(strstr(out, "XYZ"), "webhook URL paths are masked");
    cr_expect(strstr(out, "    password_file = \"main.password\";\n"));
    cr_expect(strstr(out, "    password = \"********\";\n"), "the inline one of \"reports\"");
    cr_expect(strstr(out, "url = \"https://hooks.example.com/********\";"));
    cr_expect(strstr(out, "tsig_secret = \"********\";"));
    cr_expect(strstr(out, "weight = 0.5;"));
    free(out);
    fo_config_free(cfg);
}

Test(config, print_masks_url_credentials_and_secret_keys_in_any_case)
{
    fo_config_t *cfg = load_text_ok(
        HEAD "  nodes = ( { name = \"db1\"; host = \"h1\";\n"
             "    vars = { DB_PASSWORD = \"pw-upper\"; Api_Token = \"tok-mixed\";\n"
             "             ssh_host = \"visible\"; }; } );\n"
             "  webhooks = ( { url = \"https://bob:hunter2@hooks.example.com/x/y\"; },\n"
             "               { url = \"http://alice:pa55@127.0.0.1:8080\"; } );\n" TAIL);
    char *out = print_of(cfg);
    cr_expect_null(strstr(out, "pw-upper"), "DB_PASSWORD is a secret: %s", out);
    cr_expect_null(strstr(out, "tok-mixed"), "Api_Token is a secret");
    cr_expect_null(strstr(out, "hunter2"), "a URL's password is masked");
    cr_expect_null(strstr(out, "pa55"), "even when the URL has no path");
    cr_expect_null(strstr(out, "bob"), "and its user");
    cr_expect(strstr(out, "\"https://********@hooks.example.com/********\""), "%s", out);
    cr_expect(strstr(out, "\"http://********@127.0.0.1:8080\""), "%s", out);
    cr_expect(strstr(out, "\"visible\""));
    /* What is printed loads again and prints the same. */
    write_file("again.conf", out, 0644);
    fo_config_t *again = load_ok("again.conf");
    char *out2 = print_of(again);
    cr_expect_str_eq(strchr(out2, '\n'), strchr(out, '\n'));
    free(out2);
    fo_config_free(again);
    free(out);
    fo_config_free(cfg);
}

static char *without_first_line(char *s)
{
    char *nl = strchr(s, '\n');
    return nl ? nl + 1 : s;
}

/* What is printed is a valid file that gives the same configuration. */
Test(config, printed_config_loads_back_the_same)
{
    write_file("main.password", "s3cret\n", 0600);
    write_file("repl.password", "r3pl\n", 0600);
    char *text = read_whole(TEST_DATA_DIR "/config/full.conf");
    write_file("full.conf", text, 0644);
    free(text);
    fo_config_t *cfg = load_ok("full.conf");
    char *first = print_of(cfg);
    write_file("printed.conf", first, 0644);
    fo_config_t *again = load_ok("printed.conf");
    char *second = print_of(again);
    cr_expect_str_eq(without_first_line(second), without_first_line(first));
    free(first);
    free(second);
    fo_config_free(cfg);
    fo_config_free(again);

    cfg = load_text_ok(HEAD NODES1 TAIL);
    first = print_of(cfg);
    const char *start = "# Effective configuration of t.conf (passwords masked).\n"
                        "daemon = {\n  control_socket = \"/run/failoverd/control.sock\";\n";
    cr_expect(strncmp(first, start, strlen(start)) == 0, "%s", first);
    free(first);
    fo_config_free(cfg);
}

/* ------------------------------------------------------------------------ */
/* Documentation and example stay in step with the table                    */

/* The setting names the table documents: the first column of its rows. */
static size_t doc_setting_names(const char *doc, char names[][64], size_t max)
{
    size_t n = 0;
    for (const char *p = doc; (p = strstr(p, "\n| `")) && n < max; p++) {
        const char *s = p + 4, *e = strchr(s, '`');
        if (e && (size_t)(e - s) < 64)
            snprintf(names[n++], 64, "%.*s", (int)(e - s), s);
    }
    return n;
}

Test(config, docs_match_the_table)
{
    buf_t gen = BUF_INIT;
    fo_config_doc(&gen);
    char *doc = read_whole(DOCS);
    const char *begin = strstr(doc, "\n<!-- BEGIN GENERATED");
    cr_assert_not_null(begin, "docs/configuration.md has no generated part");
    begin = strchr(begin + 1, '\n') + 1;
    const char *end = strstr(begin, "\n<!-- END GENERATED -->");
    if (end)
        end++;
    cr_assert_not_null(end);
    char *part = strndup(begin, (size_t)(end - begin));
    cr_expect_str_eq(part, buf_str(&gen),
                     "docs/configuration.md is out of date: regenerate its reference with "
                     "failoverd --print-config-doc (see the command in the file)");
    free(part);
    free(doc);

    /* Table cells must not break the Markdown table. */
    for (const char *line = buf_str(&gen); *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len && line[0] == '|') {
            int bars = 0;
            for (size_t i = 0; i < len; i++)
                bars += line[i] == '|';
            cr_expect_eq(bars, 5, "%.*s", (int)len, line);
        }
        line += len + (nl != NULL);
    }
    buf_free(&gen);
}

Test(config, example_shows_every_setting_and_is_valid)
{
    buf_t gen = BUF_INIT;
    fo_config_doc(&gen);
    static char names[200][64];
    size_t n = doc_setting_names(buf_str(&gen), names, 200);
    cr_assert_gt(n, 60);
    char *example = read_whole(EXAMPLE);
    for (size_t i = 0; i < n; i++) {
        char pat[80];
        snprintf(pat, sizeof pat, "%s = ", names[i]);
        const char *p = example;
        while ((p = strstr(p, pat)) && p > example &&
               (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            p++;
        cr_expect(p, "etc/failoverd.conf does not show %s", names[i]);
    }
    free(example);
    buf_free(&gen);
    fo_config_t *cfg = load_ok(EXAMPLE);
    fo_config_free(cfg);
}

/* ------------------------------------------------------------------------ */
/* failoverd --check-config                                                  */

/* Run failoverd with args; its exit status, stdout and stderr. */
static int run_failoverd(const char *const *args, char **out, char **err)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open("stdout.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open("stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        const char *argv[16] = {FAILOVERD_BIN};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        execv(FAILOVERD_BIN, (char *const *)argv);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    *out = read_whole("stdout.txt");
    *err = read_whole("stderr.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The example holds (placeholder) inline passwords: installed as the
 * README says, it is private to root and the daemon. */
#define PRIVATE_EXAMPLE "example.conf"
static void private_example(mode_t mode)
{
    char *text = read_whole(EXAMPLE);
    write_file(PRIVATE_EXAMPLE, text, mode);
    free(text);
}

Test(config, check_config_refuses_passwords_others_can_read)
{
    private_example(0644);
    char *out, *err;
    int rc = run_failoverd((const char *[]){"--check-config", PRIVATE_EXAMPLE, NULL}, &out, &err);
    cr_expect_eq(rc, FO_EXIT_CONFIG);
    cr_expect(strstr(err, "example.conf: holds passwords and is readable by others (mode 0644): "
                          "chmod 600 it"),
              "stderr: %s", err);
    cr_expect(strstr(err, "configuration rejected"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(config, check_config_accepts_the_example)
{
    char *out, *err;
    private_example(0600);
    int rc = run_failoverd((const char *[]){"--check-config", PRIVATE_EXAMPLE, NULL}, &out, &err);
    cr_expect_eq(rc, 0, "stderr: %s", err);
    cr_expect(strstr(out, "    name = \"main\";\n"));
    cr_expect(strstr(out, "    password = \"********\";\n"));
    cr_expect_null(strstr(out, "change-me"), "the example's placeholder passwords are masked");
    cr_expect(strstr(err, "configuration is valid"));
    free(out);
    free(err);

    rc = run_failoverd((const char *[]){"-c", PRIVATE_EXAMPLE, "--check-config", NULL}, &out, &err);
    cr_expect_eq(rc, 0, "-c FILE --check-config: %s", err);
    free(out);
    free(err);
    rc = run_failoverd((const char *[]){"--check-config=" PRIVATE_EXAMPLE, NULL}, &out, &err);
    cr_expect_eq(rc, 0, "--check-config=FILE: %s", err);
    free(out);
    free(err);
}

/* A copy of the example with one line replaced; the replaced line's number. */
static int broken_example(const char *find, const char *replace)
{
    char *text = read_whole(EXAMPLE);
    char *at = strstr(text, find);
    cr_assert_not_null(at, "the example has no \"%s\"", find);
    int line = 1;
    for (char *p = text; p < at; p++)
        line += *p == '\n';
    buf_t b = BUF_INIT;
    buf_append(&b, text, (size_t)(at - text));
    buf_puts(&b, replace);
    buf_puts(&b, at + strlen(find));
    write_file("broken.conf", buf_str(&b), 0600);
    buf_free(&b);
    free(text);
    return line;
}

Test(config, check_config_rejects_a_broken_copy)
{
    int line = broken_example("port = 3306;", "port = 99999;");
    char *out, *err;
    int rc = run_failoverd((const char *[]){"--check-config", "broken.conf", NULL}, &out, &err);
    cr_expect_eq(rc, FO_EXIT_CONFIG);
    char want[200];
    snprintf(want, sizeof want,
             "broken.conf:%d: clusters.main.nodes.db1.port: 99999 is out of range (1..65535)\n"
             "failoverd: broken.conf: 1 error, configuration rejected\n",
             line);
    cr_expect_str_eq(err, want);
    cr_expect_str_eq(out, "", "nothing printed on stdout for an invalid file");
    free(out);
    free(err);

    line = broken_example("  state_dir = ", "  state_dir = ;\n");
    rc = run_failoverd((const char *[]){"-c", "broken.conf", "--check-config", NULL}, &out, &err);
    cr_expect_eq(rc, FO_EXIT_CONFIG);
    snprintf(want, sizeof want, "broken.conf:%d: syntax error\n", line);
    cr_expect(strncmp(err, want, strlen(want)) == 0, "stderr: %s", err);
    free(out);
    free(err);
}

Test(config, check_config_loads_the_plugins)
{
    int line = broken_example("    plugins = (\n", "    plugins = (\n      { path = \"/nonexistent/vip.so\"; }\n");
    char *out, *err;
    int rc = run_failoverd((const char *[]){"--check-config", "broken.conf", NULL}, &out, &err);
    cr_expect_eq(rc, FO_EXIT_CONFIG);
    char want[300];
    snprintf(want, sizeof want,
             "broken.conf:%d: cluster main: plugin /nonexistent/vip.so: cannot load: ", line + 1);
    cr_expect(strncmp(err, want, strlen(want)) == 0, "stderr: %s\nwant: %s", err, want);
    cr_expect(strstr(err, "configuration rejected"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(config, failoverd_command_line)
{
    char *out, *err;
    cr_expect_eq(run_failoverd((const char *[]){"--bogus", NULL}, &out, &err), FO_EXIT_USAGE);
    free(out);
    free(err);
    cr_expect_eq(run_failoverd((const char *[]){"--check-config", "a", "b", NULL}, &out, &err),
                 FO_EXIT_USAGE);
    free(out);
    free(err);
    cr_expect_eq(run_failoverd((const char *[]){"--help", NULL}, &out, &err), 0);
    cr_expect(strstr(out, "--check-config"));
    free(out);
    free(err);
    cr_expect_eq(run_failoverd((const char *[]){"--print-config-doc", NULL}, &out, &err), 0);
    buf_t gen = BUF_INIT;
    fo_config_doc(&gen);
    cr_expect_str_eq(out, buf_str(&gen));
    buf_free(&gen);
    free(out);
    free(err);
    /* Running (not checking) also refuses an invalid file with EX_CONFIG. */
    write_file("t.conf", "clusters = 1;\n", 0644);
    cr_expect_eq(run_failoverd((const char *[]){"-c", "t.conf", NULL}, &out, &err), FO_EXIT_CONFIG);
    cr_expect_str_eq(err, "t.conf:1: clusters: expected a list ( ... ), found an integer\n"
                          "failoverd: t.conf: 1 error, configuration rejected\n");
    free(out);
    free(err);
}

/* ------------------------------------------------------------------------ */
/* TLS                                                                       */

/* The files' absolute paths, in the test's directory. */
static char *tls_path(const char *name)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s/%s", tmpdir, name);
    return buf_steal(&b);
}

static char *tls_conf(const char *cluster, const char *node)
{
    buf_t b = BUF_INIT;
    buf_printf(&b,
               "clusters = ({ name = \"main\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; "
               "repl_password = \"q\";\n%s\n"
               "  nodes = ( { name = \"db1\"; host = \"h1\"; },\n"
               "            { name = \"db2\"; host = \"h2\"; %s } );\n});\n",
               cluster, node);
    return buf_steal(&b);
}

Test(config, tls_defaults_to_disabled_and_nodes_take_the_clusters_settings)
{
    write_file("ca.pem", "ca\n", 0644);
    write_file("other.pem", "ca\n", 0644);
    char *ca = tls_path("ca.pem"), *other = tls_path("other.pem");
    buf_t cl = BUF_INIT, nd = BUF_INIT;
    buf_printf(&cl, "  ssl_mode = \"verify_identity\"; ssl_ca = \"%s\"; tls_version = \"TLSv1.3\";",
               ca);
    buf_printf(&nd, "ssl_mode = \"verify_ca\"; ssl_ca = \"%s\";", other);
    char *text = tls_conf(buf_str(&cl), buf_str(&nd));
    fo_config_t *cfg = load_text_ok(text);
    const fo_cluster_cfg_t *c = &cfg->clusters[0];
    cr_expect_eq(c->nodes[0].tls.mode, TLS_MODE_VERIFY_IDENTITY);
    cr_expect_str_eq(c->nodes[0].tls.ca, ca);
    cr_expect_str_eq(c->nodes[0].tls.version, "TLSv1.3");
    cr_expect_null(c->nodes[0].tls.cert);
    cr_expect_eq(c->nodes[1].tls.mode, TLS_MODE_VERIFY_CA, "the node's own mode wins");
    cr_expect_str_eq(c->nodes[1].tls.ca, other, "the node's own CA wins");
    cr_expect_str_eq(c->nodes[1].tls.version, "TLSv1.3", "what the node leaves unset is the cluster's");
    fo_config_free(cfg);
    free(text);

    text = tls_conf("", "");
    cfg = load_text_ok(text);
    cr_expect_eq(cfg->clusters[0].ssl_mode, TLS_MODE_PREFERRED);
    cr_expect_eq(cfg->clusters[0].nodes[1].tls.mode, TLS_MODE_PREFERRED);
    cr_expect_null(cfg->clusters[0].nodes[1].tls.ca);
    fo_config_free(cfg);
    free(text);
    buf_free(&cl);
    buf_free(&nd);
    free(ca);
    free(other);
}

Test(config, tls_files_are_checked_at_load)
{
    write_file("ca.pem", "ca\n", 0644);
    write_file("cert.pem", "cert\n", 0644);
    write_file("key.pem", "key\n", 0644);
    char *key = tls_path("key.pem"), *cert = tls_path("cert.pem");
    buf_t cl = BUF_INIT;
    buf_printf(&cl, "  ssl_cert = \"%s\";\n  ssl_key = \"%s\";", cert, key);
    char *text = tls_conf(buf_str(&cl), "");
    char *got = load_errors(text);
    buf_t want = BUF_INIT;
    buf_printf(&want,
               "t.conf:3: clusters.main.ssl_key: \"%s\" is a private key readable by others "
               "(mode 0644): chmod o-r it\n",
               key);
    cr_expect_str_eq(got, buf_str(&want));
    free(got);
    free(text);

    cr_assert_eq(chmod("key.pem", 0640), 0);
    text = tls_conf(buf_str(&cl), "ssl_ca = \"ca.pem\";");
    got = load_errors(text);
    cr_expect(strstr(got, "t.conf:5: clusters.main.nodes.db2.ssl_ca: \"ca.pem\" is not an "
                          "absolute path") != NULL,
              "%s", got);
    free(got);
    free(text);

    text = tls_conf("  ssl_mode = \"verify_ca\";", "ssl_ca = \"/nonexistent/ca.pem\";");
    got = load_errors(text);
    cr_expect(strstr(got, "ssl_ca: \"/nonexistent/ca.pem\" cannot be used: No such file") != NULL,
              "%s", got);
    cr_expect(strstr(got, "clusters.main.nodes.db1: ssl_mode verify_ca needs ssl_ca or "
                          "ssl_capath") != NULL,
              "a verify mode without a CA is refused: %s", got);
    free(got);
    free(text);

    buf_reset(&cl);
    buf_printf(&cl, "  ssl_cert = \"%s\"; tls_version = \"TLSv1.1\";", cert);
    text = tls_conf(buf_str(&cl), "ssl_mode = \"sometimes\";");
    got = load_errors(text);
    cr_expect(strstr(got, "tls_version: \"TLSv1.1\" is not a TLS version failoverd accepts") != NULL,
              "%s", got);
    cr_expect(strstr(got, "ssl_cert and ssl_key go together: ssl_cert is set, ssl_key is not") !=
                  NULL,
              "%s", got);
    cr_expect(strstr(got, "clusters.main.nodes.db2.ssl_mode") != NULL, "%s", got);
    free(got);
    free(text);
    buf_free(&cl);
    buf_free(&want);
    free(key);
    free(cert);
}
