/* config.h - the configuration file, loaded into a plain tree of C structs.
 *
 * The file is read with libconfig; every setting is described once in a table in
 * config.c (name, type, default, bounds, documentation) and that table drives
 * parsing, validation, defaults, printing and the reference in
 * docs/configuration.md.  After fo_config_load() returns, nothing refers to
 * libconfig any more: the tree owns all its strings, passwords have been read
 * from their files, inherited values (probe_interval ...) are filled in, and
 * every char * field is non-NULL ("" when unset).
 *
 * Loading touches no global state, so the daemon can load a new file on SIGHUP
 * while the old tree stays in force, and swap only when the new one is valid.
 *
 * Names: libconfig owns config_t and the config_* functions, so this module's
 * public names start with fo_config_ (types fo_*_cfg_t).
 */
#ifndef FAILOVERD_CONFIG_H
#define FAILOVERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "elect.h"
#include "log.h"
#include "model.h"
#include "names.h"
#include "tls.h"

/* What a switchover does with writes still running on the old primary. */
typedef enum { FO_LONG_WRITES_WAIT, FO_LONG_WRITES_KILL } fo_long_writes_t;

typedef enum { FO_WEBHOOK_JSON, FO_WEBHOOK_SLACK } fo_webhook_format_t;

/* Hook points at which a script hook may run (fo_hook_point_t, names.h) index
 * fo_hooks_cfg_t.cmd. */

/* The names used in the file ("wait", "slack", "pre_failover" ...).  Policies and
 * promotion rules are elect.h's policy_t and model.h's promotion_rule_t, with
 * their policy_str() and promotion_rule_str(). */
const char *fo_long_writes_str(fo_long_writes_t w);
const char *fo_webhook_format_str(fo_webhook_format_t f);
const char *fo_hook_point_str(fo_hook_point_t h);

/* Where something was written: file (as the operator named it) and line.  The file
 * string belongs to the fo_config_t; line 0 means "not written, a default". */
typedef struct {
    const char *file;
    unsigned line;
} fo_src_t;

/* One entry of a free-form group (a node's vars, a plugin's config).  value is the
 * text of the scalar: strings as written, integers in decimal, booleans as
 * "true"/"false", floats with %.17g. */
typedef enum { FO_KV_STRING, FO_KV_INT, FO_KV_FLOAT, FO_KV_BOOL } fo_kv_type_t;
typedef struct {
    char *key;
    char *value;
    fo_kv_type_t type;
    fo_src_t src;
} fo_kv_t;
typedef struct {
    fo_kv_t *items;
    size_t n;
} fo_kvlist_t;
/* The value of key, or NULL when absent. */
const char *fo_kv_get(const fo_kvlist_t *kv, const char *key);
const fo_kv_t *fo_kv_find(const fo_kvlist_t *kv, const char *key);

typedef struct {
    unsigned *ids;
    size_t n;
} fo_idlist_t;

typedef struct {
    char **items;
    size_t n;
} fo_strlist_t;

typedef struct {
    char *control_socket;
    unsigned control_socket_mode; /* permission bits, e.g. 0660 */
    char *control_socket_group;   /* "" = the daemon's own group */
    fo_idlist_t control_allowed_uids;
    fo_idlist_t control_allowed_gids;
    int control_max_request; /* bytes */
    char *state_dir;
    log_level_t log_level;
    uint64_t probe_interval_ms;
    uint64_t probe_timeout_ms;
    uint64_t down_after_ms;
    uint64_t reconnect_backoff_max_ms;
    uint64_t replica_confirm_ms;
    uint64_t stall_grace_ms;
    policy_t policy;
    fo_idlist_t control_readonly_uids; /* readers: status, plan, history only */
    fo_idlist_t control_readonly_gids;
    char *metrics_listen; /* "" = no metrics listener */
    int journal_max_bytes;
} fo_daemon_cfg_t;

