"""labkit: real MariaDB and MySQL GTID clusters in network namespaces.

The lab of failoverd. Each database node runs in its own network namespace with
its own address on a private bridge (which lives in a namespace of its own); a
client namespace on the same bridge is where failoverd, the write checker and
test clients run. Faults are real: processes are killed or stopped, packets are
dropped at the bridge. Everything is found again by naming convention, so a
later `down` cleans up after a run that crashed.

Python 3 standard library only. The command line tool tests/lab/lab is a thin
layer over this module; lab tests (tests/integration/NN-name.py) import it.
docs/lab.md describes the lab for people; this docstring and the functions'
say what each call does.

Naming (one lab called NAME):
  state directory   STATE_ROOT/NAME            (lab.json, one directory per node)
  namespaces        flab-NAME-sw (the bridge), flab-NAME-client, flab-NAME-db1..dbN
  subnet            10.213.K.0/24, K derived from NAME (next free on collision);
                    the root namespace holds `unreachable 10.213.K.0/24` while up
  addresses         client .2, node dbI .(10+I), VIP .100
"""

import contextlib
import ctypes
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROVISION = os.path.join(HERE, "provision")
STATE_ROOT = os.environ.get("FAILOVERD_LAB_STATE", "/run/failoverd-lab")
CACHE_DIR = os.environ.get("FAILOVERD_LAB_CACHE", "/var/cache/failoverd-lab")
MYSQL_CHROOT = os.path.join(CACHE_DIR, "mysql-sid")
# MariaDB 11.8 comes from Debian sid too, in a chroot of its own: its packages
# conflict with MySQL's (mariadb-server-core breaks mysql-server-core).
MARIADB11_CHROOT = os.path.join(CACHE_DIR, "mariadb-sid")
DEBIAN_MIRROR = os.environ.get("FAILOVERD_LAB_MIRROR", "http://deb.debian.org/debian")

NS_PREFIX = "flab-"
SUBNET_PREFIX = "10.213."          # the lab's /16; every lab takes one /24 of it
LAB_RANGE = ipaddress.ip_network("10.213.0.0/16")
CLIENT_HOST, NODE_HOST_BASE, VIP_HOST = 2, 10, 100
PORT = 3306
# FLAVORS: what lab tests run on by default (MariaDB 10.11, MySQL 9.7);
# ALL_FLAVORS adds MariaDB 11.8 ("mariadb11"), which a few key tests run too and
# every test takes as an argument. A flavor is one server version; its family
# ("mariadb" or "mysql", see family()) decides the SQL dialect.
FLAVORS = ("mariadb", "mysql")
ALL_FLAVORS = ("mariadb", "mysql", "mariadb11")
# How the lab's nodes replicate (Lab.up): "star" db1 and its replicas; "dual"
# db1 and db2 replicating from each other (db2 read-only), the rest from db1.
TOPOLOGIES = ("star", "dual", "chain")
FAMILIES = {"mariadb": "mariadb", "mysql": "mysql", "mariadb11": "mariadb"}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,27}$")
FORMAT = 1

# Fixed credentials: the lab is reachable only from its own namespaces.
USERS = {
    "root": {"user": "root", "password": "", "how": "unix socket of each node, as OS root"},
    "labroot": {"user": "labroot", "password": "labroot-secret"},
    "admin": {"user": "failoverd", "password": "failoverd-secret"},
    "repl": {"user": "repl", "password": "repl-secret"},
    "writer": {"user": "writer", "password": "writer-secret"},
}

HOST_PACKAGES = ["mariadb-server", "mariadb-client", "iproute2", "nftables",
                 "iputils-arping", "debootstrap", "util-linux", "openssl", "tcpdump", "haproxy",
                 "systemd-container",  # systemd-nspawn: 84-systemd-real boots a real systemd
                 "etcd-server", "etcd-client",  # the managers' coordination (labetcd.py)
                 "openssh-server", "openssh-client",  # labssh.py: a real sshd per node
                 "socat"]  # a manager's own way to etcd, to cut it off (labetcd.Proxies)
CHROOT_PACKAGES = ["mysql-server-core", "mysql-client-core"]
# Flavors whose server runs in a Debian sid chroot: where, what to install in
# it, the server binary inside it, and what to call it in messages.
CHROOTS = {
    "mysql": {"dir": MYSQL_CHROOT, "packages": CHROOT_PACKAGES,
              "server": "/usr/sbin/mysqld", "what": "MySQL"},
    "mariadb11": {"dir": MARIADB11_CHROOT,
                  "packages": ["mariadb-server-core", "mariadb-client-core"],
                  "server": "/usr/sbin/mariadbd", "what": "MariaDB 11"},
}


class LabError(Exception):
    """Anything the lab could not do; the message says what and why."""


class WaitTimeout(LabError):
    """A bounded wait ran out (wait_for)."""


class SQLError(LabError):
    def __init__(self, node, sql, message):
        super().__init__(f"{node}: {message} (SQL: {sql.strip()[:200]})")
        self.node, self.sql, self.message = node, sql, message


# ---------------------------------------------------------------- small tools

def log(msg):
    """Progress messages go to stderr so stdout stays machine-readable."""
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def _quiet(msg):
    pass


def wait_for(predicate, timeout, interval=0.05, what=None):
    """Polls predicate() until it returns a true value, which is returned.

    Raises WaitTimeout after `timeout` seconds, naming `what` (or the
    predicate) and the last exception the predicate raised, if any. LabError
    and OSError raised by the predicate count as "not yet"."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (LabError, OSError) as e:
            last_error = e
        left = deadline - time.monotonic()
        if left <= 0:
            desc = what or getattr(predicate, "__name__", "a condition")
            msg = f"timed out after {timeout:g} s waiting for {desc}"
            if last_error is not None:
                msg += f" (last error: {last_error})"
            raise WaitTimeout(msg)
        time.sleep(min(interval, left))


def _fmt(argv):
    return " ".join(argv if len(argv) < 12 else argv[:12] + ["..."])


def run(argv, input=None, timeout=60, check=True, env=None):
    """Runs a command to completion with a time limit; returns CompletedProcess
    (text). Raises LabError when it fails (check) or runs out of time."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True,
                           timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired:
        raise LabError(f"{_fmt(argv)}: no answer within {timeout} s") from None
    except FileNotFoundError:
        raise LabError(f"{argv[0]}: not installed (run: tests/lab/lab setup)") from None
    if check and p.returncode != 0:
        err = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise LabError(f"{_fmt(argv)} failed (exit {p.returncode}): {' | '.join(err[-5:])}")
    return p


def install_signal_handlers():
    """Turns SIGTERM and SIGHUP into SystemExit so `with Lab.up(...)` blocks and
    finally clauses clean up when a test is timed out or its terminal closes."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


@contextlib.contextmanager
def _flock(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_json(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def _range_text(ids):
    """[1,2,3,7] -> '1-3,7'"""
    out, ids = [], sorted(ids)
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        out.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(out)


# ---------------------------------------------------------------- processes

def _proc_state(pid):
    """One-letter process state from /proc (R, S, T, Z ...), None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def pid_alive(pid):
    """True if the process exists and is not a zombie (it may be stopped)."""
    if not pid:
        return False
    _reap(pid)
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def _signal_pid(pid, sig, needle):
    """Sends sig to pid if it still is the process we mean: its command line
    must contain `needle` (a path unique to the lab), so a reused PID is never
    touched. Returns True if sent."""
    if not pid_alive(pid) or needle not in _cmdline(pid):
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _netns_inode(ns):
    try:
        return os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return None


