/* The registry of names (lib/core/names.h) against the plugin ABI, the configuration
 * and docs/events.md: a name is declared once, and the docs say what it says. */
#include <criterion/criterion.h>
#include <failoverd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "buf.h"
#include "config.h"
#include "hooks.h"
#include "names.h"

#define EVENTS_DOC TEST_DATA_DIR "/../../../docs/events.md"


Test(names, hook_points_are_the_abi_and_the_configuration)
{
    cr_assert_eq(FO_HOOK__COUNT, FAILOVERD_HOOK__COUNT);
    for (int p = 0; p < FO_HOOK__COUNT; p++) {
        const fo_hook_info_t *h = fo_hook_info(p);
        cr_assert_str_eq(h->name, failoverd_hook_point_name((failoverd_hook_point_t)p));
        cr_assert_str_eq(h->name, fo_hook_point_str((fo_hook_point_t)p));
        cr_assert_str_eq(h->name, hooks_point_name((failoverd_hook_point_t)p));
        cr_assert_eq(fo_hook_by_name(h->name), p);
        cr_assert_eq(hooks_point_may_veto((failoverd_hook_point_t)p), h->veto, "%s", h->name);
        /* A veto point and a point after the promotion are steps of plans. */
        cr_assert(!h->veto || h->step, "%s", h->name);
        cr_assert(!h->after_promotion || h->step, "%s", h->name);
    }
    cr_assert_null(fo_hook_info(FO_HOOK__COUNT));
    cr_assert_null(fo_hook_info(-1));
    cr_assert_eq(fo_hook_by_name("nope"), FO_HOOK_NONE);
}

Test(names, event_names_are_unique_and_constants_spell_them)
{
    for (int i = 0; i < FO_EVENT__COUNT; i++)
        for (int j = i + 1; j < FO_EVENT__COUNT; j++)
            cr_assert_str_neq(fo_event_info(i)->name, fo_event_info(j)->name);
    cr_assert_str_eq(EV_NODE_DOWN, "node_down");
    cr_assert_str_eq(EV_PRIMARY_DEAD, fo_event_info(FO_EVENT_PRIMARY_DEAD)->name);
    cr_assert_eq(hooks_point_of_event(EV_PRIMARY_DEAD), FAILOVERD_HOOK_DETECTION);
    cr_assert_eq(hooks_point_of_event(EV_FAILOVER_ABORTED), FAILOVERD_HOOK_FAILOVER_FAILED);
    cr_assert_eq(hooks_point_of_event(EV_PRIMARY_SUSPECT), -1);
    cr_assert_eq(hooks_point_of_event("no_such_event"), -1);
}

static const char *const sections[] = {"## Monitoring", "## Failovers and switchovers",
                                       "## After a failover", "## The daemon", "## Hooks"};

/* Each section's table is the registry's, generated (fo_events_doc_table)
 * between its markers: the file holds exactly what failoverd
 * --print-events-doc prints for it. */
