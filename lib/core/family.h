/* family.h - the server family (core): MySQL or MariaDB, as the version a
 * server reports tells it.  One enum for the model (what a probe saw) and the
 * SQL dialect (flavor.h). */
#ifndef FAILOVERD_FAMILY_H
#define FAILOVERD_FAMILY_H

typedef enum { FAMILY_UNKNOWN, FAMILY_MYSQL, FAMILY_MARIADB } server_family_t;

#endif
