/* jcompact.h - keeping the failover journal within a size bound.
 *
 * The journal (journal.h) only ever grows: a daemon that runs for months
 * would fill its disk with it. Once the file is larger than journal_max_bytes
 * it is compacted to at most half of that: whole operations are dropped,
 * oldest first, and what the daemon still needs stays:
 *   - for every cluster, the operation of its last record (an interrupted
 *     operation is always that one, so resuming and holding see the same
 *     journal as before), and with it the highest sequence number;
 *   - the newest operations that fit in the budget, for `failoverctl history`.
 * The records kept are written, in their order, to a new file that replaces
 * the journal by rename: a crash at any moment leaves either the old journal
 * or the new one, each complete and readable.
 */
#ifndef FAILOVERD_JCOMPACT_H
#define FAILOVERD_JCOMPACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Pure: the records of records (oldest first) to keep within budget bytes of
 * JSON lines, oldest first (a new array of new references). *dropped_ops gets
 * the number of operations left out, *kept_bytes the size of what is kept
 * (it exceeds budget only when what must stay does). */
json_t *jcompact_select(json_t *records, size_t budget, size_t *dropped_ops, size_t *kept_bytes);

/* The moments a compaction can be cut short at, in order; the unit test stops
 * there to play a crash. JCOMPACT_ALL runs it to the end. */
typedef enum {
    JCOMPACT_STOP_HALF_WRITTEN,   /* the new file is half written */
    JCOMPACT_STOP_BEFORE_RENAME,  /* the new file is written and synced */
    JCOMPACT_STOP_BEFORE_DIRSYNC, /* renamed over the journal, directory not synced */
    JCOMPACT_ALL,
} jcompact_stop_t;

/* Replaces the file at path with the records kept (JSON lines, oldest first):
 * writes path.compact (with the owner and mode of the journal), fsyncs it,
 * renames it over path and fsyncs the directory. Returns a descriptor open for
 * appending to the new journal, or -1 with err filled; *replaced tells whether
 * path already is the new file then (the old descriptor no longer names it).
 * With a stop before the end it returns -1 and err "stopped". */
int jcompact_rewrite(const char *path, json_t *kept, jcompact_stop_t stop, bool *replaced,
                     char *err, size_t err_len);

/* Removes what an interrupted compaction left next to the journal. */
void jcompact_cleanup(const char *path);

#endif