Test(names, docs_events_tables_are_the_registry)
{
    char *doc = test_slurp(EVENTS_DOC);
    cr_assert_not_null(doc, "%s can be read", EVENTS_DOC);
    for (int g = 0; g <= FO_EVGROUP_HOOKS; g++) {
        const char *sec = strstr(doc, sections[g]);
        cr_assert(sec, "docs/events.md has no section \"%s\"", sections[g]);
        const char *next = strstr(sec + 3, "\n## ");
        const char *begin = strstr(sec, fo_events_doc_marker((fo_event_group_t)g));
        cr_assert(begin && (!next || begin < next),
                  "docs/events.md, section \"%s\": no generated table (%s)", sections[g],
                  fo_events_doc_marker((fo_event_group_t)g));
        begin = strchr(begin, '\n') + 1;
        const char *end = strstr(begin, "<!-- END GENERATED -->");
        cr_assert_not_null(end);
        buf_t want = BUF_INIT;
        fo_events_doc_table((fo_event_group_t)g, &want);
        char *part = strndup(begin, (size_t)(end - begin));
        cr_expect_str_eq(part, buf_str(&want),
                         "docs/events.md, section \"%s\", is out of date: regenerate its tables "
                         "from lib/core/names.h with failoverd --print-events-doc (see the "
                         "command in the file)",
                         sections[g]);
        free(part);
        buf_free(&want);
    }
    /* Every table --print-events-doc prints is in the file, markers included. */
    buf_t all = BUF_INIT;
    fo_events_doc(&all);
    for (const char *p = buf_str(&all); (p = strstr(p, "<!-- BEGIN")) != NULL;) {
        const char *e = strstr(p, "<!-- END GENERATED -->\n");
        cr_assert_not_null(e);
        e += strlen("<!-- END GENERATED -->\n");
        char *blk = strndup(p, (size_t)(e - p));
        cr_expect(strstr(doc, blk), "docs/events.md lacks:\n%s", blk);
        free(blk);
        p = e;
    }
    buf_free(&all);
    /* No row names an event the registry lacks. */
    for (const char *p = strstr(doc, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
        char name[64];
        if (sscanf(p, "\n| `%63[a-z_]` |", name) != 1)
            continue;
        bool known = fo_hook_by_name(name) != FO_HOOK_NONE;
        for (int e = 0; e < FO_EVENT__COUNT && !known; e++)
            known = strcmp(fo_event_info(e)->name, name) == 0;
        static const char *const members[] = {"event", "cluster", "node", "level", "message", "time"};
        for (size_t m = 0; m < sizeof members / sizeof members[0] && !known; m++)
            known = strcmp(members[m], name) == 0;
        cr_assert(known, "docs/events.md has a row for \"%s\", which lib/core/names.h does not know", name);
    }
    free(doc);
}

Test(names, docs_hook_tables_are_the_registry)
{
    char *doc = test_slurp(EVENTS_DOC);
    cr_assert_not_null(doc, "%s can be read", EVENTS_DOC);
    char *sec = strstr(doc, "## Events and hook points");
    cr_assert(sec);
    /* Points run as plan steps, with their veto column: the table ends at the
     * first empty line. */
    char *steps = strstr(sec, "| Point | Runs | May veto |");
    cr_assert(steps, "docs/events.md: no table of the points run as steps");
    char *blank = strstr(steps, "\n\n");
    cr_assert(blank);
    *blank = '\0';
    for (int p = 0; p < FO_HOOK__COUNT; p++) {
        const fo_hook_info_t *h = fo_hook_info(p);
        char head[64];
        snprintf(head, sizeof head, "\n| `%s` | ", h->name);
        const char *row = strstr(steps, head);
        cr_assert_eq(row != NULL, h->step, "point %s: in the table of steps: %d, a step: %d",
                     h->name, row != NULL, h->step);
        if (row) {
            const char *end = strchr(row + 1, '\n');
            if (!end)
                end = row + strlen(row);
            bool yes = end - row > 7 && strncmp(end - 7, "| yes |", 7) == 0;
            cr_assert_eq(yes, h->veto, "point %s: the may-veto column", h->name);
        }
    }
    *blank = '\n';
    /* Which events feed which point, in registry order. */
    buf_t want = BUF_INIT;
    for (int p = 0; p < FO_HOOK__COUNT; p++) {
        bool first = true;
        for (int e = 0; e < FO_EVENT__COUNT; e++) {
            if (fo_event_info(e)->hook != p)
                continue;
            buf_printf(&want, first ? "| `%s`" : ", `%s`", fo_event_info(e)->name);
            first = false;
        }
        if (!first)
            buf_printf(&want, " | `%s` |\n", fo_hook_info(p)->name);
    }
    cr_assert(strstr(sec, buf_str(&want)), "docs/events.md: the table of events and points should read:\n%s",
              buf_str(&want));
    buf_free(&want);
    free(doc);
}
