"""The lint checks one by one (postrender/lint/*.py): the registry, the shell reader, and each check,
with the real ``sh`` as the oracle of what a script does."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from postrender import lint as lint_package
from postrender.errors import Severity
from postrender.lint import CHECKS, CHECKS_BY_ID, SUPPORT_MODULES, shell
from postrender.lint.base import Context, RulesFile
from postrender.lint.restore_wait_timeout import missing_wait_timeout
from postrender.ruleset.model import BackupHook, Match, Phase, RestoreHook, Rule
from postrender.ruleset.yamlfile import load_rules_text

HEADER = "apiVersion: velero-postrender/v1\nkind: RuleSet\n"
LINT_FOLDER = ROOT / "postrender" / "lint"


def run_check(check_id: str, text: str, settings: dict[str, str] | None = None, **conf: Any) -> list[str]:
    """The rendered problems of one check on one rules text (file name r.yaml)."""
    check = CHECKS_BY_ID[check_id]
    rules_file = RulesFile("r.yaml", text, load_rules_text(text, "r.yaml"), Context(settings or {}))
    options = {**check.default, **conf}
    items = [rules_file] if check.scope == "file" else rules_file.rules()
    return [problem.render() for item in items for problem in check.run(item, options)]


def script_rule(script: str, phase: str = "postRestore", extra: str = "") -> str:
    body = "\n".join("          " + line for line in script.splitlines())
    return HEADER + f"""\
params:
  dir: /scratch
