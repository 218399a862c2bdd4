/* Topology inference and observation folding (see model.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "model.h"

/* A compact description of one node's last observation for the tables. */
typedef struct {
    bool up;
    bool ro;
    int follows; /* index of the node it replicates from; -1 none; 9 = outside */
    io_state_t io;
    unsigned sql_errno;
} nd_t;

#define PRIMARY(up_) {up_, false, -1, IO_UNKNOWN, 0}
#define REPLICA(up_, ro_, src, io_, err) {up_, ro_, src, io_, err}
#define FOLLOWER(src) REPLICA(true, true, src, IO_YES, 0)

static void build(cluster_t *c, const nd_t *d, size_t n, int known_primary)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("t");
    c->nodes = xcalloc(n, sizeof *c->nodes);
    c->n_nodes = n;
    c->primary = known_primary;
    for (size_t i = 0; i < n; i++) {
        char name[32], host[32];
        snprintf(name, sizeof name, "db%zu", i + 1);
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        node_init(&c->nodes[i], name, host, 3306, RULE_NEUTRAL);
        observation_t o = {.at = 100, .ok = true, .read_only = d[i].ro};
        if (d[i].follows >= 0) {
            o.replica = true;
            char src[32];
            snprintf(src, sizeof src, "10.0.0.%d", d[i].follows + 1);
            o.source_host = xstrdup(d[i].follows == 9 ? "192.0.2.1" : src);
            o.source_port = 3306;
            o.io = d[i].io ? d[i].io : IO_YES;
            o.sql_running = d[i].sql_errno == 0;
            o.last_sql_errno = d[i].sql_errno;
            o.last_sql_error = d[i].sql_errno ? xstrdup("Duplicate entry") : NULL;
        }
        node_observe(&c->nodes[i], &o);
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
    int known;
    int want_primary;
    const char *want_issue; /* substring of some issue, or NULL for none at all */
} row_t;

static const row_t rows[] = {
    {"the writable node the replicas follow is the primary", 3,
     {PRIMARY(true), FOLLOWER(0), FOLLOWER(0)}, -1, 0, NULL},
    {"a dead primary stays the primary while replicas still point at it", 3,
     {PRIMARY(false), REPLICA(true, true, 0, IO_CONNECTING, 0),
      REPLICA(true, true, 0, IO_CONNECTING, 0)}, 0, 0,
     NULL},
    {"with nothing up the known primary is kept", 2, {PRIMARY(false), REPLICA(false, true, 0, IO_YES, 0)}, 1, 1,
     NULL},
    {"after a promotion the new writable node wins", 3,
     {PRIMARY(false), PRIMARY(true), FOLLOWER(1)}, 0, 1, NULL},
    {"two writable nodes are an issue; the known primary stays the primary", 3,
     {PRIMARY(true), PRIMARY(true), FOLLOWER(1)}, 0, 0, "2 writable nodes: db1, db2"},
    {"two writable nodes, no primary known yet: the followed one wins", 3,
     {PRIMARY(true), PRIMARY(true), FOLLOWER(1)}, -1, 1, "2 writable nodes: db1, db2"},
    {"an old primary back writable, followed by a stale replica, is not the primary", 3,
     {PRIMARY(true), FOLLOWER(0), PRIMARY(true)}, 2, 2, "2 writable nodes: db1, db3"},
    {"a replica of a server outside the cluster is an issue", 3,
     {PRIMARY(true), FOLLOWER(0), FOLLOWER(9)}, -1, 0,
     "db3 replicates from 192.0.2.1:3306, which is not in the cluster"},
    {"a replica of a relay that does not log what it applies is an issue", 3,
     {PRIMARY(true), FOLLOWER(0), FOLLOWER(1)}, -1, 0,
     "db3 replicates from the relay db2, which does not log replicated transactions"},
    {"an SQL error is broken replication", 2, {PRIMARY(true), REPLICA(true, true, 0, IO_YES, 1062)},
     -1, 0, "replication broken on db2: SQL error 1062"},
    {"a writable node that replicates is an issue", 2, {PRIMARY(true), REPLICA(true, false, 0, IO_YES, 0)}, -1, 0,
     "db2 is a writable replica"},
    {"nobody writable, a replica already pointed at the candidate: the dead primary stays", 4,
     {PRIMARY(false), REPLICA(true, true, -1, IO_UNKNOWN, 0), FOLLOWER(1), FOLLOWER(1)}, 0, 0,
     "db3 replicates from db2, not from the primary db1"},
    {"a read-only node that replicates from nobody is an issue", 3,
     {PRIMARY(true), FOLLOWER(0), REPLICA(true, true, -1, IO_UNKNOWN, 0)}, -1, 0,
     "db3 replicates from nobody"},
    {"a primary that came back read-only leaves nobody to write to", 3,
     {REPLICA(true, true, -1, IO_UNKNOWN, 0), FOLLOWER(0), FOLLOWER(0)}, 0, 0,
     "no node accepts writes: the primary db1 is read-only"},
};

