/* The detector's rules, one row each (see detect.h). Times are in ms. */
#include <criterion/criterion.h>
#include <string.h>

#include "detect.h"

#define MAXR 3
typedef struct {
    const char *rule;
    bool primary_ok;
    uint64_t fail_since;
    uint64_t suspect_at; /* detector memory from an earlier step (0: none) */
    verdict_t before;
    size_t n;
    detect_replica_t r[MAXR];
    uint64_t stalled_until;
    uint64_t now;
    verdict_t want;
    const char *why_contains;
} row_t;

static const detect_params_t P = {.down_after = 1000, .replica_confirm = 1500};

/* A replica that follows the primary and was probed at t. */
#define FOLLOWER(nm, t, io_, heard) \
    {.name = nm, .reachable = true, .observed_at = t, .follows_primary = true, .io = io_, .heard_at = heard}

/* The same, with a known heartbeat period and its IO thread still saying Yes. */
#define HB_FOLLOWER(nm, t, heard, hb)                                                             \
    {.name = nm, .reachable = true, .observed_at = t, .follows_primary = true, .io = IO_YES,      \
     .heard_at = heard, .heartbeat_ms = hb}

/* A replica that says itself how long it has heard nothing (MySQL), with a
 * 250 ms heartbeat: silent ms when probed at t; heard is what the counters
 * told (kept to show that the replica's own word wins). */
#define SAYS_FOLLOWER(nm, t, heard, silent)                                                       \
    {.name = nm, .reachable = true, .observed_at = t, .follows_primary = true, .io = IO_YES,      \
     .heard_at = heard, .heartbeat_ms = 250, .silent_known = true, .silent_ms = silent}

