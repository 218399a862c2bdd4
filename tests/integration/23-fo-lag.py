#!/usr/bin/env python3
"""A lagging replica at failover time, on both flavors: reliability waits for
it to apply what it received (bounded by wait_apply_timeout); availability
does not wait, and reports what it gave up.

The replica db2 (prefer; db3 is must_not, so db2 is the one candidate) lags:
a session holds a read lock on lab.writes there, so its SQL thread waits while
its IO thread goes on receiving (with semi-sync, db2 and db3 acknowledge).

1. Reliability waits: db1 is killed; failoverd stops at "apply db2" with no
   node writable and answers status meanwhile; once the lock goes, db2 applies
   its backlog and is promoted. Nothing acknowledged is lost.
2. Bounded, then availability: the lock stays. The reliability failover gives
   up after wait_apply_timeout and leaves no node writable (failover_aborted).
   The operator switches the cluster to availability and runs `failoverctl
   failover main`: failoverd waits at most a second, then stops db2's
   replication (the server lets the applier finish the transaction it is in,
   so the test lifts the lock when failoverd gets there) and promotes it with
   its backlog unapplied. failoverd must report exactly how many transactions
   it gave up: the rows db3 holds and db2 lacks. The acknowledged writes the
   checker finds lost are among them."""
import calendar
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, gtid_missing, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

RULES = {"db2": "prefer", "db3": "must_not"}


def epoch(iso):
    """Journal times ("2026-01-02T03:04:05.678Z") as seconds since the epoch."""
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) + float(iso[19:-1] or 0)


def lagging(lab, say):
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    lock = fokit.ApplierLock(lab, "db2")
    lab.wait_acks(100)
    behind = gtid_missing(lab.flavor, lab.gtid("db2"), lab.gtid("db3"))
    check(behind >= 50, "db2 must lag: %d behind db3" % behind)
    say("db2 applies nothing, %d transactions behind db3" % behind)
    return lock, behind


def reliability_waits(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo23r-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, node_rules=RULES,
                         vip_plugin=True, cluster_extra='    wait_apply_timeout = "60s";') as d:
        d.start()
        lock, behind = lagging(lab, say)
        try:
            lab.kill("db1")
            wait_for(lambda: any(r.get("step") == "apply:db2" and r["type"] == "step"
                                 for r in d.journal()), 30, what="the wait for db2")
            time.sleep(1)
            st = d.cluster()
            check(st["failover"] and st["failover"]["step"] == "apply:db2",
                  "status answers during the failover and shows the wait: %s" % st["failover"])
            check(fokit.writable_nodes(lab) == [], "nothing is writable while db2 applies")
            released = lock.release()
        finally:
            lock.close()
        op = d.wait_operation(1, timeout=70)
        check(op["type"] == "done" and op["new_primary"] == "db2", "db2 promoted: %s" % op)
        promoted = next(r for r in d.op_records(op["op"])
                        if r["type"] == "step" and r["step"] == "promote:db2")
        check(epoch(promoted["time"]) >= released - 0.01,
              "the promotion came after the lock went (%s vs %.3f)" % (promoted["time"], released))
        g3 = lab.gtid("db3")        # first: db2 takes writes, and db3 follows it
        g2 = lab.gtid("db2")
        check(gtid_missing(flavor, g2, g3) == 0, "db2 (%s) holds everything db3 (%s) has" % (g2, g3))
        check(not op.get("possibly_lost"), "nothing reported lost: %s" % op)
        check(lab.vip_holders() == ["db2"], "the VIP plugin moved the VIP to db2")
        lab.wait_acks(30, server_id=lab.node("db2").server_id)
        fokit.wait_topology(lab, "db2")
        v = lab.writer_verify()
        check(v["ok"] and v["lost"] == [] and v["primary"] == "db2", "nothing lost: %s" % v)
        say("reliability waited for db2's %d-transaction backlog, then promoted it; "
            "%d acked, none lost" % (behind, v["acked"]))


def bounded_then_availability(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo23a-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, node_rules=RULES,
                         vip_plugin=True, cluster_extra='    wait_apply_timeout = "3s";') as d:
        d.start()
        lock, behind = lagging(lab, say)
        try:
            lab.kill("db1")
            op = d.wait_operation(1, timeout=40)
            check(op["type"] == "aborted" and "apply:db2" in (op.get("message") or "")
                  and op["promoted"] is False,
                  "reliability gives up after wait_apply_timeout: %s" % op)
            check(fokit.writable_nodes(lab) == [], "the aborted failover left nothing writable")
            aborted = [e for e in d.events().get("failover_aborted", []) if "aborted before" in e]
            check(aborted and "no node was made writable" in aborted[-1].lower(),
                  "the event states the safe state: %s" % aborted[-1:])
            check(d.cluster()["verdict"] == "dead", "the daemon keeps monitoring")
            # The operator accepts the loss: availability, by hand.
            d.write_config(cluster_extra='    wait_apply_timeout = "3s"; policy = "availability";')
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.cluster()["policy"] == "availability", 10, what="the reload")
            reply = []
            t = threading.Thread(target=lambda: reply.append(d.ctl("failover", "main", timeout=60)))
            t.start()
            # No wait for the backlog: failoverd goes on to stop db2's replication,
            # which the server finishes once the applier's current transaction
            # can complete: the lock goes then, and db2 stops with its backlog.
            wait_for(lambda: any(r.get("step") == "stop_replica:db2" and r["type"] == "step"
                                 for r in d.journal()), 30, what="failoverd to stop db2")
            lock.release()
            t.join(60)
            check(reply and reply[0][1]["type"] == "done" and reply[0][1]["new_primary"] == "db2",
                  "availability promotes db2: %s" % reply)
        finally:
            lock.close()
        op = d.wait_operation(2)
        count = op.get("possibly_lost_count", 0)
        check(op.get("possibly_lost") and count > 0, "the dropped backlog is reported: %s" % op)
        done = [e for e in d.events().get("failover_done", []) if "failover done in" in e]
        check(done and "possibly lost: %d transaction" % count in done[-1],
              "the failover_done event says it: %s" % done[-1:])
        check(lab.vip_holders() == ["db2"], "the VIP plugin moved the VIP to db2")
        lab.wait_acks(30, server_id=lab.node("db2").server_id)
        check(fokit.writable_nodes(lab) == ["db2"], "db2 is the one writable node")
        v = lab.writer_verify()
        check(v["primary"] == "db2" and v["lost"], "acknowledged writes were given up: %s" % v)
        rows2 = {r["id"] for r in lab.query("db2", "SELECT id FROM lab.writes")}
        rows3 = {r["id"] for r in lab.query("db3", "SELECT id FROM lab.writes")}
        extra = rows3 - rows2
        check(len(extra) == count, "reported %d, db3 holds %d rows db2 lacks" % (count, len(extra)))
        # db3 had more than the new primary: MySQL lets it follow with its extra
        # transactions, MariaDB refuses its position, and failoverd names it.
        want = ["db3"] if labkit.family(flavor) == "mariadb" else []
        check(op["not_following"] == want, "not following: %s" % op["not_following"])
        check({str(i) for i in v["lost"]} <= extra, "every lost acknowledged write is reported")
        say("availability promoted the lagging db2 at once; %d transactions reported lost, "
            "%d of them acknowledged" % (count, len(v["lost"])))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    reliability_waits(flavor, say)
    bounded_then_availability(flavor, say)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
