#!/usr/bin/env python3
"""The durability the cluster really has, on both flavors: a semi-sync lab
(reliability policy, the primary waits at most SEMISYNC_MS for an
acknowledgement), the write checker writing through the VIP.

1. Fallback, then heal. db1 is cut off from both replicas, not from failoverd
   or the clients. Its commits wait for an acknowledgement, then it falls
   back to asynchronous commits. Within a bound failoverd raises the issue
   "semi-sync off on db1 since T: commits are asynchronous" with its event
   (durability_degraded), then "db2, db3 have not received from db1"; status
   shows semi-sync off (human and --json). Healed: both end with
   durability_restored and the issues are gone; nothing acknowledged was lost.
2. Killed during the fallback. Cut off again, writes acknowledged by db1
   alone, then db1 is killed. The failover says plainly that semi-sync had
   fallen back at T and which transactions (a range on MariaDB) were at risk,
   and states what was lost as a lower bound with the time of its last look
   ("at least N, as of the probe at T") in the event, the journal (history)
   and status. The acknowledged writes the checker finds lost are all after
   T. The post_failover hook gets the bound in FAILOVERD_LOST_AT_LEAST and
   FAILOVERD_LOST_AS_OF. When db1 comes back, its exact extra transactions
   (node_errant) go into that failover's history entry.

Usage: 16-mon-semisync-fallback.py [FLAVOR...]   (default: both)
"""
import calendar
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

SEMISYNC_MS = 3000
# The bound for an issue to appear once its cause is there: the semi-sync
# timeout (or replica_confirm, 2 s, for a replica's silence) plus a few probe
# intervals, generous for a shared 2-core machine.
BOUND_S = SEMISYNC_MS / 1000 + 6


def epoch(iso):
    """failoverd's times ("2026-01-02T03:04:05.678Z") as seconds since the epoch."""
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) + float(iso[19:-1] or 0)


def issues(d):
    return d.cluster()["issues"]


def issue_with(d, text):
    return [i for i in issues(d) if text in i]


def cut(lab):
    lab.partition("db1", frm="db2")
    lab.partition("db1", frm="db3")


def events_with(d, name, text):
    return [e for e in d.events().get(name, []) if text in e]


def semisync_status(lab, node="db1"):
    """The server's own word (by unix socket): ON while commits wait for acks."""
    var = "Rpl_semi_sync_master_status" if lab.flavor == "mariadb" else "Rpl_semi_sync_source_status"
    row = lab.query(node, "SHOW GLOBAL STATUS LIKE '%s'" % var)
    return row[0]["Value"] if row else None


def fallback_and_heal(lab, d, say):
    wait_for(lambda: semisync_status(lab) == "ON", 15, what="semi-sync on on db1")
    c = d.cluster()
    check(not c["issues"], "no issue at first: %s" % c["issues"])

    t0 = time.monotonic()
    cut(lab)
    wait_for(lambda: issue_with(d, "semi-sync off on db1 since"), BOUND_S,
             what="the semi-sync issue")
    took = time.monotonic() - t0
    ev = events_with(d, "durability_degraded", "semi-sync off on db1 since")
    check(ev and "commits are asynchronous" in ev[-1], "the event says it: %s" % ev)
    say("semi-sync fallback raised after %.1f s (timeout %.1f s)" % (took, SEMISYNC_MS / 1000))
    lab.wait_acks(50)           # the writer goes on, asynchronously
    wait_for(lambda: issue_with(d, "db2, db3 have not received from db1"), BOUND_S + 10,
             what="the replicas' issue")
    ev = events_with(d, "durability_degraded", "have not received from db1 for")
    check(ev and "db2, db3" in ev[-1], "the event names both replicas: %s" % ev)
    say("not-receiving raised after %.1f s" % (time.monotonic() - t0))
    check(semisync_status(lab) == "OFF", "the server agrees: semi-sync is off on db1")
    c = d.cluster()
    dur = c["durability"]
    check(dur["degraded"] and dur["semisync"]["state"] == "off" and dur["semisync_off_since"]
          and dur["not_receiving"] == ["db2", "db3"], "status --json says so: %s" % dur)
    check(dur["semisync"]["node"] == "db1" and dur["semisync"]["timeout_ms"] == SEMISYNC_MS
          and dur["semisync"]["wait_for_replica_count"] == 1
          and dur["semisync"]["wait_point"] in ("AFTER_SYNC", "AFTER_COMMIT"),
          "status shows the semi-sync settings: %s" % dur["semisync"])
    text = " ".join(d.ctl_text("status").stdout.split())
    check("semi-sync: OFF on db1 since" in text and "commits are asynchronous" in text,
          "the human status says so:\n%s" % text)

    t1 = time.monotonic()
    lab.heal()
    wait_for(lambda: not d.cluster()["durability"]["degraded"], 60, what="durability restored")
    check(not issue_with(d, "semi-sync off") and not issue_with(d, "have not received"),
          "the issues are gone: %s" % issues(d))
    check(events_with(d, "durability_restored", "semi-sync is on again on db1")
          and events_with(d, "durability_restored", "receives from db1 again"),
          "durability_restored events for both")
    say("restored %.1f s after the heal" % (time.monotonic() - t1))
    lab.wait_acks(30)
    dur = d.cluster()["durability"]
    check(dur["semisync"]["state"] == "on" and dur["semisync"]["clients"] == 2,
          "semi-sync on with both replicas again: %s" % dur["semisync"])


