"""The shipped presets against the rendered bitnami charts (Helm 3 and Helm 4 input) and
workloads on the official images: exactly the database workloads are hooked, the hooks run in
the database container, the annotations are sound, and the scripts are POSIX sh.

The scripts are run against real servers in test_presets_live.py.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, HELM3_FIXTURES, HELM4_FIXTURES, ROOT, run_cli

from postrender.api import render
from postrender.ruleset.durations import duration_problem
from postrender.ruleset.presets import preset_names, presets_dir

PRESETS = ["cleanup", "fsfreeze", "mariadb", "mongodb", "mysql", "postgresql", "redis"]
DATABASES = ["mariadb", "mongodb", "mysql", "postgresql", "redis"]
OFFICIAL = Path(__file__).resolve().parent / "presets_manifests" / "official.yaml"
SEED = FIXTURES / "seed" / "postgresql-8.7.4.yaml"

# What each database preset must hook in each rendered chart (kind/name); every other chart: nothing.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "postgresql": {
        "postgresql.yaml": {"StatefulSet/rel-postgresql"},
        "postgresql-ha.yaml": {"StatefulSet/rel-postgresql-ha-postgresql"},  # repmgr: yes; pgpool: no
        "official.yaml": {"Deployment/db-postgres"},
        "postgresql-8.7.4.yaml": {"StatefulSet/postgresql-postgresql"},
    },
    "mysql": {"mysql.yaml": {"StatefulSet/rel-mysql"}, "official.yaml": {"StatefulSet/db-mysql"}},
    "mariadb": {
        "mariadb.yaml": {"StatefulSet/rel-mariadb"},
        "wordpress.yaml": {"StatefulSet/rel-wordpress-mariadb"},  # the subchart, not the wordpress Deployment
        "official.yaml": {"StatefulSet/db-mariadb"},
    },
    "mongodb": {"mongodb.yaml": {"Deployment/rel-mongodb"}, "official.yaml": {"StatefulSet/db-mongo"}},
    "redis": {
        "redis.yaml": {"StatefulSet/rel-redis-master", "StatefulSet/rel-redis-replicas"},
        "official.yaml": {"StatefulSet/db-redis"},
        # redis-cluster.yaml: deliberately not hooked (see rules/redis.yaml metadata.redisCluster)
    },
}
# The container the hooks must run in (the database's, never an exporter sidecar).
DATABASE_CONTAINER = {"db-postgres": "postgres", "db-mysql": "mysql", "db-mariadb": "mariadb", "db-mongo": "mongo",
                      "db-redis": "redis"}
CORPUS = HELM3_FIXTURES + HELM4_FIXTURES + [SEED, OFFICIAL]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
VOLUME_LISTS = ("backup.velero.io/backup-volumes", "backup.velero.io/backup-volumes-excludes")


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _load_all(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def _pod_templates(text: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """kind/name -> (workload, pod template) of every workload with a pod template."""
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for doc in _load_all(text):
        if not isinstance(doc, dict):
            continue
        kind = doc.get("kind")
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            template = doc["spec"]["template"]
        elif kind == "CronJob":
            template = doc["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            template = doc
        else:
            continue
        found[f"{kind}/{doc['metadata']['name']}"] = (doc, template)
    return found


def _hooked(text: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return {key: value for key, value in _pod_templates(text).items()
            if any(k.endswith("velero.io/command") for k in (value[1].get("metadata") or {}).get("annotations") or {})}


def _secret_values(text: str) -> set[str]:
    """Every value stored in the manifests' Secrets: none may show up in an annotation."""
    values: set[str] = set()
    for doc in _load_all(text):
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            for value in (doc.get("data") or {}).values():
                values.add(base64.b64decode(value).decode("utf-8", "replace"))
            values.update(str(v) for v in (doc.get("stringData") or {}).values())
    return {v for v in values if len(v) >= 4}


def _render(path: Path, preset: str, **settings: str) -> str:
    if not settings:
        return _render_plain(path, preset)
    return render(path.read_text(), presets=[preset], set_values=settings, allow_unmatched=True).text


@functools.cache
def _render_plain(path: Path, preset: str) -> str:
    return render(path.read_text(), presets=[preset], allow_unmatched=True).text


