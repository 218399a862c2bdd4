/* The active-passive dual primary (see topology.h): recognized from the
 * nodes' last observations, kept by a switchover, preferred by an election. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "elect.h"
#include "model.h"
#include "plan.h"
#include "rejoin_compare.h"
#include "topology.h"

#define U1 "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define NONE -1
#define OUTSIDE 9

/* One node's last observation, compactly: up, read-only, the node it
 * replicates from (NONE, OUTSIDE or an index), its receiver running, and
 * its executed GTIDs (MySQL, U1's transactions 1-n). */
typedef struct {
    bool up;
    bool ro;
    int src;
    bool io;
    int gtids;
} nd_t;

#define ND(up_, ro_, src_) {up_, ro_, src_, true, 100}

static void build(cluster_t *c, const nd_t *d, size_t n, int known_primary)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("main");
    c->nodes = xcalloc(n, sizeof *c->nodes);
    c->n_nodes = n;
    c->primary = known_primary;
    for (size_t i = 0; i < n; i++) {
        char name[32], host[32], src[32], gt[80];
        snprintf(name, sizeof name, "db%zu", i + 1);
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        snprintf(gt, sizeof gt, U1 ":1-%d", d[i].gtids);
        node_init(&c->nodes[i], name, host, 3306, RULE_NEUTRAL);
        observation_t o = {.at = 100, .ok = true, .family = FAMILY_MYSQL,
                           .version = xstrdup("9.7.0"), .server_id = (uint32_t)i + 1,
                           .read_only = d[i].ro, .log_bin = true, .log_replica_updates = true,
                           .gtid_executed = xstrdup(gt)};
        if (d[i].src != NONE) {
            snprintf(src, sizeof src, "10.0.0.%d", d[i].src + 1);
            o.replica = true;
            o.source_host = xstrdup(d[i].src == OUTSIDE ? "192.0.2.1" : src);
            o.source_port = 3306;
            o.io = d[i].io ? IO_YES : IO_NO; /* io false: both threads stopped */
            o.sql_running = d[i].io;
            o.received_gtids = xstrdup(gt);
            o.executed_gtids = xstrdup(gt);
        }
        node_observe(&c->nodes[i], &o);
        observation_parse_gtids(&c->nodes[i].last_ok);
        if (!d[i].up) {
            observation_t f = {.at = 200, .ok = false, .error = xstrdup("refused")};
            node_observe(&c->nodes[i], &f);
        }
    }
}

typedef struct {
    const char *rule;
    size_t n;
    nd_t d[4];
    int primary;
    int partner;
} dual_row_t;

static const dual_row_t dual_rows[] = {
    {"the pair: A writable replicates from B, B read-only replicates from A", 2,
     {ND(true, false, 1), ND(true, true, 0)}, 0, 1},
    {"the pair with a replica of A", 3,
     {ND(true, false, 1), ND(true, true, 0), ND(true, true, 0)}, 0, 1},
    {"the pair with a replica of B", 3,
     {ND(true, false, 1), ND(true, true, 0), ND(true, true, 1)}, 0, 1},
    {"the pair, the partner second in the configuration order", 3,
     {ND(true, false, 2), ND(true, true, 0), ND(true, true, 0)}, 0, 2},
    {"a dead primary is still half of the pair (its last look says so)", 3,
     {ND(false, false, 1), ND(true, true, 0), ND(true, true, 0)}, 0, 1},
    {"a partner that is down is still the partner", 2,
     {ND(true, false, 1), ND(false, true, 0)}, 0, 1},
    {"the roles flipped: B the primary, A its partner", 3,
     {ND(true, true, 1), ND(true, false, 0), ND(true, true, 1)}, 1, 0},
    {"a plain primary with replicas", 3,
     {ND(true, false, NONE), ND(true, true, 0), ND(true, true, 0)}, 0, NONE},
    {"a writable partner is a second primary, not a pair", 2,
     {ND(true, false, 1), ND(true, false, 0)}, 0, NONE},
    {"the primary's source replicates from someone else", 3,
     {ND(true, false, 1), ND(true, true, 2), ND(true, true, NONE)}, 0, NONE},
    {"the primary's source is outside the cluster", 2,
     {ND(true, false, OUTSIDE), ND(true, true, 0)}, 0, NONE},
    {"no primary known", 2, {ND(true, true, 1), ND(true, true, 0)}, NONE, NONE},
};

Test(topology, dual_partner_table)
{
    for (size_t k = 0; k < sizeof dual_rows / sizeof *dual_rows; k++) {
        const dual_row_t *row = &dual_rows[k];
        cluster_t c;
        build(&c, row->d, row->n, row->primary);
        int got = topology_dual_partner(&c, row->primary);
        cr_expect_eq(got, row->partner, "%s: partner %d, want %d", row->rule, got, row->partner);
        cr_expect_str_eq(topology_kind(&c), row->partner >= 0 ? "dual" : "star", "%s", row->rule);
        cluster_free(&c);
    }
}

