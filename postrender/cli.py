"""The command line (CONTRACT §3). The root command is what Helm runs: manifests on stdin,
manifests on stdout, nothing on stdout unless the whole run succeeded.

Exit codes: 0 success, 1 a problem with the input, the rules or a conflict, 2 a usage error.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Callable, TypeVar

import typer

from postrender import __version__
from postrender.entry import (  # noqa: F401 - re-exported for the subcommands
    EMPTY_OUTPUT_FOR_HELM4,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    exit_code_of,
    read_stdin,
    rule_inputs,
    run_root,
    write_stdout,
)

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="velero-postrender",
    help="Merge Velero backup hooks into rendered Kubernetes manifests (a Helm post-renderer).",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

RulesOption = Annotated[list[str] | None, typer.Option(
    "--rules", "-r", metavar="FILE", help="Rules file (repeatable). Env: VELERO_POSTRENDER_RULES.")]
PresetOption = Annotated[list[str] | None, typer.Option(
    "--preset", "-p", metavar="NAME", help="Shipped preset (repeatable). Env: VELERO_POSTRENDER_PRESETS.")]
SetOption = Annotated[list[str] | None, typer.Option(
    "--set", "-s", metavar="KEY=VALUE", help="Value of a {{ KEY }} placeholder (repeatable). Env: VELERO_POSTRENDER_SET.")]
StrictOption = Annotated[bool, typer.Option("--strict", help="A rule that matches nothing is an error.")]
AllowUnmatchedOption = Annotated[bool, typer.Option(
    "--allow-unmatched", help="Succeed even when no rule matches any resource.")]


def reported(command: F) -> F:
    """Turn the project's errors into messages and exit codes; never a traceback for them."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result: list[Any] = []
        code = exit_code_of(lambda: result.append(command(*args, **kwargs)))
        if code != EXIT_OK:
            raise typer.Exit(code)
        return result[0] if result else None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"velero-postrender {__version__}")
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
    """Console-script entry point; see ``postrender.entry`` (the root command skips Typer there)."""
    from postrender.entry import main as entry_main

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

from postrender.commands import register  # noqa: E402

register(app)


if __name__ == "__main__":  # pragma: no cover
    main()
