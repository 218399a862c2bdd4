/* rejoin_phase.h - the phases of the rejoin's one action at a time.
 *
 *   watching ──> fencing ──> fenced | fence_failed                  ──> watching
 *       └──────> comparing ──> errant | ready | failed              ──> watching
 *                    └──────> rejoining ──> verifying ──> rejoined | failed ──> watching
 *
 * Every change goes through rejoin__enter(), which sets the phase, stamps the
 * time and, for the phases that end an action, emits the action's event (the
 * one place the rejoin's events leave from); the other phases are logged at
 * debug level. The names (rejoin_phase_str) are written out once, in
 * REJOIN_PHASES. docs/recovery.md describes the phases for operators. */
#ifndef FAILOVERD_REJOIN_PHASE_H
#define FAILOVERD_REJOIN_PHASE_H

#include <stdbool.h>

/* X(NAME, "name", ends-an-action) */
#define REJOIN_PHASES(X)                                                                           \
    X(WATCHING, "watching", false)                                                                 \
    X(FENCING, "fencing", false)                                                                   \
    X(FENCED, "fenced", true)                                                                      \
    X(FENCE_FAILED, "fence_failed", true)                                                          \
    X(COMPARING, "comparing", false)                                                               \
    X(ERRANT, "errant", true)                                                                      \
    X(READY, "ready", true)                                                                        \
    X(REJOINING, "rejoining", false)                                                               \
    X(VERIFYING, "verifying", false)                                                               \
    X(REJOINED, "rejoined", true)                                                                  \
    X(FAILED, "failed", true)

typedef enum {
#define REJOIN_PHASE_ENUM(n, s, e) REJOIN_PHASE_##n,
    REJOIN_PHASES(REJOIN_PHASE_ENUM)
#undef REJOIN_PHASE_ENUM
} rejoin_phase_t;

const char *rejoin_phase_str(rejoin_phase_t p);
/* Whether the phase ends an action (the next is watching). */
bool rejoin_phase_ends(rejoin_phase_t p);
/* Whether the phase's work is a part of the action's plan, run by the
 * executor (comparing, rejoining, verifying, fencing): such a phase has
 * journal records of its own, on entering and leaving it. */
bool rejoin_phase_runs_plan(rejoin_phase_t p);

#endif
