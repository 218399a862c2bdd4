/* journal.h - crash-safe record of what failovers and switchovers did.
 *
 * One append-only file of JSON lines under the state directory. Every record
 * is written and fdatasync'd before the step it announces is carried out, so
 * after a crash the journal tells exactly how far an operation got. Records:
 *   {"seq":N, "time":"...", "cluster":"main", "op":"<id>",
 *    "kind":"failover|switchover|rejoin",
 *    "type":"begin|phase|phase_left|step|step_done|step_failed|done|failed|aborted|ack",
 *    ...fields}
 * An operation is open from its "begin" until "done", "failed" or "aborted";
 * an operation still open when the daemon starts was interrupted, and its
 * cluster stays hands-off until an operator acknowledges it ("ack").
 * The rejoin's actions (kind "rejoin") are journaled the same way but are not
 * operations: journal_open_op and journal_records leave them out; a rejoin
 * still open at a start is closed as abandoned (resume.h).
 *
 * The write is synchronous on the loop by design: a record must be on disk
 * before its step runs; it costs one small write and fdatasync on local disk.
 */
#ifndef FAILOVERD_JOURNAL_H
#define FAILOVERD_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct journal journal_t;

/* Opens (creating) the journal file; reads it to learn the last sequence number
 * and which operations are open. A torn last line (crash mid-write) is ignored
 * and reported. NULL with err filled on failure. */
journal_t *journal_open(const char *path, char *err, size_t err_len);
void journal_close(journal_t *j);

/* A journal that could not be read (why): every cluster counts as damaged,
 * and nothing can be appended. The daemon runs with it so that it goes on
 * monitoring and says why it holds every cluster. */
journal_t *journal_open_unreadable(const char *path, const char *why);

/* Appends rec (an object; "seq" and "time" are added) and syncs it. The
 * reference to rec is stolen. Returns false when the record was not made
 * durable (logged; journal_last_error says why): whatever reached the file
 * is taken back, so the journal never keeps a torn record in its middle;
 * when even that fails, the journal is broken (journal_broken) and every
 * later append fails too. A record that is not durable is not kept. */
bool journal_append(journal_t *j, json_t *rec);

/* Convenience: a record for cluster/op of type with extra fields (stolen, may be NULL). */
bool journal_record(journal_t *j, const char *cluster, const char *op, const char *kind,
                    const char *type, json_t *fields);

/* Why the last append failed. */
const char *journal_last_error(const journal_t *j);
/* Why nothing can be appended any more (unreadable, or a torn record could
 * not be taken back), or NULL. */
const char *journal_broken(const journal_t *j);

/* A record of kind "note" (a fact journaled on its own, such as a lost
 * relay's replica repointed) belongs to no operation: it never makes one
 * open (journal_open_op). */
bool journal_is_note(const json_t *rec);

/* Whether records that may concern cluster were damaged (a line in the
 * middle of the file that is not a record: it names this cluster, or its
 * cluster can't be told) and not acknowledged, or the file could not be read;
 * why says what. An "ack" record of the cluster with "journal_damage": true
 * acknowledges the damage found before it. */
bool journal_damage(journal_t *j, const char *cluster, char *why, size_t len);

/* The records of the operation on this cluster that is still open, oldest first
 * (a new reference to an array), or NULL when none is: the operation of the
 * cluster's last record, when none of its records is terminal (done, failed,
 * aborted, ack). */
json_t *journal_open_op(journal_t *j, const char *cluster);

/* Every record of the operations (optionally only one cluster's), oldest
 * first, the rejoin's left out; new reference. */
json_t *journal_records(journal_t *j, const char *cluster);
/* The same with the rejoin's records. */
json_t *journal_all_records(journal_t *j, const char *cluster);

/* A fresh operation id: time-based and unique within this journal. */
char *journal_new_op_id(journal_t *j);

/* Keeps the file within max_bytes (0 = unbounded): above it, the journal is
 * compacted (jcompact.h) right away and after each operation that ends.
 * journal_compact() does it now when the file is above the bound; true when
 * it did. */
void journal_set_max_bytes(journal_t *j, size_t max_bytes);
bool journal_compact(journal_t *j);

/* Told after each compaction (the journal is io: the caller turns it into
 * an event): the file, its size before and after, operations dropped. */
typedef void (*journal_compacted_fn)(void *ctx, const char *path, long long bytes_before,
                                     size_t bytes_after, size_t operations_dropped);
void journal_on_compacted(journal_t *j, journal_compacted_fn fn, void *ctx);

#endif
