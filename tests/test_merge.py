"""Rules and merging through the library function: what is written, and how it merges."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from manifests import CRONJOB, CUSTOM, DEPLOYMENT, POD, SERVICE, STATEFULSET, STREAM, ruleset

from postrender import PostRenderError, UsageError, render
from postrender.ruleset.durations import parse_go_duration

PG = {
    "name": "pg",
    "match": {"kinds": ["StatefulSet"], "images": ["(^|/)postgres:"]},
    "scratch": {"name": "scratch", "mountPath": "/scratch"},
    "hooks": {
        "preBackup": {"script": "pg_dumpall > /scratch/all.sql", "timeout": "3m"},
        "postRestore": {"command": ["/bin/sh", "-c", "psql -f /scratch/all.sql"], "execTimeout": "10m",
                        "waitTimeout": "5m", "waitForReady": True},
    },
}


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(text: str, kind: str) -> dict:
    return next(d for d in docs(text) if d["kind"] == kind)


def annotations_of(template: dict) -> dict:
    return template["metadata"]["annotations"]


def test_hooks_are_written_as_velero_reads_them():
    out = render(STREAM, [ruleset(PG)]).text
    template = by_kind(out, "StatefulSet")["spec"]["template"]
    a = annotations_of(template)
    assert json.loads(a["pre.hook.backup.velero.io/command"]) == ["/bin/sh", "-c", "pg_dumpall > /scratch/all.sql"]
    assert a["pre.hook.backup.velero.io/container"] == "postgresql"  # the image match, not the first container
    assert a["pre.hook.backup.velero.io/on-error"] == "Fail"
    assert a["pre.hook.backup.velero.io/timeout"] == "3m"
    assert a["post.hook.restore.velero.io/on-error"] == "Continue"
    assert a["post.hook.restore.velero.io/exec-timeout"] == "10m"
    assert a["post.hook.restore.velero.io/wait-timeout"] == "5m"
    assert a["post.hook.restore.velero.io/wait-for-ready"] == "true"
    assert "post.hook.restore.velero.io/timeout" not in a
    assert a["backup.velero.io/backup-volumes"] == "scratch"
    # every value is a YAML string (Velero reads strings), commands are JSON arrays
    assert all(isinstance(v, str) for v in a.values())
    mounts = {c["name"]: c.get("volumeMounts", []) for c in template["spec"]["containers"]}
    assert {"name": "scratch", "mountPath": "/scratch"} in mounts["postgresql"]
    assert all(m["name"] != "scratch" for m in mounts["exporter"])  # only where a hook runs
    assert {"name": "scratch", "emptyDir": {}} in template["spec"]["volumes"]


def test_post_backup_and_init_restore_hooks():
    rule = {**PG, "hooks": {
        "postBackup": {"command": ["rm", "-f", "/scratch/all.sql"], "onError": "Continue", "timeout": "1m"},
        "initRestore": {"image": "busybox:1.36", "script": "echo restoring", "name": "restore-init"},
    }}
    a = annotations_of(by_kind(render(STREAM, [ruleset(rule)]).text, "StatefulSet")["spec"]["template"])
    assert a["post.hook.backup.velero.io/on-error"] == "Continue"
    assert a["post.hook.backup.velero.io/timeout"] == "1m"
    assert a["init.hook.restore.velero.io/container-image"] == "busybox:1.36"
    assert a["init.hook.restore.velero.io/container-name"] == "restore-init"
    assert json.loads(a["init.hook.restore.velero.io/command"]) == ["/bin/sh", "-c", "echo restoring"]
    assert not any(k.startswith("init.hook.restore.velero.io/on-error") for k in a)


@pytest.mark.parametrize("manifest, kind, path", [
    (DEPLOYMENT, "Deployment", ("spec", "template")),
    (CRONJOB, "CronJob", ("spec", "jobTemplate", "spec", "template")),
    (POD, "Pod", ()),
])
def test_pod_template_by_kind(manifest, kind, path):
    rule = {"name": "r", "match": {"kinds": [kind]}, "scratch": {"mountPath": "/scratch"},
            "hooks": {"preBackup": {"script": "sync"}}}
    out = by_kind(render(manifest, [ruleset(rule)]).text, kind)
    template = out
    for step in path:
        template = template[step]
    assert "pre.hook.backup.velero.io/command" in annotations_of(template)
    if path:
        assert "annotations" not in out["metadata"]  # never on the workload itself
    assert template["spec"]["volumes"] == [{"name": "velero-scratch", "emptyDir": {}}]


def test_pod_template_of_an_unknown_kind_by_jsonpath():
    rule = {"name": "custom", "match": {"kinds": ["Workload"]}, "podTemplate": "$.spec.pod",
            "hooks": {"preBackup": {"command": ["sync"]}}}
    out = by_kind(render(CUSTOM, [ruleset(rule)]).text, "Workload")
    assert annotations_of(out["spec"]["pod"])["pre.hook.backup.velero.io/container"] == "app"


def test_volume_lists_union_in_original_order_without_spaces():
    stream = STATEFULSET.replace(
        "    metadata:\n      labels:\n",
        "    metadata:\n      annotations:\n        backup.velero.io/backup-volumes: 'data, config'\n      labels:\n", 1)
    stream = stream.replace("              mountPath: /var/lib/postgresql/data\n",  # Velero skips unmounted volumes
                            "              mountPath: /var/lib/postgresql/data\n            - name: config\n"
                            "              mountPath: /etc/config\n", 1)
    rule = {**PG, "backupVolumes": ["config", "data"]}
    a = annotations_of(by_kind(render(stream, [ruleset(rule)]).text, "StatefulSet")["spec"]["template"])
    assert a["backup.velero.io/backup-volumes"] == "data,config,scratch"


def test_volume_claim_template_names_are_pod_volumes_and_excludes_are_written():
    rule = {**PG, "backupVolumes": ["data"], "excludeVolumes": ["config"]}
    a = annotations_of(by_kind(render(STREAM, [ruleset(rule)]).text, "StatefulSet")["spec"]["template"])
    assert a["backup.velero.io/backup-volumes"] == "scratch,data"
    assert a["backup.velero.io/backup-volumes-excludes"] == "config"


def test_scratch_not_backed_up_when_asked():
    rule = {**PG, "scratch": {"mountPath": "/scratch", "backup": False}}
    a = annotations_of(by_kind(render(STREAM, [ruleset(rule)]).text, "StatefulSet")["spec"]["template"])
    assert "backup.velero.io/backup-volumes" not in a


def test_two_rules_on_different_phases_share_a_pod_template():
    pre = {**PG, "hooks": {"preBackup": {"script": "dump"}}}
    post = {**PG, "name": "restore", "hooks": {"postRestore": {"script": "load"}}}
    out = render(STREAM, [ruleset(pre, post)]).text
    a = annotations_of(by_kind(out, "StatefulSet")["spec"]["template"])
    assert "pre.hook.backup.velero.io/command" in a and "post.hook.restore.velero.io/command" in a
    assert a["backup.velero.io/backup-volumes"] == "scratch"


def test_existing_identical_volume_and_mount_are_fine():
    once = render(STREAM, [ruleset(PG)]).text
    again = render(once, [ruleset(PG)])
    assert again.text == once
    assert not any(effect.changed for effect in again.effects)


def test_resource_placeholders_are_bound_per_resource():
    rule = {"name": "r", "match": {"kinds": ["StatefulSet", "Deployment"]},
            "hooks": {"preBackup": {"script": "echo {{ resource.namespace }}/{{ resource.name }}"}}}
    out = render(STREAM, [ruleset(rule)]).text
    sts = annotations_of(by_kind(out, "StatefulSet")["spec"]["template"])
    dep = annotations_of(by_kind(out, "Deployment")["spec"]["template"])
    sts_script = json.loads(sts["pre.hook.backup.velero.io/command"])[-1]
    dep_script = json.loads(dep["pre.hook.backup.velero.io/command"])[-1]
    assert sts_script == "echo 'prod'/'rel-db'"  # in a script, each value is one quoted shell word
    assert dep_script == "echo ''/'rel-web'"
    for script, printed in ((sts_script, "prod/rel-db\n"), (dep_script, "/rel-web\n")):
        assert subprocess.run(["sh", "-c", script], capture_output=True, text=True).stdout == printed


def test_resource_placeholders_outside_scripts_are_plain_text():
    """Names, paths and command elements get the value as it is; ``| words`` alone as a command
    element gives one element per word (none for an empty value)."""
    rule = {"name": "r", "match": {"kinds": ["StatefulSet", "Deployment"]},
            "scratch": {"name": "{{ resource.name }}-dump", "mountPath": "/backup/{{ resource.namespace }}"},
            "hooks": {"preBackup": {"command": ["/bin/echo", "{{ resource.name }} x", "{{ resource.namespace | words }}"]}}}
    out = render(STREAM, [ruleset(rule)]).text
    for kind, name, namespace, argv in (("StatefulSet", "rel-db", "prod", ["/bin/echo", "rel-db x", "prod"]),
                                        ("Deployment", "rel-web", "", ["/bin/echo", "rel-web x"])):
        template = by_kind(out, kind)["spec"]["template"]
        a = annotations_of(template)
        assert json.loads(a["pre.hook.backup.velero.io/command"]) == argv
        assert a["backup.velero.io/backup-volumes"] == f"{name}-dump"
        assert {"name": f"{name}-dump", "emptyDir": {}} in template["spec"]["volumes"]
        mounts = [m for c in template["spec"]["containers"] for m in c.get("volumeMounts", [])]
        assert {"name": f"{name}-dump", "mountPath": f"/backup/{namespace}"} in mounts


def test_a_value_is_inserted_once_and_never_read_for_placeholders():
    rule = {**PG, "hooks": {"preBackup": {"script": "echo {{ x }} {{ resource.name }}"}}}
    out = render(STREAM, [ruleset(rule, params={"x": "a"})], set_values={"x": "{{ resource.name }} $(id)"}).text
    a = annotations_of(by_kind(out, "StatefulSet")["spec"]["template"])
    assert json.loads(a["pre.hook.backup.velero.io/command"])[-1] == "echo '{{ resource.name }} $(id)' 'rel-db'"


def test_words_in_a_command_list():
    rule = {**PG, "hooks": {"preBackup": {"command": ["pg_dump", "{{ flags | words }}", "--file={{ flags }}", "db"]}}}
    for flags, argv in (("-a  -b", ["pg_dump", "-a", "-b", "--file=-a  -b", "db"]), ("", ["pg_dump", "--file=", "db"])):
        out = render(STREAM, [ruleset(rule, params={"flags": flags})]).text
        a = annotations_of(by_kind(out, "StatefulSet")["spec"]["template"])
        assert json.loads(a["pre.hook.backup.velero.io/command"]) == argv
    inside = {**PG, "hooks": {"preBackup": {"command": ["pg_dump", "--x={{ flags | words }}"]}}}
    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [ruleset(inside, params={"flags": "-a"})])
    (problem,) = caught.value.problems
    assert "must be a whole element" in problem.message and problem.location.field == "hooks.preBackup.command[1]"


BOUND_RULES = """\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: per-resource
    match: {kinds: [StatefulSet, Deployment]}
    scratch:
      name: "{{ resource.name }}_dump"
      mountPath: /scratch
    hooks:
      preBackup:
        script: "{{ resource.namespace | words }}"
        timeout: "{{ resource.namespace }}"
