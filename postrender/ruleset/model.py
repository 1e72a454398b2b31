"""The rules as the pipeline uses them: validated, placeholders resolved, typed."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any


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


DEFAULT_ON_ERROR = {Phase.PRE_BACKUP: "Fail", Phase.POST_BACKUP: "Fail", Phase.POST_RESTORE: "Continue"}


@dataclass(frozen=True)
class Hook:
    phase: Phase
    command: tuple[str, ...]
    container: str | None = None  # None: the rule's container
    on_error: str | None = None
    timeout: str | None = None
    exec_timeout: str | None = None
    wait_timeout: str | None = None
    wait_for_ready: bool | None = None
    image: str | None = None
    init_name: str | None = None
    is_script: bool = False


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
    images: tuple[re.Pattern[str], ...] = ()
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
    uses_resource: bool = False  # has {{ resource.* }} placeholders, bound per resource

    def line_of(self, field_path: str) -> int | None:
        return self.field_lines.get(field_path, self.line)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    unused_settings: tuple[str, ...] = ()

    @property
    def enabled(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)
