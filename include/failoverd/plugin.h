/* failoverd/plugin.h - the C ABI between failoverd and its plugins.
 *
 * A plugin is a shared object that exports one symbol, `failoverd_plugin`, a
 * descriptor (failoverd_plugin_t) whose abi_version must equal the daemon's
 * FAILOVERD_PLUGIN_ABI_VERSION.  The daemon loads it once per cluster that
 * names it in its configuration, calls init() with that cluster's settings,
 * calls on_event() at every hook point the plugin asked for, and fini() when
 * the configuration is reloaded or the daemon stops.
 *
 * Everything runs on the daemon's single event loop thread.  A plugin must not
 * block: no sleep(), no waiting for a child process, no blocking network I/O.
 * Work that takes time (running ssh, ip, arping, nsupdate ...) goes through the
 * host's spawn() service, whose completion arrives later as a callback; the
 * plugin reports the end of each on_event() call by calling host->done().
 *
 * The plugin needs no library of the daemon: this header is self-contained and
 * the host's services come as function pointers.
 *
 * Compatibility rules.  abi_version changes when anything here changes in an
 * incompatible way, and the daemon refuses plugins built for another version.
 * Within one version, fields are only ever appended to the structs that carry a
 * `size` member; a plugin that reads a field added later than the header it
 * was built with checks FAILOVERD_HAS_FIELD() first.  Hook point numbers never
 * change; new points are appended.
 *
 * See docs/plugins.md for a walk-through and docs/events.md for the events.
 */
#ifndef FAILOVERD_PLUGIN_H
#define FAILOVERD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FAILOVERD_PLUGIN_ABI_VERSION 1

/* The name of the descriptor symbol the daemon looks up. */
#define FAILOVERD_PLUGIN_SYMBOL "failoverd_plugin"

/* Put this on the descriptor so it is exported even when the plugin is built
 * with -fvisibility=hidden. */
#define FAILOVERD_PLUGIN_EXPORT __attribute__((visibility("default")))

/* True when the struct at p (with a `size` member) is large enough to hold
 * field, i.e. the daemon that filled it knows that field. */
#define FAILOVERD_HAS_FIELD(p, field)                                                              \
    ((p)->size >= offsetof(__typeof__(*(p)), field) + sizeof((p)->field))

/* The hook points, in the order of a failover.  The numbers are part of the ABI
 * and match the daemon's configuration (clusters[].hooks). */
typedef enum {
    FAILOVERD_HOOK_DETECTION = 0,         /* the primary was found dead */
    FAILOVERD_HOOK_PRE_FAILOVER = 1,      /* before a failover; may veto it */
    FAILOVERD_HOOK_FENCE = 2,             /* fence the old primary (VIP release, STONITH) */
    FAILOVERD_HOOK_POST_PROMOTION = 3,    /* the new primary is writable: move traffic */
    FAILOVERD_HOOK_POST_FAILOVER = 4,     /* a failover succeeded */
    FAILOVERD_HOOK_FAILOVER_FAILED = 5,   /* a failover failed or was aborted */
    FAILOVERD_HOOK_SWITCHOVER_BEFORE = 6, /* before a switchover; may veto it */
    FAILOVERD_HOOK_SWITCHOVER_AFTER = 7,  /* a switchover finished (done, failed, rolled back) */
    FAILOVERD_HOOK_NODE_DOWN = 8,         /* a node stopped answering */
    FAILOVERD_HOOK_NODE_UP = 9,           /* a node answers again */
    FAILOVERD_HOOK_ROUTING = 10,          /* the writer or the reader pool changed; the
                                             event JSON says where traffic goes now */
    FAILOVERD_HOOK__COUNT = 11
} failoverd_hook_point_t;

/* A bit per hook point, for failoverd_plugin_t.points. */
#define FAILOVERD_POINT(p) (1u << (unsigned)(p))
#define FAILOVERD_POINTS_ALL ((1u << FAILOVERD_HOOK__COUNT) - 1u)

/* How a plugin's handling of one hook point ended (host->done). */
typedef enum {
    FAILOVERD_DONE_OK = 0,
    FAILOVERD_DONE_FAILED = 1, /* reported; the failover goes on */
    FAILOVERD_DONE_VETO = 2,   /* at pre_failover / switchover_before: stop the operation;
                                  elsewhere it counts as FAILED */
} failoverd_outcome_t;

