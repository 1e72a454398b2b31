"""The console entry's own reading of the root options (the start-up fast path) equals Typer's:
both are built from the option table, and a property test over argument lists made from that
table checks that they give ``run_root`` the same keywords."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from postrender.cli import app as app_module
from postrender.cli import root
from postrender.cli.app import app
from postrender.cli.fast import completion_requested, parse_root_args
from postrender.cli.options import CHOICE, REPEATED, SWITCH, Option, run_options

SEED = (EXAMPLES / "reference" / "postgresql-8.7.4.yaml").read_bytes()
RULES = str(EXAMPLES / "reference" / "rules.yaml")
TYPER = "import sys; from postrender.cli.app import app; app(prog_name='velero-postrender')"


def both(args: list[str]) -> tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes]]:
    fast_run = subprocess.run([sys.executable, "-m", "postrender", *args], input=SEED, capture_output=True, cwd=ROOT,
                              timeout=120)
    typer_run = subprocess.run([sys.executable, "-c", TYPER, *args], input=SEED, capture_output=True, cwd=ROOT,
                               timeout=120)
    return fast_run, typer_run


@pytest.mark.parametrize("args", [
    ["--rules", RULES],
    [f"--rules={RULES}", "--set", "scratchSize=2Gi", "--strict"],
    ["-r", RULES, "-s", "embedded=false"],
    ["-r", RULES, "--preset", "postgresql", "--allow-unmatched"],
    ["-r", RULES, "--set", "novalue"],
    ["--rules", "/no/such/file.yaml"],
    ["-r", RULES, "--max-depth", "3"],
    ["-r", RULES, "--max-input-bytes=1K"],
    [],
])
def test_fast_path_and_typer_agree(args: list[str]) -> None:
    assert parse_root_args(args) is not None  # these are read without Typer
    fast_run, typer_run = both(args)
    assert (fast_run.returncode, fast_run.stdout, fast_run.stderr) == (typer_run.returncode, typer_run.stdout,
                                                                       typer_run.stderr)


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--version"], ["-V"], ["explain", "-r", RULES], ["-r"], ["--rules", "-x"],
    ["--max-depth", "1", "--max-depth", "2"], ["--strict=yes"], ["-r=x"], ["--rulez", "x"], ["--", "-r", "x"],
    ["--show-completion", "bash"], ["--install-completion"], ["-rFILE"], ["--preset", "postgresql", "lint"],
])
def test_everything_else_goes_to_typer(args: list[str]) -> None:
    assert parse_root_args(args) is None


def test_a_completion_request_is_never_a_run() -> None:
    assert completion_requested({"_VELERO_POSTRENDER_COMPLETE": "complete_bash", "COMP_WORDS": "velero-postrender"})
    assert completion_requested({"_PYTHON _M POSTRENDER_COMPLETE": "complete_zsh"})
    assert not completion_requested({"_VELERO_POSTRENDER_COMPLETE": ""})
    assert not completion_requested({"HOME": "/root", "VELERO_POSTRENDER_RULES": "r.yaml"})


# --- the property: same keywords from the same arguments ---------------------------------

VALUES = st.text(st.sampled_from("abcXYZ019_.:/=, @{}"), max_size=12)


@st.composite
def occurrence(draw: st.DrawFn, entry: Option) -> list[str]:
    """One occurrence of ``entry`` on a command line, in any spelling Click also accepts."""
    if entry.kind == SWITCH:
        return [draw(st.sampled_from(entry.flags))]
    value = draw(st.sampled_from(entry.choices) if entry.kind == CHOICE else VALUES)
    flag = draw(st.sampled_from(entry.flags))
    if flag.startswith("--") and draw(st.booleans()):
        return [f"{flag}={value}"]
    return [flag, value]


@st.composite
def root_argv(draw: st.DrawFn) -> list[str]:
    entries = draw(st.lists(st.sampled_from(run_options()), max_size=8))
    return [token for entry in entries for token in draw(occurrence(entry))]


def typer_keywords(argv: list[str]) -> dict[str, Any] | None:
    """The keywords Typer's root command passes to ``run_root`` (None when it does not call it)."""
    seen: list[dict[str, Any]] = []
    original = app_module.run_root
    app_module.run_root = lambda **keywords: seen.append(keywords)  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(app, argv)
    finally:
        app_module.run_root = original
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return seen[0] if seen else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(root_argv())
def test_fast_path_and_typer_give_run_root_the_same_keywords(argv: list[str]) -> None:
    keywords = parse_root_args(argv)
    singles = [entry for entry in run_options() if entry.kind not in (REPEATED, SWITCH)]
    given_twice = any(sum(_spelled(token, entry) for token in argv) > 1 for entry in singles)
    if keywords is None:  # the only reason here: an option that takes one value, given twice
        assert given_twice, argv
        return
    assert not given_twice
    assert keywords == typer_keywords(argv), argv


def _spelled(token: str, entry: Option) -> bool:
    return token in entry.flags or any(token.startswith(f"{flag}=") for flag in entry.flags if flag.startswith("--"))


def test_run_root_takes_exactly_the_tables_root_options() -> None:
    import inspect

    assert list(inspect.signature(root.run_root).parameters) == [entry.name for entry in run_options()]
