#!/usr/bin/env python3
"""A replica with an errant transaction is never promoted, and its errant GTIDs
are reported, on both flavors, under reliability with the write checker on.

db2 is the preferred replica, but a transaction is committed on it directly
(lab.errant): a transaction the primary never had. `failoverctl plan` must
already show db2 excluded with that GTID; when db1 is killed, failoverd must
promote db3, record db2's errant GTID in the election, and never spread the
errant transaction: the new primary must not have it (neither the GTID nor the
row), and no acknowledged write may be lost.

MySQL: db2 goes on replicating, so it also follows the new primary afterwards.
MariaDB: under gtid_strict_mode db2's applier stops at the primary's next
transaction with the same sequence number; it can't follow anyone until an
operator rebuilds it, and failoverd reports that (its verify step fails)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, gtid_parse, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def has_gtid(flavor, state, gtid):
    if labkit.family(flavor) == "mariadb":
        d, srv, seq = (int(x) for x in gtid.split("-"))
        return gtid_parse(flavor, state).get(d) == (srv, seq)
    uuid, n = gtid.rsplit(":", 1)
    return int(n) in gtid_parse(flavor, state).get(uuid.lower(), set())


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo22-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer"}, vip_plugin=True) as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(30)
        g = lab.errant("db2")
        lab.wait_acks(30)

        # The dry run shows it already.
        def errant_in_plan():
            plan = d.ctl("plan", "main")[1]
            c = {x["node"]: x for x in plan["election"]["candidates"]}["db2"]
            return plan if c["errant"] and c["excluded"] else None
        plan = wait_for(errant_in_plan, 15, what="the plan to show db2's errant GTID")
        c2 = {x["node"]: x for x in plan["election"]["candidates"]}["db2"]
        check(has_gtid(flavor, c2["errant"], g), "plan reports %s as errant: %s" % (g, c2))
        check(plan["election"]["chosen"] == "db3", "the plan promotes db3: %s" % plan["election"])

        lab.kill("db1")
        op = d.wait_operation(1, timeout=40)
        check(op["type"] == "done" and op["new_primary"] == "db3",
              "db3 must be promoted, not the errant db2: %s" % op)
        elect = next(r for r in d.op_records(op["op"]) if r["type"] == "elect")
        e2 = {x["node"]: x for x in elect["candidates"]}["db2"]
        check(e2["excluded"] and e2["rank"] == 0 and has_gtid(flavor, e2["errant"], g),
              "the election excludes db2 and reports %s: %s" % (g, e2))
        # Not spread: the new primary has neither the GTID nor the row.
        if labkit.family(flavor) == "mariadb":     # every server's last transaction per domain
            state = lab.value("db3", "SELECT @@gtid_binlog_state")
            check("-2-" not in state, "db3 must have no transaction of db2: %s" % state)
        else:
            check(not has_gtid(flavor, lab.gtid("db3"), g),
                  "db3 must not have %s: %s" % (g, lab.gtid("db3")))
        check(lab.value("db3", "SELECT COUNT(*) FROM lab.errant") == "0",
              "the errant row must not reach db3")
        check(lab.vip_holders() == ["db3"], "the VIP plugin moved the VIP to db3")
        lab.wait_acks(50, server_id=lab.node("db3").server_id)
        if labkit.family(flavor) == "mysql":
            fokit.wait_topology(lab, "db3")
            check(op["not_following"] == [], "every replica follows db3: %s" % op)
        else:
            check(fokit.writable_nodes(lab) == ["db3"], "db3 is the only writable node")
            steps = {s["name"]: s for s in op["steps"]}
            check(not steps["verify:db2"]["ok"] and op["not_following"] == ["db2"],
                  "the broken db2 is reported: %s" % op)
            done = [e for e in d.events()["failover_done"] if "failover done in" in e]
            check("not following it: db2" in done[-1], "the event names db2: %s" % done)
        check(lab.value("db3", "SELECT COUNT(*) FROM lab.errant") == "0",
              "the errant row never reaches db3")
        v = lab.writer_verify()
        check(v["primary"] == "db3" and v["lost"] == [] and v["ok"], "nothing lost: %s" % v)
        say("errant %s on the preferred db2: excluded, reported, not spread; db3 promoted, "
            "%d acked, none lost" % (g, v["acked"]))


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
