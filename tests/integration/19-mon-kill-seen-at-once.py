#!/usr/bin/env python3
"""A killed primary is found dead at once, not at its next probe, on both flavors.

The probes run every 5 s here (probe_interval and down_after 5 s), so the
next probe of the primary is seconds away when it is killed. Its host's
kernel closes the probe's kept-open connection at once; failoverd sees that
between probes, probes again at once, is refused, and asks the replicas,
whose IO threads lost the same server. The test asserts:

1. primary_dead comes within 1 s of the kill (before the kill was only seen
   at the next probe, up to 5 s later, and then waited for down_after),
   with the replicas' confirmation in its reason, and the primary's last
   error is the refused connect;
2. the failover that follows (reliability, semi-sync, the write checker
   writing through the VIP) leaves one writable node, the others replicating
   from it, and loses no acknowledged write;
3. a refused connect is never a verdict by itself: the new primary's port
   rejects the manager alone (a TCP reset, as a dead server's host would
   send) while its replica still receives from it. The verdict is
   unreachable, never dead, and healthy again once the rule is gone.

Usage: 19-mon-kill-seen-at-once.py [FLAVOR...]   (default: both)
"""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

SLOW = '    probe_interval = "5s";\n    down_after = "5s";'
BOUND_S = 1.0


def stamp(line):
    t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def replicas_receiving(d):
    ns = {n["name"]: n for n in d.cluster()["nodes"]}
    return all(ns[r]["state"] == "up" and ns[r]["replication"] and
               ns[r]["replication"]["io"] == "yes" and ns[r]["replication"]["source"] == "db1"
               for r in ("db2", "db3"))


def refused_to_manager_alone(lab, d, new, say):
    other = next(n for n in ("db2", "db3") if n != new)
    client = lab.desc["client"]["address"]
    rule = ("table inet rejmgr {\n  chain in {\n    type filter hook input priority 0; "
            "policy accept;\n    ip saddr %s tcp dport %d reject with tcp reset\n  }\n}\n"
            % (client, lab.node(new).port))
    deads = len(d.events().get("primary_dead", []))
    lab.run_in(["nft", "-f", "-"], node=new, input=rule)
    try:
        d.wait_verdict("unreachable", 30)
        why = d.cluster()["verdict_reason"]
        check("refused" in (d.node(new)["last_error"] or ""),
              "the manager's connects are refused: %s" % d.node(new)["last_error"])
        # The primary is alive for its replica: a transaction reaches it.
        lab.sql(new, "CREATE DATABASE IF NOT EXISTS mon19_alive")
        want = lab.gtid(new)
        labkit.wait_for(lambda: fokit.gtid_missing(lab.flavor, lab.gtid(other), want) == 0, 30,
                        what="%s to receive from %s" % (other, new))
        # A few seconds of it, confirmed again and again, change nothing.
        end = time.time() + 3
        while time.time() < end:
            check(d.cluster()["verdict"] == "unreachable", "still unreachable: %s" % d.cluster())
            time.sleep(0.2)
        check(len(d.events().get("primary_dead", [])) == deads,
              "a refused manager alone is never a dead verdict")
        say("%s refuses the manager alone: unreachable (%s)" % (new, why))
    finally:
        lab.run_in(["nft", "delete", "table", "inet", "rejmgr"], node=new)
    d.wait_verdict("healthy", 30)


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("mon19-" + flavor[:2]),
                       semisync=True) as lab:
        with fokit.Daemon(lab, vip_plugin=True, cluster_extra=SLOW) as d:
            d.start()
            d.wait_verdict("healthy", 30)
            labkit.wait_for(lambda: replicas_receiving(d), 30, what="replicas receiving from db1")
            lab.writer_start(through="vip")
            lab.wait_acks(50)
            # Kill just after a probe of db1 ended: its next one is about 5 s away.
            last = d.node("db1")["last_probe"]
            labkit.wait_for(lambda: d.node("db1")["last_probe"] != last, 15, interval=0.02,
                            what="a fresh probe of db1")
            t0 = time.time()
            lab.kill("db1")
            labkit.wait_for(lambda: d.events().get("primary_dead"), 15, interval=0.02,
                            what="the primary_dead event")
            dead = d.events()["primary_dead"][0]
            took = stamp(dead) - t0
            check(took < BOUND_S, "a killed primary is dead within %.1f s, not at its next probe: "
                  "%.3f s (%s)" % (BOUND_S, took, dead))
            check("have lost it too" in dead, "the replicas confirmed it: %s" % dead)
            check("refused" in (d.node("db1")["last_error"] or ""),
                  "the reconnect was refused: %s" % d.node("db1")["last_error"])
            say("kill -9 -> dead in %.3f s with a 5 s probe interval" % took)

            op = d.wait_operation(1, timeout=60)
            check(op["type"] == "done", "the failover must be done: %s" % op)
            new = op["new_primary"]
            check(new in ("db2", "db3"), "a replica is the new primary: %s" % op)
            fokit.wait_topology(lab, new)
            v = lab.writer_verify()
            check(v["ok"] and v["primary"] == new and v["lost"] == [] and not v["split_brain"]
                  and not v["divergence"], "one writable node, nothing lost: %s" % v)
            say("%s promoted; %d acknowledged writes, none lost" % (new, v["acked"]))

            refused_to_manager_alone(lab, d, new, say)
            check(d.stop() == 0, "failoverd exits 0 on SIGTERM")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        scenario(flavor)


fokit.run_main(main)
