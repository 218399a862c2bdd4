#!/usr/bin/env python3
"""The managers' verdict: "dead" needs a majority of the managers (docs/ha.md,
"The verdict from several vantage points").

Three managers m1..m3 with `managers = [m1, m2, m3]`, quorum majority (2),
each publishing its observation record under <prefix>main/obs/<id>.

(a) The primary cut off from the leader only (an nftables rule drops the
    leader's packets to db1; m2 and m3 still reach it), under the write
    checker: for 10 s no manager starts a failover, db1 stays the only
    writable node and writes keep being acknowledged; the leader's status
    says partitioned_from_leader and names m2 and m3 as reaching db1; one
    primary_partitioned event for the episode. Healed, the leader reaches db1
    again.
(c) Both followers killed, then the primary killed: the replicas confirm,
    but the leader alone is no quorum: for 10 s nothing is writable and no
    failover starts, and its status says why (no_quorum_of_observers, "too
    few managers have a fresh view"). One follower started again makes the
    quorum: the leader fails over, one node is writable, nothing acknowledged
    is lost.
(b) In a fresh lab, every manager's record is in etcd under
    /failoverd/v1/main/obs/<id>; one follower is killed (its record goes with
    its lease), then the primary is killed: two fresh
    records of three say unreachable, and the leader fails over as usual:
    one failover, one writable node, nothing acknowledged lost.

Without the managers' verdict, (a) has no status or event naming the others
and (c) fails over at once. Both flavors; the daemons run from the ASan
build when FAILOVERD_BUILD is one."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

HOLD_S = 10


def wait_all_reachable(ds):
    """Every running manager counts the three managers' fresh records as
    reaching the primary."""
    for d in ds:
        wait_for(lambda: list(hakit.votes(d).values()) == ["reachable"] * 3, 30,
                 interval=0.2, what="%s to see three fresh views of the primary"
                 % hakit.manager_id(d))


def no_failover_for(lab, ds, seconds, writable, why):
    t_end = time.time() + seconds
    while time.time() < t_end:
        for d in ds:
            check(hakit.begins(d) == [], "%s: %s started no failover: %s"
                  % (why, hakit.manager_id(d), hakit.begins(d)))
        time.sleep(0.5)
    check(fokit.writable_nodes(lab) == writable, "%s: writable nodes %s"
          % (why, fokit.writable_nodes(lab)))


def cut_from_leader(lab, ds, cut, say):
    leader = ds[0]
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    acked = len(lab.writer_acks())
    cut.cut("db1")
    try:
        leader.wait_event("primary_partitioned", timeout=30)
        v = hakit.vantage(leader)
        check(v["verdict"] == "partitioned_from_leader", "the leader's status: %s" % v)
        check(hakit.votes(leader) == {"m1": "unreachable", "m2": "reachable",
                                      "m3": "reachable"}, "the votes: %s" % v)
        check("m2, m3" in v["reason"], "the reason names who reaches db1: %s" % v["reason"])
        ev = leader.events()["primary_partitioned"][0]
        check("m2, m3" in ev, "the event names m2, m3: %s" % ev)
        no_failover_for(lab, ds, HOLD_S, ["db1"], "db1 cut off from the leader")
        check(len(leader.events()["primary_partitioned"]) == 1,
              "one primary_partitioned event for the episode")
        check(leader.cluster()["verdict"] in ("unreachable", "suspect"),
              "the leader does not call db1 dead: %s" % leader.cluster()["verdict"])
        lab.wait_acks(50, server_id=lab.node("db1").server_id)
        more = len(lab.writer_acks())
        check(more > acked, "writes go on while the leader is cut off (%s -> %s)"
              % (acked, more))
    finally:
        cut.heal()
    wait_for(lambda: (hakit.vantage(leader) or {}).get("verdict") == "reachable", 30,
             what="the leader, healed, to reach db1 again")
    say("db1 cut off from the leader: %s; no failover for %d s; acks %s -> %s"
        % (v["reason"], HOLD_S, acked, more))


def quorum_missing(lab, ds, say):
    leader = ds[0]
    for d in ds[1:]:
        d.kill()
    wait_for(lambda: sorted(hakit.votes(leader).values()).count("reachable") == 1, 30,
             what="the leader to count the killed managers' records out")
    lab.kill("db1")
    wait_for(lambda: (hakit.vantage(leader) or {}).get("verdict") == "no_quorum_of_observers"
             and "too few managers" in leader.cluster()["verdict_reason"], 30,
             what="the leader to hold the failover for want of a quorum")
    st = leader.cluster()
    no_failover_for(lab, ds, HOLD_S, [], "the leader alone")
    say("db1 killed, the leader alone: %s / %s" % (st["verdict"], st["verdict_reason"]))
    ds[1].start()
    op = leader.wait_operation(1, timeout=90)
    check(op["type"] == "done", "with m2 back the leader failed over: %s" % op)
    new = op["new_primary"]
    check(hakit.begins(ds[1]) == [], "the follower started nothing")
    fokit.wait_topology(lab, new)
    check(fokit.writable_nodes(lab) == [new], "exactly one writable node: %s"
          % fokit.writable_nodes(lab))
    lab.wait_acks(50, server_id=lab.node(new).server_id)
    v = lab.writer_verify()
    check(v["primary"] == new and v["lost"] == [] and not v["split_brain"] and v["ok"],
          "no acknowledged write lost: %s" % v)
    say("m2 back: failed over to %s; %d acked, none lost" % (new, v["acked"]))


def one_manager_down(lab, ds, etcd, say):
    leader = hakit.wait_one_leader(ds)
    lid = hakit.manager_id(leader)
    for d in ds:
        rec = etcd.get_json("/failoverd/v1/main/obs/" + hakit.manager_id(d))
        check(rec and rec["v"] == 1 and rec["manager"] == hakit.manager_id(d) and
              rec["cluster"] == "main" and rec["primary"] == "db1" and
              {n["name"]: n["reachable"] for n in rec["nodes"]} ==
              {"db1": True, "db2": True, "db3": True},
              "%s publishes its observation record: %s" % (hakit.manager_id(d), rec))
    down = next(d for d in ds if d is not leader)
    did = hakit.manager_id(down)
    down.kill()
    wait_for(lambda: etcd.get("/failoverd/v1/main/obs/" + did) is None, hakit.TTL + 10,
             what="the killed manager's record to go with its lease")
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    op = leader.wait_operation(1, timeout=60)
    check(op["type"] == "done", "the leader %s failed over with one manager down: %s"
          % (lid, op))
    new = op["new_primary"]
    for d in ds:
        if d is not leader:
            check(hakit.begins(d) == [], "%s started nothing" % hakit.manager_id(d))
    fokit.wait_topology(lab, new)
    check(fokit.writable_nodes(lab) == [new], "exactly one writable node: %s"
          % fokit.writable_nodes(lab))
    lab.wait_acks(50, server_id=lab.node(new).server_id)
    v = lab.writer_verify()
    check(v["primary"] == new and v["lost"] == [] and not v["split_brain"] and v["ok"],
          "no acknowledged write lost: %s" % v)
    dead = " ".join(leader.events().get("primary_dead", []))
    check(dead, "the leader said db1 is dead")
    say("one manager down, db1 killed: %s failed over to %s in %s ms; %d acked, none lost"
        % (lid, new, op["duration_ms"], v["acked"]))


def cut_and_quorum(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("verdict-a-" + flavor),
                       semisync=True) as lab:
        with hakit.Etcd(lab).start() as etcd:
            ds = hakit.verdict_managers(lab, etcd, 3, vip_plugin=True)
            cut = hakit.NodeCut(lab, labkit.unique_name("verdict-cg"))
            try:
                cut.start(ds[0])
                hakit.wait_one_leader(ds[:1])
                for d in ds[1:]:
                    d.start()
                hakit.wait_primary_seen(ds)
                wait_all_reachable(ds)
                cut_from_leader(lab, ds, cut, say)
                quorum_missing(lab, ds, say)
                hakit.stop_all(ds)
            finally:
                for d in ds:
                    d.__exit__(*sys.exc_info())
                cut.close()


def manager_down(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("verdict-b-" + flavor),
                       semisync=True) as lab:
        with hakit.Etcd(lab).start() as etcd:
            ds = hakit.verdict_managers(lab, etcd, 3, vip_plugin=True)
            try:
                hakit.start_all(ds)
                hakit.wait_primary_seen(ds)
                wait_all_reachable(ds)
                one_manager_down(lab, ds, etcd, say)
                hakit.stop_all(ds)
            finally:
                for d in ds:
                    d.__exit__(*sys.exc_info())


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    cut_and_quorum(flavor, say)
    manager_down(flavor, say)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
