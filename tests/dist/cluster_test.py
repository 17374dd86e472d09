#!/usr/bin/env python3
"""examples/cluster as documented: three beamline nodes share a job queue, one is
killed with SIGKILL and started again, and every job is done once.

  cluster_test.py CLUSTER BEAMLINE_EPMD

Runs on a private EPMD port: the first node finds no EPMD there and starts
beamline-epmd, which this test stops at the end.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CLUSTER, DAEMON = sys.argv[1:3]

port = harness.free_port()
env = dict(os.environ, ERL_EPMD_PORT=str(port))
try:
    r = subprocess.run([CLUSTER, "--jobs", "240"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=240)
    print(r.stdout, end="")
    expected = ["6 workers on 3 nodes are ready", "killing w2_", "is gone: noconnection",
                "is back with 2 workers", "240 of 240 jobs done", "0 answered twice",
                "sampled answers right", "cluster ok"]
    missing = [e for e in expected if e not in r.stdout]
    if r.returncode != 0 or missing:
        print(f"FAIL: exit status {r.returncode}, missing {missing}")
        sys.exit(1)
    print("cluster test ok")
finally:
    subprocess.run([DAEMON, "-kill", "-port", str(port)], env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=10)
