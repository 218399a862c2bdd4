/* Finishing an interrupted switchover (resume.h): the rules as a table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "plan.h"
#include "resume.h"

#define A "3e11fa47-71ca-11e1-9e33-c80aa9429562"

/* db1 the old primary, db2 the candidate, db3 a replica of db1. ro1/ro2:
 * read_only of db1/db2; up1/up2: whether they answer. */
static void build(cluster_t *c, bool maria, bool up1, bool ro1, bool up2, bool ro2,
                  const char *exec1, const char *exec2)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("main");
    c->n_nodes = 3;
    c->nodes = xcalloc(3, sizeof *c->nodes);
    const char *exec[] = {exec1, exec2, exec1};
    bool ro[] = {ro1, ro2, true}, up[] = {up1, up2, true};
    for (int i = 0; i < 3; i++) {
        char name[8], host[16];
        snprintf(name, sizeof name, "db%d", i + 1);
        snprintf(host, sizeof host, "10.0.0.%d", i + 1);
        node_init(&c->nodes[i], name, host, 3306, RULE_NEUTRAL);
        observation_t o = {.at = 100, .ok = true, .family = maria ? FAMILY_MARIADB : FAMILY_MYSQL,
                           .version = xstrdup(maria ? "10.11.19-MariaDB" : "9.7.0"),
                           .server_id = (uint32_t)i + 1, .read_only = ro[i], .log_bin = true,
                           .log_replica_updates = true, .gtid_executed = xstrdup(exec[i])};
        if (i == 2) {
            o.replica = true;
            o.source_host = xstrdup("10.0.0.1");
            o.source_port = 3306;
            o.io = IO_YES;
            o.sql_running = true;
            o.received_gtids = xstrdup(exec[i]);
            o.executed_gtids = xstrdup(exec[i]);
        }
        node_observe(&c->nodes[i], &o);
        if (!up[i]) {
            observation_t d = {.at = 200, .error = xstrdup("refused")};
            node_observe(&c->nodes[i], &d);
        }
    }
    c->primary = 1;
}

typedef struct {
    const char *what;
    bool maria, up1, ro1, up2, ro2;
    const char *exec1, *exec2;
    const char *promotion;
    bool blocked, synced;
    resume_action_t want;
    const char *why; /* a phrase of the reason */
} row_t;

static const row_t ROWS[] = {
    {"promoted, traffic not moved: finish", false, true, true, true, false, A ":1-10", A ":1-10",
     "done", true, true, RESUME_AFTER_PROMOTION, "took effect"},
    {"promotion journaled, seen done", true, true, true, true, false, "0-1-10", "0-1-10",
     "unknown", true, true, RESUME_AFTER_PROMOTION, "took effect"},
    {"promotion journaled, not run: promote again", false, true, true, true, true, A ":1-10",
     A ":1-10", "unknown", true, true, RESUME_PROMOTE, "run again"},
    {"MariaDB: promote again", true, true, true, true, true, "0-1-10", "0-1-10", "unknown", true,
     true, RESUME_PROMOTE, "run again"},
    {"candidate lacks transactions", false, true, true, true, true, A ":1-11", A ":1-10",
     "unknown", true, true, RESUME_REFUSE, "lacks"},
    {"not synced", false, true, true, true, true, A ":1-10", A ":1-10", "unknown", true, false,
     RESUME_REFUSE, "catch up"},
    {"old primary writable again", false, true, false, true, false, A ":1-10", A ":1-10", "done",
     true, true, RESUME_REFUSE, "db1 is writable again"},
    {"candidate unreachable", false, true, true, false, false, A ":1-10", A ":1-10", "done", true,
     true, RESUME_REFUSE, "db2 can't be reached"},
    {"old primary down, made read-only", false, false, true, true, false, A ":1-10", A ":1-10",
     "done", true, true, RESUME_AFTER_PROMOTION, "took effect"},
    {"old primary down, never made read-only", false, false, true, true, false, A ":1-10",
     A ":1-10", "done", false, false, RESUME_REFUSE, "had not made it read-only"},
    {"promotion done, now read-only", false, true, true, true, true, A ":1-10", A ":1-10", "done",
     true, true, RESUME_REFUSE, "someone changed it"},
    {"promotion failed", false, true, true, true, true, A ":1-10", A ":1-10", "failed", true, true,
     RESUME_REFUSE, "failed"},
    {"not started", false, true, true, true, true, A ":1-10", A ":1-10", "not started", true, true,
     RESUME_REFUSE, "had not started"},
};

Test(resume, the_rules_in_a_table)
{
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const row_t *r = &ROWS[i];
        cluster_t c;
        build(&c, r->maria, r->up1, r->ro1, r->up2, r->ro2, r->exec1, r->exec2);
        resume_facts_t f = {.old_primary = 0, .candidate = 1, .promotion = r->promotion,
                            .blocked = r->blocked, .synced = r->synced};
        char why[512];
        resume_action_t got = resume_decide(&c, &f, why, sizeof why);
        cr_expect_eq(got, r->want, "%s: %s, want %s (%s)", r->what, resume_action_str(got),
                     resume_action_str(r->want), why);
        cr_expect(strstr(why, r->why), "%s: \"%s\" should say \"%s\"", r->what, why, r->why);
        cluster_free(&c);
    }
}

