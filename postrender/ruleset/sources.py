"""Where rules come from: ``--rules`` files, ``--preset`` names, inline data, ``--set``
values, and their environment-variable twins, merged into one RuleSet.

Mistakes that would otherwise pass silently get a "did you mean": a preset name close to a
shipped one (``postgres`` -> ``postgresql``), and a ``VELERO_POSTRENDER_*`` variable that no
part of the program reads but that is close to one it does (``VELERO_POSTRENDER_PRESET``):
that is a warning carried in ``RuleSet.warnings``, so ``--strict`` makes it an error like
every other warning. (A ``--set`` key that no rule uses gets its suggestion in the pipeline,
from ``RuleSet.parameters``, through ``did_you_mean``.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import yaml

from postrender.errors import Location, PostRenderError, Problem, UsageError, error, warning
from postrender.limits import Limits
from postrender.ruleset.load import RulesSource, load_ruleset
from postrender.ruleset.model import RuleSet
from postrender.ruleset.presets import preset_file, preset_names
from postrender.stream.reader import read_file

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping, Sequence

ENV_RULES = "VELERO_POSTRENDER_RULES"
ENV_PRESETS = "VELERO_POSTRENDER_PRESETS"
ENV_SET = "VELERO_POSTRENDER_SET"
ENV_PREFIX = "VELERO_POSTRENDER_"
_ENV_CUTOFF = 0.75  # on the part after the prefix: PRESET -> PRESETS, but REQUIRE_ALL is nobody's typo


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate closest to ``word`` (``difflib.get_close_matches``), or None when none is close."""
    import difflib  # only when something is already wrong: difflib costs start-up time

    close = difflib.get_close_matches(word, sorted(set(candidates) - {word}), n=1, cutoff=cutoff)
    return close[0] if close else None


def unknown_environment(known: Iterable[str], environ: Mapping[str, str] | None = None) -> list[Problem]:
    """A warning for each set ``VELERO_POSTRENDER_*`` variable that is not in ``known`` but close
    to one that is: a typo that would otherwise change nothing without a word. Variables far from
    every known one (other tools of the project, test switches) are left alone."""
    env = os.environ if environ is None else environ
    known_set = set(known)
    suffixes = {name[len(ENV_PREFIX):]: name for name in known_set if name.startswith(ENV_PREFIX)}
    problems: list[Problem] = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known_set:
            continue
        close = did_you_mean(name[len(ENV_PREFIX):], suffixes, _ENV_CUTOFF)
        if close is not None:
            problems.append(warning(f"environment variable {name} is not read by velero-postrender",
                                    hint=f"did you mean {suffixes[close]}?"))
    return problems


@dataclass(frozen=True)
class RuleInputs:
    """Everything that selects rules for a run, before any file is read."""
    rules: tuple[str, ...] = ()
    presets: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()  # KEY=VALUE
    inline: tuple[Mapping[str, Any], ...] = field(default=())
    inline_name: str = ""  # how messages name the inline rules (default: "<inline rules N>")
    warnings: tuple[Problem, ...] = ()  # about the inputs themselves (the environment); the run reports them

    @property
    def empty(self) -> bool:
        return not (self.rules or self.presets or self.inline)

    def with_environment(self, environ: Mapping[str, str] | None = None, known: Iterable[str] = ()) -> RuleInputs:
        """Environment values first, then the flags (a flag's --set wins over the environment's).

        ``known``: every ``VELERO_POSTRENDER_*`` variable the caller reads; a set variable close
        to one of them but not among them becomes a warning (``unknown_environment``).
        """
        env = os.environ if environ is None else environ
        rules = tuple(p for p in env.get(ENV_RULES, "").split(os.pathsep) if p.strip())
        presets = tuple(p.strip() for p in env.get(ENV_PRESETS, "").split(",") if p.strip())
        settings = tuple(s.strip() for s in env.get(ENV_SET, "").split(",") if s.strip())
        found = unknown_environment((ENV_RULES, ENV_PRESETS, ENV_SET, *known), env) if known else []
        return replace(self, rules=rules + self.rules, presets=presets + self.presets,
                       settings=settings + self.settings, warnings=self.warnings + tuple(found))


def parse_settings(settings: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings to a mapping; a malformed one is a usage error."""
    values: dict[str, str] = {}
    for item in settings:
        if not item.isascii() and any("\udc80" <= char <= "\udcff" for char in item):
            shown = repr(item.encode("utf-8", "surrogateescape"))[1:]  # the bytes as given: 'a=\xff'
            raise UsageError(f"--set {shown}: holds bytes that are not UTF-8 (from the command line or {ENV_SET}); "
                             "the manifests are UTF-8 text")
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


def read_sources(inputs: RuleInputs, max_bytes: int | None = None) -> list[RulesSource]:
    """The text of every rules file and preset, each read through the bounded reader (at most
    ``max_bytes``, by default the input limit of ``--max-input-bytes``'s variable or its
    default); missing and unreadable ones are reported together."""
    if max_bytes is None:
        max_bytes = Limits.from_settings().max_input_bytes
    sources: list[RulesSource] = []
    problems: list[Problem] = []
    for path in inputs.rules:
        try:
            sources.append(RulesSource(read_file(path, max_bytes, "rules file"), path))
        except PostRenderError as exc:
            problems.extend(exc.problems)
    for name in inputs.presets:
        found = preset_file(name)
        if found is None:
            problems.append(error(f"no preset named {name!r}", Location(file=f"preset:{name}"), preset_hint(name)))
            continue
        try:
            sources.append(RulesSource(read_file(found, max_bytes, "preset"), f"preset:{name}", shipped=True))
        except PostRenderError as exc:
            problems.extend(exc.problems)
    for number, data in enumerate(inputs.inline, 1):
        name = inputs.inline_name or f"<inline rules {number}>"
        if inputs.inline_name and len(inputs.inline) > 1:
            name += f" #{number}"
        sources.append(RulesSource(yaml.safe_dump(dict(data), sort_keys=False), name))
    if problems:
        raise PostRenderError(problems)
    return sources


def preset_hint(name: str) -> str:
    """The hint for an unknown preset name: the closest shipped one, else the list of them."""
    names = preset_names()
    close = did_you_mean(name, names)
    if close is not None:
        return f"did you mean {close!r}?"
    return f"available: {', '.join(names) or '(none)'}"


def build_ruleset(inputs: RuleInputs, max_bytes: int | None = None) -> RuleSet:
    """Read and validate all rules of a run; no rules at all is a usage error (exit 2).

    The warnings about the inputs (``RuleInputs.warnings``) join those of loading the rules in
    ``RuleSet.warnings``: every run reports them, and ``--strict`` makes them errors.
    """
    if inputs.empty:
        raise UsageError(
            f"no rules given: pass --rules FILE or --preset NAME (or set {ENV_RULES} / {ENV_PRESETS})"
        )
    settings = parse_settings(inputs.settings)
    ruleset = load_ruleset(read_sources(inputs, max_bytes), settings)
    if inputs.warnings:
        ruleset = replace(ruleset, warnings=tuple(inputs.warnings) + tuple(ruleset.warnings))
    return ruleset
