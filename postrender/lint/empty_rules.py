"""A rules file whose ``rules:`` list is empty: it changes nothing.

Often a leftover of a template or a file whose rules were all commented out.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from postrender.errors import Location, Problem, Severity, warning
from postrender.lint.base import RulesFile

ID = "empty-rules"
SEVERITY = Severity.WARNING
TYPE = "file"
CONF: dict[str, tuple[type, str]] = {}
DEFAULT: dict[str, Any] = {}


def check(file: RulesFile, conf: Mapping[str, Any]) -> Iterator[Problem]:
    if isinstance(file.data, dict) and file.data.get("rules") == []:
        yield warning("rules file has no rules", Location(file=file.source, line=file.line("rules")))
