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
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

HOOK_S = 1.5


def deposed(lab, ds, say):
    old, oid, rest = hakit.kill_primary_until_hook(lab, ds, "fence", 30)
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
    hakit.check_one_writable_nothing_lost(lab, primary)
    check((hakit.coord(old) or {}).get("role") in ("follower", "no-quorum"),
          "the old leader no longer leads: %s" % hakit.coord(old))
    say("%s stopped in its hook; %s took over and promoted %s; %s resumed and stopped "
        "(%d guard failures, steps refused: %s; op %s)"
        % (oid, nid, primary, oid, len(guards), sorted(started), op_old["type"]))


def scenario(flavor):
    hakit.with_slow_hook(flavor, "ha96", "fence", HOOK_S, deposed,
                         lambda msg: labkit.log("%s: %s" % (flavor, msg)))


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
