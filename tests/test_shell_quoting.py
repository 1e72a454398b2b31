"""Values are data in hook scripts: a placeholder becomes one single-quoted shell word.

Checked with the real shells (sh, dash, bash): hostile values (quotes, ``$()``, backquotes,
``;``, newlines, backslashes, globs, unicode, a leading ``-``) for every preset param used in a
script and for resource names give scripts that parse (``-n``), and that hand the value to the
commands byte for byte; the ``scratchPath`` injection of the old hand-quoted scripts runs
nothing; a placeholder written where a shell word cannot go is a located load error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from postrender.api import load_rules, render
from postrender.errors import PostRenderError
from postrender.ruleset.placeholders import PLACEHOLDER, shell_quote, shell_words, split_words

SHELLS = [shell for shell in ("sh", "dash", "bash") if shutil.which(shell)]
OFFICIAL = ROOT / "tests" / "presets_manifests" / "official.yaml"
PRESET_FILES = sorted((ROOT / "rules").glob("*.yaml"))
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}

_HOSTILE_CHARS = list("'\"$()`;\\*?[]{}~#&|<> \t\n-=!%^,.:/@") + ["é", "漢", "\u00a0", "\u2028", "\r", "\x7f"]
_CLASSICS = ["", "$(touch /tmp/x)", "`id`", "'; rm -rf / #", "O'Brien", "-rf", "--help", "a\nb", "${HOME}", "\\",
             "'", '"', "'\\''", "$'\\x41'", "*", "-", "<<EOF", "#", "a b  c", " lead", "{{ x }}", "{{ resource.name }}"]
hostile = (st.text(st.sampled_from(_HOSTILE_CHARS), max_size=24)
           | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=16)
           | st.sampled_from(_CLASSICS))


def syntax_errors(script: str) -> list[str]:
    """What ``sh -n``, ``dash -n`` and ``bash --posix -n`` say about the script (nothing: fine)."""
    errors = []
    for shell in SHELLS:
        argv = [shell, "--posix", "-n", "-c", script] if shell == "bash" else [shell, "-n", "-c", script]
        done = subprocess.run(argv, capture_output=True, env=ENV, timeout=30)
        if done.returncode != 0:
            errors.append(f"{shell}: {done.stderr.decode(errors='replace')}")
    return errors


def run_everywhere(script: str) -> set[bytes]:
    """The stdout of the script in every shell (one element when they all agree)."""
    outputs = set()
    for shell in SHELLS:
        done = subprocess.run([shell, "-c", script], capture_output=True, env=ENV, timeout=30)
        assert done.returncode == 0, f"{shell}: {done.stderr.decode(errors='replace')}"
        outputs.add(done.stdout)
    return outputs


# --- the quoting itself ------------------------------------------------------------------------

def test_quoting_by_example() -> None:
    assert shell_quote("") == "''"
    assert shell_quote("a b") == "'a b'"
    assert shell_quote("O'Brien") == "'O'\\''Brien'"
    assert shell_words("") == ""
    assert shell_words("  --no-owner\t-x  ") == "'--no-owner' '-x'"
    assert split_words(" a\nb\r\nc\t") == ["a", "b", "c"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(hostile, min_size=1, max_size=6))
def test_a_quoted_value_arrives_byte_for_byte(values: list[str]) -> None:
    """``x=<quoted>; printf '%s' "$x"`` prints the value itself, in every shell."""
    script = "".join(f"x={shell_quote(value)}; printf '%s\\0' \"$x\"\n" for value in values)
    assert not syntax_errors(script)
    assert run_everywhere(script) == {b"".join(value.encode() + b"\0" for value in values)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=hostile)
def test_words_arrive_one_argument_each(value: str) -> None:
    script = f"printf '%s\\0' {shell_words(value)}"
    expected = b"".join(word.encode() + b"\0" for word in split_words(value)) or b"\0"  # printf with no word: once
    assert run_everywhere(script) == {expected}


# --- every preset param used in a script ---------------------------------------------------------

def _preset_params() -> dict[str, dict[str, set[str]]]:
    """preset -> param -> where else than a script it is used ("mountPath", "jsonpath", "other")."""
    found: dict[str, dict[str, set[str]]] = {}
    for path in PRESET_FILES:
        data = yaml.safe_load(path.read_text())
        params: dict[str, set[str]] = {}

        def walk(value: Any, key: str) -> None:
            if isinstance(value, dict):
                for child_key, child in value.items():
                    walk(child, str(child_key))
            elif isinstance(value, list):
                for child in value:
                    walk(child, key)
            elif isinstance(value, str):
                for match in PLACEHOLDER.finditer(value):
                    params.setdefault(match.group(1), set()).add(key)

        for rule in data["rules"]:
            walk(rule, "")
        found[path.stem] = {name: uses - {"script"} for name, uses in params.items() if "script" in uses}
    return found


PRESET_PARAMS = _preset_params()


def _value_for(uses: set[str]) -> Any:
    """Hostile values that the param's other uses still accept (a mount path is absolute; a
    JSONPath string literal cannot hold a double quote or a backslash)."""
    strategy = hostile
    if "mountPath" in uses:
        strategy = strategy.map(lambda v: "/" + v)
    if "jsonpath" in uses:
        strategy = strategy.map(lambda v: v.replace('"', "'").replace("\\", "/"))
    return strategy


def test_every_database_preset_has_script_params() -> None:
    for name in ("postgresql", "mariadb", "mysql", "mongodb", "redis", "cleanup", "fsfreeze"):
        assert PRESET_PARAMS[name], f"{name}: no param used in a script"
    assert PRESET_PARAMS["postgresql"]["scratchPath"] == {"mountPath"}


@pytest.mark.parametrize("preset", sorted(PRESET_PARAMS))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_preset_scripts_with_hostile_params_parse_and_quote_every_value(preset: str, data: st.DataObject) -> None:
    params = PRESET_PARAMS[preset]
    values = {name: data.draw(_value_for(uses), label=name) for name, uses in sorted(params.items())}
    ruleset = load_rules(presets=[preset], set_values=values)
    raw = yaml.safe_load((ROOT / "rules" / f"{preset}.yaml").read_text())["rules"]
    for rule, raw_rule in zip(ruleset.rules, raw):
        for hook in rule.hooks:
            if not hook.is_script:
                continue
            script = hook.command[2]
            assert not syntax_errors(script), script
            written = raw_rule["hooks"][hook.phase.key]["script"]
            for match in PLACEHOLDER.finditer(written):
                value = values.get(match.group(1))
                if value is not None:
                    expected = shell_words(value) if match.group(2) == "words" else shell_quote(value)
                    assert expected in script, f"{match.group(0)} is not {expected!r} in the script"


# --- resource names ----------------------------------------------------------------------------------

NAME_RULE = {
    "apiVersion": "velero-postrender/v1", "kind": "RuleSet",
    "rules": [{"name": "names", "match": {"kinds": ["Deployment"]},
               "hooks": {"preBackup": {"script": "set -euf\nprintf '%s\\0' {{ resource.name }} "
                                                 "{{ resource.namespace }} {{ resource.name | words }}\n"}}}],
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=hostile.filter(bool), namespace=hostile)
def test_resource_names_arrive_byte_for_byte(name: str, namespace: str) -> None:
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "busybox"}]}}}}
    stream = yaml.safe_dump(manifest, default_style='"', allow_unicode=True)
    result = render(stream, [NAME_RULE])
    (effect,) = result.effects
    script = json.loads(effect.annotations["pre.hook.backup.velero.io/command"])[2]
    assert not syntax_errors(script)
    expected = [name, namespace, *split_words(name)]
    assert run_everywhere(script) == {b"".join(part.encode() + b"\0" for part in expected)}


# --- the real preset script, run with recording clients --------------------------------------------------

STUB = """#!/bin/sh
# a recording client: program name, PGHOST, then every argument, NUL-separated, one file per call
n=$(ls "$STUB_LOG" | wc -l)
{ printf '%s\\0' "${0##*/}" "${PGHOST-}"; printf '%s\\0' "$@"; } > "$STUB_LOG/$(printf %05d "$n")"
case "${0##*/}:$*" in
  psql:*rolsuper*) echo f ;;
  psql:*datname*) echo postgres ;;
