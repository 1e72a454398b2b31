"""Warnings reach the user of Helm 3 and Helm 4, --strict makes every warning an error, and
"did you mean" catches the typos that would otherwise pass without a word (docs/warnings.md).

Helm 3 and Helm 4 drop the stderr of a post-renderer that succeeds; when Helm runs us, the
warnings also go into the output as YAML comments at the top of its first document, and to the
controlling terminal. The real binaries (tests/helm_binaries.py) prove that the comments survive
``helm template`` under both.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli
from helm_binaries import (
    HELM3,
    HELM4,
    RULES,
    WEBSHOP,
    assert_database_only,
    clean_path,
    launcher_env,
    plugin_copy,
    require_helm,
    resources,
    scripts_dir_with_console_script,
    tool_env,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postrender.errors import Problems, warning
from postrender.errors import safe_line as one_line
from postrender.integrations.helm import (
    WARNING_COMMENT,
    launched_by_helm,
    warning_comments_wanted,
    with_warning_comments,
)
from postrender.pipeline import Run
from postrender.ruleset.model import RuleSet
from postrender.ruleset.sources import did_you_mean, unknown_environment
from postrender.stream.split import split

DATABASE_RULES = RULES / "database.yaml"
TYPO = "--set=scratchSiz=1Gi"
TYPO_WARNING = "--set scratchSiz: no rule uses this parameter (did you mean 'scratchSize'?)"
TYPO_COMMENT = WARNING_COMMENT + TYPO_WARNING

HELM3_STREAM = """\
---
# Source: app/templates/db.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers: [{name: postgresql, image: "postgres:15", env: [{name: POSTGRES_USER, value: u},
                   {name: POSTGRES_DB, value: d}]}]
---
# Source: app/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {template: {spec: {containers: [{name: web, image: "nginx:1"}]}}}
"""


def run_of(text: str, *messages: str) -> Run:
    """A run that changed nothing, with these warnings."""
    return Run("<input>", text, RuleSet(()), documents=split(text), problems=Problems(warning(m) for m in messages))


def without_comments(text: str) -> str:
    """``text`` without our comment lines (a byte order mark that opens it stays)."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text.removeprefix(bom).splitlines(keepends=True)
    return bom + "".join(line for line in lines if not line.startswith(WARNING_COMMENT))


# --- one line, no forgery -------------------------------------------------------------------

def test_one_line_escapes_every_line_break_and_escape_sequence() -> None:
    assert one_line("a\nb\r\nc\x1b[2Jd\u2028e\u2029f\x85g\x00h\ufeffi\tj") == \
        "a\\nb\\r\\nc\\e[2Jd\\u2028e\\u2029f\\x85g\\x00h\\ufeffi\tj"
    assert one_line("plain 'text' (ok): ünïcode") == "plain 'text' (ok): ünïcode"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(st.text(), min_size=1, max_size=4),
       documents=st.lists(st.sampled_from([
           "---\n# Source: app/templates/a.yaml\nkind: A\nmetadata: {name: a}\n",
           "kind: B\nmetadata:\n  name: b\n",
           "---\n# only a comment\n",
           "---\n",
           "\ufeffkind: C\r\nmetadata: {name: c}\r\n",
           "---\r\n# Source: app/templates/d.yaml\r\nkind: D\r\nmetadata: {name: d}\r\n",
           "%YAML 1.1\n---\nkind: E\nmetadata: {name: e}\n",
       ]), min_size=0, max_size=5))
def test_the_comments_change_no_data_and_no_other_line(messages: list[str], documents: list[str]) -> None:
    text = "".join(documents)
    if "\ufeff" in text and not text.startswith("\ufeff"):
        text = text.replace("\ufeff", "")  # a byte order mark only opens a stream
    output = with_warning_comments(run_of(text, *messages))
    if all(document.content_offset is None for document in split(text)):
        assert output == text  # nothing to attach them to: empty in, empty out
        return
    added = [line for line in output.removeprefix("\ufeff").splitlines() if line.startswith(WARNING_COMMENT)]
    assert len(added) == len(messages)  # one line each: no value can forge a line
    assert all("# Source: " not in line for line in added)  # nor a template name for helm --show-only
    assert without_comments(output) == text
    assert list(yaml.safe_load_all(output)) == list(yaml.safe_load_all(text))
    assert len(split(output)) == len(split(text))


