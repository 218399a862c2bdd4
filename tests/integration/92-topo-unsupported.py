#!/usr/bin/env python3
"""Unsupported topologies are said plainly and never handled silently, on
every flavor: a lab of two nodes (db1 -> db2).

1. Multi-source replication: db2 gets a second replication channel (MySQL
   FOR CHANNEL 'c2', MariaDB a named connection 'c2'; never started).
   failoverd must report it as a topology issue (status and event
   topology_issue: "db2 replicates from 2 sources (multi-source
   replication)") and refuse a failover (even --force) and a switchover with
   that sentence, changing nothing: db1 stays the one writable node. Once the
   channel is gone, so is the issue.
2. Group Replication (MySQL): db1 bootstraps a one-member group
   (performance_schema.replication_group_members shows it ONLINE). failoverd
   must report "db1 is a Group Replication member" and refuse a failover."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

SECOND = {
    "mariadb": ("CHANGE MASTER 'c2' TO MASTER_HOST='192.0.2.1', MASTER_PORT=3306, "
                "MASTER_USER='x', MASTER_PASSWORD='y', MASTER_USE_GTID=slave_pos",
                "RESET SLAVE 'c2' ALL"),
    "mysql": ("CHANGE REPLICATION SOURCE TO SOURCE_HOST='192.0.2.1', SOURCE_PORT=3306, "
              "SOURCE_USER='x', SOURCE_PASSWORD='y', SOURCE_AUTO_POSITION=1 FOR CHANNEL 'c2'",
              "RESET REPLICA ALL FOR CHANNEL 'c2'"),
}


def issue_with(d, text):
    return [i for i in d.cluster()["issues"] if text in i]


def refused(lab, d, text):
    for args in (("failover", "main", "--force"), ("switchover", "main")):
        rc, reply = d.ctl(*args, check=False)
        msg = (reply.get("error") or {}).get("message", "")
        check(rc != 0 and text in msg, "%s refused with the reason: %s" % (args[0], reply))
    check(fokit.writable_nodes(lab) == ["db1"], "nothing changed: db1 writable alone")
    check(d.operations() == [], "no operation ran: %s" % d.operations())



def multi_source(lab, d, say):
    add, drop = SECOND[lab.family]
    lab.sql("db2", add)
    text = "db2 replicates from 2 sources (multi-source replication)"
    wait_for(lambda: issue_with(d, text), 30, what="the multi-source issue")
    check([e for e in d.events().get("topology_issue", []) if text in e],
          "a topology_issue event says so")
    refused(lab, d, text)
    lab.sql("db2", drop)
    wait_for(lambda: not issue_with(d, "sources"), 30, what="the issue to go")
    say("multi-source: reported, failover and switchover refused; gone with the channel")


def group_replication(lab, d, say):
    a = lab.node("db1").address
    lab.sql("db1", "INSTALL PLUGIN group_replication SONAME 'group_replication.so'")
    lab.sql("db1", "SET GLOBAL group_replication_group_name='aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'; "
            "SET GLOBAL group_replication_local_address='%s:33061'; "
            "SET GLOBAL group_replication_group_seeds='%s:33061'; "
            "SET GLOBAL group_replication_ip_allowlist='%s'; "
            "SET GLOBAL group_replication_bootstrap_group=ON; START GROUP_REPLICATION; "
            "SET GLOBAL group_replication_bootstrap_group=OFF" % (a, a, lab.desc["subnet"]))
    text = "db1 is a Group Replication member"
    wait_for(lambda: issue_with(d, text), 30, what="the Group Replication issue")
    refused(lab, d, text)
    say("group replication: reported, failover and switchover refused")


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 2, name=labkit.unique_name("unsup-" + flavor[:2])) as lab:
        with fokit.Daemon(lab) as d:
            d.start()
            wait_for(lambda: d.cluster()["primary"] == "db1" and not d.cluster()["issues"], 60,
                     what="a healthy cluster")
            multi_source(lab, d, say)
            if lab.family == "mysql":
                group_replication(lab, d, say)
            check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.ALL_FLAVORS)])
