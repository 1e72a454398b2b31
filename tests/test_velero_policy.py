"""Velero resource policies (postrender/filters/policy.py): read like Velero reads them, validated like
Velero validates them, and matched against pod volumes with Velero's rules (first match wins; any action
but fs-backup keeps a volume out of file-system backup)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from postrender.errors import PostRenderError, Severity
from postrender.filters.policy import (
    VolumeFacts,
    claim_facts,
    facts_of_volume,
    matches,
    parse_policies,
    read_policies,
    run_problems,
)
from postrender.pipeline import PostRenderer
from postrender.ruleset.load import RulesSource, load_ruleset

BARE = """\
version: v1
volumePolicies:
  - conditions:
      capacity: "0,100Gi"
      csi:
        driver: ebs.csi.aws.com
    action:
      type: snapshot
  - conditions:
      volumeTypes: [emptyDir, nfs]
    action:
      type: skip
"""


def configmap(body: str, style: str = "|") -> str:
    if style == "|":
        inner = "\n".join("    " + line for line in body.splitlines())
        return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\n  namespace: velero\ndata:\n"
                f"  policies.yaml: |\n{inner}\n")
    import json

    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\ndata:\n  policies.yaml: {json.dumps(body)}\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(PostRenderError) as caught:
        parse_policies(text, "p.yaml")
    return [problem.render() for problem in caught.value.problems]


# --- reading ------------------------------------------------------------------------------------------

def test_bare_document_with_lines() -> None:
    policies = parse_policies(BARE, "p.yaml")
    assert [(p.action, p.line) for p in policies.policies] == [("snapshot", 3), ("skip", 9)]
    assert policies.policies[0].capacity == (0.0, 100 * 2**30)
    assert policies.where(policies.policies[1]) == "p.yaml:9"


def test_configmap_literal_block_keeps_the_file_lines() -> None:
    policies = parse_policies(configmap(BARE), "cm.yaml")
    assert [p.line for p in policies.policies] == [10, 16]  # the data text starts on line 8
    errors = problems_of(configmap(BARE.replace("type: skip", "type: delete")))
    assert errors == ["error: p.yaml:19: volumePolicies[1].action.type must be one of skip, fs-backup, snapshot, "
                      "custom, not 'delete'"]


def test_configmap_quoted_string_reports_at_the_data_key() -> None:
    policies = parse_policies(configmap(BARE, style='"'), "cm.yaml")
    assert [p.line for p in policies.policies] == [6, 6]
    assert [p.action for p in policies.policies] == ["snapshot", "skip"]


def test_configmap_needs_exactly_one_data_key() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata:\n  a: 'version: v1'\n  b: 'version: v1'\n"
    assert problems_of(text) == ["error: p.yaml:5: a Velero resource policies ConfigMap must have exactly one data key "
                                 "(Velero refuses it otherwise)"]


def test_every_validation_problem_at_once() -> None:
    text = """\
version: v2
volumePolicies:
  - conditions:
      capacity: "100Gi"
      volumeType: [emptyDir]
    action: {type: skip}
  - conditions:
      capacity: "10Gi,1Gi"
      pvcLabels: {app: [x]}
    action: {type: skip}
  - conditions: {volumeTypes: [emptydir]}
    action: {type: skip}
