/* foharesume.c - coordination: what a manager that becomes the leader does
 * with an operation its predecessor left open, and the records by which the
 * leader's steps and ends say how far an operation got (haresume.h has the
 * format; docs/ha.md the behaviour).
 *
 * Before it starts anything, a new leader reads <prefix><cluster>/failover.
 * An open operation there is written into the local journal as the records a
 * journal would hold for it (its "begin" naming the manager and term it came
 * from) and read back as the interrupted operation, exactly as a restarted
 * daemon finds its own: the same rules (resume.h, fo_try_resume) then decide
 * on fresh probes whether it is finished or held for an operator. A record
 * that can't be read holds the cluster: what was done is unknown. */
#include "failover_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "event.h"
#include "haresume.h"
#include "log.h"
#include "wallclock.h"

/* The read in flight; f NULL once the cluster is freed. */
struct fo_ha_read {
    failover_t *f;
};

static const char *name_of(failover_t *f, int i)
{
    cluster_t *c = monitor_cluster(f->m);
    return i >= 0 && (size_t)i < c->n_nodes ? c->nodes[i].name : NULL;
}

json_t *fo_ha_step_record(failover_t *f, const step_t *s)
{
    if (!f->ha_op || !f->op || strcmp(f->ha_op, f->op) != 0) {
        free(f->ha_op);
        f->ha_op = fo_dup0(f->op);
        json_decref(f->ha_before);
        f->ha_before = json_array();
    }
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s, s:O, s:I}", "op", f->op,
                            "kind", fo_kind_str(f->kind), "type", "step", "step", s->name,
                            "node", name_of(f, s->node), "old_primary",
                            name_of(f, f->old_primary), "candidate", name_of(f, f->candidate),
                            "policy", policy_str(f->policy), "before", f->ha_before, "at_ms",
                            (json_int_t)wall_now_ms());
    json_array_append_new(f->ha_before, json_string(s->name));
    return rec;
}

/* A failover a step guard stopped before its promotion (etcd did not answer
 * for a moment) made nothing writable, and this manager may well keep its
 * lease, or get it back before anything would notice the gap: nothing
 * would look at the dead primary again. So the next look takes this
 * manager for a new leader: once it leads and etcd answers, it reads the
 * operation record again and, by the same rules, closes the operation and
 * fails the dead primary over afresh (docs/ha.md). */
static void ha_end_guarded(failover_t *f, const char *type)
{
    bool again = f->s.coord && f->guard_refused && f->kind == OP_FAILOVER &&
                 strcmp(type, "aborted") == 0;
    f->guard_refused = false;
    if (!again)
        return;
    log_notice("cluster %s: failover %s was stopped by its step guard before any promotion; "
               "the operation record in etcd is read again, and the servers looked at afresh, "
               "as soon as this manager leads with etcd answering",
               f->s.cluster, f->op ? f->op : "?");
    f->coord_leading = false;
}

/* A guard that refused a step past the point of no return left that step
 * undone while the operation went on to its promotion or beyond: this end
 * is not the operation's (haresume.h). Its end is not written in etcd, so
 * the operation stays open there at the last step recorded; a record after
 * the end in this journal says so; and the next look takes this manager
 * for a new leader, which re-reads the record and finishes the operation by
 * the rules for one left open (take_over). True when so; false (the record
 * could not be journaled, or nothing was refused late): the end is written
 * as usual. */
static bool ha_leave_open(failover_t *f, const char *type)
{
    char *step = f->guard_refused_late;
    f->guard_refused_late = NULL;
    if (!step || !f->s.coord || !f->op) {
        free(step);
        return false;
    }
    bool ok = journal_record(f->j, f->s.cluster, f->op, fo_kind_str(f->kind), HARESUME_LEFT_OPEN,
                             json_pack("{s:s, s:s}", "refused_step", step, "end", type));
    if (ok) {
        log_warn("cluster %s: %s %s ended (%s) with step %s, past its point of no return, "
                 "not run: its step guard refused it; the operation stays open in etcd, and is "
                 "finished by the rules for an operation left open as soon as this manager "
                 "leads with etcd answering (or by the next leader)",
                 f->s.cluster, fo_kind_str(f->kind), f->op, type, step);
        f->coord_leading = false;
    } else {
        log_error("cluster %s: %s %s: that step %s was refused by its guard could not be "
                  "journaled (%s); its end is recorded in etcd as it is",
                  f->s.cluster, fo_kind_str(f->kind), f->op, step, journal_last_error(f->j));
    }
    free(step);
    return ok;
}

void fo_ha_end(failover_t *f, const char *type)
{
    bool left_open = ha_leave_open(f, type);
    if (!left_open && f->s.coord && f->op && !coord_why_not(f->s.coord))
        coord_record_end(f->s.coord, f->s.cluster, f->op, fo_kind_str(f->kind), type);
    free(f->ha_op);
    f->ha_op = NULL;
    json_decref(f->ha_before);
    f->ha_before = NULL;
    ha_end_guarded(f, type);
}