rules:
  - name: db
    match: {{kinds: [StatefulSet]}}
    container: db
    hooks:
      {phase}:
{extra}        script: |
{body}
"""


# --- the registry -------------------------------------------------------------------------------

def _declares_id(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ID" for t in node.targets)
               for node in tree.body)


def test_the_registry_lists_every_check_module_of_the_folder() -> None:
    modules = {path.stem for path in LINT_FOLDER.glob("*.py") if path.stem != "__init__"}
    checks = {path.stem for path in LINT_FOLDER.glob("*.py") if _declares_id(path)}
    assert {check.module for check in CHECKS} == checks
    assert modules == checks | set(SUPPORT_MODULES), "a module that is neither a check nor listed as support"
    assert len(CHECKS_BY_ID) == len(CHECKS), "check IDs must be unique"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_every_check_describes_itself(check: Any) -> None:
    assert check.id and check.id == check.id.lower() and " " not in check.id
    assert check.severity in (Severity.ERROR, Severity.WARNING)
    assert check.scope in ("rule", "file")
    assert check.summary.endswith(".") and len(check.summary) < 120
    assert set(check.conf) == set(check.default)
    for key, (kind, text) in check.conf.items():
        assert isinstance(check.default[key], kind) and text


def test_the_package_imports_no_check_by_name() -> None:
    source = (LINT_FOLDER / "__init__.py").read_text(encoding="utf-8")
    assert "importlib" not in source and "__import__" not in source
    assert lint_package.CHECK_MODULES


# --- the shell reader ------------------------------------------------------------------------------

@pytest.mark.parametrize(("script", "contexts"), [
    ("dir={{ d }}/x", [shell.PLAIN]),
    ("dir='{{ d }}/x'", [shell.SINGLE]),
    ('echo "a {{ d }} b"', [shell.DOUBLE]),
    ('echo "$(ls {{ d }})"', [shell.PLAIN]),
    ("echo \"$(ls '{{ d }}')\"", [shell.SINGLE]),
    ("echo $'{{ d }}'", [shell.ANSI_C]),
    ("echo ${x:-{{ d }}}", [shell.PARAMETER]),
    ('echo "${x:-{{ d }}}"', [shell.DOUBLE]),
    ("echo $(( {{ d }} + 1 ))", [shell.ARITHMETIC]),
    ("echo `ls {{ d }}`", [shell.BACKTICK]),
    ("# uses {{ d }}\necho {{ d }}", [shell.COMMENT, shell.PLAIN]),
    ("cat <<EOF\n{{ d }}\nEOF\necho {{ d }}", [shell.HEREDOC, shell.PLAIN]),
    ("cat <<-'END'\n\t{{ d }}\n\tEND\necho '{{ d }}'", [shell.HEREDOC, shell.SINGLE]),
    ("echo {{ d | words }} 'x'", [shell.PLAIN]),
    ("echo 'it''s' {{ d }}", [shell.PLAIN]),
    ("echo \\'{{ d }}", [shell.PLAIN]),
])
def test_placeholder_contexts(script: str, contexts: list[str]) -> None:
    assert [use.context for use in shell.placeholders_in(script)] == contexts


def test_placeholder_lines_and_unreadable_scripts() -> None:
    uses = shell.placeholders_in("a=1\nb='{{ x }}'\n")
    assert [(use.name, use.line) for use in uses] == [("x", 2)]
    assert shell.placeholders_in("echo 'unterminated {{ x }}") == []
    assert shell.parse("if true; then echo") is None
    assert shell.parse("echo )") is None


# scripts whose "nothing to restore" test is false (the file does not exist): the check must say
# exactly when the real sh exits non-zero.
EXIT_CASES = [
    ('[ -f "$D/dump" ] && cat "$D/dump"', True),
    ('test -s "$D/dump" && cat "$D/dump"\n', True),
    ('echo start\n[ -f "$D/dump" ] && cat "$D/dump" && rm "$D/dump"\n# done\n', True),
    ('cd "$D" && [ -f dump ] && cat dump', True),
    ('[[ -f "$D/dump" ]] && cat "$D/dump"', True),
    ('[ -f "$D/dump" ] && cat "$D/dump" || true', False),
    ('[ -f "$D/dump" ] || exit 0\ncat "$D/dump"', False),
    ('if [ -f "$D/dump" ]; then cat "$D/dump"; fi', False),
    ('[ -f "$D/dump" ] && cat "$D/dump"\necho done', False),
    ('for f in "$D"/*.sql; do [ -f "$f" ] && cat "$f"; done', True),
    ('for f in "$D"/*.sql; do\n  if [ -f "$f" ]; then cat "$f"; fi\ndone', False),
    ('{ [ -f "$D/dump" ] && cat "$D/dump"; }', True),
    ('( [ -f "$D/dump" ] && cat "$D/dump" )', True),
    ('if true; then\n  [ -f "$D/dump" ] && cat "$D/dump"\nfi', True),
    ('case x in\n  x) [ -f "$D/dump" ] && cat "$D/dump" ;;\nesac', True),
    ('restore() {\n  [ -f "$D/dump" ] && cat "$D/dump"\n}\necho ok', False),
    ('cat <<EOF\n[ -f x ] && y\nEOF', False),
    ('! [ -e "$D" ] && echo missing', True),
]


@pytest.mark.parametrize(("script", "fails"), EXIT_CASES)
def test_failing_conditions_agree_with_the_real_shell(tmp_path: Path, script: str, fails: bool) -> None:
    commands = shell.parse(script)
    assert commands is not None
    found = shell.failing_conditions(commands, ("test", "[", "[["))
    shell_binary = "bash" if "[[" in script else "sh"
    result = subprocess.run([shell_binary, "-c", script], env={"D": str(tmp_path), "PATH": "/usr/bin:/bin"},
                            capture_output=True, timeout=10)
    assert (result.returncode != 0) == fails, result.stderr
    assert bool(found) == fails


# --- checks on rules texts ----------------------------------------------------------------------------

def test_restore_exit_status_points_at_the_line_in_the_script() -> None:
    text = script_rule('set -e\ndir={{ dir }}/pg\n[ -f "$dir/dump" ] && psql -f "$dir/dump"\n')
    problems = run_check("restore-exit-status", text)
    assert len(problems) == 1
    assert problems[0].startswith("warning: r.yaml:14: rule 'db': hooks.postRestore.script: the script exits 1 when "
                                  '`[ -f "$dir/dump" ]` is false (nothing to restore): since Velero 1.13 ')
    assert "if [ -f \"$dir/dump\" ]; then ...; fi" in problems[0]
    assert run_check("restore-exit-status", text.replace("postRestore", "preBackup")) == []
    assert run_check("restore-exit-status", text, conditions=["grep"]) == []
    init = script_rule('[ -f /s/x ] && cp /s/x /data/', phase="initRestore", extra="        image: busybox\n")
    assert "the pod never starts" in run_check("restore-exit-status", init)[0]


def test_restore_exit_status_in_a_command_list() -> None:
    text = HEADER + """\
