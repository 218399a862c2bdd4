/* The SQL dialects, as a specification: what each server version is taken
 * for, and the exact text failoverd sends it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flavor.h"
#include "tls.h"

static flavor_t must_detect(const char *version, const char *comment)
{
    flavor_t f;
    char err[256] = "";
    cr_assert(flavor_detect(&f, version, comment, err, sizeof(err)), "detect \"%s\": %s", version,
              err);
    return f;
}

/* ---- Detection ---------------------------------------------------------- */

typedef struct {
    const char *version, *comment;
    bool ok;
    server_family_t family;
    flavor_gen_t gen;
    unsigned major, minor, patch;
    const char *err; /* a substring of the error when !ok */
} detect_case_t;

/* clang-format off */
static const detect_case_t detect_cases[] = {
    /* MariaDB, as servers print @@version / @@version_comment */
    {"10.11.19-MariaDB-0+deb12u1", "Debian 12", true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_10, 10, 11, 19, NULL},
    {"10.11.19-MariaDB-0+deb12u1-log", "Debian 12", true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_10, 10, 11, 19, NULL},
    {"11.4.2-MariaDB", "mariadb.org binary distribution", true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_11, 11, 4, 2, NULL},
    {"11.8.3-MariaDB-ubu2404", "mariadb.org binary distribution", true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_11, 11, 8, 3, NULL},
    {"10.5.27-MariaDB", NULL, true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_10, 10, 5, 27, NULL},
    {"10.4.34-MariaDB-1:10.4.34+maria~ubu2004-log", "mariadb.org binary distribution", true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_10, 10, 4, 34, NULL},
    {"10.3.39-MariaDB-0+deb10u2", "Debian 10", true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_10, 10, 3, 39, NULL},
    {"5.5.5-10.11.6-MariaDB", NULL, true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_10, 10, 11, 6, NULL},
    {"10.6.18", "MariaDB Server", true, FAMILY_MARIADB, FLAVOR_GEN_MARIADB_10, 10, 6, 18, NULL},
    {"10.2.44-MariaDB", NULL, false, 0, 0, 0, 0, 0, "MariaDB 10.2.44 is too old"},
    {"5.5.68-MariaDB", "MariaDB Server", false, 0, 0, 0, 0, 0, "MariaDB 5.5.68 is too old"},
    {"12.0.2-MariaDB", NULL, false, 0, 0, 0, 0, 0, "MariaDB 12.0.2 is newer than this failoverd knows"},
    /* MySQL and Percona Server */
    {"9.7.0", "MySQL Community Server - GPL", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_9, 9, 7, 0, NULL},
    {"9.7.4-2", "(Debian)", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_9, 9, 7, 4, NULL},
    {"9.1.0", "(Debian)", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_9, 9, 1, 0, NULL},
    {"8.4.6", "MySQL Community Server - GPL", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_84, 8, 4, 6, NULL},
    {"8.4.0-debug", NULL, true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_84, 8, 4, 0, NULL},
    {"8.3.0", "MySQL Community Server - GPL", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_80, 8, 3, 0, NULL},
    {"8.0.36-28", "Percona Server (GPL), Release 28, Revision 47601f19", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_80, 8, 0, 36, NULL},
    {"8.0.36-0ubuntu0.22.04.1", "(Ubuntu)", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_80, 8, 0, 36, NULL},
    {"8.0.23", "MySQL Community Server - GPL", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_80, 8, 0, 23, NULL},
    {"8.0.22", "MySQL Community Server - GPL", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_80_LEGACY, 8, 0, 22, NULL},
    {"8.0.11", NULL, true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_80_LEGACY, 8, 0, 11, NULL},
    {"5.7.44-log", "MySQL Community Server (GPL)", true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_57, 5, 7, 44, NULL},
    {"5.7.8-rc", NULL, true, FAMILY_MYSQL, FLAVOR_GEN_MYSQL_57, 5, 7, 8, NULL},
    {"5.7.7-rc", NULL, false, 0, 0, 0, 0, 0, "MySQL 5.7.7 is too old"},
    {"5.6.51-log", "MySQL Community Server (GPL)", false, 0, 0, 0, 0, 0, "MySQL 5.6.51 is too old"},
    {"8.0.4-rc-log", NULL, false, 0, 0, 0, 0, 0, "MySQL 8.0.4 is not a release failoverd knows"},
    {"7.0.1", NULL, false, 0, 0, 0, 0, 0, "MySQL 7.0.1 is not a release failoverd knows"},
    {"10.0.0", "MySQL Community Server - GPL", false, 0, 0, 0, 0, 0, "MySQL 10.0.0 is newer than this failoverd knows"},
    /* Not versions at all */
    {"", NULL, false, 0, 0, 0, 0, 0, "empty version"},
    {NULL, NULL, false, 0, 0, 0, 0, 0, "empty version"},
    {"garbage", NULL, false, 0, 0, 0, 0, 0, "cannot read a version number (major.minor.patch) from \"garbage\""},
    {"8.0", NULL, false, 0, 0, 0, 0, 0, "cannot read a version number"},
    {"8.0.22.1", NULL, false, 0, 0, 0, 0, 0, "cannot read a version number"},
    {"8.0.123456", NULL, false, 0, 0, 0, 0, 0, "cannot read a version number"},
    {"-8.0.22", NULL, false, 0, 0, 0, 0, 0, "cannot read a version number"},
};
/* clang-format on */

Test(flavor_detect, real_version_strings)
{
    for (size_t i = 0; i < sizeof(detect_cases) / sizeof(detect_cases[0]); i++) {
        const detect_case_t *c = &detect_cases[i];
        flavor_t f;
        char err[256] = "";
        bool ok = flavor_detect(&f, c->version, c->comment, err, sizeof(err));
        cr_assert_eq(ok, c->ok, "\"%s\": expected %s, got %s (%s)",
                     c->version ? c->version : "(null)", c->ok ? "ok" : "error",
                     ok ? "ok" : "error", err);
        if (!ok) {
            cr_assert(strstr(err, c->err), "\"%s\": error \"%s\" lacks \"%s\"",
                      c->version ? c->version : "(null)", err, c->err);
            continue;
        }
        cr_assert_eq(f.family, c->family, "\"%s\": family", c->version);
        cr_assert_eq(f.gen, c->gen, "\"%s\": generation %s, expected %s", c->version,
                     flavor_gen_str(f.gen), flavor_gen_str(c->gen));
        cr_assert_eq(f.major, c->major, "\"%s\"", c->version);
        cr_assert_eq(f.minor, c->minor, "\"%s\"", c->version);
        cr_assert_eq(f.patch, c->patch, "\"%s\"", c->version);
        cr_assert_str_eq(f.version, c->version);
    }
}

Test(flavor_detect, error_names_what_is_supported)
{
    flavor_t f;
    char err[256];
    cr_assert_not(flavor_detect(&f, "5.6.51-log", NULL, err, sizeof(err)));
    cr_assert_str_eq(err, "MySQL 5.6.51 is too old: failoverd supports MySQL 5.7.8 and newer "
                          "(it needs super_read_only and WAIT_FOR_EXECUTED_GTID_SET)");
    cr_assert_not(flavor_detect(&f, "12.0.2-MariaDB", NULL, err, sizeof(err)));
    cr_assert_str_eq(err, "MariaDB 12.0.2 is newer than this failoverd knows: it supports MariaDB "
                          "10.3 to 11.x");
    /* A NULL or short error buffer is fine. */
    cr_assert_not(flavor_detect(&f, "garbage", NULL, NULL, 0));
    char tiny[8];
    cr_assert_not(flavor_detect(&f, "garbage", NULL, tiny, sizeof(tiny)));
    cr_assert_str_eq(tiny, "cannot ");
}

typedef struct {
    const char *version;
    bool replica_words, source_words, super_read_only, get_public_key, log_replica_updates,
        fractional_wait, demote_to_slave, semisync_legacy;
} feature_case_t;

/* clang-format off */
static const feature_case_t feature_cases[] = {
    /*                     replica source super pubkey lru   frac  demote ss-legacy */
    {"5.7.44-log",         false, false, true,  false, false, false, false, true},
    {"8.0.21",             false, false, true,  true,  false, true,  false, true},
    {"8.0.22",             true,  false, true,  true,  false, true,  false, true},
    {"8.0.23",             true,  true,  true,  true,  false, true,  false, true},
    {"8.0.26",             true,  true,  true,  true,  true,  true,  false, false},
    {"8.4.6",              true,  true,  true,  true,  true,  true,  false, false},
    {"9.7.0",              true,  true,  true,  true,  true,  true,  false, false},
    {"10.4.34-MariaDB",    false, false, false, false, false, true,  false, true},
    {"10.5.1-MariaDB",     true,  false, false, false, false, true,  false, true},
    {"10.9.8-MariaDB",     true,  false, false, false, false, true,  false, true},
    {"10.11.19-MariaDB",   true,  false, false, false, false, true,  true,  true},
    {"11.4.2-MariaDB",     true,  false, false, false, false, true,  true,  true},
};
/* clang-format on */

Test(flavor_detect, features_follow_the_version)
{
    for (size_t i = 0; i < sizeof(feature_cases) / sizeof(feature_cases[0]); i++) {
        const feature_case_t *c = &feature_cases[i];
        flavor_t f = must_detect(c->version, NULL);
        cr_assert_eq(f.replica_words, c->replica_words, "%s replica_words", c->version);
        cr_assert_eq(f.source_words, c->source_words, "%s source_words", c->version);
        cr_assert_eq(f.super_read_only, c->super_read_only, "%s super_read_only", c->version);
        cr_assert_eq(f.get_public_key, c->get_public_key, "%s get_public_key", c->version);
        cr_assert_eq(f.log_replica_updates, c->log_replica_updates, "%s lru", c->version);
        cr_assert_eq(f.fractional_wait, c->fractional_wait, "%s fractional_wait", c->version);
        cr_assert_eq(f.demote_to_slave, c->demote_to_slave, "%s demote", c->version);
        cr_assert_eq(f.semisync_source_legacy, c->semisync_legacy, "%s semisync", c->version);
        cr_assert_eq(f.semisync_replica_legacy, c->semisync_legacy, "%s semisync", c->version);
    }
}

Test(flavor_detect, names)
{
    cr_assert_str_eq(flavor_family_str(FAMILY_MYSQL), "MySQL");
    cr_assert_str_eq(flavor_family_str(FAMILY_MARIADB), "MariaDB");
    cr_assert_str_eq(flavor_gen_str(FLAVOR_GEN_MYSQL_57), "MySQL 5.7");
    cr_assert_str_eq(flavor_gen_str(FLAVOR_GEN_MYSQL_80_LEGACY), "MySQL 8.0 (before 8.0.23)");
    cr_assert_str_eq(flavor_gen_str(FLAVOR_GEN_MYSQL_80), "MySQL 8.0.23+");
    cr_assert_str_eq(flavor_gen_str(FLAVOR_GEN_MYSQL_84), "MySQL 8.4");
    cr_assert_str_eq(flavor_gen_str(FLAVOR_GEN_MYSQL_9), "MySQL 9");
    cr_assert_str_eq(flavor_gen_str(FLAVOR_GEN_MARIADB_10), "MariaDB 10");
    cr_assert_str_eq(flavor_gen_str(FLAVOR_GEN_MARIADB_11), "MariaDB 11");
    flavor_t f = must_detect("8.0.23", NULL);
    cr_assert(flavor_at_least(&f, 8, 0, 23));
    cr_assert(flavor_at_least(&f, 5, 7, 44));
    cr_assert_not(flavor_at_least(&f, 8, 0, 24));
    cr_assert_not(flavor_at_least(&f, 8, 1, 0));
}

