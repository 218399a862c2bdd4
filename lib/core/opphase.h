/* opphase.h - the phases of an operation (failover, switchover) and the one
 * table of the transitions between them.
 *
 * An operation is always in one phase. The driver (failover.c) changes it
 * only through fo_enter(), which checks the move against this table, stamps
 * the time, writes the phase's journal record (if the phase has one) and
 * logs "phase FROM -> TO: why". The phases whose work is a plan (preparing,
 * promoting, switching, refreshing; op_phase_runs_plan) have a record on
 * entering ("phase", with the phase) and on leaving ("phase_left", with
 * "left" and "next"), and the executor journals each of their steps before
 * it runs.
 *
 * Pure: no I/O, no clock. The same table prints as the diagrams in
 * docs/architecture.md ("Operation state machines"); a unit test fails when
 * they disagree. */
#ifndef FAILOVERD_OPPHASE_H
#define FAILOVERD_OPPHASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* X(ENUM, name, journal record written on entering it, or NULL) */
#define OP_PHASE_MAP(X)                                                                            \
    X(IDLE, "idle", NULL)                                                                          \
    X(ADMITTED, "admitted", "begin")                                                               \
    X(PREPARING, "preparing", NULL)                                                                \
    X(ELECTING, "electing", "elect")                                                               \
    X(HOLDING, "holding", "hold")                                                                  \
    X(PROMOTING, "promoting", NULL)                                                                \
    X(REFRESHING, "refreshing", NULL)                                                              \
    X(RESUMING, "resuming", "resume")                                                              \
    X(SWITCHING, "switching", NULL)                                                                \
    X(DONE, "done", "done")                                                                        \
    X(ABORTED, "aborted", "aborted")                                                               \
    X(ROLLED_BACK, "rolled_back", "aborted")                                                       \
    X(FAILED, "failed", "failed")

typedef enum {
#define OP_PHASE_ENUM(e, name, rec) OP_PHASE_##e,
    OP_PHASE_MAP(OP_PHASE_ENUM)
#undef OP_PHASE_ENUM
        OP_PHASE_COUNT
} op_phase_t;

/* Which machine: the two operations share phase names, not transitions. */
typedef enum { OP_MACHINE_FAILOVER, OP_MACHINE_SWITCHOVER, OP_MACHINE_COUNT } op_machine_t;

typedef struct {
    op_machine_t machine;
    op_phase_t from, to;
    const char *when; /* what makes the move, in a few words (the diagram's label) */
} op_transition_t;

const char *op_phase_str(op_phase_t p);
const char *op_machine_str(op_machine_t m);
/* The journal record type written on entering p ("begin", "elect", ...), or NULL. */
const char *op_phase_record(op_phase_t p);
/* done, aborted, rolled_back, failed: the operation has ended. */
bool op_phase_terminal(op_phase_t p);
/* preparing, promoting, switching, refreshing: the phase's work is a plan
 * the executor runs; entering it writes a "phase" record, leaving it a
 * "phase_left" record. */
bool op_phase_runs_plan(op_phase_t p);
/* The journal record written on leaving p for next: type "phase_left"
 * and these fields (a new object), or NULL when p writes none. */
json_t *op_phase_left_fields(op_phase_t p, op_phase_t next);
/* The table (n entries). */
const op_transition_t *op_transitions(size_t *n);
/* Whether the table allows from -> to in machine m; NULL when it does not. */
const op_transition_t *op_transition_find(op_machine_t m, op_phase_t from, op_phase_t to);
/* The machine as a Mermaid stateDiagram-v2 block (with its ``` fences),
 * appended to out: what docs/architecture.md shows. */
void op_machine_mermaid(op_machine_t m, buf_t *out);

#endif
