#!/usr/bin/env python3
"""The programs a document shows, extracted, built and checked by the test suite.

A document marks a complete program with a comment line just before its code block:

    <!-- program: NAME -->
    ```cpp
    ...
    ```

and may follow it with the output it prints: the next ```text block before any
other heading or program. The test runs the program, which must exit with status 0
and print those lines, in that order, on stdout (other lines may come between).

  doc_programs.py extract DOCUMENT OUTDIR   writes OUTDIR/NAME.cpp (and NAME.expected
                                             when the document shows an output) for
                                             every program; prints the names
  doc_programs.py check PROGRAM [EXPECTED]  runs PROGRAM and checks it as above
"""
import pathlib
import re
import subprocess
import sys

MARK = re.compile(r"^<!-- program: ([A-Za-z_][A-Za-z0-9_]*) -->$")


def blocks(text):
    """(name, code, expected output or None) for each marked program."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        mark = MARK.match(lines[i].strip())
        if not mark:
            i += 1
            continue
        name = mark.group(1)
        i += 1
        if i >= len(lines) or lines[i].strip() != "```cpp":
            raise SystemExit(f"program {name}: the line after its mark must open a ```cpp block")
        end = lines.index("```", i + 1)
        code = "\n".join(lines[i + 1:end]) + "\n"
        i = end + 1
        expected = None
        j = i
        while j < len(lines) and not lines[j].startswith("#") and not MARK.match(lines[j].strip()):
            if lines[j].strip() == "```text":
                close = lines.index("```", j + 1)
                expected = "\n".join(lines[j + 1:close]) + "\n"
                break
            if lines[j].startswith("```"):
                break  # another kind of block: the program shows no output
            j += 1
        found.append((name, code, expected))
    return found


def extract(document, outdir):
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = []
    for name, code, expected in blocks(pathlib.Path(document).read_text()):
        if name in names:
            raise SystemExit(f"{document}: two programs named {name}")
        names.append(name)
        path = outdir / f"{name}.cpp"
        if not path.exists() or path.read_text() != code:  # keep timestamps when unchanged
            path.write_text(code)
        out = outdir / f"{name}.expected"
        if expected is None:
            out.unlink(missing_ok=True)
        elif not out.exists() or out.read_text() != expected:
            out.write_text(expected)
    print(";".join(names), end="")


def check(program, expected_path=None):
    done = subprocess.run([program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{program}: exit status {done.returncode}")
    if expected_path and pathlib.Path(expected_path).exists():
        got = done.stdout.splitlines()
        at = 0
        for want in pathlib.Path(expected_path).read_text().splitlines():
            while at < len(got) and got[at] != want:
                at += 1
            if at == len(got):
                raise SystemExit(f"{program}: the document says it prints {want!r} (in that order)")
            at += 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "extract":
        extract(sys.argv[2], sys.argv[3])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)
