#!/usr/bin/env python3
"""84-systemd-real: failoverd installed as shipped and run by a real systemd.

A real systemd (the host's, 252) boots as PID 1 of a container:
`systemd-nspawn --boot` on an overlay of the host's root (a fresh
/etc/machine-id in the upper layer), run in the lab's client namespace so that
the daemon reaches a real MariaDB cluster. failoverd is put in it with
`cmake --install --prefix /usr` (the unit, sysusers.d and tmpfiles.d as
shipped; boot creates the failoverd user and /var/lib/failoverd), with a
configuration in /etc/failoverd (root:failoverd 0640) and a node_down hook.

  1. The daemon is run once by hand as root (`failoverd -c ...`, then SIGTERM):
     it must leave nothing the service can't use. The service then starts
     (Type=notify: `systemctl start` returns once READY=1 came, the unit is
     active/running), its STATUS= text sums up the cluster, and it holds no
     cluster for an unreadable journal (the journal belongs to failoverd).
  2. journald has the daemon's entries with their fields (EVENT, CLUSTER, NODE,
     SYSLOG_IDENTIFIER=failoverd).
  3. The hardening reaches the hooks: db3 is killed, the node_down hook runs as
     failoverd with no capabilities, no_new_privs and a seccomp filter, /etc
     read-only and /home hidden.
  4. `systemctl reload` (ExecReload: failoverctl reload) fails when the file is
     rejected, and the daemon runs on unchanged; a good file reloads.
  5. The watchdog: the daemon is stopped (SIGSTOP): its loop makes no progress,
     WatchdogSec=10s fires, systemd kills it (SIGABRT) and Restart= starts a
     new one.
  6. Restart= after SIGKILL: a new process, active again.
  7. `systemctl stop`: a clean stop (exit 0, daemon_stopping logged), the
     runtime directory gone.
The container is powered off, its mounts removed, the lab brought down.
MariaDB only: what is tested is the service, not the flavor.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

HOOK = """#!/bin/sh
# node_down hook of 84-systemd-real: what the unit's hardening leaves it.
out=/var/lib/failoverd/hook.out
{
  echo "uid=$(id -u)"
  echo "user=$(id -un)"
  grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
  if touch /etc/failoverd/hook-was-here 2>/dev/null; then echo "etc=writable"; else echo "etc=readonly"; fi
  if ls /home >/dev/null 2>&1 && [ -n "$(ls -A /home 2>/dev/null)" ]; then echo "home=visible"; else echo "home=hidden"; fi
  echo "node=$FAILOVERD_NODE"
} >"$out.tmp" && mv "$out.tmp" "$out"
"""


def say(msg):
    print("[84] %s" % msg, flush=True)


def need_nspawn():
    if shutil.which("systemd-nspawn"):
        return
    say("installing systemd-container (systemd-nspawn)")
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    "systemd-container"], check=True, capture_output=True, timeout=600,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


class Container:
    """A booted systemd container on an overlay of the host's root."""

    def __init__(self, netns, name):
        self.netns, self.name = netns, name
        self.dir = tempfile.mkdtemp(prefix="failoverd-84-")
        self.mounted = []
        self.proc = None
        self.init = None
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", self.dir], check=True)
        self.mounted.append(self.dir)
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(self.dir, d))
        self.root = os.path.join(self.dir, "root")
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        "lowerdir=/,upperdir=%s/upper,workdir=%s/work" % (self.dir, self.dir),
                        self.root], check=True)
        self.mounted.append(self.root)
        # A machine of its own: systemd wants its own machine id.
        with open(os.path.join(self.root, "etc", "machine-id"), "w") as f:
            f.write(uuid.uuid4().hex + "\n")
        self.log_path = os.path.join(self.dir, "boot.log")

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def boot(self, timeout=120):
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            # nsenter, not `ip netns exec`: that remounts /sys, hiding the
            # cgroup hierarchy systemd-nspawn must see.
            ["nsenter", "--net=/run/netns/" + self.netns, "systemd-nspawn", "--boot",
             "--keep-unit",
             "--register=no", "--console=passive", "-D", self.root, "--machine=" + self.name],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()

        def init_pid():
            if self.proc.poll() is not None:
                raise labkit.LabError("systemd-nspawn exited %s:\n%s" % (
                    self.proc.returncode, open(self.log_path).read()))
            out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,comm="], capture_output=True,
                                 text=True).stdout
            rows = [r.split(None, 2) for r in out.splitlines()]
            nspawn = [int(p) for p, pp, c in rows if c == "systemd-nspawn"]
            kids = [int(p) for p, pp, c in rows if int(pp) in nspawn and c == "systemd"]
            for k in kids:  # ours: its root is our overlay
                try:
                    if os.readlink("/proc/%d/root" % k) == self.root or \
                            os.path.samefile("/proc/%d/root" % k, self.root):
                        return k
                except OSError:
                    pass
            return None
        wait_for(init_pid, 30, what="the container's systemd")
        self.init = init_pid()

        def booted():
            p = self.sh("systemctl is-system-running", check=False)
            return p.stdout.strip() in ("running", "degraded")
        wait_for(booted, timeout, what="the container to finish booting")

    def sh(self, cmd, check=True, timeout=90):
        p = subprocess.run(["nsenter", "-t", str(self.init), "-a", "/usr/bin/env", "-i",
                            "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "/bin/sh", "-c", cmd],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise labkit.LabError("in the container: %s: exit %d\n%s%s" % (
                cmd, p.returncode, p.stdout, p.stderr))
        return p

    def show(self, unit="failoverd"):
        out = self.sh("systemctl show %s -p ActiveState,SubState,StatusText,MainPID,NRestarts,"
                      "Result,ExecMainStatus,ExecMainCode" % unit).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, *args):
        out = self.sh("journalctl --no-pager -u failoverd " + " ".join(args), check=False)
        return out.stdout

    def close(self):
        if self.proc and self.proc.poll() is None:
            # systemd-nspawn turns SIGTERM into a clean shutdown of the container.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for m in reversed(self.mounted):
            subprocess.run(["umount", m], capture_output=True)
        self.mounted = []
        shutil.rmtree(self.dir, ignore_errors=True)


