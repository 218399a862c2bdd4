#!/usr/bin/env python3
"""The control socket against careless and hostile clients, at the daemon.

1. Owner, group and mode come from the configuration (root, nogroup, 0666).
2. SO_PEERCRED: a uid that is not allowed (failoverctl run as nobody) gets
   `forbidden` (exit 65); allowed by uid, or by group, it gets its answer;
   with mode 0660 the file permissions already keep it out (exit 69).
3. Bad input gets structured errors and the connection (or the daemon) goes
   on: malformed JSON (bad_request), an unknown command (unknown_command,
   with the list), missing and bad arguments, an unknown cluster; a request
   over control_max_request gets too_large and the connection is closed.
4. Slow and hostile clients cannot stall the daemon: one sends half a line
   and never more, one pipelines thousands of requests and never reads its
   replies (it is disconnected), more connections than allowed get `busy`;
   meanwhile `failoverctl status` answers.
5. `status` answers while a switchover runs (waiting on a lagging candidate),
   and shows it."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

NOBODY = 65534


class Conn:
    """A raw protocol connection (JSON lines)."""

    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("the daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, obj):
        self.send(json.dumps(obj) + "\n")
        return self.reply()

    def closed(self):
        """True when the daemon has closed its end (after any pending replies)."""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def error_code(r):
    return None if r.get("ok") else r["error"]["code"]


def daemon(lab, **config):
    """A Daemon whose work directory nobody may traverse (it holds the socket);
    removed with the daemon, as fokit does with the ones it makes."""
    path = tempfile.mkdtemp(prefix="failoverd-ctl-")
    os.chmod(path, 0o755)
    d = fokit.Daemon(lab, workdir=path, **config)
    d.own_dir = True
    return d


def access(lab, say):
    d = daemon(lab, daemon_extra='  control_socket_mode = "0666";\n'
               '  control_socket_group = "nogroup";\n  control_max_request = 1024;')
    with d:
        d.start()
        st = os.stat(d.sock)
        check((st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o666, 0, NOBODY),
              "socket mode, owner, group from the configuration: %o %d %d"
              % (st.st_mode & 0o777, st.st_uid, st.st_gid))
        p = d.ctl_text("status", user="nobody")
        said = fokit.squash(p.stderr)
        check(p.returncode == 65 and "uid %d may not use this control socket" % NOBODY in said
              and "forbidden" in said, "nobody is refused: %s %s" % (p.returncode, p.stderr))
        check(d.ctl_text("status").returncode == 0, "root is served")
        say("socket 0666 root:nogroup; uid %d forbidden, root served" % NOBODY)
        protocol(d, say)
        hostile(lab, d, say)
        during_switchover(lab, d, say)
        check(d.stop() == 0, "failoverd stops cleanly")
    for extra, how in (("  control_allowed_uids = [ %d ];" % NOBODY, "by uid"),
                       ("  control_allowed_gids = [ %d ];" % NOBODY, "by group")):
        d = daemon(lab, daemon_extra='  control_socket_mode = "0666";\n' + extra)
        with d:
            d.start()
            p = d.ctl_text("status", user="nobody")
            check(p.returncode == 0 and "CLUSTER main" in p.stdout,
                  "nobody allowed %s is served: %s %s" % (how, p.returncode, p.stderr))
            d.stop()
        say("nobody allowed %s: served" % how)
    d = daemon(lab, daemon_extra='  control_socket_mode = "0660";')
    with d:
        d.start()
        p = d.ctl_text("status", user="nobody")
        check(p.returncode == 69, "mode 0660 keeps nobody out: %s %s" % (p.returncode, p.stderr))
        d.stop()
    say("mode 0660: nobody cannot even connect (exit 69)")


def protocol(d, say):
    c = Conn(d.sock)
    r = c.ask({"cmd": "status", "id": 1})
    check(r["ok"] and r["id"] == 1, "a plain request: %s" % r)
    c.send('{"cmd": "status", \n')
    r = c.reply()
    check(error_code(r) == "bad_request" and "not valid JSON" in r["error"]["message"], str(r))
    c.send('[1, 2]\n')
    check(error_code(c.reply()) == "bad_request", "not an object")
    r = c.ask({"cmd": "frobnicate", "id": "x"})
    check(error_code(r) == "unknown_command" and "switchover" in r["error"]["commands"]
          and r["id"] == "x", "unknown command, with the known ones: %s" % r)
    cases = [({"cmd": "switchover", "args": {}}, "missing_argument"),
             ({"cmd": "switchover", "args": {"cluster": 7}}, "bad_argument"),
             ({"cmd": "switchover", "args": {"cluster": "main", "policy": "fast"}},
              "bad_argument"),
             ({"cmd": "switchover", "args": {"cluster": "main", "timeout_s": -1}},
              "bad_argument"),
             ({"cmd": "switchover", "args": {"cluster": "main", "bogus": True}}, "bad_argument"),
             ({"cmd": "switchover", "args": {"cluster": "nope"}}, "not_found"),
             ({"cmd": "switchover", "args": {"cluster": "main", "to": "db9"}}, "not_found"),
             ({"cmd": "history", "args": {"limit": "ten"}}, "bad_argument"),
             ({"cmd": "status", "args": "main"}, "bad_request")]
    for req, code in cases:
        r = c.ask(req)
        check(error_code(r) == code and r["error"]["message"],
              "%s -> %s: %s" % (json.dumps(req), code, r))
    r = c.ask({"cmd": "status"})
    check(r["ok"], "the same connection still works after every error")
    c.send('{"cmd": "status", "args": {"cluster": "%s"}}\n' % ("x" * 2000))
    r = c.reply()
    check(error_code(r) == "too_large" and "1024" in r["error"]["message"], str(r))
    check(c.closed(), "a too large request closes the connection")
    c.close()
    check(d.ctl_text("status").returncode == 0, "the daemon carries on")
    say("bad JSON, unknown command, %d bad or missing arguments: structured errors; "
        "too_large closes; the daemon carries on" % len(cases))


def hostile(lab, d, say):
    half = Conn(d.sock)
    half.send('{"cmd": "sta')               # ... and nothing more, ever
    greedy = Conn(d.sock, timeout=30)
    stop = threading.Event()

    def flood():
        line = b'{"cmd": "status"}\n'
        try:
            for _ in range(4000):
                if stop.is_set():
                    break
                greedy.send(line * 5)
        except OSError:
            pass                            # disconnected by the daemon: expected
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    slowest = 0
    for _ in range(10):
        t0 = time.monotonic()
        p = d.ctl_text("status", "main", timeout=15)
        slowest = max(slowest, time.monotonic() - t0)
        check(p.returncode == 0, "status answers beside hostile clients: %s" % p.stderr)
        time.sleep(0.1)
    wait_for(lambda: any("does not read its replies" in line for line in open(d.log_path)),
             30, what="the daemon to drop the client that does not read")
    stop.set()
    t.join(10)
    extra = []
    try:
        for _ in range(40):
            extra.append(Conn(d.sock))
        time.sleep(1)                       # the refusals are sent at once
        busy = 0
        for c in extra:
            try:
                c.s.settimeout(0.01)
                busy += error_code(c.reply()) == "busy"
            except (socket.timeout, EOFError):
                pass
        check(busy >= 40 - 32, "connections beyond the limit get busy: %d" % busy)
    finally:
        for c in extra:
            c.close()
    # A connection racing the daemon's noticing of the closes may itself be
    # told busy (exit 75: try again); it is served once they are noticed.
    wait_for(lambda: d.ctl_text("status").returncode == 0, 10,
             what="status to answer after the flood of connections")
    half.close()
    greedy.close()
    say("half a line, a client that never reads (dropped), %d connections too many (busy): "
        "status answered within %.0f ms throughout" % (busy, slowest * 1000))


def during_switchover(lab, d, say):
    lab.lag("db2", True)
    argv = [fokit.FAILOVERCTL, "-s", d.sock, "switchover", "main", "--to", "db2",
            "--timeout", "4"]
    sw = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = 0
        while sw.poll() is None:
            f = d.cluster()["failover"]
            if f:
                check(f["kind"] == "switchover" and f["state"] == "running", str(f))
                seen += 1
            time.sleep(0.1)
        sw.communicate(timeout=10)
    finally:
        if sw.poll() is None:
            sw.kill()
            sw.wait()
        lab.lag("db2", False)
    check(seen >= 10 and sw.returncode == 1, "status answered %d times while the switchover "
          "waited; it then rolled back (exit %s)" % (seen, sw.returncode))
    say("status answered %d times during a switchover" % seen)


def main():
    with labkit.Lab.up("mariadb", 2, name=labkit.unique_name("sw55")) as lab:
        access(lab, lambda m: labkit.log("control: " + m))


if __name__ == "__main__":
    fokit.run_main(main)
