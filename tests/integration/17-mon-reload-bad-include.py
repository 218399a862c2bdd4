#!/usr/bin/env python3
"""A configuration that includes a directory is refused; the daemon lives on.

libconfig 1.5 calls exit() when an @include names something it can open but not
read (a directory): `--check-config` died with it, and a SIGHUP with such a file
ended the daemon. On both flavors:

1. `failoverd --check-config` on a file with `@include "."` exits 78 and names
   the file, the line and the directory.
2. SIGHUP with that file: a config_rejected event names the same; the daemon
   keeps running under the old configuration (status answers, probes go on).
3. It still acts: under writes, the primary is killed, the failover is done,
   the VIP moved, and no acknowledged write is lost.

Usage: 17-mon-reload-bad-include.py [FLAVOR...]   (default: both)
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("fuzz-inc-" + flavor),
                       semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True) as d:
        d.start()
        d.wait_verdict("healthy")
        good = open(d.conf).read()
        lines = good.rstrip("\n").split("\n")
        bad_line = len(lines) + 1
        with open(d.conf, "w") as f:
            f.write("\n".join(lines) + '\n@include "."\n')
        where = "%s:%d" % (d.conf, bad_line)

        # 1. --check-config says why and exits 78.
        p = subprocess.run([fokit.FAILOVERD, "--check-config", "-c", d.conf],
                           capture_output=True, text=True, timeout=30)
        out = p.stdout + p.stderr
        check(p.returncode == 78, "--check-config exits 78, not %d: %s" % (p.returncode, out))
        check(where in out and "is a directory" in out,
              "--check-config names the file, line and directory: %s" % out)
        say("--check-config: exit 78: %s" % out.strip().splitlines()[0])

        # 2. SIGHUP: refused, the old configuration stays in force.
        before = d.node("db2")["last_probe"]
        d.signal(signal.SIGHUP)
        ev = d.wait_event("config_rejected", timeout=20)[-1]
        check(where in ev and "is a directory" in ev,
              "config_rejected names the file, line and directory: %s" % ev)
        check(d.proc.poll() is None, "failoverd still runs after the reload:\n%s" % d.log_tail())
        labkit.wait_for(lambda: d.node("db2")["last_probe"] != before, 10,
                        what="probes going on under the old configuration")
        check(d.cluster()["verdict"] == "healthy", "still healthy: %s" % d.cluster())
        say("SIGHUP refused: %s" % ev.split("event=config_rejected ")[-1][:160])

        # 3. And it still fails over, losing nothing acknowledged.
        lab.writer_start(through="vip")
        lab.wait_acks(20)
        lab.kill("db1")
        op = d.wait_operation(1, timeout=60)
        check(op["type"] == "done", "the failover is done: %s" % op)
        new = op["new_primary"]
        check(new in ("db2", "db3"), "a replica is the new primary: %s" % op)
        labkit.wait_for(lambda: lab.vip_holders() == [new], 15, what="the VIP on %s" % new)
        v = lab.writer_verify()
        check(v["primary"] == new and v["lost"] == [] and not v["divergence"],
              "no acknowledged write lost: %s" % v)
        check(fokit.writable_nodes(lab) == [new], "only %s is writable" % new)
        say("still acting: db1 killed, %s promoted, none of the acknowledged writes lost" % new)
        with open(d.conf, "w") as f:
            f.write(good)
        check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