def config(lab, extra=""):
    users = lab.desc["users"]
    nodes = ",\n".join('      { name = "%s"; host = "%s"; port = %d; }'
                       % (n["name"], n["address"], n["port"]) for n in lab.desc["nodes"])
    return """daemon = {
  probe_interval = "500ms";
};
clusters = (
  {
    name = "main";
    user = "%s";
    password = "%s";
    repl_user = "%s";
    repl_password = "%s";
    auto_failover = false;
    hooks = { node_down = "/etc/failoverd/hooks/node-down"; };
    nodes = (
%s
    );
%s
  }
);
""" % (users["admin"]["user"], users["admin"]["password"], users["repl"]["user"],
       users["repl"]["password"], nodes, extra)


def main():
    need_nspawn()
    with labkit.Lab.up("mariadb", 3, name=labkit.unique_name("fo84"), vip=False) as lab:
        c = Container(lab.client_ns, labkit.unique_name("fo84"))
        try:
            run(lab, c)
        except Exception:
            sys.stderr.write("--- failoverd's journal in the container ---\n%s\n"
                             % c.journal("-n", "80") if c.init else "")
            raise
        finally:
            c.close()
        check(not os.path.ismount(c.root) and not os.path.exists(c.dir),
              "the container's mounts and directory are gone")


