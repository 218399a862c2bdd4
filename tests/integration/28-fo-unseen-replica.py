#!/usr/bin/env python3
"""Reliability never promotes past a replica it can't see, on both flavors.

Semi-sync is on; db2's IO thread is stopped by hand, so db3 alone acknowledges
the writes: a hundred acknowledged transactions exist only on db1 and db3.
Then db3 hangs (`lab stop`, or its monitoring privilege is revoked) and db1 is
killed. db2 is the only replica failoverd sees, and it lacks every one of
those writes: promoting it would lose them.

1. Hold, then go on: failoverd holds the failover (failover_held, naming db3)
   with nothing writable; when db3 runs again it stops db3's IO thread,
   elects again and promotes a node holding everything. Nothing acknowledged
   is lost.
2. Hold, abort, --force: with a short unseen_hold the failover is aborted
   (failover_aborted naming db3 and the way out, nothing writable, the
   journal's record lists db3 as unseen). The operator accepts the loss with
   `failoverctl failover main --force`: db2 is promoted and the report says
   what was not seen and what may be lost; the write checker finds the
   acknowledged writes lost, as stated.
3. --force during the hold: the operator does not wait for unseen_hold to
   run out; `failoverctl failover main --force` makes the held (automatic)
   failover go on at once, and its reply is the failover's record.
4. Privilege revoked: db3 runs but the monitoring account can no longer read
   its replication status. The failover holds and is aborted just the same;
   once the privilege is back, `failoverctl failover main` promotes without
   losing anything."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

MONITOR_PRIV = {"mariadb": "REPLICA MONITOR", "mysql": "REPLICATION CLIENT"}


def only_db3_acknowledges(lab, say):
    """db2 stops receiving; a hundred writes are acknowledged by db3 alone."""
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    lab.sql("db2", "STOP REPLICA IO_THREAD")
    lab.wait_acks(100)
    say("db2's IO thread stopped; 100 writes acknowledged by db3 alone")


def account(lab):
    return "'%s'@'%s'" % (lab.desc["users"]["admin"]["user"], lab.desc["users"]["admin"].get(
        "host", lab.desc["subnet"].rsplit(".", 1)[0] + ".%"))


def set_privilege(lab, node, flavor, grant):
    """Grants or revokes the replica-status privilege of failoverd's account on
    one node only (not replicated), then ends the account's sessions there so
    that the next connection has the new rights."""
    priv = MONITOR_PRIV[flavor]
    stmt = ("GRANT %s ON *.* TO %s" if grant else "REVOKE %s ON *.* FROM %s") % (priv, account(lab))
    if flavor == "mysql":
        stmt = "SET GLOBAL super_read_only = OFF; %s; SET GLOBAL super_read_only = ON" % stmt
    lab.sql(node, "SET SESSION sql_log_bin = 0; %s;" % stmt)
    user = lab.desc["users"]["admin"]["user"]
    for row in lab.query(node, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '%s'"
                         % user):
        try:
            lab.sql(node, "KILL %s" % row["ID"])
        except labkit.LabError:
            pass


def held(d, say):
    ev = d.wait_event("failover_held", timeout=40)[-1]
    check("db3" in ev, "failover_held names db3: %s" % ev)
    st = d.cluster()
    check(st["failover"] and "db3" in (st["failover"].get("held") or ""),
          "status shows the hold: %s" % st["failover"])
    say("held: %s" % ev[ev.find("failover held"):][:160])


def hold_then_go_on(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo28h-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra='    unseen_hold = "90s";') as d:
        d.start()
        only_db3_acknowledges(lab, say)
        lab.stop("db3")
        lab.kill("db1")
        held(d, say)
        check(fokit.writable_nodes(lab) == [], "nothing writable while held")
        lab.cont("db3")
        op = d.wait_operation(1, timeout=60)
        check(op["type"] == "done" and op["new_primary"] in ("db2", "db3"), "done: %s" % op)
        recs = [r["type"] for r in d.op_records(op["op"])]
        check("hold" in recs and recs.count("elect") >= 2,
              "journal: a hold, then a second election: %s" % recs)
        new = op["new_primary"]
        check(lab.vip_holders() == [new], "the VIP is on %s" % new)
        lab.wait_acks(30, server_id=lab.node(new).server_id)
        v = lab.writer_verify()
        check(v["primary"] == new and v["lost"] == [] and not v["split_brain"],
              "nothing acknowledged lost: %s" % {k: v[k] for k in ("lost_ranges", "acked")})
        say("held until db3 came back, then promoted %s; %d acked, none lost" % (new, v["acked"]))


def abort_then_force(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo28f-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra='    unseen_hold = "3s";') as d:
        d.start()
        only_db3_acknowledges(lab, say)
        lab.stop("db3")
        lab.kill("db1")
        held(d, say)
        op = d.wait_operation(1, timeout=40)
        check(op["type"] == "aborted" and op["promoted"] is False and op["unseen"] == ["db3"],
              "aborted after the hold, db3 unseen: %s" % op)
        ev = [e for e in d.events().get("failover_aborted", []) if "holding" in e]
        check(ev and "db3" in ev[-1] and "--force" in ev[-1] and "No node was made writable" in ev[-1],
              "the event names db3, the safe state and the way out: %s" % ev[-1:])
        check(fokit.writable_nodes(lab) == [], "nothing writable after the abort")
        rc, out = d.ctl("failover", "main", "--force", timeout=90)
        check(rc == 0 and out["type"] == "done" and out["new_primary"] == "db2",
              "--force promotes db2: %s" % out)
        check("db3" in (out.get("unseen") or ""), "the record says db3 was not seen: %s" % out)
        done = d.events()["failover_done"][-1]
        check("not seen" in done and "db3" in done, "failover_done says so: %s" % done)
        lab.wait_acks(30, server_id=lab.node("db2").server_id)
        v = lab.writer_verify()
        check(v["primary"] == "db2" and v["lost"], "the accepted loss is real: %s" % v["lost_ranges"])
        # What the old primary was last seen with is reported (a lower bound: it
        # went on committing, acknowledged by db3, after its last probe).
        check(out.get("possibly_lost") and out.get("possibly_lost_count", 0) > 0,
              "the report states a loss: %s" % out)
        lab.cont("db3")
        say("aborted with nothing writable; --force promoted db2, %d acknowledged writes lost "
            "as reported (%s)" % (len(v["lost"]), out.get("possibly_lost")))


def force_during_hold(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo28a-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra='    unseen_hold = "90s";') as d:
        d.start()
        only_db3_acknowledges(lab, say)
        lab.stop("db3")
        lab.kill("db1")
        held(d, say)
        rc, out = d.ctl("failover", "main", "--force", timeout=60)
        check(rc == 0 and out["type"] == "done" and out["new_primary"] == "db2" and
              out["duration_ms"] < 60000, "--force ends the hold: %s" % out)
        recs = [r["type"] for r in d.op_records(out["op"])]
        check("hold" in recs and "accept" in recs and "aborted" not in recs,
              "one operation: held, accepted, done: %s" % recs)
        lab.wait_acks(30, server_id=lab.node("db2").server_id)
        check(fokit.writable_nodes(lab) == ["db2"], "db2 alone writable")
        lab.cont("db3")
        say("--force during the hold: db2 promoted at once (%s)" % out.get("possibly_lost"))


def privilege_revoked(flavor, say):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fo28p-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra='    unseen_hold = "3s";') as d:
        d.start()
        only_db3_acknowledges(lab, say)
        set_privilege(lab, "db3", flavor, grant=False)
        wait_for(lambda: d.node("db3")["state"] != "up", 20, what="db3 not observed")
        lab.kill("db1")
        held(d, say)
        op = d.wait_operation(1, timeout=40)
        check(op["type"] == "aborted" and op["unseen"] == ["db3"], "aborted, db3 unseen: %s" % op)
        check(fokit.writable_nodes(lab) == [], "nothing writable after the abort")
        set_privilege(lab, "db3", flavor, grant=True)
        wait_for(lambda: d.node("db3")["state"] == "up", 20, what="db3 observed again")
        rc, out = d.ctl("failover", "main", timeout=90)
        check(rc == 0 and out["type"] == "done", "the operator's failover is done: %s" % out)
        new = out["new_primary"]
        lab.wait_acks(30, server_id=lab.node(new).server_id)
        v = lab.writer_verify()
        check(v["primary"] == new and v["lost"] == [], "nothing lost: %s" % v["lost_ranges"])
        say("privilege revoked: held and aborted; privilege back: %s promoted, none lost" % new)


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    hold_then_go_on(flavor, say)
    abort_then_force(flavor, say)
    force_during_hold(flavor, say)
    privilege_revoked(flavor, say)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
