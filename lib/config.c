/* config.c - see config.h.
 *
 * Every setting is one row of a table below.  A row says where the value goes in
 * the C struct, its kind (string, duration, enum ...), its default and bounds and
 * its documentation.  One walker reads a libconfig group against a table
 * (parse_section), one prints a struct back through the same table
 * (print_section), and one renders the table as Markdown (fo_config_doc).  Adding a
 * setting is adding a row and a struct field; nothing else needs to know.
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

/* ------------------------------------------------------------------------ */
/* Names of the enums                                                        */

/* In the order of elect.h's policy_t and model.h's promotion_rule_t (checked by the
 * unit tests against policy_str() and promotion_rule_str()). */
static const char *const policy_names[] = {"reliability", "availability", NULL};
static const char *const promotion_names[] = {"prefer", "neutral", "prefer_not", "must_not", NULL};
static const char *const long_writes_names[] = {"wait", "kill", NULL};
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

static size_t names_count(const char *const *names)
{
    size_t n = 0;
    while (names[n])
        n++;
    return n;
}

static const char *name_of(const char *const *names, int v)
{
    return v >= 0 && (size_t)v < names_count(names) ? names[v] : "?";
}

static bool parse_name(const char *const *names, const char *s, int *out)
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
    return name_of(long_writes_names, (int)w);
}
const char *fo_webhook_format_str(fo_webhook_format_t f)
{
    return name_of(webhook_format_names, (int)f);
}
const char *fo_hook_point_str(fo_hook_point_t h)
{
    return name_of(hook_names, (int)h);
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

static char *duration_str(uint64_t ms, char *tmp, size_t n)
{
    buf_t b = BUF_INIT;
    fo_duration_format(ms, &b);
    snprintf(tmp, n, "%s", buf_str(&b));
    buf_free(&b);
    return tmp;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                 */

typedef enum {
    K_STRING,      /* char * */
    K_SECRET,      /* char *, never printed; may come from its K_SECRET_FILE partner */
    K_SECRET_FILE, /* char * path; the file's content goes into the partner at off2 */
    K_COMMAND,     /* char *: absolute path of an executable, then arguments; "" = none */
    K_INT,         /* int */
    K_BOOL,        /* bool */
    K_DURATION,    /* uint64_t milliseconds */
    K_ENUM,        /* an int-sized enum; names in .names */
    K_MODE,        /* unsigned permission bits, written as an octal string */
    K_IDS,         /* fo_idlist_t */
    K_STRINGS,     /* fo_strlist_t */
    K_KV,          /* fo_kvlist_t, a free-form group */
    K_GROUP,       /* a nested section (.sub) stored in place */
    K_LIST,        /* a list of nested sections: array at off, count at off2 */
    K_INHERIT,     /* the daemon setting named .def_s, whose value is the default */
} kind_t;

enum {
    F_REQUIRED = 1 << 0,
    F_NAME = 1 << 1,       /* the name of a list element, used in setting paths */
    F_KV_STRINGS = 1 << 2, /* K_KV: strings only */
    F_MASK_URL = 1 << 3,   /* printed with path and query masked */
};

typedef struct load load_t;
typedef struct section section_t;
/* A string check: false with the reason in why (a phrase after the quoted value). */
typedef bool (*str_check_fn)(const char *s, buf_t *why);

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;
    size_t off2;
    int64_t def;       /* K_INT, K_BOOL, K_DURATION, K_ENUM, K_MODE */
    const char *def_s; /* string kinds; K_IDS ("0 1"); K_INHERIT: the daemon setting */
    int64_t min, max;  /* value bounds; string kinds: length bounds (max 0 = none);
                          K_LIST: the least number of elements */
    const char *const *names;
    const section_t *sub;
    str_check_fn check;
    unsigned flags;
    const char *def_doc; /* the default in words, when no value says it */
    const char *doc;
} setting_t;

struct section {
    const char *name;  /* in messages ("duplicate node name") and docs */
    const char *where; /* how the docs address it: "clusters[].nodes[]" */
    const setting_t *settings;
    size_t n;
    size_t size;    /* of the struct, for list elements */
    long off_src;   /* offset of its fo_src_t, or -1 */
    long off_index; /* offset of its size_t index, or -1 */
    /* Checks that span settings, run after the section's settings are parsed. */
    void (*check)(load_t *L, void *obj, const char *path);
    const char *doc;
};

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

static bool check_abs_path(const char *s, buf_t *why);
static bool check_cluster_name(const char *s, buf_t *why);
static bool check_node_name(const char *s, buf_t *why);
static bool check_host(const char *s, buf_t *why);
static bool check_group_name(const char *s, buf_t *why);
static bool check_url(const char *s, buf_t *why);
static bool check_event_name(const char *s, buf_t *why);
static bool check_listen(const char *s, buf_t *why);
static bool check_read_lag(const char *s, buf_t *why);
static bool check_opt_abs_path(const char *s, buf_t *why);
static void check_node(load_t *L, void *obj, const char *path);
static void check_root(load_t *L, void *obj, const char *path);
static bool check_tls_file(const char *s, buf_t *why);
static bool check_tls_key(const char *s, buf_t *why);
static bool check_tls_dir(const char *s, buf_t *why);
static bool check_tls_version(const char *s, buf_t *why);
static void check_tls(load_t *L, fo_config_t *cfg);
static const char *const node_ssl_mode_names[] = {"disabled", "preferred", "required", "verify_ca",
                                                  "verify_identity", "cluster", NULL};
_Static_assert(sizeof(tls_mode_t) == sizeof(int), "enum size");

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

static const section_t node_section = {
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
    S_BOOL(C, semisync, "semisync", false,
           "Set up semi-synchronous replication after a failover or switchover: source side "
           "on the new primary, replica side on the others."),
    S_INHERIT(C, probe_interval_ms, uint64_t, "probe_interval"),
    S_INHERIT(C, probe_timeout_ms, uint64_t, "probe_timeout"),
    S_INHERIT(C, down_after_ms, uint64_t, "down_after"),
    S_INHERIT(C, replica_confirm_ms, uint64_t, "replica_confirm"),
    S_DURATION(C, fence_timeout_ms, "fence_timeout", SEC(1), MS(100), MINUTES(1),
               "Failover: how long to try to make an old primary that did not answer its last "
               "probe read-only; a dead primary must not hold the failover up for long. One "
               "that answers is fenced for up to step_timeout if that is longer."),
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
    S_ENUM(C, ssl_mode, tls_mode_t, "ssl_mode", TLS_MODE_DISABLED, tls_mode_names,
           "TLS of failoverd's sessions to the nodes, and of the replication channels it "
           "configures, in the mysql client's words: disabled (the default: the client library "
           "does the TLS handshake as one blocking call, see docs/security.md); preferred (TLS when the server "
           "offers it; a channel keeps its own TLS settings); required (TLS or no connection, "
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
};

static const section_t root_section = {.name = "top-level",
                                       .where = "",
                                       .settings = root_settings,
                                       .n = sizeof root_settings / sizeof root_settings[0],
                                       .size = sizeof(fo_config_t),
                                       .off_src = -1,
                                       .off_index = -1,
                                       .check = check_root,
                                       .doc = ""};

/* Every section, in the order of the documentation. */
static const section_t *const all_sections[] = {
    &root_section,  &daemon_section, &cluster_section, &node_section,
    &hooks_section, &plugin_section, &webhook_section, &test_section,
};

static const setting_t *find_setting(const section_t *sec, const char *name)
{
    for (size_t i = 0; i < sec->n; i++)
        if (strcmp(sec->settings[i].name, name) == 0)
            return &sec->settings[i];
    return NULL;
}

/* What a K_INHERIT row stands for: the daemon's row of that name. */
static const setting_t *resolve(const setting_t *s)
{
    if (s->kind != K_INHERIT)
        return s;
    const setting_t *base = find_setting(&daemon_section, s->def_s);
    if (!base)
        abort(); /* a table error, caught by the unit tests */
    return base;
}

#define AT(obj, off, T) ((T *)((char *)(obj) + (off)))
#define CAT(obj, off, T) ((const T *)((const char *)(obj) + (off)))

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

typedef struct {
    size_t file; /* index into cfg->files */
    unsigned line;
    size_t seq;
    char *text;
} err_t;

typedef struct {
    char *name; /* as libconfig reports it */
    char *text; /* NULL when unreadable */
} text_t;

struct load {
    fo_config_t *cfg;
    config_t lc;
    char *dir; /* directory of the main file: "" or ending in '/' */
    err_t *errs;
    size_t n_errs, cap_errs, dropped;
    text_t *texts; /* file contents, read again to check integers (see int_literal) */
    size_t n_texts;
    const void **bad; /* list elements with errors of their own: left out of check_root */
    size_t n_bad;
};

/* Errors kept before sorting; the rest are only counted. */
#define MAX_KEPT 1000

static size_t intern_file(load_t *L, const char *file)
{
    fo_config_t *cfg = L->cfg;
    for (size_t i = 0; i < cfg->n_files; i++)
        if (strcmp(cfg->files[i], file) == 0)
            return i;
    cfg->files = xrealloc(cfg->files, (cfg->n_files + 1) * sizeof *cfg->files);
    cfg->files[cfg->n_files] = xstrdup(file);
    return cfg->n_files++;
}

static fo_src_t src_of(load_t *L, const config_setting_t *at)
{
    const char *f = at ? config_setting_source_file(at) : NULL;
    size_t i = intern_file(L, f ? f : L->cfg->path); /* may move cfg->files */
    fo_src_t src = {L->cfg->files[i], at ? config_setting_source_line(at) : 0};
    return src;
}

/* Record "file:line: path: message" (no line when src.line is 0, no path when
 * path is empty). */
static void verr_at(load_t *L, fo_src_t src, const char *path, const char *fmt, va_list ap)
{
    if (L->n_errs >= MAX_KEPT) {
        L->dropped++;
        return;
    }
    buf_t b = BUF_INIT;
    buf_puts(&b, src.file);
    if (src.line)
        buf_printf(&b, ":%u", src.line);
    buf_puts(&b, ": ");
    if (path && *path)
        buf_printf(&b, "%s: ", path);
    buf_vprintf(&b, fmt, ap);
    if (L->n_errs == L->cap_errs) {
        L->cap_errs = L->cap_errs ? 2 * L->cap_errs : 16;
        L->errs = xrealloc(L->errs, L->cap_errs * sizeof *L->errs);
    }
    L->errs[L->n_errs] = (err_t){intern_file(L, src.file), src.line, L->n_errs, buf_steal(&b)};
    L->n_errs++;
}

static void err_src(load_t *L, fo_src_t src, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_src(load_t *L, fo_src_t src, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_at(L, src, path, fmt, ap);
    va_end(ap);
}

/* An error at the file and line of setting `at` (NULL: the main file, no line). */
static void err_at(load_t *L, const config_setting_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(load_t *L, const config_setting_t *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr_at(L, src_of(L, at), path, fmt, ap);
    va_end(ap);
}

static int err_cmp(const void *a, const void *b)
{
    const err_t *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void fo_config_errors_free(fo_config_errors_t *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->lines[i]);
    free(errs->lines);
    *errs = (fo_config_errors_t)FO_CONFIG_ERRORS_INIT;
}

void fo_config_errors_format(const fo_config_errors_t *errs, buf_t *out)
{
    for (size_t i = 0; i < errs->n; i++)
        buf_printf(out, "%s\n", errs->lines[i]);
    if (errs->more)
        buf_printf(out, "... and %zu more error%s\n", errs->more, errs->more == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static char *join_path(const char *a, const char *b)
{
    buf_t p = BUF_INIT;
    buf_printf(&p, "%s%s%s", a, *a ? "." : "", b);
    return buf_steal(&p);
}

static const char *found_type(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a floating-point number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    case CONFIG_TYPE_GROUP: return "a group";
    default: return "nothing";
    }
}

static const char *expected_type(kind_t k)
{
    switch (k) {
    case K_INT: return "an integer";
    case K_BOOL: return "true or false";
    case K_DURATION: return "a duration (integer milliseconds or a string such as \"2s\")";
    case K_MODE: return "an octal string such as \"0660\"";
    case K_IDS: return "an array of integers";
    case K_STRINGS: return "an array of strings";
    case K_KV:
    case K_GROUP: return "a group { ... }";
    case K_LIST: return "a list ( ... )";
    default: return "a string";
    }
}

/* Append s as a libconfig string literal. */
static void put_quoted(buf_t *b, const char *s)
{
    buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\f': buf_puts(b, "\\f"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                buf_printf(b, "\\x%02x", *p);
            else
                buf_putc(b, (char)*p);
        }
    }
    buf_putc(b, '"');
}

/* A value quoted for a message, shortened when long. */
static char *quote_for_msg(const char *s)
{
    buf_t b = BUF_INIT;
    if (strlen(s) > 60) {
        char *cut = xstrndup(s, 57);
        put_quoted(&b, cut);
        free(cut);
        b.len--; /* drop the closing quote */
        buf_puts(&b, "...\"");
    } else {
        put_quoted(&b, s);
    }
    return buf_steal(&b);
}

/* "expected an integer, found a string ("3306")": the value is shown only for
 * strings that are no secret. */
static void type_error(load_t *L, const config_setting_t *m, const char *path, kind_t kind,
                       bool show_value)
{
    if (show_value && config_setting_type(m) == CONFIG_TYPE_STRING) {
        char *q = quote_for_msg(config_setting_get_string(m));
        err_at(L, m, path, "expected %s, found a string (%s)", expected_type(kind), q);
        free(q);
    } else {
        err_at(L, m, path, "expected %s, found %s", expected_type(kind), found_type(m));
    }
}

/* Edit distance counting a swap of neighbours as one edit ("prot" is one from
 * "port"), for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            char x = (char)tolower((unsigned char)a[i - 1]);
            char y = (char)tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (x != y);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && x == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == y && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* The candidate closest to s, if close enough to be a likely typo. */
static const char *closest(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(s);
    size_t allowed = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return bestd <= allowed ? best : NULL;
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* A node without a name is named after its address: "db1", "db1:3307", "[::1]:3307". */
static void node_default_name(const char *host, long long port, buf_t *out)
{
    if (port == 3306)
        buf_puts(out, host);
    else if (strchr(host, ':'))
        buf_printf(out, "[%s]:%lld", host, port);
    else
        buf_printf(out, "%s:%lld", host, port);
}

/* ------------------------------------------------------------------------ */
/* String checks                                                             */

static bool check_abs_path(const char *s, buf_t *why)
{
    if (s[0] != '/') {
        buf_puts(why, "is not an absolute path");
        return false;
    }
    return true;
}

static bool check_read_lag(const char *s, buf_t *why)
{
    route_settings_t rs;
    char err[160];
    if (!route_lag_parse(s, &rs, err, sizeof err)) {
        buf_puts(why, err);
        return false;
    }
    return true;
}

static bool check_opt_abs_path(const char *s, buf_t *why)
{
    return !s[0] || check_abs_path(s, why);
}

static bool only_chars(const char *s, const char *extra)
{
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(extra, *p))
            return false;
    return true;
}

/* Cluster names end up in state file names and URLs: keep them plain. */
static bool check_cluster_name(const char *s, buf_t *why)
{
    if (!only_chars(s, "_-.") || s[0] == '.' || s[0] == '-') {
        buf_puts(why, "is not a valid cluster name (letters, digits, '_', '-' and '.', not "
                      "starting with '.' or '-')");
        return false;
    }
    return true;
}

static bool check_node_name(const char *s, buf_t *why)
{
    if (!only_chars(s, "_-.:[]") || s[0] == '-') {
        buf_puts(why, "is not a valid node name (letters, digits, '_', '-', '.', ':', '[' and "
                      "']', not starting with '-')");
        return false;
    }
    return true;
}

static bool check_host(const char *s, buf_t *why)
{
    if (s[0] == '[') {
        buf_puts(why, "is not a host name or IP address (write IPv6 addresses without brackets)");
        return false;
    }
    if (!only_chars(s, "_-.:%") || s[0] == '-') {
        buf_puts(why, "is not a host name or IP address");
        return false;
    }
    return true;
}

static bool check_group_name(const char *s, buf_t *why)
{
    if (*s && (!only_chars(s, "_-.") || s[0] == '-')) {
        buf_puts(why, "is not a valid group name");
        return false;
    }
    return true;
}

static bool check_listen(const char *s, buf_t *why)
{
    if (!s[0])
        return true;
    struct sockaddr_storage sa;
    char err[256];
    if (metrics_parse_listen(s, &sa, err, sizeof err))
        return true;
    buf_puts(why, err);
    return false;
}

static bool check_url(const char *s, buf_t *why)
{
    const char *host = NULL;
    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    if (!host || !*host || *host == '/' || strpbrk(s, " \t")) {
        buf_puts(why, "is not an http:// or https:// URL");
        return false;
    }
    return true;
}

static bool check_event_name(const char *s, buf_t *why)
{
    bool ok = islower((unsigned char)s[0]) && only_chars(s, "_");
    for (const char *p = s; ok && *p; p++)
        ok = !isupper((unsigned char)*p);
    if (!ok)
        buf_puts(why, "is not an event name (lower-case letters, digits and '_')");
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Reading values                                                            */

/* libconfig 1.5 reads an integer literal with atoi(): 5000000000 silently becomes
 * 705032704, which could pass a range check.  So a named integer setting's literal
 * is read again from the file's text, and its true value checked. */
static const char *file_text(load_t *L, const char *name)
{
    for (size_t i = 0; i < L->n_texts; i++)
        if (strcmp(L->texts[i].name, name) == 0)
            return L->texts[i].text;
    /* Included files are named as written in @include, relative to the main file's
     * directory (the include directory given to libconfig). */
    buf_t path = BUF_INIT;
    if (strcmp(name, L->cfg->path) != 0 && name[0] != '/')
        buf_puts(&path, L->dir);
    buf_puts(&path, name);
    char *text = NULL;
    FILE *f = fopen(buf_str(&path), "r");
    if (f) {
        buf_t t = BUF_INIT;
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_append(&t, chunk, n);
        fclose(f);
        text = buf_steal(&t);
    }
    buf_free(&path);
    L->texts = xrealloc(L->texts, (L->n_texts + 1) * sizeof *L->texts);
    L->texts[L->n_texts++] = (text_t){xstrdup(name), text};
    return text;
}

static bool int_literal(load_t *L, const config_setting_t *m, int parsed, long long *out)
{
    const char *name = config_setting_name(m);
    const char *file = config_setting_source_file(m);
    unsigned line = config_setting_source_line(m);
    if (!name || !file || !line)
        return false;
    const char *p = file_text(L, file);
    for (unsigned l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p)
        return false;
    const char *eol = strchr(p, '\n');
    size_t nl = strlen(name);
    for (const char *q = p; (q = strstr(q, name)) && (!eol || q < eol); q += nl) {
        if (q > p && (isalnum((unsigned char)q[-1]) || strchr("_-*", q[-1])))
            continue;
        const char *v = q + nl;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=' && *v != ':')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        bool neg = *v == '-';
        const char *digits = v + (*v == '-' || *v == '+');
        if (!isdigit((unsigned char)*digits))
            continue;
        errno = 0;
        unsigned long long u;
        if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
            u = strtoull(digits + 2, NULL, 16);
        else
            u = strtoull(digits, NULL, 10);
        long long val;
        if (errno == ERANGE || u > (unsigned long long)LLONG_MAX)
            val = neg ? LLONG_MIN : LLONG_MAX;
        else
            val = neg ? -(long long)u : (long long)u;
        /* The same name may occur twice on a line ("{ port = 1; }, { port = 2; }"):
         * only a literal that libconfig's truncation turns into its value is ours. */
        if ((uint32_t)(unsigned long long)val == (uint32_t)parsed) {
            *out = val;
            return true;
        }
    }
    return false;
}

/* The integer value of m; false when m is no integer. */
static bool get_int(load_t *L, const config_setting_t *m, long long *out)
{
    if (config_setting_type(m) == CONFIG_TYPE_INT64) {
        *out = config_setting_get_int64(m);
        return true;
    }
    if (config_setting_type(m) != CONFIG_TYPE_INT)
        return false;
    long long lit;
    *out = config_setting_get_int(m);
    if (int_literal(L, m, (int)*out, &lit))
        *out = lit;
    return true;
}

/* The bounds of s as text: "1..65535", "50ms..1m". */
static char *range_str(const setting_t *s)
{
    buf_t b = BUF_INIT;
    if (s->kind == K_DURATION) {
        fo_duration_format((uint64_t)s->min, &b);
        buf_puts(&b, "..");
        fo_duration_format((uint64_t)s->max, &b);
    } else if (s->kind == K_MODE) {
        buf_printf(&b, "%04llo..%04llo", (long long)s->min, (long long)s->max);
    } else {
        buf_printf(&b, "%lld..%lld", (long long)s->min, (long long)s->max);
    }
    return buf_steal(&b);
}

static bool check_string(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                         const char *v)
{
    size_t len = strlen(v);
    if (s->min > 0 && len == 0) {
        err_at(L, m, path, "must not be empty");
        return false;
    }
    if (s->max > 0 && len > (size_t)s->max) {
        err_at(L, m, path, "is too long (%zu characters, at most %lld)", len, (long long)s->max);
        return false;
    }
    if (s->kind != K_SECRET && has_control(v)) {
        err_at(L, m, path, "must not contain control characters");
        return false;
    }
    buf_t why = BUF_INIT;
    if (s->check && !s->check(v, &why)) {
        char *q = quote_for_msg(v);
        err_at(L, m, path, "%s %s", q, buf_str(&why));
        free(q);
        buf_free(&why);
        return false;
    }
    return true;
}

/* A hook must name an executable that is there now, not at the first failover. */
static bool check_command(load_t *L, const config_setting_t *m, const char *path, const char *v)
{
    if (!*v)
        return true;
    char *prog = xstrndup(v, strcspn(v, " \t"));
    bool ok = false;
    struct stat st;
    if (prog[0] != '/')
        err_at(L, m, path, "\"%s\" is not an absolute path", prog);
    else if (stat(prog, &st) != 0)
        err_at(L, m, path, "cannot use %s: %s", prog, strerror(errno));
    else if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
        err_at(L, m, path, "%s is not an executable file", prog);
    else
        ok = true;
    free(prog);
    return ok;
}

/* Read a secret from a file that only its owner can read.  A final newline is not
 * part of the secret (editors add one). */
static bool read_secret_file(load_t *L, const config_setting_t *at, const char *path,
                             const char *file, char **out)
{
    /* O_NONBLOCK: a FIFO must not hang the load; it is refused below anyway. */
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        err_at(L, at, path, "cannot open %s: %s", file, strerror(errno));
        return false;
    }
    bool ok = false;
    buf_t b = BUF_INIT;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err_at(L, at, path, "cannot stat %s: %s", file, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        err_at(L, at, path, "%s is not a regular file", file);
    } else if (st.st_mode & 077) {
        err_at(L, at, path,
               "%s must not be accessible by group or others (mode %04o; chmod 600 it)", file,
               (unsigned)(st.st_mode & 07777));
    } else if (st.st_size > 4096) {
        err_at(L, at, path, "%s is too large for a password (%lld bytes)", file,
               (long long)st.st_size);
    } else {
        char chunk[4097];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof chunk)) > 0 && b.len <= 4096)
            buf_append(&b, chunk, (size_t)n);
        if (n < 0) {
            err_at(L, at, path, "cannot read %s: %s", file, strerror(errno));
        } else if (b.len > 4096) {
            err_at(L, at, path, "%s is too large for a password", file);
        } else {
            if (b.len && b.data[b.len - 1] == '\n')
                b.data[--b.len] = '\0';
            if (b.len && b.data[b.len - 1] == '\r')
                b.data[--b.len] = '\0';
            if (b.len == 0)
                err_at(L, at, path, "%s is empty", file);
            else if (memchr(b.data, '\0', b.len) || strchr(b.data, '\n'))
                err_at(L, at, path, "%s must hold the password on one line", file);
            else
                ok = true;
        }
    }
    close(fd);
    if (ok) {
        *out = buf_steal(&b);
    } else if (b.data) {
        memset(b.data, 0, b.cap);
        buf_free(&b);
    }
    return ok;
}

