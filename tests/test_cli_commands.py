"""The subcommands explain, diff, presets and schema, and --help/--version/completion, driven
through Typer's runner (in process) and as a real subprocess (as a user runs them)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, ROOT, run_cli
from typer.testing import CliRunner

from postrender.cli.app import app
from postrender.cli.common import ColorMode, use_color
from postrender.ruleset.presets import preset_names, preset_path
from postrender.stream.emit import dump_data
from postrender.stream.split import split
from postrender.writers.diff import unified_diff

REFERENCE_RULES = EXAMPLES / "reference" / "rules.yaml"
REFERENCE_MANIFESTS = EXAMPLES / "reference" / "postgresql-8.7.4.yaml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COMMANDS = ["explain", "diff", "lint", "presets", "schema"]

MISSES = """\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: mysql
    match:
      kinds: [StatefulSet]
      images: ['(^|/)mysql[:@]']
    hooks:
      preBackup: {command: [sync]}
  - name: redis
    match:
      kinds: [Deployment]
    hooks:
      preBackup: {command: [sync]}
  - name: prod-only
    match:
      namespaces: [prod]
    hooks:
      preBackup: {command: [sync]}
"""

CONFLICT = """\
apiVersion: velero-postrender/v1
kind: RuleSet
rules:
  - name: other-dump
    match:
      kinds: [StatefulSet]
    container: postgresql
    hooks:
      preBackup: {command: [sync]}
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VELERO_POSTRENDER_RULES", "VELERO_POSTRENDER_PRESETS", "VELERO_POSTRENDER_SET",
                 "HELM_PLUGIN_NAME", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def manifests() -> str:
    return REFERENCE_MANIFESTS.read_text(encoding="utf-8")


# --- help, version, completion ------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.stdout
    assert f"velero-postrender {command}" in result.stdout


def test_root_help_lists_commands_and_examples() -> None:
    result = run_cli(["--help"])
    assert result.returncode == 0
    text = result.stdout.decode()
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", text, re.MULTILINE), command
    assert "Examples:" in text and "--post-renderer velero-postrender" in text


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(runner: CliRunner, flag: str) -> None:
    from postrender import __version__

    assert runner.invoke(app, [flag]).stdout == f"velero-postrender {__version__}\n"
    result = run_cli([flag])
    assert result.returncode == 0 and result.stdout.decode().strip() == f"velero-postrender {__version__}"
    assert run_cli(["-r", "rules.yaml", flag]).stdout == result.stdout  # eager: before anything is read


