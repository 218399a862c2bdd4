/* fohistory.c - what the journal says of a cluster's operations: the history
 * read at start, an interrupted operation, the exact loss found later,
 * acknowledgements (failover_ack). */
#include "failover_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "durability.h"
#include "elect.h"
#include "event.h"
#include "log.h"
#include "rejoin.h"
#include "startup.h"
#include "resume.h"

static uint64_t wall_of(json_t *rec)
{
    return (uint64_t)json_integer_value(json_object_get(rec, "wall_ms"));
}

/* Where an interrupted operation stopped, from its journal records: the last
 * step it journaled and how far that step got ("started": the daemon died
 * while it ran, so its effect is unknown; "done"; "failed"), the candidate of
 * its last election, and whether the promotion had not started, was done,
 * or started with an unknown outcome. New reference. */
json_t *fo_interrupted_summary(json_t *records)
{
    const char *step = NULL, *state = NULL, *candidate = NULL, *promotion = "not started";
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        const char *name = json_string_value(json_object_get(rec, "step"));
        if (!type)
            continue;
        if (strcmp(type, "elect") == 0) {
            candidate = json_string_value(json_object_get(rec, "chosen"));
            promotion = "not started";
        }
        if (!name)
            continue;
        bool started = strcmp(type, "step") == 0, done = strcmp(type, "step_done") == 0;
        /* The journal's text, read back into the step's role (journals of
         * every version write it so). A switchover's candidate is in the
         * names of its steps before the promotion (it has no election
         * record). */
        step_id_t id;
        step_name_parse(name, &id);
        if (!candidate && (id.role == STEP_ROLE_CHECK_LAG || id.role == STEP_ROLE_SYNC))
            candidate = id.arg;
        step = name;
        state = started ? "started" : done ? "done" : "failed";
        if (id.role == STEP_ROLE_PROMOTE) {
            candidate = id.arg;
            promotion = started ? "unknown" : done ? "done" : "failed";
        }
    }
    return json_pack("{s:s?, s:s?, s:s?, s:s}", "step", step, "step_state", state, "candidate",
                     candidate, "promotion", promotion);
}

/* How far the step of this name got in records: "started", "done", "failed",
 * or NULL when it was never journaled. */
const char *fo_op_step_state(json_t *records, const char *step)
{
    const char *state = NULL;
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        const char *name = json_string_value(json_object_get(rec, "step"));
        if (!type || !name || strcmp(name, step) != 0)
            continue;
        state = strcmp(type, "step") == 0        ? "started"
                : strcmp(type, "step_done") == 0 ? "done"
                                                 : "failed";
    }
    return state;
}

/* Reads what the journal knows of this cluster: an interrupted operation, the
 * last failover's end and whether it was acknowledged. */
/* What every record of this cluster says of its history: the last
 * failover's end and whether it was acknowledged, the exact loss found
 * later, the node failoverd promoted last, the last operation. */
static void scan_history(failover_t *f)
{
    json_t *all = journal_records(f->j, f->s.cluster);
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        const char *type = json_string_value(json_object_get(rec, "type"));
        const char *kind = json_string_value(json_object_get(rec, "kind"));
        if (!type)
            continue;
        if (strcmp(type, "done") == 0 && kind && strcmp(kind, "failover") == 0) {
            f->last_failover_wall = wall_of(rec);
            f->last_acked = false;
            free(f->last_failover_op);
            f->last_failover_op = fo_dup0(json_string_value(json_object_get(rec, "op")));
        } else if (strcmp(type, "ack") == 0) {
            f->last_acked = true;
        }
        if (strcmp(type, "done") == 0) {
            f->exact_recorded = false;
        } else if (strcmp(type, "loss_found") == 0) {
            f->exact_recorded = true;
            const char *op = json_string_value(json_object_get(rec, "op"));
            const char *last = json_string_value(json_object_get(f->last_op, "op"));
            static const char *const keys[] = {"lost_exact", "lost_exact_count", "lost_exact_found",
                                               "lost_exact_node", NULL};
            for (const char *const *k = keys; op && last && strcmp(op, last) == 0 && *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(f->last_op, *k, json_object_get(rec, *k));
        }
        if (strcmp(type, "done") == 0)
            fo_set_promoted(f, json_string_value(json_object_get(rec, "new_primary")),
                            json_string_value(json_object_get(rec, "old_primary")));
        if (strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
            strcmp(type, "aborted") == 0) {
            json_decref(f->last_op);
            f->last_op = json_deep_copy(rec);
        }
    }
    json_decref(all);
}

