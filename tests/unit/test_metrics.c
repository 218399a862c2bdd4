/* The Prometheus exposition: escaping, values, histograms, the page built from
 * a model, the counters fed by events, the listen address, and docs/metrics.md
 * against the table of metrics. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "event.h"
#include "metrics.h"
#include "model.h"
#include "testutil.h"

#define METRICS_DOC TEST_DATA_DIR "/../../../docs/metrics.md"

static char *text_of(void (*fn)(buf_t *, const char *), const char *arg)
{
    buf_t b = BUF_INIT;
    fn(&b, arg);
    return buf_steal(&b);
}

static void esc(buf_t *b, const char *s)
{
    metrics_escape_label(b, s);
}

Test(metrics, label_values_escape_backslash_quote_and_newline)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"db1", "db1"},
        {"a\"b", "a\\\"b"},
        {"back\\slash", "back\\\\slash"},
        {"two\nlines", "two\\nlines"},
        {"\\\"\n", "\\\\\\\"\\n"},
        {"", ""},
        {"ünïcode", "ünïcode"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = text_of(esc, cases[i].in);
        cr_expect_str_eq(got, cases[i].out, "escaping %s", cases[i].in);
        free(got);
    }
}

Test(metrics, values_are_written_as_the_format_wants)
{
    static const struct {
        double v;
        const char *out;
    } cases[] = {
        {0, "0"},           {1, "1"},           {42, "42"},          {-3, "-3"},   {0.25, "0.25"},
        {0.0015, "0.0015"}, {INFINITY, "+Inf"}, {-INFINITY, "-Inf"}, {NAN, "NaN"}, {1e20, "1e+20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t b = BUF_INIT;
        metrics_write_value(&b, cases[i].v);
        cr_expect_str_eq(buf_str(&b), cases[i].out);
        buf_free(&b);
    }
}

Test(metrics, a_sample_with_labels)
{
    buf_t b = BUF_INIT;
    const char *l[] = {"cluster", "main", "node", "we\"ird"};
    metrics_write_sample(&b, "failoverd_node_up", NULL, l, 2, 1);
    metrics_write_sample(&b, "failoverd_loop_stalls_total", NULL, NULL, 0, 3);
    cr_expect_str_eq(buf_str(&b), "failoverd_node_up{cluster=\"main\",node=\"we\\\"ird\"} 1\n"
                                  "failoverd_loop_stalls_total 3\n");
    buf_free(&b);
}

Test(metrics, histogram_buckets_are_cumulative_and_end_with_inf)
{
    buf_t b = BUF_INIT;
    const char *l[] = {"node", "db1"};
    const double bounds[] = {0.001, 0.01, 0.1};
    const uint64_t counts[] = {2, 0, 5, 1}; /* the last: above 0.1 */
    metrics_write_histogram(&b, "x_seconds", l, 1, bounds, counts, 3, 0.75);
    cr_expect_str_eq(buf_str(&b), "x_seconds_bucket{node=\"db1\",le=\"0.001\"} 2\n"
                                  "x_seconds_bucket{node=\"db1\",le=\"0.01\"} 2\n"
                                  "x_seconds_bucket{node=\"db1\",le=\"0.1\"} 7\n"
                                  "x_seconds_bucket{node=\"db1\",le=\"+Inf\"} 8\n"
                                  "x_seconds_sum{node=\"db1\"} 0.75\n"
                                  "x_seconds_count{node=\"db1\"} 8\n");
    buf_free(&b);
}

Test(metrics, help_text_escapes_backslash_and_newline_only)
{
    /* Every help of the table is one line without backslashes; the family
     * header is "# HELP name text" then "# TYPE name type". */
    for (int id = 0; id < METRIC__COUNT; id++) {
        cr_expect_null(strchr(metrics_table[id].help, '\n'), "%s", metrics_table[id].name);
        buf_t b = BUF_INIT;
        metrics_write_family(&b, (metric_id_t)id);
        char want[2048];
        snprintf(want, sizeof want, "# HELP %s %s\n# TYPE %s %s\n", metrics_table[id].name,
                 metrics_table[id].help, metrics_table[id].name,
                 metric_type_str(metrics_table[id].type));
        cr_expect_str_eq(buf_str(&b), want);
        buf_free(&b);
    }
}

