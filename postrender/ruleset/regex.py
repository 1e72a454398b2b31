"""Regular expressions of rules (``match.images``), in RE2: the syntax and engine of Go's ``regexp``.

A rules file may come from anywhere (a preset, a colleague, a chart's repository), and with a
backtracking engine such as Python's ``re`` a pattern like ``(a+)+$`` takes time exponential in
the length of the image it is tried on: one rule could hang every ``helm install``. RE2 runs
in time linear in the text whatever the pattern, and refuses what it cannot run that way
(backreferences, lookaround, repetition counts above 1000). Its syntax is the one Velero's
and Kubernetes' own Go code reads, so a pattern means the same here as in any Go tool:
``\\b`` and ``\\d`` are ASCII, ``$`` is the end of the text (no final newline), ``\\z`` exists
and ``\\Z`` does not.

The loader compiles every pattern here (an invalid one is a located error of the rule), and
the same compiled objects serve the lexical screen (``stream.screen``), matching
(``filters.select``), the hook container choice (``filters.merge``) and ``lint``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time that Helm pays on every call
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Pattern(Protocol):
        """A compiled pattern: what the stages use of it."""

        @property
        def pattern(self) -> str: ...

        def search(self, text: str) -> Any: ...


def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled by RE2; ``ValueError`` with RE2's reason when it is invalid."""
    import re2  # the RE2 extension: only rules with image patterns need it

    options = re2.Options()
    options.log_errors = False  # RE2 would print its own message on stderr: the loader reports it, located
    try:
        return re2.compile(pattern, options)  # type: ignore[no-any-return]
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        raise ValueError(reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)) from None
