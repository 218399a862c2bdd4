#!/usr/bin/env python3
"""The VIP plugin's switchover and failover of 40-vip-mariadb, on MySQL."""
import importlib.util
import os

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("vip40", os.path.join(here, "40-vip-mariadb.py"))
vip40 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vip40)

vip40.fokit.run_main(lambda: vip40.scenario("mysql"))
