/* gtid.h - the GTID algebra: MySQL GTID sets and MariaDB GTID positions.
 *
 * Pure code: no I/O, no clock. Allocation failure aborts (see buf.h), so the
 * only failures are malformed input; a function that fails writes one line into
 * the caller's error buffer (err, errlen; err may be NULL) and returns NULL,
 * false or -1. Parse errors read "offset N: what is wrong", N counting bytes from
 * 0 at the start of the text.
 *
 * MySQL GTID sets
 * ---------------
 * Text as servers print it in gtid_executed, Retrieved_Gtid_Set, GTID_SUBTRACT():
 *
 *   3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7,
 *   8a94f357-aab4-11df-86ab-c80aa9429562:1-3:batch:4-5:etl:1
 *
 * A UUID, then ':'-separated items: a transaction number N, an interval N-M, or
 * a tag (MySQL 8.3+) that applies to the items after it. Several UUIDs are
 * separated by ','.
 *
 * What the parser accepts, following the server:
 *   - UUIDs in the 8-4-4-4-12 hex form, any case; tags [A-Za-z_][A-Za-z0-9_]*
 *     of at most 32 characters, any case. Both are kept lowercase.
 *   - Whitespace (space, tab, CR, LF, VT, FF) around every separator and at
 *     both ends; servers print ",\n" between UUIDs.
 *   - Items in any order, overlapping or adjacent intervals, the same UUID (or
 *     UUID and tag) more than once: all merged, as the server merges them.
 *   - Transaction numbers 1 .. GTID_TXN_MAX (2^63 - 2), decimal. The server
 *     keeps them in a signed 64-bit integer and reserves 2^63 - 1 as the
 *     exclusive end of an interval, so 2^63 - 2 is the largest it accepts.
 *   - "" (or only whitespace) is the empty set.
 * What it rejects although a server would let it pass, because in a failover
 * manager it can only mean damaged or truncated input:
 *   - empty elements and a trailing comma ("a:1,,b:2", "a:1,"),
 *   - a UUID or a tag followed by no transaction numbers ("a", "a:tag",
 *     "a:tag1:tag2:1"; "a:tag:1" is of course fine),
 *   - a reversed interval ("5-3"; the server silently drops it),
 *   - signs, leading zeros, hex or octal numbers ("+5", "007", "0x10"),
 *   - transaction number 0.
 *
 * The canonical text is exactly what a server prints: UUIDs in ascending order,
 * lowercase, separated by ",\n"; for each UUID its untagged intervals first, then
 * each tag in ascending (byte) order followed by its intervals; intervals sorted,
 * merged when they overlap or touch, "N" for one transaction, "N-M" otherwise.
 * The empty set is "".
 *
 * A set is sorted arrays (one per UUID and tag) of inclusive intervals; every
 * operation is a linear merge, so sets of thousands of intervals cost
 * microseconds.
 *
 * MariaDB GTID positions
 * ----------------------
 * "domain-server-seq[,...]" (uint32, uint32, uint64), as in gtid_slave_pos,
 * gtid_current_pos, gtid_binlog_pos and Gtid_IO_Pos: at most one entry per
 * domain (a duplicate domain is an error; gtid_binlog_state, which can hold
 * several server ids per domain, is not a position). Whitespace is allowed at
 * both ends and around commas; empty elements and trailing commas are not.
 * Formatted sorted by domain, separated by ",", as MariaDB prints it.
 * Within a domain, positions are ordered by sequence number alone; the server id
 * says who wrote the transaction and is carried along for reports.
 */
#ifndef FAILOVERD_GTID_H
#define FAILOVERD_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Largest MySQL transaction number: 2^63 - 2 (see above). */
#define GTID_TXN_MAX UINT64_C(9223372036854775806)
/* Longest MySQL GTID tag. */
#define GTID_TAG_MAX 32
/* Length of a UUID in text, without the NUL. */
#define GTID_UUID_LEN 36
/* A comfortable size for error buffers. */
#define GTID_ERR_SIZE 256

/* ------------------------------------------------------------------ */
/* MySQL GTID sets                                                     */
/* ------------------------------------------------------------------ */

