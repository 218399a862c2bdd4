#!/usr/bin/env python3
"""failoverctl against a running daemon: every command, for people and with
--json, with the exit codes docs/protocol.md documents.

Each command runs twice: without --json its output must be readable in 80
columns (no line longer, no control characters) and say what matters; with
--json it must print JSON. Long node names make the tables work for it.
Exit codes: 0 done; 1 ran but failed (a rolled-back switchover, a failover of
a healthy primary, nothing to acknowledge); 64 bad command line; 65 rejected
(unknown cluster or node); 69 no daemon; 75 busy."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402


def readable(p, what):
    for line in (p.stdout + p.stderr).splitlines():
        check(len(line) <= 80, "%s: a line of %d columns:\n%s" % (what, len(line), line))
        check(not any(ord(ch) < 32 and ch != "\t" for ch in line), "%s: control characters"
              % what)


def both(d, args, rc, *want):
    """Runs failoverctl ARGS for people and with --json; checks the exit code
    both times, 80 columns, and that the human output holds every string in
    want. Returns (human CompletedProcess, parsed JSON)."""
    p = d.ctl_text(*args, timeout=60)
    check(p.returncode == rc, "failoverctl %s: exit %d, not %d: %s %s"
          % (" ".join(args), p.returncode, rc, p.stdout, p.stderr))
    readable(p, " ".join(args))
    for w in want:
        check(w in fokit.squash(p.stdout + p.stderr), "failoverctl %s says %r:\n%s%s"
              % (" ".join(args), w, p.stdout, p.stderr))
    j = d.ctl_text("--json", *args, timeout=60)
    check(j.returncode == rc, "--json %s: exit %d" % (" ".join(args), j.returncode))
    try:
        out = json.loads(j.stdout) if j.stdout.strip() else None
    except ValueError:
        raise AssertionError("--json %s printed no JSON: %r" % (" ".join(args), j.stdout[:200]))
    return p, out


def main():
    with labkit.Lab.up("mariadb", 3, name=labkit.unique_name("sw56")) as lab:
        long_names = {"db1": "primary-east-01", "db2": "replica-east-02",
                      "db3": "replica-west-03"}
        with fokit.Daemon(lab) as d:
            d.start()
            # Long node names in the config: the tables must still fit.
            text = open(d.conf).read()
            for short, name in long_names.items():
                text = text.replace('name = "%s"' % short, 'name = "%s"' % name)
            open(d.conf, "w").write(text)
            d.signal(__import__("signal").SIGHUP)
            wait_for(lambda: d.cluster()["nodes"][0]["name"] == "primary-east-01"
                     and d.cluster()["primary"] == "primary-east-01", 15,
                     what="the renamed nodes")
            # The renamed cluster's monitor starts afresh; each node's first
            # probe comes at its own point of the probe interval.
            wait_for(lambda: all(n.get("state") == "up" for n in d.cluster()["nodes"]), 15,
                     what="every renamed node probed and up")

            both(d, ["status"], 0, "CLUSTER main", "primary-east-01")
            both(d, ["status", "main"], 0, "replica-west-03")
            _, plan = both(d, ["plan", "main"], 0, "failover plan for main", "PREPARE",
                           "CANDIDATE")
            check(plan["kind"] == "failover", str(plan)[:200])
            both(d, ["plan", "main", "--switchover", "--to", "replica-west-03"], 0,
                 "switchover plan", "block_writes:primary-east-01", "point of no return")
            both(d, ["switchover", "main", "--dry-run", "--policy", "availability"], 0,
                 "switchover plan for main (availability)")
            both(d, ["failover", "main"], 1, "the primary is healthy")
            both(d, ["failover", "main", "--dry-run"], 0, "failover plan")
            # A switchover for people, then one back with --json.
            p = d.ctl_text("switchover", "main", "--to", "replica-east-02", timeout=60)
            check(p.returncode == 0, "switchover: %s %s" % (p.stdout, p.stderr))
            readable(p, "switchover")
            for w in ("switchover done", "primary-east-01 -> replica-east-02", "writes blocked",
                      "block_writes:primary-east-01"):
                check(w in p.stdout, "switchover says %r:\n%s" % (w, p.stdout))
            print(p.stdout)
            rc, op = d.ctl("switchover", "main", "--to", "primary-east-01", check=False,
                           timeout=60)
            check(rc == 0 and op["new_primary"] == "primary-east-01", str(op))
            # Two rolled back (for people and with --json): the candidate lags.
            lab.lag("db3", True)
            p, err = both(d, ["switchover", "main", "--to", "replica-west-03", "--timeout",
                              "1.5"], 1, "rolled back", "check_lag:replica-west-03", "FAILED")
            check(err["ok"] is False and err["error"]["code"] == "failed"
                  and err["error"]["operation"]["rolled_back"] is True, str(err)[:300])
            print(p.stdout + p.stderr)
            # Busy while a switchover waits.
            argv = [fokit.FAILOVERCTL, "-s", d.sock, "switchover", "main", "--to",
                    "replica-west-03", "--timeout", "3"]
            sw = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                wait_for(lambda: d.cluster()["failover"], 10, what="the switchover to run")
                p = d.ctl_text("switchover", "main")
                check(p.returncode == 75 and "already running" in fokit.squash(p.stderr), p.stderr)
                p = d.ctl_text("status")
                check(p.returncode == 0 and "switchover running" in p.stdout, p.stdout)
                readable(p, "status during a switchover")
            finally:
                sw.communicate(timeout=30)
            lab.lag("db3", False)
            both(d, ["pause", "main"], 0, "main: automatic failover paused")
            both(d, ["resume", "main"], 0, "main: automatic failover resumed")
            both(d, ["ack", "main"], 1, "nothing to acknowledge")
            p, hist = both(d, ["history"], 0, "STARTED", "switchover", "rolled back")
            check(len(hist["operations"]) == 5, str(hist)[:300])
            print(p.stdout)
            both(d, ["history", "main", "--limit", "1"], 0, "done")
            both(d, ["status", "nope"], 65, "no cluster named")
            both(d, ["switchover", "main", "--to", "db9"], 65, "no node named")
            p = d.ctl_text("switchover", "main", "--policy", "fast")
            check(p.returncode == 64, "bad command line: %s" % p.returncode)
            p = d.ctl_text("frobnicate")
            check(p.returncode == 64, "unknown command: %s" % p.returncode)
            p = subprocess.run([fokit.FAILOVERCTL, "-s", d.sock + ".nope", "status"],
                               capture_output=True, text=True)
            check(p.returncode == 69, "no daemon: %s" % p.returncode)
            check(d.stop() == 0, "failoverd stops cleanly")
        labkit.log("failoverctl: every command readable in 80 columns, JSON, exit codes")


if __name__ == "__main__":
    fokit.run_main(main)
