/* The verdict from several vantage points (quorum.h), its combination with
 * the detector's (detect_combine), and how status shows it. Times in ms; the
 * reader's monotonic now is 100000 unless a row says otherwise. */
#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"
#include "ctlrender.h"
#include "quorum.h"
#include "status.h"

#define NOW 100000
#define FRESH 2000
#define DOWN_AFTER 1000

/* A record from manager m about cluster main, published at wall time pub,
 * whose only node db1 has the fields node. */
#define REC_AT(m, pub, node)                                                                       \
    "{\"v\":1,\"manager\":\"" m "\",\"zone\":\"z-" m "\",\"cluster\":\"main\",\"seq\":7,"          \
    "\"published_at\":" pub ",\"primary\":\"db1\",\"nodes\":[{\"name\":\"db1\"," node "}]}"
#define WALL "1795474201123"
#define WALL_PLUS_1H "1795477801123"
#define WALL_MINUS_1H "1795470601123"
#define SEES "\"reachable\":true,\"since_ms\":60000"
#define LOST(ms) "\"reachable\":false,\"since_ms\":" #ms ",\"error\":\"timeout\""
#define UP(m) REC_AT(m, WALL, SEES)
#define DOWN(m) REC_AT(m, WALL, LOST(5000))

typedef struct {
    const char *id;   /* the key it was filed under */
    const char *text; /* as received */
    uint64_t received_at;
} peer_t;

typedef struct {
    const char *rule;
    const char *quorum; /* "majority" or a number */
    size_t n;           /* managers m1..mN; this one is m1 */
    quorum_self_t self;
    peer_t peers[5];
    const char *primary;
    quorum_verdict_t want;
    const char *votes; /* per manager: U unreachable, ? unsure, R reachable, S stale, M missing */
    const char *why_contains;
} row_t;

#define SELF_DOWN {.probed = true, .reachable = false, .unreached_ms = 5000, .error = OBS_ERR_TIMEOUT}
#define SELF_UP {.probed = true, .reachable = true}

