"""Strings the tool writes reach Kubernetes as strings: every decoder of the path reads them back.

The decoders are the real ones, offline: ``kubectl annotate --local -o json`` decodes with
sigs.k8s.io/yaml (yaml.v2 rules, the decoder of kubectl and Helm) into the typed objects the
API server takes; a small Go program built against Debian's gopkg.in/yaml.v2 and yaml.v3
sources (yaml.v3 is kyaml's, used by kustomize and Helm 4) reports the Go type of every
value; and PyYAML. Adversarial values are the ones Go reads as numbers, booleans, null or dates:
``1e3``, ``0o17``, ``y``, ``on``, ``1_000``, ``0x1F``, ``.inf``, ``~``...
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.api import render
from postrender.stream.emit import dump_data, plain_is_string

KUBECTL = Path("/usr/bin/kubectl")
GOPATH = Path("/usr/share/gocode")
RULES_FILE = "rules.yaml"

# Read by yaml.v2 (sigs.k8s.io/yaml) and/or yaml.v3 as something other than a string when plain.
NOT_STRINGS_TO_GO = [
    "1e3", "1E3", "+12e03", "1e-3", "1.", ".5", "0o17", "0O17", "0x1F", "0x1f", "-0x1F", "0b101", "-0b1", "0777",
    "089", "1_000", "+_1", "-1", "+1", "0", "y", "Y", "n", "N", "yes", "Yes", "no", "NO", "on", "On", "off", "OFF",
    "true", "True", "FALSE", "~", "null", "Null", "NULL", ".inf", "-.inf", "+.INF", ".nan", ".NaN", "2001-12-14",
    "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10",
]
# Strings to PyYAML only when quoted (YAML 1.1 sexagesimal, merge key, value key...): PyYAML's emitter quotes them.
NOT_STRINGS_TO_PYYAML = ["12:30", "190:20:30.15", "<<", "="]
# Plain strings for everyone: written plain (no needless quotes in changed documents).
PLAIN = ["abc", "v1", "1.2.3", "1-abc", "e3", "1e", "0xG", "_1", "yEs?", "nginx:1.27", "-", "."]
DNS_LABELS = [v for v in NOT_STRINGS_TO_GO if v == v.lower() and v.replace("-", "").isalnum() and v[0].isalnum()
              and v[-1].isalnum()]

GO_ORACLE = r"""
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	yaml2 "gopkg.in/yaml.v2"
	yaml3 "gopkg.in/yaml.v3"
)

