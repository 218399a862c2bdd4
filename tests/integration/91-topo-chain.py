#!/usr/bin/env python3
"""Relay replicas, on both flavors: db1 -> db2, db3; db2 -> db4 (`lab up
--topology chain`), reliability with semi-sync, the write checker writing
through the VIP, db3 preferred as the next primary.

1. The tree is known: db4 is no topology issue, status gives every node's
   source and depth (db4: db2, 2) and `failoverctl status` draws db4
   indented under db2.
2. Relay death: db2 (the relay, not the primary) is killed while the writer
   goes on, on a cluster failoverd never failed over. failoverd sees that
   db4 no longer receives, repoints db4 to the relay's own source (db1)
   with GTID auto-positioning, says so (event relay_repointed) and journals
   it as a note (no operation); db4 replicates again, exactly one node is
   writable and nothing acknowledged is lost.
3. The chain is built again (db2 restarted under db1, db4 under db2).
4. Primary death with a relay: db1 is killed. The election sees the whole
   tree (db4 is a candidate, not excluded); db4's IO thread is stopped and
   it is repointed and verified like a direct replica. db3 is promoted; db2
   follows it, db4 stays under its relay db2 (relay_keep); exactly one node
   is writable, no acknowledged write is lost, every running node holds the
   new primary's GTIDs.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def source_of(lab, node):
    r = lab.state(node)["replica"] or {}
    by_addr = {n.address: n.name for n in lab.nodes}
    return by_addr.get(r.get("source_host")), r.get("io_running"), r.get("sql_running")


def the_tree(lab, d, say):
    def seen():
        c = d.cluster()
        nodes = {n["name"]: n for n in c["nodes"]}
        return (c["primary"] == "db1" and nodes["db4"]["source"] == "db2"
                and all(n["state"] == "up" for n in nodes.values())
                and nodes["db4"]["depth"] == 2 and nodes["db2"]["depth"] == 1
                and nodes["db1"]["depth"] == 0 and c)
    c = wait_for(seen, 60, what="failoverd to see every node up, db4 under db2")
    check(not [i for i in c["issues"] if "db4" in i],
          "a relay replica is no topology issue: %s" % c["issues"])
    text = d.ctl_text("status").stdout
    rows = [ln for ln in text.splitlines()
            if re.match(r"\s*db\d+\s+(primary|replica|\?)\s", ln)]
    names = [ln.split()[0] for ln in rows]
    check(names == ["db1", "db2", "db4", "db3"], "the table draws the tree: %s" % rows)
    db4 = rows[names.index("db4")]
    check(db4.startswith("  db4"), "db4 is indented under db2: %r" % db4)
    say("tree: db4 under db2, no issue; status draws it")


def relay_death(lab, d, say):
    """db2 (the relay) dies: db4 goes to db2's own source, db1."""
    lab.writer_start(through="vip")
    lab.wait_acks(50)
    lab.kill("db2")
    d.wait_event("relay_repointed", timeout=60)
    ev = d.events()["relay_repointed"][-1]
    check("node=db4" in ev and "db1" in ev and "db2" in ev,
          "the event names db4, db1 and db2: %s" % ev)
    wait_for(lambda: source_of(lab, "db4") == ("db1", "Yes", "Yes"), 30,
             what="db4 to replicate from db1")
    rec = [r for r in d.journal() if r.get("type") == "relay_repointed"]
    check(rec and rec[-1].get("node") == "db4" and rec[-1].get("source") == "db1"
          and rec[-1].get("relay") == "db2" and rec[-1].get("kind") == "note",
          "journaled as a note: %s" % rec)
    check(d.operations() == [], "no operation: %s" % d.operations())
    lab.wait_acks(30)
    check(fokit.writable_nodes(lab) == ["db1"], "exactly one writable node")
    v = lab.writer_verify()
    check(v["primary"] == "db1" and v["lost"] == [] and not v["divergence"] and v["ok"],
          "no acknowledged write lost: %s" % v)
    check(lab.wait_gtid("db4", lab.gtid("db1"), timeout=30), "db4 caught up with db1")
    say("relay death: db4 repointed to db1; %d acked, none lost" % v["acked"])


def chain_again(lab, d, say):
    """db2 back as db1's replica, db4 under it again."""
    lab.start("db2")
    lab.repoint("db2", "db1")
    # db4 goes under db2 only once db2 holds what db4 has and failoverd sees
    # it up: pointed at a relay failoverd still counts as lost, db4 would be
    # (rightly) moved back to db1.
    check(lab.wait_gtid("db2", lab.gtid("db1"), timeout=60), "db2 caught up with db1")
    wait_for(lambda: {n["name"]: n["state"] for n in d.cluster()["nodes"]}["db2"] == "up", 60,
             what="failoverd to see db2 up")
    lab.repoint("db4", "db2")
    lab.wait_tree("db1", timeout=60)
    wait_for(lambda: {n["name"]: (n["state"], n["source"]) for n in d.cluster()["nodes"]}
             == {"db1": ("up", None), "db2": ("up", "db1"), "db3": ("up", "db1"),
                 "db4": ("up", "db2")}, 60, what="failoverd to see the chain again")
    say("chain again: db4 under db2")


def primary_death(lab, d, say):
    """db1 dies: db3 (preferred) is promoted, db2 follows it, db4 stays under db2."""
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    op = d.wait_operation(1, timeout=60)
    check(op["type"] == "done" and op["new_primary"] == "db3",
          "the failover must promote db3 (preferred): %s" % op)
    recs = d.op_records(op["op"])
    elect = next(r for r in recs if r["type"] == "elect")
    cands = {x["node"]: x for x in elect["candidates"]}
    check("db4" in cands and not cands["db4"]["excluded"],
          "the election compares db4, below the relay: %s" % cands.get("db4"))
    steps = {r["step"] for r in recs if r["type"] == "step"}
    for s in ("stop_io:db2", "stop_io:db4", "repoint:db2", "repoint:db4", "verify:db4"):
        check(s in steps, "step %s ran: %s" % (s, sorted(steps)))
    lab.wait_acks(50, server_id=lab.node("db3").server_id)
    src = lab.wait_tree("db3", timeout=60)
    check(src == {"db2": "db3", "db4": "db2"}, "db2 under db3, db4 kept under db2: %s" % src)
    check(fokit.writable_nodes(lab) == ["db3"], "exactly one writable node")
    v = lab.writer_verify()
    check(v["primary"] == "db3" and v["lost"] == [] and not v["divergence"]
          and not v["split_brain"] and v["ok"], "no acknowledged write lost: %s" % v)
    g = lab.gtid("db3")
    for n in ("db2", "db4"):
        check(lab.wait_gtid(n, g, timeout=30), "%s holds the new primary's GTIDs %s" % (n, g))
    check(not [i for i in d.cluster()["issues"] if "db4" in i or "db2" in i],
          "the tree has no issue: %s" % d.cluster()["issues"])
    say("primary death: db3 promoted in %s ms; db4 kept under db2; %d acked, none lost"
        % (op["duration_ms"], v["acked"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    name = labkit.unique_name("chain-" + flavor[:2])
    with labkit.Lab.up(flavor, 4, name=name, semisync=True, topology="chain") as lab:
        with fokit.Daemon(lab, vip_plugin=True, node_rules={"db3": "prefer"}) as d:
            d.start()
            the_tree(lab, d, say)
            relay_death(lab, d, say)
            chain_again(lab, d, say)
            primary_death(lab, d, say)
            check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.ALL_FLAVORS)])