/* The inference finds the writable half as the primary, and the shape is no
 * issue: not the primary replicating from its partner, nor a replica of the
 * partner (db3 here); a replica of a third node still is. */
Test(topology, the_pair_is_no_issue)
{
    cluster_t c;
    nd_t d[] = {ND(true, true, 1), ND(true, false, 0), ND(true, true, 0), ND(true, true, 1)};
    build(&c, d, 4, NONE);
    cluster_infer_topology(&c);
    cr_assert_eq(c.primary, 1, "the writable half is the primary");
    cr_assert_eq(topology_dual_partner(&c, c.primary), 0);
    cr_assert_eq(c.n_issues, 0, "%zu: %s", c.n_issues, c.n_issues ? c.issues[0] : "");
    cluster_free(&c);

    nd_t e[] = {ND(true, false, 1), ND(true, true, 0), ND(true, true, NONE), ND(true, true, 2)};
    build(&c, e, 4, NONE);
    cluster_infer_topology(&c);
    cr_assert_eq(c.primary, 0);
    bool said = false;
    for (size_t i = 0; i < c.n_issues; i++)
        said = said || strstr(c.issues[i], "db4 replicates from db3, not from the primary db1");
    cr_assert(said, "a replica of a third node is an issue");
    cluster_free(&c);
}

static const plan_opts_t OPTS = {.repl_user = "repl", .repl_password = "pw",
                                 .connect_retry_s = 1, .heartbeat_ms = 1000,
                                 .step_timeout_ms = 5000, .fence_timeout_ms = 1000,
                                 .wait_apply_timeout_ms = 10000, .catchup_timeout_ms = 30000,
                                 .verify_timeout_ms = 5000, .hook_timeout_ms = 10000,
                                 .switchover_lag_max_ms = 1000, .switchover_timeout_ms = 30000};

static char *names(const plan_t *p)
{
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < p->n; i++)
        buf_printf(&b, "%s%s", i == 0                                   ? ""
                               : p->steps[i].group != p->steps[i - 1].group ? " / "
                                                                            : " ",
                   p->steps[i].name);
    return buf_steal(&b);
}

static const step_t *find(const plan_t *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->steps[i].name, name) == 0)
            return &p->steps[i];
    return NULL;
}

/* Reliability: a role flip. Nothing is repointed between the two; the
 * candidate keeps its replication from the old primary (no STOP, no RESET);
 * the old primary, which replicates from it already, is only verified; the
 * replica of A is repointed as always. */
Test(topology, switchover_reliability_flips_roles_without_repointing_the_pair)
{
    cluster_t c;
    nd_t d[] = {ND(true, false, 1), ND(true, true, 0), ND(true, true, 0)};
    build(&c, d, 3, 0);
    char err[256] = "";
    plan_t *p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    char *s = names(p);
    cr_assert_str_eq(s, "hook:switchover_before / check_lag:db2 / block_writes:db1 / capture:db1 / "
                        "sync:db2 / repoint:db3 / promote:db2 / hook:post_promotion / "
                        "verify:db3 verify:db1 / refresh / hook:switchover_after");
    free(s);
    const char *promote = find(p, "promote:db2")->sql;
    cr_assert(!strstr(promote, "STOP") && !strstr(promote, "RESET"), "%s", promote);
    cr_assert(strstr(promote, "read_only = OFF"), "%s", promote);
    cr_assert_eq(find(p, "verify:db1")->source, 1);
    cr_assert(strstr(p->summary, "dual primary"), "%s", p->summary);
    plan_free(p);
    cluster_free(&c);
}

/* With semi-sync the old primary's receiver restarts (no CHANGE) as a
 * semi-sync replica: before the candidate is writable when it is to be its
 * only replica, so that it acknowledges the candidate's first commits; after
 * traffic moved when another replica, repointed early, does that. The same
 * restart when its replication was seen stopped. */