typedef struct gtid_set gtid_set_t;

/* An inclusive interval of transaction numbers, first <= last. */
typedef struct {
    uint64_t first, last;
} gtid_interval_t;

/* A read-only view of one UUID-and-tag group of a set (see gtid_set_group). */
typedef struct {
    const char *uuid;          /* lowercase, 36 characters */
    const char *tag;           /* lowercase; "" when untagged */
    const gtid_interval_t *iv; /* sorted, disjoint, never touching */
    size_t n_iv;               /* >= 1 */
} gtid_group_t;

/* A new, empty set. */
gtid_set_t *gtid_set_new(void);
/* Parses text into a new set; NULL (and err) when the text is malformed. */
gtid_set_t *gtid_set_parse(const char *text, char *err, size_t errlen);
/* An independent copy. */
gtid_set_t *gtid_set_copy(const gtid_set_t *s);
/* Frees a set; NULL is fine. */
void gtid_set_free(gtid_set_t *s);

/* The canonical text, exactly as a server prints it ("" when empty); caller frees. */
char *gtid_set_format(const gtid_set_t *s);
/* The same text on one line (UUIDs separated by "," only), for logs and events. */
char *gtid_set_format_line(const gtid_set_t *s);
/* Appends the canonical text to out, with uuid_sep between UUIDs (",\n" as a
 * server, "," on one line). */
void gtid_set_append(buf_t *out, const gtid_set_t *s, const char *uuid_sep);

/* Adds transactions first..last of uuid (and tag: NULL or "" for none), merging
 * as needed. Validates like the parser; false (and err) when something is wrong. */
bool gtid_set_add(gtid_set_t *s, const char *uuid, const char *tag, uint64_t first, uint64_t last,
                  char *err, size_t errlen);
/* dst := dst ∪ src. */
void gtid_set_add_set(gtid_set_t *dst, const gtid_set_t *src);

/* New set a ∪ b. */
gtid_set_t *gtid_set_union(const gtid_set_t *a, const gtid_set_t *b);
/* New set a − b: what a has and b has not (MySQL GTID_SUBTRACT(a, b)). */
gtid_set_t *gtid_set_subtract(const gtid_set_t *a, const gtid_set_t *b);
/* New set a ∩ b. */
gtid_set_t *gtid_set_intersect(const gtid_set_t *a, const gtid_set_t *b);
/* a ⊆ b (MySQL GTID_SUBSET(a, b)). */
bool gtid_set_is_subset(const gtid_set_t *a, const gtid_set_t *b);
/* a and b hold the same transactions. */
bool gtid_set_equal(const gtid_set_t *a, const gtid_set_t *b);
/* The set holds no transaction. */
bool gtid_set_is_empty(const gtid_set_t *s);
/* Number of transactions, saturating at UINT64_MAX (only many UUIDs near the
 * maximum transaction number can get there). */
uint64_t gtid_set_count(const gtid_set_t *s);
/* The set holds transaction txn of uuid (and tag: NULL or "" for none); uuid and
 * tag in any case. A malformed uuid or tag is simply not there. */
bool gtid_set_contains(const gtid_set_t *s, const char *uuid, const char *tag, uint64_t txn);

/* Number of UUID-and-tag groups, in canonical order. */
size_t gtid_set_group_count(const gtid_set_t *s);
/* Group i (< gtid_set_group_count); the view is valid until s changes or is freed. */
gtid_group_t gtid_set_group(const gtid_set_t *s, size_t i);

/* Text in, text out: the server's functions on text, for cross-checks and tools.
 * A malformed argument gives NULL / -1 and an err naming the argument
 * ("first set: offset 3: ..."). Results are canonical text; caller frees. */
char *gtid_text_normalize(const char *text, char *err, size_t errlen);
char *gtid_text_union(const char *a, const char *b, char *err, size_t errlen);
char *gtid_text_subtract(const char *a, const char *b, char *err, size_t errlen);
char *gtid_text_intersect(const char *a, const char *b, char *err, size_t errlen);
/* GTID_SUBSET(a, b): 1 when a ⊆ b, 0 when not, -1 on a malformed argument. */
int gtid_text_subset(const char *a, const char *b, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* MariaDB GTID positions                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    uint32_t domain;
    uint32_t server;
    uint64_t seq;
} gtid_pos_entry_t;

