"""The post-render pipeline: split -> parse -> match -> apply -> write (kio's Reader,
Filters, Writer). Each stage is a function with one input and one output; this module
only wires them and decides, from the collected problems, whether there is any output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postrender.errors import Location, PostRenderError, Problem, Problems, error, warning
from postrender.filters.merge import Effect, Ledger, apply_rule
from postrender.filters.podtemplate import TemplateNotFound, find_pod_template
from postrender.filters.select import matches
from postrender.limits import DEFAULT_LIMITS, Limits
from postrender.ruleset.load import bind_to_resource
from postrender.ruleset.model import Rule, RuleSet
from postrender.stream.check import Checking
from postrender.stream.emit import emit_document
from postrender.stream.parse import parse_document
from postrender.stream.resources import Resource, resources_of
from postrender.stream.screen import Screen
from postrender.stream.split import UNPARSED, Document, check_size, split


@dataclass(frozen=True)
class Options:
    strict: bool = False  # a rule that matched nothing is an error, not a warning
    allow_unmatched: bool = False  # rules that matched nothing at all are not an error
    limits: Limits = DEFAULT_LIMITS  # input size, alias expansion, nesting depth (postrender.limits)
    full_parse: bool = False  # parse every document, not only those a rule can select (prefilter)
    parallel: bool = False  # check unparsed documents in a forked worker (the command line; not for libraries)


@dataclass
class RenderResult:
    """The output text and what happened on the way, for the CLI and library callers."""

    text: str
    effects: list[Effect] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    unmatched: list[Rule] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)

    @property
    def warnings(self) -> list[Problem]:
        return self.problems.warnings


def read_documents(text: str, limits: Limits = DEFAULT_LIMITS,
                   screen: Screen | None = None) -> tuple[list[Document], list[Resource], list[Problem]]:
    """Split and parse the stream; the resources in stream order (List items expanded)."""
    documents, resources, problems, checking = start_reading(text, limits, screen, parallel=False)
    problems += checking.finish()
    return documents, resources, in_stream_order(problems)


def in_stream_order(problems: list[Problem]) -> list[Problem]:
    """Problems of the input by document (stable): the same order whether or not a worker checked some."""
    return sorted(problems, key=lambda p: p.location.document or 0)


def start_reading(text: str, limits: Limits, screen: Screen | None,
                  parallel: bool) -> tuple[list[Document], list[Resource], list[Problem], Checking]:
    """Split the stream, parse what a rule may select, and start checking the rest.

    With a ``screen``, documents whose text proves that no rule can select them are not
    parsed here (they are written back from their text anyway); they are still checked for
    whatever a full parse would refuse, possibly in a worker process (``screening``), whose
    problems ``Checking.finish`` returns.
    """
    if len(text) * 4 > limits.max_input_bytes:  # a UTF-8 character is at most 4 bytes
        check_size(len(text.encode("utf-8", "surrogatepass")), limits.max_input_bytes)
    documents = split(text)
    to_parse: list[Document] = []
    to_check: list[Document] = []
    for document in documents:
        if screen is not None and not screen.may_match(document.text):
            to_check.append(document)
        else:
            to_parse.append(document)
    checking = Checking(to_check, limits, parallel, other_work=sum(len(d.text) for d in to_parse))
    problems: list[Problem] = []
    resources: list[Resource] = []
    for document in to_parse:
        problem = parse_document(document, limits)
        if problem is not None:
            problems.append(problem)
            continue
        found, found_problems = resources_of(document)
        resources.extend(found)
        problems.extend(found_problems)
    return documents, resources, problems, checking


def select(rule: Rule, resources: list[Resource]) -> list[Resource]:
    """The resources a rule matches, in stream order."""
    hits: set[int] | None = None
    if rule.match.jsonpath is not None:
        from postrender.ruleset.jsonpaths import top_level_indexes

        hits = top_level_indexes(rule.match.jsonpath, [r.obj for r in resources])
    return [r for position, r in enumerate(resources) if matches(rule, r, hits, position)]


def apply_rules(ruleset: RuleSet, resources: list[Resource]) -> tuple[list[Effect], list[Rule], list[Problem]]:
    """Merge every enabled rule into the pod templates it matches."""
    ledger = Ledger()
    effects: list[Effect] = []
    unmatched: list[Rule] = []
    problems: list[Problem] = []
    for rule in ruleset.enabled:
        selected = select(rule, resources)
        if not selected:
            unmatched.append(rule)
        for resource in selected:
            bound = bind_to_resource(rule, resource.name, resource.namespace)
            try:
                template = find_pod_template(resource.obj, resource.kind, bound.pod_template)
            except TemplateNotFound as exc:
                problems.append(error(str(exc), resource.location(rule=rule.name)))
                continue
            effect, rule_problems = apply_rule(bound, resource, template, ledger)
            problems.extend(rule_problems)
            if effect.changed:
                resource.document.changed = True
            effects.append(effect)
    return effects, unmatched, problems


def unmatched_problems(ruleset: RuleSet, unmatched: list[Rule], has_resources: bool,
                       options: Options) -> list[Problem]:
    """A rule that matched nothing is a warning (--strict: error); all of them, an error."""
    problems: list[Problem] = []
    enabled = ruleset.enabled
    if not ruleset.rules:
        return [error("the rules define no rule", Location())]
    if not enabled:
        return [warning("every rule is disabled: the manifests pass through unchanged")]
    if not has_resources:
        return [warning("the input holds no resources")]
    nothing = len(unmatched) == len(enabled)
    for rule in unmatched:
        where = Location(file=rule.source, line=rule.line, rule=rule.name, field="match")
        if nothing and not options.allow_unmatched:
            continue
        hint = "velero-postrender explain shows why" if not nothing else None
        problems.append(error("matched no resource", where, hint) if options.strict
                        else warning("matched no resource", where, hint))
    if nothing and not options.allow_unmatched:
        names = ", ".join(repr(r.name) for r in unmatched)
        problems.append(error(
            f"no rule matched any resource (rules {names}): no backup hook was added",
            Location(), "check the rules with velero-postrender explain, or pass --allow-unmatched",
        ))
    for name in ruleset.unused_settings:
        problems.append(warning(f"--set {name}: no rule uses this parameter"))
    return problems


def write_documents(documents: list[Document]) -> str:
    """Unchanged documents byte for byte, changed ones re-serialised."""
    return "".join(emit_document(d) if d.changed else d.text for d in documents)


def render_stream(text: str, ruleset: RuleSet, options: Options = Options()) -> RenderResult:
    """Run the whole pipeline; raise ``PostRenderError`` (all problems) rather than emit a part."""
    screen = None if options.full_parse else Screen.for_ruleset(ruleset)
    documents, resources, problems, checking = start_reading(text, options.limits, screen, options.parallel)
    try:
        if any(p.is_error for p in problems):
            raise PostRenderError(in_stream_order(problems + checking.finish()))
        effects, unmatched, rule_problems = apply_rules(ruleset, resources)
        skipped = any(d.data is UNPARSED for d in documents)  # resources the screen proved no rule selects
        output = write_documents(documents) if not any(p.is_error for p in rule_problems) else ""
        reading = in_stream_order(problems + checking.finish())
    finally:
        checking.cancel()
    if any(p.is_error for p in reading):
        raise PostRenderError(reading)
    problems = reading + rule_problems + unmatched_problems(ruleset, unmatched, bool(resources) or skipped, options)
    if any(p.is_error for p in problems):
        raise PostRenderError(problems)
    return RenderResult(output, effects, Problems(problems), unmatched, documents, resources)
