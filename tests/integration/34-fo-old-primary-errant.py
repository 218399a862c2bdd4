#!/usr/bin/env python3
"""A returning old primary with transactions the new primary lacks is reported
with its errant GTIDs and left read-only, even with auto_rejoin on.

Both flavors, semi-sync off: db1 is cut off from both replicas, a row is
committed on db1 alone (its GTID is what must be reported), db1 is killed and
failed over to db2, the cut is healed after the promotion, db1 started again
(read-only, as the lab's servers start). failoverd reports node_errant naming
that GTID and never repoints db1; the write checker sees no split brain."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, writable_nodes  # noqa: E402


def commit_alone(lab, node):
    """Commits one row on node and returns its GTID as the errant report
    would show it (MariaDB d-s-n; MySQL uuid:n)."""
    if lab.family == "mariadb":
        return lab.value(node, "INSERT INTO lab.errant (origin) VALUES (@@server_id); "
                               "SELECT @@last_gtid AS g")
    out = lab.query(node, "INSERT INTO lab.errant (origin) VALUES (@@server_id); "
                          "SELECT @@server_uuid AS u, @@gtid_executed AS g")[0]
    uuid = out["u"]
    for part in out["g"].replace("\n", "").split(","):
        if part.strip().startswith(uuid):
            return f"{uuid}:{part.strip().split(':')[-1].split('-')[-1]}"
    raise labkit.LabError(f"no GTID of {uuid} in {out['g']}")


def errant_old_primary(flavor):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"errp-{flavor}")) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer"},
                         cluster_extra="    auto_rejoin = true;") as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(30)
        lab.writer_stop()
        labkit.wait_for(lambda: all(lab.wait_gtid(n, lab.gtid("db1"), timeout=10)
                                    for n in ("db2", "db3")), 15, what="replicas caught up")
        lab.partition("db1", frm="db2")
        lab.partition("db1", frm="db3")
        gtid = commit_alone(lab, "db1")
        lab.kill("db1")
        d.wait_event("failover_done", timeout=40)
        check(writable_nodes(lab) == ["db2"], f"db2 alone writable: {writable_nodes(lab)}")
        lab.heal()
        lab.vip_move("db2")
        lab.writer_start(through="vip")
        lab.start("db1")
        ev = d.wait_event("node_errant", timeout=20)[-1]
        # MySQL prints a one-transaction interval as uuid:n.
        check("db1" in ev and gtid in ev, f"node_errant should name db1 and {gtid}: {ev}")
        lab.wait_acks(30, server_id=lab.node("db2").server_id)
        time.sleep(1)
        st = lab.state("db1")
        check(st["read_only"] in (1, "1") and not (st["replica"] or {}).get("source_host"),
              f"db1 must stay read-only and not replicating: {st['read_only']} {st['replica']}")
        check(not d.events().get("node_rejoined"), "db1 must not be rejoined")
        v = lab.writer_verify()
        check(v["primary"] == "db2" and not v["lost"] and not v["split_brain"],
              f"nothing lost, no split brain: {v['lost_ranges']} {v['split_brain']}")
        print(f"{flavor}: db1 returned with {gtid} that db2 lacks: reported, left read-only")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        errant_old_primary(flavor)


fokit.run_main(main)
