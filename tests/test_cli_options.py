"""The option table (postrender/cli/options.py) is the one definition of every option: the Typer
commands are built from it, no source spells an option a second time, docs/cli.md lists it, the
limits behave the same on every command that runs the pipeline, and the fast path stays free of
Typer, Click and rich."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
import typer
from conftest import EXAMPLES, ROOT, run_cli
from typer.testing import CliRunner

from postrender.cli.app import app
from postrender.cli.common import with_options
from postrender.cli.options import COMMANDS, HELP, OPTIONS, option, options_of
from postrender.cli.options import ROOT as ROOT_COMMAND

REFERENCE_RULES = EXAMPLES / "reference" / "rules.yaml"
REFERENCE_MANIFESTS = EXAMPLES / "reference" / "postgresql-8.7.4.yaml"
DOCS = ROOT / "docs" / "cli.md"
START, END = "<!-- options: generated from postrender/cli/options.py -->", "<!-- options: end -->"


def click_commands() -> dict[str, Any]:
    """Every command of the application by its path ('' for the root, 'export flux'...)."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: str) -> None:
        found[path] = command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), ROOT_COMMAND)
    return found


def table_options_of(command: Any) -> dict[str, Any]:
    """The command's Click options whose name is an option of the table."""
    names = {entry.name for entry in OPTIONS}
    return {param.name: param for param in command.params if param.param_type_name == "option" and param.name in names}


# --- the table itself -------------------------------------------------------------------

def test_names_and_spellings_are_unique_and_well_formed() -> None:
    """Names are unique; a spelling is unique within each command (two commands may give ``-o``
    different choices, as two entries)."""
    names = [entry.name for entry in OPTIONS]
    assert len(names) == len(set(names))
    for command in COMMANDS:
        flags = [flag for entry in (*options_of(command), option("help")) for flag in entry.flags]
        assert len(flags) == len(set(flags)), command
    for entry in OPTIONS:
        assert entry.name.isidentifier(), entry
        assert entry.flags[0].startswith("--") and all(re.fullmatch(r"--[a-z][a-z-]*|-[a-zA-Z]", f) for f in entry.flags)
        assert entry.help.endswith(".") and entry.help[0].isupper(), entry
        assert (entry.default in entry.choices or entry.eager) if entry.choices else entry.default is None, entry
    for command, listed in COMMANDS.items():
        assert len(listed) == len(set(listed)), command
        options_of(command)  # every name is in the table


def test_an_option_is_immutable() -> None:
    with pytest.raises(AttributeError):
        option("rules").help = "changed"  # type: ignore[misc]


# --- the commands are built from it -------------------------------------------------------

def test_every_command_of_the_table_has_exactly_its_options() -> None:
    commands = click_commands()
    for path, listed in COMMANDS.items():
        assert path in commands, f"COMMANDS names {path!r}, which the application does not have"
        assert list(table_options_of(commands[path])) == list(listed), path


def test_every_option_of_the_application_is_spelled_and_explained_by_the_table() -> None:
    """Also for commands that declare their parameters by hand (lint): same flags, help, metavar."""
    for path, command in click_commands().items():
        for name, param in table_options_of(command).items():
            entry = option(name)
            assert (param.opts, param.secondary_opts) == (list(entry.flags), []), (path, name)
            assert param.help == entry.help_text, (path, name)
            assert param.metavar == (entry.metavar or None), (path, name)


@pytest.mark.parametrize("path", sorted(COMMANDS) + ["lint", "presets", "schema", "export"])
@pytest.mark.parametrize("flag", option("help").flags)
def test_every_command_takes_the_help_flags_of_the_table(path: str, flag: str) -> None:
    result = CliRunner().invoke(app, [*path.split(), flag])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: velero-postrender {path}".rstrip())


def test_no_command_module_spells_an_option_of_the_table_again() -> None:
    """The command line's modules take every spelling from the table. (Lower layers, such as
    postrender/limits.py, name a flag in their messages: they cannot import the command line.)"""
    flags = {flag for entry in OPTIONS for flag in entry.flags}
    offenders = []
    for path in sorted((ROOT / "postrender" / "cli").glob("*.py")):
        if path.name == "options.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in flags:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert not offenders, "write the option in postrender/cli/options.py instead:\n" + "\n".join(offenders)


