"""The shipped presets against the rendered bitnami charts (Helm 3 and Helm 4 input), charts on
the official images (tests/fixtures/official), the bitnami valkey chart, an application chart with
database subcharts (discourse) and hand-written workloads: exactly the database workloads are
hooked, the hooks run in the database container, the annotations are sound, the scripts are
POSIX sh, and each preset's metadata says what it matches, reads and how it is tested.

The scripts are run against real servers in test_presets_live.py; MongoDB, which no reachable
registry packages, runs here against a fake client that records what it was given.
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
from hypothesis import given, settings
from hypothesis import strategies as st
from live_servers import container_env, rendered_hooks, run_hook

from postrender.api import load_rules, render
from postrender.ruleset.durations import duration_problem
from postrender.ruleset.presets import preset_names, presets_dir
from postrender.stream.split import split

PRESETS = ["cleanup", "fsfreeze", "mariadb", "mongodb", "mysql", "postgresql", "redis"]
DATABASES = ["mariadb", "mongodb", "mysql", "postgresql", "redis"]
MANIFESTS = Path(__file__).resolve().parent / "presets_manifests"
OFFICIAL = MANIFESTS / "official.yaml"
SEED = FIXTURES / "seed" / "postgresql-8.7.4.yaml"
OFFICIAL_CHARTS = sorted((FIXTURES / "official").glob("*.yaml"))
VALKEY = [MANIFESTS / "bitnami-valkey-helm3.yaml", MANIFESTS / "bitnami-valkey-helm4.yaml"]
DISCOURSE = [MANIFESTS / "bitnami-discourse-helm3.yaml", MANIFESTS / "bitnami-discourse-helm4.yaml"]
DISCOURSE_KEYS = [f"presets_manifests/{p.name}" for p in DISCOURSE]

# What each database preset must hook in each manifest (kind/name); every other manifest: nothing.
# Keys: the file name for the rendered bitnami charts (Helm 3 and Helm 4 alike), else folder/name.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "postgresql": {
        "postgresql.yaml": {"StatefulSet/rel-postgresql"},
        "postgresql-ha.yaml": {"StatefulSet/rel-postgresql-ha-postgresql"},  # repmgr: yes; pgpool: no
        "presets_manifests/official.yaml": {"Deployment/db-postgres"},
        "seed/postgresql-8.7.4.yaml": {"StatefulSet/postgresql-postgresql"},
        "official/postgres.yaml": {"StatefulSet/dbpostgres"},
        **{key: {"StatefulSet/rel-discourse-postgresql"} for key in DISCOURSE_KEYS},  # not the discourse Deployment
    },
    "mysql": {
        "mysql.yaml": {"StatefulSet/rel-mysql"},
        "presets_manifests/official.yaml": {"StatefulSet/db-mysql"},
        "official/mysql.yaml": {"StatefulSet/dbmysql"},
    },
    "mariadb": {
        "mariadb.yaml": {"StatefulSet/rel-mariadb"},
        "wordpress.yaml": {"StatefulSet/rel-wordpress-mariadb"},  # the subchart, not the wordpress Deployment
        "presets_manifests/official.yaml": {"StatefulSet/db-mariadb"},
        "official/mariadb.yaml": {"StatefulSet/dbmariadb"},
    },
    "mongodb": {
        "mongodb.yaml": {"Deployment/rel-mongodb"},
        "presets_manifests/official.yaml": {"StatefulSet/db-mongo"},
        "official/mongodb.yaml": {"StatefulSet/dbmongodb"},
    },
    "redis": {
        "redis.yaml": {"StatefulSet/rel-redis-master", "StatefulSet/rel-redis-replicas"},
        "presets_manifests/official.yaml": {"StatefulSet/db-redis"},
        "official/redis.yaml": {"Deployment/dbredis"},
        **{f"presets_manifests/{p.name}": {"StatefulSet/rel-valkey-primary", "StatefulSet/rel-valkey-replicas"}
           for p in VALKEY},
        **{key: {"StatefulSet/rel-discourse-redis-master"} for key in DISCOURSE_KEYS},
        # redis-cluster.yaml: deliberately not hooked (see rules/redis.yaml metadata.redisCluster)
    },
}
# The container the hooks must run in (the database's, never an exporter sidecar).
DATABASE_CONTAINER = {"db-postgres": "postgres", "db-mysql": "mysql", "db-mariadb": "mariadb", "db-mongo": "mongo",
                      "db-redis": "redis", "dbpostgres": "postgres", "dbmysql": "mysql", "dbmariadb": "mariadb",
                      "dbmongodb": "mongodb", "dbredis": "redis-server", "rel-valkey-primary": "valkey",
                      "rel-valkey-replicas": "valkey", "rel-discourse-postgresql": "postgresql",
                      "rel-discourse-redis-master": "redis"}
CORPUS = HELM3_FIXTURES + HELM4_FIXTURES + [SEED, OFFICIAL] + OFFICIAL_CHARTS + VALKEY + DISCOURSE
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
VOLUME_LISTS = ("backup.velero.io/backup-volumes", "backup.velero.io/backup-volumes-excludes")


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _key(path: Path) -> str:
    """The manifest's key in EXPECTED."""
    return path.name if path.parent.name in ("helm3", "helm4") else _id(path)


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


