/* The election's rules (see elect.h), one row each. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "elect.h"

#define A "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define B "4d22fa47-71ca-11e1-9e33-c80aa9429562"

/* One node of a fixture: MySQL when pos is NULL-flavored by `maria` = false. */
typedef struct {
    const char *name;
    bool up;
    promotion_rule_t rule;
    const char *version;   /* NULL: "8.4.3" or "10.11.19-MariaDB" */
    bool replica;          /* follows db1 */
    const char *executed;  /* MySQL gtid_executed / MariaDB gtid_binlog_pos */
    const char *received;  /* MySQL Retrieved_Gtid_Set / MariaDB Gtid_IO_Pos */
    const char *applied;   /* MariaDB gtid_slave_pos */
    bool no_binlog, no_log_updates, sql_error;
    int delay;
} fx_t;

typedef struct {
    const char *rule;
    bool maria;
    policy_t policy;
    const char *want;
    fx_t n[4];
    const char *chosen;       /* NULL: none */
    const char *catchup;      /* comma list, "" none */
    const char *excluded_node;
    const char *excluded_why; /* substring */
    const char *why;          /* substring of r->why */
} row_t;

#define PRIM_MY(exec) {"db1", false, RULE_NEUTRAL, NULL, false, exec, NULL, NULL, false, false, false, 0}
#define REP_MY(nm, rule_, exec, recv) {nm, true, rule_, NULL, true, exec, recv, NULL, false, false, false, 0}

static const row_t rows[] = {
    {"the replica holding everything wins", false, POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-95", A ":1-100"),
      REP_MY("db3", RULE_NEUTRAL, A ":1-98", A ":1-98")},
     "db2", "", NULL, NULL, "holds everything received"},
    {"reliability: a behind prefer candidate catches up from the most advanced", false,
     POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-100", ""),
      REP_MY("db3", RULE_PREFER, A ":1-98", "")},
     "db3", "db2", NULL, NULL, "after catching up from db2"},
    {"availability: freshness beats the rule", false, POLICY_AVAILABILITY, NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-100", ""),
      REP_MY("db3", RULE_PREFER, A ":1-98", "")},
     "db2", "", NULL, NULL, "holds everything"},
    {"errant GTIDs exclude a replica and it is no catch-up source", false, POLICY_RELIABILITY,
     NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-100," B ":1", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-99", "")},
     "db3", "", "db2", "errant", "no replica that can serve"},
    {"the primary's own later transactions are not errant", false, POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-90"), REP_MY("db2", RULE_NEUTRAL, A ":1-100", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-99", "")},
     "db2", "", NULL, NULL, "holds everything"},
    {"must_not is never promoted but can serve a catch-up", false, POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_MUST_NOT, A ":1-100", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-97", "")},
     "db3", "db2", "db2", "must_not", "catching up from db2"},
    {"diverged replicas: each catches what it lacks from the other", false, POLICY_RELIABILITY,
     NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-99", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-98:100", "")},
     "db2", "db3", NULL, NULL, "catching up from db3"},
    {"the operator's choice wins the ranking", false, POLICY_RELIABILITY, "db3",
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_PREFER, A ":1-100", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-100", "")},
     "db3", "", NULL, NULL, "requested db3"},
    {"the operator's choice can't override an exclusion", false, POLICY_RELIABILITY, "db2",
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_MUST_NOT, A ":1-100", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-100", "")},
     NULL, "", "db2", "must_not", "db2 can't be promoted"},
    {"down, binlog off, updates unlogged and delayed replicas are excluded", false,
     POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-100"),
      {"db2", false, RULE_NEUTRAL, NULL, true, A ":1-100", "", NULL, false, false, false, 0},
      {"db3", true, RULE_NEUTRAL, NULL, true, A ":1-100", "", NULL, true, false, false, 0},
      {"db4", true, RULE_NEUTRAL, NULL, true, A ":1-100", "", NULL, false, false, false, 3600}},
     NULL, "", "db3", "binary log is off", "no replica can be promoted"},
    {"a newer server can't lead older replicas", false, POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-100"),
      {"db2", true, RULE_NEUTRAL, "9.7.0", true, A ":1-100", "", NULL, false, false, false, 0},
      {"db3", true, RULE_NEUTRAL, "8.4.3", true, A ":1-99", "", NULL, false, false, false, 0}},
     "db3", "db2", "db2", "newer server version", "catching up from db2"},
    {"MariaDB: the furthest IO position wins", true, POLICY_RELIABILITY, NULL,
     {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-100", NULL, NULL, false, false, false, 0},
      {"db2", true, RULE_NEUTRAL, NULL, true, "0-1-95", "0-1-100", "0-1-95", false, false, false, 0},
      {"db3", true, RULE_NEUTRAL, NULL, true, "0-1-99", "0-1-99", "0-1-99", false, false, false, 0}},
     "db2", "", NULL, NULL, "holds everything"},
    {"MariaDB: a local write on a replica is errant", true, POLICY_RELIABILITY, NULL,
     {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-100", NULL, NULL, false, false, false, 0},
      {"db2", true, RULE_NEUTRAL, NULL, true, "0-2-101", "0-1-100", "0-1-100", false, false, false, 0},
      {"db3", true, RULE_NEUTRAL, NULL, true, "0-1-100", "0-1-100", "0-1-100", false, false, false, 0}},
     "db3", "", "db2", "errant", "holds everything"},
    {"the old primary's last transactions reached no replica", false, POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-97", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-96", "")},
     "db2", "", NULL, NULL, "holds everything received"},
    {"MariaDB: a local write stays errant after the primary went past it", true,
     POLICY_RELIABILITY, NULL,
     {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-105", NULL, NULL, false, false, false, 0},
      {"db2", true, RULE_PREFER, NULL, true, "0-2-101", "0-1-105", "0-1-100", false, false, true, 0},
      {"db3", true, RULE_NEUTRAL, NULL, true, "0-1-105", "0-1-105", "0-1-105", false, false, false, 0}},
     "db3", "", "db2", "broken", "holds everything"},
    {"MariaDB: no errant while the applier is between binlog and slave position", true,
     POLICY_RELIABILITY, NULL,
     {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-105", NULL, NULL, false, false, false, 0},
      {"db2", true, RULE_NEUTRAL, NULL, true, "0-1-104", "0-1-105", "0-1-103", false, false, false, 0},
      {"db3", true, RULE_NEUTRAL, NULL, true, "0-3-90", "0-1-105", "0-3-90", false, false, false, 0}},
     "db2", "", NULL, NULL, "holds everything"},
    {"availability: an applied replica beats a preferred one with a backlog", false,
     POLICY_AVAILABILITY, NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-100", A ":1-100"),
      REP_MY("db3", RULE_PREFER, A ":1-90", A ":1-100")},
     "db2", "", NULL, NULL, "holds everything received, backlog 0"},
    {"reliability: the preferred one with a backlog wins (it is waited for)", false,
     POLICY_RELIABILITY, NULL,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-100", A ":1-100"),
      REP_MY("db3", RULE_PREFER, A ":1-90", A ":1-100")},
     "db3", "", NULL, NULL, "backlog 10"},
};

