/* outcome.h - how the hooks of one point ended (core: shared by the executor,
 * which waits for hook steps, and hooks.c, which runs them). */
#ifndef FAILOVERD_OUTCOME_H
#define FAILOVERD_OUTCOME_H

typedef enum {
    HOOKS_OK,
    HOOKS_VETOED,      /* non-zero exit (or a plugin's veto) at a veto point */
    HOOKS_FAILED,      /* non-zero exit elsewhere, killed by a signal, or a plugin failure */
    HOOKS_TIMEOUT,     /* outlived the hook timeout; killed (scripts) or abandoned (plugins) */
    HOOKS_SPAWN_ERROR, /* the script could not be started */
} hooks_outcome_t;

#endif
