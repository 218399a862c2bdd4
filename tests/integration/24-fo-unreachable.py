#!/usr/bin/env python3
"""A primary cut off from failoverd only is not failed over, on both flavors.

db1 is partitioned from the client namespace (where failoverd and the write
checker run); db2 and db3 still replicate from it. failoverd must call the
primary unreachable, not dead, and start nothing: no failover_started, no
operation in the journal, db1 still the one writable node. Transactions
committed on db1 during the cut (through its socket) reach both replicas,
which proves they still hear it. An operator failover without --force is
refused. After the cut heals the verdict is healthy again and the write
checker finds nothing lost."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo24-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True) as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(30)
        lab.partition("db1", frm="client")
        d.wait_verdict("unreachable", timeout=20)
        # Writes on db1 itself during the cut still reach the replicas.
        for _ in range(5):
            lab.sql("db1", "INSERT INTO lab.errant (origin) VALUES (@@server_id)")
        g = lab.gtid("db1")
        for n in ("db2", "db3"):
            check(lab.wait_gtid(n, g, timeout=20), "%s still replicates from db1" % n)
        # Longer than failoverd needs to fail over a dead primary.
        time.sleep(5)
        check(d.cluster()["verdict"] == "unreachable", "still unreachable: %s" % d.cluster())
        rc, out = d.ctl("failover", "main", check=False)
        check(rc != 0 and "--force" in str(out), "an operator failover needs --force: %s" % out)
        check(not d.journal(), "no operation was started: %s" % d.journal())
        check("failover_started" not in d.events(), "no failover_started event")
        check(fokit.writable_nodes(lab) == ["db1"], "db1 is still the one writable node")
        lab.heal()
        d.wait_verdict("healthy", timeout=20)
        lab.wait_acks(30, server_id=lab.node("db1").server_id)
        fokit.wait_topology(lab, "db1")
        for n in ("db2", "db3"):
            check(lab.value(n, "SELECT COUNT(*) FROM lab.errant") == "5", "%s has db1's rows" % n)
        v = lab.writer_verify()
        check(v["ok"] and v["primary"] == "db1" and v["lost"] == [], "nothing lost: %s" % v)
        check(not d.journal() and "failover_started" not in d.events(), "and still no failover")
        say("db1 cut off from failoverd only: unreachable, no failover; %d acked, none lost"
            % v["acked"])


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
