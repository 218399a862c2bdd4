/* stepname.h - what a plan step is, as a type, and its name as text.
 *
 * A step is built with its role (what it does in the operation: promote,
 * fence, sync, a hook ...), the hook point of a hook step, and its argument
 * (the node's name; for a hook step the point's name). Its name, "role:arg"
 * ("promote:db2", "hook:post_promotion", "refresh"), is that formatted: the
 * text that the journal, the events, status and the crash_at_step knob use.
 * Code decides on the role and the hook point; text is made from them at
 * those edges, and read back into them where it comes in (a journal written
 * by this or an earlier version: the text has always been this form).
 *
 * Pure: names and formatting only. */
#ifndef FAILOVERD_STEPNAME_H
#define FAILOVERD_STEPNAME_H

#include <stdbool.h>

#include "buf.h"
#include "names.h"

/* X(ID, "text") */
#define STEP_ROLE_MAP(X)                                                                           \
    X(STOP_IO, "stop_io")                                                                          \
    X(FENCE, "fence")                                                                              \
    X(HOOK, "hook")                                                                                \
    X(REFRESH, "refresh")                                                                          \
    X(APPLY, "apply")                                                                              \
    X(CATCHUP_START, "catchup_start")                                                              \
    X(CATCHUP_WAIT, "catchup_wait")                                                                \
    X(CHECK, "check")                                                                              \
    X(SALVAGE_READ_ONLY, "salvage_read_only")                                                      \
    X(CAPTURE_SALVAGED, "capture_salvaged")                                                        \
    X(SALVAGE, "salvage")                                                                          \
    X(STOP_REPLICA, "stop_replica")                                                                \
    X(CAPTURE, "capture")                                                                          \
    X(PROMOTE, "promote")                                                                          \
    X(SEMISYNC, "semisync")                                                                        \
    X(REPOINT, "repoint")                                                                          \
    X(VERIFY, "verify")                                                                            \
    X(CHECK_LAG, "check_lag")                                                                      \
    X(BLOCK_WRITES, "block_writes")                                                                \
    X(SYNC, "sync")                                                                                \
    X(ROLLBACK_WRITES, "rollback_writes")                                                          \
    X(ROLLBACK_REPLICA, "rollback_replica")                                                        \
    X(REJOIN, "rejoin")                                                                            \
    X(RESTART_REPLICA, "restart_replica")                                                          \
    X(FENCE_WAIT, "fence_wait")

typedef enum {
    STEP_ROLE_UNKNOWN = 0, /* a name this version does not know */
#define STEP_ROLE_ENUM_(id, text) STEP_ROLE_##id,
    STEP_ROLE_MAP(STEP_ROLE_ENUM_)
#undef STEP_ROLE_ENUM_
        STEP_ROLE__COUNT
} step_role_t;

/* A step's name, read back into types. */
typedef struct {
    step_role_t role;
    fo_hook_point_t hook; /* STEP_ROLE_HOOK: the point (FO_HOOK_NONE when unknown) */
    const char *arg;      /* after the ':' (a node, a point, "after_failure"), "" without */
} step_id_t;

const char *step_role_str(step_role_t r);
/* "role:arg", or "role" when arg is NULL or empty, appended to out. */
void step_name_format(step_role_t role, const char *arg, buf_t *out);
/* The name of the hook step of point ("hook:post_promotion"); a static string. */
const char *step_hook_name(fo_hook_point_t point);
/* Reads a step's name as the journal holds it (arg points into name):
 * false, with role STEP_ROLE_UNKNOWN, for NULL or a role this version does
 * not know. */
bool step_name_parse(const char *name, step_id_t *id);
/* Whether name (journal or result text) is the step of role (on node, when
 * node is not NULL; of hook point, for STEP_ROLE_HOOK when hook is not
 * FO_HOOK_NONE). */
bool step_name_is(const char *name, step_role_t role, fo_hook_point_t hook, const char *node);

#endif
