/* sink.h - the event record and the registry of its sinks (io).
 *
 * event_emit() (event.h) builds an event_t and hands it to every sink
 * registered here: webhooks, the journal's watchers, plugins and script hooks,
 * metrics, the control socket.  The modules that consume events depend on this
 * interface only, never on the code that emits them.
 */
#ifndef FAILOVERD_SINK_H
#define FAILOVERD_SINK_H

#include <jansson.h>
#include <stdint.h>

#include "log.h"

typedef struct {
    const char *name;    /* e.g. "primary_dead" */
    const char *cluster; /* may be NULL (daemon-wide events) */
    const char *node;    /* may be NULL */
    log_level_t level;
    const char *message; /* one sentence for people */
    json_t *data;        /* extra fields (an object, never NULL); borrowed by sinks */
    uint64_t wall_ms;    /* wall-clock time of the event, ms since the epoch */
} event_t;

typedef void (*event_sink_fn)(const event_t *ev, void *ud);

/* Registers a sink; returns an id for event_remove_sink().  There is no limit
 * on the number of sinks. */
int event_add_sink(event_sink_fn fn, void *ud);
void event_remove_sink(int id);
void event_remove_all_sinks(void);

/* Hands ev to every registered sink, in registration order.  A sink that emits
 * an event itself does not recurse into the sinks (that event is only logged). */
void event_dispatch(const event_t *ev);

/* The event as one JSON object: {"event","cluster","node","level","message","time",...data}.
 * New reference. */
json_t *event_to_json(const event_t *ev);

#endif
