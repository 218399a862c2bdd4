/* startup.c - see startup.h. */
#include "startup.h"

bool startup_primary_seen(const cluster_t *c)
{
    return c->primary >= 0 && (size_t)c->primary < c->n_nodes && c->nodes[c->primary].last_ok.ok;
}

startup_verdict_t startup_judge(bool primary_seen, policy_t policy, uint64_t watch_since,
                                uint64_t grace_ms, uint64_t now, uint64_t *until)
{
    if (primary_seen)
        return STARTUP_GO;
    if (policy == POLICY_RELIABILITY)
        return STARTUP_REFUSE;
    uint64_t end = watch_since + grace_ms;
    if (now < end) {
        if (until)
            *until = end;
        return STARTUP_WAIT;
    }
    return STARTUP_GO;
}
