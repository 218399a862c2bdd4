/* elect.c - see elect.h for the rules. */
#include "elect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "filters.h"
#include "flavor.h"
#include "elect_internal.h"
#include "gtid.h"
#include "topology.h"
#include "tree.h"

const char *policy_str(policy_t p)
{
    return p == POLICY_AVAILABILITY ? "availability" : "reliability";
}

/* a ⊆ b in the flavor's algebra. */
static bool contained(const gtid_state_t *a, const gtid_state_t *b)
{
    return gtid_state_covers(b, a);
}

static bool newer_than(const observation_t *a, const observation_t *b)
{
    flavor_t fa, fb;
    if (!a->version || !b->version || !flavor_detect(&fa, a->version, NULL, NULL, 0) ||
        !flavor_detect(&fb, b->version, NULL, NULL, 0) || fa.family != fb.family)
        return false;
    return fa.major > fb.major || (fa.major == fb.major && fa.minor > fb.minor);
}

/* Node i replicates from the old primary, directly or through relays
 * (tree.h): the election compares the whole tree. With no known old primary,
 * the nodes that replicate from nobody in the cluster, as before. */
static bool below_old(const cluster_t *c, int i, int old_primary)
{
    if (old_primary < 0)
        return cluster_source_of(c, &c->nodes[i].last_ok) == old_primary;
    return tree_under(c, i, old_primary);
}

/* The replicas that can't be seen now and may hold more than the replicas
 * that can (see elect_hold). recv holds the received state of every candidate
 * whose last observation succeeded. */
static void mark_unseen(const cluster_t *c, int old_primary, elect_result_t *r,
                        gtid_state_t *const *recv)
{
    gtid_state_t *all = NULL;
    for (size_t k = 0; k < r->n; k++) {
        elect_candidate_t *e = &r->c[k];
        const node_t *nd = &c->nodes[e->node];
        const observation_t *o = &nd->last_ok;
        /* A node this daemon never saw is not counted: nothing says it
         * replicated from the old primary (most often it is a server that
         * died before failoverd started, such as an earlier primary). */
        if (nd->up || !o->ok)
            continue;
        if (!o->replica || !below_old(c, e->node, old_primary)) {
            continue; /* it did not replicate from the old primary */
        } else if (o->io != IO_NO) {
            e->unseen = "it can't be seen now and its IO thread was running when it was last "
                        "seen: it may have received transactions no other replica has";
        } else {
            if (!recv[k])
                continue;
            if (!all)
                all = elect__state_of(recv[k]->family, r->union_text);
            if (recv[k]->family != all->family || contained(recv[k], all))
                continue;
            e->unseen = "it can't be seen now and was last seen holding transactions no "
                        "replica that can be seen received";
        }
        r->n_unseen++;
    }
    gtid_state_free(all);
}

bool elect_hold(const cluster_t *c, const elect_result_t *e, policy_t policy, char *why, size_t len)
{
    buf_t b = BUF_INIT;
    for (size_t k = 0; k < e->n; k++) {
        const node_t *nd = &c->nodes[e->c[k].node];
        if (!e->c[k].unseen)
            continue;
        buf_printf(&b, "%s%s (", b.len ? "; " : "", nd->name);
        if (nd->unobservable)
            buf_printf(&b, "unobservable: failoverd's account lacks %s there; ",
                       nd->denied_privilege ? nd->denied_privilege : "a privilege");
        buf_printf(&b, "%s)", e->c[k].unseen);
    }
    bool primary_only = e->primary_only && e->primary_only[0];
    if (primary_only)
        buf_printf(&b,
                   "%sthe old primary was last seen with %s, which no replica that can be "
                   "seen received",
                   b.len ? "; " : "", e->primary_only);
    /* A replica that can be seen received what the candidate lacks, and none
     * that holds it can serve a catch-up (errant, no binary log...): those
     * transactions may have been acknowledged, and promoting would drop them. */
    bool unservable = false;
    for (size_t k = 0; k < e->n && e->chosen >= 0; k++) {
        const elect_candidate_t *ch = &e->c[k];
        if (ch->node != e->chosen || !ch->lacks || e->n_catchup > 0)
            continue;
        unservable = true;
        buf_printf(&b,
                   "%s%s, the candidate, lacks %s, which only replicas that can't serve a "
                   "catch-up received",
                   b.len ? "; " : "", c->nodes[ch->node].name, ch->missing);
    }
    snprintf(why, len, "%s", buf_str(&b));
    buf_free(&b);
    return policy == POLICY_RELIABILITY &&
           (e->n_unseen > 0 || (primary_only && e->chosen >= 0) || unservable);
}

