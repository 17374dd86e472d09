"""What a dashboard costs the node it watches: W1 (skynet) and W5 (fan-in), each run
alternately without the observer and with --observer 0 and a client asking what the
dashboard asks once a second (/api/summary, /api/history and the top 50 processes)
for as long as the workload runs. Prints each run's figure, then the medians and
the ratio (with / without) per workload.

usage: observer_overhead.py BUILD_BIN_DIR [RUNS]"""
import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time

BIN = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
WORKLOADS = [("skynet", "wall_ms", False), ("fanin", "msgs_per_sec", True)]


def poll(port, stop, asked):
    """Asks what the dashboard asks, once a second, until stop is set."""
    while not stop.is_set():
        for path in ("/api/summary", "/api/history",
                     "/api/processes?sort=reductions_per_second&limit=50"):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", path)
                c.getresponse().read()
                c.close()
                asked.append(path)
            except OSError:
                pass
        stop.wait(1.0)


def run(workload, observed):
    args = [f"{BIN}/bench_{workload}"] + (["--observer", "0"] if observed else [])
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop = threading.Event()
    asked = []
    poller = None
    if observed:
        line = p.stderr.readline()
        m = re.search(r"observer at http://[^ ]*:(\d+)/", line)
        if not m:
            sys.exit(f"no observer URL from {workload}: {line!r}")
        poller = threading.Thread(target=poll, args=(int(m.group(1)), stop, asked))
        poller.start()
    out, _ = p.communicate()
    stop.set()
    if poller:
        poller.join()
    result = next(json.loads(l[7:]) for l in out.splitlines() if l.startswith("RESULT "))
    if not result["checksum_ok"]:
        sys.exit(f"{workload}: wrong checksum")
    return result, len(asked)


for workload, figure, higher_is_better in WORKLOADS:
    plain, observed = [], []
    for i in range(RUNS):
        r, _ = run(workload, False)
        plain.append(r[figure])
        r, asked = run(workload, True)
        observed.append(r[figure])
        print(f"{workload} run {i + 1}: without {plain[-1]:.1f}, with {observed[-1]:.1f} "
              f"{figure} ({asked} requests)", flush=True)
    a, b = statistics.median(plain), statistics.median(observed)
    cost = (a / b - 1) if higher_is_better else (b / a - 1)
    print(f"{workload}: median {figure} without {a:.1f}, with the dashboard {b:.1f}: "
          f"{cost * 100:+.1f}% time", flush=True)
