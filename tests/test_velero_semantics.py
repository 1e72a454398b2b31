"""What Velero does with the annotations, checked through the library: a hook owns its whole
phase (``overwrite: true`` leaves nothing stale), existing values compare the way Velero reads
them, init restore container names, volumes Velero would skip without a word, Kubernetes
quantities, bounded restore waits, and restore scripts that succeed when there is nothing to
restore. Go (time, strconv, encoding/json) and kubectl (resource.ParseQuantity) are the oracles."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT
from go_oracle import GoOracle, build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifests import STATEFULSET, STREAM, ruleset

from postrender import PostRenderError, render
from postrender.filters.velero import decode_command, encode_command, hook_annotations, same_value
from postrender.ruleset.model import BackupHook, InitRestoreHook, Phase, RestoreHook
from postrender.ruleset.quantities import QuantityError, parse_quantity_text, quantity_problem

DATABASES = ["mariadb", "mongodb", "mysql", "postgresql", "redis"]
OFFICIAL = ROOT / "tests" / "presets_manifests" / "official.yaml"
PG = {"name": "pg", "match": {"kinds": ["StatefulSet"]}, "container": "postgresql"}


def template_of(text: str) -> dict[str, Any]:
    doc = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "StatefulSet")
    return doc["spec"]["template"]  # type: ignore[no-any-return]


def with_annotations(annotations: dict[str, str], stream: str = STATEFULSET) -> str:
    lines = "".join(f"        {key}: {json.dumps(value)}\n" for key, value in annotations.items())
    return stream.replace("    metadata:\n      labels:\n", f"    metadata:\n      annotations:\n{lines}      labels:\n", 1)


def errors_of(stream: str, *rules: dict[str, Any], **kw: Any) -> list[str]:
    with pytest.raises(PostRenderError) as caught:
        render(stream, [ruleset(*rules)], **kw)
    return [f"{p.location.field}: {p.message}" for p in caught.value.problems if p.is_error]


# --- a hook owns its whole phase -------------------------------------------------------------

CHART_HOOKS = {
    "pre.hook.backup.velero.io/container": "postgresql",
    "pre.hook.backup.velero.io/command": '["/bin/sh", "-c", "old dump"]',
    "pre.hook.backup.velero.io/timeout": "5m",
    "post.hook.restore.velero.io/command": '["/bin/sh", "-c", "old load"]',
    "post.hook.restore.velero.io/wait-for-ready": "true",
    "post.hook.restore.velero.io/exec-timeout": "1m",
    "post.hook.restore.velero.io/timeout": "1m",  # Velero ignores it, but it is part of the phase
    "post.hook.backup.velero.io/command": '["/bin/sh", "-c", "untouched"]',
}
NEW_HOOKS = {**PG, "hooks": {"preBackup": {"script": "new dump"},
                             "postRestore": {"script": "new load", "waitTimeout": "1h"}}}


def test_overwrite_replaces_the_whole_phase() -> None:
    result = render(with_annotations(CHART_HOOKS), [ruleset({**NEW_HOOKS, "overwrite": True})])
    a = template_of(result.text)["metadata"]["annotations"]
    assert {k for k in a if k.startswith("pre.hook.backup")} == {
        "pre.hook.backup.velero.io/container", "pre.hook.backup.velero.io/command", "pre.hook.backup.velero.io/on-error"}
    assert {k for k in a if k.startswith("post.hook.restore")} == {
        "post.hook.restore.velero.io/container", "post.hook.restore.velero.io/command",
        "post.hook.restore.velero.io/on-error", "post.hook.restore.velero.io/wait-timeout"}
    assert json.loads(a["pre.hook.backup.velero.io/command"])[-1] == "new dump"
    assert a["post.hook.backup.velero.io/command"] == CHART_HOOKS["post.hook.backup.velero.io/command"]
    effect, = result.effects
    assert sorted(effect.removed) == ["post.hook.restore.velero.io/exec-timeout", "post.hook.restore.velero.io/timeout",
                                      "post.hook.restore.velero.io/wait-for-ready", "pre.hook.backup.velero.io/timeout"]
    again = render(result.text, [ruleset({**NEW_HOOKS, "overwrite": True})])
    assert again.text == result.text and not any(e.changed for e in again.effects)


def test_without_overwrite_every_differing_or_stale_key_is_an_error() -> None:
    errors = errors_of(with_annotations(CHART_HOOKS), NEW_HOOKS)
    assert any(e.startswith("hooks.preBackup: annotation pre.hook.backup.velero.io/command is already") for e in errors)
    assert any(e.startswith("hooks.preBackup:") and "pre.hook.backup.velero.io/timeout='5m'" in e for e in errors)
    stale = next(e for e in errors if e.startswith("hooks.postRestore:") and "would apply" in e)
    assert "wait-for-ready" in stale and "exec-timeout" in stale


def test_a_stale_key_alone_is_a_conflict_too() -> None:
    """The chart's timeout would silently become our hook's timeout."""
    stream = with_annotations({"pre.hook.backup.velero.io/timeout": "5s"})
    errors = errors_of(stream, {**PG, "hooks": {"preBackup": {"script": "dump"}}})
    assert errors == ["hooks.preBackup: the pod template already has pre.hook.backup.velero.io/timeout='5s', which "
                      "would apply to the rule's preBackup hook"]
    ok = render(stream, [ruleset({**PG, "hooks": {"preBackup": {"script": "dump", "timeout": "5000ms"}}})])
    assert template_of(ok.text)["metadata"]["annotations"]["pre.hook.backup.velero.io/timeout"] == "5s"


def test_values_equal_for_velero_are_not_conflicts() -> None:
    """A command written with other spacing, 180s for 3m, True for true: Velero does the same."""
    argv = ["/bin/sh", "-c", "dump"]
    stream = with_annotations({
        "pre.hook.backup.velero.io/container": "postgresql",
        "pre.hook.backup.velero.io/command": json.dumps(argv, separators=(",", ":")) + "\n",
        "pre.hook.backup.velero.io/on-error": "Fail",
        "pre.hook.backup.velero.io/timeout": "180s",
        "post.hook.restore.velero.io/container": "postgresql",
        "post.hook.restore.velero.io/command": '["/bin/sh","-c","load"]',
        "post.hook.restore.velero.io/on-error": "Continue",
        "post.hook.restore.velero.io/wait-for-ready": "True",
    })
    rule = {**PG, "hooks": {"preBackup": {"script": "dump", "timeout": "3m"},
                            "postRestore": {"script": "load", "waitForReady": True}}}
    result = render(stream, [ruleset(rule)])
    assert result.text == stream and not any(e.changed for e in result.effects)


@pytest.mark.parametrize("existing, equal", [
    ('["/bin/sh", "-c", "dump"]', True),
    ('  ["/bin/sh", "-c", "dump"]', False),  # not JSON for Velero: one argv element
    ("['/bin/sh', '-c', 'dump']", False),  # single quotes: one argv element, "exec failed"
    ('["/bin/sh", "-c", "dump"', False),
    ('["/bin/sh", "-c", "dump", null]', False),
    ('["/bin/sh", "-c", "dump"] ', True),  # trailing whitespace is fine for encoding/json
    ('["/bin/sh", "-c", "du\\u006dp"]', True),
    ("", False),
])
def test_commands_compare_as_velero_parses_them(existing: str, equal: bool) -> None:
    ours = encode_command(("/bin/sh", "-c", "dump"))
    assert same_value("pre.hook.backup.velero.io/command", existing, ours) is equal


def test_a_plain_command_is_one_argv_element() -> None:
    assert decode_command("sync") == ["sync"]
    assert same_value("pre.hook.backup.velero.io/command", "sync", encode_command(("sync",)))
    assert decode_command('["a", null]') == ["a", ""]
    assert decode_command("[1]") == ["[1]"] and decode_command("[NaN]") == ["[NaN]"]
    assert not same_value("pre.hook.backup.velero.io/command", ["sync"], encode_command(("sync",)))


# --- against Go -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def go(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoOracle]:
    built = build(tmp_path_factory.mktemp("go-oracle"))
    if isinstance(built, str):
        pytest.skip(built)
    oracle = GoOracle(built)
    yield oracle
    oracle.close()


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
_ITEM = st.one_of(_TEXT, st.none(), st.integers(), st.booleans(), st.just([]))
_COMMANDS = st.one_of(
    st.tuples(st.sampled_from(["", "", " ", "\n", "\t"]), st.lists(_ITEM, max_size=4),
              st.sampled_from([", ", ",", ",\n"]), st.sampled_from(["", " ", "x", "]", "\n"])).map(
        lambda t: t[0] + "[" + t[2].join(json.dumps(i, ensure_ascii=bool(len(t[1]) % 2)) for i in t[1]) + "]" + t[3]),
    st.lists(_TEXT, max_size=3).map(lambda items: "['" + "', '".join(items) + "']"),
    st.text(alphabet='[]",\\ nulabu0d8', min_size=1, max_size=16),
    _TEXT.filter(bool),
    st.sampled_from(['["a\\ud800"]', '["\\ud83d\\ude00"]', '["a\\u0000b"]', "[\"a\"]\u00a0", '[ "a" , "b" ]']),
)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_COMMANDS)
def test_commands_are_decoded_as_velero_decodes_them(go: GoOracle, value: str) -> None:
    assert decode_command(value) == go.command(value)


# --- init restore containers -------------------------------------------------------------------

def init_rule(**hook: Any) -> dict[str, Any]:
    return {**PG, "hooks": {"initRestore": {"image": "busybox:1.36", "script": "echo restoring", **hook}}}


def test_no_fixed_init_container_name_by_default() -> None:
    result = render(STREAM, [ruleset(init_rule())])
    a = template_of(result.text)["metadata"]["annotations"]
    assert "init.hook.restore.velero.io/container-name" not in a  # Velero generates velero-restore-init-<random>
    assert json.loads(a["init.hook.restore.velero.io/command"]) == ["/bin/sh", "-c", "echo restoring"]
    assert not result.warnings


def test_a_fixed_init_container_name_is_written_with_a_warning() -> None:
    result = render(STREAM, [ruleset(init_rule(name="restore-data"))])
    assert template_of(result.text)["metadata"]["annotations"]["init.hook.restore.velero.io/container-name"] == \
        "restore-data"
    warning, = result.warnings
    assert "Duplicate value" in warning.message and warning.location.field == "hooks.initRestore.name"
    assert warning.location.resource and "rel-db" in warning.location.resource


@pytest.mark.parametrize("name, words", [
    ("Restore", "DNS-1123"), ("restore_data", "DNS-1123"), ("-restore", "DNS-1123"), ("restore-", "DNS-1123"),
    ("a" * 64, "DNS-1123"), ("", "DNS-1123"), ("restore\n", "DNS-1123"),
])
def test_init_container_names_must_be_dns_labels(name: str, words: str) -> None:
    errors = errors_of(STREAM, init_rule(name=name))
    assert len(errors) == 1 and errors[0].startswith("hooks.initRestore.name: ") and words in errors[0]


@pytest.mark.parametrize("name", ["postgresql", "exporter", "init-chmod"])
def test_init_container_names_must_be_unique_in_the_pod(name: str) -> None:
    errors = errors_of(STREAM, init_rule(name=name))
    assert errors == [f"hooks.initRestore.name: init restore container name {name!r} is already a container of the pod"]


def test_an_init_hook_needs_an_image() -> None:
    errors = errors_of(STREAM, init_rule(image=" "))
    assert errors == ["hooks.initRestore.image: image is empty"]


# --- volumes Velero would skip ---------------------------------------------------------------

def test_a_backup_volume_that_no_container_mounts_is_an_error() -> None:
    errors = errors_of(STREAM, {**PG, "backupVolumes": ["config"], "hooks": {"preBackup": {"script": "x"}}})
    assert errors == ["backupVolumes: volume 'config' is mounted by no container in spec.containers, so Velero would "
                      "skip it without a word"]


def test_a_scratch_volume_no_hook_container_mounts_is_an_error() -> None:
    rule = {**init_rule(), "scratch": {"mountPath": "/scratch"}}
    errors = errors_of(STREAM, rule)
    assert errors == ["scratch: volume 'velero-scratch' is mounted by no container in spec.containers, so Velero "
                      "would skip it without a word"]
    unlisted = {**init_rule(), "scratch": {"mountPath": "/scratch", "backup": False}}
    assert render(STREAM, [ruleset(unlisted)]).text != STREAM


def test_host_path_volumes_are_never_backed_up_and_api_volumes_are_skipped_since_1_14() -> None:
    stream = STATEFULSET.replace(
        "      volumes:\n        - name: config\n          configMap:\n            name: rel-db\n",
        "      volumes:\n        - name: config\n          configMap:\n            name: rel-db\n"
        "        - name: host\n          hostPath:\n            path: /var/log\n", 1).replace(
        "              mountPath: /var/lib/postgresql/data\n",
        "              mountPath: /var/lib/postgresql/data\n            - name: host\n              mountPath: /host\n"
        "            - name: config\n              mountPath: /config\n", 1)
    errors = errors_of(stream, {**PG, "backupVolumes": ["host"], "hooks": {"preBackup": {"script": "x"}}})
    assert errors == ["backupVolumes: volume 'host' is a hostPath volume, which Velero never backs up"]
    result = render(stream, [ruleset({**PG, "backupVolumes": ["config"], "hooks": {"preBackup": {"script": "x"}}})])
    assert [w.message for w in result.warnings] == [
        "volume 'config' is a configMap volume, which Velero 1.14 and later skip in file-system backups"]


# --- scratch volume sources --------------------------------------------------------------------

def scratch_rule(empty_dir: Any) -> dict[str, Any]:
    return {**PG, "scratch": {"mountPath": "/scratch", "volume": {"emptyDir": empty_dir}},
            "hooks": {"preBackup": {"script": "x"}}}


@pytest.mark.parametrize("empty_dir, field, words", [
    ({"sizeLimit": "lots"}, "sizeLimit", "not a Kubernetes quantity"),
    ({"sizeLimit": "1 Gi"}, "sizeLimit", "not a Kubernetes quantity"),
    ({"sizeLimit": "1GB"}, "sizeLimit", "regular expression"),
    ({"sizeLimit": "1K"}, "sizeLimit", "suffix"),
    ({"sizeLimit": "-1Gi"}, "sizeLimit", "negative"),
    ({"sizeLimit": "0"}, "sizeLimit", "zero"),
    ({"sizeLimit": "Gi"}, "sizeLimit", "no digits"),
    ({"sizeLimit": True}, "sizeLimit", "not a Kubernetes quantity"),
    ({"medium": "memory"}, "medium", "Memory"),
    ({"medium": "HugePages"}, "medium", "Memory"),
    ({"sizelimit": "1Gi"}, "sizelimit", "unknown emptyDir field"),
    ("1Gi", None, "must be a mapping"),
])
def test_scratch_empty_dir_is_validated_as_kubernetes_does(empty_dir: Any, field: str | None, words: str) -> None:
    errors = errors_of(STREAM, scratch_rule(empty_dir))
    assert len(errors) == 1, errors
    where = "scratch.volume.emptyDir" + (f".{field}" if field else "")
    assert errors[0].startswith(where + ": ") and words in errors[0]


@pytest.mark.parametrize("size", ["2Gi", "1.5Gi", "500M", "1e9", "512Mi", 1073741824, "0.5Gi", "+1Ki"])
def test_good_sizes_pass(size: Any) -> None:
    text = render(STREAM, [ruleset(scratch_rule({"medium": "Memory", "sizeLimit": size}))]).text
    assert template_of(text)["spec"]["volumes"][-1]["emptyDir"]["sizeLimit"] == size


def test_a_size_from_set_is_checked_after_substitution() -> None:
    rule = scratch_rule({"medium": "{{ medium }}", "sizeLimit": "{{ size }}"})
    data = ruleset(rule, params={"medium": "", "size": "1Gi"})
    render(STREAM, [data])
    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [data], set_values={"size": "big", "medium": "RAM"})
    assert sorted(p.location.field or "" for p in caught.value.problems) == [
        "scratch.volume.emptyDir.medium", "scratch.volume.emptyDir.sizeLimit"]


@pytest.mark.parametrize("text, value", [
    ("1Gi", 2**30), ("1.5Gi", 1.5 * 2**30), ("1e3", 1000), ("1E-3", 0.001), (".5", 0.5), ("1.", 1), ("+1Ki", 1024),
    ("-1", -1), ("1.G", 1e9), ("0.1m", 1e-4), ("1n", 1e-9), ("1u", 1e-6), ("00012", 12), ("1e+3", 1000),
    ("5k", 5000), ("m", 0), ("Gi", 0), (".Gi", 0), ("+.", 0), ("8Ei", 8 * 2**60), ("0", 0),
])
def test_quantity_values(text: str, value: float) -> None:
    assert parse_quantity_text(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "lots", " 1Gi", "1Gi ", "1ee3", "1e", "1Ki5", "1K", "1e3Ki", "+-1", ".e-12",
                                  "1.2.3", "1_0", "1e99999999999999999999", "\u0663Gi", "1gi"])
def test_refused_quantities(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity_text(text)
    assert quantity_problem(text) is not None


def _kubectl_quantity(pod: Path, value: str) -> bool:
    done = subprocess.run(["kubectl", "set", "resources", "--local", "-f", str(pod), f"--limits=memory={value}",
                           "-o", "json"], capture_output=True, text=True, timeout=60)
    return done.returncode == 0


_QUANTITIES = st.one_of(
    st.from_regex(r"\A[+-]?[0-9]{0,3}(\.[0-9]{0,3})?([eEinumkKMGTP]{0,2}[+-]?[0-9]{0,2})\Z"),
    st.from_regex(r"\A[0-9]{1,4}(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m|u|n|e[0-9]|E-[0-9])?\Z"),
    st.text(alphabet="0123456789.+-eEiKMGkm ", min_size=1, max_size=8),
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_QUANTITIES)
def test_quantity_grammar_agrees_with_kubectl(tmp_path: Path, value: str) -> None:
    """kubectl parses --limits with resource.ParseQuantity, offline: the same strings are refused."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    pod = tmp_path / "pod.json"
    if not pod.exists():
        pod.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                   "spec": {"containers": [{"name": "c", "image": "x"}]}}))
    try:
        parse_quantity_text(value)
        ours = True
    except QuantityError:
        ours = False
    assert ours == _kubectl_quantity(pod, value)