rules:
  - name: db
    match: {kinds: [StatefulSet]}
    hooks:
      postRestore:
        command: ["/bin/bash", "-c", "[ -f /s/d ] && psql -f /s/d && rm -f /s/d;"]
"""
    problems = run_check("restore-exit-status", text)
    assert len(problems) == 1 and "r.yaml:8: rule 'db': hooks.postRestore.command[2]:" in problems[0]


def test_restore_wait_timeout() -> None:
    text = script_rule("echo restore")
    assert run_check("restore-wait-timeout", text) == [
        "warning: r.yaml:10: rule 'db': hooks.postRestore: the postRestore hook has no waitTimeout: Velero waits "
        "for its container for ever, and a container that never starts leaves the Restore stuck in Finalizing "
        "(set waitTimeout, e.g. 10m; it counts from the pod's creation, including the file-system restore)"]
    assert run_check("restore-wait-timeout", script_rule("echo x", extra="        waitTimeout: 10m\n")) == []
    with_param = script_rule("echo x", extra="        waitTimeout: \"{{ wait }}\"\n")
    assert run_check("restore-wait-timeout", with_param, {"wait": "5m"}) == []
    assert len(run_check("restore-wait-timeout", with_param, {"wait": ""})) == 1, "an empty value leaves it unset"
    assert run_check("restore-wait-timeout", script_rule("echo x", phase="preBackup")) == []


def test_missing_wait_timeout_for_explain() -> None:
    hook = RestoreHook(("true",), "Continue")
    rule = Rule("db", "r.yaml", 4, Match(kinds=("StatefulSet",)), hooks=(hook,),
                field_lines={"hooks.postRestore": 9})
    (problem,) = missing_wait_timeout(rule)
    assert problem.render().startswith("warning: r.yaml:9: rule 'db': hooks.postRestore: the postRestore hook has no "
                                       "waitTimeout")
    timed = Rule("db", "r.yaml", 4, Match(kinds=("StatefulSet",)),
                 hooks=(RestoreHook(("true",), "Continue", wait_timeout="10m"),
                        BackupHook(Phase.PRE_BACKUP, ("true",), "Fail")))
    assert missing_wait_timeout(timed) == []


def test_quoted_placeholder_in_a_command_list() -> None:
    text = HEADER + """\
params:
  db: app
rules:
  - name: db
    match: {kinds: [StatefulSet]}
    hooks:
      preBackup:
        command: ["/bin/sh", "-c", "pg_dump '{{ db }}' > /s/{{ resource.name }}.sql"]
