"""An etcd cluster next to a lab, for the manager high-availability tests
(docs/ha.md): three members on the loopback of the lab's client namespace,
where failoverd runs, each with its data directory in the lab's state
directory (tmpfs under /run). `lab down` ends them with the rest of the lab
(they run in its namespace, and their command lines name its directory);
stop() ends them by PID first.

The managers are several failoverd processes in the same namespace, each with
its own control socket and state directory (fokit.Daemon with a coordination
group); faults on a manager are signals to its PID.

Each member runs under a user id of its own (MEMBER_UID + i, no account
needed), so that partition(i) can drop every packet it sends on the
namespace's loopback (nftables `meta skuid`) as well as every packet sent to
its ports: the member is cut off from its peers and clients both ways, and
heal(i) puts it back. Its PID is kept in DIR/eI.pid, so a later process (the
`lab etcd` command) finds the members again; a PID is signalled only after its
command line was checked."""
import json
import os
import signal
import subprocess

import labkit

CLIENT_PORT = 23791  # member i (0-based) listens on CLIENT_PORT + i
PEER_PORT = 23801
MEMBER_UID = 23790   # member i runs as uid/gid MEMBER_UID + i


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
        uid = MEMBER_UID + i
        return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
                "etcd", "--name", "e%d" % i, "--data-dir", os.path.join(self.dir, "e%d" % i),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.lab.name, "--log-level", "warn"]

    def start(self, timeout=60):
        os.makedirs(self.dir, exist_ok=True)
        for i in range(self.n):
            self.start_member(i)
        labkit.wait_for(self.healthy, timeout, interval=0.2, what="the etcd cluster to be healthy")
        labkit.log("etcd: %d members up on %s" % (self.n, ", ".join(self.endpoints())))
        return self

    def start_member(self, i):
        """Starts member i (again, after kill: it rejoins with its data)."""
        if self.member_alive(i):
            raise labkit.LabError("etcd member e%d is running already" % i)
        data = os.path.join(self.dir, "e%d" % i)
        os.makedirs(data, mode=0o700, exist_ok=True)
        os.chown(data, MEMBER_UID + i, MEMBER_UID + i)
        with open(os.path.join(self.dir, "e%d.log" % i), "ab") as out:
            p = self.lab.popen(self._argv(i), stdin=subprocess.DEVNULL, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[i] = p
        with open(self._pid_path(i), "w") as f:
            f.write("%d\n" % p.pid)
        return p.pid

    @classmethod
    def attach(cls, lab):
        """The members a previous process started for lab (from their PID
        files); raises LabError if none were."""
        e = cls(lab)
        found = sorted(int(f[1:-4]) for f in (os.listdir(e.dir) if os.path.isdir(e.dir) else [])
                       if f.startswith("e") and f.endswith(".pid") and f[1:-4].isdigit())
        if not found:
            raise labkit.LabError("lab %s has no etcd (lab etcd up)" % lab.name)
        e.n = found[-1] + 1
        return e

    def _pid_path(self, i):
        return os.path.join(self.dir, "e%d.pid" % i)

    def member_pid(self, i):
        try:
            with open(self._pid_path(i)) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _needle(self, i):
        return os.path.join(self.dir, "e%d" % i) + " "

    def member_alive(self, i):
        pid = self.member_pid(i)
        return labkit.pid_alive(pid) and self._needle(i) in labkit._cmdline(pid) + " "

    def signal_member(self, i, sig):
        """Sends sig to member i (by PID, checked); False if it is not running."""
        return labkit._signal_pid(self.member_pid(i), sig, self._needle(i).strip())

    def kill_member(self, i):
        if not self.signal_member(i, signal.SIGKILL):
            raise labkit.LabError("etcd member e%d is not running" % i)
        labkit.wait_for(lambda: not labkit.pid_alive(self.member_pid(i)), 10,
                        what="etcd member e%d to end" % i)

    def partition(self, i):
        """Cuts member i off its peers and clients, both ways (see above)."""
        ports = "{ %d, %d }" % (CLIENT_PORT + i, PEER_PORT + i)
        rules = ("table inet labetcd_e%d {\n chain out {\n  type filter hook output priority 0;\n"
                 "  meta skuid %d drop\n  tcp dport %s drop\n }\n}\n"
                 % (i, MEMBER_UID + i, ports))
        self.heal(i)
        self.lab.run_in(["nft", "-f", "-"], input=rules)

    def heal(self, i=None):
        """Removes the partition of member i (of every member without i)."""
        for k in range(self.n) if i is None else (i,):
            self.lab.run_in(["nft", "delete", "table", "inet", "labetcd_e%d" % k], check=False)

    def partitioned(self):
        r = self.lab.run_in(["nft", "list", "tables"], check=False)
        return sorted(int(w[len("labetcd_e"):]) for w in r.stdout.split()
                      if w.startswith("labetcd_e"))

    def member_status(self):
        """Per member: name, endpoint, pid, process (running, stopped, dead),
        partitioned, and what `etcdctl endpoint status` says of it."""
        cut = self.partitioned()
        out = []
        for i in range(self.n):
            pid = self.member_pid(i)
            alive = self.member_alive(i)
            proc = "dead" if not alive else ("stopped" if _stopped(pid) else "running")
            row = {"name": "e%d" % i, "endpoint": self.endpoints()[i], "pid": pid,
                   "process": proc, "partitioned": i in cut}
            if proc == "running":
                r = self.lab.run_in(["etcdctl", "--endpoints", self.endpoints()[i],
                                     "--command-timeout=2s", "-w", "json", "endpoint", "status"],
                                    check=False, timeout=10, env={"ETCDCTL_API": "3"})
                try:
                    st = json.loads(r.stdout)[0]["Status"]
                    row["leader"] = st["leader"] == st["header"]["member_id"]
                    row["raft_term"] = st["raftTerm"]
                except (ValueError, KeyError, IndexError, TypeError):
                    row["error"] = (r.stderr.strip().splitlines() or ["no answer"])[-1][:120]
            out.append(row)
        return out

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
        self.stop_attached()

    def stop_attached(self, timeout=15):
        """Ends the members another process started (by their PID files):
        SIGCONT and SIGTERM, then SIGKILL what is left after timeout."""
        for i in range(self.n):
            self.signal_member(i, signal.SIGCONT)
            self.signal_member(i, signal.SIGTERM)
        try:
            labkit.wait_for(lambda: not any(self.member_alive(i) for i in range(self.n)),
                            timeout, interval=0.1, what="the etcd members to end")
        except labkit.WaitTimeout:
            for i in range(self.n):
                self.signal_member(i, signal.SIGKILL)
        self.heal()

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

    def __init__(self, etcd, base_port, pid_file=None):
        """pid_file: where to note the forwarders' PIDs, for a later process
        (attach)."""
        self.etcd = etcd
        self.ports = [base_port + i for i in range(etcd.n)]
        self.procs = []
        for i, port in enumerate(self.ports):
            argv = ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr" % port,
                    "TCP:127.0.0.1:%d" % (CLIENT_PORT + i)]
            self.procs.append(etcd.lab.popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, start_new_session=True))
        if pid_file:
            with open(pid_file, "w") as f:
                f.write(json.dumps({"base_port": base_port,
                                    "pids": [p.pid for p in self.procs]}) + "\n")

    @staticmethod
    def signal_attached(pid_file, sig):
        """Sends sig to the process groups of the forwarders noted in
        pid_file by another process (each PID checked first); returns how
        many were signalled."""
        try:
            with open(pid_file) as f:
                noted = json.load(f)
        except (OSError, ValueError):
            return 0
        sent = 0
        for i, pid in enumerate(noted["pids"]):
            if labkit.pid_alive(pid) and \
                    "TCP-LISTEN:%d," % (noted["base_port"] + i) in labkit._cmdline(pid):
                try:
                    os.killpg(pid, sig)
                    sent += 1
                except ProcessLookupError:
                    pass
        return sent

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


