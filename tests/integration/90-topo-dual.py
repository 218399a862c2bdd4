#!/usr/bin/env python3
"""The active-passive dual primary: db1 and db2 replicate from each other,
db1 writable, db2 read-only, db3 a replica of db1 (lab up --topology dual);
semi-sync; both flavors; the write checker through the VIP.

1. failoverd sees the pair: status says topology "dual", db2 the primary's
   dual partner, and no topology issue.
2. Reliability switchover db1 -> db2 and back, under writes: each is a role
   flip. The new primary keeps replicating from the old one, the old one
   still replicates from the new one (neither is repointed: no repoint step
   for either), db3 follows the new primary; exactly one writable node; the
   pair is seen with the roles swapped. No acknowledged write is lost and the
   writer never saw two writable nodes.
3. Availability switchover db1 -> db2 and back, the writer stopped first:
   traffic moves at once (no lag check, no sync wait), exactly one writable
   node, the report states what may be lost (nothing here: the old primary
   had nothing beyond the candidate); the new primary's replication from the
   old primary stays stopped (an issue in status), as docs/topologies.md
   says, until the operator restarts it; the old primary, already its
   replica, is restarted and followed.
4. Failover: db1 killed under writes. db2 (the partner) is promoted, exactly
   one writable node, db3 follows it, no acknowledged write lost.
5. db1 returns writable: fenced (read-only), then rejoined as db2's replica
   (it pointed at db2 all along; its replication, stopped by the restart, is
   checked and started; auto_rejoin is off: a node with a replication source
   needs no such decision). New writes reach it; at the end every node holds
   the same GTIDs.
6. The pair alone (lab up --topology dual --nodes 2), semi-sync: switchover
   and back; each time the old primary, the new one's only replica, is a
   semi-sync replica before the new one is writable and acknowledges its
   commits; nothing acknowledged is lost."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit, writable_nodes  # noqa: E402


def replica(lab, node):
    return lab.state(node)["replica"] or {}


def follows(lab, node, source, running=True):
    r = replica(lab, node)
    ok = r.get("source_host") == lab.node(source).address
    if running:
        ok = ok and r.get("io_running") == "Yes" and r.get("sql_running") == "Yes"
    return ok


def wait_follows(lab, node, source, timeout=30):
    labkit.wait_for(lambda: follows(lab, node, source), timeout, interval=0.2,
                    what="%s to replicate from %s" % (node, source))


def wait_pair(d, primary, partner, timeout=20):
    def seen():
        c = d.cluster()
        return c["primary"] == primary and c.get("dual_partner") == partner and \
            c.get("topology") == "dual"
    labkit.wait_for(seen, timeout, interval=0.2,
                    what="failoverd to see %s the primary, %s its dual partner" % (primary, partner))


def switchover(d, to, policy):
    # On a loaded machine a probe may time out: the plan is made from what
    # failoverd sees, so every node must be up in its view first.
    labkit.wait_for(lambda: all(n["state"] == "up" for n in d.cluster()["nodes"]), 30,
                    interval=0.2, what="failoverd to see every node up")
    rc, op = d.ctl("switchover", "main", "--to", to, "--policy", policy, check=False,
                   timeout=90)
    check(rc == 0 and op.get("type") == "done" and op.get("new_primary") == to,
          "switchover to %s (%s) is done: %s %s" % (to, policy, rc, op))
    return op, [s["name"] for s in op["steps"]]


def start_writable(lab, node):
    """Starts a killed node with read_only off in its my.cnf, as a server
    configured as a primary would come back (see 33-fo-old-primary-returns)."""
    n = lab.node(node)
    with open(n.config) as f:
        text = f.read()
    with open(n.config, "w") as f:
        f.write(text.replace("read_only=ON", "read_only=OFF"))
    lab.start(n)


def reliability_flips(lab, d, say):
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    for old, new in (("db1", "db2"), ("db2", "db1")):
        op, names = switchover(d, new, "reliability")
        check(not [n for n in names if n in ("repoint:db1", "repoint:db2")],
              "neither half of the pair is repointed: %s" % names)
        check("repoint:db3" in names and "verify:%s" % old in names, names)
        check(writable_nodes(lab) == [new], "%s alone writable: %s" % (new, writable_nodes(lab)))
        wait_follows(lab, old, new)
        check(follows(lab, new, old), "%s still replicates from %s: %s"
              % (new, old, replica(lab, new)))
        wait_follows(lab, "db3", new)
        wait_pair(d, new, old)
        check(lab.vip_holders() == [new], "the VIP is on %s" % new)
        lab.wait_acks(30, server_id=lab.node(new).server_id)
        say("reliability %s -> %s: write-blocked %s ms" % (old, new, op.get("write_blocked_ms")))
    verify_writes(lab, "db1")


def availability_flips(lab, d, say):
    op, names = switchover(d, "db2", "availability")
    check("check_lag:db2" not in names and "sync:db2" not in names, names)
    check(names.index("hook:post_promotion") < names.index("block_writes:db1"),
          "traffic moves before db1 is blocked: %s" % names)
    check(not [n for n in names if n in ("repoint:db1", "repoint:db2")], names)
    check(op.get("possibly_lost_count", 0) == 0, "nothing beyond db2 on db1: %s" % op)
    check(writable_nodes(lab) == ["db2"], "db2 alone writable: %s" % writable_nodes(lab))
    check(lab.vip_holders() == ["db2"], "the VIP is on db2")
    wait_follows(lab, "db1", "db2")
    r2 = replica(lab, "db2")
    check(follows(lab, "db2", "db1", running=False) and r2.get("io_running") == "No",
          "db2's replication from db1 stays stopped: %s" % r2)
    wait_pair(d, "db2", "db1")
    check([i for i in d.cluster()["issues"] if "replication stopped on db2" in i],
          "the stopped replication is an issue: %s" % d.cluster()["issues"])
    op, names = switchover(d, "db1", "availability")
    check("restart_replica:db2" in names, "db2's replication restarted: %s" % names)
    check(writable_nodes(lab) == ["db1"], "db1 alone writable: %s" % writable_nodes(lab))
    wait_follows(lab, "db2", "db1")
    check(follows(lab, "db1", "db2", running=False) and not follows(lab, "db1", "db2"),
          "db1's replication from db2 stays stopped: %s" % replica(lab, "db1"))
    # The operator, having read the report (nothing possibly lost), restarts it.
    lab.resume_replication("db1")
    wait_follows(lab, "db1", "db2")
    wait_pair(d, "db1", "db2")
    labkit.wait_for(lambda: not d.cluster()["issues"], 20, interval=0.2,
                    what="no issue once the pair is whole")
    say("availability db1 -> db2 -> db1: the new primary's replication stopped each time, "
        "restarted by hand")


def verify_writes(lab, primary):
    v = lab.writer_verify()
    check(v["primary"] == primary and not v["lost"] and not v["split_brain"] and
          not v["divergence"] and not v["unsettled"],
          "nothing lost, never two writable: %s %s %s %s" % (
              v["lost_ranges"], v["split_brain"], v["divergence"], v["unsettled"]))
    return v


def failover_and_return(lab, d, flavor, say):
    # The writes before the kill settle everywhere first: a write in flight
    # when db1 is killed may be committed there and reach no replica (never
    # acknowledged); db1 would then come back with it as an errant
    # transaction, and this test is about its rejoin.
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    verify_writes(lab, "db1")
    lab.kill("db1")
    d.wait_event("failover_done", timeout=60)
    check(writable_nodes(lab) == ["db2"], "db2 alone writable: %s" % writable_nodes(lab))
    check(lab.vip_holders() == ["db2"], "the VIP moved to db2")
    wait_follows(lab, "db3", "db2")
    lab.writer_start(through="vip")
    lab.wait_acks(30, server_id=lab.node("db2").server_id)
    v = verify_writes(lab, "db2")

    # db1 comes back writable (the writer is stopped: its polls would see the
    # moment before the fence as two writable nodes).
    start_writable(lab, "db1")
    labkit.wait_for(lambda: lab.value("db1", "SELECT @@read_only") == "1", 20,
                    what="failoverd to make the returning db1 read-only")
    fenced = d.wait_event("node_fenced")[-1]
    check("db1" in fenced, "node_fenced names db1: %s" % fenced)
    check(writable_nodes(lab) == ["db2"], "db2 alone writable: %s" % writable_nodes(lab))
    d.wait_event("node_rejoined", timeout=40)
    wait_follows(lab, "db1", "db2")
    check(lab.value("db1", "SELECT @@read_only") == "1", "the rejoined db1 stays read-only")
    lab.writer_start(through="vip")
    lab.wait_acks(30, server_id=lab.node("db2").server_id)
    verify_writes(lab, "db2")
    g = {n.name: lab.gtid(n) for n in lab.nodes}
    for a in g:
        for b in g:
            check(fokit.gtid_covers(flavor, g[a], g[b]), "%s holds all of %s: %s" % (a, b, g))
    say("failover to db2 (%d writes acknowledged, none lost), db1 fenced and rejoined; "
        "GTIDs equal: %s" % (v["acked"], g["db2"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("dual-" + flavor), semisync=True,
                       topology="dual") as lab:
        # auto_rejoin stays off: the returning db1 has a replication source
        # (db2), so its rejoin needs no such decision (docs/recovery.md).
        with fokit.Daemon(lab, cluster_extra=fokit.vip_hook(lab)) as d:
            d.start()
            wait_pair(d, "db1", "db2")
            check(not d.cluster()["issues"], "the pair is no issue: %s" % d.cluster()["issues"])
            text = fokit.squash(d.ctl_text("status").stdout)
            check("dual primary with db2" in text, text)
            reliability_flips(lab, d, say)
            availability_flips(lab, d, say)
            failover_and_return(lab, d, flavor, say)
            check(d.stop() == 0, "failoverd stops cleanly")


SEMI = {"mariadb": "Rpl_semi_sync_master_%s", "mysql": "Rpl_semi_sync_source_%s"}


def semisync_source(lab, node):
    """(status, clients) of node's semi-sync source side."""
    q = "SHOW STATUS LIKE '%s'" % (SEMI[lab.family] % "%")
    st = {r["Variable_name"]: r["Value"] for r in lab.query(node, q)}
    return st.get(SEMI[lab.family] % "status"), int(st.get(SEMI[lab.family] % "clients") or 0)


