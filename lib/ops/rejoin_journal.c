/* rejoin_journal.c - the rejoin's actions in the journal and in the executor
 * (see rejoin_int.h).
 *
 * Each action the rejoin starts on its own (a fence, a check that may end in
 * a rejoin) is an operation of kind "rejoin" with an id of its own: a
 * "begin" record naming the node, a record on entering and on leaving each
 * phase whose work is a part of the plan, the executor's records of each
 * step, and an end ("done" or "failed", with the phase it ended in). A
 * failover's fence (rejoin_fence_for_failover) is that failover's step and
 * has no operation here. What a restarted daemon does with a rejoin left
 * open is resume.h's rule: closed as abandoned, the node looked at afresh. */
#include "rejoin_int.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "resume.h"

/* The name the executor logs the rejoin's steps under. */
#define REJOIN_STEP_LOG "node_rejoin"

void rejoin__journal(rejoin_t *r, const char *type, json_t *fields)
{
    if (!r->op || !r->s.journal) {
        json_decref(fields);
        return;
    }
    /* A record that can't be made durable is logged by the journal; the
     * steps that need theirs do not run (the executor's rule). */
    journal_record(r->s.journal, r->s.cluster, r->op, RESUME_KIND_REJOIN, type, fields);
}

void rejoin__op_begin(rejoin_t *r, const char *what)
{
    free(r->op);
    r->op = r->s.journal ? journal_new_op_id(r->s.journal) : NULL;
    rejoin__journal(r, "begin",
                    json_pack("{s:s, s:s?, s:s, s:s?}", "node", r->node.name, "primary",
                              r->primary.name, "action", what, "gtid", r->seen));
}

void rejoin__journal_phase(rejoin_t *r, rejoin_phase_t from, rejoin_phase_t to)
{
    if (!r->op || from == to)
        return;
    if (rejoin_phase_runs_plan(from))
        rejoin__journal(r, "phase_left",
                        json_pack("{s:s, s:s, s:s}", "left", rejoin_phase_str(from), "next",
                                  rejoin_phase_str(to), "node", r->node.name));
    if (rejoin_phase_runs_plan(to))
        rejoin__journal(r, "phase",
                        json_pack("{s:s, s:s}", "phase", rejoin_phase_str(to), "node",
                                  r->node.name));
    if (rejoin_phase_ends(to)) {
        bool bad = to == REJOIN_PHASE_FAILED || to == REJOIN_PHASE_FENCE_FAILED;
        rejoin__journal(r, bad ? "failed" : "done",
                        json_pack("{s:s, s:s}", "phase", rejoin_phase_str(to), "node",
                                  r->node.name));
    }
}

void rejoin__run_part(rejoin_t *r, size_t first, size_t end, exec_done_cb done)
{
    exec_opts_t o = {.cluster = r->s.cluster,
                     .op = r->op ? r->op : "",
                     .kind = RESUME_KIND_REJOIN,
                     .user = r->s.user,
                     .password = r->s.password,
                     .first_step = first,
                     .end_step = end,
                     .step_log = REJOIN_STEP_LOG};
    exec_env_t env = {.ud = r, .fence = rejoin__fence_by_exec};
    r->x = exec_start(r->loop, r->c, r->plan, &o, r->s.journal, &env, done, r);
}

const char *rejoin__part_error(exec_t *x, const char *msg)
{
    json_t *res = exec_results(x);
    for (size_t i = json_array_size(res); i-- > 0;) {
        json_t *e = json_array_get(res, i);
        const char *err = json_string_value(json_object_get(e, "error"));
        if (!json_is_true(json_object_get(e, "ok")) && err)
            return err;
    }
    return msg ? msg : "failed";
}

void rejoin__abandon_open(rejoin_t *r)
{
    if (!r->s.journal)
        return;
    json_t *recs = journal_all_records(r->s.journal, r->s.cluster);
    json_t *open = resume_open_rejoins(recs);
    size_t i;
    json_t *o;
    json_array_foreach(open, i, o)
    {
        const char *op = json_string_value(json_object_get(o, "op"));
        const char *node = json_string_value(json_object_get(o, "node"));
        const char *phase = json_string_value(json_object_get(o, "phase"));
        const char *step = json_string_value(json_object_get(o, "step"));
        buf_t b = BUF_INIT;
        buf_printf(&b, "the daemon stopped during this rejoin (%s%s%s); it is not replayed: "
                       "the node is looked at afresh",
                   phase ? phase : "begun", step ? ", step " : "", step ? step : "");
        journal_record(r->s.journal, r->s.cluster, op, RESUME_KIND_REJOIN, "aborted",
                       json_pack("{s:b, s:s?, s:s?, s:s?, s:s}", "abandoned", 1, "node", node,
                                 "phase", phase, "step", step, "message", buf_str(&b)));
        log_fields(LOG_LVL_WARN, r->s.cluster, node, REJOIN_STEP_LOG, "rejoin %s of %s: %s", op,
                   node ? node : "?", buf_str(&b));
        buf_free(&b);
    }
    json_decref(open);
    json_decref(recs);
}