static void build(cluster_t *c, const row_t *row)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("t");
    c->primary = 0;
    size_t n = 0;
    while (n < 4 && row->n[n].name)
        n++;
    c->n_nodes = n;
    c->nodes = xcalloc(n, sizeof *c->nodes);
    for (size_t i = 0; i < n; i++) {
        const fx_t *f = &row->n[i];
        char host[32];
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        node_init(&c->nodes[i], f->name, host, 3306, f->rule);
        observation_t o = {.at = 100, .ok = true,
                           .family = row->maria ? FAMILY_MARIADB : FAMILY_MYSQL,
                           .version = xstrdup(f->version ? f->version
                                                         : row->maria ? "10.11.19-MariaDB" : "8.4.3"),
                           .server_id = (uint32_t)i + 1,
                           .server_uuid = (!row->maria && i == 0) ? xstrdup(A) : NULL,
                           .read_only = i != 0, .log_bin = !f->no_binlog,
                           .log_replica_updates = !f->no_log_updates,
                           .gtid_executed = xstrdup(f->executed), .sql_delay_s = f->delay};
        if (f->replica) {
            o.replica = true;
            o.source_host = xstrdup("10.0.0.1");
            o.source_port = 3306;
            o.io = IO_CONNECTING;
            o.sql_running = !f->sql_error;
            o.last_sql_errno = f->sql_error ? 1062 : 0;
            o.received_gtids = xstrdup(f->received ? f->received : "");
            o.executed_gtids = xstrdup(f->applied ? f->applied : f->executed);
        }
        node_observe(&c->nodes[i], &o);
        if (!f->up) {
            observation_t d = {.at = 200, .error = xstrdup("down")};
            node_observe(&c->nodes[i], &d);
        }
    }
}

