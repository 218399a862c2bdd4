/* Replication filters (filters.h): the canonical text, which replicas filter
 * differently, the topology issue, and the election's rule, one row each. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctlrender.h"
#include "elect.h"
#include "filters.h"
#include "status.h"

#define A "3e11fa47-71ca-11e1-9e33-c80aa9429562"

/* ---- canonical text ------------------------------------------------------ */

typedef struct {
    const char *rule;
    const char *v[FILTERS_NCOLUMNS]; /* in filters_columns order */
    const char *want;
} canon_row_t;

enum { DO_DB, IGN_DB, DO_T, IGN_T, WDO_T, WIGN_T, REWRITE, IGN_SRV, DO_DOM, IGN_DOM };

static const canon_row_t canon_rows[] = {
    {"no filter at all (every column empty)", {"", "", "", "", "", "", "", "", "", ""}, ""},
    {"MySQL has no domain columns", {"", "", "", "", "", "", "", "", NULL, NULL}, ""},
    {"a column the row lacks is no filter", {NULL}, ""},
    {"MariaDB IGNORE_DOMAIN_IDS", {[IGN_DOM] = "1"}, "Replicate_Ignore_Domain_Ids=1"},
    {"items sorted, blanks trimmed (MariaDB prints \"5, 7\")",
     {[IGN_SRV] = "7, 5", [IGN_DOM] = " 3 ,2"},
     "Replicate_Ignore_Server_Ids=5,7; Replicate_Ignore_Domain_Ids=2,3"},
    {"columns in a fixed order", {[WDO_T] = "z.%,b.%", [DO_DB] = "app"},
     "Replicate_Do_DB=app; Replicate_Wild_Do_Table=b.%,z.%"},
    {"rewrite rules stay pairs", {[REWRITE] = "(c,d),(a,b)"}, "Replicate_Rewrite_DB=(a,b),(c,d)"},
    {"only separators is no filter", {[IGN_DB] = " , ,"}, ""},
};

Test(filters, canonical_text)
{
    for (size_t r = 0; r < sizeof canon_rows / sizeof canon_rows[0]; r++) {
        char *got = filters_canonical(canon_rows[r].v);
        cr_expect_str_eq(got, canon_rows[r].want, "%s: \"%s\", want \"%s\"", canon_rows[r].rule,
                         got, canon_rows[r].want);
        free(got);
    }
}

Test(filters, same_filters_in_another_order_are_equal)
{
    const char *a[FILTERS_NCOLUMNS] = {[DO_T] = "lab.x,lab.a", [IGN_DOM] = "2, 1"};
    const char *b[FILTERS_NCOLUMNS] = {[DO_T] = "lab.a, lab.x", [IGN_DOM] = "1,2"};
    char *ta = filters_canonical(a), *tb = filters_canonical(b);
    cr_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
}

/* ---- clusters ------------------------------------------------------------ */

typedef struct {
    const char *name;
    bool up;
    promotion_rule_t rule;
    const char *gtid;    /* executed (MySQL) or binlog = slave = IO position (MariaDB) */
    const char *filters; /* canonical text; NULL: not a replica (the primary) */
} fnode_t;

typedef struct {
    const char *rule;
    bool maria;
    policy_t policy;
    const char *want;
    fnode_t n[4];
    const char *filtering; /* comma list of the filtering replicas, "" none */
    const char *chosen;    /* NULL: none */
    const char *catchup;   /* comma list, "" none */
    const char *why;       /* substring of the election's why */
} frow_t;

#define IGN1 "Replicate_Ignore_Domain_Ids=1"
#define IGNDB "Replicate_Ignore_DB=fdb"
#define P_MY(g) {"db1", false, RULE_NEUTRAL, g, NULL}
#define P_MA(g) {"db1", false, RULE_NEUTRAL, g, NULL}
#define R(nm, rule_, g, f) {nm, true, rule_, g, f}

