"""The explain writer: which rule changed which resource and how, and why the rules that
matched nothing missed (the near misses), so nobody debugs a post-renderer blind."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from postrender.errors import Problem
from postrender.filters.merge import Effect
from postrender.filters.select import Verdict, evaluate, images_of, jsonpath_hits
from postrender.pipeline import Run
from postrender.ruleset.model import Rule
from postrender.stream.resources import Resource
from postrender.writers.table import heading, print_table

SHORT_VALUE = 40


@dataclass
class NearMiss:
    """A rule that matched nothing, and the closest resources with the selector that failed."""

    rule: Rule
    reasons: list[str]


@dataclass
class Explanation:
    effects: list[Effect] = field(default_factory=list)
    misses: list[NearMiss] = field(default_factory=list)
    disabled: list[Rule] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    resource_count: int = 0
    passed_over: list[NearMiss] = field(default_factory=list)  # near misses of the rules that matched

    @property
    def failed(self) -> set[tuple[str, int | None]]:
        """(rule, document) pairs that an error is about: their effect was not written."""
        return {(p.location.rule or "", p.location.document) for p in self.problems if p.is_error}


def explanation_of(run: Run, advice: Sequence[Problem] = ()) -> Explanation:
    """What happened in a run, with the near misses of the rules that matched nothing. A rule
    that matched nothing is the case ``explain`` exists for, so it is listed, not reported.
    ``advice``: warnings about the rules themselves (the lint checks explain shares)."""
    problems = [p for p in run.problems if not _about_unmatched(p)] + list(advice)
    misses = [NearMiss(rule, near_misses(rule, run.resources)) for rule in run.unmatched]
    disabled = [rule for rule in run.ruleset.rules if not rule.enabled]
    return Explanation(run.effects, misses, disabled, problems, len(run.resources), passed_over(run))


def _about_unmatched(problem: Problem) -> bool:
    return problem.message == "matched no resource" or problem.message.startswith("no rule matched any resource")


def passed_over(run: Run) -> list[NearMiss]:
    """For each rule that matched something: the resources no rule touched where some of its
    selectors held, and the one that failed (an app's Deployment beside its database subchart)."""
    unmatched = {id(rule) for rule in run.unmatched}
    touched = {(id(e.resource.document), e.resource.item) for e in run.effects}
    found: list[NearMiss] = []
    for rule in run.ruleset.enabled:
        if id(rule) in unmatched:
            continue
        hits = jsonpath_hits(rule, run.resources)
        reasons = []
        for position, resource in enumerate(run.resources):
            if (id(resource.document), resource.item) in touched:
                continue
            verdicts = evaluate(rule, resource, hits, position)
            if any(v.held for v in verdicts) and not all(v.held for v in verdicts):
                reasons.append(_miss(resource, verdicts))
        if reasons:
            found.append(NearMiss(rule, reasons))
    return found


# --- near misses ------------------------------------------------------------------------

def near_misses(rule: Rule, resources: list[Resource], limit: int = 3) -> list[str]:
    """The resources where the most selectors held, and the first selector that failed there."""
    if not resources:
        return ["the input holds no resources"]
    hits = jsonpath_hits(rule, resources)
    scored = [(resource, evaluate(rule, resource, hits, position)) for position, resource in enumerate(resources)]
    best = max(_held(verdicts) for _, verdicts in scored)
    if best == 0:
        return [_nobody_passes(rule, scored[0][1][0].selector, resources)]
    closest = [(resource, verdicts) for resource, verdicts in scored if _held(verdicts) == best]
    reasons = [_miss(resource, verdicts) for resource, verdicts in closest[:limit]]
    if len(closest) > limit:
        reasons.append(f"... and {len(closest) - limit} more resources that failed the same way")
    return reasons


def _held(verdicts: list[Verdict]) -> int:
    return sum(1 for verdict in verdicts if verdict.held)


def _miss(resource: Resource, verdicts: list[Verdict]) -> str:
    held = ", ".join(_held_text(v.selector, resource) for v in verdicts if v.held)
    failed = next((v for v in verdicts if not v.held), None)
    where = f"{resource.label} (document {resource.document.index})"
    if failed is None:  # pragma: no cover - every selector held: the rule matched
        return f"{where}: every selector held"
    detail = failed.detail.removeprefix(f"{failed.selector} ")  # "images did not: x vs y", not "images images x"
    return f"{where}: {held} matched, {failed.selector} did not: {detail}"


def _held_text(selector: str, resource: Resource) -> str:
    return {"kinds": f"kind {resource.kind}", "names": f"name {resource.name}",
            "namespaces": f"namespace {resource.namespace or '(none)'}"}.get(selector, selector)


def _nobody_passes(rule: Rule, selector: str, resources: list[Resource]) -> str:
    """No resource passes the first selector: say what the input has instead."""
    match = rule.match
    if selector == "kinds":
        return f"no resource of kind {', '.join(match.kinds)}; kinds in the input: {_some(r.kind for r in resources)}"
    if selector == "names":
        return f"no resource name matches {', '.join(match.names)}; names in the input: {_some(r.name for r in resources)}"
    if selector == "namespaces":
        text = (f"no resource in namespace {', '.join(match.namespaces)}; namespaces in the input: "
                f"{_some(r.namespace or '(none)' for r in resources)}")
        if not any(r.namespace for r in resources):
            text += " (helm template writes no namespace unless the chart sets one: Helm adds it at install)"
        return text
    if selector == "labels":
        wanted = ", ".join(f"{k}={v}" for k, v in match.labels)
        return f"no resource has the labels {wanted}"
    if selector == "images":
        images = [image for r in resources for image in images_of(r, rule.pod_template)]
        patterns = ", ".join(p.pattern for p in match.images)
        return f"no container image matches {patterns}; images in the input: {_some(images)}"
    return f"the JSONPath {match.jsonpath} selects no resource"


def _some(values: Iterable[str], limit: int = 6) -> str:
    unique = sorted(dict.fromkeys(v for v in values if v))
    if not unique:
        return "(none)"
    text = ", ".join(unique[:limit])
    return text + (f" and {len(unique) - limit} more" if len(unique) > limit else "")


# --- output -----------------------------------------------------------------------------

HEADERS = ("Doc", "Kind", "Namespace/Name", "Rule", "Annotations", "Volumes", "Mounts")


CHANGED, NOT_APPLIED, ALREADY_PRESENT = "changed", "not applied", "already present"


def effect_status(explanation: Explanation, effect: Effect) -> str:
    """CHANGED, NOT_APPLIED (an error is about this rule and document) or ALREADY_PRESENT."""
    if effect.changed:
        return CHANGED
    if (effect.rule, effect.resource.document.index) in explanation.failed:
        return NOT_APPLIED
    return ALREADY_PRESENT


def effect_rows(explanation: Explanation, wide: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    for effect in explanation.effects:
        resource = effect.resource
        name = f"{resource.namespace}/{resource.name}" if resource.namespace else resource.name
        status = effect_status(explanation, effect)
        if status == CHANGED:
            annotations = "\n".join(f"{key}: {_short(value, wide)}" for key, value in effect.annotations.items()) or "-"
        elif status == NOT_APPLIED:
            annotations = "(not applied: see the errors)"
        else:
            annotations = "(nothing new: already present)"
        rows.append([
            str(resource.document.index), resource.kind, name, effect.rule, annotations,
            "\n".join(effect.volumes) or "-",
            "\n".join(f"{container}:{path}" for container, path in effect.mounts) or "-",
        ])
    return rows


def _short(value: str, wide: bool) -> str:
    return value if wide or len(value) <= SHORT_VALUE else value[:SHORT_VALUE - 3] + "..."


def print_explanation(explanation: Explanation, color: bool, wide: bool, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    rows = effect_rows(explanation, wide)
    if rows:
        print_table(f"Changed resources ({len(rows)})", HEADERS, rows, color, wrap="Annotations")
    else:
        out.write(heading("No resource was changed.", color) + "\n")
    if explanation.misses:
        out.write("\n" + heading(f"Rules that matched nothing ({len(explanation.misses)})", color) + "\n")
        for miss in explanation.misses:
            out.write(f"  {miss.rule.name} ({_where(miss.rule)})\n")
            out.write("".join(f"    - {reason}\n" for reason in miss.reasons))
    if explanation.passed_over:
        out.write("\n" + heading(f"Near misses of the rules that matched ({len(explanation.passed_over)})", color) + "\n")
        for miss in explanation.passed_over:
            out.write(f"  {miss.rule.name} ({_where(miss.rule)})\n")
            out.write("".join(f"    - {reason}\n" for reason in miss.reasons))
    if explanation.disabled:
        out.write("\n" + heading(f"Disabled rules ({len(explanation.disabled)})", color) + "\n")
        out.write("".join(f"  {rule.name} ({_where(rule)}): enabled is false\n" for rule in explanation.disabled))
    out.write("\n" + summary(explanation) + "\n")
    out.flush()


def _where(rule: Rule) -> str:
    return f"{rule.source}:{rule.line}" if rule.line else rule.source


def summary(explanation: Explanation) -> str:
    changed = [e for e in explanation.effects if e.changed]
    resources = {(id(e.resource.document), e.resource.item) for e in changed}
    rules = {e.rule for e in changed}
    errors = sum(1 for p in explanation.problems if p.is_error)
    warnings = len(explanation.problems) - errors
    text = (f"{len(resources)} of {explanation.resource_count} resources changed by {len(rules)} rule"
            f"{'' if len(rules) == 1 else 's'}; {len(explanation.misses)} rule{'' if len(explanation.misses) == 1 else 's'} "
            "matched nothing")
    if errors or warnings:
        text += f"; {errors} errors, {warnings} warnings (on stderr)"
    return text


class ExplainWriter:
    """Prints the explanation as tables (rich on a colour terminal, plain text otherwise)."""

    tolerant = True  # conflicts and other rule errors are shown in context, then the command fails

    def __init__(self, color: bool = False, wide: bool = False, advice: Sequence[Problem] = ()):
        self.color = color
        self.wide = wide
        self.advice = advice
        self.explanation: Explanation | None = None

    def write(self, run: Run) -> None:
        self.explanation = explanation_of(run, self.advice)
        print_explanation(self.explanation, self.color, self.wide)
