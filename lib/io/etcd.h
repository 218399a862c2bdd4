/* etcd.h - a client of etcd's v3 JSON gateway (/v3/...), on the libuv loop.
 *
 * Every request is one HTTP POST driven by libcurl's multi interface
 * (curlloop.h), bounded by the configured timeout; a request that can't connect
 * to one endpoint tries the next, and the endpoint that answered last is tried
 * first next time.  Keys and values are text here and base64 on the wire; the
 * gateway writes int64 fields as strings and leaves out fields at their default
 * value (a failed txn has no "succeeded", an expired lease's keepalive no TTL).
 * A reply is parsed once, here: a malformed one is an error with a message,
 * never a half-filled result.
 *
 * Reads (range) are linearizable: etcd answers them only with a quorum.
 *
 * A watch is one long-lived request whose response streams one JSON object per
 * line; etcd_watch_t reports each event, and an end (cancel, compaction, a cut
 * connection) once; the caller then re-reads and watches again. */
#ifndef FAILOVERD_ETCD_H
#define FAILOVERD_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct etcd etcd_t;

typedef struct {
    char *const *endpoints; /* "http://host:port", no path */
    size_t n_endpoints;
    const char *ca, *cert, *key; /* "" or NULL = unset */
    uint64_t timeout_ms;         /* each request (a watch: its connection) */
} etcd_opts_t;

typedef struct {
    char *key;
    char *value; /* NUL-terminated copy (values are text here) */
    int64_t create_revision, mod_revision, version, lease;
} etcd_kv_t;

/* What a request came back with.  ok false: err says why (transport, HTTP
 * status, etcd's error, or a malformed reply); nothing else is set then. */
typedef struct {
    bool ok;
    char err[256];
    int64_t revision; /* header.revision */
    etcd_kv_t *kvs;   /* range; txn: the first range response of the success ops */
    size_t n_kvs;
    bool succeeded; /* txn */
    int64_t lease_id;
    int64_t ttl; /* lease grant / keepalive: seconds granted; keepalive 0 = lease gone */
} etcd_reply_t;

typedef void (*etcd_cb)(void *ud, const etcd_reply_t *r);

/* What an answer is parsed as. */
typedef enum {
    ETCD_R_RANGE,
    ETCD_R_PUT,
    ETCD_R_DELETE,
    ETCD_R_TXN,
    ETCD_R_LEASE,
    ETCD_R_REVOKE
} etcd_rkind_t;

etcd_t *etcd_create(uv_loop_t *loop, const etcd_opts_t *o);
/* Ends everything in flight: no callback runs any more after this call. The
 * handles are closed and e is freed once they are. */
void etcd_close(etcd_t *e);
/* The endpoint tried first, for messages. */
const char *etcd_endpoint(const etcd_t *e);

void etcd_range(etcd_t *e, const char *key, etcd_cb cb, void *ud);
void etcd_put(etcd_t *e, const char *key, const char *value, int64_t lease, etcd_cb cb,
              void *ud);
void etcd_delete(etcd_t *e, const char *key, etcd_cb cb, void *ud);
void etcd_lease_grant(etcd_t *e, int64_t ttl, etcd_cb cb, void *ud);
void etcd_lease_keepalive(etcd_t *e, int64_t id, etcd_cb cb, void *ud);
void etcd_lease_revoke(etcd_t *e, int64_t id, etcd_cb cb, void *ud);

/* A txn: all compares must hold for the puts/deletes to run (then succeeded);
 * otherwise the failure range (if any) runs and fills kvs. */
typedef enum { ETCD_CMP_CREATE, ETCD_CMP_VALUE } etcd_cmp_target_t;
typedef struct {
    const char *key;
    etcd_cmp_target_t target;
    int64_t create_revision; /* ETCD_CMP_CREATE: equal to this (0 = absent) */
    const char *value;       /* ETCD_CMP_VALUE: equal to this */
} etcd_cmp_t;
typedef struct {
    const char *key;
    const char *value; /* NULL: delete the key */
    int64_t lease;
} etcd_op_t;
void etcd_txn(etcd_t *e, const etcd_cmp_t *cmp, size_t n_cmp, const etcd_op_t *ops, size_t n_ops,
              const char *failure_range, etcd_cb cb, void *ud);

/* Watches. */
typedef enum {
    ETCD_W_CREATED, /* the watch is in place */
    ETCD_W_PUT,
    ETCD_W_DELETE,
    ETCD_W_PROGRESS, /* nothing happened, up to revision */
    ETCD_W_END       /* canceled, compacted, cut or refused: err says which */
} etcd_wkind_t;
typedef struct {
    etcd_wkind_t kind;
    int64_t revision; /* header.revision */
    etcd_kv_t kv;     /* PUT, DELETE */
    char err[256];    /* END */
} etcd_wevent_t;
typedef struct etcd_watch etcd_watch_t;
typedef void (*etcd_watch_cb)(void *ud, const etcd_wevent_t *ev);
/* Watches key from start_revision (0 = from now).  The callback gets END once,
 * after which the watch is finished and freed; etcd_watch_cancel() before that
 * ends it without a callback. */
etcd_watch_t *etcd_watch(etcd_t *e, const char *key, int64_t start_revision, etcd_watch_cb cb,
                         void *ud);
void etcd_watch_cancel(etcd_watch_t *w);

/* Every key that starts with prefix: read them all (kvs), or watch them all
 * (each event names its key).  Otherwise as etcd_range and etcd_watch. */
void etcd_range_prefix(etcd_t *e, const char *prefix, etcd_cb cb, void *ud);
etcd_watch_t *etcd_watch_prefix(etcd_t *e, const char *prefix, int64_t start_revision,
                                etcd_watch_cb cb, void *ud);

/* ---- the JSON side (etcd_json.c), for the client and the tests --------------- */

/* The request body of each operation (a JSON text to free()). */
char *etcd_body_range(const char *key);
char *etcd_body_put(const char *key, const char *value, int64_t lease);
char *etcd_body_delete(const char *key);
char *etcd_body_lease(const char *field, int64_t v); /* {"TTL":v} or {"ID":v} */
char *etcd_body_txn(const etcd_cmp_t *cmp, size_t n_cmp, const etcd_op_t *ops, size_t n_ops,
                    const char *failure_range);
char *etcd_body_watch(const char *key, int64_t start_revision);
char *etcd_body_range_prefix(const char *prefix);
char *etcd_body_watch_prefix(const char *prefix, int64_t start_revision);
/* Parses a unary reply into r (cleared first; free with etcd_reply_free). */
bool etcd_parse_reply(etcd_rkind_t kind, const char *text, size_t len, etcd_reply_t *r);
void etcd_reply_free(etcd_reply_t *r);
/* Parses one line of a watch stream.  Several events may come in one message:
 * each is passed to cb; a message without events gives CREATED, PROGRESS or END.
 * false (with why) for a malformed line. */
bool etcd_parse_watch(const char *line, size_t len, etcd_watch_cb cb, void *ud, char *why,
                      size_t why_len);

#endif
