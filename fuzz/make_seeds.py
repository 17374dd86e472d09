#!/usr/bin/env python3
"""Writes the hand-made seeds of the etf_decode fuzz corpus: one small external term
per tag, the deprecated ones and the compressed form included, so that the fuzzer
starts from every branch of the decoder. The other seeds (capture_*) are the terms
of the recorded OTP traffic, written by etf_capture_test (see fuzz/README.md).

Usage: fuzz/make_seeds.py [corpus directory]   (default: fuzz/corpus/etf_decode)
"""
import os
import struct
import sys
import zlib

V = b"\x83"


def atom(name, tag=100):
    data = name.encode("latin-1" if tag in (100, 115) else "utf-8")
    if tag in (115, 119):
        return bytes([tag, len(data)]) + data
    return bytes([tag]) + struct.pack(">H", len(data)) + data


NODE = atom("nonode@nohost")
REMOTE = atom("b@127.0.0.1", 119)
PID = b"X" + NODE + struct.pack(">III", 9, 0, 0)

seeds = {
    "small_integer": b"a\x2a",
    "integer": b"b\xff\xff\xff\x85",
    "small_big": b"n\x09\x00" + b"\x00" * 8 + b"\x01",
    "large_big": b"o\x00\x00\x01\x00\x01" + b"\xff" * 256,
    "new_float": b"F" + struct.pack(">d", -0.0),
    "float_text": b"c" + b"1.50000000000000000000e+00".ljust(31, b"\x00"),
    "atom_latin1": atom("caf\xe9"),
    "small_atom_latin1": atom("ok", 115),
    "atom_utf8": atom("\u03bb", 118),
    "small_atom_utf8": atom("\u03bb\u03bb", 119),
    "tuples": b"h\x03" + atom("ok") + b"a\x01" + b"i\x00\x00\x00\x01j",
    "map": b"t\x00\x00\x00\x02" + atom("b") + b"a\x01" + b"a\x01" + b"j",
    "string": b"k\x00\x03abc",
    "improper_list": b"l\x00\x00\x00\x02a\x01a\x02" + atom("tail"),
    "nested_list_tails": b"l\x00\x00\x00\x01a\x01l\x00\x00\x00\x01a\x02j",
    "binary": b"m\x00\x00\x00\x05hello",
    "bit_binary": b"M\x00\x00\x00\x02\x03\xff\xe0",
    "new_pid": PID,
    "pid_old": b"g" + REMOTE + struct.pack(">IIB", 1, 2, 3),
    "new_port": b"Y" + NODE + struct.pack(">II", 5, 0),
    "v4_port": b"x" + REMOTE + struct.pack(">QI", 1 << 40, 7),
    "port_old": b"f" + REMOTE + struct.pack(">IB", 5, 2),
    "newer_reference": b"Z\x00\x03" + REMOTE + struct.pack(">IIII", 7, 1, 2, 3),
    "new_reference_old": b"r\x00\x02" + REMOTE + b"\x01" + struct.pack(">II", 1, 2),
    "reference_old": b"e" + REMOTE + struct.pack(">IB", 1, 1),
    "export": b"q" + atom("lists") + atom("map") + b"a\x02",
    "atom_cache_ref": b"h\x02R\x00R\x03",
}

# NEW_FUN_EXT with one free variable; Size counts from the Size field to the end.
fun_body = (b"\x01" + bytes(range(16)) + struct.pack(">II", 0, 1) + atom("m") + b"a\x00"
            + b"b\x03\x51\x56\x61" + PID + b"a\x07")
seeds["new_fun"] = b"p" + struct.pack(">I", 4 + len(fun_body)) + fun_body

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus", "etf_decode")
os.makedirs(out_dir, exist_ok=True)
for name, body in seeds.items():
    with open(os.path.join(out_dir, "tag_" + name), "wb") as f:
        f.write(V + body)
# The compressed form of a list of 100 small tuples.
plain = b"l\x00\x00\x00\x64" + (b"h\x02" + atom("x") + b"a\x01") * 100 + b"j"
with open(os.path.join(out_dir, "tag_compressed"), "wb") as f:
    f.write(V + b"P" + struct.pack(">I", len(plain)) + zlib.compress(plain, 6))
