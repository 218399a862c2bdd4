"""MHA 0.58 in the lab, for tests/bench/compare-mha.

MHA needs what the lab does not have: passwordless SSH to every database host
(its manager runs the node tools there: save_binary_logs, apply_diff_relay_logs)
and hook scripts that move the VIP. This module provides them:

  setup()          installs mha4mysql-manager, mha4mysql-node and openssh-server
                   (idempotent; no service is started by the package)
  SSHFarm          one sshd per node namespace, bound to the node's address, with
                   host keys, client key and authorized_keys in a temporary
                   directory; stopped by PID
  write_config()   MHA's application file from app.cnf.in / server.cnf.in
  Manager          masterha_manager in the client namespace; every line it logs
                   is stamped on arrival (its own timestamps have one-second
                   resolution)
  master_switch()  masterha_master_switch --master_state=alive (online switch)

MHA runs with PERL5LIB pointing at perl5/ here: two load-time adjustments
that let the packaged MHA 0.58 run against MariaDB 10.11 (see the files).
"""
import os
import re
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lab"))
import labkit  # noqa: E402

PACKAGES = ["mha4mysql-manager", "mha4mysql-node", "openssh-server"]
PERL5LIB = os.path.join(HERE, "perl5")
VIP_SCRIPT = os.path.join(HERE, "vip_hook")
SSHD = "/usr/sbin/sshd"
APP = "lab"

# The adjustments, as printed in the benchmark's output.
OVERLAY_NOTE = ("MHA 0.58 runs unchanged except for a PERL5LIB overlay applied at load time "
                "(tests/bench/mha/perl5): MHA/NodeUtil.pm compiled with `no warnings "
                "'redundant'` (MariaDB's version string makes its version sprintf warn, and "
                "its warnings are fatal), and MHA/SlaveUtil.pm's check_if_super_read_only() "
                "answers 'off' where @@super_read_only does not exist (MariaDB).")


def _missing(packages):
    out = []
    for p in packages:
        r = labkit.run(["dpkg-query", "-W", "-f=${Status}", p], check=False)
        if "install ok installed" not in r.stdout:
            out.append(p)
    return out


def setup(say=labkit.log):
    """Installs MHA and sshd with apt if missing. Returns what it did."""
    missing = _missing(PACKAGES)
    if not missing:
        return []
    say(f"installing {' '.join(missing)}")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    labkit.run(["apt-get", "update", "-qq"], timeout=900, env=env)
    labkit.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + wait + missing,
               timeout=1800, env=env)
    return ["installed " + " ".join(missing)]


def versions():
    """Installed versions of the MHA packages and OpenSSH."""
    out = {}
    for p in PACKAGES:
        r = labkit.run(["dpkg-query", "-W", "-f=${Version}", p], check=False)
        out[p] = r.stdout.strip() or None
    return out


# ---------------------------------------------------------------- ssh

class SSHFarm:
    """One sshd per node of a lab, in the node's namespace, listening on the
    node's address only. Root logs in with a key made for this farm; the
    sessions get PERL5LIB (the overlay) from sshd's SetEnv, so the node tools
    MHA runs over SSH get it too."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.dir = os.path.join(workdir, "ssh")
        os.makedirs(self.dir, mode=0o700)
        self.key = os.path.join(self.dir, "id_ed25519")
        self.procs = {}

    @property
    def ssh_options(self):
        """What MHA adds to every ssh/scp command line (its own options stay)."""
        return f"-i {self.key} -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"

    def start(self, timeout=15):
        # Privilege separation needs this directory (sshd's compiled-in path).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        hostkey = os.path.join(self.dir, "host_ed25519")
        labkit.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench-host", "-f", hostkey])
        labkit.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench-mha", "-f", self.key])
        auth = os.path.join(self.dir, "authorized_keys")
        shutil.copy(self.key + ".pub", auth)
        os.chmod(auth, 0o600)
        for n in self.lab.nodes:
            conf = os.path.join(self.dir, f"sshd-{n.name}.conf")
            with open(conf, "w") as f:
                f.write(f"""# sshd of lab node {n.name} for the MHA benchmark
