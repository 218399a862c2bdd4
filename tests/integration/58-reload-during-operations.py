#!/usr/bin/env python3
"""Reloads at every step of a failover and of a switchover, on both flavors,
against the daemon built with AddressSanitizer and UBSan.

A running operation owns what it uses (settings, names, hooks, plans) until it
ends; a reload while it runs changes only what comes after it. The daemon has
been busy first: control-socket traffic all along, and earlier reloads, valid
and broken. Then, while the write checker writes through the VIP (semi-sync,
reliability):

1. Failover: db1 is killed. For every record the operation journals (begin,
   each step, the election), the test sends SIGHUP with a valid changed
   configuration (other hooks, other timeouts), and 30 ms later SIGHUP with a
   broken one. The daemon must survive without a sanitizer report, the
   failover must be done, every journal record of it must name the cluster
   "main", no acknowledged write may be lost, one node writable.
2. The old primary comes back and is rejoined (auto_rejoin), with the same
   reloads going on.
3. Switchover back to db1, the same reloads at every step: failoverctl gets
   its answer (the switchover done), the records name "main", nothing lost.
4. A last valid reload is in force; failoverd stops cleanly, exit 0, and no
   sanitizer report (leaks included) in its log.

The daemon is the ASan+UBSan build (fokit.asan_build: FAILOVERD_ASAN_BUILD,
or the repository's build-asan, built when missing).

Usage: 58-reload-during-operations.py [FLAVOR...]   (default: both)
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

BROKEN = "\ndaemon_x = { oops = ; };\n"
TRIGGERS = ("begin", "step", "elect")


def cluster_extra(i):
    """A valid configuration, varied by i: hooks at every point the
    operations run (slow enough that a reload lands inside them), step
    timeouts, failover_block."""
    sleep = "0.%d" % (1 + i % 2)
    hooks = "; ".join('%s = "/bin/sleep %s"' % (p, sleep) for p in (
        "pre_failover", "fence", "post_failover", "switchover_before", "switchover_after"))
    return ("    auto_rejoin = true;\n    failover_block = \"%ds\";\n"
            "    step_timeout = \"%ds\";\n    hooks = { %s; };"
            % (0, 10 + i % 3, hooks))


class Reloader(threading.Thread):
    """Watches the journal; for each new record of an operation (begin, step,
    elect) writes a valid configuration and sends SIGHUP, then 30 ms later a
    broken one and SIGHUP again. The broken file stays until the next pair."""

    def __init__(self, lab, d, since):
        super().__init__(daemon=True)
        self.lab, self.d, self.seen = lab, d, since
        self.stop_ev = threading.Event()
        self.pairs = []          # (op, step or type) a pair was sent for
        self.n = 0
        self.error = None

    def write(self, text):
        tmp = self.d.conf + ".tmp"
        # Inline passwords: private, or failoverd refuses the file.
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(text)
        os.replace(tmp, self.d.conf)

    def valid(self):
        self.n += 1
        return fokit.config_text(self.lab, self.d.sock, self.d.state, vip_plugin=True,
                                 cluster_extra=cluster_extra(self.n))

    def pair(self):
        self.write(self.valid())
        self.d.signal(signal.SIGHUP)
        time.sleep(0.03)
        self.write(self.valid() + BROKEN)
        self.d.signal(signal.SIGHUP)

    def run(self):
        try:
            while not self.stop_ev.is_set():
                recs = self.d.journal()
                new, self.seen = recs[self.seen:], len(recs)
                for r in new:
                    if r.get("type") in TRIGGERS and self.d.proc.poll() is None:
                        self.pair()
                        self.pairs.append((r.get("op"), r.get("step") or r.get("type")))
                time.sleep(0.005)
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.error = e

    def finish(self):
        self.stop_ev.set()
        if self.ident is not None:
            self.join(10)
        check(self.error is None, "the reloader failed: %s" % self.error)
        alive(self.d)
        # The last valid configuration back in force.
        n = len(self.d.events().get("config_reloaded", []))
        self.write(self.valid())
        self.d.signal(signal.SIGHUP)
        self.d.wait_event("config_reloaded", count=n + 1, timeout=20)


class Chatter(threading.Thread):
    """Control-socket traffic all along: status and history requests."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d = d
        self.stop_ev = threading.Event()
        self.answers = 0

    def run(self):
        while not self.stop_ev.is_set():
            for cmd in (["status"], ["history", "main"]):
                try:
                    p = subprocess.run([fokit.FAILOVERCTL, "-s", self.d.sock, "--json"] + cmd,
                                       capture_output=True, timeout=10)
                    self.answers += p.returncode == 0
                except subprocess.TimeoutExpired:
                    pass
            self.stop_ev.wait(0.1)


