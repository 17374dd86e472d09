#!/usr/bin/env python3
"""beamline-epmd against raw sockets, its own client modes, and real Erlang.

  epmd_test.py BEAMLINE_EPMD

Every daemon listens on 127.0.0.1 on a free port; the host's epmd on 4369 is never
touched. Checks, in order:
  1. protocol: ALIVE2 (X reply with a non-zero creation, the old reply for version
     5, a taken name refused), PORT_PLEASE2 (all fields back; unknown -> 119 1),
     NAMES, DUMP, a registration freed when its connection closes;
  2. robustness: length 0, an oversized length, a truncated frame, an unknown
     request, garbage, a bad ALIVE2 and a client that never speaks close that
     client only, and the daemon keeps serving; past the connection cap the oldest
     idle client makes room, registered nodes stay;
  3. clients: `beamline-epmd -names` and Erlang's own `epmd -names` list the nodes;
  4. real Erlang nodes register with the daemon, list themselves with
     net_adm:names(), and find each other through it (net_adm:ping);
  5. KILL is refused while nodes are registered, then honoured; -daemon returns
     only once the port answers, a second -daemon is harmless, a foreground start
     on a taken port fails clearly, -stop and -kill work.
The Erlang checks are skipped, with a note, when erl or epmd is not installed.
"""
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BINARY = os.path.abspath(sys.argv[1])
TAG = str(os.getpid())
COOKIE = "epmd_test_secret"
processes = []  # every process started here, ended by cleanup()
daemon_commands = []  # argv of each -daemon started here (they detach from us)


class failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise failure(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def frame(body):
    return struct.pack(">H", len(body)) + body


def read_all(sock):
    """Everything until the daemon closes the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def request(port, body):
    """One request on its own connection; the whole reply."""
    with connect(port) as s:
        s.sendall(frame(body))
        return read_all(s)


def alive2_body(name, port, highest=6, lowest=5, extra=b"", node_type=77):
    name = name.encode()
    return (struct.pack(">BHBBHHH", 120, port, node_type, 0, highest, lowest, len(name)) +
            name + struct.pack(">H", len(extra)) + extra)


def register(port, name, node_port, **fields):
    """ALIVE2 on a connection left open; returns (socket, reply bytes)."""
    s = connect(port)
    s.sendall(frame(alive2_body(name, node_port, **fields)))
    reply = b""
    expected = 6 if fields.get("highest", 6) >= 6 else 4
    while len(reply) < expected:
        chunk = s.recv(expected - len(reply))
        check(chunk, f"ALIVE2 {name}: the connection closed after {reply!r}")
        reply += chunk
    return s, reply


def port_please(port, name):
    return request(port, b"\x7a" + name.encode())


def names(port):
    reply = request(port, b"\x6e")
    check(len(reply) >= 4 and struct.unpack(">I", reply[:4])[0] == port,
          f"NAMES reply does not start with the port {port}: {reply!r}")
    return reply[4:].decode()


def wait_until(predicate, what, seconds=5):
    deadline = time.monotonic() + seconds
    while not predicate():
        check(time.monotonic() < deadline, f"timed out waiting until {what}")
        time.sleep(0.02)


def port_refuses(port):
    try:
        with connect(port):
            return False
    except OSError:
        return True


def run(command, timeout=10, **options):
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **options)


def start_foreground(port, *options, descriptor_limit=None):
    limit_descriptors = None
    if descriptor_limit is not None:
        def limit_descriptors():
            resource.setrlimit(resource.RLIMIT_NOFILE, (descriptor_limit, descriptor_limit))
    daemon = subprocess.Popen([BINARY, "-port", str(port), "-address", "127.0.0.1", *options],
                              preexec_fn=limit_descriptors)
    processes.append(daemon)
    wait_until(lambda: daemon.poll() is not None or not port_refuses(port),
               f"beamline-epmd listens on {port}")
    check(daemon.poll() is None, f"beamline-epmd exited with status {daemon.returncode}")
    return daemon


def check_protocol(port):
    foo, reply = register(port, "foo", 12345, extra=b"xy")
    tag, result, creation = struct.unpack(">BBI", reply)
    check((tag, result) == (118, 0), f"ALIVE2 foo: expected 118 0, got {reply!r}")
    check(creation != 0, "ALIVE2 foo: creation 0")

    second, reply = register(port, "foo", 4242)
    check(reply[:2] == b"\x76\x01", f"second ALIVE2 foo: expected 118 1, got {reply!r}")
    check(read_all(second) == b"", "the refused ALIVE2 connection is closed")
    second.close()

    bar, reply = register(port, "bar", 2000)
    check(reply[:2] == b"\x76\x00" and reply[2:] != b"\0\0\0\0", f"ALIVE2 bar: {reply!r}")
    check(struct.unpack(">I", reply[2:])[0] != creation, "bar got foo's creation")
    old, reply = register(port, "old", 3000, highest=5, lowest=5)
    check(reply[:2] == b"\x79\x00" and 1 <= struct.unpack(">H", reply[2:])[0] <= 3,
          f"ALIVE2 with version 5: expected 121 0 and a creation 1-3, got {reply!r}")

    expected = (b"\x77\x00" + struct.pack(">HBBHHH", 12345, 77, 0, 6, 5, 3) + b"foo" +
                struct.pack(">H", 2) + b"xy")
    got = port_please(port, "foo")
    check(got == expected, f"PORT_PLEASE2 foo: expected {expected!r}, got {got!r}")
    check(port_please(port, "nobody") == b"\x77\x01", "PORT_PLEASE2 of an unknown name")
    check(port_please(port, "") == b"\x77\x01", "PORT_PLEASE2 of an empty name")

    listing = names(port)
    for line in ["name foo at port 12345\n", "name bar at port 2000\n", "name old at port 3000\n"]:
        check(line in listing, f"NAMES lacks {line!r}: {listing!r}")
    dump = request(port, b"\x64")[4:].decode()
    check("<foo> at port 12345" in dump, f"DUMP lacks foo: {dump!r}")

    # STOP needs -relaxed_command_check; KILL is refused while nodes are registered.
    check(request(port, b"\x73foo") == b"", "STOP without -relaxed_command_check")
    check(request(port, b"\x6b") == b"NO", "KILL while nodes are registered")

    bar.close()
    old.close()
    wait_until(lambda: port_please(port, "bar") == b"\x77\x01", "bar is unregistered")
    check("bar" not in names(port), "NAMES still lists bar")
    check(port_please(port, "foo") == expected, "closing bar's connection touched foo")
    return foo


def check_malformed(port):
    def closed_without_reply(data, what):
        with connect(port) as s:
            s.sendall(data)
            got = read_all(s)
        check(got == b"", f"{what}: expected the connection closed, got {got!r}")

    closed_without_reply(b"\x00\x00", "length 0")
    closed_without_reply(b"\x10\x00" + b"\x6e" * 8, "length 4096 (over the limit)")
    closed_without_reply(frame(b"\x63"), "unknown request 99")
    closed_without_reply(frame(b"\xff" * 40), "garbage")
    closed_without_reply(frame(alive2_body("x", 1)[:9]), "ALIVE2 cut short")
    bad_length = bytearray(alive2_body("abc", 1))
    bad_length[10] = 200  # Nlen past the frame's end
    closed_without_reply(frame(bytes(bad_length)), "ALIVE2 name past the frame")
    bad_name = alive2_body("abc", 1).replace(b"abc", b"a\xffc")
    closed_without_reply(frame(bad_name), "ALIVE2 with a name that is not UTF-8")

    with connect(port) as s:  # a frame announced long, a few bytes, then gone
        s.sendall(b"\xff\xff\x78\x01")
    with connect(port) as s:  # half a length
        s.sendall(b"\x00")
    check("name foo at port 12345\n" in names(port), "the daemon lost foo")


def check_idle_client_dropped():
    port = free_port()
    daemon = start_foreground(port, "-packet_timeout", "1")
    try:
        with connect(port) as idle:
            idle.settimeout(5)
            started = time.monotonic()
            check(read_all(idle) == b"", "the idle client got data")
            waited = time.monotonic() - started
        check(0.5 < waited < 4, f"the idle client was dropped after {waited:.1f} s, not ~1 s")
        with connect(port) as partial:  # a request that never ends
            partial.settimeout(5)
            partial.sendall(b"\x00\x05\x7a")
            check(read_all(partial) == b"", "the partial request got data")
        check(names(port) == "", "the daemon serves after dropping idle clients")
    finally:
        daemon.kill()
        daemon.wait()


def check_connection_cap():
    """With 64 descriptors the daemon serves at most 48 connections: idle ones beyond
    that are evicted oldest first, registered ones never."""
    port = free_port()
    daemon = start_foreground(port, descriptor_limit=64)
    idle = []
    try:
        nodes = [register(port, f"n{i}", 1000 + i)[0] for i in range(5)]
        for _ in range(100):
            idle.append(connect(port))
        listing = names(port)
        for i in range(5):
            check(f"name n{i} at port {1000 + i}\n" in listing, f"n{i} lost: {listing!r}")
        idle[0].settimeout(5)
        check(read_all(idle[0]) == b"", "the oldest idle connection was not evicted")
        for node in nodes:
            node.close()
    finally:
        for s in idle:
            s.close()
        daemon.kill()
        daemon.wait()


def check_clients(port):
    out = run([BINARY, "-names", "-port", str(port)])
    check(out.returncode == 0, f"beamline-epmd -names: status {out.returncode} {out.stderr}")
    check(out.stdout.startswith(f"epmd: up and running on port {port} with data:\n") and
          "name foo at port 12345" in out.stdout, f"beamline-epmd -names printed {out.stdout!r}")
    if shutil.which("epmd") is None:
        print("note: no epmd installed; Erlang's epmd client not checked")
        return
    out = run(["epmd", "-port", str(port), "-names"])
    check(out.returncode == 0 and "name foo at port 12345" in out.stdout,
          f"epmd -port {port} -names: status {out.returncode}, printed {out.stdout!r}")


def check_erlang_nodes(port):
    if shutil.which("erl") is None:
        print("note: no erl installed; Erlang nodes not checked")
        return
    environment = dict(os.environ, ERL_EPMD_PORT=str(port))
    first = f"epmd_t1_{TAG}"
    second = f"epmd_t2_{TAG}"
    erl = ["erl", "-noshell", "-start_epmd", "false", "-setcookie", COOKIE]
    with tempfile.TemporaryDirectory() as directory:  # where a crash dump would land
        node = subprocess.Popen(
            erl + ["-name", f"{first}@127.0.0.1", "-eval",
                   'io:format("~p~n", [net_adm:names()]), timer:sleep(20000), halt().'],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
            cwd=directory)
        processes.append(node)
        wait_until(lambda: node.poll() is not None or port_please(port, first) != b"\x77\x01",
                   f"{first} registers", seconds=20)
        if node.poll() is not None:
            raise failure(f"{first} exited: {node.stdout.read()}")
        ping = run(erl + ["-name", f"{second}@127.0.0.1", "-eval",
                          f"io:format(\"~p~n\", [net_adm:ping('{first}@127.0.0.1')]), "
                          f"rpc:call('{first}@127.0.0.1', erlang, halt, []), halt()."],
                   timeout=20, env=environment, cwd=directory)
        check(ping.stdout.strip() == "pong",
              f"{second} pinging {first} through the daemon: {ping.stdout!r} {ping.stderr!r}")
        try:
            output, _ = node.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            raise failure(f"{first} did not halt")
        check(f'"{first}"' in output, f"{first}'s net_adm:names() lacks it: {output!r}")
    wait_until(lambda: port_please(port, first) == b"\x77\x01", f"{first} is unregistered")


def find_processes(command):
    """Pids whose command line is exactly `command` (a detached daemon of ours)."""
    wanted = "\0".join(command) + "\0"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline") as f:
                    if f.read() == wanted:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def check_daemon_mode():
    port = free_port()
    command = [BINARY, "-daemon", "-port", str(port), "-address", "127.0.0.1",
               "-relaxed_command_check"]
    daemon_commands.append(command)
    out = run(command)
    check(out.returncode == 0, f"-daemon: status {out.returncode} {out.stderr}")
    check(names(port) == "", "the port answers as soon as -daemon returns")

    again = run(command)
    check(again.returncode == 0 and again.stderr == "",
          f"a second -daemon on the port: status {again.returncode} {again.stderr!r}")
    taken = run([BINARY, "-port", str(port), "-address", "127.0.0.1"])
    check(taken.returncode == 1 and "already in use" in taken.stderr,
          f"a foreground start on a taken port: status {taken.returncode} {taken.stderr!r}")

    node, _ = register(port, "baz", 777)
    stop = run([BINARY, "-stop", "baz", "-port", str(port)])
    check(stop.stdout == "STOPPED\n", f"-stop baz: {stop.stdout!r}")
    node.settimeout(5)
    check(read_all(node) == b"", "-stop closes the node's connection")
    node.close()
    stop = run([BINARY, "-stop", "baz", "-port", str(port)])
    check(stop.stdout == "NOEXIST\n", f"-stop baz again: {stop.stdout!r}")

    kill = run([BINARY, "-kill", "-port", str(port)])
    check(kill.returncode == 0 and kill.stdout == "Killed\n", f"-kill: {kill.stdout!r}")
    wait_until(lambda: port_refuses(port), "the killed daemon releases the port")
    wait_until(lambda: not find_processes(command), "the killed daemon exits")
    out = run([BINARY, "-names", "-port", str(port)])
    check(out.returncode == 1 and "Cannot connect" in out.stderr,
          f"-names without a daemon: status {out.returncode} {out.stderr!r}")


def cleanup():
    harness.end_all(processes)
    for command in daemon_commands:
        for pid in find_processes(command):
            os.kill(pid, signal.SIGKILL)


def main():
    port = free_port()
    try:
        daemon = start_foreground(port)
        foo = check_protocol(port)
        print("ok protocol")
        check_malformed(port)
        print("ok malformed requests")
        check_idle_client_dropped()
        print("ok idle clients dropped")
        check_connection_cap()
        print("ok connection cap")
        check_clients(port)
        print("ok -names clients")
        check_erlang_nodes(port)
        print("ok Erlang nodes")
        foo.close()
        wait_until(lambda: port_please(port, "foo") == b"\x77\x01", "foo is unregistered")
        check(request(port, b"\x6b") == b"OK", "KILL with no node registered")
        daemon.wait(timeout=5)
        check(daemon.returncode == 0, f"after KILL: status {daemon.returncode}")
        print("ok kill")
        check_daemon_mode()
        print("ok -daemon, -stop, -kill")
    except (failure, subprocess.TimeoutExpired, OSError) as e:
        print(f"FAIL: {e}", flush=True)
        cleanup()
        sys.exit(1)
    cleanup()
    print("epmd_test: all passed")


main()