# --- the files themselves -------------------------------------------------------------------

def test_every_preset_is_shipped_and_listed() -> None:
    assert preset_names() == PRESETS
    assert presets_dir().resolve() == (ROOT / "rules").resolve()
    done = run_cli(["presets"])
    assert done.returncode == 0, done.stderr
    for name in PRESETS:
        assert name in done.stdout.decode()


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_self_describing(name: str) -> None:
    data = yaml.safe_load((ROOT / "rules" / f"{name}.yaml").read_text())
    assert data["apiVersion"] == "velero-postrender/v1" and data["kind"] == "RuleSet"
    metadata = data["metadata"]
    assert metadata["name"] == name
    for key in ("description", "images", "kinds", "credentials", "restore"):
        assert metadata.get(key), f"metadata.{key} is missing"
    assert data["params"], "params document what a user may --set"
    for rule in data["rules"]:
        assert rule.get("description")
        assert set(rule["match"]["kinds"]) <= {"StatefulSet", "Deployment", "DaemonSet"}
    text = (ROOT / "rules" / f"{name}.yaml").read_text()
    for param in data["params"]:
        assert re.search(r"\{\{\s*" + re.escape(param) + r"\s*\}\}", text), f"param {param} is never used"
    done = run_cli(["lint", str(ROOT / "rules" / f"{name}.yaml")])
    assert done.returncode == 0, done.stderr.decode()


# --- matching -------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", DATABASES)
@pytest.mark.parametrize("manifest", CORPUS, ids=_id)
def test_exactly_the_database_workloads_are_hooked(preset: str, manifest: Path) -> None:
    source = manifest.read_text()
    result = render(source, presets=[preset], allow_unmatched=True)
    expected = EXPECTED[preset].get(manifest.name, set())
    assert set(_hooked(result.text)) == expected
    assert not [w for w in result.warnings if "does not define" in w.message], \
        "the scripts read every environment variable with a default: no warning expected"
    if not expected:
        assert result.text == source, "a preset that matches nothing must leave the stream byte for byte"


@pytest.mark.parametrize("preset", DATABASES)
@pytest.mark.parametrize("manifest", CORPUS, ids=_id)
def test_hooked_pod_templates_are_sound(preset: str, manifest: Path) -> None:
    """The checks of notes/velero-hooks.md on every pod template a preset changed."""
    source = manifest.read_text()
    output = _render(manifest, preset)
    secrets = _secret_values(source)
    for key, (workload, template) in _hooked(output).items():
        annotations = template["metadata"]["annotations"]
        spec = template["spec"]
        containers = {c["name"]: c for c in spec["containers"]}
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates") or []}
        for name, value in annotations.items():
            assert isinstance(value, str), f"{key}: {name} must be a YAML string"
            assert not any(secret in value for secret in secrets), f"{key}: a Secret's value is in {name}"
            if name.endswith("/command"):
                argv = json.loads(value)
                assert isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)
                assert argv[:2] == ["/bin/sh", "-c"], "POSIX sh: the images do not all have bash"
            if name.endswith("/container"):
                assert value in containers, f"{key}: {name} names a missing container"
            if name.endswith("/on-error"):
                assert value in ("Continue", "Fail")
            if name.endswith(("/timeout", "/exec-timeout")):
                assert duration_problem(value) is None
        assert annotations["pre.hook.backup.velero.io/on-error"] == "Fail"
        assert annotations["post.hook.restore.velero.io/on-error"] == "Continue"
        assert annotations["post.hook.restore.velero.io/wait-for-ready"] == "true"
        container = containers[annotations["pre.hook.backup.velero.io/container"]]
        assert annotations["post.hook.restore.velero.io/container"] == container["name"]
        assert "exporter" not in container["image"] and "sentinel" not in container["image"]
        if workload["metadata"]["name"] in DATABASE_CONTAINER:
            assert container["name"] == DATABASE_CONTAINER[workload["metadata"]["name"]]
        assert volumes["velero-scratch"] == {"name": "velero-scratch", "emptyDir": {"medium": "", "sizeLimit": "2Gi"}}
        assert {"name": "velero-scratch", "mountPath": "/scratch"} in container["volumeMounts"]
        for listed in VOLUME_LISTS:
            if listed in annotations:
                names = annotations[listed].split(",")
                assert all(DNS_LABEL.match(n) and (n in volumes or n in claims) for n in names), annotations[listed]
        assert "velero-scratch" in annotations["backup.velero.io/backup-volumes"].split(",")
        command = json.loads(annotations["pre.hook.backup.velero.io/command"])[2]
        assert "/scratch/" in command


