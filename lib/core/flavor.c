/* flavor.c - see flavor.h. */
#include "buf.h"
#include "flavor.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>


/* ---- Detection ---------------------------------------------------------- */

static bool contains_ci(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

/* Reads an unsigned decimal of at most 5 digits at *p. */
static bool read_number(const char **p, unsigned *out)
{
    const char *s = *p;
    unsigned v = 0;
    int n = 0;
    while (isdigit((unsigned char)*s) && n < 6) {
        v = v * 10 + (unsigned)(*s - '0');
        s++;
        n++;
    }
    if (n == 0 || n > 5)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* Parses "X.Y.Z" at the start of s; what follows the patch number must not be
 * another digit or dot ("8.0.22", "5.7.44-log", "10.11.19-MariaDB-..."). */
static bool parse_triplet(const char *s, unsigned *maj, unsigned *min, unsigned *pat)
{
    const char *p = s;
    if (!read_number(&p, maj) || *p++ != '.' || !read_number(&p, min) || *p++ != '.' ||
        !read_number(&p, pat))
        return false;
    return *p != '.' && !isdigit((unsigned char)*p);
}

bool flavor_at_least(const flavor_t *f, unsigned major, unsigned minor, unsigned patch)
{
    if (f->major != major)
        return f->major > major;
    if (f->minor != minor)
        return f->minor > minor;
    return f->patch >= patch;
}

/* Derives the dialect of a MySQL server.  Rules:
 *  - below 5.7.8 there is no super_read_only (and 5.6 has no
 *    WAIT_FOR_EXECUTED_GTID_SET): refused;
 *  - 6.x and 7.x never became server releases; 8.0.0 - 8.0.10 were development
 *    milestones: refused;
 *  - 10 and above are future releases whose statements nobody has checked:
 *    refused rather than guessed.
 * The REPLICA words for START/STOP/RESET/SHOW arrived in 8.0.22, CHANGE
 * REPLICATION SOURCE and GET_SOURCE_PUBLIC_KEY in 8.0.23, the renamed
 * variables (log_replica_updates) and semi-sync plugins in 8.0.26. */
static bool detect_mysql(flavor_t *f, char *err, size_t errlen)
{
    if (f->major == 5 && f->minor == 7 && f->patch >= 8)
        f->gen = FLAVOR_GEN_MYSQL_57;
    else if (f->major == 8 && f->minor == 0 && f->patch >= 11)
        f->gen = flavor_at_least(f, 8, 0, 23) ? FLAVOR_GEN_MYSQL_80 : FLAVOR_GEN_MYSQL_80_LEGACY;
    else if (f->major == 8 && f->minor >= 1 && f->minor <= 3)
        f->gen = FLAVOR_GEN_MYSQL_80;
    else if (f->major == 8 && f->minor == 4)
        f->gen = FLAVOR_GEN_MYSQL_84;
    else if (f->major == 9)
        f->gen = FLAVOR_GEN_MYSQL_9;
    else if (!flavor_at_least(f, 5, 7, 8))
        return fail_msg(err, errlen,
                    "MySQL %u.%u.%u is too old: failoverd supports MySQL 5.7.8 and newer "
                    "(it needs super_read_only and WAIT_FOR_EXECUTED_GTID_SET)",
                    f->major, f->minor, f->patch);
    else if (f->major >= 10)
        return fail_msg(err, errlen,
                    "MySQL %u.%u.%u is newer than this failoverd knows: it supports MySQL 5.7, "
                    "8.0, 8.1 - 8.4 and 9.x",
                    f->major, f->minor, f->patch);
    else
        return fail_msg(err, errlen,
                    "MySQL %u.%u.%u is not a release failoverd knows: it supports MySQL 5.7.8+, "
                    "8.0.11+, 8.1 - 8.4 and 9.x",
                    f->major, f->minor, f->patch);

    f->replica_words = flavor_at_least(f, 8, 0, 22);
    f->source_words = flavor_at_least(f, 8, 0, 23);
    f->super_read_only = true;
    f->get_public_key = f->major >= 8;
    f->log_replica_updates = flavor_at_least(f, 8, 0, 26);
    f->fractional_wait = f->major >= 8;
    f->demote_to_slave = false;
    f->semisync_source_legacy = !flavor_at_least(f, 8, 0, 26);
    f->semisync_replica_legacy = f->semisync_source_legacy;
    /* Host names grew from 60 to 255 characters in 8.0.17; user names are 32
     * characters, replication passwords 32 characters. */
    f->max_host_len = flavor_at_least(f, 8, 0, 17) ? 255 : 60;
    f->max_user_len = 32;
    f->max_password_len = 32;
    return true;
}

/* Derives the dialect of a MariaDB server.  Rules:
 *  - below 10.3 semi-sync is a plugin and the release series are long out of
 *    support: refused;
 *  - 12 and above: refused until someone checks their statements.
 * The REPLICA synonyms (START/STOP/RESET REPLICA, SHOW ALL REPLICAS STATUS)
 * arrived in 10.5.1 and MASTER_DEMOTE_TO_SLAVE in 10.10.  11.x speaks 10.11's
 * dialect: the lab runs 11.8, whose replica status only gained columns at the
 * end and whose semi-sync variables keep their master/slave names.  What did
 * change: from 11.4 a replica checks its source's TLS certificate by default
 * (failoverd leaves that alone, docs/configuration.md, Secrets), and stopping
 * a semi-sync replica of a hung source waits the whole
 * rpl_semi_sync_slave_kill_conn_timeout (see
 * flavor_sql_stop_io_thread_lost_source). */
static bool detect_mariadb(flavor_t *f, char *err, size_t errlen)
{
    if (f->major == 10 && f->minor >= 3)
        f->gen = FLAVOR_GEN_MARIADB_10;
    else if (f->major == 11)
        f->gen = FLAVOR_GEN_MARIADB_11;
    else if (f->major < 10 || (f->major == 10 && f->minor < 3))
        return fail_msg(err, errlen,
                    "MariaDB %u.%u.%u is too old: failoverd supports MariaDB 10.3 to 11.x",
                    f->major, f->minor, f->patch);
    else
        return fail_msg(err, errlen,
                    "MariaDB %u.%u.%u is newer than this failoverd knows: it supports MariaDB "
                    "10.3 to 11.x",
                    f->major, f->minor, f->patch);

    f->replica_words = flavor_at_least(f, 10, 5, 1);
    f->source_words = false;
    f->super_read_only = false;
    f->get_public_key = false;
    f->log_replica_updates = false;
    f->fractional_wait = true;
    f->demote_to_slave = flavor_at_least(f, 10, 10, 0);
    f->semisync_source_legacy = true;
    f->semisync_replica_legacy = true;
    /* Limits of CHANGE MASTER TO (error 1470 beyond them), in bytes. */
    f->max_host_len = 255;
    f->max_user_len = 128;
    f->max_password_len = 96;
    return true;
}

bool flavor_detect(flavor_t *f, const char *version, const char *version_comment, char *err,
                   size_t errlen)
{
    memset(f, 0, sizeof(*f));
    if (!version || !*version)
        return fail_msg(err, errlen, "the server reported an empty version");
    snprintf(f->version, sizeof(f->version), "%s", version);

    /* MariaDB names itself in @@version ("10.11.19-MariaDB-0+deb12u1-log");
     * the comment is a second chance for builds that strip the suffix.  MySQL
     * and its derivatives (Percona Server) never do. */
    bool mariadb = contains_ci(version, "mariadb") || contains_ci(version_comment, "mariadb");
    const char *v = version;
    /* The handshake of MariaDB 10.x and 11.x prefixes "5.5.5-" for old
     * clients; @@version doesn't, but accept both. */
    if (mariadb && strncmp(v, "5.5.5-", 6) == 0)
        v += 6;
    if (!parse_triplet(v, &f->major, &f->minor, &f->patch))
        return fail_msg(err, errlen, "cannot read a version number (major.minor.patch) from \"%s\"",
                    f->version);

    f->family = mariadb ? FAMILY_MARIADB : FAMILY_MYSQL;
    return mariadb ? detect_mariadb(f, err, errlen) : detect_mysql(f, err, errlen);
}

const char *flavor_family_str(server_family_t fam)
{
    return fam == FAMILY_MARIADB ? "MariaDB" : "MySQL";
}

const char *flavor_gen_str(flavor_gen_t gen)
{
    switch (gen) {
    case FLAVOR_GEN_MYSQL_57: return "MySQL 5.7";
    case FLAVOR_GEN_MYSQL_80_LEGACY: return "MySQL 8.0 (before 8.0.23)";
    case FLAVOR_GEN_MYSQL_80: return "MySQL 8.0.23+";
    case FLAVOR_GEN_MYSQL_84: return "MySQL 8.4";
    case FLAVOR_GEN_MYSQL_9: return "MySQL 9";
    case FLAVOR_GEN_MARIADB_10: return "MariaDB 10";
    case FLAVOR_GEN_MARIADB_11: return "MariaDB 11";
    }
    return "unknown";
}

static const char SEMISYNC_SOURCE_NEW[] = "rpl_semi_sync_source_enabled";
static const char SEMISYNC_SOURCE_OLD[] = "rpl_semi_sync_master_enabled";
static const char SEMISYNC_REPLICA_NEW[] = "rpl_semi_sync_replica_enabled";
static const char SEMISYNC_REPLICA_OLD[] = "rpl_semi_sync_slave_enabled";

void flavor_note_semisync_variables(flavor_t *f, const char *source_var, const char *replica_var)
{
    if (source_var && strcasecmp(source_var, SEMISYNC_SOURCE_NEW) == 0)
        f->semisync_source_legacy = false;
    else if (source_var && strcasecmp(source_var, SEMISYNC_SOURCE_OLD) == 0)
        f->semisync_source_legacy = true;
    if (replica_var && strcasecmp(replica_var, SEMISYNC_REPLICA_NEW) == 0)
        f->semisync_replica_legacy = false;
    else if (replica_var && strcasecmp(replica_var, SEMISYNC_REPLICA_OLD) == 0)
        f->semisync_replica_legacy = true;
}

/* ---- String literals ---------------------------------------------------- */

void flavor_sql_escape(buf_t *out, const char *s, size_t len)
{
    /* A quote is doubled, never backslash-escaped: '' is a quote inside a
     * literal whether or not sql_mode has NO_BACKSLASH_ESCAPES, so no value can
     * end the literal early in either mode.  A backslash is doubled: one
     * backslash without NO_BACKSLASH_ESCAPES (what every session sets), two in
     * that mode: a wrong value there, but never a way out of the literal.  NUL
     * cannot be sent raw.  Every other byte (newlines, Ctrl-Z, '"') is the same
     * raw inside a quoted literal in both modes. */
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '\0': rep = "\\0"; break;
        case '\\': rep = "\\\\"; break;
        case '\'': rep = "''"; break;
        default: continue;
        }
        buf_append(out, s + start, i - start);
        buf_puts(out, rep);
        start = i + 1;
    }
    buf_append(out, s + start, len - start);
}

