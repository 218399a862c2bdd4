#!/usr/bin/env python3
"""The lab works for every flavor (MariaDB 10.11, MySQL 9.7, MariaDB 11.8): `lab selftest` (up, replication and access
checks, a switchover by plain SQL under the write checker, verify, down with
nothing left), within the lab's time targets for bringing a cluster up."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
import labkit  # noqa: E402

# Once the chroots and templates are cached: 3-node MariaDB < 10 s, MySQL < 30 s.
UP_LIMIT_S = {"mariadb": 10, "mysql": 30, "mariadb11": 10}

labkit.install_signal_handlers()
failed = 0
flavors = sys.argv[1:] or labkit.ALL_FLAVORS
for flavor in flavors:
    try:
        t = labkit.selftest(flavor)
        if t["up_s"] > UP_LIMIT_S[flavor]:
            raise labkit.LabError(f"{flavor} lab took {t['up_s']} s to come up "
                                  f"(target {UP_LIMIT_S[flavor]} s)")
        print(f"ok {flavor}: {t}")
    except labkit.LabError as e:
        failed += 1
        print(f"FAILED {flavor}: {e}")
print(f"selftest: {len(flavors) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