@pytest.mark.parametrize("preset", DATABASES)
def test_presets_are_idempotent(preset: str) -> None:
    for manifest in CORPUS:
        once = _render(manifest, preset)
        assert _render_text(once, preset) == once, manifest


def _render_text(text: str, preset: str) -> str:
    return render(text, presets=[preset], allow_unmatched=True).text


IMAGES = {
    "postgresql": (
        ["postgres", "postgres:15", "postgres:16-alpine", "docker.io/library/postgres:17.2", "postgres@sha256:ab12",
         "docker.io/bitnami/postgresql:17.6.0-debian-12-r4", "bitnamilegacy/postgresql:16.4.0",
         "registry.local:5000/mirror/bitnami/postgresql-repmgr:17.6.0", "ghcr.io/acme/postgresql:15"],
        ["bitnami/postgres-exporter:0.17.1", "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
         "bitnami/pgpool:4.6.3", "bitnami/pgbouncer:1.24", "postgis/postgis:16", "mypostgres:1",
         "bitnami/postgresql-exporter:1", "postgres-operator:1"]),
    "mysql": (
        ["mysql", "mysql:8.4", "docker.io/library/mysql:9.4", "bitnami/mysql:9.4.0-debian-12-r1",
         "container-registry.oracle.com/mysql/mysql-server:8.0", "mysql/mysql-server:8.0", "percona:8.0",
         "percona/percona-server:8.0"],
        ["prom/mysqld-exporter:v0.15.1", "bitnami/mysqld-exporter:0.17.2", "mysql/mysql-router:8.0",
         "bitnami/mariadb:12.0", "mariadb:11", "percona/percona-xtradb-cluster-operator:1", "mysql-client:1"]),
    "mariadb": (
        ["mariadb", "mariadb:11.4", "docker.io/library/mariadb:10.11", "bitnami/mariadb:12.0.2-debian-12-r0",
         "bitnami/mariadb-galera:11.8", "mariadb/server:10.6", "quay.io/mirror/bitnamilegacy/mariadb:11"],
        ["bitnami/mysqld-exporter:0.17.2", "mariadb/maxscale:24", "mysql:8", "bitnami/mysql:9",
         "mariadb-operator/mariadb-operator:0.30"]),
    "mongodb": (
        ["mongo", "mongo:7.0", "docker.io/library/mongo:8.0", "bitnami/mongodb:8.0.13-debian-12-r0",
         "mongodb/mongodb-community-server:7.0-ubi8", "percona/percona-server-mongodb:7.0"],
        ["percona/mongodb_exporter:0.40", "bitnami/mongodb-exporter:0.47", "bitnami/mongodb-sharded:8.0",
         "mongo-express:1", "mongodb/mongodb-kubernetes-operator:0.9"]),
    "redis": (
        ["redis", "redis:7.2-alpine", "docker.io/library/redis:8.0", "bitnami/redis:8.2.1-debian-12-r0",
         "redis/redis-stack-server:7.2.0-v10", "redis@sha256:ff00"],
        ["bitnami/redis-exporter:1.74", "oliver006/redis_exporter:v1.62.0", "bitnami/redis-sentinel:8.2",
         "bitnami/redis-cluster:8.2.1", "redis-commander:1", "bitnami/redis-sentinel-exporter:1"]),
}


@pytest.mark.parametrize("preset", DATABASES)
def test_image_patterns(preset: str) -> None:
    rules = yaml.safe_load((ROOT / "rules" / f"{preset}.yaml").read_text())["rules"]
    patterns = [re.compile(p) for p in rules[0]["match"]["images"]]
    matched, not_matched = IMAGES[preset]
    for image in matched:
        assert any(p.search(image) for p in patterns), f"{preset} should match {image}"
    for image in not_matched:
        assert not any(p.search(image) for p in patterns), f"{preset} must not match {image}"


