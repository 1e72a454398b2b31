"""The library entry points: ``render`` (text in, ``RenderResult`` out) and, for other readers
and writers, ``PostRenderer(ruleset, options).run(reader, writer)`` from ``postrender.pipeline``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from postrender.errors import Problem, Problems
from postrender.filters.merge import Effect
from postrender.limits import DEFAULT_LIMITS, Limits
from postrender.pipeline import Options, PostRenderer
from postrender.ruleset.model import Rule, RuleSet
from postrender.ruleset.sources import RuleInputs, build_ruleset
from postrender.stream.reader import TextReader
from postrender.stream.resources import Resource
from postrender.stream.split import Document
from postrender.writers.stream import TextWriter


@dataclass
class RenderResult:
    """The output text and what happened on the way."""

    text: str
    effects: list[Effect] = field(default_factory=list)
    problems: Problems = field(default_factory=Problems)
    unmatched: list[Rule] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)

    @property
    def warnings(self) -> list[Problem]:
        return self.problems.warnings


def load_rules(
    rules: Sequence[str | os.PathLike[str] | Mapping[str, Any]] = (),
    *,
    presets: Sequence[str] = (),
    set_values: Mapping[str, str] | None = None,
) -> RuleSet:
    """Load and check rules files, inline rule sets (Python mappings in the file format) and
    presets once, for any number of runs; raises ``PostRenderError`` listing every problem."""
    inputs = RuleInputs(
        rules=tuple(os.fspath(r) for r in rules if not isinstance(r, Mapping)),
        presets=tuple(presets),
        settings=tuple(f"{k}={v}" for k, v in (set_values or {}).items()),
        inline=tuple(r for r in rules if isinstance(r, Mapping)),
    )
    return build_ruleset(inputs)


def render(
    manifests: str | bytes,
    rules: Sequence[str | os.PathLike[str] | Mapping[str, Any]] = (),
    *,
    presets: Sequence[str] = (),
    set_values: Mapping[str, str] | None = None,
    strict: bool = False,
    allow_unmatched: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> RenderResult:
    """Post-render ``manifests`` with rules files, inline rule sets and presets.

    ``rules`` items are paths of rules files or rule sets as Python mappings (the same
    format as a file). The environment variables of the command line are *not* read: a
    library call depends only on its arguments. Returns a ``RenderResult`` whose ``text``
    is the new stream and whose ``warnings`` and ``effects`` say what happened; raises
    ``postrender.PostRenderError`` (with ``.problems``) when the rules or the input are
    wrong, and ``postrender.UsageError`` when no rules are given. ``limits``
    (``postrender.limits.Limits``) bounds input size, alias expansion and nesting depth, as
    the command line's ``--max-*`` flags do. A library call never forks a worker process.
    """
    ruleset = load_rules(rules, presets=presets, set_values=set_values)
    options = Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits)
    run = PostRenderer(ruleset, options).run(TextReader(manifests), TextWriter())
    return RenderResult(run.output, run.effects, run.problems, run.unmatched, run.documents, run.resources)
