"""``velero-postrender lint``: rules files checked without manifests, every message at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, run_cli
from typer.testing import CliRunner

from postrender.cli.app import app
from postrender.lint.shell_syntax import shell_syntax_error
from postrender.ruleset.presets import preset_names

HEADER = "apiVersion: velero-postrender/v1\nkind: RuleSet\n"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VELERO_POSTRENDER_RULES", "VELERO_POSTRENDER_PRESETS", "VELERO_POSTRENDER_SET"):
        monkeypatch.delenv(name, raising=False)


def lint(tmp_path: Path, text: str, *args: str) -> tuple[int, list[str], Path]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["lint", str(path), *args])
    return result.exit_code, result.stdout.splitlines(), path


def test_example_and_presets_are_clean() -> None:
    files = [str(p) for p in sorted(EXAMPLES.glob("**/rules*.yaml")) + sorted((ROOT / "rules").glob("*.yaml"))]
    result = run_cli(["lint", *files])
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert " 0 errors" in result.stdout.decode() or result.stdout.decode().endswith(": ok\n")


@pytest.mark.parametrize("name", preset_names() or ["(none shipped)"])
def test_lint_by_preset_name(name: str) -> None:
    if name not in preset_names():
        pytest.skip("no preset is shipped yet")
    result = CliRunner().invoke(app, ["lint", "--preset", name])
    assert result.exit_code == 0, result.stdout


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    code, lines, path = lint(tmp_path, HEADER + """\
rules:
  - name: pg
    mach:
      kinds: [StatefulSet]
    hooks:
      preBackup: {command: [sync]}
""")
    assert code == 1
    assert f"error: {path}:5: rule 'pg': mach: unknown key (did you mean 'match'?)" in lines
    assert f"error: {path}:4: rule 'pg': missing required key 'match'" in lines
    assert lines[-1] == "1 rules file: 2 errors, 1 warning"  # and: the hooks run in the first container


def test_jsonpath_duration_and_regex(tmp_path: Path) -> None:
    code, lines, path = lint(tmp_path, HEADER + """\
rules:
  - name: pg
    match:
      images: ['(unclosed']
      jsonpath: '$[?(@.kind == ]'
    container: db
    hooks:
      preBackup:
        command: [sync]
        timeout: 3x
""")
    assert code == 1
    text = "\n".join(lines)
    assert f"{path}:6: rule 'pg': match.images[0]: invalid regular expression '(unclosed'" in text
    assert f"{path}:7: rule 'pg': match.jsonpath: invalid JSONPath" in text
    assert f"{path}:12: rule 'pg': hooks.preBackup.timeout:" in text and "e.g. 30s, 3m, 1h30m" in text


def test_placeholder_without_value_and_set(tmp_path: Path) -> None:
    text = HEADER + """\
rules:
  - name: pg
    match: {kinds: [StatefulSet]}
    container: "{{ who }}"
    hooks:
      preBackup: {command: [sync]}
"""
    code, lines, path = lint(tmp_path, text)
    assert code == 1
    assert (f"error: {path}:6: rule 'pg': container: placeholder {{{{ who }}}} has no value "
            "(add it to params or pass --set who=VALUE)") in lines
    code, lines, _ = lint(tmp_path, text, "--set", "who=postgresql")
    assert code == 0 and lines == ["1 rules file: ok"]


def test_shell_syntax_of_scripts_is_checked_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    code, lines, path = lint(tmp_path, HEADER + f"""\
rules:
  - name: pg
    match: {{kinds: [StatefulSet]}}
    container: db
    hooks:
      preBackup:
        script: |
          touch {marker}
          if [ -f /x ]; then
            echo yes
      postRestore:
        command: ["/bin/bash", "-c", "touch {marker}; echo $((1 + )"]
        waitTimeout: 5m
      postBackup:
        script: touch {marker}; echo fine
""")
    assert code == 1
    assert not marker.exists(), "lint must parse scripts, never execute them"
    sh_error = next(line for line in lines if "preBackup.script" in line)
    assert sh_error.startswith(f"error: {path}:12: rule 'pg': hooks.preBackup.script: shell syntax error (sh -n):")
    assert "(the script was only parsed, never run)" in sh_error
    bash_error = next(line for line in lines if "postRestore" in line)
    assert bash_error.startswith(f"error: {path}:14: rule 'pg': hooks.postRestore.command[2]: shell syntax error (bash -n):")
    assert not any("postBackup" in line for line in lines)


def test_shell_syntax_error_helper() -> None:
    assert shell_syntax_error("echo ok\n", "/bin/sh") is None
    line, message = shell_syntax_error("echo ok\nif true; then\n", "/bin/sh") or (None, "")
    assert line is not None and line >= 2 and message
    assert shell_syntax_error("anything (", "/usr/bin/python3") is None  # not a shell: not checked


def test_hook_container_left_to_the_first_container(tmp_path: Path) -> None:
    code, lines, path = lint(tmp_path, HEADER + """\
