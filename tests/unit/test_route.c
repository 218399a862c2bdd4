/* test_route.c - the reader pool and the writer (route.h), and max_read_lag. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "route.h"

/* A cluster: db1 the writable primary, then replicas of it with the given lags
 * (-1: Seconds_Behind NULL). */
static void make(cluster_t *c, const int64_t *lags, size_t n_replicas, bool mariadb)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("main");
    c->n_nodes = n_replicas + 1;
    c->nodes = xcalloc(c->n_nodes, sizeof *c->nodes);
    for (size_t i = 0; i < c->n_nodes; i++) {
        char name[32], host[48];
        snprintf(name, sizeof name, "db%zu", i + 1);
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        node_init(&c->nodes[i], name, host, 3306, RULE_NEUTRAL);
        node_t *nd = &c->nodes[i];
        nd->probed = nd->up = true;
        nd->last_ok.ok = true;
        nd->last_ok.family = mariadb ? FAMILY_MARIADB : FAMILY_MYSQL;
        nd->last_ok.read_only = i > 0;
        if (i == 0) {
            nd->last_ok.gtid_executed =
                xstrdup(mariadb ? "0-1-100" : "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100");
            continue;
        }
        nd->last_ok.replica = true;
        nd->last_ok.source_host = xstrdup("10.0.0.1");
        nd->last_ok.source_port = 3306;
        nd->last_ok.io = IO_YES;
        nd->last_ok.sql_running = true;
        nd->last_ok.lag_s = lags[i - 1];
        nd->last_ok.executed_gtids =
            xstrdup(mariadb ? "0-1-100" : "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100");
    }
    c->primary = 0;
}

