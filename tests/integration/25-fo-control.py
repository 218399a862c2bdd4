#!/usr/bin/env python3
"""The operator's side of failovers, on both flavors, with the write checker on.

Four nodes: db2 prefer, db3 neutral, db4 must_not; auto_failover off.

1. `failoverctl plan main` is a dry run: the election with every candidate,
   the exclusion reasons (db4: must_not) and the steps, in JSON and as text
   for people; nothing changes.
2. db1 is killed. With auto_failover off nothing happens (failover_blocked
   says so, nothing becomes writable); `failoverctl failover main --to db4` is
   refused before anything is touched; `failoverctl failover main --to db3`
   promotes db3, not the preferred db2.
3. auto_failover on (reload). db3 is killed within failover_block of the last
   failover: the automatic failover is refused (failover_blocked), nothing
   becomes writable, until `failoverctl ack main`, which lets it run at once:
   db2 is promoted.
The data: no acknowledged write lost, one writable node at every step, the
last replica following the last primary, and `failoverctl history` telling
both operations."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

RULES = {"db2": "prefer", "db4": "must_not"}


def blocked_events(d):
    return [e for e in d.events().get("failover_blocked", []) if "no automatic failover" in e]


def begins(d):
    return [r for r in d.journal() if r["type"] == "begin"]


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 4, name=labkit.unique_name("fo25-" + flavor), semisync=True) as lab, \
            fokit.Daemon(lab, node_rules=RULES,
                         vip_plugin=True, cluster_extra="    auto_failover = false;") as d:
        d.start()
        # 1. The dry run.
        plan = d.ctl("plan", "main")[1]
        e = plan["election"]
        cands = {c["node"]: c for c in e["candidates"]}
        check(e["chosen"] == "db2" and set(cands) == {"db2", "db3", "db4"},
              "the plan elects db2 among db2-db4: %s" % e)
        check("must_not" in (cands["db4"]["excluded"] or "") and cands["db4"]["rank"] == 0
              and cands["db2"]["rank"] == 1 and not cands["db3"]["excluded"],
              "exclusions and ranks: %s" % cands)
        steps = [s["name"] for s in plan["prepare"]["steps"] + plan["plan"]["steps"]]
        for want in ("stop_io:db2", "fence:db1", "refresh", "promote:db2", "repoint:db3",
                     "repoint:db4"):
            check(want in steps, "the plan has %s: %s" % (want, steps))
        text = subprocess.run([fokit.FAILOVERCTL, "-s", d.sock, "plan", "main"],
                              capture_output=True, text=True, timeout=10)
        check(text.returncode == 0, "plan as text: %s" % text.stderr)
        for want in ("db2", "db3", "db4", "must_not", "promote"):
            check(want in text.stdout, "the text plan mentions %s:\n%s" % (want, text.stdout))
        check(fokit.writable_nodes(lab) == ["db1"] and not begins(d), "a dry run changes nothing")

        # 2. auto_failover off: the operator fails over, to the node of their choice.
        lab.writer_start(through="vip")
        lab.wait_acks(50)
        lab.kill("db1")
        d.wait_verdict("dead", timeout=20)
        wait_for(lambda: blocked_events(d), 10, what="failover_blocked for auto_failover off")
        check("auto_failover" in blocked_events(d)[-1], "it says why: %s" % blocked_events(d))
        time.sleep(2)
        check(not begins(d) and fokit.writable_nodes(lab) == [], "nothing happens by itself")
        rc, out = d.ctl("failover", "main", "--to", "db4", check=False)
        check(rc == 1 and "must_not" in str(out), "db4 is refused: %s %s" % (rc, out))
        check(not begins(d), "a refused request touches nothing")
        check(all((lab.state(n)["replica"] or {}).get("io_running") != "No"
                  for n in ("db2", "db3", "db4")), "the replicas' IO threads still run")
        rc, res = d.ctl("failover", "main", "--to", "db3", timeout=60)
        check(res["type"] == "done" and res["new_primary"] == "db3", "db3 promoted: %s" % res)
        check(lab.vip_holders() == ["db3"], "the VIP is on db3")
        lab.wait_acks(30, server_id=lab.node("db3").server_id)
        fokit.wait_topology(lab, "db3")

        # 3. failover_block and ack.
        d.write_config(cluster_extra="    auto_failover = true;")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.cluster()["auto_failover"], 10, what="the reload")
        check(d.cluster()["blocked_until"], "the last failover blocks the next: %s" % d.cluster())
        text = fokit.squash(d.ctl_text("status").stdout)
        check("automatic failover blocked until" in text and "failoverctl ack main" in text,
              "status says the automatic failover is blocked and how to lift it: %s" % text)
        text = fokit.squash(d.ctl_text("plan", "main").stdout)
        check("automatic failover blocked" in text and "failoverctl ack main" in text,
              "so does plan: %s" % text)
        n_blocked = len(blocked_events(d))
        lab.kill("db3")
        d.wait_verdict("dead", timeout=20)
        wait_for(lambda: len(blocked_events(d)) > n_blocked, 10, what="failover_blocked")
        check("failover_block" in blocked_events(d)[-1], "it says why: %s" % blocked_events(d)[-1])
        time.sleep(2)
        check(len(begins(d)) == 1 and fokit.writable_nodes(lab) == [],
              "no automatic failover within failover_block")
        d.ctl("ack", "main")
        op = d.wait_operation(2, timeout=40)
        check(op["type"] == "done" and op["new_primary"] == "db2", "after ack db2 is promoted: %s"
              % op)
        check(begins(d)[-1]["automatic"], "the second failover was automatic")
        check(lab.vip_holders() == ["db2"], "the VIP is on db2")
        lab.wait_acks(30, server_id=lab.node("db2").server_id)
        fokit.wait_topology(lab, "db2")
        v = lab.writer_verify()
        check(v["ok"] and v["primary"] == "db2" and v["lost"] == [] and not v["split_brain"],
              "nothing lost, never two writable nodes: %s" % v)
        hist = d.ctl("history", "main")[1]["operations"]
        check([(h["state"], h["new_primary"], h["automatic"]) for h in hist]
              == [("done", "db2", True), ("done", "db3", False)],
              "history: %s" % hist)
        check(hist[1].get("acknowledged"), "the first failover was acknowledged: %s" % hist)
        say("plan, manual failover to db3, block and ack, automatic failover to db2; "
            "%d acked, none lost" % v["acked"])


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
