#!/usr/bin/env python3
"""The journal promise, with the state directory on a small tmpfs of its own
that the test fills up, in a 3-node semi-sync lab with the write checker
writing through the VIP; both flavors.

1. The state directory is full: a switchover is refused before anything
   happens (its `begin` can't be made durable): db1 stays the writable
   primary with the VIP, the cluster reads 'unknown' in status with the
   reason, and an acknowledgement is refused too while nothing can be
   written. Space back: the ack is journaled and the cluster is healthy.
2. The state directory fills up during a switchover (its switchover_before
   hook fills it, leaving room for the records of the hook and the lag check
   only): the record of block_writes can't be made durable, so it and no
   later step runs: the switchover stops with "nothing was changed", the old
   primary still the one writable node with the VIP. Restarted with space
   back, the daemon reports the operation as interrupted (its end was never
   written), holds the cluster until acknowledged, then switches over.
3. A damaged line at start: the journal's last switchover is cut as a crash
   in the middle of its `begin` would leave it, with steps after it and no
   end. The restarted daemon holds the cluster ('state unknown', naming the
   line; the operation reported interrupted, not forgotten), and when the
   primary then dies it does not fail over automatically (failover_blocked)
   until the operator acknowledges; then it does, and nothing acknowledged is
   lost."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, squash, wait_topology, writable_nodes  # noqa: E402


def fill(path):
    """Writes zeros to path until the file system is full."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
    # The last bytes: a partial block may still have fitted.
    with open(path, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass


def fill_hook(tmp, state):
    """A switchover_before hook that fills the state directory once (when the
    file `arm` exists)."""
    path = os.path.join(tmp, "fill-state")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f"[ -e {tmp}/arm ] || exit 0\n"
                f"rm -f {tmp}/arm\n"
                f"head -c 100000000 /dev/zero > {state}/fill 2>/dev/null\n"
                "exit 0\n")
    os.chmod(path, 0o755)
    return path


def unknown(d):
    c = d.cluster()
    return c if c["verdict"] == "unknown" and c.get("state_unknown") else None


