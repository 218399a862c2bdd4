/* flavor.h - the SQL dialect of each server family and version (pure: no I/O).
 *
 * failoverd speaks to MySQL 5.7, 8.0, 8.4 and 9.x and to MariaDB 10.x and
 * 11.x.  They replicate the same way but name things differently (SHOW SLAVE
 * STATUS or SHOW REPLICA STATUS, CHANGE MASTER or CHANGE REPLICATION SOURCE,
 * WAIT_FOR_EXECUTED_GTID_SET or MASTER_GTID_WAIT ...), and newer MySQL
 * releases removed the old words altogether.  This module turns a server's
 * @@version / @@version_comment into a flavor_t, and a flavor_t plus
 * arguments into statement text.  It never talks to a server: the prober keeps
 * one flavor_t per node and the executor sends what this module builds.
 *
 * Assumptions the callers must keep (the prober sets them on every session):
 *  - sql_mode does NOT contain NO_BACKSLASH_ESCAPES, so that a backslash in
 *    a value arrives as itself.  Should a server force that mode anyway, the
 *    escaping stays safe: quotes are doubled (see flavor_sql_escape), so no
 *    value can leave its literal in either mode.
 *  - the connection character set is utf8mb4 (or another ASCII-safe set such
 *    as utf8mb3 or latin1).  Byte-wise backslash escaping is only safe when no
 *    multi-byte character can contain the bytes 0x27 or 0x5C, which is false
 *    for sjis, big5, gbk and cp932.
 *
 * Statements that depend only on the flavor are returned as static strings;
 * statements with arguments are appended to a buf_t and return false with a
 * sentence in err when an argument is unacceptable (the caller's buffer is
 * then left as it was).
 */
#ifndef FAILOVERD_FLAVOR_H
#define FAILOVERD_FLAVOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "family.h"

/* Dialect generations, oldest first within each family. */
typedef enum {
    FLAVOR_GEN_MYSQL_57,        /* 5.7.8 and later 5.7: MASTER/SLAVE words */
    FLAVOR_GEN_MYSQL_80_LEGACY, /* 8.0.11 - 8.0.22: MASTER/SLAVE words for CHANGE MASTER */
    FLAVOR_GEN_MYSQL_80,        /* 8.0.23 - 8.3.x: REPLICA/SOURCE words available */
    FLAVOR_GEN_MYSQL_84,        /* 8.4 LTS: MASTER/SLAVE statements removed */
    FLAVOR_GEN_MYSQL_9,         /* 9.x */
    FLAVOR_GEN_MARIADB_10,      /* 10.3 - 10.11 */
    FLAVOR_GEN_MARIADB_11,      /* 11.x */
} flavor_gen_t;

/* Everything failoverd needs to know to speak to one server.  A plain value:
 * copy it freely, nothing to free.  The booleans are derived from the version
 * by flavor_detect; they are fields (not functions) so that the prober can
 * correct the few that depend on the server's configuration rather than its
 * version (the semi-sync plugin names, see flavor_note_semisync_variables). */
typedef struct {
    server_family_t family; /* never FAMILY_UNKNOWN once detected */
    flavor_gen_t gen;
    unsigned major, minor, patch;
    char version[64]; /* @@version as reported (truncated), for messages */

    bool replica_words;       /* START/STOP/RESET REPLICA, SHOW [ALL] REPLICA[S] STATUS */
    bool source_words;        /* CHANGE REPLICATION SOURCE TO ... SOURCE_* (MySQL 8.0.23+) */
    bool super_read_only;     /* MySQL only; MariaDB has read_only alone */
    bool get_public_key;      /* GET_{MASTER,SOURCE}_PUBLIC_KEY (MySQL 8.0) */
    bool log_replica_updates; /* the variable is named log_replica_updates (MySQL 8.0.26+) */
    bool fractional_wait;     /* the GTID wait function takes fractional seconds */
    bool demote_to_slave;     /* MariaDB 10.10+: MASTER_DEMOTE_TO_SLAVE replaces current_pos */
    /* Semi-sync variable names: rpl_semi_sync_master_enabled /
     * rpl_semi_sync_slave_enabled (legacy) or rpl_semi_sync_source_enabled /
     * rpl_semi_sync_replica_enabled (the plugins MySQL ships since 8.0.26). */
    bool semisync_source_legacy;
    bool semisync_replica_legacy;
    size_t max_host_len;     /* bytes */
    size_t max_user_len;     /* characters (MySQL) or bytes (MariaDB) */
    size_t max_password_len; /* characters (MySQL) or bytes (MariaDB) */
} flavor_t;

