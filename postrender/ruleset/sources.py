"""Where rules come from: ``--rules`` files, ``--preset`` names, inline data, ``--set``
values, and their environment-variable twins, merged into one RuleSet."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from postrender.errors import Location, PostRenderError, Problem, UsageError, error
from postrender.ruleset.load import RulesSource, load_ruleset
from postrender.ruleset.model import RuleSet
from postrender.ruleset.presets import preset_file, preset_names

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

ENV_RULES = "VELERO_POSTRENDER_RULES"
ENV_PRESETS = "VELERO_POSTRENDER_PRESETS"
ENV_SET = "VELERO_POSTRENDER_SET"


@dataclass(frozen=True)
class RuleInputs:
    """Everything that selects rules for a run, before any file is read."""

    rules: tuple[str, ...] = ()
    presets: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()  # KEY=VALUE
    inline: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not (self.rules or self.presets or self.inline)

    def with_environment(self, environ: Mapping[str, str] | None = None) -> RuleInputs:
        """Environment values first, then the flags (a flag's --set wins over the environment's)."""
        env = os.environ if environ is None else environ
        rules = tuple(p for p in env.get(ENV_RULES, "").split(os.pathsep) if p.strip())
        presets = tuple(p.strip() for p in env.get(ENV_PRESETS, "").split(",") if p.strip())
        settings = tuple(s.strip() for s in env.get(ENV_SET, "").split(",") if s.strip())
        return RuleInputs(rules + self.rules, presets + self.presets, settings + self.settings, self.inline)


def parse_settings(settings: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings to a mapping; a malformed one is a usage error."""
    values: dict[str, str] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


def read_sources(inputs: RuleInputs) -> list[RulesSource]:
    """The text of every rules file and preset; missing ones are reported together."""
    import yaml

    sources: list[RulesSource] = []
    problems: list[Problem] = []
    for path in inputs.rules:
        try:
            with open(path, encoding="utf-8") as handle:
                sources.append(RulesSource(handle.read(), path))
        except FileNotFoundError:
            problems.append(error("rules file not found", Location(file=path)))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(error(f"cannot read rules file: {exc}", Location(file=path)))
    for name in inputs.presets:
        found = preset_file(name)
        if found is None:
            problems.append(error(f"no preset named {name!r}", Location(file=f"preset:{name}"),
                                  f"available: {', '.join(preset_names()) or '(none)'}"))
            continue
        with open(found, encoding="utf-8") as handle:
            sources.append(RulesSource(handle.read(), f"preset:{name}"))
    for number, data in enumerate(inputs.inline, 1):
        sources.append(RulesSource(yaml.safe_dump(dict(data), sort_keys=False), f"<inline rules {number}>"))
    if problems:
        raise PostRenderError(problems)
    return sources


def build_ruleset(inputs: RuleInputs) -> RuleSet:
    """Read and validate all rules of a run; no rules at all is a usage error (exit 2)."""
    if inputs.empty:
        raise UsageError(
            f"no rules given: pass --rules FILE or --preset NAME (or set {ENV_RULES} / {ENV_PRESETS})"
        )
    settings = parse_settings(inputs.settings)
    return load_ruleset(read_sources(inputs), settings)
