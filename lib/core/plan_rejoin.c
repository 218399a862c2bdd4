/* plan_rejoin.c - the statements of the rejoin and of its fence, as plans
 * (see plan.h). */
#include "plan.h"
#include "plan_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool known(const cluster_t *c, const plan_t *p, int i, char *err, size_t errlen)
{
    if (i >= 0 && (size_t)i < c->n_nodes && p->known[i])
        return true;
    snprintf(err, errlen, "the server version of %s is unknown",
             i >= 0 && (size_t)i < c->n_nodes ? plan__nm(c, i) : "the node");
    return false;
}

plan_t *plan_rejoin(const cluster_t *c, int node, int primary, bool old_primary,
                    const plan_opts_t *o, char *err, size_t errlen)
{
    plan_t *p = plan__new(c, PLAN_REJOIN, POLICY_RELIABILITY, primary);
    p->candidate = node;
    if (!known(c, p, node, err, errlen) || !known(c, p, primary, err, errlen)) {
        plan_free(p);
        return NULL;
    }
    /* The node's state is read first and the primary's after it: what the
     * node received from the primary's history (through another node, say)
     * is then in the primary's state too. The other order let writes the
     * primary committed between the two reads look like the node's own. */
    step_t *s = STEP(p, STEP_CAPTURE_GTID, 0, node, o->step_timeout_ms, STEP_ROLE_CAPTURE,
                     plan__nm(c, node));
    plan__set_sql(s, flavor_sql_gtid_executed(&p->flavors[node]));
    plan__describe(s, "read what %s holds, to compare it with the primary's", plan__nm(c, node));
    const flavor_t *fp = &p->flavors[primary];
    s = STEP(p, STEP_CAPTURE_GTID, 1, primary, o->step_timeout_ms, STEP_ROLE_CAPTURE,
             plan__nm(c, primary));
    plan__set_sql(s, fp->family == FAMILY_MARIADB ? "SELECT @@GLOBAL.gtid_binlog_state"
                                                  : flavor_sql_gtid_executed(fp));
    plan__describe(s, "read what the primary %s holds", plan__nm(c, primary));
    s = STEP(p, STEP_SQL, 2, node, o->step_timeout_ms, STEP_ROLE_REJOIN, plan__nm(c, node));
    char why[256];
    /* Read-only first (a node that was fenced or started read-only stays so;
     * one that is not must not take writes once it replicates). Unlike an
     * operation's repoint, the semi-sync source side is left as it is: the
     * fence switched it off where it had to. */
    plan_point_t how = {.old_primary = old_primary, .read_only_first = true};
    if (!plan__point_sql(c, p, node, primary, &how, o, s, why, sizeof why))
        s->unmet = xstrdup(why);
    plan__describe(s, "point %s at the primary %s with auto-positioning", plan__nm(c, node),
                   plan__nm(c, primary));
    s = STEP(p, STEP_VERIFY, 3, node, o->verify_timeout_ms, STEP_ROLE_VERIFY, plan__nm(c, node));
    s->source = primary;
    plan__describe(s, "check that %s replicates from %s", plan__nm(c, node), plan__nm(c, primary));
    buf_t b = BUF_INIT;
    buf_printf(&b, "rejoin of %s as a replica of %s, if it holds nothing the primary lacks",
               plan__nm(c, node), plan__nm(c, primary));
    p->summary = buf_steal(&b);
    return p;
}

plan_t *plan_rejoin_fence(const cluster_t *c, int node, const plan_opts_t *o, char *err,
                          size_t errlen)
{
    plan_t *p = plan__new(c, PLAN_REJOIN, POLICY_RELIABILITY, c->primary);
    p->candidate = node;
    if (!known(c, p, node, err, errlen)) {
        plan_free(p);
        return NULL;
    }
    /* The server's own lock wait ends soon after ours. */
    unsigned server_s = (unsigned)(o->step_timeout_ms / 1000) + 1;
    step_t *s = STEP(p, STEP_FENCE, 0, node, o->step_timeout_ms, STEP_ROLE_FENCE, plan__nm(c, node));
    buf_t b = BUF_INIT;
    buf_printf(&b, "SET SESSION lock_wait_timeout = %u; %s", server_s,
               flavor_sql_set_read_only(&p->flavors[node], FLAVOR_SUPER_READ_ONLY));
    plan__set_sql(s, buf_str(&b));
    buf_free(&b);
    plan__describe(s, "make %s read-only, cutting off its client sessions when read-only waits "
                      "for them",
                   plan__nm(c, node));
    buf_printf(&b, "fence of %s", plan__nm(c, node));
    p->summary = buf_steal(&b);
    return p;
}
