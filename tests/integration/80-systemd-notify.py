#!/usr/bin/env python3
"""80-systemd-notify: failoverd speaks Type=notify as systemd expects.

This test plays systemd: it listens on a NOTIFY_SOCKET, sets WATCHDOG_USEC, and
runs the real failoverd against two clusters: "live", one throwaway MariaDB
server, and "silent", a port that accepts connections but never answers (so its
first probe takes the whole probe_timeout) and a port nothing listens on.  It
asserts the sequence of messages:

  1. WATCHDOG=1 from the start, before READY=1;
  2. READY=1 only after the first probe round of every cluster: not before the
     silent node's probe timed out, and failoverctl then shows every node probed;
  3. STATUS= lines summarising clusters and nodes, renewed while running;
  4. WATCHDOG=1 at half of WATCHDOG_USEC, never a gap systemd would punish;
  5. SIGHUP with a good file: RELOADING=1 then READY=1, and the new configuration
     is in force;
  6. SIGHUP with a bad file: RELOADING=1 then READY=1, the log names the error
     and says the running configuration stays, failoverctl status still answers
     with the old clusters;
  7. with the loop deliberately blocked (test.block_loop) the pings stop for
     longer than WATCHDOG_USEC, so systemd would kill it, and resume after;
  8. SIGTERM: STOPPING=1, exit status 0, the control socket removed.

Every message must come from the daemon's own pid (NotifyAccess=main).
"""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import systemd_harness as h  # noqa: E402

WATCHDOG_USEC = 1_000_000    # pings expected every 0.5 s
SILENT_TIMEOUT_MS = 1500     # the silent cluster's probe_timeout


def config(tmp, db_port, mute_port, gone_port, silent=True, extra=""):
    silent_cluster = """,
  {
    name = "silent";
    user = "fo"; password = "pw"; repl_user = "repl"; repl_password = "pw";
    probe_timeout = "%dms";
    nodes = ( { name = "mute"; host = "127.0.0.1"; port = %d; },
              { name = "gone"; host = "127.0.0.1"; port = %d; } );
  }""" % (SILENT_TIMEOUT_MS, mute_port, gone_port)
    return """# written by 80-systemd-notify
daemon = {
  control_socket = "%(tmp)s/run/control.sock";
  state_dir = "%(tmp)s/state";
  probe_interval = "200ms";
  probe_timeout = "1s";
};
clusters = (
  {
    name = "live";
    user = "fo"; password = "pw"; repl_user = "repl"; repl_password = "pw";
    nodes = ( { name = "db1"; host = "127.0.0.1"; port = %(db)d; } );
  }%(silent)s
);
%(extra)s""" % {"tmp": tmp, "db": db_port, "silent": silent_cluster if silent else "",
                "extra": extra}


def start(run, cfg_path):
    notify_path = os.path.join(run.tmp, "notify.%d.sock" % len(run.things))
    listener = run.add(h.NotifyListener(notify_path))
    d = run.add(h.Daemon(run.tmp, cfg_path, {"NOTIFY_SOCKET": notify_path,
                                             "WATCHDOG_USEC": str(WATCHDOG_USEC)}))
    return listener, d


def gaps(times):
    return [b - a for a, b in zip(times, times[1:])]


