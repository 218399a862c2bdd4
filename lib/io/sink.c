/* sink.c - see sink.h. */
#include "sink.h"

#include <stdbool.h>
#include <stdlib.h>

#include "buf.h"
#include "timefmt.h"

/* The registry grows as sinks are added (one daemon registers a few per
 * cluster, and a configuration may hold any number of clusters).  An id is an
 * index; a removed sink leaves a hole that the next registration reuses. */
typedef struct {
    event_sink_fn fn;
    void *ud;
} sink_slot_t;

static sink_slot_t *sinks;
static size_t n_sinks, cap_sinks;
static bool emitting; /* a sink that emits an event must not recurse into sinks */

int event_add_sink(event_sink_fn fn, void *ud)
{
    size_t i = 0;
    while (i < n_sinks && sinks[i].fn)
        i++;
    if (i == n_sinks) {
        if (n_sinks == cap_sinks) {
            cap_sinks = cap_sinks ? cap_sinks * 2 : 16;
            sinks = xrealloc(sinks, cap_sinks * sizeof *sinks);
        }
        n_sinks++;
    }
    sinks[i] = (sink_slot_t){.fn = fn, .ud = ud};
    return (int)i;
}

void event_remove_sink(int id)
{
    if (id >= 0 && (size_t)id < n_sinks)
        sinks[id].fn = NULL;
}

void event_remove_all_sinks(void)
{
    free(sinks);
    sinks = NULL;
    n_sinks = cap_sinks = 0;
}

void event_dispatch(const event_t *ev)
{
    if (emitting)
        return;
    emitting = true;
    /* By index, re-reading the array: a sink may add or remove sinks. */
    for (size_t i = 0; i < n_sinks; i++) {
        sink_slot_t s = sinks[i];
        if (s.fn)
            s.fn(ev, s.ud);
    }
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
