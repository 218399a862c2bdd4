#!/usr/bin/env python3
"""The fence of a silent old primary runs in the background, safely. Both
flavors, semi-sync, reliability policy, default settings, the write checker
writing through the VIP (moved by the VIP plugin).

A primary that does not answer (crashed, cut off, hung) can't be fenced by
SQL, so the failover no longer waits for that attempt before it elects: its
fence:OLD step ends at once and the fence goes on in the background
(fence_background), retried and bounded. Three cases per flavor:

  early  db1 hangs (SIGSTOP) and runs again (SIGCONT) as soon as failoverd
         reports its fence in the background, while the failover elects:
         the fence reaches db1 then, and the promotion waits for it
         (fence_wait:db1), so no sampled moment shows two writable nodes.
  late   db1 hangs and runs again right after the failover is done: the
         fence attempt in flight reaches it the moment it runs; two writable
         nodes are seen at most for the fence's own time after SIGCONT,
         never before.
  crash  db1's host dies: the fence can't reach it, gives up after its bound
         (fence_background_gave_up), and that is in the status and the
         journal; the failover did not wait for it.

In every case: db1 ends read-only (or gone), the failover's fence:db1 step
took a few milliseconds, the write checker saw no two writable nodes and no
acknowledged write is lost (writer_verify)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check  # noqa: E402

FENCE_STEP_MS = 300     # the fence:db1 step itself: it only starts the fence
RETURN_BOUND = 6.0      # SIGCONT -> db1 read-only (MySQL: ~1 s; 3-4.5 s at load average 18)
GIVE_UP_BOUND = 30      # crash: 10 s of retries, an attempt in flight (step_timeout), load
RATE = 20               # writes a second: fewer commits caught waiting for their acknowledgement


class Sampler:
    """Asks every node for @@read_only over and over, each node in its own
    thread (a hung node blocks only its own), and keeps (time, node, value)."""

    def __init__(self, lab):
        self.lab = lab
        self.samples = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n.name,), daemon=True)
                        for n in lab.nodes]

    def run(self, name):
        while not self.stop.is_set():
            t0 = time.time()
            try:
                v = self.lab.value(name, "SELECT @@read_only", timeout=1)
            except labkit.LabError:
                v = None
            self.samples.append((t0, time.time(), name, v))
            time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(5)

    def overlaps(self):
        """Moments where two nodes answered read_only = 0: a writable answer
        counts from when it was asked to when it came back; two such
        intervals of different nodes that overlap are a sampled moment with
        two writable nodes. Returns [(start, end, node, node, answered)]:
        answered is when the later of the two answers came back."""
        w = [(a, b, n) for a, b, n, v in self.samples if v == "0"]
        out = []
        for i, (a1, b1, n1) in enumerate(w):
            for a2, b2, n2 in w[i + 1:]:
                if n1 != n2 and a1 <= b2 and a2 <= b1:
                    out.append((max(a1, a2), min(b1, b2), n1, n2, max(b1, b2)))
        return out


def fence_step(d, name="fence:db1"):
    """A step of the failover (fence:db1 of its prepare plan by default), from
    the journal."""
    for r in d.journal():
        for s in r.get("steps") or []:
            if s.get("name") == name:
                return s
    return None


def common_checks(flavor, lab, d, new, returned_at=None):
    """returned_at: when db1 ran again after the promotion (late), or None.
    A node that runs again writable after the promotion is writable beside
    the new primary until its fence ended: the write checker may see that
    (its polls), never before it ran again, and never longer than the fence."""
    step = fence_step(d)
    check(step is not None and step.get("ok") and (step.get("ms") or 0) <= FENCE_STEP_MS,
          f"the failover did not wait for the silent db1's fence: {step}")
    check(d.wait_event("fence_background", timeout=5), "fence_background was reported")
    v = lab.writer_verify()
    check(not v["lost"], f"acknowledged writes lost: {v['lost_ranges']}")
    if returned_at is None:
        check(not v["split_brain"], f"the write checker saw two writable nodes: {v['split_brain']}")
    else:
        for w in v["split_brain"]:
            check("db1" in w["nodes"] and w["ms"] <= RETURN_BOUND * 1000,
                  f"two writable nodes only while db1's fence ran: {v['split_brain']}")
    return v


def held(d):
    """Reliability held the promotion (the old primary was last seen with a
    commit no replica received: a commit waiting for its semi-sync
    acknowledgement when the probe read it). That hold, and what follows when
    db1 runs again during it, is not what this test is about."""
    return "failover_held" in d.events()


def hang(flavor, when, tries=5):
    for n in range(tries):
        if hang_once(flavor, when):
            return
        print(f"{flavor} {when}: the promotion was held (failover_held); trying again")
    check(False, f"{flavor} {when}: held in {tries} tries")


def hang_once(flavor, when):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"fence-bg-{when}-{flavor[:2]}"),
                       semisync=True) as lab, fokit.Daemon(lab, vip_plugin=True) as d:
        d.start()
        lab.writer_start(through="vip", rate=RATE)
        lab.wait_acks(20)
        with Sampler(lab) as smp:
            lab.stop("db1")
            t_stop = time.time()
            if when == "early":
                labkit.wait_for(lambda: "fence_background" in d.events(), 30, interval=0.01,
                                what="the fence of db1 in the background")
            else:
                labkit.wait_for(lambda: "failover_done" in d.events() or held(d), 60,
                                interval=0.01, what="the failover")
            if held(d):
                lab.cont("db1")
                return False
            t_cont = time.time()   # just before SIGCONT: the figures err on the slow side
            lab.cont("db1")
            labkit.wait_for(lambda: lab.value("db1", "SELECT @@read_only", timeout=3) == "1",
                            30, interval=0.02, what="db1 read-only")
            fenced_after = time.time() - t_cont
            labkit.wait_for(lambda: "failover_done" in d.events() or held(d), 60,
                            what="the failover")
            if held(d):
                return False
            done = d.events()["failover_done"][-1]
            d.wait_event("fence_background_done", timeout=20)
            time.sleep(0.5)
        new = d.cluster()["primary"]
        check(new in ("db2", "db3"), f"a replica was promoted: {new} ({done})")
        check(fokit.writable_nodes(lab) == [new], f"{new} alone writable: "
              f"{fokit.writable_nodes(lab)}")
        if labkit.family(flavor) == "mysql":
            check(lab.value("db1", "SELECT @@super_read_only") == "1",
                  "MySQL: db1 is super_read_only")
        st = d.cluster().get("fence_background") or {}
        check(st.get("node") == "db1" and st.get("state") == "fenced",
              f"status shows db1's fence done: {st}")
        recs = [r for r in d.journal() if r.get("type") == "fence_background"]
        check(recs and recs[-1].get("state") == "fenced",
              f"the journal has the fence's end: {recs}")
        lab.wait_acks(30, server_id=lab.node(new).server_id, timeout=60)
        v = common_checks(flavor, lab, d, new, t_cont if when == "late" else None)
        over = smp.overlaps()
        # A sample of db1 asked while it hung is answered after it ran again:
        # two writable answers that both came back before SIGCONT would be a
        # real overlap while db1 hung.
        before = [o for o in over if o[4] < t_cont]
        check(not before, f"two writable nodes sampled before db1 ran again: {before}")
        if when == "early":
            check(not over, f"two writable nodes sampled: {over}")
        longest = max([o[1] - o[0] for o in over] or [0])
        check(fenced_after <= RETURN_BOUND,
              f"db1 read-only {fenced_after:.2f} s after it ran again (bound {RETURN_BOUND} s)")
        print(f"{flavor} {when}: db1 hung {t_cont - t_stop:.2f} s, failover to {new}, "
              f"db1 read-only {fenced_after:.2f} s after SIGCONT; samples {len(smp.samples)}, "
              f"two writable sampled {len(over)} times (longest {longest * 1000:.0f} ms, "
              f"all after SIGCONT); acked {v['acked']}, lost 0; "
              f"fence:db1 step {fence_step(d).get('ms')} ms; fence_wait:db1 "
              f"{fence_step(d, 'fence_wait:db1')}")
        check(d.stop() == 0, "failoverd exits 0 (and, in a sanitizer build, reports nothing)")
    return True


def crash(flavor):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"fence-bg-crash-{flavor[:2]}"),
                       semisync=True) as lab, fokit.Daemon(lab, vip_plugin=True) as d:
        d.start()
        lab.writer_start(through="vip", rate=RATE)
        lab.wait_acks(20)
        lab.crash("db1")
        t0 = time.time()
        done = d.wait_event("failover_done", timeout=60)[-1]
        t_done = time.time() - t0
        new = d.cluster()["primary"]
        check(new in ("db2", "db3"), f"a replica was promoted: {new} ({done})")
        st = d.cluster().get("fence_background") or {}
        check(st.get("node") == "db1" and st.get("state") == "running",
              f"status shows db1's fence still running after the failover: {st}")
        gave = d.wait_event("fence_background_gave_up", timeout=GIVE_UP_BOUND)[-1]
        st = d.cluster().get("fence_background") or {}
        check(st.get("state") == "gave_up" and st.get("attempts", 0) >= 1,
              f"status shows the fence gave up: {st}")
        recs = [r for r in d.journal() if r.get("type") == "fence_background"]
        check(recs and recs[-1].get("state") == "gave_up" and recs[-1].get("node") == "db1",
              f"the journal has the fence's end: {recs}")
        lab.wait_acks(30, server_id=lab.node(new).server_id, timeout=60)
        v = common_checks(flavor, lab, d, new)
        check(fokit.writable_nodes(lab) == [new], f"{new} alone writable")
        print(f"{flavor} crash: failover to {new} done {t_done:.2f} s after the crash; "
              f"fence gave up after {st.get('attempts')} attempts "
              f"({gave.split(' event=', 1)[0][-160:]}); acked {v['acked']}, lost 0")
        check(d.stop() == 0, "failoverd exits 0 (and, in a sanitizer build, reports nothing)")


def main():
    flavors = sys.argv[1:] or ["mariadb", "mysql"]
    for flavor in flavors:
        hang(flavor, "early")
        hang(flavor, "late")
        crash(flavor)


fokit.run_main(main)
