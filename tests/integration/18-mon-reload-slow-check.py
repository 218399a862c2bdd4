#!/usr/bin/env python3
"""A reload's check runs beside the loop: a slow one holds nothing up.

A reload first has the new file loaded and checked in a child process; the
daemon goes on with everything else until the child answers. The test makes
every check take 5 s (FAILOVERD_TEST_CHECK_DELAY_MS) and, on both flavors:

1. SIGHUP with a valid change (log level debug, probe_timeout 3 s): while
   the check runs, every node keeps being probed at about the probe interval
   and status answers at once; config_reloaded comes only after the check,
   and the change applies.
2. SIGHUP, then the primary is killed while the check runs: under writes, the
   failover is done before the check ends, the VIP moves, no acknowledged
   write is lost and only the new primary is writable; then the reload applies.
3. `failoverctl reload` with a broken file waits for the check and fails with
   the file and line (config_rejected); the running configuration stays.
4. SIGTERM while a check runs: failoverd stops at once, exit 0.

Usage: 18-mon-reload-slow-check.py [FLAVOR...]   (default: both)
"""
import datetime
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

DELAY_S = 5.0


def stamp(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def count(d, event):
    return len(d.events().get(event, []))


def set_log_level(d, level):
    with open(d.conf) as f:
        text = f.read()
    for old in ("info", "debug"):
        text = text.replace('log_level = "%s";' % old, 'log_level = "%s";' % level)
    with open(d.conf, "w") as f:
        f.write(text)


def watch_loop(d, seconds, say):
    """Samples status for `seconds`: the largest gap between two probes of any
    node and the slowest status answer."""
    stamps, slowest = {}, 0.0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        t = time.monotonic()
        nodes = d.cluster()["nodes"]
        slowest = max(slowest, time.monotonic() - t)
        for n in nodes:
            if n.get("last_probe"):  # a monitor a reload started has none yet
                stamps.setdefault(n["name"], set()).add(n["last_probe"])
        time.sleep(0.05)
    check(sorted(stamps) == ["db1", "db2", "db3"], "every node probed during the check: %s"
          % sorted(stamps))
    worst = 0.0
    for name, seen in stamps.items():
        ts = []
        for t in sorted(stamp(s) for s in seen):
            if not ts or t - ts[-1] > 0.05:  # one probe may read 1 ms apart twice
                ts.append(t)
        # A loop that waited for the check would show no new probe at all;
        # a loaded machine (the sanitizer build) may probe less often.
        check(len(ts) >= 3, "%s probed %d times in %.1f s during the check: %s" % (
            name, len(ts), seconds, ts))
        worst = max([worst] + [b - a for a, b in zip(ts, ts[1:])])
    say("during the check: largest gap between probes %.2f s, slowest status %.0f ms"
        % (worst, slowest * 1000))
    check(worst < 2.5, "a gap of %.2f s between probes while the check ran" % worst)
    check(slowest < 1.0, "status took %.2f s while the check ran" % slowest)


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("slowchk-" + flavor[:2]),
                       semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True) as d:
        d.start(env_extra={"FAILOVERD_TEST_CHECK_DELAY_MS": str(int(DELAY_S * 1000))})
        d.wait_verdict("healthy")

        # 1. A slow check of a valid change holds nothing up.
        d.write_config(cluster_extra='    probe_timeout = "3s";')
        set_log_level(d, "debug")
        t0 = time.monotonic()
        d.signal(signal.SIGHUP)
        watch_loop(d, DELAY_S - 1.0, say)
        check(count(d, "config_reloaded") == 0, "no reload before the check ends")
        d.wait_event("config_reloaded", timeout=DELAY_S + 15)
        took = time.monotonic() - t0
        check(took >= DELAY_S - 0.5, "the reload waited for its check (%.1f s)" % took)
        labkit.wait_for(lambda: " debug " in open(d.log_path, errors="replace").read(), 10,
                        what="debug lines after the reload")
        # The new probe_timeout replaced the monitor: it must have reached
        # every node before the primary is killed, or reliability refuses.
        labkit.wait_for(lambda: all(n["state"] == "up" for n in d.cluster()["nodes"]), 30,
                        what="every node up under the reloaded monitor")
        d.wait_verdict("healthy", timeout=30)
        say("SIGHUP: the loop went on during a %.0f s check; reloaded after %.1f s"
            % (DELAY_S, took))

        # 2. A failover during a slow check; the reload follows.
        lab.writer_start(through="vip")
        lab.wait_acks(20)
        set_log_level(d, "info")
        d.signal(signal.SIGHUP)
        t0 = time.monotonic()
        lab.kill("db1")
        op = d.wait_operation(1, timeout=60)
        during = time.monotonic() - t0
        check(op["type"] == "done", "the failover is done: %s" % op)
        check(count(d, "config_reloaded") == 1,
              "the failover (%.1f s) ended before the check (%.0f s)" % (during, DELAY_S))
        new = op["new_primary"]
        check(new in ("db2", "db3"), "a replica is the new primary: %s" % op)
        d.wait_event("config_reloaded", count=2, timeout=DELAY_S + 15)
        labkit.wait_for(lambda: lab.vip_holders() == [new], 15, what="the VIP on %s" % new)
        v = lab.writer_verify()
        check(v["primary"] == new and v["lost"] == [] and not v["divergence"],
              "no acknowledged write lost: %s" % v)
        check(fokit.writable_nodes(lab) == [new], "only %s is writable" % new)
        check(d.cluster()["primary"] == new, "status names %s the primary" % new)
        say("db1 killed during a check: failover done in %.1f s, %s promoted, none of the "
            "acknowledged writes lost; the reload applied after" % (during, new))

        # 3. failoverctl reload of a broken file answers after the check.
        with open(d.conf) as f:
            good = f.read()
        lines = good.rstrip("\n").split("\n")
        where = "%s:%d" % (d.conf, len(lines) + 1)
        with open(d.conf, "w") as f:
            f.write("\n".join(lines) + "\ndaemon_x = { oops = ; };\n")
        answer = {}

        def ask():
            t = time.monotonic()
            answer["rc"], answer["out"] = d.ctl("reload", check=False, timeout=40)
            answer["took"] = time.monotonic() - t
        asker = threading.Thread(target=ask)
        asker.start()
        watch_loop(d, 3.0, say)
        asker.join(40)
        check(answer.get("rc") == 1, "failoverctl reload fails (exit 1): %s" % answer)
        check(where in str(answer["out"]), "the reply names the file and line: %s" % answer)
        check(answer["took"] >= DELAY_S - 0.5, "the reply came after the check: %s" % answer)
        ev = d.wait_event("config_rejected")[-1]
        check(where in ev, "config_rejected names the file and line: %s" % ev)
        check(d.cluster()["primary"] == new, "the running configuration stays")
        say("failoverctl reload of a broken file: exit 1 after %.1f s, naming %s"
            % (answer["took"], where))
        with open(d.conf, "w") as f:
            f.write(good)

        # 4. Stopping while a check runs.
        d.signal(signal.SIGHUP)
        time.sleep(0.5)  # the check is under way (it takes DELAY_S)
        t0 = time.monotonic()
        rc = d.stop()
        took = time.monotonic() - t0
        check(rc == 0, "failoverd exits 0 on SIGTERM during a check, not %s" % rc)
        check(took < DELAY_S - 1, "it stopped in %.1f s, without waiting for the check" % took)
        check(not d.sanitizer_reports(), "no sanitizer report:\n%s" % d.sanitizer_reports())
        say("SIGTERM during a check: exit 0 in %.1f s" % took)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
