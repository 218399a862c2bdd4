#!/usr/bin/env python3
"""The leader cut off from etcd only (docs/ha.md, "etcd unreachable").

Three managers reach the etcd members each through forwarders of their own.
The leader's forwarders are stopped: etcd is behind a black hole for it, while
it still reaches the databases. Within the lease TTL (plus a keepalive period
and some slack) it says it no longer leads (coord_no_quorum, status role
no-quorum) and another manager leads. The primary is then killed: only the
new leader fails over (one begin record, on it), the cut-off manager starts
nothing and says why, exactly one node is writable, no acknowledged write is
lost. Healed, the cut-off manager follows the new leader.

Without the lease validity check the cut-off manager would still believe it
leads and fail over too. Both flavors."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def cut_leader(lab, ds, proxies, say):
    old = hakit.wait_one_leader(ds)
    oid = hakit.manager_id(old)
    rest = [d for d in ds if d is not old]
    px = proxies[ds.index(old)]
    t0 = time.time()
    px.cut()
    try:
        old.wait_event("coord_no_quorum", timeout=hakit.TTL + 5)
        lost_after = hakit.event_times(old, "coord_no_quorum")[-1] - t0
        check(lost_after <= hakit.TTL, "%s gave the leadership up %.2f s after the cut, "
              "within the TTL" % (oid, lost_after))
        check((hakit.coord(old) or {}).get("role") == "no-quorum",
              "its status says no-quorum: %s" % hakit.coord(old))
        new = hakit.wait_one_leader(rest, timeout=3 * hakit.TTL)
        nid = hakit.manager_id(new)
        hakit.wait_primary_seen(ds)
        lab.writer_start(through="vip")
        lab.wait_acks(100)
        lab.kill("db1")
        op = new.wait_operation(1, timeout=60)
        check(op["type"] == "done", "the new leader %s failed over: %s" % (nid, op))
        primary = op["new_primary"]
        # It says why it does not fail over once it finds the primary dead;
        # a new leader quick enough promotes before that, and the cut-off
        # manager then just sees the new primary.
        wait_for(lambda: "no valid leader lease" in " ".join(
            old.events().get("failover_blocked", [])) or any(
            "the primary is %s" % primary in e for e in old.events().get("primary_changed", [])),
            20, what="the cut-off manager to say why it does not fail over, or to see %s"
            % primary)
        check(hakit.begins(old) == [], "the cut-off manager started nothing: %s"
              % hakit.begins(old))
        others = [d for d in rest if d is not new]
        check(all(hakit.begins(d) == [] for d in others), "the follower started nothing")
        fokit.wait_topology(lab, primary)
        check(fokit.writable_nodes(lab) == [primary], "exactly one writable node: %s"
              % fokit.writable_nodes(lab))
        lab.wait_acks(50, server_id=lab.node(primary).server_id)
        v = lab.writer_verify()
        check(v["primary"] == primary and v["lost"] == [] and not v["split_brain"] and v["ok"],
              "no acknowledged write lost: %s" % v)
    finally:
        px.heal()
    wait_for(lambda: ((hakit.coord(old) or {}).get("role") == "follower" and
                      (hakit.coord(old) or {}).get("leader", {}).get("id") == nid), 20,
             what="%s, healed, to follow %s" % (oid, nid))
    say("%s cut off etcd: gave up after %.2f s; %s leads and promoted %s; %d acked, none lost"
        % (oid, lost_after, nid, primary, v["acked"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("ha92-" + flavor),
                       semisync=True) as lab:
        with hakit.Etcd(lab).start() as etcd:
            proxies = [etcd.via_proxies(24000 + 10 * i) for i in range(3)]
            ds = hakit.managers(lab, etcd, 3, endpoints=[p.endpoints() for p in proxies],
                                vip_plugin=True)
            try:
                hakit.start_all(ds)
                hakit.wait_primary_seen(ds)
                cut_leader(lab, ds, proxies, say)
                hakit.stop_all(ds)
            finally:
                for d in ds:
                    d.__exit__(*sys.exc_info())


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
