"""Shell completion through the real protocol: the console entry point run as the scripts of
``--show-completion`` run it (environment variables, no arguments, stdin left open), and those
scripts loaded into real bash, zsh and fish.

A completion request must never be taken for a run of the post-renderer: every process here
gets a stdin pipe that is never closed, so a run that read it would hang until the timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT

from postrender.ruleset.presets import preset_names

TIMEOUT = 60
COMMANDS = ["diff", "explain", "export", "lint", "presets", "schema"]


def base_environment(home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VELERO_POSTRENDER_", "HELM_PLUGIN", "_"))
           and not k.endswith("_COMPLETE")}
    if home is not None:
        env |= {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local")}
    return env


def run_open_stdin(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[int, str, str]:
    """Run with a stdin pipe that stays open until the process ended: reading it would hang."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env, cwd=cwd)
        try:
            code = process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"{argv} did not finish in {TIMEOUT}s: it waited for stdin")
        finally:
            assert process.stdin is not None
            process.stdin.close()
        out.seek(0)
        err.seek(0)
        return code, out.read().decode(), err.read().decode()


def request(instruction: str, extra: dict[str, str]) -> tuple[int, str, str]:
    """One completion request to ``python -m postrender``, as a shell's script makes it."""
    env = base_environment() | {"_VELERO_POSTRENDER_COMPLETE": instruction} | extra
    return run_open_stdin([sys.executable, "-m", "postrender"], env)


def bash_candidates(line: str) -> list[str]:
    """What bash's completion function gets for the command ``line`` (the cursor at its end)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    code, out, err = request("complete_bash", {"COMP_WORDS": line, "COMP_CWORD": str(cword)})
    assert code == 0, err
    return out.split()


# --- the protocol, as the scripts speak it -------------------------------------------------

@pytest.mark.parametrize(("line", "expected"), [
    ("velero-postrender ", COMMANDS),
    ("velero-postrender ex", ["explain", "export"]),
    ("velero-postrender --preset post", ["postgresql"]),
    ("velero-postrender -p ", preset_names()),
    ("velero-postrender explain --preset m", [name for name in preset_names() if name.startswith("m")]),
    ("velero-postrender lint -p postg", ["postgresql"]),
    ("velero-postrender export flux --preset re", ["redis"]),
    ("velero-postrender explain -o ", ["text", "json"]),
    ("velero-postrender diff --color a", ["auto", "always"]),
    ("velero-postrender diff --col", ["--color"]),
    ("velero-postrender --max-d", ["--max-depth"]),
    ("velero-postrender -", None),
    ("velero-postrender --show-completion ", ["bash", "zsh", "fish", "powershell", "pwsh"]),
    ("velero-postrender --rules ", []),  # the shell falls back to file names
    ("velero-postrender explain --file ", []),
])
def test_bash_protocol(line: str, expected: list[str] | None) -> None:
    candidates = bash_candidates(line)
    if expected is None:  # every root option
        assert {"--rules", "-r", "--preset", "--version", "-V", "--show-completion", "--help"} <= set(candidates)
    else:
        assert sorted(candidates) == sorted(expected)


def test_presets_complete_with_every_shipped_preset() -> None:
    assert "postgresql" in preset_names() and len(preset_names()) >= 5
    assert bash_candidates("velero-postrender --preset ") == preset_names()


def test_zsh_protocol() -> None:
    code, out, err = request("complete_zsh", {"_TYPER_COMPLETE_ARGS": "velero-postrender --preset post"})
    assert code == 0, err
    assert out.strip() == """_arguments '*: :(("postgresql"))'"""
    code, out, err = request("complete_zsh", {"_TYPER_COMPLETE_ARGS": "velero-postrender --rules "})
    assert (code, out.strip()) == (0, "_files")


def test_fish_protocol() -> None:
    args = {"_TYPER_COMPLETE_ARGS": "velero-postrender --preset post", "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    code, out, err = request("complete_fish", args)
    assert (code, out.split()) == (0, ["postgresql"]), err
    code, _, _ = request("complete_fish", args | {"_TYPER_COMPLETE_FISH_ACTION": "is-args"})
    assert code == 0  # candidates: fish shows them instead of file names
    code, _, _ = request("complete_fish", {"_TYPER_COMPLETE_ARGS": "velero-postrender -r ",
                                           "_TYPER_COMPLETE_FISH_ACTION": "is-args"})
    assert code == 1  # none: fish completes file names


def test_a_completion_request_with_an_empty_command_line_is_not_a_run() -> None:
    """The shell calls the program without arguments; before, that was a root run reading stdin."""
    code, out, err = request("complete_bash", {"COMP_WORDS": "velero-postrender", "COMP_CWORD": "1"})
    assert code == 0 and err == ""
    assert set(COMMANDS) <= set(out.split())


@pytest.mark.parametrize("instruction", ["source_bash", "bash_source"])
def test_the_script_from_the_environment(instruction: str) -> None:
    code, out, err = request(instruction, {})
    assert code == 0, err
    assert "_VELERO_POSTRENDER_COMPLETE=complete_bash" in out
    assert out.rstrip().endswith("complete -o default -F _velero_postrender_completion velero-postrender")


def test_show_completion_takes_the_shell_or_says_which_are_known() -> None:
    env = base_environment()
    for shell, marker in (("bash", "complete_bash"), ("zsh", "#compdef velero-postrender"), ("fish", "complete_fish")):
        code, out, err = run_open_stdin([sys.executable, "-m", "postrender", "--show-completion", shell], env)
        assert code == 0 and marker in out, err
    code, out, err = run_open_stdin([sys.executable, "-m", "postrender", "--show-completion", "tcsh"], env)
    assert code == 2 and out == ""
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish', 'powershell', 'pwsh'" in err


# --- real shells ---------------------------------------------------------------------------

@pytest.fixture
def on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has ``velero-postrender``, the console entry point as installed
    (``python -m postrender`` of this interpreter), and a HOME of its own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "velero-postrender"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m postrender "$@"\n', encoding="utf-8")
    launcher.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = base_environment(home)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def shell(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return found


def test_bash_loads_the_script_and_completes(on_path: dict[str, str], tmp_path: Path) -> None:
    script = """