Test(topology, switchover_restarts_the_old_primarys_replication_where_needed)
{
    cluster_t c;
    nd_t d[] = {ND(true, false, 1), ND(true, true, 0)};
    build(&c, d, 2, 0);
    char err[256] = "";
    plan_opts_t o = OPTS;
    o.semisync = true;
    plan_t *p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    const step_t *r = find(p, "restart_replica:db1");
    cr_assert_not_null(r);
    cr_assert(r->group < find(p, "promote:db2")->group, "early, before the promotion");
    cr_assert(!strstr(r->sql, "CHANGE"), "%s", r->sql);
    const char *off = strstr(r->sql, "rpl_semi_sync_source_enabled = OFF");
    const char *on = strstr(r->sql, "rpl_semi_sync_replica_enabled = ON");
    const char *start = strstr(r->sql, "START REPLICA");
    cr_assert(off && on && start && off < start && on < start, "%s", r->sql);
    plan_free(p);
    cluster_free(&c);

    nd_t three[] = {ND(true, false, 1), ND(true, true, 0), ND(true, true, 0)};
    build(&c, three, 3, 0);
    p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert(find(p, "restart_replica:db1")->group > find(p, "hook:post_promotion")->group,
              "db3 acknowledges: db1 restarts after traffic moved");
    plan_free(p);
    cluster_free(&c);

    nd_t stopped[] = {{true, false, 1, false, 100}, ND(true, true, 0)};
    build(&c, stopped, 2, 0);
    p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_not_null(find(p, "restart_replica:db1"), "a stopped receiver is started");
    plan_free(p);
    cluster_free(&c);
}

/* Availability: the candidate stops replicating first and its promotion does
 * not start it again (the old primary may hold what it lacks: reported). */
Test(topology, switchover_availability_leaves_the_candidates_replication_stopped)
{
    cluster_t c;
    nd_t d[] = {ND(true, false, 1), ND(true, true, 0), ND(true, true, 0)};
    build(&c, d, 3, 0);
    char err[256] = "";
    plan_t *p = plan_switchover(&c, 0, 1, POLICY_AVAILABILITY, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    char *s = names(p);
    cr_assert_str_eq(s, "hook:switchover_before / stop_replica:db2 / capture:db2 / promote:db2 / "
                        "hook:post_promotion / block_writes:db1 / capture:db1 / repoint:db3 / "
                        "verify:db3 verify:db1 / refresh / hook:switchover_after");
    free(s);
    const char *promote = find(p, "promote:db2")->sql;
    cr_assert(!strstr(promote, "START") && !strstr(promote, "RESET"), "%s", promote);
    plan_free(p);
    cluster_free(&c);
}

/* A switchover to another replica of a dual primary is an ordinary one. */
Test(topology, switchover_to_a_third_node_is_ordinary)
{
    cluster_t c;
    nd_t d[] = {ND(true, false, 1), ND(true, true, 0), ND(true, true, 0)};
    build(&c, d, 3, 0);
    char err[256] = "";
    plan_t *p = plan_switchover(&c, 0, 2, POLICY_RELIABILITY, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_not_null(find(p, "repoint:db1"));
    cr_assert(strstr(find(p, "promote:db3")->sql, "RESET"), "%s", find(p, "promote:db3")->sql);
    plan_free(p);
    cluster_free(&c);
}

/* Failover of A: the partner wins a tie (db3 is the partner here, later in
 * the configuration order than db2), never over a replica holding more. */
Test(topology, election_prefers_the_partner_on_ties_only)
{
    cluster_t c;
    nd_t tie[] = {ND(false, false, 2), ND(true, true, 0), ND(true, true, 0)};
    build(&c, tie, 3, 0);
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_eq(e->chosen, 2, "the partner db3: %s", e->why);
    elect_free(e);
    cluster_free(&c);

    nd_t ahead[] = {{false, false, 2, true, 100}, {true, true, 0, true, 100},
                    {true, true, 0, true, 90}};
    build(&c, ahead, 3, 0);
    e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_eq(e->chosen, 1, "db2 holds more than the partner: %s", e->why);
    elect_free(e);
    cluster_free(&c);
}

/* After a failover the old half of the pair comes back pointing at its
 * partner, the primary now, with its replication stopped (servers start
 * with skip_replica_start): the rejoin checks it like an old primary. A
 * replica of the primary that replicates, whose replication is broken, or
 * that was not down (an operator stopped it), is left alone. */
Test(topology, a_returning_stopped_replica_of_the_primary_is_checked_for_a_rejoin)
{
    cluster_t c;
    rejoin_memo_t memo[3] = {0};
    nd_t d[] = {{true, true, 1, false, 100}, ND(true, false, NONE), ND(true, true, 1)};
    build(&c, d, 3, 1);
    int node = -1;
    cr_assert_eq(rejoin_next(&c, memo, 1000, 500, &node), REJOIN_NOTHING, "never down");
    memo[0].returned = true;
    cr_assert_eq(rejoin_next(&c, memo, 1000, 500, &node), REJOIN_CHECK);
    cr_assert_eq(node, 0);
    c.nodes[0].last_ok.last_io_errno = 2003;
    cr_assert_eq(rejoin_next(&c, memo, 1000, 500, &node), REJOIN_NOTHING, "broken: an issue");
    cluster_free(&c);

    nd_t running[] = {ND(true, true, 1), ND(true, false, NONE), ND(true, true, 1)};
    build(&c, running, 3, 1);
    cr_assert_eq(rejoin_next(&c, memo, 1000, 500, &node), REJOIN_NOTHING);
    cluster_free(&c);
}
