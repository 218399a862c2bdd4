"""systemd_harness - plays systemd's side for failoverd's integration tests.

Used by tests/integration/8x-systemd-*.py (this file is a module, not a test).
It provides what systemd would: a NOTIFY_SOCKET datagram listener that records
every sd_notify() message with its arrival time and sender pid, and a journald
socket that decodes the native journal protocol.  It also starts throwaway
MariaDB servers on 127.0.0.1 in temporary directories, runs the real failoverd
binary from $FAILOVERD_BUILD, and talks to it with the real failoverctl.

Everything started here is stopped by PID.  Waits are bounded polls, never bare
sleeps: wait_for() returns as soon as the condition holds.
"""
import array
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("FAILOVERD_BUILD") or os.path.join(ROOT, "build")
FAILOVERD = os.path.join(BUILD, "daemon", "failoverd")
FAILOVERCTL = os.path.join(BUILD, "daemon", "failoverctl")


class TestFailure(Exception):
    pass


def step(msg):
    print("--", msg, flush=True)


def ok(msg):
    print("ok:", msg, flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)
    ok(msg)


def wait_for(pred, timeout, what, interval=0.02):
    """Poll pred() until it returns something true, at most timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def built_with_libsystemd():
    """sd_notify needs libsystemd; a build without it notifies nothing."""
    out = subprocess.run(["ldd", FAILOVERD], capture_output=True, text=True).stdout
    return "libsystemd" in out


# ---- NOTIFY_SOCKET -----------------------------------------------------------

class Message:
    def __init__(self, t, pid, fields):
        self.t = t            # time.monotonic() at arrival
        self.pid = pid        # sender, from SCM_CREDENTIALS
        self.fields = fields  # ["READY=1", "STATUS=..."]

    def has(self, prefix):
        return any(f.startswith(prefix) for f in self.fields)

    def get(self, key):
        for f in self.fields:
            if f.startswith(key + "="):
                return f[len(key) + 1:]
        return None

    def __repr__(self):
        return "%.3f pid %s %s" % (self.t, self.pid, self.fields)


class NotifyListener:
    """The receiving end of sd_notify(): an AF_UNIX datagram socket that passes
    credentials, as systemd's notify socket does."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.1)
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        creds_len = struct.calcsize("3i")
        while self.running:
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(creds_len))
            except socket.timeout:
                continue
            except OSError:
                return
            t = time.monotonic()
            pid = None
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid, _, _ = struct.unpack("3i", cdata[:creds_len])
            fields = [f for f in data.decode("utf-8", "replace").split("\n") if f]
            with self.lock:
                self.messages.append(Message(t, pid, fields))

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def find(self, prefix, start=0):
        """Index of the first message at or after start with a field starting
        with prefix, or None."""
        msgs = self.snapshot()
        for i in range(start, len(msgs)):
            if msgs[i].has(prefix):
                return i
        return None

    def wait(self, prefix, timeout, start=0):
        i = wait_for(lambda: (lambda r: None if r is None else r + 1)(self.find(prefix, start)),
                     timeout, prefix)
        return i - 1

    def times(self, prefix, start=0, end=None):
        msgs = self.snapshot()[start:end]
        return [m.t for m in msgs if m.has(prefix)]

    def close(self):
        self.running = False
        self.thread.join(1)
        self.sock.close()


# ---- journald ----------------------------------------------------------------

def parse_journal_datagram(data):
    """The native journal protocol: KEY=value lines, or for values with
    newlines KEY\\n, a little-endian 64-bit length, the value, and \\n."""
    entry = {}
    i = 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            nl = len(data)
        line = data[i:nl]
        eq = line.find(b"=")
        if eq >= 0:
            entry[line[:eq].decode()] = line[eq + 1:].decode("utf-8", "replace")
            i = nl + 1
        else:
            key = line.decode()
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            entry[key] = data[nl + 9:nl + 9 + n].decode("utf-8", "replace")
            i = nl + 9 + n + 1
    return entry


