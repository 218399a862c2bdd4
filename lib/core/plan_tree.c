/* plan_tree.c - a failover's plan over the whole replication tree: a relay
 * replica's replicas are stopped, waited for, compared and repointed like
 * the old primary's direct replicas (see tree.h and docs/topologies.md). */
#include "plan.h"
#include "plan_int.h"

#include "tree.h"

bool plan__in_tree(const cluster_t *c, int i, int primary)
{
    return tree_under(c, i, primary);
}

int plan__failover_source(const cluster_t *c, const plan_t *p, int i, const plan_opts_t *o)
{
    int s = cluster_source_of(c, &c->nodes[i].last_ok);
    if (o->relay_flatten || s < 0 || s == p->old_primary || s == p->candidate ||
        !c->nodes[s].up || !p->known[s] || !tree_under(c, s, p->old_primary))
        return p->candidate;
    return s;
}

void plan__describe_relay_kept(const cluster_t *c, step_t *s, int node, int relay, int cand)
{
    plan__describe(s,
                   "point %s at its relay %s again (relays are kept: relay_keep), which "
                   "replicates from the new primary %s",
                   plan__nm(c, node), plan__nm(c, relay), plan__nm(c, cand));
}