static const frow_t frows[] = {
    {"MariaDB: the replica without filters wins over one ignoring a domain, whatever the order",
     true, POLICY_RELIABILITY, NULL,
     {P_MA("0-1-50,1-1-30"), R("db2", RULE_NEUTRAL, "0-1-50,1-1-30", IGN1),
      R("db3", RULE_NEUTRAL, "0-1-50,1-1-30", "")},
     "db2", "db3", "", "holds everything"},
    {"MySQL: the same with an ignored database", false, POLICY_RELIABILITY, NULL,
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", IGNDB),
      R("db3", RULE_NEUTRAL, A ":1-100", "")},
     "db2", "db3", "", "holds everything"},
    {"reliability: a filtering replica is no catch-up source", false, POLICY_RELIABILITY, NULL,
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", IGNDB),
      R("db3", RULE_NEUTRAL, A ":1-98", "")},
     "db2", "db3", "", "held by no replica that can serve it"},
    {"reliability: a preferred filtering replica is still excluded", false, POLICY_RELIABILITY,
     NULL,
     {P_MY(A ":1-100"), R("db2", RULE_PREFER, A ":1-100", IGNDB),
      R("db3", RULE_PREFER_NOT, A ":1-100", "")},
     "db2", "db3", "", "holds everything"},
    {"reliability: with every unfiltered replica excluded, nothing is promoted", true,
     POLICY_RELIABILITY, NULL,
     {P_MA("0-1-50,1-1-30"), R("db2", RULE_NEUTRAL, "0-1-50,1-1-30", IGN1),
      R("db3", RULE_MUST_NOT, "0-1-50,1-1-30", "")},
     "db2", NULL, "", "replicas without replication filters are excluded"},
    {"reliability: an unfiltered replica that is down does not make the filtering one eligible",
     false, POLICY_RELIABILITY, NULL,
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", IGNDB),
      {"db3", false, RULE_NEUTRAL, A ":1-100", ""}},
     "db2", NULL, "", "may lack data"},
    {"reliability: the operator can't ask for a filtering replica", false, POLICY_RELIABILITY,
     "db2",
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", IGNDB),
      R("db3", RULE_NEUTRAL, A ":1-100", "")},
     "db2", NULL, "", "db2 can't be promoted: its replication filters"},
    {"availability: the unfiltered one first, even when it lacks something", false,
     POLICY_AVAILABILITY, NULL,
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", IGNDB),
      R("db3", RULE_NEUTRAL, A ":1-98", "")},
     "db2", "db3", "", "may be lost (availability policy)"},
    {"availability: a filtering replica is promoted when nothing else can be, and it says so",
     true, POLICY_AVAILABILITY, NULL,
     {P_MA("0-1-50,1-1-30"), R("db2", RULE_NEUTRAL, "0-1-50,1-1-30", IGN1),
      R("db3", RULE_MUST_NOT, "0-1-50,1-1-30", "")},
     "db2", "db2", "", "(" IGN1 ") differ from the other replicas': the data it filtered out is lost"},
    {"replicas that all filter the same way are fine", true, POLICY_RELIABILITY, NULL,
     {P_MA("0-1-50,1-1-30"), R("db2", RULE_NEUTRAL, "0-1-50,1-1-30", IGN1),
      R("db3", RULE_NEUTRAL, "0-1-50,1-1-30", IGN1)},
     "", "db2", "", "holds everything"},
    {"no filters anywhere: nothing changes", false, POLICY_RELIABILITY, NULL,
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", ""),
      R("db3", RULE_NEUTRAL, A ":1-100", "")},
     "", "db2", "", "holds everything"},
    {"different filters everywhere: every filtering replica is excluded", false,
     POLICY_RELIABILITY, NULL,
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", IGNDB),
      R("db3", RULE_NEUTRAL, A ":1-100", "Replicate_Ignore_DB=other"),
      R("db4", RULE_NEUTRAL, A ":1-99", "")},
     "db2,db3", "db4", "", "lacks"},
    {"two alike, one without: the one without is chosen", false, POLICY_RELIABILITY, NULL,
     {P_MY(A ":1-100"), R("db2", RULE_NEUTRAL, A ":1-100", IGNDB),
      R("db3", RULE_NEUTRAL, A ":1-100", IGNDB), R("db4", RULE_NEUTRAL, A ":1-100", "")},
     "db2,db3", "db4", "", "holds everything"},
};