typedef struct {
    char *name; /* as written, or host / host:port */
    char *host;
    int port;
    promotion_rule_t promotion_rule;
    fo_kvlist_t vars; /* strings only */
    size_t index;     /* position in the cluster's list: config order */
    fo_src_t src;
    /* TLS as written for the node: ssl_mode FO_SSL_MODE_CLUSTER and "" take
     * the cluster's value. */
    int ssl_mode; /* a tls_mode_t, or FO_SSL_MODE_CLUSTER */
    char *ssl_ca, *ssl_capath, *ssl_cert, *ssl_key, *tls_version, *ssl_cipher;
    /* The node's effective TLS settings (its own, else the cluster's); the
     * strings point into this tree, NULL when unset. */
    tls_cfg_t tls;
} fo_node_cfg_t;

/* A node's ssl_mode when it is not set: the cluster's. */
#define FO_SSL_MODE_CLUSTER (TLS_MODE_VERIFY_IDENTITY + 1)

typedef struct {
    /* A command line: absolute path of an executable, then arguments separated by
     * spaces; "" when no hook is set at that point. */
    char *cmd[FO_HOOK__COUNT];
    uint64_t timeout_ms;
} fo_hooks_cfg_t;

typedef struct {
    char *path; /* as written; relative = in the plugin directory */
    fo_kvlist_t config;
    fo_src_t src;
} fo_plugin_cfg_t;

typedef struct {
    char *url;
    fo_webhook_format_t format;
    uint64_t timeout_ms;
    int retries;
    fo_strlist_t events; /* empty = every event */
    fo_src_t src;
} fo_webhook_cfg_t;

typedef struct {
    char *name;
    policy_t policy;
    char *user;
    char *password;      /* the secret itself, also when read from a file */
    char *password_file; /* "" when given inline */
    char *repl_user;
    char *repl_password;
    char *repl_password_file;
    bool auto_failover;
    uint64_t failover_block_ms;
    bool auto_rejoin;
    bool semisync;
    uint64_t probe_interval_ms; /* these four: the daemon's unless overridden */
    uint64_t probe_timeout_ms;
    uint64_t down_after_ms;
    uint64_t replica_confirm_ms;
    uint64_t fence_timeout_ms;
    uint64_t wait_apply_timeout_ms;
    uint64_t catchup_timeout_ms;
    uint64_t verify_timeout_ms;
    uint64_t step_timeout_ms;
    uint64_t switchover_lag_max_ms;
    uint64_t switchover_timeout_ms;
    fo_long_writes_t long_writes;
    uint64_t long_writes_timeout_ms;
    int connect_retry; /* seconds (CHANGE ... CONNECT_RETRY) */
    uint64_t heartbeat_period_ms;
    fo_node_cfg_t *nodes;
    size_t n_nodes;
    fo_hooks_cfg_t hooks;
    fo_plugin_cfg_t *plugins;
    size_t n_plugins;
    fo_webhook_cfg_t *webhooks;
    size_t n_webhooks;
    size_t index;
    fo_src_t src;
    uint64_t startup_grace_ms; /* a never-reached primary: see startup.h */
    uint64_t unseen_hold_ms;
    /* TLS to the nodes (tls.h); each node may override each. "" = unset. */
    tls_mode_t ssl_mode;
    char *ssl_ca, *ssl_capath, *ssl_cert, *ssl_key, *tls_version, *ssl_cipher;
    char *max_read_lag; /* read/write routing (route.h): checked by route_lag_parse */
    bool read_fallback_primary;
    char *topology_file; /* "" none */
    char *salvage_command; /* salvage.h: "" off */
    char *salvage_client;
    char *salvage_credentials; /* "" = the admin account */
    uint64_t salvage_timeout_ms;
    bool relay_keep;   /* failover: a surviving relay keeps its replicas */
    int relay_repoint; /* a lost relay's replicas go to: 0 its source, 1 the primary */
} fo_cluster_cfg_t;