/* One election in progress: its inputs, and what each pass leaves for the next. */
typedef struct {
    const cluster_t *c;
    int old_primary;
    policy_t policy;
    const char *want;
    elect_result_t *r;
    const observation_t *prim; /* the old primary's last observation (empty if none) */
    gtid_state_t **recv;       /* per candidate: what it received, errant ones left out */
    bool *filtering;           /* per node: its replication filters differ (filters.h) */
    bool filtered_out;         /* a filtering replica was excluded for it */
    size_t *pool;              /* candidates that are up replicas of the old primary */
    size_t np;
    bool *achievable; /* per candidate: it can end up with everything */
    size_t *order;    /* the eligible candidates, best first */
    size_t ne;
    int partner;      /* the old primary's dual partner (topology.h), -1 none */
} run_t;

/* What an exclusion rule looks at: one candidate of the run. */
typedef struct {
    const run_t *run;
    const node_t *nd;
    const observation_t *o;
    const elect_candidate_t *e;
    int src; /* the node it replicates from (cluster_source_of) */
    bool filtering;
} excl_in_t;

static bool ex_unobservable(const excl_in_t *x)
{
    return !x->nd->up && x->nd->unobservable;
}
static bool ex_down(const excl_in_t *x)
{
    return !x->nd->up;
}
static bool ex_gtid_error(const excl_in_t *x)
{
    return x->o->gtid_error != NULL;
}
static bool ex_must_not(const excl_in_t *x)
{
    return x->nd->rule == RULE_MUST_NOT;
}
static bool ex_grants(const excl_in_t *x)
{
    return x->nd->grants_missing_promote && x->nd->grants_missing_promote[0];
}
static bool ex_no_binlog(const excl_in_t *x)
{
    return !x->o->log_bin;
}
static bool ex_no_replica_updates(const excl_in_t *x)
{
    return !x->o->log_replica_updates;
}
static bool ex_delayed(const excl_in_t *x)
{
    return x->o->sql_delay_s > 0;
}
static bool ex_other_source(const excl_in_t *x)
{
    return x->src < 0 || !below_old(x->run->c, x->e->node, x->run->old_primary);
}
static bool ex_sql_error(const excl_in_t *x)
{
    return x->o->last_sql_errno != 0;
}
static bool ex_errant(const excl_in_t *x)
{
    return x->e->errant[0] != '\0';
}
static bool ex_filters(const excl_in_t *x)
{
    return x->filtering && x->run->policy == POLICY_RELIABILITY;
}

/* The exclusions, in the order they are judged: a candidate is excluded for
 * the first rule that applies, and that rule's reason is what status and the
 * logs give. A new rule is one row here. */
static const struct {
    const char *reason;
    bool (*applies)(const excl_in_t *x);
} exclusions[] = {
    {"it is unobservable (failoverd's account may not read its state)", ex_unobservable},
    {"it is down", ex_down},
    {"its GTID state can't be parsed (see its gtid_error in status)", ex_gtid_error},
    {"its promotion rule is must_not", ex_must_not},
    {"failoverd's account lacks privileges its promotion needs there", ex_grants},
    {"its binary log is off", ex_no_binlog},
    {"it does not log replicated transactions (log_replica_updates off)", ex_no_replica_updates},
    {"it is a delayed replica", ex_delayed},
    {"it does not replicate from the old primary", ex_other_source},
    {"its replication is broken (SQL error)", ex_sql_error},
    {"it has errant GTIDs", ex_errant},
    {"its replication filters differ from the other replicas' (it may lack data it reports as "
     "replicated)",
     ex_filters},
};
#define N_EXCLUSIONS (sizeof exclusions / sizeof exclusions[0])