Test(flavor_detect, long_version_is_truncated_in_the_copy)
{
    char v[200];
    memset(v, 'x', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    memcpy(v, "8.0.36-", 7);
    flavor_t f = must_detect(v, NULL);
    cr_assert_eq(strlen(f.version), sizeof(f.version) - 1);
    cr_assert_eq(f.gen, FLAVOR_GEN_MYSQL_80);
}

/* ---- Fixed statements per flavor ---------------------------------------- */

typedef struct {
    const char *version;
    const char *status, *start, *stop, *start_io, *stop_io, *reset, *gtid;
} fixed_case_t;

static const fixed_case_t fixed_cases[] = {
    {"5.7.44-log", "SHOW SLAVE STATUS", "START SLAVE", "STOP SLAVE", "START SLAVE IO_THREAD",
     "STOP SLAVE IO_THREAD", "RESET SLAVE ALL", "SELECT @@GLOBAL.gtid_executed"},
    {"8.0.21", "SHOW SLAVE STATUS", "START SLAVE", "STOP SLAVE", "START SLAVE IO_THREAD",
     "STOP SLAVE IO_THREAD", "RESET SLAVE ALL", "SELECT @@GLOBAL.gtid_executed"},
    {"8.0.22", "SHOW REPLICA STATUS", "START REPLICA", "STOP REPLICA", "START REPLICA IO_THREAD",
     "STOP REPLICA IO_THREAD", "RESET REPLICA ALL", "SELECT @@GLOBAL.gtid_executed"},
    {"8.0.36", "SHOW REPLICA STATUS", "START REPLICA", "STOP REPLICA", "START REPLICA IO_THREAD",
     "STOP REPLICA IO_THREAD", "RESET REPLICA ALL", "SELECT @@GLOBAL.gtid_executed"},
    {"8.4.6", "SHOW REPLICA STATUS", "START REPLICA", "STOP REPLICA", "START REPLICA IO_THREAD",
     "STOP REPLICA IO_THREAD", "RESET REPLICA ALL", "SELECT @@GLOBAL.gtid_executed"},
    {"9.7.0", "SHOW REPLICA STATUS", "START REPLICA", "STOP REPLICA", "START REPLICA IO_THREAD",
     "STOP REPLICA IO_THREAD", "RESET REPLICA ALL", "SELECT @@GLOBAL.gtid_executed"},
    {"10.4.34-MariaDB", "SHOW ALL SLAVES STATUS", "START SLAVE", "STOP SLAVE",
     "START SLAVE IO_THREAD", "STOP SLAVE IO_THREAD", "RESET SLAVE ALL",
     "SELECT @@GLOBAL.gtid_binlog_pos"},
    {"10.11.19-MariaDB-0+deb12u1", "SHOW ALL REPLICAS STATUS", "START REPLICA", "STOP REPLICA",
     "START REPLICA IO_THREAD", "STOP REPLICA IO_THREAD", "RESET REPLICA ALL",
     "SELECT @@GLOBAL.gtid_binlog_pos"},
    {"11.4.2-MariaDB", "SHOW ALL REPLICAS STATUS", "START REPLICA", "STOP REPLICA",
     "START REPLICA IO_THREAD", "STOP REPLICA IO_THREAD", "RESET REPLICA ALL",
     "SELECT @@GLOBAL.gtid_binlog_pos"},
};

Test(flavor_sql, fixed_statements)
{
    for (size_t i = 0; i < sizeof(fixed_cases) / sizeof(fixed_cases[0]); i++) {
        const fixed_case_t *c = &fixed_cases[i];
        flavor_t f = must_detect(c->version, NULL);
        cr_assert_str_eq(flavor_sql_replica_status(&f), c->status, "%s", c->version);
        cr_assert_str_eq(flavor_sql_start_replica(&f), c->start, "%s", c->version);
        cr_assert_str_eq(flavor_sql_stop_replica(&f), c->stop, "%s", c->version);
        cr_assert_str_eq(flavor_sql_start_io_thread(&f), c->start_io, "%s", c->version);
        cr_assert_str_eq(flavor_sql_stop_io_thread(&f), c->stop_io, "%s", c->version);
        /* The applier is started with the same words as the receiver. */
        char start_sql[64];
        snprintf(start_sql, sizeof start_sql, "%.*sSQL_THREAD",
                 (int)(strlen(c->start_io) - strlen("IO_THREAD")), c->start_io);
        cr_assert_str_eq(flavor_sql_start_sql_thread(&f), start_sql, "%s", c->version);
        cr_assert_str_eq(flavor_sql_reset_replica_all(&f), c->reset, "%s", c->version);
        cr_assert_str_eq(flavor_sql_gtid_executed(&f), c->gtid, "%s", c->version);
    }
}

typedef struct {
    const char *version;
    flavor_ro_t mode;
    const char *sql;
} ro_case_t;

static const ro_case_t ro_cases[] = {
    {"5.7.44", FLAVOR_WRITABLE, "SET GLOBAL super_read_only = OFF, GLOBAL read_only = OFF"},
    {"5.7.44", FLAVOR_READ_ONLY, "SET GLOBAL super_read_only = OFF, GLOBAL read_only = ON"},
    {"5.7.44", FLAVOR_SUPER_READ_ONLY, "SET GLOBAL read_only = ON, GLOBAL super_read_only = ON"},
    {"8.0.22", FLAVOR_SUPER_READ_ONLY, "SET GLOBAL read_only = ON, GLOBAL super_read_only = ON"},
    {"8.4.6", FLAVOR_WRITABLE, "SET GLOBAL super_read_only = OFF, GLOBAL read_only = OFF"},
    {"9.7.0", FLAVOR_WRITABLE, "SET GLOBAL super_read_only = OFF, GLOBAL read_only = OFF"},
    {"9.7.0", FLAVOR_READ_ONLY, "SET GLOBAL super_read_only = OFF, GLOBAL read_only = ON"},
    {"9.7.0", FLAVOR_SUPER_READ_ONLY, "SET GLOBAL read_only = ON, GLOBAL super_read_only = ON"},
    /* MariaDB has read_only alone: the fence is as strong as read_only gets. */
    {"10.4.34-MariaDB", FLAVOR_WRITABLE, "SET GLOBAL read_only = OFF"},
    {"10.11.19-MariaDB", FLAVOR_WRITABLE, "SET GLOBAL read_only = OFF"},
    {"10.11.19-MariaDB", FLAVOR_READ_ONLY, "SET GLOBAL read_only = ON"},
    {"10.11.19-MariaDB", FLAVOR_SUPER_READ_ONLY, "SET GLOBAL read_only = ON"},
    {"11.4.2-MariaDB", FLAVOR_SUPER_READ_ONLY, "SET GLOBAL read_only = ON"},
};

Test(flavor_sql, read_only)
{
    for (size_t i = 0; i < sizeof(ro_cases) / sizeof(ro_cases[0]); i++) {
        flavor_t f = must_detect(ro_cases[i].version, NULL);
        cr_assert_str_eq(flavor_sql_set_read_only(&f, ro_cases[i].mode), ro_cases[i].sql,
                         "%s mode %d", ro_cases[i].version, (int)ro_cases[i].mode);
    }
}

typedef struct {
    const char *version;
    flavor_semisync_side_t side;
    bool on;
    const char *sql;
} semisync_case_t;

static const semisync_case_t semisync_cases[] = {
    {"5.7.44", FLAVOR_SEMISYNC_SOURCE, true, "SET GLOBAL rpl_semi_sync_master_enabled = ON"},
    {"5.7.44", FLAVOR_SEMISYNC_REPLICA, false, "SET GLOBAL rpl_semi_sync_slave_enabled = OFF"},
    {"8.0.25", FLAVOR_SEMISYNC_SOURCE, false, "SET GLOBAL rpl_semi_sync_master_enabled = OFF"},
    {"8.0.25", FLAVOR_SEMISYNC_REPLICA, true, "SET GLOBAL rpl_semi_sync_slave_enabled = ON"},
    {"8.0.26", FLAVOR_SEMISYNC_SOURCE, true, "SET GLOBAL rpl_semi_sync_source_enabled = ON"},
    {"8.0.26", FLAVOR_SEMISYNC_REPLICA, true, "SET GLOBAL rpl_semi_sync_replica_enabled = ON"},
    {"8.4.6", FLAVOR_SEMISYNC_SOURCE, false, "SET GLOBAL rpl_semi_sync_source_enabled = OFF"},
    {"9.7.0", FLAVOR_SEMISYNC_SOURCE, true, "SET GLOBAL rpl_semi_sync_source_enabled = ON"},
    {"9.7.0", FLAVOR_SEMISYNC_SOURCE, false, "SET GLOBAL rpl_semi_sync_source_enabled = OFF"},
    {"9.7.0", FLAVOR_SEMISYNC_REPLICA, true, "SET GLOBAL rpl_semi_sync_replica_enabled = ON"},
    {"9.7.0", FLAVOR_SEMISYNC_REPLICA, false, "SET GLOBAL rpl_semi_sync_replica_enabled = OFF"},
    {"10.11.19-MariaDB", FLAVOR_SEMISYNC_SOURCE, true,
     "SET GLOBAL rpl_semi_sync_master_enabled = ON"},
    {"10.11.19-MariaDB", FLAVOR_SEMISYNC_SOURCE, false,
     "SET GLOBAL rpl_semi_sync_master_enabled = OFF"},
    {"10.11.19-MariaDB", FLAVOR_SEMISYNC_REPLICA, true,
     "SET GLOBAL rpl_semi_sync_slave_enabled = ON"},
    {"11.4.2-MariaDB", FLAVOR_SEMISYNC_REPLICA, false,
     "SET GLOBAL rpl_semi_sync_slave_enabled = OFF"},
};

Test(flavor_sql, semisync)
{
    for (size_t i = 0; i < sizeof(semisync_cases) / sizeof(semisync_cases[0]); i++) {
        const semisync_case_t *c = &semisync_cases[i];
        flavor_t f = must_detect(c->version, NULL);
        cr_assert_str_eq(flavor_sql_set_semisync(&f, c->side, c->on), c->sql, "%s", c->version);
    }
}

Test(flavor_sql, semisync_names_follow_what_the_server_has)
{
    /* A MySQL 8.0.26+ server that still loads semisync_master.so. */
    flavor_t f = must_detect("8.4.6", NULL);
    flavor_note_semisync_variables(&f, "rpl_semi_sync_master_enabled", NULL);
    cr_assert_str_eq(flavor_sql_set_semisync(&f, FLAVOR_SEMISYNC_SOURCE, true),
                     "SET GLOBAL rpl_semi_sync_master_enabled = ON");
    cr_assert_str_eq(flavor_sql_set_semisync(&f, FLAVOR_SEMISYNC_REPLICA, true),
                     "SET GLOBAL rpl_semi_sync_replica_enabled = ON");
    flavor_note_semisync_variables(&f, NULL, "rpl_semi_sync_slave_enabled");
    cr_assert_str_eq(flavor_sql_set_semisync(&f, FLAVOR_SEMISYNC_REPLICA, true),
                     "SET GLOBAL rpl_semi_sync_slave_enabled = ON");
    /* ... and back, after a restart with the new plugins. */
    flavor_note_semisync_variables(&f, "rpl_semi_sync_source_enabled",
                                   "RPL_SEMI_SYNC_REPLICA_ENABLED");
    cr_assert_str_eq(flavor_sql_set_semisync(&f, FLAVOR_SEMISYNC_SOURCE, false),
                     "SET GLOBAL rpl_semi_sync_source_enabled = OFF");
    cr_assert_str_eq(flavor_sql_set_semisync(&f, FLAVOR_SEMISYNC_REPLICA, false),
                     "SET GLOBAL rpl_semi_sync_replica_enabled = OFF");
    /* Unknown names change nothing. */
    flavor_note_semisync_variables(&f, "something_else", "");
    cr_assert_not(f.semisync_source_legacy);
    cr_assert_not(f.semisync_replica_legacy);
}

/* ---- Node state ---------------------------------------------------------- */

static const char NODE_STATE_MYSQL_57[] =
    "SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only, "
    "@@GLOBAL.version AS version, @@GLOBAL.version_comment AS version_comment, "
    "@@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid, "
    "@@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates, "
    "@@GLOBAL.gtid_mode AS gtid_mode, @@GLOBAL.gtid_executed AS gtid_executed, "
    "@@GLOBAL.gtid_purged AS gtid_purged, NULL AS gtid_binlog_pos, NULL AS gtid_current_pos, "
    "NULL AS gtid_slave_pos, NULL AS gtid_domain_id, NULL AS gtid_strict_mode, "
    "v.source_enabled AS semisync_source_enabled, v.replica_enabled AS semisync_replica_enabled, "
    "s.source_status AS semisync_source_status, s.source_clients AS semisync_source_clients, "
    "v.source_variable AS semisync_source_variable, "
    "v.replica_variable AS semisync_replica_variable, "
    "(SELECT MAX(COUNT_RECEIVED_HEARTBEATS) FROM performance_schema.replication_connection_status "
    "WHERE CHANNEL_NAME = '') AS replica_heartbeats, "
    "v.timeout AS semisync_timeout, v.wait_point AS semisync_wait_point, "
    "v.wait_no_replica AS semisync_wait_no_replica, v.wait_count AS semisync_wait_count, "
    "s.wait_sessions AS semisync_wait_sessions, s.no_tx AS semisync_no_tx, "
    "(SELECT MAX(HEARTBEAT_INTERVAL) FROM performance_schema.replication_connection_configuration "
    "WHERE CHANNEL_NAME = '') AS replica_heartbeat_period, "
    "(SELECT COUNT(*) FROM performance_schema.replication_group_members "
    "WHERE MEMBER_STATE <> 'OFFLINE') AS group_members, NULL AS replica_silent_us "
    "FROM (SELECT "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_source_enabled', 'rpl_semi_sync_master_enabled'), "
    "VARIABLE_VALUE = 'ON', NULL)) AS source_enabled, "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_replica_enabled', 'rpl_semi_sync_slave_enabled'), "
    "VARIABLE_VALUE = 'ON', NULL)) AS replica_enabled, "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_source_enabled', 'rpl_semi_sync_master_enabled'), "
    "VARIABLE_NAME, NULL)) AS source_variable, "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_replica_enabled', 'rpl_semi_sync_slave_enabled'), "
    "VARIABLE_NAME, NULL)) AS replica_variable, "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_source_timeout', 'rpl_semi_sync_master_timeout'), "
    "VARIABLE_VALUE, NULL)) AS timeout, "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_source_wait_point', "
    "'rpl_semi_sync_master_wait_point'), VARIABLE_VALUE, NULL)) AS wait_point, "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_source_wait_no_replica', "
    "'rpl_semi_sync_master_wait_no_slave'), VARIABLE_VALUE = 'ON', NULL)) AS wait_no_replica, "
    "MAX(IF(VARIABLE_NAME IN ('rpl_semi_sync_source_wait_for_replica_count', "
    "'rpl_semi_sync_master_wait_for_slave_count'), VARIABLE_VALUE, NULL)) AS wait_count "
    "FROM performance_schema.global_variables WHERE VARIABLE_NAME IN "
    "('rpl_semi_sync_source_enabled', 'rpl_semi_sync_master_enabled', "
    "'rpl_semi_sync_replica_enabled', 'rpl_semi_sync_slave_enabled', "
    "'rpl_semi_sync_source_timeout', 'rpl_semi_sync_master_timeout', "
    "'rpl_semi_sync_source_wait_point', 'rpl_semi_sync_master_wait_point', "
    "'rpl_semi_sync_source_wait_no_replica', 'rpl_semi_sync_master_wait_no_slave', "
    "'rpl_semi_sync_source_wait_for_replica_count', "
    "'rpl_semi_sync_master_wait_for_slave_count')) AS v, (SELECT "
    "MAX(IF(VARIABLE_NAME IN ('Rpl_semi_sync_source_status', 'Rpl_semi_sync_master_status'), "
    "VARIABLE_VALUE = 'ON', NULL)) AS source_status, "
    "MAX(IF(VARIABLE_NAME IN ('Rpl_semi_sync_source_clients', 'Rpl_semi_sync_master_clients'), "
    "VARIABLE_VALUE, NULL)) AS source_clients, "
    "MAX(IF(VARIABLE_NAME IN ('Rpl_semi_sync_source_wait_sessions', "
    "'Rpl_semi_sync_master_wait_sessions'), VARIABLE_VALUE, NULL)) AS wait_sessions, "
    "MAX(IF(VARIABLE_NAME IN ('Rpl_semi_sync_source_no_tx', 'Rpl_semi_sync_master_no_tx'), "
    "VARIABLE_VALUE, NULL)) AS no_tx "
    "FROM performance_schema.global_status WHERE VARIABLE_NAME IN "
    "('Rpl_semi_sync_source_status', 'Rpl_semi_sync_master_status', "
    "'Rpl_semi_sync_source_clients', 'Rpl_semi_sync_master_clients', "
    "'Rpl_semi_sync_source_wait_sessions', 'Rpl_semi_sync_master_wait_sessions', "
    "'Rpl_semi_sync_source_no_tx', 'Rpl_semi_sync_master_no_tx')) AS s";

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
    "(SELECT MAX(VARIABLE_VALUE = 'ON') FROM information_schema.GLOBAL_STATUS WHERE "
    "VARIABLE_NAME = 'Rpl_semi_sync_master_status') AS semisync_source_status, "
    "(SELECT MAX(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE "
    "VARIABLE_NAME = 'Rpl_semi_sync_master_clients') AS semisync_source_clients, "
    "'rpl_semi_sync_master_enabled' AS semisync_source_variable, "
    "'rpl_semi_sync_slave_enabled' AS semisync_replica_variable, "
    "(SELECT MAX(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE "
    "VARIABLE_NAME = 'Slave_received_heartbeats') AS replica_heartbeats, "
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

/* The MySQL text from 8.0.26 on differs in the variable's name and in
 * reading the receiver's silence from its timestamps. */
static char *mysql_new_node_state(void)
{
    const char *old = "@@GLOBAL.log_slave_updates AS";
    const char *at = strstr(NODE_STATE_MYSQL_57, old);
    cr_assert_not_null(at);
    const char *nul = "NULL AS replica_silent_us";
    const char *at2 = strstr(NODE_STATE_MYSQL_57, nul);
    cr_assert_not_null(at2);
    buf_t b = BUF_INIT;
    buf_append(&b, NODE_STATE_MYSQL_57, (size_t)(at - NODE_STATE_MYSQL_57));
    buf_puts(&b, "@@GLOBAL.log_replica_updates AS");
    buf_append(&b, at + strlen(old), (size_t)(at2 - at - strlen(old)));
    buf_puts(&b, "(SELECT MAX(IF(QUEUEING_TRANSACTION <> '', NULL, TIMESTAMPDIFF(MICROSECOND, "
                 "GREATEST(LAST_HEARTBEAT_TIMESTAMP, LAST_QUEUED_TRANSACTION_END_QUEUE_TIMESTAMP), "
                 "NOW(6)))) FROM performance_schema.replication_connection_status WHERE "
                 "CHANNEL_NAME = '') AS replica_silent_us");
    buf_puts(&b, at2 + strlen(nul));
    return buf_steal(&b);
}

Test(flavor_sql, node_state_per_flavor)
{
    char *mysql_new = mysql_new_node_state();
    struct {
        const char *version;
        const char *sql;
    } cases[] = {
        {"5.7.44-log", NODE_STATE_MYSQL_57},
        {"8.0.22", NODE_STATE_MYSQL_57},
        {"8.0.25", NODE_STATE_MYSQL_57},
        {"8.0.26", mysql_new},
        {"8.4.6", mysql_new},
        {"9.7.0", mysql_new},
        {"10.4.34-MariaDB", NODE_STATE_MARIADB},
        {"10.11.19-MariaDB", NODE_STATE_MARIADB},
        {"11.4.2-MariaDB", NODE_STATE_MARIADB},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flavor_t f = must_detect(cases[i].version, NULL);
        cr_assert_str_eq(flavor_sql_node_state(&f), cases[i].sql, "%s", cases[i].version);
    }
    free(mysql_new);
}

/* Every variant names its columns exactly as flavor_node_state_columns, in
 * enum order, so the prober may read them by index or by name. */
Test(flavor_sql, node_state_columns_match_the_enum)
{
    const char *versions[] = {"5.7.44", "8.0.26", "9.7.0", "10.11.19-MariaDB"};
    for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
        flavor_t f = must_detect(versions[v], NULL);
        /* The select list ends where MySQL's derived tables begin. */
        char *sql = strdup(flavor_sql_node_state(&f));
        char *from = strstr(sql, " FROM (SELECT ");
        if (from)
            *from = '\0';
        size_t n = 0;
        for (const char *p = strstr(sql, " AS "); p; p = strstr(p, " AS ")) {
            p += 4;
            size_t len = strcspn(p, ", ");
            cr_assert_lt(n, FLAVOR_NS_COUNT, "%s: too many columns", versions[v]);
            cr_assert_eq(len, strlen(flavor_node_state_columns[n]), "%s: column %zu", versions[v],
                         n);
            cr_assert(strncmp(p, flavor_node_state_columns[n], len) == 0, "%s: column %zu is %.*s",
                      versions[v], n, (int)len, p);
            n++;
        }
        cr_assert_eq(n, FLAVOR_NS_COUNT, "%s: %zu columns", versions[v], n);
        free(sql);
    }
    cr_assert_str_eq(flavor_node_state_columns[FLAVOR_NS_REPLICA_HEARTBEATS], "replica_heartbeats");
}

