#!/usr/bin/env python3
"""Names across a cluster, beamline beside Erlang in the same run (docs/benchmarks/names.md).

  bench/names/names.py [--build DIR] [--runs N] [--names K] [--lookups L] [--merge M]
                       [--merge-large M'] [--available-names K']

Each run, on a private EPMD, on this host:
  - a cluster of three Erlang nodes; the third (erl_bench.escript run) registers K
    global names one after the other, looks one up L times, joins K processes to pg
    groups and looks one group up L times;
  - the same with three beamline nodes (two global_names_node, the third bench_global);
  - the available registry (bench_available) on three beamline nodes: K' names
    registered in a burst, one a millisecond, and 100,000 in a second at a steady
    rate, with the delay until the other nodes have them, lookups, and a node
    holding --merge-large names joining;
  - merge: a node registers M names alone, then connects to a running node, and the
    time until global's exchange is done (global:sync() returns) is measured, for
    each system; and for beamline alone with --merge-large names (Erlang/OTP 25's
    global takes time quadratic in the names one node holds to register them:
    10,000 took 12.5 s here, so 100,000 is not run).
Prints the medians of the runs and their ratios, and writes docs/benchmarks/names.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "dist"))
import harness  # noqa: E402

args_parser = argparse.ArgumentParser()
args_parser.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
args_parser.add_argument("--runs", type=int, default=3)
args_parser.add_argument("--names", type=int, default=2000)
args_parser.add_argument("--lookups", type=int, default=1_000_000)
args_parser.add_argument("--merge", type=int, default=10_000)
args_parser.add_argument("--merge-large", type=int, default=100_000)
args_parser.add_argument("--available-names", type=int, default=100_000)
args = args_parser.parse_args()

BIN = os.path.join(args.build, "bin")
ESCRIPT = os.path.join(HERE, "erl_bench.escript")
COOKIE = "names_bench"
PORT = harness.free_port()
ENV = dict(os.environ, ERL_EPMD_PORT=str(PORT))
procs = []


def fail(message):
    harness.end_all(procs)
    sys.exit(f"names.py: {message}")


def start(cmd, env=ENV):
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    procs.append(p)
    return p


def name(short, run):
    return f"{short}{run}-{os.getpid()}@127.0.0.1"


def result(cmd, env=ENV, timeout=600):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True, timeout=timeout)
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    fail(f"{cmd[0]} gave no RESULT (exit {r.returncode}): {r.stdout}")


def erl(short, run, connect=None):
    code = "receive stop -> ok end."
    if connect:
        code = f"true = net_kernel:connect_node('{connect}'), " + code
    p = start(["erl", "-noshell", "-name", name(short, run), "-setcookie", COOKIE, "-eval", code])
    time.sleep(1.5)  # erl takes about a second to start
    return p


def beamline(short, run, *extra):
    p = start([os.path.join(BIN, "global_names_node"), "--name", name(short, run), "--cookie",
               COOKIE, *extra])
    harness.wait_line(p, "ready", fail)
    return p


def available_peer(short, run):
    p = start([os.path.join(BIN, "bench_available"), "--name", name(short, run), "--cookie",
               COOKIE, "--peer"])
    harness.wait_line(p, "ready", fail)
    return p


def erl_env(short, run):
    return dict(ENV, ERL_FLAGS=f"-name {name(short, run)} -setcookie {COOKIE}")


def one_run(run):
    out = {}
    nodes = [erl("ea", run), erl("eb", run, connect=name("ea", run))]
    out["erlang"] = result(["escript", ESCRIPT, "run", str(args.names), str(args.lookups),
                            name("ea", run), name("eb", run)], env=erl_env("ec", run))
    out["erlang"].update(result(["escript", ESCRIPT, "merge", str(args.merge), name("ea", run)],
                                env=erl_env("em", run)))
    harness.end_all(nodes)
    nodes = [beamline("ba", run), beamline("bb", run, "--connect", name("ba", run))]
    bench = os.path.join(BIN, "bench_global")
    out["beamline"] = result([bench, "--name", name("bc", run), "--cookie", COOKIE,
                              "--connect", name("ba", run), "--connect", name("bb", run),
                              "--names", str(args.names), "--lookups", str(args.lookups)])
    out["beamline"].update(result([bench, "--name", name("bm", run), "--cookie", COOKIE,
                                   "--merge", str(args.merge), "--merge-with", name("ba", run)]))
    large = result([bench, "--name", name("bl", run), "--cookie", COOKIE, "--merge",
                    str(args.merge_large), "--merge-with", name("bb", run)])
    out["beamline"]["merge_large_converged_ms"] = large["merge_converged_ms"]
    harness.end_all(nodes)
    nodes = [available_peer("pa", run), available_peer("pb", run)]
    bench = os.path.join(BIN, "bench_available")
    out["available"] = result([bench, "--name", name("pc", run), "--cookie", COOKIE,
                               "--connect", name("pa", run), "--connect", name("pb", run),
                               "--names", str(args.available_names), "--lookups",
                               str(args.lookups)])
    out["available"].update(result([bench, "--name", name("pm", run), "--cookie", COOKIE,
                                     "--merge", str(args.merge_large), "--merge-with",
                                     name("pa", run)]))
    harness.end_all(nodes)
    return out


ROWS = [  # key, label, unit, higher is better
    ("global_register_per_s", "global: registrations/s (3 nodes, one after the other)", "/s", True),
    ("global_register_p50_us", "global: registration p50", "us", False),
    ("global_register_p99_us", "global: registration p99", "us", False),
    ("global_lookup_ns", "global: whereis_name (local read)", "ns", False),
    ("pg_join_per_s", "pg: joins/s (one process each)", "/s", True),
    ("pg_lookup_ns", "pg: get_members (local read)", "ns", False),
    ("merge_converged_ms", f"global: exchange after connect, {args.merge:,} names", "ms", False),
    ("merge_register_alone_ms", f"global: registering {args.merge:,} names on a lone node", "ms",
     False),
]


def main():
    harness.start_epmd(PORT, start, fail)
    runs = [one_run(r) for r in range(args.runs)]
    harness.end_all(procs)
    lines = ["| measure | beamline | Erlang/OTP | beamline vs Erlang |", "|---|---|---|---|"]
    large = statistics.median(r["beamline"]["merge_large_converged_ms"] for r in runs)
    for key, label, unit, higher in ROWS:
        b = statistics.median(r["beamline"][key] for r in runs)
        e = statistics.median(r["erlang"][key] for r in runs)
        ratio = (b / e if higher else e / b) if b and e else float("nan")
        lines.append(f"| {label} | {b:,.1f} {unit} | {e:,.1f} {unit} | {ratio:.2f}x |")
    lines.append(f"| global: exchange after connect, {args.merge_large:,} names | {large:,.1f} ms "
                 "| not run (see below) | |")
    table = "\n".join(lines)
    print(table)
    med = lambda system, key: statistics.median(r[system][key] for r in runs)  # noqa: E731
    a_lines = [
        "| measure | available (beamline) | global (beamline) | global (Erlang) "
        "| pg (Erlang) |", "|---|---|---|---|---|",
        f"| registrations/s, one after the other | {med('available', 'available_register_per_s'):,.0f} "
        f"| {med('beamline', 'global_register_per_s'):,.0f} "
        f"| {med('erlang', 'global_register_per_s'):,.0f} "
        f"| {med('erlang', 'pg_join_per_s'):,.0f} (joins) |",
        f"| lookup (local read) | {med('available', 'available_lookup_ns'):,.1f} ns "
        f"| {med('beamline', 'global_lookup_ns'):,.1f} ns | {med('erlang', 'global_lookup_ns'):,.1f} ns "
        f"| {med('erlang', 'pg_lookup_ns'):,.1f} ns (get_members) |",
    ]
    available_rows = [
        ("available_replication_p50_ms", "replication to the other nodes, p50 (one a ms)", "ms"),
        ("available_replication_p99_ms", "replication to the other nodes, p99 (one a ms)", "ms"),
        ("available_rate_per_s", "steady rate: registrations a second for one second", "/s"),
        ("available_rate_replication_p50_ms", "replication p50 at that steady rate", "ms"),
        ("available_rate_replication_p99_ms", "replication p99 at that steady rate", "ms"),
        ("available_burst_replication_p50_ms",
         f"replication p50 during the burst of {args.available_names:,}", "ms"),
        ("available_burst_replication_p99_ms",
         f"replication p99 during the burst of {args.available_names:,}", "ms"),
        ("available_burst_all_arrived_ms",
         f"the burst of {args.available_names:,}: until the last arrived everywhere", "ms"),
        ("available_merge_converged_ms",
         f"a node with {args.merge_large:,} names joins: until the other has them all", "ms"),
    ]
    b_lines = ["| measure | beamline |", "|---|---|"]
    for key, label, unit in available_rows:
        b_lines.append(f"| {label} | {med('available', key):,.2f} {unit} |")
    available_table = "\n".join(a_lines + [""] + b_lines)
    print(available_table)
    erl_version = subprocess.run(
        ["erl", "-noshell", "-eval",
         "io:format(\"~s\", [erlang:system_info(otp_release)]), halt()."],
        stdout=subprocess.PIPE, text=True).stdout.strip()
    doc = f"""# Names across a cluster: benchmarks

