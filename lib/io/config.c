/* config.c - see config.h.
 *
 * Every setting is one row of a table below.  A row says where the value goes in
 * the C struct, its kind (string, duration, enum ...), its default and bounds and
 * its documentation.  One walker reads a libconfig group against a table
 * (cfg_parse_section, config_read.c), one prints a struct back through the same
 * table (config_print.c), and one renders the table as Markdown (fo_config_doc,
 * there too).  Adding a setting is adding a row and a struct field; nothing else
 * needs to know.  Loading, errors and includes are in config_load.c, the checks
 * of strings and across settings in config_check.c; config_int.h is what these
 * files share.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgsyntax.h"
#include "defaults.h"
#include "metrics.h"
#include "route.h"

#include "config_int.h"

/* ------------------------------------------------------------------------ */
/* Names of the enums                                                        */

/* In the order of elect.h's policy_t and model.h's promotion_rule_t (checked by the
 * unit tests against policy_str() and promotion_rule_str()). */
static const char *const policy_names[] = {"reliability", "availability", NULL};
static const char *const promotion_names[] = {"prefer", "neutral", "prefer_not", "must_not", NULL};
static const char *const node_ssl_mode_names[] = {"disabled", "preferred", "required", "verify_ca",
                                                  "verify_identity", "cluster", NULL};
_Static_assert(sizeof(tls_mode_t) == sizeof(int), "enum size");
static const char *const long_writes_names[] = {"wait", "kill", NULL};
/* relay_repoint: where a lost relay's replicas go (tree.h). */
static const char *const relay_repoint_names[] = {"source", "primary", NULL};
static const char *const webhook_format_names[] = {"json", "slack", NULL};
static const char *const log_level_names[] = {"debug", "info", "notice", "warning", "error", NULL};
static const char *const hook_names[] = {
#define HOOK_NAME(id, name, veto, step, after, doc) name,
    FO_HOOK_POINT_MAP(HOOK_NAME)
#undef HOOK_NAME
    NULL};

/* The table stores enums through an int; every enum used must be int-sized. */
_Static_assert(sizeof(policy_t) == sizeof(int), "enum size");
_Static_assert(sizeof(promotion_rule_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fo_long_writes_t) == sizeof(int), "enum size");
_Static_assert(sizeof(fo_webhook_format_t) == sizeof(int), "enum size");
_Static_assert(sizeof(log_level_t) == sizeof(int), "enum size");
_Static_assert(sizeof hook_names / sizeof hook_names[0] == FO_HOOK__COUNT + 1, "hook names");

size_t cfg_names_count(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

const char *cfg_name_of(const char *const *names, int v)
{
    return v >= 0 && (size_t)v < cfg_names_count(names) ? names[v] : "?";
}

bool cfg_parse_name(const char *const *names, const char *s, int *out)
{
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

const char *fo_long_writes_str(fo_long_writes_t w)
{
    return cfg_name_of(long_writes_names, (int)w);
}
const char *fo_webhook_format_str(fo_webhook_format_t f)
{
    return cfg_name_of(webhook_format_names, (int)f);
}
const char *fo_hook_point_str(fo_hook_point_t h)
{
    return cfg_name_of(hook_names, (int)h);
}

/* ------------------------------------------------------------------------ */
/* Durations                                                                 */

#define MS(x) ((int64_t)(x))
#define SEC(x) ((int64_t)(x)*1000)
#define MINUTES(x) ((int64_t)(x)*60 * 1000)
#define HOURS(x) ((int64_t)(x)*3600 * 1000)

static const struct {
    const char *unit;
    uint64_t ms;
} units[] = {{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};

void fo_duration_format(uint64_t ms, buf_t *out)
{
    if (ms == 0) {
        buf_puts(out, "0ms");
        return;
    }
    /* Hours, minutes, seconds, milliseconds, skipping zero parts: 90000 is "1m30s". */
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms >= units[i].ms) {
            buf_printf(out, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
            ms %= units[i].ms;
        }
    }
}

/* One or more terms <digits>[.<digits>]<unit>, spaces allowed around them.  The
 * fraction must give whole milliseconds ("1.5s" yes, "1.5ms" no). */
bool fo_duration_parse(const char *s, uint64_t *ms)
{
    const uint64_t limit = UINT64_C(1) << 53; /* far beyond any bound, safe from overflow */
    uint64_t total = 0;
    bool any = false;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        if (!isdigit((unsigned char)*p))
            return false;
        uint64_t whole = 0, frac = 0, scale = 1;
        while (isdigit((unsigned char)*p)) {
            whole = whole * 10 + (uint64_t)(*p++ - '0');
            if (whole > limit)
                return false;
        }
        if (*p == '.') {
            p++;
            if (!isdigit((unsigned char)*p))
                return false;
            while (isdigit((unsigned char)*p)) {
                if (scale < 1000000000) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                } else if (*p != '0') {
                    return false;
                }
                p++;
            }
        }
        while (*p == ' ' || *p == '\t')
            p++;
        size_t u;
        for (u = 0; u < sizeof units / sizeof units[0]; u++) {
            size_t n = strlen(units[u].unit);
            /* "m" must not match the start of "ms". */
            if (strncmp(p, units[u].unit, n) == 0 && !isalpha((unsigned char)p[n]))
                break;
        }
        if (u == sizeof units / sizeof units[0])
            return false;
        p += strlen(units[u].unit);
        if (whole > limit / units[u].ms)
            return false;
        if (frac * units[u].ms % scale != 0)
            return false;
        total += whole * units[u].ms + frac * units[u].ms / scale;
        if (total > limit)
            return false;
        any = true;
    }
    if (!any)
        return false;
    *ms = total;
    return true;
}

