"""Shared test helpers: paths, the fixture corpus, and running the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples"
HELM3_FIXTURES = sorted((FIXTURES / "helm3").glob("*.yaml"))
HELM4_FIXTURES = sorted((FIXTURES / "helm4").glob("*.yaml"))
ALL_FIXTURES = HELM3_FIXTURES + HELM4_FIXTURES + [FIXTURES / "seed" / "postgresql-8.7.4.yaml"]


def run_cli(args: list[str], stdin: bytes | str = b"", env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m postrender`` as Helm would: bytes in, bytes out, exit code."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "HELM_PLUGIN"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "postrender", *args], input=data, capture_output=True,
                          env=full_env, cwd=cwd or ROOT, timeout=120)


@pytest.fixture
def cli():
    return run_cli