/* ---- Replica status columns ---------------------------------------------- */

/* clang-format off */
/* The header of SHOW ALL REPLICAS STATUS from a MariaDB 10.11 server. */
static const char *const MARIADB_10_11_COLUMNS[] = {
    "Connection_name", "Slave_SQL_State", "Slave_IO_State", "Master_Host", "Master_User",
    "Master_Port", "Connect_Retry", "Master_Log_File", "Read_Master_Log_Pos", "Relay_Log_File",
    "Relay_Log_Pos", "Relay_Master_Log_File", "Slave_IO_Running", "Slave_SQL_Running",
    "Replicate_Do_DB", "Replicate_Ignore_DB", "Replicate_Do_Table", "Replicate_Ignore_Table",
    "Replicate_Wild_Do_Table", "Replicate_Wild_Ignore_Table", "Last_Errno", "Last_Error",
    "Skip_Counter", "Exec_Master_Log_Pos", "Relay_Log_Space", "Until_Condition", "Until_Log_File",
    "Until_Log_Pos", "Master_SSL_Allowed", "Master_SSL_CA_File", "Master_SSL_CA_Path",
    "Master_SSL_Cert", "Master_SSL_Cipher", "Master_SSL_Key", "Seconds_Behind_Master",
    "Master_SSL_Verify_Server_Cert", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno",
    "Last_SQL_Error", "Replicate_Ignore_Server_Ids", "Master_Server_Id", "Master_SSL_Crl",
    "Master_SSL_Crlpath", "Using_Gtid", "Gtid_IO_Pos", "Replicate_Do_Domain_Ids",
    "Replicate_Ignore_Domain_Ids", "Parallel_Mode", "SQL_Delay", "SQL_Remaining_Delay",
    "Slave_SQL_Running_State", "Slave_DDL_Groups", "Slave_Non_Transactional_Groups",
    "Slave_Transactional_Groups", "Replicate_Rewrite_DB", "Retried_transactions",
    "Max_relay_log_size", "Executed_log_entries", "Slave_received_heartbeats",
    "Slave_heartbeat_period", "Gtid_Slave_Pos", NULL};

