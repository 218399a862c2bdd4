#!/usr/bin/env python3
"""A returning old primary never stays writable, and rejoins when it can.

Both flavors, semi-sync: writes, then db1 killed and failed over to db2.

1. The lab's servers start read-only (read_only=ON, MySQL super_read_only=ON
   in my.cnf). To see failoverd fence, db1's configuration is changed to start
   writable before it is started again: failoverd makes it read-only (event
   node_fenced; super_read_only on MySQL) although it is not the primary, and
   the daemon's primary stays db2.
2. Its GTIDs are all on db2 (the writer was stopped before the kill), so:
   MariaDB, auto_rejoin on: it is repointed at db2 (node_rejoined) and
   replicates; MySQL, then MariaDB again, auto_rejoin off: it is reported as ready to rejoin
   (node_rejoin_ready, once for its GTID state, also when failoverd loses
   sight of it for a moment) and left alone until auto_rejoin is switched on
   by a reload, then rejoined. New writes through the VIP (moved to db2) reach it:
   no divergence, nothing lost."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, writable_nodes  # noqa: E402


def replica(lab, node):
    return lab.state(node)["replica"] or {}


def start_writable(lab, node):
    """Starts a killed node with read_only (and super_read_only) off in its
    my.cnf, as a server configured as a primary would come back."""
    n = lab.node(node)
    with open(n.config) as f:
        text = f.read()
    with open(n.config, "w") as f:
        f.write(text.replace("read_only=ON", "read_only=OFF"))
    lab.start(n)


def old_primary_returns(flavor, auto_rejoin):
    extra = "    auto_rejoin = %s;" % ("true" if auto_rejoin else "false")
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"oldp-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer"}, cluster_extra=extra) as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(30)
        lab.writer_stop()
        lab.kill("db1")
        d.wait_event("failover_done", timeout=30)
        check(writable_nodes(lab) == ["db2"], f"db2 alone writable: {writable_nodes(lab)}")
        lab.vip_move("db2")

        # db1 comes back writable: fenced.
        start_writable(lab, "db1")
        t0 = time.time()
        labkit.wait_for(lambda: lab.value("db1", "SELECT @@read_only") == "1", 15,
                        what="failoverd to make the returning db1 read-only")
        window = time.time() - t0
        fenced = d.wait_event("node_fenced")[-1]
        check("db1" in fenced and "db2 is the primary" in fenced,
              f"node_fenced should name db1 and the primary: {fenced}")
        if labkit.family(flavor) == "mysql":
            check(lab.value("db1", "SELECT @@super_read_only") == "1",
                  "MySQL: the fence is super_read_only")
        check(writable_nodes(lab) == ["db2"], f"db2 alone writable: {writable_nodes(lab)}")
        check(d.cluster()["primary"] == "db2", "the daemon's primary stays db2")

        if not auto_rejoin:
            ready = d.wait_event("node_rejoin_ready")[-1]
            check("db1" in ready, f"node_rejoin_ready should name db1: {ready}")
            time.sleep(1)
            check(not replica(lab, "db1").get("source_host"),
                  f"auto_rejoin off: db1 must be left alone: {replica(lab, 'db1')}")
            # One report per GTID state: failoverd loses sight of db1 for a
            # moment and sees it again, with nothing new to say.
            lab.partition("db1", frm="client")
            labkit.wait_for(lambda: d.node("db1")["state"] != "up", 20,
                            what="failoverd to see db1 gone")
            lab.heal("db1")
            labkit.wait_for(lambda: d.node("db1")["state"] == "up", 20,
                            what="failoverd to see db1 again")
            time.sleep(2)
            ready = d.events()["node_rejoin_ready"]
            check(len(ready) == 1, "node_rejoin_ready once for db1's state: %s"
                  % "\n".join(ready))
            d.write_config(cluster_extra="    auto_rejoin = true;")
            d.signal(signal.SIGHUP)
            d.wait_event("config_reloaded")
        d.wait_event("node_rejoined", timeout=20)
        r1 = replica(lab, "db1")
        check(r1.get("source_host") == lab.node("db2").address and r1.get("io_running") == "Yes"
              and r1.get("sql_running") == "Yes", f"db1 should replicate from db2: {r1}")
        check(lab.value("db1", "SELECT @@read_only") == "1", "a rejoined db1 stays read-only")

        # New writes reach the rejoined old primary; nothing lost or diverged.
        lab.writer_start(through="vip")
        lab.wait_acks(30, server_id=lab.node("db2").server_id)
        v = lab.writer_verify()
        check(v["primary"] == "db2" and not v["lost"] and not v["divergence"] and
              "db1" not in v["unsettled"] and not v["split_brain"],
              f"db1 settled, nothing lost or diverged: {v['lost_ranges']} {v['divergence']} "
              f"{v['unsettled']} {v['split_brain']}")
        print(f"{flavor}: returning db1 started writable, fenced {window:.2f} s after it "
              f"answered; rejoined ({'auto_rejoin' if auto_rejoin else 'after the reload'})")


def main():
    # One flavor per rejoin path (MariaDB both); a flavor named on the command line runs both.
    runs = [(f, a) for f in sys.argv[1:] for a in (True, False)]
    for flavor, auto_rejoin in runs or [("mariadb", True), ("mysql", False), ("mariadb", False)]:
        old_primary_returns(flavor, auto_rejoin)


fokit.run_main(main)
