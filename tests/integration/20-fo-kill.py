#!/usr/bin/env python3
"""Automatic failover of a killed primary under writes, on both flavors.

1. Reliability with semi-sync: the primary is killed (SIGKILL) while the write
   checker writes through the VIP. failoverd must leave exactly one writable
   node, every other running node replicating from it, semi-sync on again, the
   operation done in the journal and in `failoverctl history`, and no
   acknowledged write lost.
2. Availability, asynchronous: the same lab, the policy switched by a reload.
   The new primary is cut off from its replica while it takes writes, then its
   host crashes. failoverd promotes the replica at once; the writes only the
   dead primary had are lost, and failoverd must say so: the operation's
   possibly_lost must count exactly the rows the old primary holds and the new
   one lacks (checked on the old primary, started again), and cover every
   acknowledged write the checker found missing.

The write checker writes through the VIP, which failoverd's VIP plugin moves
to the new primary."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, gtid_missing, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

SEMI = {"mariadb": "Rpl_semi_sync_master_%s", "mysql": "Rpl_semi_sync_source_%s"}
SEMI_VAR = {"mariadb": "rpl_semi_sync_master_enabled", "mysql": "rpl_semi_sync_source_enabled"}


def semisync_status(lab, node):
    q = "SHOW STATUS LIKE '%s'" % (SEMI[lab.family] % "%")
    st = {r["Variable_name"]: r["Value"] for r in lab.query(node, q)}
    return st.get(SEMI[lab.family] % "status"), int(st.get(SEMI[lab.family] % "clients") or 0)


def reliability_kill(lab, d, say):
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    op = d.wait_operation(1, timeout=40)
    check(op["type"] == "done", "the failover must be done: %s" % op)
    new = op["new_primary"]
    check(new in ("db2", "db3"), "a replica is the new primary: %s" % op)
    check(lab.vip_holders() == [new], "the VIP plugin moved the VIP to %s" % new)
    lab.wait_acks(50, server_id=lab.node(new).server_id)
    fokit.wait_topology(lab, new)
    # Semi-sync is set up again: source on the new primary, its replica connected.
    wait_for(lambda: semisync_status(lab, new) == ("ON", 1), 20,
             what="semi-sync on %s with its replica" % new)
    v = lab.writer_verify()
    check(v["primary"] == new and v["lost"] == [] and not v["divergence"]
          and not v["split_brain"] and v["ok"], "reliability with semi-sync loses nothing: %s" % v)
    hist = d.ctl("history", "main")[1]["operations"]
    check(len(hist) == 1 and hist[0]["state"] == "done" and hist[0]["new_primary"] == new
          and hist[0]["old_primary"] == "db1" and hist[0]["automatic"],
          "history shows the failover: %s" % hist)
    begins = [r for r in d.journal() if r["type"] == "begin"]
    done = [e for e in d.events().get("failover_done", []) if "failover done in" in e]
    check(len(begins) == 1 and len(done) == 1, "one failover, done: %s %s" % (begins, done))
    say("reliability: db1 killed, %s promoted in %s ms, %d acked, none lost, max gap %s ms"
        % (new, op["duration_ms"], v["acked"], v["max_gap_ms"]))
    return new


def availability_crash(lab, d, old, say):
    other = next(n.name for n in lab.nodes if n.name not in ("db1", old))
    d.write_config(cluster_extra='    policy = "availability";')
    d.signal(signal.SIGHUP)
    wait_for(lambda: d.cluster()["policy"] == "availability", 10, what="the reload")
    d.ctl("ack", "main")                    # lift failover_block for the next failover
    lab.sql(old, "SET GLOBAL %s = OFF" % SEMI_VAR[lab.family])   # asynchronous from here
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    # The replica stops hearing from the primary, which goes on taking writes.
    lab.partition(old, frm=other)
    lab.wait_acks(60, server_id=lab.node(old).server_id)
    lab.writer_stop()
    # failoverd has seen the primary's last transactions (it knows what may be lost).
    g = lab.gtid(old)
    wait_for(lambda: d.node(old)["gtid_executed"].replace("\n", "") == g, 10,
             what="failoverd to see %s's last GTIDs" % old)
    lab.crash(old)
    op = d.wait_operation(2, timeout=40)
    check(op["type"] == "done" and op["new_primary"] == other,
          "%s must be promoted: %s" % (other, op))
    lost_txt = op.get("possibly_lost") or ""
    count = op.get("possibly_lost_count", 0)
    check(lost_txt and count > 0, "what only %s had must be reported: %s" % (old, op))
    done = [e for e in d.events().get("failover_done", []) if "failover done in" in e]
    check(len(done) == 2 and "possibly lost: %d transaction" % count in done[-1],
          "the failover_done event says it: %s" % done[-1:])
    check(lab.vip_holders() == [other], "the VIP plugin moved the VIP to %s" % other)
    v = lab.writer_verify()
    check(v["primary"] == other and v["lost"], "writes after the cut are lost: %s" % v)
    check(count >= len(v["lost"]), "possibly_lost (%d) covers the %d lost acknowledged writes"
          % (count, len(v["lost"])))
    # Exactly: the old primary, started again, holds `count` rows the new one lacks.
    lab.heal()
    lab.start(old)
    rows_old = {r["id"] for r in lab.query(old, "SELECT id FROM lab.writes")}
    rows_new = {r["id"] for r in lab.query(other, "SELECT id FROM lab.writes")}
    extra = rows_old - rows_new
    check(len(extra) == count, "possibly_lost counts %d transactions, %s holds %d rows %s lacks"
          % (count, old, len(extra), other))
    check(gtid_missing(lab.flavor, lab.gtid(other), lab.gtid(old)) == count,
          "the GTIDs %s lacks are the ones reported" % other)
    say("availability: %s crashed, %s promoted; lost %d acked writes, reported %d (%s)"
        % (old, other, len(v["lost"]), count, lost_txt))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo20-" + flavor), semisync=True) as lab:
        with fokit.Daemon(lab, vip_plugin=True) as d:
            d.start()
            new = reliability_kill(lab, d, say)
            availability_crash(lab, d, new, say)
            check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.ALL_FLAVORS)])
