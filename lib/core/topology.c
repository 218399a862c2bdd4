/* topology.c - see topology.h. */
#include "topology.h"

int topology_dual_partner(const cluster_t *c, int primary)
{
    if (primary < 0 || (size_t)primary >= c->n_nodes)
        return -1;
    const observation_t *a = &c->nodes[primary].last_ok;
    if (!a->ok || !a->replica)
        return -1;
    int b = cluster_source_of(c, a);
    if (b < 0 || b == primary)
        return -1;
    const observation_t *bo = &c->nodes[b].last_ok;
    /* The partner's own look must say it replicates from the primary, and
     * that it is read-only: a writable partner is a second primary. */
    if (!bo->ok || !bo->replica || !bo->read_only || cluster_source_of(c, bo) != primary)
        return -1;
    return b;
}

const char *topology_kind(const cluster_t *c)
{
    return topology_dual_partner(c, c->primary) >= 0 ? "dual" : "star";
}
