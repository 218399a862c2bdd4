#!/usr/bin/env python3
"""Monitoring: SIGHUP reloads, and nothing blocks the loop, on both flavors.

1. SIGHUP with a valid changed configuration (log level debug, probe_timeout
   3 s): config_reloaded event, the new settings in force (debug lines in the
   log; a hung node's probe now gives up after 3000 ms), still monitoring.
2. One replica SIGSTOPped (its connection hangs; with a 3 s probe timeout, a
   loop that waited on it would stall 3 s at a time): the other nodes'
   last_probe stamps keep advancing at about the probe interval, and status
   keeps answering at once. SIGCONT: up again.
3. SIGHUP with a broken configuration (a syntax error, and a cluster renamed):
   config_rejected event naming the file and the line; the old configuration
   stays in force (status shows the old cluster, probes go on).

Usage: 14-mon-reload-loop.py [FLAVOR...]   (default: both)
"""
import datetime
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

WATCH_S = 3.0


def nodes(d):
    return {n["name"]: n for n in d.cluster()["nodes"]}


def count(d, event):
    return len(d.events().get(event, []))


def stamp(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def log_has(d, text):
    with open(d.log_path, errors="replace") as f:
        return text in f.read()


def reload_and_loop(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"monrl-{flavor[:2]}")) as lab, \
            fokit.Daemon(lab, cluster_extra="    auto_failover = false;") as d:
        d.start()
        d.wait_verdict("healthy")
        check(not log_has(d, " debug "), "no debug lines at log level info")

        # 1. A valid change.
        d.write_config(cluster_extra='    auto_failover = false;\n    probe_timeout = "3s";')
        with open(d.conf) as f:
            text = f.read()
        check('log_level = "info";' in text, "the test's config names its log level")
        with open(d.conf, "w") as f:
            f.write(text.replace('log_level = "info";', 'log_level = "debug";'))
        d.signal(signal.SIGHUP)
        d.wait_event("config_reloaded")
        labkit.wait_for(lambda: log_has(d, " debug "), 10, what="debug lines after the reload")
        labkit.wait_for(lambda: all(n["state"] == "up" for n in nodes(d).values()), 15,
                        what="every node up after the reload")
        d.wait_verdict("healthy")
        say(f"{flavor}: reloaded (log level debug, probe_timeout 3 s), still monitoring")

        # 2. A hung replica does not hold up the others.
        lab.stop("db3")
        try:
            seen = {"db1": set(), "db2": set()}
            slowest = 0.0
            t0 = time.monotonic()
            while time.monotonic() - t0 < WATCH_S:
                t = time.monotonic()
                ns = nodes(d)
                slowest = max(slowest, time.monotonic() - t)
                for n in seen:
                    seen[n].add(ns[n]["last_probe"])
                time.sleep(0.05)
            for n, stamps in seen.items():
                # status turns the loop's monotonic stamp into wall-clock time at
                # each request, so one probe may read 1 ms apart in two answers.
                ts = []
                for t in sorted(stamp(s) for s in stamps):
                    if not ts or t - ts[-1] > 0.05:
                        ts.append(t)
                gaps = [b - a for a, b in zip(ts, ts[1:])]
                say(f"{flavor}: {n}: {len(ts)} probes in {WATCH_S:.0f} s, largest gap "
                    f"{max(gaps):.2f} s")
                check(len(ts) >= 4, f"{n} probed {len(ts)} times in {WATCH_S} s: {ts}")
                check(max(gaps) < 2.0, f"{n}: a gap of {max(gaps):.2f} s between probes")
            say(f"{flavor}: slowest status answer {slowest * 1000:.0f} ms")
            check(slowest < 2.5, f"status took {slowest:.2f} s while a node hangs")
            labkit.wait_for(lambda: nodes(d)["db3"]["state"] == "down", 15, what="db3 down")
            err = nodes(d)["db3"]["last_error"]
            check("timeout after 3000 ms" in err, f"the reloaded probe_timeout applies: {err}")
            check(d.cluster()["verdict"] == "healthy", "a hung replica leaves the primary healthy")
        finally:
            lab.cont("db3")
        labkit.wait_for(lambda: nodes(d)["db3"]["state"] == "up", 20, what="db3 up again")

        # 3. A broken configuration is refused; the old one stays.
        rejected = count(d, "config_rejected")
        with open(d.conf) as f:
            text = f.read()
        lines = text.replace('name = "main";', 'name = "renamed";').splitlines()
        bad_line = len(lines) + 1
        lines.append("daemon_x = { oops = ; };")
        with open(d.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        d.signal(signal.SIGHUP)
        ev = d.wait_event("config_rejected", count=rejected + 1)[-1]
        check(f"{d.conf}:{bad_line}" in ev, f"config_rejected names the file and line: {ev}")
        st = d.status()
        check([c["name"] for c in st["clusters"]] == ["main"], f"the old clusters stay: {st}")
        before = nodes(d)["db1"]["last_probe"]
        labkit.wait_for(lambda: nodes(d)["db1"]["last_probe"] != before, 5,
                        what="probes going on under the old configuration")
        check(d.proc.poll() is None and d.cluster()["verdict"] == "healthy", "still monitoring")
        say(f"{flavor}: broken config rejected: {ev.split('event=config_rejected ')[1][:160]}")
        check(d.stop() == 0, "failoverd exits 0 on SIGTERM")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        reload_and_loop(flavor)


fokit.run_main(main)