char *cfg_duration_str(uint64_t ms, char *tmp, size_t n)
{
    buf_t b = BUF_INIT;
    fo_duration_format(ms, &b);
    snprintf(tmp, n, "%s", buf_str(&b));
    buf_free(&b);
    return tmp;
}

/* The offset of st.f, which must have type T (else the pointer subtraction fails to compile). */
#define FLD(st, f, T) (offsetof(st, f) + 0 * sizeof(&((st *)0)->f - (T *)0))

#define S_STRING(st, f, nm, dflt, lo, hi, chk, fl, text)                                           \
    {                                                                                              \
        .name = nm, .kind = K_STRING, .off = FLD(st, f, char *), .def_s = dflt, .min = lo,         \
        .max = hi, .check = chk, .flags = fl, .doc = text                                          \
    }
#define S_SECRET(st, f, nm, fl, text)                                                              \
    {                                                                                              \
        .name = nm, .kind = K_SECRET, .off = FLD(st, f, char *), .max = 4096, .flags = fl,         \
        .doc = text                                                                                \
    }
#define S_SECRET_FILE(st, f, secret, nm, text)                                                     \
    {                                                                                              \
        .name = nm, .kind = K_SECRET_FILE, .off = FLD(st, f, char *),                              \
        .off2 = FLD(st, secret, char *), .min = 1, .max = 4096, .doc = text                        \
    }
#define S_COMMAND(st, f, nm, text)                                                                 \
    {                                                                                              \
        .name = nm, .kind = K_COMMAND, .off = FLD(st, f, char *), .def_s = "", .max = 4096,        \
        .doc = text                                                                                \
    }
#define S_INT(st, f, nm, dflt, lo, hi, text)                                                       \
    {                                                                                              \
        .name = nm, .kind = K_INT, .off = FLD(st, f, int), .def = dflt, .min = lo, .max = hi,      \
        .doc = text                                                                                \
    }
#define S_BOOL(st, f, nm, dflt, text)                                                              \
    {                                                                                              \
        .name = nm, .kind = K_BOOL, .off = FLD(st, f, bool), .def = dflt, .doc = text              \
    }
#define S_DURATION(st, f, nm, dflt, lo, hi, text)                                                  \
    {                                                                                              \
        .name = nm, .kind = K_DURATION, .off = FLD(st, f, uint64_t), .def = dflt, .min = lo,       \
        .max = hi, .doc = text                                                                     \
    }
#define S_ENUM(st, f, T, nm, dflt, nms, text)                                                      \
    {                                                                                              \
        .name = nm, .kind = K_ENUM, .off = FLD(st, f, T), .def = dflt, .names = nms, .doc = text   \
    }
#define S_MODE(st, f, nm, dflt, text)                                                              \
    {                                                                                              \
        .name = nm, .kind = K_MODE, .off = FLD(st, f, unsigned), .def = dflt, .min = 0,            \
        .max = 0777, .doc = text                                                                   \
    }
#define S_IDS(st, f, nm, dflt, text)                                                               \
    {                                                                                              \
        .name = nm, .kind = K_IDS, .off = FLD(st, f, fo_idlist_t), .def_s = dflt, .min = 0,        \
        .max = 4294967294LL, .doc = text                                                           \
    }
#define S_STRINGS(st, f, nm, chk, text)                                                            \
    {                                                                                              \
        .name = nm, .kind = K_STRINGS, .off = FLD(st, f, fo_strlist_t), .min = 1, .max = 64,       \
        .check = chk, .doc = text                                                                  \
    }
