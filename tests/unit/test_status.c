#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"
#include "status.h"

Test(status, cluster_json_has_the_protocol_fields)
{
    cluster_t c = {.name = xstrdup("main"), .primary = -1};
    c.n_nodes = 2;
    c.nodes = xcalloc(2, sizeof *c.nodes);
    node_init(&c.nodes[0], "db1", "10.0.0.1", 3306, RULE_PREFER);
    node_init(&c.nodes[1], "db2", "10.0.0.2", 3306, RULE_NEUTRAL);
    observation_t p = {.at = 1000, .ok = true, .family = FAMILY_MARIADB, .version = xstrdup("10.11.19"),
                       .server_id = 1, .super_read_only = -1, .gtid_executed = xstrdup("0-1-42"),
                       .latency_ms = 0.5};
    node_observe(&c.nodes[0], &p);
    observation_t r = {.at = 1000, .ok = true, .family = FAMILY_MARIADB, .read_only = true,
                       .super_read_only = -1, .replica = true, .source_host = xstrdup("10.0.0.1"),
                       .source_port = 3306, .io = IO_YES, .sql_running = true, .lag_s = -1};
    node_observe(&c.nodes[1], &r);
    observation_t f = {.at = 1500, .error = xstrdup("Can't connect")};
    node_observe(&c.nodes[1], &f);
    cluster_infer_topology(&c);
    status_clock_t clk = {.now_mono = 2000, .now_wall = 1795474201123ULL};
    json_t *j = status_cluster_json(&c, &clk);
    cr_assert_str_eq(json_string_value(json_object_get(j, "primary")), "db1");
    cr_assert_str_eq(json_string_value(json_object_get(j, "verdict")), "healthy");
    json_t *n0 = json_array_get(json_object_get(j, "nodes"), 0);
    json_t *n1 = json_array_get(json_object_get(j, "nodes"), 1);
    cr_assert_str_eq(json_string_value(json_object_get(n0, "role")), "primary");
    cr_assert_str_eq(json_string_value(json_object_get(n0, "flavor")), "mariadb");
    cr_assert(json_is_null(json_object_get(n0, "super_read_only")));
    cr_assert_str_eq(json_string_value(json_object_get(n1, "state")), "down");
    cr_assert_str_eq(json_string_value(json_object_get(n1, "last_error")), "Can't connect");
    /* Down since 500 ms before "now". */
    cr_assert_str_eq(json_string_value(json_object_get(n1, "down_since")),
                     "2026-11-23T22:50:00.623Z");
    json_t *repl = json_object_get(n1, "replication");
    cr_assert_str_eq(json_string_value(json_object_get(repl, "source")), "db1");
    cr_assert(json_is_null(json_object_get(repl, "lag_s")));
    json_decref(j);
    cluster_free(&c);
}

/* GTID text that did not parse is the node's own error in status. */
Test(status, a_gtid_parse_error_is_shown_per_node)
{
    cluster_t c = {.name = xstrdup("main"), .primary = -1};
    c.n_nodes = 1;
    c.nodes = xcalloc(1, sizeof *c.nodes);
    node_init(&c.nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    observation_t p = {.at = 1000, .ok = true, .family = FAMILY_MYSQL, .version = xstrdup("9.7.0"),
                       .server_id = 1, .gtid_executed = xstrdup("3e11fa47:1-x"),
                       .gtid_error = xstrdup("@@gtid_executed '3e11fa47:1-x' can't be parsed")};
    node_observe(&c.nodes[0], &p);
    status_clock_t clk = {.now_mono = 2000, .now_wall = 1795474201123ULL};
    json_t *j = status_cluster_json(&c, &clk);
    json_t *n0 = json_array_get(json_object_get(j, "nodes"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(n0, "state")), "up");
    cr_assert(strstr(json_string_value(json_object_get(n0, "gtid_error")), "can't be parsed"));
    json_decref(j);
    cluster_free(&c);
}

/* A server string that is not UTF-8 (an error message in latin1, a cut
 * character) is kept with U+FFFD in place of each bad byte: the replication
 * member and the rest of the node survive. */
Test(status, invalid_utf8_from_a_server_is_repaired_not_dropped)
{
    cluster_t c = {.name = xstrdup("main"), .primary = -1};
    c.n_nodes = 2;
    c.nodes = xcalloc(2, sizeof *c.nodes);
    node_init(&c.nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    node_init(&c.nodes[1], "db2", "10.0.0.2", 3306, RULE_NEUTRAL);
    observation_t p = {.at = 1000, .ok = true, .family = FAMILY_MYSQL, .version = xstrdup("9.7.0"),
                       .server_id = 1, .super_read_only = -1};
    node_observe(&c.nodes[0], &p);
    observation_t r = {.at = 1000, .ok = true, .family = FAMILY_MYSQL, .read_only = true,
                       .version = xstrdup("9.7.0\xff"), .super_read_only = -1, .replica = true,
                       .source_host = xstrdup("10.0.0.1"), .source_port = 3306, .io = IO_CONNECTING,
                       .lag_s = -1, .last_io_error = xstrdup("error connecting to 'caf\xe9'"),
                       .last_sql_error = xstrdup("\xed\xa0\x80 surrogate, cut \xe2\x82")};
    node_observe(&c.nodes[1], &r);
    cluster_infer_topology(&c);
    status_clock_t clk = {.now_mono = 2000, .now_wall = 1795474201123ULL};
    json_t *j = status_cluster_json(&c, &clk);
    cr_assert_not_null(j);
    json_t *n1 = json_array_get(json_object_get(j, "nodes"), 1);
    json_t *repl = json_object_get(n1, "replication");
    cr_assert(json_is_object(repl), "the replication member is kept");
    cr_assert_str_eq(json_string_value(json_object_get(repl, "last_io_error")),
                     "error connecting to 'caf\xef\xbf\xbd'");
    cr_assert_str_eq(json_string_value(json_object_get(repl, "last_sql_error")),
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate, cut \xef\xbf\xbd\xef\xbf\xbd");
    cr_assert_str_eq(json_string_value(json_object_get(n1, "version")), "9.7.0\xef\xbf\xbd");
    char *dump = json_dumps(j, 0);
    cr_assert_not_null(dump);
    free(dump);
    json_decref(j);
    cluster_free(&c);
}
