#!/usr/bin/env python3
"""Read/write splitting through a real HAProxy driven by plugins/haproxy, on
both flavors, with the write checker writing through HAProxy's writer
frontend instead of the VIP.

HAProxy runs in the lab's client namespace: a writer frontend (the client
address, port 3306) and a reader frontend (port 3307), each with a backend
that lists every node, all in maintenance at start: only failoverd puts a
server in service. max_read_lag is 2 s; the topology file is written too.

1. At start: the writer backend holds db1 alone, the reader backend db2 and
   db3; the topology file says the same.
2. Lag: db3's applier is held by a read lock (its IO thread goes on
   receiving), so its lag grows past 2 s: it leaves the reader pool (HAProxy,
   topology file, status: "lagging"), while db2's applier is stopped (lab
   lag): no replica qualifies and the primary serves reads. Both applying
   again, both come back and db1 leaves the reader pool.
3. Switchover to db2: the writer backend holds db2 alone; no write is
   acknowledged by db1 after the first one db2 acknowledged.
4. Failover: db2 is killed; the new primary alone is in the writer backend; no
   acknowledgement from db2 after the new primary's first.
5. HAProxy stopped (SIGSTOP): the plugin's calls fail within its 1 s
   timeout, each a hook_failed event naming the socket. A switchover is
   refused at once (switchover_before failed: the writer could not be taken
   out) and nothing changes. A failover (the primary killed) completes all
   the same; once HAProxy runs again the plugin's retry puts the new primary
   in the writer backend, and the primary alone serves reads too.
Finally the write checker's verdict: nothing acknowledged lost, no split brain."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

HAPROXY = "/usr/sbin/haproxy"
HAPROXY_SO = os.path.join(fokit.BUILD, "plugins", "haproxy.so")


def haproxy_config(lab, sock):
    client = lab.desc["client"]["address"]
    servers = "\n".join("  server %s %s:%d disabled" % (n["name"], n["address"], n["port"])
                        for n in lab.desc["nodes"])
    return """global
  stats socket %(sock)s mode 600 level admin
defaults
  mode tcp
  timeout connect 1s
  timeout client 60s
  timeout server 60s
frontend writer_fe
  bind %(client)s:3306
  default_backend writer
frontend reader_fe
  bind %(client)s:3307
  default_backend reader