def test_the_comments_sit_after_the_separator_and_the_source_line() -> None:
    output = with_warning_comments(run_of(HELM3_STREAM, "first", "second"))
    assert output.startswith("---\n# Source: app/templates/db.yaml\n"
                             f"{WARNING_COMMENT}first\n{WARNING_COMMENT}second\napiVersion: apps/v1\n")
    helm4_stream = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
    assert with_warning_comments(run_of(helm4_stream, "w")) == f"{WARNING_COMMENT}w\n" + helm4_stream


def test_no_warnings_no_comments() -> None:
    assert with_warning_comments(run_of(HELM3_STREAM)) == HELM3_STREAM


# --- when the comments are written ----------------------------------------------------------

def test_in_a_shell_pipe_the_output_is_left_alone_and_stderr_has_the_warnings() -> None:
    result = run_cli(["--rules", str(DATABASE_RULES), TYPO], stdin=HELM3_STREAM)
    assert result.returncode == 0, result.stderr
    assert TYPO_WARNING in result.stderr.decode()
    assert WARNING_COMMENT not in result.stdout.decode()


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False), ("no", False)])
def test_the_environment_switches_the_comments(value: str, expected: bool) -> None:
    result = run_cli(["--rules", str(DATABASE_RULES), TYPO], stdin=HELM3_STREAM,
                     env={"VELERO_POSTRENDER_WARNING_COMMENTS": value})
    assert result.returncode == 0, result.stderr
    assert (TYPO_COMMENT in result.stdout.decode()) is expected
    if expected:
        plain = run_cli(["--rules", str(DATABASE_RULES), TYPO], stdin=HELM3_STREAM).stdout.decode()
        assert without_comments(result.stdout.decode()) == plain


