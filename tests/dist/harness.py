"""What the distribution tests' scripts share: a free port, reading a program's
output up to a line, and ending the programs a script started."""
import socket
import subprocess
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_line(p, text, fail, timeout=30):
    """Reads p's stdout until a line containing text; returns the lines read. Calls
    fail(message) if p ends first or the line does not come within timeout seconds."""
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            fail(f"{p.args} ended before printing {text!r}: {lines} {p.stderr.read()}")
        lines.append(line.rstrip())
        if text in line:
            return lines
    fail(f"{p.args} did not print {text!r} in {timeout} s")


def start_epmd(port, start, fail):
    """Starts Erlang's epmd on `port` with start(args) (which returns the Popen) and
    waits until it accepts connections; calls fail(message) if it does not."""
    p = start(["epmd", "-port", str(port)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.05)
    fail("epmd did not start")


def end_all(processes):
    """Kills every process of the list that still runs, and waits for each (10 s)."""
    for p in processes:
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