def scenario(flavor):
    tmp = tempfile.mkdtemp(prefix="failoverd-37-")
    state = os.path.join(tmp, "state")
    os.makedirs(state)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0750", "tmpfs", state],
                   check=True)
    try:
        with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"journal-j37-{flavor[:2]}"),
                           semisync=True) as lab:
            hooks = '    hooks = { post_promotion = "%s %s"; switchover_before = "%s"; };' % (
                os.path.join(fokit.HOOKS, "lab-vip"), lab.name, fill_hook(tmp, state))
            with fokit.Daemon(lab, workdir=tmp, cluster_extra=hooks) as d:
                run(lab, d, tmp, state, flavor)
    finally:
        subprocess.run(["umount", state], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def run(lab, d, tmp, state, flavor):
    say = labkit.log
    lab.vip_move("db1")
    d.start()
    lab.writer_start(through="vip")
    lab.wait_acks(20)
    db1 = lab.node("db1").server_id

    # 1. Full before the switchover: refused, nothing done.
    fill(os.path.join(state, "fill"))
    before = len(d.journal())
    rc, out = d.ctl("switchover", "main", "--to", "db2", check=False, timeout=60)
    said = squash(json.dumps(out))
    check(rc != 0 and "journal" in said and "nothing was done" in said,
          f"the switchover must be refused for the journal: {rc} {said}")
    check(len(d.journal()) == before, "nothing was journaled")
    check(writable_nodes(lab) == ["db1"] and lab.vip_holders() == ["db1"],
          f"db1 still the primary with the VIP: {writable_nodes(lab)} {lab.vip_holders()}")
    lab.wait_acks(10, server_id=db1)
    c = labkit.wait_for(lambda: unknown(d), 10, what="status: state unknown")
    check("journal" in c["verdict_reason"] and "ack" in c["verdict_reason"],
          f"the reason says what and what to do: {c['verdict_reason']}")
    d.wait_event("journal_write_failed")
    d.wait_event("state_unknown")
    rc, out = d.ctl("ack", "main", check=False)
    check(rc != 0 and "could not be journaled" in squash(json.dumps(out)),
          f"an ack that can't be journaled is refused: {rc} {out}")
    check(unknown(d), "still unknown after the refused ack")
    os.unlink(os.path.join(state, "fill"))
    d.ctl("ack", "main")
    labkit.wait_for(lambda: d.cluster()["verdict"] == "healthy", 10, what="healthy after the ack")
    say(f"{flavor}: full state directory: switchover refused, nothing done, held until acked")

    # 2. Full during the switchover: it stops, nothing changed. A normal
    # switchover first, to measure its records.
    d.ctl("switchover", "main", "--to", "db2", timeout=90)
    wait_topology(lab, "db2", timeout=40)
    recs = [l for l in open(os.path.join(state, "journal.jsonl"), "rb").read().splitlines(True)]
    op = json.loads(recs[-1])["op"]
    mine = [l for l in recs if json.loads(l)["op"] == op]
    names = [(json.loads(l)["type"], json.loads(l).get("step")) for l in mine]
    steps = [n for n in names if n[0] not in ("phase", "phase_left")]
    check(steps[:6] == [("begin", None), ("step", "hook:switchover_before"),
                        ("step_done", "hook:switchover_before"), ("step", "check_lag:db2"),
                        ("step_done", "check_lag:db2"), ("step", "block_writes:db1")],
          f"the switchover's first records: {names[:8]}")
    # Room for the records of the next switchover before its block_writes
    # step (its phase records included) and not for that step's: the journal
    # is padded (blanks after its last record) so that its last page has just
    # that room; the hook fills every other page of the file system.
    k = names.index(("step", "block_writes:db1"))
    room = sum(len(l) for l in mine[:k]) + min(150, len(mine[k]) // 2)
    check(room < 4096, f"the records fit in a page: {room}")
    check(d.stop() == 0, "failoverd stops cleanly")
    path = os.path.join(state, "journal.jsonl")
    size = os.path.getsize(path)
    pad = (4096 - room - size) % 4096
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:-1] + b" " * pad + b"\n")
    d.start()
    lab.wait_acks(10, server_id=lab.node("db2").server_id)
    open(os.path.join(tmp, "arm"), "w").close()
    rc, out = d.ctl("switchover", "main", "--to", "db1", check=False, timeout=90)
    said = squash(json.dumps(out))
    check(rc != 0 and "journal" in said and "nothing was changed" in said,
          f"the switchover must stop for the journal, saying nothing changed: {rc} {said}")
    check(writable_nodes(lab) == ["db2"] and lab.vip_holders() == ["db2"],
          f"db2 still the primary with the VIP: {writable_nodes(lab)} {lab.vip_holders()}")
    lab.wait_acks(10, server_id=lab.node("db2").server_id)
    recs = d.journal()
    ran = [r["step"] for r in recs if r.get("type") == "step" and r["op"] == recs[-1]["op"]]
    check(ran == ["hook:switchover_before", "check_lag:db1"],
          f"no step after the full state directory was journaled or run: {ran}")
    check(unknown(d), "held: the end of the switchover could not be journaled")
    d.wait_event("journal_write_failed", count=2)
    os.unlink(os.path.join(state, "fill"))
    check(d.stop() == 0, "failoverd stops cleanly")
    d.start()
    ev = d.wait_event("failover_interrupted")[-1]
    check("check_lag:db1" in ev and "nothing had been promoted" in ev,
          f"the interrupted switchover is reported: {ev}")
    check(d.cluster()["verdict"] == "unknown", "not healthy while interrupted")
    d.ctl("ack", "main")
    d.ctl("switchover", "main", "--to", "db1", timeout=90)
    wait_topology(lab, "db1", timeout=40)
    labkit.wait_for(lambda: lab.vip_holders() == ["db1"], 10, what="the VIP on db1")
    say(f"{flavor}: filled mid-switchover: stopped with nothing changed; after a restart "
        "reported, acked, switched over")

    # 3. A damaged begin in the middle of the journal.
    check(d.stop() == 0, "failoverd stops cleanly")
    path = os.path.join(state, "journal.jsonl")
    lines = open(path).read().splitlines(keepends=True)
    op = json.loads(lines[-1])["op"]
    first = next(i for i, l in enumerate(lines) if json.loads(l).get("op") == op)
    check(json.loads(lines[first])["type"] == "begin", "the switchover starts with its begin")
    lines[first] = lines[first][:len(lines[first]) // 2] + "\n"
    while json.loads(lines[-1]).get("type") != "step":
        lines.pop()                    # as if the daemon died during its last step
    with open(path, "w") as f:
        f.writelines(lines)
    d.start()
    c = labkit.wait_for(lambda: unknown(d), 10, what="status: state unknown")
    check(f"line {first + 1}" in c["state_unknown"], f"the damaged line is named: {c}")
    check((c["failover"] or {}).get("state") == "interrupted",
          f"the operation after the damaged begin is not forgotten: {c['failover']}")
    d.wait_event("state_unknown")
    lab.kill("db1")
    blocked = d.wait_event("failover_blocked", timeout=30)[-1]
    check("state unknown" in blocked and "ack" in blocked, f"blocked, saying why: {blocked}")
    check(writable_nodes(lab) == [], f"no failover while held: {writable_nodes(lab)}")
    rc, out = d.ctl("ack", "main")
    check("failover starts" in out["message"], f"the ack lets the failover start: {out}")
    d.wait_event("failover_done", timeout=60)
    new = d.cluster()["last_operation"]["new_primary"]
    labkit.wait_for(lambda: writable_nodes(lab) == [new], 20, what=f"{new} promoted")
    v = lab.writer_verify()
    check(v["primary"] == new and not v["lost"] and not v["split_brain"],
          f"nothing acknowledged lost, never two writable: {v['lost_ranges']} {v['split_brain']}")
    check(d.stop() == 0, "failoverd stops cleanly")
    say(f"{flavor}: damaged begin: held, failover blocked until acked, then done to {new}; "
        f"{v['acked']} acked, none lost")


def main():
    for flavor in sys.argv[1:] or ["mariadb", "mysql"]:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
