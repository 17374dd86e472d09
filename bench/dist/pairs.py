#!/usr/bin/env python3
"""W8 and W9 (BENCHMARKS.md) between two nodes on this host, in every pairing of
beamline and BEAM: beamline<->beamline, beamline->BEAM, BEAM->beamline, BEAM<->BEAM
(client->server). Each run starts a private EPMD (Erlang's epmd on a free port,
ERL_EPMD_PORT for both nodes), the server, then the client, whose RESULT line is
the run's; both nodes use 2 schedulers.

  bench/dist/pairs.py [--runs N] [--scale F] [--markdown FILE]
      N rounds (default 3); each round runs the 8 (workload, pairing) cases in turn,
      so that load changes hit every pairing alike. Prints the medians and the
      ratios the issue asks for; with --markdown, writes them as a table.
  bench/dist/pairs.py --one CLIENT SERVER w8|w9 [--scale F]
      one run (CLIENT and SERVER: beamline or erlang), printing the client's output:
      bench/compare runs W8 and W9 this way.

Needs build/release (bench_dist_server, bench_dist_client) and Erlang's escript and
epmd. Only the Python 3 standard library is used.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "build" / "release" / "bin"
ESCRIPT = ROOT / "bench" / "peers" / "erlang" / "dist_peer.escript"
COOKIE = "bench_dist"
PAIRINGS = [("beamline", "beamline"), ("beamline", "erlang"), ("erlang", "beamline"),
            ("erlang", "erlang")]
LABEL = {"beamline": "beamline", "erlang": "BEAM"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(kind, role, name, extra):
    if kind == "beamline":
        program = BIN / ("bench_dist_server" if role == "server" else "bench_dist_client")
        return [str(program), "--name", name, "--cookie", COOKIE, "--schedulers", "2"] + extra
    return ["escript", str(ESCRIPT), role, "--name", name, "--cookie", COOKIE] + extra


def wait_for(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def run_one(client, server, workload, scale, timeout=300):
    """(returncode, client stdout, client stderr)."""
    port = free_port()
    env = dict(os.environ, ERL_EPMD_PORT=str(port))
    tag = f"{os.getpid()}_{time.monotonic_ns() % 1000000}"
    epmd = subprocess.Popen(["epmd", "-port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    server_process = None
    try:
        if not wait_for(port):
            return 1, "", "epmd did not start"
        server_name = f"bs{tag}@127.0.0.1"
        server_process = subprocess.Popen(command(server, "server", server_name, []), env=env,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
        line = server_process.stdout.readline()
        if "serving" not in line:
            return 1, "", f"the {server} server did not start: {line} {server_process.stderr.read()}"
        extra = ["--to", server_name, workload, "--scale", repr(scale)]
        r = subprocess.run(command(client, "client", f"bc{tag}@127.0.0.1", extra), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return 1, "", f"no result within {timeout} s"
    finally:
        for p in (server_process, epmd):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def result_of(stdout):
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs=3, metavar=("CLIENT", "SERVER", "WORKLOAD"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--schedulers", type=int, default=2)  # accepted from bench/compare
    parser.add_argument("--markdown")
    args = parser.parse_args()
    if args.one:
        client, server, workload = args.one
        code, out, err = run_one(client, server, workload, args.scale)
        sys.stdout.write(out)
        sys.stderr.write(err)
        return code

    figures = {"w8": ["msgs_per_sec"], "w9": ["us_per_call", "p99_us"]}
    samples = {}
    for round_number in range(1, args.runs + 1):
        for workload in ("w8", "w9"):
            for client, server in PAIRINGS:
                code, out, err = run_one(client, server, workload, args.scale)
                result = result_of(out)
                ok = code == 0 and result is not None and result.get("checksum_ok") is True
                shown = ", ".join(f"{k} {result[k]:g}" for k in figures[workload]) if ok else \
                    f"failed: {(err or out).strip()[-200:]}"
                print(f"{workload} round {round_number}/{args.runs} {LABEL[client]}->{LABEL[server]}: "
                      f"{shown}", flush=True)
                if ok:
                    for k in figures[workload]:
                        samples.setdefault((workload, k, client, server), []).append(result[k])

    def median(workload, key, client, server):
        values = samples.get((workload, key, client, server))
        return statistics.median(values) if values else None

    rows = []
    base = {k: median(w, k, "erlang", "erlang") for w, ks in figures.items() for k in ks}
    for client, server in PAIRINGS:
        w8 = median("w8", "msgs_per_sec", client, server)
        mean = median("w9", "us_per_call", client, server)
        p99 = median("w9", "p99_us", client, server)

        def ratio(value, key, higher_is_better):
            if value is None or not base.get(key):
                return "-"
            r = value / base[key] if higher_is_better else base[key] / value
            return f"{r:.2f}x"

        rows.append((f"{LABEL[client]} -> {LABEL[server]}",
                     f"{w8:,.0f}" if w8 else "failed", ratio(w8, "msgs_per_sec", True),
                     f"{mean:.1f}" if mean else "failed", ratio(mean, "us_per_call", False),
                     f"{p99:.1f}" if p99 else "failed", ratio(p99, "p99_us", False)))
    header = ("pairing (client -> server)", "W8 msgs/s", "vs BEAM<->BEAM", "W9 us/call",
              "vs BEAM<->BEAM", "W9 p99 us", "vs BEAM<->BEAM")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    table = "\n".join(lines)
    print(f"\nmedians of {args.runs} rounds, 2 schedulers per node, loopback "
          "(ratios: > 1 is better than BEAM<->BEAM)\n" + table)
    if args.markdown:
        Path(args.markdown).write_text(
            "# Distribution: W8 and W9 in every pairing\n\n"
            f"`bench/dist/pairs.py --runs {args.runs}` on {time.strftime('%Y-%m-%d')}: medians of "
            f"{args.runs} rounds, each round running every pairing in turn; both nodes on this "
            "host with 2 schedulers each, over loopback. Ratios are against BEAM<->BEAM "
            "(> 1: better).\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
