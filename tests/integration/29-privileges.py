#!/usr/bin/env python3
""""Down" is not "can't see": failoverd's account and its privileges, on both
flavors.

1. Unobservable: the replica-status privilege of failoverd's account is
   revoked on db3 (on db3 only, not replicated) and its sessions there end.
   db3 still answers, but its probe is refused: status shows it
   `unobservable` (not `down`) with the privilege named, and it is a topology
   issue; the verdict on the primary stays healthy.
2. A privilege a promotion needs: RELOAD (RESET REPLICA ALL) is revoked on
   db2. The grants check (here asked for by `failoverctl plan`) makes it a
   topology issue before anything happens, `plan` names it, and the election
   excludes db2.
3. The failover: db3's privilege is back, db1 is killed under writes. db3 is
   promoted, db2 is never promoted halfway: it is repointed and follows db3.
   Nothing acknowledged is lost.
4. RELOAD back on db2 and a reload of the configuration: the grants are
   checked again and the issue is gone."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

MONITOR_PRIV = {"mariadb": "REPLICA MONITOR", "mysql": "REPLICATION CLIENT"}
# How the server names it back (MariaDB says SLAVE MONITOR).
MONITOR_NAMED = {"mariadb": "SLAVE MONITOR", "mysql": "REPLICATION CLIENT"}


def set_privilege(lab, node, flavor, priv, grant, end_sessions):
    """Grants or revokes one global privilege of failoverd's account on one
    node only (not replicated); end_sessions: the account's sessions there end,
    so that the next connection has the new rights."""
    user = lab.desc["users"]["admin"]["user"]
    acct = "'%s'@'%s'" % (user, lab.desc["subnet"].rsplit(".", 1)[0] + ".%")
    stmt = ("GRANT %s ON *.* TO %s" if grant else "REVOKE %s ON *.* FROM %s") % (priv, acct)
    if flavor == "mysql":
        stmt = "SET GLOBAL super_read_only = OFF; %s; SET GLOBAL super_read_only = ON" % stmt
    lab.sql(node, "SET SESSION sql_log_bin = 0; %s;" % stmt)
    if not end_sessions:
        return
    for row in lab.query(node, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '%s'"
                         % user):
        try:
            lab.sql(node, "KILL %s" % row["ID"])
        except labkit.LabError:
            pass


def issues(d):
    return d.cluster()["issues"]


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo29-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True) as d:
        d.start()
        check(not [i for i in issues(d) if "lacks" in i or "unobservable" in i],
              "the lab's account has every privilege: %s" % issues(d))
        lab.writer_start(through="vip")
        lab.wait_acks(30)

        # 1. Unobservable.
        set_privilege(lab, "db3", flavor, MONITOR_PRIV[flavor], False, True)
        # Its session ends first (one probe sees a lost connection); the next
        # one logs in again and is refused.
        wait_for(lambda: d.node("db3")["state"] == "unobservable", 20,
                 what="db3's probe refused")
        n3 = d.node("db3")
        check(n3["state"] == "unobservable" and MONITOR_NAMED[flavor] in (n3["denied_privilege"] or ""),
              "db3 is unobservable, the privilege named: %s" % n3)
        wait_for(lambda: any("db3 is unobservable" in i and MONITOR_NAMED[flavor] in i
                             for i in issues(d)), 10, what="the issue about db3")
        check(d.cluster()["verdict"] == "healthy", "the primary is healthy: %s" % d.cluster())
        text = fokit.squash(d.ctl_text("status", "main").stdout)
        check("unobs" in text and MONITOR_NAMED[flavor] in text,
              "failoverctl status says so: %s" % text)
        say("db3 unobservable, lacking %s, a topology issue" % MONITOR_NAMED[flavor])

        # 2. RELOAD revoked on db2: an issue before anything happens.
        set_privilege(lab, "db2", flavor, "RELOAD", False, False)
        d.ctl("plan", "main")           # the plan asks for the grants to be read again
        wait_for(lambda: any("lacks RELOAD on db2" in i for i in issues(d)), 15,
                 what="the issue about db2's RELOAD")
        rc, plan = d.ctl("plan", "main", check=False)
        check(plan["missing_privileges"].get("db2") == "RELOAD",
              "plan names what db2 lacks: %s" % plan.get("missing_privileges"))
        c2 = next(c for c in plan["election"]["candidates"] if c["node"] == "db2")
        check(c2["excluded"] and "privileges" in c2["excluded"], "db2 excluded: %s" % c2)
        check(d.node("db2")["missing_privileges"] == "RELOAD",
              "status names it too: %s" % d.node("db2"))
        say("RELOAD revoked on db2: a topology issue, db2 excluded in the plan")

        # 3. db3 observable again; db1 dies: db3 is promoted, db2 follows it.
        set_privilege(lab, "db3", flavor, MONITOR_PRIV[flavor], True, True)
        wait_for(lambda: d.node("db3")["state"] == "up", 20, what="db3 observed again")
        lab.wait_acks(30)
        lab.kill("db1")
        op = d.wait_operation(1, timeout=60)
        check(op["type"] == "done" and op["new_primary"] == "db3", "db3 promoted: %s" % op)
        check(not any(s["name"].endswith(":db2") and s["name"].split(":")[0] in
                      ("promote", "stop_replica", "check") for s in op["steps"]),
              "no promotion step ran on db2: %s" % [s["name"] for s in op["steps"]])
        lab.wait_acks(30, server_id=lab.node("db3").server_id)
        fokit.wait_topology(lab, "db3")
        v = lab.writer_verify()
        check(v["primary"] == "db3" and v["lost"] == [] and not v["split_brain"],
              "nothing lost: %s" % v["lost_ranges"])
        say("db1 killed: db3 promoted, db2 follows it; %d acked, none lost" % v["acked"])

        # 4. RELOAD back, the configuration reloaded: checked again, issue gone.
        set_privilege(lab, "db2", flavor, "RELOAD", True, False)
        d.signal(signal.SIGHUP)
        wait_for(lambda: not any("lacks" in i for i in issues(d)), 15,
                 what="the grants checked again after the reload")
        check(d.node("db2")["missing_privileges"] == "", "db2 lacks nothing: %s" % d.node("db2"))
        say("RELOAD granted again: after the reload the issue is gone")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
