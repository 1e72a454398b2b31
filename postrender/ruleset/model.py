"""The rules as the pipeline uses them: validated, placeholders resolved, typed.

A field that holds ``{{ resource.name }}`` or ``{{ resource.namespace }}`` cannot be resolved
when the rules are loaded: it is kept as a ``Template`` (literal parts and slots, each with its
quoting) in a ``Binding`` that says where the filled-in value goes in the ``Rule``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any

    from postrender.errors import Problem
    from postrender.stream.screen import Pattern


class Phase(enum.Enum):
    """A Velero hook phase and the prefix of its pod annotations."""

    PRE_BACKUP = ("preBackup", "pre.hook.backup.velero.io")
    POST_BACKUP = ("postBackup", "post.hook.backup.velero.io")
    POST_RESTORE = ("postRestore", "post.hook.restore.velero.io")
    INIT_RESTORE = ("initRestore", "init.hook.restore.velero.io")

    @property
    def key(self) -> str:
        return self.value[0]

    @property
    def prefix(self) -> str:
        return self.value[1]

    @classmethod
    def by_key(cls, key: str) -> Phase:
        return next(phase for phase in cls if phase.key == key)


class Quoting(enum.Enum):
    """How a placeholder's value is written into its field."""

    TEXT = "text"  # as it is (argv elements, paths, names, durations)
    SHELL_WORD = "word"  # in a script: one single-quoted shell word
    SHELL_WORDS = "words"  # in a script, ``| words``: each whitespace-separated word quoted; nothing when empty
    ARGV_WORDS = "argv-words"  # a whole ``command`` element, ``| words``: one argv element per word


class Value:
    """An immutable value with ``__slots__``: equal when its fields are, copied with changes by
    ``replace``. Hooks and templates are such plain classes rather than frozen dataclasses
    because each dataclass costs about half a millisecond to create, on the start-up path that
    Helm pays on every call. A subclass's ``__init__`` takes its fields in slot order, by the
    slots' names."""

    __slots__: tuple[str, ...] = ()

    def __init__(self, *values: Any) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable (setting {name!r})")

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` (field name -> new value)."""
        return type(self)(**{**dict(zip(self.__slots__, self._fields(), strict=True)), **changes})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class Slot(Value):
    """A placeholder in a template: its name, how its value is quoted, and how it was written."""

    __slots__ = ("name", "quoting", "source")
    name: str
    quoting: Quoting
    source: str  # the placeholder as written, e.g. ``{{ resource.name }}``

    def __init__(self, name: str, quoting: Quoting, source: str) -> None:
        super().__init__(name, quoting, source)


class Template(Value):
    """A string with placeholders: literal parts and slots, in order."""

    __slots__ = ("parts",)
    parts: tuple[str | Slot, ...]

    def __init__(self, parts: tuple[str | Slot, ...]) -> None:
        super().__init__(parts)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(part for part in self.parts if isinstance(part, Slot))

    @property
    def source(self) -> str:
        """The text as written, placeholders included."""
        return "".join(part.source if isinstance(part, Slot) else part for part in self.parts)


class Binding(Value):
    """A rule field that holds resource placeholders, filled in for each matched resource."""

    __slots__ = ("target", "field", "line", "templates", "is_list", "check")
    target: tuple[str | int, ...]  # attribute names and indexes from the Rule to the value
    field: str  # the field in the rules file, for messages: hooks.preBackup.script
    line: int | None
    templates: tuple[Template, ...]  # one for a string; one per element for a command list
    is_list: bool  # the value is a tuple of argv elements (a command)
    check: str | None  # what the filled-in value must be (see ruleset.load.BIND_CHECKS)

    def __init__(self, target: tuple[str | int, ...], field: str, line: int | None, templates: tuple[Template, ...],
                 is_list: bool = False, check: str | None = None) -> None:
        super().__init__(target, field, line, templates, is_list, check)


DEFAULT_ON_ERROR = {Phase.PRE_BACKUP: "Fail", Phase.POST_BACKUP: "Fail", Phase.POST_RESTORE: "Continue"}


class BackupHook(Value):
    """A pre- or post-backup exec hook: a command Velero runs in a container of the pod around
    the backup of its volumes."""

    __slots__ = ("phase", "command", "on_error", "container", "timeout", "is_script")
    phase: Phase  # PRE_BACKUP or POST_BACKUP
    command: tuple[str, ...]
    on_error: str  # Continue or Fail: always written
    container: str | None  # None: the rule's container
    timeout: str | None
    is_script: bool  # the command is [shell, "-c", script]

    def __init__(self, phase: Phase, command: tuple[str, ...], on_error: str, container: str | None = None,
                 timeout: str | None = None, is_script: bool = False) -> None:
        super().__init__(phase, command, on_error, container, timeout, is_script)


class RestoreHook(Value):
    """A post-restore exec hook: a command Velero runs in a container of the restored pod, once
    the container runs (or is ready), within a bounded wait."""

    __slots__ = ("command", "on_error", "container", "exec_timeout", "wait_timeout", "wait_for_ready", "is_script")
    command: tuple[str, ...]
    on_error: str
    container: str | None
    exec_timeout: str | None
    wait_timeout: str | None  # None: Velero waits for ever (lint and explain warn)
    wait_for_ready: bool | None
    is_script: bool

    def __init__(self, command: tuple[str, ...], on_error: str, container: str | None = None,
                 exec_timeout: str | None = None, wait_timeout: str | None = None, wait_for_ready: bool | None = None,
                 is_script: bool = False) -> None:
        super().__init__(command, on_error, container, exec_timeout, wait_timeout, wait_for_ready, is_script)

    @property
    def phase(self) -> Phase:
        return Phase.POST_RESTORE


class InitRestoreHook(Value):
    """An init restore hook: a container Velero prepends to the restored pod's init containers."""

    __slots__ = ("command", "image", "name", "is_script")
    command: tuple[str, ...]
    image: str
    name: str | None  # None: Velero generates a unique name (a fixed one collides on a second restore)
    is_script: bool

    def __init__(self, command: tuple[str, ...], image: str, name: str | None = None, is_script: bool = False) -> None:
        super().__init__(command, image, name, is_script)

    @property
    def phase(self) -> Phase:
        return Phase.INIT_RESTORE


ExecHook = BackupHook | RestoreHook  # the hooks that run in one of the pod's containers
Hook = BackupHook | RestoreHook | InitRestoreHook


@dataclass(frozen=True)
class Scratch:
    name: str
    mount_path: str
    volume: dict[str, Any]
    backup: bool = True


@dataclass(frozen=True)
class Match:
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    images: tuple[Pattern, ...] = ()  # RE2 (postrender.stream.screen.compile_pattern)
    jsonpath: str | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    source: str  # the rules file (or preset) it came from
    line: int | None
    match: Match
    enabled: bool = True
    pod_template: str | None = None
    container: str | None = None
    scratch: Scratch | None = None
    backup_volumes: tuple[str, ...] = ()
    exclude_volumes: tuple[str, ...] = ()
    overwrite: bool = False
    hooks: tuple[Hook, ...] = ()
    description: str = ""
    field_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    bindings: tuple[Binding, ...] = ()  # fields with {{ resource.* }} placeholders, filled per resource

    @property
    def uses_resource(self) -> bool:
        return bool(self.bindings)

    def line_of(self, field_path: str) -> int | None:
        return self.field_lines.get(field_path, self.line)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    unused_settings: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()  # every {{ name }} the rules use: what a --set key could have meant
    warnings: tuple[Problem, ...] = ()  # found while loading (a file without rules, the environment): runs report them

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)
