#!/usr/bin/env python3
"""The rollback path: the candidate fails mid-way, after the old primary was
made read-only and before the promotion; on both flavors, under write load.

The candidate db2 is held in the middle of the switchover: a session on db2
holds a lock that its applier needs (LOCK TABLES lab.writes READ), so db2
keeps receiving but cannot apply the writes that follow. switchover_lag_max
is generous, so the lag check passes; db1 is made read-only, its GTID state
captured, and the sync wait on db2 cannot end.
  1. The sync wait times out (--timeout 3): the switchover is rolled back.
  2. The same, but db2 is hung (SIGSTOP) during the sync wait: the wait gets
     no answer at all and ends by its deadline; the rollback cannot reach db2
     and says so.
Each time: exit 1 with the reason, db1 writable again and the only writable
node, the VIP not moved, the checker's writes acknowledged by db1 again; once
db2 is released (SIGCONT, lock released) every node replicates from db1 and
has what it has. The checker: nothing lost, never two writable nodes."""
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def writable(lab):
    return [n.name for n in lab.nodes if not n.stopped and lab.state(n)["writable"]]


class Hold:
    """A session on node holding a lock that the replicated inserts into
    lab.writes wait for: a table read lock (allowed on a read-only replica,
    where MySQL refuses locking reads)."""

    def __init__(self, lab, node):
        argv, env = lab.client_argv(node, "root")
        self.p = subprocess.Popen(argv + ["--batch", "--unbuffered"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  env={**os.environ, **env})
        self.p.stdin.write("LOCK TABLES lab.writes READ;\nSELECT 'lock held' AS hold;\n")
        self.p.stdin.flush()
        # The client starts and takes the lock on its own time: wait until it
        # says so, or a loaded machine lets the switchover through unheld.
        deadline = time.monotonic() + 20
        seen = ""
        while "lock held" not in seen:
            left = deadline - time.monotonic()
            check(left > 0 and self.p.poll() is None, "the lock on %s: %r" % (node, seen))
            ready, _, _ = select.select([self.p.stdout], [], [], left)
            if ready:
                seen += os.read(self.p.stdout.fileno(), 4096).decode(errors="replace")

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("UNLOCK TABLES;\n")
            self.p.stdin.close()
            self.p.wait(20)


def replicating_from(lab, source):
    src = lab.node(source)
    g = lab.gtid(src)
    for n in lab.nodes:
        if n is src:
            continue
        r = lab.state(n)["replica"] or {}
        if (r.get("source_host"), r.get("io_running"), r.get("sql_running")) != \
                (src.address, "Yes", "Yes"):
            raise labkit.LabError("%s: %s" % (n.name, r))
        if not lab.wait_gtid(n, g, timeout=20):
            raise labkit.LabError("%s did not catch up" % n.name)
    return True


def held_switchover(lab, d, hang):
    """Starts the switchover to db2 with db2's applier held; with hang, db2 is
    SIGSTOPped once the sync wait runs. Returns (CompletedProcess, seconds)."""
    hold = Hold(lab, "db2")
    lab.wait_acks(10)        # writes now queue behind the lock on db2
    argv = [fokit.FAILOVERCTL, "-s", d.sock, "switchover", "main", "--to", "db2",
            "--timeout", "3"]
    t0 = time.monotonic()
    sw = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if hang:
            wait_for(lambda: (d.cluster()["failover"] or {}).get("step") == "sync:db2", 10,
                     interval=0.02, what="the sync wait on db2")
            lab.stop("db2")
        out, err = sw.communicate(timeout=60)
    finally:
        if sw.poll() is None:
            sw.kill()
            sw.wait()
    took = time.monotonic() - t0
    # Right after the reply: db1 is writable again, nothing else is.
    check(writable(lab) == ["db1"], "db1 the only writable node after the rollback")
    if hang:
        lab.cont("db2")
    hold.release()
    return subprocess.CompletedProcess(argv, sw.returncode, out, err), took


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("sw52-" + flavor)) as lab:
        extra = fokit.vip_hook(lab) + '\n    switchover_lag_max = "60s";'
        with fokit.Daemon(lab, cluster_extra=extra) as d:
            d.start()
            lab.writer_start(through="vip", rate=100)
            lab.wait_acks(30)

            # 1. The sync wait runs out.
            p, took = held_switchover(lab, d, hang=False)
            check(p.returncode == 1, "exit 1: %s %s" % (p.returncode, p.stderr))
            said = fokit.squash(p.stderr)
            check("sync:db2" in said and "timed out" in said
                  and "db1 is the primary and writable again" in said
                  and "traffic was not moved" in said, "the reason: %s" % p.stderr)
            check("block_writes:db1" in p.stdout and "FAILED" in p.stdout, p.stdout)
            check(lab.vip_holders() == ["db1"], "the VIP stayed on db1")
            lab.wait_acks(20, server_id=lab.node("db1").server_id)
            wait_for(lambda: replicating_from(lab, "db1"), 30, interval=0.2,
                     what="every node replicating from db1 again")
            say("sync timed out after %.1f s: rolled back, db1 writable, all replicating" % took)

            # 2. The candidate hangs during the sync wait.
            p, took = held_switchover(lab, d, hang=True)
            check(p.returncode == 1, "exit 1: %s %s" % (p.returncode, p.stderr))
            said = fokit.squash(p.stderr)
            check("sync:db2" in said and "db1 is the primary and writable again" in said,
                  "the reason: %s" % p.stderr)
            lab.wait_acks(20, server_id=lab.node("db1").server_id)
            wait_for(lambda: replicating_from(lab, "db1"), 30, interval=0.2,
                     what="every node replicating from db1 again")
            say("hung candidate: rolled back after %.1f s: %s" % (took, p.stderr.splitlines()[0]))

            rb = d.events().get("switchover_rolled_back", [])
            check(len(rb) == 2, "two rollbacks reported: %s" % rb)
            hist = d.ctl("history", "main")[1]["operations"]
            check([h.get("rolled_back") for h in hist] == [True, True], str(hist))
            v = lab.writer_verify()
            check(v["primary"] == "db1" and v["ok"] and not v["lost"] and not v["split_brain"],
                  "nothing lost, never two writable nodes: %s" % v)
            check(d.stop() == 0, "failoverd stops cleanly")
            say("%d acked, none lost; longest gap %s ms" % (v["acked"], v["max_gap_ms"]))


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
