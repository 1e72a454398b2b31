"""Write the seed inputs of the CLI fuzz target into a directory: python fuzz/seeds.py DIR.

A seed is one byte choosing the command line (see ``COMMANDS`` in fuzz_cli.py: 0-5 read the
stream on stdin, 6-7 take the bytes as a rules file) followed by the payload: each document
of the fixture corpus, the hostile cases of tests/test_hostile_input.py, and the example rules.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postrender.stream.split import split  # noqa: E402

STS = b"""apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
        - name: db
          image: postgres:16
"""
LAUGHS = b"data:\n  a: &a [lol, lol, lol, lol]\n  b: &b [*a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b]\n  d: [*c, *c, *c, *c]\n"
HOSTILE = [
    STS,
    STS.replace(b"\n", b"\r\n"),
    b"\xef\xbb\xbf---\n" + STS,
    b"--- # c\n" + STS + b"...\n%YAML 1.1\n---\n" + STS.replace(b"name: db\n", b"name: db2\n", 1),
    b"---\n---\n# only a comment\n---\n" + STS,
    b"apiVersion: v1\nkind: List\nitems:\n- " + STS.replace(b"\n", b"\n  ").rstrip() + b"\n",
    STS + b"          env: [{name: X, value: |\n            ---\n            -----\n}]\n",
    STS.replace(b"  name: db\n", b"  name: db\n  annotations: {a: \"on\", b: 0755, c: yes, d: ~, e: 0x1F}\n", 1),
    STS.replace(b"  name: db", b"\tname: db"),
    STS + b"x: \xff\xfe\n",
    b"- a\n- b\n",
    b"apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n",
    b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: !!python/object/apply:os.system [true]}\n",
    b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n" + LAUGHS,
    b"apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x, labels: *m}\n",
    b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: " + b"[" * 40 + b"]" * 40 + b"\n",
    STS.replace(b"metadata:\n  name: db\n", b"metadata: &m\n  name: db\n", 1).replace(
        b"      labels: {app: db}\n", b"      <<: *m\n"),
    b"apiVersion: x/v1\nkind: Widget\nmetadata: {name: w}\nspec: {template: {spec: {containers: [{name: c, image: i}]}}}\n",
]


def write(directory: Path, data: bytes) -> None:
    (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)  # noqa: S324 - a file name, not security


def main() -> None:
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    for number, case in enumerate(HOSTILE):
        for selector in (0, 3, 4 if number % 2 else 5):
            write(directory, bytes([selector]) + case)
    for number, path in enumerate(sorted((ROOT / "tests" / "fixtures").glob("*/*.yaml"))):
        for document in split(path.read_text(encoding="utf-8")):
            write(directory, bytes([number % 3]) + document.text.encode("utf-8")[:65535])
    rules = (ROOT / "examples" / "reference" / "rules.yaml").read_bytes()
    for selector in (6, 7):
        write(directory, bytes([selector]) + rules)
        write(directory, bytes([selector]) + rules.replace(b"name: postgres", b"name: postgres\n    name: again"))
        write(directory, bytes([selector]) + rules.replace(b"kinds: [StatefulSet]", b"kinds: !!python/name:os.system"))


if __name__ == "__main__":
    main()
