"""The pipeline's rule filter: for every enabled rule, select its resources, bind the rule to
each, find the pod template and merge (``merge.apply_rule``, which writes Velero's annotations
through ``velero``). Problems are collected, never raised; a rule that fails on a resource
leaves that resource as it was."""

from __future__ import annotations

from postrender.errors import Location, Problem, error
from postrender.filters.merge import Effect, Ledger, apply_rule
from postrender.filters.podtemplate import TemplateNotFound, find_pod_template
from postrender.filters.select import select
from postrender.ruleset.jsonpaths import JSONPathWorkExceeded
from postrender.ruleset.load import bind_to_resource
from postrender.ruleset.model import Rule, RuleSet
from postrender.stream.resources import Resource


def apply_rules(ruleset: RuleSet, resources: list[Resource]) -> tuple[list[Effect], list[Rule], list[Problem]]:
    """Merge every enabled rule into the pod templates it matches: (effects, rules that matched
    nothing, problems)."""
    ledger = Ledger()
    effects: list[Effect] = []
    unmatched: list[Rule] = []
    problems: list[Problem] = []
    for rule in ruleset.enabled:
        selected = select(rule, resources)
        if not selected:
            unmatched.append(rule)
        for resource in selected:
            bound, bind_problems = bind_to_resource(rule, resource)
            problems.extend(bind_problems)
            if bound is None:
                continue
            try:
                template = find_pod_template(resource.obj, resource.kind, bound.pod_template)
            except TemplateNotFound as exc:
                problems.append(error(str(exc), resource.location(rule=rule.name)))
                continue
            except JSONPathWorkExceeded as exc:  # the podTemplate's work budget: located at the rule's field
                raise JSONPathWorkExceeded(exc.expression, exc.limit, Location(
                    file=rule.source, line=rule.line_of("podTemplate"), rule=rule.name, field="podTemplate")) from None
            effect, rule_problems = apply_rule(bound, resource, template, ledger)
            problems.extend(rule_problems)
            if effect.changed:
                resource.document.changed = True
            effects.append(effect)
    return effects, unmatched, problems
