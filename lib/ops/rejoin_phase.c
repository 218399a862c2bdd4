/* rejoin_phase.c - the rejoin's phases and the one way into them (see
 * rejoin_phase.h). */
#include "rejoin_phase.h"

#include <stdarg.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "rejoin_int.h"

const char *rejoin_phase_str(rejoin_phase_t p)
{
    switch (p) {
#define REJOIN_PHASE_STR(n, s, e)                                                                  \
    case REJOIN_PHASE_##n: return s;
        REJOIN_PHASES(REJOIN_PHASE_STR)
#undef REJOIN_PHASE_STR
    }
    return "?";
}

bool rejoin_phase_ends(rejoin_phase_t p)
{
    switch (p) {
#define REJOIN_PHASE_ENDS(n, s, e)                                                                 \
    case REJOIN_PHASE_##n: return e;
        REJOIN_PHASES(REJOIN_PHASE_ENDS)
#undef REJOIN_PHASE_ENDS
    }
    return false;
}

bool rejoin_phase_runs_plan(rejoin_phase_t p)
{
    return p == REJOIN_PHASE_COMPARING || p == REJOIN_PHASE_REJOINING ||
           p == REJOIN_PHASE_VERIFYING || p == REJOIN_PHASE_FENCING;
}

void rejoin__enter(rejoin_t *r, rejoin_phase_t p, log_level_t lvl, const char *event,
                   json_t *fields, const char *fmt, ...)
{
    rejoin__journal_phase(r, r->phase, p);
    r->phase = p;
    r->phase_at = uv_now(r->loop);
    buf_t b = BUF_INIT;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        buf_vprintf(&b, fmt, ap);
        va_end(ap);
    }
    if (event)
        event_emit(lvl, event, r->s.cluster, r->node.name, fields, "%s", buf_str(&b));
    else
        log_fields(LOG_LVL_DEBUG, r->s.cluster, r->node.name, "node_rejoin", "rejoin phase %s%s%s",
                   rejoin_phase_str(p), b.len ? ": " : "", buf_str(&b));
    buf_free(&b);
}