esac
"""


def _stubs(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    log.mkdir()
    for program in ("psql", "pg_dump", "pg_dumpall"):
        (bin_dir / program).write_text(STUB)
        (bin_dir / program).chmod(0o755)
    return bin_dir, log


def _calls(log: Path) -> list[list[str]]:
    return [[part.decode() for part in path.read_bytes().split(b"\0")[:-1]] for path in sorted(log.iterdir())]


def _run_pre_backup(text: str, settings_: dict[str, str], bin_dir: Path, log: Path) -> subprocess.CompletedProcess[str]:
    output = render(text, presets=["postgresql"], set_values=settings_).text
    documents = [d for d in yaml.safe_load_all(output) if isinstance(d, dict)]
    template = next(d for d in documents if d["metadata"]["name"] == "db-postgres")["spec"]["template"]
    argv = json.loads(template["metadata"]["annotations"]["pre.hook.backup.velero.io/command"])
    env = {"PATH": f"{bin_dir}:{ENV['PATH']}", "POSTGRES_PASSWORD": "pw", "STUB_LOG": str(log), "LC_ALL": "C"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)


def test_the_scratch_path_injection_runs_nothing(tmp_path: Path) -> None:
    """``--set scratchPath=/s'$(touch X)'`` once pasted into ``dir='...'`` ran touch in the database
    container; now the dump goes to that very directory and nothing else happens."""
    bin_dir, log = _stubs(tmp_path)
    pwned = tmp_path / "pwned"
    scratch = f"{tmp_path}/s'$(touch {pwned})'"
    done = run_cli(["--preset", "postgresql", "--set", f"scratchPath={scratch}"], OFFICIAL.read_bytes())
    assert done.returncode == 0, done.stderr.decode()
    template = next(d for d in yaml.safe_load_all(done.stdout)
                    if isinstance(d, dict) and d["metadata"]["name"] == "db-postgres")["spec"]["template"]
    argv = json.loads(template["metadata"]["annotations"]["pre.hook.backup.velero.io/command"])
    env = {"PATH": f"{bin_dir}:{ENV['PATH']}", "POSTGRES_PASSWORD": "pw", "STUB_LOG": str(log)}
    ran = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert not pwned.exists(), "the value ran as a command"
    assert (Path(scratch) / "postgresql" / "databases").read_text() == "postgres\n"

    # the harness sees an injection when there is one: the old hand-quoted form runs touch
    old = subprocess.run(["/bin/sh", "-c", f"dir='{scratch}/postgresql'; echo \"$dir\""], capture_output=True,
                         text=True, timeout=30)
    assert old.returncode == 0 and pwned.exists()


def test_a_database_name_with_a_quote(tmp_path: Path) -> None:
    """``postgresqlDatabases="app O'Brien"``: the script parses and pg_dump gets both names."""
    bin_dir, log = _stubs(tmp_path)
    scratch = tmp_path / "scratch"
    done = _run_pre_backup(OFFICIAL.read_text(), {"scratchPath": str(scratch), "postgresqlDatabases": "app O'Brien"},
                           bin_dir, log)
    assert done.returncode == 0, done.stderr
    dumps = [call[2:] for call in _calls(log) if call[0] == "pg_dump"]
    assert [call[-1] for call in dumps] == ["app", "O'Brien"]
    assert (scratch / "postgresql" / "databases").read_text() == "app\nO'Brien\n"


_PATH_PART = st.text(st.sampled_from([c for c in _HOSTILE_CHARS if c != "/"]) | st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1, max_size=30).filter(
    lambda v: v not in (".", "..") and len(v.encode()) < 200)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(part=_PATH_PART, databases=hostile, host=hostile, flags=hostile)
def test_postgresql_pre_backup_hands_every_value_over_as_data(tmp_path_factory: pytest.TempPathFactory, part: str,
                                                               databases: str, host: str, flags: str) -> None:
    """The real pre-backup script with recording psql/pg_dump: the dump lands in the hostile
    scratch path, PGHOST is the host, pg_dump gets each flag word and each database as given."""
    databases_ifs = [word for word in re.split(r"[ \t\n]+", databases) if word]  # the script splits on IFS
    assume(all(word not in (".", "..") for word in databases_ifs))
    tmp_path = tmp_path_factory.mktemp("pg")
    bin_dir, log = _stubs(tmp_path)
    scratch = f"{tmp_path}/{part}"
    done = _run_pre_backup(OFFICIAL.read_text(), {"scratchPath": scratch, "postgresqlDatabases": databases,
                                                  "postgresqlHost": host, "postgresqlDumpFlags": flags}, bin_dir, log)
    assert done.returncode == 0, done.stderr
    calls = _calls(log)
    assert {call[1] for call in calls} == {host}, "PGHOST"
    names = databases_ifs or ["postgres"]
    dumps = [call[2:] for call in calls if call[0] == "pg_dump"]
    assert dumps == [["--format=custom", f"--file={scratch}/postgresql.tmp/{index}.dump", *split_words(flags), name]
                     for index, name in enumerate(names, start=1)]
    assert (Path(scratch) / "postgresql" / "databases").read_bytes() == b"".join(n.encode() + b"\n" for n in names)


# --- placeholders where a shell word cannot go: located load errors ---------------------------------------

RULES_TEXT = """\
apiVersion: velero-postrender/v1
kind: RuleSet
params:
  x: value
