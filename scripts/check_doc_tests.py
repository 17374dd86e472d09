#!/usr/bin/env python3
"""Checks that every test a document cites exists.

docs/semantics.md names, for each rule, the tests that assert it, as `suite.name`
(or `suite.*`). A cited test that was renamed or removed would leave a rule without
its test while the page still claims one, so this script (a ctest test) fails when a
citation names no TEST, TEST_F or TEST_P in tests/.

Usage: scripts/check_doc_tests.py [document...]   (default: docs/semantics.md)
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
documents = [pathlib.Path(a) for a in sys.argv[1:]] or [root / "docs" / "semantics.md"]

defined = set()
test_macro = re.compile(r"\bTEST(?:_F|_P)?\(\s*(\w+)\s*,\s*(\w+)\s*\)")
for source in (root / "tests").rglob("*.cpp"):
    for suite, name in test_macro.findall(source.read_text(errors="replace")):
        defined.add((suite, name))
suites = {suite for suite, _ in defined}

citation = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*|\*)`")
missing = []
cited = 0
for document in documents:
    for number, line in enumerate(document.read_text().splitlines(), 1):
        for suite, name in citation.findall(line):
            cited += 1
            if (suite, name) in defined or (name == "*" and suite in suites):
                continue
            missing.append(f"{document.name}:{number}: {suite}.{name} names no test")

for m in missing:
    print(m)
print(f"{cited - len(missing)} passed, {len(missing)} failed")
sys.exit(1 if missing else 0)
