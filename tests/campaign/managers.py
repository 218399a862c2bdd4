"""The campaign with several managers (run --managers N, docs/ha.md): the same
schedules against N failoverd managers coordinated through the lab's 3-member
etcd cluster, each reaching etcd through forwarders of its own; the manager
faults of schedule.MANAGER_KINDS on top of the others, and the same checker.

What the run does with the managers:
  - commands (switchover, failover, pause, resume, ack) go to the manager that
    leads when they are sent (the others refuse them); daemon_kill kills a
    picked manager, reload sends SIGHUP to every running one;
  - leader_kill: SIGKILL of the leading manager when it fires, started again
    restart_ms later; manager_pause: SIGSTOP of a picked manager, SIGCONT at
    until_ms; manager_etcd_cut: a picked manager's forwarders to etcd stopped
    (etcd is a black hole to it), continued at until_ms; etcd_kill: SIGKILL of
    a picked etcd member, started again at return_ms;
  - status is polled on every manager that runs and is not paused; a manager
    that exits when no fault killed it is a crash;
  - the facts are the union of every manager's journal and events (an
    operation id names one manager's operation), so the invariants are checked
    over everything any manager did."""
import importlib.machinery
import importlib.util
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import hakit  # noqa: E402
import labkit  # noqa: E402


def _load_run():
    """The campaign's executor (the `run` script) as a module, for its Run class."""
    loader = importlib.machinery.SourceFileLoader("campaign_run", os.path.join(HERE, "run"))
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(mod)
    return mod


run_base = _load_run()

PROXY_BASE = 24000


