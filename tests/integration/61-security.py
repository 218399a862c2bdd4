#!/usr/bin/env python3
"""Security at the running daemon: reloads, files, the control socket, hooks.

1. Reload applies the control socket's access lists: a uid removed from
   control_allowed_uids is refused after SIGHUP, at once; `failoverctl reload`
   says what was reloaded, names the settings that need a restart, and exits
   1 with the reasons (file:line) when the file is rejected — the running
   configuration stays.
2. Readers: a uid in control_readonly_uids runs status and history, and gets
   `forbidden` (exit 65) for pause.
3. Files: a configuration with inline passwords readable by others, a hook in
   a group-writable directory, a plugin path that climbs out of the plugin
   directory are each refused by name with the fix (reload rejected, exit 78
   at start).
4. Pressure: a reader holding every connection it can get (and hammering the
   socket with 300 more) leaves root served at once; its idle connections
   are closed within seconds; the refusals give a handful of log lines.
5. Hooks (both flavors): a switchover_before veto's reason (the hook's
   stderr) is in failoverctl's output and nothing moved; a hook runs with a
   clean environment (no NOTIFY_SOCKET, nothing of the caller's), and the
   switchover then moves the primary."""
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

NOBODY = 65534
HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks")


def daemon(lab, **config):
    """A Daemon in a directory nobody may traverse (it holds the socket)."""
    path = tempfile.mkdtemp(prefix="failoverd-sec-")
    os.chmod(path, 0o755)
    d = fokit.Daemon(lab, workdir=path, **config)
    d.own_dir = True
    return d


def sock_extra(extra=""):
    return '  control_socket_mode = "0666";\n' + extra


def reload_and_acl(lab, d, say):
    p = d.ctl_text("status", user="nobody")
    check(p.returncode == 0, "nobody (allowed) is served: %s %s" % (p.returncode, p.stderr))
    # SIGHUP without nobody: refused at once, no restart needed.
    d.write_config(daemon_extra=sock_extra())
    n = len(d.events().get("config_reloaded", []))
    d.signal(1)
    d.wait_event("config_reloaded", count=n + 1)
    p = d.ctl_text("status", user="nobody")
    check(p.returncode == 65 and "forbidden" in fokit.squash(p.stderr),
          "after SIGHUP, the removed uid is refused: %s %s" % (p.returncode, p.stderr))
    say("a uid removed from control_allowed_uids is refused after SIGHUP")

    # Readers.
    d.write_config(daemon_extra=sock_extra("  control_readonly_uids = [ %d ];" % NOBODY))
    p = d.ctl_text("reload")
    check(p.returncode == 0 and "configuration reloaded from %s" % d.conf in p.stdout,
          "failoverctl reload: %s %s %s" % (p.returncode, p.stdout, p.stderr))
    for cmd in (["status"], ["history"], ["plan", "main"]):
        p = d.ctl_text(*cmd, user="nobody")
        check(p.returncode == 0, "a reader runs %s: %s %s" % (cmd[0], p.returncode, p.stderr))
    p = d.ctl_text("pause", "main", user="nobody")
    said = fokit.squash(p.stderr)
    check(p.returncode == 65 and "may only read" in said,
          "a reader may not pause: %s %s" % (p.returncode, p.stderr))
    say("readers run status, history and plan; pause is forbidden to them (exit 65)")

    # The socket's mode follows at once; a new state_dir needs a restart.
    d.write_config(daemon_extra='  control_socket_mode = "0660";\n'
                   '  control_readonly_uids = [ %d ];' % NOBODY)
    rc, out = d.ctl("reload")
    check(rc == 0 and out["restart_needed"] == [], "the mode is applied: %s" % out)
    check(stat.S_IMODE(os.stat(d.sock).st_mode) == 0o660, "the socket is 0660 now: %o"
          % stat.S_IMODE(os.stat(d.sock).st_mode))
    p = d.ctl_text("status", user="nobody")
    check(p.returncode == 69, "nobody cannot even connect now: %s" % p.returncode)
    state = d.state
    d.state = state + "-new"
    d.write_config(daemon_extra=sock_extra("  control_readonly_uids = [ %d ];" % NOBODY))
    d.state = state
    rc, out = d.ctl("reload")
    check(rc == 0 and out["restart_needed"] == ["daemon.state_dir"],
          "the reload names what needs a restart: %s" % out)
    check(stat.S_IMODE(os.stat(d.sock).st_mode) == 0o666, "the socket is 0666 again")
    p = d.ctl_text("reload")
    check("not applied until failoverd restarts: daemon.state_dir" in p.stdout,
          "failoverctl says so (again): %s" % p.stdout)
    ev = d.events()["config_reloaded"][-1]
    check("daemon.state_dir" in ev, "and so does the event: %s" % ev)
    d.write_config(daemon_extra=sock_extra("  control_readonly_uids = [ %d ];" % NOBODY))
    rc, out = d.ctl("reload")
    check(rc == 0 and out["restart_needed"] == [], "back as it was: nothing named: %s" % out)
    say("control_socket_mode applies at once; a new state_dir is named as needing a restart")

    # A broken file: exit 1 with file:line, the old configuration stays.
    with open(d.conf) as f:
        good = f.read()
    with open(d.conf, "w") as f:
        f.write(good.replace('log_level = "info";', 'log_level = "info";\n  probe_intreval = 1;'))
    bad_line = open(d.conf).read().splitlines().index("  probe_intreval = 1;") + 1
    p = d.ctl_text("reload")
    said = fokit.squash(p.stderr)
    check(p.returncode == 1 and "rejected" in said and
          "%s:%d" % (d.conf, bad_line) in said and "probe_intreval" in said,
          "a bad file: exit 1 with the reason: %s %s" % (p.returncode, p.stderr))
    check(d.ctl_text("status", user="nobody").returncode == 0,
          "the running configuration stays (nobody still reads)")
    say("a rejected reload: failoverctl reload exits 1 with file:line")
    return good


