/* sink.c - see sink.h. */
#include "sink.h"

#include <stdbool.h>
#include <string.h>

#include "timefmt.h"

#define MAX_SINKS 32

static struct {
    event_sink_fn fn;
    void *ud;
} sinks[MAX_SINKS];
static bool emitting; /* a sink that emits an event must not recurse into sinks */

int event_add_sink(event_sink_fn fn, void *ud)
{
    for (int i = 0; i < MAX_SINKS; i++)
        if (!sinks[i].fn) {
            sinks[i].fn = fn;
            sinks[i].ud = ud;
            return i;
        }
    log_error("too many event sinks (%d)", MAX_SINKS);
    return -1;
}

void event_remove_sink(int id)
{
    if (id >= 0 && id < MAX_SINKS)
        sinks[id].fn = NULL;
}

void event_remove_all_sinks(void)
{
    memset(sinks, 0, sizeof sinks);
}

void event_dispatch(const event_t *ev)
{
    if (emitting)
        return;
    emitting = true;
    for (int i = 0; i < MAX_SINKS; i++)
        if (sinks[i].fn)
            sinks[i].fn(ev, sinks[i].ud);
    emitting = false;
}

json_t *event_to_json(const event_t *ev)
{
    char ts[32];
    format_wall_ms(ev->wall_ms, ts, sizeof ts);
    json_t *o = json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s}", "event", ev->name, "cluster",
                          ev->cluster, "node", ev->node, "level", log_level_str(ev->level),
                          "message", ev->message, "time", ts);
    json_object_update_missing(o, ev->data);
    return o;
}
