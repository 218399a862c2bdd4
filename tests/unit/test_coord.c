/* Leadership through a real single-member etcd on 127.0.0.1 (skipped when
 * /usr/bin/etcd is not installed): the first manager leads, the second
 * follows and names it; only the leader's step guard passes, and it records
 * the step under <prefix><cluster>/failover; a leader that stops revokes its
 * lease and the follower leads at once, with a larger term; a guard asked of
 * a closed manager fails at once; a read of the operation record still out
 * when etcd is closed is answered once, as failed, when the manager is freed,
 * and nothing of it leaks.  Then the managers' verdict: two managers
 * publish and read each other's observation records; one cut off from the
 * primary while the other reaches it is partitioned, both cut off is
 * dead_confirmed, and the other's record gone (lease revoked) leaves no
 * quorum of observers.  The loop ends with no handle left open. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord.h"
#include "etcd.h"
#include "etcd_fixture.h"

static etcd_fixture_t fx;
static uv_loop_t loop;

static void start_etcd(void)
{
    etcd_fixture_start(&fx);
    uv_loop_init(&loop);
}

static void stop_etcd(void)
{
    etcd_fixture_stop(&fx);
}

/* Runs the loop until cond holds, for at most ms of wall time. */
static bool run_until(bool (*cond)(void *), void *arg, uint64_t ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;
    while (!cond(arg) && uv_hrtime() / 1000000 < end)
        uv_run(&loop, UV_RUN_ONCE);
    return cond(arg);
}

static bool is_leader(void *c) { return coord_role(c) == COORD_LEADER; }
static bool is_follower(void *c) { return coord_role(c) == COORD_FOLLOWER; }

typedef struct {
    bool done;
    int outcome;
    char msg[256];
} answer_t;

static void on_answer(void *token, int outcome, const char *msg)
{
    answer_t *a = token;
    a->done = true;
    a->outcome = outcome;
    snprintf(a->msg, sizeof a->msg, "%s", msg ? msg : "");
}

static bool answered(void *a) { return ((answer_t *)a)->done; }
static bool int_set(void *n) { return *(int *)n != 0; }

static coord_t *manager(const char *id)
{
    static char *eps[1];
    eps[0] = fx.endpoint;
    fo_coord_cfg_t cfg = {.mode = FO_COORD_ETCD,
                          .etcd_endpoints = {.items = eps, .n = 1},
                          .key_prefix = "/t/",
                          .manager_id = (char *)id,
                          .zone = "z",
                          .lease_ttl = 2,
                          .etcd_ca = "",
                          .etcd_cert = "",
                          .etcd_key = "",
                          .etcd_timeout_ms = 1000};
    return coord_create(&loop, &cfg, "/run/x.sock");
}

static json_t *leader_of(coord_t *c)
{
    json_t *st = coord_status_json(c);
    json_t *l = json_incref(json_object_get(st, "leader"));
    json_decref(st);
    return l;
}

