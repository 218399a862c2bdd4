"""The campaign's checker (pure: the facts of one run in, violations out).

The facts are what the executor gathered (see run): the schedule and the
faults as they fired (with the node each one hit), the write checker's report,
failoverd's events, journal and status samples, and the cluster's final state.
Each violation is one sentence naming the invariant it breaks.

Invariants (docs/reliability.md says why each bound is what it is):
  lost      reliability with semi-sync: no acknowledged write is lost, unless
            failoverd said durability had degraded first (semi-sync fell back)
            or an operator forced the outcome; any policy: a loss is reported
            (a possibly_lost in an operation, or node_errant for the returning
            old primary)
  split     never two nodes writable at once for longer than SPLIT_BRAIN_MS
            (SPLIT_BRAIN_AVAILABILITY_MS when an availability switchover ran: it
            makes the new primary writable before the old one is read-only)
  false     no failover unless a fault took the primary from its replicas or an
            operator asked for one
  ended     every operation ends (done, aborted, failed; or reported as
            interrupted after failoverd was killed) within OPERATION_MS
  status    failoverctl status answered every poll within STATUS_MS while
            failoverd ran
  crash     failoverd never died but where the schedule killed it, and its log
            has no sanitizer report
  final     after healing, exactly one running node is writable (or none,
            and failoverd's status says so: a dead or held cluster, a primary
            that came back read-only) and every other running node replicates
            from it or is named by failoverd (a topology issue, node_errant,
            not_following)
"""

SPLIT_BRAIN_MS = 1500     # a hung old primary is fenced within about a probe interval
# An availability switchover makes the new primary writable before the old one
# is made read-only (docs/switchover.md), bounded by long_writes_timeout (2 s).
SPLIT_BRAIN_AVAILABILITY_MS = SPLIT_BRAIN_MS + 2000
OPERATION_MS = 120000     # the longest operation the default settings allow, with margin
STATUS_MS = 3000          # a status call on a loaded two-core lab machine

LOSS_FAULTS = ("kill", "crash", "hang", "partition", "oneway", "flap")


def _ops(journal):
    """Operations in the journal: op id -> {"begin": rec, "end": rec or None}."""
    ops = {}
    for r in journal:
        op = r.get("op")
        if not op:
            continue
        o = ops.setdefault(op, {"begin": None, "end": None, "kind": r.get("kind")})
        if r.get("type") == "begin":
            o["begin"] = r
        elif r.get("type") in ("done", "aborted", "failed"):
            o["end"] = r
    return ops


def _mentions(facts, node):
    """failoverd named node as not following, errant or in an issue."""
    for issue in facts.get("final_status", {}).get("issues") or []:
        if node in issue:
            return True
    for name in ("node_errant", "node_rejoin_ready", "node_rejoin_failed", "failover_done",
                 "switchover_done", "topology_issue"):
        for line in facts["events"].get(name, []):
            if node in line and (name != "failover_done" or "not following" in line) \
                    and (name != "switchover_done" or "not following" in line):
                return True
    return False