class HaRun(run_base.Run):
    """One schedule against one fresh lab, its etcd and N managers."""

    def __init__(self, sched, out):
        super().__init__(sched, out)
        self.ds = []
        self.proxies = []
        self.etcd = None
        self.paused = set()        # indexes of managers stopped by SIGSTOP
        self.killed = set()        # indexes of managers the schedule killed
        self.cut = set()
        self.etcd_dead = set()
        self.died = {}

    # self.d, for the code shared with the plain run: the manager that leads now
    # (else the first one that answers), so commands go where they are obeyed.
    @property
    def d(self):
        live = self.live()
        lead = [i for i in live if (hakit.coord(self.ds[i]) or {}).get("role") == "leader"]
        return self.ds[(lead or live or [0])[0]] if self.ds else None

    @d.setter
    def d(self, _value):
        pass

    def live(self):
        """Indexes of the managers that run and are not paused."""
        return [i for i, d in enumerate(self.ds)
                if d.proc and d.proc.poll() is None and i not in self.paused]

    def pick(self, f, among):
        return among[f["pick"] % len(among)] if among else None

    # ------------------------------------------------------------ faults

    def fire(self, f):
        k = f["kind"]
        if k == "leader_kill" or k == "daemon_kill":
            live = self.live()
            lead = [i for i in live if (hakit.coord(self.ds[i]) or {}).get("role") == "leader"]
            i = (lead or [None])[0] if k == "leader_kill" else self.pick(f, live)
            f["_m"] = i
            self.note(k, manager=None if i is None else hakit.manager_id(self.ds[i]))
            if i is not None:
                self.killed.add(i)
                self.ds[i].kill()
        elif k == "manager_pause":
            i = f["_m"] = self.pick(f, self.live())
            self.note(k, manager=None if i is None else hakit.manager_id(self.ds[i]))
            if i is not None:
                self.paused.add(i)
                self.ds[i].signal(signal.SIGSTOP)
        elif k == "manager_etcd_cut":
            i = f["_m"] = f["pick"] % len(self.ds)
            self.note(k, manager=hakit.manager_id(self.ds[i]))
            self.cut.add(i)
            self.proxies[i].cut()
        elif k == "etcd_kill":
            alive = [i for i in range(self.etcd.n) if self.etcd.member_alive(i)]
            i = f["_m"] = self.pick(f, alive)
            self.note(k, member=None if i is None else "e%d" % i)
            if i is not None:
                self.etcd_dead.add(i)
                self.etcd.kill_member(i)
        elif k == "reload":
            self.note(k)
            for i in self.live():
                self.ds[i].signal(signal.SIGHUP)
        else:
            super().fire(f)

    def end(self, f, kind):
        i = f.get("_m")
        if kind == "manager_start" and i in self.killed:
            self.note(kind, manager=hakit.manager_id(self.ds[i]))
            self.start_manager(i)
        elif kind == "manager_cont" and i in self.paused:
            self.note(kind, manager=hakit.manager_id(self.ds[i]))
            self.paused.discard(i)
            self.ds[i].signal(signal.SIGCONT)
        elif kind == "manager_etcd_heal" and i in self.cut:
            self.note(kind, manager=hakit.manager_id(self.ds[i]))
            self.cut.discard(i)
            self.proxies[i].heal()
        elif kind == "etcd_start" and i in self.etcd_dead:
            self.note(kind, member="e%d" % i)
            self.etcd_dead.discard(i)
            self.etcd.start_member(i)
        elif kind not in ("manager_start", "manager_cont", "manager_etcd_heal", "etcd_start"):
            super().end(f, kind)

    def timeline(self):
        acts = super().timeline()
        ends = {"manager_pause": "manager_cont", "manager_etcd_cut": "manager_etcd_heal"}
        for i, f in enumerate(self.s["faults"]):
            k = f["kind"]
            if k in ends and f.get("until_ms"):
                acts.append((f["until_ms"], i, 2, lambda f=f, e=ends[k]: self.end(f, e)))
            elif k in ("leader_kill", "daemon_kill"):
                acts = [a for a in acts if not (a[1] == i and a[2] == 2)]
                acts.append((f["at_ms"] + f["restart_ms"], i, 2,
                             lambda f=f: self.end(f, "manager_start")))
            elif k == "etcd_kill" and f.get("return_ms"):
                acts.append((f["return_ms"], i, 2, lambda f=f: self.end(f, "etcd_start")))
        acts.sort(key=lambda a: (a[0], a[1], a[2]))
        return acts

    # ------------------------------------------------------------ the managers

    def start_manager(self, i):
        self.ds[i].start(wait_ready=False)
        self.killed.discard(i)
        self.note("manager_started", manager=hakit.manager_id(self.ds[i]))

    def poll_status(self):
        while not self.stop_polling.wait(run_base.STATUS_EVERY_S):
            for i, d in enumerate(self.ds):
                if d.proc is not None and d.proc.poll() is not None and i not in self.killed \
                        and i not in self.died:
                    self.died[i] = "%s: exit status %s at %.1f s" % (
                        hakit.manager_id(d), d.proc.returncode, self.now())
                if i not in self.live():
                    continue
                t = time.monotonic()
                try:
                    d.ctl("status", timeout=10)
                    ok, err = True, None
                except Exception as e:  # noqa: BLE001 - any failure is the finding
                    ok, err = False, str(e)[:200]
                ms = (time.monotonic() - t) * 1000
                recent = any(f["kind"] == "manager_started" and self.now() - f["t"] < 5 and
                             f.get("manager") == hakit.manager_id(d) for f in self.fired[-8:])
                paused = i in self.paused   # paused while it was being asked
                with self.lock:
                    self.polls.append({"t": round(self.now(), 3), "ok": ok, "ms": round(ms, 1),
                                       "error": err, "manager": hakit.manager_id(d),
                                       "expected": not recent and not paused})

    def heal_all(self):
        for i in sorted(self.paused):
            self.ds[i].signal(signal.SIGCONT)
        self.paused.clear()
        for i in sorted(self.cut):
            self.proxies[i].heal()
        self.cut.clear()
        for i in sorted(self.etcd_dead):
            self.safely("etcd e%d" % i, self.etcd.start_member, i)
        self.etcd_dead.clear()
        for i in sorted(self.killed):
            self.start_manager(i)
        super().heal_all()
        # The cluster's leader must be back before the settle phase asks it.
        try:
            hakit.wait_one_leader(self.ds, timeout=30)
        except labkit.WaitTimeout as e:
            self.note("heal_error", what="leader", error=str(e)[:300])

    # ------------------------------------------------------------ one run

    def execute(self):
        s = self.s
        name = labkit.unique_name("cmh%d" % (s["seed"] % 100000))
        extra = '    policy = "%s";' % s["policy"]
        facts = {"schedule": s}
        with labkit.Lab.up(s["flavor"], s["nodes"], name=name, semisync=s["semisync"]) as lab:
            self.lab = lab
            with hakit.Etcd(lab).start() as etcd:
                self.etcd = etcd
                self.proxies = [etcd.via_proxies(PROXY_BASE + 10 * i)
                                for i in range(s["managers"])]
                self.ds = []
                for i in range(s["managers"]):
                    work = os.path.join(self.out, "failoverd-m%d" % (i + 1))
                    os.makedirs(work, exist_ok=True)
                    self.ds.append(hakit.fokit.Daemon(
                        lab, workdir=work, vip_plugin=True, cluster_extra=extra,
                        top_extra=hakit.coordination(etcd, "m%d" % (i + 1),
                                                     endpoints=self.proxies[i].endpoints())))
                try:
                    self.drive(lab, facts)
                finally:
                    self.gather(facts)
        facts["fired"] = self.fired
        facts["status_polls"] = self.polls
        facts["daemon_died"] = "; ".join(self.died[i] for i in sorted(self.died)) or None
        facts["sanitizer"] = next((r for d in self.ds for r in d.sanitizer_reports()), None)
        return facts

    def drive(self, lab, facts):
        hakit.start_all(self.ds)
        hakit.wait_primary_seen(self.ds)
        hakit.wait_one_leader(self.ds)
        lab.writer_start(through="vip")
        lab.wait_acks(20)
        self.t0 = time.monotonic()
        poller = threading.Thread(target=self.poll_status, daemon=True)
        poller.start()
        for ms, _i, _o, act in self.timeline():
            delay = ms / 1000 - self.now()
            if delay > 0:
                time.sleep(delay)
            try:
                act()
            except Exception as e:  # noqa: BLE001 - noted; the checker judges the outcome
                self.note("action_error", error="%s: %s" % (type(e).__name__, str(e)[:300]))
        left = self.s["duration_ms"] / 1000 - self.now()
        if left > 0:
            time.sleep(left)
        self.heal_all()
        self.settle()
        for t in self.threads:
            t.join(120)
        self.stop_polling.set()
        poller.join(30)
        facts["writer"] = lab.writer_verify(settle_timeout=30)
        facts["final_status"] = self.d.cluster()
        facts["final"] = self.final_state()

    def gather(self, facts):
        self.stop_polling.set()
        for i in sorted(self.paused):
            self.ds[i].signal(signal.SIGCONT)
        self.paused.clear()
        # The followers stop first: a leader stopping first would hand its lease
        # to one of them, which would then act on the cluster afresh (its
        # failover_block knows nothing of the old leader's failovers).
        lead = [i for i in self.live() if (hakit.coord(self.ds[i]) or {}).get("role") == "leader"]
        for i in sorted(range(len(self.ds)), key=lambda i: i in lead):
            d = self.ds[i]
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
            elif d.proc is not None and i not in self.killed and i not in self.died:
                self.died[i] = "%s: exit status %s" % (hakit.manager_id(d), d.proc.returncode)
        journal, events = [], {}
        for d in self.ds:
            journal += d.journal()
            for k, v in d.events().items():
                events.setdefault(k, []).extend(v)
            d.kill()
        facts["journal"] = journal
        facts["events"] = events
