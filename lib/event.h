/* event.h - the one exit for everything that happens.
 *
 * Every event goes through event_emit(): it is logged (with journald fields
 * under systemd) and handed to every registered sink - webhooks, plugins,
 * script hooks, the control socket's watchers. Event names are stable and
 * documented in docs/events.md; sinks filter by name.
 */
#ifndef FAILOVERD_EVENT_H
#define FAILOVERD_EVENT_H

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

/* Registers a sink; returns an id for event_remove_sink(). */
int event_add_sink(event_sink_fn fn, void *ud);
void event_remove_sink(int id);
void event_remove_all_sinks(void);

/* Emits an event. data (may be NULL) is an object of extra fields; its
 * reference is stolen. */
void event_emit(log_level_t lvl, const char *name, const char *cluster, const char *node,
                json_t *data, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The event as one JSON object: {"event","cluster","node","level","message","time",...data}.
 * New reference. */
json_t *event_to_json(const event_t *ev);

/* ISO-8601 UTC with milliseconds, e.g. 2026-11-23T22:50:01.123Z; out needs 32 bytes. */
void format_wall_ms(uint64_t wall_ms, char *out, size_t len);
uint64_t wall_now_ms(void);

#endif
