"""What a dashboard costs the node it watches: W1 (skynet) and W5 (fan-in), each run
alternately without the observer and with --observer 0 and a client asking what the
dashboard page asks, for as long as the workload runs: its WebSocket open (an update
a second: the summary and the alarms), /api/history once, the process table's page
(the top 50 by reductions) every 2 s, the hogs (top 10 by preemptions) and the
supervision trees every 5 s. Prints each run's figure, then the medians and the
ratio (with / without) per workload.

usage: observer_overhead.py BUILD_BIN_DIR [RUNS]"""
import base64
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

BIN = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
WORKLOADS = [("skynet", "wall_ms", False), ("fanin", "msgs_per_sec", True)]


def get(port, path, asked):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        c.getresponse().read()
        c.close()
        asked.append(path)
    except OSError:
        pass


def websocket(port, stop, asked):
    """Holds the dashboard's WebSocket open and reads its updates until stop is set."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
    except OSError:
        return
    while not stop.is_set():
        try:
            if not s.recv(65536):
                break
            asked.append("/ws")
        except socket.timeout:
            continue
        except OSError:
            break
    s.close()


def poll(port, stop, asked):
    """Asks what the dashboard page asks, on its timers, until stop is set."""
    reader = threading.Thread(target=websocket, args=(port, stop, asked))
    reader.start()
    get(port, "/api/history", asked)
    tick = 0
    while not stop.is_set():
        if tick % 2 == 0:
            get(port, "/api/processes?sort=reductions&order=desc&offset=0&limit=50&filter=", asked)
        if tick % 5 == 0:
            get(port, "/api/processes?sort=preemptions&order=desc&limit=10", asked)
            get(port, "/api/supervisors", asked)
        tick += 1
        stop.wait(1.0)
    reader.join()


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
