"""Several failoverd managers coordinated through the lab's etcd cluster
(docs/ha.md): their configurations, and what their status and logs say."""
import calendar
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import labkit  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labetcd  # noqa: E402
import labmanagers  # noqa: E402

TTL = labmanagers.TTL
# The flavors the HA tests run by default. The coordination does not depend
# on the server: MariaDB 10.11 and MySQL 9.7 cover both dialects of every
# statement a failover sends, and MariaDB 11.8 runs in the failover tests and
# the campaign (also with three managers: tests/campaign/run --managers 3).
FLAVORS = ("mariadb", "mysql")


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


def coordination_verdict(etcd, manager, ids, quorum="majority", ttl=TTL):
    """coordination() with the managers' verdict on: the manager set ids and
    the quorum (docs/ha.md, "The verdict from several vantage points")."""
    return coordination(etcd, manager, ttl).replace(
        "\n};", '\n  managers = [ %s ];\n  verdict_quorum = "%s";\n};'
        % (", ".join('"%s"' % i for i in ids), quorum))


def verdict_managers(lab, etcd, n=3, quorum="majority", **config):
    """n Daemons m1..mn (not started) that publish and count each other's
    observation records."""
    ids = ["m%d" % (i + 1) for i in range(n)]
    return [fokit.Daemon(lab, top_extra=coordination_verdict(etcd, ids[i], ids, quorum),
                         **config) for i in range(n)]


def vantage(d, cluster="main"):
    """The cluster's `vantage` object in d's status, or None."""
    try:
        return d.cluster(cluster).get("vantage")
    except Exception:  # noqa: BLE001 - a stopped or dead manager answers nothing
        return None


def votes(d, cluster="main"):
    """manager id -> its vote, as d's status shows them."""
    v = vantage(d, cluster) or {}
    return {m["id"]: m["vote"] for m in v.get("managers", [])}


class NodeCut:
    """Cuts one manager off one database node while every other manager still
    reaches it. The managers share the lab's client namespace, so the manager
    to cut is started in a cgroup (v2) of its own and an nftables rule in the
    client namespace drops that cgroup's packets to the node. start() puts
    the manager there; cut(node) and heal() add and remove the rule; close()
    heals and removes the cgroup (after the manager has exited)."""
    ROOT = "/sys/fs/cgroup/unified"

    def __init__(self, lab, name):
        self.lab = lab
        self.name = name
        self.path = os.path.join(self.ROOT, name)
        os.makedirs(self.path, exist_ok=True)
        self.table = name.replace("-", "_")
        self.active = False

    def _move(self, cgroup_dir):
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def start(self, d, **kw):
        """Starts d from inside the cgroup: this process joins it for the
        fork, then goes back to the root."""
        self._move(self.path)
        try:
            d.start(wait_ready=False)
        finally:
            self._move(self.ROOT)
        labkit.wait_for(d.first_round_done, kw.get("timeout", 30),
                        what="failoverd answers status after its first probe round")
        return d

    def _nft(self, script):
        # nsenter, not ip netns exec: nft finds the cgroup under this /sys.
        ns = "/run/netns/%s" % self.lab.client_ns
        labkit.run(["nsenter", "--net=" + ns, "nft", "-f", "-"], input=script)

    def cut(self, node):
        n = self.lab.node(node)
        self._nft("""table inet %s {
  chain out {
    type filter hook output priority 0;
    ip daddr %s tcp dport %d socket cgroupv2 level 1 "unified/%s" drop
  }
}
""" % (self.table, n.address, n.port, self.name))
        self.active = True

    def heal(self):
        if self.active:
            self._nft("delete table inet %s\n" % self.table)
            self.active = False

    def close(self):
        try:
            self.heal()
        finally:
            labkit.wait_for(lambda: self._rmdir(), 15, interval=0.2,
                            what="the cgroup %s to empty" % self.name)

    def _rmdir(self):
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True


Etcd = labetcd.Etcd


def slow_hook(dirpath, point, seconds):
    """An executable in dirpath that sleeps for seconds and succeeds: a hook
    for `point` that holds an operation at that step."""
    path = os.path.join(dirpath, "slow-" + point.replace("_", "-"))
    with open(path, "w") as f:
        f.write("#!/bin/sh\nsleep %s\nexit 0\n" % seconds)
    os.chmod(path, 0o755)
    return path


def hook_started(d, point):
    """The manager d journaled the start of its `point` hook step."""
    return any(r.get("type") == "step" and r.get("step") == "hook:" + point
               for r in d.journal())


