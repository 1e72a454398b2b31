"""The command line (CONTRACT §3). The root command is what Helm runs: manifests on stdin,
manifests on stdout, nothing on stdout unless the whole run succeeded.

Exit codes: 0 success, 1 a problem with the input, the rules or a conflict, 2 a usage error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from postrender.cli import diff, explain, lint, presets, schema
from postrender.cli.fast import run_root
from postrender.cli.options import (
    AllowUnmatchedOption,
    PresetOption,
    RulesOption,
    SetOption,
    StrictOption,
    reported,
)

app = typer.Typer(
    name="velero-postrender",
    help="Merge Velero backup hooks into rendered Kubernetes manifests (a Helm post-renderer).",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

def _version(value: bool) -> None:
    if value:
        from postrender import version

        typer.echo(f"velero-postrender {version()}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
@reported
def root(
    ctx: typer.Context,
    rules: RulesOption = None,
    preset: PresetOption = None,
    set_: SetOption = None,
    strict: StrictOption = False,
    allow_unmatched: AllowUnmatchedOption = False,
    max_input_bytes: Annotated[str | None, typer.Option(
        "--max-input-bytes", metavar="SIZE", show_default=False,
        help="Refuse a larger input (default 16Mi). Env: VELERO_POSTRENDER_MAX_INPUT_BYTES.")] = None,
    max_alias_expansion: Annotated[str | None, typer.Option(
        "--max-alias-expansion", metavar="NODES", show_default=False,
        help="Refuse YAML aliases expanding to more nodes (default 10000). "
             "Env: VELERO_POSTRENDER_MAX_ALIAS_EXPANSION.")] = None,
    max_depth: Annotated[str | None, typer.Option(
        "--max-depth", metavar="LEVELS", show_default=False,
        help="Refuse deeper nesting (default 200). Env: VELERO_POSTRENDER_MAX_DEPTH.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Read manifests on stdin, merge Velero hooks from the rules, write them to stdout.

    Examples:

      helm template rel chart/ | velero-postrender --preset postgresql

      helm install rel chart/ --post-renderer velero-postrender --post-renderer-args=--rules=r.yaml
    """
    if ctx.invoked_subcommand is not None:
        return
    run_root(rules, preset, set_, strict, allow_unmatched, max_input_bytes, max_alias_expansion, max_depth)


def main() -> None:
    """Console-script entry point; see ``postrender.cli.fast`` (the root command skips Typer there)."""
    from postrender.cli.fast import main as entry_main

    entry_main()


# --- subcommands: explain, diff, lint, presets, schema (postrender/commands/) ----------------
# Registered last: they reuse the options and ``reported`` defined above.
app.info.epilog = (
    "\b\nExamples:\n"
    "  helm install rel chart/ --post-renderer velero-postrender --post-renderer-args=--preset=postgresql\n"
    "  helm template rel chart/ | velero-postrender --rules rules.yaml | kubectl apply -f -\n"
    "  helm template rel chart/ | velero-postrender explain --rules rules.yaml\n"
    "  velero-postrender lint rules.yaml\n"
    "\nRun 'velero-postrender COMMAND --help' for the options of a command."
)

app.command("explain", no_args_is_help=False)(explain.explain)
app.command("diff")(diff.diff)
app.command("lint")(lint.lint)
app.command("presets")(presets.presets)
app.command("schema")(schema.schema)


if __name__ == "__main__":  # pragma: no cover
    main()
