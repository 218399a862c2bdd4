/* flap.c - the flap detector (see flap.h). */
#include "flap.h"

#include <string.h>

flap_change_t flap_episode(flap_t *f, uint64_t now)
{
    f->total++;
    f->last = now ? now : 1;
    if (f->flapping) {
        f->episodes++;
        return FLAP_SAME;
    }
    /* Drop the starts that fell out of the window, then remember this one. */
    size_t keep = 0;
    for (size_t i = 0; i < f->n; i++)
        if (now - f->starts[i] < FLAP_WINDOW_MS)
            f->starts[keep++] = f->starts[i];
    f->n = keep;
    if (f->n == FLAP_MAX) {
        memmove(f->starts, f->starts + 1, (FLAP_MAX - 1) * sizeof f->starts[0]);
        f->n--;
    }
    f->starts[f->n++] = now;
    if (f->n < FLAP_EPISODES)
        return FLAP_SAME;
    f->flapping = true;
    f->since = now;
    f->episodes = (unsigned)f->n;
    f->quieted = 0;
    f->n = 0;
    return FLAP_STARTED;
}

flap_change_t flap_tick(flap_t *f, bool healthy, uint64_t now)
{
    if (!f->flapping || !healthy || now - f->last < FLAP_QUIET_MS)
        return FLAP_SAME;
    f->flapping = false;
    return FLAP_CLEARED;
}

bool flap_quiet(flap_t *f, bool is_dead)
{
    if (!f->flapping || is_dead)
        return false;
    f->quieted++;
    return true;
}

void flap_reset(flap_t *f)
{
    unsigned total = f->total;
    memset(f, 0, sizeof *f);
    f->total = total;
}

uint64_t flap_dead_not_before(const flap_t *f, uint64_t unreached_since)
{
    if (!f->flapping || !unreached_since)
        return 0;
    return unreached_since + FLAP_DEAD_HOLD_MS;
}
