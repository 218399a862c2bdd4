/* A new leader and its predecessor's operation record (haresume.h): the
 * record read back as journal records, and what the interrupted-operation
 * rules (resume.h) decide from them, phase by phase, as a table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "failover_int.h"
#include "haresume.h"
#include "plan.h"
#include "resume.h"

#define A "3e11fa47-71ca-11e1-9e33-c80aa9429562"

/* db1 the old primary (read-only, up), db2 the candidate (ro2: read-only),
 * db3 a replica of db1; every node has executed the same transactions. */
static void build(cluster_t *c, bool ro2)
{
    memset(c, 0, sizeof *c);
    c->name = xstrdup("main");
    c->n_nodes = 3;
    c->nodes = xcalloc(3, sizeof *c->nodes);
    for (int i = 0; i < 3; i++) {
        char name[8], host[16];
        snprintf(name, sizeof name, "db%d", i + 1);
        snprintf(host, sizeof host, "10.0.0.%d", i + 1);
        node_init(&c->nodes[i], name, host, 3306, RULE_NEUTRAL);
        observation_t o = {.at = 100, .ok = true, .family = FAMILY_MYSQL,
                           .version = xstrdup("9.7.0"), .server_id = (uint32_t)i + 1,
                           .read_only = i == 1 ? ro2 : true, .log_bin = true,
                           .log_replica_updates = true, .gtid_executed = xstrdup(A ":1-10")};
        node_observe(&c->nodes[i], &o);
    }
    c->primary = 1;
}

#define SW "\"op\":\"op7\",\"kind\":\"switchover\",\"type\":\"step\",\"old_primary\":\"db1\"," \
           "\"candidate\":\"db2\",\"policy\":\"reliability\",\"manager\":\"m1\",\"term\":42,"

typedef struct {
    const char *what;
    const char *record;     /* the key's value; NULL: absent */
    haresume_t outcome;
    const char *promotion;  /* fo_interrupted_summary's, when open */
    bool ro2;               /* the candidate is seen read-only now */
    resume_action_t want;   /* resume_decide's, when open */
    const char *why;        /* a phrase of haresume_read's or resume_decide's reason */
} row_t;

static const row_t ROWS[] = {
    {"no record", NULL, HARESUME_NONE, NULL, false, RESUME_REFUSE, "no operation"},
    {"ended", "{\"op\":\"op7\",\"kind\":\"switchover\",\"type\":\"done\",\"step\":\"end:done\"}",
     HARESUME_NONE, NULL, false, RESUME_REFUSE, "ended (done)"},
    {"rolled back", "{\"op\":\"op7\",\"kind\":\"failover\",\"type\":\"aborted\"}", HARESUME_NONE,
     NULL, false, RESUME_REFUSE, "ended (aborted)"},
    {"not JSON", "{op", HARESUME_BAD, NULL, false, RESUME_REFUSE, "not JSON"},
    {"no op", "{\"type\":\"step\",\"step\":\"x\"}", HARESUME_BAD, NULL, false, RESUME_REFUSE,
     "no \"op\""},
    {"unknown kind", "{\"op\":\"o\",\"type\":\"step\",\"kind\":\"x\",\"step\":\"x\"}",
     HARESUME_BAD, NULL, false, RESUME_REFUSE, "kind"},
    {"bad before", "{" SW "\"step\":\"x\",\"before\":[1]}", HARESUME_BAD, NULL, false,
     RESUME_REFUSE, "non-text"},
    {"before the promotion: nothing was made writable",
     "{" SW "\"step\":\"sync:db2\",\"before\":[\"check_lag:db2\",\"block_writes:db1\"]}",
     HARESUME_OPEN, "not started", true, RESUME_REFUSE, "had not started"},
    {"at the promotion, it took effect",
     "{" SW "\"step\":\"promote:db2\",\"before\":[\"check_lag:db2\",\"block_writes:db1\","
     "\"sync:db2\"]}",
     HARESUME_OPEN, "unknown", false, RESUME_AFTER_PROMOTION, "took effect"},
    {"at the promotion, it did not take effect: promote again",
     "{" SW "\"step\":\"promote:db2\",\"before\":[\"check_lag:db2\",\"block_writes:db1\","
     "\"sync:db2\"]}",
     HARESUME_OPEN, "unknown", true, RESUME_PROMOTE, "run again"},
    {"after the promotion: finish",
     "{" SW "\"step\":\"hook:post_promotion\",\"before\":[\"check_lag:db2\","
     "\"block_writes:db1\",\"sync:db2\",\"promote:db2\"]}",
     HARESUME_OPEN, "done", false, RESUME_AFTER_PROMOTION, "took effect"},
    {"after the promotion, the candidate read-only again",
     "{" SW "\"step\":\"repoint:db1\",\"before\":[\"check_lag:db2\",\"block_writes:db1\","
     "\"sync:db2\",\"promote:db2\",\"hook:post_promotion\"]}",
     HARESUME_OPEN, "done", true, RESUME_REFUSE, "someone changed it"},
};

