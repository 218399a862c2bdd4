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
    if (!seen(old) && !f->blocked && !f->failover) {
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

/* ---- the rejoin's records ---------------------------------------------------- */

static const char *str_of(const json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s ? s : "";
}

bool resume_rec_is_rejoin(const json_t *rec)
{
    return strcmp(str_of(rec, "kind"), RESUME_KIND_REJOIN) == 0;
}

static bool ends(const char *type)
{
    return strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
           strcmp(type, "aborted") == 0 || strcmp(type, "ack") == 0;
}

json_t *resume_open_rejoins(const json_t *records)
{
    json_t *open = json_object(); /* cluster + op -> its summary */
    json_t *order = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        if (!resume_rec_is_rejoin(rec) || !str_of(rec, "op")[0])
            continue;
        char key[512];
        snprintf(key, sizeof key, "%s%c%s", str_of(rec, "cluster"), 0x1f, str_of(rec, "op"));
        const char *type = str_of(rec, "type");
        json_t *sum = json_object_get(open, key);
        if (ends(type)) {
            if (sum)
                json_object_set_new(sum, "closed", json_true());
            continue;
        }
        if (!sum) {
            sum = json_pack("{s:s, s:s}", "cluster", str_of(rec, "cluster"), "op",
                            str_of(rec, "op"));
            json_object_set_new(open, key, sum);
            json_array_append(order, sum);
        }
        if (str_of(rec, "node")[0] && !json_object_get(sum, "node"))
            json_object_set_new(sum, "node", json_string(str_of(rec, "node")));
        /* Leaving a phase names the next one. */
        const char *phase = strcmp(type, "phase_left") == 0 ? str_of(rec, "next")
                                                            : str_of(rec, "phase");
        if (phase[0])
            json_object_set_new(sum, "phase", json_string(phase));
        if (str_of(rec, "step")[0])
            json_object_set_new(sum, "step", json_string(str_of(rec, "step")));
    }
    json_t *out = json_array();
    json_array_foreach(order, i, rec)
    {
        if (json_object_get(rec, "closed"))
            continue;
        json_t *copy = json_deep_copy(rec);
        json_array_append_new(out, copy);
    }
    json_decref(order);
    json_decref(open);
    return out;
}
