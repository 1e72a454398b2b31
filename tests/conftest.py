"""Shared test helpers: paths, the fixture corpus, running the real command line, and the
markers that say what a test needs (``live``, ``helm``, ``slow``; registered in pyproject.toml).

A ``live`` or ``helm`` test skips, with the reason, where its server or binary is missing. With
``VELERO_POSTRENDER_REQUIRE_ALL=1`` (what .ci/run sets) such a skip is turned into a failure, so
CI cannot pass without having run them. A test whose server no reachable registry packages says
so on its marker: ``@pytest.mark.live(may_skip="why")``; its skip stays a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples"
HELM3_FIXTURES = sorted((FIXTURES / "helm3").glob("*.yaml"))
HELM4_FIXTURES = sorted((FIXTURES / "helm4").glob("*.yaml"))
ALL_FIXTURES = HELM3_FIXTURES + HELM4_FIXTURES + [FIXTURES / "seed" / "postgresql-8.7.4.yaml"]

REQUIRE_ALL_ENV = "VELERO_POSTRENDER_REQUIRE_ALL"
REQUIRED_MARKERS = ("live", "helm")


def run_cli(args: list[str], stdin: bytes | str = b"", env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m postrender`` as Helm would: bytes in, bytes out, exit code."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "HELM_PLUGIN"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "postrender", *args], input=data, capture_output=True,
                          env=full_env, cwd=cwd or ROOT, timeout=120)


@pytest.fixture
def cli() -> Any:
    return run_cli


def require_all() -> bool:
    """True when a skipped ``live``/``helm`` test must count as a failure (CI)."""
    return os.environ.get(REQUIRE_ALL_ENV, "") not in ("", "0")


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skip report carries (pytest keeps it as ``(file, line, "Skipped: reason")``)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def required_marker(item: pytest.Item) -> str | None:
    """The ``live``/``helm`` marker that forbids this test to skip, if any."""
    for name in REQUIRED_MARKERS:
        marker = item.get_closest_marker(name)
        if marker is not None and not marker.kwargs.get("may_skip"):
            return name
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail") or not require_all():
        return
    marker = required_marker(item)
    if marker is None:
        return
    report.outcome = "failed"
    report.longrepr = (f"{REQUIRE_ALL_ENV}=1: a `{marker}` test may not skip, and this one did: "
                       f"{skip_reason(report)}")


def pytest_report_header(config: pytest.Config) -> str | None:
    if require_all():
        return f"{REQUIRE_ALL_ENV}=1: a skipped live/helm test counts as a failure"
    return None
