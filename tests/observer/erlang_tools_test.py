#!/usr/bin/env python3
"""Erlang's own observation tools against a beamline node (docs/observer.md,
"Erlang's tools"), on a private EPMD:

  1. etop in text mode (`erl -hidden ... -s etop -node NODE -output text -tracing off`)
     lists echo_node's processes, sample after sample, with its header (load and
     memory) and the `echo` process waiting in its receive;
  2. what the graphical observer asks, made by an Erlang node as the observer makes
     it: observer_backend:sys_info/0 (the System tab), code:ensure_loaded/1 and
     erlang:function_exported/3 (its check for the process list's protocol), and
     observer_backend:procs_info/1 spawned and linked, which sends the process list
     in {procs_info, Pid, Records} messages and ends normally, and
     observer_backend:fetch_stats/2 (the Load Charts), which sends {stats, ...} every
     interval until any message comes;
  3. the node's /api/summary (its observer is on) counts what its distribution
     carried for them.

Usage: erlang_tools_test.py ECHO_NODE
"""
import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dist"))
import harness  # noqa: E402

ECHO_NODE = sys.argv[1]
EPMD_PORT = harness.free_port()
ENV = dict(os.environ, ERL_EPMD_PORT=str(EPMD_PORT))
COOKIE = "etop_cookie"
NODE = "bltools@127.0.0.1"
started = []
failures = []


def fail(message):
    print("FAIL: " + message)
    harness.end_all(started)
    sys.exit(1)


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)


