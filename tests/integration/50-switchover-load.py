#!/usr/bin/env python3
"""Planned switchover under write load, reliability policy, on both flavors.

The write checker writes through the VIP 200 times a second while failoverd
moves the primary from db1 to db2 (`failoverctl switchover main --to db2`),
the VIP following through the post_promotion script hook; then back again
without --to (failoverd elects). Each time:
  - exactly one node is writable and it is the new primary; every other node,
    the old primary included, replicates from it with both threads running
    (MariaDB: the old primary rejoins with MASTER_DEMOTE_TO_SLAVE) and has
    executed everything the new primary has;
  - semi-sync is on at the new primary with its replicas connected;
  - the operation is in `failoverctl history`, done, with its write-blocked
    window.
At the end the checker's verdict: no acknowledged write lost, no divergence,
and never two writable nodes as the checker saw them (split_brain empty)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

SEMI = {"mariadb": "Rpl_semi_sync_master_%s", "mysql": "Rpl_semi_sync_source_%s"}


def topology(lab, primary, timeout=30):
    """Waits until primary is the only writable node and every other one
    replicates from it and has executed what it has."""
    p = lab.node(primary)

    def ok():
        for n in lab.nodes:
            st = lab.state(n)
            if n is p:
                if not st["writable"]:
                    raise labkit.LabError("%s is not writable" % p.name)
                continue
            r = st["replica"] or {}
            if st["writable"]:
                raise labkit.LabError("%s is writable too" % n.name)
            if (r.get("source_host"), r.get("io_running"), r.get("sql_running")) != \
                    (p.address, "Yes", "Yes"):
                raise labkit.LabError("%s does not replicate from %s: %s" % (n.name, p.name, r))
        return True
    wait_for(ok, timeout, interval=0.2, what="%s the primary of every other node" % p.name)
    g = lab.gtid(p)
    for n in lab.nodes:
        if n is not p:
            check(lab.wait_gtid(n, g, timeout=timeout), "%s did not execute %s" % (n.name, g))


def semisync(lab, node):
    q = "SHOW STATUS LIKE '%s'" % (SEMI[lab.family] % "%")
    st = {r["Variable_name"]: r["Value"] for r in lab.query(node, q)}
    return st.get(SEMI[lab.family] % "status"), int(st.get(SEMI[lab.family] % "clients") or 0)


def switchover(lab, d, say, *args):
    rc, op = d.ctl("switchover", "main", *args, timeout=60, check=False)
    check(rc == 0 and isinstance(op, dict) and op.get("type") == "done",
          "the switchover must succeed: exit %s %s\n%s" % (rc, op, d.log_tail()))
    new, old = op["new_primary"], op["old_primary"]
    steps = {s["name"]: s for s in op["steps"]}
    check(all(s["ok"] for s in op["steps"]), "every step succeeded: %s" % op["steps"])
    check("block_writes:%s" % old in steps and "sync:%s" % new in steps,
          "the reliability steps ran: %s" % sorted(steps))
    check(lab.vip_holders() == [new], "the hook moved the VIP to %s: %s" % (new, lab.vip_holders()))
    lab.wait_acks(100, server_id=lab.node(new).server_id)
    topology(lab, new)
    wait_for(lambda: semisync(lab, new) == ("ON", 2), 20,
             what="semi-sync on %s with both replicas" % new)
    check(d.cluster()["primary"] == new and d.cluster()["failover"] is None,
          "failoverd sees %s as the primary, nothing running" % new)
    say("%s -> %s in %s ms, writes blocked %s ms" % (old, new, op["duration_ms"],
                                                     op.get("write_blocked_ms")))
    return op


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("sw50-" + flavor), semisync=True) as lab:
        with fokit.Daemon(lab, cluster_extra=fokit.vip_hook(lab)) as d:
            d.start()
            lab.writer_start(through="vip", rate=200)
            lab.wait_acks(100)
            first = switchover(lab, d, say, "--to", "db2")
            check(first["new_primary"] == "db2" and first["old_primary"] == "db1", str(first))
            back = switchover(lab, d, say)           # failoverd elects
            check(back["old_primary"] == "db2" and back["new_primary"] in ("db1", "db3"),
                  str(back))
            v = lab.writer_verify()
            check(v["ok"] and v["lost"] == [] and not v["divergence"] and not v["split_brain"],
                  "nothing lost, no divergence, never two writable nodes: %s" % v)
            hist = d.ctl("history", "main")[1]["operations"]
            check([(h["kind"], h["state"], h["old_primary"], h["new_primary"]) for h in hist]
                  == [("switchover", "done", "db2", back["new_primary"]),
                      ("switchover", "done", "db1", "db2")],
                  "history lists both switchovers, newest first: %s" % hist)
            check(all(isinstance(h.get("write_blocked_ms"), int) for h in hist),
                  "history keeps the write-blocked windows: %s" % hist)
            check(len(d.events().get("switchover_done", [])) == 2, "two switchover_done events")
            # The checker never saw two writable nodes, and neither may failoverd
            # claim it did from probes taken on either side of read_only.
            stale = d.events().get("topology_issue", [])
            check(not stale, "no topology issue raised by the switchovers: %s" % stale)
            check(d.stop() == 0, "failoverd stops cleanly")
            say("%d acked, none lost, longest gap between acks %s ms"
                % (v["acked"], v["max_gap_ms"]))


def main():
    for flavor in sys.argv[1:] or labkit.ALL_FLAVORS:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