def test_show_completion_prints_a_bash_script() -> None:
    """Whatever shell runs it (here: none; before, the SHELL argument was ignored and detection failed)."""
    env = {"PATH": "/usr/bin:/bin"}
    for argv in ([sys.executable, "-m", "postrender"],
                 [sys.executable, "-c", "from postrender.cli.app import run_app; import sys; run_app(sys.argv[1:])"]):
        result = subprocess.run([*argv, "--show-completion", "bash"], capture_output=True, text=True, cwd=ROOT,
                                env=env, stdin=subprocess.DEVNULL, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "_VELERO_POSTRENDER_COMPLETE=complete_bash" in result.stdout
        assert "complete -o default -F _velero_postrender_completion velero-postrender" in result.stdout


@pytest.mark.parametrize(("words", "expected"), [("velero-postrender ex", "explain"),
                                                 ("velero-postrender lint --pre", "--preset")])
def test_bash_completion_completes_commands_and_options(words: str, expected: str) -> None:
    env = {"_VELERO_POSTRENDER_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - 1), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", "from postrender.cli.app import app; app(prog_name='velero-postrender')"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert expected in result.stdout.split()


# --- explain ----------------------------------------------------------------------------

def test_explain_reference_lists_what_the_rule_added(runner: CliRunner) -> None:
    result = runner.invoke(app, ["explain", "--rules", str(REFERENCE_RULES), "--file", str(REFERENCE_MANIFESTS)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert not ANSI.search(out), "plain text when stdout is not a terminal"
    row = next(line for line in out.splitlines() if line.startswith("4 "))
    assert re.match(r"4\s+StatefulSet\s+postgresql-postgresql\s+postgres\s+backup\.velero\.io/backup-volumes: backup"
                    r"\s+backup\s+postgresql:/scratch$", row), row
    for annotation in ("pre.hook.backup.velero.io/command", "pre.hook.backup.velero.io/timeout: 3m",
                       "post.hook.restore.velero.io/on-error: Continue"):
        assert annotation in out
    assert "1 of 4 resources changed by 1 rule; 0 rules matched nothing" in out
    # the only warning: the reference rules' restore hook has no waitTimeout (lint's check, in explain too)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "hooks.postRestore: the postRestore hook has no waitTimeout" in lines[0], lines


def test_explain_wide_shows_full_values(runner: CliRunner) -> None:
    args = ["explain", "-r", str(REFERENCE_RULES), "-f", str(REFERENCE_MANIFESTS)]
    short = runner.invoke(app, args).stdout
    wide = runner.invoke(app, [*args, "--wide"]).stdout
    assert "pg_dump -U username" not in short and "PGPASSWORD=$POST..." in short
    assert "pg_dump -U username -d dbname -h 127.0.0.1 > /scratch/backup.sql" in wide


def test_explain_shows_near_misses_without_allow_unmatched(runner: CliRunner, tmp_path: Path) -> None:
    rules = write(tmp_path, "misses.yaml", MISSES)
    result = runner.invoke(app, ["explain", "-r", str(rules)], input=manifests())
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "No resource was changed." in out
    assert "Rules that matched nothing (3)" in out
    assert f"mysql ({rules}:4)" in out
    assert ("StatefulSet postgresql-postgresql (document 4): kind StatefulSet matched, images did not: "
            "docker.io/bitnami/postgresql:11.7.0-debian-10-r71 vs (^|/)mysql[:@]") in out
    assert "no resource of kind Deployment; kinds in the input: Secret, Service, StatefulSet" in out
    assert "no resource in namespace prod; namespaces in the input: (none)" in out
    assert "0 of 4 resources changed by 0 rules; 3 rules matched nothing" in out


def test_explain_near_miss_names_the_failed_selector_after_several_held(runner: CliRunner, tmp_path: Path) -> None:
    rules = write(tmp_path, "r.yaml", MISSES.replace("kinds: [StatefulSet]\n      images",
                                                     "kinds: [StatefulSet]\n      names: ['postgresql-*']\n      images"))
    out = runner.invoke(app, ["explain", "-r", str(rules)], input=manifests()).stdout
    assert "kind StatefulSet matched, name postgresql-postgresql matched" not in out
    assert "kind StatefulSet, name postgresql-postgresql matched, images did not:" in out


def test_explain_lists_disabled_rules(runner: CliRunner) -> None:
    result = runner.invoke(app, ["explain", "-r", str(REFERENCE_RULES), "--set", "embedded=false"], input=manifests())
    assert result.exit_code == 0, result.output
    assert "Disabled rules (1)" in result.stdout
    assert f"postgres ({REFERENCE_RULES}:10): enabled is false" in result.stdout


def test_explain_shows_a_conflict_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    other = write(tmp_path, "other.yaml", CONFLICT)
    result = runner.invoke(app, ["explain", "-r", str(REFERENCE_RULES), "-r", str(other)], input=manifests())
    assert result.exit_code == 1
    assert "(not applied: see the errors)" in result.stdout
    assert "rules 'postgres' and 'other-dump' both set the preBackup hook" in result.stderr
    assert "document 4 (StatefulSet postgresql-postgresql" in result.stderr


def test_explain_coloured_table_with_rich(runner: CliRunner) -> None:
    result = runner.invoke(app, ["explain", "-r", str(REFERENCE_RULES), "--color", "always"], input=manifests(),
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert ANSI.search(result.stdout)
    assert "┃" in result.stdout and "postgresql-postgresql" in result.stdout


def test_explain_invalid_input_and_missing_rules(runner: CliRunner) -> None:
    bad = runner.invoke(app, ["explain", "-r", str(REFERENCE_RULES)], input="kind: Pod\nmetadata: [\n")
    assert bad.exit_code == 1 and bad.stdout == ""
    assert "document 1" in bad.stderr
    missing_file = runner.invoke(app, ["explain", "-r", str(REFERENCE_RULES), "-f", "/nonexistent/m.yaml"])
    assert missing_file.exit_code == 1 and "/nonexistent/m.yaml: manifest file not found" in missing_file.stderr
    no_rules = runner.invoke(app, ["explain"], input=manifests())
    assert no_rules.exit_code == 2 and "no rules given" in no_rules.stderr


def test_explain_as_a_subprocess() -> None:
    result = run_cli(["explain", "--rules", str(REFERENCE_RULES)], stdin=REFERENCE_MANIFESTS.read_bytes())
    assert result.returncode == 0, result.stderr
    assert b"postgresql:/scratch" in result.stdout and b"\x1b[" not in result.stdout


def test_color_decision_follows_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal:
        def isatty(self) -> bool:
            return True

    class Pipe:
        def isatty(self) -> bool:
            return False

    assert use_color(ColorMode.auto, Terminal()) is True  # type: ignore[arg-type]
    assert use_color(ColorMode.auto, Pipe()) is False  # type: ignore[arg-type]
    assert use_color(ColorMode.always, Pipe()) is True  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(ColorMode.auto, Terminal()) is False  # type: ignore[arg-type]
    assert use_color(ColorMode.never, Terminal()) is False  # type: ignore[arg-type]


# --- explain -o json ----------------------------------------------------------------------

EXPLAIN_KEYS = ["version", "resources", "changed", "unchanged", "unmatched", "disabled", "problems"]
EFFECT_KEYS = ["document", "item", "kind", "namespace", "name", "rule", "annotations", "volumes", "mounts"]
PROBLEM_KEYS = ["severity", "message", "hint", "location"]
LOCATION_KEYS = ["file", "line", "rule", "field", "document", "resource"]


def explain_json(args: list[str], stdin: str | None = None) -> tuple[int, dict[str, object], str]:
    """Run ``explain -o json`` as a user does; stdout must be exactly one JSON document."""
    result = run_cli(["explain", "-o", "json", *args], stdin=manifests() if stdin is None else stdin)
    return result.returncode, json.loads(result.stdout.decode()), result.stderr.decode()


def test_explain_json_reference() -> None:
    code, document, stderr = explain_json(["-r", str(REFERENCE_RULES)])
    assert (code, stderr) == (0, "")
    assert list(document) == EXPLAIN_KEYS
    assert document["version"] == 1 and document["resources"] == 4
    [changed] = document["changed"]  # type: ignore[misc]
    assert list(changed) == EFFECT_KEYS
    assert {key: changed[key] for key in ("document", "item", "kind", "namespace", "name", "rule")} == {
        "document": 4, "item": None, "kind": "StatefulSet", "namespace": None, "name": "postgresql-postgresql",
        "rule": "postgres"}
    assert changed["volumes"] == ["backup"]
    assert changed["mounts"] == [{"container": "postgresql", "mountPath": "/scratch"}]
    command = json.loads(changed["annotations"]["pre.hook.backup.velero.io/command"])  # in full, not shortened
    assert command[-1] == "PGPASSWORD=$POSTGRES_PASSWORD pg_dump -U username -d dbname -h 127.0.0.1 > /scratch/backup.sql"
    assert changed["annotations"]["pre.hook.backup.velero.io/timeout"] == "3m"
    assert document["unchanged"] == document["unmatched"] == document["disabled"] == []
    assert [p["location"]["field"] for p in document["problems"]] == ["hooks.postRestore"]  # no waitTimeout


def test_explain_json_agrees_with_the_text_output(runner: CliRunner, tmp_path: Path) -> None:
    rules = write(tmp_path, "misses.yaml", MISSES)
    code, document, _ = explain_json(["-r", str(rules), "-r", str(REFERENCE_RULES), "--set", "embedded=false"])
    assert code == 0
    assert [miss["rule"] for miss in document["unmatched"]] == ["mysql", "redis", "prod-only"]  # type: ignore[index]
    mysql = document["unmatched"][0]  # type: ignore[index]
    assert (mysql["source"], mysql["line"]) == (str(rules), 4)
    assert mysql["reasons"] == [
        "StatefulSet postgresql-postgresql (document 4): kind StatefulSet matched, images did not: "
        "docker.io/bitnami/postgresql:11.7.0-debian-10-r71 vs (^|/)mysql[:@]"]
    assert document["disabled"] == [{"rule": "postgres", "source": str(REFERENCE_RULES), "line": 10}]
    text = runner.invoke(app, ["explain", "-r", str(rules), "-r", str(REFERENCE_RULES), "--set", "embedded=false"],
                         input=manifests()).stdout
    for miss in document["unmatched"]:  # type: ignore[attr-defined]
        assert f"{miss['rule']} ({miss['source']}:{miss['line']})" in text
        for reason in miss["reasons"]:
            assert f"    - {reason}" in text


def test_explain_json_conflict_is_inside_the_document_and_exits_1(tmp_path: Path) -> None:
    other = write(tmp_path, "other.yaml", CONFLICT)
    code, document, stderr = explain_json(["-r", str(REFERENCE_RULES), "-r", str(other)])
    assert code == 1 and stderr == ""
    errors = [p for p in document["problems"] if p["severity"] == "error"]  # type: ignore[attr-defined]
    assert errors and all(list(p) == PROBLEM_KEYS and list(p["location"]) == LOCATION_KEYS for p in errors)
    assert "rules 'postgres' and 'other-dump' both set the preBackup hook" in errors[0]["message"]
    assert errors[0]["location"]["document"] == 4
    assert {"reason": "not applied", "document": 4} .items() <= document["unchanged"][0].items()  # type: ignore[index]


def test_explain_json_when_the_rules_or_the_input_cannot_be_read() -> None:
    code, document, stderr = explain_json(["-r", "/nonexistent/rules.yaml"])
    assert code == 1 and stderr == ""
    assert document["resources"] == 0 and document["changed"] == []
    [problem] = document["problems"]  # type: ignore[misc]
    assert problem["severity"] == "error" and problem["location"]["file"] == "/nonexistent/rules.yaml"
    code, document, stderr = explain_json(["-r", str(REFERENCE_RULES)], stdin="kind: Pod\nmetadata: [\n")
    assert code == 1 and stderr == "" and document["problems"][0]["location"]["document"] == 1  # type: ignore[index]


def test_explain_json_usage_error_is_not_a_document() -> None:
    result = run_cli(["explain", "-o", "json"], stdin=manifests())
    assert result.returncode == 2 and result.stdout == b""
    assert "no rules given" in result.stderr.decode()
    result = run_cli(["explain", "-o", "yaml", "-r", str(REFERENCE_RULES)], stdin=manifests())
    assert result.returncode == 2 and result.stdout == b"" and b"'yaml' is not one of 'text', 'json'" in result.stderr


def test_explain_output_is_case_insensitive_and_text_by_default(runner: CliRunner) -> None:
    args = ["explain", "-r", str(REFERENCE_RULES)]
    assert json.loads(runner.invoke(app, [*args, "--output", "JSON"], input=manifests()).stdout)["version"] == 1
    assert runner.invoke(app, args, input=manifests()).stdout == runner.invoke(app, [*args, "-o", "text"],
                                                                              input=manifests()).stdout


def test_problem_to_json_has_every_key() -> None:
    from postrender.errors import Location, error, warning
    from postrender.writers.json import problem_to_json

    assert problem_to_json(warning("w")) == {"severity": "warning", "message": "w", "hint": None,
                                             "location": dict.fromkeys(LOCATION_KEYS)}
    located = problem_to_json(error("e", Location(file="r.yaml", line=3, rule="x", field="match"), "a hint"))
    assert located["location"] == {"file": "r.yaml", "line": 3, "rule": "x", "field": "match", "document": None,
                                   "resource": None}
    assert located["hint"] == "a hint" and located["severity"] == "error"


# --- diff -------------------------------------------------------------------------------

def apply_unified(before: str, patch: str) -> str:
    """Apply a unified diff (as ``patch`` would), checking every context and removed line."""
    old = before.splitlines(keepends=True)
    out: list[str] = []
    position = 0
    lines = patch.splitlines(keepends=True)
    index = 2  # skip the ---/+++ headers
    while index < len(lines):
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", lines[index])
        assert header, lines[index]
        start = int(header.group(1)) - (0 if header.group(2) == "0" else 1)
        out.extend(old[position:start])
        position = start
        index += 1
        while index < len(lines) and not lines[index].startswith("@@"):
            line = lines[index]
            if index + 1 < len(lines) and lines[index + 1].startswith("\\ No newline"):
                line = line[:-1]
                index += 1
            tag, body = line[0], line[1:]
            if tag in " -":
                assert old[position] == body
                position += 1
            if tag in " +":
                out.append(body)
            index += 1
    return "".join(out + old[position:])


REFERENCE_HEADER = "--- StatefulSet postgresql-postgresql (input, document 4)\n"


def normalised(text: str) -> str:
    """A document's data as the diff shows it: parsed, then dumped by the project's dumper."""
    return dump_data(yaml.safe_load(text))


def test_diff_reference_is_a_per_resource_diff_of_the_data(runner: CliRunner) -> None:
    result = runner.invoke(app, ["diff", "-r", str(REFERENCE_RULES)], input=manifests())
    assert result.exit_code == 0, result.output
    patch = result.stdout
    assert patch.startswith(REFERENCE_HEADER + "+++ StatefulSet postgresql-postgresql (output)\n@@ ")
    assert patch.count("\n--- ") == 0, "one changed resource: one header"
    assert "+        pre.hook.backup.velero.io/timeout: 3m\n" in patch
    assert not ANSI.search(patch)
    rendered = run_cli(["--rules", str(REFERENCE_RULES)], stdin=manifests()).stdout.decode()
    before, after = split(manifests())[3].text, split(rendered)[3].text
    assert apply_unified(normalised(before), patch) == normalised(after)


def test_diff_coloured(runner: CliRunner) -> None:
    result = runner.invoke(app, ["diff", "-r", str(REFERENCE_RULES), "--color", "always"], input=manifests())
    assert result.exit_code == 0
    assert "\x1b[32m+        pre.hook.backup.velero.io/timeout: 3m\x1b[0m" in result.stdout
    assert f"\x1b[1m{REFERENCE_HEADER.rstrip()}\x1b[0m" in result.stdout


def test_diff_without_changes_exits_0_with_a_note(runner: CliRunner) -> None:
    result = runner.invoke(app, ["diff", "-r", str(REFERENCE_RULES), "--set", "embedded=false"], input=manifests())
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "the rules change nothing" in result.stderr


def test_diff_follows_the_root_command_on_unmatched_rules(runner: CliRunner, tmp_path: Path) -> None:
    rules = write(tmp_path, "misses.yaml", MISSES)
    failed = runner.invoke(app, ["diff", "-r", str(rules)], input=manifests())
    assert failed.exit_code == 1 and failed.stdout == ""
    assert "no rule matched any resource" in failed.stderr
    allowed = runner.invoke(app, ["diff", "-r", str(rules), "--allow-unmatched"], input=manifests())
    assert allowed.exit_code == 0 and allowed.stdout == ""


def test_diff_as_a_subprocess_with_file() -> None:
    result = run_cli(["diff", "-r", str(REFERENCE_RULES), "-f", str(REFERENCE_MANIFESTS)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(REFERENCE_HEADER.encode())
    summary = run_cli(["diff", "-r", str(REFERENCE_RULES), "-f", str(REFERENCE_MANIFESTS), "-o", "summary"])
    assert summary.stdout == b"StatefulSet postgresql-postgresql  +15 -0\n"


def test_unified_diff_marks_a_missing_final_newline() -> None:
    patch = unified_diff("a\nb", "a\nc")
    assert patch.endswith("-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n")
    assert apply_unified("a\nb", patch) == "a\nc"
    assert unified_diff("same\n", "same\n") == ""


# --- presets ----------------------------------------------------------------------------

def test_presets_lists_every_shipped_preset(runner: CliRunner) -> None:
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0, result.output
    names = preset_names()
    if not names:
        assert "no presets are installed" in result.stderr
        return
    listed = [line.split()[0] for line in result.stdout.splitlines()[2:] if line and not line.startswith(" ")]
    assert listed == names
    assert "(no metadata.description)" not in result.stdout, "every preset describes itself"


@pytest.mark.parametrize("name", preset_names() or ["(none shipped)"])
def test_presets_name_prints_the_file_verbatim(runner: CliRunner, name: str) -> None:
    path = preset_path(name)
    if path is None:
        pytest.skip("no preset is shipped yet")
    result = run_cli(["presets", name])
    assert result.returncode == 0
    assert result.stdout == path.read_bytes()
    assert runner.invoke(app, ["presets", "--path", name]).stdout == f"{path}\n"


def test_presets_unknown_name(runner: CliRunner) -> None:
    result = runner.invoke(app, ["presets", "no-such-preset"])
    assert result.exit_code == 1
    assert "no preset named 'no-such-preset' (available:" in result.stderr
    assert result.stdout == ""


# --- schema -----------------------------------------------------------------------------

def test_schema_command_prints_the_committed_schema() -> None:
    result = run_cli(["schema"])
    assert result.returncode == 0
    committed = (ROOT / "docs" / "rules.schema.json").read_bytes()
    assert result.stdout == committed, "regenerate with: velero-postrender schema > docs/rules.schema.json"
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_explain_warns_about_a_restore_hook_without_wait_timeout() -> None:
    """explain repeats lint's warning: the reference rules' postRestore hook has no waitTimeout."""
    manifests = (EXAMPLES / "reference" / "postgresql-8.7.4.yaml").read_bytes()
    text = run_cli(["explain", "-r", str(REFERENCE_RULES)], manifests)
    assert text.returncode == 0
    assert b"rule 'postgres': hooks.postRestore: the postRestore hook has no waitTimeout" in text.stderr
    as_json = run_cli(["explain", "-r", str(REFERENCE_RULES), "-o", "json"], manifests)
    problems = json.loads(as_json.stdout)["problems"]
    assert [p["location"]["field"] for p in problems if "waitTimeout" in p["message"]] == ["hooks.postRestore"]
    preset = run_cli(["explain", "--preset", "postgresql"], manifests)
    assert b"waitTimeout" not in preset.stderr  # the presets always bound the wait
