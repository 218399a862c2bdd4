/* A failover over the whole replication tree (plan_tree.c, tree.h):
 * db1 (primary, dead) -> db2, db3; db2 -> db4. A relay's replica is stopped,
 * compared, waited for and repointed like a direct replica; a surviving
 * relay keeps its replicas unless relay_flatten. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "elect.h"
#include "plan.h"

#define A "3e11fa47-71ca-11e1-9e33-c80aa9429562"

static const plan_opts_t OPTS = {.repl_user = "repl", .repl_password = "pw",
                                 .connect_retry_s = 1, .heartbeat_ms = 1000,
                                 .step_timeout_ms = 5000, .fence_timeout_ms = 1000,
                                 .wait_apply_timeout_ms = 10000, .catchup_timeout_ms = 30000,
                                 .verify_timeout_ms = 5000, .hook_timeout_ms = 10000};

typedef struct {
    const char *gtids; /* executed = received */
    int src;           /* -1: none */
    bool up;
    promotion_rule_t rule;
} nd_t;

static void build(cluster_t *c, const nd_t *d, size_t n)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("main");
    c->n_nodes = n;
    c->nodes = xcalloc(n, sizeof *c->nodes);
    for (size_t i = 0; i < n; i++) {
        char name[32], host[32];
        snprintf(name, sizeof name, "db%zu", i + 1);
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        node_init(&c->nodes[i], name, host, 3306, d[i].rule);
        observation_t o = {.at = 100, .ok = true, .family = FAMILY_MYSQL,
                           .version = xstrdup("9.7.0"), .server_id = (uint32_t)i + 1,
                           .read_only = d[i].src >= 0, .log_bin = true,
                           .log_replica_updates = true, .gtid_executed = xstrdup(d[i].gtids),
                           .server_uuid = i == 0 ? xstrdup(A) : NULL};
        if (d[i].src >= 0) {
            char src[32];
            snprintf(src, sizeof src, "10.0.0.%d", d[i].src + 1);
            o.replica = true;
            o.source_host = xstrdup(src);
            o.source_port = 3306;
            o.io = IO_NO;
            o.sql_running = true;
            o.received_gtids = xstrdup(d[i].gtids);
            o.executed_gtids = xstrdup(d[i].gtids);
        }
        observation_parse_gtids(&o);
        node_observe(&c->nodes[i], &o);
        if (!d[i].up) {
            observation_t f = {.at = 200, .error = xstrdup("refused")};
            node_observe(&c->nodes[i], &f);
        }
    }
    c->primary = 0;
}

static const step_t *find(const plan_t *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->steps[i].name, name) == 0)
            return &p->steps[i];
    return NULL;
}

static plan_t *promote(const cluster_t *c, const plan_opts_t *o, int want)
{
    elect_result_t *e = elect_run(c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_eq(e->chosen, want, "chosen db%d, want db%d: %s", e->chosen + 1, want + 1, e->why);
    char err[256] = "";
    plan_t *p = plan_failover_promote(c, 0, e, POLICY_RELIABILITY, o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    elect_free(e);
    return p;
}

static void expect_source(const plan_t *p, const char *repoint, const char *host, int verify_src)
{
    const step_t *s = find(p, repoint);
    cr_assert_not_null(s, "no step %s", repoint);
    cr_expect(strstr(s->sql, host), "%s points at %s: %s", repoint, host, s->sql);
    char v[32];
    snprintf(v, sizeof v, "verify:%s", repoint + 8);
    cr_assert_not_null(find(p, v), "no step %s", v);
    cr_expect_eq(find(p, v)->source, verify_src, "%s checks its source", v);
}

Test(plan_tree, prepare_stops_every_io_thread_of_the_tree)
{
    const nd_t d[4] = {{A ":1-10", -1, false, RULE_NEUTRAL}, {A ":1-10", 0, true, RULE_NEUTRAL},
                       {A ":1-10", 0, true, RULE_NEUTRAL}, {A ":1-10", 1, true, RULE_NEUTRAL}};
    cluster_t c;
    build(&c, d, 4);
    plan_t *p = plan_failover_prepare(&c, 0, POLICY_RELIABILITY, &OPTS);
    for (const char *const *s = (const char *const[]){"stop_io:db2", "stop_io:db3", "stop_io:db4",
                                                      NULL};
         *s; s++)
        cr_expect_not_null(find(p, *s), "%s: a candidate below a relay receives nothing more", *s);
    plan_free(p);
    cluster_free(&c);
}

Test(plan_tree, the_relays_replica_holding_the_most_is_elected)
{
    /* db2 (the relay) lost its latest transactions' relay log; db4 got them. */
    const nd_t d[4] = {{A ":1-100", -1, false, RULE_NEUTRAL}, {A ":1-97", 0, true, RULE_NEUTRAL},
                       {A ":1-98", 0, true, RULE_NEUTRAL}, {A ":1-100", 1, true, RULE_NEUTRAL}};
    cluster_t c;
    build(&c, d, 4);
    plan_t *p = promote(&c, &OPTS, 3);
    cr_expect_not_null(find(p, "apply:db4"), "db4 applies what it received first");
    expect_source(p, "repoint:db2", "SOURCE_HOST = '10.0.0.4'", 3);
    expect_source(p, "repoint:db3", "SOURCE_HOST = '10.0.0.4'", 3);
    plan_free(p);
    cluster_free(&c);
}

Test(plan_tree, a_surviving_relay_keeps_its_replicas)
{
    const nd_t d[4] = {{A ":1-10", -1, false, RULE_NEUTRAL}, {A ":1-10", 0, true, RULE_NEUTRAL},
                       {A ":1-10", 0, true, RULE_PREFER}, {A ":1-10", 1, true, RULE_NEUTRAL}};
    cluster_t c;
    build(&c, d, 4);
    plan_t *p = promote(&c, &OPTS, 2);
    expect_source(p, "repoint:db2", "SOURCE_HOST = '10.0.0.3'", 2);
    expect_source(p, "repoint:db4", "SOURCE_HOST = '10.0.0.2'", 1);
    cr_expect(strstr(find(p, "repoint:db4")->desc, "relay"), "%s",
              find(p, "repoint:db4")->desc);
    plan_free(p);
    plan_opts_t flat = OPTS;
    flat.relay_flatten = true;
    p = promote(&c, &flat, 2);
    expect_source(p, "repoint:db4", "SOURCE_HOST = '10.0.0.3'", 2);
    plan_free(p);
    cluster_free(&c);
}

Test(plan_tree, a_dead_relays_replicas_go_to_the_new_primary)
{
    const nd_t d[4] = {{A ":1-10", -1, false, RULE_NEUTRAL}, {A ":1-10", 0, false, RULE_NEUTRAL},
                       {A ":1-10", 0, true, RULE_NEUTRAL}, {A ":1-10", 1, true, RULE_NEUTRAL}};
    cluster_t c;
    build(&c, d, 4);
    plan_t *p = promote(&c, &OPTS, 2);
    expect_source(p, "repoint:db4", "SOURCE_HOST = '10.0.0.3'", 2);
    cr_expect_null(find(p, "repoint:db2"), "a dead relay is not repointed");
    plan_free(p);
    cluster_free(&c);
}