extra: 1
"""
    assert problems_of(text) == [
        "error: p.yaml:13: unknown key 'extra': Velero refuses the whole document (known keys: version, "
        "volumePolicies, includeExcludePolicy)",
        "error: p.yaml:1: version must be v1, not 'v2': Velero refuses the document",
        "error: p.yaml:5: volumePolicies[0].conditions: unknown condition 'volumeType' (known: capacity, "
        "storageClass, nfs, csi, volumeTypes, pvcLabels, pvcPhase)",
        "error: p.yaml:4: volumePolicies[0].conditions.capacity: wrong format '100Gi': two quantities separated by "
        "a comma (e.g. \"0,100Gi\", \"10Gi,\", \"1Gi,10Gi\")",
        "error: p.yaml:9: volumePolicies[1].conditions.pvcLabels must be a map of string to string",
        "error: p.yaml:8: volumePolicies[1].conditions.capacity: illegal range '10Gi,1Gi': the upper end is below "
        "the lower end (e.g. \"0,100Gi\", \"10Gi,\", \"1Gi,10Gi\")",
        "error: p.yaml:11: volumePolicies[2].conditions.volumeTypes: 'emptydir' is not a volume type Velero knows "
        "(it never matches) (e.g. emptyDir, csi, nfs, persistentVolumeClaim volumes match by their PV)",
    ]


def test_read_through_the_bounded_reader(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(PostRenderError) as caught:
        read_policies("/dev/zero", 4096)
    assert time.monotonic() - started < 5
    assert "input holds a NUL byte at offset 0" in caught.value.problems[0].message  # refused at the first chunk
    with pytest.raises(PostRenderError) as caught:
        read_policies(str(tmp_path / "missing.yaml"), 4096)
    missing = tmp_path / "missing.yaml"
    assert caught.value.problems[0].render() == f"error: {missing}: Velero resource policies file not found"
    path = tmp_path / "p.yaml"
    path.write_text(BARE)
    assert len(read_policies(str(path), 4096).policies) == 2


# --- matching --------------------------------------------------------------------------------------------

EMPTY_DIR = facts_of_volume({"name": "s", "emptyDir": {"sizeLimit": "1Gi"}})
NFS = facts_of_volume({"name": "n", "nfs": {"server": "srv", "path": "/export"}})
CSI = facts_of_volume({"name": "c", "csi": {"driver": "secrets-store.csi.k8s.io"}})
CLAIM = claim_facts("data")
CLAIM_TEMPLATE = claim_facts("data", {"metadata": {"name": "data", "labels": {"tier": "db"}},
                                      "spec": {"storageClassName": "gp3"}})


@pytest.mark.parametrize(("conditions", "volume", "expected"), [
    ({}, EMPTY_DIR, True),  # no conditions: every volume
    ({"volumeTypes": ["emptyDir"]}, EMPTY_DIR, True),
    ({"volumeTypes": ["nfs", "csi"]}, EMPTY_DIR, False),
    ({"capacity": "0,100Gi"}, EMPTY_DIR, True),  # a pod volume's capacity is 0: inside [0, 100Gi]
    ({"capacity": "10Gi,"}, EMPTY_DIR, False),  # ... and below 10Gi
    ({"capacity": "1Gi,10Gi"}, EMPTY_DIR, False),
    ({"storageClass": ["gp3"]}, EMPTY_DIR, False),  # pod volumes have no storage class
    ({"pvcLabels": {"tier": "db"}}, EMPTY_DIR, False),  # ... and no claim labels
    ({"pvcPhase": ["Bound"]}, EMPTY_DIR, False),
    ({"nfs": {}}, NFS, True),
    ({"nfs": {"server": "srv"}}, NFS, True),
    ({"nfs": {"server": "other"}}, NFS, False),
    ({"nfs": {"path": "/export", "server": "srv"}}, NFS, True),
    ({"nfs": {}}, EMPTY_DIR, False),
    ({"csi": {}}, CSI, True),
    ({"csi": {"driver": "ebs.csi.aws.com"}}, CSI, False),
    ({"volumeTypes": ["emptyDir", "configMap"]}, CLAIM, False),  # a PV is never of a pod-only type
    ({"volumeTypes": ["csi"]}, CLAIM, None),  # depends on the PersistentVolume
    ({"storageClass": ["gp3"]}, CLAIM, None),
    ({"storageClass": ["gp3"]}, CLAIM_TEMPLATE, True),
    ({"storageClass": ["standard"]}, CLAIM_TEMPLATE, False),
    ({"pvcLabels": {"tier": "db"}}, CLAIM_TEMPLATE, True),
    ({"pvcLabels": {"tier": "web"}}, CLAIM_TEMPLATE, False),
    ({"capacity": "0,1Gi"}, CLAIM_TEMPLATE, None),
    ({"volumeTypes": ["emptyDir"]}, VolumeFacts("x", None, claim=None, capacity=None, storage_class=None,
                                                 pvc_labels=None, pvc_phase=None), None),
])
def test_conditions(conditions: dict[str, Any], volume: VolumeFacts, expected: bool | None) -> None:
    text = "version: v1\nvolumePolicies:\n  - conditions: CONDITIONS\n    action: {type: skip}\n"
    import json

    policy = parse_policies(text.replace("CONDITIONS", json.dumps(conditions)), "p.yaml").policies[0]
    assert matches(policy, volume) is expected


def test_first_matching_policy_wins() -> None:
    keep_then_skip = parse_policies("""\
