#!/usr/bin/env python3
"""Under reliability, a salvage lifts the hold it can make safe; both flavors.

Asynchronous replication, the reliability policy (the default), three nodes,
the write checker writing through the VIP. Each round holds the replicas back
(their IO threads stopped) while the primary acknowledges writes, then kills
the primary's server (its host, with its sshd, lives on). The old primary was
last seen with transactions no replica received: reliability holds.

1. With salvage_command (real ssh to the old primary's host, as in
   43-fo-salvage): what the hold waits for is all in the old primary's
   binlog. The failover does not hold: it salvages, checks before the point
   of no return that the candidate then holds everything the old primary was
   last seen with, and completes. No acknowledged write is lost,
   nothing is reported lost, no failover_held.
2. Without it: the same fault holds the failover (failover_held), and after
   unseen_hold it is aborted with nothing writable.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, gtid_missing, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402
import labssh  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STOP_IO = {"mariadb": "STOP SLAVE IO_THREAD", "mysql": "STOP REPLICA IO_THREAD"}
START_IO = {"mariadb": "START SLAVE IO_THREAD", "mysql": "START REPLICA IO_THREAD"}
TIMEOUT_S = 6
HOLD_S = 5


def extra(lab, salvage):
    text = '    unseen_hold = "%ds";\n' % HOLD_S
    if not salvage:
        return text
    base = os.path.dirname(lab.node("db1").dir)
    chroot = lab.desc.get("chroot") or "-"
    cmd = " ".join(labssh.ssh_argv(lab, 2) + [
        "{host}", "/usr/bin/bash", "%s/salvage-lab.sh" % HERE, "%s/{node}" % base, chroot,
        labkit.STATE_ROOT, "{binlog_filter}"])
    cred = os.path.join(base, "salvage-credentials.cnf")
    u = labkit.USERS["labroot"]
    fd = os.open(cred, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('[client]\nuser="%s"\npassword="%s"\n' % (u["user"], u["password"]))
    return text + ('    salvage_command = "%s";\n    salvage_client = "/usr/bin/mariadb";\n'
                   '    salvage_credentials = "%s";\n    salvage_timeout = "%ds";\n'
                   % (cmd, cred, TIMEOUT_S))


def held_back_then_kill(lab):
    """Writes the replicas don't receive, then the primary's server killed.
    Returns the primary's name and GTID state just before."""
    w = fokit.writable_nodes(lab)
    check(len(w) == 1, "one writable node: %s" % w)
    p = w[0]
    replicas = [n.name for n in lab.nodes if n.alive and n.name != p]
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    for r in replicas:
        lab.sql(r, STOP_IO[lab.family])
    lab.wait_acks(60, server_id=lab.node(p).server_id)
    g = lab.gtid(p)
    lab.kill(p)
    for r in replicas:
        try:
            lab.sql(r, START_IO[lab.family])
        except labkit.SQLError:
            pass
    return p, g


def round_salvage(lab, d, say):
    old, g_old = held_back_then_kill(lab)
    op = d.wait_operation(1, timeout=90)
    check(op["type"] == "done", "the failover completes: %s" % op)
    check("failover_held" not in d.events(), "it never held: %s" % d.events().get("failover_held"))
    new = op["new_primary"]
    s = op.get("salvage") or {}
    check(s.get("ok") and s.get("salvaged_count", 0) > 0, "the salvage supplied it: %s" % s)
    check(s.get("required") and gtid_missing(lab.flavor, s["gtid_after"], s["required"]) == 0,
          "what the hold waited for was required of the salvage, and supplied: %s" % s)
    recs = d.op_records(op["op"])
    done = [r["step"] for r in recs if r["type"] == "step_done"]
    check(done.index("salvage:%s" % new) < done.index("promote:%s" % new),
          "the salvage ran before the promotion: %s" % done)
    check(not op.get("possibly_lost_count"), "nothing reported lost: %s" % op)
    check(gtid_missing(lab.flavor, s["gtid_after"], g_old) == 0,
          "%s held every GTID %s had (%s) before its promotion: %s" % (new, old, g_old, s))
    lab.wait_acks(20, server_id=lab.node(new).server_id)
    fokit.wait_topology(lab, new)
    v = lab.writer_verify()
    check(v["ok"] and v["lost"] == [] and v["primary"] == new and not v["split_brain"],
          "no acknowledged write is lost: %s" % v)
    say("salvage: %s killed, hold lifted, %d transactions salvaged onto %s, failover in %d ms, "
        "%d acked, none lost" % (old, s["salvaged_count"], new, op["duration_ms"], v["acked"]))


def round_no_salvage(lab, d, say):
    d.ctl("ack", "main")
    old, _ = held_back_then_kill(lab)
    ev = d.wait_event("failover_held", timeout=60)[-1]
    check("old primary was last seen with" in ev, "failover_held says why: %s" % ev)
    op = d.wait_operation(2, timeout=HOLD_S + 60)
    check(op["type"] == "aborted", "without salvage, reliability holds, then aborts: %s" % op)
    check(fokit.writable_nodes(lab) == [], "nothing is writable: %s" % fokit.writable_nodes(lab))
    lab.writer_stop()
    say("no salvage: %s killed, held, aborted after %d s with nothing writable" % (old, HOLD_S))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("hold-" + flavor),
                       semisync=False) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra=extra(lab, True)) as d:
        labssh.sshd_start(lab)
        d.start()
        wait_for(lambda: all(n["state"] == "up" for n in d.cluster()["nodes"]), 120,
                 what="failoverd sees every node up")
        round_salvage(lab, d, say)
        d.write_config(cluster_extra=extra(lab, False))
        d.signal(signal.SIGHUP)
        wait_for(lambda: {"config_reloaded", "config_rejected"} & set(d.events()), 10,
                 what="the reload")
        check("config_rejected" not in d.events(), "reloaded: %s" % d.events())
        round_no_salvage(lab, d, say)
        check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