def test_with_options_refuses_a_command_that_drifts_from_the_table() -> None:
    def lacks_max_depth(rules: list[str] | None = None, presets: list[str] | None = None,
                        settings: list[str] | None = None, strict: bool = False, allow_unmatched: bool = False,
                        file: str | None = None, color: str = "auto", max_input_bytes: str | None = None,
                        max_alias_expansion: str | None = None) -> None:
        pass

    with pytest.raises(TypeError, match="max_depth"):
        with_options("diff")(lacks_max_depth)

    def takes_wide(wide: bool = False, **options: Any) -> None:
        pass

    with pytest.raises(TypeError, match="'wide' is not in COMMANDS"):
        with_options("diff")(takes_wide)

    def root_without_callbacks(**options: Any) -> None:
        pass

    with pytest.raises(TypeError, match="needs a callback"):
        with_options(ROOT_COMMAND)(root_without_callbacks)


# --- docs/cli.md lists every option -------------------------------------------------------

def options_reference() -> str:
    """The option reference of docs/cli.md, made from the table and the application's commands."""
    commands = click_commands()
    rows = ["| Option | Value | Commands | Environment | Description |", "|---|---|---|---|---|"]
    for entry in OPTIONS:
        if entry.kind == HELP:
            where = "all"
        else:
            where = ", ".join(path or "(root)" for path, command in commands.items() if entry.name in
                              table_options_of(command))
        value = entry.metavar + (f" ({', '.join(entry.choices)})" if entry.choices else "")
        description = entry.help.replace("|", "\\|")
        rows.append(f"| `{', '.join(entry.flags)}` | {value} | {where} | {entry.env and f'`{entry.env}`'} | "
                    f"{description} |")
    return "\n".join(rows)


def test_docs_list_every_option() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert START in text and END in text
    written = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert written == options_reference(), f"replace the table in docs/cli.md with:\n{options_reference()}"


# --- the limits: same flags, same environment, same verdict for root, diff and explain ------

DEEP_COMMANDS = [[], ["diff"], ["explain"], ["explain", "-o", "json"]]


@pytest.mark.parametrize("command", DEEP_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_max_depth_from_flag_or_environment_on_every_command(command: list[str], how: str) -> None:
    args = [*command, "-r", str(REFERENCE_RULES)]
    env = {"VELERO_POSTRENDER_MAX_DEPTH": "3"} if how == "environment" else {}
    if how == "flag":
        args += ["--max-depth", "3"]
    result = run_cli(args, stdin=REFERENCE_MANIFESTS.read_bytes(), env=env)
    assert result.returncode == 1, result.stderr
    if "json" in command:
        document = json.loads(result.stdout)
        assert "nesting deeper than 3 levels" in document["problems"][0]["message"]
        assert result.stderr == b""
    else:
        assert result.stdout == b"" and b"nesting deeper than 3 levels" in result.stderr


@pytest.mark.parametrize("command", DEEP_COMMANDS[:3], ids=" ".join)
def test_a_limit_flag_wins_over_the_environment(command: list[str]) -> None:
    env = {"VELERO_POSTRENDER_MAX_DEPTH": "3", "VELERO_POSTRENDER_MAX_INPUT_BYTES": "10"}
    result = run_cli([*command, "-r", str(REFERENCE_RULES), "--max-depth=50", "--max-input-bytes", "1Mi"],
                     stdin=REFERENCE_MANIFESTS.read_bytes(), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout


@pytest.mark.parametrize("command", DEEP_COMMANDS[:3], ids=" ".join)
def test_an_invalid_limit_is_a_usage_error_on_every_command(command: list[str]) -> None:
    result = run_cli([*command, "-r", str(REFERENCE_RULES), "--max-alias-expansion", "many"],
                     stdin=REFERENCE_MANIFESTS.read_bytes())
    assert result.returncode == 2 and result.stdout == b""
    assert "--max-alias-expansion 'many': expected a positive integer" in result.stderr.decode()


# --- start-up -----------------------------------------------------------------------------

def test_the_root_command_imports_no_cli_framework() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "_"))}
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "postrender", "--preset", "postgresql"],
                            input=REFERENCE_MANIFESTS.read_bytes(), capture_output=True, cwd=ROOT, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines() if "|" in line}
    assert "postrender.cli.fast" in imported and "postrender.cli.options" in imported
    heavy = sorted(name for name in imported if name.split(".")[0] in ("typer", "click", "rich", "shellingham"))
    assert not heavy, heavy
    assert "postrender.cli.app" not in imported and "postrender.cli.common" not in imported


def test_help_and_version_still_reach_typer_through_the_entry_point() -> None:
    assert b"--show-completion SHELL" in run_cli(["-h"]).stdout
    assert run_cli(["-V"]).stdout.startswith(b"velero-postrender ")


def test_typo_in_an_option_is_a_usage_error_with_a_suggestion() -> None:
    result = run_cli(["--preest", "postgresql"], stdin=REFERENCE_MANIFESTS.read_bytes())
    assert result.returncode == 2 and result.stdout == b""
    assert "No such option: --preest" in result.stderr.decode()
