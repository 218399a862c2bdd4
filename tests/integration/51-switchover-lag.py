#!/usr/bin/env python3
"""A lagging candidate is refused, or waited for, per switchover_lag_max and
the switchover's timeout; on both flavors, under write load through the VIP.

1. db2's SQL thread is stopped (lab lag): it receives but applies nothing.
   `switchover main --to db2 --timeout 2` must give up at the lag check and
   roll back: exit 1 with a message naming the step and the reason, a
   switchover_rolled_back event, db1 still the only writable node and taking
   the checker's writes, db2 replicating from it; history says rolled back.
   Before that, db2's IO thread stopped: refused at once, whatever the
   timeout, since nothing can arrive until someone starts it.
2. Again with --timeout 30, while db2 still lags: failoverd waits. Meanwhile
   `status` answers at once and shows the switchover at its lag check, and a
   second switchover is refused as busy (exit 75). When db2 applies again the
   switchover completes: db2 the primary, nothing lost, no split brain."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def writable(lab):
    return [n.name for n in lab.nodes if lab.state(n)["writable"]]


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("sw51-" + flavor)) as lab:
        extra = fokit.vip_hook(lab) + '\n    switchover_lag_max = "1s";'
        with fokit.Daemon(lab, cluster_extra=extra) as d:
            d.start()
            lab.writer_start(through="vip", rate=100)
            lab.wait_acks(30)

            # 0. Refused at once: db2's IO thread is stopped, which no wait can fix.
            stop_io = {"mariadb": "STOP SLAVE IO_THREAD", "mysql": "STOP REPLICA IO_THREAD"}
            start_io = {"mariadb": "START SLAVE IO_THREAD", "mysql": "START REPLICA IO_THREAD"}
            lab.sql("db2", stop_io[labkit.family(flavor)])
            t0 = time.monotonic()
            p = d.ctl_text("switchover", "main", "--to", "db2", "--timeout", "30")
            took = time.monotonic() - t0
            said = fokit.squash(p.stderr)
            check(p.returncode == 1 and "IO thread is stopped" in said,
                  "refused because of the stopped IO thread: %s %s" % (p.returncode, said))
            check(took < 10, "refused at once, not after the 30 s timeout: %.1f s" % took)
            check("never made read-only" in said, "and db1 was never read-only: %s" % said)
            check(writable(lab) == ["db1"], "db1 stays the only writable node")
            lab.sql("db2", start_io[labkit.family(flavor)])
            say("a stopped IO thread refused in %.1f s" % took)

            lab.lag("db2", True)

            # 1. Refused: the candidate applies nothing within the timeout.
            t0 = time.monotonic()
            p = d.ctl_text("switchover", "main", "--to", "db2", "--timeout", "2")
            took = time.monotonic() - t0
            check(p.returncode == 1, "a refused switchover exits 1: %s %s" % (p.returncode,
                                                                             p.stderr))
            said = fokit.squash(p.stderr)
            check("check_lag:db2" in said and "SQL thread is not running" in said
                  and "rolled back" in said, "the message says why: %s" % p.stderr)
            check("check_lag:db2" in p.stdout and "FAILED" in p.stdout,
                  "the steps are shown: %s" % p.stdout)
            check(writable(lab) == ["db1"], "db1 stays the only writable node")
            check(lab.vip_holders() == ["db1"], "traffic was not moved")
            lab.wait_acks(20, server_id=lab.node("db1").server_id)
            r = lab.state("db2")["replica"]
            check(r["io_running"] == "Yes" and r["source_host"] == lab.node("db1").address,
                  "db2 still replicates from db1: %s" % r)
            ev = d.wait_event("switchover_rolled_back")
            check("db1 is the primary and was never made read-only" in ev[-1], ev[-1])
            h = d.ctl("history", "main")[1]["operations"][0]
            check(h["state"] == "aborted" and h.get("rolled_back") is True, str(h))
            say("refused after %.1f s: %s" % (took, p.stderr.splitlines()[0][:150]))

            # 2. Waited for: the same switchover with room to wait.
            argv = [fokit.FAILOVERCTL, "-s", d.sock, "--json", "switchover", "main", "--to",
                    "db2", "--timeout", "30"]
            sw = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                wait_for(lambda: (d.cluster()["failover"] or {}).get("step") == "check_lag:db2",
                         10, what="the switchover waiting at its lag check")
                slowest = 0
                for _ in range(5):
                    t0 = time.monotonic()
                    f = d.cluster()["failover"]
                    slowest = max(slowest, time.monotonic() - t0)
                    check(f["kind"] == "switchover" and f["state"] == "running"
                          and f["candidate"] == "db2", "status shows the switchover: %s" % f)
                    time.sleep(0.2)
                rc, busy = d.ctl("switchover", "main", "--to", "db3", check=False)
                check(rc == 75 and busy["error"]["code"] == "busy",
                      "one operation at a time: %s %s" % (rc, busy))
                check(writable(lab) == ["db1"], "nothing changed while waiting")
                lab.lag("db2", False)
                out, err = sw.communicate(timeout=40)
            finally:
                if sw.poll() is None:
                    sw.kill()
                    sw.wait()
            check(sw.returncode == 0, "the switchover completes: %s %s" % (out, err))
            op = json.loads(out)
            check(op["new_primary"] == "db2", str(op))
            lab.wait_acks(50, server_id=lab.node("db2").server_id)
            v = lab.writer_verify()
            check(v["ok"] and not v["lost"] and not v["split_brain"],
                  "nothing lost, never two writable nodes: %s" % v)
            check(d.stop() == 0, "failoverd stops cleanly")
            say("waited for db2 (status answered within %.0f ms while waiting), done in %s ms"
                % (slowest * 1000, op["duration_ms"]))


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