/* The candidate's received set, backlog and errant GTIDs (pass 1). */
static void candidate_gtids(run_t *run, size_t k, const observation_t *o)
{
    elect_candidate_t *e = &run->r->c[k];
    gtid_state_t **recv = &run->recv[k];
    if (!o->ok || o->gtid_error) {
        e->received = xstrdup("");
        return;
    }
    *recv = elect__received_of(o);
    e->received = gtid_state_format(*recv);
    e->backlog = elect__backlog_of(o, *recv);
    free(e->errant);
    e->errant = elect_errant(o, run->prim);
    if (e->errant[0] && (*recv)->family != FAMILY_MARIADB) {
        /* What it holds besides its errant transactions still counts.
         * MySQL only: a set can drop its errant transactions and keep the
         * rest; a MariaDB position names only a domain's last transaction
         * and can't drop one, so it stays as received. */
        gtid_set_t *bad = elect__set_of(e->errant);
        gtid_set_t *clean = gtid_set_subtract((*recv)->set, bad);
        gtid_set_free((*recv)->set);
        gtid_set_free(bad);
        (*recv)->set = clean;
        free(e->received);
        e->received = gtid_state_format(*recv);
    }
}

/* Pass 1: per-node facts and exclusions. */
static void pass_facts(run_t *run)
{
    const cluster_t *c = run->c;
    elect_result_t *r = run->r;
    for (size_t i = 0; i < c->n_nodes; i++) {
        if ((int)i == run->old_primary)
            continue;
        const node_t *nd = &c->nodes[i];
        const observation_t *o = &nd->last_ok;
        elect_candidate_t *e = &r->c[r->n];
        e->node = (int)i;
        e->backlog = -1;
        e->errant = xstrdup("");
        e->missing = xstrdup("");
        int src = cluster_source_of(c, o);
        candidate_gtids(run, r->n, o);
        excl_in_t x = {run, nd, o, e, src, run->filtering[i]};
        for (size_t k = 0; k < N_EXCLUSIONS && !e->excluded; k++) {
            if (exclusions[k].applies(&x)) {
                e->excluded = exclusions[k].reason;
                if (exclusions[k].applies == ex_filters)
                    run->filtered_out = true;
            }
        }
        e->filtering = run->filtering[i];
        e->source_ok = nd->up && o->log_bin && o->log_replica_updates && !e->errant[0] &&
                       below_old(c, (int)i, run->old_primary) && !run->filtering[i] &&
                       !o->gtid_error;
        r->n++;
    }
}

/* The most advanced of the pool, and the union of what it received. */
static gtid_advanced_t *pool_advanced(run_t *run)
{
    const gtid_state_t **st = xcalloc(run->np, sizeof *st);
    for (size_t p = 0; p < run->np; p++)
        st[p] = run->recv[run->pool[p]];
    server_family_t f = st[0]->family;
    gtid_advanced_t *adv = gtid_state_most_advanced(st, run->np, f);
    gtid_state_t *u = gtid_state_new(f);
    for (size_t p = 0; p < run->np; p++)
        gtid_state_add(u, st[p]);
    run->r->union_text = gtid_state_format(u);
    gtid_state_free(u);
    free(st);
    return adv;
}

/* Pass 2: freshness over the pool of up replicas of the old primary: what they
 * received together (errant transactions left out) is the data that must survive. */
static void pass_freshness(run_t *run)
{
    elect_result_t *r = run->r;
    run->pool = xcalloc(r->n + 1, sizeof *run->pool);
    for (size_t k = 0; k < r->n; k++) {
        const node_t *nd = &run->c->nodes[r->c[k].node];
        /* A node whose GTID state can't be parsed has no known received set. */
        if (nd->up && below_old(run->c, r->c[k].node, run->old_primary) &&
            !nd->last_ok.gtid_error)
            run->pool[run->np++] = k;
    }
    if (run->np == 0) {
        r->union_text = xstrdup("");
        return;
    }
    gtid_advanced_t *adv = pool_advanced(run);
    for (size_t p = 0; p < run->np; p++) {
        elect_candidate_t *e = &r->c[run->pool[p]];
        e->lacks = gtid_advanced_lacks(adv, p);
        free(e->missing);
        e->missing = gtid_advanced_missing_text(adv, p);
    }
    if (adv->most_advanced >= 0)
        r->most_advanced = r->c[run->pool[adv->most_advanced]].node;
    gtid_advanced_free(adv);
}