static const row_t rows[] = {
    {"every manager reaches the primary", "majority", 3, SELF_UP,
     {{"m2", UP("m2"), NOW - 300}, {"m3", UP("m3"), NOW - 900}}, "db1", QUORUM_REACHABLE, "RRR",
     "this manager (m1) reaches db1"},
    {"the primary cut off from this manager only: no failover, and who sees it", "majority", 3,
     SELF_DOWN, {{"m2", UP("m2"), NOW - 300}, {"m3", UP("m3"), NOW - 900}}, "db1",
     QUORUM_PARTITIONED, "URR", "but m2, m3 reach it"},
    {"the primary dead with one manager down: 2 of 3 fresh, both unreachable", "majority", 3,
     SELF_DOWN, {{"m2", DOWN("m2"), NOW - 500}}, "db1", QUORUM_DEAD_CONFIRMED, "UUM",
     "2 of 3 managers can't reach db1 (quorum 2): m1, m2"},
    {"etcd serves stale data: all peer records old, no quorum of observers", "majority", 3,
     SELF_DOWN, {{"m2", DOWN("m2"), NOW - 10000}, {"m3", DOWN("m3"), NOW - 10000}}, "db1",
     QUORUM_NO_OBSERVERS, "USS", "only 1 of 3 managers have a fresh view of db1 (quorum 2); stale: m2, m3"},
    {"publishers' clocks an hour off: freshness by receive time, unaffected", "majority", 3,
     SELF_DOWN,
     {{"m2", REC_AT("m2", WALL_PLUS_1H, LOST(5000)), NOW - 100},
      {"m3", REC_AT("m3", WALL_MINUS_1H, LOST(5000)), NOW - 100}},
     "db1", QUORUM_DEAD_CONFIRMED, "UUU", "3 of 3"},
    {"a manager publishing garbage is missing, not a vote", "majority", 3, SELF_DOWN,
     {{"m2", "{\"v\":1,\"manager\":\"m2\",\"dead\":", NOW - 100}, {"m3", DOWN("m3"), NOW - 9000}},
     "db1", QUORUM_NO_OBSERVERS, "UMS", "missing: m2"},
    {"garbage claiming the primary down is not a vote either", "majority", 3, SELF_DOWN,
     {{"m2", REC_AT("m2", WALL, "\"reachable\":\"no\",\"since_ms\":5000"), NOW - 100},
      {"m3", UP("m3"), NOW - 100}},
     "db1", QUORUM_PARTITIONED, "UMR", "but m3 reaches it"},
    {"garbage does not stop a quorum the others make", "majority", 3, SELF_DOWN,
     {{"m2", "not json", NOW - 100}, {"m3", DOWN("m3"), NOW - 100}}, "db1",
     QUORUM_DEAD_CONFIRMED, "UMU", "m1, m3"},
    {"quorum 1: this manager's view alone decides", "1", 3, SELF_DOWN, {{0}}, "db1",
     QUORUM_DEAD_CONFIRMED, "UMM", "1 of 3"},
    {"quorum 1: peers that can't reach it do not outvote this manager reaching it", "1", 3,
     SELF_UP, {{"m2", DOWN("m2"), NOW - 100}}, "db1", QUORUM_REACHABLE, "RUM", "reaches db1"},
    {"this manager reaching the primary is never dead, even against a majority", "majority", 3,
     SELF_UP, {{"m2", DOWN("m2"), NOW - 100}, {"m3", DOWN("m3"), NOW - 100}}, "db1",
     QUORUM_REACHABLE, "RUU", "this manager (m1) reaches db1"},
    {"quorum 3 of 3 with one peer seeing it: not confirmed", "3", 3, SELF_DOWN,
     {{"m2", DOWN("m2"), NOW - 100}, {"m3", UP("m3"), NOW - 100}}, "db1", QUORUM_NOT_CONFIRMED,
     "UUR", "2 of 3 managers can't reach db1 (quorum 3): m1, m2; reach it: m3"},
    {"a peer unreachable for less than down_after is unsure, not a vote", "majority", 3,
     SELF_DOWN, {{"m2", REC_AT("m2", WALL, LOST(300)), NOW - 100}, {"m3", DOWN("m3"), NOW - 5000}},
     "db1", QUORUM_NOT_CONFIRMED, "U?S", "1 of 3"},
    {"this manager failing for less than down_after still counts as reaching", "majority", 3,
     {.probed = true, .reachable = false, .unreached_ms = 400, .error = OBS_ERR_TIMEOUT},
     {{"m2", UP("m2"), NOW - 100}}, "db1", QUORUM_REACHABLE, "?RM", "for only 400 ms"},
    {"this manager before its first probe: the peers can still confirm", "majority", 3,
     {.probed = false}, {{"m2", DOWN("m2"), NOW - 100}, {"m3", DOWN("m3"), NOW - 100}}, "db1",
     QUORUM_DEAD_CONFIRMED, "MUU", "m2, m3"},
    {"a record filed under another manager's key is missing", "majority", 3, SELF_DOWN,
     {{"m2", DOWN("m3"), NOW - 100}}, "db1", QUORUM_NO_OBSERVERS, "UMM",
     "missing: m2, m3"},
    {"a record about another cluster is missing", "majority", 3, SELF_DOWN,
     {{"m2", "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"other\",\"seq\":1,\"published_at\":1,"
             "\"nodes\":[{\"name\":\"db1\"," LOST(5000) "}]}",
       NOW - 100}},
     "db1", QUORUM_NO_OBSERVERS, "UMM", "quorum 2"},
    {"a record that says nothing of the primary is missing", "majority", 3, SELF_DOWN,
     {{"m2", "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":1,\"published_at\":1,"
             "\"nodes\":[]}",
       NOW - 100}},
     "db1", QUORUM_NO_OBSERVERS, "UMM", "missing: m2, m3"},
    {"records from managers not configured are ignored", "majority", 3, SELF_DOWN,
     {{"m9", DOWN("m9"), NOW - 100}, {"m8", DOWN("m8"), NOW - 100}}, "db1", QUORUM_NO_OBSERVERS,
     "UMM", "only 1 of 3"},
    {"five managers: two can't reach it, one can, two silent", "majority", 5, SELF_DOWN,
     {{"m2", DOWN("m2"), NOW - 100}, {"m3", UP("m3"), NOW - 100}, {"m4", DOWN("m4"), NOW - 3000}},
     "db1", QUORUM_NOT_CONFIRMED, "UURSM", "2 of 5 managers can't reach db1 (quorum 3)"},
    {"five managers: the only fresh peer sees it", "majority", 5, SELF_DOWN,
     {{"m2", UP("m2"), NOW - 100}}, "db1", QUORUM_PARTITIONED, "URMMM", "but m2 reaches it"},
    {"a record exactly fresh_ms old is still fresh", "majority", 3, SELF_DOWN,
     {{"m2", DOWN("m2"), NOW - FRESH}}, "db1", QUORUM_DEAD_CONFIRMED, "UUM", "m1, m2"},
    {"a record received 'after now' (the same tick) is fresh", "majority", 3, SELF_DOWN,
     {{"m2", DOWN("m2"), NOW + 5}}, "db1", QUORUM_DEAD_CONFIRMED, "UUM", "m1, m2"},
    {"the latest of two copies of a manager's record counts", "majority", 3, SELF_DOWN,
     {{"m2", UP("m2"), NOW - 5000}, {"m2", DOWN("m2"), NOW - 100}}, "db1",
     QUORUM_DEAD_CONFIRMED, "UUM", "m1, m2"},
    {"one manager on its own: majority is itself", "majority", 1, SELF_DOWN, {{0}}, "db1",
     QUORUM_DEAD_CONFIRMED, "U", "1 of 1"},
    {"no primary: nothing to judge", "majority", 3, SELF_DOWN, {{"m2", DOWN("m2"), NOW}}, NULL,
     QUORUM_NO_PRIMARY, "MMM", "no primary"},
};

