/* observe.h - the replica status rows of a server, read once (pure: no I/O).
 *
 * A server reports its replication in SHOW REPLICA STATUS (MySQL), SHOW ALL
 * SLAVES STATUS (MariaDB) and their older spellings, under column names that
 * depend on the flavor (flavor_replica_columns). The prober, the executor's
 * polls and the rejoin's verification all read those rows; this module is the
 * one place that turns them into the replication part of an observation_t,
 * so that every reader sees the same facts from the same row, and a row that
 * is not what the flavor promises is an error here, where it enters.
 */
#ifndef FAILOVERD_OBSERVE_H
#define FAILOVERD_OBSERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "flavor.h"
#include "model.h"

/* A result set as the server sent it: ncols column names, and nrows rows of
 * ncols values each (vals[row * ncols + col]; NULL is SQL NULL). */
typedef struct {
    size_t ncols;
    char *const *cols;
    size_t nrows;
    char *const *vals;
} observe_rows_t;

/* The rows of a result set that has the fields above under the same names
 * (dbconn_rs_t); no rows for NULL. */
#define OBSERVE_ROWS(rs)                                                                           \
    ((rs) ? (observe_rows_t){(rs)->ncols, (rs)->cols, (rs)->nrows, (rs)->vals}                     \
          : (observe_rows_t){0})

/* Fills the replication part of *o (replica, source_host, source_port, io,
 * sql_running, the last errors, lag_s, sql_delay_s, relay_log_space,
 * repl_filters, received_gtids, executed_gtids and, on MariaDB, heartbeats)
 * from the replica status rows of a server of flavor f. The row read is the
 * default channel's (the unnamed connection); no row at all, or rows == NULL,
 * means the node replicates from nobody: o->replica stays false.
 * MariaDB's applied position falls back to o->gtid_slave_pos (the node state)
 * where the row has none, and heartbeats to o->heartbeats: fill those first.
 * Returns false, with one sentence in err and the replication fields of *o
 * left as they were, when a row lacks a column the flavor must have or a
 * number, port or thread state is not one. */
bool observe_replica(const flavor_t *f, const observe_rows_t *rows, observation_t *o, char *err,
                     size_t errlen);

/* An IO thread state in the server's own words, for messages: "Yes", "No",
 * "Connecting" (also for MariaDB's "Preparing"), "?" when not known. */
const char *observe_thread_word(io_state_t s);

#endif
