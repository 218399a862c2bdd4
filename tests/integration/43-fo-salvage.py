#!/usr/bin/env python3
"""Salvage from a killed primary's binlog (salvage_command), on both flavors.

Asynchronous replication, availability policy, four nodes, the write checker
writing through the VIP. Each round holds the replicas back (their IO threads
stopped) while the primary acknowledges writes for about a second, kills the
primary's server (SIGKILL; its host lives on), and lets the replicas' IO
threads run again (they find nobody to connect to).

1. Without salvage_command: the acknowledged writes only the dead primary had
   are lost, and failoverd reports at least as many as possibly lost.
2. With salvage_command (real ssh to the sshd of the old primary's host,
   tests/lab/labssh.py, which reads the node's binlog files there): failoverd
   reads what the candidate lacks, by GTID, and applies it before the
   promotion. No acknowledged write is lost,
   nothing is reported lost, the record says what was salvaged, and every
   replica holds it.
3. The host is gone (the whole namespace cut off, then the server killed): ssh
   can't reach it, its ConnectTimeout (within salvage_timeout) ends it,
   salvage_failed says so and the failover completes.

On MySQL, a replica whose relay log ends inside a transaction (its IO thread
stopped while receiving one) used to make the failover's STOP REPLICA wait a
minute; the failover now ends such an applier first (46-fo-partial-group
provokes it on purpose)."""
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
CONNECT_S = 2