static const char *const IDS[] = {"m1", "m2", "m3", "m4", "m5"};

static char vote_letter(vote_t v)
{
    return "U?RSM"[v];
}

/* Decodes the row's records as a reader would, then evaluates. */
static void evaluate(const row_t *row, quorum_result_t *res, uint64_t now)
{
    obsrec_t recs[5];
    char errs[5][OBSREC_ERR_SIZE];
    quorum_obs_t obs[5];
    size_t n = 0;
    for (; n < 5 && row->peers[n].id; n++) {
        const peer_t *p = &row->peers[n];
        bool ok = obsrec_decode(p->text, strlen(p->text), &recs[n], errs[n], sizeof errs[n]);
        obs[n] = (quorum_obs_t){.manager = p->id, .rec = ok ? &recs[n] : NULL,
                                .rejected = ok ? NULL : errs[n], .received_at = p->received_at};
    }
    quorum_input_t in = {.managers = IDS, .n_managers = row->n, .self = "m1",
                         .fresh_ms = FRESH, .down_after = DOWN_AFTER, .cluster = "main",
                         .primary = row->primary, .self_view = row->self, .obs = obs, .n_obs = n};
    char err[160];
    cr_assert(quorum_rule_parse(row->quorum, &in.rule, err, sizeof err), "%s", err);
    cr_assert(quorum_evaluate(&in, now, res, err, sizeof err), "%s: %s", row->rule, err);
    for (size_t i = 0; i < n; i++)
        obsrec_free(&recs[i]);
}

