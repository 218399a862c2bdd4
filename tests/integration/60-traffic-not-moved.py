#!/usr/bin/env python3
"""A switchover and a failover whose post_promotion hook fails, on both
flavors: the new primary is writable but the traffic (the VIP) did not move.
failoverctl must not print a plain "done" and exit 0: it says TRAFFIC NOT MOVED
and exits 2, the record carries traffic_moved false, and the event's message
names the hook's error and what to do. The data: the new primary is the one
writable node and holds everything the old one had."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402

FAIL = '    hooks = { post_promotion = "%s"; };' % os.path.join(fokit.HOOKS, "fail")


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("tr60-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, cluster_extra=FAIL) as d:
        d.start()
        lab.writer_start(through="db1")
        lab.wait_acks(30)
        lab.writer_stop()
        g1 = lab.gtid("db1")
        p = d.ctl_text("switchover", "main", "--to", "db2", timeout=90)
        out = fokit.squash(p.stdout)
        check(p.returncode == 2, "failoverctl exits 2 (exit %d): %s %s" % (p.returncode, out, p.stderr))
        check("switchover done" in out and "TRAFFIC NOT MOVED" in out,
              "it says the traffic did not move: %s" % out)
        op = d.operations()[0]
        check(op["type"] == "done" and op["traffic_moved"] is False and op["new_primary"] == "db2",
              "the record says so: %s" % op)
        ev = d.events()["switchover_done"][-1]
        check("traffic did NOT move" in ev and "exited with status 1" in ev,
              "the event names the hook's error: %s" % ev)
        check(lab.vip_holders() == ["db1"], "the VIP is still on db1: %s" % lab.vip_holders())
        fokit.wait_topology(lab, "db2")
        check(fokit.gtid_covers(flavor, lab.gtid("db2"), g1), "db2 has everything db1 had")
        say("switchover done, traffic not moved: exit 2 and said so")
        # A failover the same way.
        lab.kill("db2")
        op = d.wait_operation(2, timeout=40)
        check(op["type"] == "done" and op["traffic_moved"] is False, "failover record: %s" % op)
        ev = d.events()["failover_done"][-1]
        check("traffic did NOT move" in ev, "failover_done says it: %s" % ev)
        check(fokit.writable_nodes(lab) == [op["new_primary"]], "one writable node")
        say("failover done, traffic not moved: said so")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