Test(elect, rules)
{
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const row_t *row = &rows[r];
        cluster_t c;
        build(&c, row);
        elect_result_t *e = elect_run(&c, 0, row->policy, row->want);
        const char *got = e->chosen >= 0 ? c.nodes[e->chosen].name : NULL;
        if (row->chosen)
            cr_expect(got && strcmp(got, row->chosen) == 0, "%s: chose %s, want %s (%s)",
                      row->rule, got ? got : "none", row->chosen, e->why);
        else
            cr_expect(!got, "%s: chose %s, want none", row->rule, got);
        buf_t cu = BUF_INIT;
        for (size_t k = 0; k < e->n_catchup; k++)
            buf_printf(&cu, "%s%s", k ? "," : "", c.nodes[e->catchup[k]].name);
        cr_expect_str_eq(buf_str(&cu), row->catchup, "%s: catch up from \"%s\", want \"%s\"",
                         row->rule, buf_str(&cu), row->catchup);
        buf_free(&cu);
        if (row->excluded_node) {
            bool found = false;
            for (size_t k = 0; k < e->n; k++)
                if (strcmp(c.nodes[e->c[k].node].name, row->excluded_node) == 0) {
                    found = true;
                    cr_expect(e->c[k].excluded && strstr(e->c[k].excluded, row->excluded_why),
                              "%s: %s excluded for \"%s\", want \"%s\"", row->rule,
                              row->excluded_node, e->c[k].excluded ? e->c[k].excluded : "(not)",
                              row->excluded_why);
                }
            cr_expect(found, "%s: no candidate %s", row->rule, row->excluded_node);
        }
        cr_expect(strstr(e->why, row->why), "%s: why \"%s\" lacks \"%s\"", row->rule, e->why,
                  row->why);
        json_t *j = elect_json(&c, e);
        cr_expect(json_is_array(json_object_get(j, "candidates")));
        json_decref(j);
        elect_free(e);
        cluster_free(&c);
    }
}

Test(elect, errant_gtids_are_reported)
{
    const row_t *row = &rows[3];
    cluster_t c;
    build(&c, row);
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_str_eq(e->c[0].errant, B ":1");
    cr_assert_str_eq(e->c[1].errant, "");
    elect_free(e);
    cluster_free(&c);

    /* MariaDB: reported even when its replication broke on it first. */
    build(&c, &rows[14]);
    e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_str_eq(e->c[0].errant, "0-2-101");
    cr_assert_str_eq(e->c[1].errant, "");
    elect_free(e);
    cluster_free(&c);
    /* Not errant: the applier between binary log and slave position, and an
     * old primary's own last transaction that is also its slave position. */
    build(&c, &rows[15]);
    e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_str_eq(e->c[0].errant, "");
    cr_assert_str_eq(e->c[1].errant, "");
    elect_free(e);
    cluster_free(&c);
}

Test(elect, what_only_the_old_primary_had)
{
    /* db1 was last seen with 1-100; the replicas received up to 98. */
    const row_t row = {"primary only", false, POLICY_AVAILABILITY, NULL,
                       {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-98", ""),
                        REP_MY("db3", RULE_NEUTRAL, A ":1-97", "")},
                       "db2", "", NULL, NULL, ""};
    cluster_t c;
    build(&c, &row);
    elect_result_t *e = elect_run(&c, 0, POLICY_AVAILABILITY, NULL);
    char *only = elect_primary_only(&c, 0, e);
    cr_assert_str_eq(only, A ":99-100");
    free(only);
    elect_free(e);
    cluster_free(&c);

    const row_t mrow = {"mariadb", true, POLICY_AVAILABILITY, NULL,
                        {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-100", NULL, NULL, false,
                          false, false, 0},
                         {"db2", true, RULE_NEUTRAL, NULL, true, "0-1-99", "0-1-99", "0-1-99",
                          false, false, false, 0}},
                        "db2", "", NULL, NULL, ""};
    build(&c, &mrow);
    e = elect_run(&c, 0, POLICY_AVAILABILITY, NULL);
    only = elect_primary_only(&c, 0, e);
    cr_assert_str_eq(only, "0-1-100");
    free(only);
    elect_free(e);
    cluster_free(&c);
}

/* What may be lost: what the replicas received and the old primary was last
 * seen with, beyond what the new primary kept. */
typedef struct {
    const char *rule;
    size_t row;        /* fixture from rows[] (db1 the old primary) */
    const char *kept;  /* the new primary's GTID state when it stopped replicating */
    const char *lost;
    uint64_t count;
} lost_row_t;

static const lost_row_t lost_rows[] = {
    {"nothing lost when the new primary kept everything", 0, A ":1-100", "", 0},
    {"a relay log dropped unapplied is lost", 0, A ":1-95", A ":96-100", 5},
    {"what only the old primary had is lost", 13, A ":1-97", A ":98-100", 3},
    {"what another replica had is lost", 4, A ":1-99", A ":100", 1},
    {"errant transactions are no loss", 3, A ":1-100", "", 0},
    {"MariaDB: the positions the new primary falls short of, as a range", 11, "0-1-97",
     "0-1-98..0-1-100", 3},
    {"MariaDB: nothing when it reached every position", 11, "0-1-100", "", 0},
};

