/* durability.h - the durability a cluster really has (pure: times are arguments).
 *
 * Under the reliability policy an acknowledged write must survive the loss of
 * the primary. With semi-sync that holds only while two things are true: the
 * primary waits for an acknowledgement before it answers a commit (its
 * semi-sync status is on; after rpl_semi_sync_*_timeout without an ack it
 * falls back to asynchronous commits and says so), and the replicas receive
 * what it writes. The monitor feeds every observation through
 * durability_update(), which keeps what it learns in cluster_t.durability and
 * reports every change. Rules:
 *   - semi-sync is degraded when the primary's source side is enabled but its
 *     status is off, since the last probe that saw it on (the fallback came
 *     after it: a write acknowledged since may be on the primary only); it
 *     stays degraded (sticky) while the primary can't be reached, and a new
 *     primary forgets it;
 *   - a replica of the primary has not received from it when its IO thread is
 *     reconnecting or stopped by an error, or when the primary's GTID state
 *     moved after the replica last received anything (an event or a
 *     heartbeat) and that was stall_after_ms ago or more (a thread stopped on
 *     purpose counts so, once the primary writes);
 *     replicas that can't be reached are not judged (node_down says so);
 *   - each degradation is a topology issue for as long as it lasts, with the
 *     time it began; its beginning and its end are reported by the flags.
 * The at-risk range is what the primary committed beyond what its replicas
 * held (received or applied) when the fallback was seen: a write acknowledged
 * in it may exist on the primary only.
 */
#ifndef FAILOVERD_DURABILITY_H
#define FAILOVERD_DURABILITY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* What durability_update() saw change. */
enum {
    DURABILITY_SEMISYNC_OFF = 1 << 0,  /* semi-sync fell back on the primary */
    DURABILITY_SEMISYNC_ON = 1 << 1,   /* ... and waits for acks again */
    DURABILITY_STALL_BEGAN = 1 << 2,   /* replicas stopped receiving from the primary */
    DURABILITY_STALL_CHANGED = 1 << 3, /* ... a different set of them */
    DURABILITY_STALL_ENDED = 1 << 4,   /* every replica receives again */
};

/* Folds the cluster's latest observations in (call after the topology was
 * inferred, with its fresh issue list) and adds the durability issues.
 * now is monotonic ms, now_wall the wall clock at the same instant. Returns
 * the DURABILITY_* flags of what changed. */
unsigned durability_update(cluster_t *c, uint64_t now, uint64_t now_wall, uint64_t stall_after_ms);

/* Frees the strings of d and resets it (primary -1). */
void durability_clear(durability_state_t *d);

/* The status object (docs/protocol.md, "durability"). New reference. */
json_t *durability_json(const cluster_t *c, uint64_t now, uint64_t now_wall);

/* "AFTER_SYNC", "AFTER_COMMIT" or NULL. */
const char *semisync_wait_point_str(semisync_wait_point_t w);
/* "on", "off" or "unknown". */
const char *semisync_state_str(semisync_state_t s);

/* A loss or a risk, as GTIDs: text (MySQL a GTID set; MariaDB one range per
 * domain, "0-1-5287..0-1-5698", or one GTID) and how many transactions. */
typedef struct {
    char *text; /* "" when nothing */
    uint64_t count;
} durability_range_t;

/* What `have` lacks of `want`: the transactions in want beyond have (MySQL
 * sets; MariaDB positions, per domain the sequence numbers after have's up
 * to want's). False with err when a GTID text is malformed. */
bool durability_range(bool mariadb, const char *have, const char *want, durability_range_t *out,
                      char *err, size_t errlen);

/* What a returning old primary has that the new primary never got, exactly:
 *   MySQL:   node (its gtid_executed) minus the primary's gtid_executed;
 *   MariaDB: node is its gtid_binlog_pos, primary the new primary's
 *            gtid_binlog_state; per domain, the old primary's sequence numbers
 *            after the last one the new primary logged from that server
 *            (gtid_strict_mode: a server's sequence numbers only grow). A
 *            server the new primary has nothing from counts from the
 *            domain's first sequence number it does not have.
 * False with err when a GTID text is malformed. */
bool durability_exact_loss(bool mariadb, const char *node, const char *primary,
                           durability_range_t *out, char *err, size_t errlen);

void durability_range_free(durability_range_t *r);

#endif
