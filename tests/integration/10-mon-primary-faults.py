#!/usr/bin/env python3
"""Monitoring: a primary that dies and a primary that hangs, on both flavors.

failoverd runs with its default detection settings and automatic failover off
(the verdicts are what is tested here, not the failover).

1. kill -9 of the primary: the verdict becomes dead (primary_dead event), the
   primary is down in status with the error its probe met, and the replicas
   are still shown up, with the replication state that confirmed the death
   (IO thread no longer receiving, its error). The server started again and
   made writable: node_up, verdict healthy, the replicas receive again.
2. SIGSTOP of the primary: the server hangs (TCP still connects, nothing
   answers), so probes time out. The verdict goes suspect, then dead, never
   before down_after has passed. SIGCONT: healthy again, node_up.

Usage: 10-mon-primary-faults.py [FLAVOR...]   (default: both)
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

DOWN_AFTER_S = 0.5  # the default down_after


def nodes(d):
    return {n["name"]: n for n in d.cluster()["nodes"]}


def count(d, event, node=None):
    return sum(1 for line in d.events().get(event, [])
               if node is None or f" node={node} " in line)


def wait_count(d, event, n, node=None, timeout=20):
    labkit.wait_for(lambda: count(d, event, node) >= n, timeout,
                    what=f"{n} {event} event(s)" + (f" for {node}" if node else ""))


def replicas_receiving(d):
    ns = nodes(d)
    return all(ns[r]["state"] == "up" and ns[r]["replication"] and
               ns[r]["replication"]["io"] == "yes" and ns[r]["replication"]["source"] == "db1"
               for r in ("db2", "db3"))


def primary_faults(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"monpf-{flavor[:2]}")) as lab, \
            fokit.Daemon(lab, cluster_extra="    auto_failover = false;") as d:
        d.start()
        d.wait_verdict("healthy")
        c = d.cluster()
        roles = {n["name"]: n["role"] for n in c["nodes"]}
        check(c["primary"] == "db1" and roles == {"db1": "primary", "db2": "replica",
                                                  "db3": "replica"}, f"initial topology: {c}")
        labkit.wait_for(lambda: replicas_receiving(d), 10, what="replicas receiving from db1")
        check(nodes(d)["db1"]["flavor"] == labkit.family(flavor), f"flavor detected: {nodes(d)['db1']}")

        # 1. kill -9.
        lab.kill("db1")
        d.wait_verdict("dead", 20)
        wait_count(d, "primary_dead", 1)
        ns = nodes(d)
        p = ns["db1"]
        check(p["state"] == "down" and p["role"] == "primary" and p["last_error"] and
              ("refused" in p["last_error"] or "closed the connection" in p["last_error"]),
              f"a killed primary is down with its probe's error: {p}")
        check(p["gtid_executed"], "the dead primary's last known GTID state is kept")
        for r in ("db2", "db3"):
            rep = ns[r]["replication"]
            check(ns[r]["state"] == "up" and ns[r]["role"] == "replica" and rep and
                  rep["source"] == "db1" and rep["io"] in ("connecting", "no") and
                  rep["received_gtids"], f"{r} shown up with its replication state: {ns[r]}")
        say(f"{flavor}: kill -9 -> dead ({d.cluster()['verdict_reason']}); "
            f"db2 io={ns['db2']['replication']['io']}, "
            f"error: {ns['db2']['replication']['last_io_error'][:80]}")

        ups = count(d, "node_up", "db1")
        lab.start("db1")
        lab.make_writable("db1", user="root")
        d.wait_verdict("healthy", 20)
        wait_count(d, "node_up", ups + 1, "db1")
        wait_count(d, "primary_healthy", 1)
        labkit.wait_for(lambda: replicas_receiving(d), 20, what="replicas receiving again")
        check(nodes(d)["db1"]["state"] == "up" and nodes(d)["db1"]["last_error"] is None,
              f"restarted db1: {nodes(d)['db1']}")
        say(f"{flavor}: restarted primary healthy again")

        # 2. SIGSTOP: probes time out.
        sus, dead = count(d, "primary_suspect"), count(d, "primary_dead")
        t0 = time.monotonic()
        lab.stop("db1")
        try:
            d.wait_verdict("dead", 20)
            took = time.monotonic() - t0
            wait_count(d, "primary_dead", dead + 1)
            check(count(d, "primary_suspect") > sus, "suspect comes before dead")
            check(took >= DOWN_AFTER_S, f"dead after {took:.2f} s, before down_after")
            p = nodes(d)["db1"]
            check(p["state"] == "down" and "timeout" in (p["last_error"] or ""),
                  f"a hung primary's probes time out: {p}")
            say(f"{flavor}: SIGSTOP -> dead after {took:.2f} s ({d.cluster()['verdict_reason']})")
        finally:
            ups = count(d, "node_up", "db1")
            lab.cont("db1")
        d.wait_verdict("healthy", 20)
        wait_count(d, "node_up", ups + 1, "db1")
        check(d.proc.poll() is None, "the daemon keeps running")
        say(f"{flavor}: SIGCONT -> healthy")
        check(d.stop() == 0, "failoverd exits 0 on SIGTERM")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        primary_faults(flavor)


fokit.run_main(main)