"""


def test_filled_in_values_are_checked_with_their_place(tmp_path):
    """A volume name, a script or a duration that is invalid only once the resource's name is in:
    an error at the rules file's line, for that resource; the load itself is fine."""
    path = tmp_path / "rules.yaml"
    path.write_text(BOUND_RULES)
    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [path])
    found = {(p.location.resource, p.location.field): p for p in caught.value.problems}
    volume = found[("StatefulSet prod/rel-db", "scratch.name")]
    assert "'rel-db_dump' is not a DNS-1123 label" in volume.message
    assert "after filling in the resource placeholders" in volume.message
    assert (volume.location.file, volume.location.line, volume.location.rule) == (str(path), 7, "per-resource")
    assert volume.location.document is not None
    assert "prod" in found[("StatefulSet prod/rel-db", "hooks.preBackup.timeout")].message
    assert found[("Deployment rel-web", "hooks.preBackup.script")].message.startswith("script is empty")
    assert found[("Deployment rel-web", "hooks.preBackup.script")].location.line == 11


def test_binding_fills_the_compiled_rule_without_loading_it_again(monkeypatch):
    from postrender.api import load_rules
    from postrender.pipeline import PostRenderer
    from postrender.ruleset import load
    from postrender.ruleset.model import RuleSet

    rule = {**PG, "scratch": {"name": "{{ resource.name }}", "mountPath": "/s/{{ resource.namespace }}"},
            "hooks": {"preBackup": {"script": "echo {{ resource.name }}", "timeout": "3m"}}}
    (compiled,) = load_rules([ruleset(rule)]).rules
    assert {b.field for b in compiled.bindings} == {"scratch.name", "scratch.mountPath", "hooks.preBackup.script"}

    def no_loading(*args, **kwargs):
        raise AssertionError("the loader ran again")

    monkeypatch.setattr(load, "_RuleBuilder", no_loading)
    monkeypatch.setattr(load, "_load_rule", no_loading)
    run = PostRenderer(RuleSet((compiled,))).render(STREAM)
    assert not run.failed
    (effect,) = run.effects
    assert effect.volumes == ["rel-db"] and effect.mounts == [("postgresql", "/s/prod")]
    assert json.loads(effect.annotations["pre.hook.backup.velero.io/command"])[-1] == "echo 'rel-db'"
    assert compiled.scratch.name == "{{ resource.name }}", "binding copies the rule, never changes it"


