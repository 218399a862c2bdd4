"""Several failoverd managers coordinated through the lab's etcd cluster
(docs/ha.md): their configurations, and what their status and logs say."""
import calendar
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import labkit  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labetcd  # noqa: E402
import labmanagers  # noqa: E402

TTL = labmanagers.TTL


def coordination(etcd, manager, ttl=TTL, endpoints=None):
    return labmanagers.coordination_text(endpoints or etcd.endpoints(), manager, ttl)


def managers(lab, etcd, n=3, endpoints=None, **config):
    """n Daemons m1..mn (not started), each with its own directory;
    endpoints: a list of endpoint lists, one per manager (default: etcd's)."""
    return [fokit.Daemon(lab, top_extra=coordination(
        etcd, "m%d" % (i + 1), endpoints=endpoints[i] if endpoints else None), **config)
        for i in range(n)]


def coord(d):
    try:
        return d.status()["coordination"]
    except Exception:  # noqa: BLE001 - a stopped or dead manager answers nothing
        return None


def leaders(ds):
    """The managers whose status says they lead now."""
    out = []
    for d in ds:
        c = coord(d) if d.proc and d.proc.poll() is None else None
        if c and c["role"] == "leader":
            out.append(d)
    return out


def wait_one_leader(ds, timeout=30):
    labkit.wait_for(lambda: len(leaders(ds)) == 1, timeout, interval=0.1,
                    what="exactly one leader among the managers")
    return leaders(ds)[0]


def manager_id(d):
    return re.search(r'manager_id = "([^"]+)"', d.config["top_extra"]).group(1)


def event_times(d, name):
    """Wall times (epoch s) of the daemon's log lines of event name."""
    out = []
    for line in d.events().get(name, []):
        stamp = line.split()[0]
        out.append(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
                   + float("0" + stamp[19:23]))
    return out


def begins(d, cluster="main"):
    return [r for r in d.journal() if r.get("type") == "begin" and r.get("cluster") == cluster]


def wait_primary_seen(ds, primary="db1", timeout=60):
    """Every manager has reached the primary (else the start-up rule holds a
    failover: its GTID state would be unknown)."""
    labkit.wait_for(lambda: all(d.cluster()["primary"] == primary and
                                d.node(primary)["state"] == "up" for d in ds), timeout,
                    interval=0.2, what="every manager to reach the primary %s" % primary)


def start_all(ds):
    for d in ds:
        d.start()
    return ds


def stop_all(ds):
    for d in ds:
        if d.proc and d.proc.poll() is None:
            fokit.check(d.stop() == 0, "manager %s stops cleanly" % manager_id(d))


Etcd = labetcd.Etcd
