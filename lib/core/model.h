/* model.h - clusters, nodes and observations (pure: no I/O, no clock).
 *
 * An observation is everything one probe of one node learned, stamped with
 * the (monotonic, ms) time the probe finished. A node keeps its last
 * successful observation (what is known of it even while it is down: the
 * failover needs a dead primary's last GTID set) and the outcome of its latest
 * probe. Topology inference works out which node is the primary from the
 * nodes' observations and lists what is inconsistent.
 */
#ifndef FAILOVERD_MODEL_H
#define FAILOVERD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "flap.h"
#include "family.h"
#include "gtid.h"
#include "quorum.h"

typedef enum { ROLE_UNKNOWN, ROLE_PRIMARY, ROLE_REPLICA } role_t;
typedef enum { RULE_PREFER, RULE_NEUTRAL, RULE_PREFER_NOT, RULE_MUST_NOT } promotion_rule_t;
typedef enum {
    SEMISYNC_STATE_UNKNOWN, /* not read (not a source, plugin not loaded) */
    SEMISYNC_STATE_ON,      /* commits wait for acknowledgements */
    SEMISYNC_STATE_OFF,     /* enabled, but fallen back to asynchronous commits */
} semisync_state_t;
typedef enum {
    SEMISYNC_WAIT_UNKNOWN,
    SEMISYNC_WAIT_AFTER_SYNC,   /* acked before the engine commits: nobody sees an unacked write */
    SEMISYNC_WAIT_AFTER_COMMIT, /* acked after: other sessions may read a write that is then lost */
} semisync_wait_point_t;

typedef struct {
    uint64_t at;          /* monotonic ms when the probe finished */
    uint64_t started;     /* monotonic ms when the probe began (0: not known) */
    bool ok;              /* the probe succeeded; the rest is valid only then */
    char *error;          /* why it failed, when !ok */
    unsigned err_code;    /* client/server errno of the failure */
    double latency_ms;    /* round trip of the probe query */

    server_family_t family;
    char *version;
    uint32_t server_id;
    char *server_uuid;    /* MySQL only */
    bool read_only;
    int super_read_only;  /* 1, 0, or -1 where the server has none (MariaDB) */
    bool log_bin;
    bool log_replica_updates;
    /* MySQL: @@gtid_executed. MariaDB: @@gtid_binlog_pos (what this server logged). */
    char *gtid_executed;
    char *gtid_current_pos; /* MariaDB only */
    char *gtid_slave_pos;   /* MariaDB only */
    bool semisync_source;
    bool semisync_replica;

    /* Replication, when the node has a replication source configured. */
    bool replica;
    char *source_host;
    unsigned source_port;
    io_state_t io;
    bool sql_running;
    unsigned last_io_errno;
    char *last_io_error;
    unsigned last_sql_errno;
    char *last_sql_error;
    int64_t lag_s;          /* Seconds_Behind_*, -1 when NULL */
    int64_t sql_delay_s;    /* SQL_Delay: a delayed replica is never promoted */
    char *received_gtids;   /* MySQL Retrieved_Gtid_Set; MariaDB Gtid_IO_Pos */
    char *executed_gtids;   /* MySQL Executed_Gtid_Set; MariaDB gtid_slave_pos */
    uint64_t heartbeats;    /* heartbeats received by the IO thread (monotone counter) */
    uint64_t relay_log_space;
    /* Replication filters in force on the default channel, in filters.h's
     * canonical text: "" none; NULL when not a replica. */
    char *repl_filters;
    /* The first GTID text of this observation that does not parse in its
     * flavor's notation (which variable, the text, why), or NULL when every
     * one does. Set where the observation is made (elect_gtid_error): such a
     * node is up, but its GTID state is unknown, never empty. */
    char *gtid_error;

    /* The source side of semi-sync, as the server reports it (see
     * docs/monitoring.md). Numbers are -1 when not known (plugin not loaded, no
     * such setting); they are valid only when semisync_state is known. */
    semisync_state_t semisync_state;
    int64_t semisync_clients;       /* semi-sync replicas connected */
    int64_t semisync_wait_sessions; /* sessions waiting for an ack now */
    int64_t semisync_timeout_ms;    /* how long a commit waits before falling back */
    semisync_wait_point_t semisync_wait_point;
    int semisync_wait_no_replica; /* 1: keeps waiting with no replica connected */
    int64_t semisync_wait_count;  /* acks a commit needs (MariaDB: always 1) */
    int64_t semisync_no_tx;       /* commits that were not acknowledged, since start */

    /* A failed probe the server refused for want of a privilege (!ok): the
     * node is reachable but can't be observed. */
    bool denied;
    char *denied_privilege; /* what the refusal names, or NULL */
    /* The account's grants, when this probe read them (grants.h). */
    bool grants_checked;    /* SHOW GRANTS was read and judged in this probe */
    bool grants_judged;     /* ... and could be judged (no roles) */
    char *grants_missing;   /* needed privileges it lacks, "" none */
    char *grants_missing_promote; /* those a promotion needs */
    /* The replica's heartbeat period on its default channel, in ms: 0 when
     * unknown or when heartbeats are off (the detector then waits the full
     * replica_confirm). */
    uint64_t heartbeat_period_ms;
    /* A failed probe that ran out of time: the node answered nothing from
     * `started` on, so it has been silent since then (not only since `at`). */
    bool timed_out;

    /* TLS of the probe's session: the protocol ("TLSv1.3"), NULL for plain
     * TCP; and what was verified of the server's certificate: "identity"
     * (chain and name), "ca" (chain) or "none" (tls.h, static strings). */
    char *tls_version;
    const char *tls_verified;
    /* The replica's channel: {Master,Source}_SSL_Allowed and
     * _SSL_Verify_Server_Cert as the server reports them, parsed where they
     * enter: 1 Yes, 0 No, 2 Ignored (allowed only: the replica has TLS
     * configured but its build can't), -1 not reported. */
    int channel_ssl;
    int channel_ssl_verify;

    /* The GTID texts above, parsed once where the observation enters the
     * model (observation_parse_gtids, from node_observe), in the node's
     * family: gtid_executed, received_gtids and executed_gtids. NULL where
     * the text is absent or does not parse (then gtid_error says why); the
     * texts stay as the server wrote them, for status and the journal. */
    gtid_state_t *executed_st;
    gtid_state_t *received_st;
    gtid_state_t *applied_st;
    /* The states above were parsed already (by the probe, elect_gtid_enter,
     * in the same pass that checked the texts): the model keeps them. */
    bool gtids_parsed;

    /* The replication channels (connections) the replica status lists
     * besides Group Replication's: more than one is multi-source
     * replication; and whether the server is a Group Replication member
     * (MySQL: performance_schema.replication_group_members lists members
     * that are not OFFLINE, or the replica status lists a
     * group_replication_* channel). Both are unsupported topologies
     * (tree_unsupported_issues). */
    unsigned repl_channels;
    bool group_replication;

    /* How long the replica's receiver had heard nothing from its source
     * when the probe read it, measured by the replica on its own clock
     * (FLAVOR_NS_REPLICA_SILENT_US, rounded down to ms); silent_known is
     * false where the server does not say (then only the counters' moves
     * tell, see node_t.heard_at). */
    bool silent_known;
    uint64_t silent_ms;
    /* A failed probe whose connect was refused: the node's host answered,
     * and nothing listens on the port (the server is not running). */
    bool refused;
} observation_t;

