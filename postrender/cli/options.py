"""The options that several commands share, and the error reporting every command uses."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Callable, TypeVar

import typer

from postrender.cli.fast import EXIT_OK, exit_code_of, rule_inputs  # noqa: F401 - rule_inputs for the commands

F = TypeVar("F", bound=Callable[..., Any])

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