version: v1
volumePolicies:
  - conditions: {volumeTypes: [emptyDir], capacity: "0,1Gi"}
    action: {type: fs-backup}
  - conditions: {volumeTypes: [emptyDir]}
    action: {type: skip}
""", "p.yaml")
    assert keep_then_skip.decide(EMPTY_DIR) is None
    skip_all = parse_policies("version: v1\nvolumePolicies:\n  - conditions: {}\n    action: {type: skip}\n", "p.yaml")
    decision = skip_all.decide(CLAIM)
    assert decision is not None and decision.certain
    snapshot = parse_policies("version: v1\nvolumePolicies:\n  - action: {type: snapshot}\n", "p.yaml")
    assert snapshot.decide(CLAIM) is None, "a claim's volume is snapshotted: its data is saved"
    assert snapshot.decide(EMPTY_DIR) is not None, "an emptyDir cannot be snapshotted: it is not backed up"
    maybe_keep = parse_policies("""\
version: v1
volumePolicies:
  - conditions: {storageClass: [gp3]}
    action: {type: fs-backup}
  - action: {type: skip}
""", "p.yaml")
    decision = maybe_keep.decide(CLAIM)
    assert decision is not None and not decision.certain, "kept if its class is gp3, which only the cluster knows"


# --- on a rendered stream ---------------------------------------------------------------------------------

RULES = """\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: pg
    match: {kinds: [StatefulSet]}
    container: db
    scratch: {mountPath: /scratch}
    backupVolumes: [data, cache]
    hooks:
      preBackup: {command: [sync]}
"""
MANIFEST = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: pg, namespace: shop}
spec:
  template:
    spec:
      containers:
        - name: db
          image: postgres:16
          volumeMounts: [{name: data, mountPath: /data}, {name: cache, mountPath: /cache}]
      volumes:
        - name: cache
          emptyDir: {}
  volumeClaimTemplates:
    - metadata: {name: data, labels: {tier: db}}
      spec: {storageClassName: gp3, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def test_run_problems_on_a_rendered_statefulset() -> None:
    ruleset = load_ruleset([RulesSource(RULES, "r.yaml")])
    run = PostRenderer(ruleset).render(MANIFEST, "m.yaml")
    assert not run.failed, run.problems
    policies = parse_policies("""\
version: v1
volumePolicies:
  - conditions: {volumeTypes: [emptyDir]}
    action: {type: skip}
  - conditions: {pvcLabels: {tier: db}, storageClass: [gp3]}
    action: {type: skip}
