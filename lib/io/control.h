/* control.h - the daemon's control socket: newline-delimited JSON over a Unix socket.
 *
 * The server runs on the daemon's libuv loop and never blocks it. Each request
 * is one JSON object on one line ({"cmd": "...", "args": {...}}); each reply is
 * one line ({"ok": true, "result": ...} or {"ok": false, "error": {...}}). A
 * connection may carry several requests; they are answered in the order they
 * arrived, even when a handler answers seconds later (a switchover) while a
 * later request was ready at once. docs/protocol.md is the full description.
 *
 * Handlers are registered by command name. A handler receives a request and
 * answers it exactly once, at once or later, with control_reply_ok() or
 * control_reply_error(); after that call the request is gone. When the client
 * went away before the answer, the answer is dropped and the request freed:
 * a handler may always reply, even after the connection or the server closed.
 *
 * Defences against slow or hostile clients, each bounded by an option:
 *   - the peer's credentials (SO_PEERCRED) are checked against allowed uids
 *     and gids (operators) and read-only uids and gids (readers); root and the
 *     daemon's own uid are always operators; others get a "forbidden" reply and
 *     the connection is closed; a reader's request for a command not marked
 *     read-only gets "forbidden"; every request is judged by the lists in
 *     force when it arrives (a reload may change them);
 *   - a request line longer than max_request gets "too_large", then close;
 *   - a connection with nothing in progress at a handler must send a complete
 *     request within idle_timeout_ms of its previous one (or of connecting):
 *     trickling half a line does not extend the deadline;
 *   - replies waiting for a peer that does not read are bounded by max_output;
 *     beyond it the connection is closed;
 *   - at most max_connections connections, the last CONTROL_RESERVED_SLOTS of
 *     them for operators; more get "busy", then close; while readers are
 *     refused, idle connections must send within CONTROL_PRESSURE_IDLE_MS;
 *   - refused connections are logged at most once per CONTROL_REFUSAL_LOG_MS;
 *   - at most CONTROL_MAX_PIPELINE requests of one connection are at handlers
 *     at once; reading pauses until some are answered.
 */
#ifndef FAILOVERD_CONTROL_H
#define FAILOVERD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

/* Error codes of the protocol (the "code" of an error reply). */
#define CONTROL_E_BAD_REQUEST "bad_request"
#define CONTROL_E_UNKNOWN_COMMAND "unknown_command"
#define CONTROL_E_MISSING_ARGUMENT "missing_argument"
#define CONTROL_E_BAD_ARGUMENT "bad_argument"
#define CONTROL_E_NOT_FOUND "not_found"
#define CONTROL_E_BUSY "busy"
#define CONTROL_E_FORBIDDEN "forbidden"
#define CONTROL_E_TOO_LARGE "too_large"
#define CONTROL_E_INTERNAL "internal"
#define CONTROL_E_FAILED "failed"

#define CONTROL_DEFAULT_MAX_REQUEST (64 * 1024)
#define CONTROL_DEFAULT_MAX_OUTPUT (4 * 1024 * 1024)
#define CONTROL_DEFAULT_IDLE_TIMEOUT_MS 30000
#define CONTROL_DEFAULT_MAX_CONNECTIONS 32
#define CONTROL_MAX_PIPELINE 16
/* Connections only root and operators may take: readers are refused ("busy")
 * once max_connections - CONTROL_RESERVED_SLOTS are open. */
#define CONTROL_RESERVED_SLOTS 4
/* Once readers are refused, idle connections get this long instead of
 * idle_timeout_ms to send their next request. */
#define CONTROL_PRESSURE_IDLE_MS 2000
/* Refused connections are logged at most once per this interval; the line
 * counts those not logged since. */
#define CONTROL_REFUSAL_LOG_MS 10000

typedef struct control control_t;
typedef struct control_req control_req_t;

/* Who may talk to the daemon, besides root and the daemon's own uid. A peer is
 * allowed when its uid is listed, or its primary group or one of its
 * supplementary groups is listed. Both lists empty: only root and self. */
typedef struct {
    uid_t self_uid; /* the daemon's own uid (geteuid()) */
    const uid_t *uids;
    size_t n_uids;
    const gid_t *gids;
    size_t n_gids;
    /* Readers: peers that may run the commands marked read-only (status,
     * plan, history) and nothing else. Being an operator wins. */
    const uid_t *ro_uids;
    size_t n_ro_uids;
    const gid_t *ro_gids;
    size_t n_ro_gids;
} control_acl_t;

/* What a peer may do: nothing, read, or everything. */
typedef enum { CONTROL_ROLE_NONE, CONTROL_ROLE_READ, CONTROL_ROLE_OPERATE } control_role_t;

/* The credentials of a connected peer. */
typedef struct {
    pid_t pid;
    uid_t uid;
    gid_t gid;           /* primary group */
    const gid_t *groups; /* supplementary groups, when the kernel tells them */
    size_t n_groups;
} control_peer_t;

typedef struct {
    const char *path;   /* socket path (copied) */
    int mode;           /* permission bits of the socket file; -1: leave as created */
    gid_t gid;          /* group of the socket file; (gid_t)-1: leave */
    control_acl_t acl;  /* lists are copied */
    size_t max_request; /* longest request line in bytes, newline excluded */
    size_t max_output;  /* bytes of replies a peer may leave unread */
    unsigned idle_timeout_ms;
    unsigned max_connections;
} control_opts_t;

