/* The flap detector (flap.h), as a table of episodes over time. */
#include <criterion/criterion.h>

#include "flap.h"

/* Each row: at `t` (ms) either an episode begins (ep) or the detector is
 * ticked with the verdict healthy or not; what it must answer. */
typedef struct {
    uint64_t t;
    enum { EP, TICK_HEALTHY, TICK_SICK } what;
    flap_change_t want;
    bool flapping;
} row_t;

static void run(const row_t *rows, size_t n)
{
    flap_t f = {0};
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &rows[i];
        flap_change_t got = r->what == EP ? flap_episode(&f, r->t)
                                          : flap_tick(&f, r->what == TICK_HEALTHY, r->t);
        cr_assert_eq(got, r->want, "row %zu (t=%llu): got %d, want %d", i,
                     (unsigned long long)r->t, got, r->want);
        cr_assert_eq(f.flapping, r->flapping, "row %zu: flapping %d", i, f.flapping);
    }
}

#define W FLAP_WINDOW_MS
#define Q FLAP_QUIET_MS

Test(flap, three_blips_within_the_window_make_one_alert)
{
    const row_t rows[] = {
        {1000, EP, FLAP_SAME, false},
        {1500, TICK_HEALTHY, FLAP_SAME, false},
        {4000, EP, FLAP_SAME, false},
        {1000 + W - 1, EP, FLAP_STARTED, true}, /* the third within the window: one alert */
        {W + 9000, EP, FLAP_SAME, true},  /* more blips: counted, no new alert */
        {W + 12000, EP, FLAP_SAME, true},
    };
    run(rows, sizeof rows / sizeof rows[0]);
}

Test(flap, blips_further_apart_than_the_window_never_alert)
{
    const row_t rows[] = {
        {1000, EP, FLAP_SAME, false},
        {1000 + W / 2, EP, FLAP_SAME, false},
        {1000 + W, EP, FLAP_SAME, false},         /* the first fell out of the window */
        {1000 + 3 * W / 2, EP, FLAP_SAME, false}, /* the second too */
        {1000 + 2 * W, EP, FLAP_SAME, false},
    };
    run(rows, sizeof rows / sizeof rows[0]);
}

Test(flap, cleared_once_after_a_quiet_healthy_period)
{
    const row_t rows[] = {
        {1000, EP, FLAP_SAME, false},
        {2000, EP, FLAP_SAME, false},
        {3000, EP, FLAP_STARTED, true},
        {3000 + Q / 2, TICK_HEALTHY, FLAP_SAME, true}, /* quiet, not long enough */
        {3000 + Q - 1, TICK_HEALTHY, FLAP_SAME, true},
        {3000 + Q, TICK_SICK, FLAP_SAME, true},   /* long enough, but not healthy now */
        {3001 + Q, TICK_HEALTHY, FLAP_CLEARED, false},
        {4000 + Q, TICK_HEALTHY, FLAP_SAME, false}, /* cleared once */
        {5000 + Q, EP, FLAP_SAME, false},           /* starts counting afresh */
        {6000 + Q, EP, FLAP_SAME, false},
        {7000 + Q, EP, FLAP_STARTED, true},
    };
    run(rows, sizeof rows / sizeof rows[0]);
}

Test(flap, a_new_episode_postpones_the_clearing)
{
    const row_t rows[] = {
        {0, EP, FLAP_SAME, false},
        {1, EP, FLAP_SAME, false},
        {2, EP, FLAP_STARTED, true},
        {50000, EP, FLAP_SAME, true},
        {Q + 3, TICK_HEALTHY, FLAP_SAME, true},   /* quiet_ms after the start, not the last */
        {50000 + Q, TICK_HEALTHY, FLAP_CLEARED, false},
    };
    run(rows, sizeof rows / sizeof rows[0]);
}

Test(flap, counts_and_quiet_events)
{
    flap_t f = {0};
    cr_assert(!flap_quiet(&f, false), "nothing is kept quiet before it flaps");
    flap_episode(&f, 10);
    flap_episode(&f, 20);
    cr_assert_eq(flap_episode(&f, 30), FLAP_STARTED);
    cr_assert_eq(f.episodes, 3);
    cr_assert(flap_quiet(&f, false), "a suspect or healthy event is kept quiet");
    cr_assert(flap_quiet(&f, false));
    cr_assert(!flap_quiet(&f, true), "a dead verdict is never kept quiet");
    cr_assert_eq(f.quieted, 2);
    flap_episode(&f, 40);
    cr_assert_eq(f.episodes, 4);
    cr_assert_eq(f.total, 4);
    flap_reset(&f);
    cr_assert(!f.flapping && f.episodes == 0 && f.quieted == 0);
    cr_assert_eq(f.total, 4, "the count of every episode seen survives a new primary");
}

Test(flap, a_flapping_primary_is_dead_only_after_the_hold)
{
    flap_t f = {0};
    cr_assert_eq(flap_dead_not_before(&f, 5000), 0, "not flapping: no hold");
    flap_episode(&f, 10);
    flap_episode(&f, 20);
    flap_episode(&f, 30);
    cr_assert_eq(flap_dead_not_before(&f, 5000), 5000 + FLAP_DEAD_HOLD_MS);
    cr_assert_eq(flap_dead_not_before(&f, 0), 0, "it answers: nothing to hold");
    cr_assert_eq(flap_tick(&f, true, 30 + FLAP_QUIET_MS), FLAP_CLEARED);
    cr_assert_eq(flap_dead_not_before(&f, 5000), 0, "cleared: no hold");
}