Produced by `bench/names/names.py --runs {args.runs} --names {args.names} --lookups \
{args.lookups} --merge {args.merge}` (medians of {args.runs} runs; beamline and Erlang/OTP \
{erl_version} side by side in the same run, three nodes of each on one host, loopback;
"vs Erlang" above 1 means beamline is better). Each node is a separate OS process; the
measuring node is the third node of its cluster.

{table}

What each row measures: see the docstring of `bench/names/names.py`. The exchange
with {args.merge_large:,} names is measured for beamline only: Erlang/OTP's `global`
spends time quadratic in the number of names one node holds when registering them
(each registration copies that node's whole resource map into an ETS table): the
row above shows what 10,000 cost, and 100,000 would cost about a hundred times
that, so it is not run. A registration
takes `global`'s cluster lock on every known node, writes the name on each and lets
the lock go: its cost is round trips between the nodes, on both systems.

## The available registry beside `global` and `pg`

Same run, three beamline nodes (`bench_available`: the third registers
{args.available_names:,} names as fast as it can, each for a process of its own, then
looks one up {args.lookups:,} times, then registers names one a millisecond, then
100,000 in one second at a steady rate (100 each millisecond); the two others note
when each registration reaches them, on the same host clock). The
available registry answers a registration on its own node and tells the others
afterwards; `global` waits for every node; Erlang's `pg` tells the others afterwards
too but has no unique names.

{available_table}
"""
    with open(os.path.join(ROOT, "docs", "benchmarks", "names.md"), "w") as f:
        f.write(doc)


if __name__ == "__main__":
    try:
        main()
    finally:
        harness.end_all(procs)
