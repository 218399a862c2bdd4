#!/usr/bin/env python3
"""The candidate dies in the middle of a failover (reliability, semi-sync).

db2 is the preferred candidate and its SQL thread is held by a table lock
(fokit.ApplierLock), so the failover waits in its step apply:db2 (wait_apply_timeout 30 s) for db2 to
apply what it received. The test kills db2 during that wait.

1. Both flavors, 3 nodes: the failover elects again without db2 and promotes
   db3 within the same operation (a failover_retry event, then
   failover_done); exactly one writable node; every acknowledged write is on
   db3; the daemon goes on monitoring.
2. MariaDB, db3 must_not: nobody is left to promote, so the failover aborts
   (failover_aborted, saying why and what to do); no node is writable; the
   daemon answers and still reports the dead primary."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, writable_nodes  # noqa: E402


def journaled(d, step):
    return any(r.get("type") == "step" and r.get("step") == step for r in d.journal())


def kill_candidate_during_apply(lab, d):
    """Writes, lets db2 fall behind, kills db1, then db2 while the failover
    waits for it. Returns the writer's log (stopped before the kill, so every
    acknowledged write must survive on the last replica standing)."""
    lab.writer_start(through="vip")
    lab.wait_acks(20)
    lock = fokit.ApplierLock(lab, "db2")
    lab.wait_acks(30)
    lab.writer_stop()
    # db3 applies everything the primary has, db2 only receives it.
    labkit.wait_for(lambda: lab.wait_gtid("db3", lab.gtid("db1"), timeout=10), 15,
                    what="db3 to apply everything")
    lab.kill("db1")
    labkit.wait_for(lambda: journaled(d, "apply:db2"), 30,
                    what="the failover to wait for db2 (step apply:db2)")
    time.sleep(0.3)                     # well inside the 30 s wait
    fo = d.cluster()["failover"]
    check(fo and fo["state"] == "running" and fo["candidate"] == "db2",
          f"the failover should be running with candidate db2: {fo}")
    lab.kill("db2")
    lock.close()


def next_candidate(flavor):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"candd-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer"},
                         cluster_extra='    wait_apply_timeout = "30s";') as d:
        d.start()
        kill_candidate_during_apply(lab, d)
        retry = d.wait_event("failover_retry", timeout=30)[-1]
        check("db2" in retry, f"failover_retry should name the lost candidate: {retry}")
        done = d.wait_event("failover_done", timeout=30)[-1]
        check("db3 is the primary" in done, f"db3 should be promoted: {done}")
        check(writable_nodes(lab) == ["db3"], f"db3 alone writable: {writable_nodes(lab)}")
        last = d.cluster()["last_operation"]
        check(last["type"] == "done" and last["new_primary"] == "db3",
              f"last operation: done, new primary db3: {last}")
        names = [s["name"] for s in last["steps"]]
        check("apply:db2" in names and "refresh:after_failure" in names and
              "promote:db3" in names and "promote:db2" not in names,
              f"one operation: db2's wait, a fresh look, db3's promotion: {names}")
        elects = [r for r in d.journal() if r.get("type") == "elect"]
        check([e["chosen"] for e in elects] == ["db2", "db3"],
              f"two elections, db2 then db3: {[e['chosen'] for e in elects]}")
        # The daemon keeps monitoring the new topology.
        labkit.wait_for(lambda: d.cluster()["primary"] == "db3" and
                        d.cluster()["verdict"] == "healthy", 15, what="db3 healthy in status")
        v = lab.writer_verify()
        check(v["primary"] == "db3" and not v["lost"] and not v["split_brain"],
              f"every acknowledged write on db3, no split brain: {v['lost_ranges']} "
              f"{v['split_brain']}")
        print(f"{flavor}: candidate db2 killed during its apply wait: db3 promoted in the same "
              f"operation; {v['acked']} acked, none lost")


def nobody_left():
    flavor = "mariadb"
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"candn-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer", "db3": "must_not"},
                         cluster_extra='    wait_apply_timeout = "30s";') as d:
        d.start()
        kill_candidate_during_apply(lab, d)
        ab = d.wait_event("failover_aborted", timeout=30)[-1]
        check("failoverctl" in ab and ("must_not" in ab or "down" in ab),
              f"failover_aborted should say why and what to do: {ab}")
        check(not d.events().get("failover_done"), "nothing may be promoted")
        check(writable_nodes(lab) == [], f"no node writable: {writable_nodes(lab)}")
        time.sleep(1)
        st = d.cluster()
        check(st["verdict"] == "dead" and st["primary"] == "db1" and st["failover"] is None and
              st["last_operation"]["type"] == "aborted",
              f"still monitoring: primary db1 dead, the failover aborted: {st['verdict']} "
              f"{st['failover']} {st['last_operation']}")
        check(writable_nodes(lab) == [], f"still no node writable: {writable_nodes(lab)}")
        print(f"{flavor}: candidate killed, nobody left: aborted safely, daemon monitoring")


def main():
    if sys.argv[1:]:        # the flavors named: the scenarios that take one
        for flavor in sys.argv[1:]:
            next_candidate(flavor)
        return
    next_candidate("mariadb")
    next_candidate("mysql")
    nobody_left()


fokit.run_main(main)