static void fbuild(cluster_t *c, const frow_t *row)
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
        const fnode_t *f = &row->n[i];
        char host[32];
        snprintf(host, sizeof host, "10.0.0.%zu", i + 1);
        node_init(&c->nodes[i], f->name, host, 3306, f->rule);
        observation_t o = {.at = 100, .ok = true,
                           .family = row->maria ? FAMILY_MARIADB : FAMILY_MYSQL,
                           .version = xstrdup(row->maria ? "10.11.19-MariaDB" : "9.7.0"),
                           .server_id = (uint32_t)i + 1,
                           .server_uuid = (!row->maria && i == 0) ? xstrdup(A) : NULL,
                           .read_only = i != 0, .log_bin = true, .log_replica_updates = true,
                           .gtid_executed = xstrdup(f->gtid)};
        if (f->filters) {
            o.replica = true;
            o.source_host = xstrdup("10.0.0.1");
            o.source_port = 3306;
            o.io = IO_CONNECTING;
            o.sql_running = true;
            o.received_gtids = xstrdup(row->maria ? f->gtid : "");
            o.executed_gtids = xstrdup(f->gtid);
            o.gtid_slave_pos = row->maria ? xstrdup(f->gtid) : NULL;
            o.repl_filters = xstrdup(f->filters);
        }
        node_observe(&c->nodes[i], &o);
        if (!f->up) {
            observation_t d = {.at = 200, .error = xstrdup("down")};
            node_observe(&c->nodes[i], &d);
        }
    }
}

static char *names_of(const cluster_t *c, const bool *flag)
{
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < c->n_nodes; i++)
        if (flag[i])
            buf_printf(&b, "%s%s", b.len ? "," : "", c->nodes[i].name);
    return buf_steal(&b);
}

Test(filters, election)
{
    for (size_t r = 0; r < sizeof frows / sizeof frows[0]; r++) {
        const frow_t *row = &frows[r];
        cluster_t c;
        fbuild(&c, row);

        bool filtering[4];
        filters_judge(&c, 0, filtering);
        char *f = names_of(&c, filtering);
        cr_expect_str_eq(f, row->filtering, "%s: filtering \"%s\", want \"%s\"", row->rule, f,
                         row->filtering);
        free(f);

        elect_result_t *e = elect_run(&c, 0, row->policy, row->want);
        const char *got = e->chosen >= 0 ? c.nodes[e->chosen].name : NULL;
        if (row->chosen)
            cr_expect(got && strcmp(got, row->chosen) == 0, "%s: chose %s, want %s (%s)",
                      row->rule, got ? got : "none", row->chosen, e->why);
        else
            cr_expect(!got, "%s: chose %s, want none (%s)", row->rule, got, e->why);
        buf_t cu = BUF_INIT;
        for (size_t k = 0; k < e->n_catchup; k++)
            buf_printf(&cu, "%s%s", k ? "," : "", c.nodes[e->catchup[k]].name);
        cr_expect_str_eq(buf_str(&cu), row->catchup, "%s: catch up from \"%s\"", row->rule,
                         buf_str(&cu));
        buf_free(&cu);
        cr_expect(strstr(e->why, row->why), "%s: why \"%s\" lacks \"%s\"", row->rule, e->why,
                  row->why);
        /* Every filtering replica is flagged in the result and its JSON, and
         * excluded for its filters under reliability (unless excluded before). */
        json_t *j = elect_json(&c, e);
        for (size_t k = 0; k < e->n; k++) {
            const elect_candidate_t *ck = &e->c[k];
            cr_expect_eq(ck->filtering, filtering[ck->node], "%s: %s flagged %d", row->rule,
                         c.nodes[ck->node].name, ck->filtering);
            json_t *jc = json_array_get(json_object_get(j, "candidates"), k);
            cr_expect_eq(json_is_true(json_object_get(jc, "filtering")), ck->filtering);
            cr_expect_str_eq(json_string_value(json_object_get(jc, "filters")),
                             c.nodes[ck->node].last_ok.repl_filters);
            if (ck->filtering && row->policy == POLICY_RELIABILITY &&
                c.nodes[ck->node].rule != RULE_MUST_NOT && c.nodes[ck->node].up)
                cr_expect(ck->excluded && strstr(ck->excluded, "replication filters"),
                          "%s: %s excluded for \"%s\"", row->rule, c.nodes[ck->node].name,
                          ck->excluded ? ck->excluded : "(not)");
            if (ck->filtering)
                cr_expect(!ck->source_ok, "%s: %s is no catch-up source", row->rule,
                          c.nodes[ck->node].name);
        }
        json_decref(j);
        elect_free(e);
        cluster_free(&c);
    }
}