// Every value of a flat mapping as [Go type, fmt %v] for yaml.v2 and yaml.v3.
func main() {
	data, _ := io.ReadAll(os.Stdin)
	var v2 map[string]interface{}
	var v3 map[string]interface{}
	if err := yaml2.Unmarshal(data, &v2); err != nil {
		fmt.Fprintln(os.Stderr, "yaml.v2:", err)
		os.Exit(1)
	}
	if err := yaml3.Unmarshal(data, &v3); err != nil {
		fmt.Fprintln(os.Stderr, "yaml.v3:", err)
		os.Exit(1)
	}
	out := map[string]map[string][2]string{"v2": {}, "v3": {}}
	for k, v := range v2 {
		out["v2"][k] = [2]string{fmt.Sprintf("%T", v), fmt.Sprintf("%v", v)}
	}
	for k, v := range v3 {
		out["v3"][k] = [2]string{fmt.Sprintf("%T", v), fmt.Sprintf("%v", v)}
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
"""


@pytest.fixture(scope="session")
def go_oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go program above, built offline against Debian's golang-gopkg-yaml.v2-dev/v3-dev."""
    go = shutil.which("go")
    sources = [GOPATH / "src" / "gopkg.in" / name for name in ("yaml.v2", "yaml.v3")]
    if go is None or not all(source.is_dir() for source in sources):
        pytest.skip("needs Debian's golang-go, golang-gopkg-yaml.v2-dev and golang-gopkg-yaml.v3-dev")
    work = tmp_path_factory.mktemp("go-oracle")
    (work / "main.go").write_text(GO_ORACLE)
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": str(GOPATH), "GOCACHE": str(work / "cache"),
           "GOFLAGS": "", "CGO_ENABLED": "0"}
    done = subprocess.run([go, "build", "-o", str(work / "oracle"), str(work / "main.go")], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return work / "oracle"


def go_types(oracle: Path, text: str) -> dict[str, dict[str, list[str]]]:
    done = subprocess.run([str(oracle)], input=text.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, dict[str, list[str]]] = json.loads(done.stdout)
    return result


def json_objects(text: str) -> list[Any]:
    """The JSON values kubectl prints one after the other (one per object of the file)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    position = 0
    while text[position:].strip():
        value, end = decoder.raw_decode(text, position + len(text[position:]) - len(text[position:].lstrip()))
        found.append(value)
        position = end
    return found


def as_mapping(values: list[str]) -> dict[str, str]:
    return {f"k{index}": value for index, value in enumerate(values)}


def assert_strings_for_every_decoder(oracle: Path, values: list[str]) -> None:
    mapping = as_mapping(values)
    text = dump_data(mapping)
    assert yaml.safe_load(text) == mapping, text
    decoded = go_types(oracle, text)
    for decoder in ("v2", "v3"):
        for key, value in mapping.items():
            assert decoded[decoder][key] == ["string", value], f"yaml.{decoder} reads {value!r} as {decoded[decoder][key]}"


# --- the rule itself, against the Go decoders -------------------------------------------------

def test_the_go_decoders_disagree_with_pyyaml_on_plain_scalars(go_oracle: Path) -> None:
    """Why PyYAML's own quoting is not enough: these plain scalars are strings to PyYAML only."""
    plain = "".join(f"k{index}: {value}\n" for index, value in enumerate(NOT_STRINGS_TO_GO))
    decoded = go_types(go_oracle, plain)
    for index, value in enumerate(NOT_STRINGS_TO_GO):
        types = {decoded["v2"][f"k{index}"][0], decoded["v3"][f"k{index}"][0]}
        assert types != {"string"}, f"{value!r} is a string to both Go decoders: it does not belong in this list"
    assert any(isinstance(v, str) for v in yaml.safe_load(plain).values())


def test_plain_is_string_matches_the_go_decoders(go_oracle: Path) -> None:
    for value in NOT_STRINGS_TO_GO:
        assert not plain_is_string(value), value
    for value in PLAIN + ["12:30"]:
        assert plain_is_string(value), value
    plain = "".join(f"k{index}: {value}\n" for index, value in enumerate(PLAIN[:-2]))  # "-" and "." need quotes
    decoded = go_types(go_oracle, plain)
    for index, value in enumerate(PLAIN[:-2]):
        assert decoded["v2"][f"k{index}"] == ["string", value] == decoded["v3"][f"k{index}"]


def test_adversarial_strings_are_quoted_and_plain_ones_are_not(go_oracle: Path) -> None:
    assert_strings_for_every_decoder(go_oracle, NOT_STRINGS_TO_GO + NOT_STRINGS_TO_PYYAML + PLAIN)
    for value in NOT_STRINGS_TO_GO + NOT_STRINGS_TO_PYYAML:
        assert dump_data({"k": value}) in (f"k: '{value}'\n", f'k: "{value}"\n'), value
    for value in PLAIN[:-2]:
        assert dump_data({"k": value}) == f"k: {value}\n"


_NUMBERISH = st.from_regex(r"[-+]?(0[xXoObB])?[0-9a-fA-F_]{0,6}(\.[0-9_]{0,3})?([eE][-+]?[0-9]{1,3})?(:[0-9]{2})?",
                           fullmatch=True)
_DATES = st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([ tT][0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?)?", fullmatch=True)
_WORDS = st.tuples(st.sampled_from(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ".inf", "-.inf",
                                    ".nan", "<<"]), st.randoms(use_true_random=False)).map(
    lambda pair: "".join(c.upper() if pair[1].random() < 0.5 else c for c in pair[0]))
_STRINGS = _NUMBERISH | _DATES | _WORDS | st.text(st.sampled_from("0123456789+-._eExXoObB:yYnN~ #'\"\n"), max_size=8) \
    | st.text(max_size=12)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_STRINGS, min_size=1, max_size=40))
def test_any_string_is_read_back_as_itself(go_oracle: Path, values: list[str]) -> None:
    """Property: whatever the string, PyYAML, yaml.v2 and yaml.v3 read back exactly it."""
    values = [v for v in values if "\x00" not in v and "\ufeff" not in v]
    if values:
        assert_strings_for_every_decoder(go_oracle, values)


# --- through the tool, decoded by kubectl -------------------------------------------------------

def _workload(index: int, container: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"w{index}", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": f"w{index}"}},
            "template": {
                "metadata": {"labels": {"app": f"w{index}"}},
                "spec": {"containers": [{"name": container, "image": "busybox:1.36"}]},
            },
        },
    }


