#!/usr/bin/env python3
"""`global` across a mixed cluster: two Erlang nodes running OTP's own global and
beamline nodes (global_names_node) share one name table.

  global_interop_test.py GLOBAL_NAMES_NODE GLOBAL_PEER_ESCRIPT [beamline]

With `beamline`, the two Erlang nodes are beamline nodes too (b5 and b6 in their
places): the same steps on a cluster of four beamline nodes.

On a private EPMD, e1 and e2 (erl) and b1, b2 (beamline) form a cluster; a hidden
Erlang node (global_peer.escript) checks what every node resolves:
  1. names registered on beamline nodes at start resolve on every node;
  2. a name registered on an Erlang node resolves on every node, and one registered
     through a beamline node too; its holder's end unregisters it everywhere;
  2b. malformed global messages to b1's global_name_server are dropped, and it goes on;
  3. a registration race: all four nodes register one name at once: exactly one
     wins, and every node resolves the name to the winner;
  4. b2 is killed (SIGKILL): its names go on every other node;
  5. a merge with a conflict: b3 starts alone holding a name the cluster holds;
     when it connects, the conflict is resolved (random_exit_name): one holder on
     every node, the loser killed.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NODE_PROGRAM, ESCRIPT = sys.argv[1:3]
ONLY_BEAMLINE = sys.argv[3:4] == ["beamline"]
E1, E2 = ("b5", "b6") if ONLY_BEAMLINE else ("e1", "e2")
TAG = str(os.getpid())
COOKIE = "global_secret"
EPMD_PORT = harness.free_port()
ENV = dict(os.environ, ERL_EPMD_PORT=str(EPMD_PORT))
programs = harness.Programs(ENV)
fail, start = programs.fail, programs.start
queries = 0


def name(short):
    return f"{short}-{TAG}@127.0.0.1"


def query(*args, expect):
    """Runs global_peer.escript on a new hidden node; its output must contain expect."""
    global queries
    queries += 1
    env = dict(ENV, ERL_FLAGS=f"-name q{queries}-{TAG}@127.0.0.1 -setcookie {COOKIE} -hidden")
    r = subprocess.run(["escript", ESCRIPT, *args], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
                       timeout=90)
    if r.returncode != 0 or expect not in r.stdout:
        fail(f"{' '.join(args)}: expected {expect!r}, got: {r.stdout}")
    return r.stdout.strip()


def other_node(short, connect=None):
    """e1 and e2: Erlang nodes, or beamline ones (b5, b6) with `beamline`."""
    if ONLY_BEAMLINE:
        return beamline_node(short, *(["--connect", name(connect)] if connect else []))
    return erl_node(short, connect)


def erl_node(short, connect=None):
    code = "receive stop -> ok end."
    if connect:
        code = f"true = net_kernel:connect_node('{name(connect)}'), ok = global:sync(), " + code
    p = start(["erl", "-noshell", "-name", name(short), "-setcookie", COOKIE, "-eval", code])
    return p


def beamline_node(short, *extra):
    p = start([NODE_PROGRAM, "--name", name(short), "--cookie", COOKIE, *extra])
    harness.wait_line(p, "ready", fail)
    return p


def main():
    harness.start_epmd(EPMD_PORT, start, fail)
    other_node(E1)
    query("agree", "nothing", "undefined", name(E1), expect="agree ok")  # E1 is up
    other_node(E2, connect=E1)
    b1 = beamline_node("b1", "--connect", name(E1), "--register", "b1svc")
    b2 = beamline_node("b2", "--connect", name("b1"), "--register", "b2svc")
    everyone = [name(n) for n in (E1, E2, "b1", "b2")]

    query("agree", "b1svc", "defined", *everyone, expect=f"b1svc {name('b1')}")
    query("agree", "b2svc", "defined", *everyone, expect=f"b2svc {name('b2')}")
    print("1 ok: beamline nodes' names resolve on every node", flush=True)

    query("register", name(E2), "esvc", expect="register esvc yes")
    query("agree", "esvc", "defined", *everyone, expect=f"esvc {name(E2)}")
    query("register", name("b1"), "esvc", expect="register esvc no")
    query("register", name("b2"), "late", expect="register late yes")
    query("agree", "late", "defined", *everyone, expect=f"late {name('b2')}")
    query("die", "late", name(E1), expect="die ok died")
    query("agree", "late", "undefined", *everyone, expect="agree ok")
    print("2 ok: registrations from either kind of node resolve everywhere", flush=True)

    query("garbage", name("b1"), expect="garbage ok")
    query("agree", "esvc", "defined", *everyone, expect=f"esvc {name(E2)}")
    query("register", name("b1"), "after_garbage", expect="register after_garbage yes")
    query("agree", "after_garbage", "defined", *everyone, expect=f"after_garbage {name('b1')}")
    print("2b ok: malformed global messages are dropped; the node's global goes on",
          flush=True)

    out = query("race", "raced", *everyone, expect="race ok")
    print(f"3 ok: a registration race has one winner ({out.split()[-1]})", flush=True)

    b2.kill()
    b2.wait(timeout=10)
    survivors = [name(n) for n in (E1, E2, "b1")]
    query("agree", "b2svc", "undefined", *survivors, expect="agree ok")
    print("4 ok: a killed node's names go", flush=True)

    b3 = beamline_node("b3", "--register", "b1svc")
    query("connect", name("b3"), name(E1), expect="connect ok")
    merged = survivors + [name("b3")]
    query("agree", "b1svc", "defined", *merged, expect=f"b1svc {name('b1')}")
    if b3.poll() is not None:
        fail(f"b3 ended: {b3.stderr.read()}")
    print("5 ok: a conflict on merge leaves one holder", flush=True)

    programs.end()
    reports = harness.sanitizer_reports(programs.started)
    if reports:
        fail(f"sanitizer reports: {reports}")
    print("global interop: all ok" + (" (four beamline nodes)" if ONLY_BEAMLINE else ""))


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - report anything, then clean up
        fail(repr(e))
