#!/usr/bin/env python3
"""Faults of etcd itself while three managers coordinate through it
(docs/ha.md: "What is guaranteed", "Timing").

1. etcd's leader dies during a failover. The primary is killed under the
   write checker; the managers' leader holds its failover in a fence hook
   (1.5 s) and the member that leads the etcd cluster - made the one the
   managers' leader talks to - is killed meanwhile.
   The steps after the hook meet etcd's election: their guards may fail
   (then the operation stops and says why, coord_guard_failed), but the
   failover is done in the end, by the same manager or another one: exactly
   one writable node, the writer lost no acknowledged write, the new primary
   is published in etcd, and every manager's journal says what it did (an
   operation that did not end done ended failed or aborted, naming the
   guard). The killed member is started again and rejoins.
2. A follower's watch of the leader key is cut. Each manager talks to an
   etcd member of its own first; one follower is left (the third manager
   stops cleanly). The member the follower watches through is killed (its
   watch stream ends) and the leader manager is killed (SIGKILL): the
   follower watches again through another member, sees the leader key go
   and leads within the TTL plus a few seconds. The member is started again;
   then the primary is killed and the new leader fails over as usual.
3. The primary dies while etcd has no quorum. Two of the three members are
   stopped (SIGSTOP): the leader says it no longer leads (coord_no_quorum),
   every manager's status says no-quorum. The primary is killed: no manager
   starts anything, the replicas stay read-only and still replicate from the
   dead primary (their threads were not stopped), the managers say why no
   failover runs (failover_blocked). The members continued, a manager leads
   again and fails over: one writable node, nothing acknowledged lost, the
   new primary published under <prefix>main/primary.

4. A guard refused while the lease stays valid. The leader's failover is in
   its fence hook, which ends once every connection to etcd is refused (for
   a moment): the guard before the next step fails at once
   (coord_guard_failed) and the failover ends aborted, nothing writable,
   while the manager keeps its lease or gets it back at once. It must take
   the failover up again once etcd answers (docs/ha.md, "A failover a guard
   stopped is taken up again"): the failover is done, one writable node,
   nothing acknowledged lost, the new primary published. Before that, the
   manager left the dead primary alone until an operator acted.
5. A guard refused after the promotion, the lease still valid. The
   leader's failover is in its post_promotion hook, which ends once every
   connection to etcd is refused: the guards of every step after it
   (verify, post_failover) fail at once (coord_guard_failed) and the
   leader's failover ends with them undone; etcd answers again. The
   failover must not be left half done (docs/ha.md, "A failover a guard
   stopped is taken up again"): it is finished by the rules for an
   operation left open - post_failover runs, the operation ends done in a
   journal and in etcd, every replica follows the new primary, one writable
   node, nothing acknowledged lost, one promotion in all. Before that, the
   manager ended it done with post_failover never run and left it open in
   etcd, for nobody to finish.

The flavors given, else MariaDB and MySQL (hakit.FLAVORS)."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
import labetcd  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

HOOK_S = 1.5


def check_published(lab, etcd, primary):
    n = lab.node(primary)
    wait_for(lambda: (hakit.published_primary(etcd) or {}).get("host") == n.address, 20,
             what="the new primary %s published in etcd" % primary)
    pub = hakit.published_primary(etcd)
    check(pub["port"] == n.port and pub.get("term"), "published: %s" % pub)
    return pub


def done_anywhere(ds):
    """The (manager, record) of a done failover on a running manager, or None."""
    for d in ds:
        for op in d.operations():
            if op.get("type") == "done":
                return d, op
    return None


# ---- 1. etcd's leader killed during a failover ----------------------------------------------

def etcd_leader_killed(lab, etcd, ds, say):
    # The member the managers' leader talks to is made etcd's leader, so that
    # its kill cuts the leader's connection and starts an election at once.
    old = hakit.wait_one_leader(ds)
    lead = etcd.endpoints().index(hakit.coord(old)["etcd_endpoint"])
    labetcd.move_leader(etcd, lead)
    old, oid, rest = hakit.kill_primary_until_hook(lab, ds, "fence", 60)
    check(labetcd.leader_member(etcd) == lead, "e%d still leads etcd" % lead)
    etcd.kill_member(lead)
    t_kill = time.time()
    got = wait_for(lambda: done_anywhere(ds), 120, interval=0.3,
                   what="a failover done by one of the managers")
    by, op = got
    primary = op["new_primary"]
    hakit.check_one_writable_nothing_lost(lab, primary)
    check_published(lab, etcd, primary)
    # Every operation begun ended, and one that did not end done says why.
    guards = {hakit.manager_id(d): d.events().get("coord_guard_failed", []) for d in ds}
    for d in ds:
        ended = {o.get("op") for o in d.operations()}
        check(all(b.get("op") in ended for b in hakit.begins(d)),
              "every operation %s began ended: %s" % (hakit.manager_id(d), d.operations()))
        for o in d.operations():
            check(o["type"] in ("done", "failed", "aborted"), "%s: %s" % (hakit.manager_id(d), o))
            if o["type"] != "done":
                check(guards[hakit.manager_id(d)], "%s's %s ended %s and a guard failure says "
                      "why: %s" % (hakit.manager_id(d), o.get("op"), o["type"], o))
    promotions = [(hakit.manager_id(d), r["step"]) for d in ds for r in d.journal()
                  if r.get("type") == "step_done" and r.get("step", "").startswith("promote:")
                  and r.get("step") != "promote:" + primary]
    check(not promotions, "no other node was promoted: %s" % promotions)
    etcd.start_member(lead)
    labetcd.wait_member_back(etcd, lead)
    say("etcd leader e%d killed %s's fence hook; %s did the failover to %s (%.1f s after); "
        "guard failures: %s; e%d rejoined"
        % (lead, oid, hakit.manager_id(by), primary, hakit.event_times(by, "failover_done")[-1]
           - t_kill if by.events().get("failover_done") else -1,
           {k: len(v) for k, v in guards.items()}, lead))


# ---- 2. a follower's watch cut ----------------------------------------------------------------

def watch_cut(lab, etcd, ds, say):
    old = hakit.wait_one_leader(ds)
    oid = hakit.manager_id(old)
    follower, third = [d for d in ds if d is not old]
    fid = hakit.manager_id(follower)
    check(third.stop() == 0, "the third manager stops cleanly")
    wait_for(lambda: (hakit.coord(follower) or {}).get("role") == "follower", 20,
             what="%s to follow" % fid)
    member = ds.index(follower)  # mI talks to e(I-1) first
    check(hakit.coord(follower)["etcd_endpoint"] == etcd.endpoints()[member],
          "%s talks to e%d: %s" % (fid, member, hakit.coord(follower)))
    n_ended = follower.log_tail(100000).count("watch of the leader key ended")
    etcd.kill_member(member)
    wait_for(lambda: follower.log_tail(100000).count("watch of the leader key ended") > n_ended,
             20, what="%s's watch of the leader key to end" % fid)
    old.signal(signal.SIGKILL)
    old.proc.wait(5)
    t_kill = time.time()
    new = hakit.wait_one_leader([follower], timeout=hakit.TTL + 10)
    took = hakit.event_times(new, "coord_leader")[-1] - t_kill
    check(took <= hakit.TTL + 5, "%s led %.2f s after the leader was killed" % (fid, took))
    etcd.start_member(member)
    labetcd.wait_member_back(etcd, member)
    hakit.wait_primary_seen([follower])
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    op = follower.wait_operation(1, timeout=90)
    check(op["type"] == "done", "%s failed over: %s" % (fid, op))
    hakit.check_one_writable_nothing_lost(lab, op["new_primary"])
    check_published(lab, etcd, op["new_primary"])
    say("%s's watch cut (e%d killed), %s killed: %s led after %.2f s, failed over to %s"
        % (fid, member, oid, fid, took, op["new_primary"]))


# ---- 3. the primary killed while etcd has no quorum ------------------------------------------

def replicas_untouched(lab):
    """db2 and db3 read-only, still pointed at db1, their appliers running
    and their IO threads not stopped (retrying the dead primary)."""
    db1 = lab.node("db1").address
    out = {}
    for name in ("db2", "db3"):
        r = lab.state(lab.node(name))["replica"] or {}
        check(r.get("source_host") == db1 and r.get("io_running") in ("Yes", "Connecting")
              and r.get("sql_running") == "Yes", "%s still replicates from db1: %s" % (name, r))
        out[name] = r.get("io_running")
    check(fokit.writable_nodes(lab) == [], "nothing writable: %s" % fokit.writable_nodes(lab))
    return out


def no_quorum(lab, etcd, ds, say):
    old = hakit.wait_one_leader(ds)
    oid = hakit.manager_id(old)
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    stopped = [1, 2]
    for i in stopped:
        labetcd.stop_member(etcd, i)
    try:
        old.wait_event("coord_no_quorum", timeout=hakit.TTL + 10)
        wait_for(lambda: all((hakit.coord(d) or {}).get("role") == "no-quorum" for d in ds),
                 3 * hakit.TTL + 10, what="every manager's status to say no-quorum")
        text = old.ctl_text("status").stdout
        check("role no-quorum" in text and "\n  etcd: " in text,
              "the status text says no-quorum, and etcd's error: %s" % text[:600])
        lab.kill("db1")
        for d in ds:
            d.wait_event("failover_blocked", timeout=60)
        blocked = [e for d in ds for e in d.events()["failover_blocked"]]
        check(all("lease" in e or "leader" in e for e in blocked),
              "the managers say no failover runs without a leader lease: %s" % blocked)
        check(all(b == [] for b in hakit.all_begins(ds).values()), "no manager started "
              "anything: %s" % hakit.all_begins(ds))
        io = replicas_untouched(lab)
    finally:
        for i in stopped:
            labetcd.cont_member(etcd, i)
    got = wait_for(lambda: done_anywhere(ds), 90, interval=0.3,
                   what="a failover once etcd has its quorum back")
    by, op = got
    primary = op["new_primary"]
    check(sum(len(b) for b in hakit.all_begins(ds).values()) == 1,
          "one failover in all: %s" % hakit.all_begins(ds))
    hakit.check_one_writable_nothing_lost(lab, primary)
    pub = check_published(lab, etcd, primary)
    say("etcd members e1, e2 stopped: no quorum, %s's status said so; db1 killed: nothing "
        "touched (IO threads %s); quorum back: %s failed over to %s (published, term %s)"
        % (oid, io, hakit.manager_id(by), primary, pub["term"]))


# ---- 4. a guard refused while the lease stays valid -------------------------------------------

def guard_refused(lab, etcd, ds, say, tmp):
    old, oid, rest = hakit.kill_primary_until_hook(lab, ds, "fence", 60)
    # The hook waits for the refusal to be in place before it ends: the
    # guard of the next step meets it, whatever the machine's speed.
    wait_for(lambda: os.path.exists(os.path.join(tmp, "fence-waiting")), 20, interval=0.02,
             what="the fence hook to wait for the refusal")
    n_guard = len(old.events().get("coord_guard_failed", []))
    hakit.refuse_etcd(lab, etcd)
    open(os.path.join(tmp, "refused"), "w").close()
    try:
        old.wait_event("coord_guard_failed", timeout=10, count=n_guard + 1)
    finally:
        hakit.allow_etcd(lab)
    first = old.wait_operation(1, timeout=30)
    check(first["type"] == "aborted", "the failover stopped at its guard: %s" % first)
    got = wait_for(lambda: done_anywhere(ds), 60, interval=0.3,
                   what="the failover to be done after all, once etcd answers again")
    by, op = got
    primary = op["new_primary"]
    hakit.check_one_writable_nothing_lost(lab, primary)
    check_published(lab, etcd, primary)
    say("%s's guard refused (etcd unreachable for a moment, its lease still valid): %s "
        "aborted; %s then failed over to %s as %s" % (oid, first["op"], hakit.manager_id(by),
                                                      primary, op["op"]))


# ---- 5. a guard refused after the promotion ----------------------------------------------

def steps_done(ds, op, step):
    """(manager id, record) of every step_done of op's step on any manager."""
    return [(hakit.manager_id(d), r) for d in ds for r in d.op_records(op)
            if r.get("type") == "step_done" and r.get("step") == step]


