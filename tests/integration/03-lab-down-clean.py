#!/usr/bin/env python3
"""`lab down` leaves nothing behind: no process, namespace, route or state,
also after a `lab up` that was killed half way and with a writer running.
Two labs live side by side with their own subnets and cannot reach each
other; taking one down (by name or by run tag) leaves the other alone."""
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
import labkit  # noqa: E402

LAB = os.path.join(HERE, "..", "lab", "lab")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def clean(name):
    left = labkit.leftovers(name)
    return not any(left.values()), left


def cli(*args, env=None):
    return subprocess.run([LAB] + list(args), capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def main():
    a, b, c = (labkit.unique_name(x) for x in ("clean-a", "clean-b", "clean-c"))
    tag = labkit.unique_name("tag")
    try:
        # Two labs at once: A in this process, B by the command line with a run tag.
        lab_a = labkit.Lab.up("mariadb", 2, name=a)
        r = cli("up", "--name", b, "--nodes", "2", env={"FAILOVERD_LAB_RUN": tag})
        check(r.returncode == 0, f"lab up {b}: {r.stderr}")
        lab_b = labkit.Lab.open(b)
        check(lab_a.desc["subnet"] != lab_b.desc["subnet"], "labs must have their own subnets")
        check(labkit.tcp_probe(lab_a.client_ns, lab_a.nodes[0].address) is not None,
              "A's client reaches A's node")
        check(labkit.tcp_probe(lab_a.client_ns, lab_b.nodes[0].address, timeout=0.5) is None,
              "A's client must not reach B's node")
        r = cli("writer", "start", "--name", b)
        check(r.returncode == 0, f"writer start: {r.stderr}")
        subnet_b = lab_b.desc["subnet"]

        # down --run TAG takes B (and its writer) down, not A.
        r = cli("down", "--run", tag)
        check(r.returncode == 0, f"down --run: {r.stderr}")
        ok, left = clean(b)
        check(ok, f"B left {left}")
        check(subnet_b not in labkit._lab_routes(), f"B's route {subnet_b} is still there")
        check(lab_a.reachable("db1") and lab_a.primary().name == "db1", "A must still work")

        # down by name; again (idempotent).
        lab_a.down()
        ok, left = clean(a)
        check(ok, f"A left {left}")
        r = cli("down", "--name", a)
        check(r.returncode == 0, f"a second down: {r.stderr}")

        # A `lab up` killed half way (servers started, provisioning not done).
        p = subprocess.Popen([LAB, "up", "--name", c, "--flavor", "mysql"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = os.path.join(labkit.STATE_ROOT, c, "db3", "server.sock")
        labkit.wait_for(lambda: os.path.exists(sock) or p.poll() is not None, 60,
                        what="lab up to start servers")
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        ok, left = clean(c)
        check(not ok and left["processes"] and left["namespaces"],
              f"a killed lab up should leave servers and namespaces: {left}")
        r = cli("down", "--name", c)
        check(r.returncode == 0, f"down after a crash: {r.stderr}")
        ok, left = clean(c)
        check(ok, f"C left {left}")
        print("clean: 1 passed, 0 failed")
        return 0
    finally:
        for name in (a, b, c):
            labkit.down(name)


labkit.install_signal_handlers()
try:
    sys.exit(main())
except (AssertionError, labkit.LabError) as e:
    print(f"FAILED: {e}")
    print("clean: 0 passed, 1 failed")
    sys.exit(1)