def run(lab, c):
    build = fokit.BUILD
    subprocess.run(["cmake", "--install", build, "--prefix", "/usr"], check=True,
                   capture_output=True, env=dict(os.environ, DESTDIR=c.root))
    os.makedirs(c.path("/etc/failoverd/hooks"), exist_ok=True)
    with open(c.path("/etc/failoverd/hooks/node-down"), "w") as f:
        f.write(HOOK)
    os.chmod(c.path("/etc/failoverd/hooks/node-down"), 0o755)
    conf = c.path("/etc/failoverd/failoverd.conf")
    with open(conf, "w") as f:
        f.write(config(lab))
    os.chmod(conf, 0o600)
    say("booting systemd in a container in %s" % lab.client_ns)
    c.boot()
    # Boot ran sysusers.d and tmpfiles.d: the failoverd user and its directory.
    c.sh("getent passwd failoverd && test -d /var/lib/failoverd")
    c.sh("chgrp failoverd /etc/failoverd/failoverd.conf && chmod 0640 /etc/failoverd/failoverd.conf")

    # 1. A run by hand as root first, then the service.
    say("failoverd run by hand as root, then stopped")
    c.sh("/usr/sbin/failoverd -c /etc/failoverd/failoverd.conf >/tmp/by-hand.log 2>&1 & "
         "pid=$!; for i in $(seq 100); do [ -S /run/failoverd/control.sock ] && break; sleep 0.1; done; "
         "sleep 1; kill -TERM $pid; wait $pid")
    owner = c.sh("stat -c %U /var/lib/failoverd/journal.jsonl").stdout.strip()
    say("the journal the root daemon left belongs to %s" % owner)
    c.sh("systemctl start failoverd", timeout=120)
    st = c.show()
    check(st["ActiveState"] == "active" and st["SubState"] == "running",
          "Type=notify: active/running once start returns: %s" % st)
    check("1 cluster, 3 of 3 nodes up" in st.get("StatusText", ""),
          "STATUS= sums up the clusters and nodes: %r" % st.get("StatusText"))
    say("active; STATUS=%s" % st["StatusText"])
    status = json.loads(c.sh("failoverctl --json status").stdout)
    cl = status["clusters"][0]
    check(owner == "failoverd" and not cl.get("state_unknown") and cl["verdict"] == "healthy",
          "after a run as root the service can use its journal (owner %s), no cluster held: "
          "verdict %s, %s" % (owner, cl["verdict"], cl.get("state_unknown")))

    # 2. journald fields.
    entries = [json.loads(line) for line in c.journal("-o", "json").splitlines()
               if line.startswith("{")]
    started = [e for e in entries if e.get("EVENT") == "daemon_started"]
    check(started and started[-1].get("SYSLOG_IDENTIFIER") == "failoverd",
          "journald has EVENT=daemon_started from failoverd: %s" % started[-1:])
    up = [e for e in entries if e.get("EVENT") and e.get("CLUSTER") == "main" and e.get("NODE")]
    check(up, "journald entries carry CLUSTER and NODE")
    say("journald: %d entries, EVENT/CLUSTER/NODE fields present" % len(entries))

    # 3. The hardening, as a hook sees it.
    lab.kill("db3")
    out = c.path("/var/lib/failoverd/hook.out")
    wait_for(lambda: os.path.exists(out), 60, what="the node_down hook")
    hook = dict(line.split("=", 1) if "=" in line else line.split(":\t", 1)
                for line in open(out).read().splitlines())
    say("the hook saw: %s" % hook)
    check(hook.get("user") == "failoverd" and hook.get("node") == "db3",
          "the hook runs as failoverd for db3")
    check(int(hook["CapEff"].strip(), 16) == 0 and int(hook["CapBnd"].strip(), 16) == 0,
          "no capabilities, none to gain")
    check(hook["NoNewPrivs"].strip() == "1" and hook["Seccomp"].strip() == "2",
          "no_new_privs and a seccomp filter")
    check(hook["etc"] == "readonly" and hook["home"] == "hidden",
          "ProtectSystem=strict and ProtectHome=yes reach the hook")
    lab.start("db3")

    # 4. systemctl reload fails on a rejected file.
    pid = c.show()["MainPID"]
    with open(conf, "a") as f:
        f.write('\n"a syntax error"\n')
    p = c.sh("systemctl reload failoverd", check=False)
    check(p.returncode != 0, "systemctl reload fails on a rejected file: exit %d" % p.returncode)
    st = c.show()
    check(st["ActiveState"] == "active" and st["MainPID"] == pid,
          "the daemon runs on after a rejected reload: %s" % st)
    with open(conf, "w") as f:
        f.write(config(lab))
    c.sh("systemctl reload failoverd")
    say("reload: rejected file -> exit %d, good file -> 0" % p.returncode)

    # 5. The watchdog.
    restarts = int(c.show()["NRestarts"])
    c.sh("kill -STOP %s" % pid)
    say("loop stalled (SIGSTOP of %s); waiting for the watchdog" % pid)
    wait_for(lambda: int(c.show()["NRestarts"]) > restarts and c.show()["ActiveState"] == "active"
             and c.show()["MainPID"] not in (pid, "0"), 60, what="the watchdog restart")
    log = c.journal()
    check("Watchdog timeout" in log, "systemd logged the watchdog timeout")
    check("status=6/ABRT" in log, "the stalled daemon was killed with SIGABRT")
    say("watchdog fired, SIGABRT, restarted")

    # 6. Restart= after SIGKILL.
    st = c.show()
    pid, restarts = st["MainPID"], int(st["NRestarts"])
    c.sh("kill -KILL %s" % pid)
    wait_for(lambda: int(c.show()["NRestarts"]) > restarts and c.show()["ActiveState"] == "active"
             and c.show()["MainPID"] not in (pid, "0"), 60, what="the restart after SIGKILL")
    say("restarted after SIGKILL")

    # 7. A clean stop.
    c.sh("systemctl stop failoverd", timeout=120)
    st = c.show()
    check(st["ActiveState"] == "inactive" and st["Result"] == "success"
          and st["ExecMainStatus"] == "0", "a clean stop: %s" % st)
    check(c.sh("test ! -e /run/failoverd", check=False).returncode == 0,
          "the runtime directory is gone")
    check(any(json.loads(line).get("EVENT") == "daemon_stopping"
              for line in c.journal("-o", "json").splitlines() if line.startswith("{")),
          "daemon_stopping in the journal")
    say("stopped cleanly")


if __name__ == "__main__":
    fokit.run_main(main)