Test(elect, lost)
{
    for (size_t r = 0; r < sizeof lost_rows / sizeof lost_rows[0]; r++) {
        const lost_row_t *lr = &lost_rows[r];
        cluster_t c;
        build(&c, &rows[lr->row]);
        elect_result_t *e = elect_run(&c, 0, POLICY_AVAILABILITY, NULL);
        uint64_t n = 99;
        char *lost = elect_lost(&c, 0, e, lr->kept, &n);
        cr_expect_str_eq(lost, lr->lost, "%s: lost \"%s\", want \"%s\"", lr->rule, lost, lr->lost);
        cr_expect_eq(n, lr->count, "%s: count %llu, want %llu", lr->rule, (unsigned long long)n,
                     (unsigned long long)lr->count);
        free(lost);
        elect_free(e);
        cluster_free(&c);
    }
}

/* ---- GTID text that does not parse: a per-node error, never an empty set ---- */

/* Marks every node's observation as the probe does at the boundary. */
static void check_boundary(cluster_t *c)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        observation_t *o = &c->nodes[i].last_ok;
        free(o->gtid_error);
        o->gtid_error = elect_gtid_error(o);
        observation_parse_gtids(o);
    }
}

typedef struct {
    const char *rule;
    bool maria;
    const char *executed, *received, *slave_pos;
    const char *error; /* substring of the error; NULL: none */
} parse_row_t;

static const parse_row_t parse_rows[] = {
    {"MySQL: a well-formed set", false, A ":1-100", A ":1-101", NULL, NULL},
    {"MySQL: absent and empty values are no error", false, "", NULL, NULL, NULL},
    {"MySQL: a malformed gtid_executed", false, A ":1-100:x", "", NULL, "@@gtid_executed"},
    {"MySQL: a malformed retrieved set", false, A ":1-100", "not-a-uuid:5", NULL,
     "Retrieved_Gtid_Set"},
    {"MariaDB: well-formed positions", true, "0-1-100,1-2-7", "0-1-101", "0-1-100", NULL},
    {"MariaDB: a malformed binlog position", true, "0-1", "0-1-100", "0-1-100",
     "@@gtid_binlog_pos"},
    {"MariaDB: a malformed slave position", true, "0-1-100", "0-1-100", "0-1-1x",
     "@@gtid_slave_pos"},
    {"MariaDB: a malformed IO position", true, "0-1-100", "zero", "0-1-100", "Gtid_IO_Pos"},
};

Test(elect, gtid_parse_check_at_the_boundary)
{
    for (size_t r = 0; r < sizeof parse_rows / sizeof parse_rows[0]; r++) {
        const parse_row_t *pr = &parse_rows[r];
        observation_t o = {.ok = true, .family = pr->maria ? FAMILY_MARIADB : FAMILY_MYSQL,
                           .replica = true, .gtid_executed = (char *)pr->executed,
                           .received_gtids = (char *)pr->received,
                           .gtid_slave_pos = (char *)pr->slave_pos,
                           .executed_gtids = (char *)(pr->slave_pos ? pr->slave_pos : pr->executed)};
        char *err = elect_gtid_error(&o);
        if (pr->error)
            cr_expect(err && strstr(err, pr->error), "%s: error \"%s\", want \"%s\"", pr->rule,
                      err ? err : "(none)", pr->error);
        else
            cr_expect(!err, "%s: unexpected error \"%s\"", pr->rule, err);
        free(err);
    }
}

static char *dup0(const char *s) { return s ? xstrdup(s) : NULL; }

/* The probe parses once: elect_gtid_enter gives the same verdict as the
 * check, keeps what it parsed, and the model takes those states as they are
 * (no second parse). */
Test(elect, gtid_parsed_once_where_it_enters)
{
    for (size_t r = 0; r < sizeof parse_rows / sizeof parse_rows[0]; r++) {
        const parse_row_t *pr = &parse_rows[r];
        observation_t o = {.ok = true, .family = pr->maria ? FAMILY_MARIADB : FAMILY_MYSQL,
                           .replica = true, .gtid_executed = dup0(pr->executed),
                           .received_gtids = dup0(pr->received),
                           .gtid_slave_pos = dup0(pr->slave_pos),
                           .executed_gtids = dup0(pr->slave_pos ? pr->slave_pos : pr->executed)};
        char *check = elect_gtid_error(&o);
        o.gtid_error = elect_gtid_enter(&o);
        cr_expect_eq(!check, !o.gtid_error, "%s", pr->rule);
        if (check && o.gtid_error)
            cr_expect_str_eq(check, o.gtid_error, "%s", pr->rule);
        cr_expect(o.gtids_parsed, "%s", pr->rule);
        if (o.gtid_error) {
            cr_expect(!o.executed_st && !o.received_st && !o.applied_st, "%s", pr->rule);
        } else if (pr->executed) {
            cr_assert(o.executed_st, "%s", pr->rule);
            char *t = gtid_state_format(o.executed_st);
            gtid_state_t *again = gtid_state_parse(
                pr->maria ? FAMILY_MARIADB : FAMILY_MYSQL, pr->executed, NULL, 0);
            char *u = gtid_state_format(again);
            cr_expect_str_eq(t, u, "%s", pr->rule);
            free(t);
            free(u);
            gtid_state_free(again);
        }
        const gtid_state_t *kept = o.executed_st;
        node_t n;
        node_init(&n, "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
        o.at = 100;
        node_observe(&n, &o);
        cr_expect_eq(n.last_ok.executed_st, kept, "%s: the model kept the probe's state",
                     pr->rule);
        node_free(&n);
        free(check);
    }
}

Test(elect, a_malformed_primary_state_makes_no_replica_errant)
{
    /* The old primary's gtid_executed does not parse: what it had is unknown,
     * not empty. The replicas are not errant, and the one holding everything
     * is promoted. */
    static const row_t row = {"malformed primary", false, POLICY_RELIABILITY, NULL,
                              {PRIM_MY(A ":1-100,garbage"),
                               REP_MY("db2", RULE_NEUTRAL, A ":1-100", ""),
                               REP_MY("db3", RULE_NEUTRAL, A ":1-98", "")},
                              "db2", "", NULL, NULL, ""};
    cluster_t c;
    build(&c, &row);
    check_boundary(&c);
    cr_assert_not_null(c.nodes[0].last_ok.gtid_error);
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_str_eq(e->c[0].errant, "");
    cr_assert_str_eq(e->c[1].errant, "");
    cr_assert_null(e->c[0].excluded, "%s", e->c[0].excluded);
    cr_assert_eq(e->chosen, 1, "%s", e->why);
    char *only = elect_primary_only(&c, 0, e);
    cr_assert_str_eq(only, "", "an unparsable primary state is not seen");
    free(only);
    uint64_t n = 9;
    char *lost = elect_lost(&c, 0, e, A ":1-100", &n);
    cr_assert_str_eq(lost, "");
    cr_assert_eq(n, 0);
    free(lost);
    char *err = elect_errant(&c.nodes[1].last_ok, &c.nodes[0].last_ok);
    cr_assert_str_eq(err, "");
    free(err);
    elect_free(e);
    cluster_free(&c);
}

Test(elect, a_malformed_replica_state_is_an_exclusion_reason)
{
    /* db2's state does not parse: excluded with the reason, no catch-up
     * source, not errant, no backlog; db3 is promoted. MariaDB too. */
    static const row_t rows2[] = {
        {"MySQL", false, POLICY_RELIABILITY, NULL,
         {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_PREFER, A ":1-100", A ":1-x"),
          REP_MY("db3", RULE_NEUTRAL, A ":1-98", "")},
         "db3", "", "db2", "GTID state can't be parsed", ""},
        {"MariaDB", true, POLICY_RELIABILITY, NULL,
         {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-100", NULL, NULL, false, false, false, 0},
          {"db2", true, RULE_PREFER, NULL, true, "0-1-100", "0-1-100", "0-1-", false, false, false, 0},
          {"db3", true, RULE_NEUTRAL, NULL, true, "0-1-99", "0-1-99", "0-1-99", false, false, false, 0}},
         "db3", "", "db2", "GTID state can't be parsed", ""},
    };
    for (size_t r = 0; r < 2; r++) {
        cluster_t c;
        build(&c, &rows2[r]);
        check_boundary(&c);
        elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
        cr_expect(e->c[0].excluded && strstr(e->c[0].excluded, "GTID state can't be parsed"),
                  "%s: db2 excluded for %s", rows2[r].rule,
                  e->c[0].excluded ? e->c[0].excluded : "(not)");
        cr_expect(!e->c[0].source_ok, "%s: never a catch-up source", rows2[r].rule);
        cr_expect_str_eq(e->c[0].errant, "", "%s", rows2[r].rule);
        cr_expect_eq(e->c[0].backlog, -1, "%s", rows2[r].rule);
        cr_expect_eq(elect_backlog(&c.nodes[1].last_ok), -1, "%s", rows2[r].rule);
        cr_expect_eq(e->chosen, 2, "%s: %s", rows2[r].rule, e->why);
        json_t *j = elect_json(&c, e);
        json_decref(j);
        elect_free(e);
        cluster_free(&c);
    }
}

/* ---- received sets that go backwards ---- */

typedef struct {
    const char *rule;
    bool maria;
    const char *exec_before, *recv_before, *exec_now, *recv_now;
    const char *lost;
    uint64_t count;
} regress_row_t;

static const regress_row_t regress_rows[] = {
    {"MySQL: the applier caught up, nothing went back", false, A ":1-117", A ":1-349", A ":1-349",
     A ":1-349", "", 0},
    {"MySQL: the relay log was discarded", false, A ":1-117", A ":1-349", A ":1-117", "",
     A ":118-349", 232},
    {"MySQL: more received is not backwards", false, A ":1-10", A ":1-20", A ":1-10", A ":1-30",
     "", 0},
    {"MariaDB: the applier caught up", true, "0-1-117", "0-1-349", "0-1-349", "0-1-349", "", 0},
    {"MariaDB: the IO position fell back to the applied one", true, "0-1-117", "0-1-349",
     "0-1-117", "0-1-117", "0-1-349", 232},
    {"MariaDB: one domain of two went back", true, "0-1-50,1-2-9", "0-1-50,1-2-20",
     "0-1-50,1-2-9", "0-1-50,1-2-9", "1-2-20", 11},
};

