"""Docs that cannot go stale: every velero-postrender command in README.md and docs/*.md names a
command and options that exist, and README's rules sample loads and renders.

A command sample is any line of a ```sh block (or an inline `code` span) that runs
`velero-postrender`; the options are checked against the real Click command Typer builds, and
`--post-renderer-args=--X` options against the root command.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
from conftest import EXAMPLES, ROOT, run_cli

from postrender.cli.app import app

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```(?:sh|bash|console|shell)\n(.*?)```", re.S)
INLINE = re.compile(r"`([^`\n]*velero-postrender [^`\n]*)`")
STOP = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"}


def root_command() -> Any:
    """The Click command Typer builds (Typer 0.29 carries its own copy of Click: duck-typed here)."""
    command = typer.main.get_command(app)
    assert hasattr(command, "commands")
    return command


def samples() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        lines = [line for block in FENCE.findall(text) for line in block.replace("\\\n", " ").splitlines()]
        lines += INLINE.findall(text)
        for line in lines:
            line = line.split(" #", 1)[0].strip()
            if "velero-postrender" in line and not line.startswith("#"):
                found.append((path.name, line))
    return found


def words_after(tokens: list[str], start: int) -> list[str]:
    words = []
    for token in tokens[start + 1:]:
        if token in STOP or token.startswith((">", "<", "2>")):
            break
        words.append(token)
    return words


LAUNCHER_OPTIONS = {"--bootstrap"}  # bin/velero-postrender's own: set up the plugin's environment


def check_invocation(words: list[str], where: str, launcher: bool = False) -> None:
    """``words`` follow ``velero-postrender``: a command path, then its options and arguments."""
    command = root_command()
    index = 0
    while hasattr(command, "commands") and index < len(words) and words[index] in command.commands:
        command = command.commands[words[index]]
        index += 1
    known = {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}
    known |= {"--help", "-h"} | (LAUNCHER_OPTIONS if launcher else set())
    for word in words[index:]:
        if word.startswith("-") and word != "-" and not re.fullmatch(r"-+[A-Z_]*", word):
            name = word.split("=", 1)[0]
            assert name in known, f"{where}: {name} is not an option of {command.name}: {sorted(known)}"


def test_the_docs_hold_command_samples() -> None:
    assert len(samples()) > 20


@pytest.mark.parametrize("where, line", samples(), ids=lambda value: str(value)[:60])
def test_every_command_sample_names_real_commands_and_options(where: str, line: str) -> None:
    line = re.sub(r"\$\([^)]*\)|<[^>\s]*>", "X", line)  # $(...) and <placeholders> stand for one word
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise AssertionError(f"{where}: not a shell line ({exc}): {line}") from None
    for position, token in enumerate(tokens):
        after_flag = position > 0 and tokens[position - 1] == "--post-renderer"  # a plugin name, not a run
        if token.endswith("velero-postrender") and not token.startswith("-") and not after_flag:
            after = words_after(tokens, position)
            if after[:1] and after[0] in ("plugin",):  # `helm plugin ... velero-postrender`
                continue
            check_invocation(after, f"{where}: {line}", launcher=token.endswith("bin/velero-postrender"))
        for prefix in ("--post-renderer-args=", "--post-renderer-args"):
            if token.startswith(prefix) and token != prefix:
                check_invocation([token[len(prefix):]], f"{where}: {line}")


def test_readme_rules_sample_loads_and_renders(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sample = re.search(r"```yaml\n(apiVersion: velero-postrender/v1.*?)```", readme, re.S)
    assert sample is not None
    rules = tmp_path / "rules.yaml"
    rules.write_text(sample.group(1), encoding="utf-8")
    linted = run_cli(["lint", str(rules)])
    assert linted.returncode == 0 and b"ok" in linted.stdout, linted.stderr
    manifests = (EXAMPLES / "reference" / "postgresql-8.7.4.yaml").read_bytes()
    rendered = run_cli(["--rules", str(rules)], manifests)
    assert rendered.returncode == 0, rendered.stderr
    assert b"post.hook.restore.velero.io/wait-timeout: 30m" in rendered.stdout


def test_readme_try_it_command_is_the_reference_run() -> None:
    """The newcomer's command runs the console script on the bundled example; the same arguments
    through ``python -m postrender`` hook the master StatefulSet."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.startswith("python3 -m venv .venv"))
    run_part = command.split("&& .venv/bin/velero-postrender ", 1)[1]
    args, stdin = run_part.split(" < ")
    result = run_cli(shlex.split(args), (ROOT / stdin.strip()).read_bytes())
    assert result.returncode == 0, result.stderr
    assert b"pre.hook.backup.velero.io/command" in result.stdout and b"mountPath: /scratch" in result.stdout
