#!/usr/bin/env python3
"""A failover of a primary that still answers fences it as a returning primary
is fenced: no commit waiting on it for a semi-sync acknowledgement is ever
acknowledged, and it is read-only before the new primary is writable. Both
flavors.

db1 is cut off from db2 and db3 but not from the client namespace (failoverd
and the write checker, writing through the VIP). Its commits wait for a
semi-sync acknowledgement no replica can send (timeout 20 s here); failoverd
still reaches it (verdict healthy). Once both replicas have lost it the
operator forces a failover (`failoverctl failover main --force`). A plain
read_only would queue behind the waiting commit, time out, and leave db1
read_only = OFF beside the promoted db2 until the semi-sync timeout
acknowledged the commit that only db1 has. The fence step queues read-only,
cuts off the client sessions, and (MySQL) switches the source side off:
  - the write checker never saw two writable nodes, and every write it had
    acknowledged is on db2: nothing db1 acknowledged after the cut is
    missing (what db1 committed without acknowledging it stays on db1 only,
    reported by node_errant when failoverd looks at it);
  - db2 is the only writable node, the failover's fence step succeeded, and
    the log says it cut off the client sessions.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def replicas_lost(d):
    """Both replicas have lost db1 (their IO threads not connected), as
    failoverd sees them."""
    c = d.cluster()
    io = {n["name"]: (n.get("replication") or {}).get("io") for n in c["nodes"]}
    return io.get("db2") not in (None, "yes") and io.get("db3") not in (None, "yes")


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("semisync-39" + flavor[:2]),
                       semisync=True, semisync_timeout_ms=20000) as lab, \
            fokit.Daemon(lab, vip_plugin=True, node_rules={"db2": "prefer"}) as d:
        d.start()
        lab.writer_start(through="vip", rate=100)
        lab.wait_acks(50)
        lab.partition("db1", frm="db2")
        lab.partition("db1", frm="db3")
        t0 = time.time()
        wait_for(lambda: replicas_lost(d), 15, interval=0.2,
                 what="failoverd to see db2 and db3 lose db1")
        check(d.cluster()["verdict"] == "healthy", "failoverd still reaches db1")
        rc, op = d.ctl("failover", "main", "--force", timeout=90, check=False)
        took = time.time() - t0
        check(rc == 0 and isinstance(op, dict) and op.get("type") == "done",
              "the forced failover is done: exit %s %s\n%s" % (rc, op, d.log_tail()))
        check(op.get("new_primary") == "db2", "db2 is the new primary: %s" % op)
        check(took < 18, "the failover ended before db1's semi-sync timeout (%.1f s)" % took)
        lab.wait_acks(50, server_id=lab.node("db2").server_id)
        lab.heal()
        v = lab.writer_verify()
        check(v["primary"] == "db2" and v["lost"] == [] and not v["split_brain"],
              "every acknowledged write is on db2, never two writable nodes: lost %s, "
              "split brain %s" % (v["lost_ranges"], v["split_brain"]))
        check(fokit.writable_nodes(lab) == ["db2"], "db2 alone writable: %s"
              % fokit.writable_nodes(lab))
        steps = {s["name"]: s for s in op["steps"]}
        fence = steps.get("fence:db1")
        check(fence and fence["ok"], "the fence of db1 succeeded: %s" % op["steps"])
        said = [e for e in d.events().get("failover_step", [])
                if "step fence:db1: made read-only" in e]
        check(said and "cut off" in said[-1],
              "the log says the writer's session was cut off: %s" % said)
        say("forced failover %.1f s after the cut; fence %s ms (%s); %d acked, none lost"
            % (took, fence["ms"], fence.get("error") or "ok", v["acked"]))
        check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