rules:
  - name: app
    match: {kinds: [Deployment]}
    hooks:
      preBackup:
        container: app
        command: [sync]
      postRestore:
        command: [sync]
        waitTimeout: 5m
""")
    assert code == 0, "warnings only"
    assert (f"warning: {path}:10: rule 'app': hooks.postRestore: this hook runs in the pod's first container, "
            "while hooks.preBackup runs in 'app' (set container: app on the rule, the default of every hook, "
            "or on this hook)") in lines
    assert lines[-1] == "1 rules file: 0 errors, 1 warning"


def test_no_container_and_no_images(tmp_path: Path) -> None:
    code, lines, path = lint(tmp_path, HEADER + """\
rules:
  - name: app
    match: {kinds: [Deployment]}
    hooks:
      preBackup: {command: [sync]}
""")
    assert code == 0
    assert any(line.startswith(f"warning: {path}:6: rule 'app': hooks: the hooks run in the pod's first container")
               for line in lines)
    code, lines, _ = lint(tmp_path, HEADER + """\
rules:
  - name: app
    match: {kinds: [Deployment], images: ['/app:']}
    hooks:
      preBackup: {command: [sync]}
""")
    assert code == 0 and lines == ["1 rules file: ok"]


def test_duplicate_rule_names_across_files_and_missing_files(tmp_path: Path) -> None:
    rule = HEADER + "rules:\n  - name: same\n    match: {kinds: [Pod]}\n    container: c\n    hooks:\n" \
        "      preBackup: {command: [sync]}\n"
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(rule)
    second.write_text(rule)
    result = CliRunner().invoke(app, ["lint", str(first), str(second), str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1
    assert f"error: {second}:4: rule 'same': name: rule name is already used at {first}:4" in result.stdout
    assert f"error: {tmp_path / 'missing.yaml'}: rules file not found" in result.stdout


def test_usage_and_yaml_errors(tmp_path: Path) -> None:
    result = run_cli(["lint"])
    assert result.returncode == 2 and b"lint needs at least one rules FILE" in result.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(HEADER + "rules:\n  - name: [unclosed\n")
    result = run_cli(["lint", str(broken)])
    assert result.returncode == 1
    assert f"error: {broken}:".encode() in result.stdout
    assert b"Traceback" not in result.stderr


# --- new checks, JSON, --velero-policy, bounded reads -------------------------------------------------

RESTORE_RULE = HEADER + """\
rules:
  - name: pg
    match: {kinds: [StatefulSet]}
    container: db
    scratch: {mountPath: /scratch}
    hooks:
      postRestore:
        script: |
          [ -f /scratch/dump ] && psql -f /scratch/dump