Test(metrics, names_follow_the_conventions)
{
    for (int id = 0; id < METRIC__COUNT; id++) {
        const metric_def_t *m = &metrics_table[id];
        cr_expect(!strncmp(m->name, "failoverd_", 10), "%s lacks the prefix", m->name);
        size_t n = strlen(m->name);
        bool total = n > 6 && !strcmp(m->name + n - 6, "_total");
        cr_expect_eq(total, m->type == METRIC_COUNTER, "%s: _total iff a counter", m->name);
        for (const char *p = m->name; *p; p++)
            cr_expect((*p >= 'a' && *p <= 'z') || *p == '_', "%s", m->name);
        for (int k = 0; k < id; k++)
            cr_expect_str_neq(m->name, metrics_table[k].name);
    }
}

/* A cluster of three: db1 the primary, db2 a replica with lag and a backlog,
 * db3 down. */
static cluster_t *fixture(void)
{
    cluster_t *c = calloc(1, sizeof *c);
    c->name = strdup("main");
    c->n_nodes = 3;
    c->nodes = calloc(3, sizeof *c->nodes);
    node_init(&c->nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    node_init(&c->nodes[1], "db2", "10.0.0.2", 3306, RULE_NEUTRAL);
    node_init(&c->nodes[2], "db3", "10.0.0.3", 3306, RULE_NEUTRAL);
    observation_t o = {.at = 1000,
                       .ok = true,
                       .family = FAMILY_MYSQL,
                       .latency_ms = 0.7,
                       .read_only = false,
                       .super_read_only = 0,
                       .log_bin = true};
    node_observe(&c->nodes[0], &o);
    o = (observation_t){.at = 1000,
                        .ok = true,
                        .family = FAMILY_MYSQL,
                        .latency_ms = 3,
                        .read_only = true,
                        .super_read_only = 1,
                        .replica = true,
                        .io = IO_YES,
                        .sql_running = true,
                        .lag_s = 7,
                        .received_gtids = strdup("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10"),
                        .executed_gtids = strdup("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6"),
                        .gtid_executed = strdup("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-6")};
    node_observe(&c->nodes[1], &o);
    o = (observation_t){.at = 1000, .ok = false, .error = strdup("refused")};
    node_observe(&c->nodes[2], &o);
    c->nodes[0].last_ok.tls_version = strdup("TLSv1.3");
    c->nodes[0].last_ok.tls_verified = "identity";
    c->nodes[0].role = ROLE_PRIMARY;
    c->nodes[1].role = ROLE_REPLICA;
    c->primary = 0;
    c->detect.verdict = VERDICT_HEALTHY;
    return c;
}

static char *render(cluster_t *c, bool paused)
{
    metrics_cluster_t mc = {.c = c, .paused = paused, .blocked = paused};
    metrics_view_t v = {.version = "9.9.9",
                        .clusters = &mc,
                        .n_clusters = 1,
                        .webhook_waiting = 4,
                        .webhook_failures = 2};
    buf_t b = BUF_INIT;
    metrics_render(&b, &v);
    return buf_steal(&b);
}

static void expect_line(const char *page, const char *line)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s\n", line);
    cr_expect_not_null(strstr(page, want), "missing line: %s", line);
}

static void expect_no(const char *page, const char *prefix)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s", prefix);
    cr_expect_null(strstr(page, want), "unexpected: %s", prefix);
}

