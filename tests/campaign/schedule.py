"""Fault schedules for the campaign (pure: a seed in, a schedule out).

A schedule is plain data (JSON-able), so a run is replayed from its seed alone:

  {"seed": 17, "flavor": "mariadb", "policy": "reliability", "semisync": true,
   "nodes": 3, "duration_ms": 14250,
   "faults": [{"kind": "hang", "target": "primary", "at_ms": 2310, "until_ms": 9120},
              {"kind": "switchover", "at_ms": 4020, "to": "replica"}, ...]}

Targets are roles, resolved when the fault fires against the lab as it is then:
"primary" (the node the writer last saw writable), "replica" (a running node
that is not), "any"; a "pick" number chooses among several candidates the same
way in every replay. Times are milliseconds from the start of the schedule.
"""
import random

FLAVORS = ("mariadb", "mysql")   # drawn; a MariaDB draw is 10.11 or 11.8 (mariadb11)
POLICIES = ("reliability", "availability")

# Every kind of fault the campaign knows, with how often it is drawn. The
# executor (run) and the checker (check.py) know what each one means.
KINDS = {
    "kill": 3,            # SIGKILL a server; it stays down until it returns (below)
    "crash": 3,           # its host dies: cut off both ways, then killed
    "hang": 3,            # SIGSTOP, SIGCONT at until_ms
    "partition": 3,       # cut off from everyone, healed at until_ms
    "oneway": 2,          # packets to it dropped (it can still send), until until_ms
    "manager_cut": 2,     # cut off from the manager's (and the writer's) namespace only
    "flap": 2,            # its link cut and healed every period_ms until until_ms
    "applier_stop": 2,    # a replica's SQL thread stopped (it keeps receiving)
    "io_stop": 2,         # a replica's IO thread stopped
    "revoke": 1,          # the monitoring account loses a privilege on one node
    "errant": 1,          # a transaction committed directly on a replica
    "daemon_kill": 2,     # failoverd SIGKILLed, started again restart_ms later
    "switchover": 2,      # failoverctl switchover [--to]
    "failover_to": 1,     # failoverctl failover --to NODE (refused unless the primary is dead)
    "pause": 1,           # failoverctl pause, resume at until_ms
    "ack": 1,             # failoverctl ack
    "reload": 2,          # SIGHUP with the same configuration
}

# With several managers on etcd (run --managers N, docs/ha.md) these are drawn
# too; a campaign without managers never draws them, so its seeds stay as they were.
MANAGER_KINDS = {
    "leader_kill": 3,       # the leading manager SIGKILLed, started again restart_ms later
    "manager_pause": 2,     # a manager SIGSTOPped, SIGCONT at until_ms
    "manager_etcd_cut": 2,  # a manager cut off from etcd (its forwarders stopped) until until_ms
    "etcd_kill": 2,         # an etcd member SIGKILLed, started again at return_ms
}

# Faults that take a node away from its replicas; the others never justify a failover.
PRIMARY_LOSS = ("kill", "crash", "hang", "partition", "oneway", "flap")


def generate(seed, flavor=None, policy=None, semisync=None, kinds=None, nodes=None,
             managers=0):
    """The schedule of run `seed`. Anything given overrides the seed's draw
    (the draw is made all the same, so the rest of the schedule is the one the
    seed alone gives). managers: how many managers run (0: one failoverd
    alone); with managers the manager faults are drawn as well."""
    r = random.Random(seed)
    drawn_flavor = FLAVORS[r.randrange(len(FLAVORS))]
    drawn_policy = POLICIES[0] if r.random() < 0.65 else POLICIES[1]
    drawn_semi = r.random() < 0.75
    drawn_nodes = 3 if r.random() < 0.8 else 4
    duration = r.randint(10000, 20000)
    table = dict(KINDS, **MANAGER_KINDS) if managers else KINDS
    pool = sorted(kinds or table)
    weights = [table[k] for k in pool]
    faults = []
    for _ in range(r.randint(1, 4)):
        kind = r.choices(pool, weights)[0]
        at = r.randint(500, duration - 2000)
        f = {"kind": kind, "at_ms": at, "pick": r.randrange(1000)}
        if kind in ("kill", "crash", "hang", "partition", "oneway", "flap", "manager_cut"):
            f["target"] = "primary" if r.random() < 0.6 else "replica"
        elif kind in ("applier_stop", "io_stop", "errant"):
            f["target"] = "replica"
        elif kind == "revoke":
            f["target"] = "any"
        if kind in ("hang", "partition", "oneway", "flap", "manager_cut", "applier_stop",
                    "io_stop", "revoke", "pause"):
            f["until_ms"] = min(duration, at + r.randint(300, 12000))
        if kind == "flap":
            f["period_ms"] = r.randint(200, 900)
        if kind in ("kill", "crash"):
            # The old node returns at a random later time, or in the heal phase.
            f["return_ms"] = at + r.randint(1000, 15000) if r.random() < 0.6 else None
        if kind == "daemon_kill":
            f["restart_ms"] = r.randint(50, 3000)
        if kind in ("switchover", "failover_to"):
            f["to"] = "replica" if r.random() < 0.7 else None
        if kind in MANAGER_KINDS:
            _manager_fault(r, f, duration)
        faults.append(f)
    faults.sort(key=lambda f: f["at_ms"])
    # MariaDB runs on 10.11 or 11.8, drawn apart so that adding a server
    # version left every other draw of a seed as it was.
    if drawn_flavor == "mariadb" and random.Random(seed * 7919 + 11).random() < 0.4:
        drawn_flavor = "mariadb11"
    out = {"seed": seed,
           "flavor": flavor or drawn_flavor,
           "policy": policy or drawn_policy,
           "semisync": drawn_semi if semisync is None else semisync,
           "nodes": nodes or drawn_nodes,
           "duration_ms": duration,
           "faults": faults}
    if managers:
        out["managers"] = managers
    return out


def _manager_fault(r, f, duration):
    """The draws of a manager fault: which manager or member (pick), and when
    it ends. The leader is resolved when the fault fires."""
    kind = f["kind"]
    if kind == "leader_kill":
        f["restart_ms"] = r.randint(500, 6000)
    elif kind == "etcd_kill":
        f["return_ms"] = f["at_ms"] + r.randint(1000, 10000)
    else:
        f["until_ms"] = min(duration, f["at_ms"] + r.randint(1000, 10000))


def story(s):
    """The schedule in one line, for progress and violation reports."""
    parts = []
    for f in s["faults"]:
        t = "%s %s" % (f["kind"], f.get("target") or f.get("to") or "")
        span = " %.1f-%.1fs" % (f["at_ms"] / 1000, f["until_ms"] / 1000) if f.get("until_ms") \
            else " at %.1fs" % (f["at_ms"] / 1000)
        parts.append(t.strip() + span)
    return "%s/%s/semisync %s/%d nodes%s: %s" % (
        s["flavor"], s["policy"], "on" if s["semisync"] else "off", s["nodes"],
        "/%d managers" % s["managers"] if s.get("managers") else "", "; ".join(parts))
