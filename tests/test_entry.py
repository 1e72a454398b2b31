"""The console entry's own reading of the root options equals Typer's (the start-up fast path)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import EXAMPLES, ROOT

from postrender.cli.fast import parse_root_args

SEED = (EXAMPLES / "reference" / "postgresql-8.7.4.yaml").read_bytes()
RULES = str(EXAMPLES / "reference" / "rules.yaml")
TYPER = "import sys; from postrender.cli.app import app; app(prog_name='velero-postrender')"


def both(args: list[str]) -> tuple[subprocess.CompletedProcess[bytes], subprocess.CompletedProcess[bytes]]:
    fast = subprocess.run([sys.executable, "-m", "postrender", *args], input=SEED, capture_output=True, cwd=ROOT)
    typer = subprocess.run([sys.executable, "-c", TYPER, *args], input=SEED, capture_output=True, cwd=ROOT)
    return fast, typer


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
def test_fast_path_and_typer_agree(args):
    assert parse_root_args(args) is not None  # these are read without Typer
    fast, typer = both(args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (typer.returncode, typer.stdout, typer.stderr)


@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], ["explain", "-r", RULES], ["-r"], ["--rules", "-x"], ["--max-depth", "1", "--max-depth", "2"],
    ["--strict=yes"], ["-r=x"], ["--rulez", "x"], ["--", "-r", "x"],
])
def test_everything_else_goes_to_typer(args):
    assert parse_root_args(args) is None