def files(lab, d, good, say):
    # Inline passwords readable by others.
    with open(d.conf, "w") as f:
        f.write(good)
    os.chmod(d.conf, 0o644)
    p = d.ctl_text("reload")
    said = fokit.squash(p.stderr)
    check(p.returncode == 1 and "%s: holds passwords and is readable by others" % d.conf in said
          and "chmod 600" in said, "a 0644 file with passwords: %s %s" % (p.returncode, p.stderr))
    os.chmod(d.conf, 0o600)
    say("a configuration with passwords readable by others: reload refused, with the fix")

    # A hook in a group-writable directory.
    tmp = tempfile.mkdtemp(prefix="failoverd-sec-hooks-")
    try:
        hookdir = os.path.join(tmp, "hooks")
        os.mkdir(hookdir)
        os.chmod(hookdir, 0o775)
        hook = os.path.join(hookdir, "ok")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(hook, 0o755)
        d.write_config(cluster_extra='    hooks = { switchover_after = "%s"; };' % hook)
        p = d.ctl_text("reload")
        said = fokit.squash(p.stderr)
        check(p.returncode == 1 and "directory %s is writable by its group" % hookdir in said
              and "chmod go-w" in said, "a hook in a group-writable directory: %s %s"
              % (p.returncode, p.stderr))
        say("a hook in a group-writable directory: reload refused, by name")

        d.write_config(cluster_extra='    plugins = ( { path = "../../../tmp/x.so"; } );')
        p = d.ctl_text("reload")
        said = fokit.squash(p.stderr)
        check(p.returncode == 1 and "climbs out of the plugin directory" in said,
              "a plugin path with ..: %s %s" % (p.returncode, p.stderr))
        say("a relative plugin path that climbs out: reload refused")
    finally:
        subprocess.run(["rm", "-rf", tmp])
    d.write_config(cluster_extra="")
    check(d.ctl_text("reload").returncode == 0, "a good file reloads again")

    # At start: exit 78, the file named.
    e = daemon(lab)
    with e:
        os.chmod(e.conf, 0o640)
        os.chown(e.conf, 0, NOBODY)  # a group that is not the daemon's
        e.start(wait_ready=False)
        rc = e.wait_exit(30)
        log = fokit.squash(e.log_tail())
        check(rc == 78 and "readable by group %d, not the daemon's" % NOBODY in log,
              "start with a group-readable file: exit %s: %s" % (rc, log[-400:]))
    say("start with passwords readable by a foreign group: exit 78")


PRESSURE = r'''
import json, socket, sys, time
path, n, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held, busy = [], 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(0.3)
    try:
        data = s.recv(4096)
        if b"busy" in data:
            busy += 1
        s.close()
    except socket.timeout:
        held.append(s)
for i in range(extra):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.close()
print(json.dumps({"held": len(held), "busy": busy}), flush=True)
t0 = time.time()
for s in held:
    s.settimeout(max(0.1, 20 - (time.time() - t0)))
    try:
        s.recv(4096)
    except socket.timeout:
        pass
print(json.dumps({"all_closed_after": time.time() - t0}), flush=True)
'''