static void check_row(const row_t *row)
{
    quorum_result_t res;
    evaluate(row, &res, NOW);
    char got[8] = "";
    for (size_t i = 0; i < res.n_votes && i < 7; i++)
        got[i] = vote_letter(res.votes[i].vote);
    cr_expect_eq(res.verdict, row->want, "%s: got %s, want %s (%s)", row->rule,
                 quorum_verdict_str(res.verdict), quorum_verdict_str(row->want), res.why);
    cr_expect_str_eq(got, row->votes, "%s: votes %s, want %s (%s)", row->rule, got, row->votes,
                     res.why);
    cr_expect_not_null(strstr(res.why, row->why_contains), "%s: reason \"%s\" lacks \"%s\"",
                       row->rule, res.why, row->why_contains);
    unsigned total = 0;
    for (int k = 0; k < VOTE_KINDS; k++)
        total += res.count[k];
    cr_expect_eq(total, row->n, "%s: every manager has one vote", row->rule);
}

Test(quorum, rules)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_row(&rows[i]);
}

Test(quorum, each_vote_says_why)
{
    quorum_result_t res;
    evaluate(&rows[5], &res, NOW); /* m2 garbage, m3 stale */
    cr_assert_str_eq(res.votes[0].why, "can't reach db1 for 5.0 s (timeout)");
    cr_assert(res.votes[0].self);
    cr_assert_str_eq(res.votes[0].zone, "");
    cr_assert_not_null(strstr(res.votes[1].why, "record rejected: the record is not valid JSON"),
                       "%s", res.votes[1].why);
    cr_assert_str_eq(res.votes[2].why, "its latest record arrived 9.0 s ago (fresh within 2.0 s)");
    cr_assert_eq(res.votes[2].age_ms, 9000);
    cr_assert_str_eq(res.votes[2].zone, "z-m3");
    cr_assert_eq(res.votes[2].state_ms, -1);
}

/* etcd answering with an old copy (a lagging member, a re-read after a
 * reconnect) must not make a record fresh again: freshness counts from when
 * a revision first arrived. */
Test(quorum, a_revision_seen_before_does_not_refresh)
{
    quorum_seen_t s = {0};
    cr_assert_eq(quorum_seen_note(&s, 10, 1000), 1000);
    cr_assert_eq(quorum_seen_note(&s, 10, 5000), 1000, "the same revision read again");
    cr_assert_eq(quorum_seen_note(&s, 9, 6000), 1000, "an older revision");
    cr_assert_eq(quorum_seen_note(&s, 11, 7000), 7000, "a new write");

    /* Fed to the verdict: the peers' records are 6 s old though just re-read. */
    quorum_seen_t m2 = {0}, m3 = {0};
    quorum_seen_note(&m2, 40, NOW - 6000);
    quorum_seen_note(&m3, 41, NOW - 6000);
    row_t row = {"stale etcd", "majority", 3, SELF_DOWN,
                 {{"m2", DOWN("m2"), quorum_seen_note(&m2, 40, NOW)},
                  {"m3", DOWN("m3"), quorum_seen_note(&m3, 41, NOW)}},
                 "db1", QUORUM_NO_OBSERVERS, "USS", "stale: m2, m3"};
    check_row(&row);
}

