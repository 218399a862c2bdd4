/* filters.h - replication filters (pure: no I/O, no clock).
 *
 * A replica that filters what it replicates (MariaDB: IGNORE_DOMAIN_IDS,
 * DO_DOMAIN_IDS, IGNORE_SERVER_IDS, replicate_*; MySQL: CHANGE REPLICATION
 * FILTER or replicate-* options) still reports the filtered transactions as
 * received, and often as executed: MariaDB moves Gtid_IO_Pos and
 * gtid_slave_pos past the ignored domains, MySQL logs a filtered transaction
 * as an empty one under its GTID. Its GTID state then claims data it does not
 * hold, and the election, which ranks by GTID state, would take it for as
 * good as any other replica.
 *
 * Both servers show the filters in force on a replication channel in the
 * replica status row (SHOW REPLICA STATUS / SHOW ALL SLAVES STATUS), global
 * filters included: MySQL copies them into each channel, and the row agrees
 * with performance_schema.replication_applier_filters. The prober reads the
 * columns below from the row it already fetches, so no query and no privilege
 * is added.
 *
 * The filters are kept as one canonical text, so that two replicas filter the
 * same way exactly when their texts are equal: the non-empty columns in the
 * order below, "Column=item,item" joined by "; ", each column's items with
 * blanks trimmed and sorted (servers print them in their own order); "" when
 * the replica filters nothing.
 *
 * The rule (elect.h, monitor): when the replicas of a primary do not all
 * filter the same way, every replica with filters is "filtering" - it may
 * lack data the others hold. It is a topology issue; under the reliability
 * policy it is never promoted and never a catch-up source (a failover with no
 * other candidate is aborted); under availability it ranks after every
 * replica without filters. A cluster whose replicas all filter the same way
 * (or none does) has no filtering replica.
 */
#ifndef FAILOVERD_FILTERS_H
#define FAILOVERD_FILTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/* The replica status columns that hold filters, NULL-terminated. A flavor
 * lacks some of them (MySQL has no domain ids). */
#define FILTERS_NCOLUMNS 10
extern const char *const filters_columns[FILTERS_NCOLUMNS + 1];

/* The canonical text of one replica's filters from the values of
 * filters_columns (values[i] for filters_columns[i]; NULL where the row has
 * no such column or it is NULL). "" when nothing is filtered. Caller frees. */
char *filters_canonical(const char *const *values);

/* Which replicas of `primary` filter differently from the others: sets
 * filtering[i] (one per node of c, cleared first) for every filtering
 * replica as defined above, judged from the nodes' last successful
 * observations (a replica never observed is not judged). Returns how many. */
size_t filters_judge(const cluster_t *c, int primary, bool *filtering);

/* Adds a topology issue for each filtering replica of the cluster's primary. */
void filters_add_issues(cluster_t *c);

#endif
