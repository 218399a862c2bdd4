/* control_int.h - what the control socket's files share: its connections,
 * requests and server, and the few functions one calls in another
 * (control.c runs the connections; control_reply.c builds the replies and
 * reads the arguments; control_access.c holds the access rule). Not for use
 * outside them. */
#ifndef FAILOVERD_CONTROL_INT_H
#define FAILOVERD_CONTROL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "buf.h"
#include "control.h"

typedef struct conn conn_t;

struct control_req {
    conn_t *conn; /* NULL once the connection is gone */
    control_req_t *next;
    char *cmd;
    json_t *args;
    json_t *id;  /* the client's "id", echoed in the reply; may be NULL */
    char *reply; /* the reply line, newline included, once answered */
    size_t reply_len;
    bool answered;
    bool close_after; /* close the connection once this reply is written */
    uid_t uid;
    pid_t pid;
};

struct conn {
    uv_pipe_t pipe; /* first: a uv_stream_t * of it is a conn_t * */
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    control_t *ctl;
    conn_t *prev, *next;
    buf_t in;
    size_t scanned; /* bytes at the start of `in` known to hold no newline */
    control_req_t *head, *tail;
    unsigned in_flight; /* requests at handlers */
    int open_handles;
    uid_t uid;
    pid_t pid;
    bool closing;  /* uv_close issued */
    bool draining; /* a close_after reply is queued: read no more requests */
    bool eof;      /* the peer sent everything it will send */
    bool shut;     /* uv_shutdown issued */
    bool reading;
    bool processing; /* inside process_input: do not re-enter */
    gid_t gid;       /* the peer's primary group */
    gid_t *groups;   /* and its supplementary groups (owned) */
    size_t n_groups;
    bool admitted; /* passed the access and slot checks: counts in n_admitted */
};

typedef struct {
    char *name;
    control_handler_fn fn;
    void *userdata;
    bool readonly; /* readers may run it */
} handler_t;

struct control {
    uv_loop_t *loop;
    uv_pipe_t server;
    char *path;
    int mode;
    gid_t gid;
    control_acl_t acl; /* arrays owned */
    size_t max_request;
    size_t max_output;
    unsigned idle_timeout_ms;
    unsigned max_connections;
    handler_t *handlers;
    size_t n_handlers;
    conn_t *conns;
    unsigned n_conns;
    bool bound; /* the socket file at path is ours (dev/ino) */
    dev_t dev;
    ino_t ino;
    bool closing;
    bool server_closed;
    void (*close_cb)(void *data);
    void *close_data;
    char readbuf[16384];        /* shared: every read is consumed before the next one */
    uint64_t refusal_logged_at; /* loop time of the last refusal logged */
    bool refusal_logged;
    unsigned refusals_quiet; /* refusals since, not logged */
    char **readonly_cmds;    /* marked before registration */
    size_t n_readonly_cmds;
    unsigned n_admitted;      /* connections past the checks; refused ones, closing at
                                 once, take no slot */
    uv_timer_t refusal_timer; /* logs the count of refusals not logged, at the window's end */
    bool refusal_timer_closed;
    control_gate_fn gate; /* asked before every command readers may not run; NULL: none */
    void *gate_ud;
};

typedef struct {
    uv_write_t req;
    char *data;
} wctx_t;

/* control.c */
void control__flush(conn_t *c);
void control__process_input(conn_t *c);
void control__touch(conn_t *c);

/* control_reply.c */
void control__req_free(control_req_t *r);
control_req_t *control__req_new(conn_t *c, json_t *id);
/* An error reply that no handler sees (framing, parse, access, limits). */
void control__synthetic_error(conn_t *c, json_t *id, bool close_after, json_t *extra,
                              const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* control_access.c */
unsigned control__reader_limit(unsigned max_connections);
void control__acl_copy(control_acl_t *to, const control_acl_t *from);
void control__acl_free(control_acl_t *a);

#endif