class JournalListener:
    """journald's /run/systemd/journal/socket, for a daemon that runs in a mount
    namespace where that path is bound to this socket's directory."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "socket")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.entries = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        fd_size = array.array("i").itemsize
        while self.running:
            try:
                data, anc, _, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(fd_size))
            except socket.timeout:
                continue
            except OSError:
                return
            for level, typ, cdata in anc:
                # A large entry comes as a sealed memfd instead of inline.
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fd = array.array("i", cdata[:fd_size])[0]
                    with os.fdopen(fd, "rb") as f:
                        data = f.read()
            with self.lock:
                self.entries.append(parse_journal_datagram(data))

    def snapshot(self):
        with self.lock:
            return list(self.entries)

    def close(self):
        self.running = False
        self.thread.join(1)
        self.sock.close()


# ---- throwaway MariaDB ---------------------------------------------------------

class Mariadb:
    """One mariadbd on 127.0.0.1:port with its data in dir, and an account
    user/password that failoverd probes with."""

    def __init__(self, directory, user, password):
        self.dir = directory
        self.port = free_port()
        self.sock = os.path.join(directory, "mysqld.sock")
        self.proc = None
        os.makedirs(directory)
        datadir = os.path.join(directory, "data")
        r = subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + datadir,
                            "--user=" + _whoami(), "--skip-test-db",
                            "--auth-root-authentication-method=socket"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise TestFailure("mariadb-install-db failed:\n" + r.stdout + r.stderr)
        self.log = open(os.path.join(directory, "error.log"), "w")
        self.proc = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--datadir=" + datadir, "--socket=" + self.sock,
             "--port=%d" % self.port, "--bind-address=127.0.0.1", "--user=" + _whoami(),
             "--pid-file=" + os.path.join(directory, "mysqld.pid"), "--skip-name-resolve",
             "--innodb-buffer-pool-size=16M", "--log-bin=binlog", "--server-id=1"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or self._sql("SELECT 1", quiet=True),
                 30, "mariadbd on port %d" % self.port, interval=0.05)
        if self.proc.poll() is not None:
            raise TestFailure("mariadbd exited: see " + self.log.name)
        self._sql("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; "
                  "GRANT ALL ON *.* TO '%s'@'127.0.0.1'" % (user, password, user))

    def _sql(self, sql, quiet=False):
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.sock, "-uroot", "-e", sql],
                           capture_output=True, text=True)
        if r.returncode != 0 and not quiet:
            raise TestFailure("SQL failed: %s\n%s" % (sql, r.stderr))
        return r.returncode == 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()


def _whoami():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


class Blackhole:
    """A TCP port that accepts connections (the kernel completes them) but never
    says a word: a probe of it runs into its timeout."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


# ---- the daemon ----------------------------------------------------------------

class Daemon:
    """failoverd -c config, with systemd's environment, its stderr in a file."""

    def __init__(self, tmp, config, env_extra, wrapper=None, journal_stream=False):
        self.log_path = os.path.join(tmp, "failoverd.%d.log" % int(time.monotonic() * 1000))
        self.log = open(self.log_path, "w")
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")}
        env.update(env_extra)
        if journal_stream:
            # What systemd sets when it connects stderr to the journal.
            st = os.fstat(self.log.fileno())
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        argv = [FAILOVERD, "-c", config]
        self.started = time.monotonic()
        self.proc = subprocess.Popen((wrapper or []) + argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, env=env)
        self.pid = self.proc.pid

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("failoverd (pid %d) did not exit within %d s" % (self.pid, timeout))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def failoverctl(socket_path, *args):
    r = subprocess.run([FAILOVERCTL, "-s", socket_path, "--json"] + list(args),
                       capture_output=True, text=True, timeout=30)
    result = None
    if r.returncode == 0:
        result = json.loads(r.stdout)
    return r.returncode, result, r.stderr


def write_config(path, text):
    # Inline passwords: private to the owner, or failoverd refuses the file.
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.rename(path + ".new", path)


class Run:
    """A test's temporary directory and everything started in it; cleanup()
    stops them all by PID."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="failoverd-%s." % name)
        self.things = []

    def add(self, thing):
        self.things.append(thing)
        return thing

    def cleanup(self, keep):
        for t in reversed(self.things):
            try:
                (getattr(t, "kill", None) or getattr(t, "stop", None) or t.close)()
            except Exception as e:  # keep cleaning up the rest
                print("cleanup:", e, file=sys.stderr)
        if keep:
            print("files kept in", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main(name, body):
    """Run body(run) and turn its outcome into the exit status."""
    run = Run(name)
    failed = False
    try:
        body(run)
    except TestFailure as e:
        failed = True
        print("FAIL:", e, flush=True)
        for t in run.things:
            if isinstance(t, Daemon):
                print("---- failoverd log (%s) ----" % t.log_path)
                print("\n".join(t.text().splitlines()[-40:]))
    finally:
        run.cleanup(keep=failed and os.environ.get("KEEP_TMP") == "1")
    print("%s: %s" % (name, "FAILED" if failed else "passed"))
    return 1 if failed else 0
