"""How problems reach the user: one line each on stderr, errors after warnings."""

from __future__ import annotations

import sys

from postrender.errors import Problem

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Iterable


def print_problems(problems: Iterable[Problem]) -> None:
    ordered = sorted(problems, key=lambda p: p.is_error)
    for problem in ordered:
        sys.stderr.write(problem.render() + "\n")
    sys.stderr.flush()
