#!/usr/bin/env python3
"""A reliability switchover with semi-sync: the new primary's first commits
are acknowledged as soon as the clients reach it, not once the hooks and the
repointing are over. Both flavors.

The write checker writes through the VIP 200 times a second. The
post_promotion hook moves the VIP at once and then takes two seconds more (a
slow notification, a DNS update: clients already reach the new primary while
it runs). failoverd moves the primary from db1 to db2. The replicas must be
semi-sync replicas of db2 before it is writable, else its first commits wait
for an acknowledgement until a replica is repointed after the hooks:
  - the longest gap between two acknowledged writes around the switchover (as
    the application sees it) stays well under the hook's two seconds;
  - db3 was repointed before db2 was promoted, the old primary db1 after;
  - every commit db2 made was acknowledged by a replica (its semi-sync
    counters: no commit fell back to asynchronous);
  - at the end db2 is the only writable node, db1 and db3 replicate from it
    as semi-sync replicas, and no acknowledged write is lost.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

SEMI = {"mariadb": "Rpl_semi_sync_master_%s", "mysql": "Rpl_semi_sync_source_%s"}
HOOK_EXTRA_S = 2

SLOW_VIP = """#!/bin/sh
# post_promotion: move the VIP, then take %d s more (clients reach the new
# primary meanwhile).
"%s" "$@" || exit 1
sleep %d
"""


def semisync(lab, node):
    q = "SHOW STATUS LIKE '%s'" % (SEMI[lab.flavor] % "%")
    st = {r["Variable_name"]: r["Value"] for r in lab.query(node, q)}
    return {k: st.get(SEMI[lab.flavor] % k) for k in ("status", "clients", "yes_tx", "no_tx")}


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("semisync-57" + flavor[:2]),
                       semisync=True) as lab:
        d = fokit.Daemon(lab)
        hook = os.path.join(d.dir, "slow-vip")
        with open(hook, "w") as f:
            f.write(SLOW_VIP % (HOOK_EXTRA_S, os.path.join(fokit.HOOKS, "lab-vip"), HOOK_EXTRA_S))
        os.chmod(hook, 0o755)
        d.write_config(cluster_extra='    hooks = { post_promotion = "%s %s"; };'
                       % (hook, lab.name))
        with d:
            d.start()
            lab.writer_start(through="vip", rate=200)
            lab.wait_acks(100)
            t0 = time.time()
            rc, op = d.ctl("switchover", "main", "--to", "db2", timeout=60, check=False)
            t1 = time.time()
            check(rc == 0 and isinstance(op, dict) and op.get("type") == "done",
                  "the switchover must succeed: exit %s %s\n%s" % (rc, op, d.log_tail()))
            steps = {s["name"]: s for s in op["steps"]}
            check(all(s["ok"] for s in op["steps"]), "every step succeeded: %s" % op["steps"])
            check(steps["hook:post_promotion"]["ms"] >= HOOK_EXTRA_S * 1000,
                  "the hook took its %d s: %s" % (HOOK_EXTRA_S, steps["hook:post_promotion"]))
            lab.wait_acks(200, server_id=lab.node("db2").server_id)
            fokit.wait_topology(lab, "db2")
            wait_for(lambda: semisync(lab, "db2")["clients"] == "2", 20,
                     what="db1 and db3 semi-sync replicas of db2")
            ss = semisync(lab, "db2")
            v = lab.writer_verify()
            check(v["ok"] and v["lost"] == [] and not v["divergence"] and not v["split_brain"],
                  "nothing lost, no divergence, never two writable nodes: %s" % v)
            acks = [a for a in labkit.parse_writer_log(lab.desc["writer"]["log"])["acks"]
                    if (t0 - 0.2) * 1e6 <= a[0] <= (t1 + 1) * 1e6]
            gap = max(b[0] - a[0] for a, b in zip(acks, acks[1:])) / 1000.0
            say("writes blocked %.0f ms as clients saw it (failoverd: %s ms, hook %s ms); "
                "db2 semi-sync %s" % (gap, op.get("write_blocked_ms"),
                                      steps["hook:post_promotion"]["ms"], ss))
            check(gap < HOOK_EXTRA_S * 1000 / 2,
                  "the clients' write-blocked window (%.0f ms) must not wait for the hooks "
                  "and the repointing (the hook took %s ms): gaps %s"
                  % (gap, steps["hook:post_promotion"]["ms"], v["gaps"]))
            check(ss["status"] == "ON" and ss["no_tx"] == "0" and int(ss["yes_tx"]) > 0,
                  "every commit of db2 was acknowledged by a replica: %s" % ss)
            check(steps["repoint:db3"]["at_ms"] + steps["repoint:db3"]["ms"]
                  <= steps["promote:db2"]["at_ms"],
                  "db3 followed db2 before db2 was writable: %s" % op["steps"])
            check(steps["repoint:db1"]["at_ms"] >= steps["hook:post_promotion"]["at_ms"]
                  + steps["hook:post_promotion"]["ms"],
                  "the old primary rejoins after the traffic moved: %s" % op["steps"])
            check(d.stop() == 0, "failoverd stops cleanly")


def main():
    for flavor in sys.argv[1:] or ("mariadb", "mysql"):
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
