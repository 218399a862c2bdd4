/* names.h - the one registry of hook points and event names.
 *
 * Each list is declared once here, as an X-macro (as uv.h does for its handle
 * types), and expanded wherever a name is needed: the configuration's hook
 * settings, the hook map of hooks.c, the event names the code emits.  The tables
 * of docs/events.md are generated from it (fo_events_doc, failoverd
 * --print-events-doc) and a unit test (test_names) checks the file, and the
 * order of the hook points against the plugin ABI (include/failoverd/plugin.h,
 * whose numbers must never change).
 *
 * Pure: names and constants only.
 */
#ifndef FAILOVERD_NAMES_H
#define FAILOVERD_NAMES_H

#include <stdbool.h>

#include "buf.h"

/* The hook points, in the order of the plugin ABI's failoverd_hook_point_t.
 *   X(ID, name, veto, step, after_promotion, doc)
 * veto: a non-zero exit (or a plugin's veto) stops the operation;
 * step: the executor runs it as a step of its plans and waits for it (no event
 *   feeds it);
 * after_promotion: it runs once the new primary is writable, so its failure is
 *   reported and the operation goes on;
 * doc: the description of the configuration setting clusters[].hooks.<name>. */
#define FO_HOOK_POINT_MAP(X)                                                                       \
    X(DETECTION, "detection", false, false, false, "Runs when a primary is found dead.")           \
    X(PRE_FAILOVER, "pre_failover", true, true, false,                                             \
      "Runs before a failover starts; a non-zero exit vetoes the failover.")                       \
    X(FENCE, "fence", false, true, false,                                                          \
      "Runs during a failover to fence the old primary (power it off, cut it off).")               \
    X(POST_PROMOTION, "post_promotion", false, true, true,                                         \
      "Runs once the new primary is writable; the place to move traffic.")                         \
    X(POST_FAILOVER, "post_failover", false, true, true, "Runs after a failover succeeded.")       \
    X(FAILOVER_FAILED, "failover_failed", false, false, false,                                     \
      "Runs after a failover failed or was aborted.")                                              \
    X(SWITCHOVER_BEFORE, "switchover_before", true, true, false,                                   \
      "Runs before a switchover starts; a non-zero exit vetoes the switchover.")                   \
    X(SWITCHOVER_AFTER, "switchover_after", false, true, true, "Runs after a switchover finished.") \
    X(NODE_DOWN, "node_down", false, false, false, "Runs when a node stops answering.")            \
    X(NODE_UP, "node_up", false, false, false, "Runs when a node answers again.")                \
    X(ROUTING, "routing", false, false, false,                                                     \
      "Runs when the writer or the reader pool changes (docs/routing.md).")

/* Hook points as the daemon numbers them (the same numbers as the ABI's
 * FAILOVERD_HOOK_*); FO_HOOK_NONE: an event that feeds no point. */
typedef enum {
    FO_HOOK_NONE = -1,
#define FO_HOOK_ENUM_(id, name, veto, step, after, doc) FO_HOOK_##id,
    FO_HOOK_POINT_MAP(FO_HOOK_ENUM_)
#undef FO_HOOK_ENUM_
    FO_HOOK__COUNT
} fo_hook_point_t;

typedef struct {
    const char *name;
    bool veto;
    bool step;
    bool after_promotion;
    const char *doc;
} fo_hook_info_t;

/* The registry entry of a point; NULL for anything but 0 .. FO_HOOK__COUNT-1. */
const fo_hook_info_t *fo_hook_info(int point);
/* The point of that name, or FO_HOOK_NONE. */
fo_hook_point_t fo_hook_by_name(const char *name);

/* Where an event comes from: the section of docs/events.md that lists it. */
typedef enum { FO_EVGROUP_MONITOR, FO_EVGROUP_OPERATION, FO_EVGROUP_REJOIN, FO_EVGROUP_DAEMON,
               FO_EVGROUP_HOOKS } fo_event_group_t;

/* Every event failoverd emits, in the order of docs/events.md.
 *   X(ID, name, group, level, node, hook point it feeds (or NONE), fields)
 * level, node and fields are the columns of the event's row in docs/events.md. */
