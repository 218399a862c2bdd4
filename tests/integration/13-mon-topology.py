#!/usr/bin/env python3
"""Monitoring: topology inconsistencies become issues in status and
topology_issue events, on both flavors (automatic failover off).

1. Two writable nodes: a replica made writable by hand. The primary stays the
   node the replicas follow; the issue goes away when the replica is made
   read-only again.
2. A replica following a server outside the cluster (an address of the lab's
   subnet that is no node): status names no source node but shows the host.
3. Errant GTIDs: a transaction committed directly on a replica. The issue
   names the replica and its errant GTID, which status also shows per node.
4. Broken replication: the primary then writes a row with the same key
   (and, on MariaDB, the same GTID sequence number): the replica's SQL thread
   stops with an error, which the issue and the node's replication state show.

Each issue is raised once (one event while it lasts), and the verdict on the
primary stays healthy throughout.

Usage: 13-mon-topology.py [FLAVOR...]   (default: both)
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

STOP = {"mariadb": "STOP SLAVE", "mysql": "STOP REPLICA"}
START = {"mariadb": "START SLAVE", "mysql": "START REPLICA"}
CHANGE = {"mariadb": "CHANGE MASTER TO MASTER_HOST='%s'",
          "mysql": "CHANGE REPLICATION SOURCE TO SOURCE_HOST='%s'"}


def nodes(d):
    return {n["name"]: n for n in d.cluster()["nodes"]}


def issue_events(d, text):
    return [x for x in d.events().get("topology_issue", []) if text in x]


def wait_issue(d, *words, timeout=20):
    """Waits until one issue in status contains every word; returns it."""
    def find():
        return next((i for i in d.cluster()["issues"] if all(w in i for w in words)), None)
    issue = labkit.wait_for(find, timeout, what=f"an issue with {words}")
    labkit.wait_for(lambda: issue_events(d, issue), 5, what=f"a topology_issue event: {issue}")
    return issue


def wait_no_issues(d, timeout=20):
    labkit.wait_for(lambda: not d.cluster()["issues"], timeout,
                    what="no issues left (%s)" % d.cluster()["issues"])


def topology(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"montp-{flavor[:2]}")) as lab, \
            fokit.Daemon(lab, cluster_extra="    auto_failover = false;") as d:
        d.start()
        d.wait_verdict("healthy")
        check(d.cluster()["issues"] == [], f"a clean lab has no issues: {d.cluster()['issues']}")
        check(all(n["errant_gtids"] in ("", None) for n in nodes(d).values()),
              "no errant GTIDs in a clean lab")
        backlog = nodes(d)["db2"]["replication"]["backlog"]
        check(backlog == 0, f"a caught-up replica has backlog 0: {backlog}")

        # 1. Two writable nodes.
        lab.make_writable("db2", user="root")
        issue = wait_issue(d, "2 writable nodes", "db1", "db2")
        wait_issue(d, "db2 is a writable replica")
        c = d.cluster()
        check(c["primary"] == "db1" and c["verdict"] == "healthy",
              f"db1 stays the primary the replicas follow: {c['primary']} {c['verdict']}")
        time.sleep(1.5)
        check(len(issue_events(d, issue)) == 1, f"one event while the issue lasts: "
              f"{issue_events(d, issue)}")
        say(f"{flavor}: {issue}")
        lab.demote("db2", user="root")
        wait_no_issues(d)

        # 2. A replica of a server outside the cluster.
        outside = lab.node("db1").address.rsplit(".", 1)[0] + ".99"
        fam = labkit.family(flavor)
        lab.sql("db3", "%s; %s; %s" % (STOP[fam], CHANGE[fam] % outside, START[fam]))
        issue = wait_issue(d, "db3 replicates from", outside, "not in the cluster")
        rep = nodes(d)["db3"]["replication"]
        check(rep["source"] is None and rep["source_host"] == outside,
              f"status shows where db3 replicates from: {rep}")
        check(d.cluster()["verdict"] == "healthy", "still healthy")
        say(f"{flavor}: {issue}")
        lab.repoint("db3", "db1", user="root")
        wait_no_issues(d)

        # 3. Errant GTIDs on a replica.
        g = lab.errant("db2")
        issue = wait_issue(d, "errant GTIDs on db2", g, "primary db1")
        check(g in (nodes(d)["db2"]["errant_gtids"] or ""), f"status shows db2's errant GTIDs: "
              f"{nodes(d)['db2']}")
        check(nodes(d)["db3"]["errant_gtids"] == "", "db3 has none")
        say(f"{flavor}: {issue}")

        # 4. Broken replication: the primary writes what conflicts with it.
        lab.sql("db1", "INSERT INTO lab.errant (origin) VALUES (@@server_id)")
        issue = wait_issue(d, "replication broken on db2", "SQL error")
        rep = nodes(d)["db2"]["replication"]
        check(rep["sql"] is False and rep["last_sql_error"], f"db2's SQL thread stopped: {rep}")
        check(d.cluster()["verdict"] == "healthy" and d.cluster()["primary"] == "db1",
              "a broken replica leaves the primary healthy")
        check(not any("db3" in i for i in d.cluster()["issues"]), "db3 is fine")
        say(f"{flavor}: {issue[:150]}")
        check(d.stop() == 0, "failoverd exits 0 on SIGTERM")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        topology(flavor)


fokit.run_main(main)