def pressure(lab, d, say):
    d.write_config(daemon_extra=sock_extra("  control_readonly_uids = [ %d ];" % NOBODY))
    check(d.ctl_text("reload").returncode == 0, "readers configured")
    before = sum(1 for ln in open(d.log_path, errors="replace")
                 if "refused a connection" in ln or "more connections in the last" in ln)
    p = subprocess.Popen(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", PRESSURE,
                          d.sock, "40", "300"], stdout=subprocess.PIPE, text=True)
    try:
        first = json.loads(p.stdout.readline())
        check(first["held"] == 32 - 4 and first["busy"] == 40 - 28,
              "a reader gets 28 connections, then busy: %s" % first)
        t = time.time()
        q = d.ctl_text("status", timeout=10)
        check(q.returncode == 0 and time.time() - t < 3,
              "root is served at once while the reader holds its slots: %s" % q.stderr)
        second = json.loads(p.stdout.readline())
        check(second["all_closed_after"] < 8,
              "the reader's idle connections are closed within seconds: %s" % second)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
    def refusal_lines():
        return [ln for ln in open(d.log_path, errors="replace")
                if "refused a connection" in ln or "more connections in the last" in ln]
    lines = wait_for(lambda: (lambda ls: ls if len(ls) > before else None)(refusal_lines()), 15,
                     what="the refusals counted in the log")
    check(len(lines) - before <= 3, "312 refused connections make %d log lines: %s"
          % (len(lines) - before, lines[before:]))
    counted = sum(int(w) for ln in lines[before:] for w in
                  [ln.split("refused ")[1].split()[0] if "more connections in the last" in ln
                   else "1"] if w.isdigit())
    check(counted >= 300, "the log lines count the refusals: %d" % counted)
    lines = len(lines)
    say("a reader filling the table: root served, idle closed in %.1f s, %d refusal log lines"
        % (second["all_closed_after"], lines - before))


def control_and_files(flavor, say):
    with labkit.Lab.up(flavor, 2, name=labkit.unique_name("security-ctl")) as lab:
        d = daemon(lab, daemon_extra=sock_extra("  control_allowed_uids = [ %d ];" % NOBODY))
        with d:
            d.start()
            good = reload_and_acl(lab, d, say)
            files(lab, d, good, say)
            pressure(lab, d, say)
            check(d.stop() == 0, "failoverd stops cleanly")


def hooks(flavor, say):
    with labkit.Lab.up(flavor, 2, name=labkit.unique_name("security-hk-" + flavor[:2])) as lab:
        tmp = tempfile.mkdtemp(prefix="failoverd-sec-env-")
        try:
            envfile = os.path.join(tmp, "env")
            dump = os.path.join(tmp, "dump-env")
            with open(dump, "w") as f:
                f.write('#!/bin/sh\nenv > "$1"\n')
            os.chmod(dump, 0o755)
            veto = '    hooks = { switchover_before = "%s"; };' % os.path.join(HOOKS, "fail")
            with fokit.Daemon(lab, cluster_extra=veto) as d:
                d.start(env_extra={"NOTIFY_SOCKET": "/nonexistent/notify",
                                   "CALLER_SECRET": "do-not-pass"})
                p = d.ctl_text("switchover", "main", "--to", "db2", timeout=120)
                said = fokit.squash(p.stdout + " " + p.stderr)
                check(p.returncode != 0 and "cannot move the address: interface not found" in said,
                      "the veto's reason reaches failoverctl: %s %s" % (p.returncode, said))
                check(fokit.writable_nodes(lab) == ["db1"], "the veto moved nothing: %s"
                      % fokit.writable_nodes(lab))
                say("a vetoing hook's stderr is in failoverctl's output; db1 stays primary")
                d.write_config(cluster_extra='    hooks = { switchover_after = "%s %s"; };'
                               % (dump, envfile))
                check(d.ctl_text("reload").returncode == 0, "hooks reloaded")
                p = d.ctl_text("switchover", "main", "--to", "db2", timeout=120)
                check(p.returncode == 0, "the switchover runs: %s %s" % (p.stdout, p.stderr))
                wait_for(lambda: os.path.exists(envfile) and os.path.getsize(envfile) > 0, 30,
                         what="the hook's environment dump")
                check(fokit.writable_nodes(lab) == ["db2"], "db2 is the writable primary: %s"
                      % fokit.writable_nodes(lab))
                env = dict(ln.split("=", 1) for ln in open(envfile).read().splitlines()
                           if "=" in ln)
                check("NOTIFY_SOCKET" not in env and "CALLER_SECRET" not in env,
                      "no NOTIFY_SOCKET, nothing of the caller's: %s" % sorted(env))
                check(env.get("PATH") == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                      "/sbin:/bin" and env.get("FAILOVERD_CLUSTER") == "main",
                      "PATH is fixed, the context is there: %s" % sorted(env))
                allowed = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "PWD",
                           "SHLVL", "_"}
                extra = [k for k in env if k not in allowed and not k.startswith("FAILOVERD_")]
                check(not extra, "nothing else in the environment: %s" % extra)
                say("the hook's environment is clean; db2 is primary")
                check(d.stop() == 0, "failoverd stops cleanly")
        finally:
            subprocess.run(["rm", "-rf", tmp])


def main():
    flavors = sys.argv[1:] or labkit.FLAVORS
    for i, flavor in enumerate(flavors):
        def say(msg, flavor=flavor):
            labkit.log("%s: %s" % (flavor, msg))
        if i == 0:
            control_and_files(flavor, say)  # the same for both flavors
        hooks(flavor, say)


if __name__ == "__main__":
    fokit.run_main(main)
