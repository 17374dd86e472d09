#!/usr/bin/env python3
"""The available registry (bl::names::available) across four beamline nodes.

  available_cluster_test.py AVAILABLE_NODE            on loopback
  available_cluster_test.py AVAILABLE_NODE partition  through a real partition
  available_cluster_test.py AVAILABLE_NODE resolver   a resolver of one's own

Each node is an available_node, driven on its standard input; each prints the
registry's events as its subscriber sees them. After every step the test waits until
every node knows the same names, and checks on each node:
  - replaying the events it printed gives exactly the names it knows (every
    subscriber was told of every change);
  - no name is held by a process that has ended;
  - one holder per name (each node's table is a map; the nodes agree).

Loopback: registrations on every node replicate; four nodes register one name at
once and all four agree on one holder (the losers end with {name_conflict, ...});
malformed messages to a scope server are dropped;
a holder killed, a name unregistered, and a node killed with SIGKILL (its names go
with reason {netsplit, Node}).

Resolver: two nodes whose scopes keep the older registration register one name
apart, then connect: the older holder keeps it on both, the newer ends.

Partition (root and iproute2; exits 77, skipped, without them): two network
namespaces joined by a veth pair, b1 and b2 on side A, b3 and b4 on side B, at
net_ticktime 4. The link goes down: each side drops the other side's names and keeps
serving; both sides register `svc` (A held it before the cut), and new names. The
link comes back, the nodes reconnect (each asks to connect to every other until they
agree, as a cluster manager would): `svc` is kept by B's registration (the most
recent), A's holder ends with {name_conflict, svc, ...}, and every node agrees.
"""
import os
import queue
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NODE_PROGRAM = sys.argv[1]
MODE = sys.argv[2] if len(sys.argv) > 2 else "loopback"
TAG = os.getpid()
COOKIE = "available_secret"
TICKTIME = 4


class Node:
    """One available_node: commands on its stdin, every line it prints kept."""

    def __init__(self, programs, name, start, *extra):
        self.name = name
        self.p = start([NODE_PROGRAM, "--name", name, "--cookie", COOKIE,
                        "--net-ticktime", str(TICKTIME), *extra])
        self.lines = queue.Queue()
        self.events = []   # ("registered"|"unregistered"|"conflict", name, id, rest)
        self.downs = {}    # id -> reason
        self.replies = queue.Queue()
        self.log = []      # what it wrote to stderr
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_log, daemon=True).start()
        NODES.append(self)
        self.reply("ready", timeout=30)

    def _read(self):
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line.startswith("event "):
                parts = line.split(" ", 4)
                self.events.append(tuple(parts[1:]))
            elif line.startswith("down "):
                _, ident, reason = line.split(" ", 2)
                self.downs[ident] = reason
            else:
                self.replies.put(line)
        self.replies.put(None)

    def _read_log(self):
        for line in self.p.stderr:
            self.log.append(line.rstrip("\n"))

    def send(self, command):
        self.p.stdin.write(command + "\n")
        self.p.stdin.flush()

    def reply(self, prefix, timeout=20):
        deadline = time.time() + timeout
        while True:
            try:
                line = self.replies.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                fail(f"{self.name}: no {prefix!r} reply in {timeout} s")
            if line is None:
                fail(f"{self.name} ended while waiting for {prefix!r}: {self.log}")
            if line.startswith(prefix):
                return line
            fail(f"{self.name}: expected {prefix!r}, got {line!r}")

    def ask(self, command, prefix=None):
        self.send(command)
        return self.reply(prefix or command.split()[0])

    def dump(self):
        line = self.ask("dump")
        return dict(entry.split("=", 1) for entry in line.split()[1:])

    def replayed(self):
        """The names the events it printed leave, by name."""
        names = {}
        for event in list(self.events):
            kind, name, ident = event[0], event[1], event[2]
            if kind == "registered":
                names[name] = ident
            elif kind == "unregistered" and names.get(name) == ident:
                del names[name]
        return names


programs = None
fail = None
NODES = []


def all_downs(nodes):
    downs = {}
    for n in nodes:
        downs.update(n.downs)
    return downs


def agree(nodes, expected, what, timeout=30, reconnect=False):
    """Waits until every node's names are `expected` (name -> node whose process
    holds it, or name -> exact id) and the checks of the docstring hold; returns the
    common table. With reconnect, each node is asked to connect to every other one
    on every try (as a cluster manager would: `global`'s
    prevent_overlapping_partitions, which every node runs, may cut connections
    again while a heal settles)."""
    deadline = time.time() + timeout
    while True:
        if reconnect:
            for x in nodes:
                for y in nodes:
                    if x is not y:
                        x.ask(f"connect {y.name}", f"connect {y.name} ")
        dumps = [n.dump() for n in nodes]
        ok = all(d == dumps[0] for d in dumps) and set(dumps[0]) == set(expected) and all(
            dumps[0][k].startswith(v + "/") or dumps[0][k] == v for k, v in expected.items())
        if ok:
            replays = [n.replayed() for n in nodes]
            dead = all_downs(nodes)
            if all(r == dumps[0] for r in replays) and not (set(dumps[0].values()) & set(dead)):
                print(f"ok: {what}", flush=True)
                return dumps[0]
        if time.time() > deadline:
            report = "\n".join(f"  {n.name}: names {d}\n    replayed {n.replayed()}\n"
                               f"    {n.ask('nodes')}\n    events {n.events}\n"
                               f"    stderr {n.log[-20:]}"
                               for n, d in zip(nodes, dumps))
            fail(f"{what}: the nodes do not agree on {expected}:\n{report}\n"
                 f"  ended: {all_downs(nodes)}")
        time.sleep(0.2)