Test(route, lag_setting)
{
    route_settings_t s;
    char err[160];
    cr_assert(route_lag_parse("5s", &s, err, sizeof err));
    cr_expect(!s.caught_up);
    cr_expect_eq(s.max_lag_s, 5);
    cr_assert(route_lag_parse("2m", &s, err, sizeof err));
    cr_expect_eq(s.max_lag_s, 120);
    cr_assert(route_lag_parse("0", &s, err, sizeof err));
    cr_expect_eq(s.max_lag_s, 0);
    cr_assert(route_lag_parse("caught_up", &s, err, sizeof err));
    cr_expect(s.caught_up);
    const char *bad[] = {"", "fast", "-1s", "5ms", "5 s", "2d", "100000s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(!route_lag_parse(bad[i], &s, err, sizeof err), "%s", bad[i]);
}

Test(route, lagging_replica_leaves_the_pool)
{
    cluster_t c;
    int64_t lags[] = {0, 12, -1};
    make(&c, lags, 3, false);
    route_settings_t s = {.max_lag_s = 5, .fallback_primary = true};
    route_t r;
    route_compute(&c, &s, &r);
    cr_expect_eq(r.writer, 0);
    cr_expect(r.nodes[0].writer && !r.nodes[0].reader);
    cr_expect(r.nodes[1].reader);
    cr_expect_str_eq(r.nodes[1].why, "within max_read_lag");
    cr_expect(!r.nodes[2].reader);
    cr_expect_str_eq(r.nodes[2].why, "lagging");
    cr_expect_eq(r.nodes[2].lag_s, 12);
    cr_expect(!r.nodes[3].reader);
    cr_expect_str_eq(r.nodes[3].why, "lag unknown");
    cr_expect(!r.fallback);

    route_t r2;
    c.nodes[2].last_ok.lag_s = 3; /* caught up again */
    route_compute(&c, &s, &r2);
    cr_expect(r2.nodes[2].reader);
    cr_expect(!route_same(&r, &r2));
    route_free(&r2);
    c.nodes[2].last_ok.lag_s = 13; /* only the figure moved */
    route_compute(&c, &s, &r2);
    cr_expect(route_same(&r, &r2));
    route_free(&r2);
    route_free(&r);
    cluster_free(&c);
}

Test(route, no_replica_qualifies_primary_serves_reads)
{
    cluster_t c;
    int64_t lags[] = {30, 0};
    make(&c, lags, 2, true);
    c.nodes[2].up = false;
    route_settings_t s = {.max_lag_s = 5, .fallback_primary = true};
    route_t r;
    route_compute(&c, &s, &r);
    cr_expect(r.fallback);
    cr_expect(r.nodes[0].reader && r.nodes[0].writer);
    cr_expect_str_eq(r.nodes[2].why, "down");
    route_free(&r);
    s.fallback_primary = false;
    route_compute(&c, &s, &r);
    cr_expect(!r.fallback);
    cr_expect(!r.nodes[0].reader);
    route_free(&r);
    cluster_free(&c);
}

Test(route, broken_or_foreign_replication_is_out)
{
    cluster_t c;
    int64_t lags[] = {0, 0, 0, 0};
    make(&c, lags, 4, false);
    c.nodes[1].last_ok.io = IO_CONNECTING;
    c.nodes[2].last_ok.sql_running = false;
    free(c.nodes[3].last_ok.source_host);
    c.nodes[3].last_ok.source_host = xstrdup("10.9.9.9");
    c.nodes[4].last_ok.read_only = false;
    route_settings_t s = {.max_lag_s = 5};
    route_t r;
    route_compute(&c, &s, &r);
    cr_expect_str_eq(r.nodes[1].why, "receiver thread not running");
    cr_expect_str_eq(r.nodes[2].why, "applier thread not running");
    cr_expect_str_eq(r.nodes[3].why, "replicates from another source than the primary");
    cr_expect_str_eq(r.nodes[4].why, "writable");
    for (size_t i = 0; i < 5; i++)
        cr_expect(!r.nodes[i].reader);
    route_free(&r);
    /* The primary read-only (a switchover froze it): nowhere to write. */
    c.nodes[0].last_ok.read_only = true;
    route_compute(&c, &s, &r);
    cr_expect_eq(r.writer, -1);
    route_free(&r);
    cluster_free(&c);
}

Test(route, caught_up_by_gtid)
{
    for (int maria = 0; maria < 2; maria++) {
        cluster_t c;
        int64_t lags[] = {0, 0};
        make(&c, lags, 2, maria);
        free(c.nodes[2].last_ok.executed_gtids);
        c.nodes[2].last_ok.executed_gtids =
            xstrdup(maria ? "0-1-99" : "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-99");
        route_settings_t s = {.caught_up = true};
        route_t r;
        route_compute(&c, &s, &r);
        cr_expect(r.nodes[1].reader, "flavor %d", maria);
        cr_expect_str_eq(r.nodes[1].why, "caught up");
        cr_expect(!r.nodes[2].reader, "flavor %d", maria);
        cr_expect_str_eq(r.nodes[2].why, "not caught up");
        json_t *j = route_json(&c, &s, &r);
        cr_expect_str_eq(json_string_value(json_object_get(j, "writer")), "db1");
        cr_expect_str_eq(json_string_value(json_object_get(j, "max_read_lag")), "caught_up");
        json_decref(j);
        route_free(&r);
        cluster_free(&c);
    }
}

#include <stdio.h>
#include <unistd.h>

#include "topofile.h"

Test(route, topology_file_is_replaced_whole)
{
    cluster_t c;
    int64_t lags[] = {0, 9};
    make(&c, lags, 2, false);
    route_settings_t s = {.max_lag_s = 5, .fallback_primary = true};
    route_t r;
    route_compute(&c, &s, &r);
    char dir[] = "/tmp/fo-topo-XXXXXX", path[128], err[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/main.json", dir);
    json_t *doc = topofile_json(&c, &s, &r, "2026-12-06T00:00:00.000Z");
    cr_assert(topofile_write(path, doc, err, sizeof err), "%s", err);
    json_decref(doc);
    json_error_t je;
    json_t *back = json_load_file(path, 0, &je);
    cr_assert_not_null(back, "%s", je.text);
    cr_expect_str_eq(json_string_value(json_object_get(back, "cluster")), "main");
    cr_expect_str_eq(json_string_value(json_object_get(back, "primary")), "db1");
    json_t *readers = json_object_get(back, "readers");
    cr_assert_eq(json_array_size(readers), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(readers, 0), "name")), "db2");
    json_decref(back);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_expect(access(tmp, F_OK) != 0, "no temporary file is left");
    unlink(path);
    rmdir(dir);
    /* A directory that is not there: an error that names the file. */
    doc = topofile_json(&c, &s, &r, "");
    cr_expect(!topofile_write("/nonexistent-dir/main.json", doc, err, sizeof err));
    cr_expect(strstr(err, "/nonexistent-dir/main.json.tmp"), "%s", err);
    json_decref(doc);
    route_free(&r);
    cluster_free(&c);
}
