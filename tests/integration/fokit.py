"""failoverd's side of the lab tests: a config written from a lab's description,
the daemon run in the lab's client namespace, and failoverctl to ask it things.

Every wait is bounded (labkit.wait_for); the daemon is stopped by its PID.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labkit  # noqa: E402

BUILD = os.environ.get("FAILOVERD_BUILD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
FAILOVERD = os.path.join(BUILD, "daemon", "failoverd")
FAILOVERCTL = os.path.join(BUILD, "daemon", "failoverctl")


VIP_SO = os.path.join(BUILD, "plugins", "vip.so")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A sanitizer report in the daemon's log: the test fails on any of these.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
ASAN_OPTIONS = "detect_leaks=1:halt_on_error=1:abort_on_error=0"
LSAN_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan.supp")


def use_build(path):
    """Runs failoverd, failoverctl and the plugins from another build directory."""
    global BUILD, FAILOVERD, FAILOVERCTL, VIP_SO
    BUILD = path
    FAILOVERD = os.path.join(BUILD, "daemon", "failoverd")
    FAILOVERCTL = os.path.join(BUILD, "daemon", "failoverctl")
    VIP_SO = os.path.join(BUILD, "plugins", "vip.so")


def asan_build(timeout=1200):
    """The AddressSanitizer+UBSan build to run the daemon from: FAILOVERD_ASAN_BUILD
    if set (scripts/test sets it), else the repository's build-asan, configured
    and built here (bounded) when its daemon is missing. Returns its path."""
    path = os.environ.get("FAILOVERD_ASAN_BUILD") or os.path.join(REPO, "build-asan")
    if not os.access(os.path.join(path, "daemon", "failoverd"), os.X_OK):
        labkit.log("building the ASan+UBSan daemon in %s" % path)
        labkit.run(["cmake", "-S", REPO, "-B", path, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                    "-DFAILOVERD_ASAN=ON", "-DFAILOVERD_UBSAN=ON"], timeout=timeout)
        labkit.run(["cmake", "--build", path, "-j%d" % (os.cpu_count() or 1)], timeout=timeout)
    return path


def sanitized():
    """Whether the daemon in use was built with AddressSanitizer."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "FAILOVERD_ASAN:BOOL=ON" in f.read()
    except OSError:
        return False


def vip_plugin_config(lab):
    """The plugins group that moves the lab's VIP with plugins/vip: it reaches each
    node's namespace through the node's `netns` var (see config_text)."""
    vip = lab.desc["vip"]
    return """    plugins = (
      { path = "%s";
        config = { address = "%s/%d"; interface = "%s"; wrap = "ip netns exec {netns}"; }; }
    );""" % (VIP_SO, vip["address"], vip["prefix_len"], vip["interface"])


def config_text(lab, sock, state_dir, cluster="main", daemon_extra="", cluster_extra="",
                node_rules=None, test_extra="", vip_plugin=False, top_extra=""):
    """A failoverd configuration for the lab: every node (with its namespace in
    vars.netns), the lab's admin and replication accounts, the default detection
    settings; with vip_plugin, plugins/vip moves the lab's VIP."""
    users = lab.desc["users"]
    node_rules = node_rules or {}
    nodes = ",\n".join(
        '      { name = "%s"; host = "%s"; port = %d; promotion_rule = "%s"; '
        'vars = { netns = "%s"; }; }'
        % (n["name"], n["address"], n["port"], node_rules.get(n["name"], "neutral"),
           n["namespace"])
        for n in lab.desc["nodes"])
    if vip_plugin:
        cluster_extra = vip_plugin_config(lab) + "\n" + cluster_extra
    return """daemon = {
  control_socket = "%(sock)s";
  state_dir = "%(state)s";
  log_level = "info";
%(daemon_extra)s
};
clusters = (
  {
    name = "%(cluster)s";
    user = "%(user)s";
    password = "%(password)s";
    repl_user = "%(ruser)s";
    repl_password = "%(rpassword)s";
    semisync = %(semisync)s;
%(cluster_extra)s
    nodes = (
%(nodes)s
    );
  }
);
test = {
%(test_extra)s
};
%(top_extra)s
""" % dict(sock=sock, state=state_dir, cluster=cluster, user=users["admin"]["user"],
           password=users["admin"]["password"], ruser=users["repl"]["user"],
           rpassword=users["repl"]["password"], nodes=nodes, daemon_extra=daemon_extra,
           cluster_extra=cluster_extra, test_extra=test_extra, top_extra=top_extra,
           semisync="true" if lab.desc.get("semisync") else "false")


