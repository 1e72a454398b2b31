"""The published JSON Schema (``velero-postrender schema``) accepts every shipped rules file and
agrees with the loader's own validation, so an editor never contradicts a real run."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLES, ROOT
from typer.testing import CliRunner

from postrender.cli.app import app
from postrender.ruleset.schema import RULESET, to_json_schema, validate

jsonschema = pytest.importorskip("jsonschema")

RULES_FILES = sorted((ROOT / "rules").glob("*.yaml")) + sorted(EXAMPLES.glob("**/rules*.yaml"))

VALID: dict[str, Any] = {
    "apiVersion": "velero-postrender/v1",
    "kind": "RuleSet",
    "params": {"size": "1Gi", "on": True, "count": 3},
    "rules": [{
        "name": "pg",
        "enabled": "{{ on }}",
        "match": {"kinds": ["StatefulSet"], "labels": {"app": "pg"}, "images": ["postgres"]},
        "container": "postgresql",
        "scratch": {"mountPath": "/scratch", "volume": {"emptyDir": {"sizeLimit": "{{ size }}"}}},
        "hooks": {
            "preBackup": {"script": "pg_dump > /scratch/d.sql", "timeout": "3m", "onError": "Fail"},
            "postRestore": {"command": ["sh", "-c", "psql < /scratch/d.sql"], "waitForReady": True},
            "initRestore": {"image": "busybox:1.36", "command": ["true"]},
        },
    }],
}


def validator() -> Any:
    schema = to_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_accepts(data: Any) -> bool:
    return validator().is_valid(data)


def test_the_schema_is_valid_json_schema_2020_12() -> None:
    schema = json.loads(CliRunner().invoke(app, ["schema"]).stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == to_json_schema()


def test_there_are_rules_files_to_check() -> None:
    assert any(path.is_relative_to(EXAMPLES) for path in RULES_FILES)


@pytest.mark.parametrize("path", RULES_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_preset_and_example_validates(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(data)]
    assert errors == []
    assert validate(data, RULESET) == []


@pytest.mark.parametrize("path", RULES_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_rules_files_point_editors_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1].strip()).resolve()
    assert target == (ROOT / "docs" / "rules.schema.json").resolve()


def test_a_misspelt_key_is_rejected_by_both() -> None:
    data = copy.deepcopy(VALID)
    data["rules"][0]["mach"] = data["rules"][0].pop("match")
    assert not schema_accepts(data)
    messages = [(v.path, v.message, v.hint) for v in validate(data, RULESET)]
    assert (("rules", 0, "mach"), "unknown key", "did you mean 'match'?") in messages


def _edit(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    node: Any = data
    for step in path[:-1]:
        node = node[step]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()
R = ("rules", 0)
H = (*R, "hooks")

CASES = {
    "valid": VALID,
    "wrong apiVersion": _edit(("apiVersion",), "v2"),
    "no rules": _edit(("rules",), _DELETE),
    "rule without name": _edit((*R, "name"), _DELETE),
    "enabled not boolean": _edit((*R, "enabled"), "maybe"),
    "enabled word": _edit((*R, "enabled"), "yes"),
    "kinds not a list": _edit((*R, "match", "kinds"), "StatefulSet"),
    "label value not a string": _edit((*R, "match", "labels"), {"app": 3}),
    "scratch without mountPath": _edit((*R, "scratch", "mountPath"), _DELETE),
    "two volume sources": _edit((*R, "scratch", "volume"), {"emptyDir": {}, "hostPath": {"path": "/x"}}),
    "command and script": _edit((*H, "preBackup", "command"), ["true"]),
    "neither command nor script": _edit((*H, "preBackup", "script"), _DELETE),
    "empty command": _edit((*H, "postRestore", "command"), []),
    "onError unknown": _edit((*H, "preBackup", "onError"), "Ignore"),
    "onError placeholder": _edit((*H, "preBackup", "onError"), "{{ mode }}"),
    "timeout a number": _edit((*H, "preBackup", "timeout"), 30),
    "init hook without image": _edit((*H, "initRestore", "image"), _DELETE),
    "init hook with container": _edit((*H, "initRestore", "container"), "x"),
    "unknown phase": _edit((*H, "preRestore"), {"command": ["true"]}),
    "param a list": _edit(("params", "size"), ["1Gi"]),
}


@pytest.mark.parametrize("name", CASES)
def test_the_schema_and_the_loader_agree(name: str) -> None:
    data = CASES[name]
    assert schema_accepts(data) == (validate(data, RULESET) == []), name
