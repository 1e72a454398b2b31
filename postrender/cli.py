"""The command line (CONTRACT §3). The root command is what Helm runs: manifests on stdin,
manifests on stdout, nothing on stdout unless the whole run succeeded.

Exit codes: 0 success, 1 a problem with the input, the rules or a conflict, 2 a usage error.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated, Any, Callable, TypeVar

import typer

from postrender import __version__
from postrender.errors import PostRenderError, UsageError, error
from postrender.report import print_problems

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2

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
        try:
            return command(*args, **kwargs)
        except PostRenderError as exc:
            print_problems(exc.problems)
            raise typer.Exit(EXIT_PROBLEM) from None
        except UsageError as exc:
            print_problems([error(str(exc))])
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"velero-postrender {__version__}")
        raise typer.Exit()


def rule_inputs(rules: list[str] | None, preset: list[str] | None, set_: list[str] | None) -> Any:
    from postrender.sources import RuleInputs

    return RuleInputs(tuple(rules or ()), tuple(preset or ()), tuple(set_ or ())).with_environment()


def read_stdin(max_bytes: int | None = None) -> str:
    from postrender.stream import decode, read_bounded

    return decode(read_bounded(sys.stdin.buffer, max_bytes))


EMPTY_OUTPUT_FOR_HELM4 = "# velero-postrender: the input held no manifests\n"


def write_stdout(text: str) -> None:
    """Write the whole stream at once; under Helm 4, which refuses empty output, a comment."""
    import os

    if not text and os.environ.get("HELM_PLUGIN_NAME"):
        text = EMPTY_OUTPUT_FOR_HELM4
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


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
    from postrender.limits import Limits
    from postrender.pipeline import Options, render_stream
    from postrender.sources import build_ruleset

    limits = Limits.from_settings(max_input_bytes, max_alias_expansion, max_depth)
    ruleset = build_ruleset(rule_inputs(rules, preset, set_))
    text = read_stdin(limits.max_input_bytes)
    result = render_stream(text, ruleset, Options(strict=strict, allow_unmatched=allow_unmatched, limits=limits))
    print_problems(result.warnings)
    write_stdout(result.text)


def main() -> None:
    """Console-script entry point (under Helm 4, failures also go to the error log: postrender.helm)."""
    from postrender.helm import run_logged

    run_logged(app)


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
