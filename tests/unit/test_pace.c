/* Probe start offsets (pace.h): stable per key, inside the period, spread. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "pace.h"

typedef struct {
    const char *key;
    uint64_t period;
} row_t;

Test(pace, an_offset_lies_inside_its_period_and_is_stable)
{
    const row_t rows[] = {
        {"n1 127.0.0.1:3306", 1000}, {"db-a 10.0.0.5:3306", 500}, {"x", 1}, {"", 1000},
        {"a very long node name 2001:db8::1:3307", 250}, {"n1 127.0.0.1:3306", 7},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t a = pace_offset_ms(rows[i].key, rows[i].period);
        cr_assert_lt(a, rows[i].period, "row %zu: %llu not below %llu", i, (unsigned long long)a,
                     (unsigned long long)rows[i].period);
        cr_assert_eq(a, pace_offset_ms(rows[i].key, rows[i].period), "row %zu: not stable", i);
    }
}

Test(pace, no_period_or_no_key_starts_at_once)
{
    cr_assert_eq(pace_offset_ms("n1", 0), 0);
    cr_assert_eq(pace_offset_ms(NULL, 1000), 0);
}

/* 1,000 nodes named as a fleet usually is (n0..n999 on consecutive
 * addresses), at a 1 s interval: no tenth of the period holds more than twice
 * its share, and no millisecond more than 6 of them (1,000 keys thrown
 * uniformly into 1,000 slots put at most 5 or 6 in any one). */
Test(pace, a_fleet_of_similar_names_is_spread_over_the_period)
{
    unsigned tenth[10] = {0}, ms[1000] = {0};
    for (int i = 0; i < 1000; i++) {
        char key[64];
        snprintf(key, sizeof key, "n%d 127.1.%d.%d:3306", i, i / 250, i % 250 + 1);
        uint64_t o = pace_offset_ms(key, 1000);
        tenth[o / 100]++;
        ms[o]++;
    }
    for (int t = 0; t < 10; t++)
        cr_assert_leq(tenth[t], 200, "tenth %d holds %u of 1000", t, tenth[t]);
    for (int m = 0; m < 1000; m++)
        cr_assert_leq(ms[m], 6, "millisecond %d holds %u", m, ms[m]);
}

/* A probe timeout: the server's, or the daemon's wait for the CPU (bound
 * 500 ms throughout). */
typedef struct {
    const char *what;
    pace_timeout_t in;
    pace_judgement_t want;
} judge_row_t;

Test(pace, a_timeout_caused_by_the_wait_for_the_cpu_is_looked_at_again_once)
{
    const judge_row_t rows[] = {
        {"on time, full budget: the server's", {500, 500, 500, false, false}, PACE_TIMEOUT_COUNTS},
        {"a little late: still the server's", {550, 500, 500, false, false}, PACE_TIMEOUT_COUNTS},
        {"more than a tenth of a bound late", {551, 500, 500, false, false}, PACE_AGAIN_LATE},
        {"half a bound late", {751, 500, 500, false, false}, PACE_AGAIN_LATE},
        {"a connect that timed out late", {1300, 500, 0, false, false}, PACE_AGAIN_LATE},
        {"the query got a sliver", {500, 500, 1, false, false}, PACE_AGAIN_STARVED},
        {"the query got just under half", {500, 500, 249, false, false}, PACE_AGAIN_STARVED},
        {"the query got half", {500, 500, 250, false, false}, PACE_TIMEOUT_COUNTS},
        {"a connect on time, no query yet", {500, 500, 0, false, false}, PACE_TIMEOUT_COUNTS},
        {"on time, but the loop guard saw a stall", {500, 500, 500, true, false},
         PACE_AGAIN_STALLED},
        {"late and stalled: late says more", {900, 500, 500, true, false}, PACE_AGAIN_LATE},
        {"the second look counts, late or not", {900, 500, 500, true, true}, PACE_TIMEOUT_COUNTS},
        {"the second look counts, starved", {500, 500, 1, false, true}, PACE_TIMEOUT_COUNTS},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        pace_judgement_t got = pace_judge_timeout(&rows[i].in);
        cr_assert_eq(got, rows[i].want, "%s: got %d, want %d", rows[i].what, got, rows[i].want);
    }
}