def _pids_in(namespaces, needle):
    """PIDs of processes that run in one of the given network namespaces or
    whose command line contains needle."""
    inodes = {i for i in (_netns_inode(n) for n in namespaces) if i}
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        hit = False
        if inodes:
            try:
                link = os.readlink(f"/proc/{pid}/ns/net")
                hit = int(link[link.index("[") + 1:-1]) in inodes
            except (OSError, ValueError):
                pass
        if not hit and needle and needle in _cmdline(pid):
            hit = True
        if hit and pid_alive(pid):
            found.append(pid)
    return found


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def in_netns(ns, fn, *args):
    """Runs fn(*args) on a short-lived thread that has joined network namespace
    ns (setns affects only the calling thread); returns its result or raises
    its exception. Sockets fn opens live in ns."""
    box = {}

    def target():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {ns}: {os.strerror(e)}")
            finally:
                os.close(fd)
            box["v"] = fn(*args)
        except BaseException as e:  # handed to the caller
            box["e"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box.get("v")


def _greeting(addr, port, timeout):
    """Server version from the MySQL protocol greeting, or None. A stopped
    (SIGSTOP) server accepts TCP in the kernel but never greets."""
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = b""
            while len(data) < 5:
                chunk = s.recv(256)
                if not chunk:
                    return None
                data += chunk
            if data[4] != 10:        # protocol version 10; 0xff is an error packet
                return None
            return data[5:].split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return None


def gratuitous_arp(ifname, ip):
    """Announces that ip is at ifname's MAC (an ARP request for itself, sent
    to everyone), so neighbours update their caches at once. Call it inside
    the namespace (in_netns). arping does the same but then waits a second."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806)) as s:
        s.bind((ifname, 0x0806))
        mac = s.getsockname()[4][:6]
        addr = socket.inet_aton(ip)
        arp = (b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac + addr + b"\x00" * 6 + addr)
        s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp)


def tcp_probe(ns, addr, port=PORT, timeout=1.0):
    """From namespace ns, connect to addr:port and read the server greeting.
    Returns the server version string, or None if no greeting came in time."""
    return in_netns(ns, _greeting, addr, port, timeout)


# ---------------------------------------------------------------- flavors

def _version_of(argv):
    p = run(argv, timeout=30)
    m = re.search(r"Ver\s+(\S+)", p.stdout)
    return m.group(1) if m else p.stdout.strip()


def family(flavor):
    """The server family of a flavor: "mariadb" (MariaDB 10.11 and 11.8) or
    "mysql". The SQL the lab and the tests speak depends on the family only."""
    try:
        return FAMILIES[flavor]
    except KeyError:
        raise LabError(f"unknown flavor {flavor!r} (flavors: {', '.join(ALL_FLAVORS)})") from None


def chroot_ok(flavor):
    c = CHROOTS[flavor]
    return (os.path.exists(os.path.join(c["dir"], ".failoverd-lab-ready"))
            and os.access(os.path.join(c["dir"], c["server"].lstrip("/")), os.X_OK))


def mysql_chroot_ok():
    return chroot_ok("mysql")


def server_version(flavor):
    if flavor == "mariadb":
        if not shutil.which("mariadbd"):
            raise LabError("mariadbd is not installed (run: tests/lab/lab setup)")
        return _version_of(["mariadbd", "--version"])
    c = CHROOTS.get(flavor)
    if c is None:
        family(flavor)      # raises: unknown flavor
    if not chroot_ok(flavor):
        raise LabError(f"no {c['what']} chroot at {c['dir']} "
                       f"(run: tests/lab/lab setup --flavor {flavor})")
    return _version_of(["chroot", c["dir"], c["server"], "--version"])


# The statements the lab itself runs, per family (see family()). failoverd has its own flavor
# module; these are only what the lab needs to drive and inspect servers.
DIALECT = {
    "mariadb": {
        "replica_status": "SHOW SLAVE STATUS",
        "stop_replica": "STOP SLAVE",
        "start_replica": "START SLAVE",
        "reset_replica": "RESET SLAVE ALL",
        "stop_sql": "STOP SLAVE SQL_THREAD",
        "start_sql": "START SLAVE SQL_THREAD",
        "state": ("SELECT @@server_id AS server_id, @@read_only AS read_only, 0 AS super_read_only, "
                  "@@gtid_binlog_pos AS gtid_binlog_pos, @@gtid_slave_pos AS gtid_slave_pos, "
                  "@@gtid_current_pos AS gtid_current_pos, @@version AS version, "
                  "@@rpl_semi_sync_master_enabled AS semisync_source, "
                  "@@rpl_semi_sync_slave_enabled AS semisync_replica"),
        "gtid": "SELECT @@gtid_binlog_pos",
        "wait_gtid": "SELECT MASTER_GTID_WAIT('{gtid}', {timeout})",   # 0 = done
        "source_clients": "SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'",
        "src": ("Master_Host", "Master_Port", "Slave_IO_Running", "Slave_SQL_Running",
                "Gtid_IO_Pos", "Last_IO_Error", "Last_SQL_Error", "Seconds_Behind_Master"),
    },
    "mysql": {
        "replica_status": "SHOW REPLICA STATUS",
        "stop_replica": "STOP REPLICA",
        "start_replica": "START REPLICA",
        "reset_replica": "RESET REPLICA ALL",
        "stop_sql": "STOP REPLICA SQL_THREAD",
        "start_sql": "START REPLICA SQL_THREAD",
        "state": ("SELECT @@server_id AS server_id, @@read_only AS read_only, "
                  "@@super_read_only AS super_read_only, @@gtid_executed AS gtid_executed, "
                  "@@server_uuid AS server_uuid, @@version AS version, "
                  "@@rpl_semi_sync_source_enabled AS semisync_source, "
                  "@@rpl_semi_sync_replica_enabled AS semisync_replica"),
        "gtid": "SELECT @@gtid_executed",
        "wait_gtid": "SELECT WAIT_FOR_EXECUTED_GTID_SET('{gtid}', {timeout})",  # 0 = done
        "source_clients": "SHOW STATUS LIKE 'Rpl_semi_sync_source_clients'",
        "src": ("Source_Host", "Source_Port", "Replica_IO_Running", "Replica_SQL_Running",
                "Retrieved_Gtid_Set", "Last_IO_Error", "Last_SQL_Error", "Seconds_Behind_Source"),
    },
}


# ---------------------------------------------------------------- setup

def _missing_packages(packages):
    missing = []
    for p in packages:
        r = run(["dpkg-query", "-W", "-f=${Status}", p], check=False)
        if "install ok installed" not in r.stdout:
            missing.append(p)
    return missing


def setup(flavors=ALL_FLAVORS, say=log):
    """Installs what the lab needs; idempotent. Host packages from Debian 12,
    and for MySQL 9.7 and MariaDB 11.8 one Debian sid chroot each, cached in
    CACHE_DIR and rebuilt only if missing or broken; then one initialized data
    directory per
    flavor (the template every node's data directory is copied from). Returns
    the list of things it did."""
    did = []
    if _missing_packages(HOST_PACKAGES):
        with _flock(os.path.join(CACHE_DIR, ".lock")):
            missing = _missing_packages(HOST_PACKAGES)
            if missing:
                say(f"installing {' '.join(missing)}")
                env = {"DEBIAN_FRONTEND": "noninteractive"}
                wait = ["-o", "DPkg::Lock::Timeout=600"]
                run(["apt-get", "update", "-qq"], timeout=900, env=env)
                run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + wait + missing,
                    timeout=1800, env=env)
                did.append("installed " + " ".join(missing))
    for flavor in flavors:
        if flavor in CHROOTS and _ensure_chroot(flavor, say):
            did.append(f"built the {CHROOTS[flavor]['what']} chroot in {CHROOTS[flavor]['dir']}")
    for flavor in flavors:
        if _ensure_template(flavor, say):
            did.append(f"made the {flavor} data directory template")
    for flavor in flavors:
        say(f"{flavor} {server_version(flavor)} ready")
    if not did:
        say("everything was already in place")
    return did


def _ensure_mysql_chroot(say):
    return _ensure_chroot("mysql", say)


def _ensure_chroot(flavor, say):
    c = CHROOTS[flavor]
    root, what = c["dir"], c["what"]
    os.makedirs(CACHE_DIR, exist_ok=True)
    with _flock(os.path.join(CACHE_DIR, ".lock")):
        if chroot_ok(flavor):
            try:
                server_version(flavor)
                return False
            except LabError as e:
                say(f"the {what} chroot is broken ({e}); rebuilding it")
        new = root + ".new"
        shutil.rmtree(new, ignore_errors=True)
        t0 = time.monotonic()
        say(f"building a Debian sid chroot for {what} in {root} (about a minute)")
        run(["debootstrap", "--variant=minbase", "sid", new, DEBIAN_MIRROR], timeout=1800)
        # The machine's clock may be past the mirror's Valid-Until; services
        # must never start inside the chroot.
        with open(os.path.join(new, "etc/apt/apt.conf.d/99failoverd-lab"), "w") as f:
            f.write('Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n')
        prc = os.path.join(new, "usr/sbin/policy-rc.d")
        with open(prc, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(prc, 0o755)
        # /proc is mounted in a private mount namespace: it goes away with it.
        script = ('mount -t proc proc "$1/proc" && exec chroot "$1" sh -c '
                  '"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq '
                  + " ".join(c["packages"]) + ' && apt-get clean"')
        run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", new],
            timeout=1800)
        with open(os.path.join(new, ".failoverd-lab-ready"), "w") as f:
            f.write(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        if os.path.exists(root):
            old = f"{root}.old{os.getpid()}"
            os.rename(root, old)
            shutil.rmtree(old, ignore_errors=True)
        os.rename(new, root)
        say(f"{what} chroot built in {time.monotonic() - t0:.0f} s")
        return True


def _template_dir(flavor, version):
    return os.path.join(CACHE_DIR, "templates", f"{flavor}-{version}")


def _ensure_template(flavor, say=_quiet):
    """An initialized, never started data directory per flavor and version.
    Copying it is much faster than initializing (MySQL: 3-4 s per node)."""
    version = server_version(flavor)
    tdir = _template_dir(flavor, version)
    if os.path.exists(os.path.join(tdir, ".complete")):
        return False
    with _flock(os.path.join(CACHE_DIR, ".lock")):
        if os.path.exists(os.path.join(tdir, ".complete")):
            return False
        os.makedirs(os.path.dirname(tdir), exist_ok=True)
        say(f"initializing a {flavor} {version} data directory template")
        if family(flavor) == "mariadb":
            # MariaDB 10.11 from the host; 11.8 inside its chroot (on the
            # same file system as the cache), which has no /etc/hosts: --force
            # skips the install script's check that the host name resolves
            # (the accounts it makes use the unix socket, not host names).
            c = CHROOTS.get(flavor)
            parent = os.path.join(c["dir"], "tmp") if c else os.path.dirname(tdir)
            work = tempfile.mkdtemp(prefix="tpl-", dir=parent)
            inner = "/tmp/" + os.path.basename(work) if c else work
            with open(os.path.join(work, "my.cnf"), "w") as f:
                f.write("[mariadbd]\nuser=root\ninnodb_buffer_pool_size=64M\n"
                        "innodb_log_file_size=32M\n")
            run((["chroot", c["dir"]] if c else []) +
                ["mariadb-install-db", f"--defaults-file={inner}/my.cnf", "--user=root",
                 f"--datadir={inner}/data", "--auth-root-authentication-method=socket",
                 "--skip-test-db"] + (["--force"] if c else []), timeout=300)
            data = os.path.join(work, "data")
        else:
            # Initialized inside the chroot (same file system as the cache).
            work = tempfile.mkdtemp(prefix="tpl-", dir=os.path.join(MYSQL_CHROOT, "tmp"))
            inner = "/tmp/" + os.path.basename(work)
            with open(os.path.join(work, "my.cnf"), "w") as f:
                f.write(f"[mysqld]\nuser=root\ndatadir={inner}/data\nlog_error={inner}/init.log\n"
                        "innodb_buffer_pool_size=64M\ninnodb_redo_log_capacity=32M\n")
            try:
                run(["chroot", MYSQL_CHROOT, "/usr/sbin/mysqld", f"--defaults-file={inner}/my.cnf",
                     "--initialize-insecure"], timeout=300)
            except LabError as e:
                tail = ""
                with contextlib.suppress(OSError), open(os.path.join(work, "init.log")) as f:
                    tail = f.read()[-2000:]
                raise LabError(f"{e}\n{tail}") from None
            data = os.path.join(work, "data")
            # Each server makes its own server_uuid at first start.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(data, "auto.cnf"))
        shutil.rmtree(tdir, ignore_errors=True)
        os.rename(data, tdir)
        shutil.rmtree(work, ignore_errors=True)
        with open(os.path.join(tdir, ".complete"), "w") as f:
            f.write(version + "\n")
        return True


# ---------------------------------------------------------------- naming

def _ns(name, host):
    return f"{NS_PREFIX}{name}-{host}"


_NS_RE = re.compile(r"^" + re.escape(NS_PREFIX) + r"(.+)-(sw|client|db\d+)$")


def _namespaces():
    r = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def _lab_namespaces(name):
    return [ns for ns in _namespaces()
            if (m := _NS_RE.match(ns)) and m.group(1) == name]


def _state_dir(name):
    return os.path.join(STATE_ROOT, name)


def _lab_routes():
    """Unreachable routes of the lab range in the root namespace."""
    r = run(["ip", "-4", "route", "show", "type", "unreachable"], check=False)
    nets = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            with contextlib.suppress(ValueError):
                net = ipaddress.ip_network(parts[1])
                if net.subnet_of(LAB_RANGE):
                    nets.append(str(net))
    return nets


def _allocate_subnet(name):
    """Claims a /24 for the lab by adding its unreachable route: `ip route add`
    fails if the route exists, so two labs can never share a subnet."""
    start = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 254 + 1
    for i in range(254):
        k = (start - 1 + i) % 254 + 1
        subnet = f"{SUBNET_PREFIX}{k}.0/24"
        r = run(["ip", "route", "add", "unreachable", subnet], check=False)
        if r.returncode == 0:
            return subnet
        if "File exists" not in r.stderr:
            raise LabError(f"ip route add unreachable {subnet}: {r.stderr.strip()}")
    raise LabError("no free lab subnet in 10.213.0.0/16")


def labs():
    """Names of every lab on this machine that left any trace (state directory
    or namespaces), up or half torn down."""
    names = set()
    if os.path.isdir(STATE_ROOT):
        names.update(d for d in os.listdir(STATE_ROOT)
                     if os.path.isdir(os.path.join(STATE_ROOT, d)) and NAME_RE.match(d))
    for ns in _namespaces():
        m = _NS_RE.match(ns)
        if m:
            names.add(m.group(1))
    return sorted(names)


# ---------------------------------------------------------------- down

def down(name, say=_quiet):
    """Removes every trace of lab `name`: processes started in it or running in
    its namespaces (ended by PID, after checking what they are), namespaces,
    the root namespace route, the state directory. Idempotent; works after a
    crashed run and when the lab never came fully up."""
    with _flock(os.path.join(STATE_ROOT, ".lock")):
        _down_locked(name, say)


def _down_locked(name, say):
    sdir = _state_dir(name)
    desc = None
    with contextlib.suppress(OSError, ValueError):
        with open(os.path.join(sdir, "lab.json")) as f:
            desc = json.load(f)
    namespaces = _lab_namespaces(name)
    needle = sdir + "/"
    for attempt in range(3):
        pids = _pids_in(namespaces, needle)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(WaitTimeout):
            wait_for(lambda: not any(pid_alive(p) for p in pids), 10,
                     what=f"processes {pids} of lab {name} to end")
    else:
        left = _pids_in(namespaces, needle)
        if left:
            raise LabError(f"lab {name}: processes {left} do not end")
    for ns in namespaces:
        r = run(["ip", "netns", "delete", ns], check=False)
        if r.returncode != 0 and os.path.exists(f"/run/netns/{ns}"):
            raise LabError(f"ip netns delete {ns}: {r.stderr.strip()}")
    subnet = desc.get("subnet") if desc else None
    if subnet:
        run(["ip", "route", "del", "unreachable", subnet], check=False)
    if os.path.isdir(sdir):
        shutil.rmtree(sdir, ignore_errors=True)
    if desc or namespaces:
        say(f"lab {name} is down")


def down_all(run_tag=None, say=_quiet):
    """Takes down every lab on the machine, or with run_tag only the labs made
    while FAILOVERD_LAB_RUN was run_tag (several people test in parallel on one
    machine: a test runner cleans up its own labs only). Without run_tag it
    also removes lab routes that no lab claims any more."""
    with _flock(os.path.join(STATE_ROOT, ".lock")):
        for name in labs():
            if run_tag is not None:
                try:
                    with open(os.path.join(_state_dir(name), "lab.json")) as f:
                        if json.load(f).get("run") != run_tag:
                            continue
                except (OSError, ValueError):
                    continue
            _down_locked(name, say)
        if run_tag is None:
            claimed = set()
            for name in labs():
                with contextlib.suppress(OSError, ValueError):
                    with open(os.path.join(_state_dir(name), "lab.json")) as f:
                        claimed.add(json.load(f).get("subnet"))
            for net in _lab_routes():
                if net not in claimed:
                    run(["ip", "route", "del", "unreachable", net], check=False)


def leftovers(name=None):
    """What a lab left on the machine: {'namespaces', 'processes', 'routes',
    'state'} (all labs if name is None). Empty lists mean clean."""
    names = [name] if name else None
    nss = [ns for ns in _namespaces() if (m := _NS_RE.match(ns)) and
           (names is None or m.group(1) in names)]
    needle = (_state_dir(name) + "/") if name else (STATE_ROOT.rstrip("/") + "/")
    procs = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            cl = _cmdline(int(entry))
            if needle in cl and pid_alive(int(entry)):
                procs.append(f"{entry}: {cl.strip()[:120]}")
    procs += [str(p) for p in _pids_in(nss, None)]
    routes = _lab_routes()
    if name:
        claimed = None
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(_state_dir(name), "lab.json")) as f:
                claimed = json.load(f).get("subnet")
        routes = [r for r in routes if r == claimed]
    state = []
    if name and os.path.exists(_state_dir(name)):
        state = [_state_dir(name)]
    elif not name and os.path.isdir(STATE_ROOT):
        state = [os.path.join(STATE_ROOT, d) for d in os.listdir(STATE_ROOT)
                 if not d.startswith(".")]
    return {"namespaces": nss, "processes": procs, "routes": routes, "state": state}


# ---------------------------------------------------------------- nodes

class Node:
    """One database server of a lab. Attributes come from the lab description:
    name, namespace, address, port, flavor, server_id, pid, dir, datadir,
    socket, config, error_log."""

    def __init__(self, lab, desc):
        self.lab = lab
        self.desc = desc

    def __getattr__(self, key):
        try:
            return self.__dict__["desc"][key]
        except KeyError:
            raise AttributeError(key) from None

    def __repr__(self):
        return f"<Node {self.name} {self.address}>"

    def __str__(self):
        return self.name

    @property
    def alive(self):
        return pid_alive(self.desc.get("pid"))

    @property
    def stopped(self):
        return _proc_state(self.desc.get("pid") or 0) == "T"


class Lab:
    """A lab that is up. Get one with Lab.up(...) or Lab.open(name); use it as a
    context manager to take it down at the end (with error logs printed if the
    block failed).

    Node arguments accept a Node or a node name ('db1'); `client` names the
    client namespace where partitions need a peer."""

    # ------------------------------------------------------------ life cycle

    def __init__(self, desc):
        self.desc = desc
        self.nodes = [Node(self, n) for n in desc["nodes"]]
        self._procs = {}

    @property
    def name(self):
        return self.desc["name"]

    @property
    def flavor(self):
        return self.desc["flavor"]

    @property
    def family(self):
        """"mariadb" or "mysql": the SQL dialect of the lab's servers."""
        return family(self.flavor)

    @property
    def path(self):
        """The lab description file (JSON)."""
        return os.path.join(self.desc["state_dir"], "lab.json")

    @property
    def client_ns(self):
        return self.desc["client"]["namespace"]

    @property
    def vip(self):
        return self.desc["vip"]["address"]

    def save(self):
        _write_json(self.path, self.desc)

    @classmethod
    def open(cls, name=None):
        """The lab called name (default: $FAILOVERD_LAB_NAME or 'lab'), from its
        description file."""
        name = name or default_name()
        try:
            with open(os.path.join(_state_dir(name), "lab.json")) as f:
                desc = json.load(f)
        except FileNotFoundError:
            raise LabError(f"no lab called {name} is up (tests/lab/lab up --name {name})") from None
        if desc.get("phase") != "up":
            raise LabError(f"lab {name} is not fully up (phase {desc.get('phase')}); "
                           f"tests/lab/lab down --name {name}")
        return cls(desc)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
            with contextlib.suppress(Exception):
                self.dump_logs()
        self.down()
        return False

    def down(self):
        down(self.name)

    def dump_logs(self, lines=25, out=sys.stderr):
        """Prints the end of every node's error log and the writer's log."""
        for n in self.nodes:
            print(f"---- {n.name} {n.error_log}", file=out)
            with contextlib.suppress(OSError), open(n.error_log, errors="replace") as f:
                print("".join(f.readlines()[-lines:]), file=out, end="")
        w = self.desc.get("writer")
        if w:
            print(f"---- writer {w['log']}", file=out)
            with contextlib.suppress(OSError), open(w["log"], errors="replace") as f:
                print("".join(f.readlines()[-lines:]), file=out, end="")
        out.flush()

    @classmethod
    def up(cls, flavor="mariadb", nodes=3, name=None, semisync=False,
           semisync_timeout_ms=10000, vip=True, say=_quiet, tls=False,
           require_secure_transport=False, topology="star"):
        """Brings a lab up and returns it: `nodes` servers of `flavor`, db1 the
        writable primary, the others replicating from it with GTID
        auto-positioning and read-only (super_read_only on MySQL). With
        semisync, the primary waits for one replica's acknowledgement (for up
        to semisync_timeout_ms). With vip, the VIP is on the primary. With
        tls, the lab makes a CA and a certificate per node (its name and
        address as subjectAltName), the servers use them and the replicas'
        channels are TLS, verifying the source's certificate and name;
        require_secure_transport (implies tls) makes every server refuse TCP
        sessions without TLS. topology is one of TOPOLOGIES: "star" (the
        above); "dual": db1 and db2 replicate from each other, db1
        writable, db2 read-only, db3... replicas of db1; or "chain" (at
        least 4 nodes; db4 replicates from the relay db2, see _setup_chain).
        Fails if a lab of that name exists; on any failure everything is
        removed."""
        name = name or default_name()
        if not NAME_RE.match(name):
            raise LabError(f"bad lab name {name!r}: 1-28 of a-z 0-9 -, starting with a letter or digit")
        if flavor not in ALL_FLAVORS:
            raise LabError(f"flavor must be one of {', '.join(ALL_FLAVORS)}")
        if not 1 <= nodes <= 9:
            raise LabError("a lab has 1 to 9 nodes")
        _check_topology(topology, nodes)
        t0 = time.monotonic()
        version = server_version(flavor)
        _ensure_template(flavor, say)
        os.makedirs(STATE_ROOT, exist_ok=True)
        sdir = _state_dir(name)
        with _flock(os.path.join(STATE_ROOT, ".lock")):
            if os.path.exists(sdir) or _lab_namespaces(name):
                raise LabError(f"lab {name} exists; take it down first: tests/lab/lab down --name {name}")
            os.makedirs(sdir)
            try:
                subnet = _allocate_subnet(name)
            except BaseException:
                shutil.rmtree(sdir, ignore_errors=True)
                raise
        lab = None
        try:
            desc = _describe(name, flavor, version, nodes, subnet, semisync, semisync_timeout_ms)
            desc["topology"] = topology
            if tls or require_secure_transport:
                desc["tls"] = {"dir": os.path.join(sdir, "tls"),
                               "ca": os.path.join(sdir, "tls", "ca.pem"),
                               "require_secure_transport": bool(require_secure_transport)}
            _write_json(os.path.join(sdir, "lab.json"), desc)
            lab = cls(desc)
            if desc.get("tls"):
                lab._make_certs()
            lab._build_network()
            lab._prepare_nodes()
            t_net = time.monotonic()
            for n in lab.nodes:
                lab._start(n)
            for n in lab.nodes:
                lab._wait_ready(n)
            t_start = time.monotonic()
            lab._provision()
            if topology == "dual":
                lab._provision_dual()
            if topology == "chain":
                lab._setup_chain()
            if vip and nodes:
                lab.vip_add(lab.nodes[0])
            desc["phase"] = "up"
            desc["timings"] = {"network_and_datadirs_s": round(t_net - t0, 2),
                               "servers_started_s": round(t_start - t0, 2),
                               "up_s": round(time.monotonic() - t0, 2)}
            lab.save()
            say(f"lab {name} ({flavor} {version}, {nodes} nodes) up in {time.monotonic() - t0:.1f} s")
            return lab
        except BaseException:
            if lab is not None and sys.exc_info()[0] is not KeyboardInterrupt:
                with contextlib.suppress(Exception):
                    lab.dump_logs()
            down(name)
            raise

    # ------------------------------------------------------------ building

    def _build_network(self):
        sw = self.desc["switch_namespace"]
        hosts = [(self.client_ns, "client", self.desc["client"]["address"])]
        hosts += [(n.namespace, n.name, n.address) for n in self.nodes]
        run(["ip", "netns", "add", sw])
        run(["ip", "-n", sw, "link", "set", "lo", "up"])
        run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", sw, "link", "set", "br0", "up"])
        # Partitions are drops in the bridge: silent, like a broken network,
        # and one place to heal. Only IPv4 is dropped so ARP keeps working.
        run(["ip", "netns", "exec", sw, "nft", "-f", "-"], input=(
            "table bridge lab {\n chain cut {\n  type filter hook forward priority 0; policy accept;\n"
            " }\n}\n"))
        plen = ipaddress.ip_network(self.desc["subnet"]).prefixlen
        for ns, port, addr in hosts:
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "link", "add", "name", "eth0", "netns", ns, "type", "veth",
                 "peer", "name", port, "netns", sw])
            run(["ip", "-n", sw, "link", "set", port, "master", "br0", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{addr}/{plen}", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    @property
    def tls(self):
        """The lab's TLS: {"dir", "ca", "require_secure_transport"}, or None."""
        return self.desc.get("tls")

    def tls_files(self, node):
        """(certificate, key) of a node, when the lab has TLS."""
        d = self.tls["dir"]
        name = self.node(node).name
        return os.path.join(d, f"{name}-cert.pem"), os.path.join(d, f"{name}-key.pem")

    def make_ca(self, label):
        """A new CA in the lab's TLS directory that signed nothing (a wrong CA
        for tests); returns its certificate's path."""
        d = self.tls["dir"] if self.tls else os.path.join(self.desc["state_dir"], "tls")
        os.makedirs(d, exist_ok=True)
        cert, key = os.path.join(d, f"{label}.pem"), os.path.join(d, f"{label}-key.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "3650", "-subj",
             f"/CN=failoverd lab {self.name} {label}"])
        os.chmod(key, 0o600)
        return cert

    def capture_start(self, path):
        """Starts tcpdump in the bridge's namespace, where every node's and
        the client's traffic passes, writing packets to path as they come.
        Returns once the capture runs; capture_stop() ends it by its PID."""
        if self.desc.get("capture") and pid_alive(self.desc["capture"]["pid"]):
            raise LabError("a capture is already running (capture_stop first)")
        argv = ["ip", "netns", "exec", self.desc["switch_namespace"], "tcpdump", "-i", "any",
                "-U", "-n", "-s", "0", "-w", path]
        out = open(path + ".out", "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
        out.close()
        self._procs[p.pid] = p
        self.desc["capture"] = {"pid": p.pid, "path": path}
        self.save()

        def listening():
            if not pid_alive(p.pid):
                raise _Fatal("tcpdump exited: " + open(path + ".out").read()[-500:])
            return "listening on" in open(path + ".out").read()
        try:
            wait_for(listening, 15, what="tcpdump to listen")
        except _Fatal as e:
            raise LabError(str(e)) from None
        return path

    def capture_stop(self):
        """Stops the capture (SIGTERM: tcpdump flushes its file); returns its path."""
        c = self.desc.get("capture")
        if not c:
            raise LabError("no capture running")
        if pid_alive(c["pid"]):
            os.kill(c["pid"], signal.SIGTERM)
            wait_for(lambda: not pid_alive(c["pid"]), 15, what="tcpdump to exit")
        self.desc["capture"] = None
        self.save()
        return c["path"]

    def _make_certs(self):
        """The lab's CA and one certificate per node naming the node and its
        address (subjectAltName DNS and IP), signed by the CA; keys 0600."""
        d = self.tls["dir"]
        os.makedirs(d, exist_ok=True)
        ca = self.make_ca("ca")
        ca_key = os.path.join(d, "ca-key.pem")
        for n in self.nodes:
            cert, key = self.tls_files(n)
            csr = os.path.join(d, f"{n.name}.csr")
            ext = os.path.join(d, f"{n.name}.ext")
            with open(ext, "w") as f:
                f.write(f"subjectAltName=DNS:{n.name},IP:{n.address}\n"
                        "basicConstraints=CA:FALSE\n"
                        "keyUsage=digitalSignature,keyEncipherment\n"
                        "extendedKeyUsage=serverAuth,clientAuth\n")
            run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={n.name}"])
            run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                 "-CAcreateserial", "-out", cert, "-days", "3650", "-extfile", ext])
            os.chmod(key, 0o600)

    def _prepare_nodes(self):
        tdir = _template_dir(self.flavor, self.desc["version"])
        if self.flavor in CHROOTS:
            # Mount point for the state root inside the chroot (see _start).
            os.makedirs(CHROOTS[self.flavor]["dir"] + STATE_ROOT, exist_ok=True)
        threads, errors = [], []

        def tls_args(n):
            if not self.tls:
                return []
            cert, key = self.tls_files(n)
            return [f"ssl_ca={self.tls['ca']}", f"ssl_cert={cert}", f"ssl_key={key}",
                    f"require_secure_transport={1 if self.tls['require_secure_transport'] else 0}"]

        def prep(n):
            try:
                os.makedirs(os.path.join(n.dir, "tmp"))
                run(["cp", "-a", "--reflink=auto", tdir, n.datadir], timeout=120)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(n.datadir, ".complete"))
                cnf = run([os.path.join(PROVISION, "mkcnf.sh"), f"flavor={self.family}",
                           f"server_id={n.server_id}", f"name={n.name}",
                           f"report_host={n.address}", f"port={n.port}",
                           f"datadir={n.datadir}", f"socket={n.socket}",
                           f"pid_file={n.dir}/server.pid", f"log_error={n.error_log}",
                           f"tmpdir={n.dir}/tmp", "run_as_root=1", "small=1",
                           f"semisync={1 if self.desc['semisync'] else 0}",
                           f"semisync_timeout_ms={self.desc['semisync_timeout_ms']}"]
                          + tls_args(n)).stdout
                with open(n.config, "w") as f:
                    f.write(cnf)
            except Exception as e:  # reported by the caller
                errors.append(e)
        for n in self.nodes:
            t = threading.Thread(target=prep, args=(n,))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _start(self, node):
        node = self.node(node)
        if node.alive:
            raise LabError(f"{node.name} is already running (pid {node.pid})")
        # A killed server leaves its socket and MySQL's socket lock file,
        # which names the dead PID; if that PID is reused by then, mysqld
        # refuses to start. The node is known not to run.
        for stale in (node.socket, node.socket + ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        if self.flavor not in CHROOTS:
            argv = ["ip", "netns", "exec", node.namespace, "mariadbd",
                    f"--defaults-file={node.config}"]
        else:
            # The server runs in its sid chroot; the lab's state root is bound
            # into it in a private mount namespace, which vanishes with the
            # process.
            c = CHROOTS[self.flavor]
            script = 'mount --bind "$1" "$2$1" && exec chroot "$2" "$4" --defaults-file="$3"'
            argv = ["ip", "netns", "exec", node.namespace, "unshare", "--mount",
                    "--propagation", "private", "sh", "-c", script, "sh",
                    STATE_ROOT, c["dir"], node.config, c["server"]]
        with open(os.path.join(node.dir, "server.out"), "ab") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True,
                                 close_fds=True)
        self._procs[p.pid] = p
        node.desc["pid"] = p.pid
        node.desc["started"] = time.time()
        self.save()

    def _wait_ready(self, node, timeout=90):
        node = self.node(node)

        def ready():
            if not node.alive:
                tail = ""
                with contextlib.suppress(OSError), open(node.error_log, errors="replace") as f:
                    tail = "".join(f.readlines()[-15:])
                with contextlib.suppress(OSError), open(os.path.join(node.dir, "server.out"),
                                                        errors="replace") as f:
                    tail += f.read()[-1000:]
                raise _Fatal(f"{node.name} exited while starting:\n{tail}")
            if not os.path.exists(node.socket):
                return False
            return self.value(node, "SELECT 1", timeout=5) == "1"
        try:
            wait_for(ready, timeout, what=f"{node.name} to accept connections")
        except _Fatal as e:
            raise LabError(str(e)) from None

    def _provision(self):
        primary, replicas = self.nodes[0], self.nodes[1:]
        env = _provision_env()
        if self.tls:
            env = {**env, "REPL_SSL_CA": self.tls["ca"]}
        hosts = self.desc["subnet"].rsplit(".", 1)[0] + ".%"
        users = run([os.path.join(PROVISION, "sql.sh"), "users", self.family, hosts], env=env).stdout
        self.sql(primary, run([os.path.join(PROVISION, "sql.sh"), "writable", self.family]).stdout)
        self.sql(primary, users)
        for r in replicas:
            self.sql(r, run([os.path.join(PROVISION, "sql.sh"), "replica", self.family,
                             primary.address, str(primary.port)], env=env).stdout)
        self.wait_replicating(timeout=60)
        if self.desc["semisync"] and replicas:
            self.sql(primary, run([os.path.join(PROVISION, "sql.sh"), "semisync-source",
                                   self.family, "on"]).stdout)
            q = DIALECT[self.family]["source_clients"]
            wait_for(lambda: int(self.query(primary, q)[0]["Value"]) >= len(replicas), 30,
                     what="every replica to connect as a semi-sync replica")

    def _provision_dual(self):
        """The active-passive dual primary: db1 (writable) also replicates
        from db2 (read-only), which replicates from db1. Server ids keep the
        circle from looping (a server skips events with its own id); on
        MariaDB db1 starts from its own binlog position (current_pos), having
        no replica position of its own."""
        a, b = self.nodes[0], self.nodes[1]
        env = _provision_env()
        if self.tls:
            env = {**env, "REPL_SSL_CA": self.tls["ca"]}
        pos = ["current_pos"] if self.family == "mariadb" else []
        self.sql(a, run([os.path.join(PROVISION, "sql.sh"), "replica", self.family,
                         b.address, str(b.port)] + pos, env=env).stdout)

        def running():
            r = self.state(a)["replica"]
            return (r and r["source_host"] == b.address and r["io_running"] == "Yes"
                    and r["sql_running"] == "Yes")
        wait_for(running, 60, what=f"{a.name} to replicate from {b.name}")
        self.desc["nodes"][0]["initial_role"] = "primary (dual)"
        self.desc["nodes"][1]["initial_role"] = "dual partner"
    def _setup_chain(self):
        """The chain topology: db4 replicates from db2, a relay replica (the
        lab's servers all log what they apply: log_slave_updates in
        provision/mkcnf.sh); db1 stays the primary of db2, db3 and any
        further node."""
        self.repoint("db4", "db2")
        self.wait_tree(timeout=60)

    def wait_tree(self, primary=None, timeout=30):
        """Like wait_replicating, for a tree: every running node other than
        primary (default: the writable one) replicates, both threads running,
        from a node whose sources lead up to primary, and has executed
        everything the primary has. Returns {node name: its source's name}."""
        p = self.node(primary) if primary is not None else self.primary()
        others = [n for n in self.nodes if n is not p and n.alive]
        by_addr = {(n.address, n.port): n for n in self.nodes}
        deadline = time.monotonic() + timeout
        sources = {}

        def running(n):
            r = self.state(n)["replica"]
            if not (r and r["io_running"] == "Yes" and r["sql_running"] == "Yes"):
                return False
            src = by_addr.get((r["source_host"], int(r.get("source_port") or n.port)))
            sources[n.name] = src.name if src else r["source_host"]
            return src is not None
        for n in others:
            wait_for(lambda: running(n), max(0.1, deadline - time.monotonic()),
                     what=f"{n.name} to replicate from a node of the lab")
        for n in others:
            seen, cur = set(), n.name
            while cur != p.name and cur in sources and cur not in seen:
                seen.add(cur)
                cur = sources[cur]
            if cur != p.name:
                raise LabError(f"{n.name} does not replicate from {p.name}, directly or through "
                               f"relays: sources {sources}")
        g = self.gtid(p)
        for n in others:
            left = deadline - time.monotonic()
            if g and not self.wait_gtid(n, g, timeout=max(1, left)):
                raise WaitTimeout(f"{n.name} did not execute {g} from {p.name} in time")
        return sources

    # ------------------------------------------------------------ access

    def node(self, ref):
        """The Node for a name ('db2'), a Node, or an index (0-based)."""
        if isinstance(ref, Node):
            return ref
        if isinstance(ref, int):
            return self.nodes[ref]
        for n in self.nodes:
            if n.name == ref:
                return n
        raise LabError(f"lab {self.name} has no node {ref!r} (nodes: "
                       f"{', '.join(n.name for n in self.nodes)})")

    def _host(self, ref):
        """(bridge port name, address) for a node reference or 'client'."""
        if ref == "client":
            return "client", self.desc["client"]["address"]
        n = self.node(ref)
        return n.name, n.address

    def client_argv(self, node, user="root", tcp=None):
        """argv of the mariadb command line client for node. user 'root' uses
        the node's unix socket from the root namespace (works whatever the
        network does); any other user ('admin', 'writer', 'labroot', 'repl' or
        a literal user name) connects by TCP from the client namespace. The
        password, if any, is in the returned env (MYSQL_PWD)."""
        node = self.node(node)
        if tcp is None:
            tcp = user != "root"
        u = USERS.get(user, {"user": user, "password": ""})
        if not tcp:
            argv = ["mariadb", "--no-defaults", "--protocol=socket", "-S", node.socket,
                    "-u", u["user"]]
        else:
            argv = ["ip", "netns", "exec", self.client_ns, "mariadb", "--no-defaults",
                    "--protocol=tcp", "-h", node.address, "-P", str(node.port), "-u", u["user"]]
            if self.tls:
                argv.append("--ssl")
        return argv + ["--connect-timeout=3"], {"MYSQL_PWD": u["password"]}

    def sql(self, node, statements, user="root", tcp=None, timeout=15):
        """Runs SQL (one or more statements) on node; returns the client's
        batch output (tab separated). Raises SQLError on any error."""
        node = self.node(node)
        argv, env = self.client_argv(node, user, tcp)
        try:
            p = subprocess.run(argv + ["--batch"], input=statements, capture_output=True,
                               text=True, timeout=timeout, env={**os.environ, **env})
        except subprocess.TimeoutExpired:
            raise SQLError(node.name, statements, f"no answer within {timeout} s") from None
        if p.returncode != 0:
            raise SQLError(node.name, statements, p.stderr.strip() or f"exit {p.returncode}")
        return p.stdout

    def query(self, node, statement, **kw):
        """Rows of one statement's result as dicts (values are strings, NULL is
        None)."""
        return _parse_batch(self.sql(node, statement, **kw))

    def value(self, node, statement, **kw):
        """First column of the first row, or None."""
        rows = self.query(node, statement, **kw)
        return next(iter(rows[0].values())) if rows else None

    def popen(self, argv, node=None, **kw):
        """Starts argv in the client namespace (or in node's namespace) and
        returns the Popen; keyword arguments go to subprocess.Popen."""
        ns = self.node(node).namespace if node is not None else self.client_ns
        return subprocess.Popen(["ip", "netns", "exec", ns] + list(argv), **kw)

    def run_in(self, argv, node=None, timeout=60, check=True, input=None, env=None):
        """Runs argv to completion in the client namespace (or node's);
        returns CompletedProcess."""
        ns = self.node(node).namespace if node is not None else self.client_ns
        return run(["ip", "netns", "exec", ns] + list(argv), timeout=timeout, check=check,
                   input=input, env=env)

    def reachable(self, node, timeout=1.0):
        """True if node greets a TCP connection from the client namespace."""
        n = self.node(node)
        return tcp_probe(self.client_ns, n.address, n.port, timeout) is not None

    # ------------------------------------------------------------ faults

    def kill(self, node):
        """SIGKILL the server, wait until it is gone. Its host lives on: the
        kernel closes its connections (peers see resets at once) and still
        delivers data the server had sent; see crash for a dead host."""
        n = self.node(node)
        if not _signal_pid(n.pid, signal.SIGKILL, n.config):
            raise LabError(f"{n.name} is not running")
        wait_for(lambda: not n.alive, 10, what=f"{n.name} to die")

    def crash(self, node):
        """The node's host dies: its network is cut both ways, then the server
        is killed. Unlike kill, nothing the server had already handed to its
        kernel (binlog events in a socket buffer, a FIN, a RST) reaches anyone
        until heal: peers see silence and must time out."""
        self.partition(node)
        self.kill(node)

    def stop(self, node):
        """SIGSTOP: the server hangs (TCP connects, nothing answers)."""
        n = self.node(node)
        if not _signal_pid(n.pid, signal.SIGSTOP, n.config):
            raise LabError(f"{n.name} is not running")
        wait_for(lambda: n.stopped, 5, what=f"{n.name} to stop")

    def cont(self, node):
        """SIGCONT a stopped server."""
        n = self.node(node)
        if not _signal_pid(n.pid, signal.SIGCONT, n.config):
            raise LabError(f"{n.name} is not running")
        wait_for(lambda: not n.stopped, 5, what=f"{n.name} to continue")

    def restart(self, node, timeout=90):
        """Stops the server if it runs (SIGTERM, SIGKILL after 60 s), starts it
        again with the same configuration and waits until it accepts
        connections. It comes back read-only with replication stopped, like
        any server the lab starts."""
        n = self.node(node)
        if n.alive:
            _signal_pid(n.pid, signal.SIGCONT, n.config)
            _signal_pid(n.pid, signal.SIGTERM, n.config)
            try:
                wait_for(lambda: not n.alive, 60, interval=0.1, what=f"{n.name} to shut down")
            except WaitTimeout:
                _signal_pid(n.pid, signal.SIGKILL, n.config)
                wait_for(lambda: not n.alive, 10, what=f"{n.name} to die")
        self._start(n)
        self._wait_ready(n, timeout)

    def start(self, node, timeout=90):
        """Starts a server that is not running (after kill)."""
        n = self.node(node)
        if n.alive:
            raise LabError(f"{n.name} is running")
        self._start(n)
        self._wait_ready(n, timeout)

    def _nft(self, script):
        return run(["ip", "netns", "exec", self.desc["switch_namespace"], "nft"] +
                   (["-f", "-"] if script else ["-a", "list", "chain", "bridge", "lab", "cut"]),
                   input=script)

    def partition(self, node, frm=None, oneway=False):
        """Cuts node off: from every other host (nodes and client), or only
        from `frm` (a node or 'client'). Two-way by default; with oneway only
        packets *to* node are dropped (it can still send). Packets vanish at
        the bridge: peers see timeouts, not errors."""
        me, _ = self._host(node)
        if frm is not None:
            peers = [self._host(frm)[0]]
        else:
            peers = ["client"] + [n.name for n in self.nodes if n.name != me]
        if me in peers:
            raise LabError("a node cannot be partitioned from itself")
        rules = []
        for p in peers:
            pairs = [(p, me)] if oneway else [(p, me), (me, p)]
            for src, dst in pairs:
                rules.append(f'add rule bridge lab cut iifname "{src}" oifname "{dst}" '
                             f'ether type ip drop comment "{src}>{dst}"\n')
        self._nft("".join(rules))

    def heal(self, node=None):
        """Removes every partition, or only those involving node."""
        if node is None:
            self._nft("flush chain bridge lab cut\n")
            return
        me, _ = self._host(node)
        dels = []
        for line in self._nft(None).stdout.splitlines():
            m = re.search(r'comment "([^">]+)>([^"]+)" # handle (\d+)', line)
            if m and me in (m.group(1), m.group(2)):
                dels.append(f"delete rule bridge lab cut handle {m.group(3)}\n")
        if dels:
            self._nft("".join(dels))

    def partitions(self):
        """Current cuts as (from, to) pairs of host names."""
        return [(m.group(1), m.group(2)) for line in self._nft(None).stdout.splitlines()
                if (m := re.search(r'comment "([^">]+)>([^"]+)"', line))]

    def lag(self, node, on=True):
        """A replica falls behind: its SQL thread stops while its IO thread
        keeps receiving (on), or applies again (off)."""
        d = DIALECT[self.family]
        self.sql(node, d["stop_sql"] if on else d["start_sql"])

    def errant(self, node):
        """Commits a transaction directly on node (a replica): an errant GTID.
        Returns that GTID."""
        n = self.node(node)
        ins = "INSERT INTO lab.errant (origin) VALUES (@@server_id)"
        if self.family == "mariadb":
            # root has READ_ONLY ADMIN, so read_only does not stop it.
            return self.value(n, f"{ins}; SELECT @@last_gtid AS gtid")
        # super_read_only stops even root: lift it for this one statement.
        # read_only stays on, so ordinary clients never see the node writable.
        out = self.query(n, "SET GLOBAL super_read_only=OFF; " + ins + "; "
                         "SET GLOBAL super_read_only=ON; "
                         "SELECT @@server_uuid AS uuid, @@gtid_executed AS executed")
        uuid, executed = out[0]["uuid"], out[0]["executed"].replace("\n", "")
        for part in executed.split(","):
            fields = part.strip().split(":")
            if fields[0] == uuid:
                last = fields[-1].split("-")[-1]
                return f"{uuid}:{last}"
        raise LabError(f"{n.name}: errant transaction not in gtid_executed {executed}")

    # ------------------------------------------------------------ VIP

    def vip_add(self, node):
        """Puts the VIP on node (and announces it with a gratuitous ARP)."""
        n = self.node(node)
        plen = self.desc["vip"]["prefix_len"]
        run(["ip", "-n", n.namespace, "addr", "replace", f"{self.vip}/{plen}", "dev", "eth0"])
        in_netns(n.namespace, gratuitous_arp, "eth0", self.vip)

    def vip_move(self, node):
        """Moves the VIP to node: added there (with the ARP announcement)
        before it is removed elsewhere, so no connection attempt meets an
        address nobody holds (a lost SYN costs a one-second retransmit)."""
        n = self.node(node)
        self.vip_add(n)
        for o in self.nodes:
            if o is not n:
                self.vip_del(o)

    def vip_del(self, node=None):
        """Removes the VIP from node (from every node if None)."""
        plen = self.desc["vip"]["prefix_len"]
        for n in ([self.node(node)] if node is not None else self.nodes):
            run(["ip", "-n", n.namespace, "addr", "del", f"{self.vip}/{plen}", "dev", "eth0"],
                check=False)

    def vip_holders(self):
        """Names of the nodes that hold the VIP (normally zero or one)."""
        out = []
        for n in self.nodes:
            r = run(["ip", "-n", n.namespace, "-o", "-4", "addr", "show", "dev", "eth0"], check=False)
            if f" {self.vip}/" in r.stdout:
                out.append(n.name)
        return out

    # ------------------------------------------------------------ replication

    def state(self, node, timeout=3):
        """Server state by socket: server_id, read_only, super_read_only, GTID
        variables, version, semi-sync switches, and 'replica' (None or a dict:
        source_host, source_port, io_running, sql_running, retrieved,
        last_io_error, last_sql_error, lag). Raises SQLError if the server does
        not answer."""
        n = self.node(node)
        d = DIALECT[self.family]
        st = self.query(n, d["state"], timeout=timeout)[0]
        rs = self.query(n, d["replica_status"], timeout=timeout)
        st["replica"] = None
        if rs:
            r = rs[0]
            host, port, io, sqlt, retrieved, ioe, sqle, lag = (r.get(k) for k in d["src"])
            st["replica"] = {"source_host": host, "source_port": port, "io_running": io,
                             "sql_running": sqlt, "retrieved": retrieved,
                             "last_io_error": ioe, "last_sql_error": sqle, "lag": lag}
        for k in ("gtid_executed", "retrieved"):
            for d_ in (st, st["replica"] or {}):
                if d_.get(k):
                    d_[k] = d_[k].replace("\n", "")
        st["writable"] = st["read_only"] == "0"
        return st

    def gtid(self, node):
        """The node's executed GTID state (MySQL gtid_executed, MariaDB
        gtid_binlog_pos)."""
        return (self.value(node, DIALECT[self.family]["gtid"]) or "").replace("\n", "")

    def wait_gtid(self, node, gtid, timeout=30):
        """Waits (on the server) until node has executed gtid; True if it did."""
        q = DIALECT[self.family]["wait_gtid"].format(gtid=gtid, timeout=max(1, int(timeout)))
        return self.value(node, q, timeout=timeout + 10) == "0"

    def replicas_of(self, primary):
        p = self.node(primary)
        out = []
        for n in self.nodes:
            if n is p or not n.alive or n.stopped:
                continue
            with contextlib.suppress(LabError):
                r = self.state(n)["replica"]
                if r and r["source_host"] == p.address:
                    out.append(n)
        return out

    def wait_replicating(self, primary=None, timeout=30):
        """Waits until every running node other than primary (default: the
        writable one) replicates from it with both threads running and has
        executed everything the primary has."""
        p = self.node(primary) if primary is not None else self.primary()
        others = [n for n in self.nodes if n is not p and n.alive]
        deadline = time.monotonic() + timeout

        def running(n):
            r = self.state(n)["replica"]
            return (r and r["source_host"] == p.address and r["io_running"] == "Yes"
                    and r["sql_running"] == "Yes")
        for n in others:
            wait_for(lambda: running(n), max(0.1, deadline - time.monotonic()),
                     what=f"{n.name} to replicate from {p.name}")
        g = self.gtid(p)
        for n in others:
            left = deadline - time.monotonic()
            if g and not self.wait_gtid(n, g, timeout=max(1, left)):
                raise WaitTimeout(f"{n.name} did not execute {g} from {p.name} in time")

    def most_advanced(self, nodes=None, timeout=1):
        """Of `nodes` (default: every running node that is not writable), one
        that has executed everything each of the others has (waiting up to
        timeout seconds per comparison for relay logs to be applied); None if
        no node contains all others (they diverged). This is the check an
        operator makes before promoting by hand: promoting a replica that
        lacks a transaction another replica has leaves that one diverged."""
        if nodes is None:
            cands = [n for n in self.nodes if n.alive and not n.stopped and not _writable(self, n)]
        else:
            cands = [self.node(n) for n in nodes]
        gtids = {n.name: self.gtid(n) for n in cands}
        for c in cands:
            if all(o is c or not gtids[o.name] or self.wait_gtid(c, gtids[o.name], timeout)
                   for o in cands):
                return c
        return None

    def primary(self):
        """The one running node that is writable; raises if none or several."""
        w = [n for n in self.nodes if n.alive and not n.stopped and _writable(self, n)]
        if len(w) != 1:
            raise LabError(f"expected one writable node, found {[n.name for n in w]}")
        return w[0]

    def promote(self, node, repoint=True, move_vip=True, user="admin"):
        """Manual promotion by plain SQL, the way an operator would do it: node
        stops replicating and becomes writable; with repoint every other
        running node (an old primary included) is made a read-only replica of
        it; with move_vip the VIP moves to it. The caller fences an old
        primary first if it is still writable (demote). SQL goes over TCP from
        the client namespace as `user` (default failoverd's admin account,
        which proves its privileges suffice)."""
        n = self.node(node)
        d = DIALECT[self.family]
        self.sql(n, f"{d['stop_replica']}; {d['reset_replica']}", user=user)
        self.make_writable(n, user=user)
        if move_vip:
            self.vip_move(n)
        if repoint:
            for o in self.nodes:
                if o is not n and o.alive and not o.stopped:
                    self.repoint(o, n, user=user)

    def resume_replication(self, node, user="root"):
        """START SLAVE / START REPLICA on node (after restart, lag ...)."""
        self.sql(node, DIALECT[self.family]["start_replica"], user=user)

    def make_writable(self, node, user="admin"):
        """read_only off (and super_read_only on MySQL); nothing else."""
        self.sql(node, run([os.path.join(PROVISION, "sql.sh"), "writable", self.family]).stdout,
                 user=user)

    def demote(self, node, user="admin"):
        """Makes node read-only (super_read_only on MySQL)."""
        self.sql(node, run([os.path.join(PROVISION, "sql.sh"), "readonly", self.family]).stdout,
                 user=user)

    def repoint(self, node, source, user="admin"):
        """Makes node a read-only replica of source (GTID auto-position). On
        MariaDB a node that was a primary has no gtid_slave_pos: it is taken
        from its own binlog first."""
        n, s = self.node(node), self.node(source)
        env = _provision_env()
        if self.tls:
            env = {**env, "REPL_SSL_CA": self.tls["ca"]}
        self.demote(n, user=user)
        pre = ""
        if self.family == "mariadb":
            pre = f"{DIALECT['mariadb']['stop_replica']}; SET GLOBAL gtid_slave_pos=@@gtid_binlog_pos;"
            if (self.state(n).get("replica") or {}).get("source_host"):
                pre = ""    # an existing replica keeps its own position
        sql = run([os.path.join(PROVISION, "sql.sh"), "replica", self.family, s.address,
                   str(s.port)], env=env).stdout
        self.sql(n, pre + sql, user=user)

    # ------------------------------------------------------------ status

    def status(self):
        """Per node: alive/stopped (process), reachable (TCP greeting from the
        client namespace), responding (socket), the state() fields, VIP; plus
        the lab's partitions. Queries run in parallel with short timeouts."""
        holders = self.vip_holders()
        result = {"name": self.name, "flavor": self.flavor, "nodes": {},
                  "partitions": [f"{a}>{b}" for a, b in self.partitions()],
                  "vip": {"address": self.vip, "on": holders}}

        def one(n):
            s = {"address": n.address, "alive": n.alive, "stopped": n.stopped,
                 "vip": n.name in holders}
            s["reachable"] = bool(s["alive"] and not s["stopped"] and self.reachable(n, 0.5))
            s["responding"] = False
            if s["alive"] and not s["stopped"]:
                try:
                    s.update(self.state(n, timeout=2))
                    s["responding"] = True
                except LabError as e:
                    s["error"] = str(e)
            result["nodes"][n.name] = s
        threads = [threading.Thread(target=one, args=(n,)) for n in self.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result["nodes"] = {n.name: result["nodes"][n.name] for n in self.nodes}
        return result

    # ------------------------------------------------------------ writer

    def writer_start(self, through="vip", rate=100, poll_ms=100, max_seconds=3600,
                     wait_first_ack=10):
        """Starts the write checker in the client namespace: it inserts rows
        with increasing ids `rate` times a second through `through` ('vip', a
        node, or an address) and polls every node's writability every poll_ms.
        Waits until the first write is acknowledged (if wait_first_ack, in
        seconds). Returns the log path. One writer per lab at a time."""
        if self.desc.get("writer") and pid_alive(self.desc["writer"]["pid"]):
            raise LabError("a writer is already running (writer_stop first)")
        if through == "vip":
            addr = self.vip
        elif isinstance(through, Node) or through in [n.name for n in self.nodes]:
            addr = self.node(through).address
        else:
            addr = str(ipaddress.ip_address(through))
        runs = self.desc.get("writer_runs", 0) + 1
        logp = os.path.join(self.desc["state_dir"], f"writer-{runs}.log")
        polls = ",".join(f"{n.name}={n.address}:{n.port}" for n in self.nodes)
        argv = [tool("labwriter"), "--host", addr, "--port", str(PORT),
                "--user", USERS["writer"]["user"], "--rate", str(rate),
                "--start-id", str(runs * 1_000_000_000 + 1), "--log", logp,
                "--poll", polls, "--poll-ms", str(poll_ms), "--max-seconds", str(max_seconds)]
        env = {**os.environ, "LABWRITER_PASSWORD": USERS["writer"]["password"],
               "LABWRITER_TLS": "1" if self.tls else "0"}
        with open(logp + ".out", "ab") as out:
            p = self.popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                           start_new_session=True, env=env)
        self._procs[p.pid] = p
        self.desc["writer_runs"] = runs
        self.desc["writer"] = {"pid": p.pid, "log": logp, "through": addr, "rate": rate,
                               "started": time.time()}
        self.save()
        if wait_first_ack:
            def first():
                if not pid_alive(p.pid):
                    raise _Fatal(f"the writer exited: {open(logp + '.out').read()[-500:]}")
                return any(line.startswith("A ") for line in _read_lines(logp))
            try:
                wait_for(first, wait_first_ack, what="the writer's first acknowledged write")
            except _Fatal as e:
                raise LabError(str(e)) from None
        return logp

    def writer_stop(self):
        """Stops the writer (SIGTERM; it finishes its current write and writes
        its end line). Returns the log path."""
        w = self.desc.get("writer")
        if not w:
            raise LabError("no writer was started")
        if _signal_pid(w["pid"], signal.SIGTERM, w["log"]):
            try:
                wait_for(lambda: not pid_alive(w["pid"]), 10, interval=0.02,
                         what="the writer to stop")
            except WaitTimeout:
                _signal_pid(w["pid"], signal.SIGKILL, w["log"])
        p = self._procs.pop(w["pid"], None)
        if p:
            with contextlib.suppress(Exception):
                p.wait(timeout=5)
        return w["log"]

    def writer_acks(self):
        """Acknowledged writes so far: list of (t_us, id, server_id, latency_us)."""
        w = self.desc.get("writer")
        return [a for a in parse_writer_log(w["log"])["acks"]] if w else []

    def wait_acks(self, count, server_id=None, timeout=30):
        """Waits until the writer has `count` more acknowledged writes (from
        server_id if given) than when called."""
        def n():
            return sum(1 for a in self.writer_acks() if server_id is None or a[2] == server_id)
        base = n()
        wait_for(lambda: n() >= base + count, timeout, interval=0.05,
                 what=f"{count} acknowledged writes" + (f" from server {server_id}" if server_id else ""))

    def writer_verify(self, settle_timeout=30):
        """Stops the writer if it runs, waits (bounded) for replication to
        settle, and judges the run. Returns a dict (also the JSON of `lab
        writer verify`):
          ok            no lost write, no divergence, no split brain
          primary       the node judged against (the one writable running node)
          acked/failed  acknowledged and failed inserts; acks_by_node
          lost          acknowledged ids missing on the primary; lost_ranges
          divergence    per node: extra (rows the primary lacks), different
                        (same id, other content), missing (rows a settled
                        replica of the primary lacks)
          split_brain   windows in which the writer saw two nodes writable
                        (from its polls and from acknowledgements)
          max_gap_ms    longest time between two acknowledged writes; max_gap
                        with its ids and times; gaps: the 5 longest
          unsettled     replicas that did not catch up in time;
          unreadable    nodes whose rows could not be read (not running)"""
        w = self.desc.get("writer")
        if not w:
            raise LabError("no writer was started")
        self.writer_stop()
        parsed = parse_writer_log(w["log"])
        by_sid = {n.server_id: n.name for n in self.nodes}
        report = {"log": w["log"], "through": w["through"]}
        writable = [n for n in self.nodes if n.alive and not n.stopped and _writable(self, n)]
        report["writable_now"] = [n.name for n in writable]
        primary = None
        if len(writable) == 1:
            primary = writable[0]
        elif writable and parsed["acks"]:
            last_sid = parsed["acks"][-1][2]
            primary = next((n for n in writable if n.server_id == last_sid), None)
        report["primary"] = primary.name if primary else None
        unsettled, unreadable = [], []
        settled = set()
        if primary is not None:
            deadline = time.monotonic() + settle_timeout
            g = self.gtid(primary)
            for n in self.replicas_of(primary):
                left = deadline - time.monotonic()
                try:
                    if g and self.wait_gtid(n, g, timeout=max(1, left)):
                        settled.add(n.name)
                    else:
                        unsettled.append(n.name)
                except LabError:
                    unsettled.append(n.name)
        rows = {}
        for n in self.nodes:
            if not n.alive or n.stopped:
                unreadable.append(n.name)
                continue
            try:
                out = self.sql(n, "SELECT id, sent_us, origin FROM lab.writes", timeout=60)
                rows[n.name] = {int(r[0]): (r[1], r[2]) for r in
                                (line.split("\t") for line in out.splitlines()[1:]) if r[0]}
            except LabError:
                unreadable.append(n.name)
        acked_ids = [a[1] for a in parsed["acks"]]
        report["acked"] = len(acked_ids)
        report["failed"] = len(parsed["errors"])
        abn = {}
        for a in parsed["acks"]:
            k = by_sid.get(a[2], str(a[2]))
            abn[k] = abn.get(k, 0) + 1
        report["acks_by_node"] = abn
        lost = []
        if primary is not None and primary.name in rows:
            prow = rows[primary.name]
            lost = [i for i in acked_ids if i not in prow]
        report["lost"] = lost
        report["lost_ranges"] = _range_text(lost)
        div = {}
        if primary is not None and primary.name in rows:
            prow = rows[primary.name]
            for name, r in rows.items():
                if name == primary.name:
                    continue
                extra = sorted(i for i in r if i not in prow)
                different = sorted(i for i in r if i in prow and r[i] != prow[i])
                missing = sorted(i for i in prow if i not in r) if name in settled else []
                if extra or different or missing:
                    div[name] = {"extra": _range_text(extra), "different": _range_text(different),
                                 "missing": _range_text(missing)}
        report["divergence"] = div
        report["split_brain"] = _split_brain(parsed, by_sid)
        gaps = _gaps(parsed["acks"])
        report["gaps"] = gaps[:5]
        report["max_gap"] = gaps[0] if gaps else None
        report["max_gap_ms"] = gaps[0]["ms"] if gaps else None
        report["unsettled"] = unsettled
        report["unreadable"] = unreadable
        report["ok"] = bool(primary is not None and primary.name in rows and not lost
                            and not div and not report["split_brain"] and acked_ids)
        return report


class _Fatal(Exception):
    """Raised inside a wait_for predicate to stop waiting at once."""


def _writable(lab, n):
    try:
        return lab.value(n, "SELECT @@read_only", timeout=3) == "0"
    except LabError:
        return False


def _parse_batch(out):
    lines = out.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return []
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        vals = [None if v == "NULL" else _unescape(v) for v in line.split("\t")]
        rows.append(dict(zip(header, vals)))
    return rows


_ESC = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\"}


def _unescape(v):
    if "\\" not in v:
        return v
    return re.sub(r"\\(.)", lambda m: _ESC.get(m.group(1), m.group(1)), v)




def _check_topology(topology, nodes):
    if topology not in TOPOLOGIES:
        raise LabError(f"topology must be one of {', '.join(TOPOLOGIES)}")
    if topology == "dual" and nodes < 2:
        raise LabError("a dual primary needs at least 2 nodes")
    if topology == "chain" and nodes < 4:
        raise LabError("the chain topology needs at least 4 nodes (db4 under the relay db2)")


def _provision_env():
    return {"REPL_USER": USERS["repl"]["user"], "REPL_PASSWORD": USERS["repl"]["password"],
            "ADMIN_USER": USERS["admin"]["user"], "ADMIN_PASSWORD": USERS["admin"]["password"],
            "WRITER_USER": USERS["writer"]["user"], "WRITER_PASSWORD": USERS["writer"]["password"],
            "ROOT_USER": USERS["labroot"]["user"], "ROOT_PASSWORD": USERS["labroot"]["password"]}


