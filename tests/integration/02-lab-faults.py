#!/usr/bin/env python3
"""Every fault the lab offers does what it says, on both flavors, in a
semi-sync lab: stop/cont, partitions (two-way, one-way, selective heal), lag,
restart, kill/start, crash, errant transactions; and the write checker stays
happy through the faults that lose nothing."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def replica(lab, node):
    return lab.state(node)["replica"] or {}


def faults(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"faults-{flavor}"), semisync=True) as lab:
        pfx = "master" if labkit.family(flavor) == "mariadb" else "source"
        st = {r["Variable_name"]: r["Value"] for r in
              lab.query("db1", f"SHOW STATUS LIKE 'Rpl_semi_sync_{pfx}_%'")}
        check(st[f"Rpl_semi_sync_{pfx}_status"] == "ON" and st[f"Rpl_semi_sync_{pfx}_clients"] == "2",
              f"semi-sync should be on with 2 replicas: {st}")
        lab.writer_start(through="vip")
        lab.wait_acks(20)
        yes = lab.query("db1", f"SHOW STATUS LIKE 'Rpl_semi_sync_{pfx}_yes_tx'")[0]["Value"]
        check(int(yes) >= 20, f"writes should be semi-sync acknowledged: yes_tx={yes}")

        # stop / cont: a hung server accepts TCP but never answers.
        lab.stop("db2")
        check(not lab.reachable("db2", 0.5), "a stopped server must not greet")
        check(lab.status()["nodes"]["db2"]["stopped"], "status must say stopped")
        lab.cont("db2")
        wait_for(lambda: lab.reachable("db2"), 5, what="db2 to greet again")
        say(f"{flavor}: stop/cont ok")

        # Two-way partition of db2 from everyone: no TCP from the client, and
        # its IO thread notices within replica_net_timeout (5 s) and heartbeats.
        lab.partition("db2")
        check(not lab.reachable("db2", 0.5), "partitioned db2 must not be reachable")
        wait_for(lambda: replica(lab, "db2").get("io_running") != "Yes", 20,
                 what="db2's IO thread to lose db1")
        lab.heal()
        wait_for(lambda: replica(lab, "db2").get("io_running") == "Yes", 20,
                 what="db2's IO thread to reconnect")
        check(lab.reachable("db2"), "healed db2 must be reachable")
        say(f"{flavor}: two-way partition ok")

        # One-way and selective heal: the client cannot reach db3, db3 still
        # replicates; healing db3 leaves db2's cut in place.
        lab.partition("db3", frm="client", oneway=True)
        lab.partition("db2", frm="client")
        check(not lab.reachable("db3", 0.5), "db3 must not be reachable from the client")
        check(set(lab.partitions()) == {("client", "db3"), ("client", "db2"), ("db2", "client")},
              f"partitions: {lab.partitions()}")
        lab.heal("db3")
        check(set(lab.partitions()) == {("client", "db2"), ("db2", "client")},
              f"after heal db3: {lab.partitions()}")
        check(lab.reachable("db3"), "db3 reachable again")
        lab.heal()
        check(replica(lab, "db3").get("io_running") == "Yes", "db3 kept replicating")
        say(f"{flavor}: one-way partition and selective heal ok")

        # lag: the SQL thread stops, the IO thread keeps receiving.
        lab.lag("db3", True)
        before = lab.gtid("db3")
        lab.wait_acks(20)
        r = replica(lab, "db3")
        check(r["sql_running"] == "No" and r["io_running"] == "Yes", f"lagging db3: {r}")
        check(lab.gtid("db3") == before, "a lagging replica applies nothing")
        check(not lab.wait_gtid("db3", lab.gtid("db1"), timeout=1), "db3 must be behind")
        lab.lag("db3", False)
        check(lab.wait_gtid("db3", lab.gtid("db1"), timeout=20), "db3 catches up")
        say(f"{flavor}: lag ok")

        # restart: back read-only and not replicating until told.
        lab.restart("db3")
        s = lab.state("db3")
        check(not s["writable"] and (s["replica"] or {}).get("io_running") == "No",
              f"restarted db3: {s}")
        lab.resume_replication("db3")
        # kill / start
        lab.kill("db2")
        check(not lab.nodes[1].alive, "killed db2 is gone")
        lab.start("db2")
        lab.resume_replication("db2")
        lab.wait_replicating("db1", timeout=30)
        say(f"{flavor}: restart, kill, start ok")

        v = lab.writer_verify()
        check(v["ok"] and v["primary"] == "db1" and not v["unsettled"],
              f"writer verify after faults: {v}")
        say(f"{flavor}: writer verify ok, max gap {v['max_gap_ms']} ms")

        # crash: host gone, silence until heal.
        lab.crash("db3")
        check(not lab.nodes[2].alive and not lab.reachable("db3", 0.5), "crashed db3")
        lab.heal()
        lab.start("db3")
        lab.resume_replication("db3")
        lab.wait_replicating("db1", timeout=30)
        say(f"{flavor}: crash ok")

        # errant: a transaction of db2's own that the primary never had.
        g = lab.errant("db2")
        if labkit.family(flavor) == "mariadb":
            check(g.startswith("0-2-"), f"errant GTID {g}")
            check("0-2-" not in lab.value("db1", "SELECT @@gtid_binlog_state"), "db1 lacks it")
            check("0-2-" in lab.value("db2", "SELECT @@gtid_binlog_state"), "db2 has it")
        else:
            uuid = lab.value("db2", "SELECT @@server_uuid")
            check(g.startswith(uuid + ":"), f"errant GTID {g}")
            check(uuid not in lab.gtid("db1") and uuid in lab.gtid("db2"), "only db2 has it")
            check(not lab.state("db2")["writable"], "db2 stays read-only")
        say(f"{flavor}: errant {g} ok")


labkit.install_signal_handlers()
failed = 0
for flavor in sys.argv[1:] or labkit.FLAVORS:
    try:
        faults(flavor)
        print(f"ok {flavor}")
    except (AssertionError, labkit.LabError) as e:
        failed += 1
        print(f"FAILED {flavor}: {e}")
print(f"faults: {2 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
