"""Fuzzing the pipeline with generated Kubernetes-like streams (merge, fidelity, errors).

A hypothesis strategy builds streams of random kinds (workloads with nested pod templates,
other resources, custom kinds, ``kind: List`` documents, comment-only and empty documents),
random existing annotations, volumes and mounts, comments, odd scalars, CRLF line endings,
``...`` end markers and separator comments. Every stream is rendered in-process with a
generated rule set, and either succeeds with all the stream guarantees holding, or fails
with located problems (never another exception). A second strategy feeds garbled streams.

The runs are derandomized (the same cases every run, so the suite is deterministic) and
sized to thousands of cases in well under a minute; ``FUZZ_EXAMPLES`` scales them.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.api import render
from postrender.errors import PostRenderError
from postrender.filters.podtemplate import POD_TEMPLATE_PATHS
from postrender.stream.split import split

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

WORKLOADS = sorted(POD_TEMPLATE_PATHS)
OTHERS = ["ConfigMap", "Service", "Secret", "ServiceAccount"]
CUSTOM = "Widget"  # a custom kind whose pod template sits at spec.podTemplate
VELERO = re.compile(r"^((pre|post)\.hook\.(backup|restore)|init\.hook\.restore|backup)\.velero\.io/")
ODD_SCALARS = ["0755", "0x1F", "yes", "no", "on", "Off", "~", "", "TRUE", "1_000", "1:30", "1.10", ".inf", "2001-12-14",
               '"on"', "'yes'", '"0755"', '"42"', "null", "-0", "+12", "0o17", "0b101"]

# Sampled pools keep generation cheap (thousands of cases a run); the odd values are in the pools.
NAMES = ["db", "web", "a0", "cache", "data", "logs", "x", "postgresql", "redis-master", "m-1", "tmp", "dump", "scratch"]
names = st.sampled_from(NAMES)
unicode_names = st.sampled_from(NAMES + ["datenbank-ü", "дб", "日本-db", "e\u0301t\u00e9"])
TEXTS = ["", "x", "true", "on", "0755", "1.0", "null", "a: b", "- x", "# not a comment", "multi\nline\n", "ü ✓ 日本",
         "  padded  ", "'quoted'", '"double"', "---", "...", "%YAML", "&anchor", "*alias", "!!python/name:os.system",
         "tab\there", "x" * 300, "{a: 1}", "[1, 2]", "\u2028", "\ufeff"]
plain_text = st.one_of(st.sampled_from(TEXTS), st.text(max_size=8))
annotation_keys = st.one_of(
    st.sampled_from(["helm.sh/hook", "helm.sh/hook-weight", "postrenderer.helm.sh/postrender-filename",
                     "kustomize.config.k8s.io/id", "checksum/config", "prometheus.io/scrape"]),
    names.map(lambda n: f"example.com/{n}"),
    st.sampled_from(["pre.hook.backup.velero.io/timeout", "backup.velero.io/backup-volumes-excludes"]),
)
annotations = st.dictionaries(annotation_keys, plain_text, max_size=4)


@st.composite
def containers(draw: Any) -> list[dict[str, Any]]:
    chosen = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    result = []
    for name in chosen:
        container: dict[str, Any] = {"name": name, "image": draw(st.sampled_from(
            ["postgres:16", "bitnami/postgresql:15", "redis:7", "docker.io/bitnami/mariadb:11", "busybox"]))}
        if draw(st.booleans()):
            container["env"] = [{"name": n, "value": draw(plain_text)}
                                for n in draw(st.lists(st.sampled_from(["PGPASSWORD", "USER", "HOME", "A_B"]), max_size=3,
                                                       unique=True))]
        result.append(container)
    return result


@st.composite
def pod_template(draw: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": draw(containers())}
    volume_names = draw(st.lists(names.filter(lambda n: n != "velero-scratch"), max_size=3, unique=True))
    if volume_names:
        spec["volumes"] = [{"name": n, "emptyDir": {}} for n in volume_names]
        for container in spec["containers"]:
            if draw(st.booleans()):
                container["volumeMounts"] = [{"name": n, "mountPath": f"/data/{n}"} for n in volume_names]
    metadata: dict[str, Any] = {}
    if draw(st.booleans()):
        metadata["labels"] = {"app": draw(names)}
    existing = draw(annotations)
    if volume_names and draw(st.booleans()):
        existing["backup.velero.io/backup-volumes"] = ",".join(volume_names[:2])
    if existing:
        metadata["annotations"] = existing
    template: dict[str, Any] = {"spec": spec}
    if metadata or draw(st.booleans()):
        template = {"metadata": metadata, "spec": spec}
    return template


def put(obj: dict[str, Any], path: tuple[str, ...], value: dict[str, Any]) -> None:
    node = obj
    for step in path[:-1]:
        node = node.setdefault(step, {})
    node[path[-1]] = value


@st.composite
def resource(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(WORKLOADS * 2 + OTHERS + [CUSTOM]))
    metadata: dict[str, Any] = {"name": draw(unicode_names)}
    if draw(st.booleans()):
        metadata["namespace"] = draw(names)
    if draw(st.booleans()):
        metadata["annotations"] = draw(annotations)
    obj: dict[str, Any] = {"apiVersion": "apps/v1" if kind in WORKLOADS else "v1", "kind": kind, "metadata": metadata}
    if kind == "Pod":
        template = draw(pod_template())
        obj.update({"spec": template["spec"]})
        if "metadata" in template:
            metadata.setdefault("annotations", {}).update(template["metadata"].get("annotations", {}))
    elif kind in POD_TEMPLATE_PATHS:
        obj["spec"] = {"replicas": draw(st.integers(0, 5))}
        put(obj, POD_TEMPLATE_PATHS[kind], draw(pod_template()))
        if kind == "StatefulSet" and draw(st.booleans()):
            claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            obj["spec"]["volumeClaimTemplates"] = [claim]
    elif kind == CUSTOM:
        obj["spec"] = {"podTemplate": draw(pod_template())}
    else:
        obj["data"] = draw(st.dictionaries(names, plain_text, max_size=3))
    return obj


def dump(obj: Any) -> str:
    return yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=2**31 - 1)


@st.composite
def document_text(draw: Any) -> str:
    """One document's text (without its separator): comments, a body, odd scalars."""
    head = draw(st.sampled_from(["", "# Source: chart/templates/x.yaml\n", "# a comment\n\n"]))
    shape = draw(st.sampled_from(["resource"] * 6 + ["list", "blank", "comment"]))
    if shape == "blank":
        return head
    if shape == "comment":
        return head + "# only a comment\n"
    if shape == "list":
        body = dump({"apiVersion": "v1", "kind": "List", "items": draw(st.lists(resource(), min_size=1, max_size=3))})
    else:
        body = dump(draw(resource()))
    odd = draw(st.lists(st.sampled_from(ODD_SCALARS), max_size=4))
    if odd:
        body += "x-odd:\n" + "".join(f"  odd{i}: {value}\n" if value else f"  odd{i}:\n" for i, value in enumerate(odd))
    if draw(st.booleans()):
        body += "# trailing comment\n"
    return head + body


