/* admit.c - see admit.h. */
#include "admit.h"

#include <stdio.h>

bool admit_blocked(const admit_facts_t *a, uint64_t now, char *why, size_t len)
{
    if (a->not_leader) {
        snprintf(why, len, "%s", a->not_leader);
        return true;
    }
    if (a->state_unknown) {
        snprintf(why, len, "state unknown: %s; check the cluster and acknowledge with "
                           "`failoverctl ack %s`",
                 a->state_unknown, a->cluster);
        return true;
    }
    if (a->interrupted) {
        snprintf(why, len, "an earlier operation was interrupted; acknowledge it with "
                           "`failoverctl ack %s`", a->cluster);
        return true;
    }
    if (a->paused) {
        snprintf(why, len, "the cluster is paused (`failoverctl resume %s`)", a->cluster);
        return true;
    }
    if (a->unsupported) {
        snprintf(why, len, "%s", a->unsupported);
        return true;
    }
    if (a->last_failover_wall && !a->last_acked &&
        now < a->last_failover_wall + a->failover_block_ms) {
        snprintf(why, len, "the last failover%s%s%s ended %llu s ago, within failover_block (%llu "
                           "s); acknowledge it with `failoverctl ack %s` to allow another",
                 a->last_failover_op ? " (operation " : "",
                 a->last_failover_op ? a->last_failover_op : "", a->last_failover_op ? ")" : "",
                 (unsigned long long)((now - a->last_failover_wall) / 1000),
                 (unsigned long long)(a->failover_block_ms / 1000), a->cluster);
        return true;
    }
    return false;
}

bool admit_automatic_blocked(const admit_facts_t *a, bool auto_failover, uint64_t now, char *why,
                             size_t len)
{
    if (a->not_leader)
        return admit_blocked(a, now, why, len);
    if (!auto_failover) {
        snprintf(why, len,
                 "automatic failover is off (auto_failover = false); fail over with "
                 "`failoverctl failover %s [--to NODE]`",
                 a->cluster);
        return true;
    }
    return admit_blocked(a, now, why, len);
}

/* The checks of a failover of a known primary. */
static admit_answer_t admit_failover(const admit_request_t *q, char *why, size_t len)
{
    if (q->verdict == VERDICT_HEALTHY && q->primary_up && !(q->force && q->replicas_lost_primary)) {
        snprintf(why, len, "the primary is healthy: use `failoverctl switchover` to move it");
        return ADMIT_REFUSED;
    }
    if (q->verdict != VERDICT_DEAD && !q->force) {
        snprintf(why, len, "the primary is %s, not dead: replicas may still receive from "
                           "it; add --force to fail over anyway",
                 verdict_str(q->verdict));
        return ADMIT_REFUSED;
    }
    return ADMIT_OK;
}

admit_answer_t admit_request(const admit_facts_t *a, const admit_request_t *q, uint64_t now,
                             char *why, size_t len)
{
    if (a->not_leader) {
        snprintf(why, len, "%s", a->not_leader);
        return ADMIT_REFUSED;
    }
    if (q->running) {
        snprintf(why, len, "%s",
                 q->holding ? "a failover of this cluster is holding (failoverctl status says "
                              "why); `failoverctl failover CLUSTER --force` or --policy "
                              "availability accepts what it waits for"
                            : "an operation is already running on this cluster");
        return ADMIT_BUSY;
    }
    if ((a->interrupted || a->state_unknown) && admit_blocked(a, now, why, len))
        return ADMIT_REFUSED;
    if (a->unsupported) {
        snprintf(why, len, "%s", a->unsupported);
        return ADMIT_REFUSED;
    }
    if (!q->has_primary) {
        snprintf(why, len, "the primary is not known");
        return ADMIT_REFUSED;
    }
    if (q->to && !q->to_exists) {
        snprintf(why, len, "no node named \"%s\" in %s", q->to, a->cluster);
        return ADMIT_NOT_FOUND;
    }
    return q->failover ? admit_failover(q, why, len) : ADMIT_OK;
}

const char *admit_code(admit_answer_t a)
{
    switch (a) {
    case ADMIT_OK:
        return NULL;
    case ADMIT_BUSY:
        return "busy";
    case ADMIT_NOT_FOUND:
        return "not_found";
    case ADMIT_REFUSED:
        break;
    }
    return "failed";
}
