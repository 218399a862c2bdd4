#!/usr/bin/env python3
"""The VIP plugin moves the lab's virtual IP with the primary (MariaDB; 41 runs
the same on MySQL).

failoverd runs with plugins/vip (vip.so) and no script hook: the plugin reaches
each node's namespace through `wrap = "ip netns exec {netns}"`, the namespace
coming from the node's vars. The write checker writes through the VIP.

1. Switchover db1 -> db2: the old primary is alive and holds the VIP; after the
   switchover only db2 holds it, a client connecting to the VIP lands on db2's
   server_id, the writer's acknowledged writes come from db2 and none is lost.
2. Failover: db2 is killed (its host lives on, and still holds the VIP until the
   fence step releases it). After the failover only the new primary holds the
   VIP, the writer's writes come from it through the VIP, none is lost with
   semi-sync, and a client connecting to the VIP lands on its server_id.

Prints how long the plugin took to move the VIP (from its own report)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

VIP_SO = fokit.VIP_SO


def vip_server_id(lab):
    """@@server_id of whoever answers a new connection to the VIP (client namespace)."""
    u = labkit.USERS["labroot"]
    p = lab.run_in(["mariadb", "--no-defaults", "--protocol=tcp", "-h", lab.vip, "-P", "3306",
                    "-u", u["user"], "--connect-timeout=3", "-N", "-B", "-e",
                    "SELECT @@server_id, @@read_only"],
                   env={**os.environ, "MYSQL_PWD": u["password"]}, timeout=20)
    sid, ro = p.stdout.split()
    return int(sid), ro


def plugin_reports(d):
    """The vip plugin's post_promotion reports in the daemon's log."""
    out = []
    with open(d.log_path, errors="replace") as f:
        for line in f:
            m = re.search(r"plugin vip: post_promotion: (\S+) is on (\S+) in (\d+) ms \((.*)\)", line)
            if m:
                out.append((m.group(2), int(m.group(3)), m.group(4)))
    return out


def wait_moved(lab, d, new, count):
    """The plugin reported the VIP on `new` (its count-th report), and it holds it alone."""
    wait_for(lambda: len(plugin_reports(d)) >= count, 30, what="the vip plugin's report")
    node, ms, detail = plugin_reports(d)[count - 1]
    check(node == new, "the VIP went to %s, not %s" % (node, new))
    check(lab.vip_holders() == [new], "only %s holds the VIP: %s" % (new, lab.vip_holders()))
    sid, ro = vip_server_id(lab)
    check(sid == lab.node(new).server_id and ro == "0",
          "a client through the VIP lands on writable %s (server_id %d), not %d (read_only %s)"
          % (new, lab.node(new).server_id, sid, ro))
    return ms, detail


def verify(lab, new, what):
    v = lab.writer_verify()
    check(v["ok"] and v["primary"] == new and v["lost"] == [] and not v["split_brain"],
          "%s: the writer through the VIP loses nothing: %s" % (what, v))
    check(v["acks_by_node"].get(new, 0) > 0,
          "%s: writes acknowledged by %s: %s" % (what, new, v["acks_by_node"]))
    return v


def switchover(lab, d, say):
    lab.writer_start(through="vip")
    lab.wait_acks(50)
    t0 = time.time()
    rc, out = d.ctl("switchover", "main", "--to", "db2", timeout=90, check=False)
    took = time.time() - t0
    check(rc == 0, "the switchover succeeds: %s" % (out,))
    ms, detail = wait_moved(lab, d, "db2", 1)
    lab.wait_acks(50, server_id=lab.node("db2").server_id)
    v = verify(lab, "db2", "switchover")
    say("switchover db1 -> db2 in %.1f s; VIP moved in %d ms (%s); %d acked, max gap %s ms"
        % (took, ms, detail, v["acked"], v["max_gap_ms"]))


def failover(lab, d, say):
    lab.writer_start(through="vip")
    lab.wait_acks(50)
    check(lab.vip_holders() == ["db2"], "db2 holds the VIP before the failover")
    lab.kill("db2")
    d.wait_event("failover_done", timeout=40)
    # status names the new primary once it has been probed as such.
    wait_for(lambda: d.cluster()["primary"] not in (None, "db2"), 10,
             what="status naming the new primary")
    new = d.cluster()["primary"]
    check(new in ("db1", "db3"), "a replica of db2 is the new primary: %s" % new)
    ms, detail = wait_moved(lab, d, new, 2)
    lab.wait_acks(50, server_id=lab.node(new).server_id)
    v = verify(lab, new, "failover")
    fence = [line for line in open(d.log_path, errors="replace")
             if "plugin vip: fence:" in line]
    check(fence and "moves at post_promotion" in fence[-1],
          "the fence step leaves the VIP to post_promotion (make before break): %s" % fence[-1:])
    say("failover db2 -> %s; VIP moved in %d ms (%s); %d acked, none lost, max gap %s ms"
        % (new, ms, detail, v["acked"], v["max_gap_ms"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    check(os.path.exists(VIP_SO), "the plugin is built: %s" % VIP_SO)
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("vip-" + flavor[:2]),
                       semisync=True) as lab:
        check(lab.vip_holders() == ["db1"], "the lab starts with the VIP on db1")
        with fokit.Daemon(lab, vip_plugin=True) as d:
            d.start()
            d.wait_verdict("healthy", timeout=20)
            switchover(lab, d, say)
            failover(lab, d, say)
            check(d.stop() == 0, "failoverd stops cleanly")
            check("plugin vip" in open(d.log_path).read(), "the plugin logged")


if __name__ == "__main__":
    fokit.run_main(lambda: scenario(sys.argv[1] if len(sys.argv) > 1 else "mariadb"))
