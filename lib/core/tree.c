/* tree.c - see tree.h. */
#include "tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int tree_depth(const cluster_t *c, int i, int root)
{
    if (i < 0 || root < 0 || (size_t)i >= c->n_nodes || (size_t)root >= c->n_nodes)
        return -1;
    /* At most n_nodes hops: more means a cycle. */
    int cur = i;
    for (size_t hops = 0; hops <= c->n_nodes; hops++) {
        if (cur == root)
            return (int)hops;
        int s = cluster_source_of(c, &c->nodes[cur].last_ok);
        if (s < 0 || s == cur)
            return -1;
        cur = s;
    }
    return -1;
}

bool tree_under(const cluster_t *c, int i, int root)
{
    return tree_depth(c, i, root) > 0;
}

int tree_branch_of(const cluster_t *c, int i, int root)
{
    int d = tree_depth(c, i, root);
    if (d <= 0)
        return -1;
    int cur = i;
    for (int k = 1; k < d; k++)
        cur = cluster_source_of(c, &c->nodes[cur].last_ok);
    return cur;
}

bool tree_relayed(const cluster_t *c, int i, int root)
{
    if (tree_depth(c, i, root) < 2 || c->nodes[i].last_ok.io != IO_YES)
        return false;
    int s = cluster_source_of(c, &c->nodes[i].last_ok);
    return s >= 0 && c->nodes[s].up &&
           !(c->demoted && strcmp(c->nodes[s].name, c->demoted) == 0);
}

size_t tree_children(const cluster_t *c, int i)
{
    size_t n = 0;
    for (size_t k = 0; k < c->n_nodes; k++)
        if ((int)k != i && cluster_source_of(c, &c->nodes[k].last_ok) == i)
            n++;
    return n;
}

bool tree_is_relay(const cluster_t *c, int i, int root)
{
    return tree_under(c, i, root) && tree_children(c, i) > 0;
}

int tree_new_source(const cluster_t *c, int relay, int root, bool to_primary)
{
    if (!tree_under(c, relay, root))
        return -1;
    if (to_primary)
        return c->nodes[root].up ? root : -1;
    int cur = cluster_source_of(c, &c->nodes[relay].last_ok);
    while (cur >= 0 && cur != root && !c->nodes[cur].up)
        cur = cluster_source_of(c, &c->nodes[cur].last_ok);
    return cur >= 0 && c->nodes[cur].up ? cur : -1;
}

/* The relay's replicas: how many are up, and how many of those still receive. */
static void children_io(const cluster_t *c, int relay, size_t *up, size_t *receiving)
{
    *up = *receiving = 0;
    for (size_t k = 0; k < c->n_nodes; k++) {
        const node_t *nd = &c->nodes[k];
        if ((int)k == relay || !nd->up || cluster_source_of(c, &nd->last_ok) != relay)
            continue;
        (*up)++;
        if (nd->last_ok.io == IO_YES)
            (*receiving)++;
    }
}

bool tree_relay_dead(const cluster_t *c, int relay, int root, uint64_t now,
                     uint64_t down_after_ms, char *why, size_t why_len)
{
    if (relay == root || !tree_under(c, relay, root)) {
        snprintf(why, why_len, "it is not a replica of the primary's tree");
        return false;
    }
    const node_t *r = &c->nodes[relay];
    size_t kids = tree_children(c, relay), up = 0, receiving = 0;
    if (kids == 0) {
        snprintf(why, why_len, "%s is no relay: no node replicates from it", r->name);
        return false;
    }
    uint64_t since = node_unreached_since(r);
    if (r->up || r->unobservable || !since || now < since || now - since < down_after_ms) {
        snprintf(why, why_len, "the manager reaches %s or lost it less than down_after ago",
                 r->name);
        return false;
    }
    children_io(c, relay, &up, &receiving);
    if (up == 0) {
        snprintf(why, why_len, "none of %s's %zu replicas can be reached", r->name, kids);
        return false;
    }
    if (receiving > 0) {
        snprintf(why, why_len, "%zu of %s's replicas still receive from it", receiving, r->name);
        return false;
    }
    snprintf(why, why_len,
             "the manager has not reached %s for %llu ms and none of its %zu reachable "
             "replicas receives from it",
             r->name, (unsigned long long)(now - since), up);
    return true;
}