static void decide(const row_t *r, json_t *records)
{
    json_t *sum = fo_interrupted_summary(records);
    const char *promo = json_string_value(json_object_get(sum, "promotion"));
    cr_expect_str_eq(promo, r->promotion, "%s: promotion %s", r->what, promo);
    cr_expect_str_eq(json_string_value(json_object_get(sum, "candidate")), "db2", "%s",
                     r->what);
    cluster_t c;
    build(&c, r->ro2);
    resume_facts_t f = {
        .old_primary = 0, .candidate = 1, .promotion = promo,
        .blocked = fo_op_step_state(records, "block_writes:db1") &&
                   strcmp(fo_op_step_state(records, "block_writes:db1"), "done") == 0,
        .synced = fo_op_step_state(records, "sync:db2") &&
                  strcmp(fo_op_step_state(records, "sync:db2"), "done") == 0};
    char why[512];
    resume_action_t got = resume_decide(&c, &f, why, sizeof why);
    cr_expect_eq(got, r->want, "%s: %s, want %s (%s)", r->what, resume_action_str(got),
                 resume_action_str(r->want), why);
    cr_expect(strstr(why, r->why), "%s: \"%s\" should say \"%s\"", r->what, why, r->why);
    cluster_free(&c);
    json_decref(sum);
}

Test(haresume, each_phase_of_an_interrupted_operation)
{
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const row_t *r = &ROWS[i];
        json_t *records = NULL, *from = NULL;
        char why[512];
        haresume_t got = haresume_read(r->record, &records, &from, why, sizeof why);
        cr_expect_eq(got, r->outcome, "%s: %s, want %s (%s)", r->what, haresume_str(got),
                     haresume_str(r->outcome), why);
        if (got == HARESUME_OPEN && r->outcome == HARESUME_OPEN) {
            cr_expect_str_eq(json_string_value(json_object_get(from, "manager")), "m1");
            decide(r, records);
        } else {
            cr_expect(strstr(why, r->why), "%s: \"%s\" should say \"%s\"", r->what, why, r->why);
            cr_expect_null(records, "%s", r->what);
        }
        json_decref(records);
        json_decref(from);
    }
}