@st.composite
def streams(draw: Any) -> str:
    documents = draw(st.lists(document_text(), min_size=1, max_size=6))
    parts = []
    for number, text in enumerate(documents):
        separator = draw(st.sampled_from(["---\n", "--- # separator\n", "" if number == 0 else "---\n"]))
        end = draw(st.sampled_from(["", "", "...\n"]))
        parts.append(separator + text + end)
    text = "".join(parts)
    if draw(st.integers(0, 9)) == 0:
        text = text.replace("\n", "\r\n")
    if draw(st.integers(0, 19)) == 0:
        text = "\ufeff" + text
    return text


@st.composite
def rule_sets(draw: Any) -> dict[str, Any]:
    count = draw(st.integers(1, 2))
    phases = ["preBackup", "postBackup", "postRestore"]
    rules = []
    for number in range(count):
        kinds = draw(st.lists(st.sampled_from(WORKLOADS + [CUSTOM]), min_size=1, max_size=3, unique=True))
        scratch = draw(st.sampled_from(["velero-scratch", "dump"]))
        rule: dict[str, Any] = {
            "name": f"r{number}",
            "match": {"kinds": kinds},
            "scratch": {"name": scratch, "mountPath": f"/{scratch}-{number}", "backup": draw(st.booleans())},
            "hooks": {phase: {"command": ["/bin/sh", "-c", f"echo {phase} > /{scratch}-{number}/x"]}
                      for phase in draw(st.lists(st.sampled_from(phases), min_size=1, max_size=2, unique=True))},
        }
        if CUSTOM in kinds:
            if len(kinds) > 1:
                rule["match"]["kinds"] = [CUSTOM]
            rule["podTemplate"] = "$.spec.podTemplate"
        if draw(st.booleans()):
            rule["match"]["images"] = [draw(st.sampled_from(["postgres", "redis", "maria", "."]))]
        rules.append(rule)
    return {"apiVersion": "velero-postrender/v1", "kind": "RuleSet", "rules": rules}


