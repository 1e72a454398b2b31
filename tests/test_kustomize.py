"""kustomize (``kubectl kustomize``, the real binary): the pipe and the exec transformer plugin.
The transformer resource is of kind ``VeleroHooks``
(``velero-postrender.io/v1``); kustomize runs it from
``$XDG_CONFIG_HOME/kustomize/plugin/velero-postrender.io/v1/velerohooks/VeleroHooks``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helm_binaries import CHARTS, RULES, bootstrapped_plugin, launcher_env, resources, tool_env, velero_annotations

from postrender.integrations.kustomize import executable_path

APP = CHARTS / "kustomize" / "app"
KUBECTL = shutil.which("kubectl")
ID = "kustomize.config.k8s.io/id"

# A second exec transformer that runs after ours and records the stream it receives: what
# kustomize gets back from velero-postrender, before kustomize strips its own annotations.
CAPTURE = """#!/bin/sh
tee "$(dirname "$0")/captured.yaml"
"""


def kustomize(directory: Path, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    if KUBECTL is None:
        pytest.fail("kubectl (for `kubectl kustomize`) is not on PATH", pytrace=False)
    return subprocess.run([KUBECTL, "kustomize", *flags, str(directory)], capture_output=True, text=True, env=env,
                          cwd=directory, timeout=300)


def kustomization(tmp_path: Path, transformer: str) -> Path:
    """The test app plus a VeleroHooks transformer (and the capture transformer after it)."""
    directory = tmp_path / "app"
    shutil.copytree(APP, directory)
    shutil.copy(RULES / "database.yaml", directory / "velero-rules.yaml")
    (directory / "velero-hooks.yaml").write_text(transformer)
    (directory / "capture.yaml").write_text("apiVersion: test.velero-postrender.io/v1\nkind: Capture\n"
                                            "metadata: {name: capture}\n")
    with open(directory / "kustomization.yaml", "a") as file:
        file.write("transformers:\n  - velero-hooks.yaml\n  - capture.yaml\n")
    return directory


def plugin_env(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Private kustomize plugin home (XDG_CONFIG_HOME) holding the capture transformer."""
    env = env or tool_env(tmp_path, os.environ.get("PATH", ""))
    capture = Path(env["XDG_CONFIG_HOME"]) / "kustomize" / "plugin" / "test.velero-postrender.io" / "v1" / "capture"
    capture.mkdir(parents=True)
    (capture / "Capture").write_text(CAPTURE)
    (capture / "Capture").chmod(0o755)
    return env


