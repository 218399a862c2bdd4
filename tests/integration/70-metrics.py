#!/usr/bin/env python3
"""Prometheus metrics follow the lab, on both flavors.

failoverd runs with metrics_listen on the lab's client address; the test
scrapes /metrics and /health over TCP from the client namespace with Python's
urllib, parses every line of the page strictly (text format 0.0.4: HELP and
TYPE before a family's samples, quoted and escaped label values, numeric
values) and checks:

1. At start: every node up, db1 the primary (primary_info and role), read-only
   as the servers say, the replicas' replication threads running, the verdict
   healthy, no failover counted, probe latency observed, /health 200.
2. A replica killed: its `up` goes to 0 and its replication metrics go away,
   the others stay up, the verdict stays healthy. Started again and
   replicating, it is up again.
3. The primary killed under writes (reliability, semi-sync): the failover is
   done, `failoverd_failovers_total{outcome="done"}` moves from 0 to 1, the
   primary label names the new primary (the node the servers show writable,
   holding the VIP), the old primary is down, the last failover's duration is
   the one journaled, the VIP plugin's run is counted, and no acknowledged
   write is lost.
A second daemon given the same address exits with a clear error."""
import os
import re
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

PORT = 9633
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(page):
    """The page as {(name, ((label, value), ...)): float}; raises on any line
    the text format does not allow."""
    out, families = {}, {}
    for line in page.split("\n"):
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            check(typ in ("gauge", "counter", "histogram"), "type of %s: %s" % (name, typ))
            check(name not in families, "TYPE of %s given twice" % name)
            families[name] = typ
            continue
        m = SAMPLE.match(line)
        check(m is not None, "not a sample line: %r" % line)
        name, labels_txt, value = m.group(1), m.group(3) or "", m.group(4)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in families or (base in families and families[base] == "histogram"),
              "sample before its TYPE: %r" % line)
        labels, pos = [], 0
        while pos < len(labels_txt):
            lm = LABEL.match(labels_txt, pos)
            check(lm is not None, "bad labels in %r" % line)
            labels.append((lm.group(1), lm.group(2).replace('\\"', '"').replace("\\n", "\n")
                           .replace("\\\\", "\\")))
            pos = lm.end()
        out[(name, tuple(labels))] = float(value.replace("+Inf", "inf"))
    return out


def get(lab, path):
    url = "http://%s:%d%s" % (lab.desc["client"]["address"], PORT, path)

    def fetch():
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.headers.get("Content-Type"), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read().decode()
    return labkit.in_netns(lab.client_ns, fetch)


def scrape(lab):
    status, ctype, body = get(lab, "/metrics")
    check(status == 200 and ctype.startswith("text/plain; version=0.0.4"),
          "/metrics answers 200 in the text format: %s %s" % (status, ctype))
    return parse(body)


def value(m, name, **labels):
    return m.get((name, tuple(labels.items())))


def node_val(m, name, node):
    return value(m, name, cluster="main", node=node)


def primary_label(m):
    ps = [dict(k[1])["primary"] for k, v in m.items()
          if k[0] == "failoverd_cluster_primary_info" and v == 1]
    return ps[0] if len(ps) == 1 else ps


def at_start(lab, d, say):
    m = scrape(lab)
    check([v for k, v in m.items() if k[0] == "failoverd_build_info"] == [1],
          "build info is there")
    for n in ("db1", "db2", "db3"):
        check(node_val(m, "failoverd_node_up", n) == 1, "%s is up: %s" % (n, m))
        lat = node_val(m, "failoverd_node_probe_latency_seconds_count", n)
        check(lat and lat >= 1, "%s's probes are in the latency histogram" % n)
    check(primary_label(m) == "db1", "db1 is the primary: %s" % primary_label(m))
    check(value(m, "failoverd_node_role", cluster="main", node="db1", role="primary") == 1
          and value(m, "failoverd_node_role", cluster="main", node="db2", role="replica") == 1,
          "roles follow the topology")
    check(node_val(m, "failoverd_node_read_only", "db1") == 0
          and node_val(m, "failoverd_node_read_only", "db2") == 1, "read_only as the servers say")
    for n in ("db2", "db3"):
        check(node_val(m, "failoverd_node_replication_io_running", n) == 1
              and node_val(m, "failoverd_node_replication_sql_running", n) == 1,
              "%s replicates" % n)
        check(node_val(m, "failoverd_node_replication_lag_seconds", n) is not None
              and node_val(m, "failoverd_node_apply_backlog_transactions", n) is not None,
              "%s's lag and backlog are known" % n)
    check(node_val(m, "failoverd_node_replication_io_running", "db1") is None,
          "the primary has no replication metrics")
    check(value(m, "failoverd_cluster_verdict", cluster="main", verdict="healthy") == 1,
          "the verdict is healthy")
    check(value(m, "failoverd_failovers_total", cluster="main", outcome="done") == 0,
          "no failover yet")
    status, _, body = get(lab, "/health")
    check(status == 200 and body.strip() == "ok", "/health is ok: %s %r" % (status, body))
    status, _, _ = get(lab, "/nothing")
    check(status == 404, "an unknown path is 404: %s" % status)
    # A second daemon can't have the address: it says so and exits (EX_OSERR).
    with fokit.Daemon(lab, daemon_extra="  " + listen_line(lab), cluster_extra=
                      "    auto_failover = false;") as d2:
        d2.start(wait_ready=False)
        rc = d2.wait_exit(30)
        log = d2.log_tail(20)
        check(rc == 71 and "metrics_listen \"%s:%d\": cannot listen there"
              % (lab.desc["client"]["address"], PORT) in log,
              "a listener address in use is a clear error: rc %s\n%s" % (rc, log))
    check(get(lab, "/health")[0] == 200, "the first daemon still serves")
    say("at start: %d samples, every node up, db1 primary" % len(m))