static void kv_add(fo_kvlist_t *kv, const char *key, char *value, fo_kv_type_t type, fo_src_t src)
{
    kv->items = xrealloc(kv->items, (kv->n + 1) * sizeof *kv->items);
    kv->items[kv->n++] = (fo_kv_t){xstrdup(key), value, type, src};
}

static void parse_kv(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                     fo_kvlist_t *kv)
{
    int n = config_setting_length(m);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        char *p = join_path(path, config_setting_name(e));
        buf_t v = BUF_INIT;
        fo_kv_type_t type;
        long long x;
        switch (config_setting_type(e)) {
        case CONFIG_TYPE_STRING:
            type = FO_KV_STRING;
            buf_puts(&v, config_setting_get_string(e));
            break;
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
            type = FO_KV_INT;
            get_int(L, e, &x);
            buf_printf(&v, "%lld", x);
            break;
        case CONFIG_TYPE_FLOAT:
            type = FO_KV_FLOAT;
            buf_printf(&v, "%.17g", config_setting_get_float(e));
            if (!strpbrk(buf_str(&v), ".eEin"))
                buf_puts(&v, ".0"); /* stays a float when printed back */
            break;
        case CONFIG_TYPE_BOOL:
            type = FO_KV_BOOL;
            buf_puts(&v, config_setting_get_bool(e) ? "true" : "false");
            break;
        default:
            err_at(L, e, p, "expected a string, a number or a boolean, found %s", found_type(e));
            free(p);
            continue;
        }
        if ((s->flags & F_KV_STRINGS) && type != FO_KV_STRING) {
            err_at(L, e, p, "expected a string, found %s", found_type(e));
            buf_free(&v);
        } else {
            kv_add(kv, config_setting_name(e), buf_steal(&v), type, src_of(L, e));
        }
        free(p);
    }
}

