/* event.c - see event.h. */
#include "event.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "buf.h"

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

uint64_t wall_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

void format_wall_ms(uint64_t wall_ms, char *out, size_t len)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char ts[24];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03uZ", ts, (unsigned)(wall_ms % 1000));
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
    if (!emitting) {
        emitting = true;
        for (int i = 0; i < MAX_SINKS; i++)
            if (sinks[i].fn)
                sinks[i].fn(&ev, sinks[i].ud);
        emitting = false;
    }
    json_decref(ev.data);
    buf_free(&msg);
}