Test(resume, the_plan_moves_traffic_then_repoints_the_old_primary_and_its_replicas)
{
    cluster_t c;
    build(&c, false, true, true, true, false, A ":1-10", A ":1-10");
    plan_opts_t o = {.repl_user = "repl", .repl_password = "pw", .step_timeout_ms = 5000,
                     .verify_timeout_ms = 5000, .hook_timeout_ms = 5000, .semisync = true};
    char err[256];
    plan_t *p = plan_switchover_resume(&c, 0, 1, POLICY_RELIABILITY, false, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < p->n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", p->steps[i].name);
    cr_expect_str_eq(buf_str(&b), "hook:post_promotion repoint:db1 repoint:db3 verify:db1 "
                                  "verify:db3 refresh hook:switchover_after");
    buf_free(&b);
    cr_expect_eq(p->n_rollback, 0);
    plan_free(p);
    p = plan_switchover_resume(&c, 0, 1, POLICY_RELIABILITY, true, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_expect_str_eq(p->steps[0].name, "promote:db2");
    cr_expect(strstr(p->steps[0].sql, "read_only"), "%s", p->steps[0].sql);
    plan_free(p);
    cluster_free(&c);
}

/* ---- the rejoin's records: closed as abandoned, never resumed ------------------ */

/* Records as JSON text, one per line in the journal's form. */
static json_t *recs(const char *const *lines)
{
    json_t *a = json_array();
    for (size_t i = 0; lines[i]; i++) {
        json_error_t e;
        json_t *r = json_loads(lines[i], 0, &e);
        cr_assert_not_null(r, "%s: %s", lines[i], e.text);
        json_array_append_new(a, r);
    }
    return a;
}

#define RJ(op, type, more) "{\"cluster\":\"main\",\"op\":\"" op "\",\"kind\":\"rejoin\",\"type\":\"" type "\"" more "}"
#define FO(op, type, more) "{\"cluster\":\"main\",\"op\":\"" op "\",\"kind\":\"failover\",\"type\":\"" type "\"" more "}"

Test(resume, open_rejoins_in_a_table)
{
    static const struct {
        const char *what;
        const char *lines[10];
        const char *open; /* "op/node/phase/step" of each open rejoin, ";"-joined; "" none */
    } cases[] = {
        {"no records", {NULL}, ""},
        {"a failover only, open: not a rejoin",
         {FO("f1", "begin", ",\"old_primary\":\"db1\""), FO("f1", "phase", ",\"phase\":\"promoting\""),
          FO("f1", "step", ",\"step\":\"promote:db2\""), NULL},
         ""},
        {"a rejoin that ended",
         {RJ("r1", "begin", ",\"node\":\"db1\""), RJ("r1", "phase", ",\"phase\":\"comparing\""),
          RJ("r1", "done", ",\"phase\":\"rejoined\""), NULL},
         ""},
        {"a rejoin cut short in its repoint step",
         {RJ("r1", "begin", ",\"node\":\"db1\""), RJ("r1", "phase", ",\"phase\":\"comparing\""),
          RJ("r1", "step", ",\"step\":\"capture:db2\",\"node\":\"db2\""),
          RJ("r1", "phase_left", ",\"left\":\"comparing\",\"next\":\"rejoining\""),
          RJ("r1", "phase", ",\"phase\":\"rejoining\""),
          RJ("r1", "step", ",\"step\":\"rejoin:db1\",\"node\":\"db1\""), NULL},
         "r1/db1/rejoining/rejoin:db1"},
        {"a fence cut short, next to a failover that ended",
         {FO("f1", "begin", ""), FO("f1", "done", ""), RJ("r2", "begin", ",\"node\":\"db3\""),
          RJ("r2", "phase", ",\"phase\":\"fencing\""), NULL},
         "r2/db3/fencing/"},
        {"one ended, one abandoned already, one open",
         {RJ("r1", "begin", ",\"node\":\"db1\""), RJ("r1", "failed", ",\"phase\":\"failed\""),
          RJ("r2", "begin", ",\"node\":\"db3\""), RJ("r2", "aborted", ",\"abandoned\":true"),
          RJ("r3", "begin", ",\"node\":\"db1\""), NULL},
         "r3/db1//"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_t *in = recs(cases[k].lines);
        json_t *open = resume_open_rejoins(in);
        buf_t b = BUF_INIT;
        size_t i;
        json_t *o;
        json_array_foreach(open, i, o)
        {
            const char *ph = json_string_value(json_object_get(o, "phase"));
            const char *st = json_string_value(json_object_get(o, "step"));
            buf_printf(&b, "%s%s/%s/%s/%s", i ? ";" : "",
                       json_string_value(json_object_get(o, "op")),
                       json_string_value(json_object_get(o, "node")), ph ? ph : "", st ? st : "");
        }
        cr_expect_str_eq(buf_str(&b), cases[k].open, "%s", cases[k].what);
        /* Whatever is open, no record of a rejoin is an operation's. */
        json_array_foreach(in, i, o)
            cr_expect_eq(resume_rec_is_rejoin(o),
                         strcmp(json_string_value(json_object_get(o, "kind")), "rejoin") == 0,
                         "%s", cases[k].what);
        buf_free(&b);
        json_decref(open);
        json_decref(in);
    }
}