static observation_t obs_of(bool maria, const char *exec, const char *recv)
{
    observation_t o = {.ok = true, .family = maria ? FAMILY_MARIADB : FAMILY_MYSQL,
                       .replica = true, .gtid_executed = xstrdup(exec),
                       .received_gtids = xstrdup(recv), .executed_gtids = xstrdup(exec)};
    return o;
}

Test(elect, received_set_going_backwards)
{
    for (size_t r = 0; r < sizeof regress_rows / sizeof regress_rows[0]; r++) {
        const regress_row_t *rr = &regress_rows[r];
        observation_t b = obs_of(rr->maria, rr->exec_before, rr->recv_before);
        observation_t a = obs_of(rr->maria, rr->exec_now, rr->recv_now);
        uint64_t n = 99;
        char *lost = elect_received_regress(&b, &a, &n);
        cr_expect_str_eq(lost, rr->lost, "%s: lost \"%s\", want \"%s\"", rr->rule, lost, rr->lost);
        cr_expect_eq(n, rr->count, "%s: count %llu, want %llu", rr->rule, (unsigned long long)n,
                     (unsigned long long)rr->count);
        free(lost);
        /* Not usable: a parse error, or no observation at all. */
        a.gtid_error = xstrdup("x");
        lost = elect_received_regress(&b, &a, &n);
        cr_expect_str_eq(lost, "", "%s: unknown is not backwards", rr->rule);
        cr_expect_eq(n, 0);
        free(lost);
        observation_clear(&a);
        observation_clear(&b);
    }
}

Test(elect, what_went_backwards_counts_as_received)
{
    /* db2 had received 1-349 before the failover; now it holds 1-117 and db3
     * (excluded) 1-117. Availability promotes db2; the loss names 118-349. */
    static const row_t row = {"after the regress", false, POLICY_AVAILABILITY, NULL,
                              {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-117", ""),
                               REP_MY("db3", RULE_MUST_NOT, A ":1-117", "")},
                              "db2", "", NULL, NULL, ""};
    cluster_t c;
    build(&c, &row);
    elect_result_t *e = elect_run(&c, 0, POLICY_AVAILABILITY, NULL);
    uint64_t n = 0;
    char *lost = elect_lost(&c, 0, e, A ":1-117", &n);
    cr_assert_str_eq(lost, "");
    free(lost);
    observation_t b = obs_of(false, A ":1-117", A ":1-349");
    elect_add_received(e, &b);
    cr_assert_str_eq(e->union_text, A ":1-349");
    lost = elect_lost(&c, 0, e, A ":1-117", &n);
    cr_assert_str_eq(lost, A ":118-349");
    cr_assert_eq(n, 232);
    free(lost);
    observation_clear(&b);
    elect_free(e);
    cluster_free(&c);

    static const row_t mrow = {"mariadb", true, POLICY_AVAILABILITY, NULL,
                               {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-100", NULL, NULL,
                                 false, false, false, 0},
                                {"db2", true, RULE_NEUTRAL, NULL, true, "0-1-117", "0-1-117",
                                 "0-1-117", false, false, false, 0}},
                               "db2", "", NULL, NULL, ""};
    build(&c, &mrow);
    e = elect_run(&c, 0, POLICY_AVAILABILITY, NULL);
    b = obs_of(true, "0-1-117", "0-1-349");
    elect_add_received(e, &b);
    cr_assert_str_eq(e->union_text, "0-1-349");
    lost = elect_lost(&c, 0, e, "0-1-117", &n);
    cr_assert_str_eq(lost, "0-1-118..0-1-349");
    cr_assert_eq(n, 232);
    free(lost);
    observation_clear(&b);
    elect_free(e);
    cluster_free(&c);
}

/* Reliability's rule of certainty (elect_hold): no promotion while a replica
 * that may hold more can't be seen, or while the old primary was last seen
 * with more than the replicas that can be seen received. */
typedef struct {
    const char *rule;
    bool maria;
    policy_t policy;
    fx_t n[4];
    const char *io_stopped; /* this node was last seen with its IO thread stopped */
    bool hold;
    const char *why;        /* substring of why ("" when it must be empty) */
} hold_row_t;

#define DOWN_MY(nm, exec, recv) {nm, false, RULE_NEUTRAL, NULL, true, exec, recv, NULL, false, false, false, 0}
#define MARIA(nm, up, exec) {nm, up, RULE_NEUTRAL, NULL, true, exec, exec, exec, false, false, false, 0}
#define PRIM_MA(exec) {"db1", false, RULE_NEUTRAL, NULL, false, exec, NULL, NULL, false, false, false, 0}