/* Detects family, version and dialect from @@version and @@version_comment
 * (the comment may be NULL).  Accepts what servers print, e.g.
 * "10.11.19-MariaDB-0+deb12u1-log", "11.4.2-MariaDB", "8.0.22", "5.7.44-log",
 * "9.7.0", "8.0.36-28" (Percona Server), and the handshake form
 * "5.5.5-10.11.6-MariaDB".  Supported: MySQL 5.7.8+, 8.0.11+, 8.1-8.4, 9.x;
 * MariaDB 10.3 - 11.x.  Anything else (older, newer, unparsable) fails with a
 * sentence in err saying what was seen and what is supported. */
bool flavor_detect(flavor_t *f, const char *version, const char *version_comment, char *err,
                   size_t errlen);

/* "MySQL" / "MariaDB". */
const char *flavor_family_str(server_family_t fam);
/* "MySQL 5.7", "MySQL 8.0 (before 8.0.23)", "MySQL 8.0.23+", "MySQL 8.4",
 * "MySQL 9", "MariaDB 10", "MariaDB 11". */
const char *flavor_gen_str(flavor_gen_t gen);
/* True if the server is at least major.minor.patch (family not compared). */
bool flavor_at_least(const flavor_t *f, unsigned major, unsigned minor, unsigned patch);

/* After reading the node-state row, tell the flavor which semi-sync variables
 * the server really has (the semisync_*_variable columns; NULL when that
 * plugin is not loaded, which keeps the current guess).  A MySQL 8.0.26+
 * server may still run the old semisync_master/semisync_slave plugins. */
void flavor_note_semisync_variables(flavor_t *f, const char *source_var, const char *replica_var);

/* ---- String literals ---------------------------------------------------- */

/* Appends s[0..len) escaped for a single-quoted SQL literal (without the
 * quotes): a single quote is doubled (''), a backslash doubled (\\), NUL
 * becomes \0, every other byte is copied.  Safe with and without
 * NO_BACKSLASH_ESCAPES; the value is exact without it (the session
 * assumption above), and exact in both modes when it holds no backslash and
 * no NUL. */
void flavor_sql_escape(buf_t *out, const char *s, size_t len);
/* The same between single quotes. */
void flavor_sql_quote(buf_t *out, const char *s, size_t len);

/* ---- Fixed statements --------------------------------------------------- */

/* The replica status of every replication channel of the node, one row each.
 *  MySQL 8.0.22+: SHOW REPLICA STATUS; before: SHOW SLAVE STATUS.
 *  MariaDB: SHOW ALL REPLICAS STATUS (10.5+) / SHOW ALL SLAVES STATUS.  The ALL
 *  form is chosen because only it returns Slave_received_heartbeats (the
 *  detector's proof that a replica still hears a quiet primary),
 *  Gtid_Slave_Pos and Retried_transactions; plain SHOW SLAVE STATUS has
 *  Gtid_IO_Pos but no heartbeat counter.
 * Either way the row of the default channel is the one whose channel column
 * (flavor_replica_columns()->channel) is the empty string; no row at all means
 * the node is not a replica. */
