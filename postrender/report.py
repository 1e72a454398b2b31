"""How problems reach the user: one line each on stderr, errors after warnings."""

from __future__ import annotations

import sys
from typing import Iterable

from postrender.errors import Problem


def print_problems(problems: Iterable[Problem]) -> None:
    ordered = sorted(problems, key=lambda p: p.is_error)
    for problem in ordered:
        sys.stderr.write(problem.render() + "\n")
    sys.stderr.flush()
