/* The cluster state the managers share through etcd (hastate.h): what is
 * written reads back the same; hostile records are rejected as a whole with
 * one sentence saying why, never half read. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "hastate.h"

static char *text_of(const hastate_t *s)
{
    json_t *j = hastate_to_json(s);
    char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return t;
}

Test(hastate, round_trip_full)
{
    hastate_t s = {.cluster = "main", .paused = true, .paused_by = "uid 0 on m1",
                   .paused_at_ms = 1795474201123ULL, .held = "the journal is damaged",
                   .held_by = "m1", .held_at_ms = 1795474202000ULL, .has_last = true,
                   .last_op = "19a3f-7", .last_ended_ms = 1795474100000ULL,
                   .last_old = "db1", .last_new = "db2", .last_acked = false,
                   .written_ms = 1795474203000ULL, .term = 42, .manager = "m1"};
    char *t = text_of(&s);
    hastate_t r;
    char why[256];
    cr_assert(hastate_parse(t, &r, why, sizeof why), "%s", why);
    cr_expect_str_eq(r.cluster, "main");
    cr_expect(r.paused);
    cr_expect_str_eq(r.paused_by, "uid 0 on m1");
    cr_expect_eq(r.paused_at_ms, 1795474201123ULL);
    cr_expect_str_eq(r.held, "the journal is damaged");
    cr_expect_str_eq(r.held_by, "m1");
    cr_expect(r.has_last);
    cr_expect_str_eq(r.last_op, "19a3f-7");
    cr_expect_eq(r.last_ended_ms, 1795474100000ULL);
    cr_expect_str_eq(r.last_old, "db1");
    cr_expect_str_eq(r.last_new, "db2");
    cr_expect(!r.last_acked);
    cr_expect_eq(r.term, 42);
    cr_expect_str_eq(r.manager, "m1");
    cr_expect_eq(hastate_blocked_until(&r, 60000), 1795474160000ULL);
    hastate_t c;
    hastate_copy(&c, &r);
    char *t2 = text_of(&c);
    cr_expect_str_eq(t2, t);
    free(t2);
    hastate_free(&c);
    hastate_free(&r);
    free(t);
}

Test(hastate, round_trip_empty)
{
    hastate_t s = {.cluster = "main"};
    char *t = text_of(&s);
    hastate_t r;
    char why[256];
    cr_assert(hastate_parse(t, &r, why, sizeof why), "%s", why);
    cr_expect(!r.paused);
    cr_expect_null(r.held);
    cr_expect(!r.has_last);
    cr_expect_eq(hastate_blocked_until(&r, 60000), 0);
    hastate_free(&r);
    free(t);
}

Test(hastate, block_lifted_by_ack)
{
    hastate_t s = {.has_last = true, .last_op = "x", .last_ended_ms = 1000, .last_acked = true};
    cr_expect_eq(hastate_blocked_until(&s, 60000), 0);
    s.last_acked = false;
    cr_expect_eq(hastate_blocked_until(&s, 60000), 61000);
}

/* Members this version does not know are ignored: a newer manager may add. */
Test(hastate, unknown_members_ignored)
{
    hastate_t r;
    char why[256];
    cr_assert(hastate_parse("{\"v\":1,\"paused\":false,\"future\":{\"x\":[1,2]}}", &r, why,
                            sizeof why),
              "%s", why);
    hastate_free(&r);
}

static const struct {
    const char *text;
    const char *why; /* a part of the reason */
} bad[] = {
    {"", "not valid JSON"},
    {"{\"v\":1,", "not valid JSON"},
    {"[1,2]", "not a JSON object"},
    {"\"paused\"", "not valid JSON"},
    {"{\"paused\":true}", "version"},
    {"{\"v\":2,\"paused\":true}", "version"},
    {"{\"v\":\"1\",\"paused\":true}", "version"},
    {"{\"v\":1}", "paused: must be true or false"},
    {"{\"v\":1,\"paused\":\"yes\"}", "paused: must be true or false"},
    {"{\"v\":1,\"paused\":true,\"paused\":false}", "not valid JSON"},
    {"{\"v\":1,\"paused\":true,\"paused_by\":7}", "paused_by: must be text"},
    {"{\"v\":1,\"paused\":true,\"paused_at_ms\":-5}", "paused_at_ms: must be a non-negative"},
    {"{\"v\":1,\"paused\":false,\"held\":\"yes\"}", "held: must be an object or null"},
    {"{\"v\":1,\"paused\":false,\"held\":{}}", "held.reason: a hold must say why"},
    {"{\"v\":1,\"paused\":false,\"held\":{\"reason\":3}}", "held.reason: must be text"},
    {"{\"v\":1,\"paused\":false,\"held\":{\"reason\":\"x\",\"at_ms\":1.5}}", "held.at_ms"},
    {"{\"v\":1,\"paused\":false,\"last_failover\":[]}", "last_failover: must be an object"},
    {"{\"v\":1,\"paused\":false,\"last_failover\":{}}", "needs an \"op\" and an \"ended_ms\""},
    {"{\"v\":1,\"paused\":false,\"last_failover\":{\"op\":\"a\"}}", "needs an \"op\""},
    {"{\"v\":1,\"paused\":false,\"last_failover\":{\"op\":\"\",\"ended_ms\":5}}", "needs an"},
    {"{\"v\":1,\"paused\":false,\"last_failover\":{\"op\":\"a\",\"ended_ms\":\"5\"}}",
     "last_failover.ended_ms: must be a non-negative integer"},
    {"{\"v\":1,\"paused\":false,\"last_failover\":{\"op\":\"a\",\"ended_ms\":5,\"acked\":1}}",
     "last_failover.acked: must be true or false"},
    {"{\"v\":1,\"paused\":false,\"last_failover\":{\"op\":\"a\",\"ended_ms\":5,"
     "\"new_primary\":[]}}",
     "last_failover.new_primary: must be text"},
    {"{\"v\":1,\"paused\":false,\"term\":\"42\"}", "term: must be a non-negative integer"},
    {"{\"v\":1,\"paused\":false,\"manager\":false}", "manager: must be text"},
};

Test(hastate, hostile_records_rejected)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hastate_t r;
        char why[256] = "";
        bool ok = hastate_parse(bad[i].text, &r, why, sizeof why);
        cr_expect(!ok, "accepted: %s", bad[i].text);
        cr_expect(strstr(why, bad[i].why) != NULL, "%s: reason \"%s\" lacks \"%s\"", bad[i].text,
                  why, bad[i].why);
        /* Rejected as a whole: nothing half read. */
        cr_expect(!r.paused && !r.held && !r.has_last && !r.cluster && !r.manager, "%s",
                  bad[i].text);
        hastate_free(&r);
    }
}

Test(hastate, absent_and_oversized)
{
    hastate_t r;
    char why[256];
    cr_expect(!hastate_parse(NULL, &r, why, sizeof why));
    cr_expect(strstr(why, "no record") != NULL, "%s", why);
    size_t n = HASTATE_MAX_BYTES + 64;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"v\":1,\"paused\":false}", 22);
    big[n] = '\0';
    cr_expect(!hastate_parse(big, &r, why, sizeof why));
    cr_expect(strstr(why, "larger than") != NULL, "%s", why);
    free(big);
}
