"""Output fidelity on the real fixtures: untouched documents byte for byte, only matched ones change."""

from __future__ import annotations

import pytest
import yaml
from conftest import ALL_FIXTURES, HELM3_FIXTURES, HELM4_FIXTURES

from postrender.api import render
from postrender.stream.split import split

NO_MATCH = {
    "apiVersion": "velero-postrender/v1",
    "kind": "RuleSet",
    "rules": [{"name": "nothing", "match": {"kinds": ["NoSuchKind"]}, "scratch": {"mountPath": "/scratch"}}],
}
WORKLOADS = {
    "apiVersion": "velero-postrender/v1",
    "kind": "RuleSet",
    "rules": [{
        "name": "workloads",
        "match": {"kinds": ["StatefulSet", "Deployment", "DaemonSet"]},
        "scratch": {"name": "velero-scratch", "mountPath": "/velero-scratch"},
        "hooks": {"preBackup": {"script": "sync", "timeout": "30s"}},
    }],
}


def _leading_lines(text: str) -> str:
    """The separator and comment lines before the first content line."""
    lines = text.splitlines(keepends=True)
    count = next(i for i, line in enumerate(lines) if not line.startswith(("#", "---")))
    return "".join(lines[:count])


def _ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


@pytest.mark.parametrize("fixture", ALL_FIXTURES, ids=_ids(ALL_FIXTURES))
def test_a_rule_set_that_matches_nothing_changes_no_byte(fixture):
    text = fixture.read_text()
    result = render(text, [NO_MATCH], allow_unmatched=True)
    assert result.text == text
    assert result.effects == []


@pytest.mark.parametrize("fixture", HELM3_FIXTURES + HELM4_FIXTURES, ids=_ids(HELM3_FIXTURES + HELM4_FIXTURES))
def test_only_the_matched_documents_change(fixture):
    text = fixture.read_text()
    kinds = {"StatefulSet", "Deployment", "DaemonSet"}
    has_workload = any(d and d.get("kind") in kinds for d in yaml.safe_load_all(text))
    if not has_workload:
        pytest.skip("fixture has no workload")  # none of the bitnami fixtures; kept for clarity
    result = render(text, [WORKLOADS])
    before, after = split(text), split(result.text)
    assert len(before) == len(after)
    for old, new in zip(before, after):
        data = yaml.safe_load(old.text)
        if isinstance(data, dict) and data.get("kind") in kinds:
            assert old.text != new.text
            # leading comments (`# Source:`) survive the re-serialisation
            assert new.text.startswith(_leading_lines(old.text))
            new_data = yaml.safe_load(new.text)
            assert list(new_data) == list(data)  # key order kept
            assert new_data["metadata"] == data["metadata"]  # workload metadata untouched
        else:
            assert old.text == new.text


@pytest.mark.parametrize("fixture", HELM4_FIXTURES, ids=_ids(HELM4_FIXTURES))
def test_helm4_filename_annotation_survives_on_changed_documents(fixture):
    result = render(fixture.read_text(), [WORKLOADS], allow_unmatched=True)
    for effect in result.effects:
        meta = effect.resource.obj["metadata"]
        assert "postrenderer.helm.sh/postrender-filename" in meta["annotations"]
        assert "postrenderer.helm.sh/postrender-filename" in effect.resource.document.text


def test_changed_documents_are_never_line_wrapped():
    long_script = "echo " + "x" * 500
    rules = {**WORKLOADS, "rules": [{**WORKLOADS["rules"][0], "hooks": {"preBackup": {"script": long_script}}}]}
    text = (HELM3_FIXTURES[0].parent / "postgresql.yaml").read_text()
    out = render(text, [rules]).text
    assert any(long_script in line for line in out.splitlines())
