/* The start-up rules for a primary failoverd has never reached, one row each
 * (see startup.h). Times are in ms. */
#include <criterion/criterion.h>
#include <string.h>

#include "startup.h"

typedef struct {
    const char *rule;
    bool seen;
    policy_t policy;
    uint64_t since, grace, now;
    startup_verdict_t want;
    uint64_t until; /* with STARTUP_WAIT */
} row_t;

static const row_t rows[] = {
    {"a primary reached since the start fails over at once (reliability)", true, POLICY_RELIABILITY,
     1000, 30000, 1500, STARTUP_GO, 0},
    {"a primary reached since the start fails over at once (availability)", true,
     POLICY_AVAILABILITY, 1000, 30000, 1500, STARTUP_GO, 0},
    {"reliability never promotes past a primary it has not seen", false, POLICY_RELIABILITY, 1000,
     30000, 1500, STARTUP_REFUSE, 0},
    {"... not even after the grace", false, POLICY_RELIABILITY, 1000, 30000, 999999, STARTUP_REFUSE,
     0},
    {"... nor with no grace at all", false, POLICY_RELIABILITY, 1000, 0, 1000, STARTUP_REFUSE, 0},
    {"availability waits for the grace", false, POLICY_AVAILABILITY, 1000, 30000, 1500,
     STARTUP_WAIT, 31000},
    {"... up to its last millisecond", false, POLICY_AVAILABILITY, 1000, 30000, 30999, STARTUP_WAIT,
     31000},
    {"... and goes when it has passed", false, POLICY_AVAILABILITY, 1000, 30000, 31000, STARTUP_GO,
     0},
    {"availability with no grace goes at once", false, POLICY_AVAILABILITY, 1000, 0, 1000,
     STARTUP_GO, 0},
};

Test(startup, rules)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row_t *r = &rows[i];
        uint64_t until = 0;
        startup_verdict_t v = startup_judge(r->seen, r->policy, r->since, r->grace, r->now, &until);
        cr_expect_eq(v, r->want, "%s: got %d, want %d", r->rule, (int)v, (int)r->want);
        if (r->want == STARTUP_WAIT)
            cr_expect_eq(until, r->until, "%s: until %llu, want %llu", r->rule,
                         (unsigned long long)until, (unsigned long long)r->until);
    }
}

Test(startup, the_primary_is_seen_only_after_a_successful_probe)
{
    node_t nodes[2];
    node_init(&nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
    node_init(&nodes[1], "db2", "10.0.0.2", 3306, RULE_NEUTRAL);
    cluster_t c = {.name = "main", .nodes = nodes, .n_nodes = 2, .primary = -1};
    cr_expect_not(startup_primary_seen(&c), "no primary known");
    c.primary = 0;
    cr_expect_not(startup_primary_seen(&c), "a primary never probed");
    observation_t fail = {.at = 100, .ok = false};
    node_observe(&nodes[0], &fail);
    cr_expect_not(startup_primary_seen(&c), "a primary whose probes failed");
    observation_t ok = {.at = 200, .ok = true, .family = FAMILY_MARIADB};
    node_observe(&nodes[0], &ok);
    observation_t fail2 = {.at = 300, .ok = false};
    node_observe(&nodes[0], &fail2);
    cr_expect(startup_primary_seen(&c), "a primary reached once, down since");
    node_free(&nodes[0]);
    node_free(&nodes[1]);
}