def scenario_pair(flavor):
    """The pair alone (--nodes 2), semi-sync: after each flip the old primary,
    the new one's only replica, acknowledges its commits (semi-sync on, one
    client), and nothing acknowledged is lost."""
    def say(msg):
        labkit.log("%s, the pair alone: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 2, name=labkit.unique_name("pair-" + flavor), semisync=True,
                       topology="dual") as lab:
        with fokit.Daemon(lab, cluster_extra=fokit.vip_hook(lab)) as d:
            d.start()
            wait_pair(d, "db1", "db2")
            lab.writer_start(through="vip")
            lab.wait_acks(30)
            for old, new in (("db1", "db2"), ("db2", "db1")):
                op, names = switchover(d, new, "reliability")
                check(names.index("restart_replica:%s" % old) < names.index("promote:%s" % new),
                      "the old primary is a semi-sync replica before %s is writable: %s"
                      % (new, names))
                labkit.wait_for(lambda: semisync_source(lab, new) == ("ON", 1), 20,
                                interval=0.2, what="%s to wait for %s's acks" % (new, old))
                lab.wait_acks(30, server_id=lab.node(new).server_id)
                wait_pair(d, new, old)
                say("%s -> %s: write-blocked %s ms" % (old, new, op.get("write_blocked_ms")))
            verify_writes(lab, "db1")
            check(d.stop() == 0, "failoverd stops cleanly")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        scenario(flavor)
        scenario_pair(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