def guard_refused_late(lab, etcd, ds, say, tmp):
    old, oid, rest = hakit.kill_primary_until_hook(lab, ds, "post_promotion", 60)
    wait_for(lambda: os.path.exists(os.path.join(tmp, "pp-waiting")), 20, interval=0.02,
             what="the post_promotion hook to wait for the refusal")
    n_guard = len(old.events().get("coord_guard_failed", []))
    hakit.refuse_etcd(lab, etcd)
    open(os.path.join(tmp, "refused"), "w").close()
    try:
        # Every step after the hook meets the refusal: the leader's own end
        # comes before etcd answers again.
        first = old.wait_operation(1, timeout=30)
    finally:
        hakit.allow_etcd(lab)
    op = first["op"]
    refused = old.events().get("coord_guard_failed", [])[n_guard:]
    check(any("hook:post_failover" in e for e in refused),
          "post_failover's guard was refused: %s" % refused)
    upto = []
    for r in old.op_records(op):
        upto.append(r)
        if r.get("seq") == first.get("seq"):
            break
    check(not [r for r in upto if r.get("type") == "step_done"
               and r.get("step") == "hook:post_failover"],
          "%s ended %s (%s) with post_failover not run" % (oid, op, first["type"]))
    fin = wait_for(lambda: steps_done(ds, op, "hook:post_failover"), 90, interval=0.3,
                   what="post_failover of %s to run after all, once etcd answers" % op)
    rec = wait_for(lambda: (lambda r: r if r and r.get("op") == op and r.get("type") == "done"
                            else None)(etcd.get_json("/failoverd/v1/main/failover")), 60,
                   interval=0.3, what="the end (done) of %s in etcd" % op)
    by = [d for d in ds if hakit.manager_id(d) == rec["manager"]][0]
    ends = [o for o in by.operations() if o.get("op") == op]
    check(ends and ends[-1]["type"] == "done", "%s's journal ends %s done: %s"
          % (rec["manager"], op, ends))
    check(by.events().get("failover_resumed"), "%s says it finished %s (failover_resumed)"
          % (rec["manager"], op))
    primary = first["new_primary"]
    promotions = [(hakit.manager_id(d), r["step"]) for d in ds for r in d.journal()
                  if r.get("type") == "step_done" and r.get("step", "").startswith("promote:")]
    check(promotions == [(oid, "promote:" + primary)], "one promotion in all: %s" % promotions)
    begun = [b for bs in hakit.all_begins(ds).values() for b in bs if b.get("source") != "etcd"]
    check(len(begun) == 1, "one failover begun in all: %s" % hakit.all_begins(ds))
    hakit.check_one_writable_nothing_lost(lab, primary)
    check_published(lab, etcd, primary)
    say("%s's guards refused after %s's promotion of %s (%d refused): ended %s with "
        "post_failover undone; %s finished it (post_failover by %s), done in etcd"
        % (oid, op, primary, len(refused), first["type"], rec["manager"], fin[0][0]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    hakit.with_managers(flavor, "ha89-lead", etcd_leader_killed, say, point="fence",
                        seconds=HOOK_S, rotate=True)
    hakit.with_managers(flavor, "ha89-watch", watch_cut, say, rotate=True)
    hakit.with_managers(flavor, "ha89-quorum", no_quorum, say)
    hakit.with_managers(flavor, "ha89-guard", guard_refused, say, point="fence",
                        script="touch DIR/fence-waiting; i=0; while [ ! -e DIR/refused ] "
                        "&& [ $i -lt 150 ]; do sleep 0.05; i=$((i+1)); done; exit 0")
    hakit.with_managers(flavor, "ha89-late", guard_refused_late, say, point="post_promotion",
                        script="touch DIR/pp-waiting; i=0; while [ ! -e DIR/refused ] "
                        "&& [ $i -lt 150 ]; do sleep 0.05; i=$((i+1)); done; exit 0")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