def with_slow_hook(flavor, prefix, point, seconds, body, say):
    """A semi-sync lab of 3 nodes with etcd and 3 managers whose `point` hook
    takes `seconds`; body(lab, ds, say) runs once every manager sees db1 as
    the primary. The managers still running are stopped (and must exit
    cleanly) afterwards; everything is removed whatever happens."""
    tmp = tempfile.mkdtemp(prefix=prefix + "-")
    try:
        hook = slow_hook(tmp, point, seconds)
        with labkit.Lab.up(flavor, 3, name=labkit.unique_name(prefix + "-" + flavor),
                           semisync=True) as lab:
            with labetcd.Etcd(lab).start() as etcd:
                extra = '    hooks = { %s = "%s"; timeout = "10s"; };' % (point, hook)
                with running(managers(lab, etcd, 3, vip_plugin=True, cluster_extra=extra)) as ds:
                    body(lab, ds, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def running(ds):
    """The managers ds started, each having reached the primary; stopped at
    the end (those still running), and cleaned up whatever happened."""
    try:
        start_all(ds)
        wait_primary_seen(ds)
        yield ds
        stop_all([d for d in ds if d.proc and d.proc.poll() is None])
    finally:
        for d in ds:
            d.__exit__(*sys.exc_info())


def check_one_writable_nothing_lost(lab, primary):
    """Exactly one writable node, primary; the writer (stopped here) lost no
    acknowledged write and saw no split brain. Returns its verdict."""
    fokit.wait_topology(lab, primary)
    fokit.check(fokit.writable_nodes(lab) == [primary], "exactly one writable node: %s"
                % fokit.writable_nodes(lab))
    lab.wait_acks(50, server_id=lab.node(primary).server_id)
    v = lab.writer_verify()
    fokit.check(v["primary"] == primary and v["lost"] == [] and not v["split_brain"] and v["ok"],
                "no split brain, no acknowledged write lost: %s" % v)
    return v


def kill_primary_until_hook(lab, ds, point, timeout):
    """The writer started through the VIP, db1 killed, and the leader's
    failover held in its `point` hook: returns the leader, its id and the
    other managers."""
    old = wait_one_leader(ds)
    oid = manager_id(old)
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    labkit.wait_for(lambda: hook_started(old, point), timeout, interval=0.02,
                    what="the leader %s to start its %s hook" % (oid, point))
    return old, oid, [d for d in ds if d is not old]


# ---- etcd faults (89-ha-etcd-faults.py) ------------------------------------------------------

def rotated_endpoints(etcd):
    """Per manager mI, etcd's endpoints starting with member I-1: each manager
    talks to a member of its own first (its watches run there)."""
    eps = etcd.endpoints()
    return [eps[i:] + eps[:i] for i in range(len(eps))]


def with_managers(flavor, prefix, body, say, point=None, seconds=0, rotate=False, script=None):
    """with_slow_hook without a hook when point is None; rotate: each
    manager's endpoints start with a member of its own (rotated_endpoints);
    script: the hook's shell text instead of a sleep, where DIR names a
    directory of the test's own. body(lab, etcd, ds, say), or body(lab,
    etcd, ds, say, dir) with a script."""
    tmp = tempfile.mkdtemp(prefix=prefix + "-")
    try:
        extra = ""
        if point:
            hook = slow_hook(tmp, point, seconds)
            if script:
                with open(hook, "w") as f:
                    f.write("#!/bin/sh\n" + script.replace("DIR", tmp) + "\n")
            extra = '    hooks = { %s = "%s"; timeout = "10s"; };' % (point, hook)
        with labkit.Lab.up(flavor, 3, name=labkit.unique_name(prefix + "-" + flavor),
                           semisync=True) as lab:
            with labetcd.Etcd(lab).start() as etcd:
                eps = rotated_endpoints(etcd) if rotate else None
                with running(managers(lab, etcd, 3, endpoints=eps, vip_plugin=True,
                                      cluster_extra=extra)) as ds:
                    if script:
                        body(lab, etcd, ds, say, tmp)
                    else:
                        body(lab, etcd, ds, say)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def published_primary(etcd, cluster="main", prefix="/failoverd/v1/"):
    """The primary the leader published in etcd: {"host", "port", "term",
    "manager"}, or None."""
    return etcd.get_json("%s%s/primary" % (prefix, cluster))


def all_begins(ds, cluster="main"):
    """Every manager's begin records: manager id -> list."""
    return {manager_id(d): begins(d, cluster) for d in ds}


def refuse_etcd(lab, etcd):
    """Every connection to etcd's client ports from the client namespace
    (where the managers run) is refused or reset at once (nftables, table
    ha_refuse): a request fails fast, it does not time out. allow_etcd()
    removes the rule."""
    ports = ", ".join(str(labetcd.CLIENT_PORT + i) for i in range(etcd.n))
    lab.run_in(["nft", "-f", "-"], input="table inet ha_refuse {\n chain out {\n"
               "  type filter hook output priority 0;\n"
               "  tcp dport { %s } reject with tcp reset\n }\n}\n" % ports)


def allow_etcd(lab):
    lab.run_in(["nft", "delete", "table", "inet", "ha_refuse"], check=False)
