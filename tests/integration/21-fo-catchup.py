#!/usr/bin/env python3
"""The election's rules with real servers, reliability policy, on both flavors:
a preferred replica that is behind catches up before it is promoted, and a
must_not replica is never promoted even when it is the most advanced.

db2 is must_not, db3 prefer. db3 is cut off from the primary db1 while the
write checker goes on writing (semi-sync: db2 acknowledges), so db2 holds
transactions db3 never received. Then db1's host crashes under writes.
failoverd must promote db3, but only after db3 replicated from db2 until it
had everything: db3 ends up holding every transaction any replica had (its
GTID state contains what the replicas received together, as the election
recorded it), no acknowledged write is lost, db2 was never writable and now
replicates from db3."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, gtid_covers, gtid_missing, labkit  # noqa: E402


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo21-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "must_not", "db3": "prefer"},
                         vip_plugin=True) as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(30)
        lab.partition("db1", frm="db3")
        lab.wait_acks(100)
        behind = gtid_missing(flavor, lab.gtid("db3"), lab.gtid("db2"))
        check(behind > 0, "db3 must be behind db2")
        lab.crash("db1")
        op = d.wait_operation(1, timeout=60)
        check(op["type"] == "done" and op["new_primary"] == "db3",
              "the preferred db3 must be promoted: %s" % op)
        recs = d.op_records(op["op"])
        elect = next(r for r in recs if r["type"] == "elect")
        cands = {c["node"]: c for c in elect["candidates"]}
        check(elect["chosen"] == "db3" and elect["catch_up_from"] == ["db2"],
              "db3 catches up from db2: %s" % elect)
        check("must_not" in (cands["db2"]["excluded"] or ""), "db2 is excluded: %s" % cands["db2"])
        check(cands["db3"]["lacks"], "db3 lacked something when elected: %s" % cands["db3"])
        done = {r["step"] for r in recs if r["type"] == "step_done"}
        check({"catchup_start:db2", "catchup_wait:db2", "promote:db3"} <= done,
              "the catch-up ran before the promotion: %s" % sorted(done))
        order = [r["step"] for r in recs if r["type"] == "step_done"]
        check(order.index("catchup_wait:db2") < order.index("promote:db3"), "catch-up first")
        # db3 holds everything the replicas received together.
        g3 = lab.gtid("db3")
        check(gtid_covers(flavor, g3, elect["received_by_all"]),
              "db3 (%s) must hold everything received (%s)" % (g3, elect["received_by_all"]))
        check(lab.vip_holders() == ["db3"], "the VIP plugin moved the VIP to db3")
        lab.wait_acks(50, server_id=lab.node("db3").server_id)
        fokit.wait_topology(lab, "db3")
        v = lab.writer_verify()
        check(v["ok"] and v["primary"] == "db3" and v["lost"] == [] and not v["divergence"],
              "nothing lost, db2 holds what db3 holds: %s" % v)
        polls = labkit.parse_writer_log(v["log"])["polls"]
        check(not [p for p in polls if p[1] == "db2" and p[2] == "rw"], "db2 was never writable")
        check(v["acks_by_node"].get("db2") is None, "db2 never acknowledged a write")
        say("db3 (prefer) was %d transactions behind db2 (must_not), caught up, promoted in %s ms; "
            "%d acked, none lost" % (behind, op["duration_ms"], v["acked"]))


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