/* Log levels of host->log; the same as the daemon's. */
typedef enum {
    FAILOVERD_LOG_DEBUG = 0,
    FAILOVERD_LOG_INFO = 1,
    FAILOVERD_LOG_NOTICE = 2,
    FAILOVERD_LOG_WARN = 3,
    FAILOVERD_LOG_ERROR = 4,
} failoverd_log_level_t;

/* One setting of the plugin's `config` group, as text: strings as written,
 * integers in decimal, booleans "true"/"false". */
typedef struct {
    const char *key;
    const char *value;
} failoverd_kv_t;

/* A node as the configuration names it.  A field that is not known is "" (port
 * 0); strings are never NULL. */
typedef struct {
    const char *name;
    const char *host;
    int port;
} failoverd_node_ref_t;

/* A node of the plugin's cluster, with its free-form `vars` (the host to ssh
 * to, a network namespace, an interface ...). */
typedef struct {
    const char *name;
    const char *host;
    int port;
    const failoverd_kv_t *vars;
    size_t n_vars;
} failoverd_node_t;

/* A duration measured by the daemon, e.g. {"detection_ms", 812}. */
typedef struct {
    const char *name;
    int64_t ms;
} failoverd_timing_t;

/* What happened, as given to scripts (in FAILOVERD_* environment variables) and
 * plugins alike.  Strings are never NULL ("" when not known) and stay valid until
 * the plugin calls host->done() for this call.  There are never passwords here. */
typedef struct {
    uint32_t size; /* sizeof as the daemon knows it */
    failoverd_hook_point_t point;
    const char *hook; /* the point's name: "pre_failover" ... */
    const char *cluster;
    const char *event;         /* the event that led here: "failover_started" ... */
    const char *operation;     /* the failover/switchover id in the journal, or "" */
    const char *policy;        /* "reliability" or "availability" */
    failoverd_node_ref_t node; /* the node the event is about (node_down ...) */
    failoverd_node_ref_t old_primary;
    failoverd_node_ref_t new_primary; /* set once a new primary is chosen */
    failoverd_node_ref_t candidate;   /* the elected candidate before promotion */
    const char *lost_gtids;           /* transactions possibly lost (availability policy) */
    const char *errant_gtids;         /* transactions only some replica has */
    const failoverd_timing_t *timings;
    size_t n_timings;
    const char *message;    /* one sentence for people */
    const char *event_json; /* the whole event as one JSON object */
    /* Added within ABI 1 (check size): what a failover lost, as a lower bound
     * with its time - at least lost_at_least transactions, counted against
     * the old primary's GTID state at its last successful probe, at
     * lost_as_of (ISO-8601 UTC; "" when not known, and then lost_at_least
     * means nothing). The old primary may have committed more after it. */
    int64_t lost_at_least;
    const char *lost_as_of;
} failoverd_context_t;

/* A command for host->spawn(). */
typedef struct {
    uint32_t size;           /* sizeof(failoverd_spawn_t) */
    const char *const *argv; /* argv[0]: absolute path of the executable; NULL-terminated */
    const char *const *env;  /* extra "NAME=value" entries, NULL-terminated, or NULL;
                                they are added to the daemon's own environment (less
                                NOTIFY_SOCKET, WATCHDOG_* and LISTEN_*) */
    uint64_t timeout_ms;     /* 0: the cluster's hook timeout */
    const char *input;       /* written to the command's standard input, or NULL */
    size_t input_len;
} failoverd_spawn_t;

/* How a spawned command ended. */
typedef enum {
    FAILOVERD_SPAWN_EXITED = 0,   /* exit_code is valid */
    FAILOVERD_SPAWN_SIGNALED = 1, /* killed by term_signal (not by the host) */
    FAILOVERD_SPAWN_TIMEOUT = 2,  /* the host killed it (process group) at timeout_ms */
    FAILOVERD_SPAWN_ERROR = 3,    /* could not be started; error says why */
} failoverd_spawn_status_t;

typedef struct {
    uint32_t size;
    failoverd_spawn_status_t status;
    int exit_code;
    int term_signal;
    uint64_t elapsed_ms;
    const char *out; /* standard output, bounded, NUL-terminated */
    size_t out_len;
    const char *err; /* standard error, bounded, NUL-terminated */
    size_t err_len;
    const char *error; /* for FAILOVERD_SPAWN_ERROR, else "" */
} failoverd_spawn_result_t;