ListenAddress {n.address}:22
HostKey {hostkey}
PidFile {self.dir}/sshd-{n.name}.pid
AuthorizedKeysFile {auth}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
UseDNS no
MaxStartups 100
MaxSessions 100
LogLevel ERROR
SetEnv PERL5LIB={PERL5LIB}
Subsystem sftp internal-sftp
""")
            out = open(os.path.join(self.dir, f"sshd-{n.name}.log"), "ab")
            p = self.lab.popen([SSHD, "-D", "-e", "-f", conf], node=n, stdin=subprocess.DEVNULL,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            out.close()
            self.procs[n.name] = p
        for n in self.lab.nodes:
            labkit.wait_for(lambda n=n: self._listening(n), timeout, what=f"sshd on {n.name}")
        # Every node reaches every node (MHA checks all pairs).
        r = self.lab.run_in(["ssh"] + self.ssh_options.split() +
                            ["-o", "StrictHostKeyChecking=no", "-o", "BatchMode=yes",
                             f"root@{self.lab.nodes[0].address}", "echo $PERL5LIB"], timeout=20)
        if PERL5LIB not in r.stdout:
            raise labkit.LabError(f"ssh sessions do not get PERL5LIB: {r.stdout!r}")

    def _listening(self, n):
        p = self.procs[n.name]
        if p.poll() is not None:
            log = open(os.path.join(self.dir, f"sshd-{n.name}.log"), errors="replace").read()
            raise labkit.LabError(f"sshd on {n.name} exited: {log[-500:]}")

        def probe():
            import socket
            with socket.create_connection((n.address, 22), timeout=1) as s:
                return s.recv(4).startswith(b"SSH-")
        try:
            return labkit.in_netns(self.lab.client_ns, probe)
        except OSError:
            return False

    def stop(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.procs = {}


# ---------------------------------------------------------------- config

def write_config(lab, workdir, ssh_options, ping_interval=3, release_at="stop",
                 secondary_hosts=()):
    """MHA's application file for the lab; returns its path. MHA logs in as
    the lab's labroot account (it needs SUPER-like rights: FLUSH TABLES WITH
    READ LOCK, CHANGE MASTER, SET GLOBAL read_only, KILL). With
    secondary_hosts (addresses), MHA confirms a failed primary through them
    with its masterha_secondary_check (ssh to each, a TCP connection from
    there to the primary's port) before it fails over."""
    users = lab.desc["users"]
    with open(os.path.join(HERE, "server.cnf.in")) as f:
        server_t = string.Template(f.read())
    with open(os.path.join(HERE, "app.cnf.in")) as f:
        app_t = string.Template(f.read())
    servers = "".join(server_t.substitute(section=f"server{i}", address=n.address, port=n.port,
                                          datadir=n.datadir, tmpdir=os.path.join(n.dir, "tmp"))
                      for i, n in enumerate(lab.nodes, 1))
    mdir = os.path.join(workdir, "manager")
    os.makedirs(mdir, exist_ok=True)
    text = app_t.substitute(user=users["labroot"]["user"], password=users["labroot"]["password"],
                            repl_user=users["repl"]["user"], repl_password=users["repl"]["password"],
                            ssh_options=ssh_options, workdir=mdir, ping_interval=ping_interval,
                            vip_script=VIP_SCRIPT, lab=lab.name,
                            vip_log=os.path.join(workdir, "vip.log"), release_at=release_at,
                            secondary=secondary_line(secondary_hosts), servers=servers)
    path = os.path.join(workdir, f"{APP}.cnf")
    with open(path, "w") as f:
        f.write(text)
    return path


def secondary_line(hosts):
    """The secondary_check_script setting for the given hosts, or nothing."""
    if not hosts:
        return ""
    return ("secondary_check_script=masterha_secondary_check "
            + " ".join(f"-s {h}" for h in hosts) + "\n")


def prepare_lab(lab):
    """What MHA expects of the servers: relay logs kept after they are applied
    (MHA recovers other replicas from them), on every node."""
    for n in lab.nodes:
        lab.sql(n, "SET GLOBAL relay_log_purge=0")


def env():
    e = dict(os.environ)
    e["PERL5LIB"] = PERL5LIB + (":" + e["PERL5LIB"] if e.get("PERL5LIB") else "")
    return e


def read_vip_log(workdir):
    """The VIP script's calls: [{kind, command, start_us, end_us, rc, ...}]."""
    out = []
    try:
        with open(os.path.join(workdir, "vip.log")) as f:
            for line in f:
                parts = line.split()
                d = {"kind": parts[0], "command": parts[1]}
                d.update(kv.split("=", 1) for kv in parts[2:] if "=" in kv)
                for k in ("start_us", "end_us", "rc"):
                    d[k] = int(d[k])
                out.append(d)
    except FileNotFoundError:
        pass
    return out


# ---------------------------------------------------------------- manager

class Stamped:
    """A child process whose stdout and stderr lines are stamped with the time
    they arrive (CLOCK_REALTIME) and written to a file."""

    def __init__(self, lab, argv, logpath):
        self.logpath = logpath
        self.lines = []          # (t, text)
        self.lock = threading.Lock()
        self.proc = lab.popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env=env(), start_new_session=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        with open(self.logpath, "a") as out:
            for raw in self.proc.stdout:
                t = time.time()
                text = raw.decode(errors="replace").rstrip("\n")
                with self.lock:
                    self.lines.append((t, text))
                out.write(f"{t:.6f} {text}\n")
                out.flush()

    def find(self, pattern, after=0.0):
        """Time of the first line matching pattern (a regex) at or after
        `after`, or None."""
        rx = re.compile(pattern)
        with self.lock:
            for t, text in self.lines:
                if t >= after and rx.search(text):
                    return t
        return None

    def text(self):
        with self.lock:
            return "\n".join(t for _, t in self.lines)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Ends the process (and the children it forked into its session: MHA
        forks one per ping) by its PID / process group id."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.wait(5) is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self.thread.join(5)


class Manager(Stamped):
    """masterha_manager for the lab's application file, in the client namespace.
    It checks the whole setup, then monitors the primary; after one failover it
    exits. --ignore_last_failover: a failover.complete file from an earlier
    trial would block the next failover for 8 hours."""

    MONITORING = r"Ping\(\w+\) succeeded, waiting until MySQL doesn't respond"
    DETECTED = r"Master is not reachable from health checker!"
    DOWN = r"Master .* is not reachable!|Master is down!"
    FAILOVER_START = r"Starting master failover"
    DONE = r"Master failover to .* completed successfully"
    # What MHA says when it does not go on.
    REFUSAL = r"[Ff]ailover should not|Failover should not start"
    COMPLAINT = r"\[(warning|error)\]"

    def __init__(self, lab, conf, logpath):
        super().__init__(lab, ["masterha_manager", f"--conf={conf}", "--ignore_last_failover"],
                         logpath)

    def wait_monitoring(self, timeout=60):
        def ready():
            if self.proc.poll() is not None:
                raise labkit.LabError(f"masterha_manager exited ({self.proc.returncode}) before "
                                      f"monitoring:\n{self.text()[-3000:]}")
            return self.find(self.MONITORING) is not None
        try:
            labkit.wait_for(ready, timeout, interval=0.1, what="masterha_manager to monitor")
        except labkit.LabError:
            raise


def last_reason(stamped, after=0.0):
    """Why MHA did not (yet) fail over, from its log at or after `after`:
    its last line saying that a failover should not happen, or else its last
    warning or error; without the date prefix, or None."""
    with stamped.lock:
        lines = [text for t, text in stamped.lines if t >= after]
    for pattern in (Manager.REFUSAL, Manager.COMPLAINT):
        rx = re.compile(pattern)
        found = [text for text in lines if rx.search(text)]
        if found:
            return re.sub(r"^.*? - (\[\w+\] )?", "", found[-1]).strip()
    return None


def master_switch(lab, conf, logpath, new_master=None, timeout=120):
    """An online switch by masterha_master_switch (the old primary becomes a
    replica of the new one). Returns the Stamped process after it ended."""
    argv = ["masterha_master_switch", f"--conf={conf}", "--master_state=alive",
            "--orig_master_is_new_slave", "--interactive=0"]
    if new_master is not None:
        argv.append(f"--new_master_host={lab.node(new_master).address}")
    s = Stamped(lab, argv, logpath)
    if s.wait(timeout) is None:
        s.stop()
        raise labkit.LabError(f"masterha_master_switch did not finish in {timeout} s:\n"
                              f"{s.text()[-3000:]}")
    s.thread.join(5)
    return s


def check_repl(lab, conf, logpath, timeout=120):
    """masterha_check_repl: MHA's own check of the setup. Returns (exit code,
    output)."""
    s = Stamped(lab, ["masterha_check_repl", f"--conf={conf}"], logpath)
    rc = s.wait(timeout)
    if rc is None:
        s.stop()
    s.thread.join(5)
    return rc, s.text()


def workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)
