"""Volumes a rule backs up that a Velero volume policy would skip (with ``--velero-policy FILE``).

Velero's volume policies (resource policies, 1.14+) decide a pod volume's fate before the
``backup.velero.io/backup-volumes`` annotation is read: the first policy whose conditions hold
wins, and any action but ``fs-backup`` keeps the volume out of file-system backup. A common
``volumeTypes: [emptyDir]`` -> ``skip`` policy silently drops the scratch volume, and the dump in
it. The scratch volume's source is known from the rule; a ``backupVolumes`` name is reported
when a policy would skip it whatever its source is, or may skip it, naming the conditions.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from postrender.errors import Problem, Severity
from postrender.filters.policy import VolumeFacts, facts_of_volume, skip_problem
from postrender.lint.base import RuleView

ID = "velero-policy"
SEVERITY = Severity.WARNING
TYPE = "rule"
CONF: dict[str, tuple[type, str]] = {}
DEFAULT: dict[str, Any] = {}


def check(rule: RuleView, conf: Mapping[str, Any]) -> Iterator[Problem]:
    policies = rule.file.context.policy
    if policies is None:
        return
    scratch = rule.raw.get("scratch")
    if isinstance(scratch, dict) and str(scratch.get("backup", True)).lower() not in ("false", "no", "off", "0"):
        volume: dict[str, Any] = scratch["volume"] if isinstance(scratch.get("volume"), dict) else {"emptyDir": {}}
        name = scratch.get("name") if isinstance(scratch.get("name"), str) else "velero-scratch"
        facts = facts_of_volume(volume, name)
        decision = policies.decide(facts)
        if decision is not None:
            path = ("scratch", "volume") if "volume" in scratch else ("scratch",)
            yield skip_problem(policies, decision, facts, "the scratch volume", rule.where(*path))
    names = rule.raw.get("backupVolumes")
    if isinstance(names, list):
        for index, name in enumerate(names):
            # the source of a pod volume named here is in the chart, not in the rules: unknown
            facts = VolumeFacts(str(name), None, claim=None, capacity=None, storage_class=None, pvc_labels=None,
                                pvc_phase=None)
            decision = policies.decide(facts)
            if decision is not None:
                yield skip_problem(policies, decision, facts, "backupVolumes volume", rule.where("backupVolumes", index))
