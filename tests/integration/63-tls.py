#!/usr/bin/env python3
"""TLS to the database servers, on both flavors.

One lab per flavor whose servers have certificates from the lab's CA (the
node's name and address as subjectAltName) and require_secure_transport=ON,
semi-sync on, and whose replicas replicate over TLS.

1. No TLS setting at all: ssl_mode's default, preferred, and no CA: failoverd
   reaches every node, over TLS; status says which protocol and that the
   certificate was not verified. (Before failoverd spoke TLS, every node of
   such a cluster showed as down.)
2. A wrong CA for one node (ssl_mode verify_identity for the cluster, db3's
   ssl_ca overridden with a CA that signed nothing): db3 is down with an
   error naming TLS and the certificate, in status and in the log; the other
   nodes are up with their certificate and host name verified.
3. ssl_mode verify_identity under the write checker, with a packet capture in
   the lab bridge's namespace from before failoverd starts to after it
   stopped: a switchover to db2, then db2 killed and failed over. Nothing
   acknowledged is lost, never two writable nodes; every replica at the end
   (the old primary db1 included, whose channel failoverd made from nothing)
   replicates over TLS checking its source's certificate
   ({Master,Source}_SSL_Allowed and _SSL_Verify_Server_Cert: Yes), and
   failoverd's status says so; the capture holds neither the replication
   password nor failoverd's SQL (CHANGE MASTER / CHANGE REPLICATION SOURCE,
   read_only).
In every part the daemon's loop-stall guard stays quiet (no loop_stall
event): the TLS handshakes run off the event loop."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

SSL_COLS = {"mariadb": ("Master_SSL_Allowed", "Master_SSL_Verify_Server_Cert"),
            "mysql": ("Source_SSL_Allowed", "Source_SSL_Verify_Server_Cert")}


def node_status(d, name):
    return {n["name"]: n for n in d.cluster()["nodes"]}[name]


def no_stall(d):
    stalls = d.events().get("loop_stall", [])
    check(not stalls, "the loop never stalled: %s" % stalls)


def preferred(lab, say):
    with fokit.Daemon(lab) as d:
        d.start(timeout=30)
        wait_for(lambda: all(n["state"] == "up" for n in d.cluster()["nodes"]), 30,
                 what="every node up with ssl_mode preferred: %s"
                 % [(n["name"], n["state"], n.get("last_error")) for n in d.cluster()["nodes"]])
        for n in d.cluster()["nodes"]:
            t = n.get("tls") or {}
            check(t.get("ssl_mode") == "preferred" and (t.get("version") or "").startswith("TLS")
                  and t.get("verified") == "none",
                  "%s: a TLS session, certificate not verified: %s" % (n["name"], t))
        text = fokit.squash(d.ctl_text("status").stdout)
        check("tls: TLSv1" in text and "certificate not verified (ssl_mode preferred)" in text,
              "failoverctl status shows the sessions' TLS:\n%s" % text)
        check(d.stop() == 0, "failoverd stops cleanly")
        no_stall(d)
    say("preferred (the default): every node up over TLS")


def tls_extra(lab, mode="verify_identity"):
    return '    ssl_mode = "%s";\n    ssl_ca = "%s";' % (mode, lab.tls["ca"])


def wrong_ca(lab, say):
    wrong = lab.make_ca("wrong-ca")
    with fokit.Daemon(lab, cluster_extra=tls_extra(lab)) as d:
        # db3 alone is given the wrong CA (a node's own setting wins).
        text = open(d.conf).read()
        text, n = re.subn(r'(name = "db3";)', r'\1 ssl_ca = "%s";' % wrong, text)
        check(n == 1, "db3's node entry in the configuration")
        with open(d.conf, "w") as f:
            f.write(text)
        d.start(wait_ready=False)
        wait_for(lambda: d.first_round_done(), 30, what="failoverd's first probe round")

        def db3_down():
            n = node_status(d, "db3")
            return n["state"] == "down" and n.get("last_error")
        wait_for(db3_down, 30, what="db3 down with an error")
        err = node_status(d, "db3")["last_error"]
        check("TLS" in err and "certificate" in err and "verify_identity" in err,
              "db3's error names TLS, the certificate and the mode: %s" % err)
        for name in ("db1", "db2"):
            wait_for(lambda: node_status(d, name)["state"] == "up", 30, what="%s up" % name)
            t = node_status(d, name)["tls"]
            check(t["verified"] == "identity" and t["ssl_mode"] == "verify_identity",
                  "%s: certificate and host name verified: %s" % (name, t))
        downs = [line for line in d.events().get("node_down", []) if "db3" in line]
        check(any("TLS" in line and "certificate" in line for line in downs),
              "the log says why db3 is down: %s" % downs)
        text = fokit.squash(d.ctl_text("status").stdout)
        check("TLS (ssl_mode verify_identity)" in text and "certificate" in text,
              "failoverctl status shows db3's TLS error:\n%s" % text)
        check(d.stop() == 0, "failoverd stops cleanly")
        no_stall(d)
    say("wrong CA: db3 down, said to be a TLS certificate error: %s" % err)


def channel_tls(lab, node):
    rows = lab.query(node, labkit.DIALECT[lab.family]["replica_status"])
    check(rows, "%s is a replica" % lab.node(node).name)
    allowed, verify = SSL_COLS[lab.family]
    return rows[0].get(allowed), rows[0].get(verify)


def verify_identity_under_writes(lab, say):
    cap = lab.capture_start(os.path.join(lab.desc["state_dir"], "tls.pcap"))
    with fokit.Daemon(lab, cluster_extra=tls_extra(lab), vip_plugin=True) as d:
        d.start(timeout=30)
        lab.writer_start(through="vip", rate=100)
        lab.wait_acks(50)
        rc, op = d.ctl("switchover", "main", "--to", "db2", timeout=90, check=False)
        check(rc == 0 and isinstance(op, dict) and op.get("type") == "done",
              "the switchover must succeed: exit %s %s\n%s" % (rc, op, d.log_tail()))
        lab.wait_acks(50, server_id=lab.node("db2").server_id)
        fokit.wait_topology(lab, "db2", timeout=60)
        check(channel_tls(lab, "db1") == ("Yes", "Yes"),
              "the old primary's new channel is TLS with the source checked: %s"
              % (channel_tls(lab, "db1"),))
        lab.kill("db2")
        op = d.wait_operation(2, timeout=90)
        check(op["type"] == "done" and op["kind"] == "failover",
              "the failover must be done: %s\n%s" % (op, d.log_tail()))
        new = op["new_primary"]
        check(new in ("db1", "db3"), "a replica is the new primary: %s" % op)
        lab.wait_acks(50, server_id=lab.node(new).server_id)
        fokit.wait_topology(lab, new, timeout=60)
        v = lab.writer_verify()
        check(v["ok"] and v["lost"] == [] and not v["divergence"] and not v["split_brain"],
              "nothing acknowledged lost, never two writable nodes: %s" % v)
        other = "db3" if new == "db1" else "db1"
        check(channel_tls(lab, other) == ("Yes", "Yes"),
              "%s replicates from %s over TLS, the source's certificate checked: %s"
              % (other, new, channel_tls(lab, other)))

        def status_channel():
            t = node_status(d, other)["tls"]
            return t["channel_ssl"] == "yes" and t["channel_verify_server_cert"] == "yes"
        wait_for(status_channel, 30, what="failoverd's status to show %s's TLS channel" % other)
        check(d.stop() == 0, "failoverd stops cleanly")
        no_stall(d)
    lab.capture_stop()
    with open(cap, "rb") as f:
        data = f.read()
    check(len(data) > 20000, "the capture saw the traffic (%d bytes)" % len(data))
    low = data.lower()
    repl_password = lab.desc["users"]["repl"]["password"].encode()
    for needle in (repl_password, b"change master", b"change replication", b"read_only"):
        check(needle.lower() not in low, "the capture holds %r in clear" % needle)
    say("verify_identity: switchover and failover over TLS, %d acked, none lost; "
        "capture of %d bytes holds no password and no SQL" % (v["acked"], len(data)))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("tls63-" + flavor[:2]), semisync=True,
                       require_secure_transport=True) as lab:
        for n in lab.nodes[1:]:
            check(channel_tls(lab, n) == ("Yes", "Yes"), "the lab's channels are TLS")
        preferred(lab, say)
        wrong_ca(lab, say)
        verify_identity_under_writes(lab, say)


def main():
    for flavor in sys.argv[1:] or labkit.ALL_FLAVORS:
        scenario(flavor)


if __name__ == "__main__":
    fokit.run_main(main)
