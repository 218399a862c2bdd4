"""failoverd managers next to a lab, coordinated through the lab's etcd
(docs/ha.md): the `coordination` group of each one's configuration, and the
managers the `lab manager` command starts and drives.

A manager N (1, 2, 3 ...) is called mN. The command's managers live in the
lab's state directory, DIR/managers/mN/ (configuration, control socket,
state, log, PID file); each one reaches etcd through forwarders of its own
(labetcd.Proxies on ports PROXY_BASE + 10 * N + i), so `cut_etcd()` cuts it
alone off etcd while it still reaches the databases. Every signal goes to a
PID whose command line was checked first; `lab down` ends whatever is left
(it all runs in the lab's client namespace).

tests/integration/hakit.py builds its managers (fokit.Daemon) with
coordination_text() from here."""
import json
import os
import signal
import subprocess

import labetcd
import labkit

TTL = 3                 # lease_ttl of the lab's managers, seconds
PROXY_BASE = 24000      # manager N's forwarder to etcd member i: PROXY_BASE + 10 * N + i
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_dir():
    return os.environ.get("FAILOVERD_BUILD") or os.path.join(REPO, "build")


def coordination_text(endpoints, manager, ttl=TTL, timeout="1s"):
    """The configuration's coordination group of manager `manager`."""
    return """coordination = {
  mode = "etcd";
  etcd_endpoints = [ %s ];
  manager_id = "%s";
  zone = "zone-%s";
  lease_ttl = %d;
  etcd_timeout = "%s";
};""" % (", ".join('"%s"' % e for e in endpoints), manager, manager, ttl, timeout)


def config_text(lab, sock, state_dir, coordination, policy="reliability"):
    """A whole failoverd configuration for the lab's cluster `main`: every
    node, the lab's accounts, the VIP moved by plugins/vip."""
    users, vip = lab.desc["users"], lab.desc["vip"]
    nodes = ",\n".join(
        '      { name = "%s"; host = "%s"; port = %d; vars = { netns = "%s"; }; }'
        % (n["name"], n["address"], n["port"], n["namespace"]) for n in lab.desc["nodes"])
    return """daemon = { control_socket = "%s"; state_dir = "%s"; log_level = "info"; };
clusters = (
  {
    name = "main";
    user = "%s";
    password = "%s";
    repl_user = "%s";
    repl_password = "%s";
    semisync = %s;
    policy = "%s";
    plugins = (
      { path = "%s";
        config = { address = "%s/%d"; interface = "%s"; wrap = "ip netns exec {netns}"; }; }
    );
    nodes = (
%s
    );
  }
);
%s
""" % (sock, state_dir, users["admin"]["user"], users["admin"]["password"],
       users["repl"]["user"], users["repl"]["password"],
       "true" if lab.desc.get("semisync") else "false", policy,
       os.path.join(build_dir(), "plugins", "vip.so"), vip["address"], vip["prefix_len"],
       vip["interface"], nodes, coordination)


