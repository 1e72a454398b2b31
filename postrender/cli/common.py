"""What the subcommands share: where manifests come from and whether to use colour."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, TextIO

import typer

from postrender.errors import Location, PostRenderError, error

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


def read_manifests(file: Path | None) -> tuple[str, str]:
    """The manifest text and the name to show for it; a missing file is a located error."""
    from postrender.stream.split import decode

    if file is None or str(file) == "-":
        if sys.stdin.isatty():
            sys.stderr.write("velero-postrender: reading manifests from stdin (pipe them in, or use --file FILE)\n")
        return decode(sys.stdin.buffer.read()), "stdin"
    try:
        return decode(file.read_bytes()), str(file)
    except FileNotFoundError:
        raise PostRenderError([error("manifest file not found", Location(file=str(file)))]) from None
    except OSError as exc:
        raise PostRenderError([error(f"cannot read manifest file: {exc.strerror or exc}", Location(file=str(file)))]) \
            from None