def replica_killed(lab, d, say):
    lab.kill("db3")
    wait_for(lambda: node_val(scrape(lab), "failoverd_node_up", "db3") == 0, 20,
             what="db3's up to be 0")
    m = scrape(lab)
    check(node_val(m, "failoverd_node_up", "db1") == 1 and node_val(m, "failoverd_node_up", "db2") == 1,
          "the others stay up")
    check(node_val(m, "failoverd_node_replication_io_running", "db3") is None
          and node_val(m, "failoverd_node_read_only", "db3") is None,
          "nothing is claimed about a node that is down")
    check(value(m, "failoverd_cluster_verdict", cluster="main", verdict="healthy") == 1
          and primary_label(m) == "db1", "a replica down changes neither verdict nor primary")
    check(d.node("db3")["state"] == "down", "status agrees: db3 down")
    lab.start("db3")
    lab.resume_replication("db3")
    lab.wait_replicating("db1")
    wait_for(lambda: node_val(scrape(lab), "failoverd_node_replication_io_running", "db3") == 1,
             20, what="db3 up and replicating in the metrics")
    say("replica killed: its up went to 0, and back to 1 after its restart")


def primary_killed(lab, d, say):
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    op = d.wait_operation(1, timeout=60)
    check(op["type"] == "done", "the failover must be done: %s" % op)
    new = op["new_primary"]
    check(lab.vip_holders() == [new], "the VIP moved to %s" % new)
    check(fokit.writable_nodes(lab) == [new], "only %s is writable" % new)

    def moved():
        m = scrape(lab)
        return (value(m, "failoverd_failovers_total", cluster="main", outcome="done") == 1
                and primary_label(m) == new)
    wait_for(moved, 20, what="the failover counter and the primary label to move")
    m = scrape(lab)
    check(value(m, "failoverd_failovers_total", cluster="main", outcome="aborted") == 0
          and value(m, "failoverd_failovers_total", cluster="main", outcome="failed") == 0,
          "nothing else counted")
    check(node_val(m, "failoverd_node_up", "db1") == 0, "the old primary is down")
    check(value(m, "failoverd_node_role", cluster="main", node=new, role="primary") == 1,
          "%s's role is primary" % new)
    runs = value(m, "failoverd_hook_runs_total", point="post_promotion", outcome="ok")
    check(runs and runs >= 1, "the VIP plugin's post_promotion run is counted: %s" % runs)
    dur = value(m, "failoverd_last_failover_duration_seconds", cluster="main")
    check(dur is not None and abs(dur * 1000 - op["duration_ms"]) < 1.5,
          "the last failover's duration is the journaled one: %s s vs %s ms"
          % (dur, op["duration_ms"]))
    lab.wait_acks(50, server_id=lab.node(new).server_id)
    v = lab.writer_verify()
    check(v["primary"] == new and v["lost"] == [] and not v["split_brain"] and v["ok"],
          "no acknowledged write lost: %s" % v)
    say("primary killed: failovers_total{done} 0 -> 1, primary db1 -> %s in %s ms, %d acked, "
        "none lost" % (new, op["duration_ms"], v["acked"]))


def listen_line(lab):
    return 'metrics_listen = "%s:%d";' % (lab.desc["client"]["address"], PORT)


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("metrics-" + flavor),
                       semisync=True) as lab:
        with fokit.Daemon(lab, vip_plugin=True, daemon_extra="  " + listen_line(lab)) as d:
            d.start()
            at_start(lab, d, say)
            replica_killed(lab, d, say)
            primary_killed(lab, d, say)
            check(d.stop() == 0, "failoverd stops cleanly")


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or labkit.FLAVORS)])