static const row_t rows[] = {
    {"a primary that answers is healthy", true, 0, 0, VERDICT_HEALTHY, 0, {{0}}, 0, 5000,
     VERDICT_HEALTHY, "answers"},
    {"a failing primary is healthy before down_after", false, 4000, 0, VERDICT_HEALTHY, 1,
     {FOLLOWER("r1", 4900, IO_CONNECTING, 3000)}, 0, 4999, VERDICT_HEALTHY, "down_after"},
    {"after down_after with no fresh replica answer it is suspect", false, 4000, 0,
     VERDICT_HEALTHY, 1, {FOLLOWER("r1", 4900, IO_CONNECTING, 3000)}, 0, 5000, VERDICT_SUSPECT,
     "waiting for replica r1"},
    {"replicas that reconnect after the suspicion confirm: dead", false, 4000, 5000,
     VERDICT_SUSPECT, 2,
     {FOLLOWER("r1", 5010, IO_CONNECTING, 3000), FOLLOWER("r2", 5020, IO_NO, 3000)}, 0, 5030,
     VERDICT_DEAD, "all 2 reachable replicas"},
    {"an IO error counts as lost even if the thread says Yes", false, 4000, 5000, VERDICT_SUSPECT,
     1, {{.name = "r1", .reachable = true, .observed_at = 5010, .follows_primary = true,
          .io = IO_YES, .last_io_errno = 2003, .heard_at = 4900}},
     0, 5020, VERDICT_DEAD, "all 1"},
    {"one replica still receiving makes it unreachable", false, 4000, 5000, VERDICT_SUSPECT, 2,
     {FOLLOWER("r1", 5010, IO_CONNECTING, 3000), FOLLOWER("r2", 5020, IO_YES, 5010)}, 0, 5030,
     VERDICT_UNREACHABLE, "replica r2 still receives"},
    {"a silent replica with IO Yes confirms only after replica_confirm", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {FOLLOWER("r1", 5100, IO_YES, 3700)}, 0, 5100, VERDICT_SUSPECT,
     "waiting for replica r1"},
    {"a replica silent for replica_confirm confirms", false, 4000, 5000, VERDICT_SUSPECT, 1,
     {FOLLOWER("r1", 5200, IO_YES, 3700)}, 0, 5200, VERDICT_DEAD, "all 1"},
    {"a replica that heard something before the suspicion but recently is pending", false, 4000,
     5000, VERDICT_SUSPECT, 1, {FOLLOWER("r1", 5200, IO_YES, 4500)}, 0, 5200, VERDICT_SUSPECT,
     "waiting"},
    {"a replica answer from before the suspicion does not count", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {FOLLOWER("r1", 4990, IO_CONNECTING, 3000)}, 0, 5100, VERDICT_SUSPECT,
     "waiting for replica r1"},
    {"replicas that are down themselves are not asked", false, 4000, 5000, VERDICT_SUSPECT, 2,
     {{.name = "r1", .reachable = false, .observed_at = 5050, .follows_primary = true},
      FOLLOWER("r2", 5020, IO_CONNECTING, 3000)},
     0, 5060, VERDICT_DEAD, "all 1 reachable"},
    {"a replica whose failed probe predates the suspicion is waited for", false, 4000, 5000,
     VERDICT_SUSPECT, 2,
     {{.name = "r1", .reachable = false, .observed_at = 4500, .follows_primary = true},
      FOLLOWER("r2", 5020, IO_CONNECTING, 3000)},
     0, 5060, VERDICT_SUSPECT, "waiting for replica r1"},
    {"with no replica to ask the primary is only unreachable", false, 4000, 5000, VERDICT_SUSPECT, 1,
     {{.name = "r1", .reachable = false, .observed_at = 5050, .follows_primary = true}}, 0, 5100,
     VERDICT_UNREACHABLE, "no reachable replica"},
    {"replicas that follow someone else are not asked", false, 4000, 0, VERDICT_HEALTHY, 1,
     {{.name = "r1", .reachable = true, .observed_at = 5050, .follows_primary = false,
       .io = IO_CONNECTING}},
     0, 5100, VERDICT_UNREACHABLE, "no reachable replica"},
    {"a stalled loop does not escalate to dead", false, 4000, 5000, VERDICT_SUSPECT, 1,
     {FOLLOWER("r1", 5010, IO_CONNECTING, 3000)}, 9000, 5020, VERDICT_SUSPECT, "stalled"},
    {"after the stall grace the same evidence is dead", false, 4000, 5000, VERDICT_SUSPECT, 1,
     {FOLLOWER("r1", 9010, IO_CONNECTING, 3000)}, 9000, 9020, VERDICT_DEAD, "all 1"},
    {"unreachable stays unreachable while a replica's new answer is pending", false, 4000, 5000,
     VERDICT_UNREACHABLE, 1, {FOLLOWER("r1", 5300, IO_YES, 4900)}, 0, 5300, VERDICT_UNREACHABLE,
     "waiting"},
    {"unreachable becomes dead when the last hearing replica goes silent", false, 4000, 5000,
     VERDICT_UNREACHABLE, 1, {FOLLOWER("r1", 7000, IO_YES, 5200)}, 0, 7000, VERDICT_DEAD, "all 1"},
    {"a replica with a 250 ms heartbeat silent for 3 periods (750 ms) confirms", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {HB_FOLLOWER("r1", 5200, 4450, 250)}, 0, 5200, VERDICT_DEAD, "all 1"},
    {"a replica with a 250 ms heartbeat silent for less than 750 ms is pending", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {HB_FOLLOWER("r1", 5200, 4451, 250)}, 0, 5200, VERDICT_SUSPECT,
     "waiting for replica r1"},
    {"a short heartbeat never confirms before 750 ms of silence", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {HB_FOLLOWER("r1", 5200, 4500, 50)}, 0, 5200, VERDICT_SUSPECT,
     "waiting for replica r1"},
    {"a long heartbeat confirms after replica_confirm, not three periods", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {HB_FOLLOWER("r1", 5200, 3700, 1000)}, 0, 5200, VERDICT_DEAD, "all 1"},
    {"a short-heartbeat replica that heard something after the suspicion still hears", false,
     4000, 5000, VERDICT_SUSPECT, 2,
     {HB_FOLLOWER("r1", 5200, 4000, 250), HB_FOLLOWER("r2", 5210, 5100, 250)}, 0, 5210,
     VERDICT_UNREACHABLE, "replica r2 still receives"},
    {"a replica silent for 750 ms by its own clock confirms, though its counters moved late",
     false, 4000, 5000, VERDICT_SUSPECT, 1, {SAYS_FOLLOWER("r1", 5100, 4900, 750)}, 0, 5100,
     VERDICT_DEAD, "all 1"},
    {"a replica silent for 749 ms by its own clock is pending", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {SAYS_FOLLOWER("r1", 5100, 3000, 749)}, 0, 5100, VERDICT_SUSPECT,
     "waiting for replica r1"},
    {"a receipt the replica dates after the suspicion is hearing", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {SAYS_FOLLOWER("r1", 5100, 3000, 100)}, 0, 5100, VERDICT_UNREACHABLE,
     "replica r1 still receives"},
    {"counters seen moving after the suspicion are not hearing when the replica dates the "
     "receipt before it",
     false, 4000, 5000, VERDICT_SUSPECT, 1, {SAYS_FOLLOWER("r1", 5100, 5100, 400)}, 0, 5100,
     VERDICT_SUSPECT, "waiting for replica r1"},
    {"the replica's own silence from before the suspicion does not count", false, 4000, 5000,
     VERDICT_SUSPECT, 1, {SAYS_FOLLOWER("r1", 4990, 3000, 5000)}, 0, 5100, VERDICT_SUSPECT,
     "waiting for replica r1"},
    {"a replica whose silence is known still confirms by its IO thread", false, 4000, 5000,
     VERDICT_SUSPECT, 1,
     {{.name = "r1", .reachable = true, .observed_at = 5010, .follows_primary = true,
       .io = IO_CONNECTING, .heartbeat_ms = 250, .silent_known = true, .silent_ms = 10}},
     0, 5020, VERDICT_DEAD, "all 1"},
    {"a long heartbeat by the replica's own clock still waits replica_confirm", false, 4000,
     5000, VERDICT_SUSPECT, 1,
     {{.name = "r1", .reachable = true, .observed_at = 5100, .follows_primary = true,
       .io = IO_YES, .heard_at = 3000, .heartbeat_ms = 1000, .silent_known = true,
       .silent_ms = 1499}},
     0, 5100, VERDICT_SUSPECT, "waiting for replica r1"},
    {"a dead primary that answers again is healthy", true, 0, 5000, VERDICT_DEAD, 1,
     {FOLLOWER("r1", 9000, IO_CONNECTING, 3000)}, 0, 9100, VERDICT_HEALTHY, "answers"},
};