class Manager:
    """Manager mN of the `lab manager` command (see the module's comment)."""

    def __init__(self, lab, n):
        if n < 1 or n > 9:
            raise labkit.LabError("manager numbers are 1 to 9, not %s" % n)
        self.lab, self.n, self.id = lab, n, "m%d" % n
        self.dir = os.path.join(lab.desc["state_dir"], "managers", self.id)
        self.conf = os.path.join(self.dir, "failoverd.conf")
        self.sock = os.path.join(self.dir, "control.sock")
        self.log_path = os.path.join(self.dir, "failoverd.log")
        self.pid_file = os.path.join(self.dir, "failoverd.pid")
        self.proxy_file = os.path.join(self.dir, "proxies.json")

    def pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def alive(self):
        pid = self.pid()
        return labkit.pid_alive(pid) and self.conf in labkit._cmdline(pid)

    def _signal(self, sig):
        if not labkit._signal_pid(self.pid(), sig, self.conf):
            raise labkit.LabError("manager %s is not running" % self.id)

    def start(self, etcd, policy="reliability"):
        """Starts the manager (its forwarders first, once) and waits until it
        answers status; returns its PID."""
        if self.alive():
            raise labkit.LabError("manager %s is running already (pid %d)" % (self.id, self.pid()))
        os.makedirs(self.dir, exist_ok=True)
        if labetcd.Proxies.signal_attached(self.proxy_file, 0) == 0:
            labetcd.Proxies(etcd, PROXY_BASE + 10 * self.n, pid_file=self.proxy_file)
        endpoints = ["http://127.0.0.1:%d" % (PROXY_BASE + 10 * self.n + i)
                     for i in range(etcd.n)]
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:  # inline passwords: private, or failoverd refuses it
            f.write(config_text(self.lab, self.sock, os.path.join(self.dir, "state"),
                                coordination_text(endpoints, self.id), policy))
        with open(self.log_path, "ab") as log:
            p = self.lab.popen([os.path.join(build_dir(), "daemon", "failoverd"), "-c", self.conf],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                               start_new_session=True)
        with open(self.pid_file, "w") as f:
            f.write("%d\n" % p.pid)
        labkit.wait_for(lambda: self._ready(p), 20, interval=0.1,
                        what="manager %s to answer status" % self.id)
        return p.pid

    def _ready(self, p):
        if p.poll() is not None:
            raise labkit.LabError("manager %s exited with %s; its log: %s"
                                  % (self.id, p.returncode, self.log_path))
        return self.status() is not None

    def status(self):
        """failoverctl status --json of the manager, or None if it does not answer."""
        argv = [os.path.join(build_dir(), "daemon", "failoverctl"), "-s", self.sock, "--json",
                "status"]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            return json.loads(p.stdout) if p.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError, OSError):
            return None

    def stop(self, timeout=30):
        """SIGTERM (after SIGCONT, should it be paused) and a bounded wait;
        then its forwarders."""
        if self.alive():
            self._signal(signal.SIGCONT)
            self._signal(signal.SIGTERM)
            try:
                labkit.wait_for(lambda: not self.alive(), timeout, interval=0.1,
                                what="manager %s to stop" % self.id)
            except labkit.WaitTimeout:
                self._signal(signal.SIGKILL)
        labetcd.Proxies.signal_attached(self.proxy_file, signal.SIGCONT)
        labetcd.Proxies.signal_attached(self.proxy_file, signal.SIGTERM)

    def kill(self):
        self._signal(signal.SIGKILL)
        labkit.wait_for(lambda: not labkit.pid_alive(self.pid()), 10,
                        what="manager %s to end" % self.id)

    def pause(self):
        self._signal(signal.SIGSTOP)

    def cont(self):
        self._signal(signal.SIGCONT)

    def cut_etcd(self):
        """Stops the manager's forwarders: etcd is behind a black hole for it."""
        if labetcd.Proxies.signal_attached(self.proxy_file, signal.SIGSTOP) == 0:
            raise labkit.LabError("manager %s has no forwarders to etcd" % self.id)

    def heal_etcd(self):
        labetcd.Proxies.signal_attached(self.proxy_file, signal.SIGCONT)

    def etcd_cut(self):
        """True if the manager's forwarders are stopped."""
        try:
            with open(self.proxy_file) as f:
                pids = json.load(f)["pids"]
        except (OSError, ValueError, KeyError):
            return False
        return any(labetcd._stopped(p) for p in pids if labkit.pid_alive(p))

    def describe(self):
        """One row for `lab manager status`."""
        pid = self.pid()
        proc = "dead" if not self.alive() else \
            ("paused" if labetcd._stopped(pid) else "running")
        row = {"manager": self.id, "pid": pid, "process": proc, "etcd_cut": self.etcd_cut(),
               "dir": self.dir}
        st = self.status() if proc == "running" else None
        if st:
            c = st.get("coordination") or {}
            row.update(role=c.get("role"), leader=(c.get("leader") or {}).get("id"),
                       term=c.get("term"),
                       primary=next((x.get("primary") for x in st.get("clusters", [])
                                     if x.get("name") == "main"), None))
        return row


def managers_of(lab):
    """The managers the command made for lab (those with a directory)."""
    root = os.path.join(lab.desc["state_dir"], "managers")
    names = sorted(d for d in os.listdir(root)) if os.path.isdir(root) else []
    return [Manager(lab, int(d[1:])) for d in names if d[:1] == "m" and d[1:].isdigit()]