def _stopped(pid):
    """True if the process is stopped (SIGSTOP)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


# ---- member faults by role (the etcd fault tests) ------------------------------------------

def leader_member(etcd, timeout=30):
    """The index of the member that leads the etcd cluster now, as `etcdctl
    endpoint status` says (waits, bounded, until exactly one running member
    says it leads)."""
    def one():
        lead = [i for i, row in enumerate(etcd.member_status()) if row.get("leader")]
        return [lead[0]] if len(lead) == 1 else None
    return labkit.wait_for(one, timeout, interval=0.2, what="exactly one etcd member to lead")[0]


def stop_member(etcd, i):
    """SIGSTOP member i: its process hangs, its connections stay open."""
    if not etcd.signal_member(i, signal.SIGSTOP):
        raise labkit.LabError("etcd member e%d is not running" % i)


def cont_member(etcd, i):
    if not etcd.signal_member(i, signal.SIGCONT):
        raise labkit.LabError("etcd member e%d is not running" % i)


def wait_member_back(etcd, i, timeout=30):
    """Member i runs and answers `endpoint status` with the cluster's raft
    term (it rejoined), and the cluster is healthy."""
    def back():
        rows = etcd.member_status()
        row = rows[i]
        terms = {r.get("raft_term") for r in rows if r.get("raft_term")}
        return row["process"] == "running" and row.get("raft_term") and len(terms) == 1 \
            and etcd.healthy()
    labkit.wait_for(back, timeout, interval=0.3, what="etcd member e%d to rejoin" % i)


def move_leader(etcd, i, timeout=30):
    """Makes member i the etcd cluster's leader (`etcdctl move-leader`, asked
    of the current leader) and waits until it leads."""
    cur = leader_member(etcd, timeout)
    if cur == i:
        return
    members = json.loads(etcd.ctl("member", "list", "-w", "json").stdout)["members"]
    mid = next(m["ID"] for m in members if m.get("name") == "e%d" % i)
    etcd.lab.run_in(["etcdctl", "--endpoints", etcd.endpoints()[cur], "--command-timeout=5s",
                     "move-leader", "%x" % mid], timeout=15, env=dict(os.environ, ETCDCTL_API="3"))
    labkit.wait_for(lambda: leader_member(etcd, timeout) == i, timeout, interval=0.2,
                    what="etcd member e%d to lead" % i)


# ---- etcd over TLS (88-ha-etcd-tls.py) --------------------------------------------------------

class TlsEtcd(Etcd):
    """The same cluster with TLS everywhere: clients and peers on https://,
    each side showing a certificate of a throwaway CA in DIR/tls and
    demanding one from the other (--client-cert-auth, --peer-client-cert-auth).
    Each member has its own certificate and key (subjectAltName IP:127.0.0.1),
    owned by its user id; the clients' (the managers', etcdctl's) is
    client-cert.pem / client-key.pem, 0600, root's."""

    def __init__(self, lab, members=3):
        super().__init__(lab, members)
        self.tls_dir = os.path.join(self.dir, "tls")
        self.ca = os.path.join(self.tls_dir, "ca.pem")
        self.cert = os.path.join(self.tls_dir, "client-cert.pem")
        self.key = os.path.join(self.tls_dir, "client-key.pem")

    def endpoints(self):
        return ["https://127.0.0.1:%d" % (CLIENT_PORT + i) for i in range(self.n)]

    def _argv(self, i):
        argv = [a.replace("http://", "https://") for a in super()._argv(i)]
        mcert, mkey = self._member_files(i)
        return argv + ["--cert-file", mcert, "--key-file", mkey, "--trusted-ca-file", self.ca,
                       "--client-cert-auth", "--peer-cert-file", mcert, "--peer-key-file", mkey,
                       "--peer-trusted-ca-file", self.ca, "--peer-client-cert-auth"]

    def _member_files(self, i):
        return (os.path.join(self.tls_dir, "e%d-cert.pem" % i),
                os.path.join(self.tls_dir, "e%d-key.pem" % i))

    def _leaf(self, name, ext, cert, key):
        csr = os.path.join(self.tls_dir, name + ".csr")
        extfile = os.path.join(self.tls_dir, name + ".ext")
        with open(extfile, "w") as f:
            f.write(ext)
        labkit.run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=" + name])
        labkit.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                    os.path.join(self.tls_dir, "ca-key.pem"), "-CAcreateserial", "-out", cert,
                    "-days", "30", "-extfile", extfile])
        os.chmod(key, 0o600)

    def make_certs(self):
        os.makedirs(self.tls_dir, exist_ok=True)
        os.chmod(self.tls_dir, 0o755)
        labkit.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    os.path.join(self.tls_dir, "ca-key.pem"), "-out", self.ca, "-days", "30",
                    "-subj", "/CN=failoverd lab %s etcd CA" % self.lab.name])
        for i in range(self.n):
            cert, key = self._member_files(i)
            self._leaf("e%d" % i, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                       "keyUsage=digitalSignature,keyEncipherment\n"
                       "extendedKeyUsage=serverAuth,clientAuth\n", cert, key)
            os.chown(key, MEMBER_UID + i, MEMBER_UID + i)
        self._leaf("client", "basicConstraints=CA:FALSE\n"
                   "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
                   self.cert, self.key)

    def start(self, timeout=60):
        os.makedirs(self.dir, exist_ok=True)
        self.make_certs()
        return super().start(timeout)

    def ctl(self, *args, check=True, timeout=15):
        return super().ctl("--cacert", self.ca, "--cert", self.cert, "--key", self.key,
                           *args, check=check, timeout=timeout)

    def coordination_extra(self):
        """The TLS settings of a manager's coordination group."""
        return 'etcd_ca = "%s";\n  etcd_cert = "%s";\n  etcd_key = "%s";' % (
            self.ca, self.cert, self.key)

    def capture_start(self, path):
        """tcpdump on the loopback of the namespace where etcd and the
        managers run, of every member's client and peer port; ends with
        capture_stop() (by its PID)."""
        ports = "tcp portrange %d-%d or tcp portrange %d-%d" % (
            CLIENT_PORT, CLIENT_PORT + self.n - 1, PEER_PORT, PEER_PORT + self.n - 1)
        out = open(path + ".out", "wb")
        # --immediate-mode: without it this kernel hands tcpdump nothing of a
        # short capture.
        self.capture = self.lab.popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n",
                                       "-s", "0", "-w", path, ports],
                                      stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        out.close()

        def listening():
            if self.capture.poll() is not None:
                raise labkit.LabError("tcpdump exited: " + open(path + ".out").read()[-300:])
            return "listening on" in open(path + ".out").read()
        labkit.wait_for(listening, 15, what="tcpdump to listen")
        self.capture_path = path

    def capture_stop(self):
        """Ends the capture (SIGTERM: tcpdump writes what it holds); returns
        its bytes."""
        p, self.capture = getattr(self, "capture", None), None
        if p is None:
            return b""
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        with open(self.capture_path, "rb") as f:
            return f.read()

    def stop(self):
        self.capture_stop()
        super().stop()