def alive(d):
    check(d.proc.poll() is None, "failoverd died (exit %s):\n%s" % (d.proc.returncode,
                                                                    d.log_tail(60)))
    reports = d.sanitizer_reports()
    check(not reports, "sanitizer reports in the daemon's log:\n%s\n%s"
          % ("\n".join(reports[:5]), d.log_tail(60)))


def wait_op(d, count, timeout):
    """d.wait_operation, failing at once when the daemon dies meanwhile."""
    def done():
        alive(d)
        return len(d.operations()) >= count
    labkit.wait_for(done, timeout, interval=0.1, what="operation %d to finish" % count)
    return d.operations()[count - 1]


def check_records(d, op, kind, reloader):
    recs = d.op_records(op)
    names = sorted({r.get("cluster") for r in recs})
    check(names == ["main"], "every journal record of %s %s names the cluster main: %s"
          % (kind, op, names))
    check(all(r.get("kind") == kind for r in recs), "every record says %s: %s" % (kind, recs))
    steps = [r["step"] for r in recs if r.get("type") == "step"]
    sent = [s for o, s in reloader.pairs if o == op]
    missing = [s for s in steps if s not in sent]
    check(steps and not missing, "a reload pair was sent at every step of the %s: missing %s"
          % (kind, missing))
    return steps


def during(d, marker_before):
    """config_reloaded/config_rejected events and deferred-settings notices since
    marker_before (counts of the same, taken before the operation)."""
    ev = d.events()
    return (len(ev.get("config_reloaded", [])) - marker_before[0],
            len(ev.get("config_rejected", [])) - marker_before[1])


def counts(d):
    ev = d.events()
    return (len(ev.get("config_reloaded", [])), len(ev.get("config_rejected", [])))


def deferred_notices(d, kind):
    with open(d.log_path, errors="replace") as f:
        return sum(1 for ln in f if "reloaded while a %s runs" % kind in ln)


