#!/usr/bin/env python3
"""The lab command's etcd and manager verbs (docs/lab.md), end to end.

`lab etcd up` starts three members and `lab manager start` three managers;
their status says one member leads raft and one manager leads the cluster.
The raft leader partitioned: `etcd status` shows it cut off and another
member leads; healed. The leading manager cut off etcd (`cut-etcd`): it says
no-quorum and another manager leads; healed, it follows. A manager paused
shows as paused and continues. Then the leading manager is killed together
with the primary under the write checker: another manager fails over, one
node is writable, no acknowledged write is lost. `lab down` leaves no
member, manager or forwarder running.

The verbs do not depend on the server: MariaDB by default, any flavor as an
argument."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

LAB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab", "lab")


def lab_cmd(name, *args, json_out=False):
    argv = [LAB] + list(args) + ["--name", name] + (["--json"] if json_out else [])
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "lab %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                     p.stderr.strip()[-500:]))
    return json.loads(p.stdout) if json_out else p.stdout


def etcd_rows(name):
    return lab_cmd(name, "etcd", "status", json_out=True)


def managers(name):
    return lab_cmd(name, "manager", "status", json_out=True)


def one_leader(name, among=None):
    """The id of the one manager that leads, once every running manager
    (of `among`) names it."""
    def ok():
        rows = [r for r in managers(name) if r["process"] == "running" and
                (among is None or r["manager"] in among)]
        lead = [r["manager"] for r in rows if r.get("role") == "leader"]
        return lead[0] if len(lead) == 1 and all(r.get("leader") == lead[0] for r in rows) \
            else None
    return wait_for(ok, 30, interval=0.2, what="one manager leading, named by the others")


def etcd_faults(name, say):
    rows = etcd_rows(name)
    check(len(rows) == 3 and all(r["process"] == "running" for r in rows),
          "three etcd members run: %s" % rows)
    raft = wait_for(lambda: [r["name"] for r in etcd_rows(name) if r.get("leader")], 20,
                    what="an etcd raft leader")[0]
    lab_cmd(name, "etcd", "partition", raft)
    wait_for(lambda: [r["name"] for r in etcd_rows(name)
                      if r.get("leader") and r["name"] != raft], 30, interval=0.3,
             what="another etcd member to lead once %s is partitioned" % raft)
    cut = next(r for r in etcd_rows(name) if r["name"] == raft)
    check(cut["partitioned"] and "raft_term" not in cut,
          "the partitioned member answers nothing: %s" % cut)
    one_leader(name)
    lab_cmd(name, "etcd", "heal", raft)
    wait_for(lambda: all("raft_term" in r and not r["partitioned"] for r in etcd_rows(name)), 30,
             interval=0.3, what="every etcd member to answer after the heal")
    say("etcd member %s partitioned and healed; the managers kept one leader" % raft)


def manager_faults(name, say):
    lead = one_leader(name)
    n = lead[1:]
    lab_cmd(name, "manager", "cut-etcd", n)
    wait_for(lambda: next(r for r in managers(name) if r["manager"] == lead).get("role")
             == "no-quorum", 20, interval=0.2, what="%s, cut off etcd, to say no-quorum" % lead)
    new = one_leader(name, among=[r["manager"] for r in managers(name) if r["manager"] != lead])
    check(new != lead, "another manager leads")
    row = next(r for r in managers(name) if r["manager"] == lead)
    check(row["etcd_cut"], "status shows %s cut off etcd: %s" % (lead, row))
    lab_cmd(name, "manager", "heal-etcd", n)
    wait_for(lambda: next(r for r in managers(name) if r["manager"] == lead).get("role")
             == "follower", 20, interval=0.2, what="%s, healed, to follow" % lead)
    other = next(r["manager"] for r in managers(name) if r["manager"] not in (lead, new))
    lab_cmd(name, "manager", "pause", other[1:])
    check(next(r for r in managers(name) if r["manager"] == other)["process"] == "paused",
          "%s shows as paused" % other)
    lab_cmd(name, "manager", "cont", other[1:])
    one_leader(name)
    say("%s cut off etcd: %s took over; %s paused and continued" % (lead, new, other))


def leader_and_primary(lab, name, say):
    lead = one_leader(name)
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab_cmd(name, "manager", "kill", lead[1:])
    lab.kill("db1")
    rest = [r["manager"] for r in managers(name) if r["manager"] != lead]
    new = one_leader(name, among=rest)
    wait_for(lambda: len(fokit.writable_nodes(lab)) == 1, 60, interval=0.2,
             what="a new primary after the leader %s and db1 were killed" % lead)
    primary = fokit.writable_nodes(lab)[0]
    lab.wait_acks(50, server_id=lab.node(primary).server_id)
    fokit.wait_topology(lab, primary)
    v = lab.writer_verify()
    check(v["primary"] == primary and v["lost"] == [] and not v["split_brain"] and v["ok"],
          "no acknowledged write lost: %s" % v)
    check(next(r for r in managers(name) if r["manager"] == new)["primary"] == primary,
          "the new leader %s names the primary %s" % (new, primary))
    say("%s and db1 killed: %s promoted %s; %d acked, none lost" % (lead, new, primary, v["acked"]))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    name = labkit.unique_name("hav-" + flavor)
    pids = []
    with labkit.Lab.up(flavor, 3, name=name, semisync=True) as lab:
        lab_cmd(name, "etcd", "up")
        lab_cmd(name, "manager", "start")
        etcd_faults(name, say)
        manager_faults(name, say)
        leader_and_primary(lab, name, say)
        pids = [r["pid"] for r in etcd_rows(name) + managers(name)]
        for r in managers(name):
            with open(os.path.join(r["dir"], "proxies.json")) as f:
                pids += json.load(f)["pids"]         # the manager's forwarders to etcd
        lab_cmd(name, "manager", "stop")
        check(all(r["process"] == "dead" for r in managers(name)), "lab manager stop ends them")
        lab_cmd(name, "manager", "start", "1")
        pids += [r["pid"] for r in managers(name)]
    left = [p for p in pids if labkit.pid_alive(p)]
    check(left == [], "lab down ended every member, manager and forwarder: %s run" % left)
    check(not any(labkit.leftovers(name).values()), "nothing of the lab is left")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or ("mariadb",))])
