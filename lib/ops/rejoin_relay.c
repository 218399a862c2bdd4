/* rejoin_relay.c - a lost relay replica's replicas, repointed (see rejoin.h,
 * tree.h and docs/topologies.md).
 *
 * A relay replica (db1 -> db2 -> db4) that dies leaves its replicas with
 * nothing to receive. When tree_relay_next says a relay is dead (the manager
 * has not reached it for down_after and none of its reachable replicas
 * receives from it), each of its replicas is moved, one action at a time,
 * to the relay's own source (or to the primary): its GTID state is read
 * first and must be contained in the new source's (the rejoin's check: a
 * replica holding what the new source lacks is reported errant and left
 * alone), then it is pointed there with GTID auto-positioning and verified
 * to replicate. Every step is bounded by step_timeout and verify_timeout.
 * The outcome is an event and a journal note (kind "note": it is no
 * operation and never holds one open). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "names.h"
#include "rejoin_int.h"
#include "tree.h"

/* A node already tried in its present GTID state is left out until it changes. */
static bool tried(void *ud, int node)
{
    const void *const *a = ud;
    const rejoin_t *r = a[0];
    const cluster_t *c = a[1];
    const char *state = c->nodes[node].last_ok.gtid_executed;
    return (size_t)node < r->n_memo && r->memo[node].checked &&
           rejoin_same_state(r->memo[node].checked, state);
}

bool rejoin_relay_look(rejoin_t *r, const cluster_t *c, uint64_t now)
{
    if (r->freeing || r->phase != REJOIN_PHASE_WATCHING || c->primary < 0)
        return false;
    rejoin__memo_fit(r, c);
    int relay, i, to;
    char why[256];
    const void *ud[2] = {r, c};
    if (!tree_relay_next(c, c->primary, now, r->s.relay_down_after_ms, r->s.relay_to_primary,
                         tried, (void *)ud, &relay, &i, &to, why, sizeof why))
        return false;
    const node_t *n = &c->nodes[i];
    char err[256];
    if (!rejoin__target_set(&r->node, n) || !rejoin__target_set(&r->primary, &c->nodes[to]) ||
        !(r->plan = plan_rejoin(c, i, to, false, &r->s.plan, err, sizeof err))) {
        rejoin__end_action(r, false);
        return false; /* versions unknown: the next observation will have them */
    }
    r->idx = i;
    r->c = c;
    r->seen = xstrdup(n->last_ok.gtid_executed ? n->last_ok.gtid_executed : "");
    r->node_replica = true;
    r->started = now;
    r->relay = xstrdup(c->nodes[relay].name);
    r->relay_why = xstrdup(why);
    log_fields(LOG_LVL_WARN, r->s.cluster, n->name, "relay",
               "the relay replica %s is lost (%s): repointing its replica %s to %s", r->relay,
               why, n->name, c->nodes[to].name);
    rejoin__op_begin(r, "relay");
    rejoin__check_start(r);
    return true;
}

static void relay_note(rejoin_t *r, const char *type, const char *error)
{
    if (!r->s.journal)
        return;
    char *op = journal_new_op_id(r->s.journal);
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "node", r->node.name, "source",
                          r->primary.name, "relay", r->relay, "reason", r->relay_why, "error",
                          error);
    /* A note that can't be made durable is logged by the journal; the
     * repoint happened either way and the event says so. */
    journal_record(r->s.journal, r->s.cluster, op, "note", type, f);
    free(op);
}

void rejoin__relay_done(rejoin_t *r)
{
    relay_note(r, "relay_repointed", NULL);
    rejoin__enter(r, REJOIN_PHASE_REJOINED, LOG_LVL_WARN, EV_RELAY_REPOINTED,
                  json_pack("{s:s, s:s, s:s, s:s?}", "relay", r->relay, "source", r->primary.name,
                            "reason", r->relay_why, "gtid", r->seen),
                  "%s replicated from the relay replica %s, which is lost (%s): it replicates "
                  "from %s now, with GTID auto-positioning",
                  r->node.name, r->relay, r->relay_why, r->primary.name);
    rejoin__end_action(r, true);
}

void rejoin__relay_failed(rejoin_t *r, const char *why)
{
    relay_note(r, "relay_repoint_failed", why);
    rejoin__enter(r, REJOIN_PHASE_FAILED, LOG_LVL_ERROR, EV_RELAY_REPOINT_FAILED,
                  json_pack("{s:s, s:s, s:s}", "relay", r->relay, "source", r->primary.name,
                            "error", why),
                  "%s replicated from the relay replica %s, which is lost, and could not be "
                  "repointed to %s: %s. It receives nothing; repoint it by hand (it is tried "
                  "again when its GTID state changes)",
                  r->node.name, r->relay, r->primary.name, why);
    rejoin__end_action(r, true);
}
