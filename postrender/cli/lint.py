"""``velero-postrender lint FILE...``: check rules files without any manifests, in CI or an editor.

The loader's own validation (schema with "did you mean", placeholders, durations, regular
expressions, JSONPath) runs first, so lint and a real run can never disagree; then checks that
only make sense statically: the shell syntax of hook scripts (``sh -n``, never executed) and
hooks whose container the rule leaves to chance.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Mapping

import typer

from postrender.cli.options import PresetOption, SetOption, reported
from postrender.errors import Location, PostRenderError, Problem, UsageError, error, warning

SHELLS = ("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh")
_SHELL_FLAG = re.compile(r"-[a-z]*c")  # -c, -ec, -lc, -euc ...
_SHELL_MESSAGE = re.compile(r"^[^:]*: (?:line )?(\d+): (.*)$")
SYNTAX_CHECK_SECONDS = 10


@dataclass(frozen=True)
class LintInput:
    """One rules file to lint: the name problems use for it, and its text (None if unreadable)."""

    name: str
    text: str | None
    problem: Problem | None = None


def read_inputs(files: list[Path], presets: list[str]) -> list[LintInput]:
    from postrender.ruleset.presets import preset_names, preset_path

    inputs: list[LintInput] = []
    for file in files:
        try:
            inputs.append(LintInput(str(file), file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            inputs.append(LintInput(str(file), None, error("rules file not found", Location(file=str(file)))))
        except (OSError, UnicodeDecodeError) as exc:
            inputs.append(LintInput(str(file), None, error(f"cannot read rules file: {exc}", Location(file=str(file)))))
    for name in presets:
        path = preset_path(name)
        if path is None:
            inputs.append(LintInput(f"preset:{name}", None, error(
                f"no preset named {name!r}", Location(file=f"preset:{name}"),
                f"available: {', '.join(preset_names()) or '(none)'}")))
        else:
            inputs.append(LintInput(f"preset:{name}", path.read_text(encoding="utf-8")))
    return inputs


def lint_inputs(inputs: list[LintInput], settings: Mapping[str, str]) -> list[Problem]:
    """Every problem of the rules files, in file order then line order, without duplicates."""
    from postrender.ruleset.load import RulesSource, load_ruleset

    problems = [item.problem for item in inputs if item.problem is not None]
    readable = [item for item in inputs if item.text is not None]
    try:
        load_ruleset([RulesSource(item.text or "", item.name) for item in readable], settings)
    except PostRenderError as exc:
        problems.extend(exc.problems)
    for item in readable:
        problems.extend(static_problems(item.text or "", item.name, settings))
    order = {item.name: index for index, item in enumerate(inputs)}
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (order.get(p.location.file or "", len(order)), p.location.line or 0))


# --- static checks ----------------------------------------------------------------------

def static_problems(text: str, source: str, settings: Mapping[str, str]) -> list[Problem]:
    """Checks on the raw rules that the loader does not make because they need no manifest."""
    from postrender.ruleset.yamlfile import line_of, load_rules_text

    try:
        data = load_rules_text(text, source)
    except PostRenderError:
        return []  # the loader reported the YAML error already
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return []
    if not data["rules"]:
        return [warning("rules file has no rules", Location(file=source, line=line_of(data, ("rules",))))]
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    values = {str(k): _text(v) for k, v in params.items()} | dict(settings)
    lines = text.splitlines()
    problems: list[Problem] = []
    for index, raw in enumerate(data["rules"]):
        if isinstance(raw, dict):
            rule = _RuleCheck(data, index, raw, source, values, lines)
            problems.extend(rule.containers() + rule.scripts())
    return problems


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class _RuleCheck:
    def __init__(self, data: Any, index: int, raw: dict[str, Any], source: str, values: Mapping[str, str],
                 lines: list[str]):
        self.data, self.index, self.raw, self.source, self.values, self.lines = data, index, raw, source, values, lines
        name = raw.get("name")
        self.name = name if isinstance(name, str) else f"#{index + 1}"
        hooks = raw.get("hooks")
        self.hooks: dict[str, Any] = {k: v for k, v in hooks.items() if isinstance(v, dict)} if isinstance(hooks, dict) \
            else {}
        self.exec_hooks = {phase: hook for phase, hook in self.hooks.items() if phase != "initRestore"}

    def line(self, *path: str | int) -> int | None:
        from postrender.ruleset.yamlfile import line_of

        return line_of(self.data, ("rules", self.index, *path))

    def where(self, *path: str | int, line: int | None = None) -> Location:
        dotted = ".".join(str(step) if isinstance(step, str) else f"[{step}]" for step in path).replace(".[", "[")
        return Location(file=self.source, line=line or self.line(*path), rule=self.name, field=dotted or None)

    # a hook's container -------------------------------------------------------------------

    def containers(self) -> list[Problem]:
        """Hooks left to "the first container" of the pod, which may well be a sidecar."""
        match = self.raw.get("match") if isinstance(self.raw.get("match"), dict) else {}
        if self.raw.get("container") is not None or match.get("images"):
            return self.scratch_unmounted()
        named = {phase: hook["container"] for phase, hook in self.exec_hooks.items()
                 if isinstance(hook.get("container"), str)}
        defaulted = [phase for phase in self.exec_hooks if phase not in named]
        problems: list[Problem] = []
        if defaulted and named:
            phase, container = next(iter(named.items()))
            for other in defaulted:
                problems.append(warning(
                    f"this hook runs in the pod's first container, while hooks.{phase} runs in {container!r}",
                    self.where("hooks", other),
                    f"set container: {container} on the rule, the default of every hook, or on this hook"))
        elif defaulted:
            problems.append(warning(
                "the hooks run in the pod's first container: the rule has no container and no match.images to pick one",
                self.where("hooks"),
                "set container: NAME, or match.images: the first container whose image matches is then used"))
        return problems + self.scratch_unmounted()

    def scratch_unmounted(self) -> list[Problem]:
        if isinstance(self.raw.get("scratch"), dict) and not self.hooks:
            return [warning("the scratch volume is mounted in no container: it is mounted where a hook runs, "
                            "and the rule has no hook", self.where("scratch"),
                            "add a preBackup or postRestore hook, or drop scratch")]
        return []

    # shell syntax -------------------------------------------------------------------------

    def scripts(self) -> list[Problem]:
        problems: list[Problem] = []
        for phase, hook in self.hooks.items():
            script = hook.get("script")
            if isinstance(script, str) and script.strip():
                problems.extend(self.check_script(script, str(hook.get("shell") or "/bin/sh"), ("hooks", phase, "script")))
            command = hook.get("command")
            if (isinstance(command, list) and len(command) >= 3 and all(isinstance(c, str) for c in command[:3])
                    and os.path.basename(command[0]) in SHELLS and _SHELL_FLAG.fullmatch(command[1])):
                problems.extend(self.check_script(command[2], command[0], ("hooks", phase, "command", 2)))
        return problems

    def check_script(self, script: str, shell: str, path: tuple[str | int, ...]) -> list[Problem]:
        from postrender.ruleset.placeholders import PLACEHOLDER

        text = PLACEHOLDER.sub(lambda m: self.values.get(m.group(1), m.group(0)), script)
        found = shell_syntax_error(text, shell)
        if found is None:
            return []
        script_line, message = found
        line = self.line(*path)
        if line and script_line and self._is_block(line):
            # a block scalar starts on the line after its key; "end of file" errors point past the end
            line += min(script_line, max(1, len(script.rstrip("\n").split("\n"))))
        where = self.where(*path, line=line)
        return [error(f"shell syntax error ({os.path.basename(shell)} -n): {message}", where,
                      "the script was only parsed, never run")]

    def _is_block(self, line: int) -> bool:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return re.search(r":\s*\|[-+0-9]*\s*(#.*)?$", text) is not None


def shell_syntax_error(script: str, shell: str) -> tuple[int | None, str] | None:
    """``(line in the script, message)`` when ``SHELL -n`` refuses the script, else None.

    ``-n`` makes the shell read and parse the commands without executing any. A shell that is
    not installed here is not checked (None).
    """
    base = os.path.basename(shell)
    if base not in SHELLS:
        return None
    executable = shutil.which(base) or (shutil.which("sh") if base in ("ash", "dash") else None)
    if executable is None:
        return None
    try:
        result = subprocess.run([executable, "-n"], input=script.encode("utf-8"), capture_output=True,
                                timeout=SYNTAX_CHECK_SECONDS, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"})
    except subprocess.TimeoutExpired:
        return None, f"{base} -n did not finish within {SYNTAX_CHECK_SECONDS}s"
    if result.returncode == 0:
        return None
    output = result.stderr.decode("utf-8", "replace").strip().splitlines() or [f"{base} -n exited {result.returncode}"]
    parsed = _SHELL_MESSAGE.match(output[0])
    if parsed:
        return int(parsed.group(1)), parsed.group(2).strip()
    return None, output[0].strip()


# --- the command ------------------------------------------------------------------------

@reported
def lint(
    files: Annotated[list[Path] | None, typer.Argument(metavar="FILE...", help="Rules files to check.",
                                                       dir_okay=False)] = None,
    preset: PresetOption = None,
    set_: SetOption = None,
) -> None:
    """Check rules files without manifests (exit 1 when they would not load).

    Reports, with file:line, unknown keys (with a "did you mean"), wrong types, invalid
    JSONPath, regular expressions and durations, placeholders without a value (pass their
    --set), shell syntax errors in hook scripts (sh -n: parsed, never run) and hooks whose
    container is left to chance. Exit 1 on errors, 0 when there are only warnings.

    \b
    Examples:
      velero-postrender lint rules.yaml
      velero-postrender lint rules/*.yaml --set embedded=true
      velero-postrender lint --preset postgresql
    """
    from postrender.ruleset.sources import parse_settings

    if not files and not preset:
        raise UsageError("lint needs at least one rules FILE (or --preset NAME)")
    settings = parse_settings(set_ or ())
    inputs = read_inputs(list(files or ()), list(preset or ()))
    problems = lint_inputs(inputs, settings)
    errors = sum(1 for p in problems if p.is_error)
    for problem in problems:
        sys.stdout.write(problem.render() + "\n")
    what = f"{len(inputs)} rules file{'' if len(inputs) == 1 else 's'}"
    if problems:
        sys.stdout.write(f"{what}: {errors} error{'' if errors == 1 else 's'}, "
                         f"{len(problems) - errors} warning{'' if len(problems) - errors == 1 else 's'}\n")
    else:
        sys.stdout.write(f"{what}: ok\n")
    sys.stdout.flush()
    if errors:
        raise typer.Exit(1)
