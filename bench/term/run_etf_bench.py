#!/usr/bin/env python3
"""Runs bench_etf (beamline) and etf_bench.escript (Erlang's own term_to_binary and
binary_to_term) on the same terms, in turns, and prints the medians and the ratios.

Usage: bench/term/run_etf_bench.py [--build build/release] [--rounds 3] [--quick]

The build must exist (cmake --build --preset release). Each round runs ours, then
Erlang's; each program prints the median of 15 timed batches per term and operation,
and the table shows the median over the rounds. ratio = Erlang's time / ours: above
1 means beamline is faster.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))

parser = argparse.ArgumentParser()
parser.add_argument("--build", default=os.path.join(root, "build", "release"))
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--quick", action="store_true", help="shorter batches (a smoke test)")
args = parser.parse_args()

bench = os.path.join(args.build, "bin", "bench_etf")
escript = os.path.join(here, "etf_bench.escript")
if not os.path.exists(bench):
    sys.exit(f"{bench} is missing: cmake --build --preset release")


def run(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


samples = {}  # (term, op, system) -> [ns per round]
info = {}     # term -> (bytes, same)
with tempfile.TemporaryDirectory() as terms_dir:
    subprocess.run([bench, "--write-terms", terms_dir], check=True)
    quick = ["--quick"] if args.quick else []
    for round_number in range(args.rounds):
        for command in ([bench] + quick, ["escript", escript, terms_dir] + quick):
            for r in run(command):
                samples.setdefault((r["term"], r["op"], r["system"]), []).append(r["ns"])
                if r["system"] == "erlang":
                    info[r["term"]] = (r["bytes"], r["same"])
        print(f"round {round_number + 1} of {args.rounds} done", file=sys.stderr)

terms = []
for (term, _, _) in samples:
    if term not in terms:
        terms.append(term)


def show(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


print(f"| term | bytes | encode beamline | encode Erlang | ratio | decode beamline | "
      f"decode Erlang | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for term in terms:
    cells = []
    for op in ("encode", "decode"):
        ours = statistics.median(samples[(term, op, "beamline")])
        theirs = statistics.median(samples[(term, op, "erlang")])
        cells += [show(ours), show(theirs), f"{theirs / ours:.1f}x"]
    size, same = info[term]
    note = "" if same else " (*)"
    print(f"| {term}{note} | {size} | " + " | ".join(cells) + " |")
print("\nbeamline only, encoding into a reused etf::buffer (no binary made):")
print("| term | encode into buffer |")
print("|---|---:|")
for term in terms:
    key = (term, "encode_into_buffer", "beamline")
    if key in samples:
        print(f"| {term} | {show(statistics.median(samples[key]))} |")
if not all(same for _, same in info.values()):
    print("\n(*) Erlang's term_to_binary writes this term's bytes in another order (a map "
          "over 32 entries: hash-trie order); the sizes are the same.")
