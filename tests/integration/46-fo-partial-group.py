#!/usr/bin/env python3
"""A failover when a replica's relay log ends inside a transaction, both flavors.

Three nodes, asynchronous replication, availability policy. The primary
commits one large transaction (about 40 MB of row events); db2's IO thread is
stopped while it receives it, so db2's relay log ends in the middle of that
transaction, whose rest will never come from db1. db3 receives all of it. The
primary's server is then killed.

failoverd promotes db3 (it holds everything) and repoints db2. On MySQL,
db2's multi-threaded applier is in the middle of the group: STOP REPLICA would
wait for the rest of it for up to a minute, and the repoint would run out of
time (a failover "done" that left db2 behind). The failover ends that applier
first, so:

- the failover completes in a few seconds, db3 the one writable node;
- db2 follows db3, with both threads running, and fetched the large
  transaction again in full (the same GTIDs and rows as db3: nothing of the
  partial group was applied, nothing is missing);
- every acknowledged write of the write checker is on db3.
"""
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

ROWS = 20000  # of about 2 kB each
STOP_IO = {"mariadb": "STOP SLAVE IO_THREAD", "mysql": "STOP REPLICA IO_THREAD"}
START_IO = {"mariadb": "START SLAVE IO_THREAD", "mysql": "START REPLICA IO_THREAD"}
BINLOG_POS = {"mariadb": "SHOW MASTER STATUS", "mysql": "SHOW BINARY LOG STATUS"}
# Read_Master_Log_Pos / Read_Source_Log_Pos: the 7th column of both.
READ_POS_COL = 6


def binlog_pos(lab, node):
    rows = lab.query(node, BINLOG_POS[lab.family])
    return rows[0]["File"], int(rows[0]["Position"])


def stop_io_inside(lab, replica, start_pos, end_pos_of):
    """Stops replica's IO thread while it receives the large transaction that
    follows binlog position start_pos. Returns True once its relay log ends
    inside it (it read past start_pos, not up to the transaction's end)."""
    argv, env = lab.client_argv(replica)
    p = subprocess.Popen(argv + ["-N", "-B", "-n"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, bufsize=1,
                         env={**os.environ, **env})
    try:
        for _ in range(200000):
            p.stdin.write("SHOW REPLICA STATUS;\n")
            row = p.stdout.readline().rstrip("\n").split("\t")
            if int(row[READ_POS_COL]) > start_pos + 2_000_000:
                p.stdin.write(STOP_IO[lab.family] + "; SELECT 'stopped';\n")
                p.stdout.readline()
                break
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    row = lab.query(replica, "SHOW REPLICA STATUS")[0]
    read = int(row.get("Read_Master_Log_Pos") or row.get("Read_Source_Log_Pos"))
    return start_pos < read < end_pos_of()


def large_transaction(lab, primary):
    """Commits one transaction of ROWS rows on primary, in a thread."""
    sql = ("SET SESSION cte_max_recursion_depth = %d; " % (ROWS + 1) if lab.family == "mysql"
           else "SET SESSION max_recursive_iterations = %d; " % (ROWS + 1))
    sql += ("INSERT INTO lab.big (pad) WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
            "FROM t WHERE n < %d) SELECT REPEAT('x', 1990) FROM t" % ROWS)
    box = {}

    def run():
        try:
            lab.sql(primary, sql, timeout=120)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            box["error"] = e
    t = threading.Thread(target=run)
    t.start()
    return t, box


def partial_relay_log(lab, say):
    """db2's relay log ends inside a large transaction db1 committed and db3
    received in full. Retries when db2 received all of it before its stop."""
    lab.sql("db1", "CREATE TABLE lab.big (id INT AUTO_INCREMENT PRIMARY KEY, "
                   "pad VARCHAR(2000)) ENGINE=InnoDB")
    for attempt in range(3):
        lab.wait_gtid("db2", lab.gtid("db1"))
        _, start = binlog_pos(lab, "db1")
        t, box = large_transaction(lab, "db1")
        inside = stop_io_inside(lab, "db2", start, lambda: wait_done(t, box, lab))
        if inside:
            say("db2's relay log ends inside the large transaction (attempt %d)" % (attempt + 1))
            return
        lab.sql("db2", START_IO[lab.family])
    raise AssertionError("db2 received the whole transaction before its IO thread stopped, "
                         "three times")


def wait_done(t, box, lab):
    t.join(timeout=120)
    check(not t.is_alive() and "error" not in box, "the large transaction commits: %s" % box)
    return binlog_pos(lab, "db1")[1]


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("partial-" + flavor),
                       semisync=False) as lab, \
            fokit.Daemon(lab, vip_plugin=True,
                         cluster_extra='    policy = "availability";\n') as d:
        d.start()
        wait_for(lambda: all(n["state"] == "up" for n in d.cluster()["nodes"]), 120,
                 what="failoverd sees every node up")
        partial_relay_log(lab, say)
        # Writes after it: db1 acknowledges them, db3 receives them.
        lab.writer_start(through="vip")
        lab.wait_acks(50)
        lab.writer_stop()
        g = lab.gtid("db1")
        lab.wait_gtid("db3", g, timeout=60)
        lab.kill("db1")
        op = d.wait_operation(1, timeout=90)
        check(op["type"] == "done" and op["new_primary"] == "db3",
              "the failover promotes db3: %s" % op)
        check(op["duration_ms"] < 20000,
              "the failover took %d ms: no stop waited for the rest of the group"
              % op["duration_ms"])
        recs = d.op_records(op["op"])
        done = {r["step"] for r in recs if r["type"] == "step_done"}
        # The dead primary's fence fails (nothing answers); nothing else may.
        failed = [r for r in recs if r["type"] == "step_failed"
                  and not r["step"].startswith("fence:")]
        check("repoint:db2" in done and not failed,
              "db2's repoint and every step but the fence succeeded: %s" % failed)
        fokit.wait_topology(lab, "db3", timeout=60)
        check(fokit.gtid_missing(lab.flavor, lab.gtid("db2"), g) == 0,
              "db2 holds every transaction db1 had (%s): %s" % (g, lab.gtid("db2")))
        n3 = lab.value("db3", "SELECT COUNT(*) FROM lab.big")
        n2 = lab.value("db2", "SELECT COUNT(*) FROM lab.big")
        check(n3 == str(ROWS) and n2 == n3,
              "the large transaction is whole on db3 and on db2: %s and %s rows" % (n3, n2))
        v = lab.writer_verify()
        check(v["lost"] == [] and v["primary"] == "db3" and not v["split_brain"],
              "no acknowledged write is lost: %s" % v)
        say("failover in %d ms; db2 was repointed from inside the transaction and fetched it "
            "again (%s rows); %d acknowledged writes, none lost"
            % (op["duration_ms"], n2, v["acked"]))
        check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
