#!/usr/bin/env python3
"""A switchover the daemon dies in, at and just before the promotion, in a
3-node semi-sync lab (reliability, default settings) with the write checker
writing through the VIP, which the post_promotion hook moves; both flavors.

The crash_at_step test knob makes the daemon SIGKILL itself right after
journaling the named step (before running it):

1. at hook:post_promotion (db1 -> db2): db2 was promoted and is writable, db1
   is read-only and still holds the VIP, so every write fails; db3 still
   replicates from db1. The restarted daemon must never show the cluster
   healthy (unless a running operation is shown) while the VIP holder is
   read-only; it finishes
   the switchover by itself (switchover_resumed, then switchover_done, the
   journal's operation done): the VIP on db2, db1 and db3 replicating from
   db2, writes acknowledged by db2 again.
2. at promote:db3 (db2 -> db3): db2 is read-only (the switchover made it so)
   and db3, which has executed everything db2 has, is not yet writable:
   nothing is writable. The restarted daemon promotes db3 again and finishes:
   the VIP on db3, db1 and db2 replicating from db3.
Both times: no acknowledged write lost, never two writable nodes, and the
next switchover runs normally."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, wait_topology, writable_nodes  # noqa: E402


def knob(step):
    return '  crash_at_step = "%s";' % step if step else ""


def crash_switchover(lab, d, to, step):
    """Asks for a switchover to `to` and waits for the daemon to kill itself
    at `step`; the journal must end with that step started."""
    argv = [fokit.FAILOVERCTL, "-s", d.sock, "switchover", "main", "--to", to]
    sw = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rc = d.wait_exit(60)
        sw.communicate(timeout=30)
    finally:
        if sw.poll() is None:
            sw.kill()
            sw.wait()
    check(rc == -9, f"the daemon should have killed itself at {step}: exit {rc}")
    last = d.journal()[-1]
    check(last["type"] == "step" and last["step"] == step,
          f"the journal should end with step {step} started: {last}")
    return last["op"]


def healthy_idle(c):
    """Status shows the cluster healthy, and no operation running (an
    interrupted one counts: it is not running)."""
    return c["verdict"] == "healthy" and (c["failover"] or {}).get("state") != "running"


def watch_until_done(lab, d, op, new, timeout=60):
    """Polls status until the journal has the operation done. Whenever status
    shows the cluster healthy and no operation running, the VIP holder must
    be writable. Returns how many polls were made."""
    polls = 0
    deadline = time.monotonic() + timeout
    while True:
        done = [r for r in d.journal() if r.get("op") == op and r.get("type") == "done"]
        if done:
            return polls, done[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"the interrupted switchover {op} was not finished within "
                                 f"{timeout} s:\n{d.log_tail(30)}")
        try:
            c = d.cluster()
        except labkit.LabError:
            time.sleep(0.1)
            continue
        polls += 1
        if healthy_idle(c):
            holders = lab.vip_holders()
            w = writable_nodes(lab)
            c2 = d.cluster()
            if healthy_idle(c2):
                check(all(h in w for h in holders),
                      f"status says healthy while the VIP holder {holders} is read-only "
                      f"(writable: {w}): {c2['verdict_reason']}")
        time.sleep(0.1)


def restart_and_check(lab, d, op, old, new, flavor):
    d.write_config(test_extra="")
    resumed_before = len(d.events().get("switchover_resumed", []))
    d.start()
    polls, done = watch_until_done(lab, d, op, new)
    ev = d.wait_event("switchover_resumed", count=resumed_before + 1)[-1]
    check(op in ev and new in ev, f"switchover_resumed should name {op} and {new}: {ev}")
    check(done.get("new_primary") == new, f"the journal's done record names {new}: {done}")
    labkit.wait_for(lambda: lab.vip_holders() == [new], 20, what=f"the VIP on {new}")
    wait_topology(lab, new, timeout=40)
    # Writes flow again through the VIP, acknowledged by the new primary,
    # without a semi-sync stall (every replica acknowledges again).
    t0 = time.monotonic()
    lab.wait_acks(20, server_id=lab.node(new).server_id, timeout=30)
    took = time.monotonic() - t0
    check(took < 8, f"20 writes through the VIP took {took:.1f} s on {new}")
    labkit.wait_for(lambda: d.cluster()["primary"] == new and d.cluster()["failover"] is None
                    and d.cluster()["verdict"] == "healthy", 20,
                    what=f"status: {new} the primary, healthy, nothing interrupted")
    labkit.log(f"{flavor}: crash before its step, restart: finished {old} -> {new} "
               f"({polls} status polls, never healthy with the VIP on a read-only node)")


def scenario(flavor):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"journal-sw57-{flavor[:2]}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, cluster_extra=fokit.vip_hook(lab),
                         test_extra=knob("hook:post_promotion")) as d:
        lab.vip_move("db1")
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(30)

        # 1. Killed after the promotion, before the traffic moved.
        op = crash_switchover(lab, d, "db2", "hook:post_promotion")
        check(writable_nodes(lab) == ["db2"], f"db2 alone writable: {writable_nodes(lab)}")
        check(lab.vip_holders() == ["db1"], f"the VIP still on db1: {lab.vip_holders()}")
        restart_and_check(lab, d, op, "db1", "db2", flavor)

        # 2. Killed with the promotion journaled but not run: nothing writable.
        d.stop()
        d.write_config(test_extra=knob("promote:db3"))
        d.start()
        lab.wait_acks(10)
        op = crash_switchover(lab, d, "db3", "promote:db3")
        check(writable_nodes(lab) == [], f"nothing writable: {writable_nodes(lab)}")
        restart_and_check(lab, d, op, "db2", "db3", flavor)

        # Works normally again.
        rc, out = d.ctl("switchover", "main", "--to", "db1", timeout=90)
        check(rc == 0, f"a normal switchover afterwards: {out}")
        wait_topology(lab, "db1", timeout=40)
        v = lab.writer_verify()
        check(v["primary"] == "db1" and not v["lost"] and not v["split_brain"] and
              not v["divergence"],
              f"nothing lost, never two writable nodes: {v['lost_ranges']} {v['split_brain']} "
              f"{v['divergence']}")
        labkit.log(f"{flavor}: {v['acked']} acked, none lost, no split brain")


def main():
    flavors = sys.argv[1:] or ["mariadb", "mysql"]
    for flavor in flavors:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
