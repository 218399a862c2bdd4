#!/usr/bin/env python3
"""The DNS plugin points a name at the primary, against a real authoritative
server (BIND's named from Debian, installed here if missing).

named runs in the lab's client namespace with the zone lab.test, where
db.lab.test is db1's address with a TTL of 300, and accepts updates of that
name only when signed with the TSIG key failoverd has (an unsigned update is
refused: checked). failoverd runs with plugins/dns (dns.so), TTL 30.

1. Failover: db1 is killed; afterwards `dig @server db.lab.test A` answers the
   new primary's address, alone, with TTL 30, and there is no AAAA record.
2. Switchover to the remaining replica: the name follows.

Prints how long the update and its check took (from the plugin's report)."""
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fokit  # noqa: E402
from fokit import check, labkit  # noqa: E402
from labkit import wait_for  # noqa: E402

DNS_SO = os.path.join(fokit.BUILD, "plugins", "dns.so")
ZONE = "lab.test"
NAME = "db.lab.test"
PORT = 5353
TTL = 30
KEY = "failoverd-key"


def ensure_bind():
    """named, nsupdate and dig from Debian's packages (idempotent)."""
    if all(shutil.which(p) or os.path.exists("/usr/sbin/" + p) for p in ("named", "nsupdate", "dig")):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y",
            "--no-install-recommends", "bind9", "bind9-dnsutils"]
    if subprocess.run(argv, env=env, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"], env=env,
                       timeout=900, check=True)
        subprocess.run(argv, env=env, timeout=900, check=True)


class Named:
    """named in the lab's client namespace, serving ZONE on the client's address."""

    def __init__(self, lab, secret):
        self.lab = lab
        self.dir = tempfile.mkdtemp(prefix="failoverd-named-")
        self.addr = lab.desc["client"]["address"]
        db1 = lab.node("db1").address
        with open(os.path.join(self.dir, "zone"), "w") as f:
            f.write("$TTL 300\n"
                    "@ IN SOA ns.%(z)s. hostmaster.%(z)s. 1 3600 600 86400 60\n"
                    "@ IN NS ns.%(z)s.\n"
                    "ns IN A %(ns)s\n"
                    "db IN A %(db1)s\n" % dict(z=ZONE, ns=self.addr, db1=db1))
        with open(os.path.join(self.dir, "named.conf"), "w") as f:
            f.write("""options {
  directory "%(d)s";
  pid-file "%(d)s/named.pid";
  session-keyfile "%(d)s/session.key";
  managed-keys-directory "%(d)s";
  listen-on port %(port)d { %(addr)s; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
};
controls { };
key "%(key)s" { algorithm hmac-sha256; secret "%(secret)s"; };
zone "%(z)s" {
  type primary;
  file "%(d)s/zone";
  update-policy { grant %(key)s name %(name)s. A AAAA; };
};
""" % dict(d=self.dir, port=PORT, addr=self.addr, key=KEY, secret=secret, z=ZONE, name=NAME))
        self.log = open(os.path.join(self.dir, "named.log"), "ab")
        named = shutil.which("named") or "/usr/sbin/named"
        self.proc = lab.popen([named, "-g", "-4", "-n", "1", "-c",
                               os.path.join(self.dir, "named.conf")],
                              stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        wait_for(lambda: self.answer("A") is not None, 20, interval=0.2,
                 what="named to answer for %s" % NAME)

    def answer(self, rtype):
        """[(address, ttl)] of NAME's records of rtype, or None when no answer came."""
        if self.proc.poll() is not None:
            raise labkit.LabError("named exited:\n" + open(os.path.join(self.dir, "named.log"))
                                  .read()[-2000:])
        p = self.lab.run_in(["dig", "@" + self.addr, "-p", str(PORT), "+norecurse", "+time=1",
                             "+tries=1", "+noall", "+answer", NAME, rtype], check=False,
                            timeout=10)
        if p.returncode != 0:
            return None
        out = []
        for line in p.stdout.splitlines():
            f = line.split()
            if len(f) >= 5 and not line.startswith(";") and f[3] == rtype:
                out.append((f[4], int(f[1])))
        return out

    def nsupdate(self, script):
        return self.lab.run_in(["nsupdate", "-t", "3"], input=script, check=False, timeout=20)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def plugin_config(named, secret):
    return """    plugins = (
      { path = "%s";
        config = { server = "%s"; port = %d; zone = "%s"; name = "db"; ttl = %d;
                   key_name = "%s"; key_algorithm = "hmac-sha256"; key_secret = "%s"; }; }
    );""" % (DNS_SO, named.addr, PORT, ZONE, TTL, KEY, secret)


def plugin_reports(d):
    out = []
    with open(d.log_path, errors="replace") as f:
        for line in f:
            m = re.search(r"plugin dns: post_promotion: (\S+) is (\S+) \(TTL (\d+)\) on \S+ "
                          r"in (\d+) ms \((.*)\)", line)
            if m:
                out.append((m.group(2), int(m.group(4)), m.group(5)))
    return out


def wait_name(lab, d, named, new, count):
    wait_for(lambda: len(plugin_reports(d)) >= count, 30, what="the dns plugin's report")
    addr, ms, detail = plugin_reports(d)[count - 1]
    want = lab.node(new).address
    check(addr == want, "the plugin set %s, not %s's %s" % (addr, new, want))
    a = named.answer("A")
    check(a == [(want, TTL)], "dig answers %s's address alone with TTL %d: %s" % (new, TTL, a))
    check(named.answer("AAAA") == [], "no AAAA record")
    return ms, detail


def scenario():
    def say(msg):
        labkit.log("dns: %s" % msg)
    check(os.path.exists(DNS_SO), "the plugin is built: %s" % DNS_SO)
    ensure_bind()
    secret = base64.b64encode(os.urandom(32)).decode()
    with labkit.Lab.up("mariadb", 3, name=labkit.unique_name("dns"), semisync=True) as lab:
        named = Named(lab, secret)
        try:
            check(named.answer("A") == [(lab.node("db1").address, 300)], "the zone as loaded")
            p = named.nsupdate("server %s %d\nzone %s\nupdate delete %s A\nsend\n"
                               % (named.addr, PORT, ZONE, NAME))
            check(p.returncode != 0 and "REFUSED" in p.stdout + p.stderr,
                  "an unsigned update is refused: %s %s" % (p.stdout, p.stderr))
            with fokit.Daemon(lab, cluster_extra=plugin_config(named, secret)) as d:
                d.start()
                d.wait_verdict("healthy", timeout=20)
                t0 = time.time()
                lab.kill("db1")
                d.wait_event("failover_done", timeout=40)
                new = d.cluster()["primary"]
                ms, detail = wait_name(lab, d, named, new, 1)
                say("failover db1 -> %s: %s answers %s (TTL %d) %.1f s after the kill; "
                    "plugin %d ms (%s)" % (new, NAME, lab.node(new).address, TTL,
                                           time.time() - t0, ms, detail))
                other = "db3" if new == "db2" else "db2"
                rc, out = d.ctl("switchover", "main", "--to", other, timeout=90, check=False)
                check(rc == 0, "the switchover succeeds: %s" % (out,))
                ms, detail = wait_name(lab, d, named, other, 2)
                say("switchover %s -> %s: plugin %d ms (%s)" % (new, other, ms, detail))
                check(secret not in open(d.log_path).read(), "the TSIG secret is not logged")
                check(d.stop() == 0, "failoverd stops cleanly")
        finally:
            named.stop()


if __name__ == "__main__":
    fokit.run_main(scenario)
