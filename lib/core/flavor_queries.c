/* flavor_queries.c - see flavor.h: the node state query and the column names of
 * the replica status, per dialect (split from flavor.c, which keeps detection
 * and the statements failoverd sends). */
#include "flavor.h"

/* ---- The node state ----------------------------------------------------- */

const char *const flavor_node_state_columns[FLAVOR_NS_COUNT] = {
    [FLAVOR_NS_READ_ONLY] = "read_only",
    [FLAVOR_NS_SUPER_READ_ONLY] = "super_read_only",
    [FLAVOR_NS_VERSION] = "version",
    [FLAVOR_NS_VERSION_COMMENT] = "version_comment",
    [FLAVOR_NS_SERVER_ID] = "server_id",
    [FLAVOR_NS_SERVER_UUID] = "server_uuid",
    [FLAVOR_NS_LOG_BIN] = "log_bin",
    [FLAVOR_NS_LOG_REPLICA_UPDATES] = "log_replica_updates",
    [FLAVOR_NS_GTID_MODE] = "gtid_mode",
    [FLAVOR_NS_GTID_EXECUTED] = "gtid_executed",
    [FLAVOR_NS_GTID_PURGED] = "gtid_purged",
    [FLAVOR_NS_GTID_BINLOG_POS] = "gtid_binlog_pos",
    [FLAVOR_NS_GTID_CURRENT_POS] = "gtid_current_pos",
    [FLAVOR_NS_GTID_SLAVE_POS] = "gtid_slave_pos",
    [FLAVOR_NS_GTID_DOMAIN_ID] = "gtid_domain_id",
    [FLAVOR_NS_GTID_STRICT_MODE] = "gtid_strict_mode",
    [FLAVOR_NS_SEMISYNC_SOURCE_ENABLED] = "semisync_source_enabled",
    [FLAVOR_NS_SEMISYNC_REPLICA_ENABLED] = "semisync_replica_enabled",
    [FLAVOR_NS_SEMISYNC_SOURCE_STATUS] = "semisync_source_status",
    [FLAVOR_NS_SEMISYNC_SOURCE_CLIENTS] = "semisync_source_clients",
    [FLAVOR_NS_SEMISYNC_SOURCE_VARIABLE] = "semisync_source_variable",
    [FLAVOR_NS_SEMISYNC_REPLICA_VARIABLE] = "semisync_replica_variable",
    [FLAVOR_NS_REPLICA_HEARTBEATS] = "replica_heartbeats",
    [FLAVOR_NS_SEMISYNC_TIMEOUT] = "semisync_timeout",
    [FLAVOR_NS_SEMISYNC_WAIT_POINT] = "semisync_wait_point",
    [FLAVOR_NS_SEMISYNC_WAIT_NO_REPLICA] = "semisync_wait_no_replica",
    [FLAVOR_NS_SEMISYNC_WAIT_COUNT] = "semisync_wait_count",
    [FLAVOR_NS_SEMISYNC_WAIT_SESSIONS] = "semisync_wait_sessions",
    [FLAVOR_NS_SEMISYNC_NO_TX] = "semisync_no_tx",
    [FLAVOR_NS_REPLICA_HEARTBEAT_PERIOD] = "replica_heartbeat_period",
    [FLAVOR_NS_GROUP_MEMBERS] = "group_members",
    [FLAVOR_NS_REPLICA_SILENT_US] = "replica_silent_us",
};

/* MySQL: a plugin variable may be absent, so semi-sync is read from
 * performance_schema under both plugin generations' names.  Each table is
 * scanned once, in a derived table of MAX(IF(...)) aggregates: with no
 * matching row an aggregate still yields one row, of NULLs, so the outer
 * SELECT always returns exactly one row.  (One scalar subquery per column
 * works too, but every scan of these tables materializes all variables: on
 * MySQL 9.7 that made the query 1.1 ms instead of 0.4 ms.)  Heartbeats of the
 * default channel come from replication_connection_status, since SHOW
 * REPLICA STATUS has no counter; no row (not a replica) gives NULL.  The
 * receiver's silence is measured by the replica itself, on its own clock (a
 * difference of two of its own timestamps, so the clocks of other hosts never
 * enter); a zero timestamp (nothing received) makes TIMESTAMPDIFF NULL. */
