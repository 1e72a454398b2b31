"""Helm 4.1.4 (the real binary) with velero-postrender installed as a ``postrenderer/v1`` plugin:
``helm plugin install <copy of the repository>`` into private Helm homes, with
nothing of the project on PATH, so the plugin's launcher must set up its own Python environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helm_binaries import (
    HELM4,
    RULES,
    WEBSHOP,
    assert_database_only,
    launcher_env,
    plugin_copy,
    require_helm,
    resources,
    velero_annotations,
)

from postrender import __version__

ROOT = Path(__file__).resolve().parent.parent
DATABASE_ARG = f"--post-renderer-args=--rules={RULES / 'database.yaml'}"
HOOK_JOBS_ARG = f"--post-renderer-args=--rules={RULES / 'hook-jobs.yaml'}"


class Helm4:
    """helm 4 with the plugin installed in private HELM_* homes."""

    def __init__(self, binary: Path, home: Path):
        self.binary = binary
        self.home = home
        self.env = launcher_env(home, binary.parent)

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.binary), *args], capture_output=True, text=True, env={**self.env, **(env or {})},
                              cwd=self.home, timeout=900)


@pytest.fixture(scope="module")
def helm4(tmp_path_factory: pytest.TempPathFactory) -> Helm4:
    helm = Helm4(require_helm(HELM4), tmp_path_factory.mktemp("helm4"))
    assert shutil.which("velero-postrender", path=helm.env["PATH"]) is None
    done = helm("plugin", "install", str(plugin_copy()))
    assert done.returncode == 0, done.stdout + done.stderr
    return helm


@pytest.mark.helm
@pytest.mark.slow
def test_the_plugin_is_installed_and_its_environment_set_up(helm4: Helm4):
    listed = helm4("plugin", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("velero-postrender"))
    assert line.split()[1:3] == [__version__, "postrenderer/v1"]
    # The install hook (or an earlier first run) built the launcher's venv inside the plugin directory.
    assert (plugin_copy() / ".cache" / "venv" / ".velero-postrender-stamp").is_file()


def test_plugin_version_matches_the_package():
    assert yaml.safe_load((ROOT / "plugin.yaml").read_text())["version"] == __version__


@pytest.mark.helm
def test_template_hooks_on_the_database_and_rules_can_target_helm_hooks(helm4: Helm4):
    done = helm4("template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender", DATABASE_ARG, HOOK_JOBS_ARG)
    assert done.returncode == 0, done.stderr
    found = resources(done.stdout)
    assert_database_only(found)
    job = found[("Job", "shop-migrate")]
    assert velero_annotations(job) == {
        "post.hook.backup.velero.io/container": "migrate",
        "post.hook.backup.velero.io/command": '["/bin/true"]',
        "post.hook.backup.velero.io/on-error": "Fail",
    }
    # Still a Helm hook after post-rendering: Helm decides that from these annotations.
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    # Helm 4 restores the files from postrenderer.helm.sh/postrender-filename (then removes it).
    assert done.stdout.count("# Source: webshop/templates/") == 4
    assert "postrenderer.helm.sh" not in done.stdout


@pytest.mark.parametrize(("template", "expected"), [
    ("templates/database.yaml", [("StatefulSet", "shop-database")]),
    ("templates/migrate-job.yaml", [("Job", "shop-migrate")]),
])
@pytest.mark.helm
def test_show_only_finds_changed_documents(helm4: Helm4, template: str, expected: list):
    """Only possible when the postrender-filename annotation survived on the changed documents."""
    done = helm4("template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender", DATABASE_ARG, HOOK_JOBS_ARG,
                 "--show-only", template)
    assert done.returncode == 0, done.stderr
    found = resources(done.stdout)
    assert list(found) == expected
    assert velero_annotations(found[expected[0]])


@pytest.mark.helm
def test_the_postrender_filename_annotation_survives(helm4: Helm4, tmp_path: Path):
    """What Helm 4 actually pipes into the plugin (a captured stream) comes out with its annotations."""
    stream = (ROOT / "tests" / "fixtures" / "helm4" / "postgresql.yaml").read_text()
    launcher = plugin_copy() / "bin" / "velero-postrender"
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "apiVersion: velero-postrender/v1\nkind: RuleSet\nrules:\n  - name: db\n    match: {kinds: [StatefulSet]}\n"
        "    hooks:\n      preBackup: {command: [/bin/true]}\n")
    done = subprocess.run([str(launcher), "--rules", str(rules)], input=stream, capture_output=True, text=True,
                          env={**helm4.env, "HELM_PLUGIN_NAME": "velero-postrender"}, timeout=120)
    assert done.returncode == 0, done.stderr
    before = [d for d in yaml.safe_load_all(stream) if d]
    after = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert len(after) == len(before)
    key = "postrenderer.helm.sh/postrender-filename"
    assert [d["metadata"]["annotations"][key] for d in after] == [d["metadata"]["annotations"][key] for d in before]
    assert any(velero_annotations(d) for d in after if d["kind"] == "StatefulSet")


@pytest.mark.helm
def test_install_dry_run(helm4: Helm4):
    done = helm4("install", "shop", str(WEBSHOP), "--dry-run=client", "--post-renderer", "velero-postrender",
                 DATABASE_ARG, HOOK_JOBS_ARG)
    assert done.returncode == 0, done.stderr
    hooks_part, manifest_part = done.stdout.split("\nMANIFEST:\n")
    assert_database_only(resources(manifest_part))
    hooks = resources(hooks_part.split("\nHOOKS:\n")[1])
    assert velero_annotations(hooks[("Job", "shop-migrate")])["post.hook.backup.velero.io/command"] == '["/bin/true"]'


@pytest.mark.helm
def test_a_broken_rules_file_fails_and_the_log_holds_the_real_error(helm4: Helm4, tmp_path: Path):
    log = tmp_path / "error.log"
    broken = RULES / "broken.yaml"
    done = helm4("template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender",
                 f"--post-renderer-args=--rules={broken}", env={"VELERO_POSTRENDER_ERROR_LOG": str(log)})
    assert done.returncode != 0
    assert 'plugin "velero-postrender" exited with error' in done.stderr
    assert "hooks.preBackup.timeout" not in done.stderr  # what Helm 4 hides ...
    text = log.read_text()
    assert f"error: {broken}:10: rule 'database': hooks.preBackup.timeout" in text
    assert "three minutes" in text
    assert f"arguments: --rules={broken}" in text  # ... and what the log keeps


@pytest.mark.helm
def test_the_default_log_path_and_usage_errors(helm4: Helm4):
    """A typo in --post-renderer-args is a usage error printed by the CLI framework: logged too,
    at ${XDG_STATE_HOME}/velero-postrender/error.log."""
    done = helm4("template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender",
                 "--post-renderer-args=--rulez=x.yaml")
    assert done.returncode != 0
    log = Path(helm4.env["XDG_STATE_HOME"]) / "velero-postrender" / "error.log"
    text = log.read_text()
    assert "(exit 2)" in text
    assert "No such option: --rulez" in text


def test_no_python_is_a_clear_error_in_the_log(tmp_path: Path):
    """The launcher, with no Python 3.10+ on PATH and no environment yet, says so (also in the log)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("sh", "dirname", "basename", "readlink", "cksum", "cat", "mkdir", "rm", "kill", "sleep", "date",
                 "printf"):
        found = shutil.which(name)
        if found:
            os.symlink(found, tools / name)
    log = tmp_path / "error.log"
    env = {"PATH": str(tools), "HOME": str(tmp_path), "HELM_PLUGIN_NAME": "velero-postrender",
           "VELERO_POSTRENDER_VENV": str(tmp_path / "venv"), "VELERO_POSTRENDER_ERROR_LOG": str(log),
           "VELERO_POSTRENDER_NO_TTY": "1"}
    done = subprocess.run([str(ROOT / "bin" / "velero-postrender"), "--rules", "r.yaml"], input="", capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "no Python 3.10 or newer found" in done.stderr
    assert "no Python 3.10 or newer found" in log.read_text()
    assert not (tmp_path / "venv").exists()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.helm
@pytest.mark.slow
def test_install_from_a_git_url(tmp_path: Path):
    """`helm plugin install <git URL> --verify=false`: a clone of the repository served by `git daemon`.
    Helm 4 clones it into its plugins directory and the install hook sets up the launcher's venv."""
    from helm_binaries import copy_repository

    git = shutil.which("git")
    assert git, "git is needed to test installing the plugin from a git URL"
    source = copy_repository(tmp_path / "source")
    (source / "rules" / ".keep").touch()
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "plugin"]):
        subprocess.run([git, *args], cwd=source, check=True, capture_output=True)
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run([git, "clone", "-q", "--bare", str(source), str(served / "velero-postrender.git")], check=True)
    port = free_port()
    daemon = subprocess.Popen([git, "daemon", "--reuseaddr", "--export-all", f"--base-path={served}",
                               "--listen=127.0.0.1", f"--port={port}", str(served)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        (tmp_path / "home").mkdir()
        helm = Helm4(require_helm(HELM4), tmp_path / "home")
        url = f"git://127.0.0.1:{port}/velero-postrender.git"
        for _ in range(100):  # until the daemon answers (no timing assertion: it just has to start)
            if subprocess.run([git, "ls-remote", url], capture_output=True).returncode == 0:
                break
            daemon.poll()
            assert daemon.returncode is None, daemon.stderr.read() if daemon.stderr else ""
            subprocess.run(["sleep", "0.1"])
        done = helm("plugin", "install", url, "--verify=false")
        assert done.returncode == 0, done.stdout + done.stderr
        installed = Path(helm.env["HELM_DATA_HOME"]) / "plugins" / "velero-postrender.git"
        assert (installed / ".cache" / "venv" / ".velero-postrender-stamp").is_file()
        done = helm("template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender", DATABASE_ARG)
        assert done.returncode == 0, done.stderr
        assert_database_only(resources(done.stdout))
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def test_error_log_path_follows_xdg_state_home_and_the_override(tmp_path: Path):
    from postrender.integrations.helm import error_log_path

    assert error_log_path({"XDG_STATE_HOME": "/state"}) == Path("/state/velero-postrender/error.log")
    assert error_log_path({"XDG_STATE_HOME": "/state", "VELERO_POSTRENDER_ERROR_LOG": "/x.log"}) == Path("/x.log")
    assert error_log_path({}) == Path.home() / ".local" / "state" / "velero-postrender" / "error.log"


@pytest.mark.helm
def test_on_a_terminal_the_error_appears_above_helms_line(helm4: Helm4, tmp_path: Path):
    """Helm 4 hides stderr; on a terminal the launcher's Python writes the error to /dev/tty.
    `script` (util-linux) gives the run a real pseudo-terminal."""
    import shlex

    script = shutil.which("script")
    assert script, "util-linux `script` is needed for the terminal test"
    broken = RULES / "broken.yaml"
    command = shlex.join([str(helm4.binary), "template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender",
                          f"--post-renderer-args=--rules={broken}"])
    env = {k: v for k, v in helm4.env.items() if k != "VELERO_POSTRENDER_NO_TTY"}
    done = subprocess.run([script, "-qec", command, "/dev/null"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    screen = done.stdout.replace("\r\n", "\n")
    log = Path(helm4.env["XDG_STATE_HOME"]) / "velero-postrender" / "error.log"
    ours = screen.index(f"velero-postrender failed (also in {log}):\nerror: {broken}:10: rule 'database'")
    assert ours < screen.index('plugin "velero-postrender" exited with error')