void fo_ha_free(failover_t *f)
{
    if (f->ha_read)
        f->ha_read->f = NULL;
    f->ha_read = NULL;
    free(f->ha_op);
    json_decref(f->ha_before);
    free(f->guard_refused_late);
}

/* What the local journal holds of op (haresume_local_end): whether this
 * manager ran it and ended it (its end then did not reach etcd), and
 * whether it left it open after that end. *type gets a copy of the last
 * end's type, or NULL. */
static haresume_local_t local_end(failover_t *f, const char *op, char **type)
{
    json_t *all = journal_records(f->j, f->s.cluster);
    json_t *mine = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(all, i, rec)
    {
        const char *o = json_string_value(json_object_get(rec, "op"));
        if (o && strcmp(o, op) == 0)
            json_array_append(mine, rec);
    }
    const char *t = NULL;
    haresume_local_t r = haresume_local_end(mine, &t);
    *type = t ? xstrdup(t) : NULL;
    json_decref(mine);
    json_decref(all);
    return r;
}

/* The open operation's records as the interrupted operation's, the first
 * saying whose it was (new references). */
static json_t *records_from(json_t *records, const json_t *from)
{
    json_t *out = json_deep_copy(records);
    json_t *whose = json_pack("{s:s, s:O?, s:O?}", "source", "etcd", "from_manager",
                              json_object_get(from, "manager"), "from_term",
                              json_object_get(from, "term"));
    json_object_update(json_array_get(out, 0), whose);
    json_decref(whose);
    return out;
}

/* The open operation's records into the local journal, the first saying
 * whose it was; false when one was not made durable. */
static bool journal_found(failover_t *f, json_t *records, const json_t *from)
{
    json_t *whose = records_from(records, from);
    size_t i;
    json_t *rec;
    json_array_foreach(whose, i, rec)
    {
        json_t *fields = json_deep_copy(rec);
        const char *op = json_string_value(json_object_get(rec, "op"));
        const char *kind = json_string_value(json_object_get(rec, "kind"));
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (!journal_record(f->j, f->s.cluster, op, kind, type, fields)) {
            json_decref(whose);
            return false;
        }
    }
    json_decref(whose);
    return true;
}

static void found(failover_t *f, haresume_t r, const json_t *from, const char *why)
{
    json_t *st = coord_status_json(f->s.coord);
    json_t *d = json_pack("{s:O?, s:O?, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:s}", "manager",
                          json_object_get(st, "manager"), "term", json_object_get(st, "term"),
                          "outcome", haresume_str(r), "op", json_object_get(from, "op"), "kind",
                          json_object_get(from, "kind"), "step", json_object_get(from, "step"),
                          "from_manager", json_object_get(from, "manager"), "from_term",
                          json_object_get(from, "term"), "reason", why);
    json_decref(st);
    if (r == HARESUME_BAD) {
        event_emit(LOG_LVL_ERROR, EV_COORD_OP_FOUND, f->s.cluster, NULL, d,
                   "the operation record in etcd can't be read (%s): what the previous leader "
                   "did is unknown; nothing is done automatically until `failoverctl ack`",
                   why);
        return;
    }
    const char *who = json_string_value(json_object_get(from, "manager"));
    event_emit(LOG_LVL_WARN, EV_COORD_OP_FOUND, f->s.cluster, NULL, d,
               "the previous leader %s (term %lld) left an operation open: %s; it is "
               "finished, held or closed by the rules for an interrupted operation (docs/ha.md)",
               who ? who : "?", (long long)json_integer_value(json_object_get(from, "term")),
               why);
}

/* A failover interrupted before its promotion made nothing writable: it is
 * closed as aborted in etcd (this manager's journal never held it) and the
 * new leader looks at the servers afresh, failing over a dead primary
 * itself. True when so. */
static bool abandon_unpromoted(failover_t *f, json_t *records, const char *op)
{
    json_t *first = json_array_get(records, 0);
    const char *kind = json_string_value(json_object_get(first, "kind"));
    json_t *sum = fo_interrupted_summary(records);
    bool none = kind && strcmp(kind, "failover") == 0 &&
                strcmp(json_string_value(json_object_get(sum, "promotion")), "not started") == 0;
    json_decref(sum);
    if (!none)
        return false;
    log_notice("cluster %s: failover %s is closed (aborted): its leader was lost before its "
               "promotion, nothing was made writable; the servers are looked at afresh",
               f->s.cluster, op);
    coord_record_end(f->s.coord, f->s.cluster, op, "failover", "aborted");
    fo_reconsider(f);
    return true;
}

/* An operation open in etcd that this manager ended (its end did not
 * reach etcd) and did not leave open: its end is written again. */