def _shell_value(script: str, name: str) -> str:
    """The value the script's first ``name=...`` line gives ``name``, as sh computes it (whatever the quoting)."""
    line = next(line for line in script.splitlines() if line.startswith(f"{name}="))
    done = subprocess.run(["sh", "-c", f'set -f; {line}\nprintf %s "${name}"'], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _render(path: Path, preset: str, **settings: str) -> str:
    if not settings:
        return _render_plain(path, preset)
    return render(path.read_text(), presets=[preset], set_values=settings, allow_unmatched=True).text


@functools.cache
def _render_plain(path: Path, preset: str) -> str:
    return render(path.read_text(), presets=[preset], allow_unmatched=True).text


# --- the files themselves -------------------------------------------------------------------

def _metadata(name: str) -> dict[str, Any]:
    metadata = yaml.safe_load((ROOT / "rules" / f"{name}.yaml").read_text())["metadata"]
    assert isinstance(metadata, dict)
    return metadata


def _listing_blocks(text: str) -> dict[str, str]:
    """``presets`` output: each preset's name -> its cell, unwrapped into one line of words."""
    blocks: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines()[2:]:
        if line and not line.startswith(" "):
            current, _, line = line.partition(" ")
            blocks[current] = []
        blocks[current].append(line)
    return {name: " ".join(" ".join(lines).split()) for name, lines in blocks.items()}


def test_every_preset_is_shipped_and_listed() -> None:
    assert preset_names() == PRESETS
    assert presets_dir().resolve() == (ROOT / "rules").resolve()
    done = run_cli(["presets"])
    assert done.returncode == 0, done.stderr
    for name in PRESETS:
        assert name in done.stdout.decode()


@pytest.mark.parametrize("columns", ["60", "200"])
def test_presets_listing_shows_images_environment_and_testing(columns: str) -> None:
    """Each row carries the preset's own metadata: its images, the variables it reads, how it is tested."""
    done = run_cli(["presets"], env={"COLUMNS": columns})
    assert done.returncode == 0, done.stderr
    blocks = _listing_blocks(done.stdout.decode())
    assert list(blocks) == PRESETS
    for name in DATABASES:
        metadata = _metadata(name)
        block = blocks[name]
        assert f"images: {metadata['images'][0]}" in block
        assert f"--set {name}Images=REGEX" in block
        assert "reads: " + ", ".join(metadata["env"]) in block
        assert "tested: " + " ".join(metadata["tested"].split()) in block
    assert "tested: syntax only" in blocks["mongodb"]
    assert "tested: live" in blocks["postgresql"] and "tested: live" in blocks["redis"]
    assert "valkey/valkey" in blocks["redis"] and "VALKEY_PASSWORD[_FILE]" in blocks["redis"]
    assert "reads: no environment variable" in blocks["cleanup"]


@pytest.mark.parametrize("name", DATABASES)
def test_presets_name_shows_the_params_and_how_it_is_tested(name: str) -> None:
    done = run_cli(["presets", name])
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(done.stdout)
    assert data["params"][f"{name}Images"] == ""
    assert data["metadata"]["tested"].startswith("syntax only" if name == "mongodb" else "live")
    if name == "mongodb":
        assert b"Not run against a MongoDB server" in done.stdout


_SECRET_CALL = re.compile(r"\$\(secret ([A-Z0-9_ ]+)\)")
_READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*):-")  # under set -u the container's variables are read with a default
_ANY_READ = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")
_ASSIGNED = re.compile(r"(?:^|[\s;])([A-Z][A-Z0-9_]*)=")


