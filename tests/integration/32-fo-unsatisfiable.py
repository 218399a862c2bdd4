#!/usr/bin/env python3
"""Failovers that cannot be carried out end in a stated safe state, with an
event that says what happened and what to do, and the daemon goes on.

1. Every replica excluded (both flavors: db2 and db3 must_not): the primary
   dies, failover_aborted names each replica's exclusion and the command to
   run; no node is writable; status still answers (primary dead, last
   operation aborted). Once the operator makes db2 eligible (configuration,
   reload) the dead primary is failed over to db2 automatically.
2. Missing privilege on the candidate (both flavors): failoverd's account on
   db2 alone (revoked there without binary logging, after failoverd read its
   grants, so the election still picks db2) lacks the privilege to switch
   read_only. The promotion phase tries it first (check:db2), so the failover
   aborts with the server's error before anything on db2 is changed: db2
   still has its replication settings, nothing is writable. `failoverctl
   failover --to db3` then works. (A privilege failoverd knows to be missing
   excludes the node from the election instead: 29-privileges.)
3. A timeout (MariaDB): the candidate cannot apply what it received (its SQL
   thread held by a table lock, wait_apply_timeout 2 s): the failover aborts
   before any promotion, saying which wait timed out; nothing is writable."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import labkit  # noqa: E402
from fokit import check, writable_nodes  # noqa: E402


def replica(lab, node):
    return lab.state(node)["replica"] or {}


def settle_and_kill(lab):
    """Some acknowledged writes, then the primary killed with the writer stopped."""
    lab.writer_start(through="vip")
    lab.wait_acks(30)
    lab.writer_stop()
    lab.kill("db1")


def all_excluded(flavor):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"unsat-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "must_not", "db3": "must_not"}) as d:
        d.start()
        settle_and_kill(lab)
        ab = d.wait_event("failover_aborted", timeout=30)[-1]
        check("db2: its promotion rule is must_not" in ab and
              "db3: its promotion rule is must_not" in ab and "failoverctl failover main" in ab,
              f"failover_aborted should give each exclusion and the command: {ab}")
        check(writable_nodes(lab) == [], f"no node writable: {writable_nodes(lab)}")
        st = d.cluster()
        check(st["verdict"] == "dead" and st["primary"] == "db1" and
              st["last_operation"]["type"] == "aborted",
              f"status: db1 dead, the failover aborted: {st['verdict']} {st['last_operation']}")
        rc, plan = d.ctl("plan", "main", check=False)
        check("must_not" in str(plan), f"failoverctl plan should explain the exclusions: {plan}")

        # The fix: make a replica eligible. The reload changes the nodes'
        # settings, so the cluster is monitored afresh, its primary is found
        # dead again and failed over automatically.
        d.write_config(node_rules={"db3": "must_not"})
        d.signal(signal.SIGHUP)
        d.wait_event("config_reloaded")
        done = d.wait_event("failover_done", timeout=30)[-1]
        check("db2 is the primary" in done, f"db2 should be promoted after the fix: {done}")
        labkit.wait_for(lambda: replica(lab, "db3").get("io_running") == "Yes" and
                        replica(lab, "db3").get("source_host") == lab.node("db2").address,
                        20, what="db3 to replicate from db2")
        check(writable_nodes(lab) == ["db2"], f"db2 alone writable: {writable_nodes(lab)}")
        v = lab.writer_verify()
        check(v["primary"] == "db2" and not v["lost"] and not v["divergence"],
              f"nothing lost: {v['lost_ranges']} {v['divergence']}")
        print(f"{flavor}: all replicas excluded: aborted and explained; after the fix and a "
              f"reload, failed over to db2")


def revoke_on(lab, node, privilege):
    """Revokes privilege from failoverd's account on node only: binary logging
    off for the session (no GTID, nothing replicated), and on MySQL
    super_read_only lifted for that statement (read_only stays on)."""
    admin = lab.desc["users"]["admin"]["user"]
    host = lab.value(node, f"SELECT host FROM mysql.user WHERE user = '{admin}'")
    stmt = f"SET SESSION sql_log_bin = 0; REVOKE {privilege} ON *.* FROM '{admin}'@'{host}'"
    if lab.family == "mysql":
        stmt = f"SET GLOBAL super_read_only = OFF; {stmt}; SET GLOBAL super_read_only = ON"
    lab.sql(node, stmt)


def missing_privilege(flavor):
    priv = "READ_ONLY ADMIN" if labkit.family(flavor) == "mariadb" else "SYSTEM_VARIABLES_ADMIN"
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"priv-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer"}) as d:
        d.start()                       # its probes read the grants as they log in
        before = lab.gtid("db2")
        revoke_on(lab, "db2", priv)
        check(lab.gtid("db2") == before, "the revoke must not create a transaction")
        settle_and_kill(lab)
        fail = d.wait_event("failover_aborted", timeout=30)[-1]
        check(replica(lab, "db2").get("source_host") == lab.node("db1").address,
              "nothing was changed on db2: it still has its replication settings: %s"
              % replica(lab, "db2"))
        check("check:db2" in fail and "denied" in fail.lower() and
              "No node was made writable" in fail and "failoverctl failover main" in fail,
              f"failover_aborted should give the step, the server's error, the state and "
              f"what to do: {fail}")
        check(writable_nodes(lab) == [], f"no node writable: {writable_nodes(lab)}")
        st = d.cluster()
        check(st["last_operation"]["type"] == "aborted" and st["failover"] is None,
              f"status: the failover aborted, nothing running: {st['last_operation']}")

        # What to do: another node.
        rc, out = d.ctl("failover", "main", "--to", "db3", timeout=60)
        check(out.get("new_primary") == "db3", f"the failover to db3 should work: {out}")
        check(writable_nodes(lab) == ["db3"], f"db3 alone writable: {writable_nodes(lab)}")
        v = lab.writer_verify()
        check(v["primary"] == "db3" and not v["lost"],
              f"every acknowledged write on db3: {v['lost_ranges']}")
        print(f"{flavor}: missing {priv} on db2: refused before the promotion and reported, "
              f"db2 read-only, --to db3 worked")


def timeout():
    flavor = "mariadb"
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"tmo-{flavor}"),
                       semisync=True) as lab, \
            fokit.Daemon(lab, node_rules={"db2": "prefer"},
                         cluster_extra='    wait_apply_timeout = "2s";') as d:
        d.start()
        lab.writer_start(through="vip")
        lab.wait_acks(10)
        lock = fokit.ApplierLock(lab, "db2")
        lab.wait_acks(20)
        lab.writer_stop()
        lab.kill("db1")
        ab = d.wait_event("failover_aborted", timeout=30)[-1]
        check("apply:db2" in ab and "timed out" in ab and "No node was made writable" in ab,
              f"failover_aborted should name the wait that timed out: {ab}")
        check(writable_nodes(lab) == [], f"no node writable: {writable_nodes(lab)}")
        time.sleep(1)
        check(d.cluster()["verdict"] == "dead", "the daemon still reports the dead primary")
        lock.close()
        print(f"{flavor}: the candidate's apply wait timed out: aborted before any promotion")


def main():
    if sys.argv[1:]:        # the flavors named: the scenarios that take one
        for flavor in sys.argv[1:]:
            all_excluded(flavor)
            missing_privilege(flavor)
        return
    all_excluded("mariadb")
    all_excluded("mysql")
    missing_privilege("mariadb")
    missing_privilege("mysql")
    timeout()


fokit.run_main(main)
