#!/usr/bin/env python3
"""A replica that filters what it replicates is never promoted over one that
does not, on both flavors.

A filtering replica reports the filtered transactions as received: MariaDB
moves its GTID positions past an ignored domain, MySQL logs a filtered
transaction as an empty one under its GTID. By GTID state it looks as good as
any other replica, but the rows are not there.

db2 filters: MariaDB `IGNORE_DOMAIN_IDS=(1)`, MySQL `REPLICATE_IGNORE_DB=(fdb)`.
db1 then commits 30 rows that db2 filters out (MariaDB: in GTID domain 1;
MySQL: in the database fdb), db3 receives them.

1. Promote the one without filters: status shows db2's filters and a topology
   issue (asserted last: the data comes first); the writer writes through the VIP; db1's host crashes. failoverd
   must promote db3 (db2 comes first in the configuration and holds the same
   GTIDs), which holds the 30 rows; the election excludes db2 for its filters;
   no acknowledged write is lost, db3 is the one writable node.
2. Nothing else to promote: db3 is must_not. Under reliability the failover
   is aborted with nothing writable rather than promote db2. The operator
   switches the cluster to availability and fails over by hand: db2 is
   promoted, and the election says that what it filtered out is lost."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

ROWS = 30
FILTERS = {"mariadb": "Replicate_Ignore_Domain_Ids=1", "mysql": "Replicate_Ignore_DB=fdb"}


def filter_db2(lab):
    """The table the filtered rows go to (created before the filter, so that
    every replica has it), then the filter on db2."""
    lab.sql("db1", "CREATE DATABASE fdb; CREATE TABLE fdb.t (id INT PRIMARY KEY)")
    g = lab.gtid("db1")
    for n in ("db2", "db3"):
        check(lab.wait_gtid(n, g), "%s has the table" % n)
    if lab.family == "mariadb":
        lab.sql("db2", "STOP SLAVE; CHANGE MASTER TO IGNORE_DOMAIN_IDS=(1), "
                       "MASTER_HEARTBEAT_PERIOD=1; START SLAVE")
    else:
        lab.sql("db2", "STOP REPLICA SQL_THREAD; CHANGE REPLICATION FILTER "
                       "REPLICATE_IGNORE_DB=(fdb); START REPLICA SQL_THREAD")
    lab.wait_replicating("db1")


def filtered_writes(lab):
    """ROWS rows on db1 that db2 filters out, one transaction each; waits until
    db3 executed them. Returns db1's GTID state after them."""
    domain = "SET SESSION gtid_domain_id = 1; " if lab.family == "mariadb" else ""
    lab.sql("db1", domain + " ".join("INSERT INTO fdb.t VALUES (%d);" % i
                                     for i in range(1, ROWS + 1)))
    g = lab.gtid("db1")
    check(lab.wait_gtid("db3", g), "db3 executed %s" % g)
    return g


def rows(lab, node):
    return int(lab.value(node, "SELECT COUNT(*) FROM fdb.t"))


def seen(d, flavor):
    """What failoverd shows of db2's filters before the failover: a list of
    what is missing (asserted after the failover's outcome, which matters most)."""
    want = FILTERS[labkit.family(flavor)]
    try:
        wait_for(lambda: d.node("db2").get("replication_filters") == want, 15,
                 what="status to show db2's filters (%s)" % want)
    except labkit.WaitTimeout as e:
        return [str(e)]
    out = []
    if d.node("db3").get("replication_filters") != "":
        out.append("db3 filters nothing: %s" % d.node("db3").get("replication_filters"))
    issues = d.cluster()["issues"]
    if not any("db2" in i and want in i for i in issues):
        out.append("a topology issue names db2's filters: %s" % issues)
    text = fokit.squash(d.ctl_text("status").stdout)
    if "filters: " + want not in text:
        out.append("failoverctl status shows db2's filters: %s" % text)
    return out


def promote_unfiltered(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo36a-" + flavor),
                       semisync=True) as lab, fokit.Daemon(lab, vip_plugin=True) as d:
        d.start()
        filter_db2(lab)
        unseen = seen(d, flavor)
        lab.writer_start(through="vip")
        lab.wait_acks(30)
        g = filtered_writes(lab)
        check(rows(lab, "db2") == 0 and rows(lab, "db3") == ROWS,
              "db2 filtered the rows out, db3 has them")
        lab.wait_acks(30)
        lab.crash("db1")
        op = d.wait_operation(1, timeout=60)
        check(op["type"] == "done" and op["new_primary"] == "db3",
              "db3, the replica without filters, is promoted: %s" % op)
        elect = next(r for r in d.op_records(op["op"]) if r["type"] == "elect")
        e2 = {c["node"]: c for c in elect["candidates"]}["db2"]
        check(e2["filtering"] and "filters" in (e2["excluded"] or ""),
              "the election excludes db2 for its filters: %s" % e2)
        check(rows(lab, "db3") == ROWS, "the new primary holds the %d filtered rows" % ROWS)
        check(fokit.gtid_covers(flavor, lab.gtid("db3"), g), "db3 holds db1's GTIDs %s" % g)
        check(lab.vip_holders() == ["db3"], "the VIP is on db3")
        lab.wait_acks(30, server_id=lab.node("db3").server_id)
        check(fokit.writable_nodes(lab) == ["db3"], "db3 is the one writable node")
        v = lab.writer_verify()
        check(v["ok"] and v["primary"] == "db3" and v["lost"] == [], "nothing lost: %s" % v)
        check(not unseen, "; ".join(unseen))
        say("db2 filtered %d rows and was passed over; db3 promoted with them, %d acked, "
            "none lost" % (ROWS, v["acked"]))


def abort_then_availability(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo36b-" + flavor),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db3": "must_not"}) as d:
        d.start()
        filter_db2(lab)
        unseen = seen(d, flavor)
        filtered_writes(lab)
        lab.kill("db1")
        op = d.wait_operation(1, timeout=60)
        check(op["type"] == "aborted" and op["new_primary"] is None,
              "reliability does not promote the filtering db2: %s" % op)
        elect = next(r for r in d.op_records(op["op"]) if r["type"] == "elect")
        check(elect["chosen"] is None and "filters" in elect["why"],
              "the election says why: %s" % elect["why"])
        check(fokit.writable_nodes(lab) == [], "nothing writable")
        # The operator accepts the loss: availability, by hand.
        d.write_config(cluster_extra='    policy = "availability";')
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.cluster()["policy"] == "availability", 10, what="the reload")
        rc, res = d.ctl("failover", "main", timeout=60, check=False)
        op = d.wait_operation(2, timeout=60)
        check(op["type"] == "done" and op["new_primary"] == "db2",
              "availability promotes db2 when asked: %s %s" % (rc, res))
        elect = next(r for r in d.op_records(op["op"]) if r["type"] == "elect")
        check("filtered out is lost" in elect["why"] and FILTERS[labkit.family(flavor)] in elect["why"],
              "the election states the loss: %s" % elect["why"])
        check(fokit.writable_nodes(lab) == ["db2"], "db2 is the one writable node")
        check(not unseen, "; ".join(unseen))
        say("reliability aborted rather than promote the filtering db2; availability "
            "promoted it and said so")


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    promote_unfiltered(flavor, say)
    abort_then_availability(flavor, say)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
