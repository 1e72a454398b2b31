#!/usr/bin/env python3
"""Benchmark velero-postrender against a libyaml round trip and a kustomize patch.

Targets are ratios measured in the same run with alternating runs (never absolute times), see
docs/benchmarks.md. Usage:

    python3 bench/run.py                    # x1, x10, x50; 5 runs each; start-up comparison
    python3 bench/run.py --sizes 1 --repeats 1   # what CI runs: proves the bench works

Every measurement is a whole process (what Helm pays): wall time from spawn to exit and the
process's peak RSS from wait4(2), taken by the small launcher bench/measure.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "helm3"
PRESETS = ["postgresql", "mysql", "mariadb", "mongodb", "redis"]
KUSTOMIZE_MAX_SIZE = 10
DIFF_MAX_SIZE = 50  # the diff row stands beside the root command at every size (x30: 15 MiB)
ROUND_TRIP = (
    "import sys, yaml\n"
    "docs = yaml.load_all(sys.stdin, Loader=yaml.CSafeLoader)\n"
    "yaml.dump_all(docs, sys.stdout, Dumper=yaml.CSafeDumper)\n"
)
KUSTOMIZATION = """\
resources:
  - stream.yaml
patches:
  - target:
      kind: StatefulSet
    patch: |-
      - op: add
        path: /spec/template/metadata/annotations
        value:
          backup.velero.io/backup-volumes: velero-scratch
          pre.hook.backup.velero.io/command: '["/bin/sh", "-c", "pg_dumpall > /scratch/dump.sql"]'
          pre.hook.backup.velero.io/on-error: Fail