def _environment_reads(script: str) -> set[str]:
    """Names read with a default by the time the script first assigns them (the right-hand side of that
    assignment included): ``PGUSER=$(...)`` then ``${PGUSER:-x}`` reads the script's own value."""
    lines_end = [m.end() for m in re.finditer(r"[^\n]*(\n|$)", script)]
    assigned = {m.group(1): next(end for end in lines_end if end > m.end() - 1)
                for m in reversed(list(_ASSIGNED.finditer(script)))}
    return {m.group(1) for m in _READ.finditer(script) if m.start() < assigned.get(m.group(1), len(script))}


@pytest.mark.parametrize("name", DATABASES)
def test_metadata_env_is_what_the_scripts_read(name: str) -> None:
    """metadata.env (shown by ``presets``) lists exactly the variables the hook scripts read:
    ``NAME[_FILE]`` for those read through secret() (VAR or VAR_FILE), plain names for the rest."""
    env = _metadata(name)["env"]
    scripts = [script for preset, _, script in SCRIPTS if preset == name]
    assert len(scripts) == 2
    secrets = {n for script in scripts for call in _SECRET_CALL.findall(script) for n in call.split()}
    plain = {n for script in scripts for n in _environment_reads(script)} - secrets
    assigned = {n for script in scripts for n in _ASSIGNED.findall(script)}
    unread = {n for script in scripts for n in _ANY_READ.findall(script)} - plain - secrets - assigned
    assert not unread, f"read without a default (set -u fails where the variable is unset): {unread}"
    assert {e.removesuffix("[_FILE]") for e in env if e.endswith("[_FILE]")} == secrets
    assert {e for e in env if not e.endswith("[_FILE]")} == plain
    assert len(env) == len(set(env))


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
        assert re.search(r"\{\{\s*" + re.escape(param) + r"\s*(\|[^}]*)?\}\}", text), f"param {param} is never used"
    done = run_cli(["lint", str(ROOT / "rules" / f"{name}.yaml")])
    assert done.returncode == 0, done.stderr.decode()


# --- matching -------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", DATABASES)
@pytest.mark.parametrize("manifest", CORPUS, ids=_id)
def test_exactly_the_database_workloads_are_hooked(preset: str, manifest: Path) -> None:
    source = manifest.read_text()
    result = render(source, presets=[preset], allow_unmatched=True)
    expected = EXPECTED[preset].get(_key(manifest), set())
    assert set(_hooked(result.text)) == expected
    assert not [w for w in result.warnings if "does not define" in w.message], \
        "the scripts read every environment variable with a default: no warning expected"
    if not expected:
        assert result.text == source, "a preset that matches nothing must leave the stream byte for byte"


@pytest.mark.parametrize("preset", DATABASES)
@pytest.mark.parametrize("manifest", CORPUS, ids=_id)
def test_hooked_pod_templates_are_sound(preset: str, manifest: Path) -> None:
    """What Velero needs of every pod template a preset changed: JSON commands run by /bin/sh, hook
    containers that exist, valid durations and on-error values, the scratch volume mounted in the
    database container and listed for backup, no Secret value in any annotation."""
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
        assert _shell_value(command, "dir").startswith("/scratch/")


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
         "redis/redis-stack-server:7.2.0-v10", "redis@sha256:ff00",
         "valkey/valkey:8.1", "docker.io/valkey/valkey:8.0-alpine", "bitnami/valkey:8.1.3-debian-12-r3",
         "bitnamilegacy/valkey:8.0.2", "registry.local:5000/mirror/bitnami/valkey@sha256:ab12"],
        ["bitnami/redis-exporter:1.74", "oliver006/redis_exporter:v1.62.0", "bitnami/redis-sentinel:8.2",
         "bitnami/redis-cluster:8.2.1", "redis-commander:1", "bitnami/redis-sentinel-exporter:1",
         "bitnami/valkey-sentinel:8.1.3", "bitnami/valkey-cluster:8.1.3", "valkey/valkey-exporter:1"]),
}