# --- params ---------------------------------------------------------------------------------

def test_params_change_the_scratch_volume_and_the_scripts() -> None:
    text = _render(FIXTURES / "helm3" / "postgresql.yaml", "postgresql", scratchMedium="Memory", scratchSize="512Mi",
                   scratchPath="/backup", postgresqlDatabases="app", dumpTimeout="20m")
    (workload, template), = _hooked(text).values()
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    assert volumes["velero-scratch"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "512Mi"}
    annotations = template["metadata"]["annotations"]
    assert annotations["pre.hook.backup.velero.io/timeout"] == "20m"
    script = json.loads(annotations["pre.hook.backup.velero.io/command"])[2]
    assert "dir='/backup/postgresql'" in script and "databases='app'" in script


@pytest.mark.parametrize("preset", DATABASES)
def test_a_preset_can_be_switched_off(preset: str) -> None:
    """A vendor whose customer brings an external database: --set <preset>Enabled=false."""
    manifest = OFFICIAL
    done = run_cli(["--preset", preset, "--set", f"{preset}Enabled=false"], manifest.read_bytes())
    assert done.returncode == 0, done.stderr
    assert done.stdout == manifest.read_bytes()


def test_presets_combine_on_one_stream() -> None:
    """One run with every database preset hooks each database workload of the stream once."""
    result = render(OFFICIAL.read_text(), presets=DATABASES)
    assert set(_hooked(result.text)) == {f"{k}/{n}" for k, n in [
        ("Deployment", "db-postgres"), ("StatefulSet", "db-mysql"), ("StatefulSet", "db-mariadb"),
        ("StatefulSet", "db-mongo"), ("StatefulSet", "db-redis")]}


# --- scripts ---------------------------------------------------------------------------------

GENERIC = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
          volumeMounts: [{name: logs, mountPath: /var/log/nginx}]
        - name: fsfreeze
          image: ubuntu:24.04
          securityContext: {privileged: true}
          command: [/bin/bash, -c, sleep infinity]
          volumeMounts: [{name: logs, mountPath: /var/log/nginx}]
      volumes: [{name: logs, emptyDir: {}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other}
spec:
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: app, image: busybox:1.36, volumeMounts: [{name: d, mountPath: /data}]}]
      volumes: [{name: d, emptyDir: {}}]