void flavor_sql_quote(buf_t *out, const char *s, size_t len)
{
    buf_putc(out, '\'');
    flavor_sql_escape(out, s, len);
    buf_putc(out, '\'');
}

static void quote_str(buf_t *out, const char *s)
{
    flavor_sql_quote(out, s, strlen(s));
}

/* ---- Fixed statements --------------------------------------------------- */

static bool is_mysql(const flavor_t *f)
{
    return f->family != FAMILY_MARIADB;
}

const char *flavor_sql_replica_status(const flavor_t *f)
{
    if (is_mysql(f))
        return f->replica_words ? "SHOW REPLICA STATUS" : "SHOW SLAVE STATUS";
    return f->replica_words ? "SHOW ALL REPLICAS STATUS" : "SHOW ALL SLAVES STATUS";
}

const char *flavor_sql_start_replica(const flavor_t *f)
{
    return f->replica_words ? "START REPLICA" : "START SLAVE";
}

const char *flavor_sql_stop_replica(const flavor_t *f)
{
    return f->replica_words ? "STOP REPLICA" : "STOP SLAVE";
}

const char *flavor_sql_start_io_thread(const flavor_t *f)
{
    return f->replica_words ? "START REPLICA IO_THREAD" : "START SLAVE IO_THREAD";
}