#define FO_EVENT_MAP(X) \
    X(NODE_DOWN, "node_down", FO_EVGROUP_MONITOR, "warning", "the node", FO_HOOK_NODE_DOWN, \
      "`error`: why the probe failed; `unobservable`: true when the node answered but refused the probe for want of a privilege (the message says \"is unobservable\")") \
    X(NODE_UP, "node_up", FO_EVGROUP_MONITOR, "notice", "the node", FO_HOOK_NODE_UP, \
      "") \
    X(PRIMARY_HEALTHY, "primary_healthy", FO_EVGROUP_MONITOR, "notice", "the primary", FO_HOOK_NONE, \
      "`verdict`, `previous`, `failing_ms`") \
    X(PRIMARY_SUSPECT, "primary_suspect", FO_EVGROUP_MONITOR, "warning", "the primary", FO_HOOK_NONE, \
      "`verdict`, `previous`, `failing_ms`: how long the manager has not reached it (docs/monitoring.md)") \
    X(PRIMARY_UNREACHABLE, "primary_unreachable", FO_EVGROUP_MONITOR, "warning", "the primary", FO_HOOK_NONE, \
      "`verdict`, `previous`, `failing_ms`") \
    X(PRIMARY_DEAD, "primary_dead", FO_EVGROUP_MONITOR, "error", "the primary", FO_HOOK_DETECTION, \
      "`verdict`, `previous`, `failing_ms`") \
    X(PRIMARY_FLAPPING, "primary_flapping", FO_EVGROUP_MONITOR, "warning", "the primary", FO_HOOK_NONE, \
      "`episodes` (short losses of the primary: its verdict left `healthy`), `window_ms`, `quiet_ms`: that many within the window; from now on its `primary_suspect`, `primary_unreachable` and `primary_healthy` events are counted, not sent (`primary_dead` still is), until it was healthy for `quiet_ms` (docs/monitoring.md, \"Flapping\")") \
    X(PRIMARY_FLAPPING_CLEARED, "primary_flapping_cleared", FO_EVGROUP_MONITOR, "notice", "the primary", FO_HOOK_NONE, \
      "`episodes` (short losses since it began flapping), `quieted` (verdict events counted, not sent), `flapping_ms`") \
    X(PRIMARY_CHANGED, "primary_changed", FO_EVGROUP_MONITOR, "notice", "the new primary", FO_HOOK_NONE, \
      "`previous`: the former primary or `null`") \
    X(TOPOLOGY_ISSUE, "topology_issue", FO_EVGROUP_MONITOR, "warning", "", FO_HOOK_NONE, \
      "`issue`: one sentence (several writable nodes, a writable replica, errant GTIDs, replication filters that differ between replicas, semi-sync fallen back, replicas not receiving ...; docs/monitoring.md)") \
    X(DURABILITY_DEGRADED, "durability_degraded", FO_EVGROUP_MONITOR, "warning", "the primary", FO_HOOK_NONE, \
      "`what`: `semisync_off` (the primary fell back to asynchronous commits; `since`: the last probe that saw semi-sync on, `at_risk_after`: what its replicas held then, `semisync_timeout_ms`, `semisync_clients`, `not_acknowledged_commits`) or `not_receiving` (`replicas`: \"db2, db3\", `since`: when the earliest of them last received, `for_s`). Acknowledged writes may exist on the primary only from then on (docs/monitoring.md, \"Durability\")") \
    X(DURABILITY_RESTORED, "durability_restored", FO_EVGROUP_MONITOR, "notice", "the primary", FO_HOOK_NONE, \
      "`what`: `semisync_on` (`semisync_clients`) or `receiving`") \
    X(ROUTING_CHANGED, "routing_changed", FO_EVGROUP_MONITOR, "notice; warning when nothing is writable or no replica serves reads", "the writer", FO_HOOK_ROUTING, \
      "`writer` (or `null`), `previous_writer`, `fallback`: the primary serves reads, `max_read_lag`, `nodes`: `[{name, host, port, writer, reader, why, lag_s}]` for every node (docs/routing.md). The message lists what changed and why") \
    X(TOPOLOGY_FILE_FAILED, "topology_file_failed", FO_EVGROUP_MONITOR, "warning", "", FO_HOOK_NONE, \
      "`path`, `error`: the topology file could not be written (reported once until it can)") \
    X(TOPOLOGY_FILE_WRITTEN, "topology_file_written", FO_EVGROUP_MONITOR, "notice", "", FO_HOOK_NONE, \
      "`path`: the topology file is written again") \
    X(FAILOVER_STARTED, "failover_started", FO_EVGROUP_OPERATION, "warning", "the old primary", FO_HOOK_NONE, \
      "`policy`, `automatic` (true: the detector started it), `to` (the node an operator asked for, or `null`), `detection_ms` (from the first failed probe to the start)") \
    X(FAILOVER_STEP, "failover_step", FO_EVGROUP_OPERATION, "warning / error", "the step's node, if any", FO_HOOK_NONE, \
      "`step` (e.g. `fence:db1`, `promote:db2`, `hook:post_promotion`), `error`, `optional` (true: the operation goes on); or `step`, `skipped` (true), `error`: a step skipped because what it needs is missing (`semisync:NODE` under availability when no replica follows the new primary: its semi-sync source side stays off, and the message gives the statement to run once a replica follows)") \
    X(FAILOVER_DONE, "failover_done", FO_EVGROUP_OPERATION, "notice", "the new primary", FO_HOOK_NONE, \
      "`old_primary`, `new_primary`, `policy`, `duration_ms`, `possibly_lost` (the transactions the replicas received or the old primary was last seen with that the new primary did not keep when it was promoted, or `null`; docs/failover.md), `possibly_lost_count` (how many), `lost_at_least` and `lost_as_of` (the count as a lower bound, and the time of the old primary's last successful probe it is counted against), `not_following` (the replicas repointed that did not verify), `unseen` (with `--force` or under availability: the replicas that could not be seen and may hold more), `traffic_moved` (false when the post_promotion hook failed: the VIP or DNS name still points where it did); after a semi-sync fallback `semisync_off_since`, `at_risk` and `at_risk_count` (what the old primary committed beyond what its replicas held; MariaDB as ranges)") \
    X(SALVAGE_DONE, "salvage_done", FO_EVGROUP_OPERATION, "notice", "the candidate", FO_HOOK_NONE, \
      "`old_primary`, `candidate`, `salvaged` (the GTIDs read from the old primary's binlog and applied to the candidate before its promotion: a MySQL GTID set or MariaDB positions, \"\" when it lacked nothing), `salvaged_count`, `bytes` (binlog text read), `elapsed_ms`, `gtid_before`, `gtid_after` (docs/failover.md, \"Salvage\")") \
    X(SALVAGE_FAILED, "salvage_failed", FO_EVGROUP_OPERATION, "warning", "the candidate", FO_HOOK_NONE, \
      "`old_primary`, `candidate`, `error`, `timed_out` (the host did not answer within `salvage_timeout`), `gtid_before`, `gtid_after` (when known), `elapsed_ms`: nothing or not everything was salvaged; the failover goes on by its usual rules") \
    X(FENCE_BACKGROUND, "fence_background", FO_EVGROUP_OPERATION, "warning", "the old primary", FO_HOOK_NONE, \
      "`bound_ms` (`fence_timeout`): the old primary did not answer its last probe; its fence (read-only, client sessions cut off) goes on in the background while the failover elects and promotes (docs/failover.md, \"The fence of a silent old primary\")") \
    X(FENCE_BACKGROUND_DONE, "fence_background_done", FO_EVGROUP_OPERATION, "notice", "the old primary", FO_HOOK_NONE, \
      "`state` (`fenced`), `attempts`, `elapsed_ms` (from the start of its fence), `message` (what the fence did: sessions cut off, semi-sync released)") \
    X(FENCE_BACKGROUND_GAVE_UP, "fence_background_gave_up", FO_EVGROUP_OPERATION, "error", "the old primary", FO_HOOK_NONE, \
      "`state` (`gave_up`), `attempts`, `elapsed_ms`, `message` (the last attempt's error): it could not be fenced within `fence_timeout`; failoverd still fences it when it is seen writable besides the primary (`node_fenced`)") \
    X(FAILOVER_HELD, "failover_held", FO_EVGROUP_OPERATION, "warning", "", FO_HOOK_NONE, \
      "`why` (each replica that can't be seen and may hold more, and what the old primary was last seen with that no replica received), `unseen` (their names), `hold_ms` (`unseen_hold`): reliability holds the promotion; it goes on when they can be seen again and is aborted after `hold_ms`") \
    X(FAILOVER_RETRY, "failover_retry", FO_EVGROUP_OPERATION, "warning", "the lost candidate", FO_HOOK_NONE, \
      "`lost_candidate`, `error` (the step that failed), `election` (the number of the election that failed)") \
    X(FAILOVER_FAILED, "failover_failed", FO_EVGROUP_OPERATION, "error", "the candidate", FO_HOOK_FAILOVER_FAILED, \
      "`error`; after a failed promotion `candidate`, `writable` (the nodes writable at a fresh look), `candidate_writable` (`false`, `true`, or `null` when it can't be reached)") \
    X(FAILOVER_ABORTED, "failover_aborted", FO_EVGROUP_OPERATION, "error", "", FO_HOOK_FAILOVER_FAILED, \
      "`error`; `election` when no candidate could be promoted (each replica and why it was excluded); `candidate` and `writable` when a step before the promotion failed; `regressed` (as in `received_regressed`, one object per replica) when a replica's received set went backwards under reliability; `unseen`, `writable` and `held_ms` when reliability held for replicas it could not see until `unseen_hold` ran out") \
    X(RECEIVED_REGRESSED, "received_regressed", FO_EVGROUP_OPERATION, "error", "the replica", FO_HOOK_NONE, \
      "`node`, `lost` (the transactions it had received at the last probe before the failover and no longer holds after the refresh: a MySQL GTID set, or MariaDB positions), `lost_count`, `received_before`, `executed_before`, `received_now`, `executed_now` (the raw values of the two probes). Under reliability the failover is aborted next; under availability those transactions count in `possibly_lost` (docs/failover.md)") \
    X(FAILOVER_BLOCKED, "failover_blocked", FO_EVGROUP_OPERATION, "error", "", FO_HOOK_NONE, \
      "`reason`: auto_failover off, paused, the state unknown (`state_unknown`), an interrupted operation not acknowledged, within `failover_block` of the last failover (also one another manager ran, under coordination), or a primary failoverd has not reached since it started (reliability: until the operator confirms with `failoverctl failover`; availability: until `startup_grace` has passed); `last_failover_op` (under coordination, docs/ha.md): the last failover's operation id, perhaps another manager's") \
    X(PRIMARY_STATE_UNKNOWN, "primary_state_unknown", FO_EVGROUP_OPERATION, "warning", "the old primary", FO_HOOK_NONE, \
      "`old_primary`: a failover of a primary failoverd never reached starts (an operator's, or availability's after `startup_grace`); what only it had is not counted in `possibly_lost`") \
    X(FAILOVER_INTERRUPTED, "failover_interrupted", FO_EVGROUP_OPERATION, "error", "", FO_HOOK_NONE, \
      "`records` (the journal records of the operation), `last_step`, `step` (the last step journaled), `step_state` (`started`: the daemon died while it ran; `done`; `failed`), `candidate` (of the last election, or `null`), `promotion` (`not started`, `done`, `failed`, or `unknown`: started, outcome not journaled)") \
    X(SWITCHOVER_STARTED, "switchover_started", FO_EVGROUP_OPERATION, "warning", "the old primary", FO_HOOK_NONE, \
      "`policy`, `automatic` (false), `to`, `detection_ms` (0)") \
    X(SWITCHOVER_DONE, "switchover_done", FO_EVGROUP_OPERATION, "notice", "the new primary", FO_HOOK_NONE, \
      "as `failover_done`, and `write_blocked_ms` (reliability: from making the old primary read-only to the end of the post_promotion hooks), `possibly_lost_count` (availability: the transactions in `possibly_lost`)") \
    X(SWITCHOVER_FAILED, "switchover_failed", FO_EVGROUP_OPERATION, "error", "the candidate", FO_HOOK_SWITCHOVER_AFTER, \
      "`error`") \
    X(SWITCHOVER_ROLLED_BACK, "switchover_rolled_back", FO_EVGROUP_OPERATION, "warning", "the old primary", FO_HOOK_SWITCHOVER_AFTER, \
      "`error` (why), `primary`, `candidate`, `candidate_replicating`: the old primary is writable again, traffic untouched; the message says what was restored") \
    X(LONG_WRITES_KILLED, "long_writes_killed", FO_EVGROUP_OPERATION, "warning", "the old primary", FO_HOOK_NONE, \
      "`sessions`, `waited_ms`, `writes` (the first three: session id, user@host, seconds, statement): sessions still writing after `long_writes_timeout` were killed so that the primary could be made read-only (`long_writes = \"kill\"`)") \
    X(SWITCHOVER_RESUMED, "switchover_resumed", FO_EVGROUP_OPERATION, "warning", "the new primary", FO_HOOK_NONE, \
      "`op` (the interrupted switchover's id), `action` (`after_promotion`: the promotion took effect, the traffic hooks and the repointing run; `promote`: it did not, and is run again), `reason`, `candidate`, `old_primary`: a restarted daemon finishes a switchover it died in at or after its promotion (docs/recovery.md); `switchover_done` follows") \
    X(SWITCHOVER_NOT_RESUMED, "switchover_not_resumed", FO_EVGROUP_OPERATION, "error", "the candidate", FO_HOOK_NONE, \
      "`op`, `reason` (why finishing it is not safe), `candidate`, `old_primary`: the message says what to do by hand, then `failoverctl ack`") \
    X(FAILOVER_RESUMED, "failover_resumed", FO_EVGROUP_OPERATION, "warning", "the new primary", FO_HOOK_NONE, \
      "`op` (the interrupted failover's id), `action`, `reason`, `candidate`, `old_primary`: a new leader finishes a failover its predecessor left open at or after its promotion (docs/ha.md), by the rules of `switchover_resumed`; `failover_done` follows") \
    X(FAILOVER_NOT_RESUMED, "failover_not_resumed", FO_EVGROUP_OPERATION, "error", "the candidate", FO_HOOK_NONE, \
      "`op`, `reason`, `candidate`, `old_primary`: a new leader found its predecessor's failover open and finishing it is not safe; the message says what to do by hand, then `failoverctl ack`") \
    X(JOURNAL_WRITE_FAILED, "journal_write_failed", FO_EVGROUP_OPERATION, "error", "the step's node, if any", FO_HOOK_NONE, \
      "`error` (the write or sync error), `step` and `step_ran` (false: the step was not run; true: it ran, its end could not be recorded and no later step runs), `op`; or `operation` (a `begin` that failed: nothing was started), or `record` (the end of an operation)") \
    X(STATE_UNKNOWN, "state_unknown", FO_EVGROUP_OPERATION, "error", "", FO_HOOK_NONE, \
      "`reason`: the journal of this cluster is damaged or can't be read, or a record of an operation's end (or its start) could not be written. Automatic failover, fencing and rejoining are held, operator failovers and switchovers refused, status shows the verdict `unknown`, until `failoverctl ack` is journaled") \
    X(CLUSTER_PAUSED, "cluster_paused", FO_EVGROUP_OPERATION, "notice", "", FO_HOOK_NONE, \
      "") \
    X(CLUSTER_RESUMED, "cluster_resumed", FO_EVGROUP_OPERATION, "notice", "", FO_HOOK_NONE, \
      "") \
    X(NODE_FENCED, "node_fenced", FO_EVGROUP_REJOIN, "warning", "the node made read-only", FO_HOOK_NONE, \
      "`primary`, `gtid` (its GTID state as last probed), `sessions_cut` (client sessions cut off because read-only waited for them; what they were committing was not acknowledged), `semisync_released` (its semi-sync source side was switched off to end the waits of sessions cut off, MySQL), `fence_ms` (from the look that found it writable)") \
    X(NODE_FENCE_FAILED, "node_fence_failed", FO_EVGROUP_REJOIN, "error", "the writable node", FO_HOOK_NONE, \
      "`primary`, `error`, `sessions_cut`, `semisync_released`, `trouble` (what went wrong looking at or cutting off its sessions, e.g. a missing privilege); reported once, retried every 5 s") \
    X(NODE_REJOINED, "node_rejoined", FO_EVGROUP_REJOIN, "notice", "the node", FO_HOOK_NONE, \
      "`primary` (it replicates from it now), `gtid`") \
    X(NODE_REJOIN_READY, "node_rejoin_ready", FO_EVGROUP_REJOIN, "notice", "the node", FO_HOOK_NONE, \
      "`primary`, `gtid`: everything it has is on the primary; `auto_rejoin` is off. Once per GTID state of the node (and again after a reload)") \
    X(NODE_ERRANT, "node_errant", FO_EVGROUP_REJOIN, "error", "the node", FO_HOOK_NONE, \
      "`primary`, `errant_gtids` (what the primary lacks), `gtid`, `primary_gtid` (the primary's GTID state it was compared with). For the old primary of the last failover this is the exact loss: it is journaled (`loss_found`) into that failover's history") \
    X(NODE_REJOIN_FAILED, "node_rejoin_failed", FO_EVGROUP_REJOIN, "error", "the node", FO_HOOK_NONE, \
      "`primary`, `error`") \
    X(RELAY_REPOINTED, "relay_repointed", FO_EVGROUP_REJOIN, "warning", "the relay's replica", FO_HOOK_NONE, \
      "`relay` (the lost relay replica), `source` (the node it replicates from now: the relay's own source, or the primary with `relay_repoint = \"primary\"`), `reason` (why the relay counts as lost), `gtid`. Journaled (`relay_repointed`)") \
    X(RELAY_REPOINT_FAILED, "relay_repoint_failed", FO_EVGROUP_REJOIN, "error", "the relay's replica", FO_HOOK_NONE, \
      "`relay`, `source`, `error`. Journaled; tried again when the node's GTID state changes") \
    X(DAEMON_STARTED, "daemon_started", FO_EVGROUP_DAEMON, "notice", "", FO_HOOK_NONE, \
      "`config` (the file), `clusters` (how many)") \
    X(DAEMON_STOPPING, "daemon_stopping", FO_EVGROUP_DAEMON, "notice", "", FO_HOOK_NONE, \
      "") \
    X(CONFIG_RELOADED, "config_reloaded", FO_EVGROUP_DAEMON, "notice; warning when something waits", "", FO_HOOK_NONE, \
      "`file`, `restart_needed` (settings only a restart applies, docs/security.md), `deferred` (what waits for an operation in flight)") \
    X(CONFIG_REJECTED, "config_rejected", FO_EVGROUP_DAEMON, "error", "", FO_HOOK_NONE, \
      "`file`, `errors` (every error, a line each); the configuration in force stays") \
    X(JOURNAL_COMPACTED, "journal_compacted", FO_EVGROUP_DAEMON, "notice", "", FO_HOOK_NONE, \
      "`path`, `bytes_before`, `bytes_after`, `operations_dropped`: the journal was above `journal_max_bytes` and its oldest operations were dropped (docs/recovery.md, \"How large the journal grows\")") \
    X(LOOP_STALL, "loop_stall", FO_EVGROUP_DAEMON, "warning", "", FO_HOOK_NONE, \
      "`stall_ms`: how long the loop stalled or the clock jumped; the detector then observes without acting for `stall_grace`") \
    X(COORD_LEADER, "coord_leader", FO_EVGROUP_DAEMON, "notice", "", FO_HOOK_NONE, \
      "`manager`, `host`, `term` (the leader key's create revision), `again` (true: a stall or a lapse was followed by a read showing the key still holds this term): this manager leads; only it starts operations (docs/ha.md)") \
    X(COORD_FOLLOWER, "coord_follower", FO_EVGROUP_DAEMON, "notice; error when leadership was lost", "", FO_HOOK_NONE, \
      "`manager`, `leader`, `leader_host`, `term`: this manager follows that leader; or, when it led, `manager`, `term`, `reason`: it lost the leadership and starts no step") \
    X(COORD_NO_QUORUM, "coord_no_quorum", FO_EVGROUP_DAEMON, "error", "", FO_HOOK_NONE, \
      "`manager`, `term`, `reason`: the leader's lease ran out or expired (etcd unreachable, a minority, a stall); monitoring goes on, no operation starts or continues") \
    X(COORD_GUARD_FAILED, "coord_guard_failed", FO_EVGROUP_DAEMON, "error", "", FO_HOOK_NONE, \
      "`manager`, `step`, `term`, `error`: the txn run before a step did not confirm this manager's term (another leads, etcd did not answer, the lease validity ran out): the step was not started. Before the promotion the operation stops there (and a manager that still leads takes the dead primary up again afresh); past it, the remaining steps are skipped and the operation is left open in etcd, to be finished by whoever leads next, this manager included (docs/ha.md)") \
    X(PRIMARY_PARTITIONED, "primary_partitioned", FO_EVGROUP_MONITOR, "warning", "the primary", FO_HOOK_NONE, \
      "`manager`, `seen_by` (the managers that still reach the primary, \"m2, m3\"), `quorum`, `managers`: this manager can't reach the primary but most of the other managers with a fresh record do: this manager is cut off, not the primary; no failover. Once per episode (docs/ha.md)") \
    X(COORD_OP_FOUND, "coord_op_found", FO_EVGROUP_DAEMON, "warning; error when the record can't be read", "", FO_HOOK_NONE, \
      "`manager`, `term`, `outcome` (`open`, `bad`), `op`, `kind`, `step`, `from_manager`, `from_term`, `reason`: a manager that became the leader found, in etcd, an operation its predecessor left open (`open`: finished, held, or - a failover not yet promoted - closed and started afresh; `bad`: the record can't be read, the cluster is held until `failoverctl ack`) (docs/ha.md)") \
    X(COORD_STATE_WRITE_FAILED, "coord_state_write_failed", FO_EVGROUP_DAEMON, "error", "", FO_HOOK_NONE, \
      "`manager`, `error`: the leader could not write the cluster's shared state (pause, hold, ack, last failover) under `<cluster>/state` in etcd; the other managers and a next leader see the state before the change until a write succeeds. Tried again every second while it leads; once per episode (docs/ha.md)") \
    X(HOOK_FAILED, "hook_failed", FO_EVGROUP_HOOKS, "warning", "", FO_HOOK_NONE, \
      "`hook` (the point), `hook_event` (the event that ran it), `who` (`script /path` or `plugin name`), `outcome` (`failed`, `timeout` or `spawn_error`), `detail` (\"exited with status 2\" ...), `exit_code` (-1 when it did not exit), `elapsed_ms`, `operation`")

