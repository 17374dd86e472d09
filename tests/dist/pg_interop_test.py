#!/usr/bin/env python3
"""pg across nodes: two beamline nodes (pg_node) and a real Erlang node running OTP's
pg in one scope.

  pg_interop_test.py PG_NODE PG_PEER_ESCRIPT

On a private EPMD (Erlang's epmd on a free port):
  1. beamline to beamline: b1 starts two members of `workers`, b2 connects to it and
     starts one; each sees all three;
  2. an Erlang node runs pg beside them (pg_peer.escript interop): it sees the
     beamline members, joins a process twice (b1 sees it twice), gets a scope
     monitor's notification for a member b1 adds, and sees members leave when they
     end on either side;
  3. b1 is killed (SIGKILL): the Erlang node and b2 drop its members.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PG_NODE, ESCRIPT = sys.argv[1:3]
TAG = str(os.getpid())
COOKIE = "pg_secret"
EPMD_PORT = harness.free_port()
ENV = dict(os.environ, ERL_EPMD_PORT=str(EPMD_PORT))
programs = harness.Programs(ENV)
fail, start = programs.fail, programs.start


def name(short):
    return f"{short}-{TAG}@127.0.0.1"


def erl_env(short):
    return dict(ENV, ERL_FLAGS=f"-name {name(short)} -setcookie {COOKIE}")


def escript(short, *args, timeout=60):
    r = subprocess.run(["escript", ESCRIPT, *args], env=erl_env(short), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                       timeout=timeout)
    return r.returncode, r.stdout


def pg_node(short, *extra):
    p = start([PG_NODE, "--name", name(short), "--cookie", COOKIE, *extra])
    harness.wait_line(p, "ready", fail)
    return p


def main():
    harness.start_epmd(EPMD_PORT, start, fail)

    b1 = pg_node("b1", "--join", "workers", "--join", "workers")
    pg_node("b2", "--connect", name("b1"), "--join", "workers")
    for node in ("b1", "b2"):
        rc, out = escript(f"q1{node}", "count", name(node), "workers", "3")
        if rc != 0 or "count ok" not in out:
            fail(f"1: {node} does not see the 3 beamline members: {out}")
    print("1 ok: two beamline nodes share the scope", flush=True)

    erl = subprocess.Popen(["escript", ESCRIPT, "interop", name("b1"), "3"], env=erl_env("e1"),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                           errors="replace")
    programs.started.append(erl)
    harness.wait_line(erl, "phase1 ok", fail, timeout=90)
    print("2 ok: an Erlang node's pg and beamline's are one scope", flush=True)

    b1.kill()
    b1.wait(timeout=10)
    harness.wait_line(erl, "cleanup ok", fail, timeout=60)
    rc, out = escript("q2", "count", name("b2"), "workers", "1")
    if rc != 0 or "count ok" not in out:
        fail(f"3: b2 still lists b1's members: {out}")
    print("3 ok: a killed node's members leave on every node", flush=True)
    programs.end()
    print("pg interop: all ok")


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - report anything, then clean up
        fail(repr(e))
