#!/usr/bin/env python3
"""examples/global_names as documented: a service registered once across two beamline
nodes and an Erlang node moves to the other node when its node is killed.

  global_names_test.py GLOBAL_NAMES

Runs on a private EPMD (Erlang's epmd on a free port), which the Erlang node uses too.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PROGRAM = sys.argv[1]
port = harness.free_port()
env = dict(os.environ, ERL_EPMD_PORT=str(port))
programs = harness.Programs(env)
fail = programs.fail
harness.start_epmd(port, programs.start, fail)
r = subprocess.run([PROGRAM], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   text=True, encoding="utf-8", errors="replace", timeout=240)
print(r.stdout, end="")
expected = ["the clock is served by s", "an Erlang node's global resolves the clock on s",
            "killing s", "the clock moved from s", "the Erlang node now resolves it on s",
            "global_names ok"]
missing = [e for e in expected if e not in r.stdout]
if r.returncode != 0 or missing:
    fail(f"exit status {r.returncode}, missing {missing}")
programs.end()
print("global_names test ok")
