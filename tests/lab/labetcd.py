"""An etcd cluster next to a lab, for the manager high-availability tests
(docs/ha.md): three members on the loopback of the lab's client namespace,
where failoverd runs, each with its data directory in the lab's state
directory (tmpfs under /run). `lab down` ends them with the rest of the lab
(they run in its namespace, and their command lines name its directory);
stop() ends them by PID first.

The managers are several failoverd processes in the same namespace, each with
its own control socket and state directory (fokit.Daemon with a coordination
group); faults on a manager are signals to its PID."""
import json
import os
import signal
import subprocess

import labkit

CLIENT_PORT = 23791  # member i (0-based) listens on CLIENT_PORT + i
PEER_PORT = 23801


class Etcd:
    def __init__(self, lab, members=3):
        self.lab = lab
        self.n = members
        self.dir = os.path.join(lab.desc["state_dir"], "etcd")
        self.procs = {}
        self.proxies = []

    def endpoints(self):
        return ["http://127.0.0.1:%d" % (CLIENT_PORT + i) for i in range(self.n)]

    def _argv(self, i):
        cluster = ",".join("e%d=http://127.0.0.1:%d" % (k, PEER_PORT + k) for k in range(self.n))
        client = "http://127.0.0.1:%d" % (CLIENT_PORT + i)
        peer = "http://127.0.0.1:%d" % (PEER_PORT + i)
        return ["etcd", "--name", "e%d" % i, "--data-dir", os.path.join(self.dir, "e%d" % i),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.lab.name, "--log-level", "warn"]

    def start(self, timeout=60):
        os.makedirs(self.dir, exist_ok=True)
        for i in range(self.n):
            with open(os.path.join(self.dir, "e%d.log" % i), "ab") as out:
                p = self.lab.popen(self._argv(i), stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
            self.procs[i] = p
        labkit.wait_for(self.healthy, timeout, interval=0.2, what="the etcd cluster to be healthy")
        labkit.log("etcd: %d members up on %s" % (self.n, ", ".join(self.endpoints())))
        return self

    def ctl(self, *args, check=True, timeout=15):
        argv = ["etcdctl", "--endpoints", ",".join(self.endpoints()),
                "--command-timeout=5s"] + list(args)
        env = dict(os.environ, ETCDCTL_API="3")
        return self.lab.run_in(argv, timeout=timeout, check=check, env=env)

    def healthy(self):
        for p in self.procs.values():
            if p.poll() is not None:
                raise labkit.LabError("an etcd member exited: %s" % p.returncode)
        return self.ctl("endpoint", "health", check=False).returncode == 0

    def get(self, key):
        """The value of key (text), or None."""
        r = self.ctl("get", key, "--print-value-only")
        out = r.stdout.strip()
        return out or None

    def get_json(self, key):
        v = self.get(key)
        return json.loads(v) if v else None

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs = {}

    def via_proxies(self, base_port):
        """Endpoints that reach the members through TCP forwarders of their
        own (socat, ports base_port + i): cutting them cuts one manager off
        etcd while the others still reach it."""
        px = Proxies(self, base_port)
        self.proxies.append(px)
        return px

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        for px in self.proxies:
            px.stop()
        self.stop()


class Proxies:
    """One forwarder per etcd member, in its own process group. cut() stops
    them (SIGSTOP): connections are still accepted by the kernel, nothing is
    answered - to the manager, etcd is behind a black hole; heal() continues
    them."""

    def __init__(self, etcd, base_port):
        self.etcd = etcd
        self.ports = [base_port + i for i in range(etcd.n)]
        self.procs = []
        for i, port in enumerate(self.ports):
            argv = ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr" % port,
                    "TCP:127.0.0.1:%d" % (CLIENT_PORT + i)]
            self.procs.append(etcd.lab.popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, start_new_session=True))

    def endpoints(self):
        return ["http://127.0.0.1:%d" % p for p in self.ports]

    def _signal(self, sig):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, sig)   # the forwarder and the children it forked

    def cut(self):
        self._signal(signal.SIGSTOP)

    def heal(self):
        self._signal(signal.SIGCONT)

    def stop(self):
        self.heal()
        self._signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs = []
