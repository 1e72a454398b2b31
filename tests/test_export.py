"""``velero-postrender export``: the root command's changes as kustomize patches.

The oracle is the real ``kubectl kustomize`` (/usr/bin/kubectl, kustomize v5): a kustomization
that lists the rendered manifests as a resource and the exported directory as a component must
build the objects the root command writes. Objects are compared parsed, in any document order,
after three normalisations that do not change what the API server stores: a field whose value is
null is dropped (strategic merge drops them from the resources it patches; kustomize drops a
null ``annotations``/``labels`` everywhere), ``volumes``/``volumeMounts`` are compared by their
merge key (strategic merge puts new items first) and ``kind: List`` documents count as their
items (kustomize splits them). JSON 6902 patches are compared without the list normalisation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import EXAMPLES, HELM3_FIXTURES, HELM4_FIXTURES, ROOT, require_all, run_cli
from helm_binaries import HELM3, HELMFILE, RULES, WEBSHOP, require_helm, tool_env

from postrender.api import load_rules, render
from postrender.pipeline import Options, PostRenderer
from postrender.ruleset.presets import preset_names
from postrender.stream.reader import TextReader
from postrender.writers.patches import GENERATED, STRATEGIC_MERGE, KustomizeWriter, patches_of

KUBECTL = shutil.which("kubectl")
FLUX_SCHEMA = ROOT / "tests" / "references" / "flux-helmrelease-v2-postRenderers.schema.json"
REFERENCE = EXAMPLES / "reference"
POSTGRESQL = ROOT / "tests" / "fixtures" / "helm3" / "postgresql.yaml"
MYSQL = ROOT / "tests" / "fixtures" / "helm3" / "mysql.yaml"
REDIS = ROOT / "tests" / "fixtures" / "helm3" / "redis.yaml"
TEMPLATE_KEYS = {"metadata", "spec"}


# --- helpers ---------------------------------------------------------------------------------

def kubectl() -> str:
    if KUBECTL is None:
        message = "kubectl (for `kubectl kustomize`, the oracle of these tests) is not on PATH"
        if require_all():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return KUBECTL


def kustomize(directory: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([kubectl(), "kustomize", *flags, str(directory)], capture_output=True, text=True,
                          timeout=300)


def build_with(tmp_path: Path, manifests: str, component: Path | None = None,
               patches: list[dict[str, Any]] | None = None) -> str:
    """``kubectl kustomize`` of the manifests plus a component directory or inline patches."""
    work = tmp_path / "build"
    work.mkdir(parents=True, exist_ok=True)
    (work / "manifests.yaml").write_text(manifests)
    kustomization: dict[str, Any] = {"resources": ["manifests.yaml"]}
    if component is not None:
        kustomization["components"] = [os.path.relpath(component, work)]  # kustomize wants it relative
    if patches is not None:
        kustomization["patches"] = patches
    (work / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    done = kustomize(work)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _normal(value: Any, merge_keys: bool) -> Any:
    if isinstance(value, dict):
        out = {key: _normal(item, merge_keys) for key, item in value.items() if item is not None}
        if merge_keys:
            for key, by in (("volumes", "name"), ("volumeMounts", "mountPath")):
                if isinstance(out.get(key), list):
                    out[key] = sorted(out[key], key=lambda item: json.dumps(item.get(by) if isinstance(item, dict)
                                                                            else item))
        return out
    if isinstance(value, list):
        return [_normal(item, merge_keys) for item in value]
    return value


def objects(text: str, merge_keys: bool = True) -> list[str]:
    """The stream's objects, normalised (see the module docstring), as sorted JSON texts."""
    found: list[Any] = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        if document.get("kind") == "List" and isinstance(document.get("items"), list):
            found.extend(document["items"])
        else:
            found.append(document)
    return sorted(json.dumps(_normal(item, merge_keys), sort_keys=True) for item in found)


def export_in_process(manifests: str, directory: Path, **rules: Any) -> KustomizeWriter:
    writer = KustomizeWriter(directory)
    PostRenderer(load_rules(**rules), Options(allow_unmatched=True)).run(TextReader(manifests), writer)
    return writer


def template_of(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else \
        obj if obj["kind"] == "Pod" else obj["spec"]["template"]


def by_identity(text: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d
            for d in yaml.safe_load_all(text) if d}


def assert_minimal(patch: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> None:
    """A strategic-merge patch holds the identity and exactly what the root command added or changed."""
    assert set(patch) == {"apiVersion", "kind", "metadata", "spec"}
    assert patch["metadata"] == {k: v for k, v in after["metadata"].items() if k in ("name", "namespace")}
    path_keys = {"CronJob": ["jobTemplate", "spec", "template"]}.get(patch["kind"], ["template"])
    node = patch["spec"]
    for key in path_keys:
        assert set(node) == {key}
        node = node[key]
    assert set(node) <= TEMPLATE_KEYS
    old, new = template_of(before), template_of(after)
    old_annotations = (old.get("metadata") or {}).get("annotations") or {}
    changed = {k: v for k, v in new["metadata"]["annotations"].items() if old_annotations.get(k) != v}
    assert node.get("metadata", {}) == ({"annotations": changed} if changed else {})
    spec = node.get("spec", {})
    assert set(spec) <= {"containers", "volumes"}
    old_volumes = old["spec"].get("volumes") or []
    assert spec.get("volumes", []) == [v for v in new["spec"].get("volumes") or [] if v not in old_volumes]
    for container in spec.get("containers", []):
        assert set(container) == {"name", "volumeMounts"}
        before_mounts = next(c for c in old["spec"]["containers"] if c["name"] == container["name"]).get(
            "volumeMounts") or []
        after_mounts = next(c for c in new["spec"]["containers"] if c["name"] == container["name"])["volumeMounts"]
        assert container["volumeMounts"] == [m for m in after_mounts if m not in before_mounts]


def check_patches_are_minimal(directory: Path, manifests: str, output: str) -> None:
    before, after = by_identity(manifests), by_identity(output)
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        patch = yaml.safe_load(path.read_text())
        key = (patch["kind"], patch["metadata"].get("namespace", ""), patch["metadata"]["name"])
        assert_minimal(patch, before[key], after[key])


def snapshot(directory: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (p.read_text(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())} \
        if directory.exists() else {}


def edit_document(text: str, kind: str, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in the documents of ``kind`` only."""
    parts = text.split("\n---\n")
    return "\n---\n".join(p.replace(old, new, 1) if f"\nkind: {kind}\n" in f"\n{p}" else p for p in parts)


def drop_document(text: str, marker: str) -> str:
    return "\n---\n".join(p for p in text.split("\n---\n") if marker not in p)


# --- the bundled example, through the command line -------------------------------------------

def test_reference_example_builds_what_the_root_command_writes(tmp_path: Path) -> None:
    manifests = (REFERENCE / "postgresql-8.7.4.yaml").read_text()
    rules = ["--rules", str(REFERENCE / "rules.yaml")]
    root = run_cli(rules, manifests)
    assert root.returncode == 0, root.stderr
    directory = tmp_path / "velero-hooks"
    done = run_cli(["export", "kustomize", str(directory), *rules], manifests)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert sorted(p.name for p in directory.iterdir()) == ["kustomization.yaml",
                                                          "statefulset_postgresql-postgresql.yaml"]
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert kustomization == {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1", "kind": "Component",
        "patches": [{"path": "statefulset_postgresql-postgresql.yaml",
                     "target": {"group": "apps", "version": "v1", "kind": "StatefulSet",
                                "name": "postgresql-postgresql"}}],
    }
    built = build_with(tmp_path, manifests, directory)
    assert objects(built) == objects(root.stdout.decode())
    assert objects(built) != objects(manifests)
    check_patches_are_minimal(directory, manifests, root.stdout.decode())


def test_export_is_deterministic_and_rewrites_nothing_unchanged(tmp_path: Path) -> None:
    args = ["--preset", "redis", "-f", str(REDIS)]
    first, second = tmp_path / "one", tmp_path / "two"
    assert run_cli(["export", "kustomize", str(first), *args]).returncode == 0
    assert run_cli(["export", "kustomize", str(second), *args]).returncode == 0
    assert {k: v[0] for k, v in snapshot(first).items()} == {k: v[0] for k, v in snapshot(second).items()}
    assert sorted(snapshot(first)) == ["kustomization.yaml", "statefulset_demo_rel-redis-master.yaml",
                                       "statefulset_demo_rel-redis-replicas.yaml"]
    before = snapshot(first)
    again = run_cli(["export", "kustomize", str(first), *args])
    assert again.returncode == 0
    assert b"already up to date (2 patches)" in again.stderr
    assert snapshot(first) == before
    for path in first.glob("*.yaml"):
        assert path.read_text().startswith(GENERATED)


# --- every rendered chart with every preset that matches it ----------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("fixture", HELM3_FIXTURES + HELM4_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixtures_with_each_matching_preset(tmp_path: Path, fixture: Path) -> None:
    manifests = fixture.read_text()
    matched = 0
    for preset in preset_names():
        result = render(manifests, presets=[preset], allow_unmatched=True)
        directory = tmp_path / preset
        writer = export_in_process(manifests, directory, presets=[preset])
        changed = {(e.resource.kind, e.resource.name) for e in result.effects if e.changed}
        assert {(p.target.kind, p.target.name) for p in writer.patches} == changed
        if not changed:
            continue
        matched += 1
        assert all(p.strategy == STRATEGIC_MERGE for p in writer.patches)
        built = build_with(tmp_path / f"build-{preset}", manifests, directory)
        assert objects(built) == objects(result.text), f"{fixture.name} with --preset {preset}"
        check_patches_are_minimal(directory, manifests, result.text)
    if fixture.stem in ("mariadb", "mongodb", "mysql", "postgresql", "postgresql-ha", "redis", "wordpress"):
        assert matched, f"no preset matched {fixture.name}"


def test_helm3_and_helm4_renderings_give_the_same_patches(tmp_path: Path) -> None:
    helm3 = export_in_process(POSTGRESQL.read_text(), tmp_path / "h3", presets=["postgresql"])
    helm4 = export_in_process((POSTGRESQL.parent.parent / "helm4" / "postgresql.yaml").read_text(), tmp_path / "h4",
                              presets=["postgresql"])
    assert [(p.file_name, p.text) for p in helm3.patches] == [(p.file_name, p.text) for p in helm4.patches]


# --- --check ---------------------------------------------------------------------------------

@pytest.fixture
def exported(tmp_path: Path) -> Path:
    directory = tmp_path / "velero-hooks"
    done = run_cli(["export", "kustomize", str(directory), "--preset", "postgresql", "-f", str(POSTGRESQL)])
    assert done.returncode == 0, done.stderr
    return directory


def check(directory: Path, manifests: str, *rules: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli(["export", "kustomize", str(directory), "--check", *(rules or ("--preset", "postgresql"))],
                   manifests)


def test_check_passes_when_up_to_date_and_writes_nothing(exported: Path) -> None:
    before = snapshot(exported)
    done = check(exported, POSTGRESQL.read_text())
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert b"is up to date (1 patch)" in done.stderr
    assert snapshot(exported) == before


def test_check_names_a_renamed_statefulset(exported: Path) -> None:
    before = snapshot(exported)
    renamed = edit_document(POSTGRESQL.read_text(), "StatefulSet", "  name: rel-postgresql\n", "  name: rel-db\n")
    done = check(exported, renamed)
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert any(line.startswith(f"error: {exported}/statefulset_demo_rel-db.yaml: StatefulSet demo/rel-db: missing")
               for line in lines), lines
    assert any(line.startswith(f"error: {exported}/statefulset_demo_rel-postgresql.yaml: StatefulSet "
                               "demo/rel-postgresql: stale") for line in lines), lines
    assert any(line.startswith(f"error: {exported}/kustomization.yaml: out of date") for line in lines), lines
    assert snapshot(exported) == before


def test_check_names_a_new_database_workload(exported: Path) -> None:
    both = POSTGRESQL.read_text() + MYSQL.read_text()
    done = check(exported, both, "--preset", "postgresql", "--preset", "mysql")
    assert done.returncode == 1
    text = done.stderr.decode()
    assert f"error: {exported}/statefulset_demo_rel-mysql.yaml: StatefulSet demo/rel-mysql: missing" in text
    assert "rel-postgresql" not in text  # its patch is still right


def test_check_names_a_stale_and_an_edited_patch(tmp_path: Path) -> None:
    directory = tmp_path / "hooks"
    assert run_cli(["export", "kustomize", str(directory), "--preset", "redis", "-f", str(REDIS)]).returncode == 0
    master = directory / "statefulset_demo_rel-redis-master.yaml"
    master.write_text(master.read_text().replace("on-error: Fail", "on-error: Continue"))
    without_replicas = drop_document(REDIS.read_text(), "name: rel-redis-replicas\n  namespace")
    done = check(directory, without_replicas, "--preset", "redis")
    assert done.returncode == 1
    text = done.stderr.decode()
    assert (f"error: {directory}/statefulset_demo_rel-redis-replicas.yaml: StatefulSet demo/rel-redis-replicas: "
            "stale: no resource gets this patch any more") in text
    assert f"error: {master}: StatefulSet demo/rel-redis-master: out of date" in text


def test_check_of_a_missing_directory_creates_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "nothing-here"
    done = check(directory, POSTGRESQL.read_text())
    assert done.returncode == 1
    assert f"error: {directory}/kustomization.yaml: missing".encode() in done.stderr
    assert not directory.exists()


# --- writing into a directory ----------------------------------------------------------------

def test_export_refuses_files_it_did_not_write(tmp_path: Path) -> None:
    directory = tmp_path / "mine"
    directory.mkdir()
    own = "resources: [app.yaml]\n"
    (directory / "kustomization.yaml").write_text(own)
    done = run_cli(["export", "kustomize", str(directory), "--preset", "postgresql", "-f", str(POSTGRESQL)])
    assert done.returncode == 1
    assert (f"error: {directory}/kustomization.yaml: the file exists and was not written by velero-postrender "
            "export kustomize").encode() in done.stderr
    assert sorted(p.name for p in directory.iterdir()) == ["kustomization.yaml"]
    assert (directory / "kustomization.yaml").read_text() == own


def test_export_into_a_file_is_a_located_error(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("not a directory\n")
    done = run_cli(["export", "kustomize", str(target), "--rules", str(RULES / "database.yaml"), "-f",
                    str(POSTGRESQL)])
    assert done.returncode == 1
    assert done.stderr.decode().startswith(f"error: {target}: cannot write the Component")
    assert b"Traceback" not in done.stderr


def test_export_removes_its_own_stale_patches_only(exported: Path) -> None:
    notes = exported / "notes.yaml"
    notes.write_text("# the team's notes\n")
    renamed = edit_document(POSTGRESQL.read_text(), "StatefulSet", "  name: rel-postgresql\n", "  name: rel-db\n")
    done = run_cli(["export", "kustomize", str(exported), "--preset", "postgresql"], renamed)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in exported.iterdir()) == ["kustomization.yaml", "notes.yaml",
                                                          "statefulset_demo_rel-db.yaml"]
    assert check(exported, renamed).returncode == 0


# --- Flux ------------------------------------------------------------------------------------

def test_flux_post_renderers_validate_and_build_the_same_objects(tmp_path: Path, exported: Path) -> None:
    manifests = POSTGRESQL.read_text()
    done = run_cli(["export", "flux", "--preset", "postgresql"], manifests)
    assert done.returncode == 0, done.stderr
    printed = yaml.safe_load(done.stdout)
    assert set(printed) == {"postRenderers"}
    schema = json.loads(FLUX_SCHEMA.read_text())
    jsonschema.validate(printed["postRenderers"], schema)
    broken = json.loads(json.dumps(printed["postRenderers"]))
    broken[0]["kustomize"]["patches"][0]["patch"] = yaml.safe_load(broken[0]["kustomize"]["patches"][0]["patch"])
    with pytest.raises(jsonschema.ValidationError):  # the schema does hold patches to strings
        jsonschema.validate(broken, schema)
    [renderer] = printed["postRenderers"]
    [entry] = renderer["kustomize"]["patches"]
    target_fields = set(schema["items"]["properties"]["kustomize"]["properties"]["patches"]["items"]["properties"]
                        ["target"]["properties"])
    assert set(entry) == {"target", "patch"} and set(entry["target"]) <= target_fields
    # the same patch as the exported file, without its comment line
    assert entry["patch"] == (exported / "statefulset_demo_rel-postgresql.yaml").read_text().split("\n", 1)[1]
    root = render(manifests, presets=["postgresql"]).text
    assert objects(build_with(tmp_path, manifests, patches=renderer["kustomize"]["patches"])) == objects(root)


def test_flux_prints_an_empty_list_when_nothing_changes() -> None:
    done = run_cli(["export", "flux", "--preset", "postgresql", "--allow-unmatched", "-f", str(MYSQL)])
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout) == {"postRenderers": []}


# --- Argo CD: kustomize with helmCharts, as docs/gitops.md describes it -----------------------

@pytest.mark.helm
def test_argocd_recipe_helm_charts_base_and_component(tmp_path: Path) -> None:
    helm = require_helm(HELM3)
    app = tmp_path / "app"
    shutil.copytree(WEBSHOP, app / "base" / "charts" / "webshop")
    (app / "base" / "kustomization.yaml").write_text(
        "helmCharts:\n  - name: webshop\n    releaseName: shop\n    namespace: demo\n")
    (app / "kustomization.yaml").write_text("resources:\n  - base\ncomponents:\n  - velero-hooks\n")
    env = tool_env(tmp_path, os.environ.get("PATH", ""))

    def inflate(directory: Path) -> str:
        done = subprocess.run([kubectl(), "kustomize", "--enable-helm", "--helm-command", str(helm), str(directory)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    base = inflate(app / "base")
    rules = ["--rules", str(RULES / "database.yaml")]
    exported = run_cli(["export", "kustomize", str(app / "velero-hooks"), *rules], base)
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in (app / "velero-hooks").iterdir()) == ["kustomization.yaml",
                                                                       "statefulset_shop-database.yaml"]
    root = run_cli(rules, base)
    assert root.returncode == 0, root.stderr
    assert objects(inflate(app)) == objects(root.stdout.decode())
    assert run_cli(["export", "kustomize", str(app / "velero-hooks"), "--check", *rules], base).returncode == 0


# --- Helmfile: strategicMergePatches, as docs/gitops.md describes it ---------------------------

# Helmfile runs `kustomize version` and `kustomize build DIR --output FILE ...`; kubectl's kustomize stands in.
KUSTOMIZE_SHIM = """#!/bin/sh
case "$1" in
  version) echo v5.5.0 ;;
  build) shift; exec "{kubectl}" kustomize "$@" ;;
  *) echo "unexpected: kustomize $*" >&2; exit 2 ;;
esac
"""


@pytest.mark.helm
def test_helmfile_recipe_strategic_merge_patches(tmp_path: Path) -> None:
    helm, helmfile = require_helm(HELM3), require_helm(HELMFILE)
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "helm").symlink_to(helm)
    (tools / "kustomize").write_text(KUSTOMIZE_SHIM.format(kubectl=kubectl()))
    (tools / "kustomize").chmod(0o755)
    env = tool_env(tmp_path, f"{tools}:{os.environ.get('PATH', '')}")
    project = tmp_path / "project"
    shutil.copytree(WEBSHOP, project / "chart")
    rendered = subprocess.run([str(helm), "template", "shop", "./chart", "--namespace", "demo"], cwd=project,
                              capture_output=True, text=True, env=env, timeout=300)
    assert rendered.returncode == 0, rendered.stderr
    rules = ["--rules", str(RULES / "database.yaml")]
    assert run_cli(["export", "kustomize", str(project / "velero-hooks"), *rules], rendered.stdout).returncode == 0
    patches = sorted(p.name for p in (project / "velero-hooks").glob("*.yaml") if p.name != "kustomization.yaml")
    assert patches == ["statefulset_shop-database.yaml"]
    (project / "helmfile.yaml").write_text(yaml.safe_dump({"releases": [{
        "name": "shop", "namespace": "demo", "chart": "./chart",
        "strategicMergePatches": [f"velero-hooks/{name}" for name in patches]}]}))
    done = subprocess.run([str(helmfile), "template"], cwd=project, capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    root = run_cli(rules, rendered.stdout)
    assert root.returncode == 0, root.stderr
    assert objects(done.stdout) == objects(root.stdout.decode())


# --- JSON 6902: custom kinds -----------------------------------------------------------------

DATABASES = """\
apiVersion: db.example.com/v1
kind: Database
metadata:
  name: plain
  namespace: demo
spec:
  pod:
    template:
      spec:
        containers:
          - name: exporter
            image: example/exporter:1
          - name: main
            image: example/db:1
---
apiVersion: db.example.com/v1
kind: Database
metadata:
  name: busy.one
  namespace: demo
spec:
  pod:
    template:
      metadata:
        annotations:
          team: data
      spec:
        containers:
          - name: exporter
            image: example/exporter:1
          - name: main
            image: example/db:1
            volumeMounts:
              - {name: data, mountPath: /data}
        volumes:
          - name: data
            emptyDir: {}
"""

CUSTOM_RULES = """\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: database
    match:
      kinds: [Database]
    podTemplate: $.spec.pod.template
    container: main
    scratch:
      mountPath: /scratch
      volume: {emptyDir: {sizeLimit: 1Gi}}
    hooks:
      preBackup:
        command: [/bin/sh, -c, dump > /scratch/dump]
"""


def test_custom_kinds_get_json_patches_that_kustomize_applies_exactly(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(CUSTOM_RULES)
    root = run_cli(["--rules", str(rules)], DATABASES)
    assert root.returncode == 0, root.stderr
    directory = tmp_path / "hooks"
    done = run_cli(["export", "kustomize", str(directory), "--rules", str(rules)], DATABASES)
    assert done.returncode == 0, done.stderr
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    assert [p["target"] for p in kustomization["patches"]] == [
        {"group": "db\\.example\\.com", "version": "v1", "kind": "Database", "namespace": "demo", "name": "busy\\.one"},
        {"group": "db\\.example\\.com", "version": "v1", "kind": "Database", "namespace": "demo", "name": "plain"},
    ]
    plain = yaml.safe_load((directory / "database.db.example.com_demo_plain.yaml").read_text())
    base = "/spec/pod/template"
    assert [(op["op"], op["path"]) for op in plain] == [
        ("add", f"{base}/metadata"), ("add", f"{base}/spec/volumes"),
        ("test", f"{base}/spec/containers/1/name"), ("add", f"{base}/spec/containers/1/volumeMounts")]
    busy = yaml.safe_load((directory / "database.db.example.com_demo_busy.one.yaml").read_text())
    assert [(op["op"], op["path"]) for op in busy] == [
        ("add", f"{base}/metadata/annotations/backup.velero.io~1backup-volumes"),
        ("add", f"{base}/metadata/annotations/pre.hook.backup.velero.io~1command"),
        ("add", f"{base}/metadata/annotations/pre.hook.backup.velero.io~1container"),
        ("add", f"{base}/metadata/annotations/pre.hook.backup.velero.io~1on-error"),
        ("add", f"{base}/spec/volumes/-"),
        ("test", f"{base}/spec/containers/1/name"), ("add", f"{base}/spec/containers/1/volumeMounts/-")]
    built = build_with(tmp_path, DATABASES, directory)
    assert objects(built, merge_keys=False) == objects(root.stdout.decode(), merge_keys=False)
    # the chart moves the database container: kustomize refuses the patch instead of mounting elsewhere
    swapped = DATABASES.replace("name: exporter\n            image: example/exporter:1\n          - name: main\n"
                                "            image: example/db:1\n",
                                "name: main\n            image: example/db:1\n          - name: exporter\n"
                                "            image: example/exporter:1\n", 1)
    assert swapped != DATABASES
    work = tmp_path / "build"
    (work / "manifests.yaml").write_text(swapped)
    refused = kustomize(work)
    assert refused.returncode != 0
    assert "test failed" in refused.stderr


def test_two_rules_on_one_resource_give_one_patch_with_the_final_values(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("""\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: dump
    match: {kinds: [StatefulSet], names: [rel-postgresql]}
    scratch: {mountPath: /scratch, volume: {emptyDir: {}}}
    hooks:
      preBackup: {command: [/bin/sh, -c, dump]}
  - name: data
    match: {kinds: [StatefulSet], names: [rel-postgresql]}
    backupVolumes: [data]
    hooks:
      postBackup: {command: [/bin/sh, -c, cleanup]}
""")
    manifests = POSTGRESQL.read_text()
    root = run_cli(["--rules", str(rules)], manifests)
    assert root.returncode == 0, root.stderr
    directory = tmp_path / "hooks"
    assert run_cli(["export", "kustomize", str(directory), "--rules", str(rules)], manifests).returncode == 0
    [patch_file] = [p for p in directory.glob("*.yaml") if p.name != "kustomization.yaml"]
    patch = yaml.safe_load(patch_file.read_text())
    annotations = patch["spec"]["template"]["metadata"]["annotations"]
    assert annotations["backup.velero.io/backup-volumes"] == "velero-scratch,data"
    assert list(annotations) == sorted(annotations)
    assert {"pre.hook.backup.velero.io/command", "post.hook.backup.velero.io/command"} <= set(annotations)
    assert objects(build_with(tmp_path, manifests, directory)) == objects(root.stdout.decode())
    check_patches_are_minimal(directory, manifests, root.stdout.decode())


def test_list_items_are_patched_as_resources(tmp_path: Path) -> None:
    manifests = """\
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: db, namespace: demo}
    spec:
      template:
        spec:
          containers: [{name: postgres, image: "postgres:16"}]