#define SS_SOURCE_VARS "'rpl_semi_sync_source_enabled', 'rpl_semi_sync_master_enabled'"
#define SS_REPLICA_VARS "'rpl_semi_sync_replica_enabled', 'rpl_semi_sync_slave_enabled'"
#define SS_STATUS "'Rpl_semi_sync_source_status', 'Rpl_semi_sync_master_status'"
#define SS_CLIENTS "'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_master_clients'"
#define SS_TIMEOUT "'rpl_semi_sync_source_timeout', 'rpl_semi_sync_master_timeout'"
#define SS_WAIT_POINT "'rpl_semi_sync_source_wait_point', 'rpl_semi_sync_master_wait_point'"
#define SS_WAIT_NO_REPLICA                                                                         \
    "'rpl_semi_sync_source_wait_no_replica', 'rpl_semi_sync_master_wait_no_slave'"
#define SS_WAIT_COUNT                                                                              \
    "'rpl_semi_sync_source_wait_for_replica_count', 'rpl_semi_sync_master_wait_for_slave_count'"
#define SS_WAIT_SESSIONS                                                                           \
    "'Rpl_semi_sync_source_wait_sessions', 'Rpl_semi_sync_master_wait_sessions'"
#define SS_NO_TX "'Rpl_semi_sync_source_no_tx', 'Rpl_semi_sync_master_no_tx'"

#define REPLICA_SILENT_MYSQL                                                                       \
    "(SELECT MAX(IF(QUEUEING_TRANSACTION <> '', NULL, TIMESTAMPDIFF(MICROSECOND, "                 \
    "GREATEST(LAST_HEARTBEAT_TIMESTAMP, LAST_QUEUED_TRANSACTION_END_QUEUE_TIMESTAMP), NOW(6)))) "  \
    "FROM performance_schema.replication_connection_status WHERE CHANNEL_NAME = '')"