"""


def make_corpus(copies: int) -> str:
    """The benchmark corpus: the helm3 fixtures, ``copies`` times, renamed per copy."""
    text = "".join(p.read_text() for p in sorted(FIXTURES.glob("*.yaml")))
    return "".join(text if copies == 1 else text.replace("rel-", f"r{i}-") for i in range(1, copies + 1))


@dataclass
class Sample:
    seconds: float
    peak_mib: float


def measure(argv: list[str], stdin_path: Path) -> Sample:
    """Wall time and peak RSS of one process reading ``stdin_path``; it must exit 0."""
    probe = subprocess.run([sys.executable, "-S", str(Path(__file__).with_name("measure.py")), str(stdin_path), *argv],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit(f"benchmark probe failed: {probe.stderr}")
    result = json.loads(probe.stdout)
    if result["exit"] != 0:
        raise SystemExit(f"benchmark command failed ({result['exit']}): {' '.join(argv)}")
    return Sample(result["seconds"], result["maxrss_kib"] / 1024)


def install_in_venv(work: Path) -> list[str]:
    """The console script of a fresh venv with a regular install of the project, as users have it
    (pip/pipx for Helm 3, the plugin's own venv for Helm 4); ``python -m postrender`` of this
    interpreter when that cannot be built (no venv module, no package index)."""
    venv = work / "venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)],
                       check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"note: no venv install ({exc}); measuring {sys.executable} -m postrender", file=sys.stderr)
        return [sys.executable, "-m", "postrender"]
    return [str(venv / "bin" / "velero-postrender")]


COMMAND: list[str] = [sys.executable, "-m", "postrender"]


def postrender_argv(presets: list[str], command: tuple[str, ...] = ()) -> list[str]:
    argv = [*COMMAND, *command, "--allow-unmatched", "--max-input-bytes", "1Gi"]
    for name in presets:
        argv += ["--preset", name]
    return argv


@dataclass
class Row:
    name: str
    size: str
    input_mib: float
    samples: list[Sample]

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def peak(self) -> float:
        return max(s.peak_mib for s in self.samples)


def run(sizes: list[int], repeats: int, work: Path, presets: list[str]) -> list[Row]:
    kubectl = shutil.which("kubectl")
    rows: list[Row] = []
    for size in sizes:
        stream = work / f"x{size}.yaml"
        stream.write_text(make_corpus(size))
        mib = stream.stat().st_size / 2**20
        variants: dict[str, tuple[list[str], Path | None]] = {
            f"velero-postrender ({len(presets)} presets)": (postrender_argv(presets), None),
            "libyaml load_all+dump_all": ([sys.executable, "-c", ROUND_TRIP], None),
        }
        if size <= DIFF_MAX_SIZE:  # per changed resource: linear, but it is no target of its own
            variants[f"diff: velero-postrender diff ({len(presets)} presets)"] = (
                postrender_argv(presets, ("diff",)), None)
        if kubectl and size <= KUSTOMIZE_MAX_SIZE:  # it grows faster than linearly: x50 takes minutes
            kdir = work / f"kustomize-x{size}"
            kdir.mkdir(exist_ok=True)
            shutil.copy(stream, kdir / "stream.yaml")
            (kdir / "kustomization.yaml").write_text(KUSTOMIZATION)
            variants["kustomize patch"] = ([kubectl, "kustomize", str(kdir)], None)
        results = {name: Row(name, f"x{size}", mib, []) for name in variants}
        for _ in range(repeats):  # alternate the variants so that machine noise hits all alike
            for name, (argv, _) in variants.items():
                results[name].samples.append(measure(argv, stream))
        rows.extend(results.values())
    # start-up: one small chart with one preset vs kubectl kustomize on the same file
    small = FIXTURES / "postgresql.yaml"
    startup = {f"start-up: velero-postrender --preset {presets[0]}": (postrender_argv(presets[:1]), None)}
    if kubectl:
        kdir = work / "kustomize-small"
        kdir.mkdir(exist_ok=True)
        shutil.copy(small, kdir / "stream.yaml")
        (kdir / "kustomization.yaml").write_text(KUSTOMIZATION)
        startup["start-up: kubectl kustomize (same patch)"] = ([kubectl, "kustomize", str(kdir)], None)
    results = {name: Row(name, "small", small.stat().st_size / 2**20, []) for name in startup}
    for _ in range(max(repeats, 3)):
        for name, (argv, _) in startup.items():
            results[name].samples.append(measure(argv, small))
    rows.extend(results.values())
    return rows


def find(rows: list[Row], prefix: str, size: str) -> Row | None:
    return next((r for r in rows if r.name.startswith(prefix) and r.size == size), None)


def verdicts(rows: list[Row]) -> list[tuple[str, float, float, bool]]:
    """(target, measured, limit, met) for every target the measured sizes allow."""
    out: list[tuple[str, float, float, bool]] = []
    ours = {r.size: r for r in rows if r.name.startswith("velero-postrender")}
    x10_ours, x10_base = ours.get("x10"), find(rows, "libyaml", "x10")
    if x10_ours and x10_base:
        ratio = x10_ours.median / x10_base.median
        out.append(("x10 wall / libyaml round trip", ratio, 0.5, ratio <= 0.5))
    if "x1" in ours and "x10" in ours:
        ratio = ours["x10"].median / ours["x1"].median
        out.append(("x10 / x1 (linear)", ratio, 11.0, ratio <= 11.0))
    if "x10" in ours and "x50" in ours:
        ratio = ours["x50"].median / ours["x10"].median
        out.append(("x50 / x10 (linear)", ratio, 5.5, ratio <= 5.5))
    for row in ours.values():
        limit = 3 * row.input_mib + 60
        out.append((f"peak memory {row.size} (MiB, <= 3x input + 60)", row.peak, limit, row.peak <= limit))
    mine = find(rows, "start-up: velero", "small")
    theirs = find(rows, "start-up: kubectl", "small")
    if mine and theirs:
        ratio = mine.median / theirs.median
        out.append(("start-up / kubectl kustomize", ratio, 0.8, ratio <= 0.8))
    return out


def report(rows: list[Row]) -> str:
    lines = [f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"{platform.platform()}", f"velero-postrender command: {' '.join(COMMAND)}", ""]
    lines.append(f"| {'what':<50} | {'input':>6} | {'MiB':>6} | {'median s':>9} | {'vs libyaml':>10} | {'peak MiB':>8} |")
    lines.append(f"|{'-' * 52}|{'-' * 8}|{'-' * 8}|{'-' * 11}|{'-' * 12}|{'-' * 10}|")
    for row in rows:
        base = find(rows, "libyaml", row.size)
        ratio = f"{row.median / base.median:.2f}x" if base else ""
        lines.append(f"| {row.name:<50} | {row.size:>6} | {row.input_mib:>6.2f} | {row.median:>9.3f} | {ratio:>10} "
                     f"| {row.peak:>8.1f} |")
    lines.append("")
    for target, measured, limit, met in verdicts(rows):
        lines.append(f"{'MET ' if met else 'MISSED'} {target}: {measured:.2f} (limit {limit:.2f})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,50", help="corpus copies, comma-separated (default 1,10,50)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each variant (default 5)")
    parser.add_argument("--presets", default=",".join(PRESETS), help="presets to apply (default: the five databases)")
    parser.add_argument("--no-venv", action="store_true",
                        help="measure `python -m postrender` of this interpreter instead of a fresh venv install")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="velero-postrender-bench-") as work:
        if not args.no_venv:
            COMMAND[:] = install_in_venv(Path(work))
        rows = run(sizes, args.repeats, Path(work), [p for p in args.presets.split(",") if p])
    print(report(rows))


if __name__ == "__main__":
    main()