"""
    root = run_cli(["--preset", "postgresql"], manifests)
    assert root.returncode == 0, root.stderr
    directory = tmp_path / "hooks"
    assert run_cli(["export", "kustomize", str(directory), "--preset", "postgresql"], manifests).returncode == 0
    assert (directory / "deployment_demo_db.yaml").is_file()
    assert objects(build_with(tmp_path, manifests, directory)) == objects(root.stdout.decode())


def test_a_changed_resource_without_a_name_cannot_be_exported(tmp_path: Path) -> None:
    manifests = """\
apiVersion: batch/v1
kind: Job
metadata: {generateName: dump-, namespace: demo}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: postgres, image: "postgres:16"}]
"""
    rules = tmp_path / "rules.yaml"
    rules.write_text("apiVersion: velero-postrender/v1\nkind: RuleSet\nrules:\n  - name: job\n"
                     "    match: {kinds: [Job]}\n    hooks:\n      preBackup: {command: [/bin/true]}\n")
    assert run_cli(["--rules", str(rules)], manifests).returncode == 0
    directory = tmp_path / "hooks"
    done = run_cli(["export", "kustomize", str(directory), "--rules", str(rules)], manifests)
    assert done.returncode == 1
    assert (b"error: document 1 (Job demo/dump-, line 1): the resource has no metadata.name (only generateName): "
            b"a patch cannot target it") in done.stderr
    assert not directory.exists()


def test_patches_of_a_run_without_changes_is_empty() -> None:
    run = PostRenderer(load_rules(presets=["mysql"]), Options(allow_unmatched=True)).render(POSTGRESQL.read_text())
    assert patches_of(run) == []


OVERWRITTEN = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: demo}
spec:
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata:
      labels: {app: db}
      annotations:
        keep.example.com/note: chart
        pre.hook.backup.velero.io/command: '["/bin/true"]'
        pre.hook.backup.velero.io/timeout: 10m
    spec:
      containers:
        - {name: main, image: example/db:1}
---
apiVersion: db.example.com/v1
kind: Database
metadata: {name: custom, namespace: demo}
spec:
  pod:
    template:
      metadata:
        annotations:
          keep.example.com/note: chart
          pre.hook.backup.velero.io/command: '["/bin/true"]'
          pre.hook.backup.velero.io/timeout: 10m
      spec:
        containers:
          - {name: main, image: example/db:1}
"""

