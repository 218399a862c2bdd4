#!/usr/bin/env python3
"""The daemon killed in the middle of a failover (the crash_at_step test knob:
it SIGKILLs itself right after journaling the named step), on both flavors, in
semi-sync labs with the write checker running through the VIP:

1. before the promotion (MariaDB: at apply:db2, the candidate elected but not
   yet promoted; MySQL: at promote:db2, journaled but not run; MariaDB under
   the availability policy: at refresh, before any election): no node is
   writable. The restarted daemon reports where it stopped (status: failover
   state "interrupted", the step, the promotion not started / outcome unknown;
   a failover_interrupted event), refuses to fail over on its own (a
   failover_blocked event, still nothing writable) or on request, and once
   acknowledged fails over by itself: db2 writable, db3 following it, no
   acknowledged write lost (availability: the freshest replica, any loss
   reported).
2. right after the promotion (at hook:post_promotion): exactly one writable
   node, db2; db3 already follows it (reliability points the replicas at the
   candidate before making it writable). The restarted daemon reports the
   promotion as done and moves nothing (no switchover, no traffic) until
   acknowledged; then db3 replicates from db2, and a later death of db2 is
   failed over normally (to db3)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, writable_nodes  # noqa: E402

RULES = {"db2": "prefer"}       # the candidate is db2 whatever the replicas received


def knob(step):
    return '  crash_at_step = "%s";' % step


def replica(lab, node):
    return lab.state(node)["replica"] or {}


def crash_and_restart(lab, d, step, candidate="db2"):
    """Kills db1 under the writer, waits for the daemon to kill itself at
    step, checks the journal ends there, restarts the daemon without the knob."""
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    lab.kill("db1")
    rc = d.wait_exit(30)
    check(rc == -9, f"the daemon should have killed itself at {step}: exit {rc}")
    last = d.journal()[-1]
    check(last["type"] == "step" and last["step"] == step,
          f"the journal should end with step {step}: {last}")
    d.write_config(test_extra="")
    d.start()
    ev = d.wait_event("failover_interrupted")[-1]
    check(step in ev, f"failover_interrupted should name the step {step}: {ev}")
    fo = d.cluster()["failover"]
    check(fo and fo["state"] == "interrupted" and fo["step"] == step and
          fo["step_state"] == "started" and fo["candidate"] == candidate,
          f"status should show the failover interrupted at {step} (started), candidate "
          f"{candidate}: {fo}")
    return fo


def before_promotion(flavor, step, policy):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"crashb-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules=RULES, test_extra=knob(step),
                         cluster_extra=f'    policy = "{policy}";') as d:
        d.start()
        elected = step.startswith(("apply:", "promote:"))
        fo = crash_and_restart(lab, d, step, "db2" if elected else None)
        want = "unknown" if step.startswith("promote:") else "not started"
        check(fo["promotion"] == want, f"promotion should be '{want}': {fo}")
        check(writable_nodes(lab) == [], f"no node may be writable: {writable_nodes(lab)}")

        # Hands off: the dead primary is reported, not failed over.
        blocked = d.wait_event("failover_blocked", timeout=20)[-1]
        check("ack" in blocked, f"failover_blocked should say how to go on: {blocked}")
        time.sleep(2)
        check(writable_nodes(lab) == [], f"still no writable node: {writable_nodes(lab)}")
        check(d.cluster()["failover"]["state"] == "interrupted", "still interrupted")
        rc, out = d.ctl("failover", "main", check=False)
        check(rc != 0 and "interrupted" in str(out),
              f"an operator failover must be refused until the ack: {rc} {out}")

        # The acknowledgement lets the daemon fail the dead primary over.
        rc, out = d.ctl("ack", "main")
        check("failover starts" in out["message"], f"the ack should start the failover: {out}")
        done = d.wait_event("failover_done", timeout=30)[-1]
        # Under availability the freshest replica wins; db2 when they are equal.
        new = d.cluster()["last_operation"]["new_primary"]
        other = "db3" if new == "db2" else "db2"
        check(new == "db2" or policy == "availability", f"db2 should be promoted: {done}")
        labkit.wait_for(lambda: replica(lab, other).get("io_running") == "Yes" and
                        replica(lab, other).get("source_host") == lab.node(new).address,
                        20, what=f"{other} to replicate from {new}")
        check(writable_nodes(lab) == [new], f"{new} alone writable: {writable_nodes(lab)}")
        labkit.wait_for(lambda: d.cluster()["primary"] == new, 10, what=f"primary {new} in status")
        check(d.cluster()["failover"] is None, "nothing interrupted any more")
        v = lab.writer_verify()
        check(v["primary"] == new and not v["split_brain"] and not v["divergence"],
              f"no split brain, no divergence: {v['split_brain']} {v['divergence']}")
        # Semi-sync: every acknowledged write reached a replica. Reliability
        # keeps them all; availability reports what it may have left behind.
        check(not v["lost"] or (policy == "availability" and "possibly lost" in done),
              f"lost writes must be none (reliability) or reported: {v['lost_ranges']} {done}")
        print(f"{flavor} ({policy}): crash at {step}: reported, blocked, failed over to {new} "
              f"after the ack; {v['acked']} acked, {len(v['lost'])} lost")


def after_promotion(flavor):
    step = "hook:post_promotion"
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"crasha-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules=RULES, test_extra=knob(step),
                         cluster_extra="    auto_rejoin = true;") as d:
        d.start()
        fo = crash_and_restart(lab, d, step)
        check(fo["promotion"] == "done", f"the promotion should be reported done: {fo}")
        check(writable_nodes(lab) == ["db2"], f"exactly db2 writable: {writable_nodes(lab)}")
        # Under reliability the replicas follow the candidate before it is made
        # writable (so that they acknowledge its first semi-sync commits):
        # db3 already replicates from db2.
        r3 = replica(lab, "db3")
        check(r3.get("source_host") == lab.node("db2").address,
              f"db3 was pointed at db2 before the promotion: {r3}")
        labkit.wait_for(lambda: d.cluster()["primary"] == "db2", 10, what="primary db2 in status")

        # Hands off until acknowledged: nothing is moved.
        time.sleep(2)
        check(lab.vip_holders() == ["db1"] or lab.vip_holders() == [],
              f"the traffic is not moved before the ack: {lab.vip_holders()}")
        rc, out = d.ctl("switchover", "main", check=False)
        check(rc != 0 and "interrupted" in str(out), f"switchover must be refused: {rc} {out}")
        check(writable_nodes(lab) == ["db2"], f"still only db2 writable: {writable_nodes(lab)}")

        # The operator moves the traffic the failover did not move, and acks.
        lab.vip_move("db2")
        lab.wait_acks(20, server_id=lab.node("db2").server_id)
        d.ctl("ack", "main")
        labkit.wait_for(lambda: replica(lab, "db3").get("io_running") == "Yes" and
                        replica(lab, "db3").get("source_host") == lab.node("db2").address,
                        20, what="db3 replicating from db2 after the ack")
        v = lab.writer_verify()
        check(v["primary"] == "db2" and not v["lost"] and not v["split_brain"] and
              not v["divergence"],
              f"no acknowledged write lost, no split brain: {v['lost_ranges']} "
              f"{v['split_brain']} {v['divergence']}")

        # Works normally again: db2 dies, db3 takes over by itself.
        lab.kill("db2")
        d.wait_event("failover_done", timeout=30)
        labkit.wait_for(lambda: writable_nodes(lab) == ["db3"], 10, what="db3 promoted")
        print(f"{flavor}: crash at {step}: one writable node, reported, db3 rejoined after "
              f"the ack, next failover normal; {v['acked']} acked, none lost")


def main():
    before_promotion("mariadb", "apply:db2", "reliability")
    before_promotion("mysql", "promote:db2", "reliability")
    before_promotion("mariadb", "refresh", "availability")
    after_promotion("mariadb")
    after_promotion("mysql")


fokit.run_main(main)