/* The header of SHOW REPLICA STATUS from a MySQL 9.7 server. */
static const char *const MYSQL_9_7_COLUMNS[] = {
    "Replica_IO_State", "Source_Host", "Source_User", "Source_Port", "Connect_Retry",
    "Source_Log_File", "Read_Source_Log_Pos", "Relay_Log_File", "Relay_Log_Pos",
    "Relay_Source_Log_File", "Replica_IO_Running", "Replica_SQL_Running", "Replicate_Do_DB",
    "Replicate_Ignore_DB", "Replicate_Do_Table", "Replicate_Ignore_Table",
    "Replicate_Wild_Do_Table", "Replicate_Wild_Ignore_Table", "Last_Errno", "Last_Error",
    "Skip_Counter", "Exec_Source_Log_Pos", "Relay_Log_Space", "Until_Condition", "Until_Log_File",
    "Until_Log_Pos", "Source_SSL_Allowed", "Source_SSL_CA_File", "Source_SSL_CA_Path",
    "Source_SSL_Cert", "Source_SSL_Cipher", "Source_SSL_Key", "Seconds_Behind_Source",
    "Source_SSL_Verify_Server_Cert", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno",
    "Last_SQL_Error", "Replicate_Ignore_Server_Ids", "Source_Server_Id", "Source_UUID",
    "Source_Info_File", "SQL_Delay", "SQL_Remaining_Delay", "Replica_SQL_Running_State",
    "Source_Retry_Count", "Source_Bind", "Last_IO_Error_Timestamp", "Last_SQL_Error_Timestamp",
    "Source_SSL_Crl", "Source_SSL_Crlpath", "Retrieved_Gtid_Set", "Executed_Gtid_Set",
    "Auto_Position", "Replicate_Rewrite_DB", "Channel_Name", "Source_TLS_Version",
    "Source_public_key_path", "Get_Source_public_key", "Network_Namespace", NULL};
/* clang-format on */

#define N_COLUMN_FIELDS (sizeof(flavor_replica_columns_t) / sizeof(const char *))

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Every column the table names exists in the server's real header. */
static void assert_header_has(const char *version, const char *const *header, size_t absent)
{
    flavor_t f = must_detect(version, NULL);
    const char *const *field = (const char *const *)flavor_replica_columns(&f);
    size_t named = 0;
    for (size_t i = 0; i < N_COLUMN_FIELDS; i++) {
        if (!field[i])
            continue;
        named++;
        cr_assert(in_list(header, field[i]), "%s: no column %s", version, field[i]);
    }
    cr_assert_eq(named, N_COLUMN_FIELDS - absent, "%s: %zu columns named", version, named);
}

Test(flavor_columns, names_exist_in_real_headers)
{
    /* MariaDB lacks the UUID, the error timestamp and the two GTID sets. */
    assert_header_has("10.11.19-MariaDB-0+deb12u1", MARIADB_10_11_COLUMNS, 4);
    /* MySQL lacks the MariaDB positions, heartbeat counter and period, retries. */
    assert_header_has("9.7.4-2", MYSQL_9_7_COLUMNS, 5);
}

typedef struct {
    const char *version;
    const char *channel, *io_running, *sql_running, *source_host, *source_port, *read_pos,
        *seconds_behind, *last_io_errno, *auto_position, *retrieved, *executed, *gtid_io_pos,
        *gtid_slave_pos, *heartbeats, *relay_log_space, *source_uuid;
} columns_case_t;

static const columns_case_t columns_cases[] = {
    {"5.7.44-log", "Channel_Name", "Slave_IO_Running", "Slave_SQL_Running", "Master_Host",
     "Master_Port", "Read_Master_Log_Pos", "Seconds_Behind_Master", "Last_IO_Errno",
     "Auto_Position", "Retrieved_Gtid_Set", "Executed_Gtid_Set", NULL, NULL, NULL,
     "Relay_Log_Space", "Master_UUID"},
    {"8.0.21", "Channel_Name", "Slave_IO_Running", "Slave_SQL_Running", "Master_Host",
     "Master_Port", "Read_Master_Log_Pos", "Seconds_Behind_Master", "Last_IO_Errno",
     "Auto_Position", "Retrieved_Gtid_Set", "Executed_Gtid_Set", NULL, NULL, NULL,
     "Relay_Log_Space", "Master_UUID"},
    {"8.0.22", "Channel_Name", "Replica_IO_Running", "Replica_SQL_Running", "Source_Host",
     "Source_Port", "Read_Source_Log_Pos", "Seconds_Behind_Source", "Last_IO_Errno",
     "Auto_Position", "Retrieved_Gtid_Set", "Executed_Gtid_Set", NULL, NULL, NULL,
     "Relay_Log_Space", "Source_UUID"},
    {"8.4.6", "Channel_Name", "Replica_IO_Running", "Replica_SQL_Running", "Source_Host",
     "Source_Port", "Read_Source_Log_Pos", "Seconds_Behind_Source", "Last_IO_Errno",
     "Auto_Position", "Retrieved_Gtid_Set", "Executed_Gtid_Set", NULL, NULL, NULL,
     "Relay_Log_Space", "Source_UUID"},
    {"9.7.0", "Channel_Name", "Replica_IO_Running", "Replica_SQL_Running", "Source_Host",
     "Source_Port", "Read_Source_Log_Pos", "Seconds_Behind_Source", "Last_IO_Errno",
     "Auto_Position", "Retrieved_Gtid_Set", "Executed_Gtid_Set", NULL, NULL, NULL,
     "Relay_Log_Space", "Source_UUID"},
    {"10.4.34-MariaDB", "Connection_name", "Slave_IO_Running", "Slave_SQL_Running", "Master_Host",
     "Master_Port", "Read_Master_Log_Pos", "Seconds_Behind_Master", "Last_IO_Errno", "Using_Gtid",
     NULL, NULL, "Gtid_IO_Pos", "Gtid_Slave_Pos", "Slave_received_heartbeats", "Relay_Log_Space",
     NULL},
    {"11.4.2-MariaDB", "Connection_name", "Slave_IO_Running", "Slave_SQL_Running", "Master_Host",
     "Master_Port", "Read_Master_Log_Pos", "Seconds_Behind_Master", "Last_IO_Errno", "Using_Gtid",
     NULL, NULL, "Gtid_IO_Pos", "Gtid_Slave_Pos", "Slave_received_heartbeats", "Relay_Log_Space",
     NULL},
};

static void assert_name(const char *got, const char *want, const char *version, const char *what)
{
    if (!want)
        cr_assert_null(got, "%s %s: expected none, got %s", version, what, got);
    else
        cr_assert(got && strcmp(got, want) == 0, "%s %s: expected %s, got %s", version, what, want,
                  got ? got : "(none)");
}

Test(flavor_columns, per_flavor)
{
    for (size_t i = 0; i < sizeof(columns_cases) / sizeof(columns_cases[0]); i++) {
        const columns_case_t *w = &columns_cases[i];
        flavor_t f = must_detect(w->version, NULL);
        const flavor_replica_columns_t *c = flavor_replica_columns(&f);
        assert_name(c->channel, w->channel, w->version, "channel");
        assert_name(c->io_running, w->io_running, w->version, "io_running");
        assert_name(c->sql_running, w->sql_running, w->version, "sql_running");
        assert_name(c->source_host, w->source_host, w->version, "source_host");
        assert_name(c->source_port, w->source_port, w->version, "source_port");
        assert_name(c->read_source_log_pos, w->read_pos, w->version, "read_source_log_pos");
        assert_name(c->seconds_behind, w->seconds_behind, w->version, "seconds_behind");
        assert_name(c->last_io_errno, w->last_io_errno, w->version, "last_io_errno");
        assert_name(c->auto_position, w->auto_position, w->version, "auto_position");
        assert_name(c->retrieved_gtid_set, w->retrieved, w->version, "retrieved_gtid_set");
        assert_name(c->executed_gtid_set, w->executed, w->version, "executed_gtid_set");
        assert_name(c->gtid_io_pos, w->gtid_io_pos, w->version, "gtid_io_pos");
        assert_name(c->gtid_slave_pos, w->gtid_slave_pos, w->version, "gtid_slave_pos");
        assert_name(c->received_heartbeats, w->heartbeats, w->version, "received_heartbeats");
        assert_name(c->relay_log_space, w->relay_log_space, w->version, "relay_log_space");
        assert_name(c->source_uuid, w->source_uuid, w->version, "source_uuid");
    }
}