const char *flavor_sql_stop_io_thread(const flavor_t *f)
{
    return f->replica_words ? "STOP REPLICA IO_THREAD" : "STOP SLAVE IO_THREAD";
}

/* See flavor.h.  KILL_IO_FIRST is one compound statement: it finds the IO
 * thread (the only Slave_IO thread, and only while the default connection is
 * connected: Slave_running), KILLs it, and waits up to 10 x 5 ms while it is
 * still there, so that the STOP after it comes once the thread sits in its
 * connect to the lost source.  Any error in it (the thread gone already, a
 * KILL denied, the processlist unreadable) ends the attempt, never the step:
 * the STOP after it stops the thread either way. */
const char *flavor_sql_stop_io_thread_lost_source(const flavor_t *f)
{
    /* 1 s, not 0: 0 is no timeout at all for the server's connect. */
#define KILL_CONN_SAVE                                                                             \
    "SET @failoverd_kill_conn_timeout = @@GLOBAL.rpl_semi_sync_slave_kill_conn_timeout, "          \
    "GLOBAL rpl_semi_sync_slave_kill_conn_timeout = 1; "
#define KILL_CONN_RESTORE                                                                          \
    "; SET GLOBAL rpl_semi_sync_slave_kill_conn_timeout = @failoverd_kill_conn_timeout"
#define KILL_IO_FIRST                                                                              \
    "BEGIN NOT ATOMIC DECLARE failoverd_io BIGINT UNSIGNED; DECLARE failoverd_n INT DEFAULT 0; "   \
    "DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET failoverd_io = NULL; "                          \
    "SET failoverd_io = (SELECT IF(COUNT(*) = 1, MIN(ID), NULL) FROM "                             \
    "information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO' AND (SELECT VARIABLE_VALUE FROM "   \
    "information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING') = 'ON'); "            \
    "IF failoverd_io IS NOT NULL THEN KILL failoverd_io; END IF; "                                 \
    "WHILE failoverd_io IS NOT NULL AND failoverd_n < 10 AND EXISTS (SELECT 1 FROM "               \
    "information_schema.PROCESSLIST WHERE ID = failoverd_io) DO DO SLEEP(0.005); "                 \
    "SET failoverd_n = failoverd_n + 1; END WHILE; END; "
    if (is_mysql(f) || !flavor_at_least(f, 10, 3, 3))
        return flavor_sql_stop_io_thread(f);
    if (f->major == 10)
        return f->replica_words
                   ? KILL_CONN_SAVE KILL_IO_FIRST "STOP REPLICA IO_THREAD" KILL_CONN_RESTORE
                   : KILL_CONN_SAVE KILL_IO_FIRST "STOP SLAVE IO_THREAD" KILL_CONN_RESTORE;
    return f->replica_words ? KILL_CONN_SAVE "STOP REPLICA IO_THREAD" KILL_CONN_RESTORE
                            : KILL_CONN_SAVE "STOP SLAVE IO_THREAD" KILL_CONN_RESTORE;
#undef KILL_CONN_SAVE
#undef KILL_CONN_RESTORE
#undef KILL_IO_FIRST
}

