#!/usr/bin/env python3
"""Distribution interop: beamline nodes and real Erlang nodes in one cluster.

  interop_test.py ECHO_NODE DIST_PROBE ERL_PEER_ESCRIPT

Runs on a private EPMD (Erlang's own epmd on a free port, ERL_EPMD_PORT for every
node), with node names unique to this run:
  1. an Erlang node drives echo_node (the acceptor's handshake): ping, echo of every
     term type, gen_server calls, links, monitors, exit signals (erl_peer.escript
     client);
  2. an Erlang node with the wrong cookie is refused (pang), logged, and the
     beamline node keeps serving;
  3. dist_probe (a beamline node, the initiator's handshake) checks a second
     echo_node: beamline to beamline;
  4. dist_probe checks a real Erlang node serving the same contract;
  5. kill -9 of either side: the survivor's links and monitors across the
     connection end with noconnection, and it gets nodedown;
  6. a node started where no EPMD answers starts beamline-epmd (from its own
     directory) and registers with it; an Erlang node finds it there;
  7. examples/elixir_service from an Erlang node: rpc, calls, a crash and the
     supervisor's restart;
  8. connect_all: dist_probe connects in turn to two beamline nodes and an Erlang
     node that know nothing of each other, and all four end up in a full mesh; a
     hidden dist_probe is in the Erlang node's nodes(hidden) only, and no mesh
     follows it;
  9. back-pressure: dist_probe (one scheduler) floods a beamline node stopped with
     SIGSTOP; its sender must stop short with memory bounded while its other
     process runs on, and finish once the node is resumed;
  10. an Erlang node started without a name (-name undefined@127.0.0.1) connects
     to echo_node, which names it (the `named:` status) and serves it.
Process aliases are checked in 1 and 4 (late replies dropped both ways, ALIAS_SEND
both ways).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ECHO_NODE, PROBE, ESCRIPT = sys.argv[1:4]
TAG = str(os.getpid())
COOKIE = "interop_secret"
procs = []


EPMD_PORT = harness.free_port()
ENV = dict(os.environ, ERL_EPMD_PORT=str(EPMD_PORT))


def fail(message):
    print("FAIL:", message, flush=True)
    cleanup()
    sys.exit(1)


def cleanup():
    harness.end_all(procs)


def start(args, env=ENV, stdin=subprocess.DEVNULL):
    p = subprocess.Popen(args, env=env, stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         encoding="utf-8", errors="replace")
    procs.append(p)
    return p


def wait_line(p, text, timeout=30):
    return harness.wait_line(p, text, fail, timeout)


def erl_env(name, cookie=COOKIE):
    return dict(ENV, ERL_FLAGS=f"-name {name}@127.0.0.1 -setcookie {cookie}")


def run(args, env, timeout=120):
    r = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="utf-8", errors="replace",
                       text=True, timeout=timeout)
    return r.returncode, r.stdout


def echo_node(name):
    p = start([ECHO_NODE, "--name", f"{name}@127.0.0.1", "--cookie", COOKIE])
    wait_line(p, "is up")
    return p


def main():
    epmd = harness.start_epmd(EPMD_PORT, start, fail)

    cpp = f"cpp{TAG}"
    node = echo_node(cpp)

    code, out = run(["escript", ESCRIPT, "client", f"{cpp}@127.0.0.1"], erl_env(f"e{TAG}"))
    print(out, end="")
    if code != 0 or "all ok" not in out:
        fail("the Erlang client's checks of echo_node failed")

    code, out = run(["escript", ESCRIPT, "ping", f"{cpp}@127.0.0.1"],
                    erl_env(f"w{TAG}", cookie="not_the_cookie"))
    if "pang" not in out:
        fail(f"a node with the wrong cookie was not refused: {out}")
    print("ok wrong cookie refused")
    code, out = run(["escript", ESCRIPT, "ping", f"{cpp}@127.0.0.1"], erl_env(f"r{TAG}"))
    if "pong" not in out:
        fail(f"echo_node stopped answering after the wrong cookie: {out}")
    print("ok still answering")

    node.kill()
    node.wait()
    log = node.stderr.read()
    if "wrong cookie" not in log:
        fail(f"echo_node did not log the wrong cookie: {log!r}")
    print("ok wrong cookie logged")

    cpp2 = f"cppb{TAG}"
    echo_node(cpp2)
    code, out = run([PROBE, "--name", f"probe{TAG}@127.0.0.1", "--cookie", COOKIE,
                     "--peer", f"{cpp2}@127.0.0.1"], ENV)
    print(out, end="")
    if code != 0 or "probe ok" not in out:
        fail("dist_probe against a beamline echo_node failed")

    erl = f"erl{TAG}"
    server = start(["escript", ESCRIPT, "serve"], env=erl_env(erl), stdin=subprocess.PIPE)
    wait_line(server, "serving")
    code, out = run([PROBE, "--name", f"probe2{TAG}@127.0.0.1", "--cookie", COOKIE,
                     "--peer", f"{erl}@127.0.0.1", "--erlang-peer"], ENV)
    print(out, end="")
    if code != 0 or "probe ok" not in out:
        fail("dist_probe against an Erlang node failed")
    if "printed by the peer" not in out:
        fail("the Erlang node's output for a call from beamline was not printed")

    # 5. kill -9 of the beamline node, watched from Erlang...
    victim = f"cppv{TAG}"
    victim_node = echo_node(victim)
    watcher = start(["escript", ESCRIPT, "watch", f"{victim}@127.0.0.1"], env=erl_env(f"ew{TAG}"))
    wait_line(watcher, "watching")
    victim_node.kill()
    lines = wait_line(watcher, "watch ok", timeout=90)
    print("\n".join(lines))
    # ... and of the Erlang node, watched from beamline.
    probe = start([PROBE, "--name", f"probe3{TAG}@127.0.0.1", "--cookie", COOKIE,
                   "--peer", f"{erl}@127.0.0.1", "--watch"])
    wait_line(probe, "watching")
    server.kill()
    lines = wait_line(probe, "watch ok", timeout=90)
    print("\n".join(lines))

    # 6. No EPMD on the port: echo_node starts beamline-epmd as a daemon.
    lone_port = harness.free_port()
    lone_env = dict(os.environ, ERL_EPMD_PORT=str(lone_port))
    daemon = os.path.join(os.path.dirname(ECHO_NODE), "beamline-epmd")
    lone = start([ECHO_NODE, "--name", f"lone{TAG}@127.0.0.1", "--cookie", COOKIE], env=lone_env)
    wait_line(lone, "is up")
    try:
        code, out = run([daemon, "-names", "-port", str(lone_port)], lone_env, timeout=10)
        if f"name lone{TAG} at port" not in out:
            fail(f"echo_node did not register with the beamline-epmd it started: {out}")
        print("ok beamline-epmd started and registered the node")
        code, out = run(["escript", ESCRIPT, "ping", f"lone{TAG}@127.0.0.1"],
                        dict(erl_env(f"el{TAG}"), ERL_EPMD_PORT=str(lone_port)))
        if "pong" not in out:
            fail(f"an Erlang node did not find echo_node through beamline-epmd: {out}")
        print("ok an Erlang node found it there")
    finally:
        lone.kill()
        lone.wait()
        time.sleep(0.2)
        subprocess.run([daemon, "-kill", "-port", str(lone_port)], env=lone_env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)

    # 7. examples/elixir_service.
    service_name = f"svc{TAG}"
    service = start([os.path.join(os.path.dirname(ECHO_NODE), "elixir_service"), "--name",
                     f"{service_name}@127.0.0.1", "--cookie", COOKIE])
    wait_line(service, "is up")
    code, out = run(["escript", ESCRIPT, "service", f"{service_name}@127.0.0.1"],
                    erl_env(f"es{TAG}"))
    print(out, end="")
    if code != 0 or "service ok" not in out:
        fail("examples/elixir_service did not serve an Erlang node as documented")

    # 8. Transitive connections: three beamline nodes and an Erlang one.
    mesh_a, mesh_b, mesh_e = f"mesha{TAG}", f"meshb{TAG}", f"meshe{TAG}"
    echo_node(mesh_a)
    echo_node(mesh_b)
    mesh_erl = start(["escript", ESCRIPT, "serve"], env=erl_env(mesh_e), stdin=subprocess.PIPE)
    wait_line(mesh_erl, "serving")
    code, out = run([PROBE, "--name", f"meshp{TAG}@127.0.0.1", "--cookie", COOKIE, "--mesh",
                     f"{mesh_a}@127.0.0.1,{mesh_b}@127.0.0.1,{mesh_e}@127.0.0.1"], ENV)
    print(out, end="")
    if code != 0 or "mesh ok" not in out:
        fail("connect_all did not join beamline and Erlang nodes into a full mesh")
    code, out = run([PROBE, "--name", f"hid{TAG}@127.0.0.1", "--cookie", COOKIE, "--hidden",
                     "--hidden-at", f"{mesh_e}@127.0.0.1"], ENV)
    print(out, end="")
    if code != 0 or "hidden ok" not in out:
        fail("a hidden beamline node was not hidden from an Erlang node")

    # 9. A peer that stops reading: the sender waits, memory stays bounded.
    import signal as signals
    sluggish = echo_node(f"slow{TAG}")
    flooder = start([PROBE, "--name", f"flood{TAG}@127.0.0.1", "--cookie", COOKIE,
                     "--schedulers", "1", "--flood", f"slow{TAG}@127.0.0.1"])
    wait_line(flooder, "connected")
    sluggish.send_signal(signals.SIGSTOP)
    try:
        lines = wait_line(flooder, "blocked after", timeout=120)
    finally:
        sluggish.send_signal(signals.SIGCONT)
    lines += wait_line(flooder, "flood ok", timeout=120)
    print("\n".join(lines))

    # 10. A node without a name (erl -name undefined@HOST): echo_node names it.
    dyn_host = f"dynh{TAG}"
    echo_node(dyn_host)
    code, out = run(["escript", ESCRIPT, "dynamic", f"{dyn_host}@127.0.0.1"],
                    erl_env("undefined"))
    print(out, end="")
    if code != 0 or "dynamic ok" not in out:
        fail("a node asking for a name (NAME_ME) was not named by echo_node")

    cleanup()
    print("interop ok")


try:
    main()
finally:
    cleanup()
