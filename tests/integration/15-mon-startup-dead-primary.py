#!/usr/bin/env python3
"""Start-up with a dead primary, on both flavors (semi-sync lab, write checker
through the VIP, failoverd's VIP plugin).

failoverd learns the primary's GTID state by probing it; a daemon started
while the primary is already down has never seen it, and can't tell a
primary down for maintenance from one that died with transactions no replica
received.

1. Reliability (default settings): db1 is killed, then failoverd starts. The
   primary is dead, and failoverd refuses to promote past it: a
   failover_blocked event says why and what to do, no operation starts (not
   within 0.6 s, not within several seconds), no node is writable, the
   replicas still point at db1.
2. Maintenance over: db1 starts again and is made writable by hand. Nothing
   was failed over; db1 is the only writable node, healthy.
3. failoverd restarted with db1 dead again, and the operator confirms:
   `failoverctl failover main` is done, a primary_state_unknown event says
   what is unknown, one node writable, every acknowledged write kept
   (semi-sync).
4. Availability, startup_grace 4 s: failoverd restarted with the new primary
   dead. failover_blocked says it waits for the grace; the automatic failover
   starts only after it, and is done.

Usage: 15-mon-startup-dead-primary.py [FLAVOR...]   (default: both)
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

HOLD_S = 5.0
GRACE_S = 4
SEMI_VAR = {"mariadb": "rpl_semi_sync_master_enabled", "mysql": "rpl_semi_sync_source_enabled"}


def begins(d):
    return [r for r in d.journal() if r.get("type") == "begin"]


def blocked(d):
    return len(d.events().get("failover_blocked", []))


def held(lab, d, flavor, primary, n_begins, n_blocked, say):
    """The daemon (just started, primary dead) holds: dead verdict, a
    failover_blocked event naming the primary, no operation for HOLD_S,
    nothing writable, the replicas still pointed at the primary."""
    t0 = time.time()
    d.wait_verdict("dead", timeout=20)
    ev = d.wait_event("failover_blocked", timeout=10, count=n_blocked + 1)[-1]
    check("has not reached %s" % primary in ev and "failoverctl failover main" in ev,
          "failover_blocked names the never-reached primary and what to do: %s" % ev)
    while time.time() - t0 < HOLD_S:      # an observation window: nothing may happen
        check(len(begins(d)) == n_begins, "no failover starts with the primary never seen: %s"
              % begins(d)[n_begins:])
        check(fokit.writable_nodes(lab) == [], "no node writable: %s" % fokit.writable_nodes(lab))
        time.sleep(0.2)
    p = lab.node(primary)
    for n in lab.nodes:
        if n.name != primary and n.alive:
            r = lab.state(n)["replica"] or {}
            check(r.get("source_host") == p.address, "%s still points at %s: %s"
                  % (n.name, primary, r))
    say("%s: %s dead at start: failover refused for %.0f s (%s)" % (
        flavor, primary, HOLD_S, ev.split("event=failover_blocked ")[1][:110]))


def run(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("reload-st-" + flavor[:2]),
                       semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True) as d:
        lab.writer_start(through="vip")
        lab.wait_acks(50)

        # 1. Reliability: the primary is dead before failoverd starts.
        lab.kill("db1")
        d.start()
        held(lab, d, flavor, "db1", 0, 0, say)

        # 2. Maintenance over: db1 back, made writable by hand. Nothing moved.
        lab.start("db1")
        lab.sql("db1", "SET GLOBAL %s = ON" % SEMI_VAR[flavor])
        lab.make_writable("db1")
        d.wait_verdict("healthy", timeout=20)
        lab.wait_acks(30, server_id=lab.node("db1").server_id, timeout=60)
        check(begins(d) == [], "no operation at all: %s" % begins(d))
        check(fokit.writable_nodes(lab) == ["db1"], "db1 the only writable node")
        say("%s: db1 back from maintenance, healthy, nothing failed over" % flavor)

        # 3. Restarted with db1 dead again; the operator confirms.
        check(d.stop() == 0, "failoverd stops cleanly")
        lab.kill("db1")
        n = blocked(d)
        d.start()
        held(lab, d, flavor, "db1", 0, n, say)
        rc, out = d.ctl("failover", "main", timeout=90, check=False)
        check(rc == 0, "the operator's failover is done: exit %s %s\n%s" % (rc, out, d.log_tail()))
        op = d.wait_operation(1, timeout=30)
        new = op["new_primary"]
        check(op["type"] == "done" and new in ("db2", "db3"), "failover done: %s" % op)
        ev = d.wait_event("primary_state_unknown", timeout=5)[-1]
        check("db1" in ev, "the event names db1: %s" % ev)
        fokit.wait_topology(lab, new, timeout=60)
        lab.wait_acks(30, server_id=lab.node(new).server_id, timeout=60)
        v = lab.writer_verify()
        check(v["ok"] and v["lost"] == [] and not v["split_brain"] and v["primary"] == new,
              "no acknowledged write lost, one writable node: %s" % v)
        say("%s: operator confirmed: %s promoted, %d acked, none lost" % (flavor, new, v["acked"]))

        # 4. Availability with a start-up grace: the failover waits for it.
        check(d.stop() == 0, "failoverd stops cleanly")
        lab.kill(new)
        last = next(n.name for n in lab.nodes if n.name not in ("db1", new))
        d.write_config(cluster_extra='    policy = "availability";\n    startup_grace = "%ds";\n'
                       '    failover_block = "0s";' % GRACE_S)
        n = blocked(d)
        t0 = time.time()
        d.start()
        d.wait_verdict("dead", timeout=20)
        ev = d.wait_event("failover_blocked", timeout=10, count=n + 1)[-1]
        check("waits startup_grace" in ev and new in ev, "the grace is announced: %s" % ev)
        op = d.wait_operation(2, timeout=GRACE_S + 40)
        b = [r for r in begins(d) if r["op"] == op["op"]][0]
        after = b["wall_ms"] / 1000.0 - t0
        check(after >= GRACE_S - 0.1, "the failover began %.2f s after the start, not before the "
              "%d s grace" % (after, GRACE_S))
        check(op["type"] == "done" and op["new_primary"] == last, "failover to %s done: %s"
              % (last, op))
        check(len(d.events().get("primary_state_unknown", [])) == 2,
              "primary_state_unknown for this failover too")
        check(fokit.writable_nodes(lab) == [last], "%s the only writable node" % last)
        say("%s: availability: %s dead at start, failed over to %s %.1f s after the start "
            "(grace %d s)" % (flavor, new, last, after, GRACE_S))
        check(d.stop() == 0, "failoverd stops cleanly")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        run(flavor)


fokit.run_main(main)
