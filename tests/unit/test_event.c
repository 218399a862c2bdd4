#include <criterion/criterion.h>
#include <string.h>

#include "event.h"

static int seen;
static char last[512];

static void sink(const event_t *ev, void *ud)
{
    seen += *(int *)ud;
    json_t *j = event_to_json(ev);
    char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    snprintf(last, sizeof last, "%s", s);
    free(s);
    json_decref(j);
    /* A sink's own event is logged, but not fed back to the sinks. */
    event_emit(LOG_LVL_DEBUG, "nested", NULL, NULL, NULL, "nested");
}

Test(event, every_sink_gets_the_event_once_with_its_fields)
{
    log_set_level(LOG_LVL_ERROR);
    int one = 1, ten = 10;
    int a = event_add_sink(sink, &one);
    int b = event_add_sink(sink, &ten);
    event_emit(LOG_LVL_WARN, "primary_dead", "main", "db1", json_pack("{s:i}", "after_ms", 812),
               "primary %s is dead", "db1");
    cr_assert_eq(seen, 11);
    cr_assert(strstr(last, "\"event\":\"primary_dead\""), "%s", last);
    cr_assert(strstr(last, "\"after_ms\":812"), "%s", last);
    cr_assert(strstr(last, "\"message\":\"primary db1 is dead\""), "%s", last);
    cr_assert(strstr(last, "\"level\":\"warning\""), "%s", last);
    event_remove_sink(b);
    event_emit(LOG_LVL_INFO, "x", NULL, NULL, NULL, "x");
    cr_assert_eq(seen, 12);
    cr_assert(strstr(last, "\"cluster\":null"), "an absent cluster is null: %s", last);
    event_remove_sink(a);
}

Test(event, time_format)
{
    char ts[32];
    format_wall_ms(1795474201123ULL, ts, sizeof ts);
    cr_assert_str_eq(ts, "2026-11-23T22:50:01.123Z");
}

static void count_sink(const event_t *ev, void *ud)
{
    (*(int *)ud)++;
}

Test(event, a_hundred_sinks_all_get_every_event)
{
    log_set_level(LOG_LVL_ERROR);
    int counts[100] = {0};
    int ids[100];
    for (int i = 0; i < 100; i++) {
        ids[i] = event_add_sink(count_sink, &counts[i]);
        cr_assert_geq(ids[i], 0, "sink %d was refused", i);
    }
    event_emit(LOG_LVL_INFO, "x", NULL, NULL, NULL, "x");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(counts[i], 1, "sink %d saw %d events", i, counts[i]);
    /* Remove every other sink; the others still get events, and new sinks
     * take the free places. */
    for (int i = 0; i < 100; i += 2)
        event_remove_sink(ids[i]);
    event_emit(LOG_LVL_INFO, "x", NULL, NULL, NULL, "x");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(counts[i], i % 2 ? 2 : 1, "sink %d saw %d events", i, counts[i]);
    int extra = 0;
    int id = event_add_sink(count_sink, &extra);
    cr_assert(id >= 0 && id < 100, "a free place is reused: %d", id);
    event_emit(LOG_LVL_INFO, "x", NULL, NULL, NULL, "x");
    cr_assert_eq(extra, 1);
    event_remove_all_sinks();
    event_emit(LOG_LVL_INFO, "x", NULL, NULL, NULL, "x");
    cr_assert_eq(extra, 1);
}
