"""What every lint check is given, and how a check module describes itself.

A check is a module of ``postrender.lint`` that declares:

- ``ID``: the name users see (``--disable ID``, ``--check-option ID.KEY=VALUE``, JSON ``check``);
- ``SEVERITY``: ``Severity.ERROR`` (lint exits 1) or ``Severity.WARNING``;
- ``TYPE``: ``"rule"`` (``check`` is called once per rule with a ``RuleView``) or ``"file"``
  (once per rules file with a ``RulesFile``);
- ``CONF``: its options, ``{name: (type, description)}``, and ``DEFAULT``: their values;
- a docstring: the first line is its one-line description, the rest explains why;
- ``check(item, conf)``: yields located ``Problem`` values.

Checks read the raw rules (with the line of every key), after the loader has validated them,
so they see the file as written; placeholders are filled in where a check needs values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from postrender.errors import Location, Problem, Severity
from postrender.ruleset import placeholders
from postrender.ruleset.yamlfile import line_of

if TYPE_CHECKING:
    from types import ModuleType

    from postrender.filters.policy import ResourcePolicies

CHECK_TYPES = ("rule", "file")
SHELLS = ("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh")
_SHELL_FLAG = re.compile(r"-[a-z]*c")  # -c, -ec, -lc, -euc ...
_BLOCK_SCALAR = re.compile(r":\s*[|][-+0-9]*\s*(#.*)?$")


@dataclass(frozen=True)
class Check:
    """A check module, read once: what ``--list-checks``, the docs and the runner use."""

    id: str
    severity: Severity
    scope: str  # the module's TYPE: "rule" or "file"
    summary: str
    details: str
    conf: Mapping[str, tuple[type, str]]
    default: Mapping[str, Any]
    run: Callable[[Any, Mapping[str, Any]], Iterable[Problem]]
    module: str


def describe(module: ModuleType) -> Check:
    """The ``Check`` of a check module; a module missing a declaration is a programming error."""
    doc = (module.__doc__ or "").strip()
    summary, _, details = doc.replace("``", "`").partition("\n")
    check = Check(
        id=module.ID,
        severity=module.SEVERITY,
        scope=module.TYPE,
        summary=summary.strip(),
        details=" ".join(details.split()),
        conf=dict(module.CONF),
        default=dict(module.DEFAULT),
        run=module.check,
        module=module.__name__.rsplit(".", 1)[-1],
    )
    if check.scope not in CHECK_TYPES or set(check.conf) != set(check.default) or not check.summary:
        raise TypeError(f"lint check {module.__name__} does not describe itself completely")
    return check


@dataclass(frozen=True)
class Context:
    """What a lint run knows besides the rules: placeholder values and a Velero policy."""

    settings: Mapping[str, str] = field(default_factory=dict)  # --set
    policy: ResourcePolicies | None = None  # --velero-policy


class RulesFile:
    """One rules file as written: its data with line marks, its lines, its placeholder values."""

    def __init__(self, source: str, text: str, data: Any, context: Context):
        self.source = source
        self.text = text
        self.data = data
        self.context = context
        self.lines = text.splitlines()
        params = data.get("params") if isinstance(data, dict) else None
        params = params if isinstance(params, dict) else {}
        self.values: dict[str, str] = {str(k): _text(v) for k, v in params.items()} | dict(context.settings)

    def line(self, *path: str | int) -> int | None:
        return line_of(self.data, path)

    def rules(self) -> list[RuleView]:
        rules = self.data.get("rules") if isinstance(self.data, dict) else None
        if not isinstance(rules, list):
            return []
        return [RuleView(self, index, raw) for index, raw in enumerate(rules) if isinstance(raw, dict)]


class RuleView:
    """One rule of a rules file, with helpers to locate what a check finds in it."""

    def __init__(self, file: RulesFile, index: int, raw: dict[str, Any]):
        self.file = file
        self.index = index
        self.raw = raw
        name = raw.get("name")
        self.name = name if isinstance(name, str) else f"#{index + 1}"
        hooks = raw.get("hooks")
        self.hooks: dict[str, dict[str, Any]] = \
            {k: v for k, v in hooks.items() if isinstance(v, dict)} if isinstance(hooks, dict) else {}
        self.exec_hooks = {phase: hook for phase, hook in self.hooks.items() if phase != "initRestore"}

    @property
    def source(self) -> str:
        return self.file.source

    @property
    def values(self) -> Mapping[str, str]:
        return self.file.values

    def line(self, *path: str | int) -> int | None:
        return self.file.line("rules", self.index, *path)

    def where(self, *path: str | int, line: int | None = None) -> Location:
        dotted = ".".join(str(step) if isinstance(step, str) else f"[{step}]" for step in path).replace(".[", "[")
        return Location(file=self.source, line=line or self.line(*path), rule=self.name, field=dotted or None)

    def scripts(self) -> list[HookScript]:
        """Every shell script of the rule's hooks: ``script:`` and ``command: [SHELL, -c, SCRIPT]``."""
        found: list[HookScript] = []
        for phase, hook in self.hooks.items():
            script = hook.get("script")
            if isinstance(script, str) and script.strip():
                found.append(HookScript(self, phase, script, str(hook.get("shell") or "/bin/sh"),
                                        ("hooks", phase, "script"), quoted_placeholders=True))
            command = hook.get("command")
            if (isinstance(command, list) and len(command) >= 3 and all(isinstance(c, str) for c in command[:3])
                    and shell_name(command[0]) in SHELLS and _SHELL_FLAG.fullmatch(command[1])):
                found.append(HookScript(self, phase, command[2], command[0], ("hooks", phase, "command", 2),
                                        quoted_placeholders=False))
        return found


@dataclass(frozen=True)
class HookScript:
    """A hook's shell script and where it sits in the rules file."""

    rule: RuleView
    phase: str
    text: str
    shell: str
    path: tuple[str | int, ...]
    quoted_placeholders: bool  # ``script:`` fills placeholders in shell-quoted; command lists as plain text

    def filled(self) -> str:
        """The script with the placeholders filled in as a run fills them (unknown ones stay as written)."""
        values = self.rule.values
        if self.quoted_placeholders:
            return placeholders.fill_script(self.text, values)
        return placeholders.PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), self.text)

    def location(self, script_line: int | None = None) -> Location:
        """The place of the script in the rules file, or of one of its lines when it is a block scalar."""
        line = self.rule.line(*self.path)
        if line and script_line and self.is_block(line):
            # a block scalar starts on the line after its key; an error past the end points at the last line
            line += min(script_line, max(1, len(self.text.rstrip("\n").split("\n"))))
        return self.rule.where(*self.path, line=line)

    def is_block(self, line: int) -> bool:
        lines = self.rule.file.lines
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        return _BLOCK_SCALAR.search(text) is not None


def shell_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
