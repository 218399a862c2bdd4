/* ctlrender.h - failoverctl's human output (pure: JSON in, text out).
 *
 * Every line fits in CTLRENDER_WIDTH columns (counting one column per UTF-8
 * character). Text that comes from servers (error messages, names) is shown
 * with control characters replaced, so it cannot move the operator's cursor
 * or forge lines.
 */
#ifndef FAILOVERD_CTLRENDER_H
#define FAILOVERD_CTLRENDER_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define CTLRENDER_WIDTH 80

/* The result of "status" (docs/protocol.md) as one block per cluster: a
 * header line (name, verdict, primary, policy, paused), the verdict's reason,
 * any failover in progress and issues, then a node table with the columns
 * NODE ROLE STATE RO IO/SQL LAG BKLOG LAT GTID, and under a node its last
 * error, replication errors and unexpected replication source, each on its own
 * line. Missing or null fields show as "?", fields that do not apply as "-". */
void ctlrender_status(buf_t *out, const json_t *result);

/* A finished failover or switchover (the reply of those commands, or the
 * "operation" of their error): a line with the outcome and duration, one with
 * the primaries, policy and timings, what may be lost, the message, then a
 * step table STEP RESULT AT TOOK with each failed step's error under it. */
void ctlrender_operation(buf_t *out, const json_t *op);

/* The result of "plan" (and of a dry run): the choice and why, a candidate
 * table CANDIDATE RANK RULE BKLOG STATUS, then the steps by group (G STEP NODE
 * TIMEOUT, the description under each) with the point of no return and the
 * rollback steps. */
void ctlrender_plan(buf_t *out, const json_t *result);

/* The result of "history": STARTED CLUSTER KIND STATE FROM TO TOOK, one row
 * per operation, newest first, with its timings and, when it did not succeed,
 * its message on the lines under it. */
void ctlrender_history(buf_t *out, const json_t *result);

/* prefix + text word-wrapped in 80 columns, later lines indented by 4; text
 * from the daemon is cleaned of control characters. Ends with a newline. */
void ctlrender_message(buf_t *out, const char *prefix, const char *text);

/* Any result, as indented "key: value" lines; null or {} as "ok". */
void ctlrender_generic(buf_t *out, const json_t *result);

/* A GTID set or position list shortened to at most width columns: MySQL
 * server UUIDs to their first 8 hex digits, members that do not fit counted as
 * " +N", whitespace dropped. "" stays "". */
void ctlrender_gtid_summary(buf_t *out, const char *gtid, size_t width);

/* Columns a UTF-8 string takes (one per character). */
size_t ctlrender_width(const char *s);

#endif