source <(velero-postrender --show-completion bash)
complete -p velero-postrender
COMP_WORDS=(velero-postrender --preset post); COMP_CWORD=2
_velero_postrender_completion velero-postrender
echo "presets: ${COMPREPLY[*]}"
COMP_WORDS=(velero-postrender exp); COMP_CWORD=1
_velero_postrender_completion velero-postrender
echo "commands: ${COMPREPLY[*]}"
"""
    code, out, err = run_open_stdin([shell("bash"), "--norc", "--noprofile", "-c", script], on_path, tmp_path)
    assert code == 0, err
    assert out.splitlines() == ["complete -o default -F _velero_postrender_completion velero-postrender",
                                "presets: postgresql", "commands: explain export"]


def test_bash_show_completion_without_a_shell_uses_the_running_one(on_path: dict[str, str], tmp_path: Path) -> None:
    code, out, err = run_open_stdin([shell("bash"), "--norc", "--noprofile", "-c",
                                     "velero-postrender --show-completion"], on_path, tmp_path)
    assert code == 0, err
    assert "complete_bash" in out


def test_install_completion_for_bash(on_path: dict[str, str], tmp_path: Path) -> None:
    home = Path(on_path["HOME"])
    code, out, err = run_open_stdin([shell("bash"), "--norc", "--noprofile", "-c",
                                     "velero-postrender --install-completion bash"], on_path, tmp_path)
    assert code == 0, err
    assert "bash completion installed in" in out
    installed = home / ".bash_completions" / "velero-postrender.sh"
    assert "_VELERO_POSTRENDER_COMPLETE=complete_bash" in installed.read_text(encoding="utf-8")
    # an interactive bash reads ~/.bashrc, which now loads the script
    code, out, err = run_open_stdin([shell("bash"), "-i", "-c", "complete -p velero-postrender"], on_path, tmp_path)
    assert "complete -o default -F _velero_postrender_completion velero-postrender" in out, err


def test_zsh_loads_the_script_and_completes(on_path: dict[str, str], tmp_path: Path) -> None:
    zsh = shell("zsh")
    script = r"""
autoload -U compinit && compinit -u -d "$HOME/.zcompdump"
source <(velero-postrender --show-completion zsh)
print -r -- "registered: $_comps[velero-postrender]"
_arguments() { print -r -- "arguments: $*" }  # what zsh's completion system would be given
words=(velero-postrender --preset post); CURRENT=3
_velero_postrender_completion
"""
    code, out, err = run_open_stdin([zsh, "-f", "-c", script], on_path, tmp_path)
    assert code == 0, err
    assert out.splitlines() == ["registered: _velero_postrender_completion", 'arguments: *: :(("postgresql"))']


def test_fish_loads_the_script_and_completes(on_path: dict[str, str], tmp_path: Path) -> None:
    fish = shell("fish")
    script = """
velero-postrender --show-completion fish | source
complete -C'velero-postrender --preset post'
echo ---
complete -C'velero-postrender ex'
"""
    code, out, err = run_open_stdin([fish, "--no-config", "-c", script], on_path, tmp_path)
    assert code == 0, err
    presets, commands = out.split("---\n")
    assert presets.split() == ["postgresql"]
    assert [line.split("\t")[0] for line in commands.splitlines()] == ["explain", "export"]