# --- restore hooks: a bounded wait, and nothing to restore is fine ---------------------------

def _restore_hooks(settings_: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    found = []
    for preset in DATABASES:
        text = render(OFFICIAL.read_text(), presets=[preset], set_values=settings_).text
        for doc in yaml.safe_load_all(text):
            if not isinstance(doc, dict) or doc.get("kind") not in ("StatefulSet", "Deployment"):
                continue
            annotations = (doc["spec"]["template"].get("metadata") or {}).get("annotations") or {}
            if "post.hook.restore.velero.io/command" in annotations:
                found.append((preset, annotations))
    return found


def test_every_preset_restore_hook_has_a_bounded_wait() -> None:
    hooks = _restore_hooks({})
    assert sorted(p for p, _ in hooks) == DATABASES
    assert all(a["post.hook.restore.velero.io/wait-timeout"] == "2h" for _, a in hooks)
    assert all(a["post.hook.restore.velero.io/wait-for-ready"] == "true" for _, a in hooks)
    shorter = _restore_hooks({"restoreWaitTimeout": "45m"})
    assert all(a["post.hook.restore.velero.io/wait-timeout"] == "45m" for _, a in shorter)
    with pytest.raises(PostRenderError) as caught:
        render(OFFICIAL.read_text(), presets=["postgresql"], set_values={"restoreWaitTimeout": "-1s"})
    assert caught.value.problems[0].location.field == "hooks.postRestore.waitTimeout"


@pytest.mark.parametrize("shell", ["sh", "dash", "bash"])
@pytest.mark.parametrize("layout", ["empty", "empty-subdirectories"])
def test_restore_scripts_exit_0_when_there_is_nothing_to_restore(tmp_path: Path, shell: str, layout: str) -> None:
    """Since Velero 1.13 a failing restore hook cancels the other pods' hooks: no dump is no error."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    if layout == "empty-subdirectories":
        for preset in DATABASES:
            (scratch / preset).mkdir()
    hooks = _restore_hooks({"scratchPath": str(scratch)})
    assert sorted(p for p, _ in hooks) == DATABASES
    for preset, written in hooks:
        argv = json.loads(written["post.hook.restore.velero.io/command"])
        assert argv[:2] == ["/bin/sh", "-c"]
        done = subprocess.run([shell, "-c", argv[2]], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert done.returncode == 0, f"{preset}: {done.stderr}"
        assert "nothing to restore" in done.stdout
    left = sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*"))
    assert left == ([] if layout == "empty" else sorted(DATABASES))


# --- the documentation lists what is written -------------------------------------------------

def test_docs_list_every_annotation_the_tool_writes() -> None:
    text = (ROOT / "docs" / "velero.md").read_text()
    hooks = [BackupHook(Phase.PRE_BACKUP, ("x",), "Fail", timeout="1s"),
             BackupHook(Phase.POST_BACKUP, ("x",), "Fail", timeout="1s"),
             RestoreHook(("x",), "Continue", exec_timeout="1s", wait_timeout="1s", wait_for_ready=True),
             InitRestoreHook(("x",), "i", "n")]
    keys = {"backup.velero.io/backup-volumes", "backup.velero.io/backup-volumes-excludes"}
    for hook in hooks:
        keys |= set(hook_annotations(hook, "c"))
    for key in sorted(keys):
        assert f"`{key}`" in text, f"docs/velero.md does not list {key}"
    assert not re.search("CONTRA" + "CT|\u00a7", text)  # the docs speak of the code, not of outside documents
