/* The nodes a failover left behind (see rejoin.h): which one is looked at
 * next and whether its transactions are all on the primary, one row each. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rejoin.h"

#define A "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define B "4d22fa47-71ca-11e1-9e33-c80aa9429562"

/* ---- rejoin_compare ------------------------------------------------------- */

typedef struct {
    const char *rule;
    bool mariadb;
    const char *node, *primary;
    int want;           /* 1 contained, 0 errant, -1 malformed */
    const char *errant; /* substring of the errant text (want == 0) */
} cmp_row_t;

static const cmp_row_t cmp_rows[] = {
    {"MySQL: a node with less than the primary is contained", false, A ":1-90",
     A ":1-100," B ":1-5", 1, NULL},
    {"MySQL: the same set is contained", false, A ":1-100", A ":1-100", 1, NULL},
    {"MySQL: an empty node is contained", false, "", A ":1-100", 1, NULL},
    {"MySQL: the old primary's unreplicated tail is errant", false, A ":1-102",
     A ":1-100," B ":1-9", 0, A ":101-102"},
    {"MySQL: a transaction of a third server is errant", false, A ":1-100," B ":7", A ":1-100", 0,
     B ":7"},
    {"MySQL: a malformed set is an error", false, A ":1-x", A ":1-100", -1, NULL},
    {"MariaDB: the old primary's last write reached the primary", true, "0-1-100",
     "0-1-100,0-2-130", 1, NULL},
    {"MariaDB: an older write of the same server is contained", true, "0-1-90", "0-1-100,0-2-130",
     1, NULL},
    {"MariaDB: a write the primary never got is errant", true, "0-1-101", "0-1-100,0-2-130", 0,
     "0-1-101 (the primary has up to 0-1-100)"},
    {"MariaDB: a higher sequence by another server does not hide it", true, "0-1-105", "0-2-200", 0,
     "nothing from server 1"},
    {"MariaDB: every domain is checked", true, "0-1-100,1-1-7", "0-1-100,1-1-6,0-2-130", 0,
     "1-1-7"},
    {"MariaDB: an empty position is contained", true, "", "0-2-130", 1, NULL},
    {"MariaDB: a malformed state is an error", true, "0-1-100", "0-1", -1, NULL},
    {"MariaDB: a state of only commas is an error", true, "0-1-100", ",,,", -1, NULL},
    {"MariaDB: a state of one comma is an error", true, "0-1-100", ",", -1, NULL},
    /* Contained, errant and diverged, per family. */
    {"MySQL: a set printed over lines is read as one", false, A ":1-100,\n" B ":1-3",
     A ":1-100,\n" B ":1-5", 1, NULL},
    {"MySQL: diverged (each has what the other lacks): the node's part is errant", false,
     A ":1-105", A ":1-100," B ":1-9", 0, A ":101-105"},
    {"MySQL: a tagged transaction the primary lacks is errant", false, A ":1-100," A ":t1:1-2",
     A ":1-100", 0, "t1:1-2"},
    {"MySQL: against an empty primary everything is errant", false, A ":1-3", "", 0, A ":1-3"},
    {"MySQL: a malformed primary set is an error", false, A ":1-3", "nonsense", -1, NULL},
    {"MariaDB: diverged in another domain", true, "0-1-100,1-3-4", "0-1-100,0-2-130", 0,
     "1-3-4 (the primary has nothing from server 3 in domain 1)"},
    {"MariaDB: against an empty primary state everything is errant", true, "0-1-1", "", 0,
     "nothing from server 1"},
    {"MariaDB: a malformed node position is an error", true, "0-1-x", "0-1-100", -1, NULL},
};

Test(rejoin, commas_only_state_says_why)
{
    char *errant = NULL;
    char err[256] = "";
    cr_assert_eq(rejoin_compare(true, "0-1-1", ",,", &errant, err, sizeof err), -1);
    cr_expect(strstr(err, "holds no GTID"), "err: %s", err);
    cr_expect_null(errant);
}

