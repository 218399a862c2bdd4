#!/usr/bin/env python3
"""Monitoring: bad input gives a precise per-node error, never a crash, on
both flavors.

One daemon watches several single-node clusters of one lab, each wrong in its
own way, beside a good one:

  badpw     db1 with a wrong password           -> access denied
  nopriv    db2 as a user with only USAGE       -> the probe's statement refused
  refused   db3's address on a port nothing     -> connection refused
            listens on
  nohost    an address of the lab's subnet that -> connect timeout
            no host holds
  good      db3 with failoverd's account        -> up

Each bad node is down in `status` (nopriv: unobservable, since the server
answers but refuses the statement) with its own error text in last_error, the
same error is in the daemon's log (a node_down event line), the good node is
up and probed on schedule, and the daemon keeps running and answering. A
server that answers garbage (a broken protocol stream) is covered by dbconn's
unit tests (tests/unit/test_dbconn.c, with a fault relay), not here.

Usage: 12-mon-bad-input.py [FLAVOR...]   (default: both)
"""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check  # noqa: E402
import labkit  # noqa: E402

NOPRIV_USER, NOPRIV_PASSWORD = "nopriv", "nopriv-pw-1"


def cluster_text(name, user, password, lab, nodes):
    r = lab.desc["users"]["repl"]
    ns = ",\n".join('      { name = "%s"; host = "%s"; port = %d; }' % n for n in nodes)
    return """  {
    name = "%s";
    user = "%s";
    password = "%s";
    repl_user = "%s";
    repl_password = "%s";
    auto_failover = false;
    nodes = (
%s
    );
  }""" % (name, user, password, r["user"], r["password"], ns)


class BadInputDaemon(fokit.Daemon):
    """A daemon whose configuration is the list of clusters given."""

    def write_config(self, **config):
        self.config.update(config)
        with open(self.conf, "w") as f:
            f.write("""daemon = {
  control_socket = "%s";
  state_dir = "%s";
  log_level = "info";
};
clusters = (
%s
);
""" % (self.sock, self.state, ",\n".join(self.config["clusters"])))
        os.chmod(self.conf, 0o600)  # inline passwords: private, or refused


def bad_input(flavor):
    say = labkit.log
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"monbad-{flavor[:2]}")) as lab:
        a = lab.desc["users"]["admin"]
        db1, db2, db3 = (lab.node(n) for n in ("db1", "db2", "db3"))
        net = db1.address.rsplit(".", 1)[0]
        nohost = net + ".99"
        # Created on the primary; it reaches the replicas by replication.
        lab.sql("db1", f"CREATE USER '{NOPRIV_USER}'@'{net}.%' IDENTIFIED BY '{NOPRIV_PASSWORD}'")
        lab.wait_replicating("db1")
        clusters = [
            cluster_text("good", a["user"], a["password"], lab, [("db3", db3.address, 3306)]),
            cluster_text("badpw", a["user"], "not-the-password", lab, [("db1", db1.address, 3306)]),
            cluster_text("nopriv", NOPRIV_USER, NOPRIV_PASSWORD, lab, [("db2", db2.address, 3306)]),
            cluster_text("refused", a["user"], a["password"], lab,
                         [("db3x", db3.address, 3399)]),
            cluster_text("nohost", a["user"], a["password"], lab, [("ghost", nohost, 3306)]),
        ]
        with BadInputDaemon(lab, clusters=clusters) as d:
            d.start(timeout=20)
            st = {c["name"]: c["nodes"][0] for c in d.status()["clusters"]}
            want = {
                "badpw": ["connect to", "Access denied", "using password: YES"],
                "nopriv": ["ERROR", "denied"],
                "refused": ["connect to", ":3399", "refused"],
                "nohost": ["connect to", nohost, "timeout"],
            }
            # A server that answers but refuses is not down: it is unobservable.
            state = {cl: "unobservable" if cl == "nopriv" else "down" for cl in want}
            for cl, words in want.items():
                n = st[cl]
                err = n["last_error"] or ""
                check(n["state"] == state[cl] and all(w in err for w in words),
                      f"{cl}: {n['name']} should be {state[cl]} with an error naming {words}: {n}")
                say(f"{flavor}: {cl}: {err}")
            good = st["good"]
            check(good["state"] == "up" and good["last_error"] is None, f"good node: {good}")

            # The same errors in the log, one node_down event line per bad node.
            downs = d.events().get("node_down", [])
            for cl, words in want.items():
                node = st[cl]["name"]
                lines = [x for x in downs if f"cluster={cl} node={node} " in x]
                check(lines and all(w in lines[0] for w in words),
                      f"{cl}: node_down log line with {words}: {lines}")

            # The daemon goes on: still running, still probing the good node on
            # schedule, still retrying the bad ones.
            stamps = set()
            t0 = time.monotonic()
            while time.monotonic() - t0 < 2.5:
                stamps.add(d.cluster("good")["nodes"][0]["last_probe"])
                time.sleep(0.1)
            # One probe may read 1 ms apart in two answers (status converts the
            # loop's monotonic stamp to wall-clock time per request): count
            # stamps more than 50 ms apart.
            ts = sorted(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
                        for s in stamps)
            probes = 1 + sum(1 for a, b in zip(ts, ts[1:]) if b - a > 0.05)
            check(probes >= 3, f"the good node is probed on schedule: {sorted(stamps)}")
            check(d.proc.poll() is None, "the daemon keeps running")
            st2 = {c["name"]: c["nodes"][0] for c in d.status()["clusters"]}
            for cl in want:
                check(st2[cl]["state"] == state[cl] and st2[cl]["last_probe"] != st[cl]["last_probe"],
                      f"{cl} is probed again: {st2[cl]}")
            check(d.stop() == 0, "failoverd exits 0 on SIGTERM")


def main():
    for flavor in sys.argv[1:] or labkit.FLAVORS:
        bad_input(flavor)


fokit.run_main(main)
