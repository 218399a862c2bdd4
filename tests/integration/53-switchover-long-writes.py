#!/usr/bin/env python3
"""Long-running writes on the old primary during a switchover, on both flavors.

An application session (the writer account) runs a write that takes seconds
(INSERT ... SELECT ..., SLEEP(n)) on db1 when the switchover starts; making
db1 read-only has to wait for it.
  1. long_writes = "wait", long_writes_timeout = 1s: the switchover gives up
     after about a second and rolls back, exit 1, naming the session and its
     statement. db1 is writable at once, and stays so (the stopped read_only
     never takes effect later); the long write is not killed: it completes and
     its row reaches every node.
  2. After a reload with long_writes = "kill", long_writes_timeout = 300ms:
     the session still writing after 300 ms is killed (its client sees the
     connection die, its row is nowhere), a long_writes_killed event names it,
     and the switchover completes: db2 is the primary. The write checker,
     through the VIP the whole time: nothing lost, never two writable nodes."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def long_write(lab, row_id, seconds):
    """Starts the slow insert of row_id on db1 as the writer account; returns
    the client process once the statement runs on the server."""
    argv, env = lab.client_argv("db1", "writer")
    p = subprocess.Popen(argv + ["--batch", "-e",
                                 "INSERT INTO lab.writes (id, sent_us, origin) "
                                 "SELECT %d, SLEEP(%d), 0" % (row_id, seconds)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, **env})
    wait_for(lambda: lab.value("db1", "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                      "WHERE INFO LIKE 'INSERT INTO lab.writes%%SLEEP%%'") == "1",
             10, what="the long write to run on db1")
    return p


def rows(lab, node, row_id):
    return int(lab.value(node, "SELECT COUNT(*) FROM lab.writes WHERE id = %d" % row_id))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("sw53-" + flavor)) as lab:
        base = fokit.vip_hook(lab)
        d = fokit.Daemon(lab, cluster_extra=base + '\n    long_writes = "wait"; '
                                                   'long_writes_timeout = "1s";')
        with d:
            d.start()
            lab.writer_start(through="vip", rate=100)
            lab.wait_acks(30)

            # 1. wait: give up after long_writes_timeout, roll back, kill nothing.
            slow = long_write(lab, 1, 5)
            t0 = time.monotonic()
            p = d.ctl_text("switchover", "main", "--to", "db2")
            took = time.monotonic() - t0
            check(p.returncode == 1, "exit 1: %s %s" % (p.returncode, p.stderr))
            said = fokit.squash(p.stderr)
            check("writes still running on db1" in said and "long_writes = wait" in said
                  and "writer@" in said and "SLEEP(5)" in said,
                  "the message names the long write: %s" % p.stderr)
            check(lab.state("db1")["writable"] and not lab.state("db2")["writable"],
                  "db1 writable right after the rollback")
            lab.wait_acks(20, server_id=lab.node("db1").server_id)
            out = slow.communicate(timeout=20)[0]
            check(slow.returncode == 0, "the long write was not killed: %s" % out)
            check(lab.state("db1")["writable"], "db1 still writable once the long write ended")
            g = lab.gtid("db1")
            for n in ("db2", "db3"):
                check(lab.wait_gtid(n, g, 20), "%s caught up" % n)
                check(rows(lab, n, 1) == 1, "the long write's row reached %s" % n)
            say("wait: gave up after %.1f s and rolled back; the long write completed" % took)

            # 2. kill: reload, then the long write is killed and the switchover goes on.
            d.write_config(cluster_extra=base + '\n    long_writes = "kill"; '
                                                'long_writes_timeout = "300ms";')
            d.signal(signal.SIGHUP)
            d.wait_event("config_reloaded")
            slow = long_write(lab, 2, 30)
            rc, op = d.ctl("switchover", "main", "--to", "db2", check=False, timeout=60)
            check(rc == 0 and op["new_primary"] == "db2", "the switchover succeeds: %s %s"
                  % (rc, op))
            out = slow.communicate(timeout=20)[0]
            check(slow.returncode != 0, "the long write's session was killed: %s" % out)
            ev = d.wait_event("long_writes_killed")
            check("writer@" in ev[-1] and "SLEEP(30)" in ev[-1], "the event names it: %s" % ev)
            bw = next(s for s in op["steps"] if s["name"] == "block_writes:db1")
            lab.wait_acks(30, server_id=lab.node("db2").server_id)
            for n in ("db1", "db2", "db3"):
                check(rows(lab, n, 2) == 0, "the killed write left no row on %s" % n)
            v = lab.writer_verify()
            check(v["ok"] and not v["lost"] and not v["split_brain"],
                  "nothing lost, never two writable nodes: %s" % v)
            check(d.stop() == 0, "failoverd stops cleanly")
            say("kill: the long write killed after %d ms, switchover done in %s ms"
                % (bw["ms"], op["duration_ms"]))


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