def judge(facts):
    """Violations of one run, each a sentence; [] when it kept every promise."""
    s = facts["schedule"]
    fired = facts["fired"]
    w = facts["writer"]
    events = facts["events"]
    out = []

    ops = _ops(facts["journal"])
    degraded = any(("semisync" in n or "durability" in n) and "recover" not in n
                   for n in events)
    forced = any(f["kind"] == "failover_to" for f in fired)
    reported_loss = any((o["end"] or {}).get("possibly_lost") for o in ops.values()) or \
        bool(events.get("node_errant"))
    lost = w.get("lost") or []
    if lost:
        if s["policy"] == "reliability" and s["semisync"] and not degraded and not forced:
            out.append("lost: %d acknowledged writes lost (%s) under reliability with semi-sync"
                       % (len(lost), w.get("lost_ranges")))
        elif not reported_loss:
            out.append("lost: %d acknowledged writes lost (%s) and failoverd reported no loss"
                       % (len(lost), w.get("lost_ranges")))

    bound = SPLIT_BRAIN_AVAILABILITY_MS if s["policy"] == "availability" and \
        any(f["kind"] == "switchover" for f in fired) else SPLIT_BRAIN_MS
    for win in w.get("split_brain") or []:
        if win["ms"] > bound:
            out.append("split: %s writable together for %.0f ms (bound %d ms)"
                       % (" and ".join(win["nodes"]), win["ms"], bound))

    primary_hit = any(f["kind"] in LOSS_FAULTS and f.get("role") == "primary" for f in fired)
    # A primary cut off from the manager while every replica's IO thread is
    # stopped is, as far as anyone can tell, gone: that failover is allowed.
    blind = any(f["kind"] == "manager_cut" and f.get("role") == "primary" for f in fired) and \
        any(f["kind"] == "io_stop" for f in fired)
    for op, o in sorted(ops.items()):
        b = o["begin"] or {}
        if o["kind"] == "failover" and b.get("automatic") and not primary_hit and not blind:
            out.append("false: automatic failover %s although no fault took the primary "
                       "from its replicas" % op)

    killed = any(f["kind"] in ("daemon_kill", "leader_kill") for f in fired)
    for op, o in sorted(ops.items()):
        if o["end"] is None:
            if not (killed and events.get("failover_interrupted")):
                out.append("ended: operation %s (%s) never ended" % (op, o["kind"]))
        elif (o["end"].get("duration_ms") or 0) > OPERATION_MS:
            out.append("ended: operation %s took %d ms (bound %d)"
                       % (op, o["end"]["duration_ms"], OPERATION_MS))

    for p in facts["status_polls"]:
        if p["expected"] and (not p["ok"] or p["ms"] > STATUS_MS):
            out.append("status: at %.1f s status %s" % (
                p["t"], "failed: %s" % p.get("error") if not p["ok"] else
                "took %d ms" % p["ms"]))
            break

    if facts.get("daemon_died"):
        out.append("crash: failoverd died on its own: %s" % facts["daemon_died"])
    if facts.get("sanitizer"):
        out.append("crash: sanitizer report in failoverd's log: %s" % facts["sanitizer"])

    final = facts["final"]
    writable = [n for n, st in final.items() if st.get("running") and st.get("writable")]
    st = facts.get("final_status") or {}
    said = any("no node accepts writes" in i for i in st.get("issues") or []) or \
        st.get("verdict") in ("dead", "unknown")
    if not writable and said:
        pass    # nobody writable, and failoverd says so (blocked, held, or a read-only primary)
    elif len(writable) != 1:
        out.append("final: %d writable nodes after healing: %s" % (len(writable), writable))
    else:
        p = writable[0]
        for n, st in sorted(final.items()):
            if n == p or not st.get("running"):
                continue
            r = st.get("replica") or {}
            follows = r.get("source") == p and r.get("io_running") == "Yes" \
                and r.get("sql_running") == "Yes"
            if not follows and not _mentions(facts, n):
                out.append("final: %s does not follow the primary %s (%s) and failoverd "
                           "does not say why" % (n, p, r or "no replication"))
    return out


def summary(facts):
    """What happened, in a sentence or two, for a violation's story."""
    ops = _ops(facts["journal"])
    parts = []
    for op, o in sorted(ops.items(), key=lambda kv: (kv[1]["begin"] or {}).get("time", "")):
        e = o["end"] or {}
        parts.append("%s %s %s->%s%s" % (o["kind"], e.get("type", "unfinished"),
                                         e.get("old_primary") or "?", e.get("new_primary") or "-",
                                         " lost %s" % e["possibly_lost_count"]
                                         if e.get("possibly_lost_count") else ""))
    w = facts["writer"]
    return "operations: %s. writer: %d acked, %d lost, %d split-brain windows; primary at " \
           "the end %s." % ("; ".join(parts) or "none", w.get("acked", 0), len(w.get("lost") or []),
                            len(w.get("split_brain") or []), w.get("primary"))