/* Criterion re-executes tests in a sandbox, where pointers inside parameter
 * arrays are not valid; so one test walks the whole table and each failure
 * names its rule. */
static void check_row(const row_t *row)
{
    detect_state_t st = {.verdict = row->before, .since = 1, .suspect_at = row->suspect_at};
    detect_input_t in = {.primary_ok = row->primary_ok, .primary_fail_since = row->fail_since,
                         .replicas = row->r, .n_replicas = row->n,
                         .stalled_until = row->stalled_until};
    char why[256];
    verdict_t v = detect_step(&st, &in, &P, row->now, why, sizeof why);
    cr_expect_eq(v, row->want, "%s: got %s, want %s (%s)", row->rule, verdict_str(v),
                 verdict_str(row->want), why);
    cr_expect_eq(st.verdict, v);
    cr_expect(strstr(why, row->why_contains) != NULL, "%s: reason \"%s\" lacks \"%s\"", row->rule,
              why, row->why_contains);
    if (v != row->before)
        cr_expect_eq(st.since, row->now, "%s: verdict change must stamp the time", row->rule);
    else
        cr_expect_eq(st.since, 1, "%s: an unchanged verdict keeps its stamp", row->rule);
}

Test(detect, rules)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_row(&rows[i]);
}

Test(detect, suspicion_starts_once_and_resets_on_recovery)
{
    detect_state_t st = {0};
    detect_replica_t r = FOLLOWER("r1", 0, IO_YES, 0);
    detect_input_t in = {.primary_fail_since = 1000, .replicas = &r, .n_replicas = 1};
    detect_step(&st, &in, &P, 2100, NULL, 0);
    cr_assert_eq(st.suspect_at, 2100);
    detect_step(&st, &in, &P, 2600, NULL, 0);
    cr_assert_eq(st.suspect_at, 2100, "the suspicion keeps its start");
    in.primary_ok = true;
    in.primary_fail_since = 0;
    cr_assert_eq(detect_step(&st, &in, &P, 2700, NULL, 0), VERDICT_HEALTHY);
    cr_assert_eq(st.suspect_at, 0);
}

