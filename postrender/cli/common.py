"""What the Typer commands share: their options, built from the table in ``cli.options``; the
error reporting every command uses; where manifests come from; whether to use colour.

``with_options(command)`` gives a command function the Typer parameters of the options that
``COMMANDS[command]`` lists: spelling, help, metavar, type and completion all come from the
table, so the fast path (``cli.fast``) and Typer cannot read an option differently.
"""

from __future__ import annotations

import enum
import functools
import inspect
import os
import sys
import typing
from typing import Annotated, Any, Callable, Literal, Mapping, TextIO, TypeVar

import typer

from postrender.cli.options import CHOICE, PRESETS, REPEATED, SWITCH, VALUE, Option, option, options_of
from postrender.cli.root import EXIT_OK, exit_code_of
from postrender.limits import Limits
from postrender.ruleset.presets import preset_names
from postrender.stream.reader import FileReader, StdinReader
from postrender.stream.reader import reader_for as for_path

F = TypeVar("F", bound=Callable[..., Any])

_PYTHON_TYPES: dict[str, Any] = {VALUE: str | None, REPEATED: list[str] | None, SWITCH: bool}


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


# --- Typer parameters from the option table ----------------------------------------------

def complete_presets(incomplete: str) -> list[str]:
    """The shipped presets whose name starts with what was typed (shell completion)."""
    return [name for name in preset_names() if name.startswith(incomplete)]


def default_of(entry: Option) -> Any:
    """What the command receives when the option is absent."""
    return False if entry.kind == SWITCH else entry.default


def annotation_of(entry: Option, callback: Callable[..., Any] | None = None) -> Any:
    """``Annotated[type, typer.Option(...)]`` for one entry of the table."""
    if entry.kind == CHOICE:
        choices: Any = Literal.__getitem__(entry.choices)
        python_type: Any = choices if entry.default is not None else choices | None
    else:
        python_type = _PYTHON_TYPES[entry.kind]
    info = typer.Option(
        *entry.flags,
        metavar=entry.metavar or None,
        help=entry.help_text,
        show_default=entry.kind == CHOICE and entry.default is not None,
        case_sensitive=False,
        autocompletion=complete_presets if entry.complete == PRESETS else None,
        callback=callback,
        is_eager=entry.eager,
    )
    return Annotated[python_type, info]


def with_options(command: str, callbacks: Mapping[str, Callable[..., Any]] | None = None) -> Callable[[F], F]:
    """Give a command function the options of ``COMMANDS[command]`` as Typer parameters.

    The function names each option as a keyword parameter (its type annotation is only for
    the reader and mypy; Typer sees the table's) or takes them all with ``**options``. Its
    other parameters (``ctx``, arguments) come first, unchanged. An eager option needs its
    callback in ``callbacks``. A parameter named after an option the command does not list,
    or an option without a parameter, is a programming error raised at import.
    """
    entries = options_of(command)
    wanted = {entry.name for entry in entries}
    callbacks = callbacks or {}

    def decorate(function: F) -> F:
        hints = typing.get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
        own: list[inspect.Parameter] = []
        named: set[str] = set()
        takes_rest = False
        for parameter in signature.parameters.values():
            if parameter.kind is parameter.VAR_KEYWORD:
                takes_rest = True
            elif parameter.name in wanted:
                named.add(parameter.name)
            elif _is_table_option(parameter.name):
                raise TypeError(f"{function.__qualname__}: option {parameter.name!r} is not in COMMANDS[{command!r}]")
            else:
                own.append(parameter.replace(annotation=hints.get(parameter.name, parameter.annotation)))
        missing = [name for name in wanted - named if not takes_rest]
        if missing:
            raise TypeError(f"{function.__qualname__}: no parameter for the options {sorted(missing)}")
        table = [
            inspect.Parameter(entry.name, inspect.Parameter.KEYWORD_ONLY, default=default_of(entry),
                              annotation=annotation_of(entry, _callback(entry, callbacks, function)))
            for entry in entries
        ]

        @functools.wraps(function)
        def command_function(*args: Any, **kwargs: Any) -> Any:
            return function(*args, **kwargs)

        parameters = own + table
        command_function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command_function.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        return command_function  # type: ignore[return-value]

    return decorate


def _is_table_option(name: str) -> bool:
    try:
        option(name)
    except KeyError:
        return False
    return True


def _callback(entry: Option, callbacks: Mapping[str, Callable[..., Any]],
              function: Callable[..., Any]) -> Callable[..., Any] | None:
    if entry.eager and entry.name not in callbacks:
        raise TypeError(f"{function.__qualname__}: the eager option {entry.name!r} needs a callback")
    return callbacks.get(entry.name)


# --- manifests and colour ----------------------------------------------------------------

class ColorMode(str, enum.Enum):
    auto = "auto"
    always = "always"
    never = "never"


def use_color(mode: ColorMode | str, stream: TextIO | None = None) -> bool:
    """``auto`` follows https://no-color.org and only colours a real terminal."""
    mode = ColorMode(mode)
    if mode is ColorMode.always:
        return True
    if mode is ColorMode.never:
        return False
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def reader_for(file: str | None) -> StdinReader | FileReader:
    """The reader of ``--file FILE`` (``-`` or none: standard input), bounded like every reader."""
    return for_path(file)


def limits_of(max_input_bytes: str | None, max_alias_expansion: str | None, max_depth: str | None) -> Limits:
    """The limits of a run: the ``--max-*`` flags, else the environment, else the defaults."""
    return Limits.from_settings(max_input_bytes, max_alias_expansion, max_depth)