#define S_KV(st, f, nm, fl, text)                                                                  \
    {                                                                                              \
        .name = nm, .kind = K_KV, .off = FLD(st, f, fo_kvlist_t), .flags = fl, .doc = text         \
    }
#define S_GROUP(st, f, T, nm, section, text)                                                       \
    {                                                                                              \
        .name = nm, .kind = K_GROUP, .off = FLD(st, f, T), .sub = section, .doc = text             \
    }
#define S_LIST(st, f, T, cnt, nm, section, least, fl, text)                                        \
    {                                                                                              \
        .name = nm, .kind = K_LIST, .off = FLD(st, f, T *), .off2 = FLD(st, cnt, size_t),          \
        .sub = section, .min = least, .flags = fl, .doc = text                                     \
    }
#define S_INHERIT(st, f, T, nm)                                                                    \
    {                                                                                              \
        .name = nm, .kind = K_INHERIT, .off = FLD(st, f, T), .def_s = nm                           \
    }

#define D fo_daemon_cfg_t
static const setting_t daemon_settings[] = {
    S_STRING(D, control_socket, "control_socket", FO_DEFAULT_CONTROL_SOCKET, 1, 107, check_abs_path,
             0, "Path of the Unix socket that failoverctl talks to. Its directory must exist."),
    S_MODE(D, control_socket_mode, "control_socket_mode", 0660,
           "Permission bits of the control socket, as an octal string."),
    S_STRING(D, control_socket_group, "control_socket_group", "", 0, 32, check_group_name, 0,
             "Group owning the control socket; \"\" keeps the daemon's own group."),
    S_IDS(D, control_allowed_uids, "control_allowed_uids", "",
          "User ids allowed to send requests (checked with SO_PEERCRED), besides root and the "
          "daemon's own uid, which always are."),
    S_IDS(D, control_allowed_gids, "control_allowed_gids", "",
          "Group ids allowed to send requests: a peer whose primary or supplementary group is "
          "listed may."),
    S_IDS(D, control_readonly_uids, "control_readonly_uids", "",
          "User ids that may only read: status, plan and history, nothing that changes "
          "anything. A uid also in control_allowed_uids (or in an allowed group) is an "
          "operator."),
    S_IDS(D, control_readonly_gids, "control_readonly_gids", "",
          "Group ids whose members (primary or supplementary group) may only read, like "
          "control_readonly_uids."),
    S_INT(D, control_max_request, "control_max_request", 65536, 1024, 16777216,
          "Largest control request accepted, in bytes; a longer one is refused."),
    S_STRING(D, state_dir, "state_dir", FO_DEFAULT_STATE_DIR, 1, 4000, check_abs_path, 0,
             "Directory of the daemon's own state (the failover journal). The daemon must be "
             "able to write there: a step whose journal record can't be written there (a full "
             "disk) does not run, and the cluster is held until acknowledged."),
    S_INT(D, journal_max_bytes, "journal_max_bytes", 16777216, 65536, 1073741824,
          "Bound on the size of the failover journal, in bytes. Above it the journal is "
          "compacted to at most half of it between operations: the oldest operations are "
          "dropped, the last operation of every cluster (an interrupted one included) and the "
          "newest ones stay for failoverctl history. A journal with damaged records is not "
          "compacted."),
    S_ENUM(D, log_level, log_level_t, "log_level", LOG_LVL_INFO, log_level_names,
           "Lowest level that is logged."),
    S_DURATION(D, probe_interval_ms, "probe_interval", MS(500), MS(50), MINUTES(1),
               "How often every node is probed."),
    S_DURATION(D, probe_timeout_ms, "probe_timeout", MS(500), MS(50), MINUTES(1),
               "Bound on one probe (connecting, or one round of queries); a probe that takes "
               "longer has failed."),
    S_DURATION(D, down_after_ms, "down_after", MS(500), MS(100), MINUTES(10),
               "How long the manager must go without reaching the primary before it is "
               "suspect and its replicas are asked whether they still hear from it: counted "
               "from its last successful probe once two probes in a row have failed, from the "
               "failure after a single failed probe."),
    S_DURATION(D, reconnect_backoff_max_ms, "reconnect_backoff_max", SEC(5), MS(100), MINUTES(10),
               "Longest wait between attempts to reconnect to a node that is down; the wait "
               "grows from probe_interval up to this."),
    S_DURATION(D, replica_confirm_ms, "replica_confirm", SEC(2), 0, MINUTES(10),
               "When replicas still look connected to a suspect primary, how long they must "
               "have received nothing from it before it is dead; a replica whose heartbeat "
               "period is known confirms after three periods (at least 750ms) if that is "
               "sooner. Also how long a replica may "
               "receive nothing while the primary writes before durability is degraded."),
    S_DURATION(D, stall_grace_ms, "stall_grace", SEC(5), 0, MINUTES(10),
               "After the event loop stalled or the clock jumped, observe without acting for "
               "this long."),
    S_ENUM(D, policy, policy_t, "policy", POLICY_RELIABILITY, policy_names,
           "Default failover policy of the clusters: reliability (no acknowledged write is "
           "lost; writes may pause) or availability (writes come back first; divergence is "
           "possible, and reported)."),
    S_STRING(D, metrics_listen, "metrics_listen", "", 0, 64, check_listen, 0,
             "Address and port of the HTTP listener serving /metrics (Prometheus text format) "
             "and /health, e.g. \"127.0.0.1:9633\" or \"[::1]:9633\"; \"\" serves none. Read at "
             "start; a reload does not move it. Anyone who can reach it can read the topology: "
             "bind it to a local or monitoring-only address (docs/metrics.md)."),
};
#undef D

