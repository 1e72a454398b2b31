"""JSON output for programs: ``explain -o json``; ``problem_to_json`` also serves ``lint`` and ``diff``.

The shapes are documented in docs/cli.md and versioned by their ``"version"`` key: a key is
never renamed or removed within a version, keys may be added. Every key is always present
(``null`` when there is no value), so readers need no "is it there" checks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from postrender.errors import Location, Problem
from postrender.filters.merge import Effect
from postrender.pipeline import Run
from postrender.ruleset.model import Rule
from postrender.writers.explain import CHANGED, Explanation, effect_status, explanation_of

EXPLAIN_VERSION = 1


def location_to_json(location: Location) -> dict[str, Any]:
    return {"file": location.file, "line": location.line, "rule": location.rule, "field": location.field,
            "document": location.document, "resource": location.resource}


def problem_to_json(problem: Problem) -> dict[str, Any]:
    """``{"severity", "message", "hint", "location": {file, line, rule, field, document, resource}}``."""
    return {"severity": problem.severity.value, "message": problem.message, "hint": problem.hint,
            "location": location_to_json(problem.location)}


def effect_to_json(effect: Effect) -> dict[str, Any]:
    resource = effect.resource
    return {"document": resource.document.index, "item": resource.item, "kind": resource.kind,
            "namespace": resource.namespace or None, "name": resource.name, "rule": effect.rule,
            "annotations": dict(effect.annotations), "volumes": list(effect.volumes),
            "mounts": [{"container": container, "mountPath": path} for container, path in effect.mounts]}


def rule_to_json(rule: Rule) -> dict[str, Any]:
    return {"rule": rule.name, "source": rule.source, "line": rule.line}


def explanation_to_json(explanation: Explanation) -> dict[str, Any]:
    """The whole explanation; ``unchanged`` holds the matches that added nothing, with the reason."""
    changed: list[dict[str, Any]] = []
    unchanged: list[dict[str, Any]] = []
    for effect in explanation.effects:
        status = effect_status(explanation, effect)
        if status == CHANGED:
            changed.append(effect_to_json(effect))
        else:
            entry = effect_to_json(effect)
            unchanged.append({key: entry[key] for key in ("document", "item", "kind", "namespace", "name", "rule")}
                             | {"reason": status})
    return {
        "version": EXPLAIN_VERSION,
        "resources": explanation.resource_count,
        "changed": changed,
        "unchanged": unchanged,
        "unmatched": [rule_to_json(miss.rule) | {"reasons": list(miss.reasons)} for miss in explanation.misses],
        "disabled": [rule_to_json(rule) for rule in explanation.disabled],
        "problems": [problem_to_json(problem) for problem in explanation.problems],
    }


def dump(data: dict[str, Any], out: TextIO) -> None:
    """One JSON document, 2-space indented, keys in a fixed order, a final newline."""
    out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    out.flush()


class ExplainJSONWriter:
    """``explain -o json``: the explanation as one JSON document on ``out`` (stdout by default)."""

    tolerant = True  # like the text writer: rule errors appear among the problems, the command then fails

    def __init__(self, out: TextIO | None = None, advice: Sequence[Problem] = ()):
        self.out = out
        self.advice = advice
        self.explanation: Explanation | None = None

    def write(self, run: Run) -> None:
        self.explanation = explanation_of(run, self.advice)
        dump(explanation_to_json(self.explanation), self.out or sys.stdout)

    def write_problems(self, problems: list[Problem]) -> None:
        """The document of a run that stopped before the rules ran (unreadable rules or input)."""
        self.explanation = Explanation(problems=list(problems))
        dump(explanation_to_json(self.explanation), self.out or sys.stdout)

    @property
    def failed(self) -> bool:
        return self.explanation is not None and any(p.is_error for p in self.explanation.problems)
