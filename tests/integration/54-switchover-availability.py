#!/usr/bin/env python3
"""Availability switchover: traffic first, and what may diverge is reported;
on both flavors, under write load through the VIP.

db2's applier is stopped (lab lag) while the checker writes: db2 falls behind
db1 by every write that follows. `switchover main --to db2 --policy
availability` then does not wait for db2: it stops db2's replication, reads
what db2 keeps, promotes it and moves the VIP, and only then makes db1
read-only and reads what db1 had. It must:
  - finish at once (no lag check, no sync wait) with db2 the primary, db1
    read-only, the VIP on db2 and the checker's writes acknowledged by db2;
  - report as possibly lost exactly what db1 had beyond db2: the count equals
    the rows only db1 holds, and every acknowledged write the checker finds
    missing on db2 is among them;
  - say so in the switchover_done event and in history.
The old primary holds transactions the new one lacks: on MySQL it still
follows db2 (keeping its extra rows); on MariaDB with gtid_strict_mode it
cannot, and the verify step says why. Either way the report is what tells
the operator."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402


def ids(lab, node):
    return {int(r["id"]) for r in lab.query(node, "SELECT id FROM lab.writes")}


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("sw54-" + flavor)) as lab:
        with fokit.Daemon(lab, cluster_extra=fokit.vip_hook(lab)) as d:
            d.start()
            lab.writer_start(through="vip", rate=100)
            lab.wait_acks(20)
            lab.lag("db2", True)
            lab.wait_acks(60)
            rc, op = d.ctl("switchover", "main", "--to", "db2", "--policy", "availability",
                           check=False, timeout=60)
            check(rc == 0 and op["type"] == "done" and op["new_primary"] == "db2",
                  "the switchover is done: %s %s" % (rc, op))
            names = [s["name"] for s in op["steps"]]
            check("check_lag:db2" not in names and "sync:db2" not in names,
                  "nothing waits for db2: %s" % names)
            check(names.index("hook:post_promotion") < names.index("block_writes:db1"),
                  "traffic moves before db1 is blocked: %s" % names)
            check(lab.vip_holders() == ["db2"], "the VIP is on db2")
            lab.wait_acks(50, server_id=lab.node("db2").server_id)
            check(not lab.state("db1")["writable"], "db1 is read-only")
            n = op.get("possibly_lost_count", 0)
            check(n >= 60 and op.get("possibly_lost"), "what db2 lacks is reported: %s" % op)
            done = d.events()["switchover_done"][-1]
            check("possibly lost" in done, "the event says it: %s" % done)
            h = d.ctl("history", "main")[1]["operations"][0]
            check(h.get("possibly_lost_count") == n and h.get("policy") == "availability", str(h))

            # On MariaDB the diverged replicas cannot settle: no long wait for them.
            v = lab.writer_verify(settle_timeout=30 if labkit.family(flavor) == "mysql" else 3)
            only_db1 = ids(lab, "db1") - ids(lab, "db2")
            check(len(only_db1) == n, "reported %d transactions, db1 holds %d rows db2 lacks"
                  % (n, len(only_db1)))
            check(v["lost"] and set(v["lost"]) <= only_db1,
                  "the acknowledged writes missing on db2 are among them: %s" % v["lost_ranges"])
            verify1 = next(s for s in op["steps"] if s["name"] == "verify:db1")
            if labkit.family(flavor) == "mysql":
                check(verify1["ok"], "db1 follows db2, extra rows and all: %s" % verify1)
            else:
                check(not verify1["ok"], "a diverged MariaDB primary cannot follow: %s" % verify1)
            check(d.stop() == 0, "failoverd stops cleanly")
            say("done in %s ms, possibly lost %d (%s); %d acked writes lost, longest gap %s ms, "
                "two writable nodes for %s ms; db1 follows db2: %s"
                % (op["duration_ms"], n, op["possibly_lost"][:60], len(v["lost"]),
                   v["max_gap_ms"], sum(w["ms"] for w in v["split_brain"]),
                   verify1["ok"] or verify1["error"][:120]))


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
