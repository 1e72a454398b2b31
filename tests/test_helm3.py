"""Helm 3.17.1 (the real binary) runs velero-postrender as its post-renderer.

Helm 3 runs an executable: the ``velero-postrender`` console script found on PATH, or the
checkout's ``bin/velero-postrender`` launcher by absolute path. No cluster is reachable, so
``helm template`` (Helm's client-only install) is the closest to ``helm install``;
Helm 3.17's ``install --dry-run=client`` still asks the cluster for its version.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from helm_binaries import (
    HELM3,
    HELMFILE,
    RULES,
    WEBSHOP,
    assert_database_only,
    bootstrapped_plugin,
    clean_path,
    launcher_env,
    plugin_copy,
    require_helm,
    resources,
    scripts_dir_with_console_script,
    tool_env,
    velero_annotations,
)

pytestmark = pytest.mark.helm

RULES_ARG = f"--post-renderer-args=--rules={RULES / 'database.yaml'}"


@pytest.fixture(scope="module")
def helm3() -> Path:
    return require_helm(HELM3)


@pytest.fixture
def console_env(helm3: Path, tmp_path: Path) -> dict[str, str]:
    """PATH: helm 3 and the pip-installed console script (as after `pip install velero-postrender`)."""
    return tool_env(tmp_path, clean_path(helm3.parent, scripts_dir_with_console_script()))


def helm(binary: Path, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_template_with_the_console_script_on_path(helm3: Path, console_env: dict[str, str], tmp_path: Path):
    done = helm(helm3, ["template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender", RULES_ARG],
                console_env, tmp_path)
    assert done.returncode == 0, done.stderr
    found = resources(done.stdout)
    assert_database_only(found)
    # Helm 3 never post-renders hooks: the Job is printed as the chart made it.
    assert velero_annotations(found[("Job", "shop-migrate")]) == {}
    # Every document keeps its "# Source:" comment (helm template --show-only needs it).
    assert done.stdout.count("# Source: webshop/templates/") == 4


def test_show_only_finds_the_post_rendered_document(helm3: Path, console_env: dict[str, str], tmp_path: Path):
    done = helm(helm3, ["template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender", RULES_ARG,
                        "--show-only", "templates/database.yaml"], console_env, tmp_path)
    assert done.returncode == 0, done.stderr
    found = resources(done.stdout)
    assert list(found) == [("StatefulSet", "shop-database")]
    assert velero_annotations(found[("StatefulSet", "shop-database")])["backup.velero.io/backup-volumes"] == "backup"


def test_environment_variables_instead_of_arguments(helm3: Path, console_env: dict[str, str], tmp_path: Path):
    env = {**console_env, "VELERO_POSTRENDER_RULES": str(RULES / "database.yaml"),
           "VELERO_POSTRENDER_SET": "scratchSize=2Gi"}
    done = helm(helm3, ["template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    volumes = resources(done.stdout)[("StatefulSet", "shop-database")]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "backup", "emptyDir": {"sizeLimit": "2Gi"}} in volumes


@pytest.mark.slow
def test_launcher_by_absolute_path_without_the_package_installed(helm3: Path, tmp_path: Path):
    launcher = bootstrapped_plugin() / "bin" / "velero-postrender"
    env = launcher_env(tmp_path, helm3.parent)
    done = helm(helm3, ["template", "shop", str(WEBSHOP), "--post-renderer", str(launcher), RULES_ARG], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert_database_only(resources(done.stdout))


def test_a_broken_rules_file_fails_and_helm_3_shows_why(helm3: Path, console_env: dict[str, str], tmp_path: Path):
    broken = RULES / "broken.yaml"
    done = helm(helm3, ["template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender",
                        f"--post-renderer-args=--rules={broken}"], console_env, tmp_path)
    assert done.returncode != 0
    assert done.stdout == ""
    assert f"{broken}:10: rule 'database': hooks.preBackup.timeout" in done.stderr  # file, line, rule, field
    # Helm 3 shows stderr itself: no Helm 4 error log is written.
    assert not (tmp_path / "state" / "velero-postrender").exists()


def test_the_helm4_plugin_yaml_must_not_go_into_helm3s_plugin_directory(helm3: Path, tmp_path: Path):
    """Why the README tells Helm 3 users not to `helm plugin install` this repository."""
    env = tool_env(tmp_path, clean_path(helm3.parent))
    done = helm(helm3, ["plugin", "install", str(plugin_copy())], env, tmp_path)
    assert done.returncode != 0
    assert "plugin is installed but unusable" in done.stderr
    listed = helm(helm3, ["plugin", "list"], env, tmp_path)
    assert "failed to load plugins" in listed.stderr


def test_helmfile_post_renderer(helm3: Path, console_env: dict[str, str], tmp_path: Path):
    """Helmfile (0.166, which drives Helm 3) with postRenderer / postRendererArgs, as in the README."""
    helmfile = require_helm(HELMFILE)
    (tmp_path / "helmfile.yaml").write_text(
        "releases:\n"
        "  - name: shop\n"
        f"    chart: {WEBSHOP}\n"
        "    postRenderer: velero-postrender\n"
        "    postRendererArgs:\n"
        f"      - --rules={RULES / 'database.yaml'}\n"
    )
    done = helm(helmfile, ["--helm-binary", str(helm3), "template"], console_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert_database_only(resources(done.stdout))


def test_argo_cd_config_management_plugin_generate_command(helm3: Path, console_env: dict[str, str], tmp_path: Path):
    """The README's Argo CD CMP: its generate command as the cmp-server runs it (sh -c, in a copy of
    the app's source directory, with ARGOCD_APP_* and ARGOCD_ENV_* variables)."""
    plugin = yaml.safe_load((WEBSHOP.parent / "argocd" / "cmp-plugin.yaml").read_text())
    generate = plugin["spec"]["generate"]
    source = tmp_path / "source"
    shutil.copytree(WEBSHOP, source)
    shutil.copy(RULES / "database.yaml", source / "velero-rules.yaml")
    env = {**console_env, "ARGOCD_APP_NAME": "shop", "ARGOCD_APP_NAMESPACE": "prod",
           "ARGOCD_ENV_VELERO_RULES": "velero-rules.yaml", "ARGOCD_ENV_VELERO_SET": "scratchSize=1Gi",
           "ARGOCD_ENV_HELM_ARGS": "--set web.replicas=3"}
    done = helm(Path(shutil.which(generate["command"][0]) or generate["command"][0]),
                [*generate["command"][1:], *generate["args"]], env, source)
    assert done.returncode == 0, done.stderr
    found = resources(done.stdout)
    assert_database_only(found, size="1Gi")
    assert found[("Deployment", "shop-web")]["spec"]["replicas"] == 3
