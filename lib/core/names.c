/* names.c - see names.h. */
#include "names.h"

#include "buf.h"

#include <failoverd/plugin.h>
#include <stddef.h>
#include <string.h>

/* The plugin ABI's numbers are the registry's order. */
#define FO_HOOK_ABI_(id, name, veto, step, after, doc)                                             \
    _Static_assert((int)FO_HOOK_##id == (int)FAILOVERD_HOOK_##id, "hook point " name);
FO_HOOK_POINT_MAP(FO_HOOK_ABI_)
#undef FO_HOOK_ABI_
_Static_assert((int)FO_HOOK__COUNT == (int)FAILOVERD_HOOK__COUNT, "hook points");

static const fo_hook_info_t hook_info[] = {
#define FO_HOOK_INFO_(id, name, veto, step, after, doc) {name, veto, step, after, doc},
    FO_HOOK_POINT_MAP(FO_HOOK_INFO_)
#undef FO_HOOK_INFO_
};

const fo_hook_info_t *fo_hook_info(int point)
{
    return point >= 0 && point < FO_HOOK__COUNT ? &hook_info[point] : NULL;
}

/* The index of the entry named name in a registry table of count entries of
 * size bytes, each starting with its name; -1 for none. */
static int index_by_name(const void *table, size_t count, size_t size, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        const char *const *entry = (const void *)((const char *)table + i * size);
        if (strcmp(*entry, name) == 0)
            return (int)i;
    }
    return -1;
}
_Static_assert(offsetof(fo_hook_info_t, name) == 0, "a hook point's name comes first");
_Static_assert(offsetof(fo_event_info_t, name) == 0, "an event's name comes first");

fo_hook_point_t fo_hook_by_name(const char *name)
{
    int i = index_by_name(hook_info, FO_HOOK__COUNT, sizeof hook_info[0], name);
    return i < 0 ? FO_HOOK_NONE : (fo_hook_point_t)i;
}

#define FO_EVENT_DEF_(id, name, group, level, node, hook, fields) const char EV_##id[] = name;
FO_EVENT_MAP(FO_EVENT_DEF_)
#undef FO_EVENT_DEF_

static const fo_event_info_t event_info[] = {
#define FO_EVENT_INFO_(id, name, group, level, node, hook, fields)                                 \
    {name, group, level, node, hook, fields},
    FO_EVENT_MAP(FO_EVENT_INFO_)
#undef FO_EVENT_INFO_
};

const fo_event_info_t *fo_event_info(int ev)
{
    return ev >= 0 && ev < FO_EVENT__COUNT ? &event_info[ev] : NULL;
}

fo_hook_point_t fo_event_hook(const char *name)
{
    int i = index_by_name(event_info, FO_EVENT__COUNT, sizeof event_info[0], name);
    return i < 0 ? FO_HOOK_NONE : event_info[i].hook;
}

/* ---- docs/events.md ---------------------------------------------------------------- */

/* Which columns a group's table has: the daemon's and the hooks' events name
 * no node; only the monitor's and the operations' feed hook points. */
static bool has_node_column(fo_event_group_t g)
{
    return g != FO_EVGROUP_DAEMON && g != FO_EVGROUP_HOOKS;
}

static bool has_hook_column(fo_event_group_t g)
{
    return g == FO_EVGROUP_MONITOR || g == FO_EVGROUP_OPERATION;
}

const char *fo_events_doc_marker(fo_event_group_t group)
{
    switch (group) {
    case FO_EVGROUP_MONITOR:
        return "<!-- BEGIN GENERATED events: monitoring, by failoverd --print-events-doc -->";
    case FO_EVGROUP_OPERATION:
        return "<!-- BEGIN GENERATED events: operations, by failoverd --print-events-doc -->";
    case FO_EVGROUP_REJOIN:
        return "<!-- BEGIN GENERATED events: rejoin, by failoverd --print-events-doc -->";
    case FO_EVGROUP_DAEMON:
        return "<!-- BEGIN GENERATED events: daemon, by failoverd --print-events-doc -->";
    case FO_EVGROUP_HOOKS:
        return "<!-- BEGIN GENERATED events: hooks, by failoverd --print-events-doc -->";
    }
    return "<!-- BEGIN GENERATED events -->";
}

void fo_events_doc_table(fo_event_group_t group, buf_t *out)
{
    bool node = has_node_column(group), hook = has_hook_column(group);
    buf_printf(out, "| Event | Level |%s Fields |%s\n", node ? " `node` |" : "",
               hook ? " Hook point |" : "");
    buf_printf(out, "|---|---|%s---|%s\n", node ? "---|" : "", hook ? "---|" : "");
    for (int i = 0; i < FO_EVENT__COUNT; i++) {
        const fo_event_info_t *e = &event_info[i];
        if (e->group != group)
            continue;
        buf_printf(out, "| `%s` | %s |", e->name, e->level);
        if (node)
            buf_printf(out, e->node[0] ? " %s |" : " |", e->node);
        buf_printf(out, e->fields[0] ? " %s |" : " |", e->fields);
        if (hook) {
            const fo_hook_info_t *h = fo_hook_info(e->hook);
            buf_printf(out, h ? " `%s` |" : " |", h ? h->name : "");
        }
        buf_puts(out, "\n");
    }
}

void fo_events_doc(buf_t *out)
{
    for (int g = FO_EVGROUP_MONITOR; g <= FO_EVGROUP_HOOKS; g++) {
        buf_printf(out, "%s\n", fo_events_doc_marker((fo_event_group_t)g));
        fo_events_doc_table((fo_event_group_t)g, out);
        buf_puts(out, "<!-- END GENERATED -->\n");
    }
}