Test(model, topology)
{
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const row_t *row = &rows[r];
        cluster_t c;
        build(&c, row->d, row->n, row->known);
        cluster_infer_topology(&c);
        cr_expect_eq(c.primary, row->want_primary, "%s: primary %d, want %d", row->rule, c.primary,
                     row->want_primary);
        if (!row->want_issue) {
            cr_expect_eq(c.n_issues, 0, "%s: unexpected issue \"%s\"", row->rule,
                         c.n_issues ? c.issues[0] : "");
        } else {
            bool found = false;
            for (size_t i = 0; i < c.n_issues; i++)
                found = found || strstr(c.issues[i], row->want_issue);
            cr_expect(found, "%s: no issue contains \"%s\" (%zu issues%s%s)", row->rule,
                      row->want_issue, c.n_issues, c.n_issues ? ", first: " : "",
                      c.n_issues ? c.issues[0] : "");
        }
        if (c.primary >= 0)
            cr_expect_eq(c.nodes[c.primary].role, ROLE_PRIMARY, "%s", row->rule);
        cluster_free(&c);
    }
}

Test(model, failoverds_promotion_stays_the_primary_while_writable)
{
    /* After a restart the known primary is lost (-1): the node failoverd
     * promoted last (from its journal) wins over the stale old primary that a
     * replica cut off during the failover still follows. */
    const nd_t d[3] = {PRIMARY(true), FOLLOWER(0), PRIMARY(true)};
    cluster_t c;
    build(&c, d, 3, -1);
    c.promoted = xstrdup("db3");
    cluster_infer_topology(&c);
    cr_expect_eq(c.primary, 2);
    /* Once it is read-only (an operator moved the primary by hand), the
     * usual rule decides again. */
    c.nodes[2].last_ok.read_only = true;
    cluster_infer_topology(&c);
    cr_expect_eq(c.primary, 0);
    cluster_free(&c);
}

Test(model, the_old_primary_back_writable_is_not_the_primary_while_the_promoted_one_is_unseen)
{
    /* failoverd promoted db2 over db1; db2 is cut off from the manager and
     * db1, hung through the failover, resumes writable: db2 stays the
     * primary (db1 is fenced, rejoin_next). Seen read-only and up, db2 no
     * longer holds the place (an operator moved the primary by hand). */
    const nd_t d[3] = {PRIMARY(true), PRIMARY(false), FOLLOWER(1)};
    cluster_t c;
    build(&c, d, 3, 1);
    c.promoted = xstrdup("db2");
    c.demoted = xstrdup("db1");
    cluster_infer_topology(&c);
    cr_expect_eq(c.primary, 1, "the promoted node stays the primary while unseen");
    free(c.demoted);
    c.demoted = NULL;
    cluster_infer_topology(&c);
    cr_expect_eq(c.primary, 0, "without the rule, the writable node took the place");
    cluster_free(&c);
}