Test(metrics, the_page_follows_the_model)
{
    metrics_reset();
    cluster_t *c = fixture();
    char *p = render(c, false);
    expect_line(p, "failoverd_build_info{version=\"9.9.9\"} 1");
    expect_line(p, "failoverd_webhook_queue_depth 4");
    expect_line(p, "failoverd_webhook_failures_total 2");
    expect_line(p, "failoverd_cluster_verdict{cluster=\"main\",verdict=\"healthy\"} 1");
    expect_line(p, "failoverd_cluster_verdict{cluster=\"main\",verdict=\"dead\"} 0");
    expect_line(p, "failoverd_cluster_primary_info{cluster=\"main\",primary=\"db1\"} 1");
    expect_line(p, "failoverd_cluster_paused{cluster=\"main\"} 0");
    expect_line(p, "failoverd_failovers_total{cluster=\"main\",outcome=\"done\"} 0");
    expect_line(p, "failoverd_node_up{cluster=\"main\",node=\"db1\"} 1");
    expect_line(p, "failoverd_node_up{cluster=\"main\",node=\"db3\"} 0");
    expect_line(p, "failoverd_node_role{cluster=\"main\",node=\"db1\",role=\"primary\"} 1");
    expect_line(p, "failoverd_node_role{cluster=\"main\",node=\"db2\",role=\"primary\"} 0");
    expect_line(p, "failoverd_node_role{cluster=\"main\",node=\"db2\",role=\"replica\"} 1");
    expect_line(p, "failoverd_node_read_only{cluster=\"main\",node=\"db1\"} 0");
    expect_line(p, "failoverd_node_read_only{cluster=\"main\",node=\"db2\"} 1");
    expect_line(p, "failoverd_node_tls{cluster=\"main\",node=\"db1\"} 1");
    expect_line(p, "failoverd_node_tls_verified{cluster=\"main\",node=\"db1\"} 1");
    expect_line(p, "failoverd_node_tls{cluster=\"main\",node=\"db2\"} 0");
    expect_no(p, "failoverd_node_tls_verified{cluster=\"main\",node=\"db2\"}");
    expect_no(p, "failoverd_node_tls{cluster=\"main\",node=\"db3\"}");
    expect_line(p, "failoverd_node_replication_io_running{cluster=\"main\",node=\"db2\"} 1");
    expect_line(p, "failoverd_node_replication_sql_running{cluster=\"main\",node=\"db2\"} 1");
    expect_line(p, "failoverd_node_replication_lag_seconds{cluster=\"main\",node=\"db2\"} 7");
    expect_line(p, "failoverd_node_apply_backlog_transactions{cluster=\"main\",node=\"db2\"} 4");
    /* db1 answered in 0.7 ms: in every bucket from 1 ms on, not in 0.5 ms. */
    expect_line(p, "failoverd_node_probe_latency_seconds_bucket{cluster=\"main\",node=\"db1\",le="
                   "\"0.0005\"} 0");
    expect_line(p, "failoverd_node_probe_latency_seconds_bucket{cluster=\"main\",node=\"db1\",le="
                   "\"0.001\"} 1");
    expect_line(
        p,
        "failoverd_node_probe_latency_seconds_bucket{cluster=\"main\",node=\"db1\",le=\"+Inf\"} 1");
    expect_line(p, "failoverd_node_probe_latency_seconds_count{cluster=\"main\",node=\"db3\"} 0");
    /* What is not known is absent, never a made-up 0. */
    expect_no(p, "failoverd_node_read_only{cluster=\"main\",node=\"db3\"}");
    expect_no(p, "failoverd_node_replication_io_running{cluster=\"main\",node=\"db1\"}");
    expect_no(p, "failoverd_last_failover_duration_seconds{");
    /* Every family has its HELP and TYPE once, in the table's order. */
    const char *at = p;
    for (int id = 0; id < METRIC__COUNT; id++) {
        char h[256];
        snprintf(h, sizeof h, "# TYPE %s ", metrics_table[id].name);
        const char *f = strstr(at, h);
        cr_expect_not_null(f, "%s", h);
        if (f)
            at = f;
    }
    free(p);
    cluster_free(c);
    free(c);
}

Test(metrics, counters_follow_the_events)
{
    metrics_reset();
    cluster_t *c = fixture();
    metrics_count_event("failover_started", "main", -1, -1);
    metrics_count_event("failover_done", "main", 1234, -1);
    metrics_count_event("failover_aborted", "main", -1, -1);
    metrics_count_event("switchover_done", "main", 300, 45);
    metrics_count_event("switchover_rolled_back", "main", -1, -1);
    metrics_count_event("failover_done", "other", 99, -1);
    metrics_count_event("loop_stall", NULL, -1, -1);
    metrics_count_hook("post_promotion", "ok");
    metrics_count_hook("post_promotion", "ok");
    metrics_count_hook("pre_failover", "vetoed");
    char *p = render(c, true);
    expect_line(p, "failoverd_failovers_total{cluster=\"main\",outcome=\"done\"} 1");
    expect_line(p, "failoverd_failovers_total{cluster=\"main\",outcome=\"aborted\"} 1");
    expect_line(p, "failoverd_failovers_total{cluster=\"main\",outcome=\"failed\"} 0");
    expect_line(p, "failoverd_switchovers_total{cluster=\"main\",outcome=\"done\"} 1");
    expect_line(p, "failoverd_switchovers_total{cluster=\"main\",outcome=\"rolled_back\"} 1");
    expect_line(p, "failoverd_last_failover_duration_seconds{cluster=\"main\"} 1.234");
    expect_line(p, "failoverd_last_switchover_write_blocked_seconds{cluster=\"main\"} 0.045");
    expect_line(p, "failoverd_loop_stalls_total 1");
    expect_line(p, "failoverd_hook_runs_total{point=\"post_promotion\",outcome=\"ok\"} 2");
    expect_line(p, "failoverd_hook_runs_total{point=\"pre_failover\",outcome=\"vetoed\"} 1");
    expect_line(p, "failoverd_cluster_paused{cluster=\"main\"} 1");
    expect_line(p, "failoverd_cluster_failover_blocked{cluster=\"main\"} 1");
    /* Another cluster's counts are not this one's, and it is not listed. */
    expect_no(p, "failoverd_failovers_total{cluster=\"other\"");
    free(p);
    metrics_reset();
    cluster_free(c);
    free(c);
}