def _image_patterns(preset: str, **settings: str) -> list[re.Pattern[str]]:
    """The preset's compiled ``match.images``, after its params (and ``settings``) are filled in."""
    ruleset = load_rules(presets=[preset], set_values=settings)
    return list(ruleset.rules[0].match.images)


@pytest.mark.parametrize("preset", DATABASES)
def test_image_patterns(preset: str) -> None:
    patterns = _image_patterns(preset)
    matched, not_matched = IMAGES[preset]
    for image in matched:
        assert any(p.search(image) for p in patterns), f"{preset} should match {image}"
    for image in not_matched:
        assert not any(p.search(image) for p in patterns), f"{preset} must not match {image}"


# --- the <preset>Images param ---------------------------------------------------------------

CUSTOM = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: custom-db}
spec:
  serviceName: custom-db
  selector: {matchLabels: {app: custom-db}}
  template:
    metadata: {labels: {app: custom-db}}
    spec:
      containers:
        - {name: metrics, image: "registry.corp/IMAGE-exporter:1.0"}
        - {name: db, image: "registry.corp/IMAGE:16.4"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.corp/web-IMAGE:2"}]
"""


def _corpus_images() -> list[str]:
    images = {str(c.get("image", "")) for path in CORPUS for _, template in _pod_templates(path.read_text()).values()
              for c in template["spec"].get("containers") or []}
    return sorted(images)


CORPUS_IMAGES = _corpus_images()


@pytest.mark.parametrize("preset", DATABASES)
def test_images_param_adds_image_names_without_copying_the_preset(preset: str) -> None:
    """``--set <preset>Images=registry.corp/x`` hooks a database on an image the preset does not know;
    the hooks still run in that container, not in the exporter listed first."""
    manifest = CUSTOM.replace("IMAGE", "acme-db")
    plain = run_cli(["--preset", preset, "--allow-unmatched"], manifest)
    assert plain.returncode == 0 and plain.stdout == manifest.encode(), "unknown images are not matched by default"
    for value in ("registry.corp/acme-db", "acme-db", "other/thing|registry.corp/acme-db", "registry\\.corp/acme-d[a-z]"):
        done = run_cli(["--preset", preset, "--set", f"{preset}Images={value}"], manifest)
        assert done.returncode == 0, done.stderr
        hooked = _hooked(done.stdout.decode())
        assert set(hooked) == {"StatefulSet/custom-db"}, value
        annotations = hooked["StatefulSet/custom-db"][1]["metadata"]["annotations"]
        assert annotations["pre.hook.backup.velero.io/container"] == "db"
    for value in ("corp/acme", "db-exporter", "registry.corp/acme", "web", "acme-db-export"):
        done = run_cli(["--preset", preset, "--allow-unmatched", "--set", f"{preset}Images={value}"], manifest)
        assert done.returncode == 0 and done.stdout == manifest.encode(), f"{value} must match whole names only"
    broken = run_cli(["--preset", preset, "--set", f"{preset}Images=(unclosed"], manifest)
    assert broken.returncode == 1 and broken.stdout == b""
    assert f"preset:{preset}" in broken.stderr.decode() and "invalid regular expression" in broken.stderr.decode()


@pytest.mark.parametrize("preset", DATABASES)
@pytest.mark.parametrize("value", ["", "|", "||", "a|", "|a", "(|)", " "])
def test_an_empty_images_value_matches_no_image(preset: str, value: str) -> None:
    """An empty value, or an empty alternative in it, adds nothing: no image of the corpus (nor an
    empty image) is matched by the param's pattern."""
    extra = _image_patterns(preset, **{f"{preset}Images": value})[-1]
    assert f"{preset}Images" not in extra.pattern and "\\b(" in extra.pattern
    assert not [image for image in [*CORPUS_IMAGES, ""] if extra.search(image)]


def _matches_a_name(image: str, names: list[str]) -> bool:
    """What the param means, without a regular expression: some non-empty name, starting with a
    letter or digit, is the image's name from the start or after a ``/``, up to ``:``, ``@`` or the end."""
    for name in names:
        if not name or not (name[0].isascii() and (name[0].isalnum() or name[0] == "_")):
            continue
        for at in range(len(image)):
            end = at + len(name)
            if image.startswith(name, at) and (at == 0 or image[at - 1] == "/") and (end == len(image)
                                                                                   or image[end] in ":@"):
                return True
    return False


NAME_PARTS = st.sampled_from(["", "pg", "acme", "registry.corp", "db-x", "x", "a_b", ".", "-", "/"])


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.lists(NAME_PARTS, max_size=3).map("".join), max_size=4))
def test_images_param_matches_exactly_the_names_given(names: list[str]) -> None:
    """Property: with names escaped and joined by ``|``, the pattern matches an image exactly when the
    image's name (after a registry or path prefix, before the tag) is one of the non-empty names."""
    extra = _image_patterns("postgresql", postgresqlImages="|".join(re.escape(n) for n in names))[-1]
    samples = [*CORPUS_IMAGES, "", "pg", "pg:1", "acme/pg@sha256:ab", "registry.corp/db-x:2", "xpg:1", "pg-x:1",
               "a_b", "registry.corp:5000/acme:3", ".:1", "x/-:1", *(f"{n}:1" for n in names), *(f"r.io/{n}" for n in names)]
    for image in samples:
        assert bool(extra.search(image)) == _matches_a_name(image, names), (image, names)


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
    assert _shell_value(script, "dir") == "/backup/postgresql" and _shell_value(script, "databases") == "app"


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
        "redis": ["REDIS_PASSWORD", "VALKEY_PASSWORD", "VALKEY_PORT", "REDIS_PORT"],
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
    freeze = json.loads(annotations["pre.hook.backup.velero.io/command"])[2]
    thaw = json.loads(annotations["post.hook.backup.velero.io/command"])[2]
    assert "fsfreeze --freeze" in freeze and "fsfreeze --unfreeze" in thaw
    assert "/var/log/nginx" in freeze and "/var/log/nginx" in thaw
    assert not any(k.startswith("backup.velero.io/") for k in annotations), "fsfreeze adds no volume"