rules:
  - name: quoted
    match: {{kinds: [Deployment]}}
    hooks:
      preBackup:
        script: |
          set -eu
          {line}
"""


@pytest.mark.parametrize("line, reason", [
    ("dir='{{ x }}/sub'", "inside single quotes"),
    ('echo "{{ x }}"', "inside double quotes"),
    ("echo `echo {{ x }}`", "inside backquotes"),
    ("# uses {{ x }}", "in a comment"),
    ("cat <<EOF\n          {{ x }}\n          EOF", "in a here-document"),
    ("echo $(( {{ x }} + 1 ))", "inside $((...))"),
    ("echo ${y:-{{ x }}}", "inside ${...}"),
    ("echo \\{{ x }}", "right after a backslash"),
    ("echo ${{ x }}", "right after $"),
    ("echo {{ x | upper }}", "unknown filter 'upper'"),
    ("echo --flags={{ x | words }}", "must be a whole shell word"),
])
def test_a_misplaced_placeholder_is_a_located_error(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES_TEXT.format(line=line))
    with pytest.raises(PostRenderError) as caught:
        load_rules([path])
    (problem,) = caught.value.problems
    assert reason in problem.message
    where = problem.location
    assert (where.file, where.line, where.rule, where.field) == (str(path), 10, "quoted", "hooks.preBackup.script")
    assert problem.hint
    done = run_cli(["lint", str(path)])
    assert done.returncode == 1 and reason.encode() in done.stdout + done.stderr


@pytest.mark.parametrize("line", [
    "dir={{ x }}/sub",
    'echo "text: "{{ x }} "$(echo {{ x }})"',
    "case {{ x }} in\n            {{ x }}) echo {{ x }} ;;\n          esac",
    "for flag in {{ x | words }}; do echo \"$flag\"; done",
    "x='{{ not a placeholder'",
    "echo '{{ .Name }}'  # a Go template for docker: not a placeholder",
])
def test_word_positions_are_accepted(line: str) -> None:
    rules = {"apiVersion": "velero-postrender/v1", "kind": "RuleSet", "params": {"x": "it's"},
             "rules": [{"name": "ok", "match": {"kinds": ["Deployment"]},
                        "hooks": {"preBackup": {"script": "set -eu\n" + line.replace("\n          ", "\n") + "\n"}}}]}
    (rule,) = load_rules([rules]).rules
    assert not syntax_errors(rule.hooks[0].command[2])
