#!/usr/bin/env python3
"""A failover that can't be satisfied aborts in a stated, safe state, and the
operator finishes it, on both flavors.

db2 and db3 are both must_not. db1 is killed under writes: failoverd must
abort with failover_aborted naming every replica and why it was excluded,
make no node writable, keep answering status, and leave the replicas holding
what they received; `failoverctl failover` then ends the same way and exits 1.
The operator then changes db3's promotion rule and reloads
the configuration: failoverd fails over to db3, which holds every transaction
the replicas had, and no acknowledged write is lost."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, gtid_covers, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo26-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "must_not", "db3": "must_not"},
                         vip_plugin=True) as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(50)
        lab.kill("db1")
        op = d.wait_operation(1, timeout=40)
        check(op["type"] == "aborted" and op["new_primary"] is None, "aborted: %s" % op)
        aborted = [e for e in d.events().get("failover_aborted", []) if "aborted" in e]
        check(aborted and "failoverctl plan main" in aborted[-1] and "No node was made writable"
              in aborted[-1], "the event says what happened and what to do: %s" % aborted)
        elect = next(r for r in d.op_records(op["op"]) if r["type"] == "elect")
        check(elect["chosen"] is None and all("must_not" in c["excluded"]
                                              for c in elect["candidates"]),
              "every replica excluded, with its reason: %s" % elect)
        check(fokit.writable_nodes(lab) == [], "nothing writable")
        time.sleep(1)
        st = d.cluster()
        check(st["verdict"] == "dead" and st["failover"] is None, "still monitoring: %s" % st)
        received = elect["received_by_all"]
        # Asking again changes nothing: the same abort, and failoverctl exits 1.
        rc, res = d.ctl("failover", "main", timeout=60, check=False)
        # A failed operation is an error reply ("failed") carrying its record.
        err = (res or {}).get("error") or {}
        rec = err.get("operation") or {}
        check(rc == 1 and err.get("code") == "failed" and rec.get("type") == "aborted",
              "an aborted operator failover exits 1 with its record: %s %s" % (rc, res))
        check(fokit.writable_nodes(lab) == [], "still nothing writable")

        # The operator allows db3 and reloads.
        d.write_config(node_rules={"db2": "must_not", "db3": "neutral"})
        d.signal(signal.SIGHUP)
        op = d.wait_operation(3, timeout=40)
        check(op["type"] == "done" and op["new_primary"] == "db3", "db3 promoted: %s" % op)
        check(gtid_covers(flavor, lab.gtid("db3"), received),
              "db3 holds everything the replicas received (%s)" % received)
        check(lab.vip_holders() == ["db3"], "the VIP is on db3")
        lab.wait_acks(30, server_id=lab.node("db3").server_id)
        fokit.wait_topology(lab, "db3")
        v = lab.writer_verify()
        check(v["ok"] and v["primary"] == "db3" and v["lost"] == [], "nothing lost: %s" % v)
        say("no candidate: aborted safely; after the fix db3 promoted, %d acked, none lost"
            % v["acked"])


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