static void parse_section(load_t *L, const config_setting_t *grp, const section_t *sec, void *obj,
                          const char *path);

/* The path of list element i: the list's path and the element's name, or [i]. */
static char *element_path(load_t *L, const char *list_path, const section_t *sub,
                          const config_setting_t *e, size_t i)
{
    buf_t b = BUF_INIT;
    const char *name = NULL;
    for (size_t k = 0; k < sub->n && config_setting_is_group(e); k++) {
        if (!(sub->settings[k].flags & F_NAME))
            continue;
        const config_setting_t *m = config_setting_get_member(e, sub->settings[k].name);
        if (m && config_setting_type(m) == CONFIG_TYPE_STRING && *config_setting_get_string(m))
            name = config_setting_get_string(m);
    }
    if (name) {
        buf_printf(&b, "%s.%s", list_path, name);
    } else if (sub == &node_section && config_setting_is_group(e)) {
        /* Named after its address, as check_node will name it. */
        const config_setting_t *h = config_setting_get_member(e, "host");
        const config_setting_t *p = config_setting_get_member(e, "port");
        if (h && config_setting_type(h) == CONFIG_TYPE_STRING && *config_setting_get_string(h)) {
            long long port = 3306;
            if (p && !get_int(L, p, &port))
                port = 3306;
            buf_printf(&b, "%s.", list_path);
            node_default_name(config_setting_get_string(h), port, &b);
        }
    }
    if (!b.len)
        buf_printf(&b, "%s[%zu]", list_path, i);
    return buf_steal(&b);
}