class Daemon:
    """failoverd running in the lab's client namespace."""

    def __init__(self, lab, workdir=None, **config):
        self.lab = lab
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="failoverd-test-")
        self.sock = os.path.join(self.dir, "control.sock")
        self.state = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "failoverd.conf")
        self.log_path = os.path.join(self.dir, "failoverd.log")
        self.config = config
        self.proc = None
        self.write_config()

    def write_config(self, **config):
        self.config.update(config)
        # The file holds inline passwords: private, or failoverd refuses it.
        fd = os.open(self.conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(config_text(self.lab, self.sock, self.state, **self.config))

    def start(self, wait_ready=True, timeout=15, env_extra=None):
        log = open(self.log_path, "ab")
        argv = ["ip", "netns", "exec", self.lab.client_ns, FAILOVERD, "-c", self.conf]
        env = dict(os.environ, **(env_extra or {}))
        env.setdefault("ASAN_OPTIONS", ASAN_OPTIONS)
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.setdefault("LSAN_OPTIONS", "suppressions=" + LSAN_SUPP)
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     env=env)
        log.close()
        if wait_ready:
            labkit.wait_for(lambda: self.first_round_done(), timeout,
                            what="failoverd answers status after its first probe round")
        return self

    def first_round_done(self):
        if self.proc.poll() is not None:
            raise labkit.LabError("failoverd exited with %s:\n%s" % (self.proc.returncode,
                                                                   self.log_tail()))
        try:
            st = self.status()
        except Exception:
            return False
        return all(n["state"] != "unknown" for c in st["clusters"] for n in c["nodes"])

    def ctl(self, *args, timeout=30, check=True):
        """failoverctl --json ARGS; returns (exit code, parsed JSON or text)."""
        argv = [FAILOVERCTL, "-s", self.sock, "--json"] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        try:
            out = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            out = p.stdout
        if check and p.returncode != 0:
            raise labkit.LabError("failoverctl %s: exit %d: %s %s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p.returncode, out

    def ctl_text(self, *args, timeout=30, user=None):
        """failoverctl ARGS without --json (human output), optionally run as
        another user (runuser -u USER); returns the CompletedProcess (text)."""
        argv = [FAILOVERCTL, "-s", self.sock] + list(args)
        if user:
            argv = ["runuser", "-u", user, "--"] + argv
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def status(self, cluster=None):
        args = ["status"] + ([cluster] if cluster else [])
        return self.ctl(*args, timeout=10)[1]

    def cluster(self, name="main"):
        return next(c for c in self.status()["clusters"] if c["name"] == name)

    def node(self, node, cluster="main"):
        return next(n for n in self.cluster(cluster)["nodes"] if n["name"] == node)

    def wait_verdict(self, verdict, timeout=15, cluster="main"):
        labkit.wait_for(lambda: self.cluster(cluster)["verdict"] == verdict, timeout,
                        what="verdict %s on %s" % (verdict, cluster))

    def events(self):
        """The event lines of the daemon's log so far (name -> list of lines)."""
        out = {}
        with open(self.log_path, errors="replace") as f:
            for line in f:
                i = line.find(" event=")
                if i >= 0:
                    name = line[i + 7:].split()[0]
                    out.setdefault(name, []).append(line.rstrip())
        return out

    def wait_event(self, name, timeout=15, count=1):
        labkit.wait_for(lambda: len(self.events().get(name, [])) >= count, timeout,
                        what="event %s in the daemon's log" % name)
        return self.events()[name]

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def sanitizer_reports(self):
        """The lines of the daemon's log where a sanitizer reported an error."""
        try:
            with open(self.log_path, errors="replace") as f:
                return [ln.rstrip() for ln in f if any(m in ln for m in SANITIZER_MARKS)]
        except OSError:
            return []

    def journal(self):
        """The journal records of the operations (failovers, switchovers), oldest
        first: the rejoin's own records (kind "rejoin") are left out, as the
        daemon's history leaves them out (docs/recovery.md)."""
        return [r for r in self.journal_all() if r.get("kind") != "rejoin"]

    def journal_all(self):
        """Every journal record, the rejoin's too, oldest first (a torn last line
        is skipped)."""
        out = []
        try:
            with open(os.path.join(self.state, "journal.jsonl")) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        except OSError:
            pass
        return out

    def wait_exit(self, timeout=30):
        """Waits (bounded) for the daemon to exit by itself; returns its exit
        status (negative: killed by that signal)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise labkit.LabError("failoverd did not exit within %d s:\n%s"
                                  % (timeout, self.log_tail()))

    def stop(self, timeout=30):
        """SIGTERM, then wait (bounded) for a clean exit; returns the exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise labkit.LabError("failoverd did not stop within %d s" % timeout)
        reports = self.sanitizer_reports()
        if reports:     # only a sanitizer build writes these (scripts/test --lab-asan)
            raise labkit.LabError("failoverd's sanitizers reported errors:\n%s\n%s"
                                  % ("\n".join(reports[:5]), self.log_tail(60)))
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def operations(self, cluster="main"):
        """Finished operations in the journal (their done/failed/aborted records), oldest first."""
        return [r for r in self.journal() if r.get("cluster") == cluster
                and r.get("type") in ("done", "failed", "aborted")]

    def wait_operation(self, count=1, timeout=40, cluster="main"):
        """Waits until `count` operations of the cluster have finished; returns the
        last one's end record (type done, failed or aborted) from the journal."""
        labkit.wait_for(lambda: len(self.operations(cluster)) >= count, timeout,
                        what="operation %d of %s to finish" % (count, cluster))
        return self.operations(cluster)[count - 1]

    def op_records(self, op):
        """Every journal record of one operation (begin, step..., elect, done)."""
        return [r for r in self.journal() if r.get("op") == op]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type:
            sys.stderr.write("--- failoverd log (last lines) ---\n" + self.log_tail(80))
        self.kill()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def writable_nodes(lab):
    """Names of the running nodes that are writable now (read_only off), asked
    by unix socket, so partitions don't hide them."""
    out = []
    for n in lab.nodes:
        if not n.alive or n.stopped:
            continue
        try:
            if lab.value(n, "SELECT @@read_only", timeout=3) == "0":
                out.append(n.name)
        except labkit.LabError:
            pass
    return out


# ---------------------------------------------------------------- GTIDs
# Just enough GTID algebra to judge the data: MySQL sets (uuid[:tag]:ranges)
# and MariaDB positions (domain-server-seq per domain).

def gtid_parse(flavor, text):
    """MySQL: {"uuid[:tag]": set of transaction numbers}; MariaDB: {domain: (server, seq)}."""
    text = (text or "").replace("\n", "").strip()
    out = {}
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if labkit.family(flavor) == "mariadb":
            d, srv, seq = part.split("-")
            out[int(d)] = (int(srv), int(seq))
            continue
        fields = part.split(":")
        key, txns = fields[0].lower(), out.setdefault(fields[0].lower(), set())
        for f in fields[1:]:
            if not f[0].isdigit():        # a tag: the intervals after it belong to uuid:tag
                key = fields[0].lower() + ":" + f
                txns = out.setdefault(key, set())
                continue
            a, _, b = f.partition("-")
            txns.update(range(int(a), int(b or a) + 1))
    return out


def gtid_missing(flavor, have, want):
    """How many transactions of `want` `have` lacks (MariaDB: by sequence number
    per domain)."""
    h, w = gtid_parse(flavor, have), gtid_parse(flavor, want)
    if labkit.family(flavor) == "mariadb":
        return sum(max(0, seq - h.get(d, (0, 0))[1]) for d, (_srv, seq) in w.items())
    return sum(len(txns - h.get(k, set())) for k, txns in w.items())


def gtid_covers(flavor, have, want):
    """`have` holds everything in `want`."""
    return gtid_missing(flavor, have, want) == 0


# ---------------------------------------------------------------- topology

def wait_topology(lab, primary, timeout=30):
    """Waits until `primary` is the one writable node of the running ones and
    every other running node replicates from it (IO and SQL threads running)
    and has executed what it has. Returns {node: state} of the replicas."""
    p = lab.node(primary)

    def ok():
        w = writable_nodes(lab)
        if w != [p.name]:
            raise labkit.LabError("writable nodes: %s (expected only %s)" % (w, p.name))
        out = {}
        for n in lab.nodes:
            if n is p or not n.alive or n.stopped:
                continue
            st = lab.state(n)
            r = st["replica"] or {}
            if r.get("source_host") != p.address or r.get("io_running") != "Yes" \
                    or r.get("sql_running") != "Yes":
                raise labkit.LabError("%s does not replicate from %s: %s" % (n.name, p.name, r))
            out[n.name] = st
        return [out]
    states, = labkit.wait_for(ok, timeout, interval=0.2,
                             what="%s the only primary, every running node its replica" % p.name)
    g = lab.gtid(p)
    for name in states:
        check(lab.wait_gtid(name, g, timeout=timeout), "%s did not execute %s" % (name, g))
    return states


class ApplierLock:
    """A lagging replica that stays behind: a session on node holds LOCK TABLES
    lab.writes READ, so its SQL thread waits at the next write while its IO
    thread goes on receiving. (Stopping the SQL thread, lab.lag, does not last
    through a failover: failoverd starts the appliers of the replicas it
    prepares.) release() ends the session and returns the time it did."""

    def __init__(self, lab, node):
        self.lab, self.node = lab, node
        argv, env = lab.client_argv(node)
        self.proc = subprocess.Popen(argv + ["--batch"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     text=True, env={**os.environ, **env})
        self.proc.stdin.write("LOCK TABLES lab.writes READ; SELECT SLEEP(300) AS held;\n")
        self.proc.stdin.flush()
        labkit.wait_for(self.session, 10, what="the lock on %s" % node)

    def session(self):
        return self.lab.value(self.node, "SELECT ID FROM information_schema.PROCESSLIST "
                                         "WHERE INFO LIKE 'SELECT SLEEP(300)%'")

    def release(self):
        try:
            sid = self.session()
            if sid:
                self.lab.sql(self.node, "KILL %s" % sid)
        except labkit.LabError:
            pass                # the node is gone, and its session with it
        self.close()
        return time.time()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdin:
            self.proc.stdin.close()


def squash(text):
    """failoverctl wraps what it says at 80 columns: the text with every run
    of blanks made one space, for looking for phrases in it."""
    return " ".join((text or "").split())


HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks")


def vip_hook(lab):
    """A cluster_extra line: the post_promotion script hook that moves the
    lab's VIP to the new primary (tests/integration/hooks/lab-vip)."""
    return '    hooks = { post_promotion = "%s %s"; };' % (os.path.join(HOOKS, "lab-vip"), lab.name)


def check(cond, what):
    """An assertion with a sentence: raises with `what` when cond is false."""
    if not cond:
        raise AssertionError(what)


def run_main(fn):
    """Runs fn(), prints the outcome; exit 0 on success, 1 on failure."""
    labkit.install_signal_handlers()
    start = time.time()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - report any failure as the test's failure
        import traceback
        traceback.print_exc()
        print("FAILED after %.1f s: %s" % (time.time() - start, e))
        sys.exit(1)
    print("ok (%.1f s)" % (time.time() - start))
    sys.exit(0)
