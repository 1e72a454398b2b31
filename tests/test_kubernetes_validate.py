"""Post-rendered manifests stay valid Kubernetes objects: every fixture, run through a rule
that matches every workload kind, validates against the Kubernetes 1.32 OpenAPI schemas of
the offline ``kubernetes-validate`` package (strictly, when the input did)."""

from __future__ import annotations

import kubernetes_validate  # pip package kubernetes-validate: the Kubernetes schemas, offline
import pytest
import yaml
from conftest import ALL_FIXTURES

from postrender.api import render
from postrender.filters.podtemplate import POD_TEMPLATE_PATHS
from postrender.stream.split import split

KUBERNETES = "1.32.0"
RULES = {
    "apiVersion": "velero-postrender/v1",
    "kind": "RuleSet",
    "rules": [{
        "name": "every-workload",
        "match": {"kinds": sorted(POD_TEMPLATE_PATHS)},
        "scratch": {"name": "velero-scratch", "mountPath": "/velero-scratch",
                    "volume": {"emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}}},
        "backupVolumes": [],
        "hooks": {
            "preBackup": {"script": "echo dump > /velero-scratch/dump", "timeout": "3m"},
            "postBackup": {"command": ["/bin/sh", "-c", "rm -f /velero-scratch/dump"], "onError": "Continue"},
            "postRestore": {"script": "[ -f /velero-scratch/dump ] && rm -f /velero-scratch/dump", "execTimeout": "5m",
                            "waitTimeout": "10m", "waitForReady": True},
        },
    }],
}


def problems(data: dict, strict: bool) -> str | None:
    """The validation error, None when valid; raises SchemaNotFoundError for unknown kinds."""
    try:
        kubernetes_validate.validate(data, KUBERNETES, strict=strict)
    except kubernetes_validate.ValidationError as exc:
        return f"{'.'.join(str(p) for p in exc.path)}: {exc.message}"
    return None


def resources(data: dict) -> list[dict]:
    return data["items"] if data.get("kind") == "List" else [data]


@pytest.mark.parametrize("fixture", ALL_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_post_rendered_fixture_validates(fixture):
    text = fixture.read_text()
    result = render(text, [RULES])
    assert result.effects, "the rule matched no workload in this fixture"
    validated = 0
    for before, after in zip(split(text), split(result.text), strict=True):
        old, new = yaml.safe_load(before.text), yaml.safe_load(after.text)
        if new is None:
            continue
        for old_resource, new_resource in zip(resources(old), resources(new), strict=True):
            label = f"{new_resource['kind']} {new_resource['metadata']['name']}"
            try:
                assert problems(new_resource, strict=False) is None, f"{label}: {problems(new_resource, strict=False)}"
            except kubernetes_validate.SchemaNotFoundError:
                assert new_resource == old_resource  # a kind without a schema (a CRD's object) is never changed
                continue
            if new_resource != old_resource:
                validated += 1
                if problems(old_resource, strict=True) is None:  # no field unknown to Kubernetes was added
                    assert problems(new_resource, strict=True) is None, f"{label}: {problems(new_resource, True)}"
    assert validated == len(result.effects)
