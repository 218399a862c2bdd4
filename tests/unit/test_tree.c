/* The replication tree (see tree.h): depths, relays, where a relay's
 * replicas go, when a relay is dead to them, and that a relay replica is a
 * supported place in the topology. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "model.h"
#include "tree.h"

#define NONE -1
#define OUTSIDE 9

typedef struct {
    bool up;
    int src;          /* index of its source; NONE, or OUTSIDE the cluster */
    io_state_t io;
    bool logs;        /* log_bin and log_replica_updates */
} nd_t;

#define P {true, NONE, IO_UNKNOWN, true}
#define R(src) {true, src, IO_YES, true}
#define DOWN_R(src) {false, src, IO_YES, true}
#define LOST(src) {true, src, IO_CONNECTING, true}

/* db1.. with the given sources; a down node was seen up at 100, then failed
 * at 200 and 300. */
static void build(cluster_t *c, const nd_t *d, size_t n)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("t");
    c->nodes = xcalloc(n, sizeof *c->nodes);
    c->n_nodes = n;
    c->primary = -1;
    for (size_t i = 0; i < n; i++) {
        char name[32], host[32];
        snprintf(name, sizeof name, "db%zu", i + 1);
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        node_init(&c->nodes[i], name, host, 3306, RULE_NEUTRAL);
        observation_t o = {.at = 100, .started = 90, .ok = true, .read_only = d[i].src != NONE,
                           .log_bin = d[i].logs, .log_replica_updates = d[i].logs,
                           .sql_running = true};
        if (d[i].src != NONE) {
            char src[32];
            snprintf(src, sizeof src, "10.0.0.%d", d[i].src + 1);
            o.replica = true;
            o.source_host = xstrdup(d[i].src == OUTSIDE ? "192.0.2.1" : src);
            o.source_port = 3306;
            o.io = d[i].io;
        }
        node_observe(&c->nodes[i], &o);
        for (uint64_t at = 200; !d[i].up && at <= 300; at += 100) {
            observation_t f = {.at = at, .started = at - 10, .error = xstrdup("refused")};
            node_observe(&c->nodes[i], &f);
        }
    }
}

typedef struct {
    const char *rule;
    size_t n;
    nd_t d[6];
    int depth[6]; /* under db1 */
} depth_row_t;

static const depth_row_t depth_rows[] = {
    {"direct replicas are one hop below", 3, {P, R(0), R(0)}, {0, 1, 1}},
    {"a relay's replica is two hops below", 4, {P, R(0), R(0), R(1)}, {0, 1, 1, 2}},
    {"a chain of relays", 4, {P, R(0), R(1), R(2)}, {0, 1, 2, 3}},
    {"a down relay keeps its place", 4, {P, DOWN_R(0), R(0), R(1)}, {0, 1, 1, 2}},
    {"a replica of an outside server is not below", 3, {P, R(0), R(OUTSIDE)}, {0, 1, -1}},
    {"a cycle is not below", 4, {P, R(0), R(3), R(2)}, {0, 1, -1, -1}},
    {"a node that replicates from nobody is not below", 3, {P, R(0), P}, {0, 1, -1}},
};

Test(tree, depth)
{
    for (size_t r = 0; r < sizeof depth_rows / sizeof depth_rows[0]; r++) {
        const depth_row_t *row = &depth_rows[r];
        cluster_t c;
        build(&c, row->d, row->n);
        for (size_t i = 0; i < row->n; i++) {
            int d = tree_depth(&c, (int)i, 0);
            cr_expect_eq(d, row->depth[i], "%s: db%zu depth %d, want %d", row->rule, i + 1, d,
                         row->depth[i]);
            cr_expect_eq(tree_under(&c, (int)i, 0), row->depth[i] > 0, "%s: db%zu under",
                         row->rule, i + 1);
        }
        cluster_free(&c);
    }
}

Test(tree, branch_children_relay)
{
    const nd_t d[5] = {P, R(0), R(0), R(1), R(3)};
    cluster_t c;
    build(&c, d, 5);
    cr_expect_eq(tree_branch_of(&c, 4, 0), 1, "db5 hangs under db2 through db4");
    cr_expect_eq(tree_branch_of(&c, 2, 0), 2, "a direct replica is its own branch");
    cr_expect_eq(tree_branch_of(&c, 0, 0), -1, "the root is in no branch");
    cr_expect_eq(tree_children(&c, 0), 2);
    cr_expect_eq(tree_children(&c, 1), 1);
    cr_expect_eq(tree_children(&c, 4), 0);
    cr_expect(tree_is_relay(&c, 1, 0));
    cr_expect(tree_is_relay(&c, 3, 0));
    cr_expect(!tree_is_relay(&c, 2, 0), "a leaf is no relay");
    cr_expect(!tree_is_relay(&c, 0, 0), "the primary is no relay");
    cluster_free(&c);
}

