/* grants.h - the privileges failoverd's account needs, per flavor (pure: no
 * I/O, no clock).
 *
 * The probe reads SHOW GRANTS (the account's own grants) and this module
 * judges the rows against what failoverd needs on a server of that flavor;
 * the table is docs/configuration.md's ("Privileges"). A privilege counts when
 * it is granted on *.* (or ALL PRIVILEGES on *.*), or one that includes it
 * (SUPER where the server accepts it instead); MySQL's SELECT on
 * performance_schema also counts when granted on `performance_schema`.*.
 * Privileges that come through roles are not resolved: a role among the rows
 * makes the grants "not judged" rather than wrongly lacking.
 *
 * A server's refusal (error 1227 "you need (at least one of) the X
 * privilege(s)", or 1142/1044 "... command denied") is read by
 * grants_denied_privilege: it names what the account lacked.
 */
#ifndef FAILOVERD_GRANTS_H
#define FAILOVERD_GRANTS_H

#include <stdbool.h>
#include <stddef.h>

#include "flavor.h"

/* What a privilege is needed for. */
typedef enum {
    GRANTS_MONITOR = 1,  /* reading the node's state: without it the node is unobservable */
    GRANTS_PROMOTE = 2,  /* making the node the primary (stop, reset replication, read_only off) */
    GRANTS_OPERATE = 4,  /* everything else a failover or switchover does on it */
} grants_use_t;

typedef struct {
    bool judged;          /* false: the rows could not be judged (roles); the rest is empty */
    char *missing;        /* every needed privilege it lacks, ", "-separated; "" when none */
    char *missing_promote; /* those among them a promotion needs */
    char *missing_monitor; /* those among them monitoring needs */
} grants_check_t;

/* Judges SHOW GRANTS rows (each "GRANT ... ON ... TO ...") for flavor f.
 * Returns false with err when a row is not a GRANT statement (nothing is
 * judged then). Free with grants_check_clear. */
bool grants_check(const flavor_t *f, const char *const *rows, size_t n, grants_check_t *out,
                  char *err, size_t errlen);
void grants_check_clear(grants_check_t *g);

/* The privileges failoverd needs on flavor f, one line each: "NAME: what for"
 * (for documentation and messages); NULL-terminated, static. */
const char *const *grants_needed(const flavor_t *f);

/* The privilege a server's refusal names: for error 1227 the list after "you
 * need (at least one of) the" without SUPER when something else is named
 * ("SLAVE MONITOR"); for 1142/1044 "SELECT on performance_schema.TABLE" and
 * the like; otherwise NULL. Caller frees. */
char *grants_denied_privilege(unsigned err_code, const char *msg);

/* Whether a client error code is a privilege refusal (1227, 1142, 1143, 1044). */
bool grants_is_denied(unsigned err_code);

#endif