def _describe(name, flavor, version, nodes, subnet, semisync, semisync_timeout_ms):
    net = ipaddress.ip_network(subnet)
    base = str(net.network_address).rsplit(".", 1)[0]
    sdir = _state_dir(name)
    desc = {
        "format": FORMAT, "name": name, "flavor": flavor, "version": version,
        "phase": "starting", "created": time.time(),
        "run": os.environ.get("FAILOVERD_LAB_RUN", ""),
        "state_dir": sdir, "subnet": subnet,
        "switch_namespace": _ns(name, "sw"),
        "client": {"namespace": _ns(name, "client"), "address": f"{base}.{CLIENT_HOST}"},
        "vip": {"address": f"{base}.{VIP_HOST}", "prefix_len": net.prefixlen, "interface": "eth0"},
        "semisync": bool(semisync), "semisync_timeout_ms": int(semisync_timeout_ms),
        "chroot": CHROOTS[flavor]["dir"] if flavor in CHROOTS else None,
        "users": {k: {"user": v["user"], "password": v["password"]} for k, v in USERS.items()},
        "nodes": [],
    }
    for i in range(1, nodes + 1):
        d = os.path.join(sdir, f"db{i}")
        desc["nodes"].append({
            "name": f"db{i}", "namespace": _ns(name, f"db{i}"),
            "address": f"{base}.{NODE_HOST_BASE + i}", "port": PORT, "flavor": flavor,
            "server_id": i, "pid": None, "dir": d, "datadir": os.path.join(d, "data"),
            "socket": os.path.join(d, "server.sock"), "config": os.path.join(d, "my.cnf"),
            "error_log": os.path.join(d, "error.log"),
            "initial_role": "primary" if i == 1 else "replica",
        })
    return desc