def start(args):
    p = subprocess.Popen(args, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    started.append(p)
    return p


harness.start_epmd(EPMD_PORT, start, fail)
OBSERVER_PORT = harness.free_port()
node = start([ECHO_NODE, "--name", NODE, "--cookie", COOKIE, "--observer", str(OBSERVER_PORT)])
harness.wait_line(node, "is up", fail)

# --- 1. etop, text mode ---------------------------------------------------------------
etop = subprocess.Popen(
    ["erl", "-hidden", "-name", "etop_test@127.0.0.1", "-setcookie", COOKIE, "-noinput",
     "-s", "etop", "-node", NODE, "-output", "text", "-tracing", "off", "-interval", "1",
     "-lines", "20"],
    env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    text=True)
started.append(etop)
time.sleep(6)
etop.kill()
output = etop.communicate(timeout=20)[0]
print(output[-3000:])
samples = output.count("Name or Initial Func")
check(samples >= 3, f"etop printed a sample a second ({samples} in 6 s)")
check(f"'{NODE}'" in output, "etop's header names the node")
check("Load:" in output and "procs" in output and "Memory:" in output and "processes" in output,
      "etop's header has the load and the memory")
echo_rows = [line for line in output.splitlines() if " echo " in line]
check(echo_rows and "receive main.cpp:" in echo_rows[-1],
      f"the `echo` process, waiting in its receive ({echo_rows[-1:]})")
check("net_kernel" in output, "the node's own processes are listed too")
check("crashed" not in output and "Timeout" not in output and "Error" not in output,
      "etop neither crashed nor timed out")

# --- 2. the graphical observer's calls -------------------------------------------------
script = f"""
Node = '{NODE}',
pong = net_adm:ping(Node),
Sys = rpc:call(Node, observer_backend, sys_info, []),
true = is_list(Sys),
Count = proplists:get_value(process_count, Sys),
true = is_integer(Count) andalso Count > 0,
true = is_integer(proplists:get_value(uptime, Sys)),
Limit = proplists:get_value(process_limit, Sys),
true = is_integer(Limit) andalso Limit > 0,
true = is_integer(proplists:get_value(total, Sys)),
%% The connection this call came over is the node's IO (erlang:statistics(io)).
IoIn = proplists:get_value(io_input, Sys),
IoOut = proplists:get_value(io_output, Sys),
true = is_integer(IoIn) andalso IoIn > 0 andalso is_integer(IoOut) andalso IoOut > 0,
io:format("sys_info: ~p processes of ~p, io ~p in, ~p out~n", [Count, Limit, IoIn, IoOut]),
{{module, observer_backend}} = rpc:call(Node, code, ensure_loaded, [observer_backend]),
true = rpc:call(Node, erlang, function_exported, [observer_backend, procs_info, 1]),
false = rpc:call(Node, erlang, function_exported, [observer_backend, nothing, 1]),
process_flag(trap_exit, true),
Pid = spawn_link(Node, observer_backend, procs_info, [self()]),
Collect = fun Loop(Acc) ->
    receive
        {{procs_info, Pid, Records}} -> Loop(Acc ++ Records);
        {{'EXIT', Pid, Reason}} -> {{Reason, Acc}}
    after 10000 -> {{timeout, Acc}}
    end
end,
{{normal, Procs}} = Collect([]),
true = length(Procs) > 0,
true = lists:all(fun(R) -> tuple_size(R) =:= 8 andalso element(1, R) =:= etop_proc_info end, Procs),
[Echo] = [R || R <- Procs, element(5, R) =:= echo],
true = is_pid(element(2, Echo)) andalso node(element(2, Echo)) =:= Node,
true = is_integer(element(3, Echo)) andalso is_integer(element(4, Echo)),
io:format("procs_info: ~p processes, echo ~p~n", [length(Procs), Echo]),
%% The Load Charts' feed: a stats message every 200 ms until any message comes.
true = rpc:call(Node, erlang, function_exported, [observer_backend, fetch_stats, 2]),
Stats = spawn(Node, observer_backend, fetch_stats, [self(), 200]),
Take = fun() ->
    receive {{stats, 1, W, {{{{input, I}}, {{output, O}}}}, M}} -> {{W, I, O, M}}
    after 5000 -> exit(no_stats)
    end
end,
{{W0, In0, _, Mem}} = Take(),
{{W1, In1, Out1, _}} = Take(),
true = length(W0) > 0 andalso length(W0) =:= length(W1),
true = lists:all(fun({{{{Id, A0, T0}}, {{Id, A1, T1}}}}) -> T1 > T0 andalso A1 >= A0 andalso A1 - A0 =< T1 - T0;
                    (_) -> false end, lists:zip(lists:sort(W0), lists:sort(W1))),
true = In1 >= In0 andalso In1 > 0 andalso Out1 > 0,
[total, processes | _] = [K || {{K, _}} <- Mem],
StatsRef = erlang:monitor(process, Stats),
Stats ! stop,
receive {{'DOWN', StatsRef, process, Stats, normal}} -> ok after 5000 -> exit(fetch_stats_did_not_end) end,
io:format("fetch_stats: ~p~n", [W1]),
io:format("observer calls: all answered~n"),
halt(0).
"""
r = subprocess.run(["erl", "-hidden", "-name", "observer_test@127.0.0.1", "-setcookie", COOKIE,
                    "-noshell", "-eval", script], env=ENV, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, text=True, timeout=60)
print(r.stdout[-2000:])
check(r.returncode == 0 and "observer calls: all answered" in r.stdout,
      "sys_info, ensure_loaded, function_exported, procs_info and fetch_stats answer as the "
      "observer expects")

# --- 3. what the distribution carried, in the node's own summary ---------------------
c = http.client.HTTPConnection("127.0.0.1", OBSERVER_PORT, timeout=20)
c.request("GET", "/api/summary")
carried = json.loads(c.getresponse().read())["distribution"]
c.close()
check(carried["messages_in"] > 0 and carried["messages_out"] > 0 and
      carried["bytes_in"] > 0 and carried["bytes_out"] > 0,
      f"/api/summary: the distribution's messages and bytes, in and out ({carried})")

harness.end_all(started)
if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("Erlang's tools: all checks passed")