/* Within one flavor, no two meanings share a column. */
Test(flavor_columns, names_are_distinct)
{
    const char *versions[] = {"5.7.44", "8.0.22", "9.7.0", "10.11.19-MariaDB"};
    for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
        flavor_t f = must_detect(versions[v], NULL);
        const char *const *field = (const char *const *)flavor_replica_columns(&f);
        for (size_t i = 0; i < N_COLUMN_FIELDS; i++)
            for (size_t j = i + 1; j < N_COLUMN_FIELDS; j++)
                cr_assert(!field[i] || !field[j] || strcmp(field[i], field[j]) != 0, "%s: %s twice",
                          versions[v], field[i]);
        cr_assert_not_null(field[0]);
    }
}

/* ---- Escaping ------------------------------------------------------------ */

static char *escaped(const char *s, size_t len)
{
    buf_t b = BUF_INIT;
    flavor_sql_escape(&b, s, len);
    return buf_steal(&b);
}

typedef struct {
    const char *in;
    size_t len;
    const char *out;
} escape_case_t;

#define E(lit, out)                                                                                \
    {                                                                                              \
        lit, sizeof(lit) - 1, out                                                                  \
    }
static const escape_case_t escape_cases[] = {
    E("", ""),
    E("plain", "plain"),
    E("it's", "it''s"),
    E("say \"hi\"", "say \"hi\""),
    E("back\\slash", "back\\\\slash"),
    E("trailing\\", "trailing\\\\"),
    E("nul\0inside", "nul\\0inside"),
    E("\0", "\\0"),
    E("line\nfeed", "line\nfeed"),
    E("carriage\rreturn", "carriage\rreturn"),
    E("ctrl\032z", "ctrl\032z"),
    E("tab\tstays", "tab\tstays"),
    E("'; DROP TABLE mysql.user; --", "''; DROP TABLE mysql.user; --"),
    E("\\'", "\\\\''"),
    E("''", "''''"),
    E("h\xc3\xa9llo", "h\xc3\xa9llo"),
    E("\xff\xfe", "\xff\xfe"),
};

Test(flavor_escape, table)
{
    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        char *got = escaped(escape_cases[i].in, escape_cases[i].len);
        cr_assert_str_eq(got, escape_cases[i].out, "case %zu", i);
        free(got);
    }
}

Test(flavor_escape, quote_wraps)
{
    buf_t b = BUF_INIT;
    flavor_sql_quote(&b, "a'b\0c", 5);
    cr_assert_eq(b.len, 9);
    cr_assert_str_eq(buf_str(&b), "'a''b\\0c'");
    buf_reset(&b);
    flavor_sql_quote(&b, "", 0);
    cr_assert_str_eq(buf_str(&b), "''");
    buf_free(&b);
}

/* What the server's lexer does to the inside of a single-quoted literal, with
 * (nbe) or without NO_BACKSLASH_ESCAPES.  Returns the value's length, or
 * (size_t)-1 when a quote would end the literal early (an injection). */
static size_t unescape_mode(const char *s, size_t len, char *out, bool nbe)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'') {
            if (i + 1 >= len || s[i + 1] != '\'')
                return (size_t)-1;
            out[n++] = '\'';
            i++;
            continue;
        }
        if (s[i] != '\\' || nbe) {
            out[n++] = s[i];
            continue;
        }
        if (i + 1 >= len)
            return (size_t)-1; /* the backslash would escape the closing quote */
        char c = s[++i];
        switch (c) {
        case '0': out[n++] = '\0'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 'Z': out[n++] = '\032'; break;
        default: out[n++] = c; break;
        }
    }
    return n;
}

static size_t unescape(const char *s, size_t len, char *out)
{
    size_t n = unescape_mode(s, len, out, false);
    cr_assert_neq(n, (size_t)-1, "the literal ends early");
    return n;
}

Test(flavor_escape, safe_under_no_backslash_escapes)
{
    /* The attack: a value that ends the literal once backslashes stop being
     * escapes.  In both modes the literal stays one literal; without
     * backslashes and NUL the value is the same in both. */
    static const char *const values[] = {
        "x\\'; DROP USER root; --", "\\", "\\\\'", "'", "a'b", "pa\"ss", "new\nline", "",
    };
    char back[64];
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        buf_t b = BUF_INIT;
        flavor_sql_escape(&b, values[i], strlen(values[i]));
        const char *e = buf_str(&b);
        size_t n = unescape_mode(e, b.len, back, true);
        cr_assert_neq(n, (size_t)-1, "value %zu leaves its literal under NO_BACKSLASH_ESCAPES", i);
        if (!strchr(values[i], '\\')) {
            cr_assert_eq(n, strlen(values[i]));
            cr_assert(memcmp(back, values[i], n) == 0, "value %zu", i);
        }
        n = unescape_mode(e, b.len, back, false);
        cr_assert_eq(n, strlen(values[i]), "value %zu", i);
        cr_assert(memcmp(back, values[i], n) == 0, "value %zu", i);
        buf_free(&b);
    }
}

Test(flavor_escape, round_trips_random_bytes)
{
    unsigned seed = 12345;
    char in[64], back[64];
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = (size_t)(rand_r(&seed) % 64);
        for (size_t i = 0; i < len; i++) {
            /* Mostly the dangerous bytes, some of anything. */
            static const char hot[] = {'\0', '\'', '"', '\\', '\n', '\r', '\032', 'a', '%', '_'};
            int r = rand_r(&seed);
            in[i] = (r & 1) ? hot[(r >> 1) % sizeof(hot)] : (char)(r >> 8);
        }
        buf_t b = BUF_INIT;
        flavor_sql_escape(&b, in, len);
        cr_assert_eq(strlen(buf_str(&b)), b.len, "a NUL byte leaked through");
        size_t n = unescape(buf_str(&b), b.len, back);
        cr_assert_eq(n, len);
        cr_assert(memcmp(in, back, len) == 0, "iteration %d", iter);
        buf_free(&b);
    }
}

Test(flavor_escape, very_long_value)
{
    size_t len = 1u << 20;
    char *in = malloc(len);
    for (size_t i = 0; i < len; i++)
        in[i] = (i % 3 == 0) ? '\'' : (i % 3 == 1) ? '\\' : 'x';
    buf_t b = BUF_INIT;
    flavor_sql_escape(&b, in, len);
    /* Two of every three bytes are doubled. */
    size_t expect = len + (len / 3) * 2 + (len % 3 >= 1) + (len % 3 >= 2);
    cr_assert_eq(b.len, expect);
    cr_assert(strncmp(b.data, "''\\\\x''\\\\x", 10) == 0);
    char *back = malloc(len);
    cr_assert_eq(unescape(b.data, b.len, back), len);
    cr_assert(memcmp(in, back, len) == 0);
    free(back);
    free(in);
    buf_free(&b);
}

/* ---- CHANGE MASTER / CHANGE REPLICATION SOURCE ---------------------------- */

static flavor_source_t base_source(void)
{
    return (flavor_source_t){
        .host = "db2.example.com",
        .port = 3306,
        .user = "repl",
        .password = "s3cret",
        .connect_retry = 1,
        .heartbeat_ms = 1000,
        .tls = FLAVOR_TLS_DEFAULT,
    };
}

static char *change_source(const char *version, const flavor_source_t *src, bool redact)
{
    flavor_t f = must_detect(version, NULL);
    buf_t b = BUF_INIT;
    char err[256] = "";
    cr_assert(flavor_sql_change_source(&f, src, redact, &b, err, sizeof(err)), "%s: %s", version,
              err);
    return buf_steal(&b);
}

typedef struct {
    const char *version;
    const char *sql;
} text_case_t;

#define SOURCE_COMMON                                                                              \
    "SOURCE_HOST = 'db2.example.com', SOURCE_PORT = 3306, SOURCE_USER = 'repl', "                  \
    "SOURCE_PASSWORD = 's3cret', SOURCE_CONNECT_RETRY = 1, SOURCE_HEARTBEAT_PERIOD = 1"
#define MASTER_COMMON                                                                              \
    "MASTER_HOST = 'db2.example.com', MASTER_PORT = 3306, MASTER_USER = 'repl', "                  \
    "MASTER_PASSWORD = 's3cret', MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1"