void observation_clear(observation_t *o); /* frees the strings, zeroes the struct */
void observation_move(observation_t *dst, observation_t *src); /* dst cleared first; src zeroed */
/* Parses the observation's GTID texts into executed_st, received_st and
 * applied_st (replacing any); nothing when it failed or has a gtid_error. */
void observation_parse_gtids(observation_t *o);

/* Upper bounds (ms) of the probe latency histogram's buckets, ascending. */
#define NODE_LATENCY_BUCKETS 12
extern const double node_latency_bounds_ms[NODE_LATENCY_BUCKETS];

typedef struct {
    /* From the configuration. */
    char *name;
    char *host;
    unsigned port;
    promotion_rule_t rule;

    /* Latest probe outcome. */
    bool probed;          /* at least one probe finished */
    bool up;              /* the latest probe succeeded */
    uint64_t last_probe_at;
    uint64_t fail_since;  /* first failure of the current failure run; 0 while up */
    unsigned failures;    /* failed probes in a row; 0 while up */
    char *last_error;     /* the latest failure's message, kept after recovery until replaced */
    double latency_ms;

    /* The last successful observation, and when its replication input last moved. */
    observation_t last_ok;
    uint64_t heard_at;    /* last time heartbeats or received GTIDs were seen to change */

    role_t role;
    /* Errant GTIDs against the primary, as last judged (see monitor.c); NULL
     * until judged, "" when none. */
    char *errant;

    /* Reachable, but the latest probe was refused for want of a privilege:
     * not "down", and not seen either. */
    bool unobservable;
    char *denied_privilege; /* what the refusal named, or NULL */
    /* The account's grants there, as last judged; NULL until judged. */
    char *grants_missing;   /* needed privileges it lacks, "" none */
    char *grants_missing_promote; /* those a promotion needs, "" none */
    /* Round trips of the successful probes, for the metrics' histogram: how
     * many fell in each bucket of node_latency_bounds_ms (the last slot counts
     * those above every bound), their sum and their number. */
    uint64_t latency_hist[NODE_LATENCY_BUCKETS + 1];
    double latency_sum_ms;
    uint64_t latency_n;
    /* TLS settings of the sessions to this node and of its replication
     * channel (tls.h; owned); NULL: disabled. */
    struct tls_cfg *tls;
    /* The latest failed probe was a refused connect (observation_t.refused);
     * false while up. */
    bool refused;
} node_t;

/* The durability the cluster really has, as the monitor last judged it
 * (durability.h keeps it; times are monotonic ms, walls ms since the epoch). */
