/* plan_divergence.c - what an old primary had that the new one lacks (see plan.h). */
#include "plan.h"

#include <stdlib.h>

#include "gtid.h"

/* One computation for both families (gtid_state_beyond_text): MySQL the set
 * old − new, MariaDB the domains where old's position is past new's. */
char *plan_divergence(bool mariadb, const char *old_gtid, const char *new_gtid, uint64_t *count,
                      char *err, size_t errlen)
{
    *count = 0;
    server_family_t fam = mariadb ? FAMILY_MARIADB : FAMILY_MYSQL;
    gtid_state_t *a = gtid_state_parse(fam, old_gtid ? old_gtid : "", err, errlen);
    gtid_state_t *b = a ? gtid_state_parse(fam, new_gtid ? new_gtid : "", err, errlen) : NULL;
    char *out = a && b ? gtid_state_beyond_text(a, b, count) : NULL;
    gtid_state_free(a);
    gtid_state_free(b);
    return out;
}
