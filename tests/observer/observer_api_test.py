"""The observer's JSON API, black-box: observed_node runs with --observer and this
script asks it over HTTP, as the dashboard, beamline-top and scripts do. Checks the
figures (summary, process list sorted, filtered and paged, process detail,
history), the manage permission and its actions, the token on a non-loopback
address, and bad input: malformed requests, oversized heads, unsupported versions
and encodings, a foreign Host, too many clients, a client too slow to send its head.

usage: observer_api_test.py OBSERVED_NODE [BEAMLINE_TOP]"""
import http.client
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

NODE = sys.argv[1]
TOP = sys.argv[2] if len(sys.argv) > 2 else None
started = []
failures = []


def fail(message):
    for p in started:
        if p.poll() is None:
            p.kill()
    print("FAIL:", message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        failures.append(message)
        print("  not ok:", message)


def start(*args):
    """Starts observed_node with the observer on a free port; returns (process, port, token)."""
    p = subprocess.Popen([NODE, "--observer", "0", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    started.append(p)
    found = {}
    p.stderr_lines = []  # what it printed there, for the failure messages

    def read_stderr():
        for line in p.stderr:
            p.stderr_lines.append(line.rstrip())
            m = re.search(r"observer at http://[^ ]*:(\d+)/(\?token=([0-9a-f]+))?", line)
            if m and "port" not in found:
                found["port"] = int(m.group(1))
                found["token"] = m.group(3)
    threading.Thread(target=read_stderr, daemon=True).start()
    line = p.stdout.readline()
    if "ready" not in line:
        fail(f"observed_node did not start: {line!r}")
    deadline = time.time() + 10
    while "port" not in found and time.time() < deadline:
        time.sleep(0.05)
    if "port" not in found:
        fail("observed_node did not print the observer's URL")
    return p, found["port"], found["token"]


def request(port, method, path, body=None, headers=None):
    """(status, parsed JSON body) of one request."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data) if data else None
    except json.JSONDecodeError:
        fail(f"{method} {path}: not JSON: {data[:200]!r}")


def get(port, path, **kw):
    return request(port, "GET", path, **kw)


def until(what, attempt, timeout=10):
    """Calls attempt() until it returns a true value; fails after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        value = attempt()
        if value:
            return value
        if time.time() > deadline:
            fail(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def raw(port, data, read_timeout=15):
    """Sends bytes on a fresh connection; returns what comes back until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    s.sendall(data)
    chunks = []
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except socket.timeout:
        chunks.append(b"<timeout>")
    s.close()
    return b"".join(chunks)


def status_of(response):
    m = re.match(rb"HTTP/1\.1 (\d+)", response)
    return int(m.group(1)) if m else None


WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def ws_open(port, extra=""):
    """A WebSocket handshake on /ws; returns (socket, response head, bytes after it)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return s, head, rest


def ws_frame(s, buffered):
    """Reads one server frame: (opcode, payload, bytes left over)."""
    def need(n):
        nonlocal buffered
        while len(buffered) < n:
            chunk = s.recv(65536)
            if not chunk:
                fail("the WebSocket closed in the middle of a frame")
            buffered += chunk
    need(2)
    if buffered[1] & 0x80:
        fail("a server frame is masked")
    length, at = buffered[1] & 0x7F, 2
    if length == 126:
        need(4)
        length, at = struct.unpack(">H", buffered[2:4])[0], 4
    elif length == 127:
        need(10)
        length, at = struct.unpack(">Q", buffered[2:10])[0], 10
    need(at + length)
    return buffered[0] & 0x0F, buffered[at:at + length], buffered[at + length:]


def ws_control_frame(s, buffered):
    """Reads server frames past the updates (text frames): the next control frame."""
    while True:
        opcode, payload, buffered = ws_frame(s, buffered)
        if opcode != 1:
            return opcode, payload, buffered


def ws_client_frame(opcode, payload, masked=True):
    key = b"\x01\x02\x03\x04"
    head = bytes([0x80 | opcode, (0x80 if masked else 0) | len(payload)])
    if not masked:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def row_named(page, name):
    return next((r for r in page["rows"] if r["name"] == name), None)


# --- a read-only observer -----------------------------------------------------------
node, port, token = start()
check(token is None, "no token on the loopback address")

status, summary = get(port, "/api/summary")
check(status == 200, f"summary answers 200 ({status})")
check(summary["processes"] >= 106, f"summary counts the processes ({summary['processes']})")
check(len(summary["workers"]) == summary["schedulers"], "one entry per worker")
check(all(0 <= w["utilization"] <= 1 for w in summary["workers"]), "utilization in [0, 1]")
check(summary["manage"] is False, "manage is off by default")
check(summary["node"] == "nonode@nohost", f"the node's name ({summary['node']})")
# The API's own requests and answers are the node's IO; a node that is not
# distributed has carried nothing over the distribution.
status, again = get(port, "/api/summary")
check(0 < summary["io"]["bytes_in"] < again["io"]["bytes_in"] and
      summary["io"]["bytes_out"] < again["io"]["bytes_out"],
      f"io: the bytes of the requests and answers so far ({summary['io']}, then {again['io']})")
check(summary["distribution"] == {"bytes_in": 0, "bytes_out": 0, "messages_in": 0,
                                  "messages_out": 0},
      f"distribution: nothing on a node that is not distributed ({summary['distribution']})")

page = until("loaded on top of the queue lengths", lambda: (
    lambda p: p if p["rows"] and p["rows"][0]["name"] == "loaded"
    and p["rows"][0]["message_queue_len"] == 5 else None)(
        get(port, "/api/processes?sort=message_queue_len&limit=1")[1]))
loaded = page["rows"][0]
check(loaded["status"].startswith("waiting: receive ("), f"loaded waits ({loaded['status']})")
check("observed_node.cpp" in loaded["initial_call"], f"initial call ({loaded['initial_call']})")

page = until("busy on top of the reduction rates", lambda: (
    lambda p: p if p["rows"] and p["rows"][0]["name"] == "busy"
    and p["rows"][0]["reductions_per_second"] > 0 else None)(
        get(port, "/api/processes?sort=reductions_per_second&limit=1")[1]))
check(page["rows"][0]["status"] == "runnable", f"busy is runnable ({page['rows'][0]['status']})")

status, page = get(port, "/api/processes?filter=loaded")
check(status == 200 and page["matched"] == 1 and page["rows"][0]["name"] == "loaded",
      f"filter by name ({page})")
# Paged among processes that neither start nor end meanwhile (each request's own
# connection process does, and may land anywhere in pid order).
status, first = get(port, "/api/processes?sort=pid&order=asc&limit=10&filter=wait_forever")
status, second = get(port,
                     "/api/processes?sort=pid&order=asc&offset=10&limit=10&filter=wait_forever")
check(len(first["rows"]) == 10 and len(second["rows"]) == 10, "pages of ten")
check(not {r["pid"] for r in first["rows"]} & {r["pid"] for r in second["rows"]},
      "pages do not overlap")
check(first["matched"] >= 100, f"matched counts every waiting process ({first['matched']})")
status, everything = get(port, "/api/processes?sort=pid&order=asc&limit=10")
check(everything["matched"] >= 106, "without a filter, matched counts every process")

status, detail = get(port, "/api/processes/" + loaded["pid"].replace("<", "%3C").replace(">", "%3E"))
check(status == 200 and detail["message_queue_len"] == 5, f"detail of loaded ({status})")
check(detail["messages"] is None, "messages are not shown without manage")
status, linked = get(port, "/api/processes?filter=linked_")
pids = {r["name"]: r["pid"] for r in linked["rows"]}
status, a = get(port, "/api/processes/" + pids["linked_a"].strip("<>"))
check(status == 200 and a["links"] == [pids["linked_b"]], f"links in detail ({a})")

status, body = request(port, "POST", "/api/processes/" + pids["linked_a"].strip("<>") + "/kill",
                       body="{}", headers={"Content-Type": "application/json"})
check(status == 403, f"kill refused without manage ({status})")

check(get(port, "/api/processes?sort=nonsense")[0] == 400, "unknown sort key: 400")
check(get(port, "/api/processes?limit=5000")[0] == 400, "limit over 1000: 400")
check(get(port, "/api/processes?offset=x")[0] == 400, "offset not a number: 400")
check(get(port, "/api/processes/0.99999.7")[0] == 404, "a dead pid: 404")
check(get(port, "/api/processes/1.2.3")[0] == 400, "a pid of another node: 400")
check(get(port, "/api/processes/banana")[0] == 400, "not a pid: 400")
check(get(port, "/api/nothing")[0] == 404, "unknown route: 404")
check(request(port, "POST", "/api/summary")[0] == 405, "POST to a read route: 405")
check(get(port, "/api/summary", headers={"Host": "attacker.example"})[0] == 403,
      "a Host that is not the loopback: 403")

check(status_of(raw(port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n")) == 400, "garbage: 400")
check(status_of(raw(port, b"GET /api/summary HTTP/2.0\r\nHost: x\r\n\r\n")) == 505,
      "HTTP/2.0 over HTTP/1 framing: 505")
check(status_of(raw(port, b"GET /api/summary HTTP/1.1\r\n\r\n")) == 400, "no Host: 400")
check(status_of(raw(port, b"POST /api/summary HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")) == 501,
      "chunked request bodies: 501")
check(status_of(raw(port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * 20000 +
                    b"\r\n\r\n")) == 431, "a 20 KiB head: 431")
check(status_of(raw(port, b"POST /api/processes/0.1.0/kill HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Length: 1000000\r\n\r\n")) == 413, "a 1 MB body: 413")
check(status_of(raw(port, b"GET /api/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) == 400,
      "a malformed escape: 400")

# Keep-alive: two requests on one connection.
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for _ in range(2):
    c.request("GET", "/api/summary")
    r = c.getresponse()
    r.read()
    check(r.status == 200, "keep-alive requests")
c.close()

# A client that sends part of a head and stops: 408 after the head timeout (10 s).
slow = raw(port, b"GET /api/summary HTTP/1.1\r\nHo", read_timeout=20)
check(status_of(slow) == 408, f"a stalled head: 408 ({slow[:40]!r})")

# Too many clients: beyond 64 connections, 503 and closed; the others are served.
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
time.sleep(0.5)
extra = raw(port, b"", read_timeout=10)
check(status_of(extra) == 503, f"the 65th connection: 503 ({extra[:40]!r})")
for s in idle:
    s.close()
until("a connection after the crowd left", lambda: get(port, "/api/summary")[0] == 200)

status, history = until("a sample in the history", lambda: (
    lambda r: r if r[1]["samples"] else None)(get(port, "/api/history")))
sample = history["samples"][-1]
check(len(sample["utilization"]) == summary["schedulers"], "history: utilization per worker")
check(sample["processes"] >= 106, "history: process count")
status, history = until("a sample with the requests' IO", lambda: (
    lambda r: r if r[1]["samples"][-1]["io_in_per_second"] > 0 else None)(
        get(port, "/api/history")))
check(history["samples"][-1]["io_out_per_second"] > 0, "history: IO out per second")

if TOP:
    out = subprocess.run([TOP, "--port", str(port), "--once", "--sort", "queue"],
                         capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"beamline-top --once exits 0 ({out.returncode}: {out.stderr})")
    lines = out.stdout.splitlines()
    check(any("processes" in l for l in lines[:5]), f"beamline-top: summary line ({lines[:5]})")
    check(any(re.search(r"io [\d.]+ \w+ in, [\d.]+ \w+ out", l) for l in lines[:5]),
          f"beamline-top: the node's IO ({lines[:5]})")
    rows = [l for l in lines if "loaded" in l]
    check(rows and " 5 " in rows[0], f"beamline-top: loaded with its queue ({rows})")
    bad = subprocess.run([TOP, "--port", "1", "--once"], capture_output=True, text=True,
                         timeout=30)
    check(bad.returncode != 0 and bad.stderr, "beamline-top: a clear error without a node")

# --- the WebSocket: an update a second -----------------------------------------------
ws, head, rest = ws_open(port, f"Sec-WebSocket-Key: {WS_KEY}\r\n")
check(head.startswith(b"HTTP/1.1 101") and b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
      in head, f"the handshake answers 101 with RFC 6455's accept key ({head[:80]!r})")
updates = []
first_update = time.time()
while len(updates) < 3:
    opcode, payload, rest = ws_frame(ws, rest)
    check(opcode == 1, "updates are text frames")
    updates.append(json.loads(payload))
elapsed = time.time() - first_update
check(all(u["type"] == "update" and u["summary"]["processes"] > 100 for u in updates),
      "each update carries the summary")
check(1.2 < elapsed < 10, f"an update a second ({elapsed:.1f} s for the second and third)")
check(any(u["sample"] is not None for u in updates), "updates carry the last sample")
ws.sendall(ws_client_frame(9, b"are you there"))
opcode, payload, rest = ws_control_frame(ws, rest)
check(opcode == 10 and payload == b"are you there", "a ping gets its pong")
ws.sendall(ws_client_frame(8, b"\x03\xe8"))
opcode, payload, rest = ws_control_frame(ws, rest)
check(opcode == 8 and payload[:2] == b"\x03\xe8", "a close is answered with a close (1000)")
ws.close()
ws, head, rest = ws_open(port, f"Sec-WebSocket-Key: {WS_KEY}\r\n")
ws.sendall(ws_client_frame(1, b"unmasked", masked=False))
opcode, payload, rest = ws_control_frame(ws, rest)
check(opcode == 8 and payload[:2] == b"\x03\xea", "an unmasked client frame: closed with 1002")
ws.close()
for extra, expected, what in [
        ("", 400, "no key"),
        ("Sec-WebSocket-Key: short\r\n", 400, "a malformed key"),
        (f"Sec-WebSocket-Key: {WS_KEY}\r\nOrigin: http://evil.example\r\n", 403,
         "another site's Origin")]:
    ws, head, rest = ws_open(port, extra)
    check(status_of(head) == expected, f"/ws with {what}: {expected} ({head[:40]!r})")
    ws.close()
check(get(port, "/ws")[0] == 426, "/ws without Upgrade: 426")
status, trees = get(port, "/api/supervisors")
check(status == 200 and trees == {"supervisors": 0, "roots": []},
      f"/api/supervisors: none on a node without supervisors ({trees})")
status, alarms = get(port, "/api/alarms")
check(status == 200 and alarms["alarms"] == [] and alarms["raise"] > alarms["clear"],
      f"/api/alarms: none, with the hysteresis thresholds ({alarms})")

node.terminate()
code = node.wait(timeout=20)
check(code == 0, f"SIGTERM ends the node with the observer on (exit {code}; "
      f"stderr: {node.stderr_lines[-20:]})")

# --- manage on ----------------------------------------------------------------------
node, port, token = start("--observer-manage")
status, page = get(port, "/api/processes?filter=loaded")
loaded = page["rows"][0]["pid"].strip("<>")
detail = until("loaded's messages", lambda: (
    lambda r: r[1] if r[0] == 200 and r[1]["messages"] else None)(
        get(port, "/api/processes/" + loaded)))
check(detail["messages"] == [f'"queued {i}"' for i in range(5)], f"messages ({detail['messages']})")

status, page = get(port, "/api/processes?filter=victim")
victim = page["rows"][0]["pid"].strip("<>")
check(request(port, "POST", f"/api/processes/{victim}/kill", body="{}")[0] == 415,
      "an action without a JSON body: 415")
status, body = request(port, "POST", f"/api/processes/{victim}/kill", body="{}",
                       headers={"Content-Type": "application/json"})
check(status == 200 and body["sent"] == "kill", f"kill ({status} {body})")
until("the victim gone", lambda: get(port, f"/api/processes/{victim}")[0] == 404)
check(request(port, "POST", f"/api/processes/{victim}/kill", body="{}",
              headers={"Content-Type": "application/json"})[0] == 404, "kill a dead pid: 404")

status, page = get(port, "/api/processes?filter=linked_")
pids = {r["name"]: r["pid"].strip("<>") for r in page["rows"]}
status, body = request(port, "POST", f"/api/processes/{pids['linked_a']}/exit",
                       body='{"reason": "no_such_atom_anywhere_42"}',
                       headers={"Content-Type": "application/json"})
check(status == 400, f"exit with an atom that does not exist: 400 ({status})")
status, body = request(port, "POST", f"/api/processes/{pids['linked_a']}/exit",
                       body='{"reason": "shutdown"}', headers={"Content-Type": "application/json"})
check(status == 200, f"exit(shutdown) ({status} {body})")
until("both linked processes gone", lambda: get(port, "/api/processes?filter=linked_")[1]
      ["matched"] == 0)
node.terminate()
node.wait(timeout=20)

# --- the timeline and the flight recorder ------------------------------------------------
with tempfile.TemporaryDirectory() as records:
    node, port, token = start("--hog", "--observer-record", records)
    # The hog is preempted from its first run on: the recorder writes a file on its
    # own (before any request, which would hold the next one back 10 s).
    until("a recording on a preemption", lambda: any(
        "preemption" in f for f in os.listdir(records)), timeout=30)
    until("the recorder saying where it wrote", lambda: any(
        "timeline recorded (preemption)" in line for line in node.stderr_lines))
    status, t = get(port, "/api/timeline?ms=2000")
    check(status == 200 and len(t["lanes"]) >= 1 and t["window_ms"] > 1990,
          f"/api/timeline: a lane per worker over the window ({status})")
    runs = [r for lane in t["lanes"] for r in lane["runs"]]
    check(runs and all(0 <= r[0] <= r[1] <= t["window_ms"] + 1 for r in runs),
          "each run lies inside the window")
    check(all(r[2] in t["labels"] for r in runs), "each run's process has a label")
    for query, what in [("ms=0", "a zero window"), ("ms=60001", "a window over a minute"),
                        ("ms=x", "a window that is no number"), ("format=xml", "an unknown format"),
                        ("resolution_us=-1", "a negative resolution")]:
        check(get(port, "/api/timeline?" + query)[0] == 400, f"/api/timeline?{query}: 400 ({what})")
    status, trace = get(port, "/api/timeline?format=trace&ms=1000&resolution_us=50")
    check(status == 200 and any(e["ph"] == "X" and e.get("cat") == "run"
                                for e in trace["traceEvents"]),
          "format=trace: Trace Event JSON with a slice per run")
    check(request(port, "GET", "/api/timeline/record")[0] == 405, "GET /api/timeline/record: 405")
    status, body = request(port, "POST", "/api/timeline/record")
    check(status == 200 and os.path.dirname(body["path"]) == records and
          json.load(open(body["path"]))["traceEvents"], f"a recording on request ({status} {body})")
    node.terminate()
    node.wait(timeout=20)
node, port, token = start()
status, body = request(port, "POST", "/api/timeline/record")
check(status == 404 and "observer-record" in body["error"],
      f"no record directory: 404 with the flag to give ({status} {body})")
node.terminate()
node.wait(timeout=20)

# --- a non-loopback address: the token ------------------------------------------------
node, port, token = start("--observer-address", "0.0.0.0")
check(token is not None and len(token) == 32, f"a random token is printed ({token})")
check(get(port, "/api/summary")[0] == 401, "no token: 401")
check(get(port, "/api/summary?token=wrong")[0] == 401, "a wrong token: 401")
check(get(port, f"/api/summary?token={token}")[0] == 200, "?token=: 200")
check(get(port, "/api/summary", headers={"Authorization": f"Bearer {token}"})[0] == 200,
      "Authorization: Bearer: 200")
node.terminate()
node.wait(timeout=20)

# --- the observer does not keep a program running ------------------------------------
out = subprocess.run([NODE, "--observer", "0", "--quit"], capture_output=True, text=True,
                     timeout=30)
check(out.returncode == 0 and "observer at" in out.stderr,
      f"a node whose processes have ended stops, observer or not ({out.returncode})")

# --- a port in use: a clear error at start ---------------------------------------------
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen()
    busy_port = s.getsockname()[1]
    out = subprocess.run([NODE, "--observer", str(busy_port)], capture_output=True, text=True,
                         timeout=30)
    check(out.returncode != 0 and "cannot listen" in out.stderr,
          f"a port in use: a clear error ({out.returncode} {out.stderr!r})")

if failures:
    fail(f"{len(failures)} checks failed")
print("observer API: all checks passed")
