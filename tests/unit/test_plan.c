/* Plans as step lists (see plan.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "plan.h"
#include "salvage.h"

#define A "3e11fa47-71ca-11e1-9e33-c80aa9429562"

static const plan_opts_t OPTS = {.repl_user = "repl", .repl_password = "s3cr'et",
                                 .connect_retry_s = 1, .heartbeat_ms = 1000,
                                 .step_timeout_ms = 5000, .fence_timeout_ms = 1000,
                                 .wait_apply_timeout_ms = 10000, .catchup_timeout_ms = 30000,
                                 .verify_timeout_ms = 5000, .hook_timeout_ms = 10000,
                                 .switchover_lag_max_ms = 1000, .switchover_timeout_ms = 30000};

/* db1 primary (up or not), db2 and db3 replicas of it; MySQL 9.7 or MariaDB 10.11. */
static void build(cluster_t *c, bool maria, bool primary_up, const char *exec2, const char *exec3,
                  promotion_rule_t rule3)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("main");
    c->n_nodes = 3;
    c->nodes = xcalloc(3, sizeof *c->nodes);
    const char *exec[] = {maria ? "0-1-100" : A ":1-100", exec2, exec3};
    for (int i = 0; i < 3; i++) {
        char name[8], host[16];
        snprintf(name, sizeof name, "db%d", i + 1);
        snprintf(host, sizeof host, "10.0.0.%d", i + 1);
        node_init(&c->nodes[i], name, host, 3306, i == 2 ? rule3 : RULE_NEUTRAL);
        observation_t o = {.at = 100, .ok = true, .family = maria ? FAMILY_MARIADB : FAMILY_MYSQL,
                           .version = xstrdup(maria ? "10.11.19-MariaDB" : "9.7.0"),
                           .server_id = (uint32_t)i + 1, .read_only = i > 0, .log_bin = true,
                           .log_replica_updates = true, .gtid_executed = xstrdup(exec[i]),
                           .server_uuid = i == 0 && !maria ? xstrdup(A) : NULL};
        if (i > 0) {
            o.replica = true;
            o.source_host = xstrdup("10.0.0.1");
            o.source_port = 3306;
            o.io = IO_YES;
            o.sql_running = true;
            o.received_gtids = xstrdup(exec[i]);
            o.executed_gtids = xstrdup(exec[i]);
        }
        node_observe(&c->nodes[i], &o);
    }
    if (!primary_up) {
        observation_t d = {.at = 200, .error = xstrdup("refused")};
        node_observe(&c->nodes[0], &d);
    }
    c->primary = 0;
}

/* "name name ..." of the steps, with |group changes| marked by " / ". */
static char *names(const step_t *st, size_t n)
{
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i == 0 ? "" : st[i].group != st[i - 1].group ? " / " : " ",
                   st[i].name);
    return buf_steal(&b);
}

/* The executor runs one statement per node at a time (one connection each):
 * two steps of one node in one group would collide. */
static void assert_one_step_per_node_and_group(const plan_t *p)
{
    for (size_t i = 1; i < p->n; i++)
        for (size_t k = 0; k < i; k++)
            cr_assert(p->steps[i].group != p->steps[k].group || p->steps[i].node < 0 ||
                          p->steps[i].node != p->steps[k].node,
                      "%s and %s run on one node in one group", p->steps[k].name,
                      p->steps[i].name);
}

static const step_t *find(const plan_t *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->steps[i].name, name) == 0)
            return &p->steps[i];
    return NULL;
}

Test(plan, failover_prepare_stops_io_fences_then_refreshes)
{
    cluster_t c;
    build(&c, false, false, A ":1-100", A ":1-99", RULE_NEUTRAL);
    plan_t *p = plan_failover_prepare(&c, 0, POLICY_RELIABILITY, &OPTS);
    char *s = names(p->steps, p->n);
    cr_assert_str_eq(s, "hook:pre_failover / stop_io:db2 stop_io:db3 fence:db1 hook:fence / refresh");
    free(s);
    cr_assert_str_eq(find(p, "stop_io:db2")->sql, "START REPLICA SQL_THREAD; STOP REPLICA IO_THREAD",
                     "a stopped applier is started, before the IO thread stops: the failover "
                     "waits for what it received, and both threads are never stopped at once");
    cr_assert(find(p, "fence:db1")->optional, "an unreachable old primary must not stop a failover");
    cr_assert_eq(find(p, "fence:db1")->kind, STEP_FENCE);
    cr_assert_eq(find(p, "fence:db1")->background, STEP_FENCE_BG_START,
                 "an old primary that did not answer is fenced in the background: the "
                 "failover does not wait for it");
    cr_assert(!find(p, "hook:pre_failover")->optional, "a veto stops the failover");
    plan_free(p);
    cluster_free(&c);
}