/* A failover found open by a new leader: the old primary is dead. */
Test(haresume, a_failover_after_its_promotion_is_finished_while_its_old_primary_is_down)
{
    static const struct {
        const char *what;
        bool up1, ro1, ro2;
        resume_action_t want;
        const char *why;
    } rows[] = {
        {"old primary down, candidate writable", false, true, false, RESUME_AFTER_PROMOTION,
         "took effect"},
        {"old primary back and writable", true, false, false, RESUME_REFUSE,
         "db1 is writable again"},
        {"old primary down, candidate read-only", false, true, true, RESUME_REFUSE,
         "someone changed it"},
    };
    const char *rec = "{\"op\":\"op9\",\"kind\":\"failover\",\"type\":\"step\",\"step\":"
                      "\"hook:post_promotion\",\"old_primary\":\"db1\",\"candidate\":\"db2\","
                      "\"before\":[\"stop_io:db2\",\"fence:db1\",\"promote:db2\"]}";
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        json_t *records = NULL, *from = NULL;
        char why[512];
        cr_assert_eq(haresume_read(rec, &records, &from, why, sizeof why), HARESUME_OPEN);
        json_t *sum = fo_interrupted_summary(records);
        cluster_t c;
        build(&c, rows[i].ro2);
        c.nodes[0].last_ok.read_only = rows[i].ro1;
        if (!rows[i].up1) {
            observation_t d = {.at = 200, .error = xstrdup("refused")};
            node_observe(&c.nodes[0], &d);
        }
        resume_facts_t f = {.old_primary = 0, .candidate = 1, .failover = true,
                            .promotion = json_string_value(json_object_get(sum, "promotion"))};
        resume_action_t got = resume_decide(&c, &f, why, sizeof why);
        cr_expect_eq(got, rows[i].want, "%s: %s (%s)", rows[i].what, resume_action_str(got), why);
        cr_expect(strstr(why, rows[i].why), "%s: \"%s\"", rows[i].what, why);
        cluster_free(&c);
        json_decref(sum);
        json_decref(records);
        json_decref(from);
    }
}

Test(haresume, the_rest_of_a_failover_ends_with_post_failover)
{
    cluster_t c;
    build(&c, false);
    observation_t d = {.at = 200, .error = xstrdup("refused")};
    node_observe(&c.nodes[0], &d);
    plan_opts_t o = {.repl_user = "repl", .repl_password = "pw", .step_timeout_ms = 5000,
                     .verify_timeout_ms = 5000, .hook_timeout_ms = 5000};
    char err[256];
    plan_t *p = plan_op_resume(&c, 0, 1, POLICY_RELIABILITY, false, true, &o, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < p->n; i++)
        buf_printf(&b, "%s%s", i ? " " : "", p->steps[i].name);
    cr_expect_str_eq(buf_str(&b), "hook:post_promotion refresh hook:post_failover");
    cr_expect(strstr(p->summary, "interrupted failover"), "%s", p->summary);
    buf_free(&b);
    plan_free(p);
    cluster_free(&c);
}

Test(haresume, a_failover_record_names_its_candidate_by_an_election)
{
    json_t *records = NULL, *from = NULL;
    char why[256];
    const char *rec = "{\"op\":\"op9\",\"kind\":\"failover\",\"type\":\"step\",\"step\":"
                      "\"repoint:db3\",\"old_primary\":\"db1\",\"candidate\":\"db2\","
                      "\"before\":[\"stop_io:db2\",\"fence:db1\",\"promote:db2\"],\"term\":5,"
                      "\"manager\":\"m2\",\"at_ms\":1000}";
    cr_assert_eq(haresume_read(rec, &records, &from, why, sizeof why), HARESUME_OPEN, "%s", why);
    buf_t b = BUF_INIT;
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        const char *step = json_string_value(json_object_get(r, "step"));
        const char *chosen = json_string_value(json_object_get(r, "chosen"));
        buf_printf(&b, "%s%s%s%s", i ? " " : "", json_string_value(json_object_get(r, "type")),
                   step || chosen ? "=" : "", step ? step : chosen ? chosen : "");
    }
    cr_expect_str_eq(buf_str(&b), "begin elect=db2 step_done=stop_io:db2 step_done=fence:db1 "
                                  "step_done=promote:db2 step=repoint:db3");
    json_t *first = json_array_get(records, 0);
    cr_expect_str_eq(json_string_value(json_object_get(first, "old_primary")), "db1");
    cr_expect_str_eq(json_string_value(json_object_get(first, "kind")), "failover");
    buf_free(&b);
    json_decref(records);
    json_decref(from);
}