typedef struct {
    char *crash_at_step; /* "" = never */
    char *block_loop;    /* "" = never */
} fo_test_cfg_t;

/* coordination: standalone, or managers coordinated through etcd (docs/ha.md). */
typedef enum { FO_COORD_STANDALONE, FO_COORD_ETCD } fo_coord_mode_t;
const char *fo_coord_mode_str(fo_coord_mode_t m);
typedef struct {
    fo_coord_mode_t mode;
    fo_strlist_t etcd_endpoints; /* http(s)://host:port */
    char *key_prefix;            /* starts and ends with '/' */
    char *manager_id;            /* etcd mode: the host name when not set */
    char *zone;
    int lease_ttl; /* seconds */
    char *etcd_ca, *etcd_cert, *etcd_key; /* "" = unset */
    uint64_t etcd_timeout_ms;
    /* The managers whose observations make the verdict on a primary (their
     * manager_id, this one included); none: each manager judges alone. */
    fo_strlist_t managers;
    char *verdict_quorum;         /* "majority" or a number */
    unsigned verdict_quorum_k;    /* parsed: 0 majority, else the number */
} fo_coord_cfg_t;

typedef struct {
    char *path; /* the file as given to fo_config_load */
    fo_daemon_cfg_t daemon;
    fo_cluster_cfg_t *clusters;
    size_t n_clusters;
    fo_test_cfg_t test;
    char **files; /* every file read (main file, includes): fo_src_t.file */
    size_t n_files;
    fo_coord_cfg_t coord;
} fo_config_t;

/* Errors of one load, each a line "file:line: setting.path: message", sorted by
 * file and line.  At most FO_CONFIG_MAX_ERRORS are kept; `more` counts the rest. */
#define FO_CONFIG_MAX_ERRORS 50
typedef struct {
    char **lines;
    size_t n;
    size_t more;
} fo_config_errors_t;

#define FO_CONFIG_ERRORS_INIT                                                                      \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Read and validate path.  Returns the tree, or NULL with every error found in
 * errs (which the caller frees with fo_config_errors_free; it may be passed in
 * already used: it is reset first). */
fo_config_t *fo_config_load(const char *path, fo_config_errors_t *errs);
void fo_config_free(fo_config_t *cfg);
void fo_config_errors_free(fo_config_errors_t *errs);
/* All errors as one text, a line each, with "... and N more errors" if some were dropped. */
void fo_config_errors_format(const fo_config_errors_t *errs, buf_t *out);

/* The effective configuration (defaults and inherited values filled in) in the
 * file's own syntax.  Passwords are printed as "********" (a password read from a
 * file shows only password_file), and so are the path and query of webhook URLs
 * and plugin settings whose name contains "password", "secret" or "token". */
void fo_config_print(const fo_config_t *cfg, buf_t *out);

/* The settings reference (Markdown), generated from the table: the part of
 * docs/configuration.md between its "generated" markers. */
void fo_config_doc(buf_t *out);

/* Look-ups; NULL when there is no such cluster / node. */
const fo_cluster_cfg_t *fo_config_cluster(const fo_config_t *cfg, const char *name);
const fo_node_cfg_t *fo_config_node(const fo_cluster_cfg_t *cluster, const char *name);
/* The node at host:port (host compared without case), as replication reports it. */
const fo_node_cfg_t *fo_config_node_by_addr(const fo_cluster_cfg_t *cluster, const char *host,
                                            int port);

/* "500ms", "2s", "1m30s", "1h": the shortest exact spelling of a duration. */
void fo_duration_format(uint64_t ms, buf_t *out);
/* Parse a duration string: one or more <number><unit> terms (unit ms, s, m or h;
 * the number may have a fraction, "1.5s"), e.g. "500ms", "1m30s".  false when
 * malformed, not a whole number of milliseconds, or too large. */
bool fo_duration_parse(const char *s, uint64_t *ms);

#endif