static const hold_row_t hold_rows[] = {
    {"everything seen, nothing beyond: no hold", false, POLICY_RELIABILITY,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-100", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-100", "")},
     NULL, false, ""},
    {"a replica down with its IO thread running may have received more: hold", false,
     POLICY_RELIABILITY,
     {PRIM_MY(A ":1-90"), REP_MY("db2", RULE_NEUTRAL, A ":1-90", ""),
      DOWN_MY("db3", A ":1-90", "")},
     NULL, true, "db3 (it can't be seen now and its IO thread was running"},
    {"availability does not hold, and says what it does not see", false, POLICY_AVAILABILITY,
     {PRIM_MY(A ":1-90"), REP_MY("db2", RULE_NEUTRAL, A ":1-90", ""),
      DOWN_MY("db3", A ":1-90", "")},
     NULL, false, "db3 (it can't be seen now"},
    {"a replica down, last seen stopped with nothing beyond the others: no hold", false,
     POLICY_RELIABILITY,
     {PRIM_MY(A ":1-90"), REP_MY("db2", RULE_NEUTRAL, A ":1-95", ""),
      DOWN_MY("db3", A ":1-95", "")},
     "db3", false, ""},
    {"a replica down, last seen stopped with more than the others: hold", false,
     POLICY_RELIABILITY,
     {PRIM_MY(A ":1-90"), REP_MY("db2", RULE_NEUTRAL, A ":1-95", ""),
      DOWN_MY("db3", A ":1-99", "")},
     "db3", true, "db3 (it can't be seen now and was last seen holding"},
    {"the old primary was last seen with more than any replica received: hold", false,
     POLICY_RELIABILITY,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-97", ""),
      REP_MY("db3", RULE_NEUTRAL, A ":1-96", "")},
     NULL, true, "last seen with " A ":98-100"},
    {"what the candidate lacks only an errant replica received: hold", false,
     POLICY_RELIABILITY,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-99", A ":1-99"),
      REP_MY("db3", RULE_NEUTRAL, A ":1-100," B ":1", A ":1-100")},
     NULL, true, "db2, the candidate, lacks " A ":100, which only replicas that can't serve"},
    {"availability goes on, and says what the candidate lacks", false, POLICY_AVAILABILITY,
     {PRIM_MY(A ":1-100"), REP_MY("db2", RULE_NEUTRAL, A ":1-99", A ":1-99"),
      REP_MY("db3", RULE_NEUTRAL, A ":1-100," B ":1", A ":1-100")},
     NULL, false, "db2, the candidate, lacks " A ":100"},
    {"MariaDB: a replica down with its IO thread running: hold", true, POLICY_RELIABILITY,
     {PRIM_MA("0-1-100"), MARIA("db2", true, "0-1-100"), MARIA("db3", false, "0-1-100")},
     NULL, true, "db3 (it can't be seen now and its IO thread was running"},
    {"MariaDB: a replica down, last seen stopped and behind: no hold", true, POLICY_RELIABILITY,
     {PRIM_MA("0-1-100"), MARIA("db2", true, "0-1-100"), MARIA("db3", false, "0-1-99")},
     "db3", false, ""},
    {"MariaDB: the old primary ahead of every replica: hold", true, POLICY_RELIABILITY,
     {PRIM_MA("0-1-105"), MARIA("db2", true, "0-1-100"), MARIA("db3", true, "0-1-99")},
     NULL, true, "last seen with 0-1-105"},
};

Test(elect, hold_rule)
{
    for (size_t r = 0; r < sizeof hold_rows / sizeof hold_rows[0]; r++) {
        const hold_row_t *hr = &hold_rows[r];
        row_t row = {.rule = hr->rule, .maria = hr->maria, .policy = hr->policy, .why = ""};
        memcpy(row.n, hr->n, sizeof row.n);
        cluster_t c;
        build(&c, &row);
        if (hr->io_stopped)
            c.nodes[cluster_find_node_by_name(&c, hr->io_stopped)].last_ok.io = IO_NO;
        elect_result_t *e = elect_run(&c, 0, hr->policy, NULL);
        cr_expect(e->chosen >= 0, "%s: a candidate is chosen (%s)", hr->rule, e->why);
        char why[1024];
        bool hold = elect_hold(&c, e, hr->policy, why, sizeof why);
        cr_expect_eq(hold, hr->hold, "%s: hold %d, want %d (%s)", hr->rule, hold, hr->hold, why);
        if (hr->why[0])
            cr_expect(strstr(why, hr->why), "%s: why \"%s\" lacks \"%s\"", hr->rule, why, hr->why);
        else
            cr_expect_str_eq(why, "", "%s: why \"%s\", want nothing", hr->rule, why);
        json_t *j = elect_json(&c, e);
        cr_expect(json_is_string(json_object_get(j, "primary_only")));
        json_decref(j);
        elect_free(e);
        cluster_free(&c);
    }
}