/* A position: entries sorted by domain, one per domain. Read the fields freely;
 * change them only through the functions below. */
typedef struct {
    gtid_pos_entry_t *e;
    size_t n;
} gtid_pos_t;

/* One domain in which b is ahead of a (see gtid_pos_diff). */
typedef struct {
    uint32_t domain;
    bool a_has;         /* a has the domain at all */
    uint64_t a_seq;     /* a's sequence number when a_has */
    gtid_pos_entry_t b; /* b's entry: where a has to get to */
} gtid_pos_gap_t;

/* The domains in which b is ahead of a, sorted by domain. */
typedef struct {
    gtid_pos_gap_t *gap;
    size_t n;
} gtid_pos_diff_t;

/* A new, empty position. */
gtid_pos_t *gtid_pos_new(void);
/* Parses text into a new position; NULL (and err) when malformed. */
gtid_pos_t *gtid_pos_parse(const char *text, char *err, size_t errlen);
/* An independent copy. */
gtid_pos_t *gtid_pos_copy(const gtid_pos_t *p);
/* Frees a position; NULL is fine. */
void gtid_pos_free(gtid_pos_t *p);
/* "0-1-100,1-2-7", sorted by domain ("" when empty); caller frees. */
char *gtid_pos_format(const gtid_pos_t *p);
/* Sets the entry of domain (replacing any); keeps the order. */
void gtid_pos_set(gtid_pos_t *p, uint32_t domain, uint32_t server, uint64_t seq);
/* The entry of domain, or NULL. */
const gtid_pos_entry_t *gtid_pos_find(const gtid_pos_t *p, uint32_t domain);
/* Same entries (domain, server and seq). */
bool gtid_pos_equal(const gtid_pos_t *a, const gtid_pos_t *b);
/* a is at or beyond b in every domain of b. A domain missing in a counts as
 * sequence number 0, as in MASTER_GTID_WAIT: behind any entry but one with
 * sequence number 0. */
bool gtid_pos_covers(const gtid_pos_t *a, const gtid_pos_t *b);
/* New position holding, per domain, the entry with the highest seq of a and b
 * (a's on a tie): what a server that received both would have reached. */
gtid_pos_t *gtid_pos_max(const gtid_pos_t *a, const gtid_pos_t *b);
/* New list of the domains in which b is ahead of a: empty iff covers(a, b). */
gtid_pos_diff_t *gtid_pos_diff(const gtid_pos_t *a, const gtid_pos_t *b);
/* The b entries of a diff as position text, "0-2-100,1-2-7": what a must reach
 * (usable with MASTER_GTID_WAIT); "" when empty; caller frees. */
char *gtid_pos_diff_format(const gtid_pos_diff_t *d);
/* The same as ranges, for people: per domain the sequence numbers after a's
 * up to b's, "0-1-98..0-1-100" (b's server on both ends; one GTID when the
 * range holds one), domains separated by ","; "" when empty; caller frees.
 * With count, adds the number of transactions in the ranges to *count. */
char *gtid_pos_diff_format_range(const gtid_pos_diff_t *d, uint64_t *count);
/* Frees a diff; NULL is fine. */
void gtid_pos_diff_free(gtid_pos_diff_t *d);

/* ------------------------------------------------------------------ */
/* The most advanced replica, for both flavors                         */
/* ------------------------------------------------------------------ */

/* Given each replica's received GTIDs (MySQL: executed ∪ retrieved set;
 * MariaDB: position), which replica holds everything any of them holds, and
 * what each one lacks compared with all of them together.
 *
 * Rules:
 *   1. "All of them together" is the union of the sets (MySQL), or the
 *      per-domain maximum of the positions (MariaDB, gtid_pos_max).
 *   2. A replica lacks what that union has beyond its own state: a set
 *      (union − own), or the domains where the union is ahead (gtid_pos_diff).
 *   3. The most advanced replica is one that lacks nothing, i.e. contains every
 *      other; among equal ones the lowest index wins.
 *   4. When every replica lacks something, the replicas have diverged and
 *      most_advanced is -1; so it is with no replicas at all.
 */