/* See flavor.h. The coordinator of MySQL's multi-threaded applier is in the
 * middle of a group while its PROCESSING_TRANSACTION is set (8.0.2 and
 * later); a killed coordinator takes back the group's part applied so far.
 * DO's scalar subquery polls, at most 100 times 10 ms, until the killed
 * thread is gone: a STOP REPLICA that reached it first would wait anyway. */
const char *flavor_sql_end_applier_group(const flavor_t *f)
{
    if (!is_mysql(f) || !flavor_at_least(f, 8, 0, 2))
        return NULL;
    return "SET @failoverd_applier = (SELECT t.PROCESSLIST_ID FROM "
           "performance_schema.replication_applier_status_by_coordinator c JOIN "
           "performance_schema.threads t USING (THREAD_ID) WHERE c.CHANNEL_NAME = '' AND "
           "c.SERVICE_STATE = 'ON' AND c.PROCESSING_TRANSACTION <> ''); "
           "SET @failoverd_kill = IF(@failoverd_applier IS NULL, 'DO 0', "
           "CONCAT('KILL ', @failoverd_applier)); "
           "PREPARE failoverd_kill FROM @failoverd_kill; EXECUTE failoverd_kill; "
           "DEALLOCATE PREPARE failoverd_kill; "
           "DO (SELECT COUNT(*) FROM (WITH RECURSIVE w(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
           "FROM w WHERE n < 100) SELECT n FROM w) w WHERE @failoverd_applier IS NOT NULL AND "
           "(SELECT COUNT(*) FROM performance_schema.threads WHERE PROCESSLIST_ID = "
           "@failoverd_applier AND w.n > 0) > 0 AND SLEEP(0.01) = 0)";
}