Test(tree, new_source)
{
    /* db1 -> db2 -> db4 -> db5, db1 -> db3 */
    const nd_t d[5] = {P, R(0), R(0), DOWN_R(1), R(3)};
    cluster_t c;
    build(&c, d, 5);
    cr_expect_eq(tree_new_source(&c, 3, 0, false), 1, "the dead relay's own source");
    cr_expect_eq(tree_new_source(&c, 3, 0, true), 0, "to the primary, when so configured");
    cr_expect_eq(tree_new_source(&c, 0, 0, false), -1, "the primary is no relay");
    cluster_free(&c);
    const nd_t e[4] = {P, DOWN_R(0), DOWN_R(1), R(2)};
    build(&c, e, 4);
    cr_expect_eq(tree_new_source(&c, 2, 0, false), 0, "up past every source that is down");
    cluster_free(&c);
    const nd_t f[3] = {{false, NONE, IO_UNKNOWN, true}, DOWN_R(0), R(1)};
    build(&c, f, 3);
    cr_expect_eq(tree_new_source(&c, 1, 0, false), -1, "nobody up above it");
    cr_expect_eq(tree_new_source(&c, 1, 0, true), -1, "the primary is down");
    cluster_free(&c);
}

typedef struct {
    const char *rule;
    size_t n;
    nd_t d[5];
    int relay;
    uint64_t now;
    bool dead;
    const char *why; /* a substring of the reason */
} dead_row_t;

/* A down node was last answered by the probe begun at 90: down_after 1000. */
static const dead_row_t dead_rows[] = {
    {"down, and its replica can't reach it either: dead", 4, {P, DOWN_R(0), R(0), LOST(1)}, 1,
     2000, true, "none of its 1 reachable replicas receives from it"},
    {"its replica still receives from it: alive to them", 4, {P, DOWN_R(0), R(0), R(1)}, 1, 2000,
     false, "still receive from it"},
    {"one of two replicas still receives: alive", 5,
     {P, DOWN_R(0), R(0), LOST(1), R(1)}, 1, 2000, false, "1 of db2's replicas"},
    {"down for less than down_after: not yet", 4, {P, DOWN_R(0), R(0), LOST(1)}, 1, 1000, false,
     "less than down_after"},
    {"up: alive", 4, {P, R(0), R(0), LOST(1)}, 1, 2000, false, "reaches db2"},
    {"no replica of it can be reached: nothing to say", 4,
     {P, DOWN_R(0), R(0), {false, 1, IO_CONNECTING, true}}, 1, 2000, false, "none of db2's"},
    {"a leaf is no relay", 3, {P, DOWN_R(0), R(0)}, 1, 2000, false, "no node replicates from it"},
    {"the primary is no relay", 3, {P, R(0), R(0)}, 0, 2000, false, "not a replica"},
    {"a stopped IO thread counts as not receiving", 4,
     {P, DOWN_R(0), R(0), {true, 1, IO_NO, true}}, 1, 2000, true, "receives from it"},
};

Test(tree, relay_dead)
{
    for (size_t r = 0; r < sizeof dead_rows / sizeof dead_rows[0]; r++) {
        const dead_row_t *row = &dead_rows[r];
        cluster_t c;
        build(&c, row->d, row->n);
        char why[256];
        bool dead = tree_relay_dead(&c, row->relay, 0, row->now, 1000, why, sizeof why);
        cr_expect_eq(dead, row->dead, "%s: dead %d (%s)", row->rule, dead, why);
        cr_expect(strstr(why, row->why), "%s: why \"%s\" lacks \"%s\"", row->rule, why, row->why);
        cluster_free(&c);
    }
}

Test(tree, order_draws_each_node_under_its_source)
{
    /* db1 -> db2 -> db4, db1 -> db3; db5 elsewhere */
    const nd_t d[5] = {P, R(0), R(0), R(1), R(OUTSIDE)};
    cluster_t c;
    build(&c, d, 5);
    int order[5], depth[5];
    tree_order(&c, 0, order, depth);
    const int want[5] = {0, 1, 3, 2, 4}, want_depth[5] = {0, 1, 2, 1, 0};
    for (size_t k = 0; k < 5; k++) {
        cr_expect_eq(order[k], want[k], "position %zu: db%d, want db%d", k, order[k] + 1,
                     want[k] + 1);
        cr_expect_eq(depth[k], want_depth[k], "position %zu: depth", k);
    }
    cluster_free(&c);
}

typedef struct {
    const char *rule;
    size_t n;
    nd_t d[5];
    const char *issue; /* a substring of some issue, or NULL for none */
} issue_row_t;

static const issue_row_t issue_rows[] = {
    {"a relay replica that logs what it applies is no issue", 4, {P, R(0), R(0), R(1)}, NULL},
    {"a chain of relays is no issue", 4, {P, R(0), R(1), R(2)}, NULL},
    {"a relay that does not log what it applies is an issue", 4,
     {P, {true, 0, IO_YES, false}, R(0), R(1)}, "db4 replicates from the relay db2, which does not log"},
    {"a cycle is an issue", 4, {P, R(0), R(3), R(2)}, "db3 replicates from db4, not from the primary db1"},
};