typedef struct {
    int most_advanced;             /* index, or -1 (divergence / no replicas) */
    size_t n;                      /* number of replicas */
    gtid_set_t **missing_set;      /* MySQL: n sets (empty when nothing lacks); else NULL */
    gtid_pos_diff_t **missing_pos; /* MariaDB: n diffs (n == 0 when nothing lacks); else NULL */
} gtid_advanced_t;

/* MySQL: sets[0..n-1] are the replicas' received sets (a NULL entry counts as
 * empty). Always returns a result; free it with gtid_advanced_free. */
gtid_advanced_t *gtid_set_most_advanced(const gtid_set_t *const *sets, size_t n);
/* MariaDB: the same over positions (a NULL entry counts as empty). */
gtid_advanced_t *gtid_pos_most_advanced(const gtid_pos_t *const *pos, size_t n);
/* Replica i lacks something. */
bool gtid_advanced_lacks(const gtid_advanced_t *r, size_t i);
/* What replica i lacks, as one line of text in its flavor's notation (a GTID set
 * or the positions it must reach); "" when nothing. Caller frees. */
char *gtid_advanced_missing_text(const gtid_advanced_t *r, size_t i);
/* Frees a result; NULL is fine. */
void gtid_advanced_free(gtid_advanced_t *r);

/* ------------------------------------------------------------------ */
/* A server's GTID state, whichever the family                         */
/* ------------------------------------------------------------------ */

/* The two notations, as the decision code sees them: a MySQL GTID set or a
 * MariaDB position, behind one set of operations, so that code above this
 * header does not branch on the family to combine or compare GTID states.
 * Where the notations differ, each function says what it means in each. */
#include "family.h" /* server_family_t: FAMILY_MARIADB, or else MySQL's syntax */

typedef struct {
    server_family_t family;
    gtid_set_t *set; /* MySQL */
    gtid_pos_t *pos; /* MariaDB */
} gtid_state_t;

/* A new, empty state of the family. */
gtid_state_t *gtid_state_new(server_family_t family);
/* Parses text in the family's notation; NULL (and err) when malformed or NULL. */
gtid_state_t *gtid_state_parse(server_family_t family, const char *text, char *err, size_t errlen);
gtid_state_t *gtid_state_copy(const gtid_state_t *s);
/* Frees a state; NULL is fine. */
void gtid_state_free(gtid_state_t *s);
/* The canonical text on one line (MySQL: ",\n" becomes ","); caller frees. */
char *gtid_state_format(const gtid_state_t *s);
/* What a server holding both would hold: MySQL the union of the sets,
 * MariaDB the per-domain furthest position (gtid_pos_max). Same family. */
gtid_state_t *gtid_state_union(const gtid_state_t *a, const gtid_state_t *b);
/* Adds b into a (a = union(a, b)). */
void gtid_state_add(gtid_state_t *a, const gtid_state_t *b);
/* a holds everything b holds: MySQL b ⊆ a, MariaDB gtid_pos_covers(a, b). */
bool gtid_state_covers(const gtid_state_t *a, const gtid_state_t *b);
/* How many transactions a holds beyond b: MySQL |a − b|; MariaDB, per domain
 * of a, how far a's sequence number is past b's (0 for a missing domain). */
uint64_t gtid_state_count_beyond(const gtid_state_t *a, const gtid_state_t *b);
/* What a holds beyond b, as one line: MySQL the set a − b; MariaDB the
 * positions of a where a is ahead of b (gtid_pos_diff_format). With count,
 * adds gtid_state_count_beyond(a, b) to *count. Caller frees. */
char *gtid_state_beyond_text(const gtid_state_t *a, const gtid_state_t *b, uint64_t *count);
/* The most advanced of n states of one family (gtid_set_most_advanced /
 * gtid_pos_most_advanced); a NULL entry counts as empty. */
gtid_advanced_t *gtid_state_most_advanced(const gtid_state_t *const *s, size_t n,
                                          server_family_t family);

#endif