@pytest.mark.parametrize("field, rule_part", [
    ("match.names[0]", {"match": {"kinds": ["StatefulSet"], "names": ["{{ resource.name }}"]}}),
    ("hooks.preBackup.onError", {"hooks": {"preBackup": {"command": ["x"], "onError": "{{ resource.name }}"}}}),
    ("podTemplate", {"podTemplate": "$.spec.{{ resource.name }}"}),
])
def test_resource_placeholders_only_where_they_can_be_bound(field, rule_part):
    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [ruleset({**PG, **rule_part})])
    (problem,) = caught.value.problems
    assert problem.message == "{{ resource.name }} cannot be used here" and problem.location.field == field


def test_shell_variables_pass_through_untouched():
    rule = {**PG, "hooks": {"preBackup": {"script": 'PGPASSWORD="$POSTGRES_PASSWORD" pg_dump ${DB:-app}'}}}
    a = annotations_of(by_kind(render(STREAM, [ruleset(rule)]).text, "StatefulSet")["spec"]["template"])
    assert json.loads(a["pre.hook.backup.velero.io/command"])[-1] == 'PGPASSWORD="$POSTGRES_PASSWORD" pg_dump ${DB:-app}'


@pytest.mark.parametrize("selector, expected", [
    ({"names": ["rel-*"]}, {"StatefulSet", "Deployment", "CronJob", "Pod"}),
    ({"names": ["*-db"], "kinds": ["StatefulSet"]}, {"StatefulSet"}),
    ({"namespaces": ["pr*"]}, {"StatefulSet"}),
    ({"labels": {"app.kubernetes.io/name": "postgresql"}}, {"StatefulSet"}),
    ({"images": ["^nginx:"]}, {"Deployment"}),
    ({"images": ["redis|alpine"]}, {"CronJob", "Pod"}),
    ({"jsonpath": '$[?(@.kind == "Deployment")]'}, {"Deployment"}),
    ({"jsonpath": '$[*].spec.template.spec.containers[?(@.name == "postgresql")]'}, {"StatefulSet"}),
    ({"jsonpath": "$[?(@.spec.replicas > 0)]"}, {"StatefulSet"}),
])
def test_selectors(selector, expected):
    stream = STREAM  # has a Service too: selected only where a selector allows it
    rule = {"name": "r", "match": selector, "hooks": {"preBackup": {"command": ["sync"]}}}
    if selector.get("names") == ["rel-*"]:
        rule["match"] = {**selector, "kinds": ["StatefulSet", "Deployment", "CronJob", "Pod"]}
    result = render(stream, [ruleset(rule)])
    assert {e.resource.kind for e in result.effects} == expected


