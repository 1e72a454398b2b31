"""Hooks whose container is left to chance: the pod's first container, which may be a sidecar.

Velero runs a hook without a container annotation in the first entry of ``spec.containers``.
A rule with neither ``container`` nor ``match.images`` leaves that choice to the chart (a
metrics exporter or a proxy is often first), and a hook without ``container`` next to one
that names its container runs somewhere else than its sibling.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from postrender.errors import Problem, Severity, warning
from postrender.lint.base import RuleView

ID = "hook-container"
SEVERITY = Severity.WARNING
TYPE = "rule"
CONF: dict[str, tuple[type, str]] = {}
DEFAULT: dict[str, Any] = {}


def check(rule: RuleView, conf: Mapping[str, Any]) -> Iterator[Problem]:
    match: dict[str, Any] = rule.raw["match"] if isinstance(rule.raw.get("match"), dict) else {}
    if rule.raw.get("container") is not None or match.get("images"):
        return
    named = {phase: hook["container"] for phase, hook in rule.exec_hooks.items() if isinstance(hook.get("container"), str)}
    defaulted = [phase for phase in rule.exec_hooks if phase not in named]
    if defaulted and named:
        phase, container = next(iter(named.items()))
        for other in defaulted:
            yield warning(f"this hook runs in the pod's first container, while hooks.{phase} runs in {container!r}",
                          rule.where("hooks", other),
                          f"set container: {container} on the rule, the default of every hook, or on this hook")
    elif defaulted:
        yield warning(
            "the hooks run in the pod's first container: the rule has no container and no match.images to pick one",
            rule.where("hooks"),
            "set container: NAME, or match.images: the first container whose image matches is then used")
