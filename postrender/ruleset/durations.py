"""Go's ``time.ParseDuration``, because Velero parses every hook timeout with it.

The parser follows Go's byte for byte: an optional sign, then one or more ``<number><unit>``
parts where a number is ASCII digits with an optional fraction (``1.5``, ``.5``, ``1.``) and a
unit is ``ns``, ``us``, ``µs`` (U+00B5), ``μs`` (U+03BC), ``ms``, ``s``, ``m`` or ``h``; the
bare ``0`` needs no unit. Fractions are truncated to whole nanoseconds with Go's float64
arithmetic, and a total past the int64 range of nanoseconds (about 2562047h) is refused.

Velero turns a value it cannot parse into its default without a word, treats a zero as "use
the default" and a negative timeout as "no timeout at all"; ``duration_problem`` refuses all
three so that the annotation means what the rule says.
"""

from __future__ import annotations

_UNITS: dict[bytes, int] = {
    b"ns": 1,
    b"us": 1_000,
    "\u00b5s".encode(): 1_000,  # MICRO SIGN
    "\u03bcs".encode(): 1_000,  # GREEK SMALL LETTER MU
    b"ms": 1_000_000,
    b"s": 1_000_000_000,
    b"m": 60_000_000_000,
    b"h": 3_600_000_000_000,
}
_LIMIT = 1 << 63  # Go keeps the running total in a uint64 and compares with 1<<63
MAX_NANOSECONDS = _LIMIT - 1
_DIGITS = b"0123456789"
_POINT = ord(".")
_ZERO = ord("0")


class DurationError(ValueError):
    """Why Go's ``time.ParseDuration`` refuses a string, in a few words."""


def parse_go_duration_ns(text: str) -> int:
    """Nanoseconds of a Go duration string, exactly as Go computes them; raise ``DurationError``."""
    raw = text.encode("utf-8", "surrogatepass")
    invalid = DurationError("malformed")
    negative = False
    if raw[:1] in (b"-", b"+"):
        negative = raw[:1] == b"-"
        raw = raw[1:]
    if raw == b"0":
        return 0
    if not raw:
        raise invalid
    total = 0  # a uint64 in Go: it wraps at 2**64
    position = 0
    while position < len(raw):
        if raw[position] != _POINT and raw[position] not in _DIGITS:
            raise _non_ascii_digit(text) or invalid
        start = position
        whole, position = _leading_int(raw, position)
        before_point = position != start
        fraction, scale, after_point = 0, 1.0, False
        if position < len(raw) and raw[position] == _POINT:
            position += 1
            fraction_start = position
            fraction, scale, position = _leading_fraction(raw, position)
            after_point = position != fraction_start
        if not before_point and not after_point:
            raise invalid  # no digits, e.g. ".s"
        unit_start = position
        while position < len(raw) and raw[position] != _POINT and raw[position] not in _DIGITS:
            position += 1
        unit = raw[unit_start:position]
        if not unit:
            raise DurationError("missing unit")
        size = _UNITS.get(unit)
        if size is None:
            raise _non_ascii_digit(text) or DurationError(f"unknown unit {unit.decode('utf-8', 'replace')!r}")
        if whole > _LIMIT // size:
            raise _out_of_range()
        whole *= size
        if fraction > 0:
            # Go: v += uint64(float64(f) * (float64(unit) / scale)), truncated toward zero
            whole += int(float(fraction) * (float(size) / scale))
            if whole > _LIMIT:
                raise _out_of_range()
        total = (total + whole) % (1 << 64)
        if total > _LIMIT:
            raise _out_of_range()
    if negative:
        return -total
    if total > MAX_NANOSECONDS:
        raise _out_of_range()
    return total


def _leading_int(raw: bytes, position: int) -> tuple[int, int]:
    """Go's leadingInt: ASCII digits, refused past 1<<63."""
    value = 0
    while position < len(raw) and raw[position] in _DIGITS:
        if value > _LIMIT // 10:
            raise _out_of_range()
        value = value * 10 + raw[position] - _ZERO
        if value > _LIMIT:
            raise _out_of_range()
        position += 1
    return value, position


def _leading_fraction(raw: bytes, position: int) -> tuple[int, float, int]:
    """Go's leadingFraction: digits after the point; past uint64 precision they are skipped."""
    value, scale, overflow = 0, 1.0, False
    while position < len(raw) and raw[position] in _DIGITS:
        if not overflow:
            following = value * 10 + raw[position] - _ZERO
            if value > (_LIMIT - 1) // 10 or following > _LIMIT:
                overflow = True
            else:
                value = following
                scale *= 10
        position += 1
    return value, scale, position


def _non_ascii_digit(text: str) -> DurationError | None:
    odd = next((c for c in text if c.isdigit() and c not in "0123456789"), None)
    if odd is None:
        return None
    return DurationError(f"{odd!r} (U+{ord(odd):04X}) is not an ASCII digit")


def _out_of_range() -> DurationError:
    return DurationError("out of range: the largest is 2562047h47m16.854775807s")


def parse_go_duration(text: str) -> float | None:
    """Seconds of a Go duration string, or None when Go would refuse it."""
    try:
        return parse_go_duration_ns(text) / 1e9
    except DurationError:
        return None


class DurationProblem:
    """Why a duration cannot be used, and what to write instead (a plain class: a dataclass
    costs start-up time that Helm pays on every call)."""

    __slots__ = ("message", "hint")

    def __init__(self, message: str, hint: str):
        self.message = message
        self.hint = hint


def check_duration(text: str) -> DurationProblem | None:
    """Why ``text`` cannot be a Velero hook timeout, or None when it can."""
    try:
        nanoseconds = parse_go_duration_ns(text)
    except DurationError as exc:
        return DurationProblem(f"{text!r} is not a Go duration ({exc}); Velero would silently use its default",
                               "e.g. 30s, 3m, 1h30m: ASCII digits and the units ns, us, ms, s, m, h")
    if nanoseconds == 0:
        rounded = " after rounding to whole nanoseconds" if any(c in "123456789" for c in text) else ""
        return DurationProblem(f"{text!r} is zero{rounded}; Velero reads a zero duration as not set (its "
                               "default, or no bound at all for a wait)",
                               "give a positive duration, e.g. 30s")
    if nanoseconds < 0:
        return DurationProblem(f"{text!r} is negative; Velero reads a negative timeout as no timeout at all, "
                               "so the hook (or the wait) could block the backup or restore for ever",
                               "give a positive bound, generous if the step is long, e.g. 6h")
    return None


def duration_problem(text: str) -> str | None:
    """The message of ``check_duration``, or None when ``text`` is a valid positive duration."""
    found = check_duration(text)
    return found.message if found else None