# --- the invariants -----------------------------------------------------------------------


def template_path(obj: dict[str, Any]) -> tuple[str, ...] | None:
    kind = obj.get("kind")
    if kind == CUSTOM:
        return ("spec", "podTemplate")
    return POD_TEMPLATE_PATHS.get(kind) if isinstance(kind, str) else None


def get(obj: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        obj = obj.get(step) if isinstance(obj, dict) else None
    return obj


def check_only_hook_changes(before: dict[str, Any], after: dict[str, Any]) -> None:
    """``after`` is ``before`` plus Velero annotations, volumes and mounts on the pod template."""
    path = template_path(before)
    if path is None:
        assert after == before
        return
    old, new = get(before, path), get(after, path)
    if new == old:
        assert after == before
        return
    old_meta = old.get("metadata") if isinstance(old.get("metadata"), dict) else {}
    new_meta = new["metadata"]
    old_annotations = old_meta.get("annotations") or {}
    added = {k: v for k, v in new_meta["annotations"].items() if k not in old_annotations}
    assert all(VELERO.match(k) for k in added), added
    assert all(isinstance(v, str) for v in new_meta["annotations"].values())
    for key, value in old_annotations.items():
        if not VELERO.match(key):
            assert new_meta["annotations"][key] == value
    for key, value in added.items():
        if key.endswith("/command"):
            assert isinstance(json.loads(value), list)
    old_volumes = old["spec"].get("volumes") or []
    assert new["spec"]["volumes"][:len(old_volumes)] == old_volumes
    volume_names = {v["name"] for v in new["spec"]["volumes"]}
    claims = {c["metadata"]["name"] for c in get(before, ("spec", "volumeClaimTemplates")) or []}
    for key in ("backup.velero.io/backup-volumes", "backup.velero.io/backup-volumes-excludes"):
        if key in new_meta["annotations"] and new_meta["annotations"][key] != old_annotations.get(key):
            listed = new_meta["annotations"][key].split(",")
            assert len(listed) == len(set(listed)) and set(listed) <= volume_names | claims
            if key in old_annotations:
                assert listed[:len(old_annotations[key].split(","))] == old_annotations[key].split(",")
    for old_container, new_container in zip(old["spec"]["containers"], new["spec"]["containers"], strict=True):
        old_mounts = old_container.get("volumeMounts") or []
        assert (new_container.get("volumeMounts") or [])[:len(old_mounts)] == old_mounts
        rest = {k: v for k, v in new_container.items() if k != "volumeMounts"}
        assert rest == {k: v for k, v in old_container.items() if k != "volumeMounts"}
    assert {k: v for k, v in new["spec"].items() if k not in ("volumes", "containers")} == {
        k: v for k, v in old["spec"].items() if k not in ("volumes", "containers")}
    assert {k: v for k, v in new_meta.items() if k != "annotations"} == {
        k: v for k, v in old_meta.items() if k != "annotations"}
    outside_before, outside_after = dict(before), dict(after)
    for data in (outside_before, outside_after):  # everything outside the pod template is untouched
        node = data
        for step in path[:-1]:
            node[step] = dict(node[step])
            node = node[step]
        node.pop(path[-1], None) if path else data.clear()
    assert outside_after == outside_before


def body_lines(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\n").split("\n") if line.startswith("  odd") or line.startswith("# ")]


@FUZZ
@given(text=streams(), ruleset=rule_sets())
def test_generated_streams_keep_every_guarantee(text: str, ruleset: dict[str, Any]) -> None:
    try:
        result = render(text, [ruleset], allow_unmatched=True)
    except PostRenderError as exc:
        assert exc.problems.errors
        for problem in exc.problems.errors:
            where = problem.location
            assert where.document is not None or where.file is not None or where.rule is not None, problem.render()
        return
    out = result.text
    assert render(text, [ruleset], allow_unmatched=True).text == out  # deterministic
    before, after = split(text), split(out)
    assert len(after) == len(before)  # number and order of documents
    if "\r\n" in text:
        assert "\n" not in out.replace("\r\n", "")
    for old, new, document in zip(before, after, result.documents, strict=True):
        if not document.changed:
            assert new.text == old.text  # byte for byte
            continue
        assert body_lines(old.text) == body_lines(new.text)  # comments and odd scalars as written
        old_data = yaml.safe_load(old.text.lstrip("\ufeff"))
        new_data = yaml.safe_load(new.text.lstrip("\ufeff"))
        if old_data.get("kind") == "List":
            assert len(new_data["items"]) == len(old_data["items"])
            for old_item, new_item in zip(old_data["items"], new_data["items"], strict=True):
                check_only_hook_changes(old_item, new_item)
            assert {k: v for k, v in new_data.items() if k != "items"} == {k: v for k, v in old_data.items() if k != "items"}
        else:
            check_only_hook_changes(old_data, new_data)
    again = render(out, [ruleset], allow_unmatched=True)
    assert again.text == out  # idempotent


GARBLE = ["---\n", "--- # x\n", "...\n", "%YAML 1.1\n", "\t", "\r", "\n", ": ", "- ", "[", "]", "{", "}", "&a ", "*a",
          "<<: *a\n", "!!python/object/apply:os.system ['true']", "!!binary ", "!custom ", "? ", "|\n", ">-\n", "#", "'",
          '"', "\\", "\ufeff", "ü", "\x00", "\x85", "\u2028", "kind: List\n", "items:\n", "metadata:\n  name: x\n",
          "kind: StatefulSet\n", "0755", "yes", "~", "2001-13-45", "!!int x", "!!float y", "!!timestamp z", "9" * 5000,
          "!!bool x", "!!set [1]", "!!omap {a: 1}", "? [a]\n: 1\n", "2001-02-30"]


@st.composite
def garbled_streams(draw: Any) -> str:
    text = draw(streams())
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(GARBLE), st.text(max_size=5)))
        cut = draw(st.integers(0, 3))
        text = text[:position] + piece + text[position + cut:]
    return text


@pytest.mark.slow
@FUZZ
@given(text=garbled_streams(), ruleset=rule_sets())
def test_garbled_streams_give_a_result_or_located_problems(text: str, ruleset: dict[str, Any]) -> None:
    try:
        result = render(text, [ruleset], allow_unmatched=True)
    except PostRenderError as exc:
        assert exc.problems.errors and all(p.render().startswith("error: ") for p in exc.problems.errors)
        return
    assert len(split(result.text)) == len(split(text))
    assert render(result.text, [ruleset], allow_unmatched=True).text == result.text
