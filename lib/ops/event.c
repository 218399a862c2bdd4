/* event.c - see event.h. */
#include "event.h"

#include <stdarg.h>

#include "buf.h"

void event_emit(log_level_t lvl, const char *name, const char *cluster, const char *node,
                json_t *data, const char *fmt, ...)
{
    buf_t msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    event_t ev = {.name = name, .cluster = cluster, .node = node, .level = lvl,
                  .message = buf_str(&msg), .data = data ? data : json_object(),
                  .wall_ms = wall_now_ms()};
    log_fields(lvl, cluster, node, name, "%s", ev.message);
    event_dispatch(&ev);
    json_decref(ev.data);
    buf_free(&msg);
}
