#!/usr/bin/env python3
"""`global` and `pg` through a real network partition and its heal, in a mixed cluster.

  global_partition_test.py GLOBAL_NAMES_NODE GLOBAL_PEER_ESCRIPT [beamline]

With `beamline`, e1 and e2 are beamline nodes too (b5 and b6): four beamline nodes.

Two network namespaces joined by a veth pair (harness.NamespacePair), each with its
own EPMD: side A runs e1 (erl) and b1 (global_names_node, holding `svc` and
`a_only`), side B runs b2 (holding `b_only`) and e2. All four form one cluster
(net_ticktime 4 everywhere), and each node has one member in pg's group `workers`
(default scope). Then the link goes down:
  1. each side drops the other side's names and pg members once the ticks stop;
  2. side B registers `svc` again (its holder is out of sight), as an available
     side of a partition may;
  3. the link comes back and b2 connects to b1: global's exchange resolves the
     conflict over `svc` (random_exit_name keeps the holder on the node whose name
     sorts first, b1, and kills the other), so that after the heal every node
     resolves every name to one live process, and every node sees the four
     members of `workers` again.
Checks run on hidden Erlang nodes (global_peer.escript) in the namespaces.

Needs root and iproute2; prints a reason and exits 77 (skipped) without them.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NODE_PROGRAM, ESCRIPT = sys.argv[1:3]
ONLY_BEAMLINE = sys.argv[3:4] == ["beamline"]
E1, E2 = ("b5", "b6") if ONLY_BEAMLINE else ("e1", "e2")
TAG = os.getpid()
PAIR = harness.NamespacePair(TAG)
EPMD_PORT = "4369"
TICKTIME = 4
COOKIE = "global_partition_secret"
queries = 0


programs = harness.Programs(dict(os.environ, ERL_EPMD_PORT=EPMD_PORT), cleanup=PAIR.delete)
fail, cleanup = programs.fail, programs.end


def in_ns(ns, args, env=None):
    return PAIR.start_in(programs, ns, args, env)


def node(short):
    addr = PAIR.addr_a if short in (E1, "b1") else PAIR.addr_b
    return f"{short}-{TAG}@{addr}"


def query(ns, *args, expect):
    """global_peer.escript on a new hidden node in namespace ns."""
    global queries
    queries += 1
    addr = PAIR.addr_a if ns == PAIR.a else PAIR.addr_b
    flags = (f"-name q{queries}-{TAG}@{addr} -setcookie {COOKIE} -hidden "
             f"-kernel net_ticktime {TICKTIME}")
    r = subprocess.run(["ip", "netns", "exec", ns, "escript", ESCRIPT, *args],
                       env=dict(os.environ, ERL_EPMD_PORT=EPMD_PORT, ERL_FLAGS=flags),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       encoding="utf-8", errors="replace", timeout=90)
    if r.returncode != 0 or expect not in r.stdout:
        fail(f"{' '.join(args)}: expected {expect!r}, got: {r.stdout}")
    return r.stdout.strip()


def other_node(ns, short, connect=None):
    """e1 and e2: Erlang nodes, or beamline ones (b5, b6) with `beamline`."""
    if ONLY_BEAMLINE:
        return beamline_node(ns, short, "--join", "pg:workers",
                             *(["--connect", node(connect)] if connect else []))
    return erl_node(ns, short, connect)


def erl_node(ns, short, connect=None):
    # Each node runs the default pg scope with one member of `workers` (as the
    # beamline nodes do with --join pg:workers).
    code = ("{ok, _} = pg:start_link(), "
            "ok = pg:join(workers, spawn(fun() -> receive stop -> ok end end)), "
            "receive stop -> ok end.")
    if connect:
        code = f"true = net_kernel:connect_node('{node(connect)}'), ok = global:sync(), " + code
    return in_ns(ns, ["erl", "-noshell", "-name", node(short), "-setcookie", COOKIE,
                      "-kernel", "net_ticktime", str(TICKTIME), "-eval", code])


def beamline_node(ns, short, *extra):
    p = in_ns(ns, [NODE_PROGRAM, "--name", node(short), "--cookie", COOKIE,
                   "--net-ticktime", str(TICKTIME), *extra])
    harness.wait_line(p, "ready", fail)
    return p


def main():
    PAIR.set_up(programs, EPMD_PORT)

    other_node(PAIR.a, E1)
    query(PAIR.a, "agree", "nothing", "undefined", node(E1), expect="agree ok")  # E1 is up
    beamline_node(PAIR.a, "b1", "--connect", node(E1), "--register", "svc", "--register",
                  "a_only", "--join", "pg:workers")
    beamline_node(PAIR.b, "b2", "--connect", node("b1"), "--register", "b_only", "--join",
                  "pg:workers")
    other_node(PAIR.b, E2, connect="b1")
    side_a, side_b = [node(E1), node("b1")], [node("b2"), node(E2)]
    everyone = side_a + side_b
    for name, holder in (("svc", "b1"), ("a_only", "b1"), ("b_only", "b2")):
        query(PAIR.a, "agree", name, "defined", *everyone, expect=f"{name} {node(holder)}")
    query(PAIR.a, "members", "pg", "workers", "4", *everyone, expect="members ok 4")
    print("0 ok: one cluster of four nodes; every node resolves every name and sees the "
          "four members of pg's `workers`", flush=True)

    PAIR.cut()
    print(f"link {PAIR.veth_a} down: partitioned", flush=True)
    for name in ("svc", "a_only"):
        query(PAIR.b, "agree", name, "undefined", *side_b, expect="agree ok")
    query(PAIR.a, "agree", "b_only", "undefined", *side_a, expect="agree ok")
    query(PAIR.a, "agree", "svc", "defined", *side_a, expect=f"svc {node('b1')}")
    query(PAIR.a, "members", "pg", "workers", "2", *side_a, expect="members ok 2")
    query(PAIR.b, "members", "pg", "workers", "2", *side_b, expect="members ok 2")
    print("1 ok: each side dropped the other side's names and pg members", flush=True)

    query(PAIR.b, "register", node("b2"), "svc", expect="register svc yes")
    query(PAIR.b, "agree", "svc", "defined", *side_b, expect=f"svc {node('b2')}")
    print("2 ok: side B registered svc again", flush=True)

    PAIR.heal()
    print(f"link {PAIR.veth_a} up: healed", flush=True)
    time.sleep(TICKTIME)  # both sides have given the old connections up by now
    query(PAIR.b, "connect", node("b2"), node("b1"), expect="connect ok")
    for name, holder in (("svc", "b1"), ("a_only", "b1"), ("b_only", "b2")):
        query(PAIR.a, "agree", name, "defined", *everyone, expect=f"{name} {node(holder)}")
    query(PAIR.a, "members", "pg", "workers", "4", *everyone, expect="members ok 4")
    print("3 ok: after the heal one holder per name on every node (svc kept on b1), and "
          "every node sees the four members of `workers` again", flush=True)
    cleanup()
    print("global partition: all ok" + (" (four beamline nodes)" if ONLY_BEAMLINE else ""))


try:
    main()
finally:
    cleanup()