Test(rejoin, compare)
{
    for (size_t i = 0; i < sizeof cmp_rows / sizeof cmp_rows[0]; i++) {
        const cmp_row_t *r = &cmp_rows[i];
        char *errant = NULL;
        char err[256] = "";
        int rc = rejoin_compare(r->mariadb, r->node, r->primary, &errant, err, sizeof err);
        cr_expect_eq(rc, r->want, "%s: got %d (%s)", r->rule, rc, err);
        if (r->want == 0)
            cr_expect(errant && strstr(errant, r->errant), "%s: errant \"%s\"", r->rule,
                      errant ? errant : "(null)");
        else
            cr_expect_null(errant, "%s: no errant text", r->rule);
        if (r->want < 0)
            cr_expect(err[0], "%s: an error message", r->rule);
        free(errant);
    }
}

/* ---- rejoin_next ---------------------------------------------------------- */

typedef struct {
    bool up;
    bool read_only;
    int source; /* index of the node it replicates from; -1 none */
    io_state_t io;
    const char *gtid;
} nfx_t;

typedef struct {
    const char *rule;
    int primary;
    nfx_t n[3];
    const char *checked[3]; /* memo: GTID state already checked */
    uint64_t fence_at[3];
    uint64_t now;
    rejoin_action_t want;
    int node;
} next_row_t;

#define PRIM                                                                                       \
    {                                                                                              \
        true, false, -1, IO_UNKNOWN, A ":1-10"                                                     \
    }
#define REPL                                                                                       \
    {                                                                                              \
        true, true, 0, IO_YES, A ":1-10"                                                           \
    }
#define OLD_RO                                                                                     \
    {                                                                                              \
        true, true, -1, IO_UNKNOWN, A ":1-11"                                                      \
    }
#define OLD_RW                                                                                     \
    {                                                                                              \
        true, false, -1, IO_UNKNOWN, A ":1-11"                                                     \
    }
#define DOWN                                                                                       \
    {                                                                                              \
        false, true, -1, IO_UNKNOWN, A ":1-11"                                                     \
    }

static const next_row_t next_rows[] = {
    {"all in order: nothing to do", 0, {PRIM, REPL, REPL}, {0}, {0}, 10000, REJOIN_NOTHING, -1},
    {"a second writable node is fenced", 0, {PRIM, REPL, OLD_RW}, {0}, {0}, 10000, REJOIN_FENCE, 2},
    {"a fence is not retried at once",
     0,
     {PRIM, REPL, OLD_RW},
     {0},
     {0, 0, 9000},
     10000,
     REJOIN_NOTHING,
     -1},
    {"a fence is retried later",
     0,
     {PRIM, REPL, OLD_RW},
     {0},
     {0, 0, 4000},
     10000,
     REJOIN_FENCE,
     2},
    {"fencing comes before checking", 0, {PRIM, OLD_RO, OLD_RW}, {0}, {0}, 10000, REJOIN_FENCE, 2},
    {"a read-only node without a source is checked",
     0,
     {PRIM, REPL, OLD_RO},
     {0},
     {0},
     10000,
     REJOIN_CHECK,
     2},
    {"... once per GTID state",
     0,
     {PRIM, REPL, OLD_RO},
     {NULL, NULL, A ":1-11"},
     {0},
     10000,
     REJOIN_NOTHING,
     -1},
    {"... again when its GTID state changed",
     0,
     {PRIM, REPL, OLD_RO},
     {NULL, NULL, A ":1-10"},
     {0},
     10000,
     REJOIN_CHECK,
     2},
    {"a replica stuck on a dead source is checked",
     0,
     {PRIM, REPL, {true, true, 1, IO_CONNECTING, A ":1-10"}},
     {0},
     {0},
     10000,
     REJOIN_CHECK,
     2},
    {"a replica of a relay (a replica of the primary) is in its place: left alone",
     0,
     {PRIM, REPL, {true, true, 1, IO_YES, A ":1-10"}},
     {0},
     {0},
     10000,
     REJOIN_NOTHING,
     -1},
    {"a replica still following another node of the cluster, not below the primary, is checked",
     0,
     {PRIM, {true, true, 2, IO_YES, A ":1-10"}, {true, true, 1, IO_YES, A ":1-10"}},
     {0},
     {0},
     10000,
     REJOIN_CHECK,
     1},
    {"a replica busy with a source outside the cluster is left alone",
     0,
     {PRIM, REPL, {true, true, 3, IO_YES, A ":1-10"}},
     {0},
     {0},
     10000,
     REJOIN_NOTHING,
     -1},
    {"a node that is down is not looked at",
     0,
     {PRIM, REPL, DOWN},
     {0},
     {0},
     10000,
     REJOIN_NOTHING,
     -1},
    {"nothing while the primary is read-only",
     0,
     {OLD_RO, REPL, OLD_RW},
     {0},
     {0},
     10000,
     REJOIN_NOTHING,
     -1},
    {"nothing while the primary is down",
     0,
     {DOWN, REPL, OLD_RW},
     {0},
     {0},
     10000,
     REJOIN_NOTHING,
     -1},
    {"nothing without a primary", -1, {PRIM, REPL, OLD_RW}, {0}, {0}, 10000, REJOIN_NOTHING, -1},
    {"a state checked is the same state spelled over lines",
     0,
     {PRIM, REPL, OLD_RO},
     {NULL, NULL, " " A ":1-\n11 "},
     {0},
     10000,
     REJOIN_NOTHING,
     -1},
};

