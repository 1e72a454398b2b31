"""The one pipeline every entry point runs, after kyaml's ``kio.Pipeline``:

    Reader --> split / screen / parse --> filters (select, merge, velero) --> verdict --> Writer
    (stream.reader)   (stream.*)            (filters.apply)                              (writers.*)

``PostRenderer(ruleset, options).run(reader, writer)`` reads the whole stream through the
bounded reader, splits it, parses what a rule may select (the rest is only structure-checked,
possibly in a worker process), applies the rules, turns rules that matched nothing into
warnings or errors, and hands the ``Run`` to the writer. The root command, ``diff``,
``explain``, the kustomize plugin and the library differ only in their reader and writer.

A writer that is not ``tolerant`` is never called when the run has an error: the pipeline
raises ``PostRenderError`` with every problem instead, so nothing partial is ever written.
A tolerant writer (``explain``) gets the run with its errors, to show them in context.
Problems in the input itself (YAML, size, depth) always raise before any filter runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from postrender.errors import Location, PostRenderError, Problem, Problems, Severity, error, warning
from postrender.filters.apply import apply_rules
from postrender.filters.merge import Effect
from postrender.filters.select import screen_for
from postrender.limits import DEFAULT_LIMITS, Limits
from postrender.ruleset.model import Rule, RuleSet
from postrender.stream.check import Checking
from postrender.stream.emit import emit_document
from postrender.stream.parse import parse_document
from postrender.stream.resources import Resource, resources_of
from postrender.stream.screen import Screen
from postrender.stream.split import UNPARSED, Document, split

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Protocol

    from postrender.filters.policy import ResourcePolicies
    from postrender.stream.reader import Reader

    class Writer(Protocol):
        """Where a run goes: the manifest stream, a diff, an explanation, JSON, patches."""

        tolerant: bool  # called even when the run has errors (explain shows them in context)
        # optional ``writes_stream``: True when the writer writes ``Run.output``; a parallel run
        # then emits it while the worker checks the unparsed documents

        def write(self, run: Run) -> None: ...


@dataclass(frozen=True)
class Options:
    strict: bool = False  # every warning is an error (a rule that matched nothing, an unused --set key, ...)
    allow_unmatched: bool = False  # rules that matched nothing at all are not an error
    limits: Limits = DEFAULT_LIMITS  # input size, alias expansion, nesting depth (postrender.limits)
    full_parse: bool = False  # parse every document, not only those a rule can select (stream.screen)
    parallel: bool = False  # check unparsed documents in a forked worker (the command line; not for libraries)
    velero_policy: ResourcePolicies | None = None  # report the volumes these Velero volume policies would skip


@dataclass
class Run:
    """One pass of the pipeline: the input, what the filters did, and every problem."""

    name: str  # the input's name in messages
    text: str  # the input stream
    ruleset: RuleSet
    documents: list[Document] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    unmatched: list[Rule] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    _output: str | None = field(default=None, repr=False)

    @property
    def output(self) -> str:
        """The new stream: unchanged documents byte for byte, changed ones re-serialised."""
        if self._output is None:
            self._output = "".join(emit_document(d) if d.changed else d.text for d in self.documents)
        return self._output

    @property
    def warnings(self) -> list[Problem]:
        return self.problems.warnings

    @property
    def failed(self) -> bool:
        return any(p.is_error for p in self.problems)


class PostRenderer:
    """Rules bound to options: run it on any reader with any writer."""

    def __init__(self, ruleset: RuleSet, options: Options = Options()):
        self.ruleset = ruleset
        self.options = options

    def run(self, reader: Reader, writer: Writer) -> Run:
        text = reader.read(self.options.limits.max_input_bytes)
        run = self.render(text, reader.name, emit_early=getattr(writer, "writes_stream", False))
        if run.failed and not writer.tolerant:
            raise PostRenderError(run.problems)
        writer.write(run)
        return run

    def render(self, text: str, name: str = "<input>", emit_early: bool = False) -> Run:
        """Every stage but the writer; input problems raise, rule problems are collected."""
        options = self.options
        # a volume policy may look at PersistentVolumeClaims no rule selects: then every document is parsed
        screen = None if options.full_parse or options.velero_policy is not None else screen_for(self.ruleset)
        run = Run(name, text, self.ruleset)
        run.documents, run.resources, problems, checking = _start_reading(text, options.limits, screen,
                                                                          options.parallel)
        try:
            if any(p.is_error for p in problems):
                raise PostRenderError(_in_stream_order(problems + checking.finish()))
            run.effects, run.unmatched, rule_problems = apply_rules(self.ruleset, run.resources)
            if emit_early and options.parallel and not any(p.is_error for p in rule_problems):
                run.output  # noqa: B018 - write the new stream while the worker still checks the rest
            reading = _in_stream_order(problems + checking.finish())
        finally:
            checking.cancel()
        if any(p.is_error for p in reading):
            raise PostRenderError(reading)
        skipped = any(d.data is UNPARSED for d in run.documents)  # resources the screen proved no rule selects
        verdict = _unmatched_problems(self.ruleset, run.unmatched, bool(run.resources) or skipped, options)
        if options.velero_policy is not None:
            from postrender.filters.policy import run_problems  # only runs given a policy file pay for it

            severity = Severity.ERROR if options.strict else Severity.WARNING
            verdict += run_problems(options.velero_policy, self.ruleset, run.resources, run.effects, severity)
        run.problems = Problems(reading + rule_problems + verdict + _ruleset_problems(self.ruleset))
        if options.strict:  # --strict: every warning is an error
            run.problems = Problems(replace(p, severity=Severity.ERROR) for p in run.problems)
        return run


def _in_stream_order(problems: list[Problem]) -> list[Problem]:
    """Problems of the input by document (stable): the same order whether or not a worker checked some."""
    return sorted(problems, key=lambda p: p.location.document or 0)


def _start_reading(text: str, limits: Limits, screen: Screen | None,
                   parallel: bool) -> tuple[list[Document], list[Resource], list[Problem], Checking]:
    """Split the stream, parse what a rule may select, and start checking the rest.

    With a ``screen``, documents whose text proves that no rule can select them are not
    parsed here (they are written back from their text anyway); they are still checked for
    whatever a full parse would refuse, possibly in a worker process (``stream.check``), whose
    problems ``Checking.finish`` returns.
    """
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


def _unmatched_problems(ruleset: RuleSet, unmatched: list[Rule], has_resources: bool,
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
    return problems


def _ruleset_problems(ruleset: RuleSet) -> list[Problem]:
    """The warnings of loading the rules, and one for each --set key no rule uses (with a "did you mean")."""
    problems = list(ruleset.warnings)
    for name in ruleset.unused_settings:
        from postrender.ruleset.sources import did_you_mean  # only when a --set key is unused

        close = did_you_mean(name, ruleset.parameters)
        problems.append(warning(f"--set {name}: no rule uses this parameter",
                                hint=f"did you mean {close!r}?" if close else None))
    return problems
