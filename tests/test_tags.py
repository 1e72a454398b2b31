"""YAML tags and merge keys read as Kubernetes reads them (sigs.k8s.io/yaml, whose rules are
yaml.v2's), with the real kubectl as the oracle: ``kubectl annotate --local -f FILE -o json``
shows what the API server would receive.

For every case the document is changed by a rule, so it is re-serialised: what kubectl reads
from our output must be what it reads from the input, and what kubectl refuses we refuse. The
one deliberate difference: a key written twice in one mapping, which kubectl's reader lets the
last one win, is refused here (next to a merge key too), because one of the two values would
silently be lost.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from postrender.api import render
from postrender.errors import PostRenderError
from postrender.stream.parse import go_timestamp, parse_document, screen_document
from postrender.stream.split import split

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

RULES = {
    "apiVersion": "velero-postrender/v1",
    "kind": "RuleSet",
    "rules": [{"name": "db", "match": {"kinds": ["StatefulSet"]}, "hooks": {"preBackup": {"command": ["/bin/true"]}}}],
}
STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    spec:
      containers: [{name: db, image: postgres}]
extra: {value}
"""


def document(value: str) -> str:
    return STATEFULSET.replace("{value}", value)


def kubectl_view(text: str, tmp_path: Path) -> Any:
    """The document's ``extra`` field as kubectl reads it, or ``"refused: ..."``."""
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    done = subprocess.run([str(KUBECTL), "annotate", "--local", "-f", str(path), "-o", "json", "k=v"],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return "refused: " + done.stderr.strip()
    return json.loads(done.stdout).get("extra")


def ours(text: str) -> str:
    """Our output (the document changed by the rule), or ``"refused: ..."``."""
    try:
        return render(text, [RULES]).text
    except PostRenderError as exc:
        return "refused: " + str(exc)


CASES = [
    # sets, ordered maps and pairs: yaml.v2 ignores these tags
    "!!set {b, a, c}",
    "!!omap [{b: 1}, {a: 2}]",
    "!!pairs [{b: 1}, {b: 2}, {a: 3}]",
    # !!binary: base64 with line breaks, nothing else
    "!!binary aGk=",
    '!!binary "aGk=\\n"',
    "!!binary aGk",
    '!!binary "a G k ="',
    '!!binary "aGk=!"',
    '!!binary ""',
    # !!timestamp: yaml.v2's layouts, dates that exist; plain dates are strings
    "!!timestamp 2001-02-03",
    "!!timestamp 2001-2-3",
    '!!timestamp "2001-02-03 10:00:00"',
    "!!timestamp 2001-02-03  10:00:00",
    "!!timestamp 2001-02-03T1:2:3Z",
    "!!timestamp 2001-02-03t10:00:00,5Z",
    "!!timestamp 2000-02-29",
    "!!timestamp 2001-02-30",
    "!!timestamp 1900-02-29",
    "!!timestamp 2001-02-03T10:00:00",
    "!!timestamp 2001-02-03 10:00:00 +5",
    "!!timestamp 2001-02-03T10:00:00+05",
    "!!timestamp 2001-02-03T10:00:00+25:00",
    "!!timestamp 2001-02-03 24:00:00",
    "!!timestamp 2001-02-03T10:00:60Z",
    "!!timestamp z",
    "2001-02-03",
    "2001-02-30",
    "2001-12-14 21:59:43.10 -5",
    "{2001-02-03: x}",
    # merge keys where they stand, as yaml.v2 applies them
    "{a: 1, <<: {a: 2}}",
    "{<<: {a: 1}, a: 2}",
    "{<<: {a: 1}, a: 2, <<: {a: 3}}",
    "{<<: [{a: 1}, {a: 2, b: 2}], b: 3}",
    "{a: 1, <<: [{a: 2}, {a: 3}]}",
    "{<<: 1}",
    "{<<: [1]}",
    # keys as the API server's JSON holds them
    "{on: 1, 1: 2}",
    "{<<: {on: 1}, 1: 2}",
    "{<<: [{on: 1}, {yes: 3}], x: 2}",
    "{<<: {on: 1}, yes: 2}",
    "{on: 1, 'on': 2}",
    "{~: 1}",
    "{1.5: a}",
    "{=: x}",
]


@needs_kubectl
@pytest.mark.parametrize("value", CASES)
def test_what_kubectl_reads_from_our_output_is_what_it_reads_from_the_input(value, tmp_path):
    text = document(value)
    expected = kubectl_view(text, tmp_path)
    output = ours(text)
    if isinstance(expected, str) and expected.startswith("refused: "):
        assert output.startswith("refused: "), f"kubectl refuses it, we wrote:\n{output}"
        assert "document 1 (line 9)" in output
        return
    assert not output.startswith("refused: "), output
    assert "pre.hook.backup.velero.io/command" in output  # changed, so re-serialised
    assert kubectl_view(output, tmp_path) == expected, output


@needs_kubectl
@pytest.mark.parametrize("value", [
    "{a: 1, a: 2}",
    "{<<: {a: 1}, b: 2, b: 3}",
    "{b: 2, <<: {a: 1}, b: 3}",
    "{on: 1, yes: 2}",
    "{1: a, '1': b}",
    "{on: a, 'true': b}",
    "{1: a, 1.0: b}",
])
def test_a_key_written_twice_is_refused_next_to_merge_keys_too(value, tmp_path):
    """kubectl's reader keeps the last of two equal keys (one value silently lost); we refuse both spellings
    of one JSON key, with or without a merge key in the mapping."""
    assert not str(kubectl_view(document(value), tmp_path)).startswith("refused")
    output = ours(document(value))
    assert output.startswith("refused: ") and "duplicate key" in output and "document 1 (line 9)" in output


@pytest.mark.parametrize("seed", ["0", "1", "2", "3"])
def test_a_set_keeps_its_order_whatever_the_hash_seed(seed, tmp_path):
    """Python's sets follow the string hash, which PYTHONHASHSEED changes per process: a set would be
    written in another order on every run. Members keep the order they were written in."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))  # JSON is YAML
    text = document("!!set {zeta, alpha, mu, beta, omega, kappa, delta, pi}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "HELM_PLUGIN"))}
    outputs = {subprocess.run([sys.executable, "-m", "postrender", "--rules", str(rules)], input=text.encode(),
                              capture_output=True, env={**env, "PYTHONHASHSEED": value}, cwd=ROOT,
                              timeout=120).stdout for value in (seed, str(int(seed) + 10), "random")}
    assert len(outputs) == 1
    out = outputs.pop().decode()
    members = [line.strip().split(":")[0] for line in out.split("extra:", 1)[1].splitlines() if line.strip()]
    assert members == ["zeta", "alpha", "mu", "beta", "omega", "kappa", "delta", "pi"]


def test_omap_and_pairs_keep_their_pairs_as_written():
    data = render(document("!!pairs [{b: 1}, {b: 2}, {a: 3}]"), [RULES]).text
    assert "extra:\n- b: 1\n- b: 2\n- a: 3\n" in data
    data = render(document("!!omap [{b: 1}, {a: 2}]"), [RULES]).text
    assert "extra:\n- b: 1\n- a: 2\n" in data


def test_on_and_yes_keys_are_written_back_as_written():
    out = render(document("{on: 1, 1: 2, 'yes': 4}"), [RULES]).text
    assert "extra:\n  on: 1\n  1: 2\n  'yes': 4\n" in out


@pytest.mark.parametrize("value, accepted", [
    ("2001-02-03", True), ("2001-2-3", True), ("2001-02-03T10:00:00Z", True), ("2001-02-03t10:00:00.5+01:00", True),
    ("2001-02-03 10:00:00", True), ("2001-02-03   1:2:3.25", True), ("2000-02-29", True), ("2001-02-03T10:00:00,5Z", True),
    ("2001-02-03T10:00:00", False), ("2001-02-03T10:00:00z", False), ("2001-02-03 10:00:00Z", False),
    ("1900-02-29", False), ("2001-13-01", False), ("2001-02-03T24:00:00Z", False), ("02001-02-03", False),
    ("2001-02-03T10:00:00+24:00", True), ("2001-02-03T10:00:00+24:61", False), ("", False), ("2001-02-03\t10:00:00", False),
])
def test_go_timestamps(value, accepted):
    assert go_timestamp(value) is accepted


@pytest.mark.parametrize("body", ["{on: a, yes: b}", "{1: a, '1': b}", "{1: a, 01: b}", "{~: 1}", "{1.0: a, 1: b}",
                                  "{on: 1, 1: 2}", "{y: 1, Y: 2}", "{a: 1}"])
def test_the_screen_refuses_the_keys_the_parse_refuses(body):
    """A document no rule can select is only structure-checked (``screen_document``): it must refuse
    exactly the keys a full parse refuses."""
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata: {body}\n"
    screened, parsed = screen_document(split(text)[0]), parse_document(split(text)[0])
    assert (screened is None) == (parsed is None), (screened, parsed)
    if parsed is not None and screened is not None:
        assert screened.location == parsed.location
