/* opphase.c - see opphase.h. */
#include "opphase.h"

#include <string.h>

static const char *const phase_names[] = {
#define OP_PHASE_NAME(e, name, rec) name,
    OP_PHASE_MAP(OP_PHASE_NAME)
#undef OP_PHASE_NAME
};

static const char *const phase_records[] = {
#define OP_PHASE_REC(e, name, rec) rec,
    OP_PHASE_MAP(OP_PHASE_REC)
#undef OP_PHASE_REC
};

#define FO OP_MACHINE_FAILOVER
#define SW OP_MACHINE_SWITCHOVER
#define P(x) OP_PHASE_##x

/* Every move an operation can make. A failover prepares (pre_failover hooks,
 * the replicas' IO threads stopped, the old primary fenced, every node looked
 * at afresh), elects with what it sees then, may hold under reliability while
 * a replica that may hold more can't be seen, and promotes (catch-up,
 * promotion, post_promotion hooks that move the traffic, repointing,
 * verification). A failed promote plan is followed by a fresh look at every
 * node: a candidate lost before its promotion means electing again. A
 * switchover is one plan (lag check, writes blocked, sync, promotion, traffic,
 * repointing) that ends done, rolled back or failed; an interrupted one is
 * resumed after a restart when the nodes show that is safe. */
static const op_transition_t table[] = {
    {FO, P(IDLE), P(ADMITTED), "the primary is dead, or an operator asks"},
    {FO, P(ADMITTED), P(PREPARING), "stop IO threads, fence, look afresh"},
    {FO, P(PREPARING), P(ELECTING), "prepared"},
    {FO, P(PREPARING), P(ABORTED), "a prepare step failed"},
    {FO, P(ELECTING), P(HOLDING), "reliability, and a replica that may hold more is unseen"},
    {FO, P(ELECTING), P(PROMOTING), "a candidate is elected"},
    {FO, P(ELECTING), P(ABORTED), "no candidate, a replica lost received transactions, or "
                                  "the election could not be journaled"},
    {FO, P(HOLDING), P(PREPARING), "an unseen node is back"},
    {FO, P(HOLDING), P(ELECTING), "the operator accepts (--force, availability)"},
    {FO, P(HOLDING), P(ABORTED), "unseen_hold ran out"},
    {FO, P(PROMOTING), P(DONE), "every step done"},
    {FO, P(IDLE), P(RESUMING), "a new leader finds its predecessor's failover safe to finish"},
    {FO, P(RESUMING), P(PROMOTING), "promote again or move the traffic, repoint"},
    {FO, P(PROMOTING), P(REFRESHING), "a step failed"},
    {FO, P(REFRESHING), P(ELECTING), "the candidate was lost before its promotion"},
    {FO, P(REFRESHING), P(ABORTED), "failed before the point of no return"},
    {FO, P(REFRESHING), P(FAILED), "failed after the point of no return"},
    {SW, P(IDLE), P(ADMITTED), "an operator asks"},
    {SW, P(IDLE), P(RESUMING), "after a restart, an interrupted switchover is safe to finish"},
    {SW, P(ADMITTED), P(SWITCHING), "lag check, block writes, sync, promote, move, repoint"},
    {SW, P(RESUMING), P(SWITCHING), "promote again or move the traffic, repoint"},
    {SW, P(SWITCHING), P(DONE), "every step done"},
    {SW, P(SWITCHING), P(ROLLED_BACK), "failed before the promotion, undone"},
    {SW, P(SWITCHING), P(FAILED), "failed"},
};

#undef FO
#undef SW
#undef P

const char *op_phase_str(op_phase_t p)
{
    return p >= 0 && p < OP_PHASE_COUNT ? phase_names[p] : "?";
}

const char *op_machine_str(op_machine_t m)
{
    return m == OP_MACHINE_FAILOVER ? "failover" : m == OP_MACHINE_SWITCHOVER ? "switchover" : "?";
}

const char *op_phase_record(op_phase_t p)
{
    return p >= 0 && p < OP_PHASE_COUNT ? phase_records[p] : NULL;
}

bool op_phase_terminal(op_phase_t p)
{
    return p == OP_PHASE_DONE || p == OP_PHASE_ABORTED || p == OP_PHASE_ROLLED_BACK ||
           p == OP_PHASE_FAILED;
}

bool op_phase_runs_plan(op_phase_t p)
{
    return p == OP_PHASE_PREPARING || p == OP_PHASE_PROMOTING || p == OP_PHASE_SWITCHING ||
           p == OP_PHASE_REFRESHING;
}

json_t *op_phase_left_fields(op_phase_t p, op_phase_t next)
{
    if (!op_phase_runs_plan(p) || p == next)
        return NULL;
    return json_pack("{s:s, s:s}", "left", op_phase_str(p), "next", op_phase_str(next));
}

const op_transition_t *op_transitions(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const op_transition_t *op_transition_find(op_machine_t m, op_phase_t from, op_phase_t to)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].machine == m && table[i].from == from && table[i].to == to)
            return &table[i];
    return NULL;
}

/* idle is the diagram's start and every terminal phase its end ([*]). */
static const char *node_name(op_phase_t p)
{
    return p == OP_PHASE_IDLE ? "[*]" : op_phase_str(p);
}

void op_machine_mermaid(op_machine_t m, buf_t *out)
{
    buf_puts(out, "```mermaid\nstateDiagram-v2\n");
    bool ends[OP_PHASE_COUNT] = {false};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const op_transition_t *t = &table[i];
        if (t->machine != m)
            continue;
        buf_printf(out, "    %s --> %s: %s\n", node_name(t->from), node_name(t->to), t->when);
        if (op_phase_terminal(t->to))
            ends[t->to] = true;
    }
    for (int p = 0; p < OP_PHASE_COUNT; p++)
        if (ends[p])
            buf_printf(out, "    %s --> [*]\n", op_phase_str((op_phase_t)p));
    buf_puts(out, "```\n");
}