"""


def _all_scripts() -> list[tuple[str, str, str]]:
    """(preset, annotation, script) of every hook every preset writes."""
    found: list[tuple[str, str, str]] = []
    sources = {name: OFFICIAL.read_text() for name in DATABASES}
    sources["fsfreeze"] = sources["cleanup"] = GENERIC
    settings = {"fsfreeze": {"fsfreezePath": "/var/log/nginx"}, "cleanup": {"cleanupPath": "/var/log/nginx"}}
    for preset, text in sources.items():
        output = render(text, presets=[preset], set_values=settings.get(preset, {})).text
        for _, template in _hooked(output).values():
            for name, value in template["metadata"]["annotations"].items():
                if name.endswith("/command"):
                    argv = json.loads(value)
                    found.append((preset, name, argv[2]))
    return found


SCRIPTS = _all_scripts()


@pytest.mark.parametrize("preset,annotation,script", SCRIPTS, ids=[f"{p}:{a.split('/')[0]}" for p, a, _ in SCRIPTS])
def test_scripts_are_posix_sh(preset: str, annotation: str, script: str) -> None:
    shells = [s for s in ("sh", "dash") if shutil.which(s)]
    assert shells, "no POSIX shell to check with"
    for shell in shells + (["bash"] if shutil.which("bash") else []):
        argv = [shell, "--posix", "-n"] if shell == "bash" else [shell, "-n"]
        done = subprocess.run([*argv, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, f"{shell}: {done.stderr}"
    bashisms = [r"\[\[", r"\bfunction\s", r"\blocal\s", r"pipefail", r"\$'", r"<<<", r"\bsource\s", r"&>",
                r"\$\{[A-Za-z_]+//", r"\$\{[A-Za-z_]+:[0-9]", r"\becho -e\b", r"\bdeclare\b", r"\$RANDOM"]
    for pattern in bashisms:
        assert not re.search(pattern, script), f"bash-only construct {pattern!r} in {preset} {annotation}"
    assert "{{" not in script, "an unresolved placeholder"


def test_credentials_come_from_the_environment_only() -> None:
    """Each database preset reads the documented variables; the _FILE twin is read by secret()."""
    wanted = {
        "postgresql": ["POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD", "POSTGRES_POSTGRES_PASSWORD", "POSTGRES_USER"],
        "mysql": ["MYSQL_ROOT_PASSWORD", "MYSQL_USER", "MYSQL_PASSWORD"],
        "mariadb": ["MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD", "MARIADB_USER", "MARIADB_PASSWORD"],
        "mongodb": ["MONGODB_ROOT_PASSWORD", "MONGO_INITDB_ROOT_PASSWORD", "MONGODB_ROOT_USER",
                    "MONGO_INITDB_ROOT_USERNAME"],
        "redis": ["REDIS_PASSWORD"],
    }
    for preset, annotation, script in SCRIPTS:
        if preset not in wanted:
            continue
        for name in wanted[preset]:
            assert name in script, f"{preset} {annotation} does not read {name}"
        assert 'eval "file=\\${${name}_FILE:-}"' in script, "the VAR_FILE convention"


def test_cleanup_removes_matching_files_only(tmp_path: Path) -> None:
    """The cleanup preset's own script, run for real on a directory standing in for the mount."""
    target = tmp_path / "data"
    (target / "cache" / "deep").mkdir(parents=True)
    for name in ("a.tmp", "cache/b.tmp", "cache/deep/c.tmp", "keep.txt", "cache/keep.tmpl", "it's here.tmp"):
        (target / name).write_text("x")
    manifest = GENERIC.replace("/var/log/nginx", str(target))
    output = render(manifest, presets=["cleanup"], set_values={"cleanupPath": str(target),
                                                                "cleanupContainerImage": "nginx"}).text
    hooked = _hooked(output)
    assert set(hooked) == {"Deployment/web"}
    annotations = hooked["Deployment/web"][1]["metadata"]["annotations"]
    assert annotations["pre.hook.backup.velero.io/container"] == "nginx"
    assert annotations["pre.hook.backup.velero.io/on-error"] == "Continue"
    argv = json.loads(annotations["pre.hook.backup.velero.io/command"])
    for _ in range(2):  # idempotent
        done = subprocess.run(argv, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        left = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
        assert left == ["cache/keep.tmpl", "keep.txt"]


def test_fsfreeze_hooks_the_sidecar_that_may_freeze() -> None:
    """Velero's nginx example: the privileged fsfreeze sidecar freezes, the workload that does not
    mount the path is left alone."""
    output = render(GENERIC, presets=["fsfreeze"], set_values={"fsfreezePath": "/var/log/nginx",
                                                               "fsfreezeContainerImage": "ubuntu"}).text
    hooked = _hooked(output)
    assert set(hooked) == {"Deployment/web"}
    annotations = hooked["Deployment/web"][1]["metadata"]["annotations"]
    assert annotations["pre.hook.backup.velero.io/container"] == "fsfreeze"
    assert annotations["post.hook.backup.velero.io/container"] == "fsfreeze"
    assert "fsfreeze --freeze '/var/log/nginx'" in json.loads(annotations["pre.hook.backup.velero.io/command"])[2]
    assert "fsfreeze --unfreeze '/var/log/nginx'" in json.loads(annotations["post.hook.backup.velero.io/command"])[2]
    assert not any(k.startswith("backup.velero.io/") for k in annotations), "fsfreeze adds no volume"


def test_generic_presets_need_a_mounted_path() -> None:
    """Without a workload mounting the path, fsfreeze and cleanup match nothing: an error, not a silent no-op."""
    for preset in ("fsfreeze", "cleanup"):
        done = run_cli(["--preset", preset, "--set", f"{preset}Path=/nowhere"], GENERIC)
        assert done.returncode == 1 and done.stdout == b""
        assert b"matched any resource" in done.stderr
