"""Property tests (hypothesis) of the pipeline on streams built from the real fixtures:
only the rule's changes appear, applying twice equals once, documents keep count and order."""

from __future__ import annotations

from functools import lru_cache

import yaml
from conftest import HELM3_FIXTURES, HELM4_FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.api import render
from postrender.filters.podtemplate import POD_TEMPLATE_PATHS
from postrender.stream.split import split

KINDS = ["StatefulSet", "Deployment", "DaemonSet", "Job"]


@lru_cache(maxsize=1)
def corpus() -> list[str]:
    """Every document text of the fixtures, each ending with a newline."""
    texts: list[str] = []
    for path in HELM3_FIXTURES + HELM4_FIXTURES:
        for document in split(path.read_text()):
            text = document.text if document.text.endswith("\n") else document.text + "\n"
            texts.append(text if text.startswith("---") else "---\n" + text)
    return texts


streams = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=25).map(
    lambda picks: "".join(corpus()[i % len(corpus())] for i in picks))

rules = st.fixed_dictionaries({
    "kinds": st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True),
    "scratch": st.sampled_from(["velero-scratch", "dump", "backup-tmp"]),
    "phases": st.lists(st.sampled_from(["preBackup", "postBackup", "postRestore"]), min_size=1, max_size=3, unique=True),
    "backup": st.booleans(),
}).map(lambda r: {
    "apiVersion": "velero-postrender/v1", "kind": "RuleSet",
    "rules": [{
        "name": "generated",
        "match": {"kinds": r["kinds"]},
        "scratch": {"name": r["scratch"], "mountPath": f"/{r['scratch']}-mnt", "backup": r["backup"]},
        "hooks": {phase: {"script": f"echo {phase} > /{r['scratch']}-mnt/x"} for phase in r["phases"]},
    }],
})


def differences(before, after, path=()):
    """Paths where two parsed values differ (a key added or removed, a value changed)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in before.keys() | after.keys():
            if key not in before or key not in after:
                found.append(path + (key,))
            else:
                found.extend(differences(before[key], after[key], path + (key,)))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (a, b) in enumerate(zip(before, after)):
            found.extend(differences(a, b, path + (index,)))
        return found
    return [] if before == after else [path]


def allowed(path: tuple, kind: str) -> bool:
    """Only the pod template's annotations, volumes and volume mounts may change."""
    prefix = POD_TEMPLATE_PATHS[kind]
    if path[: len(prefix)] != prefix:
        return False
    rest = path[len(prefix):]
    return (rest[:2] == ("metadata", "annotations") or rest == ("metadata",) or rest[:2] == ("spec", "volumes")
            or (rest[:2] == ("spec", "containers") and len(rest) >= 4 and rest[3] == "volumeMounts"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams, ruleset=rules)
def test_only_the_rules_changes_appear_and_twice_equals_once(stream, ruleset):
    result = render(stream, [ruleset], allow_unmatched=True)
    before, after = split(stream), split(result.text)
    assert [d.index for d in before] == [d.index for d in after]
    touched = {id(e.resource.document) for e in result.effects if e.changed}
    for old, new, parsed in zip(before, after, result.documents):
        if id(parsed) not in touched:
            assert old.text == new.text
            continue
        old_data, new_data = yaml.safe_load(old.text), yaml.safe_load(new.text)
        kind = old_data["kind"]
        assert kind in ruleset["rules"][0]["match"]["kinds"]
        diffs = differences(old_data, new_data)
        assert diffs and all(allowed(p, kind) for p in diffs), diffs
    again = render(result.text, [ruleset], allow_unmatched=True)
    assert again.text == result.text


@settings(max_examples=60, deadline=None)
@given(stream=streams)
def test_documents_keep_their_number_and_order_without_changes(stream):
    nothing = {"apiVersion": "velero-postrender/v1", "kind": "RuleSet",
               "rules": [{"name": "none", "match": {"kinds": ["Nothing"]}, "hooks": {"preBackup": {"command": ["x"]}}}]}
    assert render(stream, [nothing], allow_unmatched=True).text == stream