static void parse_list(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                       void *obj)
{
    const section_t *sub = s->sub;
    int n = config_setting_length(m);
    char *elems = xcalloc((size_t)n, sub->size);
    *AT(obj, s->off, void *) = elems;
    *AT(obj, s->off2, size_t) = (size_t)n;
    if ((int64_t)n < s->min) {
        err_at(L, m, path, "is empty; at least one %s is needed", sub->name);
        return;
    }
    const setting_t *name_row = NULL;
    for (size_t k = 0; k < sub->n; k++)
        if (sub->settings[k].flags & F_NAME)
            name_row = &sub->settings[k];
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        void *elem = elems + (size_t)i * sub->size;
        char *p = element_path(L, path, sub, e, (size_t)i);
        if (sub->off_src >= 0)
            *AT(elem, sub->off_src, fo_src_t) = src_of(L, e);
        if (sub->off_index >= 0)
            *AT(elem, sub->off_index, size_t) = (size_t)i;
        size_t errors_before = L->n_errs + L->dropped;
        if (!config_setting_is_group(e))
            err_at(L, e, p, "expected a group { ... }, found %s", found_type(e));
        else
            parse_section(L, e, sub, elem, p);
        if (L->n_errs + L->dropped != errors_before) {
            L->bad = xrealloc(L->bad, (L->n_bad + 1) * sizeof *L->bad);
            L->bad[L->n_bad++] = elem;
        }
        /* Names are unique within the list (node names: see check_root). */
        const char *name = name_row ? *CAT(elem, name_row->off, char *) : NULL;
        for (int j = 0; name && sub != &node_section && j < i; j++) {
            const void *other = elems + (size_t)j * sub->size;
            const char *oname = *CAT(other, name_row->off, char *);
            if (oname && strcmp(name, oname) == 0) {
                fo_src_t first = *CAT(other, sub->off_src, fo_src_t);
                err_at(L, e, p, "duplicate %s name \"%s\" (first defined at %s:%u)", sub->name,
                       name, first.file, first.line);
                break;
            }
        }
        free(p);
    }
}

/* Parse the setting m (present in the file) into obj; false when it was not stored
 * (the error is reported). */