def test_a_parent_process_named_helm_is_helm(tmp_path: Path) -> None:
    """Helm 3 sets no variable for its post-renderer: its process name tells. (A shell script
    run by its path gets its file name as process name; it must not ``exec``.)"""
    fake = tmp_path / "helm"
    fake.write_text('#!/bin/sh\n"$@"\nexit $?\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "HELM_"))}
    env["VELERO_POSTRENDER_NO_TTY"] = "1"
    done = subprocess.run([str(fake), sys.executable, "-m", "postrender", "--rules", str(DATABASE_RULES), TYPO],
                          input=HELM3_STREAM, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert TYPO_COMMENT in done.stdout
    assert not launched_by_helm({}) and not warning_comments_wanted({})  # pytest's parent is no Helm
    assert launched_by_helm({"HELM_PLUGIN_NAME": "velero-postrender"})


@pytest.mark.skipif(shutil.which("script") is None, reason="script(1) from util-linux gives the run a terminal")
@pytest.mark.parametrize(("stderr_to_file", "times"), [(True, 1), (False, 1)])
def test_the_terminal_hears_the_warnings_once(tmp_path: Path, stderr_to_file: bool, times: int) -> None:
    """Under Helm (here: Helm 4's variable) the warnings go to /dev/tty, unless stderr is that
    terminal already: then they are there once, not twice."""
    stream = tmp_path / "in.yaml"
    stream.write_text(HELM3_STREAM)
    command = [sys.executable, "-m", "postrender", "--rules", str(DATABASE_RULES), TYPO]
    shell = f"{shlex.join(command)} <{shlex.quote(str(stream))} >{shlex.quote(str(tmp_path / 'out.yaml'))}"
    if stderr_to_file:
        shell += f" 2>{shlex.quote(str(tmp_path / 'err.txt'))}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "HELM_"))}
    env.update({"HELM_PLUGIN_NAME": "velero-postrender", "XDG_STATE_HOME": str(tmp_path / "state")})
    done = subprocess.run(["script", "-qec", shell, "/dev/null"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("--set scratchSiz: no rule uses this parameter") == times, done.stdout
    assert TYPO_COMMENT in (tmp_path / "out.yaml").read_text()


# --- --strict and VELERO_POSTRENDER_STRICT ------------------------------------------------

STRICT_CASES = {
    "an unused --set key": ([TYPO], HELM3_STREAM, "--set scratchSiz: no rule uses this parameter"),
    "a hook using a variable its container does not define": (
        [], HELM3_STREAM.replace("{name: POSTGRES_DB, value: d}", "{name: OTHER, value: d}"),
        "the hook uses $POSTGRES_DB"),
    "a rule that matched nothing": (
        ["--rules", str(RULES / "hook-jobs.yaml")], HELM3_STREAM, "rule 'hook-jobs': match: matched no resource"),
    "a misspelt environment variable": ([], HELM3_STREAM, "VELERO_POSTRENDER_PRESET is not read"),
}


@pytest.mark.parametrize("case", STRICT_CASES)
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_strict_turns_every_warning_into_an_error(case: str, how: str) -> None:
    args, stream, message = STRICT_CASES[case]
    env = {"VELERO_POSTRENDER_PRESET": "postgresql"} if "environment variable" in case else {}
    base = ["--rules", str(DATABASE_RULES), *args]
    relaxed = run_cli(base, stdin=stream, env=env)
    assert relaxed.returncode == 0, relaxed.stderr
    assert "warning: " in relaxed.stderr.decode() and message in relaxed.stderr.decode()
    strict = run_cli([*base, "--strict"] if how == "flag" else base, stdin=stream,
                     env={**env, **({"VELERO_POSTRENDER_STRICT": "1"} if how == "environment" else {})})
    err = strict.stderr.decode()
    assert strict.returncode == 1 and strict.stdout == b"", err
    assert "warning:" not in err and any(line.startswith("error: ") and message in line for line in err.splitlines())


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_strict_environment_off(value: str) -> None:
    result = run_cli(["--rules", str(DATABASE_RULES), TYPO], stdin=HELM3_STREAM, env={"VELERO_POSTRENDER_STRICT": value})
    assert result.returncode == 0, result.stderr


def test_a_wrong_strict_value_is_a_usage_error() -> None:
    result = run_cli(["--rules", str(DATABASE_RULES)], stdin=HELM3_STREAM, env={"VELERO_POSTRENDER_STRICT": "maybe"})
    assert result.returncode == 2 and result.stdout == b""
    assert "VELERO_POSTRENDER_STRICT='maybe'" in result.stderr.decode()


@pytest.mark.parametrize("command", [["diff"], ["export", "flux"]])
def test_strict_from_the_environment_on_other_commands(command: list[str]) -> None:
    result = run_cli([*command, "--rules", str(DATABASE_RULES), TYPO], stdin=HELM3_STREAM,
                     env={"VELERO_POSTRENDER_STRICT": "true"})
    assert result.returncode == 1, result.stderr
    assert "error: --set scratchSiz" in result.stderr.decode()


# --- did you mean ---------------------------------------------------------------------------

def test_did_you_mean() -> None:
    assert did_you_mean("scratchSiz", ["scratchSize", "scratchMedium"]) == "scratchSize"
    assert did_you_mean("postgres", ["mysql", "postgresql", "redis"]) == "postgresql"
    assert did_you_mean("nothing-like-it", ["scratchSize"]) is None
    assert did_you_mean("same", ["same"]) is None


def test_a_preset_name_close_to_a_shipped_one() -> None:
    result = run_cli(["--preset", "postgres"], stdin=HELM3_STREAM)
    assert result.returncode == 1
    assert "no preset named 'postgres' (did you mean 'postgresql'?)" in result.stderr.decode()
    shown = run_cli(["presets", "postgres"])
    assert shown.returncode == 1 and "(did you mean 'postgresql'?)" in shown.stderr.decode()


def test_a_set_key_close_to_a_parameter_of_the_rules() -> None:
    result = run_cli(["--rules", str(DATABASE_RULES), TYPO], stdin=HELM3_STREAM)
    assert f"warning: {TYPO_WARNING}" in result.stderr.decode().splitlines()
    far = run_cli(["--rules", str(DATABASE_RULES), "--set", "zzz=1"], stdin=HELM3_STREAM)
    assert "warning: --set zzz: no rule uses this parameter\n" in far.stderr.decode()


def test_environment_variables_close_to_a_known_one() -> None:
    known = ("VELERO_POSTRENDER_PRESETS", "VELERO_POSTRENDER_RULES", "VELERO_POSTRENDER_MAX_INPUT_BYTES")
    found = unknown_environment(known, {"VELERO_POSTRENDER_PRESET": "x", "VELERO_POSTRENDER_RULE": "y",
                                        "VELERO_POSTRENDER_MAX_INPUT_SIZE": "1", "VELERO_POSTRENDER_PRESETS": "ok",
                                        "VELERO_POSTRENDER_REQUIRE_ALL": "1", "VELERO_POSTRENDER_SKIP_HELM": "1",
                                        "VELERO_POSTRENDER_TEST_CACHE": "/c", "OTHER_PRESET": "z"})
    assert [p.render() for p in found] == [
        "warning: environment variable VELERO_POSTRENDER_MAX_INPUT_SIZE is not read by velero-postrender "
        "(did you mean VELERO_POSTRENDER_MAX_INPUT_BYTES?)",
        "warning: environment variable VELERO_POSTRENDER_PRESET is not read by velero-postrender "
        "(did you mean VELERO_POSTRENDER_PRESETS?)",
        "warning: environment variable VELERO_POSTRENDER_RULE is not read by velero-postrender "
        "(did you mean VELERO_POSTRENDER_RULES?)",
    ]


def test_every_variable_the_program_reads_is_known() -> None:
    """No false alarm for a variable that the command line, the plugin mode or the launcher reads."""
    names = {"VELERO_POSTRENDER_" + name for name in (
        "RULES", "PRESETS", "SET", "STRICT", "MAX_INPUT_BYTES", "MAX_ALIAS_EXPANSION", "MAX_DEPTH", "ERROR_LOG",
        "NO_TTY", "WARNING_COMMENTS", "PYTHON", "VENV", "PIP_ARGS")}
    launcher = (ROOT / "bin" / "velero-postrender").read_text()
    assert {name for name in names if name in launcher} >= {"VELERO_POSTRENDER_PYTHON", "VELERO_POSTRENDER_VENV"}
    env = {name: "0" for name in names} | {"VELERO_POSTRENDER_RULES": str(DATABASE_RULES),
                                           "VELERO_POSTRENDER_PRESETS": "", "VELERO_POSTRENDER_SET": "scratchSize=1Gi",
                                           "VELERO_POSTRENDER_ERROR_LOG": "", "VELERO_POSTRENDER_NO_TTY": "1"}
    for limit in ("MAX_INPUT_BYTES", "MAX_ALIAS_EXPANSION", "MAX_DEPTH"):
        env[f"VELERO_POSTRENDER_{limit}"] = "16Mi" if limit == "MAX_INPUT_BYTES" else "1000"
    result = run_cli([], stdin=HELM3_STREAM, env=env)
    assert result.returncode == 0, result.stderr
    assert b"is not read by velero-postrender" not in result.stderr


# --- escaped on stderr and in the comments ------------------------------------------------

def test_a_value_cannot_forge_lines() -> None:
    forged = "x\nerror: forged\x1b[2K\u2028y=1"
    result = run_cli(["--rules", str(DATABASE_RULES), "--set", forged], stdin=HELM3_STREAM,
                     env={"VELERO_POSTRENDER_WARNING_COMMENTS": "1"})
    assert result.returncode == 0, result.stderr
    err = result.stderr.decode()
    assert "\x1b" not in err and "\u2028" not in err
    assert all(line.startswith("warning: ") for line in err.splitlines())
    assert "--set x\\nerror: forged\\e[2K\\u2028y: no rule uses this parameter" in err
    out = result.stdout.decode()
    assert "\x1b" not in out and not any(line.startswith("error: forged") for line in out.splitlines())
    assert without_comments(out) == run_cli(["--rules", str(DATABASE_RULES), "--set", forged],
                                            stdin=HELM3_STREAM).stdout.decode()


# --- messages name the user's files, not kustomize's temporary copy -------------------------

def test_kustomize_config_problems_name_the_kustomization(tmp_path: Path) -> None:
    directory = tmp_path / "overlay"
    directory.mkdir()
    config = tmp_path / "kust-plugin-config-123456"  # what kustomize passes
    config.write_text("apiVersion: velero-postrender.io/v1\nkind: VeleroHooks\nmetadata: {name: hooks}\n"
                      "presets: [postgres]\ncolour: blue\nrules:\n  - name: x\n    match: {kinds: [Pod]}\n"
                      "    hooks: {preBackup: {timeout: 3}}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VELERO_POSTRENDER_")}
    env["KUSTOMIZE_PLUGIN_CONFIG_ROOT"] = str(directory)
    done = subprocess.run([sys.executable, "-m", "postrender.integrations.kustomize", str(config)],
                          input="", capture_output=True, text=True, env=env, cwd=directory, timeout=120)
    assert done.returncode == 1
    assert str(config) not in done.stderr
    assert f"VeleroHooks hooks in kustomization {directory}: colour: unknown field" in done.stderr
    config.write_text("apiVersion: velero-postrender.io/v1\nkind: VeleroHooks\nmetadata: {name: hooks}\n"
                      "presets: [postgres]\n")
    done = subprocess.run([sys.executable, "-m", "postrender.integrations.kustomize", str(config)],
                          input="", capture_output=True, text=True, env=env, cwd=directory, timeout=120)
    assert "no preset named 'postgres' (did you mean 'postgresql'?)" in done.stderr
    config.write_text("kind: [unclosed\n")
    done = subprocess.run([sys.executable, "-m", "postrender.integrations.kustomize", str(config)],
                          input="", capture_output=True, text=True, env=env, cwd=directory, timeout=120)
    assert done.returncode == 1 and str(config) not in done.stderr
    assert f"kustomization {directory}: cannot read the VeleroHooks config" in done.stderr
    assert len(done.stderr.splitlines()) == 1


def test_kustomize_inline_rules_are_named_after_the_resource(tmp_path: Path) -> None:
    from postrender.errors import PostRenderError
    from postrender.integrations.kustomize import parse_config, transform
    from postrender.stream.reader import TextReader
    from postrender.writers.stream import TextWriter

    config = parse_config({"apiVersion": "velero-postrender.io/v1", "kind": "VeleroHooks",
                           "metadata": {"name": "hooks"},
                           "rules": [{"name": "x", "match": {"kinds": ["Pod"]}, "hooks": {"preBackup": {
                               "command": ["sync"], "timeout": "3 minutes"}}}]},
                          f"kustomization {tmp_path}", tmp_path)
    with pytest.raises(PostRenderError) as caught:
        transform(config, TextReader(""), TextWriter())
    assert f"VeleroHooks hooks in kustomization {tmp_path}:" in str(caught.value)
    assert "<inline rules" not in str(caught.value)


# --- the real Helm 3 and Helm 4 ---------------------------------------------------------------

def helm(binary: Path, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


def the_warning_opens_a_document(output: str, first: bool) -> None:
    """The comment sits above a document's first key (Helm 3: of the first document; Helm 4
    regroups the documents by template file, and the comment stays with its document)."""
    assert TYPO_COMMENT in output, output[:2000]
    before, after = output.split(TYPO_COMMENT + "\n", 1)
    assert after.splitlines()[0].startswith("apiVersion: "), after[:200]
    if first:
        assert "\nkind:" not in before and not before.startswith("kind:"), "the comment opens the first document"


@pytest.mark.helm
def test_helm3_template_shows_the_warning(tmp_path: Path) -> None:
    helm3 = require_helm(HELM3)
    env = tool_env(tmp_path, clean_path(helm3.parent, scripts_dir_with_console_script()))
    args = ["template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender",
            f"--post-renderer-args=--rules={DATABASE_RULES}", f"--post-renderer-args={TYPO}"]
    done = helm(helm3, args, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert TYPO_WARNING not in done.stderr  # Helm 3 dropped our stderr: the comment is what the user sees
    the_warning_opens_a_document(done.stdout, first=True)
    assert_database_only(resources(done.stdout), size="512Mi")
    shown = helm(helm3, [*args, "--show-only", "templates/database.yaml"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert list(resources(shown.stdout)) == [("StatefulSet", "shop-database")]
    strict = helm(helm3, [*args, "--post-renderer-args=--strict"], env, tmp_path)
    assert strict.returncode != 0 and f"error: {TYPO_WARNING}" in strict.stderr


@pytest.mark.helm
@pytest.mark.slow
def test_helm4_template_shows_the_warning(tmp_path: Path) -> None:
    """The plugin installed from a copy of the repository; its launcher builds its venv once."""
    binary = require_helm(HELM4)
    env = launcher_env(tmp_path, binary.parent)
    installed = helm(binary, ["plugin", "install", str(plugin_copy())], env, tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    args = ["template", "shop", str(WEBSHOP), "--post-renderer", "velero-postrender",
            f"--post-renderer-args=--rules={DATABASE_RULES}", f"--post-renderer-args={TYPO}"]
    done = helm(binary, args, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert TYPO_WARNING not in done.stderr
    the_warning_opens_a_document(done.stdout, first=False)
    assert_database_only(resources(done.stdout), size="512Mi")
    shown = helm(binary, [*args, "--show-only", "templates/database.yaml"], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert list(resources(shown.stdout)) == [("StatefulSet", "shop-database")]
    strict = helm(binary, args, {**env, "VELERO_POSTRENDER_STRICT": "1"}, tmp_path)
    assert strict.returncode != 0
    log = tmp_path / "state" / "velero-postrender" / "error.log"
    assert f"error: {TYPO_WARNING}" in log.read_text()
