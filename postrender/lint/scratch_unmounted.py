"""A scratch volume that no container mounts, because the rule has no hook.

The scratch volume is mounted only in the containers where the rule's hooks run; without a
hook it is added to the pod and listed for backup, but nothing ever writes to it.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from postrender.errors import Problem, Severity, warning
from postrender.lint.base import RuleView

ID = "scratch-unmounted"
SEVERITY = Severity.WARNING
TYPE = "rule"
CONF: dict[str, tuple[type, str]] = {}
DEFAULT: dict[str, Any] = {}


def check(rule: RuleView, conf: Mapping[str, Any]) -> Iterator[Problem]:
    if isinstance(rule.raw.get("scratch"), dict) and not rule.hooks:
        yield warning("the scratch volume is mounted in no container: it is mounted where a hook runs, "
                      "and the rule has no hook", rule.where("scratch"),
                      "add a preBackup or postRestore hook, or drop scratch")