def loopback():
    global programs, fail
    epmd_port = harness.free_port()
    env = dict(os.environ, ERL_EPMD_PORT=str(epmd_port))
    programs = harness.Programs(env)
    fail = programs.fail
    harness.start_epmd(epmd_port, programs.start, fail)
    start = lambda args: programs.start(args, stdin=subprocess.PIPE)  # noqa: E731
    names = [f"b{i}-{TAG}@127.0.0.1" for i in range(1, 5)]
    b = [Node(programs, n, start) for n in names]
    for n in b[1:]:
        n.ask(f"connect {names[0]}", f"connect {names[0]} true")
    for i, n in enumerate(b):
        for other in names[i + 1:]:
            n.ask(f"connect {other}", f"connect {other} true")

    for i, n in enumerate(b):
        n.ask(f"register svc{i + 1}", f"register svc{i + 1} yes")
    expected = {f"svc{i + 1}": names[i] for i in range(4)}
    agree(b, expected, "a name registered on each node resolves on all four", reconnect=True)

    for n in b:  # a race: all four at once
        n.send("register race")
    answers = [n.reply("register race") for n in b]
    deadline = time.time() + 30
    while True:
        dumps = [n.dump() for n in b]
        if all(d == dumps[0] for d in dumps) and "race" in dumps[0]:
            break
        if time.time() > deadline:
            fail(f"the race did not settle: {dumps}")
        time.sleep(0.2)
    winner = dumps[0]["race"]
    agree(b, dict(expected, race=winner), f"one holder of `race` everywhere ({winner})")
    yes = [a for a in answers if " yes " in a]
    losers = [a.split()[3] for a in yes if a.split()[3] != winner]
    for loser in losers:
        deadline = time.time() + 10
        while loser not in all_downs(b) and time.time() < deadline:
            time.sleep(0.1)
        downs = all_downs(b)
        if not downs.get(loser, "").startswith("{name_conflict,race,"):
            fail(f"the losing holder {loser} did not end with name_conflict: {downs.get(loser)} "
                 f"events: {[(n.name, n.events) for n in b]}")
    print(f"ok: {len(yes)} of 4 registrations answered yes; the {len(losers)} losers ended "
          "with {name_conflict, race, ...}", flush=True)

    b[2].ask(f"garbage {names[0]}", f"garbage {names[0]} sent")
    b[0].ask("register after_garbage", "register after_garbage yes")
    expected["after_garbage"] = names[0]
    agree(b, dict(expected, race=winner),
          "malformed messages to a scope server are dropped; it goes on replicating")

    b[1].ask("kill svc2", "kill svc2 ")
    del expected["svc2"]
    agree(b, dict(expected, race=winner), "a killed holder's name is gone everywhere")
    b[0].ask("unregister svc1", "unregister svc1 true")
    del expected["svc1"]
    agree(b, dict(expected, race=winner), "an unregistered name is gone everywhere")

    b[3].p.kill()
    b[3].p.wait()
    survivors = b[:3]
    expected.pop("svc4")
    rest = {k: v for k, v in dict(expected, race=winner).items() if not v.startswith(names[3])}
    agree(survivors, rest, "a node killed with SIGKILL: its names are gone from the others",
          timeout=90)
    for n in survivors:
        if not any(e[0] == "unregistered" and e[1] == "svc4" and e[3].startswith("{netsplit,")
                   for e in n.events):
            fail(f"{n.name} was not told svc4 went with reason netsplit: {n.events}")
    print("ok: every survivor was told {netsplit, Node}", flush=True)
    programs.end()
    check_sanitizers()
    print("available cluster: all ok")


