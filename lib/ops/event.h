/* event.h - the one exit for everything that happens.
 *
 * Every event goes through event_emit(): it is logged (with journald fields
 * under systemd) and handed to every registered sink (sink.h) - webhooks,
 * plugins, script hooks, the control socket's watchers. Event names are stable,
 * declared once in names.h and documented in docs/events.md; sinks filter by
 * name.
 */
#ifndef FAILOVERD_EVENT_H
#define FAILOVERD_EVENT_H

#include <jansson.h>
#include <stdint.h>

#include "log.h"
#include "names.h"
#include "sink.h"
#include "timefmt.h"
#include "wallclock.h"

/* Emits an event. data (may be NULL) is an object of extra fields; its
 * reference is stolen. */
void event_emit(log_level_t lvl, const char *name, const char *cluster, const char *node,
                json_t *data, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