static void set_node(cluster_t *c, size_t i, const nfx_t *f)
{
    static const char *const names[] = {"db1", "db2", "db3"};
    /* hosts[3] is a server outside the cluster. */
    static const char *const hosts[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9"};
    node_t *n = &c->nodes[i];
    node_init(n, names[i], hosts[i], 3306, RULE_NEUTRAL);
    n->probed = true;
    n->up = f->up;
    observation_t *o = &n->last_ok;
    o->ok = true;
    o->read_only = f->read_only;
    o->gtid_executed = xstrdup(f->gtid);
    if (f->source >= 0) {
        o->replica = true;
        o->source_host = xstrdup(hosts[f->source]);
        o->source_port = 3306;
        o->io = f->io;
        o->sql_running = true;
    }
}

Test(rejoin, next)
{
    for (size_t k = 0; k < sizeof next_rows / sizeof next_rows[0]; k++) {
        const next_row_t *r = &next_rows[k];
        cluster_t c = {0};
        c.name = xstrdup("main");
        c.n_nodes = 3;
        c.nodes = xcalloc(3, sizeof *c.nodes);
        c.primary = r->primary;
        rejoin_memo_t memo[3] = {{0}};
        for (size_t i = 0; i < 3; i++) {
            set_node(&c, i, &r->n[i]);
            memo[i].checked = (char *)r->checked[i];
            memo[i].fence_at = r->fence_at[i];
        }
        int node = 99;
        rejoin_action_t a = rejoin_next(&c, memo, r->now, 5000, &node);
        cr_expect_eq(a, r->want, "%s: action %d", r->rule, (int)a);
        cr_expect_eq(node, r->node, "%s: node %d", r->rule, node);
        cluster_free(&c);
    }
}

Test(rejoin, the_old_primary_back_writable_is_fenced_while_the_promoted_one_is_unseen)
{
    /* db2 was promoted over db1 and can't be seen now; db1 is back writable:
     * fenced (only the primary it took over from: any other writable node
     * waits until the primary is seen). */
    const nfx_t n[3] = {OLD_RW, DOWN, OLD_RW};
    cluster_t c = {0};
    c.name = xstrdup("main");
    c.n_nodes = 3;
    c.nodes = xcalloc(3, sizeof *c.nodes);
    c.primary = 1;
    rejoin_memo_t memo[3] = {{0}};
    for (size_t i = 0; i < 3; i++)
        set_node(&c, i, &n[i]);
    c.nodes[1].last_ok.read_only = false;
    int node = 99;
    cr_expect_eq(rejoin_next(&c, memo, 10000, 5000, &node), REJOIN_NOTHING, "no promotion known");
    c.promoted = xstrdup("db2");
    c.demoted = xstrdup("db1");
    cr_expect_eq(rejoin_next(&c, memo, 10000, 5000, &node), REJOIN_FENCE);
    cr_expect_eq(node, 0);
    memo[0].fence_at = 9000;
    cr_expect_eq(rejoin_next(&c, memo, 10000, 5000, &node), REJOIN_NOTHING, "retried later");
    cluster_free(&c);
}

Test(rejoin, same_state)
{
    cr_expect(rejoin_same_state("0-1-10,1-2-3", "0-1-10,1-2-3"));
    cr_expect(rejoin_same_state(A ":1-10,\n" A ":12", A ":1-10," A ":12"));
    cr_expect(rejoin_same_state(NULL, ""));
    cr_expect(rejoin_same_state(NULL, " \n"));
    cr_expect(!rejoin_same_state("0-1-10", "0-1-11"));
    cr_expect(!rejoin_same_state("0-1-10", "0-1-100"));
    cr_expect(!rejoin_same_state(NULL, "0-1-1"));
}

/* ---- the fence: which sessions are cut off ---------------------------------- */

typedef struct {
    const char *rule;
    const char *user, *command, *state;
    bool waits, cut;
} cut_row_t;

static const cut_row_t cut_rows[] = {
    {"MariaDB: a commit waiting for the acknowledgement is cut off", "app", "Query",
     "Waiting for semi-sync ACK from slave", true, true},
    {"MySQL: a commit waiting for the acknowledgement is cut off", "app", "Query",
     "Waiting for semi-sync ACK from replica", true, true},
    {"a write queued behind read_only is cut off", "app", "Query", "Waiting for global read lock",
     false, true},
    {"MariaDB: a write queued behind the backup lock is cut off", "app", "Query",
     "Waiting for backup lock", false, true},
    {"an idle session is cut off (it may hold an open transaction)", "app", "Sleep", "", false,
     true},
    {"a session without a state is cut off", "app", "Query", NULL, false, true},
    {"MySQL: a session killed already is not cut again", "app", "Killed",
     "Waiting for semi-sync ACK from replica", true, false},
    {"replication threads are the server's own", "system user", "Slave_SQL",
     "Slave has read all relay log", false, false},
    {"the event scheduler is the server's own", "event_scheduler", "Daemon",
     "Waiting on empty queue", false, false},
    {"a server daemon thread is left alone", "app", "Daemon", "", false, false},
    {"a replica reading the binary log is left alone", "repl", "Binlog Dump GTID",
     "Source has sent all binlog to replica; waiting for more updates", false, false},
    {"failoverd's own probe session is left alone", "failoverd", "Sleep", "", false, false},
    {"failoverd's own account waiting for the acknowledgement is cut off", "failoverd", "Query",
     "Waiting for semi-sync ACK from slave", true, true},
    {"no user: nothing known, left alone", NULL, "Query", "", false, false},
};

Test(rejoin, fence_cuts)
{
    for (size_t i = 0; i < sizeof cut_rows / sizeof cut_rows[0]; i++) {
        const cut_row_t *r = &cut_rows[i];
        cr_expect_eq(rejoin_waits_for_ack(r->state), r->waits, "%s: waits", r->rule);
        cr_expect_eq(rejoin_fence_cuts(r->user, r->command, r->state, "failoverd"), r->cut,
                     "%s: cut", r->rule);
    }
}

/* ---- phases ----------------------------------------------------------------- */

#include "rejoin_phase.h"

Test(rejoin, phases_have_one_name_each_and_the_ends_are_the_reported_outcomes)
{
    static const struct {
        rejoin_phase_t p;
        const char *name;
        bool ends;
    } rows[] = {
        {REJOIN_PHASE_WATCHING, "watching", false},   {REJOIN_PHASE_FENCING, "fencing", false},
        {REJOIN_PHASE_FENCED, "fenced", true},        {REJOIN_PHASE_FENCE_FAILED, "fence_failed", true},
        {REJOIN_PHASE_COMPARING, "comparing", false}, {REJOIN_PHASE_ERRANT, "errant", true},
        {REJOIN_PHASE_READY, "ready", true},          {REJOIN_PHASE_REJOINING, "rejoining", false},
        {REJOIN_PHASE_VERIFYING, "verifying", false}, {REJOIN_PHASE_REJOINED, "rejoined", true},
        {REJOIN_PHASE_FAILED, "failed", true},
    };
    size_t n = sizeof rows / sizeof rows[0];
    for (size_t i = 0; i < n; i++) {
        cr_expect_str_eq(rejoin_phase_str(rows[i].p), rows[i].name);
        cr_expect_eq(rejoin_phase_ends(rows[i].p), rows[i].ends, "%s", rows[i].name);
        for (size_t k = 0; k < i; k++)
            cr_expect_str_neq(rejoin_phase_str(rows[i].p), rejoin_phase_str(rows[k].p));
    }
    cr_expect_eq((size_t)REJOIN_PHASE_FAILED + 1, n, "every phase has a row");
}
