#!/usr/bin/env python3
"""A replica that hangs during a switchover follows the new primary when it
wakes up, on both flavors (auto_rejoin is off, as by default).

db3 is stopped (SIGSTOP) under writes; the operator switches db1 over to db2.
failoverd leaves the hung db3 out (it is down). When db3
wakes up it still replicates from db1, which is now db2's replica: a chain
failoverd does not manage. It is a replica, not a returning old primary, so no
rejoin decision is needed: failoverd repoints it at db2 once it sees it
(`node_rejoined`), and the cluster ends with db2 the one writable node, every
other node replicating from it with everything it has, and no acknowledged
write lost."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("sw59-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, cluster_extra=fokit.vip_hook(lab)) as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(50)
        lab.stop("db3")
        d.wait_verdict("healthy")
        wait_for(lambda: d.node("db3")["state"] == "down", 15, what="failoverd to see db3 down")
        rc, op = d.ctl("switchover", "main", "--to", "db2", timeout=90, check=False)
        check(isinstance(op, dict) and op.get("type") == "done" and op["new_primary"] == "db2",
              "the switchover is done: exit %s %s" % (rc, op))
        check(not any(s["name"].endswith(":db3") for s in op["steps"]),
              "the hung db3 was left out of the switchover: %s" % [s["name"] for s in op["steps"]])
        lab.wait_acks(50, server_id=lab.node("db2").server_id)
        lab.cont("db3")
        say("db3 woke up after the switchover")
        r3 = wait_for(lambda: (lab.state("db3")["replica"] or {}).get("source_host"), 15,
                      what="db3 to answer")
        say("db3 replicates from %s when it wakes up" % r3)
        d.wait_event("node_rejoined", timeout=30)
        check(any("db3" in e for e in d.events()["node_rejoined"]),
              "the rejoin names db3: %s" % d.events()["node_rejoined"])
        fokit.wait_topology(lab, "db2")
        check(not d.events().get("node_rejoin_ready"),
              "a replica left behind needs no rejoin decision: %s" % d.events().get("node_rejoin_ready"))
        v = lab.writer_verify()
        check(v["ok"] and v["lost"] == [] and not v["split_brain"],
              "nothing lost, never two writable nodes: %s" % v)
        say("db3 repointed at db2; %d acked, none lost" % v["acked"])


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