const char *flavor_sql_replica_status(const flavor_t *f);
const char *flavor_sql_start_replica(const flavor_t *f);
const char *flavor_sql_stop_replica(const flavor_t *f);
const char *flavor_sql_start_io_thread(const flavor_t *f);
const char *flavor_sql_stop_io_thread(const flavor_t *f);
/* Stops the IO thread of a replica whose source is taken for lost (a failover
 * of a dead primary).  The IO thread of a MariaDB semi-sync replica, on its
 * way out, connects to its source to end the source's dump thread for it
 * (Repl_semi_sync_slave::kill_connection, called from handle_slave_io's exit
 * path while the thread's own connection is still open), and the stop waits
 * for that up to rpl_semi_sync_slave_kill_conn_timeout (5 s by default)
 * against a hung or cut-off source.  Switching the replica side of semi-sync
 * off first does not spare it (the server reads that switch when an IO thread
 * starts), and the variable counts whole seconds, 0 being no timeout at all.
 * So for MariaDB 10.3.3 and later the statement lowers that timeout to 1 s
 * for this stop and then puts the server's own value back (variable
 * @failoverd_kill_conn_timeout of the session; a stop that fails leaves 1 s
 * in place).
 * MariaDB 10.x: the IO thread is KILLed first, and the STOP comes 50 ms
 * later.  STOP REPLICA interrupts the thread with a signal (SIGUSR1, from
 * terminate_slave_thread) when it begins, and again every 2 s; a signal that
 * lands while the killed thread waits in that connect ends the connect at
 * once, one that comes before is lost and the thread waits the timeout out.
 * A plain STOP always comes before (its own signal is what starts the
 * thread's way out), and a STOP right after a KILL comes before in about a
 * third of the tries; 50 ms after, the thread is in its connect (measured on
 * 10.11: 60-80 ms for the step instead of 1.0 s).  Only while the default
 * connection is connected (Slave_running) and its IO thread is the only one.
 * MariaDB 11.x sends no such signal (its stop waits the whole timeout, KILL
 * or not): the plain stop, 1 s.  MySQL's replica closes its connection
 * without that round trip: the plain stop. */
const char *flavor_sql_stop_io_thread_lost_source(const flavor_t *f);
/* Ends the wait of a MySQL replica whose applier is in the middle of a
 * transaction whose rest will never arrive (its relay log ends inside it: the
 * IO thread was stopped, or the source died, while receiving it). STOP
 * REPLICA defers to such a multi-threaded applier for up to 60 s, and a KILL
 * after it no longer helps; a KILL of the applier's coordinator before it
 * ends the applier at once, the group's part rolled back (the next source,
 * with GTID auto-positioning, sends the whole transaction again). The
 * statements kill the coordinator only when it is inside a group, then wait
 * (at most about 1 s) until it is gone; killing a replication thread needs
 * SYSTEM_USER (MySQL 8.0.16 and later). NULL where not needed (MariaDB, MySQL
 * before 8.0.2, without the coordinator's table). For failovers only: a live
 * source completes the group. */
const char *flavor_sql_end_applier_group(const flavor_t *f);
/* Starts the applier only (a no-op with a note when it already runs). */
const char *flavor_sql_start_sql_thread(const flavor_t *f);
/* Forgets the source and its connection settings; replication must be stopped. */
const char *flavor_sql_reset_replica_all(const flavor_t *f);
/* One row, one column: the GTID state a primary has written, which other
 * nodes wait for: @@GLOBAL.gtid_executed (MySQL) or @@GLOBAL.gtid_binlog_pos
 * (MariaDB, whose MASTER_GTID_WAIT compares against gtid_slave_pos). */
const char *flavor_sql_gtid_executed(const flavor_t *f);

/* Writability of a node:
 *  FLAVOR_WRITABLE        read_only off (and super_read_only off on MySQL).
 *  FLAVOR_READ_ONLY       read_only on, super_read_only off: replication and
 *                         SUPER users may write (the normal replica state).
 *  FLAVOR_SUPER_READ_ONLY MySQL: super_read_only on, so no user at all may
 *                         write (the fence).  MariaDB has no such switch and
 *                         gets read_only on: there, users holding READ_ONLY
 *                         ADMIN (10.11's root has it, and on older releases
 *                         SUPER implied it) can still write, so the fence is
 *                         only as good as the application accounts' lack of
 *                         that privilege.  flavor_t.super_read_only tells the
 *                         caller which it got.
 * Setting read_only on waits for running writes and a global read lock, so it
 * can block; the executor bounds it with its step timeout. */
typedef enum { FLAVOR_WRITABLE, FLAVOR_READ_ONLY, FLAVOR_SUPER_READ_ONLY } flavor_ro_t;
const char *flavor_sql_set_read_only(const flavor_t *f, flavor_ro_t mode);

/* Semi-sync on one side.  The replica side takes effect when the IO thread
 * (re)connects: stop and start the IO thread after changing it. */
typedef enum { FLAVOR_SEMISYNC_SOURCE, FLAVOR_SEMISYNC_REPLICA } flavor_semisync_side_t;
const char *flavor_sql_set_semisync(const flavor_t *f, flavor_semisync_side_t side, bool on);