def run(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("reload-" + flavor[:2]),
                       semisync=True) as lab, \
            fokit.Daemon(lab, vip_plugin=True, cluster_extra=cluster_extra(0)) as d:
        d.start()
        d.wait_verdict("healthy")
        chatter = Chatter(d)
        chatter.start()
        try:
            # A session first: earlier reloads, valid and broken.
            warm = Reloader(lab, d, len(d.journal()))
            for _ in range(4):
                warm.pair()
                time.sleep(0.2)
            warm.finish()
            alive(d)
            d.wait_verdict("healthy")

            # 1. Failover with reloads at every step. The writer stops and
            # replication settles first: a write in flight when db1 is killed
            # may be committed there and reach no replica (never
            # acknowledged), and db1 would then come back with an errant
            # transaction instead of rejoining in part 2.
            lab.writer_start(through="vip")
            lab.wait_acks(50)
            v = lab.writer_verify()
            check(v["ok"] and v["lost"] == [] and not v["unsettled"],
                  "the writes before the failover, settled everywhere: %s" % v)
            before = counts(d)
            rl = Reloader(lab, d, len(d.journal()))
            rl.start()
            lab.kill("db1")
            op = wait_op(d, 1, timeout=120)
            time.sleep(0.3)
            rl.finish()
            alive(d)
            check(op["type"] == "done", "the failover is done: %s" % op)
            new = op["new_primary"]
            lab.writer_start(through="vip")
            steps = check_records(d, op["op"], "failover", rl)
            reloaded, rejected = during(d, before)
            check(reloaded > 0 and rejected > 0, "reloads, valid and broken, during the "
                  "failover: %d, %d" % (reloaded, rejected))
            check(deferred_notices(d, "failover") > 0,
                  "a reload landed while the failover ran (its settings waited)")
            lab.wait_acks(30, server_id=lab.node(new).server_id, timeout=60)
            v = lab.writer_verify()
            check(v["ok"] and v["lost"] == [] and not v["split_brain"],
                  "no acknowledged write lost, never two writable: %s" % v)
            say("%s: failover to %s with %d reload pairs at its %d steps (%d reloaded, %d "
                "rejected), %d acked, none lost" % (flavor, new, len(rl.pairs), len(steps),
                                                    reloaded, rejected, v["acked"]))

            # 2. The old primary comes back and is rejoined, reloads going on.
            rl = Reloader(lab, d, len(d.journal()))
            rl.start()
            lab.start("db1")
            d.wait_event("node_rejoined", timeout=90)
            rl.finish()
            alive(d)
            fokit.wait_topology(lab, new, timeout=60)

            # 3. Switchover back to db1, reloads at every step.
            lab.writer_start(through="vip")
            lab.wait_acks(50)
            before = counts(d)
            rl = Reloader(lab, d, len(d.journal()))
            rl.start()
            rc, out = d.ctl("switchover", "main", "--to", "db1", timeout=120, check=False)
            time.sleep(0.3)
            rl.finish()
            alive(d)
            check(rc == 0 and isinstance(out, dict), "failoverctl switchover answered: exit %s "
                  "%s\n%s" % (rc, out, d.log_tail()))
            sw = wait_op(d, 2, timeout=30)
            check(sw["type"] == "done" and sw["new_primary"] == "db1",
                  "the switchover is done, db1 the primary: %s" % sw)
            steps = check_records(d, sw["op"], "switchover", rl)
            reloaded, rejected = during(d, before)
            check(reloaded > 0 and rejected > 0, "reloads during the switchover: %d, %d"
                  % (reloaded, rejected))
            check(deferred_notices(d, "switchover") > 0,
                  "a reload landed while the switchover ran (its settings waited)")
            fokit.wait_topology(lab, "db1", timeout=60)
            v = lab.writer_verify()
            check(v["ok"] and v["lost"] == [] and not v["split_brain"] and v["primary"] == "db1",
                  "no acknowledged write lost in the switchover: %s" % v)
            say("%s: switchover to db1 with %d reload pairs at its %d steps (%d reloaded, %d "
                "rejected), %d acked, none lost" % (flavor, len(rl.pairs), len(steps), reloaded,
                                                    rejected, v["acked"]))
        finally:
            chatter.stop_ev.set()
            chatter.join(15)
        check(chatter.answers > 0, "the control socket answered all along")

        # 4. The last valid configuration is in force; a clean stop.
        st = d.cluster()
        check(st["verdict"] == "healthy" and st["failover"] is None, "healthy, idle: %s" % st)
        check(d.stop() == 0, "failoverd exits 0 on SIGTERM:\n%s" % d.log_tail())
        reports = d.sanitizer_reports()
        check(not reports, "no sanitizer report, leaks included:\n%s" % "\n".join(reports[:5]))


def main():
    fokit.use_build(fokit.asan_build())
    check(fokit.sanitized(), "the daemon under test is the ASan build: %s" % fokit.BUILD)
    labkit.log("daemon: %s" % fokit.FAILOVERD)
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        run(flavor)


fokit.run_main(main)