def test_generic_presets_need_a_mounted_path() -> None:
    """Without a workload mounting the path, fsfreeze and cleanup match nothing: an error, not a silent no-op."""
    for preset in ("fsfreeze", "cleanup"):
        done = run_cli(["--preset", preset, "--set", f"{preset}Path=/nowhere"], GENERIC)
        assert done.returncode == 1 and done.stdout == b""
        assert b"matched any resource" in done.stderr


# --- Valkey ----------------------------------------------------------------------------------

@pytest.mark.parametrize("manifest", VALKEY, ids=_id)
def test_valkey_chart_is_hooked_by_the_redis_preset(manifest: Path) -> None:
    """The bitnami valkey chart: primary and replicas, in the valkey container, whose scripts run
    valkey-cli / valkey-server when the image has them (the live tests run both branches)."""
    hooked = _hooked(_render(manifest, "redis"))
    assert set(hooked) == {"StatefulSet/rel-valkey-primary", "StatefulSet/rel-valkey-replicas"}
    for _, template in hooked.values():
        annotations = template["metadata"]["annotations"]
        assert annotations["pre.hook.backup.velero.io/container"] == "valkey"
        backup = json.loads(annotations["pre.hook.backup.velero.io/command"])[2]
        restore = json.loads(annotations["post.hook.restore.velero.io/command"])[2]
        assert "command -v valkey-cli" in backup and "command -v valkey-server" in restore
        assert "VALKEY_PASSWORD" in backup and "VALKEYCLI_AUTH" in backup


# --- an application chart with database subcharts --------------------------------------------