/* ---- The node state, one round trip ------------------------------------- */

/* One SELECT that returns exactly one row with the columns below, in this
 * order and with these names, on every flavor; what a flavor lacks is NULL.
 * Booleans come back as 0/1 (or NULL when the variable does not exist).
 *
 * Semi-sync on MySQL lives in plugins whose variables exist only while the
 * plugin is loaded, and are named after the plugin (master/slave or
 * source/replica).  Reading @@GLOBAL.rpl_semi_sync_... would fail the whole
 * query when the plugin is absent, so MySQL reads them from
 * performance_schema.global_variables / global_status with an IN list of both
 * names, wrapped in MAX() so that "no such variable" is NULL and never an
 * error (the tables exist since 5.7; should they be empty, e.g. with
 * performance_schema=OFF, the semi-sync columns are NULL: unknown).
 * MariaDB has semi-sync built in since 10.3 and no
 * performance_schema.global_variables, so it reads @@GLOBAL directly and its
 * status counters from information_schema.GLOBAL_STATUS.
 *
 * The probing account needs REPLICATION CLIENT (MariaDB 10.5+: REPLICA
 * MONITOR or SLAVE MONITOR) and, on MySQL, SELECT on performance_schema. */
typedef enum {
    FLAVOR_NS_READ_ONLY,       /* 0/1 */
    FLAVOR_NS_SUPER_READ_ONLY, /* 0/1; NULL on MariaDB */
    FLAVOR_NS_VERSION,         /* @@version */
    FLAVOR_NS_VERSION_COMMENT, /* @@version_comment */
    FLAVOR_NS_SERVER_ID,
    FLAVOR_NS_SERVER_UUID,         /* NULL on MariaDB */
    FLAVOR_NS_LOG_BIN,             /* 0/1 */
    FLAVOR_NS_LOG_REPLICA_UPDATES, /* 0/1 (log_slave_updates where so named) */
    FLAVOR_NS_GTID_MODE,           /* "ON", "OFF" ...; NULL on MariaDB */
    FLAVOR_NS_GTID_EXECUTED,       /* MySQL GTID set; NULL on MariaDB */
    FLAVOR_NS_GTID_PURGED,         /* MySQL GTID set; NULL on MariaDB */
    FLAVOR_NS_GTID_BINLOG_POS,     /* MariaDB positions; NULL on MySQL */
    FLAVOR_NS_GTID_CURRENT_POS,
    FLAVOR_NS_GTID_SLAVE_POS,
    FLAVOR_NS_GTID_DOMAIN_ID,          /* MariaDB; NULL on MySQL */
    FLAVOR_NS_GTID_STRICT_MODE,        /* MariaDB 0/1; NULL on MySQL */
    FLAVOR_NS_SEMISYNC_SOURCE_ENABLED, /* 0/1; NULL when the plugin is not loaded */
    FLAVOR_NS_SEMISYNC_REPLICA_ENABLED,
    FLAVOR_NS_SEMISYNC_SOURCE_STATUS,    /* 1 while the source really waits for acks */
    FLAVOR_NS_SEMISYNC_SOURCE_CLIENTS,   /* semi-sync replicas connected */
    FLAVOR_NS_SEMISYNC_SOURCE_VARIABLE,  /* name of the enabled variable, or NULL */
    FLAVOR_NS_SEMISYNC_REPLICA_VARIABLE, /* (feed both to flavor_note_semisync_variables) */
    FLAVOR_NS_REPLICA_HEARTBEATS,        /* heartbeats received on the default channel */
    /* How the source side of semi-sync keeps (or does not keep) its promise;
     * NULL when the plugin is not loaded or the server has no such setting. */
    FLAVOR_NS_SEMISYNC_TIMEOUT,         /* ms a commit waits for an ack before falling back */
    FLAVOR_NS_SEMISYNC_WAIT_POINT,      /* AFTER_SYNC / AFTER_COMMIT */
    FLAVOR_NS_SEMISYNC_WAIT_NO_REPLICA, /* 0/1: keep waiting with no replica connected */
    FLAVOR_NS_SEMISYNC_WAIT_COUNT,      /* acks a commit needs; NULL on MariaDB (always 1) */
    FLAVOR_NS_SEMISYNC_WAIT_SESSIONS,   /* sessions waiting for an ack now */
    FLAVOR_NS_SEMISYNC_NO_TX,           /* commits not acknowledged (counter) */
    /* The default channel's heartbeat period in seconds ("0.250"); NULL on
     * MariaDB (its replica status has it) and when not a replica. */
    FLAVOR_NS_REPLICA_HEARTBEAT_PERIOD,
    /* MySQL: the Group Replication members this server sees that are not
     * OFFLINE (performance_schema.replication_group_members; installing the
     * plugin alone lists the server itself as OFFLINE); NULL on MariaDB. */
    FLAVOR_NS_GROUP_MEMBERS,
    /* How long the replica's receiver has heard nothing from its source, in
     * microseconds of the replica's own clock: now less the later of its last
     * heartbeat and the end of its last queued transaction (MySQL 8.0.26 and
     * later, performance_schema.replication_connection_status). NULL when
     * not known: MariaDB, older MySQL, not a replica, nothing received yet,
     * or a transaction being received right now (its events flow, and no
     * timestamp says when the last one came). */
    FLAVOR_NS_REPLICA_SILENT_US,
    FLAVOR_NS_COUNT
} flavor_ns_col_t;

