/* The durability a cluster really has (see durability.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "durability.h"

#define WALL0 1796500000000ull /* wall ms at mono 0 in these tests */
#define STALL 2000

/* db1 the primary, db2 and db3 its replicas; every node observed at mono 1000. */
static void build(cluster_t *c)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("t");
    c->n_nodes = 3;
    c->nodes = xcalloc(3, sizeof *c->nodes);
    c->primary = 0;
    c->durability.primary = -1;
    for (size_t i = 0; i < 3; i++) {
        char name[8], host[16];
        snprintf(name, sizeof name, "db%zu", i + 1);
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        node_init(&c->nodes[i], name, host, 3306, RULE_NEUTRAL);
    }
}

/* One probe of the primary at time at. */
static void primary_probe(cluster_t *c, uint64_t at, const char *gtid, semisync_state_t ss)
{
    observation_t o = {.at = at,
                       .ok = true,
                       .family = FAMILY_MARIADB,
                       .semisync_source = true,
                       .semisync_state = ss,
                       .gtid_executed = xstrdup(gtid)};
    node_observe(&c->nodes[0], &o);
}

/* One probe of a replica at time at: its IO state and what it received. */
static void replica_probe(cluster_t *c, size_t i, uint64_t at, io_state_t io, const char *recv)
{
    observation_t o = {.at = at,
                       .ok = true,
                       .family = FAMILY_MARIADB,
                       .read_only = true,
                       .replica = true,
                       .source_host = xstrdup("10.0.0.1"),
                       .source_port = 3306,
                       .io = io,
                       .sql_running = true,
                       .received_gtids = xstrdup(recv)};
    node_observe(&c->nodes[i], &o);
}

static unsigned update(cluster_t *c, uint64_t now)
{
    cluster_clear_issues(c);
    return durability_update(c, now, WALL0 + now, STALL);
}

static bool has_issue(const cluster_t *c, const char *text)
{
    for (size_t i = 0; i < c->n_issues; i++)
        if (strstr(c->issues[i], text))
            return true;
    return false;
}

Test(durability, healthy_semisync_is_no_issue)
{
    cluster_t c;
    build(&c);
    primary_probe(&c, 1000, "0-1-10", SEMISYNC_STATE_ON);
    replica_probe(&c, 1, 1000, IO_YES, "0-1-10");
    replica_probe(&c, 2, 1000, IO_YES, "0-1-10");
    cr_assert_eq(update(&c, 1000), 0u);
    cr_assert_eq(c.n_issues, 0u);
    /* Quiet primary, quiet replicas: silence is no stall while nothing is written. */
    primary_probe(&c, 9000, "0-1-10", SEMISYNC_STATE_ON);
    replica_probe(&c, 1, 9000, IO_YES, "0-1-10");
    cr_assert_eq(update(&c, 9000), 0u);
    cr_assert_eq(c.n_issues, 0u);
    cluster_free(&c);
}

Test(durability, fallback_is_an_issue_until_semisync_waits_again)
{
    cluster_t c;
    build(&c);
    primary_probe(&c, 1000, "0-1-10", SEMISYNC_STATE_ON);
    update(&c, 1000);
    primary_probe(&c, 1500, "0-1-12", SEMISYNC_STATE_ON);
    update(&c, 1500);
    primary_probe(&c, 2000, "0-1-20", SEMISYNC_STATE_OFF);
    cr_assert_eq(update(&c, 2000), (unsigned)DURABILITY_SEMISYNC_OFF);
    cr_assert(has_issue(&c, "semi-sync off on db1 since "));
    cr_assert(has_issue(&c, "commits are asynchronous"));
    /* The risk starts after the last probe that saw semi-sync on. */
    cr_assert_str_eq(c.durability.semisync_off_from, "0-1-12");
    cr_assert_eq(c.durability.semisync_off_wall, WALL0 + 1500,
                 "since the last probe that saw it on");
    /* Reported once; the issue stays, also while the primary is down. */
    primary_probe(&c, 2500, "0-1-25", SEMISYNC_STATE_OFF);
    cr_assert_eq(update(&c, 2500), 0u);
    observation_t down = {.at = 3000, .ok = false, .error = xstrdup("gone")};
    node_observe(&c.nodes[0], &down);
    cr_assert_eq(update(&c, 3000), 0u);
    cr_assert(has_issue(&c, "semi-sync off on db1"));
    primary_probe(&c, 3500, "0-1-26", SEMISYNC_STATE_ON);
    cr_assert_eq(update(&c, 3500), (unsigned)DURABILITY_SEMISYNC_ON);
    cr_assert_eq(c.n_issues, 0u);
    cluster_free(&c);
}

