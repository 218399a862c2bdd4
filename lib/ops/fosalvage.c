/* fosalvage.c - reliability's hold lifted by the salvage (salvage_gate in
 * salvage.h; docs/failover.md, "Salvage").
 *
 * Under reliability an election that would hold (elect_hold) goes on when a
 * salvage_command is set and the hold can be checked against a GTID state:
 * the promote plan then runs the salvage as a step that may not fail, and
 * that fails when the candidate does not then hold that state (before the
 * point of no return). When it fails, nothing was made writable: the
 * failover elects again and holds as it would have without the salvage. */
#include "failover_int.h"

#include <stdlib.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "salvage.h"

bool fo_salvage_gate_try(failover_t *f, const char *why)
{
    free(f->salvage_gate);
    f->salvage_gate = NULL;
    if (f->policy != POLICY_RELIABILITY || !f->s.plan.salvage || f->salvage_gate_spent ||
        f->kind != OP_FAILOVER)
        return false;
    f->salvage_gate = salvage_gate(monitor_cluster(f->m), f->old_primary, f->elect);
    if (!f->salvage_gate)
        return false;
    log_fields(LOG_LVL_NOTICE, f->s.cluster, NULL, EV_FAILOVER_STEP,
               "reliability would hold (%s), but all of it was sent by the old primary and "
               "its binlog can be salvaged: the promotion goes on only if the salvage succeeds "
               "and the candidate then holds %s",
               why, f->salvage_gate);
    return true;
}

char *fo_salvage_gate_check(failover_t *f, const char *after)
{
    if (!f->salvage_gate)
        return NULL;
    bool mariadb = f->plan && f->candidate >= 0 &&
                   f->plan->flavors[f->candidate].family == FAMILY_MARIADB;
    char *lacks = salvage_gate_lacks(mariadb, after, f->salvage_gate);
    json_object_set_new(f->salvage, "required", json_string(f->salvage_gate));
    buf_t b = BUF_INIT;
    if (!lacks)
        buf_printf(&b, "the candidate's state after the salvage (%s) can't be compared with what "
                       "reliability's hold waited for (%s)",
                   after ? after : "", f->salvage_gate);
    else if (lacks[0])
        buf_printf(&b, "after the salvage the candidate still lacks %s, which reliability's hold "
                       "waited for",
                   lacks);
    free(lacks);
    if (!b.len) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

bool fo_salvage_gate_failed(failover_t *f)
{
    if (!f->salvage_gate || f->fail_past_no_return)
        return false;
    log_fields(LOG_LVL_WARN, f->s.cluster, NULL, EV_FAILOVER_STEP,
               "the salvage did not supply what reliability's hold waited for (%s): nothing "
               "was made writable; electing again, to hold as without the salvage",
               f->fail_msg ? f->fail_msg : "failed");
    free(f->salvage_gate);
    f->salvage_gate = NULL;
    f->salvage_gate_spent = true;
    fo_elect_again(f);
    return true;
}

void fo_salvage_gate_clear(failover_t *f)
{
    free(f->salvage_gate);
    f->salvage_gate = NULL;
    f->salvage_gate_spent = false;
}