static const text_case_t change_cases[] = {
    {"5.7.44-log", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_AUTO_POSITION = 1"},
    {"8.0.21", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_AUTO_POSITION = 1, "
               "GET_MASTER_PUBLIC_KEY = 1"},
    {"8.0.22", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_AUTO_POSITION = 1, "
               "GET_MASTER_PUBLIC_KEY = 1"},
    {"8.0.23", "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON ", SOURCE_AUTO_POSITION = 1, "
               "GET_SOURCE_PUBLIC_KEY = 1"},
    {"8.4.6", "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON ", SOURCE_AUTO_POSITION = 1, "
              "GET_SOURCE_PUBLIC_KEY = 1"},
    {"9.7.0", "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON ", SOURCE_AUTO_POSITION = 1, "
              "GET_SOURCE_PUBLIC_KEY = 1"},
    {"10.4.34-MariaDB", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = slave_pos"},
    {"10.11.19-MariaDB", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = slave_pos"},
    {"11.4.2-MariaDB", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = slave_pos"},
};

Test(flavor_change_source, per_flavor)
{
    flavor_source_t src = base_source();
    for (size_t i = 0; i < sizeof(change_cases) / sizeof(change_cases[0]); i++) {
        char *got = change_source(change_cases[i].version, &src, false);
        cr_assert_str_eq(got, change_cases[i].sql, "%s", change_cases[i].version);
        free(got);
    }
}

static const text_case_t tls_on_cases[] = {
    {"5.7.44", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_SSL = 1, "
               "MASTER_SSL_CA = '/etc/failoverd/ca.pem', MASTER_SSL_CERT = '/etc/failoverd/c.pem', "
               "MASTER_SSL_KEY = '/etc/failoverd/k.pem', MASTER_SSL_VERIFY_SERVER_CERT = 1, "
               "MASTER_AUTO_POSITION = 1"},
    {"9.7.0", "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON ", SOURCE_SSL = 1, "
              "SOURCE_SSL_CA = '/etc/failoverd/ca.pem', SOURCE_SSL_CERT = '/etc/failoverd/c.pem', "
              "SOURCE_SSL_KEY = '/etc/failoverd/k.pem', SOURCE_SSL_VERIFY_SERVER_CERT = 1, "
              "SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1"},
    {"10.11.19-MariaDB", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_SSL = 1, "
                         "MASTER_SSL_CA = '/etc/failoverd/ca.pem', "
                         "MASTER_SSL_CERT = '/etc/failoverd/c.pem', "
                         "MASTER_SSL_KEY = '/etc/failoverd/k.pem', "
                         "MASTER_SSL_VERIFY_SERVER_CERT = 1, MASTER_USE_GTID = slave_pos"},
};

Test(flavor_change_source, tls_with_files_and_verification)
{
    flavor_source_t src = base_source();
    src.tls = FLAVOR_TLS_ON;
    src.ssl_ca = "/etc/failoverd/ca.pem";
    src.ssl_cert = "/etc/failoverd/c.pem";
    src.ssl_key = "/etc/failoverd/k.pem";
    src.ssl_verify_server_cert = true;
    for (size_t i = 0; i < sizeof(tls_on_cases) / sizeof(tls_on_cases[0]); i++) {
        char *got = change_source(tls_on_cases[i].version, &src, false);
        cr_assert_str_eq(got, tls_on_cases[i].sql, "%s", tls_on_cases[i].version);
        free(got);
    }
}

Test(flavor_change_source, tls_on_without_files_and_tls_off)
{
    flavor_source_t src = base_source();
    src.tls = FLAVOR_TLS_ON;
    src.ssl_verify_server_cert = false;
    char *got = change_source("9.7.0", &src, false);
    cr_assert_str_eq(got, "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON ", SOURCE_SSL = 1, "
                          "SOURCE_SSL_VERIFY_SERVER_CERT = 0, SOURCE_AUTO_POSITION = 1, "
                          "GET_SOURCE_PUBLIC_KEY = 1");
    free(got);

    src.ssl_ca = "/ca.pem"; /* files are ignored unless TLS is on */
    src.tls = FLAVOR_TLS_OFF;
    got = change_source("9.7.0", &src, false);
    cr_assert_str_eq(got, "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON ", SOURCE_SSL = 0, "
                          "SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1");
    free(got);
    got = change_source("10.11.19-MariaDB", &src, false);
    cr_assert_str_eq(got, "CHANGE MASTER TO " MASTER_COMMON ", MASTER_SSL = 0, "
                          "MASTER_USE_GTID = slave_pos");
    free(got);
}

static const text_case_t rejoin_cases[] = {
    /* MariaDB before 10.10: current_pos counts the old primary's own binlog. */
    {"10.4.34-MariaDB", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = current_pos"},
    {"10.9.8-MariaDB", "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = current_pos"},
    /* 10.10 and later: current_pos is deprecated, demote instead. */
    {"10.11.19-MariaDB",
     "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = slave_pos, MASTER_DEMOTE_TO_SLAVE = 1"},
    {"11.4.2-MariaDB",
     "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = slave_pos, MASTER_DEMOTE_TO_SLAVE = 1"},
    /* MySQL: auto-positioning already uses gtid_executed. */
    {"9.7.0", "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON ", SOURCE_AUTO_POSITION = 1, "
              "GET_SOURCE_PUBLIC_KEY = 1"},
};

Test(flavor_change_source, old_primary_rejoining)
{
    flavor_source_t src = base_source();
    src.rejoin_old_primary = true;
    for (size_t i = 0; i < sizeof(rejoin_cases) / sizeof(rejoin_cases[0]); i++) {
        char *got = change_source(rejoin_cases[i].version, &src, false);
        cr_assert_str_eq(got, rejoin_cases[i].sql, "%s", rejoin_cases[i].version);
        free(got);
    }
}

Test(flavor_change_source, heartbeat_and_numbers)
{
    struct {
        unsigned heartbeat_ms, retry, port;
        const char *fragment;
    } cases[] = {
        {1, 1, 1,
         "SOURCE_PORT = 1, SOURCE_USER = 'repl', SOURCE_PASSWORD = 's3cret', "
         "SOURCE_CONNECT_RETRY = 1, SOURCE_HEARTBEAT_PERIOD = 0.001,"},
        {500, 60, 65535,
         "SOURCE_PORT = 65535, SOURCE_USER = 'repl', SOURCE_PASSWORD = 's3cret', "
         "SOURCE_CONNECT_RETRY = 60, SOURCE_HEARTBEAT_PERIOD = 0.5,"},
        {1250, 86400, 3307, "SOURCE_CONNECT_RETRY = 86400, SOURCE_HEARTBEAT_PERIOD = 1.25,"},
        {30010, 5, 3306, "SOURCE_HEARTBEAT_PERIOD = 30.01,"},
        {4294967000u, 5, 3306, "SOURCE_HEARTBEAT_PERIOD = 4294967,"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flavor_source_t src = base_source();
        src.heartbeat_ms = cases[i].heartbeat_ms;
        src.connect_retry = cases[i].retry;
        src.port = cases[i].port;
        char *got = change_source("8.4.6", &src, false);
        cr_assert(strstr(got, cases[i].fragment), "case %zu: %s", i, got);
        free(got);
    }
}

Test(flavor_change_source, hostile_strings_are_escaped)
{
    flavor_source_t src = base_source();
    src.host = "fe80::1%eth0";
    src.user = "r'e\"p\\l";
    src.password = "p'w\\d\r\032'; DROP USER root; --";
    src.tls = FLAVOR_TLS_ON;
    src.ssl_ca = "/etc/ssl/it's \"ca\".pem";
    char *got = change_source("10.11.19-MariaDB", &src, false);
    cr_assert_str_eq(got, "CHANGE MASTER TO MASTER_HOST = 'fe80::1%eth0', MASTER_PORT = 3306, "
                          "MASTER_USER = 'r''e\"p\\\\l', "
                          "MASTER_PASSWORD = 'p''w\\\\d\r\032''; DROP USER root; --', "
                          "MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1, MASTER_SSL = 1, "
                          "MASTER_SSL_CA = '/etc/ssl/it''s \"ca\".pem', "
                          "MASTER_SSL_VERIFY_SERVER_CERT = 0, MASTER_USE_GTID = slave_pos");
    free(got);
}

Test(flavor_change_source, redacted_password_for_logs)
{
    flavor_source_t src = base_source();
    src.password = "top'secret";
    char *got = change_source("9.7.0", &src, true);
    cr_assert_null(strstr(got, "top"));
    cr_assert(strstr(got, "SOURCE_PASSWORD = '<redacted>', "));
    free(got);
}

typedef struct {
    const char *version;
    const char *what; /* which field is spoiled */
    const char *value;
    unsigned number;
    const char *err;
} reject_case_t;

static char long_host[300], long_user[201], long_password[201], multibyte[200];

static void fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

/* clang-format off */
static const reject_case_t reject_cases[] = {
    {"9.7.0", "host", "", 0, "the replication source host is empty"},
    {"9.7.0", "host", NULL, 0, "the replication source host is empty"},
    {"9.7.0", "host", "db 2", 0, "the replication source host contains a character (0x20 at offset 2)"},
    {"9.7.0", "host", "db2'--", 0, "(0x27 at offset 3)"},
    {"9.7.0", "host", "db2\nevil", 0, "(0x0a at offset 3)"},
    {"9.7.0", "host", "[::1]", 0, "(0x5b at offset 0)"},
    {"10.11.19-MariaDB", "host", "a\\b", 0, "(0x5c at offset 1)"},
    {"9.7.0", "host", long_host, 0, "the replication source host is 256 bytes long; MySQL 9.7 allows 255"},
    {"5.7.44", "host", long_host + 195, 0, "the replication source host is 61 bytes long; MySQL 5.7 allows 60"},
    {"10.11.19-MariaDB", "host", long_host, 0, "256 bytes long; MariaDB 10.11 allows 255"},
    {"9.7.0", "user", "", 0, "the replication user is empty"},
    {"9.7.0", "user", NULL, 0, "the replication user is empty"},
    {"9.7.0", "user", "repl\n", 0, "the replication user contains a control character (0x0a at offset 4)"},
    {"9.7.0", "user", "re\x7fpl", 0, "(0x7f at offset 2)"},
    {"9.7.0", "user", long_user + 167, 0, "the replication user is 33 characters long; MySQL allows 32"},
    {"10.11.19-MariaDB", "user", long_user + 71, 0, "the replication user is 129 bytes long; MariaDB allows 128"},
    {"9.7.0", "password", NULL, 0, "the replication password is missing"},
    {"9.7.0", "password", long_password + 167, 0, "the replication password is 33 characters long; MySQL allows 32"},
    {"10.11.19-MariaDB", "password", long_password + 103, 0, "the replication password is 97 bytes long; MariaDB allows 96"},
    {"10.11.19-MariaDB", "password", multibyte, 0, "the replication password is 98 bytes long; MariaDB allows 96"},
    {"9.7.0", "password", "pass\nword", 0, "the replication password contains a newline (at offset 4)"},
    {"10.11.19-MariaDB", "password", "\n", 0, "contains a newline (at offset 0)"},
    {"9.7.0", "port", NULL, 0, "the replication source port 0 is outside 1 - 65535"},
    {"9.7.0", "port", NULL, 65536, "the replication source port 65536 is outside 1 - 65535"},
    {"9.7.0", "retry", NULL, 0, "the connect retry interval 0 s is outside 1 - 86400 s"},
    {"9.7.0", "retry", NULL, 86401, "the connect retry interval 86401 s is outside 1 - 86400 s"},
    {"9.7.0", "heartbeat", NULL, 0, "the heartbeat period 0 ms is outside 1 ms - 4294967 s"},
    {"9.7.0", "heartbeat", NULL, 4294967001u, "the heartbeat period 4294967001 ms is outside"},
    {"9.7.0", "ca", "", 0, "the TLS CA file name is empty"},
    {"9.7.0", "ca", "/etc/ca.pem\n", 0, "the TLS CA file name contains a control character (0x0a at offset 11)"},
    {"9.7.0", "tls", NULL, 7, "unknown TLS mode 7"},
};
/* clang-format on */

Test(flavor_change_source, rejects_impossible_values)
{
    fill(long_host, 256, 'h');
    fill(long_user, 200, 'u');
    fill(long_password, 200, 'p');
    for (int i = 0; i < 49; i++) /* 49 x "é": 49 characters, 98 bytes */
        memcpy(multibyte + 2 * i, "\xc3\xa9", 3);

    for (size_t i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++) {
        const reject_case_t *c = &reject_cases[i];
        flavor_t f = must_detect(c->version, NULL);
        flavor_source_t src = base_source();
        if (strcmp(c->what, "host") == 0)
            src.host = c->value;
        else if (strcmp(c->what, "user") == 0)
            src.user = c->value;
        else if (strcmp(c->what, "password") == 0)
            src.password = c->value;
        else if (strcmp(c->what, "port") == 0)
            src.port = c->number;
        else if (strcmp(c->what, "retry") == 0)
            src.connect_retry = c->number;
        else if (strcmp(c->what, "heartbeat") == 0)
            src.heartbeat_ms = c->number;
        else if (strcmp(c->what, "ca") == 0) {
            src.tls = FLAVOR_TLS_ON;
            src.ssl_ca = c->value;
        } else if (strcmp(c->what, "tls") == 0)
            src.tls = (flavor_tls_t)c->number;

        buf_t b = BUF_INIT;
        buf_puts(&b, "untouched");
        char err[256] = "";
        cr_assert_not(flavor_sql_change_source(&f, &src, false, &b, err, sizeof(err)),
                      "case %zu accepted: %s", i, buf_str(&b));
        cr_assert(strstr(err, c->err), "case %zu: \"%s\" lacks \"%s\"", i, err, c->err);
        cr_assert_str_eq(buf_str(&b), "untouched", "case %zu wrote to the buffer", i);
        buf_free(&b);
    }
}

Test(flavor_change_source, limits_are_inclusive)
{
    char host[256], user[129], password[97];
    fill(host, 255, 'h');
    flavor_source_t src = base_source();
    src.host = host;
    char *got = change_source("9.7.0", &src, false);
    free(got);

    /* 32 characters of two bytes each: fine for MySQL, which counts characters. */
    char pw[65];
    for (int i = 0; i < 32; i++)
        memcpy(pw + 2 * i, "\xc3\xa9", 3);
    src = base_source();
    src.password = pw;
    got = change_source("9.7.0", &src, false);
    free(got);

    fill(user, 128, 'u');
    fill(password, 96, 'p');
    src = base_source();
    src.user = user;
    src.password = password;
    got = change_source("10.11.19-MariaDB", &src, false);
    free(got);
}

/* ---- Waiting for GTIDs --------------------------------------------------- */

typedef struct {
    const char *version;
    const char *gtid;
    uint64_t timeout_ms;
    const char *sql;
} wait_case_t;

static const wait_case_t wait_cases[] = {
    {"9.7.0", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", 1500,
     "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 1.5)"},
    {"8.4.6", "3e11fa47-71ca-11e1-9e33-c80aa9429562:tag:1-3", 1,
     "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:tag:1-3', 0.001)"},
    {"8.0.22", "", 60000, "SELECT WAIT_FOR_EXECUTED_GTID_SET('', 60)"},
    /* 5.7 gets whole seconds, rounded up so the wait is never shorter. */
    {"5.7.44", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", 1500,
     "SELECT WAIT_FOR_EXECUTED_GTID_SET('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5', 2)"},
    {"5.7.44", "u:1", 1000, "SELECT WAIT_FOR_EXECUTED_GTID_SET('u:1', 1)"},
    {"5.7.44", "u:1", 1, "SELECT WAIT_FOR_EXECUTED_GTID_SET('u:1', 1)"},
    {"10.11.19-MariaDB", "0-1-100,1-2-7", 250, "SELECT MASTER_GTID_WAIT('0-1-100,1-2-7', 0.25)"},
    {"10.4.34-MariaDB", "0-1-100", 86400000, "SELECT MASTER_GTID_WAIT('0-1-100', 86400)"},
    {"11.4.2-MariaDB", "0-1-1'; SELECT 1; --", 1000,
     "SELECT MASTER_GTID_WAIT('0-1-1''; SELECT 1; --', 1)"},
};

Test(flavor_wait, per_flavor)
{
    for (size_t i = 0; i < sizeof(wait_cases) / sizeof(wait_cases[0]); i++) {
        const wait_case_t *c = &wait_cases[i];
        flavor_t f = must_detect(c->version, NULL);
        buf_t b = BUF_INIT;
        char err[256] = "";
        cr_assert(flavor_sql_wait_gtid(&f, c->gtid, c->timeout_ms, &b, err, sizeof(err)), "%s: %s",
                  c->version, err);
        cr_assert_str_eq(buf_str(&b), c->sql, "%s", c->version);
        buf_free(&b);
    }
}

Test(flavor_wait, rejects_unbounded_or_missing)
{
    flavor_t my = must_detect("9.7.0", NULL), maria = must_detect("10.11.19-MariaDB", NULL);
    char err[256];
    buf_t b = BUF_INIT;
    cr_assert_not(flavor_sql_wait_gtid(&my, "u:1", 0, &b, err, sizeof(err)));
    cr_assert_str_eq(err, "the GTID wait timeout 0 ms is outside 1 ms - 86400000 ms");
    cr_assert_not(
        flavor_sql_wait_gtid(&maria, "0-1-1", FLAVOR_MAX_WAIT_MS + 1ull, &b, err, sizeof(err)));
    cr_assert_str_eq(err, "the GTID wait timeout 86400001 ms is outside 1 ms - 86400000 ms");
    cr_assert_not(flavor_sql_wait_gtid(&my, NULL, 1000, &b, err, sizeof(err)));
    cr_assert_str_eq(err, "no GTID set to wait for");
    cr_assert_not(flavor_sql_wait_gtid(&maria, NULL, 1000, &b, err, sizeof(err)));
    cr_assert_str_eq(err, "no GTID position to wait for");
    cr_assert_eq(b.len, 0);
    buf_free(&b);
}

Test(flavor_wait, result_values)
{
    flavor_t my = must_detect("8.0.36", NULL), maria = must_detect("10.11.19-MariaDB", NULL);
    struct {
        const flavor_t *f;
        const char *value;
        flavor_wait_t want;
    } cases[] = {
        {&my, "0", FLAVOR_WAIT_OK},          {&my, "1", FLAVOR_WAIT_TIMEOUT},
        {&my, "-1", FLAVOR_WAIT_ERROR},      {&my, NULL, FLAVOR_WAIT_ERROR},
        {&my, "2", FLAVOR_WAIT_ERROR},       {&maria, "0", FLAVOR_WAIT_OK},
        {&maria, "-1", FLAVOR_WAIT_TIMEOUT}, {&maria, "1", FLAVOR_WAIT_ERROR},
        {&maria, NULL, FLAVOR_WAIT_ERROR},   {&maria, "", FLAVOR_WAIT_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(flavor_gtid_wait_result(cases[i].f, cases[i].value), cases[i].want, "case %zu",
                     i);
}

/* ---- MariaDB 11.8, as the lab's servers report themselves --------------- */

/* MariaDB 11.8 is the current LTS and the third server version the lab runs
 * (Debian sid's 1:11.8.9).  These tests pin what failoverd sends it and reads
 * from it, checked against those servers: 11.8 speaks the 10.11 dialect, and
 * what changed since is additive (three more replica status columns, TLS on
 * replication channels by default) or outside what failoverd says. */
#define MARIADB_11_8_VERSION "11.8.9-MariaDB-4 from Debian-log"
#define MARIADB_11_8_COMMENT "-- Please help get to 10k stars at https://github.com/MariaDB/Server"

/* clang-format off */
/* The header of SHOW ALL REPLICAS STATUS from a MariaDB 11.8 server: 10.11's
 * columns, in the same order, and three more at the end. */
static const char *const MARIADB_11_8_COLUMNS[] = {
    "Connection_name", "Slave_SQL_State", "Slave_IO_State", "Master_Host", "Master_User",
    "Master_Port", "Connect_Retry", "Master_Log_File", "Read_Master_Log_Pos", "Relay_Log_File",
    "Relay_Log_Pos", "Relay_Master_Log_File", "Slave_IO_Running", "Slave_SQL_Running",
    "Replicate_Do_DB", "Replicate_Ignore_DB", "Replicate_Do_Table", "Replicate_Ignore_Table",
    "Replicate_Wild_Do_Table", "Replicate_Wild_Ignore_Table", "Last_Errno", "Last_Error",
    "Skip_Counter", "Exec_Master_Log_Pos", "Relay_Log_Space", "Until_Condition", "Until_Log_File",
    "Until_Log_Pos", "Master_SSL_Allowed", "Master_SSL_CA_File", "Master_SSL_CA_Path",
    "Master_SSL_Cert", "Master_SSL_Cipher", "Master_SSL_Key", "Seconds_Behind_Master",
    "Master_SSL_Verify_Server_Cert", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno",
    "Last_SQL_Error", "Replicate_Ignore_Server_Ids", "Master_Server_Id", "Master_SSL_Crl",
    "Master_SSL_Crlpath", "Using_Gtid", "Gtid_IO_Pos", "Replicate_Do_Domain_Ids",
    "Replicate_Ignore_Domain_Ids", "Parallel_Mode", "SQL_Delay", "SQL_Remaining_Delay",
    "Slave_SQL_Running_State", "Slave_DDL_Groups", "Slave_Non_Transactional_Groups",
    "Slave_Transactional_Groups", "Replicate_Rewrite_DB", "Retried_transactions",
    "Max_relay_log_size", "Executed_log_entries", "Slave_received_heartbeats",
    "Slave_heartbeat_period", "Gtid_Slave_Pos", "Master_last_event_time",
    "Slave_last_event_time", "Master_Slave_time_diff", NULL};
/* clang-format on */

Test(flavor_mariadb_11_8, detected_from_what_the_server_reports)
{
    flavor_t f = must_detect(MARIADB_11_8_VERSION, MARIADB_11_8_COMMENT);
    cr_assert_eq(f.family, FAMILY_MARIADB);
    cr_assert_eq(f.gen, FLAVOR_GEN_MARIADB_11);
    cr_assert_str_eq(flavor_gen_str(f.gen), "MariaDB 11");
    cr_assert(f.major == 11 && f.minor == 8 && f.patch == 9, "%u.%u.%u", f.major, f.minor, f.patch);
    cr_assert_str_eq(f.version, MARIADB_11_8_VERSION);
    /* The REPLICA words, MASTER_DEMOTE_TO_SLAVE and fractional waits as in
     * 10.11; still no super_read_only and the legacy semi-sync names. */
    cr_assert(f.replica_words && f.demote_to_slave && f.fractional_wait);
    cr_assert(!f.source_words && !f.super_read_only && !f.get_public_key && !f.log_replica_updates);
    cr_assert(f.semisync_source_legacy && f.semisync_replica_legacy);
    /* The handshake form of the same server. */
    flavor_t h = must_detect("5.5.5-11.8.9-MariaDB-4 from Debian-log", NULL);
    cr_assert(h.gen == FLAVOR_GEN_MARIADB_11 && h.minor == 8 && h.patch == 9);
}

Test(flavor_mariadb_11_8, speaks_the_10_11_dialect)
{
    flavor_t f = must_detect(MARIADB_11_8_VERSION, MARIADB_11_8_COMMENT);
    flavor_t old = must_detect("10.11.19-MariaDB-0+deb12u1", "Debian 12");
    cr_assert_str_eq(flavor_sql_replica_status(&f), "SHOW ALL REPLICAS STATUS");
    cr_assert_str_eq(flavor_sql_start_replica(&f), "START REPLICA");
    cr_assert_str_eq(flavor_sql_stop_replica(&f), "STOP REPLICA");
    cr_assert_str_eq(flavor_sql_stop_io_thread(&f), "STOP REPLICA IO_THREAD");
    cr_assert_str_eq(flavor_sql_start_sql_thread(&f), "START REPLICA SQL_THREAD");
    cr_assert_str_eq(flavor_sql_reset_replica_all(&f), "RESET REPLICA ALL");
    cr_assert_str_eq(flavor_sql_gtid_executed(&f), "SELECT @@GLOBAL.gtid_binlog_pos");
    cr_assert_str_eq(flavor_sql_set_read_only(&f, FLAVOR_WRITABLE), "SET GLOBAL read_only = OFF");
    cr_assert_str_eq(flavor_sql_set_read_only(&f, FLAVOR_SUPER_READ_ONLY),
                     "SET GLOBAL read_only = ON");
    /* 11.8 still names semi-sync master/slave (it has no source/replica
     * variables), and they are built in: the node state reads them directly. */
    cr_assert_str_eq(flavor_sql_set_semisync(&f, FLAVOR_SEMISYNC_SOURCE, true),
                     "SET GLOBAL rpl_semi_sync_master_enabled = ON");
    cr_assert_str_eq(flavor_sql_set_semisync(&f, FLAVOR_SEMISYNC_REPLICA, false),
                     "SET GLOBAL rpl_semi_sync_slave_enabled = OFF");
    cr_assert_str_eq(flavor_sql_node_state(&f), flavor_sql_node_state(&old));
    cr_assert_eq(flavor_replica_columns(&f), flavor_replica_columns(&old));
}

Test(flavor_mariadb_11_8, column_names_exist_in_its_header)
{
    /* Lacking, as on 10.11: the UUID, the error timestamp, the two GTID sets. */
    assert_header_has(MARIADB_11_8_VERSION, MARIADB_11_8_COLUMNS, 4);
}

Test(flavor_mariadb_11_8, points_replicas_and_rejoins_old_primaries)
{
    flavor_source_t src = base_source();
    char *got = change_source(MARIADB_11_8_VERSION, &src, false);
    cr_assert_str_eq(got, "CHANGE MASTER TO " MASTER_COMMON ", MASTER_USE_GTID = slave_pos");
    free(got);
    /* The replica keeps its TLS default when nothing is said: on 11.8 that is
     * TLS with the certificate checked, which a password-authenticated
     * replication account satisfies without a CA.  Off must be said. */
    src.tls = FLAVOR_TLS_OFF;
    got = change_source(MARIADB_11_8_VERSION, &src, false);
    cr_assert_str_eq(got, "CHANGE MASTER TO " MASTER_COMMON
                          ", MASTER_SSL = 0, MASTER_USE_GTID = slave_pos");
    free(got);
    src = base_source();
    src.rejoin_old_primary = true;
    got = change_source(MARIADB_11_8_VERSION, &src, false);
    cr_assert_str_eq(got, "CHANGE MASTER TO " MASTER_COMMON
                          ", MASTER_USE_GTID = slave_pos, MASTER_DEMOTE_TO_SLAVE = 1");
    free(got);
}

Test(flavor_mariadb_11_8, waits_with_master_gtid_wait)
{
    flavor_t f = must_detect(MARIADB_11_8_VERSION, MARIADB_11_8_COMMENT);
    buf_t b = BUF_INIT;
    char err[256] = "";
    cr_assert(flavor_sql_wait_gtid(&f, "0-1-11", 2500, &b, err, sizeof(err)), "%s", err);
    cr_assert_str_eq(buf_str(&b), "SELECT MASTER_GTID_WAIT('0-1-11', 2.5)");
    buf_free(&b);
    cr_assert_eq(flavor_gtid_wait_result(&f, "0"), FLAVOR_WAIT_OK);
    cr_assert_eq(flavor_gtid_wait_result(&f, "-1"), FLAVOR_WAIT_TIMEOUT);
    cr_assert_eq(flavor_gtid_wait_result(&f, NULL), FLAVOR_WAIT_ERROR);
}

/* A failover stops the IO threads of replicas whose primary is gone; a
 * MariaDB replica would first try, for rpl_semi_sync_slave_kill_conn_timeout,
 * to reach that primary (5 s on 11.8 against a hung one).  The stop lowers
 * the timeout to 1 s and restores the server's value after; on 10.x the IO
 * thread is killed first, and the stop comes once it waits in that connect,
 * which the stop's signal then ends. */
#define KILL_CONN_1S                                                                               \
    "SET @failoverd_kill_conn_timeout = @@GLOBAL.rpl_semi_sync_slave_kill_conn_timeout, "          \
    "GLOBAL rpl_semi_sync_slave_kill_conn_timeout = 1; "
#define KILL_CONN_BACK                                                                             \
    "; SET GLOBAL rpl_semi_sync_slave_kill_conn_timeout = @failoverd_kill_conn_timeout"
Test(flavor_sql, stop_io_thread_of_a_lost_source)
{
    const char *kill_first =
        "BEGIN NOT ATOMIC DECLARE failoverd_io BIGINT UNSIGNED; DECLARE failoverd_n INT DEFAULT 0; "
        "DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET failoverd_io = NULL; "
        "SET failoverd_io = (SELECT IF(COUNT(*) = 1, MIN(ID), NULL) FROM "
        "information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO' AND (SELECT VARIABLE_VALUE FROM "
        "information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING') = 'ON'); "
        "IF failoverd_io IS NOT NULL THEN KILL failoverd_io; END IF; "
        "WHILE failoverd_io IS NOT NULL AND failoverd_n < 10 AND EXISTS (SELECT 1 FROM "
        "information_schema.PROCESSLIST WHERE ID = failoverd_io) DO DO SLEEP(0.005); "
        "SET failoverd_n = failoverd_n + 1; END WHILE; END; ";
    struct {
        const char *version;
        const char *lower; /* the timeout lowered to 1 s first */
        bool kill_first;   /* then the IO thread killed */
        const char *stop;
    } cases[] = {
        {"9.7.0", "", false, "STOP REPLICA IO_THREAD"},
        {"8.0.21", "", false, "STOP SLAVE IO_THREAD"},
        {"10.3.2-MariaDB", "", false, "STOP SLAVE IO_THREAD"}, /* before the variable */
        {"10.4.34-MariaDB", KILL_CONN_1S, true, "STOP SLAVE IO_THREAD" KILL_CONN_BACK},
        {"10.11.19-MariaDB", KILL_CONN_1S, true, "STOP REPLICA IO_THREAD" KILL_CONN_BACK},
        /* 11.x: the stop sends no signal, the kill would not help */
        {"11.4.5-MariaDB", KILL_CONN_1S, false, "STOP REPLICA IO_THREAD" KILL_CONN_BACK},
        {MARIADB_11_8_VERSION, KILL_CONN_1S, false, "STOP REPLICA IO_THREAD" KILL_CONN_BACK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        flavor_t f = must_detect(cases[i].version, NULL);
        buf_t want = BUF_INIT;
        buf_printf(&want, "%s%s%s", cases[i].lower, cases[i].kill_first ? kill_first : "",
                   cases[i].stop);
        cr_assert_str_eq(flavor_sql_stop_io_thread_lost_source(&f), buf_str(&want), "%s",
                         cases[i].version);
        buf_free(&want);
    }
}
#undef KILL_CONN_1S
#undef KILL_CONN_BACK

Test(flavor_parse, seconds_as_the_servers_show_them)
{
    static const struct {
        const char *text;
        bool ok;
        uint64_t ms;
    } rows[] = {
        {"0.250", true, 250}, {"1.000", true, 1000}, {"30", true, 30000}, {"0", true, 0},
        {"0.5", true, 500},   {"2.25", true, 2250},  {"", false, 0},       {".5", false, 0},
        {"1.", false, 0},     {"1.0001", false, 0},  {"-1", false, 0},     {"1s", false, 0},
        {"1 ", false, 0},     {"9999999999999", false, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t ms = 7;
        bool ok = flavor_parse_seconds_ms(rows[i].text, &ms);
        cr_expect_eq(ok, rows[i].ok, "\"%s\": %s", rows[i].text, ok ? "parsed" : "refused");
        cr_expect_eq(ms, rows[i].ok ? rows[i].ms : 7, "\"%s\": %llu ms", rows[i].text,
                     (unsigned long long)ms);
    }
}

/* ---- a replica's channel under each ssl_mode (tls_channel) ----------------- */

typedef struct {
    tls_mode_t mode;
    const char *version;
    const char *tls_sql; /* what follows the common options; "" for nothing */
} channel_case_t;

static const channel_case_t channel_cases[] = {
    {TLS_MODE_DISABLED, "10.11.6-MariaDB", ""},
    {TLS_MODE_PREFERRED, "10.11.6-MariaDB", ""},
    {TLS_MODE_PREFERRED, "9.7.0", ""},
    {TLS_MODE_REQUIRED, "10.11.6-MariaDB", ", MASTER_SSL = 1, MASTER_SSL_VERIFY_SERVER_CERT = 0"},
    {TLS_MODE_VERIFY_CA, "10.11.6-MariaDB",
     ", MASTER_SSL = 1, MASTER_SSL_CA = '/etc/ssl/ca.pem', MASTER_SSL_CAPATH = '/etc/ssl/cas', "
     "MASTER_SSL_VERIFY_SERVER_CERT = 0"},
    {TLS_MODE_VERIFY_IDENTITY, "10.11.6-MariaDB",
     ", MASTER_SSL = 1, MASTER_SSL_CA = '/etc/ssl/ca.pem', MASTER_SSL_CAPATH = '/etc/ssl/cas', "
     "MASTER_SSL_VERIFY_SERVER_CERT = 1"},
    {TLS_MODE_VERIFY_IDENTITY, "9.7.0",
     ", SOURCE_SSL = 1, SOURCE_SSL_CA = '/etc/ssl/ca.pem', SOURCE_SSL_CAPATH = '/etc/ssl/cas', "
     "SOURCE_SSL_VERIFY_SERVER_CERT = 1"},
};

Test(flavor_change_source, channel_tls_follows_the_replicas_ssl_mode)
{
    /* The client certificate is failoverd's own: never a replica's. */
    tls_cfg_t t = {.ca = "/etc/ssl/ca.pem", .capath = "/etc/ssl/cas", .cert = "/c.pem",
                   .key = "/k.pem"};
    for (size_t i = 0; i < sizeof channel_cases / sizeof channel_cases[0]; i++) {
        const channel_case_t *c = &channel_cases[i];
        t.mode = c->mode;
        flavor_source_t src = base_source();
        tls_channel(&t, &src);
        char *got = change_source(c->version, &src, false);
        bool mysql = c->version[0] == '9';
        buf_t want = BUF_INIT;
        buf_printf(&want, "%s%s%s%s",
                   mysql ? "CHANGE REPLICATION SOURCE TO " SOURCE_COMMON
                         : "CHANGE MASTER TO " MASTER_COMMON,
                   c->tls_sql,
                   mysql ? ", SOURCE_AUTO_POSITION = 1, GET_SOURCE_PUBLIC_KEY = 1"
                         : ", MASTER_USE_GTID = slave_pos",
                   "");
        cr_expect_str_eq(got, buf_str(&want), "%s %s", tls_mode_str(c->mode), c->version);
        free(got);
        buf_free(&want);
    }
    flavor_source_t src = base_source();
    tls_channel(NULL, &src);
    cr_expect_eq(src.tls, FLAVOR_TLS_DEFAULT, "no settings: the channel keeps its own");
}
