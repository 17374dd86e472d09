#!/usr/bin/env python3
"""Runs one example program as a user would and checks what it does.

  run_example.py [--expect REGEX]... -- PROGRAM [ARG...]
      runs PROGRAM to its end: it must exit with status 0 and print a line matching
      each REGEX (stdout and stderr together).

  run_example.py --server echo|chat -- PROGRAM [ARG...]
      starts a server example on a free port (--port 0), reads the port it prints,
      talks to it over 127.0.0.1 as clients would, then sends it SIGTERM: it must
      shut down in order and exit with status 0.

The sanitizer builds run the same programs, so a leak or a memory error in an
example fails its test.
"""
import argparse
import re
import signal
import socket
import subprocess
import sys
import time

TIMEOUT = 120  # seconds for a whole example, generous for the sanitizer builds


def fail(message, output=""):
    sys.stderr.write(output)
    sys.stderr.write(f"\nrun_example: {message}\n")
    sys.exit(1)


def run_to_end(command, expected):
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        fail(f"{command[0]} did not end in {TIMEOUT} s", (e.output or b"").decode(errors="replace")
             if isinstance(e.output, bytes) else (e.output or ""))
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        fail(f"{command[0]} exited with status {done.returncode}", "")
    for pattern in expected:
        if not re.search(pattern, done.stdout, re.MULTILINE):
            fail(f"no line matches {pattern!r}")


class client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def read_until(self, text):
        """Reads until `text` has arrived; returns everything read so far."""
        deadline = time.monotonic() + 30
        while text.encode() not in self.buffer:
            if time.monotonic() > deadline:
                fail(f"waited 30 s for {text!r}; got {self.buffer!r}")
            chunk = self.sock.recv(65536)
            if not chunk:
                fail(f"connection closed while waiting for {text!r}; got {self.buffer!r}")
            self.buffer += chunk
        got, self.buffer = self.buffer.decode(), b""
        return got

    def close(self):
        self.sock.close()


def talk_echo(port):
    clients = [client(port) for _ in range(20)]
    for round in range(5):
        for i, c in enumerate(clients):
            c.send(f"client {i} round {round}\n")
        for i, c in enumerate(clients):
            c.read_until(f"client {i} round {round}\n")
    big = "x" * 200000
    clients[0].send(big)
    clients[0].read_until(big)
    for c in clients:
        c.close()


def talk_chat(port):
    ann, bob = client(port), client(port)
    ann.read_until("name? ")
    ann.send("ann\n/who\n")
    ann.read_until("* here: ann")  # ann has its name and is in the room
    bob.read_until("name? ")
    bob.send("ann\n")
    bob.read_until("ann is taken")
    bob.read_until("name? ")
    bob.send("bob\n")
    ann.read_until("* bob joined")
    ann.send("hello bob\n")
    bob.read_until("<ann> hello bob")
    bob.send("/who\n")
    bob.read_until("* here: ann bob")
    bob.send("/quit\n")
    ann.read_until("* bob left")
    ann.close()
    bob.close()


def run_server(kind, command):
    server = subprocess.Popen(command + ["--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    output = []
    try:
        line = server.stdout.readline()
        output.append(line)
        found = re.search(r"listening on port (\d+)", line)
        if not found:
            server.kill()
            fail(f"{command[0]} did not say which port it listens on", "".join(output))
        port = int(found.group(1))
        {"echo": talk_echo, "chat": talk_chat}[kind](port)
        server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate(timeout=TIMEOUT)
        output.append(rest)
    except subprocess.TimeoutExpired:
        server.kill()
        fail(f"{command[0]} did not stop after SIGTERM", "".join(output))
    except BaseException:
        server.kill()
        server.communicate()
        raise
    sys.stdout.write("".join(output))
    if server.returncode != 0:
        fail(f"{command[0]} exited with status {server.returncode} after SIGTERM")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--server", choices=["echo", "chat"])
    parser.add_argument("command", nargs="+")
    options = parser.parse_args()
    if options.server:
        run_server(options.server, options.command)
    else:
        run_to_end(options.command, options.expect)


if __name__ == "__main__":
    main()
