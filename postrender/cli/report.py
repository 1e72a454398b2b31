"""How problems reach the user: one line each on stderr, errors after warnings.

A line is made safe first (``postrender.integrations.helm.one_line``): a newline or an escape
sequence inside a value from the rules or the manifests cannot forge another line.
"""

from __future__ import annotations

import sys

from postrender.errors import Problem
from postrender.integrations.helm import one_line

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Iterable


def print_problems(problems: Iterable[Problem]) -> None:
    ordered = sorted(problems, key=lambda p: p.is_error)
    for problem in ordered:
        sys.stderr.write(one_line(problem.render()) + "\n")
    sys.stderr.flush()