#define N fo_node_cfg_t
static const setting_t node_settings[] = {
    {.name = "name",
     .kind = K_STRING,
     .off = FLD(N, name, char *),
     .min = 1,
     .max = 128,
     .check = check_node_name,
     .flags = F_NAME,
     .def_doc = "host, or host:port",
     .doc = "Name of the node in status, events and failoverctl. The default has the port "
            "only when it is not 3306; an IPv6 address with a port is written [addr]:port."},
    S_STRING(N, host, "host", NULL, 1, 255, check_host, F_REQUIRED,
             "Host name or IP address (IPv6 without brackets) that failoverd connects to; "
             "replicas are pointed at the same address."),
    S_INT(N, port, "port", 3306, 1, 65535, "TCP port of the server."),
    S_ENUM(N, promotion_rule, promotion_rule_t, "promotion_rule", RULE_NEUTRAL, promotion_names,
           "Preference when electing a new primary, after completeness of the data: prefer, "
           "neutral, prefer_not, or must_not (never promoted)."),
    S_KV(N, vars, "vars", F_KV_STRINGS,
         "Free-form string settings for plugins and hooks, e.g. the host to ssh to."),
    S_ENUM(N, ssl_mode, int, "ssl_mode", FO_SSL_MODE_CLUSTER, node_ssl_mode_names,
           "TLS of the sessions to this node and of its replication channel, like the "
           "cluster's ssl_mode; cluster (the default) takes the cluster's. Each of the TLS "
           "settings below likewise takes the cluster's value when it is not set here."),
    S_STRING(N, ssl_ca, "ssl_ca", "", 0, 511, check_tls_file, 0,
             "CA certificate file for this node; \"\" = the cluster's ssl_ca."),
    S_STRING(N, ssl_capath, "ssl_capath", "", 0, 511, check_tls_dir, 0,
             "Directory of CA certificates for this node; \"\" = the cluster's ssl_capath."),
    S_STRING(N, ssl_cert, "ssl_cert", "", 0, 511, check_tls_file, 0,
             "Client certificate for this node; \"\" = the cluster's ssl_cert."),
    S_STRING(N, ssl_key, "ssl_key", "", 0, 511, check_tls_key, 0,
             "Client key for this node; \"\" = the cluster's ssl_key."),
    S_STRING(N, tls_version, "tls_version", "", 0, 16, check_tls_version, 0,
             "Lowest TLS version for this node; \"\" = the cluster's tls_version."),
    S_STRING(N, ssl_cipher, "ssl_cipher", "", 0, 1024, NULL, 0,
             "TLS 1.2 cipher list for this node; \"\" = the cluster's ssl_cipher."),
};
#undef N

#define H fo_hooks_cfg_t
static const setting_t hooks_settings[] = {
#define HOOK_SETTING(id, name, veto, step, after, doc) S_COMMAND(H, cmd[FO_HOOK_##id], name, doc),
    FO_HOOK_POINT_MAP(HOOK_SETTING)
#undef HOOK_SETTING
    S_DURATION(H, timeout_ms, "timeout", SEC(10), MS(100), HOURS(1),
               "Bound on each hook run; a hook still running then is killed and has failed."),
};
#undef H

#define P fo_plugin_cfg_t
static const setting_t plugin_settings[] = {
    S_STRING(P, path, "path", NULL, 1, 4096, NULL, F_REQUIRED,
             "The plugin's shared object; a relative path is looked up in the plugin "
             "directory (lib/failoverd/plugins under the installation prefix)."),
    S_KV(P, config, "config", 0,
         "Settings handed to the plugin: a group of strings, numbers and booleans."),
};
#undef P

