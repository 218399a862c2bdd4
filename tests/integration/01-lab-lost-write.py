#!/usr/bin/env python3
"""The write checker catches what it is there to catch, on both flavors.

1. Lost writes: semi-sync off, the replicas cut off from the primary while the
   writer goes on writing to it, the primary killed, a replica promoted by
   hand (the replica that has all the other has). verify must report exactly
   the acknowledged ids the new primary lacks: every write sent after the cut,
   and no write the new primary acknowledged.
2. Divergence: the old primary started again holds those rows; verify must
   report them as rows the primary lacks.
3. Split brain: the old primary made writable by hand while the new one takes
   writes; verify must report a window where both were writable."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labkit  # noqa: E402


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def lost_write(flavor):
    with labkit.Lab.up(flavor, 3, name=labkit.unique_name(f"lost-{flavor}")) as lab:
        lab.writer_start(through="vip")
        lab.wait_acks(30, server_id=1)
        # Cut db1 off from both replicas; the client still reaches it.
        lab.partition("db1", frm="db2")
        lab.partition("db1", frm="db3")
        t_cut = int(time.time() * 1e6)
        lab.wait_acks(30, server_id=1)
        lab.kill("db1")
        # Promote the replica that has everything the other has (the two cuts
        # are not one instant: one replica may hold one transaction more).
        new = lab.most_advanced(["db2", "db3"])
        check(new is not None, "one replica must contain the other")
        # Heal only after the promotion: the dead server's kernel still holds
        # binlog data the server had sent into the cut, and would deliver it
        # to a replica that still listens.
        lab.promote(new)            # plain SQL; repoints the other, moves the VIP
        lab.heal()
        sid = new.server_id
        lab.wait_acks(30, server_id=sid)
        v = lab.writer_verify()
        acks = labkit.parse_writer_log(v["log"])["acks"]
        # Sent after the cut: committed after it, so no replica can have it.
        after_cut = {i for t, i, s, lat in acks if s == 1 and t - lat > t_cut}
        by_new = {i for _t, i, s, _l in acks if s == sid}
        lost = set(v["lost"])
        print(f"{flavor}: acked {v['acked']}, lost {len(lost)} ({v['lost_ranges']}), "
              f"sent after the cut {len(after_cut)}, max gap {v['max_gap_ms']} ms")
        check(not v["ok"], "verify should fail")
        check(v["primary"] == new.name, f"primary should be {new.name}: {v['primary']}")
        check(after_cut and after_cut <= lost,
              f"writes sent after the cut must be lost: {sorted(after_cut - lost)[:10]}")
        check(not (lost & by_new), f"no write acknowledged by {new.name} may be lost")
        rows = {int(r["id"]) for r in lab.query(new, "SELECT id FROM lab.writes")}
        check(lost == {a[1] for a in acks if a[1] not in rows},
              f"lost = acknowledged ids {new.name} lacks")
        check(not v["split_brain"], f"no split brain: {v['split_brain']}")
        check(v["divergence"] == {}, f"the other replica should match {new.name}: {v['divergence']}")
        check(v["unreadable"] == ["db1"], f"db1 is dead: {v['unreadable']}")

        # 2. The old primary comes back (read-only, not replicating) with its rows.
        lab.start("db1")
        v2 = lab.writer_verify()
        d = v2["divergence"].get("db1", {})
        check(d.get("extra") == v["lost_ranges"],
              f"db1's extra rows should be the lost ones: {d} vs {v['lost_ranges']}")
        print(f"{flavor}: divergence on db1: {d}")

        # 3. Split brain: db1 made writable while the new primary takes writes.
        lab.writer_start(through="vip")
        lab.wait_acks(20, server_id=sid)
        lab.make_writable("db1")
        labkit.wait_for(lambda: any(p[1] == "db1" and p[2] == "rw" for p in
                                    labkit.parse_writer_log(lab.desc["writer"]["log"])["polls"]),
                        10, what="the writer to see db1 writable")
        lab.wait_acks(10, server_id=sid)
        lab.demote("db1", user="root")
        v3 = lab.writer_verify()
        check(v3["split_brain"] and
              all(set(w["nodes"]) == {"db1", new.name} for w in v3["split_brain"]),
              f"split brain db1+{new.name} expected: {v3['split_brain']}")
        check(not v3["ok"], "verify should fail on split brain")
        print(f"{flavor}: split brain seen: {v3['split_brain'][0]}")


labkit.install_signal_handlers()
failed = 0
for flavor in sys.argv[1:] or labkit.FLAVORS:
    try:
        lost_write(flavor)
        print(f"ok {flavor}")
    except (AssertionError, labkit.LabError) as e:
        failed += 1
        print(f"FAILED {flavor}: {e}")
print(f"lost-write: {2 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
