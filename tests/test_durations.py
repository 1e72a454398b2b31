"""Durations are read exactly as Go's ``time.ParseDuration`` reads them (Velero parses every hook
timeout with it), and the loader refuses what Velero would silently replace: a value Go refuses,
zero (also a fraction below 1ns) and a negative value (no timeout at all for Velero)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from go_oracle import GoOracle, build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifests import STREAM, ruleset

from postrender import PostRenderError, render
from postrender.ruleset.durations import (
    MAX_NANOSECONDS,
    DurationError,
    check_duration,
    duration_problem,
    parse_go_duration,
    parse_go_duration_ns,
)

S = 1_000_000_000

VALID = [
    ("0", 0), ("+0", 0), ("-0", 0), ("0s", 0), ("5s", 5 * S), ("30s", 30 * S), ("1478s", 1478 * S),
    ("-5s", -5 * S), ("+5s", 5 * S), ("-0.5s", -S // 2), ("5.0s", 5 * S), ("5.6s", 5_600_000_000),
    ("5.s", 5 * S), (".5s", S // 2), ("1.0s", S), ("1.00s", S), ("1.004s", 1_004_000_000),
    ("1.0040s", 1_004_000_000), ("100.00100s", 100_001_000_000), ("10ns", 10), ("11us", 11_000),
    ("12\u00b5s", 12_000), ("12\u03bcs", 12_000), ("13ms", 13_000_000), ("14s", 14 * S), ("15m", 15 * 60 * S),
    ("16h", 16 * 3600 * S), ("3h30m", 12_600 * S), ("10.5s4m", 250_500_000_000), ("-2m3.4s", -123_400_000_000),
    ("1h2m3s4ms5us6ns", 3_723_004_005_006), ("39h9m14.425s", 140_954_425_000_000),
    ("52763797000ns", 52_763_797_000), ("0.3333333333333333333h", 1_200_000_000_000),
    ("9007199254740993ns", 9_007_199_254_740_993), ("9223372036854775807ns", MAX_NANOSECONDS),
    ("9223372036854775.807us", MAX_NANOSECONDS), ("9223372036s854ms775us807ns", MAX_NANOSECONDS),
    ("-9223372036854775808ns", -(1 << 63)), ("-9223372036854775.808us", -(1 << 63)),
    ("-2562047h47m16.854775808s", -(1 << 63)), ("0.100000000000000000000h", 360 * S),
    ("0.830103483285477580700h", 2_988_372_539_827), ("0.5ns", 0), ("0.9ns", 0), ("1.9ns", 1),
    ("2562047h47m16.854775807s", MAX_NANOSECONDS), ("9223372036854775807.9ns", MAX_NANOSECONDS),
    ("1h" + "0" * 30 + "1s", 3601 * S),
]
INVALID = [
    "", "3", "-", "s", ".", "-.", ".s", "+.s", "1d", "1.2.3s", "5 s", " 5s", "5s ", "1e3s", "1_000s", "++5s",
    "+-5s", "1S", "1H", "1Ms", "1sec", "1hr", "\u0663s", "\uff15s", "1\u0663s", "\u00b5s", "1\u00b5", "1\u03bc",
    "9223372036854775808ns", "2562048h", "2562047h47m16.854775808s",
    "9223372036854775.808us", "-9223372036854775809ns", "9999999999999999999s",
]


@pytest.mark.parametrize("text, nanoseconds", VALID)
def test_valid_durations(text: str, nanoseconds: int) -> None:
    assert parse_go_duration_ns(text) == nanoseconds
    assert parse_go_duration(text) == pytest.approx(nanoseconds / 1e9)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_go_duration_ns(text)
    assert parse_go_duration(text) is None


def test_go_wraps_the_running_total_at_two_to_the_64() -> None:
    """Go keeps the total in a uint64: two halves of 2**64 wrap to 0 (and the sign gives -0)."""
    assert parse_go_duration_ns("-9223372036854775808ns9223372036854775808ns") == 0


@pytest.mark.parametrize("text, words", [
    ("0", "is zero"), ("0s", "is zero"), ("0.5ns", "after rounding"), ("0.0000000001s", "after rounding"),
    ("-1s", "negative"), ("-0.5s", "negative"), ("2562048h", "out of range"), ("\u0663s", "not an ASCII digit"),
    ("\uff15m", "U+FF15"), ("1d", "unknown unit 'd'"), ("30", "missing unit"), ("soon", "not a Go duration"),
])
def test_refused_timeouts_say_why(text: str, words: str) -> None:
    found = check_duration(text)
    assert found is not None and words in found.message and found.hint
    assert duration_problem(text) == found.message


@pytest.mark.parametrize("text", ["1ns", "30s", "1h30m", "2562047h47m16.854775807s", "1.5h", "1\u00b5s"])
def test_positive_timeouts_are_fine(text: str) -> None:
    assert check_duration(text) is None


@pytest.mark.parametrize("field, value, words", [
    ("timeout", "0.5ns", "after rounding"),
    ("timeout", "-1s", "no timeout at all"),
    ("timeout", "\u0663s", "not an ASCII digit"),
    ("timeout", "2562048h", "out of range"),
])
def test_the_loader_refuses_them_at_their_line(field: str, value: str, words: str) -> None:
    rule = {"name": "pg", "match": {"kinds": ["StatefulSet"]},
            "hooks": {"preBackup": {"script": "sync", field: value}}}
    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [ruleset(rule)])
    problem, = caught.value.problems
    assert words in problem.message
    assert problem.location.rule == "pg" and problem.location.field == f"hooks.preBackup.{field}"


def test_restore_waits_are_checked_too() -> None:
    rule = {"name": "pg", "match": {"kinds": ["StatefulSet"]},
            "hooks": {"postRestore": {"script": "load", "waitTimeout": "-1h", "execTimeout": "0s"}}}
    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [ruleset(rule)])
    assert sorted(p.location.field or "" for p in caught.value.problems) == [
        "hooks.postRestore.execTimeout", "hooks.postRestore.waitTimeout"]


# --- against the real Go ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def go(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoOracle]:
    built = build(tmp_path_factory.mktemp("go-oracle"))
    if isinstance(built, str):
        pytest.skip(built)
    oracle = GoOracle(built)
    yield oracle
    oracle.close()


def _python(text: str) -> int | None:
    try:
        return parse_go_duration_ns(text)
    except DurationError:
        return None


@pytest.mark.parametrize("text", [t for t, _ in VALID] + INVALID + ["-9223372036854775808ns9223372036854775808ns"])
def test_the_table_agrees_with_go(go: GoOracle, text: str) -> None:
    assert _python(text) == go.duration(text)


_NUMBER = st.one_of(
    st.from_regex(r"\A[0-9]{0,4}(\.[0-9]{0,4})?\Z"),
    st.from_regex(r"\A[0-9]{15,22}(\.[0-9]{0,25})?\Z"),
    st.from_regex(r"\A\.[0-9]{1,25}\Z"),
    st.sampled_from(["\u0663", "\uff15", "\u0660.5", "\u2155", "9223372036854775808", "0" * 40 + "1"]),
)
_UNIT = st.sampled_from(["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h", "", "d", "S", "H", "\u00b5",
                         "\u03bc", "sec", "e3s", "m\u0301", " s"])
_DURATIONS = st.one_of(
    st.builds(lambda sign, parts: sign + "".join(parts), st.sampled_from(["", "", "+", "-", "--", " "]),
              st.lists(st.tuples(_NUMBER, _UNIT).map("".join), min_size=0, max_size=4)),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.text(alphabet="0123456789.+-nsuµμmh", max_size=14),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_DURATIONS)
def test_hypothesis_agrees_with_go(go: GoOracle, text: str) -> None:
    """Generated strings, many near the grammar's edges: Python and Go give the same nanoseconds
    or both refuse; and the loader accepts exactly the positive ones."""
    expected = go.duration(text)
    assert _python(text) == expected
    assert (check_duration(text) is None) == (expected is not None and expected > 0)


def test_the_oracle_can_fail(go: GoOracle) -> None:
    """The comparison is not vacuous: a Python-style reading (any Unicode digit) disagrees with Go."""
    assert go.duration("\u0663s") is None and int("\u0663") == 3
    assert go.duration("1.5h") == 5_400 * S