#define W fo_webhook_cfg_t
static const setting_t webhook_settings[] = {
    S_STRING(W, url, "url", NULL, 1, 4096, check_url, F_REQUIRED | F_MASK_URL,
             "http:// or https:// address events are POSTed to."),
    S_ENUM(W, format, fo_webhook_format_t, "format", FO_WEBHOOK_JSON, webhook_format_names,
           "Body of the request: json (the event with all its details) or slack (a "
           "Slack-compatible message)."),
    S_DURATION(W, timeout_ms, "timeout", SEC(5), MS(100), MINUTES(5), "Bound on one request."),
    S_INT(W, retries, "retries", 5, 0, 100,
          "How many times a failed request is retried, with growing pauses."),
    S_STRINGS(W, events, "events", check_event_name,
              "Names of the events sent; empty sends every event."),
};
#undef W

#define T fo_test_cfg_t
static const setting_t test_settings[] = {
    S_STRING(T, crash_at_step, "crash_at_step", "", 0, 64, NULL, 0,
             "Test knob: the daemon kills itself (SIGKILL, as if it crashed) right after "
             "journaling the step of this name, before running it, in a failover or a "
             "switchover. \"\" = never. Not for production."),
    S_STRING(T, block_loop, "block_loop", "", 0, 64, NULL, 0,
             "Test knob: a duration such as \"2s\"; one second after start the daemon blocks "
             "its event loop once for that long, so that the systemd watchdog stops being fed "
             "and the stall guard reacts. \"\" = never. Not for production."),
};
#undef T

static const section_t daemon_section = {
    .name = "daemon",
    .where = "daemon",
    .settings = daemon_settings,
    .n = sizeof daemon_settings / sizeof daemon_settings[0],
    .size = sizeof(fo_daemon_cfg_t),
    .off_src = -1,
    .off_index = -1,
    .doc = "Settings of the daemon itself, and defaults for the clusters. The whole group is "
           "optional."};

const section_t node_section = {
    .name = "node",
    .where = "clusters[].nodes[]",
    .settings = node_settings,
    .n = sizeof node_settings / sizeof node_settings[0],
    .size = sizeof(fo_node_cfg_t),
    .off_src = offsetof(fo_node_cfg_t, src),
    .off_index = offsetof(fo_node_cfg_t, index),
    .check = check_node,
    .doc = "One server of a cluster. Node names are unique within their cluster, host:port "
           "pairs across the whole file."};

static const section_t hooks_section = {
    .name = "hooks",
    .where = "clusters[].hooks",
    .settings = hooks_settings,
    .n = sizeof hooks_settings / sizeof hooks_settings[0],
    .size = sizeof(fo_hooks_cfg_t),
    .off_src = -1,
    .off_index = -1,
    .doc = "Script hooks, each optional. A hook is a command line: the absolute path of an "
           "executable, then arguments separated by spaces (no shell). The details of the "
           "event come in environment variables, never passwords."};

static const section_t plugin_section = {
    .name = "plugin",
    .where = "clusters[].plugins[]",
    .settings = plugin_settings,
    .n = sizeof plugin_settings / sizeof plugin_settings[0],
    .size = sizeof(fo_plugin_cfg_t),
    .off_src = offsetof(fo_plugin_cfg_t, src),
    .off_index = -1,
    .doc = "Plugins loaded for the cluster (virtual IP, DNS ...), in this order."};

static const section_t webhook_section = {
    .name = "webhook",
    .where = "clusters[].webhooks[]",
    .settings = webhook_settings,
    .n = sizeof webhook_settings / sizeof webhook_settings[0],
    .size = sizeof(fo_webhook_cfg_t),
    .off_src = offsetof(fo_webhook_cfg_t, src),
    .off_index = -1,
    .doc = "HTTP endpoints told about events. Requests never delay a failover."};