"""
    problems = run_check("quoted-placeholder", text)
    assert len(problems) == 1, problems
    assert "{{ db }} is pasted as plain text into the shell code of a command list (inside single quotes)" in problems[0]
    assert "write the hook as script:" in problems[0]


@pytest.mark.parametrize(("script", "where"), [
    ("cat <<EOF\nhost {{ dir }}\nEOF", "in a here-document"),
    ("echo `ls {{ dir }}`", "inside backquotes"),
])
def test_quoted_placeholder_in_a_script(script: str, where: str) -> None:
    """Placements the loader lets through (or refuses): the check names the line and the fix, once."""
    from postrender.ruleset.placeholders import compile_text

    problems = run_check("quoted-placeholder", script_rule(script))
    _, issues = compile_text(script, "script")
    if issues:  # the loader refuses it already: no second report
        assert problems == []
    else:
        assert len(problems) == 1 and where in problems[0]


def test_quoted_placeholders_break_values_in_the_real_shell(tmp_path: Path) -> None:
    """Why the check exists: a placeholder filled in quoted, inside hand-written quotes, does not give the
    value, and inside double quotes its $(...) even runs."""
    from postrender.ruleset.placeholders import shell_quote

    value = "a b'c $(touch ran)"
    for script, plain in [("printf %s {{ v }}", True), ("printf %s '{{ v }}'", False), ('printf %s "{{ v }}"', False),
                          ("v={{ v }}; printf %s \"$v\"", True), ('printf %s "${u:-{{ v }}}"', False),
                          ("cat <<EOF\n{{ v }}\nEOF", False)]:
        context = shell.placeholders_in(script)[0].context
        assert (context == shell.PLAIN) is plain
        filled = script.replace("{{ v }}", shell_quote(value))
        result = subprocess.run(["sh", "-c", filled], capture_output=True, cwd=tmp_path, timeout=10)
        assert (result.stdout.decode().rstrip("\n") == value) is plain, (script, result.stdout)
        ran = tmp_path / "ran"
        assert ran.exists() is (context in (shell.DOUBLE, shell.HEREDOC)), script
        ran.unlink(missing_ok=True)


def test_shell_syntax_fills_placeholders_quoted() -> None:
    """A value with a quote must not make a valid script look broken (it is filled in quoted)."""
    text = script_rule("dir={{ dir }}/x\necho \"$dir\"")
    assert run_check("shell-syntax", text, {"dir": "O'Brien"}) == []
    broken = script_rule("if true; then\n  echo {{ dir }}\n")
    (problem,) = run_check("shell-syntax", broken)
    assert problem.startswith("error: r.yaml:") and "shell syntax error (sh -n)" in problem


def test_empty_rules_and_scratch_unmounted() -> None:
    assert run_check("empty-rules", HEADER + "rules: []\n") == ["warning: r.yaml:3: rules file has no rules"]
    text = HEADER + "rules:\n  - name: s\n    match: {kinds: [Pod]}\n    scratch: {mountPath: /s}\n"
    assert run_check("scratch-unmounted", text) == [
        "warning: r.yaml:6: rule 's': scratch: the scratch volume is mounted in no container: it is mounted where a "
        "hook runs, and the rule has no hook (add a preBackup or postRestore hook, or drop scratch)"]


def test_docs_describe_every_check() -> None:
    docs = (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
    flat = " ".join(docs.split())
    for check in CHECKS:
        assert f"### `{check.id}` ({check.severity.value})" in docs
        assert check.summary.rstrip(".").split(":")[0] in flat, check.id
        for key in check.conf:
            assert f"`{key}` ({check.conf[key][0].__name__}" in flat, (check.id, key)


SHELL_PIECES = list("ab {}|$()`'\"\\#;&<>\n\t-=!") + [
    "{{ x }}", "<<EOF\n", "\nEOF\n", "if ", "then ", "fi", "do ", "done", "case ", " in ", ";;", "esac", "$((", "${"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SHELL_PIECES), max_size=60).map("".join))
def test_the_shell_reader_never_breaks(script: str) -> None:
    """Any text: placeholders_in and parse answer (possibly "cannot read"), they never raise."""
    uses = shell.placeholders_in(script)
    assert all(script[use.offset:].startswith(use.text) for use in uses)
    commands = shell.parse(script)
    if commands is not None:
        shell.failing_conditions(commands, ("[",))


def test_deep_nesting_and_long_scripts_are_bounded() -> None:
    import time

    deep = "echo " + "$(" * 5000 + "x" + ")" * 5000
    assert shell.placeholders_in(deep) == [] and shell.parse(deep) is None
    started = time.monotonic()
    long = "x=$(echo {{ a }})\n" * 20000
    assert len(shell.placeholders_in(long)) == 20000
    assert shell.parse(long) is not None
    assert time.monotonic() - started < 20
