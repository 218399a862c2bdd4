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

/* The row of an event as its section of docs/events.md writes it. */
static void event_row(const fo_event_info_t *e, buf_t *out)
{
    buf_printf(out, "| `%s` | %s |", e->name, e->level);
    bool has_node = e->group != FO_EVGROUP_DAEMON && e->group != FO_EVGROUP_HOOKS;
    bool has_hook = e->group == FO_EVGROUP_MONITOR || e->group == FO_EVGROUP_OPERATION;
    if (has_node)
        buf_printf(out, e->node[0] ? " %s |" : " |", e->node);
    buf_printf(out, e->fields[0] ? " %s |" : " |", e->fields);
    if (has_hook) {
        const fo_hook_info_t *h = fo_hook_info(e->hook);
        buf_printf(out, h ? " `%s` |" : " |", h ? h->name : "");
    }
    buf_printf(out, "\n");
}

static const char *const sections[] = {"## Monitoring", "## Failovers and switchovers",
                                       "## After a failover", "## The daemon", "## Hooks"};

Test(names, docs_events_tables_are_the_registry)
{
    char *doc = test_slurp(EVENTS_DOC);
    cr_assert_not_null(doc, "%s can be read", EVENTS_DOC);
    for (int g = 0; g <= FO_EVGROUP_HOOKS; g++) {
        const char *sec = strstr(doc, sections[g]);
        cr_assert(sec, "docs/events.md has no section \"%s\"", sections[g]);
        buf_t rows = BUF_INIT;
        for (int e = 0; e < FO_EVENT__COUNT; e++)
            if ((int)fo_event_info(e)->group == g)
                event_row(fo_event_info(e), &rows);
        cr_assert(strstr(sec, buf_str(&rows)) && strstr(sec, buf_str(&rows)) < strstr(sec + 3, "\n## "),
                  "docs/events.md, section \"%s\": the table's rows are not the registry's "
                  "(lib/core/names.h); they should read:\n%s",
                  sections[g], buf_str(&rows));
        buf_free(&rows);
    }
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