@pytest.mark.parametrize("manifest", DISCOURSE, ids=_id)
def test_app_chart_hooks_only_its_database_subcharts(manifest: Path) -> None:
    """discourse (an app Deployment) with the postgresql and redis subcharts: the subcharts'
    StatefulSets are hooked, the app is not, and explain says why (its near miss)."""
    result = render(manifest.read_text(), presets=["postgresql", "redis"])
    assert set(_hooked(result.text)) == {"StatefulSet/rel-discourse-postgresql", "StatefulSet/rel-discourse-redis-master"}
    done = run_cli(["explain", "--preset", "postgresql", "--preset", "redis", "--file", str(manifest)],
                   env={"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    near, _, _ = out.partition("\n\n2 of ")
    assert "Near misses of the rules that matched (2)" in near
    section = near.split("Near misses of the rules that matched (2)")[1]
    app = next(d for d in split(manifest.read_text())
               if "\nkind: Deployment\n" in d.text and "name: rel-discourse\n" in d.text)
    for rule in ("postgresql", "redis"):
        assert f"  {rule} (preset:{rule}:" in section
    line = (f"- Deployment demo/rel-discourse (document {app.index}): kind Deployment matched, images did not: "
            "docker.io/bitnami/discourse:3.5.0-debian-12-r0")
    assert section.count(line) == 2, section
    assert "rel-discourse-postgresql" not in section and "rel-discourse-redis-master" not in section
    assert "2 of " in out and "resources changed by 2 rules; 0 rules matched nothing" in out


@pytest.mark.parametrize("fixture", ["helm3", "helm4"])
def test_wordpress_explain_says_why_the_app_was_not_hooked(fixture: str) -> None:
    manifest = FIXTURES / fixture / "wordpress.yaml"
    done = run_cli(["explain", "--preset", "mariadb", "--file", str(manifest)], env={"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    section = done.stdout.decode().split("Near misses of the rules that matched (1)")[1]
    assert "Deployment demo/rel-wordpress (document" in section
    assert "kind Deployment matched, images did not: docker.io/bitnami/wordpress:" in section


# --- MongoDB: no server here, a fake client records what the scripts hand it -----------------

FAKE_MONGO = {
    "mongodump": """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/mongodump.argv"
for arg in "$@"; do
  case $arg in
    --config=*) cp "${arg#--config=}" "$RECORD/mongodump.config" ;;
    --archive=*) printf 'archive' > "${arg#--archive=}" ;;
  esac
done
""",
    "mongorestore": """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/mongorestore.argv"
for arg in "$@"; do
  case $arg in --config=*) cp "${arg#--config=}" "$RECORD/mongorestore.config" ;; esac
done
""",
    "mongosh": """#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/mongosh.argv"
echo "${FAKE_PRIMARY:-true}"
""",
}

MONGO_MANIFESTS = {"official": (FIXTURES / "official" / "mongodb.yaml", "dbmongodb"),
                   "bitnami": (FIXTURES / "helm3" / "mongodb.yaml", "rel-mongodb"),
                   "hand-written": (OFFICIAL, "db-mongo")}
# (manifest, environment, expected user (None: no authentication), port)
MONGO_CONVENTIONS = {
    "official-image": ("official", {"MONGO_INITDB_ROOT_USERNAME": "admin", "MONGO_INITDB_ROOT_PASSWORD": "pw 'quoted'"},
                       "admin", "27017"),
    "official-image-files": ("official", {"MONGO_INITDB_ROOT_USERNAME_FILE": "admin",
                                          "MONGO_INITDB_ROOT_PASSWORD_FILE": "s3cret"}, "admin", "27017"),
    "official-no-user": ("official", {"MONGO_INITDB_ROOT_PASSWORD": "pw"}, "root", "27017"),
    "hand-written": ("hand-written", {"MONGO_INITDB_ROOT_PASSWORD_FILE": "pw"}, "admin", "27017"),
    "bitnami-file": ("bitnami", {"MONGODB_ROOT_PASSWORD_FILE": "bitnami-pw", "MONGODB_PORT_NUMBER": "27018"},
                     "root", "27018"),
    "bitnami-user": ("bitnami", {"MONGODB_ROOT_USER": "boss", "MONGODB_ROOT_PASSWORD": "pw:$x\\\\"}, "boss", "27017"),
    "no-password": ("official", {}, None, "27017"),
}


def _fake_mongo(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir, record = tmp_path / "fake-bin", tmp_path / "record"
    bin_dir.mkdir()
    record.mkdir()
    for name, text in FAKE_MONGO.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return bin_dir, record


@pytest.mark.parametrize("convention", list(MONGO_CONVENTIONS))
def test_mongodb_scripts_hand_the_credentials_to_the_client(convention: str, tmp_path: Path) -> None:
    """The mongodb preset's own scripts, run by /bin/sh, with a fake mongodump/mongorestore/mongosh
    first on PATH: the user and port of each environment convention reach the client's argv, the
    password only its private --config file (YAML, as mongodump reads it), never the argv."""
    which, values, user, port = MONGO_CONVENTIONS[convention]
    manifest, workload = MONGO_MANIFESTS[which]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hooks = rendered_hooks(manifest, "mongodb", workload, scratch)
    bin_dir, record = _fake_mongo(tmp_path)
    env = container_env(hooks, values, tmp_path / "secrets")
    temporary = tmp_path / "tmpdir"
    temporary.mkdir()
    env.update(PATH=f"{bin_dir}:{env['PATH']}", RECORD=str(record), TMPDIR=str(temporary))
    password = next((v for k, v in values.items() if "PASSWORD" in k), None)

    done = run_hook(hooks.pre_backup, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (scratch / "mongodb" / "dump.archive").read_text() == "archive"
    argv = (record / "mongodump.argv").read_text().splitlines()
    assert argv[:2] == ["--host=127.0.0.1", f"--port={port}"]
    assert f"--archive={scratch}/mongodb.tmp/dump.archive" in argv and "--gzip" in argv
    if user is None:
        assert not [a for a in argv if a.startswith(("--username", "--config", "--authenticationDatabase"))]
        assert not (record / "mongodump.config").exists()
    else:
        assert f"--username={user}" in argv and "--authenticationDatabase=admin" in argv
        assert yaml.safe_load((record / "mongodump.config").read_text()) == {"password": password}
        assert not any(password in a for a in argv)
    assert not list(temporary.iterdir()), "the --config file is removed"

    done = run_hook(hooks.post_restore, env, tmp_path)
    assert done.returncode == 0, done.stderr
    restore = (record / "mongorestore.argv").read_text().splitlines()
    assert {"--drop", "--gzip", f"--archive={scratch}/mongodb/dump.archive"} <= set(restore)
    assert ("--nsExclude=admin.system.*" in restore) and (f"--port={port}" in restore)
    if user is not None:
        assert f"--username={user}" in restore
        assert yaml.safe_load((record / "mongorestore.config").read_text()) == {"password": password}
        assert not any(password in a for a in restore)
    assert not (scratch / "mongodb").exists(), "the archive is removed after a restore"


def test_mongodb_secondary_removes_its_copy_without_restoring(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hooks = rendered_hooks(FIXTURES / "official" / "mongodb.yaml", "mongodb", "dbmongodb", scratch)
    bin_dir, record = _fake_mongo(tmp_path)
    env = container_env(hooks, {"MONGO_INITDB_ROOT_PASSWORD_FILE": "pw"}, tmp_path / "secrets")
    env.update(PATH=f"{bin_dir}:{env['PATH']}", RECORD=str(record), FAKE_PRIMARY="false")
    assert run_hook(hooks.pre_backup, env, tmp_path).returncode == 0
    done = run_hook(hooks.post_restore, env, tmp_path)
    assert done.returncode == 0 and "not the primary" in done.stdout
    assert not (record / "mongorestore.argv").exists()
    assert not (scratch / "mongodb").exists()


@pytest.mark.parametrize("name", preset_names())
def test_shipped_presets_place_every_placeholder_where_the_shell_scanner_allows(name: str) -> None:
    """A run skips the scanner for the package's own presets (``RulesSource.shipped``): this test
    is what proves their placeholders sit at shell word positions."""
    from postrender.ruleset.load import RulesSource, load_ruleset
    from postrender.ruleset.presets import preset_path

    path = preset_path(name)
    assert path is not None
    text = path.read_text(encoding="utf-8")
    checked = load_ruleset([RulesSource(text, f"preset:{name}", shipped=False)])
    shipped = load_ruleset([RulesSource(text, f"preset:{name}", shipped=True)])
    assert checked == shipped
    assert checked.rules


def test_a_shipped_source_skips_only_the_position_check() -> None:
    """Values are quoted all the same; a misplaced placeholder is refused unless shipped."""
    from postrender.errors import PostRenderError
    from postrender.ruleset.load import RulesSource, load_ruleset

    text = ("apiVersion: velero-postrender/v1\nkind: RuleSet\nrules:\n  - name: r\n    match: {kinds: [StatefulSet]}\n"
            "    hooks: {preBackup: {script: \"echo '{{ x }}'\"}}\nparams: {x: a}\n")
    with pytest.raises(PostRenderError, match="inside single quotes|in single quotes|quote"):
        load_ruleset([RulesSource(text, "r.yaml")])
    (rule,) = load_ruleset([RulesSource(text, "preset:r", shipped=True)]).rules
    assert rule.hooks[0].command[-1] == "echo ''a''"  # the value quoted as one word, as always