backend writer
%(servers)s
backend reader
%(servers)s
""" % dict(sock=sock, client=client, servers=servers)


class HAProxy:
    """haproxy in the lab's client namespace, stopped by its PID."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.sock = os.path.join(workdir, "haproxy.sock")
        cfg = os.path.join(workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(haproxy_config(lab, self.sock))
        self.log = open(os.path.join(workdir, "haproxy.log"), "ab")
        self.proc = lab.popen([HAPROXY, "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                              stdout=self.log, stderr=self.log)
        wait_for(lambda: os.path.exists(self.sock) and self.states(), 15,
                 what="HAProxy's stats socket")

    def ask(self, command, timeout=3):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
            s.sendall(command.encode() + b"\n")
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
            return out.decode(errors="replace")
        finally:
            s.close()

    def states(self):
        """{backend: {server: status}} from "show stat" ("MAINT", "no check" ...)."""
        try:
            lines = self.ask("show stat").splitlines()
        except OSError:
            return None
        if not lines or not lines[0].startswith("# "):
            return None
        head = lines[0][2:].split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") in ("writer", "reader") and row.get("svname") not in (
                    "FRONTEND", "BACKEND"):
                out.setdefault(row["pxname"], {})[row["svname"]] = row.get("status", "")
        return out

    def in_service(self, backend):
        st = (self.states() or {}).get(backend, {})
        return sorted(s for s, v in st.items() if not v.startswith("MAINT") and "DRAIN" not in v)

    def wait_pools(self, writer, readers, timeout=30):
        want = (sorted(writer), sorted(readers))
        wait_for(lambda: (self.in_service("writer"), self.in_service("reader")) == want, timeout,
                 what="HAProxy writer %s, readers %s (now %s)" % (
                     want[0], want[1], (self.in_service("writer"), self.in_service("reader"))))

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def topology(path):
    with open(path) as f:
        return json.load(f)


def acks_after(lab, sid_new, sid_old, since):
    """Acknowledgements from sid_old after the first one from sid_new since
    `since` (time.time())."""
    acks = sorted(lab.writer_acks())
    first = next((a[0] for a in acks if a[2] == sid_new and a[0] >= since * 1e6), None)
    check(first is not None, "the new primary acknowledged writes")
    return [a for a in acks if a[2] == sid_old and a[0] > first]


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    check(os.access(HAPROXY, os.X_OK), "haproxy is installed (apt-get install haproxy)")
    work = tempfile.mkdtemp(prefix="route62-")
    topo = os.path.join(work, "topology.json")
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("rt62-" + flavor), semisync=True) as lab:
        hap = HAProxy(lab, work)
        try:
            plugin = """    plugins = (
      { path = "%s"; config = { socket = "%s"; timeout = "1s"; }; }
    );
    max_read_lag = "2s";
    failover_block = "0ms";
    topology_file = "%s";""" % (HAPROXY_SO, hap.sock, topo)
            with fokit.Daemon(lab, cluster_extra=plugin) as d:
                d.start()
                # 1. The pools as the probes see them.
                hap.wait_pools(["db1"], ["db2", "db3"])
                wait_for(lambda: os.path.exists(topo) and
                         [r["name"] for r in topology(topo)["readers"]] == ["db2", "db3"], 15,
                         what="the topology file")
                t = topology(topo)
                check(t["cluster"] == "main" and t["primary"] == "db1" and t["writer"] == "db1",
                      "topology file: %s" % t)
                client = lab.desc["client"]["address"]
                lab.writer_start(through=client)
                lab.wait_acks(50)
                say("HAProxy: writer db1, readers db2 db3; writes go through it")

                # 2. Lag beyond the bound, and a stopped applier.
                lock = fokit.ApplierLock(lab, "db3")
                try:
                    hap.wait_pools(["db1"], ["db2"], timeout=30)
                    why = d.node("db3")["routing"]
                    check(why["reader"] is False and why["why"] == "lagging" and why["lag_s"] > 2,
                          "status says db3 is out, lagging: %s" % why)
                    t = topology(topo)
                    check([r["name"] for r in t["readers"]] == ["db2"], "topology file: %s" % t)
                    text = fokit.squash(d.ctl_text("status").stdout)
                    check("db3 not in the reader pool: lagging" in text,
                          "failoverctl status says why db3 is out: %s" % text)
                    lab.lag("db2", True)
                    hap.wait_pools(["db1"], ["db1"], timeout=30)
                    check(d.node("db2")["routing"]["why"] == "applier thread not running",
                          "db2 out: %s" % d.node("db2")["routing"])
                    check(d.cluster()["routing"]["fallback"] is True, "the primary serves reads")
                    say("db3 lagging and db2 stopped: the primary serves reads")
                finally:
                    lock.release()
                lab.lag("db2", False)
                hap.wait_pools(["db1"], ["db2", "db3"], timeout=60)
                check(any("routing_changed" in e for e in d.events().get("routing_changed", [])),
                      "routing_changed events")
                say("both caught up: back in the reader pool")

                # 3. Switchover: the writer moves, db1 acknowledges nothing after.
                lab.wait_acks(20)
                t_sw = time.time()
                rc, out = d.ctl("switchover", "main", "--to", "db2", timeout=90)
                check(out["type"] == "done", "switchover done: %s" % out)
                hap.wait_pools(["db2"], ["db1", "db3"], timeout=60)
                sid = {n.name: n.server_id for n in lab.nodes}
                lab.wait_acks(30, server_id=sid["db2"], timeout=60)
                late = acks_after(lab, sid["db2"], sid["db1"], t_sw)
                check(late == [], "db1 acknowledged nothing after db2 took over: %s" % late[:5])
                say("switchover: writer db2, db1 took no write after")

                # 4. Failover: db2 is killed.
                t_fo = time.time()
                lab.kill("db2")
                op = d.wait_operation(2, timeout=90)
                check(op["type"] == "done", "failover done: %s" % op)
                new = op["new_primary"]
                other = ({"db1", "db3"} - {new}).pop()
                wait_for(lambda: hap.in_service("writer") == [new], 30,
                         what="HAProxy writer %s" % new)
                lab.wait_acks(30, server_id=sid[new], timeout=60)
                late = acks_after(lab, sid[new], sid["db2"], t_fo)
                check(late == [], "db2 acknowledged nothing after %s took over" % new)
                hap.wait_pools([new], [other], timeout=60)
                fence = d.cluster()["old_primary_fence"]
                check(fence["node"] == "db2" and "down" in fence["state"],
                      "status shows the old primary's fence state: %s" % fence)
                say("failover: writer %s, db2 took no write after" % new)

                # 5. HAProxy stalls. A switchover is refused at once (its
                # switchover_before could not take the writer out) and nothing
                # changes; a failover goes on without HAProxy, and the state
                # reaches HAProxy once it runs again.
                hap.proc.send_signal(signal.SIGSTOP)
                t0 = time.monotonic()
                rc, out = d.ctl("switchover", "main", "--to", other, timeout=120, check=False)
                took = time.monotonic() - t0
                check(rc != 0 and '"aborted"' in json.dumps(out) and took < 20,
                      "switchover refused in %.1f s: %s" % (took, out))
                check(fokit.writable_nodes(lab) == [new], "%s stays the only writable node" % new)
                failed = [e for e in d.events().get("hook_failed", []) if "haproxy" in e]
                check(failed and any("no answer within" in e for e in failed),
                      "the stalled socket is a hook_failed event: %s" % failed[-2:])
                hap.proc.send_signal(signal.SIGCONT)
                hap.wait_pools([new], [other], timeout=60)
                lab.wait_acks(30, server_id=sid[new], timeout=60)
                say("HAProxy stalled: switchover refused in %.1f s, writes go on to %s"
                    % (took, new))

                hap.proc.send_signal(signal.SIGSTOP)
                t0 = time.monotonic()
                n_failed = len(failed)
                lab.kill(new)
                op = d.wait_operation(4, timeout=90)
                took = time.monotonic() - t0
                check(op["type"] == "done" and op["new_primary"] == other,
                      "failover done despite HAProxy: %s" % op)
                failed = [e for e in d.events().get("hook_failed", []) if "haproxy" in e]
                check(len(failed) > n_failed, "hook_failed events for the stalled socket")
                hap.proc.send_signal(signal.SIGCONT)
                hap.wait_pools([other], [other], timeout=60)
                lab.wait_acks(30, server_id=sid[other], timeout=60)
                say("HAProxy stalled: failover done in %.1f s; HAProxy follows after" % took)

                v = lab.writer_verify()
                check(v["ok"] and v["lost"] == [] and not v["split_brain"],
                      "nothing lost: %s" % v)
                check(v["primary"] == other, "judged against %s: %s" % (other, v["primary"]))
                say("%d writes acknowledged through HAProxy, none lost (%s)"
                    % (v["acked"], v["acks_by_node"]))
        finally:
            hap.close()
            shutil.rmtree(work, ignore_errors=True)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
