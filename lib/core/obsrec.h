/* obsrec.h - the observation record: what one manager publishes about one
 * cluster for the other managers to read (pure: no I/O, no clock).
 *
 * Several failoverd instances (managers) watch the same cluster; each
 * publishes what it sees, and the verdict (quorum.h) counts their views of
 * the primary. A record is small JSON, one object:
 *
 *   {"v": 1, "manager": "m1", "zone": "dc1", "cluster": "main", "seq": 42,
 *    "published_at": 1795474201123, "primary": "db1",
 *    "nodes": [{"name": "db1", "reachable": false, "since_ms": 5200,
 *               "error": "timeout",
 *               "gtid": {"hash": "9c3b5e0f1a2d4c6e", "count": 4242}},
 *              {"name": "db2", "reachable": true, "since_ms": 86400000,
 *               "io": "yes", "sql": true, "source": "10.0.0.1:3306",
 *               "gtid": {...}, "lag_ms": 120}]}
 *
 * A member that is unknown or does not apply (a node that is no replica has
 * no io, sql, source or lag_ms) is left out or null.
 *
 * Times: a manager's monotonic clock means nothing on another host, and its
 * wall clock may be off. So a node's state carries its age at publish time
 * (since_ms), published_at is the publisher's wall clock for people only,
 * and a reader judges freshness by when IT received the record (quorum.h),
 * never by published_at.
 *
 * GTID state travels as a digest, not as text: a MySQL set with many server
 * UUIDs is long, and managers only need to tell whether they see the same
 * state (hash of the canonical text) and roughly how far apart (count of
 * transactions). The publisher computes both from the parsed value.
 *
 * Decoding is strict: a record that is not valid JSON, too large, of another
 * version, or with a field of the wrong type or out of range is rejected as a
 * whole with one sentence saying why. Fields a record has that this version
 * does not know are ignored, so a newer publisher can add some; "v" changes
 * only when a field's meaning does. */
#ifndef FAILOVERD_OBSREC_H
#define FAILOVERD_OBSREC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"

#define OBSREC_VERSION 1
#define OBSREC_MAX_BYTES 16384 /* encoded size bound, both ways */
#define OBSREC_MAX_NODES 64
#define OBSREC_ID_MAX 64    /* manager id, zone: bytes */
#define OBSREC_NAME_MAX 255 /* cluster, node and host names: bytes */
#define OBSREC_HASH_LEN 16  /* hex digits of the GTID digest */
#define OBSREC_ERR_SIZE 160

/* Why the publisher's latest probe of a node failed, as a class that means
 * the same on every host. */
typedef enum {
    OBS_ERR_NONE,      /* the probe succeeded */
    OBS_ERR_CONNECT,   /* refused, no route, name not resolved */
    OBS_ERR_TIMEOUT,   /* no answer within the probe timeout */
    OBS_ERR_AUTH,      /* access denied */
    OBS_ERR_PRIVILEGE, /* connected, but the probe was refused */
    OBS_ERR_QUERY,     /* connected, a query failed */
    OBS_ERR_OTHER,
} obs_err_t;

typedef struct {
    char *name;          /* the node's name in the cluster's configuration */
    bool reachable;      /* the publisher's latest probe of it succeeded */
    uint64_t since_ms;   /* how long it had been (un)reachable when published */
    obs_err_t error;     /* OBS_ERR_NONE when reachable */
    io_state_t io;       /* its replica IO thread; IO_UNKNOWN when not a replica or unknown */
    int sql;             /* its replica SQL thread: 1 running, 0 not, -1 unknown / not a replica */
    char *source;        /* "host:port" it replicates from, NULL none or unknown */
    char gtid_hash[OBSREC_HASH_LEN + 1]; /* "" unknown */
    uint64_t gtid_count; /* transactions in its executed GTID state (0 when unknown) */
    int64_t lag_ms;      /* replication lag, -1 unknown / not a replica */
} obsrec_node_t;

typedef struct {
    unsigned version;      /* OBSREC_VERSION */
    char *manager;         /* the publisher's id */
    char *zone;            /* where it runs ("" not configured) */
    char *cluster;
    uint64_t seq;          /* publisher's counter, +1 per record */
    uint64_t published_at; /* publisher's wall clock, ms since the epoch: for people only */
    char *primary;         /* the node the publisher takes for the primary, NULL none */
    obsrec_node_t *nodes;
    size_t n_nodes;
} obsrec_t;

/* The record as a JSON object (new reference). */
json_t *obsrec_to_json(const obsrec_t *r);

/* The record as compact JSON text (caller frees), or NULL with err when it
 * breaks a rule the decoder would reject it for (so nothing is published
 * that the other managers throw away). */
char *obsrec_encode(const obsrec_t *r, char *err, size_t err_len);

/* Parses len bytes of text into *out (freed with obsrec_free). On failure
 * returns false, leaves *out empty and says why in err. */
bool obsrec_decode(const char *text, size_t len, obsrec_t *out, char *err, size_t err_len);

/* The same from a parsed JSON value. */
bool obsrec_from_json(const json_t *j, obsrec_t *out, char *err, size_t err_len);

void obsrec_free(obsrec_t *r);

/* The node entry named name, or NULL. */
const obsrec_node_t *obsrec_node(const obsrec_t *r, const char *name);

/* The digest of a GTID state's canonical text (gtid_set_format /
 * gtid_pos_format): FNV-1a 64 as OBSREC_HASH_LEN hex digits into out. */
void obsrec_gtid_hash(const char *canonical, char out[OBSREC_HASH_LEN + 1]);

const char *obs_err_str(obs_err_t e);
/* false when s names no class. */
bool obs_err_parse(const char *s, obs_err_t *out);

#endif
