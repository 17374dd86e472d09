#!/usr/bin/env python3
"""Writes the seeds of the distribution fuzz corpora: each handshake message for
dist_handshake (the first byte picks the decoder, as dist_handshake_fuzz.cpp reads
it), and for dist_decode one connection per control message, in the pass-through
form, with the bytes OTP 25 sends, and a few in the header form.

Usage: fuzz/make_dist_seeds.py [corpus root]   (default: fuzz/corpus)
"""
import os
import struct
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def atom(name):
    data = name.encode()
    return bytes([119, len(data)]) + data


def small(n):
    return bytes([97, n])


def tuple_(*elements):
    return bytes([104, len(elements)]) + b"".join(elements)


NODE = atom("e@127.0.0.1")
OURS = atom("cpp@127.0.0.1")
PID = b"X" + NODE + struct.pack(">III", 88, 0, 0x6b05f8bc)
LOCAL = b"X" + OURS + struct.pack(">III", 42, 0, 7)
REF = b"Z" + struct.pack(">H", 3) + NODE + struct.pack(">IIII", 0x6b05f8bc, 1, 2, 3)
REASON = atom("normal")
MSG = tuple_(PID, atom("hello"))


def packet(control, payload=None):
    """A connection (pass-through form) of one packet, as dist_decode_fuzz reads it."""
    data = b"\x70\x83" + control
    if payload is not None:
        data += b"\x83" + payload
    return b"\x00" + struct.pack(">H", len(data)) + data


def header_connection(*packets):
    """A connection in the header form: u16-prefixed packets after the mode byte."""
    return b"\x01" + b"".join(struct.pack(">H", len(p)) + p for p in packets)


def u64(v):
    return struct.pack(">Q", v)


CACHED = (b"\x83\x44\x02\x88\x00\x01\x0b" + b"e@127.0.0.1" + b"\x02\x04" + b"echo")
CONTROL = tuple_(small(6), b"X\x52\x00" + struct.pack(">III", 1, 0, 2), atom(""), b"\x52\x01")


handshake_seeds = {
    "name": b"\x00N" + struct.pack(">QIH", 0xD07DF7FBD, 0x6b05f8bc, 11) + b"e@127.0.0.1",
    "name_dynamic": b"\x00N" + struct.pack(">QIH", 0xF07DF7FBD, 0, 9) + b"127.0.0.1",
    "name_old": b"\x00n" + struct.pack(">HI", 5, 0x07DF7FBD) + b"e@127.0.0.1",
    "status_ok": b"\x01sok",
    "status_named": b"\x01snamed:" + struct.pack(">H", 3) + b"a@b" + struct.pack(">I", 9),
    "challenge": b"\x02N" + struct.pack(">QIIH", 0xD07DF7FBD, 0xcc74c3d8, 0x6b05f8bc, 11)
    + b"e@127.0.0.1",
    "complement": b"\x03c" + struct.pack(">II", 0xD, 0x6b05f8bc),
    "reply": b"\x04r" + struct.pack(">I", 1234) + bytes(range(16)),
    "ack": b"\x05a" + bytes(range(16)),
}

packet_seeds = {
    "send": packet(tuple_(small(2), atom(""), LOCAL), MSG),
    "reg_send": packet(tuple_(small(6), PID, atom(""), atom("echo")), MSG),
    "send_sender": packet(tuple_(small(22), PID, LOCAL), MSG),
    "link": packet(tuple_(small(1), PID, LOCAL)),
    "unlink_id": packet(tuple_(small(35), small(4), PID, LOCAL)),
    "unlink_id_ack": packet(tuple_(small(36), small(4), PID, LOCAL)),
    "payload_exit": packet(tuple_(small(24), PID, LOCAL), REASON),
    "payload_exit2": packet(tuple_(small(26), PID, LOCAL), atom("kill")),
    "exit": packet(tuple_(small(3), PID, LOCAL, REASON)),
    "monitor_p": packet(tuple_(small(19), PID, atom("echo"), REF)),
    "demonitor_p": packet(tuple_(small(20), PID, LOCAL, REF)),
    "payload_monitor_p_exit": packet(tuple_(small(28), PID, LOCAL, REF), REASON),
    "monitor_p_exit": packet(tuple_(small(21), PID, LOCAL, REF, REASON)),
    "alias_send": packet(tuple_(small(33), PID, REF), MSG),
    "group_leader": packet(tuple_(small(7), PID, LOCAL)),
    "spawn_request": packet(
        tuple_(small(29), REF, PID, PID, tuple_(atom("erlang"), atom("apply"), small(2)),
               b"j"), b"l" + struct.pack(">I", 1) + atom("x") + b"j"),
    "header": header_connection(b"\x83\x44\x00" + tuple_(small(2), atom(""), LOCAL) + MSG),
    "atom_cache": header_connection(
        CACHED + CONTROL + MSG,
        b"\x83\x44\x02\x00\x00\x01\x02" + CONTROL + MSG),
    "fragments": header_connection(
        b"\x83\x45" + u64(5) + u64(2) + b"\x00" + tuple_(small(2), atom(""), LOCAL) + MSG[:10],
        b"\x83\x46" + u64(5) + u64(1) + MSG[10:]),
}
for directory, seeds in (("dist_handshake", handshake_seeds), ("dist_decode", packet_seeds)):
    out = os.path.join(root, directory)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {out}")
