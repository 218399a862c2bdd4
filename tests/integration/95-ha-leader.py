#!/usr/bin/env python3
"""Three managers coordinated through a 3-member etcd cluster (docs/ha.md).

(a) The leader is killed (SIGKILL) while idle: another manager leads within
    lease_ttl + 1 s of the kill (its coord_leader event), and the status of
    every survivor names it; the killed manager, started again, follows.
(b) The primary is killed under the write checker (semi-sync, reliability):
    exactly one failover happens - only the leader journals one, the
    followers' logs say they were not the leader - one node is writable,
    no acknowledged write is lost, and the leader publishes the new primary
    under <prefix>main/primary in etcd with its term.
Both flavors; the daemons run from the ASan build when FAILOVERD_BUILD is one."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def idle_leader_killed(lab, ds, say):
    leader = hakit.wait_one_leader(ds)
    old = hakit.manager_id(leader)
    before = {hakit.manager_id(d): len(d.events().get("coord_leader", [])) for d in ds}
    t0 = time.time()
    leader.kill()
    rest = [d for d in ds if d is not leader]
    new = hakit.wait_one_leader(rest, timeout=20)
    nid = hakit.manager_id(new)
    took = hakit.event_times(new, "coord_leader")[before[nid]] - t0
    check(took <= hakit.TTL + 1.0, "%s took over %.2f s after the kill, within TTL + 1 s"
          % (nid, took))
    for d in rest:
        wait_for(lambda: (hakit.coord(d) or {}).get("leader", {}).get("id") == nid, 10,
                 what="%s's status to name the leader %s" % (hakit.manager_id(d), nid))
    follower = rest[0] if rest[0] is not new else rest[1]
    c = hakit.coord(follower)
    check(c["role"] == "follower" and c["leader"]["host"] and c["term"] > 0,
          "a follower's status says who leads: %s" % c)
    rc, out = follower.ctl("pause", "main", check=False)
    err = (out or {}).get("error", {}) if isinstance(out, dict) else {}
    check(rc != 0 and "not the leader" in err.get("message", "") and
          err.get("leader", {}).get("id") == nid and
          err.get("leader", {}).get("control") and "control socket" in err.get("message", ""),
          "a follower refuses pause and names the leader, its host and control socket: %s"
          % out)
    leader.start()
    wait_for(lambda: (hakit.coord(leader) or {}).get("role") == "follower", 15,
             what="%s, started again, to follow" % old)
    say("leader %s killed; %s leads after %.2f s" % (old, nid, took))
    return new


def primary_killed(lab, ds, etcd, leader, say):
    hakit.wait_primary_seen([d for d in ds if d.proc.poll() is None])
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    op = leader.wait_operation(1, timeout=60)
    check(op["type"] == "done", "the leader's failover is done: %s" % op)
    new = op["new_primary"]
    lab.wait_acks(50, server_id=lab.node(new).server_id)
    fokit.wait_topology(lab, new)
    check(fokit.writable_nodes(lab) == [new], "exactly one writable node: %s"
          % fokit.writable_nodes(lab))
    v = lab.writer_verify()
    check(v["primary"] == new and v["lost"] == [] and not v["split_brain"] and v["ok"],
          "no acknowledged write lost: %s" % v)
    lid = hakit.manager_id(leader)
    said = []
    for d in ds:
        b = hakit.begins(d)
        if d is leader:
            check(len(b) == 1, "the leader %s journaled one failover: %s" % (lid, b))
        else:
            check(b == [], "follower %s started nothing: %s" % (hakit.manager_id(d), b))
            blocked = " ".join(d.events().get("failover_blocked", []))
            if "not the leader" in blocked:
                said.append(hakit.manager_id(d))
    # The manager started again may not have reached the primary before it died
    # (then the start-up rule holds it first); the other follower saw it die.
    check(said, "a follower says it did not fail over for not being the leader")
    term = leader.status()["coordination"]["term"]
    want = {"host": lab.node(new).address, "port": lab.node(new).port}
    wait_for(lambda: {k: (etcd.get_json("/failoverd/v1/main/primary") or {}).get(k)
                      for k in want} == want, 15, what="the new primary published in etcd")
    pub = etcd.get_json("/failoverd/v1/main/primary")
    check(pub["term"] == term and pub["manager"] == lid, "published under the term: %s" % pub)
    say("db1 killed: %s failed over to %s in %s ms; %d acked, none lost; published %s"
        % (lid, new, op["duration_ms"], v["acked"], pub))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("ha90-" + flavor),
                       semisync=True) as lab:
        with hakit.Etcd(lab).start() as etcd:
            ds = hakit.managers(lab, etcd, 3, vip_plugin=True)
            try:
                hakit.start_all(ds)
                hakit.wait_primary_seen(ds)
                leader = idle_leader_killed(lab, ds, say)
                primary_killed(lab, ds, etcd, leader, say)
                hakit.stop_all(ds)
            finally:
                for d in ds:
                    d.__exit__(*sys.exc_info())


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
