#!/usr/bin/env python3
"""Three managers coordinated through a 3-member etcd cluster over TLS
(docs/ha.md): etcd on https:// only, clients and peers each demanding a
certificate of the lab's etcd CA, the managers with etcd_ca, etcd_cert and
etcd_key and the managers' verdict on (observation records).

The primary is killed under the write checker (semi-sync, reliability):
exactly one manager leads and fails over, exactly one node is writable, no
acknowledged write is lost, and the leader publishes the new primary in etcd.
A packet capture of every etcd port (clients and peers) from before the
managers start until after the failover holds TLS records and none of the
key prefix, the word "leader", the managers' ids as records carry them, the
nodes' addresses, the cluster's name as a key part - in clear or in base64
at any alignment (the JSON gateway carries keys and values in base64).
Both flavors."""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
import hakit  # noqa: E402
from fokit import check, labkit  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labetcd  # noqa: E402


def forms(text):
    """text as it could cross the wire: itself, and the base64 characters
    that only its bytes decide, after 0, 1 or 2 bytes of something else."""
    raw = text.encode()
    out = [raw]
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + raw + b"\0\0")
        first = (8 * k + 5) // 6          # the first character all of whose bits are text's
        last = (8 * (k + len(raw))) // 6  # one past the last such character
        out.append(enc[first:last])
    return out


def holds(data, text):
    return any(f and f in data for f in forms(text))


def managers(lab, etcd):
    """m1..m3 (not started) on etcd's https endpoints with its TLS files,
    the managers' verdict on."""
    ids = ["m1", "m2", "m3"]
    out = []
    for i in ids:
        text = hakit.labmanagers.coordination_text(etcd.endpoints(), i).replace(
            "\n};", '\n  managers = [ %s ];\n  %s\n};' % (
                ", ".join('"%s"' % m for m in ids), etcd.coordination_extra()))
        out.append(fokit.Daemon(lab, top_extra=text, vip_plugin=True))
    return out


def failover_over_tls(lab, etcd, ds, say):
    leader = hakit.wait_one_leader(ds)
    lid = hakit.manager_id(leader)
    hakit.wait_primary_seen(ds)
    roles = sorted(hakit.coord(d)["role"] for d in ds)
    check(roles == ["follower", "follower", "leader"], "one leads over TLS, two follow: %s"
          % roles)
    lab.writer_start(through="vip")
    lab.wait_acks(100)
    lab.kill("db1")
    op = leader.wait_operation(1, timeout=90)
    check(op["type"] == "done", "the leader's failover is done: %s" % op)
    new = op["new_primary"]
    v = hakit.check_one_writable_nothing_lost(lab, new)
    began = hakit.all_begins(ds)
    check(len(began[lid]) == 1 and all(not b for m, b in began.items() if m != lid),
          "only the leader %s began a failover: %s" % (lid, began))
    want = {"host": lab.node(new).address, "port": lab.node(new).port}
    labkit.wait_for(lambda: {k: (hakit.published_primary(etcd) or {}).get(k) for k in want}
                    == want, 15, what="the new primary published in etcd")
    obs = etcd.get_json("/failoverd/v1/main/obs/%s" % lid)
    check(obs is not None, "the leader's observation record is in etcd")
    say("db1 killed: %s failed over to %s over TLS in %s ms; %d acked, none lost"
        % (lid, new, op["duration_ms"], v["acked"]))
    return new


def check_capture(lab, data, say):
    check(len(data) > 10000, "the capture holds the managers' traffic (%d bytes)" % len(data))
    markers = ["/failoverd/", "leader", "main/obs/", "main/primary", "\"manager\":\"m"]
    markers += [n["address"] for n in lab.desc["nodes"]]
    found = [m for m in markers if holds(data, m)]
    check(found == [], "nothing crossed the wire in clear or base64: %s" % found)
    check(b"\x16\x03\x01" in data and b"\x17\x03\x03" in data,
          "the capture holds TLS handshakes and TLS application data")
    say("capture: %d bytes, TLS only; none of %s" % (len(data), markers))


def scenario(flavor):
    def say(msg):
        labkit.log("%s: %s" % (flavor, msg))
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name("s5-etcdtls-" + flavor),
                       semisync=True) as lab:
        with labetcd.TlsEtcd(lab).start() as etcd:
            etcd.capture_start(os.path.join(lab.desc["state_dir"], "etcd-tls.pcap"))
            ds = managers(lab, etcd)
            try:
                hakit.start_all(ds)
                failover_over_tls(lab, etcd, ds, say)
                hakit.stop_all(ds)
            finally:
                for d in ds:
                    d.__exit__(*sys.exc_info())
            check_capture(lab, etcd.capture_stop(), say)


fokit.run_main(lambda: [scenario(f) for f in (sys.argv[1:] or hakit.FLAVORS)])
