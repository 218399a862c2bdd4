#!/usr/bin/env python3
"""Availability with semi-sync: a new primary that no replica can follow does
not hold its commits for the semi-sync timeout, and says so. Both flavors.

Two nodes, semi-sync (timeout 10 s). db1 and db2 are cut off from each other
(failoverd, in the client namespace, still reaches both), so the old primary
will not be able to replicate from the new one, as after a divergent
switchover. `failoverctl switchover main --to db2 --policy availability`:
  - db2 is the primary and writable, db1 read-only;
  - a commit on db2 right after the switchover takes well under the semi-sync
    timeout: with the source side switched on and no replica to acknowledge,
    every commit would wait the whole 10 s;
  - the switchover says why semi-sync stays off on db2 (a failover_step
    warning naming the statement to run once a replica follows), and it is
    off on db2;
  - once the cut heals db1 follows db2, and db2 has every row.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

SOURCE = {"mariadb": "rpl_semi_sync_master_enabled", "mysql": "rpl_semi_sync_source_enabled"}


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 2, name=labkit.unique_name("semisync-58" + flavor[:2]),
                       semisync=True) as lab, fokit.Daemon(lab) as d:
        d.start()
        for _ in range(5):
            lab.sql("db1", "INSERT INTO lab.errant (origin) VALUES (@@server_id)")
        check(lab.wait_gtid("db2", lab.gtid("db1"), timeout=20), "db2 has db1's rows")
        lab.partition("db1", frm="db2")
        wait_for(lambda: (d.node("db2").get("replication") or {}).get("io") not in (None, "yes"),
                 20, interval=0.2, what="failoverd to see db2 lose db1")
        rc, op = d.ctl("switchover", "main", "--to", "db2", "--policy", "availability",
                       timeout=90, check=False)
        check(isinstance(op, dict) and op.get("type") == "done" and op.get("new_primary") == "db2",
              "the switchover is done: exit %s %s\n%s" % (rc, op, d.log_tail()))
        check(fokit.writable_nodes(lab) == ["db2"], "db2 alone writable: %s"
              % fokit.writable_nodes(lab))
        t = time.time()
        lab.sql("db2", "INSERT INTO lab.errant (origin) VALUES (@@server_id)", timeout=30)
        took = time.time() - t
        say("first commit on db2 took %.2f s" % took)
        check(took < 3, "the first commit on db2 must not wait for the semi-sync timeout "
              "(no replica follows it): %.1f s" % took)
        warn = [e for e in d.events().get("failover_step", []) if "semisync:db2 skipped" in e]
        check(warn and "no replica follows the new primary db2" in warn[-1]
              and SOURCE[flavor] in warn[-1],
              "the switchover says why semi-sync stays off on db2: %s" % warn)
        check(lab.value("db2", "SELECT @@%s" % SOURCE[flavor]) == "0",
              "the semi-sync source side is off on db2")
        lab.heal()
        fokit.wait_topology(lab, "db2", timeout=60)
        check(lab.value("db1", "SELECT COUNT(*) FROM lab.errant") == "6", "db1 has db2's row")
        check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
