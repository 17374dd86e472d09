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

Every other ```cpp block of a document is a fragment: declarations (types,
functions) and statements, as a reader would paste them into a program. They are
compiled, all of a document's fragments in one file:

  doc_programs.py fragments DOCUMENT CONTEXT OUT.cpp
      writes OUT.cpp: CONTEXT (a header declaring the names the fragments use without
      defining them: `server`, `fetch`, ...), then each fragment's declarations at
      namespace scope and its statements as the body of a coroutine of their own, in
      document order (and a main, if the document shows none). A block marked
      `<!-- not compiled -->` on the line before it is skipped.

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


NOT_COMPILED = "<!-- not compiled -->"
# A line that starts a declaration at namespace scope (a type, a template, an alias,
# a preprocessor line), or a function definition: a return type, a name, parameters
# and an opening brace.
DECLARATION = re.compile(
    r"^(struct|class|union|enum|template|namespace|using|typedef|static_assert|#)\b|^#")
FUNCTION = re.compile(r"^[A-Za-z_][\w:<>,*& ]*[\s*&]~?[A-Za-z_]\w*\s*\([^;=]*\)\s*"
                      r"(const\s*)?(noexcept\s*)?(->\s*[\w:<>, ]+\s*)?\{\s*(//.*)?$")


def code_of(line):
    """The line without comments and literals (for counting brackets)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])*'", "''", line)
    return line.split("//", 1)[0]


def split_fragment(code):
    """[(kind, lines)]: 'declaration' chunks and 'statements' chunks, in order."""
    chunks = []
    depth = 0
    for line in code.splitlines():
        text = code_of(line).strip()
        if depth == 0 and text:
            kind = ("declaration" if DECLARATION.match(text) or FUNCTION.match(text)
                    else "statements")
            if not chunks or chunks[-1][0] != kind or chunks[-1][2]:
                chunks.append([kind, [], False])
        elif not chunks:
            chunks.append(["statements", [], False])
        chunks[-1][1].append(line)
        depth += sum(text.count(c) for c in "({[") - sum(text.count(c) for c in ")}]")
        # A declaration ends with its closing brace (and `;` for a type).
        chunks[-1][2] = chunks[-1][0] == "declaration" and depth == 0 and bool(text)
    return [(kind, lines) for kind, lines, _ in chunks]


def fragment_blocks(text):
    """The ```cpp blocks that are neither programs nor marked not compiled."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.strip() != "```cpp":
            continue
        before = lines[i - 1].strip() if i > 0 else ""
        if MARK.match(before) or before == NOT_COMPILED:
            continue
        end = lines.index("```", i + 1)
        found.append((i + 1, "\n".join(lines[i + 1:end])))
    return found


def fragments(document, context, out):
    parts = [f'// The fragments of {pathlib.Path(document).name}, compiled '
             '(scripts/doc_programs.py).', f'#include "{pathlib.Path(context).resolve()}"', "",
             "// Fragments show a call and leave its result, or a parameter, unused."]
    parts += [f'#pragma GCC diagnostic ignored "-W{w}"' for w in
              ("unused-variable", "unused-but-set-variable", "unused-parameter", "unused-result",
               "shadow")]
    parts.append("")
    has_main = False
    count = 0
    for line_number, code in fragment_blocks(pathlib.Path(document).read_text()):
        for kind, lines in split_fragment(code):
            parts.append(f'#line {line_number + 1} "{document}"')
            if kind == "declaration":
                has_main |= any(re.match(r"^int main\(", l) for l in lines)
                parts.extend(lines)
            else:
                count += 1
                parts.append(f"beamline::process doc_fragment_{count}() {{")
                parts.extend(lines)
                parts.append("  co_return;")
                parts.append("}")
            line_number += len(lines)
        parts.append("")
    if not has_main:
        parts.append("int main() { return 0; }  // the fragments are compiled, not run")
    text = "\n".join(parts) + "\n"
    out = pathlib.Path(out)
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "fragments":
        fragments(*sys.argv[2:])
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "extract":
        extract(sys.argv[2], sys.argv[3])
    elif len(sys.argv) in (3, 4) and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        raise SystemExit(__doc__)