Test(quorum, rule_parsing_and_bad_input)
{
    quorum_rule_t r;
    char err[160];
    cr_assert(quorum_rule_parse("majority", &r, err, sizeof err));
    cr_assert_eq(r.k, 0);
    cr_assert_eq(quorum_needed(r, 3), 2);
    cr_assert_eq(quorum_needed(r, 4), 3);
    cr_assert_eq(quorum_needed(r, 5), 3);
    cr_assert(quorum_rule_parse("1", &r, err, sizeof err));
    cr_assert_eq(quorum_needed(r, 3), 1);
    cr_assert(quorum_rule_parse("16", &r, err, sizeof err));
    static const char *const bad[] = {"0", "17", "2x", "", "-1", " 2", "Majority", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_not(quorum_rule_parse(bad[i], &r, err, sizeof err), "'%s'", bad[i]);
        cr_assert_not_null(strstr(err, "must be \"majority\" or a number of managers from 1 to 16"),
                           "%s", err);
    }
    cr_assert_not(quorum_rule_parse(NULL, &r, err, sizeof err));
    r.k = 4;
    cr_assert_not(quorum_rule_check(r, 3, err, sizeof err));
    cr_assert_str_eq(err, "quorum 4 is more than the 3 managers configured");

    quorum_result_t res;
    const char *dup[] = {"m1", "m2", "m1"};
    quorum_input_t in = {.managers = dup, .n_managers = 3, .self = "m1", .primary = "db1"};
    cr_assert_not(quorum_evaluate(&in, NOW, &res, err, sizeof err));
    cr_assert_str_eq(err, "manager m1 is listed twice");
    in.managers = IDS;
    in.self = "m7";
    cr_assert_not(quorum_evaluate(&in, NOW, &res, err, sizeof err));
    cr_assert_str_eq(err, "this manager (m7) is not among the managers");
    in.self = "m1";
    in.n_managers = 0;
    cr_assert_not(quorum_evaluate(&in, NOW, &res, err, sizeof err));
    cr_assert_str_eq(err, "0 managers: there must be 1 to 16");
    in.n_managers = 3;
    in.rule.k = 4;
    cr_assert_not(quorum_evaluate(&in, NOW, &res, err, sizeof err));
    cr_assert_str_eq(err, "quorum 4 is more than the 3 managers configured");
}

/* ---- the final verdict: the detector's and the quorum's ---- */

Test(quorum, combine_covers_every_pair)
{
    static const verdict_t H = VERDICT_HEALTHY, S = VERDICT_SUSPECT, U = VERDICT_UNREACHABLE,
                           D = VERDICT_DEAD;
    /* Rows: the detector's verdict; columns: no_primary, reachable,
     * not_confirmed, no_quorum_of_observers, partitioned_from_leader,
     * dead_confirmed. */
    static const verdict_t want[4][QUORUM_VERDICTS] = {
        [VERDICT_HEALTHY] = {H, H, H, H, H, H},
        [VERDICT_SUSPECT] = {S, S, S, S, S, S},
        [VERDICT_UNREACHABLE] = {U, U, U, U, U, U},
        [VERDICT_DEAD] = {S, S, S, S, U, D},
    };
    for (int d = VERDICT_HEALTHY; d <= VERDICT_DEAD; d++)
        for (int q = 0; q < QUORUM_VERDICTS; q++) {
            char why[256] = "";
            verdict_t got = detect_combine((verdict_t)d, (quorum_verdict_t)q, why, sizeof why);
            cr_expect_eq(got, want[d][q], "detector %s + quorum %s: got %s, want %s",
                         verdict_str((verdict_t)d), quorum_verdict_str((quorum_verdict_t)q),
                         verdict_str(got), verdict_str(want[d][q]));
            /* The quorum explains itself whenever it held a dead back. */
            if (d == VERDICT_DEAD && q != QUORUM_DEAD_CONFIRMED)
                cr_expect(why[0] != '\0', "%s: no reason", quorum_verdict_str((quorum_verdict_t)q));
            cr_expect_str_neq((char *)quorum_verdict_str((quorum_verdict_t)q), "?");
        }
}

/* ---- status: the model with three managers' views, as JSON and as text ---- */