Test(durability, the_risk_starts_where_the_replicas_stand)
{
    cluster_t c;
    build(&c);
    primary_probe(&c, 1000, "0-1-10", SEMISYNC_STATE_ON);
    replica_probe(&c, 1, 1000, IO_YES, "0-1-7");
    replica_probe(&c, 2, 1000, IO_YES, "0-1-8");
    update(&c, 1000);
    primary_probe(&c, 1500, "0-1-20", SEMISYNC_STATE_OFF);
    cr_assert_eq(update(&c, 1500), (unsigned)DURABILITY_SEMISYNC_OFF);
    cr_assert_str_eq(c.durability.semisync_off_from, "0-1-8");
    json_t *j = durability_json(&c, 1500, WALL0 + 1500);
    cr_assert(json_is_true(json_object_get(j, "degraded")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "semisync"), "state")),
                     "off");
    cr_assert_str_eq(json_string_value(json_object_get(j, "at_risk_after")), "0-1-8");
    cr_assert_not_null(json_string_value(json_object_get(j, "semisync_off_since")));
    json_decref(j);
    cluster_free(&c);
}

Test(durability, semisync_not_enabled_is_not_a_fallback)
{
    cluster_t c;
    build(&c);
    observation_t o = {.at = 1000, .ok = true, .gtid_executed = xstrdup("0-1-1")};
    node_observe(&c.nodes[0], &o);
    cr_assert_eq(update(&c, 1000), 0u);
    cr_assert_eq(c.n_issues, 0u);
    json_t *j = durability_json(&c, 1000, WALL0 + 1000);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "semisync"), "state")),
                     "not enabled");
    cr_assert(json_is_false(json_object_get(j, "degraded")));
    json_decref(j);
    cluster_free(&c);
}

Test(durability, replicas_that_stop_receiving_are_named)
{
    cluster_t c;
    build(&c);
    primary_probe(&c, 1000, "0-1-10", SEMISYNC_STATE_ON);
    replica_probe(&c, 1, 1000, IO_YES, "0-1-10");
    replica_probe(&c, 2, 1000, IO_YES, "0-1-10");
    update(&c, 1000);
    /* The primary moves on, the replicas hear nothing: not yet stall_after. */
    primary_probe(&c, 2000, "0-1-50", SEMISYNC_STATE_ON);
    replica_probe(&c, 1, 2000, IO_YES, "0-1-10");
    replica_probe(&c, 2, 2000, IO_YES, "0-1-10");
    cr_assert_eq(update(&c, 2000), 0u);
    /* stall_after since they last received: both named, once. */
    primary_probe(&c, 3100, "0-1-90", SEMISYNC_STATE_ON);
    replica_probe(&c, 1, 3100, IO_YES, "0-1-10");
    replica_probe(&c, 2, 3100, IO_YES, "0-1-10");
    cr_assert_eq(update(&c, 3100), (unsigned)DURABILITY_STALL_BEGAN);
    cr_assert(has_issue(&c, "db2, db3 have not received from db1 since "));
    char *first = xstrdup(c.issues[0]);
    cr_assert_eq(update(&c, 3300), 0u);
    cr_assert_str_eq(c.issues[0], first, "the issue's text is stable");
    free(first);
    /* db3 receives again; db2's IO thread reconnects with an error. */
    replica_probe(&c, 2, 3600, IO_YES, "0-1-90");
    replica_probe(&c, 1, 3600, IO_CONNECTING, "0-1-10");
    cr_assert_eq(update(&c, 3600), (unsigned)DURABILITY_STALL_CHANGED);
    cr_assert(has_issue(&c, "db2 has not received from db1 since "));
    replica_probe(&c, 1, 4000, IO_YES, "0-1-90");
    cr_assert_eq(update(&c, 4000), (unsigned)DURABILITY_STALL_ENDED);
    cr_assert_eq(c.n_issues, 0u);
    cluster_free(&c);
}

