#!/usr/bin/env python3
"""A new leader finishes the failover its predecessor left open (docs/ha.md,
"An operation the previous leader left open").

Three managers coordinated through etcd; the primary is killed under the
write checker. The leader fails over and is killed (SIGKILL) at a step
boundary, held there by a hook (a script that takes 1.5 s) - one lab per
boundary:

- post_promotion (right after the promotion): the candidate is writable, the
  traffic (the VIP) not moved. Another manager becomes the leader, reads the
  failover's record in etcd, journals it as its own interrupted operation
  (source etcd, the dead manager's id and term), re-probes and finishes it:
  coord_op_found, failover_resumed, then failover_done under the
  predecessor's operation id - and no failover of its own (no other begin,
  no second promotion).
- post_failover (the last step: everything else was done): finished the
  same way, nothing run twice that would change a server.
- fence (before the promotion, after the replicas' IO threads were stopped):
  nothing was made writable; the new leader closes that operation (it never
  enters its journal) and fails the dead primary over itself, as a new
  operation: one begin, its own, one promotion in all.

Each time: exactly one node is writable, the surviving replica replicates
from it, the writer saw no split brain and lost no acknowledged write, and
the end is recorded in etcd (a later leader finds nothing open).

Before the resume, the new leader ran a failover of its own from fresh
probes (a second operation id, failover_resumed never said). Both flavors."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402

HOOK_S = 1.5


def killed_at(lab, ds, point):
    """Kills the leader (SIGKILL) while its `point` hook runs; returns the
    killed manager, its id, its operation id, the nodes it had promoted and
    the new leader."""
    old, oid, rest = hakit.kill_primary_until_hook(lab, ds, point, 60)
    if point == "fence":
        # The hook and the IO threads' stops run side by side: the kill lands
        # once both stops are done.
        labkit.wait_for(lambda: {r["step"] for r in old.journal() if r.get("type") == "step_done"
                                 and r.get("step", "").startswith("stop_io:")}
                        >= {"stop_io:db2", "stop_io:db3"}, 20,
                        what="the leader to stop the replicas' IO threads")
    old.signal(signal.SIGKILL)
    old.proc.wait(5)
    begin = next(r for r in old.journal() if r.get("type") == "begin")
    promoted = [r["step"].split(":", 1)[1] for r in old.journal()
                if r.get("type") == "step_done" and r.get("step", "").startswith("promote:")]
    new = hakit.wait_one_leader(rest, timeout=30)
    return old, oid, begin["op"], promoted, new


def promotions(d, since_resume=False):
    recs = d.journal()
    if since_resume:
        at = next((i for i, r in enumerate(recs) if r.get("type") == "resume"), len(recs))
        recs = recs[at:]
    return [r["step"] for r in recs if r.get("type") == "step"
            and r.get("step", "").startswith("promote:")]


def resumed(lab, ds, say, point):
    old, oid, op, promoted, new = killed_at(lab, ds, point)
    check(promoted, "the killed leader had promoted a node: %s" % old.journal())
    primary = promoted[-1]
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
    again = promotions(new, since_resume=True)
    check(not again, "no second promotion: %s" % again)
    hakit.check_one_writable_nothing_lost(lab, primary)
    check(not new.events().get("failover_not_resumed"), "nothing refused")
    say("%s killed in %s of %s; %s found it (term %s) and finished it on %s"
        % (oid, point, op, nid, begins[0].get("from_term"), primary))


def restarted(lab, ds, say, point):
    old, oid, op, promoted, new = killed_at(lab, ds, point)
    check(not promoted, "the killed leader had promoted nothing: %s" % promoted)
    nid = hakit.manager_id(new)
    found = new.wait_event("coord_op_found", timeout=30)
    check(op in found[0] and oid in found[0], "the new leader found %s of %s: %s"
          % (op, oid, found[0]))
    end = new.wait_operation(1, timeout=90)
    begins = hakit.begins(new)
    check(end["type"] == "done" and len(begins) == 1 and begins[0].get("op") != op
          and not begins[0].get("source"),
          "the new leader failed over itself, as a new operation: %s %s" % (end, begins))
    primary = end["new_primary"]
    check(promotions(new) == ["promote:" + primary], "one promotion: %s" % promotions(new))
    check(not new.events().get("failover_resumed"), "nothing resumed")
    hakit.check_one_writable_nothing_lost(lab, primary)
    say("%s killed in %s of %s (before its promotion); %s closed it and failed over to %s "
        "as %s" % (oid, point, op, nid, primary, begins[0].get("op")))


# The hook point, the lab's name, what the new leader must do.
CASES = [("post_promotion", "ha99-promo", resumed), ("post_failover", "ha99-post", resumed),
         ("fence", "ha99-fence", restarted)]


def scenario(flavor):
    for point, name, body in CASES:
        hakit.with_slow_hook(flavor, name, point, HOOK_S,
                             lambda lab, ds, say, p=point, b=body: b(lab, ds, say, p),
                             lambda msg: labkit.log("%s: %s" % (flavor, msg)))


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