""", "p.yaml")
    problems = run_problems(policies, run.ruleset, run.resources, run.effects)
    rendered = [problem.render() for problem in problems]
    assert rendered == [
        "warning: document 1 (StatefulSet shop/pg, line 1): rule 'pg': scratch.volume: the Velero volume policy at "
        "p.yaml:3 skips the scratch volume 'velero-scratch' (emptyDir): it is not backed up, whatever "
        "backup.velero.io/backup-volumes says (volume policies come first; put a policy with action fs-backup that "
        "matches this volume before it, or narrow that policy's conditions)",
        "warning: document 1 (StatefulSet shop/pg, line 1): rule 'pg': backupVolumes: the Velero volume policy at "
        "p.yaml:5 skips backupVolumes volume 'data' (a PersistentVolumeClaim): it is not backed up, whatever "
        "backup.velero.io/backup-volumes says (volume policies come first; put a policy with action fs-backup that "
        "matches this volume before it, or narrow that policy's conditions)",
        "warning: document 1 (StatefulSet shop/pg, line 1): rule 'pg': backupVolumes: the Velero volume policy at "
        "p.yaml:3 skips backupVolumes volume 'cache' (emptyDir): it is not backed up, whatever "
        "backup.velero.io/backup-volumes says (volume policies come first; put a policy with action fs-backup that "
        "matches this volume before it, or narrow that policy's conditions)",
    ]
    strict = run_problems(policies, run.ruleset, run.resources, run.effects, Severity.ERROR)
    assert all(problem.is_error for problem in strict) and len(strict) == 3
    keep = parse_policies("version: v1\nvolumePolicies:\n  - conditions: {pvcLabels: {tier: web}}\n"
                          "    action: {type: skip}\n", "k")
    assert run_problems(keep, run.ruleset, run.resources, run.effects) == []


def test_the_pipeline_applies_the_policy_warnings_and_strict_errors() -> None:
    """``Options.velero_policy``: every command that runs the pipeline reports the same skips."""
    from postrender.pipeline import Options

    ruleset = load_ruleset([RulesSource(RULES, "r.yaml")])
    policies = parse_policies("version: v1\nvolumePolicies:\n  - conditions: {volumeTypes: [emptyDir]}\n"
                              "    action: {type: skip}\n", "p.yaml")
    run = PostRenderer(ruleset, Options(velero_policy=policies)).render(MANIFEST, "m.yaml")
    skipped = [p for p in run.problems if "volume policy" in p.message]
    assert len(skipped) == 2 and not run.failed
    strict = PostRenderer(ruleset, Options(strict=True, velero_policy=policies)).render(MANIFEST, "m.yaml")
    assert run.failed is False and strict.failed
    assert [p.render() for p in strict.problems if "volume policy" in p.message] == \
        [p.render().replace("warning:", "error:", 1) for p in skipped]


@pytest.mark.parametrize("command", [[], ["diff"], ["explain"]], ids=lambda c: " ".join(c) or "root")
def test_velero_policy_option_on_the_commands_that_run_the_pipeline(tmp_path: Path, command: list[str]) -> None:
    """``--velero-policy`` comes from the one option table: root, diff and explain report the skip
    as a warning; with ``--strict`` the root command and diff fail and write nothing."""
    from conftest import run_cli

    rules = tmp_path / "r.yaml"
    rules.write_text(RULES, encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: v1\nvolumePolicies:\n  - conditions: {volumeTypes: [emptyDir]}\n"
                      "    action: {type: skip}\n", encoding="utf-8")
    args = [*command, "--rules", str(rules), "--velero-policy", str(policy)]
    result = run_cli(args, MANIFEST)
    assert result.returncode == 0, result.stderr
    assert b"the Velero volume policy at " + str(policy).encode() + b":3 skips the scratch volume" in result.stderr
    if command != ["explain"]:
        strict = run_cli([*args, "--strict"], MANIFEST)
        assert strict.returncode == 1 and strict.stdout == b""
        assert b"error: " in strict.stderr and b"skips the scratch volume" in strict.stderr
    missing = run_cli([*command, "--rules", str(rules), "--velero-policy", str(tmp_path / "nope.yaml")], MANIFEST)
    assert missing.returncode == 1 and missing.stdout == b"" and b"nope.yaml" in missing.stderr
