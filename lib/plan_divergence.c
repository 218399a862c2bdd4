/* plan_divergence.c - what an old primary had that the new one lacks (see plan.h). */
#include "plan.h"

#include <stdlib.h>

#include "gtid.h"

char *plan_divergence(bool mariadb, const char *old_gtid, const char *new_gtid, uint64_t *count,
                      char *err, size_t errlen)
{
    *count = 0;
    if (!mariadb) {
        gtid_set_t *a = gtid_set_parse(old_gtid ? old_gtid : "", err, errlen);
        gtid_set_t *b = a ? gtid_set_parse(new_gtid ? new_gtid : "", err, errlen) : NULL;
        if (!a || !b) {
            gtid_set_free(a);
            return NULL;
        }
        gtid_set_t *d = gtid_set_subtract(a, b);
        *count = gtid_set_count(d);
        char *out = gtid_set_format_line(d);
        gtid_set_free(a);
        gtid_set_free(b);
        gtid_set_free(d);
        return out;
    }
    gtid_pos_t *a = gtid_pos_parse(old_gtid ? old_gtid : "", err, errlen);
    gtid_pos_t *b = a ? gtid_pos_parse(new_gtid ? new_gtid : "", err, errlen) : NULL;
    if (!a || !b) {
        gtid_pos_free(a);
        return NULL;
    }
    gtid_pos_diff_t *d = gtid_pos_diff(b, a);
    for (size_t i = 0; i < d->n; i++)
        *count += d->gap[i].b.seq - (d->gap[i].a_has ? d->gap[i].a_seq : 0);
    char *out = gtid_pos_diff_format(d);
    gtid_pos_diff_free(d);
    gtid_pos_free(a);
    gtid_pos_free(b);
    return out;
}