/* The names as constants: EV_NODE_DOWN is "node_down" ... */
#define FO_EVENT_DECL_(id, name, group, level, node, hook, fields) extern const char EV_##id[];
FO_EVENT_MAP(FO_EVENT_DECL_)
#undef FO_EVENT_DECL_

typedef enum {
#define FO_EVENT_ENUM_(id, name, group, level, node, hook, fields) FO_EVENT_##id,
    FO_EVENT_MAP(FO_EVENT_ENUM_)
#undef FO_EVENT_ENUM_
    FO_EVENT__COUNT
} fo_event_t;

typedef struct {
    const char *name;
    fo_event_group_t group;
    const char *level; /* as docs/events.md says it, e.g. "warning / error" */
    const char *node;
    fo_hook_point_t hook;
    const char *fields;
} fo_event_info_t;

/* The registry entry of an event; NULL for anything but 0 .. FO_EVENT__COUNT-1. */
const fo_event_info_t *fo_event_info(int ev);
/* The point an event of that name feeds, or FO_HOOK_NONE (also for an unknown name). */
fo_hook_point_t fo_event_hook(const char *name);

/* The tables of docs/events.md, generated from FO_EVENT_MAP: the table of
 * group's events (its header, then a row per event in registry order),
 * appended to out. */
void fo_events_doc_table(fo_event_group_t group, buf_t *out);
/* Every group's table between its markers, as docs/events.md holds them
 * (failoverd --print-events-doc prints it; test_names checks the file):
 *   <!-- BEGIN GENERATED events: SECTION ... -->, the table, <!-- END GENERATED --> */
void fo_events_doc(buf_t *out);
/* The marker line that opens group's table in docs/events.md (no newline). */
const char *fo_events_doc_marker(fo_event_group_t group);

#endif
