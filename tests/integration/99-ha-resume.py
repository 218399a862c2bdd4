#!/usr/bin/env python3
"""A new leader finishes the failover its predecessor left open (docs/ha.md,
"An operation the previous leader left open").

Three managers coordinated through etcd; the primary is killed under the
write checker. The leader fails over; its post_promotion hook (a script that
takes 1.5 s) starts after the promotion, and the leader is killed (SIGKILL)
while it runs: the candidate is writable, the traffic (the VIP) not moved.
Another manager becomes the leader, reads the failover's record in etcd,
journals it as its own interrupted operation (source etcd, the dead
manager's id and term), re-probes and finishes it: coord_op_found,
failover_resumed, then failover_done under the predecessor's operation id -
and no failover of its own (no other begin, no second promotion). Exactly
one node is writable, the surviving replica replicates from it, the writer
saw no split brain and lost no acknowledged write, and the end is recorded
in etcd (a later leader finds nothing open).

Before this, the new leader ran a failover of its own from fresh probes (a
second operation id, failover_resumed never said). Both flavors."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402

HOOK_S = 1.5


def resumed(lab, ds, say):
    old, oid, rest = hakit.kill_primary_until_hook(lab, ds, "post_promotion", 60)
    old.signal(signal.SIGKILL)
    old.proc.wait(5)
    begin = next(r for r in old.journal() if r.get("type") == "begin")
    op = begin["op"]
    promoted = [r["step"] for r in old.journal() if r.get("type") == "step_done"
                and r.get("step", "").startswith("promote:")]
    check(promoted, "the killed leader had promoted a node: %s" % old.journal())
    primary = promoted[-1].split(":", 1)[1]
    new = hakit.wait_one_leader(rest, timeout=30)
    nid = hakit.manager_id(new)
    found = new.wait_event("coord_op_found", timeout=30)
    check(op in found[0] and oid in found[0], "the new leader found %s of %s: %s"
          % (op, oid, found[0]))
    res = new.wait_event("failover_resumed", timeout=60)
    check(op in res[0], "the new leader resumed %s: %s" % (op, res[0]))
    end = new.wait_operation(1, timeout=90)
    check(end["type"] == "done" and end.get("op") == op and end.get("new_primary") == primary,
          "the new leader finished the predecessor's failover %s on %s: %s" % (op, primary, end))
    begins = hakit.begins(new)
    check(len(begins) == 1 and begins[0].get("op") == op and begins[0].get("source") == "etcd"
          and begins[0].get("from_manager") == oid and begins[0].get("from_term"),
          "the new leader's journal holds one operation, the predecessor's: %s" % begins)
    # The records before "resume" are the predecessor's, from etcd.
    recs = new.journal()
    at = next(i for i, r in enumerate(recs) if r.get("type") == "resume")
    again = [r for r in recs[at:] if r.get("type") == "step"
             and r.get("step", "").startswith("promote:")]
    check(not again, "no second promotion: %s" % again)
    hakit.check_one_writable_nothing_lost(lab, primary)
    check(not new.events().get("failover_not_resumed"), "nothing refused")
    say("%s killed in post_promotion of %s; %s found it (term %s) and finished it on %s"
        % (oid, op, nid, begins[0].get("from_term"), primary))


def scenario(flavor):
    hakit.with_slow_hook(flavor, "ha99", "post_promotion", HOOK_S, resumed,
                         lambda msg: labkit.log("%s: %s" % (flavor, msg)))


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.ALL_FLAVORS)])