def killed_during_fallback(lab, d, flavor, say):
    wait_for(lambda: semisync_status(lab) == "ON", 30, what="semi-sync on on db1")
    cut(lab)
    wait_for(lambda: semisync_status(lab) == "OFF", BOUND_S, what="db1 to fall back")
    lab.wait_acks(150)          # acknowledged by db1 alone
    lab.kill("db1")
    op = d.wait_operation(1, timeout=60)
    check(op["type"] == "done" and op["new_primary"] in ("db2", "db3"), "failed over: %s" % op)
    new = op["new_primary"]
    # As of db1's last probe: most of the 150 writes acknowledged since the fallback.
    check(op.get("semisync_off_since") and op.get("at_risk_count", 0) >= 50
          and op.get("at_risk"), "the record states the at-risk writes: %s" % op)
    if flavor == "mariadb":
        check(".." in op["at_risk"], "MariaDB states a range, not one GTID: %s" % op["at_risk"])
    check(op.get("lost_as_of") and op.get("lost_at_least", 0) >= 1,
          "the loss is a lower bound with its time: %s" % op)
    done = [e for e in d.events().get("failover_done", []) if "failover done in" in e]
    check(done and "at least %d" % op["lost_at_least"] in done[-1]
          and "as of the probe of db1 at" in done[-1]
          and "semi-sync had fallen back to asynchronous commits on db1" in done[-1]
          and op["at_risk"] in done[-1], "the event says it plainly: %s" % done[-1:])
    say("failover: at risk %s (%d), at least %d lost as of %s"
        % (op["at_risk"], op["at_risk_count"], op["lost_at_least"], op["lost_as_of"]))
    last = d.cluster()["last_operation"]
    check(last["lost_at_least"] == op["lost_at_least"] and last["lost_as_of"] == op["lost_as_of"],
          "status shows the bound: %s" % last)
    hist = d.ctl("history")[1]["operations"][0]
    check(hist["lost_at_least"] == op["lost_at_least"] and hist["at_risk"] == op["at_risk"],
          "history shows the bound: %s" % hist)
    env = open(d.hook_env).read() if os.path.exists(d.hook_env) else ""
    check("FAILOVERD_LOST_AT_LEAST=%d\n" % op["lost_at_least"] in env
          and "FAILOVERD_LOST_AS_OF=%s\n" % op["lost_as_of"] in env,
          "the post_failover hook got the bound in its environment:\n%s" % env)

    lab.heal()
    lab.wait_acks(30, server_id=lab.node(new).server_id)
    acks = lab.writer_acks()
    v = lab.writer_verify()
    check(v["primary"] == new and v["lost"], "acknowledged writes were lost: %s" % v)
    acked_at = {str(a[1]): a[0] / 1e6 for a in acks}
    since = epoch(op["semisync_off_since"])
    early = [i for i in v["lost"] if acked_at.get(str(i), 0) < since]
    check(not early, "every lost write was acknowledged after %s: %s" % (op["semisync_off_since"],
                                                                       early[:5]))
    say("%d acknowledged writes lost (bound said at least %d)" % (len(v["lost"]),
                                                                 op["lost_at_least"]))

    # db1 comes back: its extra transactions, exactly, go into the failover's history.
    lab.start("db1")
    wait_for(lambda: d.events().get("node_errant"), 60, what="node_errant for db1")
    wait_for(lambda: d.ctl("history")[1]["operations"][0].get("lost_exact_count"), 15,
             what="the exact loss in the history")
    hist = d.ctl("history")[1]["operations"][0]
    rows_old = {r["id"] for r in lab.query("db1", "SELECT id FROM lab.writes")}
    rows_new = {r["id"] for r in lab.query(new, "SELECT id FROM lab.writes")}
    extra = rows_old - rows_new
    check(hist["lost_exact_count"] == len(extra) and hist.get("lost_exact")
          and hist.get("lost_exact_found") and {str(i) for i in v["lost"]} <= {str(i) for i in extra},
          "the exact set: %s (db1 holds %d rows %s lacks; checker: %d acknowledged lost)"
          % (hist, len(extra), new, len(v["lost"])))
    check(op["lost_at_least"] <= len(extra) and op["at_risk_count"] <= len(extra),
          "the failover's figures were lower bounds: at least %d, at risk %d; %d lost"
          % (op["lost_at_least"], op["at_risk_count"], len(extra)))
    if flavor == "mariadb":
        check(".." in hist["lost_exact"], "a range: %s" % hist["lost_exact"])
    text = " ".join(d.ctl_text("history").stdout.split())
    check("lost at least %d, as of the probe of db1" % op["lost_at_least"] in text
          and "lost exactly %d" % hist["lost_exact_count"] in text,
          "failoverctl history says both:\n%s" % text)
    say("db1 back: exactly %d transactions (%s) recorded in the history"
        % (hist["lost_exact_count"], hist["lost_exact"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("durability-" + flavor[:2]),
                       semisync=True, semisync_timeout_ms=SEMISYNC_MS) as lab, \
            fokit.Daemon(lab, vip_plugin=True) as d:
        d.hook_env = os.path.join(d.dir, "hook-env")
        d.write_config(cluster_extra='    hooks = { post_failover = "%s %s"; };'
                       % (os.path.join(fokit.HOOKS, "env-dump"), d.hook_env))
        d.start()
        d.wait_verdict("healthy")
        lab.writer_start(through="vip")
        lab.wait_acks(50)
        part = os.environ.get("DURABILITY_PART")   # "1" or "2": one part only
        if part != "2":
            fallback_and_heal(lab, d, say)
        if part != "1":
            killed_during_fallback(lab, d, flavor, say)
        check(d.stop() == 0, "failoverd exits 0 on SIGTERM")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