static void end_again(failover_t *f, const json_t *from, const char *op, const char *type)
{
    const char *kind = json_string_value(json_object_get(from, "kind"));
    log_notice("cluster %s: %s %s is open in etcd but ended here; recording its end",
               f->s.cluster, kind, op);
    coord_record_end(f->s.coord, f->s.cluster, op, kind, type ? type : "done");
    fo_reconsider(f);
}

/* The interrupted operation's records: the open operation's, journaled
 * here first; or, for one this manager left open after its own end, read
 * from etcd as they are (its journal holds its own records and that end;
 * the finishing's records follow them). False when the cluster is held. */
static bool interrupted_from(failover_t *f, json_t *records, json_t *from, bool own)
{
    json_decref(f->interrupted);
    f->interrupted = NULL;
    if (own) {
        f->interrupted = records_from(records, from);
        return true;
    }
    if (!journal_found(f, records, from)) {
        char msg[512];
        snprintf(msg, sizeof msg, "the operation %s left open by the previous leader could not "
                                  "be journaled: %s",
                 json_string_value(json_object_get(from, "op")), journal_last_error(f->j));
        fo_hold_unknown(f, msg);
        return false;
    }
    f->interrupted = journal_open_op(f->j, f->s.cluster);
    return true;
}

/* An open operation from etcd becomes this cluster's interrupted operation. */
static void take_over(failover_t *f, json_t *records, json_t *from, const char *why)
{
    const char *op = json_string_value(json_object_get(from, "op"));
    char *type = NULL;
    haresume_local_t local = local_end(f, op, &type);
    if (local == HARESUME_LOCAL_ENDED) {
        end_again(f, from, op, type);
        free(type);
        return;
    }
    free(type);
    bool own = local == HARESUME_LOCAL_UNFINISHED;
    if (own)
        log_notice("cluster %s: %s; this manager left it open after steps its guard refused: "
                   "it is finished or held by the rules for an operation left open",
                   f->s.cluster, why);
    else
        found(f, HARESUME_OPEN, from, why);
    if (abandon_unpromoted(f, records, op))
        return;
    if (!interrupted_from(f, records, from, own))
        return;
    f->resume_decided = false;
    /* Should this leader die too, the next one must still see what its
     * predecessors ran (the promotion above all). */
    free(f->ha_op);
    f->ha_op = fo_dup0(op);
    json_decref(f->ha_before);
    f->ha_before = json_deep_copy(json_object_get(from, "before"));
    if (!f->ha_before)
        f->ha_before = json_array();
    json_array_append(f->ha_before, json_object_get(from, "step"));
    /* The rules run once every node was probed again (resume_due). */
    f->created_mono = uv_now(f->loop);
}

static void on_read(void *token, bool ok, const char *value, const char *err)
{
    struct fo_ha_read *q = token;
    failover_t *f = q->f;
    free(q);
    if (!f)
        return;
    f->ha_read = NULL;
    if (coord_why_not(f->s.coord))
        return; /* no longer the leader: read again when it leads */
    if (!ok) {
        log_warn("cluster %s: the operation record in etcd could not be read (%s); "
                 "read again at the next look", f->s.cluster, err);
        f->coord_leading = false;
        return;
    }
    json_t *records = NULL, *from = NULL;
    char why[512];
    haresume_t r = haresume_read(value, &records, &from, why, sizeof why);
    if (r == HARESUME_NONE) {
        log_info("cluster %s: as the new leader: %s", f->s.cluster, why);
        fo_reconsider(f);
    } else if (r == HARESUME_BAD) {
        found(f, r, NULL, why);
        char msg[600];
        snprintf(msg, sizeof msg, "the operation record in etcd can't be read: %s", why);
        fo_hold_unknown(f, msg);
    } else if (f->running || f->interrupted) {
        log_notice("cluster %s: %s; an operation is already known here", f->s.cluster, why);
    } else {
        take_over(f, records, from, why);
    }
    json_decref(records);
    json_decref(from);
}

/* The shared state is read and adopted first (foshared.c), then the
 * operation record; nothing is admitted until both answered (ha_read). */
static void on_state(void *token, bool ok, const char *value, const char *err)
{
    struct fo_ha_read *q = token;
    failover_t *f = q->f;
    if (f && !coord_why_not(f->s.coord) && fo_shared_adopt(f, ok, value, err)) {
        if (!f->running && !f->interrupted) {
            coord_read_failover(f->s.coord, f->s.cluster, on_read, q);
            return;
        }
        f->ha_read = NULL;
        free(q);
        fo_reconsider(f);
        return;
    }
    if (f) {
        f->ha_read = NULL;
        f->coord_leading = false; /* read again at the next look, if it leads */
    }
    free(q);
}

void fo_ha_on_leader(failover_t *f)
{
    if (f->ha_read)
        return;
    f->ha_read = xcalloc(1, sizeof *f->ha_read);
    f->ha_read->f = f;
    coord_state_read(f->s.coord, f->s.cluster, on_state, f->ha_read);
}