Test(model, a_promotion_counts_before_the_next_probe_says_so)
{
    /* The old primary is down (hung); db2 was last seen read-only, by a probe
     * begun before failoverd made it writable: it is the primary at once. A
     * probe begun after the promotion that still finds it read-only wins. */
    const nd_t d[3] = {PRIMARY(false), FOLLOWER(0), FOLLOWER(0)};
    cluster_t c;
    build(&c, d, 3, 0);
    c.nodes[1].last_ok.started = 100;
    cluster_infer_topology(&c);
    cr_expect_eq(c.primary, 0, "nobody writable: the known primary stays");
    c.promoted = xstrdup("db2");
    c.promoted_at = 150;
    cluster_infer_topology(&c);
    cr_expect_eq(c.primary, 1, "promoted after the last look: the primary");
    cr_expect_null(strstr(c.n_issues ? c.issues[0] : "", "no node accepts writes"));
    c.nodes[1].last_ok.started = 160;
    cluster_infer_topology(&c);
    cr_expect_eq(c.nodes[1].last_ok.read_only, true);
    cr_expect_eq(c.primary, 1, "read-only after the promotion: kept, nobody else writable");
    bool issue = false;
    for (size_t i = 0; i < c.n_issues; i++)
        issue |= strstr(c.issues[i], "no node accepts writes") != NULL;
    cr_expect(issue, "and said: nobody accepts writes");
    cluster_free(&c);
}

Test(model, observe_tracks_failure_runs_and_hearing)
{
    node_t n;
    node_init(&n, "db1", "h", 3306, RULE_PREFER);
    observation_t o = {.at = 10, .ok = true, .heartbeats = 5, .received_gtids = xstrdup("0-1-5")};
    node_observe(&n, &o);
    cr_assert(n.up);
    cr_assert_eq(n.heard_at, 10);
    observation_t same = {.at = 20, .ok = true, .heartbeats = 5, .received_gtids = xstrdup("0-1-5")};
    node_observe(&n, &same);
    cr_assert_eq(n.heard_at, 10, "nothing new was received");
    observation_t hb = {.at = 30, .ok = true, .heartbeats = 6, .received_gtids = xstrdup("0-1-5")};
    node_observe(&n, &hb);
    cr_assert_eq(n.heard_at, 30, "a heartbeat counts as hearing");
    observation_t f1 = {.at = 40, .error = xstrdup("timeout")};
    node_observe(&n, &f1);
    cr_assert_eq(node_unreached_since(&n), 40, "one lost probe counts from its failure");
    observation_t f2 = {.at = 50, .error = xstrdup("refused")};
    node_observe(&n, &f2);
    cr_assert(!n.up);
    cr_assert_eq(n.failures, 2);
    cr_assert_eq(n.fail_since, 40, "a failure run starts at its first failure");
    cr_assert_eq(node_unreached_since(&n), 30,
                 "two in a row: since its last answer (probe start unknown: its end)");
    cr_assert_str_eq(n.last_error, "refused");
    cr_assert_str_eq(n.last_ok.received_gtids, "0-1-5", "the last good observation is kept");
    observation_t ok = {.at = 60, .ok = true, .heartbeats = 6, .received_gtids = xstrdup("0-1-5")};
    node_observe(&n, &ok);
    cr_assert(n.up);
    cr_assert_eq(n.fail_since, 0);
    cr_assert_eq(node_unreached_since(&n), 0, "reached now");
    cr_assert_eq(n.failures, 0);
    observation_t g1 = {.at = 70, .error = xstrdup("refused")};
    observation_t g2 = {.at = 80, .error = xstrdup("refused")};
    n.last_ok.started = 58;
    node_observe(&n, &g1);
    node_observe(&n, &g2);
    cr_assert_eq(node_unreached_since(&n), 58, "since its last successful probe began");
    node_free(&n);

    node_t never;
    node_init(&never, "db2", "h", 3306, RULE_NEUTRAL);
    observation_t f = {.at = 70, .error = xstrdup("refused")};
    observation_t f2b = {.at = 80, .error = xstrdup("refused")};
    node_observe(&never, &f);
    node_observe(&never, &f2b);
    cr_assert_eq(node_unreached_since(&never), 70, "never reached: since its first failure");
    node_free(&never);
}