Test(metrics, listen_addresses)
{
    static const struct {
        const char *in;
        bool ok;
        int family;
    } cases[] = {
        {"127.0.0.1:9633", true, AF_INET},
        {"0.0.0.0:1", true, AF_INET},
        {"[::1]:9633", true, AF_INET6},
        {"[::]:65535", true, AF_INET6},
        {"127.0.0.1", false, 0},
        {"127.0.0.1:", false, 0},
        {"127.0.0.1:0", false, 0},
        {"127.0.0.1:65536", false, 0},
        {"127.0.0.1:96x", false, 0},
        {"localhost:9633", false, 0},
        {"::1:9633", false, 0},
        {"[::1]9633", false, 0},
        {"[zz]:9633", false, 0},
        {":9633", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage sa;
        char err[256] = "";
        bool ok = metrics_parse_listen(cases[i].in, &sa, err, sizeof err);
        cr_expect_eq(ok, cases[i].ok, "%s: %s", cases[i].in, err);
        if (ok)
            cr_expect_eq(sa.ss_family, cases[i].family, "%s", cases[i].in);
        else
            cr_expect(err[0], "%s: no reason given", cases[i].in);
    }
}

/* docs/metrics.md holds the table between its two markers, exactly as
 * `failoverd --print-metrics-doc` writes it. */
Test(metrics, docs_metrics_md_lists_every_metric_of_the_table)
{
    char *doc = test_slurp(METRICS_DOC);
    cr_assert_not_null(doc, "cannot open %s", METRICS_DOC);
    const char *begin_mark = "<!-- BEGIN GENERATED by failoverd --print-metrics-doc -->\n";
    const char *begin = strstr(doc, begin_mark);
    cr_assert_not_null(begin, "docs/metrics.md has no BEGIN GENERATED marker");
    begin += strlen(begin_mark);
    const char *end = strstr(begin, "<!-- END GENERATED -->");
    cr_assert_not_null(end, "docs/metrics.md has no END GENERATED marker");
    buf_t want = BUF_INIT;
    metrics_doc(&want);
    char *have = strndup(begin, (size_t)(end - begin));
    cr_expect_str_eq(have, buf_str(&want),
                     "docs/metrics.md is stale: replace its table with "
                     "`failoverd --print-metrics-doc`");
    free(have);
    buf_free(&want);
    free(doc);
}

Test(metrics, the_reader_pool_follows_routing_events)
{
    metrics_reset();
    metrics_attach_events();
    cluster_t *c = fixture();
    char *p = render(c, false);
    expect_line(p, "failoverd_routing_changes_total{cluster=\"main\"} 0");
    expect_no(p, "failoverd_node_reader{");
    free(p);
    event_emit(LOG_LVL_NOTICE, "routing_changed", "main", "db1",
               json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "nodes", "name", "db1", "reader", 0,
                         "name", "db2", "reader", 1),
               "routing");
    p = render(c, false);
    expect_line(p, "failoverd_routing_changes_total{cluster=\"main\"} 1");
    expect_line(p, "failoverd_node_reader{cluster=\"main\",node=\"db1\"} 0");
    expect_line(p, "failoverd_node_reader{cluster=\"main\",node=\"db2\"} 1");
    expect_no(p, "failoverd_node_reader{cluster=\"main\",node=\"db3\"}");
    free(p);
    metrics_detach_events();
    metrics_reset();
    cluster_free(c);
    free(c);
}
