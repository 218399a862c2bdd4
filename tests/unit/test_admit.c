/* Whether a failover or switchover may start, one row per rule (admit.h).
 * Wall times are in ms. */
#include <criterion/criterion.h>
#include <string.h>

#include "admit.h"

#define MIN 60000ull

/* A cluster with nothing against an automatic failover: the last failover
 * ended at 1000 and was acknowledged; failover_block is an hour. */
static admit_facts_t clear(void)
{
    return (admit_facts_t){.cluster = "main", .last_failover_wall = 1000, .last_acked = true,
                           .failover_block_ms = 60 * MIN};
}

typedef struct {
    const char *rule;
    admit_facts_t a;
    bool auto_failover;
    uint64_t now;
    bool blocked;
    const char *says; /* a part of why */
} auto_row_t;

Test(admit, automatic)
{
    admit_facts_t unknown = clear(), interrupted = clear(), paused = clear(), recent = clear(),
                  old = clear(), never = clear(), all = clear(), multi = clear();
    unknown.state_unknown = "a damaged line in the journal";
    multi.unsupported = "db3 replicates from 2 sources (multi-source replication)";
    interrupted.interrupted = true;
    paused.paused = true;
    recent.last_acked = false;
    old.last_acked = false;
    never.last_failover_wall = 0;
    never.last_acked = false;
    all.state_unknown = "journal full";
    all.interrupted = all.paused = true;
    all.last_acked = false;
    admit_facts_t follower = clear(), no_lease = clear(), follower_all = all, named = recent;
    named.last_failover_op = "19a3f-7";
    follower.not_leader = "manager m2 is not the leader: the leader is m1 on host1 (term 7)";
    no_lease.not_leader = "manager m1 holds no valid leader lease (no-quorum)";
    follower_all.not_leader = follower.not_leader;
    const auto_row_t rows[] = {
        {"nothing blocks", clear(), true, 5 * MIN, false, NULL},
        {"auto_failover off blocks, whatever else", clear(), false, 5 * MIN, true,
         "auto_failover = false"},
        {"a journal that can't be trusted holds until acked", unknown, true, 5 * MIN, true,
         "state unknown: a damaged line in the journal"},
        {"an interrupted operation holds until acked", interrupted, true, 5 * MIN, true,
         "interrupted"},
        {"a paused cluster holds until resumed", paused, true, 5 * MIN, true, "paused"},
        {"an unsupported topology is never failed over", multi, true, 5 * MIN, true,
         "multi-source replication"},
        {"an unacknowledged failover within failover_block holds", recent, true, 5 * MIN, true,
         "within failover_block (3600 s)"},
        {"... until its last millisecond", recent, true, 1000 + 60 * MIN - 1, true,
         "failover_block"},
        {"... and not after it", old, true, 1000 + 60 * MIN, false, NULL},
        {"the block names the last failover when it is known (coordination)", named, true,
         5 * MIN, true, "the last failover (operation 19a3f-7) ended 299 s ago"},
        {"no failover yet: nothing to wait for", never, true, 5, false, NULL},
        {"state unknown is said first", all, true, 5 * MIN, true, "state unknown: journal full"},
        {"a follower never fails over", follower, true, 5 * MIN, true,
         "the leader is m1 on host1"},
        {"nor does a manager without a valid lease", no_lease, true, 5 * MIN, true,
         "no valid leader lease"},
        {"not being the leader is said before anything else", follower_all, false, 5 * MIN, true,
         "not the leader"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const auto_row_t *r = &rows[i];
        char why[512] = "";
        bool got = admit_automatic_blocked(&r->a, r->auto_failover, r->now, why, sizeof why);
        cr_expect_eq(got, r->blocked, "%s: blocked %d, want %d (%s)", r->rule, got, r->blocked,
                     why);
        if (r->says)
            cr_expect(strstr(why, r->says), "%s: why says \"%s\": %s", r->rule, r->says, why);
        if (r->auto_failover) /* the same rules, less auto_failover, for a manual ack */
            cr_expect_eq(admit_blocked(&r->a, r->now, why, sizeof why), r->blocked, "%s",
                         r->rule);
    }
}

typedef struct {
    const char *rule;
    admit_facts_t a;
    admit_request_t q;
    admit_answer_t want;
    const char *says;
} req_row_t;

Test(admit, requests)
{
    admit_facts_t unknown = clear(), interrupted = clear(), paused = clear(), recent = clear(),
                  gr = clear();
    unknown.state_unknown = "journal full";
    gr.unsupported = "db2 is a Group Replication member";
    interrupted.interrupted = true;
    paused.paused = true;
    recent.last_acked = false;
    const admit_request_t dead = {.failover = true, .has_primary = true,
                                  .verdict = VERDICT_DEAD};
    admit_request_t healthy = dead, forced = dead, lost = dead, suspect = dead,
                    suspect_forced = dead, busy = dead, holding = dead, noprimary = dead,
                    missing = dead, named = dead, sw = dead;
    healthy.verdict = VERDICT_HEALTHY;
    healthy.primary_up = true;
    forced = healthy;
    forced.force = true;
    lost = forced;
    lost.replicas_lost_primary = true;
    suspect.verdict = VERDICT_UNREACHABLE;
    suspect_forced = suspect;
    suspect_forced.force = true;
    busy.running = true;
    holding.running = holding.holding = true;
    noprimary.has_primary = false;
    missing.to = "db9";
    named.to = "db2";
    named.to_exists = true;
    sw = healthy;
    sw.failover = false;
    admit_facts_t follower = clear(), no_lease = clear();
    follower.not_leader = "manager m2 is not the leader: the leader is m1 on host1 (term 7)";
    no_lease.not_leader = "manager m1 holds no valid leader lease (no-quorum)";
    const req_row_t rows[] = {
        {"a dead primary is failed over", clear(), dead, ADMIT_OK, NULL},
        {"one operation at a time", clear(), busy, ADMIT_BUSY, "already running"},
        {"a holding failover says how to go on", clear(), holding, ADMIT_BUSY, "--force"},
        {"a journal that can't be trusted refuses", unknown, dead, ADMIT_REFUSED,
         "state unknown"},
        {"an interrupted operation refuses", interrupted, sw, ADMIT_REFUSED, "interrupted"},
        {"a paused cluster does not refuse an operator", paused, dead, ADMIT_OK, NULL},
        {"an unsupported topology refuses an operator's failover", gr, dead, ADMIT_REFUSED,
         "Group Replication member"},
        {"... and switchover", gr, sw, ADMIT_REFUSED, "Group Replication member"},
        {"failover_block does not refuse an operator", recent, dead, ADMIT_OK, NULL},
        {"the primary must be known", clear(), noprimary, ADMIT_REFUSED, "not known"},
        {"a node named must exist", clear(), missing, ADMIT_NOT_FOUND, "no node named \"db9\""},
        {"... and one that exists is fine", clear(), named, ADMIT_OK, NULL},
        {"a healthy primary is switched over, not failed over", clear(), healthy, ADMIT_REFUSED,
         "switchover"},
        {"... even with --force", clear(), forced, ADMIT_REFUSED, "healthy"},
        {"... unless every replica lost it (--force)", clear(), lost, ADMIT_OK, NULL},
        {"a primary that is not dead needs --force", clear(), suspect, ADMIT_REFUSED,
         "unreachable, not dead"},
        {"... and goes with it", clear(), suspect_forced, ADMIT_OK, NULL},
        {"a switchover of a healthy primary goes", clear(), sw, ADMIT_OK, NULL},
        {"a follower refuses an operator's failover, naming the leader", follower, dead,
         ADMIT_REFUSED, "the leader is m1 on host1"},
        {"... and a switchover", follower, sw, ADMIT_REFUSED, "not the leader"},
        {"... even while an operation runs elsewhere", follower, busy, ADMIT_REFUSED,
         "not the leader"},
        {"a manager without a valid lease refuses", no_lease, dead, ADMIT_REFUSED,
         "no valid leader lease"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const req_row_t *r = &rows[i];
        char why[512] = "";
        admit_answer_t got = admit_request(&r->a, &r->q, 5 * MIN, why, sizeof why);
        cr_expect_eq(got, r->want, "%s: answer %d, want %d (%s)", r->rule, got, r->want, why);
        if (r->says)
            cr_expect(strstr(why, r->says), "%s: why says \"%s\": %s", r->rule, r->says, why);
    }
}

Test(admit, codes)
{
    cr_expect_null(admit_code(ADMIT_OK));
    cr_expect_str_eq(admit_code(ADMIT_BUSY), "busy");
    cr_expect_str_eq(admit_code(ADMIT_REFUSED), "failed");
    cr_expect_str_eq(admit_code(ADMIT_NOT_FOUND), "not_found");
}