extern const char *const flavor_node_state_columns[FLAVOR_NS_COUNT];
const char *flavor_sql_node_state(const flavor_t *f);

/* ---- Replica status column names ---------------------------------------- */

/* Which column of the replica status result holds what, so that the prober can
 * read a row by name without knowing the dialect.  NULL: this flavor's result
 * has no such column (then look in the node state, e.g. heartbeats on MySQL). */
typedef struct {
    const char *channel;     /* Channel_Name / Connection_name; "" = default */
    const char *io_state;    /* Replica_IO_State / Slave_IO_State */
    const char *io_running;  /* Replica_IO_Running / Slave_IO_Running: Yes/No/Connecting */
    const char *sql_running; /* Replica_SQL_Running / Slave_SQL_Running */
    const char *sql_running_state;
    const char *source_host; /* Source_Host / Master_Host */
    const char *source_port;
    const char *source_user;
    const char *source_server_id;
    const char *source_uuid; /* MySQL only */
    const char *connect_retry;
    const char *source_log_file;     /* file the IO thread reads */
    const char *read_source_log_pos; /* how far the IO thread read */
    const char *relay_source_log_file;
    const char *exec_source_log_pos; /* how far the SQL thread applied */
    const char *relay_log_space;     /* bytes of relay log not yet purged */
    const char *seconds_behind;      /* Seconds_Behind_Source / Seconds_Behind_Master */
    const char *sql_delay;
    const char *last_io_errno;
    const char *last_io_error;
    const char *last_io_error_timestamp; /* MySQL only */
    const char *last_sql_errno;
    const char *last_sql_error;
    const char *auto_position;        /* Auto_Position 0/1; MariaDB Using_Gtid Slave_Pos... */
    const char *retrieved_gtid_set;   /* MySQL: received GTIDs */
    const char *executed_gtid_set;    /* MySQL: applied GTIDs (the whole server's) */
    const char *gtid_io_pos;          /* MariaDB: received position */
    const char *gtid_slave_pos;       /* MariaDB: applied position */
    const char *received_heartbeats;  /* MariaDB: Slave_received_heartbeats */
    const char *heartbeat_period;     /* MariaDB: Slave_heartbeat_period */
    const char *retried_transactions; /* MariaDB */
    const char *ssl_allowed;          /* {Master,Source}_SSL_Allowed: Yes, No, Ignored */
    const char *ssl_verify_server_cert; /* {Master,Source}_SSL_Verify_Server_Cert */
} flavor_replica_columns_t;

const flavor_replica_columns_t *flavor_replica_columns(const flavor_t *f);

/* ---- Statements with arguments ------------------------------------------ */

typedef enum {
    FLAVOR_TLS_DEFAULT, /* say nothing: the replica keeps its setting or default */
    FLAVOR_TLS_OFF,     /* {MASTER,SOURCE}_SSL = 0 */
    FLAVOR_TLS_ON,      /* {MASTER,SOURCE}_SSL = 1, the files given, verify as asked */
} flavor_tls_t;