Test(detect, io_state_words)
{
    cr_assert_eq(io_state_parse("Yes"), IO_YES);
    cr_assert_eq(io_state_parse("No"), IO_NO);
    cr_assert_eq(io_state_parse("Connecting"), IO_CONNECTING);
    cr_assert_eq(io_state_parse("Preparing"), IO_CONNECTING);
    cr_assert_eq(io_state_parse(NULL), IO_UNKNOWN);
    cr_assert_eq(io_state_parse("garbage"), IO_UNKNOWN);
    cr_assert_str_eq(verdict_str(VERDICT_UNREACHABLE), "unreachable");
}

Test(detect, loop_guard)
{
    guard_t g = {0};
    cr_assert(!guard_tick(&g, 1000, 50000, 100, 1000, 5000), "the first tick has nothing to compare");
    cr_assert(!guard_tick(&g, 1100, 50100, 100, 1000, 5000));
    cr_assert(!guard_tick(&g, 1900, 50900, 100, 1000, 5000), "700 ms late is within the threshold");
    cr_assert(guard_tick(&g, 4000, 53000, 100, 1000, 5000), "a 2 s stall is seen");
    cr_assert_eq(g.stalled_until, 9000);
    cr_assert_eq(g.last_stall_ms, 2000);
    cr_assert(guard_tick(&g, 4100, 60100, 100, 1000, 5000), "a wall-clock jump of 7 s is seen");
    cr_assert_eq(g.stalled_until, 9100);
    cr_assert(guard_tick(&g, 4200, 50000, 100, 1000, 5000), "a backwards jump is seen");
    cr_assert(!guard_tick(&g, 4300, 50100, 100, 1000, 5000));
}

Test(detect, confirm_time_follows_the_heartbeat_period)
{
    detect_replica_t r = {.name = "r1"};
    cr_expect_eq(detect_confirm_ms(&r, &P), 1500, "unknown period: replica_confirm");
    r.heartbeat_ms = 250;
    cr_expect_eq(detect_confirm_ms(&r, &P), 750, "three periods");
    r.heartbeat_ms = 100;
    cr_expect_eq(detect_confirm_ms(&r, &P), DETECT_CONFIRM_MIN_MS, "never below the floor");
    r.heartbeat_ms = 1000;
    cr_expect_eq(detect_confirm_ms(&r, &P), 1500, "never above replica_confirm");
    detect_params_t zero = {.down_after = 1000, .replica_confirm = 0};
    cr_expect_eq(detect_confirm_ms(&r, &zero), 0, "replica_confirm 0 stays 0");
}

/* A primary whose host refuses the connect twice in a row (no server
 * listens) is suspect at once, before down_after; dead still needs the
 * replicas' word, and a replica that hears it keeps it unreachable. */
Test(detect, refused_connect_is_suspect_at_once_never_dead_alone)
{
    detect_state_t st = {0};
    detect_replica_t r = FOLLOWER("r1", 5000, IO_YES, 3000);
    detect_input_t in = {.primary_fail_since = 4900, .replicas = &r, .n_replicas = 1};
    char why[256];
    cr_expect_eq(detect_step(&st, &in, &P, 5000, why, sizeof why), VERDICT_HEALTHY,
                 "a failure of 100 ms is not down_after: %s", why);
    in.primary_refused = true;
    cr_expect_eq(detect_step(&st, &in, &P, 5001, why, sizeof why), VERDICT_SUSPECT,
                 "refused: suspect at once (%s)", why);
    cr_expect(strstr(why, "refuses connections") != NULL, "%s", why);
    cr_expect_eq(st.suspect_at, 5001);
    r.observed_at = 5010;
    r.heard_at = 5010; /* its counters moved after the suspicion began */
    cr_expect_eq(detect_step(&st, &in, &P, 5011, why, sizeof why), VERDICT_UNREACHABLE,
                 "a replica that hears it: unreachable (%s)", why);
    r.observed_at = 5020;
    r.io = IO_CONNECTING;
    r.last_io_errno = 2003;
    cr_expect_eq(detect_step(&st, &in, &P, 5021, why, sizeof why), VERDICT_DEAD,
                 "its replicas reconnecting too: dead (%s)", why);
    detect_state_t st2 = {0};
    detect_input_t alone = {.primary_fail_since = 4900, .primary_refused = true};
    cr_expect_eq(detect_step(&st2, &alone, &P, 5001, why, sizeof why), VERDICT_UNREACHABLE,
                 "no replica to ask: never dead (%s)", why);
}
