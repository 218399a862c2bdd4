/* salvage.h - what a failover salvages from a dead primary's binary log (pure).
 *
 * When the old primary's server is gone but its host still answers, the
 * binary log events that no replica received are still in its binlog files.
 * Before the promotion the failover can read those the candidate lacks (a
 * command the operator configures: ssh to the host, or a local command when
 * failoverd runs there) and apply them to the candidate with the mysql
 * client. What is missing is a GTID difference, never a file and position:
 *   MySQL:   mysqlbinlog --exclude-gtids=<the candidate's gtid_executed>
 *   MariaDB: mariadb-binlog --start-position=<the candidate's gtid_binlog_pos>
 *            (a GTID list: per domain, only the events after that GTID)
 * The events carry their own GTIDs (MySQL: SET GTID_NEXT; MariaDB: the
 * session's gtid_domain_id, server_id and gtid_seq_no), so the candidate logs
 * them under the same GTIDs as the old primary did.
 *
 * This file builds the command lines and the client's option file; it does
 * no I/O. salvage_run.h runs them on the loop. */
#ifndef FAILOVERD_SALVAGE_H
#define FAILOVERD_SALVAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "elect.h"

/* Bytes of binlog text a salvage reads at most; more fails it (the failover
 * goes on without it): a salvage is for the last seconds before a crash. */
#define SALVAGE_OUTPUT_MAX (64u * 1024u * 1024u)

/* The values the placeholders of salvage_command stand for. */
typedef struct {
    const char *node;    /* {node}: the old primary's name */
    const char *host;    /* {host} */
    unsigned port;       /* {port} */
    bool mariadb;        /* {flavor}: "mariadb" or "mysql" */
    const char *gtid;    /* {gtid}: the candidate's GTID state ("" when empty) */
} salvage_vars_t;

/* Checks a salvage_command template: an absolute executable, known
 * placeholders only ({node} {host} {port} {flavor} {gtid} {binlog_filter}),
 * braces closed. "" is valid (salvage off). false with err otherwise. */
bool salvage_template_check(const char *tmpl, char *err, size_t errlen);

/* The option that makes the binlog tool print only what the candidate lacks:
 * MySQL "--exclude-gtids=SET", MariaDB "--start-position=POS"; "" when the
 * candidate's state is empty (it lacks everything). NULL with err when the
 * state has characters no GTID state has (it reaches a command line). */
char *salvage_binlog_filter(bool mariadb, const char *gtid, char *err, size_t errlen);

/* The argv of salvage_command with its placeholders filled in: words split on
 * blanks (no shell, no quoting), a placeholder replaced inside its word, and a
 * word that is just "{binlog_filter}" dropped when that is empty. NULL with
 * err on a bad template or state. Free with salvage_argv_free. */
char **salvage_argv(const char *tmpl, const salvage_vars_t *v, char *err, size_t errlen);
void salvage_argv_free(char **argv);

/* The client's option file ([client] host, port, user, password; values
 * quoted and escaped), so that no password reaches a command line. With
 * credentials (an option file of the operator's, salvage_credentials) it is
 * included instead of user and password. */
void salvage_defaults_text(const char *host, unsigned port, const char *user,
                           const char *password, const char *credentials,
                           unsigned connect_timeout_s, buf_t *out);

/* What the client reads on standard input: the binlog tool's output, then a
 * statement reading the candidate's GTID state after it (the last line of the
 * client's output). With super_read_only (MySQL), the session first switches
 * it off, leaving read_only on: only accounts that may write to a read-only
 * server (CONNECTION_ADMIN, SUPER) can write meanwhile, and the plan's next
 * step (salvage_read_only) switches it on again however the client ended. */
void salvage_client_input(bool mariadb, bool super_read_only, const char *binlog_text, size_t len,
                          buf_t *out);

/* The GTID state from the client's output: its last non-empty line. NULL
 * when there is none. Caller frees. */
char *salvage_parse_after(const char *out, size_t len);

/* Reliability's hold after an election (elect_hold) that the salvage can
 * lift. Whatever the hold waits for was sent, or could have been sent, only
 * by the old primary: what it was last seen with and no replica received,
 * what a replica that can't be seen may have received from it, what a replica
 * that can't serve a catch-up received. All of it is in the old primary's
 * binary log, which a salvage that succeeds applies to the candidate in full.
 * So under reliability a salvage_command turns the hold into a condition
 * checked before the point of no return: the salvage must succeed, and the
 * candidate must then hold the returned GTID state: the old primary's state
 * at its last probe, with everything any replica was last seen receiving
 * (the unseen ones included). A hold not met so is held as before.
 *
 * Returns that state as text (caller frees), or NULL when the salvage can't
 * lift the hold: no candidate, no old primary, or the old primary was never
 * seen or its state or a replica's can't be parsed (nothing to check
 * against). */
char *salvage_gate(const cluster_t *c, int old_primary, const elect_result_t *e);
/* What the candidate's state after the salvage (the client's last line)
 * lacks of the gate: "" when nothing, NULL when either can't be parsed.
 * Caller frees. (MariaDB compares gtid_binlog_pos: salvaged events do not
 * move gtid_slave_pos, so MASTER_GTID_WAIT can't tell.) */
char *salvage_gate_lacks(bool mariadb, const char *after, const char *gate);

#endif