#define NODE_STATE_MYSQL(log_replica_updates, replica_silent)                                      \
    "SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only, "        \
    "@@GLOBAL.version AS version, @@GLOBAL.version_comment AS version_comment, "                   \
    "@@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid, "                       \
    "@@GLOBAL.log_bin AS log_bin, @@GLOBAL." log_replica_updates " AS log_replica_updates, "       \
    "@@GLOBAL.gtid_mode AS gtid_mode, @@GLOBAL.gtid_executed AS gtid_executed, "                   \
    "@@GLOBAL.gtid_purged AS gtid_purged, NULL AS gtid_binlog_pos, NULL AS gtid_current_pos, "     \
    "NULL AS gtid_slave_pos, NULL AS gtid_domain_id, NULL AS gtid_strict_mode, "                   \
    "v.source_enabled AS semisync_source_enabled, "                                                \
    "v.replica_enabled AS semisync_replica_enabled, "                                              \
    "s.source_status AS semisync_source_status, s.source_clients AS semisync_source_clients, "     \
    "v.source_variable AS semisync_source_variable, "                                              \
    "v.replica_variable AS semisync_replica_variable, "                                            \
    "(SELECT MAX(COUNT_RECEIVED_HEARTBEATS) FROM "                                                 \
    "performance_schema.replication_connection_status "                                            \
    "WHERE CHANNEL_NAME = '') AS replica_heartbeats, "                                             \
    "v.timeout AS semisync_timeout, v.wait_point AS semisync_wait_point, "                         \
    "v.wait_no_replica AS semisync_wait_no_replica, v.wait_count AS semisync_wait_count, "         \
    "s.wait_sessions AS semisync_wait_sessions, s.no_tx AS semisync_no_tx, "                       \
    "(SELECT MAX(HEARTBEAT_INTERVAL) FROM "                                                        \
    "performance_schema.replication_connection_configuration "                                     \
    "WHERE CHANNEL_NAME = '') AS replica_heartbeat_period, "                                       \
    "(SELECT COUNT(*) FROM performance_schema.replication_group_members "                          \
    "WHERE MEMBER_STATE <> 'OFFLINE') AS group_members, "                                          \
    replica_silent " AS replica_silent_us "                                                        \
    "FROM (SELECT "                                                                                \
    "MAX(IF(VARIABLE_NAME IN (" SS_SOURCE_VARS                                                     \
    "), VARIABLE_VALUE = 'ON', NULL)) AS source_enabled, "                                         \
    "MAX(IF(VARIABLE_NAME IN (" SS_REPLICA_VARS                                                    \
    "), VARIABLE_VALUE = 'ON', NULL)) AS replica_enabled, "                                        \
    "MAX(IF(VARIABLE_NAME IN (" SS_SOURCE_VARS "), VARIABLE_NAME, NULL)) AS source_variable, "     \
    "MAX(IF(VARIABLE_NAME IN (" SS_REPLICA_VARS "), VARIABLE_NAME, NULL)) AS replica_variable, "   \
    "MAX(IF(VARIABLE_NAME IN (" SS_TIMEOUT "), VARIABLE_VALUE, NULL)) AS timeout, "                \
    "MAX(IF(VARIABLE_NAME IN (" SS_WAIT_POINT "), VARIABLE_VALUE, NULL)) AS wait_point, "          \
    "MAX(IF(VARIABLE_NAME IN (" SS_WAIT_NO_REPLICA "), VARIABLE_VALUE = 'ON', NULL)) "             \
    "AS wait_no_replica, "                                                                         \
    "MAX(IF(VARIABLE_NAME IN (" SS_WAIT_COUNT "), VARIABLE_VALUE, NULL)) AS wait_count "           \
    "FROM performance_schema.global_variables "                                                    \
    "WHERE VARIABLE_NAME IN (" SS_SOURCE_VARS ", " SS_REPLICA_VARS ", " SS_TIMEOUT                 \
    ", " SS_WAIT_POINT ", " SS_WAIT_NO_REPLICA ", " SS_WAIT_COUNT ")) AS v, (SELECT "              \
    "MAX(IF(VARIABLE_NAME IN (" SS_STATUS "), VARIABLE_VALUE = 'ON', NULL)) AS source_status, "    \
    "MAX(IF(VARIABLE_NAME IN (" SS_CLIENTS "), VARIABLE_VALUE, NULL)) AS source_clients, "         \
    "MAX(IF(VARIABLE_NAME IN (" SS_WAIT_SESSIONS "), VARIABLE_VALUE, NULL)) AS wait_sessions, "    \
    "MAX(IF(VARIABLE_NAME IN (" SS_NO_TX "), VARIABLE_VALUE, NULL)) AS no_tx "                     \
    "FROM performance_schema.global_status "                                                       \
    "WHERE VARIABLE_NAME IN (" SS_STATUS ", " SS_CLIENTS ", " SS_WAIT_SESSIONS ", " SS_NO_TX       \
    ")) AS s"

/* The timestamps of the receiver's silence came with 8.0.2; the servers with
 * the old variable name are read the older way (by their counters alone). */
static const char NODE_STATE_MYSQL_OLD[] = NODE_STATE_MYSQL("log_slave_updates", "NULL");
static const char NODE_STATE_MYSQL_NEW[] =
    NODE_STATE_MYSQL("log_replica_updates", REPLICA_SILENT_MYSQL);

/* MariaDB: semi-sync is built in, so its variables always exist; status
 * counters come from information_schema (performance_schema is off by
 * default there and has no global_variables table in 10.x). */
