"""Every validation error and conflict, through the real command line.

Each test checks the exit code, that stdout stays empty, and the wording of the message
(file, rule, document, field).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import run_cli
from manifests import CUSTOM, STATEFULSET, STREAM, ruleset

PG_RULE = {
    "name": "pg",
    "match": {"kinds": ["StatefulSet"], "images": ["postgres:"]},
    "scratch": {"name": "scratch", "mountPath": "/scratch"},
    "hooks": {"preBackup": {"script": "pg_dumpall > /scratch/all.sql", "timeout": "3m"}},
}


def write_rules(tmp_path: Path, data: object, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def fails(result, *fragments: str, code: int = 1) -> str:
    """Assert a clean failure and return stderr."""
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert result.stdout == b""
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in:\n{err}"
    return err


def run_rules(tmp_path: Path, rules: object, stream: str = STREAM, *extra: str):
    return run_cli(["--rules", str(write_rules(tmp_path, rules)), *extra], stream)


# --- usage errors (exit 2) ---------------------------------------------------------------

def test_no_rules_at_all_is_a_usage_error():
    fails(run_cli([], STREAM), "no rules given", code=2)


def test_unknown_flag_is_a_usage_error():
    fails(run_cli(["--rulez", "x"], STREAM), "No such option", code=2)


def test_malformed_set_is_a_usage_error(tmp_path):
    fails(run_cli(["--rules", str(write_rules(tmp_path, ruleset(PG_RULE))), "--set", "novalue"], STREAM),
          "--set 'novalue': expected KEY=VALUE", code=2)


# --- rules files -------------------------------------------------------------------------

def test_missing_rules_file(tmp_path):
    fails(run_cli(["--rules", str(tmp_path / "nope.yaml")], STREAM), "nope.yaml", "rules file not found")


def test_unknown_preset_lists_the_available_ones():
    fails(run_cli(["--preset", "no-such-db"], STREAM), "no preset named 'no-such-db'", "available:")


def test_unknown_key_says_where_and_suggests_the_fix(tmp_path):
    rule = {**PG_RULE, "hooks": {"preBackup": {"script": "x", "timeuot": "3m"}}}
    err = fails(run_rules(tmp_path, ruleset(rule)), "rules.yaml:", "rule 'pg'", "hooks.preBackup.timeuot",
                "unknown key", "did you mean 'timeout'?")
    assert err.count("error:") == 1


def test_yaml_syntax_error_in_rules_has_the_line(tmp_path):
    fails(run_rules(tmp_path, "apiVersion: velero-postrender/v1\nrules: [\n"), "rules.yaml:3")


def test_duplicate_keys_in_rules_are_refused(tmp_path):
    text = "apiVersion: velero-postrender/v1\nkind: RuleSet\nkind: RuleSet\nrules: []\n"
    fails(run_rules(tmp_path, text), "rules.yaml:3", "duplicate key 'kind'")


def test_python_tags_in_rules_are_refused(tmp_path):
    text = "apiVersion: !!python/object/apply:os.system ['true']\nkind: RuleSet\nrules: []\n"
    fails(run_rules(tmp_path, text), "rules.yaml:1", "not allowed")


@pytest.mark.parametrize("timeout, message", [
    ("3x", "'3x' is not a Go duration"),
    ("0s", "'0s' is zero"),
    ("3 m", "'3 m' is not a Go duration"),
])
def test_durations_follow_go_and_must_be_positive(tmp_path, timeout, message):
    rule = {**PG_RULE, "hooks": {"preBackup": {"script": "x", "timeout": timeout}}}
    fails(run_rules(tmp_path, ruleset(rule)), "rule 'pg'", "hooks.preBackup.timeout", message)


def test_timeout_on_post_restore_is_refused_with_the_right_key(tmp_path):
    rule = {**PG_RULE, "hooks": {"postRestore": {"script": "x", "timeout": "1m"}}}
    fails(run_rules(tmp_path, ruleset(rule)), "hooks.postRestore.timeout", "unknown key", "execTimeout")


def test_unknown_placeholder(tmp_path):
    rule = {**PG_RULE, "scratch": {"mountPath": "/scratch", "volume": {"emptyDir": {"sizeLimit": "{{ size }}"}}}}
    fails(run_rules(tmp_path, ruleset(rule)), "rule 'pg'", "scratch.volume.emptyDir.sizeLimit",
          "placeholder {{ size }} has no value", "--set size=VALUE")


def test_placeholder_value_from_set_is_checked_too(tmp_path):
    rule = {**PG_RULE, "hooks": {"preBackup": {"script": "x", "timeout": "{{ t }}"}}}
    fails(run_rules(tmp_path, ruleset(rule, params={"t": "3m"}), STREAM, "--set", "t=forever"),
          "'forever' is not a Go duration")


def test_invalid_on_error(tmp_path):
    rule = {**PG_RULE, "hooks": {"preBackup": {"script": "x", "onError": "fail"}}}
    fails(run_rules(tmp_path, ruleset(rule)), "hooks.preBackup.onError", "Continue, Fail")


def test_command_and_script_together(tmp_path):
    rule = {**PG_RULE, "hooks": {"preBackup": {"script": "x", "command": ["y"]}}}
    fails(run_rules(tmp_path, ruleset(rule)), "hooks.preBackup", "exactly one of command or script")


def test_match_needs_a_selector(tmp_path):
    fails(run_rules(tmp_path, ruleset({**PG_RULE, "match": {}})), "rule 'pg'", "match", "at least one selector")


def test_bad_regex_and_bad_jsonpath_are_both_reported(tmp_path):
    rule = {**PG_RULE, "match": {"images": ["postgres(("], "jsonpath": "$[?(@.kind =="}}
    err = fails(run_rules(tmp_path, ruleset(rule)), "match.images[0]", "invalid regular expression",
                "match.jsonpath", "invalid JSONPath")
    assert err.count("error:") == 2


def test_duplicate_rule_names_across_files(tmp_path):
    first = write_rules(tmp_path, ruleset(PG_RULE), "a.yaml")
    second = write_rules(tmp_path, ruleset(PG_RULE), "b.yaml")
    fails(run_cli(["--rules", str(first), "--rules", str(second)], STREAM), "b.yaml:", "rule 'pg'",
          "already used at", "a.yaml")


def test_all_rule_problems_of_a_run_are_listed_together(tmp_path):
    bad = {**PG_RULE, "hooks": {"preBackup": {"script": "x", "timeout": "nope"}}}
    worse = {**PG_RULE, "name": "pg2", "overwrite": "maybe"}
    err = fails(run_rules(tmp_path, ruleset(bad, worse)), "rule 'pg'", "rule 'pg2'")
    assert err.count("error:") == 2


# --- manifests ---------------------------------------------------------------------------

def test_malformed_manifest_yaml_says_document_and_stream_line(tmp_path):
    stream = STATEFULSET + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n"
    err = fails(run_rules(tmp_path, ruleset(PG_RULE), stream), "document 2", "malformed YAML")
    line = STATEFULSET.count("\n") + 4
    assert f"line {line}" in err or f"line {line + 1}" in err


def test_a_document_that_is_not_a_mapping(tmp_path):
    fails(run_rules(tmp_path, ruleset(PG_RULE), STATEFULSET + "---\n- a\n- b\n"), "document 2", "not a mapping")


def test_unknown_kind_without_pod_template(tmp_path):
    rule = {**PG_RULE, "match": {"kinds": ["Workload"]}}
    fails(run_rules(tmp_path, ruleset(rule), CUSTOM), "document 1", "Workload rel-custom", "rule 'pg'",
          "kind Workload has no known pod template", "podTemplate")


# --- merge conflicts -----------------------------------------------------------------------

def test_hook_container_that_does_not_exist_lists_the_containers(tmp_path):
    rule = {**PG_RULE, "hooks": {"preBackup": {"script": "x", "container": "db"}}}
    fails(run_rules(tmp_path, ruleset(rule)), "document 1", "StatefulSet prod/rel-db", "rule 'pg'",
          "hooks.preBackup.container", "container 'db' is not in spec.containers",
          "hooks run only in spec.containers: exporter, postgresql")


def test_hook_in_an_init_container_is_refused(tmp_path):
    fails(run_rules(tmp_path, ruleset({**PG_RULE, "container": "init-chmod"})),
          "container 'init-chmod' is an init container", "exporter, postgresql")


def test_scratch_volume_with_another_definition(tmp_path):
    rule = {**PG_RULE, "scratch": {"name": "config", "mountPath": "/scratch"}}
    fails(run_rules(tmp_path, ruleset(rule)), "rule 'pg'", "scratch.volume",
          "pod volume 'config' already exists with another definition")


def test_mount_path_taken_by_another_volume(tmp_path):
    rule = {**PG_RULE, "scratch": {"mountPath": "/var/lib/postgresql/data"}}
    fails(run_rules(tmp_path, ruleset(rule)), "scratch.mountPath",
          "container 'postgresql' already mounts volume 'data' at /var/lib/postgresql/data")


def test_existing_velero_annotation_with_another_value(tmp_path):
    stream = STATEFULSET.replace(
        "    metadata:\n      labels:\n",
        "    metadata:\n      annotations:\n        pre.hook.backup.velero.io/timeout: 1m\n      labels:\n", 1)
    fails(run_rules(tmp_path, ruleset(PG_RULE), stream), "rule 'pg'",
          "annotation pre.hook.backup.velero.io/timeout is already '1m'", "overwrite: true")
    ok = run_rules(tmp_path, ruleset({**PG_RULE, "overwrite": True}), stream)
    assert ok.returncode == 0, ok.stderr.decode()
    assert "pre.hook.backup.velero.io/timeout: 3m" in ok.stdout.decode()


def test_two_rules_setting_the_same_phase_name_both(tmp_path):
    other = {**PG_RULE, "name": "pg-again", "scratch": {"name": "scratch", "mountPath": "/scratch"}}
    fails(run_rules(tmp_path, ruleset(PG_RULE, other)), "rules 'pg' and 'pg-again' both set the preBackup hook")


def test_backup_volume_names_must_be_pod_volumes(tmp_path):
    rule = {**PG_RULE, "backupVolumes": ["data-rel-db-0"]}
    fails(run_rules(tmp_path, ruleset(rule)), "backupVolumes", "volume 'data-rel-db-0' is not a volume of the pod",
          "not PVC names")


def test_a_volume_in_both_lists(tmp_path):
    fails(run_rules(tmp_path, ruleset({**PG_RULE, "backupVolumes": ["data"], "excludeVolumes": ["data"]})),
          "rule 'pg'", "volume 'data' is both in backupVolumes and excludeVolumes")
    stream = STATEFULSET.replace(
        "    metadata:\n      labels:\n",
        "    metadata:\n      annotations:\n        backup.velero.io/backup-volumes-excludes: data\n      labels:\n", 1)
    fails(run_rules(tmp_path, ruleset({**PG_RULE, "backupVolumes": ["data"]}), stream),
          "volume 'data' would be in both")


# --- matching nothing ------------------------------------------------------------------------

def test_no_resource_matched_is_an_error_unless_allowed(tmp_path):
    rule = {**PG_RULE, "match": {"kinds": ["DaemonSet"]}}
    fails(run_rules(tmp_path, ruleset(rule)), "no rule matched any resource", "--allow-unmatched")
    allowed = run_rules(tmp_path, ruleset(rule), STREAM, "--allow-unmatched")
    assert allowed.returncode == 0
    assert allowed.stdout.decode() == STREAM
    assert "matched no resource" in allowed.stderr.decode()


def test_one_unmatched_rule_is_a_warning_and_strict_makes_it_an_error(tmp_path):
    lonely = {**PG_RULE, "name": "lonely", "match": {"kinds": ["DaemonSet"]}}
    ok = run_rules(tmp_path, ruleset(PG_RULE, lonely))
    assert ok.returncode == 0
    assert "warning:" in ok.stderr.decode() and "rule 'lonely'" in ok.stderr.decode()
    fails(run_rules(tmp_path, ruleset(PG_RULE, lonely), STREAM, "--strict"), "rule 'lonely'", "matched no resource")


def test_empty_input_gives_empty_output(tmp_path):
    result = run_rules(tmp_path, ruleset(PG_RULE), "")
    assert result.returncode == 0
    assert result.stdout == b""


def test_empty_input_under_helm4_gives_a_comment_line(tmp_path):
    result = run_cli(["--rules", str(write_rules(tmp_path, ruleset(PG_RULE)))], "",
                     env={"HELM_PLUGIN_NAME": "velero-postrender"})
    assert result.returncode == 0
    assert result.stdout.startswith(b"#") and result.stdout.count(b"\n") == 1


# --- warnings --------------------------------------------------------------------------------

def test_warning_for_a_variable_the_container_does_not_define(tmp_path):
    rule = {**PG_RULE, "hooks": {"preBackup": {"script": "PGPASSWORD=$POSTGRES_PASSWORD pg_dump -U $PGUSER"}}}
    result = run_rules(tmp_path, ruleset(rule))
    assert result.returncode == 0
    err = result.stderr.decode()
    assert "warning:" in err and "$PGUSER" in err and "POSTGRES_PASSWORD" not in err


def test_warning_for_memory_scratch_above_the_memory_limit(tmp_path):
    rule = {**PG_RULE, "scratch": {"mountPath": "/scratch",
                                   "volume": {"emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}}}
    result = run_rules(tmp_path, ruleset(rule))
    assert result.returncode == 0
    assert "sizeLimit 1Gi is above container 'postgresql''s memory limit 512Mi" in result.stderr.decode()


@pytest.mark.parametrize("text, fragment", [
    ("a: !!int\n", "cannot read rules file"),  # as the atheris run found: PyYAML raised IndexError
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n", "aliases expand to more than"),
])
def test_odd_and_hostile_rules_files_are_refused_cleanly(tmp_path, text, fragment):
    fails(run_rules(tmp_path, text), "rules.yaml", fragment)
    lint = run_cli(["lint", str(tmp_path / "rules.yaml")])
    assert lint.returncode == 1 and "Traceback" not in lint.stderr.decode() + lint.stdout.decode()
