#!/usr/bin/env python3
"""A deposed leader sends nothing more (docs/ha.md, "Fencing a deposed leader").

Three managers coordinated through etcd; the primary is killed under the write
checker. The leader starts the failover, whose fence hook (optional: the
failover goes on when it fails) takes 1.5 s; while the hook runs the leader
is stopped (SIGSTOP) for twice the lease TTL.
Another manager becomes the leader meanwhile and does the failover itself.
Then the old leader is continued (SIGCONT): every step it journals from then
on must fail on its guard (the txn that checks its term in etcd) without
running - no step started after the stop ends done, at least one is refused
by its guard, its operation ends failed - and it says so
(coord_guard_failed). Exactly one node is writable at the end,
the writer saw no split brain and lost no acknowledged write.

Without the guard the old leader would go on with its plan against servers
the new leader has already reconfigured. Both flavors; the managers run from
the ASan build (FAILOVERD_BUILD=build-asan) when it is the one given."""
import os
import shutil
import signal
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

HOOK_S = 1.5


def slow_hook(dirpath):
    path = os.path.join(dirpath, "slow-fence")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nsleep %s\nexit 0\n" % HOOK_S)
    os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return path


def hook_started(d):
    return any(r.get("type") == "step" and r.get("step") == "hook:fence" for r in d.journal())


def deposed(lab, ds, say):
    old = hakit.wait_one_leader(ds)
    oid = hakit.manager_id(old)
    rest = [d for d in ds if d is not old]
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    wait_for(lambda: hook_started(old), 30, interval=0.02,
             what="the leader %s to start its fence hook" % oid)
    old.signal(signal.SIGSTOP)
    t_stop = time.time()
    n_stop = len(old.journal())
    try:
        new = hakit.wait_one_leader(rest, timeout=20)
        nid = hakit.manager_id(new)
        wait_for(lambda: time.time() - t_stop >= 2 * hakit.TTL, 3 * hakit.TTL,
                 what="twice the TTL")
    finally:
        old.signal(signal.SIGCONT)
    op_new = new.wait_operation(1, timeout=90)
    check(op_new["type"] == "done", "the new leader %s did the failover: %s" % (nid, op_new))
    primary = op_new["new_primary"]
    op_old = old.wait_operation(1, timeout=60)
    check(op_old["type"] in ("failed", "aborted"), "the deposed leader's failover stopped: %s"
          % op_old)
    guards = old.wait_event("coord_guard_failed", timeout=10)
    after = old.journal()[n_stop:]
    started = {r["step"] for r in after if r.get("type") == "step"}
    done = [r for r in after if r.get("type") == "step_done" and r.get("step") in started]
    check(not done, "no step the deposed leader started after the stop ends done: %s" % done)
    refused = [r for r in after if r.get("type") == "step_failed" and r.get("step") in started]
    check(refused, "the deposed leader started steps after the stop, refused: %s" % after)
    for r in refused:
        e = r.get("error", "")
        check(any(w in e for w in ("term", "lease", "leader")),
              "step %s failed on its guard: %s" % (r.get("step"), e))
    check(hakit.begins(new) and len(hakit.begins(new)) == 1, "one failover on the new leader")
    fokit.wait_topology(lab, primary)
    check(fokit.writable_nodes(lab) == [primary], "exactly one writable node: %s"
          % fokit.writable_nodes(lab))
    lab.wait_acks(50, server_id=lab.node(primary).server_id)
    v = lab.writer_verify()
    check(v["primary"] == primary and v["lost"] == [] and not v["split_brain"] and v["ok"],
          "no split brain, no acknowledged write lost: %s" % v)
    check((hakit.coord(old) or {}).get("role") in ("follower", "no-quorum"),
          "the old leader no longer leads: %s" % hakit.coord(old))
    say("%s stopped in its hook; %s took over and promoted %s; %s resumed and stopped "
        "(%d guard failures, steps refused: %s; op %s)"
        % (oid, nid, primary, oid, len(guards), sorted(started), op_old["type"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    tmp = tempfile.mkdtemp(prefix="ha91-")
    try:
        run_lab(flavor, slow_hook(tmp), say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_lab(flavor, hook, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("ha91-" + flavor),
                       semisync=True) as lab:
        with hakit.Etcd(lab).start() as etcd:
            extra = '    hooks = { fence = "%s"; timeout = "10s"; };' % hook
            ds = hakit.managers(lab, etcd, 3, vip_plugin=True, cluster_extra=extra)
            try:
                hakit.start_all(ds)
                hakit.wait_primary_seen(ds)
                deposed(lab, ds, say)
                hakit.stop_all(ds)
            finally:
                for d in ds:
                    d.__exit__(*sys.exc_info())


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.ALL_FLAVORS)])