Test(plan, failover_prepare_fences_an_old_primary_that_answers_as_a_returning_one)
{
    cluster_t c;
    build(&c, false, true, A ":1-100", A ":1-99", RULE_NEUTRAL);
    plan_t *p = plan_failover_prepare(&c, 0, POLICY_RELIABILITY, &OPTS);
    const step_t *f = find(p, "fence:db1");
    cr_assert_eq(f->kind, STEP_FENCE,
                 "its commits may wait for acknowledgements: read-only queued, sessions cut off");
    cr_assert_eq(f->background, 0, "an old primary that answers is fenced before the election");
    cr_assert(f->optional);
    cr_assert(strstr(f->sql, "super_read_only = ON"), "the statement where there is no fence: %s",
              f->sql);
    json_t *j = plan_json(&c, p);
    char *text = json_dumps(j, 0);
    cr_assert(strstr(text, "\"kind\": \"fence\""), "%s", text);
    free(text);
    json_decref(j);
    plan_free(p);
    cluster_free(&c);
}

Test(plan, failover_promote_with_catch_up)
{
    cluster_t c;
    build(&c, false, false, A ":1-100", A ":1-98", RULE_PREFER);
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    char err[256] = "";
    plan_t *p = plan_failover_promote(&c, 0, e, POLICY_RELIABILITY, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    char *s = names(p->steps, p->n);
    cr_assert_str_eq(s, "check:db3 apply:db2 / apply:db3 / catchup_start:db2 / catchup_wait:db2 / "
                        "stop_replica:db3 / capture:db3 / fence_wait:db1 / repoint:db2 / "
                        "promote:db3 / hook:post_promotion / verify:db2 / hook:post_failover");
    free(s);
    const step_t *cs = find(p, "catchup_start:db2");
    cr_assert(strstr(cs->sql, "SOURCE_HOST = '10.0.0.2'"), "%s", cs->sql);
    cr_assert(strstr(cs->sql, "SOURCE_AUTO_POSITION = 1"), "%s", cs->sql);
    cr_assert(strstr(cs->sql, "s3cr''et"), "the real SQL carries the escaped password");
    cr_assert(strstr(cs->sql_log, "<redacted>") && !strstr(cs->sql_log, "s3cr"),
              "the logged SQL never does: %s", cs->sql_log);
    cr_assert_str_eq(find(p, "catchup_wait:db2")->gtid, A ":1-100");
    cr_assert(!find(p, "apply:db2")->optional, "a catch-up source must apply everything");
    cr_assert(strstr(find(p, "promote:db3")->sql, "RESET REPLICA ALL"));
    cr_assert(strstr(find(p, "repoint:db2")->sql, "SOURCE_HOST = '10.0.0.3'"));
    cr_assert(find(p, "verify:db2")->reach_captured,
              "a repointed replica must reach what the new primary held, not only run");
    cr_assert_eq(p->point_of_no_return, 8);
    const step_t *fw = find(p, "fence_wait:db1");
    cr_assert(fw->kind == STEP_FENCE && fw->background == STEP_FENCE_BG_WAIT && fw->optional,
              "the old primary's fence in the background is waited for if it answers again");
    cr_assert_lt(fw->group, find(p, "repoint:db2")->group, "before anything becomes writable");
    /* Nothing is changed before the rights the promotion needs were tried. */
    cr_assert_str_eq(p->steps[0].name, "check:db3");
    cr_assert(!p->steps[0].optional);
    assert_one_step_per_node_and_group(p);
    cr_assert_eq(p->steps[0].group, find(p, "apply:db2")->group,
                 "the candidate's check runs beside the other replicas' apply waits");
    cr_assert_lt(p->steps[0].group, find(p, "apply:db3")->group,
                 "the candidate's own apply wait follows its check");
    cr_assert_str_eq(p->steps[0].sql, "SET GLOBAL super_read_only = @@GLOBAL.super_read_only, "
                                      "GLOBAL read_only = @@GLOBAL.read_only");
    cr_assert_str_eq(p->steps[p->point_of_no_return].name, "repoint:db2",
                     "the replicas follow the candidate before it is writable, so that they "
                     "acknowledge its first semi-sync commits");
    cr_assert(find(p, "repoint:db2")->group < find(p, "promote:db3")->group);
    cr_assert(find(p, "capture:db3")->optional, "a failed capture only costs the loss report");
    json_t *j = plan_json(&c, p);
    char *text = json_dumps(j, 0);
    cr_assert(!strstr(text, "s3cr"), "no password in the plan's JSON");
    free(text);
    json_decref(j);
    plan_free(p);
    elect_free(e);
    cluster_free(&c);
}

Test(plan, availability_waits_only_briefly_for_the_candidate)
{
    cluster_t c;
    build(&c, true, false, "0-1-100", "0-1-98", RULE_PREFER);
    elect_result_t *e = elect_run(&c, 0, POLICY_AVAILABILITY, NULL);
    char err[256] = "";
    plan_t *p = plan_failover_promote(&c, 0, e, POLICY_AVAILABILITY, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    char *s = names(p->steps, p->n);
    cr_assert_str_eq(s, "check:db2 / apply:db2 / stop_replica:db2 / capture:db2 / fence_wait:db1 / "
                        "promote:db2 / hook:post_promotion / repoint:db3 / verify:db3 / "
                        "hook:post_failover");
    free(s);
    assert_one_step_per_node_and_group(p);
    const step_t *w = find(p, "apply:db2");
    cr_assert(w->optional);
    cr_assert_leq(w->timeout_ms, 1000);
    cr_assert(strstr(find(p, "repoint:db3")->sql, "MASTER_USE_GTID = slave_pos"),
              "%s", find(p, "repoint:db3")->sql);
    plan_free(p);
    elect_free(e);
    cluster_free(&c);
}

Test(plan, no_candidate_is_a_stated_error)
{
    cluster_t c;
    build(&c, false, false, A ":1-100", A ":1-99", RULE_MUST_NOT);
    node_t *n2 = &c.nodes[1];
    n2->rule = RULE_MUST_NOT;
    elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
    char err[256] = "";
    cr_assert_null(plan_failover_promote(&c, 0, e, POLICY_RELIABILITY, &OPTS, err, sizeof err));
    cr_assert_str_eq(err, "no replica can be promoted");
    elect_free(e);
    cluster_free(&c);
}

Test(plan, switchover_reliability_blocks_syncs_promotes_and_can_roll_back)
{
    cluster_t c;
    build(&c, false, true, A ":1-100", A ":1-100", RULE_NEUTRAL);
    char err[256] = "";
    plan_t *p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    char *s = names(p->steps, p->n);
    cr_assert_str_eq(s, "hook:switchover_before / check_lag:db2 / block_writes:db1 / capture:db1 / "
                        "sync:db2 / repoint:db3 / promote:db2 / hook:post_promotion / repoint:db1 / "
                        "verify:db1 verify:db3 / refresh / hook:switchover_after");
    free(s);
    cr_assert_null(find(p, "sync:db2")->gtid, "the wait uses the captured state");
    cr_assert_eq(p->point_of_no_return, 5);
    cr_assert(find(p, "repoint:db3")->group < find(p, "promote:db2")->group,
              "the replica follows the candidate before it is writable");
    cr_assert(find(p, "repoint:db1")->group > find(p, "hook:post_promotion")->group,
              "the old primary rejoins after traffic moved");
    s = names(p->rollback, p->n_rollback);
    cr_assert_str_eq(s, "rollback_writes:db1", "the candidate's replication was never touched");
    free(s);
    cr_assert(strstr(p->rollback[0].sql, "read_only = OFF"), "%s", p->rollback[0].sql);
    plan_free(p);
    cluster_free(&c);
}

Test(plan, switchover_refuses_a_dead_primary_or_a_non_replica)
{
    cluster_t c;
    build(&c, false, false, A ":1-100", A ":1-100", RULE_NEUTRAL);
    char err[256] = "";
    cr_assert_null(plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &OPTS, err, sizeof err));
    cr_assert(strstr(err, "needs a live primary"), "%s", err);
    cluster_free(&c);
    build(&c, false, true, A ":1-100", A ":1-100", RULE_NEUTRAL);
    cr_assert_null(plan_switchover(&c, 0, 0, POLICY_RELIABILITY, &OPTS, err, sizeof err));
    cr_assert(strstr(err, "is not a reachable replica"), "%s", err);
    cluster_free(&c);
}

Test(plan, switchover_availability_moves_traffic_before_blocking_the_old_primary)
{
    cluster_t c;
    build(&c, true, true, "0-1-90", "0-1-100", RULE_NEUTRAL);
    char err[256] = "";
    plan_opts_t o = OPTS;
    o.long_writes_timeout_ms = 2000;
    plan_t *p = plan_switchover(&c, 0, 1, POLICY_AVAILABILITY, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    char *s = names(p->steps, p->n);
    cr_assert_str_eq(s, "hook:switchover_before / stop_replica:db2 / capture:db2 / promote:db2 / "
                        "hook:post_promotion / block_writes:db1 / capture:db1 / repoint:db1 "
                        "repoint:db3 / verify:db1 verify:db3 / refresh / hook:switchover_after");
    free(s);
    cr_assert_eq(p->point_of_no_return, 3, "only stopping the candidate can be undone");
    const step_t *bw = find(p, "block_writes:db1");
    cr_assert_eq(bw->kind, STEP_BLOCK_WRITES);
    cr_assert(bw->kill_long_writes, "the old primary must not stay writable beside the new one");
    cr_assert(!bw->optional);
    s = names(p->rollback, p->n_rollback);
    cr_assert_str_eq(s, "rollback_writes:db1 rollback_replica:db2");
    free(s);
    cr_assert(strstr(find(p, "repoint:db1")->sql, "MASTER_DEMOTE_TO_SLAVE = 1"),
              "the old MariaDB primary rejoins with its own transactions: %s",
              find(p, "repoint:db1")->sql);
    plan_free(p);
    cluster_free(&c);
}

Test(plan, switchover_block_writes_carries_the_long_writes_rule_and_the_deadline)
{
    cluster_t c;
    build(&c, false, true, A ":1-100", A ":1-100", RULE_NEUTRAL);
    char err[256] = "";
    plan_opts_t o = OPTS;
    o.long_writes_timeout_ms = 1500;
    o.long_writes_kill = false;
    plan_t *p = plan_switchover(&c, 0, 2, POLICY_RELIABILITY, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    const step_t *bw = find(p, "block_writes:db1");
    cr_assert_eq(bw->kind, STEP_BLOCK_WRITES);
    cr_assert_eq(bw->long_writes_ms, 1500);
    cr_assert(!bw->kill_long_writes);
    cr_assert_eq(bw->timeout_ms, 1500 + OPTS.step_timeout_ms, "room to wait, then to give up");
    cr_assert_str_eq(bw->sql, "SET GLOBAL read_only = ON, GLOBAL super_read_only = ON");
    cr_assert_eq(p->deadline_ms, OPTS.switchover_timeout_ms);
    cr_assert_eq(find(p, "check_lag:db3")->max_lag_ms, OPTS.switchover_lag_max_ms);
    json_t *j = plan_json(&c, p);
    json_t *st = json_array_get(json_object_get(j, "steps"), 2);
    cr_assert_str_eq(json_string_value(json_object_get(st, "name")), "block_writes:db1");
    cr_assert_str_eq(json_string_value(json_object_get(st, "long_writes")), "wait");
    json_decref(j);
    plan_free(p);
    cluster_free(&c);
}

/* What keeps read_only from being set: running writes, by their text. */
Test(plan, long_writes_are_running_write_statements)
{
    static const struct {
        const char *command, *state, *info;
        bool write;
    } cases[] = {
        {"Query", "User sleep", "INSERT INTO t SELECT 1, SLEEP(9)", true},
        {"Query", "updating", "  update t set a = 1", true},
        {"Execute", "Sending data", "DELETE FROM t", true},
        {"Query", "", "/* app: batch */ REPLACE INTO t VALUES (1)", true},
        {"Query", "", "-- note\nLOAD DATA INFILE 'x' INTO TABLE t", true},
        {"Query", "altering table", "ALTER TABLE t ADD COLUMN b INT", true},
        {"Query", "", "(INSERT INTO t VALUES (1))", true},
        {"Query", "", "WITH x AS (SELECT 1) UPDATE t, x SET t.a = 1", true},
        {"Query", "", "WITH x AS (SELECT 1) SELECT * FROM x", false},
        {"Query", "Sending data", "SELECT * FROM t FOR UPDATE", false},
        {"Query", "", "SHOW PROCESSLIST", false},
        {"Query", "", "SET GLOBAL read_only = ON", false},
        {"Query", "Waiting for global read lock", "INSERT INTO t VALUES (2)", false},
        {"Query", "Waiting for backup lock", "UPDATE t SET a = 2", false},
        {"Sleep", "", NULL, false},
        {"Sleep", "", "INSERT INTO t VALUES (3)", false},
        {"Binlog Dump GTID", "Source has sent all binlog", NULL, false},
        {"Query", "", "INSERTED", false},
        {"Query", "", "", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(plan_is_long_write(cases[i].command, cases[i].state, cases[i].info),
                     cases[i].write, "%s / %s / %s", cases[i].command, cases[i].state,
                     cases[i].info ? cases[i].info : "(null)");
}

/* What the old primary had beyond the new one, per flavor. */
Test(plan, divergence_is_what_the_old_primary_had_beyond_the_new_one)
{
    static const struct {
        bool maria;
        const char *old_gtid, *new_gtid, *want;
        uint64_t count;
    } cases[] = {
        {false, A ":1-100", A ":1-100", "", 0},
        {false, A ":1-100", A ":1-97", A ":98-100", 3},
        {false, A ":1-100", A ":1-100:200", "", 0},
        {true, "0-1-100", "0-1-100", "", 0},
        {true, "0-1-100", "0-1-96", "0-1-100", 4},
        {true, "0-1-100,1-1-7", "0-1-100", "1-1-7", 7},
        {true, "0-1-100", "0-2-101", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t n = 99;
        char err[128] = "";
        char *d = plan_divergence(cases[i].maria, cases[i].old_gtid, cases[i].new_gtid, &n, err,
                                  sizeof err);
        cr_assert_not_null(d, "%s", err);
        cr_expect_str_eq(d, cases[i].want, "%s - %s", cases[i].old_gtid, cases[i].new_gtid);
        cr_expect_eq(n, cases[i].count, "%s - %s: %llu", cases[i].old_gtid, cases[i].new_gtid,
                     (unsigned long long)n);
        free(d);
    }
    uint64_t n;
    char err[128] = "";
    cr_assert_null(plan_divergence(false, "not a gtid", "", &n, err, sizeof err));
    cr_assert(err[0], "a parse error is explained");
}

Test(plan, a_repointed_old_primary_stops_waiting_for_acknowledgements)
{
    cluster_t c;
    build(&c, true, true, "0-1-100", "0-1-100", RULE_NEUTRAL);
    char err[256] = "";
    plan_opts_t o = OPTS;
    o.semisync = true;
    plan_t *p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    const char *sql = find(p, "repoint:db1")->sql;
    const char *off = strstr(sql, "SET GLOBAL rpl_semi_sync_master_enabled = OFF");
    const char *on = strstr(sql, "SET GLOBAL rpl_semi_sync_slave_enabled = ON");
    const char *start = strstr(sql, "START REPLICA");
    cr_assert(off && on && start && off < start && on < start,
              "source side off, replica side on, before replication starts: %s", sql);
    cr_assert(strstr(find(p, "promote:db2")->sql, "rpl_semi_sync_master_enabled = ON"));
    plan_free(p);
    cluster_free(&c);
}

/* Reliability: the semi-sync source side goes on with the promotion (the
 * replicas follow already). Availability: only once a replica follows, else a
 * commit with nobody to acknowledge it waits for the whole semi-sync timeout. */
Test(plan, availability_switches_semisync_on_once_a_replica_follows)
{
    cluster_t c;
    build(&c, true, true, "0-1-100", "0-1-100", RULE_NEUTRAL);
    char err[256] = "";
    plan_opts_t o = OPTS;
    o.semisync = true;
    plan_t *p = plan_switchover(&c, 0, 1, POLICY_AVAILABILITY, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    char *s = names(p->steps, p->n);
    cr_assert_str_eq(s, "hook:switchover_before / stop_replica:db2 / capture:db2 / promote:db2 / "
                        "hook:post_promotion / block_writes:db1 / capture:db1 / repoint:db1 "
                        "repoint:db3 / verify:db1 verify:db3 / semisync:db2 / refresh / "
                        "hook:switchover_after");
    free(s);
    const char *promote = find(p, "promote:db2")->sql;
    cr_assert(!strstr(promote, "rpl_semi_sync_master_enabled"), "%s", promote);
    cr_assert(strstr(promote, "rpl_semi_sync_slave_enabled = OFF"), "%s", promote);
    const step_t *ss = find(p, "semisync:db2");
    cr_assert_str_eq(ss->sql, "SET GLOBAL rpl_semi_sync_master_enabled = ON");
    cr_assert(ss->needs_follower && ss->optional);
    cr_assert(strstr(ss->unmet, "no replica follows the new primary db2"), "%s", ss->unmet);
    plan_free(p);

    elect_result_t *e = elect_run(&c, 0, POLICY_AVAILABILITY, NULL);
    p = plan_failover_promote(&c, 0, e, POLICY_AVAILABILITY, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert(find(p, "semisync:db2") || find(p, "semisync:db3"), "the failover too");
    plan_free(p);
    elect_free(e);

    p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &o, err, sizeof err);
    cr_assert_null(find(p, "semisync:db2"), "reliability switches it on at the promotion");
    plan_free(p);
    cluster_free(&c);
}

/* MariaDB replicating with GTID deletes the relay log when a thread starts
 * while both are stopped: the applier is started while the IO thread still
 * runs, and a replica with both threads stopped already is left alone. */
Test(plan, failover_prepare_never_leaves_both_threads_stopped)
{
    cluster_t c;
    build(&c, true, false, "0-1-100", "0-1-99", RULE_NEUTRAL);
    c.nodes[1].last_ok.sql_running = false; /* an applier stopped by hand, IO receiving */
    c.nodes[2].last_ok.sql_running = false; /* both stopped */
    c.nodes[2].last_ok.io = IO_NO;
    plan_t *p = plan_failover_prepare(&c, 0, POLICY_RELIABILITY, &OPTS);
    /* The IO thread's stop does not wait 5 s for the lost primary (flavor.h):
     * the applier first, then the stop of a lost source's replica. */
    buf_t want = BUF_INIT;
    buf_printf(&want, "START REPLICA SQL_THREAD; %s",
               flavor_sql_stop_io_thread_lost_source(&p->flavors[1]));
    cr_assert_str_eq(find(p, "stop_io:db2")->sql, buf_str(&want));
    buf_free(&want);
    cr_assert(strstr(find(p, "stop_io:db2")->sql, "KILL failoverd_io"), "10.x: killed first");
    cr_assert_str_eq(find(p, "stop_io:db3")->sql, "STOP REPLICA IO_THREAD",
                     "starting a thread of db3 would make MariaDB discard its relay log");
    cr_assert(strstr(find(p, "stop_io:db3")->desc, "discard"));
    plan_free(p);
    cluster_free(&c);

    /* MySQL keeps its relay log: the applier is started in every case. */
    build(&c, false, false, A ":1-100", A ":1-99", RULE_NEUTRAL);
    c.nodes[2].last_ok.sql_running = false;
    c.nodes[2].last_ok.io = IO_NO;
    p = plan_failover_prepare(&c, 0, POLICY_RELIABILITY, &OPTS);
    cr_assert_str_eq(find(p, "stop_io:db3")->sql, "START REPLICA SQL_THREAD; STOP REPLICA IO_THREAD");
    plan_free(p);
    cluster_free(&c);
}

/* Salvage (salvage.h): after the candidate's state is read, before anything
 * can make it writable; optional, bounded by salvage_timeout; MySQL's
 * super_read_only restored after it; the state read again for the loss report. */
Test(plan, salvage_comes_after_the_capture_and_before_the_point_of_no_return)
{
    for (int maria = 0; maria < 2; maria++) {
        for (int pol = 0; pol < 2; pol++) {
            policy_t policy = pol ? POLICY_AVAILABILITY : POLICY_RELIABILITY;
            cluster_t c;
            build(&c, maria, false, maria ? "0-1-100" : A ":1-100",
                  maria ? "0-1-98" : A ":1-98", RULE_NEUTRAL);
            elect_result_t *e = elect_run(&c, 0, policy, NULL);
            plan_opts_t o = OPTS;
            o.salvage = true;
            o.salvage_timeout_ms = 2000;
            char err[256] = "";
            plan_t *p = plan_failover_promote(&c, 0, e, policy, &o, err, sizeof err);
            cr_assert_not_null(p, "%s", err);
            char *s = names(p->steps, p->n);
            const char *want = maria ? "stop_replica:db2 / capture:db2 / salvage:db2 / "
                                       "capture_salvaged:db2 / "
                                     : "stop_replica:db2 / capture:db2 / salvage:db2 / "
                                       "salvage_read_only:db2 / capture_salvaged:db2 / ";
            cr_assert(strstr(s, want), "%s lacks %s", s, want);
            assert_one_step_per_node_and_group(p);
            const step_t *sv = find(p, "salvage:db2");
            cr_assert_eq(sv->kind, STEP_SALVAGE);
            cr_assert_eq(sv->source, 0, "it salvages from the old primary");
            cr_assert(sv->optional, "a failed salvage must not stop the failover");
            cr_assert_eq(sv->timeout_ms, 4000, "salvage_timeout, and the children's kill grace");
            size_t at = (size_t)(find(p, "capture_salvaged:db2") - p->steps);
            cr_assert_lt(at, p->point_of_no_return, "nothing is applied to a writable node");
            if (!maria) {
                const step_t *ro = find(p, "salvage_read_only:db2");
                cr_assert(!ro->optional);
                cr_assert(strstr(ro->sql, "super_read_only = ON"), "%s", ro->sql);
            }
            free(s);
            plan_free(p);
            /* Off: the plan is as before. */
            p = plan_failover_promote(&c, 0, e, policy, &OPTS, err, sizeof err);
            cr_assert_null(find(p, "salvage:db2"));
            plan_free(p);
            elect_free(e);
            cluster_free(&c);
        }
    }
}
/* ---- the rejoin's statements ------------------------------------------------------ */

Test(plan, rejoin_reads_both_states_repoints_read_only_first_and_verifies)
{
    for (int maria = 0; maria < 2; maria++) {
        cluster_t c;
        build(&c, maria, true, maria ? "0-1-100" : A ":1-100", maria ? "0-1-100" : A ":1-100",
              RULE_NEUTRAL);
        plan_opts_t o = OPTS;
        o.semisync = true;
        char err[256] = "";
        /* db2 returns to the primary db1 (as if db1 had been promoted). */
        plan_t *p = plan_rejoin(&c, 1, 0, true, &o, err, sizeof err);
        cr_assert_not_null(p, "%s", err);
        char *s = names(p->steps, p->n);
        /* The node's state first, then the primary's. */
        cr_expect_str_eq(s, "capture:db2 / capture:db1 / rejoin:db2 / verify:db2");
        free(s);
        cr_expect_str_eq(p->steps[1].sql, maria ? "SELECT @@GLOBAL.gtid_binlog_state"
                                                : "SELECT @@GLOBAL.gtid_executed");
        const step_t *rj = find(p, "rejoin:db2");
        cr_assert_not_null(rj->sql);
        /* Read-only before anything else; the semi-sync replica side on, the
         * source side left alone; the password only in sql, not sql_log. */
        const char *ro = flavor_sql_set_read_only(&p->flavors[1], FLAVOR_SUPER_READ_ONLY);
        cr_expect(strncmp(rj->sql, ro, strlen(ro)) == 0 && strstr(ro, "read_only = ON"), "%s",
                  rj->sql);
        cr_expect(strstr(rj->sql, "10.0.0.1"), "%s", rj->sql);
        cr_expect_null(strstr(rj->sql, maria ? "rpl_semi_sync_master_enabled"
                                             : "rpl_semi_sync_source_enabled"),
                       "%s", rj->sql);
        cr_expect(strstr(rj->sql, "s3cr"), "%s", rj->sql);
        cr_expect_null(strstr(rj->sql_log, "s3cr"), "%s", rj->sql_log);
        cr_expect_eq(find(p, "verify:db2")->source, 0);
        cr_expect_eq(find(p, "verify:db2")->timeout_ms, OPTS.verify_timeout_ms);
        plan_free(p);
        cluster_free(&c);
    }
}

Test(plan, rejoin_fence_bounds_the_servers_lock_wait_beyond_the_step)
{
    cluster_t c;
    build(&c, false, true, A ":1-100", A ":1-100", RULE_NEUTRAL);
    char err[256] = "";
    plan_t *p = plan_rejoin_fence(&c, 1, &OPTS, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(p->n, 1);
    cr_expect_eq(p->steps[0].kind, STEP_FENCE);
    cr_expect_str_eq(p->steps[0].name, "fence:db2");
    cr_expect_eq(p->steps[0].timeout_ms, OPTS.step_timeout_ms);
    cr_expect(strstr(p->steps[0].sql, "SET SESSION lock_wait_timeout = 6; "), "%s",
              p->steps[0].sql);
    plan_free(p);
    cluster_free(&c);
}

Test(plan, rejoin_of_a_node_of_unknown_version_is_refused)
{
    cluster_t c;
    build(&c, false, true, A ":1-100", A ":1-100", RULE_NEUTRAL);
    free(c.nodes[2].last_ok.version);
    c.nodes[2].last_ok.version = NULL;
    char err[256] = "";
    cr_expect_null(plan_rejoin(&c, 2, 0, true, &OPTS, err, sizeof err));
    cr_expect(strstr(err, "db3"), "%s", err);
    cr_expect_null(plan_rejoin_fence(&c, 2, &OPTS, err, sizeof err));
    cluster_free(&c);
}

/* MySQL: a replica whose relay log ends inside a transaction its dead source
 * never finished sends it no further; STOP REPLICA would wait a minute for
 * the rest. A failover kills such an applier before every stop of
 * replication; a switchover (a live source finishes the group) and MariaDB
 * never do. */
Test(plan, failover_ends_a_mysql_applier_stuck_in_a_group_before_stopping_it)
{
    for (int maria = 0; maria < 2; maria++) {
        cluster_t c;
        build(&c, maria, false, maria ? "0-1-100" : A ":1-100", maria ? "0-1-98" : A ":1-98",
              RULE_PREFER);
        elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
        char err[256] = "";
        plan_t *p = plan_failover_promote(&c, 0, e, POLICY_RELIABILITY, &OPTS, err, sizeof err);
        cr_assert_not_null(p, "%s", err);
        const char *names_[] = {"catchup_start:db2", "stop_replica:db3", "repoint:db2"};
        for (size_t k = 0; k < 3; k++) {
            const step_t *s = find(p, names_[k]);
            cr_assert_not_null(s, "%s", names_[k]);
            const char *kill = strstr(s->sql, "KILL ");
            const char *stop = strstr(s->sql, "STOP ");
            cr_assert(stop, "%s: %s", names_[k], s->sql);
            if (maria) {
                cr_assert_null(kill, "MariaDB needs no kill: %s", s->sql);
                continue;
            }
            cr_assert(kill && kill < stop, "%s kills before it stops: %s", names_[k], s->sql);
            cr_assert(strstr(s->sql, "PROCESSING_TRANSACTION <> ''"),
                      "only an applier inside a group: %s", s->sql);
            cr_assert(strstr(s->sql_log, "KILL "), "the logged text says it too: %s", s->sql_log);
        }
        plan_free(p);
        elect_free(e);
        cluster_free(&c);
        build(&c, maria, true, maria ? "0-1-100" : A ":1-100", maria ? "0-1-100" : A ":1-100",
              RULE_NEUTRAL);
        p = plan_switchover(&c, 0, 1, POLICY_RELIABILITY, &OPTS, err, sizeof err);
        cr_assert_not_null(p, "%s", err);
        cr_assert_null(strstr(find(p, "repoint:db3")->sql, "KILL "),
                       "a switchover's source finishes the group");
        plan_free(p);
        cluster_free(&c);
    }
}

/* Reliability holds when the old primary was last seen with transactions no
 * replica received; with a salvage_command that hold becomes a condition
 * checked before the point of no return: the salvage may not fail, and the
 * candidate must then hold what the old primary was last seen with. */
Test(plan, a_salvage_can_lift_reliabilitys_hold_before_the_point_of_no_return)
{
    for (int maria = 0; maria < 2; maria++) {
        cluster_t c;
        build(&c, maria, false, maria ? "0-1-98" : A ":1-98", maria ? "0-1-97" : A ":1-97",
              RULE_NEUTRAL);
        elect_result_t *e = elect_run(&c, 0, POLICY_RELIABILITY, NULL);
        char why[512];
        cr_assert(elect_hold(&c, e, POLICY_RELIABILITY, why, sizeof why), "it holds");
        char *gate = salvage_gate(&c, 0, e);
        cr_assert_str_eq(gate, maria ? "0-1-100" : A ":1-100",
                         "everything the old primary was last seen with");
        cr_assert_null(salvage_gate(&c, -1, e), "no old primary, nothing to check against");
        plan_opts_t o = OPTS;
        o.salvage = true;
        o.salvage_timeout_ms = 2000;
        o.salvage_gate = gate;
        char err[256] = "";
        plan_t *p = plan_failover_promote(&c, 0, e, POLICY_RELIABILITY, &o, err, sizeof err);
        cr_assert_not_null(p, "%s", err);
        const step_t *sv = find(p, "salvage:db2");
        cr_assert(sv && !sv->optional, "the salvage may not fail");
        cr_assert(strstr(sv->desc, gate), "it names what it must supply: %s", sv->desc);
        cr_assert_lt((size_t)(sv - p->steps), p->point_of_no_return,
                     "checked before anything is made writable");
        /* The daemon's check of the state the salvage left. */
        char *l = salvage_gate_lacks(maria, maria ? "0-1-101" : A ":1-101", gate);
        cr_assert_str_eq(l, "", "nothing lacking");
        free(l);
        l = salvage_gate_lacks(maria, maria ? "0-1-99" : A ":1-99", gate);
        cr_assert_str_eq(l, maria ? "0-1-100" : A ":100", "what is still missing");
        free(l);
        cr_assert_null(salvage_gate_lacks(maria, "garbage!", gate), "can't be compared");
        plan_free(p);
        free(gate);
        elect_free(e);
        cluster_free(&c);
    }
}