/* Pass 3: a candidate must not be newer than the replicas that will follow it. */
static void pass_versions(run_t *run)
{
    elect_result_t *r = run->r;
    for (size_t k = 0; k < r->n; k++) {
        elect_candidate_t *e = &r->c[k];
        if (e->excluded)
            continue;
        for (size_t p = 0; p < run->np; p++) {
            const elect_candidate_t *f = &r->c[run->pool[p]];
            if (f->node != e->node &&
                newer_than(&run->c->nodes[e->node].last_ok, &run->c->nodes[f->node].last_ok)) {
                e->excluded = "it runs a newer server version than a replica that would follow it";
                break;
            }
        }
    }
}

/* Candidate k with everything the catch-up sources hold: does it have all
 * the pool received? */
static bool can_get_all(const run_t *run, size_t k)
{
    gtid_state_t *const *recv = run->recv;
    gtid_state_t *acc = gtid_state_copy(recv[k]);
    for (size_t p = 0; p < run->np; p++) {
        size_t s = run->pool[p];
        if (s != k && run->r->c[s].source_ok)
            gtid_state_add(acc, recv[s]);
    }
    bool all = true;
    for (size_t p = 0; p < run->np && all; p++)
        all = contained(recv[run->pool[p]], acc);
    gtid_state_free(acc);
    return all;
}

/* Pass 4: can a candidate end up with everything? Yes when it lacks nothing, or
 * when the union of the catch-up sources holds everything it lacks. */
static void pass_achievable(run_t *run)
{
    run->achievable = xcalloc(run->r->n + 1, sizeof *run->achievable);
    for (size_t k = 0; k < run->r->n; k++)
        if (!run->r->c[k].excluded)
            run->achievable[k] = !run->r->c[k].lacks || can_get_all(run, k);
}

static int cmp_candidates(const void *pa, const void *pb, void *arg)
{
    const run_t *run = arg;
    size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
    const elect_candidate_t *a = &run->r->c[ia], *b = &run->r->c[ib];
    /* A replica without filters before any filtering one, whatever the policy. */
    if (a->filtering != b->filtering)
        return a->filtering ? 1 : -1;
    int rule_a = run->c->nodes[a->node].rule, rule_b = run->c->nodes[b->node].rule;
    int keys_a[4], keys_b[4];
    if (run->policy == POLICY_RELIABILITY) {
        keys_a[0] = !run->achievable[ia], keys_b[0] = !run->achievable[ib];
        keys_a[1] = rule_a, keys_b[1] = rule_b;
        keys_a[2] = a->lacks, keys_b[2] = b->lacks;
    } else {
        /* Nothing waits long for a relay log to be applied either: what a
         * candidate received but did not apply is dropped when it is promoted. */
        keys_a[0] = a->lacks, keys_b[0] = b->lacks;
        keys_a[1] = a->backlog > 0, keys_b[1] = b->backlog > 0;
        keys_a[2] = rule_a, keys_b[2] = rule_b;
    }
    keys_a[3] = 0, keys_b[3] = 0;
    for (int k = 0; k < 3; k++)
        if (keys_a[k] != keys_b[k])
            return keys_a[k] - keys_b[k];
    /* Equal so far: the old primary's dual partner first, whose promotion
     * keeps the pair's shape (topology.h). */
    if ((a->node == run->partner) != (b->node == run->partner))
        return a->node == run->partner ? -1 : 1;
    long long ba = a->backlog < 0 ? (1LL << 62) : a->backlog;
    long long bb = b->backlog < 0 ? (1LL << 62) : b->backlog;
    if (ba != bb)
        return ba < bb ? -1 : 1;
    return a->node - b->node;
}