def default_name():
    return os.environ.get("FAILOVERD_LAB_NAME", "lab")


def unique_name(base):
    """A lab name unique to this process, for tests that may run in parallel
    with other people's: base plus the PID."""
    return f"{base}-{os.getpid()}"


def tool(name):
    """Path of a lab C helper (labwriter) built into $FAILOVERD_BUILD/tests/lab
    (default: the repository's build/)."""
    for d in (os.environ.get("FAILOVERD_BUILD"), os.path.join(REPO, "build")):
        if d:
            p = os.path.join(d, "tests", "lab", name)
            if os.access(p, os.X_OK):
                return p
    raise LabError(f"{name} is not built: cmake -S . -B build && cmake --build build "
                   "(or set FAILOVERD_BUILD)")


# ---------------------------------------------------------------- writer log

def _read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def parse_writer_log(path):
    """Parses a labwriter log (format in docs/lab.md) into a dict:
      acks    [(t_us, id, server_id, latency_us)]  acknowledged inserts, in
              log order; t_us - latency_us is when the insert was sent
      errors  [(t_us, id, errno, text)] failed inserts (outcome unknown)
      connects [(t_us, server_id)]; connect_errors [(t_us, errno, text)]
      polls   [(t_us, node, state, server_id)]  state rw | ro | down
      header, end: the key=value fields of the first and last lines"""
    out = {"acks": [], "errors": [], "connects": [], "connect_errors": [], "polls": [],
           "header": {}, "end": {}}
    for line in _read_lines(path):
        f = line.split(" ")
        try:
            if f[0] == "A":
                out["acks"].append((int(f[1]), int(f[2]), int(f[3]), int(f[4])))
            elif f[0] == "P":
                out["polls"].append((int(f[1]), f[2], f[3], int(f[4])))
            elif f[0] == "E":
                out["errors"].append((int(f[1]), int(f[2]), int(f[3]), " ".join(f[4:])))
            elif f[0] == "C":
                out["connects"].append((int(f[1]), int(f[2])))
            elif f[0] == "X":
                out["connect_errors"].append((int(f[1]), int(f[2]), " ".join(f[3:])))
            elif f[0] == "#" and len(f) > 2 and f[1] in ("labwriter", "end"):
                kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
                out["header" if f[1] == "labwriter" else "end"] = kv
        except (IndexError, ValueError):
            continue    # a line cut short by a kill
    return out