/* Where a replica should replicate from.  Strings are NUL-terminated; NULL
 * for an optional one means "don't set it". */
typedef struct {
    const char *host;       /* required: host name, IPv4 or IPv6 address */
    unsigned port;          /* 1 - 65535 */
    const char *user;       /* required, non-empty */
    const char *password;   /* required ("" for none) */
    unsigned connect_retry; /* seconds between reconnects, 1 - 86400 */
    unsigned heartbeat_ms;  /* heartbeat period, 1 ms - 4294967 s (ms resolution) */
    flavor_tls_t tls;
    const char *ssl_ca; /* optional with FLAVOR_TLS_ON; ignored otherwise */
    const char *ssl_cert;
    const char *ssl_key;
    bool ssl_verify_server_cert; /* with FLAVOR_TLS_ON */
    /* The node was a primary and now follows the new one (MariaDB only: its
     * own transactions are in gtid_binlog_pos, not gtid_slave_pos).  Before
     * 10.10 this asks for MASTER_USE_GTID = current_pos; from 10.10, where
     * current_pos is deprecated, MASTER_USE_GTID = slave_pos with
     * MASTER_DEMOTE_TO_SLAVE = 1, which merges the binlog position into
     * gtid_slave_pos once.  MySQL auto-positioning needs nothing. */
    bool rejoin_old_primary;
    const char *ssl_capath; /* optional with FLAVOR_TLS_ON: a directory of CA certificates */
} flavor_source_t;

/* Points a replica (threads stopped) at a new source with GTID
 * auto-positioning:
 *  MySQL 8.0.23+: CHANGE REPLICATION SOURCE TO SOURCE_HOST = ..., ...,
 *                 SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1
 *  MySQL older:   CHANGE MASTER TO MASTER_HOST = ..., MASTER_AUTO_POSITION = 1
 *                 (8.0: GET_MASTER_PUBLIC_KEY = 1)
 *  MariaDB:       CHANGE MASTER TO MASTER_HOST = ..., MASTER_USE_GTID = slave_pos
 * GET_*_PUBLIC_KEY lets a caching_sha2_password account (the default since
 * MySQL 8.0, the only one left in 9.x) authenticate without TLS.
 * With redact_password the password is written as '<redacted>': that text is
 * for logs and journals, never for a server. */
bool flavor_sql_change_source(const flavor_t *f, const flavor_source_t *src, bool redact_password,
                              buf_t *out, char *err, size_t errlen);

/* The longest GTID wait a builder accepts: every wait in failoverd is bounded,
 * and a day is far beyond any sensible step timeout. */
#define FLAVOR_MAX_WAIT_MS (24u * 3600u * 1000u)

/* Waits until the node has applied the given GTIDs or timeout_ms passes; one
 * row, one column, see flavor_gtid_wait_result.
 *  MySQL:   SELECT WAIT_FOR_EXECUTED_GTID_SET('<set>', <seconds>)
 *  MariaDB: SELECT MASTER_GTID_WAIT('<pos>', <seconds>)
 * timeout_ms must be 1 - FLAVOR_MAX_WAIT_MS: 0 means "wait forever" to MySQL
 * and "don't wait" to MariaDB, so it is refused.  MySQL 5.7 gets whole
 * seconds, rounded up.  The GTID text is escaped, not parsed. */
bool flavor_sql_wait_gtid(const flavor_t *f, const char *gtid, uint64_t timeout_ms, buf_t *out,
                          char *err, size_t errlen);

typedef enum { FLAVOR_WAIT_OK, FLAVOR_WAIT_TIMEOUT, FLAVOR_WAIT_ERROR } flavor_wait_t;
/* Interprets the wait's result value (NULL for SQL NULL): 0 is success;
 * 1 (MySQL) or -1 (MariaDB) a timeout; NULL or anything else an error. */
flavor_wait_t flavor_gtid_wait_result(const flavor_t *f, const char *value);

/* Parses a duration as the servers show it, seconds with up to three decimals
 * ("0.250", "1.000", "30"), into ms; false (and *ms untouched) for anything
 * else, the empty string included. Used for heartbeat periods. */
bool flavor_parse_seconds_ms(const char *s, uint64_t *ms);

#endif
