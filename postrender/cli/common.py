"""What the subcommands share: where manifests come from and whether to use colour."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from postrender.limits import Limits
from postrender.stream.reader import FileReader, StdinReader

FileOption = Annotated[Path | None, typer.Option(
    "--file", "-f", metavar="FILE", dir_okay=False,
    help="Read the manifests from FILE instead of stdin ('-' is stdin).")]


class ColorMode(str, enum.Enum):
    auto = "auto"
    always = "always"
    never = "never"


ColorOption = Annotated[ColorMode, typer.Option(
    "--color", case_sensitive=False,
    help="Colour: auto (a terminal without NO_COLOR), always or never.")]


def use_color(mode: ColorMode, stream: TextIO | None = None) -> bool:
    """``auto`` follows https://no-color.org and only colours a real terminal."""
    if mode is ColorMode.always:
        return True
    if mode is ColorMode.never:
        return False
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def reader_for(file: Path | None) -> StdinReader | FileReader:
    """The reader of ``--file FILE`` (``-`` or none: standard input), bounded like every reader."""
    from postrender.stream.reader import reader_for as for_path

    return for_path(None if file is None else str(file))


def limits_from_environment() -> Limits:
    """The limits of a subcommand without ``--max-*`` flags: the environment, else the defaults."""
    from postrender.limits import Limits

    return Limits.from_settings()