/* An operation the journal has open: say where it stopped and what to do. */
static void report_interrupted(failover_t *f)
{
    json_t *sum = fo_interrupted_summary(f->interrupted);
    const char *step = json_string_value(json_object_get(sum, "step"));
    const char *state = json_string_value(json_object_get(sum, "step_state"));
    const char *cand = json_string_value(json_object_get(sum, "candidate"));
    const char *promo = json_string_value(json_object_get(sum, "promotion"));
    json_t *first = json_array_get(f->interrupted, 0);
    buf_t where = BUF_INIT;
    if (step)
        buf_printf(&where, " at step %s (%s)", step,
                   strcmp(state, "started") == 0
                       ? "started, not finished: its effect is unknown"
                       : state);
    const char *bw = NULL;
    size_t k;
    json_t *r;
    json_array_foreach(f->interrupted, k, r)
    {
        const char *nm = json_string_value(json_object_get(r, "step"));
        if (nm && strncmp(nm, "block_writes:", 13) == 0)
            bw = nm + 13;
    }
    const char *kd = json_string_value(json_object_get(first, "kind"));
    bool sw = kd && strcmp(kd, "switchover") == 0;
    if (sw && strcmp(promo, "not started") == 0)
        buf_printf(&where, "; nothing had been promoted%s%s%s", bw ? ", and " : "",
                   bw ? bw : "", bw ? " may have been made read-only: if it is, and no node "
                                      "is writable, make it writable again"
                                : "");
    else if (!cand)
        buf_puts(&where, "; no new primary had been elected");
    else if (strcmp(promo, "done") == 0)
        buf_printf(&where, "; %s had been promoted (made writable), the rest was not done",
                   cand);
    else if (strcmp(promo, "unknown") == 0)
        buf_printf(&where, "; the promotion of %s had started: %s may or may not be writable",
                   cand, cand);
    else
        buf_printf(&where, "; %s had been elected but not promoted: no node was made writable",
                   cand);
    bool resumable = sw && cand &&
                     (strcmp(promo, "done") == 0 || strcmp(promo, "unknown") == 0);
    if (cand && strcmp(promo, "not started") != 0) {
        const char *pp = fo_op_step_state(f->interrupted, step_hook_name(FO_HOOK_POST_PROMOTION));
        if (!pp || strcmp(pp, "done") != 0)
            buf_printf(&where, "; the post_promotion hooks (they move the traffic) %s",
                       !pp ? "did not run" : strcmp(pp, "started") == 0
                                                 ? "were started, not finished"
                                                 : "failed");
    }
    json_t *d = json_pack("{s:O, s:s?}", "records", f->interrupted, "last_step", step);
    json_object_update(d, sum);
    event_emit(LOG_LVL_ERROR, EV_FAILOVER_INTERRUPTED, f->s.cluster, NULL, d,
               "a %s of this cluster (operation %s) was interrupted%s. %s",
               kd ? kd : "operation",
               json_string_value(json_object_get(first, "op")), buf_str(&where),
               resumable ? "The switchover is finished as soon as the nodes, probed now, "
                           "show that it is safe (switchover_resumed); else nothing is done "
                           "automatically until an operator checks the cluster and "
                           "acknowledges it"
                         : "Nothing will be done automatically until an operator checks "
                           "the cluster and runs `failoverctl ack`");
    buf_free(&where);
    json_decref(sum);
}

void fo_load_history(failover_t *f)
{
    char dmg[600];
    if (journal_damage(f->j, f->s.cluster, dmg, sizeof dmg)) {
        f->journal_damaged = true;
        fo_hold_unknown(f, dmg);
    }
    f->interrupted = journal_open_op(f->j, f->s.cluster);
    /* The primary of an interrupted operation is the primary until a node is
     * made writable, whatever its steps pointed the replicas at (model.h). */
    cluster_t *c = monitor_cluster(f->m);
    const char *was = f->interrupted ? json_string_value(json_object_get(
                                           json_array_get(f->interrupted, 0), "old_primary"))
                                     : NULL;
    if (was && cluster_find_node_by_name(c, was) >= 0)
        c->primary = cluster_find_node_by_name(c, was);
    scan_history(f);
    if (f->interrupted)
        report_interrupted(f);
}