def body(run):
    if not os.path.exists(h.FAILOVERD):
        raise h.TestFailure("no failoverd at %s (set FAILOVERD_BUILD)" % h.FAILOVERD)
    if not h.built_with_libsystemd():
        print("SKIP: %s is built without libsystemd, so it sends no notifications" % h.FAILOVERD)
        return
    tmp = run.tmp
    sock = os.path.join(tmp, "run", "control.sock")
    os.makedirs(os.path.join(tmp, "run"))

    h.step("starting a throwaway MariaDB server")
    db = run.add(h.Mariadb(os.path.join(tmp, "db1"), "fo", "pw"))
    mute = run.add(h.Blackhole())
    gone_port = h.free_port()
    cfg = os.path.join(tmp, "failoverd.conf")
    h.write_config(cfg, config(tmp, db.port, mute.port, gone_port))

    h.step("starting failoverd with NOTIFY_SOCKET and WATCHDOG_USEC=%d" % WATCHDOG_USEC)
    n, d = start(run, cfg)

    # 1, 2: the watchdog is fed from the start; READY=1 waits for the slow probe.
    i_ready = n.wait("READY=1", 15)
    msgs = n.snapshot()
    ready_after = msgs[i_ready].t - d.started
    first_ping = n.find("WATCHDOG=1")
    h.check(first_ping is not None and first_ping < i_ready,
            "WATCHDOG=1 is sent before READY=1 (systemd's watchdog runs from the start)")
    h.check(msgs[first_ping].t - d.started < 1.0,
            "the first WATCHDOG=1 comes %.2f s after start" % (msgs[first_ping].t - d.started))
    h.check(ready_after >= SILENT_TIMEOUT_MS / 1000.0 - 0.05,
            "READY=1 waits for the first probe round: %.2f s after start, the silent node's "
            "probe_timeout is %.1f s" % (ready_after, SILENT_TIMEOUT_MS / 1000.0))
    rc, st, err = h.failoverctl(sock, "status")
    h.check(rc == 0, "failoverctl status answers once READY=1 came (rc %d %s)" % (rc, err.strip()))
    nodes = {(c["name"], nd["name"]): nd for c in st["clusters"] for nd in c["nodes"]}
    h.check(set(nodes) == {("live", "db1"), ("silent", "mute"), ("silent", "gone")},
            "status lists both clusters and their three nodes")
    h.check(all(nd["last_probe"] is not None for nd in nodes.values()),
            "at READY=1 every node has been probed once")
    h.check(nodes[("live", "db1")]["state"] == "up" and nodes[("silent", "gone")]["state"] == "down"
            and nodes[("silent", "mute")]["state"] == "down",
            "db1 is up; mute (timed out) and gone (refused) are down")

    # 3: STATUS= lines.
    i_status = n.find("STATUS=")
    h.check(i_status is not None and i_status <= i_ready,
            "a STATUS= line is there by the time READY=1 is sent")
    n.wait("STATUS=", 3, start=i_ready + 1)
    status = [m.get("STATUS") for m in n.snapshot() if m.has("STATUS=")]
    last = status[-1]
    print("   STATUS=%s" % last)
    h.check(re.search(r"\b2 clusters\b", last) and re.search(r"\b1 of 3 nodes\b", last)
            and "failover" in last,
            "STATUS= names 2 clusters, 1 of 3 nodes up, and the failover state")

    # 4: the cadence of the pings.
    start_i = len(n.snapshot())
    h.wait_for(lambda: len(n.times("WATCHDOG=1", start_i)) >= 7, 6, "7 more WATCHDOG=1")
    g = gaps(n.times("WATCHDOG=1", start_i))
    print("   ping gaps: " + " ".join("%.3f" % x for x in g))
    half = WATCHDOG_USEC / 2e6
    h.check(all(half - 0.05 <= x <= half + 0.25 for x in g),
            "WATCHDOG=1 every %.2f..%.2f s, for WATCHDOG_USEC=%d (half is %.2f s)"
            % (min(g), max(g), WATCHDOG_USEC, half))

    # 5: a good reload: the silent cluster goes away.
    h.write_config(cfg, config(tmp, db.port, mute.port, gone_port, silent=False))
    mark = len(n.snapshot())
    d.signal(signal.SIGHUP)
    i_rel = n.wait("RELOADING=1", 5, start=mark)
    i_rdy = n.wait("READY=1", 5, start=i_rel)
    h.check(i_rel < i_rdy, "SIGHUP: RELOADING=1, then READY=1")
    rc, st, err = h.failoverctl(sock, "status")
    h.check(rc == 0 and [c["name"] for c in st["clusters"]] == ["live"],
            "the new configuration is in force: only cluster live")
    h.wait_for(lambda: any(re.search(r"\b1 cluster\b", m.get("STATUS") or "")
                           for m in n.snapshot()[i_rdy:]), 3, "STATUS= with 1 cluster")
    h.check(True, "STATUS= follows: 1 cluster")

    # 6: a bad reload keeps the running configuration.
    with open(cfg) as f:
        good = f.read()
    bad = good.replace('probe_interval = "200ms";', 'probe_interval = "200ms";\n  probe_intreval = "1s";')
    h.write_config(cfg, bad)
    bad_line = bad.splitlines().index('  probe_intreval = "1s";') + 1
    mark = len(n.snapshot())
    d.signal(signal.SIGHUP)
    i_rel = n.wait("RELOADING=1", 5, start=mark)
    i_rdy = n.wait("READY=1", 5, start=i_rel)
    h.check(i_rel < i_rdy, "SIGHUP with a bad file: RELOADING=1, then READY=1")
    log = h.wait_for(lambda: (lambda t: t if "probe_intreval" in t else None)(d.text()), 3,
                     "the rejected setting in the log")
    h.check(re.search(r"failoverd\.conf:%d: .*probe_intreval" % bad_line, log),
            "the log names the error with file and line (failoverd.conf:%d)" % bad_line)
    h.check(re.search(r"reject", log, re.I) and re.search(r"(stays|kept|keep)", log),
            "the log says the reload was rejected and the running configuration stays")
    h.check(d.alive(), "the daemon keeps running")
    rc, st, err = h.failoverctl(sock, "status")
    h.check(rc == 0 and [c["name"] for c in st["clusters"]] == ["live"],
            "failoverctl status still answers, with the configuration in force")
    mark = len(n.snapshot())
    h.wait_for(lambda: len(n.times("WATCHDOG=1", mark)) >= 2, 3, "WATCHDOG=1 after the bad reload")
    h.check(True, "the watchdog is still fed after the rejected reload")

    # 8: SIGTERM.
    mark = len(n.snapshot())
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(15)
    h.wait_for(lambda: n.find("STOPPING=1", mark) is not None, 2, "STOPPING=1")
    h.check(True, "SIGTERM: STOPPING=1")
    h.check(rc == 0, "failoverd exits with status 0 (got %d)" % rc)
    h.check(not os.path.exists(sock), "the control socket is removed")
    foreign = [m for m in n.snapshot() if m.pid != d.pid]
    h.check(not foreign, "every notification came from the daemon's pid %d (NotifyAccess=main)%s"
            % (d.pid, "" if not foreign else ": " + repr(foreign[:3])))
    n.close()

    # 7: a blocked loop stops feeding the watchdog.
    h.step("restarting with test.block_loop = \"2s\"")
    h.write_config(cfg, config(tmp, db.port, mute.port, gone_port, silent=False,
                               extra='test = { block_loop = "2s"; };\n'))
    n, d = start(run, cfg)
    n.wait("READY=1", 15)
    h.wait_for(lambda: any(x > 1.5 for x in gaps(n.times("WATCHDOG=1"))), 8,
               "a gap in the WATCHDOG=1 pings")
    times = n.times("WATCHDOG=1")
    g = gaps(times)
    k = max(range(len(g)), key=lambda j: g[j])
    print("   pings at " + " ".join("%.2f" % (t - d.started) for t in times))
    h.check(g[k] > WATCHDOG_USEC / 1e6,
            "with the loop blocked, no WATCHDOG=1 for %.2f s: longer than WATCHDOG_USEC, "
            "systemd would kill and restart the daemon" % g[k])
    h.check(k >= 1, "pings came before the block")
    mark = len(n.snapshot())
    h.wait_for(lambda: len(n.times("WATCHDOG=1", mark)) >= 2, 3, "WATCHDOG=1 after the block")
    h.check(True, "after the block the pings resume")
    h.check(re.search(r"block_loop", d.text()), "the log warns that the test knob is set")
    h.check(re.search(r"loop_stall|stall", d.text()), "the loop guard reports the stall")
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(15)
    h.check(rc == 0, "and it still stops cleanly (status %d)" % rc)


if __name__ == "__main__":
    sys.exit(h.main("80-systemd-notify", body))