const char *flavor_sql_start_sql_thread(const flavor_t *f)
{
    return f->replica_words ? "START REPLICA SQL_THREAD" : "START SLAVE SQL_THREAD";
}

const char *flavor_sql_reset_replica_all(const flavor_t *f)
{
    return f->replica_words ? "RESET REPLICA ALL" : "RESET SLAVE ALL";
}

const char *flavor_sql_gtid_executed(const flavor_t *f)
{
    return is_mysql(f) ? "SELECT @@GLOBAL.gtid_executed" : "SELECT @@GLOBAL.gtid_binlog_pos";
}

/* Both variables are named in every MySQL statement so that the result does
 * not depend on the state before: super_read_only = ON implies read_only = ON
 * and read_only = OFF implies super_read_only = OFF, hence the order. */
const char *flavor_sql_set_read_only(const flavor_t *f, flavor_ro_t mode)
{
    if (!f->super_read_only)
        return mode == FLAVOR_WRITABLE ? "SET GLOBAL read_only = OFF" : "SET GLOBAL read_only = ON";
    switch (mode) {
    case FLAVOR_WRITABLE: return "SET GLOBAL super_read_only = OFF, GLOBAL read_only = OFF";
    case FLAVOR_READ_ONLY: return "SET GLOBAL super_read_only = OFF, GLOBAL read_only = ON";
    case FLAVOR_SUPER_READ_ONLY: return "SET GLOBAL read_only = ON, GLOBAL super_read_only = ON";
    }
    return "SET GLOBAL read_only = ON";
}