def salvage_extra(lab, on):
    extra = '    policy = "availability";\n'
    if not on:
        return extra
    n = lab.node("db1")
    base = os.path.dirname(n.dir)
    chroot = lab.desc.get("chroot") or "-"
    # Real ssh to the node's own sshd, as in production: no prompt, the lab's
    # key and known_hosts, connecting bounded (CONNECT_S, within the salvage's
    # own bound). The remote command reads the node's binlog (salvage-lab.sh).
    cmd = " ".join(labssh.ssh_argv(lab, CONNECT_S) + [
        "{host}", "/usr/bin/bash", "%s/salvage-lab.sh" % HERE, "%s/{node}" % base, chroot,
        labkit.STATE_ROOT, "{binlog_filter}"])
    # The account that replays the events: the lab's labroot (all rights),
    # named in an option file only failoverd reads.
    cred = os.path.join(base, "salvage-credentials.cnf")
    u = labkit.USERS["labroot"]
    fd = os.open(cred, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('[client]\nuser="%s"\npassword="%s"\n' % (u["user"], u["password"]))
    return extra + ('    salvage_command = "%s";\n    salvage_client = "/usr/bin/mariadb";\n'
                    '    salvage_credentials = "%s";\n    salvage_timeout = "%ds";\n'
                    % (cmd, cred, TIMEOUT_S))


def primary_of(lab):
    w = fokit.writable_nodes(lab)
    check(len(w) == 1, "one writable node: %s" % w)
    return w[0]


def held_back_then(lab, fault):
    """Writes the replicas don't receive, then the primary's fault. Returns the
    primary's name and GTID state just before the fault."""
    p = primary_of(lab)
    replicas = [n.name for n in lab.nodes if n.alive and n.name != p]
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    for r in replicas:
        lab.sql(r, STOP_IO[lab.family])
    lab.wait_acks(80, server_id=lab.node(p).server_id)
    g = lab.gtid(p)
    fault(p)
    # Not needed for the detection, which may be done already (the replica
    # then replicates from someone else, or was promoted).
    for r in replicas:
        try:
            lab.sql(r, START_IO[lab.family])
        except labkit.SQLError:
            pass
    return p, g


def round_no_salvage(lab, d, say):
    old, _ = held_back_then(lab, lab.kill)
    op = d.wait_operation(1, timeout=60)
    check(op["type"] == "done", "the failover is done: %s" % op)
    new = op["new_primary"]
    check("salvage" not in op, "no salvage without salvage_command: %s" % op.get("salvage"))
    lab.wait_acks(20, server_id=lab.node(new).server_id)
    fokit.wait_topology(lab, new)
    v = lab.writer_verify()
    count = op.get("possibly_lost_count", 0)
    check(v["lost"] and count > 0, "acknowledged writes are lost without salvage, and reported: "
          "%d reported, %s" % (count, v))
    say("no salvage: %s killed, %s promoted, %d acknowledged writes lost, %d reported"
        % (old, new, len(v["lost"]), count))


def round_salvage(lab, d, say, n):
    d.ctl("ack", "main")
    old, g_old = held_back_then(lab, lab.kill)
    op = d.wait_operation(n, timeout=60)
    check(op["type"] == "done", "the failover is done: %s" % op)
    new = op["new_primary"]
    s = op.get("salvage") or {}
    check(s.get("ok") and s.get("salvaged_count", 0) > 0 and s["old_primary"] == old
          and s["candidate"] == new, "the record says what was salvaged: %s" % s)
    check(not op.get("possibly_lost_count"), "nothing reported lost: %s" % op)
    lab.wait_acks(20, server_id=lab.node(new).server_id)
    fokit.wait_topology(lab, new)
    check(gtid_missing(lab.flavor, s["gtid_after"], g_old) == 0,
          "%s held every GTID %s had (%s) before its promotion: %s" % (new, old, g_old, s))
    v = lab.writer_verify()
    check(v["ok"] and v["lost"] == [] and v["primary"] == new and not v["split_brain"],
          "salvage loses nothing: %s" % v)
    ev = [e for e in d.events().get("salvage_done", []) if "salvaged %d transaction"
          % s["salvaged_count"] in e]
    check(ev, "salvage_done says it: %s" % d.events().get("salvage_done"))
    st = d.cluster()["last_operation"]
    check(st and st.get("salvage", {}).get("salvaged") == s["salvaged"],
          "status shows the salvage: %s" % (st or {}).get("salvage"))
    hist = d.ctl("history", "main")[1]["operations"][0]
    check(hist.get("salvage", {}).get("salvaged") == s["salvaged"],
          "history shows the salvage: %s" % hist)
    text = d.ctl_text("history", "main").stdout
    check("salvaged: %d transactions from %s" % (s["salvaged_count"], old) in text,
          "failoverctl history says it: %s" % text)
    say("salvage: %s killed, %d transactions (%s) salvaged onto %s in %d ms, %d acked, none lost"
        % (old, s["salvaged_count"], s["salvaged"], new, s["elapsed_ms"], v["acked"]))


def round_host_gone(lab, d, say, n):
    d.ctl("ack", "main")
    old, _ = held_back_then(lab, lab.crash)
    op = d.wait_operation(n, timeout=90)
    check(op["type"] == "done", "the failover completes without the host: %s" % op)
    s = op.get("salvage") or {}
    # ssh gives up connecting after CONNECT_S (its own "Connection timed
    # out"); salvage_timeout is the bound above it.
    check(s.get("ok") is False and "timed out" in s.get("error", "")
          and s["elapsed_ms"] <= TIMEOUT_S * 1000 + 1000,
          "the salvage gave up within salvage_timeout: %s" % s)
    ev = d.events().get("salvage_failed", [])
    check(ev and old in ev[-1], "salvage_failed says it: %s" % ev)
    text = d.ctl_text("history", "main").stdout
    check("salvaged: nothing, salvage_command" in text and "timed out" in text,
          "failoverctl history says it: %s" % text)
    check(op.get("possibly_lost_count", 0) > 0, "what was not salvaged is reported: %s" % op)
    new = op["new_primary"]
    lab.wait_acks(20, server_id=lab.node(new).server_id)
    v = lab.writer_verify()
    check(v["primary"] == new and not v["split_brain"], "one primary: %s" % v)
    say("host gone: salvage gave up after %d ms, %s promoted in %d ms, %d reported lost"
        % (s["elapsed_ms"], new, op["duration_ms"], op["possibly_lost_count"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 4, name=labkit.unique_name("salvage-" + flavor),
                       semisync=False) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra=salvage_extra(lab, False)) as d:
        labssh.sshd_start(lab)
        d.start()
        # On a busy machine the first probes may time out: the rounds need
        # failoverd to have seen every node (the loss report counts from the
        # old primary's last probe).
        wait_for(lambda: all(n["state"] == "up" for n in d.cluster()["nodes"]), 120,
                 what="failoverd sees every node up")
        round_no_salvage(lab, d, say)
        d.write_config(cluster_extra=salvage_extra(lab, True))
        d.signal(signal.SIGHUP)
        wait_for(lambda: {"config_reloaded", "config_rejected"} & set(d.events()), 10,
                 what="the reload")
        check("config_rejected" not in d.events(),
              "the salvage settings are accepted: %s" % d.events().get("config_rejected"))
        round_salvage(lab, d, say, 2)
        round_host_gone(lab, d, say, 3)
        # A clean stop; with a sanitizer build, stop() also fails on any report.
        check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
