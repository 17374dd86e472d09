#!/usr/bin/env python3
"""A real network partition between two nodes: ticks, not a closed socket, tell.

  partition_test.py ECHO_NODE DIST_PROBE ERL_PEER_ESCRIPT

Two network namespaces joined by a veth pair (10.213.N.1 and 10.213.N.2), each with
its own EPMD. echo_node runs in the first; in the second, dist_probe links to and
monitors a child of echo_node and monitors its node, and an Erlang node does the same
(erl_peer.escript watch). Then the link goes down (`ip link set ... down`): no FIN,
no RST, the packets just stop, as when a cable is cut. With net_ticktime 4 on every
node, both watchers must see noconnection on their link and monitor and
{nodedown, Node} after the ticks stop (not at once, and within the tick timeout
plus slack), and echo_node must log the loss of both connections. After the link
comes back, a new dist_probe from the second namespace reaches echo_node again.

Needs root and iproute2; prints a reason and exits 77 (skipped) without them.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ECHO_NODE, PROBE, ESCRIPT = sys.argv[1:4]
TAG = os.getpid()
PAIR = harness.NamespacePair(TAG)
NS_A, NS_B = PAIR.a, PAIR.b
ADDR_A, ADDR_B = PAIR.addr_a, PAIR.addr_b
EPMD_PORT = "4369"
TICKTIME = 4
COOKIE = "partition_secret"
programs = harness.Programs(dict(os.environ, ERL_EPMD_PORT=EPMD_PORT), cleanup=PAIR.delete)
fail, cleanup = programs.fail, programs.end


def in_ns(ns, args, env=None):
    return PAIR.start_in(programs, ns, args, env)


def wait_line(p, text, timeout=30):
    return harness.wait_line(p, text, fail, timeout)


def main():
    PAIR.set_up(programs, EPMD_PORT)

    ticks = ["--net-ticktime", str(TICKTIME)]
    a = f"a{TAG}@{ADDR_A}"
    echo = in_ns(NS_A, [ECHO_NODE, "--name", a, "--cookie", COOKIE] + ticks)
    wait_line(echo, "is up")

    probe = in_ns(NS_B, [PROBE, "--name", f"b{TAG}@{ADDR_B}", "--cookie", COOKIE, "--peer", a,
                         "--watch"] + ticks)
    wait_line(probe, "watching")
    erl_flags = f"-name e{TAG}@{ADDR_B} -setcookie {COOKIE} -kernel net_ticktime {TICKTIME}"
    erl = in_ns(NS_B, ["escript", ESCRIPT, "watch", a], env={"ERL_FLAGS": erl_flags})
    wait_line(erl, "watching")

    cut = time.time()
    PAIR.cut()
    print(f"link {PAIR.veth_a} down: partitioned")
    for who, p in (("dist_probe", probe), ("the Erlang node", erl)):
        lines = wait_line(p, "watch ok", timeout=TICKTIME * 3 + 10)
        took = time.time() - cut
        print("\n".join(lines))
        # A tick timeout, not a closed socket: not at once, and about net_ticktime.
        if took < 1 or took > TICKTIME * 2 + 4:
            fail(f"{who} saw the partition after {took:.1f} s; net_ticktime is {TICKTIME} s")
        print(f"ok {who} saw the partition after {took:.1f} s (net_ticktime {TICKTIME} s)")

    PAIR.heal()
    print(f"link {PAIR.veth_a} up: healed")
    time.sleep(TICKTIME)  # echo_node's side has given the old connections up by now
    probe2 = in_ns(NS_B, [PROBE, "--name", f"c{TAG}@{ADDR_B}", "--cookie", COOKIE, "--peer", a]
                   + ticks)
    lines = wait_line(probe2, "probe ok", timeout=60)
    print(f"ok after the heal a new node reaches {a} ({len(lines)} checks)")

    echo.kill()
    echo.wait()
    log = echo.stderr.read()
    for peer in (f"b{TAG}@{ADDR_B}", f"e{TAG}@{ADDR_B}"):
        if f"connection to {peer} closed" not in log:
            fail(f"echo_node did not log losing {peer}: {log!r}")
    print("ok echo_node logged losing both peers")
    cleanup()
    print("partition ok")


try:
    main()
finally:
    cleanup()
