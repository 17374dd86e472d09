#!/usr/bin/env python3
"""A cluster example (examples/global_names, examples/available_names) as documented:
it runs to the end, exits 0 and prints each expected line (a substring).

  cluster_example_test.py PROGRAM EXPECTED...

Runs on a private EPMD (Erlang's epmd on a free port), which an Erlang node the
example starts uses too.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PROGRAM, EXPECTED = sys.argv[1], sys.argv[2:]
port = harness.free_port()
env = dict(os.environ, ERL_EPMD_PORT=str(port))
programs = harness.Programs(env)
fail = programs.fail
harness.start_epmd(port, programs.start, fail)
r = subprocess.run([PROGRAM], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                   text=True, encoding="utf-8", errors="replace", timeout=240)
print(r.stdout, end="")
missing = [e for e in EXPECTED if e not in r.stdout]
if r.returncode != 0 or missing:
    fail(f"exit status {r.returncode}, missing {missing}")
programs.end()
print(f"{os.path.basename(PROGRAM)} test ok")
