"""Write the seed inputs of the CLI fuzz target into a directory: python fuzz/seeds.py DIR.

A seed is one byte choosing the command line (see ``COMMANDS`` in fuzz_cli.py: 0-5, 8 and 9
read the stream on stdin, 6, 7 and 10 take the bytes as a rules file, 11-13 as arguments)
followed by the payload: each document of the fixture corpus, the hostile cases of
tests/test_hostile_input.py, tests/test_tags.py and tests/test_process_conditions.py (tags and
merge keys as Kubernetes reads them, NUL bytes, forged names, rules with a catastrophic
regular expression or an exploding JSONPath, arguments that are not UTF-8), and the example
rules.
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


EXTRA = b"extra: %s\n"
TAGS = [  # what tests/test_tags.py checks against kubectl
    b"!!set {b, a, c}", b"!!omap [{b: 1}, {a: 2}]", b"!!pairs [{b: 1}, {b: 2}]", b"!!binary aGk=", b"!!binary aGk",
    b'!!binary "a G k ="', b"!!timestamp 2001-2-3", b"!!timestamp 2001-02-30", b"!!timestamp 2001-02-03T10:00:00",
    b"{a: 1, <<: {a: 2}}", b"{<<: [{a: 1}, {a: 2, b: 2}], b: 3}", b"{<<: {a: 1}, b: 2, b: 3}", b"{<<: {on: 1}, 1: 2}",
    b"{on: 1, yes: 2}", b"{1: a, '1': b}", b"{~: 1}", b"{<<: 1}", b"2001-12-14 21:59:43.10 -5",
]
HOSTILE += [STS + EXTRA % tag for tag in TAGS]
HOSTILE += [
    STS + b"# a NUL \x00 in a comment\n",
    b"\x00" * 64,
    STS.replace(b"name: db", b'name: "db\\nerror: forged\\e[31m\\u202e"', 1),
    STS.replace(b"image: postgres:16", b"image: " + b"a" * 40 + b"!"),
    b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + b"{a: " * 60 + b"[1, 2]" + b"}" * 60 + b"\n",
]
RULE = b"""apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: db
    match: %s
    hooks: {preBackup: {command: [/bin/true]}}
"""
HOSTILE_RULES = [
    RULE % b"{images: ['(a+)+$']}",
    RULE % b"{images: ['(?<=bitnami/)postgres', '(a)\\1', 'x\\Z', 'a{1001}']}",
    RULE % b"{kinds: [StatefulSet], jsonpath: '$..*..*..*..*'}",
    RULE % b"{names: ['*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b']}",
    RULE.replace(b"name: db", b'name: "db\\nerror: forged\\e]0;x\\a"') % b"{kinds: [StatefulSet]}",
    RULE % b"{kinds: [StatefulSet]}" + b"params: {a: 1, <<: {a: 2}}\n",
]
ARGUMENTS = [  # for the "argv" roles: NUL-separated words, raw bytes (undecodable ones too)
    b"--set\0a=\xff\0--preset\0postgresql",
    b"explain\0--set\0size=caf\xe9\0--rules\0/nonexistent",
    b"lint\0--rules\0/dev/zero",
    b"--rules\0../../../etc/passwd\0--max-input-bytes\0\xff",
    b"presets\0post\ngres\x1b[2J",
    b"export\0flux\0--preset\0postgresql\0--file\0-",
    b"schema\0--help",
    b"diff\0-p\0redis\0-o\0json",
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
    for case in HOSTILE_RULES:
        for selector in (6, 7, 10):
            write(directory, bytes([selector]) + case)
    for case in ARGUMENTS:
        for selector in (11, 12, 13):
            write(directory, bytes([selector]) + case)
    for number, case in enumerate(HOSTILE):
        write(directory, bytes([8 if number % 2 else 9]) + case)
    rules = (ROOT / "examples" / "reference" / "rules.yaml").read_bytes()
    for selector in (6, 7):
        write(directory, bytes([selector]) + rules)
        write(directory, bytes([selector]) + rules.replace(b"name: postgres", b"name: postgres\n    name: again"))
        write(directory, bytes([selector]) + rules.replace(b"kinds: [StatefulSet]", b"kinds: !!python/name:os.system"))


if __name__ == "__main__":
    main()