#define C fo_cluster_cfg_t
static const setting_t cluster_settings[] = {
    S_STRING(C, name, "name", NULL, 1, 64, check_cluster_name, F_REQUIRED | F_NAME,
             "Name of the cluster in failoverctl, events and state files."),
    S_INHERIT(C, policy, policy_t, "policy"),
    S_STRING(C, user, "user", NULL, 1, 80, NULL, F_REQUIRED,
             "Account that failoverd logs in to every node with."),
    S_SECRET(C, password, "password", F_REQUIRED,
             "Password of user, written inline. password_file is better."),
    S_SECRET_FILE(C, password_file, password, "password_file",
                  "File holding the password of user, read at load time. Exactly one of "
                  "password and password_file must be set."),
    S_STRING(C, repl_user, "repl_user", NULL, 1, 80, NULL, F_REQUIRED,
             "Replication account: replicas are pointed at a new primary with it."),
    S_SECRET(C, repl_password, "repl_password", F_REQUIRED,
             "Password of repl_user, written inline. repl_password_file is better."),
    S_SECRET_FILE(C, repl_password_file, repl_password, "repl_password_file",
                  "File holding the password of repl_user, read at load time. Exactly one of "
                  "repl_password and repl_password_file must be set."),
    S_BOOL(C, auto_failover, "auto_failover", true,
           "Fail over on its own when the primary is dead. When false, failoverd reports and "
           "waits for failoverctl failover."),
    S_DURATION(C, failover_block_ms, "failover_block", HOURS(1), 0, HOURS(24 * 7),
               "No automatic failover within this long after the last one, unless it was "
               "acknowledged (failoverctl ack)."),
    S_DURATION(C, startup_grace_ms, "startup_grace", SEC(30), 0, HOURS(24),
               "A primary failoverd has not reached since it started watching the cluster "
               "(its GTID state is unknown) is never failed over automatically under the "
               "reliability policy (failoverctl failover confirms), and under availability "
               "only once this long has passed since the start. A primary reached once is "
               "failed over as usual."),
    S_BOOL(C, auto_rejoin, "auto_rejoin", false,
           "Rejoin a returning old primary as a replica when its GTID set is contained in the "
           "new primary's; otherwise it stays read-only and is reported."),
    S_BOOL(C, relay_keep, "relay_keep", true,
           "Failover: a relay replica (one other nodes replicate from) that survives and is not "
           "the new primary keeps its replicas, and is itself pointed at the new primary; "
           "false points every node at the new primary."),
    S_ENUM(C, relay_repoint, int, "relay_repoint", 0, relay_repoint_names,
           "A relay replica that dies (not the primary): its replicas are repointed with GTID "
           "auto-positioning to the relay's own source (source) or to the primary (primary)."),
    S_BOOL(C, semisync, "semisync", false,
           "Set up semi-synchronous replication after a failover or switchover: source side "
           "on the new primary, replica side on the others."),
    S_INHERIT(C, probe_interval_ms, uint64_t, "probe_interval"),
    S_INHERIT(C, probe_timeout_ms, uint64_t, "probe_timeout"),
    S_INHERIT(C, down_after_ms, uint64_t, "down_after"),
    S_INHERIT(C, replica_confirm_ms, uint64_t, "replica_confirm"),
    S_DURATION(C, fence_timeout_ms, "fence_timeout", SEC(10), MS(100), MINUTES(1),
               "Failover: how long the fence of an old primary that did not answer its last "
               "probe goes on trying in the background (the failover does not wait for it; "
               "fence_background_gave_up when it runs out). One that answers is fenced before "
               "the election, for up to step_timeout."),
    S_DURATION(C, wait_apply_timeout_ms, "wait_apply_timeout", SEC(10), MS(100), HOURS(1),
               "Failover: how long to wait for replicas to apply what they have received."),
    S_DURATION(C, catchup_timeout_ms, "catchup_timeout", SEC(30), MS(100), HOURS(1),
               "Failover: how long the elected replica may take to catch up from a more "
               "advanced one."),
    S_DURATION(C, unseen_hold_ms, "unseen_hold", SEC(30), 0, HOURS(1),
               "Failover, reliability policy: how long to hold the promotion while a replica "
               "that may hold more than the candidate can't be seen (down or not observable), "
               "or the old primary was last seen with more than the replicas received. The "
               "failover goes on when the replica is seen again; when the hold runs out it is "
               "aborted with nothing writable (docs/failover.md)."),
    S_DURATION(C, verify_timeout_ms, "verify_timeout", SEC(5), MS(100), MINUTES(10),
               "How long a repointed replica may take to show it replicates from the new "
               "primary (both threads running)."),
    S_DURATION(C, step_timeout_ms, "step_timeout", SEC(5), MS(100), MINUTES(10),
               "Bound on every other failover or switchover step (a statement, repointing a "
               "replica)."),
    S_DURATION(C, switchover_lag_max_ms, "switchover_lag_max", SEC(1), 0, HOURS(1),
               "Switchover: the candidate's replication lag must be at most this before the "
               "primary is made read-only (checked again until switchover_timeout)."),
    S_DURATION(C, switchover_timeout_ms, "switchover_timeout", SEC(30), SEC(1), HOURS(1),
               "Switchover: bound on everything before the promotion (lag check, read-only, "
               "catching up); running out rolls the switchover back."),
    S_ENUM(C, long_writes, fo_long_writes_t, "long_writes", FO_LONG_WRITES_WAIT, long_writes_names,
           "Switchover: writes still running on the old primary while it is made read-only "
           "are waited for up to long_writes_timeout, then killed (kill) or given up on: the "
           "switchover is rolled back (wait)."),
    S_DURATION(C, long_writes_timeout_ms, "long_writes_timeout", SEC(2), 0, HOURS(1),
               "Switchover: how long running writes may delay making the old primary "
               "read-only (see long_writes)."),
    S_INT(C, connect_retry, "connect_retry", 1, 1, 3600,
          "Seconds between reconnection attempts of a repointed replica (CONNECT_RETRY)."),
    S_DURATION(C, heartbeat_period_ms, "heartbeat_period", MS(250), 0, HOURS(1),
               "Heartbeat period of a repointed replica (HEARTBEAT_PERIOD); 0ms turns "
               "heartbeats off. The detector reads each replica's period: three silent "
               "periods (at least 750ms) confirm a lost primary sooner than replica_confirm."),
    S_ENUM(C, ssl_mode, tls_mode_t, "ssl_mode", TLS_MODE_PREFERRED, tls_mode_names,
           "TLS of failoverd's sessions to the nodes, and of the replication channels it "
           "configures, in the mysql client's words: disabled (plain TCP); preferred (the "
           "default: TLS when the server offers it; a channel keeps its own TLS settings); required (TLS or no connection, "
           "the certificate is not checked); verify_ca (the certificate must chain to ssl_ca "
           "or ssl_capath); verify_identity (verify_ca, and the certificate must name the "
           "node's host: what production wants, docs/security.md). From required on, every "
           "channel failoverd points at a new source is set to TLS with the same checks "
           "(MASTER_SSL / SOURCE_SSL, _SSL_CA, _SSL_VERIFY_SERVER_CERT)."),
    S_STRING(C, ssl_ca, "ssl_ca", "", 0, 511, check_tls_file, 0,
             "File of the CA certificate(s) that the nodes' certificates must chain to "
             "(verify_ca, verify_identity); checked at load. Replicas are given the same path "
             "for their channel: the file must exist there too."),
    S_STRING(C, ssl_capath, "ssl_capath", "", 0, 511, check_tls_dir, 0,
             "Directory of CA certificates (hashed names, as openssl rehash makes them), "
             "instead of or besides ssl_ca."),
    S_STRING(C, ssl_cert, "ssl_cert", "", 0, 511, check_tls_file, 0,
             "Client certificate failoverd presents (for accounts that REQUIRE X509); needs "
             "ssl_key. Not given to replicas."),
    S_STRING(C, ssl_key, "ssl_key", "", 0, 511, check_tls_key, 0,
             "Private key of ssl_cert; must not be readable by others."),
    S_STRING(C, tls_version, "tls_version", "", 0, 16, check_tls_version, 0,
             "Lowest TLS version failoverd accepts: TLSv1.2 or TLSv1.3; \"\" = the client "
             "library's default."),
    S_STRING(C, ssl_cipher, "ssl_cipher", "", 0, 1024, NULL, 0,
             "OpenSSL cipher list for TLS 1.2 sessions; \"\" = the library's default."),
    S_STRING(C, max_read_lag, "max_read_lag", "5s", 1, 32, check_read_lag, 0,
             "Read/write routing: a replica is in the reader pool while its replication lag "
             "(Seconds_Behind_*) is at most this many seconds (\"5s\", \"1m\"), or with "
             "\"caught_up\" while it has applied every GTID the primary had at its latest "
             "probe. See docs/routing.md."),
    S_BOOL(C, read_fallback_primary, "read_fallback_primary", true,
           "Read/write routing: when no replica qualifies for the reader pool, the primary "
           "serves reads too."),
    S_STRING(C, topology_file, "topology_file", "", 0, 4000, check_opt_abs_path, 0,
             "Read/write routing: a JSON file (absolute path) rewritten atomically whenever the "
             "writer, the reader pool or a lag figure changes, for proxies and scripts; \"\" "
             "writes none."),
    S_STRING(C, salvage_command, "salvage_command", "", 0, 4000, check_salvage_command, 0,
             "Failover: a command that prints the dead old primary's binlog events the "
             "candidate lacks, as the binlog tool prints them (mysqlbinlog, mariadb-binlog); "
             "they are applied to the candidate before its promotion (docs/failover.md, "
             "\"Salvage\"). The absolute path of an executable, then arguments split on "
             "blanks (no shell); placeholders {host} {port} {node} (the old primary), {flavor} "
             "(mysql or mariadb), {gtid} (the candidate's GTID state) and {binlog_filter} "
             "(--exclude-gtids=SET for MySQL, --start-position=POS for MariaDB; dropped when "
             "the candidate's state is empty). Typically ssh to {host} running the binlog tool "
             "on the binlog files. \"\" (the default) salvages nothing."),
    S_STRING(C, salvage_client, "salvage_client", "/usr/bin/mysql", 1, 4000, check_abs_path, 0,
             "Failover: the mysql client that applies what salvage_command printed to the "
             "candidate, given the admin account in an option file (written 0600 in the state "
             "directory for the salvage, then removed)."),
    S_STRING(C, salvage_credentials, "salvage_credentials", "", 0, 4000, check_opt_abs_path, 0,
             "Failover: an option file (absolute path, readable by failoverd only) whose [client] "
             "group names the account that applies salvaged events (user, password): it needs "
             "the rights to replay binlog events and to write every table (MariaDB: BINLOG "
             "REPLAY, READ_ONLY ADMIN and the table rights; MySQL: see docs/failover.md). \"\" "
             "uses failoverd's own account."),
    S_DURATION(C, salvage_timeout_ms, "salvage_timeout", SEC(2), MS(100), MINUTES(10),
               "Failover: bound on the whole salvage (reading and applying); a host that does "
               "not answer delays the failover this long at most."),
    S_LIST(C, nodes, fo_node_cfg_t, n_nodes, "nodes", &node_section, 1, F_REQUIRED,
           "The servers, primary and replicas alike: failoverd finds out which is the "
           "primary. Their order breaks ties when electing a new primary."),
    S_GROUP(C, hooks, fo_hooks_cfg_t, "hooks", &hooks_section,
            "Scripts run at the cluster's events."),
    S_LIST(C, plugins, fo_plugin_cfg_t, n_plugins, "plugins", &plugin_section, 0, 0,
           "Plugins of the cluster, called in this order."),
    S_LIST(C, webhooks, fo_webhook_cfg_t, n_webhooks, "webhooks", &webhook_section, 0, 0,
           "HTTP endpoints told about the cluster's events."),
};
#undef C

