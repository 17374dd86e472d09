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


def needs_netns():
    """Exits 77 (skipped) with a reason unless this runs as root with iproute2."""
    import os
    import shutil
    import sys
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: needs root and iproute2 (ip) for network namespaces")
        sys.exit(77)


class NamespacePair:
    """Two network namespaces joined by a veth pair, 10.213.N.1 in `a` and 10.213.N.2
    in `b` (N from tag), each with its loopback up. cut() sets a's end down: no FIN,
    no RST, the packets just stop; heal() sets it up again."""

    def __init__(self, tag):
        net = 10 + tag % 200
        self.a, self.b = f"bl{tag}a", f"bl{tag}b"
        self.veth_a, self.veth_b = self.a[-15:], self.b[-15:]
        self.addr_a, self.addr_b = f"10.213.{net}.1", f"10.213.{net}.2"

    @staticmethod
    def _sh(*args):
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def create(self):
        """Makes the pair; raises subprocess.CalledProcessError when it cannot."""
        self._sh("ip", "netns", "add", self.a)
        self._sh("ip", "netns", "add", self.b)
        self._sh("ip", "link", "add", self.veth_a, "type", "veth", "peer", "name", self.veth_b)
        self._sh("ip", "link", "set", self.veth_a, "netns", self.a)
        self._sh("ip", "link", "set", self.veth_b, "netns", self.b)
        for ns, veth, addr in ((self.a, self.veth_a, self.addr_a),
                               (self.b, self.veth_b, self.addr_b)):
            self._sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", veth)
            self._sh("ip", "-n", ns, "link", "set", veth, "up")
            self._sh("ip", "-n", ns, "link", "set", "lo", "up")

    def cut(self):
        self._sh("ip", "-n", self.a, "link", "set", self.veth_a, "down")

    def heal(self):
        self._sh("ip", "-n", self.a, "link", "set", self.veth_a, "up")

    def set_up(self, programs, epmd_port):
        """Makes the pair (or exits 77, skipped, saying why it cannot) and starts an
        EPMD on epmd_port in each namespace, as one of `programs`."""
        import sys
        import time
        needs_netns()
        try:
            self.create()
        except subprocess.CalledProcessError as e:
            print(f"skipped: cannot make network namespaces here: {e.stderr.decode().strip()}")
            programs.end()
            sys.exit(77)
        for ns in (self.a, self.b):
            self.start_in(programs, ns, ["epmd", "-port", epmd_port])
        time.sleep(0.5)

    def start_in(self, programs, ns, args, env=None, stdin=subprocess.DEVNULL):
        """Starts args in namespace ns as one of `programs` (a Programs)."""
        return programs.start(["ip", "netns", "exec", ns] + args,
                              env=dict(programs.env, **(env or {})), stdin=stdin)

    def delete(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "delete", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


SANITIZER_MARKS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")


def sanitizer_reports(processes):
    """The sanitizer reports (ThreadSanitizer, AddressSanitizer, UBSan) that ended
    processes of the list wrote to their stderr pipe (call after end_all)."""
    reports = []
    for p in processes:
        if p.stderr is None or p.poll() is None:
            continue
        try:
            text = p.stderr.read()
        except (OSError, ValueError):
            continue
        reports += [line for line in text.splitlines()
                    if any(mark in line for mark in SANITIZER_MARKS)]
    return reports


class Programs:
    """The programs a test starts (start), ended together (end) or on a failure
    (fail: prints the reason, ends them, runs `cleanup` if given, exits 1)."""

    def __init__(self, env, cleanup=None):
        self.env = env
        self.cleanup = cleanup
        self.started = []

    def start(self, args, env=None, stdin=subprocess.DEVNULL):
        p = subprocess.Popen(args, env=env or self.env, stdin=stdin,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             encoding="utf-8", errors="replace")
        self.started.append(p)
        return p

    def end(self):
        end_all(self.started)
        if self.cleanup:
            self.cleanup()

    def fail(self, message):
        import sys
        print("FAIL:", message, flush=True)
        self.end()
        sys.exit(1)