const char *flavor_sql_set_semisync(const flavor_t *f, flavor_semisync_side_t side, bool on)
{
    if (side == FLAVOR_SEMISYNC_SOURCE) {
        if (f->semisync_source_legacy)
            return on ? "SET GLOBAL rpl_semi_sync_master_enabled = ON"
                      : "SET GLOBAL rpl_semi_sync_master_enabled = OFF";
        return on ? "SET GLOBAL rpl_semi_sync_source_enabled = ON"
                  : "SET GLOBAL rpl_semi_sync_source_enabled = OFF";
    }
    if (f->semisync_replica_legacy)
        return on ? "SET GLOBAL rpl_semi_sync_slave_enabled = ON"
                  : "SET GLOBAL rpl_semi_sync_slave_enabled = OFF";
    return on ? "SET GLOBAL rpl_semi_sync_replica_enabled = ON"
              : "SET GLOBAL rpl_semi_sync_replica_enabled = OFF";
}

/* ---- Statements with arguments ------------------------------------------ */

/* Characters of a UTF-8 string (continuation bytes don't count). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Length as the server counts it for a CHANGE MASTER field. */
static size_t server_len(const flavor_t *f, const char *s)
{
    return is_mysql(f) ? utf8_chars(s) : strlen(s);
}

/* A host is a DNS name or an IPv4/IPv6 address: letters, digits, '.', '-',
 * '_' (seen in container names), ':' (IPv6) and '%' (IPv6 zone). */
static bool check_host(const flavor_t *f, const char *host, char *err, size_t errlen)
{
    if (!host || !*host)
        return fail_msg(err, errlen, "the replication source host is empty");
    size_t len = strlen(host);
    if (len > f->max_host_len)
        return fail_msg(err, errlen,
                    "the replication source host is %zu bytes long; %s %u.%u allows %zu", len,
                    flavor_family_str(f->family), f->major, f->minor, f->max_host_len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && !strchr(".-_:%", c))
            return fail_msg(err, errlen,
                        "the replication source host contains a character (0x%02x at offset %zu) "
                        "that no host name or address has",
                        c, i);
    }
    return true;
}

/* A user name may hold quotes or backslashes (escaped like everything else),
 * but no control characters: those are typos or attacks, never accounts. */
static bool check_user(const flavor_t *f, const char *user, char *err, size_t errlen)
{
    if (!user || !*user)
        return fail_msg(err, errlen, "the replication user is empty");
    for (size_t i = 0; user[i]; i++) {
        unsigned char c = (unsigned char)user[i];
        if (c < 0x20 || c == 0x7f)
            return fail_msg(err, errlen,
                        "the replication user contains a control character (0x%02x at offset %zu)",
                        c, i);
    }
    size_t len = server_len(f, user);
    if (len > f->max_user_len)
        return fail_msg(err, errlen, "the replication user is %zu %s long; %s allows %zu", len,
                    is_mysql(f) ? "characters" : "bytes", flavor_family_str(f->family),
                    f->max_user_len);
    return true;
}

/* MySQL refuses a newline in any CHANGE REPLICATION SOURCE value ("contains
 * not-allowed LF value"), and MariaDB keeps these values in the line-based
 * master.info file, where a newline would not survive a restart. */
static bool check_password(const flavor_t *f, const char *password, char *err, size_t errlen)
{
    if (!password)
        return fail_msg(err, errlen, "the replication password is missing (use \"\" for none)");
    const char *lf = strchr(password, '\n');
    if (lf)
        return fail_msg(err, errlen,
                    "the replication password contains a newline (at offset %zu), which a "
                    "replica cannot store",
                    (size_t)(lf - password));
    size_t len = server_len(f, password);
    if (len > f->max_password_len)
        return fail_msg(err, errlen, "the replication password is %zu %s long; %s allows %zu", len,
                    is_mysql(f) ? "characters" : "bytes", flavor_family_str(f->family),
                    f->max_password_len);
    return true;
}