Test(tree, relay_replicas_in_the_topology)
{
    for (size_t r = 0; r < sizeof issue_rows / sizeof issue_rows[0]; r++) {
        const issue_row_t *row = &issue_rows[r];
        cluster_t c;
        build(&c, row->d, row->n);
        cluster_infer_topology(&c);
        cr_expect_eq(c.primary, 0, "%s", row->rule);
        bool found = false;
        for (size_t i = 0; i < c.n_issues; i++)
            found = found || (row->issue && strstr(c.issues[i], row->issue));
        if (row->issue)
            cr_expect(found, "%s: no issue contains \"%s\"", row->rule, row->issue);
        else
            cr_expect_eq(c.n_issues, 0, "%s: unexpected issue \"%s\"", row->rule,
                         c.n_issues ? c.issues[0] : "");
        cluster_free(&c);
    }
}

Test(tree, relayed)
{
    /* db1 -> db2 -> db4 (receiving), db1 -> db3; db2 -> db5 not receiving */
    const nd_t d[5] = {P, R(0), R(0), R(1), LOST(1)};
    cluster_t c;
    build(&c, d, 5);
    cr_expect(tree_relayed(&c, 3, 0), "a receiving replica of a live relay");
    cr_expect(!tree_relayed(&c, 4, 0), "its IO thread does not run");
    cr_expect(!tree_relayed(&c, 2, 0), "a direct replica is not relayed");
    cluster_free(&c);
    const nd_t e[3] = {P, DOWN_R(0), R(1)};
    build(&c, e, 3);
    cr_expect(!tree_relayed(&c, 2, 0), "its relay is down");
    cluster_free(&c);
}

typedef struct {
    const char *rule;
    unsigned channels; /* of db3 */
    bool gr;
    const char *issue; /* substring, or NULL for none */
} unsup_row_t;

static const unsup_row_t unsup_rows[] = {
    {"one channel is supported", 1, false, NULL},
    {"two channels are multi-source replication", 2, false,
     "db3 replicates from 2 sources (multi-source replication): an unsupported topology"},
    {"a Group Replication member", 0, true, "db3 is a Group Replication member"},
    {"a Group Replication member with another channel", 1, true, "Group Replication member"},
};

Test(tree, unsupported_topologies)
{
    for (size_t r = 0; r < sizeof unsup_rows / sizeof unsup_rows[0]; r++) {
        const unsup_row_t *row = &unsup_rows[r];
        const nd_t d[3] = {P, R(0), R(0)};
        cluster_t c;
        build(&c, d, 3);
        c.nodes[1].last_ok.repl_channels = 1;
        c.nodes[2].last_ok.repl_channels = row->channels;
        c.nodes[2].last_ok.group_replication = row->gr;
        cluster_infer_topology(&c);
        char why[512] = "";
        bool un = tree_unsupported(&c, why, sizeof why);
        cr_expect_eq(un, row->issue != NULL, "%s: unsupported %d (%s)", row->rule, un, why);
        bool found = false;
        for (size_t i = 0; i < c.n_issues; i++)
            found = found || (row->issue && strstr(c.issues[i], row->issue));
        if (row->issue) {
            cr_expect(strstr(why, row->issue), "%s: why \"%s\"", row->rule, why);
            cr_expect(found, "%s: no issue contains \"%s\"", row->rule, row->issue);
        } else {
            cr_expect_eq(c.n_issues, 0, "%s: unexpected issue \"%s\"", row->rule,
                         c.n_issues ? c.issues[0] : "");
        }
        cluster_free(&c);
    }
}

static bool skip_all(void *ud, int node)
{
    (void)ud;
    (void)node;
    return true;
}

Test(tree, relay_next)
{
    /* db1 -> db2 (down) -> db4 (not receiving); db1 -> db3 */
    const nd_t d[4] = {P, DOWN_R(0), R(0), LOST(1)};
    cluster_t c;
    build(&c, d, 4);
    int relay, node, to;
    char why[256];
    cr_assert(tree_relay_next(&c, 0, 2000, 1000, false, NULL, NULL, &relay, &node, &to, why,
                              sizeof why),
              "%s", why);
    cr_expect_eq(relay, 1);
    cr_expect_eq(node, 3);
    cr_expect_eq(to, 0, "the relay's own source, db1");
    cr_expect(!tree_relay_next(&c, 0, 2000, 1000, false, skip_all, NULL, &relay, &node, &to, why,
                               sizeof why),
              "a node already tried in its state is left out");
    c.nodes[3].errant = xstrdup("0-4-1");
    cr_expect(!tree_relay_next(&c, 0, 2000, 1000, false, NULL, NULL, &relay, &node, &to, why,
                               sizeof why),
              "a node with errant GTIDs is not moved");
    free(c.nodes[3].errant);
    c.nodes[3].errant = xstrdup("");
    c.nodes[2].last_ok.repl_channels = 2;
    cr_expect(!tree_relay_next(&c, 0, 2000, 1000, false, NULL, NULL, &relay, &node, &to, why,
                               sizeof why),
              "nothing is done in an unsupported topology");
    cr_expect(strstr(why, "multi-source"), "%s", why);
    cluster_free(&c);
}
