"""Go ``time.ParseDuration`` grammar, because Velero parses hook timeouts with it.

An invalid or zero timeout makes Velero fall back to its 30s default without a word, so
the post-renderer refuses both instead of writing them.
"""

from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float | None:
    """Seconds of a Go duration string, or None when Go would refuse it."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        return None
    position, total = 0, 0.0
    while position < len(body):
        part = _PART.match(body, position)
        if not part:
            return None
        total += float(part.group(1)) * _UNITS[part.group(2)]
        position = part.end()
    return -total if text.startswith("-") else total


def duration_problem(text: str) -> str | None:
    """Why ``text`` cannot be a Velero timeout, or None when it can."""
    seconds = parse_go_duration(text)
    if seconds is None:
        return f"{text!r} is not a Go duration"
    if seconds <= 0:
        return f"{text!r} must be positive (Velero replaces 0 or less with its 30s default)"
    return None
