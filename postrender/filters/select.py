"""Rule selectors against resources, with the reason each selector held or failed.

The reasons feed ``explain`` (near misses); the pipeline only needs ``select``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from postrender.errors import Location
from postrender.filters.podtemplate import TemplateNotFound, containers_of, find_pod_template
from postrender.ruleset.model import Match, Rule, RuleSet
from postrender.stream.resources import Resource
from postrender.stream.screen import Screen, Selector

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True)
class Verdict:
    """The outcome of one selector on one resource."""

    selector: str
    held: bool
    detail: str


def images_of(resource: Resource, pod_template: str | None) -> list[str]:
    """Images of the regular containers of the resource's pod template (none if it has none)."""
    try:
        template = find_pod_template(resource.obj, resource.kind, pod_template)
    except TemplateNotFound:
        return []
    return [str(c.get("image", "")) for c in containers_of(template)]


def evaluate(rule: Rule, resource: Resource, jsonpath_hits: set[int] | None, position: int) -> list[Verdict]:
    """Every given selector of ``rule`` on ``resource``; stops early once one failed."""
    match: Match = rule.match
    verdicts: list[Verdict] = []

    def check(selector: str, held: bool, detail: str) -> bool:
        verdicts.append(Verdict(selector, held, detail))
        return held

    if match.kinds and not check("kinds", resource.kind in match.kinds,
                                 f"kind {resource.kind} vs {', '.join(match.kinds)}"):
        return verdicts
    if match.names and not check("names", any(fnmatchcase(resource.name, g) for g in match.names),
                                 f"name {resource.name} vs {', '.join(match.names)}"):
        return verdicts
    if match.namespaces and not check(
        "namespaces", any(fnmatchcase(resource.namespace, g) for g in match.namespaces),
        f"namespace {resource.namespace or '(none)'} vs {', '.join(match.namespaces)}",
    ):
        return verdicts
    if match.labels:
        labels = resource.labels
        missing = [f"{k}={v}" for k, v in match.labels if _label_value(labels.get(k)) != v]
        if not check("labels", not missing, f"labels lack {', '.join(missing)}" if missing else "labels present"):
            return verdicts
    if match.images:
        images = images_of(resource, rule.pod_template)
        held = any(pattern.search(image) for pattern in match.images for image in images)
        patterns = ", ".join(p.pattern for p in match.images)
        if not check("images", held, f"images {', '.join(images) or '(no containers)'} vs {patterns}"):
            return verdicts
    if match.jsonpath is not None:
        check("jsonpath", jsonpath_hits is not None and position in jsonpath_hits,
              f"jsonpath {match.jsonpath}")
    return verdicts


def matches(rule: Rule, resource: Resource, jsonpath_hits: set[int] | None, position: int) -> bool:
    return all(v.held for v in evaluate(rule, resource, jsonpath_hits, position))


def jsonpath_hits(rule: Rule, resources: list[Resource]) -> set[int] | None:
    """Positions of the resources the rule's JSONPath selects (None: the rule has none)."""
    if rule.match.jsonpath is None:
        return None
    # jsonpath-ng: only rules with a JSONPath pay its import
    from postrender.ruleset.jsonpaths import JSONPathWorkExceeded, top_level_indexes

    try:
        return top_level_indexes(rule.match.jsonpath, [r.obj for r in resources])
    except JSONPathWorkExceeded as exc:  # the work budget of one evaluation: located at the rule's field
        where = Location(file=rule.source, line=rule.field_lines.get("match.jsonpath") or rule.line, rule=rule.name,
                         field="match.jsonpath")
        raise JSONPathWorkExceeded(exc.expression, exc.limit, where) from None


def select(rule: Rule, resources: list[Resource]) -> list[Resource]:
    """The resources a rule matches, in stream order."""
    hits = jsonpath_hits(rule, resources)
    return [r for position, r in enumerate(resources) if matches(rule, r, hits, position)]


def _label_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def screen_for(ruleset: RuleSet) -> Screen | None:
    """The lexical screen of a rule set, or None when every document must be parsed (a rule
    with a JSONPath sees all resources; a rule with neither kinds nor images selects any)."""
    enabled = ruleset.enabled
    if not enabled or any(rule.match.jsonpath is not None for rule in enabled):
        return None
    if not all(rule.match.kinds or rule.match.images for rule in enabled):
        return None
    return Screen(tuple(Selector(rule.match.kinds, rule.match.images) for rule in enabled))