def _gaps(acks):
    ts = sorted((a[0], a[1]) for a in acks)
    gaps = [{"ms": round((b[0] - a[0]) / 1000, 1), "from_us": a[0], "to_us": b[0],
             "after_id": a[1], "before_id": b[1]} for a, b in zip(ts, ts[1:])]
    gaps.sort(key=lambda g: -g["ms"])
    return gaps


def _split_brain(parsed, by_sid):
    """Windows where two nodes were writable at once as the writer saw it.
    Evidence per node: a poll answering read_only=0, or an acknowledged write;
    a poll answering read-only or failing ends a run of evidence. A run of
    evidence spans from its first to its last observation."""
    events = {}
    for t, node, state, _sid in parsed["polls"]:
        events.setdefault(node, []).append((t, state == "rw"))
    for t, _id, sid, _lat in parsed["acks"]:
        events.setdefault(by_sid.get(sid, str(sid)), []).append((t, True))
    runs = {}
    for node, ev in events.items():
        ev.sort()
        cur = None
        for t, w in ev:
            if w:
                cur = [t, t] if cur is None else [cur[0], t]
            elif cur is not None:
                runs.setdefault(node, []).append(cur)
                cur = None
        if cur is not None:
            runs.setdefault(node, []).append(cur)
    out = []
    names = sorted(runs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for ra in runs[a]:
                for rb in runs[b]:
                    lo, hi = max(ra[0], rb[0]), min(ra[1], rb[1])
                    if lo <= hi:
                        out.append({"nodes": [a, b], "from_us": lo, "to_us": hi,
                                    "ms": round((hi - lo) / 1000, 1)})
    return out


# ---------------------------------------------------------------- selftest

def selftest(flavor, say=log, name=None):
    """Up a 3-node lab, check replication and access, switch the primary over
    to db2 by plain SQL under a running writer, verify, take the lab down and
    check nothing is left. Returns a dict of timings; raises on failure."""
    name = name or unique_name(f"self-{flavor}")
    t0 = time.monotonic()
    lab = Lab.up(flavor=flavor, nodes=3, name=name, say=say)
    timings = {"up_s": round(time.monotonic() - t0, 2)}
    with lab:
        st = lab.status()
        for n in lab.nodes:
            s = st["nodes"][n.name]
            if not (s["alive"] and s["reachable"] and s["responding"]):
                raise LabError(f"selftest: {n.name} not healthy: {s}")
        if not st["nodes"]["db1"]["writable"] or st["vip"]["on"] != ["db1"]:
            raise LabError(f"selftest: db1 should be the writable primary holding the VIP: {st}")
        for n in lab.nodes[1:]:
            r = st["nodes"][n.name]["replica"]
            if st["nodes"][n.name]["writable"] or not r or r["source_host"] != lab.nodes[0].address \
                    or r["io_running"] != "Yes" or r["sql_running"] != "Yes":
                raise LabError(f"selftest: {n.name} should replicate from db1: {st['nodes'][n.name]}")
        # Every account the lab documents works over TCP from the client namespace.
        for user in ("admin", "writer", "labroot"):
            for n in lab.nodes:
                if lab.value(n, "SELECT @@server_id", user=user) != str(n.server_id):
                    raise LabError(f"selftest: {user} cannot reach {n.name}")
        say(f"{flavor}: replication and access checked")
        lab.writer_start(through="vip")
        lab.wait_acks(50, server_id=1)
        # Switchover by plain SQL: fence db1, let db2 catch up, promote it.
        t1 = time.monotonic()
        lab.demote("db1")
        g = lab.gtid("db1")
        if not lab.wait_gtid("db2", g, timeout=30):
            raise LabError("selftest: db2 did not catch up with db1")
        lab.promote("db2")
        timings["switchover_s"] = round(time.monotonic() - t1, 2)
        lab.wait_acks(50, server_id=2)
        lab.wait_replicating("db2", timeout=30)
        v = lab.writer_verify()
        say(f"{flavor}: writer verify: ok={v['ok']} acked={v['acked']} lost={len(v['lost'])} "
            f"max_gap_ms={v['max_gap_ms']} by node={v['acks_by_node']}")
        if not v["ok"] or v["primary"] != "db2" or set(v["acks_by_node"]) != {"db1", "db2"}:
            raise LabError(f"selftest: writer verify failed: {json.dumps(v)[:2000]}")
        timings["max_gap_ms"] = v["max_gap_ms"]
        t2 = time.monotonic()
    timings["down_s"] = round(time.monotonic() - t2, 2)
    left = leftovers(name)
    if any(left.values()):
        raise LabError(f"selftest: lab {name} left {left}")
    say(f"{flavor}: selftest passed ({timings})")
    return timings
