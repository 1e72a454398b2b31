"""The command line. The root command is what Helm runs: manifests on stdin,
manifests on stdout, nothing on stdout unless the whole run succeeded.

Exit codes: 0 success, 1 a problem with the input, the rules or a conflict, 2 a usage error.

Every option comes from the table in ``postrender.cli.options`` (``with_options``); the
console entry (``postrender.cli.fast``) runs the root command without this module when the
arguments hold only its options, and calls ``run_app`` for everything else.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer._completion_classes import completion_init  # registers the classes; Typer does it only with add_completion
from typer.completion import install_callback, show_callback

from postrender.cli import diff, explain, export, lint, presets, schema
from postrender.cli.common import reported, with_options
from postrender.cli.options import ROOT, SHELLS, option, run_options
from postrender.cli.root import run_root

PROG_NAME = "velero-postrender"
COMPLETE_VAR = "_VELERO_POSTRENDER_COMPLETE"  # the shell scripts of --show-completion set it

app = typer.Typer(
    name=PROG_NAME,
    help="Merge Velero backup hooks into rendered Kubernetes manifests (a Helm post-renderer).",
    context_settings={"help_option_names": list(option("help").flags)},
    add_completion=False,  # the root command's own --show-completion/--install-completion take the SHELL
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
completion_init()  # Typer's completion classes (bash, zsh, fish, powershell) for the protocol of its scripts


def _version(ctx: typer.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from postrender import version  # importlib.metadata, only for --version

        typer.echo(f"{PROG_NAME} {version()}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
@reported
@with_options(ROOT, {"version": _version, "show_completion": show_callback, "install_completion": install_callback})
def root(ctx: typer.Context, **options: Any) -> None:
    """Read manifests on stdin, merge Velero hooks from the rules, write them to stdout.

    Examples:

      helm template rel chart/ | velero-postrender --preset postgresql

      helm install rel chart/ --post-renderer velero-postrender --post-renderer-args=--rules=r.yaml
    """
    if ctx.invoked_subcommand is not None:
        return
    run_root(**{entry.name: options[entry.name] for entry in run_options()})


def run_app(argv: list[str]) -> None:
    """Run the Typer application on ``argv`` as ``velero-postrender`` (also under ``python -m postrender``).

    Two conveniences before Typer parses: ``--show-completion``/``--install-completion``
    without a SHELL get the shell this process runs under, and Click's spelling of the
    completion request (``_VELERO_POSTRENDER_COMPLETE=bash_source``) is read as Typer's
    (``source_bash``).
    """
    completion_flags = (*option("show_completion").flags, *option("install_completion").flags)
    if argv and argv[-1] in completion_flags:
        detected = _detected_shell()
        argv = [*argv, detected] if detected else argv
    shell, _, action = os.environ.get(COMPLETE_VAR, "").partition("_")
    if shell in SHELLS and action == "source":
        os.environ[COMPLETE_VAR] = f"source_{shell}"
    app(args=argv, prog_name=PROG_NAME, complete_var=COMPLETE_VAR)


def _detected_shell() -> str | None:
    """The shell this process runs under, when it can be told (shellingham, as Typer does)."""
    try:
        import shellingham  # only for --show-completion without a SHELL

        name = shellingham.detect_shell()[0]
    except (ImportError, OSError):
        return None
    return str(name) if name in SHELLS else None


# --- subcommands ------------------------------------------------------------------------
app.info.epilog = (
    "\b\nExamples:\n"
    "  helm install rel chart/ --post-renderer velero-postrender --post-renderer-args=--preset=postgresql\n"
    "  helm template rel chart/ | velero-postrender --rules rules.yaml | kubectl apply -f -\n"
    "  helm template rel chart/ | velero-postrender explain --rules rules.yaml\n"
    "  velero-postrender lint rules.yaml\n"
    "  source <(velero-postrender --show-completion bash)\n"
    "\nRun 'velero-postrender COMMAND --help' for the options of a command."
)

app.command("explain", no_args_is_help=False)(explain.explain)
app.command("diff")(diff.diff)
app.command("lint")(lint.lint)
app.command("presets")(presets.presets)
app.command("schema")(schema.schema)
app.add_typer(export.app, name="export")