def captured(env: dict[str, str]) -> list[dict]:
    path = Path(env["XDG_CONFIG_HOME"]) / "kustomize/plugin/test.velero-postrender.io/v1/capture/captured.yaml"
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def install_module_plugin(env: dict[str, str]) -> Path:
    """`python -m postrender.integrations.kustomize --install`, as a pip user does it."""
    done = subprocess.run([sys.executable, "-m", "postrender.integrations.kustomize", "--install"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    target = executable_path(env)
    assert done.stdout.strip() == f"installed {target}"
    assert target.parts[-4:] == ("velero-postrender.io", "v1", "velerohooks", "VeleroHooks")
    return target


FILES_TRANSFORMER = """apiVersion: velero-postrender.io/v1
kind: VeleroHooks
metadata:
  name: backup-hooks
rulesFiles: [velero-rules.yaml]
set:
  scratchSize: 2Gi
"""


def assert_hooks_on_database_only(found: dict, size: str) -> None:
    database = found[("StatefulSet", "shop-database")]
    hooks = velero_annotations(database)
    assert "pg_dump" in hooks["pre.hook.backup.velero.io/command"]
    assert hooks["backup.velero.io/backup-volumes"] == "backup"
    assert {"name": "backup", "emptyDir": {"sizeLimit": size}} in database["spec"]["template"]["spec"]["volumes"]
    assert velero_annotations(found[("Deployment", "shop-web")]) == {}


def test_pipe(tmp_path: Path):
    env = tool_env(tmp_path, os.environ.get("PATH", ""))
    built = kustomize(APP, env)
    assert built.returncode == 0, built.stderr
    done = subprocess.run([sys.executable, "-m", "postrender", "--rules", str(RULES / "database.yaml")],
                          input=built.stdout, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_hooks_on_database_only(resources(done.stdout), "512Mi")
    # The Deployment was not touched: written back exactly as kustomize printed it.
    web = built.stdout.split("---\n")[0]
    assert done.stdout.startswith(web)


def test_exec_plugin_with_rules_files_keeps_the_kustomize_id(tmp_path: Path):
    env = plugin_env(tmp_path)
    install_module_plugin(env)
    directory = kustomization(tmp_path, FILES_TRANSFORMER)
    done = kustomize(directory, env, "--enable-alpha-plugins")
    assert done.returncode == 0, done.stderr
    assert_hooks_on_database_only(resources(done.stdout), "2Gi")
    # What velero-postrender handed back to kustomize still carries kustomize's resource ids.
    stream = captured(env)
    assert {d["kind"] for d in stream} == {"StatefulSet", "Deployment"}
    for document in stream:
        assert yaml.safe_load(document["metadata"]["annotations"][ID])["name"] == document["metadata"]["name"]
    assert ID not in done.stdout


def test_exec_plugin_with_inline_rules(tmp_path: Path):
    env = plugin_env(tmp_path)
    install_module_plugin(env)
    directory = kustomization(tmp_path, """apiVersion: velero-postrender.io/v1
kind: VeleroHooks
metadata:
  name: inline
params:
  scratchSize: 256Mi
rules:
  - name: database
    match:
      kinds: [StatefulSet]
      labels: {app.kubernetes.io/part-of: webshop}
    scratch:
      name: backup
      mountPath: /scratch
      volume:
        emptyDir: {sizeLimit: "{{ scratchSize }}"}
    hooks:
      preBackup:
        script: pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" > /scratch/backup.sql
""")
    done = kustomize(directory, env, "--enable-alpha-plugins")
    assert done.returncode == 0, done.stderr
    assert_hooks_on_database_only(resources(done.stdout), "256Mi")


def test_exec_plugin_errors_reach_kustomize(tmp_path: Path):
    env = plugin_env(tmp_path)
    install_module_plugin(env)
    directory = kustomization(tmp_path, FILES_TRANSFORMER.replace("velero-rules.yaml", "missing.yaml")
                              + "colour: blue\n")
    done = kustomize(directory, env, "--enable-alpha-plugins")
    assert done.returncode != 0
    assert "colour: unknown field" in done.stderr


def test_exec_plugin_error_for_a_missing_rules_file(tmp_path: Path):
    env = plugin_env(tmp_path)
    install_module_plugin(env)
    directory = kustomization(tmp_path, FILES_TRANSFORMER.replace("velero-rules.yaml", "missing.yaml"))
    done = kustomize(directory, env, "--enable-alpha-plugins")
    assert done.returncode != 0
    assert f"{directory / 'missing.yaml'}: rules file not found" in done.stderr


@pytest.mark.slow
def test_exec_plugin_through_the_launcher_symlink(tmp_path: Path):
    """A checkout (or the Helm 4 plugin directory) used as the plugin: bin/velero-postrender linked
    as .../velerohooks/VeleroHooks, nothing of the project on PATH."""
    env = plugin_env(tmp_path, launcher_env(tmp_path, Path(KUBECTL or "/usr/bin/kubectl").parent))
    assert shutil.which("velero-postrender", path=env["PATH"]) is None
    target = executable_path(env)
    target.parent.mkdir(parents=True)
    target.symlink_to(bootstrapped_plugin() / "bin" / "velero-postrender")
    directory = kustomization(tmp_path, FILES_TRANSFORMER)
    done = kustomize(directory, env, "--enable-alpha-plugins")
    assert done.returncode == 0, done.stderr
    assert_hooks_on_database_only(resources(done.stdout), "2Gi")


def test_config_checks_are_reported_together(tmp_path: Path):
    from postrender.errors import PostRenderError
    from postrender.integrations.kustomize import parse_config

    with pytest.raises(PostRenderError) as caught:
        parse_config({"apiVersion": "velero-postrender.io/v1", "kind": "VeleroHooks", "metadata": {"name": "h"},
                      "rulesFiles": [3], "set": ["a=b"], "strict": "yes"}, "cfg", tmp_path)
    text = str(caught.value)
    assert "rulesFiles: must be a list" in text
    assert "set: must be a mapping" in text
    assert "strict: must be true or false" in text


def test_config_paths_and_settings(tmp_path: Path):
    from postrender.integrations.kustomize import parse_config

    config = parse_config({"apiVersion": "velero-postrender.io/v1", "kind": "VeleroHooks",
                           "rulesFiles": ["a.yaml", "/abs/b.yaml"], "set": {"embedded": False, "size": "1Gi"},
                           "rules": [{"name": "x"}], "allowUnmatched": True}, "cfg", tmp_path)
    assert config.rules_files == (str(tmp_path / "a.yaml"), "/abs/b.yaml")
    assert config.settings == ("embedded=false", "size=1Gi")
    assert config.inline == ({"apiVersion": "velero-postrender/v1", "kind": "RuleSet", "rules": [{"name": "x"}]},)
    assert config.allow_unmatched and not config.strict
