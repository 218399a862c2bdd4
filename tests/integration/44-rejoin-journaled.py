#!/usr/bin/env python3
"""The rejoin's statements are run by the executor and journaled; a rejoin a
daemon died in is closed as abandoned at the next start, never taken for an
interrupted failover.

Both flavors: db1 killed and failed over to db2, then started again
(read-only, as the lab's servers start); auto_rejoin is on.

1. db1 rejoins (node_rejoined, it replicates from db2). The journal holds the
   rejoin as an operation of kind "rejoin" of its own: begin (node db1), the
   phases comparing, rejoining and verifying entered and left, every
   statement as a step journaled before it ran and done after (capture:db1,
   capture:db2, rejoin:db1, verify:db1), and done with the phase rejoined. The
   failover's own plan phases have records too (phase preparing, promoting).
   `failoverctl history` lists the failover only.
2. The daemon is stopped and a rejoin left open is appended to the journal,
   as a daemon that died in the middle of its rejoin:db3 step leaves it.
   Restarted, the daemon closes it (aborted, abandoned, with its phase and
   step), reports nothing interrupted (status: no failover in flight or
   interrupted, the verdict healthy), and still acts: db1, made writable by
   hand, is fenced (node_fenced)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, writable_nodes  # noqa: E402


def replica(lab, node):
    return lab.state(node)["replica"] or {}


def rejoin_ops(d):
    ops = {}
    for r in d.journal_all():
        if r.get("kind") == "rejoin":
            ops.setdefault(r["op"], []).append(r)
    return ops


def check_rejoin_records(d):
    """The rejoin of db1, as the journal has it."""
    ops = [recs for recs in rejoin_ops(d).values()
           if recs[0].get("type") == "begin" and recs[0].get("node") == "db1"
           and recs[-1].get("type") == "done"]
    check(ops, f"a finished rejoin of db1 in the journal: {rejoin_ops(d)}")
    recs = ops[-1]
    seq = [(r["type"], r.get("phase") or r.get("left") or r.get("step")) for r in recs]
    want = [("begin", None), ("phase", "comparing"),
            ("step", "capture:db1"), ("step_done", "capture:db1"),
            ("step", "capture:db2"), ("step_done", "capture:db2"),
            ("phase_left", "comparing"), ("phase", "rejoining"),
            ("step", "rejoin:db1"), ("step_done", "rejoin:db1"),
            ("phase_left", "rejoining"), ("phase", "verifying"),
            ("step", "verify:db1"), ("step_done", "verify:db1"),
            ("phase_left", "verifying"), ("done", "rejoined")]
    check(seq == want, f"the rejoin's records, in order:\n{seq}\nwant\n{want}")
    step = [r for r in recs if r["type"] == "step" and r["step"] == "rejoin:db1"][0]
    check("db2" in step.get("sql", "") or "MASTER_HOST" in step.get("sql", "").upper()
          or "SOURCE_HOST" in step.get("sql", "").upper(),
          f"the rejoin step journals its statement: {step}")
    return recs[0]["op"]


def scenario(flavor):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"rejoin-j-{flavor[:2]}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer"},
                         cluster_extra="    auto_rejoin = true;") as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(20)
        lab.writer_stop()
        lab.kill("db1")
        d.wait_event("failover_done", timeout=60)
        check(writable_nodes(lab) == ["db2"], f"db2 alone writable: {writable_nodes(lab)}")
        lab.vip_move("db2")
        fo = d.operations()[-1]
        phases = [r.get("phase") for r in d.op_records(fo["op"]) if r["type"] == "phase"]
        check(phases[:2] == ["preparing", "promoting"] or phases == ["preparing", "promoting"],
              f"the failover's plan phases are journaled: {phases}")

        # 1. db1 comes back read-only and rejoins through the executor.
        lab.start("db1")
        d.wait_event("node_rejoined", timeout=60)
        r1 = replica(lab, "db1")
        check(r1.get("source_host") == lab.node("db2").address and r1.get("io_running") == "Yes"
              and r1.get("sql_running") == "Yes", f"db1 should replicate from db2: {r1}")
        op = check_rejoin_records(d)
        hist = d.ctl("history")[1]["operations"]
        check([h["op"] for h in hist] == [fo["op"]] and op not in json.dumps(hist),
              f"history lists the failover only: {hist}")

        # 2. A rejoin left open by a daemon that died in its rejoin:db3 step.
        d.stop()
        last = d.journal_all()[-1]
        open_op = "ffff-open-rejoin"
        lines = [{"type": "begin", "node": "db3", "primary": "db2", "action": "check"},
                 {"type": "phase", "phase": "comparing", "node": "db3"},
                 {"type": "phase_left", "left": "comparing", "next": "rejoining", "node": "db3"},
                 {"type": "phase", "phase": "rejoining", "node": "db3"},
                 {"type": "step", "step": "rejoin:db3", "node": "db3"}]
        with open(os.path.join(d.state, "journal.jsonl"), "a") as f:
            for i, extra in enumerate(lines):
                rec = {"seq": last["seq"] + 1 + i, "time": last["time"], "cluster": "main",
                       "op": open_op, "kind": "rejoin"}
                rec.update(extra)
                f.write(json.dumps(rec) + "\n")
        d.start()
        labkit.wait_for(lambda: any(r.get("op") == open_op and r.get("type") == "aborted"
                                    for r in d.journal_all()), 30,
                        what="the open rejoin to be closed as abandoned")
        ab = [r for r in d.journal_all() if r.get("op") == open_op and r["type"] == "aborted"][0]
        check(ab.get("abandoned") is True and ab.get("node") == "db3"
              and ab.get("phase") == "rejoining" and ab.get("step") == "rejoin:db3",
              f"closed as abandoned, with its phase and step: {ab}")
        check("failover_interrupted" not in d.events(),
              "an open rejoin is not an interrupted failover")
        labkit.wait_for(lambda: d.cluster().get("verdict") == "healthy", 30,
                        what="the cluster to be healthy (not held)")
        fo_st = d.cluster().get("failover") or {}
        check(fo_st.get("state") != "interrupted", f"nothing interrupted: {fo_st}")
        check(replica(lab, "db3").get("source_host") == lab.node("db2").address,
              "db3 still replicates from db2")

        # The daemon still acts on the cluster: a writable db1 is fenced.
        t0 = time.time()
        lab.sql("db1", "SET GLOBAL read_only = OFF")
        labkit.wait_for(lambda: lab.value("db1", "SELECT @@read_only") == "1", 20,
                        what="failoverd to fence db1 again")
        d.wait_event("node_fenced")
        check(writable_nodes(lab) == ["db2"], f"db2 alone writable: {writable_nodes(lab)}")
        fences = [recs for recs in rejoin_ops(d).values()
                  if recs[0].get("action") == "fence" and recs[-1].get("type") == "done"]
        check(fences and any(r.get("step") == "fence:db1" for r in fences[-1]),
              f"the fence is journaled as a rejoin action: {rejoin_ops(d)}")
        print(f"{flavor}: rejoin journaled ({op}), open rejoin closed as abandoned, "
              f"db1 fenced again in {time.time() - t0:.2f} s")


def main():
    for flavor in sys.argv[1:] or labkit.ALL_FLAVORS:
        scenario(flavor)


fokit.run_main(main)