static bool parse_value(load_t *L, const config_setting_t *m, const setting_t *row,
                        const char *path, void *obj)
{
    const setting_t *s = resolve(row);
    size_t off = row->off;
    int type = config_setting_type(m);
    switch (s->kind) {
    case K_STRING:
    case K_SECRET:
    case K_SECRET_FILE:
    case K_COMMAND: {
        if (type != CONFIG_TYPE_STRING) {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        const char *v = config_setting_get_string(m);
        if (!check_string(L, m, s, path, v))
            return false;
        if (s->kind == K_COMMAND && !check_command(L, m, path, v))
            return false;
        if (s->kind == K_SECRET_FILE && v[0] != '/') {
            /* Relative to the configuration file, not to wherever the daemon was started. */
            buf_t p = BUF_INIT;
            buf_printf(&p, "%s%s", L->dir, v);
            *AT(obj, off, char *) = buf_steal(&p);
            return true;
        }
        *AT(obj, off, char *) = xstrdup(v);
        return true;
    }
    case K_INT: {
        long long v;
        if (!get_int(L, m, &v)) {
            type_error(L, m, path, s->kind, true);
            return false;
        }
        if (v < s->min || v > s->max) {
            err_at(L, m, path, "%lld is out of range (%lld..%lld)", v, (long long)s->min,
                   (long long)s->max);
            return false;
        }
        *AT(obj, off, int) = (int)v;
        return true;
    }
    case K_BOOL:
        if (type != CONFIG_TYPE_BOOL) {
            type_error(L, m, path, s->kind, true);
            return false;
        }
        *AT(obj, off, bool) = config_setting_get_bool(m);
        return true;
    case K_DURATION: {
        uint64_t ms;
        long long v;
        if (type == CONFIG_TYPE_STRING) {
            if (!fo_duration_parse(config_setting_get_string(m), &ms)) {
                char *q = quote_for_msg(config_setting_get_string(m));
                err_at(L, m, path,
                       "%s is not a duration (a number and a unit ms, s, m or h, such as "
                       "\"500ms\" or \"1m30s\")",
                       q);
                free(q);
                return false;
            }
        } else if (get_int(L, m, &v)) {
            if (v < 0) {
                err_at(L, m, path, "%lld is not a duration (negative)", v);
                return false;
            }
            ms = (uint64_t)v;
        } else {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        if (ms < (uint64_t)s->min || ms > (uint64_t)s->max) {
            char a[64], lo[64], hi[64];
            err_at(L, m, path, "%s is out of range (%s..%s)", duration_str(ms, a, sizeof a),
                   duration_str((uint64_t)s->min, lo, sizeof lo),
                   duration_str((uint64_t)s->max, hi, sizeof hi));
            return false;
        }
        *AT(obj, off, uint64_t) = ms;
        return true;
    }
    case K_ENUM: {
        if (type != CONFIG_TYPE_STRING) {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        const char *v = config_setting_get_string(m);
        int e;
        if (parse_name(s->names, v, &e)) {
            *AT(obj, off, int) = e;
            return true;
        }
        buf_t b = BUF_INIT;
        char *q = quote_for_msg(v);
        buf_printf(&b, "%s is not one of ", q);
        for (size_t i = 0; s->names[i]; i++)
            buf_printf(&b, "%s%s", i ? ", " : "", s->names[i]);
        const char *near = closest(v, s->names, names_count(s->names));
        if (near)
            buf_printf(&b, " (did you mean \"%s\"?)", near);
        err_at(L, m, path, "%s", buf_str(&b));
        free(q);
        buf_free(&b);
        return false;
    }
    case K_MODE: {
        if (type != CONFIG_TYPE_STRING) {
            type_error(L, m, path, s->kind, true);
            return false;
        }
        const char *v = config_setting_get_string(m);
        char *end;
        errno = 0;
        unsigned long mode = strtoul(v, &end, 8);
        if (!isdigit((unsigned char)*v) || *end || errno || strlen(v) > 5) {
            char *q = quote_for_msg(v);
            err_at(L, m, path, "%s is not an octal mode such as \"0660\"", q);
            free(q);
            return false;
        }
        if (mode > (unsigned long)s->max) {
            char *r = range_str(s);
            err_at(L, m, path, "%s is out of range (%s)", v, r);
            free(r);
            return false;
        }
        *AT(obj, off, unsigned) = (unsigned)mode;
        return true;
    }
    case K_IDS: {
        fo_idlist_t *ids = AT(obj, off, fo_idlist_t);
        if (!config_setting_is_array(m) && !config_setting_is_list(m)) {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        int n = config_setting_length(m);
        ids->ids = xcalloc((size_t)n, sizeof *ids->ids);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
            buf_t p = BUF_INIT;
            buf_printf(&p, "%s[%d]", path, i);
            long long v;
            if (!get_int(L, e, &v))
                err_at(L, e, buf_str(&p), "expected an integer, found %s", found_type(e));
            else if (v < s->min || v > s->max)
                err_at(L, e, buf_str(&p), "%lld is out of range (%lld..%lld)", v, (long long)s->min,
                       (long long)s->max);
            else
                ids->ids[ids->n++] = (unsigned)v;
            buf_free(&p);
        }
        return true; /* what was valid; the rest is reported */
    }
    case K_STRINGS: {
        fo_strlist_t *sl = AT(obj, off, fo_strlist_t);
        if (!config_setting_is_array(m) && !config_setting_is_list(m)) {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        int n = config_setting_length(m);
        sl->items = xcalloc((size_t)n, sizeof *sl->items);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
            buf_t p = BUF_INIT;
            buf_printf(&p, "%s[%d]", path, i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                err_at(L, e, buf_str(&p), "expected a string, found %s", found_type(e));
            else if (check_string(L, e, s, buf_str(&p), config_setting_get_string(e)))
                sl->items[sl->n++] = xstrdup(config_setting_get_string(e));
            buf_free(&p);
        }
        return true;
    }
    case K_KV:
        if (!config_setting_is_group(m)) {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        parse_kv(L, m, s, path, AT(obj, off, fo_kvlist_t));
        return true;
    case K_GROUP:
        if (!config_setting_is_group(m)) {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        parse_section(L, m, s->sub, AT(obj, off, void), path);
        return true;
    case K_LIST:
        /* "( )" and "[ ]" are both an empty list to the reader. */
        if (!config_setting_is_list(m) &&
            !(config_setting_is_array(m) && config_setting_length(m) == 0)) {
            type_error(L, m, path, s->kind, false);
            return false;
        }
        parse_list(L, m, s, path, obj);
        return true;
    case K_INHERIT: break;
    }
    abort();
}

/* Fill in the default of a setting that is absent from grp (missing) or whose value
 * was refused (!missing; no second error then).  grp is NULL for an absent group. */
static void apply_default(load_t *L, const config_setting_t *grp, const setting_t *row,
                          const char *path, void *obj, bool missing)
{
    if (row->kind == K_INHERIT) {
        const setting_t *base = resolve(row);
        const void *from = (const char *)&L->cfg->daemon + base->off;
        size_t size = base->kind == K_DURATION ? sizeof(uint64_t) : sizeof(int);
        memcpy(AT(obj, row->off, char), from, size);
        return;
    }
    if ((row->flags & F_REQUIRED) && row->kind != K_SECRET) {
        if (missing)
            err_at(L, grp, path, "required setting is missing");
        return;
    }
    switch (row->kind) {
    case K_STRING:
    case K_COMMAND:
        if (row->def_s)
            *AT(obj, row->off, char *) = xstrdup(row->def_s);
        return;
    case K_SECRET:
    case K_SECRET_FILE: return; /* see resolve_secrets */
    case K_INT:
    case K_ENUM: *AT(obj, row->off, int) = (int)row->def; return;
    case K_BOOL: *AT(obj, row->off, bool) = row->def != 0; return;
    case K_DURATION: *AT(obj, row->off, uint64_t) = (uint64_t)row->def; return;
    case K_MODE: *AT(obj, row->off, unsigned) = (unsigned)row->def; return;
    case K_IDS: {
        fo_idlist_t *ids = AT(obj, row->off, fo_idlist_t);
        const char *p = row->def_s;
        ids->ids = xcalloc(strlen(p) + 1, sizeof *ids->ids);
        while (*p) {
            char *end;
            unsigned long v = strtoul(p, &end, 10);
            if (end == p)
                break;
            ids->ids[ids->n++] = (unsigned)v;
            p = end + strspn(end, " ");
        }
        return;
    }
    case K_STRINGS:
    case K_KV:
    case K_LIST: return; /* empty */
    case K_GROUP: parse_section(L, NULL, row->sub, AT(obj, row->off, void), path); return;
    case K_INHERIT: break;
    }
    abort();
}

static void unknown_setting(load_t *L, const config_setting_t *m, const section_t *sec,
                            const char *path)
{
    const char *name = config_setting_name(m);
    const char *cands[64];
    size_t n = 0;
    for (size_t i = 0; i < sec->n && n < 64; i++)
        cands[n++] = sec->settings[i].name;
    const char *near = closest(name, cands, n);
    if (near) {
        err_at(L, m, path, "unknown setting (did you mean \"%s\"?)", near);
        return;
    }
    /* Perhaps it is right, but in the wrong group. */
    buf_t where = BUF_INIT;
    for (size_t i = 0; i < sizeof all_sections / sizeof all_sections[0]; i++) {
        if (all_sections[i] != sec && find_setting(all_sections[i], name))
            buf_printf(&where, "%s%s", where.len ? " or " : "", all_sections[i]->name);
    }
    if (where.len)
        err_at(L, m, path, "unknown setting here (it is a %s setting)", buf_str(&where));
    else
        err_at(L, m, path, "unknown setting");
    buf_free(&where);
}

/* The password / password_file pairs: exactly one of the two, and the file is read. */
static void resolve_secrets(load_t *L, const config_setting_t *grp, const section_t *sec, void *obj,
                            const char *path)
{
    for (size_t i = 0; i < sec->n; i++) {
        const setting_t *f = &sec->settings[i];
        if (f->kind != K_SECRET_FILE)
            continue;
        const setting_t *secret = NULL;
        for (size_t k = 0; k < sec->n; k++)
            if (sec->settings[k].kind == K_SECRET && sec->settings[k].off == f->off2)
                secret = &sec->settings[k];
        if (!secret)
            abort(); /* a table error, caught by the unit tests */
        const config_setting_t *mf = grp ? config_setting_get_member(grp, f->name) : NULL;
        const config_setting_t *ms = grp ? config_setting_get_member(grp, secret->name) : NULL;
        char **file = AT(obj, f->off, char *);
        char **value = AT(obj, f->off2, char *);
        char *fpath = join_path(path, f->name);
        if (mf && ms) {
            err_at(L, mf, fpath, "set either %s or %s, not both", secret->name, f->name);
        } else if (!mf && !ms && (secret->flags & F_REQUIRED)) {
            char *spath = join_path(path, secret->name);
            err_at(L, grp, spath, "required setting is missing (or set %s)", f->name);
            free(spath);
        } else if (mf && *file) {
            read_secret_file(L, mf, fpath, *file, value);
        }
        if (!*file)
            *file = xstrdup("");
        if (!*value)
            *value = xstrdup("");
        free(fpath);
    }
}

/* Parse group grp (NULL when absent: defaults only) against sec into obj. */
static void parse_section(load_t *L, const config_setting_t *grp, const section_t *sec, void *obj,
                          const char *path)
{
    int n = grp ? config_setting_length(grp) : 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
        if (!find_setting(sec, config_setting_name(m))) {
            char *p = join_path(path, config_setting_name(m));
            unknown_setting(L, m, sec, p);
            free(p);
        }
    }
    for (size_t i = 0; i < sec->n; i++) {
        const setting_t *row = &sec->settings[i];
        const config_setting_t *m = grp ? config_setting_get_member(grp, row->name) : NULL;
        char *p = join_path(path, row->name);
        /* A value in error leaves the default: the tree stays complete for the
         * checks that follow and for fo_config_free. */
        if (!m)
            apply_default(L, grp, row, p, obj, true);
        else if (!parse_value(L, m, row, p, obj))
            apply_default(L, grp, row, p, obj, false);
        free(p);
    }
    resolve_secrets(L, grp, sec, obj, path);
    if (sec->check)
        sec->check(L, obj, path);
}

/* ------------------------------------------------------------------------ */
/* Checks across settings                                                    */

static void check_node(load_t *L, void *obj, const char *path)
{
    fo_node_cfg_t *node = obj;
    if (!node->name && node->host) {
        buf_t b = BUF_INIT;
        node_default_name(node->host, node->port, &b);
        node->name = buf_steal(&b);
    }
}

static void node_error(load_t *L, const fo_cluster_cfg_t *cl, const fo_node_cfg_t *n,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void node_error(load_t *L, const fo_cluster_cfg_t *cl, const fo_node_cfg_t *n,
                       const char *fmt, ...)
{
    buf_t p = BUF_INIT;
    buf_printf(&p, "clusters.%s.nodes.%s", cl->name ? cl->name : "?", n->name ? n->name : "?");
    va_list ap;
    va_start(ap, fmt);
    verr_at(L, n->src, buf_str(&p), fmt, ap);
    va_end(ap);
    buf_free(&p);
}

static bool is_bad(const load_t *L, const void *elem)
{
    for (size_t i = 0; i < L->n_bad; i++)
        if (L->bad[i] == elem)
            return true;
    return false;
}

/* Node names are unique within their cluster (failoverctl --to NODE), and addresses
 * across the file: a server managed twice would be failed over twice.  Nodes with
 * errors of their own are left out: their values are not what the operator meant. */
static void check_root(load_t *L, void *obj, const char *path)
{
    fo_config_t *cfg = obj;
    check_tls(L, cfg);
    for (size_t c = 0; c < cfg->n_clusters; c++) {
        const fo_cluster_cfg_t *cl = &cfg->clusters[c];
        for (size_t i = 0; i < cl->n_nodes; i++) {
            const fo_node_cfg_t *n = &cl->nodes[i];
            bool name_dup = false, addr_dup = false;
            if (is_bad(L, n))
                continue;
            for (size_t c2 = 0; c2 <= c; c2++) {
                const fo_cluster_cfg_t *cl2 = &cfg->clusters[c2];
                size_t upto = c2 == c ? i : cl2->n_nodes;
                for (size_t j = 0; j < upto; j++) {
                    const fo_node_cfg_t *o = &cl2->nodes[j];
                    if (is_bad(L, o))
                        continue;
                    if (!name_dup && c2 == c && n->name && o->name &&
                        strcmp(n->name, o->name) == 0) {
                        node_error(L, cl, n, "duplicate node name \"%s\" (first defined at %s:%u)",
                                   n->name, o->src.file, o->src.line);
                        name_dup = true;
                    }
                    if (!addr_dup && n->host && o->host && n->port == o->port &&
                        strcasecmp(n->host, o->host) == 0) {
                        node_error(L, cl, n, "%s:%d is also node %s of cluster %s (%s:%u)", n->host,
                                   n->port, o->name ? o->name : "?", cl2->name ? cl2->name : "?",
                                   o->src.file, o->src.line);
                        addr_dup = true;
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* TLS                                                                       */

/* A TLS file: an absolute path to a regular file failoverd can read. */
static bool tls_path_ok(const char *s, bool dir, struct stat *st, buf_t *why)
{
    if (!*s)
        return true;
    if (s[0] != '/') {
        buf_puts(why, "is not an absolute path");
        return false;
    }
    if (stat(s, st) != 0) {
        buf_printf(why, "cannot be used: %s", strerror(errno));
        return false;
    }
    if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
        buf_puts(why, dir ? "is not a directory" : "is not a regular file");
        return false;
    }
    if (access(s, dir ? R_OK | X_OK : R_OK) != 0) {
        buf_printf(why, "cannot be read: %s", strerror(errno));
        return false;
    }
    return true;
}

static bool check_tls_file(const char *s, buf_t *why)
{
    struct stat st;
    return tls_path_ok(s, false, &st, why);
}

static bool check_tls_dir(const char *s, buf_t *why)
{
    struct stat st;
    return tls_path_ok(s, true, &st, why);
}

static bool check_tls_key(const char *s, buf_t *why)
{
    struct stat st;
    if (!tls_path_ok(s, false, &st, why))
        return false;
    if (*s && (st.st_mode & S_IROTH)) {
        buf_printf(why, "is a private key readable by others (mode %04o): chmod o-r it",
                   (unsigned)(st.st_mode & 07777));
        return false;
    }
    return true;
}

static bool check_tls_version(const char *s, buf_t *why)
{
    if (!*s || tls_version_list(s))
        return true;
    buf_puts(why, "is not a TLS version failoverd accepts as the lowest: TLSv1.2 or TLSv1.3");
    return false;
}

static char *tls_pick(char *own, char *cluster)
{
    return own && *own ? own : cluster && *cluster ? cluster : NULL;
}

/* A refused ssl_cert or ssl_key is left unset: no second error for that. */
static bool tls_file_refused(const load_t *L)
{
    for (size_t i = 0; i < L->n_errs; i++)
        if (strstr(L->errs[i].text, ".ssl_cert: ") || strstr(L->errs[i].text, ".ssl_key: "))
            return true;
    return false;
}

/* Each node's effective TLS settings, and the rules that span settings. */
static void check_tls(load_t *L, fo_config_t *cfg)
{
    for (size_t c = 0; c < cfg->n_clusters; c++) {
        fo_cluster_cfg_t *cl = &cfg->clusters[c];
        for (size_t i = 0; i < cl->n_nodes; i++) {
            fo_node_cfg_t *n = &cl->nodes[i];
            if (is_bad(L, n))
                continue;
            tls_cfg_t *t = &n->tls;
            t->mode = n->ssl_mode == FO_SSL_MODE_CLUSTER ? cl->ssl_mode : (tls_mode_t)n->ssl_mode;
            t->ca = tls_pick(n->ssl_ca, cl->ssl_ca);
            t->capath = tls_pick(n->ssl_capath, cl->ssl_capath);
            t->cert = tls_pick(n->ssl_cert, cl->ssl_cert);
            t->key = tls_pick(n->ssl_key, cl->ssl_key);
            t->version = tls_pick(n->tls_version, cl->tls_version);
            t->cipher = tls_pick(n->ssl_cipher, cl->ssl_cipher);
            if (t->mode >= TLS_MODE_VERIFY_CA && !t->ca && !t->capath)
                node_error(L, cl, n,
                           "ssl_mode %s needs ssl_ca or ssl_capath: the client library checks "
                           "a certificate only against a CA it is given",
                           tls_mode_str(t->mode));
            if (!t->cert != !t->key && !tls_file_refused(L))
                node_error(L, cl, n, "ssl_cert and ssl_key go together: %s is set, %s is not",
                           t->cert ? "ssl_cert" : "ssl_key", t->cert ? "ssl_key" : "ssl_cert");
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Includes                                                                  */

/* libconfig 1.5 opens an @include with fopen() and, when reading it then
 * fails (a directory, a device that errs), calls exit() from inside its
 * scanner: --check-config would die and a reload would end the daemon.  It
 * has no hook for includes (config_set_include_func came with 1.7), so every
 * file is scanned here first, the way libconfig's scanner reads it, and an
 * include that is not a readable regular file is an error before libconfig
 * sees it.  Included files are read and scanned in turn (libconfig stops at a
 * depth of 10 with an error of its own). */
#define INCLUDE_DEPTH_MAX 10

static void check_includes(load_t *L, const char *file, const char *text, size_t len, int depth);

/* Reads a whole file: 0, or -1 when it cannot be opened, -2 when reading it
 * fails (errno set). */
static int slurp(const char *path, buf_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    bool failed = ferror(f) != 0;
    int e = errno;
    fclose(f);
    errno = e;
    return failed ? -2 : 0;
}

/* The file an include names, as libconfig 1.5 builds it: the include
 * directory and the name, whatever the name holds (even a leading '/'). */
static void check_one_include(load_t *L, fo_src_t at, const char *name, int depth)
{
    buf_t path = BUF_INIT;
    if (*L->dir) {
        buf_puts(&path, L->dir); /* ends in '/': libconfig's extra one changes nothing */
    }
    buf_puts(&path, name);
    struct stat st;
    if (stat(buf_str(&path), &st) != 0) {
        buf_free(&path);
        return; /* libconfig says "cannot open include file" itself */
    }
    if (!S_ISREG(st.st_mode)) {
        err_src(L, at, NULL, "@include \"%s\": %s is %s, not a configuration file", name,
                buf_str(&path), S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        buf_free(&path);
        return;
    }
    buf_t t = BUF_INIT;
    int rc = slurp(buf_str(&path), &t);
    if (rc == -2) /* one libconfig could open, then exit() on */
        err_src(L, at, NULL, "@include \"%s\": cannot read %s: %s", name, buf_str(&path),
                strerror(errno));
    else if (rc == 0 && depth + 1 < INCLUDE_DEPTH_MAX) {
        check_includes(L, name, buf_str(&t), t.len, depth + 1);
    }
    buf_free(&t);
    buf_free(&path);
}

/* The directive as libconfig's scanner sees it: at the start of a line (not
 * in a string or comment), blanks, "@include", blanks, a string in which only
 * \\ and \" are escapes.  A NUL byte is refused first: libconfig reads on
 * past it, a scan of C strings would not. */
static void check_includes(load_t *L, const char *file, const char *text, size_t len, int depth)
{
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        unsigned nl = 1;
        for (const char *q = text; q < nul; q++)
            nl += *q == '\n';
        fo_src_t at = {file, nl};
        err_src(L, at, NULL, "a NUL byte: a configuration file is text");
        return;
    }
    enum { CODE, STRING, BLOCK, LINE } state = CODE;
    unsigned line = 1;
    bool bol = true;
    for (const char *p = text; *p;) {
        if (state == CODE && bol) {
            const char *q = p + strspn(p, " \t");
            if (strncmp(q, "@include", 8) == 0 && (q[8] == ' ' || q[8] == '\t')) {
                q += 8 + strspn(q + 8, " \t");
                if (*q == '"') {
                    unsigned at_line = line;
                    buf_t name = BUF_INIT;
                    bool closed = false, bad = false;
                    for (q++; *q; q++) {
                        if (*q == '"') {
                            closed = true;
                            q++;
                            break;
                        }
                        if (*q == '\\' && (q[1] == '\\' || q[1] == '"'))
                            q++;
                        else if (*q == '\\')
                            bad = true;
                        if (*q == '\n')
                            line++;
                        buf_putc(&name, *q);
                    }
                    fo_src_t at = {file, at_line};
                    if (bad)
                        err_src(L, at, NULL, "@include: a backslash in a file name must be "
                                             "written \\\\");
                    else if (closed)
                        check_one_include(L, at, buf_str(&name), depth);
                    buf_free(&name);
                    p = q;
                    bol = false;
                    continue;
                }
            }
        }
        char c = *p++;
        bol = c == '\n';
        if (c == '\n') {
            line++;
            if (state == LINE)
                state = CODE;
            continue;
        }
        switch (state) {
        case CODE:
            if (c == '"')
                state = STRING;
            else if (c == '#' || (c == '/' && *p == '/'))
                state = LINE;
            else if (c == '/' && *p == '*') {
                state = BLOCK;
                p++;
            }
            break;
        case STRING:
            if (c == '\\' && *p && *p != '\n')
                p++;
            else if (c == '"')
                state = CODE;
            break;
        case BLOCK:
            if (c == '*' && *p == '/') {
                state = CODE;
                p++;
            }
            break;
        case LINE: break;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Loading and freeing                                                       */

static void load_done(load_t *L)
{
    config_destroy(&L->lc);
    for (size_t i = 0; i < L->n_texts; i++) {
        free(L->texts[i].name);
        free(L->texts[i].text);
    }
    free(L->texts);
    free(L->bad);
    free(L->dir);
}

fo_config_t *fo_config_load(const char *path, fo_config_errors_t *errs)
{
    fo_config_errors_free(errs);
    load_t L = {0};
    L.cfg = xcalloc(1, sizeof *L.cfg);
    L.cfg->path = xstrdup(path);
    intern_file(&L, path);
    const char *slash = strrchr(path, '/');
    L.dir = slash ? xstrndup(path, (size_t)(slash - path) + 1) : xstrdup("");

    config_init(&L.lc);
    /* @include paths are relative to the main file's directory. */
    if (*L.dir)
        config_set_include_dir(&L.lc, L.dir);
    FILE *f = fopen(path, "r");
    fo_src_t top = {L.cfg->files[0], 0};
    if (!f || (getc(f) == EOF && ferror(f))) {
        err_src(&L, top, NULL, "cannot read: %s", strerror(errno));
        if (f)
            fclose(f);
    } else {
        fclose(f);
        buf_t main_text = BUF_INIT;
        int rc = slurp(path, &main_text);
        if (rc == 0)
            check_includes(&L, path, buf_str(&main_text), main_text.len, 0);
        else
            err_src(&L, top, NULL, "cannot read: %s", strerror(errno));
        buf_free(&main_text);
        char ef[4096], etext[1024];
        int eline = 0;
        if (L.n_errs) {
            /* errors have already been recorded; libconfig must not see the file */
        } else if (!cfgsyntax_read(&L.lc, path, ef, sizeof ef, &eline, etext, sizeof etext)) {
            /* cfgsyntax.h: what libconfig leaks on a syntax error stays out. */
            fo_src_t at = {ef, (unsigned)eline};
            err_src(&L, at, NULL, "%s", etext);
        } else {
            parse_section(&L, config_root_setting(&L.lc), &root_section, L.cfg, "");
        }
    }

    if (L.n_errs)
        qsort(L.errs, L.n_errs, sizeof *L.errs, err_cmp);
    size_t keep = L.n_errs < FO_CONFIG_MAX_ERRORS ? L.n_errs : FO_CONFIG_MAX_ERRORS;
    errs->lines = xcalloc(keep, sizeof *errs->lines);
    for (size_t i = 0; i < L.n_errs; i++) {
        if (i < keep)
            errs->lines[errs->n++] = L.errs[i].text;
        else
            free(L.errs[i].text);
    }
    errs->more = L.n_errs - keep + L.dropped;
    free(L.errs);
    load_done(&L);
    if (errs->n) {
        fo_config_free(L.cfg);
        return NULL;
    }
    return L.cfg;
}

static void free_secret(char *s)
{
    if (s) {
        /* Do not leave passwords in freed memory. */
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

static void free_section(const section_t *sec, void *obj)
{
    for (size_t i = 0; i < sec->n; i++) {
        const setting_t *s = &sec->settings[i];
        switch (s->kind) {
        case K_STRING:
        case K_SECRET_FILE:
        case K_COMMAND: free(*AT(obj, s->off, char *)); break;
        case K_SECRET: free_secret(*AT(obj, s->off, char *)); break;
        case K_IDS: free(AT(obj, s->off, fo_idlist_t)->ids); break;
        case K_STRINGS: {
            fo_strlist_t *sl = AT(obj, s->off, fo_strlist_t);
            for (size_t k = 0; k < sl->n; k++)
                free(sl->items[k]);
            free(sl->items);
            break;
        }
        case K_KV: {
            fo_kvlist_t *kv = AT(obj, s->off, fo_kvlist_t);
            for (size_t k = 0; k < kv->n; k++) {
                free(kv->items[k].key);
                free_secret(kv->items[k].value);
            }
            free(kv->items);
            break;
        }
        case K_GROUP: free_section(s->sub, AT(obj, s->off, void)); break;
        case K_LIST: {
            char *elems = *AT(obj, s->off, char *);
            size_t n = *AT(obj, s->off2, size_t);
            for (size_t k = 0; elems && k < n; k++)
                free_section(s->sub, elems + k * s->sub->size);
            free(elems);
            break;
        }
        default: break;
        }
    }
}

void fo_config_free(fo_config_t *cfg)
{
    if (!cfg)
        return;
    free_section(&root_section, cfg);
    for (size_t i = 0; i < cfg->n_files; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg->path);
    free(cfg);
}

/* ------------------------------------------------------------------------ */
/* Look-ups                                                                  */

const char *fo_kv_get(const fo_kvlist_t *kv, const char *key)
{
    const fo_kv_t *e = fo_kv_find(kv, key);
    return e ? e->value : NULL;
}

const fo_kv_t *fo_kv_find(const fo_kvlist_t *kv, const char *key)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->items[i].key, key) == 0)
            return &kv->items[i];
    return NULL;
}

const fo_cluster_cfg_t *fo_config_cluster(const fo_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_clusters; i++)
        if (strcmp(cfg->clusters[i].name, name) == 0)
            return &cfg->clusters[i];
    return NULL;
}

const fo_node_cfg_t *fo_config_node(const fo_cluster_cfg_t *cluster, const char *name)
{
    for (size_t i = 0; i < cluster->n_nodes; i++)
        if (strcmp(cluster->nodes[i].name, name) == 0)
            return &cluster->nodes[i];
    return NULL;
}

const fo_node_cfg_t *fo_config_node_by_addr(const fo_cluster_cfg_t *cluster, const char *host,
                                            int port)
{
    for (size_t i = 0; i < cluster->n_nodes; i++)
        if (cluster->nodes[i].port == port && strcasecmp(cluster->nodes[i].host, host) == 0)
            return &cluster->nodes[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */

static void indent(buf_t *out, int n)
{
    for (int i = 0; i < n; i++)
        buf_putc(out, ' ');
}

/* A key that names a secret, in any case: DB_PASSWORD, Api_Token, passwd ... */
static bool secret_key(const char *key)
{
    static const char *const words[] = {"password", "passwd", "secret", "token",
                                        "credential", "apikey", "api_key", "auth"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(key, words[i]))
            return true;
    return false;
}

/* A URL with its user information (user:password@) and its path and query
 * masked: both may hold credentials. */
static void put_masked_url(buf_t *out, const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t hl = strcspn(host, "/?#");
    buf_t b = BUF_INIT;
    buf_append(&b, url, (size_t)(host - url));
    const char *at = memrchr(host, '@', hl);
    if (at) {
        buf_puts(&b, "********@");
        hl -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    buf_append(&b, host, hl);
    if (host[hl])
        buf_puts(&b, "/********");
    put_quoted(out, buf_str(&b));
    buf_free(&b);
}

static void print_section(buf_t *out, const section_t *sec, const void *obj, int ind);

static void print_value(buf_t *out, const section_t *sec, const setting_t *row, const void *obj,
                        int ind)
{
    const setting_t *s = resolve(row);
    size_t off = row->off;
    if (s->kind == K_SECRET) {
        /* Only the file is shown when the secret came from one. */
        for (size_t k = 0; k < sec->n; k++) {
            const setting_t *f = &sec->settings[k];
            if (f->kind == K_SECRET_FILE && f->off2 == s->off && **CAT(obj, f->off, char *))
                return;
        }
    }
    if (s->kind == K_SECRET_FILE && !**CAT(obj, off, char *))
        return;
    indent(out, ind);
    buf_printf(out, "%s = ", row->name);
    switch (s->kind) {
    case K_STRING:
    case K_SECRET_FILE:
    case K_COMMAND: {
        const char *v = *CAT(obj, off, char *);
        if (s->flags & F_MASK_URL)
            put_masked_url(out, v);
        else
            put_quoted(out, v);
        break;
    }
    case K_SECRET: buf_puts(out, "\"********\""); break;
    case K_INT: buf_printf(out, "%d", *CAT(obj, off, int)); break;
    case K_BOOL: buf_puts(out, *CAT(obj, off, bool) ? "true" : "false"); break;
    case K_DURATION:
        buf_putc(out, '"');
        fo_duration_format(*CAT(obj, off, uint64_t), out);
        buf_putc(out, '"');
        break;
    case K_ENUM: put_quoted(out, name_of(s->names, *CAT(obj, off, int))); break;
    case K_MODE: buf_printf(out, "\"%04o\"", *CAT(obj, off, unsigned)); break;
    case K_IDS: {
        const fo_idlist_t *ids = CAT(obj, off, fo_idlist_t);
        buf_puts(out, "[");
        for (size_t i = 0; i < ids->n; i++)
            buf_printf(out, "%s %u", i ? "," : "", ids->ids[i]);
        buf_puts(out, " ]");
        break;
    }
    case K_STRINGS: {
        const fo_strlist_t *sl = CAT(obj, off, fo_strlist_t);
        buf_puts(out, "[");
        for (size_t i = 0; i < sl->n; i++) {
            buf_puts(out, i ? ", " : " ");
            put_quoted(out, sl->items[i]);
        }
        buf_puts(out, " ]");
        break;
    }
    case K_KV: {
        /* On one line when it fits, else one entry per line. */
        const fo_kvlist_t *kv = CAT(obj, off, fo_kvlist_t);
        buf_t items[2] = {BUF_INIT, BUF_INIT};
        for (size_t i = 0; i < kv->n; i++) {
            const fo_kv_t *e = &kv->items[i];
            buf_t v = BUF_INIT;
            if (secret_key(e->key))
                buf_puts(&v, "\"********\"");
            else if (e->type == FO_KV_STRING)
                put_quoted(&v, e->value);
            else
                buf_puts(&v, e->value);
            buf_printf(&items[0], " %s = %s;", e->key, buf_str(&v));
            indent(&items[1], ind + 2);
            buf_printf(&items[1], "%s = %s;\n", e->key, buf_str(&v));
            buf_free(&v);
        }
        if ((size_t)ind + strlen(row->name) + items[0].len + 8 <= 90)
            buf_printf(out, "{%s }", buf_str(&items[0]));
        else {
            buf_printf(out, "{\n%s", buf_str(&items[1]));
            indent(out, ind);
            buf_putc(out, '}');
        }
        buf_free(&items[0]);
        buf_free(&items[1]);
        break;
    }
    case K_GROUP:
        buf_puts(out, "{\n");
        print_section(out, s->sub, CAT(obj, off, void), ind + 2);
        indent(out, ind);
        buf_puts(out, "}");
        break;
    case K_LIST: {
        const char *elems = *CAT(obj, off, char *);
        size_t n = *CAT(obj, s->off2, size_t);
        if (!n) {
            buf_puts(out, "( )");
            break;
        }
        buf_puts(out, "(\n");
        for (size_t i = 0; i < n; i++) {
            indent(out, ind + 2);
            buf_puts(out, "{\n");
            print_section(out, s->sub, elems + i * s->sub->size, ind + 4);
            indent(out, ind + 2);
            buf_puts(out, i + 1 < n ? "},\n" : "}\n");
        }
        indent(out, ind);
        buf_puts(out, ")");
        break;
    }
    case K_INHERIT: abort();
    }
    buf_puts(out, ";\n");
}

static void print_section(buf_t *out, const section_t *sec, const void *obj, int ind)
{
    for (size_t i = 0; i < sec->n; i++)
        print_value(out, sec, &sec->settings[i], obj, ind);
}

void fo_config_print(const fo_config_t *cfg, buf_t *out)
{
    buf_printf(out, "# Effective configuration of %s (passwords masked).\n", cfg->path);
    print_section(out, &root_section, cfg, 0);
}

/* ------------------------------------------------------------------------ */
/* Documentation                                                             */

static void doc_type(buf_t *out, const setting_t *row)
{
    const setting_t *s = resolve(row);
    switch (s->kind) {
    case K_STRING: buf_puts(out, "string"); break;
    case K_SECRET: buf_puts(out, "string, secret"); break;
    case K_SECRET_FILE: buf_puts(out, "path"); break;
    case K_COMMAND: buf_puts(out, "command"); break;
    case K_INT: buf_printf(out, "integer, %lld..%lld", (long long)s->min, (long long)s->max); break;
    case K_BOOL: buf_puts(out, "boolean"); break;
    case K_DURATION: {
        char *r = range_str(s);
        buf_printf(out, "duration, %s", r);
        free(r);
        break;
    }
    case K_ENUM:
        for (size_t i = 0; s->names[i]; i++)
            buf_printf(out, "%s`%s`", i ? ", " : "", s->names[i]);
        break;
    case K_MODE: buf_puts(out, "octal string"); break;
    case K_IDS: buf_puts(out, "array of integers"); break;
    case K_STRINGS: buf_puts(out, "array of strings"); break;
    case K_KV: buf_puts(out, "group"); break;
    case K_GROUP: buf_printf(out, "group, see `%s`", s->sub->where); break;
    case K_LIST: buf_printf(out, "list of groups, see `%s`", s->sub->where); break;
    case K_INHERIT: abort();
    }
}

static void doc_default(buf_t *out, const section_t *sec, const setting_t *row)
{
    const setting_t *s = row;
    if (s->kind == K_INHERIT) {
        buf_printf(out, "`daemon.%s`", s->def_s);
        return;
    }
    if (s->kind == K_SECRET && (s->flags & F_REQUIRED)) {
        for (size_t k = 0; k < sec->n; k++)
            if (sec->settings[k].kind == K_SECRET_FILE && sec->settings[k].off2 == s->off)
                buf_printf(out, "required, or `%s`", sec->settings[k].name);
        return;
    }
    if (s->flags & F_REQUIRED) {
        buf_puts(out, "required");
        return;
    }
    if (s->def_doc) {
        buf_puts(out, s->def_doc);
        return;
    }
    buf_t v = BUF_INIT;
    switch (s->kind) {
    case K_STRING:
    case K_COMMAND:
        if (s->def_s)
            put_quoted(&v, s->def_s);
        break;
    case K_INT: buf_printf(&v, "%lld", (long long)s->def); break;
    case K_BOOL: buf_puts(&v, s->def ? "true" : "false"); break;
    case K_DURATION:
        buf_putc(&v, '"');
        fo_duration_format((uint64_t)s->def, &v);
        buf_putc(&v, '"');
        break;
    case K_ENUM: buf_printf(&v, "\"%s\"", s->names[s->def]); break;
    case K_MODE: buf_printf(&v, "\"%04llo\"", (long long)s->def); break;
    case K_IDS: {
        buf_puts(&v, "[");
        const char *p = s->def_s;
        while (*p) {
            size_t n = strcspn(p, " ");
            buf_printf(&v, "%s %.*s", v.len > 1 ? "," : "", (int)n, p);
            p += n + strspn(p + n, " ");
        }
        buf_puts(&v, " ]");
        break;
    }
    case K_STRINGS: buf_puts(&v, "[ ]"); break;
    case K_KV: buf_puts(&v, "{ }"); break;
    case K_LIST: buf_puts(&v, "( )"); break;
    default: break;
    }
    if (v.len)
        buf_printf(out, "`%s`", buf_str(&v));
    else if (s->kind == K_GROUP)
        buf_puts(out, "all defaults");
    else
        buf_puts(out, "none");
    buf_free(&v);
}

void fo_config_doc(buf_t *out)
{
    for (size_t i = 0; i < sizeof all_sections / sizeof all_sections[0]; i++) {
        const section_t *sec = all_sections[i];
        if (sec == &root_section)
            buf_puts(out, "### Top level\n\n");
        else
            buf_printf(out, "### `%s`\n\n%s\n\n", sec->where, sec->doc);
        buf_puts(out, "| Setting | Type | Default | Meaning |\n|---|---|---|---|\n");
        for (size_t k = 0; k < sec->n; k++) {
            const setting_t *s = &sec->settings[k];
            buf_printf(out, "| `%s` | ", s->name);
            doc_type(out, s);
            buf_puts(out, " | ");
            doc_default(out, sec, s);
            buf_puts(out, " | ");
            if (s->kind == K_INHERIT)
                buf_printf(out, "Overrides `daemon.%s` for this cluster.", s->def_s);
            else
                buf_puts(out, s->doc);
            buf_puts(out, " |\n");
        }
        buf_puts(out, i + 1 < sizeof all_sections / sizeof all_sections[0] ? "\n" : "");
    }
}