def _rule(index: int, value: str) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": f"r{index}",
        "match": {"kinds": ["Deployment"], "names": [f"w{index}"]},
        "container": value,
        "hooks": {"preBackup": {"command": ["sync"]},
                  "initRestore": {"image": value, "command": [value]}},
    }
    if value in DNS_LABELS:
        rule["scratch"] = {"name": value, "mountPath": "/scratch"}
    return rule


def test_adversarial_names_reach_kubectl_as_strings(tmp_path: Path) -> None:
    """Container names, scratch volume names and annotation values such as 1e3, y or 0o17,
    rendered by the command line and decoded offline by kubectl: each comes back as the same
    JSON string (a bool or a number would make kubectl refuse the object)."""
    if not KUBECTL.exists():
        pytest.skip("/usr/bin/kubectl is missing: it is the sigs.k8s.io/yaml oracle")
    values = NOT_STRINGS_TO_GO + NOT_STRINGS_TO_PYYAML
    # the input as Helm renders it: quoted where Go would type the value
    stream = yaml.safe_dump_all([_workload(i, v) for i, v in enumerate(values)], sort_keys=False, default_style='"')
    rules = {"apiVersion": "velero-postrender/v1", "kind": "RuleSet", "rules": [_rule(i, v) for i, v in enumerate(values)]}
    (tmp_path / RULES_FILE).write_text(yaml.safe_dump(rules, sort_keys=False))
    done = run_cli(["--rules", str(tmp_path / RULES_FILE)], stream)
    assert done.returncode == 0, done.stderr.decode()
    out = tmp_path / "out.yaml"
    out.write_bytes(done.stdout)

    decoded = subprocess.run([str(KUBECTL), "annotate", "--local", "-f", str(out), "-o", "json", "dummy=x"],
                             capture_output=True, text=True, timeout=120)
    assert decoded.returncode == 0, decoded.stderr
    items = json_objects(decoded.stdout)
    by_pyyaml = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert len(items) == len(by_pyyaml) == len(values)
    for value, item, parsed in zip(values, items, by_pyyaml):
        for obj in (item, parsed):
            template = obj["spec"]["template"]
            annotations = template["metadata"]["annotations"]
            assert annotations["pre.hook.backup.velero.io/container"] == value
            assert annotations["init.hook.restore.velero.io/container-image"] == value
            assert json.loads(annotations["init.hook.restore.velero.io/command"]) == [value]
            assert template["spec"]["containers"][0]["name"] == value
            if value in DNS_LABELS:
                assert annotations["backup.velero.io/backup-volumes"] == value
                assert template["spec"]["volumes"] == [{"name": value, "emptyDir": {}}]
                assert template["spec"]["containers"][0]["volumeMounts"] == [{"name": value, "mountPath": "/scratch"}]


def test_unchanged_plain_scalars_keep_their_meaning_for_go(tmp_path: Path) -> None:
    """A changed document is re-serialised: a plain ``0o644`` or ``0x10`` the input gave (a
    number to Go, a string to PyYAML) is written back plain, so kubectl reads what it read before."""
    if not KUBECTL.exists():
        pytest.skip("/usr/bin/kubectl is missing: it is the sigs.k8s.io/yaml oracle")
    source = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 0x2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1_0
      containers:
        - name: app
          image: busybox
          volumeMounts: [{name: config, mountPath: /etc/app}]
      volumes:
        - name: config
          configMap: {name: app, defaultMode: 0o644}
"""
    rules = {"apiVersion": "velero-postrender/v1", "kind": "RuleSet",
             "rules": [{"name": "r", "match": {"kinds": ["Deployment"]}, "hooks": {"preBackup": {"command": ["sync"]}}}]}
    output = render(source, [rules]).text
    assert "defaultMode: 0o644" in output and "terminationGracePeriodSeconds: 1_0" in output
    decoded = []
    for index, text in enumerate((source, output)):
        path = tmp_path / f"{index}.yaml"
        path.write_text(text)
        done = subprocess.run([str(KUBECTL), "annotate", "--local", "-f", str(path), "-o", "json", "dummy=x"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        decoded.append(json.loads(done.stdout))
    before, after = decoded
    assert after["spec"]["template"]["spec"]["volumes"] == before["spec"]["template"]["spec"]["volumes"]
    assert after["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"] == 0o644
    assert after["spec"]["replicas"] == before["spec"]["replicas"] == 2
    assert after["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 10