static cluster_t three_node_cluster(void)
{
    cluster_t c = {.name = xstrdup("main"), .primary = -1};
    c.n_nodes = 2;
    c.nodes = xcalloc(2, sizeof *c.nodes);
    node_init(&c.nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    node_init(&c.nodes[1], "db2", "10.0.0.2", 3306, RULE_NEUTRAL);
    observation_t p = {.at = 1000, .ok = true, .family = FAMILY_MARIADB, .server_id = 1,
                       .super_read_only = -1, .gtid_executed = xstrdup("0-1-42")};
    node_observe(&c.nodes[0], &p);
    cluster_infer_topology(&c);
    return c;
}

static char *render(const cluster_t *c, json_t **json)
{
    status_clock_t clk = {.now_mono = 2000, .now_wall = 1795474201123ULL};
    json_t *j = status_cluster_json(c, &clk);
    json_t *result = json_pack("{s:[O]}", "clusters", j);
    buf_t b = BUF_INIT;
    ctlrender_status(&b, result);
    json_decref(result);
    *json = j;
    return buf_steal(&b);
}

Test(quorum, status_shows_who_sees_the_primary)
{
    cluster_t c = three_node_cluster();
    row_t row = rows[1]; /* cut off from this manager only */
    row.self.zone = "z-m1";
    evaluate(&row, &c.vantage, NOW);
    json_t *j;
    char *t = render(&c, &j);

    json_t *v = json_object_get(j, "vantage");
    cr_assert(json_is_object(v));
    cr_assert_str_eq(json_string_value(json_object_get(v, "verdict")), "partitioned_from_leader");
    cr_assert_eq(json_integer_value(json_object_get(v, "quorum")), 2);
    cr_assert_eq(json_integer_value(json_object_get(v, "managers_configured")), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(v, "votes"), "reachable")), 2);
    json_t *m = json_object_get(v, "managers");
    cr_assert_eq(json_array_size(m), 3);
    json_t *m1 = json_array_get(m, 0), *m3 = json_array_get(m, 2);
    cr_assert(json_is_true(json_object_get(m1, "self")));
    cr_assert_str_eq(json_string_value(json_object_get(m1, "vote")), "unreachable");
    cr_assert_eq(json_integer_value(json_object_get(m1, "state_ms")), 5000);
    cr_assert_str_eq(json_string_value(json_object_get(m3, "vote")), "reachable");
    cr_assert_str_eq(json_string_value(json_object_get(m3, "zone")), "z-m3");
    cr_assert_eq(json_integer_value(json_object_get(m3, "age_ms")), 900);

    cr_assert_not_null(strstr(t, "\n  managers: partitioned_from_leader (quorum 2 of 3): this "
                                 "manager (m1) can't\n"),
                       "%s", t);
    cr_assert_not_null(strstr(t, "but m2, m3 reach it: it is cut off from the primary; no"), "%s",
                       t);
    cr_assert_not_null(strstr(t, "\n    m1 (this manager, zone z-m1): unreachable: can't reach db1 "
                                 "for 5.0 s\n"),
                       "%s", t);
    cr_assert_not_null(strstr(t, "\n    m2 (zone z-m2, record 0.3s old): reachable: reaches db1\n"),
                       "%s", t);
    cr_assert_not_null(strstr(t, "\n    m3 (zone z-m3, record 0.9s old): reachable: reaches db1\n"),
                       "%s", t);
    for (char *line = t; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        size_t len = strchr(line, '\n') ? (size_t)(strchr(line, '\n') - line) : strlen(line);
        cr_assert_leq(len, 80, "%.*s", (int)len, line);
    }
    free(t);
    json_decref(j);

    /* A stale peer and one that published garbage. */
    evaluate(&rows[5], &c.vantage, NOW);
    t = render(&c, &j);
    cr_assert_not_null(strstr(t, "    m2 (record 0.1s old): missing: record rejected: the record is not valid"),
                       "%s", t);
    cr_assert_not_null(strstr(t, "    m3 (zone z-m3, record 9.0s old): stale: its latest record "
                                 "arrived 9.0 s ago"),
                       "%s", t);
    free(t);
    json_decref(j);
    cluster_free(&c);
}

Test(quorum, a_manager_on_its_own_shows_nothing_new)
{
    cluster_t c = three_node_cluster();
    json_t *j;
    char *t = render(&c, &j);
    cr_assert_null(json_object_get(j, "vantage"));
    cr_assert_null(strstr(t, "managers:"), "%s", t);
    free(t);
    json_decref(j);
    cluster_free(&c);
}