/* Pass 5: rank the eligible ones. */
static void pass_rank(run_t *run)
{
    elect_result_t *r = run->r;
    run->order = xcalloc(r->n + 1, sizeof *run->order);
    for (size_t k = 0; k < r->n; k++)
        if (!r->c[k].excluded)
            run->order[run->ne++] = k;
    qsort_r(run->order, run->ne, sizeof *run->order, cmp_candidates, run);
    for (size_t k = 0; k < run->ne; k++)
        r->c[run->order[k]].rank = (int)k + 1;
}

/* Pass 6: which candidate, or why none; (size_t)-1 for none. */
static size_t pass_choose(run_t *run)
{
    elect_result_t *r = run->r;
    size_t chosen_k = (size_t)-1;
    if (run->want) {
        int w = cluster_find_node_by_name(run->c, run->want);
        for (size_t k = 0; k < r->n; k++)
            if (r->c[k].node == w)
                chosen_k = k;
        if (w < 0 || w == run->old_primary)
            snprintf(r->why, sizeof r->why, "%s is not a replica in this cluster", run->want);
        else if (r->c[chosen_k].excluded) {
            snprintf(r->why, sizeof r->why, "%s can't be promoted: %s", run->want,
                     r->c[chosen_k].excluded);
            chosen_k = (size_t)-1;
        }
    } else if (run->ne > 0) {
        chosen_k = run->order[0];
    } else if (run->filtered_out) {
        snprintf(r->why, sizeof r->why,
                 "no replica can be promoted: the replicas without replication filters are "
                 "excluded, and a replica whose filters differ from the others' may lack data "
                 "(reliability policy)");
    } else {
        snprintf(r->why, sizeof r->why, "no replica can be promoted");
    }
    return chosen_k;
}

/* Catch up (reliability only) from the sources holding what the chosen one
 * lacks: the most advanced one if it can serve, else each source with
 * something it lacks. */
static void pass_catchup(run_t *run, size_t chosen_k)
{
    elect_result_t *r = run->r;
    const elect_candidate_t *e = &r->c[chosen_k];
    r->catchup = xcalloc(run->np + 1, sizeof *r->catchup);
    if (run->policy != POLICY_RELIABILITY || !e->lacks)
        return;
    int ma = -1;
    for (size_t p = 0; p < run->np; p++)
        if (r->c[run->pool[p]].node == r->most_advanced && r->c[run->pool[p]].source_ok)
            ma = (int)run->pool[p];
    for (size_t p = 0; p < run->np; p++) {
        size_t s = run->pool[p];
        if (s == chosen_k || !r->c[s].source_ok || contained(run->recv[s], run->recv[chosen_k]))
            continue;
        if (ma >= 0 && (int)s != ma)
            continue;
        r->catchup[r->n_catchup++] = r->c[s].node;
    }
}

/* The one sentence that says whom and why. */
static void say_choice(run_t *run, const elect_candidate_t *e)
{
    const cluster_t *c = run->c;
    elect_result_t *r = run->r;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s %s (%s", run->want ? "promote the requested" : "promote",
               c->nodes[e->node].name, promotion_rule_str(c->nodes[e->node].rule));
    buf_printf(&b, e->lacks ? ", lacks %s" : ", holds everything received", e->missing);
    if (e->backlog >= 0)
        buf_printf(&b, ", backlog %lld", e->backlog);
    buf_puts(&b, ")");
    if (r->n_catchup) {
        buf_puts(&b, " after catching up from ");
        for (size_t k = 0; k < r->n_catchup; k++)
            buf_printf(&b, "%s%s", k ? ", " : "", c->nodes[r->catchup[k]].name);
    } else if (e->lacks) {
        buf_puts(&b, run->policy == POLICY_AVAILABILITY
                         ? "; what it lacks may be lost (availability policy)"
                         : "; what it lacks is held by no replica that can serve it");
    }
    if (e->filtering)
        buf_printf(&b,
                   "; its replication filters (%s) differ from the other replicas': the data "
                   "it filtered out is lost (availability policy)",
                   c->nodes[e->node].last_ok.repl_filters);
    snprintf(r->why, sizeof r->why, "%s", buf_str(&b));
    buf_free(&b);
}

