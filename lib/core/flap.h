/* flap.h - a primary whose link keeps dropping for a moment: one alert with
 * counts instead of a suspect/healthy pair per blip.
 *
 * An episode is the primary's verdict leaving `healthy` (it became suspect).
 * FLAP_EPISODES episodes whose starts lie within FLAP_WINDOW_MS make the
 * primary flapping: primary_flapping is reported once, with the counts, and
 * from then on the verdict events of its blips (suspect, unreachable, healthy
 * again) are kept quiet and only counted. Once no episode began for
 * FLAP_QUIET_MS while the verdict is healthy, primary_flapping_cleared says
 * how many episodes there were and how many events were kept quiet. A dead
 * verdict is never kept quiet, and nothing here changes what the detector
 * decides or what a failover does: it only shapes the alerts.
 *
 * Pure: time comes in as an argument (monotonic ms). */
#ifndef FAILOVERD_FLAP_H
#define FAILOVERD_FLAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLAP_EPISODES 3        /* episodes within the window that make it flapping */
#define FLAP_WINDOW_MS 300000  /* ... the window (5 min) */
#define FLAP_QUIET_MS 120000   /* healthy without a new episode this long: cleared (2 min) */
#define FLAP_MAX FLAP_EPISODES /* starts remembered */
/* While flapping, the primary is not dead before it has been unreached this
 * long: a blip of a flapping link delays TCP's retransmissions, and replicas
 * (which confirm after three silent heartbeat periods) then see silence well
 * beyond the blip itself; a real failure is detected this much later. */
#define FLAP_DEAD_HOLD_MS 2500

typedef struct {
    uint64_t starts[FLAP_MAX]; /* starts of the latest episodes, oldest first */
    size_t n;
    bool flapping;
    uint64_t since;            /* when it became flapping */
    uint64_t last;             /* start of the latest episode (0: none) */
    unsigned episodes;         /* episodes since it became flapping, the first N included */
    unsigned quieted;          /* verdict events kept quiet since then */
    unsigned total;            /* episodes ever seen (status) */
} flap_t;

typedef enum { FLAP_SAME, FLAP_STARTED, FLAP_CLEARED } flap_change_t;

/* The verdict of the primary went from healthy to something else at now.
 * Returns FLAP_STARTED when this episode makes it flapping. */
flap_change_t flap_episode(flap_t *f, uint64_t now);
/* Called on every evaluation: returns FLAP_CLEARED (once) when it was
 * flapping and no episode began for FLAP_QUIET_MS while healthy. */
flap_change_t flap_tick(flap_t *f, bool healthy, uint64_t now);
/* Whether an event of the verdict going to `dead` (is_dead) or any other
 * verdict is kept quiet now; counts it when it is. */
bool flap_quiet(flap_t *f, bool is_dead);
/* The earliest time the primary may be found dead, unreached since
 * unreached_since (0: it answers): 0 when there is no such bound (not
 * flapping, or it answers). */
uint64_t flap_dead_not_before(const flap_t *f, uint64_t unreached_since);
/* Forget everything (the primary changed). */
void flap_reset(flap_t *f);

#endif