Test(model, a_timed_out_probe_counts_from_its_start)
{
    node_t n;
    node_init(&n, "db1", "h", 3306, RULE_PREFER);
    observation_t o = {.at = 10, .started = 9, .ok = true};
    node_observe(&n, &o);
    observation_t t = {.at = 600, .started = 100, .timed_out = true, .error = xstrdup("timeout")};
    node_observe(&n, &t);
    cr_assert_eq(node_unreached_since(&n), 100,
                 "a probe that ran out of time heard nothing since it began");
    observation_t r = {.at = 610, .started = 605, .error = xstrdup("refused")};
    node_observe(&n, &r);
    cr_assert_eq(n.fail_since, 100, "the run keeps its start");
    node_free(&n);

    node_t m;
    node_init(&m, "db2", "h", 3306, RULE_PREFER);
    observation_t ok = {.at = 10, .started = 9, .ok = true};
    node_observe(&m, &ok);
    observation_t refused = {.at = 600, .started = 598, .error = xstrdup("refused")};
    node_observe(&m, &refused);
    cr_assert_eq(node_unreached_since(&m), 600, "any other failure counts from its end");
    node_free(&m);
}

Test(model, names)
{
    promotion_rule_t r;
    cr_assert(promotion_rule_parse("prefer_not", &r));
    cr_assert_eq(r, RULE_PREFER_NOT);
    cr_assert(!promotion_rule_parse("never", &r));
    cr_assert_str_eq(promotion_rule_str(RULE_MUST_NOT), "must_not");
    cr_assert_str_eq(role_str(ROLE_REPLICA), "replica");
}

/* cluster_source_of: the node a replica follows, -1 for a primary, a source
 * outside the cluster, or an observation that failed. */
Test(model, source_of)
{
    const nd_t d[] = {PRIMARY(true), FOLLOWER(0), FOLLOWER(9), FOLLOWER(1)};
    cluster_t c;
    build(&c, d, 4, -1);
    const int want[] = {-1, 0, -1, 1};
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(cluster_source_of(&c, &c.nodes[i].last_ok), want[i], "db%zu", i + 1);
    observation_t failed = c.nodes[1].last_ok;
    failed.ok = false;
    cr_expect_eq(cluster_source_of(&c, &failed), -1);
    observation_t other_port = c.nodes[1].last_ok;
    other_port.source_port = 3307;
    cr_expect_eq(cluster_source_of(&c, &other_port), -1);
    cluster_free(&c);
}

/* The GTID texts are parsed once, when the observation enters the model;
 * a text with a gtid_error is not. */
Test(model, gtids_parsed_on_entry)
{
    node_t n;
    node_init(&n, "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    observation_t o = {.at = 1,
                       .ok = true,
                       .family = FAMILY_MARIADB,
                       .gtid_executed = xstrdup("0-1-7"),
                       .received_gtids = xstrdup("0-1-9"),
                       .executed_gtids = xstrdup("0-1-7")};
    node_observe(&n, &o);
    cr_assert_not_null(n.last_ok.executed_st);
    cr_expect_eq(n.last_ok.executed_st->family, FAMILY_MARIADB);
    char *t = gtid_state_format(n.last_ok.received_st);
    cr_expect_str_eq(t, "0-1-9");
    free(t);
    cr_expect_not_null(n.last_ok.applied_st);
    observation_t bad = {.at = 2,
                         .ok = true,
                         .family = FAMILY_MYSQL,
                         .gtid_executed = xstrdup("not a set"),
                         .gtid_error = xstrdup("@@gtid_executed can't be parsed")};
    node_observe(&n, &bad);
    cr_expect_null(n.last_ok.executed_st);
    cr_expect_null(n.last_ok.received_st);
    node_free(&n);
}