OVERWRITE_RULES = """\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: sts
    match: {kinds: [StatefulSet]}
    overwrite: true
    hooks: {preBackup: {command: [dump], onError: Fail}}
  - name: custom
    match: {kinds: [Database]}
    podTemplate: $.spec.pod.template
    overwrite: true
    hooks: {preBackup: {command: [dump], onError: Fail}}
"""


def test_keys_that_overwrite_takes_away_are_taken_away_by_the_patches(tmp_path: Path) -> None:
    """``overwrite: true`` replaces the whole phase (the chart's ``timeout`` goes): a strategic-merge
    patch gives the key as null, a JSON patch removes it; kustomize then builds what the root writes."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(OVERWRITE_RULES)
    root = run_cli(["--rules", str(rules)], OVERWRITTEN)
    assert root.returncode == 0, root.stderr
    assert b"pre.hook.backup.velero.io/timeout" not in root.stdout and b"keep.example.com/note" in root.stdout
    directory = tmp_path / "hooks"
    done = run_cli(["export", "kustomize", str(directory), "--rules", str(rules)], OVERWRITTEN)
    assert done.returncode == 0, done.stderr
    merge = yaml.safe_load((directory / "statefulset_demo_db.yaml").read_text())
    annotations = merge["spec"]["template"]["metadata"]["annotations"]
    assert annotations["pre.hook.backup.velero.io/timeout"] is None and "keep.example.com/note" not in annotations
    json_patch = yaml.safe_load((directory / "database.db.example.com_demo_custom.yaml").read_text())
    assert {"op": "remove", "path": "/spec/pod/template/metadata/annotations/pre.hook.backup.velero.io~1timeout"} \
        in json_patch
    built = build_with(tmp_path, OVERWRITTEN, directory)
    assert objects(built, merge_keys=False) == objects(root.stdout.decode(), merge_keys=False)
