#!/usr/bin/env python3
"""Monitoring through network partitions, on both flavors (default settings,
automatic failover off).

1. The primary cut off from the daemon only (the client namespace), while
   its replicas still replicate from it: the verdict becomes unreachable and
   stays so, never dead, for 8 s while writes on the primary keep reaching
   the replicas (status shows their received GTIDs moving). Healed: healthy.
2. A replica cut off from everyone: that replica is down in status with its
   probe's precise error (a timeout), the primary stays up and the verdict
   healthy. Healed: the replica is up again (node_up).

Usage: 11-mon-partitions.py [FLAVOR...]   (default: both)
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

HOLD_S = 8


def nodes(d):
    return {n["name"]: n for n in d.cluster()["nodes"]}


def count(d, event, node=None):
    return sum(1 for line in d.events().get(event, [])
               if node is None or f" node={node} " in line)


def partitions(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"monpt-{flavor[:2]}")) as lab, \
            fokit.Daemon(lab, cluster_extra="    auto_failover = false;") as d:
        d.start()
        d.wait_verdict("healthy")

        # 1. The primary unreachable from the daemon only.
        before = {r: nodes(d)[r]["replication"]["received_gtids"] for r in ("db2", "db3")}
        lab.partition("db1", frm="client")
        try:
            d.wait_verdict("unreachable", 20)
            check(count(d, "primary_unreachable") >= 1, "primary_unreachable event")
            t0 = time.monotonic()
            seen = set()
            k = 0
            while time.monotonic() - t0 < HOLD_S:
                # A write on the primary by its unix socket (the network path
                # from the client is cut; the replicas' is not).
                k += 1
                lab.sql("db1", "INSERT INTO lab.writes VALUES "
                        f"({900_000_000 + k}, {int(time.time() * 1e6)}, @@server_id)")
                c = d.cluster()
                seen.add(c["verdict"])
                check(c["verdict"] == "unreachable",
                      f"verdict {c['verdict']} after {time.monotonic() - t0:.1f} s: "
                      f"{c['verdict_reason']}")
                time.sleep(0.25)
            check(count(d, "primary_dead") == 0, "no primary_dead event")
            g = lab.gtid("db1")
            for r in ("db2", "db3"):
                check(lab.wait_gtid(r, g, timeout=10), f"{r} executed the writes made on db1")
            ns = nodes(d)
            check(ns["db1"]["state"] == "down" and "timeout" in (ns["db1"]["last_error"] or ""),
                  f"db1 times out from the daemon: {ns['db1']}")
            for r in ("db2", "db3"):
                rep = ns[r]["replication"]
                check(ns[r]["state"] == "up" and rep["io"] == "yes" and rep["source"] == "db1" and
                      rep["received_gtids"] != before[r],
                      f"{r} still receives from db1 (status): {ns[r]}")
            say(f"{flavor}: unreachable for {HOLD_S} s with {k} writes replicated "
                f"({d.cluster()['verdict_reason']})")
        finally:
            lab.heal("db1")
        d.wait_verdict("healthy", 20)
        check(count(d, "primary_dead") == 0, "no primary_dead event after heal")
        say(f"{flavor}: healed -> healthy")

        # 2. A replica partitioned from everyone.
        downs, sus = count(d, "node_down", "db3"), count(d, "primary_suspect")
        lab.partition("db3")
        try:
            labkit.wait_for(lambda: nodes(d)["db3"]["state"] == "down", 20, what="db3 down")
            check(count(d, "node_down", "db3") == downs + 1, "node_down event for db3")
            ns = nodes(d)
            err = ns["db3"]["last_error"] or ""
            check("timeout" in err and ns["db3"]["down_since"], f"db3's error: {ns['db3']}")
            time.sleep(1.5)  # longer than down_after: a down replica is no reason to suspect
            c = d.cluster()
            ns = {n["name"]: n for n in c["nodes"]}
            check(c["verdict"] == "healthy" and c["primary"] == "db1" and
                  ns["db1"]["state"] == "up" and ns["db2"]["state"] == "up",
                  f"primary healthy while a replica is cut off: {c}")
            check(count(d, "primary_suspect") == sus, "no suspicion of the primary")
            say(f"{flavor}: partitioned db3 down ({err}), verdict healthy")
        finally:
            ups = count(d, "node_up", "db3")
            lab.heal("db3")
        labkit.wait_for(lambda: count(d, "node_up", "db3") > ups, 20, what="node_up for db3")
        check(nodes(d)["db3"]["last_error"] is None, "db3's error clears once it is up")
        check(d.stop() == 0, "failoverd exits 0 on SIGTERM")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        partitions(flavor)


fokit.run_main(main)
