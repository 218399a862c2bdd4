/* A step guard that refused late (haresume.h): which refusals leave an
 * operation to be finished, and what a manager's own journal says of an
 * operation it ended, or ended and left open. */
#include <criterion/criterion.h>
#include <string.h>

#include "haresume.h"
#include "plan.h"

typedef struct {
    const char *what;
    plan_kind_t kind;
    size_t ponr;   /* the plan's point of no return; it has 6 steps */
    int step;      /* index of the refused step; -1: a rollback step */
    int leaves;    /* expected */
} refusal_row_t;

static const refusal_row_t REFUSALS[] = {
    {"a failover's promotion plan, before its point of no return", PLAN_FAILOVER_PROMOTE, 3, 2,
     0},
    {"a failover's promotion plan, at its point of no return (an early repoint)",
     PLAN_FAILOVER_PROMOTE, 3, 3, 1},
    {"a failover's promotion plan, after the promotion (post_promotion, a verify)",
     PLAN_FAILOVER_PROMOTE, 3, 5, 1},
    {"a failover's preparation: nothing is promoted by it", PLAN_FAILOVER_PREPARE, 0, 4, 0},
    {"a switchover, before its point of no return: it rolls back", PLAN_SWITCHOVER, 4, 1, 0},
    {"a switchover, past its point of no return", PLAN_SWITCHOVER, 4, 4, 1},
    {"the rest of an interrupted operation: every step", PLAN_SWITCHOVER, 0, 0, 1},
    {"a rollback step", PLAN_SWITCHOVER, 0, -1, 0},
    {"a rejoin", PLAN_REJOIN, 0, 2, 0},
};

Test(haresume_guard, which_refused_steps_leave_the_operation_to_be_finished)
{
    for (size_t i = 0; i < sizeof REFUSALS / sizeof *REFUSALS; i++) {
        const refusal_row_t *r = &REFUSALS[i];
        step_t steps[6], rollback[1];
        memset(steps, 0, sizeof steps);
        memset(rollback, 0, sizeof rollback);
        plan_t p = {.kind = r->kind, .steps = steps, .n = 6, .rollback = rollback,
                    .n_rollback = 1, .point_of_no_return = r->ponr};
        const step_t *s = r->step < 0 ? &rollback[0] : &steps[r->step];
        cr_expect_eq(haresume_refusal_leaves_open(&p, s), r->leaves, "%s", r->what);
    }
    step_t one = {0};
    cr_expect_eq(haresume_refusal_leaves_open(NULL, &one), 0, "no plan");
}

typedef struct {
    const char *what;
    const char *types[6]; /* the operation's record types, oldest first; NULL ends */
    haresume_local_t want;
    const char *end;      /* the last end's type, or NULL */
} local_row_t;

static const local_row_t LOCAL[] = {
    {"never run here", {NULL}, HARESUME_LOCAL_NONE, NULL},
    {"run here, still open", {"begin", "elect", "step", "step_done", NULL}, HARESUME_LOCAL_NONE,
     NULL},
    {"ended here", {"begin", "step", "step_done", "done", NULL}, HARESUME_LOCAL_ENDED, "done"},
    {"ended here, its loss found later", {"begin", "step_failed", "failed", "loss_found", NULL},
     HARESUME_LOCAL_ENDED, "failed"},
    {"ended, then left open", {"begin", "step", "step_failed", "done", HARESUME_LEFT_OPEN, NULL},
     HARESUME_LOCAL_UNFINISHED, "done"},
    {"left open, finished since", {"begin", "done", HARESUME_LEFT_OPEN, "resume", "done", NULL},
     HARESUME_LOCAL_ENDED, "done"},
    {"left open, being finished", {"begin", "done", HARESUME_LEFT_OPEN, "resume", "step", NULL},
     HARESUME_LOCAL_UNFINISHED, "done"},
    {"left open twice", {"begin", "done", HARESUME_LEFT_OPEN, "resume", "done",
                         HARESUME_LEFT_OPEN},
     HARESUME_LOCAL_UNFINISHED, "done"},
    {"a stray mark before any end counts for nothing", {"begin", HARESUME_LEFT_OPEN, "step", NULL},
     HARESUME_LOCAL_NONE, NULL},
};

Test(haresume_guard, what_the_own_journal_says_of_an_operation)
{
    for (size_t i = 0; i < sizeof LOCAL / sizeof *LOCAL; i++) {
        const local_row_t *r = &LOCAL[i];
        json_t *recs = json_array();
        for (size_t k = 0; k < 6 && r->types[k]; k++)
            json_array_append_new(recs, json_pack("{s:s, s:s}", "op", "op7", "type",
                                                  r->types[k]));
        const char *end = "unset";
        cr_expect_eq(haresume_local_end(recs, &end), r->want, "%s", r->what);
        if (r->end)
            cr_expect(end && strcmp(end, r->end) == 0, "%s: end %s", r->what, end ? end : "NULL");
        else
            cr_expect_null(end, "%s", r->what);
        json_decref(recs);
    }
}
