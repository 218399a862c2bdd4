#!/usr/bin/env python3
"""Pause, the failover_block and the history are the cluster's, not one
manager's (docs/ha.md, "The shared state").

Three managers coordinated through a 3-member etcd cluster; four semi-sync
nodes under the write checker (reliability).

(h) A hold until ack survives a leader change: the shared state in etcd is
    replaced by a record that can't be read (`"paused": "yes"`) and the
    leader killed; the new leader holds the cluster (state unknown, naming
    the bad member) and writes the hold; it is killed in turn, and the next
    leader is held too, by the same hold (written by its predecessor), until
    `failoverctl ack` on it, after which every manager shows no hold.
(a) The cluster is paused on the leader; the followers' status shows it
    paused, by the leader. The leader manager is killed (SIGKILL); the new
    leader's status says paused (by the old leader), and when the primary is
    killed it does not fail over (failover_blocked: paused; no begin in its
    journal). `failoverctl resume` on the new leader fails over.
(b) That failover done, every follower shows the failover_block until and
    the operation. The leader manager is killed, and within failover_block
    the new primary is killed: the next leader does not fail over
    (failover_blocked naming failover_block and the previous operation), and
    `failoverctl history` on every surviving manager lists the first
    failover, from etcd. `failoverctl ack` on the leader lifts the block and
    it fails over.
(c) The block does not stop finishing an interrupted failover: within
    failover_block of that failover the new primary is killed, an operator
    fails it over (`failoverctl failover`), and the leader is killed while
    its post_promotion hook (1.5 s) runs. The next leader adopts the block
    and still finishes the operation (failover_resumed, then done under the
    same id, no failover of its own). Exactly one node is writable at the
    end and the writer lost no acknowledged write.

Before the shared state, a new leader forgot the pause and the block: it
failed over at once in (a), and again seconds after the previous failover
in (b). MariaDB and MySQL."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

HOOK_S = 1.5


def shared(d):
    try:
        return d.cluster().get("shared") or {}
    except Exception:  # noqa: BLE001 - a dead manager answers nothing
        return {}


def blocked_events(d, since):
    return d.events().get("failover_blocked", [])[since:]


STATE = "/failoverd/v1/main/state"


def restart(d):
    d.start()
    wait_for(lambda: (hakit.coord(d) or {}).get("role") == "follower", 15,
             what="%s, started again, to follow" % hakit.manager_id(d))


def running(ds):
    return [d for d in ds if d.proc and d.proc.poll() is None]


def seen_by_all(ds, primary):
    """Every running manager has reached the primary (a manager started
    again must have, or the start-up rule holds its failover: docs/failover.md)."""
    hakit.wait_primary_seen(running(ds), primary)


def held_survives(lab, ds, etcd, say):
    old = hakit.wait_one_leader(ds)
    etcd.ctl("put", STATE, '{"v": 1, "paused": "yes"}')
    old.kill()
    rest = [d for d in ds if d is not old]
    second = hakit.wait_one_leader(rest, timeout=20)
    sid = hakit.manager_id(second)
    wait_for(lambda: "paused: must be true or false" in
             (second.cluster().get("state_unknown") or ""), 15,
             what="the new leader %s to hold the cluster for the bad record" % sid)
    wait_for(lambda: ((etcd.get_json(STATE) or {}).get("held") or {}).get("by") == sid, 15,
             what="%s to write its hold in etcd" % sid)
    restart(old)
    second.kill()
    rest = [d for d in ds if d is not second]
    third = hakit.wait_one_leader(rest, timeout=20)
    tid = hakit.manager_id(third)
    wait_for(lambda: "paused: must be true or false" in
             (third.cluster().get("state_unknown") or ""), 15,
             what="the next leader %s to keep the hold" % tid)
    check((shared(third).get("held") or {}).get("by") == sid,
          "%s's status says %s held it: %s" % (tid, sid, shared(third)))
    check(third.cluster()["verdict"] == "unknown", "held: the verdict is unknown")
    third.ctl("ack", "main")
    for d in rest:
        wait_for(lambda: shared(d).get("manager") == tid and shared(d).get("held") is None and
                 not d.cluster().get("state_unknown"), 15,
                 what="%s to show the hold acknowledged" % hakit.manager_id(d))
    restart(second)
    seen_by_all(ds, "db1")
    say("a bad shared state held the cluster on %s; %s kept the hold until its ack" % (sid, tid))


def paused_survives(lab, ds, say):
    old = hakit.wait_one_leader(ds)
    oid = hakit.manager_id(old)
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    old.ctl("pause", "main")
    rest = [d for d in ds if d is not old]
    for d in rest:
        wait_for(lambda: d.cluster()["paused"] and shared(d).get("manager") == oid, 10,
                 what="%s's status to show the pause written by %s" % (hakit.manager_id(d), oid))
    by = shared(rest[0]).get("paused_by") or ""
    check(by.endswith("on " + oid), "a follower says who paused: %s" % by)
    old.kill()
    new = hakit.wait_one_leader(rest, timeout=20)
    nid = hakit.manager_id(new)
    check(new.cluster()["paused"], "the new leader %s is paused" % nid)
    since = len(new.events().get("failover_blocked", []))
    lab.kill("db1")
    wait_for(lambda: any("paused" in ln for ln in blocked_events(new, since)), 30,
             what="the new leader %s to say it does not fail over: paused" % nid)
    check(hakit.begins(new) == [], "the new leader %s started nothing while paused" % nid)
    old.start()  # back, as a follower with an empty journal
    wait_for(lambda: (hakit.coord(old) or {}).get("role") == "follower", 15,
             what="%s, started again, to follow" % oid)
    new.ctl("resume", "main")
    op = new.wait_operation(1, timeout=60)
    check(op["type"] == "done", "resume on the new leader %s fails over: %s" % (nid, op))
    lab.wait_acks(50, server_id=lab.node(op["new_primary"]).server_id)
    say("paused on %s, kept by the new leader %s through db1's death; resumed: %s promoted"
        % (oid, nid, op["new_primary"]))
    return new, op


def block_survives(lab, ds, leader, first, say):
    lid = hakit.manager_id(leader)
    opid = first["op"]
    rest = [d for d in ds if d is not leader]
    for d in rest:
        wait_for(lambda: d.cluster().get("blocked_until") and
                 (shared(d).get("last_failover") or {}).get("op") == opid, 15,
                 what="%s's status to show the block of %s" % (hakit.manager_id(d), opid))
    x = first["new_primary"]
    seen_by_all(ds, x)
    leader.kill()
    new = hakit.wait_one_leader(rest, timeout=20)
    nid = hakit.manager_id(new)
    since = len(new.events().get("failover_blocked", []))
    lab.kill(x)
    wait_for(lambda: any("failover_block" in ln and ("operation %s)" % opid) in ln
                         for ln in blocked_events(new, since)), 30,
             what="the new leader %s to say failover_block holds it (after %s)" % (nid, opid))
    check(new.operations() == [] and hakit.begins(new) == [],
          "the new leader %s started no failover within failover_block" % nid)
    for d in rest:
        rc, out = d.ctl("history", "main")
        ops = {o["op"]: o for o in out["operations"]}
        check(out.get("source") == "etcd" and ops.get(opid, {}).get("state") == "done" and
              ops[opid].get("new_primary") == x,
              "history on %s lists %s's failover %s: %s" % (hakit.manager_id(d), lid, opid, out))
    rc, out = new.ctl("ack", "main")
    op = new.wait_operation(1, timeout=60)
    check(op["type"] == "done" and op["old_primary"] == x,
          "after the ack the new leader %s fails over: %s" % (nid, op))
    lab.wait_acks(50, server_id=lab.node(op["new_primary"]).server_id)
    leader.start()  # back, as a follower
    wait_for(lambda: (hakit.coord(leader) or {}).get("role") == "follower", 15,
             what="%s, started again, to follow" % lid)
    say("%s killed after failover %s, then %s: %s held by failover_block; history on %s; "
        "acked: %s promoted" % (lid, opid, x, nid,
                                ", ".join(hakit.manager_id(d) for d in rest), op["new_primary"]))
    return new, op


def post_promotion_steps(d):
    return [r for r in d.journal() if r.get("type") == "step" and
            r.get("step") == "hook:post_promotion"]


def block_lets_resume(lab, ds, leader, last, say):
    """Within failover_block of `last`, an operator's failover interrupted
    after its promotion is finished by the next leader."""
    lid = hakit.manager_id(leader)
    z = last["new_primary"]
    rest = [d for d in ds if d is not leader]
    for d in rest:
        wait_for(lambda: (shared(d).get("last_failover") or {}).get("op") == last["op"], 15,
                 what="%s's status to show the block of %s" % (hakit.manager_id(d), last["op"]))
    seen_by_all(ds, z)
    hooks = len(post_promotion_steps(leader))
    known = {b["op"] for d in rest for b in hakit.begins(d)}
    lab.kill(z)
    leader.wait_verdict("dead", timeout=30)
    # The operator's failover answers when it ends: it is not waited for.
    ctl = subprocess.Popen([fokit.FAILOVERCTL, "-s", leader.sock, "--json", "failover", "main"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(post_promotion_steps(leader)) > hooks, 60, interval=0.02,
                 what="the leader %s to start its post_promotion hook" % lid)
        leader.kill()
        ctl.wait(10)
    finally:
        if ctl.poll() is None:
            ctl.kill()
            ctl.wait(5)
    opid = [r for r in leader.journal() if r.get("type") == "begin"][-1]["op"]
    promoted = [r["step"].split(":", 1)[1] for r in leader.journal()
                if r.get("type") == "step_done" and r.get("op") == opid and
                r.get("step", "").startswith("promote:")]
    check(promoted, "the killed leader %s had promoted a node in %s" % (lid, opid))
    new = hakit.wait_one_leader(rest, timeout=30)
    nid = hakit.manager_id(new)
    check(new.cluster().get("blocked_until"),
          "the next leader %s knows the block of %s" % (nid, last["op"]))
    res = new.wait_event("failover_resumed", timeout=60)
    check(opid in res[-1], "the next leader %s resumed %s: %s" % (nid, opid, res[-1]))
    wait_for(lambda: [r for r in new.operations() if r.get("op") == opid], 90,
             what="%s to finish %s" % (nid, opid))
    ended = [r for r in new.operations() if r.get("op") == opid][0]
    check(ended["type"] == "done" and ended.get("new_primary") == promoted[-1],
          "the next leader %s finished %s despite failover_block: %s" % (nid, opid, ended))
    mine = [b for b in hakit.begins(new) if b["op"] not in known and b["op"] != opid]
    check(not mine, "%s ran no failover of its own: %s" % (nid, mine))
    hakit.check_one_writable_nothing_lost(lab, ended["new_primary"])
    say("within failover_block of %s, %s's failover %s interrupted after its promotion; "
        "%s finished it on %s" % (last["op"], lid, opid, nid, ended["new_primary"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    tmp = tempfile.mkdtemp(prefix="ha93-")
    try:
        hook = hakit.slow_hook(tmp, "post_promotion", HOOK_S)
        extra = '    hooks = { post_promotion = "%s"; timeout = "10s"; };' % hook
        with labkit.Lab.up(flavor, 5, name=labkit.unique_name("ha93-shared-" + flavor),
                           semisync=True) as lab:
            with hakit.Etcd(lab).start() as etcd:
                ds = hakit.managers(lab, etcd, 3, vip_plugin=True, cluster_extra=extra)
                try:
                    hakit.start_all(ds)
                    hakit.wait_primary_seen(ds)
                    held_survives(lab, ds, etcd, say)
                    leader, first = paused_survives(lab, ds, say)
                    leader, last = block_survives(lab, ds, leader, first, say)
                    block_lets_resume(lab, ds, leader, last, say)
                    hakit.stop_all([d for d in ds if d.proc and d.proc.poll() is None])
                finally:
                    for d in ds:
                        d.__exit__(*sys.exc_info())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
