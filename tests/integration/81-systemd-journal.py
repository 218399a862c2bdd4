#!/usr/bin/env python3
"""81-systemd-journal: under systemd, failoverd logs journal entries with fields.

systemd connects a service's stderr to the journal and says so in
JOURNAL_STREAM (the device and inode of that stream); failoverd then sends
structured entries to /run/systemd/journal/socket instead of writing lines.
This test plays journald: it runs the real failoverd in a private mount
namespace where /run is a fresh tmpfs and /run/systemd/journal is bound to a
directory holding the test's own datagram socket, sets JOURNAL_STREAM to match
the daemon's stderr, and decodes what arrives.  It asserts:

  - every entry has MESSAGE, PRIORITY and SYSLOG_IDENTIFIER=failoverd, and
    events have their EVENT, CLUSTER and NODE fields;
  - a node that cannot be reached gives EVENT=node_down with its CLUSTER and
    NODE at warning priority (4);
  - a rejected reload gives EVENT=config_rejected at error priority (3) with
    the error ("file:line: setting: message") in MESSAGE;
  - nothing goes to stderr meanwhile;
  - without JOURNAL_STREAM the same daemon writes plain lines to stderr.
"""
import os
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import systemd_harness as h  # noqa: E402


def config(tmp, gone_port, extra=""):
    return """# written by 81-systemd-journal
daemon = {
  control_socket = "%(tmp)s/ctl/control.sock";
  state_dir = "%(tmp)s/state";
  probe_interval = "200ms";
  probe_timeout = "500ms";
%(extra)s};
clusters = (
  {
    name = "edge";
    user = "fo"; password = "pw"; repl_user = "repl"; repl_password = "pw";
    nodes = ( { name = "far"; host = "127.0.0.1"; port = %(port)d; } );
  }
);
""" % {"tmp": tmp, "port": gone_port, "extra": extra}


def body(run):
    if not os.path.exists(h.FAILOVERD):
        raise h.TestFailure("no failoverd at %s (set FAILOVERD_BUILD)" % h.FAILOVERD)
    if not h.built_with_libsystemd():
        print("SKIP: %s is built without libsystemd: it logs to stderr only" % h.FAILOVERD)
        return
    if os.getuid() != 0 or not shutil.which("unshare"):
        print("SKIP: a private mount namespace needs root and unshare(1)")
        return
    tmp = run.tmp
    os.makedirs(os.path.join(tmp, "ctl"))
    jdir = os.path.join(tmp, "journal")
    os.makedirs(jdir)
    journal = run.add(h.JournalListener(jdir))
    cfg = os.path.join(tmp, "failoverd.conf")
    h.write_config(cfg, config(tmp, h.free_port()))

    # /run becomes a private tmpfs, so nothing of the host's /run is touched.
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
               'mount -t tmpfs tmpfs /run; mkdir -p /run/systemd/journal; '
               'mount --bind "$0" /run/systemd/journal; exec "$@"', jdir]
    h.step("starting failoverd with its stderr as the journal stream")
    d = run.add(h.Daemon(tmp, cfg, {}, wrapper=wrapper, journal_stream=True))
    entries = h.wait_for(lambda: [e for e in journal.snapshot() if e.get("EVENT") == "node_down"],
                         10, "a node_down entry in the journal")
    e = entries[0]
    print("   " + " ".join("%s=%r" % kv for kv in sorted(e.items()) if kv[0] != "MESSAGE"))
    h.check(e.get("CLUSTER") == "edge" and e.get("NODE") == "far",
            "node_down carries CLUSTER=edge NODE=far")
    h.check(e.get("PRIORITY") == "4", "node_down is at warning priority (PRIORITY=4)")
    h.check("far" in e.get("MESSAGE", ""), "MESSAGE is the sentence: %s" % e.get("MESSAGE"))
    all_entries = journal.snapshot()
    h.check(all(x.get("SYSLOG_IDENTIFIER") == "failoverd" and "MESSAGE" in x and "PRIORITY" in x
                for x in all_entries),
            "all %d entries have MESSAGE, PRIORITY and SYSLOG_IDENTIFIER=failoverd" % len(all_entries))
    events = [x for x in all_entries if x.get("EVENT")]
    h.check(events and all("CLUSTER" in x and "NODE" in x for x in events),
            "event entries have the CLUSTER and NODE fields (%s)"
            % ", ".join(sorted({x["EVENT"] for x in events})))
    plain = [x for x in all_entries if not x.get("EVENT")]
    h.check(plain and all(not x.get("CLUSTER") for x in plain),
            "plain log lines have no cluster")

    h.step("a reload with a bad file")
    with open(cfg) as f:
        good = f.read()
    h.write_config(cfg, good.replace("probe_interval", "probe_intervall"))
    d.signal(signal.SIGHUP)
    rej = h.wait_for(lambda: [x for x in journal.snapshot() if x.get("EVENT") == "config_rejected"],
                     5, "a config_rejected entry")[0]
    h.check(rej.get("PRIORITY") == "3", "config_rejected is at error priority (PRIORITY=3)")
    h.check("probe_intervall" in rej["MESSAGE"] and (cfg + ":") in rej["MESSAGE"],
            "its MESSAGE names the file, line and setting: %s" % rej["MESSAGE"])
    h.check(d.alive(), "the daemon keeps running")
    d.signal(signal.SIGTERM)
    rc = d.wait_exit(15)
    h.check(rc == 0, "SIGTERM: exit status 0")
    h.check(d.text() == "", "nothing was written to stderr while it was the journal stream")

    h.step("the same daemon without JOURNAL_STREAM")
    h.write_config(cfg, good)
    before = len(journal.snapshot())
    d2 = run.add(h.Daemon(tmp, cfg, {}, wrapper=wrapper))
    h.wait_for(lambda: "event=node_down" in d2.text(), 10, "a node_down line on stderr")
    h.check("cluster=edge node=far event=node_down" in d2.text(),
            "plain stderr lines carry cluster=, node= and event=")
    d2.signal(signal.SIGTERM)
    h.check(d2.wait_exit(15) == 0, "exit status 0")
    h.check(len(journal.snapshot()) == before, "and nothing went to the journal")


if __name__ == "__main__":
    sys.exit(h.main("81-systemd-journal", body))