elect_result_t *elect_run(const cluster_t *c, int old_primary, policy_t policy, const char *want)
{
    static const observation_t none;
    run_t run = {.c = c, .old_primary = old_primary, .policy = policy, .want = want,
                 .partner = topology_dual_partner(c, old_primary)};
    elect_result_t *r = run.r = xcalloc(1, sizeof *r);
    r->chosen = -1;
    r->most_advanced = -1;
    r->c = xcalloc(c->n_nodes, sizeof *r->c);
    run.recv = xcalloc(c->n_nodes, sizeof *run.recv);
    run.prim = old_primary >= 0 ? &c->nodes[old_primary].last_ok : &none;
    run.filtering = xcalloc(c->n_nodes + 1, sizeof *run.filtering);
    filters_judge(c, old_primary, run.filtering);

    pass_facts(&run);
    pass_freshness(&run);
    pass_versions(&run);
    pass_achievable(&run);
    pass_rank(&run);
    size_t chosen_k = pass_choose(&run);
    if (chosen_k != (size_t)-1) {
        r->chosen = r->c[chosen_k].node;
        pass_catchup(&run, chosen_k);
        say_choice(&run, &r->c[chosen_k]);
    }
    mark_unseen(c, old_primary, r, run.recv);
    r->primary_only = elect_primary_only(c, old_primary, r);

    for (size_t k = 0; k < r->n; k++)
        gtid_state_free(run.recv[k]);
    free(run.recv);
    free(run.pool);
    free(run.order);
    free(run.achievable);
    free(run.filtering);
    return r;
}

void elect_free(elect_result_t *r)
{
    if (!r)
        return;
    for (size_t k = 0; k < r->n; k++) {
        free(r->c[k].missing);
        free(r->c[k].received);
        free(r->c[k].errant);
    }
    free(r->c);
    free(r->catchup);
    free(r->union_text);
    free(r->primary_only);
    free(r);
}

json_t *elect_json(const cluster_t *c, const elect_result_t *r)
{
    json_t *cands = json_array();
    for (size_t k = 0; k < r->n; k++) {
        const elect_candidate_t *e = &r->c[k];
        json_array_append_new(cands,
                              json_pack("{s:s, s:s, s:o, s:i, s:b, s:s, s:s, s:s, s:o}", "node",
                                        c->nodes[e->node].name, "promotion_rule",
                                        promotion_rule_str(c->nodes[e->node].rule), "excluded",
                                        e->excluded ? json_string(e->excluded) : json_null(),
                                        "rank", e->rank, "lacks", e->lacks, "missing", e->missing,
                                        "received", e->received, "errant", e->errant, "backlog",
                                        e->backlog >= 0 ? json_integer(e->backlog) : json_null()));
        const observation_t *o = &c->nodes[e->node].last_ok;
        json_t *cand = json_array_get(cands, json_array_size(cands) - 1);
        json_object_set_new(cand, "filters",
                            o->ok && o->repl_filters ? json_string(o->repl_filters) : json_null());
        json_object_set_new(cand, "filtering", json_boolean(e->filtering));
        json_object_set_new(cand, "unseen", e->unseen ? json_string(e->unseen) : json_null());
    }
    json_t *cu = json_array();
    for (size_t k = 0; k < r->n_catchup; k++)
        json_array_append_new(cu, json_string(c->nodes[r->catchup[k]].name));
    json_t *out = json_pack(
        "{s:o, s:o, s:s, s:o, s:s, s:o}", "chosen",
        r->chosen >= 0 ? json_string(c->nodes[r->chosen].name) : json_null(), "most_advanced",
        r->most_advanced >= 0 ? json_string(c->nodes[r->most_advanced].name) : json_null(),
        "received_by_all", r->union_text ? r->union_text : "", "catch_up_from", cu, "why", r->why,
        "candidates", cands);
    json_object_set_new(out, "primary_only", json_string(r->primary_only ? r->primary_only : ""));
    return out;
}
