"""Run the lint checks on rules files: the loader's own validation first, then every check.

The loader (``load_ruleset``) validates the files exactly as a real run does (schema with "did
you mean", placeholders, durations, regular expressions, JSONPath, duplicate names), so lint
and a run never disagree; the checks of ``postrender.lint`` then report what only makes
sense statically. Files are read through the bounded reader, like manifests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from postrender.errors import Location, PostRenderError, Problem, UsageError, error
from postrender.lint import CHECKS, CHECKS_BY_ID
from postrender.lint.base import Check, Context, RulesFile
from postrender.ruleset.load import RulesSource, load_ruleset
from postrender.ruleset.presets import preset_names, preset_path
from postrender.ruleset.sources import did_you_mean
from postrender.ruleset.yamlfile import load_rules_text
from postrender.stream.reader import read_file
from postrender.writers.json import problem_to_json

if TYPE_CHECKING:
    from postrender.filters.policy import ResourcePolicies

LOADER = "load"  # the check name of the loader's own problems (and of unreadable files)
JSON_VERSION = 1


@dataclass(frozen=True)
class LintInput:
    """One rules file to lint: the name problems use for it, and its text (None if unreadable)."""

    name: str
    text: str | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Finding:
    problem: Problem
    check: str  # the check's ID, or LOADER


@dataclass
class LintResult:
    files: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [finding.problem for finding in self.findings]

    @property
    def errors(self) -> int:
        return sum(1 for finding in self.findings if finding.problem.is_error)

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors


def read_inputs(files: Sequence[str], presets: Sequence[str], max_bytes: int) -> list[LintInput]:
    """The text of every file and preset, each read through the bounded reader."""
    inputs: list[LintInput] = []
    for path in files:
        try:
            inputs.append(LintInput(path, read_file(path, max_bytes, "rules file")))
        except PostRenderError as exc:
            inputs.append(LintInput(path, None, tuple(exc.problems)))
    for name in presets:
        label = f"preset:{name}"
        found = preset_path(name)
        if found is None:
            inputs.append(LintInput(label, None, (error(
                f"no preset named {name!r}", Location(file=label),
                f"available: {', '.join(preset_names()) or '(none)'}"),)))
            continue
        try:
            inputs.append(LintInput(label, read_file(str(found), max_bytes, "preset")))
        except PostRenderError as exc:
            inputs.append(LintInput(label, None, tuple(exc.problems)))
    return inputs


def parse_check_options(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``ID.KEY=VALUE`` strings to per-check options, typed by the check's ``CONF``; usage errors."""
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        check_id, dot, key = name.strip().partition(".")
        check = CHECKS_BY_ID.get(check_id)
        if not sep or not dot or check is None or key not in check.conf:
            known = ", ".join(f"{c.id}.{k}" for c in CHECKS for k in c.conf) or "(none)"
            raise UsageError(f"--check-option {item!r}: expected CHECK.OPTION=VALUE, one of: {known}")
        kind = check.conf[key][0]
        options.setdefault(check_id, {})[key] = _typed(value, kind, item)
    return options


def _typed(value: str, kind: type, item: str) -> Any:
    if kind is bool:
        if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise UsageError(f"--check-option {item!r}: expected true or false")
        return value.strip().lower() in ("true", "1", "yes")
    if kind is int:
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"--check-option {item!r}: expected a whole number") from None
    if kind is list:
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def lint(inputs: Sequence[LintInput], settings: Mapping[str, str] | None = None,
         policy: ResourcePolicies | None = None, disabled: Sequence[str] = (),
         options: Mapping[str, Mapping[str, Any]] | None = None) -> LintResult:
    """Every problem of the rules files, in file order then line order, without duplicates."""
    unknown = sorted(set(disabled) - set(CHECKS_BY_ID))
    if unknown:
        close = did_you_mean(unknown[0], CHECKS_BY_ID)
        suggestion = f"did you mean {close!r}? " if close else ""
        raise UsageError(f"--disable {unknown[0]!r}: no such check ({suggestion}see --list-checks)")
    settings = dict(settings or {})
    findings = [Finding(problem, LOADER) for item in inputs for problem in item.problems]
    readable = [item for item in inputs if item.text is not None]
    try:
        load_ruleset([RulesSource(item.text or "", item.name) for item in readable], settings)
    except PostRenderError as exc:
        findings.extend(Finding(problem, LOADER) for problem in exc.problems)
    context = Context(settings, policy)
    checks = [check for check in CHECKS if check.id not in set(disabled)]
    for item in readable:
        try:
            data = load_rules_text(item.text or "", item.name)
        except PostRenderError:
            continue  # the loader reported the YAML error already
        if not isinstance(data, dict):
            continue
        rules_file = RulesFile(item.name, item.text or "", data, context)
        for check in checks:
            conf = {**check.default, **dict((options or {}).get(check.id, {}))}
            findings.extend(Finding(problem, check.id) for problem in _run(check, rules_file, conf))
    order = {item.name: index for index, item in enumerate(inputs)}
    first: dict[Problem, Finding] = {}
    for finding in findings:
        first.setdefault(finding.problem, finding)
    unique = list(first.values())
    unique.sort(key=lambda f: (order.get(f.problem.location.file or "", len(order)), f.problem.location.line or 0))
    return LintResult([item.name for item in inputs], unique)


def _run(check: Check, rules_file: RulesFile, conf: Mapping[str, Any]) -> list[Problem]:
    """The problems of one check on one file; a check that breaks is reported, not a traceback."""
    items: list[Any] = [rules_file] if check.scope == "file" else list(rules_file.rules())
    problems: list[Problem] = []
    for item in items:
        try:
            problems.extend(check.run(item, conf))
        except Exception as exc:  # noqa: BLE001 - a bug in one check must not hide the other problems
            where = Location(file=rules_file.source, line=getattr(item, "line", lambda: None)(),
                             rule=getattr(item, "name", None))
            problems.append(error(f"lint check {check.id} failed: {type(exc).__name__}: {exc}", where,
                                  f"a bug in velero-postrender; --disable {check.id} skips it"))
    return problems


# --- output -------------------------------------------------------------------------------

def summary_line(result: LintResult) -> str:
    count = len(result.files)
    what = f"{count} rules file{'' if count == 1 else 's'}"
    if not result.findings:
        return f"{what}: ok"
    errors, warnings = result.errors, result.warnings
    return f"{what}: {errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}"


def result_to_json(result: LintResult) -> dict[str, Any]:
    """The documented ``lint -o json`` shape (docs/lint.md); ``version`` changes only when it breaks.

    Each problem is ``problem_to_json``'s shape (shared with ``explain -o json``) plus ``check``.
    """
    return {
        "version": JSON_VERSION,
        "files": list(result.files),
        "problems": [{**problem_to_json(finding.problem), "check": finding.check} for finding in result.findings],
        "summary": {"files": len(result.files), "errors": result.errors, "warnings": result.warnings,
                    "ok": result.errors == 0},
    }


def checks_to_json() -> list[dict[str, Any]]:
    return [{"id": check.id, "severity": check.severity.value, "type": check.scope, "summary": check.summary,
             "details": check.details,
             "options": {key: {"type": getattr(kind, "__name__", str(kind)), "description": text,
                               "default": check.default[key]}
                         for key, (kind, text) in check.conf.items()}}
            for check in CHECKS]