typedef struct {
    int primary;                /* the primary these facts are about; -1 none */
    uint64_t semisync_off_at;   /* semi-sync seen fallen back on it; 0 while it waits for acks */
    uint64_t semisync_off_wall; /* since when, to be safe: the last probe that saw it on */
    char *semisync_off_from;    /* what its replicas held then: the at-risk writes come after */
    char *last_on_gtid;         /* its GTID state at the latest probe that saw semi-sync on */
    char *primary_gtid;         /* its GTID state at its latest probe */
    uint64_t primary_moved_at;  /* when that state was last seen to change */
    uint64_t stalled_at;        /* replicas seen not receiving from it; 0 while they all do */
    uint64_t stalled_wall;
    uint64_t stalled_since_wall; /* the earliest of them last received, as wall time */
    char *stalled;               /* "db2, db3": the replicas not receiving; NULL when none */
    uint64_t stalled_since;      /* the earliest of them last received (mono) */
    uint64_t last_on_at;         /* the latest probe that saw semi-sync on (mono); 0 never */
} durability_state_t;

typedef struct {
    char *name;
    node_t *nodes;
    size_t n_nodes;
    int primary;          /* index of the primary, -1 unknown; sticky across failures */
    char **issues;        /* topology problems, one sentence each */
    size_t n_issues;
    detect_state_t detect;
    char verdict_reason[256];
    durability_state_t durability; /* what its acknowledgements are worth (durability.h) */
    /* The node failoverd made the primary last (from its journal), or NULL:
     * while it is up and writable it is the primary, whatever else is. */
    char *promoted;
    /* When failoverd made it writable (monotonic ms; 0: not in this run). A
     * look at it begun before then still shows it read-only: it counts as
     * writable until a newer probe says what it is. */
    uint64_t promoted_at;
    /* The managers' views of the primary and their verdict (quorum.h) when
     * several managers watch the cluster; n_votes is 0 for a manager on its
     * own, and status then shows nothing of it. */
    quorum_result_t vantage;
    flap_t flap;
    /* The primary the operation that promoted `promoted` took over from, or
     * NULL: a node still following it was left behind by that operation
     * (hung, cut off), never a relay's replica (tree_relayed). */
    char *demoted;          /* the primary's link keeps dropping for a moment (flap.h) */
} cluster_t;

void node_init(node_t *n, const char *name, const char *host, unsigned port, promotion_rule_t rule);
void node_free(node_t *n);

/* Folds a probe's observation into the node (takes ownership of *obs). */
void node_observe(node_t *n, observation_t *obs);

/* Since when the manager has not reached the node, for down_after; 0 while
 * it is up. Once two probes in a row have failed: since its last successful
 * probe began (the node was lost somewhere after that answer; counting from
 * the first failed probe would add up to one probe interval to every
 * detection). After a single failed probe: since that failure, so that one
 * lost probe counts only for the time since it failed. A node never reached
 * counts from its first failure. */
uint64_t node_unreached_since(const node_t *n);

/* Which node, if any, has this host and port (exact host text, then port). -1 if none. */
int cluster_find_node(const cluster_t *c, const char *host, unsigned port);
int cluster_find_node_by_name(const cluster_t *c, const char *name);
/* Which node of the cluster the observed node replicates from: the node
 * whose host and port its replication source names; -1 when the observation
 * failed, the node is not a replica, or its source is outside the cluster. */
int cluster_source_of(const cluster_t *c, const observation_t *o);

/* Works out the primary and every node's role from the nodes' last observations,
 * and replaces c->issues with what is inconsistent. Rules, in order:
 *  - a node that is up and writable (read_only off) is a primary candidate; more
 *    than one is an issue (two writable nodes);
 *  - the node failoverd promoted last (c->promoted), then the current
 *    primary, stays the primary while it is up and writable: a second
 *    writable node (an old primary back from a partition, still followed by a
 *    replica that was cut off during the failover) is an intruder to fence,
 *    however many stale replicas follow it;
 *  - with no writable node the known primary is kept (a dead primary is the
 *    primary until a node is made writable, also when an operation already
 *    pointed replicas at its candidate);
 *  - otherwise, among candidates, the one most up replicas follow wins; with no writable
 *    node, the node most replicas follow is the primary even if it is down (a
 *    dead primary is still the primary until a failover);
 *  - with no evidence at all (nothing up) the previous primary is kept.
 * Issues also cover a replica that follows a server outside the cluster, a
 * replica that follows a node other than the primary (or than the primary's
 * dual partner: topology.h), broken replication (an
 * IO or SQL error) and a writable node that replicates.
 * Errant GTIDs are judged by the monitor (they need the GTID algebra; see elect_errant).
 * Returns true when the primary changed. */
bool cluster_infer_topology(cluster_t *c);

/* Adds an issue (formatted) to c->issues. */
void cluster_add_issue(cluster_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cluster_clear_issues(cluster_t *c);
void cluster_free(cluster_t *c);

const char *role_str(role_t r);
const char *family_str(server_family_t f);
const char *promotion_rule_str(promotion_rule_t r);
bool promotion_rule_parse(const char *s, promotion_rule_t *out);

#endif