/* Defaults: no path, mode 0660, group unchanged, self_uid = geteuid(), no extra
 * uids/gids, and the CONTROL_DEFAULT_* limits. */
void control_opts_init(control_opts_t *opts);

/* The pure access rule; see control_acl_t. control_peer_allowed() is true
 * for operators (control_peer_role() == CONTROL_ROLE_OPERATE). */
bool control_peer_allowed(const control_peer_t *peer, const control_acl_t *acl);
control_role_t control_peer_role(const control_peer_t *peer, const control_acl_t *acl);

/* Whether a new connection of a peer with role is taken when open connections
 * (this one not counted) are open: operators up to max_connections, readers up
 * to max_connections - CONTROL_RESERVED_SLOTS (at least one). */
bool control_slot_free(control_role_t role, unsigned open, unsigned max_connections);

/* Replace the access lists (copied) and the longest request; a reload. Every
 * request, also on a connection opened before, is judged by the new lists. */
void control_set_acl(control_t *ctl, const control_acl_t *acl);
void control_set_max_request(control_t *ctl, size_t max_request);
/* Set the socket file's permission bits and group (a reload), if the file is
 * still the one this server created; false with err filled otherwise. */
bool control_set_file_access(control_t *ctl, int mode, gid_t gid, char *err, size_t errlen);

/* Mark cmd (registered or not yet) as one that readers may run. */
void control_mark_readonly(control_t *ctl, const char *cmd);

/* A gate before the commands that change something (those readers may not
 * run): false refuses cmd with the error "failed", the message why and the
 * extra members (a new reference, or NULL) in the error object.  Set by the
 * daemon when several managers coordinate: a follower refuses and names the
 * leader.  NULL removes it. */
typedef bool (*control_gate_fn)(const char *cmd, char *why, size_t len, json_t **extra,
                                void *ud);
void control_set_gate(control_t *ctl, control_gate_fn gate, void *ud);

/* A request handler. It must answer req exactly once (now or later). */
typedef void (*control_handler_fn)(control_req_t *req, void *userdata);

/* A server on loop; nothing is opened yet. Never NULL. */
control_t *control_create(uv_loop_t *loop, const control_opts_t *opts);

/* Register (or replace) the handler of cmd. Commands are listed, in the order
 * they were first registered, in the "unknown_command" reply. */
void control_register(control_t *ctl, const char *cmd, control_handler_fn fn, void *userdata);

/* Bind and listen. A stale socket file (nobody accepts on it) is removed first;
 * a live one (another daemon), or anything at the path that is not a socket,
 * is an error. The mode and group are set before the socket accepts. On error
 * a message goes into err and false is returned; control_close() is still
 * needed. Ignores SIGPIPE for the process: a write to a vanished client must
 * fail with EPIPE, not kill the daemon. */
bool control_listen(control_t *ctl, char *err, size_t errlen);

/* Close the listener and every connection, remove the socket file (if it is
 * still the one this server created), then call cb(data) from the loop and free
 * ctl. Requests still at handlers stay valid; their replies are dropped. */
void control_close(control_t *ctl, void (*cb)(void *data), void *data);

/* Open connections (for status output and tests). */
unsigned control_connection_count(const control_t *ctl);

/* The request's command name and arguments (an object, never NULL; borrowed,
 * valid until the reply). */
const char *control_req_cmd(const control_req_t *req);
json_t *control_req_args(const control_req_t *req);
/* Whether the client is still connected: a long handler may log it. */
bool control_req_connected(const control_req_t *req);
/* The peer's uid and pid, for the audit line of commands that change things. */
uid_t control_req_uid(const control_req_t *req);
pid_t control_req_pid(const control_req_t *req);

/* Answer the request; takes the reference to result (NULL means null). After
 * the call req is freed. */
void control_reply_ok(control_req_t *req, json_t *result);
void control_reply_error(control_req_t *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with more fields in the error object: extra's members (its
 * reference is taken; NULL for none), e.g. what a failed operation did. */
void control_reply_error_with(control_req_t *req, const char *code, json_t *extra,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Argument helpers. Each returns true when the argument is absent and not
 * required (out untouched), or present with the right type (out set; strings
 * are borrowed from the request). Otherwise each replies the error itself
 * ("missing_argument" or "bad_argument") and returns false: the request is then
 * gone and the handler must return without touching it. */
bool control_arg_string(control_req_t *req, const char *name, bool required, const char **out);
bool control_arg_bool(control_req_t *req, const char *name, bool required, bool *out);
bool control_arg_int(control_req_t *req, const char *name, bool required, long long min,
                     long long max, long long *out);
bool control_arg_number(control_req_t *req, const char *name, bool required, double min, double max,
                        double *out);
/* A string that must be one of the NULL-terminated list choices. */
bool control_arg_enum(control_req_t *req, const char *name, bool required,
                      const char *const *choices, const char **out);
/* Reject arguments not in the NULL-terminated list names ("bad_argument"). */
bool control_args_only(control_req_t *req, const char *const *names);

#endif
