"""Problems as values: every error and warning carries the place it is about.

Stages never print or raise strings built deep inside loops; they return or collect
``Problem`` objects, and the edge of the program (CLI, library call) reports them all
together, one line each. That is how a user sees every mistake of a run at once.

A rendered problem is one line that cannot be forged: names and values quoted in it come
from rules files, manifests and the command line, so every character that could end the
line, move the cursor or reorder what the terminal shows (C0 and C1 controls, DEL, the
Unicode line and paragraph separators, bidirectional overrides, the byte order mark, and
lone surrogates of undecodable command-line bytes) is written as an escape: ``\\n``,
``\\r``, ``\\e``, ``\\xNN`` or ``\\uNNNN``. A resource named ``"x\\nerror: y"`` thus
stays on its line, and an ESC sequence never reaches the terminal raw.
"""

from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Iterable

_UNSAFE = "[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\x1b": "\\e"}


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    return _ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def safe_line(text: str) -> str:
    """``text`` with every character that could break or forge a terminal line escaped."""
    return re.sub(_UNSAFE, _escape, text)  # compiled on the first message, not at start-up (re caches it)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Location:
    """Where a problem is: in a rules file, in the manifest stream, or both."""

    file: str | None = None
    line: int | None = None
    rule: str | None = None
    field: str | None = None
    document: int | None = None
    resource: str | None = None

    def render(self) -> str:
        parts: list[str] = []
        if self.file is not None:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.document is not None:
            where = f"document {self.document}"
            details = [d for d in (self.resource, f"line {self.line}" if self.line and self.file is None else None) if d]
            if details:
                where += f" ({', '.join(details)})"
            parts.append(where)
        elif self.resource:
            parts.append(self.resource)
        if self.rule is not None:
            parts.append(f"rule {self.rule!r}")
        if self.field:
            parts.append(self.field)
        return safe_line(": ".join(parts))


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    location: Location = field(default_factory=Location)
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        where = self.location.render()
        text = f"{self.severity.value}: {where + ': ' if where else ''}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return safe_line(text)


def error(message: str, location: Location | None = None, hint: str | None = None) -> Problem:
    return Problem(Severity.ERROR, message, location or Location(), hint)


def warning(message: str, location: Location | None = None, hint: str | None = None) -> Problem:
    return Problem(Severity.WARNING, message, location or Location(), hint)


class Problems(list[Problem]):
    """An ordered collection of problems found by one stage or one run."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self if not p.is_error]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise PostRenderError(self)


class PostRenderError(Exception):
    """Raised at stage boundaries when a run cannot produce trustworthy output."""

    def __init__(self, problems: list[Problem]):
        self.problems = Problems(problems)
        super().__init__("\n".join(p.render() for p in self.problems.errors))


class UsageError(Exception):
    """A mistake in how the command was called (exit code 2), e.g. no rules at all."""


def print_problems(problems: Iterable[Problem]) -> None:
    """How problems reach the user: one safe line each on stderr, warnings before errors."""
    for problem in sorted(problems, key=lambda p: p.is_error):
        sys.stderr.write(problem.render() + "\n")
    sys.stderr.flush()