/* The journal's records of past operations as history entries, one per
 * operation, oldest first (what `failoverctl history` shows). */
json_t *failover_history_ops(json_t *recs)
{
    json_t *ops = json_array();
    json_t *by_op = json_object();
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        const char *op = json_string_value(json_object_get(rec, "op"));
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (!op || !type)
            continue;
        json_t *e = json_object_get(by_op, op);
        if (strcmp(type, "begin") == 0) {
            e = json_pack("{s:s, s:O, s:O, s:O, s:s, s:O, s:O, s:O}", "op", op, "cluster",
                          json_object_get(rec, "cluster"), "kind", json_object_get(rec, "kind"),
                          "started", json_object_get(rec, "time"), "state", "interrupted",
                          "old_primary", json_object_get(rec, "old_primary") ?: json_null(),
                          "automatic", json_object_get(rec, "automatic") ?: json_null(), "policy",
                          json_object_get(rec, "policy") ?: json_null());
            json_object_set_new(by_op, op, e);
            json_array_append(ops, e);
        } else if (e && (strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
                         strcmp(type, "aborted") == 0)) {
            json_object_set_new(e, "state", json_string(type));
            json_object_set(e, "ended", json_object_get(rec, "time"));
            static const char *const keys[] = {
                "new_primary",      "duration_ms",   "detection_ms",
                "message",          "possibly_lost", "possibly_lost_count",
                "write_blocked_ms", "rolled_back",   NULL};
            for (const char *const *k = keys; *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(e, *k, json_object_get(rec, *k));
            /* What a failover knew of its loss (docs/failover.md). */
            static const char *const loss[] = {"lost_at_least",      "lost_as_of",
                                               "semisync_off_since", "at_risk",
                                               "at_risk_count",      "salvage", NULL};
            for (const char *const *k = loss; *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(e, *k, json_object_get(rec, *k));
        } else if (e && strcmp(type, "ack") == 0) {
            json_object_set_new(e, "acknowledged", json_true());
        } else if (e && strcmp(type, "loss_found") == 0) {
            /* The exact loss, found when the old primary came back. */
            static const char *const found[] = {"lost_exact", "lost_exact_count",
                                                "lost_exact_found", "lost_exact_node", NULL};
            for (const char *const *k = found; *k; k++)
                if (json_object_get(rec, *k))
                    json_object_set(e, *k, json_object_get(rec, *k));
        }
    }
    json_decref(by_op);
    return ops;
}

/* A returning old primary whose extra transactions rejoin found (node_errant):
 * the exact loss of the failover that left it behind goes into that
 * failover's history, once. What the failover reported was a lower bound. */
void fo_on_event(const event_t *ev, void *ud)
{
    failover_t *f = ud;
    if (strcmp(ev->name, EV_NODE_ERRANT) != 0 || !ev->cluster || !ev->node ||
        strcmp(ev->cluster, f->s.cluster) != 0 || f->exact_recorded || !f->last_failover_op ||
        !f->last_failover_op[0] || !f->last_op)
        return;
    const char *op = json_string_value(json_object_get(f->last_op, "op"));
    const char *old = json_string_value(json_object_get(f->last_op, "old_primary"));
    if (!op || strcmp(op, f->last_failover_op) != 0 || !old || strcmp(old, ev->node) != 0)
        return;
    cluster_t *c = monitor_cluster(f->m);
    int i = cluster_find_node_by_name(c, ev->node);
    bool mariadb = i >= 0 && c->nodes[i].last_ok.family == FAMILY_MARIADB;
    if (i >= 0 && !c->nodes[i].last_ok.ok && c->primary >= 0)
        mariadb = c->nodes[c->primary].last_ok.family == FAMILY_MARIADB;
    durability_range_t r;
    char err[256];
    if (!durability_exact_loss(mariadb, json_string_value(json_object_get(ev->data, "gtid")),
                               json_string_value(json_object_get(ev->data, "primary_gtid")), &r,
                               err, sizeof err)) {
        log_warn("%s: cannot count what %s has beyond the primary: %s", f->s.cluster, ev->node,
                 err);
        return;
    }
    char ts[32];
    format_wall_ms(ev->wall_ms, ts, sizeof ts);
    json_t *rec =
        json_pack("{s:s, s:I, s:s, s:s}", "lost_exact", r.text, "lost_exact_count",
                  (json_int_t)r.count, "lost_exact_found", ts, "lost_exact_node", ev->node);
    if (!journal_record(f->j, f->s.cluster, op, "failover", "loss_found", json_deep_copy(rec)))
        log_warn("%s: the exact loss of failover %s could not be journaled", f->s.cluster, op);
    json_object_update(f->last_op, rec);
    json_decref(rec);
    f->exact_recorded = true;
    log_fields(LOG_LVL_NOTICE, f->s.cluster, ev->node, "failover_loss",
               "failover %s lost exactly %llu transactions (%s): %s is back with them", op,
               (unsigned long long)r.count, r.text, ev->node);
    durability_range_free(&r);
}

/* After an acknowledgement: a primary that is dead right now is failed over
 * automatically, as if it had just died (the verdict does not change again,
 * so nothing else would start it). Appends what happens to msg. */
static void after_ack(failover_t *f, char *msg, size_t len)
{
    char why[512];
    if (f->running || !f->s.auto_failover ||
        monitor_cluster(f->m)->detect.verdict != VERDICT_DEAD || fo_blocked(f, why, sizeof why))
        return;
    size_t used = strlen(msg);
    snprintf(msg + used, len - used, "; the primary is dead: an automatic failover starts now");
    f->block_reported = false;
    failover_on_verdict(f, VERDICT_DEAD, VERDICT_DEAD);
}

bool failover_ack(failover_t *f, char *msg, size_t len)
{
    if (f->interrupted || f->state_unknown) {
        json_t *first = f->interrupted ? json_array_get(f->interrupted, 0) : NULL;
        const char *op = json_string_value(json_object_get(first, "op"));
        const char *kind = json_string_value(json_object_get(first, "kind"));
        char *own = op ? NULL : journal_new_op_id(f->j);
        json_t *fields = NULL;
        if (f->state_unknown)
            fields = json_pack("{s:b, s:s}", "journal_damage", 1, "state_unknown",
                               f->state_unknown);
        bool ok = journal_record(f->j, f->s.cluster, op ? op : own, kind ? kind : "failover",
                                 "ack", fields);
        free(own);
        if (!ok) {
            snprintf(msg, len, "the acknowledgement could not be journaled (%s): nothing was "
                               "acknowledged. Make the state directory writable (restart the "
                               "daemon if the journal can't be read), then ack again",
                     journal_last_error(f->j));
            return false;
        }
        if (f->interrupted)
            snprintf(msg, len, "acknowledged the interrupted %s %s%s", kind ? kind : "operation",
                     op ? op : "", f->state_unknown ? " and the state of the journal" : "");
        else
            snprintf(msg, len, "acknowledged the state of the journal of %s", f->s.cluster);
        free(f->state_unknown);
        f->state_unknown = NULL;
        f->journal_damaged = false;
        if (f->interrupted) {
            /* A promotion it finished counts as failoverd's: the nodes it
             * left behind are seen to from now on. */
            json_t *sum = fo_interrupted_summary(f->interrupted);
            if (strcmp(json_string_value(json_object_get(sum, "promotion")), "done") == 0)
                fo_set_promoted(f, json_string_value(json_object_get(sum, "candidate")),
                                json_string_value(json_object_get(
                                    json_array_get(f->interrupted, 0), "old_primary")));
            json_decref(sum);
            json_decref(f->interrupted);
            f->interrupted = NULL;
        }
        f->last_acked = true;
        f->startup_confirmed = true;
        fo_shared_changed(f);
        after_ack(f, msg, len);
        return true;
    }
    if (f->last_failover_wall && !f->last_acked) {
        /* Recorded under the failover's own id, so that its history shows it
         * acknowledged. */
        char *op = f->last_failover_op && f->last_failover_op[0] ? xstrdup(f->last_failover_op)
                                                                 : journal_new_op_id(f->j);
        bool ok = journal_record(f->j, f->s.cluster, op, "failover", "ack", NULL);
        free(op);
        if (!ok) {
            snprintf(msg, len, "the acknowledgement could not be journaled (%s): nothing was "
                               "acknowledged",
                     journal_last_error(f->j));
            return false;
        }
        f->last_acked = true;
        snprintf(msg, len, "acknowledged the last failover; automatic failover is allowed again");
        fo_shared_changed(f);
        after_ack(f, msg, len);
        return true;
    }
    snprintf(msg, len, "nothing to acknowledge on %s", f->s.cluster);
    return false;
}