/* The result is valid during the callback only. */
typedef void (*failoverd_spawn_cb)(void *ud, const failoverd_spawn_result_t *result);
typedef void (*failoverd_timer_cb)(void *ud);

/* One on_event() call in progress; handed back to host->done(). */
typedef struct failoverd_call failoverd_call_t;

/* Services of the daemon, one instance per loaded plugin. */
typedef struct failoverd_host {
    uint32_t size;
    /* A log line, prefixed with the plugin's name and cluster. */
    void (*log)(const struct failoverd_host *host, failoverd_log_level_t level, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
    /* Runs a command without waiting for it.  Returns 0, and cb is called exactly
     * once later (never from within spawn()); or a negative errno when the
     * request itself is unusable (no argv, relative path), and cb is never called.
     * A command that cannot be executed (ENOENT ...) is reported through cb with
     * FAILOVERD_SPAWN_ERROR.  A command that outlives its timeout is sent SIGTERM
     * with its whole process group, then SIGKILL after a grace period. */
    int (*spawn)(const struct failoverd_host *host, const failoverd_spawn_t *cmd,
                 failoverd_spawn_cb cb, void *ud);
    /* Calls cb once, after delay_ms.  Timers still pending at fini() are dropped
     * without being called. Returns 0. */
    int (*after)(const struct failoverd_host *host, uint64_t delay_ms, failoverd_timer_cb cb,
                 void *ud);
    /* Ends one on_event() call; must be called exactly once per call, from on_event()
     * itself or later.  message (may be NULL) says what was done or what went wrong. */
    void (*done)(failoverd_call_t *call, failoverd_outcome_t outcome, const char *message);
    /* Milliseconds of the daemon's monotonic clock. */
    uint64_t (*now_ms)(const struct failoverd_host *host);
} failoverd_host_t;

/* What init() receives.  Every pointer stays valid until fini(). */
typedef struct {
    uint32_t size;
    const char *cluster;
    const failoverd_kv_t *config; /* the plugin's `config` group */
    size_t n_config;
    const failoverd_node_t *nodes; /* the cluster's nodes in configuration order */
    size_t n_nodes;
    const failoverd_host_t *host;
    const char *path; /* the shared object, as resolved */
} failoverd_init_t;

/* The descriptor a plugin exports as `failoverd_plugin`. */
typedef struct {
    uint32_t abi_version; /* FAILOVERD_PLUGIN_ABI_VERSION */
    const char *name;     /* short, for logs: "vip", "dns" */
    const char *version;  /* the plugin's own version, for logs; may be NULL */
    uint32_t points;      /* FAILOVERD_POINT() bits of the hook points it handles */
    /* Checks the configuration and prepares; must not act on the cluster (it also
     * runs for `failoverd --check-config` and for reloads that are then refused).
     * Returns 0 and sets *state, or non-zero with a one-line reason in err. */
    int (*init)(const failoverd_init_t *args, void **state, char *err, size_t err_len);
    /* Handles one hook point; ctx stays valid until host->done(call, ...). */
    void (*on_event)(void *state, const failoverd_context_t *ctx, failoverd_call_t *call);
    /* Frees the state.  Called only when no call is in progress and every
     * spawned command has ended. */
    void (*fini)(void *state);
} failoverd_plugin_t;

/* Every plugin defines this: FAILOVERD_PLUGIN_EXPORT const failoverd_plugin_t
 * failoverd_plugin = {...}; */
extern const failoverd_plugin_t failoverd_plugin;

/* "pre_failover" ...; NULL for a number out of range.  Header-only so plugins
 * need no library. */
static inline const char *failoverd_hook_point_name(failoverd_hook_point_t p)
{
    static const char *const names[FAILOVERD_HOOK__COUNT] = {"detection",
                                                             "pre_failover",
                                                             "fence",
                                                             "post_promotion",
                                                             "post_failover",
                                                             "failover_failed",
                                                             "switchover_before",
                                                             "switchover_after",
                                                             "node_down",
                                                             "node_up",
                                                             "routing"};
    return (unsigned)p < FAILOVERD_HOOK__COUNT ? names[p] : NULL;
}

#ifdef __cplusplus
}
#endif

#endif