/* clang-format off */
static const char NODE_STATE_MARIADB[] =
    "SELECT @@GLOBAL.read_only AS read_only, NULL AS super_read_only, "
    "@@GLOBAL.version AS version, @@GLOBAL.version_comment AS version_comment, "
    "@@GLOBAL.server_id AS server_id, NULL AS server_uuid, "
    "@@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates, "
    "NULL AS gtid_mode, NULL AS gtid_executed, NULL AS gtid_purged, "
    "@@GLOBAL.gtid_binlog_pos AS gtid_binlog_pos, @@GLOBAL.gtid_current_pos AS gtid_current_pos, "
    "@@GLOBAL.gtid_slave_pos AS gtid_slave_pos, @@GLOBAL.gtid_domain_id AS gtid_domain_id, "
    "@@GLOBAL.gtid_strict_mode AS gtid_strict_mode, "
    "@@GLOBAL.rpl_semi_sync_master_enabled AS semisync_source_enabled, "
    "@@GLOBAL.rpl_semi_sync_slave_enabled AS semisync_replica_enabled, "
    "(SELECT MAX(VARIABLE_VALUE = 'ON') FROM information_schema.GLOBAL_STATUS "
    "WHERE VARIABLE_NAME = 'Rpl_semi_sync_master_status') AS semisync_source_status, "
    "(SELECT MAX(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS "
    "WHERE VARIABLE_NAME = 'Rpl_semi_sync_master_clients') AS semisync_source_clients, "
    "'rpl_semi_sync_master_enabled' AS semisync_source_variable, "
    "'rpl_semi_sync_slave_enabled' AS semisync_replica_variable, "
    "(SELECT MAX(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS "
    "WHERE VARIABLE_NAME = 'Slave_received_heartbeats') AS replica_heartbeats, "
    "@@GLOBAL.rpl_semi_sync_master_timeout AS semisync_timeout, "
    "@@GLOBAL.rpl_semi_sync_master_wait_point AS semisync_wait_point, "
    "@@GLOBAL.rpl_semi_sync_master_wait_no_slave AS semisync_wait_no_replica, "
    "NULL AS semisync_wait_count, "
    "ss.wait_sessions AS semisync_wait_sessions, ss.no_tx AS semisync_no_tx, "
    "NULL AS replica_heartbeat_period, NULL AS group_members, NULL AS replica_silent_us "
    "FROM (SELECT "
    "MAX(IF(VARIABLE_NAME = 'Rpl_semi_sync_master_wait_sessions', VARIABLE_VALUE, NULL)) "
    "AS wait_sessions, "
    "MAX(IF(VARIABLE_NAME = 'Rpl_semi_sync_master_no_tx', VARIABLE_VALUE, NULL)) AS no_tx "
    "FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN "
    "('Rpl_semi_sync_master_wait_sessions', 'Rpl_semi_sync_master_no_tx')) AS ss";
/* clang-format on */

const char *flavor_sql_node_state(const flavor_t *f)
{
    if (f->family == FAMILY_MARIADB)
        return NODE_STATE_MARIADB;
    return f->log_replica_updates ? NODE_STATE_MYSQL_NEW : NODE_STATE_MYSQL_OLD;
}

/* ---- Replica status column names ---------------------------------------- */

/* SHOW REPLICA STATUS, MySQL 8.0.22 and later. */
static const flavor_replica_columns_t COLUMNS_MYSQL_REPLICA = {
    .channel = "Channel_Name",
    .io_state = "Replica_IO_State",
    .io_running = "Replica_IO_Running",
    .sql_running = "Replica_SQL_Running",
    .sql_running_state = "Replica_SQL_Running_State",
    .source_host = "Source_Host",
    .source_port = "Source_Port",
    .source_user = "Source_User",
    .source_server_id = "Source_Server_Id",
    .source_uuid = "Source_UUID",
    .connect_retry = "Connect_Retry",
    .source_log_file = "Source_Log_File",
    .read_source_log_pos = "Read_Source_Log_Pos",
    .relay_source_log_file = "Relay_Source_Log_File",
    .exec_source_log_pos = "Exec_Source_Log_Pos",
    .relay_log_space = "Relay_Log_Space",
    .seconds_behind = "Seconds_Behind_Source",
    .sql_delay = "SQL_Delay",
    .last_io_errno = "Last_IO_Errno",
    .last_io_error = "Last_IO_Error",
    .last_io_error_timestamp = "Last_IO_Error_Timestamp",
    .last_sql_errno = "Last_SQL_Errno",
    .last_sql_error = "Last_SQL_Error",
    .auto_position = "Auto_Position",
    .retrieved_gtid_set = "Retrieved_Gtid_Set",
    .executed_gtid_set = "Executed_Gtid_Set",
    .ssl_allowed = "Source_SSL_Allowed",
    .ssl_verify_server_cert = "Source_SSL_Verify_Server_Cert",
};