Test(filters, topology_issue_names_the_filtering_replica)
{
    cluster_t c;
    fbuild(&c, &frows[0]);
    filters_add_issues(&c);
    cr_assert_eq(c.n_issues, 1);
    cr_expect(strstr(c.issues[0], "replication filters on db2 (" IGN1 ") differ from db3's (none)"),
              "%s", c.issues[0]);
    cluster_free(&c);

    /* All alike: no issue. */
    fbuild(&c, &frows[9]);
    filters_add_issues(&c);
    cr_expect_eq(c.n_issues, 0);
    cluster_free(&c);

    /* Two alike against one without: both are named. */
    fbuild(&c, &frows[12]);
    filters_add_issues(&c);
    cr_assert_eq(c.n_issues, 2);
    cr_expect(strstr(c.issues[0], "on db2") && strstr(c.issues[0], "db4's (none)"), "%s",
              c.issues[0]);
    cr_expect(strstr(c.issues[1], "on db3") && strstr(c.issues[1], "db4's (none)"), "%s",
              c.issues[1]);
    cluster_free(&c);
}

Test(filters, a_replica_of_another_source_or_unobserved_is_not_judged)
{
    cluster_t c;
    fbuild(&c, &frows[0]);
    /* db3 follows a server outside the cluster: only db2 is left, so nothing differs. */
    free(c.nodes[2].last_ok.source_host);
    c.nodes[2].last_ok.source_host = xstrdup("10.9.9.9");
    bool filtering[3];
    cr_expect_eq(filters_judge(&c, 0, filtering), 0);
    cr_expect_eq(filters_judge(&c, -1, filtering), 0);
    cluster_free(&c);
}

Test(filters, status_shows_a_replicas_filters)
{
    cluster_t c;
    fbuild(&c, &frows[0]);
    filters_add_issues(&c);
    status_clock_t clk = {.now_mono = 2000, .now_wall = 1795474201123ULL};
    json_t *j = status_cluster_json(&c, &clk);
    json_t *nodes = json_object_get(j, "nodes");
    cr_expect(json_is_null(json_object_get(json_array_get(nodes, 0), "replication_filters")),
              "the primary replicates from nobody");
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(nodes, 1), "replication_filters")), IGN1);
    cr_expect_str_eq(
        json_string_value(json_object_get(json_array_get(nodes, 2), "replication_filters")), "");

    /* failoverctl status prints them under the node, and the issue above. */
    json_t *res = json_pack("{s:[o]}", "clusters", j);
    buf_t out = BUF_INIT;
    ctlrender_status(&out, res);
    const char *text = buf_str(&out);
    cr_expect(strstr(text, "  filters: " IGN1 "\n"), "%s", text);
    cr_expect(strstr(text, "issue: replication filters on db2"), "%s", text);
    const char *f = strstr(text, "filters: ");
    cr_expect(f && !strstr(f + 1, "filters: "), "only db2 has a filters line: %s", text);
    buf_free(&out);
    json_decref(res);
    cluster_free(&c);
}

Test(filters, plan_shows_why_a_filtering_replica_is_excluded)
{
    cluster_t c;
    fbuild(&c, &frows[0]);
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    json_t *res = json_pack("{s:s, s:s, s:s, s:s, s:o}", "cluster", "t", "kind", "failover",
                            "policy", "reliability", "primary", "db1", "election",
                            elect_json(&c, e));
    buf_t out = BUF_INIT;
    ctlrender_plan(&out, res);
    char *flat = xstrdup(buf_str(&out));
    /* The status column wraps: compare with every run of blanks made one space. */
    char *w = flat;
    for (const char *r = flat; *r; r++)
        if (!(*r == ' ' || *r == '\n') || (w > flat && w[-1] != ' '))
            *w++ = (*r == '\n') ? ' ' : *r;
    *w = '\0';
    cr_expect(strstr(flat, "excluded: its replication filters differ") &&
                  strstr(flat, "filters " IGN1),
              "%s", buf_str(&out));
    free(flat);
    buf_free(&out);
    json_decref(res);
    elect_free(e);
    cluster_free(&c);
}
