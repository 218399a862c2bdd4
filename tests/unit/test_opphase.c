/* The phases of an operation and the one table of their transitions
 * (opphase.h): the table is well formed, and docs/architecture.md shows the
 * diagrams it generates, byte for byte. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "buf.h"
#include "opphase.h"

#define ARCH_DOC TEST_DATA_DIR "/../../../docs/architecture.md"

Test(opphase, names_and_records)
{
    for (int p = 0; p < OP_PHASE_COUNT; p++) {
        cr_expect(op_phase_str((op_phase_t)p)[0] != '?', "phase %d has a name", p);
        for (int q = 0; q < p; q++)
            cr_expect_str_neq(op_phase_str((op_phase_t)p), op_phase_str((op_phase_t)q));
    }
    cr_expect_str_eq(op_phase_record(OP_PHASE_ADMITTED), "begin");
    cr_expect_str_eq(op_phase_record(OP_PHASE_ROLLED_BACK), "aborted");
    cr_expect_null(op_phase_record(OP_PHASE_SWITCHING));
    cr_expect_str_eq(op_phase_str(OP_PHASE_COUNT), "?");
}

/* The phases whose work is a plan have records of their own on entering
 * ("phase") and leaving ("phase_left", without a "phase" field: the last
 * "phase" field of an operation names the phase it is in). */
Test(opphase, plan_phases_are_journaled_on_entering_and_leaving)
{
    static const struct {
        op_phase_t p;
        bool plan;
    } rows[] = {
        {OP_PHASE_IDLE, false},      {OP_PHASE_ADMITTED, false}, {OP_PHASE_PREPARING, true},
        {OP_PHASE_ELECTING, false},  {OP_PHASE_HOLDING, false},  {OP_PHASE_PROMOTING, true},
        {OP_PHASE_REFRESHING, true}, {OP_PHASE_RESUMING, false}, {OP_PHASE_SWITCHING, true},
        {OP_PHASE_DONE, false},      {OP_PHASE_ABORTED, false},  {OP_PHASE_ROLLED_BACK, false},
        {OP_PHASE_FAILED, false},
    };
    cr_assert_eq(sizeof rows / sizeof rows[0], OP_PHASE_COUNT);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        op_phase_t p = rows[i].p;
        cr_expect_eq(op_phase_runs_plan(p), rows[i].plan, "%s", op_phase_str(p));
        /* A plan phase has no record type of its own in the table: "phase". */
        if (rows[i].plan)
            cr_expect_null(op_phase_record(p), "%s", op_phase_str(p));
        json_t *left = op_phase_left_fields(p, OP_PHASE_DONE);
        if (!rows[i].plan || p == OP_PHASE_DONE) {
            cr_expect_null(left, "%s", op_phase_str(p));
        } else {
            cr_assert_not_null(left);
            cr_expect_str_eq(json_string_value(json_object_get(left, "left")), op_phase_str(p));
            cr_expect_str_eq(json_string_value(json_object_get(left, "next")), "done");
            cr_expect_null(json_object_get(left, "phase"));
        }
        json_decref(left);
    }
    cr_expect_null(op_phase_left_fields(OP_PHASE_PROMOTING, OP_PHASE_PROMOTING));
}

/* Every move starts from a phase that is not terminal and goes to one that
 * is not idle; no move is listed twice; in each machine every phase entered
 * can be left unless it is terminal, and every phase left was entered (or
 * is idle). */
Test(opphase, table_well_formed)
{
    size_t n;
    const op_transition_t *t = op_transitions(&n);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        cr_expect(!op_phase_terminal(t[i].from), "%zu: out of a terminal phase", i);
        cr_expect_neq(t[i].to, OP_PHASE_IDLE, "%zu: into idle", i);
        cr_expect(t[i].when && t[i].when[0] && !strchr(t[i].when, ':'),
                  "%zu: a label without ':' (the diagram's separator)", i);
        cr_expect_eq(op_transition_find(t[i].machine, t[i].from, t[i].to), &t[i],
                     "%zu: listed once", i);
    }
    for (int m = 0; m < OP_MACHINE_COUNT; m++) {
        bool in[OP_PHASE_COUNT] = {false}, out[OP_PHASE_COUNT] = {false};
        for (size_t i = 0; i < n; i++)
            if ((int)t[i].machine == m)
                in[t[i].to] = out[t[i].from] = true;
        cr_expect(out[OP_PHASE_IDLE], "%s starts from idle", op_machine_str((op_machine_t)m));
        cr_expect(in[OP_PHASE_DONE], "%s can end done", op_machine_str((op_machine_t)m));
        for (int p = 1; p < OP_PHASE_COUNT; p++) {
            if (in[p] && !op_phase_terminal((op_phase_t)p))
                cr_expect(out[p], "%s: %s can be left", op_machine_str((op_machine_t)m),
                          op_phase_str((op_phase_t)p));
            if (out[p])
                cr_expect(in[p], "%s: %s can be entered", op_machine_str((op_machine_t)m),
                          op_phase_str((op_phase_t)p));
        }
    }
}

Test(opphase, allowed_moves)
{
    cr_expect_not_null(op_transition_find(OP_MACHINE_FAILOVER, OP_PHASE_ELECTING,
                                          OP_PHASE_HOLDING));
    cr_expect_null(op_transition_find(OP_MACHINE_SWITCHOVER, OP_PHASE_ELECTING,
                                      OP_PHASE_HOLDING));
    cr_expect_null(op_transition_find(OP_MACHINE_FAILOVER, OP_PHASE_ADMITTED, OP_PHASE_DONE));
    cr_expect_not_null(op_transition_find(OP_MACHINE_SWITCHOVER, OP_PHASE_SWITCHING,
                                          OP_PHASE_ROLLED_BACK));
}


/* The doc has each machine after a line "<!-- generated: MACHINE state
 * machine (lib/opphase.c) -->". */
Test(opphase, doc_agrees)
{
    char *doc = test_slurp(ARCH_DOC);
    cr_assert_not_null(doc, "%s can be read", ARCH_DOC);
    for (int m = 0; m < OP_MACHINE_COUNT; m++) {
        char marker[128];
        snprintf(marker, sizeof marker, "<!-- generated: %s state machine (lib/core/opphase.c) -->\n",
                 op_machine_str((op_machine_t)m));
        buf_t want = BUF_INIT;
        op_machine_mermaid((op_machine_t)m, &want);
        const char *at = strstr(doc, marker);
        cr_expect_not_null(at, "docs/architecture.md has the marker %s", marker);
        if (at)
            cr_expect(strncmp(at + strlen(marker), buf_str(&want), want.len) == 0,
                      "docs/architecture.md shows the %s machine as the table has it; after the "
                      "marker it should read:\n%s",
                      op_machine_str((op_machine_t)m), buf_str(&want));
        buf_free(&want);
    }
    free(doc);
}