/* SHOW SLAVE STATUS, MySQL 5.7 and 8.0 before 8.0.22. */
static const flavor_replica_columns_t COLUMNS_MYSQL_SLAVE = {
    .channel = "Channel_Name",
    .io_state = "Slave_IO_State",
    .io_running = "Slave_IO_Running",
    .sql_running = "Slave_SQL_Running",
    .sql_running_state = "Slave_SQL_Running_State",
    .source_host = "Master_Host",
    .source_port = "Master_Port",
    .source_user = "Master_User",
    .source_server_id = "Master_Server_Id",
    .source_uuid = "Master_UUID",
    .connect_retry = "Connect_Retry",
    .source_log_file = "Master_Log_File",
    .read_source_log_pos = "Read_Master_Log_Pos",
    .relay_source_log_file = "Relay_Master_Log_File",
    .exec_source_log_pos = "Exec_Master_Log_Pos",
    .relay_log_space = "Relay_Log_Space",
    .seconds_behind = "Seconds_Behind_Master",
    .sql_delay = "SQL_Delay",
    .last_io_errno = "Last_IO_Errno",
    .last_io_error = "Last_IO_Error",
    .last_io_error_timestamp = "Last_IO_Error_Timestamp",
    .last_sql_errno = "Last_SQL_Errno",
    .last_sql_error = "Last_SQL_Error",
    .auto_position = "Auto_Position",
    .retrieved_gtid_set = "Retrieved_Gtid_Set",
    .executed_gtid_set = "Executed_Gtid_Set",
    .ssl_allowed = "Master_SSL_Allowed",
    .ssl_verify_server_cert = "Master_SSL_Verify_Server_Cert",
};

/* SHOW ALL SLAVES STATUS / SHOW ALL REPLICAS STATUS: the same columns under
 * both spellings of the statement. */
static const flavor_replica_columns_t COLUMNS_MARIADB = {
    .channel = "Connection_name",
    .io_state = "Slave_IO_State",
    .io_running = "Slave_IO_Running",
    .sql_running = "Slave_SQL_Running",
    .sql_running_state = "Slave_SQL_Running_State",
    .source_host = "Master_Host",
    .source_port = "Master_Port",
    .source_user = "Master_User",
    .source_server_id = "Master_Server_Id",
    .connect_retry = "Connect_Retry",
    .source_log_file = "Master_Log_File",
    .read_source_log_pos = "Read_Master_Log_Pos",
    .relay_source_log_file = "Relay_Master_Log_File",
    .exec_source_log_pos = "Exec_Master_Log_Pos",
    .relay_log_space = "Relay_Log_Space",
    .seconds_behind = "Seconds_Behind_Master",
    .sql_delay = "SQL_Delay",
    .last_io_errno = "Last_IO_Errno",
    .last_io_error = "Last_IO_Error",
    .last_sql_errno = "Last_SQL_Errno",
    .last_sql_error = "Last_SQL_Error",
    .auto_position = "Using_Gtid",
    .gtid_io_pos = "Gtid_IO_Pos",
    .gtid_slave_pos = "Gtid_Slave_Pos",
    .received_heartbeats = "Slave_received_heartbeats",
    .heartbeat_period = "Slave_heartbeat_period",
    .retried_transactions = "Retried_transactions",
    .ssl_allowed = "Master_SSL_Allowed",
    .ssl_verify_server_cert = "Master_SSL_Verify_Server_Cert",
};

const flavor_replica_columns_t *flavor_replica_columns(const flavor_t *f)
{
    if (f->family == FAMILY_MARIADB)
        return &COLUMNS_MARIADB;
    return f->replica_words ? &COLUMNS_MYSQL_REPLICA : &COLUMNS_MYSQL_SLAVE;
}