/* Unobservable is not down, and an account that can't promote a node makes it
 * no candidate (nothing is tried that would fail halfway). */
Test(elect, privileges)
{
    const row_t row = {"privileges", true, POLICY_RELIABILITY, NULL,
                       {{"db1", false, RULE_NEUTRAL, NULL, false, "0-1-100", NULL, NULL, false,
                         false, false, 0},
                        MARIA("db2", true, "0-1-100"), MARIA("db3", true, "0-1-100"),
                        MARIA("db4", true, "0-1-100")},
                       NULL, "", NULL, NULL, ""};
    cluster_t c;
    build(&c, &row);
    /* db3: the replica status query refused. */
    observation_t d = {.at = 300, .error = xstrdup("replica status query refused: ..."),
                       .err_code = 1227, .denied = true,
                       .denied_privilege = xstrdup("SLAVE MONITOR")};
    node_observe(&c.nodes[2], &d);
    cr_assert(c.nodes[2].unobservable && !c.nodes[2].up);
    /* db4: observed, but the account lacks RELOAD there. */
    observation_t o = {.at = 300, .ok = true, .family = FAMILY_MARIADB,
                       .version = xstrdup("10.11.19-MariaDB"), .server_id = 4, .read_only = true,
                       .log_bin = true, .log_replica_updates = true,
                       .gtid_executed = xstrdup("0-1-100"), .replica = true,
                       .source_host = xstrdup("10.0.0.1"), .source_port = 3306, .io = IO_NO,
                       .sql_running = true, .received_gtids = xstrdup("0-1-100"),
                       .executed_gtids = xstrdup("0-1-100"), .grants_checked = true,
                       .grants_judged = true, .grants_missing = xstrdup("RELOAD"),
                       .grants_missing_promote = xstrdup("RELOAD")};
    node_observe(&c.nodes[3], &o);
    cr_assert_str_eq(c.nodes[3].grants_missing, "RELOAD");
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_eq(e->chosen, 1, "db2 is the one candidate: %s", e->why);
    cr_assert(strstr(e->c[1].excluded, "unobservable"), "%s", e->c[1].excluded);
    cr_assert(strstr(e->c[2].excluded, "lacks privileges its promotion needs"), "%s",
              e->c[2].excluded);
    char why[1024];
    cr_assert(elect_hold(&c, e, POLICY_RELIABILITY, why, sizeof why),
              "an unobservable replica that was receiving is not seen: hold");
    cr_assert(strstr(why, "db3 (unobservable: failoverd's account lacks SLAVE MONITOR there;"),
              "%s", why);
    elect_free(e);
    /* The grants judged again, nothing missing: db4 may be promoted again. */
    observation_t o2 = {.at = 400, .ok = true, .family = FAMILY_MARIADB,
                        .version = xstrdup("10.11.19-MariaDB"), .server_id = 4,
                        .read_only = true, .log_bin = true, .log_replica_updates = true,
                        .gtid_executed = xstrdup("0-1-100"), .replica = true,
                        .source_host = xstrdup("10.0.0.1"), .source_port = 3306, .io = IO_NO,
                        .sql_running = true, .received_gtids = xstrdup("0-1-100"),
                        .executed_gtids = xstrdup("0-1-100"), .grants_checked = true,
                        .grants_judged = true, .grants_missing = xstrdup(""),
                        .grants_missing_promote = xstrdup("")};
    node_observe(&c.nodes[3], &o2);
    e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    cr_assert_null(e->c[2].excluded);
    elect_free(e);
    cluster_infer_topology(&c);
    bool issue = false;
    for (size_t i = 0; i < c.n_issues; i++)
        issue = issue || (strstr(c.issues[i], "db3 is unobservable") &&
                          strstr(c.issues[i], "SLAVE MONITOR"));
    cr_assert(issue, "an unobservable node is a topology issue");
    cluster_free(&c);
}

/* A node never seen since the daemon started is no reason to hold: nothing
 * says it replicated from the old primary (an earlier primary that died). */
Test(elect, never_seen_is_no_reason_to_hold)
{
    cluster_t c;
    build(&c, &rows[0]);
    node_free(&c.nodes[2]);
    node_init(&c.nodes[2], "db3", "10.0.0.3", 3306, RULE_NEUTRAL);
    observation_t d = {.at = 200, .error = xstrdup("connection refused")};
    node_observe(&c.nodes[2], &d);
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    char why[512];
    cr_assert_not(elect_hold(&c, e, POLICY_RELIABILITY, why, sizeof why), "%s", why);
    cr_assert_eq(e->n_unseen, 0);
    elect_free(e);
    cluster_free(&c);
}
