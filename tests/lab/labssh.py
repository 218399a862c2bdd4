"""A real sshd per database node of a lab (Debian's openssh-server).

Each node's sshd runs in the node's network namespace, listens on the node's
own address only (port 22), and lets root in with the lab's client key and
nothing else. Everything lives in the lab's state directory, under ssh/:

    id_lab, id_lab.pub        the client key (ed25519, no passphrase)
    authorized_keys           that key, the only one any node's sshd accepts
    known_hosts               every node's address with its host key
    NODE/host_ed25519_key     the node's host key
    NODE/sshd_config          its sshd's configuration (-f)
    NODE/sshd.log             what its sshd says (-e)

`sshd_start(lab)` starts them, `sshd_stop(lab)` ends them by PID; `lab down`
ends them too (they run in the lab's namespaces). `ssh_argv(lab)` is the
client's command line without the destination: BatchMode (never a prompt),
the lab's key, the lab's known_hosts and strict host key checking, and a
bounded ConnectTimeout.
"""
import contextlib
import os
import signal
import socket
import subprocess
import time

import labkit

SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
PORT = 22
PACKAGES = ["openssh-server", "openssh-client"]


def ssh_dir(lab):
    return os.path.join(lab.desc["state_dir"], "ssh")


def _keygen(path, comment):
    if not os.path.exists(path):
        labkit.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])
    with open(path + ".pub") as f:
        return f.read().strip()


def _config(lab, node, d):
    sd = ssh_dir(lab)
    return "\n".join([
        f"ListenAddress {node.address}:{PORT}",
        f"HostKey {d}/host_ed25519_key",
        f"PidFile {d}/sshd.pid",
        f"AuthorizedKeysFile {sd}/authorized_keys",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # The state directory's modes are the lab's, not a home directory's.
        "StrictModes no",
        "PrintMotd no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "LogLevel ERROR",
        "",
    ])


def _banner(addr, timeout):
    try:
        with socket.create_connection((addr, PORT), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def reachable(lab, node, timeout=1.0):
    """True if node's sshd greets a TCP connection from the client namespace."""
    node = lab.node(node)
    return labkit.in_netns(lab.client_ns, _banner, node.address, timeout)


def _prepare(lab):
    """Keys, authorized_keys and known_hosts; idempotent."""
    sd = ssh_dir(lab)
    os.makedirs(sd, mode=0o700, exist_ok=True)
    client = _keygen(os.path.join(sd, "id_lab"), f"failoverd-lab-{lab.name}")
    with open(os.path.join(sd, "authorized_keys"), "w") as f:
        f.write(client + "\n")
    known = []
    for n in lab.nodes:
        d = os.path.join(sd, n.name)
        os.makedirs(d, mode=0o700, exist_ok=True)
        host = _keygen(os.path.join(d, "host_ed25519_key"), f"{n.name}.{lab.name}")
        known.append(f"{n.address} {' '.join(host.split()[:2])}")
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(_config(lab, n, d))
    with open(os.path.join(sd, "known_hosts"), "w") as f:
        f.write("\n".join(known) + "\n")


def sshd_start(lab, nodes=None, timeout=30):
    """Starts an sshd in each node's namespace (all nodes by default; one that
    runs already is left alone) and waits until each greets from the client
    namespace."""
    if not os.access(SSHD, os.X_OK):
        raise labkit.LabError(f"{SSHD} is missing: apt-get install {' '.join(PACKAGES)} "
                              "(tests/lab/lab setup installs it)")
    # Debian's sshd insists on its privilege separation directory.
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    _prepare(lab)
    pids = lab.desc.setdefault("sshd", {})
    started = []
    for n in [lab.node(x) for x in (nodes or [n.name for n in lab.nodes])]:
        if pids.get(n.name) and labkit.pid_alive(pids[n.name]):
            continue
        d = os.path.join(ssh_dir(lab), n.name)
        argv = ["ip", "netns", "exec", n.namespace, SSHD, "-D", "-e", "-f",
                os.path.join(d, "sshd_config")]
        with open(os.path.join(d, "sshd.log"), "ab") as out:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True,
                                 close_fds=True)
        lab._procs[p.pid] = p
        pids[n.name] = p.pid
        started.append(n)
    lab.save()
    for n in started:
        def up(n=n):
            if not labkit.pid_alive(pids[n.name]):
                with open(os.path.join(ssh_dir(lab), n.name, "sshd.log"), errors="replace") as f:
                    raise labkit.LabError(f"{n.name}: sshd ended: {f.read()[-300:]}")
            return reachable(lab, n, 0.5)
        labkit.wait_for(up, timeout, interval=0.1, what=f"{n.name}'s sshd")


def sshd_stop(lab, nodes=None, timeout=10):
    """Ends the nodes' sshd processes by PID (all by default)."""
    pids = lab.desc.get("sshd", {})
    names = nodes or list(pids)
    ended = []
    for name in names:
        pid = pids.get(name)
        if pid and labkit.pid_alive(pid) and SSHD in labkit._cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            ended.append(pid)
    labkit.wait_for(lambda: not any(labkit.pid_alive(p) for p in ended), timeout,
                    what="the lab's sshd processes to end")
    for pid in ended:
        p = lab._procs.pop(pid, None)
        if p:
            p.wait(timeout=1)
    for name in names:
        pids.pop(name, None)
    lab.save()


def ssh_argv(lab, connect_timeout=2):
    """ssh's command line up to the destination (append 'root@ADDRESS' or
    'root@{host}', then the remote command): no prompt, no configuration file,
    the lab's key and known_hosts only, connecting bounded."""
    sd = ssh_dir(lab)
    return [SSH, "-F", "/dev/null", "-o", "BatchMode=yes", "-o",
            f"ConnectTimeout={connect_timeout}", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={sd}/known_hosts", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-i", f"{sd}/id_lab", "-l", "root"]


def ssh(lab, node, command, timeout=30):
    """Runs command on node through its sshd, from the client namespace;
    returns the CompletedProcess."""
    node = lab.node(node)
    t0 = time.monotonic()
    p = lab.run_in(ssh_argv(lab) + [node.address, command], timeout=timeout, check=False)
    p.elapsed = time.monotonic() - t0
    return p
