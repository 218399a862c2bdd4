#!/usr/bin/env python3
"""An old primary that comes back writable while a replica still follows it is
fenced, not taken for the primary; on both flavors. (Found by the fault
campaign, seed 21: the two stayed writable together for a minute.)

db2 is cut off from everyone, then the primary db1 is: failoverd (availability
policy: reliability would hold for the unseen db2) fails over to db3, the one
replica it can see. db2 is not repointed (it can't be reached)
and still has db1 as its source. Then both come back at once: db1 writable (a
partition does not make a server read-only) and followed by db2, db3
writable and followed by nobody. failoverd must keep db3, the node it
promoted, as the primary: fence db1 (read-only within a bound) and repoint db2
at db3. The write checker never sees the two writable for longer than that
bound, and no acknowledged write is lost."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

FENCE_BOUND_S = 3.0    # a returning node is seen within a probe interval and fenced at once


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo38-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra='    policy = "availability";') as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(30)
        lab.partition("db2")
        wait_for(lambda: d.node("db2")["state"] != "up", 15, what="failoverd to lose db2")
        lab.partition("db1")
        op = d.wait_operation(1, timeout=60)
        check(op["type"] == "done" and op["new_primary"] == "db3", "failed over to db3: %s" % op)
        lab.wait_acks(30, server_id=lab.node("db3").server_id)
        check(lab.value("db1", "SELECT @@read_only") == "0", "db1 is still writable behind its cut")
        lab.heal()
        healed = time.monotonic()
        wait_for(lambda: lab.value("db1", "SELECT @@read_only") == "1", 30,
                 what="db1 to be fenced")
        took = time.monotonic() - healed
        check(took <= FENCE_BOUND_S, "db1 fenced %.2f s after it came back (bound %.1f s)"
              % (took, FENCE_BOUND_S))
        check(d.cluster()["primary"] == "db3", "db3 stays the primary: %s" % d.cluster()["primary"])
        # db2 follows db3 again, or (when it pulled from db1 what db1 had
        # committed behind its cut) failoverd names it with what it has extra.
        def db2_settled():
            r = lab.state("db2")["replica"] or {}
            if r.get("source_host") == lab.node("db3").address and r.get("io_running") == "Yes":
                return "repointed"
            if any("db2" in e for e in d.events().get("node_errant", [])):
                return "reported errant"
            return None
        how = wait_for(db2_settled, 40, what="db2 repointed at db3, or reported")
        check(fokit.writable_nodes(lab) == ["db3"], "db3 the one writable node")
        v = lab.writer_verify()
        long_windows = [w for w in v["split_brain"] if w["ms"] > FENCE_BOUND_S * 1000]
        check(v["lost"] == [] and not long_windows,
              "nothing lost, no long split brain: %s" % v)
        say("db1 fenced %.2f s after the heal, db2 %s; %d acked, none lost"
            % (took, how, v["acked"]))


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