/* The first replica of relay that can be repointed now, or -1. */
static int relay_child(const cluster_t *c, int relay, bool (*skip)(void *ud, int node), void *ud)
{
    for (size_t k = 0; k < c->n_nodes; k++) {
        const node_t *nd = &c->nodes[k];
        const observation_t *o = &nd->last_ok;
        if ((int)k == relay || !nd->up || !o->ok || !o->read_only || o->io == IO_YES ||
            cluster_source_of(c, o) != relay || (nd->errant && nd->errant[0]) ||
            (skip && skip(ud, (int)k)))
            continue;
        return (int)k;
    }
    return -1;
}

bool tree_relay_next(const cluster_t *c, int root, uint64_t now, uint64_t down_after_ms,
                     bool to_primary, bool (*skip)(void *ud, int node), void *ud, int *relay,
                     int *node, int *to, char *why, size_t why_len)
{
    *relay = *node = *to = -1;
    if (tree_unsupported(c, why, why_len))
        return false; /* an unsupported topology is reported, never handled */
    for (size_t r = 0; r < c->n_nodes; r++) {
        if ((int)r == root || !tree_is_relay(c, (int)r, root) ||
            !tree_relay_dead(c, (int)r, root, now, down_after_ms, why, why_len))
            continue;
        int k = relay_child(c, (int)r, skip, ud);
        int t = tree_new_source(c, (int)r, root, to_primary);
        if (k < 0 || t < 0)
            continue;
        *relay = (int)r;
        *node = k;
        *to = t;
        return true;
    }
    return false;
}

/* Node i's unsupported topology, as a sentence; false when none. */
static bool unsupported_node(const node_t *nd, char *why, size_t len)
{
    const observation_t *o = &nd->last_ok;
    if (!o->ok)
        return false;
    if (o->group_replication)
        snprintf(why, len,
                 "%s is a Group Replication member: an unsupported topology (Group Replication "
                 "elects its own primary); failoverd refuses to fail over or switch over this "
                 "cluster",
                 nd->name);
    else if (o->repl_channels > 1)
        snprintf(why, len,
                 "%s replicates from %u sources (multi-source replication): an unsupported "
                 "topology; failoverd refuses to fail over or switch over this cluster",
                 nd->name, o->repl_channels);
    else
        return false;
    return true;
}

bool tree_unsupported(const cluster_t *c, char *why, size_t why_len)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (unsupported_node(&c->nodes[i], why, why_len))
            return true;
    return false;
}

void tree_unsupported_issues(cluster_t *c)
{
    char why[512];
    for (size_t i = 0; i < c->n_nodes; i++)
        if (unsupported_node(&c->nodes[i], why, sizeof why))
            cluster_add_issue(c, "%s", why);
}

/* Appends root's subtree to order, depth first. */
static void visit(const cluster_t *c, int i, int d, bool *seen, int *order, int *depth, size_t *n)
{
    seen[i] = true;
    order[*n] = i;
    if (depth)
        depth[*n] = d;
    (*n)++;
    for (size_t k = 0; k < c->n_nodes; k++)
        if (!seen[k] && cluster_source_of(c, &c->nodes[k].last_ok) == i)
            visit(c, (int)k, d + 1, seen, order, depth, n);
}

void tree_order(const cluster_t *c, int root, int *order, int *depth)
{
    bool *seen = xcalloc(c->n_nodes ? c->n_nodes : 1, sizeof *seen);
    size_t n = 0;
    if (root >= 0 && (size_t)root < c->n_nodes)
        visit(c, root, 0, seen, order, depth, &n);
    for (size_t k = 0; k < c->n_nodes; k++)
        if (!seen[k]) {
            seen[k] = true;
            order[n] = (int)k;
            if (depth)
                depth[n] = 0;
            n++;
        }
    free(seen);
}