"""


def test_new_checks_reach_the_command_line(tmp_path: Path) -> None:
    code, lines, path = lint(tmp_path, RESTORE_RULE)
    assert code == 0, "warnings only"
    assert lines[0].startswith(f"warning: {path}:9: rule 'pg': hooks.postRestore: the postRestore hook has no waitTimeout")
    assert lines[1].startswith(f"warning: {path}:11: rule 'pg': hooks.postRestore.script: the script exits 1 when "
                               "`[ -f /scratch/dump ]` is false")
    assert lines[-1] == "1 rules file: 0 errors, 2 warnings"
    code, lines, _ = lint(tmp_path, RESTORE_RULE, "--disable", "restore-wait-timeout", "--disable", "restore-exit-status")
    assert code == 0 and lines == ["1 rules file: ok"]
    code, lines, _ = lint(tmp_path, RESTORE_RULE, "--check-option", "restore-exit-status.conditions=grep",
                          "--disable", "restore-wait-timeout")
    assert code == 0 and lines == ["1 rules file: ok"]


def test_unknown_check_names_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RESTORE_RULE)
    for args in (["--disable", "nope"], ["--check-option", "shell-syntax.nope=1"],
                 ["--check-option", "shell-syntax.timeout=soon"]):
        result = run_cli(["lint", str(path), *args])
        assert result.returncode == 2 and result.stdout == b"", result.stderr
        assert b"Traceback" not in result.stderr


def test_json_output_shape(tmp_path: Path) -> None:
    import json

    path = tmp_path / "r.yaml"
    path.write_text(RESTORE_RULE.replace("container: db", "container: db\n    mach: {}"))
    result = run_cli(["lint", str(path), "-o", "json"])
    assert result.returncode == 1
    document = json.loads(result.stdout)  # stdout is only the JSON document
    assert document["version"] == 1 and document["files"] == [str(path)]
    assert document["summary"] == {"files": 1, "errors": 1, "warnings": 2, "ok": False}
    first = document["problems"][0]
    assert first == {"severity": "error", "message": "unknown key", "hint": "did you mean 'match'?",
                     "location": {"file": str(path), "line": 7, "rule": "pg", "field": "mach", "document": None,
                                  "resource": None}, "check": "load"}
    assert [p["check"] for p in document["problems"][1:]] == ["restore-wait-timeout", "restore-exit-status"]
    clean = run_cli(["lint", "--output", "json", "--preset", "postgresql"])
    assert json.loads(clean.stdout)["summary"]["ok"] is True


def test_list_checks(tmp_path: Path) -> None:
    import json

    from postrender.lint import CHECKS

    result = run_cli(["lint", "--list-checks"])
    assert result.returncode == 0
    text = result.stdout.decode()
    for check in CHECKS:
        assert check.id in text and check.summary in text
    assert "option timeout (int, default 10)" in text
    listed = json.loads(run_cli(["lint", "--list-checks", "-o", "json"]).stdout)
    assert [c["id"] for c in listed["checks"]] == [c.id for c in CHECKS]


def test_velero_policy(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata:\n  policies.yaml: |\n"
                      "    version: v1\n    volumePolicies:\n      - conditions: {volumeTypes: [emptyDir]}\n"
                      "        action: {type: skip}\n")
    rules = RESTORE_RULE.replace("scratch: {mountPath: /scratch}",
                                 "scratch: {mountPath: /scratch}\n    backupVolumes: [data]")
    code, lines, path = lint(tmp_path, rules, "--velero-policy", str(policy), "--disable", "restore-exit-status",
                             "--disable", "restore-wait-timeout")
    assert code == 0
    assert lines[0] == (
        f"warning: {path}:7: rule 'pg': scratch: the Velero volume policy at {policy}:8 skips the scratch volume "
        "'velero-scratch' (emptyDir): it is not backed up, whatever backup.velero.io/backup-volumes says (volume "
        "policies come first; put a policy with action fs-backup that matches this volume before it, or narrow "
        "that policy's conditions)")
    assert lines[1].startswith(f"warning: {path}:8: rule 'pg': backupVolumes[0]: the Velero volume policy at {policy}:8 "
                               "may skip backupVolumes volume 'data' (its source is not known here) if it matches "
                               "volumeTypes: emptyDir")
    assert lines[-1] == "1 rules file: 0 errors, 2 warnings"
    policy.write_text("version: v2\nvolumePolicies: []\n")
    code, lines, _ = lint(tmp_path, rules, "--velero-policy", str(policy))
    assert code == 1
    assert f"error: {policy}:1: version must be v1, not 'v2': Velero refuses the document" in lines


@pytest.mark.parametrize("args", [["lint", "/dev/zero"], ["lint", "--rules", "/dev/zero"],
                                  ["lint", "--preset", "postgresql", "--velero-policy", "/dev/zero"]])
def test_endless_files_are_refused_quickly(args: list[str]) -> None:
    import time

    started = time.monotonic()
    result = run_cli(args, env={"VELERO_POSTRENDER_MAX_INPUT_BYTES": "64Ki"})
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    assert b"/dev/zero:1: input holds a NUL byte at offset 0" in result.stdout  # refused at the first chunk
    assert b"Traceback" not in result.stderr


def test_a_misspelt_check_name_gets_a_did_you_mean() -> None:
    from conftest import run_cli

    result = run_cli(["lint", "--preset", "postgresql", "--disable", "shell-syntx"])
    assert result.returncode == 2 and result.stdout == b""
    assert b"no such check (did you mean 'shell-syntax'? see --list-checks)" in result.stderr
    far = run_cli(["lint", "--preset", "postgresql", "--disable", "zzz"])
    assert far.returncode == 2 and b"did you mean" not in far.stderr