def test_kind_list_items_are_matched_like_resources():
    items = [d for d in docs(STATEFULSET + SERVICE)]
    stream = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)
    out = yaml.safe_load(render(stream, [ruleset(PG)]).text)
    assert "pre.hook.backup.velero.io/command" in out["items"][0]["spec"]["template"]["metadata"]["annotations"]
    assert out["items"][1] == items[1]


def test_enabled_placeholder_and_params_override():
    rule = {**PG, "enabled": "{{ on }}",
            "scratch": {"mountPath": "/scratch", "volume": {"emptyDir": {"sizeLimit": "{{ size }}"}}}}
    data = ruleset(rule, params={"on": True, "size": "1Gi"})
    assert "sizeLimit: 1Gi" in render(STREAM, [data]).text
    assert "sizeLimit: 2Gi" in render(STREAM, [data], set_values={"size": "2Gi"}).text
    off = render(STREAM, [data], set_values={"on": "false"})
    assert off.text == STREAM and off.effects == []


def test_library_errors_are_values_with_locations():
    with pytest.raises(UsageError):
        render(STREAM, [])
    bad = {**PG, "hooks": {"preBackup": {"script": "x", "timeout": "soon"}}}
    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [ruleset(bad)])
    problem = caught.value.problems[0]
    assert problem.location.rule == "pg" and problem.location.field == "hooks.preBackup.timeout"


def test_bytes_input_and_warnings_on_the_result():
    lonely = {**PG, "name": "lonely", "match": {"kinds": ["DaemonSet"]}}
    result = render(STREAM.encode(), [ruleset(PG, lonely)])
    assert [w.location.rule for w in result.warnings] == ["lonely"]


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("3m", 180), ("1h30m", 5400), ("1.5h", 5400), ("500ms", 0.5), (".5s", 0.5), ("2h45m30.5s", 9930.5),
    ("1us", 1e-6), ("1µs", 1e-6), ("0", 0), ("+5s", 5), ("-5s", -5),
    ("", None), ("5", None), ("5 s", None), ("s", None), ("1d", None), (".s", None), ("1.2.3s", None),
])
def test_go_duration_grammar(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds) if seconds is not None else parse_go_duration(text) is None


def test_library_limits_bound_the_input():
    from postrender.limits import Limits

    with pytest.raises(PostRenderError) as caught:
        render(STREAM, [ruleset(PG)], limits=Limits(max_input_bytes=100))
    assert "--max-input-bytes" in caught.value.problems[0].message