static const section_t cluster_section = {
    .name = "cluster",
    .where = "clusters[]",
    .settings = cluster_settings,
    .n = sizeof cluster_settings / sizeof cluster_settings[0],
    .size = sizeof(fo_cluster_cfg_t),
    .off_src = offsetof(fo_cluster_cfg_t, src),
    .off_index = offsetof(fo_cluster_cfg_t, index),
    .doc = "One replication cluster: one primary and its replicas. A setting whose default "
           "is shown as `daemon.x` takes the daemon's value unless it is set here."};

static const section_t test_section = {
    .name = "test",
    .where = "test",
    .settings = test_settings,
    .n = sizeof test_settings / sizeof test_settings[0],
    .size = sizeof(fo_test_cfg_t),
    .off_src = -1,
    .off_index = -1,
    .doc = "Knobs for the test suite. Leave the group out in production."};

static const setting_t root_settings[] = {
    S_GROUP(fo_config_t, daemon, fo_daemon_cfg_t, "daemon", &daemon_section,
            "Settings of the daemon."),
    S_LIST(fo_config_t, clusters, fo_cluster_cfg_t, n_clusters, "clusters", &cluster_section, 1,
           F_REQUIRED, "The clusters failoverd manages."),
    S_GROUP(fo_config_t, test, fo_test_cfg_t, "test", &test_section, "Test knobs."),
    S_GROUP(fo_config_t, coord, fo_coord_cfg_t, "coordination", &coord_section,
            "Coordination with other managers."),
};

const section_t root_section = {.name = "top-level",
                                .where = "",
                                .settings = root_settings,
                                .n = sizeof root_settings / sizeof root_settings[0],
                                .size = sizeof(fo_config_t),
                                .off_src = -1,
                                .off_index = -1,
                                .check = check_root,
                                .doc = ""};

/* Every section, in the order of the documentation. */
const section_t *const all_sections[] = {
    &root_section,  &daemon_section, &cluster_section, &node_section,
    &hooks_section, &plugin_section, &webhook_section, &test_section,
    &coord_section,
};
const size_t n_all_sections = sizeof all_sections / sizeof all_sections[0];

const setting_t *cfg_find_setting(const section_t *sec, const char *name)
{
    for (size_t i = 0; i < sec->n; i++)
        if (strcmp(sec->settings[i].name, name) == 0)
            return &sec->settings[i];
    return NULL;
}

/* What a K_INHERIT row stands for: the daemon's row of that name. */
const setting_t *cfg_resolve(const setting_t *s)
{
    if (s->kind != K_INHERIT)
        return s;
    const setting_t *base = cfg_find_setting(&daemon_section, s->def_s);
    if (!base)
        abort(); /* a table error, caught by the unit tests */
    return base;
}
