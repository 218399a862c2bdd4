/* resume.c - see resume.h. */
#include "resume.h"

#include <stdio.h>
#include <string.h>

#include "gtid.h"

static bool seen(const node_t *n) { return n->up && n->last_ok.ok; }

/* The candidate has executed every transaction the old primary has, by
 * their latest observations; false also when either can't be read. */
static bool has_all_of(const node_t *cand, const node_t *old)
{
    const char *a = cand->last_ok.gtid_executed, *b = old->last_ok.gtid_executed;
    if (!a || !b || cand->last_ok.family != old->last_ok.family)
        return false;
    if (old->last_ok.family == FAMILY_MARIADB) {
        gtid_pos_t *pa = gtid_pos_parse(a, NULL, 0), *pb = gtid_pos_parse(b, NULL, 0);
        bool ok = pa && pb && gtid_pos_covers(pa, pb);
        gtid_pos_free(pa);
        gtid_pos_free(pb);
        return ok;
    }
    gtid_set_t *sa = gtid_set_parse(a, NULL, 0), *sb = gtid_set_parse(b, NULL, 0);
    bool ok = sa && sb && gtid_set_is_subset(sb, sa);
    gtid_set_free(sa);
    gtid_set_free(sb);
    return ok;
}

resume_action_t resume_decide(const cluster_t *c, const resume_facts_t *f, char *why, size_t len)
{
    const char *promo = f->promotion ? f->promotion : "not started";
    if (strcmp(promo, "unknown") != 0 && strcmp(promo, "done") != 0) {
        snprintf(why, len, "its promotion %s", strcmp(promo, "failed") == 0
                                                   ? "failed"
                                                   : "had not started");
        return RESUME_REFUSE;
    }
    if (f->old_primary < 0 || f->candidate < 0 || (size_t)f->old_primary >= c->n_nodes ||
        (size_t)f->candidate >= c->n_nodes || f->old_primary == f->candidate) {
        snprintf(why, len, "its old primary or its candidate is not known");
        return RESUME_REFUSE;
    }
    const node_t *old = &c->nodes[f->old_primary], *cand = &c->nodes[f->candidate];
    if (!seen(cand)) {
        snprintf(why, len, "%s can't be reached: whether it was made writable is unknown",
                 cand->name);
        return RESUME_REFUSE;
    }
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *n = &c->nodes[i];
        if ((int)i != f->candidate && seen(n) && !n->last_ok.read_only) {
            snprintf(why, len, "%s is writable%s", n->name,
                     (int)i == f->old_primary ? " again" : "");
            return RESUME_REFUSE;
        }
    }
    if (!seen(old) && !f->blocked) {
        snprintf(why, len, "%s can't be reached and the switchover had not made it read-only",
                 old->name);
        return RESUME_REFUSE;
    }
    if (!cand->last_ok.read_only) {
        snprintf(why, len, "%s is writable and %s read-only: the promotion took effect",
                 cand->name, old->name);
        return RESUME_AFTER_PROMOTION;
    }
    if (strcmp(promo, "done") == 0) {
        snprintf(why, len, "%s was promoted but is read-only now: someone changed it",
                 cand->name);
        return RESUME_REFUSE;
    }
    if (!f->blocked || !f->synced) {
        snprintf(why, len, "%s is read-only and the switchover had not %s", cand->name,
                 !f->blocked ? "made the old primary read-only" : "seen it catch up");
        return RESUME_REFUSE;
    }
    if (!seen(old)) {
        snprintf(why, len, "%s is read-only and %s can't be reached to compare their GTIDs",
                 cand->name, old->name);
        return RESUME_REFUSE;
    }
    if (!has_all_of(cand, old)) {
        snprintf(why, len, "%s is read-only and lacks transactions %s has", cand->name,
                 old->name);
        return RESUME_REFUSE;
    }
    snprintf(why, len, "nothing is writable; %s has every transaction of %s, which is read-only: "
                       "the promotion did not take effect and is run again",
             cand->name, old->name);
    return RESUME_PROMOTE;
}

const char *resume_action_str(resume_action_t a)
{
    switch (a) {
    case RESUME_AFTER_PROMOTION: return "after_promotion";
    case RESUME_PROMOTE: return "promote";
    case RESUME_REFUSE: break;
    }
    return "refuse";
}