Test(coord, lead_follow_guard_takeover, .init = start_etcd, .fini = stop_etcd, .timeout = 60)
{
    coord_t *a = manager("a");
    cr_assert(run_until(is_leader, a, 15000), "a leads");
    coord_t *b = manager("b");
    cr_assert(run_until(is_follower, b, 5000), "b follows");
    json_t *l = leader_of(b);
    cr_expect_str_eq(json_string_value(json_object_get(l, "id")), "a");
    cr_expect_str_eq(json_string_value(json_object_get(l, "control")), "/run/x.sock",
                     "a follower names the leader's control socket");
    int64_t term_a = json_integer_value(json_object_get(l, "term"));
    json_decref(l);
    cr_expect_null(coord_why_not(a));
    cr_expect(strstr(coord_why_not(b), "the leader is a"), "%s", coord_why_not(b));

    uint64_t bound = 60000;
    answer_t ga = {0}, gb = {0};
    coord_step_guard(a, "main", json_pack("{s:s}", "step", "promote:db2"), true, &bound, on_answer,
                     &ga);
    coord_step_guard(b, "main", json_pack("{s:s}", "step", "promote:db3"), true, NULL, on_answer,
                     &gb);
    cr_assert(run_until(answered, &ga, 5000) && gb.done);
    cr_expect_eq(ga.outcome, 0, "the leader's guard passes: %s", ga.msg);
    cr_expect(bound < 2000, "a mutating step is bounded by the lease validity: %llu",
              (unsigned long long)bound);
    cr_expect_neq(gb.outcome, 0, "a follower's guard fails");

    coord_close(a); /* revokes the lease: b leads at once */
    cr_assert(run_until(is_leader, b, 5000), "b leads after a stopped");
    l = leader_of(b);
    cr_expect_gt(json_integer_value(json_object_get(l, "term")), term_a, "a larger term");
    json_decref(l);
    answer_t gc = {0};
    coord_step_guard(a, "main", json_pack("{s:s}", "step", "x"), false, NULL, on_answer, &gc);
    cr_expect(gc.done && gc.outcome != 0, "a closed manager's guard fails at once");
    coord_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    coord_free(b);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

Test(coord, stopping_with_a_guard_in_flight, .init = start_etcd, .fini = stop_etcd, .timeout = 60)
{
    /* A leader stops while its guards' etcd requests are out (the daemon
     * stopping right after it published the primary): each guard is
     * answered once, as failed, and nothing it held is touched after (this
     * test under ASan is the proof). */
    coord_t *a = manager("a");
    cr_assert(run_until(is_leader, a, 15000), "a leads");
    answer_t g1 = {0};
    coord_step_guard(a, "main", json_pack("{s:s}", "step", "promote:db2"), true, NULL, on_answer,
                     &g1);
    coord_publish_primary(a, "main", "10.0.0.2", 3306);
    coord_close(a);
    cr_expect(g1.done && g1.outcome != 0, "the guard fails: %s", g1.msg);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

typedef struct {
    int *answers;
    bool ok;
} read_token_t;

static void on_read(void *token, bool ok, const char *value, const char *err)
{
    read_token_t *t = token;
    (void)value, (void)err;
    (*t->answers)++;
    t->ok = ok;
    free(t); /* the token is the reader's: freed by the answer, as the daemon's is */
}

Test(coord, stopping_with_a_read_in_flight, .init = start_etcd, .fini = stop_etcd, .timeout = 60)
{
    /* A read of the operation record is still out when the manager stops
     * and closes etcd (the daemon stopping right as it became leader): the
     * read is answered once, as failed, when the manager is freed, and
     * neither it nor its token leaks (LSan under ASan is the proof). */
    int answers = 0;
    coord_t *a = manager("a");
    read_token_t *t = calloc(1, sizeof *t);
    t->answers = &answers;
    coord_read_failover(a, "main", on_read, t);
    coord_close(a); /* no lease yet: etcd is closed at once, the read still queued */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(answers, 0, "etcd answers nothing once closed");
    coord_free(a);
    cr_expect_eq(answers, 1, "the read is answered once, when the manager is freed");

    /* A read etcd answers is answered once, and not again at coord_free. */
    answers = 0;
    coord_t *b = manager("b");
    cr_assert(run_until(is_leader, b, 15000), "b leads");
    t = calloc(1, sizeof *t);
    t->answers = &answers;
    coord_read_failover(b, "main", on_read, t);
    int *n = &answers;
    cr_assert(run_until(int_set, n, 5000), "etcd answers the read");
    coord_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(b);
    cr_expect_eq(answers, 1, "answered once");
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

/* ---- the managers' verdict (coord_vantage.c) ------------------------------------------ */

static coord_t *voter(const char *id)
{
    static char *eps[1];
    static char *ids[] = {"m1", "m2"};
    eps[0] = fx.endpoint;
    fo_coord_cfg_t cfg = {.mode = FO_COORD_ETCD,
                          .etcd_endpoints = {.items = eps, .n = 1},
                          .key_prefix = "/v/",
                          .manager_id = (char *)id,
                          .zone = "z",
                          .lease_ttl = 2,
                          .etcd_ca = "",
                          .etcd_cert = "",
                          .etcd_key = "",
                          .etcd_timeout_ms = 1000,
                          .managers = {.items = ids, .n = 2},
                          .verdict_quorum = "majority"};
    return coord_create(&loop, &cfg, "/run/x.sock");
}

/* A cluster main with db1 the primary and db2, as one manager sees it. */
static void cluster_init(cluster_t *c)
{
    memset(c, 0, sizeof *c);
    c->name = strdup("main");
    c->n_nodes = 2;
    c->nodes = calloc(2, sizeof *c->nodes);
    node_init(&c->nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    node_init(&c->nodes[1], "db2", "10.0.0.2", 3306, RULE_NEUTRAL);
    c->primary = 0;
    for (size_t i = 0; i < 2; i++)
        c->nodes[i].probed = c->nodes[i].up = true;
}

static void lose(node_t *n, uint64_t now)
{
    n->up = false;
    n->failures = 3;
    n->fail_since = now - 5000;
    free(n->last_error);
    n->last_error = strdup("Can't connect to server (timed out)");
}

typedef struct {
    coord_t *a, *b;
    cluster_t *ca, *cb;
    quorum_verdict_t want; /* a's verdict awaited */
} vtest_t;

static bool a_says(void *arg)
{
    vtest_t *t = arg;
    detect_params_t dp = {.down_after = 1000, .replica_confirm = 3000};
    uint64_t now = uv_now(&loop);
    if (t->b)
        coord_vantage(t->b, t->cb, &dp, now);
    return coord_vantage(t->a, t->ca, &dp, now) == t->want;
}

Test(coord, vantage_records_and_votes, .init = start_etcd, .fini = stop_etcd, .timeout = 60)
{
    coord_t *a = voter("m1"), *b = voter("m2");
    cr_assert(coord_vantage_on(a));
    cluster_t ca, cb;
    cluster_init(&ca);
    cluster_init(&cb);
    uv_update_time(&loop);
    lose(&ca.nodes[0], uv_now(&loop));
    vtest_t t = {.a = a, .b = b, .ca = &ca, .cb = &cb, .want = QUORUM_PARTITIONED};
    cr_assert(run_until(a_says, &t, 20000), "m1 cut off while m2 reaches db1: %s",
              ca.vantage.why);
    cr_expect_eq(ca.vantage.votes[1].vote, VOTE_REACHABLE, "m2's record: %s",
                 ca.vantage.votes[1].why);
    lose(&cb.nodes[0], uv_now(&loop));
    t.want = QUORUM_DEAD_CONFIRMED;
    cr_assert(run_until(a_says, &t, 10000), "both can't reach db1: %s", ca.vantage.why);
    coord_close(b); /* its lease revoked: its record goes */
    t.b = NULL;
    t.want = QUORUM_NO_OBSERVERS;
    cr_assert(run_until(a_says, &t, 10000), "m2's record gone: %s", ca.vantage.why);
    cr_expect_eq(ca.vantage.votes[1].vote, VOTE_MISSING, "%s", ca.vantage.votes[1].why);
    coord_close(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    coord_free(b);
    cluster_free(&ca);
    cluster_free(&cb);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}