Test(durability, a_thread_stopped_on_purpose_counts_once_the_primary_writes)
{
    cluster_t c;
    build(&c);
    primary_probe(&c, 1000, "0-1-10", SEMISYNC_STATE_ON);
    replica_probe(&c, 1, 1000, IO_NO, "0-1-10"); /* a switchover stopped it; writes blocked */
    replica_probe(&c, 2, 1000, IO_YES, "0-1-10");
    cr_assert_eq(update(&c, 1000), 0u);
    primary_probe(&c, 5000, "0-1-10", SEMISYNC_STATE_ON);
    cr_assert_eq(update(&c, 5000), 0u);
    cr_assert_eq(c.n_issues, 0u);
    /* The primary writes and db2 gets none of it. */
    primary_probe(&c, 5500, "0-1-40", SEMISYNC_STATE_ON);
    replica_probe(&c, 2, 5500, IO_YES, "0-1-40");
    cr_assert_eq(update(&c, 5500), (unsigned)DURABILITY_STALL_BEGAN);
    cr_assert(has_issue(&c, "db2 has not received from db1"));
    cluster_free(&c);
    /* Stopped by an error: at once. */
    build(&c);
    primary_probe(&c, 1000, "0-1-10", SEMISYNC_STATE_ON);
    observation_t o = {.at = 1000,
                       .ok = true,
                       .read_only = true,
                       .replica = true,
                       .source_host = xstrdup("10.0.0.1"),
                       .source_port = 3306,
                       .io = IO_NO,
                       .last_io_errno = 1236,
                       .received_gtids = xstrdup("0-1-10")};
    node_observe(&c.nodes[2], &o);
    cr_assert_eq(update(&c, 1000), (unsigned)DURABILITY_STALL_BEGAN);
    cr_assert(has_issue(&c, "db3 has not received from db1"));
    cluster_free(&c);
}

Test(durability, a_new_primary_forgets_the_old_one)
{
    cluster_t c;
    build(&c);
    primary_probe(&c, 1000, "0-1-10", SEMISYNC_STATE_OFF);
    cr_assert_eq(update(&c, 1000), (unsigned)DURABILITY_SEMISYNC_OFF);
    cr_assert_null(c.durability.semisync_off_from, "never seen on: the start is not known");
    c.primary = 1;
    cr_assert_eq(update(&c, 1100), 0u);
    cr_assert_eq(c.n_issues, 0u);
    cr_assert_eq(c.durability.primary, 1);
    cluster_free(&c);
}

/* ---- ranges ------------------------------------------------------------- */

typedef struct {
    const char *rule;
    bool mariadb;
    const char *a, *b;
    const char *text;
    uint64_t count;
} range_row_t;

#define U "3e11fa47-71ca-11e1-9e33-c80aa9429562"

static const range_row_t ranges[] = {
    {"MariaDB: a range per domain, not the last GTID", true, "0-1-5286", "0-1-5698",
     "0-1-5287..0-1-5698", 412},
    {"MariaDB: one transaction is one GTID", true, "0-1-9", "0-1-10", "0-1-10", 1},
    {"MariaDB: several domains", true, "0-1-5,1-2-7", "0-1-8,1-2-7,2-3-2",
     "0-1-6..0-1-8,2-3-1..2-3-2", 5},
    {"MariaDB: nothing beyond", true, "0-1-10", "0-1-10", "", 0},
    {"MySQL: a set difference", false, U ":1-100", U ":1-150", U ":101-150", 50},
    {"MySQL: nothing beyond", false, U ":1-100", U ":1-90", "", 0},
};

Test(durability, range)
{
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const range_row_t *r = &ranges[i];
        durability_range_t out;
        char err[256];
        cr_assert(durability_range(r->mariadb, r->a, r->b, &out, err, sizeof err), "%s: %s",
                  r->rule, err);
        cr_expect_str_eq(out.text, r->text, "%s", r->rule);
        cr_expect_eq(out.count, r->count, "%s: %llu", r->rule, (unsigned long long)out.count);
        durability_range_free(&out);
    }
    durability_range_t out;
    char err[256];
    cr_assert_not(durability_range(true, "0-1-x", "0-1-5", &out, err, sizeof err));
    cr_assert_not(durability_range(false, "nonsense", U ":1", &out, err, sizeof err));
}

static const range_row_t exact[] = {
    {"MariaDB: after the last transaction the new primary has from that server", true, "0-1-5698",
     "0-1-5286,0-2-5400", "0-1-5287..0-1-5698", 412},
    {"MariaDB: nothing when the new primary has it all", true, "0-1-5286", "0-1-5286,0-2-5400", "",
     0},
    {"MariaDB: a server the new primary never heard of counts from the domain", true, "0-3-20",
     "0-1-15,0-2-18", "0-3-19..0-3-20", 2},
    {"MySQL: the old primary's set minus the new primary's", false, U ":1-150",
     U ":1-100,aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:1-5", U ":101-150", 50},
};

Test(durability, exact_loss)
{
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        const range_row_t *r = &exact[i];
        durability_range_t out;
        char err[256];
        cr_assert(durability_exact_loss(r->mariadb, r->a, r->b, &out, err, sizeof err), "%s: %s",
                  r->rule, err);
        cr_expect_str_eq(out.text, r->text, "%s", r->rule);
        cr_expect_eq(out.count, r->count, "%s: %llu", r->rule, (unsigned long long)out.count);
        durability_range_free(&out);
    }
    durability_range_t out;
    char err[256];
    cr_assert_not(durability_exact_loss(true, "0-1-5", "0-1-x", &out, err, sizeof err));
}