static bool check_path(const char *what, const char *path, char *err, size_t errlen)
{
    if (!path)
        return true;
    if (!*path)
        return fail_msg(err, errlen, "the TLS %s file name is empty", what);
    for (size_t i = 0; path[i]; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
            return fail_msg(err, errlen,
                        "the TLS %s file name contains a control character (0x%02x at offset %zu)",
                        what, (unsigned char)path[i], i);
    if (strlen(path) > 511)
        return fail_msg(err, errlen, "the TLS %s file name is longer than 511 bytes", what);
    return true;
}

/* Milliseconds as the shortest decimal number of seconds: 1000 -> "1",
 * 1500 -> "1.5", 1 -> "0.001". */
static void put_seconds(buf_t *out, uint64_t ms)
{
    uint64_t s = ms / 1000, frac = ms % 1000;
    if (frac == 0)
        buf_printf(out, "%llu", (unsigned long long)s);
    else if (frac % 100 == 0)
        buf_printf(out, "%llu.%llu", (unsigned long long)s, (unsigned long long)(frac / 100));
    else if (frac % 10 == 0)
        buf_printf(out, "%llu.%02llu", (unsigned long long)s, (unsigned long long)(frac / 10));
    else
        buf_printf(out, "%llu.%03llu", (unsigned long long)s, (unsigned long long)frac);
}

/* Limits shared by every flavor: MySQL documents SOURCE_HEARTBEAT_PERIOD up to
 * 4294967 seconds with millisecond resolution, MariaDB the same. */
#define MAX_HEARTBEAT_MS 4294967000ull
#define MAX_CONNECT_RETRY 86400u

bool flavor_sql_change_source(const flavor_t *f, const flavor_source_t *src, bool redact_password,
                              buf_t *out, char *err, size_t errlen)
{
    if (!check_host(f, src->host, err, errlen) || !check_user(f, src->user, err, errlen) ||
        !check_password(f, src->password, err, errlen))
        return false;
    if (src->port < 1 || src->port > 65535)
        return fail_msg(err, errlen, "the replication source port %u is outside 1 - 65535", src->port);
    if (src->connect_retry < 1 || src->connect_retry > MAX_CONNECT_RETRY)
        return fail_msg(err, errlen, "the connect retry interval %u s is outside 1 - %u s",
                    src->connect_retry, MAX_CONNECT_RETRY);
    if (src->heartbeat_ms < 1 || src->heartbeat_ms > MAX_HEARTBEAT_MS)
        return fail_msg(err, errlen, "the heartbeat period %u ms is outside 1 ms - 4294967 s",
                    src->heartbeat_ms);
    if (src->tls != FLAVOR_TLS_DEFAULT && src->tls != FLAVOR_TLS_OFF && src->tls != FLAVOR_TLS_ON)
        return fail_msg(err, errlen, "unknown TLS mode %d", (int)src->tls);
    if (src->tls == FLAVOR_TLS_ON && (!check_path("CA", src->ssl_ca, err, errlen) ||
                                      !check_path("certificate", src->ssl_cert, err, errlen) ||
                                      !check_path("key", src->ssl_key, err, errlen) ||
                                      !check_path("CA directory", src->ssl_capath, err, errlen)))
        return false;

    /* The option prefix: SOURCE_ where CHANGE REPLICATION SOURCE exists. */
    const char *p = f->source_words ? "SOURCE" : "MASTER";
    buf_puts(out, f->source_words ? "CHANGE REPLICATION SOURCE TO " : "CHANGE MASTER TO ");
    buf_printf(out, "%s_HOST = ", p);
    quote_str(out, src->host);
    buf_printf(out, ", %s_PORT = %u, %s_USER = ", p, src->port, p);
    quote_str(out, src->user);
    buf_printf(out, ", %s_PASSWORD = ", p);
    quote_str(out, redact_password ? "<redacted>" : src->password);
    buf_printf(out, ", %s_CONNECT_RETRY = %u, %s_HEARTBEAT_PERIOD = ", p, src->connect_retry, p);
    put_seconds(out, src->heartbeat_ms);

    if (src->tls == FLAVOR_TLS_OFF) {
        buf_printf(out, ", %s_SSL = 0", p);
    } else if (src->tls == FLAVOR_TLS_ON) {
        buf_printf(out, ", %s_SSL = 1", p);
        if (src->ssl_ca) {
            buf_printf(out, ", %s_SSL_CA = ", p);
            quote_str(out, src->ssl_ca);
        }
        if (src->ssl_capath) {
            buf_printf(out, ", %s_SSL_CAPATH = ", p);
            quote_str(out, src->ssl_capath);
        }
        if (src->ssl_cert) {
            buf_printf(out, ", %s_SSL_CERT = ", p);
            quote_str(out, src->ssl_cert);
        }
        if (src->ssl_key) {
            buf_printf(out, ", %s_SSL_KEY = ", p);
            quote_str(out, src->ssl_key);
        }
        buf_printf(out, ", %s_SSL_VERIFY_SERVER_CERT = %d", p, src->ssl_verify_server_cert ? 1 : 0);
    }

    if (is_mysql(f)) {
        buf_printf(out, ", %s_AUTO_POSITION = 1", p);
        if (f->get_public_key)
            buf_printf(out, ", GET_%s_PUBLIC_KEY = 1", p);
    } else if (!src->rejoin_old_primary) {
        buf_puts(out, ", MASTER_USE_GTID = slave_pos");
    } else if (f->demote_to_slave) {
        buf_puts(out, ", MASTER_USE_GTID = slave_pos, MASTER_DEMOTE_TO_SLAVE = 1");
    } else {
        buf_puts(out, ", MASTER_USE_GTID = current_pos");
    }
    return true;
}

bool flavor_sql_wait_gtid(const flavor_t *f, const char *gtid, uint64_t timeout_ms, buf_t *out,
                          char *err, size_t errlen)
{
    if (!gtid)
        return fail_msg(err, errlen, "no GTID %s to wait for", is_mysql(f) ? "set" : "position");
    if (timeout_ms < 1 || timeout_ms > FLAVOR_MAX_WAIT_MS)
        return fail_msg(err, errlen, "the GTID wait timeout %llu ms is outside 1 ms - %u ms",
                    (unsigned long long)timeout_ms, FLAVOR_MAX_WAIT_MS);
    buf_puts(out, is_mysql(f) ? "SELECT WAIT_FOR_EXECUTED_GTID_SET(" : "SELECT MASTER_GTID_WAIT(");
    quote_str(out, gtid);
    buf_puts(out, ", ");
    if (f->fractional_wait)
        put_seconds(out, timeout_ms);
    else
        buf_printf(out, "%llu", (unsigned long long)((timeout_ms + 999) / 1000));
    buf_putc(out, ')');
    return true;
}

flavor_wait_t flavor_gtid_wait_result(const flavor_t *f, const char *value)
{
    if (!value)
        return FLAVOR_WAIT_ERROR;
    if (strcmp(value, "0") == 0)
        return FLAVOR_WAIT_OK;
    if (strcmp(value, is_mysql(f) ? "1" : "-1") == 0)
        return FLAVOR_WAIT_TIMEOUT;
    return FLAVOR_WAIT_ERROR;
}

bool flavor_parse_seconds_ms(const char *s, uint64_t *ms)
{
    uint64_t v = 0;
    size_t digits = 0;
    const char *c = s;
    for (; *c >= '0' && *c <= '9'; c++) {
        if (++digits > 12) /* more than 31,000 years: not a period */
            return false;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    if (!digits)
        return false;
    v *= 1000;
    if (*c == '.') {
        uint64_t scale = 100;
        size_t decimals = 0;
        for (c++; *c >= '0' && *c <= '9'; c++, decimals++) {
            if (decimals >= 3) /* the servers show at most three */
                return false;
            v += scale * (uint64_t)(*c - '0');
            scale /= 10;
        }
        if (!decimals)
            return false;
    }
    if (*c)
        return false;
    *ms = v;
    return true;
}