def resolver():
    global programs, fail
    epmd_port = harness.free_port()
    programs = harness.Programs(dict(os.environ, ERL_EPMD_PORT=str(epmd_port)))
    fail = programs.fail
    harness.start_epmd(epmd_port, programs.start, fail)
    start = lambda args: programs.start(args, stdin=subprocess.PIPE)  # noqa: E731
    names = [f"r{i}-{TAG}@127.0.0.1" for i in (1, 2)]
    r1, r2 = (Node(programs, n, start, "--resolver", "older") for n in names)
    first = r1.ask("register x", "register x yes").split()[3]  # apart: both get it
    time.sleep(0.05)
    second = r2.ask("register x", "register x yes").split()[3]
    r2.ask(f"connect {names[0]}", f"connect {names[0]} true")
    agree([r1, r2], {"x": first}, "a resolver of one's own keeps the older registration",
          reconnect=True)
    deadline = time.time() + 10
    while second not in r2.downs and time.time() < deadline:
        time.sleep(0.1)
    if not r2.downs.get(second, "").startswith("{name_conflict,x,"):
        fail(f"the newer holder did not end with name_conflict: {r2.downs}")
    print("ok: the newer holder ended with {name_conflict, x, ...}", flush=True)
    programs.end()
    check_sanitizers()
    print("available resolver: all ok")


def partition():
    global programs, fail
    pair = harness.NamespacePair(TAG)
    epmd_port = "4369"
    programs = harness.Programs(dict(os.environ, ERL_EPMD_PORT=epmd_port), cleanup=pair.delete)
    fail = programs.fail
    pair.set_up(programs, epmd_port)

    def node(short):
        addr = pair.addr_a if short in ("b1", "b2") else pair.addr_b
        return f"{short}-{TAG}@{addr}"

    def start_in(ns):
        return lambda args: pair.start_in(programs, ns, args, stdin=subprocess.PIPE)

    b1, b2 = Node(programs, node("b1"), start_in(pair.a)), Node(programs, node("b2"),
                                                                 start_in(pair.a))
    b3, b4 = Node(programs, node("b3"), start_in(pair.b)), Node(programs, node("b4"),
                                                                 start_in(pair.b))
    everyone, side_a, side_b = [b1, b2, b3, b4], [b1, b2], [b3, b4]
    for x, y in ((b1, b2), (b1, b3), (b1, b4), (b2, b3), (b2, b4), (b3, b4)):
        x.ask(f"connect {y.name}", f"connect {y.name} true")
    b1.ask("register svc", "register svc yes")
    b2.ask("register a2", "register a2 yes")
    b3.ask("register b3", "register b3 yes")
    expected = {"svc": node("b1"), "a2": node("b2"), "b3": node("b3")}
    agree(everyone, expected, "one cluster of four nodes; every node resolves every name")

    pair.cut()
    print(f"link {pair.veth_a} down: partitioned", flush=True)
    agree(side_a, {"svc": node("b1"), "a2": node("b2")}, "side A dropped side B's names",
          timeout=60)
    agree(side_b, {"b3": node("b3")}, "side B dropped side A's names", timeout=60)
    for n in everyone:
        if not any(e[0] == "unregistered" and e[3].startswith("{netsplit,") for e in n.events):
            fail(f"{n.name} was not told of the netsplit: {n.events}")

    b4.ask("register svc", "register svc yes")  # out of sight of A's holder
    b2.ask("register a_new", "register a_new yes")
    b4.ask("register b_new", "register b_new yes")
    b1.ask("register a2", "register a2 no")  # each side still refuses its own names
    agree(side_a, {"svc": node("b1"), "a2": node("b2"), "a_new": node("b2")},
          "side A keeps serving")
    agree(side_b, {"svc": node("b4"), "b3": node("b3"), "b_new": node("b4")},
          "side B keeps serving (and registered svc again)")
    a_holder = b1.dump()["svc"]

    pair.heal()
    print(f"link {pair.veth_a} up: healed", flush=True)
    time.sleep(TICKTIME)  # both sides have given the old connections up by now
    agree(everyone, {"svc": node("b4"), "a2": node("b2"), "a_new": node("b2"),
                     "b3": node("b3"), "b_new": node("b4")},
          "after the heal every node agrees; svc is kept by the most recent registration",
          timeout=60, reconnect=True)
    deadline = time.time() + 10
    while a_holder not in b1.downs and time.time() < deadline:
        time.sleep(0.1)
    if not b1.downs.get(a_holder, "").startswith("{name_conflict,svc,"):
        fail(f"side A's svc holder did not end with name_conflict: {b1.downs}")
    for n in side_a:  # (side B never knew A's holder after the cut)
        if not any(e[0] == "unregistered" and e[1] == "svc" and e[2] == a_holder and
                   e[3].startswith("{name_conflict,svc,") for e in n.events):
            fail(f"{n.name} was not told svc's holder lost the conflict: {n.events}")
    print("ok: side A's holder ended with {name_conflict, svc, ...}; side A was told",
          flush=True)
    programs.end()
    check_sanitizers()
    print("available partition: all ok")


def check_sanitizers():
    time.sleep(0.5)  # the readers have the last lines
    reports = [line for n in NODES for line in n.log
               if any(mark in line for mark in harness.SANITIZER_MARKS)]
    if reports:
        print("FAIL: sanitizer reports:\n" + "\n".join(reports))
        sys.exit(1)


try:
    {"loopback": loopback, "partition": partition, "resolver": resolver}[MODE]()
finally:
    if programs:
        programs.end()
